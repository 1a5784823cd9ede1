/**
 * A FEDn federation on one machine: every round, each client trains the global model through
 * the package's own `train` entry point, run exactly as a FEDn client runs it
 * (`runEntryPoint`), and the updates are combined the way FEDn's default FedAvg aggregator does
 * (a running `increment_average` weighted by each update's `num_examples`). Then every client
 * validates the new global model. What a developer runs to see a package learn before it meets
 * a real combiner.
 */
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { NdArray } from "../codec/ndarray.js";
import { DataError, FednTfjsError, IoError, UsageError } from "../errors.js";
import { findPackage, loadPackageConfig } from "../fedn/config.js";
import { incrementAverage } from "../fedn/numpyhelper.js";
import { metadataPathOf } from "../fedn/settings.js";
import {
  isFile,
  loadMetadata,
  loadModel,
  parsePythonJson,
  readBytes,
  saveModel,
} from "../node/io.js";
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
  /** Where each round's global model and metrics are written. */
  outDir: string;
  /** Client settings for `train` (FEDn's round config `client_settings`). @default {} */
  clientSettings?: Readonly<Record<string, unknown>> | undefined;
  /**
   * The environment entry points inherit; `FEDN_DATA_PATH` is set per client on top.
   * @default the caller's (`process.env`), as a FEDn client's entry points inherit its own
   */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Receives the entry points' own output. @default discarded */
  log?: Writer | undefined;
  /** Stops the simulation: the running entry point's process group gets the signal, the
   * unpacked package is removed, and the promise rejects with the abort reason. */
  signal?: AbortSignal | undefined;
}

/** What one round produced. */
export interface RoundResult {
  round: number;
  /** The aggregated model of this round. */
  model: string;
  /** Examples behind the aggregate: the sum of the clients' `num_examples`. */
  numExamples: number;
  /** Each client's validation metrics of the aggregated model, in client order. */
  metrics: Record<string, number>[];
  /** Wall-clock seconds of the round's train and validate runs. */
  seconds: number;
}

interface Resolved {
  packagePath: string;
  seedModel: string;
  clientData: string[];
  rounds: number;
  outDir: string;
  clientSettings: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  log: Writer | undefined;
}

async function resolveSimulateOptions(o: SimulateOptions): Promise<Resolved> {
  const rounds = o.rounds ?? 3;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new UsageError(`option --rounds must be a positive integer, got ${rounds}`, {
      option: "rounds",
    });
  }
  if (o.clientData.length === 0) {
    throw new UsageError("a federation needs at least one client", { option: "clients" });
  }
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
  return {
    packagePath: resolve(o.packagePath),
    seedModel: resolve(o.seedModel),
    clientData: o.clientData.map((f) => resolve(f)),
    rounds,
    outDir: resolve(o.outDir),
    clientSettings: o.clientSettings ?? {},
    // `{}` would hide `node` wherever it is not on bash's default PATH (nvm, volta): exit 127.
    env: o.env ?? process.env,
    log: o.log,
  };
}

/** How much of a failed entry point's stderr an error keeps. */
const STDERR_TAIL = 600;

/**
 * Passes an entry point's stderr on to `log` and keeps its tail, so a failure can say why
 * (`bash: node: command not found`) even when the output itself is discarded.
 */
function stderrTail(log: Writer | undefined): Writer & { tail(): string } {
  let kept = "";
  return {
    write(text: string) {
      kept = (kept + text).slice(-STDERR_TAIL);
      return log?.write(text);
    },
    tail: () => kept.trim().split("\n").slice(-5).join(" | "),
  };
}

/** Fails the round the way a FEDn combiner drops an update: the entry point did not succeed. */
function checkRun(result: RunResult, client: number, stderr: { tail(): string }): void {
  if (result.exitCode !== 0) {
    const how = result.signal === null ? `exit status ${result.exitCode}` : result.signal;
    const tail = stderr.tail();
    throw new FednTfjsError(
      "DATA",
      `client ${client}: ${result.entry} failed with ${how} (\`${result.argv.join(" ")}\`)${tail === "" ? "" : `: ${tail}`}`,
    );
  }
}

/** `num_examples` from the update's metadata; FEDn's combiner drops an update without it. */
async function numExamplesOf(modelPath: string, client: number): Promise<number> {
  const metadata = await loadMetadata(modelPath);
  const n = metadata?.num_examples;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) {
    throw new DataError(
      `client ${client}: ${metadataPathOf(modelPath)} has no positive numeric "num_examples"`,
      { file: metadataPathOf(modelPath), key: "num_examples" },
    );
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
 * Runs `rounds` rounds of federated training over the clients' data and returns each round's
 * aggregate and validation metrics. `onRound` is called as each round completes.
 *
 * @example
 * await simulateFederation({ packagePath: "client", seedModel: "seed.npz",
 *   clientData: ["data/clients/1/mnist.npz", "data/clients/2/mnist.npz"], outDir: "sim" });
 */
export async function simulateFederation(
  options: SimulateOptions,
  onRound: (result: RoundResult) => void = () => undefined,
): Promise<RoundResult[]> {
  const resolved = await resolveSimulateOptions(options);
  // Like a FEDn client: unpack once, run `startup` once per client, then only call entry points.
  const archive = await isFile(resolved.packagePath);
  const folder = archive
    ? await unpackPackage(resolved.packagePath, { signal: options.signal })
    : resolved.packagePath;
  try {
    const o = { ...resolved, packagePath: folder, signal: options.signal };
    await startClients(o);
    return await runRounds(o, onRound);
  } finally {
    if (archive) await rm(folder, { recursive: true, force: true });
  }
}

/** Each client's `startup`, if the package has one: it checks (or prepares) that client's data. */
type Running = Resolved & { signal?: AbortSignal | undefined };

async function startClients(o: Running): Promise<void> {
  const location = await findPackage(o.packagePath);
  const config = await loadPackageConfig(location.file);
  if (config.entryPoints.startup === undefined) return;
  for (const [index, data] of o.clientData.entries()) {
    const stderr = stderrTail(o.log);
    const run = await runEntryPoint({
      entry: "startup",
      path: o.packagePath,
      env: { ...o.env, FEDN_DATA_PATH: data },
      stdout: o.log,
      stderr,
      signal: o.signal,
    });
    checkRun(run, index + 1, stderr);
  }
}

async function runRounds(
  o: Running,
  onRound: (result: RoundResult) => void,
): Promise<RoundResult[]> {
  const results: RoundResult[] = [];
  let global = o.seedModel;
  for (let round = 1; round <= o.rounds; round++) {
    const started = performance.now();
    const dir = join(o.outDir, `round-${round}`);
    await mkdir(dir, { recursive: true });
    let aggregate: NdArray[] | undefined;
    let total = 0;
    for (const [index, data] of o.clientData.entries()) {
      const client = index + 1;
      const update = join(dir, `client-${client}.npz`);
      const stderr = stderrTail(o.log);
      const run = await runEntryPoint({
        entry: "train",
        path: o.packagePath,
        input: global,
        output: update,
        clientSettings: o.clientSettings,
        env: { ...o.env, FEDN_DATA_PATH: data },
        stdout: o.log,
        stderr,
        signal: o.signal,
      });
      checkRun(run, client, stderr);
      const n = await numExamplesOf(update, client);
      const weights = await loadModel(update);
      // FEDn's FedAvg: the first update is taken as is, each next one folded into the running
      // average with its share of the examples seen so far.
      total += n;
      aggregate =
        aggregate === undefined ? weights : incrementAverage(aggregate, weights, n, total);
    }
    const model = join(o.outDir, `model-round-${round}.npz`);
    await saveModel(aggregate ?? [], model);
    const metrics: Record<string, number>[] = [];
    for (const [index, data] of o.clientData.entries()) {
      const out = join(dir, `validation-client-${index + 1}.json`);
      const stderr = stderrTail(o.log);
      const run = await runEntryPoint({
        entry: "validate",
        path: o.packagePath,
        input: model,
        output: out,
        env: { ...o.env, FEDN_DATA_PATH: data },
        stdout: o.log,
        stderr,
        signal: o.signal,
      });
      checkRun(run, index + 1, stderr);
      metrics.push(await readMetrics(out));
    }
    global = model;
    const result = {
      round,
      model,
      numExamples: total,
      metrics,
      seconds: (performance.now() - started) / 1000,
    };
    results.push(result);
    onRound(result);
  }
  return results;
}

/** The mean of one metric over the clients, weighted equally (as FEDn's dashboard shows them). */
export function meanMetric(metrics: readonly Record<string, number>[], key: string): number {
  const values = metrics.map((m) => m[key]).filter((v): v is number => typeof v === "number");
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
