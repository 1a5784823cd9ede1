import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { MNIST_NPZ, npzSplits } from "../src/data/npz-data.js";
import { DataError } from "../src/errors.js";
import type { SplitName } from "../src/kit/spec.js";

/** The one npz loader with the MNIST drop-in's settings (`mnistNpz`), on decoded arrays. */
function mnistSplits(
  arrays: ReadonlyMap<string, NdArray>,
  options: { file?: string; splits?: SplitName[] } = {},
) {
  return npzSplits(arrays, MNIST_NPZ, options.file ?? "d.npz", options.splits ?? ["train", "test"]);
}

function u8(shape: number[], fill = (i: number) => i % 256): NdArray<"uint8"> {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "uint8", shape, data: Uint8Array.from({ length: n }, (_, i) => fill(i)) };
}

function labels(values: number[]): NdArray<"int64"> {
  return { dtype: "int64", shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) };
}

function dataset(overrides: Record<string, NdArray | undefined> = {}): Map<string, NdArray> {
  const base: Record<string, NdArray | undefined> = {
    x_train: u8([3, 28, 28]),
    y_train: labels([0, 9, 4]),
    x_test: u8([2, 784]),
    y_test: { dtype: "uint8", shape: [2], data: Uint8Array.from([1, 2]) },
    ...overrides,
  };
  return new Map(Object.entries(base).filter((e): e is [string, NdArray] => e[1] !== undefined));
}

describe("npzData with the MNIST settings (mnistNpz)", () => {
  it("keeps uint8 pixels as they are (no float copy) and accepts (N,28,28) and (N,784)", () => {
    const arrays = dataset();
    const { train, test, warnings } = mnistSplits(arrays);
    expect(train!.count).toBe(3);
    expect(train!.features).toBe(784);
    expect(train!.x).toBe(arrays.get("x_train")!.data);
    expect(train!.scale).toBe(1 / 255);
    expect([...train!.y]).toEqual([0, 9, 4]);
    expect(test!.count).toBe(2);
    expect([...test!.y]).toEqual([1, 2]);
    expect(warnings).toEqual([]);
  });

  it("divides other dtypes by 255 once, as the PyTorch package does", () => {
    const x: NdArray<"int32"> = { dtype: "int32", shape: [1, 784], data: new Int32Array(784) };
    x.data[0] = 255;
    x.data[1] = 51;
    const floats: NdArray<"float64"> = {
      dtype: "float64",
      shape: [1, 28, 28],
      data: new Float64Array(784).fill(127.5),
    };
    const { train, test } = mnistSplits(
      dataset({ x_train: x, y_train: labels([3]), x_test: floats, y_test: labels([5]) }),
    );
    expect(train!.x).toBeInstanceOf(Float32Array);
    expect(train!.scale).toBe(1);
    expect([...train!.x.subarray(0, 3)]).toEqual([1, Math.fround(51 / 255), 0]);
    expect(test!.x[0]).toBe(0.5);
  });

  it("warns when float images look already scaled to [0, 1] (they get divided again)", () => {
    const floats: NdArray<"float32"> = {
      dtype: "float32",
      shape: [3, 784],
      data: new Float32Array(3 * 784).fill(0.5),
    };
    const { warnings } = mnistSplits(dataset({ x_train: floats }), { file: "d.npz" });
    expect(warnings).toEqual([
      "d.npz: x_train is float32 with values in [0, 1]; it is divided by 255 like the PyTorch package does. Store uint8 pixels 0-255 to train on the usual scale.",
    ]);
  });

  it("accepts float labels holding integers and (N, 1) label columns", () => {
    const y: NdArray<"float32"> = {
      dtype: "float32",
      shape: [3, 1],
      data: Float32Array.from([1, 2, 3]),
    };
    expect([...mnistSplits(dataset({ y_train: y })).train!.y]).toEqual([1, 2, 3]);
  });

  it("loads only the splits asked for", () => {
    const arrays = dataset({ x_test: undefined, y_test: undefined });
    const { train, test } = mnistSplits(arrays, { splits: ["train"] });
    expect(train!.count).toBe(3);
    expect(test).toBeUndefined();
  });

  it.each([
    {
      name: "a missing key",
      arrays: dataset({ y_test: undefined }),
      key: "y_test",
      message: 'd.npz: missing key "y_test" (found x_train, y_train, x_test)',
    },
    {
      name: "images of the wrong size",
      arrays: dataset({ x_train: u8([3, 27, 28]) }),
      key: "x_train",
      message: "d.npz: x_train has shape (3, 27, 28); expected (N, 28, 28) or (N, 784)",
    },
    {
      name: "images without a sample axis",
      arrays: dataset({ x_test: u8([784]) }),
      key: "x_test",
      message: "d.npz: x_test has shape (784,); expected (N, 28, 28) or (N, 784)",
    },
    {
      name: "a label above 9",
      arrays: dataset({ y_train: labels([0, 10, 4]) }),
      key: "y_train",
      message: "d.npz: y_train holds 10 at index 1; labels must be integers in 0..9",
    },
    {
      name: "a negative label",
      arrays: dataset({ y_test: labels([1, -1]) }),
      key: "y_test",
      message: "d.npz: y_test holds -1 at index 1; labels must be integers in 0..9",
    },
    {
      name: "a non-integer label",
      arrays: dataset({
        y_train: { dtype: "float64", shape: [3], data: Float64Array.from([0, 2.5, 1]) },
      }),
      key: "y_train",
      message: "d.npz: y_train holds 2.5 at index 1; labels must be integers in 0..9",
    },
    {
      name: "labels of the wrong shape",
      arrays: dataset({ y_train: u8([3, 2]) }),
      key: "y_train",
      message: "d.npz: y_train has shape (3, 2); expected (N,)",
    },
    {
      name: "boolean labels",
      arrays: dataset({ y_test: { dtype: "bool", shape: [2], data: Uint8Array.from([1, 0]) } }),
      key: "y_test",
      message: "d.npz: y_test has dtype bool; expected integer class labels",
    },
    {
      name: "float16 images",
      arrays: dataset({
        x_test: { dtype: "float16", shape: [2, 784], data: new Uint16Array(1568) },
      }),
      key: "x_test",
      message:
        "d.npz: x_test has dtype float16; expected integer pixels (uint8) or float32/float64",
    },
    {
      name: "NaN pixels",
      arrays: dataset({
        x_test: {
          dtype: "float32",
          shape: [2, 784],
          data: Float32Array.from({ length: 1568 }, (_, i) => (i === 5 ? Number.NaN : 1)),
        },
      }),
      key: "x_test",
      message: "d.npz: x_test holds NaN at flat index 5; pixels must be finite",
    },
    {
      name: "mismatched lengths",
      arrays: dataset({ y_train: labels([0, 1]) }),
      key: "y_train",
      message: "d.npz: x_train has 3 images but y_train has 2 labels",
    },
    {
      name: "an empty split",
      arrays: dataset({ x_test: u8([0, 784]), y_test: labels([]) }),
      key: "x_test",
      message: "d.npz: x_test holds no images",
    },
  ])("refuses $name with a DataError naming the key", ({ arrays, key, message }) => {
    let caught: unknown;
    try {
      mnistSplits(arrays, { file: "d.npz" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DataError);
    expect((caught as DataError).message).toBe(message);
    expect((caught as DataError).key).toBe(key);
    expect((caught as DataError).file).toBe("d.npz");
  });
});
