package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memory is the memory:// backend: maps behind one mutex. Values are deep-copied on the
// way in and out, so no caller can alias the slices it keeps.
type memory struct {
	now func() time.Time

	mu              sync.Mutex
	closed          bool
	clients         map[string]Client
	codes           map[string]AuthCode
	tokens          map[string]RefreshToken
	families        map[string]map[string]struct{} // family ID -> token hashes
	revokedFamilies map[string]time.Time           // family ID -> revoked at
	denylist        map[string]time.Time           // jti -> expires at
	consents        map[string]Consent             // consentKey -> consent
	keys            map[string]SigningKey
	assertions      map[string]time.Time         // assertionKey -> expires at; made on first use
	sessions        map[string]Session           // session ID -> session
	subjects        map[string]SubjectRevocation // subject -> its revocation; made on first use
	leases          map[string]lease             // lease name -> holder; store/memory_rotation.go
	rates           map[string]time.Time         // rate key -> its bucket's instant; made on first use
}

// newMemory returns an empty memory store checking expiry against now.
func newMemory(now func() time.Time) *memory {
	return &memory{
		now:             now,
		clients:         map[string]Client{},
		codes:           map[string]AuthCode{},
		tokens:          map[string]RefreshToken{},
		families:        map[string]map[string]struct{}{},
		revokedFamilies: map[string]time.Time{},
		denylist:        map[string]time.Time{},
		consents:        map[string]Consent{},
		keys:            map[string]SigningKey{},
		sessions:        map[string]Session{},
	}
}

// lock takes the mutex unless ctx is done or the store closed; the caller unlocks.
func (m *memory) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	return nil
}

// liveClient returns the client with id unless it is missing or expired at now.
func (m *memory) liveClient(id string, now time.Time) (Client, bool) {
	c, ok := m.clients[id]
	if !ok || expired(c.ExpiresAt, now) {
		return Client{}, false
	}
	return c, true
}

// CreateClient implements [Store]; an expired client with the same ID is replaced.
func (m *memory) CreateClient(ctx context.Context, c Client) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.liveClient(c.ID, m.now()); ok {
		return ErrExists
	}
	m.clients[c.ID] = c.clone()
	return nil
}

// GetClient implements [Store].
func (m *memory) GetClient(ctx context.Context, id string) (Client, error) {
	if err := m.lock(ctx); err != nil {
		return Client{}, err
	}
	defer m.mu.Unlock()
	c, ok := m.liveClient(id, m.now())
	if !ok {
		return Client{}, ErrNotFound
	}
	return c.clone(), nil
}

// TouchClient implements [Store].
func (m *memory) TouchClient(ctx context.Context, id string, now time.Time, ttl time.Duration) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	c, ok := m.liveClient(id, now)
	if !ok {
		return ErrNotFound
	}
	m.clients[id] = touched(c, now, ttl)
	return nil
}

// DeleteClient implements [Store].
func (m *memory) DeleteClient(ctx context.Context, id string) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.clients[id]; !ok {
		return ErrNotFound
	}
	delete(m.clients, id)
	return nil
}

// CountClients implements [Store].
func (m *memory) CountClients(ctx context.Context) (int, error) {
	if err := m.lock(ctx); err != nil {
		return 0, err
	}
	defer m.mu.Unlock()
	n, now := 0, m.now()
	for _, c := range m.clients {
		if !expired(c.ExpiresAt, now) {
			n++
		}
	}
	return n, nil
}

// RevokeAccessToken implements [Store]; a second call keeps the later expiry.
func (m *memory) RevokeAccessToken(ctx context.Context, jti string, expiresAt time.Time) error {
	if jti == "" {
		return errNoJTI
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if old, ok := m.denylist[jti]; !ok || expiresAt.After(old) {
		m.denylist[jti] = expiresAt
	}
	return nil
}

// AccessTokenRevoked implements [Store]. An entry past its expiry still answers true
// until GC removes it: the token it names is expired anyway.
func (m *memory) AccessTokenRevoked(ctx context.Context, jti string) (bool, error) {
	if err := m.lock(ctx); err != nil {
		return false, err
	}
	defer m.mu.Unlock()
	_, ok := m.denylist[jti]
	return ok, nil
}

// PutConsent implements [Store].
func (m *memory) PutConsent(ctx context.Context, c Consent) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.consents[consentKey(c.Subject, c.ClientID)] = c.clone()
	return nil
}

// GetConsent implements [Store].
func (m *memory) GetConsent(ctx context.Context, subject, clientID string) (Consent, error) {
	if err := m.lock(ctx); err != nil {
		return Consent{}, err
	}
	defer m.mu.Unlock()
	c, ok := m.consents[consentKey(subject, clientID)]
	if !ok {
		return Consent{}, ErrNotFound
	}
	return c.clone(), nil
}

// SigningKeys implements [Store].
func (m *memory) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	if err := m.lock(ctx); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	keys := make([]SigningKey, 0, len(m.keys))
	for _, k := range m.keys {
		keys = append(keys, k.clone())
	}
	sortKeys(keys)
	return keys, nil
}

// AddSigningKey implements [Store].
func (m *memory) AddSigningKey(ctx context.Context, k SigningKey) error {
	if k.ID == "" {
		return errNoKeyID
	}
	if err := m.lock(ctx); err != nil {
		return err
	}
	defer m.mu.Unlock()
	if _, ok := m.keys[k.ID]; ok {
		return ErrExists
	}
	m.keys[k.ID] = k.clone()
	return nil
}

// Ping implements [Store].
func (m *memory) Ping(ctx context.Context) error {
	if err := m.lock(ctx); err != nil {
		return err
	}
	m.mu.Unlock()
	return nil
}

// Close implements [Store]; closing twice is not an error.
func (m *memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
