// Durations on the command line and in files are written `500ms`, `5s`, `1m`, `1h` (DESIGN.md §2).

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses a duration to milliseconds; throws a RangeError naming the bad text. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new RangeError(`bad duration "${text}" (write it like 500ms, 5s, 1m)`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
