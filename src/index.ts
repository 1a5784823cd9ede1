/**
 * fedn-tfjs: the library. Re-exports only; every name here is public API and pinned by
 * test/index.test.ts.
 */

// CLI scaffolding
export {
  type AnyCommand,
  type ArgsOf,
  type CliContext,
  type Command,
  defineCommand,
  EXIT_FAILURE,
  EXIT_USAGE,
  type OptionSpec,
  type PositionalSpec,
  type Program,
  processContext,
  renderCommandHelp,
  renderProgramHelp,
  runCli,
  usageLine,
} from "./cli/scaffold.js";
// Errors
export {
  DataError,
  type ErrorCode,
  type ErrorContext,
  FednTfjsError,
  FormatError,
  IoError,
  isFednTfjsError,
  ShapeError,
  UsageError,
} from "./errors.js";
// npy / npz codec and FEDn numpy-helper API
export {
  type ArrayStats,
  arrayStats,
  float16ToNumber,
  inspectArrays,
  renderStatsJson,
  renderStatsTable,
} from "./inspect.js";
export {
  getTmpPath,
  loadMetadata,
  loadModel,
  loadNpz,
  readBytes,
  saveJson,
  saveMetadata,
  saveMetrics,
  saveModel,
  saveNpz,
  toPythonJson,
  type WriteOptions,
  writeFileAtomic,
} from "./io.js";
// Arrays
export {
  type DType,
  formatShape,
  type NdArray,
  sizeOf,
  type TypedArray,
  type TypedArrayByDType,
} from "./ndarray.js";
export {
  decodeNpy,
  descrOf,
  encodeNpy,
  itemSizeOf,
  NPY_MAGIC,
  NPY_MAX_HEADER_SIZE,
  type NpyHeader,
  readNpyHeader,
} from "./npy.js";
export {
  type DecodeNpzOptions,
  decodeNpz,
  type EncodeNpzOptions,
  encodeNpz,
  NPZ_DEFAULT_LEVEL,
  NPZ_DEFAULT_MAX_BYTES,
} from "./npz.js";
export {
  add,
  decodeModel,
  divide,
  type EncodeModelOptions,
  encodeModel,
  type FloatArray,
  incrementAverage,
  type Model,
  multiply,
  norm,
  ones,
  power,
  sign,
  sqrt,
  subtract,
} from "./numpyhelper.js";
