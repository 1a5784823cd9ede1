import { describe, expect, it } from "vitest";
import { DataError, UsageError } from "../src/errors.js";
import { resolveDataPath } from "../src/fedn/data-path.js";
import { resolveTrainOptions } from "../src/kit/options.js";

const defaults = { batchSize: 32, epochs: 1, lr: 0.01 };
const context = { env: {}, cwd: "/pkg", defaults, dataFile: "mnist.npz" };

describe("resolveTrainOptions", () => {
  it("defaults to the PyTorch package's values and FEDn's data layout", () => {
    expect(resolveTrainOptions({}, context)).toEqual({
      dataPath: "/pkg/data/clients/1/mnist.npz",
      batchSize: 32,
      epochs: 1,
      lr: 0.01,
      seed: undefined,
      shuffle: false,
      backend: "auto",
      sources: { batchSize: "default", epochs: "default", lr: "default" },
    });
  });

  it("takes the command line over client_settings over defaults", () => {
    const metadata = { learning_rate: 0.05, lr: 0.5, batch_size: "64", epochs: 3, other: [1] };
    const options = resolveTrainOptions(
      { batch_size: 16, seed: 7, shuffle: true, backend: "cpu" },
      { ...context, metadata },
    );
    expect(options).toMatchObject({
      batchSize: 16,
      epochs: 3,
      lr: 0.05,
      seed: 7,
      shuffle: true,
      backend: "cpu",
      sources: { batchSize: "option", epochs: "metadata", lr: "metadata" },
    });
    expect(resolveTrainOptions({}, { ...context, metadata: { lr: 0.2 } }).lr).toBe(0.2);
    expect(resolveTrainOptions({}, { ...context, metadata: {} }).lr).toBe(0.01);
  });

  it("resolves the data path: option, then FEDN_DATA_PATH, then the default, relative to cwd", () => {
    const env = { FEDN_DATA_PATH: "/var/data/mnist.npz" };
    expect(resolveDataPath("d.npz", { env, cwd: "/pkg", dataFile: "mnist.npz" })).toBe(
      "/pkg/d.npz",
    );
    expect(resolveDataPath(undefined, { env, cwd: "/pkg", dataFile: "mnist.npz" })).toBe(
      "/var/data/mnist.npz",
    );
    expect(
      resolveDataPath(undefined, { env: { FEDN_DATA_PATH: "" }, cwd: "/p", dataFile: "mnist.npz" }),
    ).toBe("/p/data/clients/1/mnist.npz");
  });

  it.each([
    [{ batch_size: 0 }, "batch_size", "option --batch_size must be a positive integer; found 0"],
    [
      { batch_size: 2.5 },
      "batch_size",
      "option --batch_size must be a positive integer; found 2.5",
    ],
    [{ epochs: -1 }, "epochs", "option --epochs must be a positive integer; found -1"],
    [{ lr: 0 }, "lr", "option --lr must be a positive number; found 0"],
    [
      { lr: Number.POSITIVE_INFINITY },
      "lr",
      "option --lr must be a positive number; found Infinity",
    ],
    [{ seed: -3 }, "seed", "option --seed must be an integer in 0..4294967295; found -3"],
    [
      { backend: "gpu" },
      "backend",
      '--backend must be one of auto, tensorflow, node, wasm, cpu; found "gpu"',
    ],
  ])("refuses %o naming the option", (args, option, message) => {
    let caught: unknown;
    try {
      resolveTrainOptions(args, context);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).option).toBe(option);
    expect((caught as UsageError).message).toBe(message);
  });

  it("refuses bad client_settings with a DataError naming the file and key", () => {
    const bad = {
      ...context,
      metadata: { batch_size: "many" },
      metadataPath: "/pkg/in.npz-metadata",
    };
    expect(() => resolveTrainOptions({}, bad)).toThrow(DataError);
    expect(() => resolveTrainOptions({}, bad)).toThrow(
      '/pkg/in.npz-metadata: "batch_size" must be a positive integer; found "many"',
    );
    // Not consulted when the command line gives the value.
    expect(resolveTrainOptions({ batch_size: 8 }, bad).batchSize).toBe(8);
  });
});
