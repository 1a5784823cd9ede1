/*
 * fedn-tfjs's fused dense-stack kernel: forward, backward and SGD update of a stack of dense
 * layers (ReLU or linear hidden layers, optional dropout masks, log-softmax + NLL output) over a
 * whole batch, in WebAssembly SIMD. Built by native/build.mjs into two modules from this one file
 * (plain SIMD, and relaxed SIMD whose multiply-add may fuse); the TypeScript side
 * (src/models/fast/) picks one at run time, owns the memory layout and runs it on several threads
 * over one shared memory.
 *
 * No libc, no globals, no stack: every buffer is an offset handed in through a `plan` of int32s
 * that the TypeScript side writes (see PLAN_* below and engine.ts), so every thread can run the
 * same instance code on the same memory without a per-thread stack.
 *
 * A step runs in three phases, with a barrier between each, so that threads never write the
 * same weights or outputs:
 *   1 (first_forward: outputs j0..j1 of the first layer, per thread): each thread converts the
 *     whole batch into its own copy of X, then computes its outputs for every row;
 *   2 (rest_forward + backward_rows: rows r0..r1 of the batch, per thread): the layers above,
 *     the loss gradient, and the gradient with respect to every layer's pre-activation (through
 *     the OLD weights);
 *   3 (update_share, per thread): the first layer's outputs j0..j1 (its rows of W0T, from its
 *     own copy of X) and weight rows i0..i1 of the other layers, W[i][:] -= sum_r h[r][i] *
 *     g[r][:] over the batch's rows, and the biases. The gradients are already scaled by
 *     lr / rows.
 * Threads are numbered from 0 (the main thread); one thread runs the three phases in a row.
 */
#include <wasm_simd128.h>

typedef float f32;
typedef double f64;
typedef int i32;
typedef unsigned char u8;

#ifdef RELAXED
#define MADD(a, b, c) __builtin_wasm_relaxed_madd_f32x4((a), (b), (c))
#else
#define MADD(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

/* e^x and ln x in double precision, in the module: calls out to JavaScript's Math.exp and
 * Math.log took more time than layers 2 and 3 together. e^x: range reduction x = k ln2 + r,
 * |r| <= ln2/2 (ln2 split in two so k ln2 is exact), then Taylor to r^13 (truncation below
 * 1e-17) and 2^k from the exponent bits; within a few ulp of Math.exp. Below -708 the result
 * would be subnormal: 0. */
static inline f64 exp_f64(f64 x) {
  if (!(x > -708.0)) return x != x ? x : 0.0;
  if (x > 709.0) return __builtin_inf();
  const f64 ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  f64 k = __builtin_rint(x * 1.44269504088896338700e+00);
  f64 r = (x - k * ln2_hi) - k * ln2_lo;
  f64 p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  union { unsigned long long u; f64 d; } scale = {(unsigned long long)((long long)k + 1023) << 52};
  return p * scale.d;
}

/* e^x for four floats, as Cephes's expf: x = n ln2 + r, a degree-7 polynomial in r, 2^n from
 * the exponent bits; within 2 ulp. Clamped to the normal range (training's softmax takes
 * x <= 0; below -87.3 it returns 1.2e-38, not 0). */
static inline v128_t exp_f32x4(v128_t x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.3365478515625f)), wasm_f32x4_splat(88.3762626647949f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(p, wasm_f32x4_mul(r, r)), r), wasm_f32x4_splat(1.0f));
  v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, scale);
}

/* ln x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m - 1) / (m + 1)) by its
 * series to u^19 (|u| <= 0.172: truncation below 1e-17), e ln2 split in two. Within a few ulp
 * of Math.log; 0, negatives, infinities and NaN as Math.log. */
static inline f64 log_f64(f64 x) {
  if (!(x > 0 && x <= 1.7976931348623157e308))
    return x == 0 ? -__builtin_inf() : x > 0 ? x : (x - x) / (x - x);
  f64 e = 0;
  if (x < 2.2250738585072014e-308) {
    x *= 18014398509481984.0; /* 2^54: a subnormal made normal */
    e = -54;
  }
  union { unsigned long long u; f64 d; } b = {0};
  b.d = x;
  e += (f64)((long long)((b.u >> 52) & 0x7ff) - 1023);
  b.u = (b.u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
  f64 m = b.d;
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  f64 u = (m - 1) / (m + 1), u2 = u * u;
  f64 q = 1.0 / 19;
  q = q * u2 + 1.0 / 17;
  q = q * u2 + 1.0 / 15;
  q = q * u2 + 1.0 / 13;
  q = q * u2 + 1.0 / 11;
  q = q * u2 + 1.0 / 9;
  q = q * u2 + 1.0 / 7;
  q = q * u2 + 1.0 / 5;
  q = q * u2 + 1.0 / 3;
  q = q * u2 + 1;
  const f64 ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  return e * ln2_hi + (e * ln2_lo + 2 * u * q);
}

/* The plan (int32 words). Per layer l (0-based, L layers), at PLAN_LAYER + l * LAYER_WORDS. */
enum {
  PLAN_LAYERS = 0,     /* L */
  PLAN_ROWS = 1,       /* rows in this batch */
  PLAN_INPUT_MODE = 2, /* 0: float32 input at X; 1: uint8 at XU8, divided by DIV; 2: times MUL */
  PLAN_XU8 = 3,        /* uint8 input, rows x sizes[0] */
  PLAN_X = 4,          /* float32 input, rows x round4(sizes[0]), zero padded */
  PLAN_LABELS = 5,     /* int32 labels, rows */
  PLAN_DIV = 6,        /* f32 bits */
  PLAN_MUL = 7,        /* f32 bits */
  PLAN_GSCALE = 8,     /* f32 bits: lr / rows */
  PLAN_TRAIN = 9,      /* 1: apply dropout masks */
  PLAN_NLL = 10,       /* f64 per row: its NLL (evaluation) */
  PLAN_PRED = 11,      /* int32 per row: argmax (evaluation) */
  PLAN_LOSS = 12,      /* f64 per row: NLL in training (for the logged loss) */
  PLAN_SCRATCH = 13,   /* int32 scratch of each thread t, at PLAN_SCRATCH + t * PLAN_SCRATCH_STRIDE */
  PLAN_SCRATCH_STRIDE = 14, /* bytes from thread t's scratch to thread t + 1's (scratch_of) */
  PLAN_X_STRIDE = 15,  /* bytes from thread t's copy of X to thread t + 1's */
  PLAN_SCRATCH_PART = 16, /* ints in each of the two lists at the start of a thread's scratch */
  PLAN_BOUNDS = 17,    /* threads' first-layer outputs: bounds[t]..bounds[t+1] (0: equal shares) */
  PLAN_BOUNDS_THREADS = 18, /* the thread count the bounds are for (other counts: equal shares) */
  PLAN_LAYER = 20,
  LAYER_WORDS = 10,
  /* per layer */
  L_IN = 0,
  L_OUT = 1,
  L_W = 2,    /* (in, out) row-major; the first layer (out, round4(in)), see first_forward_row */
  L_B = 3,    /* (out,) */
  L_H = 4,    /* output activations (rows x out); the last layer's hold logits, then log-probs */
  L_G = 5,    /* gradient wrt the pre-activation (rows x out), scaled by lr / rows */
  L_MASK = 6, /* dropout mask (rows x out) or 0 */
  L_ACT = 7,  /* 0 linear, 1 relu (hidden layers) */
};

static inline i32 P(const i32 *plan, i32 word) { return plan[word]; }
static inline f32 PF(const i32 *plan, i32 word) { return ((const f32 *)plan)[word]; }
static inline const i32 *LAYER(const i32 *plan, i32 l) { return plan + PLAN_LAYER + l * LAYER_WORDS; }
#define PTR(type, offset) ((type *)(__SIZE_TYPE__)(offset))

/* n rounded up to a multiple of 4: the first layer's input rows and weight rows are padded to
 * whole vectors with zeros. */
static inline i32 round4(i32 n) { return (n + 3) & ~3; }

/* Four uint8 values (the low four lanes of u16x8 `h`, or the high four) as float32, divided by
 * d (mode 1: rounds exactly like TF.js's `x / 255`) or multiplied by it (mode 2). */
static inline v128_t u8_to_f32(v128_t u32, i32 mode, v128_t d) {
  v128_t f = wasm_f32x4_convert_u32x4(u32);
  return mode == 1 ? wasm_f32x4_div(f, d) : wasm_f32x4_mul(f, d);
}

/* Appends the offsets k..k+12 of the 4-value blocks whose bit is set in `bits` (4 bits). */
static inline i32 append_blocks(i32 *list, i32 n, i32 k, i32 bits) {
  list[n] = k;
  n += bits & 1;
  list[n] = k + 4;
  n += (bits >> 1) & 1;
  list[n] = k + 8;
  n += (bits >> 2) & 1;
  list[n] = k + 12;
  return n + ((bits >> 3) & 1);
}

/* Row r of the batch as float32 at x (n values, then zeros up to round4(n)); lists the float
 * offsets of its non-zero 4-value blocks, in order, and returns their count. Runs of 16 zero
 * pixels, common in image backgrounds, are stored as zeros without a division. Float input
 * (mode 0) was written there by the TypeScript side and is only listed. */
static i32 convert_row(const i32 *plan, i32 r, i32 n, f32 *x, i32 *list) {
  i32 mode = P(plan, PLAN_INPUT_MODE), n4 = round4(n), count = 0, k = 0;
  if (mode == 0) {
    for (; k < n4; k += 4) {
      list[count] = k;
      count += wasm_v128_any_true(wasm_v128_load(x + k));
    }
    return count;
  }
  const u8 *src = PTR(const u8, P(plan, PLAN_XU8)) + r * n;
  f32 d = mode == 1 ? PF(plan, PLAN_DIV) : PF(plan, PLAN_MUL);
  v128_t vd = wasm_f32x4_splat(d), zero = wasm_f32x4_splat(0);
  for (; k + 16 <= n; k += 16) {
    v128_t b = wasm_v128_load(src + k);
    if (!wasm_v128_any_true(b)) {
      wasm_v128_store(x + k, zero);
      wasm_v128_store(x + k + 4, zero);
      wasm_v128_store(x + k + 8, zero);
      wasm_v128_store(x + k + 12, zero);
      continue;
    }
    count = append_blocks(list, count, k, wasm_i32x4_bitmask(wasm_i32x4_ne(b, wasm_i32x4_splat(0))));
    v128_t lo = wasm_u16x8_extend_low_u8x16(b), hi = wasm_u16x8_extend_high_u8x16(b);
    wasm_v128_store(x + k, u8_to_f32(wasm_u32x4_extend_low_u16x8(lo), mode, vd));
    wasm_v128_store(x + k + 4, u8_to_f32(wasm_u32x4_extend_high_u16x8(lo), mode, vd));
    wasm_v128_store(x + k + 8, u8_to_f32(wasm_u32x4_extend_low_u16x8(hi), mode, vd));
    wasm_v128_store(x + k + 12, u8_to_f32(wasm_u32x4_extend_high_u16x8(hi), mode, vd));
  }
  i32 tail = k;
  for (; k < n; k++) x[k] = mode == 1 ? (f32)src[k] / d : (f32)src[k] * d;
  for (; k < n4; k++) x[k] = 0;
  for (k = tail; k < n4; k += 4) {
    list[count] = k;
    count += wasm_v128_any_true(wasm_v128_load(x + k));
  }
  return count;
}

/* The epilogue of a dense layer on one value: bias, activation, dropout mask. */
static inline f32 finish1(f32 v, f32 bias, i32 relu, const f32 *mask, i32 at) {
  v += bias;
  if (relu && !(v > 0)) v = 0;
  if (mask) v *= mask[at];
  return v;
}

static inline v128_t finish4(v128_t v, v128_t bias, i32 relu, const f32 *mask, i32 at) {
  v = wasm_f32x4_add(v, bias);
  if (relu) v = wasm_f32x4_max(v, wasm_f32x4_splat(0));
  if (mask) v = wasm_f32x4_mul(v, wasm_v128_load(mask + at));
  return v;
}

/* out[r][j..j+16) (to j+W*4) of rows ra and rb (rb may equal ra: one row) over the listed k
 * (no list: all n of them, in order). Each output's sum runs over k in increasing order, so
 * skipping the k where both rows' inputs are zero leaves it unchanged. */
#define FWD_TILE(NAME, V)                                                                        \
  static inline __attribute__((always_inline)) void NAME(                                        \
      const f32 *a0, const f32 *a1, const f32 *w, i32 n_out, const i32 *list, i32 n, v128_t *c) { \
    _Pragma("clang loop unroll(full)") for (i32 v = 0; v < 2 * V; v++) c[v] = wasm_f32x4_splat(0); \
    for (i32 q = 0; q < n; q++) {                                                                \
      i32 k = list ? list[q] : q;                                                                \
      const f32 *wk = w + k * n_out;                                                             \
      v128_t x0 = wasm_f32x4_splat(a0[k]), x1 = wasm_f32x4_splat(a1[k]);                        \
      _Pragma("clang loop unroll(full)") for (i32 v = 0; v < V; v++) {                           \
        v128_t wv = wasm_v128_load(wk + 4 * v);                                                  \
        c[v] = MADD(x0, wv, c[v]);                                                               \
        c[V + v] = MADD(x1, wv, c[V + v]);                                                       \
      }                                                                                          \
    }                                                                                            \
  }
FWD_TILE(fwd_tile16, 4)
FWD_TILE(fwd_tile4, 1)

/* Rows r and rb (rb may equal r) of dense_forward over the listed k (no list: all n). Inlined
 * at two call sites, so the listless one compiles to a plain loop over k (the list's indexing
 * costs ~14% where nothing is skipped). */
static inline __attribute__((always_inline)) void forward_pair(
    const f32 *a0, const f32 *a1, const f32 *w, const f32 *b, f32 *out, i32 n_out, i32 relu,
    const f32 *mask, i32 r, i32 rb, const i32 *use, i32 n) {
  v128_t c[8];
  i32 j = 0;
  for (; j + 16 <= n_out; j += 16) {
    fwd_tile16(a0, a1, w + j, n_out, use, n, c);
#pragma clang loop unroll(full)
    for (i32 v = 0; v < 4; v++) {
      v128_t bias = wasm_v128_load(b + j + 4 * v);
      i32 at0 = r * n_out + j + 4 * v, at1 = rb * n_out + j + 4 * v;
      wasm_v128_store(out + at1, finish4(c[4 + v], bias, relu, mask, at1));
      wasm_v128_store(out + at0, finish4(c[v], bias, relu, mask, at0));
    }
  }
  for (; j + 4 <= n_out; j += 4) {
    fwd_tile4(a0, a1, w + j, n_out, use, n, c);
    v128_t bias = wasm_v128_load(b + j);
    i32 at0 = r * n_out + j, at1 = rb * n_out + j;
    wasm_v128_store(out + at1, finish4(c[1], bias, relu, mask, at1));
    wasm_v128_store(out + at0, finish4(c[0], bias, relu, mask, at0));
  }
  for (; j < n_out; j++) {
    f32 s0 = 0, s1 = 0;
    for (i32 q = 0; q < n; q++) {
      i32 kk = use ? use[q] : q;
      f32 wv = w[kk * n_out + j];
      s0 += a0[kk] * wv;
      s1 += a1[kk] * wv;
    }
    i32 at0 = r * n_out + j, at1 = rb * n_out + j;
    out[at1] = finish1(s1, b[j], relu, mask, at1);
    out[at0] = finish1(s0, b[j], relu, mask, at0);
  }
}

/* out[r][j] = act(sum_k in[r][k] * w[k][j] + b[j]) * mask[r][j] for rows r0..r1, two rows at a
 * time: blocks of 2 rows x 16 columns keep 8 accumulators in registers (4 weight loads and 2
 * broadcasts per 8 multiply-adds; V8 gives wasm 15 vector registers), tails go 4 columns / 1
 * column, and an odd last row runs the same code with both rows the same. The k where both
 * rows' inputs are zero add nothing and are skipped: `list` (scratch for n_in ints) lists the
 * others, and a pair without such a k takes the plain loop. The images this library trains on
 * have zero backgrounds (a third of Fashion-MNIST's pixel pairs), and ReLU and dropout zero
 * much of the hidden layers' inputs. */
/* Lanes where a0[0..3] or a1[0..3] is not zero (a float OR'ed with another is +-0 only when both are). */
static inline v128_t nonzero2(const f32 *a0, const f32 *a1) {
  return wasm_f32x4_ne(wasm_v128_or(wasm_v128_load(a0), wasm_v128_load(a1)), wasm_f32x4_splat(0));
}

static void dense_forward(const f32 *in, i32 n_in, const f32 *w, const f32 *b, f32 *out,
                          i32 n_out, i32 relu, const f32 *mask, i32 r0, i32 r1, i32 *list) {
  for (i32 r = r0; r < r1; r += 2) {
    i32 rb = r + 1 < r1 ? r + 1 : r;
    const f32 *a0 = in + r * n_in, *a1 = in + rb * n_in;
    /* Count first (cheap), list only where there is something to skip. */
    i32 n = 0, k = 0;
    for (; k + 4 <= n_in; k += 4)
      n += __builtin_popcount(wasm_i32x4_bitmask(nonzero2(a0 + k, a1 + k)));
    for (; k < n_in; k++) n += (a0[k] != 0) | (a1[k] != 0);
    const i32 *use = 0;
    if (n < n_in) {
      n = 0;
      for (k = 0; k + 4 <= n_in; k += 4) {
        i32 bits = wasm_i32x4_bitmask(nonzero2(a0 + k, a1 + k));
        list[n] = k; n += bits & 1;
        list[n] = k + 1; n += (bits >> 1) & 1;
        list[n] = k + 2; n += (bits >> 2) & 1;
        list[n] = k + 3; n += (bits >> 3) & 1;
      }
      for (; k < n_in; k++) {
        list[n] = k;
        n += (a0[k] != 0) | (a1[k] != 0);
      }
      use = list;
    }
    if (use) forward_pair(a0, a1, w, b, out, n_out, relu, mask, r, rb, use, n);
    else forward_pair(a0, a1, w, b, out, n_out, relu, mask, r, rb, 0, n_in);
  }
}

/* The lane sums of four accumulators as one vector (lane k: the sum of a_k's lanes). */
static inline v128_t reduce4x4(v128_t a0, v128_t a1, v128_t a2, v128_t a3) {
  v128_t s01 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  v128_t s23 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(s01, s23, 0, 1, 4, 5), wasm_i32x4_shuffle(s01, s23, 2, 3, 6, 7));
}

/* The first layer is stored transposed, W0T (out, round4(in)): output j's weights are one
 * contiguous row, so that
 * - the forward pass computes only the outputs dropout keeps, each as a dot product over the
 *   input's non-zero blocks (half of Fashion-MNIST's pixels are zero, and dropout at 0.5 drops
 *   half the outputs: about a quarter of the dense work);
 * - the update of output j's row sums only the batch rows whose gradient at j is not zero
 *   (ReLU and dropout leave about one in five), and threads split the outputs, so each writes
 *   its own rows of W0T.
 * Each output's sum runs over the blocks in order in four lanes and is reduced the same way
 * wherever it sits in a group, so the result does not depend on which outputs are kept around
 * it or on the thread count. */

/* The dot products of x with the weight rows cols[c..c+4) over the listed blocks, reduced. */
#define FIRST_DOT(N)                                                                             \
  static inline __attribute__((always_inline)) void first_dot##N(                                \
      const f32 *x, const i32 *blk, i32 nblk, const f32 *wt, i32 n4, const i32 *cols, v128_t *s) { \
    const f32 *w[N];                                                                             \
    v128_t a[N];                                                                                 \
    _Pragma("clang loop unroll(full)") for (i32 k = 0; k < N; k++) {                             \
      w[k] = wt + cols[k] * n4;                                                                  \
      a[k] = wasm_f32x4_splat(0);                                                                \
    }                                                                                            \
    for (i32 q = 0; q < nblk; q++) {                                                             \
      i32 o = blk[q];                                                                            \
      v128_t xv = wasm_v128_load(x + o);                                                         \
      _Pragma("clang loop unroll(full)") for (i32 k = 0; k < N; k++)                             \
        a[k] = MADD(xv, wasm_v128_load(w[k] + o), a[k]);                                         \
    }                                                                                            \
    _Pragma("clang loop unroll(full)") for (i32 k = 0; k < N; k += 4)                            \
      s[k / 4] = reduce4x4(a[k], a[k + 1 < N ? k + 1 : N - 1], a[k + 2 < N ? k + 2 : N - 1],      \
                           a[k + 3 < N ? k + 3 : N - 1]);                                        \
  }
FIRST_DOT(6)
FIRST_DOT(4)
FIRST_DOT(2)

/* Writes output cols[c] of one row: bias, activation, mask. */
static inline void first_put(f32 *out, const f32 *b, i32 relu, const f32 *mask, i32 j, f32 v) {
  out[j] = finish1(v, b[j], relu, mask, j);
}

/* Row x (its non-zero blocks listed) through the first layer into out (n_out values): only the
 * outputs the row's mask keeps are computed, the others are 0. `cols` is scratch for
 * n_out + 3 ints. */
static void first_forward_row(const f32 *x, const i32 *blk, i32 nblk, const f32 *wt, i32 n4,
                              const f32 *b, f32 *out, i32 n_out, i32 relu, const f32 *mask,
                              i32 *cols) {
  i32 nc = 0;
  if (mask) {
    for (i32 j = 0; j < n_out; j++) {
      cols[nc] = j;
      nc += mask[j] != 0;
      out[j] = 0;
    }
  } else {
    for (i32 j = 0; j < n_out; j++) cols[j] = j;
    nc = n_out;
  }
  if (nc == 0) return;
  /* Groups of 6 (6 accumulators, the input and 6 loaded weights fit V8's 15 vector registers),
   * then of 4 and 2: a last group short of outputs repeats the last kept one, whose value is
   * written again unchanged. */
  cols[nc] = cols[nc + 1] = cols[nc + 2] = cols[nc - 1];
  i32 c = 0;
  v128_t s[2];
#define PUT4(S, C)                                                   \
  do {                                                               \
    first_put(out, b, relu, mask, (C)[0], wasm_f32x4_extract_lane(S, 0)); \
    first_put(out, b, relu, mask, (C)[1], wasm_f32x4_extract_lane(S, 1)); \
    first_put(out, b, relu, mask, (C)[2], wasm_f32x4_extract_lane(S, 2)); \
    first_put(out, b, relu, mask, (C)[3], wasm_f32x4_extract_lane(S, 3)); \
  } while (0)
  for (; c + 6 <= nc; c += 6) {
    first_dot6(x, blk, nblk, wt, n4, cols + c, s);
    PUT4(s[0], cols + c);
    first_put(out, b, relu, mask, cols[c + 4], wasm_f32x4_extract_lane(s[1], 0));
    first_put(out, b, relu, mask, cols[c + 5], wasm_f32x4_extract_lane(s[1], 1));
  }
  /* The last 1 to 5: a group of 4 where 3 or more are left, then one of 2. */
  for (; nc - c > 2; c += 4) {
    first_dot4(x, blk, nblk, wt, n4, cols + c, s);
    PUT4(s[0], cols + c);
  }
  if (c < nc) {
    first_dot2(x, blk, nblk, wt, n4, cols + c, s);
    first_put(out, b, relu, mask, cols[c], wasm_f32x4_extract_lane(s[0], 0));
    first_put(out, b, relu, mask, cols[c + 1], wasm_f32x4_extract_lane(s[0], 1));
  }
#undef PUT4
}

/* Where thread t's share of the first layer's outputs starts (t = T: n_out): the TypeScript
 * side's bounds when it set them (it moves outputs from a slower thread to a faster one, see
 * engine.ts, SplitTuner), else equal shares. The forward pass and the update use the same
 * bounds, so each thread keeps its rows of W0T in its core's cache. */
static inline i32 first_bound(const i32 *plan, i32 t, i32 T, i32 n_out) {
  i32 at = P(plan, PLAN_BOUNDS);
  return at && P(plan, PLAN_BOUNDS_THREADS) == T ? PTR(const i32, at)[t] : n_out * t / T;
}

/* Thread t's copy of the batch's input rows as float32 (each thread converts the whole batch of
 * uint8 rows: cheaper than waiting for another's half, and its update reads only its own copy). */
static inline f32 *input_copy(const i32 *plan, i32 t) {
  /* Float input is written once, by the TypeScript side, and only read. */
  if (P(plan, PLAN_INPUT_MODE) == 0) t = 0;
  return PTR(f32, P(plan, PLAN_X) + t * P(plan, PLAN_X_STRIDE));
}

/* Phase 1 of thread t of T: the first layer's outputs j0..j1 (its share of W0T's rows) for every
 * row of the batch. In training, the outputs dropout drops are 0 and not computed. */
__attribute__((export_name("first_forward"))) void first_forward(const i32 *plan, i32 t, i32 T) {
  i32 *scratch = PTR(i32, P(plan, PLAN_SCRATCH) + t * P(plan, PLAN_SCRATCH_STRIDE));
  i32 *other = scratch + P(plan, PLAN_SCRATCH_PART);
  i32 L = P(plan, PLAN_LAYERS), rows = P(plan, PLAN_ROWS);
  const i32 *first = LAYER(plan, 0);
  i32 n = first[L_IN], n4 = round4(n), n_out = first[L_OUT];
  i32 j0 = first_bound(plan, t, T, n_out), j1 = first_bound(plan, t + 1, T, n_out);
  i32 last = L == 1;
  const f32 *mask = P(plan, PLAN_TRAIN) && !last ? PTR(const f32, first[L_MASK]) : 0;
  i32 relu = !last && first[L_ACT] == 1;
  f32 *x = input_copy(plan, t);
  f32 *h = PTR(f32, first[L_H]);
  const f32 *wt = PTR(const f32, first[L_W]);
  const f32 *b = PTR(const f32, first[L_B]);
  for (i32 r = 0; r < rows; r++) {
    f32 *xr = x + r * n4;
    i32 nblk = convert_row(plan, r, n, xr, scratch);
    if (j0 == j1) continue;
    /* Outputs j0..j1 as a layer of their own: offset weights, bias, output and mask. */
    first_forward_row(xr, scratch, nblk, wt + j0 * n4, n4, b + j0, h + r * n_out + j0, j1 - j0, relu,
                      mask ? mask + r * n_out + j0 : 0, other);
  }
}

/* Phase 2 (rows r0..r1, after every thread's phase 1): the layers above the first. The last
 * layer's H holds the logits. */
__attribute__((export_name("rest_forward"))) void rest_forward(const i32 *plan, i32 r0, i32 r1, i32 t) {
  i32 *scratch = PTR(i32, P(plan, PLAN_SCRATCH) + t * P(plan, PLAN_SCRATCH_STRIDE));
  i32 L = P(plan, PLAN_LAYERS);
  i32 train = P(plan, PLAN_TRAIN);
  const f32 *in = PTR(const f32, LAYER(plan, 0)[L_H]);
  for (i32 l = 1; l < L; l++) {
    const i32 *ly = LAYER(plan, l);
    i32 last = l == L - 1;
    const f32 *mask = train && !last ? PTR(const f32, ly[L_MASK]) : 0;
    f32 *out = PTR(f32, ly[L_H]);
    dense_forward(in, ly[L_IN], PTR(const f32, ly[L_W]), PTR(const f32, ly[L_B]), out, ly[L_OUT],
                  !last && ly[L_ACT] == 1, mask, r0, r1, scratch);
    in = out;
  }
}

/* Thread t's scratch: two lists of PLAN_SCRATCH_PART int32s each, at least max(rows, widest
 * layer) + 4 each (the second list starts at scratch + PLAN_SCRATCH_PART). */
static inline i32 *scratch_of(const i32 *plan, i32 t) {
  return PTR(i32, P(plan, PLAN_SCRATCH) + t * P(plan, PLAN_SCRATCH_STRIDE));
}

/* Log-sum-exp of one row (max-shifted, sums in double); e (n + 1 doubles) gets each e^(z - max)
 * and then their sum, from which the softmax is e / sum. (A result through a pointer to a local
 * would put it on the linker's stack, which the threads share.) */
static f64 log_softmax_row(const f32 *z, i32 n, f64 *e) {
  f32 m = z[0];
  for (i32 c = 1; c < n; c++) if (z[c] > m) m = z[c];
  f64 s = 0;
  for (i32 c = 0; c < n; c++) s += e[c] = exp_f64((f64)(z[c] - m));
  e[n] = s;
  return (f64)m + log_f64(s);
}

/* Training: loss per row and the output gradient (softmax - onehot) * lr / rows, then the
 * gradient with respect to every lower layer's pre-activation, through the old weights. */
__attribute__((export_name("backward_rows"))) void backward_rows(const i32 *plan, i32 r0, i32 r1, i32 t) {
  /* The thread's first list as floats: the row's exponentials, padded to whole vectors. */
  f32 *e = (f32 *)scratch_of(plan, t);
  i32 L = P(plan, PLAN_LAYERS);
  const i32 *top = LAYER(plan, L - 1);
  i32 C = top[L_OUT], C4 = round4(C);
  const i32 *labels = PTR(const i32, P(plan, PLAN_LABELS));
  f64 *loss = PTR(f64, P(plan, PLAN_LOSS));
  f32 gs = PF(plan, PLAN_GSCALE);
  for (i32 r = r0; r < r1; r++) {
    f32 *z = PTR(f32, top[L_H]) + r * C;
    f32 *g = PTR(f32, top[L_G]) + r * C;
    /* Softmax in float32 SIMD (the gradient is float32 anyway), max-shifted; the padding
     * lanes are masked out of the sum. The loss, lse - z[y], in double. */
    f32 m = z[0];
    for (i32 c = 1; c < C; c++) if (z[c] > m) m = z[c];
    i32 c = 0;
    for (; c < C; c++) e[c] = z[c] - m;
    for (; c < C4; c++) e[c] = -__builtin_inff();
    v128_t vs = wasm_f32x4_splat(0);
    for (c = 0; c < C4; c += 4) {
      v128_t ev = exp_f32x4(wasm_v128_load(e + c));
      v128_t live = wasm_i32x4_lt(wasm_i32x4_add(wasm_i32x4_splat(c), wasm_i32x4_make(0, 1, 2, 3)),
                                  wasm_i32x4_splat(C));
      ev = wasm_v128_and(ev, live);
      wasm_v128_store(e + c, ev);
      vs = wasm_f32x4_add(vs, ev);
    }
    f32 sum = (wasm_f32x4_extract_lane(vs, 0) + wasm_f32x4_extract_lane(vs, 2)) +
              (wasm_f32x4_extract_lane(vs, 1) + wasm_f32x4_extract_lane(vs, 3));
    i32 y = labels[r];
    loss[r] = (f64)m + log_f64((f64)sum) - (f64)z[y];
    f32 inv = 1.0f / sum;
    for (c = 0; c < C; c++) g[c] = (e[c] * inv - (c == y ? 1.0f : 0.0f)) * gs;
  }
  for (i32 l = L - 1; l >= 1; l--) {
    const i32 *ly = LAYER(plan, l), *below = LAYER(plan, l - 1);
    i32 n_in = ly[L_IN], n_out = ly[L_OUT];
    const f32 *w = PTR(const f32, ly[L_W]);
    const f32 *h = PTR(const f32, below[L_H]);
    const f32 *mask = P(plan, PLAN_TRAIN) ? PTR(const f32, below[L_MASK]) : 0;
    i32 relu = below[L_ACT] == 1;
    /* Two rows at a time share each weight load (6 loads per 8 multiply-adds, against 5 per 4
     * one row at a time); an odd last row runs with both rows the same. Each row's sums are
     * accumulated and reduced exactly as one row alone would be. */
    for (i32 r = r0; r < r1; r += 2) {
      i32 rb = r + 1 < r1 ? r + 1 : r;
      const f32 *g = PTR(const f32, ly[L_G]) + r * n_out, *gq = PTR(const f32, ly[L_G]) + rb * n_out;
      f32 *gb = PTR(f32, below[L_G]) + r * n_in, *gbq = PTR(f32, below[L_G]) + rb * n_in;
      i32 i = 0;
      /* Four weight rows at a time: four dot products over j per row, reduced into one vector. */
      for (; i + 4 <= n_in; i += 4) {
        const f32 *w0 = w + i * n_out, *w1 = w0 + n_out, *w2 = w1 + n_out, *w3 = w2 + n_out;
        v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
        v128_t b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        i32 j = 0;
        for (; j + 4 <= n_out; j += 4) {
          v128_t gj = wasm_v128_load(g + j), qj = wasm_v128_load(gq + j);
          v128_t v0 = wasm_v128_load(w0 + j), v1 = wasm_v128_load(w1 + j);
          v128_t v2 = wasm_v128_load(w2 + j), v3 = wasm_v128_load(w3 + j);
          a0 = MADD(gj, v0, a0); b0 = MADD(qj, v0, b0);
          a1 = MADD(gj, v1, a1); b1 = MADD(qj, v1, b1);
          a2 = MADD(gj, v2, a2); b2 = MADD(qj, v2, b2);
          a3 = MADD(gj, v3, a3); b3 = MADD(qj, v3, b3);
        }
        v128_t d = reduce4x4(a0, a1, a2, a3), e = reduce4x4(b0, b1, b2, b3);
        if (j < n_out) {
          f32 t0 = 0, t1 = 0, t2 = 0, t3 = 0, u0 = 0, u1 = 0, u2 = 0, u3 = 0;
          for (; j < n_out; j++) {
            t0 += g[j] * w0[j]; t1 += g[j] * w1[j]; t2 += g[j] * w2[j]; t3 += g[j] * w3[j];
            u0 += gq[j] * w0[j]; u1 += gq[j] * w1[j]; u2 += gq[j] * w2[j]; u3 += gq[j] * w3[j];
          }
          d = wasm_f32x4_add(d, wasm_f32x4_make(t0, t1, t2, t3));
          e = wasm_f32x4_add(e, wasm_f32x4_make(u0, u1, u2, u3));
        }
        i32 at = r * n_in + i, bt = rb * n_in + i;
        if (mask) {
          d = wasm_f32x4_mul(d, wasm_v128_load(mask + at));
          e = wasm_f32x4_mul(e, wasm_v128_load(mask + bt));
        }
        /* h = relu(a) * mask: where the mask is 0, d already is. */
        if (relu) {
          d = wasm_v128_and(d, wasm_f32x4_gt(wasm_v128_load(h + at), wasm_f32x4_splat(0)));
          e = wasm_v128_and(e, wasm_f32x4_gt(wasm_v128_load(h + bt), wasm_f32x4_splat(0)));
        }
        wasm_v128_store(gbq + i, e);
        wasm_v128_store(gb + i, d);
      }
      for (i32 side = 0; side < 2; side++) {
        i32 rr = side ? rb : r;
        const f32 *gg = side ? gq : g;
        f32 *out = side ? gbq : gb;
        for (i32 ii = i; ii < n_in; ii++) {
          const f32 *wi = w + ii * n_out;
          f32 d = 0;
          for (i32 j = 0; j < n_out; j++) d += gg[j] * wi[j];
          i32 at = rr * n_in + ii;
          if (mask) d *= mask[at];
          if (relu && !(h[at] > 0)) d = 0;
          out[ii] = d;
        }
      }
    }
  }
}

/* W[i..i+3][:] -= sum over the listed rows r of a[r][i..i+3] * g[r][:]: blocks of 4 weight rows
 * x 8 columns keep 8 accumulators in registers; tails go 4 columns / 1 column. The rows are
 * listed in increasing order (no list: all n rows); rows left out have a[r][i..i+3] all zero,
 * so every weight's sum is the one over all rows, in the same order. */
static inline __attribute__((always_inline)) void update_block4(f32 *w, i32 n_out, const f32 *a,
                                                                i32 n_in, const f32 *g,
                                                                const i32 *list, i32 n, i32 i) {
  i32 j = 0;
  for (; j + 8 <= n_out; j += 8) {
    v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00;
    v128_t c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (i32 q = 0; q < n; q++) {
      i32 r = list ? list[q] : q;
      const f32 *gr = g + r * n_out + j;
      const f32 *ar = a + r * n_in + i;
      v128_t g0 = wasm_v128_load(gr), g1 = wasm_v128_load(gr + 4);
      v128_t x0 = wasm_f32x4_splat(ar[0]), x1 = wasm_f32x4_splat(ar[1]);
      v128_t x2 = wasm_f32x4_splat(ar[2]), x3 = wasm_f32x4_splat(ar[3]);
      c00 = MADD(x0, g0, c00); c01 = MADD(x0, g1, c01);
      c10 = MADD(x1, g0, c10); c11 = MADD(x1, g1, c11);
      c20 = MADD(x2, g0, c20); c21 = MADD(x2, g1, c21);
      c30 = MADD(x3, g0, c30); c31 = MADD(x3, g1, c31);
    }
    f32 *o = w + i * n_out + j;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c00));
    wasm_v128_store(o + 4, wasm_f32x4_sub(wasm_v128_load(o + 4), c01));
    o += n_out;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c10));
    wasm_v128_store(o + 4, wasm_f32x4_sub(wasm_v128_load(o + 4), c11));
    o += n_out;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c20));
    wasm_v128_store(o + 4, wasm_f32x4_sub(wasm_v128_load(o + 4), c21));
    o += n_out;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c30));
    wasm_v128_store(o + 4, wasm_f32x4_sub(wasm_v128_load(o + 4), c31));
  }
  for (; j + 4 <= n_out; j += 4) {
    v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
    for (i32 q = 0; q < n; q++) {
      i32 r = list ? list[q] : q;
      v128_t g0 = wasm_v128_load(g + r * n_out + j);
      const f32 *ar = a + r * n_in + i;
      c0 = MADD(wasm_f32x4_splat(ar[0]), g0, c0);
      c1 = MADD(wasm_f32x4_splat(ar[1]), g0, c1);
      c2 = MADD(wasm_f32x4_splat(ar[2]), g0, c2);
      c3 = MADD(wasm_f32x4_splat(ar[3]), g0, c3);
    }
    f32 *o = w + i * n_out + j;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c0));
    o += n_out;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c1));
    o += n_out;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c2));
    o += n_out;
    wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c3));
  }
  for (; j < n_out; j++) {
    f32 s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (i32 q = 0; q < n; q++) {
      i32 r = list ? list[q] : q;
      f32 gv = g[r * n_out + j];
      const f32 *ar = a + r * n_in + i;
      s0 += ar[0] * gv; s1 += ar[1] * gv; s2 += ar[2] * gv; s3 += ar[3] * gv;
    }
    w[i * n_out + j] -= s0;
    w[(i + 1) * n_out + j] -= s1;
    w[(i + 2) * n_out + j] -= s2;
    w[(i + 3) * n_out + j] -= s3;
  }
}

/* W[i][:] -= sum_r a[r][i] * g[r][:] for weight rows i0..i1 (a: rows x n_in, g: rows x n_out).
 * Rows whose four inputs a[r][i..i+3] are all zero add nothing to that block and are skipped
 * (exact for finite weights: 0 * g adds a zero); `list` is scratch for rows ints. The images
 * this library trains on have large zero backgrounds (about 38% of Fashion-MNIST's 4-pixel
 * blocks, more in MNIST), and ReLU and dropout zero much of the hidden layers' inputs. */
static void dense_update(f32 *w, i32 n_out, const f32 *a, i32 n_in, const f32 *g, i32 rows,
                         i32 i0, i32 i1, i32 *list) {
  i32 i = i0;
  for (; i + 4 <= i1; i += 4) {
    i32 n = 0;
    for (i32 r = 0; r < rows; r++) {
      list[n] = r;
      n += wasm_v128_any_true(wasm_v128_load(a + r * n_in + i));
    }
    /* Without a zero block, the plain loop: the list costs ~15% where it skips nothing. */
    if (n == rows) update_block4(w, n_out, a, n_in, g, 0, rows, i);
    else if (n) update_block4(w, n_out, a, n_in, g, list, n, i);
  }
  for (; i < i1; i++) {
    i32 j = 0;
    for (; j + 4 <= n_out; j += 4) {
      v128_t c0 = wasm_f32x4_splat(0);
      for (i32 r = 0; r < rows; r++)
        c0 = MADD(wasm_f32x4_splat(a[r * n_in + i]), wasm_v128_load(g + r * n_out + j), c0);
      f32 *o = w + i * n_out + j;
      wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), c0));
    }
    for (; j < n_out; j++) {
      f32 s = 0;
      for (i32 r = 0; r < rows; r++) s += a[r * n_in + i] * g[r * n_out + j];
      w[i * n_out + j] -= s;
    }
  }
}

/* The first layer's update of outputs j0..j1 (rows of W0T, n4 wide): W0T[j][:] -= sum over
 * the batch rows r with g[r][j] != 0 of g[r][j] * x[r][:], in increasing r (the rows left out
 * add zeros). `list` and `gl` are scratch for `rows` values each. */
static void first_update(f32 *wt, i32 n4, const f32 *x, const f32 *g, i32 n_out, i32 rows,
                         i32 j0, i32 j1, i32 *list, f32 *gl) {
  for (i32 j = j0; j < j1; j++) {
    i32 n = 0;
    for (i32 r = 0; r < rows; r++) {
      f32 v = g[r * n_out + j];
      list[n] = r * n4;
      gl[n] = v;
      n += v != 0;
    }
    if (n == 0) continue;
    f32 *w = wt + j * n4;
    i32 k = 0;
    /* Tiles of 6 vectors: 6 accumulators, the broadcast and 6 loaded values fit V8's 15
     * vector registers; with 8, two accumulators lived on the stack and each step waited for
     * their store-to-load round trip (measured 30% slower). */
    for (; k + 24 <= n4; k += 24) {
      v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
      for (i32 q = 0; q < n; q++) {
        v128_t gv = wasm_f32x4_splat(gl[q]);
        const f32 *xr = x + list[q] + k;
        a0 = MADD(gv, wasm_v128_load(xr), a0);
        a1 = MADD(gv, wasm_v128_load(xr + 4), a1);
        a2 = MADD(gv, wasm_v128_load(xr + 8), a2);
        a3 = MADD(gv, wasm_v128_load(xr + 12), a3);
        a4 = MADD(gv, wasm_v128_load(xr + 16), a4);
        a5 = MADD(gv, wasm_v128_load(xr + 20), a5);
      }
      f32 *o = w + k;
      wasm_v128_store(o, wasm_f32x4_sub(wasm_v128_load(o), a0));
      wasm_v128_store(o + 4, wasm_f32x4_sub(wasm_v128_load(o + 4), a1));
      wasm_v128_store(o + 8, wasm_f32x4_sub(wasm_v128_load(o + 8), a2));
      wasm_v128_store(o + 12, wasm_f32x4_sub(wasm_v128_load(o + 12), a3));
      wasm_v128_store(o + 16, wasm_f32x4_sub(wasm_v128_load(o + 16), a4));
      wasm_v128_store(o + 20, wasm_f32x4_sub(wasm_v128_load(o + 20), a5));
    }
    for (; k < n4; k += 4) {
      v128_t a0 = wasm_f32x4_splat(0);
      for (i32 q = 0; q < n; q++)
        a0 = MADD(wasm_f32x4_splat(gl[q]), wasm_v128_load(x + list[q] + k), a0);
      wasm_v128_store(w + k, wasm_f32x4_sub(wasm_v128_load(w + k), a0));
    }
  }
}

/* Phase 3 for thread t of T: its share of every layer's weights (the first layer's outputs, the
 * other layers' input rows), and the biases of the layers l with l % T == t. */
__attribute__((export_name("update_share"))) void update_share(const i32 *plan, i32 t, i32 T) {
  i32 L = P(plan, PLAN_LAYERS);
  i32 rows = P(plan, PLAN_ROWS);
  i32 *list = PTR(i32, P(plan, PLAN_SCRATCH) + t * P(plan, PLAN_SCRATCH_STRIDE));
  i32 *other = list + P(plan, PLAN_SCRATCH_PART);
  for (i32 l = 0; l < L; l++) {
    const i32 *ly = LAYER(plan, l);
    i32 n_in = ly[L_IN], n_out = ly[L_OUT];
    const f32 *g = PTR(const f32, ly[L_G]);
    if (l == 0) {
      i32 j0 = first_bound(plan, t, T, n_out), j1 = first_bound(plan, t + 1, T, n_out);
      first_update(PTR(f32, ly[L_W]), round4(n_in), input_copy(plan, t), g, n_out, rows, j0, j1,
                   list, (f32 *)other);
    } else {
      const f32 *a = PTR(const f32, LAYER(plan, l - 1)[L_H]);
      /* Whole blocks of 4 rows per thread where possible. */
      i32 blocks = (n_in + 3) / 4;
      i32 i0 = (blocks * t / T) * 4, i1 = (blocks * (t + 1) / T) * 4;
      if (i1 > n_in) i1 = n_in;
      if (i0 < i1) dense_update(PTR(f32, ly[L_W]), n_out, a, n_in, g, rows, i0, i1, list);
    }
    if (l % T == t) {
      f32 *b = PTR(f32, ly[L_B]);
      for (i32 j = 0; j < n_out; j++) {
        f32 s = 0;
        for (i32 r = 0; r < rows; r++) s += g[r * n_out + j];
        b[j] -= s;
      }
    }
  }
}

/* Evaluation of rows r0..r1 after forward_rows: log-probabilities in place, the argmax (first
 * index of the largest, as torch.argmax) and, when labels are given, each row's NLL. */
__attribute__((export_name("evaluate_rows"))) void evaluate_rows(const i32 *plan, i32 r0, i32 r1, i32 t) {
  f64 *e = (f64 *)scratch_of(plan, t);
  i32 L = P(plan, PLAN_LAYERS);
  const i32 *top = LAYER(plan, L - 1);
  i32 C = top[L_OUT];
  const i32 *labels = PTR(const i32, P(plan, PLAN_LABELS));
  f64 *nll = PTR(f64, P(plan, PLAN_NLL));
  i32 *pred = PTR(i32, P(plan, PLAN_PRED));
  for (i32 r = r0; r < r1; r++) {
    f32 *z = PTR(f32, top[L_H]) + r * C;
    f64 lse = log_softmax_row(z, C, e);
    i32 best = 0;
    for (i32 c = 0; c < C; c++) {
      z[c] = (f32)((f64)z[c] - lse);
      if (z[c] > z[best]) best = c;
    }
    pred[r] = best;
    if (labels) nll[r] = -(f64)z[labels[r]];
  }
}

/* A rate-0.5 dropout mask from random bits, as src/mnist/model.ts's fillDropoutMask draws it:
 * entry j is `keep` where bit (j % 32) of word j / 32 is set, else 0. */
__attribute__((export_name("expand_bits"))) void expand_bits(const unsigned *bits, f32 *mask, i32 n,
                                                              f32 keep) {
  v128_t vkeep = wasm_f32x4_splat(keep);
  v128_t lanes = wasm_u32x4_make(1, 2, 4, 8);
  i32 j = 0;
  for (; j + 4 <= n; j += 4) {
    v128_t word = wasm_u32x4_splat(bits[j >> 5] >> (j & 31));
    wasm_v128_store(mask + j, wasm_v128_and(wasm_i32x4_eq(wasm_v128_and(word, lanes), lanes), vkeep));
  }
  for (; j < n; j++) mask[j] = (bits[j >> 5] >> (j & 31)) & 1 ? keep : 0;
}

/* dst[c * dst_stride + r] = src[r * src_stride + c] for r < rows, c < cols: the first layer's
 * weights between TF.js's (in, out) layout and the kernel's (out, round4(in)). */
__attribute__((export_name("transpose"))) void transpose(const f32 *src, i32 rows, i32 cols,
                                                         i32 src_stride, f32 *dst, i32 dst_stride) {
  for (i32 r = 0; r < rows; r++)
    for (i32 c = 0; c < cols; c++) dst[c * dst_stride + r] = src[r * src_stride + c];
}
