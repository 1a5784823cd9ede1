#!/usr/bin/env node
/**
 * The `startup` program of the compute package (bundled to `client/dist/startup.js`). The only
 * module of it that touches `process`.
 */
import { processContext, runCli } from "./cli/scaffold.js";
import startup from "./commands/startup.js";
import { VERSION } from "./version.js";

const program = {
  name: "fedn-tfjs",
  version: VERSION,
  describe: "Prepares this client's data for the fedn-tfjs MNIST compute package.",
  commands: [startup],
};

process.exitCode = await runCli(program, ["startup", ...process.argv.slice(2)], processContext());
