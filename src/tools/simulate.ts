/**
 * `fedn-tfjs simulate`: a FEDn federation on one machine (see `federation.ts`), with the
 * package's entry points run as a FEDn client runs them, FedAvg or FedOpt between rounds, and a
 * report (chart and table) at the end.
 */
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { IoError, UsageError } from "../errors.js";
import { type AggregatorOptions, SERVER_OPTIMIZERS } from "../fedn/aggregators.js";
import { clientDataPaths } from "../fedn/data-path.js";
import { parseClientSettings } from "../fedn/settings.js";
import { defineCommand } from "../kit/cli.js";
import { type RoundResult, simulateFederation } from "./federation.js";
import { createSimulateDisplay } from "./simulate-progress.js";

function format(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? "n/a" : value.toFixed(4);
}

/**
 * The clients `fedn-tfjs data --clients N` made: the folders 1, 2, ... in `dir`, counted. None is
 * missing data, not a usage error: the line names the first client's file, as train would.
 */
async function countClients(dir: string, dataFile: string): Promise<number> {
  const names = new Set(
    await readdir(dir, { withFileTypes: true })
      .then((entries) => entries.filter((e) => e.isDirectory()).map((e) => e.name))
      .catch(() => [] as string[]),
  );
  let n = 0;
  while (names.has(String(n + 1))) n++;
  if (n === 0) {
    const first = join(dir, "1", dataFile);
    throw new IoError(
      `no client data: ${first} does not exist; write the client splits with \`fedn-tfjs data --clients N\`, or pass --data_dir and --clients`,
      { file: first },
    );
  }
  return n;
}

function roundLine(r: RoundResult, rounds: number, clients: number): string {
  const failed = r.clients.filter((c) => c.status === "failed");
  const why = failed.map((c) => `client ${c.client} ${c.stage}: ${c.error}`).join("; ");
  if (r.status === "failed") {
    return `round ${r.round}/${rounds}: no update arrived, global model unchanged (${why})\n`;
  }
  return (
    `round ${r.round}/${rounds}: ${r.updates}/${clients} update(s), ${r.numExamples} examples, ` +
    `test_accuracy ${format(r.mean.test_accuracy)}, test_loss ${format(r.mean.test_loss)}, ` +
    `${r.seconds.toFixed(1)} s${failed.length > 0 ? ` (left out: ${why})` : ""}\n`
  );
}

export default defineCommand({
  name: "simulate",
  interruptible: true,
  describe:
    "Simulate a FEDn federation on this machine: train on each client, aggregate (FedAvg/FedOpt), validate, report",
  positionals: [],
  options: {
    path: {
      type: "string",
      alias: "p",
      describe: "Compute package folder (or .tgz)",
      default: "client",
    },
    seed_model: { type: "string", describe: "Initial global model", default: "seed.npz" },
    clients: {
      type: "number",
      describe: "Number of clients; client i trains on <data_dir>/<i>/<data_file>",
      defaultDescription: "the folders 1, 2, ... in --data-dir",
    },
    data_dir: {
      type: "string",
      describe: "Folder of the client splits (written by `fedn-tfjs data --clients N`)",
      default: "data/clients",
    },
    data_file: {
      type: "string",
      describe: "Each client's data file name inside <data_dir>/<i>/",
      default: "mnist.npz",
    },
    rounds: { type: "number", describe: "Rounds of training", default: 3 },
    aggregator: {
      type: "string",
      describe: "How the combiner combines updates, as FEDn's",
      choices: ["fedavg", "fedopt"],
      default: "fedavg",
    },
    serveropt: {
      type: "string",
      describe: "FedOpt's server optimizer",
      choices: SERVER_OPTIMIZERS,
      default: "adam",
    },
    server_lr: { type: "number", describe: "FedOpt's server learning rate", default: 1e-3 },
    beta1: { type: "number", describe: "FedOpt's beta1", default: 0.9 },
    beta2: { type: "number", describe: "FedOpt's beta2 (adam, yogi)", default: 0.99 },
    tau: { type: "number", describe: "FedOpt's tau (adaptivity)", default: 1e-4 },
    concurrency: {
      type: "number",
      describe: "Clients running at the same time",
      defaultDescription: "the number of CPU cores",
    },
    out: {
      type: "string",
      describe: "Folder for each round's global model, results.json and the report",
      default: "simulation",
    },
    client_settings: {
      type: "string",
      describe: "JSON object of client settings for train (FEDn's round config)",
      defaultDescription: "{}",
    },
    quiet: { type: "boolean", describe: "Hide the entry points' own output", default: false },
  },
  epilog: [
    "Examples:",
    "  fedn-tfjs data --clients 2 && npm run package",
    "  fedn-tfjs simulate -p client --seed_model seed.npz --clients 2 --rounds 3",
    "  fedn-tfjs simulate --aggregator fedopt --serveropt yogi --server-lr 0.01",
    "",
    "Writes <out>/results.json, <out>/chart.svg, <out>/chart.png and <out>/report.html.",
    "Exit status 0 unless a round got no update from any client.",
  ].join("\n"),
  async run(args, ctx) {
    if (args.clients !== undefined && (!Number.isInteger(args.clients) || args.clients < 1)) {
      throw new UsageError(`option --clients expects a positive integer, found ${args.clients}`, {
        option: "clients",
      });
    }
    const dataDir = resolve(ctx.cwd, args.data_dir);
    const clients = args.clients ?? (await countClients(dataDir, args.data_file));
    const clientData = clientDataPaths(dataDir, clients, args.data_file, "data-file");
    const aggregator: AggregatorOptions =
      args.aggregator === "fedopt"
        ? {
            aggregator: "fedopt",
            serverOpt: args.serveropt as (typeof SERVER_OPTIMIZERS)[number],
            learningRate: args.server_lr,
            beta1: args.beta1,
            beta2: args.beta2,
            tau: args.tau,
          }
        : { aggregator: "fedavg" };
    const out = resolve(ctx.cwd, args.out);
    const display = createSimulateDisplay(ctx.stderr);
    let results: Awaited<ReturnType<typeof simulateFederation>>;
    try {
      results = await simulateFederation(
        {
          packagePath: resolve(ctx.cwd, args.path),
          seedModel: resolve(ctx.cwd, args.seed_model),
          clientData,
          rounds: args.rounds,
          outDir: out,
          aggregator,
          concurrency: args.concurrency,
          clientSettings: parseClientSettings(args.client_settings),
          env: ctx.env,
          log: args.quiet ? undefined : display.log,
          onEvent: (e) => display.event(e),
          signal: ctx.signal,
        },
        (r) => display.print(ctx.stdout, roundLine(r, args.rounds, clients)),
      );
    } finally {
      display.finish();
    }
    // The report tool loads its chart libraries lazily: simulate's own path stays light.
    const { renderReport } = await import("./report.js");
    const report = await renderReport(out);
    for (const warning of report.warnings) ctx.stderr.write(`warning: ${warning}\n`);
    ctx.stdout.write(`results: ${join(out, "results.json")}\n`);
    ctx.stdout.write(`report: ${report.html}\n`);
    const empty = results.rounds.filter((r) => r.status === "failed").map((r) => r.round);
    if (empty.length > 0) {
      ctx.stderr.write(
        `error: round(s) ${empty.join(", ")} got no update from any client; see ${join(out, "results.json")}\n`,
      );
      return 1;
    }
    return 0;
  },
});
