/* The pass table, in pipeline order, and its runner. */
#include "passes.h"

/* Rounds a fixpoint group may take; folding converges long before on real models. */
#define PASSES_ROUNDS_MAX 8

const struct tqt_pass tqt_passes[] = {
    {"set_input", pass_set_input, 0},
    {"keep_outputs", pass_keep_outputs, 0},
    {"inline_functions", pass_inline_functions, 0},
    {"upgrade_opset", pass_upgrade_opset, 0},
    {"widen_float16", pass_widen_float16, 0}, /* folding then sees float32 */
    {"fold_constants", pass_fold_constants, 1}, /* constants feed If conditions, */
    {"fold_if", pass_fold_if, 1},               /* taken branches bring new constants, */
    {"infer_shapes", pass_infer_shapes, 1},     /* and proven shapes too */
    {"cleanup", pass_cleanup, 0},
    {"collapse_concat", pass_collapse_concat, 0},
    {"fuse_layernorm", pass_fuse_layernorm, 0}, /* from opset 17 */
    {"fold_batchnorm", pass_fold_batchnorm, 0},
    {"cleanup", pass_cleanup, 0}, /* the weights fold_batchnorm replaced */
    {"infer_shapes", pass_infer_shapes, 0},
};
const size_t tqt_pass_count = sizeof tqt_passes / sizeof tqt_passes[0];

enum tqt_status tqt_passes_run(struct tqt_model *m, const struct tqt_options *o,
                               struct tqt_diag *d) {
  for (size_t i = 0; i < tqt_pass_count;) {
    size_t end = i + 1;
    while (tqt_passes[i].group && end < tqt_pass_count && tqt_passes[end].group == tqt_passes[i].group)
      end++;
    for (int round = 0; round < PASSES_ROUNDS_MAX; round++) {
      int total = 0;
      for (size_t p = i; p < end; p++) {
        int changed = tqt_passes[p].run(m, o, d);
        if (changed < 0) {
          if (d->status == TQT_STATUS_OK) tqt_diag_fail(d, TQT_STATUS_INVALID, "failed");
          tqt_diag_prefix(d, "%s: ", tqt_passes[p].name);
          return d->status;
        }
        tqt_diag_note(d, "pass %s: %d change%s", tqt_passes[p].name, changed,
                      changed == 1 ? "" : "s");
        total += changed;
      }
      if (!tqt_passes[i].group || total == 0) break;
    }
    i = end;
  }
  return TQT_STATUS_OK;
}
