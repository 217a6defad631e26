// Where the proxy's time goes: a summary of a V8 .cpuprofile (what `node --cpu-prof` writes) as
// self time per function and per area (our modules, each npm package, each Node core module, GC).
// Self time is taken from the sample timeline, as DevTools does: sample i lasts until sample i+1.
// Shares are of busy time (everything but "(idle)"), since idle is only time the load left unused.
// A window (µs after the profile's start) keeps start-up (module loading, first compiles) out of a
// summary meant to describe the steady-state hot path.

import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  /** Function name with its place, e.g. `onRequest proxy/forward/forwarder.ts:42`. */
  name: string;
  area: string;
  selfMs: number;
  /** Fraction of busy time, 0–1. */
  share: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  functions: SelfTime[];
  areas: Array<{ area: string; selfMs: number; share: number }>;
}

/**
 * The area a frame belongs to: `(garbage collector)`-style pseudo frames stay as they are; Node
 * core by module (`node:internal/streams/writable` → `node:streams`); an npm package by name; our
 * own files by path relative to `root`.
 */
export function areaOf(frame: CallFrame, root: string): string {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('wasm:')) return 'wasm (undici llhttp)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).replace(/^internal\//, '').split('/')[0];
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  return relative(root, path) || path;
}

function frameName(frame: CallFrame, area: string): string {
  const fn = frame.functionName || '(anonymous)';
  if (frame.url === '') return fn;
  // lineNumber is 0-based in the profile; editors count from 1.
  return `${fn} ${shortUrl(frame.url, area)}:${frame.lineNumber + 1}`;
}

function shortUrl(url: string, area: string): string {
  if (url.startsWith('wasm:')) return 'wasm (undici llhttp)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) return url.slice(nm + '/node_modules/'.length);
  return area;
}

export interface SummaryOptions {
  /** Repository root: our files are named relative to it. */
  root: string;
  /** How many functions to list (default 15). */
  top?: number;
  /** Only samples taken in [fromUs, toUs) after the profile's start count. */
  window?: { fromUs: number; toUs: number };
}

/** Self time per function and per area, the `top` largest functions first. */
export function summarizeProfile(profile: CpuProfile, { root, top = 15, window }: SummaryOptions): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at >= window.toUs)) continue;
    // Sample i lasts until the next sample (the last one is not timed).
    const next = i + 1 < deltas.length ? deltas[i + 1]! : 0;
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, next));
  }
  const fns = new Map<string, { area: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const area = areaOf(node.callFrame, root);
    const name = frameName(node.callFrame, area);
    const fn = fns.get(name) ?? { area, us: 0 };
    fn.us += us;
    fns.set(name, fn);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const share = (us: number): number => (busyUs > 0 ? us / busyUs : 0);
  return {
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    functions: [...fns]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([name, f]) => ({ name, area: f.area, selfMs: f.us / 1000, share: share(f.us) })),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, share: share(us) })),
  };
}

/** The printable form: top functions, then the areas that hold ≥ 1 % of busy time. */
export function formatProfileSummary(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)} %`;
  const lines = [`busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms`, '', 'top self time:'];
  for (const f of s.functions) lines.push(`  ${pct(f.share)}  ${f.selfMs.toFixed(1).padStart(8)} ms  ${f.name}`);
  lines.push('', 'by area:');
  for (const a of s.areas.filter((x) => x.share >= 0.01)) {
    lines.push(`  ${pct(a.share)}  ${a.selfMs.toFixed(1).padStart(8)} ms  ${a.area}`);
  }
  return lines.join('\n') + '\n';
}
