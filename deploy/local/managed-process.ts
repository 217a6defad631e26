// A long-running child of the emulated cluster (a proxy, the controller): spawned with
// `process.execPath` (the `node` on PATH may be 20), its stdout JSON lines and stderr appended to a
// log file, waited on until an HTTP readiness URL answers 200, and stopped with SIGTERM and a
// SIGKILL deadline so that closing the cluster never leaves a process behind. If this process dies
// without closing, the child's stdin closes and lifeline.ts makes the child drain itself.

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

const LIFELINE = new URL('./lifeline.ts', import.meta.url).href;

export interface ManagedProcessOptions {
  name: string;
  script: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Node/V8 flags before the script (e.g. the proxy's PROXY_NODE_FLAGS). */
  nodeArgs?: readonly string[];
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  #stderrTail = '';
  #stdoutTail = '';

  constructor(opts: ManagedProcessOptions) {
    this.name = opts.name;
    this.logFile = opts.logFile;
    this.#log = createWriteStream(opts.logFile, { flags: 'a' });
    // stdin is the lifeline (lifeline.ts): it closes when this process dies, however it dies.
    this.#child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', LIFELINE, opts.script, ...opts.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    this.#child.stdout!.pipe(this.#log, { end: false });
    this.#child.stdout!.on('data', (b: Buffer) => (this.#stdoutTail = (this.#stdoutTail + b.toString('utf8')).slice(-600)));
    this.#child.stderr!.on('data', (b: Buffer) => {
      this.#log.write(b);
      // Keep the end of stderr: an exit 2 says what was wrong in its one line.
      this.#stderrTail = (this.#stderrTail + b.toString('utf8')).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        resolve(code ?? (signal ? null : 0));
      });
      this.#child.once('error', (err) => {
        this.#stderrTail += `spawn failed: ${err.message}`;
        resolve(null);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null && this.#child.pid !== undefined;
  }

  stderrTail(): string {
    return this.#stderrTail.trim();
  }

  /** Polls `url` until it answers 200; fails early if the process exits, or after `timeoutMs`. */
  async waitReady(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`${this.name} exited before it was ready: ${this.stderrTail() || `see ${this.logFile}`}`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const last = this.#stdoutTail.trim().split('\n').pop() || 'nothing logged yet';
    throw new Error(`${this.name} not ready at ${url} within ${timeoutMs} ms; last log line: ${last}`);
  }

  /** SIGTERM (the process drains), SIGKILL once `deadlineMs` has passed; resolves after exit. */
  async stop(deadlineMs: number): Promise<void> {
    if (this.running) {
      this.#child.kill('SIGTERM');
      const kill = setTimeout(() => this.#child.kill('SIGKILL'), deadlineMs);
      await this.exited;
      clearTimeout(kill);
    } else {
      await this.exited;
    }
    const out = this.#child.stdout!;
    if (!out.closed) await once(out, 'close');
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
