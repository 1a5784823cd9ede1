/**
 * The tree shows the architecture (issue #9): each FEDn concern is spelled in one module, imports
 * run one way (bytes → contract → fs edge → data/models → kit → tools → bins), and the MNIST
 * drop-in is a client of the public index only. Checked on the source text, comments removed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The code of a module without its comments (strings stay: they are code). */
function code(file: string): string {
  return readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

const sources = files(src).map((file) => ({ name: relative(src, file), text: code(file) }));

/** The modules whose code matches `pattern`. */
function where(pattern: RegExp): string[] {
  return sources.filter((s) => pattern.test(s.text)).map((s) => s.name);
}

describe("one place for each FEDn concern", () => {
  it.each([
    ["the -metadata suffix", /-metadata`/, ["fedn/settings.ts"]],
    [
      "reading FEDN_DATA_PATH",
      /env\.FEDN_DATA_PATH\b|env\[["']FEDN_DATA_PATH/,
      ["fedn/data-path.ts"],
    ],
    ["parsing --client-settings", /function parseClientSettings/, ["fedn/settings.ts"]],
    ["the default data path", /data\/clients\/1\/\$\{/, ["fedn/data-path.ts"]],
    ["the client-data layout <dir>/<i>/<file>", /String\(i \+ 1\)/, ["fedn/data-path.ts"]],
    ["Python-style JSON", /function parsePythonJson/, ["codec/pyjson.ts"]],
  ])("%s is in one module", (_what, pattern, expected) => {
    expect(where(pattern)).toEqual(expected);
  });

  it("loads TF.js's packages in one module (by require: Node imports CommonJS at twice the cost)", () => {
    const loads =
      /^import (?!type\b)[^;]*from "@tensorflow|(?<!typeof )import\("@tensorflow|require\("@tensorflow/m;
    expect(where(loads)).toEqual(["node/tfjs.ts"]);
  });

  it("divides by 255 only where MNIST pixels are decoded", () => {
    expect(where(/\/ 255\b/).every((name) => name.startsWith("data/"))).toBe(true);
  });
});

describe("imports run one way", () => {
  // The FEDn client (src/client/) runs entry points through tools/entry-point.ts and is started by
  // tools/client.ts: one layer with the tools.
  const layers = [
    "codec",
    "fedn",
    "node",
    "data|models",
    "kit",
    "tools|client",
    "index",
    "mnist",
    "bin",
  ];
  const rank = (name: string): number => {
    const top = name.split("/")[0]!.replace(/\.ts$/, "");
    if (top === "errors" || top === "version") return 0;
    return layers.findIndex((l) => l.split("|").includes(top));
  };

  it("every module sits in a known layer (a new folder is placed in the list above)", () => {
    expect(sources.map((s) => s.name).filter((name) => rank(name) < 0)).toEqual([]);
  });

  it("no module imports code from a layer above its own (type-only imports of the kit's spec aside)", () => {
    const upward: string[] = [];
    for (const { name, text } of sources) {
      for (const m of text.matchAll(/^(?:import|export)(\s+type)?[^;]*?from\s+"(\.[^"]+)"/gms)) {
        const target = normalize(join(dirname(name), m[2]!));
        if (rank(target) > rank(name) && m[1] === undefined) upward.push(`${name} -> ${target}`);
      }
      for (const m of text.matchAll(/import\("(\.[^"]+)"\)/g)) {
        const target = normalize(join(dirname(name), m[1]!));
        if (rank(target) > rank(name)) upward.push(`${name} -> ${target} (dynamic)`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("the MNIST drop-in imports only the public index, and its entry point is short", () => {
    const mnist = sources.filter((s) => s.name.startsWith("mnist/"));
    for (const { text } of mnist) {
      const specifiers = [...text.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]);
      expect(specifiers.every((s) => s === "../index.js")).toBe(true);
    }
    const lines = readFileSync(join(src, "mnist", "package.ts"), "utf8").split("\n").length;
    expect(lines).toBeLessThanOrEqual(80);
  });
});
