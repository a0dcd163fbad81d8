package store

// The copies and the checks every backend makes of the records it stores.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// clone returns a deep copy of c.
func (c Client) clone() Client {
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.ResponseTypes = slices.Clone(c.ResponseTypes)
	return c
}

// clone returns a deep copy of id.
func (id Identity) clone() Identity {
	id.Groups = slices.Clone(id.Groups)
	return id
}

// clone returns a deep copy of c.
func (c AuthCode) clone() AuthCode {
	c.Scopes = slices.Clone(c.Scopes)
	c.Identity = c.Identity.clone()
	return c
}

// clone returns a deep copy of t.
func (t RefreshToken) clone() RefreshToken {
	t.Scopes = slices.Clone(t.Scopes)
	t.Identity = t.Identity.clone()
	return t
}

// clone returns a deep copy of c.
func (c Consent) clone() Consent {
	c.Scopes = slices.Clone(c.Scopes)
	return c
}

// clone returns a deep copy of k.
func (k SigningKey) clone() SigningKey {
	k.PrivateKey = slices.Clone(k.PrivateKey)
	return k
}

// validate checks what every backend needs before storing c.
func (c Client) validate() error {
	if c.ID == "" {
		return errors.New("store: client has no id")
	}
	return nil
}

// validate checks what every backend needs before storing c.
func (c Consent) validate() error {
	if c.Subject == "" || c.ClientID == "" {
		return errors.New("store: consent needs a subject and a client id")
	}
	return nil
}

// validate checks what every backend needs before storing c.
func (c AuthCode) validate() error {
	switch {
	case c.CodeHash == "":
		return errors.New("store: authorization code has no hash")
	case c.FamilyID == "":
		return errors.New("store: authorization code has no family id")
	case c.ExpiresAt.IsZero():
		return errors.New("store: authorization code has no expiry")
	}
	return nil
}

// validate checks what every backend needs before storing t.
func (t RefreshToken) validate() error {
	switch {
	case t.TokenHash == "":
		return errors.New("store: refresh token has no hash")
	case t.FamilyID == "":
		return errors.New("store: refresh token has no family id")
	case t.ExpiresAt.IsZero():
		return errors.New("store: refresh token has no expiry")
	}
	return nil
}

// useCheck decides UseAuthCode for c at now: nil to use it, ErrCodeUsed or ErrExpired.
// A used code is reported as used even once expired, so a replay is still recognised.
func useCheck(c AuthCode, now time.Time) error {
	switch {
	case !c.UsedAt.IsZero():
		return ErrCodeUsed
	case expired(c.ExpiresAt, now):
		return ErrExpired
	}
	return nil
}

// rotateCheck decides RotateRefreshToken for old at now: nil to rotate, ErrRevoked,
// ErrExpired, or ErrTokenReused when old was replaced grace or more ago (with grace 0,
// any second use). A rotation "before" old.RotatedAt (racing clocks) is within grace.
func rotateCheck(old RefreshToken, familyRevoked bool, now time.Time, grace time.Duration) error {
	switch {
	case familyRevoked || !old.RevokedAt.IsZero():
		return ErrRevoked
	case expired(old.ExpiresAt, now):
		return ErrExpired
	case !old.RotatedAt.IsZero() && (grace <= 0 || now.Sub(old.RotatedAt) >= grace):
		return ErrTokenReused
	}
	return nil
}

// nextToken gives next old's family when it has none and checks it.
func nextToken(old, next RefreshToken) (RefreshToken, error) {
	if next.FamilyID == "" {
		next.FamilyID = old.FamilyID
	}
	if next.FamilyID != old.FamilyID {
		return next, fmt.Errorf("store: next refresh token's family %q is not the old token's %q", next.FamilyID, old.FamilyID)
	}
	return next, next.validate()
}

// consentKey is the unambiguous key of a subject's consent to a client.
func consentKey(subject, clientID string) string {
	return fmt.Sprintf("%d:%s%s", len(subject), subject, clientID)
}

// sortKeys orders keys oldest first, then by ID, the same in every backend.
func sortKeys(keys []SigningKey) {
	slices.SortStableFunc(keys, func(a, b SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
