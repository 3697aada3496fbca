/* fold_if: an If whose condition is a constant is replaced by the branch it takes. The branch's
 * nodes and initializers move into the graph around it under names prefixed with the If's name,
 * the branch outputs take the If's output names, and reads of outer names stay as they are.
 * Sweeps repeat until no If is left to fold, so nested Ifs collapse. A Loop with a constant trip
 * count of 0 or 1 folds the same way (its initial values, or its body once). */
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

/* Moves the nodes and initializers of subgraph `body` into g in place of node `at`. Body input i
 * reads bind[i]; body output i is written as out[i] ("" drops it), through an Unsqueeze on axis
 * 0 when stack[i] (a Loop's scan output after one iteration). Names the body defines get the
 * node's name as a prefix. */
static int fold_inline(struct fold_if_ctx *c, struct tqt_graph *g, size_t at,
                       struct tqt_graph *body, const char *const *bind, const char *const *out,
                       const bool *stack) {
  struct tqt_arena *a = c->m->arena;
  const struct tqt_node *owner = g->nodes[at];
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  size_t n_extra = 0;
  struct tqt_node **moved = tqt_arena_calloc(a, body->n_nodes + body->n_outputs + 1, sizeof *moved);
  int rc = -1;
  if (!moved) goto fail;
  /* Every prefixed name is made unique on its own, so the node's name serves as it is. */
  const char *prefix = *owner->name ? owner->name : owner->op_type;
  for (size_t i = 0; i < body->n_inputs; i++)
    if (tqt_name_map_put(&map, body->inputs[i].name, (void *)bind[i])) goto fail;
  /* Names the body defines: renamed with the prefix, except the outputs it hands over. */
  for (size_t i = 0; i < body->n_nodes; i++)
    for (size_t k = 0; k < body->nodes[i]->n_outputs; k++) {
      const char *name = body->nodes[i]->outputs[k];
      if (!*name) continue;
      char *stem = tqt_arena_printf(a, "%s/%s", prefix, name);
      const char *fresh = stem ? tqt_name_fresh(a, &c->used, stem) : NULL;
      if (!fresh || tqt_name_map_put(&map, name, (void *)fresh)) goto fail;
    }
  for (size_t i = 0; i < body->n_initializers; i++) {
    struct tqt_tensor *t = body->initializers[i];
    char *stem = tqt_arena_printf(a, "%s/%s", prefix, t->name);
    const char *fresh = stem ? tqt_name_fresh(a, &c->used, stem) : NULL;
    if (!fresh || tqt_name_map_put(&map, t->name, (void *)fresh)) goto fail;
    t->name = (char *)fresh;
    if (tqt_arena_reserve(a, (void **)&g->initializers, &g->cap_initializers,
                          g->n_initializers + 1, sizeof *g->initializers))
      goto fail;
    g->initializers[g->n_initializers++] = t;
  }
  /* A body output produced by a body node takes its new name directly; one that is an outer
   * value, a body input or an initializer, or one to stack, gets a node of its own. */
  for (size_t i = 0; i < body->n_outputs; i++) {
    const char *name = body->outputs[i].name;
    if (!*out[i]) continue;
    bool produced = false;
    for (size_t n = 0; n < body->n_nodes && !produced; n++)
      for (size_t k = 0; k < body->nodes[n]->n_outputs; k++)
        if (strcmp(body->nodes[n]->outputs[k], name) == 0) produced = true;
    bool taken = tqt_name_map_get(&map, out[i], NULL); /* another output already went there */
    if (produced && !stack[i] && !taken) {
      if (tqt_name_map_put(&map, name, (void *)out[i])) goto fail;
      continue;
    }
    void *renamed = NULL;
    const char *src = tqt_name_map_get(&map, name, &renamed) ? renamed : name;
    char *node_name = tqt_arena_printf(a, "%s/output_%zu", prefix, i);
    struct tqt_node *n = NULL;
    if (stack[i]) {
      const char *axes = tqt_name_fresh(a, &c->used, "unsqueeze_axis_0");
      int64_t zero = 0, one = 1;
      const char *ins[2] = {src, axes}, *outs[1] = {out[i]};
      if (!axes || !tqt_graph_initializer_add(a, g, axes, TQT_DTYPE_INT64, 1, &one, &zero)) goto fail;
      n = node_name ? tqt_node_create(a, "Unsqueeze", node_name, 2, ins, 1, outs) : NULL;
    } else {
      const char *ins[1] = {src}, *outs[1] = {out[i]};
      n = node_name ? tqt_node_create(a, "Identity", node_name, 1, ins, 1, outs) : NULL;
    }
    if (!n) goto fail;
    moved[body->n_nodes + n_extra++] = n;
  }
  for (size_t i = 0; i < body->n_nodes; i++) {
    struct tqt_node *n = body->nodes[i];
    moved[i] = n;
    for (size_t k = 0; k < n->n_attrs; k++) { /* their subgraphs now hang off g */
      if (n->attrs[k].type == TQT_ATTR_TYPE_GRAPH && n->attrs[k].g) n->attrs[k].g->parent = g;
      for (size_t j = 0; n->attrs[k].type == TQT_ATTR_TYPE_GRAPHS && j < n->attrs[k].n; j++)
        n->attrs[k].graphs[j]->parent = g;
    }
    char *name = tqt_arena_printf(a, "%s/%s", prefix, *n->name ? n->name : n->op_type);
    if (!name || !(n->name = (char *)tqt_name_fresh(a, &c->used, name))) goto fail;
  }
  if (tqt_nodes_rename(a, moved, body->n_nodes, &map) ||
      tqt_graph_nodes_splice(a, g, at, moved, body->n_nodes + n_extra))
    goto fail;
  c->changed++;
  rc = 0;
fail:
  if (rc && c->d->status == TQT_STATUS_OK) tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  tqt_name_map_free(&map);
  return rc;
}

static int fold_if_one(struct fold_if_ctx *c, struct tqt_graph *g, size_t at,
                       struct tqt_graph *branch) {
  const struct tqt_node *ifn = g->nodes[at];
  if (branch->n_outputs != ifn->n_outputs || branch->n_inputs) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID,
                  "node '%s' (If): the branch has %zu outputs, the node %zu", ifn->name,
                  branch->n_outputs, ifn->n_outputs);
    return -1;
  }
  bool *stack = tqt_arena_calloc(c->m->arena, branch->n_outputs + 1, sizeof *stack);
  if (!stack) return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory"), -1;
  tqt_diag_note(c->d, "fold_if: '%s' takes its %s branch (%zu nodes)", ifn->name, branch->name,
                branch->n_nodes);
  return fold_inline(c, g, at, branch, NULL, (const char *const *)ifn->outputs, stack);
}

/* A Loop whose constant trip count is 0 (or condition false) keeps its initial values; one with
 * trip count 1 and a true (or no) condition is its body, run once. Loops with scan outputs that
 * would be empty are left alone (their element shape is not known here). */
static int fold_loop_one(struct fold_if_ctx *c, struct tqt_graph *g, size_t at) {
  struct tqt_node *n = g->nodes[at];
  const struct tqt_attr *body_attr = tqt_node_attr_find(n, "body");
  if (!body_attr || body_attr->type != TQT_ATTR_TYPE_GRAPH || !body_attr->g || n->n_inputs < 2)
    return 0;
  struct tqt_graph *body = body_attr->g;
  const struct tqt_tensor *trip = *n->inputs[0] ? fold_if_constant(g, n->inputs[0]) : NULL;
  const struct tqt_tensor *cond = *n->inputs[1] ? fold_if_constant(g, n->inputs[1]) : NULL;
  if ((*n->inputs[0] && !trip) || (*n->inputs[1] && !cond) || (!trip && !cond)) return 0;
  struct tqt_rt_tensor tv = {.dtype = trip ? trip->dtype : 0, .data = trip ? trip->data : NULL};
  struct tqt_rt_tensor cv = {.dtype = cond ? cond->dtype : 0, .data = cond ? cond->data : NULL};
  if ((trip && (tqt_tensor_numel(trip) != 1 || !trip->data)) ||
      (cond && (tqt_tensor_numel(cond) != 1 || !cond->data)))
    return 0;
  int64_t count = trip ? tqt_rt_get_int(&tv, 0) : -1;
  bool runs = !cond || tqt_rt_get(&cv, 0) != 0;
  size_t n_carried = n->n_inputs - 2, n_scan = n->n_outputs - n_carried;
  if (n->n_outputs < n_carried || body->n_inputs != n_carried + 2 ||
      body->n_outputs != n->n_outputs + 1)
    return 0;
  struct tqt_arena *a = c->m->arena;
  if (count == 0 || !runs) { /* never runs: the final values are the initial ones */
    if (n_scan) return 0;
    struct tqt_node **ids = tqt_arena_calloc(a, n_carried + 1, sizeof *ids);
    if (!ids) return -1;
    for (size_t i = 0; i < n_carried; i++) {
      const char *ins[1] = {n->inputs[2 + i]}, *outs[1] = {n->outputs[i]};
      char *name = tqt_arena_printf(a, "%s/initial_%zu", *n->name ? n->name : "Loop", i);
      if (!name || !(ids[i] = tqt_node_create(a, "Identity", name, 1, ins, 1, outs))) return -1;
    }
    tqt_diag_note(c->d, "fold_if: Loop '%s' never runs", n->name);
    c->changed++;
    return tqt_graph_nodes_splice(a, g, at, ids, n_carried);
  }
  if (count != 1) return 0;
  /* Once: iteration 0 with a true condition, the carried values bound to the initial ones. */
  const char **bind = tqt_arena_calloc(a, body->n_inputs + 1, sizeof *bind);
  const char **out = tqt_arena_calloc(a, body->n_outputs + 1, sizeof *out);
  bool *stack = tqt_arena_calloc(a, body->n_outputs + 1, sizeof *stack);
  const char *iter = tqt_name_fresh(a, &c->used, "loop_iteration_0");
  const char *truth = tqt_name_fresh(a, &c->used, "loop_condition_true");
  int64_t zero = 0;
  uint8_t yes = 1;
  if (!bind || !out || !stack || !iter || !truth ||
      !tqt_graph_initializer_add(a, g, iter, TQT_DTYPE_INT64, 0, NULL, &zero) ||
      !tqt_graph_initializer_add(a, g, truth, TQT_DTYPE_BOOL, 0, NULL, &yes))
    return -1;
  bind[0] = iter;
  bind[1] = truth;
  for (size_t i = 0; i < n_carried; i++) bind[2 + i] = n->inputs[2 + i];
  out[0] = ""; /* the condition for a next iteration nobody runs */
  for (size_t i = 0; i < n->n_outputs; i++) {
    out[1 + i] = n->outputs[i];
    stack[1 + i] = i >= n_carried;
  }
  tqt_diag_note(c->d, "fold_if: Loop '%s' runs once: its body inlined", n->name);
  return fold_inline(c, g, at, body, bind, out, stack);
}

static int fold_if_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fold_if_ctx *c = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *n = g->nodes[i];
    if (!*n->domain && !strcmp(n->op_type, "Loop")) {
      size_t before = c->changed;
      if (fold_loop_one(c, g, i) < 0) return c->failed = -1;
      if ((size_t)c->changed != before) return 0; /* g changed under the walk */
      continue;
    }
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
