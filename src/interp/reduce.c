/* Kernels: reductions (ReduceSum, ReduceMean, ReduceMax, ... , ArgMax, ArgMin).
 *
 * Every Reduce* op goes through one driver: the reduced axes are coalesced so that the input reads
 * as [outer, n, inner] with the n axis reduced (non-adjacent reduced axes are first gathered
 * together by a transpose), and a per-type block function folds that middle axis. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

enum reduce_op {
  REDUCE_SUM,
  REDUCE_MEAN,
  REDUCE_PROD,
  REDUCE_MAX,
  REDUCE_MIN,
  REDUCE_L1,
  REDUCE_L2,
  REDUCE_SUM_SQUARE,
  REDUCE_LOG_SUM,
  REDUCE_LOG_SUM_EXP,
};

static const struct {
  const char *op_type;
  enum reduce_op op;
} reduce_ops[] = {
    {"ReduceSum", REDUCE_SUM},        {"ReduceMean", REDUCE_MEAN},
    {"ReduceProd", REDUCE_PROD},      {"ReduceMax", REDUCE_MAX},
    {"ReduceMin", REDUCE_MIN},        {"ReduceL1", REDUCE_L1},
    {"ReduceL2", REDUCE_L2},          {"ReduceSumSquare", REDUCE_SUM_SQUARE},
    {"ReduceLogSum", REDUCE_LOG_SUM}, {"ReduceLogSumExp", REDUCE_LOG_SUM_EXP},
};

/* ---- block functions: y[outer, inner] = fold over n of x[outer, n, inner] ---- */

typedef void (*reduce_block_fn)(enum reduce_op op, const void *x, void *y, int64_t outer, int64_t n,
                                int64_t inner, void *scratch);

/* Double to integer, saturating (NaN gives 0): results of sqrt/log/exp on integer data. */
static int64_t reduce_f64_to_i64(double v) {
  if (isnan(v)) return 0;
  if (v <= -9223372036854775808.0) return INT64_MIN;
  if (v >= 9223372036854775807.0) return INT64_MAX;
  return (int64_t)v;
}

static uint64_t reduce_f64_to_u64(double v) {
  if (isnan(v) || v <= 0) return 0;
  if (v >= 18446744073709551615.0) return UINT64_MAX;
  return (uint64_t)v;
}

/* Folds the middle axis with accumulator `a` (type ACC) and element `v`; RESULT turns `a` into
 * the output element. inner == 1 (reducing trailing axes) runs a scalar loop; otherwise whole
 * rows of `inner` accumulators (in scratch) advance together so that reads stay contiguous. */
#define REDUCE_LOOP(T, ACC, LOAD, INIT, STEP, RESULT)  \
  for (int64_t o = 0; o < outer; o++) {                \
    const T *xo = (const T *)x + o * n * inner;        \
    T *yo = (T *)y + o * inner;                        \
    if (inner == 1) {                                  \
      ACC a = INIT;                                    \
      for (int64_t r = 0; r < n; r++) {                \
        ACC v = LOAD(xo[r]);                           \
        STEP;                                          \
      }                                                \
      yo[0] = RESULT;                                  \
      continue;                                        \
    }                                                  \
    ACC *acc = (ACC *)scratch;                         \
    for (int64_t i = 0; i < inner; i++) acc[i] = INIT; \
    for (int64_t r = 0; r < n; r++) {                  \
      const T *xr = xo + r * inner;                    \
      for (int64_t i = 0; i < inner; i++) {            \
        ACC a = acc[i], v = LOAD(xr[i]);               \
        STEP;                                          \
        acc[i] = a;                                    \
      }                                                \
    }                                                  \
    for (int64_t i = 0; i < inner; i++) {              \
      ACC a = acc[i];                                  \
      yo[i] = RESULT;                                  \
    }                                                  \
  }

/* One block function per element type. ACC is double for floating types and (u)int64 for
 * integers (exact sums, products, extremes); STORE converts ACC to T, STORE_F a double result
 * (sqrt, log) to T. LogSumExp shifts by the maximum first so that exp cannot overflow. */
#define REDUCE_DEFINE(SUFFIX, T, ACC, LOAD, STORE, STORE_F, ISNAN, ABS, LOWEST, HIGHEST, MEAN)     \
  static void reduce_block_##SUFFIX(enum reduce_op op, const void *x, void *y, int64_t outer,      \
                                    int64_t n, int64_t inner, void *scratch) {                     \
    switch (op) {                                                                                  \
    case REDUCE_SUM: REDUCE_LOOP(T, ACC, LOAD, 0, a += v, STORE(a)); break;                        \
    case REDUCE_MEAN: REDUCE_LOOP(T, ACC, LOAD, 0, a += v, STORE(MEAN(a, n))); break;              \
    case REDUCE_PROD: REDUCE_LOOP(T, ACC, LOAD, 1, a *= v, STORE(a)); break;                       \
    case REDUCE_MAX:                                                                               \
      REDUCE_LOOP(T, ACC, LOAD, LOWEST, a = (v > a || ISNAN(v)) ? v : a, STORE(a));                \
      break;                                                                                       \
    case REDUCE_MIN:                                                                               \
      REDUCE_LOOP(T, ACC, LOAD, HIGHEST, a = (v < a || ISNAN(v)) ? v : a, STORE(a));               \
      break;                                                                                       \
    case REDUCE_L1: REDUCE_LOOP(T, ACC, LOAD, 0, a += ABS(v), STORE(a)); break;                    \
    case REDUCE_L2: REDUCE_LOOP(T, ACC, LOAD, 0, a += v * v, STORE_F(sqrt((double)a))); break;     \
    case REDUCE_SUM_SQUARE: REDUCE_LOOP(T, ACC, LOAD, 0, a += v * v, STORE(a)); break;             \
    case REDUCE_LOG_SUM: REDUCE_LOOP(T, ACC, LOAD, 0, a += v, STORE_F(log((double)a))); break;     \
    case REDUCE_LOG_SUM_EXP:                                                                       \
      for (int64_t o = 0; o < outer; o++) {                                                        \
        const T *xo = (const T *)x + o * n * inner;                                                \
        T *yo = (T *)y + o * inner;                                                                \
        double *m = scratch, *s = m + inner;                                                       \
        for (int64_t i = 0; i < inner; i++) {                                                      \
          m[i] = -INFINITY;                                                                        \
          s[i] = 0;                                                                                \
        }                                                                                          \
        for (int64_t r = 0; r < n; r++)                                                            \
          for (int64_t i = 0; i < inner; i++) {                                                    \
            double v = (double)LOAD(xo[r * inner + i]);                                            \
            if (v > m[i] || isnan(v)) m[i] = v;                                                    \
          }                                                                                        \
        for (int64_t r = 0; r < n; r++)                                                            \
          for (int64_t i = 0; i < inner; i++) s[i] += exp((double)LOAD(xo[r * inner + i]) - m[i]); \
        for (int64_t i = 0; i < inner; i++)                                                        \
          yo[i] = STORE_F(isinf(m[i]) ? m[i] : m[i] + log(s[i]));                                  \
      }                                                                                            \
      break;                                                                                       \
    }                                                                                              \
  }

#define REDUCE_LOAD_PLAIN(e) (e)
#define REDUCE_LOAD_F16(e) ((double)tqt_f16_to_f32(e))
#define REDUCE_LOAD_BF16(e) ((double)tqt_bf16_to_f32(e))
#define REDUCE_STORE_F32(a) ((float)(a))
#define REDUCE_STORE_F64(a) ((double)(a))
#define REDUCE_STORE_F16(a) tqt_f32_to_f16((float)(a))
#define REDUCE_STORE_BF16(a) tqt_f32_to_bf16((float)(a))
#define REDUCE_FABS(v) fabs(v)
#define REDUCE_IABS(v) ((v) < 0 ? -(v) : (v))
#define REDUCE_UABS(v) (v)
#define REDUCE_NO_NAN(v) 0
#define REDUCE_MEAN_F(a, n) ((a) / (double)(n))
#define REDUCE_MEAN_I(a, n) ((n) ? (a) / (n) : 0)
#define REDUCE_MEAN_U(a, n) ((n) ? (a) / (uint64_t)(n) : 0)
#define REDUCE_STORE_I8(a) ((int8_t)(a))
#define REDUCE_STORE_U8(a) ((uint8_t)(a))
#define REDUCE_STORE_I32(a) ((int32_t)(a))
#define REDUCE_STORE_U32(a) ((uint32_t)(a))
#define REDUCE_STORE_I64(a) ((int64_t)(a))
#define REDUCE_STORE_U64(a) ((uint64_t)(a))
#define REDUCE_STORE_F_I8(v) ((int8_t)reduce_f64_to_i64(v))
#define REDUCE_STORE_F_U8(v) ((uint8_t)reduce_f64_to_u64(v))
#define REDUCE_STORE_F_I32(v) ((int32_t)reduce_f64_to_i64(v))
#define REDUCE_STORE_F_U32(v) ((uint32_t)reduce_f64_to_u64(v))
#define REDUCE_STORE_F_I64(v) reduce_f64_to_i64(v)
#define REDUCE_STORE_F_U64(v) reduce_f64_to_u64(v)

REDUCE_DEFINE(f32, float, double, REDUCE_LOAD_PLAIN, REDUCE_STORE_F32, REDUCE_STORE_F32, isnan,
              REDUCE_FABS, -INFINITY, INFINITY, REDUCE_MEAN_F)
REDUCE_DEFINE(f64, double, double, REDUCE_LOAD_PLAIN, REDUCE_STORE_F64, REDUCE_STORE_F64, isnan,
              REDUCE_FABS, -INFINITY, INFINITY, REDUCE_MEAN_F)
REDUCE_DEFINE(f16, uint16_t, double, REDUCE_LOAD_F16, REDUCE_STORE_F16, REDUCE_STORE_F16, isnan,
              REDUCE_FABS, -INFINITY, INFINITY, REDUCE_MEAN_F)
REDUCE_DEFINE(bf16, uint16_t, double, REDUCE_LOAD_BF16, REDUCE_STORE_BF16, REDUCE_STORE_BF16, isnan,
              REDUCE_FABS, -INFINITY, INFINITY, REDUCE_MEAN_F)
REDUCE_DEFINE(i8, int8_t, int64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_I8, REDUCE_STORE_F_I8,
              REDUCE_NO_NAN, REDUCE_IABS, INT8_MIN, INT8_MAX, REDUCE_MEAN_I)
REDUCE_DEFINE(u8, uint8_t, uint64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_U8, REDUCE_STORE_F_U8,
              REDUCE_NO_NAN, REDUCE_UABS, 0, UINT8_MAX, REDUCE_MEAN_U)
REDUCE_DEFINE(b8, uint8_t, uint64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_U8, REDUCE_STORE_F_U8,
              REDUCE_NO_NAN, REDUCE_UABS, 0, 1, REDUCE_MEAN_U)
REDUCE_DEFINE(i32, int32_t, int64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_I32, REDUCE_STORE_F_I32,
              REDUCE_NO_NAN, REDUCE_IABS, INT32_MIN, INT32_MAX, REDUCE_MEAN_I)
REDUCE_DEFINE(u32, uint32_t, uint64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_U32, REDUCE_STORE_F_U32,
              REDUCE_NO_NAN, REDUCE_UABS, 0, UINT32_MAX, REDUCE_MEAN_U)
REDUCE_DEFINE(i64, int64_t, int64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_I64, REDUCE_STORE_F_I64,
              REDUCE_NO_NAN, REDUCE_IABS, INT64_MIN, INT64_MAX, REDUCE_MEAN_I)
REDUCE_DEFINE(u64, uint64_t, uint64_t, REDUCE_LOAD_PLAIN, REDUCE_STORE_U64, REDUCE_STORE_F_U64,
              REDUCE_NO_NAN, REDUCE_UABS, 0, UINT64_MAX, REDUCE_MEAN_U)

/* The block function for a type, or NULL where ONNX does not define the op for it (int8/uint8 only
 * for ReduceMax/ReduceMin, bool for them from opset 20: a max is an OR, a min an AND). */
static reduce_block_fn reduce_block_for(enum reduce_op op, int32_t dtype) {
  bool extreme = op == REDUCE_MAX || op == REDUCE_MIN;
  switch (dtype) {
  case TQT_DTYPE_FLOAT: return reduce_block_f32;
  case TQT_DTYPE_DOUBLE: return reduce_block_f64;
  case TQT_DTYPE_FLOAT16: return reduce_block_f16;
  case TQT_DTYPE_BFLOAT16: return reduce_block_bf16;
  case TQT_DTYPE_INT32: return reduce_block_i32;
  case TQT_DTYPE_UINT32: return reduce_block_u32;
  case TQT_DTYPE_INT64: return reduce_block_i64;
  case TQT_DTYPE_UINT64: return reduce_block_u64;
  case TQT_DTYPE_INT8: return extreme ? reduce_block_i8 : NULL;
  case TQT_DTYPE_UINT8: return extreme ? reduce_block_u8 : NULL;
  case TQT_DTYPE_BOOL: return extreme ? reduce_block_b8 : NULL;
  default: return NULL;
  }
}

/* ---- the driver ---- */

struct reduce_params {
  enum reduce_op op;
  bool keepdims;
  bool noop_with_empty_axes;
  bool axes_from_input; /* ReduceSum from opset 13, the others from 18 */
  const int64_t *axes;  /* the attribute (the model outlives the plan); NULL: all axes */
  size_t n_axes;
};

static enum tqt_status reduce_init(struct tqt_kernel_ctx *k) {
  struct reduce_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  size_t i = 0, count = sizeof reduce_ops / sizeof reduce_ops[0];
  while (i < count && strcmp(reduce_ops[i].op_type, k->node->op_type) != 0) i++;
  if (i == count) return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "not a reduction");
  p->op = reduce_ops[i].op;
  p->keepdims = tqt_attr_int(k->node, "keepdims", 1) != 0;
  p->noop_with_empty_axes = tqt_attr_int(k->node, "noop_with_empty_axes", 0) != 0;
  p->axes_from_input = k->kernel->since_version >= (p->op == REDUCE_SUM ? 13 : 18);
  if (!p->axes_from_input) p->axes = tqt_attr_ints(k->node, "axes", &p->n_axes);
  k->params = p;
  return TQT_STATUS_OK;
}

/* Copies src (dims, element size esize) into dst transposed so that dst axis i is src axis
 * perm[i]. */
static void reduce_permute(const void *src, void *dst, size_t esize, size_t rank,
                           const int64_t *dims, const size_t *perm) {
  int64_t src_stride[TQT_RANK_MAX], stride[TQT_RANK_MAX], idx[TQT_RANK_MAX] = {0};
  int64_t s = 1, total = 1;
  for (size_t i = rank; i-- > 0;) {
    src_stride[i] = s;
    s *= dims[i];
  }
  for (size_t i = 0; i < rank; i++) {
    stride[i] = src_stride[perm[i]];
    total *= dims[perm[i]];
  }
  int64_t off = 0;
  for (int64_t e = 0; e < total; e++) {
    const char *from = (const char *)src + off * (int64_t)esize;
    memcpy((char *)dst + e * (int64_t)esize, from, esize);
    for (size_t i = rank; i-- > 0;) { /* odometer over dst, tracking the src offset */
      off += stride[i];
      if (++idx[i] < dims[perm[i]]) break;
      off -= stride[i] * idx[i];
      idx[i] = 0;
    }
  }
}

static enum tqt_status reduce_run(struct tqt_kernel_ctx *k) {
  const struct reduce_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  reduce_block_fn block = reduce_block_for(p->op, x->dtype);
  if (!block)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));

  const int64_t *axes = p->axes;
  size_t n_axes = p->n_axes;
  int64_t axes_in[TQT_RANK_MAX];
  if (p->axes_from_input) {
    const struct tqt_rt_tensor *t = tqt_kernel_input(k, 1);
    n_axes = 0;
    if (t && tqt_kernel_read_ints(k, t, axes_in, TQT_RANK_MAX, &n_axes) != TQT_STATUS_OK)
      return k->d->status;
    axes = axes_in;
  }
  bool reduced[TQT_RANK_MAX] = {false};
  if (n_axes == 0) {
    /* No axes: all of them, or none (each element folded alone) with noop_with_empty_axes. */
    for (size_t i = 0; i < x->rank; i++)
      reduced[i] = !(p->axes_from_input && p->noop_with_empty_axes);
  }
  for (size_t i = 0; i < n_axes; i++) {
    size_t a;
    if (tqt_kernel_axis(k, axes[i], x->rank, &a) != TQT_STATUS_OK) return k->d->status;
    if (reduced[a])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %lld is given twice", (long long)axes[i]);
    reduced[a] = true;
  }

  int64_t ydims[TQT_RANK_MAX];
  size_t yrank = 0;
  for (size_t i = 0; i < x->rank; i++)
    if (!reduced[i] || p->keepdims) ydims[yrank++] = reduced[i] ? 1 : x->dims[i];
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, yrank, ydims);
  if (!y) return k->d->status;

  /* Coalesce into alternating groups of kept and reduced axes (size-1 axes belong to neither). */
  int64_t gdims[TQT_RANK_MAX];
  bool greduced[TQT_RANK_MAX];
  size_t ng = 0, n_reduced_groups = 0;
  for (size_t i = 0; i < x->rank; i++) {
    if (x->dims[i] == 1) continue;
    if (ng && greduced[ng - 1] == reduced[i]) {
      gdims[ng - 1] *= x->dims[i];
      continue;
    }
    gdims[ng] = x->dims[i];
    greduced[ng] = reduced[i];
    n_reduced_groups += reduced[i];
    ng++;
  }
  int64_t outer = 1, n = 1, inner = 1;
  bool seen_reduced = false;
  for (size_t g = 0; g < ng; g++) {
    if (greduced[g]) {
      n *= gdims[g];
      seen_reduced = true;
    } else if (seen_reduced && n_reduced_groups == 1) {
      inner *= gdims[g];
    } else {
      outer *= gdims[g];
    }
  }

  void *tmp = NULL, *scratch = NULL;
  const void *src = x->data;
  enum tqt_status st = TQT_STATUS_OK;
  size_t esize = tqt_dtype_size(x->dtype);
  if (n_reduced_groups > 1 && outer * n > 0) {
    /* Reduced axes apart: gather them last (kept axes keep their order, as in y). */
    size_t perm[TQT_RANK_MAX], np = 0;
    for (size_t g = 0; g < ng; g++)
      if (!greduced[g]) perm[np++] = g;
    for (size_t g = 0; g < ng; g++)
      if (greduced[g]) perm[np++] = g;
    tmp = malloc((size_t)(outer * n) * esize);
    if (!tmp) goto nomem;
    reduce_permute(x->data, tmp, esize, ng, gdims, perm);
    src = tmp;
  }
  scratch = malloc(2 * (size_t)inner * sizeof(double));
  if (!scratch) goto nomem;
  block(p->op, src, y->data, outer, n, inner, scratch);
  goto done;
nomem:
  st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
done:
  free(tmp);
  free(scratch);
  return st;
}

/* ---- ArgMax, ArgMin ---- */

struct reduce_arg_params {
  bool is_max;
  int64_t axis;
  bool keepdims;
  bool select_last_index;
};

typedef void (*reduce_arg_fn)(const struct reduce_arg_params *p, const void *x, int64_t *y,
                              int64_t outer, int64_t n, int64_t inner);

/* NaN wins (as in numpy: the first NaN, or the last with select_last_index); ties go to the first
 * index, or the last with select_last_index. */
#define REDUCE_ARG_DEFINE(SUFFIX, T, V, LOAD, ISNAN)                                             \
  static void reduce_arg_##SUFFIX(const struct reduce_arg_params *p, const void *xv, int64_t *y, \
                                  int64_t outer, int64_t n, int64_t inner) {                     \
    const T *x = xv;                                                                             \
    bool last = p->select_last_index;                                                            \
    for (int64_t o = 0; o < outer; o++)                                                          \
      for (int64_t i = 0; i < inner; i++) {                                                      \
        const T *xs = x + o * n * inner + i;                                                     \
        V best = LOAD(xs[0]);                                                                    \
        int64_t at = 0;                                                                          \
        for (int64_t r = 1; r < n; r++) {                                                        \
          V v = LOAD(xs[r * inner]);                                                             \
          bool take = ISNAN(best) ? last && ISNAN(v)                                             \
                      : ISNAN(v)  ? true                                                         \
                      : p->is_max ? (v > best || (last && v == best))                            \
                                  : (v < best || (last && v == best));                           \
          if (take) {                                                                            \
            best = v;                                                                            \
            at = r;                                                                              \
          }                                                                                      \
        }                                                                                        \
        y[o * inner + i] = at;                                                                   \
      }                                                                                          \
  }

#define REDUCE_ARG_LOAD_F16(e) tqt_f16_to_f32(e)
#define REDUCE_ARG_LOAD_BF16(e) tqt_bf16_to_f32(e)

REDUCE_ARG_DEFINE(f32, float, float, REDUCE_LOAD_PLAIN, isnan)
REDUCE_ARG_DEFINE(f64, double, double, REDUCE_LOAD_PLAIN, isnan)
REDUCE_ARG_DEFINE(f16, uint16_t, float, REDUCE_ARG_LOAD_F16, isnan)
REDUCE_ARG_DEFINE(bf16, uint16_t, float, REDUCE_ARG_LOAD_BF16, isnan)
REDUCE_ARG_DEFINE(i8, int8_t, int8_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(u8, uint8_t, uint8_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(i16, int16_t, int16_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(u16, uint16_t, uint16_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(i32, int32_t, int32_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(u32, uint32_t, uint32_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(i64, int64_t, int64_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)
REDUCE_ARG_DEFINE(u64, uint64_t, uint64_t, REDUCE_LOAD_PLAIN, REDUCE_NO_NAN)

static reduce_arg_fn reduce_arg_for(int32_t dtype) {
  switch (dtype) {
  case TQT_DTYPE_FLOAT: return reduce_arg_f32;
  case TQT_DTYPE_DOUBLE: return reduce_arg_f64;
  case TQT_DTYPE_FLOAT16: return reduce_arg_f16;
  case TQT_DTYPE_BFLOAT16: return reduce_arg_bf16;
  case TQT_DTYPE_INT8: return reduce_arg_i8;
  case TQT_DTYPE_UINT8: return reduce_arg_u8;
  case TQT_DTYPE_INT16: return reduce_arg_i16;
  case TQT_DTYPE_UINT16: return reduce_arg_u16;
  case TQT_DTYPE_INT32: return reduce_arg_i32;
  case TQT_DTYPE_UINT32: return reduce_arg_u32;
  case TQT_DTYPE_INT64: return reduce_arg_i64;
  case TQT_DTYPE_UINT64: return reduce_arg_u64;
  default: return NULL;
  }
}

static enum tqt_status reduce_arg_init(struct tqt_kernel_ctx *k) {
  struct reduce_arg_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->is_max = strcmp(k->node->op_type, "ArgMax") == 0;
  p->axis = tqt_attr_int(k->node, "axis", 0);
  p->keepdims = tqt_attr_int(k->node, "keepdims", 1) != 0;
  p->select_last_index = tqt_attr_int(k->node, "select_last_index", 0) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status reduce_arg_run(struct tqt_kernel_ctx *k) {
  const struct reduce_arg_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  reduce_arg_fn fn = reduce_arg_for(x->dtype);
  if (!fn) return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  size_t axis;
  if (tqt_kernel_axis(k, p->axis, x->rank, &axis) != TQT_STATUS_OK) return k->d->status;
  int64_t outer = 1, inner = 1, n = x->dims[axis];
  int64_t ydims[TQT_RANK_MAX];
  size_t yrank = 0;
  for (size_t i = 0; i < x->rank; i++) {
    if (i < axis) outer *= x->dims[i];
    if (i > axis) inner *= x->dims[i];
    if (i != axis || p->keepdims) ydims[yrank++] = i == axis ? 1 : x->dims[i];
  }
  if (n == 0 && outer * inner > 0) {
    char s[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %zu of %s is empty", axis,
                           tqt_rt_shape_str(x, s, sizeof s));
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT64, yrank, ydims);
  if (!y) return k->d->status;
  fn(p, x->data, y->data, outer, n, inner);
  return TQT_STATUS_OK;
}

/* ---- inference (infer.h) ---- */

/* ReduceSum/Prod/Max/Min of a small integer tensor whose elements are known (shape arithmetic):
 * y's elements, folded with the dim arithmetic. */
static void reduce_infer_value(struct tqt_infer_ctx *c, enum reduce_op op,
                               const struct tqt_sym *x, const bool *reduced, struct tqt_sym *y) {
  tqt_sdim (*fold)(struct tqt_dimtab *, tqt_sdim, tqt_sdim) =
      op == REDUCE_SUM ? tqt_sdim_add : op == REDUCE_PROD ? tqt_sdim_mul
      : op == REDUCE_MAX ? tqt_sdim_max : op == REDUCE_MIN ? tqt_sdim_min : NULL;
  int64_t n = tqt_sym_numel(x), dims[TQT_RANK_MAX];
  if (!fold || n <= 0 || n > TQT_SYM_VALUE_MAX || (!x->has_value && !x->constant)) return;
  for (size_t a = 0; a < x->rank; a++) tqt_sdim_value(x->dims[a], &dims[a]);
  tqt_sdim acc[TQT_SYM_VALUE_MAX];
  bool seen[TQT_SYM_VALUE_MAX] = {false};
  for (int64_t i = 0; i < n; i++) {
    /* y's flat index: x's index with the reduced axes left out (or 1 with keepdims). */
    int64_t rest = i, o = 0, scale = 1;
    for (size_t a = x->rank; a-- > 0;) {
      if (!reduced[a]) {
        o += rest % dims[a] * scale;
        scale *= dims[a];
      }
      rest /= dims[a];
    }
    tqt_sdim e = tqt_sym_elem(c->dims, x, (size_t)i);
    acc[o] = seen[o] ? fold(c->dims, acc[o], e) : e;
    seen[o] = true;
  }
  tqt_sym_value_set(y, acc, (size_t)tqt_sym_numel(y));
}

/* Axes from the attribute or from input 1 when its values are known; every axis when none is
 * given, or none with noop_with_empty_axes. */
static enum tqt_status reduce_infer(struct tqt_infer_ctx *c) {
  const struct reduce_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *t = tqt_infer_input(c, 1);
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  int64_t from_input[TQT_RANK_MAX];
  const int64_t *axes = p->axes;
  size_t n_axes = p->n_axes, rank = 0;
  bool known = true;
  if (p->axes_from_input) {
    axes = from_input;
    n_axes = 0;
    if (t && tqt_sym_numel(t) != 0) known = tqt_sym_ints(t, from_input, TQT_RANK_MAX, &n_axes);
  }
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!tqt_sym_ranked(x)) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  tqt_sdim dims[TQT_RANK_MAX], one = tqt_sdim_const(c->dims, 1);
  if (!known) {
    /* Dims of 1 stay 1 whichever axes go; without keepdims only how many go (the axes' count,
     * no axis twice) tells the rank. */
    int64_t gone = tqt_sym_numel(t);
    for (size_t i = 0; i < x->rank; i++) dims[i] = x->dims[i] == one ? one : NULL;
    if (p->keepdims)
      tqt_sym_tensor(&c->out[0], dtype, x->rank, dims);
    else if (gone > 0 && (size_t)gone <= x->rank)
      tqt_sym_tensor(&c->out[0], dtype, x->rank - (size_t)gone, NULL);
    else
      tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  bool reduced[TQT_RANK_MAX] = {false};
  for (size_t i = 0; n_axes == 0 && i < x->rank; i++)
    reduced[i] = !(p->axes_from_input && p->noop_with_empty_axes);
  for (size_t i = 0; i < n_axes; i++) {
    size_t a;
    if (tqt_kernel_axis(c->k, axes[i], x->rank, &a)) return c->k->d->status;
    if (reduced[a])
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld is given twice",
                             (long long)axes[i]);
    reduced[a] = true;
  }
  for (size_t i = 0; i < x->rank; i++)
    if (!reduced[i] || p->keepdims) dims[rank++] = reduced[i] ? one : x->dims[i];
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  reduce_infer_value(c, p->op, x, reduced, &c->out[0]);
  return TQT_STATUS_OK;
}

/* ArgMax, ArgMin: int64, X's dims with axis 1 (keepdims) or gone. */
static enum tqt_status reduce_arg_infer(struct tqt_infer_ctx *c) {
  const struct reduce_arg_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!tqt_sym_ranked(x)) {
    tqt_sym_tensor_unranked(&c->out[0], TQT_DTYPE_INT64);
    return TQT_STATUS_OK;
  }
  size_t axis, rank = 0;
  if (tqt_kernel_axis(c->k, p->axis, x->rank, &axis)) return c->k->d->status;
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0; i < x->rank; i++)
    if (i != axis || p->keepdims)
      dims[rank++] = i == axis ? tqt_sdim_const(c->dims, 1) : x->dims[i];
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, rank, dims);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel reduce_kernels[] = {
    {"", "ReduceSum", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceSum", 13, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceMean", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceMean", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceProd", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceProd", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceMax", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceMax", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceMin", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceMin", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceL1", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceL1", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceL2", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceL2", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceSumSquare", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceSumSquare", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceLogSum", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceLogSum", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceLogSumExp", 1, reduce_init, reduce_run, reduce_infer},
    {"", "ReduceLogSumExp", 18, reduce_init, reduce_run, reduce_infer},
    {"", "ArgMax", 1, reduce_arg_init, reduce_arg_run, reduce_arg_infer},
    {"", "ArgMin", 1, reduce_arg_init, reduce_arg_run, reduce_arg_infer},
};

const struct tqt_kernel_family tqt_family_reduce = {
    "reduce", reduce_kernels, sizeof reduce_kernels / sizeof reduce_kernels[0]};
