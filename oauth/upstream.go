package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mcpguard/mcpguard/store"
)

// googleIssuer is the OIDC issuer of Provider "google".
const googleIssuer = "https://accounts.google.com"

// Timeouts of the upstream login.
const (
	upstreamTimeout       = 15 * time.Second // one discovery or code exchange
	upstreamClientTimeout = 10 * time.Second // one HTTP request, for the default client
	discoveryMaxBackoff   = time.Minute
)

// upstream is the identity provider users log in with for Provider "google" and
// "oidc": mcpguard is its OAuth client (x/oauth2, PKCE S256, state, nonce) and verifies
// its ID tokens with go-oidc. Its tokens are used once, in the callback, to learn who
// logged in; they are never stored nor given to anyone.
type upstream struct {
	issuer   string
	google   bool
	hd       string
	client   *http.Client
	config   oauth2.Config // without Endpoint until discovery
	now      func() time.Time
	provider atomic.Pointer[upstreamProvider]
	lastErr  atomic.Pointer[error]
}

// upstreamProvider is what discovery established.
type upstreamProvider struct {
	config   oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// initUpstream validates the upstream configuration and starts discovery in the
// background; logins wait for it (Ready reports it).
func (s *Server) initUpstream(ctx context.Context) error {
	c := s.cfg
	u := &upstream{issuer: c.UpstreamIssuer, google: c.Provider == "google", client: c.UpstreamHTTPClient, now: s.now}
	switch {
	case u.google && u.issuer == "":
		u.issuer = googleIssuer
	case u.issuer == "":
		return errors.New("oauth: provider oidc needs the upstream issuer (OIDC_ISSUER)")
	}
	if !u.google && c.GoogleHostedDomain != "" {
		return errors.New("oauth: a Google hosted domain is set but the provider is not google")
	}
	u.hd = strings.ToLower(c.GoogleHostedDomain)
	if c.UpstreamClientID == "" {
		return fmt.Errorf("oauth: provider %s needs the upstream client id (CLIENT_ID)", c.Provider)
	}
	if u.client == nil {
		u.client = &http.Client{Timeout: upstreamClientTimeout}
	}
	scopes := c.UpstreamScopes
	if scopes == nil {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
		if !u.google && len(c.AllowedGroups) > 0 {
			scopes = append(scopes, "groups")
		}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return errors.New("oauth: the upstream scopes must include openid")
	}
	u.config = oauth2.Config{
		ClientID:     c.UpstreamClientID,
		ClientSecret: c.UpstreamClientSecret,
		RedirectURL:  c.Issuer + "/callback",
		Scopes:       scopes,
	}
	s.upstream = u
	go u.run(ctx)
	return nil
}

// run discovers the upstream, retrying with exponential backoff until it succeeds or
// ctx is done.
func (u *upstream) run(ctx context.Context) {
	wait := time.Second
	for {
		err := u.discover(ctx)
		if err == nil {
			return
		}
		u.lastErr.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, discoveryMaxBackoff)
	}
}

// discover fetches the upstream's OIDC discovery document (its issuer must match).
func (u *upstream) discover(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, u.client), u.issuer)
	if err != nil {
		return fmt.Errorf("oauth: upstream %q discovery: %w", u.issuer, err)
	}
	cfg := u.config
	cfg.Endpoint = p.Endpoint()
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleAutoDetect
	u.provider.Store(&upstreamProvider{
		config:   cfg,
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: u.now}),
	})
	return nil
}

// Ready reports whether the server can serve logins and tokens: the store answers
// and, for an upstream provider, its discovery succeeded. For /readyz.
func (s *Server) Ready(ctx context.Context) error {
	if err := s.cfg.Store.Ping(ctx); err != nil {
		return fmt.Errorf("oauth: store: %w", err)
	}
	if s.upstream != nil && s.upstream.provider.Load() == nil {
		if err := s.upstream.lastErr.Load(); err != nil {
			return *err
		}
		return fmt.Errorf("oauth: upstream %q not discovered yet", s.upstream.issuer)
	}
	return nil
}

// startUpstream sends the browser to the upstream's authorization endpoint with a new
// state, nonce and PKCE verifier, kept in the session for the callback.
func (s *Server) startUpstream(w http.ResponseWriter, r *http.Request, ss *session) {
	p := s.upstream.provider.Load()
	if p == nil {
		s.saveSession(w, r, ss)
		s.errorPage(w, r, http.StatusServiceUnavailable, "Sign-in unavailable", "The identity provider cannot be reached yet. Try again in a moment.")
		return
	}
	state, nonce, verifier := randomString(32), randomString(32), oauth2.GenerateVerifier()
	ss.set(keyUpState, state)
	ss.set(keyUpNonce, nonce)
	ss.set(keyUpVerifier, verifier)
	if !s.saveOrFail(w, r, ss) {
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if s.upstream.hd != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", s.upstream.hd))
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, p.config.AuthCodeURL(state, opts...), http.StatusFound)
}

// upstreamClaims are the ID token claims mapped to an identity.
type upstreamClaims struct {
	Email             string `json:"email"`
	EmailVerified     any    `json:"email_verified"` // bool, or "true" from some IdPs
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Groups            any    `json:"groups"` // list of strings, or one string
	HostedDomain      string `json:"hd"`
}

// handleCallback is the upstream's redirect back: it checks state, exchanges the code
// (with the PKCE verifier), verifies the ID token (signature, iss, aud, exp, nonce),
// applies Google's hd and the allowlists, and logs the user in.
func (s *Server) handleCallback(w http.ResponseWriter, r *http.Request) {
	if s.upstream == nil {
		s.errorPage(w, r, http.StatusNotFound, "Not found", "This server has no upstream identity provider.")
		return
	}
	ss := s.session(r)
	q := r.URL.Query()
	want, nonce, verifier := ss.get(keyUpState), ss.get(keyUpNonce), ss.get(keyUpVerifier)
	ss.clearUpstream() // single use, whatever happens next
	if want == "" {
		s.saveSession(w, r, ss)
		s.errorPage(w, r, http.StatusBadRequest, "No sign-in in progress", "This browser has no sign-in in progress (or its session cookie was lost). Start again from your application.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(want)) != 1 {
		s.saveSession(w, r, ss)
		s.errorPage(w, r, http.StatusBadRequest, "Sign-in failed", "The identity provider's answer does not belong to this browser's sign-in (state mismatch). Start again from your application.")
		return
	}
	if e := q.Get("error"); e != "" {
		s.saveSession(w, r, ss)
		s.errorPage(w, r, http.StatusForbidden, "Sign-in refused", "The identity provider did not sign you in ("+truncate(e, 64)+").")
		return
	}
	id, status, problem := s.upstreamIdentity(r.Context(), q.Get("code"), verifier, nonce)
	if problem != "" {
		s.saveSession(w, r, ss)
		s.errorPage(w, r, status, "Sign-in failed", problem)
		return
	}
	s.loggedIn(w, r, ss, id)
}

// upstreamIdentity redeems code and returns who logged in, or the status and message
// of the page explaining why not.
func (s *Server) upstreamIdentity(ctx context.Context, code, verifier, nonce string) (store.Identity, int, string) {
	u := s.upstream
	p := u.provider.Load()
	if code == "" || p == nil {
		return store.Identity{}, http.StatusBadRequest, "The identity provider sent no authorization code."
	}
	ctx, cancel := context.WithTimeout(ctx, upstreamTimeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, u.client)
	tok, err := p.config.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return store.Identity{}, http.StatusBadGateway, "The identity provider did not accept the sign-in. Start again from your application."
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return store.Identity{}, http.StatusBadGateway, "The identity provider sent no ID token."
	}
	idt, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return store.Identity{}, http.StatusForbidden, "The identity provider's ID token could not be verified."
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return store.Identity{}, http.StatusForbidden, "The identity provider's ID token does not belong to this sign-in (nonce mismatch)."
	}
	var c upstreamClaims
	if err := idt.Claims(&c); err != nil {
		return store.Identity{}, http.StatusForbidden, "The identity provider's ID token could not be read."
	}
	id := store.Identity{
		Subject:       idt.Subject,
		Email:         c.Email,
		EmailVerified: c.EmailVerified == true || c.EmailVerified == "true",
		Name:          c.Name,
		Groups:        claimStrings(c.Groups),
	}
	if id.Name == "" {
		id.Name = c.PreferredUsername
	}
	if u.google {
		// Google asserts email_verified for every account it vouches for; hd is the
		// only trustworthy sign of a Workspace domain (the email's domain is not).
		if id.Email == "" || !id.EmailVerified {
			return store.Identity{}, http.StatusForbidden, "Your Google account's email address is not verified."
		}
		if u.hd != "" && !strings.EqualFold(c.HostedDomain, u.hd) {
			return store.Identity{}, http.StatusForbidden, "Sign in with an account of " + u.hd + "."
		}
	}
	return id, 0, ""
}

// claimStrings reads a groups-like claim: a list of strings, or one string.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// truncate returns s cut to n bytes, for error codes shown on pages.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
