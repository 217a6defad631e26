import t from 'tap';
import { ServiceTimeEstimate, initialLatencyMs, DEFAULT_SERVICE_TIME_MS } from '../../../../proxy/balance/service-time-estimate.ts';

t.test('seed = rtt prior + service time, never 0', async (t) => {
  t.equal(initialLatencyMs(50, 2), 52);
  t.equal(initialLatencyMs(0, 1), 1);
  t.ok(initialLatencyMs(0, 0) > 0);
});

t.test('the first local sample replaces the default, later ones are time-weighted', async (t) => {
  const s = new ServiceTimeEstimate();
  t.equal(s.estimate(), DEFAULT_SERVICE_TIME_MS);
  s.observe(8, 0);
  t.equal(s.estimate(), 8);
  s.observe(100, 0);
  t.equal(s.estimate(), 8, 'same instant carries no weight');
  s.observe(4, 10_000);
  t.ok(Math.abs(s.estimate() - (8 * Math.exp(-1) + 4 * (1 - Math.exp(-1)))) < 1e-9);
  s.observe(1000, 10_001);
  t.ok(s.estimate() < 10, 'one slow sample does not make the typical pod slow');
});

t.test('rejects a bad default', async (t) => {
  t.throws(() => new ServiceTimeEstimate(0), RangeError);
});
