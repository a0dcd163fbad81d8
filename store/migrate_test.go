package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// fill writes one record of every kind and state into s, some of them already expired,
// and returns what a copy must carry.
func fill(t *testing.T, s store.Store, t0 time.Time) {
	t.Helper()
	ctx := t.Context()
	id := store.Identity{Subject: "sub-1", Email: "alice@example.com", EmailVerified: true, Groups: []string{"eng"}}
	exp, gone := t0.Add(time.Hour), time.Now().Add(-time.Hour)
	code := func(h, fam string, exp time.Time) store.AuthCode {
		return store.AuthCode{CodeHash: h, ClientID: "c1", RedirectURI: "https://app.example/cb", Scopes: []string{"mcp:read"}, Identity: id, FamilyID: fam, ExpiresAt: exp}
	}
	token := func(h, fam string, exp time.Time) store.RefreshToken {
		return store.RefreshToken{TokenHash: h, FamilyID: fam, ClientID: "c1", Scopes: []string{"mcp:read"}, Identity: id, IssuedAt: t0, ExpiresAt: exp}
	}
	used := code("code-used", "fam-code", exp)
	for name, err := range map[string]error{
		"client static":  s.CreateClient(ctx, store.Client{ID: "c1", RedirectURIs: []string{"https://app.example/cb"}, Kind: "static", CreatedAt: t0}),
		"client dcr":     s.CreateClient(ctx, store.Client{ID: "dcr-1", RedirectURIs: []string{"http://127.0.0.1/cb"}, Kind: "dcr", CreatedAt: t0, ExpiresAt: exp}),
		"client expired": s.CreateClient(ctx, store.Client{ID: "dcr-old", RedirectURIs: []string{"http://127.0.0.1/cb"}, Kind: "dcr", ExpiresAt: gone}),
		"code":           s.CreateAuthCode(ctx, code("code-1", "fam-a", exp)),
		"code used":      s.CreateAuthCode(ctx, used),
		"code expired":   s.CreateAuthCode(ctx, code("code-old", "fam-b", gone)),
		"token":          s.CreateRefreshToken(ctx, token("rt-1", "fam-1", exp)),
		"token expired":  s.CreateRefreshToken(ctx, token("rt-old", "fam-1", gone)),
		"token revoked":  s.CreateRefreshToken(ctx, token("rt-r", "fam-r", exp)),
		"consent":        s.PutConsent(ctx, store.Consent{Subject: "sub-1", ClientID: "c1", Scopes: []string{"mcp:read"}, Resource: "https://mcp.example.com/mcp", GrantedAt: t0}),
		"key":            s.AddSigningKey(ctx, store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{0x30, 0x81, 0x87}, CreatedAt: t0, NotBefore: t0.Add(10 * time.Minute)}),
		"denied":         s.RevokeAccessToken(ctx, "jti-1", exp),
		"denied expired": s.RevokeAccessToken(ctx, "jti-old", gone),
		"session": s.CreateSession(ctx, store.Session{ID: "sess-1", Identity: id, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(8 * time.Hour), IdleExpiresAt: exp,
			ClientAddr: "192.0.2.7", UserAgent: "Mozilla/5.0"}),
		"subject":         s.RevokeSubject(ctx, "sub-1", t0, exp),
		"subject expired": s.RevokeSubject(ctx, "sub-old", gone.Add(-time.Hour), gone),
		"session ended":   s.CreateSession(ctx, store.Session{ID: "sess-old", Identity: id, CreatedAt: gone.Add(-time.Hour), LastUsedAt: gone.Add(-time.Hour), ExpiresAt: exp, IdleExpiresAt: gone}),
	} {
		if err != nil {
			t.Fatalf("fill: %s: %v", name, err)
		}
	}
	if _, err := s.UseAuthCode(ctx, "code-used", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRefreshToken(ctx, "rt-1", token("rt-2", "", exp), t0, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeFamily(ctx, "fam-r", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeFamily(ctx, "fam-code", t0); err != nil { // a replayed code's family, no token
		t.Fatal(err)
	}
}

// state reads back what fill wrote, through the Store interface, without changing it.
func state(t *testing.T, s store.Store) map[string]any {
	t.Helper()
	ctx := t.Context()
	got := map[string]any{}
	read := func(name string, v any, err error) {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: %v", name, err)
		}
		got[name] = v
		if errors.Is(err, store.ErrNotFound) {
			got[name] = "not found"
		}
	}
	for _, id := range []string{"c1", "dcr-1", "dcr-old"} {
		c, err := s.GetClient(ctx, id)
		read("client "+id, c, err)
	}
	for _, h := range []string{"rt-1", "rt-2", "rt-old", "rt-r"} {
		tok, err := s.GetRefreshToken(ctx, h)
		read("token "+h, tok, err)
	}
	for _, f := range []string{"fam-1", "fam-r", "fam-code"} {
		ok, err := s.FamilyRevoked(ctx, f)
		read("family revoked "+f, ok, err)
	}
	for _, jti := range []string{"jti-1", "jti-old"} {
		ok, err := s.AccessTokenRevoked(ctx, jti)
		read("denied "+jti, ok, err)
	}
	c, err := s.GetConsent(ctx, "sub-1", "c1")
	read("consent", c, err)
	for _, id := range []string{"sess-1", "sess-old"} {
		ss, err := s.GetSession(ctx, id, time.Now())
		read("session "+id, ss, err)
	}
	for _, sub := range []string{"sub-1", "sub-old"} {
		at, err := s.SubjectRevokedAt(ctx, sub)
		read("subject revoked "+sub, at, err)
	}
	keys, err := s.SigningKeys(ctx)
	read("keys", keys, err)
	n, err := s.CountClients(ctx)
	read("clients", n, err)
	return got
}

// TestCopy moves one store's records bolt -> redis -> postgres -> bolt, each copy run
// twice: the second copies nothing. The last store holds what the first did, less what
// had expired; codes keep their state (used stays used).
func TestCopy(t *testing.T) {
	ctx := t.Context()
	t0 := time.Now().UTC().Truncate(time.Second)
	first := mustOpen(t, "bolt://"+boltPath(t))
	fill(t, first, t0)
	want := state(t, first)
	// What had expired stays behind.
	want["client dcr-old"], want["token rt-old"], want["denied jti-old"] = "not found", "not found", false

	chain := []store.Store{first, mustOpen(t, freshRedis(t)), mustOpen(t, freshPostgres(t)), mustOpen(t, "bolt://"+boltPath(t))}
	for i := 1; i < len(chain); i++ {
		n, err := store.Copy(ctx, chain[i-1], chain[i], time.Now())
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		wantN := store.Counts{Clients: 2, AuthCodes: 2, RefreshTokens: 3, RevokedFamilies: 2, Denylist: 1, Consents: 1, Sessions: 1, SigningKeys: 1, RevokedSubjects: 1}
		if n != wantN {
			t.Errorf("copy %d: Copy() = %v, want %v", i, n, wantN)
		}
		again, err := store.Copy(ctx, chain[i-1], chain[i], time.Now())
		if err != nil {
			t.Fatalf("copy %d again: %v", i, err)
		}
		// Consents are replaced, not skipped: the one record a second run writes again.
		if wantAgain := (store.Counts{Consents: 1, Present: 13}); again != wantAgain {
			t.Errorf("copy %d again: Copy() = %v, want %v", i, again, wantAgain)
		}
	}
	last := chain[len(chain)-1]
	if got := state(t, last); !reflect.DeepEqual(got, want) {
		for k := range want {
			if !reflect.DeepEqual(got[k], want[k]) {
				t.Errorf("after bolt -> redis -> postgres -> bolt: %s = %+v, want %+v", k, got[k], want[k])
			}
		}
	}
	for h, wantErr := range map[string]error{"code-1": nil, "code-used": store.ErrCodeUsed, "code-old": store.ErrNotFound} {
		if _, err := last.UseAuthCode(context.WithoutCancel(ctx), h, t0); !errors.Is(err, wantErr) {
			t.Errorf("UseAuthCode(%s) after the copies = %v, want %v", h, err, wantErr)
		}
	}
}
