/**
 * A seeded source of choices for fuzz tests: the same seed gives the same inputs, so a
 * failure is repeated with FUZZ_SEED=<the printed seed>. mulberry32, a small 32-bit PRNG.
 */
export interface Fuzz {
  seed: number;
  /** A float in [0, 1). */
  rand: () => number;
  /** A whole number in [0, n). */
  int: (n: number) => number;
  pick: <T>(xs: readonly T[]) => T;
  chance: (p: number) => boolean;
  /** `n` characters of a-z0-9. */
  word: (n?: number) => string;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed is FUZZ_SEED or 20261127; it is printed with `name` so a failing run can be repeated. */
export function createFuzz(name: string): Fuzz {
  const seed = (process.env.FUZZ_SEED === undefined ? 20261127 : Number(process.env.FUZZ_SEED)) >>> 0;
  console.log(`${name}: seed ${seed} (repeat with FUZZ_SEED=${seed})`);
  const rand = mulberry32(seed);
  const int = (n: number) => Math.floor(rand() * n);
  return {
    seed,
    rand,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    chance: (p) => rand() < p,
    word: (n = 6) => Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[int(36)]).join(''),
  };
}
