// The Grafana dashboard against the real thing: the emulated cluster (real proxies and controller,
// address offset 160) under load, scraped every second by the real Prometheus, and every panel
// query of deploy/grafana run through Prometheus's HTTP API the way Grafana would send it with "All"
// selected ($__rate_interval → 1m, variables → .*). Each must return series carrying the labels
// its legend prints. Then the latency panel has to tell the edge story: for requests entering at
// node3, p50 of those served on node3 is below p50 of those sent to node1 (50 ms away).
//
// To get traffic to node1 at all, the revision gets min-scale 2 with one pod per node at most, so
// the controller places one pod on node3 (where demand enters) and overflows one to node1 (nearest
// with room: this cluster puts node2 80 ms from node3, so measured RTT noise can't make node2 win
// over node1's 50 ms), and the proxies balance round-robin so node3 sends half its requests to
// node1 no matter how slow that is.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { Pool } from 'undici';
import { readyPods, startCluster } from '../../deploy/local/cluster.ts';
import { defaultTopology, parseTopology, topologyDocument } from '../../deploy/local/topology.ts';
import { clusterScrapeTargets, findPrometheus, startPrometheus, type PromSample, type Prometheus } from '../../deploy/local/prometheus.ts';
import { expandVariables, panelQueries, variableQueries } from '../../deploy/grafana/dashboard-queries.ts';

const OFFSET = 160;
const ENTRY = 'node3';
const FAR = 'node1';
const LOAD = { workers: 6, maxRequests: 1200, maxMs: 12_000 };

const controllerBin = new URL('../../controller/bin.ts', import.meta.url);
const binary = await findPrometheus();
const skip = !binary
  ? 'prometheus is not installed (apt-get install prometheus; .ci/run installs it)'
  : !existsSync(controllerBin)
    ? 'controller/bin.ts does not exist yet'
    : false;

const dashboard: unknown = JSON.parse(await readFile(new URL('../../deploy/grafana/ikukantai-dashboard.json', import.meta.url), 'utf8'));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Closed-loop load into one node, bounded in count and time; returns status counts. */
async function load(pool: Pool, host: string): Promise<Map<number, number>> {
  const codes = new Map<number, number>();
  const end = Date.now() + LOAD.maxMs;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < LOAD.maxRequests && Date.now() < end) {
      sent++;
      const res = await pool.request({ method: 'GET', path: '/', headers: { host } });
      await res.body.dump();
      codes.set(res.statusCode, (codes.get(res.statusCode) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: LOAD.workers }, worker));
  return codes;
}

// Booting the cluster with the controller takes seconds on an idle machine but over a minute on a
// loaded one (children run under tap's coverage hooks), so this file gets more than tap's 120 s.
t.setTimeout(240_000);
t.test('every dashboard panel query returns its series from the emulated cluster', { skip, timeout: 230_000 }, async (t) => {
  const doc = topologyDocument(defaultTopology());
  const topology = parseTopology({ ...doc, rtt: { node1: { node2: 1, node3: 50 }, node2: { node3: 80 } } });
  const cluster = await startCluster({
    offset: OFFSET,
    topology,
    withController: true,
    proxyArgs: ['--balancer', 'round-robin'],
    controllerArgs: ['--pod-cap-per-node', '1'],
  });
  t.teardown(() => cluster.close());
  const prom = (await startPrometheus({ listen: cluster.addresses.prometheus, targets: clusterScrapeTargets(cluster.addresses), binary })) as Prometheus;
  t.teardown(() => prom.close());
  await prom.waitForTargets(20_000);

  const entry = cluster.nodes.find((n) => n.name === ENTRY)!;
  const pool = new Pool(entry.ingressUrl, { connections: LOAD.workers });
  t.teardown(() => pool.close());

  // 1. A cold start: no pod anywhere yet; the first request waits for the one its poke brings.
  t.equal(readyPods(cluster.api, cluster.topology, ENTRY) + readyPods(cluster.api, cluster.topology, FAR), 0, 'starts at zero pods');
  const first = await pool.request({ method: 'GET', path: '/', headers: { host: cluster.host } });
  t.equal(first.statusCode, 200, 'cold request answered');
  await first.body.dump();

  // 2. min-scale 2, one pod per node: the second pod overflows to node1.
  const { namespace, revision } = cluster.topology.demo;
  const rev = cluster.api.get({ apiVersion: 'serving.knative.dev/v1', kind: 'Revision', namespace, name: revision })!;
  const meta = rev.metadata as { annotations?: Record<string, string> };
  cluster.api.apply({ ...rev, metadata: { ...meta, annotations: { ...meta.annotations, 'autoscaling.knative.dev/min-scale': '2' } } });
  await until(`a ready pod on ${ENTRY} and on ${FAR}`, 30_000, async () =>
    readyPods(cluster.api, cluster.topology, ENTRY) > 0 && readyPods(cluster.api, cluster.topology, FAR) > 0 ? true : undefined,
  );

  // 3. Requests for no revision at all (404 no_route → rejected_requests), before the load so that
  // several scrapes see the counter and rate() has its two samples; then the load into node3.
  for (let i = 0; i < 5; i++) {
    const res = await pool.request({ method: 'GET', path: '/', headers: { host: 'nobody.example' } });
    t.equal(res.statusCode, 404, 'unknown host: 404 no_route');
    await res.body.dump();
  }
  const codes = await load(pool, cluster.host);
  t.equal([...codes.keys()].join(','), '200', `every load request answered 200 (${[...codes].map(([c, n]) => `${n}×${c}`).join(', ')})`);

  // 4. Wait until Prometheus has scraped the end of the load: the p50 panel shows both targets.
  const p50 = panelQueries(dashboard).find((q) => /^histogram_quantile\(0\.5, sum by \(le, node, target_node\)/.test(q.expr))!;
  const byTarget = await until('p50 for both target nodes', 20_000, async () => {
    const rows = await prom.query(expandVariables(p50.expr));
    const of = (target: string): number => Number(rows.find((r) => r.metric['node'] === ENTRY && r.metric['target_node'] === target)?.value[1]);
    const local = of(ENTRY);
    const far = of(FAR);
    return Number.isFinite(local) && Number.isFinite(far) ? { local, far } : undefined;
  });
  t.ok(byTarget.local < byTarget.far, `p50 ${ENTRY}→${ENTRY} ${(byTarget.local * 1000).toFixed(1)} ms < ${ENTRY}→${FAR} ${(byTarget.far * 1000).toFixed(1)} ms`);

  // 5. Every panel query, as Grafana sends it with "All" selected.
  for (const q of panelQueries(dashboard)) {
    const rows: PromSample[] = await prom.query(expandVariables(q.expr));
    const withLabels = rows.filter((r) => q.legendLabels.every((l) => (r.metric[l] ?? '') !== ''));
    t.ok(withLabels.length > 0, `${q.panel} ${q.refId}: ${rows.length} series, ${withLabels.length} with ${q.legendLabels.join(', ') || 'no legend labels'}`);
  }

  // 6. The variables' label_values() queries, through the label values API Grafana uses.
  const want: Record<string, string> = { namespace, revision, node: ENTRY };
  for (const v of variableQueries(dashboard)) {
    const url = new URL(`${prom.url}/api/v1/label/${v.label}/values`);
    url.searchParams.set('match[]', expandVariables(v.selector));
    const body = (await (await fetch(url)).json()) as { data: string[] };
    t.ok(body.data.includes(want[v.name] ?? ''), `variable ${v.name} offers ${want[v.name]} (${body.data.join(', ')})`);
  }
});
