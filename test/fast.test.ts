import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import type { ImageSet } from "../src/models/dense.js";
import {
  createDenseModel,
  dropoutMasks,
  initDenseWeights,
  readDenseWeights,
} from "../src/models/dense-model.js";
import {
  evaluateModel,
  predictLogProbs,
  stepAutodiff,
  type TrainBatch,
  trainModel,
} from "../src/models/dense-train.js";
import { resolveEngine } from "../src/models/fast/dense.js";
import {
  closeFastEngine,
  FastNet,
  fastWorkersReady,
  warmFastEngine,
} from "../src/models/fast/engine.js";
import { warmTrainingLoop } from "../src/models/fast/loop.js";
import { type DenseStackSpec, MNIST_SPEC } from "../src/models/layout.js";
import { createRandom } from "../src/models/random.js";
import { selectBackend } from "../src/node/backend.js";
import { maxAbsDiff } from "./fixtures/weights.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
  // Until the workers are up, jobs run on one thread: the 2- and 3-thread cases would not be.
  await fastWorkersReady(3);
});
afterAll(async () => {
  await closeFastEngine();
});

/** Random uint8 rows whose labels depend on them, `features` wide. */
function syntheticSet(count: number, seed: number, features = 784, classes = 10): ImageSet {
  const rng = createRandom(seed);
  const pixels = new Uint8Array(count * features);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = Math.floor(rng.next() * classes);
    labels[n] = label;
    for (let f = 0; f < features; f++) {
      const hot = Math.floor((f * classes) / features) === label;
      pixels[n * features + f] = Math.floor(rng.next() * (hot ? 256 : 64));
    }
  }
  return { count, features, pixels, divisor: 255, labels };
}

const fast = (threads: number) => ({ engine: "fast" as const, threads });
const tfjs = { engine: "tfjs" as const, threads: 1 };

describe("the fast engine against TF.js autodiff (the oracle)", () => {
  it.each([
    { name: "MNIST stack, batch 32, dropout 0.5", spec: MNIST_SPEC, rows: 32, threads: 2 },
    { name: "MNIST stack, partial batch of 7", spec: MNIST_SPEC, rows: 7, threads: 2 },
    {
      name: "odd widths (13 → 9 → 6 → 3), dropout 0.3, 1 thread",
      spec: { sizes: [13, 9, 6, 3], dropout: [0.3, 0] } as DenseStackSpec,
      rows: 11,
      threads: 1,
    },
    {
      // The first layer (stored transposed) is also the last: no hidden layer at all.
      name: "a single layer (13 → 3), 2 threads",
      spec: { sizes: [13, 3], dropout: [] } as DenseStackSpec,
      rows: 9,
      threads: 2,
    },
    {
      name: "a deeper stack, dropout on two layers, 3 threads",
      spec: { sizes: [784, 48, 40, 24, 10], dropout: [0.3, 0, 0.5] } as DenseStackSpec,
      rows: 19,
      threads: 3,
    },
  ])("$name: one step within 1e-6", ({ spec, rows, threads }) => {
    const features = spec.sizes[0]!;
    const classes = spec.sizes[spec.sizes.length - 1]!;
    const set = syntheticSet(rows, 1, features, classes);
    const start = initDenseWeights(spec, createRandom(2));
    const masks = dropoutMasks(spec, rows, createRandom(4));
    const net = new FastNet(spec, start, rows, threads);
    net.pinThreads(threads);
    const input = { pixels: set.pixels, features, divisor: 255 };
    const lossFast = net.step(input, set.labels, 0, rows, masks, 0.5, true)!;
    expect(net.lastThreads).toBe(Math.min(threads, rows));
    const model = createDenseModel(start, spec);
    const batch: TrainBatch = {
      rows,
      x: Float32Array.from(set.pixels),
      divisor: 255,
      labels: set.labels,
    };
    const lossTf = stepAutodiff(model, batch, masks, 0.5, true)!;
    const diff = maxAbsDiff(net.getWeights(), readDenseWeights(model));
    model.dispose();
    expect(diff).toBeLessThan(1e-6);
    // The step moved the weights (a no-op step would also "agree").
    expect(maxAbsDiff(net.getWeights(), start)).toBeGreaterThan(1e-3);
    expect(Math.abs(lossFast - lossTf)).toBeLessThan(1e-5);
  });

  it("one epoch (batch 32 not dividing 200 rows, dropout, shuffled) ends within float tolerance of TF.js", () => {
    const spec = MNIST_SPEC;
    const set = syntheticSet(200, 5);
    const start = initDenseWeights(spec, createRandom(6));
    const options = { batchSize: 32, epochs: 1, lr: 0.05, seed: 9, shuffle: true };
    const a = createDenseModel(start, spec);
    const b = createDenseModel(start, spec);
    const ra = trainModel(a, set, { ...options, engine: fast(2) });
    const rb = trainModel(b, set, { ...options, engine: tfjs });
    expect(ra.steps).toBe(7);
    const diff = maxAbsDiff(readDenseWeights(a), readDenseWeights(b));
    expect(maxAbsDiff(readDenseWeights(a), start)).toBeGreaterThan(1e-2);
    expect(diff).toBeLessThan(1e-5);
    expect(Math.abs(ra.lastLoss! - rb.lastLoss!)).toBeLessThan(1e-4);
    a.dispose();
    b.dispose();
  });

  it("the same seed gives the same weights, whatever the thread count; another seed differs", () => {
    const spec = { sizes: [784, 30, 17, 10], dropout: [0.5, 0.25] } as DenseStackSpec;
    const set = syntheticSet(150, 7);
    const start = initDenseWeights(spec, createRandom(8));
    const train = (seed: number, threads: number) => {
      const model = createDenseModel(start, spec);
      trainModel(model, set, { batchSize: 20, lr: 0.1, seed, engine: fast(threads) });
      const w = readDenseWeights(model);
      model.dispose();
      return w;
    };
    const one = train(3, 1);
    expect(maxAbsDiff(train(3, 2), one)).toBe(0);
    expect(maxAbsDiff(train(3, 1), one)).toBe(0);
    expect(maxAbsDiff(train(4, 1), one)).toBeGreaterThan(1e-4);
  });

  it("steps on 2 and 3 threads, with any split of the first layer, give one thread's weights bit for bit", async () => {
    await fastWorkersReady(3);
    const spec = { sizes: [784, 30, 17, 10], dropout: [0.5, 0.25] } as DenseStackSpec;
    const rows = 20;
    const set = syntheticSet(rows * 6, 11);
    const start = initDenseWeights(spec, createRandom(12));
    const input = { pixels: set.pixels, features: 784, divisor: 255 };
    const train = (threads: number, shares?: number[]) => {
      const net = new FastNet(spec, start, rows, threads);
      net.pinThreads(threads);
      if (shares !== undefined) net.splitFirstLayer(shares);
      const rng = createRandom(13);
      for (let b = 0; b < 6; b++) {
        const masks = dropoutMasks(spec, rows, rng);
        net.step(input, set.labels, b * rows, (b + 1) * rows, masks, 0.1, false);
        expect(net.lastThreads).toBe(threads);
      }
      return net.getWeights();
    };
    const one = train(1);
    expect(maxAbsDiff(one, start)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(train(2), one)).toBe(0);
    expect(maxAbsDiff(train(2, [26, 4]), one)).toBe(0);
    expect(maxAbsDiff(train(3, [4, 2, 24]), one)).toBe(0);
    expect(() => new FastNet(spec, start, rows, 2).splitFirstLayer([10, 10])).toThrow(
      /summing to 30/,
    );
    expect(() => new FastNet(spec, start, rows, 2).splitFirstLayer([40, -10])).toThrow(
      /whole shares ≥ 0 .*found \[40, -10\]/,
    );
  });

  it("validation and prediction match TF.js's forward pass, in chunks on several threads", () => {
    const spec = MNIST_SPEC;
    const set = syntheticSet(301, 11);
    const model = createDenseModel(initDenseWeights(spec, createRandom(12)), spec);
    const a = predictLogProbs(model, set, { chunkSize: 64, engine: fast(2) });
    const b = predictLogProbs(model, set, { chunkSize: 64, engine: tfjs });
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
    expect(max).toBeLessThan(1e-5);
    const ea = evaluateModel(model, set, { chunkSize: 100, engine: fast(2) });
    const eb = evaluateModel(model, set, { engine: tfjs });
    expect(Math.abs(ea.loss - eb.loss)).toBeLessThan(1e-5);
    expect(ea.accuracy).toBe(eb.accuracy);
    model.dispose();
  });

  it("float32 inputs (already scaled) train like uint8 ones divided by 255", () => {
    const spec = MNIST_SPEC;
    const set = syntheticSet(64, 13);
    const scaled: ImageSet = { ...set, pixels: Float32Array.from(set.pixels, (v) => v / 255) };
    const start = initDenseWeights(spec, createRandom(14));
    const a = createDenseModel(start, spec);
    const b = createDenseModel(start, spec);
    trainModel(a, set, { seed: 1, engine: fast(1) });
    trainModel(b, scaled, { seed: 1, engine: fast(1) });
    expect(maxAbsDiff(readDenseWeights(a), readDenseWeights(b))).toBe(0);
    a.dispose();
    b.dispose();
  });
});

describe("the fast engine's own layout and start", () => {
  it.each([[[13, 9, 6, 3]], [[784, 64, 32, 10]], [[5, 2]]])(
    "keeps weights %j exactly through its transposed, padded first layer",
    (sizes) => {
      const spec: DenseStackSpec = { sizes, dropout: sizes.slice(2).map(() => 0) };
      const weights = initDenseWeights(spec, createRandom(21));
      const net = new FastNet(spec, weights, 8, 1);
      expect(maxAbsDiff(net.getWeights(), weights)).toBe(0);
      // And again after a second net has used (and dirtied) the same memory.
      const other = new FastNet(spec, initDenseWeights(spec, createRandom(22)), 8, 1);
      other.setWeights(weights);
      expect(maxAbsDiff(other.getWeights(), weights)).toBe(0);
    },
  );

  it("warms up once (one promise), and training after it matches training without it bit for bit", async () => {
    const spec = MNIST_SPEC;
    const set = syntheticSet(96, 23);
    const start = initDenseWeights(spec, createRandom(24));
    const train = () => {
      const model = createDenseModel(start, spec);
      trainModel(model, set, { batchSize: 32, lr: 0.1, seed: 5, engine: fast(2) });
      const w = readDenseWeights(model);
      model.dispose();
      return w;
    };
    const before = train();
    await closeFastEngine();
    // With the loop's JavaScript exercised too, as prepareEngine does: two other nets trained
    // on the engine first change nothing in the next one's result.
    let exercised = 0;
    const warming = warmFastEngine(2, (threads) => {
      exercised++;
      warmTrainingLoop(threads);
    });
    expect(warmFastEngine(2)).toBe(warming);
    await warming;
    expect(exercised).toBe(1);
    expect(maxAbsDiff(train(), before)).toBe(0);
  });
});

describe("resolveEngine", () => {
  it("defaults to the fast engine on every core, and reads the environment", () => {
    expect(resolveEngine({}).engine).toBe("fast");
    expect(resolveEngine({}, { FEDN_TFJS_ENGINE: "tfjs", FEDN_TFJS_THREADS: "3" })).toEqual({
      engine: "tfjs",
      threads: 3,
    });
    expect(resolveEngine({ engine: "fast", threads: 2 }, { FEDN_TFJS_ENGINE: "tfjs" })).toEqual({
      engine: "fast",
      threads: 2,
    });
  });

  it("refuses what it does not know, naming the option", () => {
    expect(() => resolveEngine({ engine: "gpu" })).toThrow(UsageError);
    expect(() => resolveEngine({ engine: "gpu" })).toThrow(
      /--engine must be one of auto, fast, tfjs/,
    );
    expect(() => resolveEngine({}, { FEDN_TFJS_ENGINE: "x" })).toThrow(/FEDN_TFJS_ENGINE/);
    expect(() => resolveEngine({}, { FEDN_TFJS_THREADS: "0" })).toThrow(/FEDN_TFJS_THREADS/);
    expect(() => resolveEngine({ threads: 1.5 })).toThrow(/--threads/);
  });
});

// Keeps the tf import used for backends that need it in this file's scope.
void tf;
