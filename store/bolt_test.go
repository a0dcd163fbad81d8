package store_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/mcpguard/mcpguard/store"
	"github.com/mcpguard/mcpguard/store/storetest"
)

// boltPath is a bolt file inside a directory that does not exist yet.
func boltPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state", "mcpguard.db")
}

func TestBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return mustOpen(t, "bolt://"+boltPath(t))
	})
}

func TestBoltReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (store.Store, store.Store) {
		s := mustOpen(t, "bolt://"+boltPath(t))
		return s, s // the file lock keeps a second process out
	})
}

func TestBoltPersists(t *testing.T) {
	ctx := t.Context()
	path := boltPath(t)
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	client := store.Client{ID: "c1", Name: "App", RedirectURIs: []string{"https://app.example/cb"}, Kind: "dcr", CreatedAt: t0}
	rt := store.RefreshToken{TokenHash: "aa11", FamilyID: "fam-1", ClientID: "c1", Scopes: []string{"mcp:read"},
		Identity: store.Identity{Subject: "sub", Groups: []string{"eng"}}, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	consent := store.Consent{Subject: "sub", ClientID: "c1", Scopes: []string{"mcp:read"}, Resource: "https://mcp.example.com/mcp", GrantedAt: t0}
	key := store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{0x30, 0x81}, CreatedAt: t0}

	s, err := store.Open("bolt://" + path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	for name, err := range map[string]error{
		"CreateClient":       s.CreateClient(ctx, client),
		"CreateRefreshToken": s.CreateRefreshToken(ctx, rt),
		"PutConsent":         s.PutConsent(ctx, consent),
		"AddSigningKey":      s.AddSigningKey(ctx, key),
		"RevokeFamily":       s.RevokeFamily(ctx, "fam-2", t0),
		"RevokeAccessToken":  s.RevokeAccessToken(ctx, "jti-1", t0.Add(time.Hour)),
	} {
		if err != nil {
			t.Fatalf("%s() = %v", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("Stat(%q) = %v, %v, want mode 0600", path, fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("Stat(dir) = %v, %v, want mode 0700", fi.Mode(), err)
	}

	s = mustOpen(t, "bolt://"+path)
	gotClient, err := s.GetClient(ctx, "c1")
	check(t, "GetClient(c1)", gotClient, client, err)
	gotRT, err := s.GetRefreshToken(ctx, "aa11")
	check(t, "GetRefreshToken(aa11)", gotRT, rt, err)
	gotConsent, err := s.GetConsent(ctx, "sub", "c1")
	check(t, "GetConsent(sub, c1)", gotConsent, consent, err)
	gotKeys, err := s.SigningKeys(ctx)
	check(t, "SigningKeys()", gotKeys, []store.SigningKey{key}, err)
	revoked, err := s.FamilyRevoked(ctx, "fam-2")
	check(t, "FamilyRevoked(fam-2)", revoked, true, err)
	revoked, err = s.AccessTokenRevoked(ctx, "jti-1")
	check(t, "AccessTokenRevoked(jti-1)", revoked, true, err)
	// The family index survived too: revoking fam-1 reaches the token.
	if err := s.RevokeFamily(ctx, "fam-1", t0); err != nil {
		t.Fatalf("RevokeFamily(fam-1) = %v", err)
	}
	gotRT, err = s.GetRefreshToken(ctx, "aa11")
	check(t, "GetRefreshToken(aa11).RevokedAt", gotRT.RevokedAt, t0, err)
}

// check fails t unless err is nil and got equals want (printed with %+v).
func check(t *testing.T, call string, got, want any, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s = %v", call, err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("%s = %+v, want %+v", call, got, want)
	}
}

func TestBoltLocked(t *testing.T) {
	path := boltPath(t)
	mustOpen(t, "bolt://"+path)
	start := time.Now()
	s, err := store.Open("bolt://" + path)
	elapsed := time.Since(start)
	if err == nil {
		_ = s.Close()
		t.Fatal("Open() of a locked file = nil error, want one")
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked") || !errors.Is(err, bbolt.ErrTimeout) {
		t.Errorf("Open() of a locked file = %q, want it to name %q, say locked and wrap bbolt.ErrTimeout", err, path)
	}
	if elapsed < time.Second || elapsed > 5*time.Second {
		t.Errorf("Open() of a locked file took %v, want about 2s", elapsed)
	}
}

func TestBoltBadFile(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		mode os.FileMode
		want string
	}{
		{name: "text", data: []byte("this is not a database\n"), mode: 0o600, want: "corrupt"},
		{name: "garbage pages", data: []byte(strings.Repeat("\xde\xad\xbe\xef", 4096)), mode: 0o600, want: "corrupt"},
		{name: "unreadable", data: nil, mode: 0o000, want: "permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode == 0 && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			path := filepath.Join(t.TempDir(), "mcpguard.db")
			if err := os.WriteFile(path, tt.data, tt.mode); err != nil {
				t.Fatal(err)
			}
			s, err := store.Open("bolt://" + path)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%s) = nil error, want one", tt.name)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%s) = %q, want it to name %q and say %q", tt.name, err, path, tt.want)
			}
		})
	}
}

func TestBoltSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcpguard.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return b.Put([]byte("schema"), []byte("99"))
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	if s, err := store.Open("bolt://" + path); err == nil || !strings.Contains(err.Error(), `"99"`) {
		if s != nil {
			_ = s.Close()
		}
		t.Fatalf("Open(schema 99) = %v, want an error naming the version", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name, dsn, want string
	}{
		{name: "unknown scheme", dsn: "mysql://user:hunter2@x:3306/db", want: `unsupported scheme "mysql"`},
		{name: "redis mode", dsn: "redis+nope://user:hunter2@x:6379/0", want: `unsupported scheme "redis+nope"`},
		{name: "sentinel without master", dsn: "redis+sentinel://user:hunter2@x:26379/0", want: "master_name"},
		{name: "postgres bad port", dsn: "postgres://user:hunter2@x:notaport/db", want: "postgres DSN"},
		{name: "no scheme", dsn: "nonsense", want: "no scheme"},
		{name: "empty", dsn: "", want: "no scheme"},
		{name: "relative bolt path", dsn: "bolt://var/lib/mcpguard.db", want: "not absolute"},
		{name: "memory with a path", dsn: "memory://x", want: "memory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(tt.dsn)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open(%q) = nil error, want one", tt.dsn)
			}
			msg := err.Error()
			for _, want := range []string{tt.want, `"memory://"`, `"bolt:///absolute/path.db"`} {
				if !strings.Contains(msg, want) {
					t.Errorf("Open(%q) = %q, want it to contain %q", tt.dsn, msg, want)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("Open(%q) = %q, leaks the password", tt.dsn, msg)
			}
		})
	}
}

func BenchmarkBoltUseAuthCode(b *testing.B) {
	s := mustOpen(b, "bolt://"+boltPath(b))
	ctx := b.Context()
	t0 := time.Now()
	for i := range b.N {
		c := store.AuthCode{CodeHash: fmt.Sprint("code-", i), ClientID: "c1", Scopes: []string{"mcp:read"}, FamilyID: fmt.Sprint("fam-", i), ExpiresAt: t0.Add(time.Hour)}
		if err := s.CreateAuthCode(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.UseAuthCode(ctx, fmt.Sprint("code-", i), t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBoltRotate(b *testing.B) {
	s := mustOpen(b, "bolt://"+boltPath(b))
	ctx := b.Context()
	t0 := time.Now()
	token := func(i int) store.RefreshToken {
		return store.RefreshToken{TokenHash: fmt.Sprint("rt-", i), FamilyID: "fam", ClientID: "c1", Scopes: []string{"mcp:read"}, ExpiresAt: t0.Add(time.Hour)}
	}
	if err := s.CreateRefreshToken(ctx, token(0)); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := s.RotateRefreshToken(ctx, fmt.Sprint("rt-", i), token(i+1), t0, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestBoltAssertionSurvivesKill: a process that used an assertion ID and was then
// killed (SIGKILL, no Close) leaves it on disk: after the file is opened again, the ID
// is still refused. The test runs itself as that process.
func TestBoltAssertionSurvivesKill(t *testing.T) {
	exp := time.Now().Add(5 * time.Minute)
	if path := os.Getenv("MCPGUARD_TEST_BOLT_KILL"); path != "" {
		s, err := store.Open("bolt://" + path)
		if err != nil {
			t.Fatalf("Open() = %v", err)
		}
		if err := s.UseAssertionID(t.Context(), "client-1", "jti-1", exp); err != nil {
			t.Fatalf("UseAssertionID() = %v", err)
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	path := boltPath(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltAssertionSurvivesKill$")
	cmd.Env = append(os.Environ(), "MCPGUARD_TEST_BOLT_KILL="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child = %v, want killed by SIGKILL; output:\n%s", err, out)
	}
	s := mustOpen(t, "bolt://"+path)
	if err := s.UseAssertionID(t.Context(), "client-1", "jti-1", exp); !errors.Is(err, store.ErrReplayed) {
		t.Fatalf("UseAssertionID() after the kill = %v, want %v", err, store.ErrReplayed)
	}
}
