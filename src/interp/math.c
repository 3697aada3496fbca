/* Kernels: math along one axis (Softmax, LogSoftmax, Hardmax, CumSum, TopK), the losses built
 * on log-probabilities (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss) and Det.
 *
 * The axis ops view their input as [outer, n, inner] with n the axis. float16 and bfloat16 go
 * through float copies (math_stage_*); float and double run directly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

/* Splits dims around axis: outer = prod(dims[:axis]), n = dims[axis], inner = the rest. With
 * coerce_2d (Softmax-family before opset 13) the axis and everything after it form n. */
static void math_split(const struct tqt_rt_tensor *x, size_t axis, bool coerce_2d, int64_t *outer,
                       int64_t *n, int64_t *inner) {
  *outer = *n = *inner = 1;
  for (size_t i = 0; i < x->rank; i++) {
    if (i < axis)
      *outer *= x->dims[i];
    else if (i == axis || coerce_2d)
      *n *= x->dims[i];
    else
      *inner *= x->dims[i];
  }
}

static bool math_is_half(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT16 || dtype == TQT_DTYPE_BFLOAT16;
}

/* A float copy of a float16/bfloat16 tensor (malloc'd; NULL when out of memory). */
static float *math_stage_in(const struct tqt_rt_tensor *t) {
  int64_t count = tqt_rt_numel(t);
  float *f = malloc((size_t)(count ? count : 1) * sizeof *f);
  if (!f) return NULL;
  const uint16_t *h = t->data;
  for (int64_t i = 0; i < count; i++)
    f[i] = t->dtype == TQT_DTYPE_FLOAT16 ? tqt_f16_to_f32(h[i]) : tqt_bf16_to_f32(h[i]);
  return f;
}

static void math_stage_out(const float *f, struct tqt_rt_tensor *t) {
  int64_t count = tqt_rt_numel(t);
  uint16_t *h = t->data;
  for (int64_t i = 0; i < count; i++)
    h[i] = t->dtype == TQT_DTYPE_FLOAT16 ? tqt_f32_to_f16(f[i]) : tqt_f32_to_bf16(f[i]);
}

/* ---- Softmax, LogSoftmax, Hardmax ---- */

enum math_softmax_kind { MATH_SOFTMAX, MATH_LOG_SOFTMAX, MATH_HARDMAX };

/* The float path works on 4-lane vectors (GCC/Clang vector extensions: SSE2 or NEON without
 * target flags). Plain loops would not vectorize: libm's expf is a call, and float comparisons
 * that may trap keep the compiler from turning selects into blends. */
typedef float math_f32x4 __attribute__((vector_size(16)));
typedef int32_t math_i32x4 __attribute__((vector_size(16)));
#define MATH_SPLAT(v) ((math_f32x4){(v), (v), (v), (v)})

/* mask ? a : b, lane by lane (mask lanes are 0 or -1). */
static inline math_f32x4 math_select(math_i32x4 mask, math_f32x4 a, math_f32x4 b) {
  return (math_f32x4)(((math_i32x4)a & mask) | ((math_i32x4)b & ~mask));
}

/* exp to ~1e-7 relative (Cody-Waite reduction by ln 2, degree-6 polynomial, 2^n built in the
 * exponent bits); 0 below -87.3 (where exp is subnormal), NaN stays NaN. */
static inline math_f32x4 math_exp_f32x4(math_f32x4 x) {
  math_i32x4 under = x < MATH_SPLAT(-87.33654f), nan = x != x;
  math_f32x4 c = math_select(under | nan, MATH_SPLAT(0.0f), x);
  c = math_select(c > MATH_SPLAT(88.0f), MATH_SPLAT(88.0f), c);
  math_f32x4 nf = (c * MATH_SPLAT(1.44269504f) + MATH_SPLAT(12582912.0f)) - MATH_SPLAT(12582912.0f);
  math_f32x4 r = c - nf * MATH_SPLAT(0.693359375f) + nf * MATH_SPLAT(2.12194440e-4f);
  math_f32x4 p = MATH_SPLAT(1.9875691500e-4f);
  p = p * r + MATH_SPLAT(1.3981999507e-3f);
  p = p * r + MATH_SPLAT(8.3334519073e-3f);
  p = p * r + MATH_SPLAT(4.1665795894e-2f);
  p = p * r + MATH_SPLAT(1.6666665459e-1f);
  p = p * r + MATH_SPLAT(5.0000001201e-1f);
  p = p * r * r + r + MATH_SPLAT(1.0f);
  math_i32x4 n = __builtin_convertvector(nf, math_i32x4);
  math_f32x4 y = p * (math_f32x4)((n + 127) << 23);
  return math_select(nan, x, math_select(under, MATH_SPLAT(0.0f), y));
}

/* count (1..4) floats from p; the missing lanes hold pad. */
static inline math_f32x4 math_load(const float *p, int64_t count, float pad) {
  math_f32x4 v = MATH_SPLAT(pad);
  if (count == 4) /* a fixed size compiles to one unaligned load */
    memcpy(&v, p, sizeof v);
  else
    for (int64_t l = 0; l < count; l++) v[l] = p[l];
  return v;
}

static inline void math_store(float *p, math_f32x4 v, int64_t count) {
  if (count == 4)
    memcpy(p, &v, sizeof v);
  else
    for (int64_t l = 0; l < count; l++) p[l] = v[l];
}

/* The steps of a softmax over `count` (1..4) lanes: the running max, and y = exp(x - m) added to
 * the running sum. */
static inline math_f32x4 math_softmax_max_step(const float *x, math_f32x4 m, int64_t count) {
  math_f32x4 v = math_load(x, count, -INFINITY);
  return math_select(v > m, v, m);
}

static inline math_f32x4 math_softmax_exp_step(const float *x, float *y, math_f32x4 m,
                                               math_f32x4 sum, int64_t count) {
  math_f32x4 e = math_exp_f32x4(math_load(x, count, -INFINITY) - m);
  math_store(y, e, count);
  return sum + e;
}

/* A contiguous row of n floats (softmax over the last axis): lanes run along the row. Missing
 * lanes load as -inf, which neither wins the max nor adds to the sum. */
static void math_softmax_row_f32(enum math_softmax_kind kind, const float *x, float *y, int64_t n) {
  math_f32x4 vm = MATH_SPLAT(-INFINITY), vs = MATH_SPLAT(0.0f);
  int64_t full = n & ~(int64_t)3;
  for (int64_t r = 0; r < full; r += 4) vm = math_softmax_max_step(x + r, vm, 4);
  if (full < n) vm = math_softmax_max_step(x + full, vm, n - full);
  float m = vm[0];
  for (int l = 1; l < 4; l++) m = vm[l] > m ? vm[l] : m;
  if (kind == MATH_HARDMAX) {
    int64_t at = n;
    for (int64_t r = 0; r < n; r++) {
      if (x[r] == m && at == n) at = r;
      y[r] = r == at;
    }
    return;
  }
  for (int64_t r = 0; r < full; r += 4)
    vs = math_softmax_exp_step(x + r, y + r, MATH_SPLAT(m), vs, 4);
  if (full < n) vs = math_softmax_exp_step(x + full, y + full, MATH_SPLAT(m), vs, n - full);
  float sum = (vs[0] + vs[1]) + (vs[2] + vs[3]);
  if (kind == MATH_SOFTMAX) {
    float inv = 1 / sum;
    for (int64_t r = 0; r < n; r++) y[r] *= inv;
  } else {
    float log_sum = logf(sum);
    for (int64_t r = 0; r < n; r++) y[r] = (x[r] - m) - log_sum;
  }
}

/* count (1..4) lanes of adjacent inner positions, n steps of stride apart (softmax over an inner
 * axis): every lane is its own softmax. */
static inline void math_softmax_lanes_f32(enum math_softmax_kind kind, const float *x, float *y,
                                          int64_t n, int64_t stride, int64_t count) {
  math_f32x4 vm = MATH_SPLAT(-INFINITY), vs = MATH_SPLAT(0.0f);
  for (int64_t r = 0; r < n; r++) vm = math_softmax_max_step(x + r * stride, vm, count);
  if (kind == MATH_HARDMAX) {
    math_i32x4 done = {0, 0, 0, 0};
    for (int64_t r = 0; r < n; r++) {
      math_i32x4 hit = (math_load(x + r * stride, count, 0) == vm) & ~done;
      done |= hit;
      math_store(y + r * stride, math_select(hit, MATH_SPLAT(1.0f), MATH_SPLAT(0.0f)), count);
    }
    return;
  }
  for (int64_t r = 0; r < n; r++)
    vs = math_softmax_exp_step(x + r * stride, y + r * stride, vm, vs, count);
  if (kind == MATH_SOFTMAX) {
    math_f32x4 inv = MATH_SPLAT(1.0f) / vs;
    for (int64_t r = 0; r < n; r++)
      math_store(y + r * stride, math_load(y + r * stride, count, 0) * inv, count);
  } else {
    math_f32x4 shift = vm + (math_f32x4){logf(vs[0]), logf(vs[1]), logf(vs[2]), logf(vs[3])};
    for (int64_t r = 0; r < n; r++)
      math_store(y + r * stride, math_load(x + r * stride, count, 0) - shift, count);
  }
}

static void math_softmax_f32(enum math_softmax_kind kind, const float *x, float *y, int64_t outer,
                             int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; o++) {
    const float *xo = x + o * n * inner;
    float *yo = y + o * n * inner;
    if (inner == 1) {
      math_softmax_row_f32(kind, xo, yo, n);
      continue;
    }
    int64_t full = inner & ~(int64_t)3;
    for (int64_t i = 0; i < full; i += 4) math_softmax_lanes_f32(kind, xo + i, yo + i, n, inner, 4);
    if (full < inner) math_softmax_lanes_f32(kind, xo + full, yo + full, n, inner, inner - full);
  }
}

/* The double path: plain loops, one (outer, inner) lane at a time. */
static void math_softmax_f64(enum math_softmax_kind kind, const double *x, double *y, int64_t outer,
                             int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const double *xs = x + o * n * inner + i;
      double *ys = y + o * n * inner + i, m = -INFINITY, sum = 0;
      for (int64_t r = 0; r < n; r++) m = xs[r * inner] > m ? xs[r * inner] : m;
      int64_t at = n;
      for (int64_t r = 0; r < n; r++) {
        if (kind == MATH_HARDMAX) {
          if (xs[r * inner] == m && at == n) at = r;
          ys[r * inner] = r == at;
        } else {
          ys[r * inner] = exp(xs[r * inner] - m);
          sum += ys[r * inner];
        }
      }
      for (int64_t r = 0; r < n && kind != MATH_HARDMAX; r++)
        ys[r * inner] = kind == MATH_SOFTMAX ? ys[r * inner] / sum : (xs[r * inner] - m) - log(sum);
    }
}

/* Runs a softmax-family op of x ([outer, n, inner], any float type) into y (same type and
 * size). */
static enum tqt_status math_softmax_apply(struct tqt_kernel_ctx *k, enum math_softmax_kind kind,
                                          const struct tqt_rt_tensor *x, struct tqt_rt_tensor *y,
                                          int64_t outer, int64_t n, int64_t inner) {
  if (x->dtype == TQT_DTYPE_DOUBLE) {
    math_softmax_f64(kind, x->data, y->data, outer, n, inner);
    return TQT_STATUS_OK;
  }
  if (x->dtype == TQT_DTYPE_FLOAT) {
    math_softmax_f32(kind, x->data, y->data, outer, n, inner);
    return TQT_STATUS_OK;
  }
  float *xs = math_stage_in(x), *ys = malloc((size_t)(outer * n * inner + 1) * sizeof *ys);
  if (xs && ys) {
    math_softmax_f32(kind, xs, ys, outer, n, inner);
    math_stage_out(ys, y);
  }
  free(xs);
  free(ys);
  return xs && ys ? TQT_STATUS_OK : tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
}

static bool math_is_float(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT || dtype == TQT_DTYPE_DOUBLE || math_is_half(dtype);
}

struct math_softmax_params {
  enum math_softmax_kind kind;
  int64_t axis;
  bool coerce_2d; /* before opset 13: over the flattened dims[axis:] */
};

static enum tqt_status math_softmax_init(struct tqt_kernel_ctx *k) {
  struct math_softmax_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *op = k->node->op_type;
  p->kind = strcmp(op, "Softmax") == 0      ? MATH_SOFTMAX
            : strcmp(op, "LogSoftmax") == 0 ? MATH_LOG_SOFTMAX
                                            : MATH_HARDMAX;
  p->coerce_2d = k->kernel->since_version < 13;
  p->axis = tqt_attr_int(k->node, "axis", p->coerce_2d ? 1 : -1);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status math_softmax_run(struct tqt_kernel_ctx *k) {
  const struct math_softmax_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (!math_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  size_t axis;
  if (tqt_kernel_axis(k, p->axis, x->rank, &axis) != TQT_STATUS_OK) return k->d->status;
  int64_t outer, n, inner;
  math_split(x, axis, p->coerce_2d, &outer, &n, &inner);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  return math_softmax_apply(k, p->kind, x, y, outer, n, inner);
}

/* x's type and shape; the axis must lie within x's rank. */
static enum tqt_status math_softmax_infer(struct tqt_infer_ctx *c) {
  const struct math_softmax_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  size_t axis;
  if (x && tqt_kernel_axis(c->k, p->axis, x->rank, &axis)) return c->k->d->status;
  return tqt_infer_unary(c);
}

/* ---- CumSum ---- */

struct math_cumsum_params {
  bool exclusive, reverse;
};

/* Running sums along the middle axis of [outer, n, inner], one lane per inner index, kept in the
 * element type (as numpy's cumsum does). */
#define MATH_CUMSUM_DEFINE(SUFFIX, T)                                                    \
  static void math_cumsum_##SUFFIX(const struct math_cumsum_params *p, const T *x, T *y, \
                                   int64_t outer, int64_t n, int64_t inner, T *acc) {    \
    for (int64_t o = 0; o < outer; o++) {                                                \
      for (int64_t i = 0; i < inner; i++) acc[i] = 0;                                    \
      for (int64_t s = 0; s < n; s++) {                                                  \
        int64_t off = (o * n + (p->reverse ? n - 1 - s : s)) * inner;                    \
        for (int64_t i = 0; i < inner; i++) {                                            \
          T v = x[off + i];                                                              \
          if (p->exclusive) {                                                            \
            y[off + i] = acc[i];                                                         \
            acc[i] += v;                                                                 \
          } else {                                                                       \
            acc[i] += v;                                                                 \
            y[off + i] = acc[i];                                                         \
          }                                                                              \
        }                                                                                \
      }                                                                                  \
    }                                                                                    \
  }

MATH_CUMSUM_DEFINE(f32, float)
MATH_CUMSUM_DEFINE(f64, double)
MATH_CUMSUM_DEFINE(i32, int32_t)
MATH_CUMSUM_DEFINE(u32, uint32_t)
MATH_CUMSUM_DEFINE(i64, int64_t)
MATH_CUMSUM_DEFINE(u64, uint64_t)

static enum tqt_status math_cumsum_init(struct tqt_kernel_ctx *k) {
  struct math_cumsum_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->exclusive = tqt_attr_int(k->node, "exclusive", 0) != 0;
  p->reverse = tqt_attr_int(k->node, "reverse", 0) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status math_cumsum_run(struct tqt_kernel_ctx *k) {
  const struct math_cumsum_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *at = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!at) return k->d->status;
  int64_t axis_value;
  size_t count, axis;
  if (tqt_kernel_read_ints(k, at, &axis_value, 1, &count) != TQT_STATUS_OK) return k->d->status;
  if (count != 1) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis must hold one value");
  if (tqt_kernel_axis(k, axis_value, x->rank, &axis) != TQT_STATUS_OK) return k->d->status;
  int32_t t = x->dtype;
  if (!math_is_float(t) && t != TQT_DTYPE_INT32 && t != TQT_DTYPE_UINT32 && t != TQT_DTYPE_INT64 &&
      t != TQT_DTYPE_UINT64)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(t));
  int64_t outer, n, inner;
  math_split(x, axis, false, &outer, &n, &inner);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, t, x->rank, x->dims);
  if (!y) return k->d->status;

  enum tqt_status st = TQT_STATUS_OK;
  float *xs = NULL, *ys = NULL;
  void *acc = malloc((size_t)inner * sizeof(double));
  if (!acc) goto nomem;
  switch (t) {
  case TQT_DTYPE_FLOAT: math_cumsum_f32(p, x->data, y->data, outer, n, inner, acc); break;
  case TQT_DTYPE_DOUBLE: math_cumsum_f64(p, x->data, y->data, outer, n, inner, acc); break;
  case TQT_DTYPE_INT32: math_cumsum_i32(p, x->data, y->data, outer, n, inner, acc); break;
  case TQT_DTYPE_UINT32: math_cumsum_u32(p, x->data, y->data, outer, n, inner, acc); break;
  case TQT_DTYPE_INT64: math_cumsum_i64(p, x->data, y->data, outer, n, inner, acc); break;
  case TQT_DTYPE_UINT64: math_cumsum_u64(p, x->data, y->data, outer, n, inner, acc); break;
  default: /* float16, bfloat16 */
    xs = math_stage_in(x);
    ys = malloc((size_t)(outer * n * inner + 1) * sizeof *ys);
    if (!xs || !ys) goto nomem;
    math_cumsum_f32(p, xs, ys, outer, n, inner, acc);
    math_stage_out(ys, y);
    break;
  }
  goto done;
nomem:
  st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
done:
  free(acc);
  free(xs);
  free(ys);
  return st;
}

/* ---- TopK ---- */

struct math_topk_params {
  int64_t k; /* opset 1: the attribute; later the second input */
  int64_t axis;
  bool largest;
};

/* Elements are ranked by an int64 key that orders like the value (floats by their bits, with -0
 * as +0; NaN ranks last either way, as the stable argsort of the reference puts it), ties by
 * index: the order is total, so qsort gives the stable result. */
struct math_topk_item {
  int64_t key;
  int64_t index;
};

static int math_topk_cmp_largest(const void *a, const void *b) {
  const struct math_topk_item *x = a, *y = b;
  if (x->key != y->key) return x->key > y->key ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int math_topk_cmp_smallest(const void *a, const void *b) {
  const struct math_topk_item *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int64_t math_topk_key_float(double v, bool largest) {
  if (isnan(v)) return largest ? INT64_MIN : INT64_MAX;
  if (v == 0) v = 0; /* -0 ties with +0 */
  int64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits < 0 ? bits ^ INT64_MAX : bits;
}

#define MATH_TOPK_KEYS(T, KEY)                                          \
  do {                                                                  \
    const T *xs = (const T *)x->data + base;                            \
    for (int64_t r = 0; r < n; r++) items[r].key = KEY(xs[r * stride]); \
  } while (0)
#define MATH_TOPK_KEY_FLOAT(v) math_topk_key_float((double)(v), largest)
#define MATH_TOPK_KEY_F16(v) math_topk_key_float(tqt_f16_to_f32(v), largest)
#define MATH_TOPK_KEY_BF16(v) math_topk_key_float(tqt_bf16_to_f32(v), largest)
#define MATH_TOPK_KEY_INT(v) ((int64_t)(v))
#define MATH_TOPK_KEY_U64(v) ((int64_t)((v) ^ UINT64_C(0x8000000000000000)))

/* Fills items[0..n) with the keys of the slice starting at element base, stride apart. */
static bool math_topk_keys(const struct tqt_rt_tensor *x, int64_t base, int64_t stride, int64_t n,
                           bool largest, struct math_topk_item *items) {
  switch (x->dtype) {
  case TQT_DTYPE_FLOAT: MATH_TOPK_KEYS(float, MATH_TOPK_KEY_FLOAT); break;
  case TQT_DTYPE_DOUBLE: MATH_TOPK_KEYS(double, MATH_TOPK_KEY_FLOAT); break;
  case TQT_DTYPE_FLOAT16: MATH_TOPK_KEYS(uint16_t, MATH_TOPK_KEY_F16); break;
  case TQT_DTYPE_BFLOAT16: MATH_TOPK_KEYS(uint16_t, MATH_TOPK_KEY_BF16); break;
  case TQT_DTYPE_INT8: MATH_TOPK_KEYS(int8_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_UINT8: MATH_TOPK_KEYS(uint8_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_INT16: MATH_TOPK_KEYS(int16_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_UINT16: MATH_TOPK_KEYS(uint16_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_INT32: MATH_TOPK_KEYS(int32_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_UINT32: MATH_TOPK_KEYS(uint32_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_INT64: MATH_TOPK_KEYS(int64_t, MATH_TOPK_KEY_INT); break;
  case TQT_DTYPE_UINT64: MATH_TOPK_KEYS(uint64_t, MATH_TOPK_KEY_U64); break;
  default: return false;
  }
  for (int64_t r = 0; r < n; r++) items[r].index = r;
  return true;
}

static enum tqt_status math_topk_init(struct tqt_kernel_ctx *k) {
  struct math_topk_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->k = tqt_attr_int(k->node, "k", -1);
  p->axis = tqt_attr_int(k->node, "axis", -1);
  p->largest = tqt_attr_int(k->node, "largest", 1) != 0;
  /* "sorted" = 0 leaves the order unspecified: the sorted order is one such order. */
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status math_topk_run(struct tqt_kernel_ctx *k) {
  const struct math_topk_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t kk = p->k;
  if (k->kernel->since_version >= 10) {
    const struct tqt_rt_tensor *kt = tqt_kernel_input_required(k, 1);
    size_t count;
    if (!kt || tqt_kernel_read_ints(k, kt, &kk, 1, &count) != TQT_STATUS_OK) return k->d->status;
    if (count != 1) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "k must hold one value");
  }
  size_t axis;
  if (tqt_kernel_axis(k, p->axis, x->rank, &axis) != TQT_STATUS_OK) return k->d->status;
  int64_t outer, n, inner;
  math_split(x, axis, false, &outer, &n, &inner);
  if (kk < 0 || kk > n) {
    char s[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "k = %lld is out of range for axis %zu of %s",
                           (long long)kk, axis, tqt_rt_shape_str(x, s, sizeof s));
  }
  int64_t ydims[TQT_RANK_MAX];
  memcpy(ydims, x->dims, x->rank * sizeof *ydims);
  ydims[axis] = kk;
  struct tqt_rt_tensor *values = tqt_kernel_output(k, 0, x->dtype, x->rank, ydims);
  if (!values && k->d->status != TQT_STATUS_OK) return k->d->status;
  struct tqt_rt_tensor *indices = tqt_kernel_output(k, 1, TQT_DTYPE_INT64, x->rank, ydims);
  if (!indices && k->d->status != TQT_STATUS_OK) return k->d->status;

  struct math_topk_item *items = malloc((size_t)(n + 1) * sizeof *items);
  if (!items) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  size_t esize = tqt_dtype_size(x->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      if (!math_topk_keys(x, o * n * inner + i, inner, n, p->largest, items)) {
        free(items);
        return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
      }
      qsort(items, (size_t)n, sizeof *items,
            p->largest ? math_topk_cmp_largest : math_topk_cmp_smallest);
      for (int64_t j = 0; j < kk; j++) {
        int64_t to = (o * kk + j) * inner + i, from = (o * n + items[j].index) * inner + i;
        if (values)
          memcpy((char *)values->data + to * (int64_t)esize,
                 (const char *)x->data + from * (int64_t)esize, esize);
        if (indices) ((int64_t *)indices->data)[to] = items[j].index;
      }
    }
  free(items);
  return TQT_STATUS_OK;
}

/* Values (x's type) and indices (int64): x's dims with k along the axis. */
static enum tqt_status math_topk_infer(struct tqt_infer_ctx *c) {
  const struct math_topk_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0)), *x_any = tqt_infer_input(c, 0);
  int32_t dtype = x_any ? x_any->dtype : TQT_DTYPE_UNDEFINED;
  size_t axis;
  if (!x) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    if (c->n_out > 1) tqt_sym_tensor_unranked(&c->out[1], TQT_DTYPE_INT64);
    return TQT_STATUS_OK;
  }
  if (tqt_kernel_axis(c->k, p->axis, x->rank, &axis)) return c->k->d->status;
  tqt_sdim dims[TQT_RANK_MAX];
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  dims[axis] = c->k->kernel->since_version >= 10 ? tqt_sym_elem(c->dims, tqt_infer_input(c, 1), 0)
                                                  : tqt_sdim_const(c->dims, p->k);
  int64_t k;
  if (tqt_sdim_value(dims[axis], &k) && k < 0)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "k = %lld", (long long)k);
  tqt_sym_tensor(&c->out[0], dtype, x->rank, dims);
  if (c->n_out > 1) tqt_sym_tensor(&c->out[1], TQT_DTYPE_INT64, x->rank, dims);
  return TQT_STATUS_OK;
}

/* ---- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ---- */

enum math_reduction { MATH_REDUCTION_NONE, MATH_REDUCTION_SUM, MATH_REDUCTION_MEAN };

struct math_loss_params {
  enum math_reduction reduction;
  bool has_ignore_index;
  int64_t ignore_index;
};

static enum tqt_status math_loss_init(struct tqt_kernel_ctx *k) {
  struct math_loss_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *r = tqt_attr_string(k->node, "reduction", "mean");
  if (strcmp(r, "none") == 0)
    p->reduction = MATH_REDUCTION_NONE;
  else if (strcmp(r, "sum") == 0)
    p->reduction = MATH_REDUCTION_SUM;
  else if (strcmp(r, "mean") == 0)
    p->reduction = MATH_REDUCTION_MEAN;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "unknown reduction '%s'", r);
  p->has_ignore_index = tqt_attr_has(k->node, "ignore_index");
  p->ignore_index = tqt_attr_int(k->node, "ignore_index", 0);
  k->params = p;
  return TQT_STATUS_OK;
}

/* Checks the shapes of log-probabilities lp [N, C, d1..], target [N, d1..] and weight [C]. */
static enum tqt_status math_loss_check(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *lp,
                                       const struct tqt_rt_tensor *target,
                                       const struct tqt_rt_tensor *weight) {
  char s1[128], s2[128];
  if (!math_is_float(lp->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(lp->dtype));
  if (target->dtype != TQT_DTYPE_INT32 && target->dtype != TQT_DTYPE_INT64)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "target type %s is not int32 or int64",
                           tqt_dtype_name(target->dtype));
  bool ok = lp->rank >= 2 && target->rank == lp->rank - 1 && target->dims[0] == lp->dims[0];
  for (size_t i = 1; ok && i < target->rank; i++) ok = target->dims[i] == lp->dims[i + 1];
  if (!ok)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s and target %s do not match",
                           tqt_rt_shape_str(lp, s1, sizeof s1),
                           tqt_rt_shape_str(target, s2, sizeof s2));
  if (weight && (weight->dtype != lp->dtype || weight->rank != 1 || weight->dims[0] != lp->dims[1]))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "weight %s %s does not match input %s",
                           tqt_dtype_name(weight->dtype), tqt_rt_shape_str(weight, s1, sizeof s1),
                           tqt_rt_shape_str(lp, s2, sizeof s2));
  return TQT_STATUS_OK;
}

/* Output 0 = the negative log-likelihood of target under log-probabilities lp [N, C, D...]: per
 * element -lp[n, target, d] * weight[target] (ignore_index counts zero and weighs nothing); "sum"
 * adds them, "mean" divides that sum by the total weight. Accumulates in double. */
static enum tqt_status math_nll(struct tqt_kernel_ctx *k, const struct math_loss_params *p,
                                const struct tqt_rt_tensor *lp, const struct tqt_rt_tensor *target,
                                const struct tqt_rt_tensor *weight) {
  int64_t batch = lp->dims[0], classes = lp->dims[1], d = 1;
  for (size_t i = 2; i < lp->rank; i++) d *= lp->dims[i];
  struct tqt_rt_tensor *loss = p->reduction == MATH_REDUCTION_NONE
                                   ? tqt_kernel_output(k, 0, lp->dtype, target->rank, target->dims)
                                   : tqt_kernel_output(k, 0, lp->dtype, 0, NULL);
  if (!loss) return k->d->status;
  double sum = 0, weight_sum = 0;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t j = 0; j < d; j++) {
      int64_t at = b * d + j, t = tqt_rt_get_int(target, at);
      double w = 0, l = 0;
      if (!p->has_ignore_index || t != p->ignore_index) {
        if (t < 0 || t >= classes)
          return tqt_kernel_fail(k, TQT_STATUS_INVALID, "target %lld is not a class in [0, %lld)",
                                 (long long)t, (long long)classes);
        w = weight ? tqt_rt_get(weight, t) : 1;
        l = -tqt_rt_get(lp, (b * classes + t) * d + j) * w;
      }
      if (p->reduction == MATH_REDUCTION_NONE) tqt_rt_set(loss, at, l);
      sum += l;
      weight_sum += w;
    }
  if (p->reduction == MATH_REDUCTION_SUM) tqt_rt_set(loss, 0, sum);
  if (p->reduction == MATH_REDUCTION_MEAN) tqt_rt_set(loss, 0, sum / weight_sum);
  return TQT_STATUS_OK;
}

static enum tqt_status math_nll_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *target = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!target) return k->d->status;
  const struct tqt_rt_tensor *weight = tqt_kernel_input(k, 2);
  if (!weight && k->d->status != TQT_STATUS_OK) return k->d->status;
  if (math_loss_check(k, x, target, weight) != TQT_STATUS_OK) return k->d->status;
  return math_nll(k, k->params, x, target, weight);
}

/* Log-probabilities = LogSoftmax(scores) along axis 1, into output 1 when asked for, else into a
 * scratch tensor; the loss is the NLL of those. */
static enum tqt_status math_sce_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *target = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!target) return k->d->status;
  const struct tqt_rt_tensor *weight = tqt_kernel_input(k, 2);
  if (!weight && k->d->status != TQT_STATUS_OK) return k->d->status;
  if (math_loss_check(k, x, target, weight) != TQT_STATUS_OK) return k->d->status;
  int64_t outer, n, inner;
  math_split(x, 1, false, &outer, &n, &inner);
  struct tqt_rt_tensor scratch = *x, *lp = &scratch;
  scratch.data = NULL;
  if (tqt_kernel_has_output(k, 1)) {
    lp = tqt_kernel_output(k, 1, x->dtype, x->rank, x->dims);
    if (!lp) return k->d->status;
  } else {
    scratch.data = malloc(x->nbytes + 1);
    if (!scratch.data) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  }
  enum tqt_status st = math_softmax_apply(k, MATH_LOG_SOFTMAX, x, lp, outer, n, inner);
  if (st == TQT_STATUS_OK) st = math_nll(k, k->params, lp, target, weight);
  free(scratch.data);
  return st;
}

/* The loss: of the scores' type, shaped as the target without reduction, else a scalar.
 * SoftmaxCrossEntropyLoss's log_prob: the scores' type and shape. */
static enum tqt_status math_loss_infer(struct tqt_infer_ctx *c) {
  const struct math_loss_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *target = tqt_infer_input(c, 1);
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  tqt_infer_unary(c);
  if (c->n_out > 1) c->out[1] = c->out[0];
  if (p->reduction != MATH_REDUCTION_NONE)
    tqt_sym_tensor(&c->out[0], dtype, 0, NULL);
  else if (target && target->kind == TQT_SYM_KIND_TENSOR && target->has_rank)
    tqt_sym_tensor(&c->out[0], dtype, target->rank, target->dims);
  else
    tqt_sym_tensor_unranked(&c->out[0], dtype);
  return TQT_STATUS_OK;
}

/* ---- Det ---- */

/* Determinant of the n×n row-major matrix a (destroyed) by LU with partial pivoting. */
static double math_det_lu(double *a, int64_t n) {
  double det = 1;
  for (int64_t c = 0; c < n; c++) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < n; r++)
      if (fabs(a[r * n + c]) > fabs(a[piv * n + c])) piv = r;
    if (a[piv * n + c] == 0) return 0;
    if (piv != c) {
      for (int64_t j = 0; j < n; j++) {
        double t = a[c * n + j];
        a[c * n + j] = a[piv * n + j];
        a[piv * n + j] = t;
      }
      det = -det;
    }
    double pv = a[c * n + c];
    det *= pv;
    for (int64_t r = c + 1; r < n; r++) {
      double f = a[r * n + c] / pv;
      for (int64_t j = c + 1; j < n; j++) a[r * n + j] -= f * a[c * n + j];
    }
  }
  return det;
}

static enum tqt_status math_det_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  char s[128];
  if (!math_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s is not a batch of square matrices",
                           tqt_rt_shape_str(x, s, sizeof s));
  int64_t m = x->dims[x->rank - 1], batch = 1;
  for (size_t i = 0; i + 2 < x->rank; i++) batch *= x->dims[i];
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank - 2, x->dims);
  if (!y) return k->d->status;
  double *a = malloc((size_t)(m * m + 1) * sizeof *a);
  if (!a) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t i = 0; i < m * m; i++) a[i] = tqt_rt_get(x, b * m * m + i);
    tqt_rt_set(y, b, math_det_lu(a, m));
  }
  free(a);
  return TQT_STATUS_OK;
}

/* One determinant per matrix: x's dims without the last two. */
static enum tqt_status math_det_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0)), *x_any = tqt_infer_input(c, 0);
  int32_t dtype = x_any ? x_any->dtype : TQT_DTYPE_UNDEFINED;
  if (!x) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  if (x->rank < 2)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "input of rank %zu", x->rank);
  tqt_sym_tensor(&c->out[0], dtype, x->rank - 2, x->dims);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel math_kernels[] = {
    {"", "Softmax", 1, math_softmax_init, math_softmax_run, math_softmax_infer},
    {"", "Softmax", 13, math_softmax_init, math_softmax_run, math_softmax_infer},
    {"", "LogSoftmax", 1, math_softmax_init, math_softmax_run, math_softmax_infer},
    {"", "LogSoftmax", 13, math_softmax_init, math_softmax_run, math_softmax_infer},
    {"", "Hardmax", 1, math_softmax_init, math_softmax_run, math_softmax_infer},
    {"", "Hardmax", 13, math_softmax_init, math_softmax_run, math_softmax_infer},
    {"", "CumSum", 11, math_cumsum_init, math_cumsum_run, tqt_infer_unary},
    {"", "TopK", 1, math_topk_init, math_topk_run, math_topk_infer},
    {"", "TopK", 10, math_topk_init, math_topk_run, math_topk_infer},
    {"", "NegativeLogLikelihoodLoss", 12, math_loss_init, math_nll_run, math_loss_infer},
    {"", "SoftmaxCrossEntropyLoss", 12, math_loss_init, math_sce_run, math_loss_infer},
    {"", "Det", 11, NULL, math_det_run, math_det_infer},
};

const struct tqt_kernel_family tqt_family_math = {"math", math_kernels,
                                                  sizeof math_kernels / sizeof math_kernels[0]};
