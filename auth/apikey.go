package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// defaultAPIKeyHeader is the header APIKeys reads when APIKeysConfig.Header is empty.
const defaultAPIKeyHeader = "X-API-Key"

const (
	// minKeyLen is the shortest single key NewAPIKeys accepts.
	minKeyLen = 16
	// maxKeyLen bounds a presented key, in bytes, before it is hashed.
	maxKeyLen = 4096
	// singleKeyName is the Subject and ClientID of the single key.
	singleKeyName = "api-key"
)

// Errors of APIKeys.Authenticate. They name the condition, never the value.
var (
	errKeyRepeated = invalid("api key header present more than once")
	errKeyEmpty    = invalid("empty api key")
	errKeyTooLong  = invalid(fmt.Sprintf("api key longer than %d bytes", maxKeyLen))
	errKeySyntax   = invalid("api key contains characters outside visible ASCII")
	errKeyUnknown  = invalid("unknown api key")
)

// APIKeysConfig configures APIKeys. At least one of Key and Keys must be set.
type APIKeysConfig struct {
	// Header is the request header that carries a key; default "X-API-Key". It is matched
	// in any letter case (net/http canonicalizes names); only letters, digits and '-' are
	// allowed, so underscore variants such as X_API_Key are never read.
	Header string
	// Key is the single key (MCP_PROXY_API_KEY / --api-key), at least 16 bytes of visible
	// ASCII. It authenticates as Principal{Subject: "api-key", ClientID: "api-key",
	// AllScopes: true, Source: "apikey"}.
	Key string
	// Keys are the keys of the keys file (see ParseKeysFile), each its own identity.
	Keys []KeyEntry
	// Now returns the current time, for key expiry; default time.Now.
	Now func() time.Time
}

// APIKeys authenticates API keys: the configured header (default X-API-Key, any letter
// case, because net/http canonicalizes; underscore variants like X_API_Key are never read)
// or "Authorization: Bearer <key>" when the bearer token does not look like a JWT. When
// both are present the configured header wins. Keys in the query string are never read.
//
// Only SHA-256 digests of the keys are kept. An APIKeys is safe for concurrent use.
type APIKeys struct {
	header    string
	single    [sha256.Size]byte
	hasSingle bool
	byDigest  map[[sha256.Size]byte]*fileKey
	now       func() time.Time
	// singleP is the single key's principal, prepared once.
	singleP Principal
}

// fileKey is one compiled KeyEntry.
type fileKey struct {
	digest  [sha256.Size]byte
	expires time.Time // zero: never
	p       Principal
}

// NewAPIKeys validates c and returns an authenticator for its keys. It fails when
// neither Key nor Keys is set, when Key is shorter than 16 bytes or not visible ASCII,
// when an entry of Keys is invalid (see ParseKeysFile), or when Header is not a plain
// header name.
func NewAPIKeys(c APIKeysConfig) (*APIKeys, error) {
	if c.Key == "" && len(c.Keys) == 0 {
		return nil, errors.New("auth: api keys: neither a key nor a keys list is configured")
	}
	header, err := headerName(c.Header, defaultAPIKeyHeader)
	if err != nil {
		return nil, fmt.Errorf("auth: api key header: %w", err)
	}
	if header == "Authorization" {
		return nil, errors.New("auth: api key header must not be Authorization (bearer keys are always read from it)")
	}
	k := &APIKeys{header: header, now: c.Now, byDigest: make(map[[sha256.Size]byte]*fileKey, len(c.Keys))}
	if k.now == nil {
		k.now = time.Now
	}
	if c.Key != "" {
		switch {
		case len(c.Key) < minKeyLen:
			return nil, fmt.Errorf("auth: api key shorter than %d bytes", minKeyLen)
		case len(c.Key) > maxKeyLen:
			return nil, fmt.Errorf("auth: api key longer than %d bytes", maxKeyLen)
		case !isVisibleASCII(c.Key):
			return nil, errors.New("auth: api key contains characters outside visible ASCII")
		}
		k.single, k.hasSingle = sha256.Sum256([]byte(c.Key)), true
		k.singleP = Principal{Subject: singleKeyName, ClientID: singleKeyName, AllScopes: true, Source: SourceAPIKey}
		k.singleP.Prepare()
	}
	if err := validateEntries(c.Keys); err != nil {
		return nil, err
	}
	for i, e := range c.Keys {
		fk := &fileKey{p: Principal{
			Subject:       e.Name,
			ClientID:      e.Name,
			Email:         e.Email,
			EmailVerified: e.Email != "",
			Groups:        slices.Clone(e.Groups),
			Scopes:        slices.Clone(e.Scopes),
			Source:        SourceAPIKey,
		}}
		fk.p.Prepare()
		if _, err := hex.Decode(fk.digest[:], []byte(e.SHA256)); err != nil {
			return nil, fmt.Errorf("auth: keys[%d] (%q): sha256: not hexadecimal", i, e.Name) // unreachable: validated above
		}
		if e.Expires != nil {
			fk.expires = *e.Expires
		}
		if k.hasSingle {
			if e.Name == singleKeyName {
				return nil, fmt.Errorf("auth: keys[%d]: name %q is reserved for the single key", i, e.Name)
			}
			if fk.digest == k.single {
				return nil, fmt.Errorf("auth: keys[%d] (%q): sha256: is the digest of the single key", i, e.Name)
			}
		}
		k.byDigest[fk.digest] = fk
	}
	return k, nil
}

// Authenticate implements the authenticator contract (see the package documentation)
// for API keys.
//
// The configured header, when present, must occur once and hold 1 to 4096 bytes of
// visible ASCII; otherwise, or when the key is unknown or expired, the error wraps
// ErrInvalidCredential. Without that header, an "Authorization: Bearer" token that does
// not look like a JWT is taken as a key; a JWT-shaped token, another scheme, or no
// Authorization header gives ErrNoCredentials.
func (k *APIKeys) Authenticate(r *Request) (Principal, error) {
	if r == nil {
		return Principal{}, ErrNoCredentials
	}
	var key string
	if vals := r.Header[k.header]; len(vals) > 0 {
		switch v := vals[0]; {
		case len(vals) > 1:
			return Principal{}, errKeyRepeated
		case v == "":
			return Principal{}, errKeyEmpty
		case len(v) > maxKeyLen:
			return Principal{}, errKeyTooLong
		case !isVisibleASCII(v):
			return Principal{}, errKeySyntax
		default:
			key = v
		}
	} else {
		tok, jwt, err := r.BearerJWT()
		if err != nil {
			return Principal{}, err
		}
		if jwt || strings.HasPrefix(tok, PrefixAccessToken) {
			return Principal{}, ErrNoCredentials // a token, not a key
		}
		if len(tok) > maxKeyLen {
			return Principal{}, errKeyTooLong
		}
		key = tok
	}
	return k.verify(key)
}

// verify looks key up by its SHA-256 digest.
//
// The single key is compared with subtle.ConstantTimeCompare. The keys file is a map
// from digest to entry: a map lookup is not constant-time, but what its timing could
// reveal is how far the digest of the presented key agrees with a stored digest (or
// which hash bucket it falls in, under a per-process random map seed). Turning that into
// a key means finding inputs whose SHA-256 has a chosen prefix, a preimage problem, and
// the stored digests are themselves no secret worth guessing: knowing one does not give
// the key. The matched entry is then confirmed with a constant-time comparison too.
func (k *APIKeys) verify(key string) (Principal, error) {
	// A read-only view of the key's bytes: Sum256 neither keeps nor changes them.
	d := sha256.Sum256(unsafe.Slice(unsafe.StringData(key), len(key)))
	if k.hasSingle && subtle.ConstantTimeCompare(d[:], k.single[:]) == 1 {
		return k.singleP, nil
	}
	fk, ok := k.byDigest[d]
	if !ok || subtle.ConstantTimeCompare(d[:], fk.digest[:]) != 1 {
		return Principal{}, errKeyUnknown
	}
	if !fk.expires.IsZero() && !k.now().Before(fk.expires) {
		return Principal{}, invalid(fmt.Sprintf("api key %q expired", fk.p.Subject))
	}
	// The slices are shared with fk: callers only read them (see the package documentation).
	return fk.p, nil
}

// HashKey returns the lower-case hex SHA-256 of key: the value of a keys-file entry's
// sha256 field (what `mcpguard hash-key` prints).
func HashKey(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

// GenerateKey returns a new random API key: "mcpg_" followed by 32 random bytes in
// unpadded base64url (48 characters in all). It never looks like a JWT.
func GenerateKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: generate key: %w", err)
	}
	return PrefixAPIKey + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
