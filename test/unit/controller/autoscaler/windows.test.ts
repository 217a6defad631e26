import t from 'tap';
import { WindowedAverage } from '../../../../controller/autoscaler/windows.ts';

t.test('mean over the non-empty 1 s buckets of the window', async (t) => {
  const w = new WindowedAverage({ retainMs: 60_000 });
  t.equal(w.average(0, 6000), undefined, 'no sample yet');
  // Seconds 0..9 carry 0, 1, ..., 9.
  for (let s = 0; s < 10; s++) w.record(s * 1000 + 100, s);
  // At 9.5 s a 6 s window covers buckets 4..9: mean 6.5.
  t.equal(w.average(9500, 6000), 6.5);
  t.equal(w.average(9500, 60_000), 4.5, 'the whole history');
  // A window shorter than a bucket still sees the current bucket.
  t.equal(w.average(9500, 600), 9);
});

t.test('two samples in one bucket count as their mean, once', async (t) => {
  const w = new WindowedAverage({ retainMs: 10_000 });
  w.record(0, 2);
  w.record(1000, 10);
  w.record(1900, 0);
  // Buckets: 0 → 2, 1 → mean(10, 0) = 5; window mean (2 + 5) / 2.
  t.equal(w.average(1900, 10_000), 3.5);
});

t.test('old buckets are dropped and late samples ignored', async (t) => {
  const w = new WindowedAverage({ retainMs: 3000 });
  for (let s = 0; s < 10; s++) w.record(s * 1000, 100 + s);
  w.record(2000, 1e9); // a clock going backwards does not rewrite history
  t.equal(w.average(9000, 3000), 108, 'buckets 7..9');
  t.equal(w.average(9000, 60_000), 107.5, 'retention keeps buckets 6..9 only');
  w.retainMs = 1000;
  w.record(10_000, 0);
  t.equal(w.average(10_000, 60_000), 54.5, 'buckets 9..10 after shrinking the retention');
});
