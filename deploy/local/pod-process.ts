// One pod of the emulated cluster as the node agent sees it, playing kubelet's part: it starts the
// demo app as a child process (pod-app.ts), probes its readiness path from the node's own address
// until it passes, and stops it the Kubernetes way (SIGTERM, SIGKILL after the grace period).
// State only moves forward: starting → ready → terminating → exited (a pod never comes back).

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import type { PodConfig } from './pod-app.ts';

export type PodState = 'starting' | 'ready' | 'terminating' | 'exited';

export interface PodProcessOptions {
  config: PodConfig;
  /** Source address of readiness probes (kubelet probes from its node). */
  probeFrom?: string;
  /** Readiness probe period; the proxy probes new pods itself every 25 ms, so this is only for the
   * EndpointSlice (default 50 ms). */
  probeIntervalMs?: number;
  /** Where the child's stdout (its JSON log lines) goes, or an open file descriptor it appends
   * them to; stderr is always inherited. */
  stdout?: 'inherit' | 'ignore' | number;
  /** Called once on each state change. */
  onState(pod: PodProcess, state: PodState): void;
}

const POD_APP = fileURLToPath(new URL('./pod-app.ts', import.meta.url));
const PROBE_TIMEOUT_MS = 1000;

export class PodProcess {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly createdAt = Date.now();
  /** Exit code (or null when killed by a signal), once the process has gone. */
  readonly exited: Promise<number | null>;
  #state: PodState = 'starting';
  readonly #opts: PodProcessOptions;
  readonly #child: ChildProcess;
  #probeTimer: NodeJS.Timeout | undefined;

  constructor(opts: PodProcessOptions) {
    this.#opts = opts;
    this.name = opts.config.name;
    this.address = opts.config.host;
    this.port = opts.config.port;
    // The IPC channel is the pod's lifeline: if the agent's process dies, the pod sees 'disconnect'.
    this.#child = spawn(process.execPath, [POD_APP, JSON.stringify(opts.config)], {
      stdio: ['ignore', opts.stdout ?? 'ignore', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => {
      this.#child.once('exit', (code) => {
        clearTimeout(this.#probeTimer);
        this.#set('exited');
        resolve(code);
      });
      // A spawn failure (no exit event follows) counts as an immediate exit.
      this.#child.once('error', () => {
        if (this.#child.exitCode === null && this.#child.pid === undefined) {
          this.#set('exited');
          resolve(null);
        }
      });
    });
    this.#scheduleProbe();
  }

  get state(): PodState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  #set(state: PodState): void {
    if (this.#state === state || this.#state === 'exited') return;
    this.#state = state;
    this.#opts.onState(this, state);
  }

  #scheduleProbe(): void {
    this.#probeTimer = setTimeout(() => {
      void this.#probe().then((ok) => {
        if (this.#state !== 'starting') return;
        if (ok) this.#set('ready');
        else this.#scheduleProbe();
      });
    }, this.#opts.probeIntervalMs ?? 50);
  }

  #probe(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.get(
        {
          host: this.address,
          port: this.port,
          path: this.#opts.config.readinessPath,
          localAddress: this.#opts.probeFrom,
          agent: false,
          timeout: PROBE_TIMEOUT_MS,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 400);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  }

  /** Marks the pod terminating (the caller announces it first) without signalling it yet. */
  markTerminating(): void {
    clearTimeout(this.#probeTimer);
    this.#set('terminating');
  }

  /** SIGTERM now, SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs: number): Promise<void> {
    this.markTerminating();
    if (this.#state === 'exited') return;
    this.#child.kill('SIGTERM');
    const kill = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(kill);
  }
}
