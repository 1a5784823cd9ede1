/**
 * A drop-in for FEDn's own Keras MNIST example (`examples/mnist-keras`, FEDn v0.33.0), written with
 * the public API only: the same model (Flatten → Dense(64, relu) → Dropout(0.5) → Dense(32, relu)
 * → Dense(10, softmax), Adam, categorical cross-entropy), the same wire list as Keras's
 * `get_weights()` ((784,64) (64,) (64,32) (32,) (32,10) (10,)), the same data file and scaling
 * (`x / 255`), the same metrics as Keras's `evaluate`, and predict's `{"predictions": [...]}`.
 * Keras and TF.js clients can join one federation.
 *
 * In this repository the library is imported from its source (`../../src/index.js`), which the
 * bundler follows; a package of your own imports `"fedn-tfjs"` instead.
 */
import type * as TF from "@tensorflow/tfjs";
import { defineComputePackage, kerasAdam, layersModel, npzData } from "../../src/index.js";

export default defineComputePackage({
  name: "mnist-keras",
  describe: "FEDn's Keras MNIST example (784-64-32-10, Adam) in TensorFlow.js",
  dataFile: "mnist.npz",
  // FEDn's data.py: X.astype("float32") / 255; labels one-hot for categorical cross-entropy.
  data: npzData({ classes: 10, scale: 1 / 255, features: 784 }),
  model: layersModel({
    build: (tf: typeof TF, seed: number) => {
      // Keras's defaults: glorot_uniform kernels, zero biases. Dropout stays unseeded: a seeded
      // TF.js dropout draws the same mask on every step.
      const glorot = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
      return tf.sequential({
        layers: [
          tf.layers.flatten({ inputShape: [28, 28, 1] }),
          tf.layers.dense({ units: 64, activation: "relu", kernelInitializer: glorot(0) }),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.dense({ units: 32, activation: "relu", kernelInitializer: glorot(1) }),
          tf.layers.dense({ units: 10, activation: "softmax", kernelInitializer: glorot(2) }),
        ],
      });
    },
    // Keras's Adam update, step for step (TF.js's tf.train.adam places epsilon differently).
    optimizer: (tf: typeof TF, lr: number) => kerasAdam(tf, lr),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  }),
  // Keras's fit and Adam defaults, as FEDn's train.py uses them.
  defaults: { batchSize: 32, epochs: 1, lr: 0.001 },
  // Keras's fit shuffles every epoch unless told not to.
  train: ({ tf, kind, model, train, loop }) =>
    kind.train(tf, model, train, { ...loop, shuffle: true }),
  // FEDn's predict.py: the argmax class of every test sample.
  predict: ({ tf, kind, model, data }) => ({
    predictions: kind.predict(tf, model, data.test!).classes,
  }),
});
