#!/usr/bin/env node
/**
 * The `fedn-tfjs` bin. The only module of the tool side that touches `process`: it hands the
 * argument list and the streams to `runCli` and turns the result into the exit status.
 */
import { commandOf, processContext, runCli } from "./cli/scaffold.js";
import data from "./commands/data.js";
import inspect from "./commands/inspect.js";
import packageCreate from "./commands/package.js";
import run from "./commands/run.js";
import simulate from "./commands/simulate.js";
import { mnistCommands } from "./mnist/commands.js";
import { VERSION } from "./version.js";

const program = {
  name: "fedn-tfjs",
  version: VERSION,
  describe: "Tools for FEDn compute packages written in TypeScript on TensorFlow.js.",
  // The drop-in entry point's commands too, so `npx fedn-tfjs train in out` works from any folder.
  commands: [inspect, data, packageCreate, run, simulate, ...mnistCommands],
};

const argv = process.argv.slice(2);
// `run` and `simulate` own a child process group and temporary files: SIGTERM/SIGINT go to
// them through an AbortSignal (they forward it, wait, clean up, and exit 128+signal); every
// other command keeps Node's default of dying at once.
const controller = new AbortController();
if (commandOf(program, argv)?.interruptible === true) {
  for (const name of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(name, () => controller.abort(name));
  }
}
process.exitCode = await runCli(program, argv, { ...processContext(), signal: controller.signal });
