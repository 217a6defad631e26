// deploy/local/prometheus.ts against the real binary: it starts on a free loopback port, scrapes a
// real prom-client registry (the proxy's metrics) with our labels intact, answers PromQL, reports a
// bad start clearly, and leaves nothing running. Without the binary it returns undefined.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createProxyMetrics } from '../../../proxy/proxy-metrics.ts';
import { findPrometheus, scrapeConfig, startPrometheus } from '../../../deploy/local/prometheus.ts';
import { parse as parseYaml } from 'yaml';

t.test('scrape config: one job per name, honor_labels, timeout within the interval', async (t) => {
  const cfg = parseYaml(
    scrapeConfig([
      { job: 'ikukantai-proxy', address: '127.0.10.1:9090' },
      { job: 'ikukantai-proxy', address: '127.0.10.2:9090' },
      { job: 'ikukantai-controller', address: '127.0.9.1:9091' },
    ]),
  ) as { global: Record<string, string>; scrape_configs: Array<Record<string, unknown>> };
  t.same(cfg.global, { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' });
  t.same(cfg.scrape_configs, [
    { job_name: 'ikukantai-proxy', honor_labels: true, static_configs: [{ targets: ['127.0.10.1:9090', '127.0.10.2:9090'] }] },
    { job_name: 'ikukantai-controller', honor_labels: true, static_configs: [{ targets: ['127.0.9.1:9091'] }] },
  ]);
});

t.test('absent binary: undefined, nothing started', async (t) => {
  t.equal(await findPrometheus(''), undefined);
  t.equal(await findPrometheus('/nonexistent-dir'), undefined);
  t.equal(await startPrometheus({ listen: '127.0.178.1:0', targets: [], searchPath: '/nonexistent-dir' }), undefined);
});

const binary = await findPrometheus();
t.test('real Prometheus scrapes a proxy registry', { skip: binary ? false : 'prometheus is not installed (apt-get install prometheus; .ci/run does)' }, async (t) => {
  const metrics = createProxyMetrics('node7');
  metrics.requests.inc({ namespace: 'default', revision: 'hello-00001', code: '200', target_node: 'node3' }, 5);
  metrics.nodeRtt.set({ from: 'node7', to: 'node3' }, 0.05);
  const server = createServer((req, res) => {
    void metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.178.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const address = `127.0.178.1:${(server.address() as AddressInfo).port}`;

  const prom = await startPrometheus({ listen: '127.0.178.1:0', targets: [{ job: 'ikukantai-proxy', address }], binary });
  if (!prom) throw new Error('binary found but not started');
  t.teardown(() => prom.close());
  t.match(prom.url, /^http:\/\/127\.0\.178\.1:\d+$/);
  await prom.waitForTargets(20_000);

  // Poll: the first scrape may land just after the targets turn up.
  const deadline = Date.now() + 20_000;
  let rows = await prom.query('ikukantai_proxy_requests_total');
  while (rows.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    rows = await prom.query('ikukantai_proxy_requests_total');
  }
  t.equal(rows.length, 1);
  t.match(rows[0]?.metric, { node: 'node7', namespace: 'default', revision: 'hello-00001', target_node: 'node3', job: 'ikukantai-proxy' });
  t.notOk(rows[0]?.metric['exported_namespace'], 'honor_labels kept our namespace label');
  t.equal(rows[0]?.value[1], '5');
  const rtt = await prom.query('max by (from, to) (ikukantai_node_rtt_seconds)');
  t.same(rtt.map((r) => [r.metric, r.value[1]]), [[{ from: 'node7', to: 'node3' }, '0.05']]);
  await t.rejects(prom.query('sum by (('), /PromQL error/);
});

t.test('a config Prometheus refuses fails the start with its reason', { skip: binary ? false : 'prometheus is not installed' }, async (t) => {
  await t.rejects(
    startPrometheus({ listen: '127.0.178.1:0', targets: [{ job: 'x', address: '127.0.178.1:1' }], scrapeInterval: 'soon', binary }),
    /prometheus exited/,
  );
});
