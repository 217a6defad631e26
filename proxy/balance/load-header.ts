// The owner proxy's per-pod load report (DESIGN.md §2 "Peer hop"): `Ikukantai-Load:
// inflight=<n>;queued=<n>;cc=<n>`, added by the owner when it sends response headers and read (then
// stripped) by the ingress proxy. The header crosses a trust boundary only between our own proxies,
// but a garbled value must never break a response: parseLoad returns undefined, never throws.

export const LOAD_HEADER = 'ikukantai-load';

export interface Load {
  /** Requests in flight to the pod at the owner, from every ingress proxy. */
  inflight: number;
  /** The revision's owner-side queue (waiting for any of that node's pods of the revision). */
  queued: number;
  /** The revision's containerConcurrency; 0 = unlimited. */
  cc: number;
}

export function formatLoad({ inflight, queued, cc }: Load): string {
  return `inflight=${inflight};queued=${queued};cc=${cc}`;
}

/** Counts above this are garbage, not load (the owner's queue bound is max(100, 10 × cc × pods)). */
const MAX_COUNT = 1_000_000;

export function parseLoad(value: string | undefined): Load | undefined {
  if (value === undefined || value.length > 128) return undefined;
  let inflight: number | undefined;
  let queued: number | undefined;
  let cc: number | undefined;
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const name = part.slice(0, eq).trim().toLowerCase();
    const raw = part.slice(eq + 1).trim();
    if (!/^\d{1,7}$/.test(raw)) return undefined;
    const n = Number(raw);
    if (n > MAX_COUNT) return undefined;
    if (name === 'inflight' && inflight === undefined) inflight = n;
    else if (name === 'queued' && queued === undefined) queued = n;
    else if (name === 'cc' && cc === undefined) cc = n;
    else return undefined;
  }
  if (inflight === undefined || queued === undefined || cc === undefined) return undefined;
  return { inflight, queued, cc };
}
