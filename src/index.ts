/**
 * fedn-tfjs: the library. Re-exports only, and only what a compute-package author needs: the kit
 * (`defineComputePackage` and the interfaces a model kind and a data loader implement), the
 * built-in model kinds and loaders, the error family, FEDn's wire format, and the tools that run
 * and build packages. Every name here is public API and pinned by test/index.test.ts.
 */

// FEDn's wire format: arrays, npz archives, numpy-helper model files
export type { DType, NdArray, TypedArray, TypedArrayByDType } from "./codec/ndarray.js";
export {
  type DecodeNpzOptions,
  decodeNpz,
  type EncodeNpzOptions,
  type ExpectedArray,
  encodeNpz,
} from "./codec/npz.js";
// The data loaders
export { type CsvDataOptions, csvData } from "./data/csv.js";
export {
  type MnistNpzOptions,
  mnistNpz,
  type NpzDataOptions,
  type NpzKeys,
  npzData,
} from "./data/npz-data.js";
export { type Partition, type PartitionOptions, partitionRows } from "./data/partition.js";
// Errors
export {
  DataError,
  type ErrorCode,
  type ErrorContext,
  type ErrorOptions,
  FednTfjsError,
  FormatError,
  IoError,
  isFednTfjsError,
  ShapeError,
  UsageError,
} from "./errors.js";
// FEDn's combiner aggregators, on weight lists (loadModel reads an update file)
export {
  type Aggregator,
  type AggregatorOptions,
  createAggregator,
  FEDOPT_DEFAULTS,
  type FedOptOptions,
  type FedOptResult,
  type FedOptState,
  fedAvg,
  fedOpt,
  type ModelUpdate,
  type ResolvedFedOptOptions,
  resolveFedOptOptions,
  SERVER_OPTIMIZERS,
  type ServerOptimizer,
} from "./fedn/aggregators.js";
export {
  decodeModel,
  type EncodeModelOptions,
  encodeModel,
  type Model,
} from "./fedn/numpyhelper.js";
export type {
  AnyCommand,
  CliContext,
  OptionSpec,
  OptionType,
  PositionalSpec,
  Program,
} from "./kit/cli.js";
export {
  checkLoopOptions,
  type ResolveContext,
  type ResolvedTrainOptions,
  resolveTrainOptions,
  type TrainArgs,
} from "./kit/options.js";
// The kit
export { type ComputePackage, defineComputePackage } from "./kit/program.js";
export {
  type KeptData,
  type KeptModel,
  ResidentState,
  type TrainMetricsSink,
} from "./kit/resident.js";
export type {
  ComputePackageSpec,
  DataSpec,
  Dataset,
  EvaluateContext,
  Evaluation,
  LoadedData,
  ModelKind,
  OptionValues,
  SplitName,
  TrainContext,
  TrainDefaults,
  TrainLoopOptions,
  TrainProgress,
  TrainResult,
} from "./kit/spec.js";
// The model kinds
export { type DenseStackModel, type DenseStackOptions, denseStack } from "./models/dense.js";
export { type KerasAdamOptions, kerasAdam } from "./models/keras-adam.js";
export {
  type LayersLoss,
  type LayersModelHandle,
  type LayersModelOptions,
  layersModel,
  layersToWire,
  wireToLayers,
} from "./models/layers.js";
export type { DenseStackSpec } from "./models/layout.js";
export { createRandom, type Random } from "./models/random.js";
// TF.js backend (the kit chooses it; call this first when using TF.js yourself)
export { type BackendChoice, type SelectBackendOptions, selectBackend } from "./node/backend.js";
export { loadModel, saveModel, type WriteOptions } from "./node/io.js";
// Tools: build, archive, run and simulate packages
export { type CreatedPackage, type CreatePackageOptions, createPackage } from "./tools/archive.js";
export { type BuildPackageOptions, type BuildResult, buildPackage } from "./tools/bundle.js";
export {
  type RunOptions,
  type RunResult,
  runEntryPoint,
  type StepResult,
  type Writer,
} from "./tools/entry-point.js";
export {
  type ClientRoundResult,
  type ClientStage,
  type RoundResult,
  type SimulateEvent,
  type SimulateOptions,
  type SimulationResults,
  simulateFederation,
} from "./tools/federation.js";
export { VERSION } from "./version.js";
