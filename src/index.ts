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
// Arrays
export {
  type DType,
  formatShape,
  type NdArray,
  sizeOf,
  type TypedArray,
  type TypedArrayByDType,
} from "./ndarray.js";
