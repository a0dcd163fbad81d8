package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestKnownClientsReplay replays, for every row of KnownClients, each way the client
// gets a client_id (its metadata document, served from a stand-in host at the same path,
// or its registration request) and each redirect URI it then sends, through /authorize,
// login, consent and /token, with resource and scope as the client sends them; then a
// refresh as the client sends it. Every step must succeed, and the authorization
// response must carry iss byte-equal to the issuer (RFC 9207).
func TestKnownClientsReplay(t *testing.T) {
	docs := map[string]cimdDoc{}
	for _, p := range KnownClients() {
		for _, r := range p.Registrations {
			if r.CIMD == "" {
				continue
			}
			u, err := url.Parse(r.CIMD)
			if err != nil {
				t.Fatal(err)
			}
			// The document as published, with its client_id moved to the stand-in host,
			// below a path naming the real host.
			docs["/"+u.Host+u.Path] = cimdDoc{contentType: "application/json", body: strings.Replace(r.Body, `"`+r.CIMD+`"`, `"%s"`, 1)}
		}
	}
	cimd := newCIMDServer(t, false, docs)
	for _, p := range KnownClients() {
		for i, r := range p.Registrations {
			kind := "dcr"
			if r.CIMD != "" {
				kind = "cimd"
			}
			t.Run(fmt.Sprintf("%s/%d-%s", p.Name, i, kind), func(t *testing.T) {
				e := newFlowEnv(t, func(c *Config) { c.InsecureCIMDAllowPrivate = true })
				if len(r.RedirectURIs) == 0 {
					t.Fatal("the row sends no redirect URI")
				}
				clientID, secret := e.clientOf(t, cimd.URL, r)
				for _, redirect := range r.RedirectURIs {
					e.replay(t, p, clientID, secret, redirect)
				}
			})
		}
	}
}

// TestKnownClientsPreRegistered replays every registration-only row (no metadata
// document) with dynamic registration off: the client pre-registered in the configuration
// as a public client, with the redirect URIs of the row's registration request, and the
// client configured with that client_id. Every redirect URI the row sends must then work as
// it does after a registration.
func TestKnownClientsPreRegistered(t *testing.T) {
	for _, p := range KnownClients() {
		if slices.ContainsFunc(p.Registrations, func(r Registration) bool { return r.CIMD != "" }) {
			continue
		}
		for i, r := range p.Registrations {
			t.Run(fmt.Sprintf("%s/%d", p.Name, i), func(t *testing.T) {
				var body struct {
					RedirectURIs []string `json:"redirect_uris"`
				}
				if err := json.Unmarshal([]byte(r.Body), &body); err != nil || len(body.RedirectURIs) == 0 {
					t.Fatalf("registration body %s: %v, want redirect_uris", r.Body, err)
				}
				id := strings.ReplaceAll(strings.ToLower(p.Name), " ", "-")
				e := newFlowEnv(t, func(c *Config) {
					c.DisableDynamicRegistration = true
					c.Clients = []StaticClient{{ID: id, Name: p.Name, RedirectURIs: body.RedirectURIs}}
				})
				resp := e.get("/register")
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("GET /register = %d with registration off, want 404", resp.StatusCode)
				}
				for _, redirect := range r.RedirectURIs {
					e.replay(t, p, id, "", redirect)
				}
			})
		}
	}
}

// clientOf gets the client_id of r: the stand-in URL of its metadata document, or the
// answer of the registration endpoint, with the secret it issued, if any.
func (e *flowEnv) clientOf(t *testing.T, cimdOrigin string, r Registration) (id, secret string) {
	t.Helper()
	if r.CIMD != "" {
		u, _ := url.Parse(r.CIMD)
		return cimdOrigin + "/" + u.Host + u.Path, ""
	}
	resp, err := e.srv.Client().Post(e.srv.URL+"/register", "application/json", strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /register %s = %d %s, want 201", r.Body, resp.StatusCode, body)
	}
	var got struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.ID == "" {
		t.Fatalf("POST /register answered %s", body)
	}
	return got.ID, got.Secret
}

// replay runs one authorization and one refresh as client p sends them.
func (e *flowEnv) replay(t *testing.T, p ClientProfile, clientID, secret, redirect string) {
	t.Helper()
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"code_challenge": {flowChallenge}, "code_challenge_method": {"S256"}, "state": {"st-" + p.Name},
	}
	if p.Scope != "" {
		q.Set("scope", p.Scope)
	}
	if p.Resource {
		q.Set("resource", flowResource)
	}
	u := e.run(q)
	back := *u
	back.RawQuery = ""
	if back.String() != strings.SplitN(redirect, "?", 2)[0] {
		t.Fatalf("%s: authorization response went to %s, want %s", redirect, back.String(), redirect)
	}
	rq := u.Query()
	if rq.Get("code") == "" || rq.Get("state") != "st-"+p.Name {
		t.Fatalf("%s: authorization response %s lacks the code or the state", redirect, u)
	}
	if got := rq["iss"]; len(got) != 1 || got[0] != e.srv.URL {
		t.Fatalf("%s: iss = %q, want exactly [%q] (RFC 9207)", redirect, got, e.srv.URL)
	}

	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {rq.Get("code")}, "client_id": {clientID},
		"redirect_uri": {redirect}, "code_verifier": {flowVerifier},
	}
	if secret != "" {
		form.Set("client_secret", secret) // client_secret_post
	}
	if p.Resource {
		form.Set("resource", flowResource)
	}
	a := e.postToken("/token", form)
	if a.status != http.StatusOK || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: POST /token = %d %v (Cache-Control %q), want 200 no-store", redirect, a.status, a.body, a.header.Get("Cache-Control"))
	}
	pr, err := e.verify(a.str("access_token"))
	if err != nil || !slices.Contains(pr.Audiences, flowResource) {
		t.Fatalf("%s: access token = %+v, %v; want one for %s", redirect, pr, err, flowResource)
	}
	if p.Scope == "" && !slices.Contains(pr.Scopes, "mcp:read") {
		t.Errorf("%s: scopes without a requested scope = %q, want every allowed scope", redirect, pr.Scopes)
	}

	form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.str("refresh_token")}, "client_id": {clientID}}
	if secret != "" {
		form.Set("client_secret", secret)
	}
	if p.RefreshScope {
		form.Set("scope", a.str("scope"))
	}
	if p.Resource {
		form.Set("resource", flowResource)
	}
	if a.str("refresh_token") == "" {
		t.Fatalf("%s: no refresh token", redirect)
	}
	if r := e.postToken("/token", form); r.status != http.StatusOK || r.str("scope") != a.str("scope") {
		t.Fatalf("%s: refresh = %d %v, want 200 with scope %q kept", redirect, r.status, r.body, a.str("scope"))
	}
}

// TestKnownClientsGates checks every gate of every row against the real metadata and
// endpoints of the authorization server.
func TestKnownClientsGates(t *testing.T) {
	e := newFlowEnv(t, nil)
	resp := e.get(WellKnownAuthorizationServer)
	body := readBody(t, resp)
	var m struct {
		Issuer                 string   `json:"issuer"`
		AuthorizationEndpoint  string   `json:"authorization_endpoint"`
		CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
		TokenAuthMethods       []string `json:"token_endpoint_auth_methods_supported"`
		ISSSupported           bool     `json:"authorization_response_iss_parameter_supported"`
		CIMDSupported          bool     `json:"client_id_metadata_document_supported"`
		RegistrationEndpoint   string   `json:"registration_endpoint"`
		TokenEndpoint          string   `json:"token_endpoint"`
		RevocationEndpoint     string   `json:"revocation_endpoint"`
		AuthorizationResponses []string `json:"response_modes_supported"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	check := map[Gate]func() error{
		GatePKCE: func() error {
			if !slices.Equal(m.CodeChallengeMethods, []string{"S256"}) {
				return fmt.Errorf("code_challenge_methods_supported = %q", m.CodeChallengeMethods)
			}
			return nil
		},
		GateIssuerExact: func() error {
			if m.Issuer != e.srv.URL {
				return fmt.Errorf("issuer = %q, want %q", m.Issuer, e.srv.URL)
			}
			return nil
		},
		GateISS: func() error {
			if !m.ISSSupported {
				return fmt.Errorf("authorization_response_iss_parameter_supported is false") // the replay checks its presence
			}
			return nil
		},
		GateNoneWithCIMD: func() error {
			if m.CIMDSupported && !slices.Contains(m.TokenAuthMethods, "none") {
				return fmt.Errorf("CIMD advertised without none in %q", m.TokenAuthMethods)
			}
			return nil
		},
		GateLoopbackAnyPort: func() error { return nil }, // the replay sends other ports
		GateSameOrigin: func() error {
			if !strings.HasPrefix(m.AuthorizationEndpoint, m.Issuer+"/") {
				return fmt.Errorf("authorization_endpoint %q is not at the issuer %q", m.AuthorizationEndpoint, m.Issuer)
			}
			return nil
		},
		GateCORS: func() error {
			for _, ep := range []string{m.RegistrationEndpoint, m.TokenEndpoint, m.RevocationEndpoint, e.srv.URL + WellKnownAuthorizationServer} {
				req, _ := http.NewRequest(http.MethodOptions, ep, nil)
				req.Header.Set("Origin", "https://chatgpt.com")
				req.Header.Set("Access-Control-Request-Method", "POST")
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
					return fmt.Errorf("OPTIONS %s: no CORS", ep)
				}
			}
			return nil
		},
	}
	for _, p := range KnownClients() {
		for _, g := range p.Gates {
			t.Run(p.Name+"/"+string(g), func(t *testing.T) {
				f, ok := check[g]
				if !ok {
					t.Fatalf("gate %q has no check", g)
				}
				if err := f(); err != nil {
					t.Error(err)
				}
			})
		}
		if len(p.Sources) == 0 {
			t.Errorf("%s: no source", p.Name)
		}
	}
}
