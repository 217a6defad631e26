// The node agent's objects as tables (pure): endpoint conditions per pod state, the slice shape,
// and the Seika status patch that converges whichever agent writes last.
import t from 'tap';
import {
  desiredOnNode,
  endpointConditions,
  peerSlice,
  podObject,
  readySummary,
  revisionSlice,
  seikaRevision,
  seikaStatusPatch,
  type SeikaLike,
} from '../../../deploy/local/agent-objects.ts';

const seika: SeikaLike = {
  metadata: { name: 'hello', namespace: 'default', uid: 'u1' },
  spec: {
    repurika: { node1: 2, node3: 1 },
    template: {
      metadata: { labels: { 'serving.knative.dev/revision': 'hello-00001', 'serving.knative.dev/service': 'hello' } },
      spec: { containers: [{ readinessProbe: { httpGet: { path: '/ready' } } }] },
    },
  },
};

t.test('desired counts and the revision a Seika serves', async (t) => {
  t.equal(desiredOnNode(seika, 'node1'), 2);
  t.equal(desiredOnNode(seika, 'node2'), 0, 'an absent key is 0');
  t.equal(desiredOnNode({ spec: { repurika: { node1: -1 } } }, 'node1'), 0);
  t.same(seikaRevision(seika), { revision: 'hello-00001', service: 'hello', readinessPath: '/ready' });
  t.same(seikaRevision({ metadata: { name: 'x' } }), { revision: 'x' });
});

t.test('endpoint conditions follow the pod state', async (t) => {
  t.same(endpointConditions('starting'), { ready: false, serving: false, terminating: false });
  t.same(endpointConditions('ready'), { ready: true, serving: true, terminating: false });
  t.same(endpointConditions('terminating'), { ready: false, serving: true, terminating: true });
});

t.test('slices and pods', async (t) => {
  const slice = revisionSlice({
    namespace: 'default',
    revision: 'hello-00001',
    service: 'hello',
    node: 'node1',
    port: 8080,
    pods: [
      { name: 'b', address: '127.0.11.2', port: 8080, state: 'terminating' },
      { name: 'a', address: '127.0.11.1', port: 8080, state: 'ready' },
      { name: 'c', address: '127.0.11.3', port: 8080, state: 'exited' },
    ],
  }) as { metadata: { name: string }; endpoints: Array<{ addresses: string[]; nodeName: string }> };
  t.equal(slice.metadata.name, 'hello-00001-private-node1');
  t.same(slice.endpoints.map((e) => e.addresses[0]), ['127.0.11.1', '127.0.11.2'], 'sorted, exited pods left out');
  t.ok(slice.endpoints.every((e) => e.nodeName === 'node1'));
  t.match(peerSlice('node2', '127.0.10.2', 8014), {
    metadata: { name: 'ikukantai-proxy-node2', namespace: 'ikukantai-system', labels: { 'kubernetes.io/service-name': 'ikukantai-proxy' } },
    ports: [{ name: 'peer', port: 8014 }],
  });
  const pod = podObject({ seika, node: 'node1', pod: { name: 'hello-node1-abcde', address: '127.0.11.1', port: 8080, state: 'starting' } });
  t.match(pod, {
    metadata: { labels: { 'bonavadeur.io/seika-hostname': 'node1', 'serving.knative.dev/revision': 'hello-00001' } },
    spec: { nodeName: 'node1' },
    status: { phase: 'Pending', podIP: '127.0.11.1' },
  });
});

t.test('status patches: only this node\'s count, nodes and ready recomputed', async (t) => {
  t.equal(readySummary(['a', 'b'], { a: 1 }, { a: 2, b: 1 }), '1-0/2-1');
  t.same(seikaStatusPatch(seika, 'node1', 1), {
    status: { repurika: { node1: 1 }, nodes: ['node1', 'node3'], ready: '1-0/2-1' },
  });
  // Another agent's count is kept and used, and a status already right needs no write.
  const done: SeikaLike = { ...seika, status: { repurika: { node1: 2, node3: 1 }, nodes: ['node1', 'node3'], ready: '2-1/2-1' } };
  t.equal(seikaStatusPatch(done, 'node1', 2), undefined);
  t.equal(seikaStatusPatch(done, 'node3', 1), undefined);
  // A stale summary written by a racing agent is corrected by the next one that looks.
  const stale: SeikaLike = { ...seika, status: { repurika: { node1: 2, node3: 1 }, nodes: ['node1', 'node3'], ready: '0-1/2-1' } };
  t.same(seikaStatusPatch(stale, 'node3', 1), { status: { repurika: { node3: 1 }, nodes: ['node1', 'node3'], ready: '2-1/2-1' } });
  // A node that reports but is not in the spec is listed with desired 0.
  t.same(seikaStatusPatch(done, 'node2', 0)?.status, { repurika: { node2: 0 }, nodes: ['node1', 'node2', 'node3'], ready: '2-0-1/2-0-1' });
});
