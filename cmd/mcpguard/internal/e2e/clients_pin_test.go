package e2e

// doctor imports nothing of mcpguard, so it keeps its own copy of the gates of the
// known-client profile; this test pins the copy to oauth.KnownClients.

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcpguard/mcpguard/cmd/mcpguard/internal/doctor"
	"github.com/mcpguard/mcpguard/oauth"
)

func TestDoctorClientsMatchProfile(t *testing.T) {
	profiles := oauth.KnownClients()
	copies := doctor.Clients()
	if len(copies) != len(profiles) {
		t.Errorf("doctor knows %d clients, the profile %d", len(copies), len(profiles))
	}
	for _, p := range profiles {
		id := strings.ToLower(strings.ReplaceAll(p.Name, " ", "-"))
		i := slices.IndexFunc(copies, func(c doctor.Client) bool { return c.ID == id })
		if i < 0 {
			t.Errorf("doctor has no client %q (profile %q)", id, p.Name)
			continue
		}
		var want []string
		for _, g := range p.Gates {
			want = append(want, string(g))
		}
		if got := copies[i].Gates; !slices.Equal(got, want) {
			t.Errorf("doctor's gates of %s = %q, the profile's %q", id, got, want)
		}
	}
}
