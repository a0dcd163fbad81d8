package e2e

// Driving headless Chromium and reading the pages it shows: the login and consent pages, their screenshots and accessibility trees.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumBinary returns the browser's path, $CHROMIUM_BIN or Debian's, or fails the test
// with how to install it.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CHROMIUM_BIN")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		t.Fatalf("chromium is not installed at %s; the browser test drives the real browser: %s", bin, chromiumInstall)
	}
	return bin
}

// newChromium starts headless Chromium with a new profile and JavaScript turned off, and
// returns the context of its tab, limited to 30 seconds; extra adds command-line flags.
// The browser stops when the test ends.
func newChromium(t *testing.T, bin string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	return startChromium(t, bin, false, extra...)
}

// newScriptedChromium is newChromium with JavaScript on, for a client that is a web
// application (the MCP Inspector's UI).
func newScriptedChromium(t *testing.T, bin string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	return startChromium(t, bin, true, extra...)
}

// startChromium starts the browser for newChromium and newScriptedChromium.
func startChromium(t *testing.T, bin string, script bool, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	profile := t.TempDir() // made before the browser's cleanup is registered, so removed after it
	var out syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		// The network is closed: no background fetches that would stall on it.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(960, 720),
		chromedp.CombinedOutput(&out),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", out.String())
		}
	})
	start := time.Now()
	if err := chromedp.Do(tabCtx); err != nil { // starts the browser, with no deadline
		t.Fatalf("starting %s: %v\n%s", bin, err, out.String())
	}
	t.Logf("chromium started in %v", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(tabCtx, 30*time.Second)
	t.Cleanup(cancel)
	if script {
		return ctx
	}
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turning JavaScript off: %v", err)
	}
	return ctx
}

// chromiumCheckLoginPage checks the local login form: its title, and that its fields are
// named by their labels (for/id, and so in the accessibility tree).
func chromiumCheckLoginPage(t *testing.T, ctx context.Context, resp *network.Response) {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("the authorization request ended at %s with %d, want the login page", resp.URL, resp.Status)
	}
	chromiumCheckPlainPage(t, ctx, resp)
	if title := chromiumRun(t, ctx, "title", chromedp.Title()); title != "Sign in · mcpguard" {
		t.Errorf("login page title = %q, want %q", title, "Sign in · mcpguard")
	}
	for _, in := range []struct{ id, typ, autocomplete, label string }{
		{"email", "email", "username", "Email"},
		{"password", "password", "current-password", "Password"},
	} {
		attrs := chromiumRun(t, ctx, "#"+in.id, chromedp.Attributes(chromedp.CSS("#"+in.id)))
		if _, required := attrs["required"]; attrs["type"] != in.typ || attrs["name"] != in.id || attrs["autocomplete"] != in.autocomplete || !required {
			t.Errorf("input #%s has %v, want type %q, name %q, autocomplete %q, required", in.id, attrs, in.typ, in.id, in.autocomplete)
		}
		label := fmt.Sprintf("label[for=%q]", in.id)
		if n := chromiumCount(t, ctx, label); n != 1 {
			t.Errorf("%d labels are bound to #%s, want 1", n, in.id)
		} else if got := chromiumText(t, ctx, label); got != in.label {
			t.Errorf("the label of #%s says %q, want %q", in.id, got, in.label)
		}
	}
	chromiumCheckAX(t, ctx, [2]string{"heading", "Sign in"}, [2]string{"textbox", "Email"}, [2]string{"textbox", "Password"}, [2]string{"button", "Sign in"})
}

// chromiumSignIn types the email (unless empty) and the password into the login form,
// presses Sign in with the mouse, and returns the response of the page it leads to.
func chromiumSignIn(t *testing.T, ctx context.Context, email, password string) *network.Response {
	t.Helper()
	if email != "" {
		chromiumRun(t, ctx, "typing the email", chromedp.SendKeys(chromedp.CSS("#email"), email))
	}
	chromiumRun(t, ctx, "typing the password", chromedp.SendKeys(chromedp.CSS("#password"), password))
	return chromiumClick(t, ctx, `form button[type="submit"]`)
}

// chromiumCheckConsentPage checks that the consent page names the client, the signed-in
// user, the host it will send the user to and the scopes.
func chromiumCheckConsentPage(t *testing.T, ctx context.Context, resp *network.Response, f chromiumFlow) {
	t.Helper()
	chromiumCheckPlainPage(t, ctx, resp)
	const client = "mcpguard quickstart" // client_name in examples/quickstart.yaml
	heading := "Allow " + client + " to access your MCP servers?"
	if h := chromiumText(t, ctx, "h1"); h != heading {
		t.Errorf("consent heading = %q, want %q", h, heading)
	}
	if title := chromiumRun(t, ctx, "title", chromedp.Title()); !strings.Contains(title, client) || !strings.HasSuffix(title, " · mcpguard") {
		t.Errorf("consent page title = %q, want the client's name and %q", title, " · mcpguard")
	}
	ru, err := url.Parse(f.redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	if host := chromiumText(t, ctx, "#redirect-host"); host != ru.Host {
		t.Errorf("the consent page shows the redirect host %q, want %q", host, ru.Host)
	}
	text := chromiumText(t, ctx, "main")
	for _, want := range []string{"Signed in as " + chromiumEmail, f.redirectURI} {
		if !strings.Contains(text, want) {
			t.Errorf("the consent page does not show %q:\n%s", want, text)
		}
	}
	var scopes []string
	for _, n := range chromiumRun(t, ctx, "scopes", chromedp.Nodes(chromedp.CSSAll("dd li code"), chromedp.AtLeast(0))) {
		scopes = append(scopes, chromiumRun(t, ctx, "a scope", chromedp.Text(chromedp.NodeIDs{n.NodeID})))
	}
	if !slices.Equal(scopes, strings.Fields(chromiumScopes)) {
		t.Errorf("the consent page lists the permissions %q, want %q", scopes, strings.Fields(chromiumScopes))
	}
	chromiumCheckAX(t, ctx, [2]string{"heading", heading}, [2]string{"button", "Approve"}, [2]string{"button", "Deny"}, [2]string{"link", "Not you? Sign out"})
}

// chromiumCheckPlainPage wants a page that no other site may frame (X-Frame-Options and
// CSP frame-ancestors), in a declared language, without scripts, whose forms post back
// to mcpguard, each with a CSRF token.
func chromiumCheckPlainPage(t *testing.T, ctx context.Context, resp *network.Response) {
	t.Helper()
	header := func(name string) string {
		for k, v := range resp.Headers {
			if strings.EqualFold(k, name) {
				return fmt.Sprint(v)
			}
		}
		return ""
	}
	if got := header("X-Frame-Options"); got != "DENY" {
		t.Errorf("%s: X-Frame-Options = %q, want DENY", resp.URL, got)
	}
	if got := header("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy = %q, want frame-ancestors 'none'", resp.URL, got)
	}
	if lang := chromiumRun(t, ctx, "html", chromedp.Attributes(chromedp.CSS("html")))["lang"]; lang == "" {
		t.Errorf("%s: <html> has no lang", resp.URL)
	}
	if n := chromiumCount(t, ctx, "script"); n != 0 {
		t.Errorf("%s has %d script elements, want none", resp.URL, n)
	}
	forms := chromiumRun(t, ctx, "forms", chromedp.AttributesAll(chromedp.CSSAll("form"), chromedp.AtLeast(0)))
	if len(forms) == 0 {
		t.Fatalf("%s has no form, want forms that post", resp.URL)
	}
	page, _ := url.Parse(resp.URL)
	for _, f := range forms {
		if !strings.EqualFold(f["method"], "post") {
			t.Fatalf("%s has the forms %v, want every one to post", resp.URL, forms)
		}
		if action, err := page.Parse(f["action"]); err != nil || action.Host != page.Host || action.Scheme != page.Scheme {
			t.Errorf("%s: a form posts to %q, want mcpguard", resp.URL, f["action"])
		}
	}
	if n := chromiumCount(t, ctx, `form input[type="hidden"][name="csrf"]`); n != len(forms) {
		t.Errorf("%s: its %d forms have %d csrf fields, want one each", resp.URL, len(forms), n)
	}
}

// chromiumCheckSessionCookie wants the browser session in one cookie that scripts
// cannot read and that cross-site subrequests do not carry.
func chromiumCheckSessionCookie(t *testing.T, ctx context.Context, issuer string) {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{issuer + "/"}})
	if err != nil {
		t.Fatalf("Network.getCookies: %v", err)
	}
	if len(res.Cookies) != 1 {
		t.Fatalf("the browser holds %d cookies for %s, want the one session cookie", len(res.Cookies), issuer)
	}
	if c := res.Cookies[0]; !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
		t.Errorf("session cookie %s: HttpOnly=%v SameSite=%q Path=%q, want HttpOnly, SameSite=Lax, Path=/", c.Name, c.HTTPOnly, c.SameSite, c.Path)
	}
}

// chromiumCheckNoScript wants the callback page's script not to have run: JavaScript was
// off for the whole flow, so the pages before it worked without it.
func chromiumCheckNoScript(t *testing.T, ctx context.Context) {
	t.Helper()
	if title := chromiumRun(t, ctx, "title", chromedp.Title()); title != chromiumNoScript {
		t.Fatalf("the callback page's title is %q, want %q: JavaScript ran in the browser", title, chromiumNoScript)
	}
}

// chromiumScreenshot takes a screenshot of the whole page, checks that it is a PNG with
// something drawn on it, and keeps it in the test's directory and, when
// MCPGUARD_SCREENSHOTS names a directory (relative to the repository root), there too.
func chromiumScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if colors, dark := chromiumInk(img); colors < 16 || dark < 500 {
		t.Errorf("screenshot %s (%v) looks blank: %d colours, %d dark pixels", name, img.Bounds().Size(), colors, dark)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("MCPGUARD_SCREENSHOTS"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join(repoRoot(t), d)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot %s: %v, %d bytes, in %s", name, img.Bounds().Size(), len(buf), strings.Join(dirs, " and "))
}

// chromiumInk counts the distinct colours of img and its dark pixels (text).
func chromiumInk(img image.Image) (colors, dark int) {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if (299*r+587*g+114*bl)/1000>>8 < 96 {
				dark++
			}
		}
	}
	return len(seen), dark
}

// chromiumAX is the non-ignored nodes of a page's accessibility tree.
type chromiumAX []chromiumAXNode

type chromiumAXNode struct{ role, name, description string }

func (ax chromiumAX) has(role, name string) bool {
	return slices.ContainsFunc(ax, func(n chromiumAXNode) bool { return n.role == role && (name == "" || n.name == name) })
}

func (ax chromiumAX) description(role, name string) string {
	for _, n := range ax {
		if n.role == role && n.name == name {
			return n.description
		}
	}
	return ""
}

func (ax chromiumAX) String() string {
	var b strings.Builder
	for _, n := range ax {
		fmt.Fprintf(&b, "  %s %q", n.role, n.name)
		if n.description != "" {
			fmt.Fprintf(&b, " (%q)", n.description)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// chromiumCheckAX wants each {role, accessible name} in the page's accessibility tree.
func chromiumCheckAX(t *testing.T, ctx context.Context, want ...[2]string) {
	t.Helper()
	ax := chromiumAXTree(t, ctx)
	for _, w := range want {
		if !ax.has(w[0], w[1]) {
			t.Errorf("the accessibility tree has no %s named %q:\n%s", w[0], w[1], ax)
		}
	}
}

// chromiumAXTree returns the page's accessibility tree as Chromium computes it: the
// roles and accessible names assistive technology gets.
func chromiumAXTree(t *testing.T, ctx context.Context) chromiumAX {
	t.Helper()
	res, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatalf("Accessibility.getFullAXTree: %v", err)
	}
	str := func(v *accessibility.Value) string {
		var s string
		if v != nil && len(v.Value) > 0 {
			json.Unmarshal(v.Value, &s)
		}
		return s
	}
	var ax chromiumAX
	for _, n := range res.Nodes {
		role := str(n.Role)
		if n.Ignored || role == "InlineTextBox" { // the lines of a StaticText
			continue
		}
		ax = append(ax, chromiumAXNode{role: role, name: str(n.Name), description: str(n.Description)})
	}
	return ax
}

// chromiumRun runs the action in the tab and returns its value; what names it when it
// fails.
func chromiumRun[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("chromium: %s: %v", what, err)
	}
	return v
}

// chromiumClick clicks the element with the mouse and returns the response of the page
// that this loads.
func chromiumClick(t *testing.T, ctx context.Context, sel string) *network.Response {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("chromium: clicking %s: %v", sel, err)
	}
	return resp
}

// chromiumText returns the visible text of the first element matching the CSS selector,
// white space collapsed.
func chromiumText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.Join(strings.Fields(chromiumRun(t, ctx, sel, chromedp.Text(chromedp.CSS(sel)))), " ")
}

// chromiumCount returns how many elements match the CSS selector, without waiting.
func chromiumCount(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return len(chromiumRun(t, ctx, sel, chromedp.QueryNodeIDs(chromedp.CSSAll(sel), chromedp.AtLeast(0))))
}

func chromiumGetJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", u, err, body)
	}
}
