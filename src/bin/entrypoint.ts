#!/usr/bin/env node
/**
 * The MNIST compute package's entry point, a drop-in for FEDn's `entrypoint.py`:
 * `node entrypoint.js train <in_model_path> <out_model_path> [--data_path …]`.
 */
import mnist from "../mnist/package.js";

await mnist.main();
