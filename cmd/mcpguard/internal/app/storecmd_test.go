package app

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// TestStoreMigrate copies one bolt file into another with the command, twice: the
// second run copies nothing and says the records were there.
func TestStoreMigrate(t *testing.T) {
	dir := t.TempDir()
	from, to := "bolt://"+filepath.Join(dir, "a.db"), "bolt://"+filepath.Join(dir, "b.db")
	src, err := store.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := src.CreateClient(t.Context(), store.Client{ID: "c1", RedirectURIs: []string{"https://app.example/cb"}, Kind: "dcr", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := src.AddSigningKey(t.Context(), store.SigningKey{ID: "k1", Algorithm: "ES256", PrivateKey: []byte{1}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	migrate := func() string {
		t.Helper()
		var out strings.Builder
		args := []string{"mcpguard", "store", "migrate", "--from", from, "--to", to}
		if err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("mcpguard store migrate = %v", err)
		}
		return out.String()
	}
	if out := migrate(); !strings.Contains(out, "clients 1,") || !strings.Contains(out, "signing keys 1 (already there: 0)") {
		t.Errorf("first migrate printed %q, want 1 client and 1 signing key copied", out)
	}
	if out := migrate(); !strings.Contains(out, "clients 0,") || !strings.Contains(out, "(already there: 2)") {
		t.Errorf("second migrate printed %q, want nothing copied and 2 records already there", out)
	}
	dst, err := store.Open(to)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if c, err := dst.GetClient(t.Context(), "c1"); err != nil || !c.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("GetClient(c1) in the target = %+v, %v, want the client with its expiry", c, err)
	}
}

func TestStoreMigrateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"mcpguard", "store"},
		{"mcpguard", "store", "copy"},
		{"mcpguard", "store", "migrate", "--from", "memory://"},
		{"mcpguard", "store", "migrate", "--from", "memory://", "--to", "memory://"},
	} {
		if err := Run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), io.Discard, io.Discard); err == nil {
			t.Errorf("Run(%q) = nil, want an error", args)
		}
	}
}
