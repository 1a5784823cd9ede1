/**
 * `fedn-tfjs package build ENTRY -o DIR`: bundles a compute package's entry file (and optionally a
 * separate startup program) into one minified ESM file each, so the unpacked package runs with a
 * bare `node` and no `node_modules`; copies the wasm backend's `.wasm` files beside them (where
 * `node/backend.ts` looks) and writes a `package.json` that tells Node the `.js` files are ES
 * modules. `@tensorflow/tfjs-node` stays external: the backend imports it only if the host has it.
 * esbuild is an optional peer dependency: only building needs it.
 */
import { copyFile, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { IoError } from "../errors.js";
import { isFile } from "../node/io.js";

/** Options of `buildPackage`. */
export interface BuildPackageOptions {
  /** The package's entry file (`defineComputePackage(...).main()`), bundled as `entrypoint.js`. */
  entry: string;
  /** A separate startup program, bundled as `startup.js`. @default none: `entrypoint.js startup` */
  startup?: string | undefined;
  /** Output folder, emptied first. */
  outDir: string;
  /** Minify the bundles. @default true */
  minify?: boolean | undefined;
}

/** What `buildPackage` wrote. */
export interface BuildResult {
  outDir: string;
  /** File name → size in bytes, for every file written. */
  files: Record<string, number>;
}

/**
 * The wasm binaries Node can load: the SIMD build (what Node 20 uses) and the plain one (for CPUs
 * without wasm SIMD). The threaded build is left out: Node never loads it (it needs a `blob:`
 * worker URL), and it would add 425 KiB.
 */
export const WASM_FILES = ["tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm.wasm"] as const;

/**
 * esbuild turns `require` of Node built-ins inside bundled CommonJS into a throwing stub in ESM
 * output; a real `require` (and `__dirname`, which emscripten's glue reads) fixes both. Also the
 * banner of this repository's own bins (scripts/build-bins.mjs).
 */
export const ESM_BANNER = [
  'import { createRequire as __fednCreateRequire } from "node:module";',
  'import { fileURLToPath as __fednFileURLToPath } from "node:url";',
  'import { dirname as __fednDirname } from "node:path";',
  "const require = __fednCreateRequire(import.meta.url);",
  "const __filename = __fednFileURLToPath(import.meta.url);",
  "const __dirname = __fednDirname(__filename);",
].join("\n");

/** Where `@tensorflow/tfjs-backend-wasm` is: beside the entry file's packages, else ours. */
function wasmDistDir(entry: string): string {
  for (const from of [entry, fileURLToPath(import.meta.url)]) {
    try {
      const pkg = createRequire(from).resolve("@tensorflow/tfjs-backend-wasm/package.json");
      return join(dirname(pkg), "dist");
    } catch {
      // try the next place
    }
  }
  throw new IoError(
    "cannot find @tensorflow/tfjs-backend-wasm (a dependency of fedn-tfjs): run `npm install`",
  );
}

/** Bundles a compute package's programs and copies the wasm binaries (see the module comment). */
export async function buildPackage(options: BuildPackageOptions): Promise<BuildResult> {
  const outDir = resolve(options.outDir);
  const entryPoints: Record<string, string> = { entrypoint: resolve(options.entry) };
  if (options.startup !== undefined) entryPoints.startup = resolve(options.startup);
  for (const [name, file] of Object.entries(entryPoints)) {
    if (!(await isFile(file))) {
      throw new IoError(`${file}: no such file (the ${name} program to bundle)`, { file });
    }
  }
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (error) {
    throw new IoError(
      "package build needs esbuild: run `npm install --save-dev esbuild` in your package",
      { cause: error },
    );
  }
  const wasmDir = wasmDistDir(entryPoints.entrypoint!);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  try {
    await esbuild.build({
      entryPoints,
      outdir: outDir,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      minify: options.minify ?? true,
      // One file per program: with esbuild's code splitting, tfjs-core's dynamic import yields a
      // namespace without its functions (measured: `enableProdMode is not a function`).
      splitting: false,
      external: ["@tensorflow/tfjs-node"],
      banner: { js: ESM_BANNER },
      legalComments: "linked",
      logLevel: "silent",
    });
  } catch (error) {
    const errors = (
      error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }
    ).errors;
    const first = errors?.[0];
    const where = first?.location == null ? "" : `${first.location.file}:${first.location.line}: `;
    throw new IoError(`package build: ${where}${first?.text ?? (error as Error).message}`, {
      cause: error,
    });
  }
  await writeFile(join(outDir, "package.json"), `${JSON.stringify({ type: "module" }, null, 2)}\n`);
  for (const file of WASM_FILES) await copyFile(join(wasmDir, file), join(outDir, file));
  const files: Record<string, number> = {};
  for (const file of (await readdir(outDir)).sort()) {
    files[file] = (await stat(join(outDir, file))).size;
  }
  return { outDir, files };
}
