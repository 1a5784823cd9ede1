/**
 * examples/mnist-keras as FEDn gets it: `fedn-tfjs package build` bundles it, `package create`
 * archives it, and the built CLI runs train, validate and predict from the .tgz and simulates a
 * federation of 3 clients over 3 rounds with it. Needs `npm run build` first (npm test does it).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveClientSplits } from "../src/data/files.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "bin", "cli.js");
const example = join(root, "examples", "mnist-keras");

describe.skipIf(!existsSync(cli))(
  `examples/mnist-keras, packaged${existsSync(cli) ? "" : " (skipped: no dist/bin/cli.js; run npm run build)"}`,
  () => {
    let work: string;
    const fedn = (...args: string[]) =>
      execFileSync(process.execPath, [cli, ...args], {
        cwd: work,
        encoding: "utf8",
        env: { ...process.env, FEDN_DATA_PATH: join(work, "data", "clients", "1", "mnist.npz") },
      });

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), "mnist-keras-pkg-"));
      mkdirSync(join(work, "pkg"));
      copyFileSync(join(example, "fedn.yaml"), join(work, "pkg", "fedn.yaml"));
      fedn(
        "package",
        "build",
        join(example, "entrypoint.ts"),
        "-o",
        join(work, "pkg", "dist"),
        "--no-minify",
      );
      fedn("package", "create", "--path", "pkg", "--output", work);
      const all = await loadMnistPackage();
      const subset = {
        x_train: sliceRows(all.x_train, 0, 3000),
        y_train: sliceRows(all.y_train, 0, 3000),
        x_test: sliceRows(all.x_test, 0, 900),
        y_test: sliceRows(all.y_test, 0, 900),
      };
      await saveClientSplits(subset, 3, join(work, "data", "clients"));
      execFileSync(
        process.execPath,
        [join(work, "pkg", "dist", "entrypoint.js"), "init_seed", "seed.npz", "--seed", "4"],
        { cwd: work },
      );
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it("runs train from the .tgz, then validate and predict, through fedn-tfjs run", () => {
      fedn(
        "run",
        "train",
        "-p",
        "package.tgz",
        "-i",
        "seed.npz",
        "-o",
        "model.npz",
        "--client_settings",
        '{"epochs": 2}',
      );
      // The unpacked folder for the other two: the .tgz path adds an unpack and a startup each.
      fedn("run", "validate", "-p", "pkg", "-i", "model.npz", "-o", "metrics.json");
      fedn("run", "predict", "-p", "pkg", "-i", "model.npz", "-o", "predictions.json");
      const metrics = JSON.parse(readFileSync(join(work, "metrics.json"), "utf8"));
      expect(Object.keys(metrics).sort()).toEqual([
        "test_accuracy",
        "test_loss",
        "training_accuracy",
        "training_loss",
      ]);
      // Two epochs over 1,000 digits, from a seed model at chance (0.1).
      expect(metrics.test_accuracy).toBeGreaterThan(0.4);
      const { predictions } = JSON.parse(readFileSync(join(work, "predictions.json"), "utf8"));
      expect(predictions).toHaveLength(300);
    });

    // About 70 s here (21 entry-point processes, each loading TF.js): FEDN_TFJS_LONG=1 runs it;
    // test/examples.mnist-keras.test.ts runs the same federation in-process in every npm test.
    it.skipIf(process.env.FEDN_TFJS_LONG !== "1")(
      "learns under simulate: 3 clients, 3 rounds, test accuracy rising (FEDN_TFJS_LONG=1)",
      () => {
        fedn(
          "simulate",
          "-p",
          "package.tgz",
          "--seed_model",
          "seed.npz",
          "--clients",
          "3",
          "--data_dir",
          "data/clients",
          "--rounds",
          "3",
          "--out",
          "sim",
          "--quiet",
        );
        const accuracy = [1, 2, 3].map((round) => {
          const files = [1, 2, 3].map((c) =>
            join(work, "sim", `round-${round}`, `validation-client-${c}.json`),
          );
          return (
            files.reduce((sum, f) => sum + JSON.parse(readFileSync(f, "utf8")).test_accuracy, 0) / 3
          );
        });
        expect(accuracy[0]).toBeGreaterThan(0.4);
        expect(accuracy[1]).toBeGreaterThan(accuracy[0]!);
        expect(accuracy[2]).toBeGreaterThan(accuracy[1]!);
        if (process.env.FEDN_TFJS_KERAS_REPORT === "1") console.log(JSON.stringify({ accuracy }));
      },
    );
  },
);
