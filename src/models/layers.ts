/**
 * Any `tf.LayersModel` (Sequential or functional) as a FEDn model kind, in Keras's layout: the
 * wire list is what Keras's `model.get_weights()` returns and FEDn's Keras clients send through
 * numpy-helper (layer by layer, each layer's trainable then non-trainable weights, kernels
 * `(in, out)`), so a Keras client and a TF.js client can share one federation.
 *
 * TF.js is never imported here at run time: every function takes the lazily loaded `tf`.
 * Batches are built from typed-array views, never `tf.slice` of a resident data-set tensor (the
 * wasm backend copies the whole source on every slice), and every tensor is released.
 */
import type * as TF from "@tensorflow/tfjs";
import { formatShape, type NdArray, sizeOf } from "../codec/ndarray.js";
import { ShapeError, UsageError } from "../errors.js";
import type { Dataset, ModelKind, TrainLoopOptions, TrainResult } from "../kit/spec.js";
import { tfjsFull } from "../node/tfjs.js";
import { checkLoopOptions } from "./loop-options.js";
import { createRandom, permutation, randomSeed } from "./random.js";

/**
 * The losses of a classifier: both take class labels from the data set (categorical one-hot
 * encodes them, as Keras's `to_categorical` does for FEDn's example); they compute the same
 * number, under Keras's two names.
 */
export type LayersLoss = "categoricalCrossentropy" | "sparseCategoricalCrossentropy";

/**
 * What `layersModel` needs to know about a package's model. `T` is TF.js's module type and
 * `Model` its `tf.LayersModel` (`layersModel<typeof TF, TF.LayersModel>`, or inferred from
 * `build`): our declarations never import TF.js's own, which a strict consumer cannot type-check
 * without `skipLibCheck`.
 */
export interface LayersModelOptions<T = unknown, Model = unknown> {
  /** Builds a fresh, uncompiled `tf.LayersModel`. `seed` is for the initializers (not for Dropout: a seeded TF.js Dropout draws the same mask on every call). */
  readonly build: (tf: T, seed: number) => Model;
  /** The optimizer for one training call, from the resolved learning rate, e.g. `tf.train.adam(lr)`. */
  readonly optimizer: (tf: T, lr: number) => unknown;
  readonly loss: LayersLoss;
  /** Only `accuracy` is computed (always); accepted so specs read like Keras's `compile`. */
  readonly metrics?: readonly "accuracy"[];
  /** The wire arrays, if known without building the model: lets a model file be checked from its headers. */
  readonly wireShapes?: readonly { shape: readonly number[]; dtype: string }[];
  /** Rows per forward pass in evaluate/predict. @default 2048 */
  readonly chunkSize?: number;
}

/** Keras's `fit` defaults (batch 32, one epoch) and Adam's default learning rate. */
const KERAS_LOOP = Object.freeze({ batchSize: 32, epochs: 1, lr: 0.001 });

/** Keras's `epsilon()`: probabilities are clipped to `[eps, 1 - eps]` before the log. */
export const KERAS_EPSILON = 1e-7;

/** The TF.js-side state of each handle a kind handed out; kept out of the public type. */
const handles = new WeakMap<object, Handle>();

const LOSSES: readonly LayersLoss[] = ["categoricalCrossentropy", "sparseCategoricalCrossentropy"];

/**
 * The model's weight variables in Keras's `get_weights()` order. TF.js's own `model.weights`
 * lists all trainable weights first, which differs from Keras for layers with non-trainable
 * state (BatchNormalization's moving mean and variance).
 */
function kerasWeightOrder(model: TF.LayersModel): TF.LayerVariable[] {
  const out: TF.LayerVariable[] = [];
  const visit = (layer: TF.layers.Layer): void => {
    const inner = (layer as Partial<TF.LayersModel>).layers;
    if (Array.isArray(inner)) {
      for (const child of inner) visit(child);
    } else {
      out.push(...layer.trainableWeights, ...layer.nonTrainableWeights);
    }
  };
  for (const layer of model.layers) visit(layer);
  return out;
}

/** Names of a `tf.LayersModel`'s weights in Keras's `get_weights()` order (the wire order). */
export function kerasWeightNames(model: object): string[] {
  return kerasWeightOrder(model as TF.LayersModel).map((v) => v.name);
}

/** A `tf.LayersModel`'s weights as the wire list (float32, Keras's order and layout). */
export function layersToWire(model: object): NdArray<"float32">[] {
  return kerasWeightOrder(model as TF.LayersModel).map((v) => {
    const value = v.read();
    return {
      dtype: "float32",
      shape: [...value.shape],
      data: Float32Array.from(value.dataSync() as Float32Array),
    };
  });
}

/**
 * Writes a wire list into the model, checking count, shapes and dtypes first (nothing is
 * written when any array does not fit). float64 arrays are accepted and rounded to float32.
 * `file` names the model file in messages; keys are numpy-helper's `"0"`, `"1"`, ...
 */
export function wireToLayers(
  tf: object,
  model: object,
  weights: readonly NdArray[],
  file = "<model>",
): void {
  const variables = kerasWeightOrder(model as TF.LayersModel);
  if (weights.length !== variables.length) {
    throw new ShapeError(
      `${file}: holds ${weights.length} arrays; the model has ${variables.length} weights (${variables
        .map((v) => formatShape(v.shape as number[]))
        .join(" ")})`,
      { file },
    );
  }
  for (const [i, v] of variables.entries()) {
    const w = weights[i]!;
    const expected = v.shape as number[];
    if (w.dtype !== "float32" && w.dtype !== "float64") {
      throw new ShapeError(`${file}: weights "${i}" are ${w.dtype}; expected float32`, {
        file,
        key: String(i),
      });
    }
    if (w.shape.length !== expected.length || w.shape.some((d, axis) => d !== expected[axis])) {
      throw new ShapeError(
        `${file}: weights "${i}" have shape ${formatShape(w.shape)}; the model expects ${formatShape(expected)}`,
        { file, key: String(i) },
      );
    }
  }
  for (const [i, v] of variables.entries()) {
    const w = weights[i]!;
    const data =
      w.dtype === "float32" ? (w.data as Float32Array) : Float32Array.from(w.data as Float64Array);
    const value = (tf as typeof TF).tensor(data, [...w.shape], "float32");
    v.write(value);
    value.dispose();
  }
}

/**
 * How the model's output is turned into a loss. When the last layer is a Dense layer with a
 * softmax (or a softmax Activation layer), Keras 3 computes cross-entropy from the logits
 * beneath it (TensorFlow backend, `_get_logits`), so we do the same: numerically stable and
 * equal to Keras's figures for confident wrong answers too. Otherwise the output is taken as
 * probabilities, normalised and clipped to `[1e-7, 1 - 1e-7]` as Keras does.
 */
interface Head {
  /** `(rows, classes)` logits, or undefined when the model's output is used as probabilities. */
  logits?: (x: TF.Tensor, training: boolean) => TF.Tensor2D;
  probabilities: (x: TF.Tensor, training: boolean) => TF.Tensor2D;
}

function headOf(tf: typeof TF, model: TF.LayersModel): Head {
  const apply = (m: TF.LayersModel, x: TF.Tensor, training: boolean) =>
    m.apply(x, { training }) as TF.Tensor;
  const whole: Head = { probabilities: (x, training) => apply(model, x, training) as TF.Tensor2D };
  const last = model.layers[model.layers.length - 1];
  if (last === undefined || model.inputs.length !== 1 || model.outputs.length !== 1) return whole;
  const config = last.getConfig();
  const className = last.getClassName();
  if (config.activation !== "softmax" || (className !== "Dense" && className !== "Activation")) {
    return whole;
  }
  const input = last.input;
  if (Array.isArray(input) || input.shape.length !== 2) return whole;
  const body = tf.model({ inputs: model.inputs, outputs: input });
  let logits: (x: TF.Tensor, training: boolean) => TF.Tensor2D;
  if (className === "Activation") {
    logits = (x, training) => apply(body, x, training) as TF.Tensor2D;
  } else {
    const [kernel, bias] = last.trainableWeights;
    if (kernel === undefined) return whole;
    logits = (x, training) => {
      const h = tf.matMul<TF.Tensor2D>(
        apply(body, x, training) as TF.Tensor2D,
        kernel.read() as TF.Tensor2D,
      );
      return bias === undefined ? h : tf.add<TF.Tensor2D>(h, bias.read());
    };
  }
  return {
    logits,
    probabilities: (x, training) => tf.softmax<TF.Tensor2D>(logits(x, training)),
  };
}

/**
 * One forward pass: per-row cross-entropy `(rows,)` against `oneHot`, Keras's way for this head,
 * and the probabilities (the model's output).
 */
function forwardLosses(
  tf: typeof TF,
  head: Head,
  x: TF.Tensor,
  oneHot: TF.Tensor2D,
  training: boolean,
): { losses: TF.Tensor1D; probabilities: () => TF.Tensor2D } {
  if (head.logits !== undefined) {
    const logits = head.logits(x, training);
    return {
      losses: tf.neg(tf.sum<TF.Tensor1D>(tf.mul(oneHot, tf.logSoftmax(logits)), -1)),
      probabilities: () => tf.softmax<TF.Tensor2D>(logits),
    };
  }
  const p = head.probabilities(x, training);
  const normalised = tf.div(p, tf.sum(p, -1, true));
  const clipped = tf.clipByValue(normalised, KERAS_EPSILON, 1 - KERAS_EPSILON);
  return {
    losses: tf.neg(tf.sum<TF.Tensor1D>(tf.mul(oneHot, tf.log(clipped)), -1)),
    probabilities: () => p,
  };
}

/** A loaded model: the `tf.LayersModel` and the per-row input shape it takes, e.g. [28, 28, 1]. */
export interface LayersModelHandle<Model = unknown> {
  readonly model: Model;
  readonly inputShape: readonly number[];
}

/** What training and evaluation need, built once per load. */
interface Handle {
  readonly model: TF.LayersModel;
  readonly head: Head;
  readonly inputShape: readonly number[];
}

function handleOf(tf: typeof TF, model: TF.LayersModel): Handle {
  const shape = model.inputs[0]?.shape.slice(1) ?? [];
  if (shape.some((d) => d === null || d === undefined)) {
    throw new UsageError(
      `the model's input shape (${shape.join(", ")}) must be fully known (apart from the batch)`,
      { option: "model" },
    );
  }
  return { model, head: headOf(tf, model), inputShape: shape as number[] };
}

/** Rows `rows` of the data set as a float32 `(n, ...inputShape)` tensor, scaled as the data asks. */
function inputBatch(
  tf: typeof TF,
  data: Dataset,
  inputShape: readonly number[],
  start: number,
  end: number,
  order?: Int32Array,
): TF.Tensor {
  const f = data.features;
  const n = end - start;
  const buffer = new Float32Array(n * f);
  if (order === undefined) {
    buffer.set(data.x.subarray(start * f, end * f));
  } else {
    for (let r = 0; r < n; r++) {
      const i = order[start + r]!;
      buffer.set(data.x.subarray(i * f, (i + 1) * f), r * f);
    }
  }
  const raw = tf.tensor(buffer, [n, ...inputShape], "float32");
  if (data.scale === 1) return raw;
  // numpy scales with `x / 255`: dividing by an integer divisor rounds exactly as that does.
  const divisor = 1 / data.scale;
  return Number.isInteger(divisor) ? tf.div(raw, divisor) : tf.mul(raw, data.scale);
}

function oneHotBatch(
  tf: typeof TF,
  data: Dataset,
  start: number,
  end: number,
  order?: Int32Array,
): TF.Tensor2D {
  const n = end - start;
  const out = new Float32Array(n * data.classes);
  for (let r = 0; r < n; r++) {
    const i = order === undefined ? start + r : order[start + r]!;
    out[r * data.classes + data.y[i]!] = 1;
  }
  return tf.tensor2d(out, [n, data.classes]);
}

function checkData(handle: Handle, data: Dataset): void {
  const size = sizeOf(handle.inputShape);
  if (size !== data.features) {
    throw new ShapeError(
      `the model takes inputs of shape ${formatShape(handle.inputShape)} (${size} values) but the data has ${data.features} features per row`,
    );
  }
  const units = handle.model.outputs[0]?.shape[1];
  if (typeof units === "number" && units !== data.classes) {
    throw new ShapeError(`the model has ${units} outputs but the data has ${data.classes} classes`);
  }
}

/**
 * Trains in place with the given optimizer (created for this call and disposed after, as a
 * fresh Keras `compile` per FEDn round does): `ceil(n / batchSize)` steps per epoch, the last
 * partial, in order or in a seeded shuffle. Returns the mean training loss of the last epoch.
 */
function trainLayersModel(
  tf: typeof TF,
  handle: Handle,
  data: Dataset,
  optimizer: TF.Optimizer,
  options: TrainLoopOptions,
): TrainResult {
  const { batchSize, epochs, shuffle, seed } = checkLoopOptions(options, KERAS_LOOP);
  checkData(handle, data);
  const variables = handle.model.trainableWeights.map((w) => w.read() as TF.Variable);
  const rng = createRandom(seed ?? randomSeed());
  const batches = Math.ceil(data.count / batchSize);
  let steps = 0;
  let epochLoss = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    const order = shuffle ? permutation(data.count, rng) : undefined;
    epochLoss = 0;
    for (let b = 0; b < batches; b++) {
      const start = b * batchSize;
      const end = Math.min(data.count, start + batchSize);
      const cost = tf.tidy(() => {
        const x = inputBatch(tf, data, handle.inputShape, start, end, order);
        const y = oneHotBatch(tf, data, start, end, order);
        const value = optimizer.minimize(
          () => tf.mean<TF.Scalar>(forwardLosses(tf, handle.head, x, y, true).losses),
          true,
          variables,
        );
        return value ?? tf.scalar(Number.NaN);
      });
      const loss = cost.dataSync()[0] as number;
      cost.dispose();
      epochLoss += loss * (end - start);
      steps++;
      options.onBatch?.({ epoch, epochs, batch: b, batches, samples: end, loss });
    }
  }
  return { numExamples: data.count, steps, loss: epochLoss / data.count };
}

/**
 * Loss and accuracy as Keras's `model.evaluate` computes them: the mean over all samples of the
 * per-sample cross-entropy (see `Head`), and the share of rows whose most probable class (the
 * first, on ties) is the label. Inference mode (no dropout).
 */
function evaluateLayersModel(
  tf: typeof TF,
  handle: Handle,
  data: Dataset,
  chunkSize = 2048,
): { loss: number; accuracy: number } {
  checkData(handle, data);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.count; start += chunkSize) {
    const end = Math.min(data.count, start + chunkSize);
    const [losses, classes] = tf.tidy(() => {
      const x = inputBatch(tf, data, handle.inputShape, start, end);
      const y = oneHotBatch(tf, data, start, end);
      const { losses, probabilities } = forwardLosses(tf, handle.head, x, y, false);
      const predicted = tf.argMax(probabilities(), -1);
      return [losses.dataSync() as Float32Array, predicted.dataSync() as Int32Array];
    });
    for (let r = 0; r < losses.length; r++) {
      lossSum += losses[r]!;
      if (classes[r] === data.y[start + r]) correct++;
    }
  }
  return { loss: lossSum / data.count, accuracy: correct / data.count };
}

/** The most probable class of every row, and the probabilities, in inference mode. */
function predictLayersModel(
  tf: typeof TF,
  handle: Handle,
  data: Dataset,
  chunkSize = 2048,
): { classes: number[]; probabilities: number[][] } {
  checkData(handle, data);
  const classes: number[] = [];
  const probabilities: number[][] = [];
  for (let start = 0; start < data.count; start += chunkSize) {
    const end = Math.min(data.count, start + chunkSize);
    const [p, k, width] = tf.tidy(() => {
      const x = inputBatch(tf, data, handle.inputShape, start, end);
      const probs = handle.head.probabilities(x, false);
      return [
        probs.dataSync() as Float32Array,
        tf.argMax(probs, -1).dataSync() as Int32Array,
        probs.shape[1],
      ] as const;
    });
    for (let r = 0; r < k.length; r++) {
      classes.push(k[r]!);
      probabilities.push(Array.from(p.subarray(r * width, (r + 1) * width)));
    }
  }
  return { classes, probabilities };
}

/**
 * A model kind for any `tf.LayersModel` with the package's optimizer and loss; weights travel
 * in Keras's `get_weights()` order and layout.
 *
 * @example
 * layersModel({
 *   build: (tf) => tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: "softmax" })] }),
 *   optimizer: (tf, lr) => tf.train.adam(lr),
 *   loss: "categoricalCrossentropy",
 * })
 */
export function layersModel<T = unknown, Model = unknown>(
  options: LayersModelOptions<T, Model>,
): ModelKind<LayersModelHandle<Model>, T> {
  if (typeof options.build !== "function") {
    throw new UsageError("layersModel: `build` must be a function (tf, seed) => tf.LayersModel", {
      option: "build",
    });
  }
  if (typeof options.optimizer !== "function") {
    throw new UsageError("layersModel: `optimizer` must be a function (tf, lr) => tf.Optimizer", {
      option: "optimizer",
    });
  }
  if (!LOSSES.includes(options.loss)) {
    throw new UsageError(
      `layersModel: loss must be one of ${LOSSES.join(", ")}; found ${JSON.stringify(options.loss)}`,
      { option: "loss" },
    );
  }
  for (const metric of options.metrics ?? []) {
    if (metric !== "accuracy") {
      throw new UsageError(
        `layersModel: the only metric is "accuracy"; found ${JSON.stringify(metric)}`,
        { option: "metrics" },
      );
    }
  }
  const chunkSize = options.chunkSize ?? 2048;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) {
    throw new UsageError(`layersModel: chunkSize must be a positive integer; found ${chunkSize}`, {
      option: "chunkSize",
    });
  }
  const tfjs = (tf: T) => tf as unknown as typeof TF;
  const inner = (handle: LayersModelHandle<Model>): Handle => {
    const found = handles.get(handle);
    if (found === undefined)
      throw new UsageError("layersModel: a model that this kind did not load");
    return found;
  };
  const kind: ModelKind<LayersModelHandle<Model>, T> = {
    // The layers API lives in the full TF.js package; loaded here so a bundle holds it only
    // for packages that use this kind.
    tfjs: async () => tfjsFull() as T,
    init(tf, seed) {
      const model = options.build(tf, seed) as unknown as TF.LayersModel;
      try {
        return layersToWire(model);
      } finally {
        model.dispose();
      }
    },
    load(tf, weights, file) {
      const model = options.build(tf, randomSeed()) as unknown as TF.LayersModel;
      try {
        wireToLayers(tfjs(tf), model, weights, file);
        const handle = handleOf(tfjs(tf), model);
        const outer: LayersModelHandle<Model> = {
          model: model as unknown as Model,
          inputShape: handle.inputShape,
        };
        handles.set(outer, handle);
        return outer;
      } catch (error) {
        model.dispose();
        throw error;
      }
    },
    assign: (tf, handle, weights, file) =>
      wireToLayers(tfjs(tf), inner(handle).model, weights, file),
    save: (_tf, handle) => layersToWire(inner(handle).model),
    train(tf, handle, data, loop) {
      const resolved = checkLoopOptions(loop, KERAS_LOOP);
      const optimizer = options.optimizer(tf, resolved.lr) as TF.Optimizer;
      try {
        return trainLayersModel(tfjs(tf), inner(handle), data, optimizer, resolved);
      } finally {
        optimizer.dispose();
      }
    },
    evaluate: (tf, handle, data) => evaluateLayersModel(tfjs(tf), inner(handle), data, chunkSize),
    predict: (tf, handle, data) => predictLayersModel(tfjs(tf), inner(handle), data, chunkSize),
    dispose: (handle) => inner(handle).model.dispose(),
  };
  return options.wireShapes === undefined ? kind : { ...kind, wireShapes: options.wireShapes };
}
