// Answers a request with one of the proxy's own errors (DESIGN.md §2 "Errors"): the status, a
// one-line plain-text body, `Ikukantai-Error: <code>`, and `Connection: close` whenever the request
// body was not fully read or the error is about framing (RFC 9112 §9.6: after a 400/408/413/431
// the connection's framing can't be trusted, and unread body bytes would be parsed as a request).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { LogFields } from '../../lib/log.ts';
import type { ProxyContext } from '../context.ts';
import { ERRORS, type ErrorCode } from '../errors.ts';

/** The log line and the metric every error the proxy makes carries (DESIGN.md §2 "Errors"). */
export function noteRejection(ctx: Pick<ProxyContext, 'metrics' | 'logger'>, code: ErrorCode, fields?: LogFields): void {
  ctx.metrics.rejected.labels(code).inc();
  ctx.logger.warn('request_rejected', { ...fields, code });
}

const CLOSE_STATUSES = new Set([400, 408, 413, 431]);

export function mustClose(code: ErrorCode, req: IncomingMessage): boolean {
  return CLOSE_STATUSES.has(ERRORS[code].status) || code === 'draining' || bodyUnread(req);
}

/** True when the request has a body we have not read to its end. */
export function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const h = req.headers;
  return (h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined;
}

/** Writes the error response on a ServerResponse; returns the status sent. */
export function sendError(req: IncomingMessage, res: ServerResponse, code: ErrorCode): number {
  const { status, message } = ERRORS[code];
  const body = message + '\n';
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'ikukantai-error': code,
  };
  if (code === 'queue_full') headers['retry-after'] = 1;
  if (mustClose(code, req)) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(body);
  return status;
}

/** For errors found before Node built a request (parser errors, header timeouts): raw bytes, then close. */
export function sendRawError(socket: Socket, code: ErrorCode): void {
  const { status, message } = ERRORS[code];
  const body = message + '\n';
  const reason = REASONS[status] ?? 'Error';
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `ikukantai-error: ${code}\r\nconnection: close\r\n\r\n${body}`,
  );
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  503: 'Service Unavailable',
};
