package oauth

import (
	"context"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Login throttling: the local login form is where a password can be guessed, so failed
// attempts are counted per account and per client address, and past a few free ones
// each further failure doubles the time before the next attempt is even looked at.
// During a lockout the password is not checked at all: the right one does not log in
// (a guesser learns nothing) and costs no bcrypt work. bcrypt itself runs under a
// concurrency bound, so a flood of logins holds at most half the CPUs and /auth keeps
// the rest.
const (
	// freeAccountFailures and freeAddrFailures are the failures allowed before the
	// first lockout: a person mistypes, an office shares one address.
	freeAccountFailures = 3
	freeAddrFailures    = 10
	// firstLockout doubles with every failure past the free ones, up to maxLockout.
	firstLockout = time.Second
	maxLockout   = 15 * time.Minute
	// failureMemory is how long a failure counts: a key with no failure for this long
	// starts over.
	failureMemory = time.Hour
	// maxThrottleKeys bounds each table's memory; past it, forgotten keys are dropped,
	// then (under a flood from that many sources) the oldest half.
	maxThrottleKeys = 10000
	// hashWait is how long a login waits for a bcrypt slot before it is told to retry.
	hashWait = 5 * time.Second
)

// failures counts the failed logins of one key (an account or an address).
type failures struct {
	n     int       // failures within failureMemory
	last  time.Time // the latest failure
	until time.Time // no attempt is looked at before this
}

// failureTable counts failures by key; free is how many come without a lockout.
type failureTable struct {
	free int
	mu   sync.Mutex
	keys map[string]*failures
}

func newFailureTable(free int) *failureTable {
	return &failureTable{free: free, keys: map[string]*failures{}}
}

// locked reports how long key must still wait at now (0: it may try).
func (t *failureTable) locked(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.keys[key]
	if f == nil || !now.Before(f.until) {
		return 0
	}
	return f.until.Sub(now)
}

// fail records a failure of key at now.
func (t *failureTable) fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.keys[key]
	if f == nil {
		if len(t.keys) >= maxThrottleKeys {
			t.prune(now)
		}
		f = &failures{}
		t.keys[key] = f
	}
	if now.Sub(f.last) > failureMemory {
		f.n = 0
	}
	f.n++
	f.last = now
	if over := f.n - t.free; over > 0 {
		d := maxLockout
		if over <= 20 {
			d = min(maxLockout, firstLockout<<(over-1))
		}
		f.until = now.Add(d)
	}
}

// forget drops key's failures (a successful login of that account).
func (t *failureTable) forget(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

// prune drops the forgotten keys, then, if the table is still full, every key whose
// latest failure is older than the median's: a flood cannot grow the table or wipe a
// recent lockout of its own sources.
func (t *failureTable) prune(now time.Time) {
	for k, f := range t.keys {
		if now.Sub(f.last) > failureMemory && !now.Before(f.until) {
			delete(t.keys, k)
		}
	}
	if len(t.keys) < maxThrottleKeys {
		return
	}
	var oldest, newest time.Time
	for _, f := range t.keys {
		if oldest.IsZero() || f.last.Before(oldest) {
			oldest = f.last
		}
		if f.last.After(newest) {
			newest = f.last
		}
	}
	mid := oldest.Add(newest.Sub(oldest) / 2)
	for k, f := range t.keys {
		if !f.last.After(mid) {
			delete(t.keys, k)
		}
	}
}

// loginThrottle guards the local login form.
type loginThrottle struct {
	accounts *failureTable // by case-folded email, listed or not
	addrs    *failureTable // by client address (an IPv6 /64)
	hashing  chan struct{} // bcrypt slots
	addr     func(*http.Request) netip.Addr
}

func newLoginThrottle(addr func(*http.Request) netip.Addr) *loginThrottle {
	return &loginThrottle{
		accounts: newFailureTable(freeAccountFailures),
		addrs:    newFailureTable(freeAddrFailures),
		hashing:  make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		addr:     addr,
	}
}

// keys returns the account and address keys of a login attempt.
func (l *loginThrottle) keys(r *http.Request, email string) (account, addr string) {
	return strings.ToLower(email), sourceKey(l.addr(r)).String()
}

// wait reports how long the attempt must still wait: the longer of its account's and
// its address's lockouts.
func (l *loginThrottle) wait(account, addr string, now time.Time) time.Duration {
	return max(l.accounts.locked(account, now), l.addrs.locked(addr, now))
}

// failed records a failed attempt.
func (l *loginThrottle) failed(account, addr string, now time.Time) {
	l.accounts.fail(account, now)
	l.addrs.fail(addr, now)
}

// succeeded clears the account's failures; the address's stay (one address may be
// guessing many accounts and know one password).
func (l *loginThrottle) succeeded(account string) { l.accounts.forget(account) }

// hash runs check in a bcrypt slot, waiting at most hashWait (or until ctx ends) for
// one; it reports false when none came free.
func (l *loginThrottle) hash(ctx context.Context, check func()) bool {
	t := time.NewTimer(hashWait)
	defer t.Stop()
	select {
	case l.hashing <- struct{}{}:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	defer func() { <-l.hashing }()
	check()
	return true
}

// sourceKey is the rate-limit key of an address: an IPv4 address, or the /64 of an IPv6
// address (one host usually holds a whole /64); addresses that did not parse share the
// zero Prefix.
func sourceKey(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	bits := 32
	if a = a.Unmap(); a.Is6() {
		bits = 64
	}
	key, _ := a.WithZone("").Prefix(bits)
	return key
}

// requestAddr is the address r came from: clientAddr (Config.ClientAddr, which reads
// the forwarded address of trusted proxies) when set, else the TCP peer.
func requestAddr(clientAddr func(*http.Request) netip.Addr, r *http.Request) netip.Addr {
	if clientAddr != nil {
		return clientAddr(r)
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(r.RemoteAddr)
	return a.Unmap()
}
