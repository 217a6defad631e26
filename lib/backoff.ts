// Capped exponential backoff for reconnecting to the Kubernetes API or the controller.
// DESIGN.md §2 "Static stability": start at 0.5 s, cap at 5 s, so a returning API is seen within 10 s.

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
}

export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  #next: number;

  constructor({ initialMs = 500, maxMs = 5000, factor = 2 }: BackoffOptions = {}) {
    this.#initial = initialMs;
    this.#max = maxMs;
    this.#factor = factor;
    this.#next = initialMs;
  }

  /** The delay before the next attempt; each call grows the following one up to the cap. */
  next(): number {
    const d = this.#next;
    this.#next = Math.min(this.#max, this.#next * this.#factor);
    return d;
  }

  /** Call after a success. */
  reset(): void {
    this.#next = this.#initial;
  }
}
