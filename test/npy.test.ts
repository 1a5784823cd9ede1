import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { decodeNpy, encodeNpy, NPY_MAX_HEADER_SIZE, readNpyHeader } from "../src/codec/npy.js";
import { FormatError, isFednTfjsError, ShapeError } from "../src/errors.js";
import { arbitraryArray, DTYPES } from "./fixtures/arbitrary.js";
import { describe as describeArray, digest, fixtureBytes, manifest } from "./fixtures/golden.js";
import { numpyMissing, python } from "./fixtures/python.js";

const npyFixtures = manifest.files.filter((f) => f.kind === "npy");

describe("decodeNpy on numpy's files (golden)", () => {
  const valid = npyFixtures.filter((f) => f.arrays !== undefined);
  const invalid = npyFixtures.filter((f) => f.error !== undefined);

  it("has fixtures for every dtype, both byte orders and the malformed cases", () => {
    expect(valid.length).toBeGreaterThanOrEqual(35);
    expect(invalid.length).toBeGreaterThanOrEqual(25);
  });

  it.each(valid.map((f) => [f.file, f] as const))("%s", (file, fixture) => {
    const array = decodeNpy(fixtureBytes(file), file);
    const expected = fixture.arrays![0]!;
    expect(describeArray("", array)).toEqual(expected);
  });

  it.each(invalid.map((f) => [f.file, f] as const))("%s is refused", (file, fixture) => {
    let error: unknown;
    try {
      decodeNpy(fixtureBytes(file), file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FormatError);
    const message = (error as Error).message;
    expect(message.startsWith(`${file}: `)).toBe(true);
    expect(message).toContain(fixture.error);
    expect(message).not.toContain("\n");
  });

  it("takes numpy's header size limit from numpy 2.x (_MAX_HEADER_SIZE)", () => {
    expect(NPY_MAX_HEADER_SIZE).toBe(10_000);
  });

  it("reads the Fortran-order layout into the C-order array numpy shows", () => {
    const c = decodeNpy(fixtureBytes("npy/float32-le.npy"));
    expect(c.shape).toEqual([3, 4]);
    const f = readNpyHeader(fixtureBytes("npy/fortran-f4-3d.npy"));
    expect(f.fortranOrder).toBe(true);
    expect(f.shape).toEqual([3, 4, 5]);
  });
});

describe("encodeNpy", () => {
  it.each(npyFixtures.filter((f) => /-le\.npy$|scalar|empty|v2\.npy/.test(f.file) && f.arrays))(
    "is byte-identical to np.save: $file",
    ({ file }) => {
      const bytes = fixtureBytes(file);
      // v2.npy was written as version 2.0 on purpose; np.save itself writes 1.0 for it.
      if (file === "npy/v2.npy") {
        const again = encodeNpy(decodeNpy(bytes));
        expect(again[6]).toBe(1);
        expect(Buffer.from(again.subarray(128))).toEqual(Buffer.from(bytes.subarray(128)));
        return;
      }
      expect(Buffer.from(encodeNpy(decodeNpy(bytes)))).toEqual(Buffer.from(bytes));
    },
  );

  it("writes numpy's exact header: descr, key order, trailing ', ', growth room, 64-byte pad", () => {
    const bytes = encodeNpy({
      dtype: "float32",
      shape: [64, 784],
      data: new Float32Array(64 * 784),
    });
    const header = Buffer.from(bytes.subarray(10, 128)).toString("latin1");
    expect(header).toBe(
      `{'descr': '<f4', 'fortran_order': False, 'shape': (64, 784), }${" ".repeat(55)}\n`,
    );
    expect(bytes.subarray(0, 10)).toEqual(Uint8Array.of(0x93, 78, 85, 77, 80, 89, 1, 0, 118, 0));
    expect(bytes.length).toBe(128 + 64 * 784 * 4);
  });

  it("refuses arrays whose data does not match the shape, as a ShapeError", () => {
    expect(() => encodeNpy({ dtype: "float32", shape: [3], data: new Float32Array(2) })).toThrow(
      new ShapeError("npy: shape (3,) needs 3 elements, the float32 data has 2"),
    );
    expect(() =>
      encodeNpy({ dtype: "float64", shape: [2], data: new Float32Array(2) } as unknown as NdArray),
    ).toThrow(/8-byte elements, the data has 4-byte/);
    expect(() => encodeNpy({ dtype: "int8", shape: [-1], data: new Int8Array(0) })).toThrow(
      /invalid dimension -1/,
    );
  });

  it.skipIf(numpyMissing() !== "")(
    "writes files numpy loads to the same arrays and saves to the same bytes",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "npy-"));
      const arrays = fc.sample(fc.constantFrom(...DTYPES).chain(arbitraryArray), {
        numRuns: 60,
        seed: 7,
      });
      const files = arrays.map((a, i) => {
        const path = join(dir, `${i}.npy`);
        writeFileSync(path, encodeNpy(a));
        return path;
      });
      const out = python(
        `import hashlib, io
res = []
for p in sys.argv[1:]:
    a = np.load(p, allow_pickle=False)
    b = io.BytesIO(); np.save(b, a)
    le = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    res.append([a.dtype.name, list(a.shape), hashlib.sha256(le.tobytes()).hexdigest(),
                b.getvalue() == open(p, "rb").read()])
print(json.dumps(res))`,
        files,
      );
      const seen = JSON.parse(out) as [string, number[], string, boolean][];
      arrays.forEach((a, i) => {
        expect(seen[i]).toEqual([a.dtype, [...a.shape], digest(a), true]);
      });
    },
  );
});

describe("decodeNpy, properties", () => {
  it("round-trips random arrays of every dtype", () => {
    fc.assert(
      fc.property(fc.constantFrom(...DTYPES).chain(arbitraryArray), (array) => {
        const back = decodeNpy(encodeNpy(array));
        expect(back.dtype).toBe(array.dtype);
        expect(back.shape).toEqual(array.shape);
        expect(digest(back)).toBe(digest(array));
      }),
      { numRuns: 400, seed: 1 },
    );
  });

  it("only ever fails with a FormatError on corrupted or truncated files", () => {
    const valid = npyFixtures.filter((f) => f.arrays).map((f) => fixtureBytes(f.file));
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        fc.option(fc.nat()),
        (bytes, edits, cut) => {
          const copy = new Uint8Array(bytes);
          // Edits land in the header most of the time: that is where the parser is.
          for (const [at, value] of edits) copy[at % Math.min(copy.length, 140)] = value;
          const input = cut === null ? copy : copy.subarray(0, cut % (copy.length + 1));
          try {
            decodeNpy(input, "x.npy");
          } catch (error) {
            if (!(error instanceof FormatError)) throw error;
            expect(error.message.startsWith("x.npy: ")).toBe(true);
          }
        },
      ),
      { numRuns: 3000, seed: 2 },
    );
  });

  it("reads unaligned and pooled buffers without aliasing them", () => {
    const bytes = fixtureBytes("npy/float64-le.npy");
    const expected = decodeNpy(bytes);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const unaligned = shifted.subarray(3);
    expect(digest(decodeNpy(unaligned))).toBe(digest(expected));
    // Small Buffers share Node's pool: byteOffset is not 0 and the ArrayBuffer is not ours.
    const small = encodeNpy({ dtype: "int32", shape: [2], data: Int32Array.of(7, -9) });
    const pooled = Buffer.from(small);
    const decoded = decodeNpy(pooled);
    expect(Array.from(decoded.data as Int32Array)).toEqual([7, -9]);
    pooled.fill(0);
    expect(Array.from(decoded.data as Int32Array)).toEqual([7, -9]);
    expect(decoded.data.buffer).not.toBe(pooled.buffer);
  });

  it("reports errors as typed, one-line errors naming the file", () => {
    const error = (() => {
      try {
        decodeNpy(new Uint8Array([1, 2, 3]), "w.npy");
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isFednTfjsError(error)).toBe(true);
    expect((error as FormatError).file).toBe("w.npy");
    expect((error as Error).message).toBe(
      "w.npy: truncated: 3 bytes is shorter than the 10-byte .npy preamble",
    );
  });
});
