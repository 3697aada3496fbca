/* The analysis outputs of a conversion: --stats, --stats-in, --report, --export-fixpoint.
 * cli_convert.c calls the three steps at their places in its pipeline:
 *
 *   plan built        cli_analysis_merge          --stats-in histograms into the plan
 *   plan finished     cli_analysis_before_insert  float model kept, statistics built
 *   Q/DQ inserted     cli_analysis_after_insert   SQNR on the calibration samples, files written
 */
#ifndef TQT_CLI_ANALYSIS_H
#define TQT_CLI_ANALYSIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "ir.h"
#include "options.h"
#include "quant.h"

struct cli_analysis {
  const char *stats_path;    /* --stats FILE.json */
  const char *report_path;   /* --report FILE.html */
  const char *fixpoint_path; /* --export-fixpoint FILE.json */
  const char **stats_in;     /* --stats-in FILE.json, repeatable (caller allocates the array) */
  size_t n_stats_in;
  /* filled on the way */
  struct tqt_model *float_model; /* the model before Q/DQ */
  json_t *stats;
};

/* True when some analysis file is asked for. */
bool cli_analysis_wanted(const struct cli_analysis *a);
/* Merges the --stats-in files' activation histograms into the plan (nothing without them). */
enum tqt_status cli_analysis_merge(struct cli_analysis *a, struct tqt_quant_plan *plan,
                                   const struct tqt_model *m, struct tqt_diag *d);
/* After tqt_quant_plan_finish, before tqt_quant_insert: keeps the float model, builds the
 * statistics. */
enum tqt_status cli_analysis_before_insert(struct cli_analysis *a, const struct tqt_quant_plan *plan,
                                           const struct tqt_model *m, const struct tqt_options *o,
                                           const char *in_path, struct tqt_diag *d);
/* After tqt_quant_insert: measures the SQNR of every tensor on the calibration samples (when
 * there are some), writes the files asked for. */
enum tqt_status cli_analysis_after_insert(struct cli_analysis *a, const struct tqt_quant_plan *plan,
                                          struct tqt_model *m, const char *const *calib,
                                          size_t n_calib, size_t calib_count, int threads,
                                          struct tqt_diag *d);
void cli_analysis_free(struct cli_analysis *a);

#endif
