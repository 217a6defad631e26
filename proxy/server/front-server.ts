// The two request listeners (8012 ingress, 8014 peer hops) are one hardened node:http server each.
// Node's defaults are tuned for apps, not a proxy in front of untrusted clients (TOOLCHAIN.md):
//  - headersTimeout is only swept every connectionsCheckingInterval (30 s): we sweep every 1 s so a
//    slow-header client gets its 408 after ~10 s, not 40.
//  - maxHeadersCount silently drops fields past its cap: we lift it and count ourselves (431).
//  - requestTimeout would cut a legitimately long upload; the revision timeout governs instead.
// Order of steps for each request: drain check → framing checks → probe → route → Exchange.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyContext } from '../context.ts';
import { ProxyError, type ErrorCode } from '../errors.ts';
import { Exchange, type Hop } from '../pipeline/exchange.ts';
import { answerProbe, isProbe } from '../pipeline/probe.ts';
import { noteRejection, sendError, sendRawError } from '../pipeline/reject.ts';
import { routeRequest } from '../pipeline/route.ts';
import { MAX_HEADER_BYTES, validateRequest } from '../pipeline/validate.ts';
import type { Tunnels } from '../forward/tunnel.ts';

export const HEADERS_TIMEOUT_MS = 10_000;
/** Above common gateway idle timeouts (Envoy/Kourier upstream idle is 60 s by default). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export interface DrainState {
  /** After the drain grace: requests on sockets still open get `503 draining`. */
  closed: boolean;
}

// Node's parser error codes → our catalogue (DESIGN.md §2 table).
const PARSER_ERRORS: Record<string, ErrorCode> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'body_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'request_timeout',
};

/** Requests of one connection are handled one at a time (RFC 9112 §9.3.2 pipelining). */
interface SocketQueue {
  busy: boolean;
  pending: Array<[IncomingMessage, ServerResponse]>;
}
const kQueue = Symbol('ikukantai.queue');
type QueuedSocket = Socket & { [kQueue]?: SocketQueue };
type QueuedResponse = ServerResponse & { [kQueue]?: SocketQueue };

/** An error answered before any Exchange exists (drain, framing, routing). */
function rejectEarly(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, code: ErrorCode, detail?: string): void {
  noteRejection(ctx, code, { msg: detail });
  const status = sendError(req, res, code);
  ctx.requestMetrics.record('', '', status, '', undefined);
}

export function createFrontServer(ctx: ProxyContext, hop: Hop, drain: DrainState, tunnels: Tunnels): Server {
  const server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: 0,
    connectionsCheckingInterval: 1000,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // Nagle would hold small responses back by up to 40 ms against delayed ACKs.
    noDelay: true,
    // We answer 400 ourselves for what Node tolerates; never run lenient.
    insecureHTTPParser: false,
    // Our own routing reads the raw Host; keep Node from joining duplicates.
    joinDuplicateHeaders: false,
  });
  server.maxHeadersCount = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const startedAt = ctx.clock.now();
    if (drain.closed) return rejectEarly(ctx, req, res, 'draining');
    try {
      validateRequest(req);
      // Probes (Knative's, and peers' RTT probes every 5 s) are not traffic: counting them would
      // draw a steady 200 line with no revision on every request-rate panel.
      if (isProbe(req)) return answerProbe(req, res);
      const rt = routeRequest(req, ctx.table);
      if (req.headers['transfer-encoding'] === undefined) return new Exchange(ctx, req, res, rt, hop, startedAt).start();
      // A chunked body can still turn out malformed (bad chunk size, 16 KiB chunk extension) in
      // the bytes the parser is reading right now, after it emitted this request: wait one turn so
      // that clientError answers it first and the pod never even gets a connection for it.
      setImmediate(() => {
        if (req.socket.writableEnded || req.socket.destroyed) return;
        new Exchange(ctx, req, res, rt, hop, startedAt).start();
      });
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      rejectEarly(ctx, req, res, err.code, err.message);
    }
  };

  // One listener function for every response (no closure per request): the queue rides on `res`.
  function next(this: QueuedResponse): void {
    const q = this[kQueue]!;
    q.busy = false;
    const pending = q.pending.shift();
    if (pending) run(q, pending[0], pending[1]);
  }

  const run = (q: SocketQueue, req: IncomingMessage, res: ServerResponse): void => {
    q.busy = true;
    (res as QueuedResponse)[kQueue] = q;
    res.on('close', next);
    handle(req, res);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as QueuedSocket;
    const q = (socket[kQueue] ??= { busy: false, pending: [] });
    if (q.busy) {
      q.pending.push([req, res]);
      return;
    }
    run(q, req, res);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (drain.closed) return sendRawError(socket, 'draining');
    try {
      validateRequest(req);
      const rt = routeRequest(req, ctx.table);
      tunnels.open(ctx, req, socket, head, rt, hop);
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      noteRejection(ctx, err.code, { msg: err.message });
      sendRawError(socket, err.code);
    }
  });

  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const code = PARSER_ERRORS[err.code ?? ''] ?? 'bad_request';
    // A reset or a half-written request from a client that went away needs no answer, and once a
    // response has started on this socket no error can be framed after it.
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) return socket.destroy();
    noteRejection(ctx, code, { msg: err.code ?? err.message });
    ctx.requestMetrics.record('', '', PARSER_STATUS[code] ?? 400, '', undefined);
    sendRawError(socket, code);
  });

  return server;
}

const PARSER_STATUS: Partial<Record<ErrorCode, number>> = { headers_too_large: 431, body_too_large: 413, request_timeout: 408 };
