package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// decode unmarshals the answer w holds into v.
func decode(t *testing.T, w interface{ Body() []byte }, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body(), v); err != nil {
		t.Fatalf("answer %q is not JSON: %v", w.Body(), err)
	}
}

type reply struct {
	code int
	body []byte
}

func (a reply) Body() []byte { return a.body }

// get sends GET target with the token.
func get(h http.Handler, target string) reply {
	w := call(h, "GET", target, "", "Bearer "+testToken)
	return reply{w.Code, w.Body.Bytes()}
}

func TestListClients(t *testing.T) {
	h, _, _, _ := newTestAPI(t)
	a := get(h, "/v1/clients")
	if a.code != http.StatusOK {
		t.Fatalf("GET /v1/clients = %d %s", a.code, a.body)
	}
	var got Clients
	decode(t, a, &got)
	want := []Client{
		{ID: "cli", Name: "Test CLI", Kind: "static", Grants: 1},
		{ID: "mcpg-dcr", Name: "Registered", Kind: "dcr", Created: testNow.Add(-time.Hour), Grants: 1},
	}
	if len(got.Clients) != len(want) {
		t.Fatalf("clients = %+v, want %+v", got.Clients, want)
	}
	for i, w := range want {
		g := got.Clients[i]
		if g.ID != w.ID || g.Name != w.Name || g.Kind != w.Kind || g.Grants != w.Grants || !g.Created.Equal(w.Created) {
			t.Errorf("clients[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func TestListGrants(t *testing.T) {
	h, _, _, _ := newTestAPI(t)
	tests := []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{"fa", "fb"}},
		{"by person", "?user=alice", []string{"fa"}},
		{"by client", "?client=mcpg-dcr", []string{"fb"}},
		{"by both", "?user=alice&client=mcpg-dcr", nil},
		{"unknown person", "?user=carol", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(h, "/v1/grants"+tt.query)
			var got Grants
			decode(t, a, &got)
			var ids []string
			for _, g := range got.Grants {
				ids = append(ids, g.ID)
			}
			if a.code != http.StatusOK || strings.Join(ids, ",") != strings.Join(tt.want, ",") || got.Grants == nil {
				t.Errorf("GET /v1/grants%s = %d %v, want %v", tt.query, a.code, ids, tt.want)
			}
		})
	}
}

// TestActionsBadInput: every action refuses a body that is not its JSON object, a
// missing id and an unknown one, and changes nothing.
func TestActionsBadInput(t *testing.T) {
	h, st, logs, _ := newTestAPI(t)
	big := strings.Repeat("a", maxBody)
	for _, path := range []string{"/v1/sessions/revoke", "/v1/grants/revoke", "/v1/clients/revoke", "/v1/people/revoke"} {
		field := "id"
		if path == "/v1/people/revoke" {
			field = "user"
		}
		tests := []struct {
			name, body string
			want       int
		}{
			{"malformed", `{"` + field + `":`, http.StatusBadRequest},
			{"not an object", `["x"]`, http.StatusBadRequest},
			{"unknown field", `{"` + field + `":"x","extra":1}`, http.StatusBadRequest},
			{"trailing data", `{"` + field + `":"x"} {}`, http.StatusBadRequest},
			{"empty", `{}`, http.StatusBadRequest},
			{"oversized", `{"` + field + `":"` + big + `"}`, http.StatusRequestEntityTooLarge},
		}
		if field == "id" {
			tests = append(tests, struct {
				name, body string
				want       int
			}{"unknown id", `{"id":"nope"}`, http.StatusNotFound})
		}
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				w := call(h, "POST", path, tt.body, "Bearer "+testToken)
				var e errorBody
				if w.Code != tt.want || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
					t.Errorf("POST %s %.30s = %d %s, want %d with an error message", path, tt.body, w.Code, w.Body, tt.want)
				}
			})
		}
	}
	if gs, _ := st.ListGrants(context.Background(), "", "", testNow); len(gs) != 2 {
		t.Errorf("after bad input, %d grants left, want 2", len(gs))
	}
	if strings.Contains(logs.String(), "admin action") {
		t.Errorf("bad input left an audit line: %s", logs)
	}
}

func TestRevokeGrantAction(t *testing.T) {
	h, st, logs, c := newTestAPI(t)
	w := call(h, "POST", "/v1/grants/revoke", `{"id":"fa"}`, "Bearer "+testToken)
	var got Revoked
	decode(t, reply{w.Code, w.Body.Bytes()}, &got)
	if w.Code != http.StatusOK || !reflect.DeepEqual(got, Revoked{Revoked: 2, Grants: 1, Consents: 1}) {
		t.Fatalf("revoke grant fa = %d %+v, want 1 grant and 1 consent", w.Code, got)
	}
	if revoked, _ := st.FamilyRevoked(context.Background(), "fa"); !revoked {
		t.Error("family fa not revoked")
	}
	if w := call(h, "POST", "/v1/grants/revoke", `{"id":"fa"}`, "Bearer "+testToken); w.Code != http.StatusNotFound {
		t.Errorf("revoke grant fa again = %d, want 404", w.Code)
	}
	wantAudit(t, logs.String(), c, "revoke_grant", "fa", 2)
}

func TestRevokeClientAction(t *testing.T) {
	h, st, logs, c := newTestAPI(t)
	tests := []struct {
		id   string
		want Revoked
	}{
		{"mcpg-dcr", Revoked{Revoked: 2, Grants: 1, ClientDeleted: true, TokensRefused: true, Kind: "dcr"}},
		{"cli", Revoked{Revoked: 2, Grants: 1, Consents: 1, TokensRefused: true, Kind: "static"}},
	}
	for _, tt := range tests {
		w := call(h, "POST", "/v1/clients/revoke", `{"id":"`+tt.id+`"}`, "Bearer "+testToken)
		var got Revoked
		decode(t, reply{w.Code, w.Body.Bytes()}, &got)
		note := got.Note
		got.Note = ""
		if w.Code != http.StatusOK || !reflect.DeepEqual(got, tt.want) || (tt.want.Kind == "static") != strings.Contains(note, "not deleted") {
			t.Errorf("revoke client %s = %d %+v (%q), want %+v", tt.id, w.Code, got, note, tt.want)
		}
		wantAudit(t, logs.String(), c, "revoke_client", tt.id, tt.want.Revoked)
	}
	if _, err := st.GetClient(context.Background(), "mcpg-dcr"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("registered client after its revocation: %v, want ErrNotFound", err)
	}
	if gs, _ := st.ListGrants(context.Background(), "", "", testNow); len(gs) != 0 {
		t.Errorf("grants after revoking both clients = %+v, want none", gs)
	}
	if w := call(h, "POST", "/v1/clients/revoke", `{"id":"mcpg-dcr"}`, "Bearer "+testToken); w.Code != http.StatusNotFound {
		t.Errorf("revoke a deleted client = %d, want 404", w.Code)
	}
	if n := testutil.ToFloat64(c.Actions.WithLabelValues("revoke_client")); n != 2 {
		t.Errorf("mcpguard_admin_actions_total{action=revoke_client} = %v, want 2", n)
	}
}

func TestRevokePersonAction(t *testing.T) {
	h, st, logs, c := newTestAPI(t)
	ctx := context.Background()
	w := call(h, "POST", "/v1/people/revoke", `{"user":"alice"}`, "Bearer "+testToken)
	var got Revoked
	decode(t, reply{w.Code, w.Body.Bytes()}, &got)
	got.Note = ""
	if w.Code != http.StatusOK || !reflect.DeepEqual(got, Revoked{Revoked: 4, Grants: 1, Sessions: 2, Consents: 1, TokensRefused: true, Subjects: []string{"alice"}}) {
		t.Fatalf("revoke person alice = %d %+v, want 1 grant, 2 sessions, 1 consent", w.Code, got)
	}
	if ss, _ := st.ListSessions(ctx, "alice", testNow); len(ss) != 0 {
		t.Errorf("alice's sessions after her revocation = %d, want 0", len(ss))
	}
	if at, _ := st.SubjectRevokedAt(ctx, "alice"); !at.Equal(testNow) {
		t.Errorf("SubjectRevokedAt(alice) = %v, want %v", at, testNow)
	}
	if ss, _ := st.ListSessions(ctx, "bob", testNow); len(ss) != 1 {
		t.Errorf("bob's sessions after alice's revocation = %d, want 1", len(ss))
	}
	wantAudit(t, logs.String(), c, "revoke_person", "alice", 4)
	w = call(h, "POST", "/v1/people/revoke", `{"user":"carol"}`, "Bearer "+testToken)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "no grant, session or consent") {
		t.Errorf("revoke person carol = %d %s, want 200 saying nothing was found", w.Code, w.Body)
	}
}

// wantAudit fails t unless logs hold one audit line of action on target with records,
// naming the admin API and the caller's address, and the action was counted.
func wantAudit(t *testing.T, logs string, c Config, action, target string, records int) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["action"] != action || m["target"] != target {
			continue
		}
		if m["who"] != "admin API" || m["remote_addr"] != "192.0.2.1:1234" || m["records"] != float64(records) {
			t.Errorf("audit line %s, want who admin API, remote_addr, records %d", line, records)
		}
		if testutil.ToFloat64(c.Actions.WithLabelValues(action)) < 1 {
			t.Errorf("action %s not counted", action)
		}
		return
	}
	t.Errorf("no audit line for %s %s in %s", action, target, logs)
}
