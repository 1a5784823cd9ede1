/**
 * Runs one entry point of a compute package the way a FEDn client does, then checks what the
 * client would read. FEDn (`fedn/utils/dispatcher.py`, `fedn/network/clients/client_v2.py`):
 * - finds the first folder that holds `fedn.yaml` (after unpacking a `.tgz`) and runs there;
 * - builds `"<command> <args joined by single spaces>"` and runs it with `bash -c` (FEDn 0.8:
 *   `/bin/sh -c`), the client's whole environment inherited;
 * - `train <in> <out>`: `in` is a fresh `mkstemp` copy of the global model with suffix `.npz`,
 *   `<in>-metadata` holds the round's client settings (`{}` when none, FEDn ≥ 0.19), `out` an
 *   empty `mkstemp` file with suffix `.npz`; afterwards it reads `out` and `<out>-metadata`;
 * - `validate`/`predict <in> <out>`: the same, but `out` has no suffix and holds JSON;
 * - `startup` and `build` get no arguments; a non-zero exit status is a failure;
 * - after unpacking a package the client runs its `startup` entry point (when `fedn.yaml` defines
 *   one) before any train/validate/predict, so the entry points may rely on what it writes (the
 *   demo data, say): a run of another entry point from a `.tgz` runs `startup` first too.
 */
import { spawn } from "node:child_process";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, posix, resolve } from "node:path";
import type { ReadEntry } from "tar";
import { formatShape, type NdArray } from "../codec/ndarray.js";
import {
  DataError,
  FormatError,
  IoError,
  isFednTfjsError,
  ShapeError,
  UsageError,
} from "../errors.js";
import { findPackage, loadPackageConfig } from "../fedn/config.js";
import { decodeModel } from "../fedn/numpyhelper.js";
import { metadataPathOf } from "../fedn/settings.js";
import {
  assertDistinctPaths,
  describeIoError,
  getTmpPath,
  isFile,
  parsePythonJson,
  toPythonJson,
} from "../node/io.js";

/** Entry points that get `<in> <out>` and whose output FEDn reads. */
const MODEL_ENTRIES = ["train", "validate", "predict"] as const;
type ModelEntry = (typeof MODEL_ENTRIES)[number];

function isModelEntry(entry: string): entry is ModelEntry {
  return (MODEL_ENTRIES as readonly string[]).includes(entry);
}

/** A sink for the entry point's output (a stream, or a recorder in tests). */
export interface Writer {
  write(text: string): unknown;
}

/** Options of `runEntryPoint`. */
export interface RunOptions {
  /** Entry point name in `fedn.yaml`: `train`, `validate`, `predict`, `startup`, `build`, ... */
  entry: string;
  /** Package folder, or a `.tgz` (unpacked to a temporary folder first). */
  path: string;
  /** Input model (train/validate/predict); copied to a temporary `.npz` as FEDn does. */
  input?: string | undefined;
  /** Output file; created empty before the run. @default a fresh temporary file */
  output?: string | undefined;
  /** Client settings written to `<in>-metadata` before `train`. @default {} */
  clientSettings?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Stops the run: the command's process group gets the abort reason as a signal (a signal name
   * such as `"SIGTERM"`, else SIGTERM), the run waits for it, removes its temporary files and the
   * unpacked package, and rejects with the reason.
   */
  signal?: AbortSignal | undefined;
  /** `bash` as FEDn ≥ 0.9 (`bash -c`), or `sh` as FEDn 0.8 (`/bin/sh -c`). @default "bash" */
  shell?: "bash" | "sh" | undefined;
  /** The environment the command inherits. @default {} */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Receives the command's stdout. @default discarded */
  stdout?: Writer | undefined;
  /** Receives the command's stderr. @default discarded */
  stderr?: Writer | undefined;
  /**
   * For a `.tgz`, run the package's `startup` entry point (no arguments, same shell, environment
   * and folder) right after unpacking and before `entry`, as FEDn's client does; a failing startup
   * ends the run there. Ignored for a folder (run `startup` yourself), for `entry` `startup` or
   * `build`, and when `fedn.yaml` defines no `startup`. @default true
   */
  startup?: boolean | undefined;
}

/** One command run: its command line, status and duration. */
export interface StepResult {
  /** The shell and the command line, as run: `["bash", "-c", "node dist/startup.js "]`. */
  argv: string[];
  /** Exit status; `null` when a signal ended the command. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock seconds of the command. */
  seconds: number;
}

/** What a run did and found. */
export interface RunResult {
  /**
   * The entry point the rest of the result describes: the one asked for, or `startup` when it ran
   * first (for a `.tgz`) and failed, so that the entry asked for did not run.
   */
  entry: string;
  /** The package folder the command ran in (inside the temporary folder for a `.tgz`). */
  dir: string;
  /** The shell and the command line, as run: `["bash", "-c", "node dist/entrypoint.js train a b"]`. */
  argv: string[];
  /** Exit status; `null` when a signal ended the command. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Wall-clock seconds of the command. */
  seconds: number;
  /** The output file (train/validate/predict). */
  output: string | undefined;
  /** One line per check passed, e.g. `model: 6 arrays, shapes match the input`. */
  checks: string[];
  /** The `startup` run that came first (a `.tgz`, see `RunOptions.startup`), if one did. */
  startup?: StepResult | undefined;
}

/** Validates and defaults the options, once. */
function resolveRunOptions(options: RunOptions) {
  const entry = options.entry;
  const model = isModelEntry(entry);
  if (model && options.input === undefined) {
    throw new UsageError(`entry point "${entry}" needs an input model (-i)`, { option: "input" });
  }
  if (!model && (options.input !== undefined || options.output !== undefined)) {
    throw new UsageError(
      `entry point "${entry}" takes no arguments from FEDn; -i and -o are for train, validate and predict`,
      { option: options.input !== undefined ? "input" : "output" },
    );
  }
  if (options.clientSettings !== undefined && entry !== "train") {
    throw new UsageError("client settings reach only train (as <in>-metadata)", {
      option: "client_settings",
    });
  }
  const shell = options.shell ?? "bash";
  return {
    entry,
    model,
    path: resolve(options.path),
    input: options.input === undefined ? undefined : resolve(options.input),
    output: options.output === undefined ? undefined : resolve(options.output),
    clientSettings: options.clientSettings ?? {},
    shellArgv: shell === "sh" ? ["/bin/sh", "-c"] : ["bash", "-c"],
    env: options.env ?? {},
    startup: options.startup ?? true,
    signal: options.signal,
  };
}

/** The most an unpacked package may hold: per file, in total, and in entries. */
export const PACKAGE_LIMITS = Object.freeze({
  entryBytes: 1024 ** 3,
  totalBytes: 2 * 1024 ** 3,
  entries: 100_000,
});

/**
 * POSIX shell quoting: `'…'` with each `'` written as `'\''`, so a path with spaces, quotes,
 * `$(…)` or globs reaches the program as one literal argument under `bash -c` and `sh -c`.
 */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** How long an aborted command's process group gets to exit before it is killed. */
const ABORT_GRACE_MS = 5000;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new Error("aborted");
}

/**
 * Unpacks a package `.tgz` into a fresh temporary folder and returns the folder (the caller
 * removes it), as a FEDn client unpacks the package it downloads. The archive is read as a
 * stream, one entry at a time, within {@link PACKAGE_LIMITS} (checked against each header before
 * its data is written, so a bomb is refused at once and memory stays flat). Only files and
 * folders with relative paths inside the package are accepted: an absolute path, a `..`
 * component, a link or a device ends the extraction with one FormatError naming the archive and
 * the entry, after every file already being written is closed and the folder is removed.
 */
export async function unpackPackage(
  archive: string,
  options: { signal?: AbortSignal | undefined; limits?: typeof PACKAGE_LIMITS } = {},
): Promise<string> {
  if (!/\.(tgz|tar\.gz)$/.test(archive)) {
    throw new UsageError(`${archive}: expected a package folder or a .tgz archive`, {
      option: "path",
      file: archive,
    });
  }
  let dir: string;
  try {
    dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-package-"));
  } catch (cause) {
    throw describeIoError(join(tmpdir(), "fedn-tfjs-package-*"), "create", cause);
  }
  try {
    await extractArchive(archive, dir, options.limits ?? PACKAGE_LIMITS, options.signal);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/** The streaming extraction behind {@link unpackPackage}; settles only once every write has. */
async function extractArchive(
  archive: string,
  dir: string,
  limits: typeof PACKAGE_LIMITS,
  signal: AbortSignal | undefined,
): Promise<void> {
  // tar is loaded when a package is unpacked, not by every process that imports the library.
  const { Parser } = await import("tar");
  return new Promise((resolvePromise, reject) => {
    const writers = new Set<Promise<void>>();
    const streams = new Set<WriteStream>();
    let failure: unknown;
    let entries = 0;
    let total = 0;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      // Nothing may still be writing into the folder when the caller removes it.
      void Promise.allSettled([...writers]).then(() =>
        failure === undefined ? resolvePromise() : reject(failure),
      );
    };
    const fail = (error: unknown): void => {
      if (failure !== undefined) return;
      failure = error;
      input.destroy();
      parser.abort(error instanceof Error ? error : new Error(String(error)));
      for (const stream of streams) stream.destroy();
      finish();
    };
    const refuse = (entry: string, why: string): void =>
      fail(new FormatError(`${archive}: entry "${entry}" ${why}`, { file: archive, key: entry }));
    const onAbort = (): void => fail(abortReason(signal as AbortSignal));
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (failure !== undefined) {
          entry.resume();
          return;
        }
        const name = entry.path;
        const parts = name.split("/").filter((p) => p !== "" && p !== ".");
        if (posix.isAbsolute(name) || parts.includes("..") || name.includes("\\")) {
          refuse(name, "points outside the package (an absolute path or ..)");
          return;
        }
        if (++entries > limits.entries) {
          refuse(name, `is one entry more than the ${limits.entries} a package may hold`);
          return;
        }
        if (entry.size > limits.entryBytes) {
          refuse(
            name,
            `is ${entry.size} bytes; a package file may be at most ${limits.entryBytes}`,
          );
          return;
        }
        total += entry.size;
        if (total > limits.totalBytes) {
          refuse(name, `takes the package past ${limits.totalBytes} bytes unpacked`);
          return;
        }
        const target = join(dir, ...parts);
        if (entry.type === "Directory") {
          entry.resume();
          writers.add(mkdir(target, { recursive: true }).then(() => undefined, fail));
          return;
        }
        if (entry.type !== "File" && entry.type !== "OldFile" && entry.type !== "ContiguousFile") {
          const what = /Link/.test(entry.type)
            ? `a ${entry.type} to "${entry.linkpath ?? ""}"`
            : `a ${entry.type}`;
          refuse(
            name,
            `is ${what}; a package holds only files and folders (package create archives what links point to)`,
          );
          return;
        }
        if (parts.length === 0) {
          refuse(name, "is a file without a name");
          return;
        }
        entry.pause();
        const written = mkdir(dirname(target), { recursive: true }).then(
          () =>
            new Promise<void>((done) => {
              if (failure !== undefined) {
                entry.resume();
                done();
                return;
              }
              const out = createWriteStream(target, {
                mode: ((entry.mode ?? 0o644) & 0o755) | 0o600,
              });
              streams.add(out);
              out.on("error", (error) => fail(describeIoError(target, "write", error)));
              out.on("close", () => {
                streams.delete(out);
                done();
              });
              entry.pipe(out);
            }),
          fail,
        );
        writers.add(written);
        written.then(() => writers.delete(written));
      },
    });
    parser.on("error", (error: unknown) =>
      fail(
        isFednTfjsError(error)
          ? error
          : new FormatError(
              `${archive}: not a readable gzip tarball (${(error as Error).message})`,
              { file: archive, cause: error },
            ),
      ),
    );
    parser.on("end", finish);
    const input = createReadStream(archive);
    input.on("error", (error) => fail(describeIoError(archive, "read", error)));
    if (signal?.aborted) {
      fail(abortReason(signal));
      return;
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/**
 * Runs `argv` in `cwd` in its own process group, forwarding its output; resolves with its status
 * and duration. On `signal`'s abort the whole group gets the signal named by the reason (else
 * SIGTERM), so nothing the command started outlives the run; the promise still waits for the
 * command to exit.
 */
function execute(
  argv: string[],
  cwd: string,
  env: Readonly<Record<string, string | undefined>>,
  stdout: Writer | undefined,
  stderr: Writer | undefined,
  signal: AbortSignal | undefined,
): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; seconds: number }> {
  const [file, ...args] = argv as [string, ...string[]];
  const start = performance.now();
  return new Promise((resolvePromise, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const child = spawn(file, args, {
      cwd,
      env: { ...env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const killGroup = (name: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, name);
      } catch {
        // The group is already gone.
      }
    };
    let grace: NodeJS.Timeout | undefined;
    const forward = (): void => {
      const reason = signal?.reason;
      const name = typeof reason === "string" && reason.startsWith("SIG") ? reason : "SIGTERM";
      killGroup(name as NodeJS.Signals);
      // A process that ignores the signal (sh's background jobs ignore SIGINT) may not outlive
      // the run: after a grace period the group is killed.
      grace = setTimeout(() => killGroup("SIGKILL"), ABORT_GRACE_MS);
    };
    child.on("exit", () => {
      // The command is gone: on abort, whatever it left in its group goes too.
      if (signal?.aborted) killGroup("SIGKILL");
    });
    signal?.addEventListener("abort", forward, { once: true });
    child.stdout.setEncoding("utf8").on("data", (s: string) => stdout?.write(s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => stderr?.write(s));
    child.on("error", (error) => {
      signal?.removeEventListener("abort", forward);
      reject(new IoError(`cannot start ${file}: ${error.message}`, { cause: error }));
    });
    child.on("close", (exitCode, exitSignal) => {
      signal?.removeEventListener("abort", forward);
      clearTimeout(grace);
      resolvePromise({ exitCode, signal: exitSignal, seconds: (performance.now() - start) / 1000 });
    });
  });
}

/** A value shown in a message: one line, at most 80 characters. */
function oneLine(text: string): string {
  const flat = text.replace(/\s*[\r\n]+\s*/g, " ");
  return flat.length > 80 ? `${flat.slice(0, 77)}...` : flat;
}

async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new IoError(`${what} ${path} cannot be read: ${(error as Error).message}`, {
      file: path,
      cause: error,
    });
  }
  if (text.trim() === "") {
    throw new FormatError(`${what} ${path} is empty; expected a JSON object`, { file: path });
  }
  let value: unknown;
  try {
    // FEDn's client reads it with Python's json.load, which takes NaN, Infinity and -Infinity.
    value = parsePythonJson(text);
  } catch (error) {
    const reason = String((error as Error).message).replace(/\s*[\r\n]+\s*/g, " ");
    throw new FormatError(
      `${what} ${path} is not JSON (as Python's json.load reads it): ${reason}`,
      {
        file: path,
        cause: error,
      },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const found = Array.isArray(value) ? "a list" : oneLine(toPythonJson(value));
    throw new FormatError(`${what} ${path} must be a JSON object, found ${found}`, {
      file: path,
    });
  }
  return value as Record<string, unknown>;
}

async function readModel(path: string, what: string): Promise<NdArray[]> {
  const bytes = await readFile(path).catch((error: Error) => {
    throw new IoError(`${what} ${path} cannot be read: ${error.message}`, {
      file: path,
      cause: error,
    });
  });
  if (bytes.length === 0) {
    throw new FormatError(`${what} ${path} is empty: the entry point did not write it`, {
      file: path,
    });
  }
  return decodeModel(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), {
    name: path,
  });
}

/** Checks what FEDn's client reads after `train`; returns the lines to report. */
export async function checkTrainOutput(input: string, output: string): Promise<string[]> {
  const before = await readModel(input, "input model");
  const after = await readModel(output, "output model");
  if (after.length !== before.length) {
    throw new ShapeError(
      `output model ${output} has ${after.length} arrays; the input model has ${before.length}`,
      { file: output },
    );
  }
  after.forEach((a, i) => {
    const b = before[i] as NdArray;
    if (formatShape(a.shape) !== formatShape(b.shape)) {
      throw new ShapeError(
        `output model ${output}: array "${i}" has shape ${formatShape(a.shape)}; the input has ${formatShape(b.shape)}`,
        { file: output, key: String(i) },
      );
    }
    if (a.dtype === "float32" || a.dtype === "float64") {
      const bad = (a.data as Float32Array | Float64Array).findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) {
        throw new DataError(
          `output model ${output}: array "${i}" holds a non-finite value at element ${bad}; it would poison the global model`,
          { file: output, key: String(i) },
        );
      }
    }
  });
  const metaPath = metadataPathOf(output);
  if (!(await isFile(metaPath))) {
    throw new IoError(
      `train did not write ${metaPath}: FEDn reads the training metadata (num_examples) from it`,
      { file: metaPath },
    );
  }
  const metadata = await readJsonObject(metaPath, "training metadata");
  const n = metadata.num_examples;
  if (typeof n !== "number" || !Number.isFinite(n) || n <= 0) {
    throw new DataError(
      `training metadata ${metaPath}: "num_examples" must be a positive number (FedAvg weights each update by it), found ${n === undefined ? "nothing" : oneLine(toPythonJson(n))}`,
      { file: metaPath, key: "num_examples" },
    );
  }
  const nested = Object.keys(metadata).filter(
    (k) => typeof metadata[k] === "object" && metadata[k] !== null,
  );
  if (nested.length > 0) {
    throw new DataError(
      `training metadata ${metaPath} must be a flat JSON object; ${nested.map((k) => `"${k}"`).join(", ")} ${nested.length > 1 ? "are" : "is"} nested`,
      { file: metaPath, key: nested[0] },
    );
  }
  const dtypes = [...new Set(after.map((a) => a.dtype))].join("/");
  return [
    `model ${output}: ${after.length} ${dtypes} arrays, shapes match the input`,
    `metadata ${metaPath}: ${toPythonJson(metadata)}`,
  ];
}

/** Checks a validate output: a JSON object of numbers. */
export async function checkValidateOutput(output: string): Promise<string[]> {
  const metrics = await readJsonObject(output, "validation output");
  for (const [key, value] of Object.entries(metrics)) {
    // NaN and ±Infinity are numbers to FEDn too (Python floats); it stores them as they are.
    if (typeof value !== "number") {
      throw new DataError(
        `validation output ${output}: "${key}" is ${oneLine(toPythonJson(value))}; expected a number`,
        { file: output, key },
      );
    }
  }
  return [`metrics ${output}: ${toPythonJson(metrics)}`];
}

/** Checks a predict output: a JSON object. */
export async function checkPredictOutput(output: string): Promise<string[]> {
  const prediction = await readJsonObject(output, "prediction output");
  const keys = Object.keys(prediction);
  return [`prediction ${output}: a JSON object with ${keys.length} key(s) ${keys.join(", ")}`];
}

/**
 * Runs one entry point as FEDn's client does (see the module comment) and checks its outputs.
 * Resolves with the result when the command exits 0 and the outputs are what FEDn reads; a
 * non-zero exit resolves too (with `exitCode`), so callers can report it; bad outputs throw.
 *
 * @example await runEntryPoint({ entry: "train", path: "client", input: "seed.npz", env: process.env })
 */
export async function runEntryPoint(options: RunOptions): Promise<RunResult> {
  const o = resolveRunOptions(options);
  const archive = await isFile(o.path);
  if (o.input !== undefined && o.output !== undefined) {
    await assertDistinctPaths(
      o.output,
      [{ path: o.input, what: "the input model (-i)" }],
      "output",
    );
  }
  const root = archive ? await unpackPackage(o.path, { signal: o.signal }) : o.path;
  const temps: string[] = [];
  const abort = (): void => {
    if (o.signal?.aborted) throw abortReason(o.signal);
  };
  try {
    const location = await findPackage(root);
    const config = await loadPackageConfig(location.file);
    const command = config.entryPoints[o.entry];
    if (command === undefined) {
      const names = Object.keys(config.entryPoints).join(", ") || "none";
      throw new FormatError(
        `${location.file} has no entry point "${o.entry}"; it defines ${names}`,
        { file: location.file, key: `entry_points.${o.entry}` },
      );
    }
    if (o.input !== undefined && !(await isFile(o.input))) {
      throw new IoError(`input model ${o.input} does not exist`, {
        file: o.input,
        option: "input",
      });
    }
    let startup: StepResult | undefined;
    const startupCommand = config.entryPoints.startup;
    if (
      archive &&
      o.startup &&
      startupCommand !== undefined &&
      o.entry !== "startup" &&
      o.entry !== "build"
    ) {
      // FEDn's client runs startup once, with no arguments, right after unpacking.
      const startupArgv = [...o.shellArgv, `${startupCommand} `];
      startup = {
        argv: startupArgv,
        ...(await execute(
          startupArgv,
          location.dir,
          o.env,
          options.stdout,
          options.stderr,
          o.signal,
        )),
      };
      abort();
      if (startup.exitCode !== 0) {
        return {
          entry: "startup",
          dir: location.dir,
          ...startup,
          output: undefined,
          checks: [],
          startup,
        };
      }
    }
    const args: string[] = [];
    let output: string | undefined;
    if (o.model && o.input !== undefined) {
      const inPath = getTmpPath(".npz");
      temps.push(inPath);
      await copyFile(o.input, inPath).catch((cause: unknown) => {
        throw describeIoError(o.input as string, "copy", cause);
      });
      if (o.entry === "train") {
        temps.push(metadataPathOf(inPath));
        await writeFile(metadataPathOf(inPath), JSON.stringify(o.clientSettings)).catch(
          (cause: unknown) => {
            throw describeIoError(metadataPathOf(inPath), "write", cause);
          },
        );
      }
      if (o.output === undefined) {
        output = getTmpPath(o.entry === "train" ? ".npz" : "");
      } else {
        output = o.output;
        await writeFile(output, "").catch((cause: unknown) => {
          throw describeIoError(o.output as string, "create", cause);
        });
        // A stale metadata file from an earlier run must not pass for this run's.
        if (o.entry === "train") await unlink(metadataPathOf(output)).catch(() => undefined);
      }
      args.push(inPath, output);
    }
    abort();
    // FEDn joins its own mkstemp paths unquoted; ours may come from the user, so each argument
    // we add is quoted. The command from fedn.yaml keeps the shell's meaning, as in FEDn.
    const argv = [...o.shellArgv, `${command} ${args.map(shellQuote).join(" ")}`];
    const run = await execute(argv, location.dir, o.env, options.stdout, options.stderr, o.signal);
    abort();
    const result: RunResult = {
      entry: o.entry,
      dir: location.dir,
      argv,
      ...run,
      output,
      checks: [],
      startup,
    };
    if (run.exitCode !== 0 || output === undefined || o.input === undefined) return result;
    if (o.entry === "train") result.checks = await checkTrainOutput(o.input, output);
    else if (o.entry === "validate") result.checks = await checkValidateOutput(output);
    else result.checks = await checkPredictOutput(output);
    return result;
  } finally {
    for (const t of temps) await rm(t, { force: true });
    if (archive) await rm(root, { recursive: true, force: true });
  }
}
