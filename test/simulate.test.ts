import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dataset, sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveDataset } from "../src/data/files.js";
import { isFednTfjsError } from "../src/errors.js";
import { runCli } from "../src/kit/cli.js";
import { parsePythonJson } from "../src/node/io.js";
import { createPackage } from "../src/tools/archive.js";
import { type SimulationResults, simulateFederation } from "../src/tools/federation.js";
import simulateCommand from "../src/tools/simulate.js";
import { numpyMissing, PYTHON } from "./fixtures/python.js";

const repo = resolve(import.meta.dirname, "..");
const entrypoint = join(repo, "dist", "bin", "entrypoint.js");
const ORACLE = join(repo, "test", "fixtures", "fedn_aggregate.py");
let dir: string;
let clientData: string[];

/** A package whose entry points run the built drop-in entry point, as the real client/ does. */
async function writePackage(path: string, train: string, extra = ""): Promise<void> {
  await mkdir(path, { recursive: true });
  const yaml = [
    "entry_points:",
    extra,
    "  train:",
    `    command: ${train}`,
    "  validate:",
    `    command: node ${entrypoint} validate`,
    "",
  ].join("\n");
  await writeFile(join(path, "fedn.yaml"), yaml);
}

/**
 * A package of shell scripts, no TF.js: train copies the model and reports 10 examples, validate
 * reports the data file's size; any entry point fails when the client's data file says "fail-<entry>".
 */
async function writeShellPackage(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  const guard = (entry: string) =>
    `grep -q fail-${entry} "$FEDN_DATA_PATH" && { echo "${entry} broke on $FEDN_DATA_PATH" >&2; exit 7; }`;
  await writeFile(join(path, "startup.sh"), `${guard("startup")}\nexit 0\n`);
  await writeFile(
    join(path, "train.sh"),
    `${guard("train")}\ncp "$1" "$2"\necho '{"num_examples": 10}' > "$2-metadata"\n`,
  );
  await writeFile(
    join(path, "validate.sh"),
    `${guard("validate")}\necho "{\\"test_accuracy\\": 0.5, \\"test_loss\\": $(wc -c < "$FEDN_DATA_PATH")}" > "$2"\n`,
  );
  const yaml = ["startup", "train", "validate"]
    .map((e) => `  ${e}:\n    command: bash ${e}.sh`)
    .join("\n");
  await writeFile(join(path, "fedn.yaml"), `entry_points:\n${yaml}\n`);
}

function slice(d: Dataset, train: [number, number], test: [number, number]): Dataset {
  return {
    x_train: sliceRows(d.x_train, ...train),
    y_train: sliceRows(d.y_train, ...train),
    x_test: sliceRows(d.x_test, ...test),
    y_test: sliceRows(d.y_test, ...test),
  };
}

function context(cwd: string) {
  const io = { out: "", err: "" };
  const ctx = {
    stdout: { write: (t: string) => (io.out += t) },
    stderr: { write: (t: string) => (io.err += t) },
    env: { PATH: process.env.PATH },
    cwd,
  };
  return { io, ctx };
}

const program = { name: "fedn-tfjs", version: "0", describe: "", commands: [simulateCommand] };

async function readResults(out: string): Promise<SimulationResults> {
  return parsePythonJson(await readFile(join(out, "results.json"), "utf8")) as SimulationResults;
}

/** Asks the numpy oracle to recompute every round of a simulation from the files it wrote. */
async function oracle(out: string, seed: string, results: SimulationResults) {
  const rounds = [];
  let global = seed;
  for (const r of results.rounds) {
    const updates = [];
    for (const c of r.clients.filter((c) => c.aggregated)) {
      const file = join(out, `round-${r.round}`, `client-${c.client}.npz`);
      const meta = JSON.parse(await readFile(`${file}-metadata`, "utf8")) as Record<string, number>;
      expect(meta.num_examples).toBe(c.numExamples);
      updates.push([file, meta.num_examples]);
    }
    const actual = join(out, r.model!);
    rounds.push({ global, updates, actual });
    global = actual;
  }
  const plan = join(out, "plan.json");
  const parameters = results.aggregator.parameters;
  await writeFile(
    plan,
    JSON.stringify({ aggregator: results.aggregator.name, parameters, rounds }),
  );
  return execFileSync(PYTHON, [ORACLE, plan], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map(
      (l) => parsePythonJson(l) as { equal: boolean; dtypes: string[]; average_maxdiff?: number },
    );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-simulate-"));
  const digits = await loadMnistPackage();
  // Unequal clients, so a plain mean and FedAvg's weighted mean differ.
  const parts = [
    slice(digits, [0, 300], [0, 100]),
    slice(digits, [300, 400], [100, 200]),
    slice(digits, [400, 600], [200, 300]),
  ];
  clientData = [];
  for (const [i, part] of parts.entries()) {
    const file = join(dir, "data", String(i + 1), "digits.npz");
    await mkdir(join(dir, "data", String(i + 1)), { recursive: true });
    await saveDataset(part, file);
    clientData.push(file);
  }
  await writePackage(join(dir, "package"), `node ${entrypoint} train`);
  execFileSync("node", [entrypoint, "init_seed", join(dir, "seed.npz"), "--seed", "3"]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const skipNumpy = numpyMissing();

describe.skipIf(skipNumpy !== "")(`simulate on the bundled digits ${skipNumpy}`, () => {
  it("3 clients x 3 rounds, plus one with a corrupt data file: every global model is numpy's num_examples-weighted average of the others' updates, exit 0", async () => {
    const out = join(dir, "fedavg");
    // Client 4's data file is corrupt: it must be left out of every round, the others go on.
    await mkdir(join(dir, "data", "4"), { recursive: true });
    await writeFile(join(dir, "data", "4", "digits.npz"), "this is not an npz");
    const { io, ctx } = context(dir);
    const argv = ["simulate", "-p", "package", "--seed-model", "seed.npz", "--rounds", "3"];
    argv.push("--data-dir", "data", "--data-file", "digits.npz", "--out", out, "--quiet");
    expect(await runCli(program, argv, ctx)).toBe(0);
    const results = await readResults(out);
    expect(results.clients).toHaveLength(4); // counted from data/1..4
    expect(results.rounds.map((r) => [r.status, r.updates, r.numExamples])).toEqual([
      ["ok", 3, 600],
      ["ok", 3, 600],
      ["ok", 3, 600],
    ]);
    for (const r of results.rounds) {
      const bad = r.clients[3]!;
      expect(bad).toMatchObject({ status: "failed", stage: "train", aggregated: false });
      expect(bad.error).toBe("train failed with exit status 1");
      expect(bad.stderr).toContain(`${join(dir, "data", "4", "digits.npz")}: not a zip archive`);
      for (const c of r.clients.slice(0, 3)) {
        expect(c).toMatchObject({ status: "ok", aggregated: true });
        expect(c.trainSeconds).toBeGreaterThan(0);
        expect(Object.keys(c.metrics!).sort()).toEqual([
          "test_accuracy",
          "test_loss",
          "training_accuracy",
          "training_loss",
        ]);
      }
    }
    for (const v of await oracle(out, join(dir, "seed.npz"), results)) {
      expect(v.equal).toBe(true);
      expect(v.dtypes).toEqual(["float32"]);
      expect(v.average_maxdiff!).toBeLessThan(1e-6);
    }
    expect(io.out).toMatch(/^round 1\/3: 3\/4 update\(s\), 600 examples, test_accuracy 0\.\d{4}/);
    expect(io.out).toContain("(left out: client 4 train: train failed with exit status 1)");
    // The last line points at the report, which exists.
    expect(io.out.trim().split("\n").at(-1)).toBe(`report: ${join(out, "report.html")}`);
    expect(await readFile(join(out, "report.html"), "utf8")).toContain("<svg");
  });

  it("FedOpt-Adam over 3 rounds equals the numpy re-implementation of FEDn's step", async () => {
    const out = join(dir, "fedopt");
    const results = await simulateFederation({
      packagePath: join(dir, "package"),
      seedModel: join(dir, "seed.npz"),
      // Two clients keep the test short; the aggregation itself is checked on 3 in aggregators.test.ts.
      clientData: clientData.slice(0, 2),
      rounds: 3,
      outDir: out,
      aggregator: { aggregator: "fedopt", serverOpt: "adam", learningRate: 0.01 },
      env: { PATH: process.env.PATH },
    });
    expect(results.aggregator).toEqual({
      name: "fedopt",
      parameters: { serveropt: "adam", learning_rate: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-4 },
    });
    const verdicts = await oracle(out, join(dir, "seed.npz"), results);
    expect(verdicts).toHaveLength(3);
    for (const v of verdicts) expect(v).toMatchObject({ equal: true, dtypes: ["float64"] });
  });
});

describe("simulate's failure handling (a shell-script package, no training)", () => {
  let shell: string;
  const data: string[] = [];

  beforeAll(async () => {
    shell = join(dir, "shell");
    await writeShellPackage(shell);
    for (const [i, text] of ["good", "fail-startup", "fail-validate", "good too"].entries()) {
      const file = join(dir, "shell-data", `${i + 1}.txt`);
      await mkdir(join(dir, "shell-data"), { recursive: true });
      await writeFile(file, text);
      data.push(file);
    }
  });

  it("records startup, train and validate failures per client and keeps going", async () => {
    const events: string[] = [];
    const results = await simulateFederation({
      packagePath: shell,
      seedModel: join(dir, "seed.npz"),
      clientData: data,
      rounds: 2,
      outDir: join(dir, "shell-out"),
      concurrency: 3,
      env: { PATH: process.env.PATH },
      onEvent: (e) => {
        if (e.type !== "client") events.push(e.type);
      },
    });
    expect(events).toEqual(["startup", "round", "done", "round", "done"]);
    for (const r of results.rounds) {
      expect(r).toMatchObject({ status: "ok", updates: 3, numExamples: 30 });
      const [one, two, three, four] = r.clients;
      expect(one).toMatchObject({ status: "ok", aggregated: true, numExamples: 10 });
      expect(two).toMatchObject({
        status: "failed",
        stage: "startup",
        error: "startup failed with exit status 7",
        stderr: `startup broke on ${data[1]}`,
        aggregated: false,
      });
      // Its update counts; only its metrics are missing.
      expect(three).toMatchObject({ status: "failed", stage: "validate", aggregated: true });
      expect(three!.metrics).toBeUndefined();
      expect(four!.metrics).toEqual({ test_accuracy: 0.5, test_loss: 8 });
      // The mean is over the clients that validated.
      expect(r.mean).toEqual({ test_accuracy: 0.5, test_loss: (4 + 8) / 2 });
    }
  });

  it("stops when its signal fires: no entry point starts after, and it rejects with the reason", async () => {
    const controller = new AbortController();
    const trained: number[] = [];
    const run = simulateFederation({
      packagePath: shell,
      seedModel: join(dir, "seed.npz"),
      clientData: [data[0]!, data[3]!],
      rounds: 3,
      outDir: join(dir, "shell-abort"),
      concurrency: 1,
      env: { PATH: process.env.PATH },
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "client" && e.stage === "train") {
          trained.push(e.client);
          controller.abort(new Error("stopped by the test"));
        }
      },
    });
    await expect(run).rejects.toThrow("stopped by the test");
    expect(trained).toEqual([1]);
  });

  it("a round with no update keeps the global model, and the command exits 1", async () => {
    const folder = join(dir, "shell-nodata");
    for (const i of [1, 2]) {
      await mkdir(join(folder, String(i)), { recursive: true });
      await writeFile(join(folder, String(i), "mnist.npz"), "fail-train");
    }
    const out = join(dir, "shell-nodata-out");
    const { io, ctx } = context(dir);
    const argv = ["simulate", "-p", shell, "--data-dir", folder, "--rounds", "1", "--out", out];
    expect(await runCli(program, argv, ctx)).toBe(1);
    const results = await readResults(out);
    expect(results.rounds[0]).toMatchObject({ status: "failed", updates: 0 });
    expect(results.rounds[0]!.model).toBeUndefined();
    expect(io.out).toContain("round 1/1: no update arrived, global model unchanged");
    expect(io.err).toContain("error: round(s) 1 got no update from any client");
    // The entry points' own stderr, prefixed with the client, when not --quiet.
    expect(io.err).toContain(`[client 2] train broke on ${join(folder, "2", "mnist.npz")}`);
  });

  it("runs a .tgz as FEDn clients do: unpacked once, startup once per client", async () => {
    const folder = join(dir, "with-startup");
    await writeShellPackage(folder);
    const yaml = join(folder, "fedn.yaml");
    await writeFile(
      yaml,
      (await readFile(yaml, "utf8")).replace(
        "command: bash startup.sh",
        'command: echo started >> "$FEDN_DATA_PATH.started"',
      ),
    );
    const { file } = await createPackage({ path: folder, output: dir, name: "sim.tgz" });
    const goods = [data[0]!, data[3]!];
    const results = await simulateFederation({
      packagePath: file,
      seedModel: join(dir, "seed.npz"),
      clientData: goods,
      rounds: 1,
      outDir: join(dir, "tgz-out"),
      env: { PATH: process.env.PATH },
    });
    expect(results.rounds[0]!.updates).toBe(2);
    for (const d of goods) expect(await readFile(`${d}.started`, "utf8")).toBe("started\n");
  });

  it("says how to make missing client data, and refuses bad options", async () => {
    const error = await simulateFederation({
      packagePath: shell,
      seedModel: join(dir, "seed.npz"),
      clientData: [join(dir, "nowhere.npz")],
      outDir: join(dir, "x"),
    }).catch((e: unknown) => e);
    expect(isFednTfjsError(error)).toBe(true);
    expect((error as Error).message).toBe(
      `client data ${join(dir, "nowhere.npz")} does not exist; write the splits with \`fedn-tfjs data --clients 1\``,
    );
    const { ctx } = context(dir);
    await expect(
      runCli(program, ["simulate", "--data-dir", join(dir, "none"), "-p", shell], ctx),
    ).resolves.toBe(1); // missing data is a file problem (IoError), as the bad-input corpus expects
    let err = "";
    const badName = { ...ctx, stderr: { write: (t: string) => (err += t) } };
    const argv = ["simulate", "-p", shell, "--clients", "1", "--data-file", "../x.npz"];
    await expect(runCli(program, argv, badName)).resolves.toBe(2);
    expect(err).toContain(
      'option --data-file expects a file name without a folder, found "../x.npz"',
    );
    await expect(
      simulateFederation({
        packagePath: shell,
        seedModel: join(dir, "seed.npz"),
        clientData: data,
        outDir: join(dir, "x"),
        concurrency: 0,
      }),
    ).rejects.toThrow("option --concurrency must be a positive integer, got 0");
  });
});
