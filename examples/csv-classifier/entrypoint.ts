#!/usr/bin/env node
/** The package's entry point: `node dist/entrypoint.js train in.npz out.npz [--data_path …]`. */
import csvClassifier from "./package.js";

await csvClassifier.main();
