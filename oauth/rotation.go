package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/store"
)

// Signing key rotation. On the SigningKeyRotation schedule one replica (the holder of
// a store lease) adds a key whose NotBefore is SigningKeyPublishLead ahead: every
// replica publishes it in /jwks at its next reload but signs with it only from
// NotBefore, so a client that cached /jwks for up to JWKSMaxAge knows the key before it
// meets a token the key signed. A key that stopped signing is removed, from /jwks and
// the store, once the last token it signed has expired.
const (
	// JWKSMaxAge is how long a client may cache /jwks: its Cache-Control max-age.
	JWKSMaxAge = 5 * time.Minute
	// SigningKeyPublishLead is how long a rotated key is in /jwks before it signs:
	// one JWKS cache lifetime, plus as much again for every replica to reload its keys
	// (each does every keyReloadInterval) and for the clocks of replicas and clients.
	SigningKeyPublishLead = 2 * JWKSMaxAge
	// DefaultSigningKeyRotation is how often the signing key rotates unless
	// Config.SigningKeyRotation says otherwise.
	DefaultSigningKeyRotation = 30 * 24 * time.Hour

	// keyReloadInterval is how often every replica reloads the keys from the store,
	// rotates them when due and removes retired ones.
	keyReloadInterval = time.Minute
	// keyRetireSlack is how long after its last token expired a key is kept: replicas'
	// clocks disagree (the iat leeway) and one may sign with the old key until its next
	// reload.
	keyRetireSlack = auth.OwnTokenIATLeeway + keyReloadInterval
	// rotationLease is the store lease the rotating replica holds, rotationLeaseTTL long.
	rotationLease    = "signing-key-rotation"
	rotationLeaseTTL = time.Minute
)

// ErrRotationBusy reports that another replica (or another `mcpguard keys rotate`)
// holds the rotation lease: it is rotating now. Try again after a minute.
var ErrRotationBusy = errors.New("oauth: another replica is rotating the signing keys")

// RotateSigningKey adds a new signing key to st that starts signing at notBefore
// (now+SigningKeyPublishLead for a rotation that breaks no verifier; now itself
// breaks verifiers holding a cached JWK set until they fetch it again), under the
// rotation lease, and returns its kid. Replicas sharing st publish it at their next
// reload (within a minute) and sign with it from notBefore. ErrRotationBusy when
// another replica holds the lease.
func RotateSigningKey(ctx context.Context, st store.Store, now, notBefore time.Time) (string, error) {
	return rotate(ctx, st, "rotate-"+randomString(8), now, notBefore, 0)
}

// rotate takes the rotation lease for holder and adds a key starting at notBefore,
// unless due > 0 and the newest key is younger than due (another replica rotated
// first); then the kid is "".
func rotate(ctx context.Context, st store.Store, holder string, now, notBefore time.Time, due time.Duration) (string, error) {
	held, err := st.AcquireLease(ctx, rotationLease, holder, now, rotationLeaseTTL)
	if err != nil {
		return "", fmt.Errorf("oauth: take the key rotation lease: %w", err)
	}
	if !held {
		return "", ErrRotationBusy
	}
	// Read again under the lease: a replica that rotated before it was taken is seen.
	keys, err := st.SigningKeys(ctx)
	if err != nil {
		return "", fmt.Errorf("oauth: load signing keys: %w", err)
	}
	if due > 0 && len(keys) > 0 && now.Sub(keys[len(keys)-1].CreatedAt) < due {
		return "", nil
	}
	k, err := newSigningKey(now)
	if err != nil {
		return "", err
	}
	k.NotBefore = notBefore
	if err := st.AddSigningKey(ctx, k); err != nil {
		return "", fmt.Errorf("oauth: store the rotated signing key: %w", err)
	}
	return k.ID, nil
}

// keepKeys runs tickKeys every keyReloadInterval until ctx ends.
func (s *Server) keepKeys(ctx context.Context) {
	t := time.NewTicker(keyReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// An unreachable store is logged once per change by the store's watcher.
			if err := s.tickKeys(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrUnavailable) {
				zerolog.Ctx(ctx).Warn().Err(err).Msg("signing keys: reload or rotation failed")
			}
		}
	}
}

// tickKeys reloads the keys, so that a key another replica added is published here
// and signs from its NotBefore; rotates when the newest key is older than the
// rotation period; and removes the keys retired at s.now().
func (s *Server) tickKeys(ctx context.Context) error {
	if err := s.keys.load(ctx); err != nil {
		return err
	}
	now := s.now()
	ks := s.keys.set.Load()
	if newest := ks.stored[len(ks.stored)-1]; now.Sub(newest.CreatedAt) >= s.rotation {
		kid, err := rotate(ctx, s.cfg.Store, s.holder, now, now.Add(SigningKeyPublishLead), s.rotation)
		switch {
		case errors.Is(err, ErrRotationBusy):
		case err != nil:
			return err
		case kid != "":
			zerolog.Ctx(ctx).Info().Str("kid", kid).Time("signs_from", now.Add(SigningKeyPublishLead)).Msg("signing key rotated")
			if err := s.keys.load(ctx); err != nil {
				return err
			}
		}
	}
	return s.retireKeys(ctx, now)
}

// retireKeys removes the keys that stopped signing once the last token they can have
// signed has expired: the key signing at now started AccessTokenTTL plus
// keyRetireSlack ago. Keys waiting to sign are kept.
func (s *Server) retireKeys(ctx context.Context, now time.Time) error {
	ks := s.keys.set.Load()
	cur := ks.current(now)
	from := signedFrom(ks.stored[cur])
	if now.Before(from.Add(s.ttl.access + keyRetireSlack)) {
		return nil
	}
	retired := 0
	for i, k := range ks.stored {
		if i == cur || signingStart(k).After(now) || signedFrom(k).After(from) {
			continue
		}
		if err := s.cfg.Store.DeleteSigningKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("oauth: retire signing key %q: %w", k.ID, err)
		}
		zerolog.Ctx(ctx).Info().Str("kid", k.ID).Msg("signing key retired")
		retired++
	}
	if retired == 0 {
		return nil
	}
	return s.keys.load(ctx)
}
