// A Prometheus histogram for the request path. prom-client's Histogram, even through a cached
// `labels(...)` child, rebuilds a string from every label name and value on each observe, checks
// the label names and replaces its map entry; once per request that was one of the larger costs of
// the hop (ikukantai_proxy_request_duration_seconds, DESIGN.md §6). Here each label set gets one
// Series object when it first appears, and the caller keeps it: an observe is a scan of ≤ 21
// bounds and three additions, nothing allocated.
//
// The registry reads it at scrape time through the same shape prom-client's own Histogram hands it
// (`getForPromString` for the text format, `get` for JSON), so the exposition is byte for byte what
// a prom-client Histogram with the same observations prints (test/unit/proxy/bucket-histogram.test.ts
// compares the two), default labels such as `node` included.

import type { Metric, Registry } from 'prom-client';

/** One label set's buckets. `observe(seconds)`; the caller keeps the object (no lookup per call). */
export class HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly #bounds: readonly number[];
  /** Per bucket, not cumulative: counts[i] holds bounds[i-1] < v ≤ bounds[i]; the last one, v > every bound. */
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  constructor(labels: Readonly<Record<string, string>>, bounds: readonly number[]) {
    this.labels = labels;
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    // prom-client refuses these too: one NaN would poison the sum for the life of the process.
    if (!Number.isFinite(value)) throw new TypeError(`histogram value is not a finite number: ${value}`);
    const b = this.#bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.#counts[i]!++;
    this.#sum += value;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Observations ≤ bounds[i], i.e. the cumulative `le` count Prometheus exposes. */
  cumulative(): number[] {
    const out: number[] = [];
    let acc = 0;
    for (let i = 0; i < this.#bounds.length; i++) out.push((acc += this.#counts[i]!));
    return out;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}

export interface BucketHistogramConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  /** Upper bounds, strictly increasing (the implicit +Inf is added). */
  buckets: readonly number[];
  registers?: readonly Registry[];
}

interface ExportValue {
  labels: Record<string, string | number>;
  sharedLabels: Readonly<Record<string, string>>;
  value: number;
  metricName: string;
}

export class BucketHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly labelNames: readonly L[];
  readonly upperBounds: readonly number[];
  readonly #series = new Map<string, HistogramSeries>();

  constructor(cfg: BucketHistogramConfig<L>) {
    for (let i = 1; i < cfg.buckets.length; i++) {
      if (!(cfg.buckets[i]! > cfg.buckets[i - 1]!)) throw new RangeError(`${cfg.name}: buckets must increase strictly`);
    }
    if (cfg.labelNames.includes('le' as L)) throw new RangeError(`${cfg.name}: "le" is reserved for buckets`);
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = cfg.labelNames;
    this.upperBounds = [...cfg.buckets];
    // The registry only reads name, get/getForPromString and reset; prom-client's types name its
    // own four metric classes, hence the cast.
    for (const r of cfg.registers ?? []) r.registerMetric(this as unknown as Metric);
  }

  /** The series of one label set, made on first use; keep it and call `observe` on it. */
  series(labels: Readonly<Record<L, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n]).join('\0');
    let s = this.#series.get(key);
    if (!s) {
      const own: Record<string, string> = {};
      for (const n of this.labelNames) own[n] = labels[n];
      s = new HistogramSeries(own, this.upperBounds);
      this.#series.set(key, s);
    }
    return s;
  }

  /** Zeroes every series; they stay listed (callers hold them), as zero until observed again. */
  reset(): void {
    for (const s of this.#series.values()) s.reset();
  }

  /** What Registry#metrics() formats: bucket labels apart from the series' own (shared) labels. */
  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: ExportValue[] }> {
    const values: ExportValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.#series.values()) {
      const shared = s.labels;
      const cumulative = s.cumulative();
      this.upperBounds.forEach((le, i) => values.push({ labels: { le }, sharedLabels: shared, value: cumulative[i]!, metricName: bucket }));
      values.push({ labels: { le: '+Inf' }, sharedLabels: shared, value: s.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: shared, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: shared, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** JSON form (Registry#getMetricsAsJSON): each value's labels include the series' own. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> }> {
    const data = await this.getForPromString();
    return { ...data, values: data.values.map((v) => ({ labels: { ...v.labels, ...v.sharedLabels }, value: v.value, metricName: v.metricName })) };
  }
}
