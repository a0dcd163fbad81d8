package auth

import (
	"container/list"
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache maps the SHA-256 of a verified token to what verification established, so a
// repeat token costs a hash and a map lookup instead of a signature check. It is a
// bounded LRU; the token itself is never stored. It is safe for concurrent use.
type tokenCache struct {
	mu  sync.Mutex
	max int
	lru *list.List // of *cachedToken, most recently used first
	m   map[[sha256.Size]byte]*list.Element
}

// cachedToken is one verified token.
type cachedToken struct {
	sum    [sha256.Size]byte
	p      Principal
	exp    time.Time // the token's exp: the entry is never returned at or after it
	issuer string    // the configured issuer that verified it
	keyID  string    // RFC 7638 thumbprint of the key that verified it
}

// newTokenCache returns a cache of at most max tokens (max > 0).
func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, lru: list.New(), m: make(map[[sha256.Size]byte]*list.Element)}
}

// get returns a copy of the principal cached for the token with digest sum. An entry at
// or past its exp, or whose key keyPresent says its issuer no longer publishes (the
// issuer rotated it out), is dropped and reported as a miss.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time, keyPresent func(issuer, keyID string) bool) (Principal, bool) {
	c.mu.Lock()
	el, ok := c.m[sum]
	if !ok {
		c.mu.Unlock()
		return Principal{}, false
	}
	e := el.Value.(*cachedToken)
	if !now.Before(e.exp) || !keyPresent(e.issuer, e.keyID) {
		c.lru.Remove(el)
		delete(c.m, sum)
		c.mu.Unlock()
		return Principal{}, false
	}
	c.lru.MoveToFront(el)
	p := e.p
	c.mu.Unlock()
	return p.clone(), true
}

// put caches e under sum, evicting the least recently used entry when the cache is full.
// The cache keeps e.p: the caller must not change its slices afterwards.
func (c *tokenCache) put(sum [sha256.Size]byte, e cachedToken) {
	e.sum = sum
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[sum]; ok {
		el.Value = &e
		c.lru.MoveToFront(el)
		return
	}
	if c.lru.Len() >= c.max {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.m, last.Value.(*cachedToken).sum)
	}
	c.m[sum] = c.lru.PushFront(&e)
}

// len returns the number of cached tokens.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
