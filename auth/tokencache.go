package auth

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// LRU is a bounded map from the SHA-256 of a token to an entry of type E, which evicts
// the least recently used entry when it is full. The token itself is never stored. It
// is safe for concurrent use. The verified-token caches of JWTVerifier and OwnTokens
// are LRUs.
type LRU[E any] struct {
	mu  sync.Mutex
	max int
	ll  *list.List // of *lruEntry[E], most recently used first
	m   map[[sha256.Size]byte]*list.Element
}

// lruEntry is one entry of an LRU, with its key.
type lruEntry[E any] struct {
	sum [sha256.Size]byte
	e   E
}

// NewLRU returns an empty LRU of at most max entries (max > 0).
func NewLRU[E any](max int) *LRU[E] {
	c := &LRU[E]{}
	c.init(max)
	return c
}

// init makes c an empty cache of at most max entries (max > 0).
func (c *LRU[E]) init(max int) {
	c.max, c.ll, c.m = max, list.New(), make(map[[sha256.Size]byte]*list.Element)
}

// Get returns the entry under sum when live, called with the lock held, says it may
// still be used; an entry it refuses is dropped and reported as a miss.
func (c *LRU[E]) Get(sum [sha256.Size]byte, live func(*E) bool) (E, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[sum]
	if !ok {
		var zero E
		return zero, false
	}
	ent := el.Value.(*lruEntry[E])
	if !live(&ent.e) {
		c.ll.Remove(el)
		delete(c.m, sum)
		var zero E
		return zero, false
	}
	c.ll.MoveToFront(el)
	return ent.e, true
}

// Put stores e under sum, evicting the least recently used entry when the cache is
// full.
func (c *LRU[E]) Put(sum [sha256.Size]byte, e E) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[sum]; ok {
		el.Value = &lruEntry[E]{sum: sum, e: e}
		c.ll.MoveToFront(el)
		return
	}
	if c.ll.Len() >= c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.m, last.Value.(*lruEntry[E]).sum)
	}
	c.m[sum] = c.ll.PushFront(&lruEntry[E]{sum: sum, e: e})
}

// Clear drops every entry.
func (c *LRU[E]) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.m)
}

// Len returns the number of entries.
func (c *LRU[E]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

// tokenCache maps the SHA-256 of a verified token to what verification established, so a
// repeat token costs a hash and a map lookup instead of a signature check. It keeps the
// Principal that put stores and hands out copies that share its slices: nobody changes
// them afterwards (see the package documentation).
type tokenCache struct{ LRU[cachedToken] }

// cachedToken is one verified token.
type cachedToken struct {
	p      Principal
	exp    time.Time // the token's exp: the entry is never returned at or after it
	issuer string    // the configured issuer that verified it
	keyID  string    // RFC 7638 thumbprint of the key that verified it
}

// newTokenCache returns a cache of at most max tokens (max > 0).
func newTokenCache(max int) *tokenCache {
	c := &tokenCache{}
	c.init(max)
	return c
}

// get returns the principal cached for the token with digest sum. An entry at
// or past its exp, or whose key keyPresent says its issuer no longer publishes (the
// issuer rotated it out), is dropped and reported as a miss.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time, keyPresent func(issuer, keyID string) bool) (Principal, bool) {
	e, ok := c.LRU.Get(sum, func(e *cachedToken) bool {
		return now.Before(e.exp) && keyPresent(e.issuer, e.keyID)
	})
	if !ok {
		return Principal{}, false
	}
	return e.p, true
}

// rejectCache maps the SHA-256 of a rejected token to the error it was rejected with, so
// that a repeated bad token costs what a repeated good one does, not a decode or a
// signature check. It is separate from tokenCache, so bad tokens never evict good ones.
type rejectCache struct {
	LRU[rejection]
	ttl time.Duration
}

// rejection is one rejected token: the error, and when it may stop holding.
type rejection struct {
	err error
	// until, when not zero, is when the rejection may stop holding (the token could
	// pass): the entry ends then at the latest. put sets it to when the entry ends.
	until time.Time
	// keys, when is is set, are the keys of is the failure was found with: the entry
	// ends as soon as is has other keys (nil keys: none were loaded).
	is   *issuer
	keys *keySet
}

// newRejectCache returns a cache of at most max rejections (max > 0), each kept for at
// most ttl.
func newRejectCache(max int, ttl time.Duration) *rejectCache {
	c := &rejectCache{ttl: ttl}
	c.init(max)
	return c
}

// get returns the error of the rejection cached for the token with digest sum, unless
// it has ended, or the keys it was found with have changed.
func (c *rejectCache) get(sum [sha256.Size]byte, now time.Time) (error, bool) {
	r, ok := c.LRU.Get(sum, func(r *rejection) bool {
		return now.Before(r.until) && (r.is == nil || r.is.keys.Load() == r.keys)
	})
	return r.err, ok
}

// put caches r under sum from now until the TTL passes or r.until comes, whichever
// is first. A rejection whose until has passed is not cached.
func (c *rejectCache) put(sum [sha256.Size]byte, r rejection, now time.Time) {
	end := now.Add(c.ttl)
	if !r.until.IsZero() && r.until.Before(end) {
		end = r.until
	}
	if !now.Before(end) {
		return
	}
	r.until = end
	c.LRU.Put(sum, r)
}
