/* Kernels: convolutions. Conv, ConvTranspose, and the integer forms ConvInteger and QLinearConv.
 *
 * Conv lowers to matrix products: per image and group, Y_g (Cout_g x positions) = W_g (Cout_g x
 * Cin_g·k) times the im2col matrix (Cin_g·k x positions). The im2col matrix is built a tile of
 * output rows at a time into a scratch buffer kept in the node's params, so it stays small,
 * cache-resident and allocated once. A 1x1 convolution with unit strides and no padding uses the
 * input itself; depthwise 1-D/2-D convolutions run a direct kernel. Bias is written into Y before
 * the product, which then accumulates onto it (beta 1). ConvTranspose is the adjoint: W_g^T times
 * the input, scattered back (col2im).
 *
 * The integer forms subtract zero points into doubles and reuse the double path: products of two
 * 8-bit values are below 2^16, so double sums are the exact int32 sums ONNX defines. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

/* Spatial dims are padded to three (D, H, W): 1-D and 2-D convolutions run as 3-D ones with
 * leading unit dims, so one set of loops serves every rank. */
enum { CONV_ND = 3 };

/* One im2col/col2im tile: about this many bytes, so it stays in cache between its writing and
 * the product reading it, but at least CONV_TILE_MIN_COLS columns, below which the product runs
 * far under speed (deep kernels on small images). */
enum { CONV_TILE_BYTES = 1024 * 1024, CONV_TILE_MIN_COLS = 512 };

enum conv_pad { CONV_PAD_NOTSET, CONV_PAD_SAME_UPPER, CONV_PAD_SAME_LOWER, CONV_PAD_VALID };

struct conv_params {
  enum conv_pad auto_pad;
  int64_t group;
  const int64_t *kernel, *pads, *strides, *dilations, *out_pad, *out_shape;
  size_t n_kernel, n_pads, n_strides, n_dilations, n_out_pad, n_out_shape;
  void *scratch; /* the tile buffer, carved from the plan arena and grown at run time */
  size_t scratch_cap;
};

struct conv_geom {
  size_t nd; /* the real spatial rank, 1..3 */
  int64_t batch, c_in, c_out, group, cin_g, cout_g;
  /* Per padded spatial dim: sizes, kernel, stride, dilation, leading pad. */
  int64_t in[CONV_ND], out[CONV_ND], k[CONV_ND], s[CONV_ND], d[CONV_ND], pad[CONV_ND];
  int64_t in_size, out_size, k_size;
  bool clamp; /* a fused Relu/Clip: outputs clamped to [lo, hi] while still in cache */
  double lo, hi;
};

/* Clamps n values in place; written so that the compiler vectorizes it. */
#define CONV_CLAMP_DEFINE(T, S)                                                                    \
  static void conv_clamp_##S(T *restrict y, int64_t n, double lo_d, double hi_d) {                 \
    const T lo = (T)lo_d, hi = (T)hi_d;                                                            \
    for (int64_t i = 0; i < n; i++) {                                                              \
      T v = y[i] < lo ? lo : y[i];                                                                 \
      y[i] = v > hi ? hi : v;                                                                      \
    }                                                                                              \
  }
CONV_CLAMP_DEFINE(float, f32)
CONV_CLAMP_DEFINE(double, f64)

static enum tqt_status conv_init(struct tqt_kernel_ctx *k) {
  struct conv_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const struct tqt_node *n = k->node;
  /* the float convolutions clamp a fused Relu/Clip; the integer ones have no float output */
  k->accepts_clamp = !strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvTranspose");
  const char *ap = tqt_attr_string(n, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") == 0 || !*ap)
    p->auto_pad = CONV_PAD_NOTSET;
  else if (strcmp(ap, "SAME_UPPER") == 0)
    p->auto_pad = CONV_PAD_SAME_UPPER;
  else if (strcmp(ap, "SAME_LOWER") == 0)
    p->auto_pad = CONV_PAD_SAME_LOWER;
  else if (strcmp(ap, "VALID") == 0)
    p->auto_pad = CONV_PAD_VALID;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "unknown auto_pad '%s'", ap);
  p->group = tqt_attr_int(n, "group", 1);
  if (p->group < 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "group %lld", (long long)p->group);
  p->kernel = tqt_attr_ints(n, "kernel_shape", &p->n_kernel);
  p->pads = tqt_attr_ints(n, "pads", &p->n_pads);
  p->strides = tqt_attr_ints(n, "strides", &p->n_strides);
  p->dilations = tqt_attr_ints(n, "dilations", &p->n_dilations);
  p->out_pad = tqt_attr_ints(n, "output_padding", &p->n_out_pad);
  p->out_shape = tqt_attr_ints(n, "output_shape", &p->n_out_shape);
  for (size_t i = 0; i < p->n_strides; i++)
    if (p->strides[i] < 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "stride %lld", (long long)p->strides[i]);
  for (size_t i = 0; i < p->n_dilations; i++)
    if (p->dilations[i] < 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "dilation %lld", (long long)p->dilations[i]);
  k->params = p;
  return TQT_STATUS_OK;
}

/* ---- geometry ---- */

/* What Conv and ConvTranspose share: ranks, kernel (from W), strides, dilations. */
static enum tqt_status conv_geom_begin(struct tqt_kernel_ctx *k, const struct conv_params *p,
                                       const struct tqt_rt_tensor *x, const struct tqt_rt_tensor *w,
                                       struct conv_geom *g) {
  char sx[128], sw[128];
  if (x->rank < 3 || w->rank != x->rank)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X %s and W %s: ranks do not fit a convolution",
                           tqt_rt_shape_str(x, sx, sizeof sx), tqt_rt_shape_str(w, sw, sizeof sw));
  size_t nd = x->rank - 2;
  if (nd > CONV_ND)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "%zu spatial dims (at most %d)", nd, CONV_ND);
  if ((p->n_kernel && p->n_kernel != nd) || (p->n_strides && p->n_strides != nd) ||
      (p->n_dilations && p->n_dilations != nd) || (p->n_pads && p->n_pads != 2 * nd) ||
      (p->n_out_pad && p->n_out_pad != nd))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "attribute lengths do not fit %zu spatial dims of X %s", nd,
                           tqt_rt_shape_str(x, sx, sizeof sx));
  memset(g, 0, sizeof *g);
  g->nd = nd;
  for (size_t i = 0; i < CONV_ND; i++) g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
  size_t o = CONV_ND - nd;
  for (size_t i = 0; i < nd; i++) {
    g->in[o + i] = x->dims[2 + i];
    g->k[o + i] = w->dims[2 + i];
    if ((p->n_kernel && p->kernel[i] != w->dims[2 + i]) || w->dims[2 + i] < 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "kernel_shape does not match W %s",
                             tqt_rt_shape_str(w, sw, sizeof sw));
    g->s[o + i] = p->n_strides ? p->strides[i] : 1;
    g->d[o + i] = p->n_dilations ? p->dilations[i] : 1;
  }
  g->batch = x->dims[0];
  g->group = p->group;
  return TQT_STATUS_OK;
}

static void conv_geom_end(struct conv_geom *g) {
  g->in_size = g->out_size = g->k_size = 1;
  for (size_t i = 0; i < CONV_ND; i++) {
    g->in_size *= g->in[i];
    g->out_size *= g->out[i];
    g->k_size *= g->k[i];
  }
}

static enum tqt_status conv_geom_conv(struct tqt_kernel_ctx *k, const struct conv_params *p,
                                      const struct tqt_rt_tensor *x, const struct tqt_rt_tensor *w,
                                      struct conv_geom *g) {
  if (conv_geom_begin(k, p, x, w, g)) return k->d->status;
  char sx[128], sw[128];
  g->c_in = x->dims[1];
  g->c_out = w->dims[0];
  g->cin_g = w->dims[1];
  if (g->cin_g < 1 || g->c_in != g->cin_g * g->group || g->c_out % g->group)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X %s and W %s do not fit group %lld",
                           tqt_rt_shape_str(x, sx, sizeof sx), tqt_rt_shape_str(w, sw, sizeof sw),
                           (long long)g->group);
  g->cout_g = g->c_out / g->group;
  size_t o = CONV_ND - g->nd;
  for (size_t i = 0; i < g->nd; i++) {
    int64_t in = g->in[o + i], s = g->s[o + i], ek = (g->k[o + i] - 1) * g->d[o + i] + 1;
    int64_t head = 0, tail = 0;
    if (p->auto_pad == CONV_PAD_SAME_UPPER || p->auto_pad == CONV_PAD_SAME_LOWER) {
      int64_t out = (in + s - 1) / s, total = (out - 1) * s + ek - in;
      if (total < 0) total = 0;
      head = p->auto_pad == CONV_PAD_SAME_UPPER ? total / 2 : total - total / 2;
      tail = total - head;
    } else if (p->auto_pad == CONV_PAD_NOTSET && p->n_pads) {
      head = p->pads[i];
      tail = p->pads[g->nd + i];
    }
    if (head < 0 || tail < 0 || in + head + tail < ek)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "X %s with pads %lld,%lld is smaller than kernel W %s",
                             tqt_rt_shape_str(x, sx, sizeof sx), (long long)head, (long long)tail,
                             tqt_rt_shape_str(w, sw, sizeof sw));
    g->pad[o + i] = head;
    g->out[o + i] = (in + head + tail - ek) / s + 1;
  }
  conv_geom_end(g);
  return TQT_STATUS_OK;
}

/* floor(t / 2), also for negative t (output_shape may ask for less than the full output). */
static int64_t conv_half_floor(int64_t t) { return t >= 0 ? t / 2 : -((1 - t) / 2); }

static enum tqt_status conv_geom_transpose(struct tqt_kernel_ctx *k, const struct conv_params *p,
                                           const struct tqt_rt_tensor *x,
                                           const struct tqt_rt_tensor *w, struct conv_geom *g) {
  if (conv_geom_begin(k, p, x, w, g)) return k->d->status;
  char sx[128], sw[128];
  g->c_in = x->dims[1];
  g->cin_g = g->c_in / g->group;
  g->cout_g = w->dims[1];
  g->c_out = g->cout_g * g->group;
  if (w->dims[0] != g->c_in || g->c_in % g->group)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X %s and W %s do not fit group %lld",
                           tqt_rt_shape_str(x, sx, sizeof sx), tqt_rt_shape_str(w, sw, sizeof sw),
                           (long long)g->group);
  /* output_shape may list the spatial dims or the whole shape. */
  const int64_t *os = NULL;
  if (p->n_out_shape) {
    if (p->n_out_shape != g->nd && p->n_out_shape != g->nd + 2)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "output_shape has %zu values for %zu spatial dims", p->n_out_shape,
                             g->nd);
    os = p->out_shape + (p->n_out_shape - g->nd);
  }
  bool same = p->auto_pad == CONV_PAD_SAME_UPPER || p->auto_pad == CONV_PAD_SAME_LOWER;
  size_t o = CONV_ND - g->nd;
  for (size_t i = 0; i < g->nd; i++) {
    int64_t in = g->in[o + i], s = g->s[o + i], ek = (g->k[o + i] - 1) * g->d[o + i] + 1;
    int64_t full = s * (in - 1) + (p->n_out_pad ? p->out_pad[i] : 0) + ek, out, head;
    if (os || same) {
      /* Pads follow from the asked size; SAME_UPPER puts the odd one at the end. */
      out = os ? os[i] : in * s;
      int64_t total = full - out;
      head = p->auto_pad == CONV_PAD_SAME_UPPER ? conv_half_floor(total)
                                                : total - conv_half_floor(total);
    } else {
      int64_t tail = 0;
      head = 0;
      if (p->auto_pad == CONV_PAD_NOTSET && p->n_pads) {
        head = p->pads[i];
        tail = p->pads[g->nd + i];
      }
      out = full - head - tail;
    }
    if (out < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X %s and W %s give a negative output size",
                             tqt_rt_shape_str(x, sx, sizeof sx),
                             tqt_rt_shape_str(w, sw, sizeof sw));
    g->pad[o + i] = head;
    g->out[o + i] = out;
  }
  conv_geom_end(g);
  return TQT_STATUS_OK;
}

static size_t conv_geom_out_dims(const struct conv_geom *g, int64_t *dims) {
  dims[0] = g->batch;
  dims[1] = g->c_out;
  for (size_t i = 0; i < g->nd; i++) dims[2 + i] = g->out[CONV_ND - g->nd + i];
  return g->nd + 2;
}

/* The positions o in [0, n) with 0 <= o*stride + off < limit are [*lo, *hi). */
static void conv_span(int64_t n, int64_t limit, int64_t stride, int64_t off, int64_t *lo,
                      int64_t *hi) {
  int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
  int64_t h = limit - 1 - off < 0 ? 0 : (limit - 1 - off) / stride + 1;
  if (h > n) h = n;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

static bool conv_is_pointwise(const struct conv_geom *g) {
  for (size_t i = 0; i < CONV_ND; i++)
    if (g->k[i] != 1 || g->s[i] != 1 || g->pad[i] != 0 || g->out[i] != g->in[i]) return false;
  return true;
}

/* Depthwise (one input channel per output channel) in at most two spatial dims. */
static bool conv_is_depthwise(const struct conv_geom *g) {
  return g->nd <= 2 && g->group > 1 && g->group == g->c_in && g->group == g->c_out;
}

/* Rows (of the last spatial dim) per tile for a column matrix of `height` rows. */
static int64_t conv_tile_rows(int64_t height, int64_t row_len, int64_t rows, size_t esize) {
  if (row_len <= 0) return rows > 1 ? rows : 1; /* empty rows (a zero dim): one tile, no divide */
  int64_t per_row = height * row_len * (int64_t)esize;
  int64_t t = per_row > 0 ? CONV_TILE_BYTES / per_row : rows;
  if (t * row_len < CONV_TILE_MIN_COLS) t = (CONV_TILE_MIN_COLS + row_len - 1) / row_len;
  return t < rows ? t : rows;
}

/* The params' tile buffer with at least `bytes`; the old one stays in the arena. */
static void *conv_scratch(struct tqt_kernel_ctx *k, struct conv_params *p, size_t bytes) {
  if (p->scratch && bytes <= p->scratch_cap) return p->scratch;
  void *s = tqt_arena_calloc(k->arena, bytes ? bytes : 1, 1);
  if (!s) {
    tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory (%zu bytes of scratch)", bytes);
    return NULL;
  }
  p->scratch = s;
  p->scratch_cap = bytes;
  return s;
}

/* ---- the float and double kernels ---- */

#define CONV_DEFINE(T, S, BLAS_GEMM)                                                               \
  /* im2col of output rows [r0, r1) of one group: (Cin_g·k) x ((r1 - r0)·oW). */                 \
  static void conv_im2col_##S(const struct conv_geom *g, const T *x, int64_t r0, int64_t r1,       \
                              T *cols) {                                                           \
    const int64_t oH = g->out[1], oW = g->out[2], iD = g->in[0], iH = g->in[1], iW = g->in[2];     \
    const int64_t sw = g->s[2], n_cols = (r1 - r0) * oW;                                           \
    for (int64_t c = 0; c < g->cin_g; c++) {                                                       \
      const T *xc = x + c * g->in_size;                                                            \
      for (int64_t kd = 0; kd < g->k[0]; kd++)                                                     \
        for (int64_t kh = 0; kh < g->k[1]; kh++)                                                   \
          for (int64_t kw = 0; kw < g->k[2]; kw++) {                                               \
            T *dst = cols;                                                                         \
            cols += n_cols;                                                                        \
            int64_t off = kw * g->d[2] - g->pad[2], lo, hi;                                        \
            conv_span(oW, iW, sw, off, &lo, &hi);                                                  \
            int64_t od = r0 / oH, oh = r0 % oH;                                                    \
            for (int64_t r = r0; r < r1; r++, dst += oW) {                                         \
              int64_t id = od * g->s[0] - g->pad[0] + kd * g->d[0];                                \
              int64_t ih = oh * g->s[1] - g->pad[1] + kh * g->d[1];                                \
              if (++oh == oH) {                                                                    \
                oh = 0;                                                                            \
                od++;                                                                              \
              }                                                                                    \
              if (id < 0 || id >= iD || ih < 0 || ih >= iH) {                                      \
                memset(dst, 0, (size_t)oW * sizeof *dst);                                          \
                continue;                                                                          \
              }                                                                                    \
              const T *xr = xc + (id * iH + ih) * iW;                                              \
              for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0;                                     \
              if (sw == 1)                                                                         \
                memcpy(dst + lo, xr + lo + off, (size_t)(hi - lo) * sizeof *dst);                  \
              else if (sw == 2) /* a constant stride the compiler can vectorize */                 \
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = xr[2 * ow + off];                   \
              else                                                                                 \
                for (int64_t ow = lo; ow < hi; ow++) dst[ow] = xr[ow * sw + off];                  \
              for (int64_t ow = hi; ow < oW; ow++) dst[ow] = 0;                                    \
            }                                                                                      \
          }                                                                                        \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* One output row of a 3x3 depthwise kernel whose three input rows all lie inside: the nine      \
   * taps fused over [lo, hi) where every tap is inside, checked taps on the columns around. */    \
  static void conv_dw3x3_row_##S(const struct conv_geom *g, const T *x0, const T *x1, const T *x2, \
                                 const T *w, T bias, T *restrict yr) {                             \
    const int64_t iW = g->in[2], oW = g->out[2], sw = g->s[2], dw = g->d[2], pw = g->pad[2];       \
    int64_t lo, hi, lo2, hi2;                                                                      \
    conv_span(oW, iW, sw, -pw, &lo, &hi);                                                          \
    conv_span(oW, iW, sw, 2 * dw - pw, &lo2, &hi2);                                                \
    if (lo2 > lo) lo = lo2;                                                                        \
    if (hi2 < hi) hi = hi2;                                                                        \
    if (hi < lo) hi = lo;                                                                          \
    for (int64_t ow = 0; ow < oW; ow++) {                                                          \
      if (ow == lo) ow = hi; /* the interior follows */                                            \
      if (ow == oW) break;                                                                         \
      T acc = bias;                                                                                \
      for (int64_t kw = 0; kw < 3; kw++) {                                                         \
        int64_t iw = ow * sw - pw + kw * dw;                                                       \
        if (iw >= 0 && iw < iW) acc += w[kw] * x0[iw] + w[3 + kw] * x1[iw] + w[6 + kw] * x2[iw];   \
      }                                                                                            \
      yr[ow] = acc;                                                                                \
    }                                                                                              \
    const T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],           \
            w7 = w[7], w8 = w[8];                                                                  \
    if (sw == 1 && dw == 1) {                                                                      \
      for (int64_t ow = lo; ow < hi; ow++) {                                                       \
        int64_t i = ow - pw;                                                                       \
        yr[ow] = bias + w0 * x0[i] + w1 * x0[i + 1] + w2 * x0[i + 2] + w3 * x1[i] +                \
                 w4 * x1[i + 1] + w5 * x1[i + 2] + w6 * x2[i] + w7 * x2[i + 1] + w8 * x2[i + 2];   \
      }                                                                                            \
    } else {                                                                                       \
      for (int64_t ow = lo; ow < hi; ow++) {                                                       \
        int64_t i = ow * sw - pw;                                                                  \
        yr[ow] = bias + w0 * x0[i] + w1 * x0[i + dw] + w2 * x0[i + 2 * dw] + w3 * x1[i] +          \
                 w4 * x1[i + dw] + w5 * x1[i + 2 * dw] + w6 * x2[i] + w7 * x2[i + dw] +            \
                 w8 * x2[i + 2 * dw];                                                              \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* Direct depthwise convolution: per channel, row by row; 3x3 rows away from the top and         \
   * bottom edges fused, others one kernel tap at a time. */                                       \
  static void conv_depthwise_##S(const struct conv_geom *g, const T *x, const T *w, const T *b,    \
                                 T *y) {                                                           \
    const int64_t iH = g->in[1], iW = g->in[2], oH = g->out[1], oW = g->out[2];                    \
    const int64_t kH = g->k[1], kW = g->k[2], sw = g->s[2], dh = g->d[1];                          \
    for (int64_t nc = 0; nc < g->batch * g->c_in; nc++) {                                          \
      const T *xc = x + nc * g->in_size, *wc = w + (nc % g->c_in) * g->k_size;                     \
      T *yc = y + nc * g->out_size, bias = b ? b[nc % g->c_in] : 0;                                \
      for (int64_t oh = 0; oh < oH; oh++) {                                                        \
        T *restrict yr = yc + oh * oW;                                                             \
        int64_t ih0 = oh * g->s[1] - g->pad[1];                                                    \
        if (kH == 3 && kW == 3 && ih0 >= 0 && ih0 + 2 * dh < iH) {                                 \
          conv_dw3x3_row_##S(g, xc + ih0 * iW, xc + (ih0 + dh) * iW, xc + (ih0 + 2 * dh) * iW, wc, \
                             bias, yr);                                                            \
          continue;                                                                                \
        }                                                                                          \
        for (int64_t ow = 0; ow < oW; ow++) yr[ow] = bias;                                         \
        for (int64_t kh = 0; kh < kH; kh++) {                                                      \
          int64_t ih = ih0 + kh * dh;                                                              \
          if (ih < 0 || ih >= iH) continue;                                                        \
          const T *xr = xc + ih * iW;                                                              \
          for (int64_t kw = 0; kw < kW; kw++) {                                                    \
            const T wv = wc[kh * kW + kw];                                                         \
            int64_t off = kw * g->d[2] - g->pad[2], lo, hi;                                        \
            conv_span(oW, iW, sw, off, &lo, &hi);                                                  \
            if (sw == 1)                                                                           \
              for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xr[ow + off];                    \
            else                                                                                   \
              for (int64_t ow = lo; ow < hi; ow++) yr[ow] += wv * xr[ow * sw + off];               \
          }                                                                                        \
        }                                                                                          \
      }                                                                                            \
      if (g->clamp) conv_clamp_##S(yc, g->out_size, g->lo, g->hi);                                 \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  /* Y = conv(X, W) + B. cols holds tile_rows output rows of im2col (unused when pointwise). */    \
  static void conv_forward_##S(const struct conv_geom *g, const T *x, const T *w, const T *b,      \
                               T *y, T *cols, int64_t tile_rows) {                                 \
    const int64_t kdim = g->cin_g * g->k_size, oW = g->out[2], rows = g->out[0] * g->out[1];       \
    const bool pointwise = conv_is_pointwise(g);                                                   \
    const int64_t step = pointwise ? rows : tile_rows; /* pointwise: the input is the matrix */    \
    for (int64_t n = 0; n < g->batch; n++) {                                                       \
      for (int64_t grp = 0; grp < g->group; grp++) {                                               \
        const T *xg = x + (n * g->c_in + grp * g->cin_g) * g->in_size;                             \
        const T *wg = w + grp * g->cout_g * kdim, *bg = b ? b + grp * g->cout_g : NULL;            \
        T *yg = y + (n * g->c_out + grp * g->cout_g) * g->out_size;                                \
        for (int64_t r0 = 0; r0 < rows; r0 += step) {                                              \
          int64_t r1 = r0 + step > rows ? rows : r0 + step;                                        \
          int64_t n_cols = (r1 - r0) * oW;                                                         \
          T *yt = yg + r0 * oW;                                                                    \
          if (!pointwise) conv_im2col_##S(g, xg, r0, r1, cols);                                    \
          if (bg)                                                                                  \
            for (int64_t m = 0; m < g->cout_g; m++)                                                \
              for (int64_t j = 0; j < n_cols; j++) yt[m * g->out_size + j] = bg[m];                \
          BLAS_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)g->cout_g,                 \
                    (blasint)n_cols, (blasint)kdim, 1, wg, (blasint)kdim, pointwise ? xg : cols,   \
                    (blasint)(pointwise ? g->in_size : n_cols), bg ? 1 : 0, yt,                    \
                    (blasint)g->out_size);                                                         \
          for (int64_t m = 0; g->clamp && m < g->cout_g; m++)                                      \
            conv_clamp_##S(yt + m * g->out_size, n_cols, g->lo, g->hi);                            \
        }                                                                                          \
      }                                                                                            \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  static enum tqt_status conv_exec_##S(struct tqt_kernel_ctx *k, struct conv_params *p,            \
                                       const struct conv_geom *g, const T *x, const T *w,          \
                                       const T *b, T *y) {                                         \
    if (conv_is_depthwise(g)) {                                                                    \
      conv_depthwise_##S(g, x, w, b, y);                                                           \
      return TQT_STATUS_OK;                                                                        \
    }                                                                                              \
    const int64_t kdim = g->cin_g * g->k_size, rows = g->out[0] * g->out[1];                       \
    int64_t tile = conv_tile_rows(kdim, g->out[2], rows, sizeof(T));                               \
    T *cols = NULL;                                                                                \
    if (!conv_is_pointwise(g) &&                                                                   \
        !(cols = conv_scratch(k, p, (size_t)(kdim * tile * g->out[2]) * sizeof(T))))               \
      return k->d->status;                                                                         \
    conv_forward_##S(g, x, w, b, y, cols, tile);                                                   \
    return TQT_STATUS_OK;                                                                          \
  }                                                                                                \
                                                                                                   \
  /* Scatters the column tile of input rows [r0, r1) of one group into Y_g. */                     \
  static void conv_col2im_##S(const struct conv_geom *g, const T *cols, int64_t r0, int64_t r1,    \
                              T *y) {                                                              \
    const int64_t iH = g->in[1], iW = g->in[2], oD = g->out[0], oH = g->out[1], oW = g->out[2];    \
    const int64_t sw = g->s[2], n_cols = (r1 - r0) * iW;                                           \
    for (int64_t c = 0; c < g->cout_g; c++) {                                                      \
      T *yc = y + c * g->out_size;                                                                 \
      for (int64_t kd = 0; kd < g->k[0]; kd++)                                                     \
        for (int64_t kh = 0; kh < g->k[1]; kh++)                                                   \
          for (int64_t kw = 0; kw < g->k[2]; kw++) {                                               \
            const T *src = cols;                                                                   \
            cols += n_cols;                                                                        \
            int64_t off = kw * g->d[2] - g->pad[2], lo, hi;                                        \
            conv_span(iW, oW, sw, off, &lo, &hi);                                                  \
            int64_t id = r0 / iH, ih = r0 % iH;                                                    \
            for (int64_t r = r0; r < r1; r++, src += iW) {                                         \
              int64_t od = id * g->s[0] - g->pad[0] + kd * g->d[0];                                \
              int64_t oh = ih * g->s[1] - g->pad[1] + kh * g->d[1];                                \
              if (++ih == iH) {                                                                    \
                ih = 0;                                                                            \
                id++;                                                                              \
              }                                                                                    \
              if (od < 0 || od >= oD || oh < 0 || oh >= oH) continue;                              \
              T *yr = yc + (od * oH + oh) * oW;                                                    \
              for (int64_t iw = lo; iw < hi; iw++) yr[iw * sw + off] += src[iw];                   \
            }                                                                                      \
          }                                                                                        \
    }                                                                                              \
  }                                                                                                \
                                                                                                   \
  static enum tqt_status conv_transpose_exec_##S(struct tqt_kernel_ctx *k, struct conv_params *p,  \
                                                 const struct conv_geom *g, const T *x,            \
                                                 const T *w, const T *b, T *y) {                   \
    const int64_t mk = g->cout_g * g->k_size, iW = g->in[2], rows = g->in[0] * g->in[1];           \
    int64_t tile = conv_tile_rows(mk, iW, rows, sizeof(T));                                        \
    T *cols = conv_scratch(k, p, (size_t)(mk * tile * iW) * sizeof(T));                            \
    if (!cols) return k->d->status;                                                                \
    for (int64_t n = 0; n < g->batch; n++) {                                                       \
      T *yn = y + n * g->c_out * g->out_size;                                                      \
      for (int64_t c = 0; c < g->c_out; c++) {                                                     \
        T v = b ? b[c] : 0;                                                                        \
        for (int64_t i = 0; i < g->out_size; i++) yn[c * g->out_size + i] = v;                     \
      }                                                                                            \
      for (int64_t grp = 0; grp < g->group; grp++) {                                               \
        const T *xg = x + (n * g->c_in + grp * g->cin_g) * g->in_size;                             \
        const T *wg = w + grp * g->cin_g * mk;                                                     \
        T *yg = yn + grp * g->cout_g * g->out_size;                                                \
        for (int64_t r0 = 0; r0 < rows; r0 += tile) {                                              \
          int64_t r1 = r0 + tile > rows ? rows : r0 + tile, n_cols = (r1 - r0) * iW;               \
          BLAS_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)mk, (blasint)n_cols,         \
                    (blasint)g->cin_g, 1, wg, (blasint)mk, xg + r0 * iW, (blasint)g->in_size, 0,   \
                    cols, (blasint)n_cols);                                                        \
          conv_col2im_##S(g, cols, r0, r1, yg);                                                    \
        }                                                                                          \
      }                                                                                            \
      if (g->clamp) conv_clamp_##S(yn, g->c_out * g->out_size, g->lo, g->hi);                      \
    }                                                                                              \
    return TQT_STATUS_OK;                                                                          \
  }

CONV_DEFINE(float, f32, cblas_sgemm)
CONV_DEFINE(double, f64, cblas_dgemm)

/* ---- float16: through float32 ---- */

static float *conv_half_widen(const struct tqt_rt_tensor *t) {
  int64_t n = tqt_rt_numel(t);
  float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
  if (!f) return NULL;
  const uint16_t *h = t->data;
  for (int64_t i = 0; i < n; i++) f[i] = tqt_f16_to_f32(h[i]);
  return f;
}

typedef enum tqt_status (*conv_exec_f32_fn)(struct tqt_kernel_ctx *k, struct conv_params *p,
                                            const struct conv_geom *g, const float *x,
                                            const float *w, const float *b, float *y);

static enum tqt_status conv_exec_half(struct tqt_kernel_ctx *k, conv_exec_f32_fn exec,
                                      const struct conv_geom *g, const struct tqt_rt_tensor *x,
                                      const struct tqt_rt_tensor *w, const struct tqt_rt_tensor *b,
                                      struct tqt_rt_tensor *y) {
  enum tqt_status st = TQT_STATUS_OK;
  int64_t yn = tqt_rt_numel(y);
  float *fx = conv_half_widen(x), *fw = conv_half_widen(w), *fb = b ? conv_half_widen(b) : NULL;
  float *fy = malloc((size_t)yn * sizeof *fy);
  if (!fx || !fw || (b && !fb) || !fy) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if ((st = exec(k, k->params, g, fx, fw, fb, fy))) goto fail;
  uint16_t *h = y->data;
  for (int64_t i = 0; i < yn; i++) h[i] = tqt_f32_to_f16(fy[i]);
fail:
  free(fx);
  free(fw);
  free(fb);
  free(fy);
  return st;
}

/* ---- Conv, ConvTranspose ---- */

static enum tqt_status conv_run_common(struct tqt_kernel_ctx *k, bool transpose) {
  struct conv_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *w = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!w) return k->d->status;
  const struct tqt_rt_tensor *b = tqt_kernel_input(k, 2);
  if (!b && k->d->status) return k->d->status;
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "inputs mix types %s, %s and %s",
                           tqt_dtype_name(x->dtype), tqt_dtype_name(w->dtype),
                           b ? tqt_dtype_name(b->dtype) : "-");
  struct conv_geom g;
  if (transpose ? conv_geom_transpose(k, p, x, w, &g) : conv_geom_conv(k, p, x, w, &g))
    return k->d->status;
  if (b && (b->rank != 1 || b->dims[0] != g.c_out)) {
    char sb[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "B %s does not have %lld values",
                           tqt_rt_shape_str(b, sb, sizeof sb), (long long)g.c_out);
  }
  g.clamp = k->clamp;
  g.lo = k->clamp_min;
  g.hi = k->clamp_max;
  int64_t dims[TQT_RANK_MAX];
  size_t rank = conv_geom_out_dims(&g, dims);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, rank, dims);
  if (!y) return k->d->status;
  if (tqt_rt_numel(y) == 0) return TQT_STATUS_OK;
  const void *bd = b ? b->data : NULL;
  switch (x->dtype) {
    case TQT_DTYPE_FLOAT:
      return transpose ? conv_transpose_exec_f32(k, p, &g, x->data, w->data, bd, y->data)
                       : conv_exec_f32(k, p, &g, x->data, w->data, bd, y->data);
    case TQT_DTYPE_DOUBLE:
      return transpose ? conv_transpose_exec_f64(k, p, &g, x->data, w->data, bd, y->data)
                       : conv_exec_f64(k, p, &g, x->data, w->data, bd, y->data);
    case TQT_DTYPE_FLOAT16:
      return conv_exec_half(k, transpose ? conv_transpose_exec_f32 : conv_exec_f32, &g, x, w, b, y);
    default:
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  }
}

static enum tqt_status conv_run(struct tqt_kernel_ctx *k) { return conv_run_common(k, false); }

static enum tqt_status conv_transpose_run(struct tqt_kernel_ctx *k) {
  return conv_run_common(k, true);
}

/* ---- ConvInteger, QLinearConv ---- */

static bool conv_is_int8(int32_t dtype) {
  return dtype == TQT_DTYPE_UINT8 || dtype == TQT_DTYPE_INT8;
}

/* A quantization parameter: per tensor, or (per_channel) one value per output channel. Absent
 * gives dflt. vals receives n values (n = channels when per-channel, else 1). */
static enum tqt_status conv_qparam(struct tqt_kernel_ctx *k, const char *what,
                                   const struct tqt_rt_tensor *t, int64_t channels, double dflt,
                                   double *vals, int64_t *n) {
  *n = 1;
  if (!t) {
    vals[0] = dflt;
    return TQT_STATUS_OK;
  }
  int64_t count = tqt_rt_numel(t);
  if (count != 1 && !(channels > 0 && t->rank == 1 && count == channels)) {
    char s[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s %s is neither per-tensor%s", what,
                           tqt_rt_shape_str(t, s, sizeof s),
                           channels > 0 ? " nor per-output-channel" : "");
  }
  for (int64_t i = 0; i < count; i++) vals[i] = tqt_rt_get(t, i);
  *n = count;
  return TQT_STATUS_OK;
}

struct conv_q {
  struct conv_geom g;
  double *x, *w, *b, *acc; /* centered inputs, bias, exact sums */
  double *w_zp;            /* c_out values */
};

static void conv_q_free(struct conv_q *q) {
  free(q->x);
  free(q->w);
  free(q->b);
  free(q->acc);
  free(q->w_zp);
}

/* Shared by ConvInteger and QLinearConv: geometry, zero points, and the exact int32 sums
 * (bias included) as doubles in q->acc. */
static enum tqt_status conv_q_compute(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                      const struct tqt_rt_tensor *x_zp,
                                      const struct tqt_rt_tensor *w,
                                      const struct tqt_rt_tensor *w_zp,
                                      const struct tqt_rt_tensor *b, struct conv_q *q) {
  struct conv_params *p = k->params;
  if (!conv_is_int8(x->dtype) || !conv_is_int8(w->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "types %s and %s (uint8/int8 expected)",
                           tqt_dtype_name(x->dtype), tqt_dtype_name(w->dtype));
  if ((x_zp && x_zp->dtype != x->dtype) || (w_zp && w_zp->dtype != w->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "a zero point's type differs from its input's");
  if (conv_geom_conv(k, p, x, w, &q->g)) return k->d->status;
  const struct conv_geom *g = &q->g;
  if (b && (b->dtype != TQT_DTYPE_INT32 || b->rank != 1 || b->dims[0] != g->c_out))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "B must be %lld int32 values",
                           (long long)g->c_out);
  double xz = 0;
  int64_t n_xz, n_wz;
  q->w_zp = malloc((size_t)(g->c_out ? g->c_out : 1) * sizeof *q->w_zp);
  if (!q->w_zp) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (conv_qparam(k, "x_zero_point", x_zp, 0, 0, &xz, &n_xz) ||
      conv_qparam(k, "w_zero_point", w_zp, g->c_out, 0, q->w_zp, &n_wz))
    return k->d->status;
  int64_t xn = tqt_rt_numel(x), wn = tqt_rt_numel(w), yn = g->batch * g->c_out * g->out_size;
  q->x = malloc((size_t)(xn ? xn : 1) * sizeof *q->x);
  q->w = malloc((size_t)(wn ? wn : 1) * sizeof *q->w);
  q->b = b ? malloc((size_t)(g->c_out ? g->c_out : 1) * sizeof *q->b) : NULL;
  q->acc = malloc((size_t)(yn ? yn : 1) * sizeof *q->acc);
  if (!q->x || !q->w || (b && !q->b) || !q->acc)
    return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  for (int64_t i = 0; i < xn; i++)
    q->x[i] = (x->dtype == TQT_DTYPE_INT8 ? ((const int8_t *)x->data)[i]
                                          : ((const uint8_t *)x->data)[i]) -
              xz;
  int64_t per_m = g->cin_g * g->k_size;
  for (int64_t i = 0; i < wn; i++)
    q->w[i] = (w->dtype == TQT_DTYPE_INT8 ? ((const int8_t *)w->data)[i]
                                          : ((const uint8_t *)w->data)[i]) -
              q->w_zp[n_wz == 1 ? 0 : i / per_m];
  for (int64_t i = 0; b && i < g->c_out; i++) q->b[i] = ((const int32_t *)b->data)[i];
  if (yn == 0) return TQT_STATUS_OK;
  return conv_exec_f64(k, p, g, q->x, q->w, q->b, q->acc);
}

static enum tqt_status conv_integer_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *w = x ? tqt_kernel_input_required(k, 1) : NULL;
  if (!w) return k->d->status;
  const struct tqt_rt_tensor *x_zp = tqt_kernel_input(k, 2), *w_zp = tqt_kernel_input(k, 3);
  if (k->d->status) return k->d->status;
  struct conv_q q = {0};
  enum tqt_status st = conv_q_compute(k, x, x_zp, w, w_zp, NULL, &q);
  if (st) goto fail;
  int64_t dims[TQT_RANK_MAX];
  size_t rank = conv_geom_out_dims(&q.g, dims);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT32, rank, dims);
  if (!y) {
    st = k->d->status;
    goto fail;
  }
  int64_t yn = tqt_rt_numel(y);
  int32_t *yd = y->data;
  for (int64_t i = 0; i < yn; i++) yd[i] = (int32_t)(uint32_t)(int64_t)q.acc[i]; /* wraps */
fail:
  conv_q_free(&q);
  return st;
}

static enum tqt_status conv_qlinear_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *in[8];
  for (size_t i = 0; i < 8; i++)
    if (!(in[i] = tqt_kernel_input_required(k, i))) return k->d->status;
  const struct tqt_rt_tensor *b = tqt_kernel_input(k, 8);
  if (!b && k->d->status) return k->d->status;
  const struct tqt_rt_tensor *y_zp = in[7];
  if (in[1]->dtype != TQT_DTYPE_FLOAT || in[4]->dtype != TQT_DTYPE_FLOAT ||
      in[6]->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scales must be float");
  if (!conv_is_int8(y_zp->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output type %s",
                           tqt_dtype_name(y_zp->dtype));
  struct conv_q q = {0};
  double *w_scale = NULL;
  enum tqt_status st = conv_q_compute(k, in[0], in[2], in[3], in[5], b, &q);
  if (st) goto fail;
  const struct conv_geom *g = &q.g;
  double xs = 1, ys = 1, yz = 0;
  int64_t n1, n_ws;
  if (!(w_scale = malloc((size_t)(g->c_out ? g->c_out : 1) * sizeof *w_scale))) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if ((st = conv_qparam(k, "x_scale", in[1], 0, 1, &xs, &n1)) ||
      (st = conv_qparam(k, "w_scale", in[4], g->c_out, 1, w_scale, &n_ws)) ||
      (st = conv_qparam(k, "y_scale", in[6], 0, 1, &ys, &n1)) ||
      (st = conv_qparam(k, "y_zero_point", y_zp, 0, 0, &yz, &n1)))
    goto fail;
  int64_t dims[TQT_RANK_MAX];
  size_t rank = conv_geom_out_dims(g, dims);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, y_zp->dtype, rank, dims);
  if (!y) {
    st = k->d->status;
    goto fail;
  }
  /* As the spec's reference: the multiplier in float, the int32 sum times it in double, rounded
   * half to even, then the zero point and saturation. */
  double lo = y_zp->dtype == TQT_DTYPE_INT8 ? -128 : 0,
         hi = y_zp->dtype == TQT_DTYPE_INT8 ? 127 : 255;
  for (int64_t nc = 0; nc < g->batch * g->c_out; nc++) {
    int64_t m = nc % g->c_out;
    float mult = (float)xs * (float)w_scale[n_ws == 1 ? 0 : m] / (float)ys;
    const double *acc = q.acc + nc * g->out_size;
    for (int64_t i = 0; i < g->out_size; i++) {
      double v = nearbyint(acc[i] * (double)mult) + yz;
      if (isnan(v)) v = yz; /* 0 · inf (a zero scale): the zero point, as QuantizeLinear */
      v = v < lo ? lo : v > hi ? hi : v;
      if (y->dtype == TQT_DTYPE_INT8)
        ((int8_t *)y->data)[nc * g->out_size + i] = (int8_t)v;
      else
        ((uint8_t *)y->data)[nc * g->out_size + i] = (uint8_t)v;
    }
  }
fail:
  free(w_scale);
  conv_q_free(&q);
  return st;
}

/* ---- inference (infer.h) ---- */

/* The input span of a kernel of k taps at dilation d: (k - 1) * d + 1. */
static tqt_sdim conv_infer_extent(struct tqt_dimtab *t, tqt_sdim k, int64_t d) {
  tqt_sdim one = tqt_sdim_const(t, 1);
  return tqt_sdim_add(t, tqt_sdim_mul(t, tqt_sdim_const(t, d), tqt_sdim_sub(t, k, one)), one);
}

/* The number of windows of a sliding-window op (Conv and the pools, pool.c) along one axis of
 * length in, as their kernels count them: SAME pads to ceil(in / s); otherwise the padded axis
 * holds floor(span / s) + 1 windows (ceil with ceil_mode, less a last one that would start in the
 * end padding). *out is NULL when that is not an exact expression; false when the window
 * provably does not fit (the run fails). */
bool tqt_infer_window(struct tqt_dimtab *t, tqt_sdim in, tqt_sdim k, int64_t s, int64_t d,
                      int64_t pb, int64_t pe, bool same, bool ceil_mode, tqt_sdim *out) {
  tqt_sdim sd = tqt_sdim_const(t, s), one = tqt_sdim_const(t, 1);
  if (same) {
    *out = tqt_sdim_div_ceil(t, in, sd);
    return true;
  }
  tqt_sdim ek = conv_infer_extent(t, k, d);
  tqt_sdim span = tqt_sdim_sub(t, tqt_sdim_add(t, in, tqt_sdim_const(t, pb + pe)), ek);
  int64_t v, n, iv, ekv;
  if (tqt_sdim_value(span, &v) && v < 0) return false;
  if (!ceil_mode) {
    *out = tqt_sdim_add(t, tqt_sdim_div_floor(t, span, sd), one);
    return true;
  }
  *out = tqt_sdim_add(t, tqt_sdim_div_ceil(t, span, sd), one);
  if (tqt_sdim_value(*out, &n) && tqt_sdim_value(in, &iv)) {
    if ((n - 1) * s >= iv + pb) *out = tqt_sdim_const(t, n - 1);
  } else if (!tqt_sdim_value(ek, &ekv) || pe + s > ekv) {
    /* (n - 1) * s < span + s = in + pb + pe - ek + s: no window starts in the end padding when
     * pe + s <= ek; otherwise it depends on the dims. */
    *out = NULL;
  }
  return true;
}

/* ConvTranspose's output length along spatial axis i of nd: output_shape, SAME's in * s, or
 * s * (in - 1) + output_padding + extent - pads. False when provably negative. */
static bool conv_transpose_infer_dim(struct tqt_infer_ctx *c, const struct conv_params *p,
                                     size_t nd, size_t i, tqt_sdim in, tqt_sdim k, tqt_sdim *out) {
  struct tqt_dimtab *t = c->dims;
  int64_t s = p->n_strides ? p->strides[i] : 1, d = p->n_dilations ? p->dilations[i] : 1, v;
  if (p->n_out_shape) {
    *out = tqt_sdim_const(t, p->out_shape[p->n_out_shape - nd + i]);
  } else if (p->auto_pad == CONV_PAD_SAME_UPPER || p->auto_pad == CONV_PAD_SAME_LOWER) {
    *out = tqt_sdim_mul(t, in, tqt_sdim_const(t, s));
  } else {
    bool pads = p->auto_pad == CONV_PAD_NOTSET && p->n_pads;
    int64_t fixed = (p->n_out_pad ? p->out_pad[i] : 0) - s -
                    (pads ? p->pads[i] + p->pads[nd + i] : 0);
    *out = tqt_sdim_add(t, tqt_sdim_mul(t, in, tqt_sdim_const(t, s)),
                        tqt_sdim_add(t, conv_infer_extent(t, k, d), tqt_sdim_const(t, fixed)));
  }
  return !tqt_sdim_value(*out, &v) || v >= 0;
}

/* Y = [N, C_out, spatial...] from X (input xi) and W (input wi), which have one rank: either
 * gives Y's. Kernel sizes come from kernel_shape, else from W. */
static enum tqt_status conv_infer_common(struct tqt_infer_ctx *c, size_t xi, size_t wi,
                                         bool transpose, int32_t dtype) {
  const struct conv_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, xi), *w = tqt_infer_input(c, wi);
  bool xr = tqt_sym_ranked(x), wr = tqt_sym_ranked(w);
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (!xr && !wr) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  size_t rank = xr ? x->rank : w->rank, nd = rank - 2;
  if (rank < 3 || (xr && wr && x->rank != w->rank))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "X and W ranks do not fit a convolution");
  if ((p->n_kernel && p->n_kernel != nd) || (p->n_strides && p->n_strides != nd) ||
      (p->n_dilations && p->n_dilations != nd) || (p->n_pads && p->n_pads != 2 * nd) ||
      (p->n_out_pad && p->n_out_pad != nd) ||
      (transpose && p->n_out_shape && p->n_out_shape != nd && p->n_out_shape != nd + 2))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID,
                           "attribute lengths do not fit %zu spatial dims", nd);
  tqt_sdim dims[TQT_RANK_MAX];
  dims[0] = xr ? x->dims[0] : NULL;
  dims[1] = !wr        ? NULL
            : transpose ? tqt_sdim_mul(c->dims, w->dims[1], tqt_sdim_const(c->dims, p->group))
                        : w->dims[0];
  bool same = p->auto_pad == CONV_PAD_SAME_UPPER || p->auto_pad == CONV_PAD_SAME_LOWER;
  bool pads = p->auto_pad == CONV_PAD_NOTSET && p->n_pads;
  for (size_t i = 0; i < nd; i++) {
    tqt_sdim in = xr ? x->dims[2 + i] : NULL;
    tqt_sdim k = p->n_kernel ? tqt_sdim_const(c->dims, p->kernel[i]) : wr ? w->dims[2 + i] : NULL;
    bool fits = transpose ? conv_transpose_infer_dim(c, p, nd, i, in, k, &dims[2 + i])
                          : tqt_infer_window(c->dims, in, k, p->n_strides ? p->strides[i] : 1,
                                             p->n_dilations ? p->dilations[i] : 1,
                                             pads ? p->pads[i] : 0, pads ? p->pads[nd + i] : 0,
                                             same, false, &dims[2 + i]);
    if (!fits)
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID,
                             "spatial axis %zu leaves no room for the kernel", i);
  }
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  return TQT_STATUS_OK;
}

/* The float convolutions' type is X's (W's when X's is unknown: they are one type). */
static int32_t conv_infer_float_type(const struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0), *w = tqt_infer_input(c, 1);
  return x && x->dtype ? x->dtype : w ? w->dtype : TQT_DTYPE_UNDEFINED;
}

static enum tqt_status conv_infer(struct tqt_infer_ctx *c) {
  return conv_infer_common(c, 0, 1, false, conv_infer_float_type(c));
}

static enum tqt_status conv_transpose_infer(struct tqt_infer_ctx *c) {
  return conv_infer_common(c, 0, 1, true, conv_infer_float_type(c));
}

static enum tqt_status conv_integer_infer(struct tqt_infer_ctx *c) {
  return conv_infer_common(c, 0, 1, false, TQT_DTYPE_INT32);
}

/* QLinearConv: X is input 0, W input 3; Y has y_zero_point's type (input 7). */
static enum tqt_status conv_qlinear_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *y_zp = tqt_infer_input(c, 7);
  return conv_infer_common(c, 0, 3, false, y_zp ? y_zp->dtype : TQT_DTYPE_UNDEFINED);
}

static const struct tqt_kernel conv_kernels[] = {
    {"", "Conv", 1, conv_init, conv_run, conv_infer},
    {"", "ConvTranspose", 1, conv_init, conv_transpose_run, conv_transpose_infer},
    {"", "ConvInteger", 10, conv_init, conv_integer_run, conv_integer_infer},
    {"", "QLinearConv", 10, conv_init, conv_qlinear_run, conv_qlinear_infer},
};

const struct tqt_kernel_family tqt_family_conv = {"conv", conv_kernels,
                                                  sizeof conv_kernels / sizeof conv_kernels[0]};
