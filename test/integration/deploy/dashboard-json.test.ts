// The Grafana dashboard checked without Prometheus or Grafana: it parses, every panel query names
// only metrics the proxy and controller really register (read from their metric factories, so a
// renamed metric fails here), legends use labels those metrics carry, and the panels the issue asks
// for are there. The e2e test runs the same queries against a real Prometheus.

import { readFile } from 'node:fs/promises';
import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { createProxyMetrics } from '../../../proxy/proxy-metrics.ts';
import { createControllerMetrics } from '../../../controller/controller-metrics.ts';
import { registerProcessMetrics } from '../../../lib/process-metrics.ts';
import { expandVariables, metricNames, panelQueries, variableQueries } from '../../../deploy/grafana/dashboard-queries.ts';

const DASHBOARD = new URL('../../../deploy/grafana/ikukantai-dashboard.json', import.meta.url);

/** Selectable series name → label names, from the real factories (histograms as _bucket/_sum/_count). */
function knownSeries(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  // A series both processes export (the process collectors) carries the labels of either.
  const put = (name: string, labels: Iterable<string>): void => {
    out.set(name, new Set([...(out.get(name) ?? []), ...labels]));
  };
  const add = (registry: Registry, constLabels: string[]): void => {
    for (const m of registry.getMetricsAsArray()) {
      const labels = [...((m as { labelNames?: readonly string[] }).labelNames ?? []), ...constLabels];
      if (m instanceof Histogram || String((m as unknown as { type?: unknown }).type) === 'histogram') {
        put(`${m.name}_bucket`, [...labels, 'le']);
        put(`${m.name}_sum`, labels);
        put(`${m.name}_count`, labels);
      } else {
        put(m.name, labels);
      }
    }
  };
  // The bins add the process collectors to the same registries.
  const proxy = createProxyMetrics('node1').registry;
  registerProcessMetrics(proxy);
  add(proxy, ['node']);
  const controller = createControllerMetrics().registry;
  registerProcessMetrics(controller);
  add(controller, []);
  return out;
}

const dashboard: unknown = JSON.parse(await readFile(DASHBOARD, 'utf8'));
const queries = panelQueries(dashboard);
const known = knownSeries();

t.test('metricNames scans PromQL', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['up', ['up']],
    ['sum by (le, node) (rate(a_bucket{x=~"by (y)", z="q{"}[1m]))', ['a_bucket']],
    ['histogram_quantile(0.99, sum(rate(a_bucket[5m])) by (le))', ['a_bucket']],
    ['a / on (node) group_left (target) b > bool 1e3', ['a', 'b']],
    ['max without (instance) (x offset 5m) or vector(0)', ['x']],
    ['x offset 1h30m + y @ 1609746000 - z[500ms:100ms]', ['x', 'y', 'z']],
  ];
  for (const [expr, want] of cases) t.same(metricNames(expr), want, expr);
  t.throws(() => metricNames('rate(x[$__rate_interval])'), /unexpanded/);
});

t.test('expandVariables fills what Grafana sends for All', async (t) => {
  t.equal(
    expandVariables('rate(x{a=~"$namespace", b=~"${node}"}[$__rate_interval])'),
    'rate(x{a=~".*", b=~".*"}[1m])',
  );
});

t.test('dashboard shape: schema, datasource and variables', async (t) => {
  const d = dashboard as { schemaVersion: number; uid: string; templating: { list: Array<Record<string, unknown>> } };
  t.ok(d.schemaVersion >= 36 && d.schemaVersion <= 41, `schemaVersion ${d.schemaVersion}`);
  t.ok(d.uid, 'has a stable uid');
  const vars = new Map(d.templating.list.map((v) => [v['name'], v]));
  t.equal(vars.get('datasource')?.['type'], 'datasource');
  t.equal(vars.get('datasource')?.['query'], 'prometheus');
  for (const name of ['namespace', 'revision', 'node']) {
    const v = vars.get(name);
    t.equal(v?.['type'], 'query', `${name} is a query variable`);
    t.equal(v?.['allValue'], '.*', `${name} "All" is a regex`);
    t.equal(v?.['includeAll'], true);
  }
  for (const v of variableQueries(dashboard)) {
    for (const m of metricNames(expandVariables(v.selector))) t.ok(known.has(m), `variable ${v.name}: ${m} exists`);
  }
  const uids: unknown[] = [];
  JSON.stringify(dashboard, (key, value: unknown) => {
    if (key === 'datasource' && typeof value === 'object' && value !== null) uids.push((value as { uid?: unknown }).uid);
    return value;
  });
  t.ok(uids.length > queries.length, 'panels and targets name a datasource');
  t.ok(uids.every((u) => u === '${datasource}'), 'all of them the datasource variable');
});

t.test('every panel query names only exported metrics, with their labels', async (t) => {
  t.ok(queries.length >= 14, `${queries.length} queries`);
  for (const q of queries) {
    const where = `${q.panel} ${q.refId}`;
    const names = metricNames(expandVariables(q.expr));
    t.ok(names.length > 0, `${where}: selects a metric`);
    const labels = new Set<string>();
    for (const n of names) {
      const l = known.get(n);
      t.ok(l, `${where}: ${n} is a metric we export`);
      for (const x of l ?? []) labels.add(x);
    }
    for (const l of q.legendLabels) t.ok(labels.has(l), `${where}: legend label ${l} is a label of ${names.join(', ')}`);
    // A fixed range would be too short for a slow scrape or blur a fast one; Grafana picks it.
    for (const m of q.expr.matchAll(/\[([^\]]+)\]/g)) t.equal(m[1], '$__rate_interval', `${where}: range is $__rate_interval`);
  }
});

t.test('the panels the issue asks for', async (t) => {
  const find = (re: RegExp): typeof queries => queries.filter((q) => re.test(q.expr));
  for (const quantile of ['0.5', '0.99']) {
    const p = find(new RegExp(`histogram_quantile\\(${quantile}, sum by \\(le, node, target_node\\) \\(rate\\(ikukantai_proxy_request_duration_seconds_bucket`));
    t.equal(p.length, 1, `latency p${Number(quantile) * 100} per entry and target node`);
  }
  const heatmap = (dashboard as { panels: Array<{ type: string; targets?: Array<{ expr: string; format?: string }> }> }).panels.filter(
    (p) => p.type === 'heatmap',
  );
  t.equal(heatmap.length, 1, 'a latency heatmap');
  t.equal(heatmap[0]?.targets?.[0]?.format, 'heatmap');
  t.match(heatmap[0]?.targets?.[0]?.expr ?? '', /ikukantai_proxy_request_duration_seconds_bucket/);
  t.ok(find(/ikukantai_node_rtt_seconds/).some((q) => q.instant && q.legendLabels.includes('from') && q.legendLabels.includes('to')), 'RTT matrix');
  t.ok(find(/ikukantai_proxy_inflight_requests/).some((q) => q.legendLabels.includes('revision')), 'in flight per revision');
  t.ok(find(/ikukantai_proxy_queued_requests/).some((q) => q.legendLabels.includes('revision')), 'queued per revision');
  t.ok(find(/ikukantai_proxy_cold_start_duration_seconds_count/).length >= 1, 'cold starts');
  t.ok(find(/ikukantai_proxy_rejected_requests_total/).some((q) => q.legendLabels.includes('reason')), 'rejected by reason');
  const desired = find(/ikukantai_controller_desired_pods/);
  const ready = find(/ikukantai_controller_ready_pods/);
  t.ok(desired.length === 1 && ready.length === 1 && desired[0]?.panel === ready[0]?.panel, 'desired vs ready in one panel');
  t.ok(desired[0]?.legendLabels.includes('node'), 'per node');
  for (const m of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds']) {
    t.ok(find(new RegExp(m)).some((q) => q.legendLabels.includes('node') && q.expr.includes('node!=""')), `${m} per proxy (node set)`);
  }
});
