package main

import (
	"encoding/json"
	"net/http"
	"sync"
)

// readiness collects the named checks /readyz runs: keys loaded, store reachable,
// upstream discovery done. Each returns nil when ready.
type readiness struct {
	mu     sync.Mutex
	checks []readyCheck
}

type readyCheck struct {
	name  string
	check func() error
}

func (r *readiness) add(name string, check func() error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, readyCheck{name, check})
}

// ServeHTTP answers 200 when every check passes and 503 otherwise, with one line of JSON
// per check; failure texts are mcpguard's own and hold no secrets.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	checks := append([]readyCheck(nil), r.checks...)
	r.mu.Unlock()
	status := http.StatusOK
	out := map[string]string{}
	for _, c := range checks {
		if err := c.check(); err != nil {
			status = http.StatusServiceUnavailable
			out[c.name] = err.Error()
			continue
		}
		out[c.name] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"ready": status == http.StatusOK, "checks": out})
}
