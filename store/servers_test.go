package store_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The database servers of the Redis and PostgreSQL tests: the real Debian packages,
// started once per test binary on free loopback ports in temporary directories, and
// stopped by TestMain.
var (
	serversMu sync.Mutex
	servers   = map[string]*server{} // by name: "redis", "postgres"
)

// server is one running database server.
type server struct {
	addr string // host:port
	dir  string // its temporary directory, removed when it stops
	cmd  *exec.Cmd
	out  *bytes.Buffer
	err  error  // why it could not start
	pid  string // a file holding the real server's process id, when cmd is a wrapper (runuser)
}

func TestMain(m *testing.M) {
	code := m.Run()
	serversMu.Lock()
	for _, s := range servers {
		s.stop()
	}
	serversMu.Unlock()
	os.Exit(code)
}

// startServer returns the running server name, starting it with start on first use.
// A server that could not start fails every test that needs it, with start's reason.
func startServer(t testing.TB, name string, start func(s *server) error) string {
	t.Helper()
	serversMu.Lock()
	defer serversMu.Unlock()
	s, ok := servers[name]
	if !ok {
		s = &server{out: &bytes.Buffer{}}
		servers[name] = s
		if s.err = start(s); s.err != nil {
			s.stop()
		}
	}
	if s.err != nil {
		t.Fatalf("%s: %v", name, s.err)
	}
	return s.addr
}

// init readies s for a start, keeping its address.
func (s *server) init() *server {
	s.cmd, s.dir, s.pid, s.err, s.out = nil, "", "", nil, &bytes.Buffer{}
	return s
}

// stop ends the server and removes its directory.
func (s *server) stop() {
	if raw, err := os.ReadFile(s.pid); s.pid != "" && err == nil {
		// PostgreSQL's fast shutdown, to the postmaster itself: the wrapper would send SIGTERM.
		if pid, err := strconv.Atoi(string(bytes.Fields(raw)[0])); err == nil {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Signal(os.Interrupt)
			}
		}
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// run starts argv in the background, its output kept for error messages.
func (s *server) run(argv ...string) error {
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	return s.cmd.Start()
}

// waitDial waits until s.addr accepts TCP connections.
func (s *server) waitDial(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not listening on %s after %v; its output:\n%s", s.addr, timeout, s.out)
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// findServerBinary returns the path of a server binary from the first of patterns
// (globs) that matches, or an error with the install command.
func findServerBinary(name, install string, patterns ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, pattern := range patterns {
		matches, _ := filepath.Glob(pattern)
		slices.Sort(matches)
		if len(matches) > 0 {
			return matches[len(matches)-1], nil // the newest version
		}
	}
	return "", fmt.Errorf("%s is not installed; the store tests run the real server (on %s/%s: %s)", name, runtime.GOOS, runtime.GOARCH, install)
}

// redisAddr starts redis-server on first use and returns its address.
func redisAddr(t testing.TB) string {
	return startServer(t, "redis", func(s *server) error { return startRedis(s) })
}

// redisClusterAddr starts a one-node Redis Cluster (every slot on the one node) on first
// use and returns its address.
func redisClusterAddr(t testing.TB) string {
	return startServer(t, "redis-cluster", func(s *server) error {
		if err := startRedis(s, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"); err != nil {
			return err
		}
		c := redis.NewClient(&redis.Options{Addr: s.addr})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := c.ClusterAddSlotsRange(ctx, 0, 16383).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE: %w", err)
		}
		for ctx.Err() == nil {
			if info, _ := c.ClusterInfo(ctx).Result(); strings.Contains(info, "cluster_state:ok") {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("the one-node cluster did not reach cluster_state:ok; its output:\n%s", s.out)
	})
}

// redisSentinelAddr starts a Sentinel watching the test Redis as master "mcpguard" on
// first use and returns the Sentinel's address.
func redisSentinelAddr(t testing.TB) string {
	master := redisAddr(t)
	return startServer(t, "redis-sentinel", func(s *server) error {
		var err error
		if s.dir, err = os.MkdirTemp("", "mcpguard-sentinel-"); err != nil {
			return err
		}
		if s.addr, err = freeAddr(); err != nil {
			return err
		}
		host, port, _ := net.SplitHostPort(master)
		_, own, _ := net.SplitHostPort(s.addr)
		conf := filepath.Join(s.dir, "sentinel.conf") // Sentinel rewrites its configuration file
		body := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor mcpguard %s %s 1\n", own, s.dir, host, port)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return err
		}
		bin, err := findServerBinary("redis-server", "apt-get install redis-server, or run scripts/install-test-deps.sh", "/usr/bin/redis-server")
		if err != nil {
			return err
		}
		if err := s.run(bin, conf, "--sentinel"); err != nil {
			return err
		}
		return s.waitDial(10 * time.Second)
	})
}

// startRedis starts redis-server with extra arguments in a new directory on a free port.
func startRedis(s *server, extra ...string) error {
	{
		bin, err := findServerBinary("redis-server", "apt-get install redis-server, or run scripts/install-test-deps.sh", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
		if err != nil {
			return err
		}
		if s.dir, err = os.MkdirTemp("", "mcpguard-redis-"); err != nil {
			return err
		}
		if s.addr == "" {
			if s.addr, err = freeAddr(); err != nil {
				return err
			}
		}
		_, port, _ := net.SplitHostPort(s.addr)
		argv := append([]string{bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir}, extra...)
		if err := s.run(argv...); err != nil {
			return err
		}
		return s.waitDial(10 * time.Second)
	}
}

// postgresAddr starts PostgreSQL on first use and returns its address; the superuser
// "postgres" connects without a password.
func postgresAddr(t testing.TB) string {
	return startServer(t, "postgres", startPostgres)
}

// startPostgres initialises a new database cluster and starts PostgreSQL on it, on
// s.addr or else a free port. PostgreSQL refuses to run as root, so as root initdb and
// postgres run as the postgres user (which Debian's package creates).
func startPostgres(s *server) error {
	{
		const install = "apt-get install postgresql, or run scripts/install-test-deps.sh"
		initdb, err := findServerBinary("initdb", install, "/usr/lib/postgresql/*/bin/initdb")
		if err != nil {
			return err
		}
		postgres := filepath.Join(filepath.Dir(initdb), "postgres")
		var prefix []string
		if os.Geteuid() == 0 {
			// Under /tmp, not $TMPDIR: the postgres user must reach the directory.
			if s.dir, err = os.MkdirTemp("/tmp", "mcpguard-postgres-"); err != nil {
				return err
			}
			u, err := user.Lookup("postgres")
			if err != nil {
				return fmt.Errorf("running as root, and PostgreSQL refuses to: there is no postgres user to run it as (%v; %s)", err, install)
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(s.dir, uid, gid); err != nil {
				return err
			}
			prefix = []string{"runuser", "-u", "postgres", "--"}
		} else if s.dir, err = os.MkdirTemp("", "mcpguard-postgres-"); err != nil {
			return err
		}
		data := filepath.Join(s.dir, "data")
		s.pid = filepath.Join(data, "postmaster.pid")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		argv := append(slices.Clone(prefix), initdb, "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("initdb: %v:\n%s", err, out)
		}
		if s.addr == "" {
			if s.addr, err = freeAddr(); err != nil {
				return err
			}
		}
		_, port, _ := net.SplitHostPort(s.addr)
		argv = append(slices.Clone(prefix), postgres, "-D", data, "-k", s.dir, "-h", "127.0.0.1", "-p", port,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
		if err := s.run(argv...); err != nil {
			return err
		}
		if err := s.waitDial(30 * time.Second); err != nil {
			return err
		}
		return waitPostgresStarted(s.addr, 30*time.Second)
	}
}
