/**
 * The kit in process: `defineComputePackage` with the package's own defaults, data and model
 * kind, run through `pkg.run(argv, ctx)` as `.main()` runs it. Also what a newcomer tripped on
 * (issue #13): a `.pt` data path, package defaults, the backend a kind sees, and what
 * `simulateFederation` inherits and reports.
 */
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Core from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { decodeNpz, encodeNpz } from "../src/codec/npz.js";
import { UsageError } from "../src/errors.js";
import { decodeModel } from "../src/fedn/numpyhelper.js";
import { checkLoopOptions, resolveTrainOptions } from "../src/kit/options.js";
import { defineComputePackage } from "../src/kit/program.js";
import type { DataSpec, Dataset, ModelKind } from "../src/kit/spec.js";
import { denseStack } from "../src/models/dense.js";
import { simulateFederation } from "../src/tools/federation.js";

let dir: string;

function recorder(env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  return {
    ctx: {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      env: { FEDN_TFJS_BACKEND: "cpu", ...env },
      cwd: dir,
    },
    out: () => out,
    err: () => err,
  };
}

/** Float features, no scaling: rows of 4 values, the class is the largest of the first three. */
const floats: DataSpec = {
  load(bytes, { file, splits }) {
    const arrays = decodeNpz(bytes, { name: file });
    const out: { train?: Dataset; test?: Dataset } = {};
    for (const split of splits) {
      const x = arrays.get(`x_${split}`)!;
      const y = arrays.get(`y_${split}`)!;
      out[split] = {
        x: x.data as Float32Array,
        scale: 1,
        features: 4,
        inputShape: [4],
        y: y.data as Int32Array,
        classes: 3,
        count: y.shape[0]!,
      };
    }
    return { ...out, warnings: [] };
  },
};

function tinySplit(count: number): NdArray[] {
  const x = Float32Array.from({ length: count * 4 }, (_, i) => ((i * 7919) % 13) / 13 - 0.5);
  const y = Int32Array.from({ length: count }, (_, r) => {
    const row = [...x.subarray(r * 4, r * 4 + 3)];
    return row.indexOf(Math.max(...row));
  });
  return [
    { dtype: "float32", shape: [count, 4], data: x },
    { dtype: "int32", shape: [count], data: y },
  ];
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "fedn-tfjs-kit-"));
  const [xTrain, yTrain] = tinySplit(40);
  const [xTest, yTest] = tinySplit(10);
  mkdirSync(join(dir, "data", "clients", "1"), { recursive: true });
  writeFileSync(
    join(dir, "data", "clients", "1", "tiny.npz"),
    encodeNpz([
      ["x_train", xTrain!],
      ["y_train", yTrain!],
      ["x_test", xTest!],
      ["y_test", yTest!],
    ]),
  );
});

function tinyPackage<M>(model: ModelKind<M>) {
  return defineComputePackage({
    name: "tiny",
    describe: "A tiny dense classifier",
    dataFile: "tiny.npz",
    data: floats,
    model,
    defaults: { batchSize: 4, epochs: 2, lr: 0.5 },
  });
}

describe("defineComputePackage", () => {
  it("trains with the package's own defaults and writes the model and its metadata (#13.5)", async () => {
    const pkg = tinyPackage(denseStack({ units: [4, 8, 3] }));
    const r = recorder();
    expect(await pkg.run(["init_seed", "seed.npz", "--seed", "1"], r.ctx)).toBe(0);
    expect(await pkg.run(["train", "seed.npz", "out.npz", "--seed", "2"], r.ctx)).toBe(0);
    const metadata = JSON.parse(readFileSync(join(dir, "out.npz-metadata"), "utf8"));
    expect(metadata).toEqual({ num_examples: 40, batch_size: 4, epochs: 2, lr: 0.5 });
    const weights = decodeModel(readFileSync(join(dir, "out.npz")));
    expect(weights.map((w) => w.shape)).toEqual([[8, 4], [8], [3, 8], [3]]);
    expect(r.out()).toContain("Epoch 1/1 | Batch: 0/9 | Loss: ");
    const help = recorder();
    await pkg.run(["train", "--help"], help.ctx);
    expect(help.out()).toContain("client_settings batch_size or 4");
    expect(help.out()).toContain("$FEDN_DATA_PATH or data/clients/1/tiny.npz");
    expect(await pkg.run(["validate", "out.npz", "m.json"], r.ctx)).toBe(0);
    const metrics = JSON.parse(readFileSync(join(dir, "m.json"), "utf8"));
    expect(Object.keys(metrics)).toEqual([
      "training_loss",
      "training_accuracy",
      "test_loss",
      "test_accuracy",
    ]);
  });

  it("refuses unusable package defaults when the package is defined", () => {
    expect(() =>
      defineComputePackage({
        name: "bad",
        describe: "",
        dataFile: "d.npz",
        data: floats,
        model: denseStack({ units: [4, 3] }),
        defaults: { batchSize: 0, epochs: 1, lr: 0.1 },
      }),
    ).toThrow("option --batch_size must be a positive integer; found 0");
  });

  it("hands a custom kind's load a TF.js whose backend is already chosen (#13.3)", async () => {
    const dense = denseStack({ units: [4, 8, 3] });
    let backend: string | undefined;
    const spy: typeof dense = {
      ...dense,
      load(tf, weights, file) {
        backend = (tf as typeof Core).getBackend();
        return dense.load(tf, weights, file);
      },
    };
    const r = recorder();
    await tinyPackage(spy).run(["init_seed", "seed2.npz", "--seed", "3"], r.ctx);
    expect(await tinyPackage(spy).run(["predict", "seed2.npz", "p.json"], r.ctx)).toBe(0);
    expect(backend).toBe("cpu");
    expect(JSON.parse(readFileSync(join(dir, "p.json"), "utf8")).predicted_class).toHaveLength(10);
  });

  it("refuses non-finite trained weights of any kind and writes nothing (the NaN guard)", async () => {
    const dense = denseStack({ units: [4, 3] });
    // A kind that names no weights: the guard's message falls back to the key.
    const { describeWeight: _unnamed, ...plain } = dense;
    const diverging: typeof dense = {
      ...plain,
      save(tf, model) {
        const weights = dense.save(tf, model);
        (weights[1]!.data as Float32Array)[2] = Number.NaN;
        return weights;
      },
    };
    const r = recorder();
    const pkg = tinyPackage(diverging);
    await pkg.run(["init_seed", "seed3.npz"], r.ctx);
    writeFileSync(join(dir, "nan.npz"), "");
    expect(await pkg.run(["train", "seed3.npz", "nan.npz"], r.ctx)).toBe(1);
    expect(r.err()).toContain(
      `entrypoint.js train: training diverged: weights "1" hold NaN after training; nothing was written to ${join(dir, "nan.npz")} (try a smaller --lr)`,
    );
    expect(statSync(join(dir, "nan.npz")).size).toBe(0);
  });
});

describe("what a newcomer trips on (#13)", () => {
  it("says plainly that a .pt data path is a PyTorch file, in train and in startup (#13.1)", async () => {
    const pkg = tinyPackage(denseStack({ units: [4, 8, 3] }));
    const r = recorder({ FEDN_DATA_PATH: "./data/clients/1/mnist.pt" });
    await pkg.run(["init_seed", "seed4.npz"], r.ctx);
    expect(await pkg.run(["train", "seed4.npz", "o.npz"], r.ctx)).toBe(1);
    expect(r.err()).toContain(
      "FEDN_DATA_PATH names ./data/clients/1/mnist.pt, a PyTorch file (FEDn's PyTorch quickstart writes data/clients/<i>/mnist.pt); fedn-tfjs reads .npz data",
    );
    const s = recorder({ FEDN_DATA_PATH: "./data/clients/1/mnist.pt" });
    expect(await pkg.run(["startup"], s.ctx)).toBe(1);
    expect(s.err()).toContain("a PyTorch file");
    expect(s.err()).not.toContain("demo split");
  });

  it("validates loop options in the library with the caller's defaults (#13.5)", () => {
    const defaults = { batchSize: 64, epochs: 3, lr: 0.001 };
    expect(checkLoopOptions({}, defaults)).toMatchObject({ batchSize: 64, epochs: 3, lr: 0.001 });
    expect(() => checkLoopOptions({ batchSize: 0 }, defaults)).toThrow(UsageError);
    expect(() => checkLoopOptions({ lr: Number.NaN }, defaults)).toThrow(
      "option --lr must be a positive number; found NaN",
    );
    const context = { defaults, dataFile: "d.csv", env: {}, cwd: "/p" };
    const resolved = resolveTrainOptions({}, context);
    expect([resolved.batchSize, resolved.epochs, resolved.lr]).toEqual([64, 3, 0.001]);
    expect(resolved.dataPath).toBe("/p/data/clients/1/d.csv");
  });

  it("trainModel refuses a batch size of 0 and a NaN learning rate itself", async () => {
    const { selectBackend } = await import("../src/node/backend.js");
    await selectBackend({ backend: "cpu" });
    const { createDenseModel } = await import("../src/models/dense-model.js");
    const { trainModel } = await import("../src/models/dense-train.js");
    const { initDenseWeights } = await import("../src/models/dense-init.js");
    const spec = { sizes: [2, 2], dropout: [] };
    const model = createDenseModel(initDenseWeights(spec), spec);
    const set = {
      count: 2,
      features: 2,
      pixels: new Float32Array(4),
      divisor: 1,
      labels: new Int32Array(2),
    };
    try {
      expect(() => trainModel(model, set, { batchSize: 0 })).toThrow(UsageError);
      expect(() => trainModel(model, set, { lr: Number.NaN })).toThrow(UsageError);
    } finally {
      model.dispose();
    }
  });

  it("simulateFederation inherits the caller's environment and keeps a failure's stderr (#13.2)", async () => {
    const pkg = join(dir, "shell-package");
    mkdirSync(pkg, { recursive: true });
    // The entry point fails the way a missing `node` does, unless the caller's variable reaches it.
    const train = [
      'if [ "$FEDN_TFJS_KIT_MARKER" != inherited ]; then',
      '  echo "bash: node: command not found" >&2; exit 127',
      "fi",
      'cp "$1" "$2" && printf \'{"num_examples": 5}\' > "$2-metadata"',
      "",
    ].join("\n");
    writeFileSync(
      join(pkg, "fedn.yaml"),
      `entry_points:\n  train:\n    command: sh train.sh\n  validate:\n    command: sh validate.sh\n`,
    );
    writeFileSync(join(pkg, "train.sh"), train);
    writeFileSync(join(pkg, "validate.sh"), `printf '{"accuracy": 1.0}' > "$2"\n`);
    const seed = join(dir, "sim-seed.npz");
    writeFileSync(
      seed,
      encodeNpz([["0", { dtype: "float32", shape: [1], data: new Float32Array(1) }]]),
    );
    const options = {
      packagePath: pkg,
      seedModel: seed,
      clientData: [join(dir, "data", "clients", "1", "tiny.npz")],
      rounds: 1,
      outDir: join(dir, "sim"),
    };
    // The client is left out of the round (as FEDn's combiner does) and its stderr says why.
    const failed = await simulateFederation(options);
    expect(failed.rounds[0]).toMatchObject({ status: "failed", updates: 0 });
    expect(failed.rounds[0]!.clients[0]).toMatchObject({
      error: "train failed with exit status 127",
      stderr: "bash: node: command not found",
    });
    process.env.FEDN_TFJS_KIT_MARKER = "inherited";
    try {
      const results = await simulateFederation(options);
      expect(results.rounds.map((r) => [r.numExamples, r.clients.map((c) => c.metrics)])).toEqual([
        [5, [{ accuracy: 1 }]],
      ]);
    } finally {
      delete process.env.FEDN_TFJS_KIT_MARKER;
    }
  });
});
