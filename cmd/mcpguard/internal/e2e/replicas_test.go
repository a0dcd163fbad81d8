package e2e

// Three mcpguard replicas behind the real nginx, sharing one store: the MCP SDK client's
// whole flow with its steps on different replicas, a revocation on one refused by the
// others within a second, a person offboarded on one refused by all within a second, a
// replica killed mid-flow, the store stopped and started again.
// The replicas are processes of the built binary, so that kill -9 is real and nothing is
// shared between them but the store.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"
)

// replica is one mcpguard process.
type replica struct {
	addr   string
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan struct{}
}

// buildGuard builds the mcpguard binary once into a temporary directory.
func buildGuard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mcpguard")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(repoRoot(t), "cmd", "mcpguard")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build mcpguard: %v\n%s", err, out)
	}
	return bin
}

// startReplica runs bin with env on a free loopback port and waits for /healthz. It is
// stopped (SIGTERM) when the test ends, and its log printed if the test failed.
func startReplica(t *testing.T, bin string, env map[string]string) *replica {
	t.Helper()
	r := &replica{addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), log: &syncBuffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(bin)
	r.cmd.Env = []string{"LISTEN_ADDR=" + r.addr, "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		r.cmd.Env = append(r.cmd.Env, k+"="+v)
	}
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start mcpguard: %v", err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("mcpguard %s log:\n%s", r.addr, r.log)
		}
	})
	if err := waitHTTP(r.addr, "127.0.0.1", "/healthz", r.exited); err != nil {
		t.Fatalf("mcpguard %s: %v\n%s", r.addr, err, r.log)
	}
	return r
}

// served counts the authorization server's requests in the replica's access log.
func (r *replica) served() int { return strings.Count(r.log.String(), `"message":"request"`) }

// status is the status of a GET of path on the replica, 0 when it does not answer.
func (r *replica) status(path string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + r.addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// authStatus is the replica's /auth decision for a POST /mcp with token.
func (r *replica) authStatus(t *testing.T, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+r.addr+"/auth", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", mcpHost)
	req.Header.Set("X-Forwarded-Uri", "/mcp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus polls get until it returns want or within fails.
func waitStatus(t *testing.T, what string, want int, within time.Duration, get func() int) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := get()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d after %v, want %d", what, got, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testRedis is a redis-server on a fixed loopback port and data directory, which the
// test stops and starts again.
type testRedis struct {
	port, dir string
	args      []string // more redis-server arguments (--requirepass)
	cmd       *exec.Cmd
	exited    chan struct{}
}

func startTestRedis(t *testing.T) *testRedis {
	t.Helper()
	r := &testRedis{port: strconv.Itoa(freePort(t)), dir: t.TempDir()}
	r.start(t)
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *testRedis) dsn() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *testRedis) start(t *testing.T) {
	t.Helper()
	bin := findBinary(t, "redis-server", "apt-get install -y redis-server")
	r.cmd = exec.Command(bin, append([]string{"--port", r.port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--save", "", "--protected-mode", "yes"}, r.args...)...)
	out := &syncBuffer{}
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(r.cmd, r.exited)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+r.port, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not listen:\n%s", r.port, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *testRedis) stop(t *testing.T) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
	}
	r.cmd = nil
}

// TestReplicas runs three replicas of the built mcpguard behind nginx on one Redis, then
// on one PostgreSQL.
func TestReplicas(t *testing.T) {
	bin := buildGuard(t)
	t.Run("redis", func(t *testing.T) {
		store := startTestRedis(t)
		runReplicas(t, bin, adminEnv(t, oauthEnv(t, store.dsn())), store.stop, store.start)
	})
	t.Run("postgres", func(t *testing.T) {
		store := startTestPostgres(t)
		runReplicas(t, bin, adminEnv(t, oauthEnv(t, store.dsn())), store.stop, store.start)
	})
}

// startReplicaStack runs n replicas of bin with env behind nginx, the example MCP server
// behind them, and reads the authorization server metadata through nginx. It returns
// the stack, the replicas and the client registrations by name. The CIMD server's
// certificate is trusted only in this process: no CIMD client here. The upstream
// identity provider of env's OIDC_ISSUER, if any, is reached directly by the browser.
func startReplicaStack(t *testing.T, bin string, env map[string]string, n int) (*mcpStack, []*replica, map[string]clientRegistration) {
	t.Helper()
	var reps []*replica
	var addrs []string
	for range n {
		r := startReplica(t, bin, env)
		reps = append(reps, r)
		addrs = append(addrs, r.addr)
	}
	for _, r := range reps {
		waitStatus(t, r.addr+"/readyz", http.StatusOK, 10*time.Second, func() int { return r.status("/readyz") })
	}
	s := &mcpStack{up: startWhoami(t), cimd: startCIMD(t), replicas: true}
	proxy := startNginx(t, strings.Join(addrs, " "), &mcpUpstream{addr: s.up.addr})
	s.edge = &loadBalancer{proxy: proxy.addr, direct: map[string]bool{}}
	if u, err := url.Parse(env["OIDC_ISSUER"]); err == nil && u.Host != "" {
		s.edge.direct[u.Host] = true
	}
	var err error
	s.asm, err = auth.GetAuthServerMetadata(t.Context(), authIssuer, &http.Client{Transport: s.edge})
	if err != nil || s.asm == nil {
		t.Fatalf("authorization server metadata through nginx: %v, %v", s.asm, err)
	}
	regs := map[string]clientRegistration{}
	for _, reg := range clientRegistrations() {
		regs[reg.name] = reg
	}
	return s, reps, regs
}

// runReplicas is the suite on one shared store, which stop and start take down and
// bring back.
func runReplicas(t *testing.T, bin string, env map[string]string, stop, start func(*testing.T)) {
	s, reps, regs := startReplicaStack(t, bin, env, 3)

	t.Run("flow", func(t *testing.T) {
		// mcpguard writes its log in batches, at most logFlush apart.
		const logFlush = 200 * time.Millisecond
		time.Sleep(2 * logFlush)
		before := make([]int, len(reps))
		for i, r := range reps {
			before[i] = r.served()
		}
		runMCPFlow(t, s, localUser, regs["DCR"])
		time.Sleep(2 * logFlush)
		serving := 0
		for i, r := range reps {
			if r.served() > before[i] {
				serving++
			}
		}
		if serving < 2 {
			t.Errorf("%d replicas served the authorization server's requests, want at least 2", serving)
		}
	})

	t.Run("revocation", func(t *testing.T) {
		tok, cfg := sdkLogin(t, s, localUser, regs["preregistered"])
		for _, r := range reps {
			if got := r.authStatus(t, tok.AccessToken); got != http.StatusOK {
				t.Fatalf("%s /auth with the access token = %d, want 200", r.addr, got)
			}
		}
		form := url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"},
			"client_id": {cfg.ClientID}, "client_secret": {cfg.ClientSecret}}
		resp := reps[0].post(t, urlPath(t, s.asm.RevocationEndpoint), form)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /revoke on %s = %d, want 200", reps[0].addr, resp.StatusCode)
		}
		revoked := time.Now()
		for _, r := range reps {
			waitStatus(t, r.addr+" /auth with the revoked token", http.StatusUnauthorized, time.Second-time.Since(revoked),
				func() int { return r.authStatus(t, tok.AccessToken) })
		}
	})

	t.Run("offboard", func(t *testing.T) {
		// A local user's subject is their email: the email names that subject alone.
		subjects := offboardAcrossReplicas(t, s, reps, regs["preregistered"], localUser, localUser.email)
		if !slices.Equal(subjects, []string{localUser.email}) {
			t.Errorf("offboarding %s revoked the subjects %q, want the email alone", localUser.email, subjects)
		}
	})

	t.Run("kill", func(t *testing.T) {
		// nginx's proxy_next_upstream (default "error timeout") sends a request the killed
		// replica refused to the next server; a connection refused is never a sent request,
		// so POSTs are retried too.
		reps[1].cmd.Process.Signal(syscall.SIGKILL)
		<-reps[1].exited
		runMCPFlow(t, s, localUser, regs["DCR"])
	})

	t.Run("store", func(t *testing.T) {
		live := []*replica{reps[0], reps[2]}
		stop(t)
		for _, r := range live {
			waitStatus(t, r.addr+"/readyz with the store down", http.StatusServiceUnavailable, 10*time.Second, func() int { return r.status("/readyz") })
		}
		register := func(r *replica) func() int {
			return func() int {
				body := fmt.Sprintf(`{"redirect_uris":[%q],"client_name":"replicas","token_endpoint_auth_method":"none"}`, "http://127.0.0.1:8976/callback")
				req, err := http.NewRequest(http.MethodPost, "http://"+r.addr+urlPath(t, s.asm.RegistrationEndpoint), strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Host = authHost
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Forwarded-Proto", "https")
				resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
				if err != nil {
					return 0
				}
				resp.Body.Close()
				return resp.StatusCode
			}
		}
		for _, r := range live {
			if got := register(r)(); got != http.StatusServiceUnavailable {
				t.Errorf("%s POST /register with the store down = %d, want 503", r.addr, got)
			}
		}
		start(t)
		for _, r := range live {
			waitStatus(t, r.addr+"/readyz with the store back", http.StatusOK, 15*time.Second, func() int { return r.status("/readyz") })
			waitStatus(t, r.addr+" POST /register with the store back", http.StatusCreated, 5*time.Second, register(r))
		}
		runMCPFlow(t, s, localUser, regs["DCR"])
	})
}

// sdkLogin has the SDK client authorize with reg through the edge and returns its token
// and client configuration.
func sdkLogin(t *testing.T, s *mcpStack, person loginUser, reg clientRegistration) (*oauth2.Token, *oauth2.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	browser, err := newFormBrowser(s.edge, authIssuer, person.email, person.password)
	if err != nil {
		t.Fatal(err)
	}
	for host := range s.edge.direct {
		browser.allow("http://" + host) // the upstream identity provider's login page
	}
	tokens := &sdkTokens{}
	cfg := &auth.AuthorizationCodeHandlerConfig{
		RequestRefreshToken: true,
		Client:              &http.Client{Transport: s.edge, Timeout: 10 * time.Second},
		NewTokenSource:      tokens.newTokenSource,
	}
	reg.configure(cfg, s)
	cfg.AuthorizationCodeFetcher = func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
		return browser.authorize(ctx, args.URL, cfg.RedirectURL)
	}
	handler, err := auth.NewAuthorizationCodeHandler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	session, err := mcp.NewClient(&mcp.Implementation{Name: "mcpguard-replicas", Version: "1.0.0"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: mcpURL, HTTPClient: &http.Client{Transport: s.edge}, OAuthHandler: handler, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatalf("SDK client Connect(%s) = %v; browser pages: %s", mcpURL, err, browser.summary())
	}
	session.Close()
	tok, err := tokens.Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok, tokens.config()
}

// testPostgres is a PostgreSQL on a fixed loopback port and data directory, which the
// test stops and starts again. PostgreSQL refuses to run as root: as root, initdb and
// postgres run as the postgres user, in a directory under /tmp it can reach.
type testPostgres struct {
	bindir, dir, port string
	prefix            []string
	cmd               *exec.Cmd
	exited            chan struct{}
}

func startTestPostgres(t *testing.T) *testPostgres {
	t.Helper()
	p := initTestPostgres(t)
	p.start(t)
	t.Cleanup(func() { p.stop(t) })
	return p
}

// initTestPostgres makes the data directory of a PostgreSQL on a free port, and does
// not start it.
func initTestPostgres(t *testing.T) *testPostgres {
	t.Helper()
	const install = "apt-get install -y postgresql"
	initdbs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(initdbs) == 0 {
		t.Fatalf("PostgreSQL is not installed; the end-to-end tests run the real database (%s)", install)
	}
	p := &testPostgres{bindir: filepath.Dir(initdbs[len(initdbs)-1]), port: strconv.Itoa(freePort(t))}
	var err error
	if os.Geteuid() == 0 {
		if p.dir, err = os.MkdirTemp("/tmp", "mcpguard-e2e-postgres-"); err != nil {
			t.Fatal(err)
		}
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, and PostgreSQL refuses to: no postgres user to run it as (%v; %s)", err, install)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(p.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.prefix = []string{"runuser", "-u", "postgres", "--"}
	} else if p.dir, err = os.MkdirTemp("", "mcpguard-e2e-postgres-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(p.dir) })
	argv := append(slices.Clone(p.prefix), filepath.Join(p.bindir, "initdb"), "-D", filepath.Join(p.dir, "data"),
		"-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	return p
}

func (p *testPostgres) dsn() string {
	return "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
}

func (p *testPostgres) start(t *testing.T) {
	t.Helper()
	argv := append(slices.Clone(p.prefix), filepath.Join(p.bindir, "postgres"), "-D", filepath.Join(p.dir, "data"),
		"-k", p.dir, "-h", "127.0.0.1", "-p", p.port, "-c", "fsync=off", "-c", "synchronous_commit=off")
	p.cmd = exec.Command(argv[0], argv[1:]...)
	out := &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	p.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(p.cmd, p.exited)
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command(filepath.Join(p.bindir, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", p.port).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("postgres on %s is not ready:\n%s", p.port, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the server down fast (SIGINT to the postmaster, whose pid runuser hides).
func (p *testPostgres) stop(t *testing.T) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	if raw, err := os.ReadFile(filepath.Join(p.dir, "data", "postmaster.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.Fields(string(raw))[0]); err == nil {
			syscall.Kill(pid, syscall.SIGINT)
		}
	}
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}
