/**
 * The data file layout of FEDn's MNIST examples: one npz with `x_train`, `y_train`, `x_test`,
 * `y_test`; images (N, 28, 28) uint8, labels (N,). This module checks that layout and builds it.
 */

import { formatShape, type NdArray, sizeOf } from "../codec/ndarray.js";
import { DataError } from "../errors.js";

/** The four arrays of an MNIST-style data file, in the order FEDn's examples write them. */
export const DATASET_KEYS = ["x_train", "y_train", "x_test", "y_test"] as const;

/** One of `DATASET_KEYS`. */
export type DatasetKey = (typeof DATASET_KEYS)[number];

/** An MNIST-style data set: images and labels of a train and a test split. */
export type Dataset = Readonly<Record<DatasetKey, NdArray>>;

/** Rows of each split, for messages and reports. */
export interface DatasetSummary {
  train: number;
  test: number;
  /** Shape of one image, e.g. `[28, 28]`. */
  imageShape: readonly number[];
}

/**
 * Checks that `arrays` (e.g. a decoded npz) hold the four keys, that images and labels of each
 * split have the same number of rows, and that labels are 1-D integers. Returns them typed.
 * Extra keys are allowed (and dropped): FEDn's examples never read them.
 */
export function toDataset(arrays: ReadonlyMap<string, NdArray>, file = "<data>"): Dataset {
  const found = [...arrays.keys()].join(", ") || "none";
  const get = (key: DatasetKey): NdArray => {
    const a = arrays.get(key);
    if (a === undefined) {
      throw new DataError(
        `${file}: missing array "${key}"; expected x_train, y_train, x_test, y_test, found ${found}`,
        { file, key },
      );
    }
    return a;
  };
  const dataset: Dataset = {
    x_train: get("x_train"),
    y_train: get("y_train"),
    x_test: get("x_test"),
    y_test: get("y_test"),
  };
  for (const split of ["train", "test"] as const) {
    const x = dataset[`x_${split}`];
    const y = dataset[`y_${split}`];
    if (x.shape.length < 2) {
      throw new DataError(
        `${file}: "x_${split}" has shape ${formatShape(x.shape)}; expected (N, height, width)`,
        { file, key: `x_${split}` },
      );
    }
    if (y.shape.length !== 1 || y.dtype.startsWith("float") || y.dtype === "bool") {
      throw new DataError(
        `${file}: "y_${split}" is ${y.dtype} ${formatShape(y.shape)}; expected integer labels of shape (N,)`,
        { file, key: `y_${split}` },
      );
    }
    if (x.shape[0] !== y.shape[0]) {
      throw new DataError(
        `${file}: "x_${split}" has ${x.shape[0]} rows but "y_${split}" has ${y.shape[0]}`,
        { file, key: `y_${split}` },
      );
    }
  }
  return dataset;
}

/** Row counts and image shape of a data set. */
export function summarizeDataset(dataset: Dataset): DatasetSummary {
  return {
    train: dataset.x_train.shape[0] ?? 0,
    test: dataset.x_test.shape[0] ?? 0,
    imageShape: dataset.x_train.shape.slice(1),
  };
}

/** The data set as `[key, array]` entries in FEDn's key order, ready for `encodeNpz`. */
export function datasetEntries(dataset: Dataset): [DatasetKey, NdArray][] {
  return DATASET_KEYS.map((key) => [key, dataset[key]]);
}

/**
 * Rows `start` to `end` (exclusive) of an array along its first axis, as numpy's `a[start:end]`.
 * The result shares memory with `array`.
 */
export function sliceRows<A extends NdArray>(array: A, start: number, end: number): A {
  const rows = array.shape[0] ?? 0;
  const lo = Math.max(0, Math.min(start, rows));
  const hi = Math.max(lo, Math.min(end, rows));
  const rowSize = sizeOf(array.shape.slice(1));
  return {
    dtype: array.dtype,
    shape: [hi - lo, ...array.shape.slice(1)],
    data: array.data.subarray(lo * rowSize, hi * rowSize),
  } as unknown as A;
}
