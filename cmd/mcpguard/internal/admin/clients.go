package admin

// Clients: list every client mcpguard knows, revoke one and everything it holds.

import (
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/oauth"
)

// Client is one client as the admin API shows it.
type Client struct {
	ID       string    `json:"client_id"`
	Name     string    `json:"name,omitempty"`
	Kind     string    `json:"kind"` // static (configured), dcr (registered), cimd (metadata document)
	Created  time.Time `json:"created,omitzero"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Grants   int       `json:"grants"` // live grants it holds
}

// Clients is the answer of GET /v1/clients.
type Clients struct {
	Clients []Client `json:"clients"`
}

// handleListClients answers GET /v1/clients: the configured clients, then the
// registered ones, then the CIMD clients holding a grant, each with its grant count.
func handleListClients(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cs, err := c.Server.Clients(r.Context())
		if err != nil {
			storeFailed(c, w, "list clients", err)
			return
		}
		grants, err := c.Grants.ListGrants(r.Context(), "", "", c.Now())
		if err != nil {
			storeFailed(c, w, "list grants", err)
			return
		}
		held := map[string]int{}
		for _, g := range grants {
			held[g.ClientID]++
		}
		out := Clients{Clients: make([]Client, 0, len(cs))}
		for _, cl := range cs {
			out.Clients = append(out.Clients, Client{ID: cl.ID, Name: cl.Name, Kind: cl.Kind,
				Created: cl.CreatedAt, LastUsed: cl.LastUsedAt, Grants: held[cl.ID]})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleRevokeClient answers POST /v1/clients/revoke {"id": CLIENT_ID}: every grant
// the client holds, every consent given to it and every access token issued to it
// are revoked on every replica; a registered client is deleted too. A configured
// client stays (the configuration defines it), which the answer's note says.
func handleRevokeClient(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := readID(w, r)
		if !ok {
			return
		}
		kind, n, err := c.Server.RevokeClient(r.Context(), id)
		if failed(c, w, err, oauth.ErrNoClient, "no client has that id") {
			return
		}
		out := revoked(n)
		out.Kind = kind
		switch kind {
		case "static":
			out.Note = "a configured client is not deleted: remove it from the configuration to stop it obtaining new tokens"
		case "cimd":
			out.Note = "a CIMD client is its metadata URL: it may authorize again unless CIMD_ALLOWED_DOMAINS excludes it"
		}
		answer(c, w, r, "revoke_client", id, out)
	})
}
