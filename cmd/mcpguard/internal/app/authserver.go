package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/forwarded"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
	"github.com/mcpguard/mcpguard/store"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// googleIssuer is Google's OIDC issuer, the upstream of PROVIDER=google.
const googleIssuer = "https://accounts.google.com"

// usersFile is LOCAL_USERS_FILE.
type usersFile struct {
	Users []oauth.LocalUser `json:"users"`
}

// loadLocalUsers reads and checks LOCAL_USERS_FILE: every email parses strictly, is
// unique, and has a bcrypt hash.
func loadLocalUsers(path string) ([]oauth.LocalUser, error) {
	data, err := readBounded(path, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("config: LOCAL_USERS_FILE: %w", err)
	}
	var f usersFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("config: LOCAL_USERS_FILE %q: %w", path, err)
	}
	if len(f.Users) == 0 {
		return nil, fmt.Errorf("config: LOCAL_USERS_FILE %q: no users", path)
	}
	seen := map[string]bool{}
	for i, u := range f.Users {
		local, domain, err := policy.ParseEmail(u.Email)
		if err != nil {
			return nil, fmt.Errorf("config: LOCAL_USERS_FILE %q: users[%d]: email: %w", path, i, err)
		}
		key := strings.ToLower(local) + "@" + domain
		if seen[key] {
			return nil, fmt.Errorf("config: LOCAL_USERS_FILE %q: users[%d]: email %q appears twice", path, i, u.Email)
		}
		seen[key] = true
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			return nil, fmt.Errorf("config: LOCAL_USERS_FILE %q: users[%d] (%s): password_hash is not a bcrypt hash (make one with mcpguard hash-password)", path, i, u.Email)
		}
	}
	return f.Users, nil
}

// newAuthServer builds mcpguard's own authorization server when PROVIDER is set. It
// issues tokens for every configured resource.
func newAuthServer(ctx context.Context, c config, st store.Store, pol *policy.Policy, clients []oauth.StaticClient, idps []oauth.EnterpriseIdP, workloads []oauth.WorkloadIssuer, m *metrics, log zerolog.Logger) (*oauth.Server, error) {
	var resources []string
	for _, r := range pol.Resources() {
		resources = append(resources, r.URL())
	}
	secret := []byte(c.SessionSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, secret); err != nil {
			return nil, err
		}
		log.Warn().Msg("SESSION_SECRET is not set: browser sessions use a random key and end when mcpguard restarts")
	}
	oc := oauth.Config{
		Issuer:                     c.issuer,
		Store:                      st,
		Resources:                  resources,
		AllowedScopes:              splitList(c.AllowedScopes),
		Clients:                    clients,
		EnterpriseIdPs:             idps,
		WorkloadIssuers:            workloads,
		ClientAddr:                 func(r *http.Request) netip.Addr { return requestClient(r, c.trustedProxies) },
		CIMDAllowedDomains:         splitList(c.CIMDAllowedDomains),
		DisableDynamicRegistration: !c.DynamicRegistration,
		InsecureCIMDAllowPrivate:   c.InsecureCIMDAllowPrivate,
		Provider:                   c.Provider,
		UpstreamClientID:           c.ClientID,
		UpstreamClientSecret:       c.ClientSecret,
		GoogleHostedDomain:         c.GoogleHD,
		AllowedEmails:              splitList(c.AllowedEmails),
		AllowedDomains:             splitList(c.AllowedDomains),
		AllowedGroups:              splitList(c.AllowedGroups),
		SessionSecret:              secret,
		AccessTokenTTL:             c.AccessTokenTTL,
		RefreshTokenTTL:            c.RefreshTokenTTL,
		SigningKeyRotation:         c.SigningKeyRotation,
		SessionTTL:                 c.SessionTTL,
		SessionIdle:                c.SessionIdle,
		OnGrant:                    func(grant, result string) { m.grants.WithLabelValues(grant, result).Inc() },
		OnRegistration:             func(kind, result string) { m.registrations.WithLabelValues(kind, result).Inc() },
		OnLogin:                    func(result string) { m.logins.WithLabelValues(result).Inc() },
	}
	switch c.Provider {
	case "local":
		users, err := loadLocalUsers(c.LocalUsersFile)
		if err != nil {
			return nil, err
		}
		oc.LocalUsers = users
	case "google":
		oc.UpstreamIssuer = googleIssuer
	case "oidc":
		oc.UpstreamIssuer = c.OIDCIssuer
		if c.UpstreamScopes != "" {
			oc.UpstreamScopes = splitList(c.UpstreamScopes)
		} else if policyUsesGroups(pol, c) {
			// Resources judge groups, so ask the provider to put them in its ID token.
			oc.UpstreamScopes = []string{"openid", "email", "profile", "groups"}
		}
	}
	if c.InsecureCIMDAllowPrivate {
		log.Warn().Msg("INSECURE_CIMD_ALLOW_PRIVATE=true: client metadata documents may be fetched from private addresses; never set this in production")
	}
	as, err := oauth.New(log.WithContext(ctx), oc) // its background work (key rotation) logs to log
	if err != nil {
		return nil, fmt.Errorf("config: the authorization server: %w", err)
	}
	return as, nil
}

// policyUsesGroups reports whether any allowlist, of a resource or of a rule, names groups.
func policyUsesGroups(pol *policy.Policy, c config) bool {
	if c.AllowedGroups != "" {
		return true
	}
	for _, r := range pol.Resources() {
		rc := r.Config()
		if len(rc.AllowedGroups) > 0 {
			return true
		}
		for _, ru := range rc.Rules {
			if len(ru.AllowedGroups) > 0 {
				return true
			}
		}
	}
	return false
}

// requestClient is the address a request came from: the last X-Forwarded-For hop when
// the peer is a trusted proxy, else the peer.
func requestClient(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	if forwarded.PeerTrusted(r.RemoteAddr, trusted) {
		if a := forwarded.ClientAddr(r.Header); a.IsValid() {
			return a
		}
	}
	return ap.Addr().Unmap()
}
