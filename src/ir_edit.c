/* Editing helpers the passes share: deep copies of nodes and graphs, scope-aware renaming, node
 * removal, fresh names. */
#include <stdio.h>
#include <string.h>

#include "ir.h"
#include "ir_edit.h"

static struct tqt_graph *edit_graph_clone(struct tqt_arena *a, const struct tqt_graph *g,
                                          struct tqt_graph *parent);

static struct tqt_attr *edit_attrs_clone(struct tqt_arena *a, const struct tqt_attr *src, size_t n,
                                         struct tqt_graph *owner) {
  struct tqt_attr *out = tqt_arena_calloc(a, n ? n : 1, sizeof *out);
  if (!out) return NULL;
  for (size_t i = 0; i < n; i++) {
    out[i] = src[i]; /* scalars, strings and tensors are shared: they are never edited in place */
    if (src[i].type == TQT_ATTR_TYPE_GRAPH && src[i].g &&
        !(out[i].g = edit_graph_clone(a, src[i].g, owner)))
      return NULL;
    if (src[i].type == TQT_ATTR_TYPE_GRAPHS) {
      if (!(out[i].graphs = tqt_arena_calloc(a, src[i].n + 1, sizeof *out[i].graphs))) return NULL;
      for (size_t j = 0; j < src[i].n; j++)
        if (!(out[i].graphs[j] = edit_graph_clone(a, src[i].graphs[j], owner))) return NULL;
    }
  }
  return out;
}

static char **edit_names_clone(struct tqt_arena *a, char *const *names, size_t n) {
  char **out = tqt_arena_calloc(a, n ? n : 1, sizeof *out);
  for (size_t i = 0; out && i < n; i++)
    if (!(out[i] = tqt_arena_strdup(a, names[i]))) return NULL;
  return out;
}

struct tqt_node *tqt_node_clone(struct tqt_arena *a, const struct tqt_node *n,
                                struct tqt_graph *owner) {
  struct tqt_node *c = tqt_arena_calloc(a, 1, sizeof *c);
  if (!c) return NULL;
  *c = *n;
  if (!(c->inputs = edit_names_clone(a, n->inputs, n->n_inputs)) ||
      !(c->outputs = edit_names_clone(a, n->outputs, n->n_outputs)) ||
      !(c->attrs = edit_attrs_clone(a, n->attrs, n->n_attrs, owner)))
    return NULL;
  return c;
}

static struct tqt_graph *edit_graph_clone(struct tqt_arena *a, const struct tqt_graph *g,
                                          struct tqt_graph *parent) {
  struct tqt_graph *c = tqt_arena_calloc(a, 1, sizeof *c);
  if (!c) return NULL;
  *c = *g;
  c->parent = parent;
  c->cap_nodes = g->n_nodes ? g->n_nodes : 1;
  c->nodes = tqt_arena_calloc(a, c->cap_nodes, sizeof *c->nodes);
  c->cap_inputs = g->n_inputs ? g->n_inputs : 1;
  c->inputs = tqt_arena_calloc(a, c->cap_inputs, sizeof *c->inputs);
  c->cap_outputs = g->n_outputs ? g->n_outputs : 1;
  c->outputs = tqt_arena_calloc(a, c->cap_outputs, sizeof *c->outputs);
  c->cap_value_info = g->n_value_info ? g->n_value_info : 1;
  c->value_info = tqt_arena_calloc(a, c->cap_value_info, sizeof *c->value_info);
  c->cap_initializers = g->n_initializers ? g->n_initializers : 1;
  c->initializers = tqt_arena_calloc(a, c->cap_initializers, sizeof *c->initializers);
  if (!c->nodes || !c->inputs || !c->outputs || !c->value_info || !c->initializers) return NULL;
  if (g->n_inputs) memcpy(c->inputs, g->inputs, g->n_inputs * sizeof *g->inputs);
  if (g->n_outputs) memcpy(c->outputs, g->outputs, g->n_outputs * sizeof *g->outputs);
  if (g->n_value_info) memcpy(c->value_info, g->value_info, g->n_value_info * sizeof *g->value_info);
  for (size_t i = 0; i < g->n_initializers; i++) {
    if (!(c->initializers[i] = tqt_arena_calloc(a, 1, sizeof **c->initializers))) return NULL;
    *c->initializers[i] = *g->initializers[i]; /* data shared, name copied below when renamed */
  }
  for (size_t i = 0; i < g->n_nodes; i++)
    if (!(c->nodes[i] = tqt_node_clone(a, g->nodes[i], c))) return NULL;
  return c;
}

struct tqt_graph *tqt_graph_clone(struct tqt_arena *a, const struct tqt_graph *g,
                                  struct tqt_graph *parent) {
  return edit_graph_clone(a, g, parent);
}

struct tqt_model *tqt_model_clone(const struct tqt_model *m) {
  struct tqt_model *c = tqt_model_create();
  if (!c) return NULL;
  c->has_ir_version = m->has_ir_version;
  c->ir_version = m->ir_version;
  c->producer_name = m->producer_name;
  c->producer_version = m->producer_version;
  c->domain = m->domain;
  c->has_model_version = m->has_model_version;
  c->model_version = m->model_version;
  c->path = m->path; /* strings are shared like the tensors: m outlives the copy */
  for (size_t i = 0; i < m->n_opsets; i++)
    if (tqt_model_opset_set(c, m->opsets[i].domain, m->opsets[i].version)) goto fail;
  if (!(c->graph = tqt_graph_clone(c->arena, m->graph, NULL))) goto fail;
  return c;
fail:
  tqt_model_destroy(c);
  return NULL;
}

/* Renames the uses in one graph; names the graph defines itself shadow the map. */
static int edit_graph_rename(struct tqt_arena *a, struct tqt_graph *g,
                             const struct tqt_name_map *map, bool top);

static bool edit_shadowed(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_inputs; i++)
    if (strcmp(g->inputs[i].name, name) == 0) return true;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (strcmp(g->initializers[i]->name, name) == 0) return true;
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
      if (strcmp(g->nodes[i]->outputs[k], name) == 0) return true;
  return false;
}

/* The new name of name in map, unless g (a nested scope) defines it itself. */
static const char *edit_lookup(const struct tqt_graph *g, const struct tqt_name_map *map,
                               const char *name, bool top) {
  void *v;
  if (!*name || !tqt_name_map_get(map, name, &v)) return NULL;
  if (!top && edit_shadowed(g, name)) return NULL;
  return v;
}

static int edit_nodes_rename(struct tqt_arena *a, struct tqt_graph *scope, struct tqt_node **nodes,
                             size_t n, const struct tqt_name_map *map, bool top) {
  for (size_t i = 0; i < n; i++) {
    struct tqt_node *node = nodes[i];
    for (size_t k = 0; k < node->n_inputs; k++) {
      const char *to = NULL;
      void *v;
      if (scope)
        to = edit_lookup(scope, map, node->inputs[k], top);
      else if (*node->inputs[k] && tqt_name_map_get(map, node->inputs[k], &v))
        to = v;
      if (to && !(node->inputs[k] = tqt_arena_strdup(a, to))) return -1;
    }
    for (size_t k = 0; top && k < node->n_outputs; k++) {
      void *to;
      if (*node->outputs[k] && tqt_name_map_get(map, node->outputs[k], &to) &&
          !(node->outputs[k] = tqt_arena_strdup(a, to)))
        return -1;
    }
    for (size_t k = 0; k < node->n_attrs; k++) {
      struct tqt_attr *at = &node->attrs[k];
      if (at->type == TQT_ATTR_TYPE_GRAPH && at->g && edit_graph_rename(a, at->g, map, false))
        return -1;
      for (size_t j = 0; at->type == TQT_ATTR_TYPE_GRAPHS && j < at->n; j++)
        if (edit_graph_rename(a, at->graphs[j], map, false)) return -1;
    }
  }
  return 0;
}

static int edit_graph_rename(struct tqt_arena *a, struct tqt_graph *g,
                             const struct tqt_name_map *map, bool top) {
  if (edit_nodes_rename(a, g, g->nodes, g->n_nodes, map, top)) return -1;
  for (size_t i = 0; i < g->n_outputs; i++) {
    const char *to = edit_lookup(g, map, g->outputs[i].name, top);
    if (to && !(g->outputs[i].name = tqt_arena_strdup(a, to))) return -1;
  }
  return 0;
}

int tqt_nodes_rename(struct tqt_arena *a, struct tqt_node **nodes, size_t n,
                     const struct tqt_name_map *map) {
  return edit_nodes_rename(a, NULL, nodes, n, map, true);
}

int tqt_graph_rename_uses(struct tqt_arena *a, struct tqt_graph *g,
                          const struct tqt_name_map *map) {
  return edit_nodes_rename(a, g, g->nodes, g->n_nodes, map, false);
}

int tqt_graph_nodes_splice(struct tqt_arena *a, struct tqt_graph *g, size_t at,
                           struct tqt_node *const *nodes, size_t n) {
  if (at >= g->n_nodes) return -1;
  size_t need = g->n_nodes - 1 + n;
  if (need > g->cap_nodes &&
      tqt_arena_reserve(a, (void **)&g->nodes, &g->cap_nodes, need, sizeof *g->nodes))
    return -1;
  memmove(&g->nodes[at + n], &g->nodes[at + 1], (g->n_nodes - at - 1) * sizeof *g->nodes);
  if (n) memcpy(&g->nodes[at], nodes, n * sizeof *nodes);
  g->n_nodes = need;
  return 0;
}

void tqt_graph_nodes_compact(struct tqt_graph *g, const bool *remove) {
  size_t kept = 0;
  for (size_t i = 0; i < g->n_nodes; i++)
    if (!remove[i]) g->nodes[kept++] = g->nodes[i];
  g->n_nodes = kept;
}

struct tqt_node *tqt_graph_producer(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
      if (!strcmp(g->nodes[i]->outputs[k], name)) return g->nodes[i];
  return NULL;
}

struct tqt_tensor *tqt_graph_constant(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; *name && i < g->n_initializers; i++)
    if (!strcmp(g->initializers[i]->name, name)) {
      for (size_t k = 0; k < g->n_inputs; k++) /* an overridable default is no constant */
        if (!strcmp(g->inputs[k].name, name)) return NULL;
      return g->initializers[i];
    }
  return NULL;
}

const struct tqt_type *tqt_graph_value_type(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_inputs; i++)
    if (!strcmp(g->inputs[i].name, name)) return g->inputs[i].type;
  for (size_t i = 0; i < g->n_value_info; i++)
    if (!strcmp(g->value_info[i].name, name)) return g->value_info[i].type;
  for (size_t i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return g->outputs[i].type;
  return NULL;
}

size_t tqt_graph_readers(const struct tqt_graph *g, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_outputs; i++) n += !strcmp(g->outputs[i].name, name);
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *node = g->nodes[i];
    for (size_t k = 0; k < node->n_inputs; k++) n += !strcmp(node->inputs[k], name);
    for (size_t k = 0; k < node->n_attrs; k++) {
      const struct tqt_attr *at = &node->attrs[k];
      if (at->type == TQT_ATTR_TYPE_GRAPH && at->g) n += tqt_graph_readers(at->g, name);
      for (size_t j = 0; at->type == TQT_ATTR_TYPE_GRAPHS && j < at->n; j++)
        n += tqt_graph_readers(at->graphs[j], name);
    }
  }
  return n;
}

struct tqt_node *tqt_graph_only_reader(const struct tqt_graph *g, const char *name, size_t *index) {
  if (tqt_graph_readers(g, name) != 1) return NULL;
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_inputs; k++)
      if (strcmp(g->nodes[i]->inputs[k], name) == 0) {
        *index = i;
        return g->nodes[i];
      }
  return NULL;
}

/* ---- unique names ---- */

static int edit_collect(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct tqt_name_map *used = ctx;
  for (size_t i = 0; i < g->n_inputs; i++)
    if (tqt_name_map_put(used, g->inputs[i].name, NULL)) return -1;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (tqt_name_map_put(used, g->initializers[i]->name, NULL)) return -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (*g->nodes[i]->name && tqt_name_map_put(used, g->nodes[i]->name, NULL)) return -1;
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
      if (tqt_name_map_put(used, g->nodes[i]->outputs[k], NULL)) return -1;
  }
  return 0;
}

int tqt_names_collect(struct tqt_model *m, struct tqt_name_map *used) {
  if (tqt_graph_walk(m->graph, edit_collect, used)) return -1;
  for (size_t f = 0; f < m->n_functions; f++) {
    const struct tqt_function *fn = m->functions[f];
    for (size_t i = 0; i < fn->n_inputs; i++)
      if (tqt_name_map_put(used, fn->inputs[i], NULL)) return -1;
    for (size_t i = 0; i < fn->n_nodes; i++)
      for (size_t k = 0; k < fn->nodes[i]->n_outputs; k++)
        if (tqt_name_map_put(used, fn->nodes[i]->outputs[k], NULL)) return -1;
  }
  return 0;
}

const char *tqt_name_fresh(struct tqt_arena *a, struct tqt_name_map *used, const char *stem) {
  const char *name = tqt_arena_strdup(a, stem);
  for (unsigned i = 1; name && tqt_name_map_get(used, name, NULL); i++)
    name = tqt_arena_printf(a, "%s_%u", stem, i);
  if (!name || tqt_name_map_put(used, name, NULL)) return NULL;
  return name;
}
