/* Kernels: pool family. MaxPool, AveragePool, LpPool, their Global forms, and MaxUnpool.
 *
 * Windowed pools plan each run once: the spatial axes are normalized to three (D, H, W; 1-D and
 * 2-D pools get leading axes of size 1 with a kernel of 1), every output index along D and H gets
 * its window (first input position and the range of kernel taps inside the input), and every
 * kernel tap along W gets the range of outputs it reaches inside the input. A run then walks the
 * output rows (plane, od, oh); for each it visits the input rows the window covers and applies
 * every W tap to its output range in one strided sweep. The inner loops therefore have no bounds
 * tests and no index division, whatever the padding, dilation or ceil_mode, and with stride 1
 * they are contiguous. float16/bfloat16 run through float copies. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

#define POOL_AXES 3 /* 1-D, 2-D and 3-D pooling */

enum pool_kind { POOL_KIND_MAX, POOL_KIND_AVG, POOL_KIND_LP };
enum pool_pad { POOL_PAD_NOTSET, POOL_PAD_SAME_UPPER, POOL_PAD_SAME_LOWER, POOL_PAD_VALID };

struct pool_params {
  enum pool_kind kind;
  enum pool_pad auto_pad;
  size_t n_axes; /* spatial axes: the length of kernel_shape */
  int64_t kernel[POOL_AXES], strides[POOL_AXES], dilations[POOL_AXES];
  int64_t pads[2 * POOL_AXES]; /* all begins, then all ends */
  bool ceil_mode, count_include_pad, col_major;
  double p; /* LpPool, GlobalLpPool */
};

/* One spatial axis of a run. */
struct pool_axis {
  int64_t in, out, kernel, stride, dilation, pad_begin, pad_end;
};

/* The window of one output index along D or H: input position of tap 0, the taps [lo, hi) that
 * fall inside the input, and how many taps AveragePool divides by. */
struct pool_window {
  int64_t start, lo, hi, count;
};

struct pool_plan {
  struct pool_axis ax[POOL_AXES]; /* D, H, W */
  int64_t planes;                 /* N * C */
  int64_t in_plane, out_plane;    /* elements per (n, c) */
  bool col_major;
  double p;
  struct pool_window *wd, *wh; /* per output index along D and H */
  int64_t *w_lo, *w_hi;        /* per W tap: the outputs [lo, hi) it reaches inside the input */
  int64_t *w_off;              /* per W tap: its input offset from output index * stride */
  double *w_scale;             /* per W output: 1 / the taps AveragePool counts there */
  void *mem;
};

static int64_t pool_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; } /* a >= 0, b > 0 */

static bool pool_is_half(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT16 || dtype == TQT_DTYPE_BFLOAT16;
}

/* ---- attributes ---- */

/* Reads an INTS attribute of exactly n values (or dflt for each when absent). */
static enum tqt_status pool_ints_read(struct tqt_kernel_ctx *k, const char *name, size_t n,
                                      int64_t min, int64_t dflt, int64_t *out) {
  size_t count;
  const int64_t *v = tqt_attr_ints(k->node, name, &count);
  if (!v) {
    for (size_t i = 0; i < n; i++) out[i] = dflt;
    return TQT_STATUS_OK;
  }
  if (count != n)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s has %zu values, expected %zu", name, count,
                           n);
  for (size_t i = 0; i < n; i++) {
    if (v[i] < min)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s[%zu] is %lld, expected at least %lld",
                             name, i, (long long)v[i], (long long)min);
    out[i] = v[i];
  }
  return TQT_STATUS_OK;
}

/* The attributes of the windowed pools and MaxUnpool (those an op lacks keep their defaults). */
static enum tqt_status pool_params_read(struct tqt_kernel_ctx *k, enum pool_kind kind) {
  struct pool_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->kind = kind;
  const int64_t *kernel = tqt_attr_ints(k->node, "kernel_shape", &p->n_axes);
  if (!kernel) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "kernel_shape is required");
  if (p->n_axes == 0 || p->n_axes > POOL_AXES)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%zu-D pooling (1 to %d supported)",
                           p->n_axes, POOL_AXES);
  enum tqt_status st;
  if ((st = pool_ints_read(k, "kernel_shape", p->n_axes, 1, 1, p->kernel)) ||
      (st = pool_ints_read(k, "strides", p->n_axes, 1, 1, p->strides)) ||
      (st = pool_ints_read(k, "dilations", p->n_axes, 1, 1, p->dilations)) ||
      (st = pool_ints_read(k, "pads", 2 * p->n_axes, 0, 0, p->pads)))
    return st;
  const char *pad = tqt_attr_string(k->node, "auto_pad", "NOTSET");
  if (!*pad || strcmp(pad, "NOTSET") == 0)
    p->auto_pad = POOL_PAD_NOTSET;
  else if (strcmp(pad, "SAME_UPPER") == 0)
    p->auto_pad = POOL_PAD_SAME_UPPER;
  else if (strcmp(pad, "SAME_LOWER") == 0)
    p->auto_pad = POOL_PAD_SAME_LOWER;
  else if (strcmp(pad, "VALID") == 0)
    p->auto_pad = POOL_PAD_VALID;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "auto_pad '%s' is not one of NOTSET, "
                           "SAME_UPPER, SAME_LOWER, VALID", pad);
  p->ceil_mode = tqt_attr_int(k->node, "ceil_mode", 0) != 0;
  p->count_include_pad = tqt_attr_int(k->node, "count_include_pad", 0) != 0;
  int64_t order = tqt_attr_int(k->node, "storage_order", 0);
  if (order != 0 && order != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "storage_order %lld is not 0 or 1",
                           (long long)order);
  p->col_major = order == 1;
  /* LpPool-1 has a float p, later versions an int one: tqt_attr_float reads both. */
  p->p = tqt_attr_float(k->node, "p", 2.0f);
  if (kind == POOL_KIND_LP && !(p->p > 0))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "p is %g, expected a positive value", p->p);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status pool_max_init(struct tqt_kernel_ctx *k) {
  return pool_params_read(k, POOL_KIND_MAX);
}
static enum tqt_status pool_avg_init(struct tqt_kernel_ctx *k) {
  return pool_params_read(k, POOL_KIND_AVG);
}
static enum tqt_status pool_lp_init(struct tqt_kernel_ctx *k) {
  return pool_params_read(k, POOL_KIND_LP);
}

/* ---- the plan of one run ---- */

/* Output shape and per-axis geometry (with auto_pad resolved) for input x. */
static enum tqt_status pool_plan_shape(struct tqt_kernel_ctx *k, const struct pool_params *p,
                                       const struct tqt_rt_tensor *x, struct pool_plan *pl,
                                       int64_t *out_dims) {
  char s[128];
  if (x->rank != p->n_axes + 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s does not have the %zu spatial axes "
                           "of kernel_shape", tqt_rt_shape_str(x, s, sizeof s), p->n_axes);
  memset(pl, 0, sizeof *pl);
  for (size_t i = 0; i < POOL_AXES; i++)
    pl->ax[i] = (struct pool_axis){1, 1, 1, 1, 1, 0, 0};
  out_dims[0] = x->dims[0];
  out_dims[1] = x->dims[1];
  pl->planes = x->dims[0] * x->dims[1];
  pl->in_plane = pl->out_plane = 1;
  for (size_t i = 0; i < p->n_axes; i++) {
    struct pool_axis *a = &pl->ax[POOL_AXES - p->n_axes + i];
    a->in = x->dims[i + 2];
    a->kernel = p->kernel[i];
    a->stride = p->strides[i];
    a->dilation = p->dilations[i];
    int64_t extent = (a->kernel - 1) * a->dilation + 1; /* input span of one window */
    if (p->auto_pad == POOL_PAD_SAME_UPPER || p->auto_pad == POOL_PAD_SAME_LOWER) {
      a->out = pool_ceil_div(a->in, a->stride);
      int64_t total = a->out > 0 ? (a->out - 1) * a->stride + extent - a->in : 0;
      if (total < 0) total = 0;
      a->pad_begin = p->auto_pad == POOL_PAD_SAME_UPPER ? total / 2 : total - total / 2;
      a->pad_end = total - a->pad_begin;
    } else {
      bool valid = p->auto_pad == POOL_PAD_VALID;
      a->pad_begin = valid ? 0 : p->pads[i];
      a->pad_end = valid ? 0 : p->pads[p->n_axes + i];
      int64_t span = a->in + a->pad_begin + a->pad_end - extent;
      if (span < 0)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "window of %lld along axis %zu exceeds the "
                               "padded input %s", (long long)extent, i + 2,
                               tqt_rt_shape_str(x, s, sizeof s));
      bool ceil = p->ceil_mode && !valid;
      a->out = (ceil ? pool_ceil_div(span, a->stride) : span / a->stride) + 1;
      /* ceil_mode never starts a window in the end padding. */
      if (ceil && (a->out - 1) * a->stride >= a->in + a->pad_begin) a->out--;
    }
    out_dims[i + 2] = a->out;
    pl->in_plane *= a->in;
    pl->out_plane *= a->out;
  }
  pl->col_major = p->col_major;
  pl->p = p->p;
  return TQT_STATUS_OK;
}

static struct pool_window pool_window_at(const struct pool_axis *a, int64_t o, bool include_pad) {
  struct pool_window w = {o * a->stride - a->pad_begin, 0, 0, 0};
  w.lo = w.start < 0 ? pool_ceil_div(-w.start, a->dilation) : 0;
  w.hi = a->in - w.start > 0 ? pool_ceil_div(a->in - w.start, a->dilation) : 0;
  if (w.hi > a->kernel) w.hi = a->kernel;
  if (w.lo > w.hi) w.lo = w.hi;
  if (include_pad) { /* taps inside the padded input (ceil_mode may reach past it) */
    int64_t room = a->in + a->pad_end - w.start;
    w.count = room > 0 ? pool_ceil_div(room, a->dilation) : 0;
    if (w.count > a->kernel) w.count = a->kernel;
  } else {
    w.count = w.hi - w.lo;
  }
  return w;
}

/* The window tables of a planned shape. */
static enum tqt_status pool_plan_tables(struct tqt_kernel_ctx *k, struct pool_plan *pl,
                                        bool include_pad) {
  const struct pool_axis *ad = &pl->ax[0], *ah = &pl->ax[1], *aw = &pl->ax[2];
  size_t n_win = (size_t)(ad->out + ah->out), n_tap = (size_t)aw->kernel;
  size_t bytes = n_win * sizeof(struct pool_window) + 3 * n_tap * sizeof(int64_t) +
                 (size_t)aw->out * sizeof(double);
  pl->mem = malloc(bytes + 1);
  if (!pl->mem) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory (%zu bytes)", bytes);
  pl->wd = pl->mem;
  pl->wh = pl->wd + ad->out;
  pl->w_lo = (int64_t *)(pl->wh + ah->out);
  pl->w_hi = pl->w_lo + n_tap;
  pl->w_off = pl->w_hi + n_tap;
  pl->w_scale = (double *)(pl->w_off + n_tap);
  for (int64_t o = 0; o < ad->out; o++) pl->wd[o] = pool_window_at(ad, o, include_pad);
  for (int64_t o = 0; o < ah->out; o++) pl->wh[o] = pool_window_at(ah, o, include_pad);
  for (int64_t t = 0; t < aw->kernel; t++) {
    /* Tap t of output o reads input o * stride + off; it is inside when 0 <= that < in. */
    int64_t off = t * aw->dilation - aw->pad_begin;
    int64_t lo = off < 0 ? pool_ceil_div(-off, aw->stride) : 0;
    int64_t hi = aw->in - off > 0 ? pool_ceil_div(aw->in - off, aw->stride) : 0;
    if (hi > aw->out) hi = aw->out;
    pl->w_lo[t] = lo < hi ? lo : hi;
    pl->w_hi[t] = hi;
    pl->w_off[t] = off;
  }
  for (int64_t o = 0; o < aw->out; o++) {
    int64_t count = pool_window_at(aw, o, include_pad).count;
    pl->w_scale[o] = count ? 1.0 / (double)count : 0.0;
  }
  return TQT_STATUS_OK;
}

/* ---- row kernels, per element type ---- */

/* What a pool does to one output row: start it, fold in one input row (all W taps), finish it
 * (scale: the AveragePool factor of the D and H windows). argtap is MaxPool with Indices: base is
 * the index of the input row's first element, wmul the index step along W. */
struct pool_row_ops {
  size_t esize;
  void (*init)(void *y, int64_t n);
  void (*tap)(const struct pool_plan *pl, void *y, const void *x);
  void (*argtap)(const struct pool_plan *pl, void *y, int64_t *ind, const void *x, int64_t base,
                 int64_t wmul);
  void (*done)(const struct pool_plan *pl, void *y, double scale);
};

#define POOL_MAX_DEFINE(SUF, T, LOWEST)                                                         \
  static void pool_max_init_##SUF(void *yv, int64_t n) {                                        \
    T *y = yv;                                                                                  \
    for (int64_t i = 0; i < n; i++) y[i] = LOWEST;                                              \
  }                                                                                             \
  static void pool_max_tap_##SUF(const struct pool_plan *pl, void *yv, const void *xv) {       \
    T *y = yv;                                                                                  \
    const T *x = xv;                                                                            \
    int64_t s = pl->ax[2].stride;                                                               \
    for (int64_t t = 0; t < pl->ax[2].kernel; t++) {                                            \
      int64_t lo = pl->w_lo[t], hi = pl->w_hi[t], off = pl->w_off[t];                          \
      if (lo >= hi) continue;                                                                   \
      if (s == 1) {                                                                             \
        const T *src = x + lo + off;                                                            \
        T *dst = y + lo;                                                                        \
        for (int64_t i = 0; i < hi - lo; i++) dst[i] = src[i] > dst[i] ? src[i] : dst[i];       \
      } else {                                                                                  \
        for (int64_t o = lo; o < hi; o++) {                                                     \
          T v = x[o * s + off];                                                                 \
          y[o] = v > y[o] ? v : y[o];                                                           \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  /* The first maximum in window order wins, as in the reference; ind < 0: nothing seen yet. */ \
  static void pool_max_argtap_##SUF(const struct pool_plan *pl, void *yv, int64_t *ind,         \
                                    const void *xv, int64_t base, int64_t wmul) {               \
    T *y = yv;                                                                                  \
    const T *x = xv;                                                                            \
    int64_t s = pl->ax[2].stride;                                                               \
    for (int64_t t = 0; t < pl->ax[2].kernel; t++) {                                            \
      for (int64_t o = pl->w_lo[t]; o < pl->w_hi[t]; o++) {                                     \
        int64_t iw = o * s + pl->w_off[t];                                                      \
        if (ind[o] < 0 || x[iw] > y[o]) {                                                       \
          y[o] = x[iw];                                                                         \
          ind[o] = base + iw * wmul;                                                            \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  static const struct pool_row_ops pool_max_ops_##SUF = {                                       \
      sizeof(T), pool_max_init_##SUF, pool_max_tap_##SUF, pool_max_argtap_##SUF, NULL};

POOL_MAX_DEFINE(f32, float, -INFINITY)
POOL_MAX_DEFINE(f64, double, -INFINITY)
POOL_MAX_DEFINE(i8, int8_t, INT8_MIN)
POOL_MAX_DEFINE(u8, uint8_t, 0)

/* AveragePool sums and scales; LpPool sums |x|^p and takes the p-th root. */
#define POOL_SUM_DEFINE(SUF, T)                                                                 \
  static void pool_sum_init_##SUF(void *yv, int64_t n) {                                        \
    T *y = yv;                                                                                  \
    for (int64_t i = 0; i < n; i++) y[i] = 0;                                                   \
  }                                                                                             \
  static void pool_avg_tap_##SUF(const struct pool_plan *pl, void *yv, const void *xv) {       \
    T *y = yv;                                                                                  \
    const T *x = xv;                                                                            \
    int64_t s = pl->ax[2].stride;                                                               \
    for (int64_t t = 0; t < pl->ax[2].kernel; t++) {                                            \
      int64_t lo = pl->w_lo[t], hi = pl->w_hi[t], off = pl->w_off[t];                          \
      if (lo >= hi) continue;                                                                   \
      if (s == 1) {                                                                             \
        const T *src = x + lo + off;                                                            \
        T *dst = y + lo;                                                                        \
        for (int64_t i = 0; i < hi - lo; i++) dst[i] += src[i];                                 \
      } else {                                                                                  \
        for (int64_t o = lo; o < hi; o++) y[o] += x[o * s + off];                               \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  static void pool_avg_done_##SUF(const struct pool_plan *pl, void *yv, double scale) {         \
    T *y = yv;                                                                                  \
    for (int64_t o = 0; o < pl->ax[2].out; o++) y[o] *= (T)(scale * pl->w_scale[o]);           \
  }                                                                                             \
  static void pool_lp_tap_##SUF(const struct pool_plan *pl, void *yv, const void *xv) {        \
    T *y = yv;                                                                                  \
    const T *x = xv;                                                                            \
    int64_t s = pl->ax[2].stride;                                                               \
    for (int64_t t = 0; t < pl->ax[2].kernel; t++) {                                            \
      int64_t off = pl->w_off[t];                                                               \
      for (int64_t o = pl->w_lo[t]; o < pl->w_hi[t]; o++) {                                     \
        T v = x[o * s + off];                                                                   \
        y[o] += pl->p == 2 ? v * v : (T)pow(fabs((double)v), pl->p);                            \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  static void pool_lp_done_##SUF(const struct pool_plan *pl, void *yv, double scale) {          \
    (void)scale;                                                                                \
    T *y = yv;                                                                                  \
    for (int64_t o = 0; o < pl->ax[2].out; o++)                                                 \
      y[o] = pl->p == 2 ? (T)sqrt((double)y[o]) : (T)pow((double)y[o], 1.0 / pl->p);            \
  }                                                                                             \
  static const struct pool_row_ops pool_avg_ops_##SUF = {                                       \
      sizeof(T), pool_sum_init_##SUF, pool_avg_tap_##SUF, NULL, pool_avg_done_##SUF};           \
  static const struct pool_row_ops pool_lp_ops_##SUF = {                                        \
      sizeof(T), pool_sum_init_##SUF, pool_lp_tap_##SUF, NULL, pool_lp_done_##SUF};

POOL_SUM_DEFINE(f32, float)
POOL_SUM_DEFINE(f64, double)

/* Walks the output rows of every plane; ind (MaxPool Indices) may be NULL. */
static void pool_window_apply(const struct pool_plan *pl, const struct pool_row_ops *ops,
                              const void *xv, void *yv, int64_t *ind) {
  const struct pool_axis *ad = &pl->ax[0], *ah = &pl->ax[1], *aw = &pl->ax[2];
  const char *x = xv;
  char *y = yv;
  size_t es = ops->esize;
  /* Index step along W and per input row (d, h), row- or column-major within the plane. */
  int64_t wmul = pl->col_major ? ad->in * ah->in : 1;
  for (int64_t c = 0; c < pl->planes; c++) {
    const char *xp = x + (size_t)(c * pl->in_plane) * es;
    for (int64_t od = 0; od < ad->out; od++) {
      const struct pool_window *wd = &pl->wd[od];
      for (int64_t oh = 0; oh < ah->out; oh++) {
        const struct pool_window *wh = &pl->wh[oh];
        ops->init(y, aw->out);
        if (ind)
          for (int64_t o = 0; o < aw->out; o++) ind[o] = -1;
        for (int64_t kd = wd->lo; kd < wd->hi; kd++) {
          int64_t id = wd->start + kd * ad->dilation;
          for (int64_t kh = wh->lo; kh < wh->hi; kh++) {
            int64_t ih = wh->start + kh * ah->dilation;
            const char *xr = xp + (size_t)((id * ah->in + ih) * aw->in) * es;
            if (ind) {
              int64_t base = c * pl->in_plane +
                             (pl->col_major ? id + ad->in * ih : (id * ah->in + ih) * aw->in);
              ops->argtap(pl, y, ind, xr, base, wmul);
            } else {
              ops->tap(pl, y, xr);
            }
          }
        }
        if (ops->done) {
          int64_t count = wd->count * wh->count;
          ops->done(pl, y, count ? 1.0 / (double)count : 0.0);
        }
        y += (size_t)aw->out * es;
        if (ind) ind += aw->out;
      }
    }
  }
}

/* ---- float16/bfloat16 through float ---- */

static float *pool_half_load(const struct tqt_rt_tensor *t) {
  int64_t n = tqt_rt_numel(t);
  float *f = malloc((size_t)n * sizeof *f + 1);
  if (!f) return NULL;
  const uint16_t *h = t->data;
  for (int64_t i = 0; i < n; i++)
    f[i] = t->dtype == TQT_DTYPE_FLOAT16 ? tqt_f16_to_f32(h[i]) : tqt_bf16_to_f32(h[i]);
  return f;
}

static void pool_half_store(struct tqt_rt_tensor *t, const float *f) {
  int64_t n = tqt_rt_numel(t);
  uint16_t *h = t->data;
  for (int64_t i = 0; i < n; i++)
    h[i] = t->dtype == TQT_DTYPE_FLOAT16 ? tqt_f32_to_f16(f[i]) : tqt_f32_to_bf16(f[i]);
}

/* ---- MaxPool, AveragePool, LpPool ---- */

static const struct pool_row_ops *pool_ops_for(enum pool_kind kind, int32_t dtype) {
  bool f64 = dtype == TQT_DTYPE_DOUBLE;
  bool f32 = dtype == TQT_DTYPE_FLOAT || pool_is_half(dtype);
  switch (kind) {
  case POOL_KIND_MAX:
    return f32 ? &pool_max_ops_f32 : f64 ? &pool_max_ops_f64
           : dtype == TQT_DTYPE_INT8 ? &pool_max_ops_i8
           : dtype == TQT_DTYPE_UINT8 ? &pool_max_ops_u8 : NULL;
  case POOL_KIND_AVG: return f32 ? &pool_avg_ops_f32 : f64 ? &pool_avg_ops_f64 : NULL;
  case POOL_KIND_LP: return f32 ? &pool_lp_ops_f32 : f64 ? &pool_lp_ops_f64 : NULL;
  }
  return NULL;
}

static enum tqt_status pool_window_run(struct tqt_kernel_ctx *k) {
  const struct pool_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  const struct pool_row_ops *ops = pool_ops_for(p->kind, x->dtype);
  if (!ops) return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  struct pool_plan pl;
  int64_t dims[TQT_RANK_MAX];
  enum tqt_status st = pool_plan_shape(k, p, x, &pl, dims);
  if (st) return st;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, dims);
  if (!y) return k->d->status;
  struct tqt_rt_tensor *ind = NULL;
  if (p->kind == POOL_KIND_MAX && tqt_kernel_has_output(k, 1) &&
      !(ind = tqt_kernel_output(k, 1, TQT_DTYPE_INT64, x->rank, dims)))
    return k->d->status;
  if (tqt_rt_numel(y) == 0) return TQT_STATUS_OK;
  if ((st = pool_plan_tables(k, &pl, p->count_include_pad))) return st;
  float *xf = NULL, *yf = NULL;
  if (pool_is_half(x->dtype)) {
    xf = pool_half_load(x);
    yf = malloc((size_t)tqt_rt_numel(y) * sizeof *yf + 1);
    if (!xf || !yf) {
      st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
  }
  pool_window_apply(&pl, ops, xf ? xf : x->data, yf ? yf : y->data, ind ? ind->data : NULL);
  if (yf) pool_half_store(y, yf);
fail:
  free(xf);
  free(yf);
  free(pl.mem);
  return st;
}

/* ---- GlobalMaxPool, GlobalAveragePool, GlobalLpPool ---- */

static enum tqt_status pool_global_init(struct tqt_kernel_ctx *k, enum pool_kind kind) {
  struct pool_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->kind = kind;
  p->p = tqt_attr_float(k->node, "p", 2.0f); /* a float in GlobalLpPool-1, an int later */
  if (kind == POOL_KIND_LP && !(p->p > 0))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "p is %g, expected a positive value", p->p);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status pool_global_max_init(struct tqt_kernel_ctx *k) {
  return pool_global_init(k, POOL_KIND_MAX);
}
static enum tqt_status pool_global_avg_init(struct tqt_kernel_ctx *k) {
  return pool_global_init(k, POOL_KIND_AVG);
}
static enum tqt_status pool_global_lp_init(struct tqt_kernel_ctx *k) {
  return pool_global_init(k, POOL_KIND_LP);
}

/* One value per plane of n elements. The max and the sums run in POOL_LANES independent
 * partial results so that they pipeline (and vectorize) instead of waiting on one another. */
#define POOL_LANES 8
#define POOL_GLOBAL_DEFINE(SUF, T)                                                              \
  static void pool_global_##SUF(enum pool_kind kind, double p, const T *x, T *y,                \
                                int64_t planes, int64_t n) {                                    \
    for (int64_t c = 0; c < planes; c++, x += n) {                                              \
      int64_t i = 0;                                                                            \
      if (kind == POOL_KIND_MAX) {                                                              \
        T acc[POOL_LANES], m = -INFINITY;                                                       \
        for (int j = 0; j < POOL_LANES; j++) acc[j] = -INFINITY;                                \
        for (; i + POOL_LANES <= n; i += POOL_LANES)                                            \
          for (int j = 0; j < POOL_LANES; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];  \
        for (; i < n; i++) m = x[i] > m ? x[i] : m;                                             \
        for (int j = 0; j < POOL_LANES; j++) m = acc[j] > m ? acc[j] : m;                       \
        y[c] = m;                                                                               \
      } else if (kind == POOL_KIND_AVG) {                                                       \
        double acc[POOL_LANES] = {0}, s = 0;                                                    \
        for (; i + POOL_LANES <= n; i += POOL_LANES)                                            \
          for (int j = 0; j < POOL_LANES; j++) acc[j] += x[i + j];                              \
        for (; i < n; i++) s += x[i];                                                           \
        for (int j = 0; j < POOL_LANES; j++) s += acc[j];                                       \
        y[c] = (T)(n ? s / (double)n : 0.0);                                                    \
      } else if (p == 2) {                                                                      \
        double acc[POOL_LANES] = {0}, s = 0;                                                    \
        for (; i + POOL_LANES <= n; i += POOL_LANES)                                            \
          for (int j = 0; j < POOL_LANES; j++) acc[j] += (double)x[i + j] * x[i + j];           \
        for (; i < n; i++) s += (double)x[i] * x[i];                                            \
        for (int j = 0; j < POOL_LANES; j++) s += acc[j];                                       \
        y[c] = (T)sqrt(s);                                                                      \
      } else {                                                                                  \
        double s = 0;                                                                           \
        for (; i < n; i++) s += pow(fabs((double)x[i]), p);                                     \
        y[c] = (T)pow(s, 1.0 / p);                                                              \
      }                                                                                         \
    }                                                                                           \
  }

POOL_GLOBAL_DEFINE(f32, float)
POOL_GLOBAL_DEFINE(f64, double)

static enum tqt_status pool_global_run(struct tqt_kernel_ctx *k) {
  const struct pool_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  bool f64 = x->dtype == TQT_DTYPE_DOUBLE;
  if (!f64 && x->dtype != TQT_DTYPE_FLOAT && !pool_is_half(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (x->rank < 2) {
    char s[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s has no channel axis",
                           tqt_rt_shape_str(x, s, sizeof s));
  }
  int64_t dims[TQT_RANK_MAX], n = 1;
  for (size_t i = 0; i < x->rank; i++) {
    dims[i] = i < 2 ? x->dims[i] : 1;
    if (i >= 2) n *= x->dims[i];
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, dims);
  if (!y) return k->d->status;
  int64_t planes = x->dims[0] * x->dims[1];
  if (f64) {
    pool_global_f64(p->kind, p->p, x->data, y->data, planes, n);
  } else if (x->dtype == TQT_DTYPE_FLOAT) {
    pool_global_f32(p->kind, p->p, x->data, y->data, planes, n);
  } else {
    float *xf = pool_half_load(x), *yf = malloc((size_t)planes * sizeof *yf + 1);
    if (xf && yf) {
      pool_global_f32(p->kind, p->p, xf, yf, planes, n);
      pool_half_store(y, yf);
    }
    free(xf);
    free(yf);
    if (!xf || !yf) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  }
  return TQT_STATUS_OK;
}

/* ---- MaxUnpool ---- */

static enum tqt_status pool_unpool_init(struct tqt_kernel_ctx *k) {
  return pool_params_read(k, POOL_KIND_MAX);
}

/* Indices address the tensor of the inferred shape ((in - 1) * stride - pads + kernel); with an
 * output_shape input that tensor sits at the origin of the (larger) output, as in the reference
 * and the ONNX tests. */
static enum tqt_status pool_unpool_run(struct tqt_kernel_ctx *k) {
  const struct pool_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *ind = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!ind) return k->d->status;
  const struct tqt_rt_tensor *shape = tqt_kernel_input(k, 2);
  char s1[128], s2[128];
  size_t es = tqt_dtype_size(x->dtype);
  if (es == 0)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (ind->dtype != TQT_DTYPE_INT64)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "indices are %s, expected int64",
                           tqt_dtype_name(ind->dtype));
  bool same = x->rank == ind->rank;
  for (size_t i = 0; same && i < x->rank; i++) same = x->dims[i] == ind->dims[i];
  if (!same || x->rank != p->n_axes + 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s and indices %s must have one shape "
                           "with the %zu spatial axes of kernel_shape",
                           tqt_rt_shape_str(x, s1, sizeof s1),
                           tqt_rt_shape_str(ind, s2, sizeof s2), p->n_axes);
  struct tqt_rt_tensor inferred = {.dtype = x->dtype, .rank = x->rank};
  inferred.dims[0] = x->dims[0];
  inferred.dims[1] = x->dims[1];
  for (size_t i = 0; i < p->n_axes; i++) {
    inferred.dims[i + 2] = (x->dims[i + 2] - 1) * p->strides[i] - p->pads[i] -
                           p->pads[p->n_axes + i] + p->kernel[i];
    if (inferred.dims[i + 2] < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "pads leave axis %zu of input %s no room",
                             i + 2, tqt_rt_shape_str(x, s1, sizeof s1));
  }
  int64_t dims[TQT_RANK_MAX];
  memcpy(dims, inferred.dims, sizeof dims);
  if (shape) {
    size_t count;
    enum tqt_status st = tqt_kernel_read_ints(k, shape, dims, TQT_RANK_MAX, &count);
    if (st) return st;
    bool fits = count == x->rank;
    for (size_t i = 0; fits && i < count; i++) fits = dims[i] >= inferred.dims[i];
    if (!fits)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "output_shape does not hold the unpooled "
                             "shape %s", tqt_rt_shape_str(&inferred, s1, sizeof s1));
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, dims);
  if (!y) return k->d->status;
  memset(y->data, 0, y->nbytes);
  bool direct = memcmp(dims, inferred.dims, x->rank * sizeof *dims) == 0;
  int64_t n = tqt_rt_numel(x), limit = tqt_rt_numel(&inferred);
  const int64_t *iv = ind->data;
  const char *xv = x->data;
  char *yv = y->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t at = iv[i];
    if (at < 0 || at >= limit)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "index %lld is outside the unpooled shape %s",
                             (long long)at, tqt_rt_shape_str(&inferred, s1, sizeof s1));
    if (!direct) { /* coordinates in the inferred shape, placed in the output */
      int64_t rest = at, stride = 1;
      at = 0;
      for (size_t a = x->rank; a-- > 0;) {
        at += rest % inferred.dims[a] * stride;
        rest /= inferred.dims[a];
        stride *= dims[a];
      }
    }
    memcpy(yv + (size_t)at * es, xv + (size_t)i * es, es);
  }
  return TQT_STATUS_OK;
}

/* ---- inference (infer.h) ---- */

/* X's dims as the windowed pools and MaxUnpool see them: kernel_shape fixes the rank (the run
 * rejects any other), so it is known even when X's is not; dims stays all unknown then. */
static enum tqt_status pool_infer_input(struct tqt_infer_ctx *c, const struct pool_params *p,
                                        tqt_sdim *dims) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  for (size_t i = 0; i < p->n_axes + 2; i++) dims[i] = NULL;
  if (!tqt_sym_ranked(x)) return TQT_STATUS_OK;
  if (x->rank != p->n_axes + 2)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "input of rank %zu for %zu spatial axes",
                           x->rank, p->n_axes);
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  return TQT_STATUS_OK;
}

/* MaxPool, AveragePool, LpPool: Y [N, C, windows...]; MaxPool's Indices: int64, Y's shape. */
static enum tqt_status pool_window_infer(struct tqt_infer_ctx *c) {
  const struct pool_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  tqt_sdim dims[TQT_RANK_MAX];
  enum tqt_status st = pool_infer_input(c, p, dims);
  if (st || c->n_out < 1) return st;
  bool same = p->auto_pad == POOL_PAD_SAME_UPPER || p->auto_pad == POOL_PAD_SAME_LOWER;
  bool pads = p->auto_pad == POOL_PAD_NOTSET; /* VALID: none, and no ceil_mode */
  for (size_t i = 0; i < p->n_axes; i++)
    if (!tqt_infer_window(c->dims, dims[2 + i], tqt_sdim_const(c->dims, p->kernel[i]),
                          p->strides[i], p->dilations[i], pads ? p->pads[i] : 0,
                          pads ? p->pads[p->n_axes + i] : 0, same, p->ceil_mode && pads,
                          &dims[2 + i]))
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "the window exceeds spatial axis %zu", i);
  tqt_sym_tensor(&c->out[0], x ? x->dtype : TQT_DTYPE_UNDEFINED, p->n_axes + 2, dims);
  if (p->kind == POOL_KIND_MAX && c->n_out > 1)
    tqt_sym_tensor(&c->out[1], TQT_DTYPE_INT64, p->n_axes + 2, dims);
  return TQT_STATUS_OK;
}

/* Global pools: [N, C, 1, ...] of X's rank. */
static enum tqt_status pool_global_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!tqt_sym_ranked(x)) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  if (x->rank < 2)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "input of rank %zu has no channel axis",
                           x->rank);
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : tqt_sdim_const(c->dims, 1);
  tqt_sym_tensor(&c->out[0], dtype, x->rank, dims);
  return TQT_STATUS_OK;
}

/* MaxUnpool: output_shape's values when given, else (in - 1) * stride - pads + kernel. */
static enum tqt_status pool_unpool_infer(struct tqt_infer_ctx *c) {
  const struct pool_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *shape = tqt_infer_input(c, 2);
  size_t rank = p->n_axes + 2;
  tqt_sdim dims[TQT_RANK_MAX];
  enum tqt_status st = pool_infer_input(c, p, dims);
  if (st || c->n_out < 1) return st;
  int64_t n = shape ? tqt_sym_numel(shape) : -1, v;
  if (n >= 0 && (size_t)n != rank)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "output_shape has %lld values for rank %zu",
                           (long long)n, rank);
  for (size_t i = 0; i < rank; i++) {
    if (shape) {
      dims[i] = tqt_sym_elem(c->dims, shape, i);
    } else if (i >= 2) {
      size_t a = i - 2;
      int64_t fixed = p->kernel[a] - p->strides[a] - p->pads[a] - p->pads[p->n_axes + a];
      dims[i] = tqt_sdim_add(c->dims, tqt_sdim_mul(c->dims, dims[i],
                                                   tqt_sdim_const(c->dims, p->strides[a])),
                             tqt_sdim_const(c->dims, fixed));
      if (tqt_sdim_value(dims[i], &v) && v < 0)
        return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "pads leave axis %zu no room", i);
    }
  }
  tqt_sym_tensor(&c->out[0], x ? x->dtype : TQT_DTYPE_UNDEFINED, rank, dims);
  return TQT_STATUS_OK;
}

/* One entry per version of the op in ONNX 1.12; the code reads the attributes every version may
 * have (those a version lacks keep their defaults), so versions share the functions. */
static const struct tqt_kernel pool_kernels[] = {
    {"", "MaxPool", 1, pool_max_init, pool_window_run, pool_window_infer},
    /* 8: storage_order, Indices; 10: ceil_mode, dilations; 12: int8, uint8 */
    {"", "MaxPool", 8, pool_max_init, pool_window_run, pool_window_infer},
    {"", "MaxPool", 10, pool_max_init, pool_window_run, pool_window_infer},
    {"", "MaxPool", 11, pool_max_init, pool_window_run, pool_window_infer},
    {"", "MaxPool", 12, pool_max_init, pool_window_run, pool_window_infer},
    /* 7: count_include_pad; 10: ceil_mode */
    {"", "AveragePool", 1, pool_avg_init, pool_window_run, pool_window_infer},
    {"", "AveragePool", 7, pool_avg_init, pool_window_run, pool_window_infer},
    {"", "AveragePool", 10, pool_avg_init, pool_window_run, pool_window_infer},
    {"", "AveragePool", 11, pool_avg_init, pool_window_run, pool_window_infer},
    {"", "LpPool", 1, pool_lp_init, pool_window_run, pool_window_infer},
    {"", "LpPool", 2, pool_lp_init, pool_window_run, pool_window_infer}, /* p becomes an int */
    {"", "LpPool", 11, pool_lp_init, pool_window_run, pool_window_infer},
    {"", "GlobalMaxPool", 1, pool_global_max_init, pool_global_run, pool_global_infer},
    {"", "GlobalAveragePool", 1, pool_global_avg_init, pool_global_run, pool_global_infer},
    {"", "GlobalLpPool", 1, pool_global_lp_init, pool_global_run, pool_global_infer},
    {"", "GlobalLpPool", 2, pool_global_lp_init, pool_global_run, pool_global_infer},
    {"", "MaxUnpool", 9, pool_unpool_init, pool_unpool_run, pool_unpool_infer},
    {"", "MaxUnpool", 11, pool_unpool_init, pool_unpool_run, pool_unpool_infer},
};

const struct tqt_kernel_family tqt_family_pool = {"pool", pool_kernels,
                                                  sizeof pool_kernels / sizeof pool_kernels[0]};
