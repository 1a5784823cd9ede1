/**
 * The fast dense engine: native/dense.c's fused kernel (forward + backward + SGD update of a
 * whole batch, weights resident in WebAssembly memory) run on every core over one shared
 * memory. This file owns the memory layout, the thread pool and the run-time choices:
 * - relaxed SIMD (fused multiply-add) when `WebAssembly.validate` accepts the relaxed module,
 *   plain SIMD otherwise (Node 20 has relaxed SIMD only behind a flag);
 * - threads: `os.availableParallelism()` unless set. A training step runs in three phases
 *   with a barrier between each: the first layer split by outputs (each thread reads and writes
 *   only its own rows of the transposed first-layer weights), the layers above and the loss
 *   split by batch rows, the update split by outputs (first layer) and input rows (the others).
 *   Every output and every weight's update is computed by one thread in one fixed order
 *   whatever the split, so neither the thread count nor the split changes the result. Each
 *   step runs on all threads or one (ThreadChooser), and the first layer's outputs are split
 *   by the threads' measured speed (SplitTuner);
 * - when: `warmFastEngine` compiles the kernel with the optimizing compiler and starts the
 *   workers while the caller reads its data (the kit calls it as soon as a command starts),
 *   and can then run the training loop's JavaScript on tiny nets (fast/loop.ts).
 * The caller (dense-train.ts) keeps the model's own weights and semantics; this file knows
 * nothing of TF.js.
 */
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
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
  compile(bytes: Uint8Array): Promise<object>;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The kernel's exports; every pointer is a byte offset into the shared memory. */
interface KernelExports {
  first_forward(plan: number, t: number, threads: number): void;
  rest_forward(plan: number, r0: number, r1: number, t: number): void;
  backward_rows(plan: number, r0: number, r1: number, t: number): void;
  update_share(plan: number, t: number, threads: number): void;
  evaluate_rows(plan: number, r0: number, r1: number, t: number): void;
  expand_bits(bits: number, mask: number, n: number, keep: number): void;
  transpose(
    src: number,
    rows: number,
    cols: number,
    srcStride: number,
    dst: number,
    dstStride: number,
  ): void;
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
const PLAN_X_STRIDE = 15;
const PLAN_SCRATCH_PART = 16;
const PLAN_BOUNDS = 17;
const PLAN_BOUNDS_THREADS = 18;
const PLAN_LAYER = 20;
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
/** Never written: `exerciseWait` waits on it. */
const C_NEVER = 10;
const CTRL_WORDS = 16;
const CMD_TRAIN = 1;
const CMD_EVALUATE = 2;
const CMD_QUIT = 3;

/** Below this the kernel's linker placed its (unused) stack; our buffers start above. */
const BASE = 1 << 17;
/**
 * Each thread's busy time in the last training job (float64 ms, index = thread), below BASE
 * like the control block: the time it spent in the kernel's first layer (its forward pass and
 * its update), which its share of the first layer's outputs sets (see SplitTuner).
 */
const BUSY_OFFSET = BASE - 4096;
const MAX_THREADS = 256;
/** Bytes above BASE that `warmFastEngine` maps in advance (see `Engine.prefault`). */
const PREFAULT = 2 << 20;
const PAGE = 65536;

/**
 * A waiting thread spins this long (ms) before it sleeps in `Atomics.wait`. A step lasts under
 * 100 µs, and waking a sleeping thread took about 0.5 ms on the 2-core VM this was measured on
 * (the idle virtual CPU is halted): with a shorter spin (20,000 loads, about 40 µs) one late
 * thread put the other to sleep, whose late wake-up put the first to sleep in turn, for runs of
 * ten steps at 0.6 ms each, a fifth of an epoch's time. Spinning for ever would steal the core
 * from other processes on a busy machine (where the thread chooser soon runs one thread).
 */
const SPIN_MS = 2;

/**
 * Calls every export once with an empty plan (address 0, where the memory is zero: no layers,
 * no rows), which does nothing but makes V8 compile the export's JS-to-wasm wrapper before the
 * first step needs it: the first ten steps of a loop had taken 6 ms.
 */
const WARM_CALLS: readonly (readonly [keyof KernelExports, readonly number[]])[] = [
  ["first_forward", [0, 0, 1]],
  ["rest_forward", [0, 0, 0, 0]],
  ["backward_rows", [0, 0, 0, 0]],
  ["update_share", [0, 0, 1]],
  ["evaluate_rows", [0, 0, 0, 0]],
];

function warmCalls(k: KernelExports): void {
  for (const [name, args] of WARM_CALLS) (k[name] as (...a: number[]) => void)(...args);
}

/**
 * The worker's whole program (CommonJS, run with `eval`): instantiate the kernel on the shared
 * memory, then serve jobs. Inline so that the library, the bundle and the tarball need no extra
 * file. `waitFor` is the same as the main thread's below.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { memory, ctrlOffset, busyOffset, index, spinMs } = workerData;
const ctrl = new Int32Array(memory.buffer, ctrlOffset, ${CTRL_WORDS});
const busy = new Float64Array(memory.buffer, busyOffset, ${MAX_THREADS});
function waitFor(i, target) {
  if (Atomics.load(ctrl, i) - target >= 0) return;
  const until = performance.now() + spinMs;
  for (let s = 1; ; s++) {
    if (Atomics.load(ctrl, i) - target >= 0) return;
    if ((s & 255) === 0 && performance.now() > until) break;
  }
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
// The compiled kernel comes in a message once it is compiled (the worker boots meanwhile).
parentPort.once("message", (module) => {
const k = new WebAssembly.Instance(module, { env: { memory } }).exports;
for (const [name, args] of ${JSON.stringify(WARM_CALLS)}) k[name](...args);
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
  // The barriers passed (0, 1 or 2): after a failure, the worker arrives at the others.
  let arrived = 0;
  try {
    if (index < threads) {
      const r0 = Math.floor((rows * index) / threads);
      const r1 = Math.floor((rows * (index + 1)) / threads);
      const target = ctrl[${C_BARRIER_TARGET}];
      const t0 = performance.now();
      k.first_forward(plan, index, threads);
      let spent = performance.now() - t0;
      arrived = 1;
      arrive(${C_BARRIER});
      waitFor(${C_BARRIER}, target);
      k.rest_forward(plan, r0, r1, index);
      if (cmd === ${CMD_TRAIN}) {
        k.backward_rows(plan, r0, r1, index);
        arrived = 2;
        arrive(${C_BARRIER});
        waitFor(${C_BARRIER}, target + threads);
        const t1 = performance.now();
        k.update_share(plan, index, threads);
        spent += performance.now() - t1;
        busy[index] = spent;
      } else {
        k.evaluate_rows(plan, r0, r1, index);
      }
    }
  } catch (error) {
    // Never leave the main thread waiting: flag the failure and arrive everywhere.
    require("node:fs").writeSync(2, "fedn-tfjs fast engine worker: " + String(error) + String.fromCharCode(10));
    Atomics.store(ctrl, ${C_ERROR}, 1);
    if (index < threads) {
      for (let b = arrived; b < (cmd === ${CMD_TRAIN} ? 2 : 1); b++) arrive(${C_BARRIER});
    }
  }
  arrive(${C_DONE});
}
});
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
let warming: Promise<void> | undefined;

/** The kernel's bytes for this runtime: the relaxed-SIMD build where it validates. */
function kernelBytes(): { bytes: Uint8Array; flavour: KernelFlavour } {
  const relaxed = decode(DENSE_RELAXED);
  return WebAssembly.validate(relaxed)
    ? { bytes: relaxed, flavour: "relaxed-simd" }
    : { bytes: decode(DENSE_SIMD), flavour: "simd" };
}

/**
 * Compiles the kernel once. Without `warmFastEngine` first, this is V8's default: a quick
 * baseline (Liftoff) compile now, and each function optimized once it has run a while (about
 * 200 training steps at three times the optimized step's cost).
 */
function kernelModule(): { module: object; flavour: KernelFlavour } {
  if (compiled === undefined) {
    const { bytes, flavour } = kernelBytes();
    compiled = { module: new WebAssembly.Module(bytes), flavour };
  }
  return compiled;
}

/** Whether the user set V8's WebAssembly tiering flags themselves (then we leave them alone). */
function userSetTiering(): boolean {
  const given = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
  return /liftoff|wasm-lazy-compilation|wasm-dynamic-tiering/.test(given);
}

/**
 * Gets the engine ready for `threads` threads in the background: compiles the kernel with V8's
 * optimizing compiler (TurboFan) on its compile threads, then starts the workers. The kit calls
 * it as soon as the command has chosen the fast engine, so that both happen while the data file
 * is read, and awaits it before training; the first step then runs optimized code on every
 * core. V8 has no per-module switch, so its `--no-liftoff` and `--no-wasm-lazy-compilation`
 * flags are set for the length of this one compile and restored after (unless the user set
 * tiering flags, which are left as they are). With `exercise` (the kit passes fast/loop.ts's
 * `warmTrainingLoop`), it then waits for the workers and runs it, so that the training loop's
 * JavaScript is optimized too. Idempotent; never rejects (on any failure the engine falls back
 * to `kernelModule`'s compile, and a loop not warmed only runs slower at first).
 */
export function warmFastEngine(
  threads: number = defaultThreads(),
  exercise?: (threads: number) => void,
): Promise<void> {
  if (warming !== undefined) return warming;
  const start = async (): Promise<void> => {
    // The workers boot (a new Node.js environment each) while the kernel compiles.
    if (threads > 1) getEngine().ensureWorkers(threads);
    if (compiled === undefined) {
      const { bytes, flavour } = kernelBytes();
      const flags = !userSetTiering();
      if (flags) {
        setFlagsFromString("--no-liftoff");
        setFlagsFromString("--no-wasm-lazy-compilation");
      }
      try {
        const module = await WebAssembly.compile(bytes);
        // A synchronous compile may have won the race (a loop that did not wait).
        compiled ??= { module, flavour };
      } finally {
        if (flags) {
          setFlagsFromString("--liftoff");
          setFlagsFromString("--wasm-lazy-compilation");
        }
      }
    }
    // This thread's instance too (and the workers get the module), and the memory a first
    // net of MNIST's size lays out, already mapped.
    const e = getEngine();
    void e.kernel;
    e.prefault(BASE + PREFAULT);
    if (exercise !== undefined) {
      if (threads > 1) await e.workersStarted();
      e.exerciseWait();
      exercise(threads);
    }
  };
  warming = start().catch(() => undefined);
  return warming;
}

/**
 * Starts the workers for `threads` threads, if not yet, and resolves once they are ready: until
 * then jobs run on this thread alone (tests use it to be sure a job runs on several).
 */
export async function fastWorkersReady(threads: number): Promise<void> {
  const e = getEngine();
  e.ensureWorkers(threads);
  // The workers get the compiled kernel once there is one.
  void e.kernel;
  await e.workersStarted();
}

/** The warm-up in progress or done (`warmFastEngine`); resolved when none was started. */
export function fastEngineWarming(): Promise<void> {
  return warming ?? Promise.resolve();
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
  private instance: KernelExports | undefined;
  private readonly ctrl: Int32Array;
  /** Each thread's time in the first layer during the last multi-thread training job (ms). */
  readonly busy: Float64Array;
  private readonly workers: Worker[] = [];
  private seq = 0;
  private done = 0;
  private barrier = 0;
  /** When the workers started last must all be ready (ms since the epoch). */
  private readyBy = Number.POSITIVE_INFINITY;

  /** Workers that have been sent the compiled kernel (the first `supplied` of them). */
  private supplied = 0;

  constructor() {
    this.memory = new WebAssembly.Memory({
      initial: BASE / PAGE + 1,
      maximum: MAX_PAGES,
      shared: true,
    });
    // The control block sits at the start of our region and never moves.
    this.ctrl = new Int32Array(this.memory.buffer, BASE - CTRL_WORDS * 4, CTRL_WORDS);
    this.busy = new Float64Array(this.memory.buffer, BUSY_OFFSET, MAX_THREADS);
  }

  /** This thread's instance of the kernel (compiled here, synchronously, if not yet). */
  get kernel(): KernelExports {
    if (this.instance === undefined) {
      const imports = { env: { memory: this.memory } };
      const { module } = kernelModule();
      const k = new WebAssembly.Instance(module, imports).exports as unknown as KernelExports;
      warmCalls(k);
      this.instance = k;
      this.supply();
    }
    return this.instance;
  }

  get flavour(): KernelFlavour {
    return kernelModule().flavour;
  }

  /** Sends the compiled kernel to the workers that wait for it, once there is one. */
  supply(): void {
    if (compiled === undefined) return;
    for (; this.supplied < this.workers.length; this.supplied++) {
      this.workers[this.supplied]!.postMessage(compiled.module);
    }
  }

  /**
   * Starts workers until `threads - 1` exist, without waiting for them: a worker takes about
   * 100 ms to boot here, and until all are ready `run` works on this thread alone (see
   * `workersReady`), so the first steps of a loop are not held up by the second core's start.
   * `warmFastEngine` calls it before the kernel is compiled (each worker gets the module in a
   * message when it is, see `supply`); otherwise `run`, the first time a job asks for more
   * than one thread.
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
          memory: this.memory,
          ctrlOffset: BASE - CTRL_WORDS * 4,
          busyOffset: BUSY_OFFSET,
          index,
          spinMs: SPIN_MS,
        },
      });
      // Idle workers must not keep the process alive.
      worker.unref();
      this.workers.push(worker);
    }
    if (this.workers.length > start) this.readyBy = Date.now() + 60_000;
    this.supply();
  }

  /** Resolves once every worker has said it is ready (polling: the event loop stays free). */
  async workersStarted(): Promise<void> {
    while (!this.workersReady()) await new Promise((resolve) => setTimeout(resolve, 2));
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
    if (Atomics.load(ctrl, i) - target >= 0) return true;
    const until = performance.now() + SPIN_MS;
    for (let s = 1; ; s++) {
      if (Atomics.load(ctrl, i) - target >= 0) return true;
      if ((s & 255) === 0 && performance.now() > until) break;
    }
    for (;;) {
      const v = Atomics.load(ctrl, i);
      if (v - target >= 0) return true;
      const left = deadline - Date.now();
      if (left < 0) return false;
      Atomics.wait(ctrl, i, v, Math.min(100, left));
    }
  }

  /**
   * Runs `waitFor` to its end once (a wait that times out, about SPIN_MS + 1 ms), so that V8
   * has seen its sleeping branch before it optimizes it: optimized without, the first real
   * sleep threw the code away and compiled it again, mid-loop.
   */
  exerciseWait(): void {
    this.waitFor(C_NEVER, 1, Date.now() + SPIN_MS + 1);
  }

  /** Makes sure the memory holds `bytes` from offset 0. */
  reserve(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /**
   * Grows the memory to `bytes` and touches every 4 KiB page of it: the first write to a fresh
   * page costs a fault, and the first net of MNIST's size (1.3 MB) spent about 3 ms in them.
   * Each touch adds 0 atomically, so it changes nothing a net may already have written there.
   */
  prefault(bytes: number): void {
    this.reserve(bytes);
    const words = new Int32Array(this.memory.buffer, 0, bytes >> 2);
    for (let i = BASE >> 2; i < words.length; i += 1024) Atomics.add(words, i, 0);
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
      k.first_forward(plan, 0, 1);
      k.rest_forward(plan, 0, rows, 0);
      if (cmd === CMD_TRAIN) {
        k.backward_rows(plan, 0, rows, 0);
        k.update_share(plan, 0, 1);
      } else {
        k.evaluate_rows(plan, 0, rows, 0);
      }
      return 1;
    }
    const ctrl = this.ctrl;
    ctrl[C_CMD] = cmd;
    ctrl[C_ROWS] = rows;
    ctrl[C_THREADS] = used;
    ctrl[C_PLAN] = plan;
    // Phase 1 splits the first layer's outputs, phase 2 the rows, phase 3 (training) the weights;
    // every thread arrives at the barrier between each.
    const target = (this.barrier + used) | 0;
    this.barrier = (target + (cmd === CMD_TRAIN ? used : 0)) | 0;
    ctrl[C_BARRIER_TARGET] = target;
    this.seq = (this.seq + 1) | 0;
    Atomics.store(ctrl, C_SEQ, this.seq);
    Atomics.notify(ctrl, C_SEQ);
    const t0 = performance.now();
    k.first_forward(plan, 0, used);
    let spent = performance.now() - t0;
    Atomics.add(ctrl, C_BARRIER, 1);
    Atomics.notify(ctrl, C_BARRIER);
    this.waitFor(C_BARRIER, target);
    k.rest_forward(plan, 0, r1, 0);
    if (cmd === CMD_TRAIN) {
      k.backward_rows(plan, 0, r1, 0);
      Atomics.add(ctrl, C_BARRIER, 1);
      Atomics.notify(ctrl, C_BARRIER);
      this.waitFor(C_BARRIER, this.barrier);
      const t1 = performance.now();
      k.update_share(plan, 0, used);
      spent += performance.now() - t1;
      this.busy[0] = spent;
    } else {
      k.evaluate_rows(plan, 0, r1, 0);
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
 * Picks the thread count of each training step: every thread or one, whichever is faster now.
 * On a quiet machine all threads win (each phase of the step splits between the cores). But
 * the host of the 2-core VM this was measured on runs the two virtual CPUs at full speed at
 * some times and at about half speed each at others (as if they shared one core), and stops
 * one now and then for milliseconds, which stops both threads: the median step on two threads
 * measured 57-67 µs in the one state and 110-130 µs in the other, against one thread's
 * 100-107 µs in both. The result does not depend on the thread count (see the module comment),
 * so the engine measures both, in blocks of BLOCK steps: one thread first (a short loop then
 * never waits for a worker still booting), then all, then the faster of the two, and every
 * EXPLOIT steps the other again for one block. It compares the blocks' median steps, all
 * threads needing to be MARGIN faster: a block's mean swung with where a stall fell (one block
 * of 256 steps on two threads measured 62 µs, the next 154), and two threads stall more often.
 * The first SETTLE steps of a block are not measured: they pay for the switch (a sleeping
 * worker wakes, the first layer's weights move between the cores' caches). Exported for its
 * tests (test/fast.choice.test.ts).
 */
export class ThreadChooser {
  private static readonly BLOCK = 128;
  private static readonly SETTLE = 8;
  private static readonly EXPLOIT = 1024;
  private static readonly MARGIN = 0.1;

  /** The median step (ms) of the last measured block on all threads [0] and on one [1]. */
  private readonly median = [0, 0];
  private readonly times = new Float64Array(ThreadChooser.BLOCK);
  private n = 0;
  private step = 0;
  /** The choice of the current block (0 all threads, 1 one) and the step it ends at. */
  private option = 1;
  private blockEnd = ThreadChooser.BLOCK;
  private settle = ThreadChooser.SETTLE;
  private lastUsed = 1;
  /** Steps run on the faster choice since the other was last measured. */
  private sinceProbe = 0;

  constructor(private readonly threads: number) {}

  /** The thread count for the next step. */
  pick(): number {
    if (this.step === this.blockEnd) this.nextBlock();
    this.step++;
    return this.option === 0 ? this.threads : 1;
  }

  /** Ends a block: keeps its median, and picks the next block's choice. */
  private nextBlock(): void {
    const o = this.option;
    if (this.n > 0) {
      const block = this.times.subarray(0, this.n).sort();
      this.median[o] = block[this.n >> 1]!;
    }
    this.n = 0;
    const [all, one] = this.median as [number, number];
    let next: number;
    if (all === 0) {
      // All threads not measured yet (or their workers were not up): try them.
      next = 0;
    } else {
      const best = all < one * (1 - ThreadChooser.MARGIN) ? 0 : 1;
      if (o !== best) {
        // After a probe, or when the choice has fallen behind the other's last block.
        next = best;
        this.sinceProbe = 0;
      } else if (this.sinceProbe >= ThreadChooser.EXPLOIT) {
        next = best ^ 1;
      } else {
        next = best;
      }
      if (next === best) this.sinceProbe += ThreadChooser.BLOCK;
    }
    this.option = next;
    this.blockEnd = this.step + ThreadChooser.BLOCK;
    if (next !== o) this.settle = ThreadChooser.SETTLE;
  }

  /** Records how long a step on `threads` took (ms). */
  record(threads: number, ms: number): void {
    // The workers came up (or a job fell back to one thread): a switch too.
    if (threads !== this.lastUsed) {
      this.lastUsed = threads;
      this.settle = ThreadChooser.SETTLE;
    }
    if (this.settle > 0) {
      this.settle--;
      return;
    }
    // A step that fell back to one thread (workers not up yet) is not the choice's.
    const i = threads === 1 ? 1 : 0;
    if (i !== this.option || this.n >= ThreadChooser.BLOCK) return;
    this.times[this.n++] = ms;
  }
}

/**
 * Keeps the threads' shares of the first layer's outputs matched to their speeds. The two
 * virtual CPUs of the machine this was measured on are not always equally fast (the host
 * shares one with other work now and then): one thread took 30-40% longer than the other over
 * the same share for stretches of a run, and both then waited for it at every barrier. Every
 * WINDOW steps on all threads this compares the threads' median time in the first layer
 * (its forward pass and update, which the share sets; engine.busy) and moves STEP outputs from
 * the slowest to the fastest where that shortens the slowest's time.
 * Medians, so that one step a thread spent stopped by the host moves nothing. Which thread
 * computes an output never changes its value (native/dense.c), only who waits. Exported for
 * its tests (test/fast.choice.test.ts).
 */
export class SplitTuner {
  private static readonly WINDOW = 16;
  private static readonly STEP = 4;
  private static readonly MARGIN = 0.02;

  /** Each thread's busy times in the current window, thread-major. */
  private readonly times: Float64Array;
  private readonly shares: Int32Array;
  private n = 0;

  /** `bounds` (threads + 1 words in the engine's memory) gets equal shares of `outputs`. */
  constructor(
    private readonly bounds: Int32Array,
    private readonly outputs: number,
    private readonly threads: number,
  ) {
    this.times = new Float64Array(threads * SplitTuner.WINDOW);
    this.shares = new Int32Array(threads);
    for (let t = 0; t < threads; t++) {
      this.shares[t] =
        Math.floor((outputs * (t + 1)) / threads) - Math.floor((outputs * t) / threads);
    }
    this.write();
  }

  /** Records a training job's busy times (one per thread); `used` threads ran it. */
  record(busy: Float64Array, used: number): void {
    const T = this.threads;
    if (used !== T) return;
    const W = SplitTuner.WINDOW;
    for (let t = 0; t < T; t++) this.times[t * W + this.n] = busy[t]!;
    if (++this.n < W) return;
    this.n = 0;
    let slow = 0;
    let fast = 0;
    let slowTime = 0;
    let fastTime = Number.POSITIVE_INFINITY;
    for (let t = 0; t < T; t++) {
      const row = this.times.subarray(t * W, (t + 1) * W).sort();
      const median = row[W >> 1]!;
      if (median > slowTime) {
        slow = t;
        slowTime = median;
      }
      if (median < fastTime) {
        fast = t;
        fastTime = median;
      }
    }
    // Moves only where the fast thread, given STEP more outputs at its present time per output,
    // would still finish before the slow one does now: a split that is as good as it gets
    // then stays put instead of swinging STEP outputs back and forth.
    const step = SplitTuner.STEP;
    const after = fastTime + (step * fastTime) / Math.max(1, this.shares[fast]!);
    if (after < slowTime * (1 - SplitTuner.MARGIN) && this.shares[slow]! > step) {
      this.shares[slow] = this.shares[slow]! - step;
      this.shares[fast] = this.shares[fast]! + step;
      this.write();
    }
  }

  /** Sets the shares (tests: any split must give the same result). */
  set(shares: readonly number[]): void {
    const whole = shares.every((n) => Number.isInteger(n) && n >= 0);
    if (
      !whole ||
      shares.length !== this.threads ||
      shares.reduce((a, b) => a + b, 0) !== this.outputs
    ) {
      throw new RangeError(
        `SplitTuner: ${this.threads} whole shares ≥ 0 summing to ${this.outputs} expected, found [${shares.join(", ")}]`,
      );
    }
    this.shares.set(shares);
    this.write();
  }

  /** The bounds from the shares (read by the next job). */
  private write(): void {
    let at = 0;
    for (let t = 0; t < this.threads; t++) {
      this.bounds[t] = at;
      at += this.shares[t]!;
    }
    this.bounds[this.threads] = this.outputs;
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
  warming = undefined;
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
  private readonly staging: number;
  private readonly chooser: ThreadChooser;
  private readonly tuner: SplitTuner;
  /** The thread count every step runs on, where set (`pinThreads`). */
  private pinned: number | undefined;
  /** The threads the last training step ran on. */
  lastThreads = 0;
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
    spec: FastNetSpec,
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
    // The first layer's input rows as float32, padded to whole vectors, one copy per thread
    // (each converts the batch itself; see native/dense.c).
    const stride = FastNet.round4(inputs);
    const xCopy = Math.ceil((maxRows * stride * 4) / 64) * 64;
    this.x = take(xCopy * this.threads);
    this.xu8 = take(maxRows * inputs);
    this.labels = take(maxRows * 4);
    this.nll = take(maxRows * 8);
    this.pred = take(maxRows * 4);
    this.loss = take(maxRows * 8);
    const widest = Math.max(...spec.sizes.slice(1));
    this.bits = take(Math.ceil((maxRows * widest) / 32) * 4);
    // Each thread's scratch (native/dense.c, scratch_of): two lists of `part` int32s.
    const part = Math.max(maxRows, ...spec.sizes) + 4;
    const scratchStride = Math.ceil((2 * part * 4) / 64) * 64;
    this.scratch = take(this.threads * scratchStride);
    const bounds = take((this.threads + 1) * 4);
    for (let l = 0; l < L; l++) {
      const n = spec.sizes[l]!;
      const m = spec.sizes[l + 1]!;
      this.layers.push({
        inputs: n,
        outputs: m,
        // The first layer's kernel is stored transposed and padded: (out, round4(in)).
        w: take((l === 0 ? FastNet.round4(n) : n) * m * 4),
        b: take(m * 4),
        h: take(maxRows * m * 4),
        g: take(maxRows * m * 4),
        mask: take(maxRows * m * 4),
      });
    }
    // The first layer's weights in TF.js's layout, on their way in or out (see setWeights).
    this.staging = take(spec.sizes[0]! * spec.sizes[1]! * 4);
    engine.reserve(top);
    const planWords = this.i32(this.plan, PLAN_LAYER + L * LAYER_WORDS);
    this.views = {
      planI: planWords,
      planF: this.f32(this.plan, PLAN_LAYER + L * LAYER_WORDS),
      xu8: new Uint8Array(engine.memory.buffer, this.xu8, maxRows * inputs),
      x: this.f32(this.x, maxRows * stride),
      labels: this.i32(this.labels, maxRows),
      loss: this.f64(this.loss, maxRows),
      masks: this.layers.map((p) => this.f32(p.mask, maxRows * p.outputs)),
      bits: new Uint32Array(engine.memory.buffer, this.bits, Math.ceil((maxRows * widest) / 32)),
    };
    planWords.fill(0);
    // The padding of the input rows stays zero (loads and conversions write only the values).
    new Float32Array(engine.memory.buffer, this.x, (xCopy * this.threads) / 4).fill(0);
    planWords[PLAN_LAYERS] = L;
    planWords[PLAN_XU8] = this.xu8;
    planWords[PLAN_X] = this.x;
    planWords[PLAN_LABELS] = this.labels;
    planWords[PLAN_NLL] = this.nll;
    planWords[PLAN_PRED] = this.pred;
    planWords[PLAN_LOSS] = this.loss;
    planWords[PLAN_SCRATCH] = this.scratch;
    planWords[PLAN_SCRATCH_STRIDE] = scratchStride;
    planWords[PLAN_X_STRIDE] = xCopy;
    planWords[PLAN_SCRATCH_PART] = part;
    planWords[PLAN_BOUNDS] = bounds;
    planWords[PLAN_BOUNDS_THREADS] = this.threads;
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
    this.tuner = new SplitTuner(this.i32(bounds, this.threads + 1), spec.sizes[1]!, this.threads);
    this.setWeights(weights);
  }

  /** n rounded up to a multiple of 4. */
  private static round4(n: number): number {
    return (n + 3) & ~3;
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
      if (l === 0) {
        // Through the staging buffer, transposed by the kernel (a JS loop over the 50,000
        // weights of the MNIST model took ~5 ms the first time, before V8 optimized it).
        const stride = FastNet.round4(p.inputs);
        this.f32(p.w, stride * p.outputs).fill(0);
        this.f32(this.staging, p.inputs * p.outputs).set(w.kernel);
        this.engine.kernel.transpose(this.staging, p.inputs, p.outputs, p.outputs, p.w, stride);
      } else {
        this.f32(p.w, p.inputs * p.outputs).set(w.kernel);
      }
      this.f32(p.b, p.outputs).set(w.bias);
    });
  }

  /**
   * Sets how many of the first layer's outputs each thread computes in jobs on all threads
   * (the engine moves them by measuring; for tests, which check that a split never changes a
   * result).
   */
  splitFirstLayer(shares: readonly number[]): void {
    this.tuner.set(shares);
  }

  /**
   * Runs every training step on `threads` threads (at most the net's) instead of choosing by
   * measuring; undefined measures again. For tests: the chooser starts on one thread, so a
   * short run would never step on more.
   */
  pinThreads(threads: number | undefined): void {
    this.pinned = threads === undefined ? undefined : Math.max(1, Math.min(this.threads, threads));
  }

  /** The current weights (TF.js layout), copied out of the engine's memory. */
  getWeights(): FastLayerWeights[] {
    return this.layers.map((p, l) => {
      let kernel: Float32Array;
      if (l === 0) {
        const stride = FastNet.round4(p.inputs);
        this.engine.kernel.transpose(p.w, p.outputs, p.inputs, stride, this.staging, p.outputs);
        kernel = this.f32(this.staging, p.inputs * p.outputs).slice();
      } else {
        kernel = this.f32(p.w, p.inputs * p.outputs).slice();
      }
      return {
        inputs: p.inputs,
        outputs: p.outputs,
        kernel,
        bias: this.f32(p.b, p.outputs).slice(),
      };
    });
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
    // uint8 rows go in packed (the kernel converts them into the padded float rows), float32
    // rows straight into their padded place.
    const stride = u8 ? n : FastNet.round4(n);
    if (order === undefined && stride === n) {
      target.set(pixels.subarray(start * n, end * n));
    } else {
      for (let r = 0; r < rows; r++) {
        const index = order === undefined ? start + r : order[start + r]!;
        target.set(pixels.subarray(index * n, (index + 1) * n), r * stride);
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
    const layers = this.layers;
    for (let l = 0; l < layers.length; l++) {
      const p = layers[l]!;
      let used = false;
      if (l < layers.length - 1) {
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
    }
    plan[PLAN_TRAIN] = anyMask ? 1 : 0;
    this.views.planF[PLAN_GSCALE] = lr / rows;
    if (this.threads === 1) {
      this.engine.run(this.plan, CMD_TRAIN, rows, 1);
      this.lastThreads = 1;
    } else {
      const threads = this.pinned ?? this.chooser.pick();
      const t0 = performance.now();
      const used = this.engine.run(this.plan, CMD_TRAIN, rows, threads);
      this.chooser.record(used, performance.now() - t0);
      if (used > 1) this.tuner.record(this.engine.busy, used);
      this.lastThreads = used;
    }
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
