import { describe, expect, it } from "vitest";
import { csvData, parseCsv } from "../src/data/csv.js";
import { DataError, FormatError, UsageError } from "../src/errors.js";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("parseCsv", () => {
  it("reads quoted fields with commas, doubled quotes and newlines; CRLF; skips blank lines", () => {
    const rows = parseCsv('a,b,c\r\n1,"x, ""y""",3\r\n\r\n2,"two\nlines",4\n', "f.csv");
    expect(rows).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 2, fields: ["1", 'x, "y"', "3"] },
      { line: 4, fields: ["2", "two\nlines", "4"] },
    ]);
    expect(parseCsv("a,b\n1,2", "f.csv")).toHaveLength(2);
  });

  it.each([
    ['a,b\n1,"2\n', "f.csv: line 2, column 2: a quoted field is not closed"],
    ['a,b\n1,x"y\n', "f.csv: line 2, column 2: a quote inside unquoted field 2"],
    ['a,b\n1,"y"z\n', "f.csv: line 2, column 2: text after the closing quote of field 2"],
    ["a,b\n1,2\n3\n", "f.csv: line 3, column 2: 1 fields; the header has 2"],
    ["a,b\n1,2,3\n", "f.csv: line 2, column 3: 3 fields; the header has 2"],
  ])("refuses %j naming file, line and column", (text, message) => {
    expect(() => parseCsv(text, "f.csv")).toThrow(FormatError);
    expect(() => parseCsv(text, "f.csv")).toThrow(message);
  });
});

describe("csvData", () => {
  const table = [
    "size,color,kind",
    ...Array.from({ length: 20 }, (_, i) => `${i / 10},${i % 2 ? "red" : "blue"},${i % 3}`),
  ].join("\n");

  it("maps categories and labels to indices and holds out a seeded test split", () => {
    const spec = csvData({
      label: "kind",
      categories: { color: ["blue", "red"] },
      testFraction: 0.25,
    });
    const { train, test, warnings } = spec.load(bytes(table), {
      file: "t.csv",
      splits: ["train", "test"],
    });
    expect(warnings).toEqual([]);
    expect(train?.count).toBe(15);
    expect(test?.count).toBe(5);
    expect(train).toMatchObject({ features: 2, inputShape: [2], classes: 3, scale: 1 });
    // Every row keeps its own label and category index: row i is (i/10, i%2) with label i%3.
    for (const set of [train!, test!]) {
      for (let r = 0; r < set.count; r++) {
        const i = Math.round(set.x[2 * r]! * 10);
        expect(set.x[2 * r + 1]).toBe(i % 2);
        expect(set.y[r]).toBe(i % 3);
      }
    }
    const again = spec.load(bytes(table), { file: "t.csv", splits: ["test"] });
    expect(again.test).toEqual(test);
    expect(again.train).toBeUndefined();
    const other = csvData({ label: "kind", categories: { color: ["blue", "red"] }, seed: 5 });
    expect(other.load(bytes(table), { file: "t.csv", splits: ["test"] }).test?.x).not.toEqual(
      test?.x,
    );
  });

  it("takes class names in the order given, and only the features listed", () => {
    const text = "w,h,label\n1,2,cat\n3,4,dog\n5,6,cat\n7,8,dog\n";
    const spec = csvData({
      label: "label",
      labels: ["dog", "cat"],
      features: ["h"],
      testFraction: 0.5,
    });
    const { train, test } = spec.load(bytes(text), { file: "p.csv", splits: ["train", "test"] });
    const rows = [...train!.x, ...test!.x].map((h, i) => [h, (i < 2 ? train! : test!).y[i % 2]]);
    expect(rows.sort()).toEqual([
      [2, 1],
      [4, 0],
      [6, 1],
      [8, 0],
    ]);
  });

  it.each([
    ["a,kind\nx,1\n2,0\n", { label: "kind" }, 'c.csv: line 2, column 1 ("a"): "x" is not a number'],
    ["a,kind\n1,1\n,0\n", { label: "kind" }, 'c.csv: line 3, column 1 ("a"): "" is not a number'],
    ["a,kind\n1,1\n2,-1\n", { label: "kind" }, 'c.csv: line 3, column 2 ("kind"): label "-1"'],
    ["a,kind\n1,1\n2,x\n", { label: "kind", labels: ["0", "1"] }, 'label "x" is not one of 0, 1'],
    ["a,b\n1,1\n", { label: "kind" }, 'c.csv: no column "kind" (label); the header has a, b'],
    ["a,kind\n", { label: "kind" }, "c.csv: the header is followed by no rows"],
  ])("refuses %j in one line naming file, line and column", (text, options, message) => {
    const load = () => csvData(options).load(bytes(text), { file: "c.csv", splits: ["train"] });
    expect(load).toThrow(DataError);
    expect(load).toThrow(message);
  });

  it("refuses bad options when the spec is made, and non-UTF-8 bytes", () => {
    expect(() => csvData({ label: "" })).toThrow(UsageError);
    expect(() => csvData({ label: "y", testFraction: 1 })).toThrow(
      "csvData: testFraction must be between 0 and 1 (exclusive); found 1",
    );
    expect(() =>
      csvData({ label: "y" }).load(Uint8Array.from([0xff, 0xfe, 0x00]), {
        file: "b.csv",
        splits: ["train"],
      }),
    ).toThrow("b.csv: not UTF-8 text");
  });
});
