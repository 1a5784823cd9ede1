/**
 * Bundles this project's MNIST entry point and the startup program into a package folder, so the
 * unpacked package runs with a bare `node` and no `node_modules`: one minified ESM file per
 * program, the wasm backend's `.wasm` files beside them (where `src/backend.ts` looks), and a
 * `package.json` that tells Node the `.js` files are ES modules. `@tensorflow/tfjs-node` stays
 * external: `src/backend.ts` imports it only if the host has it.
 *
 * A build step of this repository (esbuild is a devDependency), run by `npm run package`
 * (`scripts/build-package.mjs`); `fedn-tfjs package create` only archives a folder.
 */
import { copyFile, mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { IoError } from "../errors.js";

/** Options of `bundleClient`. */
export interface BundleOptions {
  /** The repository root (holds `src/` and `node_modules/`). */
  root: string;
  /** Output folder, emptied first. @default "<root>/client/dist" */
  outDir?: string;
  /** Minify the bundles. @default true */
  minify?: boolean;
}

/** What `bundleClient` wrote. */
export interface BundleResult {
  outDir: string;
  /** File name → size in bytes, for every file written. */
  files: Record<string, number>;
}

/** The programs of the package: output name → source, relative to the root. */
export const BUNDLED_PROGRAMS = {
  entrypoint: "src/bin/entrypoint.ts",
  startup: "src/bin/startup.ts",
} as const;

/**
 * The wasm binaries Node can load: the SIMD build (what Node 20 uses) and the plain one (for CPUs
 * without wasm SIMD). The threaded build is left out: Node never loads it (it needs a `blob:`
 * worker URL), and it would add 425 KiB.
 */
export const WASM_FILES = ["tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm.wasm"] as const;

// esbuild turns `require` of Node built-ins inside bundled CommonJS into a throwing stub in ESM
// output; a real `require` (and `__dirname`, which emscripten's glue reads) fixes both.
const ESM_BANNER = [
  'import { createRequire as __fednCreateRequire } from "node:module";',
  'import { fileURLToPath as __fednFileURLToPath } from "node:url";',
  'import { dirname as __fednDirname } from "node:path";',
  "const require = __fednCreateRequire(import.meta.url);",
  "const __filename = __fednFileURLToPath(import.meta.url);",
  "const __dirname = __fednDirname(__filename);",
].join("\n");

/** Bundles the package programs and copies the wasm binaries (see the module comment). */
export async function bundleClient(options: BundleOptions): Promise<BundleResult> {
  const root = resolve(options.root);
  const outDir = resolve(options.outDir ?? join(root, "client", "dist"));
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (error) {
    throw new IoError(
      "bundling needs esbuild (a devDependency): run `npm install` in the repository",
      {
        cause: error,
      },
    );
  }
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const entryPoints: Record<string, string> = {};
  for (const [name, source] of Object.entries(BUNDLED_PROGRAMS)) {
    entryPoints[name] = join(root, source);
  }
  await esbuild.build({
    entryPoints,
    outdir: outDir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: options.minify ?? true,
    splitting: false,
    external: ["@tensorflow/tfjs-node"],
    banner: { js: ESM_BANNER },
    legalComments: "linked",
    logLevel: "error",
    absWorkingDir: root,
  });
  await writeFile(join(outDir, "package.json"), `${JSON.stringify({ type: "module" }, null, 2)}\n`);
  const require = createRequire(join(root, "package.json"));
  const wasmDir = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
  for (const file of WASM_FILES) await copyFile(join(wasmDir, "dist", file), join(outDir, file));
  const files: Record<string, number> = {};
  for (const file of (await readdir(outDir)).sort()) {
    files[file] = (await stat(join(outDir, file))).size;
  }
  return { outDir, files };
}
