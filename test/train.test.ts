import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { ImageSet } from "../src/models/dense.js";
import {
  createDenseModel,
  dropoutMasks,
  initDenseWeights,
  readDenseWeights,
} from "../src/models/dense-model.js";
import {
  evaluateModel,
  predictClasses,
  predictLogProbs,
  stepAutodiff,
  stepBackprop,
  type TrainBatch,
  type TrainProgress,
  trainModel,
} from "../src/models/dense-train.js";
import { type DenseStackSpec, MNIST_SPEC } from "../src/models/layout.js";
import { createRandom } from "../src/models/random.js";
import { selectBackend } from "../src/node/backend.js";
import { maxAbsDiff } from "./fixtures/weights.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
});

/** Random uint8 "images" with labels that depend on them, so there is something to learn. */
function syntheticSet(count: number, seed: number): ImageSet {
  const rng = createRandom(seed);
  const pixels = new Uint8Array(count * 784);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const label = Math.floor(rng.next() * 10);
    labels[n] = label;
    for (let f = 0; f < 784; f++) {
      const hot = Math.floor(f / 78.4) === label;
      pixels[n * 784 + f] = Math.floor(rng.next() * (hot ? 256 : 64));
    }
  }
  return { count, features: 784, pixels, divisor: 255, labels };
}

function batchOf(set: ImageSet, start: number, rows: number): TrainBatch {
  const x = Float32Array.from(set.pixels.subarray(start * 784, (start + rows) * 784));
  return { rows, x, divisor: 255, labels: set.labels.slice(start, start + rows) };
}

describe("stepBackprop agrees with autodiff", () => {
  const set = syntheticSet(64, 1);
  it.each([
    { name: "MNIST stack, full batch, dropout", spec: MNIST_SPEC, rows: 32 },
    { name: "MNIST stack, partial batch of 7", spec: MNIST_SPEC, rows: 7 },
    {
      name: "a deeper stack with dropout on two layers",
      spec: { sizes: [784, 48, 40, 24, 10], dropout: [0.3, 0, 0.5] } as DenseStackSpec,
      rows: 16,
    },
  ])("$name: one step from the same weights, batch and mask within 1e-6", ({ spec, rows }) => {
    const start = initDenseWeights(spec, createRandom(2));
    const batch = batchOf(set, 3, rows);
    const masks = dropoutMasks(spec, rows, createRandom(4));
    const a = createDenseModel(start, spec);
    const b = createDenseModel(start, spec);
    const lossA = stepBackprop(a, batch, masks, 0.5, true)!;
    const lossB = stepAutodiff(b, batch, masks, 0.5, true)!;
    const wa = readDenseWeights(a);
    const wb = readDenseWeights(b);
    a.dispose();
    b.dispose();
    expect(maxAbsDiff(wa, start)).toBeGreaterThan(1e-3); // the step did move the weights
    expect(maxAbsDiff(wa, wb)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(lossA - lossB)).toBeLessThanOrEqual(1e-6);
  });
});

describe("trainModel", () => {
  const set = syntheticSet(70, 5);

  it("runs ceil(n / batch) steps in order, the last one partial, and reports progress", () => {
    const model = createDenseModel(initDenseWeights(MNIST_SPEC, createRandom(1)));
    const seen: TrainProgress[] = [];
    const result = trainModel(model, set, {
      batchSize: 32,
      epochs: 2,
      seed: 1,
      logEvery: 2,
      onBatch: (p) => seen.push(p),
    });
    model.dispose();
    expect(result.numExamples).toBe(70);
    expect(result.steps).toBe(6);
    expect(seen.map((p) => [p.epoch, p.batch, p.batches, p.samples])).toEqual([
      [0, 0, 3, 32],
      [0, 1, 3, 64],
      [0, 2, 3, 70],
      [1, 0, 3, 32],
      [1, 1, 3, 64],
      [1, 2, 3, 70],
    ]);
    // Loss on batches 0, logEvery, … and the last batch of each epoch only.
    expect(seen.map((p) => p.loss !== undefined)).toEqual([true, false, true, true, false, true]);
    expect(result.lastLoss).toBe(seen[5]!.loss);
  });

  it("keeps the tensor count flat across steps (no leaks)", () => {
    const model = createDenseModel(initDenseWeights(MNIST_SPEC, createRandom(1)));
    const before = tf.memory().numTensors;
    for (const method of ["backprop", "autodiff"] as const) {
      const counts: number[] = [];
      trainModel(model, set, {
        batchSize: 8,
        epochs: 2,
        seed: 1,
        method,
        logEvery: 3,
        onBatch: () => counts.push(tf.memory().numTensors),
      });
      expect(counts).toHaveLength(18);
      // One count for every step (the fast step holds one extra variable while it trains).
      expect(new Set(counts).size).toBe(1);
      expect(tf.memory().numTensors).toBe(before);
    }
    model.dispose();
  });

  it("is deterministic for a seed (dropout and shuffle), and the seed matters", () => {
    const run = (seed: number, shuffle: boolean) => {
      const model = createDenseModel(initDenseWeights(MNIST_SPEC, createRandom(1)));
      trainModel(model, set, { batchSize: 16, epochs: 2, seed, shuffle, lr: 0.1 });
      const weights = readDenseWeights(model);
      model.dispose();
      return weights;
    };
    const a = run(5, false);
    expect(maxAbsDiff(a, run(5, false))).toBe(0);
    expect(maxAbsDiff(a, run(6, false))).toBeGreaterThan(1e-4);
    const s = run(5, true);
    expect(maxAbsDiff(s, run(5, true))).toBe(0);
    expect(maxAbsDiff(s, a)).toBeGreaterThan(1e-4);
  });

  it("learns: loss falls and accuracy rises on a learnable set", () => {
    const big = syntheticSet(2000, 8);
    const model = createDenseModel(initDenseWeights(MNIST_SPEC, createRandom(3)));
    const before = evaluateModel(model, big);
    trainModel(model, big, { epochs: 3, seed: 3, lr: 0.05 });
    const after = evaluateModel(model, big);
    model.dispose();
    expect(after.loss).toBeLessThan(before.loss / 2);
    expect(after.accuracy).toBeGreaterThan(0.9);
  });
});

describe("evaluateModel / predictLogProbs / predictClasses", () => {
  const set = syntheticSet(50, 9);
  const weights = initDenseWeights(MNIST_SPEC, createRandom(10));

  it("agree with each other and do not depend on the chunk size", () => {
    const model = createDenseModel(weights);
    const logp = predictLogProbs(model, set);
    const small = predictLogProbs(model, set, { chunkSize: 7 });
    for (let i = 0; i < logp.length; i++) expect(Math.abs(logp[i]! - small[i]!)).toBeLessThan(1e-6);
    let loss = 0;
    let correct = 0;
    const classes = predictClasses(model, set, { chunkSize: 16 });
    for (let r = 0; r < set.count; r++) {
      const row = Array.from(logp.subarray(r * 10, r * 10 + 10));
      const best = row.indexOf(Math.max(...row));
      expect(classes[r]).toBe(best);
      loss -= row[set.labels[r]!]!;
      if (best === set.labels[r]) correct++;
    }
    const metrics = evaluateModel(model, set, { chunkSize: 13 });
    expect(metrics.loss).toBeCloseTo(loss / set.count, 6);
    expect(metrics.accuracy).toBe(correct / set.count);
    model.dispose();
  });

  it("give the same answer for uint8 pixels and for float32 pixels already divided by 255", () => {
    const floats: ImageSet = { ...set, pixels: Float32Array.from(set.pixels, (v) => v / 255) };
    const model = createDenseModel(weights);
    expect(predictLogProbs(model, floats)).toEqual(predictLogProbs(model, set));
    model.dispose();
  });
});
