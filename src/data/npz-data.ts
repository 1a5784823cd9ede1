/**
 * Keras-style `.npz` data files (`x_train`, `y_train`, `x_test`, `y_test`, or keys of the
 * package's choosing) as a `DataSpec`. Scaling is explicit: the values are used as stored unless
 * the package says `scale` (MNIST's `1 / 255` is stated by the MNIST packages, not assumed here).
 * uint8 values stay uint8 in memory and are scaled one batch at a time; other dtypes are
 * converted once to float32.
 */

import { formatShape, INTEGER_DTYPES, type NdArray, sizeOf } from "../codec/ndarray.js";
import { decodeNpz } from "../codec/npz.js";
import { DataError, UsageError } from "../errors.js";
import type { DataSpec, Dataset, LoadedData, SplitName } from "../kit/spec.js";

/** The array names of each split. */
export interface NpzKeys {
  readonly x_train: string;
  readonly y_train: string;
  readonly x_test: string;
  readonly y_test: string;
}

/** FEDn's (and Keras's `mnist.load_data`) names. */
export const KERAS_NPZ_KEYS: NpzKeys = Object.freeze({
  x_train: "x_train",
  y_train: "y_train",
  x_test: "x_test",
  y_test: "y_test",
});

export interface NpzDataOptions {
  /** Number of classes; labels must be integers in `0..classes-1`. */
  readonly classes: number;
  /** Array names. @default KERAS_NPZ_KEYS */
  readonly keys?: Partial<NpzKeys>;
  /** Multiply every value by this before use (`1 / 255` for 8-bit pixels). @default 1 (none) */
  readonly scale?: number;
  /** Values per row the model needs, checked when loading (e.g. 784). @default any */
  readonly features?: number;
}

/**
 * Class labels from an `(N,)` or `(N, 1)` integer array (or floats holding integers, as
 * `np.savetxt` round trips give), checked against `classes`.
 */
export function checkLabels(y: NdArray, key: string, classes: number, file: string): Int32Array {
  const columnVector = y.shape.length === 2 && y.shape[1] === 1;
  if (y.shape.length !== 1 && !columnVector) {
    throw new DataError(`${file}: "${key}" has shape ${formatShape(y.shape)}; expected (N,)`, {
      file,
      key,
    });
  }
  const isFloat = y.dtype === "float32" || y.dtype === "float64";
  if (!isFloat && !INTEGER_DTYPES.has(y.dtype)) {
    throw new DataError(`${file}: "${key}" has dtype ${y.dtype}; expected integer class labels`, {
      file,
      key,
    });
  }
  const labels = new Int32Array(y.shape[0]!);
  for (let i = 0; i < labels.length; i++) {
    const v = Number(y.data[i]!);
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new DataError(
        `${file}: "${key}" holds ${v} at index ${i}; labels must be integers in 0..${classes - 1}`,
        { file, key },
      );
    }
    labels[i] = v;
  }
  return labels;
}

/** Feature rows from an `(N, ...)` numeric array: uint8 as is, anything else as float32. */
function checkFeatures(
  x: NdArray,
  key: string,
  features: number | undefined,
  file: string,
): { values: Uint8Array | Float32Array; inputShape: number[] } {
  const inputShape = x.shape.slice(1);
  if (x.shape.length < 2 || (features !== undefined && sizeOf(inputShape) !== features)) {
    const expected =
      features === undefined ? "(N, ...)" : `(N, ...) with ${features} values per row`;
    throw new DataError(
      `${file}: "${key}" has shape ${formatShape(x.shape)}; expected ${expected}`,
      {
        file,
        key,
      },
    );
  }
  if (x.dtype === "uint8") return { values: x.data as Uint8Array, inputShape };
  const isFloat = x.dtype === "float16" || x.dtype === "float32" || x.dtype === "float64";
  if (x.dtype === "float16" || (!isFloat && !INTEGER_DTYPES.has(x.dtype))) {
    throw new DataError(
      `${file}: "${key}" has dtype ${x.dtype}; expected uint8, another integer type, float32 or float64`,
      { file, key },
    );
  }
  const values = x.dtype === "float32" ? (x.data as Float32Array) : new Float32Array(x.data.length);
  if (x.dtype !== "float32") {
    for (let i = 0; i < values.length; i++) values[i] = Number(x.data[i]!);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw new DataError(
        `${file}: "${key}" holds ${values[i]} at flat index ${i}; values must be finite`,
        { file, key },
      );
    }
  }
  return { values, inputShape };
}

/**
 * Checks and converts the splits of an npz array map: the pure part of `npzData().load`.
 *
 * @example npzSplits(decodeNpz(bytes), { classes: 10, scale: 1 / 255 }, "mnist.npz", ["train"])
 */
export function npzSplits(
  arrays: ReadonlyMap<string, NdArray>,
  options: NpzDataOptions,
  file: string,
  splits: readonly SplitName[],
): LoadedData {
  const keys = { ...KERAS_NPZ_KEYS, ...options.keys };
  const scale = options.scale ?? 1;
  const warnings: string[] = [];
  const result: { train?: Dataset; test?: Dataset } = {};
  for (const split of splits) {
    const xKey = split === "train" ? keys.x_train : keys.x_test;
    const yKey = split === "train" ? keys.y_train : keys.y_test;
    for (const key of [xKey, yKey]) {
      if (!arrays.has(key)) {
        const found = [...arrays.keys()].join(", ") || "no arrays";
        throw new DataError(`${file}: missing key "${key}" (found ${found})`, { file, key });
      }
    }
    const { values, inputShape } = checkFeatures(arrays.get(xKey)!, xKey, options.features, file);
    const y = checkLabels(arrays.get(yKey)!, yKey, options.classes, file);
    const count = arrays.get(xKey)!.shape[0]!;
    if (y.length !== count) {
      throw new DataError(`${file}: "${xKey}" has ${count} rows but "${yKey}" has ${y.length}`, {
        file,
        key: yKey,
      });
    }
    if (count === 0) {
      throw new DataError(`${file}: "${xKey}" holds no rows`, { file, key: xKey });
    }
    if (scale === 1 && values instanceof Uint8Array) {
      warnings.push(
        `${file}: "${xKey}" is uint8 and used unscaled (0-255); pixels usually want scale 1/255`,
      );
    }
    result[split] = {
      x: values,
      scale,
      features: sizeOf(inputShape),
      inputShape,
      y,
      classes: options.classes,
      count,
    };
  }
  return { ...result, warnings };
}

/**
 * A data spec for Keras-style npz files with configurable keys and explicit scaling.
 *
 * @example npzData({ classes: 10, scale: 1 / 255 }) // FEDn's mnist.npz, pixels to [0, 1]
 */
export function npzData(options: NpzDataOptions): DataSpec {
  if (!Number.isSafeInteger(options.classes) || options.classes < 2) {
    throw new UsageError(
      `npzData: classes must be an integer >= 2; found ${String(options.classes)}`,
      { option: "classes" },
    );
  }
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new UsageError(`npzData: scale must be a positive number; found ${scale}`, {
      option: "scale",
    });
  }
  if (
    options.features !== undefined &&
    (!Number.isSafeInteger(options.features) || options.features < 1)
  ) {
    throw new UsageError(
      `npzData: features must be a positive integer; found ${options.features}`,
      {
        option: "features",
      },
    );
  }
  for (const [name, key] of Object.entries(options.keys ?? {})) {
    if (typeof key !== "string" || key === "") {
      throw new UsageError(`npzData: keys.${name} must be a non-empty string`, { option: "keys" });
    }
  }
  const keys = { ...KERAS_NPZ_KEYS, ...options.keys };
  const members = (splits: readonly SplitName[]): string[] =>
    splits.flatMap((s) =>
      s === "train" ? [keys.x_train, keys.y_train] : [keys.x_test, keys.y_test],
    );
  return {
    members,
    load(bytes, { file, splits }) {
      const arrays = decodeNpz(bytes, { name: file, keys: members(splits) });
      return npzSplits(arrays, options, file, splits);
    },
  };
}
