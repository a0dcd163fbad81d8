// Command mcpguard guards MCP servers at the edge: the proxy in front of them asks its
// /auth endpoint about every request, and it answers 200 with identity headers, 401 with
// an RFC 9728 challenge, or 403.
//
// main only turns the operating system into parameters; the program is app.Run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "mcpguard: %v\n", err)
		os.Exit(1)
	}
}
