package auth

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var (
	hashA = HashKey("mcpg_key-a-0123456789")
	hashB = HashKey("mcpg_key-b-0123456789")
)

const goodKeysFile = `
keys:
  - name: ci-deploy
    sha256: "` + "HASH_A" + `"
    email: ci@Example.com
    groups: [deployers, ops]
    scopes: ["mcp:read", "mcp:write"]
    expires: 2027-01-01T00:00:00Z
  - name: reader
    sha256: HASH_B
`

// keysFile replaces HASH_A and HASH_B in s with the test digests.
func keysFile(s string) string {
	return strings.NewReplacer("HASH_A", hashA, "HASH_B", hashB).Replace(s)
}

var parseKeysFileTests = []struct {
	name    string
	data    string
	wantErr string // substring the error names ("" = success)
}{
	{"good file", keysFile(goodKeysFile), ""},
	{"quoted expiry with offset", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  expires: \"2027-01-01T02:00:00+02:00\"\n"), ""},
	{"flow style", keysFile(`{"keys": [{"name": "a", "sha256": "HASH_A"}]}`), ""},
	{"upper-case digest", "keys:\n- name: a\n  sha256: " + strings.ToUpper(hashA) + "\n", ""},
	{"unknown top-level field", keysFile("keys:\n- name: a\n  sha256: HASH_A\nusers: []\n"), `unknown field "users"`},
	{"unknown entry field", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  role: admin\n"), `keys[0]: unknown field "role"`},
	{"field name in another case", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  Name: b\n"), `keys[0]: unknown field "Name"`},
	{"duplicated field", keysFile("keys:\n- name: a\n  name: b\n  sha256: HASH_A\n"), `already set`},
	{"duplicate name", keysFile("keys:\n- name: a\n  sha256: HASH_A\n- name: a\n  sha256: HASH_B\n"), `keys[1]: name "a" already used by keys[0]`},
	{"duplicate hash", keysFile("keys:\n- name: a\n  sha256: HASH_A\n- name: b\n  sha256: HASH_A\n"), `keys[1] ("b"): sha256`},
	{"duplicate hash in another case", "keys:\n- name: a\n  sha256: " + hashA + "\n- name: b\n  sha256: " + strings.ToUpper(hashA) + "\n", `keys[1] ("b"): sha256`},
	{"hash too short", "keys:\n- name: a\n  sha256: " + hashA[:63] + "\n", `keys[0] ("a"): sha256`},
	{"hash too long", "keys:\n- name: a\n  sha256: " + hashA + "0\n", `keys[0] ("a"): sha256`},
	{"hash not hex", "keys:\n- name: a\n  sha256: " + "g" + hashA[1:] + "\n", `keys[0] ("a"): sha256`},
	{"key pasted as hash", "keys:\n- name: a\n  sha256: mcpg_key-a-0123456789\n", `keys[0] ("a"): sha256`},
	{"hash is a number", "keys:\n- name: a\n  sha256: 1234\n", `keys[0]: sha256: must be a string`},
	{"missing name", keysFile("keys:\n- sha256: HASH_A\n"), `keys[0]: name: required`},
	{"null name", keysFile("keys:\n- name: null\n  sha256: HASH_A\n"), `keys[0]: name: required`},
	{"name with comma", keysFile("keys:\n- name: \"a,b\"\n  sha256: HASH_A\n"), `keys[0]: name`},
	{"name with newline", keysFile("keys:\n- name: \"a\\nb\"\n  sha256: HASH_A\n"), `keys[0]: name`},
	{"name not a string", keysFile("keys:\n- name: [a]\n  sha256: HASH_A\n"), `keys[0]: name: must be a string`},
	{"missing hash", "keys:\n- name: a\n", `keys[0] ("a"): sha256`},
	{"bad expiry format", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  expires: 2027-01-01\n"), `keys[0]: expires: "2027-01-01"`},
	{"expiry without zone", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  expires: \"2027-01-01T00:00:00\"\n"), `keys[0]: expires`},
	{"bad email", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  email: a@b@c\n"), `keys[0] ("a"): email`},
	{"group with comma", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  groups: [\"a,b\"]\n"), `keys[0] ("a"): groups[0]`},
	{"empty group", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  groups: [\"\"]\n"), `groups[0]`},
	{"groups not a list", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  groups: ops\n"), `keys[0]: groups: must be a list of strings`},
	{"scope with space", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  scopes: [\"mcp read\"]\n"), `keys[0] ("a"): scopes[0]`},
	{"scope with quote", keysFile("keys:\n- name: a\n  sha256: HASH_A\n  scopes: ['mcp\"read']\n"), `scopes[0]`},
	{"empty list", "keys: []\n", "no entries"},
	{"null list", "keys:\n", "no entries"},
	{"empty file", "", "no entries"},
	{"keys not a list", "keys: 3\n", "keys: must be a list"},
	{"entry not a mapping", "keys:\n- just-a-string\n", "keys[0]: must be a mapping"},
	{"null entry", "keys:\n- null\n", "keys[0]: must be a mapping"},
	{"not YAML", "keys: [{{{\n", "not a YAML mapping"},
	{"scalar document", "hello", "not a YAML mapping"},
	{"alias bomb", "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" +
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n", "keys file"},
	{"binary junk", "\x00\xff\xfe junk", "not a YAML mapping"},
}

func TestParseKeysFile(t *testing.T) {
	for _, tt := range parseKeysFileTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeysFile([]byte(tt.data))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseKeysFile(%q) error = %v, want nil", tt.data, err)
				}
				if len(got) == 0 {
					t.Fatalf("ParseKeysFile(%q) = no entries", tt.data)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseKeysFile(%q) = %v, %v; want an error naming %q", tt.data, got, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "mcpg_key-a") || strings.Contains(err.Error(), hashA[:60]) {
				t.Errorf("ParseKeysFile(%q) error %q echoes a key or digest", tt.data, err)
			}
		})
	}
}

func TestParseKeysFileEntries(t *testing.T) {
	got, err := ParseKeysFile([]byte(keysFile(goodKeysFile)))
	if err != nil {
		t.Fatalf("ParseKeysFile(good file) error = %v", err)
	}
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []KeyEntry{
		{Name: "ci-deploy", SHA256: hashA, Email: "ci@Example.com", Groups: []string{"deployers", "ops"},
			Scopes: []string{"mcp:read", "mcp:write"}, Expires: &expires},
		{Name: "reader", SHA256: hashB},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseKeysFile(good file) = %+v, want %+v", got, want)
	}
}

func TestParseKeysFileSize(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		// 1 MiB of printable junk: a valid YAML scalar, not a mapping.
		{"1 MiB of junk", strings.Repeat("junk ", 1<<20/5)},
		{"1 MiB of nested lists", strings.Repeat("[", 1<<20)},
		{"1 MiB of entries", "keys:\n" + strings.Repeat("- name: a\n  sha256: "+hashA+"\n", (1<<20-7)/85)},
		{"over 1 MiB", "keys: []\n" + strings.Repeat("#", 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) < 1<<20-100 {
				t.Fatalf("test input is %d bytes, want about 1 MiB", len(tt.data))
			}
			got, err := ParseKeysFile([]byte(tt.data))
			if err == nil {
				t.Errorf("ParseKeysFile(%d bytes) = %d entries, want an error", len(tt.data), len(got))
			}
		})
	}
}

func FuzzParseKeysFile(f *testing.F) {
	for _, tt := range parseKeysFileTests {
		f.Add([]byte(tt.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseKeysFile(data)
		if err != nil {
			if entries != nil {
				t.Errorf("ParseKeysFile(%q) = %v with error %v, want nil", data, entries, err)
			}
			return
		}
		if len(entries) == 0 {
			t.Fatalf("ParseKeysFile(%q) = no entries and no error", data)
		}
		if err := validateEntries(entries); err != nil {
			t.Fatalf("ParseKeysFile(%q) entries fail validation: %v", data, err)
		}
		if _, err := NewAPIKeys(APIKeysConfig{Keys: entries}); err != nil {
			t.Fatalf("NewAPIKeys(ParseKeysFile(%q)) error = %v", data, err)
		}
		// What ParseKeysFile accepts survives a round trip through YAML.
		out, err := yaml.Marshal(map[string][]KeyEntry{"keys": entries})
		if err != nil {
			t.Fatalf("yaml.Marshal(entries) error = %v", err)
		}
		again, err := ParseKeysFile(out)
		if err != nil {
			t.Fatalf("ParseKeysFile(%q) (round trip of %q) error = %v", out, data, err)
		}
		if !sameEntries(entries, again) {
			t.Errorf("ParseKeysFile round trip = %+v, want %+v", again, entries)
		}
	})
}

// sameEntries compares entries, treating nil and empty lists alike and times by instant.
func sameEntries(a, b []KeyEntry) bool {
	return slices.EqualFunc(a, b, func(x, y KeyEntry) bool {
		return x.Name == y.Name && x.SHA256 == y.SHA256 && x.Email == y.Email &&
			slices.Equal(x.Groups, y.Groups) && slices.Equal(x.Scopes, y.Scopes) &&
			(x.Expires == nil) == (y.Expires == nil) && (x.Expires == nil || x.Expires.Equal(*y.Expires))
	})
}
