/**
 * Keras-style `.npz` data files (`x_train`, `y_train`, `x_test`, `y_test`, or keys of the
 * package's choosing) as a `DataSpec`: the one decoder and validator of npz data sets. Scaling
 * is explicit: the values are used as stored unless the package says `scale` (MNIST's `1 / 255`
 * is stated by `mnistNpz`, not assumed by `npzData`).
 *
 * uint8 values stay uint8 in memory (1 byte per pixel instead of 4) and are scaled one batch at a
 * time by the model. Other dtypes are converted once to float32 with the scale applied; a scale
 * of `1 / d` for an integer `d` divides by `d`, so values round exactly as numpy's `x / 255`.
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
  /**
   * The rows are images: messages say "images" and "pixels", and float pixels already in
   * [0, 1] that `scale` shrinks again get a warning (a file saved after scaling). @default false
   */
  readonly images?: boolean;
}

/** FEDn's MNIST examples' data: 28 × 28 pixels divided by 255 whatever their dtype, 10 classes. */
export const MNIST_NPZ: Required<Omit<NpzDataOptions, "keys">> = Object.freeze({
  classes: 10,
  features: 784,
  scale: 1 / 255,
  images: true,
});

/** What `mnistNpz` takes. */
export interface MnistNpzOptions {
  /** Values per image. @default 784 */
  readonly features?: number;
  /** Number of classes. @default 10 */
  readonly classes?: number;
}

/**
 * The data of FEDn's MNIST examples: `npzData` with `MNIST_NPZ`. Images are divided by 255
 * whatever their dtype, as the PyTorch package does: float images already in [0, 1] are
 * therefore divided again, exactly as in PyTorch, with a warning instead of a guess.
 *
 * @example defineComputePackage({ data: mnistNpz(), ... })
 */
export function mnistNpz(options: MnistNpzOptions = {}): DataSpec {
  return npzData({
    ...MNIST_NPZ,
    classes: options.classes ?? MNIST_NPZ.classes,
    features: options.features ?? MNIST_NPZ.features,
  });
}

/** `d` when `scale` is `1 / d` for an integer `d` (divide by it: numpy's rounding), else undefined. */
function divisorOf(scale: number): number | undefined {
  const divisor = 1 / scale;
  return Number.isInteger(divisor) ? divisor : undefined;
}

/** The nouns of messages: image sets say images and pixels. */
interface Words {
  readonly rows: string;
  readonly values: string;
}

/**
 * Class labels from an `(N,)` or `(N, 1)` integer array (or floats holding integers, as
 * `np.savetxt` round trips give), checked against `classes`.
 */
export function checkLabels(y: NdArray, key: string, classes: number, file: string): Int32Array {
  const columnVector = y.shape.length === 2 && y.shape[1] === 1;
  if (y.shape.length !== 1 && !columnVector) {
    throw new DataError(`${file}: ${key} has shape ${formatShape(y.shape)}; expected (N,)`, {
      file,
      key,
    });
  }
  const isFloat = y.dtype === "float32" || y.dtype === "float64";
  if (!isFloat && !INTEGER_DTYPES.has(y.dtype)) {
    throw new DataError(`${file}: ${key} has dtype ${y.dtype}; expected integer class labels`, {
      file,
      key,
    });
  }
  const labels = new Int32Array(y.shape[0]!);
  for (let i = 0; i < labels.length; i++) {
    const v = Number(y.data[i]!);
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new DataError(
        `${file}: ${key} holds ${v} at index ${i}; labels must be integers in 0..${classes - 1}`,
        { file, key },
      );
    }
    labels[i] = v;
  }
  return labels;
}

/**
 * Feature rows from an `(N, ...)` numeric array: uint8 as is (scaled later, batch by batch),
 * float32 as is when unscaled, anything else converted once to float32 with `scale` applied.
 * Returns the scale still to apply.
 */
function checkFeatures(
  x: NdArray,
  key: string,
  options: NpzDataOptions,
  file: string,
  words: Words,
  warnings: string[],
): { values: Uint8Array | Float32Array; inputShape: number[]; scale: number } {
  const { features } = options;
  const scale = options.scale ?? 1;
  const inputShape = x.shape.slice(1);
  if (x.shape.length < 2 || (features !== undefined && sizeOf(inputShape) !== features)) {
    throw new DataError(
      `${file}: ${key} has shape ${formatShape(x.shape)}; expected ${expectedShape(features)}`,
      { file, key },
    );
  }
  if (x.dtype === "uint8") {
    if (scale === 1) {
      warnings.push(
        `${file}: ${key} is uint8 and used unscaled (0-255); pixels usually want scale 1/255`,
      );
    }
    return { values: x.data as Uint8Array, inputShape, scale };
  }
  const isFloat = x.dtype === "float32" || x.dtype === "float64";
  if (!isFloat && !INTEGER_DTYPES.has(x.dtype)) {
    throw new DataError(
      `${file}: ${key} has dtype ${x.dtype}; expected integer ${words.values} (uint8) or float32/float64`,
      { file, key },
    );
  }
  const source = x.data;
  // Unscaled float32 is used in place; everything else is one pass from the stored values, so
  // an integer divisor rounds exactly as numpy's `x / d` (float64 in, float32 out).
  const values =
    x.dtype === "float32" && scale === 1
      ? (source as Float32Array)
      : new Float32Array(source.length);
  const divisor = divisorOf(scale);
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = Number(source[i]!);
    if (!Number.isFinite(v)) {
      throw new DataError(
        `${file}: ${key} holds ${v} at flat index ${i}; ${words.values} must be finite`,
        { file, key },
      );
    }
    if (v > max) max = v;
    values[i] = divisor === undefined ? v * scale : v / divisor;
  }
  if (options.images === true && isFloat && scale < 1 && max <= 1) {
    const how = divisor === undefined ? `multiplied by ${scale}` : `divided by ${divisor}`;
    warnings.push(
      `${file}: ${key} is ${x.dtype} with values in [0, 1]; it is ${how} like the PyTorch package does. Store uint8 pixels 0-255 to train on the usual scale.`,
    );
  }
  return { values, inputShape, scale: 1 };
}

/** The shape message's "expected": square images may come as (N, side, side). */
function expectedShape(features: number | undefined): string {
  if (features === undefined) return "(N, ...)";
  const side = Math.round(Math.sqrt(features));
  return side > 1 && side * side === features
    ? `(N, ${side}, ${side}) or (N, ${features})`
    : `(N, ${features})`;
}

/**
 * Checks and converts the splits of an npz array map: the pure part of `npzData().load`.
 *
 * @example npzSplits(decodeNpz(bytes), MNIST_NPZ, "mnist.npz", ["train"])
 */
export function npzSplits(
  arrays: ReadonlyMap<string, NdArray>,
  options: NpzDataOptions,
  file: string,
  splits: readonly SplitName[],
): LoadedData {
  const keys = { ...KERAS_NPZ_KEYS, ...options.keys };
  const words: Words =
    options.images === true
      ? { rows: "images", values: "pixels" }
      : { rows: "rows", values: "values" };
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
    const x = arrays.get(xKey)!;
    const { values, inputShape, scale } = checkFeatures(x, xKey, options, file, words, warnings);
    const y = checkLabels(arrays.get(yKey)!, yKey, options.classes, file);
    const count = x.shape[0]!;
    if (y.length !== count) {
      throw new DataError(
        `${file}: ${xKey} has ${count} ${words.rows} but ${yKey} has ${y.length} labels`,
        { file, key: yKey },
      );
    }
    if (count === 0) {
      throw new DataError(`${file}: ${xKey} holds no ${words.rows}`, { file, key: xKey });
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
  const rows = options.images === true ? "images" : "rows";
  return {
    members,
    load(bytes, { file, splits, consume }) {
      // Inflate only these splits; decode in place when the caller hands the buffer over.
      const arrays = decodeNpz(bytes, {
        name: file,
        keys: members(splits),
        consume: consume === true,
      });
      return npzSplits(arrays, options, file, splits);
    },
    describe: (data) => `${data.train?.count ?? 0} train and ${data.test?.count ?? 0} test ${rows}`,
  };
}
