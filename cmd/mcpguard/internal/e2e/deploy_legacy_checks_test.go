package e2e

import (
	"slices"
	"strings"
	"testing"
)

// legacyPaths are what a client of MCP 2025-03-26, which predates protected-resource
// metadata, asks the MCP server's own origin for: the authorization server metadata,
// then (without it) the default endpoints. TestLegacyEndpoints plays such a client
// through the nginx, Caddy and Traefik recipes; the compose files and Kubernetes
// manifests are checked to route the same paths.
var legacyPaths = []string{"/.well-known/oauth-authorization-server", "/authorize", "/token", "/register"}

// checkLegacyRouted checks that a recipe sends every legacy path of the MCP server's host
// to mcpguard without a credential; routed reports whether it does for one path.
func checkLegacyRouted(t *testing.T, where string, routed func(path string) bool) {
	t.Helper()
	for _, p := range legacyPaths {
		if !routed(p) {
			t.Errorf("%s: the MCP server's host does not send %s to mcpguard, as the MCP 2025-03-26 fallback needs", where, p)
		}
	}
}

// traefikRuleHas reports whether a Traefik rule matches path exactly (Path(`path`)).
func traefikRuleHas(rule string) func(string) bool {
	return func(p string) bool { return strings.Contains(rule, "Path(`"+p+"`)") }
}

// pathsHave reports whether a list of exact or prefix paths of a manifest holds path.
func pathsHave(paths []string) func(string) bool {
	return func(p string) bool { return slices.Contains(paths, p) }
}
