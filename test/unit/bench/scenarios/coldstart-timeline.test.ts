// The cold-start bench's arithmetic on hand-written log lines: marks are found by event, pod,
// revision and time; phases run from the previous mark found (so a run without a poke counts the
// patch from the request); the aim's span, medians, maxima and verdicts.

import t from 'tap';
import {
  aimVerdicts,
  coldStartTable,
  parseLogLines,
  phases,
  proxyOverheadMs,
  summarizeSetting,
  timeline,
  type ColdStartFacts,
  type ColdStartLogs,
} from '../../../../bench/scenarios/coldstart-timeline.ts';

const T0 = Date.parse('2026-11-26T12:00:00.000Z');
const at = (ms: number): string => new Date(T0 + ms).toISOString();
const facts: ColdStartFacts = {
  sentAt: T0 + 0.4,
  firstByteAt: T0 + 560.4,
  namespace: 'default',
  revision: 'hello-00001',
  seika: 'hello',
  node: 'node3',
  pod: 'hello-node3-abcde',
  podAddress: '127.0.213.1:8080',
};
const rev = { namespace: 'default', revision: 'hello-00001' };

function logs(poke: boolean): ColdStartLogs {
  return {
    proxy: [
      // An earlier cold start's lines are ignored by time.
      { time: at(-5000), event: 'cold_start_poke', ...rev },
      { time: at(-4000), event: 'pod_probed_ready', ...rev, msg: '127.0.213.1:8080' },
      ...(poke ? [{ time: at(1), event: 'cold_start_poke', ...rev }] : []),
      { time: at(2), event: 'cold_start_poke', namespace: 'default', revision: 'other' },
      { time: at(520), event: 'pod_probed_ready', ...rev, msg: '127.0.213.2:8080' },
      { time: at(530), event: 'pod_probed_ready', ...rev, msg: '127.0.213.1:8080' },
    ],
    controller: [
      { time: at(5), event: 'seika_patched', namespace: 'default', seika: 'hello', repurika: { node1: 0, node2: 0, node3: 0 } },
      { time: at(10), event: 'seika_patched', namespace: 'default', seika: 'hello', repurika: { node1: 0, node2: 0, node3: 1 } },
    ],
    agent: [
      { time: at(15), event: 'agent_pod_created', ...rev, pod: 'hello-node3-zzzzz', msg: '127.0.213.2:8080' },
      { time: at(20), event: 'agent_pod_created', ...rev, pod: 'hello-node3-abcde', msg: '127.0.213.1:8080' },
    ],
    pods: [
      { time: at(200), event: 'pod_started', pod: 'hello-node3-abcde' },
      { time: at(510), event: 'pod_listening', pod: 'hello-node3-abcde', msg: '127.0.213.1:8080' },
      { time: at(511), event: 'pod_listening', pod: 'hello-node3-zzzzz' },
      { time: at(512), event: 'pod_first_probe', pod: 'hello-node3-zzzzz', msg: 'ikukantai-readiness-prober' },
      { time: at(518), event: 'pod_first_probe', pod: 'hello-node3-abcde', msg: 'ikukantai-readiness-prober' },
      { time: at(533), event: 'pod_first_request', pod: 'hello-node3-abcde' },
    ],
  };
}

t.test('parseLogLines keeps JSON lines and skips the rest', async (t) => {
  t.same(parseLogLines('{"event":"a"}\nnot json\n{"event":"b"}\n{"event":"unfinis'), [{ event: 'a' }, { event: 'b' }]);
});

t.test('every mark from its own part, matched by pod, revision and time', async (t) => {
  const tl = timeline(facts, logs(true));
  t.same(tl, {
    arrival: T0 + 0.4,
    poke: T0 + 1,
    patched: T0 + 10,
    spawned: T0 + 20,
    started: T0 + 200,
    listening: T0 + 510,
    probed: T0 + 518,
    ready: T0 + 530,
    forwarded: T0 + 533,
    firstByte: T0 + 560.4,
  });
  const p = phases(tl);
  t.equal(p.poke!.toFixed(1), '0.6');
  t.equal(p.patched, 9);
  t.equal(p.probed, 8, "the proxy's wait for its next probe");
  t.equal(p.ready, 12, "the pod's first answer");
  t.equal(p.forwarded, 3);
  t.equal(p.firstByte!.toFixed(1), '27.4');
  t.equal(proxyOverheadMs(tl), 23);
});

t.test('a line logged in the same millisecond as the send still counts', async (t) => {
  const tl = timeline({ ...facts, sentAt: T0 + 1.9 }, logs(true));
  t.equal(tl.poke, T0 + 1);
});

t.test('without a poke the patch counts from the request', async (t) => {
  const tl = timeline(facts, logs(false));
  t.equal(tl.poke, undefined);
  const p = phases(tl);
  t.equal(p.poke, undefined);
  t.equal(p.patched!.toFixed(1), '9.6');
});

t.test('ready is the probe or the endpoint source, whichever released the waiters first', async (t) => {
  const l = logs(true);
  const released = { time: at(525), event: 'cold_start_released', ...rev };
  t.equal(timeline(facts, { ...l, proxy: [...l.proxy, released] }).ready, T0 + 525);
  const noProbe = l.proxy.filter((x) => x.event !== 'pod_probed_ready');
  t.equal(timeline(facts, { ...l, proxy: [...noProbe, { ...released, time: at(540) }] }).ready, T0 + 540);
});

t.test("only the proxy's probe counts, not the kubelet's", async (t) => {
  const l = logs(true);
  const pods = l.pods.map((x) => (x.event === 'pod_first_probe' ? { ...x, msg: '' } : x));
  t.equal(timeline(facts, { ...l, pods }).probed, undefined);
});

t.test('a missing mark leaves its phase out and the next runs from the mark before', async (t) => {
  const l = logs(true);
  const tl = timeline({ ...facts, podAddress: undefined }, l);
  t.equal(tl.ready, undefined);
  t.equal(phases(tl).forwarded, 15, 'probed → forwarded');
  t.equal(proxyOverheadMs(timeline(facts, { ...l, pods: [] })), undefined);
});

t.test('summary, verdicts and table over several cold starts', async (t) => {
  const a = timeline(facts, logs(true));
  const b = timeline({ ...facts, firstByteAt: T0 + 600.4 }, { ...logs(true), pods: logs(true).pods.map((l) => (l.event === 'pod_first_request' ? { ...l, time: at(545) } : l)) });
  const s = summarizeSetting([a, b]);
  t.same(s.overhead, { count: 2, median: 23, max: 35 });
  t.equal(s.total.max, 600);
  t.same(s.phases.forwarded, { count: 2, median: 3, max: 15 });
  t.match(aimVerdicts(s), [
    { valueMs: 23, ok: true },
    { valueMs: 35, ok: false },
  ]);
  const none = summarizeSetting([]);
  t.match(aimVerdicts(none), [{ ok: undefined }, { ok: undefined }]);
  const table = coldStartTable([
    { name: 'ours', summary: s },
    { name: 'knative', summary: none },
  ]);
  t.match(table, /→ Seika patched\s+9\.0\s+9\.0\s+—\s+—/);
  t.match(table, /pod listening → forwarded \(aim\)\s+23\.0\s+35\.0/);
});
