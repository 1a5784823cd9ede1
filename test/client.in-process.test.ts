/**
 * `client start --in-process`, the parts without a network: the kit's host hook (an entry file
 * imported with a host waiting hands its package over instead of running; run as `node file`, it
 * runs as before), the one fedn.yaml command shape accepted, and the YAML key. The whole path
 * through a fake FEDn network is in client.test.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveClientConfig } from "../src/client/config.js";
import { loadInProcessPackage, parseNodeCommand } from "../src/client/in-process.js";
import { IoError, UsageError } from "../src/errors.js";
import { HOST_PROTOCOL, importHostedPackage, PACKAGE_HOST_KEY } from "../src/kit/host.js";

const repo = resolve(import.meta.dirname, "..");
let dir: string;

// A package entry file on the built library (dist/): another copy of the kit than the src/ one
// this test hosts it with, as a bundle is.
const ENTRY = `import { defineComputePackage, denseStack, mnistNpz } from ${JSON.stringify(pathToFileURL(join(repo, "dist", "index.js")).href)};
await defineComputePackage({
  name: "tiny",
  describe: "a package for the host test",
  dataFile: "mnist.npz",
  data: mnistNpz({ features: 784, classes: 10 }),
  model: denseStack({ units: [784, 8, 10] }),
  defaults: { batchSize: 32, epochs: 1, lr: 0.01 },
}).main();
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fedn-tfjs-inproc-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the kit's host hook", () => {
  it("hands the package to a host instead of running, and runs as before without one", async () => {
    const file = join(dir, "entry.mjs");
    await writeFile(file, ENTRY);
    const pkg = await importHostedPackage(file);
    expect(pkg.protocol).toBe(HOST_PROTOCOL);
    expect(pkg.name).toBe("tiny");
    expect((globalThis as Record<symbol, unknown>)[PACKAGE_HOST_KEY]).toBeUndefined();
    // Imported again (Node caches modules): the same package, not an error.
    expect(await importHostedPackage(file)).toBe(pkg);
    const sink = { write: () => true };
    const ctx = { stdout: sink, stderr: sink, env: {}, cwd: dir };
    expect(await pkg.run(["init_seed", "hosted.npz", "--seed", "4"], ctx)).toBe(0);
    // No host: `node entry.mjs init_seed …` runs the command, as every FEDn run does.
    execFileSync("node", [file, "init_seed", "plain.npz", "--seed", "4"], { cwd: dir });
    const hosted = await readFile(join(dir, "hosted.npz"));
    expect(hosted.length).toBeGreaterThan(1000);
    expect((await readFile(join(dir, "plain.npz"))).equals(hosted)).toBe(true);
  });

  it("refuses a file that registers no package, speaks another protocol, or fails to import", async () => {
    const plain = join(dir, "plain.mjs");
    await writeFile(plain, "export const answer = 42;\n");
    const err = await importHostedPackage(plain).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(
      /^\/.*plain\.mjs registered no compute package when imported: .*defineComputePackage\(\{\.\.\.\}\)\.main\(\)/,
    );
    const future = join(dir, "future.mjs");
    await writeFile(
      future,
      'globalThis[Symbol.for("fedn-tfjs.package-host")].accept({ protocol: 2, name: "x", run: async () => 0 });\n',
    );
    await expect(importHostedPackage(future)).rejects.toThrow(
      /future\.mjs was built with a fedn-tfjs whose in-process interface is version 2; this client speaks version 1/,
    );
    const broken = join(dir, "broken.mjs");
    await writeFile(broken, 'throw new Error("no data here");\n');
    const io = await importHostedPackage(broken).catch((e: unknown) => e);
    expect(io).toBeInstanceOf(IoError);
    expect((io as Error).message).toMatch(
      /broken\.mjs cannot be imported to run in process: no data here$/,
    );
    expect((globalThis as Record<symbol, unknown>)[PACKAGE_HOST_KEY]).toBeUndefined();
  });
});

describe("fedn.yaml commands run in process", () => {
  it("takes node <file>.js <entry> with words and $VARIABLES expanded as bash would", () => {
    const env = { ENTRYPOINT_OPTS: " --data_path=/var/data/m.npz   --lr 0.1 " };
    expect(
      parseNodeCommand(
        "node dist/entrypoint.js train $ENTRYPOINT_OPTS --epochs 2",
        "train",
        "f",
        env,
      ),
    ).toEqual({
      script: "dist/entrypoint.js",
      args: ["--data_path=/var/data/m.npz", "--lr", "0.1", "--epochs", "2"],
    });
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash's ${VAR}, not a template
      parseNodeCommand("node dist/entrypoint.js validate ${UNSET}", "validate", "f", {}),
    ).toEqual({ script: "dist/entrypoint.js", args: [] });
  });

  it.each([
    "python entrypoint.py train",
    "bash hooks.sh train",
    "node dist/entrypoint.js validate",
    "node dist/entrypoint.ts train",
    'node "dist/entrypoint.js" train',
    "node dist/entrypoint.js train > log.txt",
    "node dist/entrypoint.js train $(cat opts)",
    "node dist/entrypoint.js train; rm -rf x",
  ])("refuses %j in one line naming fedn.yaml and the entry point", (command) => {
    const run = () => parseNodeCommand(command, "train", "/p/fedn.yaml", {});
    expect(run).toThrow(UsageError);
    expect(run).toThrow(
      /^\/p\/fedn\.yaml: entry point "train" runs ".*"; --in-process expects "node <file>\.js train" and plain options or \$VARIABLES/,
    );
  });

  it("needs one entry file for train, validate and predict", async () => {
    const pkg = join(dir, "two-files");
    await rm(pkg, { recursive: true, force: true });
    await mkdir(pkg);
    await writeFile(
      join(pkg, "fedn.yaml"),
      "entry_points:\n  train:\n    command: node a.js train\n  validate:\n    command: node b.js validate\n",
    );
    await expect(loadInProcessPackage(pkg, {})).rejects.toThrow(
      /fedn\.yaml: entry point "validate" runs b\.js but "train" runs a\.js; --in-process expects one entry file/,
    );
  });

  it("is the client YAML's in_process, the command line winning", async () => {
    await writeFile(join(dir, "client.yaml"), "api_url: localhost\nin_process: true\n");
    const cwd = { env: {}, cwd: dir };
    expect((await resolveClientConfig({ init: "client.yaml" }, cwd)).inProcess).toBe(true);
    expect(
      (await resolveClientConfig({ init: "client.yaml", inProcess: false }, cwd)).inProcess,
    ).toBe(false);
    expect((await resolveClientConfig({ apiUrl: "localhost" }, cwd)).inProcess).toBe(false);
  });
});
