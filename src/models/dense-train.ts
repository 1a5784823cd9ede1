/**
 * Training, validation and prediction for dense stacks, written for speed on the wasm backend
 * (measured: see BENCHMARKS.md, "Toward the machine's limit"): the wasm backend runs matMuls with a transposed operand in a naive
 * scalar loop and copies a whole tensor on every `tf.slice`, so
 * - each batch is a native uint8 → float32 copy of its rows (no JS loop per pixel), scaled and
 *   transposed by kernels, so the big gradient `xᵀ · g` (784 × B × 64) is a plain matMul;
 * - the backward pass is written by hand (about 35 kernels a step instead of ~100 for autodiff);
 *   `method: "autodiff"` keeps `tf.variableGrads` as the general path and a test proves both agree;
 * - validation and prediction run large chunks built from typed-array views, never slices of a
 *   resident data-set tensor, and the data set itself stays uint8 on the JS heap.
 */
import type * as TF from "@tensorflow/tfjs-core";
import type { TrainProgress } from "../kit/spec.js";
import { tfjsCore, tfjsFull } from "../node/tfjs.js";
import { type BatchStep, runBatches } from "./batch-loop.js";
import type { ImageSet } from "./dense.js";
import type { DenseModel } from "./dense-model.js";
import { dropoutMasks, forward } from "./dense-model.js";
import { defaultEngine, type EngineChoice, openFastNet, writeBack } from "./fast/dense.js";
import { fastBatchStep, fastInput } from "./fast/loop.js";
import { checkLoopOptions } from "./loop-options.js";
import { createRandom, type Random, randomSeed } from "./random.js";

const tf = tfjsCore();

/** The PyTorch MNIST package's loop settings: `trainModel`'s defaults when called directly. */
const PYTORCH_LOOP = Object.freeze({ batchSize: 32, epochs: 1, lr: 0.01 });

/**
 * One batch on the JS heap: `x` is `(rows, features)` row-major, holding the pixel values before
 * the division by `divisor` (the set's own: 255 for MNIST's uint8 pixels, 1 for sets already
 * scaled), which the backend does: a native uint8 → float32 copy plus one division kernel is much
 * cheaper than scaling in JS, and float32 division rounds exactly as `v / 255` does.
 */
export interface TrainBatch {
  readonly rows: number;
  readonly x: Float32Array;
  readonly divisor: number;
  readonly labels: Int32Array;
}

/**
 * Builds batches from an image set. `reuse` recycles the buffers between batches, which is only
 * safe on backends that copy on upload (wasm does; the cpu backend keeps a reference).
 * `augment` appends a column holding the divisor to every row: after the division it is exactly
 * 1, the input that multiplies the bias column of the fast step's first layer.
 */
class BatchBuilder {
  private x = new Float32Array(0);
  private labels = new Int32Array(0);
  private readonly width: number;
  private readonly divisor: number;

  constructor(
    private readonly set: ImageSet,
    private readonly reuse: boolean,
    private readonly augment: boolean,
  ) {
    this.width = set.features + (augment ? 1 : 0);
    this.divisor = set.pixels instanceof Uint8Array ? set.divisor : 1;
  }

  /** Rows `start..end-1` of the set, or of `order` when shuffling. */
  build(start: number, end: number, order?: Int32Array): TrainBatch {
    const { features, pixels, labels: allLabels } = this.set;
    const { width, divisor } = this;
    const rows = end - start;
    if (!this.reuse || this.x.length !== rows * width) {
      this.x = new Float32Array(rows * width);
      this.labels = new Int32Array(rows);
    }
    const { x, labels } = this;
    if (order === undefined && !this.augment) {
      x.set(pixels.subarray(start * features, end * features));
      labels.set(allLabels.subarray(start, end));
    } else {
      for (let r = 0; r < rows; r++) {
        const index = order === undefined ? start + r : order[start + r]!;
        x.set(pixels.subarray(index * features, (index + 1) * features), r * width);
        if (this.augment) x[r * width + features] = divisor;
        labels[r] = allLabels[index]!;
      }
    }
    return { rows, x, divisor, labels };
  }
}

/** The batch's `(rows, features)` input tensor, scaled. Call inside a tidy. */
function inputTensor(batch: TrainBatch, features: number): TF.Tensor2D {
  const raw = tf.tensor2d(batch.x, [batch.rows, features]);
  return batch.divisor === 1 ? raw : tf.div<TF.Tensor2D>(raw, batch.divisor);
}

/** One-hot targets with value `scale` at each label: `(rows, classes)`. */
function scaledOneHot(labels: Int32Array, classes: number, scale: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let r = 0; r < labels.length; r++) out[r * classes + labels[r]!] = scale;
  return out;
}

/** Mean NLL of a batch from its `(rows, classes)` log-probabilities, summed in double. */
function meanNll(logp: Float32Array, labels: Int32Array, classes: number): number {
  let sum = 0;
  for (let r = 0; r < labels.length; r++) sum -= logp[r * classes + labels[r]!]!;
  return sum / labels.length;
}

function maskTensors(
  masks: readonly (Float32Array | undefined)[],
  rows: number,
  model: DenseModel,
): (TF.Tensor2D | undefined)[] {
  return masks.map((m, i) =>
    m === undefined ? undefined : tf.tensor2d(m, [rows, model.spec.sizes[i + 1]!]),
  );
}

/**
 * The weights as the fast step holds them while training. Layer 0 is kept PyTorch-style,
 * `(out, in + 1)` with the bias as the last column, and runs forward as `W · xᵀ`: the wasm
 * backend builds an XNNPACK operator for every new right-hand operand and packs it, and the
 * kernel changes every step, so `x · W` would re-pack the whole 784 × 64 kernel per step while
 * `W · xᵀ` packs only the 785 × B batch (about 8% of an epoch). Later layers share the model's
 * own variables.
 */
interface FastState {
  readonly first: TF.Variable<TF.Rank.R2>;
  readonly kernels: readonly TF.Variable<TF.Rank.R2>[];
  readonly biases: readonly TF.Variable<TF.Rank.R1>[];
}

function enterFastState(model: DenseModel): FastState {
  const outputs = model.spec.sizes[1]!;
  const first = tf.tidy(() =>
    tf.variable(
      tf.concat2d(
        [tf.transpose(model.kernels[0]!), tf.reshape<TF.Rank.R2>(model.biases[0]!, [outputs, 1])],
        1,
      ),
      true,
    ),
  );
  return { first, kernels: model.kernels.slice(1), biases: model.biases.slice(1) };
}

/** Writes layer 0 back into the model's variables and frees the state. */
function leaveFastState(state: FastState, model: DenseModel): void {
  const inputs = model.spec.sizes[0]!;
  tf.tidy(() => {
    const [kernel, bias] = tf.split(state.first, [inputs, 1], 1) as [TF.Tensor2D, TF.Tensor2D];
    model.kernels[0]!.assign(tf.transpose(kernel));
    // Not tf.reshape: on wasm a reshape shares the (out, 1) buffer, whose recorded rank the
    // fused matMul then rejects for a bias. The 64 values go through JS instead.
    model.biases[0]!.assign(tf.tensor1d(bias.dataSync() as Float32Array));
  });
  state.first.dispose();
}

/** `batch` with the bias column appended (see `BatchBuilder`). */
function augmentBatch(batch: TrainBatch, features: number): TrainBatch {
  const width = features + 1;
  const x = new Float32Array(batch.rows * width);
  for (let r = 0; r < batch.rows; r++) {
    x.set(batch.x.subarray(r * features, (r + 1) * features), r * width);
    x[r * width + features] = batch.divisor;
  }
  return { ...batch, x };
}

/** The fast step on an augmented batch; see `stepBackprop`. */
function stepFast(
  state: FastState,
  spec: DenseModel["spec"],
  batch: TrainBatch,
  masks: readonly (Float32Array | undefined)[],
  lr: number,
  wantLoss: boolean,
): number | undefined {
  const { rows } = batch;
  const sizes = spec.sizes;
  const classes = sizes[sizes.length - 1]!;
  const last = sizes.length - 2;
  return tf.tidy(() => {
    const xT = tf.transpose(inputTensor(batch, sizes[0]! + 1));
    const maskT = masks.map((m, i) =>
      m === undefined ? undefined : tf.tensor2d(m, [rows, sizes[i + 1]!]),
    );
    const first = tf.transpose(
      tf.fused.matMul({ a: state.first, b: xT, activation: last > 0 ? "relu" : "linear" }),
    ) as TF.Tensor2D;
    // inputs[l] is the input of layer l ≥ 1; relu[l] the ReLU output of hidden layer l.
    const inputs: (TF.Tensor2D | undefined)[] = [undefined];
    const relu: TF.Tensor2D[] = [];
    let logits = first;
    for (let l = 0; l < last; l++) {
      const a =
        l === 0
          ? first
          : (tf.fused.matMul({
              a: inputs[l]!,
              b: state.kernels[l - 1]!,
              bias: state.biases[l - 1]!,
              activation: "relu",
            }) as TF.Tensor2D);
      relu.push(a);
      const mask = maskT[l];
      inputs.push(mask === undefined ? a : tf.mul<TF.Tensor2D>(a, mask));
    }
    if (last > 0) {
      logits = tf.fused.matMul({
        a: inputs[last]!,
        b: state.kernels[last - 1]!,
        bias: state.biases[last - 1]!,
      }) as TF.Tensor2D;
    }
    let loss: number | undefined;
    if (wantLoss) {
      loss = meanNll(tf.logSoftmax(logits).dataSync() as Float32Array, batch.labels, classes);
    }
    // d(mean NLL)/d(logits) = (softmax − onehot) / rows; scaled by lr here so every gradient
    // below is already the SGD update and needs no separate multiply.
    const scale = lr / rows;
    const target = tf.tensor2d(scaledOneHot(batch.labels, classes, scale), [rows, classes]);
    let g = tf.sub<TF.Tensor2D>(tf.mul(tf.softmax(logits), scale), target);
    const updates: [TF.Variable, TF.Tensor][] = [];
    for (let l = last; l >= 1; l--) {
      const kernel = state.kernels[l - 1]!;
      // hᵀ · g with an explicit transpose: XNNPACK then packs only g (rows × out).
      updates.push([kernel, tf.matMul(tf.transpose(inputs[l]!), g)]);
      updates.push([state.biases[l - 1]!, tf.sum(g, 0)]);
      // Through layer l's weights (old values), then the dropout mask and the ReLU below it.
      let d = tf.matMul(g, tf.transpose(kernel));
      const mask = maskT[l - 1];
      if (mask !== undefined) d = tf.mul<TF.Tensor2D>(d, mask);
      g = tf.mul<TF.Tensor2D>(d, tf.step(relu[l - 1]!));
    }
    // Layer 0 and its bias column at once: (xᵀ · g)ᵀ, again packing only g.
    updates.push([state.first, tf.transpose(tf.matMul(xT, g))]);
    for (const [variable, delta] of updates) variable.assign(tf.sub(variable, delta));
    return loss;
  });
}

/**
 * One SGD step with the hand-derived backward pass of a dense stack (ReLU, dropout masks,
 * log-softmax + NLL). Returns the batch's mean loss (before the update) when `wantLoss`.
 * Never calls a matMul with a transposed operand: the wasm backend runs those in a naive scalar
 * loop, so `xᵀ`, `hᵀ` and `Wᵀ` are made by (cheap) transpose kernels. `trainModel` keeps the
 * fast layout across steps; this function converts in and out for a single step.
 */
export function stepBackprop(
  model: DenseModel,
  batch: TrainBatch,
  masks: readonly (Float32Array | undefined)[],
  lr: number,
  wantLoss: boolean,
): number | undefined {
  const state = enterFastState(model);
  try {
    const augmented = augmentBatch(batch, model.spec.sizes[0]!);
    return stepFast(state, model.spec, augmented, masks, lr, wantLoss);
  } finally {
    leaveFastState(state, model);
  }
}

let gradientsRegistered = false;

/**
 * tfjs-core ships its gradient functions only in its ES-module build, which Node cannot load;
 * the `@tensorflow/tfjs` bundle registers them into the same tfjs-core on load. Loaded only here,
 * so the fast path and start-up never pay for it (≈ 0.2 s, 30 MB).
 */
function ensureGradients(): void {
  if (gradientsRegistered) return;
  tfjsFull();
  gradientsRegistered = true;
}

/**
 * One SGD step through `tf.variableGrads` on the same forward pass the model uses for
 * prediction: the general path (any loss TF.js can differentiate), slower on wasm.
 */
export function stepAutodiff(
  model: DenseModel,
  batch: TrainBatch,
  masks: readonly (Float32Array | undefined)[],
  lr: number,
  wantLoss: boolean,
): number | undefined {
  const { rows } = batch;
  const sizes = model.spec.sizes;
  const classes = sizes[sizes.length - 1]!;
  ensureGradients();
  return tf.tidy(() => {
    const x = inputTensor(batch, sizes[0]!);
    const maskT = maskTensors(masks, rows, model);
    const target = tf.tensor2d(scaledOneHot(batch.labels, classes, 1), [rows, classes]);
    const variables = [...model.kernels, ...model.biases];
    const { value, grads } = tf.variableGrads(
      () => tf.neg(tf.mean(tf.sum(tf.mul(forward(model, x, maskT), target), 1))) as TF.Scalar,
      variables,
    );
    const loss = wantLoss ? value.dataSync()[0] : undefined;
    for (const variable of variables) {
      variable.assign(tf.sub(variable, tf.mul(grads[variable.name]!, lr)));
    }
    return loss;
  });
}

export type { TrainProgress };

export interface TrainOptions {
  /** @default 32 */
  readonly batchSize?: number;
  /** @default 1 */
  readonly epochs?: number;
  /** @default 0.01 */
  readonly lr?: number;
  /** Fixes dropout masks and the shuffle order. @default a random seed */
  readonly seed?: number | undefined;
  /** Shuffle the samples each epoch (the Python package does not). @default false */
  readonly shuffle?: boolean;
  /** `backprop` (hand-derived, fast) or `autodiff` (tf.variableGrads). @default "backprop" */
  readonly method?: "backprop" | "autodiff";
  /** Compute the loss on batches `0, logEvery, 2·logEvery, …` (the Python prints those). @default 100 */
  readonly logEvery?: number;
  /** Called after every step; keep it cheap. */
  readonly onBatch?: ((progress: TrainProgress) => void) | undefined;
  /**
   * `fast` (our fused wasm kernel, src/models/fast/) or `tfjs`, and the fast engine's threads;
   * resolve once with `resolveEngine`. @default the fast engine on every core
   */
  readonly engine?: EngineChoice | undefined;
}

export interface TrainResult {
  /** Samples in one epoch: what FEDn's `num_examples` means. */
  readonly numExamples: number;
  readonly steps: number;
  /** The loss of the last batch whose loss was computed. */
  readonly lastLoss: number | undefined;
}

/**
 * Trains `model` in place with SGD on NLL loss: `ceil(n / batchSize)` batches per epoch in order
 * (the last one partial), as the PyTorch package's loop does. The model's first-layer variables
 * are brought up to date when it returns (the fast step trains a copy in its own layout).
 * Options are checked here (`checkLoopOptions`): a batch size of 0 or a NaN learning rate is a
 * `UsageError`, whoever calls.
 */
export function trainModel(
  model: DenseModel,
  set: ImageSet,
  options: TrainOptions = {},
): TrainResult {
  const { batchSize, epochs, lr, ...checked } = checkLoopOptions(options, PYTORCH_LOOP);
  const logEvery = options.logEvery ?? 100;
  const seed = checked.seed ?? randomSeed();
  const dropoutRng = createRandom(seed);
  const shuffleRng: Random = createRandom(seed ^ 0x5bd1e995);
  const autodiff = options.method === "autodiff";
  const engine = options.engine ?? defaultEngine();
  // The fused wasm kernel: same batches, masks and loss, one call per step (src/models/fast/).
  const net =
    !autodiff && engine.engine === "fast"
      ? openFastNet(model, Math.min(batchSize, set.count), engine.threads)
      : undefined;
  const state = autodiff || net !== undefined ? undefined : enterFastState(model);
  const builder = new BatchBuilder(set, tf.getBackend() === "wasm", !autodiff);
  const step: BatchStep =
    net !== undefined
      ? fastBatchStep(net, set, model.spec, dropoutRng, lr)
      : (start, end, wantLoss, order) => {
          const masks = dropoutMasks(model.spec, end - start, dropoutRng);
          const batch = builder.build(start, end, order);
          return state === undefined
            ? stepAutodiff(model, batch, masks, lr, wantLoss)
            : stepFast(state, model.spec, batch, masks, lr, wantLoss);
        };
  try {
    const loop = {
      count: set.count,
      batchSize,
      epochs,
      logEvery,
      shuffleRng: options.shuffle === true ? shuffleRng : undefined,
      onBatch: options.onBatch,
    };
    const { steps, lastLoss } = runBatches(loop, step);
    return { numExamples: set.count, steps, lastLoss };
  } finally {
    if (state !== undefined) leaveFastState(state, model);
    if (net !== undefined) writeBack(net, model);
  }
}

export interface EvaluateOptions {
  /** Rows per forward call: large enough to amortise dispatch (~15 kernels), small enough that the chunk (6 MB at 2048 × 784) does not grow the wasm heap. @default 2048 */
  readonly chunkSize?: number;
  /** As in `TrainOptions`. @default auto, all cores */
  readonly engine?: EngineChoice;
}

/** Runs the forward pass (dropout off) over `set` in chunks and hands each chunk's log-probs on. */
function forEachChunk(
  model: DenseModel,
  set: ImageSet,
  options: EvaluateOptions,
  use: (logp: Float32Array, start: number, rows: number) => void,
): void {
  const chunk = options.chunkSize ?? 2048;
  const engine = options.engine ?? defaultEngine();
  if (engine.engine === "fast") {
    // The same kernel as training, dropout off, each chunk's rows split over the threads.
    const net = openFastNet(model, Math.min(chunk, set.count), engine.threads);
    const input = fastInput(set);
    for (let start = 0; start < set.count; start += chunk) {
      const end = Math.min(start + chunk, set.count);
      use(net.forwardChunk(input, undefined, start, end).logp, start, end - start);
    }
    return;
  }
  const { features, pixels } = set;
  const reuse = tf.getBackend() === "wasm";
  let x = new Float32Array(0);
  for (let start = 0; start < set.count; start += chunk) {
    const rows = Math.min(chunk, set.count - start);
    if (!reuse || x.length !== rows * features) x = new Float32Array(rows * features);
    // A native uint8 → float32 copy, then one division on the backend: ~5× faster than a JS
    // loop, and float32 division rounds exactly as `v / 255` does in the batch builder.
    const from = start * features;
    x.set(pixels.subarray(from, from + x.length));
    // Read the result outside tidy: tidy walks a returned typed array element by element.
    const output = tf.tidy(() => {
      const raw = tf.tensor2d(x, [rows, features]);
      const divisor = pixels instanceof Uint8Array ? set.divisor : 1;
      const input = divisor === 1 ? raw : tf.div<TF.Tensor2D>(raw, divisor);
      return forward(model, input);
    });
    const logp = output.dataSync() as Float32Array;
    output.dispose();
    use(logp, start, rows);
  }
}

/** Mean NLL loss and accuracy of `model` on `set`, dropout off. */
export function evaluateModel(
  model: DenseModel,
  set: ImageSet,
  options: EvaluateOptions = {},
): { loss: number; accuracy: number } {
  const classes = model.spec.sizes[model.spec.sizes.length - 1]!;
  let lossSum = 0;
  let correct = 0;
  forEachChunk(model, set, options, (logp, start, rows) => {
    for (let r = 0; r < rows; r++) {
      const label = set.labels[start + r]!;
      lossSum -= logp[r * classes + label]!;
      if (argmaxRow(logp, r, classes) === label) correct++;
    }
  });
  return { loss: lossSum / set.count, accuracy: correct / set.count };
}

/** The first index of the largest value in row `r`, as torch.argmax picks it. */
function argmaxRow(values: Float32Array, r: number, width: number): number {
  const base = r * width;
  let best = 0;
  for (let c = 1; c < width; c++) if (values[base + c]! > values[base + best]!) best = c;
  return best;
}

/** Log-probabilities `(count, classes)` row-major, dropout off. */
export function predictLogProbs(
  model: DenseModel,
  set: ImageSet,
  options: EvaluateOptions = {},
): Float32Array {
  const classes = model.spec.sizes[model.spec.sizes.length - 1]!;
  const out = new Float32Array(set.count * classes);
  forEachChunk(model, set, options, (logp, start) => out.set(logp, start * classes));
  return out;
}

/** The predicted class of every sample (argmax of the log-probabilities). */
export function predictClasses(
  model: DenseModel,
  set: ImageSet,
  options: EvaluateOptions = {},
): Int32Array {
  const classes = model.spec.sizes[model.spec.sizes.length - 1]!;
  const out = new Int32Array(set.count);
  forEachChunk(model, set, options, (logp, start, rows) => {
    for (let r = 0; r < rows; r++) out[start + r] = argmaxRow(logp, r, classes);
  });
  return out;
}
