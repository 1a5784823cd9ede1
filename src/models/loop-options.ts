/**
 * A training loop's options, checked and defaulted inside the library call: the dense and layers
 * loops call `checkLoopOptions` first, so a caller who skips the CLI gets the same `UsageError`s
 * (`batchSize: 0` would otherwise loop forever). The kit's `resolveTrainOptions` uses the same
 * checks for the command line.
 */
import { UsageError } from "../errors.js";
import type { TrainDefaults, TrainLoopOptions } from "../kit/spec.js";

/** A check of one numeric option. */
export type Check = (value: number) => boolean;
export const positiveInteger: Check = (v) => Number.isSafeInteger(v) && v > 0;
export const positiveFinite: Check = (v) => Number.isFinite(v) && v > 0;
const seedRange: Check = (v) => Number.isSafeInteger(v) && v >= 0 && v < 2 ** 32;

/** The value, or a `UsageError` naming the option and what it must be. */
export function checkOption(name: string, value: number, check: Check, expected: string): number {
  if (!check(value)) {
    throw new UsageError(`option --${name} must be ${expected}; found ${value}`, { option: name });
  }
  return value;
}

/** `init_seed --seed`: checked like train's. */
export function resolveSeed(seed: number | undefined): number | undefined {
  return seed === undefined
    ? undefined
    : checkOption("seed", seed, seedRange, "an integer in 0..4294967295");
}

/**
 * Checks a training loop's options and fills the loop's defaults: what the dense and layers loops
 * call first, so `trainModel(model, set, { batchSize: 0 })` is a `UsageError`, not an endless
 * loop. `defaults` are the caller's (a package's), not the library's.
 */
export function checkLoopOptions(
  options: Partial<TrainLoopOptions>,
  defaults: TrainDefaults,
): TrainLoopOptions {
  const number = (
    name: string,
    value: number | undefined,
    fallback: number,
    check: Check,
    expected: string,
  ) =>
    value === undefined
      ? checkOption(name, fallback, check, expected)
      : checkOption(name, value, check, expected);
  const batchSize = number(
    "batch_size",
    options.batchSize,
    defaults.batchSize,
    positiveInteger,
    "a positive integer",
  );
  const epochs = number(
    "epochs",
    options.epochs,
    defaults.epochs,
    positiveInteger,
    "a positive integer",
  );
  const lr = number("lr", options.lr, defaults.lr, positiveFinite, "a positive number");
  const seed = resolveSeed(options.seed);
  return {
    batchSize,
    epochs,
    lr,
    seed,
    shuffle: options.shuffle === true,
    onBatch: options.onBatch,
  };
}
