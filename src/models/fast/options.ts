/**
 * Which engine a call runs on: `--engine` / `FEDN_TFJS_ENGINE` and `--threads` /
 * `FEDN_TFJS_THREADS`, validated once here. No TF.js: the CLI resolves these before loading it.
 */
import { UsageError } from "../../errors.js";
import {
  defaultThreads,
  fastEngineAvailable,
  fastEngineFlavour,
  warmFastEngine,
} from "./engine.js";
import { warmTrainingLoop } from "./loop.js";

/** What `--engine` / `FEDN_TFJS_ENGINE` accept. */
export const ENGINE_CHOICES = ["auto", "fast", "tfjs"] as const;
export type EngineRequest = (typeof ENGINE_CHOICES)[number];

/** The engine a call runs on, resolved: `fast` (our wasm kernel) or `tfjs`. */
export interface EngineChoice {
  readonly engine: "fast" | "tfjs";
  /** Threads of the fast engine. */
  readonly threads: number;
}

/**
 * Resolves `--engine` and `--threads` (command line first, then `FEDN_TFJS_ENGINE` and
 * `FEDN_TFJS_THREADS`): `auto` runs dense stacks on the fast engine wherever the runtime has
 * WebAssembly SIMD; `fast` insists (UsageError where it cannot run); `tfjs` is TF.js autodiff's
 * and kernels' own path. Threads default to `os.availableParallelism()`.
 */
export function resolveEngine(
  options: { engine?: string | undefined; threads?: number | string | undefined },
  env: Readonly<Record<string, string | undefined>> = {},
): EngineChoice {
  const fromEnv = options.engine === undefined;
  const request = options.engine ?? env.FEDN_TFJS_ENGINE ?? "auto";
  const where = fromEnv && env.FEDN_TFJS_ENGINE !== undefined ? "FEDN_TFJS_ENGINE" : "--engine";
  if (!(ENGINE_CHOICES as readonly string[]).includes(request)) {
    throw new UsageError(
      `${where} must be one of ${ENGINE_CHOICES.join(", ")}; found "${request}"`,
      { option: "engine" },
    );
  }
  const rawThreads = options.threads ?? env.FEDN_TFJS_THREADS;
  let threads = defaultThreads();
  if (rawThreads !== undefined && rawThreads !== "") {
    const n = Number(rawThreads);
    if (!Number.isSafeInteger(n) || n < 1 || n > 256) {
      const name = options.threads === undefined ? "FEDN_TFJS_THREADS" : "--threads";
      throw new UsageError(`${name} must be a whole number from 1 to 256; found "${rawThreads}"`, {
        option: "threads",
      });
    }
    threads = n;
  }
  if (request === "tfjs") return { engine: "tfjs", threads };
  const available = fastEngineAvailable();
  if (request === "fast" && !available) {
    throw new UsageError(
      `${where} fast needs WebAssembly SIMD and SharedArrayBuffer, which this runtime lacks; use --engine tfjs`,
      { option: "engine" },
    );
  }
  return { engine: available ? "fast" : "tfjs", threads };
}

/** For the log line: `fast (relaxed-simd, 2 threads)` or `tfjs`. */
export function describeEngine(choice: EngineChoice): string {
  if (choice.engine === "tfjs") return "tfjs (TensorFlow.js kernels)";
  const threads = `${choice.threads} thread${choice.threads === 1 ? "" : "s"}`;
  return `fast (wasm ${fastEngineFlavour()}, ${threads})`;
}

let processDefault: EngineChoice | undefined;

/**
 * The engine that `trainModel`, `evaluateModel` and the predictions use when their options name
 * none: the kit sets it once per command from `--engine`/`--threads` and the environment.
 */
export function setDefaultEngine(choice: EngineChoice | undefined): void {
  processDefault = choice;
}

/**
 * Starts getting `choice`'s engine ready in the background (the fast engine's optimized compile
 * and its worker threads, and for a command that trains, `training`, the training loop's
 * JavaScript: see `warmFastEngine`): the kit calls it with the command's choice before it reads
 * a data file big enough to repay it, and the model kind awaits `fastEngineWarming` before it
 * trains. Validation and prediction run no training loop, so they skip the loop's warm-up
 * (about 60-85 ms of the main thread).
 */
export function prepareEngine(
  choice: EngineChoice,
  { training = true }: { training?: boolean } = {},
): Promise<void> {
  if (choice.engine !== "fast") return Promise.resolve();
  return warmFastEngine(choice.threads, training ? warmTrainingLoop : undefined);
}

/** The engine for a call whose options name none: the kit's choice, else `auto` on every core. */
export function defaultEngine(): EngineChoice {
  return processDefault ?? resolveEngine({});
}
