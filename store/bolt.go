package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Buckets of the bolt file, one per entity; values are JSON.
var (
	bucketMeta            = []byte("meta")             // "schema" -> schemaVersion
	bucketClients         = []byte("clients")          // client ID -> Client
	bucketCodes           = []byte("auth_codes")       // code hash -> AuthCode
	bucketTokens          = []byte("refresh_tokens")   // token hash -> RefreshToken
	bucketFamilyTokens    = []byte("family_tokens")    // family ID "\x00" token hash -> empty
	bucketRevokedFamilies = []byte("revoked_families") // family ID -> revoked at
	bucketDenylist        = []byte("access_denylist")  // jti -> expires at
	bucketConsents        = []byte("consents")         // consentKey -> Consent
	bucketKeys            = []byte("signing_keys")     // kid -> SigningKey
	allBuckets            = [][]byte{bucketMeta, bucketClients, bucketCodes, bucketTokens,
		bucketFamilyTokens, bucketRevokedFamilies, bucketDenylist, bucketConsents, bucketKeys, bucketSessions, bucketLeases}
)

// schemaVersion is the layout this code writes; a file with another one is refused.
const schemaVersion = "1"

// boltOpenTimeout bounds the wait for the file lock another process holds.
const boltOpenTimeout = 2 * time.Second

// boltStore is the bolt:// backend: an embedded bbolt file. Each method runs in one
// transaction, so multi-step operations are atomic across goroutines (bbolt allows
// one writer at a time) and the file lock keeps other processes out.
type boltStore struct {
	db   *bbolt.DB
	path string
	now  func() time.Time
}

// openBolt opens (creating if needed) the bolt file at path.
func openBolt(path string, now func() time.Time) (*boltStore, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory %q for the bolt file: %w", dir, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: boltOpenTimeout})
	if err != nil {
		return nil, openError(path, err)
	}
	b := &boltStore{db: db, path: path, now: now}
	if err := b.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return b, nil
}

// openError explains why bbolt.Open failed, naming the file.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return fmt.Errorf("store: bolt file %q is locked by another process (is another mcpguard running?): %w", path, err)
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrChecksum),
		errors.Is(err, bbolt.ErrVersionMismatch), errors.Is(err, bbolt.ErrInvalidMapping):
		return fmt.Errorf("store: bolt file %q is corrupt or not a bbolt database: %w", path, err)
	default:
		return fmt.Errorf("store: open bolt file %q: %w", path, err)
	}
}

// init creates the buckets and checks the schema version.
func (b *boltStore) init() error {
	return b.update(context.Background(), func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("store: bolt file %q: create bucket %q: %w", b.path, name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get([]byte("schema")); {
		case v == nil:
			return meta.Put([]byte("schema"), []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("store: bolt file %q has schema version %q, this mcpguard reads %q", b.path, v, schemaVersion)
		}
		return nil
	})
}

// update runs fn in one read-write transaction, committed when fn returns nil.
func (b *boltStore) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	return b.tx(ctx, true, fn)
}

// view runs fn in one read-only transaction.
func (b *boltStore) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	return b.tx(ctx, false, fn)
}

// tx runs fn in a transaction. Errors from fn pass through unchanged; errors from
// bbolt itself are wrapped with the file's path.
func (b *boltStore) tx(ctx context.Context, writable bool, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tx, err := b.db.Begin(writable)
	if err != nil {
		return b.dbError(err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit: a no-op returning ErrTxClosed
	if err := fn(tx); err != nil {
		return err
	}
	if !writable {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return b.dbError(err)
	}
	return nil
}

// dbError wraps an error bbolt returned outside fn.
func (b *boltStore) dbError(err error) error {
	if errors.Is(err, bbolt.ErrDatabaseNotOpen) {
		return errClosed
	}
	return fmt.Errorf("store: bolt file %q: %w", b.path, err)
}

// get decodes the record under key in bucket; ok is false when there is none.
func get[T any](tx *bbolt.Tx, bucket []byte, key string) (v T, ok bool, err error) {
	raw := tx.Bucket(bucket).Get([]byte(key))
	if raw == nil {
		return v, false, nil
	}
	v, err = decode[T](bucket, raw)
	return v, err == nil, err
}

// decode decodes raw, a record of bucket.
func decode[T any](bucket, raw []byte) (v T, err error) {
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("store: decode a record of bucket %q: %w", bucket, err)
	}
	return v, nil
}

// put encodes v under key in bucket.
func put(tx *bbolt.Tx, bucket []byte, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode a record of bucket %q: %w", bucket, err)
	}
	if err := tx.Bucket(bucket).Put([]byte(key), raw); err != nil {
		return fmt.Errorf("store: write a record of bucket %q: %w", bucket, err)
	}
	return nil
}

// del deletes key from bucket.
func del(tx *bbolt.Tx, bucket []byte, key string) error {
	if err := tx.Bucket(bucket).Delete([]byte(key)); err != nil {
		return fmt.Errorf("store: delete a record of bucket %q: %w", bucket, err)
	}
	return nil
}

// liveClient returns the client with id unless it is missing or expired at now.
func liveClient(tx *bbolt.Tx, id string, now time.Time) (Client, bool, error) {
	c, ok, err := get[Client](tx, bucketClients, id)
	if err != nil || !ok || expired(c.ExpiresAt, now) {
		return Client{}, false, err
	}
	return c, true, nil
}

// CreateClient implements [Store]; an expired client with the same ID is replaced.
func (b *boltStore) CreateClient(ctx context.Context, c Client) error {
	if err := c.validate(); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if _, ok, err := liveClient(tx, c.ID, b.now()); err != nil {
			return err
		} else if ok {
			return ErrExists
		}
		return put(tx, bucketClients, c.ID, c)
	})
}

// GetClient implements [Store].
func (b *boltStore) GetClient(ctx context.Context, id string) (c Client, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		if c, ok, err = liveClient(tx, id, b.now()); err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return c, err
}

// TouchClient implements [Store].
func (b *boltStore) TouchClient(ctx context.Context, id string, now time.Time, ttl time.Duration) error {
	return b.update(ctx, func(tx *bbolt.Tx) error {
		c, ok, err := liveClient(tx, id, now)
		if err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		return put(tx, bucketClients, id, touched(c, now, ttl))
	})
}

// DeleteClient implements [Store].
func (b *boltStore) DeleteClient(ctx context.Context, id string) error {
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketClients).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		return del(tx, bucketClients, id)
	})
}

// CountClients implements [Store].
func (b *boltStore) CountClients(ctx context.Context) (n int, err error) {
	now := b.now()
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketClients).ForEach(func(_, raw []byte) error {
			c, err := decode[Client](bucketClients, raw)
			if err == nil && !expired(c.ExpiresAt, now) {
				n++
			}
			return err
		})
	})
	return n, err
}

// RevokeAccessToken implements [Store]; a second call keeps the later expiry.
func (b *boltStore) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errNoJTI
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		old, ok, err := get[time.Time](tx, bucketDenylist, jti)
		if err != nil || (ok && !expiresAt.After(old)) {
			return err
		}
		return put(tx, bucketDenylist, jti, expiresAt)
	})
}

// AccessTokenRevoked implements [Store]. An entry past its expiry still answers true
// until GC removes it: the token it names is expired anyway.
func (b *boltStore) AccessTokenRevoked(ctx context.Context, jti string) (revoked bool, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		revoked = tx.Bucket(bucketDenylist).Get([]byte(jti)) != nil
		return nil
	})
	return revoked, err
}

// PutConsent implements [Store].
func (b *boltStore) PutConsent(ctx context.Context, c Consent) error {
	if err := c.validate(); err != nil {
		return err
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		return put(tx, bucketConsents, consentKey(c.Subject, c.ClientID), c)
	})
}

// GetConsent implements [Store].
func (b *boltStore) GetConsent(ctx context.Context, subject, clientID string) (c Consent, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		if c, ok, err = get[Consent](tx, bucketConsents, consentKey(subject, clientID)); err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	return c, err
}

// SigningKeys implements [Store].
func (b *boltStore) SigningKeys(ctx context.Context) (keys []SigningKey, err error) {
	err = b.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(_, raw []byte) error {
			key, err := decode[SigningKey](bucketKeys, raw)
			keys = append(keys, key)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	sortKeys(keys)
	return keys, nil
}

// AddSigningKey implements [Store].
func (b *boltStore) AddSigningKey(ctx context.Context, k SigningKey) error {
	if k.ID == "" {
		return errNoKeyID
	}
	return b.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketKeys).Get([]byte(k.ID)) != nil {
			return ErrExists
		}
		return put(tx, bucketKeys, k.ID, k)
	})
}

// Ping implements [Store]: a read transaction that finds the schema record.
func (b *boltStore) Ping(ctx context.Context) error {
	return b.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta).Get([]byte("schema")) == nil {
			return fmt.Errorf("store: bolt file %q has no schema record", b.path)
		}
		return nil
	})
}

// Close implements [Store]: it releases the file and its lock.
func (b *boltStore) Close() error {
	if err := b.db.Close(); err != nil {
		return b.dbError(err)
	}
	return nil
}
