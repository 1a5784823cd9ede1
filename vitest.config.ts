import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/tmpdir.ts"],
    // Training and subprocess tests are CPU-bound on a 2-core machine; running files in
    // parallel only makes each one slower and the timeouts flakier.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
