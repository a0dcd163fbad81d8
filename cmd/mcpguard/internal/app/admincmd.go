package app

// The admin command: `mcpguard admin ...`, the CLI over the admin API.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/admin"
)

const adminUsage = `usage: mcpguard admin command [flags]

commands:
  clients                       every client: configured, registered (DCR), CIMD
  grants [--user EMAIL|SUBJECT] [--client ID]
                                the live grants of a person and/or a client (all without flags)
  sessions --user EMAIL|SUBJECT the live browser sessions of a person
  revoke --user EMAIL|SUBJECT   offboard a person: every grant, session, consent and access token
  revoke --client ID            a client and everything it holds (a configured one stays configured)
  revoke --grant ID             one grant: its refresh token, its access tokens, its consent
  revoke --session ID           one browser session

A person is named by their email or their subject (the SUBJECT column of grants and
sessions: for local users the email, for Google/OIDC logins the provider's id). An email
(any value with an @) also names every subject whose live sessions or grants carry it,
matched exactly but for ASCII case; revoke lists every subject it revoked.
Revocations take effect on every replica sharing the store.
flags of each: --json prints the API's JSON instead of a table.
ADMIN_URL (default http://127.0.0.1:11001) and ADMIN_TOKEN come from the environment.
`

// adminClientConfig is what `mcpguard admin` reads from the environment.
type adminClientConfig struct {
	URL   string `env:"ADMIN_URL" envDefault:"http://127.0.0.1:11001"`
	Token string `env:"ADMIN_TOKEN"`
}

// adminCommand runs one `mcpguard admin` command against ADMIN_URL.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	environ := map[string]string{}
	for _, k := range []string{"ADMIN_URL", "ADMIN_TOKEN"} {
		if v := getenv(k); v != "" {
			environ[k] = v
		}
	}
	c, err := env.ParseAsWithOptions[adminClientConfig](env.Options{Environment: environ})
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	if c.Token == "" {
		return errors.New("admin: ADMIN_TOKEN is not set")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("admin: ADMIN_URL %q is not an http(s) URL", c.URL)
	}
	cl := adminClient{base: strings.TrimRight(c.URL, "/"), token: c.Token, http: &http.Client{Timeout: 30 * time.Second}}
	fs := flag.NewFlagSet("mcpguard admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "print the JSON answer")
	var user, client, grant, session string
	fs.StringVar(&user, "user", "", "the person's email or subject")
	fs.StringVar(&client, "client", "", "a client id")
	switch args[0] {
	case "revoke":
		fs.StringVar(&grant, "grant", "", "a grant id")
		fs.StringVar(&session, "session", "", "a session id")
	case "clients", "grants", "sessions":
	default:
		return fmt.Errorf("admin: unknown command %q\n%s", args[0], adminUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("admin %s: %w", args[0], err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("admin %s: unexpected argument %q", args[0], fs.Arg(0))
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	switch args[0] {
	case "clients":
		if user != "" || client != "" {
			return errors.New("admin clients: takes no --user or --client")
		}
		var out admin.Clients
		raw, err := cl.do(ctx, http.MethodGet, "/v1/clients", nil, &out)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		fmt.Fprintln(tw, "CLIENT ID\tKIND\tNAME\tCREATED\tLAST USED\tGRANTS")
		for _, c := range out.Clients {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", c.ID, c.Kind, c.Name, stamp(c.Created), stamp(c.LastUsed), c.Grants)
		}
	case "grants":
		q := url.Values{}
		if user != "" {
			q.Set("user", user)
		}
		if client != "" {
			q.Set("client", client)
		}
		var out admin.Grants
		raw, err := cl.do(ctx, http.MethodGet, "/v1/grants?"+q.Encode(), nil, &out)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		fmt.Fprintln(tw, "GRANT ID\tSUBJECT\tEMAIL\tCLIENT ID\tRESOURCE\tSCOPES\tGRANTED\tLAST USED")
		for _, g := range out.Grants {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, g.Subject, g.Email, g.ClientID, g.Resource,
				strings.Join(g.Scopes, " "), stamp(g.GrantedAt), stamp(g.LastUsedAt))
		}
	case "sessions":
		if user == "" || client != "" {
			return errors.New("admin sessions: --user is required, and only it")
		}
		var out admin.Sessions
		raw, err := cl.do(ctx, http.MethodGet, "/v1/sessions?user="+url.QueryEscape(user), nil, &out)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		fmt.Fprintln(tw, "ID\tSUBJECT\tEMAIL\tCREATED\tLAST USED\tEXPIRES\tADDRESS\tUSER AGENT")
		for _, s := range out.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Subject, s.Email, stamp(s.Created),
				stamp(s.LastUsed), stamp(s.Expires), s.ClientAddr, s.UserAgent)
		}
	case "revoke":
		return adminRevoke(ctx, cl, stdout, *asJSON, user, client, grant, session)
	}
	return tw.Flush()
}

// adminRevoke runs `mcpguard admin revoke` with exactly one of its targets set.
func adminRevoke(ctx context.Context, cl adminClient, stdout io.Writer, asJSON bool, user, client, grant, session string) error {
	var path string
	var body any
	set := 0
	for _, t := range []struct {
		value, path string
		body        any
	}{
		{user, "/v1/people/revoke", admin.PersonRequest{User: user}},
		{client, "/v1/clients/revoke", admin.RevokeRequest{ID: client}},
		{grant, "/v1/grants/revoke", admin.RevokeRequest{ID: grant}},
		{session, "/v1/sessions/revoke", admin.RevokeRequest{ID: session}},
	} {
		if t.value != "" {
			set++
			path, body = t.path, t.body
		}
	}
	if set != 1 {
		return errors.New("admin revoke: give exactly one of --user EMAIL|SUBJECT, --client ID, --grant ID, --session ID")
	}
	var out admin.Revoked
	raw, err := cl.do(ctx, http.MethodPost, path, body, &out)
	if err != nil || asJSON {
		return printRaw(stdout, raw, err)
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{out.Grants, "grant(s)"}, {out.Sessions, "session(s)"}, {out.Consents, "consent(s)"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if out.ClientDeleted {
		parts = append(parts, "the client registration")
	}
	line := fmt.Sprintf("revoked %d record(s)", out.Revoked)
	if len(parts) > 0 && path != "/v1/sessions/revoke" {
		line += ": " + strings.Join(parts, ", ")
	}
	if len(out.Subjects) > 0 {
		line += "\nsubjects revoked: " + strings.Join(out.Subjects, ", ")
	}
	if out.TokensRefused {
		line += "\naccess tokens issued until now are refused on every replica"
	}
	if out.Note != "" {
		line += "\nnote: " + out.Note
	}
	_, err = fmt.Fprintln(stdout, line)
	return err
}

// stamp writes t in UTC to the minute for a table.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// printRaw writes the JSON answer unless err.
func printRaw(w io.Writer, raw []byte, err error) error {
	if err != nil {
		return err
	}
	_, err = w.Write(raw)
	return err
}

// adminClient calls the admin API with the token.
type adminClient struct {
	base, token string
	http        *http.Client
}

// do sends body (as JSON when not nil) to path and decodes a 2xx answer into out,
// returning the raw answer too. A non-2xx answer is an error carrying the API's message.
func (c adminClient) do(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("admin: reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return nil, fmt.Errorf("admin: %s answered %d: %s", path, resp.StatusCode, e.Error)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("admin: the answer is not JSON: %w", err)
	}
	return raw, nil
}
