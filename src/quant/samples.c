/* The measuring samples (quant.h): some calibration samples held in memory with the float
 * model's outputs on them, so that a refinement after calibration (exponent search, bias
 * correction) can judge a candidate by the error it gives at the model's outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "ir_edit.h"
#include "quant.h"

#define SAMPLES_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")
/* At most this many bytes of samples and reference outputs held (large images take fewer). */
#define SAMPLES_MEMORY_BUDGET ((size_t)1 << 30)

struct tqt_quant_samples {
  const struct tqt_quant_plan *p;
  const struct tqt_model *m;
  int threads;
  size_t n_samples, n_in, n_out;
  struct tqt_value *inputs;      /* n_samples × n_in, owned copies */
  const struct tqt_value **ptrs; /* n_in, pointing into inputs for one sample */
  float **ref;                   /* n_samples × n_out float outputs (NULL: not a float tensor) */
  size_t *ref_size;              /* n_out */
  double *ref_energy;            /* n_out: Σ over samples of Σ y² */
  struct tqt_histogram **seen;   /* per plan tensor: an activation's values in the samples */
  size_t runs;
};

/* Interpreter observer of the reference runs: each activation's histogram over the samples. */
static int samples_observe(void *ctx, const struct tqt_node *node, const char *name,
                           const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  struct tqt_quant_samples *s = ctx;
  const struct tqt_qtensor *t = tqt_quant_observed(s->p, name, v);
  if (!t) return 0;
  struct tqt_histogram **h = &s->seen[t - s->p->tensors];
  if (!*h) {
    if (!(*h = malloc(sizeof **h))) {
      SAMPLES_NOMEM(d);
      return -1;
    }
    tqt_histogram_init(*h);
  }
  tqt_histogram_add(*h, v->t.data, (size_t)tqt_rt_numel(&v->t));
  return 0;
}

/* Keeps the float outputs of sample k (the interpreter's, after a run of the float model). */
static enum tqt_status samples_keep_reference(struct tqt_quant_samples *s, struct tqt_interp *in,
                                              size_t k, struct tqt_diag *d) {
  for (size_t j = 0; j < s->n_out; j++) {
    const struct tqt_value *y = tqt_interp_output(in, j);
    if (y->kind != TQT_VALUE_KIND_TENSOR || y->t.dtype != TQT_DTYPE_FLOAT) continue;
    size_t n = (size_t)tqt_rt_numel(&y->t);
    float *r = malloc((n + 1) * sizeof *r);
    if (!r) return SAMPLES_NOMEM(d);
    memcpy(r, y->t.data, n * sizeof *r);
    s->ref[k * s->n_out + j] = r;
    s->ref_size[j] = n;
    for (size_t e = 0; e < n; e++)
      if (isfinite(r[e])) s->ref_energy[j] += (double)r[e] * r[e];
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_quant_samples_load(const struct tqt_quant_plan *p, const struct tqt_model *m,
                                       const char *const *specs, size_t n_specs, size_t want,
                                       size_t max_samples, int threads,
                                       struct tqt_quant_samples **out, struct tqt_diag *d) {
  struct tqt_quant_samples *s = calloc(1, sizeof *s);
  struct tqt_interp *in = NULL;
  struct tqt_dataset *ds = NULL;
  const struct tqt_value_info **infos = NULL;
  enum tqt_status st;
  *out = NULL;
  if (!s || !(s->seen = calloc(p->n_tensors + 1, sizeof *s->seen))) {
    st = SAMPLES_NOMEM(d);
    goto fail;
  }
  s->p = p;
  s->m = m;
  s->threads = threads;
  struct tqt_interp_options io = {.threads = threads, .observer = samples_observe,
                                  .observer_ctx = s};
  if ((st = tqt_interp_create((struct tqt_model *)m, &io, &in, d)) != TQT_STATUS_OK) goto fail;
  s->n_in = tqt_interp_input_count(in);
  s->n_out = tqt_interp_output_count(in);
  if (!(infos = calloc(s->n_in + 1, sizeof *infos))) {
    st = SAMPLES_NOMEM(d);
    goto fail;
  }
  for (size_t i = 0; i < s->n_in; i++) infos[i] = tqt_interp_input_info(in, i);
  if ((st = tqt_dataset_open(specs, n_specs, infos, s->n_in, p->preprocess, &ds, d)) != TQT_STATUS_OK)
    goto fail;
  size_t count = tqt_dataset_count(ds);
  if (max_samples && max_samples < count) count = max_samples;
  s->n_samples = count < want ? count : want;
  s->inputs = calloc(s->n_samples * s->n_in + 1, sizeof *s->inputs);
  s->ptrs = calloc(s->n_in + 1, sizeof *s->ptrs);
  s->ref = calloc(s->n_samples * s->n_out + 1, sizeof *s->ref);
  s->ref_size = calloc(s->n_out + 1, sizeof *s->ref_size);
  s->ref_energy = calloc(s->n_out + 1, sizeof *s->ref_energy);
  if (!s->inputs || !s->ptrs || !s->ref || !s->ref_size || !s->ref_energy) {
    st = SAMPLES_NOMEM(d);
    goto fail;
  }
  for (size_t k = 0; k < s->n_samples; k++) {
    struct tqt_value *v = &s->inputs[k * s->n_in];
    /* Spread over the calibration samples: the first ones are often alike (one folder, one
     * recording), and a choice judged on them alone can clip what the others hold. */
    size_t at = (size_t)(((double)k + 0.5) * (double)count / (double)s->n_samples);
    if ((st = tqt_dataset_sample(ds, at, v, d)) != TQT_STATUS_OK) goto fail;
    for (size_t i = 0; i < s->n_in; i++) { /* owned copies: the dataset reuses its buffers */
      struct tqt_value copy = {0};
      if ((st = tqt_value_copy(&copy, &v[i], d)) != TQT_STATUS_OK) goto fail;
      v[i] = copy;
      s->ptrs[i] = &v[i];
    }
    if ((st = tqt_interp_run(in, s->ptrs, s->n_in, d)) != TQT_STATUS_OK) {
      tqt_diag_prefix(d, "measuring sample %zu: ", k);
      goto fail;
    }
    if ((st = samples_keep_reference(s, in, k, d)) != TQT_STATUS_OK) goto fail;
    if (k == 0) { /* what one sample holds: as many as the memory budget allows */
      size_t bytes = 1;
      for (size_t i = 0; i < s->n_in; i++)
        if (v[i].kind == TQT_VALUE_KIND_TENSOR)
          bytes += (size_t)tqt_rt_numel(&v[i].t) * tqt_dtype_size(v[i].t.dtype);
      for (size_t j = 0; j < s->n_out; j++) bytes += s->ref_size[j] * sizeof(float);
      size_t fit = SAMPLES_MEMORY_BUDGET / bytes;
      if (fit < s->n_samples) {
        s->n_samples = fit ? fit : 1;
        tqt_diag_note(d, "measuring on %zu samples: as many fit in %zu MiB", s->n_samples,
                      SAMPLES_MEMORY_BUDGET >> 20);
      }
    }
  }
  *out = s;
  s = NULL;
fail:
  free(infos);
  tqt_dataset_close(ds);
  tqt_interp_destroy(in);
  tqt_quant_samples_free(s);
  return st;
}

void tqt_quant_samples_free(struct tqt_quant_samples *s) {
  if (!s) return;
  for (size_t i = 0; s->inputs && i < s->n_samples * s->n_in; i++) tqt_value_release(&s->inputs[i]);
  free(s->inputs);
  free(s->ptrs);
  for (size_t i = 0; s->ref && i < s->n_samples * s->n_out; i++) free(s->ref[i]);
  free(s->ref);
  free(s->ref_size);
  free(s->ref_energy);
  for (size_t i = 0; s->seen && i < s->p->n_tensors; i++) free(s->seen[i]);
  free(s->seen);
  free(s);
}

size_t tqt_quant_samples_count(const struct tqt_quant_samples *s) { return s->n_samples; }

double tqt_quant_samples_run_values(const struct tqt_quant_samples *s) {
  const struct tqt_quant_plan *p = s->p;
  double per_sample = 0; /* what the quantized activations hold, by the calibration's counts */
  for (size_t i = 0; p->samples && i < p->n_tensors; i++)
    if (p->tensors[i].kind == TQT_QTENSOR_KIND_ACTIVATION)
      per_sample += (double)p->tensors[i].hist->count / (double)p->samples;
  return per_sample * (double)s->n_samples;
}
size_t tqt_quant_samples_runs(const struct tqt_quant_samples *s) { return s->runs; }

const struct tqt_histogram *tqt_quant_samples_seen(const struct tqt_quant_samples *s, size_t i) {
  return s->seen[i];
}

enum tqt_status tqt_quant_samples_run(struct tqt_quant_samples *s, struct tqt_model *qm,
                                      tqt_observer_fn observer, void *observer_ctx,
                                      double *error, struct tqt_diag *d) {
  struct tqt_interp *in = NULL;
  double *diff = calloc(s->n_out + 1, sizeof *diff);
  enum tqt_status st = TQT_STATUS_OK;
  if (!diff) return SAMPLES_NOMEM(d);
  struct tqt_interp_options io = {.threads = s->threads, .observer = observer,
                                  .observer_ctx = observer_ctx};
  if ((st = tqt_interp_create(qm, &io, &in, d)) != TQT_STATUS_OK) goto fail;
  s->runs++;
  for (size_t k = 0; k < s->n_samples; k++) {
    for (size_t i = 0; i < s->n_in; i++) s->ptrs[i] = &s->inputs[k * s->n_in + i];
    if ((st = tqt_interp_run(in, s->ptrs, s->n_in, d)) != TQT_STATUS_OK) {
      tqt_diag_prefix(d, "measuring sample %zu: ", k);
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
  if (error) {
    double err = 0;
    for (size_t j = 0; j < s->n_out; j++)
      err += diff[j] / (s->ref_energy[j] > 0 ? s->ref_energy[j] : 1e-30);
    *error = err;
  }
fail:
  free(diff);
  tqt_interp_destroy(in);
  return st;
}

enum tqt_status tqt_quant_samples_error(struct tqt_quant_samples *s, double *error,
                                        struct tqt_diag *d) {
  struct tqt_model *qm = tqt_model_clone(s->m);
  enum tqt_status st;
  if (!qm) return SAMPLES_NOMEM(d);
  if ((st = tqt_quant_insert(qm, s->p, d)) == TQT_STATUS_OK)
    st = tqt_quant_samples_run(s, qm, NULL, NULL, error, d);
  tqt_model_destroy(qm);
  return st;
}

bool tqt_quant_plan_output_error(const struct tqt_quant_plan *p, double *error) {
  if (p->bias_layers) *error = p->bias_error_after;
  else if (p->search_groups) *error = p->search_error_after;
  else if (p->n_method_tries) {
    *error = INFINITY;
    for (size_t k = 0; k < p->n_method_tries; k++)
      if (p->method_tries[k].method == p->method_chosen) *error = p->method_tries[k].error;
  } else
    return false;
  return true;
}
