// One scaled revision's whole decision per tick, without I/O: record the demand sample into the
// windows, ask the KPA decider for the total, and place it over the nodes. The reconcile loop owns
// one per Seika and feeds it the caches; tests drive it with a manual clock.
//
// The placement starts from what the Seika holds now (not from our own last answer), so an instance
// that just became leader continues from the cluster's state instead of reshuffling pods.

import { Decider } from './autoscaler/decider.ts';
import type { ScalingSpec } from './autoscaler/scaling-spec.ts';
import { WindowedAverage } from './autoscaler/windows.ts';
import { holdUntilReady, place, type PlacementState, type Rtt } from './placement.ts';

export interface ScalerInput {
  spec: ScalingSpec;
  /** Every known node. */
  nodes: readonly string[];
  /** Concurrency entering at each node now (nodes without a live report absent). */
  demand: ReadonlyMap<string, number>;
  /** `spec.repurika` of the Seika now. */
  current: Readonly<Record<string, number>>;
  /** `status.repurika`: ready pods per node. */
  ready: Readonly<Record<string, number>>;
  /** Clock time of the latest poke for this revision. */
  pokedAt?: number;
  /** Nodes that poked within the last stable window. */
  pokedNodes: readonly string[];
  capPerNode: number;
  rtt: Rtt;
}

export interface ScalerOutput {
  desired: number;
  panic: boolean;
  /** Pods per known node. */
  counts: Map<string, number>;
}

export class RevisionScaler {
  readonly #decider = new Decider();
  #total: WindowedAverage | undefined;
  readonly #perNode = new Map<string, WindowedAverage>();
  #diverged: PlacementState['diverged'] = new Map();

  step(input: ScalerInput, now: number): ScalerOutput {
    const { spec } = input;
    let sum = 0;
    for (const node of input.nodes) {
      const c = input.demand.get(node) ?? 0;
      sum += c;
      this.#nodeWindow(node, spec).record(now, c);
    }
    this.#total ??= new WindowedAverage({ retainMs: spec.stableWindowMs });
    this.#total.retainMs = spec.stableWindowMs;
    this.#total.record(now, sum);

    const { desired, panic } = this.#decider.decide(
      {
        spec,
        stableConcurrency: this.#total.average(now, spec.stableWindowMs) ?? 0,
        panicConcurrency: this.#total.average(now, spec.panicWindowMs) ?? 0,
        readyPods: Object.values(input.ready).reduce((a, b) => a + b, 0),
        pokedAt: input.pokedAt,
      },
      now,
    );

    // Pods follow where demand entered over the stable window; a cold start has no history yet,
    // so the nodes that poked stand in for it (one pod lands on the poking node at once).
    const weights = new Map<string, number>();
    for (const node of input.nodes) weights.set(node, this.#perNode.get(node)?.average(now, spec.stableWindowMs) ?? 0);
    if ([...weights.values()].every((w) => w === 0)) for (const node of input.pokedNodes) weights.set(node, 1);

    const counts = new Map(input.nodes.map((n) => [n, input.current[n] ?? 0]));
    const next = place(
      { desired, nodes: input.nodes, demand: weights, capPerNode: input.capPerNode, rtt: input.rtt, holdMs: spec.panicWindowMs },
      { counts, diverged: this.#diverged },
      now,
    );
    this.#diverged = next.diverged;
    return { desired, panic, counts: holdUntilReady(next.counts, input.current, input.ready) };
  }

  #nodeWindow(node: string, spec: ScalingSpec): WindowedAverage {
    let w = this.#perNode.get(node);
    if (!w) this.#perNode.set(node, (w = new WindowedAverage({ retainMs: spec.stableWindowMs })));
    w.retainMs = spec.stableWindowMs;
    return w;
  }
}
