package main

// The checks of mcpguard doctor, in the order an MCP client meets what they check.

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// doctorProtocolVersion is the MCP revision doctor speaks; doctorOrigin is the Origin of
// the browser-based client it plays for the CORS checks.
const (
	doctorProtocolVersion = "2025-11-25"
	doctorOrigin          = "https://inspector.example"
	wellKnownPRMPath      = "/.well-known/oauth-protected-resource"
)

// knownClient is an MCP client whose registration doctor replays: its redirect URIs and
// application_type as it sends them (reference/mcp-authorization.md §3).
type knownClient struct {
	id, name, applicationType string
	redirectURIs              []string
	hint                      string // what the authorization server must accept
}

var knownClients = []knownClient{
	{"claude", "Claude", "web",
		[]string{"https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"},
		"both https callbacks, on claude.ai and on claude.com"},
	{"chatgpt", "ChatGPT", "web",
		[]string{"https://chatgpt.com/connector/oauth/doctor-check"},
		"https://chatgpt.com/connector/oauth/<callback id>, a different path per connector, so no fixed list of exact URIs"},
	{"vscode", "VS Code", "web",
		[]string{"http://127.0.0.1:33418/", "https://vscode.dev/redirect"},
		"http://127.0.0.1 with any port (RFC 8252 §7.3; VS Code moves off 33418 when it is busy) and https://vscode.dev/redirect"},
	// Cursor registers its private-use scheme as "web" (better-auth/better-auth#10946).
	{"cursor", "Cursor", "web",
		[]string{"cursor://anysphere.cursor-mcp/oauth/callback"},
		"the private-use scheme cursor:// (RFC 8252 §7.1), which an allowlist of https and loopback refuses"},
	{"inspector", "MCP Inspector", "native",
		[]string{"http://localhost:6274/oauth/callback"},
		"http://localhost with any port (RFC 8252 §7.3)"},
}

// postInitialize sends the unauthenticated initialize request an MCP client starts with.
func (d *diagnosis) postInitialize(ctx context.Context, extra http.Header) (doctorResponse, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"mcpguard-doctor","version":%q}}}`,
		doctorProtocolVersion, version)
	h := http.Header{
		"Content-Type":         {"application/json"},
		"Accept":               {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {doctorProtocolVersion},
	}
	for k, v := range extra {
		h[k] = v
	}
	return d.do(ctx, http.MethodPost, d.opts.mcpURL, h, []byte(body))
}

// checkChallenge: a request without credentials gets 401 with a Bearer challenge whose
// resource_metadata is an absolute URL (MCP 2025-06-18 and later, RFC 9728 §5.1).
func (d *diagnosis) checkChallenge(ctx context.Context) {
	const name = "challenge"
	r, err := d.postInitialize(ctx, nil)
	if err != nil {
		d.unreachable = true
		d.fail(name, err.Error(), "check the URL, DNS and TLS, and that the proxy listens there")
		return
	}
	if detail, fix := unauthenticatedStatusProblem(r); detail != "" {
		d.fail(name, detail, fix)
		return
	}
	values := r.header.Values("WWW-Authenticate")
	if len(values) == 0 {
		d.fail(name, "the 401 has no WWW-Authenticate header",
			"the proxy must forward WWW-Authenticate from the auth service on 401 (Traefik forwardAuth, nginx auth_request and Caddy forward_auth do; a custom 401 page or error handler drops it)")
		return
	}
	challenges, err := parseChallenges(values)
	if err != nil {
		d.fail(name, fmt.Sprintf("WWW-Authenticate %q does not parse: %v", strings.Join(values, ", "), err),
			`send RFC 9110 §11.6.1 challenges: Bearer resource_metadata="https://…", values quoted, parameters separated by commas`)
		return
	}
	var bearer []authChallenge
	for _, c := range challenges {
		if strings.EqualFold(c.scheme, "Bearer") {
			bearer = append(bearer, c)
		}
	}
	switch {
	case len(bearer) == 0:
		d.fail(name, fmt.Sprintf("WWW-Authenticate %q has no Bearer challenge", strings.Join(values, ", ")),
			"challenge with the Bearer scheme (RFC 6750 §3) and resource_metadata")
		return
	case len(bearer) > 1:
		d.fail(name, fmt.Sprintf("the 401 carries %d Bearer challenges: %q", len(bearer), values),
			"send one: the proxy repeats the auth service's header (nginx: do not add_header WWW-Authenticate on 401, auth_request already copies it)")
		return
	case bearer[0].token68 != "":
		d.fail(name, fmt.Sprintf("the Bearer challenge holds %q instead of parameters", bearer[0].token68),
			`send Bearer resource_metadata="https://…" (RFC 6750 §3, RFC 9728 §5.1)`)
		return
	}
	b := bearer[0]
	rm, ok := b.params["resource_metadata"]
	if !ok {
		d.fail(name, "the Bearer challenge has no resource_metadata parameter",
			"add resource_metadata=\"<absolute URL of the protected resource metadata>\" (RFC 9728 §5.1); mcpguard adds it when the request's host and path match RESOURCE_URL or a policy resource, so check the proxy sends X-Forwarded-Host and the URI")
		return
	}
	if p := checkAbsoluteURL(rm); p != "" {
		d.fail(name, "resource_metadata "+p,
			"resource_metadata must be an absolute https URL such as https://mcp.example.com/.well-known/oauth-protected-resource/mcp (mcpguard builds it from RESOURCE_URL)")
		return
	}
	scope, hasScope := b.params["scope"]
	if slices.Contains(strings.Fields(scope), "offline_access") {
		d.fail(name, fmt.Sprintf("the challenge's scope %q lists offline_access", scope),
			"leave offline_access out of the resource's scopes: clients add it when the authorization server metadata lists it (MCP 2026-07-28)")
		return
	}
	d.resourceMetadata = rm
	note := "resource_metadata=" + rm
	if hasScope {
		note += fmt.Sprintf(", scope=%q", scope)
	} else {
		note += ", no scope parameter (clients fall back to scopes_supported)"
	}
	d.pass(name, note)
}

// unauthenticatedStatusProblem says what is wrong with the status of the answer to a
// request without credentials, and the fix; "" for a 401.
func unauthenticatedStatusProblem(r doctorResponse) (detail, fix string) {
	got := "a request without credentials got " + describeStatus(r)
	switch s := r.status; {
	case s == http.StatusUnauthorized:
		return "", ""
	case s == http.StatusForbidden:
		return got + ", not 401",
			"MCP clients start authorization only on 401: without a credential the answer must be 401 with a WWW-Authenticate challenge (403 is for insufficient scope); look for a WAF, an IP allowlist or a proxy rule that denies first"
	case s >= 300 && s < 400:
		return got + ", not 401",
			"an MCP endpoint must answer 401 with a challenge, never redirect to a login page: remove the login redirect (nginx error_page 401, Caddy handle_response, a Traefik errors middleware) from the MCP route"
	case s == http.StatusNotFound:
		return got, "use the exact URL of the MCP endpoint, path included, and check the proxy routes it to the MCP server"
	case s == http.StatusMethodNotAllowed:
		return got + " to POST",
			"MCP Streamable HTTP takes POST at the MCP URL: check this is the MCP endpoint (not a legacy SSE URL or a web page) and the proxy passes POST on"
	case s >= 200 && s < 300:
		return got + ": the MCP endpoint is not protected",
			"put mcpguard in front of this route (Traefik forwardAuth, nginx auth_request, Caddy forward_auth; see deploy/)"
	case s >= 500:
		return got, "the proxy could not ask the auth service or reach the MCP server: read its log (nginx turns any auth answer other than 2xx, 401 and 403 into 500)"
	}
	return got + ", not 401", "answer 401 with a WWW-Authenticate Bearer challenge to requests without credentials"
}

// prmDoc is an RFC 9728 §2 protected resource metadata document, as far as clients read it.
type prmDoc struct {
	url                  string
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers"`
	ScopesSupported      []string `json:"scopes_supported"`
}

// checkPRM fetches the protected resource metadata where clients look for it: the
// challenge's resource_metadata (when it is neither form below), the path-inserted form
// and the root form (MCP 2025-11-25 "Protected Resource Metadata Discovery").
func (d *diagnosis) checkPRM(ctx context.Context) {
	u, _ := url.Parse(d.opts.mcpURL) // parsed by parseDoctorFlags
	origin := u.Scheme + "://" + u.Host
	rootURL := origin + wellKnownPRMPath
	pathURL := origin + wellKnownPRMPath + strings.TrimSuffix(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		pathURL += "?" + u.RawQuery
	}
	docs := map[string]*prmDoc{}
	if rm := d.resourceMetadata; rm != "" && rm != pathURL && rm != rootURL {
		docs[rm] = d.fetchPRM(ctx, "prm-resource-metadata", rm,
			"serve the document at the URL the challenge names, or make resource_metadata point at the path form "+pathURL)
	}
	docs[pathURL] = d.fetchPRM(ctx, "prm-path", pathURL,
		"route /.well-known/oauth-protected-resource/* on the MCP host to mcpguard, and make RESOURCE_URL (or a policy resource url) the MCP URL, path included: mcpguard serves the path form for the resource's path")
	if rootURL == pathURL {
		d.pass("prm-root", "the MCP URL has no path: the root form is the path form")
	} else {
		docs[rootURL] = d.fetchPRM(ctx, "prm-root", rootURL,
			"route /.well-known/oauth-protected-resource on the MCP host to mcpguard too: ChatGPT and older clients ask at the root")
	}
	for _, u := range []string{d.resourceMetadata, pathURL, rootURL} {
		if doc := docs[u]; doc != nil && len(doc.AuthorizationServers) > 0 {
			d.prm = doc
			return
		}
	}
}

// fetchPRM checks the document at target; it returns the document when one was read,
// even if it has problems (they are reported), so that discovery can go on.
func (d *diagnosis) fetchPRM(ctx context.Context, name, target, fix404 string) *prmDoc {
	r, err := d.getJSON(ctx, target, nil)
	if err != nil {
		d.fail(name, err.Error(), "check the proxy routes "+wellKnownPRMPath+" on the MCP host")
		return nil
	}
	switch {
	case r.status == http.StatusNotFound:
		d.fail(name, fmt.Sprintf("GET %s answered %s", target, describeStatus(r)), fix404)
		return nil
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		d.fail(name, fmt.Sprintf("GET %s answered %s", target, describeStatus(r)),
			"the metadata must be public: send /.well-known/oauth-protected-resource* to mcpguard without the auth check (deploy/ does)")
		return nil
	case r.status >= 300 && r.status < 400:
		d.fail(name, fmt.Sprintf("GET %s answered %s", target, describeStatus(r)),
			"serve the document at this URL itself: not every client follows redirects for metadata")
		return nil
	case r.status != http.StatusOK:
		d.fail(name, fmt.Sprintf("GET %s answered %s", target, describeStatus(r)), "answer 200 with the metadata document")
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type")); mt != "application/json" {
		d.fail(name, fmt.Sprintf("GET %s answered Content-Type %q", target, r.header.Get("Content-Type")),
			"serve the metadata as application/json (a proxy or an HTML error page may stand in for it)")
		return nil
	}
	doc := &prmDoc{url: target}
	if err := json.Unmarshal(r.body, doc); err != nil {
		d.fail(name, fmt.Sprintf("%s is not protected resource metadata: %v", target, err), "serve the RFC 9728 §2 JSON object")
		return nil
	}
	var details, fixes []string
	if doc.Resource != d.opts.mcpURL {
		detail, fix := resourceMismatch(doc.Resource, d.opts.mcpURL)
		details, fixes = append(details, detail), append(fixes, fix)
	}
	if len(doc.AuthorizationServers) == 0 {
		details = append(details, "authorization_servers is missing or empty")
		fixes = append(fixes, "list the issuer of the authorization server in authorization_servers (mcpguard: set ISSUER_URL and PROVIDER, or JWT_ISSUERS)")
	}
	if slices.Contains(doc.ScopesSupported, "offline_access") {
		details = append(details, "scopes_supported lists offline_access")
		fixes = append(fixes, "list offline_access only in the authorization server metadata, not in the resource's scopes_supported (MCP 2026-07-28)")
	}
	if len(details) > 0 {
		d.fail(name, target+": "+strings.Join(details, "; "), strings.Join(fixes, "; "))
	} else {
		d.pass(name, target)
	}
	return doc
}

// resourceMismatch explains a resource that is not the MCP URL, the classic mistakes first.
func resourceMismatch(got, want string) (detail, fix string) {
	gu, gerr := url.Parse(got)
	wu, _ := url.Parse(want)
	switch {
	case got == "":
		return "resource is missing", fmt.Sprintf("set resource to the MCP URL %q (mcpguard: RESOURCE_URL)", want)
	case strings.TrimSuffix(got, "/") == want:
		return fmt.Sprintf("resource %q has a trailing slash the MCP URL %q lacks", got, want),
			fmt.Sprintf("RESOURCE_URL must be the exact URL clients use: %q, without the trailing slash (VS Code and RFC 9728 §3.3 compare them byte for byte)", want)
	case got == strings.TrimSuffix(want, "/"):
		return fmt.Sprintf("the MCP URL %q has a trailing slash the resource %q lacks", want, got),
			fmt.Sprintf("give clients the URL the metadata names, %q: MCP servers use the form without a trailing slash, and mcpguard drops it from RESOURCE_URL (VS Code and RFC 9728 §3.3 compare them byte for byte)", got)
	case gerr == nil && strings.EqualFold(gu.Scheme, wu.Scheme) && strings.EqualFold(gu.Host, wu.Host) &&
		strings.Trim(gu.Path, "/") == "" && strings.Trim(wu.Path, "/") != "":
		return fmt.Sprintf("resource %q lacks the path of the MCP URL %q", got, want),
			fmt.Sprintf("RESOURCE_URL must be the exact URL clients use, path included: %q", want)
	case strings.EqualFold(got, want):
		return fmt.Sprintf("resource %q and the MCP URL %q differ in letter case", got, want),
			"spell RESOURCE_URL exactly as the URL clients are given"
	}
	return fmt.Sprintf("resource %q is not the MCP URL %q", got, want),
		"RESOURCE_URL must be the exact URL clients use (VS Code and RFC 9728 §3.3 refuse a mismatch), or this is not the URL to give clients"
}

// asMetaDoc is RFC 8414 §2 authorization server metadata, as far as MCP clients read it.
type asMetaDoc struct {
	url                           string
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	RegistrationEndpoint          string   `json:"registration_endpoint"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	CIMDSupported                 bool     `json:"client_id_metadata_document_supported"`
}

// asMetadataURLs are the well-known URLs of issuer in the order MCP clients try them
// (MCP 2025-11-25 "Authorization Server Metadata Discovery"): RFC 8414 §3.1 with the
// path inserted, then OpenID Connect Discovery inserted and appended.
func asMetadataURLs(issuer *url.URL) []string {
	origin := issuer.Scheme + "://" + issuer.Host
	p := strings.TrimSuffix(issuer.EscapedPath(), "/")
	if p == "" {
		return []string{origin + "/.well-known/oauth-authorization-server", origin + "/.well-known/openid-configuration"}
	}
	return []string{
		origin + "/.well-known/oauth-authorization-server" + p,
		origin + "/.well-known/openid-configuration" + p,
		origin + p + "/.well-known/openid-configuration",
	}
}

// checkASMetadata: the metadata of authorization_servers[0] is found, its issuer is that
// string byte for byte, it advertises S256, a way to get a client_id, and usable endpoints.
func (d *diagnosis) checkASMetadata(ctx context.Context) {
	later := []string{"issuer", "pkce-s256", "registration", "endpoints"}
	if d.prm == nil {
		for _, n := range append([]string{"as-metadata"}, later...) {
			d.skip(n, "no protected resource metadata names an authorization server")
		}
		return
	}
	issuer := d.prm.AuthorizationServers[0]
	iu, err := url.Parse(issuer)
	if p := checkAbsoluteURL(issuer); p != "" || err != nil {
		d.fail("as-metadata", "authorization_servers[0] "+p, "list the issuer's absolute https URL (mcpguard: ISSUER_URL)")
		for _, n := range later {
			d.skip(n, "no usable authorization server issuer")
		}
		return
	}
	var tried []string
	for _, c := range asMetadataURLs(iu) {
		r, err := d.getJSON(ctx, c, nil)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("%s", describeStatus(r))
		}
		m := &asMetaDoc{url: c}
		if err == nil {
			err = json.Unmarshal(r.body, m)
		}
		if err == nil {
			d.asMeta = m
			break
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", c, err))
	}
	if d.asMeta == nil {
		d.fail("as-metadata", fmt.Sprintf("no authorization server metadata for issuer %q: %s", issuer, strings.Join(tried, ", ")),
			fmt.Sprintf("serve RFC 8414 metadata at %s (mcpguard serves it when PROVIDER is set; route /.well-known/oauth-authorization-server on the issuer's host to mcpguard)", asMetadataURLs(iu)[0]))
		for _, n := range later {
			d.skip(n, "no authorization server metadata")
		}
		return
	}
	m := d.asMeta
	d.pass("as-metadata", m.url)

	switch {
	case m.Issuer == issuer:
		d.pass("issuer", issuer)
	case m.Issuer == issuer+"/":
		d.fail("issuer", fmt.Sprintf("the metadata's issuer %q has a trailing slash that authorization_servers[0] %q lacks; clients must not use metadata whose issuer differs (RFC 8414 §3.3)", m.Issuer, issuer),
			"set ISSUER_URL without a trailing slash, so the issuer and authorization_servers are the same string")
	case m.Issuer+"/" == issuer:
		d.fail("issuer", fmt.Sprintf("authorization_servers[0] %q has a trailing slash that the metadata's issuer %q lacks; clients must not use metadata whose issuer differs (RFC 8414 §3.3)", issuer, m.Issuer),
			fmt.Sprintf("list %q in authorization_servers, without the trailing slash (mcpguard: set ISSUER_URL without a trailing slash)", m.Issuer))
	default:
		d.fail("issuer", fmt.Sprintf("the metadata's issuer %q is not authorization_servers[0] %q; clients must not use it (RFC 8414 §3.3)", m.Issuer, issuer),
			"make authorization_servers[0] and the issuer the same string, byte for byte (mcpguard derives both from ISSUER_URL)")
	}

	switch {
	case m.CodeChallengeMethodsSupported == nil:
		d.fail("pkce-s256", "code_challenge_methods_supported is missing",
			`advertise "code_challenge_methods_supported": ["S256"]: MCP clients must refuse to proceed without it (Claude stops there)`)
	case !slices.Contains(m.CodeChallengeMethodsSupported, "S256"):
		d.fail("pkce-s256", fmt.Sprintf("code_challenge_methods_supported %q lacks S256", m.CodeChallengeMethodsSupported),
			"support S256 PKCE and list it: MCP clients use only S256")
	default:
		d.pass("pkce-s256", "")
	}

	switch {
	case m.RegistrationEndpoint != "" && checkAbsoluteURL(m.RegistrationEndpoint) != "":
		d.fail("registration", "registration_endpoint "+checkAbsoluteURL(m.RegistrationEndpoint),
			"advertise an absolute https registration_endpoint (mcpguard derives it from ISSUER_URL)")
	case m.RegistrationEndpoint != "" && m.CIMDSupported:
		d.pass("registration", "registration_endpoint and client ID metadata documents")
	case m.RegistrationEndpoint != "":
		d.pass("registration", "registration_endpoint")
	case m.CIMDSupported:
		d.pass("registration", "client ID metadata documents, no registration_endpoint")
	default:
		d.fail("registration", "neither registration_endpoint nor client_id_metadata_document_supported: true",
			"enable Dynamic Client Registration or Client ID Metadata Documents: clients without a pre-registered client_id have no other way to get one (mcpguard offers both when PROVIDER is set)")
	}

	var probs []string
	for _, e := range [][2]string{{"authorization_endpoint", m.AuthorizationEndpoint}, {"token_endpoint", m.TokenEndpoint}} {
		if p := checkAbsoluteURL(e[1]); p != "" {
			probs = append(probs, e[0]+" "+p)
		}
	}
	if len(probs) > 0 {
		d.fail("endpoints", strings.Join(probs, "; "),
			"advertise absolute https endpoints (mcpguard derives them from ISSUER_URL: set it to the public https URL)")
	} else {
		d.pass("endpoints", "")
	}
}

// checkCORS: what browser-based clients (MCP Inspector, ChatGPT and Claude on the web)
// need: preflights not denied, a readable 401 challenge, readable metadata.
func (d *diagnosis) checkCORS(ctx context.Context) {
	r, err := d.do(ctx, http.MethodOptions, d.opts.mcpURL, http.Header{
		"Origin":                         {doctorOrigin},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"authorization, content-type, mcp-protocol-version"},
	}, nil)
	switch {
	case err != nil:
		d.fail("cors-preflight", err.Error(), "answer OPTIONS at the MCP URL")
	case r.status == http.StatusUnauthorized || r.status == http.StatusForbidden:
		d.fail("cors-preflight", "the CORS preflight (OPTIONS with Origin) got "+describeStatus(r),
			"let preflights through without credentials, browsers never send any on OPTIONS (mcpguard allows them; look for another auth layer or a proxy rule)")
	case r.header.Get("Access-Control-Allow-Origin") == "":
		d.pass("cors-preflight", "answered "+describeStatus(r)+" without Access-Control-Allow-Origin: browser-based clients also need the MCP server or the proxy to answer preflights")
	default:
		d.pass("cors-preflight", "answered "+describeStatus(r))
	}

	r, err = d.postInitialize(ctx, http.Header{"Origin": {doctorOrigin}})
	switch {
	case err != nil:
		d.fail("cors-challenge", err.Error(), "check the MCP URL answers")
	case r.status != http.StatusUnauthorized && r.status != http.StatusForbidden:
		d.skip("cors-challenge", "a request without credentials got "+describeStatus(r)+", not 401")
	default:
		var probs []string
		if p := allowOriginProblem(r.header); p != "" {
			probs = append(probs, p)
		}
		if !listsHeader(r.header.Values("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			probs = append(probs, "no Access-Control-Expose-Headers listing WWW-Authenticate")
		}
		if len(probs) > 0 {
			d.fail("cors-challenge", fmt.Sprintf("the %d to a request with an Origin has %s", r.status, strings.Join(probs, " and ")),
				"add Access-Control-Expose-Headers: WWW-Authenticate and Access-Control-Allow-Origin to the 401: browser-based clients cannot read the challenge otherwise (mcpguard sends both when the request has an Origin, the proxy must pass them on; deploy/nginx adds them in @mcpguard_401)")
		} else {
			d.pass("cors-challenge", "")
		}
	}

	var targets, probs []string
	if d.prm != nil {
		targets = append(targets, d.prm.url)
	}
	if d.asMeta != nil {
		targets = append(targets, d.asMeta.url)
	}
	if len(targets) == 0 {
		d.skip("cors-metadata", "no metadata was found")
		return
	}
	for _, t := range targets {
		r, err := d.getJSON(ctx, t, http.Header{"Origin": {doctorOrigin}})
		switch {
		case err != nil:
			probs = append(probs, fmt.Sprintf("%s: %v", t, err))
		case r.status != http.StatusOK:
			probs = append(probs, fmt.Sprintf("%s answered %s to a request with an Origin", t, describeStatus(r)))
		case allowOriginProblem(r.header) != "":
			probs = append(probs, t+" has "+allowOriginProblem(r.header))
		}
	}
	if len(probs) > 0 {
		d.fail("cors-metadata", strings.Join(probs, "; "),
			"answer metadata requests with Access-Control-Allow-Origin: * (mcpguard does; the proxy must not strip it)")
	} else {
		d.pass("cors-metadata", "")
	}
}

// allowOriginProblem says why a response is not readable from doctorOrigin; "" if it is.
func allowOriginProblem(h http.Header) string {
	switch v := h.Get("Access-Control-Allow-Origin"); v {
	case "*", doctorOrigin:
		return ""
	case "":
		return "no Access-Control-Allow-Origin"
	default:
		return fmt.Sprintf("Access-Control-Allow-Origin %q, which is not %s", v, doctorOrigin)
	}
}

// listsHeader reports whether comma-separated header lists name name, or "*".
func listsHeader(values []string, name string) bool {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, name) {
				return true
			}
		}
	}
	return false
}

// checkRedirectURIs registers each known client (RFC 7591) with its real redirect URIs.
func (d *diagnosis) checkRedirectURIs(ctx context.Context) {
	why := ""
	switch {
	case d.asMeta == nil:
		why = "no authorization server metadata"
	case !d.opts.register:
		why = "--no-register"
	case d.asMeta.RegistrationEndpoint == "":
		why = "no registration_endpoint: clients use client ID metadata documents, whose redirect URIs the authorization server checks at login"
	case checkAbsoluteURL(d.asMeta.RegistrationEndpoint) != "":
		why = "the registration_endpoint is not usable"
	}
	for _, c := range knownClients {
		if why != "" {
			d.skip("redirect-uris/"+c.id, why)
		} else {
			d.register(ctx, c)
		}
	}
}

// register registers c and reports whether every redirect URI was accepted.
func (d *diagnosis) register(ctx context.Context, c knownClient) {
	name := "redirect-uris/" + c.id
	body, _ := json.Marshal(map[string]any{
		"client_name":                "mcpguard doctor (" + c.name + ")",
		"redirect_uris":              c.redirectURIs,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"application_type":           c.applicationType,
	})
	r, err := d.do(ctx, http.MethodPost, d.asMeta.RegistrationEndpoint,
		http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}, body)
	uris := strings.Join(c.redirectURIs, " ")
	fix := fmt.Sprintf("the authorization server must accept %s's redirect URIs at registration: %s", c.name, c.hint)
	var answer struct {
		ClientID     string   `json:"client_id"`
		RedirectURIs []string `json:"redirect_uris"`
		Error        string   `json:"error"`
		Description  string   `json:"error_description"`
	}
	if err == nil {
		json.Unmarshal(r.body, &answer)
	}
	switch {
	case err != nil:
		d.fail(name, err.Error(), "check the registration_endpoint answers")
	case r.status == http.StatusCreated:
		var dropped []string
		for _, u := range c.redirectURIs {
			if !slices.Contains(answer.RedirectURIs, u) {
				dropped = append(dropped, u)
			}
		}
		if len(dropped) > 0 {
			d.fail(name, fmt.Sprintf("registered as client_id %q, but without %s", answer.ClientID, strings.Join(dropped, " ")), fix)
		} else {
			d.pass(name, fmt.Sprintf("registered %s as client_id %q", uris, answer.ClientID))
		}
	case r.status == http.StatusTooManyRequests:
		d.fail(name, fmt.Sprintf("registration was rate limited (Retry-After: %s)", r.header.Get("Retry-After")),
			"run doctor again in a minute, or with --no-register")
	case r.status == http.StatusBadRequest:
		d.fail(name, fmt.Sprintf("registering %s was refused: %s: %s", uris, answer.Error, answer.Description), fix)
	default:
		d.fail(name, fmt.Sprintf("registering %s answered %s", uris, describeStatus(r)),
			"answer a valid registration with 201 Created (RFC 7591 §3.2.1)")
	}
}
