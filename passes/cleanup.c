/* cleanup: removes what computes nothing — Identity, inference-mode Dropout, Cast to the type a
 * value already has, Reshape to the shape it already has — then nodes whose outputs nobody reads,
 * initializers nobody reads and value_info of values that are gone. Initializers that an IR
 * version < 4 file had to list as graph inputs stop being inputs: they are the model's constants. */
#include <string.h>

#include "ir_edit.h"
#include "passes.h"

struct cleanup_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  int changed;
};

static bool cleanup_is_graph_output(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_outputs; i++)
    if (strcmp(g->outputs[i].name, name) == 0) return true;
  return false;
}

static bool cleanup_is_input_or_initializer(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_inputs; i++)
    if (strcmp(g->inputs[i].name, name) == 0) return true;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (strcmp(g->initializers[i]->name, name) == 0) return true;
  return false;
}

/* The static type of a value in g (graph input, initializer or value_info), or NULL. */
static const struct tqt_type *cleanup_type_of(const struct tqt_graph *g, const char *name,
                                              struct tqt_type *scratch) {
  const struct tqt_type *declared = tqt_graph_value_type(g, name);
  if (declared) return declared;
  for (size_t i = 0; i < g->n_initializers; i++) {
    const struct tqt_tensor *t = g->initializers[i];
    if (strcmp(t->name, name) != 0) continue;
    *scratch = (struct tqt_type){.kind = TQT_TYPE_KIND_TENSOR, .has_elem_type = true,
                                 .elem_type = t->dtype};
    return scratch;
  }
  return NULL;
}

static bool cleanup_same_static_shape(const struct tqt_type *a, const struct tqt_type *b) {
  if (!a || !b || !a->has_shape || !b->has_shape || a->rank != b->rank) return false;
  for (size_t i = 0; i < a->rank; i++)
    if (!a->dims[i].has_value || !b->dims[i].has_value || a->dims[i].value != b->dims[i].value)
      return false;
  return true;
}

/* True when node passes its first input through unchanged as its first output. */
static bool cleanup_is_passthrough(const struct tqt_model *m, const struct tqt_graph *g,
                                   const struct tqt_node *n) {
  if (*n->domain || n->n_inputs < 1 || !*n->inputs[0] || n->n_outputs < 1) return false;
  for (size_t k = 1; k < n->n_outputs; k++)
    if (*n->outputs[k]) return false; /* e.g. Dropout's mask is read */
  const char *op = n->op_type;
  if (!strcmp(op, "Identity")) return true;
  if (!strcmp(op, "Dropout")) {
    int64_t opset = tqt_model_opset(m, "");
    if (opset >= 12) return n->n_inputs < 3 || !*n->inputs[2]; /* no training_mode */
    return opset >= 7 || tqt_attr_int(n, "is_test", 0) != 0;
  }
  struct tqt_type s1, s2;
  const struct tqt_type *in = cleanup_type_of(g, n->inputs[0], &s1);
  const struct tqt_type *out = cleanup_type_of(g, n->outputs[0], &s2);
  if (!strcmp(op, "Cast"))
    return in && in->kind == TQT_TYPE_KIND_TENSOR && in->has_elem_type &&
           in->elem_type == tqt_attr_int(n, "to", -1);
  if (!strcmp(op, "Reshape")) return cleanup_same_static_shape(in, out);
  return false;
}

/* Bypasses a pass-through node: its readers read its input instead, or, when its output is a
 * graph output, its input's producer writes the output name directly. */
static int cleanup_bypass(struct cleanup_ctx *c, struct tqt_graph *g, size_t at, bool *remove) {
  struct tqt_node *n = g->nodes[at];
  const char *x = n->inputs[0], *y = n->outputs[0];
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  int rc = 0;
  if (cleanup_is_graph_output(g, y)) {
    /* Rename the producer's output to y: only when x is a plain node output nobody else needs
     * under its own name. */
    if (cleanup_is_graph_output(g, x) || cleanup_is_input_or_initializer(g, x)) goto done;
    struct tqt_node *producer = NULL;
    size_t slot = 0;
    for (size_t i = 0; i < g->n_nodes && !producer; i++)
      for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
        if (!remove[i] && strcmp(g->nodes[i]->outputs[k], x) == 0) {
          producer = g->nodes[i];
          slot = k;
        }
    if (!producer) goto done; /* x comes from an enclosing graph */
    if (tqt_name_map_put(&map, x, (void *)y)) goto oom;
    producer->outputs[slot] = (char *)y;
  } else if (tqt_name_map_put(&map, y, (void *)x)) {
    goto oom;
  }
  remove[at] = true;
  for (size_t i = 0; i < g->n_nodes; i++)
    if (!remove[i] && tqt_nodes_rename(c->m->arena, &g->nodes[i], 1, &map)) goto oom;
  c->changed++;
  goto done;
oom:
  rc = tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
done:
  tqt_name_map_free(&map);
  return rc;
}

/* Marks every name read in g and the subgraphs inside it. */
static int cleanup_mark_reads(const struct tqt_graph *g, struct tqt_name_map *read) {
  for (size_t i = 0; i < g->n_outputs; i++)
    if (tqt_name_map_put(read, g->outputs[i].name, NULL)) return -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    for (size_t k = 0; k < n->n_inputs; k++)
      if (*n->inputs[k] && tqt_name_map_put(read, n->inputs[k], NULL)) return -1;
    for (size_t k = 0; k < n->n_attrs; k++) {
      const struct tqt_attr *at = &n->attrs[k];
      if (at->type == TQT_ATTR_TYPE_GRAPH && at->g && cleanup_mark_reads(at->g, read)) return -1;
      for (size_t j = 0; at->type == TQT_ATTR_TYPE_GRAPHS && j < at->n; j++)
        if (cleanup_mark_reads(at->graphs[j], read)) return -1;
    }
  }
  return 0;
}

/* Drops dead nodes (back to front, so chains go at once), unused initializers, stale value_info. */
static int cleanup_dead(struct cleanup_ctx *c, struct tqt_graph *g) {
  struct tqt_name_map read;
  tqt_name_map_init(&read);
  int rc = -1;
  bool *remove = tqt_arena_calloc(c->m->arena, g->n_nodes + 1, sizeof *remove);
  if (!remove || cleanup_mark_reads(g, &read)) goto fail;
  for (size_t i = g->n_nodes; i-- > 0;) {
    const struct tqt_node *n = g->nodes[i];
    bool used = false;
    for (size_t k = 0; k < n->n_outputs && !used; k++)
      used = *n->outputs[k] && tqt_name_map_get(&read, n->outputs[k], NULL);
    if (used) continue;
    remove[i] = true;
    c->changed++;
    /* Its inputs may now be unread: rebuild the set from the survivors. */
    tqt_name_map_free(&read);
    tqt_name_map_init(&read);
    for (size_t j = 0; j < g->n_outputs; j++)
      if (tqt_name_map_put(&read, g->outputs[j].name, NULL)) goto fail;
    for (size_t j = 0; j < g->n_nodes; j++) {
      if (remove[j]) continue;
      struct tqt_graph one = {.nodes = &g->nodes[j], .n_nodes = 1};
      if (cleanup_mark_reads(&one, &read)) goto fail;
    }
  }
  tqt_graph_nodes_compact(g, remove);
  size_t kept = 0;
  for (size_t i = 0; i < g->n_initializers; i++) {
    if (tqt_name_map_get(&read, g->initializers[i]->name, NULL))
      g->initializers[kept++] = g->initializers[i];
    else
      c->changed++;
  }
  g->n_initializers = kept;
  struct tqt_name_map defined;
  tqt_name_map_init(&defined);
  bool ok = true;
  for (size_t i = 0; i < g->n_nodes && ok; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs && ok; k++)
      ok = tqt_name_map_put(&defined, g->nodes[i]->outputs[k], NULL) == 0;
  kept = 0;
  for (size_t i = 0; ok && i < g->n_value_info; i++)
    if (tqt_name_map_get(&defined, g->value_info[i].name, NULL))
      g->value_info[kept++] = g->value_info[i];
  if (ok) g->n_value_info = kept;
  tqt_name_map_free(&defined);
  rc = ok ? 0 : -1;
fail:
  tqt_name_map_free(&read);
  if (rc) tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  return rc;
}

/* Old files list every initializer as an input too; those are constants, not inputs. */
static void cleanup_initializer_inputs(struct cleanup_ctx *c, struct tqt_graph *g) {
  if (c->m->ir_version >= 4) return;
  size_t kept = 0;
  for (size_t i = 0; i < g->n_inputs; i++) {
    bool init = false;
    for (size_t k = 0; k < g->n_initializers && !init; k++)
      init = strcmp(g->initializers[k]->name, g->inputs[i].name) == 0;
    if (init)
      c->changed++;
    else
      g->inputs[kept++] = g->inputs[i];
  }
  g->n_inputs = kept;
}

static int cleanup_graph(struct tqt_graph *g, int depth, void *ctx) {
  struct cleanup_ctx *c = ctx;
  bool *remove = tqt_arena_calloc(c->m->arena, g->n_nodes + 1, sizeof *remove);
  if (!remove) return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < g->n_nodes; i++)
    if (cleanup_is_passthrough(c->m, g, g->nodes[i]) && cleanup_bypass(c, g, i, remove))
      return -1;
  tqt_graph_nodes_compact(g, remove);
  if (depth == 0) cleanup_initializer_inputs(c, g);
  return cleanup_dead(c, g);
}

int pass_cleanup(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct cleanup_ctx c = {.m = m, .d = d};
  if (tqt_graph_walk(m->graph, cleanup_graph, &c)) return -1;
  return c.changed;
}
