// Runs the real `ikukantai-proxy` bin (proxy/bin.ts) as a child process on loopback port 0, so tests
// can send it real signals. Its JSON log lines (stdout) are kept in order; the listener ports come
// from the `proxy_started` line. The child is killed at teardown if a test left it running.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { eventually } from './proxy-harness.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

const BIN = fileURLToPath(new URL('../../proxy/bin.ts', import.meta.url));

export interface ProxyProcess {
  child: ChildProcess;
  host: string;
  ingressPort: number;
  peerPort: number;
  adminPort: number;
  /** Parsed stdout lines, in order. */
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  /** Resolves with the exit code (or the signal name) when the child ends. */
  exited: Promise<number | string>;
  /** Polls until a log line with this event appears. */
  waitForEvent(event: string, timeoutMs?: number): Promise<boolean>;
}

export async function startProxyProcess(t: Teardown, host: string, endpointsFile: string, extraArgs: string[] = []): Promise<ProxyProcess> {
  const args = [
    BIN,
    '--endpoints', endpointsFile,
    '--node-name', 'node1',
    '--listen', `${host}:0`,
    '--peer-listen', `${host}:0`,
    '--admin-listen', `${host}:0`,
    ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const waitForEvent = (event: string, timeoutMs = 10_000): Promise<boolean> =>
    eventually(() => logs.some((l) => l['event'] === event) || child.exitCode !== null, timeoutMs).then(() =>
      logs.some((l) => l['event'] === event),
    );
  if (!(await waitForEvent('proxy_started'))) {
    throw new Error(`proxy did not start: ${stderr.join('')}`);
  }
  const msg = String(logs.find((l) => l['event'] === 'proxy_started')!['msg']);
  const port = (name: string): number => Number(new RegExp(`${name} [^,]*:(\\d+)`).exec(msg)![1]);
  return { child, host, ingressPort: port('ingress'), peerPort: port('peer'), adminPort: port('admin'), logs, stderr, exited, waitForEvent };
}
