package auth

import (
	"reflect"
	"testing"
)

// unprepared returns p without the header values Prepare kept, for comparing principals
// by their fields.
func unprepared(p Principal) Principal {
	p.headers = nil
	return p
}

func TestHeaderValues(t *testing.T) {
	one := func(v string) []string { return []string{v} }
	tests := []struct {
		name string
		p    Principal
		want HeaderValues
	}{
		{"empty", Principal{}, HeaderValues{one(""), one(""), one(""), one(""), one(""), one(""), rendered{}}},
		{"subject is the user without an email",
			Principal{Subject: "ci-bot", Source: SourceAPIKey, ClientID: "ci-bot"},
			HeaderValues{one("ci-bot"), one(""), one(""), one(""), one("apikey"), one("ci-bot"), rendered{}}},
		{"email is the user; lists joined",
			Principal{Subject: "u1", Email: "a@example.com", Groups: []string{"staff", "admins"}, Scopes: []string{"mcp:read", "mcp:write"}, Source: SourceJWT, ClientID: "claude"},
			HeaderValues{one("a@example.com"), one("a@example.com"), one("staff,admins"), one("mcp:read mcp:write"), one("jwt"), one("claude"), rendered{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, prepare := range []bool{false, true} {
				p := tt.p
				if prepare {
					p.Prepare()
				}
				got := *p.HeaderValues()
				got.from = rendered{}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("HeaderValues(prepared %v) = %q, want %q", prepare, got, tt.want)
				}
			}
		})
	}
}

// TestHeaderValuesFollowChanges checks that a prepared principal whose fields change
// gets values of what it now holds, never the stale ones.
func TestHeaderValuesFollowChanges(t *testing.T) {
	p := Principal{Subject: "u1", Email: "a@example.com", Groups: []string{"staff"}, Scopes: []string{"mcp:read"}, Source: SourceJWT}
	p.Prepare()
	prepared := p.HeaderValues()
	if q := p; q.HeaderValues() != prepared {
		t.Fatal("a copy of a prepared principal does not reuse its values")
	}
	changes := map[string]func(*Principal){
		"subject":   func(q *Principal) { q.Email, q.Subject = "", "u2" },
		"email":     func(q *Principal) { q.Email = "b@example.com" },
		"groups":    func(q *Principal) { q.Groups = []string{"staff", "admins"} },
		"scopes":    func(q *Principal) { q.Scopes = append([]string(nil), q.Scopes...) },
		"source":    func(q *Principal) { q.Source = SourceProxy },
		"client id": func(q *Principal) { q.ClientID = "other" },
	}
	for name, change := range changes {
		q := p
		change(&q)
		if q.HeaderValues() == prepared {
			t.Errorf("after changing the %s, HeaderValues returned the prepared (stale) values", name)
		}
	}
}

func BenchmarkHeaderValuesPrepared(b *testing.B) {
	p := Principal{Subject: "u1", Email: "a@example.com", Groups: []string{"staff", "admins"}, Scopes: []string{"mcp:read"}, Source: SourceJWT, ClientID: "claude"}
	p.Prepare()
	b.ReportAllocs()
	for b.Loop() {
		q := p
		q.HeaderValues()
	}
}
