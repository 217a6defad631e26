// The process's own health beside our series: resident memory, CPU, heap, event-loop delay, open
// file descriptors and GC pauses, as prom-client's default collectors name them (process_*,
// nodejs_*), which every Node dashboard and alert already knows. Registered once per process, by
// the bins: startProxy and startController also run several to a test process, where these numbers
// would all describe that one process. They cost nothing per request; all but the event-loop delay
// monitor and the GC observer are read at scrape time.

import { collectDefaultMetrics, type Registry } from 'prom-client';

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}
