package store

import (
	"context"
	"errors"
	"time"
)

// SubjectStore records that everything a person (a subject) was issued before a moment
// is revoked: the denylist entry by subject that covers access tokens already out,
// whose jti nobody listed.
type SubjectStore interface {
	// RevokeSubject records that the tokens of subject issued at or before at are
	// revoked; the record is kept until until (at least the longest access token life
	// after at), then GC may remove it. A later at replaces an earlier one; an earlier
	// at never moves the record back.
	RevokeSubject(ctx context.Context, subject string, at, until time.Time) error
	// SubjectRevokedAt returns the moment subject was last revoked, or the zero time
	// when subject has no live record.
	SubjectRevokedAt(ctx context.Context, subject string) (time.Time, error)
}

// SubjectRevocation is one subject's record: revoked at At, kept until Until.
type SubjectRevocation struct {
	At, Until time.Time
}

// errNoSubject reports a revocation without a subject.
var errNoSubject = errors.New("store: a subject revocation needs a subject")

// laterRevocation is the record to keep of old (ok when one exists) and next.
func laterRevocation(old SubjectRevocation, ok bool, next SubjectRevocation) SubjectRevocation {
	if !ok {
		return next
	}
	if next.At.After(old.At) {
		old.At = next.At
	}
	if next.Until.After(old.Until) {
		old.Until = next.Until
	}
	return old
}
