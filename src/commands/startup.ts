/**
 * The compute package's `startup` entry point (`node dist/startup.js`): makes sure this client has
 * data before the first round, and says where it is. See `src/data/client-data.ts`.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineCommand } from "../cli/scaffold.js";
import { DEMO_DATA_NAME, prepareClientData } from "../data/client-data.js";

/** The demo data set sits next to the bundled program (`client/dist/`). */
function demoPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), DEMO_DATA_NAME);
}

export default defineCommand({
  name: "startup",
  describe:
    "Check this client's data (FEDN_DATA_PATH, else data/clients/1/mnist.npz), or write demo splits there",
  positionals: [],
  options: {
    data_path: {
      type: "string",
      describe: "Data file to check; wins over FEDN_DATA_PATH",
    },
    // fedn.yaml passes the same $ENTRYPOINT_OPTS to startup as to train: train's options are
    // accepted here (and checked as numbers/flags) but only --data_path matters to startup.
    batch_size: {
      type: "number",
      describe: "Ignored: train's option, accepted from $ENTRYPOINT_OPTS",
    },
    epochs: { type: "number", describe: "Ignored: train's option, accepted from $ENTRYPOINT_OPTS" },
    lr: { type: "number", describe: "Ignored: train's option, accepted from $ENTRYPOINT_OPTS" },
    seed: { type: "number", describe: "Ignored: train's option, accepted from $ENTRYPOINT_OPTS" },
    shuffle: {
      type: "boolean",
      describe: "Ignored: train's option, accepted from $ENTRYPOINT_OPTS",
    },
    backend: {
      type: "string",
      describe: "Ignored: the entry points' option, accepted from $ENTRYPOINT_OPTS",
    },
  },
  async run(args, ctx) {
    const report = await prepareClientData({
      dataPath: args.data_path,
      env: ctx.env,
      cwd: ctx.cwd,
      demoPath: demoPath(),
    });
    for (const line of report.lines) ctx.stdout.write(`${line}\n`);
    return 0;
  },
});
