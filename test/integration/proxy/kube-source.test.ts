// The Kubernetes endpoint source against the fake API server over real HTTPS: first sync, slice
// changes followed, several slices merged, bursts coalesced, an API outage survived with the last
// good state (and changes made during it picked up after), and 410 relists in both forms.

import t, { type Test } from 'tap';
import { startFakeApiServer, type FakeApiServer, type GoneMode } from '../../../deploy/local/fake-apiserver/server.ts';
import { memoryLogger } from '../../../lib/log.ts';
import type { Snapshot } from '../../../lib/model.ts';
import { createKubeSource } from '../../../proxy/endpoints/kube-source.ts';
import { until } from '../../support/until.ts';

interface Ep {
  ip: string;
  node?: string;
  ready?: boolean;
  terminating?: boolean;
}

function privateSlice(name: string, revision: string, eps: Ep[]) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: 'default',
      labels: {
        'networking.internal.knative.dev/serviceType': 'Private',
        'serving.knative.dev/revision': revision,
        'kubernetes.io/service-name': `${revision}-private`,
      },
    },
    addressType: 'IPv4',
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? 'node1',
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false },
    })),
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  };
}

const REVISION = {
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Revision',
  metadata: { name: 'hello-00001', namespace: 'default', labels: { 'serving.knative.dev/service': 'hello' }, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { containerConcurrency: 4, timeoutSeconds: 30, containers: [{ image: 'x', readinessProbe: { httpGet: { path: '/ready' } } }] },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
};

const PEERS = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'ikukantai-proxy-abc', namespace: 'ikukantai-system', labels: { 'kubernetes.io/service-name': 'ikukantai-proxy' } },
  addressType: 'IPv4',
  endpoints: [
    { addresses: ['127.0.62.101'], nodeName: 'node1', conditions: { ready: true } },
    { addresses: ['127.0.62.102'], nodeName: 'node2', conditions: { ready: true } },
  ],
  ports: [{ name: 'peer', port: 8014 }],
};

async function setup(t: Test, opts: { goneAs?: GoneMode } = {}) {
  const api = await startFakeApiServer({ host: '127.0.0.1', port: 0, ...opts });
  api.apply(REVISION);
  api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.1' }]));
  api.apply(PEERS);
  const logger = memoryLogger('node1');
  const source = createKubeSource({
    kubeconfig: api.kubeconfigPath,
    nodeName: 'node1',
    upstreamPortName: 'http',
    peerService: 'ikukantai-system/ikukantai-proxy',
    logger,
  });
  const snapshots: Snapshot[] = [];
  t.teardown(async () => {
    await source.close();
    await api.close();
  });
  t.equal(source.synced(), false);
  await source.start((s) => snapshots.push(s));
  const last = (): Snapshot => snapshots[snapshots.length - 1]!;
  const ips = (s: Snapshot = last()): string[] =>
    (s.revisions.find((r) => r.name === 'hello-00001')?.endpoints ?? []).map((e) => `${e.address}${e.terminating ? ' terminating' : ''}${e.ready ? '' : ' not-ready'}`).sort();
  return { api, source, snapshots, last, ips, logger };
}

t.test('first sync: revisions, endpoints, hosts, peers', async (t) => {
  const { source, snapshots, logger } = await setup(t);
  t.ok(source.synced());
  t.equal(snapshots.length, 1, 'start() delivered exactly one whole view');
  const s = snapshots[0]!;
  t.same(s.revisions, [
    {
      namespace: 'default',
      name: 'hello-00001',
      hosts: ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local'],
      containerConcurrency: 4,
      timeoutSeconds: 30,
      readinessPath: '/ready',
      createdAt: Date.parse('2026-01-01T00:00:00Z'),
      endpoints: [{ address: '127.0.62.1', port: 8080, node: 'node1', ready: true, terminating: false }],
    },
  ]);
  t.same([...s.peers.keys()].sort(), ['node1', 'node2']);
  t.same(s.peers.get('node2'), { node: 'node2', address: '127.0.62.102', port: 8014 });
  t.match(logger.lines, [{ event: 'kube_source_synced', msg: '1 revisions, 1 local endpoints, 2 peers' }]);
});

t.test('follows slice changes, merges slices, coalesces bursts', async (t) => {
  const { api, snapshots, ips } = await setup(t);
  api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.1' }, { ip: '127.0.62.2', node: 'node2', ready: false }]));
  await until('second endpoint', () => ips().length === 2);
  t.same(ips(), ['127.0.62.1', '127.0.62.2 not-ready']);
  api.apply(privateSlice('hello-00001-b', 'hello-00001', [{ ip: '127.0.62.3' }]));
  await until('second slice merged', () => ips().length === 3);
  api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.1', ready: true, terminating: true }, { ip: '127.0.62.2', node: 'node2' }]));
  await until('terminating', () => ips().includes('127.0.62.1 terminating'));
  t.same(ips(), ['127.0.62.1 terminating', '127.0.62.2', '127.0.62.3']);

  const before = snapshots.length;
  for (let i = 0; i < 50; i++) api.apply(privateSlice('hello-00001-b', 'hello-00001', [{ ip: `127.0.62.${10 + i}` }]));
  await until('burst applied', () => ips().includes('127.0.62.59'));
  t.ok(snapshots.length - before < 50, `50 changes gave ${snapshots.length - before} snapshots`);

  api.delete({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: 'default', name: 'hello-00001-a' });
  await until('slice deleted', () => ips().length === 1);
  api.delete({ apiVersion: 'serving.knative.dev/v1', kind: 'Revision', namespace: 'default', name: 'hello-00001' });
  await until('revision deleted', () => snapshots.at(-1)!.revisions[0]!.hosts.length === 0);
  t.same(ips(), ['127.0.62.59'], 'a slice without its Revision still routes by header');
});

t.test('API server stopped and restarted: last good state kept, changes made meanwhile applied', async (t) => {
  const { api, snapshots, ips, logger, source } = await setup(t);
  await api.stop();
  await until('informers noticed', () => logger.lines.filter((l) => l.event === 'kube_informer_error').length >= 3);
  // While the API is down, the world changes (the store stays reachable for the test).
  api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.1' }, { ip: '127.0.62.4' }]));
  t.ok(source.synced(), 'still synced: /readyz keeps answering 200 through an outage');
  t.same(ips(), ['127.0.62.1'], 'last good state while the API is away');
  await api.restart();
  await until('reconnected within 10 s', () => ips().length === 2, 10_000);
  t.same(ips(), ['127.0.62.1', '127.0.62.4']);
  t.ok(snapshots.every((s) => ips(s).length >= 1), 'no snapshot ever dropped the endpoint');
  t.match(
    logger.lines.find((l) => l.event === 'kube_informer_error'),
    { level: 'warn', code: 'kube_api_unavailable', msg: /keeping the last good state, retrying in 500 ms/ },
  );
  api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.5' }]));
  await until('watching again', () => ips().length === 1 && ips()[0] === '127.0.62.5');
});

for (const goneAs of ['status', 'event'] as const) {
  t.test(`410 (${goneAs}) relists without dropping traffic`, async (t) => {
    const { api, snapshots, ips } = await setup(t, { goneAs });
    const lists = api.stats.lists;
    // Open watches expire while the source is live…
    api.compact();
    if (goneAs === 'status') api.endWatches();
    else api.expireWatches();
    await until('three relists', () => api.stats.lists >= lists + 3);
    // …and changes made during an outage with the history compacted are caught by a relist.
    await api.stop();
    api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.1' }, { ip: '127.0.62.6' }]));
    api.compact();
    const listsBefore = api.stats.lists;
    await api.restart();
    await until('relisted after the outage', () => ips().length === 2, 10_000);
    t.ok(api.stats.lists > listsBefore, 'it was a relist');
    t.ok(snapshots.every((s) => ips(s).includes('127.0.62.1')), 'the endpoint was never dropped');
    api.apply(privateSlice('hello-00001-a', 'hello-00001', [{ ip: '127.0.62.7' }]));
    await until('watching again', () => ips().length === 1 && ips()[0] === '127.0.62.7');
  });
}

t.test('close before the first sync rejects start', async (t) => {
  const api = await startFakeApiServer({ host: '127.0.0.1', port: 0 });
  await api.stop();
  t.teardown(() => api.close());
  const source = createKubeSource({ kubeconfig: api.kubeconfigPath, nodeName: 'n', upstreamPortName: 'http', peerService: 'a/b', logger: memoryLogger('n') });
  const rejected = t.rejects(source.start(() => {}), /closed before its first sync/);
  await source.close();
  await rejected;
  t.equal(source.synced(), false);
  t.throws(() => createKubeSource({ kubeconfig: api.kubeconfigPath, nodeName: 'n', upstreamPortName: 'http', peerService: 'nope', logger: memoryLogger('n') }), /namespace\/name/);
});
