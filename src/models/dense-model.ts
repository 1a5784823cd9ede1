/**
 * A dense stack (ReLU hidden layers, optional dropout, log-softmax output) in TensorFlow.js. The
 * MNIST model is `MNIST_SPEC`; other compute packages can pass their own layer sizes. Weights are
 * `tf.Variable`s in TF.js `(in, out)` layout; converting from and to model files is layout.ts's job.
 */

import type * as TF from "@tensorflow/tfjs-core";
import { ShapeError } from "../errors.js";
import { tfjsCore } from "../node/tfjs.js";
import { type DenseStackSpec, type DenseWeights, MNIST_SPEC } from "./layout.js";

export { initDenseWeights } from "./dense-init.js";
export { dropoutMasks, fillDropoutMask } from "./dropout.js";

const tf = tfjsCore();

/** A model on the current backend. Call `dispose()` when done to free its variables. */
export interface DenseModel {
  readonly spec: DenseStackSpec;
  /** `(in, out)` kernels, one per layer. */
  readonly kernels: readonly TF.Variable<TF.Rank.R2>[];
  /** `(out,)` biases, one per layer. */
  readonly biases: readonly TF.Variable<TF.Rank.R1>[];
  dispose(): void;
}

/** Puts weights on the backend as trainable variables. */
export function createDenseModel(
  weights: DenseWeights,
  spec: DenseStackSpec = MNIST_SPEC,
): DenseModel {
  if (weights.length !== spec.sizes.length - 1) {
    throw new ShapeError(
      `createDenseModel: ${weights.length} layers of weights for ${spec.sizes.length - 1} layers`,
    );
  }
  // tidy frees the initial tensors; the variables hold their own references to the data.
  const kernels = weights.map((w) =>
    tf.tidy(() => tf.variable(tf.tensor2d(w.kernel, [w.inputs, w.outputs]), true)),
  );
  const biases = weights.map((w) => tf.tidy(() => tf.variable(tf.tensor1d(w.bias), true)));
  return {
    spec,
    kernels,
    biases,
    dispose() {
      for (const v of [...kernels, ...biases]) v.dispose();
    },
  };
}

/** Writes weights of the model's own spec (checked by the caller) into its variables. */
export function assignDenseWeights(model: DenseModel, weights: DenseWeights): void {
  weights.forEach((w, l) => {
    tf.tidy(() => {
      model.kernels[l]!.assign(tf.tensor2d(w.kernel, [w.inputs, w.outputs]));
      model.biases[l]!.assign(tf.tensor1d(w.bias));
    });
  });
}

/** Copies the model's weights back to the JS heap (TF.js layout). */
export function readDenseWeights(model: DenseModel): DenseWeights {
  return model.kernels.map((kernel, l) => {
    const [inputs, outputs] = kernel.shape as [number, number];
    return {
      inputs,
      outputs,
      kernel: (kernel.dataSync() as Float32Array).slice(),
      bias: (model.biases[l]!.dataSync() as Float32Array).slice(),
    };
  });
}

/**
 * The forward pass: log-probabilities `(rows, classes)` of a `(rows, in)` batch. With `masks`
 * (training) each hidden layer's ReLU output is multiplied by its mask; without, dropout is off.
 * Differentiable with respect to the model's variables (the autodiff training path uses it).
 */
export function forward(
  model: DenseModel,
  x: TF.Tensor2D,
  masks?: readonly (TF.Tensor2D | undefined)[],
): TF.Tensor2D {
  return tf.tidy(() => {
    let h: TF.Tensor2D = x;
    const last = model.kernels.length - 1;
    for (let l = 0; l < last; l++) {
      h = tf.fused.matMul({
        a: h,
        b: model.kernels[l]!,
        bias: model.biases[l]!,
        activation: "relu",
      }) as TF.Tensor2D;
      const mask = masks?.[l];
      if (mask !== undefined) h = tf.mul<TF.Tensor2D>(h, mask);
    }
    const logits = tf.fused.matMul({
      a: h,
      b: model.kernels[last]!,
      bias: model.biases[last]!,
    }) as TF.Tensor2D;
    return tf.logSoftmax<TF.Tensor2D>(logits);
  });
}
