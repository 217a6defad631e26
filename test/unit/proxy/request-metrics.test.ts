import t from 'tap';
import { createProxyMetrics } from '../../../proxy/proxy-metrics.ts';
import { RequestMetrics } from '../../../proxy/request-metrics.ts';

function value(text: string, line: string): number | undefined {
  const row = text.split('\n').find((l) => l.startsWith(line + ' '));
  return row === undefined ? undefined : Number(row.slice(line.length + 1));
}

const REQ = 'ikukantai_proxy_requests_total';
const DUR = 'ikukantai_proxy_request_duration_seconds';
const ok = `${REQ}{namespace="default",revision="hello",code="200",target_node="node1",node="node1"}`;
const bad = `${REQ}{namespace="default",revision="hello",code="502",target_node="node1",node="node1"}`;
const early = `${REQ}{namespace="",revision="",code="400",target_node="",node="node1"}`;

t.test('counts and durations reach the scrape exactly', async (t) => {
  const m = createProxyMetrics('node1');
  const rm = new RequestMetrics(m);
  for (let i = 0; i < 3; i++) rm.record('default', 'hello', 200, 'node1', 0.002);
  rm.record('default', 'hello', 502, 'node1', 0.2);
  rm.record('', '', 400, '', undefined);
  let text = await m.registry.metrics();
  t.equal(value(text, ok), 3);
  t.equal(value(text, bad), 1);
  t.equal(value(text, early), 1, 'an early error is counted');
  t.equal(value(text, `${DUR}_count{node="node1",namespace="default",revision="hello",target_node="node1"}`), 4);
  t.equal(value(text, `${DUR}_bucket{le="0.0025",node="node1",namespace="default",revision="hello",target_node="node1"}`), 3);
  t.notOk(text.includes(`${DUR}_count{node="node1",namespace="",`), 'no duration without seconds');

  // A second scrape adds only what came since: totals stay exact, never double-counted.
  t.equal(value(await m.registry.metrics(), ok), 3, 'scraping again changes nothing');
  rm.record('default', 'hello', 200, 'node1', 0.002);
  text = await m.registry.metrics();
  t.equal(value(text, ok), 4);
  t.equal(value(text, bad), 1);
});

t.test('other writers of the same counter keep their counts', async (t) => {
  const m = createProxyMetrics('node1');
  const rm = new RequestMetrics(m);
  m.requests.inc({ namespace: 'default', revision: 'hello', code: '200', target_node: 'node1' }, 5);
  rm.record('default', 'hello', 200, 'node1', 0.001);
  t.equal(value(await m.registry.metrics(), ok), 6);
});

t.test('series are told apart by every label', async (t) => {
  const m = createProxyMetrics('node1');
  const rm = new RequestMetrics(m);
  rm.record('a', 'r', 200, 'n1', 0.001);
  rm.record('b', 'r', 200, 'n1', 0.001);
  rm.record('a', 's', 200, 'n1', 0.001);
  rm.record('a', 'r', 200, 'n2', 0.001);
  rm.record('a', 'r', 200, 'n1', 0.001);
  const text = await m.registry.metrics();
  t.equal(value(text, `${REQ}{namespace="a",revision="r",code="200",target_node="n1",node="node1"}`), 2);
  for (const [ns, rev, n] of [['b', 'r', 'n1'], ['a', 's', 'n1'], ['a', 'r', 'n2']]) {
    t.equal(value(text, `${REQ}{namespace="${ns}",revision="${rev}",code="200",target_node="${n}",node="node1"}`), 1, `${ns}/${rev}@${n}`);
  }
});
