package e2e

// The MCP server of the end-to-end tests: it records every request head exactly as the
// proxy sent it.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// e2eSeen is one request as the MCP upstream received it.
type e2eSeen struct {
	Method string
	Target string      // request-target, as sent
	Fields [][2]string // header fields in wire order, names exactly as sent
}

// get returns the values of the fields whose normalized name is name's.
func (s e2eSeen) get(name string) []string {
	var out []string
	for _, f := range s.Fields {
		if e2eNormHeader(f[0]) == e2eNormHeader(name) {
			out = append(out, f[1])
		}
	}
	return out
}

// e2eNormHeader is how WSGI, CGI and PHP see a header name: case-folded, and every
// character but a letter or a digit the same as '-'.
func e2eNormHeader(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// The upstream answers e2eStreamPath with an SSE stream whose first event is
// e2eStreamEvent and whose end comes only with endStream (or after 10 s).
const (
	e2eStreamPath  = "/mcp/stream"
	e2eStreamEvent = `{"jsonrpc":"2.0","method":"notifications/progress"}`
)

// e2eUpstream is the MCP server behind the proxy: it records every request head exactly as
// it arrived (raw field names, wire order) and answers 200 with a small JSON document.
type e2eUpstream struct {
	addr string
	mu   sync.Mutex
	seen []e2eSeen

	endStreams   chan struct{} // closed by endStream
	endStreamsMu sync.Once
}

// endStream ends the open SSE streams of e2eStreamPath.
func (u *e2eUpstream) endStream() {
	u.endStreamsMu.Do(func() { close(u.endStreams) })
}

// e2eRecConn keeps the bytes read from a connection until the handler takes them.
type e2eRecConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *e2eRecConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *e2eRecConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	return b
}

type e2eRecListener struct{ net.Listener }

func (l e2eRecListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &e2eRecConn{Conn: c}, nil
}

type e2eRecConnKey struct{}

func startE2EUpstream(t *testing.T) *e2eUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &e2eUpstream{addr: ln.Addr().String(), endStreams: make(chan struct{})}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, e2eRecConnKey{}, c)
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc, _ := r.Context().Value(e2eRecConnKey{}).(*e2eRecConn)
			raw := rc.take() // this head, after whatever of the previous request was left
			io.Copy(io.Discard, r.Body)
			u.mu.Lock()
			u.seen = append(u.seen, e2eParseHead(raw, r.Method, r.RequestURI))
			u.mu.Unlock()
			if r.URL.Path == e2eStreamPath {
				// A Streamable HTTP response: one event now, the rest much later.
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: message\ndata: "+e2eStreamEvent+"\n\n")
				http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
				case <-u.endStreams:
				case <-time.After(10 * time.Second):
				}
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Upstream", "reached")
			fmt.Fprintf(w, `{"upstream":true,"method":%q}`+"\n", r.Method)
		}),
	}
	go srv.Serve(e2eRecListener{ln})
	t.Cleanup(func() {
		u.endStream()
		srv.Close()
	})
	return u
}

// e2eParseHead splits the raw request head whose request line is "method target ..." into
// its fields, without canonicalizing names.
func e2eParseHead(raw []byte, method, target string) e2eSeen {
	s := e2eSeen{Method: method, Target: target}
	start := bytes.LastIndex(raw, []byte(method+" "+target+" HTTP/"))
	if start < 0 {
		return s
	}
	head := raw[start:]
	if end := bytes.Index(head, []byte("\r\n\r\n")); end >= 0 {
		head = head[:end]
	}
	lines := strings.Split(string(head), "\r\n")
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		s.Fields = append(s.Fields, [2]string{name, strings.TrimSpace(value)})
	}
	return s
}

// requests returns every request the upstream has seen, oldest first.
func (u *e2eUpstream) requests() []e2eSeen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]e2eSeen(nil), u.seen...)
}
