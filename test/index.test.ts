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

  it("reports the version package.json declares", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(VERSION).toBe(pkg.version);
  });
});
