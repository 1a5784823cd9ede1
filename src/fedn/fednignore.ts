/**
 * `.fednignore`, as `fedn package create` (FEDn ≥ 0.22) reads it: one pattern a line, blank lines
 * and lines starting with `#` skipped, each pattern matched with Python's `fnmatch` against a
 * file's path relative to the package folder and against its base name. A matching folder is
 * not entered. Pure: no file system here.
 */

/** Names of the ignore file, as FEDn and the 1.0 line (`.scaleoutignore`) spell it. */
export const IGNORE_FILE_NAMES = [".fednignore", ".scaleoutignore"] as const;

/**
 * The patterns of an ignore file's text. Like FEDn, a line is a comment only when its very first
 * character is `#`, and surrounding whitespace is stripped.
 */
export function parseFednignore(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => line.trim());
}

/**
 * The regular-expression class for the body of a `[...]` set (between the brackets), with the
 * rules of Python's `fnmatch.translate`: a leading `!` negates; a hyphen right after the opening
 * (or after `!`) or at the end is literal; a range whose ends are out of order is dropped
 * together with the hyphen, as Python drops it; a set left empty never matches, and `[!]` alone
 * matches any character.
 */
function translateSet(body: string): string {
  let stuff: string;
  if (!body.includes("-")) {
    stuff = body.replaceAll("\\", "\\\\");
  } else {
    // Split at the hyphens that make ranges: not the first character of the set (after `!`), and
    // never the character right after another range's hyphen.
    const chunks: string[] = [];
    let start = 0;
    let from = body.startsWith("!") ? 2 : 1;
    for (;;) {
      const hyphen = body.indexOf("-", from);
      if (hyphen < 0) break;
      chunks.push(body.slice(start, hyphen));
      start = hyphen + 1;
      from = hyphen + 3;
    }
    const last = body.slice(start);
    if (last !== "") chunks.push(last);
    else chunks[chunks.length - 1] += "-";
    for (let k = chunks.length - 1; k > 0; k--) {
      const before = chunks[k - 1] as string;
      const after = chunks[k] as string;
      if (before.slice(-1) > after.slice(0, 1)) {
        chunks[k - 1] = before.slice(0, -1) + after.slice(1);
        chunks.splice(k, 1);
      }
    }
    stuff = chunks.map((c) => c.replaceAll("\\", "\\\\").replaceAll("-", "\\-")).join("-");
  }
  if (stuff === "") return "(?!)";
  if (stuff === "!") return ".";
  const negate = stuff.startsWith("!");
  if (negate) stuff = stuff.slice(1);
  // In a JavaScript class `]` and a leading `^` are special wherever Python's are not.
  stuff = stuff.replace(/[\]^&~|[]/g, (m) => `\\${m}`);
  return negate ? `[^${stuff}]` : `[${stuff}]`;
}

/**
 * Python's `fnmatch.translate`: `*` matches anything (slashes included), `?` one character,
 * `[seq]` / `[!seq]` a character in / not in seq; everything else literally; the whole name.
 */
export function fnmatchToRegExp(pattern: string): RegExp {
  let out = "";
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    i++;
    if (c === "*") {
      out += ".*";
    } else if (c === "?") {
      out += ".";
    } else if (c === "[") {
      let j = i;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) {
        out += "\\[";
      } else {
        out += translateSet(pattern.slice(i, j));
        i = j + 1;
      }
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/-]/g, (m) => `\\${m}`);
    }
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/** `fnmatch.fnmatch(name, pattern)` on a POSIX system (case-sensitive). */
export function fnmatch(name: string, pattern: string): boolean {
  return fnmatchToRegExp(pattern).test(name);
}

/**
 * Whether FEDn's `package create` leaves out the file or folder at `relativePath` (POSIX
 * separators, relative to the package folder): a pattern matches the path or its base name.
 */
export function isIgnored(relativePath: string, patterns: readonly string[]): boolean {
  const base = relativePath.slice(relativePath.lastIndexOf("/") + 1);
  return patterns.some((p) => fnmatch(relativePath, p) || fnmatch(base, p));
}
