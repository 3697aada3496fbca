/* The measuring samples (quant.h): some calibration samples held in memory with the float
 * model's outputs on them, so that a refinement after calibration (exponent search, bias
 * correction) can judge a candidate by the error it gives at the model's outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "parallel.h"
#include "ir_edit.h"
#include "quant.h"

#define SAMPLES_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")
/* At most this many bytes of samples and reference outputs held (large images take fewer). */
#define SAMPLES_MEMORY_BUDGET ((size_t)1 << 30)

struct tqt_quant_samples {
  const struct tqt_quant_plan *p;
  const struct tqt_model *m;
  size_t workers;
  size_t n_samples, n_in, n_out;
  struct tqt_value *inputs;      /* n_samples × n_in, owned copies */
  float **ref;                   /* n_samples × n_out float outputs (NULL: not a float tensor) */
  size_t *ref_size;              /* n_out */
  double *ref_energy;            /* n_out: Σ over samples of Σ y² */
  double *last_error;            /* n_out: each output's error in the last measuring run */
  struct tqt_histogram **seen;   /* per plan tensor: an activation's values in the samples */
  size_t runs;
};

/* A run over the samples on workers (load: the float model, keeping its outputs). */
struct samples_runner {
  struct tqt_quant_samples *s;
  struct tqt_sample_worker *workers;
  size_t n_workers, first, count;
  const struct tqt_quant_observers *obs;
  double *diff; /* measuring: per output, the energy of the difference so far */
};

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
  }
  return TQT_STATUS_OK;
}

/* Sample k of the measuring samples: loaded from the calibration sample `at`, kept (owned
 * copies: the dataset reuses its buffers), run through the float model, its outputs kept. */
static enum tqt_status samples_load_one(void *ctx, size_t worker, size_t item, struct tqt_diag *d) {
  struct samples_runner *r = ctx;
  struct tqt_quant_samples *s = r->s;
  struct tqt_sample_worker *w = &r->workers[worker];
  size_t k = r->first + item;
  /* Spread over the calibration samples: the first ones are often alike (one folder, one
   * recording), and a choice judged on them alone can clip what the others hold. */
  size_t at = (size_t)(((double)k + 0.5) * (double)r->count / (double)s->n_samples);
  enum tqt_status st = tqt_dataset_sample(w->ds, at, w->values, d);
  for (size_t i = 0; st == TQT_STATUS_OK && i < s->n_in; i++) {
    struct tqt_value *v = &s->inputs[k * s->n_in + i];
    st = tqt_value_copy(v, &w->values[i], d);
    w->ptrs[i] = v;
  }
  if (st != TQT_STATUS_OK) return st;
  if ((st = tqt_interp_run(w->in, w->ptrs, s->n_in, d)) != TQT_STATUS_OK) {
    tqt_diag_prefix(d, "measuring sample %zu: ", k);
    return st;
  }
  return samples_keep_reference(s, w->in, k, d);
}

/* In sample order: the outputs' energies and the histograms of what the sample held. */
static enum tqt_status samples_load_commit(void *ctx, size_t worker, size_t item,
                                           struct tqt_diag *d) {
  struct samples_runner *r = ctx;
  struct tqt_quant_samples *s = r->s;
  size_t k = r->first + item;
  for (size_t j = 0; j < s->n_out; j++) {
    const float *y = s->ref[k * s->n_out + j];
    const struct tqt_value *v = tqt_interp_output(r->workers[worker].in, j);
    if (!y) continue;
    s->ref_size[j] = (size_t)tqt_rt_numel(&v->t);
    for (size_t e = 0; e < s->ref_size[j]; e++)
      if (isfinite(y[e])) s->ref_energy[j] += (double)y[e] * y[e];
  }
  return r->obs->commit(r->obs->shared, r->obs->worker_ctx[worker], d);
}

enum tqt_status tqt_quant_samples_load(const struct tqt_quant_plan *p, const struct tqt_model *m,
                                       const char *const *specs, size_t n_specs, size_t want,
                                       size_t max_samples, int threads,
                                       struct tqt_quant_samples **out, struct tqt_diag *d) {
  struct tqt_quant_samples *s = calloc(1, sizeof *s);
  struct samples_runner r = {.s = s};
  struct tqt_quant_hists *hists = NULL;
  enum tqt_status st;
  size_t workers = threads > 1 ? (size_t)threads : 1;
  *out = NULL;
  if (!s || !(s->seen = calloc(p->n_tensors + 1, sizeof *s->seen))) {
    st = SAMPLES_NOMEM(d);
    goto fail;
  }
  s->p = p;
  s->m = m;
  s->workers = workers;
  r.n_workers = workers;
  if ((st = tqt_quant_hists_create(p, s->seen, workers, &hists, d)) != TQT_STATUS_OK) goto fail;
  r.obs = tqt_quant_hists_observers(hists);
  struct tqt_interp_options io = {.threads = 1, .observer = r.obs->observe};
  if ((st = tqt_sample_workers_create((struct tqt_model *)m, &io, r.obs->worker_ctx, workers, specs,
                                      n_specs, p->preprocess, &r.workers, &s->n_in, d)) !=
      TQT_STATUS_OK)
    goto fail;
  s->n_out = tqt_interp_output_count(r.workers[0].in);
  r.count = tqt_dataset_count(r.workers[0].ds);
  if (max_samples && max_samples < r.count) r.count = max_samples;
  s->n_samples = r.count < want ? r.count : want;
  s->inputs = calloc(s->n_samples * s->n_in + 1, sizeof *s->inputs);
  s->ref = calloc(s->n_samples * s->n_out + 1, sizeof *s->ref);
  s->ref_size = calloc(s->n_out + 1, sizeof *s->ref_size);
  s->ref_energy = calloc(s->n_out + 1, sizeof *s->ref_energy);
  s->last_error = calloc(s->n_out + 1, sizeof *s->last_error);
  if (!s->inputs || !s->ref || !s->ref_size || !s->ref_energy || !s->last_error) {
    st = SAMPLES_NOMEM(d);
    goto fail;
  }
  /* The first sample alone tells what one holds: as many as the memory budget allows. */
  if (s->n_samples &&
      (st = tqt_parallel_run(1, 1, samples_load_one, samples_load_commit, &r, d)) != TQT_STATUS_OK)
    goto fail;
  size_t bytes = 1;
  for (size_t i = 0; s->n_samples && i < s->n_in; i++)
    if (s->inputs[i].kind == TQT_VALUE_KIND_TENSOR)
      bytes += (size_t)tqt_rt_numel(&s->inputs[i].t) * tqt_dtype_size(s->inputs[i].t.dtype);
  for (size_t j = 0; j < s->n_out; j++) bytes += s->ref_size[j] * sizeof(float);
  size_t fit = SAMPLES_MEMORY_BUDGET / bytes;
  if (fit < s->n_samples) {
    s->n_samples = fit ? fit : 1;
    tqt_diag_note(d, "measuring on %zu samples: as many fit in %zu MiB", s->n_samples,
                  SAMPLES_MEMORY_BUDGET >> 20);
  }
  r.first = 1;
  if (s->n_samples > 1 && (st = tqt_parallel_run(s->n_samples - 1, workers, samples_load_one,
                                                 samples_load_commit, &r, d)) != TQT_STATUS_OK)
    goto fail;
  *out = s;
  s = NULL;
fail:
  tqt_sample_workers_destroy(r.workers, r.n_workers);
  tqt_quant_hists_destroy(hists);
  tqt_quant_samples_free(s);
  return st;
}

void tqt_quant_samples_free(struct tqt_quant_samples *s) {
  if (!s) return;
  for (size_t i = 0; s->inputs && i < s->n_samples * s->n_in; i++) tqt_value_release(&s->inputs[i]);
  free(s->inputs);
  for (size_t i = 0; s->ref && i < s->n_samples * s->n_out; i++) free(s->ref[i]);
  free(s->ref);
  free(s->ref_size);
  free(s->ref_energy);
  free(s->last_error);
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

static enum tqt_status samples_run_one(void *ctx, size_t worker, size_t k, struct tqt_diag *d) {
  struct samples_runner *r = ctx;
  struct tqt_sample_worker *w = &r->workers[worker];
  for (size_t i = 0; i < r->s->n_in; i++) w->ptrs[i] = &r->s->inputs[k * r->s->n_in + i];
  enum tqt_status st = tqt_interp_run(w->in, w->ptrs, r->s->n_in, d);
  if (st != TQT_STATUS_OK) tqt_diag_prefix(d, "measuring sample %zu: ", k);
  return st;
}

/* In sample order (the sums come out as one worker makes them): the difference of sample k's
 * outputs to the float model's. */
static enum tqt_status samples_run_commit(void *ctx, size_t worker, size_t k, struct tqt_diag *d) {
  struct samples_runner *r = ctx;
  const struct tqt_quant_samples *s = r->s;
  for (size_t j = 0; j < s->n_out; j++) {
    const float *ref = s->ref[k * s->n_out + j];
    const struct tqt_value *y = tqt_interp_output(r->workers[worker].in, j);
    if (!ref || y->kind != TQT_VALUE_KIND_TENSOR || y->t.dtype != TQT_DTYPE_FLOAT ||
        (size_t)tqt_rt_numel(&y->t) != s->ref_size[j])
      continue;
    const float *q = y->t.data;
    for (size_t e = 0; e < s->ref_size[j]; e++) {
      if (!isfinite(ref[e])) continue;
      double delta = (double)q[e] - ref[e];
      r->diff[j] += isfinite(delta) ? delta * delta : INFINITY;
    }
  }
  return r->obs && r->obs->commit ? r->obs->commit(r->obs->shared, r->obs->worker_ctx[worker], d)
                                  : TQT_STATUS_OK;
}

size_t tqt_quant_samples_workers(const struct tqt_quant_samples *s) { return s->workers; }

double tqt_quant_samples_output_error(const struct tqt_quant_samples *s, size_t j) {
  return j < s->n_out && s->ref_size[j] ? s->last_error[j] : NAN;
}

enum tqt_status tqt_quant_samples_run(struct tqt_quant_samples *s, struct tqt_model *qm,
                                      const struct tqt_quant_observers *obs, double *error,
                                      struct tqt_diag *d) {
  struct samples_runner r = {.s = s};
  enum tqt_status st = TQT_STATUS_OK;
  size_t workers = obs ? obs->workers : s->workers, n_in;
  struct tqt_interp_options io = {.threads = 1, .observer = obs ? obs->observe : NULL};
  r.n_workers = workers;
  r.obs = obs;
  if (!(r.diff = calloc(s->n_out + 1, sizeof *r.diff))) return SAMPLES_NOMEM(d);
  if ((st = tqt_sample_workers_create(qm, &io, obs ? obs->worker_ctx : NULL, workers, NULL, 0,
                                      NULL, &r.workers, &n_in, d)) != TQT_STATUS_OK)
    goto fail;
  s->runs++;
  if ((st = tqt_parallel_run(s->n_samples, workers, samples_run_one, samples_run_commit, &r, d)) !=
      TQT_STATUS_OK)
    goto fail;
  if (error) {
    double err = 0;
    for (size_t j = 0; j < s->n_out; j++) {
      s->last_error[j] = r.diff[j] / (s->ref_energy[j] > 0 ? s->ref_energy[j] : 1e-30);
      err += s->last_error[j];
    }
    *error = err;
  }
fail:
  free(r.diff);
  tqt_sample_workers_destroy(r.workers, r.n_workers);
  return st;
}

enum tqt_status tqt_quant_samples_error(struct tqt_quant_samples *s, double *error,
                                        struct tqt_diag *d) {
  struct tqt_model *qm = tqt_model_clone(s->m);
  enum tqt_status st;
  if (!qm) return SAMPLES_NOMEM(d);
  if ((st = tqt_quant_insert(qm, s->p, d)) == TQT_STATUS_OK)
    st = tqt_quant_samples_run(s, qm, NULL, error, d);
  tqt_model_destroy(qm);
  return st;
}

bool tqt_quant_plan_output_error(const struct tqt_quant_plan *p, double *error) {
  if (p->auto_bits_layers) *error = p->auto_bits_error;
  else if (p->bias_layers) *error = p->bias_error_after;
  else if (p->search_groups) *error = p->search_error_after;
  else if (p->n_method_tries)
    *error = p->method_tries[p->method_chosen].error;
  else
    return false;
  return true;
}
