/**
 * vitest global setup: every test file's temporary folders and files go under one private
 * folder, removed when the run ends, so `npm test` leaves nothing behind in the system's /tmp
 * whatever a test forgets to clean (including subprocesses, which inherit TMPDIR).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), "fedn-tfjs-tests-"));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  };
}
