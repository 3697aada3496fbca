/* Calibration statistics in, exponents out: the observer that feeds activation histograms, and
 * the thresholds of activations (their histograms), weights (their data) and biases (the product
 * of their input's and weight's scales). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dataset.h"
#include "ir_edit.h"
#include "parallel.h"
#include "quant.h"

struct tqt_qtensor *tqt_quant_observed(const struct tqt_quant_plan *p, const char *name,
                                       const struct tqt_value *v) {
  struct tqt_qtensor *t = tqt_quant_plan_find(p, name);
  return t && t->kind == TQT_QTENSOR_KIND_ACTIVATION && v->kind == TQT_VALUE_KIND_TENSOR &&
                 v->t.dtype == TQT_DTYPE_FLOAT
             ? t
             : NULL;
}

/* ---- histograms filled by several workers ---- */

struct hists_worker {
  struct tqt_quant_hists *h;
  struct tqt_histogram **sample; /* per plan tensor: this sample's values */
  size_t *touched;               /* the tensors this sample observed */
  bool *listed;                  /* per plan tensor: in touched */
  size_t n_touched;
};

struct tqt_quant_hists {
  const struct tqt_quant_plan *p;
  struct tqt_histogram **targets;
  struct hists_worker *workers;
  void **worker_ctx;
  struct tqt_quant_observers obs;
};

static int hists_observe(void *ctx, const struct tqt_node *node, const char *name,
                         const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  struct hists_worker *w = ctx;
  const struct tqt_qtensor *t = tqt_quant_observed(w->h->p, name, v);
  if (!t) return 0;
  size_t i = (size_t)(t - w->h->p->tensors);
  struct tqt_histogram **h = &w->sample[i];
  if (!*h) {
    if (!(*h = malloc(sizeof **h))) {
      tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      return -1;
    }
    tqt_histogram_init(*h);
  }
  if (!w->listed[i]) {
    w->listed[i] = true;
    w->touched[w->n_touched++] = i;
  }
  tqt_histogram_add(*h, v->t.data, (size_t)tqt_rt_numel(&v->t));
  return 0;
}

static enum tqt_status hists_commit(void *shared, void *worker_ctx, struct tqt_diag *d) {
  struct tqt_quant_hists *h = shared;
  struct hists_worker *w = worker_ctx;
  for (size_t k = 0; k < w->n_touched; k++) {
    size_t i = w->touched[k];
    if (!h->targets[i]) {
      if (!(h->targets[i] = malloc(sizeof *h->targets[i])))
        return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      tqt_histogram_init(h->targets[i]);
    }
    tqt_histogram_merge(h->targets[i], w->sample[i]);
    tqt_histogram_init(w->sample[i]);
    w->listed[i] = false;
  }
  w->n_touched = 0;
  return TQT_STATUS_OK;
}

enum tqt_status tqt_quant_hists_create(const struct tqt_quant_plan *p, struct tqt_histogram **targets,
                                       size_t workers, struct tqt_quant_hists **out,
                                       struct tqt_diag *d) {
  struct tqt_quant_hists *h = calloc(1, sizeof *h);
  *out = NULL;
  if (!h || !(h->workers = calloc(workers, sizeof *h->workers)) ||
      !(h->worker_ctx = calloc(workers, sizeof *h->worker_ctx))) {
    tqt_quant_hists_destroy(h);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  h->p = p;
  h->targets = targets;
  h->obs = (struct tqt_quant_observers){.observe = hists_observe, .worker_ctx = h->worker_ctx,
                                        .workers = workers, .commit = hists_commit, .shared = h};
  for (size_t k = 0; k < workers; k++) {
    struct hists_worker *w = &h->workers[k];
    w->h = h;
    h->worker_ctx[k] = w;
    if (!(w->sample = calloc(p->n_tensors + 1, sizeof *w->sample)) ||
        !(w->touched = calloc(p->n_tensors + 1, sizeof *w->touched)) ||
        !(w->listed = calloc(p->n_tensors + 1, sizeof *w->listed))) {
      tqt_quant_hists_destroy(h);
      return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    }
  }
  *out = h;
  return TQT_STATUS_OK;
}

const struct tqt_quant_observers *tqt_quant_hists_observers(struct tqt_quant_hists *h) {
  return &h->obs;
}

void tqt_quant_hists_destroy(struct tqt_quant_hists *h) {
  if (!h) return;
  for (size_t k = 0; h->workers && k < h->obs.workers; k++) {
    for (size_t i = 0; h->workers[k].sample && i < h->p->n_tensors; i++)
      free(h->workers[k].sample[i]);
    free(h->workers[k].sample);
    free(h->workers[k].touched);
    free(h->workers[k].listed);
  }
  free(h->workers);
  free(h->worker_ctx);
  free(h);
}

static enum tqt_threshold_method calib_method(const char *name, enum tqt_threshold_method dflt) {
  enum tqt_threshold_method m = dflt;
  if (name) tqt_threshold_method_parse(name, &m); /* validated when the options were parsed */
  return m;
}

/* The bias_floor of the per-channel weight that bias b is scaled by (the first bias sets it when
 * the weight is shared). */
static enum tqt_status calib_bias_floor(struct tqt_quant_plan *p, const struct tqt_qtensor *b,
                                        const struct tqt_model *m, struct tqt_diag *d) {
  struct tqt_qtensor *w = &p->tensors[b->bias_weight];
  const struct tqt_tensor *bt = tqt_quant_initializer(m, b->name, NULL, NULL);
  if (!w->channel_exponents || w->bias_floor || !bt || !bt->data ||
      tqt_tensor_numel(bt) != (int64_t)w->n_channels)
    return TQT_STATUS_OK;
  if (!(w->bias_floor = tqt_arena_calloc(p->arena, w->n_channels, sizeof *w->bias_floor)))
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  double top = ldexp(1.0, b->bits - 1) - 1;
  for (size_t ch = 0; ch < w->n_channels; ch++)
    w->bias_floor[ch] = (float)(fabs(((const float *)bt->data)[ch]) / top);
  w->bias_floor_input = b->bias_input;
  return TQT_STATUS_OK;
}

/* Exponents of a weight: one for the tensor, or one per output channel. */
static enum tqt_status calib_weight(struct tqt_quant_plan *p, struct tqt_qtensor *t,
                                    const struct tqt_model *m, const struct tqt_options *o,
                                    const struct tqt_node_settings *s, struct tqt_diag *d) {
  const struct tqt_tensor *w = tqt_quant_initializer(m, t->name, NULL, NULL);
  if (!w || !w->data)
    return tqt_diag_fail(d, TQT_STATUS_INVALID, "weight '%s' has no data", t->name);
  t->method = calib_method(s->weight_method, TQT_THRESHOLD_METHOD_MAX);
  struct tqt_threshold_params tp = {t->method, t->bits, true, s->percentile};
  struct tqt_histogram *h = tqt_arena_calloc(p->arena, 1, sizeof *h);
  if (!h) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  int64_t numel = tqt_tensor_numel(w);
  const float *x = w->data;
  bool per_channel = o->per_channel && t->axis >= 0 && (size_t)t->axis < w->rank;
  if (!per_channel) {
    tqt_histogram_init(h);
    tqt_histogram_add(h, x, (size_t)numel);
    t->hist = h;
    t->threshold = tqt_threshold(h, &tp);
    t->exponent = tqt_threshold_exponent(t->threshold);
    return TQT_STATUS_OK;
  }
  /* The slice of channel c: outer × [c] × inner blocks. */
  int64_t outer = 1, inner = 1, n_ch = w->dims[t->axis];
  for (int i = 0; i < t->axis; i++) outer *= w->dims[i];
  for (size_t i = (size_t)t->axis + 1; i < w->rank; i++) inner *= w->dims[i];
  t->n_channels = (size_t)n_ch;
  t->channel_exponents = tqt_arena_calloc(p->arena, (size_t)n_ch + 1, sizeof *t->channel_exponents);
  if (!t->channel_exponents) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  for (int64_t ch = 0; ch < n_ch; ch++) {
    tqt_histogram_init(h);
    for (int64_t o_ = 0; o_ < outer; o_++)
      tqt_histogram_add(h, x + (o_ * n_ch + ch) * inner, (size_t)inner);
    t->channel_exponents[ch] = tqt_threshold_exponent(tqt_threshold(h, &tp));
    if (ch == 0 || t->channel_exponents[ch] > t->exponent) t->exponent = t->channel_exponents[ch];
  }
  return TQT_STATUS_OK;
}

double tqt_quant_scale(const struct tqt_quant_plan *p, const struct tqt_qtensor *t, size_t c) {
  if (t->kind == TQT_QTENSOR_KIND_BIAS)
    return tqt_quant_scale(p, &p->tensors[t->bias_input], 0) *
           tqt_quant_scale(p, &p->tensors[t->bias_weight], c);
  return tqt_scale_of(tqt_quant_exponent(p, t, c), t->bits, t->is_signed);
}

int tqt_quant_exponent(const struct tqt_quant_plan *p, const struct tqt_qtensor *t, size_t c) {
  int e = t->channel_exponents && c < t->n_channels ? t->channel_exponents[c] : t->exponent;
  if (t->bias_floor && c < t->n_channels && t->bias_floor[c] > 0) {
    double s_in = tqt_quant_scale(p, &p->tensors[t->bias_floor_input], 0);
    int need = tqt_threshold_exponent(t->bias_floor[c] / s_in * ldexp(1.0, t->bits - 1));
    if (need > e) e = need;
  }
  return e;
}

static bool calib_is_graph_input(const struct tqt_model *m, const char *name) {
  for (size_t i = 0; i < m->graph->n_inputs; i++)
    if (!strcmp(m->graph->inputs[i].name, name)) return true;
  return false;
}

/* The activation method when none is set: KL-J, except where what it clips is lost: the model's
 * outputs that no node reads, and the outputs of ops with a bounded range (Sigmoid, HardSigmoid,
 * Softmax), whose high values (probabilities, gates) are what a threshold or the user reads.
 * KL-J weighs the histogram's shape, and cuts a mostly-near-zero sigmoid far below its peaks (a
 * wake-word score of 0.9 clipped to 0.06; a segmentation mask that never reaches 0.5). An output
 * that nodes read on is the model's computation too: ISNet's decoder features, also outputs, at
 * max (a few values 50 times the spread) left most of their values on zero, and the mask. */
static enum tqt_threshold_method calib_act_default(const struct tqt_model *m,
                                                   const struct tqt_qtensor *t) {
  static const char *const bounded[] = {"Sigmoid", "HardSigmoid", "Softmax"};
  for (size_t i = 0; i < m->graph->n_outputs; i++)
    if (!strcmp(m->graph->outputs[i].name, t->name) && tqt_graph_readers(m->graph, t->name) == 1)
      return TQT_THRESHOLD_METHOD_MAX;
  const struct tqt_node *n = t->owner;
  if (n && n->n_outputs && !strcmp(n->outputs[0], t->name) && !*n->domain)
    for (size_t i = 0; i < sizeof bounded / sizeof *bounded; i++)
      if (!strcmp(n->op_type, bounded[i])) return TQT_THRESHOLD_METHOD_MAX;
  return TQT_THRESHOLD_METHOD_KL_J;
}

/* An Add aligns its inputs unless their own exponents lie further apart than this: aligned,
 * the smaller would keep 1/16 of its grid or less (scores of ±2 next to a mask of -10000 kept
 * none). */
#define CALIB_ALIGN_MAX_STEPS 4

/* One exponent per scale group (from each member's own): the largest, so that no member clips
 * more than it chose to. */
static void calib_group_exponents(struct tqt_quant_plan *p) {
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i], *root = &p->tensors[tqt_quant_group_root(p, i)];
    if (t->kind != TQT_QTENSOR_KIND_BIAS && t->exponent > root->exponent) root->exponent = t->exponent;
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i], *root = &p->tensors[tqt_quant_group_root(p, i)];
    if (t->kind != TQT_QTENSOR_KIND_BIAS && !t->channel_exponents) t->exponent = root->exponent;
  }
}

/* The threshold of activation t by tp. A Softmax reads its input relative to each row's
 * largest value, and a value CALIB_SOFTMAX_DEPTH below it weighs e^-16 (1e-7), nothing at the
 * output's 2^-8 steps even summed over thousands: the threshold of a Softmax input reaches that
 * far below its largest value and no further. What lies below (an attention mask's -10000
 * added to the scores) is clipped there, and the scores keep a grid they can use: a BERT-like
 * encoder's attention kept 1 of its 128 steps (41 % top-1 against 100 %) without this. */
#define CALIB_SOFTMAX_DEPTH 16.0
static double calib_activation_threshold(const struct tqt_qtensor *t,
                                         const struct tqt_threshold_params *tp) {
  double threshold = tqt_threshold(t->hist, tp);
  double reach = fmax(t->hist->max, 0) + CALIB_SOFTMAX_DEPTH;
  return t->softmax_input && threshold > reach ? reach : threshold;
}

struct rethreshold {
  struct tqt_quant_plan *p;
  enum tqt_threshold_method method;
  double percentile;
};

/* Tensor i's threshold by the method (each tensor its own: any worker, any order). */
static enum tqt_status rethreshold_one(void *ctx, size_t worker, size_t i, struct tqt_diag *d) {
  (void)worker;
  (void)d;
  const struct rethreshold *r = ctx;
  struct tqt_qtensor *t = &r->p->tensors[i];
  if (t->skip || t->kind == TQT_QTENSOR_KIND_BIAS || t->channel_exponents) return TQT_STATUS_OK;
  if (t->method_auto) {
    struct tqt_threshold_params tp = {r->method, t->bits, t->is_signed, r->percentile};
    t->method = r->method;
    t->threshold = calib_activation_threshold(t, &tp);
  }
  t->exponent = tqt_threshold_exponent(t->threshold);
  return TQT_STATUS_OK;
}

enum tqt_status tqt_quant_plan_rethreshold(struct tqt_quant_plan *p, enum tqt_threshold_method method,
                                           double percentile, size_t workers, struct tqt_diag *d) {
  struct rethreshold r = {p, method, percentile};
  enum tqt_status st = tqt_parallel_run(p->n_tensors, workers, rethreshold_one, NULL, &r, d);
  if (st == TQT_STATUS_OK) calib_group_exponents(p);
  return st;
}

/* Node ni of graph gi turns FLOAT (it was QUANTIZED): a tensor it quantized stays float. A
 * Conv/Gemm/MatMul whose output this Relu/Clip was to quantize (plan.c) goes float with it.
 * Counts it and names the first few in list. */
static void calib_node_float(struct tqt_quant_plan *p, size_t gi, size_t ni, size_t *count,
                             char *list, size_t size) {
  struct tqt_quant_graph *qg = &p->graphs[gi];
  if (qg->states[ni] != TQT_NODE_QUANT_QUANTIZED) return;
  const struct tqt_node *n = qg->graph->nodes[ni];
  qg->states[ni] = TQT_NODE_QUANT_FLOAT;
  qg->reasons[ni] = qg->depth > 0 ? "in a branch never taken during calibration"
                                  : "no calibration sample gave its output a value";
  p->n_quantized_nodes--;
  p->n_compute_quantized -= tqt_quant_is_compute(n);
  size_t len = strlen(list);
  if (++*count <= 4)
    snprintf(list + len, size - len, "%s'%s' (%s)%s%s%s", len ? ", " : "", n->name, n->op_type,
             qg->depth ? " in body '" : "", qg->depth && qg->graph->name ? qg->graph->name : "",
             qg->depth ? "'" : "");
  else if (*count == 5)
    snprintf(list + len, size - len, ", ...");
  for (size_t j = 0; j < ni && n->n_inputs && *n->inputs[0]; j++) {
    const struct tqt_node *prev = qg->graph->nodes[j];
    if (tqt_quant_is_compute(prev) && prev->n_outputs && !strcmp(prev->outputs[0], n->inputs[0]) &&
        !tqt_name_map_get(&p->index, prev->outputs[0], NULL))
      calib_node_float(p, gi, j, count, list, size);
  }
}

/* Activations no calibration sample computed lie in a branch never taken: no threshold can be
 * known, so they stay float (skip), as do the biases scaled by them and those of nodes that turn
 * FLOAT. Weights need no calibration and stay quantized. One warning says how many. */
static void calib_skip_unseen(struct tqt_quant_plan *p, struct tqt_diag *d) {
  size_t n_tensors = 0, n_nodes = 0;
  char list[512] = "";
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i];
    t->skip = t->kind == TQT_QTENSOR_KIND_ACTIVATION && !t->hist->count;
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i];
    if (t->kind == TQT_QTENSOR_KIND_BIAS && p->tensors[t->bias_input].skip) t->skip = true;
    if (t->skip) calib_node_float(p, t->owner_graph, t->owner_node, &n_nodes, list, sizeof list);
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i];
    if (t->kind == TQT_QTENSOR_KIND_BIAS &&
        p->graphs[t->owner_graph].states[t->owner_node] != TQT_NODE_QUANT_QUANTIZED)
      t->skip = true;
    if (!t->skip) continue;
    t->threshold = 0; /* the least exponent: no part in its scale group's */
    t->exponent = TQT_EXPONENT_MIN;
    n_tensors++;
  }
  p->n_skipped = n_tensors;
  if (n_tensors)
    tqt_diag_warn(d, "%zu tensors stay float, computed by no calibration sample (a branch never "
                  "taken), and %zu node%s with them: %s", n_tensors, n_nodes,
                  n_nodes == 1 ? "" : "s", list);
}

/* One warning when calibration met NaN or ±inf in quantized activations, naming the first (in
 * node order: where they come from) and counting the others: the quantized model cannot follow
 * the float one there. */
static void calib_warn_nonfinite(const struct tqt_quant_plan *p, struct tqt_diag *d) {
  const struct tqt_qtensor *first = NULL;
  size_t others = 0;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || t->kind != TQT_QTENSOR_KIND_ACTIVATION || !t->hist->nonfinite) continue;
    if (first && (t->owner_graph > first->owner_graph ||
                  (t->owner_graph == first->owner_graph && t->owner_node >= first->owner_node))) {
      others++;
      continue;
    }
    others += first != NULL;
    first = t;
  }
  if (!first) return;
  const struct tqt_histogram *h = first->hist;
  tqt_diag_warn(d, "tensor '%s' (at node '%s' (%s)): %llu of %llu calibration values are NaN "
                "or infinite (and in %zu more tensors); QuantizeLinear makes NaN the type's lowest "
                "value and infinities its ends, so the quantized model differs from the float one "
                "there", first->name, first->owner->name, first->owner->op_type,
                (unsigned long long)h->nonfinite, (unsigned long long)(h->nonfinite + h->count),
                others);
}

struct finish {
  struct tqt_quant_plan *p;
  struct tqt_threshold_params *params; /* per tensor; method of an activation's */
};

/* Activation i's threshold by its parameters (each its own: any worker, any order). */
static enum tqt_status finish_threshold(void *ctx, size_t worker, size_t i, struct tqt_diag *d) {
  (void)worker;
  (void)d;
  const struct finish *f = ctx;
  struct tqt_qtensor *t = &f->p->tensors[i];
  if (t->skip || t->kind != TQT_QTENSOR_KIND_ACTIVATION) return TQT_STATUS_OK;
  t->threshold = calib_activation_threshold(t, &f->params[i]);
  t->exponent = tqt_threshold_exponent(t->threshold);
  return TQT_STATUS_OK;
}

enum tqt_status tqt_quant_plan_finish(struct tqt_quant_plan *p, const struct tqt_model *m,
                                      const struct tqt_options *o, size_t workers,
                                      struct tqt_diag *d) {
  /* Graph inputs are the data itself: what is clipped there no layer recovers, and their
   * histograms (an image's background value) can mislead KL-J into cutting most of the range.
   * Other tensors take the methods of the node that quantizes them (node, op type, global). */
  enum tqt_threshold_method input_method = calib_method(o->input_method, TQT_THRESHOLD_METHOD_MAX);
  struct tqt_overrides *ov = NULL;
  struct tqt_name_map softmax_inputs;
  static const char *const softmax[] = {"Softmax"};
  struct finish f = {p, calloc(p->n_tensors + 1, sizeof *f.params)};
  tqt_name_map_init(&softmax_inputs);
  enum tqt_status st = f.params ? tqt_overrides_create(o, &ov, d)
                                : tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  if (st == TQT_STATUS_OK && tqt_quant_op_inputs(m, softmax, 1, &softmax_inputs))
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  if (st == TQT_STATUS_OK) calib_skip_unseen(p, d);
  for (size_t i = 0; st == TQT_STATUS_OK && i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i];
    struct tqt_node_settings s;
    if (t->skip) continue;
    tqt_overrides_resolve(ov, t->owner, &s);
    if (t->kind == TQT_QTENSOR_KIND_WEIGHT) {
      st = calib_weight(p, t, m, o, &s, d);
    } else if (t->kind == TQT_QTENSOR_KIND_ACTIVATION) {
      bool input = calib_is_graph_input(m, t->name);
      enum tqt_threshold_method dflt = calib_act_default(m, t);
      enum tqt_threshold_method act = input ? input_method : calib_method(s.act_method, dflt);
      /* KL-J by default, or asked for as "auto": tqt_quant_method_choose may pick another. */
      t->method_auto = !input && dflt == TQT_THRESHOLD_METHOD_KL_J &&
                       (!s.act_method || !strcmp(s.act_method, "auto"));
      t->method = act;
      f.params[i] = (struct tqt_threshold_params){act, t->bits, t->is_signed, s.percentile};
      t->softmax_input = tqt_name_map_get(&softmax_inputs, t->name, NULL);
    }
  }
  /* after the loop: a bias's weight has its channels then */
  for (size_t i = 0; st == TQT_STATUS_OK && i < p->n_tensors; i++)
    if (!p->tensors[i].skip && p->tensors[i].kind == TQT_QTENSOR_KIND_BIAS)
      st = calib_bias_floor(p, &p->tensors[i], m, d);
  if (st == TQT_STATUS_OK)
    st = tqt_parallel_run(p->n_tensors, workers, finish_threshold, NULL, &f, d);
  for (size_t i = 0; st == TQT_STATUS_OK && i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (!t->skip && t->kind == TQT_QTENSOR_KIND_ACTIVATION)
      tqt_diag_note(d, "tensor '%s': %s threshold %g (max |x| %g), exponent %d, %s%d", t->name,
                    tqt_threshold_method_name(t->method), t->threshold,
                    fmax(fabs(t->hist->min), fabs(t->hist->max)), t->exponent,
                    t->is_signed ? "int" : "uint", t->bits);
  }
  free(f.params);
  tqt_overrides_destroy(ov);
  tqt_name_map_free(&softmax_inputs);
  if (st != TQT_STATUS_OK) return st;
  calib_warn_nonfinite(p, d);
  tqt_quant_groups_split(p, CALIB_ALIGN_MAX_STEPS, d);
  calib_group_exponents(p);
  /* The accumulator check: wbits + abits + ceil(log2 K) against 32 bits. */
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->kind != TQT_QTENSOR_KIND_WEIGHT || !t->owner || t->axis < 0 ||
        p->graphs[t->owner_graph].states[t->owner_node] != TQT_NODE_QUANT_QUANTIZED)
      continue;
    const struct tqt_tensor *w = tqt_quant_initializer(m, t->name, NULL, NULL);
    int64_t n_out = w && (size_t)t->axis < w->rank ? w->dims[t->axis] : 0;
    if (n_out <= 0) continue;
    int64_t k = tqt_tensor_numel(w) / n_out;
    /* The bits of the activation the weight multiplies (its node's input 0). */
    const struct tqt_qtensor *x = t->owner->n_inputs ? tqt_quant_plan_find(p, t->owner->inputs[0])
                                                     : NULL;
    int abits = x ? x->bits : o->abits ? o->abits : 8;
    int need = t->bits + abits + (int)ceil(log2((double)(k > 1 ? k : 1)));
    if (need > 32)
      tqt_diag_warn(d, "node '%s' (%s): %d-bit accumulator needed worst case (K = %lld), 32 available",
                    t->owner->name, t->owner->op_type, need, (long long)k);
    else
      tqt_diag_note(d, "node '%s' (%s): accumulator %d of 32 bits worst case (K = %lld)",
                    t->owner->name, t->owner->op_type, need, (long long)k);
  }
  return TQT_STATUS_OK;
}

/* ---- runs over the samples ---- */

struct run {
  const struct tqt_quant_observers *obs;
  struct tqt_sample_worker *workers;
  size_t n_in, count, runs, *ran;
  bool random;
  uint64_t state;
  tqt_progress_fn progress;
  void *progress_ctx;
};

static enum tqt_status run_sample(void *ctx, size_t worker, size_t k, struct tqt_diag *d) {
  struct run *r = ctx;
  struct tqt_sample_worker *w = &r->workers[worker];
  /* spread evenly over the samples: the first ones are often alike (one folder) */
  size_t s = r->runs == r->count ? k
                                  : (size_t)(((double)k + 0.5) * (double)r->count / (double)r->runs);
  enum tqt_status st = r->random ? tqt_dataset_random(w->in, w->values, &r->state, d)
                                 : tqt_dataset_sample(w->ds, s, w->values, d);
  if (st == TQT_STATUS_OK && (st = tqt_interp_run(w->in, w->ptrs, r->n_in, d)) != TQT_STATUS_OK)
    tqt_diag_prefix(d, "calibration sample %zu: ", s);
  return st;
}

static enum tqt_status run_commit(void *ctx, size_t worker, size_t k, struct tqt_diag *d) {
  struct run *r = ctx;
  enum tqt_status st = TQT_STATUS_OK;
  if (r->obs->commit) st = r->obs->commit(r->obs->shared, r->obs->worker_ctx[worker], d);
  if (st != TQT_STATUS_OK) return st;
  ++*r->ran;
  if (r->progress) r->progress(r->progress_ctx, k + 1, r->runs);
  return TQT_STATUS_OK;
}

enum tqt_status tqt_quant_dataset_run(const struct tqt_quant_plan *p, struct tqt_model *m,
                                      const char *const *specs, size_t n_specs,
                                      size_t max_samples, size_t spread,
                                      const struct tqt_quant_observers *obs,
                                      tqt_progress_fn progress, void *progress_ctx, size_t *ran,
                                      struct tqt_diag *d) {
  struct run r = {.obs = obs, .ran = ran, .random = n_specs == 1 && !strcmp(specs[0], "random"),
                  .state = 0x7471742d72616e64ull, .progress = progress,
                  .progress_ctx = progress_ctx};
  /* random inputs come from one generator in sample order: one worker */
  size_t workers = r.random || obs->workers < 1 ? 1 : obs->workers;
  struct tqt_interp_options io = {.threads = 1, .observer = obs->observe};
  *ran = 0;
  enum tqt_status st = tqt_sample_workers_create(m, &io, obs->worker_ctx, workers,
                                                 r.random ? NULL : specs, n_specs, p->preprocess,
                                                 &r.workers, &r.n_in, d);
  if (st != TQT_STATUS_OK) goto fail;
  r.count = max_samples ? max_samples : 16;
  if (!r.random) {
    r.count = tqt_dataset_count(r.workers[0].ds);
    if (max_samples && max_samples < r.count) r.count = max_samples;
  }
  r.runs = spread && spread < r.count ? spread : r.count;
  st = tqt_parallel_run(r.runs, workers, run_sample, run_commit, &r, d);
fail:
  for (size_t k = 0; r.random && r.workers && k < workers; k++) /* owned: tqt_dataset_random */
    for (size_t i = 0; r.workers[k].values && i < r.n_in; i++)
      tqt_value_release(&r.workers[k].values[i]);
  tqt_sample_workers_destroy(r.workers, workers);
  return st;
}

enum tqt_status tqt_quant_calibrate(struct tqt_quant_plan *p, struct tqt_model *m,
                                    const char *const *specs, size_t n_specs, size_t max_samples,
                                    int threads, tqt_progress_fn progress, void *progress_ctx,
                                    struct tqt_diag *d) {
  size_t ran = 0;
  struct tqt_quant_hists *h = NULL;
  struct tqt_histogram **targets = calloc(p->n_tensors + 1, sizeof *targets);
  enum tqt_status st;
  if (!targets) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < p->n_tensors; i++)
    if (p->tensors[i].kind == TQT_QTENSOR_KIND_ACTIVATION) targets[i] = p->tensors[i].hist;
  if ((st = tqt_quant_hists_create(p, targets, threads > 1 ? (size_t)threads : 1, &h, d)) ==
      TQT_STATUS_OK)
    st = tqt_quant_dataset_run(p, m, specs, n_specs, max_samples, 0, tqt_quant_hists_observers(h),
                               progress, progress_ctx, &ran, d);
  p->samples += ran;
  tqt_quant_hists_destroy(h);
  free(targets);
  return st;
}
