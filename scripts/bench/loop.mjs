/**
 * Times fedn-tfjs's own training loop and validation pass in-process, for the limit section of
 * scripts/bench.mjs: the whole-process wall time also holds Node's start-up, reading the npz and
 * writing the model, so GFLOP/s must come from the loop alone.
 *
 * Usage: node scripts/bench/loop.mjs --data data/fashion-mnist.npz [--seed 1]
 * Prints one JSON object on stdout: {backend, api, numExamples, steps, trainSeconds,
 * kernelsPerStep, evaluateRows, evaluateSeconds}, or {error} with exit status 1 when the library
 * lacks a piece. kernelsPerStep comes from tf.profile over a few extra steps after the timing.
 *
 * The library is taken from dist/index.js (the public API); while a name is not exported yet it
 * falls back to the built module that defines it, and says so in `api`.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";

const { values } = parseArgs({
  options: {
    data: { type: "string" },
    seed: { type: "string", default: "1" },
  },
});

/** Each name's public export, else the dist module that defines it. */
const SOURCES = {
  selectBackend: "../../dist/node/backend.js",
  readBytes: "../../dist/node/io.js",
  mnistNpz: "../../dist/data/npz-data.js",
  imageSet: "../../dist/models/dense.js",
  createRandom: "../../dist/models/random.js",
  initDenseWeights: "../../dist/models/dense-model.js",
  createDenseModel: "../../dist/models/dense-model.js",
  trainModel: "../../dist/models/dense-train.js",
  evaluateModel: "../../dist/models/dense-train.js",
};

function fail(error) {
  process.stdout.write(`${JSON.stringify({ error })}\n`);
  process.exit(1);
}

async function resolveApi() {
  const api = {};
  const from = {};
  const index = await import("../../dist/index.js").catch(() => ({}));
  for (const [name, module] of Object.entries(SOURCES)) {
    if (typeof index[name] === "function") {
      api[name] = index[name];
      from[name] = "dist/index.js";
      continue;
    }
    const mod = await import(module).catch(() => ({}));
    if (typeof mod[name] !== "function") fail(`the library has no ${name} (looked in ${module})`);
    api[name] = mod[name];
    from[name] = module.replace("../../", "");
  }
  return { api, from };
}

if (values.data === undefined) fail("--data is required");
const { api, from } = await resolveApi();
const backend = await api.selectBackend({ backend: "wasm" });
// The MNIST drop-in's loader, in the dense loop's form (uint8 pixels and their divisor).
const bytes = await api.readBytes(values.data);
const loaded = api.mnistNpz().load(bytes, { file: values.data, splits: ["train", "test"] });
const data = { train: api.imageSet(loaded.train), test: api.imageSet(loaded.test) };
const model = api.createDenseModel(
  api.initDenseWeights(undefined, api.createRandom(Number(values.seed))),
);

let start = performance.now();
const result = api.trainModel(model, data.train, { batchSize: 32, epochs: 1, lr: 0.01, seed: 1 });
const trainSeconds = (performance.now() - start) / 1000;

// Validation's work: a forward pass over the train and the test split.
start = performance.now();
api.evaluateModel(model, data.train);
api.evaluateModel(model, data.test);
const evaluateSeconds = (performance.now() - start) / 1000;

// Kernels one step dispatches (profiling slows them, so only after the timed runs).
const few = 20;
const rows = few * 32;
const { features, pixels, divisor, labels } = data.train;
const small = {
  count: rows,
  features,
  pixels: pixels.subarray(0, rows * features),
  divisor,
  labels: labels.subarray(0, rows),
};
const profile = await tf.profile(() => {
  api.trainModel(model, small, { batchSize: 32, epochs: 1, lr: 0.01, seed: 1, logEvery: 1e9 });
});
const kernelsPerStep = profile.kernels.length / few;
model.dispose();

process.stdout.write(
  `${JSON.stringify({
    backend: backend.description,
    api: from,
    numExamples: result.numExamples,
    steps: result.steps,
    trainSeconds,
    kernelsPerStep,
    evaluateRows: data.train.count + data.test.count,
    evaluateSeconds,
  })}\n`,
);
