/**
 * Memory from small files (issue #8, finding 5): test/corpus/make_bombs.py writes a 2 MB model
 * whose member inflates to 1.9 GiB, a 2 MB model of seven 290 MiB members, and a 3 MB package
 * holding a 3 GiB file. Each must be refused in one line, with the child's peak RSS (measured by
 * `/usr/bin/time -f %M`) under 300 MB: the model's member count and `.npy` headers are checked
 * before any data is inflated, and a package is extracted as a stream within byte budgets.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { numpyMissing, PYTHON, python } from "./fixtures/python.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TIME = "/usr/bin/time";
const missing = numpyMissing() || (existsSync(TIME) ? "" : `needs ${TIME} (apt package time)`);
const LIMIT_KB = 300 * 1024;

let dir: string;
let seed: string;
let data: string;

beforeAll(() => {
  if (missing) return;
  dir = mkdtempSync(join(tmpdir(), "bombs-"));
  const made = spawnSync(PYTHON, [join(ROOT, "test", "corpus", "make_bombs.py"), dir], {
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(`make_bombs.py failed: ${made.stderr}`);
  seed = join(dir, "seed.npz");
  data = join(dir, "data.npz");
  spawnSync(process.execPath, [join(ROOT, "dist", "bin", "entrypoint.js"), "init_seed", seed]);
  python(
    `r = np.random.default_rng(0)
np.savez(sys.argv[1], x_train=r.integers(0, 256, (8, 28, 28), dtype=np.uint8), y_train=r.integers(0, 10, 8),
  x_test=r.integers(0, 256, (8, 28, 28), dtype=np.uint8), y_test=r.integers(0, 10, 8))`,
    [data],
  );
}, 120_000);

/** Runs a built program under /usr/bin/time; returns status, stderr and peak RSS in KB. */
function measured(args: string[], tmp: string) {
  const rss = join(tmp, "..", `rss-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync(TIME, ["-f", "%M", "-o", rss, process.execPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, TMPDIR: tmp, FEDN_DATA_PATH: "" },
  });
  return {
    status: r.status,
    stderr: r.stderr,
    kb: Number(readFileSync(rss, "utf8").trim().split("\n").pop()),
  };
}

describe.skipIf(missing)(`bombs are refused early, with flat memory ${missing}`, () => {
  const entry = () => join(ROOT, "dist", "bin", "entrypoint.js");
  const cases: [string, () => string[], string][] = [
    [
      "a model member that inflates to 1.9 GiB",
      () => [
        entry(),
        "validate",
        join(dir, "model-bomb.npz"),
        join(dir, "o1"),
        "--data_path",
        data,
      ],
      'weights "0" has shape (64, 7782400)',
    ],
    [
      "seven members of 290 MiB",
      () => [
        entry(),
        "validate",
        join(dir, "model-seven.npz"),
        join(dir, "o2"),
        "--data_path",
        data,
      ],
      "holds 7 arrays; the model expects 6",
    ],
    [
      "a 3 MB package holding a 3 GiB file",
      () => [
        join(ROOT, "dist", "bin", "cli.js"),
        "run",
        "validate",
        "-p",
        join(dir, "package-bomb.tgz"),
        "-i",
        seed,
      ],
      "package-bomb.tgz",
    ],
  ];
  it.each(cases)("%s: one line, exit 1, peak RSS under 300 MB, nothing left", (_, args, text) => {
    const tmp = join(dir, `tmp-${Math.random().toString(36).slice(2)}`);
    mkdirSync(tmp);
    const r = measured(args(), tmp);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(text);
    expect(r.kb).toBeGreaterThan(0);
    expect(r.kb).toBeLessThan(LIMIT_KB);
    expect(readdirSync(tmp)).toEqual([]);
    writeFileSync(join(dir, "rss.log"), `${args()[1]} ${r.kb}\n`, { flag: "a" });
  });
});
