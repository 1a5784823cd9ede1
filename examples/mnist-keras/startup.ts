#!/usr/bin/env node
/** The package's `startup` entry point: checks this client's data before the first round. */
import mnistKeras from "./package.js";

await mnistKeras.mainStartup();
