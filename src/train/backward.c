/* Backward passes of the quantizable op set, for threshold retraining (train.h). Every function
 * accumulates into the input gradients, so that a value read by several nodes sums its
 * gradients. The forward values come from the interpreter: nothing here evaluates an op forward,
 * except what a gradient needs (the argmax of a MaxPool window, the window counts of an
 * AveragePool). */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "train.h"

static int64_t bw_numel(const struct tqt_rt_tensor *t) { return tqt_rt_numel(t); }

static bool bw_is_float(const struct tqt_rt_tensor *t) {
  return t && t->dtype == TQT_DTYPE_FLOAT;
}

static int bw_fail(const struct tqt_node *n, struct tqt_diag *d, const char *what) {
  tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "retrain: node '%s' (%s): %s", n->name, n->op_type, what);
  return -1;
}

double tqt_train_fake_quant_grad(const float *x, const float *gy, float *gx, size_t count,
                                 double s, double lo, double hi) {
  double g = 0, inv = 1.0 / s;
  for (size_t i = 0; i < count; i++) {
    if (gy[i] == 0.0f) continue;
    double v = (double)x[i] * inv, r = nearbyint(v);
    if (r < lo) g += (double)gy[i] * lo;
    else if (r > hi) g += (double)gy[i] * hi;
    else {
      g += (double)gy[i] * (r - v);
      if (gx) gx[i] += gy[i];
    }
  }
  return g * s * M_LN2;
}

double tqt_train_sqnr(const float *a, const float *b, size_t count) {
  double sig = 0, noise = 0;
  for (size_t i = 0; i < count; i++) {
    sig += (double)a[i] * a[i];
    noise += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  }
  if (noise == 0) return INFINITY;
  return 10 * log10(sig / noise);
}

/* ---- elementwise ---- */

static void bw_relu(const struct tqt_rt_tensor *y, const float *gy, float *gx) {
  const float *yv = y->data;
  for (int64_t i = 0, n = bw_numel(y); i < n; i++)
    if (yv[i] > 0) gx[i] += gy[i];
}

static float bw_scalar(const struct tqt_rt_tensor *t, float dflt) {
  return t && bw_numel(t) == 1 ? (float)tqt_rt_get(t, 0) : dflt;
}

static void bw_clip(const struct tqt_node *n, const struct tqt_rt_tensor *const *x, size_t nx,
                    const float *gy, float *gx) {
  float lo = nx > 1 && x[1] ? bw_scalar(x[1], -INFINITY) : tqt_attr_float(n, "min", -INFINITY);
  float hi = nx > 2 && x[2] ? bw_scalar(x[2], INFINITY) : tqt_attr_float(n, "max", INFINITY);
  const float *xv = x[0]->data;
  for (int64_t i = 0, c = bw_numel(x[0]); i < c; i++)
    if (xv[i] >= lo && xv[i] <= hi) gx[i] += gy[i];
}

static void bw_sigmoid(const struct tqt_rt_tensor *y, const float *gy, float *gx) {
  const float *yv = y->data;
  for (int64_t i = 0, n = bw_numel(y); i < n; i++) gx[i] += gy[i] * yv[i] * (1 - yv[i]);
}

static void bw_hard_sigmoid(const struct tqt_node *n, const struct tqt_rt_tensor *x, const float *gy,
                            float *gx) {
  float alpha = tqt_attr_float(n, "alpha", 0.2f), beta = tqt_attr_float(n, "beta", 0.5f);
  const float *xv = x->data;
  for (int64_t i = 0, c = bw_numel(x); i < c; i++) {
    float v = alpha * xv[i] + beta;
    if (v > 0 && v < 1) gx[i] += gy[i] * alpha;
  }
}

/* outer × axis × inner blocks of t around axis a. */
static void bw_split_axis(const struct tqt_rt_tensor *t, size_t a, int64_t *outer, int64_t *len,
                          int64_t *inner) {
  *outer = *inner = 1;
  for (size_t i = 0; i < a; i++) *outer *= t->dims[i];
  for (size_t i = a + 1; i < t->rank; i++) *inner *= t->dims[i];
  *len = t->dims[a];
}

static int bw_axis(int64_t axis, size_t rank, size_t *out) {
  int64_t r = (int64_t)rank;
  if (axis < -r || axis >= r) return -1;
  *out = (size_t)(axis < 0 ? axis + r : axis);
  return 0;
}

static int bw_softmax(const struct tqt_node *n, const struct tqt_rt_tensor *y, const float *gy,
                      float *gx, struct tqt_diag *d) {
  size_t a;
  if (bw_axis(tqt_attr_int(n, "axis", -1), y->rank, &a)) return bw_fail(n, d, "bad axis");
  int64_t outer, len, inner;
  bw_split_axis(y, a, &outer, &len, &inner);
  const float *yv = y->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      const int64_t base = o * len * inner + i;
      double dot = 0;
      for (int64_t k = 0; k < len; k++) dot += (double)gy[base + k * inner] * yv[base + k * inner];
      for (int64_t k = 0; k < len; k++) {
        int64_t j = base + k * inner;
        gx[j] += (float)(yv[j] * (gy[j] - dot));
      }
    }
  return 0;
}

static void bw_leaky_relu(const struct tqt_node *n, const struct tqt_rt_tensor *x, const float *gy,
                          float *gx) {
  float alpha = tqt_attr_float(n, "alpha", 0.01f);
  const float *xv = x->data;
  for (int64_t i = 0, c = bw_numel(x); i < c; i++) gx[i] += xv[i] < 0 ? alpha * gy[i] : gy[i];
}

static void bw_tanh(const struct tqt_rt_tensor *y, const float *gy, float *gx) {
  const float *yv = y->data;
  for (int64_t i = 0, n = bw_numel(y); i < n; i++) gx[i] += gy[i] * (1 - yv[i] * yv[i]);
}

/* Add, Sub, Mul, Div, PRelu: broadcast inputs (PRelu's slope one way), gradients reduced over
 * the broadcast axes. */
static void bw_binary(const char *op, const struct tqt_rt_tensor *const *x,
                      const struct tqt_rt_tensor *y, const float *gy, float *const *gx) {
  int64_t sa[TQT_RANK_MAX], sb[TQT_RANK_MAX], idx[TQT_RANK_MAX] = {0};
  tqt_broadcast_strides(x[0], y->rank, y->dims, sa);
  tqt_broadcast_strides(x[1], y->rank, y->dims, sb);
  const float *av = x[0]->data, *bv = x[1]->data;
  enum { ADD, SUB, MUL, DIV, PRELU } kind = !strcmp(op, "Sub")   ? SUB
                                           : !strcmp(op, "Mul")   ? MUL
                                           : !strcmp(op, "Div")   ? DIV
                                           : !strcmp(op, "PRelu") ? PRELU
                                                                  : ADD;
  int64_t ia = 0, ib = 0;
  for (int64_t i = 0, n = bw_numel(y); i < n; i++) {
    float g = gy[i], a = av[ia], b = bv[ib], ga = g, gb = g;
    switch (kind) {
    case ADD: break;
    case SUB: gb = -g; break;
    case MUL: ga = g * b, gb = g * a; break;
    case DIV: ga = g / b, gb = -g * a / (b * b); break;
    case PRELU: ga = a < 0 ? g * b : g, gb = a < 0 ? g * a : 0; break;
    }
    if (gx[0]) gx[0][ia] += ga;
    if (gx[1]) gx[1][ib] += gb;
    for (size_t k = y->rank; k-- > 0;) { /* next index, offsets updated incrementally */
      ia += sa[k];
      ib += sb[k];
      if (++idx[k] < y->dims[k]) break;
      ia -= sa[k] * y->dims[k];
      ib -= sb[k] * y->dims[k];
      idx[k] = 0;
    }
  }
}

static void bw_copy(const float *gy, float *gx, int64_t n) {
  for (int64_t i = 0; i < n; i++) gx[i] += gy[i];
}

static int bw_transpose(const struct tqt_node *n, const struct tqt_rt_tensor *x, const float *gy,
                        float *gx, struct tqt_diag *d) {
  size_t np, r = x->rank;
  const int64_t *perm = tqt_attr_ints(n, "perm", &np);
  int64_t p[TQT_RANK_MAX], xs[TQT_RANK_MAX], ys[TQT_RANK_MAX], ydims[TQT_RANK_MAX],
      idx[TQT_RANK_MAX] = {0};
  if (perm && np != r) return bw_fail(n, d, "perm does not match the rank");
  for (size_t i = 0; i < r; i++) p[i] = perm ? perm[i] : (int64_t)(r - 1 - i);
  int64_t s = 1;
  for (size_t i = r; i-- > 0;) {
    xs[i] = s;
    s *= x->dims[i];
  }
  for (size_t i = 0; i < r; i++) {
    ydims[i] = x->dims[p[i]];
    ys[i] = xs[p[i]];
  }
  int64_t off = 0;
  for (int64_t i = 0, c = bw_numel(x); i < c; i++) {
    gx[off] += gy[i];
    for (size_t k = r; k-- > 0;) {
      off += ys[k];
      if (++idx[k] < ydims[k]) break;
      off -= ys[k] * ydims[k];
      idx[k] = 0;
    }
  }
  return 0;
}

static int bw_concat(const struct tqt_node *n, const struct tqt_rt_tensor *const *x, size_t nx,
                     const struct tqt_rt_tensor *y, const float *gy, float *const *gx,
                     struct tqt_diag *d) {
  size_t a;
  if (bw_axis(tqt_attr_int(n, "axis", 0), y->rank, &a)) return bw_fail(n, d, "bad axis");
  int64_t outer, len, inner, at = 0;
  bw_split_axis(y, a, &outer, &len, &inner);
  for (size_t k = 0; k < nx; k++) {
    if (!x[k]) continue;
    int64_t lk = x[k]->rank > a ? x[k]->dims[a] : 0;
    if (gx[k])
      for (int64_t o = 0; o < outer; o++)
        bw_copy(gy + (o * len + at) * inner, gx[k] + o * lk * inner, lk * inner);
    at += lk;
  }
  return 0;
}

/* ---- windows: Conv and pools (2-D and 1-D as H = 1) ---- */

struct bw_window {
  int64_t n, c, ih, iw, oh, ow; /* batch, channels, input and output spatial dims */
  int64_t kh, kw, sh, sw, dh, dw, ph, pw; /* kernel, strides, dilations, leading pads */
  int64_t ph_end, pw_end;
};

static int bw_window(const struct tqt_node *n, const struct tqt_rt_tensor *x,
                     const struct tqt_rt_tensor *y, const int64_t *kernel, struct bw_window *w,
                     struct tqt_diag *d) {
  if (x->rank != 4 && x->rank != 3) return bw_fail(n, d, "only 1-D and 2-D windows");
  bool two = x->rank == 4;
  size_t cnt;
  const int64_t *s = tqt_attr_ints(n, "strides", &cnt), *dl, *pads;
  w->n = x->dims[0];
  w->c = x->dims[1];
  w->ih = two ? x->dims[2] : 1;
  w->iw = x->dims[x->rank - 1];
  w->oh = two ? y->dims[2] : 1;
  w->ow = y->dims[y->rank - 1];
  w->kh = two ? kernel[0] : 1;
  w->kw = kernel[two ? 1 : 0];
  w->sh = two && s && cnt == 2 ? s[0] : 1;
  w->sw = s && cnt >= 1 ? s[cnt - 1] : 1;
  dl = tqt_attr_ints(n, "dilations", &cnt);
  w->dh = two && dl && cnt == 2 ? dl[0] : 1;
  w->dw = dl && cnt >= 1 ? dl[cnt - 1] : 1;
  const char *ap = tqt_attr_string(n, "auto_pad", "NOTSET");
  w->ph = w->pw = w->ph_end = w->pw_end = 0;
  if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
    int64_t th = (w->oh - 1) * w->sh + (w->kh - 1) * w->dh + 1 - w->ih;
    int64_t tw = (w->ow - 1) * w->sw + (w->kw - 1) * w->dw + 1 - w->iw;
    th = th < 0 ? 0 : th;
    tw = tw < 0 ? 0 : tw;
    bool upper = !strcmp(ap, "SAME_UPPER");
    w->ph = upper ? th / 2 : th - th / 2;
    w->pw = upper ? tw / 2 : tw - tw / 2;
    w->ph_end = th - w->ph;
    w->pw_end = tw - w->pw;
  } else if ((pads = tqt_attr_ints(n, "pads", &cnt)) && cnt == (two ? 4 : 2)) {
    w->ph = two ? pads[0] : 0;
    w->pw = pads[two ? 1 : 0];
    w->ph_end = two ? pads[2] : 0;
    w->pw_end = pads[two ? 3 : 1];
  }
  return 0;
}

static int bw_conv(const struct tqt_node *n, const struct tqt_rt_tensor *const *x, size_t nx,
                   const struct tqt_rt_tensor *y, const float *gy, float *const *gx,
                   struct tqt_diag *d) {
  const struct tqt_rt_tensor *w = x[1];
  if (!bw_is_float(w) || w->rank != x[0]->rank) return bw_fail(n, d, "weight rank");
  int64_t kernel[2] = {w->dims[2], w->rank == 4 ? w->dims[3] : 0};
  struct bw_window g;
  if (bw_window(n, x[0], y, kernel, &g, d)) return -1;
  int64_t groups = tqt_attr_int(n, "group", 1), m = w->dims[0], cg = w->dims[1];
  if (groups < 1 || m % groups || cg * groups != g.c) return bw_fail(n, d, "group does not fit");
  int64_t mg = m / groups;
  const float *xv = x[0]->data, *wv = w->data;
  float *gxv = gx[0], *gw = gx[1];
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t oc = 0; oc < m; oc++) {
      int64_t grp = oc / mg;
      const float *go = gy + (b * m + oc) * g.oh * g.ow;
      if (nx > 2 && x[2] && gx[2])
        for (int64_t i = 0; i < g.oh * g.ow; i++) gx[2][oc] += go[i];
      for (int64_t ci = 0; ci < cg; ci++) {
        int64_t c = grp * cg + ci;
        const float *xc = xv + (b * g.c + c) * g.ih * g.iw;
        float *gxc = gxv ? gxv + (b * g.c + c) * g.ih * g.iw : NULL;
        const float *wk = wv + (oc * cg + ci) * g.kh * g.kw;
        float *gwk = gw ? gw + (oc * cg + ci) * g.kh * g.kw : NULL;
        for (int64_t kh = 0; kh < g.kh; kh++)
          for (int64_t kw = 0; kw < g.kw; kw++) {
            float wval = wk[kh * g.kw + kw];
            double gws = 0;
            for (int64_t oh = 0; oh < g.oh; oh++) {
              int64_t ih = oh * g.sh - g.ph + kh * g.dh;
              if (ih < 0 || ih >= g.ih) continue;
              const float *gorow = go + oh * g.ow;
              const float *xrow = xc + ih * g.iw;
              float *gxrow = gxc ? gxc + ih * g.iw : NULL;
              for (int64_t ow = 0; ow < g.ow; ow++) {
                int64_t iw = ow * g.sw - g.pw + kw * g.dw;
                if (iw < 0 || iw >= g.iw) continue;
                gws += (double)gorow[ow] * xrow[iw];
                if (gxrow) gxrow[iw] += gorow[ow] * wval;
              }
            }
            if (gwk) gwk[kh * g.kw + kw] += (float)gws;
          }
      }
    }
  return 0;
}

static int bw_pool(const struct tqt_node *n, const struct tqt_rt_tensor *x,
                   const struct tqt_rt_tensor *y, const float *gy, float *gx, struct tqt_diag *d) {
  size_t cnt;
  const int64_t *ks = tqt_attr_ints(n, "kernel_shape", &cnt);
  if (!ks || cnt != x->rank - 2) return bw_fail(n, d, "kernel_shape");
  int64_t kernel[2] = {ks[0], cnt > 1 ? ks[1] : 0};
  struct bw_window g;
  if (bw_window(n, x, y, kernel, &g, d)) return -1;
  bool max = !strcmp(n->op_type, "MaxPool");
  bool include_pad = tqt_attr_int(n, "count_include_pad", 0) != 0;
  const float *xv = x->data, *yv = y->data;
  for (int64_t bc = 0; bc < g.n * g.c; bc++) {
    const float *xc = xv + bc * g.ih * g.iw;
    float *gxc = gx + bc * g.ih * g.iw;
    for (int64_t oh = 0; oh < g.oh; oh++)
      for (int64_t ow = 0; ow < g.ow; ow++) {
        int64_t o = (bc * g.oh + oh) * g.ow + ow;
        float go = gy[o];
        if (go == 0) continue;
        int64_t count = 0, arg = -1;
        for (int64_t kh = 0; kh < g.kh; kh++) {
          int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          for (int64_t kw = 0; kw < g.kw; kw++) {
            int64_t iw = ow * g.sw - g.pw + kw * g.dw;
            bool inside = ih >= 0 && ih < g.ih && iw >= 0 && iw < g.iw;
            if (include_pad && ih < g.ih + g.ph_end && iw < g.iw + g.pw_end) count++;
            if (!inside) continue;
            if (!include_pad) count++;
            if (max && arg < 0 && xc[ih * g.iw + iw] == yv[o]) arg = ih * g.iw + iw;
          }
        }
        if (max) {
          if (arg >= 0) gxc[arg] += go;
          continue;
        }
        if (!count) continue;
        float share = go / (float)count;
        for (int64_t kh = 0; kh < g.kh; kh++) {
          int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          for (int64_t kw = 0; kw < g.kw; kw++) {
            int64_t iw = ow * g.sw - g.pw + kw * g.dw;
            if (ih >= 0 && ih < g.ih && iw >= 0 && iw < g.iw) gxc[ih * g.iw + iw] += share;
          }
        }
      }
  }
  return 0;
}

static void bw_global_average(const struct tqt_rt_tensor *x, const float *gy, float *gx) {
  int64_t nc = x->dims[0] * (x->rank > 1 ? x->dims[1] : 1), sp = bw_numel(x) / (nc ? nc : 1);
  for (int64_t i = 0; i < nc; i++)
    for (int64_t k = 0; k < sp; k++) gx[i * sp + k] += gy[i] / (float)sp;
}

/* ---- matrix products ---- */

/* gA[M,K] += alpha·gY[M,N]·B^T (B as [K,N] with strides), gB[K,N] += alpha·A^T·gY. A and B are
 * read through (row, col) strides so that transposed operands need no copy. */
static void bw_matmul2(const float *a, int64_t ars, int64_t acs, const float *b, int64_t brs,
                       int64_t bcs, const float *gy, float *ga, int64_t gars, int64_t gacs,
                       float *gb, int64_t gbrs, int64_t gbcs, int64_t M, int64_t K, int64_t N,
                       float alpha) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      float g = alpha * gy[i * N + j];
      if (g == 0) continue;
      for (int64_t k = 0; k < K; k++) {
        if (ga) ga[i * gars + k * gacs] += g * b[k * brs + j * bcs];
        if (gb) gb[k * gbrs + j * gbcs] += g * a[i * ars + k * acs];
      }
    }
}

static int bw_gemm(const struct tqt_node *n, const struct tqt_rt_tensor *const *x, size_t nx,
                   const struct tqt_rt_tensor *y, const float *gy, float *const *gx,
                   struct tqt_diag *d) {
  if (x[0]->rank != 2 || x[1]->rank != 2 || y->rank != 2) return bw_fail(n, d, "rank");
  bool ta = tqt_attr_int(n, "transA", 0) != 0, tb = tqt_attr_int(n, "transB", 0) != 0;
  float alpha = tqt_attr_float(n, "alpha", 1.0f), beta = tqt_attr_float(n, "beta", 1.0f);
  int64_t M = y->dims[0], N = y->dims[1], K = ta ? x[0]->dims[0] : x[0]->dims[1];
  int64_t a0 = x[0]->dims[1], b0 = x[1]->dims[1];
  /* A as [M,K]: element (i,k) at i*ars + k*acs. */
  int64_t ars = ta ? 1 : a0, acs = ta ? a0 : 1, brs = tb ? 1 : b0, bcs = tb ? b0 : 1;
  bw_matmul2(x[0]->data, ars, acs, x[1]->data, brs, bcs, gy, gx[0], ars, acs, gx[1], brs, bcs, M, K,
             N, alpha);
  if (nx > 2 && x[2] && gx[2]) {
    int64_t sc[TQT_RANK_MAX];
    tqt_broadcast_strides(x[2], 2, y->dims, sc);
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) gx[2][i * sc[0] + j * sc[1]] += beta * gy[i * N + j];
  }
  return 0;
}

static int bw_matmul(const struct tqt_node *n, const struct tqt_rt_tensor *const *x,
                     const float *gy, float *const *gx, struct tqt_diag *d) {
  const struct tqt_rt_tensor *a = x[0], *b = x[1];
  if (a->rank < 1 || b->rank < 1) return bw_fail(n, d, "rank");
  int64_t M = a->rank >= 2 ? a->dims[a->rank - 2] : 1, K = a->dims[a->rank - 1];
  int64_t N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
  /* Batches: A's leading dims; B either 2-D (shared) or with the same leading dims. */
  int64_t batch_a = a->rank > 2 ? bw_numel(a) / (M * K) : 1;
  int64_t batch_b = b->rank > 2 ? bw_numel(b) / (K * N) : 1;
  if (batch_b != 1 && batch_b != batch_a) return bw_fail(n, d, "broadcast batch");
  int64_t batch = batch_a > batch_b ? batch_a : batch_b;
  if (batch_a != batch) return bw_fail(n, d, "broadcast batch");
  const float *av = a->data, *bv = b->data;
  for (int64_t i = 0; i < batch; i++) {
    int64_t bo = batch_b == 1 ? 0 : i * K * N;
    bw_matmul2(av + i * M * K, K, 1, bv + bo, N, 1, gy + i * M * N, gx[0] ? gx[0] + i * M * K : NULL,
               K, 1, gx[1] ? gx[1] + bo : NULL, N, 1, M, K, N, 1.0f);
  }
  return 0;
}

static const char *const bw_ops[] = {
    "Conv", "Gemm", "MatMul", "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool",
    "Add", "Sub", "Mul", "Concat", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
    "Identity", "Sigmoid", "HardSigmoid", "Softmax", "Div", "PRelu", "LeakyRelu", "Tanh",
};

bool tqt_train_has_backward(const char *op_type) {
  for (size_t i = 0; i < sizeof bw_ops / sizeof bw_ops[0]; i++)
    if (!strcmp(bw_ops[i], op_type)) return true;
  return false;
}

int tqt_train_backward(const struct tqt_node *n, const struct tqt_rt_tensor *const *x, size_t nx,
                       const struct tqt_rt_tensor *const *y, size_t ny, const float *const *gy,
                       float *const *gx, struct tqt_diag *d) {
  if (*n->domain || !tqt_train_has_backward(n->op_type)) return 1;
  if (ny < 1 || !y[0] || !bw_is_float(y[0]) || !gy[0]) return 0; /* nothing flows back */
  if (nx < 1 || !x[0]) return bw_fail(n, d, "no input");
  const char *op = n->op_type;
  const float *g = gy[0];
  bool want = false;
  for (size_t k = 0; k < nx; k++) {
    if (gx[k] && !bw_is_float(x[k])) return bw_fail(n, d, "gradient of a non-float input");
    want |= gx[k] != NULL;
  }
  if (!want) return 0;
  if (!strcmp(op, "Relu")) return gx[0] ? bw_relu(y[0], g, gx[0]), 0 : 0;
  if (!strcmp(op, "Clip")) return gx[0] ? bw_clip(n, x, nx, g, gx[0]), 0 : 0;
  if (!strcmp(op, "Sigmoid")) return gx[0] ? bw_sigmoid(y[0], g, gx[0]), 0 : 0;
  if (!strcmp(op, "HardSigmoid")) return gx[0] ? bw_hard_sigmoid(n, x[0], g, gx[0]), 0 : 0;
  if (!strcmp(op, "Softmax")) return gx[0] ? bw_softmax(n, y[0], g, gx[0], d) : 0;
  if (!strcmp(op, "LeakyRelu")) return gx[0] ? bw_leaky_relu(n, x[0], g, gx[0]), 0 : 0;
  if (!strcmp(op, "Tanh")) return gx[0] ? bw_tanh(y[0], g, gx[0]), 0 : 0;
  if (!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div") ||
      !strcmp(op, "PRelu")) {
    if (nx < 2 || !x[1]) return bw_fail(n, d, "two inputs needed");
    bw_binary(op, x, y[0], g, gx);
    return 0;
  }
  if (!strcmp(op, "Reshape") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") ||
      !strcmp(op, "Unsqueeze") || !strcmp(op, "Identity")) {
    if (gx[0]) bw_copy(g, gx[0], bw_numel(x[0]));
    return 0;
  }
  if (!strcmp(op, "Transpose")) return gx[0] ? bw_transpose(n, x[0], g, gx[0], d) : 0;
  if (!strcmp(op, "Concat")) return bw_concat(n, x, nx, y[0], g, gx, d);
  if (!strcmp(op, "GlobalAveragePool")) return gx[0] ? bw_global_average(x[0], g, gx[0]), 0 : 0;
  if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool"))
    return gx[0] ? bw_pool(n, x[0], y[0], g, gx[0], d) : 0;
  if (!strcmp(op, "Conv")) {
    if (nx < 2 || !x[1]) return bw_fail(n, d, "no weight");
    return bw_conv(n, x, nx, y[0], g, gx, d);
  }
  if (!strcmp(op, "Gemm")) {
    if (nx < 2 || !x[1]) return bw_fail(n, d, "two inputs needed");
    return bw_gemm(n, x, nx, y[0], g, gx, d);
  }
  if (!strcmp(op, "MatMul")) {
    if (nx < 2 || !x[1]) return bw_fail(n, d, "two inputs needed");
    return bw_matmul(n, x, g, gx, d);
  }
  return 1;
}
