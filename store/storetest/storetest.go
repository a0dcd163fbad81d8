// Package storetest is the behavioural suite every store backend passes, in the style of
// dex's storage/conformance: one set of subtests, run against each [store.Store].
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// Run runs the suite as subtests of t. open returns a fresh, empty store for each
// subtest; Run closes it when the subtest ends (after which open's own t.Cleanup
// functions run). The store's clock must be the real time.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(*testing.T, store.Store)
	}{
		{"ClientCRUD", testClientCRUD},
		{"ClientExpiry", testClientExpiry},
		{"AuthCodeSingleUse", testAuthCodeSingleUse},
		{"AuthCodeExpiry", testAuthCodeExpiry},
		{"AuthCodeConcurrentUse", testAuthCodeConcurrentUse},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshRotationErrors", testRefreshRotationErrors},
		{"ConcurrentRotation", testConcurrentRotation},
		{"RevokeFamily", testRevokeFamily},
		{"AccessTokenDenylist", testAccessTokenDenylist},
		{"Consents", testConsents},
		{"SigningKeys", testSigningKeys},
		{"SigningKeyRotation", testSigningKeyRotation},
		{"GC", testGC},
		{"AssertionSingleUse", testAssertionSingleUse},
		{"AssertionGC", testAssertionGC},
		{"SessionCRUD", testSessionCRUD},
		{"SessionExpiry", testSessionExpiry},
		{"SessionGC", testSessionGC},
		{"SubjectRevocations", testSubjectRevocations},
		{"SubjectGC", testSubjectGC},
		{"TokenRevoked", testTokenRevoked},
		{"RateLimit", testRateLimit},
		{"GrantListing", testGrantListing},
		{"ClientListing", testClientListing},
		{"DeleteConsents", testDeleteConsents},
		{"SubjectsByEmail", testSubjectsByEmail},
		{"Ping", testPing},
		{"Copies", testCopies},
		{"CanceledContext", testCanceledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { _ = s.Close() })
			tt.run(t, s)
		})
	}
}

// t0 is the fixed "now" of every test that passes its own time.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// hash is the hex SHA-256 of s, as the store's callers key codes and tokens.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// wantErr fails t unless err is want (nil included).
func wantErr(t testing.TB, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", call, err, want)
	}
}

// wantEqual fails t unless got and want are deeply equal.
func wantEqual(t testing.TB, call string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %+v, want %+v", call, got, want)
	}
}

// client returns a complete client with id; times are in UTC without a monotonic reading.
func client(id string, expiresAt time.Time) store.Client {
	return store.Client{
		ID: id, SecretHash: hash("secret-" + id), Name: "App " + id,
		RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1/cb"},
		GrantTypes:   []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		ApplicationType: "web", TokenEndpointAuthMethod: "client_secret_basic", Scope: "mcp:read mcp:write",
		ClientURI: "https://app.example", LogoURI: "https://app.example/logo.png", Kind: "dcr",
		CreatedAt: t0, LastUsedAt: t0, ExpiresAt: expiresAt,
	}
}

// now is the real time in UTC without a monotonic reading, so it survives encoding unchanged.
func now() time.Time {
	return time.Now().UTC().Round(0)
}

func testClientCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := client("c1", time.Time{})
	wantErr(t, "CreateClient(c1)", s.CreateClient(ctx, c), nil)
	wantErr(t, "CreateClient(c1) again", s.CreateClient(ctx, c), store.ErrExists)
	got, err := s.GetClient(ctx, "c1")
	wantErr(t, "GetClient(c1)", err, nil)
	wantEqual(t, "GetClient(c1)", got, c)
	_, err = s.GetClient(ctx, "nope")
	wantErr(t, "GetClient(nope)", err, store.ErrNotFound)
	wantErr(t, "CreateClient(c2)", s.CreateClient(ctx, client("c2", time.Time{})), nil)
	n, err := s.CountClients(ctx)
	wantErr(t, "CountClients()", err, nil)
	wantEqual(t, "CountClients()", n, 2)
	wantErr(t, "DeleteClient(c1)", s.DeleteClient(ctx, "c1"), nil)
	_, err = s.GetClient(ctx, "c1")
	wantErr(t, "GetClient(c1) after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteClient(c1) again", s.DeleteClient(ctx, "c1"), store.ErrNotFound)
	n, _ = s.CountClients(ctx)
	wantEqual(t, "CountClients() after delete", n, 1)
	if err := s.CreateClient(ctx, store.Client{}); err == nil {
		t.Fatal("CreateClient(no id) = nil, want an error")
	}
}

func testClientExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := now()
	wantErr(t, "CreateClient(old)", s.CreateClient(ctx, client("old", base.Add(-time.Minute))), nil)
	_, err := s.GetClient(ctx, "old")
	wantErr(t, "GetClient(old) past ExpiresAt", err, store.ErrNotFound)
	n, _ := s.CountClients(ctx)
	wantEqual(t, "CountClients() with only an expired client", n, 0)
	wantErr(t, "TouchClient(old)", s.TouchClient(ctx, "old", base, time.Hour), store.ErrNotFound)
	wantErr(t, "CreateClient(old) over the expired one", s.CreateClient(ctx, client("old", time.Time{})), nil)

	wantErr(t, "CreateClient(dcr)", s.CreateClient(ctx, client("dcr", base.Add(time.Minute))), nil)
	touch := base.Add(30 * time.Second)
	wantErr(t, "TouchClient(dcr, 24h)", s.TouchClient(ctx, "dcr", touch, 24*time.Hour), nil)
	got, err := s.GetClient(ctx, "dcr")
	wantErr(t, "GetClient(dcr)", err, nil)
	want := client("dcr", touch.Add(24*time.Hour))
	want.LastUsedAt = touch
	wantEqual(t, "GetClient(dcr) after TouchClient", got, want)

	wantErr(t, "TouchClient(dcr, 0)", s.TouchClient(ctx, "dcr", touch.Add(time.Second), 0), nil)
	got, _ = s.GetClient(ctx, "dcr")
	want.LastUsedAt = touch.Add(time.Second)
	wantEqual(t, "GetClient(dcr) after TouchClient without ttl", got, want)
	wantErr(t, "TouchClient(nope)", s.TouchClient(ctx, "nope", base, time.Hour), store.ErrNotFound)
}

func testAccessTokenDenylist(t *testing.T, s store.Store) {
	ctx := t.Context()
	revoked := func(jti string) bool {
		t.Helper()
		ok, err := s.AccessTokenRevoked(ctx, jti)
		wantErr(t, "AccessTokenRevoked("+jti+")", err, nil)
		return ok
	}
	wantEqual(t, "AccessTokenRevoked(j1) before", revoked("j1"), false)
	wantErr(t, "RevokeAccessToken(j1)", s.RevokeAccessToken(ctx, "j1", t0.Add(time.Hour)), nil)
	wantErr(t, "RevokeAccessToken(j1) earlier", s.RevokeAccessToken(ctx, "j1", t0.Add(time.Minute)), nil)
	wantEqual(t, "AccessTokenRevoked(j1)", revoked("j1"), true)
	wantEqual(t, "AccessTokenRevoked(j2)", revoked("j2"), false)
	n, err := s.GC(ctx, t0.Add(30*time.Minute))
	wantErr(t, "GC(t0+30m)", err, nil)
	wantEqual(t, "GC(t0+30m)", n, 0)
	wantEqual(t, "AccessTokenRevoked(j1) after GC before expiry", revoked("j1"), true)
	n, _ = s.GC(ctx, t0.Add(2*time.Hour))
	wantEqual(t, "GC(t0+2h)", n, 1)
	wantEqual(t, "AccessTokenRevoked(j1) after GC past expiry", revoked("j1"), false)
}

func testConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetConsent(ctx, "alice", "c1")
	wantErr(t, "GetConsent(alice, c1) before", err, store.ErrNotFound)
	c := store.Consent{Subject: "alice", ClientID: "c1", Scopes: []string{"mcp:read"}, Resource: "https://mcp.example.com/mcp", GrantedAt: t0}
	wantErr(t, "PutConsent(alice, c1)", s.PutConsent(ctx, c), nil)
	got, err := s.GetConsent(ctx, "alice", "c1")
	wantErr(t, "GetConsent(alice, c1)", err, nil)
	wantEqual(t, "GetConsent(alice, c1)", got, c)

	c.Scopes, c.GrantedAt = []string{"mcp:read", "mcp:write"}, t0.Add(time.Hour)
	wantErr(t, "PutConsent(alice, c1) again", s.PutConsent(ctx, c), nil)
	got, _ = s.GetConsent(ctx, "alice", "c1")
	wantEqual(t, "GetConsent(alice, c1) after replace", got, c)

	for _, k := range [][2]string{{"alice", "c2"}, {"bob", "c1"}, {"alicec", "1"}, {"alic", "ec1"}} {
		_, err := s.GetConsent(ctx, k[0], k[1])
		wantErr(t, "GetConsent("+k[0]+", "+k[1]+")", err, store.ErrNotFound)
	}
	if err := s.PutConsent(ctx, store.Consent{ClientID: "c1"}); err == nil {
		t.Fatal("PutConsent(no subject) = nil, want an error")
	}
}

func testSigningKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys, err := s.SigningKeys(ctx)
	wantErr(t, "SigningKeys() empty", err, nil)
	wantEqual(t, "len(SigningKeys()) empty", len(keys), 0)
	key := func(id string, at time.Time) store.SigningKey {
		return store.SigningKey{ID: id, Algorithm: "ES256", PrivateKey: []byte("der-" + id), CreatedAt: at}
	}
	k1, k2, k3 := key("k1", t0), key("k2", t0.Add(time.Hour)), key("k3", t0.Add(2*time.Hour))
	for _, k := range []store.SigningKey{k2, k3, k1} {
		wantErr(t, "AddSigningKey("+k.ID+")", s.AddSigningKey(ctx, k), nil)
	}
	wantErr(t, "AddSigningKey(k1) again", s.AddSigningKey(ctx, k1), store.ErrExists)
	keys, err = s.SigningKeys(ctx)
	wantErr(t, "SigningKeys()", err, nil)
	wantEqual(t, "SigningKeys()", keys, []store.SigningKey{k1, k2, k3})
}

func testCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := client("c1", time.Time{})
	wantErr(t, "CreateClient(c1)", s.CreateClient(ctx, c), nil)
	c.RedirectURIs[0] = "https://evil.example/cb"
	got, _ := s.GetClient(ctx, "c1")
	got.GrantTypes[0] = "implicit"
	got, _ = s.GetClient(ctx, "c1")
	wantEqual(t, "GetClient(c1) after mutating slices", got, client("c1", time.Time{}))

	ac := code("code-1", "fam-1", t0.Add(time.Minute))
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, ac), nil)
	ac.Scopes[0], ac.Identity.Groups[0] = "admin", "admins"
	used, _ := s.UseAuthCode(ctx, hash("code-1"), t0)
	used.Scopes[1] = "admin"
	replay, err := s.UseAuthCode(ctx, hash("code-1"), t0)
	wantErr(t, "UseAuthCode(code-1) again", err, store.ErrCodeUsed)
	want := code("code-1", "fam-1", t0.Add(time.Minute))
	want.UsedAt = t0
	wantEqual(t, "UseAuthCode(code-1) after mutating slices", replay, want)

	rt := token("rt", "fam-1", t0.Add(time.Hour))
	wantErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	rt.Scopes[0] = "admin"
	got2 := getToken(t, s, "rt")
	got2.Identity.Groups[0] = "admins"
	wantEqual(t, "GetRefreshToken(rt) after mutating slices", getToken(t, s, "rt"), token("rt", "fam-1", t0.Add(time.Hour)))

	con := store.Consent{Subject: "alice", ClientID: "c1", Scopes: []string{"mcp:read"}}
	wantErr(t, "PutConsent", s.PutConsent(ctx, con), nil)
	con.Scopes[0] = "admin"
	gotCon, _ := s.GetConsent(ctx, "alice", "c1")
	gotCon.Scopes[0] = "admin"
	gotCon, _ = s.GetConsent(ctx, "alice", "c1")
	wantEqual(t, "GetConsent(alice, c1) after mutating slices", gotCon.Scopes, []string{"mcp:read"})

	k := store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte("der"), CreatedAt: t0}
	wantErr(t, "AddSigningKey", s.AddSigningKey(ctx, k), nil)
	k.PrivateKey[0] = 'X'
	keys, _ := s.SigningKeys(ctx)
	keys[0].PrivateKey[1] = 'X'
	keys, _ = s.SigningKeys(ctx)
	wantEqual(t, "SigningKeys()[0].PrivateKey after mutating", string(keys[0].PrivateKey), "der")
}

func testPing(t *testing.T, s store.Store) {
	wantErr(t, "Ping()", s.Ping(t.Context()), nil)
	wantErr(t, "Close()", s.Close(), nil)
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping() after Close = nil, want an error")
	}
	if _, err := s.GetClient(t.Context(), "c1"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient() after Close = %v, want an error other than ErrNotFound", err)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	wantErr(t, "CreateClient(canceled)", s.CreateClient(ctx, client("c1", time.Time{})), context.Canceled)
	_, err := s.UseAuthCode(ctx, hash("code"), t0)
	wantErr(t, "UseAuthCode(canceled)", err, context.Canceled)
	_, err = s.RotateRefreshToken(ctx, hash("rt"), store.RefreshToken{}, t0, time.Minute)
	wantErr(t, "RotateRefreshToken(canceled)", err, context.Canceled)
	wantErr(t, "Ping(canceled)", s.Ping(ctx), context.Canceled)
}
