package store_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// A replayed authorization code is refused, and the error still carries the family the
// first exchange issued, so the caller can revoke it (OAuth 2.1 §4.1.3).
func Example() {
	ctx := context.Background()
	s, err := store.Open("memory://")
	if err != nil {
		panic(err)
	}
	defer s.Close()

	now := time.Now()
	code := store.AuthCode{CodeHash: "9f86d081", ClientID: "c1", FamilyID: "fam-1", ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateAuthCode(ctx, code); err != nil {
		panic(err)
	}
	_, err = s.UseAuthCode(ctx, "9f86d081", now)
	fmt.Println("first exchange:", err)

	replay, err := s.UseAuthCode(ctx, "9f86d081", now)
	if errors.Is(err, store.ErrCodeUsed) {
		_ = s.RevokeFamily(ctx, replay.FamilyID, now)
	}
	revoked, _ := s.FamilyRevoked(ctx, "fam-1")
	fmt.Println("replay:", err, "- family revoked:", revoked)
	// Output:
	// first exchange: <nil>
	// replay: store: authorization code already used - family revoked: true
}
