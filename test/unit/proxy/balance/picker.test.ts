import t from 'tap';
import { EndpointStats } from '../../../../proxy/balance/endpoint-stats.ts';
import { createPicker, BALANCERS, EXACT_MAX, isBalancerKind, type BalancerKind, type Picker } from '../../../../proxy/balance/picker.ts';
import { ManualClock } from '../../../../lib/clock.ts';
import { seededRng } from '../../../../lib/rng.ts';

// Topology of the edge demo: this node n3, a near node n1 (1 ms away) and a far node n2 (50 ms).
// Seeds are rtt prior + a 1 ms service time, as the proxy would make them.
const RTT: Record<string, number> = { n3: 0, n1: 1, n2: 50 };
const LOCAL = 'n3';

let nextKey = 0;
function pod(node: string, serviceMs = 1): EndpointStats {
  const k = nextKey++;
  return new EndpointStats({ key: `127.0.7${k % 10}.${(k >> 8) & 255}:${8000 + (k & 255)}`, node, local: node === LOCAL, initialLatencyMs: RTT[node]! + serviceMs });
}
function pods(node: string, n: number): EndpointStats[] {
  return Array.from({ length: n }, () => pod(node));
}
const picker = (kind: BalancerKind, seed = 7): Picker => createPicker(kind, { rng: seededRng(seed) });

t.test('empty and single candidate sets, every kind', async (t) => {
  for (const kind of BALANCERS) {
    const p = picker(kind);
    t.equal(p.pick([], 0), undefined, kind);
    const only = pod('n1');
    t.equal(p.pick([only], 0), only, kind);
  }
  t.ok(isBalancerKind('least-cost'));
  t.notOk(isBalancerKind('p2c'));
});

t.test('picks local while local is lightly loaded', async (t) => {
  const rows = [
    { kind: 'least-cost', localInflight: 0 },
    { kind: 'least-cost', localInflight: 1 }, // 1 × 2 = 2 ties the near pod's 2 × 1: ties go local
    { kind: 'least-request', localInflight: 0 },
  ] as const;
  for (const { kind, localInflight } of rows) {
    const local = pod('n3');
    const cands = [pod('n2'), pod('n1'), local];
    local.inflight = localInflight;
    const picks = Array.from({ length: 20 }, (_, seed) => picker(kind, seed).pick(cands, 0));
    t.ok(picks.every((e) => e === local), `${kind} inflight=${localInflight}: local under 20 seeds`);
  }
});

t.test('spills to the nearest remote node as local load grows, the far node last', async (t) => {
  // Picks never finish here, so each one adds load: the order of spill is the cost order.
  const rows = [
    { name: 'exact (≤ 8 pods)', local: 2, near: 3, far: 3, picks: 400 },
    { name: 'p2c (> 8 pods)', local: 5, near: 300, far: 300, picks: 2000 },
  ];
  for (const row of rows) {
    const cands = [...pods('n2', row.far), ...pods('n3', row.local), ...pods('n1', row.near)];
    const p = picker('least-cost');
    const seen: string[] = [];
    let loadedBeforeFar = true;
    for (let i = 0; i < row.picks; i++) {
      const e = p.pick(cands, 0)!;
      if (e.node === 'n2' && !seen.includes('n2')) {
        // The first far pick (51 ms) comes only once every closer pod costs at least as much.
        loadedBeforeFar = cands.every((c) => c.node === 'n2' || c.cost(0) >= e.cost(0));
      }
      e.inflight++;
      seen.push(e.node);
    }
    const firstRemote = seen.findIndex((n) => n !== LOCAL);
    t.ok(firstRemote >= row.local, `${row.name}: the first ${row.local} picks are local (first remote at ${firstRemote})`);
    t.equal(seen[firstRemote], 'n1', `${row.name}: the first spill goes to the near node`);
    t.ok(loadedBeforeFar, `${row.name}: the far node only after the closer ones cost as much`);
    const far = seen.filter((n) => n === 'n2').length;
    if (row.name.startsWith('exact')) t.ok(far > 0, `${row.name}: the far node takes load at last (${far} of ${row.picks})`);
    else t.equal(far, 0, `${row.name}: 300 near pods absorb ${row.picks} picks, the far node gets none`);
  }
});

t.test('respects owner-reported queue depth, until the report ages out', async (t) => {
  for (const kind of ['least-cost', 'least-request'] as const) {
    const busy = pod('n1');
    const idle = pod('n1');
    const cands = [busy, idle];
    busy.reportLoad({ inflight: 0, queued: 10, cc: 1 }, 0);
    const p = picker(kind);
    const got: EndpointStats[] = [];
    for (let i = 0; i < 10; i++) {
      const e = p.pick(cands, 1)!;
      e.inflight++;
      got.push(e);
    }
    t.ok(got.every((e) => e === idle), `${kind}: the pod whose owner queues 10 gets none of the next 10`);
    idle.inflight = 0;
    t.equal(p.pick(cands, 2000), idle, `${kind}: still avoided within the report's life`);
    idle.inflight = 1;
    t.equal(p.pick(cands, 10_000), busy, `${kind}: an aged report no longer counts`);
  }
});

t.test('never picks a pod that left the candidate set (terminating), even one it remembered', async (t) => {
  for (const n of [4, 40]) {
    const all = [...pods('n3', n / 2), ...pods('n1', n / 2)];
    const p = picker('least-cost');
    for (let i = 0; i < 100; i++) p.pick(all, i); // warm the p2c memory with one of them
    const terminating = p.pick(all, 100)!;
    t.equal(terminating.node, 'n3', 'the favourite is local');
    const eligible = all.filter((e) => e !== terminating); // the proxy's new array
    for (let i = 0; i < 5000; i++) {
      const e = p.pick(eligible, 200 + i)!;
      if (e === terminating) {
        t.fail(`n=${n}: picked the terminating pod`);
        break;
      }
      e.inflight = (e.inflight + 1) % 3;
    }
    t.pass(`n=${n}: 5000 picks, none to the terminating pod`);
  }
});

interface SimPod {
  stats: EndpointStats;
  serviceMs: number;
}

/**
 * A manual-clock run: one request every `everyMs`, each pod answers after rtt + its service time,
 * the response's latency feeds the estimate when it ends, as in the proxy.
 */
class Sim {
  readonly #pending: Array<{ at: number; start: number; s: SimPod }> = [];
  readonly #p: Picker;
  readonly #pods: SimPod[];
  readonly #clock: ManualClock;

  constructor(p: Picker, pods: SimPod[], clock: ManualClock) {
    this.#p = p;
    this.#pods = pods;
    this.#clock = clock;
  }

  /** Runs until `untilMs`; returns picks per pod made at or after `fromMs`. */
  run(untilMs: number, everyMs: number, fromMs: number): Map<SimPod, number> {
    const counts = new Map<SimPod, number>(this.#pods.map((s) => [s, 0]));
    const cands = this.#pods.map((s) => s.stats);
    const pending = this.#pending;
    for (let now = this.#clock.now(); now < untilMs; now += everyMs) {
      this.#clock.set(now);
      pending.sort((a, b) => a.at - b.at);
      while (pending.length > 0 && pending[0]!.at <= now) {
        const done = pending.shift()!;
        done.s.stats.inflight--;
        done.s.stats.observe(done.at - done.start, done.at);
      }
      const e = this.#p.pick(cands, now)!;
      const s = this.#pods.find((x) => x.stats === e)!;
      e.inflight++;
      pending.push({ at: now + RTT[e.node]! + s.serviceMs, start: now, s });
      if (now >= fromMs) counts.set(s, counts.get(s)! + 1);
    }
    this.#clock.set(untilMs);
    return counts;
  }
}

const share = (c: Map<SimPod, number>, s: SimPod): number => {
  let total = 0;
  for (const v of c.values()) total += v;
  return c.get(s)! / total;
};

t.test('converges after a pod slows down and recovers after it speeds up', async (t) => {
  const a: SimPod = { stats: pod('n3'), serviceMs: 1 };
  const b: SimPod = { stats: pod('n3'), serviceMs: 1 };
  const far: SimPod = { stats: pod('n2'), serviceMs: 1 };
  const sim = [a, b, far];
  const run = new Sim(picker('least-cost'), sim, new ManualClock(0));
  const rows = [
    { phase: 'both fast', aServiceMs: 1, untilMs: 10_000, measureFromMs: 5_000, check: (x: number) => x > 0.3 && x < 0.7 },
    { phase: 'a slow (20 ms)', aServiceMs: 20, untilMs: 50_000, measureFromMs: 15_000, check: (x: number) => x < 0.05 },
    { phase: 'a fast again', aServiceMs: 1, untilMs: 130_000, measureFromMs: 110_000, check: (x: number) => x > 0.3 && x < 0.7 },
  ];
  for (const row of rows) {
    a.serviceMs = row.aServiceMs;
    const counts = run.run(row.untilMs, 0.5, row.measureFromMs);
    t.ok(row.check(share(counts, a)), `${row.phase}: a's share ${share(counts, a).toFixed(3)}`);
    t.equal(counts.get(far), 0, `${row.phase}: the far node is never needed`);
  }
});

t.test('a pick reads a bounded number of scores, whatever the pod count', async (t) => {
  // Each side of the split is exact up to EXACT_MAX, else 2 random + 1 remembered: ≤ 2 × EXACT_MAX
  // reads just above EXACT_MAX, ≤ 6 once both sides are large.
  let reads = 0;
  let counted: 'cost' | 'load' = 'cost';
  class Counting extends EndpointStats {
    override cost(now: number): number {
      if (counted === 'cost') reads++;
      return super.cost(now);
    }
    override load(now: number): number {
      if (counted === 'load') reads++;
      return super.load(now);
    }
  }
  const rows = [
    { n: EXACT_MAX + 1, max: EXACT_MAX + 1 },
    { n: 3 * EXACT_MAX, max: 2 * EXACT_MAX },
    { n: 100, max: 6 },
    { n: 10_000, max: 6 },
  ];
  for (const kind of ['least-cost', 'least-request'] as const) {
    counted = kind === 'least-cost' ? 'cost' : 'load';
    for (const { n, max } of rows) {
      const cands = Array.from({ length: n }, (_, i) => new Counting({ key: `k${i}`, node: i % 3 === 0 ? LOCAL : 'n1', local: i % 3 === 0, initialLatencyMs: 1 + (i % 7) }));
      const p = picker(kind);
      let worst = 0;
      for (let i = 0; i < 1000; i++) {
        reads = 0;
        p.pick(cands, i)!.inflight++;
        worst = Math.max(worst, reads);
      }
      t.ok(worst <= max, `${kind} n=${n}: at most ${worst} reads (bound ${max})`);
    }
  }
});

t.test('round-robin cycles in order; random spreads evenly; both ignore locality', async (t) => {
  const cands = [...pods('n3', 2), ...pods('n2', 2)];
  const rr = picker('round-robin');
  const seq = Array.from({ length: 8 }, () => cands.indexOf(rr.pick(cands, 0)!));
  t.same(seq, [0, 1, 2, 3, 0, 1, 2, 3]);
  t.equal(rr.pick(cands.slice(0, 1), 0), cands[0], 'a shrunken set wraps');
  const rnd = picker('random');
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[cands.indexOf(rnd.pick(cands, 0)!)]!++;
  for (const c of counts) t.ok(c > 800 && c < 1200, `~1000 each: ${counts.join(',')}`);
});
