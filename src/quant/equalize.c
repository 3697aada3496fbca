/* Channel equalization (quant.h): channels of a tensor whose range is small next to the
 * tensor's largest get scaled up by a power of two where the model allows it exactly.
 *
 * One scale per tensor rounds a channel of small range to a few steps, and a later per-channel
 * gain (a BatchNormalization that could not fold, after a Concat; the next layer's weights)
 * makes that error as large as the others' signal: in a DenseNet the small channels of a block's
 * input lose 20 dB at the first BatchNormalization. A channel c of a Conv/Gemm/MatMul/
 * BatchNormalization output ("producer") that reaches only ops commuting with a positive
 * per-channel factor (Relu, PRelu, pooling, Resize, Pad, Concat on channels, Add of two such
 * tensors) before ops that can take the factor back in their constants ("absorbers": the input
 * channels of Conv/Gemm/MatMul weights, BatchNormalization's scale and mean) can be multiplied
 * by s_c at the producer and divided at the absorbers with the float model's outputs unchanged
 * (cross-layer equalization, Nagel et al. 2019, through Concat and onto BatchNormalization).
 * With s a power of two the rescaled weights hold the same bits of precision.
 *
 * s_c is chosen per channel from the channel's range on some calibration samples, never past
 * the largest channel of any quantized tensor holding it (that would move the tensor's scale),
 * and by the error model: the activation's rounding error seen through the absorbing weights
 * falls as 1/s, the absorbing weight column's rounding error grows as s once the column is no
 * longer the largest of its row (per-channel weights; depthwise columns never pay). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_edit.h"
#include "onnx_io.h"
#include "quant.h"

#define EQ_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")
/* The largest factor tried: 2^EQ_MAX_SHIFT. */
#define EQ_MAX_SHIFT 8
#define EQ_SHIFTS (EQ_MAX_SHIFT + 1)
#define EQ_NONE ((size_t)-1)
/* auto keeps equalization only when the outputs' error energy falls by this factor (0.25 dB):
 * smaller differences on a few dozen samples did not carry over to other inputs (the v5
 * voice-activity model: 0.17 dB better on the measuring samples, one more window decided
 * otherwise on the evaluation recordings). */
#define EQ_KEEP_GAIN 0.944

/* Channels [at, at + len) of a value are channels [offset, offset + len) of group `group`
 * (EQ_NONE: channels nothing can scale). */
struct eq_piece {
  size_t group, offset, len;
};

/* A value whose channels (axis 1) are, piece by piece, channels of producers' outputs. */
struct eq_value {
  const char *name;
  struct eq_piece *pieces;
  size_t n_pieces, channels;
  bool observed; /* an activation of the plan: its channel ranges bound the factors */
  float *range;  /* observed: max |x| per channel over the samples */
  size_t at;     /* observed: where its channels lie in a worker's ranges (eq_worker) */
};

struct eq_group {
  struct tqt_node *producer;
  size_t channels;
  size_t parent; /* union-find: an Add of two groups' outputs makes them one */
  bool fixed;    /* a reader that cannot take a factor: every channel stays */
  bool one_exponent; /* the producer's weights have one exponent for all rows (--per-tensor) */
  /* On the root: per channel the largest range/tensor-range of the quantized values holding it,
   * the modelled error per shift, the largest shift allowed, the shift chosen. */
  double *share;
  double *cost;
  int *limit;
  int *shift;
};

struct eq_absorber {
  struct tqt_node *node;
  struct eq_value *in;
};

struct eq {
  struct tqt_arena *arena;
  struct tqt_model *m;
  const struct tqt_quant_plan *p;
  const struct tqt_options *o;
  struct tqt_name_map values; /* name → struct eq_value * */
  struct eq_group *groups;
  size_t n_groups, cap_groups;
  struct eq_absorber *absorbers;
  size_t n_absorbers, cap_absorbers;
  struct tqt_diag *d;
};

/* The initializers equalization rewrote, with their values before and after. */
struct tqt_quant_equalization {
  struct eq_change {
    float *data; /* the model's */
    float *before, *after;
    size_t n;
  } *changes;
  size_t n_changes;
};

static size_t eq_root(struct eq *e, size_t g) {
  while (e->groups[g].parent != g) g = e->groups[g].parent = e->groups[e->groups[g].parent].parent;
  return g;
}

static struct eq_value *eq_value_of(const struct eq *e, const char *name) {
  void *v = NULL;
  return *name && tqt_name_map_get(&e->values, name, &v) ? v : NULL;
}

static void eq_fix(struct eq *e, const struct eq_value *v) {
  for (size_t i = 0; v && i < v->n_pieces; i++)
    if (v->pieces[i].group != EQ_NONE) e->groups[v->pieces[i].group].fixed = true;
}

/* An initializer of the main graph that no graph input overrides, its data loaded, or NULL. */
static struct tqt_tensor *eq_constant(const struct eq *e, const char *name) {
  struct tqt_tensor *t = tqt_graph_constant(e->m->graph, name);
  return t && tqt_tensor_data(t, e->m->arena, NULL) ? t : NULL;
}

/* eq_constant when it is float and no other node reads it (rescaling it changes no one else). */
static struct tqt_tensor *eq_own_constant(const struct eq *e, const char *name) {
  struct tqt_tensor *t = eq_constant(e, name);
  return t && t->dtype == TQT_DTYPE_FLOAT && tqt_graph_readers(e->m->graph, name) == 1 ? t : NULL;
}

/* The rank the main graph declares for a value, or 0 when it does not say. */
static size_t eq_rank(const struct eq *e, const char *name) {
  const struct tqt_type *t = tqt_graph_value_type(e->m->graph, name);
  return t && t->has_shape ? t->rank : 0;
}

/* The channels (axis 1) the main graph declares for a value, or 0 when unknown. */
static size_t eq_declared_channels(const struct eq *e, const char *name) {
  const struct tqt_type *t = tqt_graph_value_type(e->m->graph, name);
  return t && t->has_shape && t->rank >= 2 && t->dims[1].has_value && t->dims[1].value > 0
             ? (size_t)t->dims[1].value
             : 0;
}

static struct eq_value *eq_value_add(struct eq *e, const char *name, size_t n_pieces,
                                     size_t channels) {
  struct eq_value *v = tqt_arena_calloc(e->arena, 1, sizeof *v);
  if (!v || !(v->pieces = tqt_arena_calloc(e->arena, n_pieces + 1, sizeof *v->pieces)) ||
      tqt_name_map_put(&e->values, name, v) < 0)
    return NULL;
  v->name = name;
  v->n_pieces = n_pieces;
  v->channels = channels;
  return v;
}

/* A new group for the output of producer n with `channels` channels. */
static struct eq_value *eq_group_add(struct eq *e, struct tqt_node *n, size_t channels,
                                     bool one_exponent) {
  if (tqt_arena_reserve(e->arena, (void **)&e->groups, &e->cap_groups, e->n_groups + 1,
                        sizeof *e->groups) < 0)
    return NULL;
  struct eq_group *g = &e->groups[e->n_groups];
  *g = (struct eq_group){.producer = n, .channels = channels, .parent = e->n_groups,
                         .one_exponent = one_exponent};
  struct eq_value *v = eq_value_add(e, n->outputs[0], 1, channels);
  if (!v) return NULL;
  v->pieces[0] = (struct eq_piece){e->n_groups, 0, channels};
  e->n_groups++;
  return v;
}

static bool eq_op(const struct tqt_node *n, const char *op) {
  return !*n->domain && !strcmp(n->op_type, op);
}

/* Output channels of n when it can scale them: its weights (and bias) its own constants. */
static size_t eq_producer_channels(struct eq *e, struct tqt_node *n) {
  if (eq_op(n, "Conv") && n->n_inputs >= 2) {
    struct tqt_tensor *w = eq_own_constant(e, n->inputs[1]);
    if (!w || w->rank < 3 || w->dims[0] <= 0) return 0;
    if (n->n_inputs > 2 && *n->inputs[2]) {
      struct tqt_tensor *b = eq_own_constant(e, n->inputs[2]);
      if (!b || tqt_tensor_numel(b) != w->dims[0]) return 0;
    }
    return (size_t)w->dims[0];
  }
  if ((eq_op(n, "Gemm") || eq_op(n, "MatMul")) && n->n_inputs >= 2) {
    struct tqt_tensor *w = eq_own_constant(e, n->inputs[1]);
    if (!w || w->rank != 2 || (eq_op(n, "MatMul") && eq_rank(e, n->outputs[0]) != 2)) return 0;
    bool trans = eq_op(n, "Gemm") && tqt_attr_int(n, "transB", 0);
    int64_t channels = w->dims[trans ? 0 : 1];
    if (n->n_inputs > 2 && *n->inputs[2]) {
      struct tqt_tensor *c = eq_own_constant(e, n->inputs[2]);
      if (!c || tqt_tensor_numel(c) != channels || c->rank == 0 ||
          c->dims[c->rank - 1] != channels)
        return 0;
    }
    return channels > 0 ? (size_t)channels : 0;
  }
  if (eq_op(n, "BatchNormalization") && n->n_inputs >= 5 && n->n_outputs == 1) {
    struct tqt_tensor *scale = eq_own_constant(e, n->inputs[1]);
    struct tqt_tensor *bias = eq_own_constant(e, n->inputs[2]);
    if (!scale || !bias || tqt_tensor_numel(scale) != tqt_tensor_numel(bias)) return 0;
    return (size_t)tqt_tensor_numel(scale);
  }
  return 0;
}

/* Readers that pass a positive per-channel factor through: f(s·x) = s·f(x) channel by channel. */
static bool eq_passes_through(const struct eq *e, const struct tqt_node *n) {
  static const char *const ops[] = {"Relu", "LeakyRelu", "PRelu", "MaxPool", "AveragePool",
                                    "GlobalAveragePool", "GlobalMaxPool", "Identity", "Dropout",
                                    NULL};
  for (size_t i = 0; ops[i]; i++)
    if (eq_op(n, ops[i])) return true;
  if (eq_op(n, "Mul") || eq_op(n, "Div")) { /* by one constant number */
    const struct tqt_tensor *k = n->n_inputs == 2 ? eq_constant(e, n->inputs[1]) : NULL;
    return k && tqt_tensor_numel(k) == 1;
  }
  if (eq_op(n, "Pad")) { /* zeros, or edge/reflect, and no padding of batch or channels */
    const char *mode = tqt_attr_string(n, "mode", "constant");
    size_t n_pads = 0;
    const int64_t *pads = tqt_attr_ints(n, "pads", &n_pads);
    const struct tqt_tensor *pt = n->n_inputs > 1 ? eq_constant(e, n->inputs[1]) : NULL;
    if (pt && pt->dtype == TQT_DTYPE_INT64) {
      pads = pt->data;
      n_pads = (size_t)tqt_tensor_numel(pt);
    }
    if (!pads || n_pads < 4 || n_pads % 2) return false;
    size_t rank = n_pads / 2;
    if (pads[0] || pads[1] || pads[rank] || pads[rank + 1]) return false;
    if (strcmp(mode, "constant")) return !strcmp(mode, "edge") || !strcmp(mode, "reflect");
    if (tqt_attr_float(n, "value", 0.0f) != 0.0f) return false;
    if (n->n_inputs > 2 && *n->inputs[2]) {
      const struct tqt_tensor *v = eq_constant(e, n->inputs[2]);
      return v && v->dtype == TQT_DTYPE_FLOAT && tqt_tensor_numel(v) == 1 &&
             ((const float *)v->data)[0] == 0.0f;
    }
    return true;
  }
  if (eq_op(n, "Resize") || eq_op(n, "Upsample")) { /* batch and channels not resized */
    size_t at = eq_op(n, "Upsample") ? 1 : 2;
    const struct tqt_tensor *sc = n->n_inputs > at ? eq_constant(e, n->inputs[at]) : NULL;
    if (sc && sc->dtype == TQT_DTYPE_FLOAT && tqt_tensor_numel(sc) >= 2) {
      const float *f = sc->data;
      return f[0] == 1.0f && f[1] == 1.0f;
    }
    const struct tqt_tensor *sz = n->n_inputs > 3 ? eq_constant(e, n->inputs[3]) : NULL;
    if (sz && sz->dtype == TQT_DTYPE_INT64 && tqt_tensor_numel(sz) >= 2) {
      const struct eq_value *x = eq_value_of(e, n->inputs[0]);
      const int64_t *s = sz->data;
      return x && s[1] == (int64_t)x->channels;
    }
    return false;
  }
  return false;
}

static int eq_absorber_add(struct eq *e, struct tqt_node *n, struct eq_value *v) {
  if (tqt_arena_reserve(e->arena, (void **)&e->absorbers, &e->cap_absorbers,
                        e->n_absorbers + 1, sizeof *e->absorbers) < 0)
    return -1;
  e->absorbers[e->n_absorbers++] = (struct eq_absorber){n, v};
  return 0;
}

/* True when n can divide input 0's channels back out in its own constants. */
static bool eq_absorbs(struct eq *e, struct tqt_node *n, const struct eq_value *v) {
  if (eq_op(n, "Conv") && n->n_inputs >= 2) {
    struct tqt_tensor *w = eq_own_constant(e, n->inputs[1]);
    int64_t group = tqt_attr_int(n, "group", 1);
    return w && w->rank >= 3 && group > 0 && w->dims[1] * group == (int64_t)v->channels &&
           w->dims[0] % group == 0;
  }
  if ((eq_op(n, "Gemm") || eq_op(n, "MatMul")) && n->n_inputs >= 2) {
    struct tqt_tensor *w = eq_own_constant(e, n->inputs[1]);
    bool trans = eq_op(n, "Gemm") && tqt_attr_int(n, "transB", 0);
    if (eq_op(n, "Gemm") ? tqt_attr_int(n, "transA", 0) != 0 : eq_rank(e, n->inputs[0]) != 2)
      return false;
    return w && w->rank == 2 && w->dims[trans ? 1 : 0] == (int64_t)v->channels;
  }
  if (eq_op(n, "BatchNormalization") && n->n_inputs >= 5) {
    struct tqt_tensor *scale = eq_own_constant(e, n->inputs[1]);
    struct tqt_tensor *mean = eq_own_constant(e, n->inputs[3]);
    return scale && mean && tqt_tensor_numel(scale) == (int64_t)v->channels &&
           tqt_tensor_numel(mean) == (int64_t)v->channels;
  }
  return false;
}

/* Concat on channels: the output's pieces are the inputs' pieces one after another (an input
 * of no group takes its declared channels, which then stay). NULL with *ok false on OOM. */
static struct eq_value *eq_concat(struct eq *e, const struct tqt_node *n, bool *ok) {
  size_t n_pieces = 0, channels = 0;
  *ok = true;
  for (size_t i = 0; i < n->n_inputs; i++) {
    const struct eq_value *v = eq_value_of(e, n->inputs[i]);
    size_t c = v ? v->channels : eq_declared_channels(e, n->inputs[i]);
    if (!c) return NULL;
    n_pieces += v ? v->n_pieces : 1;
    channels += c;
  }
  struct eq_value *out = eq_value_add(e, n->outputs[0], n_pieces, channels);
  if (!out) return *ok = false, NULL;
  size_t k = 0;
  for (size_t i = 0; i < n->n_inputs; i++) {
    const struct eq_value *v = eq_value_of(e, n->inputs[i]);
    if (v)
      for (size_t j = 0; j < v->n_pieces; j++) out->pieces[k++] = v->pieces[j];
    else
      out->pieces[k++] = (struct eq_piece){EQ_NONE, 0, eq_declared_channels(e, n->inputs[i])};
  }
  return out;
}

/* True when n is an Add/Sub of two values that are each all the channels of one group (a
 * residual sum): their groups can be joined and scaled alike. */
static bool eq_add_joins(const struct eq *e, const struct tqt_node *n) {
  if (!(eq_op(n, "Add") || eq_op(n, "Sub")) || n->n_inputs != 2) return false;
  const struct eq_value *a = eq_value_of(e, n->inputs[0]), *b = eq_value_of(e, n->inputs[1]);
  return a && b && a->n_pieces == 1 && b->n_pieces == 1 && a->pieces[0].group != EQ_NONE &&
         b->pieces[0].group != EQ_NONE && a->channels == b->channels &&
         e->groups[a->pieces[0].group].channels == a->channels &&
         e->groups[b->pieces[0].group].channels == b->channels;
}

/* tqt_graph_walk visitor over the bodies: a value of the main graph read inside one stays. */
static int eq_fix_body_reads(struct tqt_graph *g, int depth, void *ctx) {
  struct eq *e = ctx;
  for (size_t i = 0; depth > 0 && i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_inputs; k++)
      eq_fix(e, eq_value_of(e, g->nodes[i]->inputs[k]));
  return 0;
}

/* Follows every producer's channels through the main graph: which values hold them, which
 * nodes take them back, and which groups a reader fixes. */
static enum tqt_status eq_analyse(struct eq *e) {
  struct tqt_graph *g = e->m->graph;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *n = g->nodes[i];
    /* how it reads the values that carry groups */
    bool through = n->n_inputs >= 1 && eq_value_of(e, n->inputs[0]) && eq_passes_through(e, n);
    bool concat = eq_op(n, "Concat") && tqt_attr_int(n, "axis", 0) == 1 && n->n_outputs == 1;
    bool add = eq_add_joins(e, n);
    for (size_t k = 0; k < n->n_inputs; k++) {
      struct eq_value *v = eq_value_of(e, n->inputs[k]);
      if (!v) continue;
      if ((k == 0 && through) || concat) continue;
      if (k == 0 && eq_absorbs(e, n, v)) {
        if (eq_absorber_add(e, n, v) < 0) return EQ_NOMEM(e->d);
        continue;
      }
      if (!add) eq_fix(e, v);
    }
    /* what its output carries */
    const struct eq_value *x = n->n_inputs ? eq_value_of(e, n->inputs[0]) : NULL;
    struct eq_value *out = NULL;
    bool ok = true;
    if (n->n_outputs == 0 || !*n->outputs[0]) continue;
    if (through) {
      if (!(out = eq_value_add(e, n->outputs[0], x->n_pieces, x->channels))) return EQ_NOMEM(e->d);
      memcpy(out->pieces, x->pieces, x->n_pieces * sizeof *x->pieces);
    } else if (concat) {
      bool any = false;
      for (size_t k = 0; k < n->n_inputs; k++) any |= eq_value_of(e, n->inputs[k]) != NULL;
      if (any && !(out = eq_concat(e, n, &ok))) {
        if (!ok) return EQ_NOMEM(e->d);
        for (size_t k = 0; k < n->n_inputs; k++) eq_fix(e, eq_value_of(e, n->inputs[k]));
      }
    } else if (add) {
      const struct eq_value *b = eq_value_of(e, n->inputs[1]);
      size_t ra = eq_root(e, x->pieces[0].group), rb = eq_root(e, b->pieces[0].group);
      e->groups[rb].parent = ra;
      if (!(out = eq_value_add(e, n->outputs[0], 1, x->channels))) return EQ_NOMEM(e->d);
      out->pieces[0] = (struct eq_piece){ra, 0, x->channels};
    }
    if (out) continue;
    size_t channels = eq_producer_channels(e, n);
    bool one_exponent = !e->o->per_channel && !eq_op(n, "BatchNormalization");
    if (channels && !eq_group_add(e, n, channels, one_exponent)) return EQ_NOMEM(e->d);
  }
  for (size_t i = 0; i < g->n_outputs; i++) eq_fix(e, eq_value_of(e, g->outputs[i].name));
  tqt_graph_walk(g, eq_fix_body_reads, e);
  /* a group is fixed when any group joined to it is */
  for (size_t i = 0; i < e->n_groups; i++)
    if (e->groups[i].fixed) e->groups[eq_root(e, i)].fixed = true;
  return TQT_STATUS_OK;
}

/* One worker of the observing run: the largest magnitudes it saw, per observed channel. */
struct eq_worker {
  const struct eq *e;
  float *range;
};

/* Interpreter observer (ctx: an eq_worker): the largest magnitude per channel of the observed
 * values. The workers' maxima merge in any order. */
static int eq_observe(void *ctx, const struct tqt_node *node, const char *name,
                      const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  (void)d;
  struct eq_worker *w = ctx;
  const struct eq_value *ev = eq_value_of(w->e, name);
  if (!ev || !ev->observed || v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype != TQT_DTYPE_FLOAT ||
      v->t.rank < 2 || (size_t)v->t.dims[1] != ev->channels)
    return 0;
  size_t outer = (size_t)v->t.dims[0], inner = 1, n = ev->channels;
  for (size_t i = 2; i < v->t.rank; i++) inner *= (size_t)v->t.dims[i];
  const float *x = v->t.data;
  float *range = w->range + ev->at;
  for (size_t o = 0; o < outer; o++)
    for (size_t c = 0; c < n; c++) {
      float r = range[c];
      const float *p = x + (o * n + c) * inner;
      for (size_t k = 0; k < inner; k++)
        if (fabsf(p[k]) > r) r = fabsf(p[k]);
      range[c] = r;
    }
  return 0;
}

/* Channel ci of value v: its root group and channel there, or false when it stays. */
static bool eq_channel(struct eq *e, const struct eq_value *v, size_t ci, size_t *root,
                       size_t *c) {
  for (size_t i = 0, at = 0; i < v->n_pieces; at += v->pieces[i].len, i++) {
    if (ci >= at + v->pieces[i].len) continue;
    if (v->pieces[i].group == EQ_NONE) return false;
    *root = eq_root(e, v->pieces[i].group);
    *c = v->pieces[i].offset + (ci - at);
    return !e->groups[*root].fixed;
  }
  return false;
}

/* The modelled error of one absorbing row per shift k: the weight column (largest |w| col in a
 * row whose other columns reach `other`) rounds at the row's step, which grows with 2^k once the
 * column passes the others, times the channel's share of the range; the activation's rounding
 * seen through the column falls as 2^-k. Relative to the row's largest weight. */
static void eq_row_cost(double *cost, double share, double col, double other) {
  if (col <= 0) return;
  double row = col > other ? col : other;
  for (int k = 0; k < EQ_SHIFTS; k++) {
    double s = ldexp(1.0, k);
    cost[k] += (col > s * other ? col : s * other) / row * share + col / (row * s);
  }
}

/* Where the weights of a Conv, Gemm or MatMul hold output row m, input column j, tap t: Conv
 * rows are output channels and columns the input channels of their group, Gemm/MatMul rows
 * the outputs and columns the inputs. Input channel ci is column ci % cols of the rows of group
 * ci / cols. */
struct eq_layout {
  float *x;
  size_t rows, cols, taps, rows_per_group;
  bool conv, trans;
};

static struct eq_layout eq_layout_of(const struct eq *e, const struct tqt_node *n) {
  const struct tqt_tensor *w = eq_constant(e, n->inputs[1]);
  struct eq_layout l = {.x = w->data, .taps = 1, .conv = eq_op(n, "Conv"),
                        .trans = eq_op(n, "Gemm") && tqt_attr_int(n, "transB", 0)};
  bool k_by_n = !l.conv && !l.trans; /* B is [K, N] */
  l.rows = (size_t)w->dims[k_by_n ? 1 : 0];
  l.cols = (size_t)w->dims[k_by_n ? 0 : 1];
  for (size_t i = 2; l.conv && i < w->rank; i++) l.taps *= (size_t)w->dims[i];
  l.rows_per_group = l.conv ? l.rows / (size_t)tqt_attr_int(n, "group", 1) : l.rows;
  return l;
}

static size_t eq_at(const struct eq_layout *l, size_t m, size_t j, size_t t) {
  return l->conv ? (m * l->cols + j) * l->taps + t : l->trans ? m * l->cols + j : j * l->rows + m;
}

/* max |w| over the taps of row m, column j. */
static double eq_colmax(const struct eq_layout *l, size_t m, size_t j) {
  double mx = 0;
  for (size_t t = 0; t < l->taps; t++) mx = fmax(mx, fabs(l->x[eq_at(l, m, j, t)]));
  return mx;
}

/* Adds an absorber's rows to the cost of every channel it takes back. -1 when out of memory. */
static int eq_absorber_cost(struct eq *e, const struct eq_absorber *a) {
  const struct eq_value *v = a->in;
  if (eq_op(a->node, "BatchNormalization")) { /* no weights to round: the activation's share */
    for (size_t ci = 0; ci < v->channels; ci++) {
      size_t r, c;
      if (!eq_channel(e, v, ci, &r, &c)) continue;
      for (int k = 0; k < EQ_SHIFTS; k++) e->groups[r].cost[c * EQ_SHIFTS + k] += ldexp(1.0, -k);
    }
    return 0;
  }
  struct eq_layout l = eq_layout_of(e, a->node);
  double tensor_max = 0;
  double *colmax = tqt_arena_calloc(e->arena, l.cols + 1, sizeof *colmax);
  if (!colmax) return -1;
  for (size_t m = 0; m < l.rows; m++)
    for (size_t j = 0; j < l.cols; j++) tensor_max = fmax(tensor_max, eq_colmax(&l, m, j));
  for (size_t m = 0; m < l.rows; m++) {
    double first = 0, second = 0; /* the two largest column maxima of the row */
    for (size_t j = 0; j < l.cols; j++) {
      double mx = colmax[j] = eq_colmax(&l, m, j);
      if (mx > first) {
        second = first;
        first = mx;
      } else if (mx > second) {
        second = mx;
      }
    }
    for (size_t j = 0; j < l.cols; j++) {
      size_t ci = (m / l.rows_per_group) * l.cols + j, r, c;
      if (!eq_channel(e, v, ci, &r, &c)) continue;
      double other = e->o->per_channel ? (colmax[j] == first ? second : first) : tensor_max;
      eq_row_cost(&e->groups[r].cost[c * EQ_SHIFTS], e->groups[r].share[c], colmax[j], other);
    }
  }
  return 0;
}

/* One weight exponent for all rows: lowers limit[c] so that no row passes the largest. */
static void eq_row_limits(const struct eq *e, const struct eq_group *g, int *limit) {
  struct eq_layout l = eq_layout_of(e, g->producer);
  double all = 0;
  for (size_t m = 0; m < l.rows; m++)
    for (size_t j = 0; j < l.cols; j++) all = fmax(all, eq_colmax(&l, m, j));
  for (size_t m = 0; m < l.rows; m++) {
    double row = 0;
    for (size_t j = 0; j < l.cols; j++) row = fmax(row, eq_colmax(&l, m, j));
    int k = row > 0 ? (int)floor(log2(all / row)) : 0;
    if (k < limit[m]) limit[m] = k < 0 ? 0 : k;
  }
}

/* Multiplies output channel c of producer n by f[c]. */
static void eq_scale_producer(const struct eq *e, const struct tqt_node *n, const float *f) {
  bool bn = eq_op(n, "BatchNormalization");
  const struct tqt_tensor *b = n->n_inputs > 2 ? eq_constant(e, n->inputs[2]) : NULL;
  float *scale = bn ? eq_constant(e, n->inputs[1])->data : NULL, *bias = b ? b->data : NULL;
  struct eq_layout l = {0};
  if (!bn) l = eq_layout_of(e, n);
  size_t rows = bn ? (size_t)tqt_tensor_numel(b) : l.rows;
  for (size_t m = 0; m < rows; m++) {
    if (f[m] == 1.0f) continue;
    if (bias) bias[m] *= f[m];
    if (bn) scale[m] *= f[m];
    for (size_t j = 0; !bn && j < l.cols; j++)
      for (size_t t = 0; t < l.taps; t++) l.x[eq_at(&l, m, j, t)] *= f[m];
  }
}

/* Divides input channel ci of absorber n by f[ci]. */
static void eq_scale_absorber(const struct eq *e, const struct tqt_node *n, const float *f,
                              size_t channels) {
  if (eq_op(n, "BatchNormalization")) {
    float *scale = eq_constant(e, n->inputs[1])->data, *mean = eq_constant(e, n->inputs[3])->data;
    for (size_t ci = 0; ci < channels; ci++) {
      scale[ci] /= f[ci];
      mean[ci] *= f[ci];
    }
    return;
  }
  struct eq_layout l = eq_layout_of(e, n);
  for (size_t m = 0; m < l.rows; m++)
    for (size_t j = 0; j < l.cols; j++) {
      float fc = f[(m / l.rows_per_group) * l.cols + j];
      for (size_t t = 0; fc != 1.0f && t < l.taps; t++) l.x[eq_at(&l, m, j, t)] /= fc;
    }
}

/* Records the values of the initializers of n that equalization may rewrite. -1 on OOM. */
static int eq_record(const struct eq *e, struct tqt_quant_equalization *q,
                     const struct tqt_node *n) {
  static const size_t bn_inputs[3] = {1, 2, 3};
  static const size_t w_inputs[2] = {1, 2};
  bool bn = eq_op(n, "BatchNormalization");
  for (size_t i = 0; i < (bn ? 3u : 2u); i++) {
    size_t k = bn ? bn_inputs[i] : w_inputs[i];
    const struct tqt_tensor *t = k < n->n_inputs ? eq_constant(e, n->inputs[k]) : NULL;
    bool seen = !t;
    for (size_t j = 0; !seen && j < q->n_changes; j++) seen = q->changes[j].data == t->data;
    if (seen) continue;
    struct eq_change *c = &q->changes[q->n_changes];
    c->data = t->data;
    c->n = (size_t)tqt_tensor_numel(t);
    if (!(c->before = malloc(c->n * sizeof *c->before))) return -1;
    memcpy(c->before, c->data, c->n * sizeof *c->before);
    q->n_changes++;
  }
  return 0;
}

/* Records n's values, then multiplies its output channels by f (absorbed 0) or divides its
 * `absorbed` input channels by f. -1 on OOM. */
static int eq_rescale(const struct eq *e, struct tqt_quant_equalization *q,
                      const struct tqt_node *n, const float *f, size_t absorbed) {
  if (eq_record(e, q, n) < 0) return -1;
  if (absorbed) eq_scale_absorber(e, n, f, absorbed);
  else eq_scale_producer(e, n, f);
  return 0;
}

/* Keeps the values after of what changed; drops what did not. -1 on OOM (q stays freeable). */
static int eq_record_after(struct tqt_quant_equalization *q) {
  for (size_t j = 0; j < q->n_changes; j++) {
    struct eq_change *c = &q->changes[j];
    if (!memcmp(c->before, c->data, c->n * sizeof *c->data)) {
      free(c->before);
      c->before = NULL;
    } else if ((c->after = malloc(c->n * sizeof *c->after))) {
      memcpy(c->after, c->data, c->n * sizeof *c->after);
    } else {
      return -1;
    }
  }
  size_t kept = 0;
  for (size_t j = 0; j < q->n_changes; j++)
    if (q->changes[j].before) q->changes[kept++] = q->changes[j];
  q->n_changes = kept;
  return 0;
}

void tqt_quant_equalization_free(struct tqt_quant_equalization *q) {
  for (size_t j = 0; q && j < q->n_changes; j++) {
    free(q->changes[j].before);
    free(q->changes[j].after);
  }
  if (q) free(q->changes);
  free(q);
}

/* The model's initializers as before equalization, or after. */
static void eq_put(const struct tqt_quant_equalization *q, bool equalized) {
  for (size_t j = 0; j < q->n_changes; j++)
    memcpy(q->changes[j].data, equalized ? q->changes[j].after : q->changes[j].before,
           q->changes[j].n * sizeof *q->changes[j].data);
}

enum tqt_status tqt_quant_equalize(struct tqt_quant_plan *p, struct tqt_model *m,
                                   const struct tqt_options *o, const char *const *specs,
                                   size_t n_specs, size_t max_samples, size_t n_workers,
                                   struct tqt_quant_equalization **out, struct tqt_diag *d) {
  struct eq e = {.m = m, .p = p, .o = o, .d = d};
  struct eq_worker *workers = NULL;
  void **worker_ctx = NULL;
  size_t n_ranges = 0;
  struct tqt_quant_equalization *q = NULL;
  enum tqt_status st = TQT_STATUS_OK;
  *out = NULL;
  tqt_name_map_init(&e.values);
  if (!(e.arena = tqt_arena_create())) return EQ_NOMEM(d);
  if ((st = eq_analyse(&e)) != TQT_STATUS_OK) goto fail;
  /* ranges of the quantized values that hold a channel some group may scale */
  size_t free_groups = 0;
  for (size_t i = 0; i < e.n_groups; i++) free_groups += !e.groups[eq_root(&e, i)].fixed;
  if (!free_groups) goto fail;
  for (size_t i = 0; i < e.values.cap; i++) {
    struct eq_value *v = e.values.keys[i] ? e.values.values[i] : NULL;
    const struct tqt_qtensor *t = v ? tqt_quant_plan_find(p, v->name) : NULL;
    if (!t || t->kind != TQT_QTENSOR_KIND_ACTIVATION) continue;
    bool any = false;
    for (size_t k = 0; k < v->n_pieces; k++)
      any |= v->pieces[k].group != EQ_NONE && !e.groups[eq_root(&e, v->pieces[k].group)].fixed;
    if (any && !(v->range = tqt_arena_calloc(e.arena, v->channels, sizeof *v->range))) {
      st = EQ_NOMEM(d);
      goto fail;
    }
    v->observed = any;
    v->at = n_ranges;
    n_ranges += any ? v->channels : 0;
  }
  size_t ran;
  if (!(workers = tqt_arena_calloc(e.arena, n_workers, sizeof *workers)) ||
      !(worker_ctx = tqt_arena_calloc(e.arena, n_workers, sizeof *worker_ctx))) {
    st = EQ_NOMEM(d);
    goto fail;
  }
  for (size_t k = 0; k < n_workers; k++) {
    workers[k].e = &e;
    worker_ctx[k] = &workers[k];
    if (!(workers[k].range = tqt_arena_calloc(e.arena, n_ranges + 1, sizeof *workers[k].range))) {
      st = EQ_NOMEM(d);
      goto fail;
    }
  }
  struct tqt_quant_observers obs = {.observe = eq_observe, .worker_ctx = worker_ctx,
                                    .workers = n_workers};
  if ((st = tqt_quant_dataset_run(p, m, specs, n_specs, max_samples, TQT_SEARCH_SAMPLES_DEFAULT,
                                  &obs, NULL, NULL, &ran, d)) != TQT_STATUS_OK)
    goto fail;
  for (size_t i = 0; i < e.values.cap; i++) {
    struct eq_value *v = e.values.keys[i] ? e.values.values[i] : NULL;
    for (size_t k = 0; v && v->observed && k < n_workers; k++)
      for (size_t c = 0; c < v->channels; c++)
        v->range[c] = fmaxf(v->range[c], workers[k].range[v->at + c]);
  }
  for (size_t i = 0; i < e.n_groups; i++) {
    struct eq_group *g = &e.groups[i];
    if (eq_root(&e, i) != i || g->fixed) continue;
    g->share = tqt_arena_calloc(e.arena, g->channels, sizeof *g->share);
    g->cost = tqt_arena_calloc(e.arena, g->channels * EQ_SHIFTS, sizeof *g->cost);
    g->limit = tqt_arena_calloc(e.arena, g->channels, sizeof *g->limit);
    g->shift = tqt_arena_calloc(e.arena, g->channels, sizeof *g->shift);
    if (!g->share || !g->cost || !g->limit || !g->shift) {
      st = EQ_NOMEM(d);
      goto fail;
    }
    for (size_t c = 0; c < g->channels; c++) g->limit[c] = EQ_MAX_SHIFT;
  }
  for (size_t i = 0; i < e.n_groups; i++) {
    struct eq_group *r = &e.groups[eq_root(&e, i)];
    if (!r->fixed && e.groups[i].one_exponent) eq_row_limits(&e, &e.groups[i], r->limit);
  }
  /* each channel's largest share of the range of a quantized value holding it */
  for (size_t i = 0; i < e.values.cap; i++) {
    struct eq_value *v = e.values.keys[i] ? e.values.values[i] : NULL;
    if (!v || !v->observed) continue;
    float top = 0;
    for (size_t c = 0; c < v->channels; c++) top = v->range[c] > top ? v->range[c] : top;
    for (size_t ci = 0; top > 0 && ci < v->channels; ci++) {
      size_t r, c;
      if (!eq_channel(&e, v, ci, &r, &c)) continue;
      double share = v->range[ci] / top;
      if (share > e.groups[r].share[c]) e.groups[r].share[c] = share;
    }
  }
  for (size_t i = 0; i < e.n_absorbers; i++)
    if (eq_absorber_cost(&e, &e.absorbers[i]) < 0) {
      st = EQ_NOMEM(d);
      goto fail;
    }
  /* per channel the shift of least modelled error that keeps it within every range */
  size_t candidates = 0, scaled = 0, groups_scaled = 0;
  for (size_t i = 0; i < e.n_groups; i++) {
    struct eq_group *g = &e.groups[i];
    if (eq_root(&e, i) != i || g->fixed) continue;
    bool any = false;
    for (size_t c = 0; c < g->channels; c++) {
      double share = g->share[c];
      if (!(share > 0) || !isfinite(share)) continue;
      candidates++;
      int top = (int)floor(-log2(share));
      top = top > g->limit[c] ? g->limit[c] : top;
      const double *cost = &g->cost[c * EQ_SHIFTS];
      int best = 0;
      for (int k = 1; k <= top; k++)
        if (cost[k] < cost[best]) best = k;
      g->shift[c] = best;
      scaled += best > 0;
      any |= best > 0;
    }
    groups_scaled += any;
  }
  /* the rewrite, each node's values recorded first: producers multiply, absorbers divide */
  size_t widest = 0;
  for (size_t i = 0; i < e.n_groups; i++)
    if (e.groups[i].channels > widest) widest = e.groups[i].channels;
  for (size_t i = 0; i < e.n_absorbers; i++)
    if (e.absorbers[i].in->channels > widest) widest = e.absorbers[i].in->channels;
  float *f = tqt_arena_calloc(e.arena, widest + 1, sizeof *f);
  if (!f || !(q = calloc(1, sizeof *q)) ||
      !(q->changes = calloc(3 * (e.n_groups + e.n_absorbers) + 1, sizeof *q->changes))) {
    st = EQ_NOMEM(d);
    goto fail;
  }
  for (size_t i = 0; i < e.n_groups; i++) {
    const struct eq_group *r = &e.groups[eq_root(&e, i)];
    bool any = false;
    for (size_t c = 0; !r->fixed && c < e.groups[i].channels; c++)
      any |= (f[c] = ldexpf(1.0f, r->shift[c])) != 1.0f;
    if (any && eq_rescale(&e, q, e.groups[i].producer, f, 0) < 0) {
      st = EQ_NOMEM(d);
      goto fail;
    }
  }
  for (size_t i = 0; i < e.n_absorbers; i++) {
    const struct eq_absorber *a = &e.absorbers[i];
    bool any = false;
    for (size_t ci = 0; ci < a->in->channels; ci++) {
      size_t r, c;
      f[ci] = eq_channel(&e, a->in, ci, &r, &c) ? ldexpf(1.0f, e.groups[r].shift[c]) : 1.0f;
      any |= f[ci] != 1.0f;
    }
    if (any && eq_rescale(&e, q, a->node, f, a->in->channels) < 0) {
      st = EQ_NOMEM(d);
      goto fail;
    }
  }
  if (eq_record_after(q) < 0) {
    st = EQ_NOMEM(d);
    goto fail;
  }
  p->equalize_channels = candidates;
  p->equalize_scaled = scaled;
  p->equalize_groups = groups_scaled;
  p->equalize_kept = scaled > 0;
  tqt_diag_note(d, "equalization: %zu of %zu channels scaled up in %zu producer groups (%zu "
                "absorbing nodes, %zu samples)", scaled, candidates, groups_scaled,
                e.n_absorbers, ran);
  if (q->n_changes) {
    *out = q;
    q = NULL;
  }
fail:
  tqt_quant_equalization_free(q);
  tqt_name_map_free(&e.values);
  tqt_arena_destroy(e.arena);
  return st;
}

enum tqt_status tqt_quant_equalize_judge(struct tqt_quant_plan **plan,
                                         const struct tqt_quant_equalization *q,
                                         struct tqt_model *m, struct tqt_quant_samples **samples,
                                         const struct tqt_options *o, tqt_quant_stage_fn stage,
                                         void *stage_ctx, struct tqt_diag *d) {
  struct tqt_quant_plan *p = *plan, *plain = NULL;
  struct tqt_quant_samples *plain_samples = NULL;
  double with = 0, without = 0;
  /* the samples' float run and the two measuring runs, besides the second pass of the stages;
   * past the budget of --search auto it stays, as it measured better on the large corpus
   * models */
  double runs = 3 * tqt_quant_samples_run_values(*samples);
  if (runs > TQT_SEARCH_AUTO_BUDGET) {
    tqt_diag_warn(d, "equalization kept without measuring it: 3 runs of %.3g values and the "
                  "stages again are more than the budget of --equalize auto (--equalize off, "
                  "or fewer --search-samples)", runs / 3);
    return TQT_STATUS_OK;
  }
  enum tqt_status st = tqt_quant_samples_error(*samples, &with, d);
  if (st != TQT_STATUS_OK) return st;
  /* the model as it was, through the same stages */
  eq_put(q, false);
  if ((st = tqt_quant_plan_build(m, o, &plain, d)) != TQT_STATUS_OK ||
      (st = stage(stage_ctx, plain, &plain_samples, d)) != TQT_STATUS_OK ||
      (st = tqt_quant_samples_error(plain_samples, &without, d)) != TQT_STATUS_OK)
    goto fail;
  plain->equalize_channels = p->equalize_channels;
  plain->equalize_scaled = p->equalize_scaled;
  plain->equalize_groups = p->equalize_groups;
  p->equalize_error_before = plain->equalize_error_before = without;
  p->equalize_error_after = plain->equalize_error_after = with;
  tqt_diag_note(d, "equalization: output SQNR %.2f dB without, %.2f dB with: %s",
                -10 * log10(without), -10 * log10(with),
                with < EQ_KEEP_GAIN * without ? "kept" : "undone");
  if (with < EQ_KEEP_GAIN * without) {
    eq_put(q, true);
    goto fail; /* keeps p; plain goes */
  }
  tqt_quant_samples_free(*samples);
  tqt_quant_plan_destroy(p);
  *plan = plain;
  *samples = plain_samples;
  plain = NULL;
  plain_samples = NULL;
fail:
  tqt_quant_samples_free(plain_samples);
  tqt_quant_plan_destroy(plain);
  return st;
}
