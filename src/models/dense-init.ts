/**
 * Weight initialisation, in plain JS (no TF.js), so `init_seed` starts without loading a backend.
 */

import {
  type DenseLayerWeights,
  type DenseStackSpec,
  type DenseWeights,
  MNIST_SPEC,
} from "./layout.js";
import { createRandom, type Random, randomSeed } from "./random.js";

/**
 * PyTorch's default `Linear(in, out)` initialisation, drawn from `rng`: weights and biases both
 * U(−1/√in, 1/√in) (kaiming_uniform with a = √5 reduces to this bound), so training starts from
 * the same distribution as the Python package.
 */
export function initDenseWeights(spec: DenseStackSpec = MNIST_SPEC, rng?: Random): DenseWeights {
  const random = rng ?? createRandom(randomSeed());
  const layers: DenseLayerWeights[] = [];
  for (let l = 0; l + 1 < spec.sizes.length; l++) {
    const inputs = spec.sizes[l]!;
    const outputs = spec.sizes[l + 1]!;
    const bound = 1 / Math.sqrt(inputs);
    const draw = () => (2 * random.next() - 1) * bound;
    const kernel = new Float32Array(inputs * outputs);
    for (let i = 0; i < kernel.length; i++) kernel[i] = draw();
    const bias = new Float32Array(outputs);
    for (let i = 0; i < bias.length; i++) bias[i] = draw();
    layers.push({ inputs, outputs, kernel, bias });
  }
  return layers;
}
