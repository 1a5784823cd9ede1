import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import type { Dataset } from "../src/data/dataset.js";
import {
  dirichletDraw,
  partitionDataset,
  partitionRows,
  shuffleDataset,
} from "../src/data/partition.js";
import { DataError, UsageError } from "../src/errors.js";
import { type CliContext, type Program, runCli } from "../src/kit/cli.js";
import { createRandom } from "../src/models/random.js";
import data from "../src/tools/data.js";
import { numpyMissing, python } from "./fixtures/python.js";

function labels(n: number, classes: number, seed: number): NdArray<"uint8"> {
  const rng = createRandom(seed);
  return {
    dtype: "uint8",
    shape: [n],
    data: Uint8Array.from({ length: n }, () => Math.floor(rng.next() * classes)),
  };
}

/** Every row index 0..n-1 exactly once across the parts. */
function coversOnce(parts: readonly Int32Array[], n: number): boolean {
  const all = parts.flatMap((p) => [...p]).sort((a, b) => a - b);
  return all.length === n && all.every((v, i) => v === i);
}

describe("partitionRows", () => {
  const yTrain = labels(1000, 10, 1);
  const yTest = labels(300, 10, 2);

  it("contiguous is FEDn's floor(n/N) slices in order; the remainder goes to nobody", () => {
    const { train, test } = partitionRows(yTrain, yTest, 3);
    expect(train.map((p) => [p[0], p.length])).toEqual([
      [0, 333],
      [333, 333],
      [666, 333],
    ]);
    expect(test.map((p) => p.length)).toEqual([100, 100, 100]);
  });

  it("iid and dirichlet use every row exactly once, and a seed fixes them", () => {
    for (const partition of ["iid", "dirichlet"] as const) {
      const a = partitionRows(yTrain, yTest, 4, { partition, seed: 3 });
      expect(coversOnce(a.train, 1000)).toBe(true);
      expect(coversOnce(a.test, 300)).toBe(true);
      expect(partitionRows(yTrain, yTest, 4, { partition, seed: 3 })).toEqual(a);
      expect(partitionRows(yTrain, yTest, 4, { partition, seed: 4 }).train[0]).not.toEqual(
        a.train[0],
      );
    }
    const iid = partitionRows(yTrain, yTest, 3, { partition: "iid", seed: 1 });
    expect(iid.train.map((p) => p.length)).toEqual([334, 333, 333]);
  });

  it("skews labels as Dirichlet(alpha) says: the variance of class shares is (1/N)(1-1/N)/(N·alpha+1)", () => {
    // 40 classes x 8 clients: 320 shares per alpha; with many rows per class the shares a
    // client gets are the Dirichlet draw itself, so their variance must match the theory.
    const classes = 40;
    const parts = 8;
    const y = labels(80_000, classes, 5);
    const yt = labels(8_000, classes, 6);
    const measured: number[] = [];
    for (const alpha of [0.1, 1, 10]) {
      const { train } = partitionRows(y, yt, parts, { partition: "dirichlet", alpha, seed: 7 });
      const perClass = new Float64Array(classes);
      for (const v of y.data) perClass[v]!++;
      let sum = 0;
      let sumSq = 0;
      for (const rows of train) {
        const counts = new Float64Array(classes);
        for (const r of rows) counts[y.data[r]!]!++;
        for (let c = 0; c < classes; c++) {
          const share = counts[c]! / perClass[c]!;
          sum += share;
          sumSq += share * share;
        }
      }
      const n = classes * parts;
      const variance = sumSq / n - (sum / n) ** 2;
      const theory = ((1 / parts) * (1 - 1 / parts)) / (parts * alpha + 1);
      expect(sum / n).toBeCloseTo(1 / parts, 6);
      expect(variance / theory).toBeGreaterThan(0.75);
      expect(variance / theory).toBeLessThan(1.33);
      measured.push(variance);
    }
    // Theory: 5x from alpha 0.1 to 1, 9x from 1 to 10.
    expect(measured[0]).toBeGreaterThan(3 * measured[1]!);
    expect(measured[1]).toBeGreaterThan(5 * measured[2]!);
  });

  it("draws Dirichlet shares that sum to 1", () => {
    const rng = createRandom(1);
    for (const alpha of [0.01, 0.5, 3]) {
      const d = dirichletDraw(5, alpha, rng);
      expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(d.every((v) => v >= 0)).toBe(true);
    }
  });

  it("refuses bad options and splits that leave a client empty, in one line", () => {
    expect(() => partitionRows(yTrain, yTest, 2, { partition: "iid", alpha: 1 })).toThrow(
      "option --alpha applies only to --partition dirichlet",
    );
    expect(() => partitionRows(yTrain, yTest, 2, { partition: "dirichlet", alpha: 0 })).toThrow(
      UsageError,
    );
    expect(() => partitionRows(yTrain, yTest, 2, { partition: "random" as "iid" })).toThrow(
      'option --partition must be one of contiguous, iid, dirichlet; found "random"',
    );
    expect(() => partitionRows(labels(3, 2, 1), labels(3, 2, 1), 5, { partition: "iid" })).toThrow(
      DataError,
    );
  });
});

describe("partitionDataset and shuffleDataset", () => {
  function set(n: number): Dataset {
    const x: NdArray<"uint8"> = {
      dtype: "uint8",
      shape: [n, 2],
      data: Uint8Array.from({ length: 2 * n }, (_, i) => Math.floor(i / 2)),
    };
    const y: NdArray<"int64"> = {
      dtype: "int64",
      shape: [n],
      data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i % 3)),
    };
    return { x_train: x, y_train: y, x_test: x, y_test: y };
  }

  it("keeps each row's features with its label", () => {
    const parts = partitionDataset(set(60), 3, { partition: "dirichlet", alpha: 0.5, seed: 2 });
    for (const p of parts) {
      const rows = p.x_train.shape[0]!;
      expect(p.y_train.dtype).toBe("int64");
      for (let r = 0; r < rows; r++) {
        const row = p.x_train.data[2 * r] as number;
        expect(p.x_train.data[2 * r + 1]).toBe(row);
        expect(Number(p.y_train.data[r])).toBe(row % 3);
      }
    }
    const shuffled = shuffleDataset(set(20), 9);
    expect(shuffleDataset(set(20), 9)).toEqual(shuffled);
    const first = shuffled.x_train.data[0] as number;
    expect(Number(shuffled.y_train.data[0])).toBe(first % 3);
    expect([...(shuffled.x_train.data as Uint8Array)].sort((a, b) => a - b)).toEqual([
      ...set(20).x_train.data,
    ]);
  });
});

describe("fedn-tfjs data --partition", () => {
  const program: Program = { name: "fedn-tfjs", version: "0", describe: "", commands: [data] };
  function recorder(cwd: string) {
    let out = "";
    let err = "";
    const ctx: CliContext = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      env: {},
      cwd,
    };
    return { ctx, out: () => out, err: () => err };
  }

  it.skipIf(numpyMissing() !== "")(
    `writes label-skewed splits under --name that numpy reads and that add up to the source ${numpyMissing()}`,
    async () => {
      const cwd = mkdtempSync(join(tmpdir(), "data-part-"));
      const r = recorder(cwd);
      const args = ["data", "--clients", "4", "--partition", "dirichlet", "--alpha", "0.2"];
      expect(await runCli(program, [...args, "--name", "digits.npz"], r.ctx)).toBe(0);
      expect(r.out()).toContain(
        `4 client split(s) (dirichlet, alpha 0.2): ${join(cwd, "data", "clients")}/<1..4>/digits.npz`,
      );
      const report = python(
        [
          "import os",
          "src = np.load(sys.argv[1]); d = sys.argv[2]",
          "out = []",
          "for k in ['train', 'test']:",
          "    xs = [np.load(os.path.join(d, str(i), 'digits.npz'))['x_' + k] for i in range(1, 5)]",
          "    ys = [np.load(os.path.join(d, str(i), 'digits.npz'))['y_' + k] for i in range(1, 5)]",
          "    x = np.concatenate(xs); y = np.concatenate(ys)",
          "    rows = lambda a, b: sorted(bytes(r) + bytes([int(l)]) for r, l in zip(a.reshape(len(a), -1), b))",
          "    same = rows(x, y) == rows(src['x_' + k], src['y_' + k])",
          "    top = [float(np.bincount(v, minlength=10).max() / len(v)) for v in ys]",
          "    out.append({'split': k, 'same_rows': same, 'dtype': str(x.dtype), 'top_share': top})",
          "print(json.dumps(out))",
        ].join("\n"),
        [join(cwd, "data", "digits.npz"), join(cwd, "data", "clients")],
      );
      const [train, test] = JSON.parse(report) as {
        same_rows: boolean;
        dtype: string;
        top_share: number[];
      }[];
      expect(train!.same_rows).toBe(true);
      expect(test!.same_rows).toBe(true);
      expect(train!.dtype).toBe("uint8");
      // alpha 0.2 over 10 classes: every client is dominated by a few classes (IID would be ~0.1).
      const mean = train!.top_share.reduce((a, b) => a + b, 0) / 4;
      expect(mean).toBeGreaterThan(0.25);
    },
  );

  it("refuses an unknown partition and --alpha without dirichlet, exit 2", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "data-part-bad-"));
    let r = recorder(cwd);
    expect(await runCli(program, ["data", "--clients", "2", "--partition", "x"], r.ctx)).toBe(2);
    expect(r.err()).toContain("option --partition must be one of contiguous, iid, dirichlet");
    r = recorder(cwd);
    expect(await runCli(program, ["data", "--clients", "2", "--alpha", "1"], r.ctx)).toBe(2);
    expect(r.err()).toContain("option --alpha applies only to --partition dirichlet");
  });
});
