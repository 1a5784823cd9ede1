/**
 * The package-author API's types: what `defineComputePackage` takes (`ComputePackageSpec`), and the
 * two interfaces a model kind (`ModelKind`) and a data loader (`DataSpec`) implement.
 *
 * Deviations from the interfaces agreed in COMMON.md, kept minimal:
 * - `tf` is typed by a parameter of the kind, `ModelKind<M, TF = unknown>`, instead of
 *   `typeof import("@tensorflow/tfjs")`: TF.js's own declaration files fail a strict type-check
 *   without `skipLibCheck` (tfjs-layers' `LayersModel`, tfjs-core's `Long`), and a declaration of
 *   ours that imports them would make every strict consumer fail too. A kind names TF.js's type
 *   in its own signatures (`layersModel<typeof TF>(…)`); the kit hands it the loaded module.
 * - `ModelKind.tfjs()` (optional): imports the TF.js module the kind works with, called once the
 *   kit has chosen the backend; `@tensorflow/tfjs-core` when absent. The kind imports it, not
 *   the kit, so a bundle holds only the TF.js its model needs (the layers API costs ≈ 0.2 s and
 *   30 MB at start, and the dense stack's fast path does not use it).
 * - `ModelKind.seed` (optional): the seed model without TF.js, so `init_seed` starts fast;
 *   `ModelKind.check` (optional): checks a wire list before the backend starts;
 *   `ModelKind.describeWeight` (optional): names an array in the NaN guard's message.
 * - `LoadedData` is spelled out (`train?`, `test?`, `warnings`), and the override contexts below
 *   (`TrainContext`, `EvaluateContext`) are the kit's own.
 */

import type { NdArray } from "../codec/ndarray.js";
import type { OptionSpec } from "./cli.js";

/** One split of a classification data set, ready for training. */
export interface Dataset {
  /** Row-major, `count * features`; a `Uint8Array` holds raw values, scaled by `scale` when used. */
  readonly x: Float32Array | Uint8Array;
  /** Multiply `x` by this when converting to float (1 = none). */
  readonly scale: number;
  /** Values per row (784 for MNIST). */
  readonly features: number;
  /** Per-row shape, e.g. `[28, 28]` or `[784]`. */
  readonly inputShape: readonly number[];
  /** Class indices in `0..classes-1`. */
  readonly y: Int32Array;
  readonly classes: number;
  readonly count: number;
}

/** The splits of a FEDn client's data file. */
export type SplitName = "train" | "test";

/** What a `DataSpec` decoded: the splits asked for, and things to warn about. */
export interface LoadedData {
  readonly train?: Dataset;
  readonly test?: Dataset;
  /** Legal but probably wrong (float images already in [0, 1]); printed by the kit. */
  readonly warnings: readonly string[];
}

/** A data loader: how a package's data file becomes `Dataset`s. */
export interface DataSpec {
  /**
   * Decodes what the data file holds for the given splits; throws DataError/ShapeError naming file
   * and key. `consume`: the caller hands `bytes` over (a file just read), so the loader may decode
   * in place and modify them.
   */
  load(
    bytes: Uint8Array,
    options: { file: string; splits: readonly SplitName[]; consume?: boolean },
  ): LoadedData;
  /** Keys/members to inflate for these splits (lets the npz reader skip the rest), optional. */
  members?(splits: readonly SplitName[]): readonly string[];
  /** What one data file holds, for `startup`'s log line; the kit counts rows when absent. */
  describe?(data: LoadedData): string;
}

/** What `onBatch` receives after every step. */
export interface TrainProgress {
  /** 0-based, as the Python package prints it. */
  readonly epoch: number;
  readonly epochs: number;
  /** 0-based index of the batch just trained in this epoch. */
  readonly batch: number;
  readonly batches: number;
  /** Samples trained so far in this epoch. */
  readonly samples: number;
  /** The batch's loss, when the loop computed it (every 100th batch and the last, for dense stacks). */
  readonly loss: number | undefined;
}

/** The training loop's options, validated and defaulted by `resolveTrainOptions`. */
export interface TrainLoopOptions {
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
  /** Fixes dropout and the shuffle order; random when undefined. */
  readonly seed?: number | undefined;
  readonly shuffle: boolean;
  /** Called after every step; keep it cheap. */
  readonly onBatch?: ((progress: TrainProgress) => void) | undefined;
}

/** What a training loop reports. */
export interface TrainResult {
  /** Samples in one epoch: what FEDn's `num_examples` means. */
  readonly numExamples: number;
  readonly steps: number;
  /** The loss of the last batch whose loss was computed. */
  readonly loss?: number | undefined;
}

/** Loss and accuracy of a model on one split. */
export interface Evaluation {
  readonly loss: number;
  readonly accuracy: number;
}

/** A kind of model: how it is created, trained and moved to and from FEDn's wire list. */
export interface ModelKind<M, TF = unknown> {
  /** Expected wire arrays (shape, dtype) so a model file is checked from its headers before inflating. */
  readonly wireShapes?: readonly { readonly shape: readonly number[]; readonly dtype: string }[];
  /**
   * Loads the TF.js this kind uses (`@tensorflow/tfjs` for layers models); tfjs-core when absent.
   * Prefer `require` (through `createRequire`) to `import()`: TF.js is CommonJS, and Node 20
   * takes about twice as long to `import` it.
   */
  tfjs?(): Promise<TF>;
  /** Builds the seed model as the wire list without TF.js (init_seed then starts fast), optional. */
  seed?(seed: number): NdArray[];
  /** The seed model as the wire list (numpy-helper order/layout). `tf` is the lazily loaded TF.js. */
  init(tf: TF, seed: number): NdArray[] | Promise<NdArray[]>;
  /** Checks a wire list before any backend starts; throws ShapeError/DataError naming file and key. */
  check?(weights: readonly NdArray[], file: string): void;
  /** Builds a model from the wire list; checks count/shape/dtype and names file and key. */
  load(tf: TF, weights: readonly NdArray[], file: string): M | Promise<M>;
  /**
   * Writes a wire list into a model this kind built, checking it as `load` does (nothing is
   * written when it does not fit), optional: with it, a host that keeps the model between
   * commands sets each round's weights instead of building the model again.
   */
  assign?(tf: TF, model: M, weights: readonly NdArray[], file: string): void | Promise<void>;
  /** The model's weights as the wire list. */
  save(tf: TF, model: M): NdArray[];
  train(
    tf: TF,
    model: M,
    data: Dataset,
    options: TrainLoopOptions,
  ): TrainResult | Promise<TrainResult>;
  evaluate(tf: TF, model: M, data: Dataset): Evaluation;
  predict(tf: TF, model: M, data: Dataset): { classes: number[]; probabilities?: number[][] };
  dispose(model: M): void;
  /** Names wire array `index` in messages (`layer 1 weights (key "0")`); `weights "0"` when absent. */
  describeWeight?(index: number): string;
}

/** The package's own training defaults (the kit has none of its own). */
export interface TrainDefaults {
  readonly batchSize: number;
  readonly epochs: number;
  readonly lr: number;
}

/** The value types of extra options, from their specs. */
export type OptionValues<O extends Record<string, OptionSpec>> = {
  readonly [K in keyof O]: O[K]["type"] extends "string"
    ? string | undefined
    : O[K]["type"] extends "number"
      ? number | undefined
      : boolean | undefined;
};

/** What the kit hands a package's own `validate`/`predict`. */
export interface EvaluateContext<M, TF, O extends Record<string, OptionSpec>> {
  readonly tf: TF;
  readonly model: M;
  readonly kind: ModelKind<M, TF>;
  /** The splits the command reads: validate gets train and test, predict gets test. */
  readonly data: LoadedData;
  readonly options: OptionValues<O>;
  /** Writes one line to stderr. */
  log(line: string): void;
}

/** What the kit hands a package's own `train`. */
export interface TrainContext<M, TF, O extends Record<string, OptionSpec>>
  extends EvaluateContext<M, TF, O> {
  readonly train: Dataset;
  /** Resolved options with the kit's progress callback in `onBatch`: pass them to the loop. */
  readonly loop: TrainLoopOptions;
}

/** What `defineComputePackage` takes. */
export interface ComputePackageSpec<
  M,
  TF = unknown,
  O extends Record<string, OptionSpec> = Record<never, OptionSpec>,
> {
  /** Shown in `--help`. */
  readonly name: string;
  readonly describe: string;
  /** @default "0.0.0" */
  readonly version?: string;
  /** The default data path is `data/clients/1/<dataFile>`. */
  readonly dataFile: string;
  readonly data: DataSpec;
  readonly model: ModelKind<M, TF>;
  /** The package's training defaults; `client_settings` and the command line override them. */
  readonly defaults: TrainDefaults;
  /** Extra typed options of every command, handed to the custom functions. */
  readonly options?: O;
  /** Replaces the kind's training loop. */
  train?(ctx: TrainContext<M, TF, O>): TrainResult | Promise<TrainResult>;
  /** Replaces the default metrics (training/test loss and accuracy). */
  validate?(
    ctx: EvaluateContext<M, TF, O>,
  ): Record<string, number> | Promise<Record<string, number>>;
  /** Replaces the default predictions (`{"predicted_class": [...]}`). */
  predict?(
    ctx: EvaluateContext<M, TF, O>,
  ): Record<string, unknown> | Promise<Record<string, unknown>>;
}
