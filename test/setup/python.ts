/**
 * vitest global setup: finds the Python the numpy oracle runs on once per run, not once per call.
 * `python3` is often a version manager's shim (pyenv's is about twenty bash processes per call),
 * so FEDN_TFJS_PYTHON is set to the interpreter's own path, and FEDN_TFJS_NUMPY_MISSING to why
 * numpy cannot be used ("" when it can). Worker processes inherit both; a value set by the user
 * is kept.
 */
import { probeNumpy } from "../fixtures/python.js";

export default function setup(): void {
  if (process.env.FEDN_TFJS_NUMPY_MISSING !== undefined) return;
  const found = probeNumpy(process.env.FEDN_TFJS_PYTHON ?? "python3");
  if ("executable" in found) {
    process.env.FEDN_TFJS_PYTHON = found.executable;
    process.env.FEDN_TFJS_NUMPY_MISSING = "";
  } else {
    process.env.FEDN_TFJS_NUMPY_MISSING = found.missing;
  }
}
