// One request's way through the proxy, from routing to the last response byte. Order of steps:
//   cold-start wait (no ready pod anywhere) → pick (ingress only) → owner slot (pod on this node:
//   containerConcurrency, FIFO queue) or peer hop (pod elsewhere) → upstream attempt → at most one
//   retry → response streamed back.
// One deadline covers everything up to response headers (the revision's timeoutSeconds, queue and
// cold start included); after headers, undici's body timeout cuts an idle response.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Pool } from 'undici';
import type { ProxyContext } from '../context.ts';
import type { EndpointStats } from '../balance/endpoint-stats.ts';
import { formatLoad, parseLoad } from '../balance/load-header.ts';
import type { RevisionRuntime } from '../endpoints/revision-table.ts';
import type { Lease } from '../concurrency/pod-throttler.ts';
import type { Ticket } from '../concurrency/wait-queue.ts';
import { ProxyError, type ErrorCode } from '../errors.ts';
import { Attempt, type AttemptEvents } from '../forward/forwarder.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { noteRejection, sendError } from './reject.ts';

/** Where the request came from: a client through the local gateway, or a peer proxy. */
export type Hop = 'ingress' | 'peer';

// RFC 9110 §9.2.2.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
// Failures that prove the request never reached the pod: safe to resend even with a body, as long
// as no body byte was taken from the client.
const NOT_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

class ClientGone extends Error {}

const kExchange = Symbol('ikukantai.exchange');
type TrackedResponse = ServerResponse & { [kExchange]?: Exchange };

export class Exchange implements AttemptEvents {
  readonly #ctx: ProxyContext;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #rt: RevisionRuntime;
  readonly #hop: Hop;
  readonly #startedAt: number;
  readonly #body: IncomingMessage | null;
  #deadline: NodeJS.Timeout | undefined;
  #coldTimer: NodeJS.Timeout | undefined;
  #coldSince = -1;
  #ticket: Ticket<Lease> | Ticket<void> | undefined;
  #queuedIn: 'cold' | 'owner' | undefined;
  #lease: Lease | undefined;
  #stats: EndpointStats | undefined;
  #attempt: Attempt | undefined;
  #sentAt = 0;
  #targetNode = '';
  #status = 0;
  #retried = false;
  #finished = false;

  constructor(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, rt: RevisionRuntime, hop: Hop, startedAt: number) {
    this.#ctx = ctx;
    this.#req = req;
    this.#res = res;
    this.#rt = rt;
    this.#hop = hop;
    this.#startedAt = startedAt;
    const h = req.headers;
    const hasBody = (h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined;
    this.#body = hasBody ? req : null;
  }

  start(): void {
    const ctx = this.#ctx;
    ctx.active.count++;
    // Static listeners and timer callbacks: no closures allocated per request on the hot path.
    (this.#res as TrackedResponse)[kExchange] = this;
    this.#res.on('close', Exchange.#onResponseClose);
    this.#deadline = setTimeout(Exchange.#onDeadline, this.#rt.timeoutMs, this);
    if (this.#hop === 'ingress') ctx.demand.enter(this.#rt.info.namespace, this.#rt.info.name, this.#startedAt);
    this.#route(this.#startedAt);
  }

  /** `now`: a clock reading the caller just took (arrival, or the end of a cold-start wait). */
  #route(now: number): void {
    if (this.#hop === 'peer') return this.#toOwner(this.#req.headers['ikukantai-pod'] as string | undefined);
    const rt = this.#rt;
    if (rt.candidates.length === 0) return this.#waitCold();
    const e = this.#ctx.picker.pick(rt.candidates, now)!;
    if (e.local) this.#toOwner(e.key);
    else this.#toPeer(e);
  }

  // --- cold start -------------------------------------------------------------------------------

  #waitCold(): void {
    const rt = this.#rt;
    const ticket = rt.coldQueue.push(() => this.#afterCold());
    if (!ticket) return this.#fail('queue_full');
    this.#enqueued(ticket, 'cold');
    if (this.#coldSince < 0) {
      this.#coldSince = this.#ctx.clock.now();
      const limit = Math.min(this.#ctx.coldStartTimeoutMs, rt.timeoutMs);
      if (limit < rt.timeoutMs) this.#coldTimer = setTimeout(this.#onColdTimeout, limit);
    }
    this.#ctx.poke(rt.info.namespace, rt.info.name);
  }

  #afterCold(): void {
    this.#dequeued();
    clearTimeout(this.#coldTimer);
    const now = this.#ctx.clock.now();
    this.#ctx.metrics.coldStartDuration.labels(this.#rt.info.namespace, this.#rt.info.name).observe((now - this.#coldSince) / 1000);
    this.#route(now);
  }

  #onColdTimeout = (): void => {
    if (this.#finished || this.#queuedIn !== 'cold') return;
    this.#fail('cold_start_timeout');
  };

  // --- owner side: a pod on this node -----------------------------------------------------------

  #toOwner(preferKey: string | undefined): void {
    const th = this.#rt.throttler;
    // A peer hop can only ever reach a watched local endpoint of this revision (DESIGN.md §2).
    if (!th.hasEligible) return this.#fail('upstream_unreachable', 'no ready local pod for this revision');
    const lease = th.tryAcquire(preferKey);
    if (lease) return this.#toPod(lease);
    const ticket = th.enqueue((lease) => this.#granted(lease));
    if (!ticket) return this.#fail('queue_full');
    this.#enqueued(ticket, 'owner');
  }

  #granted(lease: Lease): void {
    this.#dequeued();
    if (this.#finished) return lease.release();
    this.#toPod(lease);
  }

  #toPod(lease: Lease): void {
    this.#lease = lease;
    const key = lease.pod.key;
    this.#track(this.#rt.stats.get(key), this.#ctx.node);
    const headers = upstreamRequestHeaders(this.#req.rawHeaders, this.#req.headers.connection, {
      forwardedFor: this.#hop === 'ingress' ? this.#req.socket.remoteAddress : undefined,
    });
    this.#send(this.#ctx.pools.get(key), headers);
  }

  // --- ingress side: a pod on another node, through its owner proxy ----------------------------

  #toPeer(e: EndpointStats): void {
    const peer = this.#ctx.table.peers.get(e.node);
    if (!peer) return this.#fail('upstream_unreachable', `no peer proxy for node ${e.node}`);
    this.#track(e, e.node);
    const info = this.#rt.info;
    const headers = upstreamRequestHeaders(this.#req.rawHeaders, this.#req.headers.connection, {
      forwardedFor: this.#req.socket.remoteAddress,
      stripKnative: true,
      extra: [
        'knative-serving-namespace', info.namespace,
        'knative-serving-revision', info.name,
        'ikukantai-origin-node', this.#ctx.node,
        'ikukantai-pod', e.key,
      ],
    });
    this.#send(this.#ctx.pools.get(`${peer.address}:${peer.port}`), headers);
  }

  #track(stats: EndpointStats | undefined, node: string): void {
    this.#stats = stats;
    if (stats) stats.inflight++;
    this.#targetNode = node;
  }

  #send(pool: Pool, headers: string[]): void {
    this.#sentAt = this.#ctx.clock.now();
    this.#attempt = new Attempt(this.#res, this).start(pool, {
      method: this.#req.method ?? 'GET',
      path: this.#req.url ?? '/',
      headers,
      body: this.#body,
      bodyIdleMs: this.#rt.timeoutMs,
    });
  }

  // --- attempt events ---------------------------------------------------------------------------

  onHeaders(statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.#finished) return;
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
    const { headers: out, load } = downstreamResponseHeaders(headers);
    const now = this.#ctx.clock.now();
    if (this.#hop === 'peer' && this.#lease) {
      // Sampled now, while this request still counts in the pod's in-flight number (DESIGN.md §2).
      out['ikukantai-load'] = formatLoad({ inflight: this.#lease.pod.inflight, queued: this.#rt.throttler.queued, cc: this.#rt.throttler.cc });
    } else if (this.#stats && !this.#stats.local) {
      const parsed = parseLoad(load);
      if (parsed) this.#stats.reportLoad(parsed, now);
    } else if (this.#stats && this.#lease) {
      this.#stats.reportLoad({ inflight: this.#lease.pod.inflight, queued: this.#rt.throttler.queued, cc: this.#rt.throttler.cc }, now);
    }
    this.#status = statusCode;
    this.#res.writeHead(statusCode, out);
  }

  onEnd(): void {
    if (this.#finished) return;
    const now = this.#ctx.clock.now();
    const latency = now - this.#sentAt;
    this.#stats?.observe(latency, now);
    if (this.#stats?.local) this.#rt.serviceTime.observe(latency, now);
    this.#res.end();
    this.#finish(this.#status, now);
  }

  onError(err: Error, responded: boolean): void {
    if (this.#finished) return;
    if (err instanceof ClientGone) return;
    if (responded) {
      // Headers are gone: never let a truncated body look whole (no last chunk, connection closed).
      this.#ctx.logger.warn('upstream_aborted', this.#fields({ msg: err.message }));
      this.#res.destroy();
      return this.#finish(this.#status);
    }
    if (err instanceof ProxyError) return this.#fail(err.code, err.message);
    if (!this.#retried && this.#retryable(err)) return this.#retry(err);
    this.#fail('upstream_unreachable', err.message);
  }

  #retryable(err: Error): boolean {
    if (this.#res.headersSent) return false;
    const method = this.#req.method ?? 'GET';
    if (this.#body === null && IDEMPOTENT.has(method)) return true;
    const code = (err as { code?: string }).code;
    return code !== undefined && NOT_SENT.has(code) && !this.#req.readableDidRead;
  }

  /** Once: on another ready pod, or else a fresh connection to the same one (DESIGN.md §2). */
  #retry(err: Error): void {
    this.#retried = true;
    const failed = this.#stats?.key ?? this.#lease?.pod.key;
    this.#ctx.logger.debug('upstream_retry', this.#fields({ msg: `${err.message} (pod ${failed})` }));
    this.#untrack();
    this.#attempt = undefined;
    if (this.#hop === 'peer') return this.#toOwner(undefined);
    const others = this.#rt.candidates.filter((c) => c.key !== failed);
    const e = others.length > 0 ? this.#ctx.picker.pick(others, this.#ctx.clock.now()) : this.#rt.candidates.find((c) => c.key === failed);
    if (!e) return this.#route(this.#ctx.clock.now());
    if (e.local) this.#toOwner(e.key);
    else this.#toPeer(e);
  }

  // --- endings ----------------------------------------------------------------------------------

  static #onDeadline(ex: Exchange): void {
    ex.#deadline = undefined;
    if (ex.#finished) return;
    if (ex.#queuedIn === 'cold') return ex.#fail('cold_start_timeout');
    if (ex.#attempt && !ex.#attempt.responded) return ex.#attempt.abort(new ProxyError('upstream_timeout'));
    ex.#fail('upstream_timeout');
  }

  /** The client went away: leave any queue at once, abort the upstream request (its socket dies). */
  static #onResponseClose(this: TrackedResponse): void {
    const ex = this[kExchange];
    if (!ex || ex.#finished || this.writableFinished) return;
    ex.#attempt?.abort(new ClientGone('client closed the connection'));
    ex.#ctx.logger.debug('client_gone', ex.#fields());
    ex.#finish(0);
  }

  #fail(code: ErrorCode, detail?: string): void {
    if (this.#finished) return;
    const ctx = this.#ctx;
    noteRejection(ctx, code, this.#fields({ msg: detail }));
    if (this.#res.headersSent) {
      this.#res.destroy();
      return this.#finish(this.#status);
    }
    this.#finish(sendError(this.#req, this.#res, code));
  }

  #fields(extra?: Record<string, unknown>): Record<string, unknown> {
    return { namespace: this.#rt.info.namespace, revision: this.#rt.info.name, ...extra };
  }

  #enqueued(ticket: Ticket<Lease> | Ticket<void>, where: 'cold' | 'owner'): void {
    this.#ticket = ticket;
    this.#queuedIn = where;
  }

  #dequeued(): void {
    if (this.#queuedIn === undefined) return;
    this.#ticket = undefined;
    this.#queuedIn = undefined;
  }

  #untrack(): void {
    if (this.#stats) this.#stats.inflight--;
    this.#stats = undefined;
    if (this.#lease) {
      this.#lease.release();
      this.#lease = undefined;
    }
  }

  /** status 0 = the client left before an answer: cleaned up, not counted as answered. */
  #finish(status: number, now = this.#ctx.clock.now()): void {
    if (this.#finished) return;
    this.#finished = true;
    const ctx = this.#ctx;
    const { namespace, name } = this.#rt.info;
    clearTimeout(this.#deadline);
    clearTimeout(this.#coldTimer);
    if (this.#ticket) {
      if (this.#queuedIn === 'cold') this.#rt.coldQueue.cancel(this.#ticket as Ticket<void>);
      else this.#rt.throttler.cancel(this.#ticket as Ticket<Lease>);
      this.#dequeued();
    }
    this.#untrack();
    // The close listener stays (removing it costs more than the no-op call it makes once this is gone).
    (this.#res as TrackedResponse)[kExchange] = undefined;
    if (this.#hop === 'ingress') ctx.demand.leave(namespace, name, now);
    if (status !== 0) {
      const seconds = this.#hop === 'ingress' ? (now - this.#startedAt) / 1000 : undefined;
      ctx.requestMetrics.record(namespace, name, status, this.#targetNode, seconds);
    }
    if (--ctx.active.count === 0) ctx.active.onIdle?.();
  }
}
