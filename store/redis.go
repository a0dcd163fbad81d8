package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisPrefix starts every key mcpguard writes. The braces are a Redis Cluster hash tag:
// every key lands in one slot, so a script or a WATCH may span any of them.
const redisPrefix = "{mcpguard}:"

// redisSlack is how long past its expiry Redis keeps a record before its TTL drops it:
// expiry itself is checked against the store's clock, and until then a replayed code is
// still recognised as used, as GC leaves it on the other backends.
const redisSlack = 10 * time.Minute

// redisRetries bounds the optimistic-transaction retries of one call.
const redisRetries = 200

// The indexes: sorted sets of record keys scored by expiry in Unix microseconds
// (+inf when the record never expires), for CountClients and GC.
var (
	rkClients   = redisPrefix + "clients"      // client ID -> expiry
	rkCodes     = redisPrefix + "codes"        // code hash -> expiry
	rkTokens    = redisPrefix + "tokens"       // token hash -> expiry
	rkDenylist  = redisPrefix + "denylist"     // jti -> expiry: the denylist itself
	rkRevoked   = redisPrefix + "revoked"      // family ID -> revoked at
	rkKeys      = redisPrefix + "signing_keys" // hash: kid -> SigningKey
	rkConsents  = redisPrefix + "consents"     // set of consent keys, for store migrate
	rkSchema    = redisPrefix + "schema"       // schemaVersion
	rkClient    = func(id string) string { return redisPrefix + "client:" + id }
	rkCode      = func(h string) string { return redisPrefix + "code:" + h }
	rkToken     = func(h string) string { return redisPrefix + "token:" + h }
	rkFamily    = func(f string) string { return redisPrefix + "family:" + f }  // set of token hashes
	rkFamilyRev = func(f string) string { return redisPrefix + "revoked:" + f } // revoked at (JSON time)
	rkConsent   = func(k string) string { return redisPrefix + "consent:" + k }
)

// redisStore is the redis:// backend. Single-key writes are plain commands; every
// read-decide-write (UseAuthCode, RotateRefreshToken, RevokeFamily, CreateClient) is an
// optimistic transaction (WATCH, then MULTI/EXEC, retried when another writer got there
// first), and the inserts that must check a second key are Lua scripts. Nothing relies on
// a lock inside this process, so several replicas may share one database.
type redisStore struct {
	db      redis.UniversalClient
	now     func() time.Time
	closed  atomic.Bool
	started deferredStart // the schema check, done by New or by Start
}

// quietRedis turns off go-redis's own logger, which writes every failed dial to stderr
// through the standard log package: the errors reach mcpguard's callers instead, and the
// application logs once per change of the store's state.
var quietRedis sync.Once

// silent is a go-redis logger that drops everything.
type silent struct{}

// Printf implements go-redis's logger.
func (silent) Printf(context.Context, string, ...any) {}

// openRedis connects to the Redis the DSN names (see [redisClient]) and, unless
// later, checks it answers and its schema version (later leaves that to [Start]).
func openRedis(ctx context.Context, dsn string, now func() time.Time, later bool) (*redisStore, error) {
	quietRedis.Do(func() { redis.SetLogger(silent{}) })
	db, err := redisClient(dsn)
	if err != nil {
		return nil, err
	}
	r := &redisStore{db: db, now: now}
	r.started.backend = "redis"
	r.started.pending.Store(true)
	if later {
		return r, nil
	}
	if err := r.start(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return r, nil
}

// init checks the server answers and writes or checks the schema version.
func (r *redisStore) init(ctx context.Context) error {
	if err := r.db.SetNX(ctx, rkSchema, schemaVersion, 0).Err(); err != nil {
		return redisError(err)
	}
	v, err := r.db.Get(ctx, rkSchema).Result()
	if err != nil {
		return redisError(err)
	}
	if v != schemaVersion {
		return fmt.Errorf("store: redis database has schema version %q, this mcpguard reads %q", v, schemaVersion)
	}
	return nil
}

// begin fails when ctx is done or the store closed.
func (r *redisStore) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if r.closed.Load() {
		return errClosed
	}
	return r.started.check()
}

// redisError wraps an error from go-redis, as ErrUnavailable when the server could not
// be reached.
func redisError(err error) error {
	if errors.Is(err, redis.ErrClosed) {
		return errClosed
	}
	if u := unavailable("redis", err); u != nil {
		return u
	}
	return fmt.Errorf("store: redis: %w", err)
}

// score is t as an index score: Unix microseconds, +inf for the zero time.
func score(t time.Time) float64 {
	if t.IsZero() {
		return math.Inf(1)
	}
	return float64(t.UnixMicro())
}

// scoreArg is score(t) as a command argument.
func scoreArg(t time.Time) string {
	if t.IsZero() {
		return "+inf"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// expireAt is when Redis may drop a record that expires at t; zero for never.
func expireAt(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(redisSlack)
}

// encode is v as JSON.
func encode(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("store: encode %T: %w", v, err)
	}
	return string(raw), nil
}

// getJSON decodes the record under key; ok is false when there is none.
func getJSON[T any](ctx context.Context, c redis.Cmdable, key string) (v T, ok bool, err error) {
	raw, err := c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return v, false, nil
	} else if err != nil {
		return v, false, redisError(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("store: decode a redis record %T: %w", v, err)
	}
	return v, true, nil
}

// setJSON queues v under key in pipe, expiring at expireAt(exp) (or keeping its TTL when keep).
func setJSON(ctx context.Context, pipe redis.Pipeliner, key string, v any, exp time.Time, keep bool) error {
	raw, err := encode(v)
	if err != nil {
		return err
	}
	switch at := expireAt(exp); {
	case keep:
		pipe.SetArgs(ctx, key, raw, redis.SetArgs{KeepTTL: true})
	case at.IsZero():
		pipe.Set(ctx, key, raw, 0)
	default:
		pipe.SetArgs(ctx, key, raw, redis.SetArgs{ExpireAt: at})
	}
	return nil
}

// watch runs fn as an optimistic transaction over keys (fn may watch more), retrying
// while another client changes a watched key before EXEC.
func (r *redisStore) watch(ctx context.Context, fn func(*redis.Tx) error, keys ...string) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	for range redisRetries {
		err := r.db.Watch(ctx, fn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return fmt.Errorf("store: redis: gave up after %d conflicting transactions", redisRetries)
}

// exec runs the queued commands of fn atomically in tx, failing when a watched key changed.
func exec(ctx context.Context, tx *redis.Tx, fn func(redis.Pipeliner) error) error {
	_, err := tx.TxPipelined(ctx, fn)
	if err != nil && !errors.Is(err, redis.TxFailedErr) {
		return redisError(err)
	}
	return err
}

// RevokeAccessToken implements [Store]; a second call keeps the later expiry (ZADD GT).
func (r *redisStore) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errNoJTI
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	if err := r.db.ZAddGT(ctx, rkDenylist, redis.Z{Score: score(expiresAt), Member: jti}).Err(); err != nil {
		return redisError(err)
	}
	r.publish(ctx, Revocation{JTI: jti, Expires: expiresAt})
	return nil
}

// AccessTokenRevoked implements [Store]. An entry past its expiry still answers true
// until GC removes it: the token it names is expired anyway.
func (r *redisStore) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if err := r.begin(ctx); err != nil {
		return false, err
	}
	err := r.db.ZScore(ctx, rkDenylist, jti).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, redisError(err)
	}
	return true, nil
}

// PutConsent implements [Store].
func (r *redisStore) PutConsent(ctx context.Context, c Consent) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	raw, err := encode(c)
	if err != nil {
		return err
	}
	key := consentKey(c.Subject, c.ClientID)
	_, err = r.db.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, rkConsent(key), raw, 0)
		pipe.SAdd(ctx, rkConsents, key)
		return nil
	})
	if err != nil {
		return redisError(err)
	}
	return nil
}

// GetConsent implements [Store].
func (r *redisStore) GetConsent(ctx context.Context, subject, clientID string) (Consent, error) {
	if err := r.begin(ctx); err != nil {
		return Consent{}, err
	}
	c, ok, err := getJSON[Consent](ctx, r.db, rkConsent(consentKey(subject, clientID)))
	if err == nil && !ok {
		err = ErrNotFound
	}
	return c, err
}

// SigningKeys implements [Store].
func (r *redisStore) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	all, err := r.db.HGetAll(ctx, rkKeys).Result()
	if err != nil {
		return nil, redisError(err)
	}
	keys := make([]SigningKey, 0, len(all))
	for _, raw := range all {
		var k SigningKey
		if err := json.Unmarshal([]byte(raw), &k); err != nil {
			return nil, fmt.Errorf("store: decode a redis signing key: %w", err)
		}
		keys = append(keys, k)
	}
	sortKeys(keys)
	return keys, nil
}

// AddSigningKey implements [Store].
func (r *redisStore) AddSigningKey(ctx context.Context, k SigningKey) error {
	if k.ID == "" {
		return errNoKeyID
	}
	if err := r.begin(ctx); err != nil {
		return err
	}
	raw, err := encode(k)
	if err != nil {
		return err
	}
	added, err := r.db.HSetNX(ctx, rkKeys, k.ID, raw).Result()
	if err != nil {
		return redisError(err)
	}
	if !added {
		return ErrExists
	}
	return nil
}

// Ping implements [Store].
func (r *redisStore) Ping(ctx context.Context) error {
	if err := r.begin(ctx); err != nil {
		return err
	}
	if err := r.db.Ping(ctx).Err(); err != nil {
		return redisError(err)
	}
	return nil
}

// Close implements [Store]; closing twice is not an error.
func (r *redisStore) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if err := r.db.Close(); err != nil {
		return redisError(err)
	}
	return nil
}
