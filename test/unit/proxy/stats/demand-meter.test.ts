import t from 'tap';
import { ManualClock } from '../../../../lib/clock.ts';
import { DemandMeter, type RevisionDemand } from '../../../../proxy/stats/demand-meter.ts';

const none = (): number => 0;

type Step = ['enter' | 'leave', string] | ['advance', number];

function run(steps: Step[], clock: ManualClock, meter: DemandMeter): void {
  for (const s of steps) {
    if (s[0] === 'advance') clock.advance(s[1]);
    else meter[s[0]]('default', s[1]);
  }
}

function byName(revs: RevisionDemand[]): Record<string, Omit<RevisionDemand, 'namespace' | 'name'>> {
  return Object.fromEntries(revs.map((r) => [r.name, { concurrency: r.concurrency, requests: r.requests, queued: r.queued }]));
}

t.test('time-weighted mean over one interval', async (t) => {
  const cases: Array<{ name: string; steps: Step[]; want: Record<string, { concurrency: number; requests: number; queued: number }> }> = [
    {
      // 2 open for 500 ms of 1 s, then none: 2 × 0.5 / 1 = 1.0
      name: 'two requests for half the interval',
      steps: [['enter', 'a'], ['enter', 'a'], ['advance', 500], ['leave', 'a'], ['leave', 'a'], ['advance', 500]],
      want: { a: { concurrency: 1, requests: 2, queued: 0 } },
    },
    {
      // one open all along (1.0) plus a second for 250 ms (0.25) = 1.25
      name: 'overlapping requests',
      steps: [['enter', 'a'], ['advance', 250], ['enter', 'a'], ['advance', 250], ['leave', 'a'], ['advance', 500]],
      want: { a: { concurrency: 1.25, requests: 2, queued: 0 } },
    },
    {
      // entered 800 ms into the interval and still open: 1 × 0.2 / 1 = 0.2
      name: 'a request entering late',
      steps: [['advance', 800], ['enter', 'a'], ['advance', 200]],
      want: { a: { concurrency: 0.2, requests: 1, queued: 0 } },
    },
    {
      // in and out at the same instant: counted as a request, adds no area
      name: 'an instant request',
      steps: [['advance', 300], ['enter', 'a'], ['leave', 'a'], ['advance', 700]],
      want: { a: { concurrency: 0, requests: 1, queued: 0 } },
    },
    {
      name: 'revisions are kept apart',
      steps: [['enter', 'a'], ['advance', 500], ['enter', 'b'], ['enter', 'b'], ['advance', 500]],
      want: { a: { concurrency: 1, requests: 1, queued: 0 }, b: { concurrency: 1, requests: 2, queued: 0 } },
    },
    {
      // a leave with no matching enter must not go negative
      name: 'an unmatched leave is ignored',
      steps: [['leave', 'a'], ['enter', 'a'], ['leave', 'a'], ['leave', 'a'], ['advance', 1000]],
      want: { a: { concurrency: 0, requests: 1, queued: 0 } },
    },
  ];
  for (const c of cases) {
    const clock = new ManualClock(10_000);
    const meter = new DemandMeter(clock);
    run(c.steps, clock, meter);
    const got = meter.collect(none);
    t.equal(got.intervalSeconds, 1, `${c.name}: interval`);
    t.same(byName(got.revisions), c.want, c.name);
  }
});

t.test('the interval is whatever passed since the last collect', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'a');
  clock.advance(2500);
  // one open for the whole 2.5 s → 1.0
  t.same(meter.collect(none), { intervalSeconds: 2.5, revisions: [{ namespace: 'default', name: 'a', concurrency: 1, requests: 1, queued: 0 }] });
  // a zero-length interval reports the value at that instant
  t.same(meter.collect(none).revisions[0], { namespace: 'default', name: 'a', concurrency: 1, requests: 0, queued: 0 });
});

t.test('collect resets the interval; an open request carries over', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'a');
  meter.enter('default', 'a');
  clock.advance(1000);
  t.same(byName(meter.collect(none).revisions), { a: { concurrency: 2, requests: 2, queued: 0 } });
  // both still open for 400 ms, then one for 600 ms: (2 × 0.4 + 1 × 0.6) / 1 = 1.4; no new requests
  clock.advance(400);
  meter.leave('default', 'a');
  clock.advance(600);
  t.same(byName(meter.collect(none).revisions), { a: { concurrency: 1.4, requests: 0, queued: 0 } });
});

t.test('queued is the value now, asked per revision', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('ns1', 'a');
  meter.enter('ns2', 'a');
  clock.advance(1000);
  const asked: string[] = [];
  const got = meter.collect((ns, name) => {
    asked.push(`${ns}/${name}`);
    return ns === 'ns1' ? 7 : 0;
  });
  t.same(asked.sort(), ['ns1/a', 'ns2/a']);
  t.same(
    got.revisions.map((r) => [r.namespace, r.queued]),
    [['ns1', 7], ['ns2', 0]],
  );
});

t.test('an idle revision is reported once as 0, then dropped', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'a');
  clock.advance(100);
  meter.leave('default', 'a');
  clock.advance(900);
  t.same(byName(meter.collect(none).revisions), { a: { concurrency: 0.1, requests: 1, queued: 0 } });
  clock.advance(1000);
  t.same(byName(meter.collect(none).revisions), { a: { concurrency: 0, requests: 0, queued: 0 } }, 'the 0 is sent once');
  clock.advance(1000);
  t.same(meter.collect(none).revisions, [], 'then the revision is gone');
  // coming back starts afresh
  clock.advance(500);
  meter.enter('default', 'a');
  clock.advance(500);
  t.same(byName(meter.collect(none).revisions), { a: { concurrency: 0.5, requests: 1, queued: 0 } });
});

t.test('a revision with something open or queued is never dropped', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'a');
  meter.enter('default', 'b');
  meter.leave('default', 'b');
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    const got = byName(meter.collect((_ns, name) => (name === 'b' ? 3 : 0)).revisions);
    t.same(got.a, { concurrency: 1, requests: i === 0 ? 1 : 0, queued: 0 }, `open, interval ${i}`);
    t.same(got.b, { concurrency: 0, requests: i === 0 ? 1 : 0, queued: 3 }, `queued, interval ${i}`);
  }
});

t.test('peek reads one revision without closing the interval', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  clock.advance(300);
  meter.enter('default', 'a');
  meter.enter('default', 'a');
  clock.advance(100);
  t.same(meter.peek('default', 'a', () => 2), {
    intervalSeconds: 0.4,
    revision: { namespace: 'default', name: 'a', concurrency: 2, requests: 2, queued: 2 },
  });
  t.same(meter.peek('default', 'never', none).revision, { namespace: 'default', name: 'never', concurrency: 0, requests: 0, queued: 0 });
  t.equal(meter.open('default', 'a'), 2);
  t.equal(meter.open('default', 'never'), 0);
  // the tick still sees the whole interval: 2 open for 0.7 of 1 s = 1.4
  clock.advance(600);
  t.same(meter.collect(none), { intervalSeconds: 1, revisions: [{ namespace: 'default', name: 'a', concurrency: 1.4, requests: 2, queued: 0 }] });
});

t.test("a caller's own clock reading: used as given, and an older one than the last step adds nothing", async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'a', 0);
  meter.enter('default', 'a', 250); // 1 open for 250 ms
  meter.leave('default', 'a', 750); // 2 open for 500 ms
  // An arrival read before the last step (a chunked request starts a turn after its arrival) must
  // not integrate backwards: it counts from 750 like a reading taken then.
  meter.enter('default', 'a', 600);
  clock.set(1000); // 2 open from 750 to 1000
  t.same(meter.collect(none).revisions, [{ namespace: 'default', name: 'a', concurrency: (250 + 1000 + 500) / 1000, requests: 3, queued: 0 }]);
});

t.test('namespaces and names are told apart, and an idle namespace is dropped', async (t) => {
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('ns1', 'a');
  meter.enter('ns2', 'a');
  meter.enter('ns1', 'b');
  t.equal(meter.open('ns1', 'a'), 1);
  t.equal(meter.open('ns2', 'b'), 0);
  for (const [ns, name] of [['ns1', 'a'], ['ns2', 'a'], ['ns1', 'b']] as const) meter.leave(ns, name);
  clock.advance(1000);
  t.equal(meter.collect(none).revisions.length, 3, 'the interval with the requests');
  clock.advance(1000);
  t.equal(meter.collect(none).revisions.length, 3, 'idle: reported once as 0');
  clock.advance(1000);
  t.same(meter.collect(none).revisions, [], 'then gone');
});
