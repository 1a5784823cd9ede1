/**
 * `client start --in-process`: the package's entry file, named by `fedn.yaml`, imported into the
 * client's own process. Its `defineComputePackage(...).main()` hands the package over instead of
 * running (`kit/host.ts`), and the client runs train/validate/predict through the package's
 * `run(argv, ctx)` (`inProcessTasks`), keeping TF.js, the model and the data between rounds.
 *
 * Only the commands `fedn-tfjs package build` leads to are accepted: `node <file>.js <entry>`
 * followed by plain words or `$VARIABLE`s (FEDn's `$ENTRYPOINT_OPTS`), which are expanded from the
 * client's environment and split on blanks, as `bash -c` would. Anything a shell would have to
 * interpret (quotes, pipes, redirections, another program) is refused in one line: such a package
 * runs as FEDn runs it, without `--in-process`.
 */
import { resolve } from "node:path";
import { UsageError } from "../errors.js";
import { findPackage, loadPackageConfig } from "../fedn/config.js";
import { importHostedPackage } from "../kit/host.js";
import type { InProcessPackage } from "./tasks.js";

/** The task entry points that run in process (startup runs as FEDn runs it). */
export type TaskEntry = "train" | "validate" | "predict";

/** A package ready to run in process: its commands, its folder, and each entry's extra words. */
export interface InProcessLoad {
  readonly pkg: InProcessPackage & { readonly name: string };
  /** The folder holding `fedn.yaml`: the commands' working folder. */
  readonly dir: string;
  /** The words `fedn.yaml` puts between the entry's name and `<in> <out>`; absent: no such entry. */
  readonly args: Readonly<Partial<Record<TaskEntry, readonly string[]>>>;
}

const WORD = /^[A-Za-z0-9_./=:,+@%-]+$/;
const VARIABLE = /^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$/;
const SCRIPT = /^[A-Za-z0-9_./@+-]+\.[cm]?js$/;

/**
 * Reads one `fedn.yaml` command (`node dist/entrypoint.js train $ENTRYPOINT_OPTS`) as the entry
 * file and the words after the entry's name, with variables expanded from `env`.
 */
export function parseNodeCommand(
  command: string,
  entry: TaskEntry,
  configFile: string,
  env: Readonly<Record<string, string | undefined>>,
): { script: string; args: string[] } {
  const words = command.trim().split(/\s+/);
  const [program, script, name, ...rest] = words;
  const fits =
    program === "node" &&
    script !== undefined &&
    SCRIPT.test(script) &&
    name === entry &&
    rest.every((w) => WORD.test(w) || VARIABLE.test(w));
  if (!fits) {
    throw new UsageError(
      `${configFile}: entry point "${entry}" runs "${command.trim()}"; --in-process expects "node <file>.js ${entry}" and plain options or $VARIABLES (what fedn-tfjs package build leads to)`,
      { file: configFile, key: `entry_points.${entry}.command`, option: "in_process" },
    );
  }
  const args = rest.flatMap((w) => {
    const m = VARIABLE.exec(w);
    if (m === null) return [w];
    const value = env[m[1] ?? m[2] ?? ""] ?? "";
    return value.split(/\s+/).filter((v) => v !== "");
  });
  return { script: script as string, args };
}

/**
 * Finds the package under `root`, checks that its train, validate and predict commands run one
 * entry file with `node`, and imports that file with the kit's host waiting.
 */
export async function loadInProcessPackage(
  root: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<InProcessLoad> {
  const location = await findPackage(root);
  const config = await loadPackageConfig(location.file);
  const train = config.entryPoints.train;
  if (train === undefined) {
    throw new UsageError(
      `${location.file} has no "train" entry point: --in-process imports the file its command runs`,
      { file: location.file, key: "entry_points.train", option: "in_process" },
    );
  }
  const first = parseNodeCommand(train, "train", location.file, env);
  const args: Partial<Record<TaskEntry, readonly string[]>> = { train: first.args };
  for (const entry of ["validate", "predict"] as const) {
    const command = config.entryPoints[entry];
    if (command === undefined) continue;
    const parsed = parseNodeCommand(command, entry, location.file, env);
    if (resolve(location.dir, parsed.script) !== resolve(location.dir, first.script)) {
      throw new UsageError(
        `${location.file}: entry point "${entry}" runs ${parsed.script} but "train" runs ${first.script}; --in-process expects one entry file for train, validate and predict`,
        { file: location.file, key: `entry_points.${entry}.command`, option: "in_process" },
      );
    }
    args[entry] = parsed.args;
  }
  const pkg = await importHostedPackage(resolve(location.dir, first.script));
  return { pkg, dir: location.dir, args };
}
