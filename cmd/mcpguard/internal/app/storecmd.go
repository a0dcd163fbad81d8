package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// storeUsage is the usage of `mcpguard store`.
const storeUsage = `usage: mcpguard store migrate --from DSN --to DSN

Copies every live record (clients, codes, refresh tokens, revoked families, revoked access
tokens, consents, signing keys) of one store into another, as they are, and prints how many
of each it copied. A record the target already has is left alone, so it may run again. Run
it while no mcpguard writes to the source.`

// storeCommand runs `mcpguard store SUBCOMMAND`; migrate is the one there is.
func storeCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "migrate" {
		return errors.New(storeUsage)
	}
	fs := flag.NewFlagSet("store migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the store to copy from (a STORE DSN)")
	to := fs.String("to", "", "the store to copy into (a STORE DSN)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case *from == "" || *to == "" || fs.NArg() > 0:
		return errors.New(storeUsage)
	case *from == *to:
		return fmt.Errorf("store migrate: --from and --to name the same store %q", redactDSN(*from))
	}
	src, err := store.Open(*from)
	if err != nil {
		return fmt.Errorf("store migrate: --from: %w", err)
	}
	defer src.Close()
	dst, err := store.Open(*to)
	if err != nil {
		return fmt.Errorf("store migrate: --to: %w", err)
	}
	defer dst.Close()
	n, err := store.Copy(ctx, src, dst, time.Now())
	if err != nil {
		return fmt.Errorf("store migrate: %w (copied so far: %v)", err, n)
	}
	_, err = fmt.Fprintf(stdout, "copied %s into %s: %v\n", redactDSN(*from), redactDSN(*to), n)
	return err
}
