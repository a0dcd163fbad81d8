package store

// The registered clients in Redis.

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// liveRedisClient returns the client with id unless it is missing or expired at now.
func liveRedisClient(ctx context.Context, c redis.Cmdable, id string, now time.Time) (Client, bool, error) {
	cl, ok, err := getJSON[Client](ctx, c, rkClient(id))
	if err != nil || !ok || expired(cl.ExpiresAt, now) {
		return Client{}, false, err
	}
	return cl, true, nil
}

// putClient queues c and its index entry.
func putClient(ctx context.Context, pipe redis.Pipeliner, c Client) error {
	if err := setJSON(ctx, pipe, rkClient(c.ID), c, c.ExpiresAt, false); err != nil {
		return err
	}
	pipe.ZAdd(ctx, rkClients, redis.Z{Score: score(c.ExpiresAt), Member: c.ID})
	return nil
}

// CreateClient implements [Store]; an expired client with the same ID is replaced.
func (r *redisStore) CreateClient(ctx context.Context, c Client) error {
	if err := c.validate(); err != nil {
		return err
	}
	return r.watch(ctx, func(tx *redis.Tx) error {
		if _, ok, err := liveRedisClient(ctx, tx, c.ID, r.now()); err != nil {
			return err
		} else if ok {
			return ErrExists
		}
		return exec(ctx, tx, func(pipe redis.Pipeliner) error { return putClient(ctx, pipe, c) })
	}, rkClient(c.ID))
}

// GetClient implements [Store].
func (r *redisStore) GetClient(ctx context.Context, id string) (Client, error) {
	if err := r.begin(ctx); err != nil {
		return Client{}, err
	}
	c, ok, err := liveRedisClient(ctx, r.db, id, r.now())
	if err == nil && !ok {
		err = ErrNotFound
	}
	return c, err
}

// TouchClient implements [Store].
func (r *redisStore) TouchClient(ctx context.Context, id string, now time.Time, ttl time.Duration) error {
	return r.watch(ctx, func(tx *redis.Tx) error {
		c, ok, err := liveRedisClient(ctx, tx, id, now)
		if err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return exec(ctx, tx, func(pipe redis.Pipeliner) error { return putClient(ctx, pipe, touched(c, now, ttl)) })
	}, rkClient(id))
}

// DeleteClient implements [Store].
func (r *redisStore) DeleteClient(ctx context.Context, id string) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	var del *redis.IntCmd
	_, err := r.db.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		del = pipe.Del(ctx, rkClient(id))
		pipe.ZRem(ctx, rkClients, id)
		return nil
	})
	if err != nil {
		return redisError(err)
	}
	if del.Val() == 0 {
		return ErrNotFound
	}
	return nil
}

// CountClients implements [Store]: the index entries expiring after now.
func (r *redisStore) CountClients(ctx context.Context) (int, error) {
	if err := r.begin(ctx); err != nil {
		return 0, err
	}
	n, err := r.db.ZCount(ctx, rkClients, "("+scoreArg(r.now()), "+inf").Result()
	if err != nil {
		return 0, redisError(err)
	}
	return int(n), nil
}
