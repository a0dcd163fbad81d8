package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcpguard/mcpguard/store"
)

// newPeopleAPI is newTestAPI with alice also logged in through upstream providers,
// whose subjects are opaque ids: a session of google-1 (Alice@Example.com) and a grant
// (family fg) of oidc-2 (ALICE@example.com); and malice, whose email only contains
// alice's.
func newPeopleAPI(t *testing.T) (http.Handler, store.Store, *bytes.Buffer, Config) {
	t.Helper()
	h, st, logs, c := newTestAPI(t)
	ctx := context.Background()
	for _, s := range []store.Session{
		{ID: "sg", Identity: store.Identity{Subject: "google-1", Email: "Alice@Example.com"}},
		{ID: "sm", Identity: store.Identity{Subject: "malice", Email: "malice@example.com"}},
	} {
		s.CreatedAt, s.LastUsedAt = testNow.Add(-2*time.Hour), testNow.Add(-time.Minute)
		s.ExpiresAt, s.IdleExpiresAt = testNow.Add(7*time.Hour), testNow.Add(time.Hour)
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rt := store.RefreshToken{TokenHash: "hg", FamilyID: "fg", ClientID: "cli", Identity: store.Identity{Subject: "oidc-2", Email: "ALICE@example.com"},
		IssuedAt: testNow.Add(-2 * time.Minute), ExpiresAt: testNow.Add(time.Hour), Scopes: []string{"mcp:read"}}
	if err := st.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	return h, st, logs, c
}

func TestListByEmail(t *testing.T) {
	h, _, _, _ := newPeopleAPI(t)
	long := "a@" + strings.Repeat("b", MaxUserLen)
	tests := []struct {
		name, target string
		code         int
		want         []string // grant or session IDs
	}{
		{"grants by email", "/v1/grants?user=alice@example.com", http.StatusOK, []string{"fg", "fa"}},
		{"grants by email, other case", "/v1/grants?user=ALICE@EXAMPLE.COM", http.StatusOK, []string{"fg", "fa"}},
		{"grants by email and client", "/v1/grants?user=alice@example.com&client=mcpg-dcr", http.StatusOK, []string{}},
		{"grants by subject", "/v1/grants?user=oidc-2", http.StatusOK, []string{"fg"}},
		{"grants by a prefix of the email", "/v1/grants?user=alice@example.co", http.StatusOK, []string{}},
		{"grants by the local part", "/v1/grants?user=alice@", http.StatusOK, []string{}},
		{"grants, oversized user", "/v1/grants?user=" + long, http.StatusBadRequest, nil},
		{"grants, control character", "/v1/grants?user=alice%0a@example.com", http.StatusBadRequest, nil},
		{"sessions by email", "/v1/sessions?user=alice@example.com", http.StatusOK, []string{"sg", "s1", "s2"}},
		{"sessions by subject", "/v1/sessions?user=alice", http.StatusOK, []string{"s1", "s2"}},
		{"sessions by the other email", "/v1/sessions?user=malice@example.com", http.StatusOK, []string{"sm"}},
		{"sessions by a suffix of the email", "/v1/sessions?user=lice@example.com", http.StatusOK, []string{}},
		{"sessions, oversized user", "/v1/sessions?user=" + long, http.StatusBadRequest, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := get(h, tt.target)
			if a.code != tt.code {
				t.Fatalf("GET %.60s = %d %s, want %d", tt.target, a.code, a.body, tt.code)
			}
			if tt.code != http.StatusOK {
				return
			}
			var got struct {
				Grants   []struct{ ID string } `json:"grants"`
				Sessions []struct{ ID string } `json:"sessions"`
			}
			decode(t, a, &got)
			ids := []string{}
			for _, g := range append(got.Grants, got.Sessions...) {
				ids = append(ids, g.ID)
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("GET %s = %v, want %v", tt.target, ids, tt.want)
			}
		})
	}
}

func TestRevokePersonByEmail(t *testing.T) {
	h, st, logs, c := newPeopleAPI(t)
	ctx := context.Background()
	w := call(h, "POST", "/v1/people/revoke", `{"user":"Alice@example.com"}`, "Bearer "+testToken)
	var got Revoked
	decode(t, reply{w.Code, w.Body.Bytes()}, &got)
	note := got.Note
	got.Note = ""
	subjects := []string{"Alice@example.com", "alice", "google-1", "oidc-2"}
	want := Revoked{Revoked: 6, Grants: 2, Sessions: 3, Consents: 1, TokensRefused: true, Subjects: subjects}
	if w.Code != http.StatusOK || !reflect.DeepEqual(got, want) {
		t.Fatalf("revoke person Alice@example.com = %d %+v, want %+v", w.Code, got, want)
	}
	if !strings.Contains(note, "alice, google-1, oidc-2") {
		t.Errorf("note %q does not name the subjects the email matched", note)
	}
	for _, sub := range subjects {
		if at, _ := st.SubjectRevokedAt(ctx, sub); !at.Equal(testNow) {
			t.Errorf("SubjectRevokedAt(%s) = %v, want %v", sub, at, testNow)
		}
	}
	for _, sub := range []string{"malice", "bob"} {
		if ss, _ := st.ListSessions(ctx, sub, testNow); len(ss) != 1 {
			t.Errorf("%s's sessions after alice's revocation = %d, want 1", sub, len(ss))
		}
	}
	if gs, _ := st.ListGrants(ctx, "", "", testNow); len(gs) != 1 || gs[0].ID != "fb" {
		t.Errorf("grants left = %+v, want bob's fb only", gs)
	}
	line := auditLine(t, logs.String(), "Alice@example.com")
	if !reflect.DeepEqual(line["subjects"], []any{"Alice@example.com", "alice", "google-1", "oidc-2"}) || line["records"] != float64(6) {
		t.Errorf("audit line %v, want the four subjects and 6 records", line)
	}
	wantAudit(t, logs.String(), c, "revoke_person", "Alice@example.com", 6)
}

func TestRevokePersonEmailMatchingNothing(t *testing.T) {
	h, st, logs, _ := newPeopleAPI(t)
	w := call(h, "POST", "/v1/people/revoke", `{"user":"carol@example.com"}`, "Bearer "+testToken)
	var got Revoked
	decode(t, reply{w.Code, w.Body.Bytes()}, &got)
	if w.Code != http.StatusOK || !reflect.DeepEqual(got.Subjects, []string{"carol@example.com"}) || got.Revoked != 0 ||
		!strings.Contains(got.Note, "no grant, session or consent") {
		t.Fatalf("revoke person carol@example.com = %d %+v, want 200, the literal subject only, nothing found", w.Code, got)
	}
	if at, _ := st.SubjectRevokedAt(context.Background(), "carol@example.com"); !at.Equal(testNow) {
		t.Errorf("SubjectRevokedAt(carol@example.com) = %v, want %v: the value is still revoked as a subject", at, testNow)
	}
	auditLine(t, logs.String(), "carol@example.com")
}

func TestRevokePersonBadUser(t *testing.T) {
	h, st, logs, _ := newPeopleAPI(t)
	tests := []struct{ name, body string }{
		{"empty", `{"user":""}`},
		{"oversized", `{"user":"a@` + strings.Repeat("b", MaxUserLen) + `"}`},
		{"control character", `{"user":"alice@example.com\r\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := call(h, "POST", "/v1/people/revoke", tt.body, "Bearer "+testToken)
			var e errorBody
			if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.Contains(e.Error, "user") {
				t.Errorf("POST /v1/people/revoke %.40s = %d %s, want 400 about user", tt.body, w.Code, w.Body)
			}
		})
	}
	if gs, _ := st.ListGrants(context.Background(), "", "", testNow); len(gs) != 3 {
		t.Errorf("after bad input, %d grants left, want 3", len(gs))
	}
	if strings.Contains(logs.String(), "admin action") {
		t.Errorf("bad input left an audit line: %s", logs)
	}
}

// auditLine returns the one revoke_person audit line of target in logs, failing t if
// there is not exactly one.
func auditLine(t *testing.T, logs, target string) map[string]any {
	t.Helper()
	var found []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["action"] == "revoke_person" && m["target"] == target {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d revoke_person audit lines of %s in %s, want 1", len(found), target, logs)
	}
	return found[0]
}
