// Package doctor is mcpguard doctor: it checks a deployment from the outside, as an MCP
// client would: the 401 and its challenge, the protected-resource metadata, the
// authorization server metadata, CORS, the redirect URIs of the clients people use and,
// with a confidential client's credentials, a client_credentials exchange and an MCP
// session with its token.
// It knows nothing of mcpguard's internals (net/http and go-jose only, no package of
// mcpguard), so it checks any MCP server and any authorization server.
package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

const usage = `usage: mcpguard doctor [flags] <mcp-url>

Checks the deployment of the MCP server at <mcp-url> (the exact URL clients are given,
path included) from the outside, as an MCP client does, and prints one line per check:
PASS, FAIL with what is wrong and how to fix it, or SKIP when an earlier failure makes
a check impossible. The exit status is non-zero when any check fails.

The redirect-uris checks register one client per known MCP client (Claude, ChatGPT,
VS Code, Cursor, MCP Inspector) and one for the native clients on loopback at the
authorization server's registration endpoint; --no-register skips them. With the
loopback client, loopback-any-port and iss send one authorization request (with an
unsupported response_type: no login, no code) and read the error response.
--client NAME runs only what that client checks (and what those checks need).
--client-id ID with --client-secret S (client_secret_basic) or --private-key FILE and
--key-id KID (private_key_jwt) adds the client-credentials check: a client_credentials
exchange at the token endpoint for the resource, then an initialize with the token,
and the mcp-tools check: an MCP session with the token (initialize, then tools/list, or
tools/call of the tool --tool names, with the JSON object --tool-args as arguments).

flags:
`

// flags are the flags and the argument of mcpguard doctor.
type flags struct {
	mcpURL   string
	json     bool
	timeout  time.Duration
	register bool
	client   string   // --client: only this known client's gates
	machine  *machine // --client-id and its credential: the client-credentials check
	tool     string   // --tool: the mcp-tools check calls it instead of tools/list
	toolArgs map[string]any
}

// Options are what Run takes from its caller rather than from the command line.
type Options struct {
	// Version is the mcpguard version doctor names in its User-Agent and clientInfo.
	Version string
	// Transport is what the requests take; nil is a fresh clone of
	// http.DefaultTransport (environment proxies, system roots). The end-to-end tests
	// pass their stand-in for DNS and the TLS-terminating load balancer.
	Transport http.RoundTripper
}

// Run is mcpguard doctor: it parses args (the flags and the MCP URL, without the
// program and command names), runs every check and prints one line per check to stdout,
// or a JSON array with -json. It returns an error when any check failed; -h prints the
// usage to stderr and returns nil.
func Run(ctx context.Context, args []string, o Options, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	d := &diagnosis{
		flags:   f,
		version: o.Version,
		client: &http.Client{
			Transport: rt,
			// Clients are sent nowhere they did not ask for: a redirect is an answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	results := d.run(ctx)
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if _, err := fmt.Fprintln(stdout, r); err != nil {
				return err
			}
		}
	}
	failed, skipped := 0, 0
	for _, r := range results {
		switch {
		case r.Skipped:
			skipped++
		case !r.OK:
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks failed, %d skipped", failed, len(results), skipped)
	}
	return nil
}

// parseFlags parses flags placed before or after the URL.
func parseFlags(args []string, stderr io.Writer) (flags, error) {
	opts := flags{}
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, usage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&opts.json, "json", false, "print the results as a JSON array of {name, ok, skipped, detail, fix}")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Second, "time limit of each request")
	noRegister := fs.Bool("no-register", false, "do not register the known clients (skips the redirect-uris checks)")
	fs.StringVar(&opts.client, "client", "", "run only the gates of this known client: "+clientIDs())
	clientID := fs.String("client-id", "", "a confidential client's id: run the client-credentials check with it")
	secret := fs.String("client-secret", "", "its secret (client_secret_basic)")
	keyFile := fs.String("private-key", "", "or its PEM private key file (private_key_jwt: ES256, RS256 or EdDSA)")
	keyID := fs.String("key-id", "", "the kid of --private-key in the client's JWK Set")
	fs.StringVar(&opts.tool, "tool", "", "with --client-id: the mcp-tools check calls this tool (tools/call) instead of listing the tools")
	toolArgs := fs.String("tool-args", "", "the arguments of --tool, a JSON object (default {})")
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return opts, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	opts.register = !*noRegister
	m, err := parseMachine(*clientID, *secret, *keyFile, *keyID)
	if err != nil {
		return opts, err
	}
	opts.machine = m
	if opts.toolArgs, err = parseTool(m != nil, opts.tool, *toolArgs); err != nil {
		return opts, err
	}
	if _, ok := clientByID(opts.client); opts.client != "" && !ok {
		return opts, fmt.Errorf("doctor: --client %q is not a known client (%s)", opts.client, clientIDs())
	}
	if len(positional) != 1 {
		fs.Usage()
		return opts, errors.New("doctor: give exactly one MCP URL")
	}
	if opts.timeout <= 0 {
		return opts, fmt.Errorf("doctor: -timeout %s is not positive", opts.timeout)
	}
	u, err := url.Parse(positional[0])
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return opts, fmt.Errorf("doctor: %q is not an http(s) URL of an MCP endpoint (https://mcp.example.com/mcp)", positional[0])
	}
	opts.mcpURL = positional[0]
	return opts, nil
}

// checkResult is the outcome of one check. A skipped check is not OK: it could not run
// because an earlier one failed.
type checkResult struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
}

// String is the line doctor prints: "PASS name[: note]", "FAIL name: what — fix" or
// "SKIP name: why".
func (r checkResult) String() string {
	switch {
	case r.Skipped:
		return "SKIP " + r.Name + ": " + r.Detail
	case r.OK && r.Detail == "":
		return "PASS " + r.Name
	case r.OK:
		return "PASS " + r.Name + ": " + r.Detail
	case r.Fix == "":
		return "FAIL " + r.Name + ": " + r.Detail
	}
	return "FAIL " + r.Name + ": " + r.Detail + " — " + r.Fix
}

// diagnosis is one run of the checks and what they learned, in order.
type diagnosis struct {
	flags   flags
	version string // mcpguard's, for the User-Agent and clientInfo
	client  *http.Client
	results []checkResult

	unreachable      bool       // the MCP URL did not answer at all
	resourceMetadata string     // from the 401's challenge; "" if none
	challengeScope   string     // the scope of the 401's challenge; "" if none
	prm              *prmDoc    // the metadata document clients would use
	asMeta           *asMetaDoc // the authorization server metadata; nil if not found
	loopbackClient   string     // the client_id registered by redirect-uris/loopback
	machineToken     string     // the token client-credentials got and initialize accepted
}

func (d *diagnosis) pass(name, note string) {
	d.results = append(d.results, checkResult{Name: name, OK: true, Detail: note})
}

func (d *diagnosis) fail(name, detail, fix string) {
	d.results = append(d.results, checkResult{Name: name, Detail: detail, Fix: fix})
}

func (d *diagnosis) skip(name, why string) {
	d.results = append(d.results, checkResult{Name: name, Skipped: true, Detail: why})
}

// run runs every check in order and returns their results.
func (d *diagnosis) run(ctx context.Context) []checkResult {
	d.checkChallenge(ctx)
	if d.unreachable {
		for _, name := range d.laterChecks() {
			d.skip(name, "the MCP URL did not answer")
		}
		return d.filter(d.results)
	}
	d.checkPRM(ctx)
	d.checkASMetadata(ctx)
	d.checkNoneWithCIMD()
	d.checkSameOrigin()
	d.checkCORS(ctx)
	d.checkRedirectURIs(ctx)
	d.checkAuthorizationResponse(ctx)
	d.checkMachine(ctx)
	d.checkTools(ctx)
	d.checkStepUp(ctx)
	return d.filter(d.results)
}

// laterChecks are the names of the checks after the first, as run prints them.
func (d *diagnosis) laterChecks() []string {
	names := []string{"prm-path", "prm-root", "as-metadata", "issuer", "pkce-s256", "registration", "endpoints",
		"none-with-cimd", "endpoints-same-origin", "cors-preflight", "cors-challenge", "cors-metadata"}
	for _, c := range knownClients {
		names = append(names, "redirect-uris/"+c.id)
	}
	names = append(names, "loopback-any-port", "iss")
	if d.flags.machine != nil {
		names = append(names, checkClientCredentials, checkMCPTools, checkStepUp)
	}
	return names
}

// response is an answer, body read (at most 1 MiB).
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request within the per-request time limit. header values replace the
// defaults.
func (d *diagnosis) do(ctx context.Context, method, target string, header http.Header, body []byte) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, d.flags.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("User-Agent", "mcpguard-doctor/"+d.version)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the answer: %w", method, target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// getJSON fetches a metadata document as MCP clients do.
func (d *diagnosis) getJSON(ctx context.Context, target string, extra http.Header) (response, error) {
	h := http.Header{"Accept": {"application/json"}, "Mcp-Protocol-Version": {protocolVersion}}
	for k, v := range extra {
		h[k] = v
	}
	return d.do(ctx, http.MethodGet, target, h, nil)
}

// describeStatus names a status and, for a redirect, where it points.
func describeStatus(r response) string {
	s := fmt.Sprintf("%d %s", r.status, http.StatusText(r.status))
	if loc := r.header.Get("Location"); loc != "" && r.status >= 300 && r.status < 400 {
		s += " to " + loc
	}
	return s
}

// isLoopback reports whether host (no port) names this machine without a name lookup,
// where MCP clients and OAuth allow plain http: an IPv4 literal in 127.0.0.0/8, the IPv6
// literal ::1 (bracketed or not), or localhost in any letter case. It is mcpguard's
// auth.IsLoopbackHost, copied because doctor imports nothing of mcpguard; the two must
// agree.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	bracketed := strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]")
	if bracketed {
		host = host[1 : len(host)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return false
	}
	if a.Is4() {
		return !bracketed && a.IsLoopback()
	}
	return a == netip.IPv6Loopback()
}

// checkAbsoluteURL says what is wrong with an endpoint URL clients will follow: not
// absolute, or plain http to a host other than a loopback one. "" means it is fine.
func checkAbsoluteURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return "is missing"
	case err != nil:
		return fmt.Sprintf("%q does not parse", raw)
	case !u.IsAbs() || u.Host == "":
		return fmt.Sprintf("%q is not an absolute URL", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Sprintf("%q is plain http (allowed only on loopback)", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q is not an https URL", raw)
	}
	return ""
}
