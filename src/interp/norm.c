/* Kernels: norm family. BatchNormalization, InstanceNormalization, LayerNormalization,
 * LpNormalization, MeanVarianceNormalization, LRN.
 *
 * Statistics accumulate in double whatever the element type (LayerNormalization in float follows
 * ONNX Runtime's rounding instead: norm_layer_f32). Where a normalization reduces to a
 * per-channel affine map (BatchNormalization, InstanceNormalization), the scale and shift are
 * computed once per channel and the elements see one multiply-add. float16/bfloat16 run through
 * float copies; float and double have their own loops. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

static bool norm_is_half(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT16 || dtype == TQT_DTYPE_BFLOAT16;
}

static bool norm_is_float(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT || dtype == TQT_DTYPE_DOUBLE || norm_is_half(dtype);
}

static bool norm_output_named(const struct tqt_node *n, size_t i) {
  return i < n->n_outputs && *n->outputs[i];
}

/* Whether t broadcasts (unidirectionally) to the shape (rank, dims). */
static bool norm_broadcasts(const struct tqt_rt_tensor *t, size_t rank, const int64_t *dims) {
  if (t->rank > rank) return false;
  for (size_t i = 0; i < t->rank; i++) {
    int64_t d = t->dims[i], want = dims[rank - t->rank + i];
    if (d != want && d != 1) return false;
  }
  return true;
}

/* ---- the data a kernel works on: float or double, float16/bfloat16 through float copies ---- */

struct norm_io {
  const void *x;
  void *y;
  bool f64;       /* double loops; otherwise float ones */
  float *xf, *yf; /* the copies of float16/bfloat16 data */
};

static enum tqt_status norm_io_begin(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                     struct tqt_rt_tensor *y, struct norm_io *io) {
  memset(io, 0, sizeof *io);
  io->f64 = x->dtype == TQT_DTYPE_DOUBLE;
  io->x = x->data;
  io->y = y->data;
  if (!norm_is_half(x->dtype)) return TQT_STATUS_OK;
  int64_t n = tqt_rt_numel(x);
  io->xf = malloc((size_t)n * sizeof *io->xf + 1);
  io->yf = malloc((size_t)n * sizeof *io->yf + 1);
  if (!io->xf || !io->yf) {
    free(io->xf);
    free(io->yf);
    return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  }
  const uint16_t *h = x->data;
  for (int64_t i = 0; i < n; i++)
    io->xf[i] = x->dtype == TQT_DTYPE_FLOAT16 ? tqt_f16_to_f32(h[i]) : tqt_bf16_to_f32(h[i]);
  io->x = io->xf;
  io->y = io->yf;
  return TQT_STATUS_OK;
}

/* Converts the float result back into y (of the input's shape) and frees the copies. */
static void norm_io_end(struct norm_io *io, struct tqt_rt_tensor *y) {
  if (io->yf) {
    int64_t n = tqt_rt_numel(y);
    uint16_t *h = y->data;
    for (int64_t i = 0; i < n; i++)
      h[i] = y->dtype == TQT_DTYPE_FLOAT16 ? tqt_f32_to_f16(io->yf[i]) : tqt_f32_to_bf16(io->yf[i]);
  }
  free(io->xf);
  free(io->yf);
}

/* Reads a small parameter tensor of n elements into doubles. */
static void norm_read_doubles(const struct tqt_rt_tensor *t, int64_t n, double *out) {
  for (int64_t i = 0; i < n; i++) out[i] = tqt_rt_get(t, i);
}

/* ---- loops, per element type ---- */

/* Sums run in this many independent partial sums: the adds pipeline (and vectorize) instead of
 * waiting on one another. */
#define NORM_LANES 8

#define NORM_DEFINE(SUF, T, SQRT, POW)                                                          \
  /* y = x * a[c] + b[c] over N batches of P channels of inner elements. */                     \
  static void norm_affine_##SUF(const T *x, T *y, int64_t N, int64_t P, int64_t inner,          \
                                const double *a, const double *b) {                             \
    for (int64_t n = 0; n < N; n++) {                                                           \
      for (int64_t c = 0; c < P; c++, x += inner, y += inner) {                                 \
        T ac = (T)a[c], bc = (T)b[c];                                                           \
        for (int64_t i = 0; i < inner; i++) y[i] = x[i] * ac + bc;                              \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  static double norm_mean_##SUF(const T *x, int64_t n) {                                        \
    double acc[NORM_LANES] = {0}, s = 0;                                                        \
    int64_t i = 0;                                                                              \
    for (; i + NORM_LANES <= n; i += NORM_LANES)                                                \
      for (int j = 0; j < NORM_LANES; j++) acc[j] += x[i + j];                                  \
    for (; i < n; i++) s += x[i];                                                               \
    for (int j = 0; j < NORM_LANES; j++) s += acc[j];                                           \
    return n ? s / (double)n : 0.0;                                                             \
  }                                                                                             \
  /* Sum of squared deviations from mean. */                                                    \
  static double norm_sqdev_##SUF(const T *x, int64_t n, double mean) {                          \
    double acc[NORM_LANES] = {0}, s = 0;                                                        \
    int64_t i = 0;                                                                              \
    for (; i + NORM_LANES <= n; i += NORM_LANES)                                                \
      for (int j = 0; j < NORM_LANES; j++) {                                                    \
        double d = x[i + j] - mean;                                                             \
        acc[j] += d * d;                                                                        \
      }                                                                                         \
    for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);                                      \
    for (int j = 0; j < NORM_LANES; j++) s += acc[j];                                           \
    return s;                                                                                   \
  }                                                                                             \
  /* Per channel of x (N, C, inner): mean and (biased) variance over N and inner. */            \
  static void norm_channel_stats_##SUF(const T *x, int64_t N, int64_t C, int64_t inner,         \
                                       double *mean, double *var) {                             \
    int64_t count = N * inner;                                                                  \
    for (int64_t c = 0; c < C; c++) {                                                           \
      double s = 0, q = 0;                                                                      \
      for (int64_t n = 0; n < N; n++) s += norm_mean_##SUF(x + (n * C + c) * inner, inner);     \
      mean[c] = N ? s / (double)N : 0.0;                                                        \
      for (int64_t n = 0; n < N; n++)                                                           \
        q += norm_sqdev_##SUF(x + (n * C + c) * inner, inner, mean[c]);                         \
      var[c] = count ? q / (double)count : 0.0;                                                 \
    }                                                                                           \
  }                                                                                             \
  /* InstanceNormalization: each (n, c) plane normalized by its own statistics. */              \
  static void norm_instance_##SUF(const T *x, T *y, int64_t N, int64_t C, int64_t inner,        \
                                  const double *scale, const double *bias, double eps) {        \
    for (int64_t n = 0; n < N; n++) {                                                           \
      for (int64_t c = 0; c < C; c++, x += inner, y += inner) {                                 \
        double mean = norm_mean_##SUF(x, inner);                                                \
        double var = inner ? norm_sqdev_##SUF(x, inner, mean) / (double)inner : 0.0;            \
        double a = scale[c] / sqrt(var + eps);                                                  \
        double b = bias[c] - mean * a;                                                          \
        norm_affine_##SUF(x, y, 1, 1, inner, &a, &b);                                           \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  /* t broadcast to (rank, dims), converted; the caller checked that it broadcasts. */          \
  static void norm_expand_##SUF(const struct tqt_rt_tensor *t, size_t rank, const int64_t *dims, \
                                T *out) {                                                       \
    int64_t strides[TQT_RANK_MAX], at[TQT_RANK_MAX] = {0}, n = 1, src = 0;                      \
    tqt_broadcast_strides(t, rank, dims, strides);                                              \
    for (size_t i = 0; i < rank; i++) n *= dims[i];                                             \
    for (int64_t i = 0; i < n; i++) {                                                           \
      out[i] = (T)tqt_rt_get(t, src);                                                           \
      for (size_t a = rank; a-- > 0;) {                                                         \
        src += strides[a];                                                                      \
        if (++at[a] < dims[a]) break;                                                           \
        src -= strides[a] * dims[a];                                                            \
        at[a] = 0;                                                                              \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  /* LpNormalization along an axis of len elements between outer and inner; acc: inner. */     \
  static void norm_lp_##SUF(const T *x, T *y, int64_t outer, int64_t len, int64_t inner,        \
                            int64_t p, T *acc) {                                                \
    for (int64_t o = 0; o < outer; o++, x += len * inner, y += len * inner) {                   \
      for (int64_t i = 0; i < inner; i++) acc[i] = 0;                                           \
      for (int64_t a = 0; a < len; a++) {                                                       \
        const T *xr = x + a * inner;                                                            \
        if (p == 1)                                                                             \
          for (int64_t i = 0; i < inner; i++) acc[i] += xr[i] < 0 ? -xr[i] : xr[i];             \
        else                                                                                    \
          for (int64_t i = 0; i < inner; i++) acc[i] += xr[i] * xr[i];                          \
      }                                                                                         \
      /* A zero vector stays zero rather than becoming NaN. */                                  \
      for (int64_t i = 0; i < inner; i++) {                                                     \
        T norm = p == 1 ? acc[i] : SQRT(acc[i]);                                                \
        acc[i] = norm > 0 ? 1 / norm : 0;                                                       \
      }                                                                                         \
      for (int64_t a = 0; a < len; a++)                                                         \
        for (int64_t i = 0; i < inner; i++) y[a * inner + i] = x[a * inner + i] * acc[i];       \
    }                                                                                           \
  }                                                                                             \
  /* LRN: each element divided by (bias + alpha / size * sum of squares of its channel          \
   * neighbours [c - lo, c + hi]) ^ beta; acc: inner. */                                        \
  static void norm_lrn_##SUF(const T *x, T *y, int64_t N, int64_t C, int64_t inner,             \
                             int64_t lo, int64_t hi, T k, T alpha, T beta, T *acc) {            \
    for (int64_t n = 0; n < N; n++) {                                                           \
      const T *xn = x + n * C * inner;                                                          \
      for (int64_t c = 0; c < C; c++) {                                                         \
        for (int64_t i = 0; i < inner; i++) acc[i] = 0;                                         \
        int64_t first = c - lo < 0 ? 0 : c - lo, last = c + hi >= C ? C - 1 : c + hi;          \
        for (int64_t j = first; j <= last; j++) {                                               \
          const T *xr = xn + j * inner;                                                         \
          for (int64_t i = 0; i < inner; i++) acc[i] += xr[i] * xr[i];                          \
        }                                                                                       \
        const T *xr = xn + c * inner;                                                           \
        T *yr = y + (n * C + c) * inner;                                                        \
        for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * POW(k + alpha * acc[i], -beta);     \
      }                                                                                         \
    }                                                                                           \
  }

NORM_DEFINE(f32, float, sqrtf, powf)
NORM_DEFINE(f64, double, sqrt, pow)

/* LayerNormalization of rows of n elements; bias may be NULL; mean/inv (per row) may be NULL.
 * Statistics in double, two passes. */
static void norm_layer_f64(const double *x, double *y, int64_t rows, int64_t n,
                           const double *scale, const double *bias, double eps, double *mean_out,
                           double *inv_out) {
  for (int64_t r = 0; r < rows; r++, x += n, y += n) {
    double mean = norm_mean_f64(x, n);
    double inv = 1.0 / sqrt((n ? norm_sqdev_f64(x, n, mean) / (double)n : 0.0) + eps);
    if (mean_out) mean_out[r] = mean;
    if (inv_out) inv_out[r] = inv;
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0);
  }
}

/* The same in float, rounded as ONNX Runtime 1.30's x86-64 kernel rounds (found by comparing
 * its outputs and its Mean and InvStdDev bit for bit at widths 8 to 67): the mean summed in
 * double; the squared deviations fused-multiply-added in 8 lanes per block of 8, the lanes summed
 * pairwise (halves), then a block of 4 added one by one, the rest fused; the output a fused
 * multiply-add of the normalized value with scale and bias. A value quantized after a
 * LayerNormalization then meets the same rounding boundaries in both. (Below 8 elements ONNX
 * Runtime rounds otherwise; the result differs in the last bit there.) */
static void norm_layer_f32(const float *x, float *y, int64_t rows, int64_t n, const float *scale,
                           const float *bias, double eps, double *mean_out, double *inv_out) {
  for (int64_t r = 0; r < rows && n; r++, x += n, y += n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    float mean = (float)(sum / (double)n), lanes[8] = {0}, squares = 0;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; j++) lanes[j] = fmaf(x[i + j] - mean, x[i + j] - mean, lanes[j]);
    for (int width = 4; i >= 8 && width; width /= 2)
      for (int j = 0; j < width; j++) lanes[j] += lanes[j + width];
    squares = lanes[0];
    if (n - i >= 4)
      for (int64_t end = i + 4; i < end; i++) squares += (x[i] - mean) * (x[i] - mean);
    for (; i < n; i++) squares = fmaf(x[i] - mean, x[i] - mean, squares);
    float dev = sqrtf(squares / (float)n + (float)eps), inv = 1 / dev;
    if (mean_out) mean_out[r] = mean;
    if (inv_out) inv_out[r] = inv;
    for (int64_t k = 0; k < n; k++) {
      float t = (x[k] - mean) * inv;
      y[k] = bias ? fmaf(t, scale[k], bias[k]) : t * scale[k];
    }
  }
}

/* ---- BatchNormalization ---- */

struct norm_bn_params {
  double epsilon, momentum;
  bool spatial;  /* versions before 9: spatial=0 has per-element (C x D1 x ...) parameters */
  bool training; /* statistics of the batch, and running statistics as outputs */
};

static enum tqt_status norm_bn_init(struct tqt_kernel_ctx *k) {
  struct norm_bn_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const struct tqt_node *n = k->node;
  int version = k->kernel->since_version;
  p->epsilon = tqt_attr_float(n, "epsilon", 1e-5f);
  p->momentum = tqt_attr_float(n, "momentum", 0.9f);
  p->spatial = version >= 9 || tqt_attr_int(n, "spatial", 1) != 0;
  if (version >= 14) {
    p->training = tqt_attr_int(n, "training_mode", 0) != 0;
  } else {
    /* Before 14, training mode is the form with the statistics outputs (and is_test=0 until
     * 7); consumed_inputs (version 1) only described buffer reuse. */
    bool stats = false;
    for (size_t i = 1; i < 5; i++) stats = stats || norm_output_named(n, i);
    p->training = stats && (version >= 7 || tqt_attr_int(n, "is_test", 0) == 0);
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* Writes the statistic v (C values) to output i when the node has it. */
static enum tqt_status norm_bn_stat_out(struct tqt_kernel_ctx *k, size_t i, int32_t dtype,
                                        int64_t C, const double *v) {
  if (!tqt_kernel_has_output(k, i)) return TQT_STATUS_OK;
  struct tqt_rt_tensor *t = tqt_kernel_output(k, i, dtype, 1, &C);
  if (!t) return k->d->status;
  for (int64_t c = 0; c < C; c++) tqt_rt_set(t, c, v[c]);
  return TQT_STATUS_OK;
}

static enum tqt_status norm_bn_run(struct tqt_kernel_ctx *k) {
  const struct norm_bn_params *p = k->params;
  const struct tqt_rt_tensor *in[5];
  for (size_t i = 0; i < 5; i++)
    if (!(in[i] = tqt_kernel_input_required(k, i))) return k->d->status;
  const struct tqt_rt_tensor *x = in[0];
  char s1[128], s2[128];
  if (!norm_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (x->rank < 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s has no channel axis",
                           tqt_rt_shape_str(x, s1, sizeof s1));
  int64_t N = x->dims[0], C = x->dims[1], inner = 1;
  for (size_t i = 2; i < x->rank; i++) inner *= x->dims[i];
  /* Per-element parameters (spatial=0) act as channels of one element each. */
  int64_t P = C, plane = inner;
  if (!p->spatial && tqt_rt_numel(in[1]) != C) {
    P = C * inner;
    plane = 1;
  }
  static const char *const names[5] = {"X", "scale", "B", "mean", "var"};
  for (size_t i = 1; i < 5; i++) {
    if (!norm_is_float(in[i]->dtype))
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%s of type %s", names[i],
                             tqt_dtype_name(in[i]->dtype));
    if (tqt_rt_numel(in[i]) != P)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s %s does not match the channels of X %s",
                             names[i], tqt_rt_shape_str(in[i], s1, sizeof s1),
                             tqt_rt_shape_str(x, s2, sizeof s2));
  }
  if (p->training && P != C)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "training mode with spatial=0");
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  /* 6 arrays of P: scale, B, mean, var, then the per-channel multiplier and offset. */
  double *buf = malloc((size_t)P * 6 * sizeof *buf + 1);
  if (!buf) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  double *scale = buf, *bias = buf + P, *mean = buf + 2 * P, *var = buf + 3 * P;
  double *a = buf + 4 * P, *b = buf + 5 * P;
  for (size_t i = 1; i < 5; i++) norm_read_doubles(in[i], P, buf + (i - 1) * (size_t)P);
  struct norm_io io;
  enum tqt_status st = norm_io_begin(k, x, y, &io);
  if (st) goto fail;
  if (p->training) {
    /* a, b hold the batch statistics for a moment, mean, var become the running ones. */
    if (io.f64)
      norm_channel_stats_f64(io.x, N, C, inner, a, b);
    else
      norm_channel_stats_f32(io.x, N, C, inner, a, b);
    for (int64_t c = 0; c < C; c++) {
      mean[c] = mean[c] * p->momentum + a[c] * (1 - p->momentum);
      var[c] = var[c] * p->momentum + b[c] * (1 - p->momentum);
    }
    int32_t stat_type = in[3]->dtype;
    if ((st = norm_bn_stat_out(k, 1, stat_type, C, mean)) ||
        (st = norm_bn_stat_out(k, 2, stat_type, C, var)) ||
        (st = norm_bn_stat_out(k, 3, stat_type, C, a)) || /* saved_mean, before 14 */
        (st = norm_bn_stat_out(k, 4, stat_type, C, b)))   /* saved_var, before 14 */
      goto fail_io;
    memcpy(mean, a, (size_t)C * sizeof *mean);
    memcpy(var, b, (size_t)C * sizeof *var);
  }
  for (int64_t c = 0; c < P; c++) {
    a[c] = scale[c] / sqrt(var[c] + p->epsilon);
    b[c] = bias[c] - mean[c] * a[c];
  }
  if (io.f64)
    norm_affine_f64(io.x, io.y, N, P, plane, a, b);
  else
    norm_affine_f32(io.x, io.y, N, P, plane, a, b);
fail_io:
  norm_io_end(&io, y);
fail:
  free(buf);
  return st;
}

/* ---- InstanceNormalization ---- */

static enum tqt_status norm_instance_init(struct tqt_kernel_ctx *k) {
  double *eps = tqt_arena_calloc(k->arena, 1, sizeof *eps);
  if (!eps) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  *eps = tqt_attr_float(k->node, "epsilon", 1e-5f);
  k->params = eps;
  return TQT_STATUS_OK;
}

static enum tqt_status norm_instance_run(struct tqt_kernel_ctx *k) {
  const double *eps = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *scale = x ? tqt_kernel_input_required(k, 1) : NULL;
  const struct tqt_rt_tensor *bias = scale ? tqt_kernel_input_required(k, 2) : NULL;
  if (!bias) return k->d->status;
  char s1[128], s2[128], s3[128];
  if (!norm_is_float(x->dtype) || !norm_is_float(scale->dtype) || !norm_is_float(bias->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (x->rank < 2 || tqt_rt_numel(scale) != x->dims[1] || tqt_rt_numel(bias) != x->dims[1])
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scale %s and B %s do not match the channels "
                           "of input %s", tqt_rt_shape_str(scale, s1, sizeof s1),
                           tqt_rt_shape_str(bias, s2, sizeof s2),
                           tqt_rt_shape_str(x, s3, sizeof s3));
  int64_t N = x->dims[0], C = x->dims[1], inner = 1;
  for (size_t i = 2; i < x->rank; i++) inner *= x->dims[i];
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  double *sb = malloc((size_t)C * 2 * sizeof *sb + 1);
  if (!sb) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  norm_read_doubles(scale, C, sb);
  norm_read_doubles(bias, C, sb + C);
  struct norm_io io;
  enum tqt_status st = norm_io_begin(k, x, y, &io);
  if (!st) {
    if (io.f64)
      norm_instance_f64(io.x, io.y, N, C, inner, sb, sb + C, *eps);
    else
      norm_instance_f32(io.x, io.y, N, C, inner, sb, sb + C, *eps);
    norm_io_end(&io, y);
  }
  free(sb);
  return st;
}

/* ---- LayerNormalization ---- */

struct norm_layer_params {
  int64_t axis;
  double epsilon;
  int32_t stash_type; /* type of the Mean and InvStdDev outputs */
};

static enum tqt_status norm_layer_init(struct tqt_kernel_ctx *k) {
  struct norm_layer_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", -1);
  p->epsilon = tqt_attr_float(k->node, "epsilon", 1e-5f);
  int64_t stash = tqt_attr_int(k->node, "stash_type", TQT_DTYPE_FLOAT);
  if (stash < 0 || stash >= TQT_DTYPE_COUNT || !norm_is_float((int32_t)stash))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "stash_type %lld is not a float type",
                           (long long)stash);
  p->stash_type = (int32_t)stash;
  k->params = p;
  return TQT_STATUS_OK;
}

/* Scale or B as n elements of the loop type: the tensor's own data when it already is that,
 * else an expanded copy placed at *copy. */
static const void *norm_layer_param(const struct tqt_rt_tensor *t, bool f64, size_t rank,
                                    const int64_t *dims, int64_t n, void *copy) {
  if (t->dtype == (f64 ? TQT_DTYPE_DOUBLE : TQT_DTYPE_FLOAT) && tqt_rt_numel(t) == n)
    return t->data;
  if (f64)
    norm_expand_f64(t, rank, dims, copy);
  else
    norm_expand_f32(t, rank, dims, copy);
  return copy;
}

static enum tqt_status norm_layer_run(struct tqt_kernel_ctx *k) {
  const struct norm_layer_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *scale = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!scale) return k->d->status;
  const struct tqt_rt_tensor *bias = tqt_kernel_input(k, 2);
  char s1[128], s2[128];
  if (!norm_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  size_t axis;
  enum tqt_status st = tqt_kernel_axis(k, p->axis, x->rank, &axis);
  if (st) return st;
  int64_t rows = 1, n = 1;
  for (size_t i = 0; i < x->rank; i++) *(i < axis ? &rows : &n) *= x->dims[i];
  size_t nrank = x->rank - axis;
  const int64_t *ndims = x->dims + axis;
  const struct tqt_rt_tensor *params[2] = {scale, bias};
  for (size_t i = 0; i < 2; i++) {
    if (!params[i]) continue;
    if (!norm_is_float(params[i]->dtype))
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%s of type %s", i ? "B" : "Scale",
                             tqt_dtype_name(params[i]->dtype));
    if (!norm_broadcasts(params[i], nrank, ndims))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s %s does not broadcast to the normalized "
                             "axes of X %s from axis %zu", i ? "B" : "Scale",
                             tqt_rt_shape_str(params[i], s1, sizeof s1),
                             tqt_rt_shape_str(x, s2, sizeof s2), axis);
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  /* Mean and InvStdDev keep the rank of X with 1 along the normalized axes. */
  int64_t sdims[TQT_RANK_MAX];
  for (size_t i = 0; i < x->rank; i++) sdims[i] = i < axis ? x->dims[i] : 1;
  struct tqt_rt_tensor *mean_t = NULL, *inv_t = NULL;
  if ((tqt_kernel_has_output(k, 1) &&
       !(mean_t = tqt_kernel_output(k, 1, p->stash_type, x->rank, sdims))) ||
      (tqt_kernel_has_output(k, 2) &&
       !(inv_t = tqt_kernel_output(k, 2, p->stash_type, x->rank, sdims))))
    return k->d->status;
  struct norm_io io;
  if ((st = norm_io_begin(k, x, y, &io))) return st;
  size_t es = io.f64 ? sizeof(double) : sizeof(float);
  /* Expanded Scale and B (n each), then the per-row statistics (rows each). */
  char *buf = malloc(2 * (size_t)n * es + 2 * (size_t)rows * sizeof(double) + 1);
  if (!buf) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  const void *sv = norm_layer_param(scale, io.f64, nrank, ndims, n, buf);
  const void *bv =
      bias ? norm_layer_param(bias, io.f64, nrank, ndims, n, buf + (size_t)n * es) : NULL;
  double *means = (double *)(buf + 2 * (size_t)n * es), *invs = means + rows;
  if (io.f64)
    norm_layer_f64(io.x, io.y, rows, n, sv, bv, p->epsilon, means, invs);
  else
    norm_layer_f32(io.x, io.y, rows, n, sv, bv, p->epsilon, means, invs);
  for (int64_t r = 0; r < rows; r++) {
    if (mean_t) tqt_rt_set(mean_t, r, means[r]);
    if (inv_t) tqt_rt_set(inv_t, r, invs[r]);
  }
fail:
  norm_io_end(&io, y);
  free(buf);
  return st;
}

/* ---- LpNormalization ---- */

struct norm_lp_params {
  int64_t axis, p;
};

static enum tqt_status norm_lp_init(struct tqt_kernel_ctx *k) {
  struct norm_lp_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", -1);
  p->p = tqt_attr_int(k->node, "p", 2);
  if (p->p != 1 && p->p != 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "p is %lld, expected 1 or 2", (long long)p->p);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status norm_lp_run(struct tqt_kernel_ctx *k) {
  const struct norm_lp_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (!norm_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  size_t axis;
  enum tqt_status st = tqt_kernel_axis(k, p->axis, x->rank, &axis);
  if (st) return st;
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < x->rank; i++) {
    if (i < axis) outer *= x->dims[i];
    if (i > axis) inner *= x->dims[i];
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  void *acc = malloc((size_t)inner * sizeof(double) + 1);
  if (!acc) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  struct norm_io io;
  if (!(st = norm_io_begin(k, x, y, &io))) {
    if (io.f64)
      norm_lp_f64(io.x, io.y, outer, x->dims[axis], inner, p->p, acc);
    else
      norm_lp_f32(io.x, io.y, outer, x->dims[axis], inner, p->p, acc);
    norm_io_end(&io, y);
  }
  free(acc);
  return st;
}

/* ---- MeanVarianceNormalization ---- */

struct norm_mvn_params {
  size_t n_axes;
  int64_t axes[TQT_RANK_MAX];
};

static enum tqt_status norm_mvn_init(struct tqt_kernel_ctx *k) {
  struct norm_mvn_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  static const int64_t dflt[] = {0, 2, 3};
  size_t n;
  const int64_t *axes = tqt_attr_ints(k->node, "axes", &n);
  if (!axes) {
    axes = dflt;
    n = 3;
  }
  if (n > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%zu axes", n);
  memcpy(p->axes, axes, n * sizeof *axes);
  p->n_axes = n;
  k->params = p;
  return TQT_STATUS_OK;
}

/* y = (x - mean) / (sqrt(variance) + 1e-9) with the statistics over the given axes (the
 * epsilon and its place are those of the op's function body). Not a hot op: the elements are
 * walked in order with their group (the index with the reduced axes dropped) kept up to date. */
static enum tqt_status norm_mvn_run(struct tqt_kernel_ctx *k) {
  const struct norm_mvn_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (!norm_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  bool reduced[TQT_RANK_MAX] = {false};
  for (size_t i = 0; i < p->n_axes; i++) {
    size_t a;
    enum tqt_status st = tqt_kernel_axis(k, p->axes[i], x->rank, &a);
    if (st) return st;
    reduced[a] = true;
  }
  int64_t gstride[TQT_RANK_MAX], groups = 1;
  for (size_t a = x->rank; a-- > 0;) {
    gstride[a] = reduced[a] ? 0 : groups;
    if (!reduced[a]) groups *= x->dims[a];
  }
  int64_t numel = tqt_rt_numel(x), count = groups ? numel / groups : 0;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  double *sum = calloc((size_t)groups * 2 + 1, sizeof *sum);
  if (!sum) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  double *dev = sum + groups;
  /* Pass 0 sums, pass 1 sums squared deviations, pass 2 writes. */
  for (int pass = 0; pass < 3; pass++) {
    int64_t at[TQT_RANK_MAX] = {0}, g = 0;
    for (int64_t i = 0; i < numel; i++) {
      double v = tqt_rt_get(x, i);
      if (pass == 0)
        sum[g] += v;
      else if (pass == 1)
        dev[g] += (v - sum[g]) * (v - sum[g]);
      else
        tqt_rt_set(y, i, (v - sum[g]) / (sqrt(dev[g]) + 1e-9));
      for (size_t a = x->rank; a-- > 0;) {
        g += gstride[a];
        if (++at[a] < x->dims[a]) break;
        g -= gstride[a] * x->dims[a];
        at[a] = 0;
      }
    }
    for (int64_t j = 0; j < groups; j++) {
      if (pass == 0) sum[j] /= (double)count; /* now the mean */
      if (pass == 1) dev[j] /= (double)count; /* now the variance */
    }
  }
  free(sum);
  return TQT_STATUS_OK;
}

/* ---- LRN ---- */

struct norm_lrn_params {
  int64_t size;
  double alpha, beta, bias;
};

static enum tqt_status norm_lrn_init(struct tqt_kernel_ctx *k) {
  struct norm_lrn_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->size = tqt_attr_int(k->node, "size", 0);
  if (p->size < 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "size is %lld, expected a positive value",
                           (long long)p->size);
  p->alpha = tqt_attr_float(k->node, "alpha", 1e-4f);
  p->beta = tqt_attr_float(k->node, "beta", 0.75f);
  p->bias = tqt_attr_float(k->node, "bias", 1.0f);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status norm_lrn_run(struct tqt_kernel_ctx *k) {
  const struct norm_lrn_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (!norm_is_float(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (x->rank < 2) {
    char s[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s has no channel axis",
                           tqt_rt_shape_str(x, s, sizeof s));
  }
  int64_t N = x->dims[0], C = x->dims[1], inner = 1;
  for (size_t i = 2; i < x->rank; i++) inner *= x->dims[i];
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  void *acc = malloc((size_t)inner * sizeof(double) + 1);
  if (!acc) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  /* The window over channels: floor((size - 1) / 2) before, ceil((size - 1) / 2) after. */
  int64_t lo = (p->size - 1) / 2, hi = p->size - 1 - lo;
  double alpha = p->alpha / (double)p->size;
  struct norm_io io;
  enum tqt_status st = norm_io_begin(k, x, y, &io);
  if (!st) {
    if (io.f64)
      norm_lrn_f64(io.x, io.y, N, C, inner, lo, hi, p->bias, alpha, p->beta, acc);
    else
      norm_lrn_f32(io.x, io.y, N, C, inner, lo, hi, (float)p->bias, (float)alpha,
                   (float)p->beta, acc);
    norm_io_end(&io, y);
  }
  free(acc);
  return st;
}

/* ---- inference (infer.h) ---- */

/* Y is X's type and shape; in training mode the statistics outputs (running mean and variance,
 * before 14 also the saved ones) are [C] of the mean input's type (X's before version 15,
 * where they share one). */
static enum tqt_status norm_bn_infer(struct tqt_infer_ctx *c) {
  const struct norm_bn_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *mean = tqt_infer_input(c, 3);
  tqt_infer_unary(c);
  if (!p->training) return TQT_STATUS_OK;
  int32_t dtype = mean ? mean->dtype : TQT_DTYPE_UNDEFINED;
  if (!dtype && c->k->kernel->since_version < 15 && x) dtype = x->dtype;
  tqt_sdim channels = NULL;
  if (tqt_sym_ranked(x) && x->rank >= 2)
    channels = x->dims[1];
  else if (tqt_sym_ranked(mean) && mean->rank == 1)
    channels = mean->dims[0]; /* training runs only with per-channel statistics */
  for (size_t i = 1; i < c->n_out; i++) tqt_sym_tensor(&c->out[i], dtype, 1, &channels);
  return TQT_STATUS_OK;
}

/* Y is X's type and shape; Mean and InvStdDev are of stash_type and X's rank, 1 along the
 * normalized axes. */
static enum tqt_status norm_layer_infer(struct tqt_infer_ctx *c) {
  const struct norm_layer_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  tqt_infer_unary(c);
  tqt_sdim dims[TQT_RANK_MAX];
  size_t axis;
  if (!tqt_sym_ranked(x)) {
    for (size_t i = 1; i < c->n_out; i++) tqt_sym_tensor_unranked(&c->out[i], p->stash_type);
    return TQT_STATUS_OK;
  }
  if (tqt_kernel_axis(c->k, p->axis, x->rank, &axis)) return c->k->d->status;
  for (size_t i = 0; i < x->rank; i++) dims[i] = i < axis ? x->dims[i] : tqt_sdim_const(c->dims, 1);
  for (size_t i = 1; i < c->n_out; i++) tqt_sym_tensor(&c->out[i], p->stash_type, x->rank, dims);
  return TQT_STATUS_OK;
}

/* One entry per version of the op in ONNX 1.12 (versions share code where the attributes they
 * lack keep their defaults). Every other normalization keeps X's type and shape. */
static const struct tqt_kernel norm_kernels[] = {
    /* 1: consumed_inputs, is_test; 7: no is_test; 9: no spatial; 14: training_mode; 15: own
     * types for parameters */
    {"", "BatchNormalization", 1, norm_bn_init, norm_bn_run, norm_bn_infer},
    {"", "BatchNormalization", 6, norm_bn_init, norm_bn_run, norm_bn_infer},
    {"", "BatchNormalization", 7, norm_bn_init, norm_bn_run, norm_bn_infer},
    {"", "BatchNormalization", 9, norm_bn_init, norm_bn_run, norm_bn_infer},
    {"", "BatchNormalization", 14, norm_bn_init, norm_bn_run, norm_bn_infer},
    {"", "BatchNormalization", 15, norm_bn_init, norm_bn_run, norm_bn_infer},
    {"", "InstanceNormalization", 1, norm_instance_init, norm_instance_run, tqt_infer_unary},
    {"", "InstanceNormalization", 6, norm_instance_init, norm_instance_run, tqt_infer_unary},
    {"", "LayerNormalization", 17, norm_layer_init, norm_layer_run, norm_layer_infer},
    {"", "LpNormalization", 1, norm_lp_init, norm_lp_run, tqt_infer_unary},
    {"", "MeanVarianceNormalization", 9, norm_mvn_init, norm_mvn_run, tqt_infer_unary},
    {"", "MeanVarianceNormalization", 13, norm_mvn_init, norm_mvn_run, tqt_infer_unary},
    {"", "LRN", 1, norm_lrn_init, norm_lrn_run, tqt_infer_unary},
    {"", "LRN", 13, norm_lrn_init, norm_lrn_run, tqt_infer_unary},
};

const struct tqt_kernel_family tqt_family_norm = {"norm", norm_kernels,
                                                  sizeof norm_kernels / sizeof norm_kernels[0]};
