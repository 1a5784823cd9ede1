/**
 * The bridge between TF.js dense stacks (src/mnist/model.ts's `DenseModel`) and the fast engine:
 * moving the weights between the model's variables and the engine's memory.
 */
import { tfjsCore } from "../../node/tfjs.js";
import type { DenseModel } from "../dense-model.js";
import { FastNet } from "./engine.js";

export { defaultEngine, type EngineChoice, resolveEngine } from "./options.js";

const tf = tfjsCore();

/** The fast engine's copy of `model`, for batches of up to `maxRows` rows. */
export function openFastNet(model: DenseModel, maxRows: number, threads: number): FastNet {
  const weights = model.kernels.map((kernel, l) => {
    const [inputs, outputs] = kernel.shape as [number, number];
    return {
      inputs,
      outputs,
      kernel: kernel.dataSync() as Float32Array,
      bias: model.biases[l]!.dataSync() as Float32Array,
    };
  });
  return new FastNet(model.spec, weights, maxRows, threads);
}

/** Writes the engine's trained weights back into the model's variables. */
export function writeBack(net: FastNet, model: DenseModel): void {
  net.getWeights().forEach((w, l) => {
    tf.tidy(() => {
      model.kernels[l]!.assign(tf.tensor2d(w.kernel, [w.inputs, w.outputs]));
      model.biases[l]!.assign(tf.tensor1d(w.bias));
    });
  });
}
