package app

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
)

// TestKeysRotate: `mcpguard keys rotate` adds one key to the configured bolt STORE,
// signing SigningKeyPublishLead later, or at once with --now; while another process
// holds the file it says so.
func TestKeysRotate(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		lead time.Duration
	}{
		{"scheduled lead", nil, oauth.SigningKeyPublishLead},
		{"now", []string{"--now"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn := "bolt://" + filepath.Join(t.TempDir(), "mcpguard.db")
			getenv := func(k string) string { return map[string]string{"STORE": dsn}[k] }
			var out strings.Builder
			before := time.Now()
			args := append([]string{"mcpguard", "keys", "rotate"}, tt.args...)
			if err := Run(context.Background(), args, getenv, strings.NewReader(""), &out, io.Discard); err != nil {
				t.Fatalf("mcpguard keys rotate %v = %v", tt.args, err)
			}
			st, err := store.Open(dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			keys, err := st.SigningKeys(t.Context())
			if err != nil || len(keys) != 1 {
				t.Fatalf("SigningKeys() after keys rotate = %d keys, %v; want 1", len(keys), err)
			}
			k := keys[0]
			if nb := k.NotBefore.Sub(k.CreatedAt); nb != tt.lead || k.CreatedAt.Before(before.Truncate(time.Second)) {
				t.Errorf("the rotated key starts signing %v after it was added (at %v), want %v", nb, k.CreatedAt, tt.lead)
			}
			if !strings.Contains(out.String(), k.ID) {
				t.Errorf("keys rotate printed %q, want the kid %s", out.String(), k.ID)
			}
			// st holds the file now, as a running mcpguard does.
			err = Run(context.Background(), []string{"mcpguard", "keys", "rotate"}, getenv, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "stop it") {
				t.Errorf("keys rotate while the bolt file is held = %v, want an error telling to stop mcpguard", err)
			}
		})
	}
}

func TestKeysRotateUsage(t *testing.T) {
	memory := func(k string) string { return map[string]string{"STORE": "memory://"}[k] }
	for _, args := range [][]string{
		{"mcpguard", "keys"},
		{"mcpguard", "keys", "add"},
		{"mcpguard", "keys", "rotate", "extra"},
		{"mcpguard", "keys", "rotate"}, // memory://
	} {
		if err := Run(context.Background(), args, memory, strings.NewReader(""), io.Discard, io.Discard); err == nil {
			t.Errorf("Run(%q) = nil, want an error", args)
		}
	}
}
