// The overhead scenario's arithmetic, kept pure so it is tested without sockets: ratios against
// nginx, the minimal proxy and http-proxy measured in the same run, added latency over the backend
// reached directly, the DESIGN.md §8 verdicts, and the two printed tables.

import type { ClosedLoadResult } from '../support/closed-load.ts';
import type { PacedLoadResult } from '../support/paced-load.ts';
import type { LatencySummary } from '../support/percentile.ts';
import { formatTable } from '../support/report.ts';

export interface TargetMeasurement {
  name: string;
  about: string;
  /** Why it did not run (nginx missing, proxy not built); the other fields are then absent. */
  skipped?: string;
  closed?: ClosedLoadResult;
  /** Failed start-up checks and warm-up requests (they count against "0 failures" too). */
  warmupFailures?: number;
  /** Proxy CPU (process tree, user + system) per completed request; absent for `direct`. */
  cpuUsPerRequest?: number;
  /**
   * The backend's CPU per request in the same run: the same work behind every target, so its
   * spread across rows shows how noisy the machine was (a control, not a result).
   */
  backendCpuUsPerRequest?: number;
  paced?: PacedLoadResult;
}

/** Median of the finite values (the mean of the middle two for an even count); undefined if none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const xs = values.filter((v): v is number => v !== undefined && Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

function medianSummary(list: readonly LatencySummary[]): LatencySummary {
  const pick = (k: keyof LatencySummary): number => median(list.map((x) => x[k])) ?? NaN;
  return { count: pick('count'), p50: pick('p50'), p90: pick('p90'), p99: pick('p99'), p999: pick('p999'), max: pick('max'), mean: pick('mean') };
}

/**
 * Several rounds of the same targets → one measurement per target: the median of each figure
 * across rounds, failures summed. On a shared machine a burst of someone else's work lands on
 * whichever target runs at that moment; the median of 3 rounds drops such a round.
 */
export function combineRounds(rounds: readonly (readonly TargetMeasurement[])[]): TargetMeasurement[] {
  if (rounds.length === 1) return [...rounds[0]!];
  const names = rounds[0]?.map((m) => m.name) ?? [];
  return names.map((name) => {
    const all = rounds.map((r) => r.find((m) => m.name === name)!);
    const first = all[0]!;
    const skipped = all.find((m) => m.skipped);
    if (skipped) return { name, about: first.about, skipped: skipped.skipped! };
    const closed = all.map((m) => m.closed!);
    const paced = all.map((m) => m.paced!);
    const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
    const cpu = median(all.map((m) => m.cpuUsPerRequest));
    const backendCpu = median(all.map((m) => m.backendCpuUsPerRequest));
    return {
      name,
      about: first.about,
      closed: {
        requests: median(closed.map((c) => c.requests))!,
        seconds: median(closed.map((c) => c.seconds))!,
        rps: median(closed.map((c) => c.rps))!,
        p50Ms: median(closed.map((c) => c.p50Ms))!,
        p99Ms: median(closed.map((c) => c.p99Ms))!,
        failures: sum(closed.map((c) => c.failures)),
      },
      warmupFailures: sum(all.map((m) => m.warmupFailures ?? 0)),
      ...(cpu === undefined ? {} : { cpuUsPerRequest: cpu }),
      ...(backendCpu === undefined ? {} : { backendCpuUsPerRequest: backendCpu }),
      paced: {
        sent: sum(paced.map((p) => p.sent)),
        failures: sum(paced.map((p) => p.failures)),
        latencyMs: medianSummary(paced.map((p) => p.latencyMs)),
        lateMs: medianSummary(paced.map((p) => p.lateMs)),
      },
    };
  });
}

export interface DerivedRow {
  name: string;
  rps?: number;
  p50Ms?: number;
  p99Ms?: number;
  failures?: number;
  cpuUs?: number;
  backendCpuUs?: number;
  cpuVsNginx?: number;
  cpuVsMinimal?: number;
  rpsVsNginx?: number;
  rpsVsHttpProxy?: number;
  pacedP50Ms?: number;
  pacedP99Ms?: number;
  pacedP999Ms?: number;
  addedP50Ms?: number;
  addedP99Ms?: number;
  lateP99Ms?: number;
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined || !(b > 0) ? undefined : a / b;
const diff = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined || b === undefined ? undefined : a - b;

export function deriveRows(ms: readonly TargetMeasurement[]): DerivedRow[] {
  const by = new Map(ms.filter((m) => !m.skipped).map((m) => [m.name, m]));
  const nginx = by.get('nginx');
  const minimal = by.get('minimal');
  const httpProxy = by.get('http-proxy');
  const direct = by.get('direct');
  return ms.map((m) => {
    if (m.skipped) return { name: m.name };
    const failures = (m.warmupFailures ?? 0) + (m.closed?.failures ?? 0) + (m.paced?.failures ?? 0);
    const isProxy = m.cpuUsPerRequest !== undefined;
    return {
      name: m.name,
      rps: m.closed?.rps,
      p50Ms: m.closed?.p50Ms,
      p99Ms: m.closed?.p99Ms,
      failures,
      cpuUs: m.cpuUsPerRequest,
      backendCpuUs: m.backendCpuUsPerRequest,
      cpuVsNginx: ratio(m.cpuUsPerRequest, nginx?.cpuUsPerRequest),
      cpuVsMinimal: ratio(m.cpuUsPerRequest, minimal?.cpuUsPerRequest),
      rpsVsNginx: isProxy ? ratio(m.closed?.rps, nginx?.closed?.rps) : undefined,
      rpsVsHttpProxy: isProxy ? ratio(m.closed?.rps, httpProxy?.closed?.rps) : undefined,
      pacedP50Ms: m.paced?.latencyMs.p50,
      pacedP99Ms: m.paced?.latencyMs.p99,
      pacedP999Ms: m.paced?.latencyMs.p999,
      addedP50Ms: isProxy ? diff(m.paced?.latencyMs.p50, direct?.paced?.latencyMs.p50) : undefined,
      addedP99Ms: isProxy ? diff(m.paced?.latencyMs.p99, direct?.paced?.latencyMs.p99) : undefined,
      lateP99Ms: m.paced?.lateMs.p99,
    };
  });
}

export interface Verdict {
  level: 'must' | 'aim';
  target: string;
  what: string;
  value: number | undefined;
  /** undefined: could not be judged (a reference target was skipped). */
  pass: boolean | undefined;
}

const check = (value: number | undefined, ok: (v: number) => boolean): boolean | undefined =>
  value === undefined || !Number.isFinite(value) ? undefined : ok(value);

/** DESIGN.md §8 for every variant of our proxy (`ours…` targets). */
export function verdicts(rows: readonly DerivedRow[]): Verdict[] {
  const out: Verdict[] = [];
  for (const r of rows.filter((x) => x.name.startsWith('ours'))) {
    const add = (level: Verdict['level'], what: string, value: number | undefined, ok: (v: number) => boolean): void => {
      out.push({ level, target: r.name, what, value, pass: check(value, ok) });
    };
    add('must', 'failures = 0', r.failures, (v) => v === 0);
    add('must', 'CPU/request ≤ 1.2 × minimal', r.cpuVsMinimal, (v) => v <= 1.2);
    add('aim', 'CPU/request ≤ 1.5 × nginx', r.cpuVsNginx, (v) => v <= 1.5);
    add('aim', 'req/s ≥ 0.8 × nginx', r.rpsVsNginx, (v) => v >= 0.8);
    add('aim', 'req/s ≥ 2 × http-proxy', r.rpsVsHttpProxy, (v) => v >= 2);
    add('aim', 'added p50 ≤ 0.15 ms', r.addedP50Ms, (v) => v <= 0.15);
    add('aim', 'added p99 ≤ 1 ms', r.addedP99Ms, (v) => v <= 1);
  }
  return out;
}

/** Exit status: 1 when a must was missed or could not be judged (our proxy did not run). */
export function mustFailed(vs: readonly Verdict[], rows: readonly DerivedRow[]): boolean {
  const oursRan = rows.some((r) => r.name.startsWith('ours') && r.rps !== undefined);
  return !oursRan || vs.some((v) => v.level === 'must' && v.pass !== true);
}

export function formatVerdicts(vs: readonly Verdict[]): string {
  const word = (p: boolean | undefined): string => (p === undefined ? 'n/a ' : p ? 'ok  ' : 'MISS');
  return vs
    .map((v) => `${word(v.pass)} ${v.level.padEnd(4)} ${v.target.padEnd(12)} ${v.what.padEnd(28)} ${v.value === undefined ? '—' : v.value.toFixed(3)}`)
    .join('\n') + '\n';
}

export function closedTable(rows: readonly DerivedRow[]): string {
  return formatTable(
    [
      { title: 'target' },
      { title: 'req/s' },
      { title: 'p50 ms' },
      { title: 'p99 ms' },
      { title: 'fail' },
      { title: 'CPU µs/req', digits: 1 },
      { title: 'CPU ×nginx', digits: 2 },
      { title: 'CPU ×minimal', digits: 2 },
      { title: 'req/s ×nginx', digits: 2 },
      { title: 'req/s ×http-proxy', digits: 2 },
      { title: 'backend µs/req', digits: 1 },
    ],
    rows.map((r) => [r.name, r.rps, r.p50Ms, r.p99Ms, r.failures, r.cpuUs, r.cpuVsNginx, r.cpuVsMinimal, r.rpsVsNginx, r.rpsVsHttpProxy, r.backendCpuUs]),
  );
}

export function pacedTable(rows: readonly DerivedRow[]): string {
  return formatTable(
    [
      { title: 'target' },
      { title: 'p50 ms', digits: 3 },
      { title: 'p99 ms', digits: 3 },
      { title: 'p99.9 ms', digits: 3 },
      { title: 'added p50 ms', digits: 3 },
      { title: 'added p99 ms', digits: 3 },
      { title: 'send late p99 ms', digits: 3 },
    ],
    rows.map((r) => [r.name, r.pacedP50Ms, r.pacedP99Ms, r.pacedP999Ms, r.addedP50Ms, r.addedP99Ms, r.lateP99Ms]),
  );
}
