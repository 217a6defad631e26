// Paced, open-loop latency: requests leave on a fixed schedule (every 1/rate s from the start),
// whatever happened to earlier ones, over as many connections as are needed (up to 64). That is
// what "open loop" means: a slow response never delays the next request, so queueing inside a
// proxy shows up in the latencies instead of silently lowering the offered load.
// autocannon's `overallRate` is NOT this: it splits the rate over its connections, each connection
// still waits for its response before sending again, and the limit is applied per second, so a
// connection sends its share back to back and then idles until the next second (bursts, closed
// loop within each second).
// Latency is measured from the moment a request is handed to undici to its last body byte, with
// µs resolution. Timers fire about every 1 ms, so sends go out in small groups (usually 1–2) at
// their scheduled time; how late each left is recorded too, to show the schedule was kept.

import { Pool } from 'undici';
import { summarize, type LatencySummary } from './percentile.ts';

export interface PacedLoadOptions {
  url: string;
  /** Requests per second. */
  rate: number;
  /** Measured part, after the warm-up. */
  durationMs: number;
  warmupMs: number;
  headers: Record<string, string>;
  /** The body every response must carry; anything else counts as a failure. */
  expectBody?: string;
  maxConnections?: number;
}

export interface PacedLoadResult {
  /** Requests in the measured part. */
  sent: number;
  failures: number;
  latencyMs: LatencySummary;
  /** How late requests left against their schedule (client-side health of the run). */
  lateMs: LatencySummary;
}

export async function pacedLoad(opts: PacedLoadOptions): Promise<PacedLoadResult> {
  const origin = new URL(opts.url).origin;
  const path = new URL(opts.url).pathname;
  // 10 s per request at most (autocannon's timeout too): a hung target fails requests, not the run.
  const pool = new Pool(origin, {
    connections: opts.maxConnections ?? 64,
    pipelining: 1,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const interval = 1000 / opts.rate;
  const warmCount = Math.round((opts.warmupMs / 1000) * opts.rate);
  const total = warmCount + Math.round((opts.durationMs / 1000) * opts.rate);
  const latencies: number[] = [];
  const late: number[] = [];
  let failures = 0;

  const send = async (i: number, scheduled: number): Promise<void> => {
    const t0 = performance.now();
    let ok = false;
    try {
      const res = await pool.request({ path, method: 'GET', headers: opts.headers });
      const text = await res.body.text();
      ok = res.statusCode === 200 && (opts.expectBody === undefined || text === opts.expectBody);
    } catch {
      ok = false;
    }
    const t1 = performance.now();
    if (i < warmCount) return;
    if (!ok) failures++;
    else latencies.push(t1 - t0);
    late.push(t0 - scheduled);
  };

  try {
    await paceSends(total, interval, send);
  } finally {
    await pool.close();
  }
  return {
    sent: total - warmCount,
    failures,
    latencyMs: summarize(latencies),
    lateMs: summarize(late),
  };
}

/**
 * The open-loop schedule: send i starts at start + i × intervalMs whether or not earlier ones have
 * answered (a late timer sends every overdue request at once, so slowness never thins the load).
 * Resolves when all `total` sends have settled; `send` must not reject.
 */
export function paceSends(total: number, intervalMs: number, send: (i: number, scheduledAt: number) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const start = performance.now();
    let next = 0;
    let outstanding = 0;
    const finishOne = (): void => {
      if (--outstanding === 0 && next >= total) resolve();
    };
    const tick = (): void => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        outstanding++;
        void send(next, start + next * intervalMs).finally(finishOne);
        next++;
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
      else if (outstanding === 0) resolve();
    };
    tick();
  });
}
