/**
 * FEDn's numpy helper (`fedn/utils/helpers/plugins/numpyhelper.py`) in TypeScript: a model is an
 * ordered list of arrays, saved as an `.npz` with keys "0".."N-1", and the aggregators combine
 * models element-wise with the functions below. Pure: bytes in, bytes out (see `io.ts` for
 * files).
 *
 * Arithmetic follows numpy's rules for the model dtypes: float32 stays float32 and every
 * operation is rounded to float32 after each step as numpy's float32 loops do (a Python scalar
 * such as `n` or `a` is cast to the array's dtype first, numpy >= 2 NEP 50 and numpy 1.x alike),
 * float64 stays float64, float32 with float64 gives float64. Other dtypes are refused: FEDn
 * models are float arrays, and numpy's integer promotion rules are not worth guessing at.
 * Unlike Python's `zip`, models of different lengths or arrays of different shapes are an error
 * instead of a silent truncation or broadcast.
 */

import { type DType, formatShape, type NdArray, sizeOf } from "../codec/ndarray.js";
import {
  type DecodeNpzOptions,
  decodeNpz,
  type EncodeNpzOptions,
  encodeNpz,
  layoutNpz,
  type NpzLayout,
} from "../codec/npz.js";
import { FormatError, ShapeError } from "../errors.js";

/** A model: the ordered list of arrays FEDn's numpy helper saves and loads. */
export type Model = readonly NdArray[];

/** A float array, the only kind the arithmetic takes. */
export type FloatArray = NdArray<"float32"> | NdArray<"float64">;

export interface EncodeModelOptions {
  /**
   * Deflate the members, as `numpyhelper.save` (`np.savez_compressed`) does.
   * @default true
   */
  readonly compress?: boolean;
  /** zlib level 1-9 for deflated members. @default 1 */
  readonly level?: number;
}

/**
 * Encodes a model as FEDn's `numpyhelper.save` does: members "0.npy".."N-1.npy", deflated by
 * default.
 *
 * @example
 * const bytes = encodeModel([weights, bias]); // np.load(...)["0"] is weights
 */
export function encodeModel(arrays: Model, options: EncodeModelOptions = {}): Uint8Array {
  return encodeNpz(modelEntries(arrays), modelNpzOptions(options));
}

/** {@link encodeModel} laid out for writing to a file; see {@link layoutNpz}. */
export function layoutModel(arrays: Model, options: EncodeModelOptions = {}): NpzLayout {
  return layoutNpz(modelEntries(arrays), modelNpzOptions(options));
}

function modelEntries(arrays: Model): [string, NdArray][] {
  return arrays.map((a, i) => [String(i), a]);
}

function modelNpzOptions(options: EncodeModelOptions): EncodeNpzOptions {
  return {
    compress: options.compress ?? true,
    ...(options.level === undefined ? {} : { level: options.level }),
  };
}

/**
 * Decodes a model as FEDn's `numpyhelper.load` does: the arrays of keys "0".."N-1" in that
 * order. Stricter than the Python, which fails with a bare KeyError: a missing index, an extra
 * or non-numeric key is a FormatError that names it.
 */
export function decodeModel(bytes: Uint8Array, options: DecodeNpzOptions = {}): NdArray[] {
  const name = options.name ?? "model.npz";
  const arrays = decodeNpz(bytes, { ...options, name });
  const count = arrays.size;
  const expected = count === 0 ? "no keys" : `keys "0".."${count - 1}"`;
  for (const key of arrays.keys()) {
    const index = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : -1;
    if (index < 0 || index >= count) {
      const why =
        index < 0
          ? "is not an array index"
          : `is out of range for a model of ${count} arrays (expected ${expected})`;
      throw new FormatError(
        `${name}: "${key}": unexpected key: it ${why}; a model's keys are "0".."N-1"`,
        {
          file: name,
          key,
        },
      );
    }
  }
  const model: NdArray[] = [];
  for (let i = 0; i < count; i++) {
    const array = arrays.get(String(i));
    // Unreachable after the check above (N distinct keys in 0..N-1), kept for the type.
    if (array === undefined)
      throw new FormatError(`${name}: "${i}": key missing`, { file: name, key: String(i) });
    model.push(array);
  }
  return model;
}

// ---------------------------------------------------------------------------------------------
// Arithmetic

function asFloat(array: NdArray, where: string): FloatArray {
  if (array.dtype !== "float32" && array.dtype !== "float64") {
    throw new ShapeError(
      `${where}: arithmetic needs float32 or float64 arrays, found ${array.dtype}`,
    );
  }
  return array as FloatArray;
}

function pairs(m1: Model, m2: Model, op: string): [FloatArray, FloatArray][] {
  if (m1.length !== m2.length) {
    throw new ShapeError(`${op}: the models have ${m1.length} and ${m2.length} arrays`);
  }
  return m1.map((a, i) => {
    const x = asFloat(a, `${op}: array ${i} of the first model`);
    const y = asFloat(m2[i]!, `${op}: array ${i} of the second model`);
    if (x.shape.length !== y.shape.length || x.shape.some((d, k) => d !== y.shape[k])) {
      throw new ShapeError(
        `${op}: array ${i} has shape ${formatShape(x.shape)} in the first model and ${formatShape(y.shape)} in the second`,
        { key: String(i) },
      );
    }
    return [x, y];
  });
}

/** float32 when both are float32, else float64: numpy's promotion for these two. */
function resultType(a: DType, b: DType = a): "float32" | "float64" {
  return a === "float32" && b === "float32" ? "float32" : "float64";
}

/** The rounding of one numpy loop step for the result dtype. */
function rounder(dtype: "float32" | "float64"): (x: number) => number {
  return dtype === "float32" ? Math.fround : (x: number) => x;
}

function make(dtype: "float32" | "float64", shape: readonly number[], length: number): FloatArray {
  const data = dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
  return { dtype, shape: [...shape], data } as FloatArray;
}

/**
 * `f` gets the rounding of the result dtype `r`, and those of each operand's own dtype (`rx`,
 * `ry`) for a sub-expression numpy evaluates on one operand alone (`m1 * a` stays float32 when
 * `m1` is, even if `m2` is float64).
 */
function binary(
  m1: Model,
  m2: Model,
  op: string,
  f: (
    x: number,
    y: number,
    r: (v: number) => number,
    rx: (v: number) => number,
    ry: (v: number) => number,
  ) => number,
): NdArray[] {
  return pairs(m1, m2, op).map(([x, y]) => {
    const dtype = resultType(x.dtype, y.dtype);
    const out = make(dtype, x.shape, x.data.length);
    const r = rounder(dtype);
    const rx = rounder(x.dtype);
    const ry = rounder(y.dtype);
    const xd = x.data;
    const yd = y.data;
    const od = out.data;
    for (let i = 0; i < od.length; i++) od[i] = f(xd[i]!, yd[i]!, r, rx, ry);
    return out;
  });
}

function unary(
  m: Model,
  op: string,
  f: (x: number, r: (v: number) => number) => number,
): NdArray[] {
  return m.map((a, i) => {
    const x = asFloat(a, `${op}: array ${i}`);
    const out = make(x.dtype, x.shape, x.data.length);
    const r = rounder(x.dtype);
    const xd = x.data;
    const od = out.data;
    for (let j = 0; j < od.length; j++) od[j] = f(xd[j]!, r);
    return out;
  });
}

function checkScalar(value: number, name: string, op: string): void {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new ShapeError(`${op}: ${name} must be a number, got ${String(value)}`);
  }
}

/**
 * `increment_average(m1, m2, n, N)`: the running weighted average FedAvg keeps,
 * `m1 + n * (m2 - m1) / N` element-wise, where `n` is the examples behind `m2` and `N` the
 * examples accumulated so far including them.
 */
export function incrementAverage(m1: Model, m2: Model, n: number, N: number): NdArray[] {
  checkScalar(n, "n", "incrementAverage");
  checkScalar(N, "N", "incrementAverage");
  return binary(m1, m2, "incrementAverage", (x, y, r) => r(x + r(r(r(n) * r(y - x)) / r(N))));
}

/** `add(m1, m2, a=1.0, b=1.0)`: `m1 * a + m2 * b` element-wise. */
export function add(m1: Model, m2: Model, a = 1, b = 1): NdArray[] {
  checkScalar(a, "a", "add");
  checkScalar(b, "b", "add");
  // numpy computes `m1 * a` in m1's dtype and `m2 * b` in m2's before promoting the sum.
  return binary(m1, m2, "add", (x, y, r, rx, ry) => r(rx(x * rx(a)) + ry(y * ry(b))));
}

/** `subtract(m1, m2, a=1.0, b=1.0)`: `m1 * a - m2 * b` element-wise (numpy-helper: `add(m1, m2, a, -b)`). */
export function subtract(m1: Model, m2: Model, a = 1, b = 1): NdArray[] {
  checkScalar(b, "b", "subtract");
  return add(m1, m2, a, -b);
}

/** `multiply(m1, m2)`: `m1 * m2` element-wise. */
export function multiply(m1: Model, m2: Model): NdArray[] {
  return binary(m1, m2, "multiply", (x, y, r) => r(x * y));
}

/** `divide(m1, m2)`: `m1 / m2` element-wise (IEEE: x/0 is ±Infinity or NaN, as numpy gives). */
export function divide(m1: Model, m2: Model): NdArray[] {
  return binary(m1, m2, "divide", (x, y, r) => r(x / y));
}

/** `sqrt(m1)`: element-wise square root (NaN for negative elements, as numpy gives). */
export function sqrt(m: Model): NdArray[] {
  return unary(m, "sqrt", (x, r) => r(Math.sqrt(x)));
}

/**
 * `power(m1, a)`: every element raised to `a`. For float32, computed in double then rounded, so
 * a result can differ from numpy's single-precision `powf` by one unit in the last place.
 */
export function power(m: Model, a: number): NdArray[] {
  checkScalar(a, "a", "power");
  return unary(m, "power", (x, r) => r(x ** r(a)));
}

/** `sign(m)`: -1, 0 or 1 per element (NaN stays NaN), in the array's dtype. */
export function sign(m: Model): NdArray[] {
  return unary(m, "sign", (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : Number.NaN));
}

/**
 * `ones(m1, a)`: arrays shaped like `m`'s, filled with `a`. Like `np.ones(shape) * a`, they are
 * float64 whatever `m`'s dtype.
 */
export function ones(m: Model, a = 1): NdArray[] {
  checkScalar(a, "a", "ones");
  return m.map((x) => {
    const data = new Float64Array(sizeOf(x.shape)).fill(a);
    return { dtype: "float64", shape: [...x.shape], data };
  });
}

/**
 * `norm(m)`: the sum over the arrays of `np.linalg.norm(x, 1)`. For a vector that is the sum of
 * absolute values; for a matrix numpy's ord=1 norm is the largest column sum of absolute values
 * (not the element-wise sum). numpy refuses other ranks with ord=1, and so does this. Sums are
 * taken in float64, so the result can differ from numpy's float32 pairwise sums in the last
 * digits.
 */
export function norm(m: Model): number {
  let total = 0;
  m.forEach((a, i) => {
    const x = asFloat(a, `norm: array ${i}`);
    const d = x.data;
    if (x.shape.length === 1) {
      let s = 0;
      for (let j = 0; j < d.length; j++) s += Math.abs(d[j]!);
      total += s;
    } else if (x.shape.length === 2) {
      const [rows, cols] = x.shape as [number, number];
      const sums = new Float64Array(cols);
      for (let row = 0; row < rows; row++) {
        const base = row * cols;
        for (let c = 0; c < cols; c++) sums[c]! += Math.abs(d[base + c]!);
      }
      let best = cols === 0 ? 0 : Number.NEGATIVE_INFINITY;
      for (const s of sums) best = Number.isNaN(s) || s > best ? s : best;
      total += best;
    } else {
      throw new ShapeError(
        `norm: array ${i} has shape ${formatShape(x.shape)}; numpy's ord=1 norm takes 1-D or 2-D arrays only`,
        { key: String(i) },
      );
    }
  });
  return total;
}
