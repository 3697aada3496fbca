/* Kernels: recurrent layers (RNN, GRU, LSTM), float32.
 *
 * Per direction, the input projections of all steps are one matrix product (X · Wᵀ + biases);
 * each step then adds H · Rᵀ (one product over the batch) and applies the gate equations.
 * Batch entries whose sequence (sequence_lens) has ended keep their state and write zeros to Y. */
#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

enum rnn_kind { RNN_SIMPLE, RNN_GRU, RNN_LSTM };

enum rnn_act_kind {
  RNN_ACT_RELU,
  RNN_ACT_TANH,
  RNN_ACT_SIGMOID,
  RNN_ACT_AFFINE,
  RNN_ACT_LEAKY_RELU,
  RNN_ACT_THRESHOLDED_RELU,
  RNN_ACT_SCALED_TANH,
  RNN_ACT_HARD_SIGMOID,
  RNN_ACT_ELU,
  RNN_ACT_SOFTSIGN,
  RNN_ACT_SOFTPLUS,
};

struct rnn_act {
  enum rnn_act_kind kind;
  float alpha, beta;
};

#define RNN_MAX_ACTS 3

struct rnn_params {
  enum rnn_kind kind;
  int64_t hidden;
  size_t gates;  /* 1, 3 or 4 blocks of `hidden` rows in W and R */
  size_t n_dirs; /* 1 or 2 */
  bool reverse;  /* the single direction runs backwards */
  struct rnn_act act[2][RNN_MAX_ACTS];
  bool has_clip;
  float clip;
  bool linear_before_reset; /* GRU */
  bool input_forget;        /* LSTM */
  bool batch_first;         /* layout 1 */
};

static const struct {
  const char *name;
  enum rnn_act_kind kind;
  bool uses_alpha, uses_beta;
  float alpha, beta; /* defaults */
} rnn_act_table[] = {
    {"relu", RNN_ACT_RELU, false, false, 0, 0},
    {"tanh", RNN_ACT_TANH, false, false, 0, 0},
    {"sigmoid", RNN_ACT_SIGMOID, false, false, 0, 0},
    {"affine", RNN_ACT_AFFINE, true, true, 1.0f, 0.0f},
    {"leakyrelu", RNN_ACT_LEAKY_RELU, true, false, 0.01f, 0},
    {"thresholdedrelu", RNN_ACT_THRESHOLDED_RELU, true, false, 1.0f, 0},
    {"scaledtanh", RNN_ACT_SCALED_TANH, true, true, 1.0f, 1.0f},
    {"hardsigmoid", RNN_ACT_HARD_SIGMOID, true, true, 0.2f, 0.5f},
    {"elu", RNN_ACT_ELU, true, false, 1.0f, 0},
    {"softsign", RNN_ACT_SOFTSIGN, false, false, 0, 0},
    {"softplus", RNN_ACT_SOFTPLUS, false, false, 0, 0},
};

static bool rnn_name_equal(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
  return *a == *b;
}

static enum tqt_status rnn_activations_parse(struct tqt_kernel_ctx *k, struct rnn_params *p,
                                             size_t per_dir) {
  static const enum rnn_act_kind defaults[3][RNN_MAX_ACTS] = {
      {RNN_ACT_TANH}, {RNN_ACT_SIGMOID, RNN_ACT_TANH}, {RNN_ACT_SIGMOID, RNN_ACT_TANH, RNN_ACT_TANH}};
  for (size_t d = 0; d < 2; d++)
    for (size_t i = 0; i < per_dir; i++) p->act[d][i] = (struct rnn_act){defaults[p->kind][i], 0, 0};
  const struct tqt_attr *at = tqt_node_attr_find(k->node, "activations");
  if (!at || at->type != TQT_ATTR_TYPE_STRINGS || at->n == 0) return TQT_STATUS_OK;
  if (at->n != per_dir && at->n != per_dir * p->n_dirs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu activations, expected %zu per direction",
                           at->n, per_dir);
  size_t n_alpha = 0, n_beta = 0, ia = 0, ib = 0;
  const float *alpha = tqt_attr_floats(k->node, "activation_alpha", &n_alpha);
  const float *beta = tqt_attr_floats(k->node, "activation_beta", &n_beta);
  for (size_t i = 0; i < at->n; i++) {
    size_t e = 0, n_table = sizeof rnn_act_table / sizeof rnn_act_table[0];
    while (e < n_table && !rnn_name_equal(at->strings[i].data, rnn_act_table[e].name)) e++;
    if (e == n_table)
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "activation '%s'", at->strings[i].data);
    /* alpha and beta values go, in order, to the activations that take them */
    struct rnn_act a = {rnn_act_table[e].kind, rnn_act_table[e].alpha, rnn_act_table[e].beta};
    if (rnn_act_table[e].uses_alpha && ia < n_alpha) a.alpha = alpha[ia++];
    if (rnn_act_table[e].uses_beta && ib < n_beta) a.beta = beta[ib++];
    p->act[i / per_dir][i % per_dir] = a;
    if (at->n == per_dir) p->act[1][i] = a;
  }
  return TQT_STATUS_OK;
}

static enum tqt_status rnn_init(struct tqt_kernel_ctx *k) {
  struct rnn_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *op = k->node->op_type;
  p->kind = strcmp(op, "LSTM") == 0 ? RNN_LSTM : strcmp(op, "GRU") == 0 ? RNN_GRU : RNN_SIMPLE;
  p->gates = p->kind == RNN_LSTM ? 4 : p->kind == RNN_GRU ? 3 : 1;
  p->hidden = tqt_attr_int(k->node, "hidden_size", -1);
  if (p->hidden <= 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "hidden_size %lld", (long long)p->hidden);
  const char *dir = tqt_attr_string(k->node, "direction", "forward");
  if (strcmp(dir, "forward") == 0) {
    p->n_dirs = 1;
  } else if (strcmp(dir, "reverse") == 0) {
    p->n_dirs = 1;
    p->reverse = true;
  } else if (strcmp(dir, "bidirectional") == 0) {
    p->n_dirs = 2;
  } else {
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "direction '%s'", dir);
  }
  p->has_clip = tqt_attr_has(k->node, "clip");
  p->clip = tqt_attr_float(k->node, "clip", 0);
  if (p->has_clip && !(p->clip > 0))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "clip %g", (double)p->clip);
  p->linear_before_reset = tqt_attr_int(k->node, "linear_before_reset", 0) != 0;
  p->input_forget = tqt_attr_int(k->node, "input_forget", 0) != 0;
  int64_t layout = k->kernel->since_version >= 14 ? tqt_attr_int(k->node, "layout", 0) : 0;
  if (layout != 0 && layout != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "layout %lld", (long long)layout);
  p->batch_first = layout == 1;
  enum tqt_status st = rnn_activations_parse(k, p, p->kind == RNN_LSTM ? 3 : p->kind == RNN_GRU ? 2 : 1);
  if (st) return st;
  k->params = p;
  return TQT_STATUS_OK;
}

/* x = act(clip(x)) over n values. */
static void rnn_act_apply(const struct rnn_act *a, bool has_clip, float clip, float *x, int64_t n) {
  if (has_clip)
    for (int64_t i = 0; i < n; i++) x[i] = fminf(fmaxf(x[i], -clip), clip);
  float al = a->alpha, be = a->beta;
  switch (a->kind) {
  case RNN_ACT_RELU:
    for (int64_t i = 0; i < n; i++) x[i] = fmaxf(x[i], 0);
    break;
  case RNN_ACT_TANH:
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
    break;
  case RNN_ACT_SIGMOID:
    for (int64_t i = 0; i < n; i++) x[i] = 1 / (1 + expf(-x[i]));
    break;
  case RNN_ACT_AFFINE:
    for (int64_t i = 0; i < n; i++) x[i] = al * x[i] + be;
    break;
  case RNN_ACT_LEAKY_RELU:
    for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : al * x[i];
    break;
  case RNN_ACT_THRESHOLDED_RELU:
    for (int64_t i = 0; i < n; i++) x[i] = x[i] > al ? x[i] : 0;
    break;
  case RNN_ACT_SCALED_TANH:
    for (int64_t i = 0; i < n; i++) x[i] = al * tanhf(be * x[i]);
    break;
  case RNN_ACT_HARD_SIGMOID:
    for (int64_t i = 0; i < n; i++) x[i] = fmaxf(0, fminf(1, al * x[i] + be));
    break;
  case RNN_ACT_ELU:
    for (int64_t i = 0; i < n; i++) x[i] = x[i] >= 0 ? x[i] : al * (expf(x[i]) - 1);
    break;
  case RNN_ACT_SOFTSIGN:
    for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1 + fabsf(x[i]));
    break;
  case RNN_ACT_SOFTPLUS:
    for (int64_t i = 0; i < n; i++) x[i] = log1pf(expf(x[i]));
    break;
  }
}

/* Everything one run needs, shapes checked. */
struct rnn_job {
  const struct rnn_params *p;
  int64_t seq, batch, input, hidden, gh; /* gh = gates * hidden */
  const float *x, *w, *r, *b, *h0, *c0, *peep;
  const int32_t *lens;
  float *y, *yh, *yc;
  /* scratch */
  float *xw, *hr, *h, *c, *tmp;
};

/* Offsets of (step t, batch b) in X's rows, and of (t, dir, b) in Y and (dir, b) in Y_h. */
static int64_t rnn_x_row(const struct rnn_job *j, int64_t t, int64_t b) {
  return j->p->batch_first ? b * j->seq + t : t * j->batch + b;
}

static int64_t rnn_y_row(const struct rnn_job *j, int64_t t, size_t dir, int64_t b) {
  int64_t nd = (int64_t)j->p->n_dirs;
  return j->p->batch_first ? (b * j->seq + t) * nd + (int64_t)dir : (t * nd + (int64_t)dir) * j->batch + b;
}

static int64_t rnn_state_row(const struct rnn_job *j, size_t dir, int64_t b) {
  return j->p->batch_first ? b * (int64_t)j->p->n_dirs + (int64_t)dir
                           : (int64_t)dir * j->batch + b;
}

static int64_t rnn_len(const struct rnn_job *j, int64_t b) { return j->lens ? j->lens[b] : j->seq; }

/* One step of one direction for batch entry b: gates (H·Rᵀ already added where it can be)
 * into the new state. */
static void rnn_cell(const struct rnn_job *j, size_t dir, int64_t b, float *g) {
  const struct rnn_params *p = j->p;
  const struct rnn_act *act = p->act[dir];
  int64_t hs = j->hidden;
  float *h = j->h + b * hs;
  if (p->kind == RNN_SIMPLE) {
    rnn_act_apply(&act[0], p->has_clip, p->clip, g, hs);
    memcpy(h, g, (size_t)hs * sizeof *h);
    return;
  }
  /* LSTM gate blocks: i, o, f, c */
  float *c = j->c + b * hs;
  float *gi = g, *go = g + hs, *gf = g + 2 * hs, *gc = g + 3 * hs;
  const float *pi = j->peep ? j->peep + (int64_t)dir * 3 * hs : NULL;
  if (pi)
    for (int64_t i = 0; i < hs; i++) {
      gi[i] += pi[i] * c[i];
      gf[i] += pi[2 * hs + i] * c[i];
    }
  rnn_act_apply(&act[0], p->has_clip, p->clip, gi, hs);
  if (p->input_forget)
    for (int64_t i = 0; i < hs; i++) gf[i] = 1 - gi[i];
  else
    rnn_act_apply(&act[0], p->has_clip, p->clip, gf, hs);
  rnn_act_apply(&act[1], p->has_clip, p->clip, gc, hs);
  for (int64_t i = 0; i < hs; i++) c[i] = gf[i] * c[i] + gi[i] * gc[i];
  if (pi)
    for (int64_t i = 0; i < hs; i++) go[i] += pi[hs + i] * c[i];
  rnn_act_apply(&act[0], p->has_clip, p->clip, go, hs);
  memcpy(gc, c, (size_t)hs * sizeof *gc);
  rnn_act_apply(&act[2], false, 0, gc, hs);
  for (int64_t i = 0; i < hs; i++) h[i] = go[i] * gc[i];
}

/* Runs one direction over the whole sequence. */
static void rnn_direction(struct rnn_job *j, size_t dir) {
  const struct rnn_params *p = j->p;
  int64_t hs = j->hidden, gh = j->gh, rows = j->seq * j->batch;
  bool backward = p->reverse || dir == 1;
  const float *w = j->w + (int64_t)dir * gh * j->input;
  const float *r = j->r + (int64_t)dir * gh * hs;
  const float *wb = j->b ? j->b + (int64_t)dir * 2 * gh : NULL, *rb = wb ? wb + gh : NULL;
  bool gru = p->kind == RNN_GRU;
  /* X · Wᵀ for every step, plus the biases that are plain sums */
  if (rows > 0)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)gh, (int)j->input, 1.0f,
                j->x, (int)j->input, w, (int)j->input, 0.0f, j->xw, (int)gh);
  if (wb)
    for (int64_t row = 0; row < rows; row++) {
      float *xw = j->xw + row * gh;
      for (int64_t i = 0; i < gh; i++) xw[i] += wb[i];
      /* GRU with linear_before_reset keeps Rb_h inside the reset product */
      int64_t rb_end = gru && p->linear_before_reset ? 2 * hs : gh;
      for (int64_t i = 0; i < rb_end; i++) xw[i] += rb[i];
    }
  for (int64_t b = 0; b < j->batch; b++) {
    int64_t srow = rnn_state_row(j, dir, b);
    float *h = j->h + b * hs;
    if (j->h0)
      memcpy(h, j->h0 + srow * hs, (size_t)hs * sizeof *h);
    else
      memset(h, 0, (size_t)hs * sizeof *h);
    if (p->kind == RNN_LSTM) {
      float *c = j->c + b * hs;
      if (j->c0)
        memcpy(c, j->c0 + srow * hs, (size_t)hs * sizeof *c);
      else
        memset(c, 0, (size_t)hs * sizeof *c);
    }
  }
  /* GRU without linear_before_reset multiplies (r ⊙ H) by R_h after the reset gate: the step's
   * first product covers z and r only. */
  int64_t hr_cols = gru && !p->linear_before_reset ? 2 * hs : gh;
  for (int64_t s = 0; s < j->seq; s++) {
    if (j->batch > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->batch, (int)hr_cols, (int)hs,
                  1.0f, j->h, (int)hs, r, (int)hs, 0.0f, j->hr, (int)gh);
    for (int64_t b = 0; b < j->batch; b++) {
      int64_t len = rnn_len(j, b);
      if (s >= len) continue;
      int64_t t = backward ? len - 1 - s : s;
      float *g = j->xw + rnn_x_row(j, t, b) * gh;
      const float *hr = j->hr + b * gh;
      if (!gru) {
        for (int64_t i = 0; i < gh; i++) g[i] += hr[i];
        rnn_cell(j, dir, b, g);
        continue;
      }
      /* GRU gate blocks: z, r, h */
      for (int64_t i = 0; i < 2 * hs; i++) g[i] += hr[i];
      rnn_act_apply(&p->act[dir][0], p->has_clip, p->clip, g, 2 * hs);
      const float *gr = g + hs, *h = j->h + b * hs;
      float *gn = g + 2 * hs;
      if (p->linear_before_reset) {
        for (int64_t i = 0; i < hs; i++)
          gn[i] += gr[i] * (hr[2 * hs + i] + (rb ? rb[2 * hs + i] : 0.0f));
      } else {
        float *rh = j->tmp + b * hs;
        for (int64_t i = 0; i < hs; i++) rh[i] = gr[i] * h[i];
      }
    }
    if (gru && !p->linear_before_reset && j->batch > 0)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)j->batch, (int)hs, (int)hs, 1.0f,
                  j->tmp, (int)hs, r + 2 * hs * hs, (int)hs, 0.0f, j->hr + 2 * hs, (int)gh);
    for (int64_t b = 0; b < j->batch; b++) {
      int64_t len = rnn_len(j, b);
      if (s >= len) continue;
      int64_t t = backward ? len - 1 - s : s;
      float *g = j->xw + rnn_x_row(j, t, b) * gh;
      float *h = j->h + b * hs;
      if (gru) {
        float *gz = g, *gn = g + 2 * hs;
        if (!p->linear_before_reset) {
          const float *hr = j->hr + b * gh + 2 * hs;
          for (int64_t i = 0; i < hs; i++) gn[i] += hr[i];
        }
        rnn_act_apply(&p->act[dir][1], p->has_clip, p->clip, gn, hs);
        for (int64_t i = 0; i < hs; i++) h[i] = (1 - gz[i]) * gn[i] + gz[i] * h[i];
      }
      if (j->y) memcpy(j->y + rnn_y_row(j, t, dir, b) * hs, h, (size_t)hs * sizeof *h);
    }
  }
  for (int64_t b = 0; b < j->batch; b++) {
    int64_t srow = rnn_state_row(j, dir, b);
    if (j->yh) memcpy(j->yh + srow * hs, j->h + b * hs, (size_t)hs * sizeof(float));
    if (j->yc) memcpy(j->yc + srow * hs, j->c + b * hs, (size_t)hs * sizeof(float));
  }
}

/* Checks that an optional input, when given, is float of the expected shape. */
static enum tqt_status rnn_check(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t,
                                 const char *what, size_t rank, const int64_t *dims) {
  bool ok = t->dtype == TQT_DTYPE_FLOAT && t->rank == rank;
  for (size_t i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
  if (ok) return TQT_STATUS_OK;
  char a[128], b[128];
  struct tqt_rt_tensor want = {.rank = rank};
  memcpy(want.dims, dims, rank * sizeof *dims);
  return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s is %s %s, expected float %s", what,
                         tqt_dtype_name(t->dtype), tqt_rt_shape_str(t, a, sizeof a),
                         tqt_rt_shape_str(&want, b, sizeof b));
}

static enum tqt_status rnn_run(struct tqt_kernel_ctx *k) {
  const struct rnn_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *w = x ? tqt_kernel_input_required(k, 1) : NULL;
  const struct tqt_rt_tensor *r = w ? tqt_kernel_input_required(k, 2) : NULL;
  if (!r) return k->d->status;
  const struct tqt_rt_tensor *b = tqt_kernel_input(k, 3), *lens = tqt_kernel_input(k, 4),
                             *h0 = tqt_kernel_input(k, 5), *c0 = NULL, *peep = NULL;
  if (p->kind == RNN_LSTM) {
    c0 = tqt_kernel_input(k, 6);
    peep = tqt_kernel_input(k, 7);
  }
  if (k->d->status) return k->d->status;
  if (x->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(x->dtype));
  if (x->rank != 3) {
    char a[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "X %s is not rank 3",
                           tqt_rt_shape_str(x, a, sizeof a));
  }
  struct rnn_job j = {.p = p, .hidden = p->hidden, .gh = (int64_t)p->gates * p->hidden};
  j.seq = p->batch_first ? x->dims[1] : x->dims[0];
  j.batch = p->batch_first ? x->dims[0] : x->dims[1];
  j.input = x->dims[2];
  int64_t nd = (int64_t)p->n_dirs, hs = p->hidden;
  int64_t w_dims[3] = {nd, j.gh, j.input}, r_dims[3] = {nd, j.gh, hs}, b_dims[2] = {nd, 2 * j.gh};
  int64_t s_dims[3] = {nd, j.batch, hs}, p_dims[2] = {nd, 3 * hs};
  if (p->batch_first) {
    s_dims[0] = j.batch;
    s_dims[1] = nd;
  }
  if (rnn_check(k, w, "W", 3, w_dims) || rnn_check(k, r, "R", 3, r_dims) ||
      (b && rnn_check(k, b, "B", 2, b_dims)) || (h0 && rnn_check(k, h0, "initial_h", 3, s_dims)) ||
      (c0 && rnn_check(k, c0, "initial_c", 3, s_dims)) ||
      (peep && rnn_check(k, peep, "P", 2, p_dims)))
    return k->d->status;
  if (lens) {
    if (lens->dtype != TQT_DTYPE_INT32 || tqt_rt_numel(lens) != j.batch)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sequence_lens must be %lld int32 values",
                             (long long)j.batch);
    j.lens = lens->data;
    for (int64_t i = 0; i < j.batch; i++)
      if (j.lens[i] < 0 || j.lens[i] > j.seq)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sequence length %d is outside [0, %lld]",
                               j.lens[i], (long long)j.seq);
  }
  if (j.seq * j.gh > INT32_MAX || j.batch * j.gh > INT32_MAX || j.input > INT32_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "too large for one BLAS call");
  j.x = x->data;
  j.w = w->data;
  j.r = r->data;
  j.b = b ? b->data : NULL;
  j.h0 = h0 ? h0->data : NULL;
  j.c0 = c0 ? c0->data : NULL;
  j.peep = peep ? peep->data : NULL;

  int64_t y_dims[4] = {j.seq, nd, j.batch, hs};
  if (p->batch_first) {
    y_dims[0] = j.batch;
    y_dims[1] = j.seq;
    y_dims[2] = nd;
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_FLOAT, 4, y_dims);
  struct tqt_rt_tensor *yh = tqt_kernel_output(k, 1, TQT_DTYPE_FLOAT, 3, s_dims);
  struct tqt_rt_tensor *yc =
      p->kind == RNN_LSTM ? tqt_kernel_output(k, 2, TQT_DTYPE_FLOAT, 3, s_dims) : NULL;
  if (k->d->status) return k->d->status;
  j.y = y ? y->data : NULL;
  j.yh = yh ? yh->data : NULL;
  j.yc = yc ? yc->data : NULL;
  if (y) memset(y->data, 0, y->nbytes); /* steps past a sequence's end stay zero */

  size_t state = (size_t)(j.batch * hs) + 1;
  j.xw = malloc(((size_t)(j.seq * j.batch * j.gh) + 1) * sizeof *j.xw);
  j.hr = malloc(((size_t)(j.batch * j.gh) + 1) * sizeof *j.hr);
  j.h = malloc(state * sizeof *j.h);
  j.c = malloc(state * sizeof *j.c);
  j.tmp = calloc(state, sizeof *j.tmp); /* rows of ended sequences still enter a product */
  enum tqt_status st = TQT_STATUS_OK;
  if (!j.xw || !j.hr || !j.h || !j.c || !j.tmp) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  } else {
    for (size_t dir = 0; dir < p->n_dirs; dir++) rnn_direction(&j, dir);
  }
  free(j.xw);
  free(j.hr);
  free(j.h);
  free(j.c);
  free(j.tmp);
  return st;
}

/* Of X's type: Y [seq, dirs, batch, hidden], Y_h and (LSTM) Y_c [dirs, batch, hidden]; batch
 * first with layout 1: [batch, seq, dirs, hidden] and [batch, dirs, hidden]. */
static enum tqt_status rnn_infer(struct tqt_infer_ctx *c) {
  const struct rnn_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  bool ranked = x && x->kind == TQT_SYM_KIND_TENSOR && x->has_rank;
  if (ranked && x->rank != 3)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "X of rank %zu", x->rank);
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  tqt_sdim seq = ranked ? x->dims[p->batch_first ? 1 : 0] : NULL;
  tqt_sdim batch = ranked ? x->dims[p->batch_first ? 0 : 1] : NULL;
  tqt_sdim dirs = tqt_sdim_const(c->dims, (int64_t)p->n_dirs);
  tqt_sdim hidden = tqt_sdim_const(c->dims, p->hidden);
  tqt_sdim y[4] = {seq, dirs, batch, hidden}, state[3] = {dirs, batch, hidden};
  if (p->batch_first) {
    y[0] = batch, y[1] = seq, y[2] = dirs;
    state[0] = batch, state[1] = dirs;
  }
  tqt_sym_tensor(&c->out[0], dtype, 4, y);
  for (size_t i = 1; i < c->n_out && i < (p->kind == RNN_LSTM ? 3u : 2u); i++)
    tqt_sym_tensor(&c->out[i], dtype, 3, state);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel rnn_kernels[] = {
    {"", "RNN", 7, rnn_init, rnn_run, rnn_infer},
    {"", "RNN", 14, rnn_init, rnn_run, rnn_infer},
    {"", "GRU", 7, rnn_init, rnn_run, rnn_infer},
    {"", "GRU", 14, rnn_init, rnn_run, rnn_infer},
    {"", "LSTM", 7, rnn_init, rnn_run, rnn_infer},
    {"", "LSTM", 14, rnn_init, rnn_run, rnn_infer},
};

const struct tqt_kernel_family tqt_family_rnn = {"rnn", rnn_kernels,
                                                 sizeof rnn_kernels / sizeof rnn_kernels[0]};
