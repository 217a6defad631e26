// Latency estimate for one endpoint, the way tower's PeakEwma and Finagle's do it: a slower sample
// replaces the estimate at once (so a pod that starts to struggle is avoided on its next response),
// a faster one pulls it down by an exponential weight of the time since the last sample (so the
// estimate forgets at a rate set in wall time, τ ≈ 10 s, not in request count).
//
// Read-time decay. tower decays an idle estimate towards 0 so that a pod once seen slow is tried
// again. Towards 0 would make an idle *remote* pod look free after a minute (52 ms × e^-6 ≈ 0.13 ms)
// and pull a burst of requests across the network before the first answer corrects it. We decay
// towards the seed instead (the node RTT prior + the revision's service time): a slow pod that gets
// no traffic drifts back to "a normal pod on that node" and is tried again, never below that.
// The decay is a view, not a state change: under steady traffic the stored value converges to the
// samples, and the next sample simply takes the share the seed had (both weights are e^(-Δt/τ)).

/** Floor for samples and seeds: a 0 ms latency would make cost = latency × load ignore the load. */
export const MIN_LATENCY_MS = 0.001;

export class PeakEwma {
  readonly #seed: number;
  readonly #tau: number;
  #value: number;
  /** Time of the last sample; undefined until the first one, which replaces the seed whole. */
  #at: number | undefined;

  constructor(initialMs: number, tauMs = 10_000) {
    if (!(initialMs > 0) || !Number.isFinite(initialMs)) throw new RangeError(`initialMs must be a positive number, got ${initialMs}`);
    if (!(tauMs > 0)) throw new RangeError(`tauMs must be positive, got ${tauMs}`);
    this.#seed = initialMs;
    this.#tau = tauMs;
    this.#value = initialMs;
  }

  observe(ms: number, now: number): void {
    const sample = ms > MIN_LATENCY_MS ? ms : MIN_LATENCY_MS;
    const at = this.#at;
    if (at === undefined || sample >= this.estimate(now)) {
      this.#value = sample;
    } else {
      const w = now > at ? Math.exp(-(now - at) / this.#tau) : 1;
      this.#value = this.#value * w + sample * (1 - w);
    }
    if (at === undefined || now > at) this.#at = now;
  }

  estimate(now: number): number {
    const v = this.#value;
    const at = this.#at;
    if (at === undefined || v <= this.#seed || now <= at) return v;
    return this.#seed + (v - this.#seed) * Math.exp(-(now - at) / this.#tau);
  }
}
