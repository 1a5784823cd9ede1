/**
 * `defineComputePackage`: a package's spec in, FEDn's entry point out. The kit owns everything a
 * compute package does around its model: argument parsing (python-fire style, see
 * `cli/scaffold.ts`), client settings (command line > `<in>-metadata` > the package's defaults),
 * the data-path rule, the NaN guard, writing model and metadata as a pair, progress and the FEDn
 * log lines, lazy TF.js, backend choice and exit codes; and the `startup` program, which checks
 * the data file with the same `DataSpec.load` that `train` uses.
 *
 * Order inside every computing command: model file and data are read and checked before any
 * backend starts (a bad file fails in one line, fast), then TF.js loads, the model is built, and
 * its tensors are released whatever happens.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { NdArray } from "../codec/ndarray.js";
import { prepareClientData } from "../data/client-data.js";
import { DataError } from "../errors.js";
import { defaultDataPath, resolveDataPath } from "../fedn/data-path.js";
import { metadataPathOf } from "../fedn/settings.js";
import {
  defaultEngine,
  prepareEngine,
  resolveEngine,
  setDefaultEngine,
} from "../models/fast/options.js";
import { randomSeed } from "../models/random.js";
import {
  assertDistinctPaths,
  fileSize,
  fileStamp,
  loadMetadata,
  loadModel,
  readBytes,
  resolveWriteTarget,
  saveJson,
  saveMetrics,
  saveModel,
  saveModelWithMetadata,
} from "../node/io.js";
import { tfjsCore } from "../node/tfjs.js";
import {
  type AnyCommand,
  type CliContext,
  defineCommand,
  type OptionSpec,
  type Program,
  processContext,
  runCli,
} from "./cli.js";
import { HOST_PROTOCOL, offerToHost } from "./host.js";
import { checkLoopOptions, resolveSeed, resolveTrainOptions } from "./options.js";
import { createProgressBar } from "./progress.js";
import type { KeptData, ResidentState } from "./resident.js";
import type {
  ComputePackageSpec,
  DataSpec,
  LoadedData,
  ModelKind,
  OptionValues,
  SplitName,
  TrainLoopOptions,
} from "./spec.js";

/** What `defineComputePackage` returns: FEDn's entry point as data, and the one call that runs it. */
export interface ComputePackage {
  readonly name: string;
  /** `init_seed`, `train`, `validate`, `predict` (the Python entry point's commands). */
  readonly program: Program;
  /** The package's `startup` entry point: checks this client's data, writes demo splits if shipped. */
  readonly startup: Program;
  /** The four commands, to mount in another program (`fedn-tfjs train ...`). */
  readonly commands: readonly AnyCommand[];
  /** Runs one command line (`["train", "in.npz", "out.npz"]`) and returns the exit status. */
  run(argv: readonly string[], ctx: CliContext): Promise<number>;
  /**
   * Runs `process.argv` and sets `process.exitCode`: the one line at the end of an entry file.
   * When a host imports the file to run it in process (`fedn-tfjs client start --in-process`),
   * hands the package to the host instead and returns (see `host.ts`).
   */
  main(): Promise<void>;
  /** Runs the startup program on `process.argv` (for a separate `startup.js`). */
  mainStartup(): Promise<void>;
}

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

const ENGINE_OPTION = {
  type: "string",
  describe:
    "Engine for dense stacks: auto (our fused wasm kernel), fast, or tfjs (TensorFlow.js kernels)",
  defaultDescription: "$FEDN_TFJS_ENGINE or auto",
} as const;

const THREADS_OPTION = {
  type: "number",
  describe:
    "Threads of the fast engine, at most (training measures all of them against one and keeps the faster)",
  defaultDescription: "$FEDN_TFJS_THREADS or every core",
} as const;

/**
 * Resolves `--engine`/`--threads` (and the environment) once, before any data is read, and makes
 * it the dense models' default for this command. Layers models ignore it.
 */
function chooseEngine(
  args: { engine?: string | undefined; threads?: number | undefined },
  ctx: CliContext,
): void {
  setDefaultEngine(resolveEngine(args, ctx.env));
}

/**
 * Data files from this size on get the engine prepared (its optimized compile and worker
 * threads, about 0.15 s of CPU on other threads) while they are read; smaller ones would not
 * repay it (4 MiB is some 5,000 images, 160 steps of batch 32), and the test suite's hundreds
 * of short runs had grown 20% slower with it.
 */
const PREPARE_FROM_BYTES = 4 << 20;

/**
 * Starts preparing the chosen engine when `dataPath` is big enough (see PREPARE_FROM_BYTES);
 * `training` for a command that trains (see prepareEngine).
 */
async function prepareFor(dataPath: string, training: boolean): Promise<void> {
  // An unreadable file: reading the data will say what is wrong with it.
  const size = (await fileSize(dataPath)) ?? 0;
  // The model kind awaits it before training (see denseStack).
  if (size >= PREPARE_FROM_BYTES) void prepareEngine(defaultEngine(), { training });
}

const BACKEND_OPTION = {
  type: "string",
  // No yargs `choices`: resolveBackendRequest checks the value with a one-line message that
  // also covers FEDN_TFJS_BACKEND.
  describe:
    "TensorFlow.js backend: auto (tensorflow, then wasm, then cpu), tensorflow|node, wasm or cpu",
  defaultDescription: "$FEDN_TFJS_BACKEND or auto",
} as const;

/**
 * Reads a client's data file with the package's `DataSpec`: the one data validator, used by
 * train, validate, predict and startup alike. Warnings go to stderr.
 */
export async function readClientData(
  path: string,
  data: DataSpec,
  splits: readonly SplitName[],
  warn: (line: string) => void = () => undefined,
): Promise<LoadedData> {
  const loaded = data.load(await readBytes(path), { file: path, splits, consume: true });
  for (const split of splits) {
    if (loaded[split] === undefined) {
      throw new DataError(`${path}: the data holds no ${split} split`, { file: path });
    }
  }
  for (const warning of loaded.warnings) warn(`warning: ${warning}`);
  return loaded;
}

/** Index of the first array holding NaN or ±Infinity, and where, or undefined. */
function firstNonFinite(weights: readonly NdArray[]): [number, number, number] | undefined {
  for (const [index, array] of weights.entries()) {
    if (array.dtype !== "float32" && array.dtype !== "float64") continue;
    const data = array.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) return [index, i, data[i]!];
    }
  }
  return undefined;
}

/**
 * The NaN guard: refuses trained weights that are no longer finite (a diverged run). A combiner
 * averaging such an update would poison the global model, and FEDn 0.8 uploads the output
 * whatever the exit status, so nothing may be written.
 */
export function checkTrainedWire(
  weights: readonly NdArray[],
  output: string,
  describe: (index: number) => string = (index) => `weights "${index}"`,
): void {
  const bad = firstNonFinite(weights);
  if (bad === undefined) return;
  const [index, , value] = bad;
  throw new DataError(
    `training diverged: ${describe(index)} hold ${value} after training; nothing was written to ${output} (try a smaller --lr)`,
    { file: output, key: String(index) },
  );
}

const IGNORED = "Ignored: train's option, accepted from $ENTRYPOINT_OPTS";

const log = (ctx: CliContext) => (line: string) => ctx.stderr.write(`${line}\n`);

/**
 * Refuses, before any work, an output that cannot be written (a folder, a device, a missing
 * parent) or that is the model or the data file the command reads.
 */
async function checkOutput(outPath: string, inPath: string, dataPath: string): Promise<void> {
  await resolveWriteTarget(outPath);
  await assertDistinctPaths(outPath, [
    { path: inPath, what: "the input model" },
    { path: metadataPathOf(inPath), what: "the input model's metadata" },
    { path: dataPath, what: "the data file" },
  ]);
}

/** Chooses the backend, then loads the TF.js the kind asks for (the backend registry is set by then). */
async function loadTf<TF>(
  kind: ModelKind<unknown, TF>,
  backend: string | undefined,
  ctx: CliContext,
) {
  const { selectBackend } = await import("../node/backend.js");
  await selectBackend({ backend, env: ctx.env, log: log(ctx) });
  if (kind.tfjs !== undefined) return kind.tfjs();
  return tfjsCore() as unknown as TF;
}

/** The bundle's folder: a package may ship `demo-<dataFile>` there for `startup` to split. */
function hereDir(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return undefined;
  }
}

/**
 * Builds a compute package from its spec: FEDn's `init_seed`, `train`, `validate`, `predict` and
 * `startup`, run by `.main()`.
 *
 * @example defineComputePackage({ name, describe, dataFile: "data.npz", data, model, defaults }).main();
 */
export function defineComputePackage<
  M,
  TF = unknown,
  O extends Record<string, OptionSpec> = Record<never, OptionSpec>,
>(spec: ComputePackageSpec<M, TF, O>): ComputePackage {
  const kind = spec.model;
  const defaults = spec.defaults;
  // Checked once, here: a package with unusable defaults fails when it is defined.
  checkLoopOptions(defaults, defaults);
  const extra = (spec.options ?? {}) as O;
  const dataOption = {
    type: "string",
    describe: `The data file (${spec.dataFile})`,
    defaultDescription: `$FEDN_DATA_PATH or ${defaultDataPath(spec.dataFile)}`,
  } as const;
  // validate and predict read a model and the data and write one JSON file: the same options,
  // and the same paths resolved and checked before any work.
  const evaluationOptions = {
    data_path: dataOption,
    backend: BACKEND_OPTION,
    engine: ENGINE_OPTION,
    threads: THREADS_OPTION,
    ...extra,
  };
  async function evaluationPaths(
    args: { in_model_path: string; out_json_path: string; data_path?: string | undefined },
    ctx: CliContext,
  ) {
    const inPath = resolve(ctx.cwd, args.in_model_path);
    const outPath = resolve(ctx.cwd, args.out_json_path);
    const dataPath = resolveDataPath(args.data_path, { ...ctx, dataFile: spec.dataFile });
    await checkOutput(outPath, inPath, dataPath);
    return { inPath, outPath, dataPath };
  }
  // The wire arrays the kind expects, as the npz reader checks them from the headers; float
  // models of another width are converted by the kinds (aggregators may send float64).
  const expect = kind.wireShapes?.map(({ shape, dtype }) => ({
    shape,
    dtypes: dtype.startsWith("float")
      ? [...new Set([dtype, "float32", "float64", "float16"])]
      : [dtype],
  }));
  const pick = (args: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(extra).map((k) => [k, args[k]])) as OptionValues<O>;

  /** Reads and checks the model file and the data, then builds the model and runs `work`. */
  async function withModel<T>(
    inPath: string,
    dataPath: string,
    splits: readonly SplitName[],
    backend: string | undefined,
    ctx: CliContext,
    work: (tf: TF, model: M, data: LoadedData) => Promise<T>,
  ): Promise<T> {
    // With the expected arrays known, the reader checks count, dtypes and shapes from the headers
    // before it inflates any data: a small hostile file cannot make it allocate gigabytes.
    const weights = await loadModel(inPath, expect === undefined ? {} : { expect });
    kind.check?.(weights, inPath);
    const resident = ctx.resident;
    if (resident === undefined) {
      const data = await readClientData(dataPath, spec.data, splits, log(ctx));
      const tf = await loadTf(kind, backend, ctx);
      const model = await kind.load(tf, weights, inPath);
      try {
        return await work(tf, model, data);
      } finally {
        kind.dispose(model);
      }
    }
    // In a host's process: the data decoded by an earlier command and the live model are kept;
    // the input file's weights are written into that model, so the output still depends only
    // on the input model and the settings.
    const data = await keptData(resident, dataPath, splits, ctx);
    const tf = await loadTf(kind, backend, ctx);
    const kept = resident.model;
    let model: M;
    if (kept !== undefined && kept.kind === kind && kind.assign !== undefined) {
      model = kept.model as M;
      await kind.assign(tf, model, weights, inPath);
    } else {
      kept?.release();
      resident.model = undefined;
      const fresh = await kind.load(tf, weights, inPath);
      resident.model = { kind, model: fresh, release: () => kind.dispose(fresh) };
      model = fresh;
    }
    return await work(tf, model, data.loaded);
  }

  /** The data for these splits, decoded once per file (same path, size and mtime) in a host's process. */
  async function keptData(
    resident: ResidentState,
    path: string,
    splits: readonly SplitName[],
    ctx: CliContext,
  ): Promise<{ loaded: LoadedData; kept: KeptData }> {
    const stamp = (await fileStamp(path)) ?? "";
    const current = resident.data;
    const kept: KeptData =
      current !== undefined && current.path === path && current.stamp === stamp
        ? current
        : { path, stamp, splits: {} };
    const missing = splits.filter((s) => kept.splits[s] === undefined);
    if (missing.length > 0) {
      const loaded = await readClientData(path, spec.data, missing, log(ctx));
      for (const split of missing) kept.splits[split] = loaded[split]!;
    }
    resident.data = kept;
    return { loaded: { ...kept.splits, warnings: [] }, kept };
  }

  const initSeed = defineCommand({
    name: "init_seed",
    describe: "Write a freshly initialised model",
    positionals: [
      { name: "out_path", describe: "Where to write the seed model", default: "seed.npz" },
    ],
    options: {
      seed: {
        type: "number",
        describe: "Seed for a reproducible model",
        defaultDescription: "random",
      },
      backend: BACKEND_OPTION,
    },
    async run(args, ctx) {
      const seed = resolveSeed(args.seed) ?? randomSeed();
      const weights =
        kind.seed !== undefined
          ? kind.seed(seed)
          : await kind.init(await loadTf(kind, args.backend, ctx), seed);
      const outPath = resolve(ctx.cwd, args.out_path);
      await resolveWriteTarget(outPath);
      await saveModel(weights, outPath);
      return 0;
    },
  });

  const train = defineCommand({
    name: "train",
    describe: "Train the model on the local training split and write the update and its metadata",
    positionals: [
      { name: "in_model_path", describe: "The model to start from (.npz)" },
      { name: "out_model_path", describe: "Where to write the trained model (.npz)" },
    ],
    options: {
      data_path: dataOption,
      batch_size: {
        type: "number",
        describe: "Samples per step",
        defaultDescription: `client_settings batch_size or ${defaults.batchSize}`,
      },
      epochs: {
        type: "number",
        describe: "Passes over the training split",
        defaultDescription: `client_settings epochs or ${defaults.epochs}`,
      },
      lr: {
        type: "number",
        describe: "Learning rate",
        defaultDescription: `client_settings learning_rate/lr or ${defaults.lr}`,
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
      engine: ENGINE_OPTION,
      threads: THREADS_OPTION,
      ...extra,
    },
    async run(args, ctx) {
      chooseEngine(args, ctx);
      const inPath = resolve(ctx.cwd, args.in_model_path);
      const outPath = resolve(ctx.cwd, args.out_model_path);
      const options = resolveTrainOptions(args, {
        defaults,
        dataFile: spec.dataFile,
        env: ctx.env,
        cwd: ctx.cwd,
        metadata: await loadMetadata(inPath),
        metadataPath: metadataPathOf(inPath),
      });
      await checkOutput(outPath, inPath, options.dataPath);
      await checkOutput(metadataPathOf(outPath), inPath, options.dataPath);
      await prepareFor(options.dataPath, true);
      await withModel(
        inPath,
        options.dataPath,
        ["train"],
        options.backend,
        ctx,
        async (tf, model, data) => {
          const set = data.train!;
          const bar = createProgressBar(ctx.stderr);
          const total = set.count * options.epochs;
          let lastLoss: number | undefined;
          const metrics = ctx.resident?.onTrainMetrics;
          const loop: TrainLoopOptions = {
            batchSize: options.batchSize,
            epochs: options.epochs,
            lr: options.lr,
            seed: options.seed,
            shuffle: options.shuffle,
            onBatch: (p) => {
              if (p.loss !== undefined) {
                lastLoss = p.loss;
                const logged = p.batch % 100 === 0;
                if (logged) {
                  bar.finish();
                  ctx.stdout.write(
                    `${formatTrainLog(p.epoch, p.epochs, p.batch, p.batches, p.loss)}\n`,
                  );
                }
                // A host's per-step metrics (FEDn's log_metric), at the steps the log shows and
                // the end of each epoch; the step counts batches from 0 across epochs.
                if (metrics !== undefined && (logged || p.batch === p.batches - 1)) {
                  if (Number.isFinite(p.loss)) {
                    metrics({ train_loss: p.loss }, p.epoch * p.batches + p.batch);
                  }
                }
              }
              const done = p.epoch * set.count + p.samples;
              bar.update(
                { label: `epoch ${p.epoch + 1}/${p.epochs}`, done, total, loss: lastLoss },
                p.batch === p.batches - 1,
              );
            },
          };
          const loopStart = performance.now();
          const result =
            spec.train !== undefined
              ? await spec.train({
                  tf,
                  model,
                  kind,
                  data,
                  train: set,
                  loop,
                  options: pick(args),
                  log: log(ctx),
                })
              : await kind.train(tf, model, set, loop);
          bar.finish();
          if (ctx.env.FEDN_BENCH_TIMING) {
            // The benchmark's loop-only figure, in the PyTorch reference's format; stderr only.
            const seconds = (performance.now() - loopStart) / 1000;
            ctx.stderr.write(`bench: train loop ${seconds.toFixed(4)} s, ${result.steps} steps\n`);
          }
          const trained = kind.save(tf, model);
          checkTrainedWire(trained, outPath, kind.describeWeight);
          // FEDn reads the two as a pair: both are written, then renamed metadata first.
          await saveModelWithMetadata(
            trained,
            {
              num_examples: result.numExamples,
              batch_size: options.batchSize,
              epochs: options.epochs,
              lr: options.lr,
            },
            outPath,
          );
        },
      );
      return 0;
    },
  });

  const validate = defineCommand({
    name: "validate",
    describe: "Write training/test loss and accuracy of a model as JSON",
    positionals: [
      { name: "in_model_path", describe: "The model to validate (.npz)" },
      { name: "out_json_path", describe: "Where to write the metrics (JSON)" },
    ],
    options: evaluationOptions,
    async run(args, ctx) {
      chooseEngine(args, ctx);
      const { inPath, outPath, dataPath } = await evaluationPaths(args, ctx);
      await prepareFor(dataPath, false);
      await withModel(
        inPath,
        dataPath,
        ["train", "test"],
        args.backend,
        ctx,
        async (tf, model, data) => {
          let metrics: Record<string, number>;
          if (spec.validate !== undefined) {
            metrics = await spec.validate({
              tf,
              model,
              kind,
              data,
              options: pick(args),
              log: log(ctx),
            });
          } else {
            const trained = kind.evaluate(tf, model, data.train!);
            const tested = kind.evaluate(tf, model, data.test!);
            metrics = {
              training_loss: trained.loss,
              training_accuracy: trained.accuracy,
              test_loss: tested.loss,
              test_accuracy: tested.accuracy,
            };
          }
          await saveMetrics(metrics, outPath);
        },
      );
      return 0;
    },
  });

  const predict = defineCommand({
    name: "predict",
    describe: "Write the predicted class of every test sample as JSON",
    positionals: [
      { name: "in_model_path", describe: "The model to predict with (.npz)" },
      { name: "out_json_path", describe: "Where to write the predictions (JSON)" },
    ],
    options: evaluationOptions,
    async run(args, ctx) {
      chooseEngine(args, ctx);
      const { inPath, outPath, dataPath } = await evaluationPaths(args, ctx);
      await prepareFor(dataPath, false);
      await withModel(inPath, dataPath, ["test"], args.backend, ctx, async (tf, model, data) => {
        const output =
          spec.predict !== undefined
            ? await spec.predict({ tf, model, kind, data, options: pick(args), log: log(ctx) })
            : { predicted_class: kind.predict(tf, model, data.test!).classes };
        await saveJson(output, outPath);
      });
      return 0;
    },
  });

  const startup = defineCommand({
    name: "startup",
    describe: `Check this client's data (FEDN_DATA_PATH, else ${defaultDataPath(spec.dataFile)}), or write demo splits there`,
    positionals: [],
    options: {
      data_path: { type: "string", describe: "Data file to check; wins over FEDN_DATA_PATH" },
      // fedn.yaml passes the same $ENTRYPOINT_OPTS to startup as to train: train's options are
      // accepted here (and checked as numbers/flags) but only --data_path matters to startup.
      batch_size: { type: "number", describe: IGNORED },
      epochs: { type: "number", describe: IGNORED },
      lr: { type: "number", describe: IGNORED },
      seed: { type: "number", describe: IGNORED },
      shuffle: { type: "boolean", describe: IGNORED },
      backend: {
        type: "string",
        describe: "Ignored: the entry points' option, accepted from $ENTRYPOINT_OPTS",
      },
      ...extra,
    },
    async run(args, ctx) {
      const here = hereDir();
      const report = await prepareClientData({
        dataPath: args.data_path,
        env: ctx.env,
        cwd: ctx.cwd,
        dataFile: spec.dataFile,
        demoPath: here === undefined ? undefined : join(here, `demo-${spec.dataFile}`),
        describe: async (path) => {
          const data = await readClientData(path, spec.data, ["train", "test"], log(ctx));
          return (
            spec.data.describe?.(data) ??
            `${data.train?.count ?? 0} train and ${data.test?.count ?? 0} test rows`
          );
        },
      });
      for (const line of report.lines) ctx.stdout.write(`${line}\n`);
      return 0;
    },
  });

  const version = spec.version ?? "0.0.0";
  const commands = [initSeed, train, validate, predict];
  const program: Program = {
    name: "entrypoint.js",
    version,
    describe: spec.describe,
    commands: [...commands, startup],
  };
  const startupProgram: Program = {
    name: "startup.js",
    version,
    describe: spec.describe,
    commands: [startup],
  };
  const run = (argv: readonly string[], ctx: CliContext) => runCli(program, argv, ctx);
  // What a host importing the entry file gets instead of a run (see host.ts): plain data and a
  // function, as the host's copy of the kit is not this one.
  const hosted = { protocol: HOST_PROTOCOL, name: spec.name, run };
  return {
    name: spec.name,
    program,
    startup: startupProgram,
    commands,
    run,
    async main() {
      if (offerToHost(hosted)) return;
      process.exitCode = await runCli(program, process.argv.slice(2), processContext());
    },
    async mainStartup() {
      if (offerToHost(hosted)) return;
      process.exitCode = await runCli(
        startupProgram,
        ["startup", ...process.argv.slice(2)],
        processContext(),
      );
    },
  };
}
