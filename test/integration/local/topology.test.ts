// Topology file parsing and the address layout (pure; no sockets).
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { clusterAddresses } from '../../../deploy/local/addresses.ts';
import {
  TopologyError,
  defaultTopology,
  loadTopology,
  parseTopology,
  rttBetween,
  rttTable,
  topologyDocument,
} from '../../../deploy/local/topology.ts';

t.test('the default topology and the shipped file agree', async (t) => {
  const file = await loadTopology(fileURLToPath(new URL('../../../deploy/local/topology.yaml', import.meta.url)));
  const dflt = defaultTopology();
  t.same(file.nodes, ['node1', 'node2', 'node3']);
  t.same(rttTable(file), rttTable(dflt));
  t.same(rttTable(dflt), { node1: { node2: 1, node3: 50 }, node2: { node3: 50 } });
  t.equal(rttBetween(file, 'node3', 'node1'), 50);
  t.equal(rttBetween(file, 'node2', 'node2'), 0);
  t.equal(rttBetween(file, undefined, 'node2'), 0);
  t.same(file.demo, {
    namespace: 'default',
    service: 'hello',
    revision: 'hello-00001',
    seika: 'hello',
    containerConcurrency: 0,
    timeoutSeconds: 300,
    readinessPath: '/healthz',
  });
  t.same(file.pod, { serviceTimeMs: 5, startupDelayMs: 300 });
});

t.test('a topology document round-trips', async (t) => {
  const topo = parseTopology({ nodes: ['a', 'b'], rtt: { b: { a: 7 } }, pod: { serviceTime: '20ms', startupDelay: 0 } });
  const again = parseTopology(topologyDocument(topo));
  t.same(again, topo);
  t.equal(again.pod.serviceTimeMs, 20);
});

t.test('bad topologies are one clear error each', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /must be a mapping/],
    [{ nodes: [] }, /non-empty/],
    [{ nodes: ['Node_1'] }, /DNS-1123/],
    [{ nodes: ['a', 'a'] }, /distinct/],
    [{ nodes: ['a', 'b'] }, /between a and b missing/],
    [{ nodes: ['a', 'b'], rtt: { a: { c: 1 } } }, /unknown node "c"/],
    [{ nodes: ['a', 'b'], rtt: { a: { b: -1 } } }, /ms ≥ 0/],
    [{ nodes: ['a', 'b'], rtt: { a: { b: 1 }, b: { a: 2 } } }, /given twice/],
    [{ nodes: ['a'], rtt: { a: { a: 1 } } }, /itself/],
    [{ nodes: ['a'], pod: { serviceTime: 'soon' } }, /pod.serviceTime/],
    [{ nodes: ['a'], demo: { readinessPath: 'healthz' } }, /readinessPath/],
    [{ nodes: ['a'], demo: { containerConcurrency: 1.5 } }, /containerConcurrency/],
    [{ nodes: Array.from({ length: 10 }, (_, i) => `n${i}`) }, /at most 9/],
  ];
  for (const [doc, re] of bad) t.throws(() => parseTopology(doc), re, JSON.stringify(doc));
  t.throws(() => parseTopology({ nodes: [] }), TopologyError);
  await t.rejects(loadTopology('/nonexistent/topology.yaml'), /cannot read/);
});

t.test('addresses follow DESIGN.md §5 and move with the offset', async (t) => {
  const a = clusterAddresses(['node1', 'node2', 'node3']);
  t.same(a.api, { host: '127.0.0.1', port: 6443 });
  t.same(a.controller, { host: '127.0.9.1', stats: '127.0.9.1:8080', admin: '127.0.9.1:9091' });
  t.same(a.controllerReplicas(1), [a.controller], 'one controller listens on the controller address');
  t.same(
    a.controllerReplicas(2).map((c) => [c.stats, c.admin]),
    [['127.0.9.2:8080', '127.0.9.2:9091'], ['127.0.9.3:8080', '127.0.9.3:9091']],
    'replicas get their own hosts behind the controller address',
  );
  t.throws(() => a.controllerReplicas(0), RangeError);
  const n3 = a.node('node3');
  t.same(
    [n3.host, n3.ingress, n3.admin, n3.relay, n3.peerListen, n3.podOctet],
    ['127.0.10.3', '127.0.10.3:8012', '127.0.10.3:9090', '127.0.10.3:8014', '127.0.10.3:18014', 13],
  );
  t.equal(a.podAddress('node2', 7), '127.0.12.7');
  t.equal(a.nodeOfAddress('127.0.13.200'), 'node3');
  t.equal(a.nodeOfAddress('::ffff:127.0.10.2'), 'node2');
  t.equal(a.nodeOfAddress('127.0.10.9'), undefined);
  t.equal(a.nodeOfAddress('127.0.0.1'), undefined);
  t.throws(() => a.podAddress('node1', 255));
  t.throws(() => a.node('node4'));

  const b = clusterAddresses(['node1', 'node2', 'node3'], 100);
  t.same(b.api, { host: '127.0.108.1', port: 6443 });
  t.equal(b.controller.host, '127.0.109.1');
  t.equal(b.node('node1').ingress, '127.0.110.1:8012');
  t.equal(b.podAddress('node3', 1), '127.0.113.1');
  t.equal(b.nodeOfAddress('127.0.13.1'), undefined);
  t.throws(() => clusterAddresses(['a', 'b'], 244));
});
