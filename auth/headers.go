package auth

import "strings"

// HeaderValues are a Principal rendered as the values of the identity headers that
// /auth answers with, each a one-element slice that can be put in an http.Header as it
// is: the user (the email, else the subject), the email, the groups joined by ",", the
// scopes joined by " ", the source and the client id. An empty value is "".
//
// Net/http only reads header values, so one HeaderValues may serve any number of
// responses at once; nobody may change it.
type HeaderValues struct {
	User, Email, Groups, Scopes, Source, ClientID []string

	// from is what the values were rendered from: a Principal whose fields were changed
	// after Prepare gets fresh values instead of stale ones.
	from rendered
}

// rendered is the part of a Principal that its HeaderValues show.
type rendered struct {
	subject, email, source, clientID string
	groups, scopes                   []string
}

// emptyValue is the value of an identity header that says nothing; shared.
var emptyValue = []string{""}

func newHeaderValues(p *Principal) *HeaderValues {
	user := p.Email
	if user == "" {
		user = p.Subject
	}
	hv := &HeaderValues{from: rendered{p.Subject, p.Email, p.Source, p.ClientID, p.Groups, p.Scopes}}
	// One backing array for every value that is not empty.
	vals := make([]string, 0, 6)
	value := func(v string) []string {
		if v == "" {
			return emptyValue
		}
		vals = append(vals, v)
		return vals[len(vals)-1 : len(vals) : len(vals)]
	}
	hv.User = value(user)
	hv.Email = value(p.Email)
	hv.Groups = value(strings.Join(p.Groups, ","))
	hv.Scopes = value(strings.Join(p.Scopes, " "))
	hv.Source = value(p.Source)
	hv.ClientID = value(p.ClientID)
	return hv
}

// Prepare renders p's header values once and keeps them in p, for a principal that is
// stored and handed out many times: an API key's, or a verified token's in a cache. The
// copies of p that Authenticate returns then cost /auth no allocation at all.
func (p *Principal) Prepare() {
	p.headers = newHeaderValues(p)
}

// HeaderValues returns p's identity header values: those Prepare kept, while p still
// holds what they were rendered from, or else fresh ones.
func (p *Principal) HeaderValues() *HeaderValues {
	if hv := p.headers; hv != nil && hv.from.matches(p) {
		return hv
	}
	return newHeaderValues(p)
}

// matches reports whether p still holds what r was rendered from. Equal strings and
// slices of a copy share their memory, so this is a few word comparisons in the
// common case; it never reads a slice's elements.
func (r *rendered) matches(p *Principal) bool {
	return r.subject == p.Subject && r.email == p.Email && r.source == p.Source &&
		r.clientID == p.ClientID && sameSlice(r.groups, p.Groups) && sameSlice(r.scopes, p.Scopes)
}

// sameSlice reports whether a and b are the same slice: same length and, when not
// empty, the same first element in memory. Changing an element in place is not
// detected; that is why a prepared principal's slices are read-only.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
