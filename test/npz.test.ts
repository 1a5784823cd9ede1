import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { decodeNpz, encodeNpz, encodeNpzParts } from "../src/codec/npz.js";
import { FormatError, isFednTfjsError, ShapeError, UsageError } from "../src/errors.js";
import { arbitraryArray, DTYPES } from "./fixtures/arbitrary.js";
import { describe as describeArray, digest, fixtureBytes, manifest } from "./fixtures/golden.js";
import { numpyMissing, python } from "./fixtures/python.js";

const npzFixtures = manifest.files.filter((f) => f.kind !== "npy");

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

const f32 = (shape: number[], values: number[]): NdArray => ({
  dtype: "float32",
  shape,
  data: Float32Array.from(values),
});

describe("decodeNpz on numpy's archives (golden)", () => {
  const valid = npzFixtures.filter((f) => f.arrays !== undefined);
  const invalid = npzFixtures.filter((f) => f.error !== undefined && f.kind === "npz");

  it.each(valid.map((f) => [f.file, f] as const))("%s", (file, fixture) => {
    const arrays = decodeNpz(fixtureBytes(file), { name: file });
    expect([...arrays].map(([k, a]) => describeArray(k, a))).toEqual(fixture.arrays);
  });

  it.each(valid.map((f) => [f.file, f] as const))(
    "%s, consuming the buffer (arrays in place, unaligned members slid into alignment)",
    (file, fixture) => {
      const bytes = fixtureBytes(file);
      const arrays = decodeNpz(bytes, { name: file, consume: true });
      expect([...arrays].map(([k, a]) => describeArray(k, a))).toEqual(fixture.arrays);
    },
  );

  it.each(invalid.map((f) => [f.file, f] as const))("%s is refused", (file, fixture) => {
    const error = errorOf(() => decodeNpz(fixtureBytes(file), { name: file }));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message.startsWith(`${file}: `)).toBe(true);
    expect(error.message).toContain(fixture.error);
    expect(error.message).not.toContain("\n");
  });

  it("covers numpy's zip64 local headers, data descriptors, non-ASCII and many keys", () => {
    const notes = valid.map((f) => f.file).join(" ");
    for (const name of ["savez-mixed", "pipe-stored", "pipe-compressed", "non-ascii-keys"]) {
      expect(notes).toContain(name);
    }
    const bytes = fixtureBytes("npz/savez-mixed.npz");
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint32(18, true)).toBe(0xffffffff); // numpy's ZIP64 local header sizes
    const pipe = fixtureBytes("npz/pipe-compressed.npz");
    expect(pipe[6]! & 8).toBe(8); // flag bit 3: sizes in a data descriptor
    expect(decodeNpz(fixtureBytes("npz/many-keys.npz")).size).toBe(300);
  });

  it("names the member in errors about its contents", () => {
    const error = errorOf(() =>
      decodeNpz(fixtureBytes("npz-bad/object-member.npz"), { name: "m.npz" }),
    ) as FormatError;
    expect(error.message).toBe(
      "m.npz: objs.npy: dtype '|O' holds Python objects (a pickle); expected a numeric dtype such as '<f4'",
    );
    expect(error.file).toBe("m.npz");
    expect(error.key).toBe("objs.npy");
  });

  it("refuses an archive that declares more than maxBytes before inflating anything", () => {
    const bytes = fixtureBytes("npz/zeros-8mib.npz");
    expect(decodeNpz(bytes).get("z")?.shape).toEqual([2 * 1024 * 1024]);
    expect(errorOf(() => decodeNpz(bytes, { name: "z.npz", maxBytes: 1_000_000 })).message).toBe(
      "z.npz: the members declare 8388736 bytes in total, more than the limit of 1000000 (option maxBytes)",
    );
    expect(errorOf(() => decodeNpz(bytes, { maxBytes: -1 }))).toBeInstanceOf(UsageError);
  });

  it("decodes only the keys asked for, and still checks the rest of the archive", () => {
    const arrays: [string, NdArray][] = [
      ["x_train", f32([2], [1, 2])],
      ["y_train", f32([1], [3])],
      ["x_test", f32([1], [4])],
    ];
    for (const compress of [false, true]) {
      const bytes = encodeNpz(arrays, { compress });
      const some = decodeNpz(bytes, { keys: ["x_train", "y_train", "absent"] });
      expect([...some.keys()]).toEqual(["x_train", "y_train"]);
      expect([...some.get("x_train")!.data]).toEqual([1, 2]);
      // A skipped member whose local header names another file is still an error.
      const broken = bytes.slice();
      const at = Buffer.from(broken).indexOf(Buffer.from("x_test.npy"));
      broken[at] = "X".charCodeAt(0);
      expect(errorOf(() => decodeNpz(broken, { keys: ["x_train"] }))).toBeInstanceOf(FormatError);
    }
  });
});

describe("encodeNpz", () => {
  const arrays: [string, NdArray][] = [
    ["w", f32([2, 3], [1, 2, 3, 4, 5, 6])],
    ["b", { dtype: "int64", shape: [2], data: BigInt64Array.of(-1n, 2n ** 62n) }],
    ["0-d", { dtype: "float64", shape: [], data: Float64Array.of(Math.PI) }],
    ["empty", { dtype: "uint8", shape: [0, 3], data: new Uint8Array(0) }],
    ["ключ", { dtype: "bool", shape: [3], data: Uint8Array.of(1, 0, 1) }],
    ["h", { dtype: "float16", shape: [2], data: Uint16Array.of(0x3c00, 0x7e00) }],
  ];

  it.each([false, true])("round-trips through decodeNpz (compress: %s)", (compress) => {
    const back = decodeNpz(encodeNpz(arrays, { compress }));
    expect([...back.keys()]).toEqual(arrays.map(([k]) => k));
    for (const [key, array] of arrays) {
      expect(describeArray(key, back.get(key)!)).toEqual(describeArray(key, array));
    }
  });

  it("writes the same bytes in parts, stored members as views of the arrays", () => {
    const parts = encodeNpzParts(arrays);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(encodeNpz(arrays)));
    expect(parts.some((p) => p.buffer === arrays[0]![1].data.buffer)).toBe(true);
    const deflated = encodeNpzParts(arrays, { compress: true });
    expect(Buffer.concat(deflated)).toEqual(Buffer.from(encodeNpz(arrays, { compress: true })));
  });

  it("is deterministic: the same arrays give the same bytes", () => {
    expect(Buffer.from(encodeNpz(arrays, { compress: true }))).toEqual(
      Buffer.from(encodeNpz(arrays, { compress: true })),
    );
  });

  it("refuses duplicate or empty keys and bad options", () => {
    const a = f32([1], [1]);
    expect(() =>
      encodeNpz([
        ["k", a],
        ["k", a],
      ]),
    ).toThrow('npz: the key "k" is given twice');
    expect(() => encodeNpz([["", a]])).toThrow(ShapeError);
    expect(() => encodeNpz([["k", a]], { compress: true, level: 0 })).toThrow(UsageError);
    expect(() => encodeNpz([["k", f32([2], [1])]])).toThrow(
      'npz: "k": shape (2,) needs 2 elements, the float32 data has 1',
    );
  });

  it.skipIf(numpyMissing() !== "")(
    "writes archives np.load(allow_pickle=False) reads back exactly, stored and deflated",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "npz-"));
      const files = [false, true].map((compress) => {
        const path = join(dir, `${compress ? "deflated" : "stored"}.npz`);
        writeFileSync(path, encodeNpz(arrays, { compress }));
        return path;
      });
      const out = python(
        `import hashlib
res = []
for p in sys.argv[1:]:
    with np.load(p, allow_pickle=False) as z:
        res.append([[k, z[k].dtype.name, list(z[k].shape),
                     hashlib.sha256(np.ascontiguousarray(z[k]).tobytes()).hexdigest()]
                    for k in z.files])
print(json.dumps(res))`,
        files,
      );
      const expected = arrays.map(([k, a]) => [k, a.dtype, [...a.shape], digest(a)]);
      expect(JSON.parse(out)).toEqual([expected, expected]);
    },
  );

  it.skipIf(numpyMissing() !== "")("passes Python's zipfile integrity check (testzip)", () => {
    const dir = mkdtempSync(join(tmpdir(), "npz-"));
    const path = join(dir, "a.npz");
    writeFileSync(path, encodeNpz(arrays, { compress: true }));
    expect(
      python("import zipfile\nprint(zipfile.ZipFile(sys.argv[1]).testzip())", [path]).trim(),
    ).toBe("None");
  });
});

describe("decodeNpz, properties", () => {
  const array = fc.constantFrom(...DTYPES).chain(arbitraryArray);

  it("round-trips random lists of arrays and keys", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), array), {
          selector: ([k]) => k,
          maxLength: 6,
        }),
        fc.boolean(),
        (entries, compress) => {
          const back = decodeNpz(encodeNpz(entries, { compress }));
          expect([...back].map(([k, a]) => describeArray(k, a))).toEqual(
            entries.map(([k, a]) => describeArray(k, a)),
          );
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });

  it("only ever fails with a typed error on corrupted or truncated archives", () => {
    const sources = [
      "npz/savez-mixed.npz",
      "npz/savez-compressed-mixed.npz",
      "npz/pipe-compressed.npz",
      "npz/zip64-everything.npz",
      "npz/non-ascii-keys.npz",
      "model/seed.npz",
    ].map(fixtureBytes);
    fc.assert(
      fc.property(
        fc.constantFrom(...sources),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.option(fc.nat(), { freq: 3 }),
        fc.boolean(),
        (bytes, edits, cut, nearEnd) => {
          const copy = new Uint8Array(bytes);
          for (const [at, value] of edits) {
            // Half the edits hit the central directory and end record, where sizes live.
            const i = nearEnd
              ? copy.length - 1 - (at % Math.min(copy.length, 400))
              : at % copy.length;
            copy[i] = value;
          }
          const input = cut === null ? copy : copy.subarray(0, cut % (copy.length + 1));
          try {
            decodeNpz(input, { name: "x.npz", maxBytes: 64 * 1024 * 1024, consume: nearEnd });
          } catch (error) {
            if (!isFednTfjsError(error)) throw error;
            expect(error).toBeInstanceOf(FormatError);
            expect(error.message.startsWith("x.npz: ")).toBe(true);
          }
        },
      ),
      { numRuns: 1500, seed: 4 },
    );
  });
});
