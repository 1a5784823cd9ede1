/**
 * The IDX format of the MNIST family (MNIST, Fashion-MNIST, EMNIST): a 4-byte magic
 * `00 00 <type> <ndim>`, then `ndim` big-endian uint32 dimensions, then the elements in C order.
 * Bytes in, array out: no file system here (see `./files.ts`).
 */
import { gunzipSync } from "node:zlib";
import { formatShape, type NdArray, sizeOf } from "../codec/ndarray.js";
import { FormatError } from "../errors.js";

/** Element type codes of the IDX format; only unsigned bytes occur in the MNIST family. */
const IDX_TYPES: Readonly<Record<number, string>> = {
  8: "uint8",
  9: "int8",
  11: "int16",
  12: "int32",
  13: "float32",
  14: "float64",
};

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** True when `bytes` start with the gzip magic `1f 8b`. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC_0 && bytes[1] === GZIP_MAGIC_1;
}

/**
 * Decodes one IDX file (gzipped or not) into a uint8 array of its declared shape.
 * Strict: a bad magic, a type other than unsigned byte, or a length that differs from the header's
 * declared size (truncated or trailing bytes) is a `FormatError` that names the file and numbers.
 *
 * @example parseIdx(gzippedLabels, "train-labels-idx1-ubyte.gz") // { dtype: "uint8", shape: [60000] }
 */
export function parseIdx(bytes: Uint8Array, name = "<bytes>"): NdArray<"uint8"> {
  const raw = isGzip(bytes) ? gunzip(bytes, name) : bytes;
  if (raw.length < 4) {
    throw new FormatError(`IDX file ${name}: ${raw.length} bytes, too short for the 4-byte magic`, {
      file: name,
    });
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const type = raw[2] ?? 0;
  const ndim = raw[3] ?? 0;
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new FormatError(
      `IDX file ${name}: bad magic 0x${hex(view.getUint32(0))}; expected 0x0000080N (e.g. 0x00000801 labels, 0x00000803 images)`,
      { file: name },
    );
  }
  if (type !== 0x08) {
    const known = IDX_TYPES[type];
    throw new FormatError(
      `IDX file ${name}: element type 0x${type.toString(16).padStart(2, "0")}${known === undefined ? " (unknown)" : ` (${known})`}; only unsigned bytes (0x08) are supported`,
      { file: name },
    );
  }
  if (ndim === 0) {
    throw new FormatError(`IDX file ${name}: 0 dimensions declared; expected at least 1`, {
      file: name,
    });
  }
  const headerBytes = 4 + 4 * ndim;
  if (raw.length < headerBytes) {
    throw new FormatError(
      `IDX file ${name}: ${raw.length} bytes, too short for the ${headerBytes}-byte header of ${ndim} dimensions`,
      { file: name },
    );
  }
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i));
  const expected = headerBytes + sizeOf(shape);
  if (raw.length !== expected) {
    const what = raw.length < expected ? "truncated" : "has trailing bytes";
    throw new FormatError(
      `IDX file ${name} ${what}: shape ${formatShape(shape)} needs ${expected} bytes (header ${headerBytes} + data ${sizeOf(shape)}), found ${raw.length}`,
      { file: name },
    );
  }
  return {
    dtype: "uint8",
    shape,
    data: new Uint8Array(raw.buffer, raw.byteOffset + headerBytes, sizeOf(shape)),
  };
}

/** Encodes a uint8 array as IDX bytes (uncompressed): the inverse of `parseIdx`. */
export function encodeIdx(array: NdArray<"uint8">): Uint8Array {
  const ndim = array.shape.length;
  if (ndim < 1 || ndim > 255) {
    throw new FormatError(`IDX: cannot encode ${ndim} dimensions; expected 1 to 255`);
  }
  const out = new Uint8Array(4 + 4 * ndim + array.data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = ndim;
  array.shape.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d);
  });
  out.set(array.data, 4 + 4 * ndim);
  return out;
}

function gunzip(bytes: Uint8Array, name: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new FormatError(
      `IDX file ${name}: starts like gzip but does not decompress (${(error as Error).message})`,
      { file: name, cause: error },
    );
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
