package forwardauth

// Writing a verdict: the identity headers of a 200, the one writer of denials.

import (
	"encoding/json"
	"net/http"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
)

// The identity headers /auth sets on every 200. They are always all present, empty when
// unknown, so that a client-supplied copy cannot survive a proxy that only overwrites the
// headers an auth service returns (Caddy GHSA-7r4p-vjf4-gxv4).
const (
	hdrUser     = "X-Forwarded-User"
	hdrEmail    = "X-Forwarded-Email"
	hdrGroups   = "X-Forwarded-Groups"
	hdrScopes   = "X-Forwarded-Scopes"
	hdrSource   = "X-Auth-Source"
	hdrClientID = "X-Auth-Client-Id"
)

// IdentityHeaders lists every header /auth sets on a 200, Authorization included, in the
// order the proxy recipes list them: a recipe copies exactly these.
func IdentityHeaders() []string {
	return []string{hdrUser, hdrEmail, hdrGroups, hdrScopes, hdrSource, hdrClientID, "Authorization"}
}

// write sends the verdict. Only 200, 401, 403, 500 for internal faults and 503 for an
// unreachable store are ever written: nginx turns any status but 200, 401 and 403 into a
// 500, Envoy denies anything but 200, Traefik and Caddy pass the 503 on. The one
// exception is the redirecting form's 302 (redirectForm), which nginx never sees.
func (d *Decider) write(w http.ResponseWriter, r *http.Request, v *verdict) {
	h := w.Header()
	if v.status == http.StatusOK {
		// Only the identity headers: a proxy copies what it lists and drops the rest of an
		// allow, and each header more is paid for on every MCP request.
		if v.authenticated {
			setIdentity(h, v.principal.HeaderValues())
		} else {
			setIdentity(h, &anonymousValues)
		}
		authz := ""
		if d.passUpstreamAuthorization {
			authz = r.Header.Get("X-Upstream-Authorization")
		}
		h["Authorization"] = headerValue(authz)
		if v.assertHeader != "" {
			h[v.assertHeader] = headerValue(v.assertion)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if r.Header.Get("Origin") != "" {
		// Browser-based MCP clients must read the challenge of the proxied 401/403.
		h["Access-Control-Allow-Origin"] = anyOriginValue
		h["Access-Control-Expose-Headers"] = exposeChallengeValue
	}
	h["Cache-Control"] = noStoreValue // a denial's body reaches the client
	if v.status == http.StatusUnauthorized {
		if loc := d.loginLocation(r, v); loc != "" {
			h["Location"] = []string{loc}
			if v.redirect {
				// The redirecting form: Traefik and Caddy pass a 3xx to the browser as it
				// is, and a browser follows a Location only on a 3xx.
				w.WriteHeader(http.StatusFound)
				return
			}
		}
	}
	den := d.denial(v)
	if den.challenge != nil {
		h["Www-Authenticate"] = den.challenge
	}
	body := den.body
	h["Content-Type"] = jsonValue
	if v.status == http.StatusServiceUnavailable {
		h["Retry-After"] = retryAfterValue // the store is expected back soon
	}
	w.WriteHeader(v.status)
	w.Write(body)
}

// denial is the rendered answer of a 401, 403 or 500: the challenge and the JSON body.
type denial struct {
	challenge []string // nil: no WWW-Authenticate
	body      []byte
}

// denialKey names a denial that is the same for every request: one that no MCP rule
// shaped, so its scopes and message come from the resource and the reason alone.
type denialKey struct {
	resource *policy.Resource
	reason   string
	status   int
}

// denial renders v's answer, once per resource and reason when no rule applied (the
// common case), so a flood of rejected requests does not rebuild the same strings.
func (d *Decider) denial(v *verdict) denial {
	cacheable := len(v.decision.Rules) == 0
	key := denialKey{v.decision.Resource, v.reason, v.status}
	if cacheable {
		if den, ok := d.denials.Load(key); ok {
			return den.(denial)
		}
	}
	den := renderDenial(v, d.credentialHint)
	if cacheable {
		d.denials.Store(key, den)
	}
	return den
}

// renderDenial builds the challenge and body of a denial. hint, when set, describes a
// 401 for a request without a credential (Options.CredentialHint).
func renderDenial(v *verdict, hint string) denial {
	var den denial
	code, desc := "access_denied", v.decision.Message
	switch {
	case v.status == http.StatusUnauthorized:
		c := oauth.Challenge{Scope: v.decision.Scopes}
		if res := v.decision.Resource; res != nil {
			c.ResourceMetadata = res.MetadataURL()
		}
		code = "unauthorized"
		if v.decision.InvalidToken() {
			c.Error, c.Description = oauth.ErrorInvalidToken, desc
		} else if hint != "" {
			c.Description, desc = hint, hint
		}
		den.challenge = []string{c.String()}
	case v.decision.Reason == policy.ReasonInsufficientScope:
		c := oauth.Challenge{Error: oauth.ErrorInsufficientScope, Scope: v.decision.Scopes, Description: desc}
		if res := v.decision.Resource; res != nil {
			c.ResourceMetadata = res.MetadataURL()
		}
		code = oauth.ErrorInsufficientScope
		den.challenge = []string{c.String()}
	case v.reason == "untrusted_peer":
		desc = "the request did not come through a trusted proxy"
	case v.reason == "malformed_request":
		code, desc = "invalid_request", "the forwarded request cannot be judged"
	case v.reason == "ambiguous_path":
		code, desc = "invalid_request", "the path holds a dot segment, an empty segment, ;params, a backslash or an encoded separator, which upstream routers disagree on"
	case v.status == http.StatusInternalServerError:
		code, desc = "server_error", "internal error"
	case v.status == http.StatusServiceUnavailable:
		code, desc = "temporarily_unavailable", "the authorization server's store cannot be reached; try again in a moment"
	}
	if desc == "" {
		desc = http.StatusText(v.status)
	}
	den.body, _ = json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	return den
}

// Header values shared by every response: net/http only reads them, and sharing saves
// allocations on the hot path.
var (
	emptyValue           = []string{""}
	anonymousValue       = []string{string(policy.SourceAnonymous)}
	noStoreValue         = []string{"no-store"}
	jsonValue            = []string{"application/json"}
	anyOriginValue       = []string{"*"}
	exposeChallengeValue = []string{"WWW-Authenticate"}
	retryAfterValue      = []string{oauth.RetryAfterUnavailable}
)

// headerValue is []string{v}, shared when v is empty.
func headerValue(v string) []string {
	if v == "" {
		return emptyValue
	}
	return []string{v}
}

// anonymousValues are the identity header values of a request allowed without a
// credential.
var anonymousValues = auth.HeaderValues{User: emptyValue, Email: emptyValue, Groups: emptyValue,
	Scopes: emptyValue, Source: anonymousValue, ClientID: emptyValue}

// setIdentity writes every identity header, empty when unknown. The values are shared,
// never copied: net/http only reads them.
func setIdentity(h http.Header, hv *auth.HeaderValues) {
	h[hdrUser] = hv.User
	h[hdrEmail] = hv.Email
	h[hdrGroups] = hv.Groups
	h[hdrScopes] = hv.Scopes
	h[hdrSource] = hv.Source
	h[hdrClientID] = hv.ClientID
}
