/**
 * vitest global setup: finds the Python the numpy oracle runs on once per run, not once per call.
 * `python3` is often a version manager's shim (pyenv's is about twenty bash processes per call),
 * so FEDN_TFJS_PYTHON is set to the interpreter's own path, and FEDN_TFJS_NUMPY_MISSING to why
 * numpy cannot be used ("" when it can). Worker processes inherit both; a value set by the user
 * is kept.
 */
import { spawnSync } from "node:child_process";

export default function setup(): void {
  if (process.env.FEDN_TFJS_NUMPY_MISSING !== undefined) return;
  const python = process.env.FEDN_TFJS_PYTHON ?? "python3";
  const result = spawnSync(python, ["-c", "import sys, numpy; print(sys.executable)"], {
    encoding: "utf8",
  });
  const executable = result.stdout?.trim() ?? "";
  if (result.status === 0 && executable !== "") {
    process.env.FEDN_TFJS_PYTHON = executable;
    process.env.FEDN_TFJS_NUMPY_MISSING = "";
  } else {
    const why = result.error?.message ?? result.stderr?.trim().split("\n").pop();
    process.env.FEDN_TFJS_NUMPY_MISSING = `needs ${python} with numpy (${why})`;
  }
}
