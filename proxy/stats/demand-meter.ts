// Demand counted where it enters (DESIGN.md §1, §4): for every revision, the time-weighted mean of
// the requests that entered at this node and have not finished yet (in flight to a pod, waiting in
// a queue or for a cold start — all of it is demand the controller must place pods for), plus the
// number that entered. The controller splits pods over nodes in proportion to these numbers, so a
// mean over time (not a sample at the tick) is what keeps a burst between two ticks from vanishing.
//
// E.g. a 1 s interval where 2 requests are open for the first 500 ms and none after:
// area = 2 × 0.5 s = 1 request·s → concurrency 1.0; requests 2.
//
// Pure: no timers, no I/O; time comes from the injected clock. The reporter calls `collect` on its
// tick and `peek` for a poke.

import type { Clock } from '../../lib/clock.ts';

export interface RevisionDemand {
  namespace: string;
  name: string;
  concurrency: number;
  requests: number;
  queued: number;
}

export type QueuedNow = (namespace: string, name: string) => number;

interface Tally {
  namespace: string;
  name: string;
  /** Requests that entered here and have not left. */
  open: number;
  /** ∫ open dt since the interval started, in request·ms, up to `since`. */
  area: number;
  since: number;
  /** Requests that entered during the interval. */
  requests: number;
}

export class DemandMeter {
  readonly #clock: Clock;
  /** namespace → name → tally: no key string built per request (enter/leave run on every request). */
  readonly #tallies = new Map<string, Map<string, Tally>>();
  #intervalStart: number;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#intervalStart = clock.now();
  }

  /**
   * A request for this revision entered at this node (counts in `requests`, and +1 concurrency until
   * `leave`). `now` saves a clock read when the caller has just taken one.
   */
  enter(namespace: string, name: string, now = this.#clock.now()): void {
    let byName = this.#tallies.get(namespace);
    if (byName === undefined) {
      byName = new Map();
      this.#tallies.set(namespace, byName);
    }
    let t = byName.get(name);
    if (t === undefined) {
      t = { namespace, name, open: 0, area: 0, since: now, requests: 0 };
      byName.set(name, t);
    }
    advance(t, now);
    t.open++;
    t.requests++;
  }

  /** That request finished (answered, failed or client gone). */
  leave(namespace: string, name: string, now = this.#clock.now()): void {
    const t = this.#tallies.get(namespace)?.get(name);
    // An unmatched leave (a caller bug) must not drive the count negative and poison every later mean.
    if (t === undefined || t.open === 0) return;
    advance(t, now);
    t.open--;
  }

  /** Requests of this revision that entered here and are still open. */
  open(namespace: string, name: string): number {
    return this.#tallies.get(namespace)?.get(name)?.open ?? 0;
  }

  /**
   * Closes the interval at clock.now(): time-weighted mean of (in flight + queued) over the interval
   * for requests that entered here, request count, and `queued` = queuedNow(ns, name). Resets the
   * interval; revisions idle for a whole interval with nothing in flight are dropped after being
   * reported once as 0.
   */
  collect(queuedNow: QueuedNow): { intervalSeconds: number; revisions: RevisionDemand[] } {
    const now = this.#clock.now();
    const span = now - this.#intervalStart;
    const revisions: RevisionDemand[] = [];
    for (const [namespace, byName] of this.#tallies) {
      for (const [name, t] of byName) {
        advance(t, now);
        const queued = queuedNow(t.namespace, t.name);
        revisions.push({ namespace: t.namespace, name: t.name, concurrency: mean(t, span), requests: t.requests, queued });
        // Idle: nothing entered, nothing was open at any moment, nothing open or queued now. This
        // report carried the 0 that tells the controller the demand is gone; later ones would only
        // repeat it, so the revision leaves the map (a revision that is never used again costs nothing).
        if (t.requests === 0 && t.area === 0 && t.open === 0 && queued === 0) byName.delete(name);
        t.area = 0;
        t.requests = 0;
      }
      if (byName.size === 0) this.#tallies.delete(namespace);
    }
    this.#intervalStart = now;
    return { intervalSeconds: span / 1000, revisions };
  }

  /**
   * One revision's numbers for a poke, without closing the interval. `concurrency` is the count open
   * now rather than the mean so far: a poke is about a cold request that just arrived, and a mean
   * over the few milliseconds of a fresh interval would under-read the burst that caused it.
   * `intervalSeconds` is how much of the running interval has passed.
   */
  peek(namespace: string, name: string, queuedNow: QueuedNow): { intervalSeconds: number; revision: RevisionDemand } {
    const t = this.#tallies.get(namespace)?.get(name);
    return {
      intervalSeconds: (this.#clock.now() - this.#intervalStart) / 1000,
      revision: { namespace, name, concurrency: t?.open ?? 0, requests: t?.requests ?? 0, queued: queuedNow(namespace, name) },
    };
  }
}

/** Integrates `open` up to `now`; a `now` older than the last step (a caller's earlier reading) adds nothing. */
function advance(t: Tally, now: number): void {
  if (now <= t.since) return;
  t.area += t.open * (now - t.since);
  t.since = now;
}

/** Mean over the interval; over a zero-length interval the mean is the value at that instant. */
function mean(t: Tally, spanMs: number): number {
  return spanMs > 0 ? t.area / spanMs : t.open;
}
