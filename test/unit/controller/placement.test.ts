import t from 'tap';
import { holdUntilReady, idealPlacement, place, type PlacementInput, type PlacementState } from '../../../controller/placement.ts';
import { symmetricRtt } from '../../../lib/model.ts';

// The seed topology: node1 ↔ node2 1 ms, node1/node2 ↔ node3 50 ms.
const RTT = symmetricRtt({ node1: { node2: 1, node3: 50 }, node2: { node3: 50 } });
const rtt = (a: string, b: string): number | undefined => RTT.get(a)?.get(b);
const NODES = ['node1', 'node2', 'node3'];

function input(desired: number, demand: Record<string, number>, over: Partial<PlacementInput> = {}): PlacementInput {
  return { desired, nodes: NODES, demand: new Map(Object.entries(demand)), capPerNode: 10, rtt, holdMs: 6000, ...over };
}
const obj = (s: PlacementState): Record<string, number> => Object.fromEntries(s.counts);

t.test('the seed scenario: a request entering at node3 gets one pod on node3', async (t) => {
  t.same(obj(place(input(1, { node3: 0.05 }), undefined, 0)), { node1: 0, node2: 0, node3: 1 });
});

t.test('proportional split, largest remainder, ties to the lower name', async (t) => {
  const rows: Array<[number, Record<string, number>, Record<string, number>]> = [
    [3, { node1: 1, node3: 5 }, { node1: 1, node2: 0, node3: 2 }], // 0.5 / 2.5: tie of .5 → node1
    [4, { node1: 1, node3: 3 }, { node1: 1, node2: 0, node3: 3 }],
    [1, { node1: 2, node3: 2 }, { node1: 1, node2: 0, node3: 0 }],
    [5, { node1: 1, node2: 1, node3: 1 }, { node1: 2, node2: 2, node3: 1 }],
    [2, {}, { node1: 1, node2: 1, node3: 0 }], // no demand, nothing placed: spread evenly
    [0, { node3: 9 }, { node1: 0, node2: 0, node3: 0 }],
  ];
  for (const [desired, demand, want] of rows) {
    t.same(Object.fromEntries(idealPlacement(input(desired, demand), NODES)), want, `${desired} over ${JSON.stringify(demand)}`);
  }
});

t.test('the per-node cap overflows to the nearest node by RTT', async (t) => {
  // node3 is capped at 2; node1 and node2 are both 50 ms away: the tie goes to node1 until it is full.
  t.same(Object.fromEntries(idealPlacement(input(5, { node3: 4 }, { capPerNode: 2 }), NODES)), { node1: 2, node2: 1, node3: 2 });
  // From node1, node2 (1 ms) is nearer than node3 (50 ms).
  t.same(Object.fromEntries(idealPlacement(input(5, { node1: 4 }, { capPerNode: 3 }), NODES)), { node1: 3, node2: 2, node3: 0 });
  // A node with no known RTT comes after every known one.
  const four = [...NODES, 'node4'];
  t.same(
    Object.fromEntries(idealPlacement(input(6, { node4: 1 }, { capPerNode: 2, nodes: four }), four)),
    { node1: 2, node2: 2, node3: 0, node4: 2 },
  );
  // More than the cluster holds: every node full, the rest dropped.
  t.same(Object.fromEntries(idealPlacement(input(9, { node2: 1 }, { capPerNode: 2 }), NODES)), { node1: 2, node2: 2, node3: 2 });
});

t.test('overflow stays on its node while equally near nodes swap places in the RTT noise', async (t) => {
  // node1 and node2 sit at one site, ~50 ms from node3; each RTT probe orders them differently.
  const noisy = (node1: number, node2: number) => (a: string, b: string): number | undefined =>
    symmetricRtt({ node1: { node2: 1, node3: node1 }, node2: { node3: node2 } }).get(a)?.get(b);
  const over = (r: PlacementInput['rtt']): Partial<PlacementInput> => ({ capPerNode: 1, rtt: r });
  let s = place(input(2, { node3: 5 }, over(noisy(50.4, 50.2))), undefined, 0);
  t.same(obj(s), { node1: 0, node2: 1, node3: 1 }, 'first placement: the nearer of the two');
  // Each ordering lasts 8 s, longer than the 6 s hold: without the tie margin the pod would move.
  for (let i = 1; i <= 32; i++) {
    s = place(input(2, { node3: 5 }, over(Math.floor(i / 8) % 2 ? noisy(50.1, 50.9) : noisy(50.4, 50.2))), s, i * 1000);
    t.same(obj(s), { node1: 0, node2: 1, node3: 1 }, `tick ${i}: the pod stays on node2`);
  }
  t.equal(s.diverged.size, 0, 'not even a move pending');
  // A node nearer by more than the tie margin (2 ms or 10 %) still wins, after the hold.
  for (let i = 33; i <= 39; i++) s = place(input(2, { node3: 5 }, over(noisy(40, 50.2))), s, i * 1000);
  t.same(obj(s), { node1: 1, node2: 0, node3: 1 }, '10 ms nearer: moved to node1');
  // Without a pod to keep, the nearest of near-equals wins, then the lower name.
  t.same(Object.fromEntries(idealPlacement(input(2, { node3: 5 }, over(noisy(50.4, 50.2))), NODES)), { node1: 0, node2: 1, node3: 1 });
  t.same(Object.fromEntries(idealPlacement(input(2, { node3: 5 }, over(noisy(50, 50))), NODES)), { node1: 1, node2: 0, node3: 1 });
});

t.test('a change of the total applies at once, on the nodes that want it', async (t) => {
  let s = place(input(1, { node3: 1 }), undefined, 0);
  s = place(input(3, { node1: 1, node3: 2 }), s, 100);
  t.same(obj(s), { node1: 1, node2: 0, node3: 2 }, 'scale-up lands where demand is, without waiting');
  s = place(input(1, { node1: 1, node3: 2 }), s, 200);
  t.same(obj(s), { node1: 0, node2: 0, node3: 1 }, 'scale-down removes from the surplus');
  // Idle (demand gone) during the grace: the pod stays where it is.
  s = place(input(1, {}), s, 300);
  t.same(obj(s), { node1: 0, node2: 0, node3: 1 });
});

t.test('no flapping: a move waits for a whole panic window of the same wish', async (t) => {
  let s = place(input(1, { node3: 1 }), undefined, 0);
  // Demand alternates between node1 and node3 every second for 20 s: nothing moves.
  for (let i = 1; i <= 20; i++) {
    s = place(input(1, i % 2 ? { node1: 2, node3: 1 } : { node1: 1, node3: 2 }), s, i * 1000);
    t.same(obj(s), { node1: 0, node2: 0, node3: 1 }, `tick ${i}`);
  }
  // Demand settles on node1 from 21 s: the pod moves at 27 s (6 s hold), not before.
  for (let i = 21; i <= 26; i++) s = place(input(1, { node1: 3, node3: 1 }), s, i * 1000);
  t.same(obj(s), { node1: 0, node2: 0, node3: 1 }, '26 s: still held');
  s = place(input(1, { node1: 3, node3: 1 }), s, 27_000);
  t.same(obj(s), { node1: 1, node2: 0, node3: 0 }, '27 s: moved');
  t.equal(s.diverged.size, 0);
});

t.test('make before break: ready pods stay while their replacements start', async (t) => {
  const m = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));
  const rows: Array<[string, Record<string, number>, Record<string, number>, Record<string, number>, Record<string, number>]> = [
    // [what, next, current (spec), ready (status), result]
    ['move, node1 pod starting: node3 keeps its ready pod', { node1: 1, node3: 0 }, { node3: 1 }, { node3: 1 }, { node1: 1, node3: 1 }],
    ['move, node1 pod ready: node3 lets go', { node1: 1, node3: 0 }, { node1: 1, node3: 1 }, { node1: 1, node3: 1 }, { node1: 1, node3: 0 }],
    ['pure scale-down applies at once', { node1: 1, node3: 0 }, { node1: 2, node3: 1 }, { node1: 2, node3: 1 }, { node1: 1, node3: 0 }],
    ['scale to zero', { node3: 0 }, { node3: 1 }, { node3: 1 }, { node3: 0 }],
    ['a pod not ready yet is not held', { node1: 1, node3: 0 }, { node3: 1 }, {}, { node1: 1, node3: 0 }],
    ['scale-up is untouched', { node3: 3 }, { node3: 1 }, { node3: 1 }, { node3: 3 }],
  ];
  for (const [what, next, current, ready, want] of rows) t.same(Object.fromEntries(holdUntilReady(m(next), current, ready)), want, what);
});
