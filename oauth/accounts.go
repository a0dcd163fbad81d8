package oauth

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
)

// maxPasswordLen bounds what the login form hashes; bcrypt reads 72 bytes anyway.
const maxPasswordLen = 1024

// accounts are the people who may sign in, and how they prove who they are: the local
// users with their passwords (Provider "local"), or whoever the upstream identity
// provider vouches for ("google", "oidc"); either way within the login allowlists.
type accounts struct {
	allow     *policy.Allowlist    // AllowedEmails, AllowedDomains, AllowedGroups
	users     map[string]LocalUser // Provider "local", by case-folded email
	dummyHash []byte               // bcrypt hash checked for unknown users
	upstream  *upstream            // Provider "google" or "oidc"; nil for "local"
	throttle  *loginThrottle       // Provider "local": failed logins and bcrypt slots
}

// newAccounts validates the login configuration of c. An upstream provider starts its
// discovery in the background, until ctx is done.
func newAccounts(ctx context.Context, c Config, iss issuer, now func() time.Time) (*accounts, error) {
	allow, err := policy.NewAllowlist(c.AllowedEmails, c.AllowedDomains, c.AllowedGroups)
	if err != nil {
		return nil, fmt.Errorf("oauth: login allowlists: %w", err)
	}
	a := &accounts{allow: allow}
	switch c.Provider {
	case "", "local":
		if err := a.initLocal(c.LocalUsers); err != nil {
			return nil, err
		}
		a.throttle = newLoginThrottle(func(r *http.Request) netip.Addr { return requestAddr(c.ClientAddr, r) })
		return a, nil
	case "google", "oidc":
		if a.upstream, err = newUpstream(ctx, c, iss, now); err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, fmt.Errorf("oauth: provider %q is not one of local, google, oidc", c.Provider)
}

// initLocal indexes the local users by case-folded email and prepares the hash that
// unknown emails are checked against, at the users' highest cost, so that an unknown
// email takes as long as a wrong password.
func (a *accounts) initLocal(users []LocalUser) error {
	a.users = make(map[string]LocalUser, len(users))
	cost := bcrypt.DefaultCost
	for i, u := range users {
		local, domain, err := policy.ParseEmail(u.Email)
		if err != nil {
			return fmt.Errorf("oauth: local user %d: %w", i+1, err)
		}
		key := strings.ToLower(local) + "@" + domain
		if _, dup := a.users[key]; dup {
			return fmt.Errorf("oauth: local user %q is listed twice", u.Email)
		}
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return fmt.Errorf("oauth: local user %q: password_hash is not a bcrypt hash", u.Email)
		}
		if i == 0 || c > cost {
			cost = c
		}
		a.users[key] = u
	}
	pw := make([]byte, 32)
	rand.Read(pw)
	var err error
	if a.dummyHash, err = bcrypt.GenerateFromPassword(pw, cost); err != nil {
		return fmt.Errorf("oauth: dummy password hash: %w", err)
	}
	return nil
}

// checkPassword returns the local user with email and password. bcrypt always runs,
// against a dummy hash for an unknown email, so timing does not tell which emails exist.
func (a *accounts) checkPassword(email, password string) (LocalUser, bool) {
	hash := a.dummyHash
	u, found := a.users[strings.ToLower(email)]
	if found {
		hash = []byte(u.PasswordHash)
	}
	if len(password) > maxPasswordLen {
		password = password[:maxPasswordLen]
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	return u, found && err == nil
}

// admits reports whether id passes the login allowlists, by policy's rule: a verified,
// strictly parsed email that is listed or has a listed domain, or a listed group.
func (a *accounts) admits(id store.Identity) bool {
	return a.allow.Admits(&policy.Identity{
		Subject:       id.Subject,
		Email:         id.Email,
		EmailVerified: id.EmailVerified,
		Groups:        id.Groups,
	})
}

// stillAllowed reports whether the user of a refresh token may still sign in: the
// allowlists, and for local users their presence in the users file, are checked again.
func (a *accounts) stillAllowed(id store.Identity) bool {
	if !a.admits(id) {
		return false
	}
	if a.upstream == nil {
		_, ok := a.users[id.Subject]
		return ok
	}
	return true
}

// who names id on pages and in the log: its email, else its subject.
func who(id store.Identity) string {
	if id.Email != "" {
		return id.Email
	}
	return id.Subject
}
