// The controller's heartbeat: every tick (1 s, the proxies' report interval) and at once on a
// cold-start poke, for every scaled Seika: demand from the store → RevisionScaler (windows, KPA,
// placement) → metrics → a Seika patch when this instance leads and the counts changed. Followers
// run the same computation without patching, so their windows are warm when they take over.
// Ticks never overlap: a poke during a tick runs one more tick right after it.

import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import { revisionKey } from '../lib/model.ts';
import { resolveScalingSpec, type ScalingDefaults, type ScalingSpec } from './autoscaler/scaling-spec.ts';
import type { ControllerMetrics } from './controller-metrics.ts';
import type { DemandStore } from './demand-store.ts';
import { RevisionScaler } from './revision-scaler.ts';
import type { ScaleTarget } from './scale-targets.ts';
import { seikaKey, type SeikaPatcher } from './seika-patcher.ts';

export interface ReconcileLoopOptions {
  targets: () => ScaleTarget[];
  /** Nodes Kubernetes lists (may be empty when Nodes are unreadable). */
  clusterNodes: () => string[];
  store: DemandStore;
  patcher: Pick<SeikaPatcher, 'apply' | 'retain'>;
  isLeader: () => boolean;
  defaults: ScalingDefaults;
  capPerNode: number;
  /** RTT prior (ms) until proxies report measurements. */
  rttPrior: Map<string, Map<string, number>>;
  metrics: ControllerMetrics;
  logger: Logger;
  clock: Clock;
  tickMs?: number;
}

interface SeikaState {
  namespace: string;
  seika: string;
  revision: string;
  scaler: RevisionScaler;
  specKey: string;
  spec: ScalingSpec;
  /** Last logged decision, to log changes only. */
  logged: string;
  nodes: string[];
}

export class ReconcileLoop {
  readonly #o: ReconcileLoopOptions;
  readonly #tickMs: number;
  readonly #state = new Map<string, SeikaState>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(o: ReconcileLoopOptions) {
    this.#o = o;
    this.#tickMs = o.tickMs ?? 1000;
  }

  start(): void {
    this.#timer = setInterval(() => this.poke(), this.#tickMs);
  }

  /** Runs a tick now (after the one in progress, if any). */
  poke(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
  }

  async #run(): Promise<void> {
    do {
      this.#again = false;
      try {
        await this.tick();
      } catch (err) {
        this.#o.logger.error('reconcile_failed', { msg: (err as Error).message });
      }
    } while (this.#again && !this.#closed);
    this.#running = undefined;
  }

  /** One reconcile pass over every scaled Seika. */
  async tick(): Promise<void> {
    const { store, clock, metrics } = this.#o;
    const now = clock.now();
    const targets = this.#o.targets();
    const seen = new Set<string>();
    const patches: Array<Promise<unknown>> = [];
    const leader = this.#o.isLeader();
    for (const t of targets) {
      const key = seikaKey(t.namespace, t.seika);
      seen.add(key);
      const st = this.#stateFor(key, t);
      const nodes = [...new Set([...this.#o.clusterNodes(), ...store.nodes(), ...Object.keys(t.spec), ...Object.keys(t.ready)])].sort();
      const demand = store.concurrency(t.namespace, t.revision, now);
      const out = st.scaler.step(
        {
          spec: st.spec,
          nodes,
          demand,
          current: t.spec,
          ready: t.ready,
          pokedAt: store.lastPoke(t.namespace, t.revision),
          pokedNodes: store.pokedSince(t.namespace, t.revision, now - st.spec.stableWindowMs),
          capPerNode: this.#o.capPerNode,
          rtt: (a, b) => store.rtt(a, b) ?? this.#o.rttPrior.get(a)?.get(b),
        },
        now,
      );
      const want = Object.fromEntries(out.counts);
      // Series of nodes no longer known go (known nodes only shrink when Kubernetes drops a Node).
      this.#removeSeries(t.namespace, t.seika, st.revision, st.nodes.filter((n) => !nodes.includes(n)));
      st.nodes = nodes;
      for (const node of nodes) {
        metrics.desiredPods.set({ namespace: t.namespace, seika: t.seika, node }, want[node] ?? 0);
        metrics.readyPods.set({ namespace: t.namespace, seika: t.seika, node }, t.ready[node] ?? 0);
        metrics.demandConcurrency.set({ namespace: t.namespace, revision: t.revision, node }, demand.get(node) ?? 0);
      }
      metrics.panicMode.set({ namespace: t.namespace, revision: t.revision }, out.panic ? 1 : 0);
      const decision = JSON.stringify({ desired: out.desired, panic: out.panic, want });
      if (decision !== st.logged) {
        st.logged = decision;
        this.#o.logger.info('scale_decision', { namespace: t.namespace, revision: t.revision, seika: t.seika, desired: out.desired, panic: out.panic, repurika: want });
      }
      if (leader) patches.push(this.#o.patcher.apply({ namespace: t.namespace, seika: t.seika, spec: t.spec, resourceVersion: t.resourceVersion }, want));
    }
    for (const [key, st] of this.#state) {
      if (!seen.has(key)) {
        this.#dropState(key, st);
      }
    }
    this.#o.patcher.retain(seen);
    store.retain(new Set(targets.map((t) => revisionKey(t.namespace, t.revision))));
    await Promise.all(patches);
  }

  #stateFor(key: string, t: ScaleTarget): SeikaState {
    const specKey = JSON.stringify([t.revision, t.containerConcurrency, t.annotations]);
    let st = this.#state.get(key);
    if (st && st.specKey === specKey) return st;
    const { spec, ignored } = resolveScalingSpec(this.#o.defaults, t.containerConcurrency, t.annotations);
    for (const msg of ignored) this.#o.logger.info('annotation_ignored', { namespace: t.namespace, revision: t.revision, msg });
    if (st && st.revision === t.revision) {
      // Same revision, new annotations: keep the windows and the decider's memory.
      st.spec = spec;
      st.specKey = specKey;
      return st;
    }
    // A new newest revision starts fresh (its own windows and initial scale).
    if (st) this.#dropState(key, st);
    st = { namespace: t.namespace, seika: t.seika, revision: t.revision, scaler: new RevisionScaler(), specKey, spec, logged: '', nodes: [] };
    this.#state.set(key, st);
    return st;
  }

  #dropState(key: string, st: SeikaState): void {
    this.#removeSeries(st.namespace, st.seika, st.revision, st.nodes);
    this.#o.metrics.panicMode.remove({ namespace: st.namespace, revision: st.revision });
    this.#state.delete(key);
  }

  #removeSeries(namespace: string, seika: string, revision: string, nodes: readonly string[]): void {
    const { metrics } = this.#o;
    for (const node of nodes) {
      metrics.desiredPods.remove({ namespace, seika, node });
      metrics.readyPods.remove({ namespace, seika, node });
      metrics.demandConcurrency.remove({ namespace, revision, node });
    }
  }
}
