package admin

// People: the `user` the listings and people/revoke take is a subject or an email,
// resolved here to the subjects it names.

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/mcpguard/mcpguard/store"
)

// MaxUserLen bounds the user a request names, in bytes: above any email (RFC 5321
// §4.5.3.1.3 allows 254) or OpenID Connect subject (255, OIDC Core §2), with room for
// other issuers' longer subjects.
const MaxUserLen = 1024

// checkUser validates a user the caller gave; it returns the message of the 400 when
// there is one.
func checkUser(user string) string {
	switch {
	case user == "":
		return "user is required: a subject or an email"
	case len(user) > MaxUserLen:
		return fmt.Sprintf("user is longer than %d bytes", MaxUserLen)
	case strings.ContainsFunc(user, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "user contains a control character"
	}
	return ""
}

// subjectsOf resolves user (checked) to the subjects it names: user itself as a
// subject, first, then, when it looks like an email (has an @), the subjects of the
// live sessions and grants whose email equals it after ASCII case folding (for a
// Google or OIDC login the subject is the provider's opaque id, not the email).
// Never empty.
func subjectsOf(ctx context.Context, c Config, user string) ([]string, error) {
	out := []string{user}
	if !strings.Contains(user, "@") {
		return out, nil
	}
	byEmail, err := c.Grants.SubjectsByEmail(ctx, user, c.Now())
	if err != nil {
		return nil, err
	}
	for _, s := range byEmail {
		if s != user {
			out = append(out, s)
		}
	}
	return out, nil
}

// userSubjects reads ?user= of a listing and resolves it. It returns nil for no user
// (when optional), and false when it has answered (400 or 503).
func userSubjects(c Config, w http.ResponseWriter, r *http.Request, required bool) ([]string, bool) {
	user := r.URL.Query().Get("user")
	if user == "" && !required {
		return nil, true
	}
	if msg := checkUser(user); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return nil, false
	}
	subjects, err := subjectsOf(r.Context(), c, user)
	if err != nil {
		storeFailed(c, w, "find subjects by email", err)
		return nil, false
	}
	return subjects, true
}

// mergeByID is lists joined, each ID once (the first kept), sorted by compare.
func mergeByID[T any](lists [][]T, id func(T) string, compare func(a, b T) int) []T {
	seen := map[string]bool{}
	out := []T{}
	for _, l := range lists {
		for _, v := range l {
			if !seen[id(v)] {
				seen[id(v)] = true
				out = append(out, v)
			}
		}
	}
	slices.SortStableFunc(out, compare)
	return out
}

// mergeGrants joins the grants of several subjects as ListGrants orders them: oldest
// GrantedAt first, ties by ID.
func mergeGrants(lists [][]store.Grant) []store.Grant {
	return mergeByID(lists, func(g store.Grant) string { return g.ID }, func(a, b store.Grant) int {
		return cmp.Or(a.GrantedAt.Compare(b.GrantedAt), cmp.Compare(a.ID, b.ID))
	})
}

// mergeSessions joins the sessions of several subjects as ListSessions orders them:
// oldest CreatedAt first, ties by ID.
func mergeSessions(lists [][]store.Session) []store.Session {
	return mergeByID(lists, func(s store.Session) string { return s.ID }, func(a, b store.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}
