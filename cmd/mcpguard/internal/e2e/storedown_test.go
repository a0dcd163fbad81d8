package e2e

// mcpguard started while its store's server is not up yet: it listens and answers 503
// where it needs the store, finishes its start-up (the Redis schema check, the
// PostgreSQL migrations, the signing keys) once the server is up, and serves without a
// restart. A server that answers and refuses still stops it.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The machine client of these tests (machineEnv's), which gets tokens by
// client_credentials.
const (
	downClientID = "ci-bot"
	downSecret   = "ci-bot-secret-0123456789abcdef"
)

// TestStoreDownAtStartup runs the built mcpguard on a Redis, then a PostgreSQL, whose
// port nothing listens on yet.
func TestStoreDownAtStartup(t *testing.T) {
	bin := buildGuard(t)
	t.Run("redis", func(t *testing.T) {
		r := &testRedis{port: strconv.Itoa(freePort(t)), dir: t.TempDir()}
		t.Cleanup(func() { r.stop(t) })
		storeDownAtStartup(t, bin, r.dsn(), r.start, r.stop)
	})
	t.Run("postgres", func(t *testing.T) {
		p := initTestPostgres(t) // a new database: the migrations run once it is up
		t.Cleanup(func() { p.stop(t) })
		storeDownAtStartup(t, bin, p.dsn(), p.start, p.stop)
	})
}

// storeDownAtStartup starts mcpguard on dsn before start, checks what it answers, then
// starts the store; then does it again, the store holding the signing key by now, with
// an access token mcpguard issued before.
func storeDownAtStartup(t *testing.T, bin, dsn string, start, stop func(*testing.T)) {
	env := machineEnv(t, dsn, downSecret)
	r := startReplica(t, bin, env) // /healthz answers 200 with the store down
	wantDown(t, r)
	start(t)
	began := time.Now()
	waitStatus(t, r.addr+"/readyz with the store up", http.StatusOK, 10*time.Second, func() int { return r.status("/readyz") })
	t.Logf("ready %v after the store was started", time.Since(began).Round(time.Millisecond))
	tok := replicaMachineToken(t, r)
	if got := r.authStatus(t, tok); got != http.StatusOK {
		t.Fatalf("/auth with the machine's token = %d, want 200", got)
	}
	if got := r.status("/jwks"); got != http.StatusOK {
		t.Errorf("/jwks with the store up = %d, want 200", got)
	}

	// Again, with a token of the first run: a first-seen token is 503, never 401.
	r.cmd.Process.Signal(syscall.SIGTERM)
	<-r.exited
	stop(t)
	r2 := startReplica(t, bin, env)
	wantDown(t, r2)
	if got := r2.authStatus(t, tok); got != http.StatusServiceUnavailable {
		t.Errorf("/auth with a token of the first run, the store down = %d, want 503", got)
	}
	start(t)
	waitStatus(t, r2.addr+"/readyz with the store up", http.StatusOK, 10*time.Second, func() int { return r2.status("/readyz") })
	if got := r2.authStatus(t, tok); got != http.StatusOK {
		t.Errorf("/auth with a token of the first run, the store up = %d, want 200", got)
	}
	if tok2 := replicaMachineToken(t, r2); r2.authStatus(t, tok2) != http.StatusOK {
		t.Errorf("/auth with a token of the second run is not 200")
	}
	time.Sleep(500 * time.Millisecond) // mcpguard writes its log in batches
	log := r2.log.String()
	for msg, want := range map[string]int{"store unreachable at start-up": 1, "store reachable: start-up finished": 1} {
		if n := strings.Count(log, msg); n != want {
			t.Errorf("the log says %q %d times, want %d", msg, n, want)
		}
	}
	if strings.Contains(log, tok) || strings.Contains(log, downSecret) {
		t.Errorf("the log holds the access token or the client secret")
	}
}

// asRequest sends a request to the authorization server of r as the proxy would.
func asRequest(t *testing.T, r *replica, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = authHost
	req.Header.Set("X-Forwarded-Proto", "https")
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(downClientID, downSecret)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, raw
}

// wantDown checks r's answers while its store has not answered since it started.
func wantDown(t *testing.T, r *replica) {
	t.Helper()
	if got := r.status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz with the store down = %d, want 200", got)
	}
	if got := r.status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store down = %d, want 503", got)
	}
	token := url.Values{"grant_type": {"client_credentials"}, "resource": {mcpURL}}.Encode()
	for _, tt := range []struct{ method, path, body string }{
		{http.MethodPost, "/token", token},
		{http.MethodGet, "/jwks", ""},
		{http.MethodGet, "/.well-known/oauth-authorization-server", ""},
	} {
		resp, body := asRequest(t, r, tt.method, tt.path, tt.body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "temporarily_unavailable") {
			t.Errorf("%s %s with the store down = %d, Retry-After %q, %s; want 503 temporarily_unavailable with Retry-After",
				tt.method, tt.path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}

// replicaMachineToken gets an access token for the machine client from r's /token.
func replicaMachineToken(t *testing.T, r *replica) string {
	t.Helper()
	resp, body := asRequest(t, r, http.MethodPost, "/token", url.Values{"grant_type": {"client_credentials"}, "resource": {mcpURL}}.Encode())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("POST /token (client_credentials) = %d %s, want 200 with an access token", resp.StatusCode, body)
	}
	return tok.AccessToken
}

// TestStoreRefusesAtStartup: a Redis that answers and refuses mcpguard's password
// stops it with a clear error, whether it answers at once or only once mcpguard is
// already listening.
func TestStoreRefusesAtStartup(t *testing.T) {
	bin := buildGuard(t)
	r := &testRedis{port: strconv.Itoa(freePort(t)), dir: t.TempDir(), args: []string{"--requirepass", "the-right-password"}}
	t.Cleanup(func() { r.stop(t) })
	dsn := "redis://:the-wrong-password@127.0.0.1:" + r.port + "/0"
	wantRefusal := func(t *testing.T, out string, code int) {
		t.Helper()
		if code == 0 || !strings.Contains(out, "config: STORE") || !strings.Contains(out, "WRONGPASS") {
			t.Errorf("mcpguard exited %d with:\n%s\nwant a non-zero exit naming STORE and WRONGPASS", code, out)
		}
		if strings.Contains(out, "the-wrong-password") {
			t.Errorf("mcpguard's output shows the password")
		}
	}

	t.Run("late", func(t *testing.T) {
		rep := startReplica(t, bin, machineEnv(t, dsn, downSecret))
		r.start(t)
		select {
		case <-rep.exited:
		case <-time.After(15 * time.Second):
			t.Fatalf("mcpguard still runs 15s after its store refused its password:\n%s", rep.log)
		}
		wantRefusal(t, rep.log.String(), rep.cmd.ProcessState.ExitCode())
	})

	t.Run("at once", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(freePort(t)), "PATH=" + os.Getenv("PATH")}
		for k, v := range machineEnv(t, dsn, downSecret) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, _ := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("mcpguard did not exit within 20s with its store refusing its password:\n%s", out)
		}
		wantRefusal(t, string(out), cmd.ProcessState.ExitCode())
		if strings.Contains(string(out), "mcpguard listening") {
			t.Errorf("mcpguard listened before it stopped:\n%s", out)
		}
	})
}
