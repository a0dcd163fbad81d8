package oauth

import (
	"errors"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

func TestRevokeGrant(t *testing.T) {
	ctx := t.Context()
	e := newFlowEnv(t, nil)
	s, st := e.as, e.st
	now := s.now()
	for _, rt := range []store.RefreshToken{
		{TokenHash: hashToken("a"), FamilyID: "fa", ClientID: "c1", Identity: store.Identity{Subject: "alice"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
		{TokenHash: hashToken("b"), FamilyID: "fb", ClientID: "c1", Identity: store.Identity{Subject: "bob"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := st.CreateRefreshToken(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutConsent(ctx, store.Consent{Subject: "alice", ClientID: "c1", Scopes: []string{"mcp"}, GrantedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Bob may not revoke Alice's grant, and an unknown grant is no grant.
	for _, tt := range []struct{ name, id, subject string }{
		{"another person's", "fa", "bob"},
		{"unknown", "nope", ""},
	} {
		if _, _, err := s.RevokeGrant(ctx, tt.id, tt.subject); !errors.Is(err, ErrNoGrant) {
			t.Errorf("RevokeGrant(%s) = %v, want ErrNoGrant", tt.name, err)
		}
	}
	g, n, err := s.RevokeGrant(ctx, "fa", "alice")
	if err != nil || g.ID != "fa" || n != (Revoked{Grants: 1, Consents: 1}) {
		t.Fatalf("RevokeGrant(fa, alice) = %+v, %+v, %v; want fa, 1 grant, 1 consent", g, n, err)
	}
	if !s.deny.Denied("any-jti", "fa", now) {
		t.Error("after RevokeGrant, the family's access tokens are not denied here")
	}
	if revoked, err := st.FamilyRevoked(ctx, "fa"); err != nil || !revoked {
		t.Errorf("FamilyRevoked(fa) = %v, %v; want true", revoked, err)
	}
	if _, err := st.GetConsent(ctx, "alice", "c1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent(alice, c1) after RevokeGrant = %v, want ErrNotFound", err)
	}
	if _, _, err := s.RevokeGrant(ctx, "fa", ""); !errors.Is(err, ErrNoGrant) {
		t.Errorf("RevokeGrant(fa) twice = %v, want ErrNoGrant", err)
	}
	if revoked, _ := st.FamilyRevoked(ctx, "fb"); revoked {
		t.Error("RevokeGrant(fa) revoked bob's family too")
	}
}
