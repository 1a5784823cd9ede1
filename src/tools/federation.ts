/**
 * A FEDn federation on one machine: every round, each client trains the global model through
 * the package's own `train` entry point, run exactly as a FEDn client runs it
 * (`runEntryPoint`), and the updates are combined as FEDn's combiner does (FedAvg or FedOpt,
 * `fedn/aggregators.ts`). Then every client validates the new global model. What a developer
 * runs to see a package learn before it meets a real combiner.
 *
 * Like a combiner, the federation tolerates failing clients: a client whose `startup` fails sits
 * out every round; one whose `train` fails (or writes an update FEDn would not read) is left out
 * of that round's aggregate; one whose `validate` fails has no metrics that round. Each failure
 * is recorded with its message and the tail of the client's stderr. A round that receives no
 * update at all keeps the previous global model and is marked failed. Clients run in parallel
 * (`concurrency` at a time); updates are aggregated in client order, so the result does not
 * depend on which client finished first.
 */

import { mkdir, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, relative, resolve } from "node:path";
import { parsePythonJson } from "../codec/pyjson.js";
import { DataError, IoError, isFednTfjsError, UsageError } from "../errors.js";
import { type AggregatorOptions, createAggregator, type ModelUpdate } from "../fedn/aggregators.js";
import { findPackage, loadPackageConfig } from "../fedn/config.js";
import { metadataPathOf } from "../fedn/settings.js";
import { isFile, loadMetadata, loadModel, readBytes, saveJson, saveModel } from "../node/io.js";
import { type RunResult, runEntryPoint, unpackPackage, type Writer } from "./entry-point.js";

export interface SimulateOptions {
  /** The compute package: a folder holding `fedn.yaml`, or a `.tgz`. */
  packagePath: string;
  /** The initial global model (numpy-helper `.npz`). */
  seedModel: string;
  /** One data file per client; each client's entry points see it as `FEDN_DATA_PATH`. */
  clientData: readonly string[];
  /** @default 3 */
  rounds?: number | undefined;
  /** Where each round's global model, the updates, metrics and `results.json` are written. */
  outDir: string;
  /** The aggregator and its hyperparameters. @default { aggregator: "fedavg" } */
  aggregator?: AggregatorOptions | undefined;
  /** Clients whose entry points run at the same time. @default the number of CPU cores */
  concurrency?: number | undefined;
  /** Client settings for `train` (FEDn's round config `client_settings`). @default {} */
  clientSettings?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The environment entry points inherit; `FEDN_DATA_PATH` is set per client on top.
   * @default the caller's (`process.env`), as a FEDn client's entry points inherit its own
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Receives the entry points' own output, each line prefixed with its client. @default discarded */
  log?: Writer | undefined;
  /** Told as the federation moves: for a progress display. */
  onEvent?: ((event: SimulateEvent) => void) | undefined;
  /**
   * Stops the simulation: no entry point starts after it fires, and the promise rejects with the
   * abort reason (never recorded as a client failure).
   */
  signal?: AbortSignal | undefined;
}

/** Where a client's part of a round ended. */
export type ClientStage = "startup" | "train" | "validate";

/** One client's part in one round, as `results.json` records it. */
export interface ClientRoundResult {
  client: number;
  /** `ok`: its update was aggregated and it validated the new model; else `failed` at `stage`. */
  status: "ok" | "failed";
  stage?: ClientStage | undefined;
  /** One line saying what went wrong. */
  error?: string | undefined;
  /** The last lines of the entry point's stderr when it failed. */
  stderr?: string | undefined;
  /** Whether this client's update is in the round's global model. */
  aggregated: boolean;
  /** `num_examples` of its update. */
  numExamples?: number | undefined;
  trainSeconds?: number | undefined;
  validateSeconds?: number | undefined;
  /** Its validation metrics of the round's global model. */
  metrics?: Record<string, number> | undefined;
}

/** What one round produced. */
export interface RoundResult {
  round: number;
  /** `failed` when no client sent an update: the global model stays the previous one. */
  status: "ok" | "failed";
  /** The round's global model (relative to the output folder), when one was made. */
  model?: string | undefined;
  /** Updates aggregated. */
  updates: number;
  /** Examples behind the aggregate: the sum of the aggregated updates' `num_examples`. */
  numExamples: number;
  clients: ClientRoundResult[];
  /** Each metric's mean over the clients that validated, weighted equally. */
  mean: Record<string, number>;
  /** Wall-clock seconds of the round. */
  seconds: number;
}

/** `results.json`: the whole federation, what `fedn-tfjs report` draws. */
export interface SimulationResults {
  version: 1;
  package: string;
  seedModel: string;
  clients: { client: number; data: string }[];
  aggregator: { name: string; parameters: Readonly<Record<string, string | number>> };
  concurrency: number;
  rounds: RoundResult[];
}

/** A step of the federation, for progress displays. */
export type SimulateEvent =
  | { type: "startup"; clients: number }
  | { type: "round"; round: number; rounds: number; clients: number }
  | { type: "client"; round: number; client: number; stage: ClientStage; ok: boolean }
  | { type: "done"; round: RoundResult };

interface Resolved {
  packagePath: string;
  seedModel: string;
  clientData: string[];
  rounds: number;
  outDir: string;
  aggregator: AggregatorOptions;
  concurrency: number;
  clientSettings: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  log: Writer | undefined;
  onEvent: (event: SimulateEvent) => void;
  signal: AbortSignal | undefined;
}

async function resolveSimulateOptions(o: SimulateOptions): Promise<Resolved> {
  const rounds = o.rounds ?? 3;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new UsageError(`option --rounds must be a positive integer, got ${rounds}`, {
      option: "rounds",
    });
  }
  const concurrency = o.concurrency ?? availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new UsageError(`option --concurrency must be a positive integer, got ${concurrency}`, {
      option: "concurrency",
    });
  }
  if (o.clientData.length === 0) {
    throw new UsageError("a federation needs at least one client", { option: "clients" });
  }
  // A missing file is the user's mistake, not a client failing: say so before anything runs.
  for (const file of o.clientData) {
    if (!(await isFile(file))) {
      throw new IoError(
        `client data ${file} does not exist; write the splits with \`fedn-tfjs data --clients ${o.clientData.length}\``,
        { file },
      );
    }
  }
  if (!(await isFile(o.seedModel))) {
    throw new IoError(`seed model ${o.seedModel} does not exist`, {
      file: o.seedModel,
      option: "seed_model",
    });
  }
  // Validates the aggregator options once, before any client runs.
  createAggregator(o.aggregator ?? {});
  return {
    packagePath: resolve(o.packagePath),
    seedModel: resolve(o.seedModel),
    clientData: o.clientData.map((f) => resolve(f)),
    rounds,
    outDir: resolve(o.outDir),
    aggregator: o.aggregator ?? {},
    concurrency,
    clientSettings: o.clientSettings ?? {},
    // `{}` would hide `node` wherever it is not on bash's default PATH (nvm, volta): exit 127.
    env: o.env ?? process.env,
    log: o.log,
    onEvent: o.onEvent ?? (() => undefined),
    signal: o.signal,
  };
}

/** Runs `task` over `items`, at most `limit` at a time; results in item order. */
async function pool<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
  signal?: AbortSignal | undefined,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  // Every worker is waited for, even after one throws (an abort): the caller removes the
  // unpacked package only once no entry point of this pool is still running in it.
  const settled = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  for (const s of settled) if (s.status === "rejected") throw s.reason;
  return results;
}

const STDERR_TAIL = 2000;

/** Keeps the tail of a client's stderr and passes its lines on to `log`, prefixed. */
class ClientOutput {
  private tail = "";
  private pending = "";
  constructor(
    private readonly client: number,
    private readonly log: Writer | undefined,
    private readonly keep: boolean,
  ) {}

  readonly writer: Writer = {
    write: (text: string) => {
      if (this.keep) this.tail = (this.tail + text).slice(-STDERR_TAIL);
      if (this.log === undefined) return true;
      const lines = (this.pending + text).split("\n");
      this.pending = lines.pop() ?? "";
      for (const line of lines) this.log.write(`[client ${this.client}] ${line}\n`);
      return true;
    },
  };

  /** The kept stderr, trimmed; flushes a last unterminated line to `log`. */
  finish(): string {
    if (this.log !== undefined && this.pending !== "") {
      this.log.write(`[client ${this.client}] ${this.pending}\n`);
      this.pending = "";
    }
    return this.tail.trim();
  }
}

/** A failed entry point as one line, like a FEDn client's log says it. */
function describeExit(result: RunResult): string {
  const how = result.signal === null ? `exit status ${result.exitCode}` : result.signal;
  return `${result.entry} failed with ${how}`;
}

function errorLine(error: unknown): string {
  if (isFednTfjsError(error)) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

type Outcome<T> =
  | { ok: true; value: T; seconds: number }
  | { ok: false; error: string; stderr: string };

/** Runs one entry point for one client; any failure becomes an `Outcome` instead of a throw. */
async function attempt<T>(
  o: Resolved,
  client: number,
  options: Parameters<typeof runEntryPoint>[0],
  read: (result: RunResult) => Promise<T>,
): Promise<Outcome<T>> {
  const stderr = new ClientOutput(client, o.log, true);
  const stdout = new ClientOutput(client, o.log, false);
  try {
    const result = await runEntryPoint({
      ...options,
      env: { ...o.env, FEDN_DATA_PATH: o.clientData[client - 1] },
      stdout: stdout.writer,
      stderr: stderr.writer,
      signal: o.signal,
    });
    stdout.finish();
    const tail = stderr.finish();
    if (result.exitCode !== 0) return { ok: false, error: describeExit(result), stderr: tail };
    return { ok: true, value: await read(result), seconds: result.seconds };
  } catch (error) {
    stdout.finish();
    // Stopping the federation is not a client failing.
    if (o.signal?.aborted) throw error;
    return { ok: false, error: errorLine(error), stderr: stderr.finish() };
  }
}

/** `num_examples` from the update's metadata (`runEntryPoint` checked it is a positive number). */
async function numExamplesOf(modelPath: string): Promise<number> {
  const n = (await loadMetadata(modelPath))?.num_examples;
  if (typeof n !== "number") {
    throw new DataError(`${metadataPathOf(modelPath)} has no numeric "num_examples"`, {
      file: metadataPathOf(modelPath),
      key: "num_examples",
    });
  }
  return n;
}

/** The metrics file, already checked by `runEntryPoint` to be a JSON object of numbers. */
async function readMetrics(path: string): Promise<Record<string, number>> {
  // Python's json.load reading, as FEDn's client does: a NaN metric is a number there.
  const text = new TextDecoder().decode(await readBytes(path));
  return parsePythonJson(text) as Record<string, number>;
}

/**
 * Runs `rounds` rounds of federated training over the clients' data, writes `results.json`
 * after each round, and returns the results. `onRound` is called as each round completes.
 *
 * @example
 * await simulateFederation({ packagePath: "client", seedModel: "seed.npz",
 *   clientData: ["data/clients/1/mnist.npz", "data/clients/2/mnist.npz"], outDir: "sim" });
 */
export async function simulateFederation(
  options: SimulateOptions,
  onRound: (result: RoundResult) => void = () => undefined,
): Promise<SimulationResults> {
  const resolved = await resolveSimulateOptions(options);
  // Like a FEDn client: unpack once, run `startup` once per client, then only call entry points.
  const archive = await isFile(resolved.packagePath);
  const folder = archive
    ? await unpackPackage(resolved.packagePath, { signal: options.signal })
    : resolved.packagePath;
  try {
    const o = { ...resolved, packagePath: folder };
    await mkdir(o.outDir, { recursive: true });
    const startup = await startClients(o);
    return await runRounds(o, resolved.packagePath, startup, onRound);
  } finally {
    if (archive) await rm(folder, { recursive: true, force: true });
  }
}

/** Each client's `startup`, if the package has one; returns the failures by client. */
async function startClients(o: Resolved): Promise<Map<number, ClientRoundResult>> {
  const failed = new Map<number, ClientRoundResult>();
  const location = await findPackage(o.packagePath);
  const config = await loadPackageConfig(location.file);
  if (config.entryPoints.startup === undefined) return failed;
  o.onEvent({ type: "startup", clients: o.clientData.length });
  const clients = o.clientData.map((_, i) => i + 1);
  const outcomes = await pool(
    clients,
    o.concurrency,
    (client) =>
      attempt(o, client, { entry: "startup", path: o.packagePath }, async () => undefined),
    o.signal,
  );
  for (const [i, outcome] of outcomes.entries()) {
    if (!outcome.ok) {
      failed.set(i + 1, {
        client: i + 1,
        status: "failed",
        stage: "startup",
        error: outcome.error,
        stderr: outcome.stderr,
        aggregated: false,
      });
    }
  }
  return failed;
}

async function runRounds(
  o: Resolved,
  packagePath: string,
  startupFailures: Map<number, ClientRoundResult>,
  onRound: (result: RoundResult) => void,
): Promise<SimulationResults> {
  const aggregator = createAggregator(o.aggregator);
  const results: SimulationResults = {
    version: 1,
    package: packagePath,
    seedModel: o.seedModel,
    clients: o.clientData.map((data, i) => ({ client: i + 1, data })),
    aggregator: { name: aggregator.name, parameters: aggregator.parameters },
    concurrency: o.concurrency,
    rounds: [],
  };
  const clients = o.clientData.map((_, i) => i + 1);
  const live = clients.filter((c) => !startupFailures.has(c));
  let global = o.seedModel;
  for (let round = 1; round <= o.rounds; round++) {
    const started = performance.now();
    const dir = join(o.outDir, `round-${round}`);
    await mkdir(dir, { recursive: true });
    o.onEvent({ type: "round", round, rounds: o.rounds, clients: live.length });
    const rows = new Map<number, ClientRoundResult>();
    for (const [c, failure] of startupFailures) rows.set(c, { ...failure });
    const input = global;
    const trained = await pool(
      live,
      o.concurrency,
      async (client) => {
        const update = join(dir, `client-${client}.npz`);
        const outcome = await attempt(
          o,
          client,
          {
            entry: "train",
            path: o.packagePath,
            input,
            output: update,
            clientSettings: o.clientSettings,
          },
          async () => ({
            weights: await loadModel(update),
            numExamples: await numExamplesOf(update),
          }),
        );
        o.onEvent({ type: "client", round, client, stage: "train", ok: outcome.ok });
        return outcome;
      },
      o.signal,
    );
    const updates: ModelUpdate[] = [];
    for (const [i, outcome] of trained.entries()) {
      const client = live[i]!;
      if (outcome.ok) {
        updates.push(outcome.value);
        rows.set(client, {
          client,
          status: "ok",
          aggregated: true,
          numExamples: outcome.value.numExamples,
          trainSeconds: outcome.seconds,
        });
      } else {
        rows.set(client, {
          client,
          status: "failed",
          stage: "train",
          error: outcome.error,
          stderr: outcome.stderr,
          aggregated: false,
        });
      }
    }
    let model: string | undefined;
    if (updates.length > 0) {
      model = join(o.outDir, `model-round-${round}.npz`);
      await saveModel(aggregator.combine(await loadModel(global), updates), model);
      global = model;
      const validated = await pool(
        live,
        o.concurrency,
        async (client) => {
          const out = join(dir, `validation-client-${client}.json`);
          const outcome = await attempt(
            o,
            client,
            { entry: "validate", path: o.packagePath, input: model, output: out },
            () => readMetrics(out),
          );
          o.onEvent({ type: "client", round, client, stage: "validate", ok: outcome.ok });
          return outcome;
        },
        o.signal,
      );
      for (const [i, outcome] of validated.entries()) {
        const row = rows.get(live[i]!)!;
        if (outcome.ok) {
          row.metrics = outcome.value;
          row.validateSeconds = outcome.seconds;
        } else if (row.status === "ok") {
          Object.assign(row, {
            status: "failed",
            stage: "validate",
            error: outcome.error,
            stderr: outcome.stderr,
          });
        }
      }
    }
    const clientRows = clients.map((c) => rows.get(c)!);
    const result: RoundResult = {
      round,
      status: updates.length > 0 ? "ok" : "failed",
      model: model === undefined ? undefined : relative(o.outDir, model),
      updates: updates.length,
      numExamples: updates.reduce((sum, u) => sum + u.numExamples, 0),
      clients: clientRows,
      mean: meanMetrics(clientRows),
      seconds: (performance.now() - started) / 1000,
    };
    results.rounds.push(result);
    await saveJson(results, join(o.outDir, "results.json"));
    o.onEvent({ type: "done", round: result });
    onRound(result);
  }
  return results;
}

/** Each metric's mean over the clients that reported it, weighted equally (as FEDn's dashboard). */
export function meanMetrics(clients: readonly ClientRoundResult[]): Record<string, number> {
  const sums = new Map<string, { total: number; count: number }>();
  for (const c of clients) {
    for (const [key, value] of Object.entries(c.metrics ?? {})) {
      const s = sums.get(key) ?? { total: 0, count: 0 };
      s.total += value;
      s.count += 1;
      sums.set(key, s);
    }
  }
  return Object.fromEntries([...sums].map(([k, s]) => [k, s.total / s.count]));
}

/** The mean of one metric over the clients, weighted equally (as FEDn's dashboard shows them). */
export function meanMetric(metrics: readonly Record<string, number>[], key: string): number {
  const values = metrics.map((m) => m[key]).filter((v): v is number => typeof v === "number");
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
