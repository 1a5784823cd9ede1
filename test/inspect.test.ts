import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { encodeNpy } from "../src/codec/npy.js";
import type { CliContext, Program } from "../src/kit/cli.js";
import { runCli } from "../src/kit/cli.js";
import inspectCommand from "../src/tools/inspect.js";
import {
  arrayStats,
  float16ToNumber,
  inspectArrays,
  renderStatsJson,
  renderStatsTable,
} from "../src/tools/stats.js";
import { FIXTURES } from "./fixtures/golden.js";

const program: Program = {
  name: "fedn-tfjs",
  version: "0",
  describe: "",
  commands: [inspectCommand],
};

function recorder(cwd = "/"): CliContext & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    cwd,
    out: () => out,
    err: () => err,
  };
}

describe("arrayStats", () => {
  it("counts NaN and Infinity and keeps them out of min, max and mean", () => {
    const a: NdArray = {
      dtype: "float32",
      shape: [5],
      data: Float32Array.of(1, Number.NaN, 3, Infinity, -2),
    };
    expect(arrayStats("w", a)).toEqual({
      key: "w",
      dtype: "float32",
      shape: [5],
      min: -2,
      max: 3,
      mean: 2 / 3,
      nonfinite: 2,
    });
  });

  it("handles ints, bigints, bools, float16, empty and all-NaN arrays", () => {
    const rows = inspectArrays([
      ["i", { dtype: "int16", shape: [3], data: Int16Array.of(-5, 0, 5) }],
      ["l", { dtype: "int64", shape: [2], data: BigInt64Array.of(-(2n ** 40n), 4n) }],
      ["b", { dtype: "bool", shape: [4], data: Uint8Array.of(1, 0, 1, 1) }],
      ["h", { dtype: "float16", shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x7e00) }],
      ["e", { dtype: "float64", shape: [0, 3], data: new Float64Array(0) }],
      ["n", { dtype: "float64", shape: [1], data: Float64Array.of(Number.NaN) }],
    ]);
    expect(rows.map((r) => [r.key, r.min, r.max, r.mean, r.nonfinite])).toEqual([
      ["i", -5, 5, 0, 0],
      ["l", -(2 ** 40), 4, (-(2 ** 40) + 4) / 2, 0],
      ["b", 0, 1, 0.75, 0],
      ["h", -2, 1, -0.5, 1],
      ["e", null, null, null, 0],
      ["n", null, null, null, 1],
    ]);
  });

  it("decodes half floats: normals, subnormals, zero, infinities", () => {
    expect([0x3c00, 0x3555, 0x0001, 0x8000, 0x7c00, 0xfc00, 0x7bff].map(float16ToNumber)).toEqual([
      1,
      0.333251953125,
      2 ** -24,
      -0,
      Infinity,
      -Infinity,
      65504,
    ]);
  });
});

describe("rendering", () => {
  const stats = inspectArrays([
    [
      "0",
      {
        dtype: "float32",
        shape: [2, 3],
        data: Float32Array.of(-0.5, 0.25, 1, 2, Number.NaN, 1e-7),
      },
    ],
    ["labels", { dtype: "uint8", shape: [4], data: Uint8Array.of(0, 9, 3, 3) }],
  ]);

  it("prints a table for people", () => {
    expect(renderStatsTable(stats)).toMatchInlineSnapshot(`
      "key     dtype    shape    min  max  mean  nonfinite
      0       float32  (2, 3)  -0.5    2  0.55          1
      labels  uint8    (4,)       0    9  3.75          0
      "
    `);
  });

  it("prints one JSON object with --json", () => {
    const parsed = JSON.parse(renderStatsJson(stats));
    expect(Object.keys(parsed)).toEqual(["arrays"]);
    expect(parsed.arrays[1]).toEqual({
      key: "labels",
      dtype: "uint8",
      shape: [4],
      min: 0,
      max: 9,
      mean: 3.75,
      nonfinite: 0,
    });
    expect(Object.keys(parsed.arrays[0])).toEqual([
      "key",
      "dtype",
      "shape",
      "min",
      "max",
      "mean",
      "nonfinite",
    ]);
  });
});

describe("fedn-tfjs inspect", () => {
  it("lists a FEDn model", async () => {
    const ctx = recorder(FIXTURES);
    expect(await runCli(program, ["inspect", "model/seed.npz", "--json"], ctx)).toBe(0);
    const { arrays } = JSON.parse(ctx.out()) as { arrays: { key: string; shape: number[] }[] };
    expect(arrays.map((a) => [a.key, a.shape])).toEqual([
      ["0", [64, 784]],
      ["1", [64]],
      ["2", [32, 64]],
      ["3", [32]],
      ["4", [10, 32]],
      ["5", [10]],
    ]);
    const table = recorder(FIXTURES);
    expect(await runCli(program, ["inspect", "model/seed.npz"], table)).toBe(0);
    expect(table.out().split("\n")[1]).toMatch(
      /^0 +float32 +\(64, 784\) +-0\.0357\d* +0\.0357\d* +-?[0-9.e-]+ +0$/,
    );
  });

  it("reads a single .npy too, keyed by its file name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "inspect-"));
    writeFileSync(
      join(dir, "w.npy"),
      encodeNpy({ dtype: "int32", shape: [2], data: Int32Array.of(3, 5) }),
    );
    const ctx = recorder(dir);
    expect(await runCli(program, ["inspect", "w.npy", "--json"], ctx)).toBe(0);
    expect(JSON.parse(ctx.out()).arrays).toEqual([
      { key: "w", dtype: "int32", shape: [2], min: 3, max: 5, mean: 4, nonfinite: 0 },
    ]);
  });

  it("fails with one line naming the file", async () => {
    const ctx = recorder(FIXTURES);
    expect(await runCli(program, ["inspect", "npz-bad/bad-crc.npz"], ctx)).toBe(1);
    expect(ctx.err()).toMatch(
      /^fedn-tfjs inspect: npz-bad\/bad-crc\.npz: a\.npy: corrupt: CRC-32 is 0x[0-9a-f]{8}, the archive says 0x[0-9a-f]{8}\n$/,
    );
    const missing = recorder(FIXTURES);
    expect(await runCli(program, ["inspect", "nope.npz"], missing)).toBe(1);
    expect(missing.err()).toBe(
      `fedn-tfjs inspect: ${join(FIXTURES, "nope.npz")}: cannot read: no such file or directory\n`,
    );
    expect(await runCli(program, ["inspect"], recorder())).toBe(2);
  });
});
