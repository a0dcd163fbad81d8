package app

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

func TestCheckConfigRedacts(t *testing.T) {
	var stdout syncBuffer
	env := map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp",
		"STORE": "postgres://mcpguard:hunter2@db.example:5432/mcpguard?sslmode=require"}
	err := Run(context.Background(), []string{"mcpguard", "check-config", "-port", "12000"}, func(k string) string { return env[k] },
		strings.NewReader(""), &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"MCP_PROXY_API_KEY=<redacted>", "STORE=postgres://mcpguard:xxxxx@db.example:5432/mcpguard?sslmode=require", "PORT=12000", "RESOURCE_URL=https://mcp.example.com/mcp", "# resource: https://mcp.example.com/mcp"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testKey) || strings.Contains(out, "hunter2") {
		t.Errorf("check-config printed the key or the store's password:\n%s", out)
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ name, dsn, want string }{
		{name: "bolt", dsn: "bolt:///var/lib/mcpguard/mcpguard.db", want: "bolt:///var/lib/mcpguard/mcpguard.db"},
		{name: "redis user info", dsn: "rediss://default:hunter2@redis.example:6380/0", want: "rediss://default:xxxxx@redis.example:6380/0"},
		{name: "sentinel password parameter", dsn: "redis+sentinel://s1:26379/0?master_name=m&password=hunter2", want: "redis+sentinel://s1:26379/0?master_name=m&password=redacted"},
		{name: "unparsable", dsn: "postgres://u:hunter2@x:%zz/db", want: "postgres://<redacted>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactDSN(tt.dsn); got != tt.want {
				t.Errorf("redactDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
}

func TestJWTConfigErrors(t *testing.T) {
	pf := writeFile(t, "policy.yaml", `issuers:
  - issuer: https://kc.example.com/realms/a
    audiences: [mcp]
resources:
  - url: https://mcp.example.com/mcp
`)
	noAud := writeFile(t, "noaud.yaml", `issuers:
  - issuer: https://kc.example.com/realms/a
resources:
  - url: https://mcp.example.com/mcp
`)
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"pair without audience", map[string]string{"JWT_ISSUERS": "https://kc.example.com"}, "JWT_ISSUERS"},
		{"not a url", map[string]string{"JWT_ISSUERS": "kc=mcp"}, "JWT_ISSUERS"},
		{"plain http issuer", map[string]string{"JWT_ISSUERS": "http://kc.example.com=mcp"}, "JWT_ISSUERS"},
		{"configured twice", map[string]string{"POLICY_FILE": pf, "JWT_ISSUERS": "https://kc.example.com/realms/a=mcp"}, "JWT_ISSUERS"},
		{"file issuer without audience", map[string]string{"POLICY_FILE": noAud}, "audiences"},
		{"cooldown", map[string]string{"JWKS_REFETCH_COOLDOWN": "1ms"}, "JWKS_REFETCH_COOLDOWN"},
		{"key rotation too often", map[string]string{"SIGNING_KEY_ROTATION": "30m"}, "SIGNING_KEY_ROTATION"},
		{"session ttl too short", map[string]string{"SESSION_TTL": "10s"}, "SESSION_TTL"},
		{"session idle past the ttl", map[string]string{"SESSION_TTL": "2h", "SESSION_IDLE": "3h"}, "SESSION_IDLE"},
		{"admin token too short", map[string]string{"PROVIDER": "local", "ADMIN_TOKEN": strings.Repeat("a", 31)}, "ADMIN_TOKEN"},
		{"admin token without provider", map[string]string{"ADMIN_TOKEN": strings.Repeat("a", 32)}, "ADMIN_TOKEN"},
		{"admin addr", map[string]string{"PROVIDER": "local", "ADMIN_TOKEN": strings.Repeat("a", 32), "ADMIN_ADDR": "11001"}, "ADMIN_ADDR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(t.Context(), []string{"mcpguard", "check-config"}, func(k string) string { return tt.env[k] },
				strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("check-config = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// TestCheckConfigReadable: check-config prints values as a person writes them.
func TestCheckConfigReadable(t *testing.T) {
	var stdout syncBuffer
	env := map[string]string{"MCP_PROXY_API_KEY": testKey, "RESOURCE_URL": "https://mcp.example.com/mcp",
		"TRUSTED_PROXIES": "10.0.0.0/8 192.168.1.7", "ALLOWED_DOMAINS": "example.com\n example.org",
		"ACCESS_TOKEN_TTL": "1h", "SHUTDOWN_TIMEOUT": "1m30s"}
	err := Run(t.Context(), []string{"mcpguard", "check-config"}, func(k string) string { return env[k] },
		strings.NewReader(""), &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{
		"\nTRUSTED_PROXIES=10.0.0.0/8,192.168.1.7/32\n",
		"\nALLOWED_DOMAINS=example.com,example.org\n",
		"\nALLOWED_SCOPES=mcp:read,mcp:write\n",
		"\nACCESS_TOKEN_TTL=1h\n",
		"\nREFRESH_TOKEN_TTL=720h\n",
		"\nSIGNING_KEY_ROTATION=720h\n",
		"\nSESSION_TTL=8h\n",
		"\nSESSION_IDLE=1h\n",
		"\nJWKS_REFETCH_COOLDOWN=30s\n",
		"\nSHUTDOWN_TIMEOUT=1m30s\n",
		"\nADMIN_ADDR=127.0.0.1:11001\n",
		"\nPROXY_AUTH_TRUSTED_CIDRS=\n",
		" scopes=(none) ",
		"\n# credentials: API keys (apikey)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 30 * time.Second: "30s", time.Minute: "1m", 90 * time.Second: "1m30s", 10 * time.Minute: "10m",
		time.Hour: "1h", 90 * time.Minute: "1h30m", 720 * time.Hour: "720h", time.Hour + time.Second: "1h0m1s",
		1500 * time.Millisecond: "1.5s", 100 * time.Millisecond: "100ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestKnownStore(t *testing.T) {
	for dsn, want := range map[string]bool{
		"memory://": true, "bolt:///var/lib/mcpguard/mcpguard.db": true, "bolt://relative.db": false,
		"redis://r:6379/0": true, "rediss://r:6380/0": true, "redis+sentinel://s:26379/0?master_name=m": true,
		"redis+cluster://n:6379": true, "postgres://u@db/mcpguard": true, "postgresql://u@db/mcpguard": true,
		"mysql://u@db/x": false, "redis": false, "": false,
	} {
		if got := knownStore(dsn); got != want {
			t.Errorf("knownStore(%q) = %v, want %v", dsn, got, want)
		}
	}
}

// TestCheckConfigBrowser: check-config says, per resource, whether it accepts the
// browser session (and when the cookie cannot reach it) and where its identity
// assertion goes; it refuses what serve refuses.
func TestCheckConfigBrowser(t *testing.T) {
	users := localUserFile(t)
	pol := writeFile(t, "policy.yaml", `resources:
  - url: https://mcp.example.com/mcp
  - url: https://auth.example.com/dashboard
    credentials: [session]
  - url: https://apps.example.com/grafana
    credentials: [session, oauth]
    identity_assertion: {}
  - url: https://tools.example.com/mcp
    identity_assertion: {header: x-upstream-identity}
  - url: https://bearer.example.com/mcp
    identity_assertion: {header: authorization}
`)
	env := map[string]string{"PROVIDER": "local", "LOCAL_USERS_FILE": users, "POLICY_FILE": pol, "ISSUER_URL": "https://auth.example.com", "STORE": "memory://"}
	var stdout, stderr syncBuffer
	if err := Run(t.Context(), []string{"mcpguard", "check-config"}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("check-config = %v\n%s", err, stderr.String())
	}
	tests := []struct{ name, resource, want string }{
		{"MCP resource", "https://mcp.example.com/mcp", "session=no assertion=none"},
		{"browser application", "https://auth.example.com/dashboard", "session=yes assertion=none"},
		{"session off the issuer's host, default header", "https://apps.example.com/grafana", "session=yes(not-on-issuer-host) assertion=X-Mcpguard-Assertion"},
		{"own header", "https://tools.example.com/mcp", "session=no assertion=X-Upstream-Identity"},
		{"Authorization", "https://bearer.example.com/mcp", "session=no assertion=Authorization(Bearer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := ""
			for l := range strings.Lines(stdout.String()) {
				if strings.HasPrefix(l, "# resource: "+tt.resource+" ") {
					line = l
				}
			}
			if !strings.HasSuffix(strings.TrimSpace(line), tt.want) {
				t.Errorf("resource line %q, want it to end with %q", line, tt.want)
			}
		})
	}
	if !strings.Contains(stderr.String(), "https://apps.example.com/grafana") {
		t.Errorf("no warning about the session resource off the issuer's host on stderr:\n%s", stderr.String())
	}

	// Without the authorization server, a session resource is refused, as serve refuses it.
	noAS := writeFile(t, "noas.yaml", "resources:\n  - url: https://auth.example.com/dashboard\n    credentials: [session]\n")
	env = map[string]string{"POLICY_FILE": noAS, "MCP_PROXY_API_KEY": testKey, "STORE": "memory://"}
	err := Run(t.Context(), []string{"mcpguard", "check-config"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "needs the authorization server: set PROVIDER") {
		t.Errorf("check-config with a session resource and no PROVIDER = %v, want the refusal serve gives", err)
	}
}
