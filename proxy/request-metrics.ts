// The two per-request series, ikukantai_proxy_requests_total and ..._request_duration_seconds
// (DESIGN.md §6), counted without prom-client on the request path. prom-client hashes the label set
// on every inc/observe, even through a cached `labels(...)` child; here one plain record per
// (namespace, revision, target node) holds a running count per status code and its duration
// series. The counts reach the prom-client Counter only when it is scraped (its collect hook):
// each scrape adds what was counted since the last one, so the exposed totals are exact at every
// scrape and other writers of the same Counter keep working.
//
// Lookups go namespace → revision → target node through nested Maps: the callers pass the same
// string objects every time (from the revision table), whose hashes V8 caches, so this costs three
// small Map hits and builds no key string.

import type { HistogramSeries } from './bucket-histogram.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';

interface CodeCount {
  code: number;
  total: number;
  /** Part of `total` already handed to the Counter. */
  pushed: number;
}

interface Series {
  namespace: string;
  revision: string;
  targetNode: string;
  /** A handful of codes per series (200, a few errors): a short array beats a Map. */
  codes: CodeCount[];
  duration: HistogramSeries | undefined;
}

export class RequestMetrics {
  readonly #m: ProxyMetrics;
  readonly #series = new Map<string, Map<string, Map<string, Series>>>();

  constructor(m: ProxyMetrics) {
    this.#m = m;
    m.onScrapeRequests = () => this.#flush();
  }

  /** Counts one answered request and, when it reached a revision, its duration in seconds. */
  record(namespace: string, revision: string, code: number, targetNode: string, seconds: number | undefined): void {
    const s = this.#seriesOf(namespace, revision, targetNode);
    const codes = s.codes;
    let c: CodeCount | undefined;
    for (let i = 0; i < codes.length; i++) {
      if (codes[i]!.code === code) {
        c = codes[i];
        break;
      }
    }
    if (c === undefined) {
      c = { code, total: 0, pushed: 0 };
      codes.push(c);
    }
    c.total++;
    if (seconds === undefined) return;
    s.duration ??= this.#m.requestDuration.series({ namespace, revision, target_node: targetNode });
    s.duration.observe(seconds);
  }

  #seriesOf(namespace: string, revision: string, targetNode: string): Series {
    let byRevision = this.#series.get(namespace);
    if (byRevision === undefined) {
      byRevision = new Map();
      this.#series.set(namespace, byRevision);
    }
    let byTarget = byRevision.get(revision);
    if (byTarget === undefined) {
      byTarget = new Map();
      byRevision.set(revision, byTarget);
    }
    let s = byTarget.get(targetNode);
    if (s === undefined) {
      s = { namespace, revision, targetNode, codes: [], duration: undefined };
      byTarget.set(targetNode, s);
    }
    return s;
  }

  /** Scrape time: hands the Counter what was counted since the last scrape. */
  #flush(): void {
    const counter = this.#m.requests;
    for (const byRevision of this.#series.values()) {
      for (const byTarget of byRevision.values()) {
        for (const s of byTarget.values()) {
          for (const c of s.codes) {
            if (c.total === c.pushed) continue;
            counter.inc({ namespace: s.namespace, revision: s.revision, code: String(c.code), target_node: s.targetNode }, c.total - c.pushed);
            c.pushed = c.total;
          }
        }
      }
    }
  }
}
