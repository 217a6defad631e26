import t from 'tap';
import { parseDuration, formatDuration } from '../../../lib/duration.ts';

t.test('parses the DESIGN.md forms', async (t) => {
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('5s'), 5000);
  t.equal(parseDuration('1m'), 60_000);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('2h'), 7_200_000);
});

t.test('rejects what is not a duration', async (t) => {
  for (const bad of ['', '5', 's', '-1s', '5 sec', '1d']) t.throws(() => parseDuration(bad), { name: 'RangeError' }, bad);
});

t.test('formats back', async (t) => {
  t.equal(formatDuration(500), '500ms');
  t.equal(formatDuration(5000), '5s');
  t.equal(formatDuration(120_000), '2m');
});
