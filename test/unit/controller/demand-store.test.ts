import t from 'tap';
import { DemandStore } from '../../../controller/demand-store.ts';
import type { StatsReport } from '../../../controller/stats-report.ts';

const report = (node: string, concurrency: number, over: Partial<StatsReport> = {}): StatsReport => ({
  node,
  time: '2026-11-26T12:00:01Z',
  intervalSeconds: 1,
  poke: false,
  revisions: [{ namespace: 'default', name: 'hello-00001', concurrency, requests: 1, queued: 0 }],
  rtt: {},
  ...over,
});
const obj = (m: Map<string, number>): Record<string, number> => Object.fromEntries(m);

t.test('a report expires after 3 intervals', async (t) => {
  const s = new DemandStore();
  s.record(report('node1', 2), 0);
  s.record(report('node3', 4, { intervalSeconds: 0.5 }), 0);
  t.same(obj(s.concurrency('default', 'hello-00001', 1000)), { node1: 2, node3: 4 });
  t.same(obj(s.concurrency('default', 'hello-00001', 1500)), { node1: 2 }, 'node3 expired after 3 × 0.5 s');
  t.same(obj(s.concurrency('default', 'hello-00001', 3000)), {}, 'node1 expired after 3 s');
  t.same(s.nodes().sort(), ['node1', 'node3'], 'nodes stay known');
  s.record(report('node1', 1, { time: '2026-11-26T12:00:02Z' }), 3000);
  t.same(obj(s.concurrency('default', 'hello-00001', 3000)), { node1: 1 });
});

t.test('a regular report replaces the node; an older one is ignored', async (t) => {
  const s = new DemandStore();
  s.record(report('node1', 2, { time: '2026-11-26T12:00:05Z' }), 0);
  s.record(report('node1', 9, { time: '2026-11-26T12:00:04Z' }), 10);
  t.same(obj(s.concurrency('default', 'hello-00001', 10)), { node1: 2 });
  s.record(report('node1', 0, { time: '2026-11-26T12:00:06Z', revisions: [] }), 20);
  t.same(obj(s.concurrency('default', 'hello-00001', 20)), {}, 'a revision left out counts as no demand');
});

t.test('a poke updates only its revision and is remembered per node', async (t) => {
  const s = new DemandStore();
  const other = { namespace: 'default', name: 'other-00001', concurrency: 3, requests: 3, queued: 0 };
  s.record(report('node1', 0, { revisions: [other] }), 0);
  s.record(report('node3', 1, { poke: true, intervalSeconds: 0.01 }), 100);
  s.record(report('node1', 1, { poke: true, intervalSeconds: 0 }), 200);
  t.same(obj(s.concurrency('default', 'hello-00001', 200)), { node1: 1, node3: 1 });
  t.same(obj(s.concurrency('default', 'other-00001', 200)), { node1: 3 }, 'the other revision stays');
  t.equal(s.lastPoke('default', 'hello-00001'), 200);
  t.same(s.pokedSince('default', 'hello-00001', 150), ['node1']);
  // A poke keeps the expiry of node1's regular report (3 s); node3's poke-only entry got 3 × 1 s.
  t.same(obj(s.concurrency('default', 'hello-00001', 3050)), { node3: 1 }, 'node1 expired with its regular report');
  t.same(obj(s.concurrency('default', 'hello-00001', 3100)), {}, 'node3 (poke only) expired after 3 s');
  s.retain(new Set());
  t.equal(s.lastPoke('default', 'hello-00001'), undefined);
});

t.test('rtt: what either side measured', async (t) => {
  const s = new DemandStore();
  s.record(report('node1', 0, { rtt: { node3: 52 } }), 0);
  t.equal(s.rtt('node1', 'node3'), 52);
  t.equal(s.rtt('node3', 'node1'), 52);
  s.record(report('node3', 0, { rtt: { node1: 48 } }), 0);
  t.equal(s.rtt('node3', 'node1'), 48, "the measuring node's own figure first");
  t.equal(s.rtt('node1', 'node2'), undefined);
});
