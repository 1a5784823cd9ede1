/**
 * fedn-tfjs's training loop alone, in-process, for the loop and scaling sections of
 * scripts/bench.mjs: the library's `trainModel` on a dense stack of the given sizes (fast engine
 * unless --engine tfjs), the data read first and not timed, exactly the arguments of
 * scripts/bench/loop_numpy.py so the two are comparable. As the kit's `train` does, the engine
 * is prepared (`prepareEngine`: the kernel's optimized compile and the worker threads' start)
 * while the data are read, and awaited before the loop starts.
 *
 *   node scripts/bench/loop_fast.mjs --data data/fashion-mnist.npz [--sizes 784,64,32,10]
 *       [--dropout 0.5] [--batch 32] [--epochs 1] [--count 60000] [--lr 0.01] [--threads N]
 *       [--engine fast|tfjs] [--validate]
 *
 * Prints one JSON line: loop seconds, steps, the last logged loss, the engine's flavour and
 * threads; with --validate also the validation pass over train + test (seconds, rows).
 */
import { parseArgs } from "node:util";
import { mnistNpz } from "../../dist/data/npz-data.js";
import { imageSet } from "../../dist/models/dense.js";
import { createDenseModel, initDenseWeights } from "../../dist/models/dense-model.js";
import { evaluateModel, trainModel } from "../../dist/models/dense-train.js";
import { closeFastEngine, fastEngineFlavour } from "../../dist/models/fast/engine.js";
import { prepareEngine, resolveEngine } from "../../dist/models/fast/options.js";
import { createRandom } from "../../dist/models/random.js";
import { selectBackend } from "../../dist/node/backend.js";
import { readBytes } from "../../dist/node/io.js";

const { values: a } = parseArgs({
  options: {
    data: { type: "string" },
    sizes: { type: "string", default: "784,64,32,10" },
    dropout: { type: "string", default: "0.5" },
    batch: { type: "string", default: "32" },
    epochs: { type: "string", default: "1" },
    count: { type: "string", default: "60000" },
    lr: { type: "string", default: "0.01" },
    seed: { type: "string", default: "1" },
    threads: { type: "string" },
    engine: { type: "string", default: "fast" },
    validate: { type: "boolean", default: false },
  },
});
const sizes = a.sizes.split(",").map(Number);
const spec = {
  sizes,
  dropout: sizes.slice(1, -1).map((_, i) => (i === 0 ? Number(a.dropout) : 0)),
};
const engine = resolveEngine({ engine: a.engine, threads: a.threads }, process.env);
const prepared = prepareEngine(engine);
// TF.js only holds the weights on the fast engine; the tfjs engine computes on wasm.
await selectBackend({ backend: engine.engine === "fast" ? "cpu" : "wasm" });
const splits = a.validate ? ["train", "test"] : ["train"];
// The MNIST drop-in's loader (pixels / 255), in the dense loop's form: uint8 and a divisor.
const data = mnistNpz().load(await readBytes(a.data), { file: a.data, splits, consume: true });
const all = imageSet(data.train);
const count = Math.min(Number(a.count), all.count);
const set = {
  count,
  features: all.features,
  pixels: all.pixels.subarray(0, count * all.features),
  divisor: all.divisor,
  labels: all.labels.subarray(0, count),
};
const model = createDenseModel(initDenseWeights(spec, createRandom(Number(a.seed))), spec);
await prepared;
const options = {
  batchSize: Number(a.batch),
  epochs: Number(a.epochs),
  lr: Number(a.lr),
  seed: Number(a.seed),
  engine,
};
const start = performance.now();
const cpuStart = process.cpuUsage();
const result = trainModel(model, set, options);
const loopSeconds = (performance.now() - start) / 1000;
const cpu = process.cpuUsage(cpuStart);
// A loop that did not learn is not a timing (a set without its divisor once trained on NaN at
// the same speed): a uniform guess over the classes costs ln(classes).
if (!(result.lastLoss < Math.log(sizes.at(-1)))) {
  process.stderr.write(
    `loop_fast: the loss ended at ${result.lastLoss}: the model did not learn\n`,
  );
  process.exit(1);
}
const out = {
  loop_s: loopSeconds,
  // Every thread's CPU time (spin-waits included): on a loaded machine, what the work cost.
  cpu_s: (cpu.user + cpu.system) / 1e6,
  steps: result.steps,
  loss: result.lastLoss,
  engine: engine.engine,
  threads: engine.threads,
  flavour: engine.engine === "fast" ? fastEngineFlavour() : undefined,
  sizes,
  batch: options.batchSize,
  epochs: options.epochs,
  count,
};
if (a.validate) {
  const t = performance.now();
  evaluateModel(model, all, { engine });
  evaluateModel(model, imageSet(data.test), { engine });
  out.validate_s = (performance.now() - t) / 1000;
  out.validate_rows = all.count + data.test.count;
}
process.stdout.write(`${JSON.stringify(out)}\n`);
model.dispose();
await closeFastEngine();
