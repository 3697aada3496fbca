/* Statistics of a quantization run and their merging (stats.h). */
#include "stats.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_io.h"
#include "ir_names.h"

/* ---- JSON helpers ---- */

json_t *tqt_json_real(double v) { return isfinite(v) ? json_real(v) : json_null(); }

double tqt_json_num(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *tqt_json_str(const json_t *obj, const char *key) {
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "";
}

long long tqt_json_int(const json_t *obj, const char *key, long long dflt) {
  const json_t *v = json_object_get(obj, key);
  return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* json_object_set_new that remembers a failure (out of memory) in *bad. */
static void stats_set(json_t *obj, const char *key, json_t *v, bool *bad) {
  if (!v || json_object_set_new(obj, key, v)) *bad = true;
}

static void stats_push(json_t *arr, json_t *v, bool *bad) {
  if (!v || json_array_append_new(arr, v)) *bad = true;
}

enum tqt_status tqt_json_write(const json_t *j, const char *path, int indent, struct tqt_diag *d) {
  struct tqt_file_atomic fa;
  enum tqt_status st = tqt_file_atomic_open(&fa, path, d);
  if (st != TQT_STATUS_OK) return st;
  size_t flags = indent > 0 ? JSON_INDENT(indent) : JSON_COMPACT;
  if (json_dumpf(j, fa.fp, flags | JSON_REAL_PRECISION(17)) != 0 || fputc('\n', fa.fp) == EOF) {
    tqt_file_atomic_abort(&fa);
    return tqt_diag_fail(d, TQT_STATUS_IO, "%s: write failed", path);
  }
  return tqt_file_atomic_commit(&fa, d);
}

enum tqt_status tqt_auto_bits_config_write(const struct tqt_quant_plan *p, int64_t opset,
                                           const char *path, struct tqt_diag *d) {
  bool bad = false;
  json_t *j = json_object(), *nodes = json_object();
  size_t unnamed = 0;
  for (size_t i = 0; j && nodes && i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || !t->owner || t->kind == TQT_QTENSOR_KIND_BIAS) continue;
    if (!t->owner->name[0]) {
      unnamed++;
      continue;
    }
    json_t *entry = json_object_get(nodes, t->owner->name);
    if (!entry) stats_set(nodes, t->owner->name, entry = json_object(), &bad);
    stats_set(entry, t->kind == TQT_QTENSOR_KIND_WEIGHT ? "wbits" : "abits",
              json_integer(t->bits), &bad);
  }
  stats_set(j, "opset", json_integer((json_int_t)opset), &bad);
  stats_set(j, "nodes", nodes, &bad);
  enum tqt_status st = bad || !j ? tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory")
                                 : tqt_json_write(j, path, 2, d);
  json_decref(j);
  if (st == TQT_STATUS_OK && unnamed)
    tqt_diag_warn(d, "%s: %zu tensors of nodes without a name are not in it (a config names "
                  "nodes); they take the global bits when it is given back", path, unnamed);
  return st;
}

enum tqt_status tqt_json_read(const char *path, json_t **out, struct tqt_diag *d) {
  json_error_t err;
  *out = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
  if (!*out)
    return tqt_diag_fail(d, err.line < 0 ? TQT_STATUS_IO : TQT_STATUS_PARSE, "%s:%d: %s", path,
                         err.line, err.text);
  return TQT_STATUS_OK;
}

/* ---- histograms ---- */

json_t *tqt_histogram_to_json(const struct tqt_histogram *h) {
  bool bad = false;
  json_t *j = json_object(), *bins = json_array();
  if (!j || !bins) {
    json_decref(j);
    json_decref(bins);
    return NULL;
  }
  size_t last = TQT_HIST_BINS;
  while (last > 0 && !h->bins[last - 1]) last--;
  for (size_t i = 0; i < last; i++) stats_push(bins, json_integer((json_int_t)h->bins[i]), &bad);
  stats_set(j, "bins_total", json_integer(TQT_HIST_BINS), &bad);
  stats_set(j, "range_exp", json_integer(h->range_exp), &bad);
  stats_set(j, "has_range", json_boolean(h->has_range), &bad);
  stats_set(j, "count", json_integer((json_int_t)h->count), &bad);
  stats_set(j, "zeros", json_integer((json_int_t)h->zeros), &bad);
  stats_set(j, "nonfinite", json_integer((json_int_t)h->nonfinite), &bad);
  stats_set(j, "min", h->count ? tqt_json_real(h->min) : json_null(), &bad);
  stats_set(j, "max", h->count ? tqt_json_real(h->max) : json_null(), &bad);
  stats_set(j, "sum", tqt_json_real(h->sum), &bad);
  stats_set(j, "sumsq", tqt_json_real(h->sumsq), &bad);
  stats_set(j, "bins", bins, &bad);
  if (bad) {
    json_decref(j);
    return NULL;
  }
  return j;
}

static bool stats_uint(const json_t *obj, const char *key, uint64_t *out) {
  const json_t *v = json_object_get(obj, key);
  if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
  *out = (uint64_t)json_integer_value(v);
  return true;
}

static bool stats_real(const json_t *obj, const char *key, double *out) {
  const json_t *v = json_object_get(obj, key);
  if (!json_is_number(v)) return false;
  *out = json_number_value(v);
  return true;
}

enum tqt_status tqt_histogram_from_json(const json_t *j, struct tqt_histogram *h, const char *what,
                                        struct tqt_diag *d) {
  tqt_histogram_init(h);
  const json_t *bins = json_object_get(j, "bins");
  const json_t *has_range = json_object_get(j, "has_range");
  uint64_t total;
  long long range_exp = tqt_json_int(j, "range_exp", LLONG_MIN);
  if (!json_is_object(j) || !json_is_array(bins) || !json_is_boolean(has_range) ||
      !stats_uint(j, "count", &h->count) || !stats_uint(j, "zeros", &h->zeros) ||
      !stats_real(j, "sum", &h->sum) || !stats_real(j, "sumsq", &h->sumsq) ||
      range_exp < -1100 || range_exp > 1100 || !stats_uint(j, "bins_total", &total))
    return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: the histogram lacks a field or has a wrong type",
                         what);
  if (total != TQT_HIST_BINS || json_array_size(bins) > TQT_HIST_BINS)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                         "%s: a histogram of %llu bins (this onnx-tqt uses %d)", what,
                         (unsigned long long)total, TQT_HIST_BINS);
  if (h->count && (!stats_real(j, "min", &h->min) || !stats_real(j, "max", &h->max)))
    return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: the histogram lacks min or max", what);
  if (json_object_get(j, "nonfinite") && !stats_uint(j, "nonfinite", &h->nonfinite))
    return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: the histogram's nonfinite is not a count", what);
  h->range_exp = (int)range_exp;
  h->has_range = json_is_true(has_range);
  uint64_t sum = 0;
  for (size_t i = 0; i < json_array_size(bins); i++) {
    const json_t *b = json_array_get(bins, i);
    if (!json_is_integer(b) || json_integer_value(b) < 0)
      return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: bin %zu is not a count", what, i);
    h->bins[i] = (uint64_t)json_integer_value(b);
    sum += h->bins[i];
  }
  if (sum != h->count || h->zeros > h->count)
    return tqt_diag_fail(d, TQT_STATUS_PARSE,
                         "%s: the bins hold %llu values, the count says %llu", what,
                         (unsigned long long)sum, (unsigned long long)h->count);
  return TQT_STATUS_OK;
}

/* ---- fingerprint ---- */

static void fnv(uint64_t *h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * 0x100000001b3ull;
}

static void fnv_str(uint64_t *h, const char *s) { fnv(h, s ? s : "", (s ? strlen(s) : 0) + 1); }

void tqt_model_fingerprint(const struct tqt_model *m, char out[17]) {
  uint64_t h = 0xcbf29ce484222325ull;
  const struct tqt_graph *g = m->graph;
  for (size_t i = 0; i < g->n_inputs; i++) fnv_str(&h, g->inputs[i].name);
  for (size_t i = 0; i < g->n_outputs; i++) fnv_str(&h, g->outputs[i].name);
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    fnv_str(&h, n->op_type);
    fnv_str(&h, n->domain);
    fnv_str(&h, n->name);
    for (size_t k = 0; k < n->n_inputs; k++) fnv_str(&h, n->inputs[k]);
    for (size_t k = 0; k < n->n_outputs; k++) fnv_str(&h, n->outputs[k]);
  }
  for (size_t i = 0; i < g->n_initializers; i++) {
    const struct tqt_tensor *t = g->initializers[i];
    fnv_str(&h, t->name);
    fnv(&h, &t->dtype, sizeof t->dtype);
    for (size_t k = 0; k < t->rank; k++) fnv(&h, &t->dims[k], sizeof t->dims[k]);
    if (t->data) fnv(&h, t->data, t->nbytes);
  }
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- building ---- */

static bool stats_op_has_weights(const struct tqt_node *n) {
  return !*n->domain && (!strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvTranspose") ||
                         !strcmp(n->op_type, "Gemm") || !strcmp(n->op_type, "MatMul"));
}

struct stats_reader {
  size_t count;
  const struct tqt_node *only;
};

struct stats_ctx {
  const struct tqt_quant_plan *p;
  const struct tqt_model *m;
  const struct tqt_options *o;
  struct tqt_diag *d;
  struct tqt_name_map initializers; /* name → tensor */
  struct tqt_name_map readers;      /* name → struct stats_reader */
  struct tqt_name_map owners;       /* first output of an owner node → the node */
  struct stats_reader *reader_pool;
  bool bad; /* out of memory while building JSON */
};

static bool stats_owns(const struct stats_ctx *c, const struct tqt_node *n) {
  void *v;
  return n->n_outputs && tqt_name_map_get(&c->owners, n->outputs[0], &v) && v == n;
}

static const struct stats_reader *stats_readers(const struct stats_ctx *c, const char *name) {
  void *v;
  return tqt_name_map_get(&c->readers, name, &v) ? v : NULL;
}

/* A Conv/Gemm/MatMul whose output stays in the accumulator: its single reader, a Relu or Clip,
 * quantizes instead (plan.c). NULL when n is not one. */
static const struct tqt_node *stats_deferred_to(const struct stats_ctx *c,
                                                const struct tqt_node *n) {
  if (!stats_op_has_weights(n) || !n->n_outputs ||
      tqt_quant_plan_find(c->p, n->outputs[0]))
    return NULL;
  const struct stats_reader *r = stats_readers(c, n->outputs[0]);
  if (!r || r->count != 1 || !r->only || *r->only->domain ||
      (strcmp(r->only->op_type, "Relu") && strcmp(r->only->op_type, "Clip")) ||
      !stats_owns(c, r->only))
    return NULL;
  for (size_t k = 0; k < n->n_inputs; k++)
    if (*n->inputs[k] && tqt_quant_plan_find(c->p, n->inputs[k])) return r->only;
  return NULL;
}

static const char *stats_method(const struct tqt_qtensor *t) {
  return t->kind == TQT_QTENSOR_KIND_BIAS ? "s_in*s_w" : tqt_threshold_method_name(t->method);
}

static void stats_range(const struct tqt_qtensor *t, double *lo, double *hi) {
  *lo = t->is_signed ? -ldexp(1.0, t->bits - 1) : 0;
  *hi = t->is_signed ? ldexp(1.0, t->bits - 1) - 1 : ldexp(1.0, t->bits) - 1;
}

/* The fraction of |x| in h above the level where values saturate. */
/* Statistics of a constant (weight or bias) from its data: histogram, clipping and SQNR of
 * its quantization at the plan's scales, exactly as qdq.c quantizes it. */
static void stats_constant(struct stats_ctx *c, const struct tqt_qtensor *t, json_t *j,
                           struct tqt_histogram *h) {
  void *v;
  if (!tqt_name_map_get(&c->initializers, t->name, &v)) return;
  const struct tqt_tensor *w = v;
  if (w->dtype != TQT_DTYPE_FLOAT || !w->data) return;
  const struct tqt_qtensor *chan =
      t->kind == TQT_QTENSOR_KIND_BIAS ? &c->p->tensors[t->bias_weight] : t;
  size_t n_ch = chan->channel_exponents ? chan->n_channels : 1;
  int axis = t->kind == TQT_QTENSOR_KIND_BIAS ? (int)w->rank - 1 : chan->axis;
  int64_t inner = 1, numel = tqt_tensor_numel(w);
  for (size_t i = (size_t)(axis >= 0 ? axis : 0) + 1; n_ch > 1 && i < w->rank; i++)
    inner *= w->dims[i];
  const float *x = w->data;
  tqt_histogram_add(h, x, (size_t)numel);
  if (t->skip) return; /* left float: nothing quantized to measure */
  double lo, hi, signal = 0, noise = 0;
  stats_range(t, &lo, &hi);
  size_t clipped = 0;
  for (int64_t i = 0; i < numel; i++) {
    size_t ch = n_ch > 1 ? (size_t)((i / inner) % (int64_t)n_ch) : 0;
    float s = (float)tqt_quant_scale(c->p, t, ch);
    double q = nearbyint((double)(x[i] / s));
    if (q < lo || q > hi) clipped++;
    q = (q < lo ? lo : q > hi ? hi : q) * s;
    signal += (double)x[i] * x[i];
    noise += ((double)x[i] - q) * ((double)x[i] - q);
  }
  stats_set(j, "clipped_fraction", json_real(numel ? (double)clipped / (double)numel : 0), &c->bad);
  struct tqt_compare_metrics m = {.n = (uint64_t)numel, .signal = signal, .noise = noise};
  double sqnr = tqt_compare_sqnr_db(&m);
  stats_set(j, "sqnr_db", tqt_json_real(sqnr), &c->bad);
  if (isinf(sqnr) && sqnr > 0) stats_set(j, "exact", json_true(), &c->bad);
}

/* The output error of the exponent search as an SQNR in dB (an error of 0: null). */
static json_t *stats_search_db(double error) { return tqt_json_real(-10 * log10(error)); }

/* A candidate of the activation method choice: {KEY: method, percentile (for percentile),
 * output_sqnr_db}. */
static json_t *stats_method_try(const struct tqt_method_try *t, const char *key, bool *bad) {
  json_t *j = json_object();
  stats_set(j, key, json_string(tqt_threshold_method_name(t->method)), bad);
  if (t->method == TQT_THRESHOLD_METHOD_PERCENTILE) stats_set(j, "percentile", json_real(t->percentile), bad);
  stats_set(j, "output_sqnr_db", stats_search_db(t->error), bad);
  return j;
}

/* What the exponent search tried for the scale group rooted at t. */
static json_t *stats_search_tries(struct stats_ctx *c, const struct tqt_qtensor *t) {
  json_t *j = json_object(), *tries = json_array();
  for (size_t i = 0; tries && i < t->n_search_tries; i++) {
    const struct tqt_search_try *k = &t->search_tries[i];
    json_t *e = json_object();
    stats_set(e, "exponent", json_integer(k->exponent), &c->bad);
    stats_set(e, "output_sqnr_db", stats_search_db(k->error), &c->bad);
    if (k->uniform) stats_set(e, "uniform", json_true(), &c->bad);
    stats_push(tries, e, &c->bad);
  }
  stats_set(j, "start", json_integer(t->search_start), &c->bad);
  stats_set(j, "tries", tries, &c->bad);
  return j;
}

static json_t *stats_tensor(struct stats_ctx *c, const struct tqt_qtensor *t) {
  const struct tqt_quant_plan *p = c->p;
  json_t *j = json_object();
  if (!j) return NULL;
  static const char *const kinds[] = {"activation", "weight", "bias"};
  stats_set(j, "name", json_string(t->name), &c->bad);
  stats_set(j, "kind", json_string(kinds[t->kind]), &c->bad);
  stats_set(j, "owner", json_string(t->owner ? t->owner->name : ""), &c->bad);
  stats_set(j, "owner_op", json_string(t->owner ? t->owner->op_type : ""), &c->bad);
  stats_set(j, "method", json_string(stats_method(t)), &c->bad);
  /* Left float by calibration (a branch never taken): no scale; the histogram stays, so that
   * the statistics of a shard that never took the branch still merge with one that did. */
  const char *why = t->skip ? p->graphs[t->owner_graph].reasons[t->owner_node] : NULL;
  if (t->skip) stats_set(j, "float_reason", json_string(why ? why : "not calibrated"), &c->bad);
  bool per_channel = t->channel_exponents ||
                     (t->kind == TQT_QTENSOR_KIND_BIAS && p->tensors[t->bias_weight].channel_exponents);
  bool has_threshold = t->kind != TQT_QTENSOR_KIND_BIAS && !t->channel_exponents && !t->skip;
  stats_set(j, "threshold", has_threshold ? tqt_json_real(t->threshold) : json_null(), &c->bad);
  stats_set(j, "exponent",
            t->kind != TQT_QTENSOR_KIND_BIAS && !t->skip ? json_integer(t->exponent) : json_null(),
            &c->bad);
  stats_set(j, "bits", json_integer(t->bits), &c->bad);
  stats_set(j, "signed", json_boolean(t->is_signed), &c->bad);
  double lo, hi;
  stats_range(t, &lo, &hi);
  if (!per_channel && !t->skip) {
    double s = tqt_quant_scale(p, t, 0);
    stats_set(j, "scale", json_real(s), &c->bad);
    stats_set(j, "fp", json_integer((json_int_t)-ilogb(s)), &c->bad);
    stats_set(j, "clip_lo", json_real(lo * s), &c->bad);
    stats_set(j, "clip_hi", json_real(hi * s), &c->bad);
  } else {
    stats_set(j, "scale", json_null(), &c->bad);
  }
  if (t->channel_exponents) {
    json_t *ce = json_array();
    for (size_t i = 0; ce && i < t->n_channels; i++)
      stats_push(ce, json_integer(tqt_quant_exponent(p, t, i)), &c->bad);
    stats_set(j, "channel_exponents", ce, &c->bad);
  }
  const struct tqt_qtensor *root = &p->tensors[tqt_quant_group_root(p, (size_t)(t - p->tensors))];
  if (root != t && t->kind != TQT_QTENSOR_KIND_BIAS)
    stats_set(j, "group", json_string(root->name), &c->bad);
  if (t->n_search_tries) stats_set(j, "search", stats_search_tries(c, t), &c->bad);
  if (t->bias_correction) { /* bias correction: what was subtracted from each value */
    json_t *shift = json_array();
    const struct tqt_tensor *b = tqt_quant_initializer(c->m, t->name, NULL, NULL);
    for (int64_t i = 0; shift && b && i < tqt_tensor_numel(b); i++)
      stats_push(shift, tqt_json_real(t->bias_correction[i]), &c->bad);
    stats_set(j, "bias_correction", shift, &c->bad);
  }
  /* The histogram: the calibration's for activations, the data's for constants. */
  struct tqt_histogram *own = NULL;
  const struct tqt_histogram *h = t->kind == TQT_QTENSOR_KIND_ACTIVATION ? t->hist : NULL;
  if (t->kind != TQT_QTENSOR_KIND_ACTIVATION && (own = malloc(sizeof *own))) {
    tqt_histogram_init(own);
    stats_constant(c, t, j, own);
    h = own;
  }
  if (!own && t->kind != TQT_QTENSOR_KIND_ACTIVATION) c->bad = true;
  if (h) {
    double mean = h->count ? h->sum / (double)h->count : 0;
    double var = h->count ? h->sumsq / (double)h->count - mean * mean : 0;
    stats_set(j, "count", json_integer((json_int_t)h->count), &c->bad);
    stats_set(j, "zeros", json_integer((json_int_t)h->zeros), &c->bad);
    stats_set(j, "nonfinite", json_integer((json_int_t)h->nonfinite), &c->bad);
    stats_set(j, "min", h->count ? tqt_json_real(h->min) : json_null(), &c->bad);
    stats_set(j, "max", h->count ? tqt_json_real(h->max) : json_null(), &c->bad);
    stats_set(j, "mean", h->count ? tqt_json_real(mean) : json_null(), &c->bad);
    stats_set(j, "std", h->count ? tqt_json_real(sqrt(var > 0 ? var : 0)) : json_null(), &c->bad);
    if (t->kind == TQT_QTENSOR_KIND_ACTIVATION) {
      double level = (hi + 0.5) * tqt_quant_scale(p, t, 0);
      stats_set(j, "clipped_fraction", json_real(tqt_histogram_fraction_above(h, level)), &c->bad);
      stats_set(j, "sqnr_db", json_null(), &c->bad);
    }
    stats_set(j, "histogram", tqt_histogram_to_json(h), &c->bad);
  }
  free(own);
  return j;
}

/* The quantized tensor among n's inputs at position k, of the given kind, or NULL. */
static const struct tqt_qtensor *stats_input(const struct stats_ctx *c, const struct tqt_node *n,
                                             size_t k, enum tqt_qtensor_kind kind) {
  if (k >= n->n_inputs || !*n->inputs[k]) return NULL;
  const struct tqt_qtensor *t = tqt_quant_plan_find(c->p, n->inputs[k]);
  return t && t->kind == kind ? t : NULL;
}

static json_t *stats_node(struct stats_ctx *c, const struct tqt_node *n) {
  json_t *j = json_object(), *inputs = json_array();
  if (!j || !inputs) {
    json_decref(j);
    json_decref(inputs);
    return NULL;
  }
  stats_set(j, "name", json_string(n->name), &c->bad);
  stats_set(j, "op_type", json_string(n->op_type), &c->bad);
  const char *out = n->n_outputs ? n->outputs[0] : "";
  stats_set(j, "output", json_string(out), &c->bad);
  const struct tqt_node *to = stats_deferred_to(c, n);
  const char *qout = to ? to->outputs[0] : tqt_quant_plan_find(c->p, out) ? out : NULL;
  stats_set(j, "quantized_output", qout ? json_string(qout) : json_null(), &c->bad);
  stats_set(j, "fused_with", to ? json_string(to->op_type) : json_null(), &c->bad);
  for (size_t k = 0; k < n->n_inputs; k++)
    if (stats_input(c, n, k, TQT_QTENSOR_KIND_ACTIVATION))
      stats_push(inputs, json_string(n->inputs[k]), &c->bad);
  stats_set(j, "inputs", inputs, &c->bad);
  const struct tqt_qtensor *w = stats_input(c, n, 1, TQT_QTENSOR_KIND_WEIGHT);
  const struct tqt_qtensor *b = stats_input(c, n, 2, TQT_QTENSOR_KIND_BIAS);
  stats_set(j, "weight", w ? json_string(w->name) : json_null(), &c->bad);
  stats_set(j, "bias", b ? json_string(b->name) : json_null(), &c->bad);
  void *v;
  if (w && w->axis >= 0 && tqt_name_map_get(&c->initializers, w->name, &v)) {
    const struct tqt_tensor *wt = v;
    int64_t n_out = (size_t)w->axis < wt->rank ? wt->dims[w->axis] : 0;
    if (n_out > 0) {
      int64_t k = tqt_tensor_numel(wt) / n_out;
      const struct tqt_qtensor *in = stats_input(c, n, 0, TQT_QTENSOR_KIND_ACTIVATION);
      int abits = in ? in->bits : c->o->abits ? c->o->abits : 8;
      int need = w->bits + abits + (int)ceil(log2((double)(k > 1 ? k : 1)));
      json_t *acc = json_object();
      stats_set(acc, "k", json_integer(k), &c->bad);
      stats_set(acc, "needed", json_integer(need), &c->bad);
      stats_set(acc, "available", json_integer(TQT_STATS_ACCUMULATOR_BITS), &c->bad);
      stats_set(j, "accumulator", acc, &c->bad);
    }
  }
  stats_set(j, "sqnr_db", json_null(), &c->bad);
  stats_set(j, "cosine", json_null(), &c->bad);
  return j;
}

static json_t *stats_strings(const char *const *list, size_t n, bool *bad) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++) stats_push(a, json_string(list[i]), bad);
  if (!a) *bad = true;
  return a;
}

static json_t *stats_settings(struct stats_ctx *c) {
  const struct tqt_options *o = c->o;
  json_t *j = json_object();
  if (!j) return NULL;
  stats_set(j, "wbits", json_integer(o->wbits ? o->wbits : 8), &c->bad);
  stats_set(j, "abits", json_integer(o->abits ? o->abits : 8), &c->bad);
  stats_set(j, "bbits", json_integer(o->bbits ? o->bbits : 32), &c->bad);
  stats_set(j, "act_method", json_string(o->act_method ? o->act_method : "auto"), &c->bad);
  stats_set(j, "weight_method", json_string(o->weight_method ? o->weight_method : "max"), &c->bad);
  stats_set(j, "input_method", json_string(o->input_method ? o->input_method : "max"), &c->bad);
  stats_set(j, "percentile", json_real(o->percentile > 0 ? o->percentile : 99.99), &c->bad);
  stats_set(j, "per_channel", json_boolean(o->per_channel), &c->bad);
  stats_set(j, "search", json_string(tqt_search_mode_name(o->search)), &c->bad);
  size_t search_samples = o->search_samples ? o->search_samples : TQT_SEARCH_SAMPLES_DEFAULT;
  stats_set(j, "search_samples", json_integer((json_int_t)search_samples), &c->bad);
  stats_set(j, "bias_correction", json_string(tqt_search_mode_name(o->bias_correction)), &c->bad);
  stats_set(j, "equalize", json_string(tqt_search_mode_name(o->equalize)), &c->bad);
  stats_set(j, "align_add", json_boolean(!o->no_align_add), &c->bad);
  stats_set(j, "align_concat", json_boolean(o->align_concat), &c->bad);
  stats_set(j, "split_chains", json_boolean(o->split_chains), &c->bad);
  stats_set(j, "int8_activations", json_boolean(o->int8_activations), &c->bad);
  stats_set(j, "accumulator_bits", json_integer(TQT_STATS_ACCUMULATOR_BITS), &c->bad);
  stats_set(j, "exclude_op_types", stats_strings(o->exclude_op_types, o->n_exclude_op_types, &c->bad),
            &c->bad);
  stats_set(j, "keep_outputs", stats_strings(o->keep_outputs, o->n_keep_outputs, &c->bad), &c->bad);
  stats_set(j, "exclude_nodes", stats_strings(o->exclude_nodes, o->n_exclude_nodes, &c->bad),
            &c->bad);
  stats_set(j, "quantize_weights_only",
            stats_strings(o->quantize_weights_only, o->n_quantize_weights_only, &c->bad), &c->bad);
  return j;
}

/* tqt_graph_walk visitor: adds the bytes of g's initializers to *(size_t *)ctx. */
static int stats_bytes_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  size_t *total = ctx;
  for (size_t i = 0; i < g->n_initializers; i++) {
    const struct tqt_tensor *t = g->initializers[i];
    int64_t n = tqt_tensor_numel(t);
    *total += t->data ? t->nbytes : n > 0 ? (size_t)n * tqt_dtype_size(t->dtype) : 0;
  }
  return 0;
}

/* The initializers' bytes, those of If/Loop/Scan bodies included. */
static size_t stats_model_bytes(const struct tqt_model *m) {
  size_t total = 0;
  tqt_graph_walk(m->graph, stats_bytes_visit, &total);
  return total;
}

/* The JSON {node, op_type, reason} of a node the plan did not quantize. */
static json_t *stats_node_reason(struct stats_ctx *c, const struct tqt_node *n, const char *reason) {
  json_t *e = json_object();
  stats_set(e, "node", json_string(n->name), &c->bad);
  stats_set(e, "op_type", json_string(n->op_type), &c->bad);
  stats_set(e, "reason", json_string(reason ? reason : "not quantized"), &c->bad);
  return e;
}

/* True when n reads a weight stored as integers: a float node then still shrinks the model
 * (--quantize-weights-only, or a branch never taken, whose weights need no calibration). */
static bool stats_has_int_weights(const struct stats_ctx *c, const struct tqt_node *n) {
  for (size_t k = 0; k < n->n_inputs; k++)
    if (stats_input(c, n, k, TQT_QTENSOR_KIND_WEIGHT)) return true;
  return false;
}

/* Per op type: {quantized, excluded, float}; the excluded nodes with their reason, and the float
 * ones with integer weights. Every graph: the main one and the If/Loop/Scan bodies. */
static void stats_summary_nodes(struct stats_ctx *c, json_t *summary, json_t *nodes) {
  json_t *by_op = json_object(), *excluded = json_array(), *float_compute = json_array();
  json_t *weights_only = json_array();
  size_t nq = 0, ne = 0, nf = 0;
  if (!by_op || !excluded || !float_compute || !weights_only) c->bad = true;
  for (size_t gi = 0; by_op && excluded && float_compute && weights_only && gi < c->p->n_graphs;
       gi++) {
    const struct tqt_quant_graph *qg = &c->p->graphs[gi];
    for (size_t i = 0; i < qg->n_nodes; i++) {
      const struct tqt_node *n = qg->graph->nodes[i];
      const char *key;
      if (qg->states[i] == TQT_NODE_QUANT_QUANTIZED) {
        key = "quantized";
        nq++;
        stats_push(nodes, stats_node(c, n), &c->bad);
      } else if (qg->states[i] == TQT_NODE_QUANT_EXCLUDED) {
        key = "excluded";
        ne++;
        stats_push(excluded, stats_node_reason(c, n, qg->reasons[i]), &c->bad);
      } else {
        key = "float";
        nf++;
        if (tqt_quant_is_compute(n))
          stats_push(float_compute, stats_node_reason(c, n, qg->reasons[i]), &c->bad);
        if (stats_has_int_weights(c, n))
          stats_push(weights_only, stats_node_reason(c, n, qg->reasons[i]), &c->bad);
      }
      json_t *counts = json_object_get(by_op, n->op_type);
      if (!counts) {
        counts = json_object();
        stats_set(counts, "quantized", json_integer(0), &c->bad);
        stats_set(counts, "excluded", json_integer(0), &c->bad);
        stats_set(counts, "float", json_integer(0), &c->bad);
        stats_set(by_op, n->op_type, counts, &c->bad);
      }
      if (counts) stats_set(counts, key, json_integer(tqt_json_int(counts, key, 0) + 1), &c->bad);
    }
  }
  stats_set(summary, "quantized_nodes", json_integer((json_int_t)nq), &c->bad);
  stats_set(summary, "excluded_nodes", json_integer((json_int_t)ne), &c->bad);
  stats_set(summary, "float_nodes", json_integer((json_int_t)nf), &c->bad);
  stats_set(summary, "tensors", json_integer((json_int_t)(c->p->n_tensors - c->p->n_skipped)),
            &c->bad);
  stats_set(summary, "by_op_type", by_op, &c->bad);
  stats_set(summary, "excluded", excluded, &c->bad);
  stats_set(summary, "weights_only", weights_only, &c->bad);
  /* Coverage of the compute nodes (Conv, ConvTranspose, Gemm, MatMul), bodies included, and why
   * each float one is float. */
  json_t *compute = json_object();
  stats_set(compute, "total", json_integer((json_int_t)c->p->n_compute), &c->bad);
  stats_set(compute, "quantized", json_integer((json_int_t)c->p->n_compute_quantized), &c->bad);
  stats_set(compute, "excluded", json_integer((json_int_t)c->p->n_compute_excluded), &c->bad);
  stats_set(compute, "in_subgraphs", json_integer((json_int_t)c->p->n_compute_subgraph), &c->bad);
  stats_set(compute, "float", float_compute, &c->bad);
  stats_set(summary, "compute_nodes", compute, &c->bad);
  stats_set(summary, "size_float_bytes", json_integer((json_int_t)stats_model_bytes(c->m)), &c->bad);
  stats_set(summary, "size_quantized_bytes", json_null(), &c->bad);
  if (c->p->search_groups) {
    json_t *search = json_object();
    stats_set(search, "groups", json_integer((json_int_t)c->p->search_groups), &c->bad);
    stats_set(search, "moved", json_integer((json_int_t)c->p->search_changed), &c->bad);
    stats_set(search, "output_sqnr_before_db", stats_search_db(c->p->search_error_before), &c->bad);
    stats_set(search, "output_sqnr_after_db", stats_search_db(c->p->search_error_after), &c->bad);
    stats_set(summary, "search", search, &c->bad);
  }
  if (c->p->n_method_tries) { /* the activation method by measurement */
    json_t *choice = stats_method_try(&c->p->method_tries[c->p->method_chosen], "chosen", &c->bad),
           *tries = json_array();
    for (size_t i = 0; tries && i < c->p->n_method_tries; i++)
      stats_push(tries, stats_method_try(&c->p->method_tries[i], "method", &c->bad), &c->bad);
    stats_set(choice, "tries", tries, &c->bad);
    stats_set(summary, "method_choice", choice, &c->bad);
  }
  if (c->p->equalize_channels) {
    json_t *eq = json_object();
    stats_set(eq, "channels", json_integer((json_int_t)c->p->equalize_channels), &c->bad);
    stats_set(eq, "scaled_channels", json_integer((json_int_t)c->p->equalize_scaled), &c->bad);
    stats_set(eq, "producer_groups", json_integer((json_int_t)c->p->equalize_groups), &c->bad);
    stats_set(eq, "kept", json_boolean(c->p->equalize_kept), &c->bad);
    if (c->p->equalize_error_after > 0 || c->p->equalize_error_before > 0) {
      stats_set(eq, "output_sqnr_without_db", stats_search_db(c->p->equalize_error_before), &c->bad);
      stats_set(eq, "output_sqnr_with_db", stats_search_db(c->p->equalize_error_after), &c->bad);
    }
    stats_set(summary, "equalization", eq, &c->bad);
  }
  if (c->p->auto_bits_layers) {
    json_t *ab = json_object();
    stats_set(ab, "target_db", tqt_json_real(c->p->auto_bits_target_db), &c->bad);
    stats_set(ab, "output_sqnr_db", stats_search_db(c->p->auto_bits_error), &c->bad);
    stats_set(ab, "output_sqnr_widest_db", stats_search_db(c->p->auto_bits_top_error), &c->bad);
    stats_set(ab, "layers", json_integer((json_int_t)c->p->auto_bits_layers), &c->bad);
    stats_set(ab, "runs", json_integer((json_int_t)c->p->auto_bits_runs), &c->bad);
    stats_set(summary, "auto_bits", ab, &c->bad);
  }
  if (c->p->bias_layers) {
    json_t *bias = json_object();
    stats_set(bias, "layers", json_integer((json_int_t)c->p->bias_layers), &c->bad);
    stats_set(bias, "corrected_layers", json_integer((json_int_t)c->p->bias_corrected_layers),
              &c->bad);
    stats_set(bias, "channels", json_integer((json_int_t)c->p->bias_channels), &c->bad);
    stats_set(bias, "output_sqnr_before_db", stats_search_db(c->p->bias_error_before), &c->bad);
    stats_set(bias, "output_sqnr_after_db", stats_search_db(c->p->bias_error_after), &c->bad);
    stats_set(summary, "bias_correction", bias, &c->bad);
  }
}

/* Initializers and readers of every graph (names are unique model-wide): a body's weights and
 * the reads of outer values inside bodies count. */
static enum tqt_status stats_ctx_init(struct stats_ctx *c) {
  const struct tqt_quant_plan *p = c->p;
  tqt_name_map_init(&c->initializers);
  tqt_name_map_init(&c->readers);
  tqt_name_map_init(&c->owners);
  size_t n_uses = 0;
  for (size_t gi = 0; gi < p->n_graphs; gi++) {
    const struct tqt_graph *g = p->graphs[gi].graph;
    n_uses += g->n_outputs;
    for (size_t i = 0; i < g->n_nodes; i++) n_uses += g->nodes[i]->n_inputs;
  }
  c->reader_pool = calloc(n_uses + 1, sizeof *c->reader_pool);
  if (!c->reader_pool) goto oom;
  size_t used = 0;
  for (size_t gi = 0; gi < p->n_graphs; gi++) {
    const struct tqt_graph *g = p->graphs[gi].graph;
    for (size_t i = 0; i < g->n_initializers; i++)
      if (tqt_name_map_put(&c->initializers, g->initializers[i]->name, g->initializers[i]))
        goto oom;
    for (size_t i = 0; i <= g->n_nodes; i++) {
      const struct tqt_node *n = i < g->n_nodes ? g->nodes[i] : NULL;
      size_t count = n ? n->n_inputs : g->n_outputs;
      for (size_t k = 0; k < count; k++) {
        const char *name = n ? n->inputs[k] : g->outputs[k].name;
        void *v;
        if (!*name) continue;
        struct stats_reader *r;
        if (tqt_name_map_get(&c->readers, name, &v)) {
          r = v;
        } else {
          r = &c->reader_pool[used++];
          if (tqt_name_map_put(&c->readers, name, r)) goto oom;
        }
        r->count++;
        r->only = n;
      }
    }
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_node *o = p->tensors[i].owner;
    if (o && o->n_outputs && *o->outputs[0] && tqt_name_map_put(&c->owners, o->outputs[0], (void *)o))
      goto oom;
  }
  return TQT_STATUS_OK;
oom:
  return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
}

static void stats_ctx_free(struct stats_ctx *c) {
  free(c->reader_pool);
  tqt_name_map_free(&c->initializers);
  tqt_name_map_free(&c->readers);
  tqt_name_map_free(&c->owners);
}

enum tqt_status tqt_stats_build(const struct tqt_stats_source *src, json_t **out,
                                struct tqt_diag *d) {
  *out = NULL;
  struct stats_ctx c = {.p = src->plan, .m = src->float_model, .o = src->options, .d = d};
  enum tqt_status st = stats_ctx_init(&c);
  json_t *j = json_object(), *model = json_object(), *summary = json_object();
  json_t *tensors = json_array(), *nodes = json_array();
  if (st != TQT_STATUS_OK) goto done;
  if (!j || !model || !summary || !tensors || !nodes) {
    c.bad = true;
    goto done;
  }
  char fp[17];
  tqt_model_fingerprint(c.m, fp);
  stats_set(j, "format", json_string(TQT_STATS_FORMAT), &c.bad);
  stats_set(j, "version", json_integer(TQT_STATS_VERSION), &c.bad);
  stats_set(model, "path", json_string(src->model_path ? src->model_path : ""), &c.bad);
  stats_set(model, "producer", json_string(c.m->producer_name ? c.m->producer_name : ""), &c.bad);
  stats_set(model, "opset", json_integer(tqt_model_opset(c.m, "")), &c.bad);
  stats_set(model, "nodes", json_integer((json_int_t)c.m->graph->n_nodes), &c.bad);
  stats_set(model, "fingerprint", json_string(fp), &c.bad);
  stats_set(j, "model", json_incref(model), &c.bad);
  stats_set(j, "settings", stats_settings(&c), &c.bad);
  stats_set(j, "samples", json_integer((json_int_t)c.p->samples), &c.bad);
  stats_summary_nodes(&c, summary, nodes);
  stats_set(j, "summary", json_incref(summary), &c.bad);
  for (size_t i = 0; i < c.p->n_tensors; i++) stats_push(tensors, stats_tensor(&c, &c.p->tensors[i]), &c.bad);
  stats_set(j, "tensors", json_incref(tensors), &c.bad);
  stats_set(j, "nodes", json_incref(nodes), &c.bad);
  stats_set(j, "outputs", json_array(), &c.bad);
  stats_set(j, "warnings", json_array(), &c.bad);
done:
  json_decref(model);
  json_decref(summary);
  json_decref(tensors);
  json_decref(nodes);
  stats_ctx_free(&c);
  if (st == TQT_STATUS_OK && c.bad) st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  if (st != TQT_STATUS_OK) {
    json_decref(j);
    return st;
  }
  *out = j;
  return TQT_STATUS_OK;
}

/* ---- finishing: SQNR, sizes, warnings ---- */

static void stats_set_compare(json_t *obj, const struct tqt_compare_metrics *m, bool *bad) {
  double sqnr = tqt_compare_sqnr_db(m);
  stats_set(obj, "sqnr_db", tqt_json_real(sqnr), bad);
  if (isinf(sqnr) && sqnr > 0) stats_set(obj, "exact", json_true(), bad);
  stats_set(obj, "cosine", tqt_json_real(tqt_compare_cosine(m)), bad);
}

static void stats_warn(json_t *warnings, const char *kind, const char *key, const char *name,
                       double value, bool *bad, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void stats_warn(json_t *warnings, const char *kind, const char *key, const char *name,
                       double value, bool *bad, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *w = json_object();
  stats_set(w, "kind", json_string(kind), bad);
  stats_set(w, key, json_string(name), bad);
  stats_set(w, "value", tqt_json_real(value), bad);
  stats_set(w, "message", json_string(msg), bad);
  stats_push(warnings, w, bad);
}

enum tqt_status tqt_stats_finish(json_t *stats, const struct tqt_model *quant_model,
                                 const struct tqt_compare *cmp, struct tqt_diag *d) {
  bool bad = false;
  json_t *summary = json_object_get(stats, "summary"), *tensors = json_object_get(stats, "tensors");
  json_t *nodes = json_object_get(stats, "nodes"), *outputs = json_object_get(stats, "outputs");
  json_t *warnings = json_array();
  if (!warnings) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  if (quant_model)
    stats_set(summary, "size_quantized_bytes", json_integer((json_int_t)stats_model_bytes(quant_model)),
              &bad);
  size_t i;
  json_t *t;
  json_array_foreach(tensors, i, t) {
    const char *kind = tqt_json_str(t, "kind"), *name = tqt_json_str(t, "name");
    const struct tqt_compare_entry *e = cmp ? tqt_compare_layer(cmp, name) : NULL;
    if (!strcmp(kind, "activation") && e && e->m.n) stats_set_compare(t, &e->m, &bad);
    double clipped = tqt_json_num(t, "clipped_fraction");
    if (!strcmp(kind, "activation") && tqt_json_int(t, "count", 0) == 0)
      stats_warn(warnings, "uncalibrated", "tensor", name, 0, &bad,
                 "tensor '%s' stays float: no calibration sample computed it (a branch never "
                 "taken)", name);
    if (!strcmp(kind, "bias") && clipped > 0)
      stats_warn(warnings, "bias_clipped", "tensor", name, clipped, &bad,
                 "bias '%s': %.3g %% of its values exceed %lld bits at scale s_in*s_w", name,
                 100 * clipped, tqt_json_int(t, "bits", 32));
    else if (clipped > TQT_STATS_HIGH_CLIPPED)
      stats_warn(warnings, "clipping", "tensor", name, clipped, &bad,
                 "%s '%s' clips %.2f %% of its values (threshold %.4g, method %s)", kind, name,
                 100 * clipped, tqt_json_num(t, "threshold"), tqt_json_str(t, "method"));
  }
  json_array_foreach(nodes, i, t) {
    const char *name = tqt_json_str(t, "name"), *op = tqt_json_str(t, "op_type");
    const struct tqt_compare_entry *e = cmp ? tqt_compare_layer(cmp, tqt_json_str(t, "output")) : NULL;
    if (e && e->m.n) stats_set_compare(t, &e->m, &bad);
    const json_t *acc = json_object_get(t, "accumulator");
    long long need = tqt_json_int(acc, "needed", 0), avail = tqt_json_int(acc, "available", 0);
    if (acc && need > avail)
      stats_warn(warnings, "accumulator", "node", name, (double)need, &bad,
                 "node '%s' (%s): %lld-bit accumulator needed worst case (K = %lld), %lld available",
                 name, op, need, tqt_json_int(acc, "k", 0), avail);
    double sqnr = tqt_json_num(t, "sqnr_db");
    if (sqnr < TQT_STATS_LOW_SQNR_DB)
      stats_warn(warnings, "low_sqnr", "node", name, sqnr, &bad,
                 "node '%s' (%s): output SQNR %.1f dB is below %.0f dB", name, op, sqnr,
                 TQT_STATS_LOW_SQNR_DB);
  }
  for (size_t k = 0; cmp && k < cmp->n_outputs; k++) {
    const struct tqt_compare_entry *e = &cmp->outputs[k];
    json_t *o = json_object();
    stats_set(o, "name", json_string(e->name), &bad);
    stats_set_compare(o, &e->m, &bad);
    stats_set(o, "max_abs_diff", tqt_json_real(e->m.n ? e->m.max_abs : NAN), &bad);
    stats_set(o, "mean_abs_diff", tqt_json_real(e->m.n ? e->m.sum_abs / (double)e->m.n : NAN), &bad);
    stats_set(o, "top1_agreement",
              e->m.rows ? json_real((double)e->m.agree / (double)e->m.rows) : json_null(), &bad);
    stats_push(outputs, o, &bad);
  }
  stats_set(stats, "sqnr_samples", json_integer(cmp ? (json_int_t)cmp->samples : 0), &bad);
  stats_set(stats, "warnings", warnings, &bad);
  return bad ? tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory") : TQT_STATUS_OK;
}

/* ---- merging ---- */

static enum tqt_status stats_merge_one(struct tqt_quant_plan *p, const char *fingerprint,
                                       const char *path, struct tqt_diag *d) {
  json_t *j;
  enum tqt_status st = tqt_json_read(path, &j, d);
  if (st != TQT_STATUS_OK) return st;
  struct tqt_name_map names;
  tqt_name_map_init(&names);
  const json_t *tensors = json_object_get(j, "tensors");
  if (strcmp(tqt_json_str(j, "format"), TQT_STATS_FORMAT) || !json_is_array(tensors)) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not an onnx-tqt statistics file", path);
    goto done;
  }
  if (tqt_json_int(j, "version", 0) != TQT_STATS_VERSION) {
    st = tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: statistics version %lld (this onnx-tqt "
                       "reads %d)", path, tqt_json_int(j, "version", 0), TQT_STATS_VERSION);
    goto done;
  }
  const json_t *eq = json_object_get(json_object_get(j, "summary"), "equalization");
  if (json_is_true(json_object_get(eq, "kept"))) { /* its histograms are of rescaled channels */
    st = tqt_diag_fail(d, TQT_STATUS_INVALID,
                       "%s: written by a run whose channel equalization rescaled the model; "
                       "statistics to merge need --equalize off", path);
    goto done;
  }
  const char *theirs = tqt_json_str(json_object_get(j, "model"), "fingerprint");
  if (strcmp(theirs, fingerprint)) {
    st = tqt_diag_fail(d, TQT_STATUS_INVALID,
                       "%s: written for another model (fingerprint %s, this model after the "
                       "passes: %s); use the same model and graph options", path, theirs,
                       fingerprint);
    goto done;
  }
  size_t i;
  json_t *t;
  json_array_foreach(tensors, i, t) {
    if (strcmp(tqt_json_str(t, "kind"), "activation")) continue;
    const char *name = tqt_json_str(t, "name");
    const struct tqt_qtensor *q = tqt_quant_plan_find(p, name);
    if (!q || q->kind != TQT_QTENSOR_KIND_ACTIVATION) {
      st = tqt_diag_fail(d, TQT_STATUS_INVALID,
                         "%s: tensor '%s' is not an activation this run quantizes (were the "
                         "statistics made with other options?)", path, name);
      goto done;
    }
    if (tqt_name_map_put(&names, name, t)) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      goto done;
    }
  }
  struct tqt_histogram *h = malloc(sizeof *h);
  if (!h) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t k = 0; k < p->n_tensors && st == TQT_STATUS_OK; k++) {
    struct tqt_qtensor *q = &p->tensors[k];
    void *v;
    if (q->kind != TQT_QTENSOR_KIND_ACTIVATION) continue;
    if (!tqt_name_map_get(&names, q->name, &v)) {
      st = tqt_diag_fail(d, TQT_STATUS_INVALID,
                         "%s: no statistics for tensor '%s' (were they made with other options?)",
                         path, q->name);
      break;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s: tensor '%s'", path, q->name);
    if ((st = tqt_histogram_from_json(json_object_get(v, "histogram"), h, what, d)) == TQT_STATUS_OK)
      tqt_histogram_merge(q->hist, h);
  }
  free(h);
  if (st == TQT_STATUS_OK) p->samples += (uint64_t)tqt_json_int(j, "samples", 0);
done:
  tqt_name_map_free(&names);
  json_decref(j);
  return st;
}

enum tqt_status tqt_stats_merge_files(struct tqt_quant_plan *p, const struct tqt_model *float_model,
                                      const char *const *paths, size_t n_paths,
                                      struct tqt_diag *d) {
  char fp[17];
  tqt_model_fingerprint(float_model, fp);
  for (size_t i = 0; i < n_paths; i++) {
    enum tqt_status st = stats_merge_one(p, fp, paths[i], d);
    if (st != TQT_STATUS_OK) return st;
  }
  return TQT_STATUS_OK;
}
