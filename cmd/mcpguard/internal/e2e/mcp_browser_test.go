package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fakeIssuer is the smallest authorization server front end the browser must get
// through: /authorize redirects to a login form, the login sets a session cookie and
// redirects to a consent page with Deny before Approve, and approving redirects to the
// client with code, state and iss. Every form carries a CSRF token it checks.
func fakeIssuer(t *testing.T) *httptest.Server {
	t.Helper()
	const csrf = "csrf-0123456789"
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login?"+r.URL.RawQuery, http.StatusFound)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>Sign in</title><form method="POST">
<input type="hidden" name="csrf" value="%s"><label>Email <input type=email name=email></label>
<label>Password <input type=password name=password></label><input type=checkbox name=remember>
<button type=submit>Sign in</button></form>`, csrf)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("csrf") != csrf || r.PostFormValue("email") != "a@example.com" || r.PostFormValue("password") != "pw" || r.PostForm.Has("remember") {
			http.Error(w, "bad login "+r.PostForm.Encode(), http.StatusBadRequest)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s1", Path: "/", HttpOnly: true})
		http.Redirect(w, r, "/consent?"+r.URL.RawQuery, http.StatusSeeOther)
	})
	mux.HandleFunc("GET /consent", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		fmt.Fprintf(w, `<!doctype html><title>Consent</title><script>var x = "approve";</script>
<p>Allow <b>Test Client</b>?</p><form method="post" action="/consent/submit?%s">
<input type="hidden" name="csrf" value="%s"><select name="ttl"><option value="1h">1h<option value="1d" selected>1d</select>
<button type="submit" name="action" value="deny">Deny</button>
<button type="submit" name="action" value="approve">Approve</button></form>`, r.URL.RawQuery, csrf)
	})
	mux.HandleFunc("POST /consent/submit", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("sid"); err != nil || c.Value != "s1" {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		if r.PostFormValue("csrf") != csrf || r.PostFormValue("action") != "approve" || r.PostFormValue("ttl") != "1d" || r.Header.Get("Origin") != srv.URL {
			http.Error(w, "bad consent "+r.PostForm.Encode(), http.StatusBadRequest)
			return
		}
		q := r.URL.Query()
		to := q.Get("redirect_uri") + "?" + url.Values{"code": {"c0de"}, "state": {q.Get("state")}, "iss": {srv.URL}}.Encode()
		http.Redirect(w, r, to, http.StatusFound)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestMCPBrowser(t *testing.T) {
	srv := fakeIssuer(t)
	const redirect = "http://127.0.0.1:1/callback"
	b, err := newFormBrowser(http.DefaultTransport, srv.URL, "a@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	authURL := srv.URL + "/authorize?" + url.Values{"redirect_uri": {redirect}, "state": {"st8"}}.Encode()
	res, err := b.authorize(t.Context(), authURL, redirect)
	if err != nil {
		t.Fatalf("authorize = %v", err)
	}
	if res.Code != "c0de" || res.State != "st8" || res.Iss != srv.URL {
		t.Errorf("authorize = %+v, want code c0de, state st8, iss %s", res, srv.URL)
	}
	if b.count("login") != 1 || b.count("consent") != 1 {
		t.Errorf("pages = %+v, want one login and one consent", b.pages)
	}
	if p := b.pages[len(b.pages)-1]; p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.text, "Allow Test Client ?") || strings.Contains(p.text, "var x") {
		t.Errorf("consent page = %+v", p)
	}

	// A redirect that leaves the issuer for anything but the redirect_uri is an error.
	if _, err := b.authorize(t.Context(), authURL, "http://127.0.0.1:2/other"); err == nil || !strings.Contains(err.Error(), "neither the issuer nor the redirect_uri") {
		t.Errorf("authorize to another redirect_uri = %v, want a refusal", err)
	}
}

func TestMCPBrowserErrors(t *testing.T) {
	tests := []struct {
		name, location, want string
	}{
		{"error response", "http://127.0.0.1:1/cb?error=access_denied&error_description=no&state=s", `authorization error "access_denied": no`},
		{"no code", "http://127.0.0.1:1/cb?state=s", "has no code"},
		{"elsewhere", "https://evil.example/cb?code=c", "neither the issuer nor the redirect_uri"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tt.location, http.StatusFound)
			}))
			defer srv.Close()
			b, err := newFormBrowser(http.DefaultTransport, srv.URL, "a@example.com", "pw")
			if err != nil {
				t.Fatal(err)
			}
			_, err = b.authorize(t.Context(), srv.URL+"/authorize", "http://127.0.0.1:1/cb")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("authorize = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
