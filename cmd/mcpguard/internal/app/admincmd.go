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
  sessions --user SUBJECT   the live browser sessions of a person
  revoke --session ID       end a browser session on every replica sharing the store

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
	switch args[0] {
	case "sessions":
		user := fs.String("user", "", "the person's subject")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("admin sessions: %w", err)
		}
		if *user == "" {
			return errors.New("admin sessions: --user is required")
		}
		var out admin.Sessions
		raw, err := cl.do(ctx, http.MethodGet, "/v1/sessions?user="+url.QueryEscape(*user), nil, &out)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSUBJECT\tEMAIL\tCREATED\tLAST USED\tEXPIRES\tADDRESS\tUSER AGENT")
		for _, s := range out.Sessions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Subject, s.Email, stamp(s.Created),
				stamp(s.LastUsed), stamp(s.Expires), s.ClientAddr, s.UserAgent)
		}
		return tw.Flush()
	case "revoke":
		session := fs.String("session", "", "the id of the session to end")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("admin revoke: %w", err)
		}
		if *session == "" {
			return errors.New("admin revoke: --session ID is required")
		}
		var out admin.Revoked
		raw, err := cl.do(ctx, http.MethodPost, "/v1/sessions/revoke", admin.RevokeRequest{ID: *session}, &out)
		if err != nil || *asJSON {
			return printRaw(stdout, raw, err)
		}
		_, err = fmt.Fprintf(stdout, "revoked %d record(s)\n", out.Revoked)
		return err
	}
	return fmt.Errorf("admin: unknown command %q\n%s", args[0], adminUsage)
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
