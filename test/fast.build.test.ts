import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const hasToolchain = ["clang-16", "wasm-ld-16"].every(
  (tool) => spawnSync(tool, ["--version"]).status === 0,
);

describe("the committed wasm kernel", () => {
  it.skipIf(!hasToolchain)(
    `is what native/build.mjs builds from native/dense.c${hasToolchain ? "" : " (skipped: needs clang-16 and lld-16: apt-get install clang-16 lld-16)"}`,
    () => {
      const r = spawnSync(process.execPath, ["native/build.mjs", "--check"], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
    },
  );
});
