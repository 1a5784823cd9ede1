#!/usr/bin/env node
/**
 * `npm run package`: builds this repository's MNIST compute package, after `npm run build`:
 * 1. bundles src/bin/entrypoint.ts and src/bin/startup.ts into client/dist/ with the wasm binaries
 *    (`fedn-tfjs package build`'s code)
 *    (the unpacked package then needs only `node`);
 * 2. writes the demo data client/dist/demo-mnist.npz (the npm mnist digits, 8,000/2,000, seed 42)
 *    that `startup` splits when a client has no data of its own (skip with --no-demo-data);
 * 3. writes the seed model with the bundled entry point's init_seed (<out>/seed.npz);
 * 4. archives client/ as <out>/package.tgz with `fedn-tfjs package create`'s code.
 * Options: --out DIR (default: the repository root), --name NAME.tgz, --no-demo-data, --no-minify.
 */
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEMO_DATA_NAME } from "../dist/data/client-data.js";
import { loadMnistPackage, saveDataset } from "../dist/data/files.js";
import { createPackage } from "../dist/tools/archive.js";
import { buildPackage } from "../dist/tools/bundle.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    out: { type: "string", default: root },
    name: { type: "string", default: "package.tgz" },
    "no-demo-data": { type: "boolean", default: false },
    "no-minify": { type: "boolean", default: false },
  },
});
const out = resolve(values.out);
const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

try {
  // The same build users get from `fedn-tfjs package build`.
  const bundle = await buildPackage({
    entry: join(root, "src", "bin", "entrypoint.ts"),
    startup: join(root, "src", "bin", "startup.ts"),
    outDir: join(root, "client", "dist"),
    minify: !values["no-minify"],
  });
  for (const [file, size] of Object.entries(bundle.files)) {
    console.log(`client/dist/${file}: ${kib(size)}`);
  }
  if (!values["no-demo-data"]) {
    const demo = join(bundle.outDir, DEMO_DATA_NAME);
    await saveDataset(await loadMnistPackage(), demo, 9);
    console.log(
      `client/dist/${DEMO_DATA_NAME}: demo data (npm mnist digits, 8,000 train / 2,000 test)`,
    );
  }
  await mkdir(out, { recursive: true });
  const seed = join(out, "seed.npz");
  execFileSync(process.execPath, [join(bundle.outDir, "entrypoint.js"), "init_seed", seed], {
    stdio: "inherit",
  });
  console.log(`${seed}: seed model (written by the bundled entry point)`);
  const created = await createPackage({
    path: join(root, "client"),
    name: values.name,
    output: out,
  });
  console.log(`${created.file}: ${created.entries.length} files, ${kib(created.bytes)}`);
  if (created.bytes > 10 * 1024 * 1024) console.warn("warning: the package is larger than 10 MB");
} catch (error) {
  console.error(`build-package: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
