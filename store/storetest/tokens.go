package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// racers is how many goroutines the concurrency tests start at once.
const racers = 20

// identity is the upstream user of every code and token.
func identity() store.Identity {
	return store.Identity{Subject: "sub-1", Email: "alice@example.com", Name: "Alice", EmailVerified: true, Groups: []string{"eng", "ops"}}
}

// code returns a complete authorization code for the code named name.
func code(name, family string, expiresAt time.Time) store.AuthCode {
	return store.AuthCode{
		CodeHash: hash(name), ClientID: "c1", RedirectURI: "https://app.example/cb",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Resource: "https://mcp.example.com/mcp",
		Scopes: []string{"mcp:read", "offline_access"}, Identity: identity(), FamilyID: family, ExpiresAt: expiresAt,
	}
}

// token returns a complete refresh token for the token named name.
func token(name, family string, expiresAt time.Time) store.RefreshToken {
	return store.RefreshToken{
		TokenHash: hash(name), FamilyID: family, ClientID: "c1", Resource: "https://mcp.example.com/mcp",
		Scopes: []string{"mcp:read"}, Identity: identity(), IssuedAt: t0, ExpiresAt: expiresAt,
	}
}

// getToken returns the stored token named name, failing t if there is none.
func getToken(t testing.TB, s store.Store, name string) store.RefreshToken {
	t.Helper()
	got, err := s.GetRefreshToken(t.Context(), hash(name))
	wantErr(t, "GetRefreshToken("+name+")", err, nil)
	return got
}

// race runs f(i) for i in [0, racers) at once and returns the errors by i.
func race(f func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// tally counts errs by outcome: nil, then each of kinds; anything else fails t.
func tally(t testing.TB, errs []error, kinds ...error) []int {
	t.Helper()
	counts := make([]int, 1+len(kinds))
outer:
	for _, err := range errs {
		if err == nil {
			counts[0]++
			continue
		}
		for k, kind := range kinds {
			if errors.Is(err, kind) {
				counts[1+k]++
				continue outer
			}
		}
		t.Fatalf("unexpected error %v", err)
	}
	return counts
}

func testAuthCodeSingleUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := code("code-1", "fam-1", t0.Add(time.Minute))
	wantErr(t, "CreateAuthCode(code-1)", s.CreateAuthCode(ctx, c), nil)
	wantErr(t, "CreateAuthCode(code-1) again", s.CreateAuthCode(ctx, c), store.ErrExists)
	got, err := s.UseAuthCode(ctx, hash("code-1"), t0)
	wantErr(t, "UseAuthCode(code-1)", err, nil)
	want := c
	want.UsedAt = t0
	wantEqual(t, "UseAuthCode(code-1)", got, want)

	got, err = s.UseAuthCode(ctx, hash("code-1"), t0.Add(time.Second))
	wantErr(t, "UseAuthCode(code-1) again", err, store.ErrCodeUsed)
	wantEqual(t, "UseAuthCode(code-1) again: FamilyID", got.FamilyID, "fam-1")
	wantEqual(t, "UseAuthCode(code-1) again: UsedAt", got.UsedAt, t0)
	_, err = s.UseAuthCode(ctx, hash("nope"), t0)
	wantErr(t, "UseAuthCode(nope)", err, store.ErrNotFound)

	for name, bad := range map[string]func(*store.AuthCode){
		"no hash":   func(c *store.AuthCode) { c.CodeHash = "" },
		"no family": func(c *store.AuthCode) { c.FamilyID = "" },
		"no expiry": func(c *store.AuthCode) { c.ExpiresAt = time.Time{} },
	} {
		c := code("code-bad", "fam-1", t0.Add(time.Minute))
		bad(&c)
		if err := s.CreateAuthCode(ctx, c); err == nil {
			t.Fatalf("CreateAuthCode(%s) = nil, want an error", name)
		}
	}
}

func testAuthCodeExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, code("code-1", "fam-1", t0.Add(time.Minute))), nil)
	_, err := s.UseAuthCode(ctx, hash("code-1"), t0.Add(time.Minute))
	wantErr(t, "UseAuthCode(at ExpiresAt)", err, store.ErrExpired)
	_, err = s.UseAuthCode(ctx, hash("code-1"), t0.Add(time.Minute-time.Second))
	wantErr(t, "UseAuthCode(before ExpiresAt) after an expired attempt", err, nil)
	_, err = s.UseAuthCode(ctx, hash("code-1"), t0.Add(time.Hour))
	wantErr(t, "UseAuthCode(used and expired)", err, store.ErrCodeUsed)
}

func testAuthCodeConcurrentUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, code("code-1", "fam-1", t0.Add(time.Minute))), nil)
	errs := race(func(int) error {
		c, err := s.UseAuthCode(ctx, hash("code-1"), t0)
		if c.FamilyID != "fam-1" {
			return fmt.Errorf("UseAuthCode FamilyID = %q, want %q (err %v)", c.FamilyID, "fam-1", err)
		}
		return err
	})
	n := tally(t, errs, store.ErrCodeUsed)
	wantEqual(t, "successes, ErrCodeUsed of concurrent UseAuthCode", n, []int{1, racers - 1})
}

func testRefreshRotation(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(30 * 24 * time.Hour)
	a := token("a", "fam-1", exp)
	wantErr(t, "CreateRefreshToken(a)", s.CreateRefreshToken(ctx, a), nil)
	wantErr(t, "CreateRefreshToken(a) again", s.CreateRefreshToken(ctx, a), store.ErrExists)

	next := token("b", "", exp) // inherits the family
	old, err := s.RotateRefreshToken(ctx, hash("a"), next, t0, time.Minute)
	wantErr(t, "RotateRefreshToken(a->b)", err, nil)
	wantEqual(t, "RotateRefreshToken(a->b) old", old.TokenHash, a.TokenHash)
	wantEqual(t, "RotateRefreshToken(a->b) old.FamilyID", old.FamilyID, "fam-1")
	wantEqual(t, "a.RotatedAt", getToken(t, s, "a").RotatedAt, t0)
	wantEqual(t, "b.FamilyID", getToken(t, s, "b").FamilyID, "fam-1")

	// Reuse within grace: a concurrent refresh that lost the race still gets a token.
	_, err = s.RotateRefreshToken(ctx, hash("a"), token("c", "fam-1", exp), t0.Add(59*time.Second), time.Minute)
	wantErr(t, "RotateRefreshToken(a->c) within grace", err, nil)
	wantEqual(t, "a.RotatedAt after reuse within grace", getToken(t, s, "a").RotatedAt, t0)
	wantEqual(t, "c.RevokedAt", getToken(t, s, "c").RevokedAt, time.Time{})
	_, err = s.RotateRefreshToken(ctx, hash("b"), token("d", "fam-1", exp), t0.Add(time.Hour), time.Minute)
	wantErr(t, "RotateRefreshToken(b->d)", err, nil)

	// Reuse after grace: the whole family goes.
	reuse := t0.Add(2 * time.Hour)
	old, err = s.RotateRefreshToken(ctx, hash("a"), token("e", "fam-1", exp), reuse, time.Minute)
	wantErr(t, "RotateRefreshToken(a->e) after grace", err, store.ErrTokenReused)
	wantEqual(t, "RotateRefreshToken(a->e) old.FamilyID", old.FamilyID, "fam-1")
	for _, name := range []string{"a", "b", "c", "d"} {
		wantEqual(t, name+".RevokedAt", getToken(t, s, name).RevokedAt, reuse)
	}
	_, err = s.GetRefreshToken(ctx, hash("e"))
	wantErr(t, "GetRefreshToken(e)", err, store.ErrNotFound)
	revoked, err := s.FamilyRevoked(ctx, "fam-1")
	wantErr(t, "FamilyRevoked(fam-1)", err, nil)
	wantEqual(t, "FamilyRevoked(fam-1)", revoked, true)
	_, err = s.RotateRefreshToken(ctx, hash("d"), token("f", "fam-1", exp), reuse, time.Minute)
	wantErr(t, "RotateRefreshToken(d) of a revoked family", err, store.ErrRevoked)
	wantErr(t, "CreateRefreshToken(in a revoked family)", s.CreateRefreshToken(ctx, token("g", "fam-1", exp)), store.ErrRevoked)
}

func testRefreshRotationErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	wantErr(t, "CreateRefreshToken(a)", s.CreateRefreshToken(ctx, token("a", "fam-1", exp)), nil)
	_, err := s.RotateRefreshToken(ctx, hash("nope"), token("x", "fam-1", exp), t0, time.Minute)
	wantErr(t, "RotateRefreshToken(nope)", err, store.ErrNotFound)
	_, err = s.RotateRefreshToken(ctx, hash("a"), token("x", "fam-1", exp), exp, time.Minute)
	wantErr(t, "RotateRefreshToken(a) at ExpiresAt", err, store.ErrExpired)
	if _, err := s.RotateRefreshToken(ctx, hash("a"), token("x", "fam-2", exp), t0, time.Minute); err == nil {
		t.Fatal("RotateRefreshToken(next in another family) = nil, want an error")
	}
	if _, err := s.RotateRefreshToken(ctx, hash("a"), store.RefreshToken{ExpiresAt: exp}, t0, time.Minute); err == nil {
		t.Fatal("RotateRefreshToken(next without hash) = nil, want an error")
	}
	_, err = s.GetRefreshToken(ctx, hash("x"))
	wantErr(t, "GetRefreshToken(x) after failed rotations", err, store.ErrNotFound)
	wantEqual(t, "a.RotatedAt after failed rotations", getToken(t, s, "a").RotatedAt, time.Time{})

	wantErr(t, "RevokeFamily(fam-1)", s.RevokeFamily(ctx, "fam-1", t0), nil)
	old, err := s.RotateRefreshToken(ctx, hash("a"), token("x", "fam-1", exp), t0, time.Minute)
	wantErr(t, "RotateRefreshToken(revoked a)", err, store.ErrRevoked)
	wantEqual(t, "RotateRefreshToken(revoked a) old.RevokedAt", old.RevokedAt, t0)
}

func testConcurrentRotation(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	t.Run("WithinGrace", func(t *testing.T) {
		wantErr(t, "CreateRefreshToken(a)", s.CreateRefreshToken(ctx, token("a", "fam-1", exp)), nil)
		errs := race(func(i int) error {
			_, err := s.RotateRefreshToken(ctx, hash("a"), token(fmt.Sprint("a", i), "fam-1", exp), t0, time.Minute)
			return err
		})
		wantEqual(t, "successes of concurrent rotations within grace", tally(t, errs), []int{racers})
		for i := range racers {
			getToken(t, s, fmt.Sprint("a", i))
		}
	})
	t.Run("AfterGrace", func(t *testing.T) {
		wantErr(t, "CreateRefreshToken(b)", s.CreateRefreshToken(ctx, token("b", "fam-2", exp)), nil)
		errs := race(func(i int) error {
			_, err := s.RotateRefreshToken(ctx, hash("b"), token(fmt.Sprint("b", i), "", exp), t0, 0)
			return err
		})
		// The first rotation wins, the second is a reuse that revokes the family, and the
		// rest find the family revoked.
		n := tally(t, errs, store.ErrTokenReused, store.ErrRevoked)
		wantEqual(t, "successes, ErrTokenReused, ErrRevoked of concurrent rotations without grace", n, []int{1, 1, racers - 2})
		for i, err := range errs {
			if err == nil {
				wantEqual(t, "winner's token RevokedAt", getToken(t, s, fmt.Sprint("b", i)).RevokedAt, t0)
			}
		}
		revoked, _ := s.FamilyRevoked(ctx, "fam-2")
		wantEqual(t, "FamilyRevoked(fam-2)", revoked, true)
		revoked, _ = s.FamilyRevoked(ctx, "fam-1")
		wantEqual(t, "FamilyRevoked(fam-1)", revoked, false)
	})
}

func testRevokeFamily(t *testing.T, s store.Store) {
	ctx := t.Context()
	exp := t0.Add(time.Hour)
	for _, name := range []string{"a", "b", "c"} {
		wantErr(t, "CreateRefreshToken("+name+")", s.CreateRefreshToken(ctx, token(name, "fam-1", exp)), nil)
	}
	wantErr(t, "CreateRefreshToken(other)", s.CreateRefreshToken(ctx, token("other", "fam-2", exp)), nil)
	wantErr(t, "RevokeFamily(fam-1)", s.RevokeFamily(ctx, "fam-1", t0), nil)
	wantErr(t, "RevokeFamily(fam-1) later", s.RevokeFamily(ctx, "fam-1", t0.Add(time.Minute)), nil)
	for _, name := range []string{"a", "b", "c"} {
		wantEqual(t, name+".RevokedAt", getToken(t, s, name).RevokedAt, t0)
	}
	wantEqual(t, "other.RevokedAt", getToken(t, s, "other").RevokedAt, time.Time{})
	for fam, want := range map[string]bool{"fam-1": true, "fam-2": false, "fam-unknown": false} {
		got, err := s.FamilyRevoked(ctx, fam)
		wantErr(t, "FamilyRevoked("+fam+")", err, nil)
		wantEqual(t, "FamilyRevoked("+fam+")", got, want)
	}
	// A family revoked before it has tokens (a replayed code) stays revoked.
	wantErr(t, "RevokeFamily(fam-3)", s.RevokeFamily(ctx, "fam-3", t0), nil)
	wantErr(t, "CreateRefreshToken(in fam-3)", s.CreateRefreshToken(ctx, token("d", "fam-3", exp)), store.ErrRevoked)
}

func testGC(t *testing.T, s store.Store) {
	ctx := t.Context()
	soon, late := t0.Add(time.Hour), t0.Add(3*time.Hour)
	for _, c := range []store.Client{client("static", time.Time{}), client("dcr-live", late), client("dcr-old", soon)} {
		wantErr(t, "CreateClient("+c.ID+")", s.CreateClient(ctx, c), nil)
	}
	for _, c := range []store.AuthCode{code("code-live", "fam-c", late), code("code-old", "fam-c", soon), code("code-used", "fam-c", soon)} {
		wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	}
	_, err := s.UseAuthCode(ctx, hash("code-used"), t0)
	wantErr(t, "UseAuthCode(code-used)", err, nil)
	// fam-1: one token expires. fam-2: revoked two days ago, its only token expires.
	// fam-3: revoked now, its only token expires. fam-4: revoked two days ago, token lives.
	for _, rt := range []store.RefreshToken{
		token("rt-live", "fam-1", late), token("rt-old", "fam-1", soon),
		token("rt-2", "fam-2", soon), token("rt-3", "fam-3", soon), token("rt-4", "fam-4", late),
	} {
		wantErr(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt), nil)
	}
	for fam, at := range map[string]time.Time{"fam-2": t0.Add(-48 * time.Hour), "fam-3": t0, "fam-4": t0.Add(-48 * time.Hour)} {
		wantErr(t, "RevokeFamily("+fam+")", s.RevokeFamily(ctx, fam, at), nil)
	}
	wantErr(t, "RevokeAccessToken(j-live)", s.RevokeAccessToken(ctx, "j-live", late), nil)
	wantErr(t, "RevokeAccessToken(j-old)", s.RevokeAccessToken(ctx, "j-old", soon), nil)

	// dcr-old, code-old, code-used, rt-old, rt-2, rt-3, fam-2's record, j-old.
	n, err := s.GC(ctx, t0.Add(2*time.Hour))
	wantErr(t, "GC(t0+2h)", err, nil)
	wantEqual(t, "GC(t0+2h)", n, 8)
	n, _ = s.GC(ctx, t0.Add(2*time.Hour))
	wantEqual(t, "GC(t0+2h) again", n, 0)

	_, err = s.GetClient(ctx, "dcr-old")
	wantErr(t, "GetClient(dcr-old)", err, store.ErrNotFound)
	_, err = s.GetClient(ctx, "dcr-live")
	wantErr(t, "GetClient(dcr-live)", err, nil)
	_, err = s.UseAuthCode(ctx, hash("code-old"), t0)
	wantErr(t, "UseAuthCode(code-old)", err, store.ErrNotFound)
	_, err = s.UseAuthCode(ctx, hash("code-live"), t0)
	wantErr(t, "UseAuthCode(code-live)", err, nil)
	for name, want := range map[string]error{"rt-live": nil, "rt-old": store.ErrNotFound, "rt-2": store.ErrNotFound, "rt-4": nil} {
		_, err := s.GetRefreshToken(ctx, hash(name))
		wantErr(t, "GetRefreshToken("+name+")", err, want)
	}
	for fam, want := range map[string]bool{"fam-2": false, "fam-3": true, "fam-4": true} {
		got, _ := s.FamilyRevoked(ctx, fam)
		wantEqual(t, "FamilyRevoked("+fam+") after GC", got, want)
	}
	for jti, want := range map[string]bool{"j-old": false, "j-live": true} {
		got, _ := s.AccessTokenRevoked(ctx, jti)
		wantEqual(t, "AccessTokenRevoked("+jti+") after GC", got, want)
	}

	// dcr-live, code-live, rt-live, rt-4, then fam-3's and fam-4's records, j-live.
	n, _ = s.GC(ctx, t0.Add(4*24*time.Hour))
	wantEqual(t, "GC(t0+4d)", n, 7)
	count, _ := s.CountClients(ctx)
	wantEqual(t, "CountClients() after GC", count, 1)
}
