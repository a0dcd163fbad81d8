package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// parseRegistration parses an RFC 7591 §3.1 registration request body into the client
// it registers, without ID or secret.
func parseRegistration(body []byte, scopes scopeSet) (store.Client, error) {
	fields, err := parseMetadataObject(body)
	if err != nil {
		return store.Client{}, err
	}
	return clientFromMetadata(fields, kindDCR, scopes)
}

// registrationResponse is the RFC 7591 §3.2.1 answer: the registered metadata, the
// client_id and, for a confidential client, its secret (shown once, never stored).
type registrationResponse struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	ApplicationType         string   `json:"application_type"`
	Scope                   string   `json:"scope,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
}

// handleRegister serves POST /register, Dynamic Client Registration (RFC 7591 §3):
// rate-limited per source address, capped in number, expiring when unused.
func (reg *registry) handleRegister() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		now := reg.now()
		addr := requestAddr(reg.clientAddr, r)
		if ok, wait := reg.limiter.allow(addr, now); !ok {
			reg.report(kindDCR, "rate_limited")
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			reg.fail(w, r, http.StatusTooManyRequests, "too many registrations from this address; retry later",
				failure{code: codeTemporarilyUnavailable, cause: fmt.Errorf("oauth: registration: more than %g registrations a minute from one address", reg.limiter.perMinute)})
			return
		}
		if ok, wait := reg.global.allow(netip.Addr{}, now); !ok {
			reg.report(kindDCR, "rate_limited")
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			reg.fail(w, r, http.StatusTooManyRequests, "too many registrations; retry later",
				failure{code: codeTemporarilyUnavailable, cause: fmt.Errorf("oauth: registration: more than %g registrations a minute in all", reg.global.perMinute)})
			return
		}
		if !reg.sharedAllow(w, r, addr, now) {
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMetadataBody))
		if err != nil {
			reg.report(kindDCR, codeInvalidClientMetadata)
			reg.fail(w, r, http.StatusBadRequest, fmt.Sprintf("the registration request must be a JSON object of at most %d bytes", maxMetadataBody),
				failure{code: codeInvalidClientMetadata, cause: fmt.Errorf("oauth: registration: read the body: %w", err)})
			return
		}
		c, err := parseRegistration(body, reg.scopes)
		if me := (*metadataError)(nil); errors.As(err, &me) {
			reg.report(kindDCR, me.code)
			reg.fail(w, r, http.StatusBadRequest, me.description, failure{code: me.code})
			return
		}
		const storeFailed = "the registration could not be stored"
		if n, err := reg.store.CountClients(r.Context()); err != nil {
			reg.report(kindDCR, codeServerError)
			reg.fail(w, r, http.StatusInternalServerError, storeFailed,
				failure{code: codeServerError, cause: fmt.Errorf("oauth: registration: store: CountClients: %w", err)})
			return
		} else if n >= reg.maxDCR {
			reg.report(kindDCR, "too_many_clients")
			w.Header().Set("Retry-After", "3600")
			reg.fail(w, r, http.StatusServiceUnavailable, "the authorization server holds too many registrations; retry later or use a client ID metadata document",
				failure{code: codeTemporarilyUnavailable, cause: fmt.Errorf("oauth: registration: %d live registrations reach MaxRegisteredClients (%d)", n, reg.maxDCR)})
			return
		}

		c.ID = clientIDPrefix + randomURLString(16)
		resp := registrationResponse{ClientIDIssuedAt: now.Unix()}
		if c.TokenEndpointAuthMethod != authMethodNone {
			resp.ClientSecret = auth.PrefixClientSecret + randomURLString(32)
			c.SecretHash = clientSecretHash(resp.ClientSecret)
			resp.ClientSecretExpiresAt = new(int64) // 0: never (RFC 7591 §3.2.1)
		}
		c.CreatedAt = now
		c.ExpiresAt = now.Add(reg.ttl)
		if err := reg.store.CreateClient(r.Context(), c); err != nil {
			reg.report(kindDCR, codeServerError)
			reg.fail(w, r, http.StatusInternalServerError, storeFailed,
				failure{code: codeServerError, clientID: c.ID, cause: fmt.Errorf("oauth: registration: store: CreateClient: %w", err)})
			return
		}
		reg.report(kindDCR, "ok")

		resp.ClientID = c.ID
		resp.ClientName = c.Name
		resp.RedirectURIs = c.RedirectURIs
		resp.GrantTypes = c.GrantTypes
		resp.ResponseTypes = c.ResponseTypes
		resp.TokenEndpointAuthMethod = c.TokenEndpointAuthMethod
		resp.ApplicationType = c.ApplicationType
		resp.Scope = c.Scope
		resp.ClientURI = c.ClientURI
		resp.LogoURI = c.LogoURI
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(resp)
	})
}

// Keys of the registration counts in the store's [store.RateStore].
const (
	rateKeyDCR      = "dcr:"      // + sourceKey: one source address
	rateKeyDCRTotal = "dcr-total" // every address together
)

// sharedAllow counts the registration in the store, where every replica sharing it
// counts too, against the same limits the local buckets apply: the buckets keep one
// replica smooth and spare the store a flood, the store's counts keep N replicas at the
// configured rate rather than N times it. When it refuses it has answered: 429 with
// Retry-After, or, when the store cannot count, 503 (fail closed: an unreachable store
// must not lift the limit, and a registration could not be stored anyway).
func (reg *registry) sharedAllow(w http.ResponseWriter, r *http.Request, addr netip.Addr, now time.Time) bool {
	for _, l := range []struct {
		key, description string
		perMinute        float64
	}{
		{rateKeyDCR + sourceKey(addr).String(), "too many registrations from this address; retry later", reg.limiter.perMinute},
		{rateKeyDCRTotal, "too many registrations; retry later", reg.global.perMinute},
	} {
		ok, wait, err := reg.store.TakeToken(r.Context(), l.key, int(l.perMinute), now)
		if err != nil {
			reg.report(kindDCR, codeServerError)
			reg.fail(w, r, http.StatusInternalServerError, "the registration could not be counted",
				failure{code: codeServerError, cause: fmt.Errorf("oauth: registration: store: TakeToken: %w", err)})
			return false
		}
		if !ok {
			reg.report(kindDCR, "rate_limited")
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
			reg.fail(w, r, http.StatusTooManyRequests, l.description,
				failure{code: codeTemporarilyUnavailable, cause: fmt.Errorf("oauth: registration: more than %g registrations a minute (%s) across replicas", l.perMinute, l.key)})
			return false
		}
	}
	return true
}

// fail writes a registration error (RFC 7591 §3.2.2) and logs it.
func (reg *registry) fail(w http.ResponseWriter, r *http.Request, status int, description string, f failure) {
	status, f = f.whenStoreDown(status)
	logFailure(r, reg.iss, status, description, f)
	writeJSONError(w, status, f.code, description)
}

// randomURLString returns n random bytes, base64url without padding.
func randomURLString(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// clientSecretHash is the hex SHA-256 of a client secret, as store.Client.SecretHash keeps it.
func clientSecretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// maxRateBuckets bounds the rate limiter's memory; past it, idle buckets are dropped, and
// if every bucket is busy all are (a flood from that many addresses is capped by the
// client limit anyway).
const maxRateBuckets = 10000

// rateLimiter is a token bucket per source: an IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64).
type rateLimiter struct {
	perMinute float64
	mu        sync.Mutex
	buckets   map[netip.Prefix]*rateBucket
}

type rateBucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perMinute int) *rateLimiter {
	return &rateLimiter{perMinute: float64(perMinute), buckets: map[netip.Prefix]*rateBucket{}}
}

// allow takes a token for a at now; when none is left it reports how long until one is.
func (l *rateLimiter) allow(a netip.Addr, now time.Time) (bool, time.Duration) {
	key := sourceKey(a) // addresses that did not parse share one bucket
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxRateBuckets {
			l.prune(now)
		}
		b = &rateBucket{tokens: l.perMinute, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.perMinute, b.tokens+elapsed.Minutes()*l.perMinute)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.perMinute * float64(time.Minute))
}

// prune drops the buckets that have refilled by now; if none has, it drops all.
func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Minutes()*l.perMinute >= l.perMinute {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxRateBuckets {
		clear(l.buckets)
	}
}
