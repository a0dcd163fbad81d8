package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/mcpguard/mcpguard/auth"
	"github.com/mcpguard/mcpguard/oauth"
	"github.com/mcpguard/mcpguard/policy"
	"sigs.k8s.io/yaml"
)

// maxPolicyFile bounds the policy file mcpguard will read.
const maxPolicyFile = 1 << 20

// policyFile is the YAML file named by POLICY_FILE. Unknown fields are errors, so a typo
// never silently weakens a rule.
type policyFile struct {
	Resources         []policy.ResourceConfig `json:"resources"`
	ScopeImplications map[string][]string     `json:"scope_implications,omitempty"`
	// Issuers are the external JWT issuers (the full form of JWT_ISSUERS).
	Issuers []auth.IssuerConfig `json:"issuers,omitempty"`
	// Clients are the authorization server's pre-registered clients.
	Clients []oauth.StaticClient `json:"clients,omitempty"`
	// EnterpriseIdPs are the enterprise IdPs whose ID-JAGs the jwt-bearer grant accepts.
	EnterpriseIdPs []oauth.EnterpriseIdP `json:"enterprise_idps,omitempty"`
	// WorkloadIssuers are the workload platforms whose tokens the jwt-bearer grant
	// accepts without client registration.
	WorkloadIssuers []workloadIssuerEntry `json:"workload_issuers,omitempty"`
}

// workloadIssuerEntry is a workload_issuers: entry: an oauth.WorkloadIssuer whose keys
// may also be a JWK Set file (jwks_file), read once at start.
type workloadIssuerEntry struct {
	oauth.WorkloadIssuer
	JWKSFile string `json:"jwks_file,omitempty"`
}

// workloadIssuers are the file's workload issuers with their jwks_file read.
func (f policyFile) workloadIssuers() ([]oauth.WorkloadIssuer, error) {
	var out []oauth.WorkloadIssuer
	for _, e := range f.WorkloadIssuers {
		w := e.WorkloadIssuer
		if e.JWKSFile != "" {
			if len(w.JWKS) > 0 || w.JWKSURI != "" {
				return nil, fmt.Errorf("config: POLICY_FILE: workload issuer %q: jwks_file, jwks and jwks_uri exclude each other", w.Issuer)
			}
			data, err := readBounded(e.JWKSFile, maxPolicyFile)
			if err != nil {
				return nil, fmt.Errorf("config: POLICY_FILE: workload issuer %q: jwks_file: %w", w.Issuer, err)
			}
			w.JWKS = data
		}
		out = append(out, w)
	}
	return out, nil
}

// parsePolicyFile parses a policy file's content.
func parsePolicyFile(data []byte) (policyFile, error) {
	if len(data) > maxPolicyFile {
		return policyFile{}, fmt.Errorf("policy file is larger than %d bytes", maxPolicyFile)
	}
	var f policyFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return policyFile{}, fmt.Errorf("policy file: %w", err)
	}
	if len(f.Resources) == 0 {
		return policyFile{}, fmt.Errorf("policy file: no resources")
	}
	return f, nil
}

// policyConfig is the policy part of the file.
func (f policyFile) policyConfig() policy.Config {
	return policy.Config{Resources: f.Resources, ScopeImplications: f.ScopeImplications}
}

// loadPolicy builds the policy, from POLICY_FILE or else the one resource the
// environment describes, and returns the rest of the file (issuers, clients) and the
// external JWT issuers of JWT_ISSUERS and the file together. Every resource that
// accepts external JWTs must be able to match an audience one of its issuers
// verifies: a token is never accepted by a resource it was not minted for.
func loadPolicy(c config) (*policy.Policy, policyFile, []auth.IssuerConfig, error) {
	var pc policy.Config
	var file policyFile
	if c.PolicyFile != "" {
		data, err := readBounded(c.PolicyFile, maxPolicyFile)
		if err != nil {
			return nil, file, nil, fmt.Errorf("config: POLICY_FILE: %w", err)
		}
		if file, err = parsePolicyFile(data); err != nil {
			return nil, file, nil, fmt.Errorf("config: POLICY_FILE %q: %w", c.PolicyFile, err)
		}
	}
	issuers, err := mergeIssuers(c.JWTIssuers, file.Issuers)
	if err != nil {
		return nil, file, nil, err
	}
	if c.PolicyFile != "" {
		pc = file.policyConfig()
	} else {
		pc = envPolicy(c, issuers)
	}
	if c.ClientAuthEnabled {
		pc.IssuerAudiences = auth.IssuerAudiences(issuers)
	}
	p, err := policy.New(pc)
	if err != nil {
		if c.PolicyFile != "" {
			return nil, file, nil, fmt.Errorf("config: POLICY_FILE %q: %w", c.PolicyFile, err)
		}
		var fe *policy.FieldError
		if errors.As(err, &fe) && envFields[fe.Field] != "" {
			return nil, file, nil, fmt.Errorf("config: %s: %w", envFields[fe.Field], err)
		}
		return nil, file, nil, fmt.Errorf("config: the default resource: %w", err)
	}
	return p, file, issuers, nil
}

// envFields maps the fields of the default resource to the variables that set them.
var envFields = map[string]string{
	"url": "RESOURCE_URL", "public_paths": "PUBLIC_PATHS", "required_scopes": "REQUIRED_SCOPES",
	"scopes_supported": "ALLOWED_SCOPES", "allowed_emails": "ALLOWED_EMAILS",
	"allowed_domains": "ALLOWED_DOMAINS", "allowed_groups": "ALLOWED_GROUPS",
	"audiences": "JWT_ISSUERS", "jwt_issuers": "JWT_ISSUERS",
}

// envPolicy is the default resource the environment describes. It protects every path
// of the hosts the proxy sends to /auth: RESOURCE_URL's host, or any host when
// RESOURCE_URL is unset. With MCP_PROXY_API_KEY, /status stays open as in mcp-proxy.
// The audiences of JWT_ISSUERS are the default resource's: issuer=audience names the
// audience its tokens carry for this one resource.
func envPolicy(c config, issuers []auth.IssuerConfig) policy.Config {
	r := policy.ResourceConfig{
		URL:              c.ResourceURL,
		Paths:            []string{"/"},
		PublicPaths:      splitList(c.PublicPaths),
		RequiredScopes:   splitList(c.RequiredScopes),
		ScopesSupported:  splitList(c.AllowedScopes),
		AllowedEmails:    splitList(c.AllowedEmails),
		AllowedDomains:   splitList(c.AllowedDomains),
		AllowedGroups:    splitList(c.AllowedGroups),
		StrictMCPHeaders: c.StrictMCPHeaders,
	}
	if r.URL == "" {
		r.URL = c.issuer + "/mcp"
		r.Hosts = []string{"*"}
	}
	if c.APIKey != "" {
		r.PublicPaths = append(r.PublicPaths, "/status")
	}
	for _, is := range issuers {
		for _, a := range is.Audiences {
			if !slices.Contains(r.Audiences, a) {
				r.Audiences = append(r.Audiences, a)
			}
		}
	}
	return policy.Config{Resources: []policy.ResourceConfig{r}}
}

// readBounded reads a whole file of at most limit bytes.
func readBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%q is larger than %d bytes", name, limit)
	}
	return data, nil
}
