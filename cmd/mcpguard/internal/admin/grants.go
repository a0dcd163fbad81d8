package admin

// Grants and people: list the grants of a person or a client, revoke one grant, or
// everything a person holds.

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
)

// Grants is the answer of GET /v1/grants.
type Grants struct {
	Grants []store.Grant `json:"grants"`
}

// PersonRequest is the body of POST /v1/people/revoke: the person, as ?user= of the
// listings takes it (a subject or an email).
type PersonRequest struct {
	User string `json:"user"`
}

// handleListGrants answers GET /v1/grants?user=USER&client=CLIENT_ID with the live
// grants of that person and/or client (either filter may be left out; neither lists
// every grant), oldest first. user is a subject or an email: the grants of every
// subject it names (see subjectsOf), each once.
func handleListGrants(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subjects, ok := userSubjects(c, w, r, false)
		if !ok {
			return
		}
		if subjects == nil {
			subjects = []string{""} // no user: every subject
		}
		client := r.URL.Query().Get("client")
		lists := make([][]store.Grant, 0, len(subjects))
		for _, sub := range subjects {
			gs, err := c.Grants.ListGrants(r.Context(), sub, client, c.Now())
			if err != nil {
				storeFailed(c, w, "list grants", err)
				return
			}
			lists = append(lists, gs)
		}
		writeJSON(w, http.StatusOK, Grants{Grants: mergeGrants(lists)})
	})
}

// handleRevokeGrant answers POST /v1/grants/revoke {"id": GRANT_ID}: the grant's
// refresh family and access tokens are revoked on every replica and the consent behind
// it is forgotten.
func handleRevokeGrant(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := readID(w, r)
		if !ok {
			return
		}
		_, n, err := c.Server.RevokeGrant(r.Context(), id, "")
		if failed(c, w, err, oauth.ErrNoGrant, "no live grant has that id") {
			return
		}
		answer(c, w, r, "revoke_grant", id, revoked(n))
	})
}

// handleRevokePerson answers POST /v1/people/revoke {"user": USER}: every grant,
// browser session and consent of the person, and every access token issued to them
// until now, on every replica. USER is a subject or an email: every subject it names
// (see subjectsOf) is revoked, and the answer lists them, so a subject revoked because
// its sessions or grants carry the email is in plain sight. Nothing found is no error:
// USER's tokens as a subject are refused all the same, and the note says nothing else
// was held.
func handleRevokePerson(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req PersonRequest
		if !readJSON(w, r, &req) {
			return
		}
		if msg := checkUser(req.User); msg != "" {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
		subjects, err := subjectsOf(r.Context(), c, req.User)
		if err != nil {
			storeFailed(c, w, "find subjects by email", err)
			return
		}
		var sum oauth.Revoked
		for i, sub := range subjects {
			n, err := c.Server.RevokePerson(r.Context(), sub)
			sum.Grants, sum.Sessions, sum.Consents = sum.Grants+n.Grants, sum.Sessions+n.Sessions, sum.Consents+n.Consents
			sum.Tokens = sum.Tokens || n.Tokens
			if err != nil {
				if i > 0 { // what was revoked stays revoked: the audit line says so
					audit(c, r, "revoke_person", req.User, revoked(sum).Revoked, subjects[:i]...)
				}
				storeFailed(c, w, "revoke", err)
				return
			}
		}
		out := revoked(sum)
		out.Subjects = subjects
		if len(subjects) > 1 {
			out.Note = fmt.Sprintf("revoked the subject(s) %s too: their sessions or grants carry the email %q",
				strings.Join(subjects[1:], ", "), req.User)
		}
		if out.Revoked == 0 {
			out.Note = joinNote(out.Note, "no grant, session or consent of that subject or email was found (is it the subject or email the listings show?); tokens issued to it as a subject until now are refused all the same")
		}
		out.Note = joinNote(out.Note, "the person can log in again unless the identity provider disables them")
		answer(c, w, r, "revoke_person", req.User, out)
	})
}

// joinNote appends b to the note a.
func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
