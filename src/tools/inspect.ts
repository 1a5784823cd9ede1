/**
 * `fedn-tfjs inspect FILE [--json]`: each array's key, dtype, shape, min, max, mean and count of
 * NaN/Inf, from an `.npz` (a FEDn model or a data file) or a single `.npy`.
 */
import { basename, resolve } from "node:path";
import type { NdArray } from "../codec/ndarray.js";
import { decodeNpy, NPY_MAGIC } from "../codec/npy.js";
import { decodeNpz } from "../codec/npz.js";
import { defineCommand } from "../kit/cli.js";
import { readBytes } from "../node/io.js";
import { inspectArrays, renderStatsJson, renderStatsTable } from "./stats.js";

function isNpy(bytes: Uint8Array): boolean {
  return NPY_MAGIC.every((b, i) => bytes[i] === b);
}

export default defineCommand({
  name: "inspect",
  describe: "Show each array's dtype, shape, min, max, mean and NaN/Inf count in an .npz or .npy",
  positionals: [{ name: "file", describe: "The .npz (or .npy) file" }],
  options: {
    json: {
      type: "boolean",
      describe: 'Print one JSON object {"arrays":[{key,dtype,shape,min,max,mean,nonfinite}]}',
      default: false,
    },
  },
  epilog: "Statistics are over the finite elements; NaN and ±Infinity are counted in nonfinite.",
  async run(args, ctx) {
    const path = args.file;
    const bytes = await readBytes(resolve(ctx.cwd, path));
    // A bare .npy is one array; name it after the file so the table still has a key.
    const arrays: Iterable<readonly [string, NdArray]> = isNpy(bytes)
      ? [[basename(path).replace(/\.npy$/, ""), decodeNpy(bytes, path)]]
      : decodeNpz(bytes, { name: path });
    const stats = inspectArrays(arrays);
    ctx.stdout.write(args.json ? renderStatsJson(stats) : renderStatsTable(stats));
    return 0;
  },
});
