package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
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
	if !s.deny.Denied("any-jti", "fa", "alice", "c1", now, now) {
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

// TestRevokePerson: revoking alice ends at once her cached access token (here and for
// a verifier that never saw it), her refresh token, a code issued before and not yet
// redeemed, her browser session and her consent; /introspect calls the token inactive.
// A login after the revocation starts afresh.
func TestRevokePerson(t *testing.T) {
	e := newIntrospectEnv(t)
	a := e.tokens()
	at, rt := a.str("access_token"), a.str("refresh_token")
	if _, err := e.verify(at); err != nil {
		t.Fatalf("verify(fresh token) = %v", err)
	}
	pending := e.code(authParams())
	n, err := e.as.RevokePerson(t.Context(), aliceEmail)
	if err != nil || n != (Revoked{Grants: 1, Sessions: 1, Consents: 1, Tokens: true}) {
		t.Fatalf("RevokePerson(alice) = %+v, %v; want 1 grant, 1 session, 1 consent, tokens", n, err)
	}
	if _, err := e.verify(at); !errors.Is(err, auth.ErrInvalidCredential) {
		t.Errorf("verify(cached token) after RevokePerson = %v, want invalid", err)
	}
	if got := e.introspect(url.Values{"token": {at}}, rsClient, rsSecret); got.body["active"] != false {
		t.Errorf("introspect after RevokePerson = %v, want inactive", got.body)
	}
	if got := e.refresh(rt); got.status != http.StatusBadRequest || got.str("error") != codeInvalidGrant {
		t.Errorf("refresh after RevokePerson = %d %v, want invalid_grant", got.status, got.body)
	}
	if got := e.exchange(pending); got.str("error") != codeInvalidGrant || got.str("error_description") != "the authorization code was revoked" {
		t.Errorf("exchange of a code issued before RevokePerson = %d %v, want invalid_grant", got.status, got.body)
	}
	e.wantLogin("after RevokePerson")
	e.restart() // a replica that never saw the token: the store's subject record refuses it
	if _, err := e.verify(at); !errors.Is(err, auth.ErrInvalidCredential) {
		t.Errorf("verify(token) on a fresh verifier after RevokePerson = %v, want invalid", err)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := e.verify(e.tokens().str("access_token")); err != nil {
		t.Errorf("verify(token of a login after the revocation) = %v, want valid", err)
	}
	if n, err := e.as.RevokePerson(t.Context(), ""); err == nil {
		t.Errorf("RevokePerson(\"\") = %+v, nil; want an error", n)
	}
}

// TestRevokeClient: a registered client is deleted with its grants and consents; a
// configured one keeps its registration but loses its grants, consents and tokens,
// its client_credentials tokens too; an unknown client is ErrNoClient.
func TestRevokeClient(t *testing.T) {
	ctx := t.Context()
	e := newIntrospectEnv(t)
	a := e.tokens()
	at, rt := a.str("access_token"), a.str("refresh_token")
	mt := e.postToken("/token", url.Values{"grant_type": {"client_credentials"}}, rsMachine, rsMSecret).str("access_token")
	for _, tok := range []string{at, mt} {
		if _, err := e.verify(tok); err != nil {
			t.Fatalf("verify(fresh token) = %v", err)
		}
	}
	kind, n, err := e.as.RevokeClient(ctx, pubClient)
	if err != nil || kind != kindStatic || n != (Revoked{Grants: 1, Consents: 1, Tokens: true}) {
		t.Fatalf("RevokeClient(static) = %q, %+v, %v; want static, 1 grant, 1 consent, tokens", kind, n, err)
	}
	if _, err := e.verify(at); !errors.Is(err, auth.ErrInvalidCredential) {
		t.Errorf("verify(person's token of the client) after RevokeClient = %v, want invalid", err)
	}
	if got := e.refresh(rt); got.str("error") != codeInvalidGrant {
		t.Errorf("refresh after RevokeClient = %d %v, want invalid_grant", got.status, got.body)
	}
	if _, _, err := e.as.RevokeClient(ctx, rsMachine); err != nil {
		t.Fatal(err)
	}
	if _, err := e.verify(mt); !errors.Is(err, auth.ErrInvalidCredential) {
		t.Errorf("verify(client_credentials token) after RevokeClient = %v, want invalid", err)
	}

	now := e.clock.Now()
	dcr := store.Client{ID: "mcpg-dcr", Kind: kindDCR, RedirectURIs: []string{"http://127.0.0.1/cb"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.st.CreateClient(ctx, dcr); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateRefreshToken(ctx, store.RefreshToken{TokenHash: hashToken("d"), FamilyID: "fd", ClientID: dcr.ID,
		Identity: store.Identity{Subject: "bob"}, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if cs, err := e.as.Clients(ctx); err != nil || len(cs) != 6 || cs[5].ID != dcr.ID || cs[5].Kind != kindDCR || cs[0].Kind != kindStatic {
		t.Errorf("Clients = %+v, %v; want the 5 configured, then the registered one", cs, err)
	}
	kind, n, err = e.as.RevokeClient(ctx, dcr.ID)
	if err != nil || kind != kindDCR || n != (Revoked{Grants: 1, Client: true, Tokens: true}) {
		t.Fatalf("RevokeClient(dcr) = %q, %+v, %v; want dcr, 1 grant, deleted, tokens", kind, n, err)
	}
	if _, err := e.st.GetClient(ctx, dcr.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetClient after RevokeClient = %v, want ErrNotFound", err)
	}
	if _, _, err := e.as.RevokeClient(ctx, dcr.ID); !errors.Is(err, ErrNoClient) {
		t.Errorf("RevokeClient(deleted) = %v, want ErrNoClient", err)
	}

	// A CIMD client is listed by its grants, and revoked without a registration to delete.
	const cimd = "https://app.example.com/client.json"
	for i, sub := range []string{"bob", "carol"} {
		if err := e.st.CreateRefreshToken(ctx, store.RefreshToken{TokenHash: hashToken(sub), FamilyID: "fc-" + sub, ClientID: cimd,
			Identity: store.Identity{Subject: sub}, IssuedAt: now.Add(time.Duration(i) * time.Minute), ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := e.as.Clients(ctx)
	if last := cs[len(cs)-1]; err != nil || last.ID != cimd || last.Kind != kindCIMD || !last.CreatedAt.Equal(now) || !last.LastUsedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("Clients = %+v, %v; want the CIMD client last, created at its first grant, used at its last", cs, err)
	}
	kind, n, err = e.as.RevokeClient(ctx, cimd)
	if err != nil || kind != kindCIMD || n != (Revoked{Grants: 2, Tokens: true}) {
		t.Errorf("RevokeClient(cimd) = %q, %+v, %v; want cimd, 2 grants, tokens", kind, n, err)
	}
	if _, _, err := e.as.RevokeClient(ctx, "no-such-client"); !errors.Is(err, ErrNoClient) {
		t.Errorf("RevokeClient(unknown) = %v, want ErrNoClient", err)
	}
}
