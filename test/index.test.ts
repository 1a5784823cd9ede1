import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as lib from "../src/index.js";
import { VERSION } from "../src/version.js";

describe("the public API", () => {
  // A name added to or dropped from src/index.ts is an API change: this makes it a visible one.
  it("exports exactly these names", () => {
    expect(Object.keys(lib).sort()).toMatchInlineSnapshot(`
      [
        "DataError",
        "FEDOPT_DEFAULTS",
        "FednTfjsError",
        "FormatError",
        "IoError",
        "ResidentState",
        "SERVER_OPTIMIZERS",
        "ShapeError",
        "UsageError",
        "VERSION",
        "buildPackage",
        "checkLoopOptions",
        "createAggregator",
        "createPackage",
        "createRandom",
        "csvData",
        "decodeModel",
        "decodeNpz",
        "defineComputePackage",
        "denseStack",
        "encodeModel",
        "encodeNpz",
        "fedAvg",
        "fedOpt",
        "isFednTfjsError",
        "kerasAdam",
        "layersModel",
        "layersToWire",
        "loadModel",
        "mnistNpz",
        "npzData",
        "partitionRows",
        "resolveFedOptOptions",
        "resolveTrainOptions",
        "runEntryPoint",
        "saveModel",
        "selectBackend",
        "simulateFederation",
        "wireToLayers",
      ]
    `);
  });

  it("does no work at import time: no backend is set up by importing the library", async () => {
    const tf = await import("@tensorflow/tfjs");
    expect(tf.engine().backendName).toBeUndefined();
  });

  // scripts/build-bins.mjs: each command is a new process, and resolving our forty modules one
  // by one cost a fifth of a small train's CPU.
  it("ships each bin as one module that imports only packages and Node's built-ins", () => {
    for (const bin of ["cli", "entrypoint", "startup"]) {
      const text = readFileSync(new URL(`../dist/bin/${bin}.js`, import.meta.url), "utf8");
      expect(text.startsWith("#!/usr/bin/env node\n")).toBe(true);
      const imported = [
        ...text.matchAll(/^import\b[^;]*?from\s*"([^"]+)"|\bimport\("([^"]+)"\)/gm),
      ];
      expect(imported.length).toBeGreaterThan(0);
      expect(imported.map((m) => m[1] ?? m[2]).filter((s) => s?.startsWith("."))).toEqual([]);
    }
  });

  it("reports the version package.json declares", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(VERSION).toBe(pkg.version);
  });
});
