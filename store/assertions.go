package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrReplayed reports that an assertion's ID was used before and has not expired yet
// (RFC 7523 section 3, item 7: a jti is accepted once).
var ErrReplayed = errors.New("store: assertion already used")

// AssertionStore remembers the IDs of the signed assertions the authorization server
// accepted (private_key_jwt client assertions today), so that each is accepted once on
// every replica sharing the store.
type AssertionStore interface {
	// UseAssertionID records that the assertion jti from issuer was used and is good
	// until exp. The first call for a pair wins; a later call while the record is live
	// (the store's Now before exp) fails with ErrReplayed. The check and the write are
	// one atomic step, so of two replicas racing one jti exactly one succeeds. GC
	// removes records whose exp passed.
	UseAssertionID(ctx context.Context, issuer, jti string, exp time.Time) error
}

// errNoAssertionID reports an assertion without an issuer or an ID: it cannot be
// recorded, so it cannot be accepted.
var errNoAssertionID = errors.New("store: assertion needs an issuer and a jti")

// assertionKey is the key of the assertion jti from issuer. The issuer is
// length-prefixed so that no issuer and jti pair collides with another.
func assertionKey(issuer, jti string) string {
	return fmt.Sprintf("%d:%s:%s", len(issuer), issuer, jti)
}

// checkAssertion validates the arguments every backend's UseAssertionID takes.
func checkAssertion(issuer, jti string) error {
	if issuer == "" || jti == "" {
		return errNoAssertionID
	}
	return nil
}
