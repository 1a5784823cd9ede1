/**
 * `fedn-tfjs run <entry> -p DIR`: runs one entry point of a compute package exactly as a FEDn
 * client would and checks what the client reads afterwards. How a developer tests a package
 * before uploading it.
 */

import { resolve } from "node:path";
import { parseClientSettings } from "../fedn/settings.js";
import { defineCommand } from "../kit/cli.js";
import { runEntryPoint } from "./entry-point.js";

export default defineCommand({
  name: "run",
  interruptible: true,
  describe: "Run an entry point of a compute package as a FEDn client does, and check its output",
  positionals: [
    {
      name: "entry",
      describe: "Entry point in fedn.yaml: train, validate, predict, startup, build, ...",
    },
  ],
  options: {
    path: {
      type: "string",
      alias: "p",
      describe: "Package folder (or a .tgz, unpacked to a temporary folder)",
      default: ".",
    },
    input: {
      type: "string",
      alias: "i",
      describe: "Input model (train, validate, predict); FEDn passes a temporary copy",
    },
    output: {
      type: "string",
      alias: "o",
      describe: "Output file, created empty first",
      defaultDescription: "a new temporary file, as FEDn's mkstemp",
    },
    client_settings: {
      type: "string",
      describe: "JSON object written to <in>-metadata before train (FEDn >= 0.19)",
      defaultDescription: "{}",
    },
    shell: {
      type: "string",
      describe: "bash -c as FEDn >= 0.9, or /bin/sh -c as FEDn 0.8",
      choices: ["bash", "sh"],
      default: "bash",
    },
    startup: {
      type: "boolean",
      describe:
        "With a .tgz, run the package's startup entry point first, as FEDn's client does after unpacking (--no-startup skips it)",
      default: true,
    },
  },
  epilog: [
    "Examples:",
    "  fedn-tfjs run startup -p client",
    "  fedn-tfjs run train -p client -i seed.npz -o model.npz",
    "  fedn-tfjs run validate -p package.tgz -i model.npz    # runs startup first, as FEDn does",
    "  fedn-tfjs run validate -p package.tgz -i model.npz --no-startup",
  ].join("\n"),
  async run(args, ctx) {
    const result = await runEntryPoint({
      entry: args.entry,
      path: resolve(ctx.cwd, args.path),
      input: args.input === undefined ? undefined : resolve(ctx.cwd, args.input),
      output: args.output === undefined ? undefined : resolve(ctx.cwd, args.output),
      clientSettings: parseClientSettings(args.client_settings),
      shell: args.shell === "sh" ? "sh" : "bash",
      env: ctx.env,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      startup: args.startup,
      signal: ctx.signal,
    });
    const [shell, flag, line] = result.argv;
    const seconds = result.seconds.toFixed(2);
    if (result.exitCode !== 0) {
      const how =
        result.exitCode === null
          ? `was killed by ${result.signal}`
          : `exited with status ${result.exitCode}`;
      const what =
        result.entry === args.entry
          ? result.entry
          : `startup (run before ${args.entry}, as FEDn's client does after unpacking; --no-startup skips it)`;
      ctx.stderr.write(
        `fedn-tfjs run: ${what} ${how} after ${seconds} s: ${shell} ${flag} "${line}"\n`,
      );
      return result.exitCode === null ? 1 : result.exitCode;
    }
    if (result.startup !== undefined) {
      const [sShell, sFlag, sLine] = result.startup.argv;
      ctx.stdout.write(
        `startup: exit 0 in ${result.startup.seconds.toFixed(2)} s: ${sShell} ${sFlag} "${sLine}" (run first, as FEDn's client does after unpacking)\n`,
      );
    }
    ctx.stdout.write(
      `${result.entry}: exit 0 in ${seconds} s: ${shell} ${flag} "${line}" in ${result.dir}\n`,
    );
    for (const check of result.checks) ctx.stdout.write(`ok ${check}\n`);
    return 0;
  },
});
