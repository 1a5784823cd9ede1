/**
 * The compute package's configuration file: `fedn.yaml` (FEDn ≤ 0.x) or `scaleout.yaml` (the 1.0
 * line). FEDn reads it with a YAML safe loader and uses only `entry_points.<name>.command` (and
 * `python_env`, which needs PyPI and means nothing to a Node package). Parsing is pure; finding
 * the file is the small fs part at the end.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FormatError, IoError } from "../errors.js";

/** Names of the configuration file, in the order they are looked for in each folder. */
export const CONFIG_NAMES = ["fedn.yaml", "scaleout.yaml"] as const;

/** What FEDn reads of `fedn.yaml`. */
export interface PackageConfig {
  /** Entry point name → the shell command FEDn runs (`node dist/entrypoint.js train`). */
  readonly entryPoints: Readonly<Record<string, string>>;
  /** The `python_env` file, if any: FEDn would build a virtualenv from it. */
  readonly pythonEnv: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses the text of `fedn.yaml` (YAML 1.2 core schema: no custom tags, like PyYAML's safe
 * loader for the shapes FEDn reads) and checks that every entry point has a string `command`.
 */
export async function parsePackageConfig(text: string, file = "fedn.yaml"): Promise<PackageConfig> {
  // Loaded here, not at import: the entry points and most commands never read a fedn.yaml, and
  // the yaml package costs every process start-up time.
  const { parseDocument } = await import("yaml");
  let doc: unknown;
  try {
    const parsed = parseDocument(text, { schema: "core", uniqueKeys: true });
    // PyYAML's safe loader refuses what the yaml package only warns about (an unknown tag such
    // as !!python/object), and a warning printed by the library would be multi-line stderr.
    const problem = parsed.errors[0] ?? parsed.warnings[0];
    if (problem !== undefined) throw problem;
    doc = parsed.toJS();
  } catch (error) {
    const message = (error as Error).message.split("\n")[0];
    throw new FormatError(`${file}: not valid YAML: ${message}`, { file, cause: error });
  }
  if (!isObject(doc)) {
    throw new FormatError(`${file}: expected a mapping with "entry_points", found ${kind(doc)}`, {
      file,
    });
  }
  const points = doc.entry_points;
  if (!isObject(points)) {
    throw new FormatError(
      `${file}: "entry_points" must be a mapping of names to {command: ...}, found ${kind(points)}`,
      { file, key: "entry_points" },
    );
  }
  const entryPoints: Record<string, string> = {};
  for (const [name, spec] of Object.entries(points)) {
    const command = isObject(spec) ? spec.command : undefined;
    if (typeof command !== "string" || command.trim() === "") {
      throw new FormatError(
        `${file}: entry point "${name}" needs a non-empty string "command", found ${kind(isObject(spec) ? spec.command : spec)}`,
        { file, key: `entry_points.${name}.command` },
      );
    }
    entryPoints[name] = command;
  }
  const pythonEnv = doc.python_env;
  return {
    entryPoints,
    pythonEnv: typeof pythonEnv === "string" && pythonEnv !== "" ? pythonEnv : undefined,
  };
}

function kind(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Where a package's configuration was found. */
export interface PackageLocation {
  /** The folder that holds the configuration file: FEDn runs the entry points there. */
  readonly dir: string;
  /** The configuration file itself. */
  readonly file: string;
}

/** The configuration file directly in `dir`, if any. */
export async function configIn(dir: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new IoError(`cannot read package folder ${dir}: ${(error as Error).message}`, {
      file: dir,
      cause: error,
    });
  }
  const found = CONFIG_NAMES.find((n) => names.includes(n));
  return found === undefined ? undefined : join(dir, found);
}

/**
 * The first folder under `root` (itself included, then its subfolders top-down in name order,
 * like `os.walk`) that holds `fedn.yaml` or `scaleout.yaml`: how FEDn ≥ 0.9.2 finds the package
 * in an unpacked archive, so both `client/fedn.yaml` and a top-level `fedn.yaml` work.
 */
export async function findPackage(root: string): Promise<PackageLocation> {
  const walk = async (dir: string): Promise<PackageLocation | undefined> => {
    const file = await configIn(dir);
    if (file !== undefined) return { dir, file };
    const entries = await readdir(dir, { withFileTypes: true });
    const subdirs = entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    for (const name of subdirs) {
      const found = await walk(join(dir, name));
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const found = await walk(root);
  if (found === undefined) {
    throw new IoError(`${root}: no fedn.yaml (or scaleout.yaml) in it or any folder below it`, {
      file: root,
    });
  }
  return found;
}

/** Reads and parses a configuration file. */
export async function loadPackageConfig(file: string): Promise<PackageConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new IoError(`cannot read ${file}: ${(error as Error).message}`, {
      file,
      cause: error,
    });
  }
  return parsePackageConfig(text, file);
}
