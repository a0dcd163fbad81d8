package e2e

// Signing out in a real browser: the confirmation page, its form, and a copy of the
// session cookie taken before it, replayed after it.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestChromiumLogout signs the demo user in and out with JavaScript off, then replays
// the session cookie copied while signed in: the replay gets the login page, no code.
func TestChromiumLogout(t *testing.T) {
	bin := chromiumBinary(t)
	qs := startChromiumQuickstart(t)
	ctx := newChromium(t, bin)
	flow := qs.newFlow(t)

	chromiumRun(t, ctx, "opening /authorize", chromedp.NavigateResponse(flow.authorizeURL))
	if resp := chromiumSignIn(t, ctx, chromiumEmail, chromiumPassword); resp.Status != http.StatusOK {
		t.Fatalf("signing in answered %d at %s, want the consent page", resp.Status, resp.URL)
	}
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{qs.issuer + "/"}})
	if err != nil || len(res.Cookies) != 1 {
		t.Fatalf("Network.getCookies = %v, %v, want the one session cookie", res, err)
	}
	stolen := &http.Cookie{Name: res.Cookies[0].Name, Value: res.Cookies[0].Value}

	resp := chromiumClick(t, ctx, `a[href$="/logout"]`) // "Not you? Sign out"
	if resp.Status != http.StatusOK {
		t.Fatalf("the sign-out link answered %d at %s, want the confirmation page", resp.Status, resp.URL)
	}
	chromiumCheckPlainPage(t, ctx, resp)
	chromiumCheckAX(t, ctx, [2]string{"heading", "Sign out"}, [2]string{"button", "Sign out"})
	chromiumScreenshot(t, ctx, "logout.png")

	resp = chromiumClick(t, ctx, `button[type="submit"]`)
	if resp.Status != http.StatusOK || !strings.Contains(chromiumText(t, ctx, "body"), "signed out") {
		t.Fatalf("Sign out answered %d at %s, want the signed-out page", resp.Status, resp.URL)
	}

	replay := qs.newFlow(t)
	req, err := http.NewRequest(http.MethodGet, replay.authorizeURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(stolen)
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	got, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got.Body.Close()
	loc, _ := url.Parse(got.Header.Get("Location"))
	if got.StatusCode != http.StatusFound || loc == nil || !strings.HasSuffix(loc.Path, "/login") || loc.Query().Has("code") {
		t.Fatalf("/authorize with the cookie copied before sign-out = %d Location %q, want a redirect to /login", got.StatusCode, got.Header.Get("Location"))
	}
	if n := qs.callback.count(); n != 0 {
		t.Fatalf("the client's redirect URI was called %d times", n)
	}
}
