// The edge bench's client: paced open-loop load (requests leave every 1/rate s whatever happened to
// earlier ones, so queueing shows up as latency) that keeps every sample with the node that served
// it. bench/support/paced-load.ts has the same schedule but hands back only a summary and checks one
// fixed body; here the body differs by pod (`Konnichiwa from <pod> in <node>`), and the report needs
// the raw samples for the share under 20 ms and where requests went.

import { Pool } from 'undici';

export interface EdgeLoadOptions {
  /** Origin and path, e.g. `http://127.0.50.3:8012/`. */
  url: string;
  headers: Record<string, string>;
  /** Requests per second. */
  rate: number;
  warmupMs: number;
  /** Measured part, after the warm-up. */
  durationMs: number;
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

export async function edgeLoad(opts: EdgeLoadOptions): Promise<EdgeLoadResult> {
  const { origin, pathname } = new URL(opts.url);
  // 10 s per request at most: a hung target fails requests, not the run.
  const pool = new Pool(origin, {
    connections: opts.maxConnections ?? 64,
    pipelining: 1,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  const interval = 1000 / opts.rate;
  const warmCount = Math.round((opts.warmupMs / 1000) * opts.rate);
  const total = warmCount + Math.round((opts.durationMs / 1000) * opts.rate);
  const samples: EdgeSample[] = [];
  let failures = 0;
  let maxLateMs = 0;

  const send = async (i: number, scheduled: number): Promise<void> => {
    const t0 = performance.now();
    let node: string | undefined;
    try {
      const res = await pool.request({ path: pathname, method: 'GET', headers: opts.headers });
      const body = await res.body.text();
      if (res.statusCode === 200) node = servedBy(body);
    } catch {
      node = undefined;
    }
    const ms = performance.now() - t0;
    if (i < warmCount) return;
    maxLateMs = Math.max(maxLateMs, t0 - scheduled);
    if (node === undefined) failures++;
    else samples.push({ ms, node });
  };

  try {
    await new Promise<void>((resolve) => {
      const start = performance.now();
      let next = 0;
      let outstanding = 0;
      const finishOne = (): void => {
        if (--outstanding === 0 && next >= total) resolve();
      };
      const tick = (): void => {
        const now = performance.now();
        while (next < total && start + next * interval <= now) {
          outstanding++;
          void send(next, start + next * interval).finally(finishOne);
          next++;
        }
        if (next < total) setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
        else if (outstanding === 0) resolve();
      };
      tick();
    });
  } finally {
    await pool.close();
  }
  return { sent: total - warmCount, failures, samples, maxLateMs };
}
