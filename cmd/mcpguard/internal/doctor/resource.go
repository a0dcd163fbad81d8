package doctor

// The checks of the MCP endpoint itself: the challenge and the protected resource
// metadata it leads to.

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

// protocolVersion is the MCP revision doctor speaks; browserOrigin is the Origin of
// the browser-based client it plays for the CORS checks.
const (
	protocolVersion  = "2025-11-25"
	browserOrigin    = "https://inspector.example"
	wellKnownPRMPath = "/.well-known/oauth-protected-resource"
)

// postInitialize sends the unauthenticated initialize request an MCP client starts with.
func (d *diagnosis) postInitialize(ctx context.Context, extra http.Header) (response, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":%q,"capabilities":{},"clientInfo":{"name":"mcpguard-doctor","version":%q}}}`,
		protocolVersion, d.version)
	h := http.Header{
		"Content-Type":         {"application/json"},
		"Accept":               {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {protocolVersion},
	}
	for k, v := range extra {
		h[k] = v
	}
	return d.do(ctx, http.MethodPost, d.flags.mcpURL, h, []byte(body))
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
	d.resourceMetadata, d.challengeScope = rm, scope
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
func unauthenticatedStatusProblem(r response) (detail, fix string) {
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
	u, _ := url.Parse(d.flags.mcpURL) // parsed by parseFlags
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
	if doc.Resource != d.flags.mcpURL {
		detail, fix := resourceMismatch(doc.Resource, d.flags.mcpURL)
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
