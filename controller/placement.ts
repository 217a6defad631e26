// Where a revision's pods go (DESIGN.md §4 "Placement"), as a pure function of the desired total,
// the demand entering at each node, the RTT between nodes and the previous placement. Demand is
// counted where requests enter, so pods go where the requests come from (ikukantai's Yukari idea):
//   1. split the total over entry nodes in proportion to their demand (largest remainder, ties to
//      the lower node name);
//   2. cap each node at `capPerNode`; the overflow goes to the node with the least RTT from the
//      node that overflowed (one pod at a time, so it spreads outward in RTT order). RTTs within
//      RTT_TIE of the least count as equal, and among equals a node that already holds the pod
//      wins: two nodes at one site measure 50.2 and 50.4 ms one probe and the other way round the
//      next, and the pod must not follow that noise from node to node;
//   3. hysteresis: a change of the total applies at once (up for a cold start or a surge, down as
//      the autoscaler decided), but moving pods between nodes waits until both nodes' shares have
//      differed by ≥ 1 pod for a whole panic window, so demand wobbling at a boundary doesn't flap;
//   4. make before break (holdUntilReady): ready pods stay while their replacements start.
// E.g. 3 pods, demand node1 = 1, node3 = 5: quotas 0.5 and 2.5 → floors 0 and 2, the remainder
// goes to the larger fraction (a tie of .5/.5 → node1): node1 1, node3 2.

export type Rtt = (from: string, to: string) => number | undefined;

/** Overflow targets whose RTT is within this of the nearest count as equally near. */
const RTT_TIE = { ms: 2, fraction: 0.1 } as const;

export interface PlacementInput {
  /** Total pods the autoscaler wants. */
  desired: number;
  /** Every known node; the result lists each (zeros included). */
  nodes: readonly string[];
  /** Demand entering at each node (any non-negative weight, e.g. mean concurrency). */
  demand: ReadonlyMap<string, number>;
  capPerNode: number;
  rtt: Rtt;
  /** How long a move between nodes must stay wanted before it happens (the panic window). */
  holdMs: number;
}

export interface PlacementState {
  /** Pods per node, every input node listed. */
  counts: Map<string, number>;
  /** Since when each node's ideal count has differed from `counts`, and in which direction. */
  diverged: Map<string, { since: number; sign: 1 | -1 }>;
}

/** The next placement; `prev` is the state this returned last time (undefined at first). */
export function place(input: PlacementInput, prev: PlacementState | undefined, now: number): PlacementState {
  const nodes = [...input.nodes].sort();
  const ideal = idealPlacement(input, nodes, prev?.counts);
  const counts = new Map(nodes.map((n) => [n, prev?.counts.get(n) ?? 0]));
  const gap = (n: string): number => ideal.get(n)! - counts.get(n)!;

  // A change of the total applies at once, on the nodes that want it most.
  let delta = sum(ideal) - sum(counts);
  for (; delta > 0; delta--) bump(counts, pickBy(nodes, gap), 1);
  for (; delta < 0; delta++) bump(counts, pickBy(nodes, (n) => -gap(n)), -1);

  // Moves wait for the hold; a node back on its ideal (or flipped direction) restarts its clock.
  const diverged = new Map<string, { since: number; sign: 1 | -1 }>();
  for (const n of nodes) {
    const g = gap(n);
    if (g === 0) continue;
    const sign = g > 0 ? 1 : -1;
    const old = prev?.diverged.get(n);
    diverged.set(n, old && old.sign === sign ? old : { since: now, sign });
  }
  const ripe = (n: string): boolean => now - (diverged.get(n)?.since ?? now) >= input.holdMs;
  for (;;) {
    const to = pickBy(nodes, (n) => (ripe(n) ? gap(n) : 0));
    const from = pickBy(nodes, (n) => (ripe(n) ? -gap(n) : 0));
    if (to === undefined || from === undefined) break;
    bump(counts, to, 1);
    bump(counts, from, -1);
    for (const n of [to, from]) if (gap(n) === 0) diverged.delete(n);
  }
  return { counts, diverged };
}

/**
 * Make before break: while any node has pods placed that are not ready yet (a move or a scale-up
 * in progress), no node goes below the ready pods it has now. E.g. moving the only pod from node3
 * to node1 first writes node1 1, node3 1; node3 drops to 0 once node1's pod is ready, so requests
 * never find the revision without a ready pod mid-move. Pure scale-downs (nothing starting) apply
 * at once. The cost: a node whose pods never get ready holds the old ones (which are serving).
 */
export function holdUntilReady(
  next: ReadonlyMap<string, number>,
  current: Readonly<Record<string, number>>,
  ready: Readonly<Record<string, number>>,
): Map<string, number> {
  const out = new Map(next);
  const starting = [...out].some(([n, c]) => c > (ready[n] ?? 0));
  if (!starting) return out;
  for (const [n, c] of out) out.set(n, Math.max(c, Math.min(current[n] ?? 0, ready[n] ?? 0)));
  return out;
}

/** Steps 1 and 2: where the pods would go with no history. */
export function idealPlacement(
  input: Omit<PlacementInput, 'holdMs'>,
  nodes: readonly string[],
  previous?: ReadonlyMap<string, number>,
): Map<string, number> {
  const out = new Map(nodes.map((n) => [n, 0]));
  if (nodes.length === 0 || input.desired <= 0) return out;
  // Without demand (min-scale, or the grace before zero) keep pods where they are; with nothing
  // placed yet either, spread evenly.
  let weights = new Map(nodes.map((n) => [n, Math.max(0, input.demand.get(n) ?? 0)]));
  if (sum(weights) === 0 && previous) weights = new Map(nodes.map((n) => [n, previous.get(n) ?? 0]));
  if (sum(weights) === 0) weights = new Map(nodes.map((n) => [n, 1]));
  const total = sum(weights);

  const fractions: Array<{ node: string; frac: number }> = [];
  let given = 0;
  for (const n of nodes) {
    const quota = (input.desired * weights.get(n)!) / total;
    const whole = Math.floor(quota);
    out.set(n, whole);
    given += whole;
    fractions.push({ node: n, frac: quota - whole });
  }
  // Largest remainder; `nodes` is sorted and the sort is stable, so ties go to the lower name.
  fractions.sort((a, b) => b.frac - a.frac);
  for (let i = 0; i < input.desired - given; i++) bump(out, fractions[i]!.node, 1);

  // Cap, then send each node's overflow to the nearest node with room.
  const overflow = new Map<string, number>();
  for (const n of nodes) {
    const extra = out.get(n)! - input.capPerNode;
    if (extra > 0) {
      overflow.set(n, extra);
      out.set(n, input.capPerNode);
    }
  }
  for (const [from, extra] of overflow) {
    for (let i = 0; i < extra; i++) {
      const to = nearestWithRoom(from, nodes, out, input, previous);
      // Every node full: the cluster can't hold more pods of this revision; the total shrinks.
      if (to === undefined) break;
      bump(out, to, 1);
    }
  }
  return out;
}

function nearestWithRoom(
  from: string,
  nodes: readonly string[],
  counts: ReadonlyMap<string, number>,
  input: Pick<PlacementInput, 'capPerNode' | 'rtt'>,
  previous: ReadonlyMap<string, number> | undefined,
): string | undefined {
  // An unknown RTT ranks after every known one.
  const withRoom = nodes
    .filter((n) => n !== from && counts.get(n)! < input.capPerNode)
    .map((n) => ({ n, rtt: input.rtt(from, n) ?? Number.MAX_VALUE }));
  if (withRoom.length === 0) return undefined;
  const least = Math.min(...withRoom.map((c) => c.rtt));
  const near = least === Number.MAX_VALUE ? least : least + Math.max(RTT_TIE.ms, least * RTT_TIE.fraction);
  const equals = withRoom.filter((c) => c.rtt <= near);
  // Among equals: a node that held more of the pods than it has been given so far; else the
  // nearest, then the lower name (`nodes` is sorted).
  const holding = equals.find((c) => (previous?.get(c.n) ?? 0) > counts.get(c.n)!);
  return (holding ?? equals.reduce((a, c) => (c.rtt < a.rtt ? c : a))).n;
}

/** The node with the largest positive score (ties to the first in `nodes`), or undefined. */
function pickBy(nodes: readonly string[], score: (n: string) => number): string | undefined {
  let best: string | undefined;
  let bestScore = 0;
  for (const n of nodes) {
    const s = score(n);
    if (s > bestScore) {
      best = n;
      bestScore = s;
    }
  }
  return best;
}

function bump(m: Map<string, number>, key: string | undefined, by: number): void {
  if (key !== undefined) m.set(key, (m.get(key) ?? 0) + by);
}

function sum(m: ReadonlyMap<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}
