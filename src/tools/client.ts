/**
 * `fedn-tfjs client start`: a FEDn client in Node (see `src/client/client.ts`), with the flags of
 * FEDn's `fedn client start` (`fedn/cli/client_cmd.py`) and a few of our own for TLS and limits.
 */

import { startClient } from "../client/client.js";
import { UsageError } from "../errors.js";
import { defineCommand } from "../kit/cli.js";

/**
 * FEDn's click CLI takes `-in FILE` for `--init`; a getopt-style parser reads `-in` as `-i -n`,
 * so the bin rewrites it first (only for `client` commands).
 */
export function fednClientArgv(argv: readonly string[]): string[] {
  if (argv[0] !== "client") return [...argv];
  return argv.map((a) =>
    a === "-in" ? "--init" : a.startsWith("-in=") ? `--init=${a.slice(4)}` : a,
  );
}

export default defineCommand({
  name: "client start",
  describe: "Join a FEDn network as a client, with only Node: FEDn's `fedn client start`",
  positionals: [],
  interruptible: true,
  options: {
    api_url: { type: "string", alias: "u", describe: "The FEDn controller (API) URL or host" },
    api_port: { type: "number", alias: "p", describe: "The controller's port" },
    token: { type: "string", describe: "The client token (sent as `<FEDN_AUTH_SCHEME> <token>`)" },
    name: {
      type: "string",
      alias: "n",
      describe: "Client name",
      defaultDescription: "client<random>",
    },
    client_id: {
      type: "string",
      alias: "i",
      describe: "Client id",
      defaultDescription: "a new UUID",
    },
    init: {
      type: "string",
      describe:
        "A FEDn client YAML file (api_url, api_port, token, name, client_id, ...); -in works too",
    },
    local_package: {
      type: "boolean",
      describe: "Run the package in ./client instead of downloading the controller's (FEDn's flag)",
      default: false,
    },
    package_path: {
      type: "string",
      describe: "Run this package folder or .tgz instead of downloading the controller's",
    },
    package_checksum: { type: "string", describe: "sha256 the downloaded package must have" },
    preferred_combiner: { type: "string", alias: "c", describe: "Name of the preferred combiner" },
    combiner: { type: "string", describe: "Skip assignment: dial this combiner host directly" },
    combiner_port: { type: "number", describe: "The combiner's port, with --combiner" },
    secure: {
      type: "boolean",
      describe: "TLS to the combiner (default: as FEDn, TLS exactly when its port is 443)",
    },
    insecure: { type: "boolean", describe: "Plain-text gRPC to the combiner, whatever its port" },
    insecure_token: {
      type: "boolean",
      describe:
        "Send the token to the combiner on an insecure channel too (in clear text; FEDn's client never does)",
    },
    attributes: {
      type: "string",
      describe:
        "KEY=VALUE[,KEY=VALUE...] sent to the combiner once connected (FEDn's client attributes, for server functions)",
    },
    ca_cert: {
      type: "string",
      describe:
        "PEM root certificate(s) to trust (combiner and controller); FEDN_GRPC_ROOT_CERT_PATH",
    },
    verify: {
      type: "boolean",
      describe:
        "Check the controller's HTTPS certificate (--no-verify: don't); FEDN_CONNECT_API_SECURE",
    },
    task_timeout: {
      type: "number",
      describe: "Stop an entry point after this many seconds and report the task failed",
    },
    in_process: {
      type: "boolean",
      describe:
        "Run train/validate/predict inside this process: import the entry file of fedn.yaml's `node <file>.js train` (a defineComputePackage bundle), keep the model and data between rounds, send per-step training metrics (SendModelMetric)",
    },
    retry_interval: {
      type: "number",
      describe: "Seconds before the first retry when the controller or combiner is away (doubles)",
      default: 5,
    },
    verbose: { type: "boolean", describe: "Show the protocol (DEBUG lines) and stack traces" },
  },
  epilog: [
    "Examples:",
    "  fedn-tfjs client start --api-url http://localhost --api-port 8092 --token $TOKEN --name node1",
    "  fedn-tfjs client start -in client.yaml",
    "  fedn-tfjs client start --api-url localhost:8092 --package-path client   # your own package",
    "  fedn-tfjs client start -in client.yaml --in-process   # model kept in memory, per-step metrics",
    "Stop with Ctrl-C (SIGINT) or SIGTERM: the running entry point is stopped (in process: its result is dropped), nothing half-sent.",
  ].join("\n"),
  async run(args, ctx) {
    if (args.secure === true && args.insecure === true) {
      throw new UsageError("options --secure and --insecure contradict each other", {
        option: "secure",
      });
    }
    if (args.local_package && args.package_path !== undefined) {
      throw new UsageError("give --local-package (./client) or --package-path PATH, not both", {
        option: "package_path",
      });
    }
    const signal = ctx.signal ?? new AbortController().signal;
    const summary = await startClient({
      apiUrl: args.api_url,
      apiPort: args.api_port,
      token: args.token,
      name: args.name,
      clientId: args.client_id,
      init: args.init,
      localPackage: args.local_package ? "client" : args.package_path,
      packageChecksum: args.package_checksum,
      preferredCombiner: args.preferred_combiner,
      combiner: args.combiner,
      combinerPort: args.combiner_port,
      secure: args.insecure === true ? false : args.secure,
      caCert: args.ca_cert,
      insecureToken: args.insecure_token,
      attributes: args.attributes,
      verify: args.verify,
      taskTimeout: args.task_timeout,
      inProcess: args.in_process,
      retryInterval: args.retry_interval,
      verbose: args.verbose,
      signal,
      env: ctx.env,
      cwd: ctx.cwd,
      log: ctx.stderr,
      stdout: ctx.stderr,
      stderr: ctx.stderr,
    });
    ctx.stdout.write(
      `${summary.updates} model update(s), ${summary.validations} validation(s), ${summary.predictions} prediction(s), ${summary.failed} failed task(s), ${summary.reconnects} reconnect(s)\n`,
    );
    return 0;
  },
});
