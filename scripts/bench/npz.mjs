#!/usr/bin/env node
/**
 * The npz codec against numpy on a ~60 MB float32 archive, in one run on the same files:
 * reading numpy's own stored (`np.savez`) and deflated (`np.savez_compressed`) archives, and
 * writing the same arrays stored and deflated, file system included on both sides (ours through
 * `loadNpz`/`saveNpz`, as an entry point calls them). adm-zip, the obvious npm alternative, is
 * timed on the same reads and writes, to record why the codec has its own zip code.
 *
 * numpy runs in a worker process that times one operation per request, so the runs interleave
 * (ours, adm-zip, numpy, ours, ...) and drift on a shared machine hits all of them alike.
 * Medians of several repeats. A report, not a test: exits 0, and says so when numpy is missing.
 *
 *   npm run build && node --expose-gc scripts/bench/npz.mjs [--repeats 5] [--json FILE]
 *
 * Writes replace an empty file, as a FEDn client pre-creates each output (both sides; replacing
 * a full 60 MB file instead costs either side ~10-30 ms more, freeing its page cache).
 *
 * Goals (issue #2): reads within 1.5x numpy's time, stored writes no slower than numpy's,
 * deflated writes faster than numpy's. numpy deflates at zlib level 6; we default to level 1
 * (same size on float weights), and the level-6 row is there for a like-for-like comparison.
 * The "floor" rows time what any Node reader must do at least: read the file into fresh memory
 * (Node cannot ask for huge pages the way numpy's allocator does) and CRC it.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { crc32 } from "node:zlib";
// Internal modules: the npz codec and the fs edge are measured directly, below the public API.
import { decodeNpy, encodeNpy } from "../../dist/codec/npy.js";
import { encodeNpz } from "../../dist/codec/npz.js";
import { loadNpz, readBytes, saveNpz, writeFileAtomic } from "../../dist/node/io.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PYTHON = process.env.FEDN_TFJS_PYTHON ?? "python3";

const { values: opts } = parseArgs({
  options: {
    repeats: { type: "string", default: "5" },
    json: { type: "string", default: path.join(ROOT, "bench-results/npz.json") },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opts.help) {
  process.stdout.write(
    "node --expose-gc scripts/bench/npz.mjs [--repeats 5] [--json bench-results/npz.json]\n",
  );
  process.exit(0);
}
const REPEATS = Math.max(1, Number.parseInt(opts.repeats, 10) || 5);

/** Model-like float32 arrays, 60.8 MB in all: weights and biases of two big dense layers. */
const SHAPES = [
  ["0", [4096, 3072]],
  ["1", [4096]],
  ["2", [2560, 1024]],
  ["3", [2560]],
];

function makeArrays() {
  // Seeded xorshift, values like trained weights (|w| < 0.05), so deflate sees realistic bytes.
  let s = 0x9e3779b9;
  return SHAPES.map(([key, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      data[i] = ((s >>> 0) / 4294967296 - 0.5) * 0.1;
    }
    return [key, { dtype: "float32", shape, data }];
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timeOnce(fn, target) {
  // Writes replace an empty file, as FEDn pre-creates its outputs (both sides, untimed).
  if (target !== undefined) writeFileSync(target, "");
  globalThis.gc?.();
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const PY_WORKER = `
import json, sys, time
import numpy as np
stored, deflated, outdir = sys.argv[1:4]
def read(p):
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
arrays = read(stored)
ops = {
    "read_stored": (None, lambda: read(stored)),
    "read_deflated": (None, lambda: read(deflated)),
    "write_stored": (outdir + "/np-stored.npz", lambda: np.savez(outdir + "/np-stored.npz", **arrays)),
    "write_deflated": (outdir + "/np-deflated.npz",
                       lambda: np.savez_compressed(outdir + "/np-deflated.npz", **arrays)),
}
print(json.dumps({"numpy": np.__version__}), flush=True)
for line in sys.stdin:
    target, fn = ops[line.strip()]
    if target is not None:
        open(target, "w").close()  # an empty output, as a FEDn client pre-creates it (untimed)
    t = time.perf_counter(); fn(); ms = (time.perf_counter() - t) * 1000
    print(json.dumps(ms), flush=True)
`;

/** A numpy worker: `time(op)` resolves to the milliseconds numpy took for one run of `op`. */
function startNumpy(stored, deflated, work) {
  const child = spawn(PYTHON, ["-c", PY_WORKER, stored, deflated, work], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error("the numpy worker exited");
    return JSON.parse(value);
  };
  return {
    hello: next(),
    async time(op) {
      child.stdin.write(`${op}\n`);
      return next();
    },
    stop() {
      child.stdin.end();
    },
  };
}

async function admZip() {
  try {
    return (await import("adm-zip")).default;
  } catch {
    return undefined;
  }
}

async function main() {
  const work = mkdtempSync(path.join(os.tmpdir(), "npz-bench-"));
  try {
    const arrays = makeArrays();
    const megabytes = arrays.reduce((n, [, a]) => n + a.data.byteLength, 0) / 1e6;
    // numpy writes the two archives every reader is timed on.
    const seed = path.join(work, "seed.npz");
    writeFileSync(seed, encodeNpz(arrays));
    const stored = path.join(work, "stored.npz");
    const deflated = path.join(work, "deflated.npz");
    const gen = spawnSync(
      PYTHON,
      [
        "-c",
        "import numpy as np,sys\nz=dict(np.load(sys.argv[1]))\nnp.savez(sys.argv[2],**z)\nnp.savez_compressed(sys.argv[3],**z)",
        seed,
        stored,
        deflated,
      ],
      { encoding: "utf8" },
    );
    if (gen.status !== 0) {
      const why = gen.error?.message ?? gen.stderr.trim().split("\n").pop();
      process.stdout.write(`npz bench skipped: needs ${PYTHON} with numpy (${why})\n`);
      return;
    }
    const numpy = startNumpy(stored, deflated, work);
    const { numpy: numpyVersion } = await numpy.hello;

    const AdmZip = await admZip();
    const admRead = async (file) => {
      const zip = new AdmZip(await readBytes(file));
      const out = new Map();
      for (const e of zip.getEntries()) out.set(e.entryName, decodeNpy(e.getData(), e.entryName));
      return out;
    };
    const npyBodies = arrays.map(([key, a]) => [key, Buffer.from(encodeNpy(a))]);
    const admWrite = async (file, method) => {
      const zip = new AdmZip();
      for (const [key, body] of npyBodies) {
        zip.addFile(`${key}.npy`, body);
        zip.getEntry(`${key}.npy`).header.method = method;
      }
      await writeFileAtomic(path.join(work, file), zip.toBuffer());
    };

    /** [label, ours, adm-zip, numpy op, goal (max ratio ours/numpy)] */
    const ops = [
      [
        "read stored (np.savez file)",
        () => loadNpz(stored),
        () => admRead(stored),
        "read_stored",
        1.5,
      ],
      [
        "read deflated (savez_compressed)",
        () => loadNpz(deflated),
        () => admRead(deflated),
        "read_deflated",
        1.5,
      ],
      [
        "write stored",
        () => saveNpz(path.join(work, "ts-stored.npz"), arrays),
        () => admWrite("adm-stored.npz", 0),
        "write_stored",
        1.0,
      ],
      [
        "write deflated (ours: level 1)",
        () => saveNpz(path.join(work, "ts-deflated.npz"), arrays, { compress: true }),
        () => admWrite("adm-deflated.npz", 8),
        "write_deflated",
        1.0,
      ],
      [
        "write deflated, level 6 like numpy",
        () => saveNpz(path.join(work, "ts-deflated6.npz"), arrays, { compress: true, level: 6 }),
        undefined,
        "write_deflated",
        undefined,
      ],
      ["(floor) readBytes", () => readBytes(stored), undefined, "read_stored", undefined],
      [
        "(floor) readBytes + zlib.crc32",
        async () => crc32(await readBytes(stored)),
        undefined,
        "read_stored",
        undefined,
      ],
    ];
    /** The output each write op replaces, [ours, adm-zip], made an empty file before each run. */
    const at = (f) => path.join(work, f);
    const targets = [
      undefined,
      undefined,
      [at("ts-stored.npz"), at("adm-stored.npz")],
      [at("ts-deflated.npz"), at("adm-deflated.npz")],
      [at("ts-deflated6.npz")],
    ];
    const runs = ops.map(() => ({ ours: [], adm_zip: [], numpy: [] }));
    for (let r = 0; r < REPEATS; r++) {
      for (const [i, [, ours, adm, op]] of ops.entries()) {
        runs[i].ours.push(await timeOnce(ours, targets[i]?.[0]));
        if (adm !== undefined && AdmZip !== undefined) {
          runs[i].adm_zip.push(await timeOnce(adm, targets[i]?.[1]));
        }
        runs[i].numpy.push(await numpy.time(op));
      }
    }
    numpy.stop();

    const size = (f) => statSync(path.join(work, f)).size / 1e6;
    const sizes = {
      numpy_deflated_mb: size("np-deflated.npz"),
      ours_deflated_level1_mb: size("ts-deflated.npz"),
      ours_deflated_level6_mb: size("ts-deflated6.npz"),
      stored_mb: size("ts-stored.npz"),
    };
    // Our files must load in numpy to the same arrays: checked once, outside the timings.
    const check = spawnSync(
      PYTHON,
      [
        "-c",
        "import numpy as np,sys\nr=dict(np.load(sys.argv[1]))\nfor p in sys.argv[2:]:\n  z=np.load(p,allow_pickle=False)\n  assert sorted(z.files)==sorted(r) and all(np.array_equal(z[k],r[k]) for k in r), p\nprint('ok')",
        stored,
        ...["ts-stored.npz", "ts-deflated.npz", "ts-deflated6.npz"].map((f) => path.join(work, f)),
      ],
      { encoding: "utf8" },
    );
    const verified = check.status === 0 && check.stdout.trim() === "ok";

    const fmt = (xs) => (xs.length === 0 ? "-" : median(xs).toFixed(0));
    const lines = [
      `npz codec vs numpy ${numpyVersion}: ${megabytes.toFixed(1)} MB float32, median of ${REPEATS} interleaved runs (ms, file I/O included)`,
      `${"operation".padEnd(36)} ${"ours".padStart(6)} ${"adm-zip".padStart(8)} ${"numpy".padStart(6)} ${"ours/numpy".padStart(11)}  goal`,
    ];
    const summary = ops.map(([what, , , , goal], i) => {
      const r = runs[i];
      const ratio = median(r.ours) / median(r.numpy);
      const met = goal === undefined ? "" : `<= ${goal}x ${ratio <= goal ? "met" : "MISSED"}`;
      lines.push(
        `${what.padEnd(36)} ${fmt(r.ours).padStart(6)} ${fmt(r.adm_zip).padStart(8)} ${fmt(r.numpy).padStart(6)} ${ratio.toFixed(2).padStart(11)}  ${met}`,
      );
      return {
        operation: what,
        ours_ms: median(r.ours),
        adm_zip_ms: r.adm_zip.length === 0 ? null : median(r.adm_zip),
        numpy_ms: median(r.numpy),
        ratio,
        goal: goal ?? null,
        met: goal === undefined ? null : ratio <= goal,
      };
    });
    lines.push(
      `deflated size (MB): numpy ${sizes.numpy_deflated_mb.toFixed(2)}, ours level 1 ${sizes.ours_deflated_level1_mb.toFixed(2)}, level 6 ${sizes.ours_deflated_level6_mb.toFixed(2)}; stored ${sizes.stored_mb.toFixed(2)}`,
      `our archives load in numpy to the same arrays: ${verified ? "yes" : "NO"}`,
    );
    process.stdout.write(`${lines.join("\n")}\n`);
    mkdirSync(path.dirname(opts.json), { recursive: true });
    const report = {
      megabytes,
      repeats: REPEATS,
      node: process.version,
      numpy: numpyVersion,
      cpus: os.cpus().length,
      loadavg: os.loadavg(),
      summary,
      sizes,
      verified,
      runs: Object.fromEntries(ops.map(([what], i) => [what, runs[i]])),
    };
    writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
