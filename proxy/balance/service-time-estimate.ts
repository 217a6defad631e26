// The seed for a pod nobody has measured yet: the node RTT prior plus what a request to this
// revision typically takes at a pod. Without it a new pod would start at an arbitrary number and
// either be flooded (seed too low: cost = seed × load stays small) or starved (seed too high). So the
// proxy keeps one ServiceTimeEstimate per revision, fed with the latencies of *local* pods (no
// network in them), and seeds new pods with initialLatencyMs(rtt prior, estimate).
//
// A time-weighted EWMA (τ = 10 s, as the per-pod estimate) rather than a peak-EWMA: it describes the
// typical pod, and one slow pod must not make every new pod look slow.

import { MIN_LATENCY_MS } from './peak-ewma.ts';

/**
 * Before any local response: 1 ms. The value only matters relative to RTT priors (1 ms vs a 50 ms
 * remote link keeps a never-measured revision local, the edge default), and the first local
 * response replaces it.
 */
export const DEFAULT_SERVICE_TIME_MS = 1;

export function initialLatencyMs(rttPriorMs: number, serviceTimeMs: number): number {
  const ms = rttPriorMs + serviceTimeMs;
  return ms > MIN_LATENCY_MS ? ms : MIN_LATENCY_MS;
}

export class ServiceTimeEstimate {
  readonly #tau: number;
  #value: number;
  #at: number | undefined;

  constructor(initialMs = DEFAULT_SERVICE_TIME_MS, tauMs = 10_000) {
    if (!(initialMs > 0)) throw new RangeError(`initialMs must be positive, got ${initialMs}`);
    this.#tau = tauMs;
    this.#value = initialMs;
  }

  observe(ms: number, now: number): void {
    const sample = ms > MIN_LATENCY_MS ? ms : MIN_LATENCY_MS;
    const at = this.#at;
    if (at === undefined) {
      this.#value = sample;
      this.#at = now;
      return;
    }
    if (now <= at) return; // same instant: weight e^0 = 1 keeps the old value anyway
    const w = Math.exp(-(now - at) / this.#tau);
    this.#value = this.#value * w + sample * (1 - w);
    this.#at = now;
  }

  estimate(): number {
    return this.#value;
  }
}
