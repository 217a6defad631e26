// Sends this node's demand to the controller (DESIGN.md §4): one POST to `/v1/stats` per second with
// every revision the meter knows, and a poke — that one revision, `poke: true` — the moment a cold
// request arrives, so the controller can start a pod without waiting for the tick (up to 1 s) or an
// autoscaler window (6–60 s).
//
// Static stability (§2): the controller being down must never slow serving. The meter keeps
// collecting every tick whatever happens to the POSTs; only the newest unsent report is kept (the
// controller expires reports after 3 intervals, so an older one is worth nothing), at most one tick
// POST is in flight, and after a failure the next attempt waits on the 0.5 s → 5 s backoff, so a
// returning controller hears from us within 5 s. An outage is logged twice — when it starts and when
// it ends — not once a second.

import { Pool } from 'undici';
import { Backoff, type BackoffOptions } from '../../lib/backoff.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { revisionKey } from '../../lib/model.ts';
import type { DemandMeter, RevisionDemand } from './demand-meter.ts';

/** The body of DESIGN.md §4. */
export interface StatsReport {
  node: string;
  /** Wall time the report was made, RFC 3339. */
  time: string;
  intervalSeconds: number;
  poke: boolean;
  revisions: RevisionDemand[];
  /** Round trip to each peer node, milliseconds. */
  rtt: Record<string, number>;
}

export interface StatsReporterOptions {
  /** Controller base URL; reports go to `${url}/v1/stats`. */
  url: string;
  token: string;
  node: string;
  meter: DemandMeter;
  queuedNow: (ns: string, name: string) => number;
  rtt: () => Record<string, number>;
  intervalMs?: number;
  logger: Logger;
  clock?: Clock;
  /** Source address of the connection to the controller (the emulator's per-node address). */
  localAddress?: string;
  /** Retry delays after a failed report; DESIGN.md §2 fixes 0.5 s → 5 s. */
  backoff?: BackoffOptions;
}

// A report is small and the controller answers at once; 2 s (two ticks) tells a dead or hung
// controller from a slow one without letting requests pile up behind it.
const TIMEOUT_MS = 2000;
// Ticks and pokes for different revisions can overlap; a few connections are plenty.
const CONNECTIONS = 4;

type Result = { ok: true } | { ok: false; reason: string };

export class StatsReporter {
  readonly #node: string;
  readonly #token: string;
  readonly #path: string;
  readonly #meter: DemandMeter;
  readonly #queuedNow: (ns: string, name: string) => number;
  readonly #rtt: () => Record<string, number>;
  readonly #intervalMs: number;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  readonly #pool: Pool;

  #tick: NodeJS.Timeout | null = null;
  /** Set while waiting out a backoff delay after a failed tick POST. */
  #retry: NodeJS.Timeout | null = null;
  #sending = false;
  /** The newest report not yet delivered. */
  #pending: StatsReport | null = null;
  /** Revisions with a poke in flight (coalescing). */
  readonly #poking = new Set<string>();
  /** Pokes that failed during an outage, sent again when the controller answers. */
  readonly #lostPokes = new Map<string, { namespace: string; name: string }>();
  /** clock.now() when the current outage began, or null while reports get through. */
  #downSince: number | null = null;
  #closed = false;

  constructor(opts: StatsReporterOptions) {
    const base = new URL(opts.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new RangeError(`controller URL must be http or https: ${opts.url}`);
    if (opts.intervalMs !== undefined && !(opts.intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${opts.intervalMs}`);
    this.#node = opts.node;
    this.#token = opts.token;
    this.#path = `${base.pathname.replace(/\/+$/, '')}/v1/stats`;
    this.#meter = opts.meter;
    this.#queuedNow = opts.queuedNow;
    this.#rtt = opts.rtt;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#logger = opts.logger;
    this.#clock = opts.clock ?? systemClock;
    this.#backoff = new Backoff({ initialMs: 500, maxMs: 5000, ...opts.backoff });
    this.#pool = new Pool(base.origin, {
      connections: CONNECTIONS,
      connectTimeout: TIMEOUT_MS,
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
      ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
    });
  }

  start(): void {
    if (this.#closed || this.#tick !== null) return;
    this.#tick = setInterval(() => this.#onTick(), this.#intervalMs).unref();
  }

  /** A cold request for a revision: send `poke: true` with only that revision NOW, without resetting the 1 s tick. Coalesce: at most one poke per revision in flight at a time. */
  poke(namespace: string, name: string): void {
    const key = revisionKey(namespace, name);
    if (this.#closed || this.#poking.has(key)) return;
    let report: StatsReport;
    try {
      const { intervalSeconds, revision } = this.#meter.peek(namespace, name, this.#queuedNow);
      report = this.#report(intervalSeconds, true, [revision]);
    } catch (err) {
      this.#logger.error('stats_poke_error', { namespace, revision: name, msg: errorText(err) });
      return;
    }
    this.#poking.add(key);
    void this.#post(report).then((res) => {
      this.#poking.delete(key);
      if (res.ok) {
        this.#up();
      } else {
        this.#lostPokes.set(key, { namespace, name });
        this.#down(res.reason);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tick !== null) clearInterval(this.#tick);
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#tick = this.#retry = null;
    // Lets a POST in flight finish (bounded by the 2 s timeouts) rather than cutting it.
    await this.#pool.close();
  }

  #onTick(): void {
    try {
      const { intervalSeconds, revisions } = this.#meter.collect(this.#queuedNow);
      this.#pending = this.#report(intervalSeconds, false, revisions);
    } catch (err) {
      // A throwing collaborator (queuedNow, rtt) must not crash the process from a timer.
      this.#logger.error('stats_collect_error', { msg: errorText(err) });
      return;
    }
    this.#flush();
  }

  #flush(): void {
    if (this.#closed || this.#sending || this.#retry !== null || this.#pending === null) return;
    const report = this.#pending;
    this.#pending = null;
    this.#sending = true;
    void this.#post(report).then((res) => {
      this.#sending = false;
      if (this.#closed) return;
      if (res.ok) {
        this.#backoff.reset();
        this.#up();
        return;
      }
      // Keep it unless a newer report was collected meanwhile.
      this.#pending ??= report;
      this.#down(res.reason);
      this.#retry = setTimeout(() => {
        this.#retry = null;
        this.#flush();
      }, this.#backoff.next()).unref();
    });
  }

  #report(intervalSeconds: number, poke: boolean, revisions: RevisionDemand[]): StatsReport {
    return { node: this.#node, time: new Date().toISOString(), intervalSeconds, poke, revisions, rtt: this.#rtt() };
  }

  async #post(report: StatsReport): Promise<Result> {
    try {
      const res = await this.#pool.request({
        path: this.#path,
        method: 'POST',
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
        body: JSON.stringify(report),
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
      return { ok: false, reason: `controller answered ${res.statusCode}` };
    } catch (err) {
      return { ok: false, reason: errorText(err) };
    }
  }

  #down(reason: string): void {
    if (this.#closed || this.#downSince !== null) return;
    this.#downSince = this.#clock.now();
    this.#logger.warn('stats_report_failed', { msg: `${reason}; retrying with backoff, serving continues` });
  }

  #up(): void {
    if (this.#closed) return;
    if (this.#downSince !== null) {
      const seconds = (this.#clock.now() - this.#downSince) / 1000;
      this.#downSince = null;
      this.#logger.info('stats_report_recovered', { msg: `controller reachable again after ${seconds.toFixed(1)} s` });
    }
    // A poke got through while the tick waited out its backoff: the controller is back, send now.
    if (this.#retry !== null) {
      clearTimeout(this.#retry);
      this.#retry = null;
      this.#backoff.reset();
      this.#flush();
    }
    // A poke lost while the controller was away still matters if its requests are still waiting.
    for (const [key, r] of this.#lostPokes) {
      this.#lostPokes.delete(key);
      if (this.#meter.open(r.namespace, r.name) > 0) this.poke(r.namespace, r.name);
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
