package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// RunReplicas runs the cases only several processes sharing one database can show, as
// subtests of t. open returns two handles on one fresh, empty database (two replicas);
// Run closes both when the subtest ends. A backend one process holds alone (memory, a
// bolt file) may return the same store twice: the cases then still check what one
// replica must get right under concurrency.
func RunReplicas(t *testing.T, open func(t *testing.T) (a, b store.Store)) {
	tests := []struct {
		name string
		run  func(*testing.T, [2]store.Store)
	}{
		{"AuthCodeRace", testReplicaAuthCodeRace},
		{"RotationGrace", testReplicaRotationGrace},
		{"RotationRace", testReplicaRotationRace},
		{"RevokeFamilyRace", testReplicaRevokeFamilyRace},
		{"AssertionRace", testReplicaAssertionRace},
		{"Sessions", testReplicaSessions},
		{"LeaseRace", testReplicaLeaseRace},
		{"KeyRotationRace", testReplicaKeyRotationRace},
		{"RateRace", testReplicaRateRace},
		{"Grants", testReplicaGrants},
		{"SubjectsByEmail", testReplicaSubjectsByEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
			tt.run(t, [2]store.Store{a, b})
		})
	}
}

// testReplicaAuthCodeRace: a code created on one replica and exchanged on both at once
// has exactly one winner; every loser sees ErrCodeUsed and the family to revoke.
func testReplicaAuthCodeRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	for round := range 5 {
		name := fmt.Sprint("code-", round)
		wantErr(t, "CreateAuthCode("+name+")", s[0].CreateAuthCode(ctx, code(name, "fam-"+name, t0.Add(time.Minute))), nil)
		errs := race(func(i int) error {
			c, err := s[i%2].UseAuthCode(ctx, hash(name), t0)
			if c.FamilyID != "fam-"+name {
				return fmt.Errorf("UseAuthCode FamilyID = %q, want %q (err %v)", c.FamilyID, "fam-"+name, err)
			}
			return err
		})
		wantEqual(t, "successes, ErrCodeUsed of UseAuthCode("+name+") on two replicas", tally(t, errs, store.ErrCodeUsed), []int{1, racers - 1})
	}
}

// testReplicaRotationGrace: a token rotated on one replica may be rotated again on the
// other within the grace window; after it, the other replica's reuse revokes the family
// for both.
func testReplicaRotationGrace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	wantErr(t, "CreateRefreshToken(a)", s[0].CreateRefreshToken(ctx, token("a", "fam-1", exp)), nil)
	_, err := s[0].RotateRefreshToken(ctx, hash("a"), token("b", "", exp), t0, time.Minute)
	wantErr(t, "replica 0: RotateRefreshToken(a->b)", err, nil)
	_, err = s[1].RotateRefreshToken(ctx, hash("a"), token("c", "", exp), t0.Add(59*time.Second), time.Minute)
	wantErr(t, "replica 1: RotateRefreshToken(a->c) within grace", err, nil)
	wantEqual(t, "replica 0: c.FamilyID", getToken(t, s[0], "c").FamilyID, "fam-1")

	reuse := t0.Add(time.Minute)
	old, err := s[1].RotateRefreshToken(ctx, hash("a"), token("d", "", exp), reuse, time.Minute)
	wantErr(t, "replica 1: RotateRefreshToken(a->d) at the end of grace", err, store.ErrTokenReused)
	wantEqual(t, "replica 1: RotateRefreshToken(a->d) old.FamilyID", old.FamilyID, "fam-1")
	for _, name := range []string{"a", "b", "c"} {
		wantEqual(t, "replica 0: "+name+".RevokedAt", getToken(t, s[0], name).RevokedAt, reuse)
	}
	revoked, err := s[0].FamilyRevoked(ctx, "fam-1")
	wantErr(t, "replica 0: FamilyRevoked(fam-1)", err, nil)
	wantEqual(t, "replica 0: FamilyRevoked(fam-1)", revoked, true)
	_, err = s[0].RotateRefreshToken(ctx, hash("b"), token("e", "", exp), reuse, time.Minute)
	wantErr(t, "replica 0: RotateRefreshToken(b) of the revoked family", err, store.ErrRevoked)
}

// testReplicaRotationRace: both replicas rotating one token at once, without grace: one
// rotation wins, one reuse revokes the family, the rest find it revoked, and the
// winner's new token is revoked on both replicas.
func testReplicaRotationRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	wantErr(t, "CreateRefreshToken(a)", s[0].CreateRefreshToken(ctx, token("a", "fam-1", exp)), nil)
	errs := race(func(i int) error {
		_, err := s[i%2].RotateRefreshToken(ctx, hash("a"), token(fmt.Sprint("a", i), "", exp), t0, 0)
		return err
	})
	n := tally(t, errs, store.ErrTokenReused, store.ErrRevoked)
	wantEqual(t, "successes, ErrTokenReused, ErrRevoked of rotations on two replicas", n, []int{1, 1, racers - 2})
	for i, err := range errs {
		if err == nil {
			for r := range s {
				wantEqual(t, fmt.Sprintf("replica %d: winner's token RevokedAt", r), getToken(t, s[r], fmt.Sprint("a", i)).RevokedAt, t0)
			}
		}
	}
}

// testReplicaRevokeFamilyRace: one replica revokes a family while the other rotates one
// of its tokens. Exactly one of them wins: either the rotation landed first and its new
// token is revoked too, or it fails with ErrRevoked and stored nothing. Never both a
// successful rotation and a live new token.
func testReplicaRevokeFamilyRace(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	var rotatedFirst, revokedFirst int
	for round := range 30 {
		fam, old, next := fmt.Sprint("fam-", round), fmt.Sprint("old-", round), fmt.Sprint("next-", round)
		wantErr(t, "CreateRefreshToken("+old+")", s[0].CreateRefreshToken(ctx, token(old, fam, exp)), nil)
		errs := race(func(i int) error {
			switch i {
			case 0:
				return s[1].RevokeFamily(ctx, fam, t0)
			case 1:
				_, err := s[0].RotateRefreshToken(ctx, hash(old), token(next, "", exp), t0, time.Minute)
				return err
			}
			return nil
		})
		wantErr(t, "replica 1: RevokeFamily("+fam+")", errs[0], nil)
		for r := range s {
			revoked, err := s[r].FamilyRevoked(ctx, fam)
			wantErr(t, fmt.Sprintf("replica %d: FamilyRevoked(%s)", r, fam), err, nil)
			wantEqual(t, fmt.Sprintf("replica %d: FamilyRevoked(%s)", r, fam), revoked, true)
			wantEqual(t, fmt.Sprintf("replica %d: %s.RevokedAt", r, old), getToken(t, s[r], old).RevokedAt, t0)
		}
		switch got, err := s[1].GetRefreshToken(ctx, hash(next)); {
		case errs[1] == nil:
			rotatedFirst++
			wantErr(t, "replica 1: GetRefreshToken("+next+") after a successful rotation", err, nil)
			wantEqual(t, "replica 1: "+next+".RevokedAt after the revocation", got.RevokedAt, t0)
		case errs[1] != nil:
			revokedFirst++
			wantErr(t, "replica 0: RotateRefreshToken("+old+") racing the revocation", errs[1], store.ErrRevoked)
			wantErr(t, "replica 1: GetRefreshToken("+next+") after a refused rotation", err, store.ErrNotFound)
		}
	}
	t.Logf("rotation first %d times, revocation first %d times", rotatedFirst, revokedFirst)
}
