// Kubernetes objects → the proxy's one Snapshot (DESIGN.md §3), as a pure function so its rules
// are tables in a unit test: which slices count (private revision Services), how endpoint
// conditions map (a nil `ready` is ready, per the EndpointSlice API; a terminating pod keeps its
// `serving` state so in-flight work finishes but gets nothing new), how several slices of one
// Service merge, and which revision owns the Service's host names (the newest Ready one). Typed
// structurally, so this module does not import client-node.

import type { Endpoint, Peer, Revision, Snapshot } from '../../lib/model.ts';

export const PRIVATE_SERVICE_LABEL = 'networking.internal.knative.dev/serviceType';
export const REVISION_LABEL = 'serving.knative.dev/revision';
export const SERVICE_LABEL = 'serving.knative.dev/service';
export const PEER_PORT_NAME = 'peer';
/** Knative's default revision timeout (config-defaults `revision-timeout-seconds`). */
export const DEFAULT_TIMEOUT_SECONDS = 300;

interface MetaLike {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  creationTimestamp?: string | Date;
}

export interface EndpointSliceLike {
  metadata?: MetaLike;
  addressType?: string;
  endpoints?: Array<{
    addresses?: string[];
    nodeName?: string;
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
  }> | null;
  ports?: Array<{ name?: string | null; port?: number | null }> | null;
}

export interface RevisionLike {
  metadata?: MetaLike;
  spec?: {
    containerConcurrency?: number;
    timeoutSeconds?: number;
    containers?: Array<{ readinessProbe?: { httpGet?: { path?: string } } }>;
  };
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

export interface SliceMappingInput {
  slices: readonly EndpointSliceLike[];
  revisions: readonly RevisionLike[];
  peerSlices: readonly EndpointSliceLike[];
  upstreamPortName: string;
}

function usableAddressType(s: EndpointSliceLike): boolean {
  // FQDN slices name hosts, not pod addresses; absent means an older object, treat as IP.
  return s.addressType === undefined || s.addressType === 'IPv4' || s.addressType === 'IPv6';
}

function portOf(s: EndpointSliceLike, name: string): number | undefined {
  const p = s.ports?.find((x) => (x.name ?? '') === name);
  return p?.port ?? undefined;
}

/** EndpointSlice conditions → model flags. */
export function endpointState(c: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } | undefined): {
  ready: boolean;
  terminating: boolean;
} {
  const ready = c?.ready ?? true; // "A nil value should be interpreted as true" (EndpointConditions)
  const terminating = c?.terminating ?? false;
  // Kubernetes sets ready=false on every terminating endpoint; `serving` (nil → defer to ready)
  // says whether it still passes readiness, which decides if its in-flight work can finish there.
  return { ready: terminating ? (c?.serving ?? ready) : ready, terminating };
}

/** Better of two entries for one address: usable beats not, then ready beats not. */
function rank(e: { ready: boolean; terminating: boolean }): number {
  return (e.terminating ? 0 : 2) + (e.ready ? 1 : 0);
}

function time(t: string | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = new Date(t).getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

function isReady(r: RevisionLike): boolean {
  return r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function byName(a: { metadata?: MetaLike }, b: { metadata?: MetaLike }): number {
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}

export function hostsFor(service: string, namespace: string): string[] {
  const base = `${service}.${namespace}`.toLowerCase();
  return [base, `${base}.svc`, `${base}.svc.cluster.local`];
}

/**
 * Per Knative Service, the revision that gets its hosts: the newest Ready one, else (none Ready
 * yet, e.g. the first revision still starting) the newest. Returns revision keys.
 */
function hostOwners(revisions: readonly RevisionLike[]): Set<string> {
  const best = new Map<string, RevisionLike>();
  for (const r of revisions) {
    const svc = r.metadata?.labels?.[SERVICE_LABEL];
    if (!svc || !r.metadata?.name || !r.metadata.namespace) continue;
    const k = `${r.metadata.namespace}/${svc}`;
    const cur = best.get(k);
    if (!cur) {
      best.set(k, r);
      continue;
    }
    const [t, tc] = [time(r.metadata.creationTimestamp) ?? 0, time(cur.metadata?.creationTimestamp) ?? 0];
    // Same second (timestamps have 1 s resolution): Knative's names count up (-00002 after -00001).
    const newer = t !== tc ? t > tc : r.metadata.name > (cur.metadata?.name ?? '');
    if (isReady(r) !== isReady(cur) ? isReady(r) : newer) best.set(k, r);
  }
  return new Set([...best.values()].map((r) => `${r.metadata!.namespace}/${r.metadata!.name}`));
}

export function mapSnapshot(input: SliceMappingInput): Snapshot {
  const revs = new Map<string, Revision>();
  const owners = hostOwners(input.revisions);
  for (const r of input.revisions) {
    const { name, namespace, labels } = r.metadata ?? {};
    if (!name || !namespace) continue;
    const key = `${namespace}/${name}`;
    const svc = labels?.[SERVICE_LABEL];
    const path = r.spec?.containers?.[0]?.readinessProbe?.httpGet?.path;
    const createdAt = time(r.metadata?.creationTimestamp);
    revs.set(key, {
      namespace,
      name,
      hosts: svc && owners.has(key) ? hostsFor(svc, namespace) : [],
      containerConcurrency: r.spec?.containerConcurrency ?? 0,
      timeoutSeconds: r.spec?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      ...(path ? { readinessPath: path } : {}),
      ...(createdAt !== undefined ? { createdAt } : {}),
      endpoints: [],
    });
  }

  const merged = new Map<string, Map<string, Endpoint>>();
  for (const s of [...input.slices].sort(byName)) {
    const labels = s.metadata?.labels;
    const name = labels?.[REVISION_LABEL];
    const namespace = s.metadata?.namespace;
    if (labels?.[PRIVATE_SERVICE_LABEL] !== 'Private' || !name || !namespace || !usableAddressType(s)) continue;
    const key = `${namespace}/${name}`;
    if (!revs.has(key)) {
      // The slice can arrive before its Revision: header routing still works with the defaults.
      revs.set(key, { namespace, name, hosts: [], containerConcurrency: 0, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS, endpoints: [] });
    }
    const port = portOf(s, input.upstreamPortName);
    if (port === undefined) continue;
    let byAddr = merged.get(key);
    if (!byAddr) merged.set(key, (byAddr = new Map()));
    for (const e of s.endpoints ?? []) {
      // Only the first address has defined semantics (EndpointSlice API); no node, no owner.
      const address = e.addresses?.[0];
      if (!address || !e.nodeName) continue;
      const ep: Endpoint = { address, port, node: e.nodeName, ...endpointState(e.conditions) };
      const k = `${address}:${port}`;
      const prev = byAddr.get(k);
      // During a move between slices one address can be listed twice; keep the more usable entry.
      if (!prev || rank(ep) > rank(prev)) byAddr.set(k, ep);
    }
  }
  for (const [key, byAddr] of merged) revs.get(key)!.endpoints = [...byAddr.values()];

  const revisions = [...revs.values()].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  // The API has no RTT: the prior comes from --rtt-file through the proxy's own options.
  return { revisions, peers: mapPeers(input.peerSlices), rtt: new Map() };
}

/** One peer proxy per node from the peer Service's slices, preferring ready, non-terminating ones. */
export function mapPeers(slices: readonly EndpointSliceLike[]): Map<string, Peer> {
  const best = new Map<string, { peer: Peer; rank: number }>();
  for (const s of [...slices].sort(byName)) {
    if (!usableAddressType(s)) continue;
    const port = portOf(s, PEER_PORT_NAME);
    if (port === undefined) continue;
    for (const e of s.endpoints ?? []) {
      const address = e.addresses?.[0];
      if (!address || !e.nodeName) continue;
      const st = endpointState(e.conditions);
      const r = rank(st);
      const cur = best.get(e.nodeName);
      if (!cur || r > cur.rank) best.set(e.nodeName, { peer: { node: e.nodeName, address, port }, rank: r });
    }
  }
  return new Map([...best].map(([node, { peer }]) => [node, peer]));
}
