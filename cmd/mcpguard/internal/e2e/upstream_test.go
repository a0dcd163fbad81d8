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

// seenRequest is one request as the MCP upstream received it.
type seenRequest struct {
	Method string
	Target string      // request-target, as sent
	Fields [][2]string // header fields in wire order, names exactly as sent
}

// get returns the values of the fields whose normalized name is name's.
func (s seenRequest) get(name string) []string {
	var out []string
	for _, f := range s.Fields {
		if normHeader(f[0]) == normHeader(name) {
			out = append(out, f[1])
		}
	}
	return out
}

// normHeader is how WSGI, CGI and PHP see a header name: case-folded, and every
// character but a letter or a digit the same as '-'.
func normHeader(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return string(b)
}

// The upstream answers streamPath with an SSE stream whose first event is
// streamEvent and whose end comes only with endStream (or after 10 s).
const (
	streamPath  = "/mcp/stream"
	streamEvent = `{"jsonrpc":"2.0","method":"notifications/progress"}`
)

// mcpUpstream is the MCP server behind the proxy: it records every request head exactly as
// it arrived (raw field names, wire order) and answers 200 with a small JSON document.
type mcpUpstream struct {
	addr string
	mu   sync.Mutex
	seen []seenRequest

	endStreams   chan struct{} // closed by endStream
	endStreamsMu sync.Once
}

// endStream ends the open SSE streams of streamPath.
func (u *mcpUpstream) endStream() {
	u.endStreamsMu.Do(func() { close(u.endStreams) })
}

// recConn keeps the bytes read from a connection until the handler takes them.
type recConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.buf.Write(p[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := bytes.Clone(c.buf.Bytes())
	c.buf.Reset()
	return b
}

type recListener struct{ net.Listener }

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c}, nil
}

type recConnKey struct{}

func startUpstream(t *testing.T) *mcpUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &mcpUpstream{addr: ln.Addr().String(), endStreams: make(chan struct{})}
	srv := &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, recConnKey{}, c)
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc, _ := r.Context().Value(recConnKey{}).(*recConn)
			raw := rc.take() // this head, after whatever of the previous request was left
			io.Copy(io.Discard, r.Body)
			u.mu.Lock()
			u.seen = append(u.seen, parseHead(raw, r.Method, r.RequestURI))
			u.mu.Unlock()
			if r.URL.Path == streamPath {
				// A Streamable HTTP response: one event now, the rest much later.
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "event: message\ndata: "+streamEvent+"\n\n")
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
	go srv.Serve(recListener{ln})
	t.Cleanup(func() {
		u.endStream()
		srv.Close()
	})
	return u
}

// parseHead splits the raw request head whose request line is "method target ..." into
// its fields, without canonicalizing names.
func parseHead(raw []byte, method, target string) seenRequest {
	s := seenRequest{Method: method, Target: target}
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
func (u *mcpUpstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}
