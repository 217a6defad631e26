// Header rewriting at the proxy boundary, both directions (RFC 9110 §7.6.1: a proxy removes the
// hop-by-hop fields, including every field the Connection header names). Works on Node's flat
// rawHeaders array so the hot path never builds an intermediate object.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node answers `Expect: 100-continue` itself before the handler runs; forwarding it would make the
  // pod wait for a second 100 (and undici refuses to send it).
  'expect',
]);

const OWN_PREFIX = 'ikukantai-';
const KNATIVE_PREFIX = 'knative-serving-';

/** Field names listed in Connection (RFC 9110 §7.6.1), lower-cased; empty when there are none. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  // The values nearly every message carries name no extra field: skip the split and the Set.
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const out = new Set<string>();
  for (const token of joined.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '') out.add(t);
  }
  return out.size === 0 ? undefined : out;
}

export interface RequestHeaderOptions {
  /** Drop the Knative routing headers (a peer hop re-adds them in `extra` with the chosen revision). */
  stripKnative?: boolean;
  /** Append the client address to X-Forwarded-For (ingress only: the owner must not append again). */
  forwardedFor?: string;
  /** Extra fields to add (peer hop: Knative headers, origin node, chosen pod). */
  extra?: readonly string[];
}

/**
 * Builds the upstream request headers as a flat [name, value, …] array from Node's rawHeaders.
 * Keeps Host, strips hop-by-hop fields, appends X-Forwarded-For, sets X-Forwarded-Proto if absent.
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  connection: string | string[] | undefined,
  opts: RequestHeaderOptions,
): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  let xff: string | undefined;
  let sawProto = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    // Our own fields never reach a pod, and a client's never reach a peer (DESIGN.md §2).
    if (lower.startsWith(OWN_PREFIX)) continue;
    if (opts.stripKnative && lower.startsWith(KNATIVE_PREFIX)) continue;
    if (lower === 'x-forwarded-for' && opts.forwardedFor !== undefined) {
      xff = xff === undefined ? raw[i + 1]! : `${xff}, ${raw[i + 1]!}`;
      continue;
    }
    if (lower === 'x-forwarded-proto') sawProto = true;
    out.push(name, raw[i + 1]!);
  }
  if (opts.forwardedFor !== undefined) {
    out.push('x-forwarded-for', xff === undefined ? opts.forwardedFor : `${xff}, ${opts.forwardedFor}`);
  }
  if (!sawProto) out.push('x-forwarded-proto', 'http');
  if (opts.extra) out.push(...opts.extra);
  return out;
}

/**
 * Filters upstream response headers for the client: hop-by-hop fields out, and (on the ingress
 * proxy) the owner's `Ikukantai-Load`, which is returned separately.
 */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders): { headers: OutgoingHttpHeaders; load?: string } {
  const named = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  let load: string | undefined;
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || named?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'ikukantai-load') {
      load = Array.isArray(value) ? value[0] : value;
      continue;
    }
    out[name] = value;
  }
  return load === undefined ? { headers: out } : { headers: out, load };
}
