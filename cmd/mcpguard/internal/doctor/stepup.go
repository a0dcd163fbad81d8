package doctor

// The step-up check (MCP 2025-11-25 "Scope Challenge Handling"): a token with less
// scope than a request needs must get 403 with WWW-Authenticate: Bearer
// error="insufficient_scope", a scope that names every scope the operation needs (the
// ones the token holds and the 401's included, so a client that re-authorizes with it
// loses nothing) and resource_metadata, the 401's. The token is the least a client may
// hold: when the 401 names several scopes, only the first of them, as an authorization
// server that grants part of a request issues (RFC 6749 §3.3); else the 401's one scope,
// which a tool rule (--tool) may find short.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

const checkStepUp = "step-up"

// checkStepUp gets the least token and holds an MCP session with it (initialize, then
// tools/call of --tool or tools/list) until a request is refused, then checks the
// refusal's challenge.
func (d *diagnosis) checkStepUp(ctx context.Context) {
	if d.flags.machine == nil {
		return
	}
	switch {
	case d.machineToken == "":
		d.skip(checkStepUp, "no accepted token (see client-credentials)")
		return
	case strings.TrimSpace(d.challengeScope) == "":
		d.skip(checkStepUp, "the 401 names no scope, so there is no least token a client starts with to ask for")
		return
	}
	least := strings.Fields(d.challengeScope)[0]
	tok, _, ok := d.clientCredentials(ctx, checkStepUp, least)
	if !ok {
		return
	}
	granted := strings.Fields(cmp.Or(tok.Scope, least))
	s := &mcpSession{d: d, token: tok.AccessToken, version: protocolVersion}
	defer s.end(ctx)
	what, r, err := d.firstRefusal(ctx, s)
	switch {
	case err != nil:
		d.fail(checkStepUp, err.Error(), "serve MCP Streamable HTTP at the MCP URL, through the proxy")
	case what == "":
		d.skip(checkStepUp, fmt.Sprintf("a token with scope %q was refused nothing; to see the step-up challenge, name a tool a rule asks more scope for with --tool", strings.Join(granted, " ")))
	default:
		d.judgeStepUp(what, granted, r)
	}
}

// firstRefusal runs the session's requests and returns the first one answered 403, with
// its answer; "" when none was. Another refusal or a transport failure is an error.
func (d *diagnosis) firstRefusal(ctx context.Context, s *mcpSession) (string, response, error) {
	last := struct {
		method, name string
		params       any
	}{"tools/list", "", map[string]any{}}
	if d.flags.tool != "" {
		last.method, last.name, last.params = "tools/call", d.flags.tool, map[string]any{"name": d.flags.tool, "arguments": d.flags.toolArgs}
	}
	steps := []struct {
		id           int
		method, name string
		params       any
	}{{1, "initialize", "", d.initializeParams()}, {0, "notifications/initialized", "", nil}, {2, last.method, last.name, last.params}}
	for _, st := range steps {
		what := strings.TrimSpace(st.method + " " + st.name)
		m, r, err := s.send(ctx, st.id, st.method, st.params, st.name)
		switch {
		case errors.Is(err, errRefused) && r.status == http.StatusForbidden:
			return what, r, nil
		case errors.Is(err, errRefused):
			return "", r, fmt.Errorf("%s with the least token = %s, neither 200 nor 403", what, describeStatus(r))
		case err != nil:
			return "", r, err
		}
		var res struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		if st.method == "initialize" && json.Unmarshal(m.Result, &res) == nil && res.ProtocolVersion != "" {
			s.version = res.ProtocolVersion
		}
	}
	return "", response{}, nil
}

// judgeStepUp checks the 403 to what for a token holding granted.
func (d *diagnosis) judgeStepUp(what string, granted []string, r response) {
	values := r.header.Values("WWW-Authenticate")
	at := fmt.Sprintf("%s with a token of scope %q got 403", what, strings.Join(granted, " "))
	if len(values) == 0 {
		d.fail(checkStepUp, at+" without WWW-Authenticate",
			`answer a missing scope with WWW-Authenticate: Bearer error="insufficient_scope", scope="…", resource_metadata="…"; nginx's auth_request passes the header only on 401, so the recipe copies it on 403 (auth_request_set + add_header WWW-Authenticate … always)`)
		return
	}
	challenges, err := parseChallenges(values)
	i := slices.IndexFunc(challenges, func(c authChallenge) bool { return strings.EqualFold(c.scheme, "Bearer") })
	if err != nil || i < 0 {
		d.fail(checkStepUp, fmt.Sprintf("%s with WWW-Authenticate %q, no Bearer challenge", at, strings.Join(values, ", ")),
			`send one Bearer challenge: error="insufficient_scope", scope and resource_metadata (RFC 6750 §3.1)`)
		return
	}
	p := challenges[i].params
	scope, hasScope := p["scope"]
	asked := strings.Fields(scope)
	var kept, missing []string
	for _, g := range append(slices.Clone(granted), strings.Fields(d.challengeScope)...) {
		if !slices.Contains(asked, g) && !slices.Contains(missing, g) {
			missing = append(missing, g)
		}
	}
	for _, a := range asked {
		if !slices.Contains(granted, a) {
			kept = append(kept, a)
		}
	}
	rm := p["resource_metadata"]
	switch {
	case p["error"] != "insufficient_scope":
		d.fail(checkStepUp, fmt.Sprintf("%s with error=%q, not insufficient_scope", at, p["error"]),
			`a token refused for its scope gets error="insufficient_scope" (RFC 6750 §3.1): clients re-authorize only then (an allowlist denial is 403 access_denied with no challenge error)`)
	case !hasScope || len(asked) == 0:
		d.fail(checkStepUp, at+" with no scope parameter",
			`name every scope the operation needs in scope="…" (MCP 2025-11-25 step-up): without it a client cannot know what to ask for (mcpguard sends it)`)
	case len(missing) > 0:
		d.fail(checkStepUp, fmt.Sprintf("%s with scope %q, which lacks %q", at, scope, missing),
			"name the whole scope set the operation needs, the scopes the token already holds and the 401's included: a client re-authorizes with exactly that scope, and would lose the rest")
	case len(kept) == 0:
		d.fail(checkStepUp, fmt.Sprintf("%s with scope %q, which the token already holds", at, scope),
			"name the scope the token lacks: a client that re-authorizes for the same scope gets the same refusal, in a loop")
	case rm == "" || checkAbsoluteURL(rm) != "":
		d.fail(checkStepUp, fmt.Sprintf("%s with resource_metadata %q", at, rm),
			"add resource_metadata, the absolute URL of the protected resource metadata, as on the 401 (MCP 2025-11-25)")
	case d.resourceMetadata != "" && rm != d.resourceMetadata:
		d.fail(checkStepUp, fmt.Sprintf("%s with resource_metadata %q, the 401's is %q", at, rm, d.resourceMetadata),
			"send the same resource_metadata on the 403 as on the 401: it names the one resource the token is for")
	default:
		d.pass(checkStepUp, fmt.Sprintf("%s insufficient_scope, scope=%q, resource_metadata=%s", at, scope, rm))
	}
}
