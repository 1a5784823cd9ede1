/**
 * `startClient`: what `fedn client start` does (FEDn v0.33.0, `client_v2.py: Client.start`),
 * in Node: resolve the options, get a combiner from the controller (or use `--combiner`), get
 * the package (download, checksum, unpack; or a local folder/.tgz), run `startup` once, then
 * serve the combiner's tasks until the signal aborts. No `process` here: the bin wires signals
 * to the `AbortSignal` and streams to the writers.
 */
import { rm, stat } from "node:fs/promises";
import { IoError } from "../errors.js";
import { unpackPackage, type Writer } from "../tools/entry-point.js";
import { type ClientOptions, resolveClientConfig } from "./config.js";
import { type Assignment, Controller } from "./controller.js";
import { loadInProcessPackage } from "./in-process.js";
import { fednLogger, type Logger } from "./log.js";
import {
  type CombinerTarget,
  runSession,
  type SessionEvent,
  type SessionSummary,
} from "./session.js";
import {
  type InProcessPackage,
  inProcessTasks,
  type PackageTaskOptions,
  packageTasks,
  runStartup,
  type TaskRunner,
  unpackDownloaded,
} from "./tasks.js";

/** Options of `startClient`: the FEDn client options plus where things go. */
export interface StartClientOptions extends Omit<ClientOptions, "inProcess"> {
  /** Ends the client: the running entry point is stopped and nothing half-done is sent. */
  signal: AbortSignal;
  /** The environment the entry points inherit; also FEDn's FEDN_* variables. */
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** FEDn-style log lines. */
  log: Writer;
  /** Show the protocol (DEBUG lines). */
  verbose?: boolean | undefined;
  /** The entry points' own output. @default the log sink */
  stdout?: Writer | undefined;
  stderr?: Writer | undefined;
  /**
   * Run train/validate/predict inside this process instead of as `fedn.yaml`'s commands; `startup`
   * still runs as FEDn runs it. `true` (`--in-process`, YAML `in_process`): import the entry file
   * fedn.yaml's `node <file>.js train` command names (a `defineComputePackage` bundle) and run its
   * package; a package object: run that one's `run`.
   */
  inProcess?: boolean | InProcessPackage | undefined;
  /** Watches the session (tests). */
  onEvent?:
    | ((event: SessionEvent | { type: "ready"; packageDir: string; clientId: string }) => void)
    | undefined;
}

/** Where to dial for an assignment: FEDn's `init_grpchandler` (fqdn wins, on port 443). */
export function combinerTarget(
  assignment: Assignment,
  secure: boolean | undefined,
): CombinerTarget {
  const useFqdn = assignment.fqdn !== "";
  const host = useFqdn ? assignment.fqdn : assignment.host;
  const port = useFqdn ? 443 : assignment.port;
  return { address: `${host}:${port}`, name: assignment.host, secure: secure ?? port === 443 };
}

/** The package folder to run: a local folder as it is, a `.tgz` unpacked (owned: removed after). */
async function localPackage(path: string): Promise<{ dir: string; owned: boolean }> {
  const info = await stat(path).catch((error: Error) => {
    throw new IoError(`local package ${path} cannot be read: ${error.message}`, {
      file: path,
      option: "local_package",
    });
  });
  if (info.isDirectory()) return { dir: path, owned: false };
  return { dir: await unpackPackage(path), owned: true };
}

/** Runs a FEDn client until `signal` aborts; resolves with what the session did. */
export async function startClient(options: StartClientOptions): Promise<SessionSummary> {
  const given = options.inProcess;
  const config = await resolveClientConfig(
    { ...options, inProcess: typeof given === "object" ? true : given },
    { env: options.env, cwd: options.cwd },
  );
  const log: Logger = fednLogger(options.log, options.verbose ?? false);
  const signal = options.signal;
  if (config.ignoredKeys.length > 0) {
    log.warning(
      `Client config: ignoring ${config.ignoredKeys.join(", ")} (not used by this client)`,
    );
  }
  log.info(`Setting client name to: ${config.name}`);
  const controller = new Controller(config, log);
  let assignment: Assignment;
  if (config.combiner !== undefined) {
    assignment = {
      host: config.combiner.host,
      fqdn: "",
      port: config.combiner.port,
      clientId: config.clientId,
      helperType: "",
    };
  } else {
    assignment = await controller.assign(config.localPackage === undefined, signal);
  }
  log.info(`Setting client ID to: ${assignment.clientId}`);
  if (assignment.helperType !== "" && assignment.helperType !== "numpyhelper") {
    log.warning(
      `The controller's helper is ${assignment.helperType}; this client's packages speak numpyhelper`,
    );
  }
  const taskOptions: PackageTaskOptions = {
    env: options.env,
    stdout: options.stdout ?? options.log,
    stderr: options.stderr ?? options.log,
    timeoutMs: config.taskTimeoutMs,
    info: (m) => log.info(m),
    debug: (m) => log.debug(m),
  };
  let pkg: { dir: string; owned: boolean };
  if (config.localPackage !== undefined) {
    pkg = await localPackage(config.localPackage);
  } else {
    const download = await controller.downloadPackage(signal);
    pkg = { dir: await unpackDownloaded(download.fileName, download.bytes), owned: true };
    log.info(`Compute package unpacked to: ${pkg.dir}`);
  }
  let runner: TaskRunner | undefined;
  try {
    const files = await packageTasks(pkg.dir, taskOptions);
    // startup first, as FEDn: it may prepare what the entry file needs.
    if (!(await runStartup(files.dir, taskOptions, signal))) {
      log.info("No startup command found in package. Continuing.");
    }
    if (typeof given === "object") {
      runner = inProcessTasks(given, files.dir, taskOptions);
    } else if (config.inProcess) {
      const loaded = await loadInProcessPackage(pkg.dir, options.env);
      log.info(`Running the package's train, validate and predict in process (${loaded.pkg.name})`);
      runner = inProcessTasks(loaded.pkg, loaded.dir, taskOptions, loaded.args);
    } else {
      runner = files;
    }
    if (signal.aborted)
      return { updates: 0, validations: 0, predictions: 0, failed: 0, reconnects: 0 };
    options.onEvent?.({ type: "ready", packageDir: runner.dir, clientId: assignment.clientId });
    return await runSession({
      config,
      target: combinerTarget(assignment, config.secure),
      clientId: assignment.clientId,
      token: controller.currentToken(),
      runner,
      log,
      signal,
      onEvent: options.onEvent,
    });
  } finally {
    runner?.close?.();
    if (pkg.owned) await rm(pkg.dir, { recursive: true, force: true });
    log.info("Client stopped.");
  }
}
