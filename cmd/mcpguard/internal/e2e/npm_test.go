package e2e

// What the tests of npm clients share: the node_modules directories the install scripts
// fill, and the edge that programs which cannot take loadBalancer as their transport
// reach the example hosts through.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// npmTestdata is testdata/name, where an npm client's package.json and package-lock.json
// are committed.
func npmTestdata(t testing.TB, name string) string {
	return filepath.Join(repoRoot(t), "cmd", "mcpguard", "internal", "e2e", "testdata", name)
}

// npmModules is the node_modules directory the install script of testdata/name fills:
// $XDG_CACHE_HOME/mcpguard/<name>-<hash>/node_modules, XDG_CACHE_HOME defaulting to
// ~/.cache and hash the first 12 hex digits of the SHA-256 of the committed
// package-lock.json. It fails with hint unless each of packages is installed there.
func npmModules(t testing.TB, name, hint string, packages ...string) string {
	t.Helper()
	lock, err := os.ReadFile(filepath.Join(npmTestdata(t, name), "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	dir := filepath.Join(cache, "mcpguard", name+"-"+hex.EncodeToString(sum[:])[:12], "node_modules")
	for _, p := range packages {
		if _, err := os.Stat(filepath.Join(dir, p, "package.json")); err != nil {
			t.Fatalf("%s is not installed at %s; the test runs the real client (%s)", p, dir, hint)
		}
	}
	return dir
}

// httpsEdge is loadBalancer for a program that dials for itself: an HTTP proxy
// (HTTPS_PROXY) that accepts CONNECT to the two example hosts on port 443 only,
// terminates TLS with a certificate from its own CA (caFile, for NODE_EXTRA_CA_CERTS), and
// sends each request on through the loadBalancer, which logs it.
type httpsEdge struct {
	url    string // http://127.0.0.1:PORT
	caFile string
}

// startHTTPSEdge starts the proxy in front of lb; it stops when the test ends.
func startHTTPSEdge(t *testing.T, lb *loadBalancer) *httpsEdge {
	t.Helper()
	cert, caPEM := edgeCertificate(t)
	tunnels := &tunnelListener{conns: make(chan net.Conn), done: make(chan struct{})}
	inner := &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = "https", r.In.Host, r.In.Host
			},
			Transport:     lb,
			FlushInterval: -1, // event streams as they come
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go inner.Serve(tunnels)
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, port, _ := net.SplitHostPort(r.Host)
		if r.Method != http.MethodConnect || port != "443" || (host != mcpHost && host != authHost) {
			http.Error(w, "e2e edge: only CONNECT to "+mcpHost+":443 or "+authHost+":443", http.StatusForbidden)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if _, err := conn.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n")); err != nil {
			conn.Close()
			return
		}
		select {
		case tunnels.conns <- tls.Server(conn, tlsConfig):
		case <-tunnels.done:
			conn.Close()
		}
	}))
	t.Cleanup(func() {
		outer.Close()
		tunnels.Close()
		inner.Close()
	})
	e := &httpsEdge{url: outer.URL, caFile: filepath.Join(t.TempDir(), "edge-ca.pem")}
	if err := os.WriteFile(e.caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// env is what a Node.js program needs to reach the example hosts through the edge: the
// proxy for https, none for loopback (the OAuth callback), and the edge's CA.
func (e *httpsEdge) env() []string {
	return []string{
		"HTTPS_PROXY=" + e.url,
		"NO_PROXY=localhost,127.0.0.1,::1",
		"NODE_EXTRA_CA_CERTS=" + e.caFile,
	}
}

// edgeCertificate is a fresh CA (returned as PEM) and a certificate it signed for the
// two example hosts.
func edgeCertificate(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mcpguard e2e edge CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: mcpHost},
		DNSNames:     []string{mcpHost, authHost},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, pemEncode(caDER)
}

// tunnelListener hands the TLS connections of CONNECT tunnels to an http.Server.
type tunnelListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *tunnelListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *tunnelListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *tunnelListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
