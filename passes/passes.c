/* The pass table, in pipeline order, and its runner. */
#include "passes.h"

const struct tqt_pass tqt_passes[] = {
    {"set_input", pass_set_input},
    {"inline_functions", pass_inline_functions},
    {"fold_if", pass_fold_if},
};
const size_t tqt_pass_count = sizeof tqt_passes / sizeof tqt_passes[0];

enum tqt_status tqt_passes_run(struct tqt_model *m, const struct tqt_options *o,
                               struct tqt_diag *d) {
  for (size_t i = 0; i < tqt_pass_count; i++) {
    int changed = tqt_passes[i].run(m, o, d);
    if (changed < 0) {
      if (d->status == TQT_STATUS_OK) tqt_diag_fail(d, TQT_STATUS_INVALID, "failed");
      tqt_diag_prefix(d, "%s: ", tqt_passes[i].name);
      return d->status;
    }
    tqt_diag_note(d, "pass %s: %d change%s", tqt_passes[i].name, changed, changed == 1 ? "" : "s");
  }
  return TQT_STATUS_OK;
}
