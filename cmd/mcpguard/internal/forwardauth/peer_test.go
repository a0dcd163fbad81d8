package forwardauth

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
)

// TestPeerTrustedFallback: a request that did not come through the server's ConnContext
// (or whose RemoteAddr differs from the connection's) is judged from its RemoteAddr.
func TestPeerTrustedFallback(t *testing.T) {
	d := &Decider{trustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	r, _ := http.NewRequest("GET", "/auth", nil)
	r.RemoteAddr = "127.0.0.1:1234"
	if !d.peerTrusted(r) {
		t.Error("loopback peer without a connection context: untrusted, want trusted")
	}
	// The connection said trusted, but this request names another peer.
	ctx := context.WithValue(r.Context(), connPeerKey{}, &connPeer{remoteAddr: "127.0.0.1:9999", trusted: true})
	r = r.WithContext(ctx)
	r.RemoteAddr = "203.0.113.5:1234"
	if d.peerTrusted(r) {
		t.Error("a request whose RemoteAddr is not its connection's used the connection's judgement")
	}
}
