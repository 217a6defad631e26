import t from 'tap';
import { percentile, summarize } from '../../../../bench/support/percentile.ts';

t.test('nearest rank: every answer is a sample', async (t) => {
  const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  t.equal(percentile(sorted, 50), 5);
  t.equal(percentile(sorted, 90), 9);
  t.equal(percentile(sorted, 99), 10);
  t.equal(percentile(sorted, 100), 10);
  t.equal(percentile(sorted, 1), 1);
  t.equal(percentile([7], 50), 7);
  t.ok(Number.isNaN(percentile([], 50)));
});

t.test('summarize sorts numerically and reports the tail', async (t) => {
  // 1000 samples of 0.2 ms and 10 slow ones: p99 still fast, p99.9 and max see the slow ones.
  const values = [...Array.from({ length: 1000 }, () => 0.2), ...Array.from({ length: 10 }, () => 12)];
  const s = summarize(values.reverse());
  t.equal(s.count, 1010);
  t.equal(s.p50, 0.2);
  t.equal(s.p99, 0.2);
  t.equal(s.p999, 12);
  t.equal(s.max, 12);
  t.ok(Math.abs(s.mean - (200 + 120) / 1010) < 1e-9);
});

t.test('no samples: NaN, not zero', async (t) => {
  const s = summarize([]);
  t.equal(s.count, 0);
  t.ok(Number.isNaN(s.p50) && Number.isNaN(s.max) && Number.isNaN(s.mean));
});
