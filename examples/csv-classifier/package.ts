/**
 * A dense classifier on a CSV file, as a FEDn compute package: which fruit (apple, banana,
 * orange) from weight, length, diameter and colour (fruit.csv, made by make-data.mjs). Every
 * client reads its own CSV with the same columns; a seeded quarter of its rows is the test split.
 *
 * Run it: `fedn-tfjs run examples/csv-classifier train ...`, or see the test that does
 * (test/examples.csv-classifier.test.ts). A package of your own imports "fedn-tfjs".
 */
import type * as TF from "@tensorflow/tfjs";
import { csvData, defineComputePackage, layersModel } from "../../src/index.js";

export default defineComputePackage({
  name: "csv-classifier",
  describe: "Which fruit, from weight, size and colour: a dense classifier on a CSV file",
  dataFile: "fruit.csv",
  data: csvData({
    label: "fruit",
    // Stated, not inferred: every client must number the classes and colours alike.
    labels: ["apple", "banana", "orange"],
    categories: { color: ["green", "yellow", "red", "orange"] },
    testFraction: 0.25,
    seed: 1,
  }),
  model: layersModel({
    build: (tf: typeof TF, seed: number) =>
      tf.sequential({
        layers: [
          tf.layers.dense({
            inputShape: [4],
            units: 16,
            activation: "relu",
            kernelInitializer: tf.initializers.glorotUniform({ seed }),
          }),
          tf.layers.dense({
            units: 3,
            activation: "softmax",
            kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
          }),
        ],
      }),
    optimizer: (tf: typeof TF, lr: number) => tf.train.adam(lr),
    loss: "sparseCategoricalCrossentropy",
  }),
  defaults: { batchSize: 16, epochs: 20, lr: 0.01 },
});
