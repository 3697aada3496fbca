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

#include "quant.h"

#define SEARCH_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")
/* Steps away from the calibrated exponent, each way. */
#define SEARCH_MAX_STEPS 3
/* A step down is measured only where the search samples show the clipping it adds: unless the
 * calibration set would put fewer than this many clipped values into samples of their size,
 * they must hold at least half its fraction of them. */
#define SEARCH_MIN_EXPECTED_CLIPPED 0.1

struct search {
  struct tqt_quant_plan *p;
  struct tqt_quant_samples *samples;
  struct tqt_diag *d;
  struct tqt_name_map ranked; /* inputs of Softmax, LogSoftmax, ArgMax, TopK */
};

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
    const struct tqt_histogram *seen = tqt_quant_samples_seen(s->samples, i);
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
    if ((st = tqt_quant_samples_error(s->samples, &err, s->d)) != TQT_STATUS_OK) return st;
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
      if ((st = tqt_quant_samples_error(s->samples, &err, s->d)) != TQT_STATUS_OK) return st;
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
                                 struct tqt_quant_samples *samples,
                                 const struct tqt_search_options *o, struct tqt_diag *d) {
  struct search s = {.p = p, .samples = samples, .d = d};
  enum tqt_status st = TQT_STATUS_OK;
  tqt_name_map_init(&s.ranked);
  /* The units: scale groups (of activations and per-tensor weights) and per-channel weights. */
  size_t n_groups = 0;
  bool *searched = calloc(p->n_tensors + 1, sizeof *searched);
  static const char *const ranking[] = {"Softmax", "LogSoftmax", "ArgMax", "TopK"};
  if (!searched || tqt_quant_op_inputs(m, ranking, sizeof ranking / sizeof *ranking, &s.ranked)) {
    st = SEARCH_NOMEM(d);
    goto done;
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->skip || t->kind == TQT_QTENSOR_KIND_BIAS) continue;
    size_t r = t->channel_exponents ? i : tqt_quant_group_root(p, i);
    if (!searched[r]) n_groups++;
    searched[r] = true;
  }
  size_t n_samples = tqt_quant_samples_count(samples);
  double run_values = tqt_quant_samples_run_values(samples);
  double cost = (double)(2 * n_groups + 1) * run_values;
  /* Past the budget, the activation method for all: a run per candidate, not one per step. Searched per
   * tensor, the start stays KL-J: from the start that measured best (MSE) the greedy steps ended
   * 1.9 dB lower on the v4 voice-activity model. */
  if (o->mode == TQT_SEARCH_MODE_GLOBAL) {
    st = tqt_quant_method_choose(p, samples, d);
    goto done;
  }
  if (o->mode == TQT_SEARCH_MODE_AUTO && cost > TQT_SEARCH_AUTO_BUDGET) {
    tqt_diag_warn(d, "exponent search per tensor skipped: %zu scale groups × %.3g values a run "
                  "(%zu samples) is more than --search auto does (--search always, or fewer "
                  "--search-samples); the activation method is chosen for all instead",
                  n_groups, run_values, n_samples);
    st = tqt_quant_method_choose(p, samples, d);
    goto done;
  }
  size_t runs = tqt_quant_samples_runs(samples);
  double current;
  if ((st = tqt_quant_samples_error(samples, &current, d)) != TQT_STATUS_OK) goto done;
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
                -10 * log10(current), tqt_quant_samples_runs(samples) - runs, n_samples);
done:
  tqt_name_map_free(&s.ranked);
  free(searched);
  return st;
}
