// Hot-path access to the per-request series. prom-client hashes label values on every inc/observe;
// caching the labelled children per (revision, code, target) turns that into one Map lookup.

import type { Counter, Histogram } from 'prom-client';
import type { ProxyMetrics } from './proxy-metrics.ts';

type CounterChild = ReturnType<Counter<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

export class RequestMetrics {
  readonly #m: ProxyMetrics;
  readonly #counts = new Map<string, CounterChild>();
  readonly #durations = new Map<string, HistogramChild>();

  constructor(m: ProxyMetrics) {
    this.#m = m;
  }

  /** Counts one answered request and, when it reached a revision, its duration in seconds. */
  record(namespace: string, revision: string, code: number, targetNode: string, seconds: number | undefined): void {
    const key = `${namespace}\0${revision}\0${targetNode}`;
    const ckey = `${key}\0${code}`;
    let c = this.#counts.get(ckey);
    if (!c) {
      c = this.#m.requests.labels(namespace, revision, String(code), targetNode);
      this.#counts.set(ckey, c);
    }
    c.inc();
    if (seconds === undefined) return;
    let h = this.#durations.get(key);
    if (!h) {
      h = this.#m.requestDuration.labels(namespace, revision, targetNode);
      this.#durations.set(key, h);
    }
    h.observe(seconds);
  }
}
