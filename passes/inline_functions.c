/* inline_functions: every call of a model-local function becomes a copy of its body. Formal
 * inputs and outputs are bound to the call's values, attributes that refer to the call's
 * (ref_attr_name) take the call's value or are dropped for the op's default, and the body's own
 * names get the call's name as a prefix ("call/inner"). Calls inside bodies and subgraphs are
 * inlined too; the functions are dropped afterwards. */
#include <string.h>

#include "ir_edit.h"
#include "passes.h"

/* Sweeps over the model; a function that calls itself would never finish. */
#define INLINE_SWEEPS_MAX 32

struct inline_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  struct tqt_name_map used;
  int changed;
  int failed;
};

static const struct tqt_function *inline_function_of(const struct tqt_model *m,
                                                     const struct tqt_node *n) {
  for (size_t i = 0; i < m->n_functions; i++)
    if (strcmp(m->functions[i]->name, n->op_type) == 0 &&
        strcmp(m->functions[i]->domain, n->domain) == 0)
      return m->functions[i];
  return NULL;
}

/* The body's attributes with ref_attr_name resolved from the call. */
static void inline_attrs_bind(struct tqt_node *body_node, const struct tqt_node *call) {
  size_t kept = 0;
  for (size_t i = 0; i < body_node->n_attrs; i++) {
    struct tqt_attr at = body_node->attrs[i];
    if (at.ref_attr_name) {
      const struct tqt_attr *given = tqt_node_attr_find(call, at.ref_attr_name);
      if (!given) continue; /* the op's default applies */
      char *name = at.name;
      at = *given;
      at.name = name;
      at.ref_attr_name = NULL;
    }
    body_node->attrs[kept++] = at;
  }
  body_node->n_attrs = kept;
}

static int inline_call(struct inline_ctx *c, struct tqt_graph *g, size_t at,
                       const struct tqt_function *f) {
  struct tqt_arena *a = c->m->arena;
  const struct tqt_node *call = g->nodes[at];
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  struct tqt_node **body = tqt_arena_calloc(a, f->n_nodes + 1, sizeof *body);
  /* Every prefixed name is made unique on its own, so the call's name serves as it is. */
  const char *prefix = *call->name ? call->name : call->op_type;
  int rc = -1;
  if (!body || !prefix) goto fail;
  for (size_t i = 0; i < f->n_inputs; i++)
    if (tqt_name_map_put(&map, f->inputs[i], i < call->n_inputs ? call->inputs[i] : ""))
      goto fail;
  for (size_t i = 0; i < f->n_outputs; i++) {
    const char *actual = i < call->n_outputs && *call->outputs[i] ? call->outputs[i] : NULL;
    if (!actual) {
      char *stem = tqt_arena_printf(a, "%s/%s", prefix, f->outputs[i]);
      if (!stem || !(actual = tqt_name_fresh(a, &c->used, stem))) goto fail;
    }
    if (tqt_name_map_put(&map, f->outputs[i], (void *)actual)) goto fail;
  }
  for (size_t i = 0; i < f->n_nodes; i++) {
    const struct tqt_node *src = f->nodes[i];
    for (size_t k = 0; k < src->n_outputs; k++) {
      if (!*src->outputs[k] || tqt_name_map_get(&map, src->outputs[k], NULL)) continue;
      char *stem = tqt_arena_printf(a, "%s/%s", prefix, src->outputs[k]);
      const char *fresh = stem ? tqt_name_fresh(a, &c->used, stem) : NULL;
      if (!fresh || tqt_name_map_put(&map, src->outputs[k], (void *)fresh)) goto fail;
    }
    if (!(body[i] = tqt_node_clone(a, src, g))) goto fail;
    char *stem = tqt_arena_printf(a, "%s/%s", prefix, *src->name ? src->name : src->op_type);
    if (!stem || !(body[i]->name = (char *)tqt_name_fresh(a, &c->used, stem))) goto fail;
    inline_attrs_bind(body[i], call);
  }
  if (tqt_nodes_rename(a, body, f->n_nodes, &map) ||
      tqt_graph_nodes_splice(a, g, at, body, f->n_nodes))
    goto fail;
  tqt_diag_note(c->d, "inline_functions: '%s' (%s) → %zu nodes", call->name, f->name, f->n_nodes);
  c->changed++;
  rc = 0;
fail:
  if (rc) tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  tqt_name_map_free(&map);
  return rc;
}

static int inline_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct inline_ctx *c = ctx;
  for (size_t i = 0; i < g->n_nodes;) {
    const struct tqt_function *f = inline_function_of(c->m, g->nodes[i]);
    if (!f) {
      i++;
      continue;
    }
    if (inline_call(c, g, i, f)) return c->failed = -1;
    i += f->n_nodes; /* calls inside the body: the next sweep */
  }
  return 0;
}

/* The function bodies import opsets the model may lack. */
static int inline_opsets_merge(struct inline_ctx *c) {
  for (size_t f = 0; f < c->m->n_functions; f++) {
    const struct tqt_function *fn = c->m->functions[f];
    for (size_t i = 0; i < fn->n_opsets; i++) {
      int64_t have = tqt_model_opset(c->m, fn->opsets[i].domain);
      if (have == 0) {
        if (tqt_model_opset_set(c->m, fn->opsets[i].domain, fn->opsets[i].version))
          return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory"), -1;
      } else if (have != fn->opsets[i].version) {
        tqt_diag_warn(c->d,
                      "function '%s' imports %s version %lld, the model %lld: its ops run at the "
                      "model's version",
                      fn->name, *fn->opsets[i].domain ? fn->opsets[i].domain : "ai.onnx",
                      (long long)fn->opsets[i].version, (long long)have);
      }
    }
  }
  return 0;
}

int pass_inline_functions(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  if (!m->n_functions) return 0;
  struct inline_ctx c = {.m = m, .d = d};
  tqt_name_map_init(&c.used);
  int result = -1;
  if (tqt_names_collect(m, &c.used)) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if (inline_opsets_merge(&c)) goto fail;
  for (int sweep = 0;; sweep++) {
    int before = c.changed;
    if (tqt_graph_walk(m->graph, inline_graph, &c) || c.failed) goto fail;
    if (c.changed == before) break;
    if (sweep == INLINE_SWEEPS_MAX) {
      tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                    "functions still call functions after %d rounds of inlining: recursion?",
                    INLINE_SWEEPS_MAX);
      goto fail;
    }
  }
  tqt_diag_note(d, "inline_functions: %d calls inlined, %zu functions dropped", c.changed,
                m->n_functions);
  m->n_functions = 0;
  result = c.changed;
fail:
  tqt_name_map_free(&c.used);
  return result;
}
