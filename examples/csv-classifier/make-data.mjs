#!/usr/bin/env node
/**
 * Writes fruit.csv, the small made-up table the CSV classifier example learns from: weight,
 * length, diameter and colour of 240 apples, bananas and oranges, drawn from fixed normal
 * distributions with a seeded generator (mulberry32), so the file is the same on every run:
 * `node examples/csv-classifier/make-data.mjs > examples/csv-classifier/fruit.csv`.
 */
let state = 20240601;
function uniform() {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const normal = (mean, sd) =>
  mean + sd * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
const pick = (options) => options[Math.floor(uniform() * options.length)];
const fruits = {
  apple: {
    weight: [0.17, 0.03],
    length: [7.5, 0.8],
    diameter: [7.4, 0.8],
    colors: ["red", "green", "yellow"],
  },
  banana: {
    weight: [0.12, 0.02],
    length: [19, 2],
    diameter: [3.5, 0.4],
    colors: ["yellow", "green"],
  },
  orange: { weight: [0.2, 0.03], length: [7.8, 0.7], diameter: [7.9, 0.7], colors: ["orange"] },
};
const lines = ["weight_kg,length_cm,diameter_cm,color,fruit"];
for (let i = 0; i < 240; i++) {
  const name = pick(Object.keys(fruits));
  const f = fruits[name];
  const value = ([mean, sd], digits) => normal(mean, sd).toFixed(digits);
  lines.push(
    [value(f.weight, 3), value(f.length, 1), value(f.diameter, 1), pick(f.colors), name].join(","),
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
