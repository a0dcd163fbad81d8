package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// errLimited stands for a take TakeToken refused, so race and tally can count it.
var errLimited = errors.New("storetest: rate limited")

// testRateLimit: a bucket of 3 a minute gives a burst of 3, then one token every 20
// seconds, and says how long until the next; another key has its own bucket; a refused
// take takes nothing.
func testRateLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	take := func(key string, at time.Duration) (bool, time.Duration) {
		t.Helper()
		ok, wait, err := s.TakeToken(ctx, key, 3, t0.Add(at))
		wantErr(t, fmt.Sprintf("TakeToken(%s, 3, t0+%s)", key, at), err, nil)
		return ok, wait
	}
	for i := range 3 {
		if ok, _ := take("a", 0); !ok {
			t.Fatalf("TakeToken(a) #%d = false, want true", i+1)
		}
	}
	ok, wait := take("a", 5*time.Second)
	wantEqual(t, "TakeToken(a) #4 at t0+5s", []any{ok, wait}, []any{false, 15 * time.Second})
	ok, wait = take("a", 10*time.Second)
	wantEqual(t, "TakeToken(a) #5 at t0+10s", []any{ok, wait}, []any{false, 10 * time.Second})
	if ok, _ := take("b", 10*time.Second); !ok {
		t.Fatal("TakeToken(b) = false, want true: b has its own bucket")
	}
	if ok, _ := take("a", 20*time.Second); !ok {
		t.Fatal("TakeToken(a) at t0+20s = false, want true: one token refilled")
	}
	if ok, _ := take("a", 21*time.Second); ok {
		t.Fatal("TakeToken(a) at t0+21s = true, want false: the refilled token is taken")
	}
	for i := range 3 {
		if ok, _ := take("a", 3*time.Minute); !ok {
			t.Fatalf("TakeToken(a) #%d after the bucket refilled = false, want true", i+1)
		}
	}
	if _, _, err := s.TakeToken(ctx, "", 3, t0); err == nil {
		t.Fatal("TakeToken(\"\", 3) = nil error, want one")
	}
	if _, _, err := s.TakeToken(ctx, "c", 0, t0); err == nil {
		t.Fatal("TakeToken(c, 0) = nil error, want one")
	}
}

// testReplicaRateRace: takes from one bucket racing on both replicas at one instant are
// counted together: exactly perMinute of them are allowed, not perMinute on each.
func testReplicaRateRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	const perMinute = 5
	for round := range 3 {
		at := t0.Add(time.Duration(round) * time.Hour) // the bucket is full again
		errs := race(func(i int) error {
			ok, _, err := s[i%2].TakeToken(ctx, "dcr:192.0.2.1", perMinute, at)
			if err == nil && !ok {
				return errLimited
			}
			return err
		})
		wantEqual(t, fmt.Sprint("allowed, limited of TakeToken in round ", round, " on two replicas"), tally(t, errs, errLimited), []int{perMinute, racers - perMinute})
	}
}
