import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { decodeNpz, encodeNpz } from "../src/codec/npz.js";
import { FormatError, ShapeError } from "../src/errors.js";
import {
  add,
  decodeModel,
  divide,
  encodeModel,
  incrementAverage,
  multiply,
  norm,
  ones,
  power,
  sign,
  sqrt,
  subtract,
} from "../src/fedn/numpyhelper.js";
import { createRandom } from "../src/models/random.js";
import { describe as describeArray, digest, fixtureBytes, manifest } from "./fixtures/golden.js";
import { numpyMissing, python } from "./fixtures/python.js";

/** Seeded, so the "random" models are the same on every run. */
function rng(seed: number): () => number {
  const random = createRandom(seed);
  return () => random.next();
}

const SHAPES = [[64, 784], [64], [32, 64], [32], [10, 32], [10]];

function model(
  seed: number,
  dtype: "float32" | "float64" = "float32",
  positive = false,
): NdArray[] {
  const next = rng(seed);
  return SHAPES.map((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (positive ? next() + 0.01 : next() * 2 - 1));
    return dtype === "float32"
      ? { dtype, shape, data: Float32Array.from(values) }
      : { dtype, shape, data: Float64Array.from(values) };
  });
}

describe("encodeModel / decodeModel", () => {
  it("reads FEDn's numpyhelper.save output in key order (golden)", () => {
    const fixture = manifest.files.find((f) => f.file === "model/seed.npz")!;
    const arrays = decodeModel(fixtureBytes("model/seed.npz"), { name: "seed.npz" });
    expect(arrays.map((a, i) => describeArray(String(i), a))).toEqual(fixture.arrays);
    expect(arrays.map((a) => a.shape)).toEqual(SHAPES);
  });

  it.each(
    manifest.files
      .filter((f) => f.kind === "model" && f.error !== undefined)
      .map((f) => [f.file, f.error!] as const),
  )("refuses %s, naming the key", (file, message) => {
    expect(() => decodeModel(fixtureBytes(file), { name: file })).toThrow(FormatError);
    expect(() => decodeModel(fixtureBytes(file), { name: file })).toThrow(`${file}: ${message}`);
  });

  it("writes keys 0..N-1, deflated by default, stored on request", () => {
    const m = model(1);
    const bytes = encodeModel(m);
    expect([...decodeNpz(bytes).keys()]).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(new DataView(bytes.buffer).getUint16(8, true)).toBe(8); // deflated
    const stored = encodeModel(m, { compress: false });
    expect(new DataView(stored.buffer).getUint16(8, true)).toBe(0);
    expect(decodeModel(stored).map(digest)).toEqual(m.map(digest));
    expect(decodeModel(encodeModel([]))).toEqual([]);
  });

  it("says which key is missing when a key is out of range", () => {
    const a: NdArray = { dtype: "float32", shape: [1], data: Float32Array.of(1) };
    const bytes = encodeNpz([
      ["1", a],
      ["2", a],
    ]);
    expect(() => decodeModel(bytes, { name: "m.npz" })).toThrow(
      'm.npz: "2": unexpected key: it is out of range for a model of 2 arrays (expected keys "0".."1"); a model\'s keys are "0".."N-1"',
    );
  });

  it.skipIf(numpyMissing() !== "")("is read by FEDn's numpyhelper.load semantics", () => {
    const dir = mkdtempSync(join(tmpdir(), "model-"));
    const path = join(dir, "model.npz");
    const m = model(2);
    writeFileSync(path, encodeModel(m));
    // numpyhelper.load: np.load, then a[str(i)] for i in range(len(a.files)).
    const out = python(
      `import hashlib
a = np.load(sys.argv[1], allow_pickle=False)
w = [a[str(i)] for i in range(len(a.files))]
print(json.dumps([[x.dtype.name, list(x.shape), hashlib.sha256(x.tobytes()).hexdigest()] for x in w]))`,
      [path],
    );
    expect(JSON.parse(out)).toEqual(m.map((a) => [a.dtype, [...a.shape], digest(a)]));
  });
});

describe("arithmetic", () => {
  const m1 = model(11);
  const m2 = model(12);
  const pos = model(13, "float32", true);
  const m64 = model(14, "float64");

  it.skipIf(numpyMissing() !== "")("matches numpy element for element", () => {
    const dir = mkdtempSync(join(tmpdir(), "arith-"));
    const save = (name: string, m: NdArray[]) => {
      const path = join(dir, `${name}.npz`);
      writeFileSync(path, encodeModel(m, { compress: false }));
      return path;
    };
    const ours: Record<string, NdArray[]> = {
      increment_average: incrementAverage(m1, m2, 600, 1800),
      add: add(m1, m2),
      add_ab: add(m1, m2, 0.3, 1.7),
      // float64 with float32: numpy computes m2 * 1.7 in float32 before promoting the sum.
      add_mixed: add(m64, m2, 0.3, 1.7),
      subtract: subtract(m1, m2, 2, 0.5),
      multiply: multiply(m1, m2),
      divide: divide(m1, pos),
      sqrt: sqrt(pos),
      power: power(pos, 1.5),
      sign: sign(m1),
      ones: ones(m1, 0.25),
    };
    const paths = [save("m1", m1), save("m2", m2), save("pos", pos), save("m64", m64)];
    const names = Object.keys(ours);
    for (const name of names) paths.push(save(name, ours[name]!));
    // The expressions of fedn/utils/helpers/plugins/numpyhelper.py, applied with numpy.
    const out = python(
      `load = lambda p: (lambda a: [a[str(i)] for i in range(len(a.files))])(np.load(p))
m1, m2, pos, m64 = (load(p) for p in sys.argv[1:5])
ref = {
  "increment_average": [np.add(x, 600 * (y - x) / 1800) for x, y in zip(m1, m2)],
  "add": [x * 1.0 + y * 1.0 for x, y in zip(m1, m2)],
  "add_ab": [x * 0.3 + y * 1.7 for x, y in zip(m1, m2)],
  "add_mixed": [x * 0.3 + y * 1.7 for x, y in zip(m64, m2)],
  "subtract": [x * 2 + y * -0.5 for x, y in zip(m1, m2)],
  "multiply": [np.multiply(x, y) for x, y in zip(m1, m2)],
  "divide": [np.divide(x, y) for x, y in zip(m1, pos)],
  "sqrt": [np.sqrt(x) for x in pos],
  "power": [np.power(x, 1.5) for x in pos],
  "sign": [np.sign(x) for x in m1],
  "ones": [np.ones(np.shape(x)) * 0.25 for x in m1],
}
res = {}
for name, p in zip(${JSON.stringify(names)}, sys.argv[5:]):
    got = load(p)
    want = ref[name]
    ulps = 0
    same_dtype = all(g.dtype == w.dtype for g, w in zip(got, want))
    for g, w in zip(got, want):
        d = np.abs(g.view(np.int32 if g.dtype == np.float32 else np.int64).astype(np.int64)
                   - w.view(np.int32 if w.dtype == np.float32 else np.int64).astype(np.int64))
        ulps = max(ulps, int(d.max()))
    res[name] = [same_dtype, str(want[0].dtype), ulps]
res["norm"] = float(sum(np.linalg.norm(x, 1) for x in m1))
print(json.dumps(res))`,
      paths,
    );
    const ref = JSON.parse(out) as Record<string, [boolean, string, number]> & { norm: number };
    for (const name of names) {
      const [sameDtype, dtype, ulps] = ref[name]!;
      expect({ name, sameDtype, dtype }).toEqual({
        name,
        sameDtype: true,
        dtype: ours[name]![0]!.dtype,
      });
      // Bit-exact, except power, which numpy computes with single-precision powf.
      expect({ name, ulps }).toEqual({ name, ulps: name === "power" ? Math.min(ulps, 1) : 0 });
    }
    expect(norm(m1)).toBeCloseTo(ref.norm, 2);
    expect(Math.abs(norm(m1) - ref.norm) / ref.norm).toBeLessThan(1e-6);
  });

  it("keeps float32 as float32 and promotes mixed float32/float64 to float64", () => {
    expect(add(m1, m2).map((a) => a.dtype)).toEqual(Array(6).fill("float32"));
    expect(add(m1, model(12, "float64")).map((a) => a.dtype)).toEqual(Array(6).fill("float64"));
    expect(ones(m1).every((a) => a.dtype === "float64")).toBe(true);
  });

  it("computes increment_average as a running FedAvg", () => {
    const a: NdArray[] = [{ dtype: "float64", shape: [2], data: Float64Array.of(1, 2) }];
    const b: NdArray[] = [{ dtype: "float64", shape: [2], data: Float64Array.of(4, 8) }];
    // 100 examples behind a, then 200 behind b: (100*a + 200*b) / 300.
    expect(Array.from(incrementAverage(a, b, 200, 300)[0]!.data as Float64Array)).toEqual([3, 6]);
  });

  it("takes numpy's ord=1 norm: sum of |x| for vectors, largest column sum for matrices", () => {
    const v: NdArray = { dtype: "float64", shape: [3], data: Float64Array.of(1, -2, 3) };
    const m: NdArray = { dtype: "float64", shape: [2, 2], data: Float64Array.of(1, -5, 2, 1) };
    expect(norm([v])).toBe(6);
    expect(norm([m])).toBe(6);
    expect(norm([v, m])).toBe(12);
    expect(() => norm([{ dtype: "float64", shape: [1, 1, 1], data: Float64Array.of(1) }])).toThrow(
      "norm: array 0 has shape (1, 1, 1); numpy's ord=1 norm takes 1-D or 2-D arrays only",
    );
  });

  it("refuses models that do not line up instead of truncating like zip()", () => {
    expect(() => add(m1, m2.slice(1))).toThrow(
      new ShapeError("add: the models have 6 and 5 arrays"),
    );
    expect(() => multiply(m1, [m2[1]!, ...m2.slice(1)])).toThrow(
      "multiply: array 0 has shape (64, 784) in the first model and (64,) in the second",
    );
    const ints: NdArray[] = [{ dtype: "int32", shape: [1], data: Int32Array.of(1) }];
    expect(() => sqrt(ints)).toThrow(
      "sqrt: array 0: arithmetic needs float32 or float64 arrays, found int32",
    );
    expect(() => power(m1, Number.NaN)).toThrow(ShapeError);
  });
});
