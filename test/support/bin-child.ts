// Runs one of our bins as a child process the way a deployment does (`process.execPath`, optional
// Node flags before the script, a chosen env), for tests that need the real process: exit codes and
// stderr of the command line, or a proxy whose RSS must be its own. The JSON log lines of stdout
// are parsed in order; listener ports come from the `proxy_started` line, since tests listen on port 0.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { eventually } from './proxy-harness.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface BinOptions {
  env?: NodeJS.ProcessEnv;
  /** Node flags placed before the script (as a container's `command` would). */
  nodeArgs?: string[];
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The parent's env without any IKUKANTAI_* (so a test's own env can't leak into the child). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('IKUKANTAI_')) env[k] = v;
  return { ...env, ...extra };
}

/** Runs the bin to its exit; a child still running after `limitMs` (a hang, never a slow start) is killed: code null. */
export async function runToExit(script: string, args: string[], o: BinOptions = {}, limitMs = 60_000): Promise<Finished> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), script, ...args], { env: o.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const kill = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(kill);
  return { code, stdout, stderr };
}

export interface RunningProxyChild {
  child: ChildProcess;
  pid: number;
  /** Parsed stdout lines, in order. */
  logs: Array<Record<string, unknown>>;
  ingress: number;
  peer: number;
  admin: number;
}

/** Starts a proxy bin and waits (up to 20 s) for its `proxy_started` line; killed at teardown. */
export async function startProxyChild(t: Teardown, script: string, args: string[], o: BinOptions = {}): Promise<RunningProxyChild> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), script, ...args], { env: o.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  const logs: Array<Record<string, unknown>> = [];
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const started = (): Record<string, unknown> | undefined => logs.find((l) => l['event'] === 'proxy_started');
  await eventually(() => started() !== undefined || child.exitCode !== null, 20_000);
  const line = started();
  if (!line) throw new Error(`proxy did not start (exit ${child.exitCode}): ${stderr}`);
  const port = (name: string): number => Number(new RegExp(`${name} [^,]*:(\\d+)`).exec(String(line['msg']))![1]);
  return { child, pid: child.pid!, logs, ingress: port('ingress'), peer: port('peer'), admin: port('admin') };
}
