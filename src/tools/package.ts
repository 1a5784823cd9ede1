/**
 * `fedn-tfjs package create -p DIR`: FEDn's `fedn package create`, in Node. It only archives a
 * folder (honouring `.fednignore`); building this project's MNIST package (bundling the entry
 * point, the wasm files, the seed) is `npm run package`, which ends by calling the same code.
 */
import { resolve } from "node:path";
import { defineCommand } from "../kit/cli.js";
import { createPackage } from "./archive.js";

export default defineCommand({
  name: "package create",
  describe: "Create a compute package .tgz from a folder with fedn.yaml (honours .fednignore)",
  positionals: [],
  options: {
    path: {
      type: "string",
      alias: "p",
      describe: "Package folder, holding fedn.yaml",
      default: ".",
    },
    name: {
      type: "string",
      alias: "n",
      describe: "File name of the archive",
      default: "package.tgz",
    },
    output: {
      type: "string",
      alias: "o",
      describe: "Folder to write the archive to (must exist)",
      default: ".",
    },
  },
  epilog:
    "Paths go under a top-level client/ folder: FEDn 0.8 needs it, newer clients find fedn.yaml anywhere.",
  async run(args, ctx) {
    const created = await createPackage({
      path: resolve(ctx.cwd, args.path),
      name: args.name,
      output: resolve(ctx.cwd, args.output),
    });
    const kb = (created.bytes / 1024).toFixed(1);
    ctx.stdout.write(`${created.file}: ${created.entries.length} files, ${kb} KiB\n`);
    return 0;
  },
});
