/**
 * The one place TF.js's packages are loaded. They are CommonJS, and loading them with `import`
 * costs Node 20 more than running them: it compiles each file once to guess its module format,
 * then scans it and everything it re-exports for export names. Measured on this machine:
 * tfjs-core with the cpu backend, 0.50 s of CPU through `import()` against 0.20 s through
 * `require`; `@tensorflow/tfjs` with the wasm backend, 1.0 s against 0.45 s. Every `train`,
 * `validate` and `predict` is a new process, so they are required.
 *
 * In a bundle (esbuild, `package build`) `require` is defined and the literal `require(...)`
 * calls below are resolved to the bundled copies, so the bundle never looks for `node_modules`.
 */
import { createRequire } from "node:module";

type TfCore = typeof import("@tensorflow/tfjs-core");
type TfWasm = typeof import("@tensorflow/tfjs-backend-wasm");

// Node's ES modules have no `require`; a bundler's output has one (its own or Node's).
const load = typeof require === "function" ? undefined : createRequire(import.meta.url);

/** `@tensorflow/tfjs-core`: tensors, ops, the backend registry. */
export function tfjsCore(): TfCore {
  return load === undefined ? require("@tensorflow/tfjs-core") : load("@tensorflow/tfjs-core");
}

/**
 * `@tensorflow/tfjs`: the layers API, and the gradient functions tfjs-core's CommonJS build
 * lacks (this package registers them into the same tfjs-core). Untyped here: its declaration
 * files fail a strict type-check, so the caller casts to the types it uses.
 */
export function tfjsFull(): unknown {
  return load === undefined ? require("@tensorflow/tfjs") : load("@tensorflow/tfjs");
}

/** The wasm backend (registers itself as `wasm` on load). */
export function tfjsWasm(): TfWasm {
  return load === undefined
    ? require("@tensorflow/tfjs-backend-wasm")
    : load("@tensorflow/tfjs-backend-wasm");
}

/** The pure-JS cpu backend (registers itself as `cpu` on load). */
export function tfjsCpu(): void {
  if (load === undefined) require("@tensorflow/tfjs-backend-cpu");
  else load("@tensorflow/tfjs-backend-cpu");
}

/**
 * `@tensorflow/tfjs-node`, an optional dependency that is usually not installed: the name is a
 * variable so that no bundler tries to resolve it, and it is looked up where this module is.
 */
export function tfjsNode(): void {
  const name = "@tensorflow/tfjs-node";
  (load ?? createRequire(import.meta.url))(name);
}
