// A bounded FIFO of waiters with O(1) cancellation. Both the owner's per-revision slot queue and the
// cold-start queue use it. A waiter whose client went away is cancelled in place (marked dead and
// skipped when it reaches the head), so leaving costs nothing and it is never granted anything.

export interface Ticket<T> {
  /** False once granted or cancelled. */
  live: boolean;
  grant: (value: T) => void;
}

export class WaitQueue<T> {
  #bound: number;
  #items: Array<Ticket<T> | undefined> = [];
  #head = 0;
  #live = 0;

  constructor(bound: number) {
    this.#bound = bound;
  }

  /** Live waiters (cancelled ones don't count against the bound). */
  get size(): number {
    return this.#live;
  }

  get bound(): number {
    return this.#bound;
  }

  /** A lower bound applies to new arrivals only; nobody already waiting is dropped. */
  set bound(n: number) {
    this.#bound = n;
  }

  /** Adds a waiter, or returns undefined when the queue is at its bound (check before queueing). */
  push(grant: (value: T) => void): Ticket<T> | undefined {
    if (this.#live >= this.#bound) return undefined;
    const ticket: Ticket<T> = { live: true, grant };
    this.#items.push(ticket);
    this.#live++;
    return ticket;
  }

  /** Hands `value` to the oldest live waiter; false when nobody waits. */
  grant(value: T): boolean {
    const t = this.shift();
    if (!t) return false;
    t.grant(value);
    return true;
  }

  /** Removes and returns the oldest live waiter without granting (the caller decides what it gets). */
  shift(): Ticket<T> | undefined {
    while (this.#head < this.#items.length) {
      const t = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (t?.live) {
        t.live = false;
        this.#live--;
        this.#compact();
        return t;
      }
    }
    this.#compact();
    return undefined;
  }

  cancel(ticket: Ticket<T>): void {
    if (!ticket.live) return;
    ticket.live = false;
    this.#live--;
  }

  /** Cancels every waiter and returns them (e.g. to fail them all at shutdown). */
  drainAll(): Array<Ticket<T>> {
    const out: Array<Ticket<T>> = [];
    for (let t = this.shift(); t; t = this.shift()) out.push(t);
    return out;
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
