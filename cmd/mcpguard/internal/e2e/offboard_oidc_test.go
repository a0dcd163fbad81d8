package e2e

// Offboarding by email a person who logged in through an upstream OpenID Connect
// provider: their subject is the provider's opaque id, not their email, and the
// operator, who knows only the email, revokes everything they hold on every replica.

import (
	"strings"
	"testing"
)

// TestReplicasOffboardOIDCByEmail runs two replicas of the built mcpguard behind nginx
// on one Redis, with Dex (a real OIDC provider) as the upstream login (PROVIDER=oidc).
// The person logs in through Dex with the MCP SDK client; the operator offboards them
// by their email, written in capitals: the subject Dex gave them is found by the email
// their grant and session carry, named in the answer, and revoked everywhere.
func TestReplicasOffboardOIDCByEmail(t *testing.T) {
	issuer := startDexBroker(t)
	bin := buildGuard(t)
	store := startTestRedis(t)
	env := adminEnv(t, oauthBaseEnv(t, store.dsn()))
	env["PROVIDER"], env["OIDC_ISSUER"] = "oidc", issuer
	env["CLIENT_ID"], env["CLIENT_SECRET"] = dexBrokerClientID, dexBrokerClientSecret
	s, reps, regs := startReplicaStack(t, bin, env, 2)

	person := loginUser{email: dexEmail, password: dexPassword, groups: dexGroups}
	user := strings.ToUpper(dexEmail)
	subjects := offboardAcrossReplicas(t, s, reps, regs["preregistered"], person, user)
	var upstream []string
	for _, sub := range subjects[1:] {
		if !strings.EqualFold(sub, dexEmail) {
			upstream = append(upstream, sub)
		}
	}
	t.Logf("offboarding %s revoked the subjects %q", user, subjects)
	if len(upstream) != 1 {
		t.Errorf("offboarding %s revoked the subjects %q, want it and the one subject Dex gave the person", user, subjects)
	}
}
