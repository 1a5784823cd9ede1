import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { DataError, ShapeError } from "../src/errors.js";
import { initDenseWeights } from "../src/models/dense-model.js";
import {
  type DenseStackSpec,
  fromPytorch,
  MNIST_SPEC,
  pytorchShapes,
  toPytorch,
} from "../src/models/layout.js";
import { createRandom } from "../src/models/random.js";

/** PyTorch-layout arrays whose every value encodes its own position: (layer, out, in). */
function labelledArrays(spec: DenseStackSpec): NdArray<"float32">[] {
  return pytorchShapes(spec).map((shape, k) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = k * 1e6 + i;
    return { dtype: "float32", shape, data };
  });
}

/** Bit-exact comparison, fast on 50,000-element arrays (toEqual walks them one by one). */
function bytesOf(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

describe("pytorchShapes", () => {
  it("is FEDn's PyTorch state_dict layout for MNIST", () => {
    expect(pytorchShapes(MNIST_SPEC)).toEqual([[64, 784], [64], [32, 64], [32], [10, 32], [10]]);
  });
});

describe("fromPytorch / toPytorch", () => {
  it("transposes (out, in) weights into (in, out) kernels", () => {
    const arrays = labelledArrays(MNIST_SPEC);
    const weights = fromPytorch(arrays, MNIST_SPEC);
    expect(weights.map((w) => [w.inputs, w.outputs])).toEqual([
      [784, 64],
      [64, 32],
      [32, 10],
    ]);
    // PyTorch element [o][i] of layer 1 sits at kernel[i][o].
    const torch = arrays[2]!.data;
    const kernel = weights[1]!.kernel;
    for (const [o, i] of [
      [0, 0],
      [5, 17],
      [31, 63],
    ] as const) {
      expect(kernel[i * 32 + o]).toBe(torch[o * 64 + i]);
    }
    expect([...weights[2]!.bias]).toEqual([...arrays[5]!.data]);
  });

  it("round-trips any float32 weights exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const arrays = toPytorch(initDenseWeights(MNIST_SPEC, createRandom(seed)));
        const back = toPytorch(fromPytorch(arrays, MNIST_SPEC));
        expect(back.map((a) => a.shape)).toEqual(arrays.map((a) => a.shape));
        for (const [i, a] of back.entries()) {
          expect(bytesOf(a.data).equals(bytesOf(arrays[i]!.data))).toBe(true);
        }
      }),
      { numRuns: 5 },
    );
  });

  it("works for any dense stack, not only MNIST", () => {
    const spec: DenseStackSpec = { sizes: [5, 4, 3, 2, 7], dropout: [0, 0, 0] };
    const arrays = labelledArrays(spec);
    const back = toPytorch(fromPytorch(arrays, spec));
    back.forEach((a, i) => {
      expect(a.shape).toEqual(arrays[i]!.shape);
      expect(a.data).toEqual(arrays[i]!.data);
    });
  });

  it("narrows float64 (aggregators may send it) and widens float16", () => {
    const arrays: NdArray[] = labelledArrays(MNIST_SPEC);
    const f64 = arrays[1]!;
    arrays[1] = {
      dtype: "float64",
      shape: f64.shape,
      data: Float64Array.from(f64.data as Float32Array, (v) => v + 0.1),
    };
    // float16 bits: 0x3e00 = 1.5, 0xc000 = -2, 0x0001 = 2^-24 (subnormal).
    const half = new Uint16Array(10);
    half.set([0x3e00, 0xc000, 0x0001]);
    arrays[5] = { dtype: "float16", shape: [10], data: half };
    const weights = fromPytorch(arrays, MNIST_SPEC);
    expect(weights[0]!.bias[3]).toBe(Math.fround(1e6 + 3 + 0.1));
    expect([...weights[2]!.bias.subarray(0, 4)]).toEqual([1.5, -2, 2 ** -24, 0]);
  });

  it.each([
    {
      name: "too few arrays",
      change: (a: NdArray[]) => a.slice(0, 5),
      error: ShapeError,
      message:
        "seed.npz: the model file holds 5 arrays; the model expects 6: (64, 784), (64,), (32, 64), (32,), (10, 32), (10,)",
    },
    {
      name: "a wrong shape",
      change: (a: NdArray[]) => {
        a[2] = { dtype: "float32", shape: [32, 65], data: new Float32Array(32 * 65) };
        return a;
      },
      error: ShapeError,
      message: 'seed.npz: weights "2" has shape (32, 65); the model expects (32, 64)',
    },
    {
      name: "a transposed (Keras-layout) kernel",
      change: (a: NdArray[]) => {
        a[0] = { dtype: "float32", shape: [784, 64], data: new Float32Array(784 * 64) };
        return a;
      },
      error: ShapeError,
      message: 'seed.npz: weights "0" has shape (784, 64); the model expects (64, 784)',
    },
    {
      name: "an integer dtype",
      change: (a: NdArray[]) => {
        a[3] = { dtype: "int32", shape: [32], data: new Int32Array(32) };
        return a;
      },
      error: ShapeError,
      message:
        'seed.npz: weights "3" has dtype int32; the model expects float32 (float64 and float16 are converted)',
    },
    {
      name: "a NaN weight",
      change: (a: NdArray[]) => {
        const data = new Float32Array(32 * 64);
        data[17] = Number.NaN;
        a[2] = { dtype: "float32", shape: [32, 64], data };
        return a;
      },
      error: DataError,
      message: 'seed.npz: weights "2" holds NaN at flat index 17; the model needs finite weights',
    },
    {
      name: "an infinite weight",
      change: (a: NdArray[]) => {
        const data = new Float64Array(10);
        data[9] = Number.NEGATIVE_INFINITY;
        a[5] = { dtype: "float64", shape: [10], data };
        return a;
      },
      error: DataError,
      message:
        'seed.npz: weights "5" holds -Infinity at flat index 9; the model needs finite weights',
    },
  ])("refuses $name, naming the key", ({ change, error, message }) => {
    const arrays = change(labelledArrays(MNIST_SPEC));
    expect(() => fromPytorch(arrays, MNIST_SPEC, { file: "seed.npz" })).toThrow(error);
    expect(() => fromPytorch(arrays, MNIST_SPEC, { file: "seed.npz" })).toThrow(message);
  });
});
