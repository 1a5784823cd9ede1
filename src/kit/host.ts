/**
 * How a host process (the FEDn client's `--in-process` mode) gets the compute package out of a
 * bundled entry file without running it. The entry file ends in `defineComputePackage(...).main()`,
 * which would parse `process.argv` and run a command as soon as the file is imported. So `main()`
 * (and `mainStartup()`) first look for a host waiting on `globalThis` under a `Symbol.for` key: if
 * one is there, they hand the package to it and return.
 *
 * Why duck-typed and versioned: the bundle carries its own copy of the kit and TF.js, so the host's
 * copy and the bundle's copy share no classes (`instanceof` fails across them); only plain objects
 * and functions cross, their shape named by `protocol`. `Symbol.for` is the one registry every copy
 * sees. Without a host (every normal run), `main()` behaves as before.
 */
import { pathToFileURL } from "node:url";
import { IoError, UsageError } from "../errors.js";
import type { CliContext } from "./cli.js";

/** The `globalThis` key a host waits under; the same symbol in every copy of the kit. */
export const PACKAGE_HOST_KEY: unique symbol = Symbol.for("fedn-tfjs.package-host") as never;

/** The shape of what crosses between copies; raised when `HostedPackage` or `PackageHost` change. */
export const HOST_PROTOCOL = 1;

/** What an entry file hands to a host: the package's commands, run in the host's process. */
export interface HostedPackage {
  /** `HOST_PROTOCOL` of the kit that built the entry file. */
  readonly protocol: number;
  readonly name: string;
  /** Runs one command line (`["train", "in.npz", "out.npz"]`) and returns the exit status. */
  run(argv: readonly string[], ctx: CliContext): Promise<number>;
}

/** What a host registers on `globalThis[PACKAGE_HOST_KEY]` while it imports an entry file. */
export interface PackageHost {
  readonly protocol: number;
  accept(pkg: HostedPackage): void;
}

/**
 * Hands `pkg` to a host waiting in this process and returns true; returns false when none waits
 * (a normal run: the caller goes on to parse `process.argv`).
 */
export function offerToHost(pkg: HostedPackage): boolean {
  const host = (globalThis as Record<symbol, unknown>)[PACKAGE_HOST_KEY];
  if (typeof host !== "object" || host === null) return false;
  const accept = (host as Partial<PackageHost>).accept;
  if (typeof accept !== "function") return false;
  accept.call(host, pkg);
  return true;
}

/** Packages already taken, by file URL: a second import of the same file does not run it again. */
const taken = new Map<string, HostedPackage>();
/** One import at a time: the key on `globalThis` is shared. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Imports an entry file (`dist/entrypoint.js`) with a host waiting, and returns the package its
 * `main()` handed over instead of running. Throws a one-line `UsageError` when the file registers
 * no package (not a `defineComputePackage` entry, or built by a kit without this hook) or speaks
 * another protocol, and an `IoError` when it cannot be imported.
 */
export function importHostedPackage(file: string): Promise<HostedPackage> {
  const next = queue.then(() => importNow(file));
  queue = next.catch(() => undefined);
  return next;
}

async function importNow(file: string): Promise<HostedPackage> {
  const url = pathToFileURL(file).href;
  const known = taken.get(url);
  if (known !== undefined) return known;
  const global = globalThis as Record<symbol, unknown>;
  const previous = global[PACKAGE_HOST_KEY];
  const offered: unknown[] = [];
  const host: PackageHost = {
    protocol: HOST_PROTOCOL,
    accept: (pkg) => {
      offered.push(pkg);
    },
  };
  global[PACKAGE_HOST_KEY] = host;
  try {
    await import(url);
  } catch (error) {
    const reason = String((error as Error)?.message ?? error).split("\n")[0];
    throw new IoError(`${file} cannot be imported to run in process: ${reason}`, {
      file,
      cause: error,
    });
  } finally {
    if (previous === undefined) delete global[PACKAGE_HOST_KEY];
    else global[PACKAGE_HOST_KEY] = previous;
  }
  const pkg = offered[0] as Partial<HostedPackage> | undefined;
  if (pkg === undefined) {
    throw new UsageError(
      `${file} registered no compute package when imported: running in process needs an entry file that ends in defineComputePackage({...}).main(), bundled by a fedn-tfjs that runs packages in process (rebuild it with fedn-tfjs package build, or run without --in-process)`,
      { file, option: "in_process" },
    );
  }
  if (pkg.protocol !== HOST_PROTOCOL || typeof pkg.run !== "function") {
    throw new UsageError(
      `${file} was built with a fedn-tfjs whose in-process interface is version ${String(pkg.protocol)}; this client speaks version ${HOST_PROTOCOL} (rebuild the package with this fedn-tfjs, or run without --in-process)`,
      { file, option: "in_process" },
    );
  }
  const checked = pkg as HostedPackage;
  taken.set(url, checked);
  return checked;
}
