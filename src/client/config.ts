/**
 * The client's options, validated and defaulted once. They come from three places, in FEDn's
 * order of precedence (`fedn/cli/client_cmd.py: client_start_v2_cmd`): the command line, then the
 * `-in/--init` YAML file (FEDn's `client.yaml`: `api_url`, `api_port`, `token`, `name`,
 * `client_id`, ... and the old `discover_host`/`discover_port`), then defaults; FEDn's
 * environment variables (`FEDN_AUTH_SCHEME`, `FEDN_CUSTOM_URL_PREFIX`, `FEDN_AUTH_REFRESH_TOKEN*`,
 * `FEDN_GRPC_ROOT_CERT_PATH`, `FEDN_CONNECT_API_SECURE`) keep their meaning.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { FormatError, IoError, UsageError } from "../errors.js";

/** What a caller (the CLI, a test) may set; every field optional except where noted. */
export interface ClientOptions {
  /** The controller's URL (`http://host`); `localhost`/`127.0.0.1` get `http://`, others `https://`. */
  apiUrl?: string | undefined;
  apiPort?: number | string | undefined;
  token?: string | undefined;
  name?: string | undefined;
  clientId?: string | undefined;
  preferredCombiner?: string | undefined;
  /** Skip assignment and dial this combiner (FEDn's `--combiner`, with `combinerPort`). */
  combiner?: string | undefined;
  combinerPort?: number | string | undefined;
  /** A package folder or `.tgz` to run instead of the controller's package (FEDn: `--local-package`). */
  localPackage?: string | undefined;
  /** sha256 the downloaded package must have (FEDn's `package_checksum`). */
  packageChecksum?: string | undefined;
  /** TLS to the combiner: `true`/`false` force it; unset: as FEDn, TLS exactly on port 443. */
  secure?: boolean | undefined;
  /** PEM file of the root certificate(s) to trust, for the combiner and the controller. */
  caCert?: string | undefined;
  /** Send the token to the combiner on an insecure channel too (FEDn never does). @default false */
  insecureToken?: boolean | undefined;
  /**
   * Attributes to send once the session starts (FEDn's `log_attributes`: server functions can
   * select clients by them): a mapping, or `KEY=VALUE[,KEY=VALUE...]` as the command line gives it.
   */
  attributes?: Readonly<Record<string, string>> | string | undefined;
  /** Verify the controller's HTTPS certificate. @default FEDN_CONNECT_API_SECURE, else true */
  verify?: boolean | undefined;
  /** Stop an entry point that runs longer than this many seconds (FEDn has no limit). */
  taskTimeout?: number | undefined;
  /**
   * Import the package's entry file (fedn.yaml's `node <file>.js train` command) and run train,
   * validate and predict in this process, keeping the model and data between rounds. @default false
   */
  inProcess?: boolean | undefined;
  /** A FEDn client YAML file (`-in/--init`). */
  init?: string | undefined;
  /** Seconds between retries; doubled per failure. @default 5 (FEDn's `grpc_retry`) */
  retryInterval?: number | undefined;
  /** Seconds between heartbeats. @default 2 (FEDn's `send_heartbeats`) */
  heartbeatInterval?: number | undefined;
  /** Seconds between telemetry messages; 0 turns them off. @default 5 (FEDn's telemetry loop) */
  telemetryInterval?: number | undefined;
}

/** The resolved configuration the session runs with. */
export interface ClientConfig {
  /** The controller's base URL including port and FEDN_CUSTOM_URL_PREFIX, without trailing `/`. */
  apiBase: string | undefined;
  token: string | undefined;
  authScheme: string;
  refresh: { uri: string; token: string } | undefined;
  name: string;
  clientId: string;
  preferredCombiner: string | undefined;
  combiner: { host: string; port: number } | undefined;
  localPackage: string | undefined;
  packageChecksum: string | undefined;
  secure: boolean | undefined;
  caCert: Buffer | undefined;
  caCertPath: string | undefined;
  insecureToken: boolean;
  attributes: Record<string, string>;
  verify: boolean;
  taskTimeoutMs: number | undefined;
  inProcess: boolean;
  retryMs: number;
  heartbeatMs: number;
  telemetryMs: number;
  /** Keys of the YAML file this client does not use (reported once, as warnings). */
  ignoredKeys: string[];
}

/** Keys FEDn's client reads from its YAML file, and ours (same names as the long options). */
const YAML_KEYS: Record<string, keyof ClientOptions | "ignore"> = {
  api_url: "apiUrl",
  discover_host: "apiUrl",
  api_port: "apiPort",
  discover_port: "apiPort",
  token: "token",
  name: "name",
  client_id: "clientId",
  preferred_combiner: "preferredCombiner",
  combiner: "combiner",
  combiner_port: "combinerPort",
  package_checksum: "packageChecksum",
  local_package: "localPackage",
  secure: "secure",
  ca_cert: "caCert",
  insecure_token: "insecureToken",
  attributes: "attributes",
  verify: "verify",
  task_timeout: "taskTimeout",
  in_process: "inProcess",
  // FEDn reads these but they mean nothing to a client that runs the numpy helper's packages.
  helper_type: "ignore",
  validator: "ignore",
  trainer: "ignore",
  refresh_token: "ignore",
};

function nonEmpty(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

async function readInit(path: string): Promise<{ options: ClientOptions; ignored: string[] }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new IoError(`client config ${path} cannot be read: ${(error as Error).message}`, {
      file: path,
      option: "init",
      cause: error,
    });
  }
  // Loaded only here: most commands never read a client config (yaml costs start-up time).
  const { parse: parseYaml } = await import("yaml");
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    const reason = String((error as Error).message).split("\n")[0];
    throw new FormatError(`client config ${path} is not YAML: ${reason}`, { file: path });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(`client config ${path} must be a YAML mapping of settings`, {
      file: path,
    });
  }
  const options: Record<string, unknown> = {};
  const ignored: string[] = [];
  const settings = value as Record<string, unknown>;
  // discover_* are FEDn's old names; api_* win when both are there, as in client_cmd.py.
  const order = Object.keys(settings).sort(
    (a, b) => Number(a.startsWith("api_")) - Number(b.startsWith("api_")),
  );
  for (const key of order) {
    const target = YAML_KEYS[key];
    const v = settings[key];
    if (target === undefined || target === "ignore") {
      ignored.push(key);
      continue;
    }
    if (v === null || v === undefined) continue;
    if (typeof v === "object" && !(key === "attributes" && !Array.isArray(v))) {
      throw new FormatError(`client config ${path}: "${key}" must be a single value`, {
        file: path,
        key,
      });
    }
    options[target] = v;
  }
  return { options: options as ClientOptions, ignored };
}

function port(value: unknown, option: string): number | undefined {
  if (!nonEmpty(value)) return undefined;
  const n = typeof value === "number" ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new UsageError(`option --${option} expects a port number 1-65535, found ${value}`, {
      option,
    });
  }
  return n;
}

function seconds(value: unknown, option: string, fallback: number, zero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!zero && n === 0)) {
    throw new UsageError(
      `option --${option} expects a ${zero ? "non-negative" : "positive"} number of seconds, found ${value}`,
      { option },
    );
  }
  return n;
}

function bool(value: unknown, option: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "boolean") return value;
  const text = String(value).toLowerCase();
  if (text === "true") return true;
  if (text === "false") return false;
  throw new UsageError(`option --${option} expects true or false, found ${value}`, { option });
}

/**
 * The attributes as FEDn's combiner stores them (`AttributeDTO`: a key and a non-empty string
 * value; an empty one is dropped on the wire and the row refused).
 */
function attributes(value: ClientOptions["attributes"]): Record<string, string> {
  if (value === undefined || value === "") return {};
  const pairs: [string, unknown][] =
    typeof value === "string"
      ? value.split(",").map((item) => {
          const at = item.indexOf("=");
          return at < 0 ? [item, ""] : [item.slice(0, at).trim(), item.slice(at + 1).trim()];
        })
      : Object.entries(value);
  const out: Record<string, string> = {};
  for (const [key, v] of pairs) {
    if (key === "" || v === null || v === undefined || typeof v === "object" || String(v) === "") {
      throw new UsageError(
        `option --attributes expects KEY=VALUE[,KEY=VALUE...] with non-empty keys and values, found ${typeof value === "string" ? value : JSON.stringify(value)}`,
        { option: "attributes" },
      );
    }
    out[key] = String(v);
  }
  return out;
}

/**
 * `api_url` with its protocol, as FEDn's `_complement_client_params` does: `http://` for
 * localhost and 127.0.0.1, `https://` otherwise, when none is given.
 */
export function completeApiUrl(url: string): string {
  if (/^https?:\/\//.test(url)) return url;
  return url.includes("localhost") || url.includes("127.0.0.1")
    ? `http://${url}`
    : `https://${url}`;
}

/** Resolves the options (command line > `--init` file > defaults) once; throws one-line errors. */
export async function resolveClientConfig(
  given: ClientOptions,
  context: { env: Readonly<Record<string, string | undefined>>; cwd: string },
): Promise<ClientConfig> {
  const env = context.env;
  let fromFile: ClientOptions = {};
  let ignoredKeys: string[] = [];
  if (nonEmpty(given.init)) {
    const file = resolve(context.cwd, given.init as string);
    ({ options: fromFile, ignored: ignoredKeys } = await readInit(file));
  }
  const pick = <K extends keyof ClientOptions>(key: K): ClientOptions[K] =>
    nonEmpty(given[key]) ? given[key] : fromFile[key];

  const apiUrl = pick("apiUrl");
  const combinerHost = pick("combiner");
  if (!nonEmpty(apiUrl) && !nonEmpty(combinerHost)) {
    throw new UsageError(
      "missing --api-url (the FEDn controller), or --combiner with --combiner-port",
      {
        option: "api_url",
      },
    );
  }
  const combinerPort = port(pick("combinerPort"), "combiner-port");
  if (nonEmpty(combinerHost) && combinerPort === undefined) {
    throw new UsageError("option --combiner needs --combiner-port", { option: "combiner_port" });
  }
  const apiPort = port(pick("apiPort"), "api-port");
  let apiBase: string | undefined;
  if (nonEmpty(apiUrl)) {
    const full = completeApiUrl(String(apiUrl).trim());
    let url: URL;
    try {
      url = new URL(full);
    } catch {
      throw new UsageError(`option --api-url expects a URL or host name, found ${apiUrl}`, {
        option: "api_url",
      });
    }
    if (apiPort !== undefined) url.port = String(apiPort);
    // FEDn's get_url: "{api_url}:{api_port}/{FEDN_CUSTOM_URL_PREFIX}"; routes hang below it.
    const prefix = (env.FEDN_CUSTOM_URL_PREFIX ?? "").replace(/^\/+|\/+$/g, "");
    const path = [url.pathname.replace(/\/+$/, ""), prefix].filter((p) => p !== "").join("/");
    apiBase = `${url.origin}${path === "" ? "" : `/${path.replace(/^\/+/, "")}`}`;
  }
  const localPackage = pick("localPackage");
  if (!nonEmpty(apiBase) && !nonEmpty(localPackage)) {
    throw new UsageError(
      "without --api-url there is no controller to download the package from; give --local-package",
      { option: "local_package" },
    );
  }
  const checksum = pick("packageChecksum");
  if (nonEmpty(checksum) && !/^[0-9a-fA-F]{64}$/.test(String(checksum))) {
    throw new UsageError(`option --package-checksum expects a sha256 in hex, found ${checksum}`, {
      option: "package_checksum",
    });
  }
  const name = nonEmpty(pick("name")) ? String(pick("name")) : `client${randomUUID().slice(0, 8)}`;
  const clientId = nonEmpty(pick("clientId")) ? String(pick("clientId")) : randomUUID();
  const caCertPath = nonEmpty(pick("caCert"))
    ? resolve(context.cwd, String(pick("caCert")))
    : nonEmpty(env.FEDN_GRPC_ROOT_CERT_PATH)
      ? resolve(context.cwd, String(env.FEDN_GRPC_ROOT_CERT_PATH))
      : undefined;
  let caCert: Buffer | undefined;
  if (caCertPath !== undefined) {
    try {
      caCert = await readFile(caCertPath);
    } catch (error) {
      throw new IoError(
        `CA certificate ${caCertPath} cannot be read: ${(error as Error).message}`,
        {
          file: caCertPath,
          option: "ca_cert",
          cause: error,
        },
      );
    }
    if (!caCert.toString("latin1").includes("-----BEGIN CERTIFICATE-----")) {
      throw new FormatError(`CA certificate ${caCertPath} is not a PEM certificate`, {
        file: caCertPath,
        option: "ca_cert",
      });
    }
  }
  const verify =
    bool(pick("verify"), "verify") ??
    (env.FEDN_CONNECT_API_SECURE ?? "true").toLowerCase() === "true";
  const timeout = pick("taskTimeout");
  const refreshUri = env.FEDN_AUTH_REFRESH_TOKEN_URI;
  const refreshToken = env.FEDN_AUTH_REFRESH_TOKEN;
  return {
    apiBase,
    token: nonEmpty(pick("token")) ? String(pick("token")) : undefined,
    authScheme: nonEmpty(env.FEDN_AUTH_SCHEME) ? String(env.FEDN_AUTH_SCHEME) : "Bearer",
    refresh:
      nonEmpty(refreshUri) && nonEmpty(refreshToken)
        ? { uri: String(refreshUri), token: String(refreshToken) }
        : undefined,
    name,
    clientId,
    preferredCombiner: nonEmpty(pick("preferredCombiner"))
      ? String(pick("preferredCombiner"))
      : undefined,
    combiner:
      nonEmpty(combinerHost) && combinerPort !== undefined
        ? { host: String(combinerHost), port: combinerPort }
        : undefined,
    localPackage: nonEmpty(localPackage) ? resolve(context.cwd, String(localPackage)) : undefined,
    packageChecksum: nonEmpty(checksum) ? String(checksum).toLowerCase() : undefined,
    secure: bool(pick("secure"), "secure"),
    caCert,
    caCertPath,
    insecureToken: bool(pick("insecureToken"), "insecure-token") ?? false,
    attributes: attributes(pick("attributes")),
    verify,
    taskTimeoutMs: timeout === undefined ? undefined : seconds(timeout, "task-timeout", 0) * 1000,
    inProcess: bool(pick("inProcess"), "in-process") ?? false,
    retryMs: seconds(given.retryInterval, "retry-interval", 5) * 1000,
    heartbeatMs: seconds(given.heartbeatInterval, "heartbeat-interval", 2) * 1000,
    telemetryMs: seconds(given.telemetryInterval, "telemetry-interval", 5, true) * 1000,
    ignoredKeys,
  };
}
