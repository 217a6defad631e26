// What the proxies last said, per node (DESIGN.md §4): the demand entering there per revision, its
// RTT to the other nodes, and cold-start pokes. A node's report expires after 3 of its intervals
// (a proxy that stopped reporting is gone or cut off, and its old demand must not hold pods); its
// demand then counts as 0. RTTs don't expire: the network between two nodes outlives a report.
// Time is the controller's clock at arrival, never the proxy's `time` (clocks differ between
// nodes); `time` only orders reports from one node, so a late duplicate can't roll demand back.

import { revisionKey } from '../lib/model.ts';
import type { StatsReport } from './stats-report.ts';

export interface DemandStoreOptions {
  /** Reports expire after this many intervals (DESIGN.md §4: 3). */
  expireIntervals?: number;
  /** Interval assumed for a node whose only report so far is a poke (its partial interval is ~0). */
  defaultIntervalMs?: number;
}

interface NodeEntry {
  /** Report `time` (ms since the epoch) of the newest regular report. */
  reportedAt: number;
  expiresAt: number;
  /** Concurrency per revision key. */
  concurrency: Map<string, number>;
}

export class DemandStore {
  readonly #expireIntervals: number;
  readonly #defaultIntervalMs: number;
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #rtt = new Map<string, Map<string, number>>();
  /** revision key → node → clock time of its latest poke. */
  readonly #pokes = new Map<string, Map<string, number>>();

  constructor({ expireIntervals = 3, defaultIntervalMs = 1000 }: DemandStoreOptions = {}) {
    this.#expireIntervals = expireIntervals;
    this.#defaultIntervalMs = defaultIntervalMs;
  }

  /** Takes a validated report that arrived at clock time `now`. */
  record(report: StatsReport, now: number): void {
    const reportedAt = Date.parse(report.time);
    const old = this.#nodes.get(report.node);
    if (old && !report.poke && reportedAt < old.reportedAt) return;
    this.#rtt.set(report.node, new Map(Object.entries(report.rtt)));
    if (report.poke) {
      // A poke carries only the cold revision: it updates that one and leaves the node's other
      // demand and its expiry to the regular reports.
      const live = old && now < old.expiresAt ? old : undefined;
      const entry = live ?? this.#entry(report.node, -Infinity, now + this.#expireIntervals * this.#defaultIntervalMs);
      for (const r of report.revisions) {
        const key = revisionKey(r.namespace, r.name);
        entry.concurrency.set(key, r.concurrency);
        let byNode = this.#pokes.get(key);
        if (!byNode) this.#pokes.set(key, (byNode = new Map()));
        byNode.set(report.node, now);
      }
      return;
    }
    const intervalMs = report.intervalSeconds > 0 ? report.intervalSeconds * 1000 : this.#defaultIntervalMs;
    const entry = this.#entry(report.node, reportedAt, now + this.#expireIntervals * intervalMs);
    for (const r of report.revisions) entry.concurrency.set(revisionKey(r.namespace, r.name), r.concurrency);
  }

  /** Concurrency entering at each node with an unexpired report that mentions the revision. */
  concurrency(namespace: string, name: string, now: number): Map<string, number> {
    const key = revisionKey(namespace, name);
    const out = new Map<string, number>();
    for (const [node, entry] of this.#nodes) {
      const c = entry.concurrency.get(key);
      if (c !== undefined && now < entry.expiresAt) out.set(node, c);
    }
    return out;
  }

  /** Nodes that poked for the revision at or after `since` (clock time). */
  pokedSince(namespace: string, name: string, since: number): string[] {
    const byNode = this.#pokes.get(revisionKey(namespace, name));
    return byNode ? [...byNode].filter(([, at]) => at >= since).map(([node]) => node) : [];
  }

  /** Clock time of the revision's latest poke from any node. */
  lastPoke(namespace: string, name: string): number | undefined {
    const byNode = this.#pokes.get(revisionKey(namespace, name));
    return byNode && byNode.size > 0 ? Math.max(...byNode.values()) : undefined;
  }

  /** Every node that ever reported (known nodes, DESIGN.md §4). */
  nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** Measured RTT in ms: what `from` reported for `to`, else what `to` reported for `from`. */
  rtt(from: string, to: string): number | undefined {
    return this.#rtt.get(from)?.get(to) ?? this.#rtt.get(to)?.get(from);
  }

  /** Forgets pokes of revisions no longer scaled. */
  retain(revisionKeys: ReadonlySet<string>): void {
    for (const key of this.#pokes.keys()) if (!revisionKeys.has(key)) this.#pokes.delete(key);
  }

  #entry(node: string, reportedAt: number, expiresAt: number): NodeEntry {
    const entry: NodeEntry = { reportedAt, expiresAt, concurrency: new Map() };
    this.#nodes.set(node, entry);
    return entry;
  }
}
