package e2e

// The MCP SDK's "everything" server (npm @modelcontextprotocol/server-everything) behind
// the real nginx recipe with mcpguard deciding, driven by the official Go SDK client with
// a client_credentials token mcpguard minted: a session (Mcp-Session-Id), a long tool
// call streaming progress over SSE, resources, and a resource subscription whose updates
// arrive on the GET SSE stream. mcpguard must break nothing an MCP server does.
//
// The conformance suite's own `server` command cannot be used for this: it has no way to
// send an Authorization header (no header option in src/index.ts of its repository), and
// its scenarios call the tools of the suite's own example server
// (examples/servers/typescript/everything-server.ts, test_simple_text and the like, not
// published on npm), which the npm everything server does not have.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth/extauth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// startEverything runs the everything server in streamable HTTP mode on a free loopback
// port and returns its host:port once it accepts connections.
func startEverything(t *testing.T) string {
	t.Helper()
	modules := conformanceModules(t)
	node := conformanceNode(t, modules)
	entry := filepath.Join(modules, "@modelcontextprotocol", "server-everything", "dist", "transports", "streamableHttp.js")
	port := freePort(t)
	cmd := exec.Command(node, filepath.Join(npmTestdata(t, "conformance"), "everything.mjs"))
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "EVERYTHING_ENTRY="+entry)
	exited := startProcess(t, "server-everything", cmd, syscall.SIGTERM)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("server-everything exited before listening on %s", addr)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("server-everything never listened on %s", addr)
		}
	}
}

// machineClientHandler is the Go SDK's client_credentials handler for goPostClient,
// reaching the authorization server through client.
func machineClientHandler(t *testing.T, client *http.Client) *extauth.ClientCredentialsHandler {
	t.Helper()
	handler, err := extauth.NewClientCredentialsHandler(&extauth.ClientCredentialsHandlerConfig{
		Credentials: &oauthex.ClientCredentials{
			ClientID:         goPostClient,
			ClientSecretAuth: &oauthex.ClientSecretAuth{ClientSecret: goPostSecret},
		},
		HTTPClient: client,
	})
	if err != nil {
		t.Fatal(err)
	}
	return handler
}

// mcpExchange is one request to the MCP endpoint as the client saw it.
type mcpExchange struct {
	method, sentSession, gotSession, contentType, bearer string
	status                                               int
}

// mcpRecorder records the client's exchanges with the MCP endpoint.
type mcpRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []mcpExchange
}

func (r *mcpRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if req.URL.Host != mcpHost || req.URL.Path != "/mcp" {
		return resp, err
	}
	x := mcpExchange{method: req.Method, sentSession: req.Header.Get("Mcp-Session-Id")}
	x.bearer, _ = strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if resp != nil {
		x.status, x.gotSession, x.contentType = resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), resp.Header.Get("Content-Type")
	}
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return resp, err
}

func (r *mcpRecorder) exchanges() []mcpExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]mcpExchange(nil), r.log...)
}

// TestConformanceEverything drives the everything server through nginx and mcpguard.
func TestConformanceEverything(t *testing.T) {
	ec, rs := mustKeys(t)
	proxy := startMachineEdge(t, startEverything(t), ec, rs)
	edge := &loadBalancer{proxy: proxy.addr, direct: map[string]bool{}}
	rec := &mcpRecorder{next: edge}
	httpClient := &http.Client{Transport: rec}

	// Without a token nginx answers with mcpguard's challenge: mcpguard is in the path.
	if r := proxy.do(t, http.MethodPost, "/mcp", field("Content-Type", "application/json")); r.status != http.StatusUnauthorized {
		t.Fatalf("POST /mcp without a token through nginx = %d, want 401", r.status)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	var mu sync.Mutex
	var progress []float64
	var firstProgress time.Time
	updated := make(chan string, 8)
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpguard-e2e-everything", Version: "1.0.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			if len(progress) == 0 {
				firstProgress = time.Now()
			}
			progress = append(progress, req.Params.Progress)
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			select {
			case updated <- req.Params.URI:
			default:
			}
		},
	})
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: mcpURL, HTTPClient: httpClient, OAuthHandler: machineClientHandler(t, &http.Client{Transport: edge, Timeout: 10 * time.Second}), MaxRetries: -1,
	}, nil)
	if err != nil {
		t.Fatalf("Go SDK Connect(%s) to server-everything through nginx = %v", mcpURL, err)
	}
	if session.ID() == "" {
		t.Fatal("server-everything gave the session no Mcp-Session-Id through nginx")
	}

	// 1. A long call: 6 s, a progress notification every 2 s on the POST's SSE stream.
	longDone := make(chan error, 1)
	var longEnd time.Time
	go func() {
		params := &mcp.CallToolParams{Name: "trigger-long-running-operation", Arguments: map[string]any{"duration": 6, "steps": 3}}
		params.SetProgressToken("long-call")
		res, err := session.CallTool(ctx, params)
		longEnd = time.Now()
		if err == nil {
			text, _ := res.Content[0].(*mcp.TextContent)
			if res.IsError || text == nil || !strings.Contains(text.Text, "completed") {
				err = fmt.Errorf("result %+v, want the completion text", res.Content)
			}
		}
		longDone <- err
	}()

	// 2. Meanwhile, on the same session: resources, and a subscription whose updates the
	// server sends on the GET SSE stream (notifications unrelated to any request).
	resources, err := session.ListResources(ctx, nil)
	if err != nil || len(resources.Resources) == 0 {
		t.Fatalf("ListResources = %v, %v; want resources", resources, err)
	}
	uri := resources.Resources[0].URI
	read, err := session.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil || len(read.Contents) == 0 {
		t.Fatalf("ReadResource(%s) = %v, %v", uri, read, err)
	}
	if err := session.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatalf("Subscribe(%s) = %v", uri, err)
	}
	toggle := func() {
		if _, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "toggle-subscriber-updates"}); err != nil {
			t.Fatalf("toggle-subscriber-updates = %v", err)
		}
	}
	toggle()
	select {
	case got := <-updated:
		if got != uri {
			t.Errorf("notifications/resources/updated for %q, want %q", got, uri)
		}
	case <-time.After(12 * time.Second):
		t.Errorf("no notifications/resources/updated for %s arrived on the GET stream within 12 s", uri)
	}
	toggle() // stop the updates

	if err := <-longDone; err != nil {
		t.Fatalf("trigger-long-running-operation through nginx and mcpguard: %v", err)
	}
	// The SDK runs notification handlers concurrently with the response: the last
	// progress, sent just before the result, may be handled just after it.
	var gotProgress []float64
	var first time.Time
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		gotProgress, first = append([]float64(nil), progress...), firstProgress
		mu.Unlock()
		if len(gotProgress) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(gotProgress) != 3 {
		t.Errorf("progress notifications %v, want 3", gotProgress)
	} else if longEnd.Sub(first) < 3*time.Second {
		t.Errorf("the first progress notification arrived %v before the result, want about 4 s: the SSE stream was buffered", longEnd.Sub(first))
	}
	if err := session.Close(); err != nil {
		t.Errorf("session Close = %v", err)
	}
	checkMCPExchanges(t, rec.exchanges(), session.ID())
}

// checkMCPExchanges checks what went through nginx to the MCP endpoint: every request
// carried the token, every one after the initialize response (the first to carry a
// session id) the session id, a GET opened the SSE
// stream, and a DELETE ended the session.
func checkMCPExchanges(t *testing.T, log []mcpExchange, sessionID string) {
	t.Helper()
	var gets, deletes int
	initialized := false
	for i, x := range log {
		if x.bearer == "" && x.status != http.StatusUnauthorized {
			t.Errorf("request %d (%s /mcp) reached the MCP server without the token", i, x.method)
		}
		if x.status == http.StatusUnauthorized {
			continue // the first try, before the SDK fetched a token
		}
		if x.gotSession != "" && x.gotSession != sessionID {
			t.Errorf("response %d: Mcp-Session-Id %q, want %q", i, x.gotSession, sessionID)
		}
		if x.sentSession == "" && initialized {
			t.Errorf("request %d (%s /mcp) after the initialize carried no Mcp-Session-Id", i, x.method)
		}
		initialized = initialized || x.gotSession != ""
		switch x.method {
		case http.MethodGet:
			gets++
			if x.status != http.StatusOK || !strings.HasPrefix(x.contentType, "text/event-stream") {
				t.Errorf("GET /mcp = %d %q, want 200 text/event-stream", x.status, x.contentType)
			}
		case http.MethodDelete:
			deletes++
			if x.status/100 != 2 {
				t.Errorf("DELETE /mcp = %d, want 2xx", x.status)
			}
		}
	}
	if gets == 0 || deletes != 1 {
		t.Errorf("%d GET and %d DELETE requests to /mcp, want at least one GET SSE stream and one DELETE", gets, deletes)
	}
}
