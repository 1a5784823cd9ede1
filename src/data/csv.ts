/**
 * CSV files as classification data: a header row, numeric feature columns, a label column, and
 * string columns mapped to indices by a list the package states (so every client maps them the
 * same way). The parser is small and strict (RFC 4180: commas, double-quoted fields with `""`
 * escapes, LF or CRLF line ends) because every error must name the file, line and column; the
 * npm parsers found lenient by default and report records, not lines, for quoted newlines.
 */
import { DataError, FormatError, UsageError } from "../errors.js";
import type { DataSpec, Dataset, LoadedData } from "../kit/spec.js";
import { createRandom, permutation } from "../models/random.js";

/** One parsed row: its 1-based line number in the file and its fields. */
export interface CsvRow {
  readonly line: number;
  readonly fields: readonly string[];
}

/**
 * Parses CSV text into rows (the header included). Throws `FormatError` naming file, line and
 * column for an unterminated quote, a quote inside an unquoted field, text after a closing quote,
 * or a row whose field count differs from the first row's. Blank lines are skipped.
 *
 * @example parseCsv('a,b\n1,"x,y"\n', "f.csv") // [{line: 1, fields: ["a","b"]}, {line: 2, fields: ["1","x,y"]}]
 */
export function parseCsv(text: string, file: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  const fail = (message: string, at: number, column: number): never => {
    throw new FormatError(`${file}: line ${at}, column ${column}: ${message}`, { file });
  };
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    let column = 1;
    let rowDone = false;
    while (!rowDone) {
      const c = i < n ? text[i]! : "\n";
      if (quoted) {
        if (i >= n) fail("a quoted field is not closed", start, column);
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          quoted = false;
          i++;
          const next = i < n ? text[i]! : "\n";
          if (next !== "," && next !== "\n" && next !== "\r") {
            fail(`text after the closing quote of field ${column}`, line, column);
          }
          continue;
        }
        if (c === "\n") line++;
        field += c;
        i++;
        continue;
      }
      if (c === '"') {
        if (field !== "") fail(`a quote inside unquoted field ${column}`, line, column);
        quoted = true;
        i++;
      } else if (c === ",") {
        fields.push(field);
        field = "";
        column++;
        i++;
      } else if (c === "\r" && text[i + 1] === "\n") {
        i++;
      } else if (c === "\n") {
        fields.push(field);
        i++;
        rowDone = true;
      } else {
        field += c;
        i++;
      }
    }
    if (!(fields.length === 1 && fields[0] === "")) {
      const width = rows[0]?.fields.length;
      if (width !== undefined && fields.length !== width) {
        fail(
          `${fields.length} fields; the header has ${width}`,
          start,
          Math.min(fields.length, width) + 1,
        );
      }
      rows.push({ line: start, fields });
    }
    line++;
  }
  return rows;
}

export interface CsvDataOptions {
  /** The label column's name. */
  readonly label: string;
  /** The class names in index order, e.g. `["setosa", "versicolor", "virginica"]`; else the label column must hold integers `0..classes-1`. */
  readonly labels?: readonly string[];
  /** Number of classes when labels are integers. @default the largest label + 1 */
  readonly classes?: number;
  /** Feature columns, in the order the model sees them. @default every column but the label */
  readonly features?: readonly string[];
  /** String columns mapped to indices: the value at position k becomes the number k. */
  readonly categories?: Readonly<Record<string, readonly string[]>>;
  /** Share of rows held out as the test split, after a seeded shuffle. @default 0.2 */
  readonly testFraction?: number;
  /** Seed of that shuffle. @default 0 */
  readonly seed?: number;
}

/**
 * Converts parsed CSV rows to features and class indices. Pure: `csvData().load` parses the
 * bytes and splits the result.
 */
export function csvTable(
  rows: readonly CsvRow[],
  options: CsvDataOptions,
  file: string,
): { x: Float32Array; y: Int32Array; features: string[]; classes: number } {
  const header = rows[0];
  if (header === undefined) throw new DataError(`${file}: no header row`, { file });
  const names = header.fields.map((f) => f.trim());
  const column = (name: string, option: string): number => {
    const k = names.indexOf(name);
    if (k < 0) {
      throw new DataError(
        `${file}: no column "${name}" (${option}); the header has ${names.join(", ")}`,
        { file, key: name },
      );
    }
    return k;
  };
  const labelColumn = column(options.label, "label");
  const featureNames = options.features ?? names.filter((_, k) => k !== labelColumn);
  const featureColumns = featureNames.map((name) => column(name, "features"));
  for (const name of Object.keys(options.categories ?? {})) column(name, "categories");
  const body = rows.slice(1);
  if (body.length === 0)
    throw new DataError(`${file}: the header is followed by no rows`, { file });
  const width = featureColumns.length;
  const x = new Float32Array(body.length * width);
  const y = new Int32Array(body.length);
  const where = (row: CsvRow, k: number) =>
    `${file}: line ${row.line}, column ${k + 1} ("${names[k]}")`;
  const classIndex =
    options.labels === undefined ? undefined : new Map(options.labels.map((l, i) => [l, i]));
  let classes = options.classes ?? options.labels?.length ?? 0;
  for (const [r, row] of body.entries()) {
    for (const [j, k] of featureColumns.entries()) {
      const text = row.fields[k]!.trim();
      const category = options.categories?.[names[k]!];
      let value: number;
      if (category !== undefined) {
        value = category.indexOf(text);
        if (value < 0) {
          throw new DataError(
            `${where(row, k)}: "${text}" is not one of the categories ${category.join(", ")}`,
            { file, key: names[k] },
          );
        }
      } else {
        value = text === "" ? Number.NaN : Number(text);
        if (!Number.isFinite(value)) {
          throw new DataError(
            `${where(row, k)}: ${JSON.stringify(text)} is not a number; list the column in categories to map strings to indices`,
            { file, key: names[k] },
          );
        }
      }
      x[r * width + j] = value;
    }
    const text = row.fields[labelColumn]!.trim();
    let label: number;
    if (classIndex !== undefined) {
      label = classIndex.get(text) ?? -1;
      if (label < 0) {
        throw new DataError(
          `${where(row, labelColumn)}: label "${text}" is not one of ${[...options.labels!].join(", ")}`,
          { file, key: options.label },
        );
      }
    } else {
      label = text === "" ? Number.NaN : Number(text);
      if (
        !Number.isInteger(label) ||
        label < 0 ||
        (options.classes !== undefined && label >= options.classes)
      ) {
        const range =
          options.classes === undefined ? "integers >= 0" : `integers in 0..${options.classes - 1}`;
        throw new DataError(
          `${where(row, labelColumn)}: label ${JSON.stringify(text)}; labels must be ${range}, or give the class names in labels`,
          { file, key: options.label },
        );
      }
      if (options.classes === undefined) classes = Math.max(classes, label + 1);
    }
    y[r] = label;
  }
  return { x, y, features: [...featureNames], classes };
}

function subset(
  x: Float32Array,
  y: Int32Array,
  width: number,
  rows: Int32Array,
  classes: number,
): Dataset {
  const sx = new Float32Array(rows.length * width);
  const sy = new Int32Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    sx.set(x.subarray(i * width, (i + 1) * width), r * width);
    sy[r] = y[i]!;
  }
  return {
    x: sx,
    scale: 1,
    features: width,
    inputShape: [width],
    y: sy,
    classes,
    count: rows.length,
  };
}

/**
 * A data spec for a CSV file: header, numeric features, a label column, string categories
 * mapped to indices; a seeded shuffle then holds out `testFraction` of the rows as the test split.
 *
 * @example csvData({ label: "species", labels: ["setosa", "versicolor", "virginica"] })
 */
export function csvData(options: CsvDataOptions): DataSpec {
  if (typeof options.label !== "string" || options.label === "") {
    throw new UsageError("csvData: label must name the label column", { option: "label" });
  }
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new UsageError(
      `csvData: testFraction must be between 0 and 1 (exclusive); found ${testFraction}`,
      {
        option: "testFraction",
      },
    );
  }
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new UsageError(`csvData: seed must be an integer in 0..4294967295; found ${seed}`, {
      option: "seed",
    });
  }
  if (options.labels !== undefined && new Set(options.labels).size !== options.labels.length) {
    throw new UsageError("csvData: labels must not repeat a class name", { option: "labels" });
  }
  if (
    options.classes !== undefined &&
    (!Number.isSafeInteger(options.classes) || options.classes < 2)
  ) {
    throw new UsageError(`csvData: classes must be an integer >= 2; found ${options.classes}`, {
      option: "classes",
    });
  }
  return {
    load(bytes, { file, splits }): LoadedData {
      let text: string;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch (error) {
        throw new FormatError(`${file}: not UTF-8 text`, { file, cause: error });
      }
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      const { x, y, features, classes } = csvTable(parseCsv(text, file), options, file);
      if (classes < 2) {
        throw new DataError(`${file}: every label is 0; a classifier needs at least 2 classes`, {
          file,
          key: options.label,
        });
      }
      const count = y.length;
      const testCount = Math.round(count * testFraction);
      if (testCount === 0 || testCount === count) {
        throw new DataError(
          `${file}: ${count} rows leave ${testCount === 0 ? "no test" : "no train"} rows at testFraction ${testFraction}`,
          { file },
        );
      }
      const order = permutation(count, createRandom(seed));
      const trainRows = order.slice(0, count - testCount).sort();
      const testRows = order.slice(count - testCount).sort();
      const result: { train?: Dataset; test?: Dataset } = {};
      const width = features.length;
      if (splits.includes("train")) result.train = subset(x, y, width, trainRows, classes);
      if (splits.includes("test")) result.test = subset(x, y, width, testRows, classes);
      return { ...result, warnings: [] };
    },
  };
}
