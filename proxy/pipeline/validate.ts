// Request framing checks Node's parser lets through but RFC 9112 says a proxy must reject, so that a
// request the pod would read differently from us never reaches it (request smuggling).

import type { IncomingMessage } from 'node:http';
import { ProxyError } from '../errors.ts';

/** DESIGN.md §2: at most 100 header fields (Node would silently drop the rest past its own cap). */
export const MAX_HEADER_COUNT = 100;
/** DESIGN.md §2: header bytes over 16 KiB answer 431 (Node's parser enforces it as maxHeaderSize). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Throws a ProxyError when the request's framing or header set is not acceptable. */
export function validateRequest(req: IncomingMessage): void {
  const raw = req.rawHeaders;
  if (raw.length > MAX_HEADER_COUNT * 2) {
    throw new ProxyError('headers_too_large', `more than ${MAX_HEADER_COUNT} header fields`);
  }
  let hosts = 0;
  let te = false;
  let cl = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Cheap length-first filter: only 4, 14 and 17 character names matter here.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') hosts++;
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') cl = true;
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') te = true;
        break;
    }
  }
  // RFC 9112 §3.2: a request with more than one Host field is answered 400.
  if (hosts > 1) throw new ProxyError('bad_request', 'duplicate Host header');
  // RFC 9112 §6.1: Content-Length with Transfer-Encoding is a smuggling attempt; a proxy rejects it.
  if (te && cl) throw new ProxyError('bad_request', 'both Content-Length and Transfer-Encoding');
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
  if (te && req.httpVersionMinor === 0 && req.httpVersionMajor === 1) {
    throw new ProxyError('bad_request', 'Transfer-Encoding in an HTTP/1.0 request');
  }
  if (hosts === 0 && req.httpVersionMinor === 1) {
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is answered 400.
    throw new ProxyError('bad_request', 'missing Host header');
  }
  const url = req.url ?? '';
  if (url.charCodeAt(0) !== 47 /* '/' */) checkTarget(url, req.headers.host);
}

/**
 * Non-origin-form targets: `*` is only for OPTIONS, and an absolute-form target must agree with
 * Host (RFC 9112 §3.2.2: the target's authority wins, so a disagreeing Host would route one way and
 * be served another).
 */
function checkTarget(url: string, host: string | undefined): void {
  if (url === '*') return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProxyError('bad_request', 'malformed request target');
  }
  if (host !== undefined && parsed.host.toLowerCase() !== host.toLowerCase()) {
    throw new ProxyError('bad_request', 'absolute-form target disagrees with Host');
  }
}

/** Host header without port, lower-cased; handles `[v6]:port`. */
export function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  let h = host;
  if (h.charCodeAt(0) === 91 /* '[' */) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.indexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  return h.toLowerCase();
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return DNS1123_LABEL.test(s);
}
