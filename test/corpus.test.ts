/**
 * The bad-input corpus (issue #8): test/corpus/make_corpus.py writes 200+ hostile or careless
 * inputs with numpy (model, data and metadata files, arguments, outputs, package folders and
 * archives), and each runs through the built CLI (dist/entrypoint.js, dist/cli.js) with its own
 * TMPDIR and a pre-created empty output. Each must: exit with the expected status, print exactly
 * one line on stderr (plus the `usage:` line for usage errors) that names the file, key or option
 * at fault, print no stack trace and no "unexpected error", leave the empty output empty, and
 * leave nothing in its TMPDIR or its folder.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { numpyMissing, PYTHON } from "./fixtures/python.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PROGRAMS = {
  entry: join(ROOT, "dist", "bin", "entrypoint.js"),
  cli: join(ROOT, "dist", "bin", "cli.js"),
} as const;
const noNumpy = numpyMissing();
const CONCURRENCY = 6;

interface Case {
  name: string;
  program: keyof typeof PROGRAMS;
  args: string[];
  status: number;
  /** The line names at least one of these. */
  mention: string[];
  env: Record<string, string>;
  /** A variation run only in the long version. */
  long: boolean;
}

let dir: string;
let cases: Case[];

beforeAll(() => {
  if (noNumpy) return;
  dir = mkdtempSync(join(tmpdir(), "corpus-"));
  const made = spawnSync(PYTHON, [join(ROOT, "test", "corpus", "make_corpus.py"), dir], {
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(`make_corpus.py failed: ${made.stderr}`);
  const all = JSON.parse(readFileSync(join(dir, "cases.json"), "utf8")) as Case[];
  // The long version (FEDN_TFJS_LONG=1) adds more variations of the same mistakes.
  cases = process.env.FEDN_TFJS_LONG ? all : all.filter((c) => !c.long);
}, 120_000);

/** Every file and folder under `path`, relative to it. */
function listing(path: string, prefix = ""): string[] {
  return readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? [`${prefix}${e.name}/`, ...listing(join(path, e.name), `${prefix}${e.name}/`)]
      : [`${prefix}${e.name}`],
  );
}

async function runCase(c: Case, index: number): Promise<string[]> {
  const caseDir = join(dir, "cases", String(index));
  const tmp = join(caseDir, "tmp");
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(caseDir, "out"), "");
  const fill = (s: string) => s.replaceAll("{D}", dir).replaceAll("{C}", caseDir);
  const env: Record<string, string | undefined> = {
    ...process.env,
    TMPDIR: tmp,
    FEDN_DATA_PATH: "",
    FEDN_TFJS_BACKEND: "cpu",
  };
  for (const [k, v] of Object.entries(c.env)) env[k] = fill(v);
  const { status, stderr } = await new Promise<{ status: number | null; stderr: string }>(
    (done) => {
      const child = spawn(process.execPath, [PROGRAMS[c.program], ...c.args.map(fill)], {
        cwd: caseDir,
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        err += s;
      });
      child.on("close", (code) => done({ status: code, stderr: err }));
    },
  );
  const problems: string[] = [];
  const lines = stderr.split("\n").filter((l) => l !== "" && !l.startsWith("usage: "));
  if (status !== c.status) problems.push(`exit ${status}, expected ${c.status}`);
  if (lines.length !== 1) problems.push(`${lines.length} stderr lines`);
  const line = fill(lines[0] ?? "");
  if (!c.mention.some((m) => line.includes(m))) {
    problems.push(`does not name ${JSON.stringify(c.mention)}`);
  }
  if (/\n\s+at |unexpected error/.test(stderr)) problems.push("stack trace or unexpected error");
  if (statSync(join(caseDir, "out")).size !== 0) problems.push("the empty output changed");
  const leftInTmp = listing(tmp);
  if (leftInTmp.length > 0) problems.push(`left in TMPDIR: ${leftInTmp.slice(0, 3).join(", ")}`);
  const stray = listing(caseDir).filter((p) => p !== "out" && p !== "tmp/");
  if (stray.length > 0) problems.push(`left in its folder: ${stray.slice(0, 3).join(", ")}`);
  return problems.length === 0
    ? []
    : [`${c.name}: ${problems.join("; ")} | stderr: ${stderr.trim().slice(0, 300)}`];
}

describe.skipIf(noNumpy)(`bad-input corpus through the built CLI ${noNumpy}`, () => {
  it("has at least 150 cases over models, data, metadata, arguments, outputs and packages", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    const kinds = new Set(cases.map((c) => c.name.split("/")[0]));
    for (const kind of ["model", "data", "metadata", "args", "output", "package", "run"]) {
      expect(kinds).toContain(kind);
    }
    expect(existsSync(PROGRAMS.entry) && existsSync(PROGRAMS.cli)).toBe(true);
  });

  it("fails every case cleanly: status, one line naming the culprit, outputs and TMPDIR untouched", async () => {
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const index = next++;
        failures.push(...(await runCase(cases[index] as Case, index)));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures).toEqual([]);
  }, 300_000);
});
