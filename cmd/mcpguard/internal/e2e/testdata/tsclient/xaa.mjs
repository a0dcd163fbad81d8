// The MCP TypeScript SDK's CrossAppAccessProvider (Enterprise-Managed Authorization,
// SEP-990) connecting to an MCP server guarded by mcpguard and listing its tools, as the
// TSSDK end-to-end test runs it. The application holds a person's ID token from the
// enterprise IdP; the provider exchanges it at the IdP (RFC 8693 token exchange) for an
// ID-JAG addressed to mcpguard, then presents the ID-JAG at mcpguard's /token
// (grant_type urn:ietf:params:oauth:grant-type:jwt-bearer) with its own client secret.
//
//   MCP_URL=https://mcp.example.com/mcp ISSUER=https://auth.example.com \
//   CLIENT_ID=agent CLIENT_SECRET=... \
//   IDP_URL=https://acme.okta.com IDP_CLIENT_ID=agent-at-idp IDP_CLIENT_SECRET=... \
//   ID_TOKEN=eyJ... node xaa.mjs
//
// EDGE=127.0.0.1:PORT sends every https request for the two example.com hosts to the
// proxy in the test (edge.mjs). It prints one JSON line: {"provider": ..., "tools": [names]}.
import { Client, CrossAppAccessProvider, StreamableHTTPClientTransport, discoverAndRequestJwtAuthGrant } from '@modelcontextprotocol/client';
import { edgeFetch } from './edge.mjs';

const env = process.env;

const authProvider = new CrossAppAccessProvider({
    assertion: async ctx => {
        const { jwtAuthGrant } = await discoverAndRequestJwtAuthGrant({
            idpUrl: env.IDP_URL,
            audience: ctx.authorizationServerUrl,
            resource: ctx.resourceUrl,
            idToken: env.ID_TOKEN,
            clientId: env.IDP_CLIENT_ID,
            clientSecret: env.IDP_CLIENT_SECRET,
            scope: ctx.scope,
            fetchFn: ctx.fetchFn
        });
        return jwtAuthGrant;
    },
    clientId: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    expectedIssuer: env.ISSUER,
    fetchFn: edgeFetch
});

const transport = new StreamableHTTPClientTransport(new URL(env.MCP_URL), { authProvider, fetch: edgeFetch });
const client = new Client({ name: 'mcpguard-e2e-xaa', version: '1.0.0' });
await client.connect(transport);
const { tools } = await client.listTools();
console.log(JSON.stringify({ provider: authProvider.constructor.name, tools: tools.map(t => t.name) }));
await client.close();
