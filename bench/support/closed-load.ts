// Closed-loop load with autocannon: N keep-alive connections, each sending its next request the
// moment the previous response ends (pipelining 1). This finds the most a target serves and is
// what CPU per request is measured over. Its latencies come from autocannon's histogram, which
// keeps whole milliseconds (lowestDiscernibleValue 1): fine at -c 50, too coarse for the paced
// run, which therefore uses its own client (paced-load.ts).

import autocannon from 'autocannon';

export interface ClosedLoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  headers: Record<string, string>;
}

export interface ClosedLoadResult {
  /** Completed responses. */
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors + timeouts + non-2xx responses + body mismatches. */
  failures: number;
}

export async function closedLoad(opts: ClosedLoadOptions, expectBody?: string): Promise<ClosedLoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    pipelining: 1,
    duration: opts.durationSeconds,
    headers: opts.headers,
    timeout: 10,
    ...(expectBody === undefined ? {} : { expectBody }),
  });
  const seconds = result.duration;
  return {
    requests: result.requests.total,
    seconds,
    rps: result.requests.total / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failures: result.errors + result.timeouts + result.non2xx + result.mismatches,
  };
}
