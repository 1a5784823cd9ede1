/**
 * The aggregators of FEDn's combiner (`fedn/network/combiner/aggregators/`, FEDn 0.33), as pure
 * functions over model weight lists, so a user can combine their own update files exactly as a
 * combiner would. All arithmetic goes through the numpy-helper functions (`numpyhelper.ts`), with
 * numpy's dtype rules: what FEDn computes in float32 is rounded to float32 here, what it computes
 * in float64 (FedOpt's `v`, and so its new model) is float64 here.
 *
 * What FEDn does and these functions do too:
 * - FedAvg: the first update is taken as it is, each next one folded in with
 *   `increment_average(model, next, n, N)`, `N` the examples so far including `n`. An update with
 *   `num_examples` 0 therefore changes nothing unless it comes first; a first update with 0
 *   examples is replaced entirely by the next non-empty one; when every update has 0 examples the
 *   second one turns the average into NaN (0/0), as in FEDn.
 * - FedOpt: the pseudo-gradient is the same running average of `update - global`; the server
 *   optimizer (adam, yogi, adagrad; no bias correction, as FEDn) then steps from the global model.
 *   Its moments `m` and `v` persist across rounds (one aggregator object per FEDn session): pass
 *   the returned state back in the next round.
 * Where FEDn logs and skips an update it cannot combine (a shape mismatch), these functions throw
 * a ShapeError naming the update instead: a silent skip would hide a broken file.
 */

import { formatShape, type NdArray } from "../codec/ndarray.js";
import { DataError, ShapeError, UsageError } from "../errors.js";
import { add, divide, incrementAverage, multiply, ones, power, sign, sqrt } from "./numpyhelper.js";

/** One client's contribution to a round: its trained weights and the examples behind them. */
export interface ModelUpdate {
  /** The update's weights in numpy-helper order (an `.npz` read with `loadModel`). */
  readonly weights: readonly NdArray[];
  /** `num_examples` from the update's metadata. */
  readonly numExamples: number;
}

/** FedOpt's server optimizers, as FEDn names them. */
export const SERVER_OPTIMIZERS = ["adam", "yogi", "adagrad"] as const;
export type ServerOptimizer = (typeof SERVER_OPTIMIZERS)[number];

/** FedOpt hyperparameters; FEDn's names in parentheses. */
export interface FedOptOptions {
  /** (`serveropt`) @default "adam" */
  readonly serverOpt?: ServerOptimizer | undefined;
  /** Server learning rate (`learning_rate`). @default 1e-3 */
  readonly learningRate?: number | undefined;
  /** @default 0.9 */
  readonly beta1?: number | undefined;
  /** @default 0.99 */
  readonly beta2?: number | undefined;
  /** @default 1e-4 */
  readonly tau?: number | undefined;
}

/** FEDn 0.33's FedOpt defaults (`default_parameters` in `fedopt.py`). */
export const FEDOPT_DEFAULTS: Required<{
  [K in keyof FedOptOptions]: NonNullable<FedOptOptions[K]>;
}> = {
  serverOpt: "adam",
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.99,
  tau: 1e-4,
};

export type ResolvedFedOptOptions = typeof FEDOPT_DEFAULTS;

/** FedOpt's server-side moments, carried from one round to the next. */
export interface FedOptState {
  readonly m: readonly NdArray[];
  readonly v: readonly NdArray[];
}

/** Validates FedOpt options and fills in FEDn's defaults. */
export function resolveFedOptOptions(options: FedOptOptions = {}): ResolvedFedOptOptions {
  const serverOpt = options.serverOpt ?? FEDOPT_DEFAULTS.serverOpt;
  if (!(SERVER_OPTIMIZERS as readonly string[]).includes(serverOpt)) {
    throw new UsageError(
      `option --serveropt expects one of ${SERVER_OPTIMIZERS.join(", ")}, found ${String(serverOpt)}`,
      { option: "serveropt" },
    );
  }
  const number = (value: number | undefined, fallback: number, option: string): number => {
    const v = value ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new UsageError(`option --${option} expects a finite number, found ${String(v)}`, {
        option,
      });
    }
    return v;
  };
  return {
    serverOpt,
    learningRate: number(options.learningRate, FEDOPT_DEFAULTS.learningRate, "server-lr"),
    beta1: number(options.beta1, FEDOPT_DEFAULTS.beta1, "beta1"),
    beta2: number(options.beta2, FEDOPT_DEFAULTS.beta2, "beta2"),
    tau: number(options.tau, FEDOPT_DEFAULTS.tau, "tau"),
  };
}

function checkUpdates(updates: readonly ModelUpdate[], what: string): void {
  if (updates.length === 0) {
    throw new DataError(`${what}: no model updates to aggregate`);
  }
  updates.forEach((u, i) => {
    const n = u.numExamples;
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
      throw new DataError(
        `${what}: update ${i + 1} has num_examples ${String(n)}; expected a number >= 0`,
        { key: "num_examples" },
      );
    }
  });
}

/** Names the update whose arrays do not match the first one's, before any arithmetic. */
function checkShapes(reference: readonly NdArray[], other: readonly NdArray[], what: string): void {
  if (other.length !== reference.length) {
    throw new ShapeError(`${what} has ${other.length} arrays; expected ${reference.length}`);
  }
  other.forEach((a, k) => {
    const ref = reference[k]!;
    if (formatShape(a.shape) !== formatShape(ref.shape)) {
      throw new ShapeError(
        `${what}: array "${k}" has shape ${formatShape(a.shape)}; expected ${formatShape(ref.shape)}`,
        { key: String(k) },
      );
    }
  });
}

/** FEDn's loop shared by both aggregators: a running `num_examples`-weighted average. */
function runningAverage(
  updates: readonly ModelUpdate[],
  map: (weights: readonly NdArray[]) => NdArray[],
): NdArray[] {
  let average: NdArray[] = [];
  let total = 0;
  updates.forEach((u, i) => {
    total += u.numExamples;
    const next = map(u.weights);
    average = i === 0 ? next : incrementAverage(average, next, u.numExamples, total);
  });
  return average;
}

/**
 * FedAvg as FEDn's combiner computes it: the incremental `num_examples`-weighted average of the
 * updates, in the order given (the order changes the float rounding, as arrival order does in
 * FEDn).
 *
 * @example const global = fedAvg([{ weights: a, numExamples: 300 }, { weights: b, numExamples: 100 }]);
 */
export function fedAvg(updates: readonly ModelUpdate[]): NdArray[] {
  checkUpdates(updates, "fedavg");
  const first = updates[0]!.weights;
  for (const [i, u] of updates.entries()) checkShapes(first, u.weights, `fedavg: update ${i + 1}`);
  return runningAverage(updates, (w) => [...w]);
}

/** `numpyhelper.multiply(m, [c] * len(m))`: each array times a Python float, in its own dtype. */
function scale(m: readonly NdArray[], c: number): NdArray[] {
  return multiply(
    m,
    m.map((a) =>
      a.dtype === "float32"
        ? { dtype: "float32", shape: a.shape, data: new Float32Array(a.data.length).fill(c) }
        : { dtype: "float64", shape: a.shape, data: new Float64Array(a.data.length).fill(c) },
    ),
  );
}

/** What one FedOpt round returns: the new global model and the moments for the next round. */
export interface FedOptResult {
  readonly model: NdArray[];
  readonly state: FedOptState;
}

/**
 * FedOpt as FEDn's combiner computes it (Reddi et al. 2020, FEDn's variant): the weighted
 * pseudo-gradient `update - global` averaged as FedAvg does, then one server-optimizer step from
 * `global`. `state` is the previous round's (undefined in the first round).
 *
 * @example
 * let state; for (const round of rounds) ({ model: global, state } = fedOpt(global, round, state));
 */
export function fedOpt(
  global: readonly NdArray[],
  updates: readonly ModelUpdate[],
  state?: FedOptState | undefined,
  options: FedOptOptions = {},
): FedOptResult {
  const o = resolveFedOptOptions(options);
  checkUpdates(updates, "fedopt");
  for (const [i, u] of updates.entries()) checkShapes(global, u.weights, `fedopt: update ${i + 1}`);
  if (state !== undefined) {
    checkShapes(global, state.m, "fedopt: state m");
    checkShapes(global, state.v, "fedopt: state v");
  }
  const pseudoGradient = runningAverage(updates, (w) => add(w, global, 1, -1));
  // `if not self.v` / `if not self.m`: first round only (the lists are never empty after).
  let v: readonly NdArray[] = state?.v ?? ones(pseudoGradient, o.tau ** 2);
  const m =
    state === undefined
      ? scale(pseudoGradient, 1 - o.beta1)
      : add(state.m, pseudoGradient, o.beta1, 1 - o.beta1);
  const p = power(pseudoGradient, 2);
  if (o.serverOpt === "adam") {
    v = add(v, p, o.beta2, 1 - o.beta2);
  } else if (o.serverOpt === "yogi") {
    const s = multiply(sign(add(v, p, 1, -1)), p);
    v = add(v, s, 1, -(1 - o.beta2));
  } else {
    v = add(v, p, 1, 1);
  }
  const sv = add(sqrt(v), ones(v, o.tau));
  const t = divide(m, sv);
  const model = add(global, t, 1, o.learningRate);
  return { model, state: { m, v } };
}

/** Which aggregator a federation uses, and FedOpt's hyperparameters when it is FedOpt. */
export type AggregatorOptions =
  | { readonly aggregator?: "fedavg" | undefined }
  | ({ readonly aggregator: "fedopt" } & FedOptOptions);

/** An aggregator that keeps its state across rounds, as a FEDn combiner's aggregator object does. */
export interface Aggregator {
  readonly name: "fedavg" | "fedopt";
  /** FedOpt's resolved hyperparameters (FEDn's names), or `{}` for FedAvg: for reports. */
  readonly parameters: Readonly<Record<string, string | number>>;
  /** Combines one round's updates, trained from `global`, into the next global model. */
  combine(global: readonly NdArray[], updates: readonly ModelUpdate[]): NdArray[];
}

/** Makes a stateful aggregator for a whole session (FedOpt's moments carry over rounds). */
export function createAggregator(options: AggregatorOptions = {}): Aggregator {
  const name = options.aggregator ?? "fedavg";
  if (name === "fedavg") {
    return { name, parameters: {}, combine: (_global, updates) => fedAvg(updates) };
  }
  if (name !== "fedopt") {
    throw new UsageError(`option --aggregator expects fedavg or fedopt, found ${String(name)}`, {
      option: "aggregator",
    });
  }
  const o = resolveFedOptOptions(options as FedOptOptions);
  let state: FedOptState | undefined;
  return {
    name,
    parameters: {
      serveropt: o.serverOpt,
      learning_rate: o.learningRate,
      beta1: o.beta1,
      beta2: o.beta2,
      tau: o.tau,
    },
    combine(global, updates) {
      const result = fedOpt(global, updates, state, o);
      state = result.state;
      return result.model;
    },
  };
}
