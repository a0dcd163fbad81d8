package doctor

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKey writes key as a PKCS #8 PEM file and returns its path.
func writeKey(t *testing.T, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClientCredentialsCheck: the client-credentials check passes with the right
// secret or key, and fails with a fix naming what to change otherwise.
func TestClientCredentialsCheck(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, otherFile := writeKey(t, key), writeKey(t, other)
	tests := []struct {
		name    string
		args    []string
		breakIt func(f *fakeDeployment)
		ok      bool
		want    string // a word of the detail and fix
	}{
		{name: "secret", args: []string{"--client-id", "ci", "--client-secret", "s3cret"}, ok: true, want: "client_secret_basic"},
		{name: "private key", args: []string{"--client-id", "ci", "--private-key", keyFile, "--key-id", "k1"}, ok: true, want: "private_key_jwt"},
		{name: "wrong secret", args: []string{"--client-id", "ci", "--client-secret", "nope"}, want: "--client-secret"},
		{name: "wrong key", args: []string{"--client-id", "ci", "--private-key", otherFile, "--key-id", "k1"}, want: "jwks"},
		{name: "resource refuses the token", args: []string{"--client-id", "ci", "--client-secret", "s3cret"}, breakIt: func(f *fakeDeployment) { f.refuseToken = true }, want: "credentials"},
		{name: "wrong resource", args: []string{"--client-id", "ci", "--client-secret", "s3cret"}, breakIt: func(f *fakeDeployment) { f.prmResource = f.url + "/other" }, want: "resources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startFakeDeployment(t)
			f.machineID, f.machineSecret, f.machineKey = "ci", "s3cret", &key.PublicKey
			if tt.breakIt != nil {
				tt.breakIt(f)
			}
			out, _ := runTest(t, append([]string{"--json", "--no-register"}, append(tt.args, f.mcpURL)...)...)
			got := resultOf(t, out, checkClientCredentials)
			if got.OK != tt.ok || !strings.Contains(got.Detail+" "+got.Fix, tt.want) {
				t.Errorf("%s = %+v, want ok %v and %q", checkClientCredentials, got, tt.ok, tt.want)
			}
		})
	}
	if out, _ := runTest(t, "--json", "--no-register", startFakeDeployment(t).mcpURL); strings.Contains(out, checkClientCredentials) {
		t.Errorf("doctor without --client-id runs %s:\n%s", checkClientCredentials, out)
	}
}

// TestMachineFlags: the machine flags go together.
func TestMachineFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--client-secret", "s"},
		{"--client-id", "ci"},
		{"--client-id", "ci", "--client-secret", "s", "--private-key", "k.pem"},
		{"--client-id", "ci", "--client-secret", "s", "--key-id", "k1"},
		{"--client-id", "ci", "--private-key", filepath.Join(t.TempDir(), "missing.pem")},
	} {
		if _, err := runTest(t, append(args, "https://mcp.example.com/mcp")...); err == nil {
			t.Errorf("doctor %q = nil, want an error", args)
		}
	}
}
