// edgeFetch is the fetch of the end-to-end clients: with EDGE=127.0.0.1:PORT, every
// https request for the two example.com hosts goes as plain HTTP, Host unchanged, to that
// address (the proxy in the test), as a TLS-terminating load balancer would send it;
// Node's fetch cannot set Host, so those requests go through node:http. Every other
// request (a loopback enterprise IdP, say) is fetch's.
import http from 'node:http';
import { Readable } from 'node:stream';

const env = process.env;
const edgeHosts = new Set(['mcp.example.com', 'auth.example.com']);

// edgeFetch is fetch, except that https requests for the example hosts go to EDGE.
export async function edgeFetch(input, init = {}) {
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
