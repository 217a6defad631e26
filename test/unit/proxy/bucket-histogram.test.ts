import t from 'tap';
import { Histogram, Registry } from 'prom-client';
import { BucketHistogram } from '../../../proxy/bucket-histogram.ts';

const BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1, 300];
const LABELS = ['namespace', 'revision', 'target_node'] as const;
type Labels = Record<(typeof LABELS)[number], string>;

/** The same observations into prom-client's Histogram and ours, each in its own registry. */
function both(observations: Array<[Labels, number]>): { theirs: Registry; ours: Registry } {
  const theirs = new Registry();
  const ours = new Registry();
  for (const r of [theirs, ours]) r.setDefaultLabels({ node: 'node1' });
  const h = new Histogram({ name: 'x_seconds', help: 'help with a \\ backslash', labelNames: LABELS, buckets: BUCKETS, registers: [theirs] });
  const b = new BucketHistogram({ name: 'x_seconds', help: 'help with a \\ backslash', labelNames: LABELS, buckets: BUCKETS, registers: [ours] });
  for (const [labels, v] of observations) {
    h.observe(labels, v);
    b.series(labels).observe(v);
  }
  return { theirs, ours };
}

const a: Labels = { namespace: 'default', revision: 'hello-00001', target_node: 'node1' };
const c: Labels = { namespace: 'default', revision: 'hello-00001', target_node: 'node3' };
const odd: Labels = { namespace: 'ns', revision: 'r', target_node: 'quote " and \\ and \n' };

t.test('text exposition is byte for byte what prom-client prints', async (t) => {
  const cases: Array<{ name: string; obs: Array<[Labels, number]> }> = [
    { name: 'no observation', obs: [] },
    { name: 'one series, values on, between and beyond the bounds', obs: [[a, 0], [a, 0.0005], [a, 0.00051], [a, 0.05], [a, 1], [a, 299.9], [a, 301], [a, 1e6]] },
    { name: 'two series in first-seen order', obs: [[c, 0.2], [a, 0.003], [c, 0.0001], [a, 2]] },
    { name: 'label values that need escaping', obs: [[odd, 0.01]] },
    { name: 'float sums', obs: [[a, 0.1], [a, 0.2], [a, 0.0003]] },
  ];
  for (const k of cases) {
    const { theirs, ours } = both(k.obs);
    t.equal(await ours.metrics(), await theirs.metrics(), k.name);
  }
});

t.test('JSON form matches prom-client too', async (t) => {
  const { theirs, ours } = both([[a, 0.003], [c, 7]]);
  const strip = (j: Array<{ values: Array<Record<string, unknown>> }>): unknown =>
    j.map((m) => ({ ...m, values: m.values.map(({ exemplar: _e, ...v }) => v) }));
  t.same(strip((await ours.getMetricsAsJSON()) as never), strip((await theirs.getMetricsAsJSON()) as never));
});

t.test('a series is made once per label set and kept', async (t) => {
  const b = new BucketHistogram({ name: 'y_seconds', help: 'h', labelNames: LABELS, buckets: BUCKETS });
  const s = b.series(a);
  t.equal(b.series({ ...a }), s, 'equal labels, same series');
  t.not(b.series(c), s);
  s.observe(0.002);
  s.observe(0.5);
  t.same(s.cumulative(), [0, 0, 1, 1, 2, 2]);
  t.equal(s.count, 2);
  t.equal(s.sum, 0.502);
});

t.test('reset zeroes the series in place (holders keep observing into it)', async (t) => {
  const r = new Registry();
  const b = new BucketHistogram({ name: 'z_seconds', help: 'h', labelNames: LABELS, buckets: BUCKETS, registers: [r] });
  const s = b.series(a);
  s.observe(0.2);
  r.resetMetrics();
  t.equal(s.count, 0);
  s.observe(0.2);
  t.match(await r.metrics(), /z_seconds_count\{namespace="default",revision="hello-00001",target_node="node1"\} 1/);
});

t.test('bad input is refused', async (t) => {
  t.throws(() => new BucketHistogram({ name: 'b', help: 'h', labelNames: LABELS, buckets: [1, 1] }), RangeError);
  t.throws(() => new BucketHistogram({ name: 'b', help: 'h', labelNames: ['le'], buckets: [1] }), RangeError);
  const s = new BucketHistogram({ name: 'b', help: 'h', labelNames: LABELS, buckets: [1] }).series(a);
  t.throws(() => s.observe(Number.NaN), TypeError);
  t.throws(() => s.observe(Number.POSITIVE_INFINITY), TypeError);
  t.equal(s.count, 0, 'nothing counted');
});
