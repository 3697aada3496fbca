/* Kernels: resizing and sampling (Resize, Upsample, GridSample, RoiAlign).
 *
 * Resize is separable: along each axis every output coordinate reads a few input coordinates
 * with weights (1 for nearest, 2 for linear, 4 for cubic), so it runs as one pass per resized
 * axis, innermost first — the order in which the ONNX reference nests its 1-D interpolations,
 * which matters only for tf_crop_and_resize's extrapolation value. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

/* ---- Resize and Upsample ---- */

enum resize_mode { RESIZE_NEAREST, RESIZE_LINEAR, RESIZE_CUBIC };

enum resize_coord {
  RESIZE_HALF_PIXEL,
  RESIZE_PYTORCH_HALF_PIXEL,
  RESIZE_ALIGN_CORNERS,
  RESIZE_ASYMMETRIC,
  RESIZE_TF_HALF_PIXEL_FOR_NN,
  RESIZE_TF_CROP_AND_RESIZE,
};

enum resize_nearest {
  RESIZE_ROUND_PREFER_FLOOR,
  RESIZE_ROUND_PREFER_CEIL,
  RESIZE_FLOOR,
  RESIZE_CEIL,
  RESIZE_SIMPLE, /* before Resize-11: ceil when the axis shrinks, floor otherwise */
};

/* Where the scales come from. */
enum resize_form {
  RESIZE_FORM_ATTR,   /* Upsample-7: the scales attribute */
  RESIZE_FORM_INPUT1, /* Upsample-9, Resize-10: scales as input 1 */
  RESIZE_FORM_FULL,   /* Resize-11+: roi, scales, sizes as inputs 1, 2, 3 */
};

struct resize_params {
  enum resize_mode mode;
  enum resize_coord coord;
  enum resize_nearest nearest;
  enum resize_form form;
  float cubic_a;
  bool exclude_outside;
  float extrapolation;
  const float *attr_scales;
  size_t n_attr_scales;
};

static bool resize_name_is(const char *s, const char *name) { return strcmp(s, name) == 0; }

static enum tqt_status resize_init(struct tqt_kernel_ctx *k) {
  struct resize_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  bool upsample = resize_name_is(k->node->op_type, "Upsample");
  int version = k->kernel->since_version;
  p->form = upsample && version < 9 ? RESIZE_FORM_ATTR
            : upsample || version < 11 ? RESIZE_FORM_INPUT1
                                       : RESIZE_FORM_FULL;
  const char *mode = tqt_attr_string(k->node, "mode", "nearest");
  if (resize_name_is(mode, "nearest"))
    p->mode = RESIZE_NEAREST;
  else if (resize_name_is(mode, "linear") || resize_name_is(mode, "bilinear"))
    p->mode = RESIZE_LINEAR;
  else if (resize_name_is(mode, "cubic") && p->form == RESIZE_FORM_FULL)
    p->mode = RESIZE_CUBIC;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "mode '%s'", mode);
  if (p->form != RESIZE_FORM_FULL) {
    /* Before Resize-11 the output coordinate maps to x / scale. */
    p->coord = RESIZE_ASYMMETRIC;
    p->nearest = RESIZE_SIMPLE;
  } else {
    static const struct {
      const char *name;
      enum resize_coord coord;
    } coords[] = {
        {"half_pixel", RESIZE_HALF_PIXEL},
        {"pytorch_half_pixel", RESIZE_PYTORCH_HALF_PIXEL},
        {"align_corners", RESIZE_ALIGN_CORNERS},
        {"asymmetric", RESIZE_ASYMMETRIC},
        {"tf_half_pixel_for_nn", RESIZE_TF_HALF_PIXEL_FOR_NN},
        {"tf_crop_and_resize", RESIZE_TF_CROP_AND_RESIZE},
    };
    static const struct {
      const char *name;
      enum resize_nearest nearest;
    } nearests[] = {
        {"round_prefer_floor", RESIZE_ROUND_PREFER_FLOOR},
        {"round_prefer_ceil", RESIZE_ROUND_PREFER_CEIL},
        {"floor", RESIZE_FLOOR},
        {"ceil", RESIZE_CEIL},
    };
    const char *coord = tqt_attr_string(k->node, "coordinate_transformation_mode", "half_pixel");
    size_t i = 0;
    while (i < sizeof coords / sizeof coords[0] && !resize_name_is(coord, coords[i].name)) i++;
    if (i == sizeof coords / sizeof coords[0])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "coordinate_transformation_mode '%s'", coord);
    p->coord = coords[i].coord;
    const char *nearest = tqt_attr_string(k->node, "nearest_mode", "round_prefer_floor");
    for (i = 0; i < sizeof nearests / sizeof nearests[0] && !resize_name_is(nearest, nearests[i].name);)
      i++;
    if (i == sizeof nearests / sizeof nearests[0])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "nearest_mode '%s'", nearest);
    p->nearest = nearests[i].nearest;
    if (tqt_attr_int(k->node, "antialias", 0))
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "antialias");
    if (tqt_attr_has(k->node, "axes"))
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "the axes attribute");
    if (!resize_name_is(tqt_attr_string(k->node, "keep_aspect_ratio_policy", "stretch"), "stretch"))
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "keep_aspect_ratio_policy");
  }
  p->cubic_a = tqt_attr_float(k->node, "cubic_coeff_a", -0.75f);
  p->exclude_outside = tqt_attr_int(k->node, "exclude_outside", 0) != 0;
  p->extrapolation = tqt_attr_float(k->node, "extrapolation_value", 0.0f);
  if (p->form == RESIZE_FORM_ATTR) {
    p->attr_scales = tqt_attr_floats(k->node, "scales", &p->n_attr_scales);
    if (!p->attr_scales) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the scales attribute is required");
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* One axis of a resize: for each output coordinate, `taps` input indices (clamped) and weights,
 * or the extrapolation value when the coordinate falls outside (tf_crop_and_resize). */
struct resize_axis {
  int64_t in, out;
  size_t taps;
  int64_t *idx;  /* out * taps */
  float *w;      /* out * taps */
  bool *outside; /* out */
  bool identity;
};

static double resize_source_coord(const struct resize_params *p, double j, double scale,
                                  double out_width, int64_t in, double roi_lo, double roi_hi) {
  switch (p->coord) {
  case RESIZE_ALIGN_CORNERS:
    return out_width == 1 ? 0 : j * (double)(in - 1) / (out_width - 1);
  case RESIZE_ASYMMETRIC: return j / scale;
  case RESIZE_TF_HALF_PIXEL_FOR_NN: return (j + 0.5) / scale;
  case RESIZE_TF_CROP_AND_RESIZE:
    return roi_lo * (double)(in - 1) +
           (out_width == 1 ? (roi_hi - roi_lo) * (double)(in - 1) / 2
                           : j * (roi_hi - roi_lo) * (double)(in - 1) / (out_width - 1));
  case RESIZE_PYTORCH_HALF_PIXEL: return out_width == 1 ? -0.5 : (j + 0.5) / scale - 0.5;
  case RESIZE_HALF_PIXEL:
  default: return (j + 0.5) / scale - 0.5;
  }
}

static void resize_cubic_coeffs(double r, double a, double *c) {
  double s = r + 1, t = 1 - r, u = 2 - r;
  c[0] = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
  c[2] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[3] = ((a * u - 5 * a) * u + 8 * a) * u - 4 * a;
}

static void resize_axis_plan(const struct resize_params *p, struct resize_axis *ax, double scale,
                             double out_width, double roi_lo, double roi_hi) {
  int64_t in = ax->in;
  ax->identity = ax->in == ax->out;
  for (int64_t j = 0; j < ax->out; j++) {
    double x = resize_source_coord(p, (double)j, scale, out_width, in, roi_lo, roi_hi);
    int64_t *idx = ax->idx + (size_t)j * ax->taps;
    float *w = ax->w + (size_t)j * ax->taps;
    ax->outside[j] = p->coord == RESIZE_TF_CROP_AND_RESIZE && (x < 0 || x > (double)(in - 1));
    double fl = floor(x), r = x - fl;
    int64_t x0 = (int64_t)fl;
    double c[4] = {1, 0, 0, 0};
    switch (p->mode) {
    case RESIZE_NEAREST: {
      bool up = false;
      if (r > 0) {
        switch (p->nearest) {
        case RESIZE_ROUND_PREFER_FLOOR: up = r > 0.5; break;
        case RESIZE_ROUND_PREFER_CEIL: up = r >= 0.5; break;
        case RESIZE_FLOOR: up = false; break;
        case RESIZE_CEIL: up = true; break;
        case RESIZE_SIMPLE: up = scale < 1; break;
        }
      }
      idx[0] = x0 + (up ? 1 : 0);
      break;
    }
    case RESIZE_LINEAR:
      idx[0] = x0;
      idx[1] = x0 + 1;
      c[0] = 1 - r;
      c[1] = r;
      break;
    case RESIZE_CUBIC:
      for (int t = 0; t < 4; t++) idx[t] = x0 - 1 + t;
      resize_cubic_coeffs(r, p->cubic_a, c);
      if (p->exclude_outside) {
        double sum = 0;
        for (int t = 0; t < 4; t++) {
          if (idx[t] < 0 || idx[t] >= in) c[t] = 0;
          sum += c[t];
        }
        for (int t = 0; t < 4; t++) c[t] = sum != 0 ? c[t] / sum : 0;
      }
      break;
    }
    for (size_t t = 0; t < ax->taps; t++) {
      idx[t] = idx[t] < 0 ? 0 : idx[t] >= in ? in - 1 : idx[t];
      w[t] = (float)c[t];
      if (w[t] != 0 && (idx[t] != j || w[t] != 1)) ax->identity = false;
    }
    if (ax->outside[j]) ax->identity = false;
  }
}

/* One pass along an axis for float data: src is [outer, in, inner], dst [outer, out, inner]. */
static void resize_pass_float(const struct resize_axis *ax, int64_t outer, int64_t inner,
                              const float *src, float *dst, float extrapolation) {
  size_t taps = ax->taps;
  for (int64_t o = 0; o < outer; o++) {
    const float *s = src + (size_t)(o * ax->in * inner);
    float *d = dst + (size_t)(o * ax->out * inner);
    for (int64_t j = 0; j < ax->out; j++, d += inner) {
      const int64_t *idx = ax->idx + (size_t)j * taps;
      const float *w = ax->w + (size_t)j * taps;
      if (ax->outside[j]) {
        for (int64_t i = 0; i < inner; i++) d[i] = extrapolation;
      } else if (inner == 1) {
        float acc = 0;
        for (size_t t = 0; t < taps; t++) acc += w[t] * s[idx[t]];
        d[0] = acc;
      } else {
        const float *s0 = s + idx[0] * inner;
        for (int64_t i = 0; i < inner; i++) d[i] = w[0] * s0[i];
        for (size_t t = 1; t < taps; t++) {
          if (w[t] == 0) continue;
          const float *st = s + idx[t] * inner;
          for (int64_t i = 0; i < inner; i++) d[i] += w[t] * st[i];
        }
      }
    }
  }
}

/* Nearest pass on raw elements of es bytes (any type: copies, no arithmetic). */
static void resize_pass_bytes(const struct resize_axis *ax, int64_t outer, int64_t inner,
                              size_t es, const unsigned char *src, unsigned char *dst,
                              const unsigned char *extrapolation) {
  size_t row = (size_t)inner * es;
  if (inner == 1 && es == 4) { /* the innermost axis of 32-bit data: a plain gather */
    uint32_t e;
    memcpy(&e, extrapolation, sizeof e);
    for (int64_t o = 0; o < outer; o++) {
      const uint32_t *s = (const uint32_t *)src + o * ax->in;
      uint32_t *d = (uint32_t *)dst + o * ax->out;
      for (int64_t j = 0; j < ax->out; j++) d[j] = ax->outside[j] ? e : s[ax->idx[j]];
    }
    return;
  }
  for (int64_t o = 0; o < outer; o++) {
    const unsigned char *s = src + (size_t)(o * ax->in) * row;
    unsigned char *d = dst + (size_t)(o * ax->out) * row;
    for (int64_t j = 0; j < ax->out; j++, d += row) {
      if (ax->outside[j]) {
        for (int64_t i = 0; i < inner; i++) memcpy(d + (size_t)i * es, extrapolation, es);
      } else {
        memcpy(d, s + (size_t)ax->idx[j] * row, row);
      }
    }
  }
}

/* Writes float results into y's type (integers truncate, as the ONNX reference's astype). */
static void resize_store(struct tqt_rt_tensor *y, const float *v, int64_t n) {
  for (int64_t i = 0; i < n; i++) tqt_rt_set(y, i, v[i]);
}

/* Reads scales or sizes into out dims and per-axis scales; roi into lo/hi. */
static enum tqt_status resize_shape(struct tqt_kernel_ctx *k, const struct resize_params *p,
                                    const struct tqt_rt_tensor *x, int64_t *out, double *scale,
                                    double *out_width, double *lo, double *hi) {
  size_t r = x->rank;
  const struct tqt_rt_tensor *scales_t = NULL, *sizes_t = NULL, *roi_t = NULL;
  if (p->form == RESIZE_FORM_INPUT1) {
    scales_t = tqt_kernel_input_required(k, 1);
    if (!scales_t) return k->d->status;
  } else if (p->form == RESIZE_FORM_FULL) {
    roi_t = tqt_kernel_input(k, 1);
    scales_t = tqt_kernel_input(k, 2);
    sizes_t = tqt_kernel_input(k, 3);
    if (k->d->status) return k->d->status;
  }
  for (size_t d = 0; d < r; d++) {
    lo[d] = 0;
    hi[d] = 1;
  }
  if (p->coord == RESIZE_TF_CROP_AND_RESIZE && roi_t && tqt_rt_numel(roi_t) > 0) {
    if (tqt_rt_numel(roi_t) != (int64_t)(2 * r) || roi_t->dtype == TQT_DTYPE_STRING)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "roi has %lld values for rank %zu",
                             (long long)tqt_rt_numel(roi_t), r);
    for (size_t d = 0; d < r; d++) {
      lo[d] = tqt_rt_get(roi_t, (int64_t)d);
      hi[d] = tqt_rt_get(roi_t, (int64_t)(r + d));
    }
  }
  if (sizes_t && tqt_rt_numel(sizes_t) > 0) {
    size_t n = 0;
    if (tqt_kernel_read_ints(k, sizes_t, out, TQT_RANK_MAX, &n)) return k->d->status;
    if (n != r)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu sizes for rank %zu", n, r);
    for (size_t d = 0; d < r; d++) {
      if (out[d] < 0)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "size %lld", (long long)out[d]);
      scale[d] = x->dims[d] ? (double)out[d] / (double)x->dims[d] : 1;
      out_width[d] = (double)out[d];
    }
    return TQT_STATUS_OK;
  }
  size_t n = p->form == RESIZE_FORM_ATTR ? p->n_attr_scales
             : scales_t                  ? (size_t)tqt_rt_numel(scales_t)
                                         : 0;
  if (n != r)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu scales for rank %zu (and no sizes)", n, r);
  if (scales_t && scales_t->dtype != TQT_DTYPE_FLOAT && scales_t->dtype != TQT_DTYPE_DOUBLE &&
      scales_t->dtype != TQT_DTYPE_FLOAT16)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scales are %s", tqt_dtype_name(scales_t->dtype));
  for (size_t d = 0; d < r; d++) {
    scale[d] = p->form == RESIZE_FORM_ATTR ? p->attr_scales[d] : tqt_rt_get(scales_t, (int64_t)d);
    if (!(scale[d] > 0))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scale %g", scale[d]);
    out_width[d] = scale[d] * (double)x->dims[d];
    out[d] = (int64_t)floor(out_width[d]);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status resize_run(struct tqt_kernel_ctx *k) {
  const struct resize_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (x->dtype == TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  size_t r = x->rank;
  int64_t out[TQT_RANK_MAX];
  double scale[TQT_RANK_MAX], out_width[TQT_RANK_MAX], lo[TQT_RANK_MAX], hi[TQT_RANK_MAX];
  if (resize_shape(k, p, x, out, scale, out_width, lo, hi)) return k->d->status;
  for (size_t d = 0; d < r; d++)
    if (x->dims[d] == 0 && out[d] > 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %zu is empty and cannot be resized", d);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, r, out);
  if (!y) return k->d->status;
  int64_t n_out = tqt_rt_numel(y);
  if (n_out == 0) return TQT_STATUS_OK;

  enum tqt_status st = TQT_STATUS_OK;
  size_t taps = p->mode == RESIZE_NEAREST ? 1 : p->mode == RESIZE_LINEAR ? 2 : 4;
  struct resize_axis axes[TQT_RANK_MAX];
  memset(axes, 0, sizeof axes);
  void *buf[2] = {NULL, NULL};
  float *xf = NULL;
  for (size_t d = 0; d < r; d++) {
    struct resize_axis *ax = &axes[d];
    ax->in = x->dims[d];
    ax->out = out[d];
    ax->taps = taps;
    size_t n = (size_t)ax->out + 1;
    ax->idx = malloc(n * taps * sizeof *ax->idx);
    ax->w = malloc(n * taps * sizeof *ax->w);
    ax->outside = malloc(n * sizeof *ax->outside);
    if (!ax->idx || !ax->w || !ax->outside) {
      st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
    resize_axis_plan(p, ax, scale[d], out_width[d], lo[d], hi[d]);
  }
  /* Nearest copies elements of any type; linear and cubic compute in float. */
  bool bytes = p->mode == RESIZE_NEAREST;
  size_t es = bytes ? tqt_dtype_size(x->dtype) : sizeof(float);
  const void *src = x->data;
  if (!bytes && x->dtype != TQT_DTYPE_FLOAT) {
    int64_t n_in = tqt_rt_numel(x);
    if (!(xf = malloc((size_t)(n_in + 1) * sizeof *xf))) {
      st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
    for (int64_t i = 0; i < n_in; i++) xf[i] = (float)tqt_rt_get(x, i);
    src = xf;
  }
  _Alignas(16) unsigned char extrap[16];
  struct tqt_rt_tensor ext = {.dtype = x->dtype, .data = extrap};
  tqt_rt_set(&ext, 0, p->extrapolation);

  /* Passes innermost axis first; the last one writes into y (in float when converting). */
  int64_t cur[TQT_RANK_MAX];
  memcpy(cur, x->dims, r * sizeof *cur);
  size_t last = r, n_pass = 0;
  size_t max_numel = 1;
  for (size_t d = r; d-- > 0;) {
    if (axes[d].identity) continue;
    last = d; /* passes run from the innermost axis out: the last is the outermost */
    n_pass++;
    cur[d] = out[d];
    int64_t numel = 1;
    for (size_t i = 0; i < r; i++) numel *= cur[i];
    if ((size_t)numel > max_numel) max_numel = (size_t)numel;
  }
  bool direct = bytes || x->dtype == TQT_DTYPE_FLOAT;
  if (n_pass == 0) {
    if (direct)
      memcpy(y->data, x->data, y->nbytes);
    else
      resize_store(y, src, n_out);
    goto fail;
  }
  for (int b = 0; b < 2; b++) {
    if (!(buf[b] = malloc(max_numel * es))) {
      st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
  }
  memcpy(cur, x->dims, r * sizeof *cur);
  int which = 0;
  for (size_t d = r; d-- > 0;) {
    const struct resize_axis *ax = &axes[d];
    if (ax->identity) continue;
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < d; i++) outer *= cur[i];
    for (size_t i = d + 1; i < r; i++) inner *= cur[i];
    void *dst = d == last && direct ? y->data : buf[which];
    if (bytes)
      resize_pass_bytes(ax, outer, inner, es, src, dst, extrap);
    else
      resize_pass_float(ax, outer, inner, src, dst, p->extrapolation);
    cur[d] = ax->out;
    src = dst;
    which ^= 1;
  }
  if (!direct) resize_store(y, src, n_out);
fail:
  for (size_t d = 0; d < r; d++) {
    free(axes[d].idx);
    free(axes[d].w);
    free(axes[d].outside);
  }
  free(buf[0]);
  free(buf[1]);
  free(xf);
  return st;
}

/* ---- GridSample (2-D, as PyTorch's grid_sample) ---- */

enum grid_mode { GRID_BILINEAR, GRID_NEAREST, GRID_BICUBIC };
enum grid_padding { GRID_ZEROS, GRID_BORDER, GRID_REFLECTION };

struct grid_params {
  enum grid_mode mode;
  enum grid_padding padding;
  bool align_corners;
};

static enum tqt_status grid_init(struct tqt_kernel_ctx *k) {
  struct grid_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *mode = tqt_attr_string(k->node, "mode", "bilinear");
  const char *pad = tqt_attr_string(k->node, "padding_mode", "zeros");
  if (resize_name_is(mode, "bilinear") || resize_name_is(mode, "linear"))
    p->mode = GRID_BILINEAR;
  else if (resize_name_is(mode, "nearest"))
    p->mode = GRID_NEAREST;
  else if (resize_name_is(mode, "bicubic") || resize_name_is(mode, "cubic"))
    p->mode = GRID_BICUBIC;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "mode '%s'", mode);
  if (resize_name_is(pad, "zeros"))
    p->padding = GRID_ZEROS;
  else if (resize_name_is(pad, "border"))
    p->padding = GRID_BORDER;
  else if (resize_name_is(pad, "reflection"))
    p->padding = GRID_REFLECTION;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "padding_mode '%s'", pad);
  p->align_corners = tqt_attr_int(k->node, "align_corners", 0) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

static float grid_unnormalize(float c, int64_t size, bool align_corners) {
  return align_corners ? (c + 1) / 2 * (float)(size - 1) : ((c + 1) * (float)size - 1) / 2;
}

/* Reflects x into [lo2 / 2, hi2 / 2] (bounds given doubled, as PyTorch does). */
static float grid_reflect(float x, float lo2, float hi2) {
  if (lo2 == hi2) return 0;
  float lo = lo2 / 2, span = (hi2 - lo2) / 2;
  x = fabsf(x - lo);
  float extra = fmodf(x, span);
  int64_t flips = (int64_t)floorf(x / span);
  return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

/* Applies the padding mode to an unnormalized coordinate. */
static float grid_pad(const struct grid_params *p, float x, int64_t size) {
  if (p->padding == GRID_BORDER) return fminf((float)(size - 1), fmaxf(x, 0));
  if (p->padding == GRID_REFLECTION) {
    x = p->align_corners ? grid_reflect(x, 0, 2 * (float)(size - 1))
                         : grid_reflect(x, -1, 2 * (float)size - 1);
    return fminf((float)(size - 1), fmaxf(x, 0));
  }
  return x;
}

static float grid_pixel(const float *img, int64_t h, int64_t w, int64_t y, int64_t x) {
  return y >= 0 && y < h && x >= 0 && x < w ? img[y * w + x] : 0;
}

static void grid_cubic_coeffs(float t, float *c) {
  const float a = -0.75f;
  float s = t + 1, u = 1 - t, v = 2 - t;
  c[0] = ((a * s - 5 * a) * s + 8 * a) * s - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
  c[3] = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a;
}

static float grid_sample_one(const struct grid_params *p, const float *img, int64_t h, int64_t w,
                             float gx, float gy) {
  float ix = grid_unnormalize(gx, w, p->align_corners);
  float iy = grid_unnormalize(gy, h, p->align_corners);
  if (p->mode == GRID_BICUBIC) { /* padding applies to each tap, not to the coordinate */
    float fx = floorf(ix), fy = floorf(iy), cx[4], cy[4];
    grid_cubic_coeffs(ix - fx, cx);
    grid_cubic_coeffs(iy - fy, cy);
    float acc = 0;
    for (int i = 0; i < 4; i++) {
      float row = 0;
      int64_t yy = (int64_t)grid_pad(p, fy - 1 + (float)i, h);
      for (int j = 0; j < 4; j++) {
        int64_t xx = (int64_t)grid_pad(p, fx - 1 + (float)j, w);
        row += cx[j] * grid_pixel(img, h, w, yy, xx);
      }
      acc += cy[i] * row;
    }
    return acc;
  }
  ix = grid_pad(p, ix, w);
  iy = grid_pad(p, iy, h);
  if (p->mode == GRID_NEAREST)
    return grid_pixel(img, h, w, (int64_t)nearbyintf(iy), (int64_t)nearbyintf(ix));
  float fx = floorf(ix), fy = floorf(iy);
  int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
  float dx = ix - fx, dy = iy - fy;
  return grid_pixel(img, h, w, y0, x0) * (1 - dx) * (1 - dy) +
         grid_pixel(img, h, w, y0, x0 + 1) * dx * (1 - dy) +
         grid_pixel(img, h, w, y0 + 1, x0) * (1 - dx) * dy +
         grid_pixel(img, h, w, y0 + 1, x0 + 1) * dx * dy;
}

static enum tqt_status grid_run(struct tqt_kernel_ctx *k) {
  const struct grid_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *g = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!g) return k->d->status;
  char a[128], b[128];
  if (x->rank != 4 || g->rank != 4 || g->dims[0] != x->dims[0] || g->dims[3] != 2)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "X %s with grid %s: only 2-D sampling",
                           tqt_rt_shape_str(x, a, sizeof a), tqt_rt_shape_str(g, b, sizeof b));
  if (x->dtype != TQT_DTYPE_FLOAT || g->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "types %s and %s", tqt_dtype_name(x->dtype),
                           tqt_dtype_name(g->dtype));
  int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  int64_t oh = g->dims[1], ow = g->dims[2];
  int64_t dims[4] = {n, c, oh, ow};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, 4, dims);
  if (!y) return k->d->status;
  const float *xs = x->data, *gs = g->data;
  float *ys = y->data;
  for (int64_t in = 0; in < n; in++) {
    for (int64_t ic = 0; ic < c; ic++) {
      const float *img = xs + (in * c + ic) * h * w;
      const float *grid = gs + in * oh * ow * 2;
      float *dst = ys + (in * c + ic) * oh * ow;
      for (int64_t i = 0; i < oh * ow; i++)
        dst[i] = grid_sample_one(p, img, h, w, grid[2 * i], grid[2 * i + 1]);
    }
  }
  return TQT_STATUS_OK;
}

/* ---- RoiAlign ---- */

/* Sampling points per bin and axis RoiAlign takes at most (an adaptive grid is roi size / output
 * size: 4096 allows rois 4096 times the output). */
#define ROI_GRID_MAX 4096

struct roi_params {
  bool max_mode;
  bool half_pixel;
  int64_t out_h, out_w, sampling;
  float spatial_scale;
};

static enum tqt_status roi_init(struct tqt_kernel_ctx *k) {
  struct roi_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *mode = tqt_attr_string(k->node, "mode", "avg");
  if (!resize_name_is(mode, "avg") && !resize_name_is(mode, "max"))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "mode '%s'", mode);
  p->max_mode = resize_name_is(mode, "max");
  /* RoiAlign-10 behaves as output_half_pixel; 16 made half_pixel the default. */
  const char *coord = tqt_attr_string(k->node, "coordinate_transformation_mode",
                                      k->kernel->since_version >= 16 ? "half_pixel"
                                                                      : "output_half_pixel");
  if (!resize_name_is(coord, "half_pixel") && !resize_name_is(coord, "output_half_pixel"))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "coordinate_transformation_mode '%s'", coord);
  p->half_pixel = resize_name_is(coord, "half_pixel");
  p->out_h = tqt_attr_int(k->node, "output_height", 1);
  p->out_w = tqt_attr_int(k->node, "output_width", 1);
  p->sampling = tqt_attr_int(k->node, "sampling_ratio", 0);
  p->spatial_scale = tqt_attr_float(k->node, "spatial_scale", 1.0f);
  if (p->out_h < 1 || p->out_w < 1 || p->sampling < 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "output %lldx%lld, sampling_ratio %lld",
                           (long long)p->out_h, (long long)p->out_w, (long long)p->sampling);
  k->params = p;
  return TQT_STATUS_OK;
}

/* Bilinear sample at (y, x) as four pixel offsets and weights, zero weights when outside. */
struct roi_sample {
  int64_t pos[4];
  float w[4];
};

static void roi_sample_at(struct roi_sample *s, float y, float x, int64_t h, int64_t w) {
  memset(s, 0, sizeof *s);
  if (y < -1.0f || y > (float)h || x < -1.0f || x > (float)w) return;
  if (y <= 0) y = 0;
  if (x <= 0) x = 0;
  int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
  if (y0 >= h - 1) {
    y0 = y1 = h - 1;
    y = (float)y0;
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= w - 1) {
    x0 = x1 = w - 1;
    x = (float)x0;
  } else {
    x1 = x0 + 1;
  }
  float ly = y - (float)y0, lx = x - (float)x0, hy = 1 - ly, hx = 1 - lx;
  s->pos[0] = y0 * w + x0;
  s->pos[1] = y0 * w + x1;
  s->pos[2] = y1 * w + x0;
  s->pos[3] = y1 * w + x1;
  s->w[0] = hy * hx;
  s->w[1] = hy * lx;
  s->w[2] = ly * hx;
  s->w[3] = ly * lx;
}

static enum tqt_status roi_run(struct tqt_kernel_ctx *k) {
  const struct roi_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *rois = x ? tqt_kernel_input_required(k, 1) : NULL;
  const struct tqt_rt_tensor *bi = rois ? tqt_kernel_input_required(k, 2) : NULL;
  if (!bi) return k->d->status;
  char a[128], b[128];
  if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || bi->rank != 1 ||
      bi->dims[0] != rois->dims[0])
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X %s, rois %s, batch_indices of %lld",
                           tqt_rt_shape_str(x, a, sizeof a), tqt_rt_shape_str(rois, b, sizeof b),
                           (long long)tqt_rt_numel(bi));
  if (x->dtype != TQT_DTYPE_FLOAT || rois->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "types %s and %s", tqt_dtype_name(x->dtype),
                           tqt_dtype_name(rois->dtype));
  int64_t n_rois = rois->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  int64_t dims[4] = {n_rois, c, p->out_h, p->out_w};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, 4, dims);
  if (!y) return k->d->status;
  const float *xs = x->data, *rs = rois->data;
  float *ys = y->data;
  float offset = p->half_pixel ? 0.5f : 0.0f;
  struct roi_sample *samples = NULL;
  size_t cap = 0;
  enum tqt_status st = TQT_STATUS_OK;
  for (int64_t r = 0; r < n_rois; r++) {
    int64_t batch = tqt_rt_get_int(bi, r);
    if (batch < 0 || batch >= x->dims[0]) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "roi %lld: batch index %lld of %lld",
                           (long long)r, (long long)batch, (long long)x->dims[0]);
      break;
    }
    const float *roi = rs + r * 4;
    float x0 = roi[0] * p->spatial_scale - offset, y0 = roi[1] * p->spatial_scale - offset;
    float x1 = roi[2] * p->spatial_scale - offset, y1 = roi[3] * p->spatial_scale - offset;
    float rw = x1 - x0, rh = y1 - y0;
    if (!p->half_pixel) { /* the legacy mode forces rois to at least one pixel */
      rw = fmaxf(rw, 1.0f);
      rh = fmaxf(rh, 1.0f);
    }
    float bin_h = rh / (float)p->out_h, bin_w = rw / (float)p->out_w;
    /* The grid in float first: a NaN or huge roi (or sampling_ratio) must not reach the
     * conversions, nor the sample count overflow. */
    float gh = p->sampling > 0 ? (float)p->sampling : ceilf(rh / (float)p->out_h);
    float gw = p->sampling > 0 ? (float)p->sampling : ceilf(rw / (float)p->out_w);
    int64_t grid_h = gh > 0 && gh < ROI_GRID_MAX ? (int64_t)gh : 0;
    int64_t grid_w = gw > 0 && gw < ROI_GRID_MAX ? (int64_t)gw : 0;
    uint64_t per_bin = (uint64_t)(grid_h * grid_w > 1 ? grid_h * grid_w : 1);
    if (!(gh < ROI_GRID_MAX) || !(gw < ROI_GRID_MAX) ||
        (uint64_t)(p->out_h * p->out_w) > SIZE_MAX / 2 / sizeof *samples / per_bin) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "roi %lld: (%g, %g, %g, %g) needs a sampling grid past %d per bin",
                           (long long)r, roi[0], roi[1], roi[2], roi[3], ROI_GRID_MAX);
      break;
    }
    float count = (float)(grid_h * grid_w > 1 ? grid_h * grid_w : 1);
    size_t need = (size_t)(p->out_h * p->out_w * grid_h * grid_w) + 1;
    if (need > cap) {
      struct roi_sample *grown = realloc(samples, need * sizeof *grown);
      if (!grown) {
        st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
        break;
      }
      samples = grown;
      cap = need;
    }
    size_t at = 0;
    for (int64_t ph = 0; ph < p->out_h; ph++)
      for (int64_t pw = 0; pw < p->out_w; pw++)
        for (int64_t iy = 0; iy < grid_h; iy++)
          for (int64_t ix = 0; ix < grid_w; ix++)
            roi_sample_at(&samples[at++],
                          y0 + (float)ph * bin_h + ((float)iy + 0.5f) * bin_h / (float)grid_h,
                          x0 + (float)pw * bin_w + ((float)ix + 0.5f) * bin_w / (float)grid_w, h,
                          w);
    for (int64_t ic = 0; ic < c; ic++) {
      const float *img = xs + (batch * c + ic) * h * w;
      float *dst = ys + (r * c + ic) * p->out_h * p->out_w;
      const struct roi_sample *s = samples;
      for (int64_t i = 0; i < p->out_h * p->out_w; i++) {
        float acc = 0;
        for (int64_t g = 0; g < grid_h * grid_w; g++, s++) {
          if (p->max_mode) {
            float v = fmaxf(fmaxf(s->w[0] * img[s->pos[0]], s->w[1] * img[s->pos[1]]),
                            fmaxf(s->w[2] * img[s->pos[2]], s->w[3] * img[s->pos[3]]));
            acc = g == 0 ? v : fmaxf(acc, v);
          } else {
            acc += s->w[0] * img[s->pos[0]] + s->w[1] * img[s->pos[1]] +
                   s->w[2] * img[s->pos[2]] + s->w[3] * img[s->pos[3]];
          }
        }
        dst[i] = p->max_mode ? acc : acc / count;
      }
    }
  }
  free(samples);
  return st;
}

/* ---- inference (infer.h) ---- */

/* floor(dim * scale), as resize_shape computes it, when that is an exact expression: a constant
 * dim; a symbolic one times a whole scale; or divided by a power of two (dim * 2^-k is exact in
 * double, so its floor is floor(dim / 2^k)). NULL otherwise. */
static tqt_sdim resize_infer_scaled(struct tqt_dimtab *t, tqt_sdim dim, double scale) {
  int64_t v;
  int e;
  if (tqt_sdim_value(dim, &v)) return tqt_sdim_const(t, (int64_t)floor(scale * (double)v));
  if (scale == floor(scale) && scale < 1e9)
    return tqt_sdim_mul(t, dim, tqt_sdim_const(t, (int64_t)scale));
  if (frexp(scale, &e) == 0.5 && e > -30) /* scale = 2^(e - 1) < 1 */
    return tqt_sdim_div_floor(t, dim, tqt_sdim_const(t, (int64_t)1 << (1 - e)));
  return NULL;
}

/* Resize, Upsample: X's type; sizes when given, else each dim scaled (scales from the attribute
 * or an initializer: float values are known only as constants). */
static enum tqt_status resize_infer(struct tqt_infer_ctx *c) {
  const struct resize_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *scales = NULL, *sizes = NULL;
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  if (p->form == RESIZE_FORM_INPUT1) scales = tqt_infer_input(c, 1);
  if (p->form == RESIZE_FORM_FULL) {
    scales = tqt_infer_input(c, 2);
    sizes = tqt_infer_input(c, 3);
  }
  int64_t n_sizes = sizes ? tqt_sym_numel(sizes) : 0;
  int64_t n_scales = p->form == RESIZE_FORM_ATTR ? (int64_t)p->n_attr_scales
                     : scales                  ? tqt_sym_numel(scales)
                                               : 0;
  int64_t n = n_sizes ? n_sizes : n_scales; /* the one given: its length is X's rank */
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!tqt_sym_ranked(x) && (n < 0 || n > TQT_RANK_MAX)) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  size_t rank = tqt_sym_ranked(x) ? x->rank : (size_t)n;
  if (n >= 0 && (size_t)n != rank)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "%lld %s for rank %zu", (long long)n,
                           n_sizes ? "sizes" : "scales", rank);
  const struct tqt_rt_tensor *sc = scales ? scales->constant : NULL;
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t d = 0; d < rank; d++) {
    tqt_sdim in = tqt_sym_ranked(x) ? x->dims[d] : NULL;
    double scale = p->form == RESIZE_FORM_ATTR ? p->attr_scales[d]
                   : sc && n_scales >= 0        ? tqt_rt_get(sc, (int64_t)d)
                                                : NAN;
    if (n_sizes)
      dims[d] = n_sizes > 0 ? tqt_sym_elem(c->dims, sizes, d) : NULL;
    else if (!isnan(scale) && !(scale > 0))
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "scale %g", scale);
    else
      dims[d] = isnan(scale) ? NULL : resize_infer_scaled(c->dims, in, scale);
  }
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  return TQT_STATUS_OK;
}

/* GridSample: [N, C, the grid's output dims...]; X and the grid have one rank. */
static enum tqt_status grid_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0), *g = tqt_infer_input(c, 1);
  bool xr = tqt_sym_ranked(x), gr = tqt_sym_ranked(g);
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!xr && !gr) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  size_t rank = xr ? x->rank : g->rank;
  if (rank < 3 || (xr && gr && x->rank != g->rank))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "X and grid ranks do not fit");
  tqt_sdim dims[TQT_RANK_MAX];
  dims[0] = xr ? x->dims[0] : g->dims[0];
  dims[1] = xr ? x->dims[1] : NULL;
  for (size_t i = 2; i < rank; i++) dims[i] = gr ? g->dims[i - 1] : NULL;
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  return TQT_STATUS_OK;
}

/* RoiAlign: [num_rois, C, output_height, output_width]. */
static enum tqt_status roi_infer(struct tqt_infer_ctx *c) {
  const struct roi_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *rois = tqt_infer_input(c, 1),
                       *bi = tqt_infer_input(c, 2);
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (tqt_sym_ranked(x) && x->rank != 4)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "X of rank %zu", x->rank);
  tqt_sdim dims[4] = {NULL, tqt_sym_ranked(x) ? x->dims[1] : NULL,
                      tqt_sdim_const(c->dims, p->out_h), tqt_sdim_const(c->dims, p->out_w)};
  if (tqt_sym_ranked(rois) && rois->rank == 2)
    dims[0] = rois->dims[0];
  else if (tqt_sym_ranked(bi) && bi->rank == 1)
    dims[0] = bi->dims[0]; /* one batch index per roi */
  tqt_sym_tensor(&c->out[0], x ? x->dtype : TQT_DTYPE_UNDEFINED, 4, dims);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel resize_kernels[] = {
    {"", "Upsample", 7, resize_init, resize_run, resize_infer},
    {"", "Upsample", 9, resize_init, resize_run, resize_infer},
    {"", "Resize", 10, resize_init, resize_run, resize_infer},
    {"", "Resize", 11, resize_init, resize_run, resize_infer},
    {"", "Resize", 13, resize_init, resize_run, resize_infer},
    {"", "GridSample", 16, grid_init, grid_run, grid_infer},
    {"", "RoiAlign", 10, roi_init, roi_run, roi_infer},
    {"", "RoiAlign", 16, roi_init, roi_run, roi_infer},
};

const struct tqt_kernel_family tqt_family_resize = {
    "resize", resize_kernels, sizeof resize_kernels / sizeof resize_kernels[0]};
