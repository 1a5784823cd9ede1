import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/tmpdir.ts", "test/setup/python.ts"],
    // Two files at a time: most files wait on child processes for part of their run, so one file
    // at a time left a core idle (5 min 08 s against 3 min 42 s for the whole npm test on this
    // 2-core machine). More than two only makes each CPU-bound file slower.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
