/**
 * The fast engine's run-time choices, fed synthetic timings: how many threads a step runs on
 * (ThreadChooser) and how the first layer's outputs split between them (SplitTuner). Their
 * effect on results is nil (test/fast.test.ts checks every split and thread count gives the
 * same weights); these check that they settle where the timings say.
 */
import { describe, expect, it } from "vitest";
import { SplitTuner, ThreadChooser } from "../src/models/fast/engine.js";

/** Runs `steps` steps, each taking `ms(threads, step)`; the thread count of every step. */
function drive(steps: number, ms: (threads: number, step: number) => number): number[] {
  const chooser = new ThreadChooser(2);
  const picked: number[] = [];
  for (let s = 0; s < steps; s++) {
    const threads = chooser.pick();
    picked.push(threads);
    chooser.record(threads, ms(threads, s));
  }
  return picked;
}

const share = (picked: number[], from: number, threads: number) =>
  picked.slice(from).filter((t) => t === threads).length / (picked.length - from);

describe("ThreadChooser", () => {
  it("starts on one thread, then keeps two where their median step is faster, stalls and all", () => {
    // Two threads: 0.06 ms a step, and a 10 ms stall every 40th step; one thread: 0.1 ms.
    const picked = drive(3000, (t, s) => (t === 1 ? 0.1 : s % 40 === 0 ? 10 : 0.06));
    expect(picked.slice(0, 128).every((t) => t === 1)).toBe(true);
    expect(picked.slice(128, 256).every((t) => t === 2)).toBe(true);
    // After that, two threads but for a probe of one thread every 1,024 steps.
    expect(share(picked, 256, 2)).toBeGreaterThan(0.85);
    expect(share(picked, 256, 2)).toBeLessThan(1);
  });

  it("stays on one thread where two are not clearly faster, and moves when that changes", () => {
    // Two threads only 5% faster (under the 10% margin) for 2,000 steps, then half the time.
    const picked = drive(4000, (t, s) => (t === 1 ? 0.1 : s < 2000 ? 0.095 : 0.05));
    expect(share(picked.slice(0, 2000), 256, 1)).toBeGreaterThan(0.85);
    // It finds out at its next probe of two threads (every 1,024 steps), and probes one after.
    expect(share(picked, 3000, 2)).toBeGreaterThan(0.8);
  });
});

describe("SplitTuner", () => {
  /** Feeds windows of busy times: thread t spends `perOutput[t]` ms on each of its outputs. */
  function settle(perOutput: number[], windows: number): Int32Array {
    const bounds = new Int32Array(perOutput.length + 1);
    const tuner = new SplitTuner(bounds, 64, perOutput.length);
    const busy = new Float64Array(perOutput.length);
    for (let step = 0; step < windows * 16; step++) {
      perOutput.forEach((c, t) => {
        busy[t] = c * (bounds[t + 1]! - bounds[t]!) + 0.5;
      });
      tuner.record(busy, perOutput.length);
    }
    return bounds;
  }

  it("starts from equal shares and moves outputs to the faster thread until both finish together", () => {
    expect(Array.from(settle([0.01, 0.01], 0))).toEqual([0, 32, 64]);
    // Thread 1 is 1.5x slower per output: it should end with about 64 / 2.5 = 26 outputs.
    const bounds = settle([0.01, 0.015], 40);
    expect(bounds[0]).toBe(0);
    expect(bounds[2]).toBe(64);
    expect(64 - bounds[1]!).toBeGreaterThanOrEqual(24);
    expect(64 - bounds[1]!).toBeLessThanOrEqual(28);
  });

  it("stays put where moving would not help (no swinging back and forth)", () => {
    expect(Array.from(settle([0.01, 0.0105], 40))).toEqual([0, 32, 64]);
  });

  it("ignores jobs on fewer threads than it splits for", () => {
    const bounds = new Int32Array(3);
    const tuner = new SplitTuner(bounds, 64, 2);
    for (let i = 0; i < 64; i++) tuner.record(Float64Array.of(5, 0.1), 1);
    expect(Array.from(bounds)).toEqual([0, 32, 64]);
  });
});
