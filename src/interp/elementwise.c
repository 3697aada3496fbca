/* Kernels: the elementwise family. Unary math and activations; binary arithmetic, comparisons,
 * logic and bit ops with numpy broadcasting (and the `broadcast`/`axis` rule of opsets before 7);
 * variadic Max/Min/Sum/Mean; Clip, Where, Cast and CastLike.
 *
 * Every op is a loop over one contiguous run ("run function", elementwise_run_fn), generated per
 * element type by macros from one expression. One broadcasting driver walks the output in runs and
 * hands each to the loop with, per operand, whether it advances along the run or stays on one
 * element, so same-shape, scalar and per-channel cases are plain loops. float16 and bfloat16 (and,
 * for a few ops, any numeric type) go through an adapter that converts runs in chunks to float or
 * double and back. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "infer.h"
#include "kernel.h"

#define EW_MAX_IN 3        /* operands of one run function (Where has three) */
#define EW_CHUNK 256       /* elements converted at a time by the adapters and Cast */
#define EW_VARIADIC_MAX 64 /* inputs of Max, Min, Sum, Mean */

/* Bit i of step is set when operand i advances along the run, clear when it stays on element 0. */
typedef void (*elementwise_run_fn)(const void *const *in, unsigned step, void *out, int64_t n,
                                   const void *ctx);

/* float or double version of a <math.h> function, picked by the argument's type. */
#define EW_CALL1(fn, x) _Generic((x), float: fn##f, default: fn)(x)
#define EW_CALL2(fn, x, y) _Generic((x), float: fn##f, default: fn)(x, y)

/* a where c, else b, as a bit select. A conditional expression would let the compiler move the
 * arithmetic of a or b under a branch, and as float arithmetic may trap it then keeps the loop
 * scalar; this keeps float loops with conditions vectorized. */
static inline float elementwise_sel_f32(bool c, float a, float b) {
  uint32_t ua, ub, m = 0u - (uint32_t)c;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  uint32_t r = (ua & m) | (ub & ~m);
  float f;
  memcpy(&f, &r, sizeof f);
  return f;
}

static inline double elementwise_sel_f64(bool c, double a, double b) {
  uint64_t ua, ub, m = 0u - (uint64_t)c;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  uint64_t r = (ua & m) | (ub & ~m);
  double f;
  memcpy(&f, &r, sizeof f);
  return f;
}

#define EW_SEL(c, a, b)                                                                            \
  _Generic((a), float: elementwise_sel_f32, default: elementwise_sel_f64)((c), (a), (b))

/* min(max(t, 0), 1), NaN staying NaN. */
static inline float elementwise_clamp01_f32(float t) {
  t = elementwise_sel_f32(t < 0, 0.0f, t);
  return elementwise_sel_f32(t > 1, 1.0f, t);
}

static inline double elementwise_clamp01_f64(double t) {
  t = elementwise_sel_f64(t < 0, 0.0, t);
  return elementwise_sel_f64(t > 1, 1.0, t);
}

#define EW_CLAMP01(t)                                                                              \
  _Generic((t), float: elementwise_clamp01_f32, default: elementwise_clamp01_f64)(t)

/* 2^n for -126 <= n <= 127. */
static inline float elementwise_pow2_f32(int32_t n) {
  int32_t bits = (n + 127) * 8388608;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* e^x in float, vectorizable (libm's expf is not, without -ffast-math), within 2 ulp:
 * e^x = 2^n e^r with n = round(x / ln 2) and |r| <= ln 2 / 2 (ln 2 split in two for an exact
 * reduction), e^r by Cephes' polynomial; 2^n applied in two halves so that n = 128 (x near
 * ln FLT_MAX) and subnormal results need no special case. */
static inline float elementwise_exp_f32(float x) {
  float c = elementwise_sel_f32(x < -110.0f, -110.0f, x); /* keeps the int conversion defined */
  c = elementwise_sel_f32(c > 110.0f, 110.0f, c);
  c = elementwise_sel_f32(c != c, 0.0f, c); /* NaN: any finite value; the result is x below */
  float n = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
  float r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t k = (int32_t)n, k1 = k / 2;
  float y = p * elementwise_pow2_f32(k1) * elementwise_pow2_f32(k - k1);
  y = elementwise_sel_f32(x > 88.72283935546875f, INFINITY, y); /* past ln FLT_MAX */
  y = elementwise_sel_f32(x < -103.972084045410156f, 0.0f, y);  /* below half the least subnormal */
  return elementwise_sel_f32(x != x, x, y);
}

/* tanh in float from the vectorized exp: (1 - e^-2|x|) / (1 + e^-2|x|) with x's sign, and
 * below |x| = 1/4 (where that loses digits) the Taylor series to x^9 (error < 1e-8). */
static inline float elementwise_tanh_f32(float x) {
  float a = fabsf(x), e = elementwise_exp_f32(-2.0f * a);
  float big = copysignf((1.0f - e) / (1.0f + e), x);
  float x2 = x * x;
  float small =
      x + x * x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315 + x2 * (62.0f / 2835))));
  return elementwise_sel_f32(a < 0.25f, small, big);
}

/* e^x - 1 in float from the vectorized exp, and below |x| = 1/4 (where the subtraction loses
 * digits) the Taylor series to x^7 (error < 2e-9 relative). */
static inline float elementwise_expm1_f32(float x) {
  float t = 1.0f / 5040;
  t = t * x + 1.0f / 720;
  t = t * x + 1.0f / 120;
  t = t * x + 1.0f / 24;
  t = t * x + 1.0f / 6;
  t = t * x + 1.0f / 2;
  t = (t * x + 1.0f) * x;
  return elementwise_sel_f32(fabsf(x) < 0.25f, t, elementwise_exp_f32(x) - 1.0f);
}

/* Round half to even in float, vectorizable: adding and taking away 2^23 rounds in the default
 * rounding mode (to nearest, ties to even); from 2^23 on every float is an integer. */
static inline float elementwise_round_f32(float x) {
  float a = fabsf(x);
  float r = copysignf((a + 8388608.0f) - 8388608.0f, x);
  return elementwise_sel_f32(a < 8388608.0f, r, x);
}

#define EW_EXP(x) _Generic((x), float: elementwise_exp_f32, default: exp)(x)
#define EW_TANH(x) _Generic((x), float: elementwise_tanh_f32, default: tanh)(x)
#define EW_EXPM1(x) _Generic((x), float: elementwise_expm1_f32, default: expm1)(x)
#define EW_ROUND(x) _Generic((x), float: elementwise_round_f32, default: nearbyint)(x)

/* ---- element types ---- */

/* X(C type, TQT_DTYPE_ suffix, op name, op expression) for each type of a class. */
#define EW_FLOATS(X, NAME, OP) X(float, FLOAT, NAME, OP) X(double, DOUBLE, NAME, OP)
#define EW_SIGNED(X, NAME, OP)                                                                     \
  X(int8_t, INT8, NAME, OP)                                                                        \
  X(int16_t, INT16, NAME, OP) X(int32_t, INT32, NAME, OP) X(int64_t, INT64, NAME, OP)
#define EW_UNSIGNED(X, NAME, OP)                                                                   \
  X(uint8_t, UINT8, NAME, OP)                                                                      \
  X(uint16_t, UINT16, NAME, OP) X(uint32_t, UINT32, NAME, OP) X(uint64_t, UINT64, NAME, OP)
#define EW_BOOL(X, NAME, OP) X(uint8_t, BOOL, NAME, OP)

/* A designated initializer of an op's per-type table. */
#define EW_ENTRY(T, DT, NAME, OP) [TQT_DTYPE_##DT] = elementwise_##NAME##_##DT,

static bool elementwise_dtype_numeric(int32_t dt) {
  return (dt >= TQT_DTYPE_FLOAT && dt <= TQT_DTYPE_INT64) || dt == TQT_DTYPE_BOOL ||
         dt == TQT_DTYPE_FLOAT16 || dt == TQT_DTYPE_DOUBLE || dt == TQT_DTYPE_UINT32 ||
         dt == TQT_DTYPE_UINT64 || dt == TQT_DTYPE_BFLOAT16;
}

static bool elementwise_dtype_half(int32_t dt) {
  return dt == TQT_DTYPE_FLOAT16 || dt == TQT_DTYPE_BFLOAT16;
}

static elementwise_run_fn elementwise_fn_of(const elementwise_run_fn *fns, int32_t dt) {
  return dt > 0 && dt < TQT_DTYPE_COUNT ? fns[dt] : NULL;
}

/* ---- conversions between numeric types, a chunk at a time ---- */

/* A value in the widest form of its kind: floats as double, integers as int64 or uint64. */
union elementwise_num {
  double f;
  int64_t i;
  uint64_t u;
};

enum elementwise_num_kind { EW_NUM_F, EW_NUM_I, EW_NUM_U };

#define EW_LOAD_CASE(T, DT, KIND, FIELD)                                                           \
  case TQT_DTYPE_##DT:                                                                             \
    for (int64_t i = 0; i < n; i++) buf[i].FIELD = ((const T *)src)[i];                            \
    return KIND;

/* Reads n elements of type dt (n <= EW_CHUNK). */
static enum elementwise_num_kind elementwise_num_load(int32_t dt, const void *src, int64_t n,
                                                      union elementwise_num *buf) {
  const uint16_t *h = src;
  switch (dt) {
    EW_LOAD_CASE(float, FLOAT, EW_NUM_F, f)
    EW_LOAD_CASE(double, DOUBLE, EW_NUM_F, f)
    EW_LOAD_CASE(int8_t, INT8, EW_NUM_I, i)
    EW_LOAD_CASE(int16_t, INT16, EW_NUM_I, i)
    EW_LOAD_CASE(int32_t, INT32, EW_NUM_I, i)
    EW_LOAD_CASE(int64_t, INT64, EW_NUM_I, i)
    EW_LOAD_CASE(uint8_t, UINT8, EW_NUM_U, u)
    EW_LOAD_CASE(uint16_t, UINT16, EW_NUM_U, u)
    EW_LOAD_CASE(uint32_t, UINT32, EW_NUM_U, u)
    EW_LOAD_CASE(uint64_t, UINT64, EW_NUM_U, u)
  case TQT_DTYPE_BOOL:
    for (int64_t i = 0; i < n; i++) buf[i].u = ((const uint8_t *)src)[i] != 0;
    return EW_NUM_U;
  case TQT_DTYPE_FLOAT16:
    for (int64_t i = 0; i < n; i++) buf[i].f = tqt_f16_to_f32(h[i]);
    return EW_NUM_F;
  case TQT_DTYPE_BFLOAT16:
    for (int64_t i = 0; i < n; i++) buf[i].f = tqt_bf16_to_f32(h[i]);
    return EW_NUM_F;
  default:
    for (int64_t i = 0; i < n; i++) buf[i].f = 0;
    return EW_NUM_F;
  }
}

static double elementwise_num_double(enum elementwise_num_kind kind, union elementwise_num v) {
  return kind == EW_NUM_F ? v.f : kind == EW_NUM_I ? (double)v.i : (double)v.u;
}

/* Float to integer saturates (NaN gives 0) so that out-of-range values are defined; integers
 * convert modulo the width, as numpy's astype does. */
#define EW_STORE_INT_CASE(T, DT, LO, HI)                                                           \
  case TQT_DTYPE_##DT: {                                                                           \
    T *y = dst;                                                                                    \
    if (kind == EW_NUM_F) {                                                                        \
      for (int64_t i = 0; i < n; i++) {                                                            \
        double v = buf[i].f;                                                                       \
        y[i] = isnan(v) ? 0 : v <= (double)(LO) ? (LO) : v >= (double)(HI) ? (HI) : (T)v;          \
      }                                                                                            \
    } else if (kind == EW_NUM_I) {                                                                 \
      for (int64_t i = 0; i < n; i++) y[i] = (T)buf[i].i;                                          \
    } else {                                                                                       \
      for (int64_t i = 0; i < n; i++) y[i] = (T)buf[i].u;                                          \
    }                                                                                              \
    return;                                                                                        \
  }

#define EW_STORE_FLOAT_CASE(T, DT)                                                                 \
  case TQT_DTYPE_##DT: {                                                                           \
    T *y = dst;                                                                                    \
    for (int64_t i = 0; i < n; i++) y[i] = (T)elementwise_num_double(kind, buf[i]);                \
    return;                                                                                        \
  }

/* Writes n elements of type dt (n <= EW_CHUNK). */
static void elementwise_num_store(int32_t dt, void *dst, int64_t n,
                                  const union elementwise_num *buf,
                                  enum elementwise_num_kind kind) {
  uint16_t *h = dst;
  uint8_t *b = dst;
  switch (dt) {
    EW_STORE_FLOAT_CASE(float, FLOAT)
    EW_STORE_FLOAT_CASE(double, DOUBLE)
    EW_STORE_INT_CASE(int8_t, INT8, INT8_MIN, INT8_MAX)
    EW_STORE_INT_CASE(int16_t, INT16, INT16_MIN, INT16_MAX)
    EW_STORE_INT_CASE(int32_t, INT32, INT32_MIN, INT32_MAX)
    EW_STORE_INT_CASE(int64_t, INT64, INT64_MIN, INT64_MAX)
    EW_STORE_INT_CASE(uint8_t, UINT8, 0, UINT8_MAX)
    EW_STORE_INT_CASE(uint16_t, UINT16, 0, UINT16_MAX)
    EW_STORE_INT_CASE(uint32_t, UINT32, 0, UINT32_MAX)
    EW_STORE_INT_CASE(uint64_t, UINT64, 0, UINT64_MAX)
  case TQT_DTYPE_BOOL:
    for (int64_t i = 0; i < n; i++)
      b[i] = kind == EW_NUM_F ? buf[i].f != 0 : kind == EW_NUM_I ? buf[i].i != 0 : buf[i].u != 0;
    return;
  case TQT_DTYPE_FLOAT16:
    for (int64_t i = 0; i < n; i++)
      h[i] = tqt_f32_to_f16((float)elementwise_num_double(kind, buf[i]));
    return;
  case TQT_DTYPE_BFLOAT16:
    for (int64_t i = 0; i < n; i++)
      h[i] = tqt_f32_to_bf16((float)elementwise_num_double(kind, buf[i]));
    return;
  default: return;
  }
}

/* n (<= EW_CHUNK) elements of type dt into the work type (FLOAT or DOUBLE), and back. */
static void elementwise_work_from(int32_t dt, const void *src, int64_t n, int32_t work, void *dst) {
  union elementwise_num buf[EW_CHUNK];
  enum elementwise_num_kind kind = elementwise_num_load(dt, src, n, buf);
  elementwise_num_store(work, dst, n, buf, kind);
}

static void elementwise_work_to(int32_t dt, const void *src, int64_t n, int32_t work, void *dst) {
  union elementwise_num buf[EW_CHUNK];
  enum elementwise_num_kind kind = elementwise_num_load(work, src, n, buf);
  elementwise_num_store(dt, dst, n, buf, kind);
}

/* ---- the converting adapter ---- */

/* Runs a float or double loop on operands of other types, converting runs in chunks. */
struct elementwise_via {
  elementwise_run_fn fn; /* the loop on the work type */
  const void *ctx;
  int32_t work; /* FLOAT or DOUBLE */
  size_t n_in;
  int32_t in_dt[EW_MAX_IN];
  int32_t out_dt; /* BOOL outputs are written by fn directly */
};

static void elementwise_via_run(const void *const *in, unsigned step, void *out, int64_t n,
                                const void *ctx) {
  const struct elementwise_via *v = ctx;
  double ibuf[EW_MAX_IN][EW_CHUNK], obuf[EW_CHUNK]; /* double-sized: holds either work type */
  size_t osize = tqt_dtype_size(v->out_dt);
  bool out_direct = v->out_dt == v->work || v->out_dt == TQT_DTYPE_BOOL;
  for (int64_t done = 0; done < n;) {
    int64_t m = n - done < EW_CHUNK ? n - done : EW_CHUNK;
    const void *ptrs[EW_MAX_IN];
    for (size_t i = 0; i < v->n_in; i++) {
      bool adv = (step >> i) & 1u;
      const char *src =
          (const char *)in[i] + (adv ? done : 0) * (int64_t)tqt_dtype_size(v->in_dt[i]);
      if (v->in_dt[i] == v->work) {
        ptrs[i] = src;
      } else {
        elementwise_work_from(v->in_dt[i], src, adv ? m : 1, v->work, ibuf[i]);
        ptrs[i] = ibuf[i];
      }
    }
    char *dst = (char *)out + done * (int64_t)osize;
    v->fn(ptrs, step, out_direct ? (void *)dst : (void *)obuf, m, v->ctx);
    if (!out_direct) elementwise_work_to(v->out_dt, obuf, m, v->work, dst);
    done += m;
  }
}

/* Sets v up to run one of fns on operands of types in_dt: through float when they are all
 * float or 16-bit floats, through double when any_numeric allows other types. False when
 * neither applies. */
static bool elementwise_via_setup(struct elementwise_via *v, const elementwise_run_fn *fns,
                                  size_t n_in, const int32_t *in_dt, int32_t out_dt,
                                  bool any_numeric, const void *ctx) {
  bool all_float = true, all_numeric = true;
  for (size_t i = 0; i < n_in; i++) {
    all_float = all_float && (in_dt[i] == TQT_DTYPE_FLOAT || elementwise_dtype_half(in_dt[i]));
    all_numeric = all_numeric && elementwise_dtype_numeric(in_dt[i]);
  }
  if (all_float && fns[TQT_DTYPE_FLOAT]) {
    v->work = TQT_DTYPE_FLOAT;
  } else if (any_numeric && all_numeric && fns[TQT_DTYPE_DOUBLE]) {
    v->work = TQT_DTYPE_DOUBLE;
  } else {
    return false;
  }
  v->fn = fns[v->work];
  v->ctx = ctx;
  v->n_in = n_in;
  for (size_t i = 0; i < n_in; i++) v->in_dt[i] = in_dt[i];
  v->out_dt = out_dt;
  return true;
}

/* ---- the broadcasting driver ---- */

/* Calls fn on every contiguous run of y, whose shape the inputs broadcast to. Axes of size 1 are
 * dropped and neighbouring axes that every operand walks as one are merged, so the innermost run
 * is as long as possible; the outer axes advance with a carried multi-index. */
static void elementwise_broadcast_each(const struct tqt_rt_tensor *const *in, size_t n_in,
                                       struct tqt_rt_tensor *y, elementwise_run_fn fn,
                                       const void *ctx) {
  int64_t numel = tqt_rt_numel(y);
  if (numel == 0) return;
  int64_t st[EW_MAX_IN][TQT_RANK_MAX], cst[EW_MAX_IN][TQT_RANK_MAX], dims[TQT_RANK_MAX];
  size_t r = 0; /* collapsed axes, innermost first */
  for (size_t i = 0; i < n_in; i++) tqt_broadcast_strides(in[i], y->rank, y->dims, st[i]);
  for (size_t ax = y->rank; ax-- > 0;) {
    int64_t d = y->dims[ax];
    if (d == 1) continue;
    bool merge = r > 0;
    for (size_t i = 0; merge && i < n_in; i++) merge = st[i][ax] == cst[i][r - 1] * dims[r - 1];
    if (merge) {
      dims[r - 1] *= d;
      continue;
    }
    dims[r] = d;
    for (size_t i = 0; i < n_in; i++) cst[i][r] = st[i][ax];
    r++;
  }
  if (r == 0) {
    dims[0] = 1;
    for (size_t i = 0; i < n_in; i++) cst[i][0] = 0;
    r = 1;
  }
  unsigned step = 0;
  int64_t esize[EW_MAX_IN], off[EW_MAX_IN] = {0}, idx[TQT_RANK_MAX] = {0};
  for (size_t i = 0; i < n_in; i++) {
    if (cst[i][0]) step |= 1u << i;
    esize[i] = (int64_t)tqt_dtype_size(in[i]->dtype);
  }
  int64_t inner = dims[0], osize = (int64_t)tqt_dtype_size(y->dtype);
  char *out = y->data;
  for (int64_t done = 0; done < numel; done += inner) {
    const void *ptrs[EW_MAX_IN];
    for (size_t i = 0; i < n_in; i++) ptrs[i] = (const char *)in[i]->data + off[i] * esize[i];
    fn(ptrs, step, out + done * osize, inner, ctx);
    for (size_t a = 1; a < r; a++) {
      for (size_t i = 0; i < n_in; i++) off[i] += cst[i][a];
      if (++idx[a] < dims[a]) break;
      for (size_t i = 0; i < n_in; i++) off[i] -= cst[i][a] * dims[a];
      idx[a] = 0;
    }
  }
}

/* The shape n tensors broadcast to (numpy rules); fails the node when they do not. */
static enum tqt_status elementwise_shape_broadcast(struct tqt_kernel_ctx *k,
                                                   const struct tqt_rt_tensor *const *in, size_t n,
                                                   struct tqt_rt_tensor *shape) {
  memset(shape, 0, sizeof *shape);
  shape->rank = in[0]->rank;
  memcpy(shape->dims, in[0]->dims, in[0]->rank * sizeof *shape->dims);
  for (size_t i = 1; i < n; i++) {
    struct tqt_rt_tensor acc = *shape;
    enum tqt_status st = tqt_broadcast_shape(k, &acc, in[i], &shape->rank, shape->dims);
    if (st != TQT_STATUS_OK) return st;
  }
  return TQT_STATUS_OK;
}

/* ---- loop generators ---- */

#define EW_BINARY_BODY(T, TO, OP)                                                                  \
  const T *a = in[0], *b = in[1];                                                                  \
  TO *y = out;                                                                                     \
  (void)ctx;                                                                                       \
  switch (step & 3u) {                                                                             \
  case 3:                                                                                          \
    for (int64_t i = 0; i < n; i++) y[i] = OP(T, a[i], b[i]);                                      \
    break;                                                                                         \
  case 1: {                                                                                        \
    const T bv = b[0];                                                                             \
    for (int64_t i = 0; i < n; i++) y[i] = OP(T, a[i], bv);                                        \
    break;                                                                                         \
  }                                                                                                \
  case 2: {                                                                                        \
    const T av = a[0];                                                                             \
    for (int64_t i = 0; i < n; i++) y[i] = OP(T, av, b[i]);                                        \
    break;                                                                                         \
  }                                                                                                \
  default: {                                                                                       \
    const TO v = OP(T, a[0], b[0]);                                                                \
    for (int64_t i = 0; i < n; i++) y[i] = v;                                                      \
    break;                                                                                         \
  }                                                                                                \
  }

/* y = OP(T, a, b), y of the operands' type. */
#define EW_GEN_BINARY(T, DT, NAME, OP)                                                             \
  static void elementwise_##NAME##_##DT(const void *const *in, unsigned step, void *out,           \
                                        int64_t n, const void *ctx) {                              \
    EW_BINARY_BODY(T, T, OP)                                                                       \
  }

/* y = OP(T, a, b), y bool. */
#define EW_GEN_BINARY_BOOL(T, DT, NAME, OP)                                                        \
  static void elementwise_##NAME##_##DT(const void *const *in, unsigned step, void *out,           \
                                        int64_t n, const void *ctx) {                              \
    EW_BINARY_BODY(T, uint8_t, OP)                                                                 \
  }

struct elementwise_unary_params;

/* y = OP(T, x, p) over a contiguous run; p holds the node's attributes. */
#define EW_UNARY_BODY(T, TO, OP)                                                                   \
  const T *x = in[0];                                                                              \
  TO *y = out;                                                                                     \
  const struct elementwise_unary_params *p = ctx;                                                  \
  (void)step;                                                                                      \
  (void)p;                                                                                         \
  for (int64_t i = 0; i < n; i++) {                                                                \
    const T v = x[i];                                                                              \
    y[i] = OP(T, v, p);                                                                            \
  }

#define EW_GEN_UNARY(T, DT, NAME, OP)                                                              \
  static void elementwise_##NAME##_##DT(const void *const *in, unsigned step, void *out,           \
                                        int64_t n, const void *ctx) {                              \
    EW_UNARY_BODY(T, T, OP)                                                                        \
  }

#define EW_GEN_UNARY_BOOL(T, DT, NAME, OP)                                                         \
  static void elementwise_##NAME##_##DT(const void *const *in, unsigned step, void *out,           \
                                        int64_t n, const void *ctx) {                              \
    EW_UNARY_BODY(T, uint8_t, OP)                                                                  \
  }

/* y = F(x) for a <math.h> function F. */
#define EW_GEN_MATH(T, DT, NAME, F)                                                                \
  static void elementwise_##NAME##_##DT(const void *const *in, unsigned step, void *out,           \
                                        int64_t n, const void *ctx) {                              \
    const T *x = in[0];                                                                            \
    T *y = out;                                                                                    \
    (void)step;                                                                                    \
    (void)ctx;                                                                                     \
    for (int64_t i = 0; i < n; i++) y[i] = EW_CALL1(F, x[i]);                                      \
  }

/* ---- binary ops ---- */

/* Integer arithmetic wraps (through uint64) instead of overflowing, which C leaves undefined. */
#define EW_FADD(T, a, b) ((a) + (b))
#define EW_IADD(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
#define EW_FSUB(T, a, b) ((a) - (b))
#define EW_ISUB(T, a, b) ((T)((uint64_t)(a) - (uint64_t)(b)))
#define EW_FMUL(T, a, b) ((a) * (b))
#define EW_IMUL(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
#define EW_FDIV(T, a, b) ((a) / (b))
/* Integer division truncates; by zero it gives 0 and MIN / -1 wraps, where C would trap. */
#define EW_SDIV(T, a, b) ((b) == 0 ? (T)0 : (b) == -1 ? (T)(0 - (uint64_t)(a)) : (T)((a) / (b)))
#define EW_UDIV(T, a, b) ((b) == 0 ? (T)0 : (T)((a) / (b)))
/* Squares without pow for the common exponent 2 (the loop is unswitched on a scalar exponent). */
#define EW_FPOW(T, a, b) ((b) == 2 ? (a) * (a) : EW_CALL2(pow, a, b))
/* A NaN operand gives NaN, as np.maximum and np.minimum do. */
#define EW_FMAX(T, a, b) EW_SEL(((a) > (b)) | ((a) != (a)), a, b)
#define EW_FMIN(T, a, b) EW_SEL(((a) < (b)) | ((a) != (a)), a, b)
#define EW_IMAX(T, a, b) ((a) > (b) ? (a) : (b))
#define EW_IMIN(T, a, b) ((a) < (b) ? (a) : (b))
#define EW_FPRELU(T, a, b) EW_SEL((a) < 0, (a) * (b), a)
#define EW_SPRELU(T, a, b) ((a) < 0 ? EW_IMUL(T, a, b) : (a))
#define EW_EQ(T, a, b) ((uint8_t)((a) == (b)))
#define EW_LT(T, a, b) ((uint8_t)((a) < (b)))
#define EW_LE(T, a, b) ((uint8_t)((a) <= (b)))
#define EW_GT(T, a, b) ((uint8_t)((a) > (b)))
#define EW_GE(T, a, b) ((uint8_t)((a) >= (b)))
#define EW_AND(T, a, b) ((uint8_t)(((a) != 0) & ((b) != 0)))
#define EW_OR(T, a, b) ((uint8_t)(((a) != 0) | ((b) != 0)))
#define EW_XOR(T, a, b) ((uint8_t)(((a) != 0) ^ ((b) != 0)))
#define EW_BITAND(T, a, b) ((T)((a) & (b)))
#define EW_BITOR(T, a, b) ((T)((a) | (b)))
#define EW_BITXOR(T, a, b) ((T)((a) ^ (b)))
/* Shifting by the width or more gives 0 (C leaves it undefined). */
#define EW_SHL(T, a, b) ((uint64_t)(b) >= sizeof(T) * 8 ? (T)0 : (T)((a) << (b)))
#define EW_SHR(T, a, b) ((uint64_t)(b) >= sizeof(T) * 8 ? (T)0 : (T)((a) >> (b)))

/* Mod with fmod=0 takes the divisor's sign (numpy's mod); fmod=1 the dividend's (C's). By zero
 * gives 0, like numpy. */
static float elementwise_floor_modf(float a, float b) {
  float r = fmodf(a, b);
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

static double elementwise_floor_mod(double a, double b) {
  double r = fmod(a, b);
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

static int64_t elementwise_floor_mod_int(int64_t a, int64_t b) {
  if (b == 0 || b == -1) return 0; /* -1: INT64_MIN % -1 traps */
  int64_t r = a % b;
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

#define EW_FMOD_FLOOR(T, a, b) EW_CALL2(elementwise_floor_mod, a, b)
#define EW_FMOD_TRUNC(T, a, b) EW_CALL2(fmod, a, b)
#define EW_SMOD_FLOOR(T, a, b) ((T)elementwise_floor_mod_int(a, b))
#define EW_SMOD_TRUNC(T, a, b) ((b) == 0 || (b) == -1 ? (T)0 : (T)((a) % (b)))
#define EW_UMOD(T, a, b) ((b) == 0 ? (T)0 : (T)((a) % (b)))

EW_FLOATS(EW_GEN_BINARY, add, EW_FADD)
EW_SIGNED(EW_GEN_BINARY, add, EW_IADD)
EW_UNSIGNED(EW_GEN_BINARY, add, EW_IADD)
EW_FLOATS(EW_GEN_BINARY, sub, EW_FSUB)
EW_SIGNED(EW_GEN_BINARY, sub, EW_ISUB)
EW_UNSIGNED(EW_GEN_BINARY, sub, EW_ISUB)
EW_FLOATS(EW_GEN_BINARY, mul, EW_FMUL)
EW_SIGNED(EW_GEN_BINARY, mul, EW_IMUL)
EW_UNSIGNED(EW_GEN_BINARY, mul, EW_IMUL)
EW_FLOATS(EW_GEN_BINARY, div, EW_FDIV)
EW_SIGNED(EW_GEN_BINARY, div, EW_SDIV)
EW_UNSIGNED(EW_GEN_BINARY, div, EW_UDIV)
EW_FLOATS(EW_GEN_BINARY, pow, EW_FPOW)
EW_FLOATS(EW_GEN_BINARY, max, EW_FMAX)
EW_SIGNED(EW_GEN_BINARY, max, EW_IMAX)
EW_UNSIGNED(EW_GEN_BINARY, max, EW_IMAX)
EW_FLOATS(EW_GEN_BINARY, min, EW_FMIN)
EW_SIGNED(EW_GEN_BINARY, min, EW_IMIN)
EW_UNSIGNED(EW_GEN_BINARY, min, EW_IMIN)
EW_FLOATS(EW_GEN_BINARY, mod, EW_FMOD_FLOOR)
EW_SIGNED(EW_GEN_BINARY, mod, EW_SMOD_FLOOR)
EW_UNSIGNED(EW_GEN_BINARY, mod, EW_UMOD)
EW_FLOATS(EW_GEN_BINARY, fmod, EW_FMOD_TRUNC)
EW_SIGNED(EW_GEN_BINARY, fmod, EW_SMOD_TRUNC)
EW_UNSIGNED(EW_GEN_BINARY, fmod, EW_UMOD)
EW_FLOATS(EW_GEN_BINARY, prelu, EW_FPRELU)
EW_SIGNED(EW_GEN_BINARY, prelu, EW_SPRELU)
EW_UNSIGNED(EW_GEN_BINARY, shl, EW_SHL)
EW_UNSIGNED(EW_GEN_BINARY, shr, EW_SHR)
EW_SIGNED(EW_GEN_BINARY, bitand, EW_BITAND)
EW_UNSIGNED(EW_GEN_BINARY, bitand, EW_BITAND)
EW_SIGNED(EW_GEN_BINARY, bitor, EW_BITOR)
EW_UNSIGNED(EW_GEN_BINARY, bitor, EW_BITOR)
EW_SIGNED(EW_GEN_BINARY, bitxor, EW_BITXOR)
EW_UNSIGNED(EW_GEN_BINARY, bitxor, EW_BITXOR)
#define EW_GEN_COMPARE(NAME, OP)                                                                   \
  EW_FLOATS(EW_GEN_BINARY_BOOL, NAME, OP)                                                          \
  EW_SIGNED(EW_GEN_BINARY_BOOL, NAME, OP)                                                          \
  EW_UNSIGNED(EW_GEN_BINARY_BOOL, NAME, OP)                                                        \
  EW_BOOL(EW_GEN_BINARY_BOOL, NAME, OP)
EW_GEN_COMPARE(eq, EW_EQ)
EW_GEN_COMPARE(lt, EW_LT)
EW_GEN_COMPARE(le, EW_LE)
EW_GEN_COMPARE(gt, EW_GT)
EW_GEN_COMPARE(ge, EW_GE)
EW_BOOL(EW_GEN_BINARY_BOOL, and, EW_AND)
EW_BOOL(EW_GEN_BINARY_BOOL, or, EW_OR)
EW_BOOL(EW_GEN_BINARY_BOOL, xor, EW_XOR)

struct elementwise_binary_op {
  elementwise_run_fn fns[TQT_DTYPE_COUNT];
  bool to_bool;        /* comparisons and logic */
  bool mixed;          /* Pow: the exponent may have another type; non-float types go via double */
  bool unidirectional; /* PRelu: the second input broadcasts to the first's shape */
};

#define EW_ALL_NUMERIC(NAME)                                                                       \
  EW_FLOATS(EW_ENTRY, NAME, _) EW_SIGNED(EW_ENTRY, NAME, _) EW_UNSIGNED(EW_ENTRY, NAME, _)

static const struct elementwise_binary_op elementwise_op_add = {.fns = {EW_ALL_NUMERIC(add)}};
static const struct elementwise_binary_op elementwise_op_sub = {.fns = {EW_ALL_NUMERIC(sub)}};
static const struct elementwise_binary_op elementwise_op_mul = {.fns = {EW_ALL_NUMERIC(mul)}};
static const struct elementwise_binary_op elementwise_op_div = {.fns = {EW_ALL_NUMERIC(div)}};
static const struct elementwise_binary_op elementwise_op_max = {.fns = {EW_ALL_NUMERIC(max)}};
static const struct elementwise_binary_op elementwise_op_min = {.fns = {EW_ALL_NUMERIC(min)}};
static const struct elementwise_binary_op elementwise_op_mod = {.fns = {EW_ALL_NUMERIC(mod)}};
static const struct elementwise_binary_op elementwise_op_fmod = {.fns = {EW_ALL_NUMERIC(fmod)}};
static const struct elementwise_binary_op elementwise_op_pow = {
    .fns = {EW_FLOATS(EW_ENTRY, pow, _)}, .mixed = true};
static const struct elementwise_binary_op elementwise_op_prelu = {
    .fns = {EW_FLOATS(EW_ENTRY, prelu, _) EW_SIGNED(EW_ENTRY, prelu, _)}, .unidirectional = true};
static const struct elementwise_binary_op elementwise_op_shl = {
    .fns = {EW_UNSIGNED(EW_ENTRY, shl, _)}};
static const struct elementwise_binary_op elementwise_op_shr = {
    .fns = {EW_UNSIGNED(EW_ENTRY, shr, _)}};
static const struct elementwise_binary_op elementwise_op_bitand = {
    .fns = {EW_SIGNED(EW_ENTRY, bitand, _) EW_UNSIGNED(EW_ENTRY, bitand, _)}};
static const struct elementwise_binary_op elementwise_op_bitor = {
    .fns = {EW_SIGNED(EW_ENTRY, bitor, _) EW_UNSIGNED(EW_ENTRY, bitor, _)}};
static const struct elementwise_binary_op elementwise_op_bitxor = {
    .fns = {EW_SIGNED(EW_ENTRY, bitxor, _) EW_UNSIGNED(EW_ENTRY, bitxor, _)}};
#define EW_COMPARE_OP(NAME)                                                                        \
  static const struct elementwise_binary_op elementwise_op_##NAME = {                              \
      .fns = {EW_ALL_NUMERIC(NAME) EW_BOOL(EW_ENTRY, NAME, _)}, .to_bool = true};
EW_COMPARE_OP(eq)
EW_COMPARE_OP(lt)
EW_COMPARE_OP(le)
EW_COMPARE_OP(gt)
EW_COMPARE_OP(ge)
static const struct elementwise_binary_op elementwise_op_and = {.fns = {EW_BOOL(EW_ENTRY, and, _)},
                                                                .to_bool = true};
static const struct elementwise_binary_op elementwise_op_or = {.fns = {EW_BOOL(EW_ENTRY, or, _)},
                                                               .to_bool = true};
static const struct elementwise_binary_op elementwise_op_xor = {.fns = {EW_BOOL(EW_ENTRY, xor, _)},
                                                                .to_bool = true};

static const struct {
  const char *op_type;
  const struct elementwise_binary_op *op;
} elementwise_binary_ops[] = {
    {"Add", &elementwise_op_add},
    {"Sub", &elementwise_op_sub},
    {"Mul", &elementwise_op_mul},
    {"Div", &elementwise_op_div},
    {"Pow", &elementwise_op_pow},
    {"PRelu", &elementwise_op_prelu},
    {"Equal", &elementwise_op_eq},
    {"Less", &elementwise_op_lt},
    {"LessOrEqual", &elementwise_op_le},
    {"Greater", &elementwise_op_gt},
    {"GreaterOrEqual", &elementwise_op_ge},
    {"And", &elementwise_op_and},
    {"Or", &elementwise_op_or},
    {"Xor", &elementwise_op_xor},
    {"BitwiseAnd", &elementwise_op_bitand},
    {"BitwiseOr", &elementwise_op_bitor},
    {"BitwiseXor", &elementwise_op_bitxor},
    {"Max", &elementwise_op_max},
    {"Min", &elementwise_op_min},
    {"Sum", &elementwise_op_add},
    {"Mean", &elementwise_op_add},
};

struct elementwise_binary_params {
  const struct elementwise_binary_op *op;
  bool legacy;           /* opset < 7: B broadcasts onto A by the `broadcast`/`axis` rule */
  bool legacy_broadcast; /* broadcast=1 */
  bool has_axis;
  int64_t axis;
  bool mean; /* Mean: Sum, then divided by the input count */
};

static enum tqt_status elementwise_binary_init(struct tqt_kernel_ctx *k) {
  const struct tqt_node *n = k->node;
  struct elementwise_binary_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (strcmp(n->op_type, "Mod") == 0) {
    int64_t fmod_attr = tqt_attr_int(n, "fmod", 0);
    if (fmod_attr != 0 && fmod_attr != 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "fmod must be 0 or 1, got %lld",
                             (long long)fmod_attr);
    p->op = fmod_attr ? &elementwise_op_fmod : &elementwise_op_mod;
  } else if (strcmp(n->op_type, "BitShift") == 0) {
    const char *dir = tqt_attr_string(n, "direction", "");
    if (strcmp(dir, "LEFT") == 0)
      p->op = &elementwise_op_shl;
    else if (strcmp(dir, "RIGHT") == 0)
      p->op = &elementwise_op_shr;
    else
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "direction must be LEFT or RIGHT, got '%s'",
                             dir);
  } else {
    for (size_t i = 0; i < sizeof elementwise_binary_ops / sizeof *elementwise_binary_ops; i++)
      if (strcmp(n->op_type, elementwise_binary_ops[i].op_type) == 0)
        p->op = elementwise_binary_ops[i].op;
    if (!p->op) return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "not a binary elementwise op");
  }
  p->mean = strcmp(n->op_type, "Mean") == 0;
  p->legacy = k->kernel->since_version < 7;
  p->legacy_broadcast = tqt_attr_int(n, "broadcast", 0) != 0;
  p->has_axis = tqt_attr_has(n, "axis");
  p->axis = tqt_attr_int(n, "axis", 0);
  k->params = p;
  return TQT_STATUS_OK;
}

/* Opsets before 7: with broadcast=1, B's dims line up with A's from `axis` (default: the
 * trailing ones); without it the shapes must match. PRelu's slope then is per channel (axis 1)
 * when its length is A's dim 1. Rewrites b's header (not its data) to A's rank. */
static enum tqt_status elementwise_legacy_align(struct tqt_kernel_ctx *k,
                                                const struct elementwise_binary_params *p,
                                                const struct tqt_rt_tensor *a,
                                                struct tqt_rt_tensor *b) {
  char sa[128], sb[128];
  int64_t axis;
  if (p->op == &elementwise_op_prelu) {
    int64_t numel = tqt_rt_numel(b);
    bool per_channel = b->rank == 1 && a->rank >= 2 && numel == a->dims[1] && numel != 1;
    axis = per_channel ? 1 : (int64_t)a->rank - (int64_t)b->rank;
  } else if (p->legacy_broadcast) {
    axis = p->has_axis ? p->axis : (int64_t)a->rank - (int64_t)b->rank;
    if (axis < 0 && p->has_axis) axis += (int64_t)a->rank;
  } else {
    bool same = a->rank == b->rank;
    for (size_t i = 0; same && i < a->rank; i++) same = a->dims[i] == b->dims[i];
    if (!same)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "shapes %s and %s differ and broadcast=0",
                             tqt_rt_shape_str(a, sa, sizeof sa),
                             tqt_rt_shape_str(b, sb, sizeof sb));
    return TQT_STATUS_OK;
  }
  if (axis < 0 || axis + (int64_t)b->rank > (int64_t)a->rank)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s cannot broadcast onto %s at axis %lld",
                           tqt_rt_shape_str(b, sb, sizeof sb), tqt_rt_shape_str(a, sa, sizeof sa),
                           (long long)axis);
  int64_t dims[TQT_RANK_MAX];
  for (size_t i = 0; i < a->rank; i++) dims[i] = 1;
  for (size_t i = 0; i < b->rank; i++) dims[(size_t)axis + i] = b->dims[i];
  memcpy(b->dims, dims, sizeof dims);
  b->rank = a->rank;
  return TQT_STATUS_OK;
}

/* Picks the loop for operands of types in_dt: the op's own for the common type, else through
 * the converting adapter (set up in via). NULL when the types are not supported. */
static elementwise_run_fn elementwise_fn_pick(const elementwise_run_fn *fns, size_t n_in,
                                              const int32_t *in_dt, int32_t out_dt,
                                              bool any_numeric, const void *ctx,
                                              struct elementwise_via *via, const void **fn_ctx) {
  bool same = true;
  for (size_t i = 1; i < n_in; i++) same = same && in_dt[i] == in_dt[0];
  elementwise_run_fn fn = same ? elementwise_fn_of(fns, in_dt[0]) : NULL;
  if (fn) {
    *fn_ctx = ctx;
    return fn;
  }
  if (!elementwise_via_setup(via, fns, n_in, in_dt, out_dt, any_numeric, ctx)) return NULL;
  *fn_ctx = via;
  return elementwise_via_run;
}

static enum tqt_status elementwise_binary_run(struct tqt_kernel_ctx *k) {
  const struct elementwise_binary_params *p = k->params;
  const struct tqt_rt_tensor *a = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *b0 = a ? tqt_kernel_input_required(k, 1) : NULL;
  if (!a || !b0) return k->d->status;
  struct tqt_rt_tensor b = *b0;
  char sa[128], sb[128];
  enum tqt_status st;
  if (!p->op->mixed && a->dtype != b.dtype)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input types %s and %s differ",
                           tqt_dtype_name(a->dtype), tqt_dtype_name(b.dtype));
  if (p->legacy && (st = elementwise_legacy_align(k, p, a, &b)) != TQT_STATUS_OK) return st;
  const struct tqt_rt_tensor *ops[2] = {a, &b};
  struct tqt_rt_tensor shape;
  if ((st = elementwise_shape_broadcast(k, ops, 2, &shape)) != TQT_STATUS_OK) return st;
  if (p->op->unidirectional &&
      (shape.rank != a->rank || memcmp(shape.dims, a->dims, a->rank * sizeof *a->dims) != 0))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s does not broadcast to %s",
                           tqt_rt_shape_str(&b, sb, sizeof sb), tqt_rt_shape_str(a, sa, sizeof sa));
  int32_t out_dt = p->op->to_bool ? TQT_DTYPE_BOOL : a->dtype;
  int32_t in_dt[2] = {a->dtype, b.dtype};
  struct elementwise_via via;
  const void *fn_ctx;
  elementwise_run_fn fn =
      elementwise_fn_pick(p->op->fns, 2, in_dt, out_dt, p->op->mixed, NULL, &via, &fn_ctx);
  if (!fn)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "input types %s and %s are not supported",
                           tqt_dtype_name(a->dtype), tqt_dtype_name(b.dtype));
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, out_dt, shape.rank, shape.dims);
  if (!y) return k->d->status;
  elementwise_broadcast_each(ops, 2, y, fn, fn_ctx);
  return TQT_STATUS_OK;
}

/* ---- variadic ops: Max, Min, Sum, Mean ---- */

/* y /= count (Mean's division). */
static void elementwise_divide(struct tqt_rt_tensor *y, size_t count) {
  int64_t n = tqt_rt_numel(y);
  if (y->dtype == TQT_DTYPE_FLOAT) {
    float *f = y->data, c = (float)count;
    for (int64_t i = 0; i < n; i++) f[i] /= c;
    return;
  }
  size_t esize = tqt_dtype_size(y->dtype);
  for (int64_t done = 0; done < n;) {
    int64_t m = n - done < EW_CHUNK ? n - done : EW_CHUNK;
    union elementwise_num buf[EW_CHUNK];
    char *p = (char *)y->data + done * (int64_t)esize;
    enum elementwise_num_kind kind = elementwise_num_load(y->dtype, p, m, buf);
    for (int64_t i = 0; i < m; i++) buf[i].f = elementwise_num_double(kind, buf[i]) / (double)count;
    elementwise_num_store(y->dtype, p, m, buf, EW_NUM_F);
    done += m;
  }
}

static enum tqt_status elementwise_variadic_run(struct tqt_kernel_ctx *k) {
  const struct elementwise_binary_params *p = k->params;
  const struct tqt_rt_tensor *in[EW_VARIADIC_MAX];
  size_t n = k->n_inputs;
  if (n == 0) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "no inputs");
  if (n > sizeof in / sizeof *in)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%zu inputs (at most %zu)", n,
                           sizeof in / sizeof *in);
  for (size_t i = 0; i < n; i++) {
    if (!(in[i] = tqt_kernel_input_required(k, i))) return k->d->status;
    if (in[i]->dtype != in[0]->dtype)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %zu is %s, input 0 %s", i,
                             tqt_dtype_name(in[i]->dtype), tqt_dtype_name(in[0]->dtype));
  }
  struct tqt_rt_tensor shape;
  enum tqt_status st = elementwise_shape_broadcast(k, in, n, &shape);
  if (st != TQT_STATUS_OK) return st;
  int32_t dt = in[0]->dtype, in_dt[2] = {dt, dt};
  struct elementwise_via via;
  const void *fn_ctx;
  elementwise_run_fn fn = elementwise_fn_pick(p->op->fns, 2, in_dt, dt, false, NULL, &via, &fn_ctx);
  if (!fn)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s is not supported",
                           tqt_dtype_name(dt));
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, dt, shape.rank, shape.dims);
  if (!y) return k->d->status;
  if (n == 1) {
    if (y->nbytes) memcpy(y->data, in[0]->data, y->nbytes);
  } else {
    /* Folds left to right, the running result in y. */
    const struct tqt_rt_tensor *ops[2] = {in[0], in[1]};
    elementwise_broadcast_each(ops, 2, y, fn, fn_ctx);
    for (size_t i = 2; i < n; i++) {
      ops[0] = y;
      ops[1] = in[i];
      elementwise_broadcast_each(ops, 2, y, fn, fn_ctx);
    }
  }
  if (p->mean) elementwise_divide(y, n);
  return TQT_STATUS_OK;
}

/* ---- unary ops ---- */

struct elementwise_unary_params {
  const struct elementwise_unary_op *op;
  float a[2]; /* the op's attributes, in the order of its table entry */
};

/* Activations and attributes; integer versions wrap like the binary ones. */
#define EW_RELU(T, v, p) ((v) < 0 ? (T)0 : (v)) /* NaN stays NaN */
#define EW_FNEG(T, v, p) (-(v))
#define EW_SNEG(T, v, p) ((T)(0 - (uint64_t)(v)))
#define EW_SABS(T, v, p) ((v) < 0 ? (T)(0 - (uint64_t)(v)) : (v))
#define EW_UABS(T, v, p) (v)
#define EW_SIGN(T, v, p) ((v) > 0 ? (T)1 : (v) < 0 ? (T)-1 : (v)) /* 0 and NaN stay */
#define EW_USIGN(T, v, p) ((v) > 0 ? (T)1 : (T)0)
#define EW_RECIPROCAL(T, v, p) ((T)1 / (v))
#define EW_SIGMOID(T, v, p) ((T)1 / ((T)1 + EW_EXP(-(v))))
/* log(1 + e^x) without overflow for large x. */
#define EW_SOFTPLUS(T, v, p)                                                                       \
  ((v) > 0 ? (v) + EW_CALL1(log1p, EW_CALL1(exp, -(v))) : EW_CALL1(log1p, EW_CALL1(exp, v)))
#define EW_SOFTSIGN(T, v, p) ((v) / ((T)1 + EW_CALL1(fabs, v)))
#define EW_MISH(T, v, p) ((v) * EW_TANH(EW_SOFTPLUS(T, v, p)))
#define EW_HARDSIGMOID(T, v, p) EW_CLAMP01((T)(p)->a[0] * (v) + (T)(p)->a[1])
#define EW_HARDSWISH(T, v, p) ((v) * EW_CLAMP01((v) * (T)(1.0 / 6.0) + (T)0.5))
#define EW_LEAKYRELU(T, v, p) EW_SEL((v) < 0, (T)(p)->a[0] * (v), v)
#define EW_ELU(T, v, p) EW_SEL((v) < 0, (T)(p)->a[0] * EW_EXPM1(v), v)
#define EW_SELU(T, v, p) ((T)(p)->a[1] * EW_SEL((v) > 0, v, (T)(p)->a[0] * EW_EXPM1(v)))
#define EW_CELU(T, v, p) EW_SEL((v) > 0, v, (T)(p)->a[0] * EW_EXPM1((v) / (T)(p)->a[0]))
#define EW_THRESHOLDEDRELU(T, v, p) ((v) > (T)(p)->a[0] ? (v) : (T)0)
#define EW_SHRINK(T, v, p)                                                                         \
  EW_SEL((v) < -(T)(p)->a[0], (v) + (T)(p)->a[1],                                                  \
         EW_SEL((v) > (T)(p)->a[0], (v) - (T)(p)->a[1], (T)0))
#define EW_EXP_OP(T, v, p) EW_EXP(v)
#define EW_TANH_OP(T, v, p) EW_TANH(v)
#define EW_ROUND_OP(T, v, p) EW_ROUND(v)
#define EW_ISNAN(T, v, p) ((uint8_t)(isnan(v) != 0))
#define EW_ISINF(T, v, p) ((uint8_t)(isinf(v) && ((v) > 0 ? (p)->a[0] != 0 : (p)->a[1] != 0)))
#define EW_NOT(T, v, p) ((uint8_t) !(v))
#define EW_BITNOT(T, v, p) ((T) ~(v))

EW_FLOATS(EW_GEN_UNARY, relu, EW_RELU)
EW_SIGNED(EW_GEN_UNARY, relu, EW_RELU)
EW_FLOATS(EW_GEN_UNARY, neg, EW_FNEG)
EW_SIGNED(EW_GEN_UNARY, neg, EW_SNEG)
EW_FLOATS(EW_GEN_MATH, abs, fabs)
EW_SIGNED(EW_GEN_UNARY, abs, EW_SABS)
EW_UNSIGNED(EW_GEN_UNARY, abs, EW_UABS)
EW_FLOATS(EW_GEN_UNARY, sign, EW_SIGN)
EW_SIGNED(EW_GEN_UNARY, sign, EW_SIGN)
EW_UNSIGNED(EW_GEN_UNARY, sign, EW_USIGN)
EW_FLOATS(EW_GEN_UNARY, reciprocal, EW_RECIPROCAL)
EW_FLOATS(EW_GEN_UNARY, sigmoid, EW_SIGMOID)
EW_FLOATS(EW_GEN_UNARY, softplus, EW_SOFTPLUS)
EW_FLOATS(EW_GEN_UNARY, softsign, EW_SOFTSIGN)
EW_FLOATS(EW_GEN_UNARY, mish, EW_MISH)
EW_FLOATS(EW_GEN_UNARY, hardsigmoid, EW_HARDSIGMOID)
EW_FLOATS(EW_GEN_UNARY, hardswish, EW_HARDSWISH)
EW_FLOATS(EW_GEN_UNARY, leakyrelu, EW_LEAKYRELU)
EW_FLOATS(EW_GEN_UNARY, elu, EW_ELU)
EW_FLOATS(EW_GEN_UNARY, selu, EW_SELU)
EW_FLOATS(EW_GEN_UNARY, celu, EW_CELU)
EW_FLOATS(EW_GEN_UNARY, thresholdedrelu, EW_THRESHOLDEDRELU)
EW_FLOATS(EW_GEN_UNARY, shrink, EW_SHRINK)
EW_FLOATS(EW_GEN_UNARY_BOOL, isnan, EW_ISNAN)
EW_FLOATS(EW_GEN_UNARY_BOOL, isinf, EW_ISINF)
EW_BOOL(EW_GEN_UNARY_BOOL, not, EW_NOT)
EW_SIGNED(EW_GEN_UNARY, bitnot, EW_BITNOT)
EW_UNSIGNED(EW_GEN_UNARY, bitnot, EW_BITNOT)
EW_FLOATS(EW_GEN_MATH, floor, floor)
EW_FLOATS(EW_GEN_MATH, ceil, ceil)
EW_FLOATS(EW_GEN_UNARY, round, EW_ROUND_OP) /* half to even */
EW_FLOATS(EW_GEN_MATH, sqrt, sqrt)
EW_FLOATS(EW_GEN_UNARY, exp, EW_EXP_OP)
EW_FLOATS(EW_GEN_MATH, log, log)
EW_FLOATS(EW_GEN_UNARY, tanh, EW_TANH_OP)
EW_FLOATS(EW_GEN_MATH, erf, erf)
EW_FLOATS(EW_GEN_MATH, sin, sin)
EW_FLOATS(EW_GEN_MATH, cos, cos)
EW_FLOATS(EW_GEN_MATH, tan, tan)
EW_FLOATS(EW_GEN_MATH, asin, asin)
EW_FLOATS(EW_GEN_MATH, acos, acos)
EW_FLOATS(EW_GEN_MATH, atan, atan)
EW_FLOATS(EW_GEN_MATH, sinh, sinh)
EW_FLOATS(EW_GEN_MATH, cosh, cosh)
EW_FLOATS(EW_GEN_MATH, asinh, asinh)
EW_FLOATS(EW_GEN_MATH, acosh, acosh)
EW_FLOATS(EW_GEN_MATH, atanh, atanh)

struct elementwise_attr_default {
  const char *name;
  float value;
};

struct elementwise_unary_op {
  const char *op_type;
  elementwise_run_fn fns[TQT_DTYPE_COUNT];
  bool to_bool;
  bool any_numeric; /* other numeric types run through the double loop */
  struct elementwise_attr_default attrs[2];
};

/* An op with float and double loops only. */
#define EW_FLOAT_OP(OP_TYPE, NAME) {.op_type = OP_TYPE, .fns = {EW_FLOATS(EW_ENTRY, NAME, _)}}

static const struct elementwise_unary_op elementwise_unary_ops[] = {
    {.op_type = "Relu", .fns = {EW_FLOATS(EW_ENTRY, relu, _) EW_SIGNED(EW_ENTRY, relu, _)}},
    {.op_type = "Neg", .fns = {EW_FLOATS(EW_ENTRY, neg, _) EW_SIGNED(EW_ENTRY, neg, _)}},
    {.op_type = "Abs", .fns = {EW_ALL_NUMERIC(abs)}},
    {.op_type = "Sign", .fns = {EW_ALL_NUMERIC(sign)}},
    EW_FLOAT_OP("Reciprocal", reciprocal),
    EW_FLOAT_OP("Sigmoid", sigmoid),
    EW_FLOAT_OP("Softplus", softplus),
    EW_FLOAT_OP("Softsign", softsign),
    EW_FLOAT_OP("Mish", mish),
    {.op_type = "HardSigmoid",
     .fns = {EW_FLOATS(EW_ENTRY, hardsigmoid, _)},
     .attrs = {{"alpha", 0.2f}, {"beta", 0.5f}}},
    EW_FLOAT_OP("HardSwish", hardswish),
    {.op_type = "LeakyRelu",
     .fns = {EW_FLOATS(EW_ENTRY, leakyrelu, _)},
     .attrs = {{"alpha", 0.01f}}},
    {.op_type = "Elu", .fns = {EW_FLOATS(EW_ENTRY, elu, _)}, .attrs = {{"alpha", 1.0f}}},
    {.op_type = "Selu",
     .fns = {EW_FLOATS(EW_ENTRY, selu, _)},
     .attrs = {{"alpha", 1.67326319217681884765625f}, {"gamma", 1.05070102214813232421875f}}},
    {.op_type = "Celu", .fns = {EW_FLOATS(EW_ENTRY, celu, _)}, .attrs = {{"alpha", 1.0f}}},
    {.op_type = "ThresholdedRelu",
     .fns = {EW_FLOATS(EW_ENTRY, thresholdedrelu, _)},
     .attrs = {{"alpha", 1.0f}}},
    {.op_type = "Shrink",
     .fns = {EW_FLOATS(EW_ENTRY, shrink, _)},
     .any_numeric = true,
     .attrs = {{"lambd", 0.5f}, {"bias", 0.0f}}},
    {.op_type = "IsNaN", .fns = {EW_FLOATS(EW_ENTRY, isnan, _)}, .to_bool = true},
    {.op_type = "IsInf",
     .fns = {EW_FLOATS(EW_ENTRY, isinf, _)},
     .to_bool = true,
     .attrs = {{"detect_positive", 1.0f}, {"detect_negative", 1.0f}}},
    {.op_type = "Not", .fns = {EW_BOOL(EW_ENTRY, not, _)}, .to_bool = true},
    {.op_type = "BitwiseNot",
     .fns = {EW_SIGNED(EW_ENTRY, bitnot, _) EW_UNSIGNED(EW_ENTRY, bitnot, _)}},
    EW_FLOAT_OP("Floor", floor),
    EW_FLOAT_OP("Ceil", ceil),
    EW_FLOAT_OP("Round", round),
    EW_FLOAT_OP("Sqrt", sqrt),
    EW_FLOAT_OP("Exp", exp),
    EW_FLOAT_OP("Log", log),
    EW_FLOAT_OP("Tanh", tanh),
    EW_FLOAT_OP("Erf", erf),
    EW_FLOAT_OP("Sin", sin),
    EW_FLOAT_OP("Cos", cos),
    EW_FLOAT_OP("Tan", tan),
    EW_FLOAT_OP("Asin", asin),
    EW_FLOAT_OP("Acos", acos),
    EW_FLOAT_OP("Atan", atan),
    EW_FLOAT_OP("Sinh", sinh),
    EW_FLOAT_OP("Cosh", cosh),
    EW_FLOAT_OP("Asinh", asinh),
    EW_FLOAT_OP("Acosh", acosh),
    EW_FLOAT_OP("Atanh", atanh),
};

static enum tqt_status elementwise_unary_init(struct tqt_kernel_ctx *k) {
  struct elementwise_unary_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < sizeof elementwise_unary_ops / sizeof *elementwise_unary_ops; i++)
    if (strcmp(k->node->op_type, elementwise_unary_ops[i].op_type) == 0)
      p->op = &elementwise_unary_ops[i];
  if (!p->op) return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "not a unary elementwise op");
  for (size_t i = 0; i < 2 && p->op->attrs[i].name; i++)
    p->a[i] = tqt_attr_float(k->node, p->op->attrs[i].name, p->op->attrs[i].value);
  if (strcmp(p->op->op_type, "Celu") == 0 && p->a[0] == 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "alpha must not be 0");
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_unary_run(struct tqt_kernel_ctx *k) {
  const struct elementwise_unary_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int32_t out_dt = p->op->to_bool ? TQT_DTYPE_BOOL : x->dtype;
  struct elementwise_via via;
  const void *fn_ctx;
  elementwise_run_fn fn =
      elementwise_fn_pick(p->op->fns, 1, &x->dtype, out_dt, p->op->any_numeric, p, &via, &fn_ctx);
  if (!fn)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s is not supported",
                           tqt_dtype_name(x->dtype));
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, out_dt, x->rank, x->dims);
  if (!y) return k->d->status;
  int64_t n = tqt_rt_numel(x);
  const void *ptrs[1] = {x->data};
  if (n > 0) fn(ptrs, 1u, y->data, n, fn_ctx);
  return TQT_STATUS_OK;
}

/* ---- Clip ---- */

/* Bounds of one run, of the loop's element type; NULL where absent. */
struct elementwise_clip_bounds {
  const void *lo, *hi;
};

#define EW_GEN_CLIP(T, DT, NAME, OP)                                                               \
  static void elementwise_clip_##DT(const void *const *in, unsigned step, void *out, int64_t n,    \
                                    const void *ctx) {                                             \
    const struct elementwise_clip_bounds *c = ctx;                                                 \
    const T *x = in[0];                                                                            \
    T *y = out;                                                                                    \
    const T lo = c->lo ? *(const T *)c->lo : (T)0, hi = c->hi ? *(const T *)c->hi : (T)0;          \
    (void)step;                                                                                    \
    if (c->lo && c->hi) {                                                                          \
      for (int64_t i = 0; i < n; i++) {                                                            \
        T v = x[i] < lo ? lo : x[i];                                                               \
        y[i] = v > hi ? hi : v;                                                                    \
      }                                                                                            \
    } else if (c->lo) {                                                                            \
      for (int64_t i = 0; i < n; i++) y[i] = x[i] < lo ? lo : x[i];                                \
    } else if (c->hi) {                                                                            \
      for (int64_t i = 0; i < n; i++) y[i] = x[i] > hi ? hi : x[i];                                \
    } else {                                                                                       \
      memmove(y, x, (size_t)n * sizeof *y);                                                        \
    }                                                                                              \
  }

EW_FLOATS(EW_GEN_CLIP, clip, _)
EW_SIGNED(EW_GEN_CLIP, clip, _)
EW_UNSIGNED(EW_GEN_CLIP, clip, _)

static const elementwise_run_fn elementwise_clip_fns[TQT_DTYPE_COUNT] = {EW_ALL_NUMERIC(clip)};

struct elementwise_clip_params {
  bool from_inputs; /* opset 11 on: the bounds are inputs 1 and 2 */
  float lo, hi;     /* before: the min and max attributes */
};

static enum tqt_status elementwise_clip_init(struct tqt_kernel_ctx *k) {
  struct elementwise_clip_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->from_inputs = k->kernel->since_version >= 11;
  p->lo = tqt_attr_float(k->node, "min", -FLT_MAX);
  p->hi = tqt_attr_float(k->node, "max", FLT_MAX);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_clip_run(struct tqt_kernel_ctx *k) {
  const struct elementwise_clip_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int32_t dt = x->dtype;
  bool half = elementwise_dtype_half(dt);
  /* The loop's copies of the bounds: float for the attributes and for 16-bit floats. */
  float flo = p->lo, fhi = p->hi;
  double dlo = p->lo, dhi = p->hi;
  struct elementwise_clip_bounds c = {NULL, NULL};
  if (!p->from_inputs) {
    if (dt != TQT_DTYPE_FLOAT && dt != TQT_DTYPE_DOUBLE && !half)
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s is not supported",
                             tqt_dtype_name(dt));
    c.lo = dt == TQT_DTYPE_DOUBLE ? (const void *)&dlo : (const void *)&flo;
    c.hi = dt == TQT_DTYPE_DOUBLE ? (const void *)&dhi : (const void *)&fhi;
  } else {
    for (size_t i = 1; i <= 2; i++) {
      const struct tqt_rt_tensor *b = tqt_kernel_input(k, i);
      if (!b) {
        if (k->d->status) return k->d->status;
        continue;
      }
      if (b->dtype != dt || tqt_rt_numel(b) != 1)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s must be one %s, got %s of %lld",
                               i == 1 ? "min" : "max", tqt_dtype_name(dt), tqt_dtype_name(b->dtype),
                               (long long)tqt_rt_numel(b));
      float f = (float)tqt_rt_get(b, 0);
      if (i == 1) {
        flo = f;
        c.lo = half ? (const void *)&flo : b->data;
      } else {
        fhi = f;
        c.hi = half ? (const void *)&fhi : b->data;
      }
    }
  }
  struct elementwise_via via;
  const void *fn_ctx;
  elementwise_run_fn fn =
      elementwise_fn_pick(elementwise_clip_fns, 1, &dt, dt, false, &c, &via, &fn_ctx);
  if (!fn)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s is not supported",
                           tqt_dtype_name(dt));
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, dt, x->rank, x->dims);
  if (!y) return k->d->status;
  int64_t n = tqt_rt_numel(x);
  const void *ptrs[1] = {x->data};
  if (n > 0) fn(ptrs, 1u, y->data, n, fn_ctx);
  return TQT_STATUS_OK;
}

/* ---- Where ---- */

/* Type-blind: picks by element size. Operands that stay put step by 0. */
#define EW_GEN_WHERE(T)                                                                            \
  static void elementwise_where_##T(const void *const *in, unsigned step, void *out, int64_t n,    \
                                    const void *ctx) {                                             \
    const uint8_t *c = in[0];                                                                      \
    const T *a = in[1], *b = in[2];                                                                \
    T *y = out;                                                                                    \
    int64_t sc = step & 1u, sa = (step >> 1) & 1u, sb = (step >> 2) & 1u;                          \
    (void)ctx;                                                                                     \
    if (step == 7u)                                                                                \
      for (int64_t i = 0; i < n; i++) y[i] = c[i] ? a[i] : b[i];                                   \
    else                                                                                           \
      for (int64_t i = 0; i < n; i++) y[i] = c[i * sc] ? a[i * sa] : b[i * sb];                    \
  }

EW_GEN_WHERE(uint8_t)
EW_GEN_WHERE(uint16_t)
EW_GEN_WHERE(uint32_t)
EW_GEN_WHERE(uint64_t)

static enum tqt_status elementwise_where_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *in[3];
  for (size_t i = 0; i < 3; i++)
    if (!(in[i] = tqt_kernel_input_required(k, i))) return k->d->status;
  if (in[0]->dtype != TQT_DTYPE_BOOL)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "condition is %s, not bool",
                           tqt_dtype_name(in[0]->dtype));
  if (in[1]->dtype != in[2]->dtype)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X is %s and Y %s", tqt_dtype_name(in[1]->dtype),
                           tqt_dtype_name(in[2]->dtype));
  elementwise_run_fn fn;
  switch (tqt_dtype_size(in[1]->dtype)) {
  case 1: fn = elementwise_where_uint8_t; break;
  case 2: fn = elementwise_where_uint16_t; break;
  case 4: fn = elementwise_where_uint32_t; break;
  case 8: fn = elementwise_where_uint64_t; break;
  default:
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s is not supported",
                           tqt_dtype_name(in[1]->dtype));
  }
  struct tqt_rt_tensor shape;
  enum tqt_status st = elementwise_shape_broadcast(k, in, 3, &shape);
  if (st != TQT_STATUS_OK) return st;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, in[1]->dtype, shape.rank, shape.dims);
  if (!y) return k->d->status;
  elementwise_broadcast_each(in, 3, y, fn, NULL);
  return TQT_STATUS_OK;
}

/* ---- Cast, CastLike ---- */

/* Whether the text s, read back, gives v again in type dt. */
static bool elementwise_text_round_trips(const char *s, double v, int32_t dt) {
  double back = strtod(s, NULL);
  switch (dt) {
  case TQT_DTYPE_FLOAT: return (float)back == (float)v;
  case TQT_DTYPE_FLOAT16: return tqt_f32_to_f16((float)back) == tqt_f32_to_f16((float)v);
  case TQT_DTYPE_BFLOAT16: return tqt_f32_to_bf16((float)back) == tqt_f32_to_bf16((float)v);
  default: return back == v;
  }
}

/* A float as numpy's str() writes it: the shortest digits that read back to the same value of
 * its type, positional for 1e-4 <= |v| < 1e16 ("0.1", "100.0"), else scientific ("1e-05"). */
static void elementwise_float_format(double v, int32_t dt, char *out, size_t size) {
  if (isnan(v)) {
    snprintf(out, size, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(out, size, v < 0 ? "-inf" : "inf");
    return;
  }
  char sci[64];
  for (int prec = 0; prec < 17; prec++) {
    snprintf(sci, sizeof sci, "%.*e", prec, v);
    if (elementwise_text_round_trips(sci, v, dt)) break;
  }
  /* sci is "-d.ddde+XX": split into sign, digits and exponent. */
  const char *s = sci;
  bool neg = *s == '-';
  if (neg) s++;
  char digits[32];
  size_t nd = 0;
  for (; *s && *s != 'e' && nd < sizeof digits - 1; s++)
    if (*s != '.') digits[nd++] = *s;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = '\0';
  int e = *s == 'e' ? atoi(s + 1) : 0;
  double mag = fabs(v);
  size_t len = 0;
  if (neg) len += (size_t)snprintf(out + len, size - len, "-");
  if (mag == 0 || (mag >= 1e-4 && mag < 1e16)) {
    if (e < 0) {
      len += (size_t)snprintf(out + len, size - len, "0.");
      for (int i = -1; i > e && len < size; i--)
        len += (size_t)snprintf(out + len, size - len, "0");
      snprintf(out + len, size - len, "%s", digits);
    } else {
      size_t int_digits = (size_t)e + 1;
      for (size_t i = 0; i < int_digits && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%c", i < nd ? digits[i] : '0');
      snprintf(out + len, size - len, ".%s", nd > int_digits ? digits + int_digits : "0");
    }
  } else {
    snprintf(out + len, size - len, "%c%s%se%c%02d", digits[0], nd > 1 ? "." : "", digits + 1,
             e < 0 ? '-' : '+', e < 0 ? -e : e);
  }
}

/* Element i of a numeric tensor as text. */
static void elementwise_text_of(const struct tqt_rt_tensor *x, int64_t i, char *out, size_t size) {
  switch (x->dtype) {
  case TQT_DTYPE_FLOAT:
  case TQT_DTYPE_DOUBLE:
  case TQT_DTYPE_FLOAT16:
  case TQT_DTYPE_BFLOAT16: elementwise_float_format(tqt_rt_get(x, i), x->dtype, out, size); break;
  case TQT_DTYPE_BOOL: snprintf(out, size, "%s", tqt_rt_get_int(x, i) ? "True" : "False"); break;
  case TQT_DTYPE_UINT64:
    snprintf(out, size, "%llu", (unsigned long long)((const uint64_t *)x->data)[i]);
    break;
  default: snprintf(out, size, "%lld", (long long)tqt_rt_get_int(x, i)); break;
  }
}

static enum tqt_status elementwise_cast_to_string(struct tqt_kernel_ctx *k,
                                                  const struct tqt_rt_tensor *x,
                                                  struct tqt_rt_tensor *y) {
  struct tqt_bytes *s = y->data;
  const struct tqt_bytes *from = x->dtype == TQT_DTYPE_STRING ? x->data : NULL;
  int64_t n = tqt_rt_numel(x);
  for (int64_t i = 0; i < n; i++) {
    char text[64];
    const char *src = text;
    size_t len;
    if (from) {
      src = from[i].data;
      len = from[i].len;
    } else {
      elementwise_text_of(x, i, text, sizeof text);
      len = strlen(text);
    }
    s[i].data = malloc(len + 1);
    if (!s[i].data) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    if (len) memcpy(s[i].data, src, len);
    s[i].data[len] = '\0';
    s[i].len = len;
  }
  return TQT_STATUS_OK;
}

/* Parses text into the widest value of the kind dt stores ("NaN", "INF", "-inf" included). */
static bool elementwise_text_parse(const struct tqt_bytes *b, int32_t dt, union elementwise_num *v,
                                   enum elementwise_num_kind *kind) {
  char *end = NULL;
  const char *s = b->data ? b->data : "";
  bool is_unsigned = dt == TQT_DTYPE_UINT8 || dt == TQT_DTYPE_UINT16 || dt == TQT_DTYPE_UINT32 ||
                     dt == TQT_DTYPE_UINT64;
  bool is_int = is_unsigned || dt == TQT_DTYPE_INT8 || dt == TQT_DTYPE_INT16 ||
                dt == TQT_DTYPE_INT32 || dt == TQT_DTYPE_INT64;
  if (is_unsigned && *s != '-') {
    v->u = strtoull(s, &end, 10);
    *kind = EW_NUM_U;
  } else if (is_int) {
    v->i = strtoll(s, &end, 10);
    *kind = EW_NUM_I;
  } else {
    v->f = strtod(s, &end);
    *kind = EW_NUM_F;
  }
  return end != s && *end == '\0';
}

static enum tqt_status elementwise_cast_from_string(struct tqt_kernel_ctx *k,
                                                    const struct tqt_rt_tensor *x,
                                                    struct tqt_rt_tensor *y) {
  const struct tqt_bytes *s = x->data;
  size_t esize = tqt_dtype_size(y->dtype);
  int64_t n = tqt_rt_numel(x);
  for (int64_t i = 0; i < n; i++) {
    union elementwise_num v;
    enum elementwise_num_kind kind;
    if (!elementwise_text_parse(&s[i], y->dtype, &v, &kind))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "element %lld '%.40s' is not a %s",
                             (long long)i, s[i].data ? s[i].data : "", tqt_dtype_name(y->dtype));
    elementwise_num_store(y->dtype, (char *)y->data + i * (int64_t)esize, 1, &v, kind);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_cast_convert(struct tqt_kernel_ctx *k,
                                                const struct tqt_rt_tensor *x, int32_t to) {
  bool x_ok = x->dtype == TQT_DTYPE_STRING || elementwise_dtype_numeric(x->dtype);
  bool to_ok = to == TQT_DTYPE_STRING || elementwise_dtype_numeric(to);
  if (!x_ok || !to_ok)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "cast from %s to %s is not supported",
                           tqt_dtype_name(x->dtype), tqt_dtype_name(to));
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, to, x->rank, x->dims);
  if (!y) return k->d->status;
  if (to == TQT_DTYPE_STRING) return elementwise_cast_to_string(k, x, y);
  if (x->dtype == TQT_DTYPE_STRING) return elementwise_cast_from_string(k, x, y);
  if (x->dtype == to) {
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return TQT_STATUS_OK;
  }
  int64_t n = tqt_rt_numel(x);
  int64_t xs = (int64_t)tqt_dtype_size(x->dtype), ys = (int64_t)tqt_dtype_size(to);
  for (int64_t done = 0; done < n;) {
    int64_t m = n - done < EW_CHUNK ? n - done : EW_CHUNK;
    union elementwise_num buf[EW_CHUNK];
    enum elementwise_num_kind kind =
        elementwise_num_load(x->dtype, (const char *)x->data + done * xs, m, buf);
    elementwise_num_store(to, (char *)y->data + done * ys, m, buf, kind);
    done += m;
  }
  return TQT_STATUS_OK;
}

struct elementwise_cast_params {
  int32_t to;
};

static enum tqt_status elementwise_cast_init(struct tqt_kernel_ctx *k) {
  struct elementwise_cast_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const struct tqt_attr *at = tqt_node_attr_find(k->node, "to");
  if (at && at->type == TQT_ATTR_TYPE_INT) {
    p->to = at->i >= 0 && at->i < TQT_DTYPE_COUNT ? (int32_t)at->i : TQT_DTYPE_UNDEFINED;
  } else if (at && at->type == TQT_ATTR_TYPE_STRING) {
    /* Cast-1 names the type: "FLOAT", "INT32", ... */
    for (int32_t dt = 1; dt < TQT_DTYPE_COUNT; dt++)
      if (strcasecmp(at->s.data, tqt_dtype_name(dt)) == 0) p->to = dt;
  } else {
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'to' is missing");
  }
  if (p->to != TQT_DTYPE_STRING && !elementwise_dtype_numeric(p->to))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "cast to %s is not supported",
                           at->type == TQT_ATTR_TYPE_STRING ? at->s.data : tqt_dtype_name(p->to));
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_cast_run(struct tqt_kernel_ctx *k) {
  const struct elementwise_cast_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  return elementwise_cast_convert(k, x, p->to);
}

static enum tqt_status elementwise_castlike_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *like = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!x || !like) return k->d->status;
  return elementwise_cast_convert(k, x, like->dtype);
}

/* ---- the table ---- */

/* ---- inference (infer.h) ---- */

/* Ops whose result is bool whatever their operands. */
static bool elementwise_infer_is_predicate(const char *op) {
  static const char *const predicates[] = {"Equal", "Less", "Greater", "LessOrEqual",
                                           "GreaterOrEqual", "And", "Or", "Xor", "IsNaN", "IsInf"};
  for (size_t i = 0; i < sizeof predicates / sizeof *predicates; i++)
    if (!strcmp(op, predicates[i])) return true;
  return false;
}

/* One element of an integer op on shape values; NULL when not decided. */
static tqt_sdim elementwise_infer_value(struct tqt_infer_ctx *c, const char *op, tqt_sdim a,
                                        tqt_sdim b) {
  struct tqt_dimtab *t = c->dims;
  int64_t x = 0, y = 0;
  bool kx = tqt_sdim_value(a, &x), ky = tqt_sdim_value(b, &y), same = a && a == b;
  if (!strcmp(op, "Add") || !strcmp(op, "Sum")) return tqt_sdim_add(t, a, b);
  if (!strcmp(op, "Sub")) return tqt_sdim_sub(t, a, b);
  if (!strcmp(op, "Mul")) return tqt_sdim_mul(t, a, b);
  if (!strcmp(op, "Div")) return tqt_sdim_div_trunc(t, a, b);
  if (!strcmp(op, "Mod")) return tqt_sdim_mod(t, a, b, tqt_attr_int(c->k->node, "fmod", 0) != 0);
  if (!strcmp(op, "Max")) return tqt_sdim_max(t, a, b);
  if (!strcmp(op, "Min")) return tqt_sdim_min(t, a, b);
  int truth = -1;
  if (!strcmp(op, "Equal")) truth = tqt_sdim_equal(a, b);
  else if (!strcmp(op, "Less")) truth = same ? 0 : kx && ky ? x < y : -1;
  else if (!strcmp(op, "Greater")) truth = same ? 0 : kx && ky ? x > y : -1;
  else if (!strcmp(op, "LessOrEqual")) truth = same ? 1 : kx && ky ? x <= y : -1;
  else if (!strcmp(op, "GreaterOrEqual")) truth = same ? 1 : kx && ky ? x >= y : -1;
  else if (!strcmp(op, "And")) truth = (kx && !x) || (ky && !y) ? 0 : kx && ky ? 1 : -1;
  else if (!strcmp(op, "Or")) truth = (kx && x) || (ky && y) ? 1 : kx && ky ? 0 : -1;
  else if (!strcmp(op, "Xor")) truth = kx && ky ? (x != 0) != (y != 0) : -1;
  return truth < 0 ? NULL : tqt_sdim_const(t, truth);
}

/* Element i (row-major over out_dims, all constants) of s broadcast to rank r. */
static tqt_sdim elementwise_infer_elem_at(struct tqt_infer_ctx *c, const struct tqt_sym *s,
                                          size_t r, const int64_t *out_dims, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (size_t d = r; d-- > 0;) {
    int64_t coord = i % out_dims[d], v = 1;
    i /= out_dims[d];
    if (d + s->rank < r) continue;
    tqt_sdim_value(s->dims[d + s->rank - r], &v);
    if (v != 1) idx += coord * stride;
    stride *= v;
  }
  return tqt_sym_elem(c->dims, s, (size_t)idx);
}

/* The output's elements from the inputs' by op (folded left over several inputs), when the
 * output is small and every shape is constant. */
static void elementwise_infer_values(struct tqt_infer_ctx *c, const char *op) {
  struct tqt_sym *y = &c->out[0];
  int64_t numel = tqt_sym_numel(y), out_dims[TQT_RANK_MAX];
  if (numel < 0 || numel > TQT_SYM_VALUE_MAX || c->n_in < 1) return;
  for (size_t i = 0; i < c->n_in; i++)
    if (!c->in[i] || (!c->in[i]->has_value && !c->in[i]->constant) || tqt_sym_numel(c->in[i]) < 0)
      return;
  for (size_t d = 0; d < y->rank; d++) tqt_sdim_value(y->dims[d], &out_dims[d]);
  tqt_sdim vals[TQT_SYM_VALUE_MAX];
  for (int64_t i = 0; i < numel; i++) {
    tqt_sdim acc = elementwise_infer_elem_at(c, c->in[0], y->rank, out_dims, i);
    for (size_t k = 1; k < c->n_in; k++)
      acc = elementwise_infer_value(c, op, acc,
                                    elementwise_infer_elem_at(c, c->in[k], y->rank, out_dims, i));
    vals[i] = acc;
  }
  tqt_sym_value_set(y, vals, (size_t)numel);
}

static enum tqt_status elementwise_unary_infer(struct tqt_infer_ctx *c) {
  const char *op = c->k->node->op_type;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  tqt_infer_unary(c);
  if (!x || !c->n_out) return TQT_STATUS_OK;
  if (elementwise_infer_is_predicate(op)) c->out[0].dtype = TQT_DTYPE_BOOL;
  /* Not and Neg of shape values: negated conditions and offsets. */
  bool is_not = !strcmp(op, "Not");
  if (x->has_value && (is_not || !strcmp(op, "Neg"))) {
    tqt_sdim vals[TQT_SYM_VALUE_MAX], one = tqt_sdim_const(c->dims, 1);
    tqt_sdim zero = tqt_sdim_const(c->dims, 0);
    for (size_t i = 0; i < x->n_value; i++)
      vals[i] = tqt_sdim_sub(c->dims, is_not ? one : zero, x->value[i]);
    tqt_sym_value_set(&c->out[0], vals, x->n_value);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_binary_infer(struct tqt_infer_ctx *c) {
  const char *op = c->k->node->op_type;
  int32_t dtype = elementwise_infer_is_predicate(op) ? TQT_DTYPE_BOOL : TQT_DTYPE_UNDEFINED;
  if (c->k->kernel->since_version < 7 && strcmp(op, "Max") && strcmp(op, "Min") &&
      strcmp(op, "Sum") && strcmp(op, "Mean")) {
    tqt_infer_unary(c); /* the old rule: B broadcasts onto A */
    if (dtype && c->n_out) c->out[0].dtype = dtype;
    return TQT_STATUS_OK;
  }
  tqt_infer_broadcast(c, dtype);
  if (strcmp(op, "Mean") && strcmp(op, "Pow") && strcmp(op, "PRelu")) elementwise_infer_values(c, op);
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_where_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 1);
  tqt_infer_broadcast(c, x ? x->dtype : TQT_DTYPE_UNDEFINED);
  struct tqt_sym *y = &c->out[0];
  int64_t numel = tqt_sym_numel(y), out_dims[TQT_RANK_MAX];
  if (c->n_in != 3 || numel < 0 || numel > TQT_SYM_VALUE_MAX) return TQT_STATUS_OK;
  for (size_t i = 0; i < 3; i++)
    if (!c->in[i] || tqt_sym_numel(c->in[i]) < 0) return TQT_STATUS_OK;
  for (size_t d = 0; d < y->rank; d++) tqt_sdim_value(y->dims[d], &out_dims[d]);
  tqt_sdim vals[TQT_SYM_VALUE_MAX];
  for (int64_t i = 0; i < numel; i++) {
    int64_t cond;
    tqt_sdim cd = elementwise_infer_elem_at(c, c->in[0], y->rank, out_dims, i);
    vals[i] = !tqt_sdim_value(cd, &cond) ? NULL
                                         : elementwise_infer_elem_at(c, c->in[cond ? 1 : 2],
                                                                     y->rank, out_dims, i);
  }
  tqt_sym_value_set(y, vals, (size_t)numel);
  return TQT_STATUS_OK;
}

/* Cast keeps integer values (shape tensors cast between int32 and int64); to bool they become
 * 0 or 1 where known. */
static void elementwise_cast_infer_to(struct tqt_infer_ctx *c, int32_t to) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  tqt_infer_unary(c);
  if (!x || !c->n_out) return;
  c->out[0].dtype = to;
  if (!x->has_value) return;
  tqt_sdim vals[TQT_SYM_VALUE_MAX];
  for (size_t i = 0; i < x->n_value; i++) {
    int64_t v;
    vals[i] = to != TQT_DTYPE_BOOL             ? x->value[i]
              : tqt_sdim_value(x->value[i], &v) ? tqt_sdim_const(c->dims, v != 0)
                                                : NULL;
  }
  tqt_sym_value_set(&c->out[0], vals, x->n_value);
}

static enum tqt_status elementwise_cast_infer(struct tqt_infer_ctx *c) {
  const struct elementwise_cast_params *p = c->k->params;
  elementwise_cast_infer_to(c, p->to);
  return TQT_STATUS_OK;
}

static enum tqt_status elementwise_castlike_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *like = tqt_infer_input(c, 1);
  elementwise_cast_infer_to(c, like ? like->dtype : TQT_DTYPE_UNDEFINED);
  return TQT_STATUS_OK;
}

#define EW_UNARY(OP, V)                                                                            \
  { "", OP, V, elementwise_unary_init, elementwise_unary_run, elementwise_unary_infer }
#define EW_BINARY(OP, V)                                                                           \
  { "", OP, V, elementwise_binary_init, elementwise_binary_run, elementwise_binary_infer }
#define EW_VARIADIC(OP, V)                                                                         \
  { "", OP, V, elementwise_binary_init, elementwise_variadic_run, elementwise_binary_infer }

/* One entry per version whose semantics differ: 1 where the op was born, 7 where binary ops
 * switched from the `broadcast`/`axis` rule to numpy broadcasting (and PRelu's per-channel slope
 * to unidirectional broadcasting), 11 where Clip took its bounds as inputs. */
static const struct tqt_kernel elementwise_kernels[] = {
    EW_UNARY("Abs", 1),
    EW_UNARY("Neg", 1),
    EW_UNARY("Reciprocal", 1),
    EW_UNARY("Floor", 1),
    EW_UNARY("Ceil", 1),
    EW_UNARY("Sqrt", 1),
    EW_UNARY("Relu", 1),
    EW_UNARY("Exp", 1),
    EW_UNARY("Log", 1),
    EW_UNARY("Tanh", 1),
    EW_UNARY("Sigmoid", 1),
    EW_UNARY("LeakyRelu", 1),
    EW_UNARY("Elu", 1),
    EW_UNARY("Selu", 1),
    EW_UNARY("HardSigmoid", 1),
    EW_UNARY("Softplus", 1),
    EW_UNARY("Softsign", 1),
    EW_UNARY("Not", 1),
    EW_UNARY("Sin", 7),
    EW_UNARY("Cos", 7),
    EW_UNARY("Tan", 7),
    EW_UNARY("Asin", 7),
    EW_UNARY("Acos", 7),
    EW_UNARY("Atan", 7),
    EW_UNARY("Sinh", 9),
    EW_UNARY("Cosh", 9),
    EW_UNARY("Asinh", 9),
    EW_UNARY("Acosh", 9),
    EW_UNARY("Atanh", 9),
    EW_UNARY("Erf", 9),
    EW_UNARY("Sign", 9),
    EW_UNARY("IsNaN", 9),
    EW_UNARY("Shrink", 9),
    EW_UNARY("ThresholdedRelu", 10),
    EW_UNARY("IsInf", 10),
    EW_UNARY("Round", 11),
    EW_UNARY("Celu", 12),
    EW_UNARY("HardSwish", 14),
    EW_UNARY("Mish", 18),
    EW_UNARY("BitwiseNot", 18),
    EW_BINARY("Add", 1),
    EW_BINARY("Add", 7),
    EW_BINARY("Sub", 1),
    EW_BINARY("Sub", 7),
    EW_BINARY("Mul", 1),
    EW_BINARY("Mul", 7),
    EW_BINARY("Div", 1),
    EW_BINARY("Div", 7),
    EW_BINARY("Pow", 1),
    EW_BINARY("Pow", 7),
    EW_BINARY("PRelu", 1),
    EW_BINARY("PRelu", 7),
    EW_BINARY("Equal", 1),
    EW_BINARY("Equal", 7),
    EW_BINARY("Less", 1),
    EW_BINARY("Less", 7),
    EW_BINARY("Greater", 1),
    EW_BINARY("Greater", 7),
    EW_BINARY("And", 1),
    EW_BINARY("And", 7),
    EW_BINARY("Or", 1),
    EW_BINARY("Or", 7),
    EW_BINARY("Xor", 1),
    EW_BINARY("Xor", 7),
    EW_BINARY("Mod", 10),
    EW_BINARY("BitShift", 11),
    EW_BINARY("LessOrEqual", 12),
    EW_BINARY("GreaterOrEqual", 12),
    EW_BINARY("BitwiseAnd", 18),
    EW_BINARY("BitwiseOr", 18),
    EW_BINARY("BitwiseXor", 18),
    EW_VARIADIC("Max", 1),
    EW_VARIADIC("Min", 1),
    EW_VARIADIC("Sum", 1),
    EW_VARIADIC("Mean", 1),
    {"", "Clip", 1, elementwise_clip_init, elementwise_clip_run, tqt_infer_unary},
    {"", "Clip", 11, elementwise_clip_init, elementwise_clip_run, tqt_infer_unary},
    {"", "Where", 9, NULL, elementwise_where_run, elementwise_where_infer},
    {"", "Cast", 1, elementwise_cast_init, elementwise_cast_run, elementwise_cast_infer},
    {"", "CastLike", 15, NULL, elementwise_castlike_run, elementwise_castlike_infer},
};

const struct tqt_kernel_family tqt_family_elementwise = {
    "elementwise", elementwise_kernels, sizeof elementwise_kernels / sizeof elementwise_kernels[0]};
