// The bench's child processes (backend, each proxy under test, nginx) and the guarantee that none
// outlives the run: every child is tracked here and stopped at the end, on error, and on SIGINT or
// SIGTERM. Node children are started with process.execPath (the `node` on PATH may be Node 20).

import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildOptions {
  /** Label used in messages. */
  name: string;
  command: string;
  args: readonly string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Signal that stops it cleanly: SIGTERM for most; nginx's master takes SIGTERM as a fast stop too. */
  stopSignal?: NodeJS.Signals;
}

/** Keeps the last few KiB of a stream, enough to show why a child failed to start. */
function keepTail(stream: NodeJS.ReadableStream | null, limit = 4096): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text = (text + chunk).slice(-limit);
  });
  return () => text;
}

export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  readonly #stopSignal: NodeJS.Signals;
  readonly #stdout: () => string;
  readonly #stderr: () => string;
  #exit: number | string | undefined;

  constructor(opts: ChildOptions) {
    this.name = opts.name;
    this.#stopSignal = opts.stopSignal ?? 'SIGTERM';
    // stdin stays a pipe: our own Node children exit when it closes, so even a bench killed with
    // SIGKILL leaves none of them behind.
    const proc = spawn(opts.command, [...opts.args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (proc.pid === undefined) throw new Error(`${opts.name}: could not start ${opts.command}`);
    this.process = proc;
    this.pid = proc.pid;
    this.#stdout = keepTail(proc.stdout);
    this.#stderr = keepTail(proc.stderr);
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.#exit = code ?? signal ?? 'unknown';
        resolve(this.#exit);
      });
    });
  }

  running(): boolean {
    return this.#exit === undefined;
  }

  /** What the child printed last, for error messages. */
  output(): string {
    return [this.#stderr().trim(), this.#stdout().trim()].filter(Boolean).join('\n');
  }

  /** Sends the stop signal; SIGKILL after `graceMs` if it has not exited by then. */
  async stop(graceMs = 5000): Promise<number | string> {
    if (!this.running()) return this.#exit!;
    this.process.kill(this.#stopSignal);
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** All children of one bench run. */
export class ChildSet {
  readonly #children = new Set<Child>();
  #onSignal: ((signal: NodeJS.Signals) => void) | undefined;

  start(opts: ChildOptions): Child {
    const child = new Child(opts);
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all([...this.#children].map((c) => c.stop(graceMs)));
  }

  /** On SIGINT/SIGTERM: stop every child (2 s grace), then exit 130 / 143. */
  stopOnSignals(): void {
    if (this.#onSignal) return;
    this.#onSignal = (signal) => {
      process.stderr.write(`\n${signal}: stopping ${this.#children.size} child process(es)\n`);
      void this.stopAll(2000).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', this.#onSignal);
    process.once('SIGTERM', this.#onSignal);
  }

  /** Removes the signal handlers (after stopAll at the normal end of a run). */
  releaseSignals(): void {
    if (!this.#onSignal) return;
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    this.#onSignal = undefined;
  }
}

/** Exits this (child) process when its parent closes our stdin: the parent is gone or done. */
export function exitWithParent(): void {
  process.stdin.resume();
  process.stdin.once('end', () => process.exit(0));
  process.stdin.once('error', () => process.exit(0));
}
