/* Kernels: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear. These define what onnx-tqt's
 * output models compute, so they follow the ONNX spec to the bit: x / scale in float32, rounded
 * half to even, plus the zero point, saturated to the integer type. */
#include <math.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

struct qdq_params {
  int64_t axis;
  int32_t output_dtype; /* QuantizeLinear-21 without a zero point: its output type (0: uint8) */
};

/* QuantizeLinear's output type: its zero point's when it has one, else output_dtype's (opset
 * 21), else uint8. */
static int32_t qdq_quantized_type(const struct qdq_params *p, bool has_zero_point,
                                  int32_t zero_point_dtype) {
  return has_zero_point ? zero_point_dtype : p->output_dtype ? p->output_dtype : TQT_DTYPE_UINT8;
}

static enum tqt_status qdq_init(struct tqt_kernel_ctx *k) {
  struct qdq_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", 1);
  /* opset 21: scales per block along the axis, not (yet) computed here */
  if (tqt_attr_int(k->node, "block_size", 0) != 0)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "block_size (block-wise scales)");
  p->output_dtype = (int32_t)tqt_attr_int(k->node, "output_dtype", 0);
  k->params = p;
  return TQT_STATUS_OK;
}

/* The integer range of a quantized type. */
static bool qdq_range(int32_t dtype, double *lo, double *hi) {
  switch (dtype) {
  case TQT_DTYPE_INT8: *lo = INT8_MIN, *hi = INT8_MAX; return true;
  case TQT_DTYPE_UINT8: *lo = 0, *hi = UINT8_MAX; return true;
  case TQT_DTYPE_INT4: *lo = -8, *hi = 7; return true;
  case TQT_DTYPE_UINT4: *lo = 0, *hi = 15; return true;
  case TQT_DTYPE_INT16: *lo = INT16_MIN, *hi = INT16_MAX; return true;
  case TQT_DTYPE_UINT16: *lo = 0, *hi = UINT16_MAX; return true;
  case TQT_DTYPE_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return true;
  default: return false;
  }
}

/* How scale/zero point index the elements: one value, or one per slice along axis. Returns the
 * number of scale values and sets the (outer, axis length, inner) split. */
static enum tqt_status qdq_layout(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                  const struct tqt_rt_tensor *scale,
                                  const struct tqt_rt_tensor *zp, int64_t *outer, int64_t *len,
                                  int64_t *inner) {
  int64_t n_scale = tqt_rt_numel(scale), n = tqt_rt_numel(x);
  *outer = 1, *len = 1, *inner = n;
  if (zp && tqt_rt_numel(zp) != n_scale)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "zero point has %lld values, scale %lld",
                           (long long)tqt_rt_numel(zp), (long long)n_scale);
  if (scale->rank == 0 || (scale->rank == 1 && n_scale == 1)) return TQT_STATUS_OK;
  const struct qdq_params *p = k->params;
  size_t axis;
  if (scale->rank != 1 || tqt_kernel_axis(k, p->axis, x->rank, &axis) != TQT_STATUS_OK)
    return k->d->status ? k->d->status
                        : tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "scale of rank %zu",
                                          scale->rank);
  if (x->dims[axis] != n_scale)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%lld scales for axis %zu of length %lld",
                           (long long)n_scale, axis, (long long)x->dims[axis]);
  *outer = 1;
  for (size_t i = 0; i < axis; i++) *outer *= x->dims[i];
  *len = x->dims[axis];
  *inner = 1;
  for (size_t i = axis + 1; i < x->rank; i++) *inner *= x->dims[i];
  return TQT_STATUS_OK;
}

/* The loops of the common types, float to and from 8 bits, typed: the same arithmetic as the
 * generic loops (whose per-element type dispatch made Q/DQ as costly as the convolutions in a
 * quantized run). The bounds are integers, so clamping q + z in float is exact where it matters
 * (|q| < 2^24) and saturates where it does not; past 2^22 every value saturates, so x / s is
 * limited there and rounded half to even by adding and taking off 1.5 · 2^23 (exact in the
 * default rounding mode, and inlined where nearbyintf is a call). NaN becomes the type's lowest
 * value, as in ONNX Runtime (its saturating max and min pass the bound, not the NaN: int8 −128,
 * uint8 0, whatever the zero point; the spec leaves NaN open). Advances i by n. */
#define QDQ_ROUND_MAGIC 0x1.8p23f
/* Each step a comparison and a select (NaN fails the first and becomes -2^22, then the lowest
 * value), so that the loop vectorizes. */
#define QDQ_QUANTIZE_LOOP(type, xs, ys, n, divide, lof, hif, zf)                                \
  for (int64_t j_ = 0; j_ < (n); j_++) {                                                         \
    float t_ = divide;                                                                           \
    t_ = t_ > -0x1p22f ? t_ : -0x1p22f;                                                          \
    t_ = t_ < 0x1p22f ? t_ : 0x1p22f;                                                            \
    float v_ = (t_ + QDQ_ROUND_MAGIC) - QDQ_ROUND_MAGIC + (zf);                                  \
    v_ = v_ > (lof) ? v_ : (lof);                                                                \
    v_ = v_ < (hif) ? v_ : (hif);                                                                \
    (ys)[j_] = (type)(int32_t)v_;                                                                \
  }
#define QDQ_QUANTIZE_FLOAT(type, x, y, i, n, s, z, lo, hi)                                        \
  do {                                                                                           \
    const float *xs_ = (const float *)(x)->data + (i);                                           \
    type *ys_ = (type *)(y)->data + (i);                                                         \
    float zf_ = (float)(z), lof_ = (float)(lo), hif_ = (float)(hi);                              \
    int e_; /* a power-of-two scale (onnx-tqt's) divides exactly as its inverse multiplies */    \
    if (frexpf((s), &e_) == 0.5f && e_ > -125 && e_ < 127) {                                     \
      float inv_ = 1 / (s);                                                                      \
      QDQ_QUANTIZE_LOOP(type, xs_, ys_, n, xs_[j_] * inv_, lof_, hif_, zf_)                      \
    } else {                                                                                     \
      QDQ_QUANTIZE_LOOP(type, xs_, ys_, n, xs_[j_] / (s), lof_, hif_, zf_)                       \
    }                                                                                            \
    (i) += (n);                                                                                  \
  } while (0)

#define QDQ_DEQUANTIZE_FLOAT(type, x, y, i, n, s, z)                                             \
  do {                                                                                           \
    const type *xs_ = (const type *)(x)->data + (i);                                             \
    float *ys_ = (float *)(y)->data + (i);                                                       \
    int32_t zi_ = (int32_t)(z);                                                                  \
    for (int64_t j_ = 0; j_ < (n); j_++) ys_[j_] = (float)((int32_t)xs_[j_] - zi_) * (s);        \
    (i) += (n);                                                                                  \
  } while (0)

static enum tqt_status quantize_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *scale = x ? tqt_kernel_input_required(k, 1) : NULL;
  const struct tqt_rt_tensor *zp = scale ? tqt_kernel_input(k, 2) : NULL;
  if (!scale) return k->d->status;
  const struct qdq_params *p = k->params;
  int32_t qtype = qdq_quantized_type(p, zp, zp ? zp->dtype : TQT_DTYPE_UNDEFINED);
  double lo, hi;
  if (!qdq_range(qtype, &lo, &hi) || qtype == TQT_DTYPE_INT32)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "cannot quantize to %s",
                           tqt_dtype_name(qtype));
  if (x->dtype != TQT_DTYPE_FLOAT && x->dtype != TQT_DTYPE_INT32 && x->dtype != TQT_DTYPE_FLOAT16)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "input type %s", tqt_dtype_name(x->dtype));
  int64_t outer, len, inner;
  if (qdq_layout(k, x, scale, zp, &outer, &len, &inner) != TQT_STATUS_OK) return k->d->status;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, qtype, x->rank, x->dims);
  if (!y) return k->d->status;
  int64_t i = 0;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t c = 0; c < len; c++) {
      float s = (float)tqt_rt_get(scale, c);
      double z = zp ? (double)tqt_rt_get_int(zp, c) : 0;
      if (x->dtype == TQT_DTYPE_FLOAT && qtype == TQT_DTYPE_INT8) {
        QDQ_QUANTIZE_FLOAT(int8_t, x, y, i, inner, s, z, lo, hi);
        continue;
      }
      if (x->dtype == TQT_DTYPE_FLOAT && qtype == TQT_DTYPE_UINT8) {
        QDQ_QUANTIZE_FLOAT(uint8_t, x, y, i, inner, s, z, lo, hi);
        continue;
      }
      for (int64_t j = 0; j < inner; j++, i++) {
        /* float32 division as the spec's reference does it, then half-to-even rounding */
        float q = nearbyintf((float)tqt_rt_get(x, i) / s);
        double v = isnan(q) ? lo : (double)q + z; /* NaN: the lowest value, as above */
        tqt_rt_set(y, i, v < lo ? lo : v > hi ? hi : v);
      }
    }
  }
  return TQT_STATUS_OK;
}

/* Output 0: a tensor of x's shape (whatever is known of it) and of type dtype. */
static void qdq_infer_as(struct tqt_infer_ctx *c, int32_t dtype) {
  tqt_infer_unary(c);
  if (c->out[0].kind == TQT_SYM_KIND_TENSOR)
    c->out[0].dtype = dtype;
  else
    tqt_sym_tensor_unranked(&c->out[0], dtype);
}

/* y's type: qdq_quantized_type. */
static enum tqt_status quantize_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *zp = tqt_infer_input(c, 2);
  const struct qdq_params *p = c->k->params;
  qdq_infer_as(c, qdq_quantized_type(p, zp, zp ? zp->dtype : TQT_DTYPE_UNDEFINED));
  return TQT_STATUS_OK;
}

static enum tqt_status dequantize_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *scale = x ? tqt_kernel_input_required(k, 1) : NULL;
  const struct tqt_rt_tensor *zp = scale ? tqt_kernel_input(k, 2) : NULL;
  if (!scale) return k->d->status;
  double lo, hi;
  if (!qdq_range(x->dtype, &lo, &hi))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "cannot dequantize %s",
                           tqt_dtype_name(x->dtype));
  if (zp && zp->dtype != x->dtype)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "zero point is %s, input %s",
                           tqt_dtype_name(zp->dtype), tqt_dtype_name(x->dtype));
  int64_t outer, len, inner;
  if (qdq_layout(k, x, scale, zp, &outer, &len, &inner) != TQT_STATUS_OK) return k->d->status;
  int32_t out_type = scale->dtype == TQT_DTYPE_FLOAT16 ? TQT_DTYPE_FLOAT16 : TQT_DTYPE_FLOAT;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, out_type, x->rank, x->dims);
  if (!y) return k->d->status;
  int64_t i = 0;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t c = 0; c < len; c++) {
      float s = (float)tqt_rt_get(scale, c);
      int64_t z = zp ? tqt_rt_get_int(zp, c) : 0;
      if (out_type == TQT_DTYPE_FLOAT && x->dtype == TQT_DTYPE_INT8) {
        QDQ_DEQUANTIZE_FLOAT(int8_t, x, y, i, inner, s, z);
        continue;
      }
      if (out_type == TQT_DTYPE_FLOAT && x->dtype == TQT_DTYPE_UINT8) {
        QDQ_DEQUANTIZE_FLOAT(uint8_t, x, y, i, inner, s, z);
        continue;
      }
      for (int64_t j = 0; j < inner; j++, i++)
        tqt_rt_set(y, i, (double)((float)(tqt_rt_get_int(x, i) - z) * s));
    }
  }
  return TQT_STATUS_OK;
}

/* float (float16 with a float16 scale, as run does); unknown while the scale's type is. */
static enum tqt_status dequantize_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *scale = tqt_infer_input(c, 1);
  int32_t st = scale ? scale->dtype : TQT_DTYPE_UNDEFINED;
  qdq_infer_as(c, st == TQT_DTYPE_FLOAT16      ? TQT_DTYPE_FLOAT16
                  : st != TQT_DTYPE_UNDEFINED ? TQT_DTYPE_FLOAT
                                              : TQT_DTYPE_UNDEFINED);
  return TQT_STATUS_OK;
}

/* uint8 with the scale and zero point that cover [min(0, x), max(0, x)]. */
static enum tqt_status dynamic_quantize_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (x->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "input type %s", tqt_dtype_name(x->dtype));
  int64_t n = tqt_rt_numel(x);
  const float *xs = x->data;
  float mn = 0, mx = 0;
  for (int64_t i = 0; i < n; i++) {
    if (xs[i] < mn) mn = xs[i];
    if (xs[i] > mx) mx = xs[i];
  }
  float scale = (mx - mn) / 255.0f;
  float zpf = scale == 0 ? 0 : nearbyintf(0 - mn / scale);
  uint8_t zp = (uint8_t)(zpf < 0 ? 0 : zpf > 255 ? 255 : zpf);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_UINT8, x->rank, x->dims);
  if (!y) return k->d->status ? k->d->status : TQT_STATUS_OK;
  struct tqt_rt_tensor *ys = tqt_kernel_output(k, 1, TQT_DTYPE_FLOAT, 0, NULL);
  if (!ys && tqt_kernel_has_output(k, 1)) return k->d->status;
  struct tqt_rt_tensor *yz = tqt_kernel_output(k, 2, TQT_DTYPE_UINT8, 0, NULL);
  if (!yz && tqt_kernel_has_output(k, 2)) return k->d->status;
  uint8_t *q = y->data;
  for (int64_t i = 0; i < n; i++) {
    float v = scale == 0 ? (float)zp : nearbyintf(xs[i] / scale) + (float)zp;
    q[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  if (ys) *(float *)ys->data = scale;
  if (yz) *(uint8_t *)yz->data = zp;
  return TQT_STATUS_OK;
}

/* y: uint8 of x's shape; y_scale (float) and y_zero_point (uint8) scalars. */
static enum tqt_status dynamic_quantize_infer(struct tqt_infer_ctx *c) {
  qdq_infer_as(c, TQT_DTYPE_UINT8);
  if (c->n_out > 1) tqt_sym_tensor(&c->out[1], TQT_DTYPE_FLOAT, 0, NULL);
  if (c->n_out > 2) tqt_sym_tensor(&c->out[2], TQT_DTYPE_UINT8, 0, NULL);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel qdq_kernels[] = {
    {"", "QuantizeLinear", 10, qdq_init, quantize_run, quantize_infer},
    {"", "QuantizeLinear", 13, qdq_init, quantize_run, quantize_infer},
    {"", "QuantizeLinear", 19, qdq_init, quantize_run, quantize_infer},
    {"", "QuantizeLinear", 21, qdq_init, quantize_run, quantize_infer},
    {"", "DequantizeLinear", 10, qdq_init, dequantize_run, dequantize_infer},
    {"", "DequantizeLinear", 13, qdq_init, dequantize_run, dequantize_infer},
    {"", "DequantizeLinear", 19, qdq_init, dequantize_run, dequantize_infer},
    {"", "DequantizeLinear", 21, qdq_init, dequantize_run, dequantize_infer},
    {"", "DynamicQuantizeLinear", 11, NULL, dynamic_quantize_run, dynamic_quantize_infer},
};

const struct tqt_kernel_family tqt_family_qdq = {"qdq", qdq_kernels,
                                                 sizeof qdq_kernels / sizeof qdq_kernels[0]};
