/* keep_outputs: --keep-outputs NAME,... keeps only these graph outputs, in the order the model
 * lists them (a segmentation net's side outputs, training heads that the deployed model never
 * returns); cleanup then removes what only the others needed. The refinements measure the error
 * at the outputs that are left. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

/* Whether name is among the n names. */
static bool keep_outputs_listed(const char *const *names, size_t n, const char *name) {
  for (size_t k = 0; k < n; k++)
    if (!strcmp(names[k], name)) return true;
  return false;
}

int pass_keep_outputs(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  if (!o->n_keep_outputs) return 0;
  struct tqt_graph *g = m->graph;
  for (size_t k = 0; k < o->n_keep_outputs; k++) {
    bool found = false;
    for (size_t i = 0; i < g->n_outputs && !found; i++)
      found = !strcmp(g->outputs[i].name, o->keep_outputs[k]);
    if (!found)
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "--keep-outputs: the model has no output '%s'",
                           o->keep_outputs[k]), -1;
  }
  size_t kept = 0;
  for (size_t i = 0; i < g->n_outputs; i++) {
    if (keep_outputs_listed(o->keep_outputs, o->n_keep_outputs, g->outputs[i].name))
      g->outputs[kept++] = g->outputs[i];
    else
      tqt_diag_note(d, "keep_outputs: output '%s' removed", g->outputs[i].name);
  }
  int removed = (int)(g->n_outputs - kept);
  g->n_outputs = kept;
  return removed;
}
