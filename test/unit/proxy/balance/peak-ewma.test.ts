import t from 'tap';
import { PeakEwma, MIN_LATENCY_MS } from '../../../../proxy/balance/peak-ewma.ts';

t.test('starts at the seed; the first sample replaces it whole', async (t) => {
  const e = new PeakEwma(50);
  t.equal(e.estimate(0), 50);
  t.equal(e.estimate(1e6), 50, 'no decay without samples');
  e.observe(2, 1000);
  t.equal(e.estimate(1000), 2);
});

t.test('a slower sample replaces the estimate at once', async (t) => {
  const e = new PeakEwma(1);
  e.observe(1, 0);
  e.observe(200, 1);
  t.equal(e.estimate(1), 200);
});

t.test('a faster sample pulls down by e^(-Δt/τ)', async (t) => {
  const rows = [
    { dt: 0, want: 100 },
    { dt: 10_000, want: 100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)) },
    { dt: 1e9, want: 10 },
  ];
  for (const { dt, want } of rows) {
    const e = new PeakEwma(100);
    e.observe(100, 0);
    e.observe(10, dt);
    t.ok(Math.abs(e.estimate(dt) - want) < 1e-9, `Δt=${dt}: ${e.estimate(dt)} ≈ ${want}`);
  }
});

t.test('idle, the estimate relaxes towards the seed and never below it', async (t) => {
  const e = new PeakEwma(2);
  e.observe(102, 0);
  t.ok(Math.abs(e.estimate(10_000) - (2 + 100 * Math.exp(-1))) < 1e-9);
  t.ok(e.estimate(1e9) >= 2 && e.estimate(1e9) < 2.001);
  const fast = new PeakEwma(2);
  fast.observe(0.5, 0);
  t.equal(fast.estimate(1e9), 0.5, 'a pod faster than its seed stays fast');
});

t.test('steady samples converge to the samples, not towards the seed', async (t) => {
  const e = new PeakEwma(1);
  e.observe(30, 0);
  for (let now = 1; now <= 100_000; now++) e.observe(10, now);
  t.ok(Math.abs(e.estimate(100_000) - 10) < 0.01, `${e.estimate(100_000)}`);
});

t.test('samples out of order and zero samples are harmless', async (t) => {
  const e = new PeakEwma(5);
  e.observe(5, 100);
  e.observe(1, 50);
  t.equal(e.estimate(100), 5, 'an earlier timestamp carries no weight');
  e.observe(0, 200_000);
  t.ok(e.estimate(200_000) >= MIN_LATENCY_MS);
});

t.test('rejects a bad seed or tau', async (t) => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) t.throws(() => new PeakEwma(bad), RangeError);
  t.throws(() => new PeakEwma(1, 0), RangeError);
});
