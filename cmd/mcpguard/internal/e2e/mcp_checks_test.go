package e2e

// What the MCP flow checks along the way: the identity the MCP server saw, the raw bearer request, revocation.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// whoami calls the whoami tool and checks the identity the MCP server received: person,
// through the client the SDK uses after the call (client() is read then, as the call
// may make the SDK authorize again), and no Authorization header.
func (st *mcpStack) whoami(t *testing.T, ctx context.Context, s *mcp.ClientSession, person loginUser, client func() *oauth2.Config) {
	t.Helper()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("tools/call whoami = %v", err)
	}
	if res.IsError {
		t.Fatalf("tools/call whoami is an error: %+v", res.Content)
	}
	data, _ := json.Marshal(res.StructuredContent)
	var got whoami.Identity
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("whoami result %s: %v", data, err)
	}
	clientID := client().ClientID
	if got.User != person.email || got.Email != person.email || got.AuthSource != "oauth" || got.ClientID != clientID {
		t.Errorf("whoami = %+v, want user and email %s, auth_source oauth, client_id %q", got, person.email, clientID)
	}
	if got.Authorization && !st.emptyAuthorization {
		t.Errorf("whoami: an Authorization header reached the MCP server")
	}
	if want := strings.Join(person.groups, ","); got.Groups != want {
		t.Errorf("whoami groups = %q, want %q", got.Groups, want)
	}
	if !slices.Contains(strings.Fields(got.Scopes), "mcp:read") {
		t.Errorf("whoami scopes = %q, want mcp:read among them", got.Scopes)
	}
}

// checkUpstream checks every request the MCP server got since it had seen n: the
// identity mcpguard vouched for, and no Authorization header (an empty one where the
// proxy sends that).
func (st *mcpStack) checkUpstream(t *testing.T, person loginUser, n int) {
	t.Helper()
	reqs := st.up.requests()[n:]
	if len(reqs) == 0 {
		t.Fatalf("the MCP server received no request")
	}
	for _, r := range reqs {
		if v := r.header.Values("Authorization"); len(v) > 0 && !(st.emptyAuthorization && slices.Equal(v, []string{""})) {
			t.Errorf("%s %s reached the MCP server with an Authorization header: %s", r.method, r.path, describeAuthorization(v))
		}
		if u, s := r.header.Get("X-Forwarded-User"), r.header.Get("X-Auth-Source"); u != person.email || s != "oauth" {
			t.Errorf("%s %s reached the MCP server with X-Forwarded-User %q and X-Auth-Source %q, want %q and oauth", r.method, r.path, u, s, person.email)
		}
	}
}

// bearerInitialize sends an MCP initialize request with token through the proxy,
// outside the SDK.
func bearerInitialize(t *testing.T, edge *loadBalancer, token string) *http.Response {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, mcpURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := (&http.Client{Transport: edge, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", mcpURL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// revokeToken revokes token at the revocation endpoint (RFC 7009) as the client cfg
// describes, with client_secret_post for a confidential client.
func revokeToken(t *testing.T, edge *loadBalancer, endpoint string, cfg *oauth2.Config, token string) {
	t.Helper()
	if endpoint == "" {
		t.Fatal("the authorization server metadata has no revocation_endpoint")
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}, "client_id": {cfg.ClientID}}
	if cfg.ClientSecret != "" {
		form.Set("client_secret", cfg.ClientSecret)
	}
	resp, err := (&http.Client{Transport: edge, Timeout: 10 * time.Second}).PostForm(endpoint, form)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s (token_type_hint=access_token, client_id=%s) = %s: %s", endpoint, cfg.ClientID, resp.Status, body)
	}
}

// describeAuthorization says what Authorization values are without showing a token.
func describeAuthorization(values []string) string {
	var out []string
	for _, v := range values {
		scheme, cred, _ := strings.Cut(v, " ")
		switch {
		case v == "":
			out = append(out, "empty")
		case strings.HasPrefix(v, "{"):
			out = append(out, fmt.Sprintf("the literal %q", v))
		case strings.Count(cred, ".") == 2:
			out = append(out, fmt.Sprintf("%s <a JWT, %d bytes>", scheme, len(cred)))
		default:
			out = append(out, fmt.Sprintf("%s <%d bytes>", scheme, len(cred)))
		}
	}
	return strings.Join(out, ", ")
}
