// A protocol-faithful fake Kubernetes API server for the emulated cluster and for tests: real
// HTTPS (self-signed, made at start-up), bearer-token auth, discovery, list/watch/CRUD/patch on
// the built-in kinds and any resource passed in. Unmodified clients (client-node informers and
// typed APIs, kubectl) talk to it through the kubeconfig it writes. Tests also drive it directly:
// store helpers that notify watches, 410 in both forms, and stop()/restart() on the same port with
// the data kept, for API-outage tests.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';
import { ApiError, statusObject } from './api-error.ts';
import { makeServingCert } from './cert.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, openApiGroupVersion, openApiIndex, versionInfo } from './discovery.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { handleRest, parseResourcePath, type WatchRequest } from './rest-handler.ts';
import { BUILTIN_RESOURCES, ResourceRegistry, type ResourceType } from './resources.ts';
import { Store, type KObject } from './store.ts';
import { WatchStream, writeExpiredEvent } from './watch-stream.ts';

export interface FakeApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Bearer token clients must send; random when absent. */
  token?: string;
  /** Resources served besides the built-ins (another CRD). */
  resources?: readonly ResourceType[];
  /** Where to write the kubeconfig; default a new temp dir, removed by close(). */
  kubeconfigPath?: string;
  /** BOOKMARK period for watches that allow them (default 5000). */
  bookmarkIntervalMs?: number;
  /** Change events kept for resuming watches (default 5000). */
  historyLimit?: number;
  /** Watch length when the client sends no timeoutSeconds (default 1800, as Kubernetes' 30 min floor). */
  watchTimeoutSeconds?: number;
  /** How a watch from a too-old version is refused (default `event`, like the watch cache does). */
  goneAs?: GoneMode;
  /** Namespaces that exist at start (default default, kube-system, kube-public, kube-node-lease). */
  namespaces?: readonly string[];
  logger?: Logger;
}

/** 410 as the HTTP status of the watch request, or as a 200 with an in-stream ERROR event. */
export type GoneMode = 'status' | 'event';

/** Any Kubernetes object: apiVersion, kind and metadata.name are required at run time. */
export interface ObjectInput {
  apiVersion?: string;
  kind?: string;
  metadata?: object;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

const MAX_BODY = 3 * 1024 * 1024; // Kubernetes' request size limit (3 MiB)
const PUBLIC_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']); // anonymous in Kubernetes too

export class FakeApiServer {
  readonly host: string;
  readonly token: string;
  readonly store: Store;
  readonly caPem: string;
  kubeconfigPath = '';
  port = 0;
  goneAs: GoneMode;
  /** Request counts, so tests can see a relist happen. */
  readonly stats = { requests: 0, lists: 0, watches: 0, unauthorized: 0 };
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<WatchStream>();
  readonly #opts: FakeApiServerOptions;
  #tempDir: string | undefined;
  #listening = false;

  private constructor(opts: FakeApiServerOptions, cert: { cert: string; key: string }) {
    this.#opts = opts;
    this.host = opts.host ?? '127.0.0.1';
    this.token = opts.token ?? randomBytes(24).toString('base64url');
    this.goneAs = opts.goneAs ?? 'event';
    this.caPem = cert.cert;
    this.store = new Store({ registry: new ResourceRegistry([...BUILTIN_RESOURCES, ...(opts.resources ?? [])]), historyLimit: opts.historyLimit });
    for (const ns of opts.namespaces ?? ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, status: { phase: 'Active' } });
    }
    this.#server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => this.#onRequest(req, res));
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const host = opts.host ?? '127.0.0.1';
    const s = new FakeApiServer(opts, await makeServingCert([host]));
    await s.#listen(opts.port ?? 0);
    if (opts.kubeconfigPath) s.kubeconfigPath = opts.kubeconfigPath;
    else {
      s.#tempDir = await mkdtemp(join(tmpdir(), 'fake-apiserver-'));
      s.kubeconfigPath = join(s.#tempDir, 'kubeconfig');
    }
    await writeKubeconfig(s.kubeconfigPath, { server: s.url, caPem: s.caPem, token: s.token });
    return s;
  }

  get url(): string {
    return `https://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.host, () => {
        this.#server.off('error', reject);
        this.port = (this.#server.address() as { port: number }).port;
        this.#listening = true;
        resolve();
      });
    });
  }

  // ---- direct helpers for tests and the emulator: they bump resourceVersion and notify watches ----

  #typeOf(apiVersion: string, kind: string): ResourceType {
    const r = this.store.registry.byKind(apiVersion, kind);
    if (!r) throw new Error(`fake API server does not serve ${apiVersion} ${kind}`);
    return r;
  }

  /**
   * Creates or replaces an object as given (status included, no version check); creates its
   * namespace if missing. Takes client-node's typed objects too.
   */
  apply<T extends ObjectInput>(input: T): KObject {
    let obj = input as KObject;
    const r = this.#typeOf(String(obj.apiVersion), String(obj.kind));
    const meta = obj.metadata ?? {};
    if (!meta.name) throw new Error('apply: metadata.name is required');
    if (r.namespaced) {
      const ns = meta.namespace ?? 'default';
      const nsType = this.#typeOf('v1', 'Namespace');
      if (!this.store.get(nsType, undefined, ns)) this.store.create(nsType, { metadata: { name: ns }, status: { phase: 'Active' } }, 'raw');
      obj = { ...obj, metadata: { ...meta, namespace: ns } };
    }
    const { resourceVersion: _rv, ...unversioned } = obj.metadata!;
    const write = { ...obj, metadata: unversioned };
    if (this.store.get(r, unversioned.namespace, meta.name)) return this.store.update(r, unversioned.namespace, meta.name, write, 'raw');
    return this.store.create(r, write, 'raw');
  }

  get(ref: ObjectRef): KObject | undefined {
    return this.store.get(this.#typeOf(ref.apiVersion, ref.kind), ref.namespace, ref.name);
  }

  list(apiVersion: string, kind: string, namespace?: string): KObject[] {
    return this.store.list(this.#typeOf(apiVersion, kind), namespace, () => true, () => true);
  }

  /** Deletes an object; returns it, or undefined when it did not exist. */
  delete(ref: ObjectRef): KObject | undefined {
    const r = this.#typeOf(ref.apiVersion, ref.kind);
    if (!this.store.get(r, ref.namespace, ref.name)) return undefined;
    return this.store.delete(r, ref.namespace, ref.name);
  }

  /** Forgets the change history: every watch resuming from an earlier version gets 410. */
  compact(): void {
    this.store.compact();
  }

  openWatches(): number {
    return this.#watches.size;
  }

  /** Ends every open watch cleanly; clients re-watch from their last version. */
  endWatches(): void {
    for (const w of [...this.#watches]) w.end();
  }

  /** Ends every open watch with an in-stream 410 ERROR event; clients relist. */
  expireWatches(): void {
    for (const w of [...this.#watches]) w.expire();
  }

  /** Closes the listener and every connection (watches cut mid-stream), keeping all data. */
  async stop(): Promise<void> {
    if (!this.#listening) return;
    this.#listening = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const w of [...this.#watches]) w.end();
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  /** Listens again on the same address and port, with the same data, token and certificate. */
  async restart(): Promise<void> {
    if (this.#listening) return;
    await this.#listen(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
    if (this.#tempDir) await rm(this.#tempDir, { recursive: true, force: true });
  }

  // ---- HTTP ----

  #authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    if (!m) return false;
    const got = Buffer.from(m[1]!.trim());
    const want = Buffer.from(this.token);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      try {
        if (size > MAX_BODY) throw new ApiError('BadRequest', 'request entity too large');
        this.#route(req, res, Buffer.concat(chunks));
      } catch (err) {
        this.#fail(res, err);
      }
    });
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ApiError) {
      this.#send(res, err.code, err.toStatus());
      return;
    }
    this.#opts.logger?.error('fake_apiserver_error', { msg: (err as Error).message });
    this.#send(res, 500, statusObject('InternalError', (err as Error).message));
  }

  #send(res: ServerResponse, status: number, body: unknown): void {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'content-length': Buffer.byteLength(data) });
    res.end(data);
  }

  #route(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://fake');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    this.#opts.logger?.debug('fake_apiserver_request', { msg: `${method} ${req.url}` });
    if (!PUBLIC_PATHS.has(path) && !this.#authorized(req)) {
      this.stats.unauthorized++;
      throw new ApiError('Unauthorized', 'Unauthorized');
    }
    if (path === '/version') return this.#send(res, 200, versionInfo());
    if (path === '/healthz' || path === '/livez' || path === '/readyz') return this.#send(res, 200, 'ok');
    const reg = this.store.registry;
    const seg = path.split('/').filter((s) => s !== '');
    let doc: unknown;
    if (path === '/api') doc = apiVersions(`${this.host}:${this.port}`);
    else if (path === '/apis') doc = apiGroupList(reg);
    else if (seg[0] === 'api' && seg.length === 2) doc = apiResourceList(reg, '', seg[1]!);
    else if (seg[0] === 'apis' && seg.length === 2) doc = apiGroup(reg, seg[1]!);
    else if (seg[0] === 'apis' && seg.length === 3) doc = apiResourceList(reg, seg[1]!, seg[2]!);
    else if (path === '/openapi/v3') doc = openApiIndex(reg);
    else if (path.startsWith('/openapi/v3/api/') && seg.length === 4) doc = openApiGroupVersion(reg, '', seg[3]!);
    else if (path.startsWith('/openapi/v3/apis/') && seg.length === 5) doc = openApiGroupVersion(reg, seg[3]!, seg[4]!);
    if (doc !== undefined) {
      if (method !== 'GET') throw new ApiError('MethodNotAllowed', `${method} is not allowed on ${path}`);
      return this.#send(res, 200, doc);
    }
    const p = parseResourcePath(this.store, path);
    if (!p) throw new ApiError('NotFound', 'the server could not find the requested resource');
    const result = handleRest(this.store, p, method, url, req.headers['content-type'] ?? 'application/json', body);
    if ('watch' in result) return this.#startWatch(res, result.watch);
    if (method === 'GET' && p.name === undefined) this.stats.lists++;
    this.#send(res, result.status, result.body);
  }

  #startWatch(res: ServerResponse, request: WatchRequest): void {
    this.stats.watches++;
    let stream: WatchStream;
    try {
      stream = new WatchStream({
        store: this.store,
        request,
        res,
        bookmarkIntervalMs: this.#opts.bookmarkIntervalMs ?? 5000,
        defaultTimeoutSeconds: this.#opts.watchTimeoutSeconds ?? 1800,
        onEnd: () => this.#watches.delete(stream),
      });
    } catch (err) {
      if (err instanceof ApiError && err.reason === 'Expired' && this.goneAs === 'event') {
        writeExpiredEvent(res, err.message);
        return;
      }
      throw err;
    }
    this.#watches.add(stream);
  }
}

export function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  return FakeApiServer.start(opts);
}
