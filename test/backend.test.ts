import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import { resolveBackendRequest, selectBackend } from "../src/node/backend.js";

describe("resolveBackendRequest", () => {
  it("takes --backend over FEDN_TFJS_BACKEND over auto", () => {
    expect(resolveBackendRequest(undefined, {})).toBe("auto");
    expect(resolveBackendRequest(undefined, { FEDN_TFJS_BACKEND: "" })).toBe("auto");
    expect(resolveBackendRequest(undefined, { FEDN_TFJS_BACKEND: "cpu" })).toBe("cpu");
    expect(resolveBackendRequest("wasm", { FEDN_TFJS_BACKEND: "cpu" })).toBe("wasm");
  });

  it("names where a bad value came from", () => {
    expect(() => resolveBackendRequest("gpu")).toThrow(
      '--backend must be one of auto, tensorflow, node, wasm, cpu; found "gpu"',
    );
    expect(() => resolveBackendRequest(undefined, { FEDN_TFJS_BACKEND: "webgpu" })).toThrow(
      'environment variable FEDN_TFJS_BACKEND must be one of auto, tensorflow, node, wasm, cpu; found "webgpu"',
    );
  });
});

describe("selectBackend", () => {
  it("auto picks tfjs-node if installed, else wasm with SIMD, and logs the choice once", async () => {
    const lines: string[] = [];
    const choice = await selectBackend({ log: (l) => lines.push(l) });
    let nodeInstalled = true;
    try {
      await import("@tensorflow/tfjs-node" as string);
    } catch {
      nodeInstalled = false;
    }
    expect(choice.name).toBe(nodeInstalled ? "tensorflow" : "wasm");
    expect(tf.getBackend()).toBe(choice.name);
    if (!nodeInstalled) expect(choice.description).toMatch(/^wasm \(simd, \d+ threads?\)$/);
    expect(lines).toEqual([`fedn-tfjs: backend ${choice.description}`]);
    await selectBackend({ log: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
  });

  it("a forced backend that cannot start is a UsageError, never a silent fallback", async () => {
    let nodeInstalled = true;
    try {
      await import("@tensorflow/tfjs-node" as string);
    } catch {
      nodeInstalled = false;
    }
    if (nodeInstalled) return; // nothing to prove where tfjs-node works
    const before = tf.getBackend();
    await expect(selectBackend({ backend: "tensorflow" })).rejects.toThrow(UsageError);
    await expect(selectBackend({ backend: "node" })).rejects.toThrow(
      /^backend "node" was asked for but cannot start: tfjs-node is not available/,
    );
    expect(tf.getBackend()).toBe(before);
  });

  it("switches to the cpu backend when asked, through the environment too", async () => {
    const lines: string[] = [];
    const choice = await selectBackend({
      env: { FEDN_TFJS_BACKEND: "cpu" },
      log: (l) => lines.push(l),
    });
    expect(choice.name).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(lines).toEqual(["fedn-tfjs: backend cpu (pure JavaScript)"]);
    expect(tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)).dataSync()[0])).toBe(3);
    await selectBackend({ backend: "wasm" });
    expect(tf.getBackend()).toBe("wasm");
  });
});
