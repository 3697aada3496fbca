/* Fixed-point export (fixpoint.h). */
#include "fixpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_edit.h"
#include "ir_names.h"
#include "stats.h"

struct fix_ctx {
  const struct tqt_quant_plan *p;
  const struct tqt_model *fm, *qm;
  struct tqt_name_map initializers; /* float model, every graph: name → tensor */
  struct tqt_name_map dq_inputs;    /* quantized model: DequantizeLinear output → its input */
  json_t *layers;
  bool bad;
};

static void fix_set(json_t *obj, const char *key, json_t *v, bool *bad) {
  if (!v || json_object_set_new(obj, key, v)) *bad = true;
}

static void fix_push(json_t *arr, json_t *v, bool *bad) {
  if (!v || json_array_append_new(arr, v)) *bad = true;
}

static bool fix_per_channel(const struct tqt_quant_plan *p, const struct tqt_qtensor *t) {
  if (t->kind == TQT_QTENSOR_KIND_BIAS) return p->tensors[t->bias_weight].channel_exponents != NULL;
  return t->channel_exponents != NULL;
}

static size_t fix_channels(const struct tqt_quant_plan *p, const struct tqt_qtensor *t) {
  const struct tqt_qtensor *c = t->kind == TQT_QTENSOR_KIND_BIAS ? &p->tensors[t->bias_weight] : t;
  return c->channel_exponents ? c->n_channels : 1;
}

/* fp of channel c: −log2 of the scale (an exact power of two). */
static int fix_fp(const struct tqt_quant_plan *p, const struct tqt_qtensor *t, size_t c) {
  return -ilogb(tqt_quant_scale(p, t, c));
}

/* An int, or an array of ints per channel. */
static json_t *fix_ints(const int *v, size_t n, bool as_array) {
  if (!as_array) return json_integer(v[0]);
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_integer(v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static const char *fix_container(const struct tqt_qtensor *t) {
  if (t->kind == TQT_QTENSOR_KIND_BIAS) return "int32";
  if (t->bits <= 8) return t->is_signed ? "int8" : "uint8";
  return t->is_signed ? "int16" : "uint16";
}

static json_t *fix_tensor(struct fix_ctx *c, const struct tqt_qtensor *t) {
  static const char *const kinds[] = {"activation", "weight", "bias"};
  json_t *j = json_object();
  if (!j) return NULL;
  size_t n = fix_channels(c->p, t);
  bool pc = fix_per_channel(c->p, t);
  int *fp = calloc(n, sizeof *fp);
  if (!fp) {
    json_decref(j);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) fp[i] = fix_fp(c->p, t, i);
  fix_set(j, "name", json_string(t->name), &c->bad);
  fix_set(j, "kind", json_string(kinds[t->kind]), &c->bad);
  fix_set(j, "bits", json_integer(t->bits), &c->bad);
  fix_set(j, "signed", json_boolean(t->is_signed), &c->bad);
  fix_set(j, "container", json_string(fix_container(t)), &c->bad);
  fix_set(j, "exponent", t->kind == TQT_QTENSOR_KIND_BIAS || t->channel_exponents
                             ? json_null() : json_integer(t->exponent), &c->bad);
  fix_set(j, "fp", pc ? json_null() : json_integer(fp[0]), &c->bad);
  if (pc) fix_set(j, "channel_fp", fix_ints(fp, n, true), &c->bad);
  void *v;
  if (t->kind != TQT_QTENSOR_KIND_ACTIVATION && tqt_name_map_get(&c->dq_inputs, t->name, &v))
    fix_set(j, "integer_initializer", json_string(v), &c->bad);
  free(fp);
  return j;
}

static const struct tqt_qtensor *fix_input(const struct fix_ctx *c, const struct tqt_node *n,
                                           size_t k, enum tqt_qtensor_kind kind) {
  if (k >= n->n_inputs || !*n->inputs[k]) return NULL;
  const struct tqt_qtensor *t = tqt_quant_plan_find(c->p, n->inputs[k]);
  return t && t->kind == kind ? t : NULL;
}

/* A scalar float initializer's value, or fallback. */
static double fix_scalar(const struct fix_ctx *c, const struct tqt_node *n, size_t k,
                         double fallback) {
  void *v;
  if (k >= n->n_inputs || !*n->inputs[k] || !tqt_name_map_get(&c->initializers, n->inputs[k], &v))
    return fallback;
  return tqt_tensor_float_scalar(v, (float)fallback);
}

/* The integers of a constant as qdq.c makes them (channel c of element i via axis/inner). */
static double fix_quantize(const struct tqt_quant_plan *p, const struct tqt_qtensor *t, float x,
                           size_t ch) {
  double lo = t->is_signed ? -ldexp(1.0, t->bits - 1) : 0;
  double hi = t->is_signed ? ldexp(1.0, t->bits - 1) - 1 : ldexp(1.0, t->bits) - 1;
  float s = (float)tqt_quant_scale(p, t, ch);
  double q = nearbyint((double)(x / s));
  return q < lo ? lo : q > hi ? hi : q;
}

/* The accumulator bound the integer weights and bias give, in bits (sign included). */
static int fix_acc_from_weights(const struct fix_ctx *c, const struct tqt_qtensor *in,
                                const struct tqt_qtensor *w, const struct tqt_qtensor *b,
                                const struct tqt_tensor *wt) {
  int64_t numel = tqt_tensor_numel(wt), n_out = 1, inner = 1;
  if (w->axis >= 0 && (size_t)w->axis < wt->rank) {
    n_out = wt->dims[w->axis];
    for (size_t i = (size_t)w->axis + 1; i < wt->rank; i++) inner *= wt->dims[i];
  }
  double *sum = calloc((size_t)n_out + 1, sizeof *sum);
  if (!sum || n_out <= 0) {
    free(sum);
    return 0;
  }
  const float *x = wt->data;
  size_t n_ch = fix_channels(c->p, w);
  for (int64_t i = 0; i < numel; i++) {
    int64_t o = (i / inner) % n_out;
    sum[o] += fabs(fix_quantize(c->p, w, x[i], n_ch > 1 ? (size_t)o : 0));
  }
  double xmax = in->is_signed ? ldexp(1.0, in->bits - 1) : ldexp(1.0, in->bits) - 1;
  void *v;
  const struct tqt_tensor *bt = b && tqt_name_map_get(&c->initializers, b->name, &v) ? v : NULL;
  double worst = 0;
  for (int64_t o = 0; o < n_out; o++) {
    double bound = sum[o] * xmax;
    if (bt && bt->data && bt->dtype == TQT_DTYPE_FLOAT && tqt_tensor_numel(bt) == n_out)
      bound += fabs(fix_quantize(c->p, b,
                                 ((const float *)bt->data)[o] -
                                     (b->bias_correction ? b->bias_correction[o] : 0.0f),
                                 n_ch > 1 ? (size_t)o : 0));
    if (bound > worst) worst = bound;
  }
  free(sum);
  return (int)ceil(log2(worst + 1)) + 1;
}

/* The layer of node n of graph g (the float model's), or NULL when it is not quantized. */
static json_t *fix_layer(struct fix_ctx *c, const struct tqt_graph *g, const struct tqt_node *n) {
  const struct tqt_qtensor *in = fix_input(c, n, 0, TQT_QTENSOR_KIND_ACTIVATION);
  const struct tqt_qtensor *w = fix_input(c, n, 1, TQT_QTENSOR_KIND_WEIGHT);
  const struct tqt_qtensor *b = fix_input(c, n, 2, TQT_QTENSOR_KIND_BIAS);
  if (!in || !w || !n->n_outputs) return NULL;
  /* The quantized output: the node's own, or the Relu/Clip's that quantizes for it. */
  const struct tqt_node *act = NULL;
  const struct tqt_qtensor *out = tqt_quant_plan_find(c->p, n->outputs[0]);
  if (!out) {
    size_t at;
    act = tqt_graph_only_reader(g, n->outputs[0], &at);
    if (!act || *act->domain || (strcmp(act->op_type, "Relu") && strcmp(act->op_type, "Clip")) ||
        !act->n_outputs || !(out = tqt_quant_plan_find(c->p, act->outputs[0])))
      return NULL;
  }
  if (out->kind != TQT_QTENSOR_KIND_ACTIVATION) return NULL;
  json_t *j = json_object();
  if (!j) return NULL;
  size_t n_ch = fix_channels(c->p, w);
  bool pc = n_ch > 1 || w->channel_exponents;
  int fp_in = fix_fp(c->p, in, 0), fp_out = fix_fp(c->p, out, 0);
  int *fp_w = calloc(n_ch, sizeof *fp_w), *fp_b = calloc(n_ch, sizeof *fp_b);
  int *shift = calloc(n_ch, sizeof *shift), *bshift = calloc(n_ch, sizeof *bshift);
  if (!fp_w || !fp_b || !shift || !bshift) {
    c->bad = true;
    goto done;
  }
  for (size_t i = 0; i < n_ch; i++) {
    fp_w[i] = fix_fp(c->p, w, i);
    fp_b[i] = b ? fix_fp(c->p, b, i) : 0;
    shift[i] = fp_in + fp_w[i] - fp_out;
    bshift[i] = fp_in + fp_w[i] - fp_b[i];
  }
  fix_set(j, "node", json_string(n->name), &c->bad);
  fix_set(j, "op_type", json_string(n->op_type), &c->bad);
  fix_set(j, "input", json_string(in->name), &c->bad);
  fix_set(j, "weight", json_string(w->name), &c->bad);
  fix_set(j, "bias", b ? json_string(b->name) : json_null(), &c->bad);
  fix_set(j, "output", json_string(out->name), &c->bad);
  fix_set(j, "activation", act ? json_string(act->op_type) : json_null(), &c->bad);
  if (act && !strcmp(act->op_type, "Clip")) {
    bool old = act->n_inputs < 2; /* Clip-6 keeps its bounds in attributes */
    double lo = old ? tqt_attr_float(act, "min", -INFINITY) : fix_scalar(c, act, 1, -INFINITY);
    double hi = old ? tqt_attr_float(act, "max", INFINITY) : fix_scalar(c, act, 2, INFINITY);
    fix_set(j, "clip_min", tqt_json_real(lo), &c->bad);
    fix_set(j, "clip_max", tqt_json_real(hi), &c->bad);
  }
  fix_set(j, "fp_in", json_integer(fp_in), &c->bad);
  fix_set(j, "fp_w", fix_ints(fp_w, n_ch, pc), &c->bad);
  fix_set(j, "fp_b", b ? fix_ints(fp_b, n_ch, pc) : json_null(), &c->bad);
  fix_set(j, "fp_out", json_integer(fp_out), &c->bad);
  fix_set(j, "output_shift", fix_ints(shift, n_ch, pc), &c->bad);
  fix_set(j, "bias_shift", b ? fix_ints(bshift, n_ch, pc) : json_null(), &c->bad);
  double lo = out->is_signed ? -ldexp(1.0, out->bits - 1) : 0;
  double hi = out->is_signed ? ldexp(1.0, out->bits - 1) - 1 : ldexp(1.0, out->bits) - 1;
  json_t *range = json_pack("[II]", (json_int_t)lo, (json_int_t)hi);
  fix_set(j, "output_range", range, &c->bad);
  void *v;
  if (tqt_name_map_get(&c->initializers, w->name, &v)) {
    const struct tqt_tensor *wt = v;
    int64_t n_out = w->axis >= 0 && (size_t)w->axis < wt->rank ? wt->dims[w->axis] : 1;
    int64_t k = n_out > 0 ? tqt_tensor_numel(wt) / n_out : 0;
    fix_set(j, "k", json_integer(k), &c->bad);
    fix_set(j, "accumulator_bits",
            json_integer(w->bits + in->bits + (int)ceil(log2((double)(k > 1 ? k : 1)))), &c->bad);
    if (wt->data && wt->dtype == TQT_DTYPE_FLOAT)
      fix_set(j, "accumulator_bits_from_weights",
              json_integer(fix_acc_from_weights(c, in, w, b, wt)), &c->bad);
  }
done:
  free(fp_w);
  free(fp_b);
  free(shift);
  free(bshift);
  return j;
}

/* tqt_graph_walk visitors over every graph (names are unique model-wide): the float model's
 * initializers, the quantized model's DequantizeLinear inputs, the float model's layers. */
static int fix_initializers_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fix_ctx *c = ctx;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (tqt_name_map_put(&c->initializers, g->initializers[i]->name, g->initializers[i]))
      c->bad = true;
  return 0;
}

static int fix_dq_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fix_ctx *c = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    if (!strcmp(n->op_type, "DequantizeLinear") && !*n->domain && n->n_inputs && n->n_outputs &&
        tqt_name_map_put(&c->dq_inputs, n->outputs[0], n->inputs[0]))
      c->bad = true;
  }
  return 0;
}

static int fix_layers_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fix_ctx *c = ctx;
  for (size_t i = 0; !c->bad && i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    if (!tqt_quant_is_compute(n)) continue;
    json_t *l = fix_layer(c, g, n);
    if (l) fix_push(c->layers, l, &c->bad);
  }
  return 0;
}

enum tqt_status tqt_fixpoint_build(const struct tqt_quant_plan *p,
                                   const struct tqt_model *float_model,
                                   const struct tqt_model *quant_model, json_t **out,
                                   struct tqt_diag *d) {
  *out = NULL;
  struct fix_ctx c = {.p = p, .fm = float_model, .qm = quant_model};
  tqt_name_map_init(&c.initializers);
  tqt_name_map_init(&c.dq_inputs);
  tqt_graph_walk(float_model->graph, fix_initializers_visit, &c);
  if (quant_model) tqt_graph_walk(quant_model->graph, fix_dq_visit, &c);
  json_t *j = json_object(), *tensors = json_array();
  c.layers = json_array();
  if (!j || !tensors || !c.layers) c.bad = true;
  fix_set(j, "format", json_string(TQT_FIXPOINT_FORMAT), &c.bad);
  fix_set(j, "version", json_integer(TQT_FIXPOINT_VERSION), &c.bad);
  fix_set(j, "convention",
          json_string("real = q * 2^-fp; fp = bits - 1 - exponent (signed), bits - exponent "
                      "(unsigned), exponent = ceil(log2 threshold); acc = sum(q_in * q_w) + "
                      "(q_b << bias_shift); q_out = clamp(round_half_even(acc / "
                      "2^output_shift), output_range) (a negative shift shifts left); "
                      "output_shift = fp_in + fp_w - fp_out"),
          &c.bad);
  /* tensors calibration left float (skip) have no fixed-point form */
  for (size_t i = 0; !c.bad && i < p->n_tensors; i++)
    if (!p->tensors[i].skip) fix_push(tensors, fix_tensor(&c, &p->tensors[i]), &c.bad);
  if (!c.bad) tqt_graph_walk(float_model->graph, fix_layers_visit, &c);
  fix_set(j, "tensors", tensors, &c.bad);
  fix_set(j, "layers", c.layers, &c.bad);
  tqt_name_map_free(&c.initializers);
  tqt_name_map_free(&c.dq_inputs);
  if (c.bad) {
    json_decref(j);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  *out = j;
  return TQT_STATUS_OK;
}
