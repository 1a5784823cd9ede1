import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Dataset, sliceRows } from "../src/data/dataset.js";
import { loadMnistPackage, saveDataset } from "../src/data/files.js";
import { isFednTfjsError } from "../src/errors.js";
import { runCli } from "../src/kit/cli.js";
import { createPackage } from "../src/tools/archive.js";
import { simulateFederation } from "../src/tools/federation.js";
import simulateCommand from "../src/tools/simulate.js";

const repo = resolve(import.meta.dirname, "..");
const entrypoint = join(repo, "dist", "bin", "entrypoint.js");
let dir: string;
let clientData: string[];

/** A package whose entry points run the built drop-in entry point, as the real client/ does. */
async function writePackage(path: string, train: string): Promise<void> {
  await mkdir(path, { recursive: true });
  const yaml = [
    "entry_points:",
    "  train:",
    `    command: ${train}`,
    "  validate:",
    `    command: node ${entrypoint} validate`,
    "",
  ].join("\n");
  await writeFile(join(path, "fedn.yaml"), yaml);
}

function slice(d: Dataset, train: [number, number], test: [number, number]): Dataset {
  return {
    x_train: sliceRows(d.x_train, ...train),
    y_train: sliceRows(d.y_train, ...train),
    x_test: sliceRows(d.x_test, ...test),
    y_test: sliceRows(d.y_test, ...test),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-simulate-"));
  const digits = await loadMnistPackage();
  // Unequal clients, so a plain mean and FedAvg's weighted mean differ.
  const parts = [slice(digits, [0, 300], [0, 100]), slice(digits, [300, 400], [100, 200])];
  clientData = [];
  for (const [i, part] of parts.entries()) {
    const file = join(dir, "data", String(i + 1), "mnist.npz");
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

describe("simulateFederation", () => {
  it("trains every client, aggregates with FedAvg and validates each round", async () => {
    const seen: number[] = [];
    const rounds = await simulateFederation(
      {
        packagePath: join(dir, "package"),
        seedModel: join(dir, "seed.npz"),
        clientData,
        rounds: 2,
        outDir: join(dir, "out"),
        env: { PATH: process.env.PATH },
      },
      (r) => seen.push(r.round),
    );
    expect(seen).toEqual([1, 2]);
    expect(rounds.map((r) => r.numExamples)).toEqual([400, 400]);
    for (const round of rounds) {
      expect(round.metrics).toHaveLength(2);
      for (const m of round.metrics) {
        expect(Object.keys(m).sort()).toEqual([
          "test_accuracy",
          "test_loss",
          "training_accuracy",
          "training_loss",
        ]);
      }
    }
    // numpy is the oracle for the aggregate: the examples-weighted mean of the two updates.
    const check = `
import json, numpy as np, sys
d = sys.argv[1]
ups = [np.load(f"{d}/round-1/client-{i}.npz", allow_pickle=False) for i in (1, 2)]
ns = [json.load(open(f"{d}/round-1/client-{i}.npz-metadata"))["num_examples"] for i in (1, 2)]
agg = np.load(f"{d}/model-round-1.npz", allow_pickle=False)
assert sorted(agg.files) == [str(k) for k in range(6)], agg.files
for k in agg.files:
    want = (ups[0][k].astype(np.float64) * ns[0] + ups[1][k] * ns[1]) / sum(ns)
    assert agg[k].dtype == np.float32, agg[k].dtype
    assert np.abs(agg[k] - want).max() < 1e-6, (k, np.abs(agg[k] - want).max())
print(ns)
`;
    const out = execFileSync("python3", ["-c", check, join(dir, "out")], { encoding: "utf8" });
    expect(out.trim()).toBe("[300, 100]");
  });

  it("runs a .tgz as FEDn clients do: unpacked once, startup once per client, then the rounds", async () => {
    const folder = join(dir, "with-startup");
    await writePackage(folder, `node ${entrypoint} train`);
    const yaml = join(folder, "fedn.yaml");
    await writeFile(
      yaml,
      `entry_points:\n  startup:\n    command: echo started >> "$FEDN_DATA_PATH.started"\n${(await readFile(yaml, "utf8")).replace("entry_points:\n", "")}`,
    );
    const { file } = await createPackage({ path: folder, output: dir, name: "sim.tgz" });
    const rounds = await simulateFederation({
      packagePath: file,
      seedModel: join(dir, "seed.npz"),
      clientData,
      rounds: 1,
      outDir: join(dir, "tgz-out"),
      env: { PATH: process.env.PATH },
    });
    expect(rounds[0]?.metrics).toHaveLength(2);
    for (const data of clientData) {
      expect(await readFile(`${data}.started`, "utf8")).toBe("started\n");
    }
  });

  it("stops with the client and exit status when an entry point fails", async () => {
    await writePackage(join(dir, "broken"), "exit 3;");
    const run = simulateFederation({
      packagePath: join(dir, "broken"),
      seedModel: join(dir, "seed.npz"),
      clientData,
      rounds: 1,
      outDir: join(dir, "broken-out"),
    });
    await expect(run).rejects.toThrow(/^client 1: train failed with exit status 3/);
  });

  it("the simulate command takes absolute paths and writes where --out says", async () => {
    let out = "";
    const ctx = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: () => true },
      env: { PATH: process.env.PATH },
      cwd: tmpdir(),
    };
    const argv = [
      "simulate",
      ...["-p", join(dir, "package"), "--seed_model", join(dir, "seed.npz")],
      ...["--data_dir", join(dir, "data"), "--clients", "2", "--rounds", "1"],
      ...["--out", join(dir, "cli-out")],
    ];
    const program = { name: "fedn-tfjs", version: "0", describe: "", commands: [simulateCommand] };
    expect(await runCli(program, argv, ctx)).toBe(0);
    expect(out).toMatch(/^round 1\/1: 2 client\(s\), 400 examples, test_accuracy 0\.\d{4}/);
    expect(out).toContain(`global models and metrics in ${join(dir, "cli-out")}\n`);
  });

  it("says how to make missing client data", async () => {
    const error = await simulateFederation({
      packagePath: join(dir, "package"),
      seedModel: join(dir, "seed.npz"),
      clientData: [join(dir, "nowhere.npz")],
      outDir: join(dir, "x"),
    }).catch((e: unknown) => e);
    expect(isFednTfjsError(error)).toBe(true);
    expect((error as Error).message).toBe(
      `client data ${join(dir, "nowhere.npz")} does not exist; write the splits with \`fedn-tfjs data --clients 1\``,
    );
  });
});
