/**
 * The fast dense engine: native/dense.c's fused kernel (forward + backward + SGD update of a
 * whole batch, weights resident in WebAssembly memory) run on every core over one shared
 * memory. This file owns the memory layout, the thread pool and the run-time choices:
 * - relaxed SIMD (fused multiply-add) when `WebAssembly.validate` accepts the relaxed module,
 *   plain SIMD otherwise (Node 20 has relaxed SIMD only behind a flag);
 * - threads: `os.availableParallelism()` unless set. A training step splits the batch's rows
 *   (forward, loss, back-propagation) and then the weight rows (update), with one barrier
 *   between; every weight's update sums the rows in the same order whatever the split, so the
 *   thread count never changes the result.
 * The caller (train.ts) keeps the model's own weights and semantics; this file knows nothing of
 * TF.js.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { DENSE_RELAXED, DENSE_SIMD, MAX_PAGES } from "./kernel-wasm.js";

/**
 * The slice of the WebAssembly JS API used here: the project's `lib` setting (no DOM) leaves the
 * global untyped, and Node has had all of it since v16.
 */
interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The kernel's exports; every pointer is a byte offset into the shared memory. */
interface KernelExports {
  forward_rows(plan: number, r0: number, r1: number, thread: number): void;
  backward_rows(plan: number, r0: number, r1: number): void;
  update_share(plan: number, t: number, threads: number): void;
  evaluate_rows(plan: number, r0: number, r1: number): void;
  expand_bits(bits: number, mask: number, n: number, keep: number): void;
}

// The plan's words (native/dense.c, enum at the top).
const PLAN_LAYERS = 0;
const PLAN_ROWS = 1;
const PLAN_INPUT_MODE = 2;
const PLAN_XU8 = 3;
const PLAN_X = 4;
const PLAN_LABELS = 5;
const PLAN_DIV = 6;
const PLAN_MUL = 7;
const PLAN_GSCALE = 8;
const PLAN_TRAIN = 9;
const PLAN_NLL = 10;
const PLAN_PRED = 11;
const PLAN_LOSS = 12;
const PLAN_SCRATCH = 13;
const PLAN_SCRATCH_STRIDE = 14;
const PLAN_LAYER = 16;
const LAYER_WORDS = 10;
const L_IN = 0;
const L_OUT = 1;
const L_W = 2;
const L_B = 3;
const L_H = 4;
const L_G = 5;
const L_MASK = 6;
const L_ACT = 7;

// The control block shared with the workers (int32 words).
const C_SEQ = 0;
const C_CMD = 1;
const C_ROWS = 2;
const C_THREADS = 3;
const C_BARRIER = 4;
const C_BARRIER_TARGET = 5;
const C_DONE = 6;
const C_READY = 7;
const C_PLAN = 8;
const C_ERROR = 9;
const CTRL_WORDS = 16;
const CMD_TRAIN = 1;
const CMD_EVALUATE = 2;
const CMD_QUIT = 3;

/** Below this the kernel's linker placed its (unused) stack; our buffers start above. */
const BASE = 1 << 17;
const PAGE = 65536;

/**
 * A waiting thread spins this many loads before sleeping in `Atomics.wait`: a step lasts about
 * 100 µs, so sleeping at once would cost more than the work; spinning for ever would steal the
 * core from the other thread on a busy machine.
 */
const SPIN = 20000;

/**
 * The worker's whole program (CommonJS, run with `eval`): instantiate the kernel on the shared
 * memory, then serve jobs. Inline so that the library, the bundle and the tarball need no extra
 * file. `waitFor` is the same as the main thread's below.
 */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, ctrlOffset, index, spin } = workerData;
const k = new WebAssembly.Instance(module, { env: { memory, exp: Math.exp, log: Math.log } }).exports;
const ctrl = new Int32Array(memory.buffer, ctrlOffset, ${CTRL_WORDS});
function waitFor(i, target) {
  for (let s = 0; s < spin; s++) if (Atomics.load(ctrl, i) - target >= 0) return;
  for (;;) {
    const v = Atomics.load(ctrl, i);
    if (v - target >= 0) return;
    Atomics.wait(ctrl, i, v, 100);
  }
}
function arrive(i) {
  Atomics.add(ctrl, i, 1);
  Atomics.notify(ctrl, i);
}
// Read before saying ready: the main thread posts the next job as soon as we are.
let seq = Atomics.load(ctrl, ${C_SEQ});
arrive(${C_READY});
for (;;) {
  seq = (seq + 1) | 0;
  waitFor(${C_SEQ}, seq);
  const cmd = Atomics.load(ctrl, ${C_CMD});
  if (cmd === ${CMD_QUIT}) break;
  const threads = ctrl[${C_THREADS}];
  const rows = ctrl[${C_ROWS}];
  const plan = ctrl[${C_PLAN}];
  let arrived = false;
  try {
    if (index < threads) {
      const r0 = Math.floor((rows * index) / threads);
      const r1 = Math.floor((rows * (index + 1)) / threads);
      k.forward_rows(plan, r0, r1, index);
      if (cmd === ${CMD_TRAIN}) {
        k.backward_rows(plan, r0, r1);
        arrived = true;
        arrive(${C_BARRIER});
        waitFor(${C_BARRIER}, ctrl[${C_BARRIER_TARGET}]);
        k.update_share(plan, index, threads);
      } else {
        k.evaluate_rows(plan, r0, r1);
      }
    }
  } catch (error) {
    // Never leave the main thread waiting: flag the failure and arrive everywhere.
    require("node:fs").writeSync(2, "fedn-tfjs fast engine worker: " + String(error) + String.fromCharCode(10));
    Atomics.store(ctrl, ${C_ERROR}, 1);
    if (cmd === ${CMD_TRAIN} && index < threads && !arrived) arrive(${C_BARRIER});
  }
  arrive(${C_DONE});
}
`;

/** Which instruction set the engine runs: `relaxed-simd` (FMA where the CPU has it) or `simd`. */
export type KernelFlavour = "relaxed-simd" | "simd";

/** The weights of one dense layer in TF.js layout: `kernel` is `(in, out)` row-major. */
export interface FastLayerWeights {
  readonly inputs: number;
  readonly outputs: number;
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
}

/** The network the engine runs: sizes, hidden activations, dropout rates of hidden layers. */
export interface FastNetSpec {
  readonly sizes: readonly number[];
  /** Per hidden layer: `relu` (default) or `linear`. */
  readonly activations?: readonly ("relu" | "linear")[];
  /** Per hidden layer: drop rate in training (0 or absent for none). */
  readonly dropout: readonly number[];
}

/**
 * Fills hidden layer `layer`'s dropout mask for this batch in place (rows × size, 0 or
 * 1/(1−p)) and returns true, or returns false for a layer without dropout. Called in layer order.
 */
export type MaskFiller = (layer: number, target: Float32Array) => boolean;

/** One batch or chunk of input rows: uint8 (converted inside) or float32. */
export interface FastInput {
  readonly pixels: Uint8Array | Float32Array;
  readonly features: number;
  /** uint8 pixels are divided by this (255 for MNIST: rounds exactly like `x / 255`). */
  readonly divisor?: number;
  /** uint8 pixels are multiplied by this instead, when no divisor is given. @default 1 */
  readonly scale?: number;
}

function decode(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

let compiled: { module: object; flavour: KernelFlavour } | undefined;

/** Compiles the kernel once: the relaxed-SIMD build where the runtime validates it. */
function kernelModule(): { module: object; flavour: KernelFlavour } {
  if (compiled === undefined) {
    const relaxed = decode(DENSE_RELAXED);
    compiled = WebAssembly.validate(relaxed)
      ? { module: new WebAssembly.Module(relaxed), flavour: "relaxed-simd" }
      : { module: new WebAssembly.Module(decode(DENSE_SIMD)), flavour: "simd" };
  }
  return compiled;
}

/** The instruction set the engine runs on in this runtime. */
export function fastEngineFlavour(): KernelFlavour {
  return kernelModule().flavour;
}

/** Whether this runtime can run the engine at all (WebAssembly SIMD and shared memory). */
export function fastEngineAvailable(): boolean {
  try {
    return typeof SharedArrayBuffer === "function" && WebAssembly.validate(decode(DENSE_SIMD));
  } catch {
    return false;
  }
}

/** The default thread count: every core the process may use. */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * The shared memory, the main thread's instance and the workers. One per process: the workers
 * are started once, by the first job that asks for more than one thread (about 30 ms each, in
 * the background), and serve every call after.
 */
class Engine {
  readonly memory: WasmMemory;
  readonly kernel: KernelExports;
  readonly flavour: KernelFlavour;
  private readonly module: object;
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];
  private seq = 0;
  private done = 0;
  private barrier = 0;
  /** When the workers started last must all be ready (ms since the epoch). */
  private readyBy = Number.POSITIVE_INFINITY;

  constructor() {
    const { module, flavour } = kernelModule();
    this.module = module;
    this.flavour = flavour;
    this.memory = new WebAssembly.Memory({
      initial: BASE / PAGE + 1,
      maximum: MAX_PAGES,
      shared: true,
    });
    const imports = { env: { memory: this.memory, exp: Math.exp, log: Math.log } };
    this.kernel = new WebAssembly.Instance(module, imports).exports as unknown as KernelExports;
    // The control block sits at the start of our region and never moves.
    this.ctrl = new Int32Array(this.memory.buffer, BASE - CTRL_WORDS * 4, CTRL_WORDS);
  }

  /**
   * Starts workers until `threads - 1` exist, without waiting for them: a worker takes tens of
   * milliseconds to boot, and until all are ready `run` works on this thread alone (see
   * `workersReady`), so the first steps of a loop are not held up by the second core's start.
   * `run` calls it the first time a job asks for more than one thread.
   */
  ensureWorkers(threads: number): void {
    const start = this.workers.length;
    for (let index = start + 1; index < threads; index++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        // The worker runs only the inline kernel loop: no loader hooks or flags of the parent
        // (a test runner's hooks would wait on the parent's event loop, which we block).
        execArgv: [],
        stdout: false,
        stderr: false,
        workerData: {
          module: this.module,
          memory: this.memory,
          ctrlOffset: BASE - CTRL_WORDS * 4,
          index,
          spin: SPIN,
        },
      });
      // Idle workers must not keep the process alive.
      worker.unref();
      this.workers.push(worker);
    }
    if (this.workers.length > start) this.readyBy = Date.now() + 60_000;
  }

  /**
   * Whether every worker has said it is ready. Jobs are posted only then: a worker reads the
   * job counter before it says ready, so it can never answer a job posted before it counted.
   * A worker that has not started within 60 s never will: that is an error, not a slow machine.
   */
  private workersReady(): boolean {
    if (Atomics.load(this.ctrl, C_READY) - this.workers.length >= 0) return true;
    if (Date.now() > this.readyBy) {
      void this.close();
      engine = undefined;
      throw new Error("fast engine: worker threads did not start within 60 s");
    }
    return false;
  }

  /** Waits until `ctrl[i] ≥ target` (wrapping); false when `deadline` (ms) passes first. */
  private waitFor(i: number, target: number, deadline = Number.POSITIVE_INFINITY): boolean {
    const ctrl = this.ctrl;
    for (let s = 0; s < SPIN; s++) if (Atomics.load(ctrl, i) - target >= 0) return true;
    for (;;) {
      const v = Atomics.load(ctrl, i);
      if (v - target >= 0) return true;
      if (Date.now() > deadline) return false;
      Atomics.wait(ctrl, i, v, 100);
    }
  }

  /** Makes sure the memory holds `bytes` from offset 0. */
  reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /**
   * Runs one job over `rows` rows on `threads` threads (this one included) and returns when
   * all are done; returns the threads it used (one while the workers are still starting).
   * Training: forward + backward per row share, barrier, update per weight share.
   */
  run(plan: number, cmd: number, rows: number, threads: number): number {
    let used = Math.max(1, Math.min(threads, rows));
    if (used > 1) {
      this.ensureWorkers(used);
      if (!this.workersReady()) used = 1;
    }
    const k = this.kernel;
    const r1 = Math.floor(rows / used);
    // One thread: run here and leave the workers asleep (they wait for the next job's number).
    if (used === 1) {
      k.forward_rows(plan, 0, rows, 0);
      if (cmd === CMD_TRAIN) {
        k.backward_rows(plan, 0, rows);
        k.update_share(plan, 0, 1);
      } else {
        k.evaluate_rows(plan, 0, rows);
      }
      return 1;
    }
    const ctrl = this.ctrl;
    ctrl[C_CMD] = cmd;
    ctrl[C_ROWS] = rows;
    ctrl[C_THREADS] = used;
    ctrl[C_PLAN] = plan;
    if (cmd === CMD_TRAIN) {
      this.barrier = (this.barrier + used) | 0;
      ctrl[C_BARRIER_TARGET] = this.barrier;
    }
    this.seq = (this.seq + 1) | 0;
    Atomics.store(ctrl, C_SEQ, this.seq);
    Atomics.notify(ctrl, C_SEQ);
    k.forward_rows(plan, 0, r1, 0);
    if (cmd === CMD_TRAIN) {
      k.backward_rows(plan, 0, r1);
      Atomics.add(ctrl, C_BARRIER, 1);
      Atomics.notify(ctrl, C_BARRIER);
      this.waitFor(C_BARRIER, this.barrier);
      k.update_share(plan, 0, used);
    } else {
      k.evaluate_rows(plan, 0, r1);
    }
    this.done = (this.done + this.workers.length) | 0;
    this.waitFor(C_DONE, this.done);
    if (Atomics.exchange(ctrl, C_ERROR, 0) !== 0) {
      throw new Error("fast engine: a worker thread failed (its message is on stderr)");
    }
    return used;
  }

  /** Stops the workers (tests; a process exits without it). */
  async close(): Promise<void> {
    const ctrl = this.ctrl;
    ctrl[C_CMD] = CMD_QUIT;
    this.seq = (this.seq + 1) | 0;
    Atomics.store(ctrl, C_SEQ, this.seq);
    Atomics.notify(ctrl, C_SEQ);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/**
 * Picks the thread count of each training step: all threads, or one. A step at batch 32 is
 * about 100 µs of work, and two threads meet twice in it; on a quiet machine that halves the
 * step, but where other processes hold the cores a thread waiting for its partner waits for the
 * scheduler too and the step gets slower than on one thread. The result does not depend on the
 * thread count (see the module comment), so the engine may simply use whichever is faster now:
 * it keeps a running mean of the step time of both and re-measures the other one now and then.
 */
class ThreadChooser {
  private readonly mean = [0, 0];
  private readonly seen = [0, 0];
  private step = 0;

  constructor(private readonly threads: number) {}

  /** The thread count for the next step. */
  pick(): number {
    if (this.threads === 1) return 1;
    const s = this.step++;
    // Warm-up: alternate 16 steps each, one thread first (a train of a few steps then never
    // starts a worker); then every 256 steps, 16 with the slower choice.
    let option: number;
    if (s < 64) option = ((s >> 4) & 1) ^ 1;
    else if (s % 256 < 16) option = this.mean[0]! <= this.mean[1]! ? 1 : 0;
    else option = this.mean[0]! <= this.mean[1]! ? 0 : 1;
    return option === 0 ? this.threads : 1;
  }

  /** Records how long a step on `threads` took (ms). */
  record(threads: number, ms: number): void {
    if (this.threads === 1) return;
    const i = threads === 1 ? 1 : 0;
    const n = ++this.seen[i]!;
    // A running mean that forgets: recent load matters, old load does not.
    const weight = Math.max(1 / n, 1 / 32);
    this.mean[i] = this.mean[i]! + (ms - this.mean[i]!) * weight;
  }
}

let engine: Engine | undefined;

function getEngine(): Engine {
  engine ??= new Engine();
  return engine;
}

/** Stops the engine's worker threads and forgets its memory (the next call starts afresh). */
export async function closeFastEngine(): Promise<void> {
  const e = engine;
  engine = undefined;
  await e?.close();
}

/** Byte offsets of one layer's buffers. */
interface LayerPlace {
  readonly inputs: number;
  readonly outputs: number;
  readonly w: number;
  readonly b: number;
  readonly h: number;
  readonly g: number;
  readonly mask: number;
}

/**
 * A dense network laid out in the engine's memory for batches of up to `maxRows` rows. Only one
 * `FastNet` is live at a time (the memory is reused from the same base); create, use, and read
 * the weights back before creating the next.
 */
export class FastNet {
  readonly flavour: KernelFlavour;
  readonly threads: number;
  private readonly engine: Engine;
  private readonly plan: number;
  private readonly layers: LayerPlace[] = [];
  private readonly x: number;
  private readonly xu8: number;
  private readonly labels: number;
  private readonly nll: number;
  private readonly pred: number;
  private readonly loss: number;
  private readonly bits: number;
  private readonly scratch: number;
  private readonly chooser: ThreadChooser;
  /**
   * Views made once (a typed array on a SharedArrayBuffer costs about a microsecond to create,
   * and a step made a dozen): the plan, the batch's inputs, labels and losses, each hidden
   * layer's mask and the mask bits, all maxRows long. The memory never detaches, so they stay
   * valid when a later net grows it.
   */
  private readonly views: {
    readonly planI: Int32Array;
    readonly planF: Float32Array;
    readonly xu8: Uint8Array;
    readonly x: Float32Array;
    readonly labels: Int32Array;
    readonly loss: Float64Array;
    readonly masks: Float32Array[];
    readonly bits: Uint32Array;
  };

  constructor(
    readonly spec: FastNetSpec,
    weights: readonly FastLayerWeights[],
    readonly maxRows: number,
    threads: number = defaultThreads(),
  ) {
    const engine = getEngine();
    this.engine = engine;
    this.flavour = engine.flavour;
    this.threads = Math.max(1, Math.floor(threads));
    this.chooser = new ThreadChooser(this.threads);
    const L = spec.sizes.length - 1;
    let top = BASE;
    const take = (bytes: number): number => {
      const at = top;
      top += Math.ceil(bytes / 16) * 16;
      return at;
    };
    this.plan = take((PLAN_LAYER + L * LAYER_WORDS) * 4);
    const inputs = spec.sizes[0]!;
    this.x = take(maxRows * inputs * 4);
    this.xu8 = take(maxRows * inputs);
    this.labels = take(maxRows * 4);
    this.nll = take(maxRows * 8);
    this.pred = take(maxRows * 4);
    this.loss = take(maxRows * 8);
    const widest = Math.max(...spec.sizes.slice(1));
    this.bits = take(Math.ceil((maxRows * widest) / 32) * 4);
    // Each thread's int32 scratch (the kernel's lists of rows and of inputs to skip).
    const scratchStride = Math.ceil((Math.max(maxRows, ...spec.sizes.slice(0, -1)) * 4) / 16) * 16;
    this.scratch = take(this.threads * scratchStride);
    for (let l = 0; l < L; l++) {
      const n = spec.sizes[l]!;
      const m = spec.sizes[l + 1]!;
      this.layers.push({
        inputs: n,
        outputs: m,
        w: take(n * m * 4),
        b: take(m * 4),
        h: take(maxRows * m * 4),
        g: take(maxRows * m * 4),
        mask: take(maxRows * m * 4),
      });
    }
    engine.reserve(top);
    const planWords = this.i32(this.plan, PLAN_LAYER + L * LAYER_WORDS);
    this.views = {
      planI: planWords,
      planF: this.f32(this.plan, PLAN_LAYER + L * LAYER_WORDS),
      xu8: new Uint8Array(engine.memory.buffer, this.xu8, maxRows * inputs),
      x: this.f32(this.x, maxRows * inputs),
      labels: this.i32(this.labels, maxRows),
      loss: this.f64(this.loss, maxRows),
      masks: this.layers.map((p) => this.f32(p.mask, maxRows * p.outputs)),
      bits: new Uint32Array(engine.memory.buffer, this.bits, Math.ceil((maxRows * widest) / 32)),
    };
    planWords.fill(0);
    planWords[PLAN_LAYERS] = L;
    planWords[PLAN_XU8] = this.xu8;
    planWords[PLAN_X] = this.x;
    planWords[PLAN_LABELS] = this.labels;
    planWords[PLAN_NLL] = this.nll;
    planWords[PLAN_PRED] = this.pred;
    planWords[PLAN_LOSS] = this.loss;
    planWords[PLAN_SCRATCH] = this.scratch;
    planWords[PLAN_SCRATCH_STRIDE] = scratchStride;
    this.layers.forEach((p, l) => {
      const at = PLAN_LAYER + l * LAYER_WORDS;
      planWords[at + L_IN] = p.inputs;
      planWords[at + L_OUT] = p.outputs;
      planWords[at + L_W] = p.w;
      planWords[at + L_B] = p.b;
      planWords[at + L_H] = p.h;
      planWords[at + L_G] = p.g;
      planWords[at + L_MASK] = p.mask;
      planWords[at + L_ACT] = l < L - 1 && spec.activations?.[l] === "linear" ? 0 : 1;
    });
    this.setWeights(weights);
  }

  /** The whole plan, int32 words. */
  private planWords(): Int32Array {
    return this.views.planI;
  }

  /** The first `length` entries of a maxRows-long view (the view itself for a full batch). */
  private static head<T extends Float32Array | Int32Array | Uint8Array | Float64Array>(
    view: T,
    length: number,
  ): T {
    return (length === view.length ? view : view.subarray(0, length)) as T;
  }

  private f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.engine.memory.buffer, offset, length);
  }

  private i32(offset: number, length: number): Int32Array {
    return new Int32Array(this.engine.memory.buffer, offset, length);
  }

  private f64(offset: number, length: number): Float64Array {
    return new Float64Array(this.engine.memory.buffer, offset, length);
  }

  /**
   * Writes a rate-0.5 dropout mask into `target` (a view `step` handed to a MaskFiller) from
   * `nextUint32` draws: bit k of draw d decides entry 32·d + k, as `fillDropoutMask` does, but
   * expanded by the kernel instead of a JS loop.
   */
  fillHalfMask(target: Float32Array, nextUint32: () => number): void {
    const words = Math.ceil(target.length / 32);
    const bits = this.views.bits;
    for (let d = 0; d < words; d++) bits[d] = nextUint32();
    this.engine.kernel.expand_bits(this.bits, target.byteOffset, target.length, 2);
  }

  /** Copies weights (TF.js layout) into the engine's memory. */
  setWeights(weights: readonly FastLayerWeights[]): void {
    this.layers.forEach((p, l) => {
      const w = weights[l]!;
      if (w.inputs !== p.inputs || w.outputs !== p.outputs) {
        throw new RangeError(
          `FastNet: layer ${l + 1} weights are ${w.inputs}×${w.outputs}, expected ${p.inputs}×${p.outputs}`,
        );
      }
      this.f32(p.w, p.inputs * p.outputs).set(w.kernel);
      this.f32(p.b, p.outputs).set(w.bias);
    });
  }

  /** The current weights (TF.js layout), copied out of the engine's memory. */
  getWeights(): FastLayerWeights[] {
    return this.layers.map((p) => ({
      inputs: p.inputs,
      outputs: p.outputs,
      kernel: this.f32(p.w, p.inputs * p.outputs).slice(),
      bias: this.f32(p.b, p.outputs).slice(),
    }));
  }

  /**
   * Puts rows of `input` (picked by `order[start..end)` or `start..end`) into the batch buffer,
   * with their labels, and fills the plan's input words.
   */
  private load(
    input: FastInput,
    labels: Int32Array | undefined,
    start: number,
    end: number,
    order?: Int32Array,
  ): number {
    const rows = end - start;
    const n = input.features;
    const plan = this.views.planI;
    const planF = this.views.planF;
    const { pixels } = input;
    const u8 = pixels instanceof Uint8Array;
    const target = u8 ? this.views.xu8 : this.views.x;
    if (order === undefined) {
      target.set(pixels.subarray(start * n, end * n));
    } else {
      for (let r = 0; r < rows; r++) {
        const index = order[start + r]!;
        target.set(pixels.subarray(index * n, (index + 1) * n), r * n);
      }
    }
    if (labels !== undefined) {
      const y = this.views.labels;
      if (order === undefined) y.set(labels.subarray(start, end));
      else for (let r = 0; r < rows; r++) y[r] = labels[order[start + r]!]!;
    }
    plan[PLAN_ROWS] = rows;
    plan[PLAN_LABELS] = labels === undefined ? 0 : this.labels;
    if (!u8) {
      plan[PLAN_INPUT_MODE] = 0;
    } else if (input.divisor !== undefined) {
      plan[PLAN_INPUT_MODE] = 1;
      planF[PLAN_DIV] = input.divisor;
    } else {
      plan[PLAN_INPUT_MODE] = 2;
      planF[PLAN_MUL] = input.scale ?? 1;
    }
    return rows;
  }

  /**
   * One SGD step on rows `start..end` of `input` (or of `order`): mean NLL of log-softmax,
   * gradients scaled by `lr / rows`, `masks[i]` the dropout mask of hidden layer i (rows × size,
   * 0 or 1/(1−p)) or undefined. Returns the batch's mean loss before the update when `wantLoss`.
   */
  step(
    input: FastInput,
    labels: Int32Array,
    start: number,
    end: number,
    masks: readonly (Float32Array | undefined)[] | MaskFiller,
    lr: number,
    wantLoss: boolean,
    order?: Int32Array,
  ): number | undefined {
    const rows = this.load(input, labels, start, end, order);
    const plan = this.views.planI;
    let anyMask = false;
    this.layers.forEach((p, l) => {
      let used = false;
      if (l < this.layers.length - 1) {
        const target = FastNet.head(this.views.masks[l]!, rows * p.outputs);
        if (typeof masks === "function") {
          used = masks(l, target);
        } else {
          const mask = masks[l];
          if (mask !== undefined) target.set(mask.subarray(0, rows * p.outputs));
          used = mask !== undefined;
        }
      }
      plan[PLAN_LAYER + l * LAYER_WORDS + L_MASK] = used ? p.mask : 0;
      anyMask ||= used;
    });
    plan[PLAN_TRAIN] = anyMask ? 1 : 0;
    this.views.planF[PLAN_GSCALE] = lr / rows;
    const threads = this.chooser.pick();
    const t0 = performance.now();
    const used = this.engine.run(this.plan, CMD_TRAIN, rows, threads);
    this.chooser.record(used, performance.now() - t0);
    if (!wantLoss) return undefined;
    const loss = this.views.loss;
    let sum = 0;
    for (let r = 0; r < rows; r++) sum += loss[r]!;
    return sum / rows;
  }

  /**
   * The forward pass (dropout off) over rows `start..end` of `input`: hands `use` the chunk's
   * log-probabilities (rows × classes), predicted classes and, with labels, each row's NLL.
   * The arrays are views into the engine's memory, valid until the next call.
   */
  forwardChunk(
    input: FastInput,
    labels: Int32Array | undefined,
    start: number,
    end: number,
  ): { logp: Float32Array; predicted: Int32Array; nll: Float64Array | undefined } {
    const rows = this.load(input, labels, start, end);
    const plan = this.planWords();
    plan[PLAN_TRAIN] = 0;
    this.engine.run(this.plan, CMD_EVALUATE, rows, this.threads);
    const top = this.layers[this.layers.length - 1]!;
    return {
      logp: this.f32(top.h, rows * top.outputs),
      predicted: this.i32(this.pred, rows),
      nll: labels === undefined ? undefined : this.f64(this.nll, rows),
    };
  }
}
