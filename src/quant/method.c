/* The activation method by measurement (quant.h).
 *
 * No threshold statistic suits every network: KL-J keeps the resolution of a ReLU map's mass and
 * clips its tail, which a voice-activity LSTM wants and a face embedder (PRelu, negative tails
 * that carry identity) does not (cosine 0.58 with KL-J, 0.98 with MSE); MSE and max err the other
 * way. Which one a model wants shows at its outputs, and measuring three candidates costs three
 * runs over the samples: cheap next to calibration, and a better start for the exponent search,
 * which moves single tensors from there. */
#include <math.h>

#include "quant.h"

enum tqt_status tqt_quant_method_choose(struct tqt_quant_plan *p, struct tqt_quant_samples *samples,
                                        bool budgeted, struct tqt_diag *d) {
  static const enum tqt_threshold_method candidates[] = {
      TQT_THRESHOLD_METHOD_KL_J, TQT_THRESHOLD_METHOD_MSE, TQT_THRESHOLD_METHOD_MAX};
  size_t n = sizeof candidates / sizeof *candidates, chosen = 0;
  bool any = false;
  for (size_t i = 0; i < p->n_tensors; i++) any |= !p->tensors[i].skip && p->tensors[i].method_auto;
  if (!any) return TQT_STATUS_OK;
  double runs = (double)n * tqt_quant_samples_run_values(samples);
  if (budgeted && runs > TQT_SEARCH_AUTO_BUDGET) {
    tqt_diag_warn(d, "activation method choice skipped: %zu runs of %.3g values are more than the "
                  "budget of --search auto; the activations keep KL-J (--search global, or "
                  "--act-method)",
                  n, runs / (double)n);
    return TQT_STATUS_OK;
  }
  size_t workers = tqt_quant_samples_workers(samples);
  enum tqt_status st;
  for (size_t k = 0; k < n; k++) {
    double err;
    if ((st = tqt_quant_plan_rethreshold(p, candidates[k], workers, d)) != TQT_STATUS_OK ||
        (st = tqt_quant_samples_error(samples, &err, d)) != TQT_STATUS_OK)
      return st;
    p->method_tries[k].method = candidates[k];
    p->method_tries[k].error = err;
    if (err < p->method_tries[chosen].error) chosen = k;
  }
  p->n_method_tries = n;
  p->method_chosen = candidates[chosen];
  if ((st = tqt_quant_plan_rethreshold(p, p->method_chosen, workers, d)) != TQT_STATUS_OK) return st;
  tqt_diag_note(d, "activation method: %s (output SQNR kl_j %.2f, mse %.2f, max %.2f dB)",
                tqt_threshold_method_name(p->method_chosen), -10 * log10(p->method_tries[0].error),
                -10 * log10(p->method_tries[1].error), -10 * log10(p->method_tries[2].error));
  return TQT_STATUS_OK;
}
