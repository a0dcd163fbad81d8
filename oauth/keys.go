package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpguard/mcpguard/store"
)

// Access tokens are RFC 9068 JWTs signed with ES256 (RFC 7518 §3.4).
const (
	accessTokenAlg  = "ES256"
	accessTokenType = "at+jwt"
	// keyReloadCooldown bounds how often a token with an unknown kid (signed by another
	// replica's fresh key) makes this process reload the keys from the store.
	keyReloadCooldown = 30 * time.Second
)

// keyRing holds the signing keys loaded from the store. Tokens are signed with the
// newest key and verified with any; verification never calls the store, except for a
// reload, at most once per keyReloadCooldown, when a token names an unknown kid.
type keyRing struct {
	st  store.Store
	set atomic.Pointer[keySet]

	mu         sync.Mutex // serializes reloads
	lastReload time.Time
}

// keySet is one immutable generation of loaded keys.
type keySet struct {
	signing *signingKey
	byID    map[string]*signingKey
	jwks    []byte // the rendered JWK Set (RFC 7517 §5)
}

// signingKey is one parsed key.
type signingKey struct {
	id   string
	priv *ecdsa.PrivateKey
}

// initKeys loads the signing keys, generating and storing a first one when the store
// has none, so that a restart keeps verifying the tokens it issued.
func (s *Server) initKeys(ctx context.Context) error {
	s.keys = &keyRing{st: s.cfg.Store}
	if err := s.keys.load(ctx); err != nil {
		return err
	}
	if s.keys.set.Load() != nil {
		return nil
	}
	k, err := newSigningKey(s.now())
	if err != nil {
		return err
	}
	if err := s.cfg.Store.AddSigningKey(ctx, k); err != nil {
		return fmt.Errorf("oauth: store the first signing key: %w", err)
	}
	if err := s.keys.load(ctx); err != nil {
		return err
	}
	if s.keys.set.Load() == nil {
		return errors.New("oauth: the store kept no signing key")
	}
	return nil
}

// newSigningKey generates a P-256 key whose kid is its RFC 7638 JWK thumbprint.
func newSigningKey(now time.Time) (store.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("oauth: generate a signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("oauth: encode the signing key: %w", err)
	}
	tp, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("oauth: signing key thumbprint: %w", err)
	}
	return store.SigningKey{
		ID:         base64.RawURLEncoding.EncodeToString(tp),
		Algorithm:  accessTokenAlg,
		PrivateKey: der,
		CreatedAt:  now,
	}, nil
}

// load reads every key from the store and replaces the loaded set. A store without
// keys leaves the set empty.
func (kr *keyRing) load(ctx context.Context) error {
	stored, err := kr.st.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("oauth: load signing keys: %w", err)
	}
	if len(stored) == 0 {
		return nil
	}
	ks := &keySet{byID: make(map[string]*signingKey, len(stored))}
	var pub jose.JSONWebKeySet
	for _, sk := range stored {
		if sk.Algorithm != accessTokenAlg {
			return fmt.Errorf("oauth: signing key %q: algorithm %q is not %s", sk.ID, sk.Algorithm, accessTokenAlg)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(sk.PrivateKey)
		if err != nil {
			return fmt.Errorf("oauth: signing key %q: %w", sk.ID, err)
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			return fmt.Errorf("oauth: signing key %q is not a P-256 key", sk.ID)
		}
		k := &signingKey{id: sk.ID, priv: priv}
		ks.byID[k.id] = k
		ks.signing = k // keys come oldest first: the newest signs
		pub.Keys = append(pub.Keys, jose.JSONWebKey{Key: priv.Public(), KeyID: k.id, Algorithm: accessTokenAlg, Use: "sig"})
	}
	if ks.jwks, err = json.Marshal(pub); err != nil {
		return fmt.Errorf("oauth: render the JWK set: %w", err)
	}
	kr.set.Store(ks)
	return nil
}

// key returns the loaded key with kid. An unknown kid reloads the keys from the store,
// at most once per keyReloadCooldown: another replica may have added a key.
func (kr *keyRing) key(ctx context.Context, kid string, now time.Time) *signingKey {
	if k := kr.set.Load().byID[kid]; k != nil {
		return k
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if k := kr.set.Load().byID[kid]; k != nil {
		return k
	}
	if now.Sub(kr.lastReload) < keyReloadCooldown {
		return nil
	}
	kr.lastReload = now
	if kr.load(ctx) != nil {
		return nil
	}
	return kr.set.Load().byID[kid]
}

// handleJWKS serves the public keys (RFC 7517) at /jwks.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(s.keys.set.Load().jwks)
}

// accessClaims are the claims of an access token (RFC 9068 §2.2). fam names the refresh
// token family the token belongs to, so revoking the family revokes the token.
type accessClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      string   `json:"aud"`
	Scope         string   `json:"scope,omitempty"`
	ClientID      string   `json:"client_id"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
	JTI           string   `json:"jti"`
	IssuedAt      int64    `json:"iat"`
	Expiry        int64    `json:"exp"`
	Family        string   `json:"fam"`
}

// grant is what an access token is minted for.
type grant struct {
	clientID string
	resource string
	scopes   []string
	identity store.Identity
	family   string
}

// mintAccessToken signs an access token for g, valid AccessTokenTTL from now.
func (s *Server) mintAccessToken(g grant, now time.Time) (token string, exp time.Time, err error) {
	k := s.keys.set.Load().signing
	exp = now.Add(s.ttl.access)
	c := accessClaims{
		Issuer:   s.cfg.Issuer,
		Subject:  g.identity.Subject,
		Audience: g.resource,
		Scope:    strings.Join(g.scopes, " "),
		ClientID: g.clientID,
		Email:    g.identity.Email,
		Name:     g.identity.Name,
		Groups:   g.identity.Groups,
		JTI:      randomString(16),
		IssuedAt: now.Unix(),
		Expiry:   exp.Unix(),
		Family:   g.family,
	}
	if c.Email != "" {
		v := g.identity.EmailVerified
		c.EmailVerified = &v
	}
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{accessTokenAlg, k.id, accessTokenType})
	if err != nil {
		return "", time.Time{}, err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signed))
	r, sig, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth: sign an access token: %w", err)
	}
	// RFC 7518 §3.4: R and S as 32-byte big-endian integers, concatenated.
	var rs [64]byte
	r.FillBytes(rs[:32])
	sig.FillBytes(rs[32:])
	return signed + "." + enc.EncodeToString(rs[:]), exp, nil
}

// randomString returns n random bytes, base64url encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
