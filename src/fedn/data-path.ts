/**
 * FEDn's data-path rule, in one place: an entry point reads `--data_path`, else the environment
 * variable `FEDN_DATA_PATH` (how FEDn's examples point a client at its data), else
 * `data/clients/1/<dataFile>` beside the package, relative to the working directory (the
 * package folder, where FEDn runs entry points).
 */
import { isAbsolute, join, resolve } from "node:path";
import { DataError, UsageError } from "../errors.js";

/**
 * FEDn's examples' client-data layout, in one place: client `i` (from 1) has `<dir>/<i>/<file>`.
 * `fedn-tfjs data --clients N` and startup's demo splits write it, `simulate` reads it, and an
 * entry point's default data path is client 1's under `data/clients`. `file` must be a plain
 * file name; `option` is the command-line option it came from, named when it is not.
 */
export function clientDataPaths(
  dir: string,
  clients: number,
  file: string,
  option: string,
): string[] {
  if (file === "" || file === "." || file === ".." || file.includes("/") || file.includes("\\")) {
    throw new UsageError(
      `option --${option} expects a file name without a folder, found ${JSON.stringify(file)}`,
      { option: option.replaceAll("-", "_") },
    );
  }
  return Array.from({ length: clients }, (_, i) => join(dir, String(i + 1), file));
}

/** Where a client's data is when neither `--data_path` nor `FEDN_DATA_PATH` says: FEDn's example layout. */
export function defaultDataPath(dataFile: string): string {
  return `data/clients/1/${dataFile}`;
}

/** What the rule needs: the environment, the working directory and the package's file name. */
export interface DataPathContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The package's data file name, e.g. `mnist.npz`. */
  readonly dataFile: string;
}

/** `--data_path`, else `FEDN_DATA_PATH`, else `data/clients/1/<dataFile>`; relative to `cwd`. */
export function resolveDataPath(dataPath: string | undefined, context: DataPathContext): string {
  const chosen = dataPath ?? dataPathFromEnv(context.env) ?? defaultDataPath(context.dataFile);
  if (TORCH_FILE.test(chosen)) {
    const source = dataPath !== undefined ? "--data_path" : "FEDN_DATA_PATH";
    throw new DataError(
      `${source} names ${chosen}, a PyTorch file (FEDn's PyTorch quickstart writes data/clients/<i>/mnist.pt); fedn-tfjs reads .npz data: write it with \`fedn-tfjs data --clients N\` (data/clients/<i>/${context.dataFile}) and point ${source} there`,
      { file: chosen, ...(dataPath !== undefined ? { option: "data_path" } : {}) },
    );
  }
  return isAbsolute(chosen) ? chosen : resolve(context.cwd, chosen);
}

/** PyTorch's `.pt`/`.pth` files, which FEDn's PyTorch quickstart writes; the kit reads `.npz`. */
const TORCH_FILE = /\.(pt|pth)$/i;

/** `FEDN_DATA_PATH`, unless unset or empty: the one place that reads it. */
export function dataPathFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const fromEnv = env.FEDN_DATA_PATH;
  return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
}
