/**
 * `fedn-tfjs report DIR`: the pictures of a simulated federation, from its `results.json`:
 * - `chart.svg`, the learning curve (test accuracy and test loss per round: the clients' mean and
 *   each client), drawn by Vega-Lite rendered headless by Vega (no browser, no canvas);
 * - `chart.png`, the same rasterised by resvg (a Rust SVG renderer shipped as a prebuilt Node
 *   binary, no system libraries);
 * - `report.html`, one self-contained page (inline SVG and CSS, nothing fetched) with the chart,
 *   the rounds and every client's part in each, failures with their stderr.
 * vega, vega-lite and @resvg/resvg-js are optional dependencies, imported only here and only when
 * a report is drawn: the library and the entry points never load them. Without them the report
 * still has its tables, and a warning says what to install.
 */
import { join, resolve } from "node:path";
import { DataError, IoError } from "../errors.js";
import { defineCommand } from "../kit/cli.js";
import { isFile, parsePythonJson, readBytes, writeFileAtomic } from "../node/io.js";
import type { RoundResult, SimulationResults } from "./federation.js";

/** What `renderReport` wrote. */
export interface RenderedReport {
  html: string;
  svg?: string | undefined;
  png?: string | undefined;
  /** What could not be drawn, and why (a missing optional dependency). */
  warnings: string[];
}

/** Reads and checks `results.json` as `simulate` writes it. */
export function parseResults(bytes: Uint8Array, file: string): SimulationResults {
  let value: unknown;
  try {
    value = parsePythonJson(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new DataError(`${file}: not JSON (${(error as Error).message})`, { file });
  }
  const r = value as Partial<SimulationResults> | null;
  if (r === null || typeof r !== "object" || r.version !== 1 || !Array.isArray(r.rounds)) {
    throw new DataError(
      `${file}: expected the results.json of \`fedn-tfjs simulate\` (version 1 with "rounds")`,
      { file, key: "rounds" },
    );
  }
  return r as SimulationResults;
}

/** The metrics the chart draws: test accuracy and loss when the package reports them. */
export function chartMetrics(results: SimulationResults): string[] {
  const keys = new Set<string>();
  for (const round of results.rounds) {
    for (const c of round.clients) for (const k of Object.keys(c.metrics ?? {})) keys.add(k);
  }
  const preferred = ["test_accuracy", "test_loss"].filter((k) => keys.has(k));
  return preferred.length > 0 ? preferred : [...keys].sort().slice(0, 2);
}

function label(metric: string): string {
  return metric.replaceAll("_", " ");
}

const MEAN = "mean of clients";
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

/** The Vega-Lite spec of the learning curve: one panel per metric, a line per client and the mean. */
export function learningCurveSpec(results: SimulationResults): Record<string, unknown> {
  const metrics = chartMetrics(results);
  const reported = new Set(
    results.rounds
      .flatMap((r) => r.clients.filter((c) => c.metrics !== undefined))
      .map((c) => c.client),
  );
  const name = (client: number) =>
    reported.has(client) ? `client ${client}` : `client ${client} (no metrics)`;
  const series = [MEAN, ...results.clients.map((c) => name(c.client))];
  const values: { round: number; metric: string; series: string; value: number }[] = [];
  for (const round of results.rounds) {
    for (const metric of metrics) {
      const mean = round.mean[metric];
      if (mean !== undefined && Number.isFinite(mean)) {
        values.push({ round: round.round, metric, series: MEAN, value: mean });
      }
      for (const c of round.clients) {
        const v = c.metrics?.[metric];
        if (v !== undefined && Number.isFinite(v)) {
          values.push({ round: round.round, metric, series: name(c.client), value: v });
        }
      }
    }
  }
  const rounds = Math.max(1, ...results.rounds.map((r) => r.round));
  const agg = results.aggregator;
  const opt = agg.name === "fedopt" ? ` (${String(agg.parameters.serveropt)})` : "";
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    background: "white",
    padding: 16,
    title: {
      text: `Learning curve: ${results.clients.length} clients, ${agg.name}${opt}`,
      subtitle: "thick line: mean over the clients that validated; thin lines: each client",
      anchor: "start",
    },
    data: { values },
    config: {
      font: "DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif",
      title: { fontSize: 18, subtitleFontSize: 13, subtitleColor: "#555" },
      axis: { labelFontSize: 13, titleFontSize: 14, gridColor: "#e6e6e6" },
      legend: { labelFontSize: 13, titleFontSize: 14, symbolStrokeWidth: 3 },
      header: { labelFontSize: 14 },
      view: { stroke: "#ccc" },
    },
    hconcat: metrics.map((metric) => {
      const encoding = {
        x: {
          field: "round",
          type: "quantitative",
          title: "round",
          scale: { domain: [1, rounds], nice: false },
          axis: { tickMinStep: 1, format: "d" },
        },
        y: { field: "value", type: "quantitative", title: label(metric), scale: { zero: false } },
        color: {
          field: "series",
          type: "nominal",
          title: null,
          scale: { domain: series, range: ["#111111", ...PALETTE] },
          legend: { orient: "bottom", direction: "horizontal", symbolType: "stroke" },
        },
      };
      // Two layers rather than a strokeWidth scale: the mean drawn thick over thin clients.
      const layer = (mean: boolean, width: number, size: number) => ({
        transform: [{ filter: `datum.series ${mean ? "===" : "!=="} ${JSON.stringify(MEAN)}` }],
        mark: { type: "line", strokeWidth: width, point: { size } },
        encoding,
      });
      return {
        title: { text: label(metric), fontSize: 15 },
        width: 440,
        height: 300,
        transform: [{ filter: { field: "metric", equal: metric } }],
        layer: [layer(false, 1.5, 30), layer(true, 3.5, 60)],
      };
    }),
    resolve: { scale: { color: "shared" }, legend: { color: "shared" } },
  };
}

/** Renders the learning curve to SVG with Vega-Lite and Vega, headless. */
export async function renderChartSvg(results: SimulationResults): Promise<string> {
  const [vl, vega] = await Promise.all([import("vega-lite"), import("vega")]);
  const compiled = vl.compile(
    learningCurveSpec(results) as unknown as Parameters<typeof vl.compile>[0],
  );
  const view = new vega.View(vega.parse(compiled.spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG to PNG with resvg, at `zoom` times its size, using the system's fonts. */
export async function renderPng(svg: string, zoom = 2): Promise<Uint8Array> {
  const { Resvg } = await import("@resvg/resvg-js");
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: zoom },
    background: "white",
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return resvg.render().asPng();
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

function num(value: number | undefined, digits = 4): string {
  return value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(digits);
}

function roundRows(rounds: readonly RoundResult[], metrics: readonly string[]): string {
  return rounds
    .map(
      (r) =>
        `<tr class="${r.status}"><td>${r.round}</td><td>${r.status === "ok" ? "ok" : "no update"}</td>` +
        `<td>${r.updates}/${r.clients.length}</td><td>${r.numExamples}</td>` +
        metrics.map((m) => `<td>${num(r.mean[m])}</td>`).join("") +
        `<td>${num(r.seconds, 1)}</td></tr>`,
    )
    .join("\n");
}

function clientRows(rounds: readonly RoundResult[], metrics: readonly string[]): string {
  const rows: string[] = [];
  for (const r of rounds) {
    for (const c of r.clients) {
      const status = c.status === "ok" ? "ok" : `failed at ${escapeHtml(c.stage ?? "?")}`;
      const error =
        c.error === undefined
          ? ""
          : `${escapeHtml(c.error)}${
              c.stderr
                ? `<details><summary>stderr</summary><pre>${escapeHtml(c.stderr)}</pre></details>`
                : ""
            }`;
      rows.push(
        `<tr class="${c.status}"><td>${r.round}</td><td>${c.client}</td><td>${status}</td>` +
          `<td>${c.aggregated ? "yes" : "no"}</td><td>${c.numExamples ?? "–"}</td>` +
          `<td>${num(c.trainSeconds, 1)}</td>` +
          metrics.map((m) => `<td>${num(c.metrics?.[m])}</td>`).join("") +
          `<td class="error">${error}</td></tr>`,
      );
    }
  }
  return rows.join("\n");
}

const CSS = `
body { font-family: "DejaVu Sans", "Liberation Sans", Helvetica, Arial, sans-serif; margin: 24px;
  color: #222; max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #555; font-size: 14px; margin: 0 0 16px; }
.chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; vertical-align: top; }
th { background: #f4f4f4; }
th.error, td.error { text-align: left; max-width: 520px; }
td.error { color: #a00; }
tr.failed td { background: #fff4f4; }
pre { white-space: pre-wrap; font-size: 12px; color: #333; max-height: 200px; overflow: auto; }
`;

/** The report page: self-contained HTML (inline SVG and CSS, nothing fetched). */
export function renderHtml(results: SimulationResults, svg: string | undefined): string {
  const metrics = chartMetrics(results);
  const heads = metrics.map((m) => `<th>${escapeHtml(label(m))}</th>`).join("");
  const params = Object.entries(results.aggregator.parameters)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const failures = results.rounds.flatMap((r) => r.clients).filter((c) => c.status === "failed");
  const chart =
    svg === undefined
      ? `<p class="meta">No chart: the optional chart libraries are not installed.</p>`
      : `<div class="chart">${svg.replace(/^<\?xml[^>]*>\s*/, "")}</div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fedn-tfjs simulation report</title>
<style>${CSS}</style></head>
<body>
<h1>Federated training: ${results.clients.length} clients, ${results.rounds.length} rounds</h1>
<p class="meta">aggregator ${escapeHtml(results.aggregator.name)}${params === "" ? "" : ` (${escapeHtml(params)})`}
 · package ${escapeHtml(results.package)} · seed model ${escapeHtml(results.seedModel)}
 · ${failures.length === 0 ? "no client failures" : `${failures.length} client failure(s), see below`}</p>
${chart}
<h2>Rounds (mean over the clients that validated)</h2>
<table><thead><tr><th>round</th><th>status</th><th>updates</th><th>examples</th>${heads}<th>seconds</th></tr></thead>
<tbody>
${roundRows(results.rounds, metrics)}
</tbody></table>
<h2>Clients</h2>
<table><thead><tr><th>round</th><th>client</th><th>status</th><th>aggregated</th><th>num_examples</th><th>train s</th>${heads}<th class="error">error</th></tr></thead>
<tbody>
${clientRows(results.rounds, metrics)}
</tbody></table>
</body></html>
`;
}

/** A missing optional dependency, as one line; anything else is a real failure and is thrown. */
function missingModule(error: unknown): string | undefined {
  const code = (error as { code?: string }).code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    return (error as Error).message.split("\n")[0];
  }
  return undefined;
}

/**
 * Draws `dir/results.json` into `dir/chart.svg`, `dir/chart.png` and `dir/report.html`.
 *
 * @example const { html } = await renderReport("simulation");
 */
export async function renderReport(dir: string): Promise<RenderedReport> {
  const file = join(resolve(dir), "results.json");
  if (!(await isFile(file))) {
    throw new IoError(`${file} does not exist; run \`fedn-tfjs simulate --out ${dir}\` first`, {
      file,
    });
  }
  const results = parseResults(await readBytes(file), file);
  const warnings: string[] = [];
  const out: RenderedReport = { html: join(resolve(dir), "report.html"), warnings };
  let svg: string | undefined;
  try {
    svg = await renderChartSvg(results);
    out.svg = join(resolve(dir), "chart.svg");
    await writeFileAtomic(out.svg, svg);
  } catch (error) {
    const missing = missingModule(error);
    if (missing === undefined) throw error;
    warnings.push(`no chart: install the optional dependencies vega and vega-lite (${missing})`);
  }
  if (svg !== undefined) {
    try {
      const png = await renderPng(svg);
      out.png = join(resolve(dir), "chart.png");
      await writeFileAtomic(out.png, png);
    } catch (error) {
      const missing = missingModule(error);
      if (missing === undefined) throw error;
      warnings.push(`no chart.png: install the optional dependency @resvg/resvg-js (${missing})`);
    }
  }
  await writeFileAtomic(out.html, renderHtml(results, svg));
  return out;
}

export default defineCommand({
  name: "report",
  describe: "Draw a simulation's results.json again: chart.svg, chart.png and report.html",
  positionals: [
    { name: "dir", describe: "The folder `fedn-tfjs simulate --out` wrote", default: "simulation" },
  ],
  options: {},
  epilog: ["Examples:", "  fedn-tfjs report simulation"].join("\n"),
  async run(args, ctx) {
    const report = await renderReport(resolve(ctx.cwd, args.dir));
    for (const warning of report.warnings) ctx.stderr.write(`warning: ${warning}\n`);
    for (const path of [report.svg, report.png]) {
      if (path !== undefined) ctx.stdout.write(`${path}\n`);
    }
    ctx.stdout.write(`report: ${report.html}\n`);
    return 0;
  },
});
