package e2e

// Offboarding across replicas: a person (or a machine client) revoked through the
// admin API of one replica is refused by every replica within a second, though they had
// verified and cached the access token; the person's refresh token is refused everywhere.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// replicaAdminToken is the ADMIN_TOKEN of the replicas.
const replicaAdminToken = "replica-admin-token-0123456789abcdef"

// The machine client the replicas add to the policy file: its client_credentials
// tokens are in no refresh family, so only the client's revocation refuses them.
const (
	replicaMachine       = "replica-machine"
	replicaMachineSecret = "replica-machine-secret-0123456789"
)

// adminEnv adds the admin API, on a port of its own choosing, and the machine client
// to env.
func adminEnv(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	env["ADMIN_TOKEN"] = replicaAdminToken
	env["ADMIN_ADDR"] = "127.0.0.1:0"
	policy, err := os.ReadFile(env["POLICY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	policy = fmt.Appendf(policy, "  - client_id: %s\n    client_secret: %s\n    grant_types: [client_credentials]\n    resources: [%s]\n",
		replicaMachine, replicaMachineSecret, mcpURL)
	env["POLICY_FILE"] = filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(env["POLICY_FILE"], policy, 0o600); err != nil {
		t.Fatal(err)
	}
	return env
}

var adminListening = regexp.MustCompile(`admin API listening on (http://\S+)`)

// adminURL is the address the replica's admin API printed it listens on.
func (r *replica) adminURL(t *testing.T) string {
	t.Helper()
	m := adminListening.FindStringSubmatch(r.log.String())
	if m == nil {
		t.Fatalf("replica %s printed no admin API address:\n%s", r.addr, r.log)
	}
	return m[1]
}

// post sends form to the authorization server's path on the replica, as the edge
// proxy would (Host and X-Forwarded-Proto), and returns the answer.
func (r *replica) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = authHost
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s on %s: %v", path, r.addr, err)
	}
	return resp
}

// offboardAcrossReplicas signs person in, has every replica accept (and cache) the
// access token, revokes the person by user (a subject or an email) through the first
// replica's admin API, and wants every replica to refuse the token within a second and
// the refresh token after. The grants another replica lists for user must be among the
// subjects the revocation names, which it returns.
func offboardAcrossReplicas(t *testing.T, s *mcpStack, reps []*replica, reg clientRegistration, person loginUser, user string) []string {
	tok, cfg := sdkLogin(t, s, person, reg)
	var list struct {
		Grants []struct{ Subject, Email string }
	}
	adminCall(t, reps[len(reps)-1], http.MethodGet, "/v1/grants?user="+url.QueryEscape(user), "", &list)
	if len(list.Grants) == 0 {
		t.Fatalf("GET /v1/grants?user=%s lists no grant after %s's login", user, person.email)
	}
	var got struct {
		Grants, Sessions int
		Subjects         []string
	}
	revoked := revokeAcrossReplicas(t, reps, tok.AccessToken, "/v1/people/revoke", `{"user":"`+user+`"}`, &got)
	if got.Grants < 1 || got.Sessions < 1 || len(got.Subjects) == 0 || got.Subjects[0] != user {
		t.Errorf("POST /v1/people/revoke = %+v, want a grant, a session and the subjects, %q first", got, user)
	}
	for _, g := range list.Grants {
		if !slices.Contains(got.Subjects, g.Subject) {
			t.Errorf("POST /v1/people/revoke revoked the subjects %q, not %q of a grant GET /v1/grants listed for %s", got.Subjects, g.Subject, user)
		}
	}
	for _, r := range reps {
		resp := r.post(t, urlPath(t, s.asm.TokenEndpoint), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
			"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}})
		var answer struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || answer.Error != "invalid_grant" {
			t.Errorf("%s refresh after the offboarding = %d %q, want invalid_grant", r.addr, resp.StatusCode, answer.Error)
		}
	}

	// A machine's token belongs to no listed grant: only the broadcast of its client's
	// revocation makes the replicas that cached it refuse it.
	resp := reps[1].post(t, urlPath(t, s.asm.TokenEndpoint), url.Values{"grant_type": {"client_credentials"},
		"client_id": {replicaMachine}, "client_secret": {replicaMachineSecret}})
	var machine struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&machine)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || machine.AccessToken == "" {
		t.Fatalf("client_credentials on %s = %d, want a token", reps[1].addr, resp.StatusCode)
	}
	var client struct {
		TokensRefused bool `json:"tokens_refused"`
	}
	revokeAcrossReplicas(t, reps, machine.AccessToken, "/v1/clients/revoke", `{"id":"`+replicaMachine+`"}`, &client)
	if !client.TokensRefused {
		t.Errorf("POST /v1/clients/revoke = %+v, want tokens_refused", client)
	}

	// iat has whole seconds: a token issued in the second of the revocation is refused
	// too. The next subtests log the person in again.
	time.Sleep(time.Until(revoked.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	return got.Subjects
}

// revokeAcrossReplicas has every replica accept (and cache) token, posts body to the
// admin API's path on the first replica, decodes the answer into out, and wants every
// replica to refuse token within a second. It returns when the revocation was made.
func revokeAcrossReplicas(t *testing.T, reps []*replica, token, path, body string, out any) time.Time {
	t.Helper()
	for _, r := range reps {
		if got := r.authStatus(t, token); got != http.StatusOK {
			t.Fatalf("%s /auth with the token = %d, want 200", r.addr, got)
		}
	}
	adminCall(t, reps[0], http.MethodPost, path, body, out)
	revoked := time.Now()
	for _, r := range reps {
		waitStatus(t, r.addr+" /auth with the token after POST "+path, http.StatusUnauthorized, time.Second-time.Since(revoked),
			func() int { return r.authStatus(t, token) })
	}
	return revoked
}

// adminCall sends method path (with the JSON body, unless empty) to r's admin API and
// decodes its answer, which must be 200, into out.
func adminCall(t *testing.T, r *replica, method, path, body string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, r.adminURL(t)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+replicaAdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s on %s = %d (%v), want 200", method, path, r.addr, resp.StatusCode, err)
	}
}
