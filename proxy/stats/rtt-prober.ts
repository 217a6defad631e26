// Node-to-node round trip, measured (DESIGN.md §2 "Peer hop", §4): every 5 s a `GET /` with
// `K-Network-Probe: rtt` to each peer proxy's peer listener, which answers it itself. The result
// seeds the latency of pods on that node (initialLatencyMs), goes to the controller in the stats
// report and to `ikukantai_node_rtt_seconds{from,to}`. Until a probe answers, the static or
// topology `rtt` prior stands in, on the gauge too.
//
// Measuring. undici closes an idle socket after 4 s and Node servers after 5 s, so at one round
// per 5 s most rounds open a new connection, and the first request on it also pays the TCP
// handshake (one more RTT on a real network). Each round therefore sends two probes back to back
// and keeps the faster. Across rounds we keep the minimum of the last 3 (15 s): queueing only ever
// adds delay, so the minimum tracks the path itself, which is what a prior should be; load on a
// node shows in its pods' own latency estimates instead. A real change of path shows within 15 s.
//
// A peer that does not answer keeps its last value (static stability: a slow or lost probe must not
// make a node look near), and is logged when it starts failing and when it answers again.

import { Client } from 'undici';
import type { Gauge } from 'prom-client';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { endpointKey, type Peer } from '../../lib/model.ts';

export interface RttProberOptions {
  /** This proxy's node (the `from` label). */
  node: string;
  /** Current peer proxies; read every round, so peers may come and go. */
  peers: () => Iterable<Peer>;
  intervalMs?: number;
  /** Round-trip prior in ms, rtt.get(a)?.get(b) (lib/model.ts Snapshot.rtt). */
  prior: Map<string, Map<string, number>>;
  /** `ikukantai_node_rtt_seconds` (ProxyMetrics['nodeRtt']). */
  metrics: Gauge<'from' | 'to'>;
  /** Source address of probe connections (`--node-address`), so relays see which node probes. */
  localAddress?: string;
  /** Longest wait for one round's two probes to a peer; default: the interval. */
  timeoutMs?: number;
  clock?: Clock;
  logger: Logger;
}

/** Rounds whose best sample is kept: 3 × 5 s. */
const WINDOW = 3;

interface Target {
  peer: Peer;
  client: Client;
  /** Best sample of each of the last WINDOW answered rounds, ms. */
  samples: number[];
  failing: boolean;
}

export class RttProber {
  readonly #node: string;
  readonly #peers: () => Iterable<Peer>;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #gauge: Gauge<'from' | 'to'>;
  readonly #localAddress: string | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #prior: Map<string, Map<string, number>>;
  readonly #targets = new Map<string, Target>();
  readonly #aborts = new Set<AbortController>();
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;
  #closed = false;

  constructor(opts: RttProberOptions) {
    this.#node = opts.node;
    this.#peers = opts.peers;
    this.#intervalMs = opts.intervalMs ?? 5_000;
    if (!(this.#intervalMs > 0)) throw new RangeError(`intervalMs must be positive, got ${opts.intervalMs}`);
    this.#timeoutMs = opts.timeoutMs ?? this.#intervalMs;
    this.#prior = opts.prior;
    this.#gauge = opts.metrics;
    this.#localAddress = opts.localAddress;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger;
  }

  /** Probes at once, then every interval. */
  start(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
    this.#tick();
  }

  /** The static file or --rtt-file changed. */
  setPrior(prior: Map<string, Map<string, number>>): void {
    this.#prior = prior;
    this.#export();
  }

  /** Measured round trip to `toNode` in ms if a probe ever answered, else the prior; 0 to itself. */
  rttMs(toNode: string): number | undefined {
    if (toNode === this.#node) return 0;
    const samples = this.#targets.get(toNode)?.samples;
    if (samples !== undefined && samples.length > 0) return Math.min(...samples);
    return this.#prior.get(this.#node)?.get(toNode);
  }

  /** Every peer's rttMs that is known, for the stats report's `rtt: {node: ms}`. */
  rttByNode(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const to of this.#targets.keys()) {
      const ms = this.rttMs(to);
      if (ms !== undefined) out[to] = ms;
    }
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    for (const ac of this.#aborts) ac.abort();
    await this.#round;
    const clients = [...this.#targets.values()].map((t) => t.client);
    for (const to of this.#targets.keys()) this.#gauge.remove({ from: this.#node, to });
    this.#targets.clear();
    await Promise.all(clients.map((c) => c.destroy().catch(() => {})));
  }

  #tick(): void {
    if (this.#round !== undefined || this.#closed) return; // a slow round is not stacked on
    this.#round = this.#probeAll().finally(() => {
      this.#round = undefined;
    });
  }

  async #probeAll(): Promise<void> {
    try {
      this.#syncTargets();
    } catch (err) {
      this.#logger.warn('rtt_peers_failed', { msg: String(err) });
    }
    this.#export();
    await Promise.all([...this.#targets.values()].map((t) => this.#probe(t)));
    if (!this.#closed) this.#export();
  }

  #syncTargets(): void {
    const seen = new Set<string>();
    for (const peer of this.#peers()) {
      if (peer.node === this.#node || seen.has(peer.node)) continue;
      seen.add(peer.node);
      const old = this.#targets.get(peer.node);
      if (old !== undefined && old.peer.address === peer.address && old.peer.port === peer.port) continue;
      if (old !== undefined) old.client.destroy().catch(() => {});
      const client = new Client(`http://${endpointKey(peer)}`, {
        pipelining: 1,
        ...(this.#localAddress !== undefined ? { localAddress: this.#localAddress } : {}),
      });
      // A moved peer keeps its samples: the node, not the address, is what the RTT describes.
      this.#targets.set(peer.node, { peer, client, samples: old?.samples ?? [], failing: old?.failing ?? false });
    }
    for (const [to, t] of this.#targets) {
      if (seen.has(to)) continue;
      this.#targets.delete(to);
      this.#gauge.remove({ from: this.#node, to });
      t.client.destroy().catch(() => {});
    }
  }

  async #probe(t: Target): Promise<void> {
    const ac = new AbortController();
    this.#aborts.add(ac);
    const timer = setTimeout(() => ac.abort(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    try {
      const first = await this.#once(t.client, ac.signal);
      const second = await this.#once(t.client, ac.signal);
      t.samples.push(Math.min(first, second));
      if (t.samples.length > WINDOW) t.samples.shift();
      if (t.failing) {
        t.failing = false;
        this.#logger.info('rtt_probe_recovered', { peer: t.peer.node, rttMs: this.rttMs(t.peer.node) });
      }
    } catch (err) {
      if (!t.failing && !this.#closed) {
        t.failing = true;
        this.#logger.warn('rtt_probe_failed', { peer: t.peer.node, address: endpointKey(t.peer), msg: errorMessage(err) });
      }
    } finally {
      clearTimeout(timer);
      this.#aborts.delete(ac);
    }
  }

  /** One probe's round trip in ms: request sent to response headers received. */
  async #once(client: Client, signal: AbortSignal): Promise<number> {
    const start = this.#clock.now();
    const res = await client.request({ method: 'GET', path: '/', headers: { 'k-network-probe': 'rtt' }, signal });
    const ms = this.#clock.now() - start;
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`probe answered ${res.statusCode}`);
    return ms;
  }

  #export(): void {
    for (const to of this.#targets.keys()) {
      const ms = this.rttMs(to);
      if (ms !== undefined) this.#gauge.set({ from: this.#node, to }, ms / 1000);
    }
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
