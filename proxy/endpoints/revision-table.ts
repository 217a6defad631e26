// The proxy's routing state, rebuilt from each endpoint Snapshot: revisions by Knative name and by
// host, and per revision the balancer's view (one EndpointStats per endpoint, reused across
// snapshots so latency estimates and in-flight counts survive), the owner-side throttler for the
// pods on this node, and the cold-start queue. Routing reads it synchronously; it never awaits a
// source.

import { endpointKey, revisionKey, type Endpoint, type Revision, type Snapshot, type Peer } from '../../lib/model.ts';
import { EndpointStats } from '../balance/endpoint-stats.ts';
import { ServiceTimeEstimate, initialLatencyMs } from '../balance/service-time-estimate.ts';
import { PodThrottler } from '../concurrency/pod-throttler.ts';
import { WaitQueue } from '../concurrency/wait-queue.ts';

/** DESIGN.md §2: 100 when cc = 0 and for the cold-start queue; else max(100, 10 × cc × local pods). */
export function defaultMaxQueued(cc: number, localPods: number): number {
  return cc === 0 ? 100 : Math.max(100, 10 * cc * localPods);
}

/**
 * Seed RTT for a node with no prior and no probe answer yet. Zero would make a never-measured
 * remote pod look local (and its estimate decays back to the seed when idle); 10 ms is the low end
 * of inter-node links at the edge, so local pods still win and the first probe corrects it.
 */
const UNKNOWN_RTT_MS = 10;

export interface TableOptions {
  node: string;
  /** `--max-queued`; undefined = the DESIGN.md default per revision. */
  maxQueued?: number;
  /** Node RTT prior in ms, for seeding new remote endpoints. */
  rttMs: (toNode: string) => number | undefined;
  /** Called for each local endpoint that has never been ready, so the owner can probe it. */
  onNeverReady?: (rev: RevisionRuntime, e: Endpoint) => void;
}

export class RevisionRuntime {
  readonly key: string;
  info: Revision;
  /** Ready, not terminating, reachable (local, or remote with a known peer). */
  candidates: EndpointStats[] = [];
  readonly stats = new Map<string, EndpointStats>();
  readonly endpoints = new Map<string, Endpoint>();
  readonly throttler: PodThrottler;
  readonly coldQueue: WaitQueue<void>;
  /** Typical time at a local pod; seeds the latency of pods nobody has measured yet. */
  readonly serviceTime = new ServiceTimeEstimate();
  /** Local endpoints the readiness prober found passing before Kubernetes did. */
  readonly probedReady = new Set<string>();
  /** Local endpoints Kubernetes has reported ready at least once (the prober no longer overrides them). */
  readonly everReady = new Set<string>();

  constructor(info: Revision, maxQueued: number | undefined) {
    this.key = revisionKey(info.namespace, info.name);
    this.info = info;
    this.throttler = new PodThrottler({ cc: info.containerConcurrency, maxQueued: maxQueued ?? 100 });
    this.coldQueue = new WaitQueue(maxQueued ?? 100);
  }

  get timeoutMs(): number {
    return this.info.timeoutSeconds * 1000;
  }

  /** Requests of this revision waiting here: for a first ready pod, or for a local pod's slot. */
  get queued(): number {
    return this.coldQueue.size + this.throttler.queued;
  }
}

export class RevisionTable {
  readonly #opts: TableOptions;
  #byKey = new Map<string, RevisionRuntime>();
  #byHost = new Map<string, RevisionRuntime>();
  #peers = new Map<string, Peer>();

  constructor(opts: TableOptions) {
    this.#opts = opts;
  }

  get revisions(): Iterable<RevisionRuntime> {
    return this.#byKey.values();
  }

  get peers(): ReadonlyMap<string, Peer> {
    return this.#peers;
  }

  byName(namespace: string, name: string): RevisionRuntime | undefined {
    return this.#byKey.get(revisionKey(namespace, name));
  }

  byHost(host: string): RevisionRuntime | undefined {
    return this.#byHost.get(host);
  }

  /** Applies a whole new view; returns the revisions that went away (their waiters must be failed). */
  apply(snapshot: Snapshot): RevisionRuntime[] {
    const node = this.#opts.node;
    this.#peers = new Map([...snapshot.peers].filter(([n]) => n !== node));
    const next = new Map<string, RevisionRuntime>();
    for (const info of snapshot.revisions) {
      const key = revisionKey(info.namespace, info.name);
      let rt = this.#byKey.get(key);
      if (rt) rt.info = info;
      else rt = new RevisionRuntime(info, this.#opts.maxQueued);
      next.set(key, rt);
      this.#refresh(rt);
    }
    const gone = [...this.#byKey.values()].filter((rt) => !next.has(rt.key));
    this.#byKey = next;
    this.#byHost = hostIndex(next.values());
    return gone;
  }

  /** The readiness prober saw a never-ready local pod pass: it takes traffic now. */
  markProbedReady(rt: RevisionRuntime, key: string): void {
    if (rt.everReady.has(key) || !rt.endpoints.has(key)) return;
    rt.probedReady.add(key);
    this.#refresh(rt);
  }

  #refresh(rt: RevisionRuntime): void {
    const node = this.#opts.node;
    const info = rt.info;
    const seen = new Set<string>();
    const candidates: EndpointStats[] = [];
    const local: Array<{ key: string; eligible: boolean }> = [];
    rt.endpoints.clear();
    for (const e of info.endpoints) {
      const key = endpointKey(e);
      if (seen.has(key)) continue;
      seen.add(key);
      rt.endpoints.set(key, e);
      const isLocal = e.node === node;
      if (isLocal && e.ready) {
        rt.everReady.add(key);
        rt.probedReady.delete(key);
      }
      const ready = e.ready || (isLocal && rt.probedReady.has(key));
      if (isLocal && !ready && !e.terminating && !rt.everReady.has(key)) this.#opts.onNeverReady?.(rt, e);
      let stats = rt.stats.get(key);
      if (!stats) {
        const rtt = isLocal ? 0 : (this.#opts.rttMs(e.node) ?? UNKNOWN_RTT_MS);
        stats = new EndpointStats({
          key,
          node: e.node,
          local: isLocal,
          initialLatencyMs: initialLatencyMs(rtt, rt.serviceTime.estimate()),
          // A local pod's cost counts the owner queue as it is now, not as the last answer saw it.
          ownerQueue: isLocal ? rt.throttler : undefined,
        });
        rt.stats.set(key, stats);
      }
      const eligible = ready && !e.terminating;
      if (isLocal) local.push({ key, eligible });
      if (eligible && (isLocal || this.#peers.has(e.node))) candidates.push(stats);
    }
    for (const key of rt.stats.keys()) if (!seen.has(key)) rt.stats.delete(key);
    for (const key of rt.everReady) if (!seen.has(key)) rt.everReady.delete(key);
    for (const key of rt.probedReady) if (!seen.has(key)) rt.probedReady.delete(key);
    rt.candidates = candidates;
    rt.throttler.cc = info.containerConcurrency;
    rt.throttler.queue.bound = this.#opts.maxQueued ?? defaultMaxQueued(info.containerConcurrency, local.length);
    rt.throttler.setPods(local);
    // Cold-start waiters go the moment any pod can take a request.
    if (candidates.length > 0) while (rt.coldQueue.grant()) ;
  }
}

/** Host → revision; when several share a host the newest (by creation time) wins (DESIGN.md §2). */
function hostIndex(revs: Iterable<RevisionRuntime>): Map<string, RevisionRuntime> {
  const out = new Map<string, RevisionRuntime>();
  for (const rt of revs) {
    for (const h of rt.info.hosts) {
      const prev = out.get(h);
      if (!prev || (rt.info.createdAt ?? 0) > (prev.info.createdAt ?? 0)) out.set(h, rt);
    }
  }
  return out;
}
