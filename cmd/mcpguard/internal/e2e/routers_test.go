package e2e

// The upstream routers of the differential path test: three MCP servers that route the
// same paths differently, each answering with the name of the handler that served a
// request ("protected" for the MCP endpoint, "public" for /status, "none" otherwise) in
// X-Handler.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// router is a running upstream router.
type router struct {
	name string
	addr string
}

// routerAnswer writes the answer of the handler named name.
func routerAnswer(w http.ResponseWriter, r *http.Request, name string) {
	w.Header().Set("X-Handler", name)
	w.Header().Set("Content-Type", "text/plain")
	if name == "none" {
		w.WriteHeader(http.StatusNotFound)
	}
	fmt.Fprintf(w, "%s %s\n", name, r.RequestURI)
}

// startGoRouter serves the three handlers with Go's net/http.ServeMux, as a Go MCP
// server mounts its endpoint: /mcp and the /mcp/ subtree.
func startGoRouter(t *testing.T) router {
	t.Helper()
	mux := http.NewServeMux()
	protected := func(w http.ResponseWriter, r *http.Request) { routerAnswer(w, r, "protected") }
	mux.HandleFunc("/mcp", protected)
	mux.HandleFunc("/mcp/", protected)
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) { routerAnswer(w, r, "public") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { routerAnswer(w, r, "none") })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return router{name: "servemux", addr: ln.Addr().String()}
}

// routersDir is where the routers' sources live.
func routersDir(t *testing.T) string {
	return filepath.Join(repoRoot(t), "cmd", "mcpguard", "internal", "e2e", "testdata", "routers")
}

// expressModules is the node_modules directory scripts/install-routers.sh fills.
func expressModules(t *testing.T) string {
	t.Helper()
	return npmModules(t, "routers", "scripts/install-routers.sh installs it", "express")
}

// startExpressRouter runs testdata/routers/express.js: app.use('/mcp') mounts the MCP
// endpoint, as the TypeScript SDK's examples do.
func startExpressRouter(t *testing.T) router {
	t.Helper()
	node := findBinary(t, "node", "apt-get install -y nodejs npm, then scripts/install-routers.sh")
	modules := expressModules(t)
	port := freePort(t)
	cmd := exec.Command(node, filepath.Join(routersDir(t), "express.js"), strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	return startRouter(t, "express", cmd, port)
}

// startFlaskRouter runs testdata/routers/flask_app.py with Debian's python3-flask.
func startFlaskRouter(t *testing.T) router {
	t.Helper()
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import flask").CombinedOutput(); err != nil {
		t.Fatalf("Flask is not installed for %s (%v: %s); the differential test runs the real router (apt-get install -y python3-flask, or scripts/install-routers.sh)", py, err, out)
	}
	port := freePort(t)
	return startRouter(t, "flask", exec.Command(py, filepath.Join(routersDir(t), "flask_app.py"), strconv.Itoa(port)), port)
}

// startRouter starts a router process and waits until it serves /status.
func startRouter(t *testing.T, name string, cmd *exec.Cmd, port int) router {
	t.Helper()
	exited := startProcess(t, name, cmd, syscall.SIGTERM)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitHTTP(addr, mcpHost, "/status", exited); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return router{name: name, addr: addr}
}
