/* Two models side by side on the same samples (compare.h). */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "ir_edit.h"
#include "parallel.h"

double tqt_compare_sqnr_db(const struct tqt_compare_metrics *m) {
  if (!m->n) return NAN;
  if (m->noise <= 0) return INFINITY;
  if (m->signal <= 0) return -INFINITY;
  return 10.0 * log10(m->signal / m->noise);
}

double tqt_compare_cosine(const struct tqt_compare_metrics *m) {
  if (!m->n) return NAN;
  if (m->signal <= 0 && m->energy_b <= 0) return 1.0;
  if (m->signal <= 0 || m->energy_b <= 0) return 0.0;
  return m->dot / sqrt(m->signal * m->energy_b);
}

int64_t tqt_compare_class_count(const struct tqt_rt_tensor *t) {
  if (t->dtype != TQT_DTYPE_FLOAT || t->rank == 0) return 0;
  size_t axis = t->rank; /* the one dim past the first that is not 1 */
  for (size_t i = t->rank == 1 ? 0 : 1; i < t->rank; i++) {
    if (t->dims[i] == 1) continue;
    if (axis != t->rank) return 0;
    axis = i;
  }
  return axis < t->rank && t->dims[axis] >= 2 ? t->dims[axis] : 0;
}

static double compare_get(const struct tqt_rt_tensor *t, int64_t i) {
  return t->dtype == TQT_DTYPE_FLOAT ? (double)((const float *)t->data)[i] : tqt_rt_get(t, i);
}

bool tqt_compare_metrics_add(struct tqt_compare_metrics *m, const struct tqt_rt_tensor *a,
                             const struct tqt_rt_tensor *b, bool class_scores) {
  int64_t n = tqt_rt_numel(a);
  if (n != tqt_rt_numel(b) || tqt_dtype_size(a->dtype) == 0 || tqt_dtype_size(b->dtype) == 0) {
    m->mismatched++;
    return false;
  }
  double signal = 0, noise = 0, sum_abs = 0, max_abs = m->max_abs, dot = 0, eb = 0;
  if (a->dtype == TQT_DTYPE_FLOAT && b->dtype == TQT_DTYPE_FLOAT) {
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < n; i++) {
      double u = x[i], v = y[i], e = u - v;
      signal += u * u;
      noise += e * e;
      sum_abs += fabs(e);
      if (fabs(e) > max_abs || e != e) max_abs = e != e ? INFINITY : fabs(e);
      dot += u * v;
      eb += v * v;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      double u = compare_get(a, i), v = compare_get(b, i), e = u - v;
      signal += u * u;
      noise += e * e;
      sum_abs += fabs(e);
      if (fabs(e) > max_abs || e != e) max_abs = e != e ? INFINITY : fabs(e);
      dot += u * v;
      eb += v * v;
    }
  }
  m->n += (uint64_t)n;
  m->signal += signal;
  m->noise += noise;
  m->sum_abs += sum_abs;
  m->max_abs = max_abs;
  m->dot += dot;
  m->energy_b += eb;
  int64_t classes = class_scores ? tqt_compare_class_count(a) : 0;
  if (classes && b->dtype == TQT_DTYPE_FLOAT) {
    const float *x = a->data, *y = b->data;
    for (int64_t r = 0; r < n / classes; r++) {
      int64_t ia = 0, ib = 0;
      for (int64_t c = 1; c < classes; c++) {
        if (x[r * classes + c] > x[r * classes + ia]) ia = c;
        if (y[r * classes + c] > y[r * classes + ib]) ib = c;
      }
      m->rows++;
      m->agree += ia == ib;
    }
  }
  return true;
}

/* ---- matching ---- */

/* B's producers: value name → node. */
static int compare_producers(const struct tqt_graph *g, struct tqt_name_map *map) {
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
      if (*g->nodes[i]->outputs[k] && tqt_name_map_put(map, g->nodes[i]->outputs[k], g->nodes[i]))
        return -1;
  return 0;
}

static const struct tqt_node *compare_producer(const struct tqt_name_map *producers,
                                               const char *name) {
  void *v;
  return tqt_name_map_get(producers, name, &v) ? v : NULL;
}

/* The float source of a DequantizeLinear output: DQ ← [Clip ←] QuantizeLinear ← source. */
static const char *compare_dq_source(const struct tqt_name_map *producers,
                                     const struct tqt_node *dq) {
  if (strcmp(dq->op_type, "DequantizeLinear") || *dq->domain || dq->n_inputs < 1) return NULL;
  const struct tqt_node *p = compare_producer(producers, dq->inputs[0]);
  if (p && !strcmp(p->op_type, "Clip") && p->n_inputs >= 1)
    p = compare_producer(producers, p->inputs[0]);
  if (!p || strcmp(p->op_type, "QuantizeLinear") || p->n_inputs < 1) return NULL;
  return p->inputs[0];
}

static bool compare_graph_has(const struct tqt_graph *g, const struct tqt_name_map *producers,
                              const char *name) {
  for (size_t i = 0; i < g->n_inputs; i++)
    if (!strcmp(g->inputs[i].name, name)) return true;
  return compare_producer(producers, name) != NULL;
}

static enum tqt_status compare_layers_build(struct tqt_compare *c, const struct tqt_model *a,
                                            const struct tqt_model *b, struct tqt_diag *d) {
  const struct tqt_graph *ga = a->graph, *gb = b->graph;
  struct tqt_name_map producers;
  tqt_name_map_init(&producers);
  size_t n = ga->n_inputs;
  for (size_t i = 0; i < ga->n_nodes; i++) n += ga->nodes[i]->n_outputs;
  c->layers = calloc(n + 1, sizeof *c->layers);
  if (!c->layers) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < ga->n_inputs; i++) {
    if (tqt_name_map_get(&c->by_a, ga->inputs[i].name, NULL)) continue;
    c->layers[c->n_layers] = (struct tqt_compare_entry){.name = ga->inputs[i].name,
                                                         .index = c->n_layers};
    if (tqt_name_map_put(&c->by_a, ga->inputs[i].name, (void *)(uintptr_t)++c->n_layers)) goto oom;
  }
  for (size_t i = 0; i < ga->n_nodes; i++)
    for (size_t k = 0; k < ga->nodes[i]->n_outputs; k++) {
      const char *name = ga->nodes[i]->outputs[k];
      if (!*name || tqt_name_map_get(&c->by_a, name, NULL)) continue;
      c->layers[c->n_layers] = (struct tqt_compare_entry){.name = name, .node = ga->nodes[i],
                                                           .index = c->n_layers};
      if (tqt_name_map_put(&c->by_a, name, (void *)(uintptr_t)++c->n_layers)) goto oom;
    }
  for (size_t i = 0; i < ga->n_outputs; i++) {
    void *v;
    if (tqt_name_map_get(&c->by_a, ga->outputs[i].name, &v))
      c->layers[(size_t)(uintptr_t)v - 1].is_output = true;
  }
  /* B's dequantized values first: they are what B's next layer reads. */
  if (compare_producers(gb, &producers)) goto oom;
  for (size_t i = 0; i < gb->n_nodes; i++) {
    const char *src = compare_dq_source(&producers, gb->nodes[i]);
    void *v;
    if (!src || gb->nodes[i]->n_outputs < 1 || !tqt_name_map_get(&c->by_a, src, &v)) continue;
    struct tqt_compare_entry *e = &c->layers[(size_t)(uintptr_t)v - 1];
    if (e->b_name) continue;
    e->b_name = gb->nodes[i]->outputs[0];
    if (tqt_name_map_put(&c->by_b, e->b_name, v)) goto oom;
  }
  for (size_t i = 0; i < c->n_layers; i++) {
    struct tqt_compare_entry *e = &c->layers[i];
    if (e->b_name || tqt_name_map_get(&c->by_b, e->name, NULL) ||
        !compare_graph_has(gb, &producers, e->name))
      continue;
    e->b_name = e->name;
    if (tqt_name_map_put(&c->by_b, e->name, (void *)(uintptr_t)(i + 1))) goto oom;
  }
  tqt_name_map_free(&producers);
  return TQT_STATUS_OK;
oom:
  tqt_name_map_free(&producers);
  return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
}

/* ---- running ---- */

/* Adds src (sums over some element pairs) into dst, as if its pairs had been added there. */
static void compare_metrics_merge(struct tqt_compare_metrics *dst,
                                  const struct tqt_compare_metrics *src) {
  dst->n += src->n;
  dst->signal += src->signal;
  dst->noise += src->noise;
  dst->sum_abs += src->sum_abs;
  dst->max_abs = src->max_abs > dst->max_abs ? src->max_abs : dst->max_abs;
  dst->dot += src->dot;
  dst->energy_b += src->energy_b;
  dst->rows += src->rows;
  dst->agree += src->agree;
  dst->mismatched += src->mismatched;
}

/* One worker: A's values of its sample (per layer), and what its sample adds to each layer's and
 * output's metrics, taken in sample order (so that the sums are the same for any number). */
struct compare_worker {
  const struct tqt_compare *c;
  struct tqt_value *ref;           /* per layer: A's value */
  bool *seen;                      /* per layer: ref holds this sample's */
  struct tqt_compare_metrics *m;   /* per layer, then per output: this sample's */
};

static int compare_observe_a(void *ctx, const struct tqt_node *node, const char *name,
                             const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  struct compare_worker *w = ctx;
  void *idx;
  if (v->kind != TQT_VALUE_KIND_TENSOR || !tqt_name_map_get(&w->c->by_a, name, &idx)) return 0;
  size_t i = (size_t)(uintptr_t)idx - 1;
  if (!w->c->layers[i].b_name || tqt_dtype_size(v->t.dtype) == 0) return 0;
  /* Reuse the copy's buffer when the size holds (the common case: same shape every sample). */
  struct tqt_value *ref = &w->ref[i];
  if (ref->kind == TQT_VALUE_KIND_TENSOR && !ref->borrowed && ref->t.capacity >= v->t.nbytes) {
    ref->t.dtype = v->t.dtype;
    ref->t.rank = v->t.rank;
    memcpy(ref->t.dims, v->t.dims, sizeof ref->t.dims);
    if (v->t.nbytes) memcpy(ref->t.data, v->t.data, v->t.nbytes);
    ref->t.nbytes = v->t.nbytes;
  } else if (tqt_value_copy(ref, v, d) != TQT_STATUS_OK) {
    return -1;
  }
  w->seen[i] = true;
  return 0;
}

static int compare_observe_b(void *ctx, const struct tqt_node *node, const char *name,
                             const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  (void)d;
  struct compare_worker *w = ctx;
  void *idx;
  if (v->kind != TQT_VALUE_KIND_TENSOR || !tqt_name_map_get(&w->c->by_b, name, &idx)) return 0;
  size_t i = (size_t)(uintptr_t)idx - 1;
  if (w->seen[i]) tqt_compare_metrics_add(&w->m[i], &w->ref[i].t, &v->t, w->c->layers[i].is_output);
  return 0;
}

struct compare_run {
  struct tqt_compare *c;
  const struct tqt_compare_options *o;
  struct tqt_sample_worker *wa, *wb; /* A's workers (with the samples), B's */
  struct compare_worker *workers;
  const size_t *b_index;
  size_t n_in, count;
  bool random;
  uint64_t state;
};

static enum tqt_status compare_sample(void *ctx, size_t worker, size_t s, struct tqt_diag *d) {
  struct compare_run *r = ctx;
  struct tqt_compare *c = r->c;
  struct tqt_sample_worker *wa = &r->wa[worker], *wb = &r->wb[worker];
  struct compare_worker *w = &r->workers[worker];
  memset(w->seen, 0, c->n_layers * sizeof *w->seen);
  enum tqt_status st = r->random ? tqt_dataset_random(wa->in, wa->values, &r->state, d)
                                 : tqt_dataset_sample(wa->ds, s, wa->values, d);
  if (st != TQT_STATUS_OK) return st;
  if ((st = tqt_interp_run(wa->in, wa->ptrs, r->n_in, d)) != TQT_STATUS_OK) {
    tqt_diag_prefix(d, "A: sample %zu: ", s);
    return st;
  }
  if ((st = tqt_interp_run(wb->in, wa->ptrs, r->n_in, d)) != TQT_STATUS_OK) {
    tqt_diag_prefix(d, "B: sample %zu: ", s);
    return st;
  }
  for (size_t i = 0; i < c->n_outputs; i++) {
    const struct tqt_value *va = tqt_interp_output(wa->in, i);
    const struct tqt_value *vb = tqt_interp_output(wb->in, r->b_index[i]);
    if (va && vb && va->kind == TQT_VALUE_KIND_TENSOR && vb->kind == TQT_VALUE_KIND_TENSOR)
      tqt_compare_metrics_add(&w->m[c->n_layers + i], &va->t, &vb->t, true);
  }
  return TQT_STATUS_OK;
}

/* In sample order: the sample's metrics join the totals. */
static enum tqt_status compare_commit(void *ctx, size_t worker, size_t s, struct tqt_diag *d) {
  (void)d;
  struct compare_run *r = ctx;
  struct tqt_compare *c = r->c;
  struct compare_worker *w = &r->workers[worker];
  for (size_t i = 0; i < c->n_layers + c->n_outputs; i++) {
    struct tqt_compare_metrics *total = i < c->n_layers ? &c->layers[i].m
                                                        : &c->outputs[i - c->n_layers].m;
    compare_metrics_merge(total, &w->m[i]);
    w->m[i] = (struct tqt_compare_metrics){0};
  }
  c->samples++;
  if (r->o->progress) r->o->progress(r->o->progress_ctx, s + 1, r->count);
  return TQT_STATUS_OK;
}

static enum tqt_status compare_outputs_match(struct tqt_compare *c, const struct tqt_model *a,
                                             const struct tqt_model *b, size_t *b_index,
                                             struct tqt_diag *d) {
  const struct tqt_graph *ga = a->graph, *gb = b->graph;
  c->n_outputs = ga->n_outputs;
  c->outputs = calloc(ga->n_outputs + 1, sizeof *c->outputs);
  if (!c->outputs) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < ga->n_outputs; i++) {
    size_t k = gb->n_outputs;
    for (size_t j = 0; j < gb->n_outputs; j++)
      if (!strcmp(gb->outputs[j].name, ga->outputs[i].name)) k = j;
    if (k == gb->n_outputs && ga->n_outputs == gb->n_outputs) k = i;
    if (k == gb->n_outputs)
      return tqt_diag_fail(d, TQT_STATUS_INVALID,
                           "output '%s' of A has no output of the same name in B", ga->outputs[i].name);
    b_index[i] = k;
    c->outputs[i] = (struct tqt_compare_entry){.name = ga->outputs[i].name,
                                               .b_name = gb->outputs[k].name, .index = i,
                                               .is_output = true};
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_compare_models(struct tqt_model *a, struct tqt_model *b,
                                   const struct tqt_compare_options *o, struct tqt_compare **out,
                                   struct tqt_diag *d) {
  *out = NULL;
  struct tqt_compare *c = calloc(1, sizeof *c);
  struct compare_run run = {.c = c, .o = o, .state = 0x636f6d70617265ull,
                            .random = o->n_specs == 1 && !strcmp(o->specs[0], "random")};
  /* random inputs come from one generator in sample order: one worker */
  size_t n_workers = run.random || o->threads <= 1 ? 1 : (size_t)o->threads, n_in_b = 0;
  size_t *b_index = NULL;
  void **ctx = NULL;
  enum tqt_status st = TQT_STATUS_OK;
  if (!c) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  tqt_name_map_init(&c->by_a);
  tqt_name_map_init(&c->by_b);
  if (!(b_index = calloc(a->graph->n_outputs + 1, sizeof *b_index)) ||
      !(run.workers = calloc(n_workers, sizeof *run.workers)) ||
      !(ctx = calloc(n_workers, sizeof *ctx))) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  run.b_index = b_index;
  if ((st = compare_outputs_match(c, a, b, b_index, d)) != TQT_STATUS_OK) goto fail;
  if (o->per_layer && (st = compare_layers_build(c, a, b, d)) != TQT_STATUS_OK) goto fail;
  for (size_t k = 0; k < n_workers; k++) {
    struct compare_worker *w = &run.workers[k];
    w->c = c;
    ctx[k] = w;
    w->ref = calloc(c->n_layers + 1, sizeof *w->ref);
    w->seen = calloc(c->n_layers + 1, sizeof *w->seen);
    w->m = calloc(c->n_layers + c->n_outputs + 1, sizeof *w->m);
    if (!w->ref || !w->seen || !w->m) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
  }
  struct tqt_interp_options oa = {.threads = o->threads}, ob = oa;
  if (o->per_layer) {
    oa.observer = compare_observe_a;
    ob.observer = compare_observe_b;
  }
  if ((st = tqt_sample_workers_create(a, &oa, ctx, n_workers, run.random ? NULL : o->specs,
                                      o->n_specs, o->preprocess, &run.wa, &run.n_in, d)) !=
      TQT_STATUS_OK) {
    if (!run.wa || !run.wa[0].in) tqt_diag_prefix(d, "A: ");
    goto fail;
  }
  if ((st = tqt_sample_workers_create(b, &ob, ctx, n_workers, NULL, 0, NULL, &run.wb, &n_in_b,
                                      d)) != TQT_STATUS_OK) {
    tqt_diag_prefix(d, "B: ");
    goto fail;
  }
  if (n_in_b != run.n_in) {
    st = tqt_diag_fail(d, TQT_STATUS_INVALID, "A takes %zu inputs, B %zu: they cannot share samples",
                       run.n_in, n_in_b);
    goto fail;
  }
  run.count = o->max_samples ? o->max_samples : 16;
  if (!run.random) {
    run.count = tqt_dataset_count(run.wa[0].ds);
    if (o->max_samples && o->max_samples < run.count) run.count = o->max_samples;
  }
  st = tqt_parallel_run(run.count, n_workers, compare_sample, compare_commit, &run, d);
fail:
  for (size_t k = 0; run.workers && k < n_workers; k++) {
    struct compare_worker *w = &run.workers[k];
    for (size_t i = 0; w->ref && i < c->n_layers; i++) tqt_value_release(&w->ref[i]);
    for (size_t i = 0; run.random && run.wa && run.wa[k].values && i < run.n_in; i++)
      tqt_value_release(&run.wa[k].values[i]);
    free(w->ref);
    free(w->seen);
    free(w->m);
  }
  free(run.workers);
  free(ctx);
  free(b_index);
  tqt_sample_workers_destroy(run.wa, n_workers);
  tqt_sample_workers_destroy(run.wb, n_workers);
  if (st != TQT_STATUS_OK) {
    tqt_compare_destroy(c);
    return st;
  }
  *out = c;
  return TQT_STATUS_OK;
}

const struct tqt_compare_entry *tqt_compare_layer(const struct tqt_compare *c, const char *name) {
  void *v;
  return c && tqt_name_map_get(&c->by_a, name, &v) ? &c->layers[(size_t)(uintptr_t)v - 1] : NULL;
}

void tqt_compare_destroy(struct tqt_compare *c) {
  if (!c) return;
  free(c->layers);
  free(c->outputs);
  tqt_name_map_free(&c->by_a);
  tqt_name_map_free(&c->by_b);
  free(c);
}
