// Every controller series of DESIGN.md §6, registered into an injected Registry (tests run several
// controllers in one process, so never the global one). The gauges mirror the latest reconcile;
// series of a Seika or revision that is no longer scaled are removed so dashboards don't show ghosts.

import { Counter, Gauge, Registry } from 'prom-client';

export const PATCH_RESULTS = ['ok', 'conflict', 'not_found', 'error'] as const;
export type PatchResult = (typeof PATCH_RESULTS)[number];

export interface ControllerMetrics {
  registry: Registry;
  desiredPods: Gauge<'namespace' | 'seika' | 'node'>;
  readyPods: Gauge<'namespace' | 'seika' | 'node'>;
  demandConcurrency: Gauge<'namespace' | 'revision' | 'node'>;
  panicMode: Gauge<'namespace' | 'revision'>;
  seikaPatches: Counter<'result'>;
}

export function createControllerMetrics(registry = new Registry()): ControllerMetrics {
  const registers = [registry];
  const seikaPatches = new Counter({
    name: 'ikukantai_controller_seika_patches_total',
    help: 'Merge patches of Seika spec.repurika, by result (ok, conflict, not_found, error)',
    labelNames: ['result'] as const,
    registers,
  });
  // Start every result at 0 so rate() and alerts see the series before the first failure.
  for (const result of PATCH_RESULTS) seikaPatches.inc({ result }, 0);
  return {
    registry,
    desiredPods: new Gauge({
      name: 'ikukantai_controller_desired_pods',
      help: 'Pods the controller wants on each node for a Seika (after autoscaling and placement)',
      labelNames: ['namespace', 'seika', 'node'] as const,
      registers,
    }),
    readyPods: new Gauge({
      name: 'ikukantai_controller_ready_pods',
      help: 'Ready pods per node as reported in the Seika status',
      labelNames: ['namespace', 'seika', 'node'] as const,
      registers,
    }),
    demandConcurrency: new Gauge({
      name: 'ikukantai_controller_demand_concurrency',
      help: 'Latest reported concurrency of requests entering at each node, per revision',
      labelNames: ['namespace', 'revision', 'node'] as const,
      registers,
    }),
    panicMode: new Gauge({
      name: 'ikukantai_controller_panic_mode',
      help: '1 while the revision autoscaler is in panic mode, else 0',
      labelNames: ['namespace', 'revision'] as const,
      registers,
    }),
    seikaPatches,
  };
}
