/**
 * Acceptance of the shipped package: `npm run package`'s script builds it, the .tgz is unpacked
 * into an empty folder under the system temp folder with no node_modules above it, and every
 * entry point runs through the built `fedn-tfjs run` as a FEDn client runs it; numpy reads every
 * output. Needs `npm run build` first (npm test does it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PYTHON } from "./fixtures/python.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "dist", "bin", "cli.js");
const missing = [
  join(root, "dist", "tools", "bundle.js"),
  cli,
  join(root, "src", "bin", "entrypoint.ts"),
].filter((p) => !existsSync(p));

/** Every folder from `dir` up to `/` that holds a node_modules. */
function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "node_modules"))) found.push(d);
    if (dirname(d) === d) return found;
  }
}

function python(script: string, ...args: string[]): string {
  return execFileSync(PYTHON, ["-c", script, ...args], { encoding: "utf8" }).trim();
}

const NUMPY_MODEL = [
  "import sys, json, numpy as np",
  "z = np.load(sys.argv[1])",
  "arrays = [z[str(i)] for i in range(len(z.files))]",
  "print(json.dumps([[a.dtype.str, list(a.shape), bool(np.isfinite(a).all())] for a in arrays]))",
].join("\n");
const MNIST_LAYOUT = [
  ["<f4", [64, 784], true],
  ["<f4", [64], true],
  ["<f4", [32, 64], true],
  ["<f4", [32], true],
  ["<f4", [10, 32], true],
  ["<f4", [10], true],
];

describe.skipIf(missing.length > 0)(
  `the packaged compute package${missing.length > 0 ? ` (skipped: missing ${missing.join(", ")}; run npm run build)` : ""}`,
  () => {
    let work: string;
    let out: string;
    let unpacked: string;
    let small: string;
    let baseEnv: Record<string, string>;

    function fednRun(args: string[], env: Record<string, string> = {}) {
      const r = spawnSync(process.execPath, [cli, "run", ...args], {
        cwd: work,
        env: { ...baseEnv, ...env },
        encoding: "utf8",
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), "fedn-tfjs-accept-"));
      out = join(work, "build");
      execFileSync(process.execPath, [join(root, "scripts", "build-package.mjs"), "--out", out], {
        cwd: root,
        encoding: "utf8",
      });
      unpacked = join(work, "unpacked");
      mkdirSync(unpacked);
      execFileSync("tar", ["xzf", join(out, "package.tgz"), "-C", unpacked]);
      // A few hundred real digits with int64 labels, as torchvision-derived FEDn data has.
      small = join(work, "small.npz");
      python(
        [
          "import sys, numpy as np",
          "d = np.load(sys.argv[1])",
          "np.savez_compressed(sys.argv[2], x_train=d['x_train'][:300], y_train=d['y_train'][:300].astype(np.int64),",
          "    x_test=d['x_test'][:100], y_test=d['y_test'][:100].astype(np.int64))",
        ].join("\n"),
        join(unpacked, "client", "dist", "demo-mnist.npz"),
        small,
      );
      // Only what a FEDn client host has: no NODE_PATH, no npm environment.
      baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work };
    }, 120_000);

    afterAll(() => {
      if (work !== undefined) rmSync(work, { recursive: true, force: true });
    });

    it("unpacks to client/ with the bundles, wasm files and demo data, and no node_modules anywhere above", () => {
      expect(nodeModulesAbove(unpacked)).toEqual([]);
      expect(readdirSync(unpacked)).toEqual(["client"]);
      const dist = readdirSync(join(unpacked, "client", "dist"));
      for (const f of ["entrypoint.js", "startup.js", "package.json", "demo-mnist.npz"]) {
        expect(dist).toContain(f);
      }
      expect(dist.filter((f) => f.endsWith(".wasm")).length).toBeGreaterThanOrEqual(2);
      // Small enough to upload without thinking about it.
      expect(statSync(join(out, "package.tgz")).size).toBeLessThan(10 * 1024 * 1024);
      expect(JSON.parse(python(NUMPY_MODEL, join(out, "seed.npz")))).toEqual(MNIST_LAYOUT);
    });

    it("says in one line where it looked for missing .wasm files, then falls back; fails when wasm was asked for (#13.4)", () => {
      const bare = join(work, "no-wasm");
      mkdirSync(bare);
      const dist = join(unpacked, "client", "dist");
      for (const f of readdirSync(dist).filter((f) => f.endsWith(".js") || f === "package.json")) {
        copyFileSync(join(dist, f), join(bare, f));
      }
      const predict = (backend: string) =>
        spawnSync(
          process.execPath,
          [join(bare, "entrypoint.js"), "predict", join(out, "seed.npz"), join(bare, "p.json")],
          {
            cwd: bare,
            env: { ...baseEnv, FEDN_DATA_PATH: small, FEDN_TFJS_BACKEND: backend },
            encoding: "utf8",
          },
        );
      const auto = predict("auto");
      expect(auto.status).toBe(0);
      expect(auto.stderr.trim().split("\n")).toEqual([
        `fedn-tfjs: the wasm backend's .wasm files are missing (looked for tfjs-backend-wasm-simd.wasm in ${bare} and node_modules/@tensorflow/tfjs-backend-wasm (not installed); \`fedn-tfjs package build\` copies them beside the bundle); falling back`,
        "fedn-tfjs: backend cpu (pure JavaScript)",
      ]);
      const wasm = predict("wasm");
      expect(wasm.status).toBe(2);
      expect(wasm.stderr).toContain(
        'backend "wasm" was asked for but cannot start: the wasm backend\'s .wasm files are missing',
      );
      expect(wasm.stderr).not.toContain("Aborted");
    });

    it("runs startup, train, validate and predict as FEDn 0.33 does (bash -c); numpy reads every output", () => {
      const startup = fednRun(["startup", "-p", unpacked]);
      expect(startup.stderr).toBe("");
      expect(startup.status).toBe(0);
      expect(startup.stdout).toContain("wrote 2 demo split(s) of the packaged MNIST digits");
      expect(startup.stdout).toMatch(
        /startup: exit 0 in [0-9.]+ s: bash -c "node dist\/startup\.js \$ENTRYPOINT_OPTS "/,
      );

      const env = { FEDN_DATA_PATH: small };
      const model = join(work, "model.npz");
      const train = fednRun(
        [
          "train",
          "-p",
          unpacked,
          "-i",
          join(out, "seed.npz"),
          "-o",
          model,
          "--client-settings",
          '{"lr": 0.05}',
        ],
        env,
      );
      expect(train.status, train.stderr).toBe(0);
      expect(train.stdout).toContain(`ok model ${model}: 6 float32 arrays, shapes match the input`);
      expect(JSON.parse(python(NUMPY_MODEL, model))).toEqual(MNIST_LAYOUT);
      const metadata = JSON.parse(
        python(
          "import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))",
          `${model}-metadata`,
        ),
      );
      expect(metadata.num_examples).toBe(300);

      const metrics = join(work, "metrics.json");
      const validate = fednRun(["validate", "-p", unpacked, "-i", model, "-o", metrics], env);
      expect(validate.status, validate.stderr).toBe(0);
      const keys = python(
        "import json, sys; m = json.load(open(sys.argv[1])); print(sorted(m), all(isinstance(v, float) for v in m.values()))",
        metrics,
      );
      expect(keys).toBe(
        "['test_accuracy', 'test_loss', 'training_accuracy', 'training_loss'] True",
      );

      const prediction = join(work, "prediction.json");
      const predict = fednRun(["predict", "-p", unpacked, "-i", model, "-o", prediction], env);
      expect(predict.status, predict.stderr).toBe(0);
      expect(
        python(
          "import json, sys; p = json.load(open(sys.argv[1])); print(len(p['predicted_class']))",
          prediction,
        ),
      ).toBe("100");
    }, 120_000);

    it("runs train as FEDn 0.8 does: /bin/sh -c with $ENTRYPOINT_OPTS in the command", () => {
      const model = join(work, "model-08.npz");
      const train = fednRun(
        ["train", "-p", unpacked, "-i", join(out, "seed.npz"), "-o", model, "--shell", "sh"],
        {
          ENTRYPOINT_OPTS: `--data_path=${small}`,
        },
      );
      expect(train.status, train.stderr).toBe(0);
      expect(train.stdout).toMatch(
        /train: exit 0 in [0-9.]+ s: \/bin\/sh -c "node dist\/entrypoint\.js train \$ENTRYPOINT_OPTS /,
      );
      expect(JSON.parse(python(NUMPY_MODEL, model))).toEqual(MNIST_LAYOUT);
      expect(
        python(
          "import json, sys; print(json.load(open(sys.argv[1]))['num_examples'])",
          `${model}-metadata`,
        ),
      ).toBe("300");
    }, 120_000);

    it("runs the .tgz itself, startup first as FEDn does, and build writes ../seed.npz as FEDn's examples do", () => {
      const viaTgz = fednRun(
        [
          "validate",
          "-p",
          join(out, "package.tgz"),
          "-i",
          join(out, "seed.npz"),
          "-o",
          join(work, "tgz-metrics.json"),
        ],
        {
          FEDN_DATA_PATH: small,
        },
      );
      expect(viaTgz.status, viaTgz.stderr).toBe(0);
      // No FEDN_DATA_PATH: predict reads the demo split startup writes right after unpacking.
      const prediction = join(work, "tgz-prediction.json");
      const predict = fednRun([
        "predict",
        "-p",
        join(out, "package.tgz"),
        "-i",
        join(out, "seed.npz"),
        "-o",
        prediction,
      ]);
      expect(predict.status, predict.stderr).toBe(0);
      expect(predict.stdout).toMatch(
        /\nstartup: exit 0 in [0-9.]+ s: bash -c "node dist\/startup\.js \$ENTRYPOINT_OPTS " \(run first, as FEDn's client does after unpacking\)\npredict: exit 0 /,
      );
      expect(
        Number(
          python(
            "import json, sys; print(len(json.load(open(sys.argv[1]))['predicted_class']))",
            prediction,
          ),
        ),
      ).toBeGreaterThan(0);
      // --no-startup leaves the package as unpacked: no data, and predict says so.
      const bare = fednRun([
        "predict",
        "-p",
        join(out, "package.tgz"),
        "-i",
        join(out, "seed.npz"),
        "-o",
        prediction,
        "--no-startup",
      ]);
      expect(bare.status).not.toBe(0);
      expect(bare.stdout).not.toContain("startup:");
      const build = fednRun(["build", "-p", unpacked]);
      expect(build.status, build.stderr).toBe(0);
      expect(JSON.parse(python(NUMPY_MODEL, join(unpacked, "seed.npz")))).toEqual(MNIST_LAYOUT);
    }, 120_000);
  },
);
