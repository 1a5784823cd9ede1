/**
 * `denseStack`: the model kind of FEDn's PyTorch MNIST example, generalised over layer sizes. Weights
 * travel in PyTorch's `state_dict` order and `(out, in)` layout (`layout.ts`, the one transposing
 * module); training is the fast hand-written backprop of `dense-train.ts` (SGD on NLL loss).
 * TF.js-free parts (seed, checks) are imported eagerly; the TF.js parts load with the kit's `tf`.
 */

import type { NdArray } from "../codec/ndarray.js";
import type { Dataset, ModelKind } from "../kit/spec.js";
import { initDenseWeights } from "./dense-init.js";
import type { DenseModel } from "./dense-model.js";
import { fastEngineWarming } from "./fast/engine.js";
import { type DenseStackSpec, fromPytorch, pytorchShapes, toPytorch } from "./layout.js";
import { createRandom } from "./random.js";

/** What `denseStack` takes. */
export interface DenseStackOptions {
  /** Layer sizes, inputs first, classes last: `[784, 64, 32, 10]`. */
  readonly units: readonly number[];
  /**
   * Drop rate after each hidden layer (training only), one number for all hidden layers or one
   * per hidden layer. @default 0
   */
  readonly dropout?: number | readonly number[];
}

/**
 * A dense stack on the backend, as the kit hands it to a package's own functions. Its TF.js
 * variables are not part of the public type: TF.js's declarations fail a strict type-check.
 */
export interface DenseStackModel {
  /** Layer sizes and dropout rates. */
  readonly spec: DenseStackSpec;
  /** Frees the model's variables. */
  dispose(): void;
}

/** Checks `denseStack`'s options once and builds the layer spec. */
export function denseStackSpec(options: DenseStackOptions): DenseStackSpec {
  const { units } = options;
  if (units.length < 2 || !units.every((u) => Number.isSafeInteger(u) && u > 0)) {
    throw new RangeError(
      `denseStack: units must be at least two positive integers (inputs, ..., classes); found [${units.join(", ")}]`,
    );
  }
  const hidden = units.length - 2;
  const rates =
    typeof options.dropout === "number" || options.dropout === undefined
      ? Array.from({ length: hidden }, () => (options.dropout as number | undefined) ?? 0)
      : [...options.dropout];
  if (rates.length !== hidden || !rates.every((r) => r >= 0 && r < 1)) {
    throw new RangeError(
      `denseStack: dropout must be a rate in [0, 1) or one per hidden layer (${hidden}); found ${JSON.stringify(options.dropout)}`,
    );
  }
  return Object.freeze({ sizes: Object.freeze([...units]), dropout: Object.freeze(rates) });
}

type Compute = typeof import("./dense-model.js") & typeof import("./dense-train.js");
let compute: Compute | undefined;

/** The TF.js side of the kind, loaded on first use (the kit has chosen the backend by then). */
async function loadCompute(): Promise<Compute> {
  if (compute === undefined) {
    const [model, train] = await Promise.all([
      import("./dense-model.js"),
      import("./dense-train.js"),
    ]);
    compute = { ...model, ...train };
  }
  return compute;
}

function loaded(): Compute {
  if (compute === undefined) throw new Error("denseStack: load() runs before train/evaluate");
  return compute;
}

/**
 * A data set as the dense stack's loop reads it: `count` rows of `features` values, row-major,
 * and their class labels; `imageSet` makes one from the kit's `Dataset`. Declared here, not in
 * dense-train.ts, so the public declarations never reach TF.js's (which fail a strict check).
 */
export interface ImageSet {
  readonly count: number;
  readonly features: number;
  /** uint8 pixels (divided by `divisor` when used) or float32 values already scaled. */
  readonly pixels: Uint8Array | Float32Array;
  /** What uint8 `pixels` are divided by when used: the data's scale (255 for MNIST). */
  readonly divisor: number;
  readonly labels: Int32Array;
}

/**
 * The dense-stack view of a data set: the loop takes pixels that are either raw uint8 divided
 * on the backend by the data's own divisor (`1 / scale`, 255 for 8-bit pixels), or floats
 * already scaled. Other scales are applied once here.
 */
export function imageSet(data: Dataset): ImageSet {
  const divisor = 1 / data.scale;
  const raw = data.x instanceof Uint8Array && data.scale !== 1 && Number.isInteger(divisor);
  let pixels: Uint8Array | Float32Array = data.x;
  if (!raw && data.scale !== 1) {
    pixels = Float32Array.from(data.x, (v) => v * data.scale);
  } else if (data.x instanceof Uint8Array && !raw) {
    pixels = Float32Array.from(data.x);
  }
  const labels = data.y;
  return { count: data.count, features: data.features, pixels, divisor: raw ? divisor : 1, labels };
}

/**
 * A dense classifier (ReLU hidden layers, optional dropout, log-softmax output, SGD on NLL loss) in
 * PyTorch's layout: FEDn's PyTorch MNIST model is `denseStack({ units: [784, 64, 32, 10], dropout: 0.5 })`.
 *
 * @example defineComputePackage({ model: denseStack({ units: [4, 16, 3] }), ... })
 */
export function denseStack(options: DenseStackOptions): ModelKind<DenseStackModel> {
  return denseKind(options) as unknown as ModelKind<DenseStackModel>;
}

function denseKind(options: DenseStackOptions): ModelKind<DenseModel> {
  const spec = denseStackSpec(options);
  const wireShapes = pytorchShapes(spec).map((shape) => ({ shape, dtype: "float32" }));
  const seed = (value: number): NdArray[] => toPytorch(initDenseWeights(spec, createRandom(value)));
  return {
    wireShapes,
    seed,
    init: (_tf, value) => seed(value),
    check(weights, file) {
      fromPytorch(weights, spec, { file });
    },
    async load(_tf, weights, file) {
      const layers = fromPytorch(weights, spec, { file });
      return (await loadCompute()).createDenseModel(layers, spec);
    },
    assign(_tf, model, weights, file) {
      loaded().assignDenseWeights(model, fromPytorch(weights, spec, { file }));
    },
    save(_tf, model) {
      return toPytorch(loaded().readDenseWeights(model));
    },
    async train(_tf, model, data, loop) {
      // The engine the kit may have started preparing while it read the data (compiled with
      // the optimizing compiler, threads up).
      await fastEngineWarming();
      const result = loaded().trainModel(model, imageSet(data), loop);
      return { numExamples: result.numExamples, steps: result.steps, loss: result.lastLoss };
    },
    evaluate: (_tf, model, data) => loaded().evaluateModel(model, imageSet(data)),
    predict: (_tf, model, data) => ({
      classes: Array.from(loaded().predictClasses(model, imageSet(data))),
    }),
    dispose: (model) => model.dispose(),
    describeWeight: (index) =>
      `layer ${Math.floor(index / 2) + 1} ${index % 2 === 0 ? "weights" : "bias"} (key "${index}")`,
  };
}
