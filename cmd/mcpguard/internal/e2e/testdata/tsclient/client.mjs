// The MCP TypeScript SDK's own machine-to-machine providers connecting to an MCP server
// guarded by mcpguard and listing its tools, as the TSSDK end-to-end test runs it.
//
//   MCP_URL=https://mcp.example.com/mcp ISSUER=https://auth.example.com \
//   CLIENT_ID=ci-bot CLIENT_SECRET=... node client.mjs basic
//   CLIENT_ID=deployer PRIVATE_KEY_FILE=key.pem ALG=ES256 node client.mjs jwt
//
// EDGE=127.0.0.1:PORT sends every https request for the two example.com hosts to the
// proxy in the test (edge.mjs). It prints one JSON line: {"provider": ..., "tools": [names]}.
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { edgeFetch } from './edge.mjs';

const env = process.env;
const mode = process.argv[2];

let authProvider;
if (mode === 'basic') {
    authProvider = new ClientCredentialsProvider({
        clientId: env.CLIENT_ID,
        clientSecret: env.CLIENT_SECRET,
        scope: env.SCOPE,
        expectedIssuer: env.ISSUER
    });
} else if (mode === 'jwt') {
    authProvider = new PrivateKeyJwtProvider({
        clientId: env.CLIENT_ID,
        privateKey: readFileSync(env.PRIVATE_KEY_FILE, 'utf8'), // PKCS#8 PEM
        algorithm: env.ALG,
        scope: env.SCOPE,
        expectedIssuer: env.ISSUER
    });
} else {
    console.error('usage: node client.mjs basic|jwt');
    process.exit(2);
}

const transport = new StreamableHTTPClientTransport(new URL(env.MCP_URL), { authProvider, fetch: edgeFetch });
const client = new Client({ name: 'mcpguard-e2e-tsclient', version: '1.0.0' });
await client.connect(transport);
const { tools } = await client.listTools();
console.log(JSON.stringify({ provider: authProvider.constructor.name, tools: tools.map(t => t.name) }));
await client.close();
