/**
 * `fedn-tfjs package build ENTRY -o DIR`: bundles a compute package for FEDn (see `bundle.ts`).
 * `npm run package` builds this repository's MNIST package with it.
 */
import { resolve } from "node:path";
import { defineCommand } from "../kit/cli.js";
import { buildPackage } from "./bundle.js";

export default defineCommand({
  name: "package build",
  describe:
    "Bundle a package's entry file into DIR/entrypoint.js with the wasm backend's files (needs esbuild)",
  positionals: [
    { name: "entry", describe: "The entry file: defineComputePackage({...}).main() (.ts or .js)" },
  ],
  options: {
    output: {
      type: "string",
      alias: "o",
      describe: "Output folder (emptied first), e.g. client/dist",
      default: "dist",
    },
    startup: {
      type: "string",
      describe: "A separate startup program, bundled as startup.js",
    },
    minify: { type: "boolean", describe: "Minify the bundles", default: true },
  },
  epilog:
    "fedn.yaml then runs `node dist/entrypoint.js train`, …, and `node dist/entrypoint.js startup`.",
  async run(args, ctx) {
    const built = await buildPackage({
      entry: resolve(ctx.cwd, args.entry),
      startup: args.startup === undefined ? undefined : resolve(ctx.cwd, args.startup),
      outDir: resolve(ctx.cwd, args.output),
      minify: args.minify,
    });
    for (const [file, size] of Object.entries(built.files)) {
      ctx.stdout.write(`${built.outDir}/${file}: ${(size / 1024).toFixed(0)} KiB\n`);
    }
    return 0;
  },
});
