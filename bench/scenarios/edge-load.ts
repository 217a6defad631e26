// The edge bench's client: paced open-loop load (requests leave every 1/rate s whatever happened to
// earlier ones, so queueing shows up as latency) that keeps every sample with the node that served
// it, run in slices on one keep-alive pool per target so the bench can interleave targets.
// bench/support/paced-load.ts keeps the same schedule but hands back only a summary and checks one
// fixed body; here the body differs by pod (`Konnichiwa from <pod> in <node>`), and the report needs
// the raw samples for the share under 20 ms and where requests went.

import { Pool } from 'undici';
import { paceSends } from '../support/paced-load.ts';

export interface EdgeClientOptions {
  /** Origin and path, e.g. `http://127.0.50.3:8012/`. */
  url: string;
  headers: Record<string, string>;
  /** Source address of the client's connections (the oracle dials a pod from its node). */
  localAddress?: string;
  maxConnections?: number;
}

export interface EdgeSample {
  ms: number;
  /** Node named in the body, '' when the body named none. */
  node: string;
}

export interface EdgeLoadResult {
  sent: number;
  /** Errors and answers other than 200 in the measured part. */
  failures: number;
  samples: EdgeSample[];
  /** Worst lateness of a send against its schedule, ms: large means the client itself was starved. */
  maxLateMs: number;
}

const NODE_IN_BODY = / in ([a-z0-9-]+)\s*$/;

export function servedBy(body: string): string {
  return NODE_IN_BODY.exec(body)?.[1] ?? '';
}

/** One target (an entry proxy or the oracle's pod) with its own keep-alive pool, loaded in slices. */
export class EdgeClient {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: Record<string, string>;
  readonly #result: EdgeLoadResult = { sent: 0, failures: 0, samples: [], maxLateMs: 0 };

  constructor(opts: EdgeClientOptions) {
    const { origin, pathname } = new URL(opts.url);
    this.#path = pathname;
    this.#headers = opts.headers;
    // 10 s per request at most: a hung target fails requests, not the run.
    this.#pool = new Pool(origin, {
      connections: opts.maxConnections ?? 64,
      pipelining: 1,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
  }

  /** Figures of every recorded slice so far. */
  get result(): EdgeLoadResult {
    return this.#result;
  }

  /** `rate` requests per second for `durationMs`, kept in the result when `record`. */
  async run(rate: number, durationMs: number, record: boolean): Promise<void> {
    const interval = 1000 / rate;
    const total = Math.round((durationMs / 1000) * rate);
    const r = this.#result;
    const send = async (_i: number, scheduled: number): Promise<void> => {
      const t0 = performance.now();
      let node: string | undefined;
      try {
        const res = await this.#pool.request({ path: this.#path, method: 'GET', headers: this.#headers });
        const body = await res.body.text();
        if (res.statusCode === 200) node = servedBy(body);
      } catch {
        node = undefined;
      }
      const ms = performance.now() - t0;
      if (!record) return;
      r.sent++;
      r.maxLateMs = Math.max(r.maxLateMs, t0 - scheduled);
      if (node === undefined) r.failures++;
      else r.samples.push({ ms, node });
    };
    await paceSends(total, interval, send);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
