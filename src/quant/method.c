/* The activation method by measurement (quant.h).
 *
 * No threshold statistic suits every network: KL-J keeps the resolution of a ReLU map's mass and
 * clips its tail, which a voice-activity LSTM wants and a face embedder (PRelu, negative tails
 * that carry identity) does not (cosine 0.58 with KL-J, 0.98 with MSE); MSE and max err the other
 * way. Which one a model wants shows at its outputs, and measuring the candidates costs a run over
 * the samples each: a fixed number of runs, which grows with the model as calibration does (no
 * budget), and a better start for the exponent search, which moves single tensors from there. */
#include <math.h>
#include <stdio.h>

#include "quant.h"

enum tqt_status tqt_quant_method_choose(struct tqt_quant_plan *p, struct tqt_quant_samples *samples,
                                        struct tqt_diag *d) {
  /* From no clipping to hard clipping: the percentiles won on the OCR recognizer and
   * classifier (1.0 and 0.3 dB over the best of the others) and on ISNet, whose ReLU maps are 97 %
   * zeros with a few values 50 times their spread. 3SD, tried too, was last on every corpus
   * model (up to 20 dB below). */
  static const struct tqt_method_try candidates[TQT_METHOD_TRIES] = {
      {TQT_THRESHOLD_METHOD_KL_J, 0, 0},
      {TQT_THRESHOLD_METHOD_MSE, 0, 0},
      {TQT_THRESHOLD_METHOD_MAX, 0, 0},
      {TQT_THRESHOLD_METHOD_PERCENTILE, 99.99, 0},
      {TQT_THRESHOLD_METHOD_PERCENTILE, 99.9, 0}};
  bool any = false;
  for (size_t i = 0; i < p->n_tensors; i++) any |= !p->tensors[i].skip && p->tensors[i].method_auto;
  if (!any) return TQT_STATUS_OK;
  size_t workers = tqt_quant_samples_workers(samples), chosen = 0;
  enum tqt_status st;
  char line[512];
  int at = 0;
  for (size_t k = 0; k < TQT_METHOD_TRIES; k++) {
    struct tqt_method_try *t = &p->method_tries[k];
    *t = candidates[k];
    if ((st = tqt_quant_plan_rethreshold(p, t->method, t->percentile, workers, d)) != TQT_STATUS_OK ||
        (st = tqt_quant_samples_error(samples, &t->error, d)) != TQT_STATUS_OK)
      return st;
    if (t->error < p->method_tries[chosen].error) chosen = k;
    char pct[32] = "";
    if (t->method == TQT_THRESHOLD_METHOD_PERCENTILE) snprintf(pct, sizeof pct, " %g", t->percentile);
    if (at >= 0 && (size_t)at < sizeof line)
      at += snprintf(line + at, sizeof line - (size_t)at, "%s%s%s %.2f", k ? ", " : "",
                     tqt_threshold_method_name(t->method), pct, -10 * log10(t->error));
  }
  p->n_method_tries = TQT_METHOD_TRIES;
  p->method_chosen = chosen;
  const struct tqt_method_try *c = &p->method_tries[chosen];
  if ((st = tqt_quant_plan_rethreshold(p, c->method, c->percentile, workers, d)) != TQT_STATUS_OK)
    return st;
  tqt_diag_note(d, "activation method: %s (output SQNR %s dB)", tqt_threshold_method_name(c->method),
                line);
  return TQT_STATUS_OK;
}
