package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Revocation is a revocation one replica made, as every replica sharing the store hears
// of it: an access token (JTI, until its expiry), a refresh-token family, or every
// token of a subject issued at or before At (RevokeSubject).
type Revocation struct {
	JTI     string    `json:"jti,omitempty"`
	Expires time.Time `json:"exp,omitzero"` // of the access token JTI; of the Subject record
	Family  string    `json:"fam,omitempty"`
	Subject string    `json:"sub,omitempty"`
	At      time.Time `json:"at,omitzero"` // of the Subject's revocation
}

// Broadcaster is implemented by the stores several replicas share (Redis by pub/sub,
// PostgreSQL by LISTEN/NOTIFY): RevokeAccessToken, RevokeFamily, RevokeSubject and a
// rotation that revokes a family publish a Revocation to every replica, this one
// included.
type Broadcaster interface {
	// Subscribe calls heard for each Revocation published by any replica until ctx ends,
	// and missed once after each reconnection, when messages may have been lost
	// meanwhile (the caller then forgets what it cached). It returns ctx's error.
	Subscribe(ctx context.Context, heard func(Revocation), missed func()) error
}

// revocationChannel is the Redis channel and PostgreSQL notification channel.
const revocationChannel = "mcpguard_revocations"

// rkRevocations is the Redis channel, in the one hash slot of every key.
var rkRevocations = redisPrefix + revocationChannel

// payload is r as a message.
func (r Revocation) payload() string {
	raw, _ := json.Marshal(r) // a struct of strings and a time: never fails
	return string(raw)
}

// publish sends r to every replica; a failure only delays what the others see until
// the token expires, so it is not the caller's error.
func (r *redisStore) publish(ctx context.Context, rev Revocation) {
	_ = r.db.Publish(context.WithoutCancel(ctx), rkRevocations, rev.payload()).Err()
}

// Subscribe implements [Broadcaster] with Redis pub/sub. go-redis resubscribes by itself
// after a lost connection; each subscription confirmation after the first is a
// reconnection.
func (r *redisStore) Subscribe(ctx context.Context, heard func(Revocation), missed func()) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	sub := r.db.Subscribe(ctx, rkRevocations)
	defer sub.Close()
	stop := context.AfterFunc(ctx, func() { _ = sub.Close() }) // a blocked Receive does not watch ctx
	defer stop()
	subscribed := 0
	for {
		msg, err := sub.Receive(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, redis.ErrClosed):
			return errClosed
		case err != nil:
			// The connection broke; the next Receive reconnects.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if subscribed++; subscribed > 1 {
				missed()
			}
		case *redis.Message:
			var rev Revocation
			if json.Unmarshal([]byte(m.Payload), &rev) == nil {
				heard(rev)
			}
		}
	}
}

// Subscribe implements [Broadcaster] with LISTEN on a connection of its own, taken
// again with backoff when it breaks.
func (p *postgresStore) Subscribe(ctx context.Context, heard func(Revocation), missed func()) error {
	if err := p.begin(ctx); err != nil {
		return err
	}
	backoff, first := 100*time.Millisecond, true
	for {
		err := p.listen(ctx, heard, func() {
			if !first {
				missed()
			}
			first, backoff = false, 100*time.Millisecond
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p.closed.Load() {
			return errClosed
		}
		_ = err // the connection broke or could not be had: try again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen takes a connection, listens and hands notifications to heard until the
// connection fails; listening calls once LISTEN is in place.
func (p *postgresStore) listen(ctx context.Context, heard func(Revocation), listening func()) error {
	pooled, err := p.db.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection that was listening is taken out of the pool and closed after.
	conn := pooled.Hijack()
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return err
	}
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var rev Revocation
		if json.Unmarshal([]byte(n.Payload), &rev) == nil {
			heard(rev)
		}
	}
}
