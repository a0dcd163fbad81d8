package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// testSigningKeyRotation: a key's NotBefore is kept, a key can be deleted once, and a
// lease is held by one holder at a time until it expires.
func testSigningKeyRotation(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := store.SigningKey{ID: "old", Algorithm: "ES256", PrivateKey: []byte("der-old"), CreatedAt: t0}
	next := store.SigningKey{ID: "next", Algorithm: "ES256", PrivateKey: []byte("der-next"), CreatedAt: t0.Add(time.Hour), NotBefore: t0.Add(2 * time.Hour)}
	wantErr(t, "AddSigningKey(old)", s.AddSigningKey(ctx, old), nil)
	wantErr(t, "AddSigningKey(next)", s.AddSigningKey(ctx, next), nil)
	keys, err := s.SigningKeys(ctx)
	wantErr(t, "SigningKeys()", err, nil)
	wantEqual(t, "SigningKeys()", keys, []store.SigningKey{old, next})
	wantErr(t, "DeleteSigningKey(old)", s.DeleteSigningKey(ctx, "old"), nil)
	wantErr(t, "DeleteSigningKey(old) again", s.DeleteSigningKey(ctx, "old"), store.ErrNotFound)
	keys, err = s.SigningKeys(ctx)
	wantErr(t, "SigningKeys() after delete", err, nil)
	wantEqual(t, "SigningKeys() after delete", keys, []store.SigningKey{next})

	now := time.Now()
	const ttl = 300 * time.Millisecond
	for _, step := range []struct {
		holder string
		want   bool
	}{{"a", true}, {"b", false}, {"a", true}} {
		held, err := s.AcquireLease(ctx, "rotate", step.holder, now, ttl)
		wantErr(t, "AcquireLease(rotate, "+step.holder+")", err, nil)
		wantEqual(t, "AcquireLease(rotate, "+step.holder+")", held, step.want)
	}
	held, err := s.AcquireLease(ctx, "other", "b", now, ttl)
	wantErr(t, "AcquireLease(other, b)", err, nil)
	wantEqual(t, "AcquireLease(other, b) while a holds rotate", held, true)
	time.Sleep(ttl + 100*time.Millisecond)
	held, err = s.AcquireLease(ctx, "rotate", "b", time.Now(), ttl)
	wantErr(t, "AcquireLease(rotate, b) after expiry", err, nil)
	wantEqual(t, "AcquireLease(rotate, b) after expiry", held, true)
	if _, err := s.AcquireLease(ctx, "", "b", now, ttl); err == nil {
		t.Errorf("AcquireLease(\"\", b) = nil error, want one")
	}
}

// testReplicaLeaseRace: many takers on two replicas asking for one lease at once get
// exactly one holder.
func testReplicaLeaseRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	for round := range 5 {
		name := fmt.Sprint("lease-", round)
		now := time.Now()
		errs := race(func(i int) error {
			held, err := s[i%2].AcquireLease(ctx, name, fmt.Sprint("replica-", i), now, time.Minute)
			if err == nil && !held {
				return errNotHeld
			}
			return err
		})
		wantEqual(t, "held, not held of AcquireLease("+name+") on two replicas", tally(t, errs, errNotHeld), []int{1, racers - 1})
	}
}

// errNotHeld marks a taker that did not get the lease.
var errNotHeld = errors.New("lease not held")

// testReplicaKeyRotationRace: replicas following the rotation protocol at the same
// moment (take the lease, read the keys again, add one unless a key newer than the
// schedule is there) add exactly one key between them.
func testReplicaKeyRotationRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	first := store.SigningKey{ID: "k0", Algorithm: "ES256", PrivateKey: []byte("der-k0"), CreatedAt: t0}
	wantErr(t, "AddSigningKey(k0)", s[0].AddSigningKey(ctx, first), nil)
	now, due := t0.Add(24*time.Hour), 24*time.Hour
	errs := race(func(i int) error {
		st := s[i%2]
		held, err := st.AcquireLease(ctx, "signing-key-rotation", fmt.Sprint("replica-", i), time.Now(), time.Minute)
		if err != nil || !held {
			return err
		}
		keys, err := st.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if now.Sub(keys[len(keys)-1].CreatedAt) < due {
			return nil
		}
		return st.AddSigningKey(ctx, store.SigningKey{ID: fmt.Sprint("k-", i), Algorithm: "ES256", PrivateKey: []byte("der"), CreatedAt: now, NotBefore: now.Add(10 * time.Minute)})
	})
	wantEqual(t, "errors of the racing rotations", tally(t, errs), []int{racers})
	keys, err := s[1].SigningKeys(ctx)
	wantErr(t, "SigningKeys() after the race", err, nil)
	wantEqual(t, "len(SigningKeys()) after the race", len(keys), 2)
}
