/**
 * The data a compute package trains on: a Keras-style npz map (`x_train`, `y_train`, `x_test`,
 * `y_test`), checked and turned into compact image sets. Pure: the CLI reads the file with
 * `loadNpz` and hands the map here.
 *
 * Pixels: the PyTorch package divides whatever it loads by 255, so we do the same for every
 * dtype. uint8 images (the normal case) stay uint8 and are scaled one batch at a time, so the data
 * set costs 1 byte per pixel in memory instead of 4. Other dtypes are converted once to float32
 * `value / 255`. Float images already scaled to [0, 1] are therefore scaled again, exactly as in
 * PyTorch; the loader warns about that case instead of guessing.
 */

import { formatShape, INTEGER_DTYPES, type NdArray, sizeOf } from "../codec/ndarray.js";
import { decodeNpz } from "../codec/npz.js";
import { DataError } from "../errors.js";
import type { DataSpec, Dataset, LoadedData as KitData } from "../kit/spec.js";

/** One split: `count` images of `features` values each, row-major, and their class labels. */
export interface ImageSet {
  readonly count: number;
  readonly features: number;
  /** uint8 pixels (divided by `divisor` when used) or float32 values already scaled. */
  readonly pixels: Uint8Array | Float32Array;
  /** What uint8 `pixels` are divided by when used: the data's scale (255 for MNIST). */
  readonly divisor: number;
  readonly labels: Int32Array;
}

export type SplitName = "train" | "test";

export interface LoadDataOptions {
  /** Names the file in error messages. */
  readonly file?: string | undefined;
  /** Values per image. @default 784 */
  readonly features?: number;
  /** Number of classes; labels must be integers in `0..classes-1`. @default 10 */
  readonly classes?: number;
  /** Which splits to load; `train` needs only `x_train`/`y_train`. @default ["train", "test"] */
  readonly splits?: readonly SplitName[];
}

export interface LoadedData {
  readonly train?: ImageSet;
  readonly test?: ImageSet;
  /** Things that are legal but probably wrong (float images in [0, 1]), for the CLI to print. */
  readonly warnings: readonly string[];
}

/**
 * Checks and converts the splits of a Keras-style npz map. Throws a `DataError` naming the key for
 * a missing key, a wrong shape, a label outside `0..classes-1` or not an integer, NaN pixels, an
 * empty split, or images and labels of different lengths.
 *
 * @example const { train, test } = loadMnistData(await loadNpz("mnist.npz"), { file: "mnist.npz" })
 */
export function loadMnistData(
  arrays: ReadonlyMap<string, NdArray>,
  options: LoadDataOptions = {},
): LoadedData {
  const features = options.features ?? 784;
  const classes = options.classes ?? 10;
  const splits = options.splits ?? ["train", "test"];
  const where = options.file === undefined ? "" : `${options.file}: `;
  const warnings: string[] = [];
  const result: { train?: ImageSet; test?: ImageSet } = {};
  for (const split of splits) {
    const xKey = `x_${split}`;
    const yKey = `y_${split}`;
    const x = arrays.get(xKey);
    const y = arrays.get(yKey);
    for (const [key, value] of [
      [xKey, x],
      [yKey, y],
    ] as const) {
      if (value === undefined) {
        const found = [...arrays.keys()].join(", ") || "no arrays";
        throw new DataError(`${where}missing key "${key}" (found ${found})`, {
          file: options.file,
          key,
        });
      }
    }
    const images = checkImages(x!, xKey, features, where, options.file, warnings);
    const labels = checkLabels(y!, yKey, classes, where, options.file);
    if (labels.length !== images.count) {
      throw new DataError(
        `${where}${xKey} has ${images.count} images but ${yKey} has ${labels.length} labels`,
        { file: options.file, key: yKey },
      );
    }
    if (images.count === 0) {
      throw new DataError(`${where}${xKey} holds no images`, { file: options.file, key: xKey });
    }
    // uint8 pixels stay raw and are divided by 255 one batch at a time; others are divided here.
    const divisor = images.pixels instanceof Uint8Array ? 255 : 1;
    result[split] = { count: images.count, features, pixels: images.pixels, divisor, labels };
  }
  return { ...result, warnings };
}

function checkImages(
  x: NdArray,
  key: string,
  features: number,
  where: string,
  file: string | undefined,
  warnings: string[],
): { count: number; pixels: Uint8Array | Float32Array } {
  const side = Math.round(Math.sqrt(features));
  const expected =
    side * side === features ? `(N, ${side}, ${side}) or (N, ${features})` : `(N, ${features})`;
  if (x.shape.length < 2 || sizeOf(x.shape.slice(1)) !== features) {
    throw new DataError(`${where}${key} has shape ${formatShape(x.shape)}; expected ${expected}`, {
      file,
      key,
    });
  }
  const count = x.shape[0]!;
  if (x.dtype === "uint8") return { count, pixels: x.data as Uint8Array };
  const isFloat = x.dtype === "float32" || x.dtype === "float64";
  if (!isFloat && !INTEGER_DTYPES.has(x.dtype)) {
    throw new DataError(
      `${where}${key} has dtype ${x.dtype}; expected integer pixels (uint8) or float32/float64`,
      { file, key },
    );
  }
  const pixels = new Float32Array(count * features);
  let max = Number.NEGATIVE_INFINITY;
  const source = x.data;
  for (let i = 0; i < pixels.length; i++) {
    const v = Number(source[i]!);
    if (!Number.isFinite(v)) {
      throw new DataError(`${where}${key} holds ${v} at flat index ${i}; pixels must be finite`, {
        file,
        key,
      });
    }
    if (v > max) max = v;
    pixels[i] = v / 255;
  }
  if (isFloat && max <= 1) {
    warnings.push(
      `${where}${key} is ${x.dtype} with values in [0, 1]; it is divided by 255 like the PyTorch package does. Store uint8 pixels 0-255 to train on the usual scale.`,
    );
  }
  return { count, pixels };
}

function checkLabels(
  y: NdArray,
  key: string,
  classes: number,
  where: string,
  file: string | undefined,
): Int32Array {
  const columnVector = y.shape.length === 2 && y.shape[1] === 1;
  if (y.shape.length !== 1 && !columnVector) {
    throw new DataError(`${where}${key} has shape ${formatShape(y.shape)}; expected (N,)`, {
      file,
      key,
    });
  }
  const isFloat = y.dtype === "float32" || y.dtype === "float64";
  if (!isFloat && !INTEGER_DTYPES.has(y.dtype)) {
    throw new DataError(`${where}${key} has dtype ${y.dtype}; expected integer class labels`, {
      file,
      key,
    });
  }
  const source = y.data;
  const labels = new Int32Array(y.shape[0]!);
  for (let i = 0; i < labels.length; i++) {
    const v = Number(source[i]!);
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new DataError(
        `${where}${key} holds ${v} at index ${i}; labels must be integers in 0..${classes - 1}`,
        { file, key },
      );
    }
    labels[i] = v;
  }
  return labels;
}

/** What `mnistNpz` takes. */
export interface MnistNpzOptions {
  /** Values per image. @default 784 */
  readonly features?: number;
  /** Number of classes. @default 10 */
  readonly classes?: number;
}

/**
 * The data of FEDn's MNIST examples as a `DataSpec`: an npz with `x_train`, `y_train`, `x_test`,
 * `y_test`, images divided by 255 whatever their dtype (as the PyTorch package does; see the
 * module comment), labels integers below `classes`.
 */
export function mnistNpz(options: MnistNpzOptions = {}): DataSpec {
  const features = options.features ?? 784;
  const classes = options.classes ?? 10;
  const members = (splits: readonly SplitName[]) =>
    splits.flatMap((split) => [`x_${split}`, `y_${split}`]);
  return {
    members,
    load(bytes, { file, splits }): KitData {
      // The kit hands over a buffer it read and owns: decode in place, inflate only these splits.
      const arrays = decodeNpz(bytes, { name: file, keys: members(splits), consume: true });
      const loaded = loadMnistData(arrays, { file, features, classes, splits });
      const result: { train?: Dataset; test?: Dataset } = {};
      for (const split of splits) {
        const set = loaded[split];
        if (set === undefined) continue;
        const shape = arrays.get(`x_${split}`)?.shape.slice(1) ?? [features];
        result[split] = {
          x: set.pixels,
          // uint8 pixels stay raw (1 byte each) and are scaled one batch at a time.
          scale: set.pixels instanceof Uint8Array ? 1 / 255 : 1,
          features,
          inputShape: shape,
          y: set.labels,
          classes,
          count: set.count,
        };
      }
      return { ...result, warnings: loaded.warnings };
    },
    describe: (data) => `${data.train?.count ?? 0} train and ${data.test?.count ?? 0} test images`,
  };
}
