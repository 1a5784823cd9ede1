#!/usr/bin/env node
/**
 * The `fedn-tfjs` bin. The only module of the tool side that touches `process`: it hands the
 * argument list and the streams to `runCli` and turns the result into the exit status.
 */
import { commandOf, processContext, runCli } from "../kit/cli.js";
import mnist from "../mnist/package.js";
import clientStart, { fednClientArgv } from "../tools/client.js";
import data from "../tools/data.js";
import inspect from "../tools/inspect.js";
import packageCreate from "../tools/package.js";
import packageBuild from "../tools/package-build.js";
import report from "../tools/report.js";
import run from "../tools/run.js";
import simulate from "../tools/simulate.js";
import { VERSION } from "../version.js";

const program = {
  name: "fedn-tfjs",
  version: VERSION,
  describe: "Tools for FEDn compute packages written in TypeScript on TensorFlow.js.",
  // The drop-in entry point's commands too, so `npx fedn-tfjs train in out` works from any folder.
  commands: [
    inspect,
    data,
    packageCreate,
    packageBuild,
    run,
    simulate,
    report,
    clientStart,
    ...mnist.commands,
  ],
};

// FEDn's `-in FILE` (client start) becomes `--init FILE` before parsing.
const argv = fednClientArgv(process.argv.slice(2));
// `run`, `simulate` and `client start` own a child process group and temporary files: SIGTERM/SIGINT go to
// them through an AbortSignal (they forward it, wait, clean up, and exit 128+signal); every
// other command keeps Node's default of dying at once.
const controller = new AbortController();
if (commandOf(program, argv)?.interruptible === true) {
  for (const name of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(name, () => controller.abort(name));
  }
}
process.exitCode = await runCli(program, argv, { ...processContext(), signal: controller.signal });
