// What the picker knows about one pod: our own in-flight count, the owner's last load report and a
// peak-EWMA latency. The proxy keeps one object per endpoint key across snapshot updates, ++/-- its
// `inflight`, feeds `observe` when a response body ends and `reportLoad` from `Ikukantai-Load`.
//
// How a remote report combines with our count. The owner counts every request in flight to the pod,
// ours included, at the moment it sent response headers; we read that while our own count still
// includes the request that carried it. So the others' share is `reported - ours-at-report`, and
// the load now is that share plus our current count plus the owner's queue. Counting
// max(ours, reported) instead would forget the others as soon as we send more; adding the report to
// ours would count our own requests twice.
//
// A report ages out after REPORT_TTL_MS: 3 s is three stats intervals (the controller's own expiry
// for a node's report, DESIGN.md §4) and, at the pick rates that make reports matter (≥ 1/s to a
// pod), several fresh reports arrive first. An unrefreshed report means we stopped sending there,
// and other proxies' load then is not ours to guess.
//
// This node's pods: their owner is this very process, so the revision's owner queue is read live
// (`ownerQueue`) rather than from the last report. A report is sampled when response headers leave,
// so a burst that arrives before the first answer would otherwise see an empty queue on every pick
// and all of it would queue here behind cc (measured: 18 of 20 concurrent requests on one cc=1 pod
// with two idle pods 50 ms away; test/integration/proxy/edge-balancing.test.ts).
//
// Layout: EndpointStats *is* its PeakEwma (extends it) rather than holding one, so a pod's latency
// and load live in one object. At 10 k pods a p2c pick reads ~4 cold pods; one object less per pod
// measured 1.3–2× more picks/s (bench/micro/pick.ts).

import { PeakEwma } from './peak-ewma.ts';
import type { Load } from './load-header.ts';

export const REPORT_TTL_MS = 3_000;

export interface EndpointStatsOptions {
  key: string;
  node: string;
  local: boolean;
  /** Seed for the latency estimate: node RTT prior + the revision's service time (initialLatencyMs). */
  initialLatencyMs: number;
  /** Decay constant of the latency estimate; DESIGN.md §2 says τ ≈ 10 s. */
  tauMs?: number;
  /** Local pods: the revision's owner queue (PodThrottler), read at every pick. */
  ownerQueue?: OwnerQueue;
}

/** What a local pod's cost reads from this proxy's own owner side. */
export interface OwnerQueue {
  readonly queued: number;
}

/** A pod as the picker sees it; `observe(latencyMs, now)` (from PeakEwma) when a response body ends. */
export class EndpointStats extends PeakEwma {
  readonly key: string;
  readonly node: string;
  readonly local: boolean;
  /** Requests this proxy sent to the pod and not finished (the proxy does ++ and --). */
  inflight = 0;
  /** Other senders' in-flight requests at the owner, from the last fresh report. */
  #others = 0;
  #queued = 0;
  #cc = 0;
  /** When the last report was seen; -Infinity when none. */
  #reportedAt = Number.NEGATIVE_INFINITY;
  readonly #ownerQueue: OwnerQueue | undefined;

  constructor(opts: EndpointStatsOptions) {
    super(opts.initialLatencyMs, opts.tauMs);
    this.key = opts.key;
    this.node = opts.node;
    this.local = opts.local;
    this.#ownerQueue = opts.ownerQueue;
  }

  /** Owner-reported load from `Ikukantai-Load`, read while this response still counts in `inflight`. */
  reportLoad(load: Load, now: number): void {
    const others = load.inflight - this.inflight;
    this.#others = others > 0 ? others : 0;
    this.#queued = load.queued;
    this.#cc = load.cc;
    this.#reportedAt = now;
  }

  /** The peak-EWMA latency estimate, ms. */
  latency(now: number): number {
    return this.estimate(now);
  }

  /** Requests ahead of a new one at this pod: ours + others' in flight + the owner's queue. */
  load(now: number): number {
    const owner = this.#ownerQueue;
    if (now - this.#reportedAt > REPORT_TTL_MS) return owner === undefined ? this.inflight : this.inflight + owner.queued;
    return this.inflight + this.#others + (owner === undefined ? this.#queued : owner.queued);
  }

  /** DESIGN.md §2: latency × (inflight + queued + 1), in ms-requests; lower is better. */
  cost(now: number): number {
    return this.estimate(now) * (this.load(now) + 1);
  }

  /** The last owner report as it arrived (for logs and debugging), or undefined once aged out. */
  reported(now: number): Load | undefined {
    if (now - this.#reportedAt > REPORT_TTL_MS) return undefined;
    return { inflight: this.#others + this.inflight, queued: this.#queued, cc: this.#cc };
  }
}
