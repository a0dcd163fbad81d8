package forwardauth

// Browser logins: the session credential kind (mcpguard's browser session cookie) and
// the login redirect of a 401, both only for resources that list `session` in their
// credentials. MCP routes never redirect: a resource that does not list `session`
// never gets a Location, and its requests are never judged by a cookie.

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/policy"
)

// wantsSession reports whether a decision made without a credential could change with
// the browser session: a resource that lists `session` challenged the request, or let
// it pass as anonymous.
func wantsSession(d policy.Decision) bool {
	if d.Resource == nil || !d.Resource.ListsCredential(policy.SourceSession) {
		return false
	}
	return d.Result == policy.Challenge && d.Reason == policy.ReasonNoCredential ||
		d.Result == policy.Allow && d.Reason == policy.ReasonAnonymous
}

// judgeSession judges r again with its browser session, when it has a live one: the
// request had no other credential and its resource lists `session`. It reports false,
// with v set to the fault, when the session could not be read (the store is away).
func (d *Decider) judgeSession(r *http.Request, v *verdict, in *policy.Input) bool {
	if len(r.Header["Cookie"]) == 0 {
		return true
	}
	p, err := d.sessions.Authenticate(&auth.Request{Header: r.Header})
	switch {
	case errors.Is(err, auth.ErrNoCredentials) || errors.Is(err, auth.ErrInvalidCredential):
		// A cookie that names no live session asks for a login, not for invalid_token.
		return true
	case err != nil:
		v.fault(err)
		return false
	}
	v.principal, v.authenticated = p, true
	id := identityOf(&v.principal)
	in.Identity = &id
	v.decision = d.policy.Decide(*in)
	v.reason = string(v.decision.Reason)
	return true
}

// loginLocation returns where a 401 sends a browser: the login page with the original
// URL as rd, or "" when the resource does not list `session`, no login page is
// configured, or the request does not prefer HTML.
func (d *Decider) loginLocation(r *http.Request, v *verdict) string {
	res := v.decision.Resource
	if d.loginURL == "" || res == nil || !res.ListsCredential(policy.SourceSession) || !prefersHTML(r.Header) {
		return ""
	}
	return d.loginURL + "?rd=" + url.QueryEscape(forwarded.URL(r.Header, v.orig, v.envoyPath))
}

// redirectForm reports whether r asks for the redirecting form of /auth: its own query
// is login=redirect (the forwardAuth address of the Traefik browser recipe), and it is
// not in the nginx dialect. In that form the 401 that carries a login Location is a 302
// instead, because Traefik hands a non-2xx answer to the browser as it is, and browsers
// follow a Location only on a 3xx. nginx turns a 3xx into a 500, so a request that
// speaks its dialect (X-Original-URL or X-Original-URI) always gets the 401, whatever
// query an nginx configuration passes on: nginx's own error_page makes the 302 there.
// (Caddy's forward_auth passes the client's query on: a client that adds login=redirect
// only turns its own 401 into a 302 to the same Location.)
func redirectForm(r *http.Request) bool {
	if r.URL.RawQuery == "" || r.Header["X-Original-Url"] != nil || r.Header["X-Original-Uri"] != nil {
		return false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	return err == nil && len(q["login"]) == 1 && q["login"][0] == "redirect"
}

// prefersHTML reports whether a request's Accept prefers text/html (RFC 9110 §12.5.1):
// text/html, else text/*, has a q above 0 and no other listed type has a higher one.
// */* alone does not count: fetch(), curl and the MCP SDKs send it, and they want the
// 401. An XMLHttpRequest (X-Requested-With) never counts either.
func prefersHTML(h http.Header) bool {
	if strings.EqualFold(h.Get("X-Requested-With"), "XMLHttpRequest") {
		return false
	}
	exact, wild, other := -1.0, -1.0, -1.0
	for _, accept := range h["Accept"] {
		for part := range strings.SplitSeq(accept, ",") {
			mt, params, _ := strings.Cut(part, ";")
			mt = strings.TrimSpace(mt)
			q := qValue(params)
			switch {
			case strings.EqualFold(mt, "text/html"):
				exact = max(exact, q)
			case strings.EqualFold(mt, "text/*"):
				wild = max(wild, q)
			case mt == "" || mt == "*/*":
			default:
				other = max(other, q)
			}
		}
	}
	html := exact
	if html < 0 {
		html = wild
	}
	return html > 0 && html >= other
}

// qValue is the q parameter among a media range's parameters: 1 when absent, 0 when
// malformed or out of range (such a range is not acceptable).
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, val, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
