import t from 'tap';
import {
  closedTable,
  combineRounds,
  deriveRows,
  median,
  formatVerdicts,
  mustFailed,
  pacedTable,
  verdicts,
  type TargetMeasurement,
} from '../../../../bench/scenarios/overhead-report.ts';
import { summarize } from '../../../../bench/support/percentile.ts';

const paced = (p50: number, p99: number, failures = 0) => ({
  sent: 100,
  failures,
  // 100 samples: 98 at p50, 2 at p99 → nearest-rank p50 = p50, p99 = p99.
  latencyMs: summarize([...Array.from({ length: 98 }, () => p50), p99, p99]),
  lateMs: summarize([0.1]),
});
const m = (name: string, rps: number, cpu: number | undefined, p50: number, p99: number, failures = 0): TargetMeasurement => ({
  name,
  about: name,
  closed: { requests: rps * 10, seconds: 10, rps, p50Ms: 1, p99Ms: 3, failures },
  warmupFailures: 0,
  ...(cpu === undefined ? {} : { cpuUsPerRequest: cpu }),
  backendCpuUsPerRequest: 30,
  paced: paced(p50, p99),
});

// Figures shaped like DESIGN.md §8: minimal 1.9 × nginx CPU, http-proxy 3.4 ×.
const run: TargetMeasurement[] = [
  m('direct', 40000, undefined, 0.2, 0.5),
  m('minimal', 24000, 38, 0.36, 1.0),
  m('ours', 22000, 44, 0.33, 1.2),
  { name: 'ours-cc100', about: 'x', skipped: 'proxy/bin.ts does not exist yet' },
  m('nginx', 30000, 20, 0.27, 0.6),
  m('http-proxy', 11000, 68, 0.9, 3),
];

t.test('ratios come from the same run; direct has no proxy figures', async (t) => {
  const rows = deriveRows(run);
  const ours = rows.find((r) => r.name === 'ours')!;
  t.equal(ours.cpuVsNginx, 44 / 20);
  t.equal(ours.cpuVsMinimal, 44 / 38);
  t.equal(ours.rpsVsNginx, 22000 / 30000);
  t.equal(ours.rpsVsHttpProxy, 2);
  t.ok(Math.abs(ours.addedP50Ms! - 0.13) < 1e-9);
  t.ok(Math.abs(ours.addedP99Ms! - 0.7) < 1e-9);
  const direct = rows.find((r) => r.name === 'direct')!;
  t.equal(direct.cpuUs, undefined);
  t.equal(direct.rpsVsNginx, undefined);
  t.equal(direct.addedP50Ms, undefined);
  t.same(rows.find((r) => r.name === 'ours-cc100'), { name: 'ours-cc100' });
});

t.test('without nginx the × nginx figures are missing, not wrong', async (t) => {
  const rows = deriveRows(run.map((x) => (x.name === 'nginx' ? { name: 'nginx', about: '', skipped: 'no nginx' } : x)));
  const ours = rows.find((r) => r.name === 'ours')!;
  t.equal(ours.cpuVsNginx, undefined);
  t.equal(ours.cpuVsMinimal, 44 / 38);
  const v = verdicts(rows).find((x) => x.target === 'ours' && x.what.includes('1.5 × nginx'))!;
  t.equal(v.pass, undefined);
});

t.test('verdicts: the musts decide the exit status', async (t) => {
  const rows = deriveRows(run);
  const vs = verdicts(rows);
  const ours = vs.filter((v) => v.target === 'ours');
  t.same(
    ours.map((v) => [v.level, v.what, v.pass]),
    [
      ['must', 'failures = 0', true],
      ['must', 'CPU/request ≤ 1.2 × minimal', true],
      ['aim', 'CPU/request ≤ 1.5 × nginx', false],
      ['aim', 'req/s ≥ 0.8 × nginx', false],
      ['aim', 'req/s ≥ 2 × http-proxy', true],
      ['aim', 'added p50 ≤ 0.15 ms', true],
      ['aim', 'added p99 ≤ 1 ms', true],
    ],
  );
  // ours-cc100 was skipped: its musts cannot be judged, and that fails the run.
  t.equal(mustFailed(vs, rows), true);
  const onlyOurs = run.filter((x) => x.name !== 'ours-cc100');
  t.equal(mustFailed(verdicts(deriveRows(onlyOurs)), deriveRows(onlyOurs)), false);
  const failing = onlyOurs.map((x) => (x.name === 'ours' ? m('ours', 22000, 44, 0.33, 1.2, 3) : x));
  t.equal(mustFailed(verdicts(deriveRows(failing)), deriveRows(failing)), true);
  const tooHungry = onlyOurs.map((x) => (x.name === 'ours' ? m('ours', 22000, 46, 0.33, 1.2) : x));
  t.equal(mustFailed(verdicts(deriveRows(tooHungry)), deriveRows(tooHungry)), true);
  const noOurs = run.filter((x) => !x.name.startsWith('ours'));
  t.equal(mustFailed(verdicts(deriveRows(noOurs)), deriveRows(noOurs)), true, 'nothing measured is no pass');
});

t.test('printed forms carry every target and verdict', async (t) => {
  const rows = deriveRows(run);
  const closed = closedTable(rows);
  const pacedText = pacedTable(rows);
  for (const name of ['direct', 'minimal', 'ours', 'ours-cc100', 'nginx', 'http-proxy']) {
    t.match(closed, new RegExp(`^${name} `, 'm'));
    t.match(pacedText, new RegExp(`^${name} `, 'm'));
  }
  t.match(closed, /^ours\s+22000\s+1\s+3\s+0\s+44\.0\s+2\.20\s+1\.16\s+0\.73\s+2\.00\s+30\.0$/m);
  t.match(pacedText, /^ours\s+0\.330\s+1\.200\s+1\.200\s+0\.130\s+0\.700\s+0\.100$/m);
  const text = formatVerdicts(verdicts(rows));
  t.match(text, /^ok {3}must ours {9}failures = 0/m);
  t.match(text, /^MISS aim {2}ours {9}CPU\/request ≤ 1\.5 × nginx {4}2\.200$/m);
  t.match(text, /^n\/a {2}must ours-cc100/m);
});

t.test('median: middle value, mean of the middle two, missing values ignored', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([undefined, 5, NaN]), 5);
  t.equal(median([]), undefined);
});

t.test('rounds: each figure is the median across rounds, failures add up', async (t) => {
  // Round 2 caught a burst of outside load on ours: its figures must not decide.
  const r1 = [m('direct', 40000, undefined, 0.2, 0.5), m('ours', 22000, 44, 0.33, 1.2)];
  const r2 = [m('direct', 39000, undefined, 0.21, 0.6), m('ours', 9000, 120, 2.5, 40, 1)];
  const r3 = [m('direct', 41000, undefined, 0.19, 0.4), m('ours', 21000, 46, 0.35, 1.1)];
  const [direct, ours] = combineRounds([r1, r2, r3]);
  t.equal(direct!.closed!.rps, 40000);
  t.equal(direct!.cpuUsPerRequest, undefined);
  t.equal(ours!.closed!.rps, 21000);
  t.equal(ours!.cpuUsPerRequest, 46);
  t.equal(ours!.paced!.latencyMs.p50, 0.35);
  t.equal(ours!.paced!.latencyMs.p99, 1.2);
  t.equal(ours!.closed!.failures, 1);
  t.equal(ours!.paced!.sent, 300);
  t.same(combineRounds([r1]), r1, 'one round passes through');
  const skippedOnce = combineRounds([r1, [r2[0]!, { name: 'ours', about: 'ours', skipped: 'gone' }]]);
  t.equal(skippedOnce[1]!.skipped, 'gone');
});
