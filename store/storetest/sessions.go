package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// session returns a complete session of subject, logged in at login, ending at
// login+ttl or, unless used, login+idle.
func session(name, subject string, login time.Time, ttl, idle time.Duration) store.Session {
	return store.Session{
		ID:            hash("session-" + name),
		Identity:      store.Identity{Subject: subject, Email: subject + "@example.com", Name: "Ada " + subject, EmailVerified: true, Groups: []string{"eng"}},
		CreatedAt:     login,
		LastUsedAt:    login,
		ExpiresAt:     login.Add(ttl),
		IdleExpiresAt: login.Add(idle),
		ClientAddr:    "192.0.2.7",
		UserAgent:     "Mozilla/5.0 (X11; Linux x86_64)",
	}
}

// ids returns the IDs of ss, in order.
func ids(ss []store.Session) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func testSessionCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := now()
	a1 := session("a1", "alice", n.Add(-2*time.Minute), 8*time.Hour, time.Hour)
	a2 := session("a2", "alice", n.Add(-time.Minute), 8*time.Hour, time.Hour)
	b1 := session("b1", "bob", n, 8*time.Hour, time.Hour)
	for _, ss := range []store.Session{a2, b1, a1} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, ss), nil)
	}
	wantErr(t, "CreateSession(a1) again", s.CreateSession(ctx, a1), store.ErrExists)
	if err := s.CreateSession(ctx, store.Session{ID: hash("x"), ExpiresAt: n.Add(time.Hour), IdleExpiresAt: n.Add(time.Hour)}); err == nil {
		t.Fatal("CreateSession(no subject) = nil, want an error")
	}

	got, err := s.GetSession(ctx, a1.ID, n)
	wantErr(t, "GetSession(a1)", err, nil)
	wantEqual(t, "GetSession(a1)", got, a1)
	_, err = s.GetSession(ctx, hash("session-none"), n)
	wantErr(t, "GetSession(none)", err, store.ErrNotFound)

	later := n.Add(10 * time.Minute)
	touched, err := s.TouchSession(ctx, a1.ID, later, time.Hour)
	wantErr(t, "TouchSession(a1)", err, nil)
	want := a1
	want.LastUsedAt, want.IdleExpiresAt = later, later.Add(time.Hour)
	wantEqual(t, "TouchSession(a1)", touched, want)
	got, _ = s.GetSession(ctx, a1.ID, later)
	wantEqual(t, "GetSession(a1) after TouchSession", got, want)
	_, err = s.TouchSession(ctx, hash("session-none"), n, time.Hour)
	wantErr(t, "TouchSession(none)", err, store.ErrNotFound)

	list, err := s.ListSessions(ctx, "alice", later)
	wantErr(t, "ListSessions(alice)", err, nil)
	wantEqual(t, "ListSessions(alice)", ids(list), []string{a1.ID, a2.ID})
	wantEqual(t, "ListSessions(alice)[0]", list[0], want)
	list, _ = s.ListSessions(ctx, "carol", later)
	wantEqual(t, "len(ListSessions(carol))", len(list), 0)

	wantErr(t, "DeleteSession(a1)", s.DeleteSession(ctx, a1.ID), nil)
	wantErr(t, "DeleteSession(a1) again", s.DeleteSession(ctx, a1.ID), store.ErrNotFound)
	_, err = s.GetSession(ctx, a1.ID, later)
	wantErr(t, "GetSession(a1) after DeleteSession", err, store.ErrNotFound)
	_, err = s.TouchSession(ctx, a1.ID, later, time.Hour)
	wantErr(t, "TouchSession(a1) after DeleteSession", err, store.ErrNotFound)
	list, _ = s.ListSessions(ctx, "alice", later)
	wantEqual(t, "ListSessions(alice) after DeleteSession", ids(list), []string{a2.ID})
	got, err = s.GetSession(ctx, b1.ID, later)
	wantErr(t, "GetSession(b1)", err, nil)
	wantEqual(t, "GetSession(b1)", got, b1)

	// A returned session is a copy.
	got.Identity.Groups[0] = "changed"
	got, _ = s.GetSession(ctx, b1.ID, later)
	wantEqual(t, "GetSession(b1) after changing a copy", got.Identity.Groups, []string{"eng"})
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := now()
	// ttl: ends 5 minutes after login, however often it is used.
	ttl := session("ttl", "alice", n, 5*time.Minute, time.Hour)
	// idle: ends unless used every 2 minutes.
	idle := session("idle", "alice", n, time.Hour, 2*time.Minute)
	for _, ss := range []store.Session{ttl, idle} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, ss), nil)
	}

	// Touching ttl never pushes it past its absolute end.
	got, err := s.TouchSession(ctx, ttl.ID, n.Add(4*time.Minute), time.Hour)
	wantErr(t, "TouchSession(ttl, +4m)", err, nil)
	wantEqual(t, "TouchSession(ttl, +4m).IdleExpiresAt", got.IdleExpiresAt, ttl.ExpiresAt)
	_, err = s.GetSession(ctx, ttl.ID, n.Add(5*time.Minute))
	wantErr(t, "GetSession(ttl, +5m)", err, store.ErrNotFound)
	_, err = s.TouchSession(ctx, ttl.ID, n.Add(5*time.Minute), time.Hour)
	wantErr(t, "TouchSession(ttl, +5m)", err, store.ErrNotFound)

	// Use keeps idle alive; two minutes without it end it.
	_, err = s.TouchSession(ctx, idle.ID, n.Add(time.Minute), 2*time.Minute)
	wantErr(t, "TouchSession(idle, +1m)", err, nil)
	_, err = s.GetSession(ctx, idle.ID, n.Add(2*time.Minute+30*time.Second))
	wantErr(t, "GetSession(idle, +2m30s) after a touch", err, nil)
	_, err = s.GetSession(ctx, idle.ID, n.Add(3*time.Minute))
	wantErr(t, "GetSession(idle, +3m)", err, store.ErrNotFound)
	_, err = s.TouchSession(ctx, idle.ID, n.Add(3*time.Minute), 2*time.Minute)
	wantErr(t, "TouchSession(idle, +3m)", err, store.ErrNotFound)
	list, _ := s.ListSessions(ctx, "alice", n.Add(3*time.Minute))
	wantEqual(t, "ListSessions(alice, +3m)", ids(list), []string{ttl.ID})
	list, _ = s.ListSessions(ctx, "alice", n.Add(5*time.Minute))
	wantEqual(t, "len(ListSessions(alice, +5m))", len(list), 0)

	// A session that ended before now no longer holds its ID.
	old := session("old", "bob", n.Add(-2*time.Minute), time.Minute, time.Minute)
	wantErr(t, "CreateSession(old)", s.CreateSession(ctx, old), nil)
	fresh := session("old", "bob", n, time.Hour, time.Hour)
	wantErr(t, "CreateSession(ID of an ended session)", s.CreateSession(ctx, fresh), nil)
	got, err = s.GetSession(ctx, fresh.ID, n)
	wantErr(t, "GetSession(fresh)", err, nil)
	wantEqual(t, "GetSession(fresh)", got, fresh)
}

func testSessionGC(t *testing.T, s store.Store) {
	ctx := t.Context()
	n := now()
	live := session("live", "alice", n, time.Hour, time.Hour)
	pastTTL := session("past-ttl", "alice", n.Add(-3*time.Minute), 2*time.Minute, time.Hour)
	idle := session("idle", "alice", n.Add(-3*time.Minute), time.Hour, time.Minute)
	for _, ss := range []store.Session{live, pastTTL, idle} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, ss), nil)
	}
	got, err := s.GC(ctx, n)
	wantErr(t, "GC", err, nil)
	wantEqual(t, "GC", got, 2)
	got, _ = s.GC(ctx, n)
	wantEqual(t, "GC again", got, 0)
	list, _ := s.ListSessions(ctx, "alice", n)
	wantEqual(t, "ListSessions(alice) after GC", ids(list), []string{live.ID})
	wantErr(t, "DeleteSession(past-ttl) after GC", s.DeleteSession(ctx, pastTTL.ID), store.ErrNotFound)
}

// testReplicaSessions: a session made on one replica is used on both at once, and a
// deletion on one, racing uses on both, ends it for both: no use brings it back.
func testReplicaSessions(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	n := now()
	ss := session("shared", "alice", n, time.Hour, 10*time.Minute)
	wantErr(t, "CreateSession on replica 0", s[0].CreateSession(ctx, ss), nil)
	errs := race(func(i int) error {
		_, err := s[i%2].TouchSession(ctx, ss.ID, n.Add(time.Duration(i)*time.Second), 10*time.Minute)
		return err
	})
	wantEqual(t, "successes of TouchSession on two replicas", tally(t, errs), []int{racers})
	got, err := s[1].GetSession(ctx, ss.ID, n)
	wantErr(t, "GetSession on replica 1", err, nil)
	if d := got.LastUsedAt.Sub(n); d < 0 || d >= racers*time.Second || !got.IdleExpiresAt.Equal(got.LastUsedAt.Add(10*time.Minute)) {
		t.Fatalf("after the touches, LastUsedAt %v IdleExpiresAt %v, want one of the touches", got.LastUsedAt, got.IdleExpiresAt)
	}

	errs = race(func(i int) error {
		if i == 0 {
			return s[1].DeleteSession(ctx, ss.ID)
		}
		_, err := s[i%2].TouchSession(ctx, ss.ID, n.Add(time.Minute), 10*time.Minute)
		return err
	})
	if errs[0] != nil {
		t.Fatalf("DeleteSession on replica 1 = %v, want nil", errs[0])
	}
	tally(t, errs[1:], store.ErrNotFound) // each touch came before or after the deletion
	for i := range s {
		_, err := s[i].GetSession(ctx, ss.ID, n.Add(time.Minute))
		wantErr(t, fmt.Sprintf("GetSession on replica %d after the deletion", i), err, store.ErrNotFound)
		list, _ := s[i].ListSessions(ctx, "alice", n.Add(time.Minute))
		wantEqual(t, fmt.Sprintf("len(ListSessions) on replica %d after the deletion", i), len(list), 0)
	}
}
