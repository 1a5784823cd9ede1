/**
 * Picks the TensorFlow.js backend at run time: tfjs-node when it loads (an optional dependency
 * that needs a native libtensorflow download, so it is often absent), else the wasm backend with
 * SIMD, else the pure-JS cpu backend. Nothing happens at import: TF.js and its backends are
 * loaded (through node/tfjs.ts) inside `selectBackend`, so importing this module (or `--help`)
 * costs nothing.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";
import { tfjsCore, tfjsCpu, tfjsNode, tfjsWasm } from "./tfjs.js";

type Tf = typeof import("@tensorflow/tfjs-core");

/** What `--backend` / `FEDN_TFJS_BACKEND` accept. `node` is an alias of `tensorflow`. */
export const BACKEND_CHOICES = ["auto", "tensorflow", "node", "wasm", "cpu"] as const;
export type BackendRequest = (typeof BACKEND_CHOICES)[number];

/** The backend in use and how it was set up, as logged. */
export interface BackendChoice {
  /** TF.js's own name: `tensorflow` (tfjs-node), `wasm` or `cpu`. */
  readonly name: "tensorflow" | "wasm" | "cpu";
  /** For the log line: `wasm (simd, 1 thread)`. */
  readonly description: string;
}

export interface SelectBackendOptions {
  /** `--backend`; wins over the environment. */
  readonly backend?: string | undefined;
  /** Where `FEDN_TFJS_BACKEND` is read from. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Receives the one log line (the CLI passes stderr). */
  readonly log?: (line: string) => void;
}

let selected: BackendChoice | undefined;

async function tryNode(tf: Tf): Promise<BackendChoice | string> {
  try {
    tfjsNode();
    if (await tf.setBackend("tensorflow")) {
      return { name: "tensorflow", description: "tensorflow (tfjs-node, native)" };
    }
    return "tfjs-node loaded but its backend did not initialise";
  } catch (error) {
    return `tfjs-node is not available (${firstLine(error)})`;
  }
}

/** The folder of this module: in a bundle, the `.wasm` files are copied next to it. */
function moduleDir(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return undefined;
  }
}

/** The wasm binary Node loads first; the plain build is the fallback for CPUs without SIMD. */
const WASM_SIMD_FILE = "tfjs-backend-wasm-simd.wasm";

/**
 * Where the `.wasm` files are: beside this module (a bundle: `package build` copies them there),
 * else in the installed `@tensorflow/tfjs-backend-wasm`. Returns the folder, or the places looked
 * in: left to itself the backend prints three `Aborted(ENOENT …)` lines and then fails.
 */
function findWasmDir(): { dir: string } | { looked: string[] } {
  const looked: string[] = [];
  const here = moduleDir();
  if (here !== undefined) {
    if (existsSync(join(here, WASM_SIMD_FILE))) return { dir: here };
    looked.push(here);
  }
  try {
    const pkg = createRequire(import.meta.url).resolve(
      "@tensorflow/tfjs-backend-wasm/package.json",
    );
    const dir = join(dirname(pkg), "dist");
    if (existsSync(join(dir, WASM_SIMD_FILE))) return { dir };
    looked.push(dir);
  } catch {
    looked.push("node_modules/@tensorflow/tfjs-backend-wasm (not installed)");
  }
  return { looked };
}

async function tryWasm(tf: Tf): Promise<BackendChoice | string> {
  const found = findWasmDir();
  if (!("dir" in found)) {
    return `the wasm backend's .wasm files are missing (looked for ${WASM_SIMD_FILE} in ${found.looked.join(" and ")}; \`fedn-tfjs package build\` copies them beside the bundle)`;
  }
  try {
    const wasm = tfjsWasm();
    wasm.setWasmPaths(`${found.dir}/`);
    // tf.getBackend() can still say "wasm" after a failed initialisation: trust only this.
    if (!(await tf.setBackend("wasm"))) return "the wasm backend did not initialise";
    const simd = (await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")) === true;
    const threads = wasm.getThreadsCount();
    const description = `wasm (${simd ? "simd" : "no simd"}, ${threads} thread${threads === 1 ? "" : "s"})`;
    return { name: "wasm", description };
  } catch (error) {
    return `the wasm backend failed (${firstLine(error)})`;
  }
}

async function tryCpu(tf: Tf): Promise<BackendChoice | string> {
  try {
    tfjsCpu();
    if (await tf.setBackend("cpu")) return { name: "cpu", description: "cpu (pure JavaScript)" };
    return "the cpu backend did not initialise";
  } catch (error) {
    return `the cpu backend failed (${firstLine(error)})`;
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0] ?? text;
}

/** Reads `--backend` then `FEDN_TFJS_BACKEND`; checks the value and names where it came from. */
export function resolveBackendRequest(
  backend: string | undefined,
  env: Readonly<Record<string, string | undefined>> = {},
): BackendRequest {
  const fromEnv = env.FEDN_TFJS_BACKEND;
  const value = backend ?? (fromEnv === "" ? undefined : fromEnv) ?? "auto";
  if (!(BACKEND_CHOICES as readonly string[]).includes(value)) {
    const source = backend === undefined ? "environment variable FEDN_TFJS_BACKEND" : "--backend";
    throw new UsageError(
      `${source} must be one of ${BACKEND_CHOICES.join(", ")}; found "${value}"`,
      backend === undefined ? {} : { option: "backend" },
    );
  }
  return value as BackendRequest;
}

/**
 * Selects and initialises the backend once per process and logs the choice once. `auto` tries
 * tfjs-node, wasm, cpu in that order; a named backend that fails is a `UsageError` (the user asked
 * for something this machine cannot do), never a silent fallback.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  const request = resolveBackendRequest(options.backend, options.env);
  if (selected !== undefined && (request === "auto" || sameBackend(request, selected))) {
    return selected;
  }
  const tf = tfjsCore();
  // Production mode silences TF.js's own console output (the cpu backend advertises tfjs-node
  // on stderr at first use); the choice is reported once through `log` instead.
  tf.enableProdMode();
  const attempts: Record<string, (tf: Tf) => Promise<BackendChoice | string>> = {
    tensorflow: tryNode,
    node: tryNode,
    wasm: tryWasm,
    cpu: tryCpu,
  };
  const order = request === "auto" ? [tryNode, tryWasm, tryCpu] : [attempts[request]!];
  const failures: string[] = [];
  for (const attempt of order) {
    const result = await attempt(tf);
    if (typeof result !== "string") {
      selected = result;
      options.log?.(`fedn-tfjs: backend ${result.description}`);
      return result;
    }
    failures.push(result);
    // Falling back from wasm costs 5-10x in speed: say why, once, in one line.
    if (request === "auto" && attempt === tryWasm)
      options.log?.(`fedn-tfjs: ${result}; falling back`);
  }
  throw new UsageError(
    request === "auto"
      ? `no TensorFlow.js backend could start: ${failures.join("; ")}`
      : `backend "${request}" was asked for but cannot start: ${failures.join("; ")}`,
    { option: "backend" },
  );
}

function sameBackend(request: BackendRequest, choice: BackendChoice): boolean {
  return request === choice.name || (request === "node" && choice.name === "tensorflow");
}
