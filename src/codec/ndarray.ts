/**
 * The array type every module exchanges: numpy's dtype name, a C-order shape and a typed array
 * that holds exactly `product(shape)` elements. It is what `.npy` decodes to and encodes from.
 */

/** The numpy dtypes that cross into FEDn; all are stored little-endian in memory. */
export type DType =
  | "bool"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float16"
  | "float32"
  | "float64";

/** The typed array that holds each dtype. `float16` keeps its raw IEEE half bits. */
/** The integer dtypes (labels and raw pixels may be any of them). */
export const INTEGER_DTYPES: ReadonlySet<DType> = new Set<DType>([
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
]);

export interface TypedArrayByDType {
  bool: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  float16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
}

export type TypedArray = TypedArrayByDType[DType];

/** An n-dimensional array in C order. A 0-d array (numpy scalar) has shape `[]` and one element. */
export interface NdArray<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: TypedArrayByDType[D];
}

/** Number of elements of a shape: 1 for `[]`. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** numpy's way of writing a shape: `()`, `(3,)`, `(64, 784)`. */
export function formatShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/** IEEE half-precision bits to a number: numpy's float16 arrives as raw bits (see `TypedArrayByDType`). */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
