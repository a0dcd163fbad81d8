// The MCP TypeScript SDK's own machine-to-machine providers connecting to an MCP server
// guarded by mcpguard and listing its tools, as the TSSDK end-to-end test runs it.
//
//   MCP_URL=https://mcp.example.com/mcp ISSUER=https://auth.example.com \
//   CLIENT_ID=ci-bot CLIENT_SECRET=... node client.mjs basic
//   CLIENT_ID=deployer PRIVATE_KEY_FILE=key.pem ALG=ES256 node client.mjs jwt
//
// EDGE=127.0.0.1:PORT sends every https request for the two example.com hosts as plain
// HTTP, Host unchanged, to that address (the proxy in the test); Node's fetch cannot set
// Host, so those requests go through node:http. It prints one JSON line:
// {"provider": ..., "tools": [names]}.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

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

const edgeHosts = new Set(['mcp.example.com', 'auth.example.com']);

// edgeFetch is fetch, except that https requests for the example hosts go to EDGE.
async function edgeFetch(input, init = {}) {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!env.EDGE || url.protocol !== 'https:' || !edgeHosts.has(url.hostname)) {
        return fetch(input, init);
    }
    const req = new Request(input, init);
    const [host, port] = env.EDGE.split(':');
    const headers = Object.fromEntries(req.headers);
    headers.host = url.host;
    const body = req.body ? Buffer.from(await req.arrayBuffer()) : undefined;
    return new Promise((resolve, reject) => {
        const r = http.request({ host, port, method: req.method, path: url.pathname + url.search, headers, signal: init.signal }, res => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) {
                for (const one of [].concat(v)) h.append(k, one);
            }
            const nobody = req.method === 'HEAD' || [204, 304].includes(res.statusCode);
            const resp = new Response(nobody ? null : Readable.toWeb(res), { status: res.statusCode, statusText: res.statusMessage, headers: h });
            Object.defineProperty(resp, 'url', { value: url.href });
            resolve(resp);
        });
        r.on('error', reject);
        r.end(body);
    });
}

const transport = new StreamableHTTPClientTransport(new URL(env.MCP_URL), { authProvider, fetch: edgeFetch });
const client = new Client({ name: 'mcpguard-e2e-tsclient', version: '1.0.0' });
await client.connect(transport);
const { tools } = await client.listTools();
console.log(JSON.stringify({ provider: authProvider.constructor.name, tools: tools.map(t => t.name) }));
await client.close();
