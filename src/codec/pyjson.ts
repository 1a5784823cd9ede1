/**
 * JSON as FEDn's Python reads and writes it (`json.dumps` / `json.loads` with their defaults): the
 * one JSON reader and writer for everything that crosses into Python (metadata, metrics,
 * predictions, client settings). Text in, text out: no `fs`.
 */
import { DataError } from "../errors.js";

/**
 * JSON as Python's `json.dumps` writes it by default: `", "` and `": "` separators, non-ASCII
 * escaped, and NaN/Infinity written as the bare `NaN`/`Infinity` Python emits and reads (strict
 * JSON has no spelling for them). BigInts are written as integers.
 */
export function toPythonJson(value: unknown, where = "value"): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (Number.isNaN(value)) return "NaN";
      if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
      return JSON.stringify(value);
    case "bigint":
      return value.toString();
    case "string":
      return JSON.stringify(value).replace(
        /[\u007f-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      );
    case "object": {
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => toPythonJson(v, `${where}[${i}]`)).join(", ")}]`;
      }
      if (ArrayBuffer.isView(value)) {
        return toPythonJson(Array.from(value as unknown as ArrayLike<number | bigint>), where);
      }
      const entries = Object.entries(value as Record<string, unknown>).filter(
        ([, v]) => v !== undefined,
      );
      return `{${entries.map(([k, v]) => `${toPythonJson(k)}: ${toPythonJson(v, `${where}.${k}`)}`).join(", ")}}`;
    }
    default:
      throw new DataError(`${where}: a ${typeof value} cannot be written as JSON`);
  }
}

/**
 * `json.loads(text)` with Python's defaults: strict JSON plus the bare tokens `NaN`, `Infinity`
 * and `-Infinity` (outside strings), which Python's `json.dump` writes for non-finite floats and
 * FEDn's client reads back; they become JS `NaN`/`±Infinity`. Anything else Python rejects is
 * rejected (trailing commas, single quotes, `+1`, `.5`, `-NaN`, raw control characters in
 * strings, a byte-order mark), with Python's message: `Expecting value: line 1 column 8 (char 7)`.
 * Numbers too large for a double become `±Infinity`, as Python's floats do.
 * @throws SyntaxError (one line) when Python's `json.loads` would raise
 */
export function parsePythonJson(text: string): unknown {
  let i = 0;
  const fail = (what: string, at = i): never => {
    const before = text.slice(0, at);
    const line = before.split("\n").length;
    const column = at - before.lastIndexOf("\n");
    throw new SyntaxError(`${what}: line ${line} column ${column} (char ${at})`);
  };
  const skip = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
  const parseString = (): string => {
    const start = i;
    i++;
    for (;;) {
      if (i >= text.length) fail("Unterminated string starting at", start);
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) fail("Invalid control character at");
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)))
            fail("Invalid \\uXXXX escape", i + 1);
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail("Invalid \\escape", i);
        i += 2;
        continue;
      }
      i++;
    }
    i++;
    // The escapes are checked above and mean the same in JSON and in Python (lone surrogates too).
    return JSON.parse(text.slice(start, i)) as string;
  };
  const parseValue = (): unknown => {
    const c = text[i];
    if (c === "{") {
      i++;
      const object: Record<string, unknown> = {};
      skip();
      if (text[i] === "}") {
        i++;
        return object;
      }
      for (;;) {
        if (text[i] !== '"') fail("Expecting property name enclosed in double quotes");
        const key = parseString();
        skip();
        if (text[i] !== ":") fail("Expecting ':' delimiter");
        i++;
        skip();
        // As JSON.parse: "__proto__" is an own key like any other; a repeated key keeps its
        // first place and its last value, as in a Python dict.
        Object.defineProperty(object, key, {
          value: parseValue(),
          writable: true,
          enumerable: true,
          configurable: true,
        });
        skip();
        if (text[i] === "}") {
          i++;
          return object;
        }
        if (text[i] !== ",") fail("Expecting ',' delimiter");
        i++;
        skip();
      }
    }
    if (c === "[") {
      i++;
      const array: unknown[] = [];
      skip();
      if (text[i] === "]") {
        i++;
        return array;
      }
      for (;;) {
        skip();
        array.push(parseValue());
        skip();
        if (text[i] === "]") {
          i++;
          return array;
        }
        if (text[i] !== ",") fail("Expecting ',' delimiter");
        i++;
      }
    }
    if (c === '"') return parseString();
    for (const [word, value] of [
      ["null", null],
      ["true", true],
      ["false", false],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
      ["-Infinity", Number.NEGATIVE_INFINITY],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = i;
    const match = NUMBER.exec(text);
    if (match === null) return fail("Expecting value");
    i += match[0].length;
    // Python reads "-0" as the int 0, and "-0.0" as the float -0.0.
    const number = Number(match[0]);
    return match[1] === undefined && match[2] === undefined && number === 0 ? 0 : number;
  };
  if (text.startsWith("\ufeff")) fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
  skip();
  const value = parseValue();
  skip();
  if (i < text.length) fail("Extra data");
  return value;
}
