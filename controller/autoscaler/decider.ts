// The per-revision scaling decision, KPA-style, as Knative documents it: `decide(input, now)` takes
// the observed averages and the time and does no I/O, so its tests are tables with a manual clock.
// The few things it must remember between calls (when panic began, the panic high-water mark, the
// scale-down-delay window, when zero was first wanted) live in the instance, one per revision.
//
// E.g. target 7 per pod (cc 10 × 0.7), 3 ready pods, stable average 20, panic average 45:
// stable wants ceil(20/7) = 3, panic wants ceil(45/7) = 7; 7/3 ≥ 2 → panic, so 7 pods, and no
// scale-down until panic ends (a whole stable window below the threshold).

import type { ScalingSpec } from './scaling-spec.ts';

export interface DecisionInput {
  spec: ScalingSpec;
  /** Mean concurrency over the stable window (all entry nodes summed). */
  stableConcurrency: number;
  /** Mean concurrency over the panic window. */
  panicConcurrency: number;
  /** Ready pods now (Seika status). */
  readyPods: number;
  /** Clock time (ms) of the latest cold-start poke for this revision, if any. */
  pokedAt?: number;
}

export interface Decision {
  desired: number;
  panic: boolean;
}

export class Decider {
  /** Last time the panic threshold was crossed; undefined when not panicking. */
  #panicAt: number | undefined;
  #maxPanicPods = 0;
  /** First time the autoscaler wanted zero while pods were up; undefined otherwise. */
  #wantZeroSince: number | undefined;
  #initialReached = false;
  #last = 0;
  // Scale-down delay: recent decisions, the effective one is their maximum (Knative's delay window).
  #recent: Array<{ at: number; desired: number }> = [];

  decide(input: DecisionInput, now: number): Decision {
    const { spec } = input;
    // Knative counts at least one ready pod, so a revision at zero can scale up at the full rate.
    const ready = Math.max(1, input.readyPods);
    const maxUp = Math.ceil(spec.maxScaleUpRate * ready);
    const maxDown = Math.floor(ready / spec.maxScaleDownRate);
    const wantStable = Math.ceil(input.stableConcurrency / spec.targetPerPod);
    const wantPanic = Math.ceil(input.panicConcurrency / spec.targetPerPod);
    const clamp = (n: number): number => Math.min(Math.max(n, maxDown), maxUp);

    const over = wantPanic / ready >= spec.panicThreshold;
    if (over) {
      // Entering, or still over: (re)start the clock that ends panic.
      this.#panicAt = now;
    } else if (this.#panicAt !== undefined && now - this.#panicAt > spec.stableWindowMs) {
      // The surge has been in the stable average for a whole window: stable decides again.
      this.#panicAt = undefined;
      this.#maxPanicPods = 0;
    }

    let desired = clamp(wantStable);
    if (this.#panicAt !== undefined) {
      // Provision for the larger of the two, and never scale down while panicking.
      desired = Math.max(desired, clamp(wantPanic), this.#maxPanicPods);
      this.#maxPanicPods = desired;
    }
    desired = this.#delayScaleDown(desired, now, spec.scaleDownDelayMs);

    // A poke is demand the windows have not seen yet (the request waits in a proxy queue). One pod
    // stays for a stable window, as long as that one request would keep the stable average above 0.
    if (input.pokedAt !== undefined && now - input.pokedAt < spec.stableWindowMs) desired = Math.max(desired, 1);

    if (!this.#initialReached) {
      if (input.readyPods >= spec.initialScale) this.#initialReached = true;
      else desired = Math.max(desired, spec.initialScale);
    }
    desired = Math.max(desired, spec.minScale);
    if (spec.maxScale > 0) desired = Math.min(desired, spec.maxScale);

    // Scale to zero only after the grace (and the last pod's retention period): the proxies must
    // see the revision go cold with a pod still there, and a request in that time keeps it.
    if (desired > 0) {
      this.#wantZeroSince = undefined;
    } else if (this.#last > 0) {
      this.#wantZeroSince ??= now;
      if (now - this.#wantZeroSince < Math.max(spec.scaleToZeroGraceMs, spec.retentionMs)) desired = 1;
    }
    this.#last = desired;
    return { desired, panic: this.#panicAt !== undefined };
  }

  #delayScaleDown(desired: number, now: number, delayMs: number): number {
    if (delayMs <= 0) {
      this.#recent.length = 0;
      return desired;
    }
    this.#recent = this.#recent.filter((r) => now - r.at < delayMs);
    this.#recent.push({ at: now, desired });
    return Math.max(...this.#recent.map((r) => r.desired));
  }
}
