package storetest

import (
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// testSubjectRevocations: a subject's revocation moment is recorded, only a later
// moment replaces it, other subjects are untouched, and a subject is required. Moments
// are kept to the microsecond (PostgreSQL's precision; token iat is in seconds).
func testSubjectRevocations(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := now().Add(-time.Minute).Truncate(time.Microsecond)
	got, err := s.SubjectRevokedAt(ctx, "alice")
	wantErr(t, "SubjectRevokedAt(alice) before any", err, nil)
	wantEqual(t, "SubjectRevokedAt(alice) before any is zero", got.IsZero(), true)
	wantErr(t, "RevokeSubject(alice)", s.RevokeSubject(ctx, "alice", at, now().Add(time.Hour)), nil)
	got, err = s.SubjectRevokedAt(ctx, "alice")
	wantErr(t, "SubjectRevokedAt(alice)", err, nil)
	wantEqual(t, "SubjectRevokedAt(alice) = at", got.Equal(at), true)
	// An earlier moment (a slow replica's) does not move the record back.
	wantErr(t, "RevokeSubject(alice, earlier)", s.RevokeSubject(ctx, "alice", at.Add(-time.Hour), now().Add(time.Minute)), nil)
	got, _ = s.SubjectRevokedAt(ctx, "alice")
	wantEqual(t, "SubjectRevokedAt(alice) after an earlier revocation = at", got.Equal(at), true)
	later := at.Add(30 * time.Second)
	wantErr(t, "RevokeSubject(alice, later)", s.RevokeSubject(ctx, "alice", later, now().Add(time.Hour)), nil)
	got, _ = s.SubjectRevokedAt(ctx, "alice")
	wantEqual(t, "SubjectRevokedAt(alice) after a later revocation = later", got.Equal(later), true)
	got, _ = s.SubjectRevokedAt(ctx, "bob")
	wantEqual(t, "SubjectRevokedAt(bob) is zero", got.IsZero(), true)
	if err := s.RevokeSubject(ctx, "", at, now().Add(time.Hour)); err == nil {
		t.Fatal("RevokeSubject(\"\") = nil, want an error")
	}
}

// testSubjectGC: a revocation is forgotten once its retention passed.
func testSubjectGC(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "RevokeSubject(short)", s.RevokeSubject(ctx, "short", now(), now().Add(time.Second)), nil)
	wantErr(t, "RevokeSubject(long)", s.RevokeSubject(ctx, "long", now(), now().Add(time.Hour)), nil)
	time.Sleep(1100 * time.Millisecond)
	if _, err := s.GC(ctx, now()); err != nil {
		t.Fatalf("GC() = %v", err)
	}
	got, _ := s.SubjectRevokedAt(ctx, "short")
	wantEqual(t, "SubjectRevokedAt(short) after its retention is zero", got.IsZero(), true)
	got, _ = s.SubjectRevokedAt(ctx, "long")
	wantEqual(t, "SubjectRevokedAt(long) is kept", got.IsZero(), false)
}
