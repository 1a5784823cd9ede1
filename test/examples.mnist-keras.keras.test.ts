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
import { describe, expect, it } from "vitest";
import mnistKeras from "../examples/mnist-keras/package.js";
import { sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveDataset } from "../src/data/files.js";
import type { CliContext } from "../src/kit/cli.js";
import { loadModel } from "../src/node/io.js";

const PYTHON = process.env.FEDN_TFJS_KERAS_PYTHON;
const ORACLE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "keras_oracle.py");

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
});
