package storetest

import (
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// emailSession is a session of subject carrying email, logged in at login for an hour,
// ending early after idle without use.
func emailSession(name, subject, email string, login time.Time, idle time.Duration) store.Session {
	s := session(name, subject, login, time.Hour, idle)
	s.Identity.Email = email
	return s
}

// emailToken is a refresh token of family for subject carrying email, expiring at exp.
func emailToken(name, family, subject, email string, issued, exp time.Time) store.RefreshToken {
	tok := grantToken(name, family, subject, "c1", issued)
	tok.Identity.Email, tok.ExpiresAt = email, exp
	return tok
}

func testSubjectsByEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := now()
	for _, ss := range []store.Session{
		emailSession("local", "alice@example.com", "alice@example.com", base, time.Hour),
		emailSession("google", "google-123", "Alice@Example.com", base, time.Hour),
		emailSession("google-2", "google-123", "alice@example.com", base, time.Hour), // the same subject twice
		emailSession("idle", "idle-sub", "alice@example.com", base, time.Minute),     // ended at the query
		emailSession("suffix", "evil-1", "alice@example.com.evil.test", base, time.Hour),
		emailSession("prefix", "evil-2", "malice@example.com", base, time.Hour),
		emailSession("kelvin", "evil-3", "\u212Aim@example.com", base, time.Hour), // K (Kelvin sign) folds to k only in Unicode
		emailSession("kim", "kim-sub", "KIM@example.com", base, time.Hour),
	} {
		wantErr(t, "CreateSession("+ss.Identity.Subject+")", s.CreateSession(ctx, ss), nil)
	}
	for _, tok := range []store.RefreshToken{
		emailToken("o1", "fo", "oidc-456", "ALICE@EXAMPLE.COM", base, base.Add(time.Hour)),
		emailToken("x1", "fx", "expired-sub", "alice@example.com", base, base.Add(5*time.Minute)),
		emailToken("r1", "fr", "revoked-sub", "alice@example.com", base, base.Add(time.Hour)),
		emailToken("n1", "fn", "no-email-sub", "", base, base.Add(time.Hour)),
	} {
		wantErr(t, "CreateRefreshToken("+tok.FamilyID+")", s.CreateRefreshToken(ctx, tok), nil)
	}
	wantErr(t, "RevokeFamily(fr)", s.RevokeFamily(ctx, "fr", base), nil)

	at := base.Add(10 * time.Minute)
	alice := []string{"alice@example.com", "google-123", "oidc-456"}
	tests := []struct {
		name, email string
		want        []string
	}{
		{"exact", "alice@example.com", alice},
		{"other case", "ALICE@example.COM", alice},
		{"local part only", "alice", []string{}},
		{"domain only", "example.com", []string{}},
		{"prefix of an email", "alice@example.co", []string{}},
		{"with a space", " alice@example.com", []string{}},
		{"ascii fold, not unicode", "kim@example.com", []string{"kim-sub"}},
		{"the kelvin sign itself", "\u212Aim@example.com", []string{"evil-3"}},
		{"nobody", "carol@example.com", []string{}},
	}
	for _, tt := range tests {
		got, err := s.SubjectsByEmail(ctx, tt.email, at)
		wantErr(t, "SubjectsByEmail("+tt.name+")", err, nil)
		wantEqual(t, "SubjectsByEmail("+tt.name+")", got, tt.want)
	}
	if _, err := s.SubjectsByEmail(ctx, "", at); err == nil {
		t.Fatal(`SubjectsByEmail("") = nil error, want one (an empty email would match every identity without one)`)
	}
	// Before the idle session ended and the token expired, both count.
	got, err := s.SubjectsByEmail(ctx, "alice@example.com", base.Add(time.Second))
	wantErr(t, "SubjectsByEmail(+1s)", err, nil)
	wantEqual(t, "SubjectsByEmail(+1s)", got, []string{"alice@example.com", "expired-sub", "google-123", "idle-sub", "oidc-456"})
}

// testReplicaSubjectsByEmail: the sessions and grants one replica stores are found by
// email on the other, and a family revoked on the other no longer counts on the first.
func testReplicaSubjectsByEmail(t *testing.T, s [2]store.Store) {
	ctx := t.Context()
	base := now()
	wantErr(t, "a.CreateSession", s[0].CreateSession(ctx, emailSession("r", "google-1", "Bob@example.com", base, time.Hour)), nil)
	wantErr(t, "a.CreateRefreshToken", s[0].CreateRefreshToken(ctx, emailToken("r1", "fr", "oidc-2", "bob@EXAMPLE.com", base, base.Add(time.Hour))), nil)
	got, err := s[1].SubjectsByEmail(ctx, "bob@example.com", base)
	wantErr(t, "b.SubjectsByEmail", err, nil)
	wantEqual(t, "b.SubjectsByEmail", got, []string{"google-1", "oidc-2"})
	wantErr(t, "b.RevokeFamily", s[1].RevokeFamily(ctx, "fr", base), nil)
	got, err = s[0].SubjectsByEmail(ctx, "BOB@example.com", base)
	wantErr(t, "a.SubjectsByEmail after revoke", err, nil)
	wantEqual(t, "a.SubjectsByEmail after revoke", got, []string{"google-1"})
}
