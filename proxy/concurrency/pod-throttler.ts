// The owner side of a revision: at most `containerConcurrency` requests in flight per local pod
// (what Knative's queue-proxy breaker does inside each pod, done here once per node), the excess in
// one bounded FIFO per revision. Like Knative's breaker, acquiring hands back a release function;
// a full queue is a sentinel the caller maps to `503 queue_full`.

import { WaitQueue, type Ticket } from './wait-queue.ts';

export interface PodSlot {
  readonly key: string;
  /** Requests in flight to this pod through this proxy (ingress and peer hops alike). */
  inflight: number;
  /** Eligible for new requests (ready and not terminating). */
  eligible: boolean;
}

export interface Lease {
  readonly pod: PodSlot;
  /** Frees the slot and hands it to the oldest waiter; safe to call twice. */
  release(): void;
}

export class PodThrottler {
  /** 0 = unlimited (Knative's containerConcurrency semantics). */
  cc: number;
  readonly queue: WaitQueue<Lease>;
  #pods = new Map<string, PodSlot>();
  #eligible: PodSlot[] = [];
  #inflight = 0;

  constructor(opts: { cc: number; maxQueued: number }) {
    this.cc = opts.cc;
    this.queue = new WaitQueue(opts.maxQueued);
  }

  get queued(): number {
    return this.queue.size;
  }

  /** Leases not yet released, over every pod (departed ones included). */
  get inflight(): number {
    return this.#inflight;
  }

  pod(key: string): PodSlot | undefined {
    return this.#pods.get(key);
  }

  /**
   * Replaces the set of local pods. Counts survive for pods that stay; a pod that left keeps its
   * in-flight requests until they release (draining) but gets nothing new.
   */
  setPods(pods: ReadonlyArray<{ key: string; eligible: boolean }>): void {
    const next = new Map<string, PodSlot>();
    for (const p of pods) {
      const slot = this.#pods.get(p.key) ?? { key: p.key, inflight: 0, eligible: false };
      slot.eligible = p.eligible;
      next.set(p.key, slot);
    }
    for (const [key, slot] of this.#pods) {
      if (next.has(key)) continue;
      slot.eligible = false;
      // Still draining: keep the slot, so a pod listed again (an endpoint moving between two
      // EndpointSlices reaches the merged view as a removal, then an add) resumes with its true
      // in-flight count instead of a fresh 0 that would let cc be exceeded.
      if (slot.inflight > 0) next.set(key, slot);
    }
    this.#pods = next;
    this.#eligible = [...next.values()].filter((s) => s.eligible);
    this.#grantWaiting();
  }

  get hasEligible(): boolean {
    return this.#eligible.length > 0;
  }

  /** A slot now, preferring `prefer` (the pod the balancer chose); undefined when all are full. */
  tryAcquire(prefer?: string): Lease | undefined {
    const preferred = prefer === undefined ? undefined : this.#pods.get(prefer);
    if (preferred && preferred.eligible && this.#hasRoom(preferred)) return this.#take(preferred);
    let best: PodSlot | undefined;
    for (const s of this.#eligible) {
      if (this.#hasRoom(s) && (best === undefined || s.inflight < best.inflight)) best = s;
    }
    return best && this.#take(best);
  }

  /** Queues for the next free slot on any local pod; undefined when the queue is at its bound. */
  enqueue(grant: (lease: Lease) => void): Ticket<Lease> | undefined {
    return this.queue.push(grant);
  }

  cancel(ticket: Ticket<Lease>): void {
    this.queue.cancel(ticket);
  }

  #hasRoom(s: PodSlot): boolean {
    return this.cc === 0 || s.inflight < this.cc;
  }

  #take(s: PodSlot): Lease {
    s.inflight++;
    this.#inflight++;
    return new SlotLease(s, this.#free);
  }

  /** One function per throttler that every lease calls back, rather than a closure per request. */
  readonly #free = (s: PodSlot): void => {
    s.inflight--;
    this.#inflight--;
    if (s.eligible && this.queue.size > 0) this.#grantWaiting();
  };

  /** Hands free slots to waiters in FIFO order until either runs out. */
  #grantWaiting(): void {
    while (this.queue.size > 0) {
      const lease = this.tryAcquire();
      if (!lease) return;
      if (!this.queue.grant(lease)) {
        lease.release();
        return;
      }
    }
  }
}

class SlotLease implements Lease {
  readonly pod: PodSlot;
  #free: ((s: PodSlot) => void) | undefined;

  constructor(pod: PodSlot, free: (s: PodSlot) => void) {
    this.pod = pod;
    this.#free = free;
  }

  release(): void {
    const free = this.#free;
    if (free === undefined) return;
    this.#free = undefined;
    free(this.pod);
  }
}
