// The node agent against the real fake API server: it creates, readies and drains pods as a Seika
// changes, publishes EndpointSlices and Pod objects, and keeps the Seika's status. Addresses: this
// suite's range 127.0.140–148 (offset 130: proxies 127.0.140.k, pods 127.0.14(1..3).x).
import t from 'tap';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startFakeApiServer } from '../../../deploy/local/fake-apiserver/server.ts';
import { clusterAddresses } from '../../../deploy/local/addresses.ts';
import { parseTopology } from '../../../deploy/local/topology.ts';
import { NodeAgent } from '../../../deploy/local/node-agent.ts';
import { memoryLogger } from '../../../lib/log.ts';
import { seededRng } from '../../../lib/rng.ts';
import { alive } from '../../support/alive.ts';

interface Slice {
  endpoints?: Array<{ addresses: string[]; nodeName: string; conditions: { ready: boolean; serving: boolean; terminating: boolean } }>;
  ports?: Array<{ name: string; port: number }>;
  metadata?: { labels?: Record<string, string> };
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test('pods follow spec.repurika: created, readied, drained, gone', async (t) => {
  const api = await startFakeApiServer({ host: '127.0.148.1' });
  t.teardown(() => api.close());
  const topology = parseTopology({
    nodes: ['node1', 'node2', 'node3'],
    rtt: { node1: { node2: 1, node3: 40 }, node2: { node3: 40 } },
    pod: { serviceTime: '1ms', startupDelay: '100ms' },
  });
  const addresses = clusterAddresses(topology.nodes, 130);
  api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ikukantai-system' } });
  api.apply({
    apiVersion: 'batch.bonavadeur.io/v1',
    kind: 'Seika',
    metadata: { name: 'hello', namespace: 'default' },
    spec: {
      repurika: { node1: 2, node3: 0 },
      selector: { matchLabels: { 'serving.knative.dev/revision': 'hello-00001' } },
      template: {
        metadata: { labels: { 'serving.knative.dev/revision': 'hello-00001', 'serving.knative.dev/service': 'hello' } },
        spec: { containers: [{ name: 'user-container', readinessProbe: { httpGet: { path: '/healthz' } } }] },
      },
    },
  });
  const log = memoryLogger('agents');
  const agents = ['node1', 'node3'].map(
    (node, i) =>
      new NodeAgent({ node, kubeconfigPath: api.kubeconfigPath, addresses, topology, logger: log, rng: seededRng(i + 1), preStopMs: 300 }),
  );
  const pids = new Set<number>();
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.close()));
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await Promise.all(agents.map((a) => a.start()));
  const [node1, node3] = agents as [NodeAgent, NodeAgent];
  const slice = (node: string): Slice | undefined =>
    api.get({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: 'default', name: `hello-00001-private-${node}` }) as Slice | undefined;
  const seika = (): { status?: { ready?: string; nodes?: string[]; repurika?: Record<string, number> } } =>
    api.get({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' }) as never;

  // Scale-up: two pods on node1, listed not ready first, then ready.
  const first = await waitFor('two ready endpoints on node1', () => {
    const eps = slice('node1')?.endpoints ?? [];
    return eps.length === 2 && eps.every((e) => e.conditions.ready) && eps;
  });
  for (const p of node1.pods()) if (p.pid) pids.add(p.pid);
  t.same(first.map((e) => e.nodeName), ['node1', 'node1']);
  t.ok(first.every((e) => /^127\.0\.141\.\d+$/.test(e.addresses[0]!)), 'pods on node1\'s range');
  const s1 = slice('node1')!;
  t.same(s1.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  t.match(s1.metadata?.labels, {
    'networking.internal.knative.dev/serviceType': 'Private',
    'serving.knative.dev/revision': 'hello-00001',
    'kubernetes.io/service-name': 'hello-00001-private',
  });
  t.same(slice('node3')?.endpoints, [], 'node3 publishes an empty slice');
  await waitFor('status 2-0/2-0', () => seika().status?.ready === '2-0/2-0');
  t.same(seika().status?.nodes, ['node1', 'node3']);
  t.same(seika().status?.repurika, { node1: 2, node3: 0 });

  const pods = await waitFor('two Pod objects', () => {
    const list = api.list('v1', 'Pod', 'default');
    return list.length === 2 && list.every((p) => (p.status as { phase?: string })?.phase === 'Running') && list;
  });
  for (const p of pods) {
    t.match(p.metadata?.name, /^hello-node1-[a-z0-9]{5}$/);
    t.equal(p.metadata?.labels?.['bonavadeur.io/seika-hostname'], 'node1');
  }

  // The pods answer with their name and node.
  const ep = first[0]!.addresses[0]!;
  const res = await fetch(`http://${ep}:8080/`);
  t.match(await res.text(), /^Konnichiwa from hello-node1-[a-z0-9]{5} in node1\n$/);

  // Scale node1 down to 1 and node3 up to 1: the victim is announced terminating before it goes.
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.patchNamespacedCustomObject(
    { group: 'batch.bonavadeur.io', version: 'v1', plural: 'seikas', namespace: 'default', name: 'hello', body: { spec: { repurika: { node1: 1, node3: 1 } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const draining = await waitFor('a terminating endpoint on node1', () =>
    slice('node1')?.endpoints?.find((e) => e.conditions.terminating),
  );
  t.same(draining.conditions, { ready: false, serving: true, terminating: true });
  const victim = node1.pods().find((p) => p.address === draining.addresses[0]);
  t.ok(victim && alive(victim.pid), 'the terminating pod still runs when announced');
  await waitFor('node1 back to one endpoint', () => slice('node1')?.endpoints?.length === 1);
  t.notOk(alive(victim?.pid), 'the drained pod process has exited');
  await waitFor('one ready endpoint on node3', () => {
    const eps = slice('node3')?.endpoints ?? [];
    return eps.length === 1 && eps[0]!.conditions.ready && eps[0]!.addresses[0]!.startsWith('127.0.143.');
  });
  for (const p of node3.pods()) if (p.pid) pids.add(p.pid);
  await waitFor('status 1-1/1-1', () => seika().status?.ready === '1-1/1-1');
  await waitFor('one Pod object per node', () => api.list('v1', 'Pod', 'default').length === 2);

  // The peer Service lists each agent's proxy address.
  const peers = api.list('discovery.k8s.io/v1', 'EndpointSlice', 'ikukantai-system') as Slice[];
  t.same(
    peers.map((p) => [p.endpoints?.[0]?.addresses[0], p.endpoints?.[0]?.nodeName, p.ports?.[0]?.name, p.ports?.[0]?.port]).sort(),
    [
      ['127.0.140.1', 'node1', 'peer', 8014],
      ['127.0.140.3', 'node3', 'peer', 8014],
    ],
  );

  // Deleting the Seika stops its pods and removes the slices.
  api.delete({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' });
  await waitFor('no pods left', () => node1.pods().length === 0 && node3.pods().length === 0);
  await waitFor('slices deleted', () => !slice('node1') && !slice('node3'));
  for (const pid of pids) t.notOk(alive(pid), `pod process ${pid} is gone`);
  t.notOk(log.lines.some((l) => l.level === 'error'), 'no error logged');
});
