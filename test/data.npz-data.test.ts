import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { encodeNpz } from "../src/codec/npz.js";
import { npzData } from "../src/data/npz-data.js";
import { DataError, UsageError } from "../src/errors.js";

const f64 = (shape: number[], values: number[]): NdArray<"float64"> => ({
  dtype: "float64",
  shape,
  data: Float64Array.from(values),
});
const u8 = (shape: number[], values: number[]): NdArray<"uint8"> => ({
  dtype: "uint8",
  shape,
  data: Uint8Array.from(values),
});

function npz(entries: [string, NdArray][]): Uint8Array {
  return encodeNpz(new Map(entries));
}

describe("npzData", () => {
  it("reads keys of the package's choosing, and uses values as stored unless told to scale", () => {
    const bytes = npz([
      ["features", f64([3, 2], [0.5, 1, 2, 3, 4, 5])],
      ["target", { dtype: "int64", shape: [3], data: BigInt64Array.from([0n, 2n, 1n]) }],
      ["x_test", f64([1, 2], [7, 8])],
      ["y_test", u8([1], [2])],
    ]);
    const spec = npzData({ classes: 3, keys: { x_train: "features", y_train: "target" } });
    expect(spec.members?.(["train"])).toEqual(["features", "target"]);
    const { train, test, warnings } = spec.load(bytes, {
      file: "t.npz",
      splits: ["train", "test"],
    });
    expect(train).toEqual({
      x: Float32Array.from([0.5, 1, 2, 3, 4, 5]),
      scale: 1,
      features: 2,
      inputShape: [2],
      y: Int32Array.from([0, 2, 1]),
      classes: 3,
      count: 3,
    });
    expect(test?.count).toBe(1);
    expect(warnings).toEqual([]);
  });

  it("keeps uint8 pixels as bytes with the stated scale, and warns when none is stated", () => {
    const bytes = npz([
      ["x_train", u8([2, 2, 2], [0, 255, 1, 2, 3, 4, 5, 6])],
      ["y_train", u8([2], [1, 0])],
    ]);
    const scaled = npzData({ classes: 2, scale: 1 / 255 }).load(bytes, {
      file: "m.npz",
      splits: ["train"],
    });
    expect(scaled.train?.x).toBeInstanceOf(Uint8Array);
    expect(scaled.train).toMatchObject({ scale: 1 / 255, inputShape: [2, 2], features: 4 });
    expect(scaled.test).toBeUndefined();
    const raw = npzData({ classes: 2 }).load(bytes, { file: "m.npz", splits: ["train"] });
    expect(raw.warnings).toEqual([
      "m.npz: x_train is uint8 and used unscaled (0-255); pixels usually want scale 1/255",
    ]);
  });

  it("scales non-uint8 values once from the stored values, as numpy's x / 255 rounds", () => {
    // Rounding 68.79561200978694 to float32 first and scaling after would be one bit off.
    const x = f64([1, 3], [68.79561200978694, 254, 0.5]);
    const bytes = npz([
      ["x_train", x],
      ["y_train", u8([1], [1])],
    ]);
    const { train } = npzData({ classes: 2, scale: 1 / 255 }).load(bytes, {
      file: "s.npz",
      splits: ["train"],
    });
    expect(train?.scale).toBe(1);
    expect([...(train?.x ?? [])]).toEqual([...x.data].map((v) => Math.fround(v / 255)));
    expect(train?.x[0]).not.toBe(Math.fround(Math.fround(x.data[0]!) * (1 / 255)));
  });

  it("decodes in place only when the caller hands the bytes over (consume)", () => {
    const bytes = npz([
      ["x_train", u8([2, 3], [1, 2, 3, 4, 5, 6])],
      ["y_train", u8([2], [0, 1])],
    ]);
    const spec = npzData({ classes: 2, scale: 1 / 255 });
    const copied = spec.load(bytes, { file: "c.npz", splits: ["train"] });
    expect(copied.train?.x.buffer).not.toBe(bytes.buffer);
    const inPlace = spec.load(bytes, { file: "c.npz", splits: ["train"], consume: true });
    expect(inPlace.train?.x.buffer).toBe(bytes.buffer);
    expect([...(inPlace.train?.x ?? [])]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it.each([
    [[["x_train", f64([2, 1], [1, 2])]], 'f.npz: missing key "y_train" (found x_train)'],
    [
      [
        ["x_train", f64([2, 1], [1, 2])],
        ["y_train", u8([2], [0, 5])],
      ],
      "f.npz: y_train holds 5 at index 1; labels must be integers in 0..2",
    ],
    [
      [
        ["x_train", f64([2, 1], [1, Number.NaN])],
        ["y_train", u8([2], [0, 1])],
      ],
      "f.npz: x_train holds NaN at flat index 1; values must be finite",
    ],
    [
      [
        ["x_train", f64([2, 1], [1, 2])],
        ["y_train", u8([3], [0, 1, 1])],
      ],
      "f.npz: x_train has 2 rows but y_train has 3 labels",
    ],
    [
      [
        ["x_train", f64([2, 3], [1, 2, 3, 4, 5, 6])],
        ["y_train", u8([2], [0, 1])],
      ],
      "f.npz: x_train has shape (2, 3); expected (N, 1)",
    ],
  ] as [[string, NdArray][], string][])("refuses bad data: %#", (entries, message) => {
    const spec = npzData({ classes: 3, features: 1 });
    const load = () => spec.load(npz(entries), { file: "f.npz", splits: ["train"] });
    expect(load).toThrow(DataError);
    expect(load).toThrow(message);
  });

  it("refuses bad options when the spec is made", () => {
    expect(() => npzData({ classes: 1 })).toThrow(UsageError);
    expect(() => npzData({ classes: 10, scale: 0 })).toThrow(
      "npzData: scale must be a positive number; found 0",
    );
    expect(() => npzData({ classes: 10, keys: { x_train: "" } })).toThrow(
      "npzData: keys.x_train must be a non-empty string",
    );
  });
});
