// The emulated cluster end to end (offset 100: API 127.0.108.1:6443, proxies 127.0.110.k, pods
// 127.0.11(1..3).x): real proxy processes in Kubernetes mode, node agents, pods and relays. A
// request entering at node3 is answered by a node3 pod, a pod added by patching the Seika gets
// traffic, and closing the cluster leaves no process behind.
import t from 'tap';
import { request } from 'undici';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startCluster } from '../../deploy/local/cluster.ts';
import { parseTopology, topologyDocument, defaultTopology } from '../../deploy/local/topology.ts';
import { memoryLogger } from '../../lib/log.ts';
import { alive } from '../support/alive.ts';
import { getText } from '../support/get-text.ts';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('a three-node cluster serves each node locally and stops cleanly', { timeout: 115_000 }, async (t) => {
  const topology = parseTopology({ ...topologyDocument(defaultTopology()), pod: { serviceTime: '2ms', startupDelay: '50ms' } });
  const logger = memoryLogger('cluster');
  const cluster = await startCluster({ offset: 100, topology, logger, readyTimeoutMs: 100_000 });
  let closed = false;
  t.teardown(() => (closed ? undefined : cluster.close()));

  t.same(cluster.nodes.map((n) => n.ingressUrl), ['http://127.0.110.1:8012', 'http://127.0.110.2:8012', 'http://127.0.110.3:8012']);
  t.equal(cluster.apiUrl, 'https://127.0.108.1:6443');
  t.equal(cluster.host, 'hello.default.svc.cluster.local');
  const node3 = cluster.nodes[2]!;

  // The proxies see the pods through the API a moment after the agents publish them.
  const first = await waitFor('a 200 at node3', async () => {
    const r = await getText(`${node3.ingressUrl}/`, cluster.host);
    return r.status === 200 && r;
  });
  t.match(first.body, /^Konnichiwa from hello-node3-[a-z0-9]{5} in node3\n$/, 'node3 request served by a node3 pod');
  const metrics = await request(node3.metricsUrl);
  t.equal(metrics.statusCode, 200);
  t.match(await metrics.body.text(), /ikukantai_proxy_requests_total\{[^}]*node="node3"/);

  // Scale node3 to zero: its requests now cross to node1 or node2 through the relays.
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    { group: 'batch.bonavadeur.io', version: 'v1', plural: 'seikas', namespace: 'default', name: 'hello', body: { spec: { repurika: { node3: 0 } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const remote = await waitFor('a node3 request served elsewhere', async () => {
    const r = await getText(`${node3.ingressUrl}/`, cluster.host);
    return r.status === 200 && !r.body.includes('in node3') && r;
  });
  t.match(remote.body, /in node[12]\n$/, 'served by a node1 or node2 pod through a peer hop');
  await waitFor('Seika status 1-1-0/1-1-0', async () => {
    const s = cluster.api.get({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' }) as {
      status?: { ready?: string };
    };
    return s.status?.ready === '1-1-0/1-1-0';
  });

  await waitFor('the node3 pod gone', async () => cluster.agents[2]!.pods().length === 0);
  const pids = cluster.pids();
  t.equal(pids.length, 5, 'three proxies and two pods running');
  await cluster.close();
  closed = true;
  for (const pid of pids) t.notOk(alive(pid), `process ${pid} is gone`);
  t.notOk(logger.lines.some((l) => l.level === 'error'), 'no error logged by the agents');
});
