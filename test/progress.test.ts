import { describe, expect, it } from "vitest";
import { formatTrainLog } from "../src/kit/program.js";
import { createProgressBar, renderProgress } from "../src/kit/progress.js";

describe("renderProgress", () => {
  it("draws a bar with percentage, loss and rate", () => {
    expect(
      renderProgress({ label: "epoch 1/2", done: 30, total: 120, loss: 0.81234, rate: 41230.4 }, 8),
    ).toBe("epoch 1/2 [##------]  25% loss 0.8123 41,230 samples/s");
    expect(renderProgress({ label: "e", done: 0, total: 0 }, 4)).toBe("e [----]   0%");
  });
});

describe("createProgressBar", () => {
  it("writes nothing unless the stream is a terminal", () => {
    const written: string[] = [];
    const bar = createProgressBar({ write: (s: string) => written.push(s) });
    bar.update({ label: "x", done: 1, total: 2 }, true);
    bar.finish();
    expect(written).toEqual([]);
  });

  it("redraws at most every 100 ms on a terminal, and clears the line when done", () => {
    const written: string[] = [];
    let now = 0;
    const bar = createProgressBar(
      { write: (s: string) => written.push(s), isTTY: true },
      () => now,
    );
    now = 1000;
    bar.update({ label: "x", done: 10, total: 20 });
    now = 1050;
    bar.update({ label: "x", done: 11, total: 20 });
    now = 1200;
    bar.update({ label: "x", done: 20, total: 20, loss: 0.5 });
    bar.finish();
    expect(written).toEqual([
      `\r${renderProgress({ label: "x", done: 10, total: 20, rate: 10 }, 24)}\u001b[K`,
      `\r${renderProgress({ label: "x", done: 20, total: 20, loss: 0.5, rate: 20 / 1.2 }, 24)}\u001b[K`,
      "\r\u001b[K",
    ]);
  });
});

describe("formatTrainLog", () => {
  it("prints the PyTorch package's line, the loss as Python prints a float32", () => {
    expect(formatTrainLog(0, 1, 100, 1875, Math.LN10)).toBe(
      "Epoch 0/0 | Batch: 100/1874 | Loss: 2.3025851249694824",
    );
    expect(formatTrainLog(2, 5, 0, 250, 1)).toBe("Epoch 2/4 | Batch: 0/249 | Loss: 1.0");
    expect(formatTrainLog(0, 1, 0, 1, 1e-7)).toBe(
      "Epoch 0/0 | Batch: 0/0 | Loss: 1.0000000116860974e-07",
    );
  });
});
