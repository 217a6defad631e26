// Every proxy series of DESIGN.md §6, registered into an injected Registry (several proxies share a
// test process, so never the global one) with the const label `node`.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.ts';

// Request latency at the edge spans sub-millisecond local hits to cross-node hops of 50–100 ms and
// slow functions of seconds: buckets dense below 25 ms (where local vs remote separates) and
// sparse out to the 300 s default revision timeout.
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

// Cold starts run from ~20 ms (pod already listening, our 25 ms probe) to the 60 s default limit;
// Knative's own 200 ms probe period sits in the middle, so both sides of it are resolved.
const COLD_START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60];

export interface ProxyMetrics {
  registry: Registry;
  requests: Counter<'namespace' | 'revision' | 'code' | 'target_node'>;
  /** Observed once per request, so not a prom-client Histogram (bucket-histogram.ts says why). */
  requestDuration: BucketHistogram<'namespace' | 'revision' | 'target_node'>;
  inflight: Gauge<'namespace' | 'revision'>;
  queued: Gauge<'namespace' | 'revision'>;
  coldStartDuration: Histogram<'namespace' | 'revision'>;
  rejected: Counter<'reason'>;
  nodeRtt: Gauge<'from' | 'to'>;
  /**
   * Runs when `requests` is scraped. The request path counts into plain numbers (RequestMetrics)
   * and hands them to the counter here, so no label set is hashed per request.
   */
  onScrapeRequests: (() => void) | undefined;
}

/** Per-revision load read at scrape time, so the request path never touches the gauges. */
export interface RevisionLoad {
  namespace: string;
  name: string;
  inflight: number;
  queued: number;
}

export function createProxyMetrics(node: string, registry = new Registry(), load: () => Iterable<RevisionLoad> = () => []): ProxyMetrics {
  registry.setDefaultLabels({ node });
  const registers = [registry];
  const m: ProxyMetrics = {
    registry,
    requests: new Counter({
      name: 'ikukantai_proxy_requests_total',
      help: 'Requests answered by this proxy, by revision, status code and the node of the pod that served them',
      labelNames: ['namespace', 'revision', 'code', 'target_node'] as const,
      registers,
      collect: () => m.onScrapeRequests?.(),
    }),
    requestDuration: new BucketHistogram({
      name: 'ikukantai_proxy_request_duration_seconds',
      help: 'Ingress-side time from request arrival to the last response byte',
      labelNames: ['namespace', 'revision', 'target_node'] as const,
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    inflight: new Gauge({
      name: 'ikukantai_proxy_inflight_requests',
      help: 'Requests in flight to pods on this node (owner side)',
      labelNames: ['namespace', 'revision'] as const,
      registers,
      collect() {
        this.reset();
        for (const r of load()) this.set({ namespace: r.namespace, revision: r.name }, r.inflight);
      },
    }),
    queued: new Gauge({
      name: 'ikukantai_proxy_queued_requests',
      help: 'Requests waiting in this proxy for a pod slot or a first ready pod',
      labelNames: ['namespace', 'revision'] as const,
      registers,
      collect() {
        this.reset();
        for (const r of load()) this.set({ namespace: r.namespace, revision: r.name }, r.queued);
      },
    }),
    coldStartDuration: new Histogram({
      name: 'ikukantai_proxy_cold_start_duration_seconds',
      help: 'Time a request waited for a first ready pod of its revision',
      labelNames: ['namespace', 'revision'] as const,
      buckets: COLD_START_BUCKETS,
      registers,
    }),
    rejected: new Counter({
      name: 'ikukantai_proxy_rejected_requests_total',
      help: 'Requests this proxy answered with its own error, by error code',
      labelNames: ['reason'] as const,
      registers,
    }),
    nodeRtt: new Gauge({
      name: 'ikukantai_node_rtt_seconds',
      help: 'Measured round trip from this node to a peer node (peer probe, or the configured prior until one answers)',
      labelNames: ['from', 'to'] as const,
      registers,
    }),
    onScrapeRequests: undefined,
  };
  return m;
}
