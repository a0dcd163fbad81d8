package e2e

// The repository files around deploy/: every one referenced from a README, the Dockerfiles.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDeployFilesReferenced checks that every file under deploy/ is referenced from
// README.md or deploy/README.md: by its path, or by its folder and its name.
func TestDeployFilesReferenced(t *testing.T) {
	root := repoRoot(t)
	var text strings.Builder
	for _, f := range []string{"README.md", filepath.Join("deploy", "README.md")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	docs := text.String()
	deploy := filepath.Join(root, "deploy")
	err := filepath.WalkDir(deploy, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == filepath.Join(deploy, "README.md") {
			return err
		}
		rel, _ := filepath.Rel(deploy, p)
		rel = filepath.ToSlash(rel)
		dir := filepath.ToSlash(filepath.Dir(rel))
		byPath := strings.Contains(docs, rel)
		byDir := strings.Contains(docs, "deploy/"+dir) && strings.Contains(docs, d.Name())
		if !byPath && !byDir {
			t.Errorf("deploy/%s is referenced from neither README.md nor deploy/README.md", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeployDockerfiles checks the repository's Dockerfile for what the deployment relies
// on (multi-stage, the Makefile's build, distroless, non-root, port 11000, a HEALTHCHECK
// that runs mcpguard healthcheck) and the example MCP server's Dockerfile.
func TestDeployDockerfiles(t *testing.T) {
	root := repoRoot(t)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	main := read("Dockerfile")
	for _, want := range []string{
		`(?m)^FROM \S+ AS build$`,
		`(?m)^RUN make build `,
		`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^USER nonroot`,
		`(?m)^EXPOSE 11000$`,
		`(?m)^HEALTHCHECK .*\n?.*CMD \["/usr/local/bin/mcpguard", "healthcheck"\]`,
	} {
		if !regexp.MustCompile(want).MatchString(main) {
			t.Errorf("Dockerfile does not match %s", want)
		}
	}
	example := read(filepath.Join("examples", "mcp-server", "Dockerfile"))
	for _, want := range []string{
		`(?m)^FROM \S+ AS build$`,
		`(?m)CGO_ENABLED=0 go build .* \./examples/mcp-server$`,
		`(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^USER nonroot`,
		`(?m)^CMD \["-listen", "0\.0\.0\.0:8080"\]$`,
	} {
		if !regexp.MustCompile(want).MatchString(example) {
			t.Errorf("examples/mcp-server/Dockerfile does not match %s", want)
		}
	}
}

// TestDeployREADME checks that deploy/README.md names every file of deploy/ and every
// environment placeholder of the Caddyfile.
func TestDeployREADME(t *testing.T) {
	readme := readDeployFile(t, "README.md")
	root := filepath.Join(repoRoot(t), "deploy")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "README.md" {
			return err
		}
		if !strings.Contains(readme, d.Name()) {
			rel, _ := filepath.Rel(root, p)
			t.Errorf("deploy/README.md does not mention %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var directives []string // the Caddyfile without its comment lines
	for _, l := range strings.Split(readDeployFile(t, "caddy", "Caddyfile"), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			directives = append(directives, l)
		}
	}
	for _, m := range regexp.MustCompile(`\{\$([A-Z_]+)`).FindAllStringSubmatch(strings.Join(directives, "\n"), -1) {
		if !strings.Contains(readme, m[1]) {
			t.Errorf("deploy/README.md does not document the Caddyfile placeholder %s", m[1])
		}
	}
}
