// The processes a bench run talks to, each started as a tracked child and awaited until it serves:
// the backend, our proxy (static mode, optionally with a containerConcurrency so the breaker is in
// the path), the minimal undici proxy, http-proxy and nginx. Addresses are fixed in 127.0.40.0/24,
// the bench's loopback range, so a run never collides with tests (which listen on port 0 or on
// their own ranges).

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Child, ChildSet } from './children.ts';
import { findNginx, NGINX_HINT, startNginx } from './nginx.ts';
import { waitForHttp200, waitForPort } from './wait-ready.ts';

/** Repository root, for locating scripts; children run with it as their cwd. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const BENCH_HOSTS = {
  backend: '127.0.40.1',
  ours: '127.0.40.2',
  minimal: '127.0.40.3',
  nginx: '127.0.40.4',
  httpProxy: '127.0.40.5',
  oursBreaker: '127.0.40.6',
} as const;
export const BACKEND_PORT = 8080;
const PROXY_PORT = 8000;

/** The Host every request carries: the static revision's host, so our proxy routes by it. */
export const BENCH_HOST_HEADER = 'hello.default.svc.cluster.local';

export interface PeerContext {
  children: ChildSet;
  /** Scratch directory for generated files (endpoints file, nginx config, profiles). */
  tmpDir: string;
}

/** A started target: where to send requests and whose process tree is the proxy's CPU. */
export interface RunningPeer {
  url: string;
  /** Root pid of the proxy's process tree; undefined for the backend reached directly. */
  pid: number | undefined;
  child: Child | undefined;
}

/** Why a target could not be started (a missing tool or a missing file), said in one line. */
export class PeerSkipped extends Error {
  readonly code = 'peer_skipped';
  override readonly name = 'PeerSkipped';
}

const backendAddr = `${BENCH_HOSTS.backend}:${BACKEND_PORT}`;

function nodeChild(ctx: PeerContext, name: string, script: string, args: string[], nodeArgs: string[] = []): Child {
  return ctx.children.start({
    name,
    command: process.execPath,
    args: [...nodeArgs, join(REPO_ROOT, script), ...args],
    cwd: REPO_ROOT,
  });
}

async function nodePeer(ctx: PeerContext, name: string, script: string, host: string, nodeArgs: string[] = []): Promise<RunningPeer> {
  const child = nodeChild(ctx, name, script, ['--listen', `${host}:${PROXY_PORT}`, '--target', backendAddr], nodeArgs);
  await waitForPort(host, PROXY_PORT, child);
  return { url: `http://${host}:${PROXY_PORT}`, pid: child.pid, child };
}

export async function startBackend(ctx: PeerContext): Promise<RunningPeer> {
  const child = nodeChild(ctx, 'backend', 'bench/support/backend-server.ts', ['--listen', backendAddr]);
  await waitForPort(BENCH_HOSTS.backend, BACKEND_PORT, child);
  // The backend reached directly has no proxy CPU to measure: pid stays undefined.
  return { url: `http://${backendAddr}`, pid: undefined, child };
}

export function startMinimalProxy(ctx: PeerContext): Promise<RunningPeer> {
  return nodePeer(ctx, 'minimal', 'bench/baseline/minimal-proxy.ts', BENCH_HOSTS.minimal);
}

export function startHttpProxy(ctx: PeerContext): Promise<RunningPeer> {
  return nodePeer(ctx, 'http-proxy', 'bench/support/http-proxy-server.ts', BENCH_HOSTS.httpProxy, [
    '--disable-warning=DEP0060',
  ]);
}

export async function startNginxPeer(ctx: PeerContext): Promise<RunningPeer> {
  const binary = findNginx();
  if (!binary) throw new PeerSkipped(NGINX_HINT);
  const child = startNginx(ctx.children, binary, {
    dir: join(ctx.tmpDir, 'nginx'),
    listen: `${BENCH_HOSTS.nginx}:${PROXY_PORT}`,
    upstream: backendAddr,
  });
  await waitForPort(BENCH_HOSTS.nginx, PROXY_PORT, child);
  return { url: `http://${BENCH_HOSTS.nginx}:${PROXY_PORT}`, pid: child.pid, child };
}

export interface OurProxyOptions {
  host: string;
  /** 0 = unlimited; > 0 puts the per-pod breaker in the path. */
  containerConcurrency: number;
  /** Extra Node flags (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Extra proxy flags (e.g. --drain-grace 0s so a profiled run exits at once). */
  proxyArgs?: string[];
}

/** The static endpoints file (DESIGN.md §3): one revision, one local pod = the backend. */
export function endpointsFile(containerConcurrency: number): object {
  return {
    node: 'node1',
    revisions: [
      {
        namespace: 'default',
        name: 'hello-00001',
        hosts: [BENCH_HOST_HEADER],
        containerConcurrency,
        endpoints: [{ address: BENCH_HOSTS.backend, port: BACKEND_PORT, node: 'node1' }],
      },
    ],
  };
}

export async function startOurProxy(ctx: PeerContext, opts: OurProxyOptions): Promise<RunningPeer> {
  const bin = 'proxy/bin.ts';
  if (!existsSync(join(REPO_ROOT, bin))) throw new PeerSkipped(`${bin} does not exist yet`);
  const file = join(ctx.tmpDir, `endpoints-cc${opts.containerConcurrency}.json`);
  writeFileSync(file, JSON.stringify(endpointsFile(opts.containerConcurrency), null, 2));
  const h = opts.host;
  const child = nodeChild(
    ctx,
    opts.containerConcurrency > 0 ? `ours (cc ${opts.containerConcurrency})` : 'ours',
    bin,
    [
      ...['--endpoints', file, '--node-name', 'node1'],
      ...['--listen', `${h}:8012`, '--peer-listen', `${h}:8014`, '--admin-listen', `${h}:9090`],
      ...(opts.proxyArgs ?? []),
    ],
    opts.nodeArgs,
  );
  await waitForHttp200(`http://${h}:9090/readyz`, child);
  return { url: `http://${h}:8012`, pid: child.pid, child };
}
