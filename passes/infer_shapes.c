/* infer_shapes: what is proven of every value's type and shape (src/interp/infer.h), written as
 * value_info of the main graph and of every subgraph: constant dims as numbers, dims that follow
 * the inputs' symbolic dims as dim_param expressions ("2*H", "floor((W+-1)/2)+1"), the rest
 * unknown. Small integer tensors that are proven constants (a Shape of a static dim, an Equal
 * of two such) become initializers, so that fold_constants and fold_if can go on from them; the
 * number of those is what the pass reports as changed. */
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "passes.h"

struct shapes_ctx {
  struct tqt_model *m;
  struct tqt_infer *inf;
  int materialized;
  struct tqt_diag *d;
};

static bool shapes_is_output(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return true;
  return false;
}

/* The tensor a proven constant sym holds; NULL when it is not one. */
static struct tqt_tensor *shapes_constant(struct shapes_ctx *c, const char *name,
                                          const struct tqt_sym *s) {
  int64_t vals[TQT_SYM_VALUE_MAX], dims[TQT_RANK_MAX];
  size_t n;
  size_t esize = tqt_dtype_size(s->dtype);
  if (!s->has_value || !esize || esize > 8 || !tqt_sym_ints(s, vals, TQT_SYM_VALUE_MAX, &n))
    return NULL;
  for (size_t i = 0; i < s->rank; i++) tqt_sdim_value(s->dims[i], &dims[i]);
  struct tqt_tensor *t = tqt_tensor_create(c->m->arena, name, s->dtype, s->rank, dims, NULL);
  if (!t) return NULL;
  /* Little-endian elements: the low bytes of each int64. */
  for (size_t i = 0; i < n; i++) {
    uint64_t v = (uint64_t)vals[i];
    for (size_t b = 0; b < esize; b++) ((unsigned char *)t->data)[i * esize + b] = (unsigned char)(v >> (8 * b));
  }
  return t;
}

/* Nodes whose every output is a proven constant become initializers. */
static int shapes_materialize(struct shapes_ctx *c, struct tqt_graph *g) {
  size_t kept = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *n = g->nodes[i];
    struct tqt_tensor *made[8];
    size_t n_made = 0;
    bool all = n->n_outputs > 0 && n->n_outputs <= 8 && strcmp(n->op_type, "Constant") != 0;
    for (size_t k = 0; all && k < n->n_outputs; k++) {
      if (!*n->outputs[k]) continue;
      const struct tqt_sym *s = tqt_infer_lookup(c->inf, g, n->outputs[k]);
      all = s && !shapes_is_output(g, n->outputs[k]) &&
            (made[n_made] = shapes_constant(c, n->outputs[k], s)) != NULL;
      n_made += all;
    }
    if (!all || !n_made) {
      g->nodes[kept++] = n;
      continue;
    }
    for (size_t k = 0; k < n_made; k++) {
      if (tqt_arena_reserve(c->m->arena, (void **)&g->initializers, &g->cap_initializers,
                            g->n_initializers + 1, sizeof *g->initializers))
        return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory"), -1;
      g->initializers[g->n_initializers++] = made[k];
    }
    tqt_diag_note(c->d, "infer_shapes: node '%s' (%s) is a constant", n->name, n->op_type);
    c->materialized++;
  }
  g->n_nodes = kept;
  return 0;
}

/* The value_info type of what s proves; NULL when not even the element type is known. */
static struct tqt_type *shapes_type(struct tqt_arena *a, const struct tqt_sym *s) {
  if (s->kind != TQT_SYM_KIND_TENSOR || s->dtype == TQT_DTYPE_UNDEFINED) return NULL;
  int64_t dims[TQT_RANK_MAX];
  for (size_t i = 0; i < s->rank; i++)
    if (!tqt_sdim_value(s->dims[i], &dims[i])) dims[i] = -1;
  struct tqt_type *t = tqt_type_tensor_create(a, s->dtype, s->rank, dims);
  if (!t) return NULL;
  t->has_shape = s->has_rank;
  for (size_t i = 0; i < s->rank; i++)
    if (!t->dims[i].has_value && tqt_sdim_named(s->dims[i]))
      t->dims[i].param = tqt_arena_strdup(a, tqt_sdim_text(s->dims[i]));
  return t;
}

/* A graph output keeps what the file declares and gains what is proven where it declares
 * nothing (no type, no rank, or a dim with neither value nor name). */
static void shapes_output_refine(struct tqt_value_info *out, struct tqt_type *t) {
  struct tqt_type *have = out->type;
  if (!have) {
    out->type = t;
    return;
  }
  if (have->kind != TQT_TYPE_KIND_TENSOR || (have->has_elem_type && have->elem_type != t->elem_type))
    return;
  if (!have->has_shape) {
    out->type = t;
    return;
  }
  if (!t->has_shape || have->rank != t->rank) return;
  for (size_t i = 0; i < t->rank; i++)
    if (!have->dims[i].has_value && !have->dims[i].param) have->dims[i] = t->dims[i];
}

static int shapes_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct shapes_ctx *c = ctx;
  struct tqt_arena *a = c->m->arena;
  if (shapes_materialize(c, g)) return -1;
  size_t n_values = 0;
  for (size_t i = 0; i < g->n_nodes; i++) n_values += g->nodes[i]->n_outputs;
  struct tqt_value_info *vi = tqt_arena_calloc(a, n_values + 1, sizeof *vi);
  if (!vi) return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory"), -1;
  size_t n_vi = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++) {
      const char *name = g->nodes[i]->outputs[k];
      const struct tqt_sym *s = *name ? tqt_infer_lookup(c->inf, g, name) : NULL;
      struct tqt_type *t = s ? shapes_type(a, s) : NULL;
      if (!t) continue;
      bool output = false;
      for (size_t j = 0; j < g->n_outputs; j++)
        if (!strcmp(g->outputs[j].name, name)) {
          output = true;
          shapes_output_refine(&g->outputs[j], t);
        }
      if (!output) vi[n_vi++] = (struct tqt_value_info){(char *)name, (char *)"", t};
    }
  }
  g->value_info = vi;
  g->n_value_info = n_vi;
  g->cap_value_info = n_values + 1;
  return 0;
}

int pass_infer_shapes(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct shapes_ctx c = {.m = m, .d = d};
  if (tqt_infer_create(m, &c.inf, d) != TQT_STATUS_OK) return -1;
  if (*tqt_infer_missing(c.inf))
    tqt_diag_note(d, "infer_shapes: no shape rules for %s: their outputs are unknown",
                  tqt_infer_missing(c.inf));
  int rc = tqt_graph_walk(m->graph, shapes_graph, &c);
  tqt_infer_destroy(c.inf);
  return rc ? -1 : c.materialized;
}
