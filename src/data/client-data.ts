/**
 * What the package's `startup` entry point does about data. FEDn runs `startup` once after
 * unpacking the package, in the package folder, with no arguments; the entry points then read
 * `FEDN_DATA_PATH`, else `data/clients/1/mnist.npz` in the package folder (FEDn's examples'
 * default). So startup:
 * - checks the data file the entry points will read, when it exists, and says what it holds;
 * - when the file is missing and lies in the package's own `data/clients/` (the default path, or
 *   `FEDN_DATA_PATH=./data/clients/3/mnist.npz` as in FEDn's quickstart), does what FEDn's example
 *   `startup` does (download MNIST, split it): writes demo splits `data/clients/<i>/mnist.npz`,
 *   i = 1..`FEDN_NUM_DATA_SPLITS` (default 2), from the small data set shipped in the package;
 * - fails, saying what to do, when `FEDN_DATA_PATH` (or `--data_path`) names a missing file
 *   anywhere else: a client pointed at its own data must never train on something else.
 */
import { access } from "node:fs/promises";
import { join, sep } from "node:path";
import { IoError, UsageError } from "../errors.js";
import { dataPathFromEnv, resolveDataPath } from "../fedn/data-path.js";
import { loadNpz, readBytes } from "../node/io.js";
import { toDataset } from "./dataset.js";
import { saveClientSplits } from "./files.js";

/** Splits of the demo data when `FEDN_NUM_DATA_SPLITS` is unset, as FEDn's examples. */
export const DEFAULT_DEMO_SPLITS = 2;
/** File name of the demo data set shipped next to the bundled startup program. */
export const DEMO_DATA_NAME = "demo-mnist.npz";

/** Options of `prepareClientData`. */
export interface ClientDataOptions {
  /** `--data_path`, which wins over the environment. */
  dataPath?: string | undefined;
  /** The environment (`FEDN_DATA_PATH`, `FEDN_NUM_DATA_SPLITS`). */
  env: Readonly<Record<string, string | undefined>>;
  /** The package folder (FEDn runs startup there). */
  cwd: string;
  /** The shipped demo data set; none when undefined. */
  demoPath?: string | undefined;
  /** The package's data file name (`data/clients/<i>/<dataFile>`). @default "mnist.npz" */
  dataFile?: string;
  /**
   * Reads and checks a data file as the entry points will (the package's `DataSpec`) and says
   * what it holds. @default the MNIST layout's check
   */
  describe?: (path: string) => Promise<string>;
}

/** What `prepareClientData` found or did, as lines for the log. */
export interface ClientDataReport {
  /** The data file the entry points will read. */
  path: string;
  /** Whether demo splits were written. */
  created: boolean;
  lines: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The MNIST layout's check, when the caller gives none: what train reads, checked as train does. */
async function describeMnistFile(path: string): Promise<string> {
  const { mnistNpz } = await import("./npz-data.js");
  const spec = mnistNpz();
  const splits = ["train", "test"] as const;
  const data = spec.load(await readBytes(path), { file: path, splits, consume: true });
  const warnings = data.warnings.length === 0 ? "" : ` (${data.warnings.join("; ")})`;
  return `${spec.describe!(data)}${warnings}`;
}

function demoSplits(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.FEDN_NUM_DATA_SPLITS;
  if (raw === undefined || raw === "") return DEFAULT_DEMO_SPLITS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`FEDN_NUM_DATA_SPLITS must be a positive integer, found "${raw}"`, {
      option: "FEDN_NUM_DATA_SPLITS",
    });
  }
  return n;
}

/** Finds, checks or creates this client's data (see the module comment). */
export async function prepareClientData(options: ClientDataOptions): Promise<ClientDataReport> {
  // The entry points' own rule, so startup checks exactly the file train will read.
  const dataFile = options.dataFile ?? "mnist.npz";
  const describeDataFile = options.describe ?? describeMnistFile;
  const path = resolveDataPath(options.dataPath, { ...options, dataFile });
  const explicit = options.dataPath ?? dataPathFromEnv(options.env);
  const source = options.dataPath !== undefined ? "--data_path" : "FEDN_DATA_PATH";
  if (await exists(path)) {
    const what = await describeDataFile(path);
    const how = explicit === undefined ? "the default path" : source;
    return { path, created: false, lines: [`data: ${path} (${how}): ${what}`] };
  }
  const clientsDir = join(options.cwd, "data", "clients");
  if (explicit !== undefined && !path.startsWith(`${clientsDir}${sep}`)) {
    throw new IoError(
      `${source} names ${path}, which does not exist: put this client's data there (an npz with x_train, y_train, x_test, y_test) or fix ${source}`,
      { file: path },
    );
  }
  if (options.demoPath === undefined || !(await exists(options.demoPath))) {
    throw new IoError(
      `no data at ${path} and no demo data in the package: set FEDN_DATA_PATH to this client's ${dataFile} (see \`fedn-tfjs data --clients N\`)`,
      { file: path },
    );
  }
  const parts = demoSplits(options.env);
  const dataset = toDataset(await loadNpz(options.demoPath), options.demoPath);
  const paths = await saveClientSplits(dataset, parts, clientsDir, { name: dataFile });
  const wrote = `wrote ${paths.length} demo split(s) of the packaged ${dataFile === "mnist.npz" ? "MNIST digits" : "data"} to ${clientsDir}/<1..${paths.length}>/${dataFile}`;
  if (!(await exists(path))) {
    throw new IoError(
      `${source} names ${path}, which is not one of the ${wrote.slice(6)}: pick i from 1 to ${paths.length} or raise FEDN_NUM_DATA_SPLITS`,
      { file: path },
    );
  }
  const what = await describeDataFile(path);
  const how = explicit === undefined ? "the default path" : source;
  return {
    path,
    created: true,
    lines: [
      `data: nothing at ${path} (${how}): ${wrote}`,
      `data: ${path}: ${what}; set FEDN_DATA_PATH to use another file`,
    ],
  };
}
