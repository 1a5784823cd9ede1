/**
 * Adam exactly as Keras 3 updates a variable. TF.js's `tf.train.adam` bias-corrects `m` and `v`
 * before adding epsilon, Keras folds the corrections into the step size and adds epsilon to
 * `sqrt(v)`: the same for large gradients, but for weights whose gradients are tiny (pixels that
 * are almost always 0) TF.js takes steps several times larger. Measured on FEDn's MNIST model
 * over 20 steps: weights 6e-3 apart with `tf.train.adam`, within 1e-4 of Keras with this one.
 *
 * Keras (keras/src/optimizers/adam.py), at step t from 1:
 *   alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
 *   m += (g - m) * (1 - beta1);  v += (g^2 - v) * (1 - beta2)
 *   w -= alpha * m / (sqrt(v) + epsilon)
 */
import type * as TF from "@tensorflow/tfjs";
import { UsageError } from "../errors.js";

/** Keras's Adam hyper-parameters. */
export interface KerasAdamOptions {
  /** @default 0.9 */
  readonly beta1?: number;
  /** @default 0.999 */
  readonly beta2?: number;
  /** @default 1e-7 */
  readonly epsilon?: number;
}

/**
 * A TF.js optimizer that updates as Keras's `keras.optimizers.Adam(learning_rate=lr)`; for a
 * package whose weights must follow a Keras client's step for step. `tf` is the loaded TF.js.
 *
 * @example optimizer: (tf, lr) => kerasAdam(tf, lr)
 */
export function kerasAdam<T>(tf: T, lr: number, options: KerasAdamOptions = {}): unknown {
  const t = tf as unknown as typeof TF;
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-7;
  for (const [name, value, ok] of [
    ["learning rate", lr, lr > 0],
    ["beta1", beta1, beta1 >= 0 && beta1 < 1],
    ["beta2", beta2, beta2 >= 0 && beta2 < 1],
    ["epsilon", epsilon, epsilon >= 0],
  ] as const) {
    if (!Number.isFinite(value) || !ok) {
      throw new UsageError(`kerasAdam: ${name} out of range; found ${value}`, { option: "lr" });
    }
  }

  class KerasAdam extends t.Optimizer {
    static get className(): string {
      return "KerasAdam";
    }
    private step = 0;
    private readonly slots = new Map<string, { m: TF.Variable; v: TF.Variable }>();

    override applyGradients(
      gradients: TF.NamedTensorMap | { name: string; tensor: TF.Tensor }[],
    ): void {
      const list = Array.isArray(gradients)
        ? gradients
        : Object.entries(gradients).map(([name, tensor]) => ({ name, tensor }));
      this.step++;
      const alpha = (lr * Math.sqrt(1 - beta2 ** this.step)) / (1 - beta1 ** this.step);
      const variables = t.engine().registeredVariables;
      t.tidy(() => {
        for (const { name, tensor: g } of list) {
          const variable = variables[name];
          if (variable === undefined) continue;
          let slot = this.slots.get(name);
          if (slot === undefined) {
            slot = {
              m: t.variable(t.zerosLike(variable), false),
              v: t.variable(t.zerosLike(variable), false),
            };
            this.slots.set(name, slot);
          }
          const m = t.add(slot.m, t.mul(t.sub(g, slot.m), 1 - beta1));
          const v = t.add(slot.v, t.mul(t.sub(t.square(g), slot.v), 1 - beta2));
          slot.m.assign(m);
          slot.v.assign(v);
          variable.assign(t.sub(variable, t.div(t.mul(m, alpha), t.add(t.sqrt(v), epsilon))));
        }
      });
      this.incrementIterations();
    }

    override dispose(): void {
      super.dispose();
      for (const { m, v } of this.slots.values()) {
        m.dispose();
        v.dispose();
      }
      this.slots.clear();
    }

    override getConfig(): TF.serialization.ConfigDict {
      return { learningRate: lr, beta1, beta2, epsilon };
    }

    override async getWeights(): Promise<{ name: string; tensor: TF.Tensor }[]> {
      throw new Error("kerasAdam: saving the optimizer's state is not supported");
    }

    override async setWeights(): Promise<void> {
      throw new Error("kerasAdam: loading the optimizer's state is not supported");
    }
  }
  return new KerasAdam();
}
