/**
 * CLI scaffolding: commands are plain data (`defineCommand`), and `runCli` turns an argument
 * list into an exit status. Nothing here touches `process`: the caller passes the arguments, the
 * output streams, the environment and the working directory, so commands are tested as
 * functions and only the outermost `main` of a bin file reads `process.argv`.
 *
 * Parsing follows python-fire, which FEDn's example entry points use, so `fedn.yaml` commands
 * written for Python work unchanged: options may come before or after the positionals
 * (`train --data_path=/d in out`, the shape FEDn builds from a command with flags), and an
 * option declared as `data_path` is also accepted as `--data-path` and `--dataPath`.
 */
import { constants as osConstants } from "node:os";
import yargsParser from "yargs-parser";
import { isFednTfjsError, UsageError } from "../errors.js";
import type { ResidentState } from "./resident.js";

export type OptionType = "string" | "number" | "boolean";

export interface OptionSpec {
  readonly type: OptionType;
  readonly describe: string;
  /** Shown in `--help`. Leave unset when "not given" must be told apart from the default. */
  readonly default?: string | number | boolean;
  /** Shown in `--help` instead of the default, for defaults decided at run time. */
  readonly defaultDescription?: string;
  readonly choices?: readonly string[];
  readonly alias?: string;
}

export interface PositionalSpec {
  readonly name: string;
  readonly describe: string;
  /** A positional with a default is optional; one without is required. */
  readonly default?: string;
}

type ValueOf<T extends OptionType> = T extends "string"
  ? string
  : T extends "number"
    ? number
    : boolean;

/** The parsed arguments of a command, typed from its specs. */
export type ArgsOf<P extends readonly PositionalSpec[], O extends Record<string, OptionSpec>> = {
  [K in keyof O]: O[K] extends { default: unknown }
    ? ValueOf<O[K]["type"]>
    : ValueOf<O[K]["type"]> | undefined;
} & { [K in P[number]["name"]]: string };

/** What a command may touch of the outside world. */
export interface CliContext {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown; readonly isTTY?: boolean | undefined };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * Aborted (with the signal's name as the reason, e.g. `"SIGTERM"`) when the process is asked to
   * stop; commands marked `interruptible` pass it down, clean up and return.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Set by a host that runs the commands in its own process (the FEDn client): the kit keeps the
   * model and data there between commands and reports training metrics to it.
   */
  readonly resident?: ResidentState | undefined;
}

export interface Command<
  P extends readonly PositionalSpec[] = readonly PositionalSpec[],
  O extends Record<string, OptionSpec> = Record<string, OptionSpec>,
> {
  /** One word, or a group and a word (`"package create"`). */
  readonly name: string;
  readonly describe: string;
  readonly positionals: P;
  readonly options: O;
  /** Extra lines for `--help`, e.g. examples. */
  readonly epilog?: string;
  /**
   * The command stops cleanly on `ctx.signal` (it runs child processes and owns temporary
   * files): the bin then routes SIGTERM/SIGINT to the signal instead of dying at once.
   */
  readonly interruptible?: boolean;
  /** Returns the exit status (0 when nothing is returned). Throws `FednTfjsError`s for failures. */
  run(args: ArgsOf<P, O>, ctx: CliContext): Promise<number | undefined>;
}

/** A command whose argument types are erased, so commands of different shapes share a list. */
export interface AnyCommand {
  readonly name: string;
  readonly describe: string;
  readonly positionals: readonly PositionalSpec[];
  readonly options: Record<string, OptionSpec>;
  readonly epilog?: string;
  readonly interruptible?: boolean;
  run(args: Record<string, unknown>, ctx: CliContext): Promise<number | undefined>;
}

/** Declares a command; the identity function, there for the types. */
export function defineCommand<
  const P extends readonly PositionalSpec[],
  const O extends Record<string, OptionSpec>,
>(command: Command<P, O>): AnyCommand {
  return command as unknown as AnyCommand;
}

export interface Program {
  /** The name users type (`fedn-tfjs`, `node dist/entrypoint.js`). */
  readonly name: string;
  readonly version: string;
  readonly describe: string;
  readonly commands: readonly AnyCommand[];
}

/** Options every command has. They are handled here, not by the commands. */
const COMMON_OPTIONS: Record<string, OptionSpec> = {
  verbose: { type: "boolean", describe: "Print the stack trace of a failure" },
  help: { type: "boolean", describe: "Show this help" },
};

/** Exit statuses: 1 for a failure at run time, 2 for a command line that cannot be run. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The list of commands, as `--help` without a command prints it. */
export function renderProgramHelp(program: Program): string {
  const width = Math.max(...program.commands.map((c) => c.name.length));
  const lines = program.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.describe}`);
  return [
    `${program.name} <command> [options]`,
    "",
    program.describe,
    "",
    "Commands:",
    ...lines,
    "",
    `Run \`${program.name} <command> --help\` for a command's arguments and options.`,
    "",
  ].join("\n");
}

/** The one-line usage of a command: `prog train <in_model_path> <out_model_path> [options]`. */
export function usageLine(program: Program, command: AnyCommand): string {
  const positionals = command.positionals.map((p) =>
    p.default === undefined ? `<${p.name}>` : `[${p.name}]`,
  );
  return [program.name, command.name, ...positionals, "[options]"].join(" ");
}

/** Accepts `--data_path`, `--data-path` and `--dataPath` for an option declared `data_path`. */
function aliasesOf(name: string, spec: OptionSpec): string[] {
  const aliases = new Set<string>();
  if (spec.alias !== undefined) aliases.add(spec.alias);
  if (name.includes("_")) aliases.add(name.replaceAll("_", "-"));
  aliases.delete(name);
  return [...aliases];
}

/**
 * How a command line is read: yargs's parser (`yargs-parser`) with the settings the kit always
 * gave yargs. Only `--help` loads yargs itself, to render the text: yargs and its help renderer
 * cost each process about 0.2 s of CPU at start-up (a FEDn client starts one per task).
 */
const PARSER_CONFIGURATION = {
  "parse-positional-numbers": false,
  "duplicate-arguments-array": false,
  "strip-aliased": true,
  "strip-dashed": true,
};

/** Keys yargs-parser puts in its result that are not options. */
const SPECIAL_KEYS = new Set(["$0", "--", "_"]);

/** An unknown option named as it was typed: `-x` or `--name`. */
function optionName(key: string): string {
  if (key.trim() === "") return `--${JSON.stringify(key)}`;
  return key.length === 1 ? `-${key}` : `--${key}`;
}

/**
 * Parses `argv` for `command` as yargs did (`strictOptions`, `choices`, the options' types,
 * aliases and defaults): the result has each option under its declared name and the
 * positionals in `_`. Throws a `UsageError` naming an unknown option or a value out of its
 * choices.
 */
export function parseArguments(
  command: AnyCommand,
  argv: readonly string[],
): Record<string, unknown> {
  const options = {
    alias: {} as Record<string, string[]>,
    array: [] as string[],
    boolean: [] as string[],
    number: [] as string[],
    string: [] as string[],
    count: [] as string[],
    normalize: [] as string[],
    narg: {} as Record<string, number>,
    configObjects: [],
    key: {} as Record<string, boolean>,
    default: {} as Record<string, unknown>,
    // yargs parses with `populate--` and moves what follows `--` into `_` afterwards.
    configuration: { ...PARSER_CONFIGURATION, "populate--": true },
  };
  const choices = new Map<string, readonly string[]>();
  const declare = (name: string, type: OptionType, aliases: string[], value: unknown): void => {
    options.key[name] = true;
    for (const alias of aliases) options.key[alias] = true;
    options[type].push(name, ...aliases);
    if (value !== undefined) options.default[name] = value;
  };
  // yargs's `positional()` declared each positional as a string option too, so
  // `--in_model_path x` is a known option (its value is not used: positionals come from `_`).
  for (const p of command.positionals) declare(p.name, "string", [], p.default);
  for (const [name, spec] of Object.entries({ ...command.options, ...COMMON_OPTIONS })) {
    const aliases = aliasesOf(name, spec);
    options.alias[name] = aliases;
    declare(name, spec.type, aliases, spec.default);
    if (spec.choices !== undefined) choices.set(name, spec.choices);
  }
  const parsed = yargsParser.detailed([...argv], options);
  if (parsed.error !== null) {
    throw new UsageError(parsed.error.message.replaceAll(/\s*\n\s*/g, " "));
  }
  const result = parsed.argv as Record<string, unknown>;
  // strictOptions: a key is known when it is declared or an alias of one, not only a
  // camel-case spelling the parser made up for an unknown option.
  const known = (key: string): boolean => {
    const aliases = parsed.aliases[key];
    if (aliases === undefined) return false;
    return [key, ...aliases].some(
      (a) => !Object.hasOwn(parsed.newAliases, a) || !parsed.newAliases[key],
    );
  };
  const unknown = Object.keys(result).filter((key) => !SPECIAL_KEYS.has(key) && !known(key));
  if (unknown.length > 0) {
    const names = unknown.map(optionName);
    throw new UsageError(`unknown option${names.length > 1 ? "s" : ""} ${names.join(", ")}`);
  }
  const invalid: string[] = [];
  for (const [name, allowed] of choices) {
    const value = result[name];
    if (value !== undefined && !allowed.includes(value as string)) {
      const list = allowed.map((c) => JSON.stringify(c)).join(", ");
      invalid.push(`option --${name} expects one of ${list}, found ${JSON.stringify(value)}`);
    }
  }
  if (invalid.length > 0) throw new UsageError(invalid.join("; "));
  const rest = (result["--"] as unknown[] | undefined) ?? [];
  delete result["--"];
  result._ = [...((result._ as unknown[] | undefined) ?? []), ...rest];
  return result;
}

/** yargs, loaded only to render a command's `--help`. */
async function helpParser(program: Program, command: AnyCommand) {
  const { default: yargs } = await import("yargs");
  let parser = yargs([])
    .scriptName(`${program.name} ${command.name}`)
    .usage(`${usageLine(program, command)}\n\n${command.describe}`)
    .parserConfiguration(PARSER_CONFIGURATION)
    .help(false)
    .version(false)
    .exitProcess(false)
    .wrap(100);
  for (const p of command.positionals) {
    // Declared only so `--help` lists them; yargs leaves them in `_`, and collectArgs checks them.
    parser = parser.positional(p.name, {
      describe: p.default === undefined ? `${p.describe} [required]` : p.describe,
      type: "string",
      ...(p.default === undefined ? {} : { default: p.default }),
    });
  }
  const all = { ...command.options, ...COMMON_OPTIONS };
  for (const [name, spec] of Object.entries(all)) {
    parser = parser.option(name, {
      type: spec.type,
      describe: spec.describe,
      alias: aliasesOf(name, spec),
      ...(spec.default === undefined ? {} : { default: spec.default }),
      ...(spec.defaultDescription === undefined
        ? {}
        : { defaultDescription: spec.defaultDescription }),
      ...(spec.choices === undefined ? {} : { choices: [...spec.choices] }),
    });
  }
  if (command.epilog !== undefined) parser = parser.epilog(command.epilog);
  return parser;
}

/** `--help` text of one command, as yargs renders it. */
export async function renderCommandHelp(program: Program, command: AnyCommand): Promise<string> {
  return `${await (await helpParser(program, command)).getHelp()}\n`;
}

/** Checks parsed values that yargs lets through: NaN numbers, repeated positionals. */
function collectArgs(
  command: AnyCommand,
  parsed: Record<string, unknown>,
): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    const value = parsed[name];
    if (spec.type === "number" && typeof value === "number" && Number.isNaN(value)) {
      throw new UsageError(`option --${name} expects a number`, { option: name });
    }
    // yargs turns a trailing `--data_path` with nothing after it into "".
    if (
      spec.type === "string" &&
      value !== undefined &&
      (typeof value !== "string" || value === "")
    ) {
      throw new UsageError(`option --${name} expects a value`, { option: name });
    }
    args[name] = value;
  }
  const rest = ((parsed._ as unknown[] | undefined) ?? []).map(String);
  const positionals = command.positionals;
  if (rest.length > positionals.length) {
    const extra = rest.slice(positionals.length).join(" ");
    throw new UsageError(`unexpected argument(s): ${extra}`);
  }
  positionals.forEach((p, i) => {
    const value = rest[i] ?? p.default;
    if (value === undefined) throw new UsageError(`missing argument <${p.name}>`);
    args[p.name] = value;
  });
  return args;
}

/**
 * yargs reads `--shuffle=maybe` as false; a typo in a flag must not silently mean "off". Only the
 * `=value` form needs this: a separate word after a flag is a positional, checked as such.
 */
function checkBooleanValues(command: AnyCommand, argv: readonly string[]): void {
  const all = { ...command.options, ...COMMON_OPTIONS };
  const booleans = new Map<string, string>();
  for (const [name, spec] of Object.entries(all)) {
    if (spec.type !== "boolean") continue;
    for (const alias of [name, ...aliasesOf(name, spec)]) booleans.set(alias, name);
  }
  for (const arg of argv) {
    if (arg === "--") break;
    const match = /^--(?:no-)?([^=]+)=(.*)$/.exec(arg);
    if (match === null) continue;
    const name = booleans.get(match[1] ?? "");
    if (name !== undefined && !["true", "false"].includes(match[2] ?? "")) {
      throw new UsageError(`option --${name} is a flag: give it alone, or =true / =false`, {
        option: name,
      });
    }
  }
}

/** A number as written on a command line: decimal, with an optional exponent, or inf/nan. */
const NUMBER_TEXT = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$|^[-+]?(?:inf|infinity|nan)$/i;

/**
 * An option that takes a value must get one: `--epochs` last on the line or followed by another
 * option, and `--seed=`, are usage errors naming it (yargs would fall back to the default, or
 * read 0). A number option's value must be a number as written (`0x10` and `1_000` are not).
 */
function checkOptionValues(command: AnyCommand, argv: readonly string[]): void {
  const valued = new Map<string, [string, OptionSpec]>();
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.type === "boolean") continue;
    for (const alias of [name, ...aliasesOf(name, spec)]) valued.set(alias, [name, spec]);
  }
  const isOption = (word: string): boolean =>
    word.startsWith("-") && word.length > 1 && !NUMBER_TEXT.test(word);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    const match = /^--?([^=]+)(=(.*))?$/s.exec(arg);
    if (match === null || (!arg.startsWith("--") && (match[1] ?? "").length !== 1)) continue;
    const found = valued.get(match[1] ?? "");
    if (found === undefined) continue;
    const [name, spec] = found;
    const value = match[2] === undefined ? argv[i + 1] : match[3];
    if (value === undefined || value === "" || (match[2] === undefined && isOption(value))) {
      throw new UsageError(`option --${name} expects a value`, { option: name });
    }
    if (spec.type === "number" && !NUMBER_TEXT.test(value.trim())) {
      throw new UsageError(`option --${name} expects a number, found ${JSON.stringify(value)}`, {
        option: name,
      });
    }
    // `1e400` is a number as written but Infinity once read: say so with the text as typed,
    // not as "found Infinity" from a range check that never saw the text.
    if (spec.type === "number" && /\d/.test(value) && !Number.isFinite(Number(value.trim()))) {
      throw new UsageError(
        `option --${name} expects a finite number, found ${JSON.stringify(value)} (too large)`,
        { option: name },
      );
    }
    if (match[2] === undefined) i++;
  }
}

function findCommand(program: Program, argv: readonly string[]) {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(" ");
    const command = program.commands.find((c) => c.name === name);
    if (command !== undefined) return { command, rest: argv.slice(words) };
  }
  return undefined;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Runs one command line of `program` and returns its exit status: 0 on success, 1 when the
 * command fails, 2 when the command line is wrong. Failures print one line on stderr (and the
 * stack with `--verbose`); usage errors also print the usage line.
 */
export async function runCli(
  program: Program,
  argv: readonly string[],
  ctx: CliContext,
): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const out = first === undefined ? ctx.stderr : ctx.stdout;
    out.write(renderProgramHelp(program));
    return first === undefined ? EXIT_USAGE : 0;
  }
  if (first === "--version") {
    ctx.stdout.write(`${program.version}\n`);
    return 0;
  }
  const found = findCommand(program, argv);
  if (found === undefined) {
    // One line, like every failure; `--help` has the descriptions.
    const names = program.commands.map((c) => c.name).join(", ");
    ctx.stderr.write(
      `${program.name}: unknown command "${first}"; the commands are ${names}\nusage: ${program.name} <command> [options] (--help for more)\n`,
    );
    return EXIT_USAGE;
  }
  const { command, rest } = found;
  const verbose = rest.includes("--verbose");
  const prefix = `${program.name} ${command.name}`;
  let args: Record<string, unknown>;
  try {
    checkBooleanValues(command, rest);
    checkOptionValues(command, rest);
    const parsed = parseArguments(command, rest);
    if (parsed.help === true) {
      ctx.stdout.write(await renderCommandHelp(program, command));
      return 0;
    }
    args = collectArgs(command, parsed);
  } catch (error) {
    ctx.stderr.write(`${prefix}: ${describeError(error)}\nusage: ${usageLine(program, command)}\n`);
    return EXIT_USAGE;
  }
  const stopped = (): number | undefined => {
    const reason = ctx.signal?.aborted === true ? ctx.signal.reason : undefined;
    if (typeof reason !== "string") return undefined;
    ctx.stderr.write(`${prefix}: stopped by ${reason}; the child was stopped and cleaned up\n`);
    // The shell's convention for a process ended by a signal.
    return 128 + (osConstants.signals[reason as NodeJS.Signals] ?? 15);
  };
  try {
    const status = (await command.run(args, ctx)) ?? 0;
    return stopped() ?? status;
  } catch (error) {
    const status = stopped();
    if (status !== undefined) return status;
    // One line, whole: messages that quote a library's text (JSON.parse quotes the bad input)
    // can hold newlines, and cutting at the first one would drop the end of the sentence.
    const line = describeError(error)
      .trim()
      .replaceAll(/\s*\n\s*/g, " ");
    ctx.stderr.write(`${prefix}: ${line}\n`);
    if (verbose && error instanceof Error && error.stack !== undefined) {
      ctx.stderr.write(`${error.stack}\n`);
    } else if (!isFednTfjsError(error)) {
      ctx.stderr.write("(an unexpected error: run again with --verbose for the stack trace)\n");
    }
    if (isFednTfjsError(error) && error.code === "USAGE") {
      ctx.stderr.write(`usage: ${usageLine(program, command)}\n`);
      return EXIT_USAGE;
    }
    return EXIT_FAILURE;
  }
}

/** The command `argv` would run, if any (the bins ask whether it is interruptible). */
export function commandOf(program: Program, argv: readonly string[]): AnyCommand | undefined {
  return findCommand(program, argv)?.command;
}

/** The context of a real process. Only bin files call this. */
export function processContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
