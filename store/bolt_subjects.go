package store

import (
	"context"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// bucketSubjects holds subject -> SubjectRevocation. It is made on first use, so files
// written before it existed open unchanged.
var bucketSubjects = []byte("subjects")

// RevokeSubject implements [SubjectStore] in one write transaction.
func (b *boltStore) RevokeSubject(ctx context.Context, subject string, at, until time.Time) error {
	if subject == "" {
		return errNoSubject
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketSubjects); err != nil {
			return fmt.Errorf("store: bolt file %q: create bucket %q: %w", b.path, bucketSubjects, err)
		}
		old, ok, err := get[SubjectRevocation](tx, bucketSubjects, subject)
		if err != nil {
			return err
		}
		return put(tx, bucketSubjects, subject, laterRevocation(old, ok, SubjectRevocation{At: at, Until: until}))
	})
}

// SubjectRevokedAt implements [SubjectStore].
func (b *boltStore) SubjectRevokedAt(ctx context.Context, subject string) (time.Time, error) {
	var at time.Time
	err := b.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketSubjects) == nil {
			return nil
		}
		r, ok, err := get[SubjectRevocation](tx, bucketSubjects, subject)
		if err != nil || !ok || expired(r.Until, b.now()) {
			return err
		}
		at = r.At
		return nil
	})
	return at, err
}

// gcSubjects deletes the subject revocations kept until at or before now.
func gcSubjects(tx *bbolt.Tx, now time.Time) (int, error) {
	if tx.Bucket(bucketSubjects) == nil {
		return 0, nil
	}
	return sweep(tx, bucketSubjects, func(_ []byte, r SubjectRevocation) bool { return expired(r.Until, now) })
}

// TokenRevoked implements [TokenChecker] in one read transaction.
func (b *boltStore) TokenRevoked(ctx context.Context, c TokenCheck) (revoked bool, err error) {
	now := b.now()
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		if c.JTI != "" && tx.Bucket(bucketDenylist).Get([]byte(c.JTI)) != nil {
			revoked = true
			return nil
		}
		if c.Family != "" && familyRevoked(tx, c.Family) {
			revoked = true
			return nil
		}
		if tx.Bucket(bucketSubjects) == nil {
			return nil
		}
		for _, sub := range c.Subjects {
			if sub == "" {
				continue
			}
			r, ok, err := get[SubjectRevocation](tx, bucketSubjects, sub)
			if err != nil {
				return err
			}
			if ok && !expired(r.Until, now) && coveredBy(r.At, c.IssuedAt) {
				revoked = true
				return nil
			}
		}
		return nil
	})
	return revoked, err
}
