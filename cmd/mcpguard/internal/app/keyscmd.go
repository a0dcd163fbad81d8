package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
)

// keysUsage is the usage of `mcpguard keys`.
const keysUsage = `usage: mcpguard keys rotate [--now]

Adds a new signing key for the authorization server's access tokens to the configured
STORE, as the schedule (SIGNING_KEY_ROTATION) does. Every replica publishes it in /jwks
within a minute and signs with it 10 minutes after it was added, so that verifiers
holding a cached JWK set (cached up to 5 minutes) know it first. The old key stays in
/jwks until the last token it signed has expired (ACCESS_TOKEN_TTL and 90 s after the
new key starts signing).

  --now  sign with the new key at once (replicas switch within a minute). Verifiers
         holding a cached JWK set refuse the new tokens until they fetch it again:
         for an emergency, such as a leaked key, and then remove the old key too.

A bolt STORE is held by the running mcpguard (the file lock): stop it first, or let
its schedule rotate. Redis and PostgreSQL stores are shared, so run it while the
replicas serve.`

// keysCommand runs `mcpguard keys SUBCOMMAND`; rotate is the one there is.
func keysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New(keysUsage)
	}
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	now := fs.Bool("now", false, "sign with the new key at once (breaks verifiers holding a cached JWK set)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New(keysUsage)
	}
	c, err := loadConfig(nil, getenv)
	if err != nil {
		return err
	}
	if strings.HasPrefix(c.Store, "memory://") {
		return errors.New("keys rotate: STORE is memory://, which lives in the running process only: nothing to rotate here")
	}
	st, err := store.Open(c.Store)
	if err != nil {
		if strings.HasPrefix(c.Store, "bolt://") {
			return fmt.Errorf("keys rotate: %w (a running mcpguard holds a bolt STORE: stop it and run this again, or let SIGNING_KEY_ROTATION rotate)", err)
		}
		return fmt.Errorf("keys rotate: %w", err)
	}
	defer st.Close()
	t := time.Now()
	notBefore := t.Add(oauth.SigningKeyPublishLead)
	if *now {
		notBefore = t
	}
	kid, err := oauth.RotateSigningKey(ctx, st, t, notBefore)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "added signing key %s to %s: in /jwks within a minute, signing from %s\n",
		kid, redactDSN(c.Store), notBefore.UTC().Format(time.RFC3339))
	return err
}
