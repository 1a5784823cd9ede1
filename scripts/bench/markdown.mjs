/**
 * Refreshes the figures in BENCHMARKS.md from a `npm run bench` result, so that a re-run on a
 * quiet machine updates the document instead of someone retyping numbers. Only the text between
 * `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers is replaced; the prose stays.
 *
 * Usage: node scripts/bench/markdown.mjs [--in bench-results/bench.json] [--doc BENCHMARKS.md]
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const USAGE =
  "usage: node scripts/bench/markdown.mjs [--in bench-results/bench.json] [--doc BENCHMARKS.md]";
let values;
try {
  ({ values } = parseArgs({
    options: {
      in: { type: "string", default: "bench-results/bench.json" },
      doc: { type: "string", default: "BENCHMARKS.md" },
      help: { type: "boolean", default: false },
    },
  }));
} catch (error) {
  console.error(`markdown.mjs: ${error.message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const results = JSON.parse(readFileSync(path.resolve(ROOT, values.in), "utf8"));
const docPath = path.resolve(ROOT, values.doc);

const fmt = (x, digits = 2) =>
  typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–";
/** A Markdown table padded the way the project's formatter (biome) lays tables out. */
function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(3, ...all.map((r) => [...r[i]].length)));
  const line = (cells) =>
    `| ${cells.map((c, i) => c + " ".repeat(widths[i] - [...c].length)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
const load = (l) => (Array.isArray(l) ? l.map((x) => x.toFixed(2)).join(" ") : "–");

/** The lines of one `[section]` of the printed report, from the transcript beside the JSON. */
function transcriptSection(name) {
  const file = path.resolve(ROOT, values.in).replace(/\.json$/, ".txt");
  let lines;
  try {
    lines = readFileSync(file, "utf8").split("\n");
  } catch {
    return undefined;
  }
  const start = lines.findIndex((l) => l.startsWith(`[${name}]`));
  if (start < 0) return undefined;
  const end = lines.findIndex(
    (l, i) => i > start && (l.startsWith("[") || l.startsWith("Medians")),
  );
  return lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join("\n")
    .trimEnd();
}

const blocks = {};
const m = results.machine;
const started = results.started.replace("T", " ").replace(/:\d\d\.\d+Z$/, " UTC");
blocks.run = `on ${started} (load average ${load(m.loadavg_start)} at the start, ${load(m.loadavg_end)} at the end)`;

blocks.table = table(
  [
    "figure",
    "fedn-tfjs",
    "reference",
    "ours / reference",
    "median of pair ratios",
    "target",
    "result",
  ],
  results.summary.map((r) => [
    r.label,
    r.ours === undefined ? "–" : `${fmt(r.ours, r.digits)} ${r.unit}`,
    r.torch === undefined ? "–" : `${fmt(r.torch, r.digits)} ${r.unit}`,
    r.ratioLabel ? `${fmt(r.ratio)} ${r.ratioLabel}` : fmt(r.ratio),
    fmt(r.pairRatioMedian),
    r.target,
    r.verdict === "–" ? "–" : `**${r.verdict}**`,
  ]),
);

const runOf = (section, impl, pair) =>
  results.runs.find((r) => r.section === section && r.impl === impl && r.pair === pair);
const cell = (r) =>
  r === undefined ? "–" : r.ok ? `${fmt(r.wall_s)} s / ${fmt(r.max_rss_mb, 0)} MB` : "failed";
const acc = (r) =>
  typeof r?.metrics?.test_accuracy === "number" ? `${fmt(r.metrics.test_accuracy * 100)} %` : "–";
const pairs = [
  ...new Set(
    results.runs.filter((r) => r.pair !== undefined && r.section === "train").map((r) => r.pair),
  ),
];
blocks.runs = table(
  [
    "pair (seed)",
    "train ours",
    "train PyTorch",
    "validate ours",
    "validate PyTorch",
    "accuracy ours",
    "accuracy PyTorch",
  ],
  pairs.map((p) => {
    const seed = runOf("train", "fedn-tfjs", p)?.seed ?? runOf("train", "PyTorch", p)?.seed;
    return [
      `${p + 1} (${seed ?? "–"})`,
      cell(runOf("train", "fedn-tfjs", p)),
      cell(runOf("train", "PyTorch", p)),
      cell(runOf("validate", "fedn-tfjs", p)),
      cell(runOf("validate", "PyTorch", p)),
      acc(runOf("validate", "fedn-tfjs", p)),
      acc(runOf("validate", "PyTorch", p)),
    ];
  }),
);

const cross = results.runs.filter((r) => r.section === "cross");
blocks.cross =
  cross.length === 0
    ? "(not run)"
    : cross
        .map((r) => {
          const worst = Math.max(
            ...Object.values(r.deltaFromTrainersValidation ?? {}).map(Math.abs),
          );
          return `${r.impl} validating ${r.modelBy}'s model: ${r.ok ? `largest metric difference from ${r.modelBy}'s own validation ${Number.isFinite(worst) ? worst.toExponential(1) : "–"}` : "failed"}.`;
        })
        .join(" ");

const startup = transcriptSection("startup");
blocks.startup = startup === undefined ? "(not run)" : `\`\`\`\n${startup}\n\`\`\``;
const limitText = transcriptSection("limit");
blocks.limit = limitText === undefined ? "(not run)" : `\`\`\`\n${limitText}\n\`\`\``;

const s = results.limit?.summary;
const ours = s?.["fedn-tfjs"];
if (ours?.partsMicros !== undefined) {
  const p = ours.partsMicros;
  const share = (us) => `${fmt(us, 0)} µs (${fmt((100 * us) / ours.perStepMicros, 0)} %)`;
  blocks.where = [
    `Our loop ran ${fmt(ours.loopSeconds)} s = ${fmt(ours.gflops, 1)} GFLOP/s, ${fmt(ours.ofCeiling * 100, 0)} % of the wasm backend's large-matMul ceiling (${fmt(s.bigMatMulGflops, 1)} GFLOP/s); the same matMuls at the model's batch-32 shapes would take ${fmt(s.matMulFloorSeconds)} s for the epoch. Per step (${fmt(ours.perStepMicros, 0)} µs), estimated from the probes:`,
    "",
    `- matMuls at batch-32 shapes: ${share(p.matMul)}. Small products run below the ceiling (the 32×32 and 32×10 ones at 3–5 GFLOP/s) and XNNPACK packs every new right operand again; a loop's weights and batches are new tensors every step (see the packing line above).`,
    `- dispatching the other ${fmt(ours.kernelsPerStep - 8, 0)} kernels of a step: ${share(p.dispatch)}`,
    `- building each batch in JS from the uint8 pixels: ${share(p.batchBuild)}`,
    `- uploading the batch into the wasm heap: ${share(p.upload)}`,
    `- the rest: ${share(p.other)}: re-packing, the elementwise kernels' own work, variable updates, dropout masks, garbage collection.`,
    "",
    ours.evaluate === undefined
      ? ""
      : `Validation is one large forward pass per chunk, so it gets much closer to the ceiling: ${ours.evaluate.rows} rows in ${fmt(ours.evaluate.seconds)} s = ${fmt(ours.evaluate.gflops, 1)} GFLOP/s.`,
    s.PyTorch === undefined
      ? ""
      : `PyTorch's loop: ${fmt(s.PyTorch.loopSeconds)} s = ${fmt(s.PyTorch.gflops, 1)} GFLOP/s against its own ceiling of ${fmt(s.PyTorch.bigMatMulGflops, 1)} GFLOP/s.`,
  ]
    .filter((l, i, all) => l !== "" || (all[i - 1] ?? "") !== "")
    .join("\n")
    .trimEnd();
} else {
  blocks.where = "(the limit section did not run with a loop time)";
}
blocks.wasmCeil = fmt(s?.bigMatMulGflops, 1);
blocks.torchCeil = fmt(s?.PyTorch?.bigMatMulGflops, 1);

// The loop pairs: ours and numpy's, wall and CPU seconds, GFLOP/s.
const loopCell = (r) =>
  r === undefined || !r.ok
    ? "–"
    : `${fmt(r.loop_s, 3)} s (CPU ${fmt(r.cpu_s, 3)} s) = ${fmt(r.gflops, 1)} GFLOP/s`;
const loopPairs = [...new Set(results.runs.filter((r) => r.section === "loop").map((r) => r.pair))];
blocks.loop =
  loopPairs.length === 0
    ? "(not run)"
    : table(
        ["pair", "ours (fast engine)", "numpy, 1 BLAS thread", "ours / numpy"],
        loopPairs.map((p) => {
          const a = runOf("loop", "fedn-tfjs", p);
          const b = runOf("loop", "numpy", p);
          const both = a?.ok && b?.ok;
          return [
            String(p + 1),
            loopCell(a),
            loopCell(b),
            both ? `${fmt(a.loop_s / b.loop_s)} (CPU ${fmt(a.cpu_s / b.cpu_s)})` : "–",
          ];
        }),
      );
const oursLoop = runOf("loop", "fedn-tfjs", 0)?.detail;
const numpyLoop = runOf("loop", "numpy", 0)?.detail;
blocks.loopSetup =
  oursLoop === undefined
    ? "(not run)"
    : `ours: wasm ${oursLoop.flavour}, up to ${oursLoop.threads} thread(s) (all of them or one, chosen by the median step of blocks of 128 on each; the first layer split between them by their measured speed); numpy ${numpyLoop?.numpy ?? "–"} on ${numpyLoop?.blas ?? "–"}`;
blocks.scaling =
  results.scaling === undefined
    ? "(not run)"
    : table(
        ["configuration", "ours", "numpy (1 thread)", "ours / numpy"],
        results.scaling.map((r) => [
          r.config,
          `${fmt(r.ours, 3)} s = ${fmt(r.oursGflops, 1)} GFLOP/s`,
          `${fmt(r.numpy, 3)} s = ${fmt(r.numpyGflops, 1)} GFLOP/s`,
          fmt(r.ratio),
        ]),
      );
const kerasRuns = results.runs.filter((r) => r.section === "keras");
blocks.keras =
  kerasRuns.length === 0
    ? "(not run: no tensorflow venv)"
    : kerasRuns
        .map(
          (r) =>
            `${r.command} ${r.ok ? `${fmt(r.wall_s)} s / ${fmt(r.max_rss_mb, 0)} MB` : "failed"}`,
        )
        .join(", ");

blocks.npz =
  results.npz?.stdout === undefined
    ? "(not run)"
    : `\`\`\`\n${results.npz.stdout.trimEnd()}\n\`\`\``;

const torch = results.torch;
blocks.machine = [
  `- CPU: ${m.cpu}, ${m.nproc} vCPUs (SIMD flags: ${m.simd.join(", ")}), ${m.ram_gib} GiB RAM, ${m.platform}`,
  `- Node ${m.node}, @tensorflow/tfjs ${m.tfjs} (holds the weights), engine ${results.ours.engine ?? results.ours.backend}; entry point \`${results.ours.entrypoint}\``,
  torch.ok
    ? `- Reference: torch ${torch.torch} (Debian \`python3-torch\`) on ${torch.blas ?? "?"} (${(torch.blas_libs ?? []).join(", ")}), numpy ${torch.numpy}, ${torch.threads} intra-op thread(s) (torch's default), via \`${torch.python}\`, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset`
    : `- Reference: not available (${torch.reason})`,
  `- Data: \`${path.relative(ROOT, results.data?.path ?? "") || "–"}\` (${results.data?.source ?? "–"})`,
  `- Command: \`${results.command}\`, ${results.pairs} pairs${results.loopPairs ? ` (the loop section ${results.loopPairs})` : ""}`,
].join("\n");
// The benchmark keeps one of the two cores busy itself, so only the load before it started says
// whether others were working.
const quiet = (m.loadavg_start?.[0] ?? Number.POSITIVE_INFINITY) < 0.5;
blocks.load = quiet
  ? `the recorded run started when the machine was quiet (1-minute load average ${fmt(m.loadavg_start[0])}; ${fmt(m.loadavg_end?.[0])} at the end, most of it the benchmark's own process).`
  : `the recorded run was made while others were still working (load average ${load(m.loadavg_start)} at the start, ${load(m.loadavg_end)} at the end), with the ours/PyTorch alternation spreading that load over both sides.`;

let doc = readFileSync(docPath, "utf8");
const missing = [];
for (const [name, text] of Object.entries(blocks)) {
  const re = new RegExp(`(<!-- bench:${name} -->)[\\s\\S]*?(<!-- /bench:${name} -->)`);
  if (!re.test(doc)) {
    missing.push(name);
    continue;
  }
  const inline = !text.includes("\n") && !text.startsWith("|") && !text.startsWith("```");
  doc = doc.replace(re, (_, open, close) =>
    inline ? `${open}${text}${close}` : `${open}\n${text}\n${close}`,
  );
}
const tmp = `${docPath}.tmp-${process.pid}`;
writeFileSync(tmp, doc);
renameSync(tmp, docPath);
process.stdout.write(
  `${path.relative(ROOT, docPath)} updated from ${values.in}${missing.length ? ` (no markers for: ${missing.join(", ")})` : ""}\n`,
);
