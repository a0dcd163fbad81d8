// Command mcp-server is an example MCP server (official Go SDK, Streamable HTTP at /mcp)
// to put behind mcpguard: its whoami tool returns the identity headers the proxy set, and
// its echo tool returns its argument.
//
//	mcp-server -listen 127.0.0.1:8080 -allowed-hosts mcp.example.com
//
// Environment: LISTEN_ADDR and ALLOWED_HOSTS (comma-separated); flags win. With
// ASSERTION_ISSUER (mcpguard's issuer) and ASSERTION_AUDIENCE (this server's resource
// URL), every MCP request must carry mcpguard's signed identity assertion
// (identity_assertion in mcpguard's policy file), verified against the issuer's /jwks;
// ASSERTION_HEADER names its header when it is not X-Mcpguard-Assertion.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mcpguard/mcpguard/examples/mcp-server/whoami"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-server:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	listen := getenv("LISTEN_ADDR")
	if listen == "" {
		listen = "127.0.0.1:8080"
	}
	fs := flag.NewFlagSet("mcp-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&listen, "listen", listen, "address to listen on, host:port (LISTEN_ADDR)")
	hosts := fs.String("allowed-hosts", getenv("ALLOWED_HOSTS"), "comma-separated Host names to answer, e.g. the MCP server's public name when a proxy on the same machine fronts it (ALLOWED_HOSTS)")
	issuer := fs.String("assertion-issuer", getenv("ASSERTION_ISSUER"), "require mcpguard's identity assertion, signed by this issuer (ASSERTION_ISSUER)")
	audience := fs.String("assertion-audience", getenv("ASSERTION_AUDIENCE"), "this server's resource URL, the assertion's aud (ASSERTION_AUDIENCE)")
	header := fs.String("assertion-header", getenv("ASSERTION_HEADER"), "the header of the assertion (ASSERTION_HEADER; default X-Mcpguard-Assertion)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var allowed []string
	for h := range strings.FieldsFuncSeq(*hosts, func(r rune) bool { return r == ',' || r == ' ' }) {
		allowed = append(allowed, h)
	}

	o := whoami.Options{AllowedHosts: allowed}
	if *issuer != "" || *audience != "" {
		v, err := whoami.NewAssertionVerifier(ctx, whoami.AssertionOptions{Issuer: *issuer, Audience: *audience, Header: *header})
		if err != nil {
			return err
		}
		o.Assertions = v
	}

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           whoami.Handler(o),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(stdout, "mcp-server listening on http://%s%s\n", ln.Addr(), whoami.Path)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
