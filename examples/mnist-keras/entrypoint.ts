#!/usr/bin/env node
/** The package's entry point: `node dist/entrypoint.js train in.npz out.npz [--data_path …]`. */
import mnistKeras from "./package.js";

await mnistKeras.main();
