package store

import (
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// bucketSessions holds the browser sessions: session ID -> Session. A file written before
// sessions existed gets the bucket when it is next opened.
var bucketSessions = []byte("sessions")

// liveSession returns the session with id unless it is missing or ended at now.
func liveSession(tx *bbolt.Tx, id string, now time.Time) (Session, bool, error) {
	s, ok, err := get[Session](tx, bucketSessions, id)
	if err != nil || !ok || !s.live(now) {
		return Session{}, false, err
	}
	return s, true, nil
}

// CreateSession implements [SessionStore]; an ended session with the same ID is replaced.
func (b *boltStore) CreateSession(ctx context.Context, s Session) error {
	if err := s.validate(); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if _, ok, err := liveSession(tx, s.ID, b.now()); err != nil {
			return err
		} else if ok {
			return ErrExists
		}
		return put(tx, bucketSessions, s.ID, s)
	})
}

// GetSession implements [SessionStore].
func (b *boltStore) GetSession(ctx context.Context, id string, now time.Time) (s Session, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		s, ok, err = liveSession(tx, id, now)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return s, err
}

// TouchSession implements [SessionStore] in one read-write transaction.
func (b *boltStore) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration) (s Session, err error) {
	err = b.update(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		s, ok, err = liveSession(tx, id, now)
		if err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		s = touchedSession(s, now, idle)
		return put(tx, bucketSessions, id, s)
	})
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// DeleteSession implements [SessionStore].
func (b *boltStore) DeleteSession(ctx context.Context, id string) error {
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketSessions).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return del(tx, bucketSessions, id)
	})
}

// ListSessions implements [SessionStore]: a scan of every session, which a person's
// page and the admin API call rarely.
func (b *boltStore) ListSessions(ctx context.Context, subject string, now time.Time) (out []Session, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(_, raw []byte) error {
			s, err := decode[Session](bucketSessions, raw)
			if err != nil {
				return err
			}
			if s.Identity.Subject == subject && s.live(now) {
				out = append(out, s)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortSessions(out)
	return out, nil
}
