package store

import (
	"context"
	"time"
)

// TokenCheck names everything whose revocation revokes one access token: its jti, its
// refresh-token family, and the keys of the subject revocations that cover it (its
// person's subject, its client's key), revoked at or after IssuedAt. Empty names are
// not asked about.
type TokenCheck struct {
	JTI, Family string
	Subjects    []string
	IssuedAt    time.Time
}

// TokenChecker answers a whole TokenCheck in one question to the store: one round trip
// on Redis and PostgreSQL, which is what /auth pays for a token it sees for the first
// time.
type TokenChecker interface {
	// TokenRevoked reports whether the token c describes was revoked: its jti is on the
	// denylist (AccessTokenRevoked), its family is revoked (FamilyRevoked), or one of
	// c.Subjects has a live revocation at or after c.IssuedAt (SubjectRevokedAt).
	TokenRevoked(ctx context.Context, c TokenCheck) (bool, error)
}

// coveredBy reports whether a subject revocation at at (zero: none) covers a token
// issued at issued.
func coveredBy(at, issued time.Time) bool {
	return !at.IsZero() && !issued.After(at)
}
