/**
 * Every option of a compute package's commands is resolved and validated here, once: command line
 * first, then the round's `client_settings` (FEDn ≥ 0.19 writes them to `<in_model>-metadata`),
 * then the environment, then the package's own defaults. The training loops call
 * `checkLoopOptions`, so a library caller who skips the CLI gets the same checks. Nothing
 * downstream re-checks a value.
 */

import { toPythonJson } from "../codec/pyjson.js";
import { DataError } from "../errors.js";
import { resolveDataPath } from "../fedn/data-path.js";
import {
  type Check,
  checkOption,
  positiveFinite,
  positiveInteger,
  resolveSeed,
} from "../models/loop-options.js";
import { type BackendRequest, resolveBackendRequest } from "../node/backend.js";
import type { TrainDefaults } from "./spec.js";

/** The command-line values as parsed: `undefined` means "not given". */
export interface TrainArgs {
  readonly data_path?: string | undefined;
  readonly batch_size?: number | undefined;
  readonly epochs?: number | undefined;
  readonly lr?: number | undefined;
  readonly seed?: number | undefined;
  readonly shuffle?: boolean | undefined;
  readonly backend?: string | undefined;
}

export interface ResolveContext {
  /** The package's defaults for batch size, epochs and learning rate. */
  readonly defaults: TrainDefaults;
  /** The package's data file name: the default path is `data/clients/1/<dataFile>`. */
  readonly dataFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The parsed `<in_model>-metadata`, if the file exists. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /** Its path, for error messages. */
  readonly metadataPath?: string | undefined;
}

export interface ResolvedTrainOptions {
  readonly dataPath: string;
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
  readonly seed: number | undefined;
  readonly shuffle: boolean;
  readonly backend: BackendRequest;
  /** Where each of batchSize/epochs/lr came from, for the log. */
  readonly sources: Readonly<
    Record<"batchSize" | "epochs" | "lr", "option" | "metadata" | "default">
  >;
}

/** A client_settings value: a number, or a string that is one (settings come from JSON/YAML). */
function fromMetadata(
  context: ResolveContext,
  keys: readonly string[],
  check: Check,
  expected: string,
): number | undefined {
  const metadata = context.metadata;
  if (metadata === undefined) return undefined;
  for (const key of keys) {
    if (!(key in metadata)) continue;
    const raw = metadata[key];
    const value =
      typeof raw === "number"
        ? raw
        : typeof raw === "string" && raw.trim() !== ""
          ? Number(raw)
          : NaN;
    if (!check(value)) {
      const where = context.metadataPath ?? "client settings";
      throw new DataError(`${where}: "${key}" must be ${expected}; found ${toPythonJson(raw)}`, {
        file: context.metadataPath,
        key,
      });
    }
    return value;
  }
  return undefined;
}

/**
 * Resolves and validates `train`'s options. A value given on the command line wins; else a known
 * client_settings key (`learning_rate` or `lr`, `batch_size`, `epochs`); else the package's default.
 * Throws `UsageError` naming the option, or `DataError` naming the metadata key.
 *
 * @example resolveTrainOptions({ lr: 0.1 }, { defaults, dataFile: "mnist.npz", env, cwd })
 */
export function resolveTrainOptions(
  args: TrainArgs,
  context: ResolveContext,
): ResolvedTrainOptions {
  const pick = (
    given: number | undefined,
    name: string,
    keys: readonly string[],
    check: Check,
    expected: string,
    fallback: number,
  ): [number, "option" | "metadata" | "default"] => {
    if (given !== undefined) return [checkOption(name, given, check, expected), "option"];
    const meta = fromMetadata(context, keys, check, expected);
    if (meta !== undefined) return [meta, "metadata"];
    return [fallback, "default"];
  };
  const [batchSize, batchSource] = pick(
    args.batch_size,
    "batch_size",
    ["batch_size"],
    positiveInteger,
    "a positive integer",
    context.defaults.batchSize,
  );
  const [epochs, epochsSource] = pick(
    args.epochs,
    "epochs",
    ["epochs"],
    positiveInteger,
    "a positive integer",
    context.defaults.epochs,
  );
  const [lr, lrSource] = pick(
    args.lr,
    "lr",
    ["learning_rate", "lr"],
    positiveFinite,
    "a positive number",
    context.defaults.lr,
  );
  const seed = resolveSeed(args.seed);
  return {
    dataPath: resolveDataPath(args.data_path, context),
    batchSize,
    epochs,
    lr,
    seed,
    shuffle: args.shuffle === true,
    backend: resolveBackendRequest(args.backend, context.env),
    sources: { batchSize: batchSource, epochs: epochsSource, lr: lrSource },
  };
}

// The loops' own checks live with the loops (models/); the kit resolves on top of them.
export { checkLoopOptions, resolveSeed } from "../models/loop-options.js";
