package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "ALLOWED_HOSTS": "mcp.example.com"}
	go func() {
		err := run(ctx, nil, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("run printed no address: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "mcp-server listening on ")
	if !ok || !strings.HasSuffix(url, "/mcp") {
		t.Fatalf("run printed %q, want %q", line, "mcp-server listening on http://<addr>/mcp")
	}
	resp, err := http.Get(strings.TrimSuffix(url, "/mcp") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRejectsArguments(t *testing.T) {
	if err := run(t.Context(), []string{"extra"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Error("run(extra) = nil, want an error")
	}
}
