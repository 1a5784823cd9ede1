import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { NdArray } from "../src/codec/ndarray.js";
import { DataError, FormatError, IoError, ShapeError, UsageError } from "../src/errors.js";
import { encodeModel } from "../src/fedn/numpyhelper.js";
import { type CliContext, type Program, runCli } from "../src/kit/cli.js";
import { createPackage } from "../src/tools/archive.js";
import { runEntryPoint } from "../src/tools/entry-point.js";
import run from "../src/tools/run.js";

const FEDN_YAML = `entry_points:
  train:
    command: sh fake.sh train
  validate:
    command: sh fake.sh validate
  predict:
    command: sh fake.sh predict
  startup:
    command: echo "startup in $(pwd) with X=$X"
  which_shell:
    command: 'if [ -n "$BASH_VERSION" ]; then echo bash; else echo sh; fi;'
`;

// A fake entry point: $1 entry, $2 in, $3 out; $MODE picks what it leaves behind.
const FAKE_SH = `in=$2; out=$3
meta='{"num_examples": 7, "lr": 0.1}'
case "$MODE" in
  good) cp good.npz "$out"; echo "$meta" > "$out-metadata";;
  spy) { echo "in=$in"; cat "$in-metadata" 2>/dev/null || printf "no settings"; echo; test -f "$out" && ! test -s "$out" && echo "out empty"; } > "$SPY"; cp good.npz "$out"; echo "$meta" > "$out-metadata";;
  empty) echo "$meta" > "$out-metadata";;
  no-metadata) cp good.npz "$out";;
  no-num) cp good.npz "$out"; echo '{"lr": 0.1}' > "$out-metadata";;
  zero) cp good.npz "$out"; echo '{"num_examples": 0}' > "$out-metadata";;
  nested) cp good.npz "$out"; echo '{"num_examples": 7, "extra": {"a": 1}}' > "$out-metadata";;
  shape) cp shape.npz "$out"; echo "$meta" > "$out-metadata";;
  count) cp one.npz "$out"; echo "$meta" > "$out-metadata";;
  nan) cp nan.npz "$out"; echo "$meta" > "$out-metadata";;
  not-model) echo hello > "$out"; echo "$meta" > "$out-metadata";;
  fail) echo "failing on purpose" >&2; exit 3;;
  metrics) echo '{"test_accuracy": 0.5, "test_loss": 1.25}' > "$out";;
  nan-metrics) echo '{"test_accuracy": NaN, "test_loss": Infinity, "low": -Infinity, "note": 0.5}' > "$out";;
  nan-string) echo '{"test_accuracy": "NaN"}' > "$out";;
  not-json) printf 'line one\nline two {\n' > "$out";;
  bad-metrics) echo '{"test_accuracy": "high"}' > "$out";;
  list) echo '[1, 2]' > "$out";;
  prediction) echo '{"predicted_class": [1, 2]}' > "$out";;
esac
`;

function f32(shape: number[], value: number): NdArray<"float32"> {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "float32", shape, data: new Float32Array(n).fill(value) };
}

// A startup that writes what train needs: run first for a .tgz, as FEDn's client does.
const STARTUP_YAML = `entry_points:
  startup:
    command: sh startup.sh
  train:
    command: sh train.sh
  build:
    command: if test -f data/made.npz; then echo "startup ran"; else echo "no startup"; fi;
`;
const STARTUP_SH = `if [ -n "$FAIL_STARTUP" ]; then echo "startup failing" >&2; exit 4; fi
mkdir -p data && cp good.npz data/made.npz && echo "startup ran in $(pwd)"
`;
const TRAIN_SH = `cp data/made.npz "$2" && echo '{"num_examples": 1}' > "$2-metadata"
`;

let tmp: string;
let pkg: string;
let seed: string;

// Everything the tests and runEntryPoint write (mkstemp outputs, unpacked packages, packages,
// seeds) goes to a private temporary folder, removed afterwards: nothing is left in /tmp.
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "run-test-"));
  vi.stubEnv("TMPDIR", tmp);
  expect(tmpdir()).toBe(tmp);
  pkg = mkdtempSync(join(tmpdir(), "run-pkg-"));
  writeFileSync(join(pkg, "fedn.yaml"), FEDN_YAML);
  writeFileSync(join(pkg, "fake.sh"), FAKE_SH);
  writeFileSync(join(pkg, "good.npz"), encodeModel([f32([3, 2], 0.5), f32([3], 1)]));
  writeFileSync(join(pkg, "shape.npz"), encodeModel([f32([2, 3], 0.5), f32([3], 1)]));
  writeFileSync(join(pkg, "one.npz"), encodeModel([f32([3, 2], 0.5)]));
  writeFileSync(join(pkg, "nan.npz"), encodeModel([f32([3, 2], 0.5), f32([3], Number.NaN)]));
  seed = join(mkdtempSync(join(tmpdir(), "run-seed-")), "seed.npz");
  writeFileSync(seed, encodeModel([f32([3, 2], 0), f32([3], 0)]));
});

afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(tmp, { recursive: true, force: true });
});

function sink() {
  let text = "";
  return { write: (s: string) => (text += s), text: () => text };
}

describe("runEntryPoint", () => {
  it("runs train as FEDn: temp .npz input with {} client settings, empty output, checks both files", async () => {
    const spy = join(mkdtempSync(join(tmpdir(), "spy-")), "spy.txt");
    const result = await runEntryPoint({
      entry: "train",
      path: pkg,
      input: seed,
      env: { MODE: "spy", SPY: spy },
    });
    expect(result.exitCode).toBe(0);
    expect(result.dir).toBe(pkg);
    const output = result.output as string;
    expect(output).toMatch(/\/tmp[0-9a-f]{12}\.npz$/);
    const [shell, flag, line] = result.argv;
    expect([shell, flag]).toEqual(["bash", "-c"]);
    expect(line).toMatch(
      /^sh fake\.sh train \/.*\/tmp[0-9a-f]{12}\.npz \/.*\/tmp[0-9a-f]{12}\.npz$/,
    );
    const [inLine, settings, empty] = readFileSync(spy, "utf8").trim().split("\n");
    expect(inLine).toMatch(/^in=.*tmp[0-9a-f]{12}\.npz$/);
    expect(settings).toBe("{}");
    expect(empty).toBe("out empty");
    // FEDn deletes the input copy and its metadata afterwards.
    expect(existsSync((inLine as string).slice(3))).toBe(false);
    expect(existsSync(`${(inLine as string).slice(3)}-metadata`)).toBe(false);
    expect(result.checks).toEqual([
      `model ${output}: 2 float32 arrays, shapes match the input`,
      `metadata ${output}-metadata: {"num_examples": 7, "lr": 0.1}`,
    ]);
  });

  it("passes client settings, truncates a given output and drops its stale metadata", async () => {
    const dir = mkdtempSync(join(tmpdir(), "run-out-"));
    const spy = join(dir, "spy.txt");
    const output = join(dir, "model.npz");
    writeFileSync(output, "old contents");
    writeFileSync(`${output}-metadata`, '{"num_examples": 99}');
    await expect(
      runEntryPoint({ entry: "train", path: pkg, input: seed, output, env: { MODE: "empty" } }),
    ).rejects.toThrow(`output model ${output} is empty: the entry point did not write it`);
    writeFileSync(`${output}-metadata`, '{"num_examples": 99}');
    await expect(
      runEntryPoint({
        entry: "train",
        path: pkg,
        input: seed,
        output,
        env: { MODE: "no-metadata" },
      }),
    ).rejects.toThrow(
      `train did not write ${output}-metadata: FEDn reads the training metadata (num_examples) from it`,
    );
    const result = await runEntryPoint({
      entry: "train",
      path: pkg,
      input: seed,
      output,
      clientSettings: { learning_rate: 0.5 },
      env: { MODE: "spy", SPY: spy },
    });
    expect(result.output).toBe(output);
    expect(readFileSync(spy, "utf8").split("\n")[1]).toBe('{"learning_rate":0.5}');
  });

  it.each([
    ["not-model", FormatError, /\.npz: not a zip archive/],
    ["shape", ShapeError, /array "0" has shape \(2, 3\); the input has \(3, 2\)/],
    ["count", ShapeError, /has 1 arrays; the input model has 2/],
    [
      "nan",
      DataError,
      /array "1" holds a non-finite value at element 0; it would poison the global model/,
    ],
    [
      "no-num",
      DataError,
      /"num_examples" must be a positive number \(FedAvg weights each update by it\), found nothing/,
    ],
    ["zero", DataError, /"num_examples" must be a positive number .* found 0/],
    ["nested", DataError, /must be a flat JSON object; "extra" is nested/],
  ])("rejects a train output of kind %s", async (mode, type, message) => {
    const attempt = runEntryPoint({ entry: "train", path: pkg, input: seed, env: { MODE: mode } });
    await expect(attempt).rejects.toBeInstanceOf(type);
    await expect(
      runEntryPoint({ entry: "train", path: pkg, input: seed, env: { MODE: mode } }),
    ).rejects.toThrow(message);
  });

  it("checks validate (a JSON object of numbers) and predict (a JSON object) outputs", async () => {
    const ok = await runEntryPoint({
      entry: "validate",
      path: pkg,
      input: seed,
      env: { MODE: "metrics" },
    });
    // FEDn's validate output has no suffix.
    expect(ok.output).toMatch(/\/tmp[0-9a-f]{12}$/);
    expect(ok.checks).toEqual([`metrics ${ok.output}: {"test_accuracy": 0.5, "test_loss": 1.25}`]);
    await expect(
      runEntryPoint({ entry: "validate", path: pkg, input: seed, env: { MODE: "bad-metrics" } }),
    ).rejects.toThrow(/"test_accuracy" is "high"; expected a number/);
    await expect(
      runEntryPoint({ entry: "validate", path: pkg, input: seed, env: { MODE: "list" } }),
    ).rejects.toThrow(/must be a JSON object, found a list/);
    await expect(
      runEntryPoint({ entry: "predict", path: pkg, input: seed, env: { MODE: "none" } }),
    ).rejects.toThrow(/prediction output .* is empty; expected a JSON object/);
    const predicted = await runEntryPoint({
      entry: "predict",
      path: pkg,
      input: seed,
      env: { MODE: "prediction" },
    });
    expect(predicted.checks[0]).toMatch(/a JSON object with 1 key\(s\) predicted_class$/);
  });

  it("reads outputs as Python's json.load does: bare NaN and ±Infinity are numbers", async () => {
    const ok = await runEntryPoint({
      entry: "validate",
      path: pkg,
      input: seed,
      env: { MODE: "nan-metrics" },
    });
    expect(ok.checks).toEqual([
      `metrics ${ok.output}: {"test_accuracy": NaN, "test_loss": Infinity, "low": -Infinity, "note": 0.5}`,
    ]);
    // A string "NaN" is still a string, not a number.
    await expect(
      runEntryPoint({ entry: "validate", path: pkg, input: seed, env: { MODE: "nan-string" } }),
    ).rejects.toThrow(/"test_accuracy" is "NaN"; expected a number/);
  });

  it("says in one line that an output is not JSON", async () => {
    const attempt = runEntryPoint({
      entry: "predict",
      path: pkg,
      input: seed,
      env: { MODE: "not-json" },
    });
    await expect(attempt).rejects.toBeInstanceOf(FormatError);
    const message = await attempt.catch((error: Error) => error.message);
    expect(message).toMatch(
      /^prediction output \S+ is not JSON \(as Python's json\.load reads it\): Expecting value: line 1 column 1 \(char 0\)$/,
    );
    expect(message).not.toContain("\n");
  });

  it("reports a non-zero exit status without checking outputs", async () => {
    const stderr = sink();
    const result = await runEntryPoint({
      entry: "train",
      path: pkg,
      input: seed,
      env: { MODE: "fail" },
      stderr,
    });
    expect(result.exitCode).toBe(3);
    expect(result.checks).toEqual([]);
    expect(stderr.text()).toBe("failing on purpose\n");
  });

  it("runs startup with no arguments in the package folder, the environment inherited", async () => {
    const stdout = sink();
    const result = await runEntryPoint({ entry: "startup", path: pkg, env: { X: "42" }, stdout });
    expect(result.argv[2]).toBe('echo "startup in $(pwd) with X=$X" ');
    expect(stdout.text()).toBe(`startup in ${pkg} with X=42\n`);
  });

  it("uses bash -c, or /bin/sh -c as FEDn 0.8 with --shell sh", async () => {
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const bash = sink();
    await runEntryPoint({ entry: "which_shell", path: pkg, env, stdout: bash });
    const sh = sink();
    const result = await runEntryPoint({
      entry: "which_shell",
      path: pkg,
      env,
      stdout: sh,
      shell: "sh",
    });
    expect(result.argv.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect([bash.text(), sh.text()]).toEqual(["bash\n", "sh\n"]);
  });

  it("runs a .tgz from a temporary folder it removes afterwards", async () => {
    const out = mkdtempSync(join(tmpdir(), "run-tgz-"));
    const created = await createPackage({ path: pkg, output: out });
    const result = await runEntryPoint({
      entry: "train",
      path: created.file,
      input: seed,
      env: { MODE: "good" },
    });
    expect(result.dir).toMatch(/fedn-tfjs-package-[^/]+\/client$/);
    expect(result.checks).toHaveLength(2);
    expect(existsSync(result.dir)).toBe(false);
    // Only the output the caller asked for is left in the temporary folder.
    expect(readdirSync(tmp).filter((f) => f.startsWith("fedn-tfjs-package-"))).toEqual([]);
  });

  it.each([
    [{ entry: "train" }, UsageError, 'entry point "train" needs an input model (-i)'],
    [
      { entry: "startup", input: "x.npz" },
      UsageError,
      'entry point "startup" takes no arguments from FEDn',
    ],
    [
      { entry: "validate", input: "x.npz", clientSettings: {} },
      UsageError,
      "client settings reach only train",
    ],
    [{ entry: "train", input: "/no/such.npz" }, IoError, "input model /no/such.npz does not exist"],
    [
      { entry: "forward" },
      FormatError,
      'has no entry point "forward"; it defines train, validate, predict, startup, which_shell',
    ],
  ])("refuses %o", async (options, type, message) => {
    const attempt = runEntryPoint({ path: pkg, ...options });
    await expect(attempt).rejects.toBeInstanceOf(type);
    await expect(runEntryPoint({ path: pkg, ...options })).rejects.toThrow(message);
  });
});

describe("a .tgz runs its startup entry point first, as FEDn's client does after unpacking", () => {
  let spkg: string;
  let tgz: string;

  beforeAll(async () => {
    spkg = mkdtempSync(join(tmpdir(), "run-startup-pkg-"));
    writeFileSync(join(spkg, "fedn.yaml"), STARTUP_YAML);
    writeFileSync(join(spkg, "startup.sh"), STARTUP_SH);
    writeFileSync(join(spkg, "train.sh"), TRAIN_SH);
    writeFileSync(join(spkg, "good.npz"), encodeModel([f32([3, 2], 0.5), f32([3], 1)]));
    tgz = (await createPackage({ path: spkg, output: mkdtempSync(join(tmpdir(), "run-tgz-")) }))
      .file;
  });

  it("runs startup (no arguments, same shell, folder and environment) before train, which needs what it wrote", async () => {
    const stdout = sink();
    const result = await runEntryPoint({ entry: "train", path: tgz, input: seed, stdout });
    expect(result.exitCode).toBe(0);
    expect(result.entry).toBe("train");
    expect(result.startup).toMatchObject({ argv: ["bash", "-c", "sh startup.sh "], exitCode: 0 });
    expect(result.argv[2]).toMatch(/^sh train\.sh \S+ \S+$/);
    expect(stdout.text()).toBe(`startup ran in ${result.dir}\n`);
    expect(result.checks).toHaveLength(2);
    const sh = await runEntryPoint({ entry: "train", path: tgz, input: seed, shell: "sh" });
    expect(sh.startup?.argv).toEqual(["/bin/sh", "-c", "sh startup.sh "]);
  });

  it("reports a failing startup as the failure, and does not run the entry point", async () => {
    const stderr = sink();
    const output = join(mkdtempSync(join(tmpdir(), "run-out-")), "model.npz");
    writeFileSync(output, "untouched");
    const result = await runEntryPoint({
      entry: "train",
      path: tgz,
      input: seed,
      output,
      env: { FAIL_STARTUP: "1" },
      stderr,
    });
    expect(result).toMatchObject({
      entry: "startup",
      argv: ["bash", "-c", "sh startup.sh "],
      exitCode: 4,
      output: undefined,
      checks: [],
    });
    expect(stderr.text()).toBe("startup failing\n");
    expect(readFileSync(output, "utf8")).toBe("untouched");
  });

  it("skips startup with startup: false, for a folder, and for build and startup themselves", async () => {
    const skipped = await runEntryPoint({ entry: "train", path: tgz, input: seed, startup: false });
    expect(skipped).toMatchObject({ entry: "train", exitCode: 1, startup: undefined });
    const folder = await runEntryPoint({ entry: "train", path: spkg, input: seed });
    expect(folder).toMatchObject({ entry: "train", exitCode: 1, startup: undefined });
    const build = sink();
    expect((await runEntryPoint({ entry: "build", path: tgz, stdout: build })).startup).toBe(
      undefined,
    );
    expect(build.text()).toBe("no startup\n");
    const startup = sink();
    await runEntryPoint({ entry: "startup", path: tgz, stdout: startup });
    expect(startup.text()).toMatch(/^startup ran in \S+\n$/);
  });

  it("fedn-tfjs run prints the startup line first, names a failing startup, and takes --no-startup", async () => {
    const program: Program = { name: "fedn-tfjs", version: "0", describe: "", commands: [run] };
    const ctxWith = (env: Record<string, string>) => {
      const out = sink();
      const err = sink();
      return { ctx: { stdout: out, stderr: err, env, cwd: spkg } as CliContext, out, err };
    };
    let r = ctxWith({});
    expect(await runCli(program, ["run", "train", "-p", tgz, "-i", seed], r.ctx)).toBe(0);
    expect(r.out.text()).toMatch(
      /^startup ran in \S+\nstartup: exit 0 in [0-9.]+ s: bash -c "sh startup\.sh " \(run first, as FEDn's client does after unpacking\)\ntrain: exit 0 in [0-9.]+ s: bash -c "sh train\.sh \S+ \S+" in \S+\nok model .*\nok metadata .*\n$/,
    );
    r = ctxWith({ FAIL_STARTUP: "1" });
    expect(await runCli(program, ["run", "train", "-p", tgz, "-i", seed], r.ctx)).toBe(4);
    expect(r.err.text()).toMatch(
      /^startup failing\nfedn-tfjs run: startup \(run before train, as FEDn's client does after unpacking; --no-startup skips it\) exited with status 4 after [0-9.]+ s: bash -c "sh startup\.sh "\n$/,
    );
    r = ctxWith({});
    expect(
      await runCli(program, ["run", "train", "-p", tgz, "-i", seed, "--no-startup"], r.ctx),
    ).toBe(1);
    expect(r.out.text()).toBe("");
    expect(r.err.text()).toMatch(/fedn-tfjs run: train exited with status 1 after /);
  });
});

describe("fedn-tfjs run", () => {
  const program: Program = { name: "fedn-tfjs", version: "0", describe: "", commands: [run] };
  function ctxWith(env: Record<string, string>) {
    const out = sink();
    const err = sink();
    const ctx: CliContext = { stdout: out, stderr: err, env, cwd: pkg };
    return { ctx, out, err };
  }

  it("prints the command, timing and checks, and exits with the entry point's status", async () => {
    let r = ctxWith({ MODE: "good" });
    expect(
      await runCli(program, ["run", "train", "-i", seed, "--client-settings", '{"a": 1}'], r.ctx),
    ).toBe(0);
    expect(r.out.text()).toMatch(
      /^train: exit 0 in [0-9.]+ s: bash -c "sh fake\.sh train \S+ \S+" in \S+\nok model .*\nok metadata .*\n$/,
    );
    r = ctxWith({ MODE: "fail" });
    expect(await runCli(program, ["run", "train", "-p", ".", "-i", seed], r.ctx)).toBe(3);
    expect(r.err.text()).toMatch(
      /^failing on purpose\nfedn-tfjs run: train exited with status 3 after [0-9.]+ s: bash -c "sh fake\.sh train /,
    );
    r = ctxWith({ MODE: "no-num" });
    expect(await runCli(program, ["run", "train", "-i", seed], r.ctx)).toBe(1);
    expect(r.err.text()).toMatch(
      /^fedn-tfjs run: training metadata .*-metadata: "num_examples" must be a positive number/,
    );
    r = ctxWith({});
    expect(
      await runCli(program, ["run", "train", "-i", seed, "--client-settings", "[1]"], r.ctx),
    ).toBe(2);
    expect(r.err.text()).toContain("option --client-settings expects a JSON object, found [1]");
  });
});
