package e2e

// The "browser step" of the OAuth flow in the end-to-end tests: a person opening the
// authorization URL, logging in and approving the consent page, played by an http.Client
// with a cookie jar that reads the pages' HTML forms the way a browser does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"golang.org/x/net/html"
)

// formBrowser is a headless browser for the authorization server's pages. It follows
// redirects within the issuer's origin, fills the login form with its email and
// password, presses the consent page's approve button, and stops at the redirect that
// leaves the issuer: the authorization response to the client's redirect_uri.
type formBrowser struct {
	client          *http.Client
	issuer          *url.URL
	origins         []string // where else redirects are followed: the upstream IdP's login
	email, password string
	opened          []*url.URL    // the authorization URLs it was given
	pages           []browserPage // every HTML page it acted on, in order
}

// browserPage is a page the browser saw and what it did there.
type browserPage struct {
	kind   string // "login" or "consent"
	url    string
	header http.Header
	text   string // the page's visible text, white space collapsed
}

// newFormBrowser returns a browser with an empty cookie jar that sends its requests
// through transport.
func newFormBrowser(transport http.RoundTripper, issuer, email, password string) (*formBrowser, error) {
	iu, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &formBrowser{issuer: iu, email: email, password: password}
	b.client = &http.Client{
		Transport: transport,
		Jar:       jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("browser: more than 10 redirects")
			}
			if !b.followed(req.URL) {
				return http.ErrUseLastResponse // the authorization response: not followed
			}
			return nil
		},
	}
	return b, nil
}

// allow makes the browser follow redirects to origin (scheme://host:port) too: the
// upstream identity provider mcpguard sends the person to for the login.
func (b *formBrowser) allow(origin string) {
	b.origins = append(b.origins, origin)
}

// followed reports whether a redirect to u is followed: on the issuer's origin or an
// allowed one.
func (b *formBrowser) followed(u *url.URL) bool {
	origin := u.Scheme + "://" + u.Host
	return origin == b.issuer.Scheme+"://"+b.issuer.Host || slices.Contains(b.origins, origin)
}

// count returns how many pages of kind the browser acted on.
func (b *formBrowser) count(kind string) int {
	n := 0
	for _, p := range b.pages {
		if p.kind == kind {
			n++
		}
	}
	return n
}

// summary lists the pages the browser acted on, for failure messages.
func (b *formBrowser) summary() string {
	var parts []string
	for _, p := range b.pages {
		parts = append(parts, p.kind+" "+p.url)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fetcher is the AuthorizationCodeFetcher of the SDK's authorization-code handler: the
// SDK hands it the authorization URL and expects the code, state and iss of the
// authorization response (it runs no callback server itself).
func (b *formBrowser) fetcher(redirectURI string) auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		return b.authorize(ctx, args.URL, redirectURI)
	}
}

// authorize opens authURL and plays the person until the authorization server redirects
// to redirectURI.
func (b *formBrowser) authorize(ctx context.Context, authURL, redirectURI string) (*auth.AuthorizationResult, error) {
	target, err := b.visit(ctx, authURL)
	if err != nil {
		return nil, err
	}
	return authorizationResponse(target, redirectURI)
}

// visit opens authURL and plays the person until a redirect leaves the issuer, and
// returns where that redirect goes, exactly as the Location header says.
func (b *formBrowser) visit(ctx context.Context, authURL string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	b.opened = append(b.opened, req.URL)
	for step := 0; step < 8; step++ {
		resp, err := b.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("browser: %s %s: %w", req.Method, req.URL, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("browser: %s %s: %w", req.Method, req.URL, err)
		}
		page := resp.Request.URL // after the redirects within the issuer
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			target, err := page.Parse(loc)
			if err != nil {
				return nil, fmt.Errorf("browser: bad Location %q: %w", loc, err)
			}
			return target, nil
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("browser: %s %s = %s: %s", req.Method, page, resp.Status, excerpt(body))
		}
		doc, err := html.Parse(strings.NewReader(string(body)))
		if err != nil {
			return nil, fmt.Errorf("browser: %s is not HTML: %w", page, err)
		}
		forms := htmlForms(doc)
		p := browserPage{url: page.String(), header: resp.Header, text: htmlText(doc)}
		var form *htmlForm
		var values url.Values
		if i := slices.IndexFunc(forms, func(f htmlForm) bool { return f.has("password") }); i >= 0 {
			p.kind, form = "login", &forms[i]
			if values, err = form.login(b.email, b.password); err != nil {
				return nil, fmt.Errorf("browser: login page %s: %w", page, err)
			}
		} else if f, button, ok := approveForm(forms); ok {
			p.kind, form = "consent", f
			values = form.submit(button)
		} else {
			return nil, fmt.Errorf("browser: %s has neither a login form nor an approve button: %s", page, excerpt(body))
		}
		b.pages = append(b.pages, p)
		if req, err = form.request(ctx, page, values); err != nil {
			return nil, fmt.Errorf("browser: %s page %s: %w", p.kind, page, err)
		}
	}
	return nil, errors.New("browser: no authorization response after 8 pages")
}

// authorizationResponse reads the code, state and iss of the redirect to target, which
// must be redirectURI with a query added (RFC 6749 §4.1.2, RFC 9207).
func authorizationResponse(target *url.URL, redirectURI string) (*auth.AuthorizationResult, error) {
	base := *target
	base.RawQuery, base.Fragment = "", ""
	if base.String() != redirectURI {
		return nil, fmt.Errorf("browser: redirected to %s, which is neither the issuer nor the redirect_uri %s", target, redirectURI)
	}
	q := target.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("browser: authorization error %q: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		return nil, fmt.Errorf("browser: authorization response %s has no code", target)
	}
	return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
}
