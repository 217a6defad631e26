// Time as a parameter: every decision (pick, scale, place) takes a Clock so tests can use a manual one.

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time). */
  now(): number;
}

export const systemClock: Clock = {
  now: () => performance.now(),
};

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start = 0) {
    this.#t = start;
  }
  now(): number {
    return this.#t;
  }
  advance(ms: number): void {
    this.#t += ms;
  }
  set(ms: number): void {
    this.#t = ms;
  }
}
