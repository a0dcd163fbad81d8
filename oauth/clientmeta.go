package oauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcpguard/mcpguard/store"
)

// metadataError is rejected client metadata: an RFC 7591 §3.2.2 error code
// (codeInvalidRedirectURI or codeInvalidClientMetadata) and a description that is safe
// to show the client.
type metadataError struct {
	code, description string
}

func (e *metadataError) Error() string { return "oauth: " + e.code + ": " + e.description }

func invalidMetadata(format string, args ...any) error {
	return &metadataError{code: codeInvalidClientMetadata, description: fmt.Sprintf(format, args...)}
}

// parseMetadataObject decodes a JSON object into its members, keyed exactly (unlike
// encoding/json's case-insensitive struct matching, "REDIRECT_URIS" is not
// "redirect_uris"). Of duplicate members the last wins.
func parseMetadataObject(body []byte) (map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, invalidMetadata("the body is not a JSON object")
	}
	return fields, nil
}

// metadataField decodes member name of fields into dst; absent and null leave dst alone.
func metadataField(fields map[string]json.RawMessage, name string, dst any) error {
	raw, ok := fields[name]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return invalidMetadata("%s has the wrong JSON type", name)
	}
	return nil
}

// clientFromMetadata validates RFC 7591 §2 client metadata and returns the client it
// describes, without ID or secret. Unknown members are ignored (RFC 7591 §2). kind is
// kindDCR or kindCIMD; a metadata document may only describe a public client. A
// requested scope that scopes does not allow is dropped, not refused, because clients
// send their own defaults ("claudeai", "openid").
func clientFromMetadata(fields map[string]json.RawMessage, kind string, scopes scopeSet) (store.Client, error) {
	var (
		redirects, grants, responses []string
		method, appType, name, scope string
		clientURI, logoURI           string
	)
	for _, f := range []struct {
		member string
		dst    any
	}{
		{"redirect_uris", &redirects}, {"grant_types", &grants}, {"response_types", &responses},
		{"token_endpoint_auth_method", &method}, {"application_type", &appType}, {"client_name", &name},
		{"scope", &scope}, {"client_uri", &clientURI}, {"logo_uri", &logoURI},
	} {
		if err := metadataField(fields, f.member, f.dst); err != nil {
			return store.Client{}, err
		}
	}

	if len(redirects) == 0 {
		return store.Client{}, &metadataError{codeInvalidRedirectURI, "redirect_uris is required"}
	}
	if len(redirects) > maxRedirectURIs {
		return store.Client{}, &metadataError{codeInvalidRedirectURI, fmt.Sprintf("at most %d redirect_uris are allowed", maxRedirectURIs)}
	}
	switch appType {
	case "", appTypeWeb, appTypeNative:
	default:
		return store.Client{}, invalidMetadata("application_type must be %q or %q", appTypeWeb, appTypeNative)
	}
	var uris []string
	native := true
	for i, u := range redirects {
		if err := validateRedirectURI(u, appType); err != nil {
			return store.Client{}, &metadataError{codeInvalidRedirectURI, fmt.Sprintf("redirect_uris[%d]: %s", i, strings.TrimPrefix(err.Error(), "oauth: "))}
		}
		native = native && isNativeRedirect(u)
		if !slices.Contains(uris, u) {
			uris = append(uris, u)
		}
	}
	if appType == "" {
		// OIDC Registration §2 defaults to web; a client whose every callback only a
		// native app can receive is a native app.
		appType = appTypeWeb
		if native {
			appType = appTypeNative
		}
	}

	if len(grants) == 0 {
		grants = []string{grantAuthorizationCode} // RFC 7591 §2 default
	}
	var grantTypes []string
	for _, g := range grants {
		if g != grantAuthorizationCode && g != grantRefreshToken {
			return store.Client{}, invalidMetadata("grant_types may hold only authorization_code and refresh_token")
		}
		if !slices.Contains(grantTypes, g) {
			grantTypes = append(grantTypes, g)
		}
	}
	if !slices.Contains(grantTypes, grantAuthorizationCode) {
		return store.Client{}, invalidMetadata("grant_types must include authorization_code")
	}
	for _, r := range responses {
		if r != "code" {
			return store.Client{}, invalidMetadata("response_types may hold only code")
		}
	}

	switch method {
	case "":
		method = authMethodNone
	case authMethodNone:
	case authMethodSecretBasic, authMethodSecretPost:
		if kind == kindCIMD {
			return store.Client{}, invalidMetadata("a client ID metadata document may only describe a public client (token_endpoint_auth_method none)")
		}
	default:
		return store.Client{}, invalidMetadata("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
	}

	if err := validClientName(name); err != nil {
		return store.Client{}, err
	}

	return store.Client{
		Name:                    name,
		RedirectURIs:            uris,
		GrantTypes:              grantTypes,
		ResponseTypes:           []string{"code"},
		ApplicationType:         appType,
		TokenEndpointAuthMethod: method,
		Scope:                   scopes.filter(scope),
		ClientURI:               httpsURLOrEmpty(clientURI),
		LogoURI:                 httpsURLOrEmpty(logoURI),
		Kind:                    kind,
	}, nil
}

// validClientName accepts up to 200 characters of printable text: consent pages show the
// name, so control and format characters (bidi overrides, zero-width) are refused.
func validClientName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxClientNameLen {
		return invalidMetadata("client_name must be valid UTF-8 of at most %d characters", maxClientNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return invalidMetadata("client_name must not contain control or formatting characters")
		}
	}
	return nil
}

// httpsURLOrEmpty returns raw when it is an https URL fit to link from a consent page,
// and "" otherwise: an unusable client_uri or logo_uri is dropped, not refused.
func httpsURLOrEmpty(raw string) string {
	if raw == "" || len(raw) > maxRedirectURILen || strings.ContainsAny(raw, "#\\") {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] >= 0x7f {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" || checkURIHost(u.Host) != nil {
		return ""
	}
	return raw
}
