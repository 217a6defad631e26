// Fast readiness for new pods (DESIGN.md §2 "Cold start"). Kubernetes learns that a pod is ready
// through the kubelet's probe (period ≥ 1 s by default) and then an EndpointSlice update; Knative's
// activator shortens that by probing every 200 ms. A cold request waits for exactly this moment, so
// the owner proxy probes its own never-ready pods every 25 ms and releases waiters the moment one
// passes, before the EndpointSlice catches up (aim: pod listening → first request ≤ 30 ms).
//
// One probe: a TCP connect, or, when the readiness path is known, a GET of it (whose connect is the
// TCP check). Each probe has its own timeout, at most one is in flight per pod, and its socket is
// destroyed whatever the outcome, so a pod that accepts and never answers costs one socket at a time.

import http from 'node:http';
import net from 'node:net';
import type { Logger } from '../../lib/log.ts';

export interface ProbeTarget {
  address: string;
  port: number;
  /** HTTP readiness path; without it a TCP connect is the whole probe. */
  path?: string;
}

export interface ReadinessProberOptions {
  intervalMs?: number;
  timeoutMs?: number;
  /** Source address of probe connections (the emulator gives each node's proxy its own). */
  localAddress?: string;
  logger: Logger;
}

interface Watch {
  key: string;
  target: ProbeTarget;
  onReady: () => void;
  timer: NodeJS.Timeout;
  /** Cancels the probe in flight; null when none is. */
  cancel: (() => void) | null;
  probes: number;
}

export class ReadinessProber {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #localAddress: string | undefined;
  readonly #logger: Logger;
  readonly #watches = new Map<string, Watch>();
  #closed = false;

  constructor(opts: ReadinessProberOptions) {
    for (const k of ['intervalMs', 'timeoutMs'] as const) {
      const v = opts[k];
      if (v !== undefined && !(v > 0)) throw new RangeError(`${k} must be > 0, got ${v}`);
    }
    this.#intervalMs = opts.intervalMs ?? 25;
    // Four periods: a loopback or same-node connect takes well under 1 ms, so 100 ms means the pod
    // is stuck, and a probe that hangs longer only delays the next one.
    this.#timeoutMs = opts.timeoutMs ?? 4 * this.#intervalMs;
    this.#localAddress = opts.localAddress;
    this.#logger = opts.logger;
  }

  /** Start probing a never-ready pod: TCP connect, then (if path) GET path expecting 200–399 (the kubelet's success range); calls onReady once when it passes, then stops probing it. Idempotent per key. */
  watch(key: string, target: ProbeTarget, onReady: () => void): void {
    if (this.#closed || this.#watches.has(key)) return;
    const w: Watch = { key, target, onReady, timer: setInterval(() => this.#probe(w), this.#intervalMs).unref(), cancel: null, probes: 0 };
    this.#watches.set(key, w);
    // The first probe goes now: a pod that is already listening is found at once, not 25 ms later.
    this.#probe(w);
  }

  unwatch(key: string): void {
    const w = this.#watches.get(key);
    if (w !== undefined) this.#stop(w);
  }

  /** Keys being probed now. */
  watching(): string[] {
    return [...this.#watches.keys()];
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#watches.values()) this.#stop(w);
  }

  #probe(w: Watch): void {
    if (w.cancel !== null) return;
    w.probes++;
    w.cancel = probeOnce(w.target, this.#timeoutMs, this.#localAddress, (ok) => {
      w.cancel = null;
      if (!ok || this.#watches.get(w.key) !== w) return;
      this.#stop(w);
      this.#logger.debug('readiness_probe_passed', { pod: w.key, msg: `ready after ${w.probes} probe(s)` });
      try {
        w.onReady();
      } catch (err) {
        this.#logger.error('readiness_callback_error', { pod: w.key, msg: err instanceof Error ? err.message : String(err) });
      }
    });
  }

  #stop(w: Watch): void {
    clearInterval(w.timer);
    w.cancel?.();
    w.cancel = null;
    this.#watches.delete(w.key);
  }
}

/**
 * One probe; `done(ok)` is called once unless the returned cancel runs first. Success for the GET
 * is what the kubelet counts as success for an httpGet probe, 200–399, so a pod we call ready is
 * one Kubernetes will call ready too.
 */
function probeOnce(target: ProbeTarget, timeoutMs: number, localAddress: string | undefined, done: (ok: boolean) => void): () => void {
  let finished = false;
  let destroy: () => void;
  const finish = (ok: boolean | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    destroy();
    if (ok !== null) done(ok);
  };
  const timer = setTimeout(() => finish(false), timeoutMs).unref();

  if (target.path === undefined) {
    const socket = net.connect({ host: target.address, port: target.port, ...(localAddress !== undefined && { localAddress }) });
    destroy = () => socket.destroy();
    socket.on('connect', () => finish(true));
    socket.on('error', () => finish(false));
  } else {
    const req = http.request({
      host: target.address,
      port: target.port,
      path: target.path,
      method: 'GET',
      agent: false,
      ...(localAddress !== undefined && { localAddress }),
      headers: { 'user-agent': 'ikukantai-readiness-prober', connection: 'close' },
    });
    destroy = () => req.destroy();
    req.on('response', (res) => {
      res.on('error', () => {});
      const status = res.statusCode ?? 0;
      finish(status >= 200 && status < 400);
    });
    // Also fires with "socket hang up" after our own destroy; finish ignores a second call.
    req.on('error', () => finish(false));
    req.end();
  }
  return () => finish(null);
}
