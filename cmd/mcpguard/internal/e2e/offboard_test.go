package e2e

// Offboarding across replicas: a person revoked through the admin API of one replica
// is refused by every other within a second, though they had verified and cached the
// person's access token; the refresh token is refused everywhere.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// replicaAdminToken is the ADMIN_TOKEN of the replicas.
const replicaAdminToken = "replica-admin-token-0123456789abcdef"

// adminEnv adds the admin API, on a port of its own choosing, to env.
func adminEnv(env map[string]string) map[string]string {
	env["ADMIN_TOKEN"] = replicaAdminToken
	env["ADMIN_ADDR"] = "127.0.0.1:0"
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

// offboardAcrossReplicas signs the local user in, has every replica accept (and
// cache) the access token, revokes the person through the first replica's admin API,
// and wants every replica to refuse the token within a second and the refresh token
// after.
func offboardAcrossReplicas(t *testing.T, s *mcpStack, reps []*replica, reg clientRegistration) {
	tok, cfg := sdkLogin(t, s, reg)
	for _, r := range reps {
		if got := r.authStatus(t, tok.AccessToken); got != http.StatusOK {
			t.Fatalf("%s /auth with the access token = %d, want 200", r.addr, got)
		}
	}
	req, err := http.NewRequest(http.MethodPost, reps[0].adminURL(t)+"/v1/people/revoke", strings.NewReader(`{"user":"`+localUser.email+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+replicaAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Grants, Sessions int }
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || got.Grants < 1 || got.Sessions < 1 {
		t.Fatalf("POST /v1/people/revoke on %s = %d %+v (%v), want 200 with a grant and a session", reps[0].addr, resp.StatusCode, got, err)
	}
	revoked := time.Now()
	for _, r := range reps {
		waitStatus(t, r.addr+" /auth with the offboarded person's token", http.StatusUnauthorized, time.Second-time.Since(revoked),
			func() int { return r.authStatus(t, tok.AccessToken) })
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
	// iat has whole seconds: a token issued in the second of the revocation is refused
	// too. The next subtests log the person in again.
	time.Sleep(time.Until(revoked.Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
}
