// Serialized, latest-wins writes to the Kubernetes API, one lane per object. A node agent changes
// the same EndpointSlice or status many times a second during a scale-up; each write function
// reads the agent's *current* state when it runs, so queued duplicates collapse into one run, two
// writes to one object never race (no lost update between our own PUTs), and a failed write (API
// outage, conflict) is retried with capped backoff until it succeeds or the writer closes.

import { Backoff } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/log.ts';

type WriteFn = () => Promise<void>;

interface Lane {
  fn: WriteFn;
  running: boolean;
  pending: boolean;
  /** Resolved once a run that started after they were added succeeds (or the writer closes). */
  waiting: Array<() => void>;
  backoff: Backoff;
  retryTimer?: NodeJS.Timeout;
}

export class KeyedWriter {
  readonly #lanes = new Map<string, Lane>();
  readonly #log: Logger;
  readonly #idle = new Set<() => void>();
  #closed = false;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Runs `fn` for `key` as soon as no other write for `key` runs; a later schedule for the same key
   * replaces a queued one. Resolves when a run started after this call has succeeded.
   */
  schedule(key: string, fn: WriteFn): Promise<void> {
    if (this.#closed) return Promise.resolve();
    let lane = this.#lanes.get(key);
    if (!lane) {
      lane = { fn, running: false, pending: false, waiting: [], backoff: new Backoff({ initialMs: 200, maxMs: 5000 }) };
      this.#lanes.set(key, lane);
    }
    lane.fn = fn;
    const done = new Promise<void>((resolve) => lane.waiting.push(resolve));
    if (lane.running) lane.pending = true;
    else if (lane.retryTimer === undefined) void this.#run(key, lane);
    return done;
  }

  async #run(key: string, lane: Lane): Promise<void> {
    lane.running = true;
    lane.pending = false;
    const waiters = lane.waiting.splice(0);
    let ok = false;
    try {
      await lane.fn();
      ok = true;
      lane.backoff.reset();
    } catch (err) {
      this.#log.warn('agent_write_failed', { msg: `${key}: ${(err as Error).message}` });
    }
    lane.running = false;
    if (ok) for (const w of waiters) w();
    else lane.waiting.unshift(...waiters);
    if (this.#closed) {
      for (const w of lane.waiting.splice(0)) w();
    } else if (!ok) {
      lane.retryTimer = setTimeout(() => {
        lane.retryTimer = undefined;
        void this.#run(key, lane);
      }, lane.backoff.next());
      return;
    } else if (lane.pending) {
      void this.#run(key, lane);
      return;
    }
    this.#lanes.delete(key);
    if (this.#lanes.size === 0) for (const w of this.#idle) w();
  }

  /** Stops retrying and resolves every waiter; waits for writes already running. */
  async close(): Promise<void> {
    this.#closed = true;
    let running = false;
    for (const lane of this.#lanes.values()) {
      clearTimeout(lane.retryTimer);
      if (lane.running) running = true;
      else {
        for (const w of lane.waiting.splice(0)) w();
      }
    }
    for (const [key, lane] of this.#lanes) if (!lane.running) this.#lanes.delete(key);
    if (running) await new Promise<void>((resolve) => this.#idle.add(resolve));
  }
}
