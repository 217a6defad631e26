// A revision's autoscaling parameters: the controller's flags set the defaults (DESIGN.md §4) and
// the Revision's Knative annotations override them, with Knative's documented names, meanings and
// bounds. An annotation we don't know, or one with a bad value, is reported back so the caller can
// log it once; the default then applies.

import { parseDuration } from '../../lib/duration.ts';

export const ANNOTATION_PREFIX = 'autoscaling.knative.dev/';

// Knative's KPA defaults (config-autoscaler): 100 concurrent requests per pod when cc = 0,
// 70 % target utilization, panic window 10 % of the stable window, panic at 200 % of capacity,
// scale up at most 1000× and down at most 2× (halve) per decision.
export const DEFAULT_CONCURRENCY_TARGET = 100;
export const DEFAULT_TARGET_UTILIZATION = 0.7;
export const DEFAULT_PANIC_WINDOW_PERCENTAGE = 10;
export const DEFAULT_PANIC_THRESHOLD = 2;
export const MAX_SCALE_UP_RATE = 1000;
export const MAX_SCALE_DOWN_RATE = 2;
// Knative's floor for a per-pod target.
const TARGET_MIN = 0.01;

export interface ScalingDefaults {
  stableWindowMs: number;
  scaleToZeroGraceMs: number;
}

export interface ScalingSpec {
  /** Desired concurrency per pod (target × utilization). */
  targetPerPod: number;
  /** Enter panic when the panic-window demand needs this many times the ready pods (2 = 200 %). */
  panicThreshold: number;
  maxScaleUpRate: number;
  maxScaleDownRate: number;
  stableWindowMs: number;
  panicWindowMs: number;
  scaleToZeroGraceMs: number;
  /** The last pod stays at least this long after the autoscaler first wants zero. */
  retentionMs: number;
  /** Scale-downs apply only after the higher count was unneeded this long (0 = at once). */
  scaleDownDelayMs: number;
  minScale: number;
  /** 0 = unbounded. */
  maxScale: number;
  /** Pods to reach once before demand decides (default 0: the demo starts with none). */
  initialScale: number;
}

export interface ResolvedSpec {
  spec: ScalingSpec;
  /** One line per ignored annotation (unknown key or bad value), for a log line. */
  ignored: string[];
}

type Parsed = Partial<Record<AnnotationName, number>>;
type AnnotationName = (typeof KNOWN)[number];

const KNOWN = [
  'window',
  'panic-window-percentage',
  'panic-threshold-percentage',
  'target',
  'target-utilization-percentage',
  'min-scale',
  'max-scale',
  'initial-scale',
  'scale-down-delay',
  'scale-to-zero-pod-retention-period',
] as const;

const HOUR_MS = 3_600_000;

// Value parser and bounds per annotation, as Knative validates them (windows from 1 s here, see
// config.ts, instead of Knative's 6 s).
const PARSERS: Record<AnnotationName, (text: string) => number> = {
  window: (s) => durationIn(s, 1000, HOUR_MS),
  'panic-window-percentage': (s) => numberIn(s, 1, 100),
  'panic-threshold-percentage': (s) => numberIn(s, 110, 1000),
  target: (s) => numberIn(s, TARGET_MIN, Infinity),
  'target-utilization-percentage': (s) => numberIn(s, 1, 100),
  'min-scale': (s) => wholeIn(s),
  'max-scale': (s) => wholeIn(s),
  'initial-scale': (s) => wholeIn(s),
  'scale-down-delay': (s) => durationIn(s, 0, HOUR_MS),
  'scale-to-zero-pod-retention-period': (s) => durationIn(s, 0, HOUR_MS),
};

/** Defaults, then annotations; `containerConcurrency` is the hard per-pod limit (0 = none). */
export function resolveScalingSpec(
  defaults: ScalingDefaults,
  containerConcurrency: number,
  annotations: Readonly<Record<string, string>> = {},
): ResolvedSpec {
  const ignored: string[] = [];
  const a: Parsed = {};
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const name = key.slice(ANNOTATION_PREFIX.length);
    if (!(KNOWN as readonly string[]).includes(name)) {
      ignored.push(`${key}: not used by this controller`);
      continue;
    }
    try {
      a[name as AnnotationName] = PARSERS[name as AnnotationName](value);
    } catch (err) {
      ignored.push(`${key}: ${(err as Error).message}`);
    }
  }
  if (a['min-scale'] !== undefined && a['max-scale'] && a['min-scale'] > a['max-scale']) {
    ignored.push(`${ANNOTATION_PREFIX}min-scale: ${a['min-scale']} is above max-scale ${a['max-scale']}`);
    delete a['min-scale'];
  }

  // Knative: the per-pod total is cc (or 100 when cc = 0); a `target` annotation replaces it but may
  // not exceed cc; utilization then leaves headroom. E.g. cc 10 → 10 × 0.7 = 7 per pod.
  let total = containerConcurrency > 0 ? containerConcurrency : DEFAULT_CONCURRENCY_TARGET;
  if (a.target !== undefined) total = containerConcurrency > 0 ? Math.min(a.target, containerConcurrency) : a.target;
  const utilization = a['target-utilization-percentage'] !== undefined ? a['target-utilization-percentage'] / 100 : DEFAULT_TARGET_UTILIZATION;
  const stableWindowMs = a.window ?? defaults.stableWindowMs;
  const panicPct = a['panic-window-percentage'] ?? DEFAULT_PANIC_WINDOW_PERCENTAGE;
  return {
    spec: {
      targetPerPod: Math.max(TARGET_MIN, total * utilization),
      panicThreshold: a['panic-threshold-percentage'] !== undefined ? a['panic-threshold-percentage'] / 100 : DEFAULT_PANIC_THRESHOLD,
      maxScaleUpRate: MAX_SCALE_UP_RATE,
      maxScaleDownRate: MAX_SCALE_DOWN_RATE,
      stableWindowMs,
      panicWindowMs: (stableWindowMs * panicPct) / 100,
      scaleToZeroGraceMs: defaults.scaleToZeroGraceMs,
      retentionMs: a['scale-to-zero-pod-retention-period'] ?? 0,
      scaleDownDelayMs: a['scale-down-delay'] ?? 0,
      minScale: a['min-scale'] ?? 0,
      maxScale: a['max-scale'] ?? 0,
      initialScale: a['initial-scale'] ?? 0,
    },
    ignored,
  };
}

function numberIn(text: string, min: number, max: number): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new RangeError(`"${text}" is not a number in [${min}, ${max}]`);
  }
  return n;
}

function wholeIn(text: string): number {
  if (!/^\s*\d+\s*$/.test(text)) throw new RangeError(`"${text}" is not a whole number ≥ 0`);
  return Number(text);
}

function durationIn(text: string, minMs: number, maxMs: number): number {
  const ms = parseDuration(text);
  if (ms < minMs || ms > maxMs) throw new RangeError(`"${text}" is outside [${minMs}ms, ${maxMs}ms]`);
  return ms;
}
