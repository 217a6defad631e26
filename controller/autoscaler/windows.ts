// Bucketed time averages for the autoscaler, in the spirit of Knative's timed buckets: samples
// fall into fixed buckets (1 s by default, the proxies' report interval), each bucket keeps the mean
// of its samples, and a window's average is the mean over the non-empty buckets inside it.
// Averaging per bucket first makes a tick that happens to land twice in one second (a poke right
// after the regular tick) weigh no more than any other second. An empty bucket means "no sample",
// not "zero": the reconcile loop records a sample every tick, zeros included.

interface Bucket {
  index: number;
  sum: number;
  count: number;
}

export interface WindowedAverageOptions {
  /** Bucket width in ms (default 1000). */
  bucketMs?: number;
  /** Longest window ever asked for, in ms; older buckets are dropped. */
  retainMs: number;
}

export class WindowedAverage {
  readonly #bucketMs: number;
  #retainMs: number;
  // Oldest first; at most retainMs / bucketMs + 1 entries (3601 for Knative's 1 h maximum window).
  readonly #buckets: Bucket[] = [];

  constructor({ bucketMs = 1000, retainMs }: WindowedAverageOptions) {
    this.#bucketMs = bucketMs;
    this.#retainMs = retainMs;
  }

  /** Changes the retention when a revision's window annotation changes. */
  set retainMs(ms: number) {
    this.#retainMs = ms;
  }

  record(now: number, value: number): void {
    const index = Math.floor(now / this.#bucketMs);
    const last = this.#buckets.at(-1);
    if (last && last.index === index) {
      last.sum += value;
      last.count++;
    } else if (!last || last.index < index) {
      this.#buckets.push({ index, sum: value, count: 1 });
    }
    // A sample older than the newest bucket (a clock that went backwards) is dropped: the windows
    // only ever move forward.
    this.#trim(now);
  }

  /**
   * Mean over the buckets inside (now - windowMs, now]; undefined when none holds a sample.
   * E.g. with 1 s buckets and a 6 s window at now = 10.5 s, buckets 5..10 count.
   */
  average(now: number, windowMs: number): number | undefined {
    const newest = Math.floor(now / this.#bucketMs);
    const oldest = Math.floor((now - windowMs) / this.#bucketMs) + 1;
    let total = 0;
    let n = 0;
    for (let i = this.#buckets.length - 1; i >= 0; i--) {
      const b = this.#buckets[i]!;
      if (b.index < Math.min(oldest, newest)) break;
      if (b.index > newest) continue;
      total += b.sum / b.count;
      n++;
    }
    return n === 0 ? undefined : total / n;
  }

  #trim(now: number): void {
    const keepFrom = Math.floor((now - this.#retainMs) / this.#bucketMs);
    let drop = 0;
    while (drop < this.#buckets.length && this.#buckets[drop]!.index < keepFrom) drop++;
    if (drop > 0) this.#buckets.splice(0, drop);
  }
}
