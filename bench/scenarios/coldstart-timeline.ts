// Where a cold start's time goes, from the JSON log lines each part writes (no clock but the
// machine's: every process of the emulated cluster runs here, so their `time` fields compare).
// One cold start is a chain of marks, each found in the log of the part that reached it:
//
//   arrival (client sends) → poke sent (node3 proxy, `cold_start_poke`) → Seika patched
//   (controller, `seika_patched`) → pod spawned (node agent, `agent_pod_created`) → pod process
//   started (pod, `pod_started`) → pod listening (pod, `pod_listening`) → the proxy's probe reaches
//   the pod (pod, `pod_first_probe` from the prober's user agent) → proxy sees it ready (node3 proxy,
//   `pod_probed_ready`, or `cold_start_released` when the EndpointSlice said ready first) → request
//   forwarded (pod, `pod_first_request`) → first byte (client)
//
// The probe mark splits the proxy's wait for its next probe from the pod's first answer, which a
// freshly started Node process gives slowly (its first HTTP exchange, not yet optimised code).
//
// A phase runs from the previous mark that was found, so the Knative-like run, which sends no poke,
// counts "Seika patched" from arrival. Log times have millisecond resolution, so each phase is
// ±1 ms. DESIGN.md §8's aim is about the proxy only: pod listening → request forwarded ≤ 30 ms
// (Knative's activator probes every 200 ms, so it waits 100 ms on average, up to 200 ms).
// Pure functions: the scenario (coldstart.ts) does the I/O.

import { percentile } from '../support/percentile.ts';
import { formatTable, type Cell } from '../support/report.ts';

export const MARKS = ['arrival', 'poke', 'patched', 'spawned', 'started', 'listening', 'probed', 'ready', 'forwarded', 'firstByte'] as const;
export type Mark = (typeof MARKS)[number];

export const MARK_LABELS: Record<Mark, string> = {
  arrival: 'request sent',
  poke: 'poke sent',
  patched: 'Seika patched',
  spawned: 'pod spawned',
  started: 'pod process started',
  listening: 'pod listening',
  probed: "proxy's probe reaches pod",
  ready: 'proxy sees it ready',
  forwarded: 'request forwarded',
  firstByte: 'first byte',
};

/** The proxy's readiness prober's User-Agent (proxy/coldstart/readiness-prober.ts); the emulated
 * kubelet sends none. */
export const PROBER_AGENT = 'ikukantai-readiness-prober';

/** DESIGN.md §8: pod listening → first request forwarded. */
export const AIM_MS = 30;

export type LogLine = Record<string, unknown>;

/** Epoch ms of every mark found; absent marks are missing from the logs. */
export type Timeline = Partial<Record<Mark, number>>;

export interface ColdStartFacts {
  /** Epoch ms (sub-ms) the client sent the request and got the response headers. */
  sentAt: number;
  firstByteAt: number;
  namespace: string;
  revision: string;
  seika: string;
  /** The node the request entered at, where the pod should start. */
  node: string;
  /** The pod that answered (from its body) and its `address:port`. */
  pod: string;
  podAddress?: string;
}

export interface ColdStartLogs {
  proxy: readonly LogLine[];
  controller: readonly LogLine[];
  agent: readonly LogLine[];
  pods: readonly LogLine[];
}

/** Parses JSON lines, skipping anything else (a partial last line, a stray stderr line). */
export function parseLogLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as LogLine);
    } catch {
      // an unfinished line: the writer is mid-write
    }
  }
  return out;
}

function timeOf(line: LogLine): number {
  return typeof line['time'] === 'string' ? Date.parse(line['time']) : NaN;
}

/** The first line of `event` at or after `since` that satisfies `match`. */
function first(lines: readonly LogLine[], event: string, since: number, match: (l: LogLine) => boolean = () => true): number | undefined {
  for (const l of lines) {
    if (l['event'] !== event) continue;
    const t = timeOf(l);
    if (t >= since && match(l)) return t;
  }
  return undefined;
}

function earliest(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** Finds every mark of one cold start in the parts' logs. */
export function timeline(f: ColdStartFacts, logs: ColdStartLogs): Timeline {
  // Log times are truncated to the millisecond, so a line written just after sending may read as
  // earlier than the sub-millisecond send time.
  const since = Math.floor(f.sentAt);
  const isRevision = (l: LogLine): boolean => l['namespace'] === f.namespace && l['revision'] === f.revision;
  const isPod = (l: LogLine): boolean => l['pod'] === f.pod;
  const t: Timeline = { arrival: f.sentAt, firstByte: f.firstByteAt };
  const found: Partial<Record<Mark, number | undefined>> = {
    poke: first(logs.proxy, 'cold_start_poke', since, isRevision),
    patched: first(logs.controller, 'seika_patched', since, (l) => {
      const repurika = l['repurika'] as Record<string, number> | undefined;
      return l['namespace'] === f.namespace && l['seika'] === f.seika && (repurika?.[f.node] ?? 0) > 0;
    }),
    spawned: first(logs.agent, 'agent_pod_created', since, isPod),
    started: first(logs.pods, 'pod_started', since, isPod),
    listening: first(logs.pods, 'pod_listening', since, isPod),
    probed: first(logs.pods, 'pod_first_probe', since, (l) => isPod(l) && l['msg'] === PROBER_AGENT),
    ready: earliest(
      f.podAddress === undefined ? undefined : first(logs.proxy, 'pod_probed_ready', since, (l) => isRevision(l) && l['msg'] === f.podAddress),
      first(logs.proxy, 'cold_start_released', since, isRevision),
    ),
    forwarded: first(logs.pods, 'pod_first_request', since, isPod),
  };
  for (const m of MARKS) if (found[m] !== undefined) t[m] = found[m];
  return t;
}

/** Each mark's time since the previous mark found (undefined when the mark itself is missing). */
export function phases(t: Timeline): Partial<Record<Mark, number>> {
  const out: Partial<Record<Mark, number>> = {};
  let prev: number | undefined;
  for (const m of MARKS) {
    const at = t[m];
    if (at === undefined) continue;
    if (prev !== undefined) out[m] = at - prev;
    prev = at;
  }
  return out;
}

/** The aim's figure: pod listening → request forwarded, when both were logged. */
export function proxyOverheadMs(t: Timeline): number | undefined {
  return t.listening !== undefined && t.forwarded !== undefined ? t.forwarded - t.listening : undefined;
}

export interface Stat {
  count: number;
  median: number;
  max: number;
}

export function stat(values: readonly number[]): Stat {
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, median: percentile(sorted, 50), max: sorted.length ? sorted[sorted.length - 1]! : NaN };
}

export interface SettingSummary {
  /** Per phase (keyed by the mark that ends it), over the cold starts where it was measured. */
  phases: Partial<Record<Mark, Stat>>;
  total: Stat;
  overhead: Stat;
}

export function summarizeSetting(timelines: readonly Timeline[]): SettingSummary {
  const per = timelines.map(phases);
  const out: Partial<Record<Mark, Stat>> = {};
  for (const m of MARKS.slice(1)) {
    const v = per.flatMap((p) => (p[m] === undefined ? [] : [p[m]]));
    if (v.length) out[m] = stat(v);
  }
  return {
    phases: out,
    total: stat(timelines.flatMap((t) => (t.firstByte !== undefined && t.arrival !== undefined ? [t.firstByte - t.arrival] : []))),
    overhead: stat(timelines.flatMap((t) => proxyOverheadMs(t) ?? [])),
  };
}

export interface Verdict {
  what: string;
  valueMs: number;
  ok: boolean | undefined;
}

/** The aim on the median and on the worst cold start; undefined ok = not measured. */
export function aimVerdicts(s: SettingSummary): Verdict[] {
  const judge = (v: number): boolean | undefined => (Number.isFinite(v) ? v <= AIM_MS : undefined);
  return [
    { what: `pod listening → forwarded, median ≤ ${AIM_MS} ms`, valueMs: s.overhead.median, ok: judge(s.overhead.median) },
    { what: `pod listening → forwarded, every cold start ≤ ${AIM_MS} ms`, valueMs: s.overhead.max, ok: judge(s.overhead.max) },
  ];
}

export function formatVerdicts(vs: readonly Verdict[]): string {
  return vs.map((v) => `  aim  ${v.ok === undefined ? 'n/a ' : v.ok ? 'ok  ' : 'MISS'}  ${v.what}: ${Number.isFinite(v.valueMs) ? v.valueMs.toFixed(1) : '—'} ms\n`).join('');
}

/** Rows: phases, then the total and the aim's span; columns: median and max per setting, in ms. */
export function coldStartTable(settings: ReadonlyArray<{ name: string; summary: SettingSummary }>): string {
  const columns = [{ title: 'phase (ms, from the previous mark)' }, ...settings.flatMap((s) => [{ title: `${s.name} p50`, digits: 1 }, { title: `${s.name} max`, digits: 1 }])];
  const cells = (pick: (s: SettingSummary) => Stat | undefined): Cell[] =>
    settings.flatMap((s) => {
      const st = pick(s.summary);
      return st && st.count > 0 ? [st.median, st.max] : [undefined, undefined];
    });
  const rows: Cell[][] = MARKS.slice(1).map((m) => [`→ ${MARK_LABELS[m]}`, ...cells((s) => s.phases[m])]);
  rows.push(['request sent → first byte', ...cells((s) => s.total)]);
  rows.push(['pod listening → forwarded (aim)', ...cells((s) => s.overhead)]);
  return formatTable(columns, rows);
}
