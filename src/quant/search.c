/* Exponent search (quant.h): each scale group's exponent moved to its neighbours while that
 * lowers the error at the model's outputs on some of the calibration samples.
 *
 * A power-of-two threshold has only a handful of sensible values, so trying them is cheap where
 * a continuous threshold would need an optimizer; and the error that matters is the one after
 * everything downstream (a Sigmoid that saturates, a Log that does not, a Softmax, the LSTM
 * state), which no statistic of the tensor itself measures. Groups go in plan order (the order
 * of the nodes), each with the choices of the groups before it applied; a group keeps its
 * exponent unless a neighbour is strictly better.
 *
 * Some samples judge what all of them will meet, so a step down (more clipping) is taken only
 * where the samples show it: they are spread over the calibration set, they must hold their
 * share of the values the step clips (by the calibration histograms), and class scores (what
 * Softmax, ArgMax, TopK read) are never clipped below their largest value. Judged on 8 samples,
 * steps that clipped a weight row only rare inputs raise, or the top logits (equal after
 * clipping), cost the oww-timer classifier 3 of 6 windows of a class; on 32 they were not
 * taken. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "ir_edit.h"
#include "quant.h"

#define SEARCH_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")
/* --search auto: at most this many values computed by all the searched runs together (about a
 * minute of the interpreter on one core). */
#define SEARCH_AUTO_BUDGET 4e9
/* At most this many bytes of samples and reference outputs held (large images take fewer). */
#define SEARCH_MEMORY_BUDGET ((size_t)1 << 30)
/* Steps away from the calibrated exponent, each way. */
#define SEARCH_MAX_STEPS 3
/* A step down is measured only where the search samples show the clipping it adds: unless the
 * calibration set would put fewer than this many clipped values into samples of their size,
 * they must hold at least half its fraction of them. */
#define SEARCH_MIN_EXPECTED_CLIPPED 0.1

struct search {
  struct tqt_quant_plan *p;
  const struct tqt_model *m;
  const struct tqt_search_options *o;
  struct tqt_diag *d;
  size_t n_samples, n_in, n_out;
  struct tqt_value *inputs;    /* n_samples × n_in, owned copies */
  const struct tqt_value **ptrs; /* n_in, pointing into inputs for one sample */
  float **ref;                 /* n_samples × n_out float outputs (NULL: not a float tensor) */
  size_t *ref_size;            /* n_out */
  double *ref_energy;          /* n_out: Σ over samples of Σ y² */
  struct tqt_histogram **seen; /* per plan tensor: an activation's values in the samples */
  struct tqt_name_map ranked;  /* inputs of Softmax, LogSoftmax, ArgMax, TopK */
  size_t evaluations;
};

/* Interpreter observer of the reference runs: each activation's histogram over the samples. */
static int search_observe(void *ctx, const struct tqt_node *node, const char *name,
                          const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  struct search *s = ctx;
  const struct tqt_qtensor *t = tqt_quant_observed(s->p, name, v);
  if (!t) return 0;
  struct tqt_histogram **h = &s->seen[t - s->p->tensors];
  if (!*h) {
    if (!(*h = malloc(sizeof **h))) {
      SEARCH_NOMEM(d);
      return -1;
    }
    tqt_histogram_init(*h);
  }
  tqt_histogram_add(*h, v->t.data, (size_t)tqt_rt_numel(&v->t));
  return 0;
}

/* Loads the samples and the float model's outputs on them. */
static enum tqt_status search_reference(struct search *s, const char *const *specs,
                                        size_t n_specs) {
  struct tqt_diag *d = s->d;
  struct tqt_interp_options io = {.threads = s->o->threads, .observer = search_observe,
                                  .observer_ctx = s};
  struct tqt_interp *in = NULL;
  struct tqt_dataset *ds = NULL;
  const struct tqt_value_info **infos = NULL;
  enum tqt_status st = tqt_interp_create((struct tqt_model *)s->m, &io, &in, d);
  if (st != TQT_STATUS_OK) return st;
  s->n_in = tqt_interp_input_count(in);
  s->n_out = tqt_interp_output_count(in);
  if (!(infos = calloc(s->n_in + 1, sizeof *infos))) {
    st = SEARCH_NOMEM(d);
    goto fail;
  }
  for (size_t i = 0; i < s->n_in; i++) infos[i] = tqt_interp_input_info(in, i);
  if ((st = tqt_dataset_open(specs, n_specs, infos, s->n_in, s->p->preprocess, &ds, d)) !=
      TQT_STATUS_OK)
    goto fail;
  size_t count = tqt_dataset_count(ds);
  if (s->o->max_samples && s->o->max_samples < count) count = s->o->max_samples;
  s->n_samples = count < s->o->samples ? count : s->o->samples;
  s->inputs = calloc(s->n_samples * s->n_in + 1, sizeof *s->inputs);
  s->ptrs = calloc(s->n_in + 1, sizeof *s->ptrs);
  s->ref = calloc(s->n_samples * s->n_out + 1, sizeof *s->ref);
  s->ref_size = calloc(s->n_out + 1, sizeof *s->ref_size);
  s->ref_energy = calloc(s->n_out + 1, sizeof *s->ref_energy);
  if (!s->inputs || !s->ptrs || !s->ref || !s->ref_size || !s->ref_energy) {
    st = SEARCH_NOMEM(d);
    goto fail;
  }
  for (size_t k = 0; k < s->n_samples; k++) {
    struct tqt_value *v = &s->inputs[k * s->n_in];
    /* Spread over the calibration samples: the first ones are often alike (one folder, one
     * recording), and an exponent judged on them alone can clip what the others hold. */
    size_t at = (size_t)(((double)k + 0.5) * (double)count / (double)s->n_samples);
    if ((st = tqt_dataset_sample(ds, at, v, d)) != TQT_STATUS_OK) goto fail;
    for (size_t i = 0; i < s->n_in; i++) { /* owned copies: the dataset reuses its buffers */
      struct tqt_value copy = {0};
      if ((st = tqt_value_copy(&copy, &v[i], d)) != TQT_STATUS_OK) goto fail;
      v[i] = copy;
      s->ptrs[i] = &v[i];
    }
    if ((st = tqt_interp_run(in, s->ptrs, s->n_in, d)) != TQT_STATUS_OK) {
      tqt_diag_prefix(d, "search: sample %zu: ", k);
      goto fail;
    }
    for (size_t j = 0; j < s->n_out; j++) {
      const struct tqt_value *y = tqt_interp_output(in, j);
      if (y->kind != TQT_VALUE_KIND_TENSOR || y->t.dtype != TQT_DTYPE_FLOAT) continue;
      size_t n = (size_t)tqt_rt_numel(&y->t);
      float *r = malloc((n + 1) * sizeof *r);
      if (!r) {
        st = SEARCH_NOMEM(d);
        goto fail;
      }
      memcpy(r, y->t.data, n * sizeof *r);
      s->ref[k * s->n_out + j] = r;
      s->ref_size[j] = n;
      for (size_t e = 0; e < n; e++)
        if (isfinite(r[e])) s->ref_energy[j] += (double)r[e] * r[e];
    }
    if (k == 0) { /* what one sample holds: as many as the memory budget allows */
      size_t bytes = 1;
      for (size_t i = 0; i < s->n_in; i++)
        if (v[i].kind == TQT_VALUE_KIND_TENSOR)
          bytes += (size_t)tqt_rt_numel(&v[i].t) * tqt_dtype_size(v[i].t.dtype);
      for (size_t j = 0; j < s->n_out; j++) bytes += s->ref_size[j] * sizeof(float);
      size_t fit = SEARCH_MEMORY_BUDGET / bytes;
      if (fit < s->n_samples) {
        s->n_samples = fit ? fit : 1;
        tqt_diag_note(d, "exponent search: %zu samples fit in %zu MiB", s->n_samples,
                      SEARCH_MEMORY_BUDGET >> 20);
      }
    }
  }
fail:
  free(infos);
  tqt_dataset_close(ds);
  tqt_interp_destroy(in);
  return st;
}

/* The error of the plan's current exponents: per float output, the energy of the difference
 * over the energy of the reference (10^(-SQNR/10)), summed over the outputs. A value that is
 * not finite where the reference is makes the error infinite. */
static enum tqt_status search_error(struct search *s, double *out) {
  struct tqt_diag *d = s->d;
  struct tqt_interp *in = NULL;
  struct tqt_model *qm = tqt_model_clone(s->m);
  double *diff = calloc(s->n_out + 1, sizeof *diff);
  enum tqt_status st = TQT_STATUS_OK;
  if (!qm || !diff) {
    st = SEARCH_NOMEM(d);
    goto fail;
  }
  struct tqt_interp_options io = {.threads = s->o->threads};
  if ((st = tqt_quant_insert(qm, s->p, d)) != TQT_STATUS_OK ||
      (st = tqt_interp_create(qm, &io, &in, d)) != TQT_STATUS_OK)
    goto fail;
  s->evaluations++;
  for (size_t k = 0; k < s->n_samples; k++) {
    for (size_t i = 0; i < s->n_in; i++) s->ptrs[i] = &s->inputs[k * s->n_in + i];
    if ((st = tqt_interp_run(in, s->ptrs, s->n_in, d)) != TQT_STATUS_OK) {
      tqt_diag_prefix(d, "search: sample %zu: ", k);
      goto fail;
    }
    for (size_t j = 0; j < s->n_out; j++) {
      const float *r = s->ref[k * s->n_out + j];
      const struct tqt_value *y = tqt_interp_output(in, j);
      if (!r || y->kind != TQT_VALUE_KIND_TENSOR || y->t.dtype != TQT_DTYPE_FLOAT ||
          (size_t)tqt_rt_numel(&y->t) != s->ref_size[j])
        continue;
      const float *q = y->t.data;
      for (size_t e = 0; e < s->ref_size[j]; e++) {
        if (!isfinite(r[e])) continue;
        double delta = (double)q[e] - r[e];
        diff[j] += isfinite(delta) ? delta * delta : INFINITY;
      }
    }
  }
  double err = 0;
  for (size_t j = 0; j < s->n_out; j++)
    err += diff[j] / (s->ref_energy[j] > 0 ? s->ref_energy[j] : 1e-30);
  *out = err;
fail:
  free(diff);
  tqt_interp_destroy(in);
  tqt_model_destroy(qm);
  return st;
}

/* Sets the exponent of the unit at r: every member of the scale group rooted there (biases
 * follow from their input and weight), or, for a per-channel weight, every channel's exponent
 * moved by as much as its largest (base: the calibrated ones). */
static void search_unit_set(struct tqt_quant_plan *p, size_t r, int e, const int *base) {
  struct tqt_qtensor *w = &p->tensors[r];
  if (w->channel_exponents) {
    for (size_t c = 0; c < w->n_channels; c++) w->channel_exponents[c] = base[c] + e - w->search_start;
    w->exponent = e;
    return;
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || t->kind == TQT_QTENSOR_KIND_BIAS || t->channel_exponents) continue;
    if (tqt_quant_group_root(p, i) == r) t->exponent = e;
  }
}

/* tqt_graph_walk visitor: the inputs that an op ranks into ((struct search *)ctx)->ranked. */
static int search_ranked_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  static const char *const ranking[] = {"Softmax", "LogSoftmax", "ArgMax", "TopK"};
  struct search *s = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    for (size_t k = 0; !*n->domain && n->n_inputs && k < sizeof ranking / sizeof *ranking; k++)
      if (!strcmp(n->op_type, ranking[k]) && tqt_name_map_put(&s->ranked, n->inputs[0], NULL))
        return -1;
  }
  return 0;
}

/* Whether the unit at r holds values that an op ranks (class scores): clipping their top makes
 * the largest ones equal, which the output error of a few samples barely shows and the decision
 * of the others does. */
static bool search_unit_ranked(const struct search *s, size_t r) {
  const struct tqt_quant_plan *p = s->p;
  for (size_t i = 0; i < p->n_tensors; i++)
    if (!p->tensors[i].skip && p->tensors[i].kind == TQT_QTENSOR_KIND_ACTIVATION &&
        tqt_quant_group_root(p, i) == r && tqt_name_map_get(&s->ranked, p->tensors[i].name, NULL))
      return true;
  return false;
}

/* Whether the samples show what exponent e would clip in the unit at r (the activations of the
 * group; weights are the same in every sample). */
static bool search_unit_covered(const struct search *s, size_t r, int e) {
  const struct tqt_quant_plan *p = s->p;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || t->kind != TQT_QTENSOR_KIND_ACTIVATION || !t->hist || tqt_quant_group_root(p, i) != r)
      continue;
    const struct tqt_histogram *seen = s->seen[i];
    double top = t->is_signed ? ldexp(1.0, t->bits - 1) - 1 : ldexp(1.0, t->bits) - 1;
    double level = (top + 0.5) * tqt_scale_of(e, t->bits, t->is_signed);
    double all = tqt_histogram_fraction_above(t->hist, level);
    double got = seen ? tqt_histogram_fraction_above(seen, level) : 0;
    if (seen && all * (double)seen->count >= SEARCH_MIN_EXPECTED_CLIPPED && got < all / 2)
      return false;
  }
  return true;
}

/* The least exponent that clips nothing in the unit at r: above it, only coarser steps. */
static int search_unit_peak(const struct tqt_quant_plan *p, size_t r) {
  const struct tqt_qtensor *w = &p->tensors[r];
  if (w->channel_exponents) /* the channels' own exponents clip nothing with the max method */
    return w->method == TQT_THRESHOLD_METHOD_MAX ? w->exponent : INT32_MAX;
  int peak = TQT_EXPONENT_MIN;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || t->kind == TQT_QTENSOR_KIND_BIAS || t->channel_exponents ||
        tqt_quant_group_root(p, i) != r)
      continue;
    if (!t->hist || !t->hist->count) return INT32_MAX;
    int e = tqt_threshold_exponent(fmax(fabs(t->hist->min), fabs(t->hist->max)));
    if (e > peak) peak = e;
  }
  return peak;
}

/* Searches the unit at r from the error *current (updated); *moved: its exponents changed. */
static enum tqt_status search_unit(struct search *s, size_t r, double *current, bool *moved) {
  struct tqt_quant_plan *p = s->p;
  struct tqt_qtensor *root = &p->tensors[r];
  int start = root->exponent, best = start;
  int *base = NULL;
  enum tqt_status st;
  root->search_start = start;
  if (root->channel_exponents) {
    if (!(base = tqt_arena_calloc(p->arena, root->n_channels + 1, sizeof *base)))
      return SEARCH_NOMEM(s->d);
    memcpy(base, root->channel_exponents, root->n_channels * sizeof *base);
  }
  root->search_tries = tqt_arena_calloc(p->arena, 2 * SEARCH_MAX_STEPS + 3,
                                        sizeof *root->search_tries);
  if (!root->search_tries) return SEARCH_NOMEM(s->d);
  root->search_tries[root->n_search_tries++] = (struct tqt_search_try){start, *current, false};
  if (base) {
    /* Finer steps per channel lower each weight's own error, yet one exponent for all (the
     * largest) can give the lower output error: measured, not assumed. */
    for (size_t c = 0; c < root->n_channels; c++) root->channel_exponents[c] = start;
    double err;
    if ((st = search_error(s, &err)) != TQT_STATUS_OK) return st;
    root->search_tries[root->n_search_tries++] = (struct tqt_search_try){start, err, true};
    if (err < *current) {
      *current = err;
      *moved = true;
      for (size_t c = 0; c < root->n_channels; c++) base[c] = start;
    } else {
      memcpy(root->channel_exponents, base, root->n_channels * sizeof *base);
    }
  }
  /* Down first (finer steps, more clipping): calibration errs on the side of range. Class scores
   * go no lower than what clips none of them. */
  int peak = search_unit_peak(p, r);
  int floor = search_unit_ranked(s, r) ? peak : TQT_EXPONENT_MIN;
  for (int dir = -1; dir <= 1; dir += 2) {
    for (int step = 1; step <= SEARCH_MAX_STEPS; step++) {
      int e = start + dir * step;
      if (e < floor || (dir > 0 && e > peak) || (dir < 0 && !search_unit_covered(s, r, e))) break;
      search_unit_set(p, r, e, base);
      double err;
      if ((st = search_error(s, &err)) != TQT_STATUS_OK) return st;
      root->search_tries[root->n_search_tries++] = (struct tqt_search_try){e, err, false};
      if (!(err < *current)) break;
      *current = err;
      best = e;
    }
    if (best != start) break; /* improved going down: going up is the other side of the dip */
  }
  search_unit_set(p, r, best, base);
  *moved |= best != start;
  return TQT_STATUS_OK;
}

enum tqt_status tqt_quant_search(struct tqt_quant_plan *p, const struct tqt_model *m,
                                 const char *const *specs, size_t n_specs,
                                 const struct tqt_search_options *o, struct tqt_diag *d) {
  struct search s = {.p = p, .m = m, .o = o, .d = d};
  enum tqt_status st = TQT_STATUS_OK;
  tqt_name_map_init(&s.ranked);
  /* The units: scale groups (of activations and per-tensor weights) and per-channel weights. */
  size_t n_groups = 0;
  bool *searched = calloc(p->n_tensors + 1, sizeof *searched);
  s.seen = calloc(p->n_tensors + 1, sizeof *s.seen);
  if (!searched || !s.seen || tqt_graph_walk(m->graph, search_ranked_visit, &s)) {
    st = SEARCH_NOMEM(d);
    goto done;
  }
  double values = 0; /* per sample, what the quantized activations hold */
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->kind == TQT_QTENSOR_KIND_ACTIVATION && p->samples)
      values += (double)t->hist->count / (double)p->samples;
    if (t->skip || t->kind == TQT_QTENSOR_KIND_BIAS) continue;
    size_t r = t->channel_exponents ? i : tqt_quant_group_root(p, i);
    if (!searched[r]) n_groups++;
    searched[r] = true;
  }
  size_t samples = o->samples;
  double cost = (double)(2 * n_groups + 1) * (double)samples * values;
  if (o->mode == TQT_SEARCH_MODE_AUTO && cost > SEARCH_AUTO_BUDGET) {
    tqt_diag_warn(d, "exponent search skipped: %zu scale groups × %zu samples × %.3g values a run "
                  "is more than --search auto does (--search always, or fewer --search-samples)",
                  n_groups, samples, values);
    goto done;
  }
  if ((st = search_reference(&s, specs, n_specs)) != TQT_STATUS_OK) goto done;
  double current;
  if ((st = search_error(&s, &current)) != TQT_STATUS_OK) goto done;
  double first = current;
  size_t changed = 0;
  for (size_t r = 0; r < p->n_tensors; r++) {
    if (!searched[r]) continue;
    bool moved = false;
    if ((st = search_unit(&s, r, &current, &moved)) != TQT_STATUS_OK) goto done;
    changed += moved;
    if (o->progress) o->progress(o->progress_ctx, r + 1, p->n_tensors);
  }
  p->search_error_before = first;
  p->search_error_after = current;
  p->search_groups = n_groups;
  p->search_changed = changed;
  tqt_diag_note(d, "exponent search: %zu of %zu scale groups moved, output SQNR %.2f → %.2f dB "
                "(%zu runs of %zu samples)", changed, n_groups, -10 * log10(first),
                -10 * log10(current), s.evaluations, s.n_samples);
done:
  for (size_t i = 0; s.inputs && i < s.n_samples * s.n_in; i++) tqt_value_release(&s.inputs[i]);
  free(s.inputs);
  free(s.ptrs);
  for (size_t i = 0; s.ref && i < s.n_samples * s.n_out; i++) free(s.ref[i]);
  free(s.ref);
  free(s.ref_size);
  free(s.ref_energy);
  for (size_t i = 0; s.seen && i < p->n_tensors; i++) free(s.seen[i]);
  free(s.seen);
  tqt_name_map_free(&s.ranked);
  free(searched);
  return st;
}
