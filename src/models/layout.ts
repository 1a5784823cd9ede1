/**
 * The model layout, and the ONE place where PyTorch's `(out, in)` weight matrices become
 * TensorFlow.js's `(in, out)` kernels and back. Model files follow FEDn's PyTorch example (a list
 * in `state_dict` order: weight, bias, weight, bias, …) so a TF.js client and a PyTorch client can
 * share one global model; inside TF.js the kernels are `(in, out)` so `x · W` needs no transpose.
 */

import { float16ToNumber, formatShape, type NdArray } from "../codec/ndarray.js";
import { DataError, ShapeError } from "../errors.js";

/**
 * A stack of dense layers: `sizes[0]` inputs, ReLU hidden layers, a log-softmax output of
 * `sizes[sizes.length - 1]` classes. `dropout[i]` is the drop rate after hidden layer `i`
 * (training only; 0 for none).
 */
export interface DenseStackSpec {
  readonly sizes: readonly number[];
  readonly dropout: readonly number[];
}

/** FEDn's PyTorch MNIST example: 784 → 64 → dropout 0.5 → 32 → 10. */
export const MNIST_SPEC: DenseStackSpec = Object.freeze({
  sizes: Object.freeze([784, 64, 32, 10]),
  dropout: Object.freeze([0.5, 0]),
});

/** One dense layer in TF.js layout: `kernel` is `(in, out)` row-major, `bias` is `(out,)`. */
export interface DenseLayerWeights {
  readonly inputs: number;
  readonly outputs: number;
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
}

/** The weights of a dense stack, in TF.js layout, on the JS heap. */
export type DenseWeights = readonly DenseLayerWeights[];

/** The PyTorch shapes of a model file: `[(out, in), (out,), …]` in `state_dict` order. */
export function pytorchShapes(spec: DenseStackSpec): number[][] {
  const shapes: number[][] = [];
  for (let l = 0; l + 1 < spec.sizes.length; l++) {
    const inputs = spec.sizes[l]!;
    const outputs = spec.sizes[l + 1]!;
    shapes.push([outputs, inputs], [outputs]);
  }
  return shapes;
}

/** Transposes a row-major `rows × cols` matrix into a new `cols × rows` one. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[row + c]!;
  }
  return out;
}

/** The array as float32: float64 narrowed (aggregators may send it), float16 widened. */
function asFloat32(array: NdArray, where: string, index: number): Float32Array {
  switch (array.dtype) {
    case "float32":
      return array.data as Float32Array;
    case "float64":
      return Float32Array.from(array.data as Float64Array);
    case "float16":
      return Float32Array.from(array.data as Uint16Array, float16ToNumber);
    default:
      throw new ShapeError(
        `${where}weights "${index}" has dtype ${array.dtype}; the model expects float32 (float64 and float16 are converted)`,
        { key: String(index) },
      );
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks a model file's arrays against `spec` (count, shapes, dtypes, finite values) and turns
 * them into TF.js-layout weights. `file` only names the file in error messages.
 *
 * @example fromPytorch(await loadModel("seed.npz"), MNIST_SPEC, { file: "seed.npz" })
 */
export function fromPytorch(
  arrays: readonly NdArray[],
  spec: DenseStackSpec = MNIST_SPEC,
  options: { file?: string } = {},
): DenseWeights {
  const file = options.file;
  const where = file === undefined ? "" : `${file}: `;
  const shapes = pytorchShapes(spec);
  if (arrays.length !== shapes.length) {
    throw new ShapeError(
      `${where}the model file holds ${arrays.length} arrays; the model expects ${shapes.length}: ${shapes.map(formatShape).join(", ")}`,
      { file },
    );
  }
  const floats = arrays.map((array, i) => {
    const expected = shapes[i]!;
    if (!sameShape(array.shape, expected)) {
      throw new ShapeError(
        `${where}weights "${i}" has shape ${formatShape(array.shape)}; the model expects ${formatShape(expected)}`,
        { file, key: String(i) },
      );
    }
    const data = asFloat32(array, where, i);
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new DataError(
        `${where}weights "${i}" holds ${data[bad]} at flat index ${bad}; the model needs finite weights`,
        { file, key: String(i) },
      );
    }
    return data;
  });
  const layers: DenseLayerWeights[] = [];
  for (let l = 0; l + 1 < spec.sizes.length; l++) {
    const inputs = spec.sizes[l]!;
    const outputs = spec.sizes[l + 1]!;
    layers.push({
      inputs,
      outputs,
      kernel: transpose(floats[2 * l]!, outputs, inputs),
      bias: Float32Array.from(floats[2 * l + 1]!),
    });
  }
  return layers;
}

/** Index of the first NaN or ±Infinity, or -1. */
function firstNonFinite(data: Float32Array): number {
  return data.findIndex((v) => !Number.isFinite(v));
}

/**
 * Refuses trained weights that are no longer finite (a diverged run: too high a learning rate).
 * A combiner averaging such an update would poison the global model, and FEDn 0.8 uploads the
 * output whatever the exit status, so nothing may be written: call this before saving.
 */
export function checkTrainedWeights(weights: DenseWeights, output: string): void {
  weights.forEach((layer, l) => {
    for (const [offset, data] of [
      [0, layer.kernel],
      [1, layer.bias],
    ] as const) {
      const bad = firstNonFinite(data);
      if (bad < 0) continue;
      throw new DataError(
        `training diverged: layer ${l + 1} ${offset === 0 ? "weights" : "bias"} (key "${2 * l + offset}") hold ${data[bad]} after training; nothing was written to ${output} (try a smaller --lr)`,
        { file: output, key: String(2 * l + offset) },
      );
    }
  });
}

/** TF.js-layout weights → the model file's arrays: float32, PyTorch shapes and order. */
export function toPytorch(weights: DenseWeights): NdArray<"float32">[] {
  const arrays: NdArray<"float32">[] = [];
  for (const layer of weights) {
    arrays.push(
      {
        dtype: "float32",
        shape: [layer.outputs, layer.inputs],
        data: transpose(layer.kernel, layer.inputs, layer.outputs),
      },
      { dtype: "float32", shape: [layer.outputs], data: Float32Array.from(layer.bias) },
    );
  }
  return arrays;
}
