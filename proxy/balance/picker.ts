// Choosing a pod for one request (DESIGN.md §2 "Choosing a pod"). The picker sees only candidates
// the proxy already filtered (ready, not terminating) and a score per endpoint; it never scans at
// scale and never allocates per pick.
//
// least-cost: score = latency × (load + 1) (EndpointStats.cost). Up to EXACT_MAX candidates the
// least score exactly. Above, the candidates are split once per array (the proxy passes a new array
// whenever the set changes, so a WeakMap caches the split, and the last array is kept at hand)
// into this node's pods and the others, each side picks its best by power of two choices with
// memory, and the two winners are compared:
//  - Plain p2c over all pods would almost never sample this node's pods when they are a few among
//    thousands, though they are the cheapest by an RTT; keeping them a side of their own makes the
//    local-first rule hold at any scale.
//  - Memory: the side's previous winner is a third contender next to the two random ones. p2c alone
//    would leave the remote choice to chance between near and far nodes (both samples far a quarter
//    of the time with half the pods far); with one remembered candidate the choice settles on a
//    cheap pod and stays while it is cheap, and a random sample takes over as soon as it loads up.
//    Two random choices plus one remembered is the (d, m) = (2, 1) scheme of Mitzenmacher,
//    Prabhakar & Shah, "Load balancing with memory" (FOCS 2002).
// Ties go to this node; among equals of the same side a scan start that moves by one each pick
// spreads the picks (a counter, not the rng: the exact scan is the common case and stays rng-free).
// Cost per pick above EXACT_MAX: at most 2 × EXACT_MAX scores while a side is small, 6 scores and
// 4 random numbers once both sides are large, whatever the pod count.
//
// least-request: the same with score = load (our in flight + the owner's report). round-robin and
// random ignore locality and load: they are the baselines the benchmarks compare against.

import type { Rng } from '../../lib/rng.ts';
import type { EndpointStats } from './endpoint-stats.ts';

export const BALANCERS = ['least-cost', 'round-robin', 'random', 'least-request'] as const;
export type BalancerKind = (typeof BALANCERS)[number];

export function isBalancerKind(s: string): s is BalancerKind {
  return (BALANCERS as readonly string[]).includes(s);
}

export interface Picker {
  pick(candidates: readonly EndpointStats[], now: number): EndpointStats | undefined;
}

/** Up to this many candidates (per side, at scale) the least score is found exactly. */
export const EXACT_MAX = 8;

export function createPicker(kind: BalancerKind, opts: { rng: Rng }): Picker {
  switch (kind) {
    case 'least-cost':
      return new ScoredPicker(true, opts.rng);
    case 'least-request':
      return new ScoredPicker(false, opts.rng);
    case 'round-robin':
      return new RoundRobinPicker();
    case 'random':
      return new RandomPicker(opts.rng);
  }
}

/** One side (this node's pods, or the others) of a large candidate set, with its remembered winner. */
interface Side {
  members: EndpointStats[];
  last: EndpointStats | undefined;
}

interface Split {
  local: Side;
  remote: Side;
}

// One class for both scores, switched by a flag rather than a score callback: the branch is free,
// while a callback shared by two kinds makes the call site polymorphic and measured 2–3× slower.
class ScoredPicker implements Picker {
  readonly #byCost: boolean;
  readonly #rng: Rng;
  readonly #splits = new WeakMap<readonly EndpointStats[], Split>();
  /** The last array and its split: one revision's traffic usually comes in runs, and a WeakMap
   * lookup costs as much as a whole exact pick of 8. */
  #lastArray: readonly EndpointStats[] | undefined;
  #lastSplit: Split | undefined;
  /** Moves the exact scan's start; kept a small integer. */
  #turn = 0;
  /** Score of the endpoint the last best* call returned (saves recomputing it; no allocation). */
  #bestScore = 0;

  constructor(byCost: boolean, rng: Rng) {
    this.#byCost = byCost;
    this.#rng = rng;
  }

  pick(candidates: readonly EndpointStats[], now: number): EndpointStats | undefined {
    const n = candidates.length;
    if (n <= 1) return candidates[0];
    if (n <= EXACT_MAX) return this.#exact(candidates, now);
    let split = this.#lastArray === candidates ? this.#lastSplit : this.#splits.get(candidates);
    if (split === undefined) {
      split = splitByLocality(candidates);
      this.#splits.set(candidates, split);
    }
    this.#lastArray = candidates;
    this.#lastSplit = split;
    const local = this.#bestOf(split.local, now);
    const localScore = this.#bestScore;
    const remote = this.#bestOf(split.remote, now);
    if (local === undefined) return remote;
    if (remote === undefined) return local;
    return this.#bestScore < localScore ? remote : local;
  }

  /** Least score over all candidates, ties to a local one, else to the first after a moving start. */
  #exact(c: readonly EndpointStats[], now: number): EndpointStats {
    const n = c.length;
    const start = this.#turn++ % n;
    if (this.#turn === 0x3fffffff) this.#turn = 0;
    let best = c[start]!;
    let bestScore = this.#scoreOf(best, now);
    for (let k = 1; k < n; k++) {
      const i = start + k < n ? start + k : start + k - n;
      const e = c[i]!;
      const s = this.#scoreOf(e, now);
      if (s < bestScore || (s === bestScore && e.local && !best.local)) {
        best = e;
        bestScore = s;
      }
    }
    this.#bestScore = bestScore;
    return best;
  }

  #scoreOf(e: EndpointStats, now: number): number {
    return this.#byCost ? e.cost(now) : e.load(now);
  }

  #bestOf(side: Side, now: number): EndpointStats | undefined {
    const m = side.members;
    const n = m.length;
    if (n === 0) return undefined;
    if (n <= EXACT_MAX) return this.#exact(m, now);
    const i = Math.floor(this.#rng() * n);
    let j = Math.floor(this.#rng() * (n - 1));
    if (j >= i) j++;
    let best = m[i]!;
    let bestScore = this.#scoreOf(best, now);
    const b = m[j]!;
    const bs = this.#scoreOf(b, now);
    if (bs < bestScore) {
      best = b;
      bestScore = bs;
    }
    const last = side.last;
    if (last !== undefined && last !== m[i] && last !== b) {
      const ls = this.#scoreOf(last, now);
      if (ls < bestScore) {
        best = last;
        bestScore = ls;
      }
    }
    side.last = best;
    this.#bestScore = bestScore;
    return best;
  }
}

function splitByLocality(candidates: readonly EndpointStats[]): Split {
  const local: EndpointStats[] = [];
  const remote: EndpointStats[] = [];
  for (const e of candidates) (e.local ? local : remote).push(e);
  return { local: { members: local, last: undefined }, remote: { members: remote, last: undefined } };
}

class RoundRobinPicker implements Picker {
  #next = 0;

  pick(candidates: readonly EndpointStats[]): EndpointStats | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    if (this.#next >= n) this.#next = 0;
    return candidates[this.#next++];
  }
}

class RandomPicker implements Picker {
  readonly #rng: Rng;

  constructor(rng: Rng) {
    this.#rng = rng;
  }

  pick(candidates: readonly EndpointStats[]): EndpointStats | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    return candidates[Math.floor(this.#rng() * n)];
  }
}
