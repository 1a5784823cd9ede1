#!/usr/bin/env node
/**
 * The compute package's entry point, a drop-in for FEDn's `entrypoint.py`:
 * `node entrypoint.js train <in_model_path> <out_model_path> [--data_path …]`. The only module of
 * the package that touches `process`.
 */
import { processContext, runCli } from "./cli/scaffold.js";
import { mnistProgram } from "./mnist/commands.js";

process.exitCode = await runCli(mnistProgram, process.argv.slice(2), processContext());
