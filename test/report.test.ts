import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/kit/cli.js";
import { toPythonJson } from "../src/node/io.js";
import type { ClientRoundResult, SimulationResults } from "../src/tools/federation.js";
import reportCommand, { learningCurveSpec, renderReport } from "../src/tools/report.js";
import { createSimulateDisplay, renderStatus } from "../src/tools/simulate-progress.js";

const CHROMIUM = process.env.FEDN_TFJS_CHROMIUM ?? "/usr/bin/chromium";

/** A 3-client, 5-round federation that learns; client 3 fails to train in round 2. */
function sampleResults(): SimulationResults {
  const rounds = [1, 2, 3, 4, 5].map((round) => {
    const clients: ClientRoundResult[] = [1, 2, 3].map((client) => {
      const acc = 0.5 + 0.08 * round + 0.02 * client;
      return {
        client,
        status: "ok",
        aggregated: true,
        numExamples: 1000 * client,
        trainSeconds: 1.5,
        metrics: { test_accuracy: acc, test_loss: 2.2 - 0.35 * round + 0.05 * client },
      };
    });
    if (round === 2) {
      clients[2] = {
        client: 3,
        status: "failed",
        stage: "train",
        aggregated: false,
        error: "train failed with exit status 1",
        stderr: "data.npz: not a zip archive <script>alert(1)</script>",
      };
    }
    const ok = clients.filter((c) => c.metrics !== undefined);
    const mean = (k: string) => ok.reduce((s, c) => s + c.metrics![k]!, 0) / ok.length;
    return {
      round,
      status: "ok" as const,
      model: `model-round-${round}.npz`,
      updates: ok.length,
      numExamples: ok.reduce((s, c) => s + c.numExamples!, 0),
      clients,
      mean: { test_accuracy: mean("test_accuracy"), test_loss: mean("test_loss") },
      seconds: 4.2,
    };
  });
  return {
    version: 1,
    package: "/work/client",
    seedModel: "/work/seed.npz",
    clients: [1, 2, 3].map((client) => ({ client, data: `/data/${client}/mnist.npz` })),
    aggregator: { name: "fedavg", parameters: {} },
    concurrency: 2,
    rounds,
  };
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-report-"));
  await writeFile(join(dir, "results.json"), toPythonJson(sampleResults()));
});

describe("fedn-tfjs report", () => {
  it("draws chart.svg, chart.png and a self-contained report.html from results.json", async () => {
    const report = await renderReport(dir);
    expect(report.warnings).toEqual([]);
    const svg = await readFile(join(dir, "chart.svg"), "utf8");
    for (const text of ["test accuracy", "test loss", "round", "mean of clients", "client 3"]) {
      expect(svg).toContain(`>${text}<`);
    }
    const png = await readFile(join(dir, "chart.png"));
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join("")).toBe("PNG");
    // A blank 2x-zoomed chart compresses to a few kB; lines and text take far more.
    expect(png.length).toBeGreaterThan(40_000);
    const html = await readFile(report.html, "utf8");
    expect(html).toContain("<svg");
    // Self-contained: nothing to fetch (the only URLs are SVG namespace names).
    expect(html).not.toMatch(/<(script|link|img)\b|src=|url\(/);
    // Client output is text, never markup.
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("failed at train");
  });

  it("the command prints what it wrote; a missing results.json is one clear line", async () => {
    const program = { name: "fedn-tfjs", version: "0", describe: "", commands: [reportCommand] };
    let out = "";
    let err = "";
    const ctx = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      env: {},
      cwd: dir,
    };
    expect(await runCli(program, ["report", "."], ctx)).toBe(0);
    expect(out).toBe(
      `${join(dir, "chart.svg")}\n${join(dir, "chart.png")}\nreport: ${join(dir, "report.html")}\n`,
    );
    await mkdir(join(dir, "empty"));
    expect(await runCli(program, ["report", "empty"], ctx)).not.toBe(0);
    expect(err).toContain(`${join(dir, "empty", "results.json")} does not exist`);
    await writeFile(join(dir, "empty", "results.json"), "[1, 2]");
    err = "";
    expect(await runCli(program, ["report", "empty"], ctx)).not.toBe(0);
    expect(err).toContain("expected the results.json of `fedn-tfjs simulate`");
  });

  it("draws every client and the mean, and marks a client that never validated", () => {
    const results = sampleResults();
    for (const r of results.rounds) r.clients[1] = { ...r.clients[1]!, metrics: undefined };
    const spec = learningCurveSpec(results) as { data: { values: { series: string }[] } };
    const series = new Set(spec.data.values.map((v) => v.series));
    expect([...series].sort()).toEqual(["client 1", "client 3", "mean of clients"]);
    expect(JSON.stringify(spec)).toContain("client 2 (no metrics)");
  });
});

describe.skipIf(!existsSync(CHROMIUM))(
  `the report in headless Chromium${existsSync(CHROMIUM) ? "" : ` (skipped: ${CHROMIUM} not installed; apt-get install chromium)`}`,
  () => {
    it("renders the chart with its legend and axes, and the screenshot is not blank", async () => {
      await renderReport(dir);
      const url = `file://${join(dir, "report.html")}`;
      const base = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${join(dir, "chromium-profile")}`,
        "--window-size=1280,900",
      ];
      const shot = join(dir, "report.png");
      // One browser run: the screenshot, and the DOM as the browser laid it out.
      const run = spawnSync(CHROMIUM, [...base, `--screenshot=${shot}`, "--dump-dom", url], {
        encoding: "utf8",
        timeout: 60_000,
      });
      expect(run.status, run.stderr).toBe(0);
      expect((await stat(shot)).size).toBeGreaterThan(30_000);
      // The inline SVG chart with its axis titles and legend.
      const dom = run;
      const svg = dom.stdout.slice(dom.stdout.indexOf("<svg"), dom.stdout.indexOf("</svg>"));
      for (const text of ["test accuracy", "round", "mean of clients", "client 1", "client 3"]) {
        expect(svg).toContain(`>${text}<`);
      }
    });
  },
);

describe("the live progress line", () => {
  it("renders round, clients done and the last round's metrics", () => {
    expect(
      renderStatus({
        round: 2,
        rounds: 5,
        clients: 3,
        trained: 3,
        validated: 1,
        failed: 1,
        last: { ...sampleResults().rounds[0]!, mean: { test_accuracy: 0.91, test_loss: 0.3 } },
      }),
    ).toBe(
      "round 2/5  train 3/3  validate 1/3  (1 failed)  | round 1: accuracy 0.9100 loss 0.3000",
    );
  });

  it("draws in place on a TTY, keeps entry-point output above it, and is silent elsewhere", () => {
    let tty = "";
    const display = createSimulateDisplay({ isTTY: true, write: (t: string) => (tty += t) });
    display.event({ type: "round", round: 1, rounds: 2, clients: 2 });
    display.event({ type: "client", round: 1, client: 1, stage: "train", ok: true });
    display.log.write("[client 1] hello\n");
    display.finish();
    expect(tty).toBe(
      "\r\x1b[Kround 1/2  train 0/2  validate 0/2" +
        "\r\x1b[Kround 1/2  train 1/2  validate 0/2" +
        "\r\x1b[K[client 1] hello\n\r\x1b[Kround 1/2  train 1/2  validate 0/2" +
        "\r\x1b[K",
    );
    let plain = "";
    const quiet = createSimulateDisplay({ write: (t: string) => (plain += t) });
    quiet.event({ type: "round", round: 1, rounds: 2, clients: 2 });
    quiet.log.write("line\n");
    expect(plain).toBe("line\n");
  });
});
