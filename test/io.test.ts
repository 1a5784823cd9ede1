import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { encodeNpz } from "../src/codec/npz.js";
import { FormatError, IoError } from "../src/errors.js";
import { encodeModel } from "../src/fedn/numpyhelper.js";
import {
  getTmpPath,
  loadMetadata,
  loadModel,
  loadNpz,
  parsePythonJson,
  readBytes,
  saveJson,
  saveMetadata,
  saveMetrics,
  saveModel,
  saveNpz,
  toPythonJson,
  writeFileAtomic,
} from "../src/node/io.js";
import { digest } from "./fixtures/golden.js";
import { numpyMissing, python } from "./fixtures/python.js";

const dir = mkdtempSync(join(tmpdir(), "io-test-"));
const created: string[] = [];
afterAll(() => {
  // getTmpPath files live in the OS temp folder; leave nothing behind.
  for (const path of created) rmSync(path, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

const w: NdArray = { dtype: "float32", shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) };

describe("readBytes", () => {
  it("reads a file and names it in errors, in words", async () => {
    const path = join(dir, "r.bin");
    writeFileSync(path, "abc");
    expect(Buffer.from(await readBytes(path)).toString()).toBe("abc");
    const missing = await rejection(readBytes(join(dir, "nope.npz")));
    expect(missing).toBeInstanceOf(IoError);
    expect(missing.message).toBe(
      `${join(dir, "nope.npz")}: cannot read: no such file or directory`,
    );
    expect((await rejection(readBytes(dir))).message).toBe(
      `${dir}: cannot read: is a directory, expected a file`,
    );
  });
});

describe("writeFileAtomic", () => {
  it("replaces the empty file FEDn pre-creates, leaving no temporary file", async () => {
    const sub = join(dir, "replace");
    mkdirSync(sub);
    const path = join(sub, "out");
    writeFileSync(path, "");
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3));
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    await writeFileAtomic(path, "text", { fsync: true });
    expect(readFileSync(path, "utf8")).toBe("text");
    expect(readdirSync(sub)).toEqual(["out"]);
  });

  it("fails with an IoError and leaves the target and the folder as they were", async () => {
    const sub = join(dir, "fail");
    mkdirSync(sub);
    // The target is a directory: the temp file is written, the rename fails.
    mkdirSync(join(sub, "target"));
    const error = await rejection(writeFileAtomic(join(sub, "target"), "x"));
    expect(error).toBeInstanceOf(IoError);
    expect(error.message).toBe(
      `${join(sub, "target")}: cannot write: it is a directory; expected a regular file`,
    );
    expect(readdirSync(sub)).toEqual(["target"]);
    expect(statSync(join(sub, "target")).isDirectory()).toBe(true);
    const noDir = await rejection(writeFileAtomic(join(sub, "missing", "f"), "x"));
    expect(noDir.message).toContain("cannot write: no such file or directory");
  });

  const root = process.getuid?.() === 0;
  it.skipIf(root)(
    `reports a read-only folder${root ? " (skipped: running as root, which writes anywhere)" : ""}`,
    async () => {
      const sub = join(dir, "ro");
      mkdirSync(sub);
      chmodSync(sub, 0o500);
      expect((await rejection(writeFileAtomic(join(sub, "f"), "x"))).message).toContain(
        "permission denied",
      );
    },
  );
});

describe("models and archives on disk", () => {
  it("saves and loads a model and an npz", async () => {
    const path = join(dir, "model.npz");
    writeFileSync(path, "");
    await saveModel([w, w], path);
    expect((await loadModel(path)).map(digest)).toEqual([digest(w), digest(w)]);
    const npz = join(dir, "data.npz");
    await saveNpz(npz, [["x_train", w]], { compress: true });
    expect([...(await loadNpz(npz)).keys()]).toEqual(["x_train"]);
  });

  it("writes the same bytes as the in-memory encoders, checksums filled in after the data", async () => {
    const arrays: [string, NdArray][] = [
      ["w", w],
      ["ü", { dtype: "int64", shape: [3], data: BigInt64Array.of(1n, -2n, 3n) }],
      ["e", { dtype: "float64", shape: [0], data: new Float64Array(0) }],
    ];
    for (const compress of [false, true]) {
      const path = join(dir, `same-${compress}.npz`);
      await saveNpz(path, arrays, { compress });
      expect(readFileSync(path)).toEqual(Buffer.from(encodeNpz(arrays, { compress })));
    }
    const model = join(dir, "same-model.npz");
    await saveModel([w, w], model);
    expect(readFileSync(model)).toEqual(Buffer.from(encodeModel([w, w])));
  });

  it("names the file in format errors", async () => {
    const path = join(dir, "empty.npz");
    writeFileSync(path, "");
    const error = await rejection(loadModel(path));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toBe(
      `${path}: not a zip archive: an empty file, an .npz needs at least 22`,
    );
  });
});

describe("metadata and metrics", () => {
  it("writes <model>-metadata as flat JSON the way FEDn's save_metadata does", async () => {
    const model = join(dir, "out.npz");
    await saveMetadata({ num_examples: 8000, batch_size: 32, epochs: 1, lr: 0.01 }, model);
    const text = readFileSync(`${model}-metadata`, "utf8");
    expect(text).toBe('{"num_examples": 8000, "batch_size": 32, "epochs": 1, "lr": 0.01}');
    expect(await loadMetadata(model)).toEqual({
      num_examples: 8000,
      batch_size: 32,
      epochs: 1,
      lr: 0.01,
    });
    await expect(saveMetadata({ nested: { a: 1 } }, model)).rejects.toThrow(
      `${model}-metadata: "nested" is an object; FEDn expects flat JSON (numbers, strings, booleans)`,
    );
  });

  it.skipIf(numpyMissing() !== "")("writes exactly what Python's json.dump writes", async () => {
    const value = { loss: 0.25, naïve: "ü", n: 3, ok: true, none: null, list: [1, 2.5] };
    const path = join(dir, "py.json");
    await saveJson(value, path);
    const expected = python("print(json.dumps(json.loads(sys.argv[1])), end='')", [
      JSON.stringify(value),
    ]);
    expect(readFileSync(path, "utf8")).toBe(expected);
  });

  it("reads missing or empty metadata as undefined and refuses what is not an object", async () => {
    const model = join(dir, "in.npz");
    expect(await loadMetadata(model)).toBeUndefined();
    writeFileSync(`${model}-metadata`, "");
    expect(await loadMetadata(model)).toBeUndefined();
    writeFileSync(`${model}-metadata`, "[1]");
    await expect(loadMetadata(model)).rejects.toThrow(
      `${model}-metadata: expected a JSON object, found an array`,
    );
    writeFileSync(`${model}-metadata`, "{oops");
    await expect(loadMetadata(model)).rejects.toThrow(FormatError);
  });

  it("writes metrics, non-finite values as Python does", async () => {
    const path = join(dir, "metrics");
    writeFileSync(path, "");
    await saveMetrics({ test_accuracy: 0.9, test_loss: Number.NaN, x: -Infinity }, path);
    expect(readFileSync(path, "utf8")).toBe(
      '{"test_accuracy": 0.9, "test_loss": NaN, "x": -Infinity}',
    );
    await expect(saveMetrics({ a: "1" as unknown as number }, path)).rejects.toThrow(
      `${path}: metric "a" is a string, expected a number`,
    );
    expect(toPythonJson({ big: 2n ** 63n, arr: Int8Array.of(-1, 2) })).toBe(
      '{"big": 9223372036854775808, "arr": [-1, 2]}',
    );
  });

  it("makes a fresh empty .npz temp file, like tempfile.mkstemp(suffix='.npz')", () => {
    const a = getTmpPath();
    const b = getTmpPath();
    created.push(a, b);
    expect(a).not.toBe(b);
    expect(a.endsWith(".npz")).toBe(true);
    expect(statSync(a).size).toBe(0);
  });
});

/** A value as bits, so NaN, -0.0 and 1 vs 1.0 compare the same way in JS and Python. */
function canonical(value: unknown): unknown {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { f: "nan" };
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value);
    return { f: view.getBigUint64(0).toString(16).padStart(16, "0") };
  }
  if (typeof value === "string") return { s: value };
  if (typeof value === "boolean") return { b: value };
  if (value === null) return { n: 0 };
  if (Array.isArray(value)) return { a: value.map(canonical) };
  return { o: Object.entries(value as object).map(([k, v]) => [k, canonical(v)]) };
}

const CANONICAL_PY = `
import struct
def canonical(v):
    if isinstance(v, bool): return {"b": v}
    if isinstance(v, (int, float)):
        f = float(v)
        return {"f": "nan"} if f != f else {"f": struct.pack(">d", f).hex()}
    if isinstance(v, str): return {"s": v}
    if v is None: return {"n": 0}
    if isinstance(v, list): return {"a": [canonical(x) for x in v]}
    return {"o": [[k, canonical(x)] for k, x in v.items()]}
out = []
for text in json.loads(sys.stdin.read()):
    try: out.append({"ok": canonical(json.loads(text))})
    except ValueError as e: out.append({"error": str(e)})
print(json.dumps(out))
`;

describe("parsePythonJson", () => {
  const TRICKY = [
    '{"a": NaN, "b": "NaN", "c": -Infinity, "d": [1e5, -0.0]}',
    '["Infinity", "-Infinity", "a \\"NaN\\" b", Infinity, NaN, -Infinity]',
    ' {"x" : [ 1 , 2.5e-3 , -0 , 1E+2 , 1e400 , -1e400 ] } \n\t',
    '{"a": 1, "a": 2, "b": 3}',
    '{"__proto__": {"polluted": 1}, "k": "\\u00fc\\ud800\\n\\/"}',
    "12345678901234567890123",
    '"just a string"',
    "null",
    "[true, false, null, [], {}]",
    "[1,]",
    '{"a": 1,}',
    '{"a" 1}',
    "[1 2]",
    '"abc',
    '"a\u0001b"',
    '"\\x"',
    '"\\u12"',
    "-NaN",
    "nan",
    "infinity",
    ".5",
    "+1",
    "01",
    "1.",
    "NaNx",
    "{'a': 1}",
    "",
    "   ",
    "\ufeff{}",
    '{"a": NaN}\n{"b": 1}',
  ];

  it.skipIf(numpyMissing() !== "")(
    "accepts and rejects exactly what Python's json.loads does",
    () => {
      const expected = JSON.parse(
        python(CANONICAL_PY, [], new TextEncoder().encode(JSON.stringify(TRICKY))),
      ) as ({ ok: unknown } | { error: string })[];
      TRICKY.forEach((text, k) => {
        const want = expected[k] as { ok?: unknown; error?: string };
        let got: { ok?: unknown; error?: string };
        try {
          got = { ok: canonical(parsePythonJson(text)) };
        } catch (error) {
          expect(error, JSON.stringify(text)).toBeInstanceOf(SyntaxError);
          got = { error: (error as Error).message };
        }
        if (want.error !== undefined) {
          expect(got.error, `${JSON.stringify(text)} should be rejected`).toBeDefined();
        } else {
          expect(got, JSON.stringify(text)).toEqual(want);
        }
      });
    },
  );

  it("returns NaN and ±Infinity for the bare tokens and leaves strings alone", () => {
    const value = parsePythonJson(
      '{"a": NaN, "b": "NaN", "c": -Infinity, "d": [1e5, -0.0], "e": Infinity}',
    ) as Record<string, unknown>;
    expect(value.a).toBeNaN();
    expect(value.b).toBe("NaN");
    expect(value.c).toBe(Number.NEGATIVE_INFINITY);
    expect(value.e).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is((value.d as number[])[1], -0)).toBe(true);
    const proto = parsePythonJson('{"__proto__": 1}') as Record<string, unknown>;
    expect(Object.keys(proto)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
  });

  it.each([
    ["[1,]", "Expecting value: line 1 column 4 (char 3)"],
    ['{"a" 1}', "Expecting ':' delimiter: line 1 column 6 (char 5)"],
    ['{\n  "a": 1\n  "b": 2}', "Expecting ',' delimiter: line 3 column 3 (char 13)"],
    ['"abc', "Unterminated string starting at: line 1 column 1 (char 0)"],
    ["-NaN", "Expecting value: line 1 column 1 (char 0)"],
    ["1.", "Extra data: line 1 column 2 (char 1)"],
    ["", "Expecting value: line 1 column 1 (char 0)"],
  ])("rejects %j with Python's one-line message", (text, message) => {
    expect(() => parsePythonJson(text)).toThrow(new SyntaxError(message));
  });
});
