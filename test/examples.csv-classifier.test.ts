/** examples/csv-classifier through its commands, on the CSV it ships: it learns. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import csvClassifier from "../examples/csv-classifier/package.js";
import type { CliContext } from "../src/kit/cli.js";
import { loadModel } from "../src/node/io.js";

const CSV = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "examples",
  "csv-classifier",
  "fruit.csv",
);

it("examples/csv-classifier learns which fruit from its CSV (train, validate, predict)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "csv-classifier-"));
  let err = "";
  const ctx: CliContext = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => (err += s) },
    env: { FEDN_DATA_PATH: CSV },
    cwd: dir,
  };
  const run = async (...argv: string[]) => expect(await csvClassifier.run(argv, ctx), err).toBe(0);
  await run("init_seed", "seed.npz", "--seed", "1");
  expect((await loadModel(join(dir, "seed.npz"))).map((w) => w.shape)).toEqual([
    [4, 16],
    [16],
    [16, 3],
    [3],
  ]);
  await run("validate", "seed.npz", "before.json");
  await run("train", "seed.npz", "model.npz", "--seed", "2");
  await run("validate", "model.npz", "after.json");
  const read = (name: string) => JSON.parse(readFileSync(join(dir, name), "utf8"));
  const before = read("before.json");
  const after = read("after.json");
  expect(after.training_loss).toBeLessThan(before.training_loss);
  expect(after.test_accuracy).toBeGreaterThan(0.9);
  await run("predict", "model.npz", "predictions.json");
  expect(read("predictions.json").predicted_class).toHaveLength(60);
});
