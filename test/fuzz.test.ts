/**
 * Fuzz (issue #8): fast-check mutations of valid inputs for the npy/npz decoders (with and without
 * the header check of a known model), the MNIST data loader and the package extraction. Each may
 * only succeed or fail with one of our typed errors, and extraction must leave its temporary
 * folder empty. A short budget runs in `npm test`; FEDN_TFJS_LONG=1 runs 50 times as many
 * (FEDN_TFJS_FUZZ_RUNS=N sets the count; FEDN_TFJS_FUZZ_SEED=S replays a seed).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { decodeNpy, encodeNpy } from "../src/codec/npy.js";
import { decodeNpz, encodeNpz } from "../src/codec/npz.js";
import { MNIST_NPZ, npzSplits } from "../src/data/npz-data.js";
import { isFednTfjsError } from "../src/errors.js";
import { decodeModel, encodeModel } from "../src/fedn/numpyhelper.js";
import { unpackPackage } from "../src/tools/entry-point.js";

const BASE = Number(process.env.FEDN_TFJS_FUZZ_RUNS ?? (process.env.FEDN_TFJS_LONG ? 10_000 : 200));
const SEED =
  process.env.FEDN_TFJS_FUZZ_SEED === undefined
    ? undefined
    : Number(process.env.FEDN_TFJS_FUZZ_SEED);
const params = (runs: number) => ({ numRuns: runs, ...(SEED === undefined ? {} : { seed: SEED }) });

/** Rethrows anything that is not one of our typed errors. */
function typedOnly(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!isFednTfjsError(error)) throw error;
  }
}

/** `bytes` with a few bytes replaced and maybe cut short. */
const mutation = fc.record({
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  }),
  cut: fc.option(fc.nat(), { freq: 4 }),
  nearEnd: fc.boolean(),
});

function mutate(
  bytes: Uint8Array,
  m: { edits: [number, number][]; cut: number | null; nearEnd: boolean },
) {
  const copy = new Uint8Array(bytes);
  for (const [at, value] of m.edits) {
    const i = m.nearEnd ? copy.length - 1 - (at % Math.min(copy.length, 512)) : at % copy.length;
    copy[i] = value;
  }
  return m.cut === null ? copy : copy.subarray(0, m.cut % (copy.length + 1));
}

const f32 = (shape: number[]): NdArray => ({
  dtype: "float32",
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
});
const SHAPES = [[4, 6], [4], [3, 4], [3], [2, 3], [2]];
const EXPECT = SHAPES.map((shape) => ({ shape, dtypes: ["float32"] }));
const model = (compress: boolean) => encodeModel(SHAPES.map(f32), { compress });

describe("fuzz: decoders, data loader and package extraction fail only with typed errors", () => {
  it("decodeNpy on mutated .npy files", () => {
    const valid = encodeNpy(f32([5, 7]));
    fc.assert(
      fc.property(mutation, (m) => typedOnly(() => decodeNpy(mutate(valid, m), "x.npy"))),
      params(BASE),
    );
  });

  it("decodeNpz and decodeModel (with the header check) on mutated archives, stored and deflated", () => {
    const sources = [model(false), model(true), encodeNpz([["a", f32([9])]], { compress: true })];
    fc.assert(
      fc.property(fc.constantFrom(...sources), mutation, (bytes, m) => {
        const input = mutate(bytes, m);
        typedOnly(() => decodeNpz(input, { name: "x.npz", maxBytes: 1 << 24 }));
        typedOnly(() => decodeModel(input, { name: "x.npz", maxBytes: 1 << 24, expect: EXPECT }));
      }),
      params(BASE),
    );
  });

  it("the header check agrees with the full decode on every archive it accepts", () => {
    const sources = [model(false), model(true)];
    fc.assert(
      fc.property(fc.constantFrom(...sources), mutation, (bytes, m) => {
        const input = mutate(bytes, m);
        let checked: NdArray[] | undefined;
        try {
          checked = decodeModel(input, { name: "x.npz", expect: EXPECT });
        } catch (error) {
          if (!isFednTfjsError(error)) throw error;
        }
        if (checked !== undefined) {
          expect(checked.map((a) => a.shape)).toEqual(SHAPES);
        }
      }),
      params(BASE),
    );
  });

  it("npzSplits (MNIST settings) on arbitrary arrays under the four keys", () => {
    const dtype = fc.constantFrom(
      "uint8",
      "float32",
      "float64",
      "int64",
      "int32",
      "bool",
      "float16",
    );
    const arr = fc
      .tuple(
        dtype,
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
        fc.integer({ min: -2, max: 300 }),
      )
      .map(([d, shape, fill]): NdArray => {
        const n = shape.reduce((a, b) => a * b, 1);
        const values = Array.from({ length: n }, (_, i) => (fill + i) % 257);
        const data =
          d === "int64"
            ? BigInt64Array.from(values.map(BigInt))
            : d === "float32"
              ? Float32Array.from(values)
              : d === "float64"
                ? Float64Array.from(values.map((v) => (v === 256 ? Number.NaN : v)))
                : d === "int32"
                  ? Int32Array.from(values)
                  : d === "float16"
                    ? Uint16Array.from(values)
                    : Uint8Array.from(values);
        return { dtype: d, shape, data } as NdArray;
      });
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom("x_train", "y_train", "x_test", "y_test", "other"), arr),
        (dict) =>
          typedOnly(() =>
            npzSplits(new Map(Object.entries(dict)), { ...MNIST_NPZ, features: 4 }, "d.npz", [
              "train",
              "test",
            ]),
          ),
      ),
      params(BASE),
    );
  });
});

describe("fuzz: package extraction", () => {
  let dir: string;
  let archive: Uint8Array;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fuzz-tar-"));
    const src = join(dir, "src");
    spawnSync("mkdir", ["-p", join(src, "client", "sub")]);
    writeFileSync(join(src, "client", "fedn.yaml"), "entry_points: {}\n");
    writeFileSync(join(src, "client", "sub", "a.txt"), "a".repeat(3000));
    spawnSync("tar", ["-czf", join(dir, "ok.tgz"), "-C", src, "client"]);
    archive = new Uint8Array(readFileSync(join(dir, "ok.tgz")));
  });

  it("unpackPackage on mutated .tgz files: unpacks or fails typed, and leaves TMPDIR as it was", async () => {
    const tmp = mkdtempSync(join(dir, "tmp-"));
    const previous = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      let i = 0;
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const file = join(dir, `m${i++}.tgz`);
          writeFileSync(file, mutate(archive, m));
          let unpacked: string | undefined;
          try {
            unpacked = await unpackPackage(file);
          } catch (error) {
            if (!isFednTfjsError(error)) throw error;
          }
          if (unpacked !== undefined) spawnSync("rm", ["-rf", unpacked]);
          expect(readdirSync(tmp)).toEqual([]);
        }),
        params(Math.max(20, Math.floor(BASE / 4))),
      );
    } finally {
      process.env.TMPDIR = previous;
    }
  }, 120_000);
});
