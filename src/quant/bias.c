/* Bias correction (quant.h): each quantized Conv, ConvTranspose and Gemm gets its bias moved by
 * the mean error its quantization adds to each output channel.
 *
 * Rounding is not unbiased where values are not spread over many steps: a ReLU map whose values
 * mostly sit below one step rounds to zero, a weight row of a few large taps rounds one way, and
 * such a mean shift passes through every later layer (Nagel et al. 2019, "Data-free quantization
 * through weight equalization and bias correction", empirical form). One run measures every
 * layer: beside each corrected node runs a float copy of it ("shadow") on the same run's values
 * before their Q/DQ, with the float weights and bias, so the difference of the two outputs is what
 * this node's quantization alone (its input's Q/DQ, its weights', its bias') adds, whatever the
 * layers before it did. Correcting every layer by its own error leaves each one unbiased against
 * the float layer on the input it gets, which is what the chain needs.
 *
 * A channel is corrected only where the per-sample means of the difference tell a shift from
 * noise (more than two standard errors off zero); the corrections are kept when the error at the
 * model's outputs falls (mode auto): all together (one run), or layer by layer as the exponent
 * search judges its steps, whichever ends lower. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_edit.h"
#include "quant.h"

#define BIAS_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")
/* A channel's mean error must be this many standard errors (over the samples) off zero. */
#define BIAS_MIN_T 2.0

struct bias_layer {
  struct tqt_qtensor *bias;
  const struct tqt_node *node, *shadow; /* in the measured model */
  size_t width;         /* the bias's length */
  size_t n_channels;    /* width, or 0 once a sample's values do not fit it (not measurable) */
  size_t at;            /* where its means lie in a worker's */
  double *sum, *sumsq;  /* over samples, of the channel means' differences */
  size_t count;         /* samples measured */
  float *shift;         /* the measured shifts (NULL: none tell from noise) */
};

struct bias {
  struct bias_layer *layers;
  size_t n_layers, n_means;
};

/* What one worker of the measured run saw of its current sample, per layer. */
enum bias_seen { BIAS_SEEN_NONE, BIAS_SEEN_NODE, BIAS_SEEN_BOTH, BIAS_SEEN_MISFIT };
struct bias_worker {
  struct bias *b;
  double *means;         /* per layer at l->at: the node's channel means, then its shadow's */
  enum bias_seen *seen;  /* per layer */
};

/* The mean over everything but axis 1 (channels) of v, into out[n]; -1 when v is not a float
 * tensor of n channels. */
static int bias_channel_means(const struct tqt_value *v, size_t n, double *out) {
  if (v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype != TQT_DTYPE_FLOAT || v->t.rank < 2 ||
      (size_t)v->t.dims[1] != n)
    return -1;
  size_t outer = (size_t)v->t.dims[0], inner = 1;
  for (size_t i = 2; i < v->t.rank; i++) inner *= (size_t)v->t.dims[i];
  const float *x = v->t.data;
  for (size_t c = 0; c < n; c++) {
    double s = 0;
    for (size_t o = 0; o < outer; o++)
      for (size_t e = 0; e < inner; e++) s += x[(o * n + c) * inner + e];
    out[c] = outer && inner ? s / (double)(outer * inner) : 0;
  }
  return 0;
}

/* Interpreter observer of the measured run (ctx: a bias_worker): the channel means of each
 * node and then of its shadow in this sample. */
static int bias_observe(void *ctx, const struct tqt_node *node, const char *name,
                        const struct tqt_value *v, struct tqt_diag *d) {
  (void)name;
  (void)d;
  struct bias_worker *w = ctx;
  if (!node) return 0;
  for (size_t k = 0; k < w->b->n_layers; k++) {
    const struct bias_layer *l = &w->b->layers[k];
    double *means = w->means + l->at;
    if (node == l->node)
      w->seen[k] = bias_channel_means(v, l->width, means) ? BIAS_SEEN_MISFIT : BIAS_SEEN_NODE;
    else if (node == l->shadow && w->seen[k] == BIAS_SEEN_NODE)
      w->seen[k] = bias_channel_means(v, l->width, means + l->width) ? BIAS_SEEN_MISFIT
                                                                      : BIAS_SEEN_BOTH;
  }
  return 0;
}

/* After each sample, in sample order: its differences join the layers' sums. */
static enum tqt_status bias_commit(void *shared, void *worker_ctx, struct tqt_diag *d) {
  (void)d;
  struct bias *b = shared;
  struct bias_worker *w = worker_ctx;
  for (size_t k = 0; k < b->n_layers; k++) {
    struct bias_layer *l = &b->layers[k];
    enum bias_seen seen = w->seen[k];
    w->seen[k] = BIAS_SEEN_NONE;
    if (!l->n_channels) continue;
    if (seen == BIAS_SEEN_MISFIT) l->n_channels = 0;
    if (seen != BIAS_SEEN_BOTH) continue;
    const double *means = w->means + l->at;
    for (size_t c = 0; c < l->n_channels; c++) {
      double diff = means[c] - means[l->width + c];
      l->sum[c] += diff;
      l->sumsq[c] += diff * diff;
    }
    l->count++;
  }
  return TQT_STATUS_OK;
}

/* The value that the Q/DQ (Q → Clip → DQ, or Q → DQ) ending in `name` quantizes, or NULL. */
static const char *bias_unquantized(const struct tqt_graph *g, const char *name) {
  const struct tqt_node *n = tqt_graph_producer(g, name);
  if (!n || strcmp(n->op_type, "DequantizeLinear")) return NULL;
  n = tqt_graph_producer(g, n->inputs[0]);
  if (n && !strcmp(n->op_type, "Clip")) n = tqt_graph_producer(g, n->inputs[0]);
  return n && !strcmp(n->op_type, "QuantizeLinear") ? n->inputs[0] : NULL;
}

/* A float copy of the model's initializer `name` in qm's main graph under a fresh name. */
static const char *bias_float_copy(struct tqt_model *qm, const struct tqt_model *m,
                                   struct tqt_name_map *used, const char *name) {
  const struct tqt_tensor *t = tqt_quant_initializer(m, name, NULL, NULL);
  if (!t || t->dtype != TQT_DTYPE_FLOAT || !t->data) return NULL;
  char *stem = tqt_arena_printf(qm->arena, "%s_shadow", name);
  const char *fresh = stem ? tqt_name_fresh(qm->arena, used, stem) : NULL;
  if (!fresh || !tqt_graph_initializer_add(qm->arena, qm->graph, fresh, t->dtype, t->rank, t->dims,
                                           t->data))
    return NULL;
  return fresh;
}

/* qm: m with the plan's Q/DQ and, after each layer, its shadow. b->layers get their nodes. */
static enum tqt_status bias_measured_model(struct bias *b, const struct tqt_quant_plan *p,
                                           const struct tqt_model *m, struct tqt_model **out,
                                           struct tqt_diag *d) {
  struct tqt_name_map used;
  tqt_name_map_init(&used);
  enum tqt_status st = TQT_STATUS_OK;
  struct tqt_model *qm = tqt_model_clone(m);
  if (!qm) {
    st = BIAS_NOMEM(d);
    goto fail;
  }
  /* The clone has m's nodes in m's order: the plan's indexes find them before Q/DQ moves them. */
  for (size_t k = 0; k < b->n_layers; k++)
    b->layers[k].node = qm->graph->nodes[b->layers[k].bias->owner_node];
  if ((st = tqt_quant_insert(qm, p, d)) != TQT_STATUS_OK) goto fail;
  if (tqt_names_collect(qm, &used)) {
    st = BIAS_NOMEM(d);
    goto fail;
  }
  struct tqt_graph *g = qm->graph;
  struct tqt_node **nodes = tqt_arena_calloc(qm->arena, g->n_nodes + b->n_layers + 1, sizeof *nodes);
  if (!nodes) {
    st = BIAS_NOMEM(d);
    goto fail;
  }
  size_t n = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *node = g->nodes[i];
    nodes[n++] = node;
    struct bias_layer *l = NULL;
    for (size_t k = 0; k < b->n_layers && !l; k++)
      if (b->layers[k].node == node) l = &b->layers[k];
    if (!l) continue;
    const char *x = bias_unquantized(g, node->inputs[0]);
    const char *w = bias_float_copy(qm, m, &used, node->inputs[1]);
    const char *bias = bias_float_copy(qm, m, &used, node->inputs[2]);
    struct tqt_node *shadow = tqt_node_clone(qm->arena, node, NULL);
    const char *y = tqt_name_fresh(qm->arena, &used, "bias_correction_shadow");
    if (!x || !w || !bias || !shadow || !y) { /* not a Q/DQ-fed layer with float constants */
      l->node = NULL;
      continue;
    }
    shadow->inputs[0] = (char *)x;
    shadow->inputs[1] = (char *)w;
    shadow->inputs[2] = (char *)bias;
    shadow->outputs[0] = (char *)y;
    for (size_t k = 1; k < shadow->n_outputs; k++) shadow->outputs[k] = "";
    shadow->name = (char *)y;
    l->shadow = shadow;
    nodes[n++] = shadow;
  }
  g->nodes = nodes;
  g->n_nodes = n;
  g->cap_nodes = g->n_nodes + b->n_layers + 1;
  *out = qm;
  qm = NULL;
fail:
  tqt_name_map_free(&used);
  tqt_model_destroy(qm);
  return st;
}

/* The layers: the biases of the main graph's quantized Conv, ConvTranspose and Gemm. */
static enum tqt_status bias_layers_collect(struct bias *b, struct tqt_quant_plan *p,
                                           const struct tqt_model *m, struct tqt_diag *d) {
  if (!(b->layers = tqt_arena_calloc(p->arena, p->n_tensors + 1, sizeof *b->layers)))
    return BIAS_NOMEM(d);
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || t->kind != TQT_QTENSOR_KIND_BIAS || t->owner_graph != 0) continue;
    const struct tqt_tensor *init = tqt_quant_initializer(m, t->name, NULL, NULL);
    if (!init || init->dtype != TQT_DTYPE_FLOAT) continue;
    size_t n = (size_t)tqt_tensor_numel(init);
    struct bias_layer *l = &b->layers[b->n_layers++];
    l->bias = t;
    l->width = l->n_channels = n;
    l->at = b->n_means;
    b->n_means += 2 * n;
    l->sum = tqt_arena_calloc(p->arena, n + 1, sizeof *l->sum);
    l->sumsq = tqt_arena_calloc(p->arena, n + 1, sizeof *l->sumsq);
    if (!l->sum || !l->sumsq) return BIAS_NOMEM(d);
  }
  return TQT_STATUS_OK;
}

/* Each measured layer's shifts (l->shift), where its channels tell them from noise; -1 when out
 * of memory, else whether any channel moves. */
static int bias_shifts_measure(struct bias *b, struct tqt_arena *a) {
  int any = 0;
  for (size_t k = 0; k < b->n_layers; k++) {
    struct bias_layer *l = &b->layers[k];
    if (!l->node || !l->shadow || !l->n_channels || !l->count) continue;
    float *shift = tqt_arena_calloc(a, l->n_channels + 1, sizeof *shift);
    if (!shift) return -1;
    bool moved = false;
    for (size_t c = 0; c < l->n_channels; c++) {
      double n = (double)l->count, mean = l->sum[c] / n;
      double var = l->count > 1 ? fmax(0, (l->sumsq[c] - n * mean * mean) / (n - 1)) : 0;
      if (mean == 0 || (l->count > 1 && fabs(mean) <= BIAS_MIN_T * sqrt(var / n))) continue;
      shift[c] = (float)mean;
      moved = true;
    }
    if (moved) l->shift = shift;
    any |= moved;
  }
  return any;
}

/* Every measured shift applied (on) or none. */
static void bias_shifts_apply(struct bias *b, bool on) {
  for (size_t k = 0; k < b->n_layers; k++)
    b->layers[k].bias->bias_correction = on ? b->layers[k].shift : NULL;
}

enum tqt_status tqt_quant_bias_correct(struct tqt_quant_plan *p, const struct tqt_model *m,
                                       struct tqt_quant_samples *samples,
                                       enum tqt_search_mode mode, struct tqt_diag *d) {
  struct bias b = {0};
  struct bias_worker *workers = NULL;
  void **worker_ctx = NULL;
  struct tqt_model *qm = NULL;
  enum tqt_status st;
  double before, current, err;
  if ((st = bias_layers_collect(&b, p, m, d)) != TQT_STATUS_OK || !b.n_layers) goto done;
  /* The measured run (a shadow doubles its layer) and one check of all shifts, at any size (a
   * fixed number of runs grows with the model as calibration does); auto adds a check of each
   * layer's shifts on its own where the budget allows it. */
  double run = tqt_quant_samples_run_values(samples);
  if ((st = bias_measured_model(&b, p, m, &qm, d)) != TQT_STATUS_OK) goto done;
  /* The shadows read but write nothing the outputs depend on: this run's error is the plan's. */
  size_t n_workers = tqt_quant_samples_workers(samples);
  if (!(workers = calloc(n_workers, sizeof *workers)) ||
      !(worker_ctx = calloc(n_workers, sizeof *worker_ctx))) {
    st = BIAS_NOMEM(d);
    goto done;
  }
  for (size_t k = 0; k < n_workers; k++) {
    workers[k].b = &b;
    worker_ctx[k] = &workers[k];
    if (!(workers[k].means = calloc(b.n_means + 1, sizeof *workers[k].means)) ||
        !(workers[k].seen = calloc(b.n_layers + 1, sizeof *workers[k].seen))) {
      st = BIAS_NOMEM(d);
      goto done;
    }
  }
  struct tqt_quant_observers obs = {.observe = bias_observe, .worker_ctx = worker_ctx,
                                    .workers = n_workers, .commit = bias_commit, .shared = &b};
  if ((st = tqt_quant_samples_run(samples, qm, &obs, &before, d)) != TQT_STATUS_OK) goto done;
  int any = bias_shifts_measure(&b, p->arena);
  if (any < 0) {
    st = BIAS_NOMEM(d);
    goto done;
  }
  current = before;
  double together = INFINITY; /* the error with every layer's shifts applied */
  if (any) {
    bias_shifts_apply(&b, true);
    if ((st = tqt_quant_samples_error(samples, &together, d)) != TQT_STATUS_OK) goto done;
    bias_shifts_apply(&b, false);
  }
  /* auto, layer by layer: each layer's shifts kept where they lower the error, in plan order
   * with the earlier layers' choices applied, as the exponent search goes. Where all together
   * already help, only within a quarter of the budget: a run per layer bought 0.5 dB on the
   * oww embedding model and lost 0.9 dB on the generated ResNet-18 against all together. */
  double budget = together < before ? TQT_SEARCH_AUTO_BUDGET / 4 : TQT_SEARCH_AUTO_BUDGET;
  if (any && mode == TQT_SEARCH_MODE_AUTO && (double)(b.n_layers + 3) * run <= budget) {
    for (size_t k = 0; k < b.n_layers; k++) {
      struct bias_layer *l = &b.layers[k];
      if (!l->shift) continue;
      l->bias->bias_correction = l->shift;
      if ((st = tqt_quant_samples_error(samples, &err, d)) != TQT_STATUS_OK) goto done;
      if (err < current) current = err;
      else l->bias->bias_correction = NULL;
    }
  }
  if (any && (mode == TQT_SEARCH_MODE_ALWAYS || together < current)) {
    bias_shifts_apply(&b, true);
    current = together;
  }
  size_t layers = 0, channels = 0; /* what stays corrected */
  for (size_t k = 0; k < b.n_layers; k++) {
    const struct bias_layer *l = &b.layers[k];
    layers += l->bias->bias_correction != NULL;
    for (size_t c = 0; l->bias->bias_correction && c < l->n_channels; c++)
      channels += l->bias->bias_correction[c] != 0;
  }
  p->bias_layers = b.n_layers;
  p->bias_corrected_layers = layers;
  p->bias_channels = channels;
  p->bias_error_before = before;
  p->bias_error_after = current;
  tqt_diag_note(d, "bias correction: %zu channels of %zu of %zu layers shifted, output SQNR "
                "%.2f → %.2f dB", channels, layers, b.n_layers, -10 * log10(before),
                -10 * log10(current));
done:
  for (size_t k = 0; workers && k < tqt_quant_samples_workers(samples); k++) {
    free(workers[k].means);
    free(workers[k].seen);
  }
  free(workers);
  free(worker_ctx);
  tqt_model_destroy(qm);
  return st;
}
