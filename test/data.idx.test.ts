import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { encodeIdx, isGzip, parseIdx } from "../src/data/idx.js";
import { FormatError } from "../src/errors.js";
import { PYTHON } from "./fixtures/python.js";

/** An IDX file from raw header fields, for malformed cases. */
function idx(magic: number[], dims: number[], data: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set(magic, 0);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => {
    view.setUint32(4 + 4 * i, d);
  });
  out.set(data, 4 + 4 * dims.length);
  return out;
}

const images: NdArray<"uint8"> = {
  dtype: "uint8",
  shape: [2, 3, 2],
  data: Uint8Array.from({ length: 12 }, (_, i) => i * 20),
};

describe("parseIdx", () => {
  it("decodes images and labels, gzipped or not, with big-endian dimensions", () => {
    const bytes = encodeIdx(images);
    expect([...bytes.subarray(0, 8)]).toEqual([0, 0, 8, 3, 0, 0, 0, 2]);
    for (const input of [bytes, new Uint8Array(gzipSync(bytes))]) {
      const a = parseIdx(input, "x.idx");
      expect(a.dtype).toBe("uint8");
      expect(a.shape).toEqual([2, 3, 2]);
      expect([...a.data]).toEqual([...images.data]);
    }
    const labels = parseIdx(idx([0, 0, 8, 1], [300], new Array(300).fill(7)));
    expect(labels.shape).toEqual([300]);
    expect(labels.data.every((v) => v === 7)).toBe(true);
  });

  it("reads a view at an offset (a Buffer from Node's shared pool) correctly", () => {
    const bytes = encodeIdx(images);
    const pool = new Uint8Array(bytes.length + 5);
    pool.set(bytes, 5);
    expect([...parseIdx(pool.subarray(5)).data]).toEqual([...images.data]);
  });

  it.each([
    ["too short", new Uint8Array([0, 0, 8]), /x\.idx: 3 bytes, too short for the 4-byte magic/],
    [
      "bad magic",
      idx([1, 2, 8, 1], [1], [0]),
      /IDX file x\.idx: bad magic 0x01020801; expected 0x0000080N/,
    ],
    [
      "float elements",
      idx([0, 0, 0x0d, 1], [1], [0, 0, 0, 0]),
      /element type 0x0d \(float32\); only unsigned bytes \(0x08\) are supported/,
    ],
    ["unknown element type", idx([0, 0, 0x42, 1], [1], [0]), /element type 0x42 \(unknown\)/],
    ["no dimensions", idx([0, 0, 8, 0], [], []), /0 dimensions declared; expected at least 1/],
    [
      "truncated header",
      new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1]),
      /8 bytes, too short for the 16-byte header of 3 dimensions/,
    ],
    [
      "truncated data",
      idx([0, 0, 8, 3], [2, 2, 2], [1, 2, 3, 4, 5, 6, 7]),
      /IDX file x\.idx truncated: shape \(2, 2, 2\) needs 24 bytes \(header 16 \+ data 8\), found 23/,
    ],
    [
      "trailing bytes",
      idx([0, 0, 8, 1], [2], [1, 2, 3]),
      /IDX file x\.idx has trailing bytes: shape \(2,\) needs 10 bytes \(header 8 \+ data 2\), found 11/,
    ],
    [
      "a forged huge shape",
      idx([0, 0, 8, 3], [60000, 28, 28], [1]),
      /truncated: shape \(60000, 28, 28\) needs 47040016 bytes .* found 17/,
    ],
    [
      "broken gzip",
      new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]),
      /IDX file x\.idx: starts like gzip but does not decompress/,
    ],
  ])("rejects %s with a FormatError naming the file and the numbers", (_, bytes, message) => {
    let caught: unknown;
    try {
      parseIdx(bytes, "x.idx");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).message).toMatch(message);
    expect((caught as FormatError).file).toBe("x.idx");
  });

  it("round-trips any uint8 array through encodeIdx (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.integer(),
        (shape, gzip, seed) => {
          const n = shape.reduce((a, b) => a * b, 1);
          const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);
          const bytes = encodeIdx({ dtype: "uint8", shape, data });
          const back = parseIdx(gzip ? new Uint8Array(gzipSync(bytes)) : bytes);
          expect(back.shape).toEqual(shape);
          expect([...back.data]).toEqual([...data]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("never throws anything but FormatError on arbitrary bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseIdx(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(FormatError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("isGzip looks at the magic only", () => {
    expect(isGzip(new Uint8Array([0x1f, 0x8b]))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
    expect(isGzip(encodeIdx(images))).toBe(false);
  });
});

const FASHION = "/usr/share/datasets/fashion-mnist";

describe("parseIdx against numpy on real files", () => {
  it.skipIf(!existsSync(join(FASHION, "t10k-labels-idx1-ubyte.gz")))(
    "reads Fashion-MNIST's t10k files as numpy reads them (needs /usr/share/datasets/fashion-mnist)",
    async () => {
      const { readFileSync } = await import("node:fs");
      const labels = parseIdx(readFileSync(join(FASHION, "t10k-labels-idx1-ubyte.gz")));
      const imagesT = parseIdx(readFileSync(join(FASHION, "t10k-images-idx3-ubyte.gz")));
      expect(labels.shape).toEqual([10000]);
      expect(imagesT.shape).toEqual([10000, 28, 28]);
      const dir = mkdtempSync(join(tmpdir(), "idx-test-"));
      writeFileSync(join(dir, "labels.bin"), labels.data);
      writeFileSync(join(dir, "images.bin"), imagesT.data);
      const script = [
        "import gzip, sys, numpy as np",
        `d = "${FASHION}"`,
        "def load(name, off):",
        "    return np.frombuffer(gzip.open(f'{d}/{name}').read()[off:], np.uint8)",
        "ok_l = (load('t10k-labels-idx1-ubyte.gz', 8) == np.fromfile(sys.argv[1], np.uint8)).all()",
        "ok_i = (load('t10k-images-idx3-ubyte.gz', 16) == np.fromfile(sys.argv[2], np.uint8)).all()",
        "print(bool(ok_l), bool(ok_i))",
      ].join("\n");
      const out = execFileSync(
        PYTHON,
        ["-c", script, join(dir, "labels.bin"), join(dir, "images.bin")],
        {
          encoding: "utf8",
        },
      );
      expect(out.trim()).toBe("True True");
    },
  );
});
