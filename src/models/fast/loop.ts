/**
 * The fast engine's side of the training loop: the batch step `trainModel` runs on it, and the
 * warm-up that runs that same JavaScript on two tiny nets while the caller reads its data.
 *
 * Why a warm-up: V8 optimizes hot JavaScript on its own compile threads, here the loop, the step,
 * the job hand-off and the workers' waits, a few milliseconds of compiling each, some hundred
 * steps into a loop. With the engine's threads busy on both cores of a 2-core machine, each such
 * job took a core from one of them for a scheduler slice: measured, 17 to 39 steps of 0.3 to 10 ms
 * in an epoch of Fashion-MNIST on two threads, 40 to 100 ms in all against an epoch of about 200
 * ms. Run first on tiny nets, the compiles happen before the loop starts (while the data file
 * is read, when the kit prepares the engine), and the same epoch had 2 to 13 such steps.
 */
import { type BatchLoop, type BatchStep, runBatches } from "../batch-loop.js";
import type { ImageSet } from "../dense.js";
import { fillDropoutMask } from "../dropout.js";
import type { DenseStackSpec } from "../layout.js";
import { createRandom, type Random } from "../random.js";
import { type FastInput, FastNet, type MaskFiller } from "./engine.js";

/** An image set as the engine reads it: uint8 divided by the set's divisor, or float32. */
export function fastInput(set: ImageSet): FastInput {
  return set.pixels instanceof Uint8Array
    ? { pixels: set.pixels, features: set.features, divisor: set.divisor }
    : { pixels: set.pixels, features: set.features };
}

/** The same draws as `dropoutMasks`, written straight into the engine's memory. */
function maskFiller(net: FastNet, dropout: Float64Array, rng: Random): MaskFiller {
  return (l, target) => {
    const rate = dropout[l]!;
    if (!(rate > 0)) return false;
    if (rate === 0.5) net.fillHalfMask(target, rng.nextUint32);
    else fillDropoutMask(target, rate, rng);
    return true;
  };
}

/** One SGD step of `net` on a batch of `set`, with `spec`'s dropout drawn from `rng`. */
export function fastBatchStep(
  net: FastNet,
  set: ImageSet,
  spec: DenseStackSpec,
  rng: Random,
  lr: number,
): BatchStep {
  const input = fastInput(set);
  // A typed array whatever array the spec holds (frozen, integers, doubles), so that the
  // filler's element loads stay of one kind in V8's optimized code (see warmTrainingLoop).
  const fill = maskFiller(net, Float64Array.from(spec.dropout), rng);
  const labels = set.labels;
  return (start, end, wantLoss, order) =>
    net.step(input, labels, start, end, fill, lr, wantLoss, order);
}

/**
 * The warm-up nets: steps, and data whose objects differ from each other wherever real callers'
 * may differ (a divisor held as an integer or as a double), so that V8 has generalized those fields before it compiles: with one kind
 * only, the first real net changed them and V8 threw the optimized code away, to compile it
 * again some hundred steps into the real loop. The first net changes the fields; the second's
 * steps then get the loop optimized (V8 optimized the step after 1,500 to 2,500 calls).
 */
const WARM_NETS: readonly { spec: DenseStackSpec; steps: number; divisor: number }[] = [
  // A divisor that is no integer: V8 holds the field as a double from here on, as it must for
  // a divisor `imageSet` computed (1 / scale).
  { spec: { sizes: [12, 8, 6, 3], dropout: [0.5, 0, 0] }, steps: 300, divisor: 255.5 },
  { spec: { sizes: [8, 8, 4], dropout: [0.5, 0] }, steps: 3000, divisor: 255 },
];

/**
 * Trains the WARM_NETS through `runBatches` and `fastBatchStep` as `trainModel` does, on
 * `threads` threads (the thread chooser alternates one and all of them, so both paths and the
 * workers' code get optimized).
 */
export function warmTrainingLoop(threads: number): void {
  WARM_NETS.forEach(({ spec, steps, divisor }, i) => {
    const rng = createRandom(i + 1);
    const features = spec.sizes[0]!;
    const classes = spec.sizes.at(-1)!;
    const batchSize = 2;
    const count = steps * batchSize;
    const weights = spec.sizes.slice(1).map((outputs, l) => {
      const inputs = spec.sizes[l]!;
      const kernel = new Float32Array(inputs * outputs);
      for (let k = 0; k < kernel.length; k++) kernel[k] = rng.next() - 0.5;
      return { inputs, outputs, kernel, bias: new Float32Array(outputs) };
    });
    const pixels = new Uint8Array(count * features);
    for (let k = 0; k < pixels.length; k++) pixels[k] = rng.nextUint32() & 255;
    const labels = new Int32Array(count);
    for (let k = 0; k < count; k++) labels[k] = rng.nextUint32() % classes;
    const set: ImageSet = { count, features, pixels, divisor, labels };
    const net = new FastNet(spec, weights, batchSize, threads);
    // The fields trainModel's loop has, in its order: objects of one shape to V8.
    const loop: BatchLoop = {
      count,
      batchSize,
      epochs: 1,
      logEvery: 100,
      shuffleRng: undefined,
      onBatch: undefined,
    };
    runBatches(loop, fastBatchStep(net, set, spec, rng, 0.01));
  });
}
