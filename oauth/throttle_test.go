package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// loginAttempt fills the login form of an authorization request with email and password
// and returns the status and the page.
func (e *flowEnv) loginAttempt(email, password string) (*http.Response, string) {
	e.t.Helper()
	redirectOf(e.t, e.authorize(authParams()))
	resp := e.login(email, password)
	return resp, readBody(e.t, resp)
}

// TestLoginLockout: past the free failures an account is locked out, with a 429, a
// Retry-After and a page that says when to retry; the right password during the lockout
// does not log in; after the lockout it does, and the lockout doubles with each
// further failure.
func TestLoginLockout(t *testing.T) {
	var mu sync.Mutex
	results := map[string]int{}
	e := newFlowEnv(t, func(c *Config) {
		c.OnLogin = func(r string) { mu.Lock(); results[r]++; mu.Unlock() }
	})
	for i := range freeAccountFailures {
		if resp, _ := e.loginAttempt(aliceEmail, "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, resp.StatusCode)
		}
	}
	// The next failure is still checked, and starts the first lockout (1 s).
	if resp, _ := e.loginAttempt(aliceEmail, "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("failure %d = %d, want 401", freeAccountFailures+1, resp.StatusCode)
	}
	resp, page := e.loginAttempt(aliceEmail, alicePassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("right password during the lockout = %d Retry-After %q, want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(page, "Try again in 1 second") || !strings.Contains(page, `name="csrf"`) {
		t.Errorf("lockout page does not say when to retry:\n%s", page)
	}
	if u := redirectOf(t, e.authorize(authParams())); u.Path != "/login" {
		t.Fatalf("after a refused login during the lockout, /authorize goes to %s, want /login", u)
	}
	if !strings.Contains(e.logs.String(), `"status":429`) || strings.Contains(e.logs.String(), alicePassword) {
		t.Errorf("the lockout is not logged, or the log holds the password:\n%s", e.logs)
	}

	// Another failure after the lockout doubles it.
	e.clock.Advance(time.Second)
	e.loginAttempt(aliceEmail, "wrong")
	if resp, _ := e.loginAttempt(aliceEmail, alicePassword); resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("second lockout Retry-After = %q, want 2", resp.Header.Get("Retry-After"))
	}
	e.clock.Advance(2 * time.Second)
	if resp, _ := e.loginAttempt(aliceEmail, alicePassword); resp.StatusCode != http.StatusFound {
		t.Fatalf("right password after the lockout = %d, want 302", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := map[string]int{"wrong_password": freeAccountFailures + 2, "locked_out": 2, "ok": 1}; fmt.Sprint(results) != fmt.Sprint(want) {
		t.Errorf("OnLogin results = %v, want %v", results, want)
	}
}

// TestLoginLockoutPerAddress: one address guessing many accounts is locked out for
// every account, a listed one included; another address is not.
func TestLoginLockoutPerAddress(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) {
		c.ClientAddr = func(r *http.Request) netip.Addr {
			a, _ := netip.ParseAddr(r.Header.Get("X-Test-Client"))
			return a
		}
	})
	from := func(addr string) {
		e.browser.Transport = headerTransport{base: e.srv.Client().Transport, name: "X-Test-Client", value: addr}
	}
	from("198.51.100.7")
	for i := range freeAddrFailures + 1 {
		e.loginAttempt(fmt.Sprintf("guess%d@example.com", i), "wrong")
	}
	if resp, _ := e.loginAttempt(aliceEmail, alicePassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a listed account from a locked-out address = %d, want 429", resp.StatusCode)
	}
	from("203.0.113.9")
	if resp, _ := e.loginAttempt(aliceEmail, alicePassword); resp.StatusCode != http.StatusFound {
		t.Fatalf("the same account from another address = %d, want 302", resp.StatusCode)
	}
}

type headerTransport struct {
	base        http.RoundTripper
	name, value string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return h.base.RoundTrip(r)
}

func TestFailureTableBackoff(t *testing.T) {
	tb := newFailureTable(2)
	now := time.Unix(1e9, 0)
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range want {
		tb.fail("k", now)
		if got := tb.locked("k", now); got != w {
			t.Errorf("after failure %d: locked %v, want %v", i+1, got, w)
		}
	}
	for range 40 {
		tb.fail("k", now)
	}
	if got := tb.locked("k", now); got != maxLockout {
		t.Errorf("after many failures: locked %v, want the cap %v", got, maxLockout)
	}
	// A key with no failure for failureMemory starts over.
	later := now.Add(failureMemory + maxLockout + time.Second)
	tb.fail("k", later)
	if got := tb.locked("k", later); got != 0 {
		t.Errorf("a failure after a quiet hour: locked %v, want 0", got)
	}
	tb.forget("k")
	if got := tb.locked("k", now); got != 0 {
		t.Errorf("after forget: locked %v, want 0", got)
	}
}

// TestFailureTableBounded: a flood of keys never grows a table past its bound, and the
// newest lockouts survive a prune.
func TestFailureTableBounded(t *testing.T) {
	tb := newFailureTable(0)
	now := time.Unix(1e9, 0)
	for i := range maxThrottleKeys + 500 {
		tb.fail("k"+strconv.Itoa(i), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := len(tb.keys); n > maxThrottleKeys {
		t.Fatalf("table holds %d keys, bound %d", n, maxThrottleKeys)
	}
	last := now.Add(time.Duration(maxThrottleKeys+499) * time.Millisecond)
	if tb.locked("k"+strconv.Itoa(maxThrottleKeys+499), last) == 0 {
		t.Error("the newest lockout was pruned")
	}
}

// TestHashSlots: bcrypt runs in bounded slots; a login that finds none free gives up.
func TestHashSlots(t *testing.T) {
	th := newLoginThrottle(nil)
	for range cap(th.hashing) {
		th.hashing <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	ran := false
	if th.hash(ctx, func() { ran = true }) || ran {
		t.Fatal("hash ran with every slot busy")
	}
	<-th.hashing
	if !th.hash(context.Background(), func() { ran = true }) || !ran {
		t.Fatal("hash did not run with a slot free")
	}
}

// TestRegistrationGlobalCeiling: many addresses together stop at the global ceiling.
func TestRegistrationGlobalCeiling(t *testing.T) {
	e := newFlowEnv(t, func(c *Config) {
		c.RegistrationsPerMinuteTotal = 3
		c.ClientAddr = func(r *http.Request) netip.Addr {
			a, _ := netip.ParseAddr(r.Header.Get("X-Test-Client"))
			return a
		}
	})
	body := `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none","client_name":"x"}`
	for i := range 4 {
		r := httptest.NewRequest("POST", "/register", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Test-Client", fmt.Sprintf("198.51.100.%d", i+1))
		w := httptest.NewRecorder()
		e.handler.Load().ServeHTTP(w, r)
		want := http.StatusCreated
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if w.Code != want {
			t.Fatalf("registration %d from its own address = %d %s, want %d", i+1, w.Code, w.Body, want)
		}
		if i == 3 && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
}
