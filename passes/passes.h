/* Graph transforms, one per file, all with one signature. Each keeps the model's outputs as they
 * were (up to float rounding where it folds arithmetic). tqt_passes lists them in pipeline order;
 * a pass never calls another pass. A pass returns how many things it changed (>= 0), or -1 with
 * d filled; it says what it changed with tqt_diag_note (shown with -v). */
#ifndef TQT_PASSES_H
#define TQT_PASSES_H

#include "diag.h"
#include "ir.h"
#include "options.h"

typedef int (*tqt_pass_fn)(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);

struct tqt_pass {
  const char *name;
  tqt_pass_fn run;
  int group; /* consecutive passes of one non-zero group repeat until none changes anything */
};

int pass_set_input(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_keep_outputs(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_inline_functions(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_upgrade_opset(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_widen_float16(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_fold_constants(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_fold_if(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_cleanup(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_collapse_concat(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_fuse_layernorm(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_fold_batchnorm(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);
int pass_infer_shapes(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d);

extern const struct tqt_pass tqt_passes[];
extern const size_t tqt_pass_count;

/* Runs every pass in order; fails with the first failing pass's diagnostic. */
enum tqt_status tqt_passes_run(struct tqt_model *m, const struct tqt_options *o,
                               struct tqt_diag *d);

#endif
