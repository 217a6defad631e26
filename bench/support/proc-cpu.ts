// CPU time a process tree has used, read from /proc (proc(5)), so the overhead bench can divide a
// proxy's CPU by the requests it served. CPU per request is the figure that survives a shared
// 2-core machine: req/s moves with whatever else runs, CPU µs per request barely does.
// A tree, not one pid: nginx serves from a worker that is the master's child, and a child's time
// reaches the parent's `cutime` only once it is reaped, so each live process is read on its own.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks (all threads of the process). */
  ticks: number;
}

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) sits in parentheses and may itself
 * contain spaces and ')', so fields are counted from the LAST ')'. After it: state(3) ppid(4) …
 * utime(14) stime(15), 1-based as in proc(5).
 */
export function parseProcStat(line: string): ProcStat {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open <= 0 || close < open) throw new Error(`not a /proc stat line: "${line.slice(0, 60)}"`);
  const pid = Number(line.slice(0, open).trim());
  const rest = line.slice(close + 2).split(' ');
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (![pid, ppid, utime, stime].every(Number.isFinite)) {
    throw new Error(`not a /proc stat line: "${line.slice(0, 60)}"`);
  }
  return { pid, ppid, ticks: utime + stime };
}

/** Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux we know, so that is the fallback. */
export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone between listing and reading
  }
}

/** Sums the ticks of `root` and every live descendant, from a list of all processes. */
export function treeTicks(root: number, all: readonly ProcStat[]): number {
  const children = new Map<number, ProcStat[]>();
  for (const s of all) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const self = all.find((s) => s.pid === root);
  if (!self) return NaN;
  let sum = 0;
  const stack = [self];
  while (stack.length > 0) {
    const s = stack.pop()!;
    sum += s.ticks;
    stack.push(...(children.get(s.pid) ?? []));
  }
  return sum;
}

/** Reads the process tree under `pid` and converts its CPU time to microseconds. */
export class ProcCpu {
  readonly #microsPerTick: number;

  constructor(ticksPerSecond = clockTicksPerSecond()) {
    this.#microsPerTick = 1e6 / ticksPerSecond;
  }

  /** utime + stime of the tree under `pid`, in µs; NaN when the process is gone. */
  micros(pid: number): number {
    const all: ProcStat[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const s = readStat(Number(name));
      if (s) all.push(s);
    }
    return treeTicks(pid, all) * this.#microsPerTick;
  }
}
