// What every request step shares within one proxy process: built once in main.ts and passed down,
// so tests can assemble a proxy from real parts without globals.

import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { Picker } from './balance/picker.ts';
import type { RevisionTable } from './endpoints/revision-table.ts';
import type { UpstreamPools } from './forward/upstream-pools.ts';
import type { ProxyMetrics } from './proxy-metrics.ts';
import type { DemandMeter } from './stats/demand-meter.ts';
import type { RequestMetrics } from './request-metrics.ts';

export interface ProxyContext {
  node: string;
  table: RevisionTable;
  pools: UpstreamPools;
  picker: Picker;
  metrics: ProxyMetrics;
  requestMetrics: RequestMetrics;
  logger: Logger;
  clock: Clock;
  demand: DemandMeter;
  /** Tells the controller at once that a revision has a request waiting for its first pod. */
  poke: (namespace: string, name: string) => void;
  /** Longest wait for a first ready pod (`--cold-start-timeout`), capped per revision by its timeout. */
  coldStartTimeoutMs: number;
  /** Requests in flight or queued in this process, for drain. */
  active: { count: number; onIdle?: () => void };
}
