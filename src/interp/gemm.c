/* Kernels: matrix products. Gemm, MatMul (numpy batching), the integer and quantized forms
 * (MatMulInteger, QLinearMatMul) and Einsum.
 *
 * float32 goes through cblas_sgemm and double through cblas_dgemm. The integer forms subtract
 * their zero points into doubles and use cblas_dgemm: every product of two 8-bit values is below
 * 2^16, so sums stay exact far beyond any real K, and the result is the int32 sum ONNX asks for.
 * float16/bfloat16 are widened to float32 around the float path. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

/* ---- shared helpers ---- */

static bool gemm_is_half(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT16 || dtype == TQT_DTYPE_BFLOAT16;
}

/* A float32 copy of a float16/bfloat16 tensor (malloc'd; NULL when out of memory). */
static float *gemm_half_widen(const struct tqt_rt_tensor *t) {
  int64_t n = tqt_rt_numel(t);
  float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
  if (!f) return NULL;
  const uint16_t *h = t->data;
  if (t->dtype == TQT_DTYPE_FLOAT16)
    for (int64_t i = 0; i < n; i++) f[i] = tqt_f16_to_f32(h[i]);
  else
    for (int64_t i = 0; i < n; i++) f[i] = tqt_bf16_to_f32(h[i]);
  return f;
}

static void gemm_half_narrow(struct tqt_rt_tensor *t, const float *f) {
  int64_t n = tqt_rt_numel(t);
  uint16_t *h = t->data;
  if (t->dtype == TQT_DTYPE_FLOAT16)
    for (int64_t i = 0; i < n; i++) h[i] = tqt_f32_to_f16(f[i]);
  else
    for (int64_t i = 0; i < n; i++) h[i] = tqt_f32_to_bf16(f[i]);
}

static bool gemm_is_int8(int32_t dtype) {
  return dtype == TQT_DTYPE_UINT8 || dtype == TQT_DTYPE_INT8;
}

/* Element i of an int8/uint8 tensor. */
static inline int32_t gemm_q_get(const struct tqt_rt_tensor *t, int64_t i) {
  return t->dtype == TQT_DTYPE_INT8 ? ((const int8_t *)t->data)[i] : ((const uint8_t *)t->data)[i];
}

/* ---- Gemm ---- */

struct gemm_params {
  float alpha, beta;
  bool trans_a, trans_b;
  bool broadcast; /* before version 7: C broadcasts only when this is set */
};

static enum tqt_status gemm_init(struct tqt_kernel_ctx *k) {
  struct gemm_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  k->accepts_clamp = true; /* gemm_run clamps every float type */
  p->alpha = tqt_attr_float(k->node, "alpha", 1.0f);
  p->beta = tqt_attr_float(k->node, "beta", 1.0f);
  p->trans_a = tqt_attr_int(k->node, "transA", 0) != 0;
  p->trans_b = tqt_attr_int(k->node, "transB", 0) != 0;
  p->broadcast = k->kernel->since_version >= 7 || tqt_attr_int(k->node, "broadcast", 0) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

/* Y = alpha op(A) op(B) + beta C for the BLAS types: C (broadcast to M x N, element strides
 * cs_m/cs_n) is written into Y first and BLAS scales it by beta. */
#define GEMM_BLAS_DEFINE(T, S, BLAS_GEMM)                                                  \
  static void gemm_blas_##S(const struct gemm_params *p, int64_t m, int64_t n, int64_t kk, \
                            const T *a, int64_t lda, const T *b, int64_t ldb, const T *c,  \
                            int64_t cs_m, int64_t cs_n, T *y) {                            \
    T beta = c ? (T)p->beta : 0;                                                           \
    if (beta != 0)                                                                         \
      for (int64_t i = 0; i < m; i++)                                                      \
        for (int64_t j = 0; j < n; j++) y[i * n + j] = c[i * cs_m + j * cs_n];             \
    if (kk == 0) { /* no product: Y = beta C */                                            \
      for (int64_t i = 0; i < m * n; i++) y[i] = beta != 0 ? beta * y[i] : 0;              \
      return;                                                                              \
    }                                                                                      \
    BLAS_GEMM(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,                       \
              p->trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)kk, \
              (T)p->alpha, a, (blasint)lda, b, (blasint)ldb, beta, y, (blasint)n);         \
  }

GEMM_BLAS_DEFINE(float, f32, cblas_sgemm)
GEMM_BLAS_DEFINE(double, f64, cblas_dgemm)

/* Integer Gemm (versions 9+): sums in 64 bits (wrapping), alpha and beta applied in double. */
static void gemm_generic(const struct gemm_params *p, int64_t m, int64_t n, int64_t kk,
                         const struct tqt_rt_tensor *a, const struct tqt_rt_tensor *b,
                         const struct tqt_rt_tensor *c, int64_t cs_m, int64_t cs_n,
                         struct tqt_rt_tensor *y) {
  int64_t lda = a->dims[1], ldb = b->dims[1];
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      uint64_t acc = 0;
      for (int64_t t = 0; t < kk; t++) {
        int64_t ai = p->trans_a ? t * lda + i : i * lda + t;
        int64_t bi = p->trans_b ? j * ldb + t : t * ldb + j;
        acc += (uint64_t)tqt_rt_get_int(a, ai) * (uint64_t)tqt_rt_get_int(b, bi);
      }
      double v = p->alpha * (double)(int64_t)acc;
      if (c) v += p->beta * tqt_rt_get(c, i * cs_m + j * cs_n);
      tqt_rt_set(y, i * n + j, v);
    }
  }
}

static enum tqt_status gemm_run(struct tqt_kernel_ctx *k) {
  const struct gemm_params *p = k->params;
  const struct tqt_rt_tensor *a = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *b = a ? tqt_kernel_input_required(k, 1) : NULL;
  if (!b) return k->d->status;
  const struct tqt_rt_tensor *c = tqt_kernel_input(k, 2);
  if (!c && k->d->status) return k->d->status;
  char sa[128], sb[128];
  if (a->rank != 2 || b->rank != 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "A %s and B %s must be matrices",
                           tqt_rt_shape_str(a, sa, sizeof sa), tqt_rt_shape_str(b, sb, sizeof sb));
  if (b->dtype != a->dtype || (c && c->dtype != a->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "inputs mix types %s, %s and %s",
                           tqt_dtype_name(a->dtype), tqt_dtype_name(b->dtype),
                           c ? tqt_dtype_name(c->dtype) : "-");
  int64_t m = p->trans_a ? a->dims[1] : a->dims[0], kk = p->trans_a ? a->dims[0] : a->dims[1];
  int64_t kb = p->trans_b ? b->dims[1] : b->dims[0], n = p->trans_b ? b->dims[0] : b->dims[1];
  if (kk != kb)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "A %s and B %s do not multiply (transA %d, transB %d)",
                           tqt_rt_shape_str(a, sa, sizeof sa), tqt_rt_shape_str(b, sb, sizeof sb),
                           p->trans_a, p->trans_b);
  /* C broadcasts unidirectionally to M x N (before version 7 only with broadcast=1). */
  int64_t cs_m = 0, cs_n = 0;
  if (c) {
    int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    bool ok = c->rank <= 2 && (cm == m || cm == 1) && (cn == n || cn == 1);
    if (!p->broadcast) ok = c->rank == 2 && cm == m && cn == n;
    if (!ok)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "C %s does not broadcast to [%lld,%lld]%s",
                             tqt_rt_shape_str(c, sa, sizeof sa), (long long)m, (long long)n,
                             p->broadcast ? "" : " (broadcast=0)");
    cs_m = cm == 1 ? 0 : cn;
    cs_n = cn == 1 ? 0 : 1;
  }
  int64_t dims[2] = {m, n};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, a->dtype, 2, dims);
  if (!y) return k->d->status;
  if (m == 0 || n == 0) return TQT_STATUS_OK;
  switch (a->dtype) {
    case TQT_DTYPE_FLOAT:
      gemm_blas_f32(p, m, n, kk, a->data, a->dims[1], b->data, b->dims[1], c ? c->data : NULL, cs_m,
                    cs_n, y->data);
      tqt_kernel_clamp_f32(k, y->data, (size_t)(m * n)); /* a fused Relu/Clip, if any */
      return TQT_STATUS_OK;
    case TQT_DTYPE_DOUBLE:
      gemm_blas_f64(p, m, n, kk, a->data, a->dims[1], b->data, b->dims[1], c ? c->data : NULL, cs_m,
                    cs_n, y->data);
      for (int64_t i = 0; k->clamp && i < m * n; i++) {
        double *yd = y->data;
        yd[i] = yd[i] < k->clamp_min ? k->clamp_min : yd[i] > k->clamp_max ? k->clamp_max : yd[i];
      }
      return TQT_STATUS_OK;
    case TQT_DTYPE_INT32:
    case TQT_DTYPE_INT64:
    case TQT_DTYPE_UINT32:
    case TQT_DTYPE_UINT64:
      gemm_generic(p, m, n, kk, a, b, c, cs_m, cs_n, y);
      return TQT_STATUS_OK;
    default:
      break;
  }
  if (!gemm_is_half(a->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(a->dtype));
  enum tqt_status st = TQT_STATUS_OK;
  float *fa = gemm_half_widen(a), *fb = gemm_half_widen(b), *fc = c ? gemm_half_widen(c) : NULL;
  float *fy = malloc((size_t)(m * n) * sizeof *fy);
  if (!fa || !fb || (c && !fc) || !fy) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  gemm_blas_f32(p, m, n, kk, fa, a->dims[1], fb, b->dims[1], fc, cs_m, cs_n, fy);
  tqt_kernel_clamp_f32(k, fy, (size_t)(m * n));
  gemm_half_narrow(y, fy);
fail:
  free(fa);
  free(fb);
  free(fc);
  free(fy);
  return st;
}

/* ---- MatMul shapes (numpy matmul: 1-D operands promoted, batch dims broadcast) ---- */

struct gemm_mm {
  int64_t m, k, n;
  size_t batch_rank;
  int64_t batch[TQT_RANK_MAX];
  int64_t a_stride[TQT_RANK_MAX], b_stride[TQT_RANK_MAX]; /* in matrices; 0 where broadcast */
  int64_t batches, a_batches, b_batches;
  /* Each operand as a matrix stack: A is a_batches x M x K, B is b_batches x K x N. */
  size_t a_rank, b_rank;
  int64_t a_dims[TQT_RANK_MAX], b_dims[TQT_RANK_MAX];
  size_t out_rank;
  int64_t out[TQT_RANK_MAX];
};

struct gemm_batch_iter {
  int64_t idx[TQT_RANK_MAX];
  int64_t a, b; /* matrix index into A and B */
};

static void gemm_batch_next(const struct gemm_mm *s, struct gemm_batch_iter *it) {
  for (size_t d = s->batch_rank; d-- > 0;) {
    it->a += s->a_stride[d];
    it->b += s->b_stride[d];
    if (++it->idx[d] < s->batch[d]) return;
    it->a -= s->a_stride[d] * s->batch[d];
    it->b -= s->b_stride[d] * s->batch[d];
    it->idx[d] = 0;
  }
}

static enum tqt_status gemm_mm_shape(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *a,
                                     const struct tqt_rt_tensor *b, struct gemm_mm *s) {
  char sa[128], sb[128];
  memset(s, 0, sizeof *s);
  if (a->rank == 0 || b->rank == 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "MatMul of a scalar (%s, %s)",
                           tqt_rt_shape_str(a, sa, sizeof sa), tqt_rt_shape_str(b, sb, sizeof sb));
  /* Promote 1-D operands: A [K] -> [1,K], B [K] -> [K,1]. */
  s->a_rank = a->rank == 1 ? 2 : a->rank;
  s->b_rank = b->rank == 1 ? 2 : b->rank;
  if (a->rank == 1) {
    s->a_dims[0] = 1;
    s->a_dims[1] = a->dims[0];
  } else {
    memcpy(s->a_dims, a->dims, a->rank * sizeof *a->dims);
  }
  if (b->rank == 1) {
    s->b_dims[0] = b->dims[0];
    s->b_dims[1] = 1;
  } else {
    memcpy(s->b_dims, b->dims, b->rank * sizeof *b->dims);
  }
  s->m = s->a_dims[s->a_rank - 2];
  s->k = s->a_dims[s->a_rank - 1];
  s->n = s->b_dims[s->b_rank - 1];
  if (s->b_dims[s->b_rank - 2] != s->k)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "A %s and B %s do not multiply",
                           tqt_rt_shape_str(a, sa, sizeof sa), tqt_rt_shape_str(b, sb, sizeof sb));
  size_t ra = s->a_rank - 2, rb = s->b_rank - 2, r = ra > rb ? ra : rb;
  s->batch_rank = r;
  int64_t as = 1, bs = 1;
  s->batches = 1;
  for (size_t i = r; i-- > 0;) {
    int64_t da = i < r - ra ? 1 : s->a_dims[i - (r - ra)];
    int64_t db = i < r - rb ? 1 : s->b_dims[i - (r - rb)];
    if (da != db && da != 1 && db != 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "batch dims of %s and %s do not broadcast",
                             tqt_rt_shape_str(a, sa, sizeof sa),
                             tqt_rt_shape_str(b, sb, sizeof sb));
    s->batch[i] = da == 1 ? db : da;
    s->a_stride[i] = da == 1 ? 0 : as;
    s->b_stride[i] = db == 1 ? 0 : bs;
    as *= da;
    bs *= db;
    s->batches *= s->batch[i];
  }
  s->a_batches = as;
  s->b_batches = bs;
  memcpy(s->out, s->batch, r * sizeof *s->batch);
  s->out_rank = r;
  if (a->rank > 1) s->out[s->out_rank++] = s->m;
  if (b->rank > 1) s->out[s->out_rank++] = s->n;
  return TQT_STATUS_OK;
}

/* ---- MatMul ---- */

#define GEMM_MM_BLAS_DEFINE(T, S, BLAS_GEMM)                                                       \
  static void gemm_mm_##S(const struct gemm_mm *s, const T *a, const T *b, T *y) {                 \
    int64_t m = s->m, n = s->n, kk = s->k;                                                         \
    if (kk == 0) {                                                                                 \
      memset(y, 0, (size_t)(s->batches * m * n) * sizeof *y);                                      \
      return;                                                                                      \
    }                                                                                              \
    if (s->b_batches == 1 && s->a_batches == s->batches) {                                         \
      /* One B for every batch: the A stack is one tall matrix. */                                 \
      BLAS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)(s->batches * m), (blasint)n,  \
                (blasint)kk, 1, a, (blasint)kk, b, (blasint)n, 0, y, (blasint)n);                  \
      return;                                                                                      \
    }                                                                                              \
    struct gemm_batch_iter it = {0};                                                               \
    for (int64_t bi = 0; bi < s->batches; bi++, gemm_batch_next(s, &it))                           \
      BLAS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)m, (blasint)n, (blasint)kk, 1, \
                a + it.a * m * kk, (blasint)kk, b + it.b * kk * n, (blasint)n, 0, y + bi * m * n,  \
                (blasint)n);                                                                       \
  }

GEMM_MM_BLAS_DEFINE(float, f32, cblas_sgemm)
GEMM_MM_BLAS_DEFINE(double, f64, cblas_dgemm)

/* Integer MatMul: plain loops, wrapping like the fixed-width type (unsigned arithmetic). */
#define GEMM_MM_INT_DEFINE(T, UT, S)                                               \
  static void gemm_mm_##S(const struct gemm_mm *s, const T *a, const T *b, T *y) { \
    int64_t m = s->m, n = s->n, kk = s->k;                                         \
    struct gemm_batch_iter it = {0};                                               \
    for (int64_t bi = 0; bi < s->batches; bi++, gemm_batch_next(s, &it)) {         \
      const T *am = a + it.a * m * kk, *bm = b + it.b * kk * n;                    \
      for (int64_t i = 0; i < m; i++) {                                            \
        UT *yr = (UT *)(y + (bi * m + i) * n);                                     \
        memset(yr, 0, (size_t)n * sizeof *yr);                                     \
        for (int64_t t = 0; t < kk; t++) {                                         \
          UT av = (UT)am[i * kk + t];                                              \
          const T *br = bm + t * n;                                                \
          for (int64_t j = 0; j < n; j++) yr[j] += av * (UT)br[j];                 \
        }                                                                          \
      }                                                                            \
    }                                                                              \
  }

GEMM_MM_INT_DEFINE(int32_t, uint32_t, i32)
GEMM_MM_INT_DEFINE(int64_t, uint64_t, i64)
GEMM_MM_INT_DEFINE(uint32_t, uint32_t, u32)
GEMM_MM_INT_DEFINE(uint64_t, uint64_t, u64)

static enum tqt_status gemm_matmul_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *a = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *b = a ? tqt_kernel_input_required(k, 1) : NULL;
  if (!b) return k->d->status;
  if (a->dtype != b->dtype)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "inputs mix types %s and %s",
                           tqt_dtype_name(a->dtype), tqt_dtype_name(b->dtype));
  struct gemm_mm s;
  if (gemm_mm_shape(k, a, b, &s)) return k->d->status;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, a->dtype, s.out_rank, s.out);
  if (!y) return k->d->status;
  if (s.batches == 0 || s.m == 0 || s.n == 0) return TQT_STATUS_OK;
  switch (a->dtype) {
    case TQT_DTYPE_FLOAT:
      gemm_mm_f32(&s, a->data, b->data, y->data);
      return TQT_STATUS_OK;
    case TQT_DTYPE_DOUBLE:
      gemm_mm_f64(&s, a->data, b->data, y->data);
      return TQT_STATUS_OK;
    case TQT_DTYPE_INT32:
      gemm_mm_i32(&s, a->data, b->data, y->data);
      return TQT_STATUS_OK;
    case TQT_DTYPE_INT64:
      gemm_mm_i64(&s, a->data, b->data, y->data);
      return TQT_STATUS_OK;
    case TQT_DTYPE_UINT32:
      gemm_mm_u32(&s, a->data, b->data, y->data);
      return TQT_STATUS_OK;
    case TQT_DTYPE_UINT64:
      gemm_mm_u64(&s, a->data, b->data, y->data);
      return TQT_STATUS_OK;
    default:
      break;
  }
  if (!gemm_is_half(a->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(a->dtype));
  enum tqt_status st = TQT_STATUS_OK;
  float *fa = gemm_half_widen(a), *fb = gemm_half_widen(b);
  float *fy = malloc((size_t)tqt_rt_numel(y) * sizeof *fy);
  if (!fa || !fb || !fy) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  gemm_mm_f32(&s, fa, fb, fy);
  gemm_half_narrow(y, fy);
fail:
  free(fa);
  free(fb);
  free(fy);
  return st;
}

/* ---- MatMulInteger, QLinearMatMul ---- */

/* Reads a quantization parameter (scale or zero point) broadcast over one operand's matrix
 * stack: for A per row (target [a_batch..., M, 1]), for B per column (target [b_batch..., 1, N]).
 * A 1-D parameter of A is its per-row vector even when A is N-D. out gets prod(target) values;
 * absent p gives dflt. */
static enum tqt_status gemm_qparam_expand(struct tqt_kernel_ctx *k, const char *what,
                                          const struct tqt_rt_tensor *p, bool per_row, size_t rank,
                                          const int64_t *dims, double dflt, double **out) {
  int64_t target[TQT_RANK_MAX];
  memcpy(target, dims, rank * sizeof *dims);
  target[rank - (per_row ? 1 : 2)] = 1;
  int64_t total = 1;
  for (size_t i = 0; i < rank; i++) total *= target[i];
  double *v = malloc((size_t)(total ? total : 1) * sizeof *v);
  if (!v) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  *out = v;
  if (!p) {
    for (int64_t i = 0; i < total; i++) v[i] = dflt;
    return TQT_STATUS_OK;
  }
  struct tqt_rt_tensor view = *p;
  if (per_row && p->rank == 1 && p->dims[0] != 1) { /* [M] means [M, 1] */
    view.rank = 2;
    view.dims[1] = 1;
  }
  bool ok = view.rank <= rank;
  for (size_t i = 0; ok && i < view.rank; i++) {
    int64_t pd = view.dims[view.rank - 1 - i], td = target[rank - 1 - i];
    ok = pd == 1 || pd == td;
  }
  if (!ok) {
    char sp[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s %s is neither per-tensor nor per-%s", what,
                           tqt_rt_shape_str(p, sp, sizeof sp), per_row ? "row" : "column");
  }
  int64_t strides[TQT_RANK_MAX], idx[TQT_RANK_MAX] = {0}, off = 0;
  tqt_broadcast_strides(&view, rank, target, strides);
  for (int64_t i = 0; i < total; i++) {
    v[i] = tqt_rt_get(p, off);
    for (size_t d = rank; d-- > 0;) {
      off += strides[d];
      if (++idx[d] < target[d]) break;
      off -= strides[d] * target[d];
      idx[d] = 0;
    }
  }
  return TQT_STATUS_OK;
}

/* x - zero point as doubles over a matrix stack of rows x cols; the zero point varies per row
 * (zp_per_row, rows values) or per column within each matrix (one value per column of each of
 * the stack's matrices, matrix height h). */
static void gemm_q_center(const struct tqt_rt_tensor *x, const double *zp, bool zp_per_row,
                          int64_t rows, int64_t cols, int64_t h, double *out) {
  for (int64_t r = 0; r < rows; r++) {
    const double *z = zp_per_row ? zp + r : zp + (r / h) * cols;
    for (int64_t c = 0; c < cols; c++)
      out[r * cols + c] = gemm_q_get(x, r * cols + c) - z[zp_per_row ? 0 : c];
  }
}

struct gemm_qmm {
  struct gemm_mm s;
  double *a, *b, *acc; /* centered operands and the exact int32 sums */
  double *a_zp, *b_zp, *a_scale, *b_scale;
};

static void gemm_qmm_free(struct gemm_qmm *q) {
  free(q->a);
  free(q->b);
  free(q->acc);
  free(q->a_zp);
  free(q->b_zp);
  free(q->a_scale);
  free(q->b_scale);
}

/* The shared half of MatMulInteger and QLinearMatMul: shapes, zero points, exact sums. */
static enum tqt_status gemm_qmm_compute(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *a,
                                        const struct tqt_rt_tensor *a_zp,
                                        const struct tqt_rt_tensor *b,
                                        const struct tqt_rt_tensor *b_zp, struct gemm_qmm *q) {
  if (!gemm_is_int8(a->dtype) || !gemm_is_int8(b->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "types %s and %s (uint8/int8 expected)",
                           tqt_dtype_name(a->dtype), tqt_dtype_name(b->dtype));
  if ((a_zp && a_zp->dtype != a->dtype) || (b_zp && b_zp->dtype != b->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "a zero point's type differs from its input's");
  struct gemm_mm *s = &q->s;
  if (gemm_mm_shape(k, a, b, s)) return k->d->status;
  if (gemm_qparam_expand(k, "a zero point", a_zp, true, s->a_rank, s->a_dims, 0, &q->a_zp) ||
      gemm_qparam_expand(k, "b zero point", b_zp, false, s->b_rank, s->b_dims, 0, &q->b_zp))
    return k->d->status;
  int64_t an = s->a_batches * s->m * s->k, bn = s->b_batches * s->k * s->n;
  int64_t yn = s->batches * s->m * s->n;
  q->a = malloc((size_t)(an ? an : 1) * sizeof *q->a);
  q->b = malloc((size_t)(bn ? bn : 1) * sizeof *q->b);
  q->acc = malloc((size_t)(yn ? yn : 1) * sizeof *q->acc);
  if (!q->a || !q->b || !q->acc) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  gemm_q_center(a, q->a_zp, true, s->a_batches * s->m, s->k, s->m, q->a);
  gemm_q_center(b, q->b_zp, false, s->b_batches * s->k, s->n, s->k, q->b);
  if (yn) gemm_mm_f64(s, q->a, q->b, q->acc);
  return TQT_STATUS_OK;
}

/* The int32 an exact sum wraps to. */
static inline int32_t gemm_q_wrap32(double v) { return (int32_t)(uint32_t)(int64_t)v; }

static enum tqt_status gemm_matmul_integer_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *a = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *b = a ? tqt_kernel_input_required(k, 1) : NULL;
  if (!b) return k->d->status;
  const struct tqt_rt_tensor *a_zp = tqt_kernel_input(k, 2), *b_zp = tqt_kernel_input(k, 3);
  if (k->d->status) return k->d->status;
  struct gemm_qmm q = {0};
  enum tqt_status st = gemm_qmm_compute(k, a, a_zp, b, b_zp, &q);
  if (st) goto fail;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT32, q.s.out_rank, q.s.out);
  if (!y) {
    st = k->d->status;
    goto fail;
  }
  int64_t yn = tqt_rt_numel(y);
  int32_t *yd = y->data;
  for (int64_t i = 0; i < yn; i++) yd[i] = gemm_q_wrap32(q.acc[i]);
fail:
  gemm_qmm_free(&q);
  return st;
}

/* A per-tensor parameter's single value; fails when it has several. */
static enum tqt_status gemm_q_scalar(struct tqt_kernel_ctx *k, const char *what,
                                     const struct tqt_rt_tensor *t, double *v) {
  if (tqt_rt_numel(t) != 1) {
    char st[128];
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%s %s: only a per-tensor value is supported",
                           what, tqt_rt_shape_str(t, st, sizeof st));
  }
  *v = tqt_rt_get(t, 0);
  return TQT_STATUS_OK;
}

static enum tqt_status gemm_qlinear_matmul_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *in[8];
  for (size_t i = 0; i < 8; i++)
    if (!(in[i] = tqt_kernel_input_required(k, i))) return k->d->status;
  const struct tqt_rt_tensor *a = in[0], *a_scale = in[1], *b = in[3], *b_scale = in[4];
  const struct tqt_rt_tensor *y_scale = in[6], *y_zp = in[7];
  if (a_scale->dtype != TQT_DTYPE_FLOAT || b_scale->dtype != TQT_DTYPE_FLOAT ||
      y_scale->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scales must be float");
  if (!gemm_is_int8(y_zp->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output type %s",
                           tqt_dtype_name(y_zp->dtype));
  double ys = 1, yz = 0;
  if (gemm_q_scalar(k, "y_scale", y_scale, &ys) || gemm_q_scalar(k, "y_zero_point", y_zp, &yz))
    return k->d->status;
  struct gemm_qmm q = {0};
  enum tqt_status st = gemm_qmm_compute(k, a, in[2], b, in[5], &q);
  if (st) goto fail;
  const struct gemm_mm *s = &q.s;
  if ((st = gemm_qparam_expand(k, "a_scale", a_scale, true, s->a_rank, s->a_dims, 1, &q.a_scale)) ||
      (st = gemm_qparam_expand(k, "b_scale", b_scale, false, s->b_rank, s->b_dims, 1, &q.b_scale)))
    goto fail;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, y_zp->dtype, s->out_rank, s->out);
  if (!y) {
    st = k->d->status;
    goto fail;
  }
  /* As the spec's reference: the multiplier in float, the int32 sum times it in double, rounded
   * half to even, then the zero point and saturation. */
  double lo = y_zp->dtype == TQT_DTYPE_INT8 ? -128 : 0,
         hi = y_zp->dtype == TQT_DTYPE_INT8 ? 127 : 255;
  struct gemm_batch_iter it = {0};
  for (int64_t bi = 0; bi < s->batches; bi++, gemm_batch_next(s, &it)) {
    for (int64_t i = 0; i < s->m; i++) {
      float sa = (float)q.a_scale[it.a * s->m + i];
      for (int64_t j = 0; j < s->n; j++) {
        float mult = sa * (float)q.b_scale[it.b * s->n + j] / (float)ys;
        int64_t o = (bi * s->m + i) * s->n + j;
        double v = nearbyint(q.acc[o] * (double)mult) + yz;
        if (isnan(v)) v = yz; /* 0 · inf (a zero scale): the zero point, as QuantizeLinear */
        v = v < lo ? lo : v > hi ? hi : v;
        if (y->dtype == TQT_DTYPE_INT8)
          ((int8_t *)y->data)[o] = (int8_t)v;
        else
          ((uint8_t *)y->data)[o] = (uint8_t)v;
      }
    }
  }
fail:
  gemm_qmm_free(&q);
  return st;
}

/* ---- Einsum ---- */

/* Labels: letters are 0..51, the dims an ellipsis stands for are 52.. (at most TQT_RANK_MAX). */
enum { GEMM_EINSUM_LETTERS = 52, GEMM_EINSUM_LABELS = GEMM_EINSUM_LETTERS + TQT_RANK_MAX };

struct gemm_einsum_term {
  int8_t letters[TQT_RANK_MAX]; /* label ids in order, the ellipsis excluded */
  size_t n_letters;
  int ellipsis; /* position of "..." among the letters, -1 when absent */
};

struct gemm_einsum_params {
  struct gemm_einsum_term *in;
  size_t n_in;
  struct gemm_einsum_term out;
};

static int gemm_einsum_letter(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= 'A' && c <= 'Z') return c - 'A';
  return -1;
}

/* Parses one term of the equation, [s, end) (spaces ignored); false when malformed. */
static bool gemm_einsum_term_parse(const char *s, const char *end, struct gemm_einsum_term *t) {
  t->n_letters = 0;
  t->ellipsis = -1;
  while (s < end) {
    if (*s == ' ') {
      s++;
    } else if (*s == '.') {
      if (end - s < 3 || s[1] != '.' || s[2] != '.' || t->ellipsis >= 0) return false;
      t->ellipsis = (int)t->n_letters;
      s += 3;
    } else {
      int l = gemm_einsum_letter(*s);
      if (l < 0 || t->n_letters == TQT_RANK_MAX) return false;
      t->letters[t->n_letters++] = (int8_t)l;
      s++;
    }
  }
  return true;
}

static enum tqt_status gemm_einsum_init(struct tqt_kernel_ctx *k) {
  const char *eq = tqt_attr_string(k->node, "equation", NULL);
  if (!eq) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the equation attribute is missing");
  struct gemm_einsum_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq);
  size_t n_in = 1;
  for (const char *c = eq; c < lhs_end; c++) n_in += *c == ',';
  if (n_in != k->node->n_inputs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "equation '%s' has %zu operands, the node %zu",
                           eq, n_in, k->node->n_inputs);
  p->in = tqt_arena_calloc(k->arena, n_in, sizeof *p->in);
  if (!p->in) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->n_in = n_in;
  const char *s = eq;
  for (size_t i = 0; i < n_in; i++) {
    const char *end = memchr(s, ',', (size_t)(lhs_end - s));
    if (!end) end = lhs_end;
    if (!gemm_einsum_term_parse(s, end, &p->in[i]))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "cannot parse equation '%s'", eq);
    s = end + 1;
  }
  if (arrow) {
    if (!gemm_einsum_term_parse(arrow + 2, arrow + 2 + strlen(arrow + 2), &p->out))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "cannot parse equation '%s'", eq);
    for (size_t i = 0; i < p->out.n_letters; i++)
      for (size_t j = 0; j < i; j++)
        if (p->out.letters[i] == p->out.letters[j])
          return tqt_kernel_fail(k, TQT_STATUS_INVALID, "output of '%s' repeats a label", eq);
  } else { /* implicit: the ellipsis, then the labels seen once, in alphabetical order */
    int count[GEMM_EINSUM_LETTERS] = {0};
    bool ellipsis = false;
    for (size_t i = 0; i < n_in; i++) {
      for (size_t j = 0; j < p->in[i].n_letters; j++) count[p->in[i].letters[j]]++;
      ellipsis = ellipsis || p->in[i].ellipsis >= 0;
    }
    p->out.ellipsis = ellipsis ? 0 : -1;
    for (int l = 0; l < GEMM_EINSUM_LETTERS; l++)
      if (count[l] == 1) {
        if (p->out.n_letters == TQT_RANK_MAX)
          return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output of '%s' has too many dims", eq);
        p->out.letters[p->out.n_letters++] = (int8_t)l;
      }
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* The labels of a term's dims given its rank and the ellipsis rank e_max shared by all. */
static size_t gemm_einsum_term_labels(const struct gemm_einsum_term *t, size_t ell_rank,
                                      size_t e_max, int *labels) {
  size_t n = 0;
  for (size_t j = 0; j <= t->n_letters; j++) {
    if ((int)j == t->ellipsis)
      for (size_t e = 0; e < ell_rank; e++)
        labels[n++] = GEMM_EINSUM_LETTERS + (int)(e_max - ell_rank + e);
    if (j < t->n_letters) labels[n++] = t->letters[j];
  }
  return n;
}

static void gemm_einsum_store_int(struct tqt_rt_tensor *y, int64_t i, int64_t v) {
  switch (y->dtype) {
    case TQT_DTYPE_INT8:
      ((int8_t *)y->data)[i] = (int8_t)v;
      break;
    case TQT_DTYPE_UINT8:
      ((uint8_t *)y->data)[i] = (uint8_t)v;
      break;
    case TQT_DTYPE_INT16:
      ((int16_t *)y->data)[i] = (int16_t)v;
      break;
    case TQT_DTYPE_UINT16:
      ((uint16_t *)y->data)[i] = (uint16_t)v;
      break;
    case TQT_DTYPE_INT32:
      ((int32_t *)y->data)[i] = (int32_t)v;
      break;
    case TQT_DTYPE_UINT32:
      ((uint32_t *)y->data)[i] = (uint32_t)v;
      break;
    case TQT_DTYPE_UINT64:
      ((uint64_t *)y->data)[i] = (uint64_t)v;
      break;
    default:
      ((int64_t *)y->data)[i] = v;
      break;
  }
}

/* Sums the product of the operands over every assignment of the labels: the output labels
 * outermost, the contracted ones inside. Operands come as doubles or as uint64s (ACC). */
#define GEMM_EINSUM_LOOP_DEFINE(ACC, S)                                                   \
  static void gemm_einsum_loop_##S(                                                       \
      size_t n_in, ACC *const *ops, size_t n_labels, const int64_t *size,                 \
      const int64_t(*strides)[GEMM_EINSUM_LABELS], const int64_t *out_stride, ACC *acc) { \
    int64_t idx[GEMM_EINSUM_LABELS] = {0}, off[TQT_RANK_MAX + 1] = {0}, o = 0, total = 1; \
    for (size_t l = 0; l < n_labels; l++) total *= size[l];                               \
    for (int64_t step = 0; step < total; step++) {                                        \
      ACC v = ops[0][off[0]];                                                             \
      for (size_t i = 1; i < n_in; i++) v *= ops[i][off[i]];                              \
      acc[o] += v;                                                                        \
      for (size_t l = n_labels; l-- > 0;) {                                               \
        for (size_t i = 0; i < n_in; i++) off[i] += strides[i][l];                        \
        o += out_stride[l];                                                               \
        if (++idx[l] < size[l]) break;                                                    \
        for (size_t i = 0; i < n_in; i++) off[i] -= strides[i][l] * size[l];              \
        o -= out_stride[l] * size[l];                                                     \
        idx[l] = 0;                                                                       \
      }                                                                                   \
    }                                                                                     \
  }

GEMM_EINSUM_LOOP_DEFINE(double, f64)
GEMM_EINSUM_LOOP_DEFINE(uint64_t, u64) /* integers wrap like the fixed-width types */

/* An equation bound to shapes: the loop over every label (output labels first, in output
 * order), each operand's element stride per label (0 along broadcast dims; summed for a label
 * repeated in one operand, which walks a diagonal), and the output's. */
struct gemm_einsum_plan {
  size_t n_in, n_labels, n_out;
  int64_t size[GEMM_EINSUM_LABELS];
  int64_t strides[TQT_RANK_MAX + 1][GEMM_EINSUM_LABELS];
  int64_t out_stride[GEMM_EINSUM_LABELS];
  int64_t out_dims[2 * TQT_RANK_MAX];
  uint32_t member[GEMM_EINSUM_LABELS]; /* bit i: operand i has the label */
  bool plain; /* no label repeated within an operand and no broadcast dim */
};

static enum tqt_status gemm_einsum_plan_make(struct tqt_kernel_ctx *k,
                                             const struct gemm_einsum_params *p,
                                             const struct tqt_rt_tensor *const *x,
                                             struct gemm_einsum_plan *e) {
  memset(e, 0, sizeof *e);
  e->n_in = p->n_in;
  e->plain = true;
  size_t e_max = 0;
  for (size_t i = 0; i < p->n_in; i++) {
    size_t nl = p->in[i].n_letters;
    if (x[i]->rank < nl || (p->in[i].ellipsis < 0 && x[i]->rank != nl)) {
      char sx[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "operand %zu %s does not match its term", i,
                             tqt_rt_shape_str(x[i], sx, sizeof sx));
    }
    if (x[i]->rank - nl > e_max) e_max = x[i]->rank - nl;
  }
  /* Label sizes; ellipsis dims broadcast. */
  int64_t lsize[GEMM_EINSUM_LABELS];
  int in_labels[TQT_RANK_MAX + 1][TQT_RANK_MAX];
  for (int l = 0; l < GEMM_EINSUM_LABELS; l++) lsize[l] = -1;
  for (size_t i = 0; i < p->n_in; i++) {
    size_t n =
        gemm_einsum_term_labels(&p->in[i], x[i]->rank - p->in[i].n_letters, e_max, in_labels[i]);
    for (size_t d = 0; d < n; d++) {
      int l = in_labels[i][d];
      int64_t dim = x[i]->dims[d];
      if (lsize[l] < 0 || (l >= GEMM_EINSUM_LETTERS && lsize[l] == 1)) {
        lsize[l] = dim;
      } else if (dim != lsize[l] && !(l >= GEMM_EINSUM_LETTERS && dim == 1)) {
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "label sizes %lld and %lld disagree",
                               (long long)lsize[l], (long long)dim);
      }
    }
  }
  /* Loop order: output labels, then the contracted ones. */
  int order[GEMM_EINSUM_LABELS], out_labels[2 * TQT_RANK_MAX];
  size_t n_out =
      gemm_einsum_term_labels(&p->out, p->out.ellipsis >= 0 ? e_max : 0, e_max, out_labels);
  if (n_out > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output rank %zu", n_out);
  bool used[GEMM_EINSUM_LABELS] = {false};
  for (size_t d = 0; d < n_out; d++) {
    int l = out_labels[d];
    if (lsize[l] < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "an output label is not among the inputs");
    e->out_dims[d] = lsize[l];
    used[l] = true;
    order[e->n_labels++] = l;
  }
  e->n_out = n_out;
  for (int l = 0; l < GEMM_EINSUM_LABELS; l++)
    if (lsize[l] >= 0 && !used[l]) order[e->n_labels++] = l;
  int position[GEMM_EINSUM_LABELS]; /* label -> loop position */
  for (size_t j = 0; j < e->n_labels; j++) {
    e->size[j] = lsize[order[j]];
    position[order[j]] = (int)j;
  }
  for (size_t i = 0; i < p->n_in; i++) {
    int64_t st = 1;
    for (size_t d = x[i]->rank; d-- > 0;) {
      int j = position[in_labels[i][d]];
      if (x[i]->dims[d] == e->size[j])
        e->strides[i][j] += st;
      else
        e->plain = false;
      if (e->member[j] & (1u << i)) e->plain = false;
      e->member[j] |= 1u << i;
      st *= x[i]->dims[d];
    }
  }
  for (int64_t d = (int64_t)n_out - 1, st = 1; d >= 0; st *= e->out_dims[d--])
    e->out_stride[d] = st;
  return TQT_STATUS_OK;
}

/* Copies between a strided view (dims pos[0..n) of the plan's loop, with these strides) and a
 * dense array in that dim order: gathers the view into dense dst, or scatters dense src into the
 * view. */
static void gemm_einsum_copy(const struct gemm_einsum_plan *e, const int *pos, size_t n,
                             const int64_t *stride, const float *src, float *dst, bool scatter) {
  int64_t idx[GEMM_EINSUM_LABELS] = {0}, off = 0, total = 1;
  for (size_t d = 0; d < n; d++) total *= e->size[pos[d]];
  for (int64_t i = 0; i < total; i++) {
    dst[scatter ? off : i] = src[scatter ? i : off];
    for (size_t d = n; d-- > 0;) {
      off += stride[pos[d]];
      if (++idx[d] < e->size[pos[d]]) break;
      off -= stride[pos[d]] * e->size[pos[d]];
      idx[d] = 0;
    }
  }
}

/* Two float32 operands, every label in the output or in both: a batched matrix product on
 * copies laid out as A [batch, M, K], B [batch, K, N], C [batch, M, N]. */
static enum tqt_status gemm_einsum_sgemm(struct tqt_kernel_ctx *k, const struct gemm_einsum_plan *e,
                                         const float *a, const float *b, float *y) {
  int batch[GEMM_EINSUM_LABELS], ms[GEMM_EINSUM_LABELS], ns[GEMM_EINSUM_LABELS],
      ks[GEMM_EINSUM_LABELS];
  size_t nb = 0, nm = 0, nn = 0, nk = 0;
  int64_t bz = 1, mz = 1, nz = 1, kz = 1;
  for (size_t j = 0; j < e->n_labels; j++) {
    bool out = j < e->n_out, in_a = e->member[j] & 1, in_b = e->member[j] & 2;
    if (out && in_a && in_b) {
      batch[nb++] = (int)j;
      bz *= e->size[j];
    } else if (out && in_a) {
      ms[nm++] = (int)j;
      mz *= e->size[j];
    } else if (out) {
      ns[nn++] = (int)j;
      nz *= e->size[j];
    } else {
      ks[nk++] = (int)j;
      kz *= e->size[j];
    }
  }
  int order_a[GEMM_EINSUM_LABELS], order_b[GEMM_EINSUM_LABELS], order_c[GEMM_EINSUM_LABELS];
  memcpy(order_a, batch, nb * sizeof *batch);
  memcpy(order_a + nb, ms, nm * sizeof *ms);
  memcpy(order_a + nb + nm, ks, nk * sizeof *ks);
  memcpy(order_b, batch, nb * sizeof *batch);
  memcpy(order_b + nb, ks, nk * sizeof *ks);
  memcpy(order_b + nb + nk, ns, nn * sizeof *ns);
  memcpy(order_c, order_a, (nb + nm) * sizeof *order_a);
  memcpy(order_c + nb + nm, ns, nn * sizeof *ns);
  enum tqt_status st = TQT_STATUS_OK;
  float *da = malloc((size_t)(bz * mz * kz + 1) * sizeof *da);
  float *db = malloc((size_t)(bz * kz * nz + 1) * sizeof *db);
  float *dc = malloc((size_t)(bz * mz * nz + 1) * sizeof *dc);
  if (!da || !db || !dc) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  gemm_einsum_copy(e, order_a, nb + nm + nk, e->strides[0], a, da, false);
  gemm_einsum_copy(e, order_b, nb + nk + nn, e->strides[1], b, db, false);
  if (kz == 0) {
    memset(dc, 0, (size_t)(bz * mz * nz) * sizeof *dc);
  } else {
    for (int64_t i = 0; i < bz; i++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)mz, (blasint)nz, (blasint)kz,
                  1, da + i * mz * kz, (blasint)kz, db + i * kz * nz, (blasint)nz, 0,
                  dc + i * mz * nz, (blasint)nz);
  }
  gemm_einsum_copy(e, order_c, nb + nm + nn, e->out_stride, dc, y, true);
fail:
  free(da);
  free(db);
  free(dc);
  return st;
}

static enum tqt_status gemm_einsum_run(struct tqt_kernel_ctx *k) {
  const struct gemm_einsum_params *p = k->params;
  if (p->n_in > TQT_RANK_MAX + 1)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%zu operands", p->n_in);
  const struct tqt_rt_tensor *x[TQT_RANK_MAX + 1] = {NULL};
  for (size_t i = 0; i < p->n_in; i++) {
    if (!(x[i] = tqt_kernel_input_required(k, i))) return k->d->status;
    if (x[i]->dtype != x[0]->dtype)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "operands mix types %s and %s",
                             tqt_dtype_name(x[0]->dtype), tqt_dtype_name(x[i]->dtype));
  }
  int32_t dtype = x[0]->dtype;
  bool is_int = dtype != TQT_DTYPE_FLOAT && dtype != TQT_DTYPE_DOUBLE && !gemm_is_half(dtype);
  if (dtype == TQT_DTYPE_STRING || dtype == TQT_DTYPE_BOOL || dtype <= 0 ||
      dtype >= TQT_DTYPE_COUNT || dtype == TQT_DTYPE_COMPLEX64 || dtype == TQT_DTYPE_COMPLEX128)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(dtype));
  struct gemm_einsum_plan e;
  if (gemm_einsum_plan_make(k, p, x, &e)) return k->d->status;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, dtype, e.n_out, e.out_dims);
  if (!y) return k->d->status;
  int64_t yn = tqt_rt_numel(y);
  if (yn == 0) return TQT_STATUS_OK;
  bool single_use = true; /* a label only one operand has and the output lacks needs a sum */
  for (size_t j = e.n_out; j < e.n_labels; j++) single_use = single_use && e.member[j] == 3;
  if (dtype == TQT_DTYPE_FLOAT && p->n_in == 2 && e.plain && single_use)
    return gemm_einsum_sgemm(k, &e, x[0]->data, x[1]->data, y->data);
  /* Generic: every operand widened to double (or uint64 for integers, which wrap), summed in
   * one loop over all labels. */
  enum tqt_status status = TQT_STATUS_OK;
  void *ops[TQT_RANK_MAX + 1] = {NULL};
  void *acc = calloc((size_t)yn, 8);
  if (!acc) {
    status = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < p->n_in; i++) {
    int64_t n = tqt_rt_numel(x[i]);
    if (!(ops[i] = malloc((size_t)(n ? n : 1) * 8))) {
      status = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
    for (int64_t v = 0; v < n; v++) {
      if (is_int)
        ((uint64_t *)ops[i])[v] = (uint64_t)tqt_rt_get_int(x[i], v);
      else
        ((double *)ops[i])[v] = tqt_rt_get(x[i], v);
    }
  }
  if (is_int) {
    gemm_einsum_loop_u64(p->n_in, (uint64_t *const *)ops, e.n_labels, e.size,
                         (const int64_t(*)[GEMM_EINSUM_LABELS])e.strides, e.out_stride, acc);
    for (int64_t v = 0; v < yn; v++) gemm_einsum_store_int(y, v, (int64_t)((uint64_t *)acc)[v]);
  } else {
    gemm_einsum_loop_f64(p->n_in, (double *const *)ops, e.n_labels, e.size,
                         (const int64_t(*)[GEMM_EINSUM_LABELS])e.strides, e.out_stride, acc);
    for (int64_t v = 0; v < yn; v++) tqt_rt_set(y, v, ((double *)acc)[v]);
  }
fail:
  for (size_t i = 0; i < p->n_in; i++) free(ops[i]);
  free(acc);
  return status;
}

/* ---- inference (infer.h) ---- */

/* Gemm: Y [M, N] of A's type, M and N from A and B as transA and transB turn them. */
static enum tqt_status gemm_infer(struct tqt_infer_ctx *c) {
  const struct gemm_params *p = c->k->params;
  const struct tqt_sym *a = tqt_infer_input(c, 0), *b = tqt_infer_input(c, 1);
  bool ar = tqt_sym_ranked(a), br = tqt_sym_ranked(b);
  if (c->n_out < 1) return TQT_STATUS_OK;
  if ((ar && a->rank != 2) || (br && b->rank != 2))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "A and B must be matrices");
  if (ar && br && tqt_sdim_equal(a->dims[!p->trans_a], b->dims[p->trans_b]) == 0)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "A and B do not multiply");
  tqt_sdim dims[2] = {ar ? a->dims[p->trans_a] : NULL, br ? b->dims[!p->trans_b] : NULL};
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0)) ? tqt_sym_dtype(tqt_infer_input(c, 0)) : tqt_sym_dtype(tqt_infer_input(c, 1));
  tqt_sym_tensor(&c->out[0], dtype, 2, dims);
  return TQT_STATUS_OK;
}

/* numpy matmul of inputs ai and bi: a 1-D A is [1, K] and a 1-D B [K, 1], their unit dim
 * dropped from the result; the batch dims broadcast. */
static enum tqt_status gemm_matmul_infer_common(struct tqt_infer_ctx *c, size_t ai, size_t bi,
                                                int32_t dtype) {
  const struct tqt_sym *a = tqt_infer_input(c, ai), *b = tqt_infer_input(c, bi);
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!tqt_sym_ranked(a) || !tqt_sym_ranked(b)) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  size_t ra = a->rank, rb = b->rank, rank;
  if (ra == 0 || rb == 0)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "MatMul of a scalar");
  if (tqt_sdim_equal(a->dims[ra - 1], b->dims[rb > 1 ? rb - 2 : 0]) == 0)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "A and B do not multiply");
  struct tqt_sym batch_a, batch_b;
  tqt_sym_tensor(&batch_a, dtype, ra > 2 ? ra - 2 : 0, a->dims);
  tqt_sym_tensor(&batch_b, dtype, rb > 2 ? rb - 2 : 0, b->dims);
  tqt_sdim dims[TQT_RANK_MAX];
  tqt_infer_broadcast_dims(c, &batch_a, &batch_b, &rank, dims);
  if (ra > 1) dims[rank++] = a->dims[ra - 2];
  if (rb > 1) dims[rank++] = b->dims[rb - 1];
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status gemm_matmul_infer(struct tqt_infer_ctx *c) {
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0)) ? tqt_sym_dtype(tqt_infer_input(c, 0)) : tqt_sym_dtype(tqt_infer_input(c, 1));
  return gemm_matmul_infer_common(c, 0, 1, dtype);
}

static enum tqt_status gemm_matmul_integer_infer(struct tqt_infer_ctx *c) {
  return gemm_matmul_infer_common(c, 0, 1, TQT_DTYPE_INT32);
}

/* QLinearMatMul: A is input 0, B input 3; Y has y_zero_point's type (input 7). */
static enum tqt_status gemm_qlinear_matmul_infer(struct tqt_infer_ctx *c) {
  return gemm_matmul_infer_common(c, 0, 3, tqt_sym_dtype(tqt_infer_input(c, 7)));
}

/* Einsum: each output label's dim, from any operand that has it (letters agree by the op's
 * contract, so a constant tells more than a symbol), and the ellipsis dims broadcast over the
 * operands. */
static enum tqt_status gemm_einsum_infer(struct tqt_infer_ctx *c) {
  const struct gemm_einsum_params *p = c->k->params;
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0));
  tqt_sdim label[GEMM_EINSUM_LETTERS] = {NULL}, dims[TQT_RANK_MAX];
  struct tqt_sym ell, part;
  tqt_sym_tensor(&ell, dtype, 0, NULL);
  bool ell_known = true;
  size_t rank;
  if (c->n_out < 1) return TQT_STATUS_OK;
  for (size_t i = 0; i < p->n_in; i++) {
    const struct tqt_sym *s = tqt_infer_input(c, i);
    const struct gemm_einsum_term *t = &p->in[i];
    if (!tqt_sym_ranked(s)) {
      ell_known = ell_known && t->ellipsis < 0;
      continue;
    }
    if (s->rank < t->n_letters || (t->ellipsis < 0 && s->rank != t->n_letters))
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "operand %zu does not match its term", i);
    size_t er = s->rank - t->n_letters;
    for (size_t j = 0; j < t->n_letters; j++) {
      tqt_sdim d = s->dims[j + (t->ellipsis >= 0 && j >= (size_t)t->ellipsis ? er : 0)];
      tqt_sdim *l = &label[t->letters[j]];
      if (tqt_sdim_equal(*l, d) == 0)
        return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "label sizes disagree");
      if (!*l || tqt_sdim_value(d, NULL)) *l = d;
    }
    if (t->ellipsis < 0) continue;
    tqt_sym_tensor(&part, dtype, er, s->dims + t->ellipsis);
    tqt_infer_broadcast_dims(c, &ell, &part, &rank, dims);
    tqt_sym_tensor(&ell, dtype, rank, dims);
  }
  size_t er = p->out.ellipsis >= 0 ? ell.rank : 0;
  if ((p->out.ellipsis >= 0 && !ell_known) || p->out.n_letters + er > TQT_RANK_MAX) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  rank = 0;
  for (size_t j = 0; j <= p->out.n_letters; j++) {
    if ((int)j == p->out.ellipsis)
      for (size_t e = 0; e < er; e++) dims[rank++] = ell.dims[e];
    if (j < p->out.n_letters) dims[rank++] = label[p->out.letters[j]];
  }
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel gemm_kernels[] = {
    {"", "Gemm", 1, gemm_init, gemm_run, gemm_infer},
    {"", "Gemm", 7, gemm_init, gemm_run, gemm_infer}, /* C always broadcasts */
    {"", "MatMul", 1, NULL, gemm_matmul_run, gemm_matmul_infer},
    {"", "MatMulInteger", 10, NULL, gemm_matmul_integer_run, gemm_matmul_integer_infer},
    {"", "QLinearMatMul", 10, NULL, gemm_qlinear_matmul_run, gemm_qlinear_matmul_infer},
    {"", "Einsum", 12, gemm_einsum_init, gemm_einsum_run, gemm_einsum_infer},
};

const struct tqt_kernel_family tqt_family_gemm = {"gemm", gemm_kernels,
                                                  sizeof gemm_kernels / sizeof gemm_kernels[0]};
