import t from 'tap';
import { Decider } from '../../../../controller/autoscaler/decider.ts';
import { resolveScalingSpec, type ScalingSpec } from '../../../../controller/autoscaler/scaling-spec.ts';

// Knative's documented defaults: 60 s stable window, 6 s panic window, threshold 200 %, target
// cc × 0.7. With cc 10 the per-pod target is 7.
const DEFAULTS = { stableWindowMs: 60_000, scaleToZeroGraceMs: 30_000 };
const spec = (annotations: Record<string, string> = {}, cc = 10): ScalingSpec =>
  resolveScalingSpec(DEFAULTS, cc, annotations).spec;
const S = 1000;

t.test('the stable average decides: ceil(concurrency / target)', async (t) => {
  const s = spec();
  t.equal(s.targetPerPod, 7);
  const rows: Array<[stable: number, ready: number, want: number]> = [
    [0, 0, 0],
    [0.1, 0, 1], // one request for 100 ms of a second already needs a pod
    [7, 1, 1],
    [7.01, 1, 2],
    [20, 3, 3],
    [21, 3, 3],
  ];
  for (const [stable, ready, want] of rows) {
    // Panic average 0 here: with 1 ready pod, 7.01 in the panic window would already want 2× (panic).
    const d = new Decider().decide({ spec: s, stableConcurrency: stable, panicConcurrency: 0, readyPods: ready }, 0);
    t.same(d, { desired: want, panic: false }, `stable ${stable}, ready ${ready}`);
  }
});

t.test('panic starts when the panic window needs 2× the ready pods', async (t) => {
  const s = spec();
  // 2 ready pods: 21 concurrent → 3 pods = 1.5× → no panic; 27 → 4 pods = 2× → panic.
  const calm = new Decider().decide({ spec: s, stableConcurrency: 5, panicConcurrency: 21, readyPods: 2 }, 0);
  t.same(calm, { desired: 1, panic: false }, '1.5× stays calm; stable wants 1');
  const hot = new Decider().decide({ spec: s, stableConcurrency: 5, panicConcurrency: 27, readyPods: 2 }, 0);
  t.same(hot, { desired: 4, panic: true }, '2× panics and provisions for the panic window');
});

t.test('panic ends a stable window after the last crossing, never scaling down before', async (t) => {
  const s = spec();
  const d = new Decider();
  t.same(d.decide({ spec: s, stableConcurrency: 10, panicConcurrency: 60, readyPods: 2 }, 0), { desired: 9, panic: true });
  // Still over the threshold at 10 s: the panic clock restarts there.
  t.same(d.decide({ spec: s, stableConcurrency: 20, panicConcurrency: 70, readyPods: 4 }, 10 * S), { desired: 10, panic: true });
  // Calm again, but panic keeps the high-water mark for a stable window after 10 s.
  t.same(d.decide({ spec: s, stableConcurrency: 20, panicConcurrency: 7, readyPods: 10 }, 40 * S), { desired: 10, panic: true });
  t.same(d.decide({ spec: s, stableConcurrency: 20, panicConcurrency: 7, readyPods: 10 }, 70 * S), { desired: 10, panic: true });
  // 70.001 s > 10 s + 60 s: out of panic; stable wants 3 but may only halve: 10 → 5.
  t.same(d.decide({ spec: s, stableConcurrency: 20, panicConcurrency: 7, readyPods: 10 }, 70 * S + 1), { desired: 5, panic: false });
});

t.test('scale rates: up at most 1000× the ready pods, down at most to half', async (t) => {
  const s = spec();
  t.equal(new Decider().decide({ spec: s, stableConcurrency: 1e7, panicConcurrency: 0, readyPods: 1 }, 0).desired, 1000);
  t.equal(new Decider().decide({ spec: s, stableConcurrency: 1e7, panicConcurrency: 0, readyPods: 2 }, 0).desired, 2000);
  t.equal(new Decider().decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 10 }, 0).desired, 5);
  t.equal(new Decider().decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 3 }, 0).desired, 1);
});

t.test('zero only after the grace (or the retention period, whichever is longer)', async (t) => {
  const s = spec();
  const d = new Decider();
  t.equal(d.decide({ spec: s, stableConcurrency: 3, panicConcurrency: 0, readyPods: 1 }, 0).desired, 1);
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 1 * S).desired, 1, 'grace starts');
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 30 * S).desired, 1, '29 s in');
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 31 * S).desired, 0, '30 s in');
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 0 }, 32 * S).desired, 0, 'stays at zero');

  const retained = spec({ 'autoscaling.knative.dev/scale-to-zero-pod-retention-period': '45s' });
  const r = new Decider();
  r.decide({ spec: retained, stableConcurrency: 3, panicConcurrency: 0, readyPods: 1 }, 0);
  t.equal(r.decide({ spec: retained, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 0).desired, 1);
  t.equal(r.decide({ spec: retained, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 44 * S).desired, 1);
  t.equal(r.decide({ spec: retained, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 45 * S).desired, 0);

  // Demand during the grace cancels it; the next idle spell starts a fresh one.
  const c = new Decider();
  c.decide({ spec: s, stableConcurrency: 3, panicConcurrency: 0, readyPods: 1 }, 0);
  c.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 0);
  c.decide({ spec: s, stableConcurrency: 1, panicConcurrency: 0, readyPods: 1 }, 20 * S);
  t.equal(c.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 40 * S).desired, 1);
  t.equal(c.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1 }, 70 * S).desired, 0);
});

t.test('a poke at zero wants one pod at once and holds it for a stable window', async (t) => {
  const s = spec();
  const d = new Decider();
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 0 }, 0).desired, 0);
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 0, pokedAt: 5 * S }, 5 * S).desired, 1);
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1, pokedAt: 5 * S }, 64 * S).desired, 1);
  // The hold ends at 65 s; then the grace of 30 s runs before zero.
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1, pokedAt: 5 * S }, 65 * S).desired, 1);
  t.equal(d.decide({ spec: s, stableConcurrency: 0, panicConcurrency: 0, readyPods: 1, pokedAt: 5 * S }, 95 * S).desired, 0);
});

t.test('annotations override the flags', async (t) => {
  const a = (k: string, v: string): Record<string, string> => ({ [`autoscaling.knative.dev/${k}`]: v });
  const d = (s: ScalingSpec, stable: number, ready: number, now = 0, dec = new Decider()): number =>
    dec.decide({ spec: s, stableConcurrency: stable, panicConcurrency: 0, readyPods: ready }, now).desired;

  // target 4 × utilization 50 % = 2 per pod.
  t.equal(spec({ ...a('target', '4'), ...a('target-utilization-percentage', '50') }).targetPerPod, 2);
  t.equal(d(spec({ ...a('target', '4'), ...a('target-utilization-percentage', '50') }), 9, 5), 5);
  // The target may not exceed cc (the hard limit): 20 → 10 × 0.7.
  t.equal(spec(a('target', '20')).targetPerPod, 7);
  // cc 0: 100 × 0.7.
  t.equal(spec({}, 0).targetPerPod, 70);
  t.equal(d(spec(a('min-scale', '2')), 0, 0), 2);
  t.equal(d(spec(a('max-scale', '3')), 100, 3), 3);

  const initial = spec(a('initial-scale', '3'));
  const di = new Decider();
  t.equal(d(initial, 0, 0, 0, di), 3, 'initial scale before it was reached');
  t.equal(d(initial, 0, 3, 1 * S, di), 1, 'once reached, demand decides (halving from 3)');

  const windowed = spec({ ...a('window', '10s'), ...a('panic-window-percentage', '20'), ...a('panic-threshold-percentage', '300') });
  t.equal(windowed.stableWindowMs, 10_000);
  t.equal(windowed.panicWindowMs, 2000);
  t.equal(windowed.panicThreshold, 3);

  const delayed = spec(a('scale-down-delay', '10s'));
  const dd = new Decider();
  t.equal(d(delayed, 70, 10, 0, dd), 10);
  t.equal(d(delayed, 0, 10, 5 * S, dd), 10, 'within the delay the max of recent decisions holds');
  t.equal(d(delayed, 0, 10, 10 * S, dd), 5, 'then the scale-down applies');

  const bad = resolveScalingSpec(DEFAULTS, 10, {
    ...a('target', 'lots'),
    ...a('window', '2h'),
    ...a('class', 'kpa.autoscaling.knative.dev'),
    ...a('min-scale', '5'),
    ...a('max-scale', '2'),
    'example.com/other': 'x',
  });
  t.equal(bad.spec.targetPerPod, 7, 'bad target keeps the default');
  t.equal(bad.spec.stableWindowMs, 60_000, 'window out of range keeps the flag');
  t.equal(bad.spec.minScale, 0, 'min above max is dropped');
  t.equal(bad.spec.maxScale, 2);
  t.equal(bad.ignored.length, 4, bad.ignored.join('; '));
  t.match(bad.ignored.join('\n'), /autoscaling\.knative\.dev\/class: not used/);
});
