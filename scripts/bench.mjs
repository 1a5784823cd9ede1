#!/usr/bin/env node
/**
 * `npm run bench`: fedn-tfjs against FEDn's PyTorch entry point on the same machine, same data
 * and same seed models, measured side by side in one run (issue #5). A report, not a test: it
 * installs nothing, says what is missing and goes on, prints a table of medians and ratios with
 * the targets, writes every raw run to bench-results/bench.json, and exits 0.
 *
 *   npm run bench                                  # everything, 3 pairs
 *   npm run bench -- --only train,validate --pairs 5
 *   node scripts/bench.mjs --help
 *
 * Sections: npz (helper script scripts/bench/npz.mjs), train, validate, accuracy, startup,
 * limit (training-loop GFLOP/s next to the wasm backend's matMul). Whole-process wall time and
 * peak RSS come from scripts/bench/measure.py (Node cannot read a child's peak RSS). Runs
 * alternate ours, PyTorch, ours, PyTorch, … so that drift on a shared machine hits both.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SECTIONS = [
  "npz",
  "train",
  "validate",
  "accuracy",
  "startup",
  "loop",
  "scaling",
  "keras",
  "limit",
];
/** Run unless --only names them: the TF.js wasm probes of the old engine. */
const ON_REQUEST = new Set(["limit"]);
/** Issue #5's targets: ratios ours / PyTorch, accuracy in percentage points. */
const TARGETS = { loop: 1.0, train: 0.4, validate: 0.35, rss: 0.3, accuracyPoints: 1 };
/** The numpy loop and PyTorch get one BLAS: these two variables are unset for them only. */
const BLAS_OVERRIDES = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];
/** The scaling section: each configuration against the numpy loop. */
const SCALING = [
  { label: "1 epoch, 60k, batch 32, 784-64-32-10", epochs: 1, count: 60000, batch: 32 },
  { label: "5 epochs, 60k, batch 32", epochs: 5, count: 60000, batch: 32 },
  { label: "1 epoch, 10k, batch 32", epochs: 1, count: 10000, batch: 32 },
  { label: "1 epoch, 60k, batch 128", epochs: 1, count: 60000, batch: 128 },
  {
    label: "1 epoch, 60k, batch 32, 784-512-256-10",
    epochs: 1,
    count: 60000,
    batch: 32,
    sizes: "784,512,256,10",
  },
];
const KERAS_PYTHON = "/work/venv-tf/bin/python";
const HYPER = { batchSize: 32, epochs: 1, lr: 0.01 };
const LAYERS = [784, 64, 32, 10];
const FASHION_DIR = "/usr/share/datasets/fashion-mnist";
const DEBIAN_PYTHON = "/usr/bin/python3";
const HELP = `node scripts/bench.mjs [--only ${SECTIONS.join(",")}] [--pairs 3] [options]

Benchmarks fedn-tfjs's drop-in entry point against FEDn's PyTorch one (scripts/bench/
reference_torch.py) and writes the raw runs as JSON. Run through \`npm run bench\`, which builds
dist/ first.

Options:
  --only LIST      comma-separated sections (default: all but limit): ${SECTIONS.join(", ")}
  --pairs N        ours/PyTorch pairs for train and validate, one seed model each, and
                   pairs per scaling configuration (default 3)
  --loop-pairs N   ours/numpy pairs of the loop section (default 7: its runs last 0.2 s on a
                   machine whose speed can swing 1.4x between seconds, and each costs ~3 s)
  --startup-runs N --help runs per program in the startup section (default 5)
  --data PATH      npz with x_train, y_train, x_test, y_test (default: data/fashion-mnist.npz,
                   built from ${FASHION_DIR} when missing)
  --python PATH    interpreter with torch for the reference and numpy for the loop
                   (default: ${DEBIAN_PYTHON}); torch must run on OpenBLAS (or MKL)
  --keras-python P interpreter with tensorflow for FEDn's Keras example (default:
                   ${KERAS_PYTHON} where it exists; the keras section is skipped otherwise)
  --threads N      FEDN_TFJS_THREADS for our runs (default: every core)
  --torch-threads N  OMP_NUM_THREADS for the reference (default: torch's own default, which
                   is what a FEDn client gets)
  --entrypoint P   our entry point to run (default: dist/bin/entrypoint.js; e.g. the packaged
                   bundle under client/dist/)
  --out PATH       raw results (default: bench-results/bench.json; the printed report goes
                   beside it as bench.txt)
  --keep           keep the temporary folder with models and outputs
  -h, --help       show this help
`;

/** Reads and checks the command line, filling defaults; the only place options are checked. */
function resolveOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: "string" },
      pairs: { type: "string", default: "3" },
      "loop-pairs": { type: "string", default: "7" },
      "startup-runs": { type: "string", default: "5" },
      data: { type: "string" },
      python: { type: "string", default: DEBIAN_PYTHON },
      entrypoint: { type: "string" },
      "torch-threads": { type: "string" },
      "keras-python": { type: "string" },
      threads: { type: "string" },
      out: { type: "string" },
      keep: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const only =
    values.only === undefined
      ? SECTIONS.filter((s) => !ON_REQUEST.has(s))
      : values.only.split(",").map((s) => s.trim());
  const unknown = only.filter((s) => !SECTIONS.includes(s));
  if (unknown.length > 0) {
    throw new Error(`--only: unknown section ${unknown.join(", ")}; expected ${SECTIONS}`);
  }
  const count = (name, value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`--${name}: expected a whole number ≥ 1, found "${value}"`);
    }
    return n;
  };
  return {
    help: values.help,
    sections: new Set(only),
    pairs: count("pairs", values.pairs),
    loopPairs: count("loop-pairs", values["loop-pairs"]),
    startupRuns: count("startup-runs", values["startup-runs"]),
    data: values.data === undefined ? undefined : path.resolve(values.data),
    python: values.python,
    // Paths given on the command line are relative to the working directory, defaults to the repo.
    entrypoint: path.resolve(values.entrypoint ?? path.join(ROOT, "dist/bin/entrypoint.js")),
    torchThreads:
      values["torch-threads"] === undefined
        ? undefined
        : count("torch-threads", values["torch-threads"]),
    out: path.resolve(values.out ?? path.join(ROOT, "bench-results/bench.json")),
    kerasPython: values["keras-python"] ?? (existsSync(KERAS_PYTHON) ? KERAS_PYTHON : undefined),
    threads: values.threads === undefined ? undefined : count("threads", values.threads),
    keep: values.keep,
  };
}

// --- small helpers ------------------------------------------------------------------------

const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const mean = (xs) => (xs.length === 0 ? undefined : xs.reduce((a, b) => a + b, 0) / xs.length);
const fmt = (x, digits = 2) => (x === undefined || x === null ? "–" : x.toFixed(digits));
const tail = (text, n = 1500) => (text.length > n ? `…${text.slice(-n)}` : text);
/** Everything printed, also written beside the JSON as a transcript for BENCHMARKS.md. */
const transcript = [];
const say = (line = "") => {
  transcript.push(line);
  process.stdout.write(`${line}\n`);
};
const note = (line) => say(`  ! ${line}`);

/** FLOPs of one SGD step per sample: forward, weight gradients, input gradients past layer 1. */
function trainFlopPerSample() {
  let forward = 0;
  let inputGrads = 0;
  for (let i = 0; i + 1 < LAYERS.length; i++) {
    forward += 2 * LAYERS[i] * LAYERS[i + 1];
    if (i > 0) inputGrads += 2 * LAYERS[i] * LAYERS[i + 1];
  }
  return { train: 2 * forward + inputGrads, forward };
}

/** Runs a command to completion, capturing its output; never throws. */
function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", (error) => resolve({ code: null, stdout, stderr: `${stderr}${error}` }));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs one benchmarked process under measure.py and returns its wall time, peak RSS and
 * output. Without a Python for the wrapper, times it here and leaves the RSS unknown.
 */
async function measure(env, argv, childEnv) {
  const resultFile = path.join(env.work, `measure-${env.seq++}.json`);
  if (env.wrapperPython === undefined) {
    const start = performance.now();
    const r = await run(argv[0], argv.slice(1), { env: childEnv });
    const wall = (performance.now() - start) / 1000;
    return { ...outcome(r, r.code), wall_s: wall, max_rss_mb: undefined };
  }
  const wrapper = path.join(ROOT, "scripts/bench/measure.py");
  const r = await run(env.wrapperPython, [wrapper, resultFile, "--", ...argv], { env: childEnv });
  if (!existsSync(resultFile)) return { ...outcome(r, r.code ?? 1), ok: false };
  const m = JSON.parse(readFileSync(resultFile, "utf8"));
  return {
    ...outcome(r, m.exit_code),
    wall_s: m.wall_s,
    user_s: m.user_s,
    sys_s: m.sys_s,
    max_rss_mb: m.max_rss_kb / 1024,
  };
}

function outcome(r, exitCode) {
  return {
    ok: exitCode === 0,
    exit_code: exitCode,
    stdout_tail: tail(r.stdout, 600),
    stderr_tail: tail(r.stderr),
  };
}

/** The last line of a helper's stdout that parses as a JSON object (libraries may print too). */
function lastJsonLine(stdout) {
  for (const text of stdout.trim().split("\n").reverse()) {
    try {
      const value = JSON.parse(text);
      if (value !== null && typeof value === "object") return value;
    } catch {
      // not this line
    }
  }
  return undefined;
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** The line of a failed run's stderr that says why (an uncaught error's, else the last). */
function why(result) {
  const lines = `${result.stderr_tail}`
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("Node.js v") && !l.startsWith("at "));
  const error = lines.findLast((l) => /error/i.test(l));
  return (error ?? lines.at(-1) ?? `exit ${result.exit_code}`).slice(0, 300);
}

// --- environment --------------------------------------------------------------------------

function machineInfo() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model;
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(" ") ?? [];
  const tfjs = readJson(path.join(ROOT, "node_modules/@tensorflow/tfjs/package.json"));
  return {
    nproc: os.availableParallelism(),
    cpu: model,
    simd: ["avx2", "avx512f", "fma"].filter((f) => flags.includes(f)),
    ram_gib: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    tfjs: tfjs?.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    loadavg_start: os.loadavg(),
  };
}

/**
 * The BLAS a Python process has mapped after a matMul, from /proc/self/maps (torch.__config__
 * says only how torch was built: Debian's says BLAS_INFO=generic and loads whatever
 * libblas.so.3 the alternatives point at).
 */
const BLAS_PROBE =
  "import re\n" +
  "def blas():\n" +
  "    libs = set(re.findall(r'/\\S*(?:blas|mkl|blis)\\S*\\.so\\S*', open('/proc/self/maps').read()))\n" +
  "    for name in ('openblas', 'mkl', 'blis'):\n" +
  "        if any(name in l for l in libs): return name, sorted(libs)\n" +
  "    return ('reference' if libs else 'unknown'), sorted(libs)\n";

/** Torch's version, threads and BLAS from the reference interpreter, or why not. */
function probeTorch(python, env) {
  const code =
    `${BLAS_PROBE}import json, torch, numpy\n` +
    "torch.ones(256, 256) @ torch.ones(256, 256)\n" +
    "name, libs = blas()\n" +
    "print(json.dumps({'torch': torch.__version__, " +
    "'numpy': numpy.__version__, 'threads': torch.get_num_threads(), " +
    "'interop_threads': torch.get_num_interop_threads(), 'blas': name, 'blas_libs': libs}))";
  const r = spawnSync(python, ["-c", code], { encoding: "utf8", env });
  const info = r.status === 0 ? lastJsonLine(r.stdout) : undefined;
  if (info !== undefined && !["openblas", "mkl", "blis"].includes(info.blas)) {
    // Issue #10: a ratio against the reference BLAS is never reported as "PyTorch".
    return {
      ok: false,
      python,
      ...info,
      reason: `torch runs on the ${info.blas} BLAS (${info.blas_libs.join(", ") || "none mapped"}), not a tuned one; install OpenBLAS (apt-get install -y libopenblas0-pthread, which Debian's alternatives then give to torch) and run again`,
    };
  }
  if (info !== undefined) return { ok: true, python, ...info };
  const reason = r.error ? `${python} not found` : (r.stderr.trim().split("\n").at(-1) ?? "");
  return { ok: false, python, reason };
}

/** A Python for measure.py: the reference's interpreter, else python3 on the PATH. */
function wrapperPython(python) {
  for (const candidate of [python, "python3"]) {
    if (spawnSync(candidate, ["-c", "import resource"]).status === 0) return candidate;
  }
  return undefined;
}

/**
 * Finds or builds the benchmark data: Fashion-MNIST (60k/10k) from the Debian dataset through
 * `fedn-tfjs data`, else the bundled mnist package's 8,000/2,000.
 */
async function ensureData(requested) {
  if (requested !== undefined) {
    if (existsSync(requested)) return { path: requested, source: "--data" };
    return { missing: `--data ${requested} does not exist` };
  }
  const fashion = path.join(ROOT, "data/fashion-mnist.npz");
  if (existsSync(fashion)) return { path: fashion, source: "Fashion-MNIST (existing file)" };
  const cli = path.join(ROOT, "dist/bin/cli.js");
  if (existsSync(path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"))) {
    say(`building ${path.relative(ROOT, fashion)} from ${FASHION_DIR} …`);
    const r = await run(process.execPath, [cli, "data", "--from", FASHION_DIR, "--out", fashion]);
    if (r.code === 0 && existsSync(fashion)) return { path: fashion, source: "Fashion-MNIST" };
    note(`\`fedn-tfjs data --from ${FASHION_DIR}\` failed: ${why(outcome(r, r.code))}`);
  } else {
    note(`Fashion-MNIST is not in ${FASHION_DIR}: apt-get install -y dataset-fashion-mnist`);
  }
  note("falling back to the mnist package's digits (8,000 train / 2,000 test): figures are");
  note("not comparable with the issue's 60,000-image targets");
  const digits = path.join(ROOT, "data/mnist.npz");
  if (!existsSync(digits)) {
    const r = await run(process.execPath, [cli, "data"]);
    if (r.code !== 0 || !existsSync(digits)) {
      return { missing: `\`fedn-tfjs data\` failed: ${why(outcome(r, r.code))}` };
    }
  }
  return { path: digits, source: "mnist package (fallback)" };
}

// --- the two implementations ----------------------------------------------------------------

function implementations(env) {
  const ours = env.entrypoint;
  const reference = path.join(ROOT, "scripts/bench/reference_torch.py");
  return {
    ours: {
      name: "fedn-tfjs",
      available: existsSync(ours),
      missing: `${path.relative(ROOT, ours)} (the drop-in entry point; \`npm run build\` makes it)`,
      argv: (...args) => [process.execPath, ours, ...args],
      // Asks for the same `bench: train loop <s> s` stderr line as the reference prints.
      env: {
        ...process.env,
        FEDN_BENCH_TIMING: "1",
        ...(env.threads === undefined ? {} : { FEDN_TFJS_THREADS: String(env.threads) }),
      },
    },
    torch: {
      name: "PyTorch",
      available: env.torch.ok,
      missing: `torch for ${env.torch.python} (${env.torch.reason}): apt-get install -y python3-torch`,
      argv: (...args) => [env.torch.python, reference, ...args],
      // Only adds the stderr line with the loop's time; torch keeps its default threads.
      env: { ...env.torchEnv, FEDN_BENCH_TIMING: "1" },
    },
  };
}

/** A seed model per pair, from the reference's seeded init (or ours when torch is missing). */
async function makeSeed(env, impls, index) {
  const file = path.join(env.work, `seed-${index}.npz`);
  const seed = String(index + 1);
  for (const impl of [impls.torch, impls.ours]) {
    if (!impl.available) continue;
    const [cmd, ...args] = impl.argv("init_seed", file, "--seed", seed);
    const r = await run(cmd, args, { env: impl.env });
    if (r.code === 0 && existsSync(file)) return { file, seed: index + 1, by: impl.name };
    note(`${impl.name} init_seed failed: ${why(outcome(r, r.code))}`);
  }
  return undefined;
}

/** One whole-process run of `train` or `validate`, with an empty output file made first. */
async function runEntry(env, impl, command, input, output) {
  // FEDn's client hands over outputs that already exist as empty mkstemp files.
  writeFileSync(output, "");
  const argv = impl.argv(command, input, output, "--data_path", env.data.path);
  const r = await measure(env, argv, impl.env);
  return { ...r, argv: argv.map((a) => path.relative(ROOT, a) || a) };
}

/** Seconds of the training loop alone, from a `bench: train loop 1.23 s` line on stderr. */
function loopSeconds(stderr) {
  const m = /train loop ([\d.]+) ?s\b/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

async function trainAndValidate(env, impls, results) {
  const wantTrain = env.sections.has("train") || env.sections.has("accuracy");
  const wantValidate = env.sections.has("validate") || env.sections.has("accuracy");
  const active = [impls.ours, impls.torch].filter((i) => i.available);
  for (const impl of [impls.ours, impls.torch]) {
    if (!impl.available) note(`${impl.name} not run: missing ${impl.missing}`);
  }
  if (active.length === 0) return;
  for (let pair = 0; pair < env.pairs; pair++) {
    const seed = await makeSeed(env, impls, pair);
    if (seed === undefined) {
      note(`pair ${pair + 1}: no seed model, skipped`);
      continue;
    }
    const models = new Map();
    if (wantTrain) {
      for (const impl of active) {
        const out = path.join(env.work, `${impl === impls.ours ? "ours" : "torch"}-${pair}.npz`);
        const r = await runEntry(env, impl, "train", seed.file, out);
        const metadata = readJson(`${out}-metadata`);
        const loop = loopSeconds(r.stderr_tail);
        results.runs.push({
          section: "train",
          impl: impl.name,
          pair,
          seed: seed.seed,
          ...r,
          metadata,
          loop_s: loop,
        });
        say(`  train    pair ${pair + 1} ${impl.name.padEnd(9)} ${line(r)}`);
        if (r.ok) models.set(impl, out);
      }
    }
    if (wantValidate) {
      for (const impl of active) {
        const model = wantTrain ? models.get(impl) : seed.file;
        if (model === undefined) continue;
        const out = path.join(
          env.work,
          `${impl === impls.ours ? "ours" : "torch"}-${pair}-metrics`,
        );
        const r = await runEntry(env, impl, "validate", model, out);
        const metrics = r.ok ? readJson(out) : undefined;
        results.runs.push({
          section: "validate",
          impl: impl.name,
          pair,
          seed: seed.seed,
          trained: wantTrain,
          ...r,
          metrics,
        });
        const acc = metrics?.test_accuracy;
        say(
          `  validate pair ${pair + 1} ${impl.name.padEnd(9)} ${line(r)}${acc === undefined ? "" : `  test_accuracy ${fmt(acc, 4)}`}`,
        );
      }
    }
    if (pair === 0 && wantTrain && wantValidate) await crossCheck(env, impls, models, results);
  }
}

/**
 * Each side validates the other's trained model once: the two validations of one model must
 * agree (same metrics), and each side must read the other's files (interoperability).
 */
async function crossCheck(env, impls, models, results) {
  const pairs = [
    [impls.ours, impls.torch],
    [impls.torch, impls.ours],
  ];
  for (const [validator, trainer] of pairs) {
    const model = models.get(trainer);
    if (!validator.available || model === undefined) continue;
    const out = path.join(env.work, `cross-${validator === impls.ours ? "ours" : "torch"}`);
    const r = await runEntry(env, validator, "validate", model, out);
    const metrics = r.ok ? readJson(out) : undefined;
    // The trainer's own validation of the same model, from this pair's validate runs.
    const own = results.runs.find(
      (x) => x.section === "validate" && x.pair === 0 && x.impl === trainer.name && x.ok,
    )?.metrics;
    const deltas = {};
    for (const key of ["training_loss", "training_accuracy", "test_loss", "test_accuracy"]) {
      if (typeof metrics?.[key] === "number" && typeof own?.[key] === "number") {
        deltas[key] = metrics[key] - own[key];
      }
    }
    results.runs.push({
      section: "cross",
      impl: validator.name,
      modelBy: trainer.name,
      ...r,
      metrics,
      deltaFromTrainersValidation: deltas,
    });
    const worst = Math.max(...Object.values(deltas).map(Math.abs));
    const agreement =
      Object.keys(deltas).length === 0
        ? ""
        : `  max |Δ metric| vs ${trainer.name}'s own: ${worst.toExponential(1)}`;
    say(`  cross    ${validator.name} validates ${trainer.name}'s model: ${line(r)}${agreement}`);
  }
}

const line = (r) =>
  r.ok
    ? `${fmt(r.wall_s)} s  ${r.max_rss_mb === undefined ? "" : `${fmt(r.max_rss_mb, 0)} MB`}`
    : `FAILED (${why(r)})`;

async function startup(env, impls, results) {
  const programs = [
    impls.ours.available && {
      impl: "fedn-tfjs",
      what: `node ${path.relative(ROOT, env.entrypoint)} --help`,
      argv: impls.ours.argv("--help"),
    },
    // The bundle FEDn clients actually run (`npm run package`), when it has been built.
    existsSync(path.join(ROOT, "client/dist/entrypoint.js")) &&
      env.entrypoint !== path.join(ROOT, "client/dist/entrypoint.js") && {
        impl: "fedn-tfjs (bundle)",
        what: "node client/dist/entrypoint.js --help",
        argv: [process.execPath, path.join(ROOT, "client/dist/entrypoint.js"), "--help"],
      },
    existsSync(path.join(ROOT, "dist/bin/cli.js")) && {
      impl: "fedn-tfjs",
      what: "node dist/bin/cli.js --help",
      argv: [process.execPath, path.join(ROOT, "dist/bin/cli.js"), "--help"],
    },
    impls.torch.available && {
      impl: "PyTorch",
      what: "python3 reference_torch.py --help",
      argv: impls.torch.argv("--help"),
    },
  ].filter(Boolean);
  for (let i = 0; i < env.startupRuns; i++) {
    for (const p of programs) {
      const r = await measure(env, p.argv, process.env);
      results.runs.push({ section: "startup", impl: p.impl, what: p.what, ...r });
    }
  }
  for (const p of programs) {
    const runs = results.runs.filter((r) => r.section === "startup" && r.what === p.what);
    const walls = runs.filter((r) => r.ok).map((r) => r.wall_s);
    const failed = runs.find((r) => !r.ok);
    say(`  ${p.what.padEnd(38)} median ${fmt(median(walls), 3)} s`);
    if (failed !== undefined) note(`${p.what} failed: ${why(failed)}`);
  }
}

/** One loop run of ours and one of numpy's with the same arguments; pushes both runs. */
async function loopPair(env, results, section, pair, config) {
  const args = [
    "--data",
    env.data.path,
    "--sizes",
    config.sizes ?? LAYERS.join(","),
    "--batch",
    String(config.batch),
    "--epochs",
    String(config.epochs),
    "--count",
    String(config.count),
    "--lr",
    String(HYPER.lr),
    "--seed",
    String(pair + 1),
  ];
  const ours = [process.execPath, path.join(ROOT, "scripts/bench/loop_fast.mjs"), ...args];
  const oursEnv = {
    ...process.env,
    ...(env.threads === undefined ? {} : { FEDN_TFJS_THREADS: String(env.threads) }),
  };
  const numpy = [env.python, path.join(ROOT, "scripts/bench/loop_numpy.py"), ...args];
  // One BLAS thread, as issue #10 specifies; OpenBLAS's own core detection (see BLAS_OVERRIDES).
  const numpyEnv = { ...env.pythonEnv, OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1" };
  const out = {};
  for (const [impl, argv, childEnv] of [
    ["fedn-tfjs", ours, oursEnv],
    ["numpy", numpy, numpyEnv],
  ]) {
    const r = await measure(env, argv, childEnv);
    const parsed = r.ok ? lastJsonLine(r.stdout_tail) : undefined;
    const flop = trainFlop(config.sizes ?? LAYERS.join(","), config.count, config.epochs);
    const run = {
      section,
      impl,
      pair,
      config: config.label,
      ...r,
      ok: r.ok && parsed !== undefined,
      loop_s: parsed?.loop_s,
      cpu_s: parsed?.cpu_s,
      gflops: parsed?.loop_s === undefined ? undefined : flop / 1e9 / parsed.loop_s,
      detail: parsed,
    };
    results.runs.push(run);
    out[impl] = run;
  }
  return out;
}

/** FLOPs of `epochs` epochs over `count` samples of a dense stack, as trainFlopPerSample. */
function trainFlop(sizes, count, epochs) {
  const s = sizes.split(",").map(Number);
  let forward = 0;
  let inputGrads = 0;
  for (let i = 0; i + 1 < s.length; i++) {
    forward += 2 * s[i] * s[i + 1];
    if (i > 0) inputGrads += 2 * s[i] * s[i + 1];
  }
  return (2 * forward + inputGrads) * count * epochs;
}

async function loopSection(env, results) {
  const config = { label: "1 epoch, 60k, batch 32", epochs: 1, count: 60000, batch: 32 };
  for (let pair = 0; pair < env.loopPairs; pair++) {
    const p = await loopPair(env, results, "loop", pair, config);
    const a = p["fedn-tfjs"];
    const b = p.numpy;
    say(
      `  pair ${pair + 1}: ours ${a.ok ? `${fmt(a.loop_s, 3)} s, CPU ${fmt(a.cpu_s, 3)} s (${fmt(a.gflops, 1)} GFLOP/s, ${a.detail.flavour}, ${a.detail.threads} thread(s))` : `FAILED (${why(a)})`}   numpy ${b.ok ? `${fmt(b.loop_s, 3)} s, CPU ${fmt(b.cpu_s, 3)} s (${fmt(b.gflops, 1)} GFLOP/s, BLAS ${b.detail.blas})` : `FAILED (${why(b)})`}`,
    );
    if (b.ok && b.detail.blas !== "openblas" && b.detail.blas !== "mkl") {
      note(`numpy runs on the ${b.detail.blas} BLAS: apt-get install -y libopenblas0-pthread`);
    }
  }
}

async function scalingSection(env, results) {
  const rows = [];
  for (const config of SCALING) {
    for (let pair = 0; pair < env.pairs; pair++)
      await loopPair(env, results, "scaling", pair, config);
    const runs = results.runs.filter((r) => r.section === "scaling" && r.config === config.label);
    const ours = median(runs.filter((r) => r.impl === "fedn-tfjs").map((r) => r.loop_s));
    const numpy = median(runs.filter((r) => r.impl === "numpy").map((r) => r.loop_s));
    const flop = trainFlop(config.sizes ?? LAYERS.join(","), config.count, config.epochs);
    rows.push({
      config: config.label,
      ours,
      numpy,
      ratio: ours !== undefined && numpy !== undefined ? ours / numpy : undefined,
      oursGflops: ours === undefined ? undefined : flop / 1e9 / ours,
      numpyGflops: numpy === undefined ? undefined : flop / 1e9 / numpy,
    });
    const r = rows.at(-1);
    say(
      `  ${config.label.padEnd(40)} ours ${fmt(r.ours, 3)} s (${fmt(r.oursGflops, 1)} GFLOP/s)  numpy ${fmt(r.numpy, 3)} s (${fmt(r.numpyGflops, 1)} GFLOP/s)  ours/numpy ${fmt(r.ratio)}`,
    );
  }
  results.scaling = rows;
}

/** FEDn's Keras example (scripts/bench/reference_keras.py) next to ours, reported only. */
async function kerasSection(env, results) {
  if (env.kerasPython === undefined || !existsSync(env.kerasPython)) {
    note(
      `no tensorflow venv (${KERAS_PYTHON} or --keras-python): FEDn's Keras example not measured`,
    );
    return;
  }
  const script = path.join(ROOT, "scripts/bench/reference_keras.py");
  const seed = path.join(env.work, "keras-seed.npz");
  const out = path.join(env.work, "keras-out.npz");
  const metrics = path.join(env.work, "keras-metrics.json");
  const kerasEnv = { ...env.pythonEnv, TF_CPP_MIN_LOG_LEVEL: "2" };
  const init = await run(env.kerasPython, [script, "init_seed", seed], { env: kerasEnv });
  if (init.code !== 0) {
    note(`reference_keras.py init_seed failed: ${why(outcome(init, init.code))}`);
    return;
  }
  for (const [command, input, output] of [
    ["train", seed, out],
    ["validate", out, metrics],
  ]) {
    writeFileSync(output, "");
    const argv = [env.kerasPython, script, command, input, output, "--data_path", env.data.path];
    const r = await measure(env, argv, kerasEnv);
    results.runs.push({ section: "keras", impl: "Keras", command, ...r });
    say(`  ${command.padEnd(8)} Keras     ${line(r)}`);
  }
  const m = readJson(metrics);
  if (m !== undefined) say(`  Keras test accuracy after the epoch: ${fmt(m.test_accuracy, 4)}`);
}

async function npzSection(env, results) {
  const script = path.join(ROOT, "scripts/bench/npz.mjs");
  if (!existsSync(script)) {
    note("scripts/bench/npz.mjs is missing; skipped");
    return;
  }
  const jsonFile = path.join(env.work, "npz.json");
  const r = await run(process.execPath, [script, "--json", jsonFile]);
  for (const l of r.stdout.trimEnd().split("\n")) say(`  ${l}`);
  if (r.code !== 0) note(`npz.mjs failed: ${why(outcome(r, r.code))}`);
  results.npz = {
    exit_code: r.code,
    stdout: r.stdout,
    stderr_tail: tail(r.stderr),
    json: readJson(jsonFile),
  };
}

/**
 * Where a training epoch's time goes: the library's loop timed in-process (loop.mjs), next to the
 * wasm backend's matMul ceiling and the per-step costs measured by limit.mjs.
 */
async function limitSection(env, results) {
  const r = await run(process.execPath, [path.join(ROOT, "scripts/bench/limit.mjs")]);
  const probe = r.code === 0 ? lastJsonLine(r.stdout) : undefined;
  if (probe === undefined) {
    note(`limit.mjs failed: ${why(outcome(r, r.code))}`);
    return;
  }
  const loops = [];
  if (env.data?.path !== undefined) {
    for (let i = 0; i < env.pairs; i++) {
      const args = ["--data", env.data.path, "--seed", String(i + 1)];
      const l = await run(process.execPath, [path.join(ROOT, "scripts/bench/loop.mjs"), ...args]);
      const parsed = l.code === 0 ? lastJsonLine(l.stdout) : undefined;
      if (parsed === undefined) {
        note(`loop.mjs (the library's training loop) failed: ${why(outcome(l, l.code))}`);
        break;
      }
      loops.push(parsed);
    }
  }
  results.limit = { probe, loops };
  const flop = trainFlopPerSample();
  const trainRuns = results.runs.filter((x) => x.section === "train" && x.ok);
  const examples =
    loops[0]?.numExamples ?? trainRuns.find((x) => x.metadata?.num_examples)?.metadata.num_examples;
  const steps = examples === undefined ? undefined : Math.ceil(examples / HYPER.batchSize);
  const epochGflop = examples === undefined ? undefined : (flop.train * examples) / 1e9;
  const summary = { epochGflop, steps, bigMatMulGflops: probe.big.gflops };
  results.limit.summary = summary;
  const ceiling = probe.big.gflops;
  say(`  ceiling: wasm matMul 1024×1024·1024×1024 = ${fmt(ceiling, 1)} GFLOP/s on one core`);
  say("  one SGD step's matMuls at batch 32 (no transposed operands):");
  for (const c of probe.step) {
    say(
      `    ${c.name.padEnd(14)} ${fmt(c.seconds * 1e6, 1).padStart(7)} µs  ${fmt(c.gflops, 1).padStart(5)} GFLOP/s`,
    );
  }
  say(
    `    (the same dW1 through matMul's transposeA flag: ${fmt(probe.dW1Transposed.seconds * 1e6, 0)} µs, ${fmt(probe.dW1Transposed.gflops, 1)} GFLOP/s)`,
  );
  if (probe.repackFwd1Seconds !== undefined) {
    say(
      `    (x·W1 with a new W1 tensor each call costs ${fmt(probe.repackFwd1Seconds * 1e6, 0)} µs more: XNNPACK packs each new right operand, and a loop's weights or batches are new tensors every step)`,
    );
  }
  if (steps === undefined) {
    note("no data and no train runs: loop GFLOP/s not computed");
    return;
  }
  const floor = steps * probe.stepMatMulSeconds;
  summary.matMulFloorSeconds = floor;
  say(
    `  ${steps} steps × ${fmt(probe.stepMatMulSeconds * 1e6, 0)} µs of matMuls = ${fmt(floor)} s, the epoch's floor (${fmt(epochGflop, 1)} GFLOP ÷ ${fmt(floor)} s = ${fmt(epochGflop / floor, 1)} GFLOP/s)`,
  );

  // Our loop: the `bench: train loop` line of the train runs above (the same runs as the table,
  // timed like the reference's loop), else the library's loop timed in-process by loop.mjs.
  const fromRuns = trainRuns.filter((x) => x.impl === "fedn-tfjs").map((x) => x.loop_s);
  const inProcess = median(loops.map((l) => l.trainSeconds));
  let loop = median(fromRuns);
  let loopSource = `median of the ${fromRuns.filter((x) => x !== undefined).length} train runs' own loop line`;
  if (loop === undefined) {
    loop = inProcess;
    loopSource = `library trainModel in-process, median of ${loops.length}`;
  } else if (inProcess !== undefined) {
    loopSource += `; in-process trainModel: ${fmt(inProcess)} s`;
  }
  if (loop === undefined) {
    note("fedn-tfjs: no loop time (loop.mjs failed and no timing line on stderr)");
  } else {
    const gflops = epochGflop / loop;
    const kernels = median(loops.map((l) => l.kernelsPerStep));
    const perStep = (loop / steps) * 1e6;
    const parts = {
      matMul: probe.stepMatMulSeconds * 1e6,
      // matMuls are dispatched too, but their cost is already in the matMul figure.
      dispatch:
        kernels === undefined
          ? undefined
          : (kernels - probe.step.length) * probe.tinyKernelSeconds * 1e6,
      batchBuild: probe.batchBuildSeconds === undefined ? undefined : probe.batchBuildSeconds * 1e6,
      upload: 2 * probe.uploadBatchSeconds * 1e6,
    };
    const known = Object.values(parts).reduce((sum, v) => sum + (v ?? 0), 0);
    parts.other = perStep - known;
    summary["fedn-tfjs"] = {
      loopSeconds: loop,
      loopSource,
      gflops,
      ofCeiling: gflops / ceiling,
      kernelsPerStep: kernels,
      perStepMicros: perStep,
      partsMicros: parts,
    };
    say(
      `  fedn-tfjs training loop: ${fmt(loop)} s (${loopSource}) = ${fmt(gflops, 1)} GFLOP/s, ${fmt((100 * gflops) / ceiling, 0)}% of the ceiling`,
    );
    say(
      `    per step ${fmt(perStep, 0)} µs, estimated from the probes above: matMuls ${fmt(parts.matMul, 0)} (with packed weights reused; a loop's weights change every step), dispatch of the other kernels ${fmt(parts.dispatch, 0)} (${fmt(kernels, 0)} kernels/step × ${fmt(probe.tinyKernelSeconds * 1e6, 1)} µs), building a batch in JS ${fmt(parts.batchBuild, 0)} (probe: x and xᵀ from uint8), uploads ${fmt(parts.upload, 0)}, the rest ${fmt(parts.other, 0)} (weight re-packing, elementwise work, variable updates, dropout masks, GC)`,
    );
    const evalSeconds = median(loops.map((l) => l.evaluateSeconds));
    if (evalSeconds !== undefined) {
      const rows = loops[0].evaluateRows;
      const evalGflops = (flop.forward * rows) / 1e9 / evalSeconds;
      summary["fedn-tfjs"].evaluate = { rows, seconds: evalSeconds, gflops: evalGflops };
      say(
        `  fedn-tfjs validation forward pass: ${rows} rows in ${fmt(evalSeconds)} s = ${fmt(evalGflops, 1)} GFLOP/s`,
      );
    }
  }
  const torchLoop = median(trainRuns.filter((x) => x.impl === "PyTorch").map((x) => x.loop_s));
  if (torchLoop !== undefined) {
    summary.PyTorch = { loopSeconds: torchLoop, gflops: epochGflop / torchLoop };
    say(
      `  PyTorch training loop: ${fmt(torchLoop)} s = ${fmt(epochGflop / torchLoop, 1)} GFLOP/s (its own CPU kernels, ${results.torch.threads} thread(s))`,
    );
  }
  if (env.torch.ok) {
    // The reference's own ceiling: Debian's torch may use a generic BLAS, which explains a lot.
    const script = path.join(ROOT, "scripts/bench/limit_torch.py");
    const t = await run(env.torch.python, [script], { env: env.torchEnv });
    const torchProbe = t.code === 0 ? lastJsonLine(t.stdout) : undefined;
    if (torchProbe === undefined) {
      note(`limit_torch.py failed: ${why(outcome(t, t.code))}`);
    } else {
      results.limit.torchProbe = torchProbe;
      summary.PyTorch = { ...summary.PyTorch, bigMatMulGflops: torchProbe.big.gflops };
      say(
        `  PyTorch's own ceiling: matMul 1024×1024·1024×1024 = ${fmt(torchProbe.big.gflops, 1)} GFLOP/s; x·W1 at batch 32 ${fmt(torchProbe.fwd1.seconds * 1e6, 0)} µs (BLAS: ${torchProbe.blas}, ${torchProbe.threads} thread(s))`,
      );
    }
  }
}

// --- report -----------------------------------------------------------------------------------

function summarise(results) {
  const ok = (section, impl) =>
    results.runs.filter((r) => r.section === section && r.impl === impl && r.ok);
  const rows = [];
  const compare = (label, section, field, unit, target, digits) => {
    const a = median(ok(section, "fedn-tfjs").map((r) => r[field]));
    const b = median(ok(section, "PyTorch").map((r) => r[field]));
    const ratio = a !== undefined && b !== undefined ? a / b : undefined;
    const verdict = ratio === undefined ? "–" : ratio <= target ? "PASS" : "FAIL";
    // Each pair ran back to back, so its own ratio is less exposed to load drifting over the run.
    const pairRatios = ok(section, "fedn-tfjs")
      .map((r) => {
        const other = ok(section, "PyTorch").find((t) => t.pair === r.pair);
        return other === undefined ? undefined : r[field] / other[field];
      })
      .filter((x) => x !== undefined);
    rows.push({
      label,
      unit,
      ours: a,
      torch: b,
      ratio,
      pairRatios,
      pairRatioMedian: median(pairRatios),
      target: `≤ ${target}`,
      verdict,
      digits,
    });
  };
  if (results.sections.includes("loop")) {
    const loops = (impl) => ok("loop", impl).map((r) => r.loop_s);
    const a = median(loops("fedn-tfjs"));
    const b = median(loops("numpy"));
    const ratio = a !== undefined && b !== undefined ? a / b : undefined;
    const pairRatios = ok("loop", "fedn-tfjs")
      .map((r) => {
        const other = ok("loop", "numpy").find((t) => t.pair === r.pair);
        return other === undefined ? undefined : r.loop_s / other.loop_s;
      })
      .filter((x) => x !== undefined);
    rows.push({
      label: "training loop vs numpy (1 thread)",
      unit: "s",
      ours: a,
      torch: b,
      ratio,
      pairRatios,
      pairRatioMedian: median(pairRatios),
      target: `≤ ${TARGETS.loop}`,
      verdict: ratio === undefined ? "–" : ratio <= TARGETS.loop ? "PASS" : "FAIL",
      digits: 3,
    });
  }
  if (results.sections.includes("train")) {
    compare("train wall time", "train", "wall_s", "s", TARGETS.train, 2);
    compare("train peak RSS", "train", "max_rss_mb", "MB", TARGETS.rss, 0);
  }
  if (results.sections.includes("validate")) {
    compare("validate wall time", "validate", "wall_s", "s", TARGETS.validate, 2);
    compare("validate peak RSS", "validate", "max_rss_mb", "MB", TARGETS.rss, 0);
  }
  if (results.sections.includes("accuracy")) {
    const acc = (impl) =>
      ok("validate", impl)
        .filter((r) => r.trained)
        .map((r) => r.metrics?.test_accuracy)
        .filter((x) => typeof x === "number");
    const a = mean(acc("fedn-tfjs"));
    const b = mean(acc("PyTorch"));
    const diff = a !== undefined && b !== undefined ? (a - b) * 100 : undefined;
    rows.push({
      label: "test accuracy (mean)",
      unit: "%",
      ours: a === undefined ? undefined : a * 100,
      torch: b === undefined ? undefined : b * 100,
      ratio: diff,
      ratioLabel: "Δ points",
      target: `±${TARGETS.accuracyPoints} points`,
      verdict:
        diff === undefined ? "–" : Math.abs(diff) <= TARGETS.accuracyPoints ? "PASS" : "FAIL",
      digits: 2,
    });
  }
  if (results.sections.includes("startup")) {
    // Not a target (issue #5 asks only to report it): our entry point against the reference's.
    const wall = (impl, what) =>
      median(
        ok("startup", impl)
          .filter((r) => what.test(r.what))
          .map((r) => r.wall_s),
      );
    const a = wall("fedn-tfjs", /entrypoint/);
    const b = wall("PyTorch", /reference_torch/);
    rows.push({
      label: "start-up (--help)",
      unit: "s",
      ours: a,
      torch: b,
      ratio: a !== undefined && b !== undefined ? a / b : undefined,
      target: "reported",
      verdict: "–",
      digits: 2,
    });
  }
  const loops = results.limit?.summary;
  if (loops?.["fedn-tfjs"] !== undefined || loops?.PyTorch !== undefined) {
    const a = loops["fedn-tfjs"]?.loopSeconds;
    const b = loops.PyTorch?.loopSeconds;
    rows.push({
      label: "train loop alone",
      unit: "s",
      ours: a,
      torch: b,
      ratio: a !== undefined && b !== undefined ? a / b : undefined,
      target: "reported",
      verdict: "–",
      digits: 2,
    });
  }
  return rows;
}

const withUnit = (x, digits, unit) => (x === undefined ? "–" : `${fmt(x, digits)} ${unit}`);

function printTable(rows) {
  const header = [
    "figure (reference: numpy loop, else PyTorch on OpenBLAS)",
    "fedn-tfjs",
    "reference",
    "ours/reference",
    "median of pair ratios",
    "target",
    "result",
  ];
  const body = rows.map((r) => [
    r.label,
    withUnit(r.ours, r.digits, r.unit),
    withUnit(r.torch, r.digits, r.unit),
    r.ratioLabel ? `${fmt(r.ratio, 2)} ${r.ratioLabel}` : fmt(r.ratio, 2),
    fmt(r.pairRatioMedian, 2),
    r.target,
    r.verdict,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const row = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  say(row(header));
  say(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const b of body) say(row(b));
}

async function main() {
  let options;
  try {
    options = resolveOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${error.message}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const started = new Date();
  const pythonEnv = { ...process.env };
  for (const name of BLAS_OVERRIDES) delete pythonEnv[name];
  const torchEnv = {
    ...pythonEnv,
    ...(options.torchThreads === undefined ? {} : { OMP_NUM_THREADS: `${options.torchThreads}` }),
  };
  const env = {
    ...options,
    torchEnv,
    torch: probeTorch(options.python, torchEnv),
    pythonEnv,
    work: mkdtempSync(path.join(os.tmpdir(), "fedn-tfjs-bench-")),
    seq: 0,
    wrapperPython: wrapperPython(options.python),
  };
  const results = {
    started: started.toISOString(),
    command: `node scripts/bench.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    sections: [...env.sections],
    pairs: env.pairs,
    loopPairs: env.loopPairs,
    hyperparameters: HYPER,
    targets: TARGETS,
    machine: machineInfo(),
    ours: {
      engine: `fast (native/dense.c, wasm SIMD), ${env.threads ?? os.availableParallelism()} thread(s)`,
      entrypoint: path.relative(ROOT, env.entrypoint),
    },
    torch: env.torch,
    runs: [],
  };
  say(
    `fedn-tfjs bench — ${results.machine.nproc} CPUs (${results.machine.cpu}), load ${results.machine.loadavg_start.map((x) => x.toFixed(2)).join(" ")}`,
  );
  if (env.torch.ok) {
    say(
      `reference: torch ${env.torch.torch} (${env.torch.threads} thread(s), BLAS ${env.torch.blas}: ${env.torch.blas_libs.join(", ")}) via ${env.torch.python}`,
    );
  } else {
    note(
      `no PyTorch reference: ${env.torch.reason}. Install it with: apt-get install -y python3-torch`,
    );
    note("our own figures are still reported");
  }
  if (env.wrapperPython === undefined) note("no python3 for measure.py: peak RSS is not measured");

  const needsData = ["train", "validate", "accuracy", "limit", "loop", "scaling", "keras"].some(
    (s) => env.sections.has(s),
  );
  if (needsData) {
    env.data = await ensureData(options.data);
    results.data = env.data;
    if (env.data.missing)
      note(`no data: ${env.data.missing}; train, validate and accuracy skipped`);
    else say(`data: ${path.relative(ROOT, env.data.path)} (${env.data.source})`);
  }
  const impls = implementations(env);

  try {
    if (env.sections.has("npz")) {
      say("\n[npz] scripts/bench/npz.mjs");
      await npzSection(env, results);
    }
    if (["train", "validate", "accuracy"].some((s) => env.sections.has(s)) && env.data?.path) {
      say(`\n[train/validate] ${env.pairs} pair(s), ours then PyTorch, same seed model per pair`);
      await trainAndValidate(env, impls, results);
    }
    if (env.sections.has("startup")) {
      say(`\n[startup] --help, ${env.startupRuns} run(s) each`);
      await startup(env, impls, results);
    }
    if (env.sections.has("loop") && env.data?.path) {
      say(
        `\n[loop] the training loop alone, ${env.loopPairs} pair(s): ours, then numpy (1 BLAS thread)`,
      );
      await loopSection(env, results);
    }
    if (env.sections.has("scaling") && env.data?.path) {
      say(`\n[scaling] train loop vs numpy's, ${env.pairs} pair(s) per configuration`);
      await scalingSection(env, results);
    }
    if (env.sections.has("keras") && env.data?.path) {
      say("\n[keras] FEDn's Keras example (tensorflow-cpu), one train and one validate");
      await kerasSection(env, results);
    }
    if (env.sections.has("limit")) {
      say("\n[limit] training-loop GFLOP/s vs the wasm backend's matMul");
      await limitSection(env, results);
    }
  } finally {
    if (!env.keep) rmSync(env.work, { recursive: true, force: true });
  }

  results.machine.loadavg_end = os.loadavg();
  results.finished = new Date().toISOString();
  results.summary = summarise(results);
  if (results.summary.length > 0) {
    say(
      `\nMedians over ${env.pairs} pair(s), the loop row over ${env.loopPairs} (accuracy: mean over the pairs' seeds)`,
    );
    printTable(results.summary);
  }
  mkdirSync(path.dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(results, null, 2)}\n`);
  const text = `${options.out.replace(/\.json$/, "")}.txt`;
  say(
    `\nraw runs: ${path.relative(ROOT, options.out)}, transcript: ${path.relative(ROOT, text)}${env.keep ? `; files kept in ${env.work}` : ""}`,
  );
  writeFileSync(text, `${transcript.join("\n")}\n`);
  return 0;
}

process.exitCode = await main();
