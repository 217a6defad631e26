// Upgrade requests (WebSocket and any other `Upgrade:`) become byte tunnels: undici's upgrade
// dispatch opens a dedicated connection to the pod (or to its owner proxy), and after `101
// Switching Protocols` the two sockets are piped both ways. undici rather than http-proxy: it is
// already our upstream client (same localAddress, same pools), and http-proxy is unmaintained and
// prints a deprecation warning on Node 24. Neither the revision timeout nor drain cut a tunnel after
// the 101; drain waits for open tunnels up to the longest revision timeout.
// A tunnel does not hold a containerConcurrency slot: a long-lived WebSocket would otherwise pin a
// cc=1 pod for its whole life.

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ProxyContext } from '../context.ts';
import type { RevisionRuntime } from '../endpoints/revision-table.ts';
import { ProxyError } from '../errors.ts';
import type { Hop } from '../pipeline/exchange.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../pipeline/headers.ts';
import { noteRejection, sendRawError } from '../pipeline/reject.ts';

export class Tunnels {
  readonly #open = new Set<Socket>();
  onIdle: (() => void) | undefined;

  get size(): number {
    return this.#open.size;
  }

  /** Closes every open tunnel (the drain deadline passed). */
  destroyAll(): void {
    for (const s of this.#open) s.destroy();
  }

  open(ctx: ProxyContext, req: IncomingMessage, client: Socket, head: Buffer, rt: RevisionRuntime, hop: Hop): void {
    const target = chooseTarget(ctx, req, rt, hop);
    const info = rt.info;
    // Upgrade and Connection stay out of the header list: undici throws on an `upgrade` field
    // ("invalid upgrade header") and writes `connection: upgrade` + `upgrade: <token>` itself from
    // the dispatch's `upgrade` option below.
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers.connection, {
      forwardedFor: hop === 'ingress' ? req.socket.remoteAddress : undefined,
      stripKnative: target.peer,
      extra: target.peer
        ? ['knative-serving-namespace', info.namespace, 'knative-serving-revision', info.name, 'ikukantai-origin-node', ctx.node, 'ikukantai-pod', target.pod]
        : undefined,
    });
    this.#open.add(client);
    client.once('close', () => {
      this.#open.delete(client);
      if (this.#open.size === 0) this.onIdle?.();
    });
    client.on('error', () => client.destroy());
    const handler = new UpgradeHandler(ctx, client, head, target.node, rt);
    ctx.pools.get(target.origin).dispatch(
      {
        path: req.url ?? '/',
        method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers,
        upgrade: req.headers.upgrade ?? 'websocket',
        headersTimeout: rt.timeoutMs,
      },
      handler,
    );
  }
}

interface Target {
  origin: string;
  node: string;
  pod: string;
  peer: boolean;
}

function chooseTarget(ctx: ProxyContext, req: IncomingMessage, rt: RevisionRuntime, hop: Hop): Target {
  if (hop === 'peer') {
    const named = req.headers['ikukantai-pod'];
    const local = rt.throttler.pod(typeof named === 'string' ? named : '');
    const lease = local?.eligible ? local : undefined;
    const key = lease?.key ?? rt.candidates.find((c) => c.local)?.key;
    if (!key) throw new ProxyError('upstream_unreachable', 'no ready local pod for this revision');
    return { origin: key, node: ctx.node, pod: key, peer: false };
  }
  const e = ctx.picker.pick(rt.candidates, ctx.clock.now());
  if (!e) throw new ProxyError('upstream_unreachable', 'no ready pod for an upgrade request');
  if (e.local) return { origin: e.key, node: ctx.node, pod: e.key, peer: false };
  const peer = ctx.table.peers.get(e.node);
  if (!peer) throw new ProxyError('upstream_unreachable', `no peer proxy for node ${e.node}`);
  return { origin: `${peer.address}:${peer.port}`, node: e.node, pod: e.key, peer: true };
}

class UpgradeHandler implements Dispatcher.DispatchHandler {
  readonly #ctx: ProxyContext;
  readonly #client: Socket;
  readonly #head: Buffer;
  readonly #node: string;
  readonly #rt: RevisionRuntime;
  #responded = false;

  constructor(ctx: ProxyContext, client: Socket, head: Buffer, node: string, rt: RevisionRuntime) {
    this.#ctx = ctx;
    this.#client = client;
    this.#head = head;
    this.#node = node;
    this.#rt = rt;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#client.once('close', () => controller.abort(new Error('client closed')));
  }

  onRequestUpgrade(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, upstream: Duplex): void {
    this.#responded = true;
    const client = this.#client;
    const lines = [`HTTP/1.1 ${statusCode} Switching Protocols`];
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || name === 'ikukantai-load') continue;
      for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${v}`);
    }
    client.write(lines.join('\r\n') + '\r\n\r\n');
    if (this.#head.length > 0) upstream.write(this.#head);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.pipe(client);
    client.pipe(upstream);
    this.#record(statusCode);
  }

  /** The pod refused the upgrade: relay its answer as a plain response, then close. */
  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.#responded = true;
    const { headers: out } = downstreamResponseHeaders(headers);
    const lines = [`HTTP/1.1 ${statusCode} ${statusCode < 400 ? 'OK' : 'Error'}`, 'connection: close'];
    for (const [name, value] of Object.entries(out)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${String(v)}`);
    }
    this.#client.write(lines.join('\r\n') + '\r\n\r\n');
    this.#record(statusCode);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#client.write(chunk);
  }

  onResponseEnd(): void {
    this.#client.end();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.#responded) {
      this.#client.destroy();
      return;
    }
    noteRejection(this.#ctx, 'upstream_unreachable', { namespace: this.#rt.info.namespace, revision: this.#rt.info.name, msg: err.message });
    this.#record(502);
    sendRawError(this.#client, 'upstream_unreachable');
  }

  #record(status: number): void {
    this.#ctx.requestMetrics.record(this.#rt.info.namespace, this.#rt.info.name, status, this.#node, undefined);
  }
}
