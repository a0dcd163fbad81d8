package admin

// Grants and people: list the grants of a person or a client, revoke one grant, or
// everything a person holds.

import (
	"net/http"

	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/store"
)

// Grants is the answer of GET /v1/grants.
type Grants struct {
	Grants []store.Grant `json:"grants"`
}

// PersonRequest is the body of POST /v1/people/revoke: the person's subject, as
// ?user= of the listings takes it.
type PersonRequest struct {
	User string `json:"user"`
}

// handleListGrants answers GET /v1/grants?user=SUBJECT&client=CLIENT_ID with the live
// grants of that person and/or client (either filter may be left out; neither lists
// every grant), oldest first. user is a subject, as for GET /v1/sessions.
func handleListGrants(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		gs, err := c.Grants.ListGrants(r.Context(), q.Get("user"), q.Get("client"), c.Now())
		if err != nil {
			storeFailed(c, w, "list grants", err)
			return
		}
		if gs == nil {
			gs = []store.Grant{}
		}
		writeJSON(w, http.StatusOK, Grants{Grants: gs})
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

// handleRevokePerson answers POST /v1/people/revoke {"user": SUBJECT}: every grant,
// browser session and consent of the person, and every access token issued to them
// until now, on every replica. Nothing found is no error: the subject's tokens are
// refused all the same, and the note says nothing else was held.
func handleRevokePerson(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req PersonRequest
		if !readJSON(w, r, &req) {
			return
		}
		if req.User == "" {
			writeError(w, http.StatusBadRequest, "user is required")
			return
		}
		n, err := c.Server.RevokePerson(r.Context(), req.User)
		if failed(c, w, err, nil, "") {
			return
		}
		out := revoked(n)
		if out.Revoked == 0 {
			out.Note = "no grant, session or consent of that subject was found (is it the subject the listings show?); tokens issued to it until now are refused all the same"
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
