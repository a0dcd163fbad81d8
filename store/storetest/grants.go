package storetest

import (
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// grantToken is token(name, family, …) for subject and clientID, issued at issued.
func grantToken(name, family, subject, clientID string, issued time.Time) store.RefreshToken {
	tok := token(name, family, issued.Add(24*time.Hour))
	tok.Identity.Subject, tok.ClientID, tok.IssuedAt = subject, clientID, issued
	return tok
}

// grantIDs is the IDs of gs, in order.
func grantIDs(gs []store.Grant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

func testGrantListing(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tok := range []store.RefreshToken{
		grantToken("a1", "fa", "alice", "c1", t0),
		grantToken("b1", "fb", "bob", "c1", t0.Add(time.Minute)),
		grantToken("c1", "fc", "alice", "c2", t0.Add(2*time.Minute)),
		grantToken("d1", "fd", "alice", "c2", t0.Add(3*time.Minute)),
	} {
		wantErr(t, "CreateRefreshToken("+tok.FamilyID+")", s.CreateRefreshToken(ctx, tok), nil)
	}
	// fa is refreshed: the grant keeps its first issue, its last use and scopes move on.
	next := grantToken("a2", "", "alice", "c1", t0.Add(time.Hour))
	next.Scopes = []string{"mcp:read", "mcp:write"}
	_, err := s.RotateRefreshToken(ctx, hash("a1"), next, t0.Add(time.Hour), time.Second)
	wantErr(t, "RotateRefreshToken(a1)", err, nil)
	wantErr(t, "RevokeFamily(fd)", s.RevokeFamily(ctx, "fd", t0.Add(time.Hour)), nil)

	at := t0.Add(2 * time.Hour)
	tests := []struct {
		name, subject, client string
		want                  []string
	}{
		{"all", "", "", []string{"fa", "fb", "fc"}},
		{"by subject", "alice", "", []string{"fa", "fc"}},
		{"by client", "", "c1", []string{"fa", "fb"}},
		{"by both", "alice", "c2", []string{"fc"}},
		{"nobody", "carol", "", []string{}},
	}
	for _, tt := range tests {
		got, err := s.ListGrants(ctx, tt.subject, tt.client, at)
		wantErr(t, "ListGrants("+tt.name+")", err, nil)
		wantEqual(t, "ListGrants("+tt.name+")", grantIDs(got), tt.want)
	}
	got, err := s.ListGrants(ctx, "alice", "c1", at)
	wantErr(t, "ListGrants(alice, c1)", err, nil)
	want := store.Grant{
		ID: "fa", ClientID: "c1", Subject: "alice", Email: identity().Email, Resource: next.Resource,
		Scopes: []string{"mcp:read", "mcp:write"}, GrantedAt: t0, LastUsedAt: t0.Add(time.Hour), ExpiresAt: next.ExpiresAt,
	}
	wantEqual(t, "ListGrants(alice, c1)", got, []store.Grant{want})
	// A day later every current token has expired: no grant is live.
	got, err = s.ListGrants(ctx, "", "", t0.Add(48*time.Hour))
	wantErr(t, "ListGrants(+48h)", err, nil)
	wantEqual(t, "ListGrants(+48h)", grantIDs(got), []string{})
}

func testClientListing(t *testing.T, s store.Store) {
	ctx := t.Context()
	live := now().Add(time.Hour)
	b, a := client("b", live), client("a", time.Time{})
	gone := client("gone", now().Add(-time.Second))
	for _, c := range []store.Client{b, a, gone} {
		wantErr(t, "CreateClient("+c.ID+")", s.CreateClient(ctx, c), nil)
	}
	got, err := s.ListClients(ctx)
	wantErr(t, "ListClients", err, nil)
	wantEqual(t, "ListClients", got, []store.Client{a, b}) // same CreatedAt: by ID; expired left out
}

func testDeleteConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, c := range []store.Consent{
		{Subject: "alice", ClientID: "c1", Scopes: []string{"mcp:read"}, GrantedAt: t0},
		{Subject: "alice", ClientID: "c2", Scopes: []string{"mcp:read"}, GrantedAt: t0},
		{Subject: "bob", ClientID: "c1", Scopes: []string{"mcp:read"}, GrantedAt: t0},
		{Subject: "bob", ClientID: "c3", Scopes: []string{"mcp:read"}, GrantedAt: t0},
	} {
		wantErr(t, "PutConsent", s.PutConsent(ctx, c), nil)
	}
	_, err := s.DeleteConsents(ctx, "", "")
	if err == nil {
		t.Fatal(`DeleteConsents("", "") = nil, want an error`)
	}
	steps := []struct {
		subject, client string
		want            int
	}{
		{"alice", "c2", 1}, {"", "c1", 2}, {"bob", "", 1}, {"bob", "", 0},
	}
	for _, st := range steps {
		n, err := s.DeleteConsents(ctx, st.subject, st.client)
		wantErr(t, "DeleteConsents("+st.subject+", "+st.client+")", err, nil)
		wantEqual(t, "DeleteConsents("+st.subject+", "+st.client+")", n, st.want)
	}
	for _, k := range [][2]string{{"alice", "c1"}, {"alice", "c2"}, {"bob", "c1"}, {"bob", "c3"}} {
		_, err := s.GetConsent(ctx, k[0], k[1])
		wantErr(t, "GetConsent("+k[0]+", "+k[1]+")", err, store.ErrNotFound)
	}
}

// testReplicaGrants: a grant made through one replica is listed, and revoked, by the other.
func testReplicaGrants(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	wantErr(t, "a.CreateRefreshToken", s[0].CreateRefreshToken(ctx, grantToken("r1", "fr", "alice", "c1", t0)), nil)
	got, err := s[1].ListGrants(ctx, "alice", "", t0)
	wantErr(t, "b.ListGrants", err, nil)
	wantEqual(t, "b.ListGrants", grantIDs(got), []string{"fr"})
	wantErr(t, "b.RevokeFamily", s[1].RevokeFamily(ctx, "fr", t0), nil)
	got, err = s[0].ListGrants(ctx, "alice", "", t0)
	wantErr(t, "a.ListGrants after revoke", err, nil)
	wantEqual(t, "a.ListGrants after revoke", grantIDs(got), []string{})
}
