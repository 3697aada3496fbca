/* Mixed precision chosen by measurement (quant.h, --auto-bits): each layer gets the fewest bits of
 * the choices that keep the model's output SQNR on the measuring samples at the target.
 *
 * A layer is a node that quantizes tensors (its outputs, its weights: the tensors whose bits
 * its settings decide, tqt_qtensor.owner), so a choice is one "nodes" entry of a config file.
 * Every layer starts at the most bits; then, one width at a time from the top, each layer is
 * measured alone at the next fewer bits (its sensitivity), and the layers are lowered least
 * loss first: the longest such prefix that keeps the target, found by bisection (the loss
 * grows with every layer lowered). A bias correction measured for the old width is dropped
 * where a layer changes width (it corrected that width's error). An activation wider than the
 * bits its threshold was chosen for clips less: its exponent rises towards its largest value,
 * as long as the grid stays finer than the one it was chosen for (a Softmax input keeps its
 * own: its threshold is what keeps the scores' grid below a mask). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"

#define BITS_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")

struct bits_layer {
  const struct tqt_node *node;
  size_t *tensors; /* plan indexes of the activations, weights and biases it owns */
  size_t n_tensors;
  size_t level;    /* index into the choices */
  double alone_db; /* output SQNR with only this layer one width lower (NAN: not measured) */
};

/* What the plan held before: per tensor its bits, exponent and bias correction. */
struct bits_start {
  int *bits, *exponent;
  float **correction;
};

/* Sets layer l to width w: its tensors' bits; a wider activation's exponent raised (above); its
 * biases corrected only at the width their correction was measured for. */
static void bits_layer_set(struct tqt_quant_plan *p, struct bits_layer *l, const int *choices,
                           size_t k, const struct bits_start *start) {
  int w = choices[k];
  l->level = k;
  for (size_t i = 0; i < l->n_tensors; i++) {
    size_t j = l->tensors[i];
    struct tqt_qtensor *t = &p->tensors[j];
    if (t->kind == TQT_QTENSOR_KIND_BIAS) {
      t->bias_correction = w == start->bits[t->bias_weight] ? start->correction[j] : NULL;
      continue;
    }
    t->bits = w;
    if (t->kind != TQT_QTENSOR_KIND_ACTIVATION) continue;
    t->exponent = start->exponent[j];
    if (w > start->bits[j] && !t->softmax_input && t->hist && t->hist->has_range) {
      const struct tqt_threshold_params max = {.method = TQT_THRESHOLD_METHOD_MAX};
      int top = tqt_threshold_exponent(tqt_threshold(t->hist, &max));
      int finer = start->exponent[j] + w - start->bits[j];
      int raised = top < finer ? top : finer;
      if (raised > t->exponent) t->exponent = raised;
    }
  }
}

static double bits_db(double err) { return -10 * log10(err > 0 ? err : 1e-30); }

static int bits_alone_cmp(const void *a, const void *b) {
  const struct bits_layer *x = *(struct bits_layer *const *)a, *y = *(struct bits_layer *const *)b;
  return x->alone_db > y->alone_db ? -1 : x->alone_db < y->alone_db ? 1 : 0;
}

/* The layers of the plan: one per owner node of a quantized activation or weight (a bias goes
 * with its weight's), each with its tensors' indexes (a slice of one array). */
static enum tqt_status bits_layers_collect(struct tqt_quant_plan *p, struct bits_layer **out,
                                           size_t *n_out, struct tqt_diag *d) {
  struct bits_layer *layers = tqt_arena_calloc(p->arena, p->n_tensors + 1, sizeof *layers);
  size_t *layer_of = tqt_arena_calloc(p->arena, p->n_tensors + 1, sizeof *layer_of);
  size_t *indexes = tqt_arena_calloc(p->arena, p->n_tensors + 1, sizeof *indexes);
  size_t n = 0;
  if (!layers || !layer_of || !indexes) return BITS_NOMEM(d);
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    layer_of[i] = SIZE_MAX;
    if (t->skip || !t->owner) continue;
    const struct tqt_node *owner =
        t->kind == TQT_QTENSOR_KIND_BIAS ? p->tensors[t->bias_weight].owner : t->owner;
    size_t k = 0;
    while (k < n && layers[k].node != owner) k++;
    if (k == n) layers[n++].node = owner;
    layers[k].n_tensors++;
    layer_of[i] = k;
  }
  for (size_t k = 0, at = 0; k < n; k++) {
    layers[k].tensors = &indexes[at];
    at += layers[k].n_tensors;
    layers[k].n_tensors = 0;
  }
  for (size_t i = 0; i < p->n_tensors; i++)
    if (layer_of[i] != SIZE_MAX) {
      struct bits_layer *l = &layers[layer_of[i]];
      l->tensors[l->n_tensors++] = i;
    }
  *out = layers;
  *n_out = n;
  return TQT_STATUS_OK;
}

/* The bytes of the weights in their containers (int8 up to 8 bits, int16 up to 16). */
static double bits_weight_bytes(const struct tqt_quant_plan *p, const struct tqt_model *m) {
  double bytes = 0;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    const struct tqt_tensor *w = t->kind == TQT_QTENSOR_KIND_WEIGHT && !t->skip
                                     ? tqt_quant_initializer(m, t->name, NULL, NULL) : NULL;
    if (w) bytes += (double)tqt_tensor_numel(w) * (t->bits <= 8 ? 1 : 2);
  }
  return bytes;
}

enum tqt_status tqt_quant_auto_bits(struct tqt_quant_plan *p, const struct tqt_model *m,
                                    struct tqt_quant_samples *samples,
                                    const struct tqt_auto_bits_options *o, struct tqt_diag *d) {
  struct bits_layer *layers = NULL, **order = NULL;
  struct bits_start start = {0};
  size_t n = 0, top = o->n_choices - 1, runs = 0;
  double err, current;
  enum tqt_status st = bits_layers_collect(p, &layers, &n, d);
  if (st != TQT_STATUS_OK || !n) goto done;
  if (!(order = calloc(n, sizeof *order)) ||
      !(start.bits = calloc(p->n_tensors, sizeof *start.bits)) ||
      !(start.exponent = calloc(p->n_tensors, sizeof *start.exponent)) ||
      !(start.correction = calloc(p->n_tensors, sizeof *start.correction))) {
    st = BITS_NOMEM(d);
    goto done;
  }
  for (size_t i = 0; i < p->n_tensors; i++) {
    start.bits[i] = p->tensors[i].bits;
    start.exponent[i] = p->tensors[i].exponent;
    start.correction[i] = p->tensors[i].bias_correction;
  }
  for (size_t k = 0; k < n; k++) {
    layers[k].alone_db = NAN;
    bits_layer_set(p, &layers[k], o->choices, top, &start);
  }
  if ((st = tqt_quant_samples_error(samples, &current, d)) != TQT_STATUS_OK) goto done;
  runs++;
  p->auto_bits_top_error = current;
  if (bits_db(current) < o->target_db) {
    tqt_diag_warn(d, "--auto-bits %g: with every layer at %d bits the output SQNR is %.2f dB; "
                  "all stay at %d bits", o->target_db, o->choices[top], bits_db(current),
                  o->choices[top]);
    goto summary;
  }
  size_t done = 0;
  for (size_t level = top; level > 0; level--) {
    size_t m_all = 0, m = 0, steps = 0;
    for (size_t k = 0; k < n; k++) m_all += layers[k].level == level;
    while (((size_t)1 << steps) <= m_all) steps++; /* the bisection's runs, at most */
    size_t total = done + m_all + steps;
    for (size_t k = 0; k < n; k++) {
      struct bits_layer *l = &layers[k];
      if (l->level != level) continue;
      bits_layer_set(p, l, o->choices, level - 1, &start);
      st = tqt_quant_samples_error(samples, &err, d);
      bits_layer_set(p, l, o->choices, level, &start);
      if (st != TQT_STATUS_OK) goto done;
      runs++;
      l->alone_db = bits_db(err);
      /* alone already below the target: with others lowered too, below it as well */
      if (l->alone_db >= o->target_db) order[m++] = l;
      if (o->progress) o->progress(o->progress_ctx, ++done, total);
    }
    qsort(order, m, sizeof *order, bits_alone_cmp);
    /* the longest prefix of order that keeps the target: lo lowered is known to keep it */
    size_t lo = 0, hi = m;
    while (lo < hi) {
      size_t mid = (lo + hi + 1) / 2;
      for (size_t i = 0; i < m; i++)
        bits_layer_set(p, order[i], o->choices, i < mid ? level - 1 : level, &start);
      if ((st = tqt_quant_samples_error(samples, &err, d)) != TQT_STATUS_OK) goto done;
      runs++;
      if (bits_db(err) >= o->target_db) {
        lo = mid;
        current = err;
      } else {
        hi = mid - 1;
      }
      if (o->progress) o->progress(o->progress_ctx, ++done, total);
    }
    for (size_t i = 0; i < m; i++)
      bits_layer_set(p, order[i], o->choices, i < lo ? level - 1 : level, &start);
    done = total;
  }
summary:
  p->auto_bits_target_db = o->target_db;
  p->auto_bits_error = current;
  p->auto_bits_layers = n;
  p->auto_bits_runs = runs;
  size_t count[TQT_AUTO_BITS_CHOICES_MAX] = {0};
  for (size_t k = 0; k < n; k++) {
    const struct bits_layer *l = &layers[k];
    count[l->level]++;
    if (isnan(l->alone_db))
      tqt_diag_note(d, "auto-bits: node '%s' (%s): %d bits", l->node->name, l->node->op_type,
                    o->choices[l->level]);
    else
      tqt_diag_note(d, "auto-bits: node '%s' (%s): %d bits (alone at %d: output SQNR %.2f dB)",
                    l->node->name, l->node->op_type, o->choices[l->level],
                    o->choices[l->level > 0 ? l->level - 1 : 0], l->alone_db);
  }
  char widths[128] = "";
  for (size_t k = o->n_choices; k-- > 0;) {
    size_t len = strlen(widths);
    snprintf(widths + len, sizeof widths - len, "%s%zu at %d bits", len ? ", " : "", count[k],
             o->choices[k]);
  }
  tqt_diag_info(d, "auto-bits: %zu layers: %s; output SQNR %.2f dB (target %g dB; all at %d bits: "
                "%.2f dB); weights %.0f KiB; %zu runs of %zu samples", n, widths, bits_db(current),
                o->target_db, o->choices[top], bits_db(p->auto_bits_top_error),
                bits_weight_bytes(p, m) / 1024, runs, tqt_quant_samples_count(samples));
done:
  free(order);
  free(start.bits);
  free(start.exponent);
  free(start.correction);
  return st;
}
