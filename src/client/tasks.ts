/**
 * What the client does for a task, apart from the network: run the package's entry points on a
 * model and hand back what FEDn's client would read. Two shapes share one interface:
 * - `packageTasks`: the package's `fedn.yaml` commands, run exactly as FEDn's Dispatcher runs
 *   them (`fedn/utils/dispatcher.py: run_cmd`, `client_v2.py: _process_training_request` and
 *   friends), through `src/tools/entry-point.ts`'s runner, which also checks the outputs;
 * - `inProcessTasks`: a package whose commands can run inside this process (a
 *   `defineComputePackage` package's `run(argv, ctx)`), with the same files and the same checks
 *   but no Node start-up, TF.js loaded once, the model and the decoded data kept between rounds
 *   (the kit's `ResidentState`), and the training loss per step handed to the session for
 *   `SendModelMetric`.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { parsePythonJson } from "../codec/pyjson.js";
import { DataError, FormatError, IoError } from "../errors.js";
import { findPackage, loadPackageConfig } from "../fedn/config.js";
import { metadataPathOf } from "../fedn/settings.js";
import type { CliContext } from "../kit/cli.js";
import type { ComputePackage } from "../kit/program.js";
import { ResidentState, type TrainMetricsSink } from "../kit/resident.js";
import { getTmpPath } from "../node/io.js";
import {
  checkPredictOutput,
  checkTrainOutput,
  checkValidateOutput,
  runEntryPoint,
  unpackPackage,
  type Writer,
} from "../tools/entry-point.js";

/** A trained model and the training metadata (`<out>-metadata`, holds `num_examples`). */
export interface TrainOutput {
  model: Uint8Array;
  metadata: Record<string, unknown>;
  /** Seconds the training took (`exec_training` in FEDn's meta). */
  seconds: number;
}

/**
 * The work behind FEDn's three task kinds. Implementations throw a `FednTfjsError` (one line)
 * when the work fails; the session reports it to the combiner and waits for the next task.
 */
export interface TaskRunner {
  /** The package folder (for logs). */
  readonly dir: string;
  /**
   * `train <in> <out>`: the global model in, `clientSettings` as `<in>-metadata`. `onMetrics`
   * receives per-step training metrics where the runner has them (in-process packages).
   */
  train(
    model: Uint8Array,
    clientSettings: Record<string, unknown>,
    signal: AbortSignal,
    onMetrics?: TrainMetricsSink,
  ): Promise<TrainOutput>;
  /** `validate <in> <out>`: a JSON object of metrics. */
  validate(model: Uint8Array, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** `predict <in> <out>`: a JSON object. */
  predict(model: Uint8Array, signal: AbortSignal): Promise<Record<string, unknown>>;
  /** Releases what the runner keeps between tasks (an in-process package's model). */
  close?(): void;
}

/** Options of `packageTasks`. */
export interface PackageTaskOptions {
  /** The environment the commands inherit (FEDn: the client's whole environment). */
  env: Readonly<Record<string, string | undefined>>;
  stdout?: Writer | undefined;
  stderr?: Writer | undefined;
  /** Stop a command that runs longer than this (ms). @default no limit, as FEDn */
  timeoutMs?: number | undefined;
  /** Log line sink for "Running command: ..." (FEDn's Dispatcher logs it). */
  info?: ((message: string) => void) | undefined;
  /** Log line sink for details (`--verbose`): what an in-process command kept or rebuilt. */
  debug?: ((message: string) => void) | undefined;
}

/** An entry point that did not finish: the reason, in one line. */
function failure(
  entry: string,
  exitCode: number | null,
  signal: string | null,
  timedOut: boolean,
  timeoutMs?: number,
): Error {
  if (timedOut) {
    return new IoError(
      `${entry} did not finish within ${(timeoutMs ?? 0) / 1000} s and was stopped`,
    );
  }
  if (exitCode === null) return new IoError(`${entry} was stopped by ${signal ?? "a signal"}`);
  return new IoError(`${entry} exited with status ${exitCode}`);
}

/**
 * Runs a package folder's entry points as FEDn's client does. The folder is the one that holds
 * `fedn.yaml` (or `scaleout.yaml`).
 */
export async function packageTasks(dir: string, options: PackageTaskOptions): Promise<TaskRunner> {
  const location = await findPackage(dir);
  const config = await loadPackageConfig(location.file);
  for (const entry of ["train", "validate", "predict"]) {
    if (config.entryPoints[entry] === undefined) {
      options.info?.(`${location.file} defines no "${entry}" entry point; such tasks will fail`);
    }
  }
  const run = async (
    entry: "train" | "validate" | "predict",
    model: Uint8Array,
    signal: AbortSignal,
    clientSettings?: Record<string, unknown>,
  ) => {
    const input = getTmpPath(".npz");
    const timeout =
      options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
    const stop = timeout === undefined ? signal : AbortSignal.any([signal, timeout]);
    try {
      await writeFile(input, model);
      options.info?.(`Running command: ${config.entryPoints[entry] ?? entry} <in> <out>`);
      // The runner resolves with the status of a stopped command, or (when the stop came before
      // the command started) throws the abort reason: both are a timeout when only it fired.
      const timedOut = () => timeout?.aborted === true && !signal.aborted;
      const result = await runEntryPoint({
        entry,
        path: location.dir,
        input,
        clientSettings,
        env: options.env,
        stdout: options.stdout,
        stderr: options.stderr,
        signal: stop,
      }).catch((error: unknown) => {
        if (timedOut()) throw failure(entry, null, null, true, options.timeoutMs);
        throw error;
      });
      if (result.exitCode !== 0) {
        throw failure(entry, result.exitCode, result.signal, timedOut(), options.timeoutMs);
      }
      options.info?.(`Done executing ${entry}`);
      return { output: result.output as string, seconds: result.seconds };
    } finally {
      await rm(input, { force: true });
    }
  };
  const readJson = async (path: string, what: string): Promise<Record<string, unknown>> => {
    try {
      const value = parsePythonJson(await readFile(path, "utf8"));
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        throw new DataError(`${what} ${path} is not a JSON object`, { file: path });
      }
      return value as Record<string, unknown>;
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new FormatError(`${what} ${path} is not JSON: ${error.message}`, { file: path });
      }
      throw error;
    }
  };
  return {
    dir: location.dir,
    async train(model, clientSettings, signal) {
      const { output, seconds } = await run("train", model, signal, clientSettings);
      try {
        const bytes = await readFile(output);
        const metadata = await readJson(metadataPathOf(output), "training metadata");
        return {
          model: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
          metadata,
          seconds,
        };
      } finally {
        await rm(output, { force: true });
        await rm(metadataPathOf(output), { force: true });
      }
    },
    async validate(model, signal) {
      const { output } = await run("validate", model, signal);
      try {
        return await readJson(output, "validation output");
      } finally {
        await rm(output, { force: true });
      }
    },
    async predict(model, signal) {
      const { output } = await run("predict", model, signal);
      try {
        return await readJson(output, "prediction output");
      } finally {
        await rm(output, { force: true });
      }
    },
  };
}

/** What the client needs of a `defineComputePackage` package to run its commands in this process. */
export type InProcessPackage = Pick<ComputePackage, "run">;

/**
 * The tasks of an in-process package, with FEDn's files: the model in a fresh `.npz`, the client
 * settings in `<in>-metadata`, the outputs pre-created empty and checked as FEDn's client reads
 * them. The commands run with `dir` as their working folder. The kit keeps the model and the
 * decoded data between commands (`close()` releases them). An in-process command cannot be
 * stopped half-way: on shutdown or timeout its result is dropped when it returns. `args`, when
 * given, are each entry's words from `fedn.yaml` (`loadInProcessPackage`), put before `<in> <out>`
 * as FEDn's command line has them; an entry missing there fails as a missing entry point.
 */
export function inProcessTasks(
  pkg: InProcessPackage,
  dir: string,
  options: PackageTaskOptions,
  args?: Readonly<Partial<Record<"train" | "validate" | "predict", readonly string[]>>>,
): TaskRunner {
  // Plain line sinks: the package's progress bar draws only on a terminal, and the client's log
  // is line by line.
  const out = options.stdout;
  const err = options.stderr;
  const stdout = { write: (text: string) => out?.write(text) ?? true };
  const stderr = { write: (text: string) => err?.write(text) ?? true };
  let resident = new ResidentState();
  const run = async (
    entry: "train" | "validate" | "predict",
    model: Uint8Array,
    signal: AbortSignal,
    read: (input: string, output: string) => Promise<unknown>,
    clientSettings?: Record<string, unknown>,
    onMetrics?: TrainMetricsSink,
  ) => {
    const extra = args === undefined ? [] : args[entry];
    if (extra === undefined) {
      throw new FormatError(`${dir}: fedn.yaml has no entry point "${entry}"`, {
        file: dir,
        key: `entry_points.${entry}`,
      });
    }
    const mine = resident;
    const input = getTmpPath(".npz");
    const output = getTmpPath(entry === "train" ? ".npz" : "");
    const temps = [input, metadataPathOf(input), output, metadataPathOf(output)];
    try {
      await writeFile(input, model);
      if (clientSettings !== undefined)
        await writeFile(metadataPathOf(input), JSON.stringify(clientSettings));
      options.info?.(`Running ${entry} in process`);
      const start = performance.now();
      const ctx: CliContext = {
        stdout,
        stderr,
        env: options.env,
        cwd: dir,
        signal,
        resident: mine,
      };
      mine.onTrainMetrics = onMetrics;
      const before = { model: mine.model, data: mine.data, splits: splitCount(mine) };
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((ok) => {
        if (options.timeoutMs !== undefined)
          timer = setTimeout(() => ok("timeout"), options.timeoutMs);
      });
      const running = pkg.run([entry, ...extra, input, output], ctx);
      const status = await Promise.race([running, timeout]).finally(() => {
        clearTimeout(timer);
        mine.onTrainMetrics = undefined;
      });
      if (status === "timeout") {
        // The command goes on in the background with the kept model: later commands get a
        // state of their own, and this one is released when the command returns.
        if (resident === mine) resident = new ResidentState();
        void running.catch(() => undefined).finally(() => mine.close());
        throw failure(entry, null, null, true, options.timeoutMs);
      }
      if (status !== 0) throw failure(entry, status, null, false);
      const seconds = (performance.now() - start) / 1000;
      const keptModel = before.model !== undefined && mine.model === before.model;
      const keptData =
        before.data !== undefined &&
        mine.data === before.data &&
        splitCount(mine) === before.splits;
      options.debug?.(
        `${entry} in process: ${keptModel ? "kept the model" : "built the model"}, ${keptData ? "kept the data" : "decoded the data file"}`,
      );
      if (entry === "train") await checkTrainOutput(input, output);
      else if (entry === "validate") await checkValidateOutput(output);
      else await checkPredictOutput(output);
      options.info?.(`Done executing ${entry}`);
      return { value: await read(input, output), seconds };
    } finally {
      for (const t of temps) await rm(t, { force: true });
    }
  };
  const readJson = async (path: string): Promise<Record<string, unknown>> =>
    parsePythonJson(await readFile(path, "utf8")) as Record<string, unknown>;
  return {
    dir,
    async train(model, clientSettings, signal, onMetrics) {
      const { value, seconds } = await run(
        "train",
        model,
        signal,
        async (_input, output) => ({
          model: new Uint8Array(await readFile(output)),
          metadata: await readJson(metadataPathOf(output)),
        }),
        clientSettings,
        onMetrics,
      );
      return { ...(value as { model: Uint8Array; metadata: Record<string, unknown> }), seconds };
    },
    async validate(model, signal) {
      return (await run("validate", model, signal, (_i, o) => readJson(o))).value as Record<
        string,
        unknown
      >;
    },
    async predict(model, signal) {
      return (await run("predict", model, signal, (_i, o) => readJson(o))).value as Record<
        string,
        unknown
      >;
    },
    close: () => resident.close(),
  };
}

/** How many splits of the data file the kit holds decoded. */
function splitCount(state: ResidentState): number {
  return Object.keys(state.data?.splits ?? {}).length;
}

/**
 * Unpacks a downloaded package (with the hardened extractor behind `unpackPackage`) into a fresh
 * folder and returns it; the caller removes it. The archive name decides the format check.
 */
export async function unpackDownloaded(fileName: string, bytes: Uint8Array): Promise<string> {
  const suffix = /\.tar\.gz$/i.test(fileName) ? ".tar.gz" : ".tgz";
  const archive = getTmpPath(suffix);
  try {
    await writeFile(archive, bytes);
    return await unpackPackage(archive);
  } finally {
    await rm(archive, { force: true });
  }
}

/**
 * Runs `startup` once, with no arguments, in the package folder (FEDn:
 * `fedn_client.py: get_or_set_environment`); a package without one is fine. Resolves false when
 * `fedn.yaml` has no startup; throws when it fails.
 */
export async function runStartup(
  dir: string,
  options: PackageTaskOptions,
  signal: AbortSignal,
): Promise<boolean> {
  const location = await findPackage(dir);
  const config = await loadPackageConfig(location.file);
  if (config.entryPoints.startup === undefined) return false;
  options.info?.(`Running command: ${config.entryPoints.startup}`);
  const result = await runEntryPoint({
    entry: "startup",
    path: location.dir,
    env: options.env,
    stdout: options.stdout,
    stderr: options.stderr,
    signal,
  });
  if (result.exitCode !== 0) throw failure("startup", result.exitCode, result.signal, false);
  options.info?.("Done executing startup");
  return true;
}
