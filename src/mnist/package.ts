/**
 * The drop-in for FEDn's PyTorch MNIST compute package (`examples/mnist-pytorch`), written as one
 * client of the kit: the same commands, files, model layout and defaults as its `entrypoint.py`.
 * Model: 784 → 64 (ReLU) → dropout 0.5 → 32 (ReLU) → 10 (log-softmax), SGD on NLL loss, in
 * PyTorch's `state_dict` order and `(out, in)` layout, so TF.js and PyTorch clients can share one
 * global model. Data: `data/clients/<i>/mnist.npz` (x_train, y_train, x_test, y_test), pixels
 * divided by 255 as the Python package does.
 *
 * `src/bin/entrypoint.ts` runs it (`node dist/entrypoint.js train in.npz out.npz`); `fedn-tfjs`
 * mounts its commands.
 */
import { defineComputePackage, denseStack, mnistNpz, VERSION } from "../index.js";

export default defineComputePackage({
  name: "mnist",
  version: VERSION,
  describe:
    "FEDn's PyTorch MNIST compute package (784-64-32-10 MLP), in TensorFlow.js: same commands, files and model layout.",
  dataFile: "mnist.npz",
  data: mnistNpz({ features: 784, classes: 10 }),
  // Dropout 0.5 after the first hidden layer only, as in the PyTorch model.
  model: denseStack({ units: [784, 64, 32, 10], dropout: [0.5, 0] }),
  // The PyTorch package's: batch 32, one epoch, SGD learning rate 0.01.
  defaults: { batchSize: 32, epochs: 1, lr: 0.01 },
});
