package auth

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	testSingleKey = "s3cret-single-key-0123456789"
	testCIKey     = "mcpg_ci-key-aaaaaaaaaaaaaaaaaaaaaaaa"
	testOldKey    = "mcpg_old-key-bbbbbbbbbbbbbbbbbbbbbbb"
	testPlainKey  = "mcpg_plain-key-ccccccccccccccccccccc"
	testJWT       = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// testKeyEntries returns the keys-file entries the API key tests use.
func testKeyEntries(tb testing.TB) []KeyEntry {
	tb.Helper()
	future, past := testNow.Add(time.Hour), testNow.Add(-time.Second)
	return []KeyEntry{
		{Name: "ci", SHA256: HashKey(testCIKey), Email: "ci@Example.com", Groups: []string{"deployers"},
			Scopes: []string{"mcp:read", "mcp:write"}, Expires: &future},
		{Name: "old", SHA256: HashKey(testOldKey), Expires: &past},
		{Name: "plain", SHA256: strings.ToUpper(HashKey(testPlainKey))},
	}
}

// newTestAPIKeys returns APIKeys with the single key and the test entries.
func newTestAPIKeys(tb testing.TB, header string) *APIKeys {
	tb.Helper()
	k, err := NewAPIKeys(APIKeysConfig{Header: header, Key: testSingleKey, Keys: testKeyEntries(tb),
		Now: func() time.Time { return testNow }})
	if err != nil {
		tb.Fatalf("NewAPIKeys: %v", err)
	}
	return k
}

// set returns a header built with http.Header.Set, which canonicalizes names as a
// server does for a header read off the wire.
func set(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

var (
	singlePrincipal = Principal{Subject: "api-key", ClientID: "api-key", AllScopes: true, Source: SourceAPIKey}
	ciPrincipal     = Principal{Subject: "ci", ClientID: "ci", Email: "ci@Example.com", EmailVerified: true,
		Groups: []string{"deployers"}, Scopes: []string{"mcp:read", "mcp:write"}, Source: SourceAPIKey}
	plainPrincipal = Principal{Subject: "plain", ClientID: "plain", Source: SourceAPIKey}
)

var apiKeysTests = []struct {
	name    string
	header  string // APIKeysConfig.Header
	req     http.Header
	want    Principal
	wantErr error
}{
	{name: "no credentials", req: http.Header{}, wantErr: ErrNoCredentials},
	{name: "nil header", req: nil, wantErr: ErrNoCredentials},
	{name: "canonical name", req: set("X-API-Key", testSingleKey), want: singlePrincipal},
	{name: "lower case name", req: set("x-api-key", testSingleKey), want: singlePrincipal},
	{name: "upper case name", req: set("X-API-KEY", testSingleKey), want: singlePrincipal},
	{name: "mixed case name", req: set("x-aPI-kEY", testSingleKey), want: singlePrincipal},
	// A map written by hand with a non-canonical key is not what net/http produces;
	// it is not read (the wire tests show real requests in any case are).
	{name: "non-canonical map key", req: http.Header{"x-api-key": {testSingleKey}}, wantErr: ErrNoCredentials},
	{name: "underscore variant", req: set("X_API_Key", testSingleKey), wantErr: ErrNoCredentials},
	{name: "dot variant", req: set("X.Api.Key", testSingleKey), wantErr: ErrNoCredentials},
	{name: "bearer", req: set("Authorization", "Bearer "+testSingleKey), want: singlePrincipal},
	{name: "bearer lower case", req: set("Authorization", "bearer "+testSingleKey), want: singlePrincipal},
	{name: "bearer file key", req: set("Authorization", "Bearer "+testCIKey), want: ciPrincipal},
	{name: "bearer JWT", req: set("Authorization", "Bearer "+testJWT), wantErr: ErrNoCredentials},
	{name: "basic", req: set("Authorization", "Basic "+testSingleKey), wantErr: ErrNoCredentials},
	{name: "bearer wrong key", req: set("Authorization", "Bearer wrong-key-0123456789abc"), wantErr: ErrInvalidCredential},
	{name: "bearer malformed", req: set("Authorization", "Bearer "+testSingleKey+" x"), wantErr: ErrInvalidCredential},
	{name: "bearer too long", req: set("Authorization", "Bearer "+strings.Repeat("k", 4097)), wantErr: ErrInvalidCredential},
	{name: "header wins over JWT bearer", req: set("X-Api-Key", testCIKey, "Authorization", "Bearer "+testJWT), want: ciPrincipal},
	{name: "header wins over bearer key", req: set("X-Api-Key", testCIKey, "Authorization", "Bearer "+testSingleKey), want: ciPrincipal},
	{name: "wrong key", req: set("X-Api-Key", "wrong-key-0123456789abc"), wantErr: ErrInvalidCredential},
	{name: "key prefix", req: set("X-Api-Key", testSingleKey[:20]), wantErr: ErrInvalidCredential},
	{name: "key with suffix", req: set("X-Api-Key", testSingleKey+"x"), wantErr: ErrInvalidCredential},
	{name: "empty value", req: set("X-Api-Key", ""), wantErr: ErrInvalidCredential},
	{name: "duplicated header", req: set("X-Api-Key", testSingleKey, "x-api-key", testSingleKey), wantErr: ErrInvalidCredential},
	{name: "4 KiB value", req: set("X-Api-Key", strings.Repeat("k", 4096)), wantErr: ErrInvalidCredential},
	{name: "4 KiB+1 value", req: set("X-Api-Key", strings.Repeat("k", 4097)), wantErr: ErrInvalidCredential},
	{name: "space in value", req: set("X-Api-Key", "s3cret-single key-0123456789"), wantErr: ErrInvalidCredential},
	{name: "control char", req: set("X-Api-Key", testSingleKey+"\x00"), wantErr: ErrInvalidCredential},
	{name: "non-ASCII", req: set("X-Api-Key", "s3cret-single-k\u00e9y-0123456789"), wantErr: ErrInvalidCredential},
	{name: "file key", req: set("X-Api-Key", testCIKey), want: ciPrincipal},
	{name: "file key upper-case digest", req: set("X-Api-Key", testPlainKey), want: plainPrincipal},
	{name: "expired key", req: set("X-Api-Key", testOldKey), wantErr: ErrInvalidCredential},
	{name: "digest instead of key", req: set("X-Api-Key", HashKey(testCIKey)), wantErr: ErrInvalidCredential},
	{name: "custom header", header: "X-Mcp-Token", req: set("x-mcp-token", testCIKey), want: ciPrincipal},
	{name: "custom header ignores default", header: "X-Mcp-Token", req: set("X-Api-Key", testCIKey), wantErr: ErrNoCredentials},
	{name: "custom header still reads bearer", header: "X-Mcp-Token", req: set("Authorization", "Bearer "+testCIKey), want: ciPrincipal},
}

func TestAPIKeysAuthenticate(t *testing.T) {
	for _, tt := range apiKeysTests {
		t.Run(tt.name, func(t *testing.T) {
			k := newTestAPIKeys(t, tt.header)
			got, err := k.Authenticate(&Request{Header: tt.req})
			if gotErr := errOutcome(t, err); gotErr != tt.wantErr || !reflect.DeepEqual(unprepared(got), tt.want) {
				t.Errorf("Authenticate(%.60q) = %+v, %v; want %+v, %v", tt.req, got, err, tt.want, tt.wantErr)
			}
			for _, vs := range tt.req {
				for _, v := range vs {
					checkNoLeak(t, err, strings.TrimPrefix(v, "Bearer "))
				}
			}
		})
	}
}

func TestAPIKeysExpiry(t *testing.T) {
	expires := testNow
	entries := []KeyEntry{{Name: "ci", SHA256: HashKey(testCIKey), Expires: &expires}}
	tests := []struct {
		name    string
		now     time.Time
		wantErr error
	}{
		{"before", testNow.Add(-time.Nanosecond), nil},
		{"at expiry", testNow, ErrInvalidCredential},
		{"after", testNow.Add(time.Hour), ErrInvalidCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewAPIKeys(APIKeysConfig{Keys: entries, Now: func() time.Time { return tt.now }})
			if err != nil {
				t.Fatalf("NewAPIKeys: %v", err)
			}
			_, err = k.Authenticate(&Request{Header: set("X-Api-Key", testCIKey)})
			if got := errOutcome(t, err); got != tt.wantErr {
				t.Errorf("Authenticate at %v = %v, want %v", tt.now, err, tt.wantErr)
			}
		})
	}
}

func TestAPIKeysNilRequest(t *testing.T) {
	_, err := newTestAPIKeys(t, "").Authenticate(nil)
	if got := errOutcome(t, err); got != ErrNoCredentials {
		t.Errorf("Authenticate(nil) = %v, want %v", err, ErrNoCredentials)
	}
}

// TestAPIKeysPrincipalIsPrepared checks that a key's principal comes with its header
// values rendered once, so a repeat key costs /auth no allocation.
func TestAPIKeysPrincipalIsPrepared(t *testing.T) {
	k := newTestAPIKeys(t, "")
	r := &Request{Header: set("X-Api-Key", testCIKey)}
	p1, _ := k.Authenticate(r)
	p2, _ := k.Authenticate(r)
	if p1.headers == nil || p1.HeaderValues() != p2.HeaderValues() {
		t.Fatal("two authentications of one key do not share prepared header values")
	}
	if got := testing.AllocsPerRun(100, func() {
		p, _ := k.Authenticate(r)
		p.HeaderValues()
	}); got != 0 {
		t.Errorf("Authenticate + HeaderValues of a file key = %v allocations, want 0", got)
	}
}

func TestNewAPIKeys(t *testing.T) {
	entries := testKeyEntries(t)
	tests := []struct {
		name    string
		config  APIKeysConfig
		wantErr bool
	}{
		{"single key", APIKeysConfig{Key: testSingleKey}, false},
		{"keys only", APIKeysConfig{Keys: entries}, false},
		{"neither", APIKeysConfig{}, true},
		{"short key", APIKeysConfig{Key: "short-key-15byte"[:15]}, true},
		{"16-byte key", APIKeysConfig{Key: "short-key-16byte"}, false},
		{"key with space", APIKeysConfig{Key: "s3cret single key 0123"}, true},
		{"key over 4 KiB", APIKeysConfig{Key: strings.Repeat("k", 4097)}, true},
		{"custom header", APIKeysConfig{Key: testSingleKey, Header: "x-mcp-token"}, false},
		{"underscore header", APIKeysConfig{Key: testSingleKey, Header: "X_API_Key"}, true},
		{"dot header", APIKeysConfig{Key: testSingleKey, Header: "X.Api.Key"}, true},
		{"space in header", APIKeysConfig{Key: testSingleKey, Header: "X Api Key"}, true},
		{"leading dash header", APIKeysConfig{Key: testSingleKey, Header: "-Key"}, true},
		{"authorization header", APIKeysConfig{Key: testSingleKey, Header: "authorization"}, true},
		{"invalid entry", APIKeysConfig{Keys: []KeyEntry{{Name: "x", SHA256: "abc"}}}, true},
		{"duplicate name", APIKeysConfig{Keys: []KeyEntry{entries[0], {Name: "ci", SHA256: HashKey("other")}}}, true},
		{"reserved name", APIKeysConfig{Key: testSingleKey, Keys: []KeyEntry{{Name: "api-key", SHA256: HashKey("other")}}}, true},
		{"reserved name without single key", APIKeysConfig{Keys: []KeyEntry{{Name: "api-key", SHA256: HashKey("other")}}}, false},
		{"entry is the single key", APIKeysConfig{Key: testSingleKey, Keys: []KeyEntry{{Name: "x", SHA256: HashKey(testSingleKey)}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAPIKeys(tt.config)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewAPIKeys(%s) error = %v, want error %v", tt.name, err, tt.wantErr)
			}
			if tt.config.Key != "" {
				checkNoLeak(t, err, tt.config.Key)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	tests := []struct{ name, key, want string }{
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HashKey(tt.key); got != tt.want {
				t.Errorf("HashKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		key, err := GenerateKey()
		if err != nil {
			t.Fatalf("GenerateKey() error = %v", err)
		}
		if len(key) != 51 || !strings.HasPrefix(key, "mcpg_ak_") || !isBase64URL(key[8:]) || LooksLikeJWT(key) {
			t.Fatalf("GenerateKey() = %q, want mcpg_ak_ and 43 base64url characters", key)
		}
		if seen[key] {
			t.Fatalf("GenerateKey() = %q twice", key)
		}
		seen[key] = true
		if _, err := NewAPIKeys(APIKeysConfig{Key: key}); err != nil {
			t.Fatalf("NewAPIKeys(GenerateKey()) error = %v", err)
		}
	}
}

func FuzzAPIKeyHeader(f *testing.F) {
	for _, tt := range apiKeysTests {
		for name, vs := range tt.req {
			for _, v := range vs {
				if name == "Authorization" {
					f.Add(v, true)
				} else {
					f.Add(v, false)
				}
			}
		}
	}
	k := newTestAPIKeys(f, "")
	valid := map[string]bool{testSingleKey: true, testCIKey: true, testPlainKey: true}
	f.Fuzz(func(t *testing.T, v string, authorization bool) {
		h := http.Header{"X-Api-Key": {v}}
		if authorization {
			h = http.Header{"Authorization": {v}}
		}
		p, err := k.Authenticate(&Request{Header: h})
		if errOutcome(t, err) != nil {
			return
		}
		key := v
		if authorization {
			key, _ = ParseBearer(h)
		}
		if !valid[key] || p.Source != SourceAPIKey || p.Subject == "" {
			t.Fatalf("Authenticate(%q, authorization=%v) = %+v, want an error", v, authorization, p)
		}
	})
}

func BenchmarkAPIKeysSingle(b *testing.B) {
	k, err := NewAPIKeys(APIKeysConfig{Key: testSingleKey})
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Header: set("X-Api-Key", testSingleKey)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAPIKeysFile(b *testing.B) {
	entries := make([]KeyEntry, 100)
	for i := range entries {
		entries[i] = KeyEntry{Name: fmt.Sprintf("key-%d", i), SHA256: HashKey(fmt.Sprintf("mcpg_bench-key-%04d-xxxxxxxx", i)),
			Groups: []string{"g"}, Scopes: []string{"mcp:read"}}
	}
	k, err := NewAPIKeys(APIKeysConfig{Keys: entries})
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Header: set("Authorization", "Bearer mcpg_bench-key-0057-xxxxxxxx")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
