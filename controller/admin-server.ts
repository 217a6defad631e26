// The controller's admin port (DESIGN.md §2): GET /metrics (Prometheus text of the injected
// registry), /healthz (the process answers), /readyz (informers synced and serving stats).

import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminServerOptions {
  registry: Registry;
  ready: () => boolean;
}

export function createAdminServer({ registry, ready }: AdminServerOptions): Server {
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        () => res.writeHead(500).end('metrics failed\n'),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  });
}
