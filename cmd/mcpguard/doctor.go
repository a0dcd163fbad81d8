package main

// mcpguard doctor checks a deployment from the outside, as an MCP client would: the 401
// and its challenge, the protected-resource metadata, the authorization server metadata,
// CORS, and the redirect URIs of the clients people use. It knows nothing of mcpguard's
// internals (net/http only), so it checks any MCP server and any authorization server.

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

const doctorUsage = `usage: mcpguard doctor [flags] <mcp-url>

Checks the deployment of the MCP server at <mcp-url> (the exact URL clients are given,
path included) from the outside, as an MCP client does, and prints one line per check:
PASS, FAIL with what is wrong and how to fix it, or SKIP when an earlier failure makes
a check impossible. The exit status is non-zero when any check fails.

The redirect-uris checks register one client per known MCP client (Claude, ChatGPT,
VS Code, Cursor, MCP Inspector) at the authorization server's registration endpoint;
--no-register skips them.

flags:
`

// doctorOptions are the flags and the argument of mcpguard doctor.
type doctorOptions struct {
	mcpURL   string
	json     bool
	timeout  time.Duration
	register bool
}

// doctor runs mcpguard doctor with the default transport.
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runDoctor(ctx, args, nil, stdout, stderr)
}

// runDoctor is doctor with the transport its requests take: nil is a fresh clone of
// http.DefaultTransport (environment proxies, system roots). The end-to-end tests pass
// their stand-in for DNS and the TLS-terminating load balancer.
func runDoctor(ctx context.Context, args []string, rt http.RoundTripper, stdout, stderr io.Writer) error {
	opts, err := parseDoctorFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if rt == nil {
		rt = http.DefaultTransport.(*http.Transport).Clone()
	}
	d := &diagnosis{
		opts: opts,
		client: &http.Client{
			Transport: rt,
			// Clients are sent nowhere they did not ask for: a redirect is an answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	results := d.run(ctx)
	if opts.json {
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

// parseDoctorFlags parses flags placed before or after the URL.
func parseDoctorFlags(args []string, stderr io.Writer) (doctorOptions, error) {
	opts := doctorOptions{}
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, doctorUsage)
		fs.PrintDefaults()
	}
	fs.BoolVar(&opts.json, "json", false, "print the results as a JSON array of {name, ok, skipped, detail, fix}")
	fs.DurationVar(&opts.timeout, "timeout", 10*time.Second, "time limit of each request")
	noRegister := fs.Bool("no-register", false, "do not register the known clients (skips the redirect-uris checks)")
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
	opts    doctorOptions
	client  *http.Client
	results []checkResult

	unreachable      bool       // the MCP URL did not answer at all
	resourceMetadata string     // from the 401's challenge; "" if none
	prm              *prmDoc    // the metadata document clients would use
	asMeta           *asMetaDoc // the authorization server metadata; nil if not found
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
		return d.results
	}
	d.checkPRM(ctx)
	d.checkASMetadata(ctx)
	d.checkCORS(ctx)
	d.checkRedirectURIs(ctx)
	return d.results
}

// laterChecks are the names of the checks after the first, as run prints them.
func (d *diagnosis) laterChecks() []string {
	names := []string{"prm-path", "prm-root", "as-metadata", "issuer", "pkce-s256", "registration", "endpoints",
		"cors-preflight", "cors-challenge", "cors-metadata"}
	for _, c := range knownClients {
		names = append(names, "redirect-uris/"+c.id)
	}
	return names
}

// doctorResponse is an answer, body read (at most 1 MiB).
type doctorResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request within the per-request time limit. header values replace the
// defaults.
func (d *diagnosis) do(ctx context.Context, method, target string, header http.Header, body []byte) (doctorResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return doctorResponse{}, err
	}
	req.Header.Set("User-Agent", "mcpguard-doctor/"+version)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return doctorResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return doctorResponse{}, fmt.Errorf("%s %s: reading the answer: %w", method, target, err)
	}
	return doctorResponse{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// getJSON fetches a metadata document as MCP clients do.
func (d *diagnosis) getJSON(ctx context.Context, target string, extra http.Header) (doctorResponse, error) {
	h := http.Header{"Accept": {"application/json"}, "Mcp-Protocol-Version": {doctorProtocolVersion}}
	for k, v := range extra {
		h[k] = v
	}
	return d.do(ctx, http.MethodGet, target, h, nil)
}

// describeStatus names a status and, for a redirect, where it points.
func describeStatus(r doctorResponse) string {
	s := fmt.Sprintf("%d %s", r.status, http.StatusText(r.status))
	if loc := r.header.Get("Location"); loc != "" && r.status >= 300 && r.status < 400 {
		s += " to " + loc
	}
	return s
}

// doctorLoopback reports whether host (no port) is localhost or a loopback address,
// where MCP clients and OAuth allow plain http.
func doctorLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
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
	case u.Scheme == "http" && !doctorLoopback(u.Hostname()):
		return fmt.Sprintf("%q is plain http (allowed only on loopback)", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q is not an https URL", raw)
	}
	return ""
}

// authChallenge is one challenge of a WWW-Authenticate field (RFC 9110 §11.6.1).
type authChallenge struct {
	scheme  string            // as written
	token68 string            // the token68 form, if used instead of parameters
	params  map[string]string // auth-params, names lower-cased, values unquoted
}

// parseChallenges parses WWW-Authenticate field values strictly, as RFC 9110 §11.6.1
// and RFC 6750 §3 write them:
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// A field may hold several challenges separated by commas; a parameter may appear once.
func parseChallenges(values []string) ([]authChallenge, error) {
	var out []authChallenge
	for _, v := range values {
		sc := &challengeScanner{s: v}
		for {
			sc.skipListSeparators()
			if sc.eof() {
				break
			}
			c, err := sc.challenge()
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no challenge")
	}
	return out, nil
}

type challengeScanner struct {
	s string
	i int
}

func (sc *challengeScanner) eof() bool  { return sc.i >= len(sc.s) }
func (sc *challengeScanner) peek() byte { return sc.s[sc.i] }

func (sc *challengeScanner) ows() {
	for !sc.eof() && (sc.peek() == ' ' || sc.peek() == '\t') {
		sc.i++
	}
}

// skipListSeparators skips whitespace and the empty elements RFC 9110 §5.6.1 allows.
func (sc *challengeScanner) skipListSeparators() {
	for sc.ows(); !sc.eof() && sc.peek() == ','; sc.ows() {
		sc.i++
	}
}

func (sc *challengeScanner) token() string {
	start := sc.i
	for !sc.eof() && isTchar(sc.peek()) {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// challenge reads one challenge; it stops before the scheme of the next one.
func (sc *challengeScanner) challenge() (authChallenge, error) {
	c := authChallenge{scheme: sc.token(), params: map[string]string{}}
	if c.scheme == "" {
		return c, fmt.Errorf("expected an auth-scheme at byte %d", sc.i)
	}
	if sc.eof() || sc.peek() == ',' {
		return c, nil
	}
	if sc.peek() != ' ' {
		return c, fmt.Errorf("expected a space after the scheme %q at byte %d", c.scheme, sc.i)
	}
	sc.ows()
	if t, ok := sc.token68(); ok {
		c.token68 = t
		return c, nil
	}
	for !sc.eof() {
		if sc.peek() == ',' { // #auth-param allows empty list elements
			sc.skipListSeparators()
			continue
		}
		start := sc.i
		name := sc.token()
		sc.ows()
		if name == "" || sc.eof() || sc.peek() != '=' {
			sc.i = start // not a parameter: the next challenge's scheme, or an error there
			if name == "" && len(c.params) == 0 {
				return c, fmt.Errorf("expected a parameter at byte %d", sc.i)
			}
			return c, nil
		}
		sc.i++
		sc.ows()
		value, err := sc.value()
		if err != nil {
			return c, fmt.Errorf("parameter %q: %w", name, err)
		}
		key := strings.ToLower(name)
		if _, dup := c.params[key]; dup {
			return c, fmt.Errorf("parameter %q appears twice (RFC 6750 §3)", name)
		}
		c.params[key] = value
		sc.ows()
		if sc.eof() {
			break
		}
		if sc.peek() != ',' {
			return c, fmt.Errorf("expected a comma after parameter %q at byte %d", name, sc.i)
		}
		sc.skipListSeparators()
	}
	return c, nil
}

// token68 reads a token68 that is the whole of a challenge's credentials, if there is one.
func (sc *challengeScanner) token68() (string, bool) {
	j := sc.i
	for j < len(sc.s) && (isAlnum(sc.s[j]) || strings.IndexByte("-._~+/", sc.s[j]) >= 0) {
		j++
	}
	if j == sc.i {
		return "", false
	}
	for j < len(sc.s) && sc.s[j] == '=' {
		j++
	}
	k := j
	for k < len(sc.s) && (sc.s[k] == ' ' || sc.s[k] == '\t') {
		k++
	}
	if k < len(sc.s) && sc.s[k] != ',' {
		return "", false
	}
	t := sc.s[sc.i:j]
	sc.i = k
	return t, true
}

// value reads a token or a quoted-string, unquoted.
func (sc *challengeScanner) value() (string, error) {
	if sc.eof() || sc.peek() != '"' {
		if t := sc.token(); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("expected a token or a quoted string at byte %d", sc.i)
	}
	sc.i++
	var b strings.Builder
	for !sc.eof() {
		ch := sc.peek()
		sc.i++
		switch {
		case ch == '"':
			return b.String(), nil
		case ch == '\\' && !sc.eof():
			b.WriteByte(sc.peek())
			sc.i++
		case ch == '\t' || ch >= 0x20 && ch != 0x7f:
			b.WriteByte(ch)
		default:
			return "", fmt.Errorf("control character in a quoted string at byte %d", sc.i-1)
		}
	}
	return "", errors.New("unterminated quoted string")
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isTchar reports whether c may appear in an RFC 9110 §5.6.2 token.
func isTchar(c byte) bool { return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 }
