/**
 * `fedn package create`, in Node: a gzip tarball of a package folder that holds `fedn.yaml`,
 * leaving out what `.fednignore` names. Unlike FEDn ≥ 0.22, which stores paths relative to the
 * folder, every path goes under a top-level `client/` folder: FEDn 0.8 expects that layout and
 * FEDn ≥ 0.9.2 looks for the first folder holding `fedn.yaml`, so one archive serves both.
 */
import { lstat, readdir, readFile, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { IoError, UsageError } from "../errors.js";
import { configIn, loadPackageConfig } from "../fedn/config.js";
import { IGNORE_FILE_NAMES, isIgnored, parseFednignore } from "../fedn/fednignore.js";

/** Options of `createPackage`. */
export interface CreatePackageOptions {
  /** The package folder; it must hold `fedn.yaml` (or `scaleout.yaml`). */
  path: string;
  /** File name of the archive. @default "package.tgz" */
  name?: string;
  /** Folder to write the archive to; it must exist. @default the current folder */
  output?: string;
  /** Top-level folder inside the archive. @default "client" */
  prefix?: string;
}

/** What `createPackage` wrote. */
export interface CreatedPackage {
  /** Absolute path of the archive. */
  file: string;
  /** Size of the archive in bytes. */
  bytes: number;
  /** Paths inside the archive (prefix included), in archive order. */
  entries: string[];
}

/** The ignore patterns of a package folder (`.fednignore`, else `.scaleoutignore`; none if absent). */
export async function readIgnorePatterns(dir: string): Promise<string[]> {
  for (const name of IGNORE_FILE_NAMES) {
    try {
      return parseFednignore(await readFile(join(dir, name), "utf8"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new IoError(`cannot read ${join(dir, name)}: ${(error as Error).message}`, {
          file: join(dir, name),
          cause: error,
        });
      }
    }
  }
  return [];
}

/**
 * The files `fedn package create` would put in the archive: every file under `dir` (POSIX paths
 * relative to it, sorted) except those the patterns ignore, without entering ignored folders or
 * following symbolic links to folders (as `os.walk`).
 */
export async function listPackageFiles(
  dir: string,
  patterns: readonly string[],
): Promise<string[]> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (isIgnored(path, patterns)) continue;
      if (entry.isDirectory()) {
        await walk(path);
      } else if (entry.isSymbolicLink()) {
        // os.walk lists a link to a folder among the folders and does not follow it.
        const target = await stat(join(dir, path)).catch(() => undefined);
        if (target === undefined || !target.isDirectory()) files.push(path);
      } else {
        files.push(path);
      }
    }
  };
  await walk("");
  return files;
}

/** Validates and defaults the options of `createPackage`. */
function resolveCreateOptions(options: CreatePackageOptions) {
  const name = options.name ?? "package.tgz";
  if (name.includes("/") || name === "" || name !== basename(name)) {
    throw new UsageError(`package name must be a file name, found "${name}"`, { option: "name" });
  }
  if (!name.endsWith(".tgz")) {
    throw new UsageError(
      `package name must end in .tgz (FEDn's server renames uploads and mangles .tar.gz), found "${name}"`,
      { option: "name" },
    );
  }
  const prefix = (options.prefix ?? "client").replace(/\/+$/, "");
  return {
    path: resolve(options.path),
    output: resolve(options.output ?? "."),
    name,
    prefix,
  };
}

/**
 * A test for the package-relative paths that are this run's own output: the archive `name` in
 * `output`, and its temporary files (`.<name>.<pid>.<time>.tmp`), when `output` is inside `dir`.
 */
async function ownOutputs(
  dir: string,
  output: string,
  name: string,
): Promise<(path: string) => boolean> {
  const rel = relative(await realpath(dir), await realpath(output));
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return () => false;
  const folder = rel === "" ? "" : `${rel.split(sep).join("/")}/`;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const temp = new RegExp(`^\\.${escaped}\\.[0-9]+\\.[0-9]+\\.tmp$`);
  return (path) => {
    if (!path.startsWith(folder)) return false;
    const base = path.slice(folder.length);
    return base === name || temp.test(base);
  };
}

/**
 * Writes the package archive (see the module comment) atomically (relative paths are resolved
 * against the current folder): a temporary file beside the
 * target, renamed into place. Checks that the folder holds a parseable `fedn.yaml` first. The
 * archive itself (and its temporary file) is left out when it is written inside the folder.
 *
 * @example await createPackage({ path: "client", output: "." }) // ./package.tgz
 */
export async function createPackage(options: CreatePackageOptions): Promise<CreatedPackage> {
  const { path, output, name, prefix } = resolveCreateOptions(options);
  const dirStat = await stat(path).catch(() => undefined);
  if (dirStat === undefined || !dirStat.isDirectory()) {
    throw new IoError(`package folder ${path} does not exist or is not a folder`, {
      file: path,
      option: "path",
    });
  }
  const config = await configIn(path);
  if (config === undefined) {
    throw new IoError(`could not find fedn.yaml (or scaleout.yaml) in ${path}`, {
      file: path,
      option: "path",
    });
  }
  await loadPackageConfig(config);
  const outStat = await stat(output).catch(() => undefined);
  if (outStat === undefined || !outStat.isDirectory()) {
    throw new IoError(`output folder ${output} does not exist`, { file: output, option: "output" });
  }
  const target = join(output, name);
  const temp = join(output, `.${name}.${process.pid}.${Date.now()}.tmp`);
  // Never pack the archive into itself: rerunning with the default `-p . -o .` would put the
  // previous package.tgz (or a temporary file a killed run left) inside the new one.
  const own = await ownOutputs(path, output, name);
  const files = (await listPackageFiles(path, await readIgnorePatterns(path))).filter(
    (f) => !own(f),
  );
  if (!files.includes(basename(config))) {
    throw new UsageError(
      `${basename(config)} is ignored by the package's ignore file: the package would not run`,
      {
        file: config,
      },
    );
  }
  // A symbolic link is archived as the file it points to (`tar -h`): `run` and a FEDn client
  // unpack only files and folders, and a link out of the folder would not exist on the client.
  for (const file of files) {
    const info = await stat(join(path, file)).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      const what = info === undefined ? "a symbolic link to nothing" : "not a regular file";
      throw new IoError(`${join(path, file)} is ${what}; a package holds files and folders`, {
        file: join(path, file),
      });
    }
  }
  // tar is loaded when a package is made, not by every process that imports the library.
  const { create: createTar } = await import("tar");
  try {
    await createTar(
      {
        file: temp,
        cwd: path,
        gzip: true,
        portable: true,
        prefix,
        noDirRecurse: true,
        follow: true,
      },
      files,
    );
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw new IoError(`cannot write ${target}: ${(error as Error).message}`, {
      file: target,
      cause: error,
    });
  }
  const bytes = (await lstat(target)).size;
  return { file: target, bytes, entries: files.map((f) => `${prefix}/${f}`) };
}
