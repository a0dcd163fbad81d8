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

// workloadEnv is a flow environment trusting a local workload issuer (as a
// Kubernetes cluster's service-account issuer would be) and an enterprise IdP.
type workloadEnv struct {
	*flowEnv
	wl  *authtest.Issuer
	idp *authtest.Issuer
}

func newWorkloadEnv(t *testing.T) *workloadEnv {
	wl, idp := authtest.NewIssuer(t), authtest.NewIssuer(t)
	e := newFlowEnv(t, func(c *Config) {
		c.InsecureCIMDAllowPrivate = true
		c.AllowedDomains = []string{"example.com"}
		c.Clients = append(c.Clients, StaticClient{ID: jagClient, Secret: jagSecret, GrantTypes: []string{grantJWTBearer}, Scope: "mcp:read mcp:write", Resources: []string{flowResource}})
		c.EnterpriseIdPs = []EnterpriseIdP{{Issuer: idp.URL()}}
		c.WorkloadIssuers = []WorkloadIssuer{{Issuer: wl.URL(), Subjects: []WorkloadSubject{
			{Sub: "system:serviceaccount:ci:deployer", Name: "ci-deployer", Scope: "mcp:read mcp:write", Resources: []string{flowResource, flowOtherResource}},
			{Sub: "spiffe://example.org/ns/batch/*", Name: "batch", Scope: "mcp:read", Resources: []string{flowResource}},
		}}}
	})
	return &workloadEnv{flowEnv: e, wl: wl, idp: idp}
}

// token is a valid workload token for the ci deployer, with claims changed by edit.
func (e *workloadEnv) token(t *testing.T, edit map[string]any, opts ...authtest.TokenOption) string {
	t.Helper()
	now := e.clock.Now()
	c := map[string]any{"sub": "system:serviceaccount:ci:deployer", "aud": []string{e.srv.URL}, "jti": randomString(10),
		"iat": now, "exp": now.Add(10 * time.Minute)}
	for k, v := range edit {
		c[k] = v
	}
	return e.wl.Token(t, c, opts...)
}

// TestWorkloadGrant: each check of the grant is a row.
func TestWorkloadGrant(t *testing.T) {
	e := newWorkloadEnv(t)
	replayed := e.token(t, nil)
	if a := e.postToken("/token", jagForm(replayed)); a.status != http.StatusOK {
		t.Fatalf("first use of a workload token = %d %v, want 200", a.status, a.body)
	}
	now := e.clock.Now()
	tests := []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		code   string
		check  string // a word of the description
		user   string // on success
		scope  string // on success
	}{
		{name: "ok", form: jagForm(e.token(t, nil)), status: 200, user: "ci-deployer", scope: "mcp:read mcp:write"},
		{name: "ok aud with slash among others", form: jagForm(e.token(t, map[string]any{"aud": []string{"https://kubernetes.default.svc", e.srv.URL + "/"}})), status: 200, user: "ci-deployer", scope: "mcp:read mcp:write"},
		{name: "ok aud a string", form: jagForm(e.token(t, map[string]any{"aud": e.srv.URL})), status: 200, user: "ci-deployer", scope: "mcp:read mcp:write"},
		{name: "ok no jti", form: jagForm(e.token(t, map[string]any{"jti": nil})), status: 200, user: "ci-deployer", scope: "mcp:read mcp:write"},
		{name: "ok narrowed", form: jagForm(e.token(t, nil), "scope", "mcp:read"), status: 200, user: "ci-deployer", scope: "mcp:read"},
		{name: "ok other resource", form: jagForm(e.token(t, nil), "resource", flowOtherResource), status: 200, user: "ci-deployer", scope: "mcp:read mcp:write"},
		{name: "ok SPIFFE prefix", form: jagForm(e.token(t, map[string]any{"sub": "spiffe://example.org/ns/batch/sa/nightly"})), status: 200, user: "batch", scope: "mcp:read"},
		{name: "assertion garbage", form: jagForm("garbage"), status: 400, code: codeInvalidGrant, check: "JWS"},
		{name: "alg none", form: jagForm(e.token(t, nil, authtest.WithAlg("none"))), status: 400, code: codeInvalidGrant, check: "JWS"},
		{name: "alg HS256 with the public key", form: jagForm(e.token(t, nil, authtest.WithAlg("HS256"))), status: 400, code: codeInvalidGrant, check: "JWS"},
		{name: "signature forged", form: jagForm(e.token(t, nil, authtest.WithUnpublishedKey())), status: 400, code: codeInvalidGrant, check: "signature"},
		{name: "issuer unknown", form: jagForm(e.token(t, map[string]any{"iss": "https://evil.example"})), status: 400, code: codeInvalidGrant, check: "iss"},
		{name: "signed by the enterprise IdP", form: jagForm(e.idp.Token(t, map[string]any{"sub": "system:serviceaccount:ci:deployer", "aud": e.srv.URL})), status: 400, code: codeInvalidGrant, check: "iss"},
		{name: "aud wrong", form: jagForm(e.token(t, map[string]any{"aud": []string{"https://other.example"}})), status: 400, code: codeInvalidGrant, check: "aud"},
		{name: "aud missing", form: jagForm(e.token(t, map[string]any{"aud": nil})), status: 400, code: codeInvalidGrant, check: "aud"},
		{name: "aud token endpoint", form: jagForm(e.token(t, map[string]any{"aud": e.srv.URL + "/token"})), status: 400, code: codeInvalidGrant, check: "aud"},
		{name: "expired", form: jagForm(e.token(t, map[string]any{"exp": now.Add(-time.Minute)})), status: 400, code: codeInvalidGrant, check: "exp"},
		{name: "exp missing", form: jagForm(e.token(t, map[string]any{"exp": nil})), status: 400, code: codeInvalidGrant, check: "exp"},
		{name: "lifetime too long", form: jagForm(e.token(t, map[string]any{"exp": now.Add(2 * time.Hour)})), status: 400, code: codeInvalidGrant, check: "hour"},
		{name: "iat future", form: jagForm(e.token(t, map[string]any{"iat": now.Add(time.Minute)})), status: 400, code: codeInvalidGrant, check: "iat"},
		{name: "nbf future", form: jagForm(e.token(t, map[string]any{"nbf": now.Add(time.Minute)})), status: 400, code: codeInvalidGrant, check: "nbf"},
		{name: "sub unmapped", form: jagForm(e.token(t, map[string]any{"sub": "system:serviceaccount:ci:other"})), status: 400, code: codeInvalidGrant, check: "sub"},
		{name: "sub the bare prefix", form: jagForm(e.token(t, map[string]any{"sub": "spiffe://example.org/ns/batch/"})), status: 400, code: codeInvalidGrant, check: "sub"},
		{name: "sub missing", form: jagForm(e.token(t, map[string]any{"sub": nil})), status: 400, code: codeInvalidGrant, check: "sub"},
		{name: "replayed", form: jagForm(replayed), status: 400, code: codeInvalidGrant, check: "jti"},
		{name: "scope widened", form: jagForm(e.token(t, map[string]any{"sub": "spiffe://example.org/ns/batch/x"}), "scope", "mcp:write"), status: 400, code: codeInvalidScope},
		{name: "resource not mapped", form: jagForm(e.token(t, map[string]any{"sub": "spiffe://example.org/ns/batch/x"}), "resource", flowOtherResource), status: 400, code: codeInvalidTarget},
		// With client authentication the assertion is an ID-JAG, whatever it is.
		{name: "with client authentication", form: jagForm(e.token(t, nil)), basic: []string{jagClient, jagSecret}, status: 400, code: codeInvalidGrant, check: "typ"},
		// An ID-JAG without client authentication is still an ID-JAG: the client must authenticate.
		{name: "ID-JAG without client authentication", form: jagForm(e.token(t, nil, authtest.WithType(typIDJAG))), status: 401, code: codeInvalidClient},
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
			if p.Subject != tt.user || p.ClientID != tt.user || p.Source != auth.SourceClient {
				t.Errorf("principal = %+v, want %q by client", p, tt.user)
			}
		})
	}
}

// TestWorkloadConfig: the grant is advertised with workload issuers alone, and bad
// configurations stop start-up.
func TestWorkloadConfig(t *testing.T) {
	wl := authtest.NewIssuer(t)
	only := newFlowEnv(t, func(c *Config) {
		c.InsecureCIMDAllowPrivate = true
		c.WorkloadIssuers = []WorkloadIssuer{{Issuer: wl.URL(), Subjects: []WorkloadSubject{{Sub: "a", Name: "a", Resources: []string{flowResource}}}}}
	})
	if md := readBody(t, only.get(WellKnownAuthorizationServer)); !strings.Contains(md, grantJWTBearer) {
		t.Errorf("metadata = %s, want %s in grant_types_supported", md, grantJWTBearer)
	}
	good := func() WorkloadIssuer {
		return WorkloadIssuer{Issuer: wl.URL(), Subjects: []WorkloadSubject{{Sub: "a", Name: "a", Scope: "mcp:read", Resources: []string{flowResource}}}}
	}
	tests := []struct {
		name string
		edit func(w *WorkloadIssuer)
		want string
	}{
		{"issuer not a URL", func(w *WorkloadIssuer) { w.Issuer = "cluster" }, "not an https URL"},
		{"no subjects", func(w *WorkloadIssuer) { w.Subjects = nil }, "subjects is empty"},
		{"star inside", func(w *WorkloadIssuer) { w.Subjects[0].Sub = "a*b" }, "prefix ending in *"},
		{"no name", func(w *WorkloadIssuer) { w.Subjects[0].Name = "" }, "no name"},
		{"name of a client", func(w *WorkloadIssuer) { w.Subjects[0].Name = confClient }, "configured client"},
		{"name a URL", func(w *WorkloadIssuer) { w.Subjects[0].Name = "https://app.example/client.json" }, "is a URL"},
		{"unknown scope", func(w *WorkloadIssuer) { w.Subjects[0].Scope = "admin" }, "sub"},
		{"no resources", func(w *WorkloadIssuer) { w.Subjects[0].Resources = nil }, "no resources"},
		{"unknown resource", func(w *WorkloadIssuer) { w.Subjects[0].Resources = []string{"https://elsewhere.example/mcp"} }, "not configured"},
		{"bad inline keys", func(w *WorkloadIssuer) { w.JWKS = []byte(`{"keys":1}`) }, "workload issuer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := only.cfg
			w := good()
			tt.edit(&w)
			cfg.WorkloadIssuers = []WorkloadIssuer{w}
			if _, err := New(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
