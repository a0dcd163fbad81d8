package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/auth/authtest"
)

const (
	jagClient  = "agent"
	jagSecret  = "agent-secret-0123456789abcdef"
	jagOther   = "agent-2"
	jagOSecret = "agent-2-secret-0123456789abcdef"
)

// idjagEnv is a flow environment trusting a local enterprise IdP.
type idjagEnv struct {
	*flowEnv
	idp *authtest.Issuer
}

func newIDJAGEnv(t *testing.T) *idjagEnv {
	idp := authtest.NewIssuer(t)
	e := newFlowEnv(t, func(c *Config) {
		c.InsecureCIMDAllowPrivate = true
		c.AllowedDomains = []string{"example.com"}
		c.Clients = append(c.Clients,
			StaticClient{ID: jagClient, Secret: jagSecret, GrantTypes: []string{grantJWTBearer}, Scope: "mcp:read mcp:write", Resources: []string{flowResource, flowOtherResource}},
			StaticClient{ID: jagOther, Secret: jagOSecret, GrantTypes: []string{grantJWTBearer}},
		)
		c.EnterpriseIdPs = []EnterpriseIdP{{Issuer: idp.URL(), Clients: []string{jagClient}}}
	})
	return &idjagEnv{flowEnv: e, idp: idp}
}

// jag is a valid ID-JAG for jagClient and flowResource, with claims changed by
// edit (a nil value removes a claim).
func (e *idjagEnv) jag(t *testing.T, edit map[string]any, opts ...authtest.TokenOption) string {
	t.Helper()
	now := e.clock.Now()
	c := map[string]any{"sub": "u-1", "email": "bob@example.com", "email_verified": true, "aud": e.srv.URL,
		"client_id": jagClient, "resource": flowResource, "scope": "mcp:read mcp:write", "jti": randomString(10),
		"iat": now, "exp": now.Add(5 * time.Minute)}
	for k, v := range edit {
		c[k] = v
	}
	return e.idp.Token(t, c, append([]authtest.TokenOption{authtest.WithType(typIDJAG)}, opts...)...)
}

func jagForm(assertion string, extra ...string) url.Values {
	f := url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// TestIDJAG: each check of the grant is a row, in the order they run.
func TestIDJAG(t *testing.T) {
	e := newIDJAGEnv(t)
	agent := []string{jagClient, jagSecret}
	replayed := e.jag(t, nil)
	if a := e.postToken("/token", jagForm(replayed), agent...); a.status != http.StatusOK {
		t.Fatalf("first use of an ID-JAG = %d %v, want 200", a.status, a.body)
	}
	now := e.clock.Now()
	tests := []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		code   string
		check  string // a word of the description
		scope  string // on success
	}{
		{name: "ok", form: jagForm(e.jag(t, nil)), basic: agent, status: 200, scope: "mcp:read mcp:write"},
		{name: "ok aud with slash", form: jagForm(e.jag(t, map[string]any{"aud": e.srv.URL + "/"})), basic: agent, status: 200, scope: "mcp:read mcp:write"},
		{name: "ok narrowed", form: jagForm(e.jag(t, nil), "scope", "mcp:read"), basic: agent, status: 200, scope: "mcp:read"},
		{name: "ok scope claim narrows", form: jagForm(e.jag(t, map[string]any{"scope": "mcp:read"})), basic: agent, status: 200, scope: "mcp:read"},
		{name: "ok other resource", form: jagForm(e.jag(t, map[string]any{"resource": flowOtherResource}), "resource", flowOtherResource), basic: agent, status: 200, scope: "mcp:read mcp:write"},
		{name: "ok email_verified as a string", form: jagForm(e.jag(t, map[string]any{"email_verified": "true"})), basic: agent, status: 200, scope: "mcp:read mcp:write"},
		{name: "client authentication", form: jagForm(e.jag(t, nil)), basic: []string{jagClient, "wrong"}, status: 401, code: codeInvalidClient},
		{name: "client not registered for the grant", form: jagForm(e.jag(t, nil)), basic: []string{confClient, confSecret}, status: 400, code: codeUnauthorizedClient},
		{name: "assertion missing", form: jagForm(""), basic: agent, status: 400, code: codeInvalidGrant, check: "assertion"},
		{name: "assertion garbage", form: jagForm("garbage"), basic: agent, status: 400, code: codeInvalidGrant, check: "JWS"},
		{name: "typ JWT", form: jagForm(e.jag(t, nil, authtest.WithType("JWT"))), basic: agent, status: 400, code: codeInvalidGrant, check: "typ"},
		{name: "signature forged", form: jagForm(e.jag(t, nil, authtest.WithUnpublishedKey())), basic: agent, status: 400, code: codeInvalidGrant, check: "signature"},
		{name: "alg none", form: jagForm(e.jag(t, nil, authtest.WithAlg("none"))), basic: agent, status: 400, code: codeInvalidGrant, check: "JWS"},
		{name: "iss untrusted", form: jagForm(e.jag(t, map[string]any{"iss": "https://evil.example"})), basic: agent, status: 400, code: codeInvalidGrant, check: "iss"},
		{name: "aud other", form: jagForm(e.jag(t, map[string]any{"aud": "https://other.example"})), basic: agent, status: 400, code: codeInvalidGrant, check: "aud"},
		{name: "aud two slashes", form: jagForm(e.jag(t, map[string]any{"aud": e.srv.URL + "//"})), basic: agent, status: 400, code: codeInvalidGrant, check: "aud"},
		{name: "aud token endpoint", form: jagForm(e.jag(t, map[string]any{"aud": e.srv.URL + "/token"})), basic: agent, status: 400, code: codeInvalidGrant, check: "aud"},
		{name: "client_id other", form: jagForm(e.jag(t, map[string]any{"client_id": jagOther})), basic: agent, status: 400, code: codeInvalidGrant, check: "client_id"},
		{name: "client not allowed by the IdP", form: jagForm(e.jag(t, map[string]any{"client_id": jagOther})), basic: []string{jagOther, jagOSecret}, status: 400, code: codeInvalidGrant, check: "client_id"},
		{name: "resource other", form: jagForm(e.jag(t, map[string]any{"resource": flowOtherResource})), basic: agent, status: 400, code: codeInvalidGrant, check: "resource"},
		{name: "resource missing", form: jagForm(e.jag(t, map[string]any{"resource": nil})), basic: agent, status: 400, code: codeInvalidGrant, check: "resource"},
		{name: "exp past", form: jagForm(e.jag(t, map[string]any{"exp": now.Add(-time.Minute)})), basic: agent, status: 400, code: codeInvalidGrant, check: "exp"},
		{name: "exp missing", form: jagForm(e.jag(t, map[string]any{"exp": nil})), basic: agent, status: 400, code: codeInvalidGrant, check: "exp"},
		{name: "iat future", form: jagForm(e.jag(t, map[string]any{"iat": now.Add(time.Minute)})), basic: agent, status: 400, code: codeInvalidGrant, check: "iat"},
		{name: "iat missing", form: jagForm(e.jag(t, map[string]any{"iat": nil})), basic: agent, status: 400, code: codeInvalidGrant, check: "iat"},
		{name: "nbf future", form: jagForm(e.jag(t, map[string]any{"nbf": now.Add(time.Minute)})), basic: agent, status: 400, code: codeInvalidGrant, check: "nbf"},
		{name: "jti missing", form: jagForm(e.jag(t, map[string]any{"jti": nil})), basic: agent, status: 400, code: codeInvalidGrant, check: "jti"},
		{name: "jti replayed", form: jagForm(replayed), basic: agent, status: 400, code: codeInvalidGrant, check: "jti"},
		{name: "scope widened", form: jagForm(e.jag(t, map[string]any{"scope": "mcp:read"}), "scope", "mcp:write"), basic: agent, status: 400, code: codeInvalidScope},
		{name: "sub missing", form: jagForm(e.jag(t, map[string]any{"sub": nil})), basic: agent, status: 400, code: codeInvalidGrant, check: "sub"},
		{name: "email unverified", form: jagForm(e.jag(t, map[string]any{"email_verified": false})), basic: agent, status: 400, code: codeInvalidGrant, check: "allowed"},
		{name: "email outside the allowlist", form: jagForm(e.jag(t, map[string]any{"email": "eve@other.example"})), basic: agent, status: 400, code: codeInvalidGrant, check: "allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.postToken("/token", tt.form, tt.basic...)
			if a.status != tt.status || a.str("error") != tt.code {
				t.Fatalf("POST /token = %d %v, want %d %q", a.status, a.body, tt.status, tt.code)
			}
			if tt.check != "" && !strings.Contains(a.str("error_description"), tt.check) {
				t.Errorf("error_description = %q, want it to name %q", a.str("error_description"), tt.check)
			}
			if a.status != 200 {
				if d := a.str("error_description"); strings.Contains(d, "eyJ") {
					t.Errorf("error_description %q repeats the assertion", d)
				}
				return
			}
			if a.str("scope") != tt.scope || a.body["refresh_token"] != nil {
				t.Errorf("POST /token = %v, want scope %q and no refresh token", a.body, tt.scope)
			}
			p, err := e.verify(a.str("access_token"))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "u-1" || p.Email != "bob@example.com" || !p.EmailVerified || p.ClientID != jagClient || p.Source != auth.SourceOAuth {
				t.Errorf("principal = %+v, want bob for %q by oauth", p, jagClient)
			}
		})
	}
}

// TestIDJAGConfig: the grant is advertised only when configured, and bad
// configurations stop start-up.
func TestIDJAGConfig(t *testing.T) {
	e := newIDJAGEnv(t)
	if md := readBody(t, e.get(WellKnownAuthorizationServer)); !strings.Contains(md, grantJWTBearer) {
		t.Errorf("metadata = %s, want %s in grant_types_supported", md, grantJWTBearer)
	}
	plain := newFlowEnv(t, nil)
	if md := readBody(t, plain.get(WellKnownAuthorizationServer)); strings.Contains(md, grantJWTBearer) {
		t.Errorf("metadata without enterprise IdPs = %s, want no jwt-bearer grant", md)
	}
	if a := plain.postToken("/token", jagForm("x"), confClient, confSecret); a.str("error") != codeUnsupportedGrantType {
		t.Errorf("jwt-bearer when not configured = %d %v, want unsupported_grant_type", a.status, a.body)
	}
	tests := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"grant without IdPs", func(c *Config) { c.EnterpriseIdPs = nil }, "needs enterprise_idps"},
		{"IdP names an unknown client", func(c *Config) { c.EnterpriseIdPs[0].Clients = []string{"nobody"} }, "not a configured client"},
		{"IdP issuer not a URL", func(c *Config) { c.EnterpriseIdPs[0].Issuer = "idp" }, "not an https URL"},
		{"public client", func(c *Config) {
			c.Clients = append(c.Clients, StaticClient{ID: "pub-agent", GrantTypes: []string{grantJWTBearer}})
		}, "confidential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.cfg
			cfg.Clients = append([]StaticClient(nil), e.cfg.Clients...)
			cfg.EnterpriseIdPs = append([]EnterpriseIdP(nil), e.cfg.EnterpriseIdPs...)
			tt.edit(&cfg)
			if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestIDJAGIdPDown: an IdP whose discovery fails is 503 temporarily_unavailable, not
// invalid_grant, and the same assertion works once the IdP is back.
func TestIDJAGIdPDown(t *testing.T) {
	e := newIDJAGEnv(t)
	a := e.jag(t, nil)
	e.idp.SetDown(true)
	if r := e.postToken("/token", jagForm(a), jagClient, jagSecret); r.status != http.StatusServiceUnavailable || r.str("error") != codeTemporarilyUnavailable {
		t.Fatalf("POST /token with the IdP down = %d %v, want 503 temporarily_unavailable", r.status, r.body)
	}
	e.idp.SetDown(false)
	e.clock.Advance(time.Minute) // past the discovery cooldown, within the assertion's life
	if r := e.postToken("/token", jagForm(a), jagClient, jagSecret); r.status != http.StatusOK {
		t.Errorf("POST /token with the IdP back = %d %v, want 200", r.status, r.body)
	}
}
