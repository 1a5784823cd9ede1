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
        let body = pattern.slice(i, j);
        i = j + 1;
        const negate = body.startsWith("!");
        if (negate) body = body.slice(1);
        const escaped = body.replace(/[\\^\]]/g, (m) => `\\${m}`);
        out += negate ? `[^${escaped}]` : `[${escaped}]`;
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
