/**
 * The drop-in for FEDn's PyTorch `entrypoint.py`: `init_seed`, `train`, `validate`, `predict`, as
 * command objects (plain data) that `src/entrypoint.ts` runs and the `fedn-tfjs` bin can mount.
 * Each reads and writes files through `src/io.ts` (atomic writes, so the empty output files FEDn
 * pre-creates are replaced whole or not at all) and does its work through the library.
 */
import { resolve } from "node:path";
import { type CliContext, defineCommand, type Program } from "../cli/scaffold.js";
import {
  assertDistinctPaths,
  loadMetadata,
  loadModel,
  loadNpz,
  resolveWriteTarget,
  saveJson,
  saveMetrics,
  saveModel,
  saveModelWithMetadata,
} from "../io.js";
import { createProgressBar } from "../progress.js";
import { createRandom, randomSeed } from "../random.js";
import { VERSION } from "../version.js";
import { type LoadedData, loadMnistData, type SplitName } from "./data.js";
import { initDenseWeights } from "./init.js";
import {
  checkTrainedWeights,
  type DenseStackSpec,
  type DenseWeights,
  fromPytorch,
  MNIST_SPEC,
  pytorchShapes,
  toPytorch,
} from "./layout.js";
import type { DenseModel } from "./model.js";
import { resolveDataPath, resolveSeed, resolveTrainOptions, TRAIN_DEFAULTS } from "./options.js";

const BACKEND_OPTION = {
  type: "string",
  // No yargs `choices`: resolveBackendRequest checks the value with a one-line message that
  // also covers FEDN_TFJS_BACKEND.
  describe:
    "TensorFlow.js backend: auto (tensorflow, then wasm, then cpu), tensorflow|node, wasm or cpu",
  defaultDescription: "$FEDN_TFJS_BACKEND or auto",
} as const;

const DATA_OPTION = {
  type: "string",
  describe: "The .npz data file (x_train, y_train, x_test, y_test)",
  defaultDescription: "$FEDN_DATA_PATH or data/clients/1/mnist.npz",
} as const;

/** How Python prints a float: `repr`, which always shows a decimal point or exponent. */
function pythonFloat(value: number): string {
  const text = String(value);
  if (!Number.isFinite(value)) return value > 0 ? "inf" : Number.isNaN(value) ? "nan" : "-inf";
  if (/[.e]/.test(text)) return text.replace(/e([+-])(\d)$/, "e$10$2");
  return `${text}.0`;
}

/** The Python package's log line; the loss is a float32 (`loss.item()`), printed as Python does. */
export function formatTrainLog(
  epoch: number,
  epochs: number,
  batch: number,
  batches: number,
  loss: number,
): string {
  return `Epoch ${epoch}/${epochs - 1} | Batch: ${batch}/${batches - 1} | Loss: ${pythonFloat(Math.fround(loss))}`;
}

/** Reads and checks a model file; needs no backend, so bad input fails before TF.js starts. */
async function loadWeights(path: string, spec: DenseStackSpec): Promise<DenseWeights> {
  // The expected arrays are known: the reader checks count, dtypes and shapes from the headers
  // before it inflates any data, so a small hostile file cannot make it allocate gigabytes.
  const expect = pytorchShapes(spec).map((shape) => ({
    shape,
    dtypes: ["float32", "float64", "float16"],
  }));
  return fromPytorch(await loadModel(path, { expect }), spec, { file: path });
}

/**
 * Refuses, before any work, an output that cannot be written (a folder, a device, a missing
 * parent) or that is the model or the data file the command reads.
 */
async function checkOutput(outPath: string, inPath: string, dataPath: string): Promise<void> {
  await resolveWriteTarget(outPath);
  await assertDistinctPaths(outPath, [
    { path: inPath, what: "the input model" },
    { path: `${inPath}-metadata`, what: "the input model's metadata" },
    { path: dataPath, what: "the data file" },
  ]);
}

async function loadData(path: string, splits: readonly SplitName[], ctx: CliContext) {
  // Inflate only the splits this command reads: train never touches x_test.
  const keys = splits.flatMap((split) => [`x_${split}`, `y_${split}`]);
  const data = loadMnistData(await loadNpz(path, { keys }), { file: path, splits });
  for (const warning of data.warnings) ctx.stderr.write(`warning: ${warning}\n`);
  return data;
}

const log = (ctx: CliContext) => (line: string) => ctx.stderr.write(`${line}\n`);

/**
 * TF.js and everything that imports it, loaded only when a command computes: `--help`, usage
 * errors and `init_seed` (pure JS) then start in a fraction of the time.
 */
async function loadCompute() {
  const [backend, model, train] = await Promise.all([
    import("../backend.js"),
    import("./model.js"),
    import("./train.js"),
  ]);
  return { ...backend, ...model, ...train };
}

type Compute = Awaited<ReturnType<typeof loadCompute>>;

/**
 * What every computing command does around its work: read and check the model and the data
 * before any backend starts (a bad file fails in one line, fast), start the backend, build the
 * model, and release its tensors whatever happens.
 */
async function withModel<T>(
  inPath: string,
  data: { path: string; splits: readonly SplitName[] },
  backend: string | undefined,
  ctx: CliContext,
  work: (model: DenseModel, data: LoadedData, compute: Compute) => Promise<T>,
): Promise<T> {
  const weights = await loadWeights(inPath, MNIST_SPEC);
  const loaded = await loadData(data.path, data.splits, ctx);
  const compute = await loadCompute();
  await compute.selectBackend({ backend, env: ctx.env, log: log(ctx) });
  const model = compute.createDenseModel(weights, MNIST_SPEC);
  try {
    return await work(model, loaded, compute);
  } finally {
    model.dispose();
  }
}

export const initSeedCommand = defineCommand({
  name: "init_seed",
  describe: "Write a freshly initialised model (PyTorch's default Linear initialisation)",
  positionals: [
    { name: "out_path", describe: "Where to write the seed model", default: "seed.npz" },
  ],
  options: {
    seed: {
      type: "number",
      describe: "Seed for a reproducible model",
      defaultDescription: "random",
    },
  },
  async run(args, ctx) {
    const seed = resolveSeed(args.seed) ?? randomSeed();
    const weights = initDenseWeights(MNIST_SPEC, createRandom(seed));
    await resolveWriteTarget(resolve(ctx.cwd, args.out_path));
    await saveModel(toPytorch(weights), resolve(ctx.cwd, args.out_path));
    return 0;
  },
});

export const trainCommand = defineCommand({
  name: "train",
  describe: "Train the model on the local training split and write the update and its metadata",
  positionals: [
    { name: "in_model_path", describe: "The model to start from (.npz)" },
    { name: "out_model_path", describe: "Where to write the trained model (.npz)" },
  ],
  options: {
    data_path: DATA_OPTION,
    batch_size: {
      type: "number",
      describe: "Samples per SGD step",
      defaultDescription: `client_settings batch_size or ${TRAIN_DEFAULTS.batchSize}`,
    },
    epochs: {
      type: "number",
      describe: "Passes over the training split",
      defaultDescription: `client_settings epochs or ${TRAIN_DEFAULTS.epochs}`,
    },
    lr: {
      type: "number",
      describe: "SGD learning rate",
      defaultDescription: `client_settings learning_rate/lr or ${TRAIN_DEFAULTS.lr}`,
    },
    seed: {
      type: "number",
      describe: "Seed for dropout (and shuffling)",
      defaultDescription: "random",
    },
    shuffle: {
      type: "boolean",
      describe: "Shuffle the samples every epoch (the PyTorch package does not)",
      defaultDescription: "false",
    },
    backend: BACKEND_OPTION,
  },
  async run(args, ctx) {
    const inPath = resolve(ctx.cwd, args.in_model_path);
    const outPath = resolve(ctx.cwd, args.out_model_path);
    const metadataPath = `${inPath}-metadata`;
    const options = resolveTrainOptions(args, {
      env: ctx.env,
      cwd: ctx.cwd,
      metadata: await loadMetadata(inPath),
      metadataPath,
    });
    const data = { path: options.dataPath, splits: ["train"] } as const;
    await checkOutput(outPath, inPath, options.dataPath);
    await checkOutput(`${outPath}-metadata`, inPath, options.dataPath);
    await withModel(inPath, data, options.backend, ctx, async (model, loaded, compute) => {
      const { readDenseWeights, trainModel } = compute;
      const set = loaded.train!;
      const bar = createProgressBar(ctx.stderr);
      const total = set.count * options.epochs;
      let lastLoss: number | undefined;
      const loopStart = performance.now();
      const result = trainModel(model, set, {
        batchSize: options.batchSize,
        epochs: options.epochs,
        lr: options.lr,
        seed: options.seed,
        shuffle: options.shuffle,
        onBatch: (p) => {
          if (p.loss !== undefined) {
            lastLoss = p.loss;
            if (p.batch % 100 === 0) {
              bar.finish();
              ctx.stdout.write(
                `${formatTrainLog(p.epoch, p.epochs, p.batch, p.batches, p.loss)}\n`,
              );
            }
          }
          bar.update(
            {
              label: `epoch ${p.epoch + 1}/${p.epochs}`,
              done: p.epoch * set.count + p.samples,
              total,
              loss: lastLoss,
            },
            p.batch === p.batches - 1,
          );
        },
      });
      bar.finish();
      if (ctx.env.FEDN_BENCH_TIMING) {
        // The benchmark's loop-only figure, in the PyTorch reference's format; stderr only.
        const seconds = (performance.now() - loopStart) / 1000;
        ctx.stderr.write(`bench: train loop ${seconds.toFixed(4)} s, ${result.steps} steps\n`);
      }
      const trained = readDenseWeights(model);
      checkTrainedWeights(trained, outPath);
      // FEDn reads the two as a pair: both are written, then renamed metadata first.
      await saveModelWithMetadata(
        toPytorch(trained),
        {
          num_examples: result.numExamples,
          batch_size: options.batchSize,
          epochs: options.epochs,
          lr: options.lr,
        },
        outPath,
      );
    });
    return 0;
  },
});

export const validateCommand = defineCommand({
  name: "validate",
  describe: "Write training/test loss and accuracy of a model as JSON",
  positionals: [
    { name: "in_model_path", describe: "The model to validate (.npz)" },
    { name: "out_json_path", describe: "Where to write the metrics (JSON)" },
  ],
  options: { data_path: DATA_OPTION, backend: BACKEND_OPTION },
  async run(args, ctx) {
    const inPath = resolve(ctx.cwd, args.in_model_path);
    const outPath = resolve(ctx.cwd, args.out_json_path);
    const data = { path: resolveDataPath(args.data_path, ctx), splits: ["train", "test"] } as const;
    await checkOutput(outPath, inPath, data.path);
    await withModel(inPath, data, args.backend, ctx, async (model, { train, test }, compute) => {
      const trained = compute.evaluateModel(model, train!);
      const tested = compute.evaluateModel(model, test!);
      await saveMetrics(
        {
          training_loss: trained.loss,
          training_accuracy: trained.accuracy,
          test_loss: tested.loss,
          test_accuracy: tested.accuracy,
        },
        outPath,
      );
    });
    return 0;
  },
});

export const predictCommand = defineCommand({
  name: "predict",
  describe: "Write the predicted class of every test sample as JSON",
  positionals: [
    { name: "in_model_path", describe: "The model to predict with (.npz)" },
    { name: "out_json_path", describe: "Where to write the predictions (JSON)" },
  ],
  options: { data_path: DATA_OPTION, backend: BACKEND_OPTION },
  async run(args, ctx) {
    const inPath = resolve(ctx.cwd, args.in_model_path);
    const outPath = resolve(ctx.cwd, args.out_json_path);
    const data = { path: resolveDataPath(args.data_path, ctx), splits: ["test"] } as const;
    await checkOutput(outPath, inPath, data.path);
    await withModel(inPath, data, args.backend, ctx, async (model, { test }, compute) => {
      await saveJson({ predicted_class: compute.predictClasses(model, test!) }, outPath);
    });
    return 0;
  },
});

/** The four commands of FEDn's MNIST entry point, in the Python package's order. */
export const mnistCommands = [initSeedCommand, trainCommand, validateCommand, predictCommand];

/** The drop-in program: `node dist/entrypoint.js <command> …`. */
export const mnistProgram: Program = {
  name: "entrypoint.js",
  version: VERSION,
  describe:
    "FEDn's PyTorch MNIST compute package (784-64-32-10 MLP), in TensorFlow.js: same commands, files and model layout.",
  commands: mnistCommands,
};
