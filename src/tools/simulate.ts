/**
 * `fedn-tfjs simulate`: a FEDn federation on one machine (see `federation.ts`), with the
 * package's entry points run as a FEDn client runs them and FedAvg between rounds.
 */
import { join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import { parseClientSettings } from "../fedn/settings.js";
import { defineCommand } from "../kit/cli.js";
import { saveJson } from "../node/io.js";
import { meanMetric, simulateFederation } from "./federation.js";

function format(value: number): string {
  return Number.isNaN(value) ? "n/a" : value.toFixed(4);
}

export default defineCommand({
  name: "simulate",
  interruptible: true,
  describe: "Simulate a FEDn federation on this machine: train on each client, FedAvg, validate",
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
      describe: "Number of clients; client i trains on <data_dir>/<i>/mnist.npz",
      default: 2,
    },
    data_dir: {
      type: "string",
      describe: "Folder of the client splits (written by `fedn-tfjs data --clients N`)",
      default: "data/clients",
    },
    rounds: { type: "number", describe: "Rounds of training", default: 3 },
    out: {
      type: "string",
      describe: "Folder for each round's global model and metrics",
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
  ].join("\n"),
  async run(args, ctx) {
    if (!Number.isInteger(args.clients) || args.clients < 1) {
      throw new UsageError(`option --clients expects a positive integer, found ${args.clients}`, {
        option: "clients",
      });
    }
    const clientData = Array.from({ length: args.clients }, (_, i) =>
      resolve(ctx.cwd, args.data_dir, String(i + 1), "mnist.npz"),
    );
    const out = resolve(ctx.cwd, args.out);
    const rounds = await simulateFederation(
      {
        packagePath: resolve(ctx.cwd, args.path),
        seedModel: resolve(ctx.cwd, args.seed_model),
        clientData,
        rounds: args.rounds,
        outDir: out,
        clientSettings: parseClientSettings(args.client_settings),
        env: ctx.env,
        log: args.quiet ? undefined : ctx.stderr,
        signal: ctx.signal,
      },
      (r) => {
        ctx.stdout.write(
          `round ${r.round}/${args.rounds}: ${args.clients} client(s), ${r.numExamples} examples, ` +
            `test_accuracy ${format(meanMetric(r.metrics, "test_accuracy"))}, ` +
            `test_loss ${format(meanMetric(r.metrics, "test_loss"))}, ` +
            `${r.seconds.toFixed(1)} s\n`,
        );
      },
    );
    await saveJson({ rounds }, join(out, "summary.json"));
    ctx.stdout.write(`global models and metrics in ${out}\n`);
    return 0;
  },
});
