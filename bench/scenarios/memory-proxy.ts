// The processes and readings of `npm run bench -- memory`: our proxy started the way a node runs
// it (process.execPath directly, so the child's pid IS the proxy and /proc/<pid>/status is its
// memory, with PROXY_NODE_FLAGS as the DaemonSet passes them), from the .ts sources or from
// JavaScript compiled once per run as the image does (Dockerfile: `tsc -p tsconfig.build.json`,
// "type": "module" from package.json, NODE_ENV=production), in static mode or in Kubernetes mode
// against the fake API server; and the revision's one pod, which can hold requests until told.
// Addresses: 127.0.250.0/24 only.

import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFakeApiServer, type FakeApiServer } from '../../deploy/local/fake-apiserver/server.ts';
import { PROXY_NODE_FLAGS } from '../../proxy/node-flags.ts';
import { BACKEND_BODY } from '../support/backend-server.ts';
import type { Child, ChildSet } from '../support/children.ts';
import { REPO_ROOT } from '../support/peers.ts';
import { waitForHttp200 } from '../support/wait-ready.ts';

export const MEMORY_HOSTS = {
  /** The one pod of the revision (the backend, when one runs). */
  pod: '127.0.250.1',
  api: '127.0.250.10',
  /** Source address of the queued requests. */
  client: '127.0.250.100',
} as const;
export const POD_PORT = 8080;
export const NAMESPACE = 'default';
export const REVISION = 'hello-00001';
export const HOST_HEADER = 'hello.default.svc.cluster.local';
const NODE = 'node1';
export const ADMIN_PORT = 9090;

/** Sizes from /proc/<pid>/status (proc(5)), in KiB as the kernel reports them. */
export interface ProcMemory {
  vmRssKiB: number;
  rssAnonKiB: number;
  rssFileKiB: number;
  rssShmemKiB: number;
  /** Peak resident set so far ("high water mark"). */
  vmHwmKiB: number;
}

const STATUS_FIELDS = { vmRssKiB: 'VmRSS', rssAnonKiB: 'RssAnon', rssFileKiB: 'RssFile', rssShmemKiB: 'RssShmem', vmHwmKiB: 'VmHWM' } as const;

/** Parses the memory lines of a /proc/<pid>/status text (`VmRSS:   78012 kB`). */
export function parseProcStatus(text: string): ProcMemory {
  const out = {} as ProcMemory;
  for (const [key, field] of Object.entries(STATUS_FIELDS) as Array<[keyof ProcMemory, string]>) {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (!m) throw new Error(`no ${field} line in /proc status`);
    out[key] = Number(m[1]);
  }
  return out;
}

export function readProcMemory(pid: number): ProcMemory {
  return parseProcStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** The soft limit on open files of this process (what `ulimit -n` says; children inherit it). */
export function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return !m || m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/**
 * Compiles lib/, proxy/ and controller/ once into `<dir>/dist` as the image's build stage does, and
 * makes it runnable there: the compiled files import bare packages (node_modules symlinked to the
 * repository's) and are ESM only because package.json says "type": "module". Returns the bin.
 */
export async function compileProxy(dir: string): Promise<{ bin: string; cwd: string; seconds: number }> {
  const dist = join(dir, 'dist');
  const started = performance.now();
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  // 5 min: a cold compile of the three trees takes about 10–30 s on a 2-core machine.
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dist], { cwd: REPO_ROOT, timeout: 300_000 }).catch(
    (err: Error & { stdout?: string }) => {
      throw new Error(`tsc -p tsconfig.build.json failed: ${err.message}\n${err.stdout ?? ''}`);
    },
  );
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dist, 'node_modules'), 'dir');
  copyFileSync(join(REPO_ROOT, 'package.json'), join(dist, 'package.json'));
  return { bin: join(dist, 'proxy/bin.js'), cwd: dist, seconds: (performance.now() - started) / 1000 };
}

/** Where a configuration's proxy gets its endpoints: a static file, or the (fake) Kubernetes API. */
export type SourceArgs = { endpoints: string } | { kubeconfig: string };

export interface MemoryProxyOptions {
  name: string;
  /** proxy/bin.ts, or the compiled proxy/bin.js. */
  bin: string;
  cwd: string;
  compiled: boolean;
  /** Listen address: ingress :8012, peer :8014, admin :9090. */
  host: string;
  source: SourceArgs;
  proxyArgs?: string[];
}

export async function startMemoryProxy(children: ChildSet, o: MemoryProxyOptions): Promise<Child> {
  const source = 'endpoints' in o.source ? ['--endpoints', o.source.endpoints] : ['--kubeconfig', o.source.kubeconfig];
  const child = children.start({
    name: o.name,
    command: process.execPath,
    args: [
      ...PROXY_NODE_FLAGS,
      o.bin,
      ...['--node-name', NODE, ...source],
      ...['--listen', `${o.host}:8012`, '--peer-listen', `${o.host}:8014`, '--admin-listen', `${o.host}:${ADMIN_PORT}`],
      ...(o.proxyArgs ?? []),
    ],
    cwd: o.cwd,
    // The image sets NODE_ENV=production; the .ts sources run as `npm start` runs them.
    env: o.compiled ? { ...process.env, NODE_ENV: 'production' } : process.env,
  });
  // Static mode is ready within 2 s (DESIGN.md §2); Kubernetes mode first lists three informers.
  await waitForHttp200(`http://${o.host}:${ADMIN_PORT}/readyz`, child, 30_000);
  return child;
}

export interface PodOptions {
  containerConcurrency: number;
  ready: boolean;
  timeoutSeconds: number;
}

/** A static endpoints file (DESIGN.md §3): one revision with one pod on this node. */
export function writeStaticEndpoints(file: string, pod: PodOptions): string {
  const revision = {
    namespace: NAMESPACE,
    name: REVISION,
    hosts: [HOST_HEADER],
    containerConcurrency: pod.containerConcurrency,
    timeoutSeconds: pod.timeoutSeconds,
    endpoints: [{ address: MEMORY_HOSTS.pod, port: POD_PORT, node: NODE, ready: pod.ready }],
  };
  writeFileSync(file, JSON.stringify({ node: NODE, revisions: [revision] }, null, 2));
  return file;
}

/**
 * The fake API server with what a Kubernetes-mode proxy watches for the same revision: the Revision
 * (Ready, its Service label giving the host names) and its private EndpointSlice with one ready pod
 * on this node. No peer slices: a one-node cluster, still ready (DESIGN.md §3).
 */
export async function startKubeApi(): Promise<FakeApiServer> {
  const api = await startFakeApiServer({ host: MEMORY_HOSTS.api, port: 0 });
  const labels = { 'serving.knative.dev/service': 'hello', 'serving.knative.dev/revision': REVISION };
  api.apply({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: { name: REVISION, namespace: NAMESPACE, labels },
    spec: { containerConcurrency: 0, timeoutSeconds: 300, containers: [{ name: 'user-container', image: 'ikukantai/pod-app' }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  api.apply({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${REVISION}-private-${NODE}`,
      namespace: NAMESPACE,
      labels: { ...labels, 'networking.internal.knative.dev/serviceType': 'Private', 'kubernetes.io/service-name': `${REVISION}-private` },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [MEMORY_HOSTS.pod], nodeName: NODE, conditions: { ready: true, serving: true, terminating: false } }],
    ports: [{ name: 'http', port: POD_PORT, protocol: 'TCP' }],
  });
  return api;
}

/**
 * The revision's one pod, in the bench process: answers the bench backend's body at once, or,
 * while `holding`, parks each request until release(). With containerConcurrency 1 the proxy sends
 * it one request and queues the rest in its owner queue.
 */
export class HoldingPod {
  holding = false;
  readonly #parked: ServerResponse[] = [];
  readonly #server = createServer((req, res) => {
    req.resume();
    if (this.holding) this.#parked.push(res);
    else HoldingPod.#answer(res);
  });

  static #answer(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(BACKEND_BODY)) });
    res.end(BACKEND_BODY);
  }

  listen(): Promise<void> {
    // Longer than any run, as the bench backend: the proxy's upstream socket stays warm.
    this.#server.keepAliveTimeout = 65_000;
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(POD_PORT, MEMORY_HOSTS.pod, () => resolve());
    });
  }

  /** Stops holding and answers every parked request. */
  release(): void {
    this.holding = false;
    for (const res of this.#parked.splice(0)) HoldingPod.#answer(res);
  }

  close(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
