/**
 * Summaries of arrays for `fedn-tfjs inspect`: what a FEDn user looks at when a model file seems
 * wrong (a NaN after a bad round, a transposed layer, int64 labels where uint8 were expected).
 * Pure: arrays in, plain data and text out.
 */
import type { NdArray } from "../codec/ndarray.js";
import { float16ToNumber, formatShape } from "../codec/ndarray.js";

// Kept exported from here too: it was public API here first.
export { float16ToNumber };

/** One array's summary. Statistics are over the finite elements; null when there are none. */
export interface ArrayStats {
  readonly key: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** How many elements are NaN, +Infinity or -Infinity (always 0 for integer dtypes). */
  readonly nonfinite: number;
}

/**
 * Key, dtype, shape, min, max, mean and the count of non-finite elements of one array. NaN and
 * ±Infinity are counted, not folded into min/max/mean, so one bad weight does not hide the
 * range of the rest. int64/uint64 values are converted to numbers (exact up to 2^53).
 */
export function arrayStats(key: string, array: NdArray): ArrayStats {
  const data = array.data;
  const n = data.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let finite = 0;
  let nonfinite = 0;
  const value: (i: number) => number =
    array.dtype === "float16"
      ? (i) => float16ToNumber(data[i] as number)
      : typeof data[0] === "bigint"
        ? (i) => Number(data[i] as bigint)
        : (i) => data[i] as number;
  const float = array.dtype.startsWith("float");
  for (let i = 0; i < n; i++) {
    const v = value(i);
    if (float && !Number.isFinite(v)) {
      nonfinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    finite++;
  }
  return {
    key,
    dtype: array.dtype,
    shape: [...array.shape],
    min: finite === 0 ? null : min,
    max: finite === 0 ? null : max,
    mean: finite === 0 ? null : sum / finite,
    nonfinite,
  };
}

/** {@link arrayStats} of every array, in order. */
export function inspectArrays(arrays: Iterable<readonly [string, NdArray]>): ArrayStats[] {
  return [...arrays].map(([key, array]) => arrayStats(key, array));
}

function formatNumber(value: number | null, integer: boolean): string {
  if (value === null) return "-";
  if (integer || Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) return value.toExponential(4);
  return value
    .toPrecision(6)
    .replace(/(\.\d*?)0+$/, "$1")
    .replace(/\.$/, "");
}

/**
 * A plain-text table of the summaries, one row per array, columns aligned, numbers right-aligned:
 *
 *     key  dtype    shape      min      max      mean      nonfinite
 *     0    float32  (64, 784)  -0.0357  0.0357   0.00012   0
 */
export function renderStatsTable(stats: readonly ArrayStats[]): string {
  const header = ["key", "dtype", "shape", "min", "max", "mean", "nonfinite"];
  const rows = stats.map((s) => {
    const integer = !s.dtype.startsWith("float");
    return [
      s.key,
      s.dtype,
      formatShape(s.shape),
      formatNumber(s.min, integer),
      formatNumber(s.max, integer),
      formatNumber(s.mean, false),
      String(s.nonfinite),
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const numeric = [false, false, false, true, true, true, true];
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** The `--json` form: `{"arrays":[{key, dtype, shape, min, max, mean, nonfinite}]}`. */
export function renderStatsJson(stats: readonly ArrayStats[]): string {
  const arrays = stats.map((s) => ({
    key: s.key,
    dtype: s.dtype,
    shape: s.shape,
    min: s.min,
    max: s.max,
    mean: s.mean,
    nonfinite: s.nonfinite,
  }));
  return `${JSON.stringify({ arrays })}\n`;
}
