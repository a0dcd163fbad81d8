package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// Access tokens are RFC 9068 JWTs signed with ES256 (RFC 7518 §3.4).
const (
	accessTokenAlg  = "ES256"
	accessTokenType = "at+jwt"
)

// keyRing holds the signing keys loaded from the store. Tokens are signed with the
// newest key whose NotBefore has passed (rotation.go) and verified with any. It is the
// verifier's auth.KeySource: verification never calls the store, except for a reload
// (auth.OwnTokens bounds how often) when a token names an unknown kid.
type keyRing struct {
	st  store.Store
	set atomic.Pointer[keySet]
}

// keySet is one immutable generation of loaded keys.
type keySet struct {
	stored  []store.SigningKey // oldest first, as the store returns them
	signers []jose.Signer      // stored[i]'s: ES256, its kid, typ at+jwt
	public  jose.JSONWebKeySet // every key's public half, kid, alg and use
	jwks    []byte             // public, rendered (RFC 7517 §5)
}

// signingStart is when k starts signing: its NotBefore; a key stored without one
// (before keys rotated) signs at once, as it always did.
func signingStart(k store.SigningKey) time.Time { return k.NotBefore }

// signedFrom is the earliest k can have signed: the later of CreatedAt and NotBefore.
// A key older than k stops signing at signedFrom(k) at the latest.
func signedFrom(k store.SigningKey) time.Time {
	if k.NotBefore.After(k.CreatedAt) {
		return k.NotBefore
	}
	return k.CreatedAt
}

// current returns the index of the key that signs at now: of the keys whose NotBefore
// has passed, the one that started last (signedFrom; the newest in store order on a
// tie). A key still waiting to sign is only published. When none has started (keys
// added with a lead and the older ones removed by hand) the one starting first signs.
func (ks *keySet) current(now time.Time) int {
	cur, first := -1, 0
	for i, k := range ks.stored {
		if signingStart(k).After(now) {
			if signingStart(k).Before(signingStart(ks.stored[first])) {
				first = i
			}
			continue
		}
		if cur < 0 || !signedFrom(k).Before(signedFrom(ks.stored[cur])) {
			cur = i
		}
	}
	if cur < 0 {
		return first
	}
	return cur
}

// initKeys loads the signing keys into s.keys, generating and storing a first one when
// the store has none, so that a restart keeps verifying the tokens it issued.
func (s *Server) initKeys(ctx context.Context) error {
	if err := s.keys.load(ctx); err != nil {
		return err
	}
	if s.keys.set.Load() == nil {
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
	ks := &keySet{stored: stored}
	// The kid comes from the key; alg and typ head every token (RFC 9068 §2.1).
	opts := (&jose.SignerOptions{}).WithType(accessTokenType)
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
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: sk.ID}}, opts)
		if err != nil {
			return fmt.Errorf("oauth: signing key %q: %w", sk.ID, err)
		}
		ks.signers = append(ks.signers, signer)
		ks.public.Keys = append(ks.public.Keys, jose.JSONWebKey{Key: priv.Public(), KeyID: sk.ID, Algorithm: accessTokenAlg, Use: "sig"})
	}
	if ks.jwks, err = json.Marshal(ks.public); err != nil {
		return fmt.Errorf("oauth: render the JWK set: %w", err)
	}
	kr.set.Store(ks)
	return nil
}

// PublicKeys returns the public halves of the loaded keys (auth.KeySource).
func (kr *keyRing) PublicKeys() *jose.JSONWebKeySet {
	if ks := kr.set.Load(); ks != nil {
		return &ks.public
	}
	return nil
}

// ReloadPublicKeys reloads the keys from the store, where another replica may have
// added one, and returns the public halves (auth.KeySource).
func (kr *keyRing) ReloadPublicKeys(ctx context.Context) (*jose.JSONWebKeySet, error) {
	if err := kr.load(ctx); err != nil {
		return nil, err
	}
	return kr.PublicKeys(), nil
}

// handleJWKS serves the public keys (RFC 7517) at /jwks.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge.Seconds())))
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(s.keys.set.Load().jwks)
}

// grant is what an access token is minted for.
type grant struct {
	clientID string
	resource string
	scopes   []string
	identity store.Identity
	family   string
	machine  bool // client_credentials: the client for itself, Source "client" at /auth
}

// mintAccessToken signs an access token for g, valid AccessTokenTTL from now. Its
// claims are auth.OwnTokenClaims, which auth.OwnTokens verifies.
func (s *Server) mintAccessToken(g grant, now time.Time) (token string, exp time.Time, err error) {
	exp = now.Add(s.ttl.access)
	c := auth.OwnTokenClaims{
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
	if g.machine {
		c.Grant = grantTypeMachine
	}
	if c.Email != "" {
		v := g.identity.EmailVerified
		c.EmailVerified = &v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	ks := s.keys.set.Load()
	jws, err := ks.signers[ks.current(now)].Sign(payload)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("oauth: sign an access token: %w", err)
	}
	if token, err = jws.CompactSerialize(); err != nil {
		return "", time.Time{}, fmt.Errorf("oauth: serialize an access token: %w", err)
	}
	return auth.PrefixAccessToken + token, exp, nil
}

// randomString returns n random bytes, base64url encoded without padding.
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
