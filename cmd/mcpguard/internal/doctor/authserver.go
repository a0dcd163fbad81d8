package doctor

// The checks of the authorization server: its metadata, CORS for browser-based clients,
// and the registration of the redirect URIs known clients use.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// knownClient is an MCP client whose registration doctor replays: its redirect URIs and
// application_type as it sends them.
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
	// One registration for the native clients on loopback, to stay within registration
	// rate limits; the loopback-any-port and iss checks use it.
	{"loopback", "Claude Code, Codex, Gemini CLI, Copilot CLI, mcp-remote, Goose, opencode", "native",
		[]string{loopbackProbe, "http://127.0.0.1:33418/callback/mcpguard-doctor", "http://localhost:7777/oauth/callback",
			"http://127.0.0.1:33418/", "http://localhost:3334/oauth/callback", "http://127.0.0.1/oauth_callback", "http://127.0.0.1:19876/mcp/oauth/callback"},
		"http://localhost and http://127.0.0.1 with any path and port (RFC 8252 §7.3)"},
}

// loopbackProbe is the redirect URI of redirect-uris/loopback that the
// authorization-response checks send, on another port.
const loopbackProbe = "http://localhost:3118/callback"

// asMetaDoc is RFC 8414 §2 authorization server metadata, as far as MCP clients read it.
type asMetaDoc struct {
	url                           string
	Issuer                        string   `json:"issuer"`
	AuthorizationEndpoint         string   `json:"authorization_endpoint"`
	TokenEndpoint                 string   `json:"token_endpoint"`
	RegistrationEndpoint          string   `json:"registration_endpoint"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported"`
	CIMDSupported                 bool     `json:"client_id_metadata_document_supported"`
	TokenEndpointAuthMethods      []string `json:"token_endpoint_auth_methods_supported"`
	ISSSupported                  bool     `json:"authorization_response_iss_parameter_supported"`
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
	r, err := d.do(ctx, http.MethodOptions, d.flags.mcpURL, http.Header{
		"Origin":                         {browserOrigin},
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

	r, err = d.postInitialize(ctx, http.Header{"Origin": {browserOrigin}})
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
		r, err := d.getJSON(ctx, t, http.Header{"Origin": {browserOrigin}})
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

// allowOriginProblem says why a response is not readable from browserOrigin; "" if it is.
func allowOriginProblem(h http.Header) string {
	switch v := h.Get("Access-Control-Allow-Origin"); v {
	case "*", browserOrigin:
		return ""
	case "":
		return "no Access-Control-Allow-Origin"
	default:
		return fmt.Sprintf("Access-Control-Allow-Origin %q, which is not %s", v, browserOrigin)
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
	case !d.flags.register:
		why = "--no-register"
	case d.asMeta.RegistrationEndpoint == "":
		why = "no registration_endpoint: clients use client ID metadata documents, whose redirect URIs the authorization server checks at login"
	case checkAbsoluteURL(d.asMeta.RegistrationEndpoint) != "":
		why = "the registration_endpoint is not usable"
	}
	for _, c := range knownClients {
		switch {
		case !d.wanted("redirect-uris/" + c.id):
		case why != "":
			d.skip("redirect-uris/"+c.id, why)
		default:
			if id := d.register(ctx, c); c.id == "loopback" {
				d.loopbackClient = id
			}
		}
	}
}

// register registers c and reports whether every redirect URI was accepted; it returns
// the client_id when they were.
func (d *diagnosis) register(ctx context.Context, c knownClient) string {
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
			return answer.ClientID
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
	return ""
}
