package oauth

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// TestKeyRotationSchedule: with the clock injected, a replica rotates once the newest
// key is SigningKeyRotation old; the new key is in /jwks SigningKeyPublishLead before it
// signs; tokens the old key signed verify until it retires (AccessTokenTTL plus slack
// after the new key started), and then the old key is gone from /jwks and the store.
func TestKeyRotationSchedule(t *testing.T) {
	const rotation = 24 * time.Hour
	e := newFlowEnv(t, func(c *Config) {
		c.AccessTokenTTL = time.Hour
		c.SigningKeyRotation = rotation
	})
	ctx := t.Context()
	tick := func(when string) {
		t.Helper()
		if err := e.as.tickKeys(ctx); err != nil {
			t.Fatalf("tickKeys %s: %v", when, err)
		}
	}
	storedKids := func() []string {
		t.Helper()
		keys, err := e.st.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var kids []string
		for _, k := range keys {
			kids = append(kids, k.ID)
		}
		return kids
	}
	old := kidOf(t, e.tokens().str("access_token"))

	e.clock.Advance(rotation - time.Second)
	tick("before the rotation is due")
	if got := storedKids(); len(got) != 1 {
		t.Fatalf("keys before the rotation is due = %v, want only %s", got, old)
	}

	e.clock.Advance(time.Second)
	tick("when the rotation is due")
	kids := storedKids()
	if len(kids) != 2 || kids[0] != old {
		t.Fatalf("keys after the rotation = %v, want %s and a new one", kids, old)
	}
	next := kids[1]
	if got := jwksKids(e); !slices.Equal(got, kids) {
		t.Errorf("/jwks after the rotation = %v, want %v", got, kids)
	}
	tick("again") // the schedule is met: no third key
	if got := storedKids(); len(got) != 2 {
		t.Errorf("keys after a second tick = %v, want %v", got, kids)
	}

	e.clock.Advance(SigningKeyPublishLead - time.Second)
	last := e.tokens().str("access_token") // the old key's last token
	if got := kidOf(t, last); got != old {
		t.Fatalf("a second before NotBefore the token is signed by %s, want the old key %s", got, old)
	}
	e.clock.Advance(time.Second)
	if got := kidOf(t, e.tokens().str("access_token")); got != next {
		t.Fatalf("at NotBefore the token is signed by %s, want the new key %s", got, next)
	}

	e.clock.Advance(time.Hour - 2*time.Second)
	tick("while the old key's last token is valid")
	if _, err := e.verify(last); err != nil {
		t.Errorf("the old key's last token, a second before it expires: %v, want it verified", err)
	}
	e.clock.Advance(2*time.Second + keyRetireSlack - time.Second)
	tick("a second before the old key retires")
	if got := jwksKids(e); !slices.Equal(got, kids) {
		t.Errorf("/jwks a second before the old key retires = %v, want %v", got, kids)
	}

	e.clock.Advance(time.Second)
	tick("when the old key retires")
	if got := storedKids(); !slices.Equal(got, []string{next}) {
		t.Errorf("keys after retirement = %v, want [%s]", got, next)
	}
	if got := jwksKids(e); !slices.Equal(got, []string{next}) {
		t.Errorf("/jwks after retirement = %v, want [%s]", got, next)
	}
	if _, err := e.as.verifier.VerifySignature(ctx, last); err == nil {
		t.Errorf("the old key's token after retirement: signature verified, want refused")
	}
}

// TestKeyRotationOneReplica: replicas sharing a store whose rotation is due at the
// same moment add exactly one key between them (the rotation lease), and a forced
// rotation while the lease is held is refused with ErrRotationBusy.
func TestKeyRotationOneReplica(t *testing.T) {
	const rotation = time.Hour
	e := newFlowEnv(t, func(c *Config) { c.SigningKeyRotation = rotation })
	replicas := []*Server{e.as}
	for range 3 {
		e.restart()
		replicas = append(replicas, e.as)
	}
	e.clock.Advance(rotation)
	var wg sync.WaitGroup
	errs := make([]error, len(replicas))
	for i, s := range replicas {
		wg.Go(func() { errs[i] = s.tickKeys(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	keys, err := e.st.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("%d replicas rotating at once left %d keys, want 2", len(replicas), len(keys))
	}
	now := e.clock.Now()
	if _, err := RotateSigningKey(t.Context(), e.st, now, now); !errors.Is(err, ErrRotationBusy) {
		t.Errorf("RotateSigningKey while a replica holds the lease = %v, want ErrRotationBusy", err)
	}
	e.clock.Advance(rotationLeaseTTL)
	if _, err := RotateSigningKey(t.Context(), e.st, e.clock.Now(), e.clock.Now()); err != nil {
		t.Errorf("RotateSigningKey after the lease expired = %v, want nil", err)
	}
}

// TestKeySetCurrent: which stored key signs at a moment.
func TestKeySetCurrent(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	key := func(id string, created, notBefore time.Duration) store.SigningKey {
		k := store.SigningKey{ID: id, CreatedAt: t0.Add(created)}
		if notBefore != 0 {
			k.NotBefore = t0.Add(notBefore)
		}
		return k
	}
	tests := []struct {
		name string
		keys []store.SigningKey
		at   time.Duration
		want string
	}{
		{"one key without NotBefore", []store.SigningKey{key("a", 0, 0)}, 0, "a"},
		{"keys without NotBefore: the newest signs", []store.SigningKey{key("a", 0, 0), key("b", time.Second, 0)}, 0, "b"},
		{"a rotated key before its NotBefore", []store.SigningKey{key("a", 0, 0), key("b", time.Hour, time.Hour+10*time.Minute)}, time.Hour + 10*time.Minute - time.Second, "a"},
		{"a rotated key at its NotBefore", []store.SigningKey{key("a", 0, 0), key("b", time.Hour, time.Hour+10*time.Minute)}, time.Hour + 10*time.Minute, "b"},
		{"created at the same second, the one with NotBefore wins once started", []store.SigningKey{key("b", 0, 10*time.Minute), key("a", 0, 0)}, 10 * time.Minute, "b"},
		{"none started: the first to start", []store.SigningKey{key("a", 0, 20*time.Minute), key("b", time.Second, 10*time.Minute)}, 0, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := &keySet{stored: tt.keys}
			if got := ks.stored[ks.current(t0.Add(tt.at))].ID; got != tt.want {
				t.Errorf("current(t0+%v) = %s, want %s", tt.at, got, tt.want)
			}
		})
	}
}
