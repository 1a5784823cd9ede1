/**
 * The `.npy` codec: bytes in, bytes out, no file system.
 *
 * Decoding accepts format versions 1.0, 2.0 and 3.0, every numeric dtype FEDn can hand over
 * (bool, signed and unsigned 8-64 bit integers, float16/32/64) in either byte order and in C or
 * Fortran order, and always returns a little-endian, C-order array of the logical shape. The
 * header is parsed by a small parser for the Python literal subset numpy writes; nothing is
 * evaluated. Everything else (object arrays, which are pickles; structured, string, complex and
 * datetime dtypes; malformed headers; data shorter or longer than the shape needs) is refused
 * with a FormatError whose message starts with the name of the file or archive member.
 *
 * Encoding writes version 1.0 headers exactly as numpy 1.24-2.x does, so an array encoded here
 * is byte-identical to `np.save` of the same array.
 */
import { FormatError, ShapeError } from "../errors.js";
import { type DType, formatShape, type NdArray, type TypedArrayByDType } from "./ndarray.js";

/** `\x93NUMPY`: the magic string every `.npy` file starts with. */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);

/**
 * numpy refuses headers longer than this (`numpy.lib.format._MAX_HEADER_SIZE`, numpy 2.x) unless
 * the file is fully trusted; we refuse them too, as a forged header is the cheapest attack.
 */
export const NPY_MAX_HEADER_SIZE = 10_000;

/** numpy pads the header so the data starts on a multiple of this (`ARRAY_ALIGN`). */
const ARRAY_ALIGN = 64;
/** numpy leaves room to grow the first axis in place: `GROWTH_AXIS_MAX_DIGITS`. */
const GROWTH_AXIS_MAX_DIGITS = 21;

interface DTypeInfo {
  readonly dtype: DType;
  readonly itemsize: number;
  /** numpy's `descr` for this dtype as numpy writes it (little-endian where it matters). */
  readonly descr: string;
}

const DTYPES: Record<DType, DTypeInfo> = {
  bool: { dtype: "bool", itemsize: 1, descr: "|b1" },
  int8: { dtype: "int8", itemsize: 1, descr: "|i1" },
  uint8: { dtype: "uint8", itemsize: 1, descr: "|u1" },
  int16: { dtype: "int16", itemsize: 2, descr: "<i2" },
  uint16: { dtype: "uint16", itemsize: 2, descr: "<u2" },
  int32: { dtype: "int32", itemsize: 4, descr: "<i4" },
  uint32: { dtype: "uint32", itemsize: 4, descr: "<u4" },
  int64: { dtype: "int64", itemsize: 8, descr: "<i8" },
  uint64: { dtype: "uint64", itemsize: 8, descr: "<u8" },
  float16: { dtype: "float16", itemsize: 2, descr: "<f2" },
  float32: { dtype: "float32", itemsize: 4, descr: "<f4" },
  float64: { dtype: "float64", itemsize: 8, descr: "<f8" },
};

/** `kind + itemsize` → dtype, for the descr strings numpy writes (`<f4`, `|u1`, `>i8`, ...). */
const BY_KIND_SIZE: Record<string, DType> = {
  b1: "bool",
  i1: "int8",
  u1: "uint8",
  i2: "int16",
  u2: "uint16",
  i4: "int32",
  u4: "uint32",
  i8: "int64",
  u8: "uint64",
  f2: "float16",
  f4: "float32",
  f8: "float64",
};

/** Why a numpy type character is refused, so the message says what the file holds. */
const REFUSED_KINDS: Record<string, string> = {
  O: "Python objects (a pickle)",
  U: "unicode strings",
  S: "byte strings",
  a: "byte strings",
  V: "raw void records",
  c: "complex numbers",
  M: "datetimes",
  m: "timedeltas",
};

/** The number of bytes one element of `dtype` takes. */
export function itemSizeOf(dtype: DType): number {
  return DTYPES[dtype].itemsize;
}

/** numpy's descr string for `dtype` as we write it, e.g. `<f4`. */
export function descrOf(dtype: DType): string {
  return DTYPES[dtype].descr;
}

// ---------------------------------------------------------------------------------------------
// The header parser: the Python literal subset that numpy headers use.

/** A parsed Python literal. Tuples and lists are kept apart because numpy's shape is a tuple. */
type PyValue =
  | { readonly type: "dict"; readonly entries: ReadonlyMap<string, PyValue> }
  | { readonly type: "tuple"; readonly items: readonly PyValue[] }
  | { readonly type: "list"; readonly items: readonly PyValue[] }
  | { readonly type: "str"; readonly value: string }
  | { readonly type: "int"; readonly value: bigint }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "none" };

/** Nesting deeper than this is not a numpy header; the cap keeps the recursion bounded. */
const MAX_NESTING = 16;

class LiteralParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly fail: (message: string) => never,
  ) {}

  parseDocument(): PyValue {
    this.skipSpace();
    const value = this.parseValue(0);
    this.skipSpace();
    if (this.pos !== this.text.length) {
      this.fail(`unexpected ${this.describeHere()} after the header dict`);
    }
    return value;
  }

  private describeHere(): string {
    if (this.pos >= this.text.length) return "end of header";
    return `${JSON.stringify(this.text.slice(this.pos, this.pos + 12))} at offset ${this.pos}`;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      // space, tab, newline, carriage return, form feed
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) this.pos++;
      else break;
    }
  }

  private parseValue(depth: number): PyValue {
    if (depth > MAX_NESTING) this.fail("header nests deeper than any numpy header");
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === "{") return this.parseDict(depth);
    if (c === "(") return this.parseSequence(depth, "(", ")");
    if (c === "[") return this.parseSequence(depth, "[", "]");
    if (c === "'" || c === '"') return { type: "str", value: this.parseString() };
    if (c !== undefined && /[-+0-9]/.test(c)) return this.parseInt();
    for (const [word, value] of [
      ["True", { type: "bool", value: true }],
      ["False", { type: "bool", value: false }],
      ["None", { type: "none" }],
    ] as const) {
      if (
        this.text.startsWith(word, this.pos) &&
        !/\w/.test(this.text[this.pos + word.length] ?? "")
      ) {
        this.pos += word.length;
        return value;
      }
    }
    return this.fail(`expected a Python literal, found ${this.describeHere()}`);
  }

  private expect(char: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== char) this.fail(`expected '${char}', found ${this.describeHere()}`);
    this.pos++;
  }

  private parseDict(depth: number): PyValue {
    this.expect("{");
    const entries = new Map<string, PyValue>();
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === "}") break;
      const key = this.parseValue(depth + 1);
      if (key.type !== "str") this.fail("header dict keys must be strings");
      if (entries.has(key.value)) this.fail(`header dict repeats the key '${key.value}'`);
      this.expect(":");
      entries.set(key.value, this.parseValue(depth + 1));
      this.skipSpace();
      if (this.text[this.pos] === ",") this.pos++;
      else if (this.text[this.pos] !== "}") {
        this.fail(`expected ',' or '}' in the header dict, found ${this.describeHere()}`);
      }
    }
    this.pos++;
    return { type: "dict", entries };
  }

  private parseSequence(depth: number, open: string, close: string): PyValue {
    this.expect(open);
    const items: PyValue[] = [];
    let sawComma = false;
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] === close) break;
      items.push(this.parseValue(depth + 1));
      this.skipSpace();
      sawComma = false;
      if (this.text[this.pos] === ",") {
        this.pos++;
        sawComma = true;
      } else if (this.text[this.pos] !== close) {
        this.fail(`expected ',' or '${close}', found ${this.describeHere()}`);
      }
    }
    this.pos++;
    if (open === "[") return { type: "list", items };
    // `(3)` is the int 3 in Python, not a tuple: only `()`, `(3,)` and `(3, 4)` are tuples.
    if (items.length === 1 && !sawComma) return items[0]!;
    return { type: "tuple", items };
  }

  private parseString(): string {
    const quote = this.text[this.pos]!;
    this.pos++;
    let out = "";
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === "\n") this.fail("unterminated string in the header");
      this.pos++;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.pos];
      this.pos++;
      const simple: Record<string, string> = {
        "\\": "\\",
        "'": "'",
        '"': '"',
        n: "\n",
        t: "\t",
        r: "\r",
        "0": "\0",
      };
      if (e !== undefined && e in simple) out += simple[e];
      else if (e === "x" || e === "u") {
        const len = e === "x" ? 2 : 4;
        const hex = this.text.slice(this.pos, this.pos + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) this.fail("bad escape in a string");
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.pos += len;
      } else this.fail(`unsupported escape '\\${e ?? ""}' in a header string`);
    }
  }

  private parseInt(): PyValue {
    const match = /^[-+]?[0-9]+/.exec(this.text.slice(this.pos, this.pos + 64));
    if (match === null) return this.fail(`expected an integer, found ${this.describeHere()}`);
    const digits = match[0];
    this.pos += digits.length;
    // Python 2 wrote longs as `3L`; numpy still reads them from v1.0/v2.0 files.
    if (this.text[this.pos] === "L") this.pos++;
    if (/[.eEjJxX_]/.test(this.text[this.pos] ?? "")) {
      this.fail(`expected an integer, found ${this.describeHere()}`);
    }
    return { type: "int", value: BigInt(digits) };
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** What the header of a `.npy` says, and where its data starts. */
export interface NpyHeader {
  readonly version: 1 | 2 | 3;
  readonly dtype: DType;
  /** True for `>` (big-endian) multi-byte dtypes. */
  readonly bigEndian: boolean;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  /** Element count, product of the shape. */
  readonly size: number;
  /** Bytes of array data the shape needs. */
  readonly dataBytes: number;
  /** Offset of the first data byte: magic + version + length field + header. */
  readonly dataOffset: number;
}

function failer(name: string | undefined): (message: string) => never {
  const prefix = name === undefined ? "npy" : name;
  return (message: string): never => {
    throw new FormatError(`${prefix}: ${message}`, { file: name });
  };
}

function describeBytes(bytes: Uint8Array): string {
  return [...bytes]
    .map((b) =>
      b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

function parseDescr(
  descr: PyValue,
  fail: (m: string) => never,
): { dtype: DType; bigEndian: boolean } {
  if (descr.type === "list") {
    return fail("dtype is structured (a list of fields); only plain numeric dtypes are supported");
  }
  if (descr.type === "tuple") {
    return fail("dtype is a sub-array dtype; only plain numeric dtypes are supported");
  }
  if (descr.type !== "str")
    return fail(`'descr' must be a string such as '<f4', found a ${descr.type}`);
  const text = descr.value;
  const match = /^([<>|=]?)([a-zA-Z?])(\d*)(.*)$/.exec(text);
  const order = match?.[1] ?? "";
  const kind = match?.[2] ?? "";
  const size = match?.[3] ?? "";
  const rest = match?.[4] ?? "";
  const refused = REFUSED_KINDS[kind];
  if (match !== null && refused !== undefined) {
    return fail(`dtype '${text}' holds ${refused}; expected a numeric dtype such as '<f4'`);
  }
  const key = kind === "?" && size === "" ? "b1" : `${kind}${size}`;
  const dtype = BY_KIND_SIZE[key];
  if (match === null || rest !== "" || dtype === undefined) {
    return fail(
      `unsupported dtype '${text}'; expected bool, (u)int8/16/32/64 or float16/32/64 such as '<f4'`,
    );
  }
  return { dtype, bigEndian: order === ">" && DTYPES[dtype].itemsize > 1 };
}

/**
 * Reads and checks the header of a `.npy` file without touching its data. `name` starts every
 * error message (e.g. `"mnist.npz: x_train.npy"`).
 */
export function readNpyHeader(bytes: Uint8Array, name?: string): NpyHeader {
  const fail: (message: string) => never = failer(name);
  if (bytes.length < 10) {
    if (bytes.length >= 6 && !startsWithMagic(bytes)) {
      fail(
        `not a .npy file: expected the magic \\x93NUMPY, found "${describeBytes(bytes.subarray(0, 6))}"`,
      );
    }
    fail(`truncated: ${bytes.length} bytes is shorter than the 10-byte .npy preamble`);
  }
  if (!startsWithMagic(bytes)) {
    fail(
      `not a .npy file: expected the magic \\x93NUMPY, found "${describeBytes(bytes.subarray(0, 6))}"`,
    );
  }
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if ((major !== 1 && major !== 2 && major !== 3) || minor !== 0) {
    fail(`unsupported .npy format version ${major}.${minor}; expected 1.0, 2.0 or 3.0`);
  }
  const version = major as 1 | 2 | 3;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = version === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail("truncated inside the header length field");
  const headerLength = version === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthBytes;
  if (headerLength > NPY_MAX_HEADER_SIZE) {
    fail(
      `header is ${headerLength} bytes; numpy refuses headers over ${NPY_MAX_HEADER_SIZE} bytes as unsafe`,
    );
  }
  if (headerStart + headerLength > bytes.length) {
    fail(
      `truncated: the header needs ${headerLength} bytes after offset ${headerStart}, only ${bytes.length - headerStart} are there`,
    );
  }
  const rawHeader = bytes.subarray(headerStart, headerStart + headerLength);
  let text: string;
  if (version === 3) {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(rawHeader);
    } catch (cause) {
      throw new FormatError(`${name ?? "npy"}: the version 3.0 header is not valid UTF-8`, {
        file: name,
        cause,
      });
    }
  } else {
    text = latin1(rawHeader);
  }
  const parsed = new LiteralParser(text, (m) =>
    fail(`cannot parse the header: ${m}`),
  ).parseDocument();
  if (parsed.type !== "dict") fail(`the header is a ${parsed.type}, expected a dict`);
  const keys = [...parsed.entries.keys()].sort();
  if (keys.join() !== "descr,fortran_order,shape") {
    fail(
      `the header has keys [${keys.map((k) => `'${k}'`).join(", ")}]; expected exactly ['descr', 'fortran_order', 'shape']`,
    );
  }
  const { dtype, bigEndian } = parseDescr(parsed.entries.get("descr")!, fail);
  const fortran = parsed.entries.get("fortran_order")!;
  if (fortran.type !== "bool")
    fail(`'fortran_order' must be True or False, found a ${fortran.type}`);
  const shapeValue = parsed.entries.get("shape")!;
  if (shapeValue.type !== "tuple")
    fail(`'shape' must be a tuple of ints, found a ${shapeValue.type}`);
  const shape: number[] = [];
  let size = 1n;
  for (const item of shapeValue.items) {
    if (item.type !== "int") fail(`'shape' must be a tuple of ints, found a ${item.type} in it`);
    if (item.value < 0n) fail(`'shape' has the negative dimension ${item.value}`);
    size *= item.value;
    shape.push(Number(item.value));
  }
  const itemsize = DTYPES[dtype].itemsize;
  const dataBytesBig = size * BigInt(itemsize);
  if (
    dataBytesBig > BigInt(Number.MAX_SAFE_INTEGER) ||
    shape.some((d) => !Number.isSafeInteger(d))
  ) {
    fail(
      `shape ${formatShape(shape)} of ${dtype} needs ${dataBytesBig} bytes, more than can be addressed`,
    );
  }
  return {
    version,
    dtype,
    bigEndian,
    fortranOrder: fortran.value,
    shape,
    size: Number(size),
    dataBytes: Number(dataBytesBig),
    dataOffset: headerStart + headerLength,
  };
}

function startsWithMagic(bytes: Uint8Array): boolean {
  for (let i = 0; i < NPY_MAGIC.length; i++) if (bytes[i] !== NPY_MAGIC[i]) return false;
  return true;
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** A typed array of `dtype` over `buffer`; `byteOffset` must be aligned to the item size. */
function typedView<D extends DType>(
  dtype: D,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): TypedArrayByDType[D] {
  switch (dtype) {
    case "bool":
    case "uint8":
      return new Uint8Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "int8":
      return new Int8Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "int16":
      return new Int16Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "uint16":
    case "float16":
      return new Uint16Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "int32":
      return new Int32Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "uint32":
      return new Uint32Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "int64":
      return new BigInt64Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "uint64":
      return new BigUint64Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "float32":
      return new Float32Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    case "float64":
      return new Float64Array(buffer, byteOffset, length) as TypedArrayByDType[D];
    default:
      throw new Error(`unreachable dtype ${String(dtype)}`);
  }
}

/** A new zeroed typed array of `dtype` with `length` elements. */
export function allocate<D extends DType>(dtype: D, length: number): TypedArrayByDType[D] {
  return typedView(dtype, new ArrayBuffer(length * DTYPES[dtype].itemsize), 0, length);
}

/** Options for {@link decodeNpyWith}; internal to the codec. */
export interface DecodeNpyOptions {
  /**
   * The caller hands `bytes` over and will not use them again: the result may be a view of
   * them, and they may be modified (the npz reader passes freshly read or inflated buffers).
   * @default false
   */
  readonly consume?: boolean;
}

/**
 * Decodes one `.npy` file into a C-order, little-endian {@link NdArray}. The result never shares
 * memory with `bytes`. `name` (a file name, or `archive.npz: member.npy`) starts every error
 * message.
 *
 * @example
 * const w = decodeNpy(await readFile("w.npy"), "w.npy"); // { dtype: "float32", shape: [64, 784], data }
 */
export function decodeNpy(bytes: Uint8Array, name?: string): NdArray {
  return decodeNpyWith(bytes, name, {});
}

/** {@link decodeNpy} with codec-internal options (used by the npz reader to avoid a copy). */
export function decodeNpyWith(
  bytes: Uint8Array,
  name: string | undefined,
  options: DecodeNpyOptions,
): NdArray {
  const header = readNpyHeader(bytes, name);
  const available = bytes.length - header.dataOffset;
  if (available !== header.dataBytes) {
    failer(name)(
      `shape ${formatShape(header.shape)} of ${header.dtype} needs ${header.dataBytes} data bytes, found ${available} (${available < header.dataBytes ? "truncated" : "trailing bytes"})`,
    );
  }
  const { dtype, size } = header;
  const itemsize = DTYPES[dtype].itemsize;
  const start = bytes.byteOffset + header.dataOffset;
  let data: TypedArrayByDType[DType];
  if (header.bigEndian) {
    data = allocate(dtype, size);
    const out = new Uint8Array(data.buffer);
    swapInto(out, bytes.subarray(header.dataOffset), itemsize);
  } else if (options.consume === true) {
    // Use the bytes in place. A typed array must start on a multiple of its item size and
    // numpy's stored zip members rarely do, so slide the data back over the already parsed
    // header by at most 7 bytes: far cheaper than a copy into fresh memory, whose page faults
    // cost more than the copy itself.
    const shift = start % itemsize;
    if (shift !== 0) bytes.copyWithin(header.dataOffset - shift, header.dataOffset);
    data = typedView(dtype, bytes.buffer, start - shift, size);
  } else {
    // A copy: the result must not alias the caller's bytes, and a typed array cannot start at an
    // unaligned offset anyway (Node's pooled Buffers and stored zip members often are).
    data = allocate(dtype, size);
    new Uint8Array(data.buffer).set(bytes.subarray(header.dataOffset));
  }
  if (header.fortranOrder && header.shape.length > 1) {
    data = fortranToC(data, header.shape);
  }
  return { dtype, shape: header.shape, data } as NdArray;
}

function swapInto(out: Uint8Array, source: Uint8Array, itemsize: number): void {
  for (let i = 0; i < out.length; i += itemsize) {
    for (let j = 0; j < itemsize; j++) out[i + j] = source[i + itemsize - 1 - j]!;
  }
}

/** Reorders Fortran-order (first index fastest) elements into C order (last index fastest). */
function fortranToC<T extends TypedArrayByDType[DType]>(source: T, shape: readonly number[]): T {
  const ndim = shape.length;
  const out = source.slice(0) as T;
  if (source.length === 0) return out;
  // Stride of each axis in the Fortran layout.
  const fStride: number[] = [];
  let s = 1;
  for (let k = 0; k < ndim; k++) {
    fStride.push(s);
    s *= shape[k]!;
  }
  const index = new Array<number>(ndim).fill(0);
  const last = ndim - 1;
  const lastDim = shape[last]!;
  const lastStride = fStride[last]!;
  let fOffset = 0;
  let c = 0;
  const src = source as unknown as { [i: number]: number | bigint };
  const dst = out as unknown as { [i: number]: number | bigint };
  while (c < source.length) {
    // Innermost C axis in one tight loop.
    let f = fOffset;
    for (let i = 0; i < lastDim; i++) {
      dst[c++] = src[f]!;
      f += lastStride;
    }
    // Odometer over the outer axes.
    for (let k = last - 1; k >= 0; k--) {
      index[k]!++;
      fOffset += fStride[k]!;
      if (index[k]! < shape[k]!) break;
      fOffset -= fStride[k]! * shape[k]!;
      index[k] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function checkArray(array: NdArray): void {
  const info = DTYPES[array.dtype];
  if (info === undefined) {
    throw new ShapeError(`npy: cannot encode the unknown dtype ${JSON.stringify(array.dtype)}`);
  }
  let size = 1;
  for (const d of array.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`npy: shape ${formatShape(array.shape)} has an invalid dimension ${d}`);
    }
    size *= d;
  }
  if (array.data.length !== size) {
    throw new ShapeError(
      `npy: shape ${formatShape(array.shape)} needs ${size} elements, the ${array.dtype} data has ${array.data.length}`,
    );
  }
  if (array.data.BYTES_PER_ELEMENT !== info.itemsize) {
    throw new ShapeError(
      `npy: dtype ${array.dtype} needs ${info.itemsize}-byte elements, the data has ${array.data.BYTES_PER_ELEMENT}-byte elements`,
    );
  }
}

/**
 * The `.npy` v1.0 header numpy writes for `array` (magic, version, length, dict, padding), as
 * bytes. `encodeNpy` is this followed by the data; the npz writer uses it to avoid a copy.
 */
export function encodeNpyHeader(array: NdArray): Uint8Array {
  checkArray(array);
  const shape = array.shape;
  let dict = `{'descr': '${DTYPES[array.dtype].descr}', 'fortran_order': False, 'shape': ${formatShape(shape)}, }`;
  // numpy >= 1.24 leaves spare room so the first axis can grow in place (gh-20978).
  if (shape.length > 0)
    dict += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const hlen = dict.length + 1;
  let version = 1;
  let prefixLength = 10;
  let padlen = ARRAY_ALIGN - ((prefixLength + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    // Only a header over 64 KiB (thousands of dimensions) needs version 2.0.
    version = 2;
    prefixLength = 12;
    padlen = ARRAY_ALIGN - ((prefixLength + hlen) % ARRAY_ALIGN);
  }
  const total = prefixLength + hlen + padlen;
  const out = new Uint8Array(total);
  out.set(NPY_MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, hlen + padlen, true);
  else view.setUint32(8, hlen + padlen, true);
  for (let i = 0; i < dict.length; i++) out[prefixLength + i] = dict.charCodeAt(i);
  out.fill(0x20, prefixLength + dict.length, total - 1);
  out[total - 1] = 0x0a;
  return out;
}

/** The little-endian bytes of `array.data`, as a view (no copy). */
export function dataBytesOf(array: NdArray): Uint8Array {
  return new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength);
}

/**
 * Encodes `array` as a `.npy` v1.0 file, byte-identical to `np.save` of the same C-order array.
 *
 * @example
 * encodeNpy({ dtype: "float32", shape: [2], data: Float32Array.of(1, 2) }); // 136 bytes
 */
export function encodeNpy(array: NdArray): Uint8Array {
  const header = encodeNpyHeader(array);
  const data = dataBytesOf(array);
  const out = new Uint8Array(header.length + data.length);
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}
