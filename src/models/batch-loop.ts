/**
 * The epochs-and-batches loop of every training path (TF.js autodiff, the hand-written TF.js
 * step and the fast engine): batches in order or, with `shuffleRng`, in a new seeded order each
 * epoch, the last one partial, the loss asked for every `logEvery` batches and on the last. No
 * TF.js here: the fast engine's warm-up runs this same loop, so that V8 has optimized it before
 * a real one starts (see fast/loop.ts).
 */
import type { TrainProgress } from "../kit/spec.js";
import { permutation, type Random } from "./random.js";

/** The loop's settings, already checked (`checkLoopOptions`). */
export interface BatchLoop {
  /** Samples in the set. */
  readonly count: number;
  readonly batchSize: number;
  readonly epochs: number;
  readonly logEvery: number;
  /** Shuffles each epoch with this generator; in order without. */
  readonly shuffleRng?: Random | undefined;
  readonly onBatch?: ((progress: TrainProgress) => void) | undefined;
}

/**
 * One training step on samples `start..end` (or `order[start..end]`): returns the batch's loss
 * when `wantLoss`, else undefined.
 */
export type BatchStep = (
  start: number,
  end: number,
  wantLoss: boolean,
  order: Int32Array | undefined,
) => number | undefined;

/** Runs `step` over every batch of every epoch; the step count and the last loss computed. */
export function runBatches(
  loop: BatchLoop,
  step: BatchStep,
): { steps: number; lastLoss: number | undefined } {
  const { count, batchSize, epochs, logEvery, shuffleRng, onBatch } = loop;
  const batches = Math.ceil(count / batchSize);
  let lastLoss: number | undefined;
  let steps = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffleRng === undefined ? undefined : permutation(count, shuffleRng);
    for (let b = 0; b < batches; b++) {
      const start = b * batchSize;
      const end = Math.min(start + batchSize, count);
      const loss = step(start, end, b % logEvery === 0 || b === batches - 1, order);
      if (loss !== undefined) lastLoss = loss;
      steps++;
      onBatch?.({ epoch, epochs, batch: b, batches, samples: end, loss });
    }
  }
  return { steps, lastLoss };
}
