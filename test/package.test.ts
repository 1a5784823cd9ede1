import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FormatError, IoError, UsageError } from "../src/errors.js";
import { findPackage, parsePackageConfig } from "../src/fedn/config.js";
import { fnmatch, isIgnored, parseFednignore } from "../src/fedn/fednignore.js";
import { type CliContext, type Program, runCli } from "../src/kit/cli.js";
import { createPackage, listPackageFiles } from "../src/tools/archive.js";
import packageCreate from "../src/tools/package.js";
import packageBuild from "../src/tools/package-build.js";
import { PYTHON } from "./fixtures/python.js";

describe("fnmatch (Python's, as FEDn's .fednignore uses it)", () => {
  const cases: [string, string][] = [
    ["data", "data"],
    ["data", "dat"],
    ["dist/x.map", "*.map"],
    ["a/b/c.py", "a/*.py"],
    ["a.pyc", "*.py[co]"],
    ["a.pyd", "*.py[co]"],
    ["a.pyd", "*.py[!co]"],
    ["x", "?"],
    ["xy", "?"],
    ["[x", "[x"],
    ["a]", "a]"],
    ["]", "[]]"],
    ["-", "[a-]"],
    ["b", "[a-c]"],
    ["d", "[a-c]"],
    ["!", "[!]"],
    [".hidden", "*"],
    ["a.b", "a?b"],
    ["a\\b", "a\\b"],
    ["a+b(c)", "a+b(c)"],
    ["Data", "data"],
    ["node_modules", "node_*"],
    ["a\nb", "a*b"],
    ["x^y", "[^x]^y"],
    ["^^y", "[^x]^y"],
  ];

  it("agrees with python3's fnmatch.fnmatchcase on every case", () => {
    const script =
      "import fnmatch, json, sys\nprint(json.dumps([fnmatch.fnmatchcase(n, p) for n, p in json.load(sys.stdin)]))";
    const expected = JSON.parse(
      execFileSync(PYTHON, ["-c", script], { input: JSON.stringify(cases), encoding: "utf8" }),
    ) as boolean[];
    expect(cases.map(([name, pattern]) => fnmatch(name, pattern))).toEqual(expected);
  });

  it("agrees with python3's fnmatch on random patterns and names (property, one python call)", () => {
    const pattern = fc.stringMatching(/^[abcz*?[\]!\-/.^\\&|~]{0,10}$/);
    const name = fc.stringMatching(/^[abcz\\\-/.!^\][&|~]{0,8}$/);
    const cases = fc.sample(fc.tuple(name, pattern), { numRuns: 2000, seed: 20260101 });
    const script =
      "import fnmatch, json, sys\nprint(json.dumps([fnmatch.fnmatchcase(n, p) for n, p in json.load(sys.stdin)]))";
    const expected = JSON.parse(
      execFileSync(PYTHON, ["-c", script], { input: JSON.stringify(cases), encoding: "utf8" }),
    ) as boolean[];
    const mismatches = cases.filter(([n, p], i) => fnmatch(n, p) !== expected[i]);
    expect(mismatches).toEqual([]);
    // Not a vacuous agreement: some names do match (40 with this seed).
    expect(expected.filter(Boolean).length).toBeGreaterThan(25);
  });

  it("ignores by relative path or base name, and reads .fednignore as FEDn does", () => {
    expect(
      parseFednignore("# comment\n\ndata\n  *.log  \n #not a comment\r\nnode_modules\n"),
    ).toEqual(["data", "*.log", "#not a comment", "node_modules"]);
    expect(isIgnored("data", ["data"])).toBe(true);
    expect(isIgnored("sub/data", ["data"])).toBe(true);
    expect(isIgnored("dist/x.log", ["*.log"])).toBe(true);
    expect(isIgnored("dist/sub/x.js", ["dist/*.js"])).toBe(true);
    expect(isIgnored("src/dist/x.js", ["dist/*.js"])).toBe(false);
    expect(isIgnored("dataset.py", ["data"])).toBe(false);
  });
});

describe("parsePackageConfig", () => {
  it("reads entry_points.<name>.command and python_env, as FEDn's safe loader does", async () => {
    const config = await parsePackageConfig(
      [
        "# comment",
        "python_env: python_env.yaml",
        "entry_points:",
        "  train:",
        "    command: 'node dist/entrypoint.js train $ENTRYPOINT_OPTS'",
        "  validate: {command: node dist/entrypoint.js validate}",
        "  predict:",
        "    command: >-",
        "      node dist/entrypoint.js",
        "      predict",
      ].join("\n"),
    );
    expect(config).toEqual({
      entryPoints: {
        train: "node dist/entrypoint.js train $ENTRYPOINT_OPTS",
        validate: "node dist/entrypoint.js validate",
        predict: "node dist/entrypoint.js predict",
      },
      pythonEnv: "python_env.yaml",
    });
  });

  it.each([
    ["not YAML", "entry_points: [a", /f\.yaml: not valid YAML/],
    ["a list", "- a\n- b", /f\.yaml: expected a mapping with "entry_points", found a list/],
    [
      "no entry points",
      "python_env: x",
      /"entry_points" must be a mapping of names to \{command: \.\.\.\}, found nothing/,
    ],
    [
      "a command that is a number",
      "entry_points:\n  train:\n    command: 3",
      /entry point "train" needs a non-empty string "command", found number 3/,
    ],
    [
      "an entry without command",
      "entry_points:\n  train: python train.py",
      /entry point "train" needs a non-empty string "command", found string "python train.py"/,
    ],
    [
      "duplicate keys",
      "entry_points:\n  a: {command: x}\n  a: {command: y}",
      /not valid YAML: Map keys must be unique/,
    ],
  ])("rejects %s with a FormatError naming the file", async (_, text, message) => {
    await expect(parsePackageConfig(text, "f.yaml")).rejects.toThrow(FormatError);
    await expect(parsePackageConfig(text, "f.yaml")).rejects.toThrow(message);
  });

  it("reads this project's client/fedn.yaml: node commands, $ENTRYPOINT_OPTS where FEDn passes paths", async () => {
    const file = join(dirname(fileURLToPath(import.meta.url)), "..", "client", "fedn.yaml");
    const config = await parsePackageConfig(readFileSync(file, "utf8"), file);
    expect(config.pythonEnv).toBeUndefined();
    expect(config.entryPoints).toEqual({
      build: "node dist/entrypoint.js init_seed ../seed.npz",
      startup: "node dist/startup.js $ENTRYPOINT_OPTS",
      train: "node dist/entrypoint.js train $ENTRYPOINT_OPTS",
      validate: "node dist/entrypoint.js validate $ENTRYPOINT_OPTS",
      predict: "node dist/entrypoint.js predict $ENTRYPOINT_OPTS",
    });
  });

  it("findPackage takes the first folder holding fedn.yaml or scaleout.yaml, top-down", async () => {
    const root = mkdtempSync(join(tmpdir(), "find-"));
    mkdirSync(join(root, "b", "deep"), { recursive: true });
    mkdirSync(join(root, "a"));
    writeFileSync(join(root, "b", "deep", "fedn.yaml"), "");
    writeFileSync(join(root, "b", "scaleout.yaml"), "");
    expect(await findPackage(root)).toEqual({
      dir: join(root, "b"),
      file: join(root, "b", "scaleout.yaml"),
    });
    writeFileSync(join(root, "fedn.yaml"), "");
    expect((await findPackage(root)).dir).toBe(root);
    const empty = mkdtempSync(join(tmpdir(), "find-empty-"));
    await expect(findPackage(empty)).rejects.toThrow(IoError);
    await expect(findPackage(empty)).rejects.toThrow(
      "no fedn.yaml (or scaleout.yaml) in it or any folder below it",
    );
  });
});

/** A package folder with files to keep and files .fednignore must drop. */
function samplePackage(): string {
  const dir = mkdtempSync(join(tmpdir(), "pkg-src-"));
  const files: Record<string, string> = {
    "fedn.yaml": "entry_points:\n  train:\n    command: sh train.sh\n",
    ".fednignore": "# ignored\ndata\n*.log\ndist/*.map\nsecret.txt\n",
    "train.sh": "echo train\n",
    "dist/entrypoint.js": "console.log(1)\n",
    "dist/entrypoint.js.map": "{}",
    "dist/sub/keep.wasm": "wasm",
    "data/clients/1/mnist.npz": "x",
    "sub/data": "a file named data",
    "sub/run.log": "log",
    "sub/secret.txt": "s",
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  symlinkSync(join(dir, "dist"), join(dir, "linked-dir"));
  return dir;
}

describe("createPackage / fedn-tfjs package create", () => {
  it("writes a .tgz under client/ without what .fednignore names; Python's tarfile reads it", async () => {
    const src = samplePackage();
    expect(
      await listPackageFiles(src, parseFednignore(readFileSync(join(src, ".fednignore"), "utf8"))),
    ).toEqual([".fednignore", "dist/entrypoint.js", "dist/sub/keep.wasm", "fedn.yaml", "train.sh"]);
    const out = mkdtempSync(join(tmpdir(), "pkg-out-"));
    const created = await createPackage({ path: src, output: out, name: "my.tgz" });
    expect(created.file).toBe(join(out, "my.tgz"));
    expect(created.entries).toEqual([
      "client/.fednignore",
      "client/dist/entrypoint.js",
      "client/dist/sub/keep.wasm",
      "client/fedn.yaml",
      "client/train.sh",
    ]);
    const listing = execFileSync(
      PYTHON,
      [
        "-c",
        "import sys, tarfile\nt = tarfile.open(sys.argv[1], 'r:gz')\nprint('\\n'.join(f'{m.name} {m.size} {m.uid}' for m in t.getmembers()))\nprint(t.extractfile('client/train.sh').read().decode(), end='')",
        created.file,
      ],
      { encoding: "utf8" },
    );
    expect(listing).toBe(
      "client/.fednignore 43 0\nclient/dist/entrypoint.js 15 0\nclient/dist/sub/keep.wasm 4 0\nclient/fedn.yaml 48 0\nclient/train.sh 11 0\necho train\n",
    );
  });

  it("is the package create command, with FEDn's -p/-n/-o", async () => {
    const src = samplePackage();
    const out = mkdtempSync(join(tmpdir(), "pkg-cmd-"));
    let text = "";
    const ctx: CliContext = {
      stdout: { write: (s: string) => (text += s) },
      stderr: { write: (s: string) => (text += s) },
      env: {},
      cwd: out,
    };
    const program: Program = {
      name: "fedn-tfjs",
      version: "0",
      describe: "",
      commands: [packageCreate],
    };
    expect(await runCli(program, ["package", "create", "-p", src], ctx)).toBe(0);
    expect(text).toMatch(new RegExp(`^${join(out, "package.tgz")}: 5 files, [0-9.]+ KiB\\n$`));
    text = "";
    expect(await runCli(program, ["package", "create", "-p", src, "-n", "p.tar.gz"], ctx)).toBe(2);
    expect(text).toContain(
      "package name must end in .tgz (FEDn's server renames uploads and mangles .tar.gz)",
    );
  });

  it("never packs its own archive: rerunning with the default -p . -o . and no .fednignore", async () => {
    const src = samplePackage();
    rmSync(join(src, ".fednignore"));
    try {
      let text = "";
      const ctx: CliContext = {
        stdout: { write: (s: string) => (text += s) },
        stderr: { write: (s: string) => (text += s) },
        env: {},
        cwd: src,
      };
      const program: Program = {
        name: "fedn-tfjs",
        version: "0",
        describe: "",
        commands: [packageCreate],
      };
      const tar = (file: string) =>
        execFileSync("tar", ["tzf", file], { encoding: "utf8" }).trim().split("\n").sort();
      expect(await runCli(program, ["package", "create"], ctx)).toBe(0);
      const first = tar(join(src, "package.tgz"));
      expect(first).not.toContain("client/package.tgz");
      // A temporary file a killed run left behind is not packed either; other archives are.
      writeFileSync(join(src, ".package.tgz.123.1700000000000.tmp"), "partial");
      writeFileSync(join(src, "sub", "package.tgz"), "not the output");
      expect(await runCli(program, ["package", "create", "-p", ".", "-o", "."], ctx)).toBe(0);
      expect(text).toMatch(/^\S+package\.tgz: 9 files, [0-9.]+ KiB\n\S+package\.tgz: 10 files/);
      expect(tar(join(src, "package.tgz"))).toEqual([...first, "client/sub/package.tgz"].sort());
      // The same when the output folder is a subfolder of the package.
      mkdirSync(join(src, "out"));
      await createPackage({ path: src, output: join(src, "out"), name: "p.tgz" });
      const again = await createPackage({ path: src, output: join(src, "out"), name: "p.tgz" });
      expect(again.entries).not.toContain("client/out/p.tgz");
      expect(again.entries).toContain("client/package.tgz");
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });

  it("refuses a folder without fedn.yaml, a missing output folder, and an ignored fedn.yaml", async () => {
    const src = samplePackage();
    const empty = mkdtempSync(join(tmpdir(), "pkg-empty-"));
    await expect(createPackage({ path: empty, output: empty })).rejects.toThrow(
      `could not find fedn.yaml (or scaleout.yaml) in ${empty}`,
    );
    await expect(createPackage({ path: src, output: join(empty, "nope") })).rejects.toThrow(
      `output folder ${join(empty, "nope")} does not exist`,
    );
    writeFileSync(join(src, ".fednignore"), "*.yaml\n");
    await expect(createPackage({ path: src, output: empty })).rejects.toThrow(UsageError);
    await expect(createPackage({ path: src, output: empty })).rejects.toThrow(
      "fedn.yaml is ignored by the package's ignore file",
    );
  });
});

describe("fedn-tfjs package build", () => {
  const program: Program = {
    name: "fedn-tfjs",
    version: "0",
    describe: "",
    commands: [packageBuild],
  };
  function recorder(cwd: string) {
    let out = "";
    let err = "";
    const ctx: CliContext = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      env: {},
      cwd,
    };
    return { ctx, out: () => out, err: () => err };
  }

  it("bundles a package's entry file with the wasm files beside it; the bundle runs with bare node", async () => {
    const dir = mkdtempSync(join(tmpdir(), "package-build-"));
    const index = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");
    writeFileSync(
      join(dir, "entry.js"),
      [
        `import { defineComputePackage, denseStack, mnistNpz } from ${JSON.stringify(index)};`,
        "defineComputePackage({ name: 'two', describe: 'A two-layer test package', dataFile: 'd.npz',",
        "  data: mnistNpz({ features: 4, classes: 2 }), model: denseStack({ units: [4, 2] }),",
        "  defaults: { batchSize: 2, epochs: 1, lr: 0.1 } }).main();",
      ].join("\n"),
    );
    const r = recorder(dir);
    expect(await runCli(program, ["package", "build", "entry.js", "-o", "out"], r.ctx)).toBe(0);
    expect(r.out()).toContain(`${join(dir, "out")}/entrypoint.js: `);
    const files = readdirSync(join(dir, "out"));
    for (const f of ["entrypoint.js", "package.json", "tfjs-backend-wasm-simd.wasm"]) {
      expect(files).toContain(f);
    }
    const help = execFileSync(process.execPath, [join(dir, "out", "entrypoint.js"), "--help"], {
      cwd: tmpdir(),
      encoding: "utf8",
    });
    expect(help).toContain("A two-layer test package");
    execFileSync(process.execPath, [join(dir, "out", "entrypoint.js"), "init_seed", "s.npz"], {
      cwd: dir,
    });
    expect(readdirSync(dir)).toContain("s.npz");
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("names a missing entry file in one line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "package-build-missing-"));
    const r = recorder(dir);
    expect(await runCli(program, ["package", "build", "nope.ts"], r.ctx)).toBe(1);
    expect(r.err()).toBe(
      `fedn-tfjs package build: ${join(dir, "nope.ts")}: no such file (the entrypoint program to bundle)\n`,
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
