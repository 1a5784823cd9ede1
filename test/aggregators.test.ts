import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { DataError, ShapeError, UsageError } from "../src/errors.js";
import {
  createAggregator,
  type FedOptOptions,
  type FedOptState,
  fedAvg,
  fedOpt,
  type ModelUpdate,
} from "../src/fedn/aggregators.js";
import { encodeModel } from "../src/fedn/numpyhelper.js";
import { createRandom } from "../src/models/random.js";
import { parsePythonJson } from "../src/node/io.js";
import { numpyMissing, PYTHON } from "./fixtures/python.js";

const ORACLE = resolve(import.meta.dirname, "fixtures", "fedn_aggregate.py");
const SHAPES = [[20, 7], [7], [3, 20], [3]];

/** A seeded float32 model near `base` (or near 0), so updates look like a round's. */
function model(seed: number, base?: readonly NdArray[]): NdArray[] {
  const rng = createRandom(seed);
  return SHAPES.map((shape, k) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const b = base === undefined ? 0 : Number(base[k]!.data[i]);
      data[i] = b + (rng.next() * 2 - 1) * (base === undefined ? 1 : 0.05);
    }
    return { dtype: "float32", shape, data };
  });
}

interface Verdict {
  dtypes: string[];
  want_dtypes: string[];
  equal: boolean;
  maxdiff: number;
  average_maxdiff?: number;
  average_scale?: number;
}

/** Writes every model of `rounds` and asks the numpy oracle to recompute each round. */
function oracle(
  aggregator: "fedavg" | "fedopt",
  parameters: Record<string, unknown>,
  rounds: { global: readonly NdArray[]; updates: ModelUpdate[]; actual: readonly NdArray[] }[],
): Verdict[] {
  const dir = mkdtempSync(join(tmpdir(), "aggregators-"));
  let count = 0;
  const write = (m: readonly NdArray[]): string => {
    const file = join(dir, `${count++}.npz`);
    writeFileSync(file, encodeModel(m));
    return file;
  };
  const plan = {
    aggregator,
    parameters,
    rounds: rounds.map((r) => ({
      global: write(r.global),
      updates: r.updates.map((u) => [write(u.weights), u.numExamples]),
      actual: write(r.actual),
    })),
  };
  const planFile = join(dir, "plan.json");
  writeFileSync(planFile, JSON.stringify(plan));
  const out = execFileSync(PYTHON, [ORACLE, planFile], { encoding: "utf8" });
  return out
    .trim()
    .split("\n")
    .map((line) => parsePythonJson(line) as Verdict);
}

const skipNumpy = numpyMissing();

describe.skipIf(skipNumpy !== "")(`aggregators against numpy ${skipNumpy}`, () => {
  it("FedAvg is numpy's num_examples-weighted average, bit-equal to FEDn's running form", () => {
    const global = model(1);
    const cases: ModelUpdate[][] = [
      [300, 100, 250].map((n, i) => ({ weights: model(10 + i, global), numExamples: n })),
      // An update with 0 examples in the middle changes nothing; one first is replaced.
      [0, 120, 0, 40].map((n, i) => ({ weights: model(20 + i, global), numExamples: n })),
    ];
    const verdicts = oracle(
      "fedavg",
      {},
      cases.map((updates) => ({ global, updates, actual: fedAvg(updates) })),
    );
    for (const v of verdicts) {
      expect(v).toMatchObject({ dtypes: ["float32"], want_dtypes: ["float32"], equal: true });
      // float32 rounding of a few steps, against numpy's float64 weighted mean.
      expect(v.average_maxdiff!).toBeLessThan(4 * 2 ** -23 * v.average_scale!);
    }
  });

  it("FedAvg with every update at 0 examples turns NaN, as FEDn's 0/0 does", () => {
    const global = model(2);
    const updates = [0, 0].map((n, i) => ({ weights: model(30 + i, global), numExamples: n }));
    const actual = fedAvg(updates);
    expect(Number.isNaN(actual[0]!.data[0])).toBe(true);
    expect(oracle("fedavg", {}, [{ global, updates, actual }])[0]!.equal).toBe(true);
  });

  it.each([
    ["adam", {}],
    ["yogi", { beta1: 0.8, beta2: 0.95 }],
    ["adagrad", { learningRate: 0.05, tau: 1e-3 }],
  ] as const)(
    "FedOpt-%s over 3 rounds equals a numpy re-implementation of FEDn's step",
    (serverOpt, extra) => {
      const options: FedOptOptions = { serverOpt, ...extra };
      const aggregator = createAggregator({ aggregator: "fedopt", ...options });
      let global: readonly NdArray[] = model(3);
      const rounds = [];
      for (let r = 0; r < 3; r++) {
        const updates = [500, 0, 200].map((n, i) => ({
          weights: model(100 * r + i, global),
          numExamples: n,
        }));
        const actual = aggregator.combine(global, updates);
        rounds.push({ global, updates, actual });
        global = actual;
      }
      const verdicts = oracle("fedopt", aggregator.parameters, rounds);
      expect(verdicts).toHaveLength(3);
      for (const v of verdicts) {
        // FEDn's v starts as np.ones (float64), so the new global model is float64 too.
        expect(v).toMatchObject({ dtypes: ["float64"], want_dtypes: ["float64"], equal: true });
      }
    },
  );
});

describe("aggregators", () => {
  const global = model(5);
  const a = model(6, global);
  const b = model(7, global);

  it("FedAvg takes a single update as it is and refuses none", () => {
    expect(fedAvg([{ weights: a, numExamples: 3 }])).toEqual(a);
    expect(() => fedAvg([])).toThrow(new DataError("fedavg: no model updates to aggregate"));
    expect(() => fedAvg([{ weights: a, numExamples: -1 }])).toThrow(
      /update 1 has num_examples -1; expected a number >= 0/,
    );
  });

  it("names the update whose arrays do not match", () => {
    expect(() =>
      fedAvg([
        { weights: a, numExamples: 1 },
        { weights: b.slice(0, 3), numExamples: 1 },
      ]),
    ).toThrow(new ShapeError("fedavg: update 2 has 3 arrays; expected 4"));
    const wrong = [a[1]!, ...a.slice(1)];
    expect(() => fedOpt(global, [{ weights: wrong, numExamples: 1 }])).toThrow(
      'fedopt: update 1: array "0" has shape (7,); expected (20, 7)',
    );
  });

  it("FedOpt uses FEDn's defaults and carries its moments from round to round", () => {
    const first = fedOpt(global, [{ weights: a, numExamples: 1 }]);
    const explicit = fedOpt(global, [{ weights: a, numExamples: 1 }], undefined, {
      serverOpt: "adam",
      learningRate: 1e-3,
      beta1: 0.9,
      beta2: 0.99,
      tau: 1e-4,
    });
    expect(first.model).toEqual(explicit.model);
    const state: FedOptState = first.state;
    const withState = fedOpt(first.model, [{ weights: b, numExamples: 1 }], state);
    const fresh = fedOpt(first.model, [{ weights: b, numExamples: 1 }]);
    expect(withState.model).not.toEqual(fresh.model);
  });

  it("refuses bad FedOpt options with the option's name", () => {
    expect(() =>
      fedOpt(global, [{ weights: a, numExamples: 1 }], undefined, { tau: Number.NaN }),
    ).toThrow(new UsageError("option --tau expects a finite number, found NaN", { option: "tau" }));
    expect(() => createAggregator({ aggregator: "fedopt", serverOpt: "sgd" as "adam" })).toThrow(
      "option --serveropt expects one of adam, yogi, adagrad, found sgd",
    );
  });
});
