/* collapse_concat: a Concat that reads another Concat on the same axis, which nothing else
 * reads, takes that Concat's inputs in its place, so one scale covers the whole concatenation
 * when quantizing. The inner Concat is left unread for cleanup. */
#include <string.h>

#include "ir_edit.h"
#include "passes.h"

struct collapse_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  int changed;
};

static bool collapse_is_concat(const struct tqt_node *n) {
  return !strcmp(n->op_type, "Concat") && !*n->domain && n->n_outputs == 1;
}

static int collapse_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct collapse_ctx *c = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *outer = g->nodes[i];
    if (!collapse_is_concat(outer)) continue;
    for (size_t k = 0; k < outer->n_inputs;) {
      struct tqt_node *inner = NULL;
      for (size_t j = 0; j < i && !inner; j++)
        if (collapse_is_concat(g->nodes[j]) && !strcmp(g->nodes[j]->outputs[0], outer->inputs[k]))
          inner = g->nodes[j];
      if (!inner || tqt_attr_int(inner, "axis", 0) != tqt_attr_int(outer, "axis", 0) ||
          tqt_graph_readers(g, inner->outputs[0]) != 1) {
        k++;
        continue;
      }
      size_t n = outer->n_inputs - 1 + inner->n_inputs;
      char **merged = tqt_arena_calloc(c->m->arena, n, sizeof *merged);
      if (!merged) return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
      memcpy(merged, outer->inputs, k * sizeof *merged);
      memcpy(merged + k, inner->inputs, inner->n_inputs * sizeof *merged);
      memcpy(merged + k + inner->n_inputs, outer->inputs + k + 1,
             (outer->n_inputs - k - 1) * sizeof *merged);
      outer->inputs = merged;
      outer->n_inputs = n;
      tqt_diag_note(c->d, "collapse_concat: '%s' into '%s'", inner->name, outer->name);
      c->changed++; /* k stays: the spliced inputs may be Concats themselves */
    }
  }
  return 0;
}

int pass_collapse_concat(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct collapse_ctx c = {m, d, 0};
  if (tqt_graph_walk(m->graph, collapse_graph, &c)) return -1;
  return c.changed;
}
