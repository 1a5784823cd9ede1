/**
 * Issue #8, "Hostile input and faults": one test (or a few) per finding, each failing on the code
 * before the fix. Most run the built CLI (dist/), as a FEDn client or a user would.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareClientData } from "../src/data/client-data.js";
import { IoError, ShapeError, UsageError } from "../src/errors.js";
import { loadPackageConfig } from "../src/fedn/config.js";
import { resolveTrainOptions } from "../src/kit/options.js";
import { MNIST_SPEC } from "../src/models/layout.js";
import { loadModel, saveModel, writeFileAtomic } from "../src/node/io.js";
import { createPackage } from "../src/tools/archive.js";
import { runEntryPoint, shellQuote } from "../src/tools/entry-point.js";
import { numpyMissing, python } from "./fixtures/python.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = join(ROOT, "dist", "bin", "entrypoint.js");
const CLI = join(ROOT, "dist", "bin", "cli.js");
const noNumpy = numpyMissing();

let dir: string;
let seed: string;
let data: string;

/** A small data file (64 train rows) and a seed model, written by numpy and init_seed. */
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "reliability-"));
  seed = join(dir, "seed.npz");
  data = join(dir, "data.npz");
  expect(spawnSync(process.execPath, [ENTRY, "init_seed", seed, "--seed=1"]).status).toBe(0);
  if (!noNumpy) {
    python(
      `r = np.random.default_rng(0)
np.savez(sys.argv[1], x_train=r.integers(0, 256, (64, 28, 28), dtype=np.uint8),
  y_train=r.integers(0, 10, 64), x_test=r.integers(0, 256, (16, 28, 28), dtype=np.uint8),
  y_test=r.integers(0, 10, 16))`,
      [data],
    );
  }
}, 60_000);

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Ran {
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    cwd: options.cwd ?? dir,
    env: { ...process.env, FEDN_DATA_PATH: "", FEDN_TFJS_BACKEND: "cpu", ...options.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh folder under the test folder. */
function fresh(name: string): string {
  return mkdtempSync(join(dir, `${name}-`));
}

/** A package folder whose `validate` entry point is a shell script recording its arguments. */
function recordingPackage(): string {
  const pkg = fresh("pkg");
  writeFileSync(
    join(pkg, "record.sh"),
    // Writes its argument count and arguments beside the output, and a JSON object of numbers.
    'printf "%s\\n" "$#" "$@" > "$2.args"; printf \'{"argc": %d}\' "$#" > "$2"\n',
  );
  writeFileSync(join(pkg, "fedn.yaml"), "entry_points:\n  validate:\n    command: sh record.sh\n");
  return pkg;
}

describe("1. arguments the runner adds are shell-quoted", () => {
  it("shellQuote makes any string one literal word for sh and bash", () => {
    for (const text of [
      "plain",
      "with space",
      "$(id)",
      "a'b",
      '"q"',
      "`x`",
      "*",
      "",
      "~",
      "a\nb",
    ]) {
      for (const shell of ["sh", "bash"]) {
        const r = spawnSync(shell, ["-c", `printf %s ${shellQuote(text)}`], { encoding: "utf8" });
        expect(r.stdout).toBe(text);
      }
    }
  });

  it("run -o with spaces, quotes and $(...) runs nothing and writes that very file; TMPDIR with a space works", () => {
    const pkg = recordingPackage();
    const out = join(fresh("out"), "my model $(touch PWNED) 'q' \"d\".json");
    const tmp = join(fresh("tmp dir"), "with space");
    mkdirSync(tmp);
    const r = node([CLI, "run", "validate", "-p", pkg, "-i", seed, "-o", out], {
      env: { TMPDIR: tmp },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(out, "utf8"))).toEqual({ argc: 2 });
    const args = readFileSync(`${out}.args`, "utf8").split("\n");
    expect(args[0]).toBe("2");
    expect(args[1]?.startsWith(tmp)).toBe(true);
    expect(args[2]).toBe(out);
    expect(existsSync(join(pkg, "PWNED")) || existsSync(join(dir, "PWNED"))).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe.skipIf(noNumpy)(`2. train writes model and metadata as a pair ${noNumpy}`, () => {
  it("when <out>-metadata cannot be written, <out> is left as it was and no temporary file stays", () => {
    const folder = fresh("pair");
    const out = join(folder, "out.npz");
    writeFileSync(out, "");
    mkdirSync(`${out}-metadata`);
    const r = node([ENTRY, "train", seed, out, "--data_path", data, "--seed=1"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split("\n").pop()).toContain(`${out}-metadata`);
    expect(statSync(out).size).toBe(0);
    expect(readdirSync(folder).sort()).toEqual(["out.npz", "out.npz-metadata"]);
  });

  it("a successful train leaves both, the metadata naming num_examples", () => {
    const out = join(fresh("pair-ok"), "out.npz");
    writeFileSync(out, "");
    const r = node([ENTRY, "train", seed, out, "--data_path", data, "--seed=1"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(`${out}-metadata`, "utf8")).num_examples).toBe(64);
  });
});

describe("3. a hostile .tgz ends in one line and leaves nothing behind", () => {
  it.skipIf(noNumpy)(
    "../x followed by many files, and a hard link to an absolute path followed by a same-name file",
    () => {
      const folder = fresh("tgz");
      python(
        `import tarfile, io
def add(t, name, kind=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link
    data = b"" if kind != tarfile.REGTYPE else b"x" * 100
    i.size = len(data); t.addfile(i, io.BytesIO(data))
with tarfile.open(sys.argv[1], "w:gz") as t:
    add(t, "../x")
    for i in range(400): add(t, f"client/f{i}")
with tarfile.open(sys.argv[2], "w:gz") as t:
    add(t, "client/h", tarfile.LNKTYPE, "/etc/passwd")
    add(t, "client/h")
    for i in range(400): add(t, f"client/g{i}")`,
        [join(folder, "dotdot.tgz"), join(folder, "hardlink.tgz")],
      );
      for (const name of ["dotdot.tgz", "hardlink.tgz"]) {
        const tmp = fresh("tmp");
        const r = node([CLI, "run", "validate", "-p", join(folder, name), "-i", seed], {
          env: { TMPDIR: tmp },
        });
        expect(r.status).toBe(1);
        const lines = r.stderr.trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(name);
        expect(r.stderr).not.toMatch(/unexpected|ENOTEMPTY/);
        expect(readdirSync(tmp)).toEqual([]);
      }
    },
  );
});

describe("6. options without a value are usage errors naming them", () => {
  const cases: [string[], string][] = [
    [["--epochs"], "--epochs"],
    [["--epochs", "--lr", "0.1"], "--epochs"],
    [["--batch_size"], "--batch_size"],
    [["--lr"], "--lr"],
    [["--seed"], "--seed"],
    [["--seed="], "--seed"],
    [["--epochs="], "--epochs"],
  ];
  it.each(cases)("train ... %j exits 2 naming the option", (extra, option) => {
    const r = node([ENTRY, "train", seed, join(dir, "unused.npz"), "--data_path", data, ...extra]);
    expect(r.status).toBe(2);
    expect(r.stderr.split("\n")[0]).toContain(`option ${option} expects a value`);
    expect(existsSync(join(dir, "unused.npz"))).toBe(false);
  });

  it('{"batch_size": NaN} in <in>-metadata is reported as NaN, not null', () => {
    const call = () =>
      resolveTrainOptions(
        {},
        {
          defaults: { batchSize: 32, epochs: 1, lr: 0.01 },
          dataFile: "mnist.npz",
          env: {},
          cwd: dir,
          metadata: { batch_size: Number.NaN },
          metadataPath: "m-metadata",
        },
      );
    expect(call).toThrow(/found NaN$/);
  });
});

describe("7. user-reachable failures are one line naming the path", () => {
  it("run -o no/such/dir/o.npz", () => {
    const r = node([
      CLI,
      "run",
      "validate",
      "-p",
      recordingPackage(),
      "-i",
      seed,
      "-o",
      "no/such/dir/o.npz",
    ]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(join(dir, "no/such/dir/o.npz"));
    expect(lines[0]).toContain("no such file or directory");
  });
});

describe("8. atomic writes follow symbolic links and refuse special files", () => {
  it("writes through a link into its target, which stays a link", async () => {
    const folder = fresh("link");
    mkdirSync(join(folder, "real"));
    writeFileSync(join(folder, "real", "target.json"), "old");
    symlinkSync(join(folder, "real", "target.json"), join(folder, "link.json"));
    await writeFileAtomic(join(folder, "link.json"), "new");
    expect(lstatSync(join(folder, "link.json")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(folder, "link.json"))).toBe(join(folder, "real", "target.json"));
    expect(readFileSync(join(folder, "real", "target.json"), "utf8")).toBe("new");
    expect(readdirSync(join(folder, "real"))).toEqual(["target.json"]);
    expect(readdirSync(folder).sort()).toEqual(["link.json", "real"]);
  });

  it("refuses a character device and a fifo, and a link to one", async () => {
    const folder = fresh("special");
    spawnSync("mkfifo", [join(folder, "fifo")]);
    symlinkSync("/dev/null", join(folder, "null-link"));
    for (const [path, kind] of [
      ["/dev/null", "character device"],
      [join(folder, "null-link"), "character device"],
      [join(folder, "fifo"), "named pipe"],
    ] as const) {
      if (!existsSync(path)) continue;
      const error = await writeFileAtomic(path, "x").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IoError);
      expect((error as Error).message).toContain(kind);
    }
    expect(lstatSync(join(folder, "null-link")).isSymbolicLink()).toBe(true);
  });
});

describe.skipIf(noNumpy)(`9. an output that is an input is refused ${noNumpy}`, () => {
  it("validate m.npz m.npz and an output equal to --data_path (also through a link) change nothing", () => {
    const folder = fresh("same");
    const model = join(folder, "m.npz");
    writeFileSync(model, readFileSync(seed));
    symlinkSync(model, join(folder, "alias.npz"));
    const before = readFileSync(model);
    const dataBefore = readFileSync(data);
    for (const out of [model, join(folder, "alias.npz")]) {
      const r = node([ENTRY, "validate", model, out, "--data_path", data]);
      expect(r.status).toBe(2);
      expect(r.stderr.split("\n")[0]).toContain("the input model");
    }
    const r = node([ENTRY, "predict", model, data, "--data_path", data]);
    expect(r.status).toBe(2);
    expect(r.stderr.split("\n")[0]).toContain("the data file");
    expect(readFileSync(model).equals(before)).toBe(true);
    expect(readFileSync(data).equals(dataBefore)).toBe(true);
  });
});

describe("10. package create follows a link out of the folder, so run runs what create made", () => {
  it("archives the linked file itself; run unpacks and runs it", async () => {
    const outside = fresh("outside");
    writeFileSync(join(outside, "record.sh"), 'printf \'{"argc": %d}\' "$#" > "$2"\n');
    const pkg = fresh("linked-pkg");
    symlinkSync(join(outside, "record.sh"), join(pkg, "record.sh"));
    writeFileSync(
      join(pkg, "fedn.yaml"),
      "entry_points:\n  validate:\n    command: sh record.sh\n",
    );
    const out = fresh("created");
    const created = await createPackage({ path: pkg, output: out });
    const result = await runEntryPoint({
      entry: "validate",
      path: created.file,
      input: seed,
      output: join(out, "metrics.json"),
    });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"))).toEqual({ argc: 2 });
  });
});

describe("11. startup, fedn.yaml and error classes", () => {
  it.skipIf(noNumpy)("startup accepts the float and (N, 1) labels train accepts", async () => {
    const folder = fresh("labels");
    const file = join(folder, "mnist.npz");
    python(
      `r = np.random.default_rng(0)
np.savez(sys.argv[1], x_train=r.integers(0, 256, (8, 28, 28), dtype=np.uint8),
  y_train=r.integers(0, 10, (8, 1)).astype(np.float32), x_test=r.integers(0, 256, (4, 28, 28), dtype=np.uint8),
  y_test=r.integers(0, 10, 4).astype(np.float64))`,
      [file],
    );
    const report = await prepareClientData({ dataPath: file, env: {}, cwd: folder });
    expect(report.lines[0]).toContain("8 train and 4 test images");
    const r = node([ENTRY, "validate", seed, join(folder, "metrics.json"), "--data_path", file]);
    expect(r.status).toBe(0);
  });

  it("client/fedn.yaml passes $ENTRYPOINT_OPTS to startup, and startup accepts train's options", async () => {
    const config = await loadPackageConfig(join(ROOT, "client", "fedn.yaml"));
    expect(config.entryPoints.startup).toBe("node dist/startup.js $ENTRYPOINT_OPTS");
    const r = node([
      join(ROOT, "dist", "bin", "startup.js"),
      "--epochs=2",
      "--lr=0.1",
      "--data_path",
      data,
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("a bad FEDN_NUM_DATA_SPLITS is a UsageError; createDenseModel's mismatch a ShapeError", async () => {
    const folder = fresh("splits");
    writeFileSync(join(folder, "demo.npz"), "");
    const error = await prepareClientData({
      env: { FEDN_NUM_DATA_SPLITS: "two" },
      cwd: folder,
      demoPath: join(folder, "demo.npz"),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    const { createDenseModel } = await import("../src/models/dense-model.js");
    expect(() => createDenseModel([], MNIST_SPEC)).toThrow(ShapeError);
  });
});

describe("5. a model file is checked from its headers before any data is inflated", () => {
  it("refuses a wrong shape, dtype or count without inflating the member data", async () => {
    const folder = fresh("headers");
    const weights = await loadModel(seed);
    const bad = join(folder, "bad.npz");
    // Member 0 declares 64 x 785 floats; the model expects (64, 784).
    await saveModel(
      [
        { dtype: "float32", shape: [64, 785], data: new Float32Array(64 * 785) },
        ...weights.slice(1),
      ],
      bad,
    );
    const { decodeModel } = await import("../src/fedn/numpyhelper.js");
    const expect6 = MNIST_SPEC.sizes.slice(1).flatMap((n, l) => [
      { shape: [n, MNIST_SPEC.sizes[l] as number], dtypes: ["float32"] },
      { shape: [n], dtypes: ["float32"] },
    ]);
    const bytes = new Uint8Array(readFileSync(bad));
    expect(() => decodeModel(bytes, { name: "bad.npz", expect: expect6 })).toThrow(
      'bad.npz: weights "0" has shape (64, 785); the model expects (64, 784)',
    );
    expect(() => decodeModel(bytes, { name: "bad.npz", expect: expect6.slice(1) })).toThrow(
      "the model file holds 6 arrays; the model expects 5",
    );
  });
});

describe("4. SIGTERM/SIGINT to run and simulate stop the child's process group and clean up", () => {
  /** Starts the CLI, waits for the entry point to write its pid, signals the CLI, and checks. */
  async function interrupt(args: string[], pidFile: string, tmp: string, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: dir,
      env: { ...process.env, TMPDIR: tmp, PIDFILE: pidFile },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
    });
    const closed = new Promise<number | null>((done) => child.on("close", done));
    const deadline = Date.now() + 60_000;
    while (!(existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "")) {
      if (Date.now() > deadline) throw new Error(`the entry point never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const group = Number(readFileSync(pidFile, "utf8").trim());
    child.kill(signal);
    const status = await closed;
    // Processes still in the group, zombies aside (a container's init may never reap them).
    const ps = spawnSync("ps", ["-e", "-o", "pgid=,stat="], { encoding: "utf8" }).stdout;
    const alive = ps
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .some(([pgid, stat]) => Number(pgid) === group && !stat?.startsWith("Z"));
    return { status, stderr, alive };
  }

  /** A package .tgz whose `name` entry point writes its process group id and then sleeps. */
  async function sleepingPackage(name: string): Promise<string> {
    const pkg = fresh("sleeper");
    writeFileSync(
      join(pkg, "fedn.yaml"),
      `entry_points:\n  ${name}:\n    command: sh -c 'sleep 60 & echo $$ > "$PIDFILE"; wait'\n`,
    );
    return (await createPackage({ path: pkg, output: fresh("sleeper-out") })).file;
  }

  it("run: exit 143 on SIGTERM, no process of the group left, nothing in TMPDIR, output untouched", async () => {
    const archive = await sleepingPackage("validate");
    const tmp = fresh("tmp");
    const out = join(fresh("o"), "out.json");
    writeFileSync(out, "keep");
    const r = await interrupt(
      ["run", "validate", "-p", archive, "-i", seed, "-o", out],
      join(dir, "run.pid"),
      tmp,
      "SIGTERM",
    );
    expect(r.status).toBe(143);
    expect(r.alive).toBe(false);
    expect(r.stderr).toContain("stopped by SIGTERM");
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.skipIf(noNumpy)(
    "simulate: exit 130 on SIGINT, no process of the group left, nothing in TMPDIR",
    async () => {
      const archive = await sleepingPackage("startup");
      const tmp = fresh("tmp");
      const work = fresh("sim");
      mkdirSync(join(work, "data", "clients", "1"), { recursive: true });
      writeFileSync(join(work, "data", "clients", "1", "mnist.npz"), readFileSync(data));
      const r = await interrupt(
        [
          "simulate",
          "-p",
          archive,
          "--seed_model",
          seed,
          "--clients",
          "1",
          "--data_dir",
          join(work, "data", "clients"),
          "--out",
          join(work, "out"),
        ],
        join(dir, "sim.pid"),
        tmp,
        "SIGINT",
      );
      expect(r.status).toBe(130);
      expect(r.alive).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
    },
  );
});
