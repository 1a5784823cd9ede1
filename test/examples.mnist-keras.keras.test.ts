/**
 * Real Keras (TensorFlow 2.21 / Keras 3) as the oracle for examples/mnist-keras, both ways:
 * Keras evaluating the weights we trained gives our validate figures, and we validate a model
 * Keras trained to Keras's own figures (±1e-4). Also: Keras's get_weights() order and shapes are
 * what init_seed sends. Needs FEDN_TFJS_KERAS_PYTHON, a Python with TensorFlow and Keras 3 (see
 * CONTRIBUTING.md); skipped, saying so, without it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import mnistKeras from "../examples/mnist-keras/package.js";
import { sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveDataset } from "../src/data/files.js";
import { kerasAdam, layersModel } from "../src/index.js";
import type { CliContext } from "../src/kit/cli.js";
import type { Dataset } from "../src/kit/spec.js";
import { loadModel, saveModel } from "../src/node/io.js";

const PYTHON = process.env.FEDN_TFJS_KERAS_PYTHON;
const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const ORACLE = join(FIXTURES, "keras_oracle.py");

function kerasMissing(): string {
  if (PYTHON === undefined || PYTHON === "") {
    return "(needs FEDN_TFJS_KERAS_PYTHON: a Python with TensorFlow 2.x and Keras 3)";
  }
  const probe = spawnSync(PYTHON, ["-c", "import keras, numpy"], { encoding: "utf8" });
  return probe.status === 0
    ? ""
    : `(needs Keras 3 in FEDN_TFJS_KERAS_PYTHON=${PYTHON}: ${probe.error?.message ?? probe.stderr.trim().split("\n").pop()})`;
}
const missing = kerasMissing();

const METRICS = ["training_loss", "training_accuracy", "test_loss", "test_accuracy"] as const;

describe.skipIf(missing !== "")(`examples/mnist-keras against real Keras ${missing}`, () => {
  it("agrees with Keras's evaluate both ways, and sends Keras's get_weights() layout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keras-oracle-"));
    const ctx: CliContext = {
      stdout: { write: () => true },
      stderr: { write: () => true },
      env: {},
      cwd: dir,
    };
    const run = async (...argv: string[]) => expect(await mnistKeras.run(argv, ctx)).toBe(0);
    const all = await loadMnistPackage();
    await saveDataset(
      {
        x_train: sliceRows(all.x_train, 0, 2000),
        y_train: sliceRows(all.y_train, 0, 2000),
        x_test: sliceRows(all.x_test, 0, 500),
        y_test: sliceRows(all.y_test, 0, 500),
      },
      join(dir, "data", "clients", "1", "mnist.npz"),
      1,
    );
    await run("init_seed", "seed.npz", "--seed", "5");
    await run("train", "seed.npz", "ours.npz", "--seed", "6");
    await run("validate", "ours.npz", "ours.json");
    const oracle = spawnSync(
      PYTHON!,
      [
        ORACLE,
        join(dir, "data", "clients", "1", "mnist.npz"),
        join(dir, "ours.npz"),
        join(dir, "keras.npz"),
        "7",
      ],
      { encoding: "utf8" },
    );
    expect(oracle.status, oracle.stderr).toBe(0);
    const keras = JSON.parse(oracle.stdout.trim().split("\n").pop()!) as {
      shapes: number[][];
      names: string[];
      ours: Record<string, number>;
      keras: Record<string, number>;
    };
    // The wire list: Keras's order and shapes are ours.
    const seed = await loadModel(join(dir, "seed.npz"));
    expect(seed.map((w) => w.shape)).toEqual(keras.shapes);
    expect(keras.names.map((n) => n.split("/").pop())).toEqual([
      "kernel",
      "bias",
      "kernel",
      "bias",
      "kernel",
      "bias",
    ]);
    // Keras evaluating the weights we trained gives our figures.
    const ours = JSON.parse(readFileSync(join(dir, "ours.json"), "utf8")) as Record<string, number>;
    for (const key of METRICS)
      expect(Math.abs(ours[key]! - keras.ours[key]!), key).toBeLessThan(1e-4);
    // We validate the model Keras trained to Keras's own figures.
    await run("validate", "keras.npz", "keras.json");
    const theirs = JSON.parse(readFileSync(join(dir, "keras.json"), "utf8")) as Record<
      string,
      number
    >;
    for (const key of METRICS)
      expect(Math.abs(theirs[key]! - keras.keras[key]!), key).toBeLessThan(1e-4);
    if (process.env.FEDN_TFJS_KERAS_REPORT === "1") {
      console.log(
        JSON.stringify({
          ours,
          kerasOnOurs: keras.ours,
          kerasModel: keras.keras,
          weValidateKeras: theirs,
        }),
      );
    }
  });

  it("trains as Keras's fit does: same start, no dropout, in order, Adam, batch 32 (weights within 1e-4)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "keras-train-"));
    const all = await loadMnistPackage();
    const rows = 640;
    const data = join(dir, "mnist.npz");
    await saveDataset(
      {
        x_train: sliceRows(all.x_train, 0, rows),
        y_train: sliceRows(all.y_train, 0, rows),
        x_test: sliceRows(all.x_test, 0, 10),
        y_test: sliceRows(all.y_test, 0, 10),
      },
      data,
      1,
    );
    const kind = layersModel({
      build: (t: typeof tf, seed: number) =>
        t.sequential({
          layers: [
            t.layers.flatten({ inputShape: [28, 28, 1] }),
            t.layers.dense({
              units: 64,
              activation: "relu",
              kernelInitializer: t.initializers.glorotUniform({ seed }),
            }),
            t.layers.dense({
              units: 32,
              activation: "relu",
              kernelInitializer: t.initializers.glorotUniform({ seed: seed + 1 }),
            }),
            t.layers.dense({
              units: 10,
              activation: "softmax",
              kernelInitializer: t.initializers.glorotUniform({ seed: seed + 2 }),
            }),
          ],
        }),
      optimizer: (t: typeof tf, lr: number) => kerasAdam(t, lr),
      loss: "categoricalCrossentropy",
    });
    const start = await kind.init(tf, 8);
    await saveModel(start, join(dir, "start.npz"));
    const oracle = spawnSync(
      PYTHON!,
      [
        join(FIXTURES, "keras_train_oracle.py"),
        data,
        String(rows),
        join(dir, "start.npz"),
        join(dir, "keras.npz"),
      ],
      { encoding: "utf8" },
    );
    expect(oracle.status, oracle.stderr).toBe(0);
    const keras = JSON.parse(oracle.stdout.trim().split("\n").pop()!) as { loss: number };
    const x = new Uint8Array(all.x_train.data.subarray(0, rows * 784) as Uint8Array);
    const y = Int32Array.from(all.y_train.data.subarray(0, rows) as Uint8Array);
    const set: Dataset = {
      x,
      scale: 1 / 255,
      features: 784,
      inputShape: [28, 28],
      y,
      classes: 10,
      count: rows,
    };
    const handle = await kind.load(tf, start, "start.npz");
    const result = await kind.train(tf, handle, set, {
      batchSize: 32,
      epochs: 1,
      lr: 0.001,
      shuffle: false,
    });
    const ours = kind.save(tf, handle);
    kind.dispose(handle);
    const theirs = await loadModel(join(dir, "keras.npz"));
    let worst = 0;
    for (const [i, w] of ours.entries()) {
      for (let k = 0; k < w.data.length; k++)
        worst = Math.max(worst, Math.abs(Number(w.data[k]) - Number(theirs[i]!.data[k])));
    }
    expect(worst).toBeLessThan(1e-4);
    // Keras's fit reports the mean of the epoch's batch losses; with 20 full batches so do we.
    expect(Math.abs(result.loss! - keras.loss)).toBeLessThan(1e-4);
    if (process.env.FEDN_TFJS_KERAS_REPORT === "1")
      console.log(JSON.stringify({ worst, ours: result.loss, keras: keras.loss }));
  });
});
