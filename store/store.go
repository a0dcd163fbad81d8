// Package store keeps the authorization server's state: clients, authorization codes, refresh tokens, consents and signing keys.
//
// Every backend implements [Store] and passes the behavioural suite in the storetest
// sub-package. [Open] picks the backend from a DSN:
//
//	memory://                             in-process maps, for tests and single-shot runs
//	bolt:///var/lib/mcpguard/mcpguard.db  an embedded bbolt file (the default)
//	redis://[user:pass@]host:port/db      Redis, shared by several replicas (also rediss://,
//	                                      redis+sentinel://, redis+cluster://)
//	postgres://user:pass@host:port/db     PostgreSQL, shared by several replicas
//
// Codes and tokens are stored only as hashes (hex SHA-256); the hash is the key. No
// error returned by this package contains a code, token, secret or hash.
package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Errors returned by every [Store]; callers branch with errors.Is.
var (
	// ErrNotFound reports that no live record has the given key. An expired client is not found.
	ErrNotFound = errors.New("store: not found")
	// ErrExists reports that a record with the same key already exists.
	ErrExists = errors.New("store: already exists")
	// ErrCodeUsed is returned by UseAuthCode for a code that was already exchanged. The
	// returned AuthCode still carries FamilyID so the caller can revoke what the first
	// exchange issued (RFC 6749 §4.1.2).
	ErrCodeUsed = errors.New("store: authorization code already used")
	// ErrTokenReused is returned by RotateRefreshToken for a token rotated longer than the
	// grace window ago. The store has already revoked the token's family; the returned old
	// token carries FamilyID (OAuth 2.1 §4.3.1, refresh token rotation).
	ErrTokenReused = errors.New("store: refresh token reused after its grace window")
	// ErrRevoked reports a refresh token that was revoked, alone or with its family.
	ErrRevoked = errors.New("store: revoked")
	// ErrExpired reports a code or refresh token presented at or after its ExpiresAt.
	ErrExpired = errors.New("store: expired")
)

// Errors for calls no backend can serve; not meant for errors.Is.
var (
	errClosed   = errors.New("store: closed")
	errNoKeyID  = errors.New("store: signing key has no id")
	errNoJTI    = errors.New("store: access token has no jti")
	errNoFamily = errors.New("store: empty family id")
)

// familyRetention is how long GC keeps the record of a revoked family once none of the
// family's refresh tokens is left, so FamilyRevoked still answers true for the access
// tokens that family issued until they have surely expired.
const familyRetention = 24 * time.Hour

// Client is a registered OAuth client: pre-registered (static), dynamically registered
// (RFC 7591) or described by a Client ID Metadata Document. The JSON names are RFC 7591's.
type Client struct {
	ID                      string    `json:"client_id"`
	SecretHash              string    `json:"secret_hash,omitempty"` // hex SHA-256 of the client secret (secrets are 32 random bytes), "" for public clients
	Name                    string    `json:"client_name,omitempty"`
	RedirectURIs            []string  `json:"redirect_uris"`
	GrantTypes              []string  `json:"grant_types,omitempty"`
	ResponseTypes           []string  `json:"response_types,omitempty"`
	ApplicationType         string    `json:"application_type,omitempty"`           // "web" or "native"
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method,omitempty"` // "none", "client_secret_basic", "client_secret_post"
	Scope                   string    `json:"scope,omitempty"`
	ClientURI               string    `json:"client_uri,omitempty"`
	LogoURI                 string    `json:"logo_uri,omitempty"`
	Kind                    string    `json:"kind"` // "static" (configured), "dcr", "cimd"
	CreatedAt               time.Time `json:"created_at,omitzero"`
	LastUsedAt              time.Time `json:"last_used_at,omitzero"`
	ExpiresAt               time.Time `json:"expires_at,omitzero"` // zero: never; DCR clients expire when unused (LastUsedAt + TTL)
}

// Identity is who logged in upstream.
type Identity struct {
	Subject, Email, Name string
	EmailVerified        bool
	Groups               []string
}

// AuthCode is an issued authorization code, keyed by its hash (the code itself is never stored).
type AuthCode struct {
	CodeHash      string // hex SHA-256 of the code
	ClientID      string
	RedirectURI   string
	CodeChallenge string // S256 challenge (RFC 7636 §4.2)
	Resource      string // RFC 8707 resource indicator
	Scopes        []string
	Identity      Identity
	FamilyID      string // the token family the code's exchange creates; required at creation
	ExpiresAt     time.Time
	UsedAt        time.Time // zero until used
}

// RefreshToken is an issued refresh token, keyed by its hash. The tokens a single
// authorization code grant leads to share a FamilyID.
type RefreshToken struct {
	TokenHash string // hex SHA-256 of the token
	FamilyID  string
	ClientID  string
	Resource  string
	Scopes    []string
	Identity  Identity
	IssuedAt  time.Time
	ExpiresAt time.Time
	RotatedAt time.Time // zero while current; set when replaced
	RevokedAt time.Time
}

// Consent records that Subject let ClientID have Scopes on Resource.
type Consent struct {
	Subject, ClientID string
	Scopes            []string
	Resource          string
	GrantedAt         time.Time
}

// SigningKey is a private key the authorization server signs its access tokens with.
type SigningKey struct {
	ID         string // kid
	Algorithm  string // "ES256"
	PrivateKey []byte // PKCS#8 DER
	CreatedAt  time.Time
	// NotBefore is when the key starts signing; until then it is only published, so
	// that verifiers caching the JWK set know it before they meet a token it signed.
	// Zero (keys stored before rotation existed) signs from CreatedAt.
	NotBefore time.Time `json:",omitzero"`
}

// Store is the authorization server's state. Every method is safe for concurrent use, and
// every multi-step method (UseAuthCode, RotateRefreshToken, RevokeFamily) is atomic.
// Values passed in and returned are copies: changing a returned slice does not change the store.
type Store interface {
	AssertionStore // single-use assertion IDs, store/assertions.go
	SessionStore
	SubjectStore  // revocations of a whole subject, store/subjects.go
	GrantStore    // listings for /account and the admin API, store/grants.go
	TokenChecker  // an access token's revocation in one question, store/tokencheck.go
	RotationStore // leases and key removal, store/rotation.go
	RateStore     // per-minute limits shared by replicas, store/rates.go
	// CreateClient stores c; ErrExists if a live client has c.ID.
	CreateClient(ctx context.Context, c Client) error
	// GetClient returns the client with id; ErrNotFound if there is none or it expired
	// (the store's Now is at or past ExpiresAt).
	GetClient(ctx context.Context, id string) (Client, error)
	// TouchClient sets LastUsedAt to now and, when ttl > 0, ExpiresAt to now+ttl.
	// ErrNotFound if there is no such client or it expired before now.
	TouchClient(ctx context.Context, id string, now time.Time, ttl time.Duration) error
	// DeleteClient removes the client with id; ErrNotFound if there is none.
	DeleteClient(ctx context.Context, id string) error
	// CountClients returns how many live (unexpired) clients there are.
	CountClients(ctx context.Context) (int, error)

	// CreateAuthCode stores c; c needs CodeHash, FamilyID and ExpiresAt. ErrExists on a duplicate hash.
	CreateAuthCode(ctx context.Context, c AuthCode) error
	// UseAuthCode atomically marks the code used at now and returns it. ErrNotFound,
	// ErrExpired, or ErrCodeUsed together with the code (and its FamilyID).
	UseAuthCode(ctx context.Context, codeHash string, now time.Time) (AuthCode, error)

	// CreateRefreshToken stores t; t needs TokenHash, FamilyID and ExpiresAt. ErrExists on
	// a duplicate hash, ErrRevoked if t's family was revoked.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken atomically replaces old by next and returns the old token. Old must
	// exist (ErrNotFound), not be revoked (ErrRevoked) nor expired (ErrExpired). If old was
	// already rotated less than grace ago it is still accepted (concurrent refreshes) and
	// next is stored too; rotated grace or more ago, the whole family is revoked and the
	// error is ErrTokenReused. next inherits old's FamilyID when it has none.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time, grace time.Duration) (RefreshToken, error)
	// GetRefreshToken returns the token with hash, revoked, rotated or expired alike; ErrNotFound if there is none.
	GetRefreshToken(ctx context.Context, hash string) (RefreshToken, error)
	// RevokeFamily revokes every refresh token of familyID at now and records the family as revoked.
	RevokeFamily(ctx context.Context, familyID string, now time.Time) error
	// FamilyRevoked reports whether familyID was revoked.
	FamilyRevoked(ctx context.Context, familyID string) (bool, error)

	// RevokeAccessToken puts jti on the denylist until expiresAt (RFC 7009).
	RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error
	// AccessTokenRevoked reports whether jti is on the denylist.
	AccessTokenRevoked(ctx context.Context, jti string) (bool, error)

	// PutConsent stores c, replacing any consent of the same subject and client.
	PutConsent(ctx context.Context, c Consent) error
	// GetConsent returns the consent subject gave clientID; ErrNotFound if none.
	GetConsent(ctx context.Context, subject, clientID string) (Consent, error)

	// SigningKeys returns every signing key, oldest CreatedAt first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores k; ErrExists if a key has k.ID.
	AddSigningKey(ctx context.Context, k SigningKey) error

	// GC deletes what expired at or before now: codes, refresh tokens, denylist entries,
	// clients, and records of revoked families with no token left that were revoked more
	// than a day ago. It returns how many records it deleted.
	GC(ctx context.Context, now time.Time) (int, error)
	// Ping reports whether the store is usable.
	Ping(ctx context.Context) error
	// Close releases the store; later calls fail.
	Close() error
}

// Config selects and configures a backend.
type Config struct {
	// DSN is "memory://", "bolt:///absolute/path.db", a Redis URL (redis://, rediss://,
	// redis+sentinel://, rediss+sentinel://, redis+cluster://, rediss+cluster://) or a
	// PostgreSQL URL (postgres://, postgresql://).
	DSN string
	// Now is the clock GetClient, CountClients and AccessTokenRevoked check expiry against;
	// nil means time.Now.
	Now func() time.Time
	// StartLater makes New of a Redis or PostgreSQL store do no I/O: the first answer of
	// the server, the Redis schema check and the PostgreSQL migrations are left to
	// [Start], and every call of the store answers ErrUnavailable until Start succeeded.
	// A server mcpguard starts before is then no error at start-up. Memory and bolt
	// stores start in New regardless.
	StartLater bool
}

// supportedDSNs is the list every DSN error shows.
const supportedDSNs = `supported: "memory://", "bolt:///absolute/path.db", "redis://host:port/db", "rediss://", "redis+sentinel://", "redis+cluster://", "postgres://user@host/db"`

// New opens the backend cfg.DSN names. A bolt file and its missing parent directories
// are created (directories 0700, file 0600); a file another process holds open is
// reported after two seconds with an error naming the path. A Redis or PostgreSQL server
// must answer within ten seconds, and PostgreSQL's schema migrations are applied first,
// unless cfg.StartLater leaves that to [Start].
func New(cfg Config) (Store, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	scheme, rest, ok := strings.Cut(cfg.DSN, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("store: DSN has no scheme (%s)", supportedDSNs)
	}
	switch strings.ToLower(scheme) {
	case "memory":
		if rest != "" {
			return nil, fmt.Errorf("store: memory DSN takes nothing after %q, got %q (%s)", "memory://", rest, supportedDSNs)
		}
		return newMemory(now), nil
	case "bolt":
		if !filepath.IsAbs(rest) {
			return nil, fmt.Errorf("store: bolt path %q is not absolute: write bolt:///absolute/path.db (%s)", rest, supportedDSNs)
		}
		return openBolt(filepath.Clean(rest), now)
	case "redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster":
		return openRedis(context.Background(), cfg.DSN, now, cfg.StartLater)
	case "postgres", "postgresql":
		return openPostgres(context.Background(), cfg.DSN, now, cfg.StartLater)
	default:
		// Only the scheme is echoed: the rest of a DSN may hold a password.
		return nil, fmt.Errorf("store: unsupported scheme %q (%s)", scheme, supportedDSNs)
	}
}

// Open is New with the real clock: Open(dsn) = New(Config{DSN: dsn}).
func Open(dsn string) (Store, error) {
	return New(Config{DSN: dsn})
}

// expired reports whether a deadline is at or before now; a zero deadline never expires.
func expired(deadline, now time.Time) bool {
	return !deadline.IsZero() && !now.Before(deadline)
}

// touched is c used at now, with its expiry pushed to now+ttl when ttl > 0.
func touched(c Client, now time.Time, ttl time.Duration) Client {
	c.LastUsedAt = now
	if ttl > 0 {
		c.ExpiresAt = now.Add(ttl)
	}
	return c
}
