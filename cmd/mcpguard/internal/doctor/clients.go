package doctor

// The known MCP clients doctor checks for: doctor's own copy of the gates of mcpguard's
// client profile (oauth.KnownClients, which doctor may not import), pinned to it by a
// test of the end-to-end package, and the registrations that show their redirect URIs
// are accepted.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Client is one known MCP client: the gates it checks, as the names of oauth's Gate
// values, and the redirect-uris check that registers redirect URIs of its shape.
type Client struct {
	// ID is what --client takes: the client's name in lower case, spaces as '-'.
	ID string
	// Gates are the checks the client makes of the authorization server.
	Gates []string
	// Registration is the id of the redirect-uris check that covers the client.
	Registration string
}

// Clients returns the known clients, a fresh copy each call.
func Clients() []Client {
	std := func(extra ...string) []string { return append([]string{"pkce-s256", "issuer-exact"}, extra...) }
	return []Client{
		{"claude.ai", std("none-with-cimd"), "claude"},
		{"claude-desktop", std("none-with-cimd"), "claude"},
		{"claude-code", std("iss-present", "none-with-cimd", "loopback-any-port"), "loopback"},
		{"chatgpt", std("cors"), "chatgpt"},
		{"codex", std("iss-present", "endpoints-same-origin"), "loopback"},
		{"vs-code", std("loopback-any-port"), "vscode"},
		{"cursor", std(), "cursor"},
		{"gemini-cli", std(), "loopback"},
		{"copilot-cli", std("loopback-any-port"), "loopback"},
		{"mcp-inspector", std("cors"), "inspector"},
		{"mcp-remote", std(), "loopback"},
		{"goose", std("none-with-cimd"), "loopback"},
		{"opencode", std(), "loopback"},
	}
}

// gateChecks are the checks that test each gate.
var gateChecks = map[string][]string{
	"pkce-s256":             {"pkce-s256"},
	"issuer-exact":          {"issuer"},
	"iss-present":           {"iss"},
	"none-with-cimd":        {"none-with-cimd"},
	"loopback-any-port":     {"loopback-any-port"},
	"endpoints-same-origin": {"endpoints-same-origin"},
	"cors":                  {"cors-preflight", "cors-challenge", "cors-metadata"},
}

// machineChecks are the checks --client-id asks for; they run with --client too.
var machineChecks = []string{checkClientCredentials, checkMCPTools, checkStepUp}

// prerequisites run for every --client: the later checks need what they find.
var prerequisites = []string{"challenge", "prm-path", "prm-root", "prm-resource-metadata", "as-metadata", "registration", "endpoints"}

// clientByID finds the client --client names.
func clientByID(id string) (Client, bool) {
	for _, c := range Clients() {
		if c.ID == strings.ToLower(id) {
			return c, true
		}
	}
	return Client{}, false
}

// clientIDs lists the values --client takes.
func clientIDs() string {
	var ids []string
	for _, c := range Clients() {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ", ")
}

// wanted reports whether the check named name runs: always without --client, else when
// it is a machine check (--client-id asked for it), a prerequisite, tests one of the
// client's gates, or is its registration.
func (d *diagnosis) wanted(name string) bool {
	if d.flags.client == "" || slices.Contains(machineChecks, name) {
		return true
	}
	c, _ := clientByID(d.flags.client)
	if slices.Contains(prerequisites, name) || name == "redirect-uris/"+c.Registration {
		return true
	}
	for _, g := range c.Gates {
		if slices.Contains(gateChecks[g], name) {
			return true
		}
	}
	return false
}

// filter keeps the results --client asks for.
func (d *diagnosis) filter(results []checkResult) []checkResult {
	var out []checkResult
	for _, r := range results {
		if d.wanted(r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// checkNoneWithCIMD: client_id_metadata_document_supported comes with none in
// token_endpoint_auth_methods_supported; claude.ai and Goose use their metadata document
// only then.
func (d *diagnosis) checkNoneWithCIMD() {
	m := d.asMeta
	switch {
	case m == nil:
		d.skip("none-with-cimd", "no authorization server metadata")
	case !m.CIMDSupported:
		d.pass("none-with-cimd", "client ID metadata documents are not advertised")
	case !slices.Contains(m.TokenEndpointAuthMethods, "none"):
		d.fail("none-with-cimd", fmt.Sprintf("client_id_metadata_document_supported is true but token_endpoint_auth_methods_supported %q lacks none", m.TokenEndpointAuthMethods),
			`list "none" in token_endpoint_auth_methods_supported: claude.ai uses its metadata document only then, and Goose has no other way (mcpguard always lists it)`)
	default:
		d.pass("none-with-cimd", "")
	}
}

// checkSameOrigin: the authorization endpoint is on the issuer's origin, which Codex
// requires of an authorization server.
func (d *diagnosis) checkSameOrigin() {
	m := d.asMeta
	if m == nil {
		d.skip("endpoints-same-origin", "no authorization server metadata")
		return
	}
	iu, err1 := url.Parse(m.Issuer)
	au, err2 := url.Parse(m.AuthorizationEndpoint)
	if err1 != nil || err2 != nil || iu.Scheme != au.Scheme || !strings.EqualFold(iu.Host, au.Host) {
		d.fail("endpoints-same-origin", fmt.Sprintf("authorization_endpoint %q is not on the issuer %q's origin", m.AuthorizationEndpoint, m.Issuer),
			"serve the authorization endpoint on the issuer's origin: Codex refuses an authorization server whose endpoint origin differs (mcpguard serves every endpoint under ISSUER_URL)")
		return
	}
	d.pass("endpoints-same-origin", "")
}

// checkAuthorizationResponse sends the browser's first request of a login, with a
// response_type no server supports, for a client doctor registered with a loopback
// redirect URI, on another port than registered. The error must come back to that
// redirect URI (loopback-any-port: RFC 8252 §7.3), and carry iss byte-equal to the
// issuer when the metadata advertises it (iss: RFC 9207 §2.4; Claude Code and Codex fail
// when it is advertised and missing). No login happens and no code is issued.
func (d *diagnosis) checkAuthorizationResponse(ctx context.Context) {
	if d.loopbackClient == "" {
		for _, n := range []string{"loopback-any-port", "iss"} {
			d.skip(n, "no client with a loopback redirect URI was registered (see redirect-uris/loopback)")
		}
		return
	}
	redirect := strings.Replace(loopbackProbe, ":3118/", ":53682/", 1)
	q := url.Values{"response_type": {"doctor_unsupported"}, "client_id": {d.loopbackClient}, "redirect_uri": {redirect},
		"state": {"mcpguard-doctor"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	target := d.asMeta.AuthorizationEndpoint
	if strings.Contains(target, "?") {
		target += "&" + q.Encode()
	} else {
		target += "?" + q.Encode()
	}
	r, err := d.do(ctx, http.MethodGet, target, http.Header{"Accept": {"text/html"}}, nil)
	var back *url.URL
	if err == nil && r.status/100 == 3 {
		back, _ = url.Parse(r.header.Get("Location"))
	}
	switch {
	case err != nil:
		d.fail("loopback-any-port", err.Error(), "check the authorization_endpoint answers")
		d.skip("iss", "the authorization endpoint did not answer")
		return
	case back == nil || !strings.HasPrefix(back.String(), redirect):
		d.fail("loopback-any-port", fmt.Sprintf("an authorization request to %s, registered as %s, answered %s instead of returning to it", redirect, loopbackProbe, describeStatus(r)),
			"accept a loopback redirect URI with any port (RFC 8252 §7.3): Claude Code, VS Code and Copilot CLI listen on a port of the moment (mcpguard does)")
		d.skip("iss", "no authorization response came back")
		return
	}
	d.pass("loopback-any-port", "")
	got := back.Query()["iss"]
	switch {
	case !d.asMeta.ISSSupported && len(got) == 0:
		d.pass("iss", "authorization_response_iss_parameter_supported is not advertised and no iss is sent")
	case !d.asMeta.ISSSupported:
		d.fail("iss", fmt.Sprintf("the authorization response carries iss %q, but the metadata does not advertise authorization_response_iss_parameter_supported", got),
			"advertise authorization_response_iss_parameter_supported: true (RFC 9207 §3)")
	case len(got) != 1:
		d.fail("iss", fmt.Sprintf("the authorization response to %s carries %d iss parameters, with authorization_response_iss_parameter_supported: true", redirect, len(got)),
			"send exactly one iss, the issuer, on every authorization response, errors included (RFC 9207 §2): Claude Code and Codex reject the response otherwise")
	case got[0] != d.asMeta.Issuer:
		d.fail("iss", fmt.Sprintf("the authorization response's iss %q is not the issuer %q", got[0], d.asMeta.Issuer),
			"send the issuer, byte for byte, as iss (RFC 9207 §2.4): clients compare the two strings (a broker must not pass on its upstream's iss)")
	default:
		d.pass("iss", got[0])
	}
}
