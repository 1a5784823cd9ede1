import fc from "fast-check";
import { describe, expect, it } from "vitest";
import yargs from "yargs";
import { DataError, UsageError } from "../src/errors.js";
import {
  type CliContext,
  defineCommand,
  EXIT_FAILURE,
  EXIT_USAGE,
  type OptionSpec,
  type Program,
  parseArguments,
  renderCommandHelp,
  renderProgramHelp,
  runCli,
} from "../src/kit/cli.js";

/** A context that records what a command writes, so commands are tested as plain functions. */
function recorder(): CliContext & { out: () => string; err: () => string } {
  let out = "";
  let err = "";
  return {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    cwd: "/",
    out: () => out,
    err: () => err,
  };
}

const seen: Record<string, unknown>[] = [];
const train = defineCommand({
  name: "train",
  describe: "Train the model",
  positionals: [
    { name: "in_model_path", describe: "Model to start from" },
    { name: "out_model_path", describe: "Where to write the trained model" },
  ],
  options: {
    data_path: { type: "string", describe: "Data file" },
    batch_size: { type: "number", describe: "Batch size", default: 32 },
    shuffle: { type: "boolean", describe: "Shuffle", default: false },
    mode: { type: "string", describe: "Mode", choices: ["a", "b"], default: "a" },
  },
  async run(args) {
    seen.push({ ...args });
    if (args.in_model_path === "fail") throw new DataError("bad data in x.npz", { file: "x.npz" });
    if (args.in_model_path === "crash") throw new TypeError("boom");
    if (args.in_model_path === "lines") throw new DataError('m: not JSON ("not\njson" is bad)\n');
    if (args.in_model_path === "usage") throw new UsageError("option --lr must be positive");
    return 0;
  },
});
const initSeed = defineCommand({
  name: "init_seed",
  describe: "Write a seed model",
  positionals: [{ name: "out_path", describe: "Output", default: "seed.npz" }],
  options: {},
  async run(args, ctx) {
    ctx.stdout.write(`${args.out_path}\n`);
    return undefined;
  },
});
const create = defineCommand({
  name: "package create",
  describe: "Create a package",
  positionals: [],
  options: { path: { type: "string", describe: "Folder", alias: "p", default: "." } },
  async run(args, ctx) {
    ctx.stdout.write(`${args.path}\n`);
    return 0;
  },
});
const program: Program = {
  name: "prog",
  version: "9.9.9",
  describe: "A test program.",
  commands: [train, initSeed, create],
};

async function run(argv: string[]) {
  const ctx = recorder();
  seen.length = 0;
  const code = await runCli(program, argv, ctx);
  return { code, out: ctx.out(), err: ctx.err(), args: seen[0] };
}

describe("runCli parses like python-fire", () => {
  const base = { in_model_path: "in.npz", out_model_path: "out.npz", batch_size: 32 };
  it.each([
    [["train", "in.npz", "out.npz", "--data_path", "/d.npz"], {}],
    [["train", "in.npz", "out.npz", "--data_path=/d.npz"], {}],
    [["train", "--data_path=/d.npz", "in.npz", "out.npz"], {}],
    [["train", "--data_path", "/d.npz", "in.npz", "out.npz"], {}],
    [["train", "in.npz", "--data-path", "/d.npz", "out.npz"], {}],
    [["train", "--dataPath", "/d.npz", "in.npz", "out.npz"], {}],
    [
      ["train", "in.npz", "out.npz", "--data_path", "/d.npz", "--batch_size", "8"],
      { batch_size: 8 },
    ],
    [["train", "in.npz", "out.npz", "--data_path", "/d.npz", "--batch-size=8"], { batch_size: 8 }],
  ])("%j", async (argv, extra) => {
    const { code, args } = await run(argv);
    expect(code).toBe(0);
    expect(args).toEqual({
      ...base,
      data_path: "/d.npz",
      shuffle: false,
      mode: "a",
      ...extra,
    });
  });

  it("takes --flag=true and --flag=false", async () => {
    expect((await run(["train", "a", "b", "--shuffle=true"])).args).toMatchObject({
      shuffle: true,
    });
    expect((await run(["train", "a", "b", "--shuffle=false"])).args).toMatchObject({
      shuffle: false,
    });
  });

  it("keeps numeric-looking positionals as strings", async () => {
    const { args } = await run(["train", "1", "2"]);
    expect(args).toMatchObject({ in_model_path: "1", out_model_path: "2" });
  });

  it("leaves an option without a default undefined, so callers can tell 'not given'", async () => {
    const { args } = await run(["train", "a", "b"]);
    expect(args).toHaveProperty("data_path", undefined);
  });

  it("fills an optional positional from its default", async () => {
    expect((await run(["init_seed"])).out).toBe("seed.npz\n");
    expect((await run(["init_seed", "s.npz"])).out).toBe("s.npz\n");
  });

  it("finds two-word commands and short aliases", async () => {
    expect((await run(["package", "create", "-p", "client"])).out).toBe("client\n");
  });
});

describe("runCli usage errors exit 2 with the usage line", () => {
  it.each([
    [["train", "in.npz"], "prog train: missing argument <out_model_path>"],
    [["train", "a", "b", "c"], "prog train: unexpected argument(s): c"],
    [["train", "a", "b", "--nope"], "prog train: unknown option --nope"],
    [
      ["train", "a", "b", "--batch_size", "many"],
      "prog train: option --batch_size expects a number",
    ],
    [["train", "a", "b", "--data_path"], "prog train: option --data_path expects a value"],
    [
      ["train", "a", "b", "--batch_size=1e400"],
      'prog train: option --batch_size expects a finite number, found "1e400" (too large)',
    ],
    [
      ["train", "a", "b", "--batch-size", "-2E+999"],
      'prog train: option --batch_size expects a finite number, found "-2E+999" (too large)',
    ],
    [
      ["train", "a", "b", "--mode", "c"],
      'prog train: option --mode expects one of "a", "b", found "c"\n',
    ],
    [["train", "usage", "b"], "prog train: option --lr must be positive"],
    [
      ["train", "a", "b", "--shuffle=maybe"],
      "prog train: option --shuffle is a flag: give it alone, or =true / =false",
    ],
  ])("%j", async (argv, message) => {
    const { code, err, args } = await run(argv);
    expect(code).toBe(EXIT_USAGE);
    expect(err.startsWith(message)).toBe(true);
    expect(err).toContain("usage: prog train <in_model_path> <out_model_path> [options]\n");
    if (argv[1] !== "usage") expect(args).toBeUndefined();
  });

  it("an unknown command lists the commands", async () => {
    const { code, err } = await run(["trian"]);
    expect(code).toBe(EXIT_USAGE);
    expect(err).toContain('prog: unknown command "trian"');
    expect(err.split("\n")[0]).toBe(
      'prog: unknown command "trian"; the commands are train, init_seed, package create',
    );
  });

  it("no command at all prints the help on stderr", async () => {
    const { code, err, out } = await run([]);
    expect(code).toBe(EXIT_USAGE);
    expect(out).toBe("");
    expect(err).toBe(renderProgramHelp(program));
  });
});

describe("runCli failures exit 1 with one line", () => {
  it("prints a typed error's message alone", async () => {
    const { code, err } = await run(["train", "fail", "b"]);
    expect(code).toBe(EXIT_FAILURE);
    expect(err).toBe("prog train: bad data in x.npz\n");
  });

  it("keeps a message that quotes multi-line text whole, on one line", async () => {
    const { code, err } = await run(["train", "lines", "b"]);
    expect(code).toBe(EXIT_FAILURE);
    expect(err).toBe('prog train: m: not JSON ("not json" is bad)\n');
  });

  it("says how to see more for an unexpected error", async () => {
    const { code, err } = await run(["train", "crash", "b"]);
    expect(code).toBe(EXIT_FAILURE);
    expect(err.split("\n")[0]).toBe("prog train: boom");
    expect(err).toContain("--verbose");
    expect(err).not.toContain("    at ");
  });

  it("prints the stack with --verbose", async () => {
    const { err } = await run(["train", "crash", "b", "--verbose"]);
    expect(err).toContain("TypeError: boom\n    at ");
  });
});

describe("help", () => {
  it("--help and --version go to stdout and exit 0", async () => {
    expect(await run(["--help"])).toMatchObject({ code: 0, out: renderProgramHelp(program) });
    expect(await run(["--version"])).toMatchObject({ code: 0, out: "9.9.9\n" });
  });

  it("a command's --help lists positionals, aliases and defaults", async () => {
    const { code, out } = await run(["train", "--help"]);
    expect(code).toBe(0);
    expect(out).toBe(await renderCommandHelp(program, train));
    expect(out).toMatchInlineSnapshot(`
      "prog train <in_model_path> <out_model_path> [options]

      Train the model

      Positionals:
        in_model_path   Model to start from [required]                                            [string]
        out_model_path  Where to write the trained model [required]                               [string]

      Options:
        --data_path, --data-path    Data file                                                     [string]
        --batch_size, --batch-size  Batch size                                      [number] [default: 32]
        --shuffle                   Shuffle                                     [boolean] [default: false]
        --mode                      Mode                       [string] [choices: "a", "b"] [default: "a"]
        --verbose                   Print the stack trace of a failure                           [boolean]
        --help                      Show this help                                               [boolean]
      "
    `);
  });
});

/**
 * The parse as the kit did it with yargs itself (before yargs-parser alone took over, to cut
 * start-up): the same settings, `strictOptions`, `choices`, positionals declared as options.
 */
async function yargsParse(
  command: typeof train,
  argv: readonly string[],
): Promise<Record<string, unknown>> {
  const common: Record<string, OptionSpec> = {
    verbose: { type: "boolean", describe: "v" },
    help: { type: "boolean", describe: "h" },
  };
  let parser = yargs([...argv])
    .parserConfiguration({
      "parse-positional-numbers": false,
      "duplicate-arguments-array": false,
      "strip-aliased": true,
      "strip-dashed": true,
    })
    .help(false)
    .version(false)
    .exitProcess(false)
    .strictOptions()
    .fail((message, error) => {
      throw new Error(message ?? String(error));
    });
  for (const p of command.positionals) {
    parser = parser.positional(p.name, {
      type: "string",
      ...(p.default === undefined ? {} : { default: p.default }),
    });
  }
  for (const [name, spec] of Object.entries({ ...command.options, ...common })) {
    const alias = new Set(spec.alias === undefined ? [] : [spec.alias]);
    if (name.includes("_")) alias.add(name.replaceAll("_", "-"));
    parser = parser.option(name, {
      type: spec.type,
      alias: [...alias],
      ...(spec.default === undefined ? {} : { default: spec.default }),
      ...(spec.choices === undefined ? {} : { choices: [...spec.choices] }),
    });
  }
  const { $0: _, ...parsed } = (await parser.parseAsync()) as Record<string, unknown>;
  return parsed;
}

describe("parseArguments reads a command line as yargs did", () => {
  // Words a command line is made of: options in every spelling, values, flags, typos, `--`.
  const word = fc.constantFrom(
    ...[
      ["in.npz", "out.npz", "1", "-1", "x y", "", "--", "-", "-p", "-x", "-px"],
      ["--data_path", "--data-path=/d", "--dataPath", "--data_path=", "--data-path", "--data"],
      ["--batch_size", "--batch-size=8", "--batchSize", "--batch_size=1e3", "--batch_size=-2"],
      ["--shuffle", "--no-shuffle", "--shuffle=true", "--shuffle=false", "--noShuffle"],
      ["--mode", "--mode=b", "--mode=c", "--mode=", "--verbose", "--help", "--no-verbose"],
      ["--nope", "--nope=1", "--no-nope", "--Mode=a", "--in_model_path=q", "--in-model-path"],
      ["--path", "--path=.", "-p=x", "--out_path=o", "--a.b=1", "--__proto__=1", "--=x"],
    ].flat(),
  );
  it.each([train, initSeed, create])("%# on random command lines", async (command) => {
    await fc.assert(
      fc.asyncProperty(fc.array(word, { maxLength: 8 }), async (argv) => {
        const ours = (() => {
          try {
            return { parsed: parseArguments(command, argv) };
          } catch (error) {
            expect(error).toBeInstanceOf(UsageError);
            return { error: (error as Error).message };
          }
        })();
        const theirs = await yargsParse(command as typeof train, argv).then(
          (parsed) => ({ parsed }),
          (error: Error) => ({ error: error.message }),
        );
        if ("error" in theirs) {
          // yargs's wording, made the kit's one line (as the kit's fail handler did).
          expect(ours).toHaveProperty("error");
          const unknown = /^Unknown arguments?: (.*)$/.exec(theirs.error);
          if (unknown !== null) {
            const names = (unknown[1] ?? "")
              .split(", ")
              .map((n) => (n.length === 1 ? `-${n}` : `--${n}`));
            expect(ours.error).toBe(
              `unknown option${names.length > 1 ? "s" : ""} ${names.join(", ")}`,
            );
          } else {
            const invalid = /Argument: (.+?), Given: (.+?), Choices: (.+)$/m.exec(theirs.error);
            expect(invalid).not.toBeNull();
            expect(ours.error).toBe(
              `option --${invalid?.[1]} expects one of ${invalid?.[3]}, found ${invalid?.[2]}`,
            );
          }
        } else {
          expect(ours).toEqual(theirs);
        }
      }),
      { numRuns: 300, seed: 9 },
    );
  });
});
