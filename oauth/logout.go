package oauth

import "net/http"

// handleLogout ends the browser session (GET or POST /logout). rd, when a safe local
// path (see safeReturnPath), is where the browser goes next; otherwise a plain
// "signed out" page is shown. Tokens already issued to clients stay valid: revoke them
// at /revoke.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	ss := s.session(r)
	for k := range ss.Values {
		delete(ss.Values, k)
	}
	ss.Options.MaxAge = -1
	s.saveSession(w, r, ss)
	rd := r.URL.Query().Get("rd")
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if r.ParseForm() == nil && r.PostForm.Has("rd") {
			rd = r.PostForm.Get("rd")
		}
	}
	if p, ok := safeReturnPath(rd); ok {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p, http.StatusFound)
		return
	}
	s.writePage(w, http.StatusOK, "message.html", pageData{Title: "Signed out", Message: "You are signed out of mcpguard."}, "")
}
