package storetest

import (
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// testTokenRevoked: one question answers what AccessTokenRevoked, FamilyRevoked and
// SubjectRevokedAt answer one by one, for a token issued at a given moment. (How long a
// subject's revocation is kept is testSubjectGC's.)
func testTokenRevoked(t *testing.T, s store.Store) {
	ctx := t.Context()
	at := now().Truncate(time.Second) // token iat is in whole seconds
	until := at.Add(time.Hour)
	wantErr(t, "RevokeAccessToken(jti-r)", s.RevokeAccessToken(ctx, "jti-r", until), nil)
	wantErr(t, "CreateRefreshToken(fam-r)", s.CreateRefreshToken(ctx, token("t-r", "fam-r", until)), nil)
	wantErr(t, "RevokeFamily(fam-r)", s.RevokeFamily(ctx, "fam-r", at), nil)
	wantErr(t, "RevokeSubject(bob)", s.RevokeSubject(ctx, "bob", at, until), nil)
	before, after := at.Add(-time.Minute), at.Add(time.Minute)
	tests := []struct {
		name string
		c    store.TokenCheck
		want bool
	}{
		{"nothing revoked", store.TokenCheck{JTI: "jti-ok", Family: "fam-ok", Subjects: []string{"alice", "client:c1"}, IssuedAt: before}, false},
		{"empty names", store.TokenCheck{Subjects: []string{""}, IssuedAt: before}, false},
		{"jti on the denylist", store.TokenCheck{JTI: "jti-r", Family: "fam-ok", IssuedAt: after}, true},
		{"family revoked", store.TokenCheck{JTI: "jti-ok", Family: "fam-r", IssuedAt: after}, true},
		{"subject revoked after issue", store.TokenCheck{JTI: "jti-ok", Subjects: []string{"alice", "bob"}, IssuedAt: before}, true},
		{"subject revoked at issue", store.TokenCheck{JTI: "jti-ok", Subjects: []string{"bob"}, IssuedAt: at}, true},
		{"issued after the subject's revocation", store.TokenCheck{JTI: "jti-ok", Subjects: []string{"bob"}, IssuedAt: after}, false},
	}
	for _, tt := range tests {
		got, err := s.TokenRevoked(ctx, tt.c)
		wantErr(t, "TokenRevoked("+tt.name+")", err, nil)
		wantEqual(t, "TokenRevoked("+tt.name+")", got, tt.want)
	}
}
