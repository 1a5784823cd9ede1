/**
 * Client splits of one data set: `contiguous` (FEDn's examples: client i gets rows
 * `[(i-1)·⌊n/N⌋, i·⌊n/N⌋)`, the last `n mod N` rows go to nobody), `iid` (a seeded shuffle dealt
 * into N near-equal parts, every row used), and `dirichlet` (label skew: for each class, the
 * clients' shares are one Dirichlet(α, …, α) draw; small α gives each client few classes, large α
 * approaches IID). One proportion matrix is drawn per call and applied to both the train and the
 * test labels, so a client's test set has its train set's label mix.
 */

import type { NdArray } from "../codec/ndarray.js";
import { sizeOf } from "../codec/ndarray.js";
import { DataError, UsageError } from "../errors.js";
import { createRandom, permutation, type Random } from "../models/random.js";
import { DATASET_KEYS, type Dataset } from "./dataset.js";
import { rowsPerClient, splitDataset } from "./split.js";

/** How rows are dealt to clients (see the module comment). */
export type Partition = "contiguous" | "iid" | "dirichlet";
export const PARTITIONS: readonly Partition[] = ["contiguous", "iid", "dirichlet"];

export interface PartitionOptions {
  /** @default "contiguous" */
  readonly partition?: Partition;
  /** Concentration of the Dirichlet draw; only for `dirichlet`. @default 0.5 */
  readonly alpha?: number;
  /** Seed of the shuffle (`iid`) or the draws (`dirichlet`). @default 0 */
  readonly seed?: number;
}

export interface ResolvedPartitionOptions {
  readonly partition: Partition;
  readonly alpha: number;
  readonly seed: number;
}

/** Checks the number of clients and the partition options (UsageError naming the option). */
export function resolvePartitionOptions(
  parts: number,
  options: PartitionOptions,
): ResolvedPartitionOptions {
  if (!Number.isSafeInteger(parts) || parts < 1) {
    throw new UsageError(`the number of clients must be a positive integer, found ${parts}`, {
      option: "clients",
    });
  }
  const partition = options.partition ?? "contiguous";
  if (!PARTITIONS.includes(partition)) {
    throw new UsageError(
      `option --partition must be one of ${PARTITIONS.join(", ")}; found ${JSON.stringify(partition)}`,
      { option: "partition" },
    );
  }
  const alpha = options.alpha ?? 0.5;
  if (!Number.isFinite(alpha) || alpha <= 0) {
    throw new UsageError(`option --alpha must be a positive number; found ${alpha}`, {
      option: "alpha",
    });
  }
  if (options.alpha !== undefined && partition !== "dirichlet") {
    throw new UsageError("option --alpha applies only to --partition dirichlet", {
      option: "alpha",
    });
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new UsageError(`option --seed must be an integer in 0..4294967295; found ${seed}`, {
      option: "seed",
    });
  }
  return { partition, alpha, seed };
}

/** A standard normal draw (Box-Muller). */
function normal(rng: Random): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** A Gamma(shape, 1) draw: Marsaglia and Tsang, boosted by `U^(1/shape)` below shape 1. */
export function gammaDraw(shape: number, rng: Random): number {
  if (shape < 1) return gammaDraw(shape + 1, rng) * (1 - rng.next()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** One Dirichlet(α, …, α) draw of `parts` shares summing to 1. */
export function dirichletDraw(parts: number, alpha: number, rng: Random): Float64Array {
  const out = new Float64Array(parts);
  let sum = 0;
  for (let k = 0; k < parts; k++) {
    out[k] = gammaDraw(alpha, rng);
    sum += out[k]!;
  }
  // Tiny α can underflow every draw to 0: give the whole class to one client, which is the limit.
  if (sum === 0) out[Math.floor(rng.next() * parts)] = sum = 1;
  for (let k = 0; k < parts; k++) out[k]! /= sum;
  return out;
}

/** Rows of each client for the contiguous split (FEDn's). */
function contiguousRows(n: number, parts: number): Int32Array[] {
  const per = rowsPerClient(n, parts);
  return Array.from({ length: parts }, (_, i) => {
    const rows = new Int32Array(per);
    for (let r = 0; r < per; r++) rows[r] = i * per + r;
    return rows;
  });
}

/** A seeded shuffle dealt into `parts` parts of ⌊n/N⌋ or ⌈n/N⌉ rows (numpy's `array_split`). */
function iidRows(n: number, parts: number, rng: Random): Int32Array[] {
  const order = permutation(n, rng);
  const out: Int32Array[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = Math.floor(n / parts) + (i < n % parts ? 1 : 0);
    out.push(order.slice(start, start + size).sort());
    start += size;
  }
  return out;
}

/**
 * Splits each class's rows (in a seeded order) among clients by `shares[class]`: the first
 * `round(cumulative share · count)` rows to client 1, and so on. Rows keep the data's order
 * within a client.
 */
function rowsByShares(
  labels: ArrayLike<number>,
  shares: readonly Float64Array[],
  rng: Random,
): Int32Array[] {
  const parts = shares[0]?.length ?? 0;
  const byClass: number[][] = shares.map(() => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]!]!.push(i);
  const clients: number[][] = Array.from({ length: parts }, () => []);
  for (const [c, rows] of byClass.entries()) {
    const order = permutation(rows.length, rng);
    let cumulative = 0;
    let start = 0;
    for (let k = 0; k < parts; k++) {
      cumulative += shares[c]![k]!;
      const end = k === parts - 1 ? rows.length : Math.round(cumulative * rows.length);
      for (let r = start; r < end; r++) clients[k]!.push(rows[order[r]!]!);
      start = Math.max(start, end);
    }
  }
  return clients.map((rows) => Int32Array.from(rows).sort());
}

/** Labels of a data set as numbers, for the label-skew split. */
function labelsOf(y: NdArray, key: string): { labels: Int32Array; classes: number } {
  const labels = new Int32Array(y.shape[0] ?? 0);
  let classes = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = Number(y.data[i]!);
    if (!Number.isInteger(v) || v < 0) {
      throw new DataError(
        `"${key}" holds ${v} at index ${i}; a label-skewed split needs integer labels >= 0`,
        { key },
      );
    }
    labels[i] = v;
    classes = Math.max(classes, v + 1);
  }
  return { labels, classes };
}

/**
 * The rows of every client, per split: `train[i]` and `test[i]` are the row indices (ascending)
 * that client i+1 gets of `y_train` and `y_test`.
 *
 * @example partitionRows(yTrain, yTest, 3, { partition: "dirichlet", alpha: 0.3, seed: 1 })
 */
export function partitionRows(
  yTrain: NdArray,
  yTest: NdArray,
  parts: number,
  options: PartitionOptions = {},
): { train: Int32Array[]; test: Int32Array[] } {
  const { partition, alpha, seed } = resolvePartitionOptions(parts, options);
  const rng = createRandom(seed);
  const nTrain = yTrain.shape[0] ?? 0;
  const nTest = yTest.shape[0] ?? 0;
  let result: { train: Int32Array[]; test: Int32Array[] };
  if (partition === "contiguous") {
    result = { train: contiguousRows(nTrain, parts), test: contiguousRows(nTest, parts) };
  } else if (partition === "iid") {
    result = { train: iidRows(nTrain, parts, rng), test: iidRows(nTest, parts, rng) };
  } else {
    const train = labelsOf(yTrain, "y_train");
    const test = labelsOf(yTest, "y_test");
    const classes = Math.max(train.classes, test.classes);
    // Small α can leave a client without any row; redraw (as common benchmark code does) a
    // bounded number of times, then say what to change.
    for (let attempt = 0; ; attempt++) {
      const shares = Array.from({ length: classes }, () => dirichletDraw(parts, alpha, rng));
      result = {
        train: rowsByShares(train.labels, shares, rng),
        test: rowsByShares(test.labels, shares, rng),
      };
      if (result.train.every((r) => r.length > 0) && result.test.every((r) => r.length > 0)) break;
      if (attempt === 99) {
        throw new DataError(
          `a Dirichlet(${alpha}) split of ${nTrain} train and ${nTest} test rows among ${parts} clients left a client without rows in 100 draws; use a larger --alpha or fewer clients`,
        );
      }
    }
  }
  for (const [split, rows, n] of [
    ["y_train", result.train, nTrain],
    ["y_test", result.test, nTest],
  ] as const) {
    if (rows.some((r) => r.length === 0)) {
      throw new DataError(
        `cannot split "${split}" (${n} rows) among ${parts} clients: a client would get 0 rows`,
        { key: split },
      );
    }
  }
  return result;
}

/** The rows `rows` of an array along its first axis, copied (numpy's `a[rows]`). */
export function takeRows<A extends NdArray>(array: A, rows: Int32Array): A {
  const width = sizeOf(array.shape.slice(1));
  const Ctor = array.data.constructor as new (n: number) => A["data"];
  const data = new Ctor(rows.length * width);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    (data as Float32Array).set(
      (array.data as Float32Array).subarray(i * width, (i + 1) * width),
      r * width,
    );
  }
  return {
    dtype: array.dtype,
    shape: [rows.length, ...array.shape.slice(1)],
    data,
  } as unknown as A;
}

/**
 * Splits a data set among `parts` clients: contiguous (FEDn's way, the default), IID or
 * label-skewed Dirichlet(α). See the module comment.
 */
export function partitionDataset(
  dataset: Dataset,
  parts: number,
  options: PartitionOptions = {},
): Dataset[] {
  for (const key of DATASET_KEYS) {
    if (dataset[key].shape.length === 0) {
      throw new DataError(`"${key}" is a scalar; expected rows`, { key });
    }
  }
  // FEDn's own split: views of the data, with its messages (splitDataset checks every key).
  if (resolvePartitionOptions(parts, options).partition === "contiguous") {
    return splitDataset(dataset, parts);
  }
  const rows = partitionRows(dataset.y_train, dataset.y_test, parts, options);
  return rows.train.map((trainRows, i) => ({
    x_train: takeRows(dataset.x_train, trainRows),
    y_train: takeRows(dataset.y_train, trainRows),
    x_test: takeRows(dataset.x_test, rows.test[i]!),
    y_test: takeRows(dataset.y_test, rows.test[i]!),
  }));
}

/** A seeded shuffle of the rows of every split (x and y together). */
export function shuffleDataset(dataset: Dataset, seed: number): Dataset {
  const rng = createRandom(seed);
  const train = permutation(dataset.y_train.shape[0] ?? 0, rng);
  const test = permutation(dataset.y_test.shape[0] ?? 0, rng);
  return {
    x_train: takeRows(dataset.x_train, train),
    y_train: takeRows(dataset.y_train, train),
    x_test: takeRows(dataset.x_test, test),
    y_test: takeRows(dataset.y_test, test),
  };
}
