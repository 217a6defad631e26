// How every scenario hands back its figures: an aligned text table on stdout for people, and JSON
// under bench/results/ for tools and for comparing runs (`<scenario>-<timestamp>.json` plus
// `<scenario>-latest.json`, the same content). bench/results/*.json is git-ignored: results
// belong to a machine and a moment, not to the source tree.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export type Cell = string | number | undefined;

export interface Column {
  title: string;
  /** Digits after the point for numbers (default 0). */
  digits?: number;
}

/** A number with fixed digits, '—' for a missing or non-finite value. */
export function formatCell(value: Cell, digits = 0): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

/** Text left-aligned in the first column, everything else right-aligned, two spaces apart. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => columns.map((c, i) => formatCell(row[i], c.digits)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.title)), rule, ...text.map(line)].join('\n') + '\n';
}

/** `2026-11-26T12:30:05.123Z` → `20261126T123005Z`: sortable, no characters a filesystem dislikes. */
export function fileStamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z').replaceAll('-', '').replaceAll(':', '');
}

/** Writes the results twice (stamped and latest); returns the stamped path. */
export function writeResults(scenario: string, data: unknown, now = new Date(), dir = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(data, null, 2) + '\n';
  const stamped = join(dir, `${scenario}-${fileStamp(now)}.json`);
  writeFileSync(stamped, json);
  writeFileSync(join(dir, `${scenario}-latest.json`), json);
  return stamped;
}
