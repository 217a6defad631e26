// Builds real proxies for tests: a static endpoints file in a temp dir, the real static source,
// startProxy on loopback port 0, and real backend servers. Everything opened is closed by t.teardown.

import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { memoryLogger } from '../../lib/log.ts';
import { createStaticSource } from '../../proxy/endpoints/static-source.ts';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../proxy/main.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Backend {
  server: Server;
  address: string;
  port: number;
  /** Requests seen, in order. */
  seen: IncomingMessage[];
}

/** A real HTTP server on loopback; the handler decides what it answers. */
export async function startBackend(
  t: Teardown,
  address: string,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Backend> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  server.listen(0, address);
  await once(server, 'listening');
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, address, port: (server.address() as AddressInfo).port, seen };
}

/** Answers `hello from <name>` after reading the body. */
export function hello(name: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`hello from ${name}\n`);
    });
  };
}

export interface FileDoc {
  node?: string;
  nodes?: Record<string, { peer: string }>;
  rtt?: Record<string, Record<string, number>>;
  revisions: Array<Record<string, unknown>>;
}

export class EndpointsFile {
  readonly path: string;
  constructor(doc: FileDoc) {
    const dir = mkdtempSync(join(tmpdir(), 'ikukantai-test-'));
    this.path = join(dir, 'endpoints.yaml');
    writeFileSync(this.path, stringify(doc));
  }
  /** Atomic replace, as a config manager would. */
  write(doc: FileDoc): void {
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, stringify(doc));
    renameSync(tmp, this.path);
  }
}

export interface TestProxy {
  proxy: RunningProxy;
  file: EndpointsFile;
  logs: ReturnType<typeof memoryLogger>['lines'];
  url: string;
  peerUrl: string;
  adminUrl: string;
}

/** Starts a proxy on `host` (ports chosen by the OS) over a static file. */
export async function startTestProxy(
  t: Teardown,
  host: string,
  doc: FileDoc,
  opts: Partial<ProxyOptions> & { node?: string } = {},
): Promise<TestProxy> {
  const node = opts.node ?? 'node1';
  const file = new EndpointsFile(doc);
  const logger = memoryLogger(node);
  const source = createStaticSource({ file: file.path, nodeName: node, logger, pollMs: 100 });
  const proxy = await startProxy({
    node,
    source,
    listen: { host, port: 0 },
    peerListen: { host, port: 0 },
    adminListen: { host, port: 0 },
    logger,
    drainGraceMs: 0,
    ...opts,
  });
  t.teardown(() => proxy.close());
  return {
    proxy,
    file,
    logs: logger.lines,
    url: `http://${host}:${proxy.ingress.port}`,
    peerUrl: `http://${host}:${proxy.peer.port}`,
    adminUrl: `http://${host}:${proxy.admin.port}`,
  };
}

export const HOST = 'hello.default.svc.cluster.local';

/** One revision `default/hello-00001` with the given endpoints. */
export function helloRevision(endpoints: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { namespace: 'default', name: 'hello-00001', hosts: [HOST], endpoints, ...extra };
}

/** Polls `check` until it returns true or the deadline passes (no fixed sleeps in tests). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
