/**
 * Machine-limit probe for scripts/bench.mjs, run in a process of its own so that nothing else
 * sits in its wasm heap: what one core gets from the wasm backend's matMul on a large square
 * product (the ceiling), and what each matMul of one training step of the 784-64-32-10 MLP
 * costs at batch 32 (the floor of the loop), plus the cost of dispatching one tiny kernel, of
 * uploading one batch and of building one batch in JS.
 * Together with the loop time these say where a training epoch's time goes.
 *
 * Usage: node scripts/bench/limit.mjs [--batch 32] [--quick]
 * Prints one JSON object on stdout; exits 1 with {"error"} if the wasm backend cannot start.
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";

const { values } = parseArgs({
  options: { batch: { type: "string", default: "32" }, quick: { type: "boolean", default: false } },
});
const batch = Number(values.batch);
const scale = values.quick ? 0.1 : 1;

/**
 * Seconds per call of `op`: the best of three timed rounds after a warm-up, since on a shared
 * machine other work only ever adds time to a ceiling measurement. Each result is released.
 */
function secondsPerCall(op, reps) {
  reps = Math.max(3, Math.round(reps * scale));
  for (let i = 0; i < Math.min(reps, 20); i++) op().dispose();
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) op().dispose();
    // The wasm backend runs kernels as they are dispatched; reading one result makes sure.
    const last = op();
    last.dataSync();
    last.dispose();
    best = Math.min(best, (performance.now() - start) / 1000 / (reps + 1));
  }
  return best;
}

/** A seeded uniform matrix, so every run multiplies the same numbers. */
function matrix(rows, cols, seed) {
  return tf.randomUniform([rows, cols], -1, 1, "float32", seed);
}

/** Times `a·b` (with optional transposes), returning seconds per call and GFLOP/s. */
function matMulCase(name, [m, k, n], { transposeA = false, transposeB = false, reps }) {
  const a = transposeA ? matrix(k, m, 1) : matrix(m, k, 1);
  const b = transposeB ? matrix(n, k, 2) : matrix(k, n, 2);
  const seconds = secondsPerCall(() => tf.matMul(a, b, transposeA, transposeB), reps);
  a.dispose();
  b.dispose();
  const flop = 2 * m * k * n;
  return { name, m, k, n, transposeA, transposeB, seconds, gflops: flop / seconds / 1e9 };
}

const backendOk = await tf.setBackend("wasm").catch(() => false);
if (!backendOk) {
  process.stdout.write(`${JSON.stringify({ error: "the wasm backend did not initialise" })}\n`);
  process.exit(1);
}
await tf.ready();

const B = batch;
const big = matMulCase("square 1024", [1024, 1024, 1024], { reps: 5 });
// One SGD step of the MLP without transposed matMuls: the forward products, the weight
// gradients (activationᵀ·grad, with the transposed activation built beforehand) and the input
// gradients of layers 2 and 3 (layer 1 needs none).
const step = [
  matMulCase("fwd1 x·W1", [B, 784, 64], { reps: 1000 }),
  matMulCase("fwd2 h1·W2", [B, 64, 32], { reps: 2000 }),
  matMulCase("fwd3 h2·W3", [B, 32, 10], { reps: 2000 }),
  matMulCase("dW3 h2ᵀ·g3", [32, B, 10], { reps: 2000 }),
  matMulCase("dh2 g3·W3ᵀ", [B, 10, 32], { reps: 2000 }),
  matMulCase("dW2 h1ᵀ·g2", [64, B, 32], { reps: 2000 }),
  matMulCase("dh1 g2·W2ᵀ", [B, 32, 64], { reps: 2000 }),
  matMulCase("dW1 xᵀ·g1", [784, B, 64], { reps: 1000 }),
];
// The same weight gradient through matMul's transposeA flag, which the wasm backend runs in a
// scalar loop (measured below): what an autodiff gradient of a dense layer pays.
const dW1Transposed = matMulCase("dW1 matMul(x, g1, transposeA)", [784, B, 64], {
  transposeA: true,
  reps: 100,
});

// XNNPACK packs a matMul's right operand once per tensor: a training loop, whose weights are
// new tensors every step, pays that again each time. Measured on the biggest product, x·W1,
// with a fresh W1 per call, less the upload of that fresh W1.
const packA = matrix(B, 784, 4);
const packValues = new Float32Array(784 * 64).fill(0.01);
const withFreshWeights = secondsPerCall(() => {
  const w = tf.tensor2d(packValues, [784, 64]);
  const out = tf.matMul(packA, w);
  w.dispose();
  return out;
}, 1000);
const uploadWeights = secondsPerCall(() => tf.tensor2d(packValues, [784, 64]), 1000);
const fwd1Same = step[0].seconds;
const repackFwd1 = withFreshWeights - uploadWeights - fwd1Same;
packA.dispose();

// Uploading one batch (x or xᵀ, 32×784 float32) from the JS heap into the wasm heap.
const batchValues = new Float32Array(B * 784).fill(0.5);
const upload = secondsPerCall(() => tf.tensor2d(batchValues, [B, 784]), 2000);

const one = tf.ones([1]);
const tinyKernel = secondsPerCall(() => tf.add(one, one), 10000);
const h = matrix(B, 64, 3);
const relu = secondsPerCall(() => tf.relu(h), 3000);
one.dispose();
h.dispose();

/**
 * JS work of building every batch of an epoch as x and xᵀ from uint8 pixels (the pattern of a
 * loop that keeps the data set as uint8 and never slices tensors): seconds per batch, best of 3.
 */
function batchBuildSeconds(count = 60000, features = 784) {
  const pixels = new Uint8Array(count * features);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  const table = new Float32Array(256).map((_, v) => v / 255);
  const x = new Float32Array(B * features);
  const xT = new Float32Array(B * features);
  const batches = Math.floor(count / B);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let b = 0; b < batches; b++) {
      for (let r = 0; r < B; r++) {
        const from = (b * B + r) * features;
        for (let f = 0; f < features; f++) {
          const v = table[pixels[from + f]];
          x[r * features + f] = v;
          xT[f * B + r] = v;
        }
      }
    }
    best = Math.min(best, (performance.now() - start) / 1000 / batches);
  }
  return best;
}
const batchBuild = values.quick ? undefined : batchBuildSeconds();

const stepMatMulSeconds = step.reduce((sum, c) => sum + c.seconds, 0);
const stepFlop = step.reduce((sum, c) => sum + 2 * c.m * c.k * c.n, 0);

process.stdout.write(
  `${JSON.stringify({
    backend: tf.getBackend(),
    tfjsVersion: tf.version.tfjs,
    batch: B,
    big,
    step,
    dW1Transposed,
    stepMatMulSeconds,
    stepFlop,
    tinyKernelSeconds: tinyKernel,
    uploadBatchSeconds: upload,
    repackFwd1Seconds: repackFwd1,
    batchBuildSeconds: batchBuild,
    relu32x64Seconds: relu,
  })}\n`,
);
