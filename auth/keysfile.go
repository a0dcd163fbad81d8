package auth

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

const (
	// maxKeysFileLen bounds a keys file before it is parsed (about 6,000 entries).
	maxKeysFileLen = 1 << 20
	// maxNameLen bounds an entry's name, email, group and scope strings.
	maxNameLen = 256
)

// KeyEntry is one API key of the keys file: the SHA-256 of the key and the identity it
// authenticates as. The key itself is never stored.
type KeyEntry struct {
	// Name is the identity (Subject and ClientID): required, unique, printable ASCII
	// without commas, at most 256 bytes.
	Name string `json:"name"`
	// SHA256 is the lower- or upper-case hex SHA-256 of the key (HashKey): 64 hex
	// characters, unique.
	SHA256 string `json:"sha256"`
	// Email is optional; it is treated as verified (the operator asserts it).
	Email string `json:"email,omitempty"`
	// Groups the identity belongs to; no commas (X-Forwarded-Groups is comma-joined).
	Groups []string `json:"groups,omitempty"`
	// Scopes granted to the key; none means no scopes (AllScopes stays false).
	Scopes []string `json:"scopes,omitempty"`
	// Expires is when the key stops working (RFC 3339); nil: never. A presented key past
	// its expiry is an invalid credential.
	Expires *time.Time `json:"expires,omitempty"`
}

// ParseKeysFile parses a keys file (API_KEYS_FILE): a YAML document with one field,
// keys, a non-empty list of entries.
//
//	keys:
//	  - name: ci-deploy
//	    sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//	    email: ci@example.com
//	    groups: [deployers]
//	    scopes: [mcp:read, mcp:write]
//	    expires: 2027-01-01T00:00:00Z
//
// Parsing is strict: unknown or duplicated fields (field names are case-sensitive), a
// value of the wrong type, and files over 1 MiB are errors. Every entry is validated as
// NewAPIKeys does; errors name the entry index and field, and never echo a sha256 value
// (an operator may have pasted the key itself there).
func ParseKeysFile(data []byte) ([]KeyEntry, error) {
	if len(data) > maxKeysFileLen {
		return nil, fmt.Errorf("auth: keys file: larger than %d bytes", maxKeysFileLen)
	}
	var doc map[string]json.RawMessage
	if err := yaml.UnmarshalStrict(data, &doc); err != nil {
		return nil, fmt.Errorf("auth: keys file: not a YAML mapping: %w", err)
	}
	for f := range doc {
		if f != "keys" {
			return nil, fmt.Errorf("auth: keys file: unknown field %q", f)
		}
	}
	var list []json.RawMessage
	if raw, ok := doc["keys"]; ok && json.Unmarshal(raw, &list) != nil {
		return nil, errors.New("auth: keys file: keys: must be a list")
	}
	if len(list) == 0 {
		return nil, errors.New("auth: keys file: keys: no entries")
	}
	entries := make([]KeyEntry, len(list))
	for i, raw := range list {
		if err := decodeEntry(raw, &entries[i]); err != nil {
			return nil, fmt.Errorf("auth: keys file: keys[%d]: %w", i, err)
		}
	}
	if err := validateEntries(entries); err != nil {
		return nil, err
	}
	return entries, nil
}

// decodeEntry decodes one entry, rejecting unknown fields. encoding/json matches field
// names case-insensitively, so the fields are picked out by exact name first.
func decodeEntry(raw json.RawMessage, e *KeyEntry) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return errors.New("must be a mapping")
	}
	var expires string
	for name, v := range fields {
		var dst any
		switch name {
		case "name":
			dst = &e.Name
		case "sha256":
			dst = &e.SHA256
		case "email":
			dst = &e.Email
		case "groups":
			dst = &e.Groups
		case "scopes":
			dst = &e.Scopes
		case "expires":
			dst = &expires
		default:
			return fmt.Errorf("unknown field %q", name)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			if _, list := dst.(*[]string); list {
				return fmt.Errorf("%s: must be a list of strings", name)
			}
			return fmt.Errorf("%s: must be a string", name)
		}
	}
	if _, ok := fields["expires"]; ok {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			return fmt.Errorf("expires: %q is not an RFC 3339 time such as 2027-01-01T00:00:00Z", expires)
		}
		e.Expires = &t
	}
	return nil
}

// validateEntries checks every entry and the uniqueness of names and digests.
func validateEntries(entries []KeyEntry) error {
	names := make(map[string]int, len(entries))
	digests := make(map[string]int, len(entries))
	for i, e := range entries {
		if err := validateEntry(e); err != nil {
			if e.Name == "" || !validName(e.Name) {
				return fmt.Errorf("auth: keys[%d]: %w", i, err)
			}
			return fmt.Errorf("auth: keys[%d] (%q): %w", i, e.Name, err)
		}
		if j, dup := names[e.Name]; dup {
			return fmt.Errorf("auth: keys[%d]: name %q already used by keys[%d]", i, e.Name, j)
		}
		names[e.Name] = i
		d := strings.ToLower(e.SHA256)
		if j, dup := digests[d]; dup {
			return fmt.Errorf("auth: keys[%d] (%q): sha256: same digest as keys[%d]", i, e.Name, j)
		}
		digests[d] = i
	}
	return nil
}

// validateEntry checks one entry's fields.
func validateEntry(e KeyEntry) error {
	switch {
	case e.Name == "":
		return errors.New("name: required")
	case !validName(e.Name):
		return fmt.Errorf("name: must be 1-%d printable ASCII characters without commas or surrounding spaces", maxNameLen)
	case len(e.SHA256) != 2*32 || !isHex(e.SHA256):
		// The value is not echoed: it may be the key itself, pasted in the wrong place.
		return errors.New("sha256: must be 64 hexadecimal characters (the output of mcpguard hash-key)")
	case e.Email != "" && (len(e.Email) > maxNameLen || !isEmail(e.Email)):
		return fmt.Errorf("email: %q is not an email address", e.Email)
	}
	for j, g := range e.Groups {
		if g == "" || len(g) > maxNameLen || !utf8.ValidString(g) || strings.ContainsFunc(g, isControlOrComma) {
			return fmt.Errorf("groups[%d]: %q must be 1-%d characters without commas or control characters", j, g, maxNameLen)
		}
	}
	for j, s := range e.Scopes {
		if !isScopeToken(s) {
			return fmt.Errorf("scopes[%d]: %q is not a scope token (RFC 6749 §3.3)", j, s)
		}
	}
	return nil
}

// validName reports whether s is an acceptable entry name: it becomes a response header
// value (X-Forwarded-User) and a log field, so printable ASCII only, no commas, no
// leading or trailing space.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

// isHex reports whether s consists of hexadecimal digits only.
func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// isScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ), bounded in length.
func isScopeToken(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
