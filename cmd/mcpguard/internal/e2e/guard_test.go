package e2e

// mcpguard itself in the end-to-end tests: the whole program through app.Run, on a random
// loopback port, exactly as main runs it; or its handler from app.NewHandler where a test
// only asks what it serves.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRun runs the whole program in-process on a random loopback port (unless environ
// sets LISTEN_ADDR) and returns its base URL once /healthz answers. It stops when the
// test ends, printing its log if the test failed; app.Run's error is reported, never
// t.Fatal'ed from the goroutine.
func startRun(t testing.TB, environ map[string]string) (base string, stdout *syncBuffer, stderr *syncBuffer) {
	t.Helper()
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0"}
	for k, v := range environ {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := app.Run(ctx, []string{"mcpguard"}, func(k string) string { return env[k] }, strings.NewReader(""), pw, stderr)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("app.Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("app.Run did not stop within 10s of cancellation")
		}
		if t.Failed() {
			t.Logf("mcpguard log:\n%s", stderr)
		}
	})
	lines := bufio.NewScanner(pr)
	addrRE := regexp.MustCompile(`^mcpguard listening on (http://\S+)$`)
	for lines.Scan() {
		stdout.Write([]byte(lines.Text() + "\n"))
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("app.Run printed no listening address; stderr:\n%s", stderr)
	}
	go func() {
		for lines.Scan() {
			stdout.Write([]byte(lines.Text() + "\n"))
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, stdout, stderr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/healthz never answered 200", base)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testServer is mcpguard's handler for environ, built by app.NewHandler as serve builds
// it, with the log captured.
func testServer(t testing.TB, environ map[string]string) (http.Handler, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	h, err := app.NewHandler(t.Context(), app.Options{Getenv: func(k string) string { return environ[k] }, Log: logs})
	if err != nil {
		t.Fatalf("app.NewHandler: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h, logs
}

// writeFile writes content to a file name in a fresh directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
