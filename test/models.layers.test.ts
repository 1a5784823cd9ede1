import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { isFednTfjsError, ShapeError, UsageError } from "../src/errors.js";
import type { Dataset } from "../src/kit/spec.js";
import { kerasAdam } from "../src/models/keras-adam.js";
import { kerasWeightNames, layersModel, layersToWire, wireToLayers } from "../src/models/layers.js";
import { createRandom } from "../src/models/random.js";
import { selectBackend } from "../src/node/backend.js";

beforeAll(async () => {
  await selectBackend({ backend: "wasm" });
});

/** Rows of uint8 values whose label is the block of features that runs hot. */
function synthetic(count: number, features: number, classes: number, seed: number): Dataset {
  const rng = createRandom(seed);
  const x = new Uint8Array(count * features);
  const y = new Int32Array(count);
  const block = features / classes;
  for (let n = 0; n < count; n++) {
    const label = Math.floor(rng.next() * classes);
    y[n] = label;
    for (let f = 0; f < features; f++) {
      const hot = Math.floor(f / block) === label;
      x[n * features + f] = Math.floor(rng.next() * (hot ? 256 : 96));
    }
  }
  return { x, y, scale: 1 / 255, features, inputShape: [features], classes, count };
}

const kind = layersModel<typeof tf, tf.LayersModel>({
  build: (t, seed) =>
    t.sequential({
      layers: [
        t.layers.dense({
          inputShape: [12],
          units: 8,
          activation: "relu",
          kernelInitializer: t.initializers.glorotUniform({ seed }),
        }),
        t.layers.dropout({ rate: 0.25 }),
        t.layers.dense({
          units: 3,
          activation: "softmax",
          kernelInitializer: t.initializers.glorotUniform({ seed: seed + 1 }),
        }),
      ],
    }),
  optimizer: (t, lr) => t.train.adam(lr),
  loss: "categoricalCrossentropy",
  metrics: ["accuracy"],
});

describe("the wire list (Keras get_weights layout)", () => {
  it("lists kernels (in, out) then biases, layer by layer, and a seed fixes it", async () => {
    const a = await kind.init(tf, 5);
    const b = await kind.init(tf, 5);
    expect(a.map((w) => w.shape)).toEqual([[12, 8], [8], [8, 3], [3]]);
    expect(a.every((w) => w.dtype === "float32")).toBe(true);
    expect(b).toEqual(a);
    expect((await kind.init(tf, 6))[0]!.data).not.toEqual(a[0]!.data);
  });

  it("round-trips through a model and back", async () => {
    const wire = await kind.init(tf, 1);
    const handle = await kind.load(tf, wire, "seed.npz");
    expect(kind.save(tf, handle)).toEqual(wire);
    kind.dispose(handle);
  });

  it("puts each layer's non-trainable weights after its trainable ones, as Keras does", () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 3 }),
        tf.layers.batchNormalization(),
        tf.layers.dense({ units: 2 }),
      ],
    });
    const names = kerasWeightNames(model).map((name) => name.split("/").pop());
    expect(names).toEqual([
      "kernel",
      "bias",
      "gamma",
      "beta",
      "moving_mean",
      "moving_variance",
      "kernel",
      "bias",
    ]);
    // TF.js's own order differs: every trainable weight first.
    expect(model.weights.map((v) => v.name.split("/").pop())[4]).toBe("kernel");
    expect(layersToWire(model).map((w) => w.shape)).toEqual([
      [4, 3],
      [3],
      [3],
      [3],
      [3],
      [3],
      [3, 2],
      [2],
    ]);
    model.dispose();
  });

  it("refuses a wrong count, shape or dtype, naming file and key, and writes nothing", async () => {
    const wire = await kind.init(tf, 2);
    const handle = await kind.load(tf, wire, "m.npz");
    const bad = wire.map((w, i) =>
      i === 2 ? { dtype: "float32" as const, shape: [8, 4], data: new Float32Array(32) } : w,
    );
    expect(() => wireToLayers(tf, handle.model, bad, "m.npz")).toThrow(
      'm.npz: weights "2" have shape (8, 4); the model expects (8, 3)',
    );
    expect(() => wireToLayers(tf, handle.model, wire.slice(0, 3), "m.npz")).toThrow(
      "m.npz: holds 3 arrays; the model has 4 weights ((12, 8) (8,) (8, 3) (3,))",
    );
    const ints = wire.map((w, i) =>
      i === 1 ? { dtype: "int32" as const, shape: [8], data: new Int32Array(8) } : w,
    );
    let error: unknown;
    try {
      await kind.load(tf, ints, "m.npz");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShapeError);
    expect(isFednTfjsError(error) && error.key).toBe("1");
    expect(kind.save(tf, handle)).toEqual(wire);
    kind.dispose(handle);
  });
});

describe("training, evaluation and prediction", () => {
  const train = synthetic(600, 12, 3, 11);
  const test = synthetic(200, 12, 3, 12);

  it("learns, keeps the tensor count flat, and reports progress", async () => {
    const handle = await kind.load(tf, await kind.init(tf, 3), "seed.npz");
    const before = kind.evaluate(tf, handle, test);
    const progress: number[] = [];
    await kind.train(tf, handle, train, {
      batchSize: 32,
      epochs: 2,
      lr: 0.01,
      seed: 1,
      shuffle: true,
      onBatch: (p) => progress.push(p.batch),
    });
    const tensors = tf.memory().numTensors;
    const result = await kind.train(tf, handle, train, {
      batchSize: 32,
      epochs: 1,
      lr: 0.01,
      shuffle: false,
    });
    expect(tf.memory().numTensors).toBe(tensors);
    expect(result).toMatchObject({ numExamples: 600, steps: 19 });
    expect(progress).toHaveLength(2 * 19);
    const after = kind.evaluate(tf, handle, test);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(after.loss).toBeLessThan(before.loss);
    expect(after.accuracy).toBeGreaterThan(0.9);
    kind.dispose(handle);
  });

  it("evaluates the mean per-sample cross-entropy and accuracy from the probabilities", async () => {
    const handle = await kind.load(tf, await kind.init(tf, 4), "seed.npz");
    const { classes, probabilities } = kind.predict(tf, handle, test);
    const metrics = kind.evaluate(tf, handle, test);
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < test.count; i++) {
      const p = probabilities![i]!;
      loss -= Math.log(p[test.y[i]!]!);
      const best = p.indexOf(Math.max(...p));
      expect(classes[i]).toBe(best);
      if (best === test.y[i]) correct++;
    }
    expect(metrics.loss).toBeCloseTo(loss / test.count, 5);
    expect(metrics.accuracy).toBe(correct / test.count);
    kind.dispose(handle);
  });

  it("trains the same weights twice from one seed when shuffling (no dropout)", async () => {
    const plain = layersModel<typeof tf, tf.LayersModel>({
      build: (t, seed) =>
        t.sequential({
          layers: [
            t.layers.dense({
              inputShape: [12],
              units: 3,
              activation: "softmax",
              kernelInitializer: t.initializers.glorotUniform({ seed }),
            }),
          ],
        }),
      optimizer: (t, lr) => t.train.sgd(lr),
      loss: "sparseCategoricalCrossentropy",
    });
    const seed = await plain.init(tf, 9);
    const run = async (shuffleSeed: number) => {
      const handle = await plain.load(tf, seed, "seed.npz");
      await plain.train(tf, handle, train, {
        batchSize: 16,
        epochs: 1,
        lr: 0.1,
        seed: shuffleSeed,
        shuffle: true,
      });
      const out = plain.save(tf, handle);
      plain.dispose(handle);
      return out;
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect((await run(8))[0]!.data).not.toEqual(a[0]!.data);
  });

  it("refuses data that does not fit the model", async () => {
    const handle = await kind.load(tf, await kind.init(tf, 3), "seed.npz");
    expect(() => kind.evaluate(tf, handle, synthetic(10, 15, 3, 1))).toThrow(
      "the model takes inputs of shape (12,) (12 values) but the data has 15 features per row",
    );
    kind.dispose(handle);
  });
});

describe("options are checked inside the library", () => {
  it.each([
    [{ batchSize: 0 }, "option --batch_size must be a positive integer; found 0"],
    [{ lr: Number.NaN }, "option --lr must be a positive number; found NaN"],
  ])("train refuses %o with a UsageError before any step", async (bad, message) => {
    const handle = await kind.load(tf, await kind.init(tf, 3), "seed.npz");
    const before = kind.save(tf, handle);
    const options = { batchSize: 8, epochs: 1, lr: 0.01, shuffle: false, ...bad };
    const train = () => kind.train(tf, handle, synthetic(20, 12, 3, 1), options);
    expect(train).toThrow(UsageError);
    expect(train).toThrow(message);
    expect(kind.save(tf, handle)).toEqual(before);
    kind.dispose(handle);
  });

  it("refuses an unknown loss when the kind is defined", () => {
    expect(() =>
      layersModel<typeof tf, tf.LayersModel>({
        build: () => tf.sequential(),
        optimizer: (t, lr) => t.train.sgd(lr),
        loss: "mse" as "categoricalCrossentropy",
      }),
    ).toThrow(
      'layersModel: loss must be one of categoricalCrossentropy, sparseCategoricalCrossentropy; found "mse"',
    );
  });
});

describe("kerasAdam", () => {
  it("steps as Keras's Adam formula, tiny gradients included, and releases its slots", () => {
    const c = [1, 1e-6, -3];
    const w = tf.variable(tf.tensor1d([0.5, 0.5, 0.5]));
    const before = tf.memory().numTensors;
    const optimizer = kerasAdam(tf, 0.01) as tf.Optimizer;
    const expected = [0.5, 0.5, 0.5];
    const m = [0, 0, 0];
    const v = [0, 0, 0];
    for (let step = 1; step <= 3; step++) {
      optimizer.minimize(() => tf.sum(tf.mul(w, tf.tensor1d(c))) as tf.Scalar, false, [w]);
      const alpha = (0.01 * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
      for (let k = 0; k < 3; k++) {
        m[k]! += (c[k]! - m[k]!) * 0.1;
        v[k]! += (c[k]! ** 2 - v[k]!) * 0.001;
        expected[k]! -= (alpha * m[k]!) / (Math.sqrt(v[k]!) + 1e-7);
      }
    }
    const got = [...w.dataSync()];
    for (let k = 0; k < 3; k++) expect(got[k]).toBeCloseTo(expected[k]!, 6);
    // TF.js's own Adam takes a much larger step on the tiny gradient (epsilon after correction).
    expect(0.5 - got[1]!).toBeLessThan(0.5 * 0.03);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    w.dispose();
  });
});
