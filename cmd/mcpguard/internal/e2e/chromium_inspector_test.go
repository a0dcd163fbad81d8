package e2e

// The MCP Inspector's web UI (npm @modelcontextprotocol/inspector, v2) in headless
// Chromium with JavaScript on: its Node.js backend runs on loopback ports and reaches the
// MCP server behind the real nginx recipe through the HTTPS edge; the person connects from
// the page, is sent to mcpguard's login and consent pages, comes back to the Inspector's
// /oauth/callback, and lists the tools.

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// inspectorWeb is the Inspector's web UI started by startInspectorWeb.
type inspectorWeb struct {
	origin string // http://127.0.0.1:PORT, where the page and its /oauth/callback are
	home   string // the backend's HOME, where it keeps its OAuth state
}

// TestChromiumInspectorUI connects the Inspector's page to the MCP server behind nginx:
// the 401 starts the OAuth flow (discovery, dynamic registration and the token request
// are the backend's), the page sends the browser to mcpguard, the person signs in and
// approves, and back at /oauth/callback the Inspector is connected, lists the tools and
// calls whoami as that person.
func TestChromiumInspectorUI(t *testing.T) {
	bin := chromiumBinary(t)
	s := startMCPStack(t, startNginx, oauthEnv(t, "memory://"))
	web := startInspectorWeb(t, startHTTPSEdge(t, s.edge))
	tab := newScriptedChromium(t, bin, append(chromiumEdge(t, s.edge), chromedp.WindowSize(1280, 800))...)
	hops, seen := s.edge.mark(), len(s.up.requests())

	chromiumRun(t, tab, "opening the Inspector", chromedp.Navigate(web.origin+"/"))
	inspectorAddServer(t, tab, "mcpguard", mcpURL)
	connect := `input[role="switch"][aria-label="Connect or disconnect \"mcpguard\""]`
	chromiumRun(t, tab, "waiting for the server's switch", chromedp.WaitReady(chromedp.CSS(connect)))
	chromiumRun(t, tab, "switching the server on", chromedp.Click(chromedp.CSS(connect), chromedp.NodeReady))

	chromiumRun(t, tab, "waiting for the login page", chromedp.WaitVisible(chromedp.CSS("#email")))
	if loc := chromiumRun(t, tab, "location", chromedp.Location()); !strings.HasPrefix(loc, authIssuer+"/") {
		t.Fatalf("Connect sent the browser to %s, want mcpguard's login page at %s", loc, authIssuer)
	}
	resp := chromiumSignIn(t, tab, localUser.email, localUser.password)
	if resp.Status != http.StatusOK || chromiumCount(t, tab, `button[name="action"][value="approve"]`) != 1 {
		t.Fatalf("signing in answered %d at %s, want the consent page", resp.Status, resp.URL)
	}
	resp = chromiumClick(t, tab, `button[name="action"][value="approve"]`)
	if cb := web.origin + "/oauth/callback?"; !strings.HasPrefix(resp.URL, cb) || !strings.Contains(resp.URL, "code=") {
		t.Fatalf("after Approve the browser is at %s, want the Inspector's %s with a code", strings.SplitN(resp.URL, "?", 2)[0], cb)
	}

	chromiumRun(t, tab, "waiting for Connected", chromedp.WaitVisible(chromedp.Search(`//*[normalize-space(text())="Connected"]`)))
	inspectorOpenTools(t, tab)
	chromiumRun(t, tab, "selecting whoami", chromedp.Click(chromedp.Search(`//button[normalize-space()="whoami"]`)))
	chromiumRun(t, tab, "executing whoami", chromedp.Click(chromedp.Search(`//button[normalize-space()="Execute Tool"]`)))
	chromiumRun(t, tab, "waiting for the result", chromedp.WaitVisible(chromedp.Search(`//*[contains(text(), "auth_source")]`)))
	chromiumScreenshot(t, tab, "inspector-ui.png")
	clientID := inspectorClientID(t, web.home)
	result := chromiumText(t, tab, "main")
	for _, want := range []string{`"auth_source": "oauth"`, `"authorization_present": false`, `"client_id": "` + clientID + `"`, `"user": "` + localUser.email + `"`} {
		if !strings.Contains(result, want) {
			t.Errorf("the whoami result the Inspector shows lacks %s:\n%s", want, result)
		}
	}

	s.edge.expect(t, hops, inspectorOAuthHops(t, s))
	if n := s.edge.count(hops, "GET", authHost, urlPath(t, s.asm.AuthorizationEndpoint)); n != 1 {
		t.Errorf("the browser was sent to /authorize %d times, want 1:\n%s", n, s.edge.since(hops))
	}
	checkCaller(t, s, seen, "oauth", localUser.email, clientID)
}

// inspectorAddServer adds a Streamable HTTP server to the Inspector's catalog as a
// person does: Add Servers, Add manually, the server's ID, the transport and the URL.
func inspectorAddServer(t *testing.T, tab context.Context, id, url string) {
	t.Helper()
	const dialog = `//section[@role="dialog"]`
	field := func(label string) chromedp.Search {
		return chromedp.Search(fmt.Sprintf(`%s//input[@id=%s//label[starts-with(normalize-space(), %q)]/@for]`, dialog, dialog, label))
	}
	chromiumRun(t, tab, "opening Add Servers", chromedp.Click(chromedp.Search(`//button[normalize-space()="Add Servers"]`)))
	chromiumRun(t, tab, "choosing Add manually", chromedp.Click(chromedp.Search(`//button[@role="menuitem"][contains(normalize-space(), "Add manually")]`)))
	chromiumRun(t, tab, "typing the server ID", chromedp.SendKeys(field("Server ID"), id))
	chromiumRun(t, tab, "opening Transport", chromedp.Click(field("Transport")))
	chromiumRun(t, tab, "choosing streamable-http", chromedp.Click(chromedp.Search(`//*[@role="option"][@value="streamable-http"]`)))
	chromiumRun(t, tab, "typing the URL", chromedp.SendKeys(field("URL"), url))
	chromiumRun(t, tab, "adding the server", chromedp.Click(chromedp.Search(dialog+`//button[normalize-space()="Add"]`)))
	chromiumRun(t, tab, "waiting for the dialog to close", chromedp.WaitNotPresent(chromedp.Search(dialog)))
}

// inspectorOpenTools opens the Tools view from the header and waits for whoami in its
// list. The view is offered once the connection settles, a moment after Connected
// shows, so a click that does not take is tried again.
func inspectorOpenTools(t *testing.T, tab context.Context) {
	t.Helper()
	listed := chromedp.Search(`//button[normalize-space()="whoami"]`)
	for {
		chromiumRun(t, tab, "opening Tools", chromedp.Click(chromedp.CSS(`header label[for$="-Tools"]`)))
		try, cancel := context.WithTimeout(tab, time.Second)
		_, err := chromedp.Run(try, chromedp.WaitVisible(listed))
		cancel()
		if err == nil {
			return
		}
		if tab.Err() != nil {
			t.Fatalf("the Tools view does not list whoami: %v", tab.Err())
		}
	}
}

// startInspectorWeb runs the Inspector's web UI (the launcher's --web) with its backend
// on a free loopback port, its API token set, the browser not opened, and its catalog
// of servers under a fresh HOME; the backend's requests to the example hosts go
// through edge. It stops when the test ends.
func startInspectorWeb(t *testing.T, edge *httpsEdge) *inspectorWeb {
	t.Helper()
	node, launcher := inspectorInstall(t)
	port, home, token := freePort(t), t.TempDir(), rand.Text()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, launcher, "--web")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"HOST=127.0.0.1",
		fmt.Sprintf("CLIENT_PORT=%d", port),
		"MCP_SANDBOX_PORT=0",
		"MCP_APP_ORIGIN_PORT=0",
		"MCP_INSPECTOR_API_TOKEN=" + token,
		"MCP_AUTO_OPEN_ENABLED=false",
		"MCP_INSPECTOR_SECRET_STORE=file",
	}, edge.env()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting the Inspector's web UI: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("the Inspector's web UI said:\n%s", log.String())
		}
	})
	up := make(chan struct{})
	go func() { // the banner names the API token: it is left out of the log
		signal := up
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.ReplaceAll(sc.Text(), token, "<api token>")
			fmt.Fprintln(log, line)
			if strings.Contains(line, "is up and running") && signal != nil {
				close(signal)
				signal = nil
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case <-up:
	case <-time.After(20 * time.Second):
		t.Fatalf("the Inspector's web UI did not start in 20s:\n%s", log.String())
	}
	return &inspectorWeb{origin: fmt.Sprintf("http://127.0.0.1:%d", port), home: home}
}
