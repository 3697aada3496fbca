/* The analysis outputs of a conversion (cli_analysis.h). */
#include "cli_analysis.h"

#include <stdio.h>

#include "ir_edit.h"
#include "progress.h"
#include "report/compare.h"
#include "report/fixpoint.h"
#include "report/report.h"
#include "report/stats.h"

bool cli_analysis_wanted(const struct cli_analysis *a) {
  return a->stats_path || a->report_path || a->fixpoint_path;
}

enum tqt_status cli_analysis_merge(struct cli_analysis *a, struct tqt_quant_plan *plan,
                                   const struct tqt_model *m, struct tqt_diag *d) {
  if (!a->n_stats_in) return TQT_STATUS_OK;
  enum tqt_status st = tqt_stats_merge_files(plan, m, a->stats_in, a->n_stats_in, d);
  if (st == TQT_STATUS_OK)
    tqt_diag_note(d, "merged the statistics of %zu files: %llu calibration samples", a->n_stats_in,
                  (unsigned long long)plan->samples);
  return st;
}

enum tqt_status cli_analysis_before_insert(struct cli_analysis *a, const struct tqt_quant_plan *plan,
                                           const struct tqt_model *m, const struct tqt_options *o,
                                           const char *in_path, struct tqt_diag *d) {
  if (!cli_analysis_wanted(a)) return TQT_STATUS_OK;
  if (!(a->float_model = tqt_model_clone(m)))
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  if (!a->stats_path && !a->report_path) return TQT_STATUS_OK;
  struct tqt_stats_source src = {.plan = plan, .float_model = m, .options = o,
                                 .model_path = in_path};
  return tqt_stats_build(&src, &a->stats, d);
}

static void analysis_progress(void *ctx, size_t done, size_t total) {
  struct cli_progress *p = ctx;
  p->total = total;
  cli_progress_update(p, done);
}

enum tqt_status cli_analysis_after_insert(struct cli_analysis *a, const struct tqt_quant_plan *plan,
                                          struct tqt_model *m, const char *const *calib,
                                          size_t n_calib, size_t calib_count, int threads,
                                          struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_OK;
  struct tqt_compare *cmp = NULL;
  json_t *fix = NULL;
  if (a->stats) {
    if (n_calib) {
      struct cli_progress progress;
      cli_progress_start(&progress, "SQNR", 0, d->verbosity == TQT_VERBOSITY_QUIET);
      struct tqt_compare_options co = {.specs = calib, .n_specs = n_calib,
                                       .max_samples = calib_count, .threads = threads,
                                       .preprocess = plan->preprocess,
                                       .per_layer = true, .progress = analysis_progress,
                                       .progress_ctx = &progress};
      st = tqt_compare_models(a->float_model, m, &co, &cmp, d);
      cli_progress_end(&progress);
      if (st != TQT_STATUS_OK) {
        tqt_diag_prefix(d, "SQNR (float model as A, quantized as B): ");
        goto done;
      }
    }
    if ((st = tqt_stats_finish(a->stats, m, cmp, d)) != TQT_STATUS_OK) goto done;
    if (a->stats_path && (st = tqt_json_write(a->stats, a->stats_path, 0, d)) != TQT_STATUS_OK)
      goto done;
    if (a->report_path && (st = tqt_report_write(a->stats, a->report_path, d)) != TQT_STATUS_OK)
      goto done;
  }
  if (a->fixpoint_path) {
    if ((st = tqt_fixpoint_build(plan, a->float_model, m, &fix, d)) != TQT_STATUS_OK ||
        (st = tqt_json_write(fix, a->fixpoint_path, 2, d)) != TQT_STATUS_OK)
      goto done;
  }
  if (cli_analysis_wanted(a) && d->verbosity != TQT_VERBOSITY_QUIET)
    fprintf(stderr, "onnx-tqt: wrote%s%s%s%s%s%s%s\n", a->stats_path ? " " : "",
            a->stats_path ? a->stats_path : "", a->report_path ? " " : "",
            a->report_path ? a->report_path : "", a->fixpoint_path ? " " : "",
            a->fixpoint_path ? a->fixpoint_path : "",
            a->stats && !n_calib ? " (no SQNR: no calibration samples in this run)" : "");
done:
  json_decref(fix);
  tqt_compare_destroy(cmp);
  return st;
}

void cli_analysis_free(struct cli_analysis *a) {
  json_decref(a->stats);
  a->stats = NULL;
  tqt_model_destroy(a->float_model);
  a->float_model = NULL;
}
