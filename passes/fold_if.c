/* fold_if: an If whose condition is a constant is replaced by the branch it takes. The branch's
 * nodes and initializers move into the graph around it under names prefixed with the If's name,
 * the branch outputs take the If's output names, and reads of outer names stay as they are.
 * Sweeps repeat until no If is left to fold, so nested Ifs collapse. */
#include <string.h>

#include "interp.h"
#include "ir_edit.h"
#include "passes.h"

struct fold_if_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  struct tqt_name_map used;
  int changed;
  int failed;
};

/* The initializer called name in g or a graph around it. */
static const struct tqt_tensor *fold_if_constant(const struct tqt_graph *g, const char *name) {
  for (; g; g = g->parent) {
    for (size_t i = 0; i < g->n_nodes; i++) /* a nearer definition shadows outer ones */
      for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
        if (strcmp(g->nodes[i]->outputs[k], name) == 0) return NULL;
    for (size_t i = 0; i < g->n_inputs; i++) /* an input, even with a default, may change */
      if (strcmp(g->inputs[i].name, name) == 0) return NULL;
    for (size_t i = 0; i < g->n_initializers; i++)
      if (strcmp(g->initializers[i]->name, name) == 0) return g->initializers[i];
  }
  return NULL;
}

static int fold_if_one(struct fold_if_ctx *c, struct tqt_graph *g, size_t at,
                       struct tqt_graph *branch) {
  struct tqt_arena *a = c->m->arena;
  struct tqt_node *ifn = g->nodes[at];
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  size_t n_ident = 0;
  struct tqt_node **moved = tqt_arena_calloc(a, branch->n_nodes + branch->n_outputs + 1,
                                             sizeof *moved);
  int rc = -1;
  if (!moved) goto fail;
  if (branch->n_outputs != ifn->n_outputs) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                  "node '%s' (If): the branch has %zu outputs, the node %zu", ifn->name,
                  branch->n_outputs, ifn->n_outputs);
    goto fail;
  }
  /* Every prefixed name is made unique on its own, so the If's name serves as it is. */
  const char *prefix = *ifn->name ? ifn->name : "If";
  /* Names the branch defines: renamed with the prefix, except its outputs. */
  for (size_t i = 0; i < branch->n_nodes; i++)
    for (size_t k = 0; k < branch->nodes[i]->n_outputs; k++) {
      const char *name = branch->nodes[i]->outputs[k];
      if (!*name) continue;
      char *stem = tqt_arena_printf(a, "%s/%s", prefix, name);
      const char *fresh = stem ? tqt_name_fresh(a, &c->used, stem) : NULL;
      if (!fresh || tqt_name_map_put(&map, name, (void *)fresh)) goto fail;
    }
  for (size_t i = 0; i < branch->n_initializers; i++) {
    struct tqt_tensor *t = branch->initializers[i];
    char *stem = tqt_arena_printf(a, "%s/%s", prefix, t->name);
    const char *fresh = stem ? tqt_name_fresh(a, &c->used, stem) : NULL;
    if (!fresh || tqt_name_map_put(&map, t->name, (void *)fresh)) goto fail;
    t->name = (char *)fresh;
    if (tqt_arena_reserve(a, (void **)&g->initializers, &g->cap_initializers,
                          g->n_initializers + 1, sizeof *g->initializers))
      goto fail;
    g->initializers[g->n_initializers++] = t;
  }
  /* A branch output produced by a branch node takes the If's output name; one that is an outer
   * value or an initializer gets an Identity. */
  for (size_t i = 0; i < branch->n_outputs; i++) {
    const char *out = branch->outputs[i].name;
    bool produced = false;
    for (size_t n = 0; n < branch->n_nodes && !produced; n++)
      for (size_t k = 0; k < branch->nodes[n]->n_outputs; k++)
        if (strcmp(branch->nodes[n]->outputs[k], out) == 0) produced = true;
    if (!*ifn->outputs[i]) continue;
    if (produced && !tqt_name_map_get(&map, ifn->outputs[i], NULL)) {
      if (tqt_name_map_put(&map, out, ifn->outputs[i])) goto fail;
      continue;
    }
    void *renamed = NULL;
    const char *src = tqt_name_map_get(&map, out, &renamed) ? renamed : out;
    const char *ins[1] = {src}, *outs[1] = {ifn->outputs[i]};
    char *name = tqt_arena_printf(a, "%s/output_%zu", prefix, i);
    struct tqt_node *id = name ? tqt_node_create(a, "Identity", name, 1, ins, 1, outs) : NULL;
    if (!id) goto fail;
    moved[branch->n_nodes + n_ident++] = id;
  }
  for (size_t i = 0; i < branch->n_nodes; i++) {
    struct tqt_node *n = branch->nodes[i];
    moved[i] = n;
    for (size_t k = 0; k < n->n_attrs; k++) { /* their subgraphs now hang off g */
      if (n->attrs[k].type == TQT_ATTR_TYPE_GRAPH && n->attrs[k].g) n->attrs[k].g->parent = g;
      for (size_t j = 0; n->attrs[k].type == TQT_ATTR_TYPE_GRAPHS && j < n->attrs[k].n; j++)
        n->attrs[k].graphs[j]->parent = g;
    }
    char *name = tqt_arena_printf(a, "%s/%s", prefix, *n->name ? n->name : n->op_type);
    if (!name || !(n->name = (char *)tqt_name_fresh(a, &c->used, name))) goto fail;
  }
  if (tqt_nodes_rename(a, moved, branch->n_nodes, &map) ||
      tqt_graph_nodes_splice(a, g, at, moved, branch->n_nodes + n_ident))
    goto fail;
  tqt_diag_note(c->d, "fold_if: '%s' takes its %s branch (%zu nodes)", ifn->name, branch->name,
                branch->n_nodes);
  c->changed++;
  rc = 0;
fail:
  if (rc && c->d->status == TQT_STATUS_OK) tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  tqt_name_map_free(&map);
  return rc;
}

static int fold_if_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fold_if_ctx *c = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *n = g->nodes[i];
    if (strcmp(n->op_type, "If") != 0 || *n->domain || n->n_inputs < 1) continue;
    const struct tqt_tensor *cond = fold_if_constant(g, n->inputs[0]);
    if (!cond || tqt_tensor_numel(cond) != 1 || !cond->data) continue;
    struct tqt_rt_tensor view = {.dtype = cond->dtype, .data = cond->data};
    const struct tqt_attr *then_b = tqt_node_attr_find(n, "then_branch");
    const struct tqt_attr *else_b = tqt_node_attr_find(n, "else_branch");
    const struct tqt_attr *taken = tqt_rt_get(&view, 0) != 0 ? then_b : else_b;
    if (!taken || taken->type != TQT_ATTR_TYPE_GRAPH || !taken->g) continue;
    if (fold_if_one(c, g, i, taken->g)) return c->failed = -1;
    return 0; /* g changed under the walk: the next sweep goes on */
  }
  return 0;
}

int pass_fold_if(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct fold_if_ctx c = {.m = m, .d = d};
  tqt_name_map_init(&c.used);
  int result = -1;
  if (tqt_names_collect(m, &c.used)) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (;;) {
    int before = c.changed;
    if (tqt_graph_walk(m->graph, fold_if_graph, &c) || c.failed) goto fail;
    if (c.changed == before) break;
  }
  result = c.changed;
fail:
  tqt_name_map_free(&c.used);
  return result;
}
