import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  createDenseModel,
  dropoutMasks,
  forward,
  initDenseWeights,
  readDenseWeights,
} from "../src/models/dense-model.js";
import { type DenseStackSpec, type DenseWeights, MNIST_SPEC } from "../src/models/layout.js";
import { createRandom, permutation } from "../src/models/random.js";
import { selectBackend } from "../src/node/backend.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
});

/** The forward pass in plain JS doubles, the PyTorch way: relu(x·Wᵀ + b) … log_softmax. */
function referenceForward(
  weights: DenseWeights,
  x: Float32Array,
  rows: number,
  masks: readonly (Float32Array | undefined)[] = [],
): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    let h = Array.from(x.subarray(r * weights[0]!.inputs, (r + 1) * weights[0]!.inputs));
    weights.forEach((w, l) => {
      const next = new Array<number>(w.outputs).fill(0);
      for (let o = 0; o < w.outputs; o++) {
        let z = w.bias[o]!;
        for (let i = 0; i < w.inputs; i++) z += h[i]! * w.kernel[i * w.outputs + o]!;
        next[o] = z;
      }
      if (l < weights.length - 1) {
        const mask = masks[l];
        h = next.map(
          (z, o) => Math.max(0, z) * (mask === undefined ? 1 : mask[r * w.outputs + o]!),
        );
      } else {
        const max = Math.max(...next);
        const lse = max + Math.log(next.reduce((s, z) => s + Math.exp(z - max), 0));
        h = next.map((z) => z - lse);
      }
    });
    out.push(h);
  }
  return out;
}

describe("initDenseWeights", () => {
  it("draws weights and biases from U(-1/sqrt(in), 1/sqrt(in)), like PyTorch's Linear", () => {
    const weights = initDenseWeights(MNIST_SPEC, createRandom(7));
    for (const w of weights) {
      const bound = 1 / Math.sqrt(w.inputs);
      for (const values of [w.kernel, w.bias]) {
        let min = Infinity;
        let max = -Infinity;
        let sum = 0;
        for (const v of values) {
          min = Math.min(min, v);
          max = Math.max(max, v);
          sum += v;
        }
        expect(min).toBeGreaterThanOrEqual(-bound);
        expect(max).toBeLessThanOrEqual(bound);
        if (values.length >= 1000) {
          // Uniform: the extremes come close to the bound and the mean close to 0.
          expect(max).toBeGreaterThan(0.99 * bound);
          expect(min).toBeLessThan(-0.99 * bound);
          expect(Math.abs(sum / values.length)).toBeLessThan(0.05 * bound);
        }
      }
    }
  });

  it("is reproducible from a seed and differs between seeds", () => {
    const a = initDenseWeights(MNIST_SPEC, createRandom(1));
    const b = initDenseWeights(MNIST_SPEC, createRandom(1));
    const c = initDenseWeights(MNIST_SPEC, createRandom(2));
    expect(a[1]!.kernel).toEqual(b[1]!.kernel);
    expect(a[2]!.bias).toEqual(b[2]!.bias);
    expect(a[2]!.bias).not.toEqual(c[2]!.bias);
  });
});

describe("dropoutMasks", () => {
  it("drops about half of the first hidden layer, rescales the rest by 2, and is seeded", () => {
    const masks = dropoutMasks(MNIST_SPEC, 100, createRandom(3));
    expect(masks[1]).toBeUndefined();
    const mask = masks[0]!;
    expect(mask.length).toBe(100 * 64);
    const kept = mask.filter((v) => v === 2).length;
    expect(mask.every((v) => v === 0 || v === 2)).toBe(true);
    expect(kept / mask.length).toBeGreaterThan(0.45);
    expect(kept / mask.length).toBeLessThan(0.55);
    expect(dropoutMasks(MNIST_SPEC, 100, createRandom(3))[0]).toEqual(mask);
  });
});

describe("permutation", () => {
  it("is a seeded permutation", () => {
    const p = permutation(50, createRandom(9));
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    expect(permutation(50, createRandom(9))).toEqual(p);
  });
});

describe("forward", () => {
  const spec: DenseStackSpec = MNIST_SPEC;
  const weights = initDenseWeights(spec, createRandom(11));
  const rng = createRandom(12);
  const rows = 5;
  const x = Float32Array.from({ length: rows * 784 }, () => rng.next());

  it("matches a plain-JS reference, with and without dropout masks", () => {
    const model = createDenseModel(weights, spec);
    const masks = dropoutMasks(spec, rows, createRandom(13));
    for (const m of [undefined, masks]) {
      const got = tf.tidy(() => {
        const maskT = m?.map((v, i) =>
          v === undefined ? undefined : tf.tensor2d(v, [rows, spec.sizes[i + 1]!]),
        );
        return forward(model, tf.tensor2d(x, [rows, 784]), maskT).arraySync();
      });
      const want = referenceForward(weights, x, rows, m);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < 10; c++)
          expect(Math.abs(got[r]![c]! - want[r]![c]!)).toBeLessThan(1e-5);
        expect(got[r]!.reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 5);
      }
    }
    model.dispose();
  });

  it("reads back the weights it was given, and dispose frees every tensor", () => {
    const before = tf.memory().numTensors;
    const model = createDenseModel(weights, spec);
    expect(tf.memory().numTensors).toBe(before + 6);
    const back = readDenseWeights(model);
    back.forEach((w, l) => {
      expect(w.kernel).toEqual(weights[l]!.kernel);
      expect(w.bias).toEqual(weights[l]!.bias);
    });
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
