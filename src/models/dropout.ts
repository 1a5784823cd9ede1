/**
 * Dropout masks, drawn in JS from the seedable PRNG so that one seed fixes them on every backend
 * and engine (TF.js autodiff, the hand-written TF.js step and the fast engine draw the same).
 * No TF.js here: the fast engine's loop uses them too.
 */
import type { DenseStackSpec } from "./layout.js";
import type { Random } from "./random.js";

/**
 * Dropout masks for one batch: for hidden layer `i` with rate p > 0, a `rows × size` array of 0
 * (dropped) and 1/(1−p) (kept, rescaled as PyTorch does); `undefined` for layers without dropout.
 * Drawn in JS from `rng` so a seed fixes them on every backend.
 */
export function dropoutMasks(
  spec: DenseStackSpec,
  rows: number,
  rng: Random,
): (Float32Array | undefined)[] {
  return spec.dropout.map((rate, i) => {
    if (!(rate > 0)) return undefined;
    const mask = new Float32Array(rows * spec.sizes[i + 1]!);
    fillDropoutMask(mask, rate, rng);
    return mask;
  });
}

/** Fills `mask` as `dropoutMasks` does one layer's (the fast engine fills its memory in place). */
export function fillDropoutMask(mask: Float32Array, rate: number, rng: Random): void {
  const keep = 1 / (1 - rate);
  if (rate === 0.5) {
    // Each random bit is a fair coin: 32 mask entries per draw instead of one.
    for (let j = 0; j < mask.length; j += 32) {
      const bits = rng.nextUint32();
      const n = Math.min(32, mask.length - j);
      for (let k = 0; k < n; k++) mask[j + k] = (bits >>> k) & 1 ? keep : 0;
    }
  } else {
    for (let j = 0; j < mask.length; j++) mask[j] = rng.next() < rate ? 0 : keep;
  }
}
