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
	"golang.org/x/net/html/atom"
)

// e2eBrowser is a headless browser for the authorization server's pages. It follows
// redirects within the issuer's origin, fills the login form with its email and
// password, presses the consent page's approve button, and stops at the redirect that
// leaves the issuer: the authorization response to the client's redirect_uri.
type e2eBrowser struct {
	client          *http.Client
	issuer          *url.URL
	origins         []string // where else redirects are followed: the upstream IdP's login
	email, password string
	opened          []*url.URL       // the authorization URLs it was given
	pages           []e2eBrowserPage // every HTML page it acted on, in order
}

// e2eBrowserPage is a page the browser saw and what it did there.
type e2eBrowserPage struct {
	kind   string // "login" or "consent"
	url    string
	header http.Header
	text   string // the page's visible text, white space collapsed
}

// newE2EBrowser returns a browser with an empty cookie jar that sends its requests
// through transport.
func newE2EBrowser(transport http.RoundTripper, issuer, email, password string) (*e2eBrowser, error) {
	iu, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &e2eBrowser{issuer: iu, email: email, password: password}
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
func (b *e2eBrowser) allow(origin string) {
	b.origins = append(b.origins, origin)
}

// followed reports whether a redirect to u is followed: on the issuer's origin or an
// allowed one.
func (b *e2eBrowser) followed(u *url.URL) bool {
	origin := u.Scheme + "://" + u.Host
	return origin == b.issuer.Scheme+"://"+b.issuer.Host || slices.Contains(b.origins, origin)
}

// count returns how many pages of kind the browser acted on.
func (b *e2eBrowser) count(kind string) int {
	n := 0
	for _, p := range b.pages {
		if p.kind == kind {
			n++
		}
	}
	return n
}

// summary lists the pages the browser acted on, for failure messages.
func (b *e2eBrowser) summary() string {
	var parts []string
	for _, p := range b.pages {
		parts = append(parts, p.kind+" "+p.url)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// fetcher is the AuthorizationCodeFetcher of the SDK's authorization-code handler: the
// SDK hands it the authorization URL and expects the code, state and iss of the
// authorization response (it runs no callback server itself).
func (b *e2eBrowser) fetcher(redirectURI string) auth.AuthorizationCodeFetcher {
	return func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		return b.authorize(ctx, args.URL, redirectURI)
	}
}

// authorize opens authURL and plays the person until the authorization server redirects
// to redirectURI.
func (b *e2eBrowser) authorize(ctx context.Context, authURL, redirectURI string) (*auth.AuthorizationResult, error) {
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
			return e2eAuthorizationResponse(target, redirectURI)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("browser: %s %s = %s: %s", req.Method, page, resp.Status, e2eExcerpt(body))
		}
		doc, err := html.Parse(strings.NewReader(string(body)))
		if err != nil {
			return nil, fmt.Errorf("browser: %s is not HTML: %w", page, err)
		}
		forms := e2eHTMLForms(doc)
		p := e2eBrowserPage{url: page.String(), header: resp.Header, text: e2eHTMLText(doc)}
		var form *e2eForm
		var values url.Values
		if i := slices.IndexFunc(forms, func(f e2eForm) bool { return f.has("password") }); i >= 0 {
			p.kind, form = "login", &forms[i]
			if values, err = form.login(b.email, b.password); err != nil {
				return nil, fmt.Errorf("browser: login page %s: %w", page, err)
			}
		} else if f, button, ok := e2eApproveForm(forms); ok {
			p.kind, form = "consent", f
			values = form.submit(button)
		} else {
			return nil, fmt.Errorf("browser: %s has neither a login form nor an approve button: %s", page, e2eExcerpt(body))
		}
		b.pages = append(b.pages, p)
		if req, err = form.request(ctx, page, values); err != nil {
			return nil, fmt.Errorf("browser: %s page %s: %w", p.kind, page, err)
		}
	}
	return nil, errors.New("browser: no authorization response after 8 pages")
}

// e2eAuthorizationResponse reads the code, state and iss of the redirect to target, which
// must be redirectURI with a query added (RFC 6749 §4.1.2, RFC 9207).
func e2eAuthorizationResponse(target *url.URL, redirectURI string) (*auth.AuthorizationResult, error) {
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

// e2eForm is an HTML form: where it goes and the controls a submission can carry.
type e2eForm struct {
	action, method string
	fields         []e2eControl // successful controls other than buttons, in document order
	buttons        []e2eControl // submit buttons
}

// e2eControl is one form control.
type e2eControl struct {
	typ, name, value, label string
}

// has reports whether the form has a field of type typ.
func (f e2eForm) has(typ string) bool {
	return slices.ContainsFunc(f.fields, func(c e2eControl) bool { return c.typ == typ })
}

// login fills the form's email (or user name) and password fields and submits it with
// its first button.
func (f e2eForm) login(email, password string) (url.Values, error) {
	filled := 0
	for i, c := range f.fields {
		switch {
		case c.typ == "password":
			f.fields[i].value = password
			filled++
		case c.typ == "email" || (c.typ == "text" && slices.Contains([]string{"email", "username", "user", "login"}, strings.ToLower(c.name))):
			f.fields[i].value = email
			filled++
		}
	}
	if filled != 2 {
		return nil, fmt.Errorf("want one email and one password field, got fields %+v", f.fields)
	}
	var button *e2eControl
	if len(f.buttons) > 0 {
		button = &f.buttons[0]
	}
	return f.submit(button), nil
}

// submit is the form data set (HTML §4.10.21.4) when button is pressed.
func (f e2eForm) submit(button *e2eControl) url.Values {
	v := url.Values{}
	for _, c := range f.fields {
		if c.name != "" {
			v.Add(c.name, c.value)
		}
	}
	if button != nil && button.name != "" {
		v.Add(button.name, button.value)
	}
	return v
}

// request is the request that submits values, for a form on page.
func (f e2eForm) request(ctx context.Context, page *url.URL, values url.Values) (*http.Request, error) {
	action, err := page.Parse(f.action) // an empty action is the page itself
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", f.action, err)
	}
	if f.method == "get" {
		action.RawQuery = values.Encode()
		return http.NewRequestWithContext(ctx, http.MethodGet, action.String(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", page.Scheme+"://"+page.Host) // as browsers do for a POST
	return req, nil
}

// e2eApproveForm finds the button that approves the request: its name, value or label says
// approve, allow, accept or authorize, and nothing says deny.
func e2eApproveForm(forms []e2eForm) (*e2eForm, *e2eControl, bool) {
	for i := range forms {
		for j, b := range forms[i].buttons {
			words := strings.ToLower(b.name + " " + b.value + " " + b.label)
			if strings.Contains(words, "deny") || strings.Contains(words, "cancel") || strings.Contains(words, "reject") {
				continue
			}
			for _, w := range []string{"approve", "allow", "accept", "authorize", "consent"} {
				if strings.Contains(words, w) {
					return &forms[i], &forms[i].buttons[j], true
				}
			}
		}
	}
	return nil, nil, false
}

// e2eHTMLForms returns the forms of doc with their controls.
func e2eHTMLForms(doc *html.Node) []e2eForm {
	var forms []e2eForm
	var walk func(n *html.Node, form *e2eForm)
	walk = func(n *html.Node, form *e2eForm) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				forms = append(forms, e2eForm{action: e2eAttr(n, "action"), method: strings.ToLower(e2eAttr(n, "method"))})
				f := &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, f)
				}
				// Nested forms are invalid HTML; the parser never produces them.
				return
			case atom.Input:
				if form != nil && !e2eHasAttr(n, "disabled") {
					typ := strings.ToLower(e2eAttr(n, "type"))
					if typ == "" {
						typ = "text"
					}
					c := e2eControl{typ: typ, name: e2eAttr(n, "name"), value: e2eAttr(n, "value")}
					switch typ {
					case "submit", "image":
						c.label = c.value
						form.buttons = append(form.buttons, c)
					case "checkbox", "radio":
						if e2eHasAttr(n, "checked") {
							if !e2eHasAttr(n, "value") {
								c.value = "on"
							}
							form.fields = append(form.fields, c)
						}
					case "button", "reset", "file":
					default:
						form.fields = append(form.fields, c)
					}
				}
			case atom.Button:
				typ := strings.ToLower(e2eAttr(n, "type"))
				if form != nil && (typ == "" || typ == "submit") && !e2eHasAttr(n, "disabled") {
					form.buttons = append(form.buttons, e2eControl{typ: "submit", name: e2eAttr(n, "name"), value: e2eAttr(n, "value"), label: e2eHTMLText(n)})
				}
				return
			case atom.Textarea:
				if form != nil {
					form.fields = append(form.fields, e2eControl{typ: "textarea", name: e2eAttr(n, "name"), value: e2eHTMLText(n)})
				}
				return
			case atom.Select:
				if form != nil {
					form.fields = append(form.fields, e2eControl{typ: "select", name: e2eAttr(n, "name"), value: e2eSelected(n)})
				}
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form)
		}
	}
	walk(doc, nil)
	return forms
}

// e2eSelected is the value of a select's selected option, else of its first option.
func e2eSelected(sel *html.Node) string {
	var first, chosen *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Option {
			if first == nil {
				first = n
			}
			if chosen == nil && e2eHasAttr(n, "selected") {
				chosen = n
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(sel)
	if chosen == nil {
		chosen = first
	}
	if chosen == nil {
		return ""
	}
	if e2eHasAttr(chosen, "value") {
		return e2eAttr(chosen, "value")
	}
	return e2eHTMLText(chosen)
}

// e2eHTMLText is the text of n and its descendants (scripts and styles left out), white
// space collapsed.
func e2eHTMLText(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
			b.WriteByte(' ')
		case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style):
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func e2eAttr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == name {
			return a.Val
		}
	}
	return ""
}

func e2eHasAttr(n *html.Node, name string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Namespace == "" && a.Key == name })
}

// e2eExcerpt is the start of a response body, for error messages.
func e2eExcerpt(body []byte) string {
	const limit = 600
	if len(body) > limit {
		return string(body[:limit]) + "..."
	}
	return string(body)
}
