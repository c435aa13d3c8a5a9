import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the admin listener serves. */
export interface AdminEndpoints {
  /** Prometheus text exposition of the server's metrics. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Why the server should not get traffic now; empty when it is ready. */
  notReady(): Promise<string[]>;
}

export interface AdminServer {
  url: URL;
  close(): Promise<void>;
}

/** Scrapes and probes are small and quick; anything slower is not a scraper. */
const ADMIN_TIMEOUT_MS = 10_000;

/**
 * The admin listener: plain HTTP, no client certificate, nothing secret. GET /metrics,
 * /healthz (the process answers) and /readyz (200 when ready, else 503 with the reasons).
 */
export function startAdminServer(endpoints: AdminEndpoints, port: number, host: string): Promise<AdminServer> {
  const server = createServer({ requestTimeout: ADMIN_TIMEOUT_MS, headersTimeout: ADMIN_TIMEOUT_MS }, (req, res) => {
    answer(req, res, endpoints).catch((error: unknown) => send(res, 500, `admin endpoint failed: ${(error as Error).message}\n`));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const hostPart = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: new URL(`http://${hostPart}:${address.port}`),
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function answer(req: IncomingMessage, res: ServerResponse, endpoints: AdminEndpoints): Promise<void> {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz')
    return send(res, 404, 'not found: try /metrics, /healthz, /readyz\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  if (path === '/healthz') return send(res, 200, 'ok\n');
  if (path === '/readyz') {
    const reasons = await endpoints.notReady();
    return reasons.length === 0 ? send(res, 200, 'ready\n') : send(res, 503, `not ready: ${reasons.join('; ')}\n`);
  }
  const { contentType, body } = await endpoints.metrics();
  send(res, 200, body, { 'content-type': contentType });
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
