/**
 * The file-system edge of the codec side: the only module here that touches `fs`. Reads map
 * Node's error codes to one-line IoErrors that name the file; every write goes to a temporary
 * file beside the target and is renamed into place, so a reader (a FEDn client that ignores the
 * exit status, say) never sees a half-written model, and the empty file FEDn pre-creates as the
 * output is simply replaced.
 *
 * The metadata and metrics helpers write JSON the way FEDn's Python helpers
 * (`fedn/utils/helpers/helpers.py`: `json.dump` with its default separators) do.
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import {
  type FileHandle,
  lstat,
  open,
  readFile,
  readlink,
  realpath,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { NdArray } from "../codec/ndarray.js";
import {
  type DecodeNpzOptions,
  decodeNpz,
  type EncodeNpzOptions,
  layoutNpz,
  type NpzLayout,
} from "../codec/npz.js";
import { parsePythonJson, toPythonJson } from "../codec/pyjson.js";
import { DataError, FormatError, IoError, isFednTfjsError, UsageError } from "../errors.js";
import { decodeModel, type EncodeModelOptions, layoutModel } from "../fedn/numpyhelper.js";
import { metadataPathOf } from "../fedn/settings.js";

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, expected a file",
  ENOTDIR: "a parent of the path is not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EMFILE: "too many open files",
  EEXIST: "already exists",
};

/** Turns a Node fs error into an IoError that names the file and says why in words. */
export function describeIoError(path: string, doing: string, cause: unknown): IoError {
  return ioError(path, doing, cause);
}

function ioError(path: string, doing: string, cause: unknown): IoError {
  if (isFednTfjsError(cause)) return cause as IoError;
  const code = (cause as { code?: unknown } | null)?.code;
  const reason =
    typeof code === "string" && code in REASONS
      ? REASONS[code]
      : cause instanceof Error
        ? cause.message
        : String(cause);
  return new IoError(`${path}: cannot ${doing}: ${reason}`, { file: path, cause });
}

/** Whether `path` exists and is a regular file (not a folder). */
export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** The size of a file in bytes; undefined when it cannot be read. */
export async function fileSize(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.size,
    () => undefined,
  );
}

/** `size:mtime` of a file, to tell whether it changed since it was last read; undefined when absent. */
export async function fileStamp(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => `${s.size}:${s.mtimeMs}`,
    () => undefined,
  );
}

/**
 * Reads a whole file. The result is a fresh buffer the caller owns.
 * @throws IoError naming the file ("no such file or directory", "is a directory", ...)
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw ioError(path, "read", cause);
  }
}

export interface WriteOptions {
  /**
   * Flush the temporary file to disk before renaming it, so the target survives a power loss
   * with either the old or the new content. Costs a disk flush per write.
   * @default false
   */
  readonly fsync?: boolean;
}

/**
 * Writes `data` to `path` atomically: into a temporary file beside the target (same directory,
 * so the rename cannot cross file systems), then renamed over it. An existing file, such as the
 * empty output FEDn creates with `mkstemp`, is replaced; on any failure the temporary file is
 * removed and the target is left as it was.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string | readonly Uint8Array[],
  options: WriteOptions = {},
): Promise<void> {
  await writeAtomicWith(
    path,
    async (handle) => {
      if (typeof data === "string" || data instanceof Uint8Array) await handle.writeFile(data);
      else for (const part of data) await writeAll(handle, part);
    },
    options,
  );
}

/** What a file that is not a regular file is, in words, for the refusal. */
function kindOf(s: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (s.isDirectory()) return "a directory";
  if (s.isFIFO()) return "a named pipe (fifo)";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Where an atomic write of `path` must land: the real file behind any symbolic links (so a link
 * stays a link and its target gets the content), or the path itself when nothing is there yet.
 * A dangling link resolves to the file it names. Refuses directories, devices, fifos, sockets.
 */
export async function resolveWriteTarget(path: string): Promise<string> {
  let target = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(target);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === "ENOENT") {
        // The folder may itself go through links: write beside the real one.
        const folder = await realpath(dirname(target)).catch((error: unknown) => {
          throw ioError(path, "write", error);
        });
        return join(folder, basename(target));
      }
      throw ioError(path, "write", cause);
    }
    if (info.isSymbolicLink()) {
      target = resolve(dirname(target), await readlink(target));
      continue;
    }
    if (!info.isFile()) {
      const via = target === resolve(path) ? "" : ` (a link to ${target})`;
      throw new IoError(
        `${path}: cannot write: it is ${kindOf(info)}${via}; expected a regular file`,
        { file: path },
      );
    }
    return join(await realpath(dirname(target)), basename(target));
  }
  throw new IoError(`${path}: cannot write: too many levels of symbolic links`, { file: path });
}

/** A temporary file beside `target` holding what `write` wrote; the caller renames or removes it. */
async function writeTemp(
  target: string,
  write: (handle: FileHandle) => Promise<void>,
  options: WriteOptions,
): Promise<string> {
  const temp = join(
    dirname(target),
    `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`,
  );
  const handle = await open(temp, "wx", 0o644);
  try {
    try {
      await write(handle);
      if (options.fsync === true) await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    throw cause;
  }
  return temp;
}

/** The atomic write of {@link writeFileAtomic} with the content written by `write`. */
async function writeAtomicWith(
  path: string,
  write: (handle: FileHandle) => Promise<void>,
  options: WriteOptions,
): Promise<void> {
  const target = await resolveWriteTarget(path);
  let temp: string | undefined;
  try {
    temp = await writeTemp(target, write, options);
    await rename(temp, target);
    temp = undefined;
  } catch (cause) {
    if (temp !== undefined) await unlink(temp).catch(() => undefined);
    throw ioError(path, "write", cause);
  }
}

/**
 * Writes a model and its `<path>-metadata` as the pair FEDn reads after `train`: both go to
 * temporary files first, then the metadata is renamed into place, then the model. A failure
 * before the renames changes neither file (the temporary files are removed); a crash between
 * the two renames leaves new metadata beside the old model, never a new model without its
 * metadata.
 */
export async function saveModelWithMetadata(
  arrays: readonly NdArray[],
  metadata: Record<string, unknown>,
  path: string,
  options: EncodeModelOptions & WriteOptions = {},
): Promise<void> {
  const metaPath = metadataPathOf(path);
  checkFlat(metadata, metaPath);
  const text = toPythonJson(metadata, metaPath);
  const modelTarget = await resolveWriteTarget(path);
  const metaTarget = await resolveWriteTarget(metaPath);
  const temps: string[] = [];
  let doing = path;
  try {
    temps.push(await writeTemp(modelTarget, layoutWriter(layoutModel(arrays, options)), options));
    doing = metaPath;
    temps.push(await writeTemp(metaTarget, (h) => h.writeFile(text), options));
    await rename(temps[1] as string, metaTarget);
    temps.pop();
    doing = path;
    await rename(temps[0] as string, modelTarget);
    temps.pop();
  } catch (cause) {
    for (const t of temps) await unlink(t).catch(() => undefined);
    throw ioError(doing, "write", cause);
  }
}

/**
 * Refuses an output that is one of the inputs (after following links), so a command never
 * overwrites the model or the data it reads: `validate m.npz m.npz`, `--data_path` as output.
 * @throws UsageError naming both
 */
export async function assertDistinctPaths(
  output: string,
  inputs: readonly { path: string; what: string }[],
  option?: string,
): Promise<void> {
  const real = async (p: string): Promise<string> => {
    try {
      return await realpath(p);
    } catch {
      return resolve(p);
    }
  };
  const out = await real(output);
  for (const input of inputs) {
    if ((await real(input.path)) === out) {
      throw new UsageError(
        `output ${output} is ${input.what} (${input.path}); writing it would destroy the input`,
        { file: output, option },
      );
    }
  }
}

/**
 * Writes an archive layout atomically, checksumming each part while the OS writes it (the
 * CRC-32 pass then costs no time of its own), and rewrites the local headers once the
 * checksums are known.
 */
async function writeLayout(path: string, layout: NpzLayout, options: WriteOptions): Promise<void> {
  await writeAtomicWith(path, layoutWriter(layout), options);
}

/** Writes the layout's parts through a handle, then its final local headers in place. */
function layoutWriter(layout: NpzLayout): (handle: FileHandle) => Promise<void> {
  return async (handle) => {
    for (const [i, part] of layout.parts.entries()) {
      const written = writeAll(handle, part);
      layout.checksum(i);
      await written;
    }
    await writeAll(handle, layout.finish());
    for (const { part, offset } of layout.localHeaders) {
      const bytes = layout.parts[part]!;
      let done = 0;
      while (done < bytes.length) {
        const { bytesWritten } = await handle.write(
          bytes,
          done,
          bytes.length - done,
          offset + done,
        );
        done += bytesWritten;
      }
    }
  };
}

/** Writes all of `bytes` at the handle's current position (a write may be partial). */
async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, null);
    done += bytesWritten;
  }
}

/**
 * Reads and decodes an `.npz` archive; see {@link decodeNpz}. Errors name the file. Stored
 * members are not copied: their arrays are views of the one buffer the file was read into, so
 * keeping any of them keeps that buffer alive.
 */
export async function loadNpz(
  path: string,
  options: Omit<DecodeNpzOptions, "name" | "consume"> = {},
): Promise<Map<string, NdArray>> {
  // The buffer just read is ours alone: let the decoder use it in place instead of copying.
  return decodeNpz(await readBytes(path), { ...options, name: path, consume: true });
}

/**
 * Encodes arrays as an `.npz` archive (stored unless `compress`) and writes it atomically,
 * member by member: a stored archive is never built in memory. Do not modify the arrays until
 * the promise settles.
 */
export async function saveNpz(
  path: string,
  arrays: Iterable<readonly [string, NdArray]>,
  options: EncodeNpzOptions & WriteOptions = {},
): Promise<void> {
  await writeLayout(path, layoutNpz(arrays, options), options);
}

/** `numpyhelper.load(path)`: the arrays of keys "0".."N-1"; see {@link decodeModel}. */
export async function loadModel(
  path: string,
  options: Omit<DecodeNpzOptions, "name" | "consume"> = {},
): Promise<NdArray[]> {
  return decodeModel(await readBytes(path), { ...options, name: path, consume: true });
}

/** `numpyhelper.save(weights, path)`: keys "0".."N-1", deflated, written atomically. */
export async function saveModel(
  arrays: readonly NdArray[],
  path: string,
  options: EncodeModelOptions & WriteOptions = {},
): Promise<void> {
  await writeLayout(path, layoutModel(arrays, options), options);
}

/**
 * Writes any JSON value to `path` atomically, formatted as Python's `json.dump` would (see
 * {@link toPythonJson}); for outputs such as `predict`'s `{"predicted_class": [...]}`.
 */
export async function saveJson(
  value: unknown,
  path: string,
  options: WriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, toPythonJson(value, basename(path)), options);
}

function checkFlat(object: Record<string, unknown>, what: string): void {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    throw new DataError(`${what} must be a JSON object`);
  }
  for (const [key, value] of Object.entries(object)) {
    if (value !== null && typeof value === "object") {
      throw new DataError(
        `${what}: "${key}" is ${Array.isArray(value) ? "an array" : "an object"}; FEDn expects flat JSON (numbers, strings, booleans)`,
        { key },
      );
    }
  }
}

/**
 * `save_metadata(metadata, path)`: writes `${modelPath}-metadata`, the flat JSON object FEDn's
 * client reads after `train` (it needs `num_examples`, which FedAvg weights each update by).
 */
export async function saveMetadata(
  metadata: Record<string, unknown>,
  modelPath: string,
  options: WriteOptions = {},
): Promise<void> {
  const path = metadataPathOf(modelPath);
  checkFlat(metadata, path);
  await writeFileAtomic(path, toPythonJson(metadata, path), options);
}

/**
 * `load_metadata(path)`: the JSON object in `${modelPath}-metadata` (the round's
 * `client_settings` a FEDn client >= 0.19 writes before `train`), or undefined when the file is
 * missing or empty (older clients write none; an empty file carries nothing either).
 * @throws FormatError when the file is not a JSON object
 */
export async function loadMetadata(
  modelPath: string,
): Promise<Record<string, unknown> | undefined> {
  const path = metadataPathOf(modelPath);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as { code?: unknown } | null)?.code === "ENOENT") return undefined;
    throw ioError(path, "read", cause);
  }
  if (text.trim() === "") return undefined;
  let value: unknown;
  try {
    // FEDn's client writes it with Python's json.dump, which may write bare NaN/Infinity.
    value = parsePythonJson(text);
  } catch (cause) {
    throw new FormatError(`${path}: not valid JSON (${(cause as Error).message})`, {
      file: path,
      cause,
    });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const found = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
    throw new FormatError(`${path}: expected a JSON object, found ${found}`, { file: path });
  }
  return value as Record<string, unknown>;
}

/**
 * `save_metrics(metrics, path)`: writes the metrics object (`validate`'s output) to `path` as
 * JSON. Non-finite values are written as Python's `json.dump` writes them (`NaN`), which the
 * FEDn client's `json.load` reads back.
 */
export async function saveMetrics(
  metrics: Record<string, number>,
  path: string,
  options: WriteOptions = {},
): Promise<void> {
  checkFlat(metrics, path);
  for (const [key, value] of Object.entries(metrics)) {
    if (typeof value !== "number") {
      throw new DataError(`${path}: metric "${key}" is a ${typeof value}, expected a number`, {
        key,
      });
    }
  }
  await writeFileAtomic(path, toPythonJson(metrics, path), options);
}

/**
 * `get_tmp_path()`: creates an empty file with a unique name ending in `suffix` in the OS temp
 * folder and returns its path, like Python's `tempfile.mkstemp(suffix=".npz")` (which is also
 * how FEDn's client makes the files it hands to entry points).
 */
export function getTmpPath(suffix = ".npz"): string {
  for (let attempt = 0; ; attempt++) {
    const path = join(tmpdir(), `tmp${randomBytes(6).toString("hex")}${suffix}`);
    try {
      closeSync(openSync(path, "wx", 0o600));
      return path;
    } catch (cause) {
      if ((cause as { code?: unknown }).code !== "EEXIST" || attempt >= 100) {
        throw ioError(path, "create", cause);
      }
    }
  }
}

// The Python-style JSON codec lives in codec/pyjson.ts (bytes only); re-exported for callers of
// the file helpers.
export { parsePythonJson, toPythonJson } from "../codec/pyjson.js";
