// Randomness as a parameter, so picks and placements replay exactly in tests.

/** Returns a float in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast, and good enough for choosing between backends; not for secrets. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const mathRng: Rng = Math.random;
