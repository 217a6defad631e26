// Figures of the edge bench: one row per (entry node, strategy) with ratios to the oracle and to
// round-robin, the DESIGN.md §8 verdicts, the text table and a hand-written SVG bar chart (no
// dependencies: a chart is a few dozen rects and lines).

import { percentile } from '../support/percentile.ts';
import { formatTable, type Cell } from '../support/report.ts';
import type { EdgeLoadResult } from './edge-load.ts';

/** The client straight to a pod on the entry node, no proxy: the best any balancer can do. */
export const ORACLE = 'oracle';
/** DESIGN.md §8 judges requests entering the far edge. */
export const MUST_ENTRY = 'node3';
export const FAST_MS = 20;
export const MUST_VS_ORACLE = 1.5;
export const AIM_VS_ORACLE = 1.1;
export const MUST_VS_ROUND_ROBIN = 3;

export interface EdgeRow {
  entry: string;
  strategy: string;
  count: number;
  failures: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Share of answered requests faster than FAST_MS. */
  under20: number;
  /** Share answered by a pod on the entry node. */
  local: number;
  /** Answers per serving node. */
  byNode: Record<string, number>;
  maxLateMs: number;
  /** mean ÷ the oracle's mean from the same entry node. */
  vsOracle: number;
  /** round-robin's mean from the same entry node ÷ this mean ("× better than round-robin"). */
  rrOverThis: number;
}

export interface Verdict {
  kind: 'must' | 'aim';
  what: string;
  value: number;
  ok: boolean | undefined;
}

export function makeRow(entry: string, strategy: string, r: EdgeLoadResult): Omit<EdgeRow, 'vsOracle' | 'rrOverThis'> {
  const ms = Float64Array.from(r.samples.map((s) => s.ms)).sort();
  const byNode: Record<string, number> = {};
  let sum = 0;
  let fast = 0;
  for (const s of r.samples) {
    sum += s.ms;
    if (s.ms < FAST_MS) fast++;
    byNode[s.node] = (byNode[s.node] ?? 0) + 1;
  }
  const n = r.samples.length;
  return {
    entry,
    strategy,
    count: n,
    failures: r.failures,
    meanMs: n ? sum / n : NaN,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    under20: n ? fast / n : NaN,
    local: n ? (byNode[entry] ?? 0) / n : NaN,
    byNode,
    maxLateMs: r.maxLateMs,
  };
}

/** Adds the ratios, which need the oracle and round-robin rows of the same entry node. */
export function withRatios(rows: ReadonlyArray<Omit<EdgeRow, 'vsOracle' | 'rrOverThis'>>): EdgeRow[] {
  const mean = (entry: string, strategy: string): number => rows.find((r) => r.entry === entry && r.strategy === strategy)?.meanMs ?? NaN;
  return rows.map((r) => ({ ...r, vsOracle: r.meanMs / mean(r.entry, ORACLE), rrOverThis: mean(r.entry, 'round-robin') / r.meanMs }));
}

export function verdicts(rows: readonly EdgeRow[]): Verdict[] {
  const lc = rows.find((r) => r.entry === MUST_ENTRY && r.strategy === 'least-cost');
  const judge = (value: number | undefined, pass: (v: number) => boolean): { value: number; ok: boolean | undefined } =>
    value === undefined || !Number.isFinite(value) ? { value: NaN, ok: undefined } : { value, ok: pass(value) };
  const failures = rows.reduce((a, r) => a + r.failures, 0);
  return [
    { kind: 'must', what: `${MUST_ENTRY} least-cost mean ≤ ${MUST_VS_ORACLE} × oracle`, ...judge(lc?.vsOracle, (v) => v <= MUST_VS_ORACLE) },
    { kind: 'must', what: `${MUST_ENTRY} least-cost ≥ ${MUST_VS_ROUND_ROBIN} × better than round-robin (mean)`, ...judge(lc?.rrOverThis, (v) => v >= MUST_VS_ROUND_ROBIN) },
    { kind: 'must', what: '0 failed requests over every run', value: failures, ok: rows.length > 0 ? failures === 0 : undefined },
    { kind: 'aim', what: `${MUST_ENTRY} least-cost mean ≤ ${AIM_VS_ORACLE} × oracle`, ...judge(lc?.vsOracle, (v) => v <= AIM_VS_ORACLE) },
  ];
}

/** A must figure missed, or not measured (a strategy left out) counts as missed. */
export function mustFailed(vs: readonly Verdict[]): boolean {
  return vs.some((v) => v.kind === 'must' && v.ok !== true);
}

export function edgeTable(rows: readonly EdgeRow[]): string {
  const cells: Cell[][] = rows.map((r) => [
    `${r.entry} ${r.strategy}`,
    r.count,
    r.failures,
    r.meanMs,
    r.p50Ms,
    r.p99Ms,
    r.under20 * 100,
    r.local * 100,
    r.strategy === ORACLE ? undefined : r.vsOracle,
    r.strategy === 'round-robin' ? undefined : r.rrOverThis,
    r.maxLateMs,
  ]);
  return formatTable(
    [
      { title: 'entry strategy' },
      { title: 'n' },
      { title: 'fail' },
      { title: 'mean ms', digits: 2 },
      { title: 'p50 ms', digits: 2 },
      { title: 'p99 ms', digits: 2 },
      { title: '<20ms %', digits: 1 },
      { title: 'local %', digits: 1 },
      { title: '×oracle', digits: 2 },
      { title: 'rr÷this', digits: 2 },
      { title: 'late max ms', digits: 1 },
    ],
    cells,
  );
}

export function formatVerdicts(vs: readonly Verdict[]): string {
  return vs
    .map((v) => `  ${v.kind === 'must' ? 'must' : 'aim '}  ${v.ok === undefined ? 'n/a ' : v.ok ? 'ok  ' : 'MISS'}  ${v.what}: ${Number.isFinite(v.value) ? v.value.toFixed(2) : '—'}`)
    .join('\n') + '\n';
}

const COLORS: Record<string, string> = {
  [ORACLE]: '#7f7f7f',
  'least-cost': '#2c7fb8',
  'least-request': '#41b6c4',
  'round-robin': '#f03b20',
  random: '#feb24c',
};

/**
 * Grouped bars, one group per entry node: bar = mean, whisker = p50 (tick) to p99 (cap), the mean
 * written above. The y axis runs to the largest p99, rounded up to a round tick.
 */
export function edgeSvg(rows: readonly EdgeRow[], title: string): string {
  const entries = [...new Set(rows.map((r) => r.entry))];
  const strategies = [...new Set(rows.map((r) => r.strategy))];
  const W = 140 + entries.length * (strategies.length * 44 + 40);
  const H = 380;
  const top = 50;
  const bottom = 310;
  const left = 60;
  const { maxMs, step } = axis(Math.max(...rows.map((r) => (Number.isFinite(r.p99Ms) ? r.p99Ms : 0))));
  const y = (ms: number): number => bottom - (Math.min(ms, maxMs) / maxMs) * (bottom - top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let v = 0; v <= maxMs + 1e-9; v += step) {
    out.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${W - 20}" y2="${y(v).toFixed(1)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(0)}</text>`);
  }
  out.push(`<text x="16" y="${(top + bottom) / 2}" transform="rotate(-90 16 ${(top + bottom) / 2})" text-anchor="middle">latency ms (bar mean, whisker p50–p99)</text>`);
  let x = left + 20;
  for (const entry of entries) {
    const groupStart = x;
    for (const s of strategies) {
      const r = rows.find((row) => row.entry === entry && row.strategy === s);
      if (r && Number.isFinite(r.meanMs)) {
        const color = COLORS[s] ?? '#999999';
        out.push(`<rect x="${x}" y="${y(r.meanMs).toFixed(1)}" width="36" height="${(bottom - y(r.meanMs)).toFixed(1)}" fill="${color}"/>`);
        const cx = x + 18;
        out.push(`<line x1="${cx}" y1="${y(r.p50Ms).toFixed(1)}" x2="${cx}" y2="${y(r.p99Ms).toFixed(1)}" stroke="#222222"/>`);
        out.push(`<line x1="${cx - 6}" y1="${y(r.p99Ms).toFixed(1)}" x2="${cx + 6}" y2="${y(r.p99Ms).toFixed(1)}" stroke="#222222"/>`);
        out.push(`<line x1="${cx - 4}" y1="${y(r.p50Ms).toFixed(1)}" x2="${cx + 4}" y2="${y(r.p50Ms).toFixed(1)}" stroke="#222222"/>`);
        out.push(`<text x="${cx}" y="${(Math.min(y(r.meanMs), y(r.p99Ms)) - 5).toFixed(1)}" text-anchor="middle" font-size="10">${r.meanMs.toFixed(1)}</text>`);
      }
      x += 44;
    }
    out.push(`<text x="${(groupStart + x - 8) / 2}" y="${bottom + 20}" text-anchor="middle" font-weight="bold">entering at ${escapeXml(entry)}</text>`);
    x += 40;
  }
  let lx = left;
  for (const s of strategies) {
    out.push(`<rect x="${lx}" y="${bottom + 40}" width="12" height="12" fill="${COLORS[s] ?? '#999999'}"/>`);
    out.push(`<text x="${lx + 16}" y="${bottom + 50}">${escapeXml(s)}</text>`);
    lx += 24 + s.length * 7;
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** At most 6 gridlines at 1, 2 or 5 × 10^k ms, the top one at or above `ms`. */
function axis(ms: number): { maxMs: number; step: number } {
  const top = Math.max(ms, 1);
  for (let exp = 0; ; exp++) {
    for (const m of [1, 2, 5]) {
      const step = m * 10 ** exp;
      if (top / step <= 6) return { maxMs: Math.ceil(top / step) * step, step };
    }
  }
}

function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
