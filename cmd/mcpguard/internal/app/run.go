// Package app is the mcpguard program: its commands, its configuration (read once, from
// the environment and the flags), and the wiring of the policy, the credential kinds, the
// authorization server and the /auth decision into one HTTP surface.
package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/doctor"
	"golang.org/x/crypto/bcrypt"
)

// version is set at build time with
// -ldflags "-X github.com/mcpguard/mcpguard/cmd/mcpguard/internal/app.version=...".
var version = "dev"

const usage = `usage: mcpguard [command] [flags]

commands:
  serve          run the decision service (the default)
  check-config   validate the configuration and print it, secrets redacted
  doctor URL     check an MCP deployment from the outside, as an MCP client does
  hash-key       read an API key on stdin and print its SHA-256 for API_KEYS_FILE
  hash-password  read a password on stdin and print its bcrypt hash for LOCAL_USERS_FILE
  healthcheck    exit 0 when the local server answers /healthz (for container probes)
  store migrate --from DSN --to DSN
                 copy the authorization server's state from one STORE into another
  admin sessions|revoke ...
                 call the admin API at ADMIN_URL with ADMIN_TOKEN (mcpguard admin lists them)
  keys rotate [--now]
                 add a new signing key to STORE now instead of at SIGNING_KEY_ROTATION
  version        print the version
  help           print this text (also -h, --help)

Configuration comes from environment variables (see README.md); flags override them.
`

// Run is the whole program: args are os.Args, getenv is os.Getenv. Everything it needs
// from the OS is a parameter, so tests run it in-process; it returns when ctx is
// cancelled or on a fatal error.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd, rest := "serve", []string{}
	if len(args) > 1 {
		rest = args[1:]
		if !strings.HasPrefix(rest[0], "-") || isHelp(rest[0]) {
			cmd, rest = rest[0], rest[1:]
		}
	}
	if isHelp(cmd) || (cmd != "doctor" && cmd != "admin" && slices.ContainsFunc(rest, isHelp)) {
		// mcpguard --help, mcpguard serve -port 1 -h: before the configuration is read,
		// which may not parse. doctor has flags of its own.
		cmd = "help"
	}
	err := runCommand(ctx, cmd, rest, getenv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) { // a -h after other flags
		return printUsage(stdout)
	}
	return err
}

// runCommand runs one command with its arguments.
func runCommand(ctx context.Context, cmd string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr, timeouts{})
	case "check-config":
		return checkConfig(args, getenv, stdout, stderr)
	case "doctor":
		return doctor.Run(ctx, args, doctor.Options{Version: version}, stdout, stderr)
	case "hash-key":
		return hashKey(stdin, stdout)
	case "hash-password":
		return hashPassword(stdin, stdout)
	case "healthcheck":
		return healthcheck(ctx, args, getenv)
	case "admin":
		return adminCommand(ctx, args, getenv, stdout)
	case "store":
		return storeCommand(ctx, args, stdout, stderr)
	case "keys":
		return keysCommand(ctx, args, getenv, stdout, stderr)
	case "version":
		_, err := fmt.Fprintln(stdout, "mcpguard", version)
		return err
	case "help":
		return printUsage(stdout)
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// isHelp reports whether arg asks for the usage.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// printUsage writes the commands and the flags of serve, check-config and healthcheck,
// with their defaults.
func printUsage(w io.Writer) error {
	if _, err := io.WriteString(w, usage+"\nflags of serve, check-config and healthcheck (mcpguard doctor -h lists doctor's):\n"); err != nil {
		return err
	}
	c, _ := env.ParseAsWithOptions[config](env.Options{Environment: map[string]string{}})
	fs := newFlagSet(&c, w)
	fs.PrintDefaults()
	return nil
}

// hashKey prints the SHA-256 of the API key on stdin, for API_KEYS_FILE.
func hashKey(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(io.LimitReader(stdin, 4097)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("hash-key: %w", err)
	}
	key := strings.TrimRight(line, "\r\n")
	switch {
	case len(key) > 4096:
		return errors.New("hash-key: the key is longer than 4096 bytes")
	case len(key) < 16:
		return errors.New("hash-key: read no key of at least 16 characters on stdin")
	}
	_, err = fmt.Fprintln(stdout, auth.HashKey(key))
	return err
}

// healthcheck asks the local server's /healthz, for a container HEALTHCHECK without curl.
func healthcheck(ctx context.Context, args []string, getenv func(string) string) error {
	c, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	port := strconv.Itoa(c.Port)
	if c.ListenAddr != "" {
		if _, p, err := net.SplitHostPort(c.ListenAddr); err == nil {
			port = p
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %d", resp.StatusCode)
	}
	return nil
}

// hashPassword prints the bcrypt hash of the password on stdin, for LOCAL_USERS_FILE.
func hashPassword(stdin io.Reader, stdout io.Writer) error {
	buf, err := io.ReadAll(io.LimitReader(stdin, 1025))
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	pw := strings.TrimRight(string(buf), "\r\n")
	switch {
	case len(pw) > 72:
		return errors.New("hash-password: bcrypt uses at most 72 bytes of a password; choose a shorter one")
	case len(pw) < 8:
		return errors.New("hash-password: read no password of at least 8 characters on stdin")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 12)
	if err != nil {
		return fmt.Errorf("hash-password: %w", err)
	}
	_, err = fmt.Fprintln(stdout, string(h))
	return err
}
