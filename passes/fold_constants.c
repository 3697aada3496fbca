/* fold_constants: Constant nodes become initializers, and a node whose inputs are all constant
 * (Shape of a value with a static shape included) is evaluated once with the interpreter and
 * replaced by its results, unless a result would pass the size cap or the op is random. */
#include <string.h>

#include "interp.h"
#include "ir_edit.h"
#include "passes.h"

#define FOLD_LIMIT_DEFAULT ((size_t)16 << 20)

struct fold_ctx {
  struct tqt_model *m;
  const struct tqt_options *o;
  struct tqt_diag *d;
  size_t limit;
  int changed;
};

static struct tqt_tensor *fold_initializer(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_inputs; i++) /* an input, even with a default, may change */
    if (!strcmp(g->inputs[i].name, name)) return NULL;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (!strcmp(g->initializers[i]->name, name)) return g->initializers[i];
  return NULL;
}

static bool fold_is_graph_output(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return true;
  return false;
}

static bool fold_op_is_random(const char *op) {
  static const char *const random_ops[] = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                           "RandomUniformLike", "Bernoulli", "Multinomial"};
  for (size_t i = 0; i < sizeof random_ops / sizeof random_ops[0]; i++)
    if (!strcmp(op, random_ops[i])) return true;
  return false;
}

static bool fold_has_subgraph(const struct tqt_node *n) {
  for (size_t k = 0; k < n->n_attrs; k++)
    if (n->attrs[k].type == TQT_ATTR_TYPE_GRAPH || n->attrs[k].type == TQT_ATTR_TYPE_GRAPHS)
      return true;
  return false;
}

/* A tensor that shares src's bytes, for the scratch model. */
static struct tqt_tensor *fold_tensor_view(struct tqt_arena *a, const struct tqt_tensor *src) {
  struct tqt_tensor *t = tqt_arena_calloc(a, 1, sizeof *t);
  if (t) *t = *src;
  return t;
}

/* Adds the value v as an initializer of g called name. 0, or -1 when out of memory. */
static int fold_store(struct fold_ctx *c, struct tqt_graph *g, const char *name,
                      const struct tqt_value *v) {
  const struct tqt_rt_tensor *t = &v->t;
  if (t->dtype == TQT_DTYPE_STRING) {
    struct tqt_tensor *s = tqt_arena_calloc(c->m->arena, 1, sizeof *s);
    size_t n = t->nbytes / sizeof(struct tqt_bytes);
    if (!s || !(s->dims = tqt_arena_calloc(c->m->arena, t->rank + 1, sizeof *s->dims)) ||
        !(s->strings = tqt_arena_calloc(c->m->arena, n + 1, sizeof *s->strings)) ||
        !(s->name = tqt_arena_strdup(c->m->arena, name)) ||
        !(s->doc = tqt_arena_strdup(c->m->arena, "")))
      return -1;
    s->dtype = TQT_DTYPE_STRING;
    s->rank = t->rank;
    memcpy(s->dims, t->dims, t->rank * sizeof *t->dims);
    const struct tqt_bytes *src = t->data;
    for (size_t i = 0; i < n; i++) {
      s->strings[i].len = src[i].len;
      if (!(s->strings[i].data = tqt_arena_memdup(c->m->arena, src[i].data, src[i].len)))
        return -1;
    }
    s->n_strings = n;
    if (tqt_arena_reserve(c->m->arena, (void **)&g->initializers, &g->cap_initializers,
                          g->n_initializers + 1, sizeof *g->initializers))
      return -1;
    g->initializers[g->n_initializers++] = s;
    return 0;
  }
  return tqt_graph_initializer_add(c->m->arena, g, name, t->dtype, t->rank, t->dims, t->data)
             ? 0 : -1;
}

/* Evaluates node n of g in a scratch model holding just it. 1 folded, 0 left, -1 error. */
static int fold_evaluate(struct fold_ctx *c, struct tqt_graph *g, struct tqt_node *n) {
  struct tqt_model *tm = tqt_model_create();
  struct tqt_interp *in = NULL;
  struct tqt_diag local = {.verbosity = TQT_VERBOSITY_QUIET};
  int result = 0;
  if (!tm) return -1;
  for (size_t i = 0; i < c->m->n_opsets; i++)
    if (tqt_model_opset_set(tm, c->m->opsets[i].domain, c->m->opsets[i].version)) goto oom;
  struct tqt_graph *tg = tm->graph;
  for (size_t k = 0; k < n->n_inputs; k++) {
    if (!*n->inputs[k]) continue;
    bool seen = false; /* a node may read one constant twice */
    for (size_t j = 0; j < tg->n_initializers && !seen; j++)
      seen = !strcmp(tg->initializers[j]->name, n->inputs[k]);
    if (seen) continue;
    struct tqt_tensor *view = fold_tensor_view(tm->arena, fold_initializer(g, n->inputs[k]));
    if (!view || tqt_arena_reserve(tm->arena, (void **)&tg->initializers, &tg->cap_initializers,
                                   tg->n_initializers + 1, sizeof *tg->initializers))
      goto oom;
    tg->initializers[tg->n_initializers++] = view;
  }
  if (tqt_arena_reserve(tm->arena, (void **)&tg->nodes, &tg->cap_nodes, 1, sizeof *tg->nodes))
    goto oom;
  tg->nodes[tg->n_nodes++] = n; /* borrowed: the scratch model never frees or edits it */
  for (size_t k = 0; k < n->n_outputs; k++) {
    if (!*n->outputs[k]) continue;
    if (tqt_arena_reserve(tm->arena, (void **)&tg->outputs, &tg->cap_outputs, tg->n_outputs + 1,
                          sizeof *tg->outputs))
      goto oom;
    tg->outputs[tg->n_outputs++] = (struct tqt_value_info){n->outputs[k], "", NULL};
  }
  struct tqt_interp_options io = {.max_tensor_bytes = c->limit}; /* refused before allocated */
  if (tqt_interp_create(tm, &io, &in, &local) != TQT_STATUS_OK ||
      tqt_interp_run(in, NULL, 0, &local) != TQT_STATUS_OK) {
    tqt_diag_note(c->d, "fold_constants: '%s' (%s) stays: %s", n->name, n->op_type, local.msg);
    goto done;
  }
  for (size_t k = 0; k < tqt_interp_output_count(in); k++) {
    const struct tqt_value *v = tqt_interp_output(in, k);
    if (!v || v->kind != TQT_VALUE_KIND_TENSOR || v->t.nbytes > c->limit) goto done;
  }
  for (size_t k = 0; k < tqt_interp_output_count(in); k++)
    if (fold_store(c, g, tg->outputs[k].name, tqt_interp_output(in, k))) goto oom;
  result = 1;
  goto done;
oom:
  tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  result = -1;
done:
  tqt_interp_destroy(in);
  tqt_model_destroy(tm);
  return result;
}

/* Shape of a value whose static shape the graph states. 1 folded, 0 not, -1 error. */
static int fold_shape(struct fold_ctx *c, struct tqt_graph *g, const struct tqt_node *n) {
  if (strcmp(n->op_type, "Shape") || n->n_inputs != 1) return 0;
  const struct tqt_type *t = NULL;
  for (size_t i = 0; i < g->n_inputs && !t; i++)
    if (!strcmp(g->inputs[i].name, n->inputs[0])) t = g->inputs[i].type;
  for (size_t i = 0; i < g->n_value_info && !t; i++)
    if (!strcmp(g->value_info[i].name, n->inputs[0])) t = g->value_info[i].type;
  if (!t || t->kind != TQT_TYPE_KIND_TENSOR || !t->has_shape) return 0;
  int64_t rank = (int64_t)t->rank, start = tqt_attr_int(n, "start", 0);
  int64_t end = tqt_attr_int(n, "end", rank);
  start = start < 0 ? start + rank : start;
  end = end < 0 ? end + rank : end;
  start = start < 0 ? 0 : start > rank ? rank : start;
  end = end < start ? start : end > rank ? rank : end;
  int64_t dims[1] = {end - start}, values[64];
  if (end - start > 64) return 0;
  for (int64_t i = start; i < end; i++) {
    if (!t->dims[i].has_value) return 0;
    values[i - start] = t->dims[i].value;
  }
  return tqt_graph_initializer_add(c->m->arena, g, n->outputs[0], TQT_DTYPE_INT64, 1, dims, values)
             ? 1 : (tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory"), -1);
}

static int fold_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fold_ctx *c = ctx;
  bool *remove = tqt_arena_calloc(c->m->arena, g->n_nodes + 1, sizeof *remove);
  if (!remove) return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *n = g->nodes[i];
    bool all_const = !*n->domain && n->n_outputs > 0 && !fold_op_is_random(n->op_type) &&
                     !fold_has_subgraph(n);
    for (size_t k = 0; all_const && k < n->n_outputs; k++)
      all_const = *n->outputs[k] && !fold_is_graph_output(g, n->outputs[k]);
    if (!all_const) continue;
    int r = fold_shape(c, g, n);
    for (size_t k = 0; r == 0 && all_const && k < n->n_inputs; k++)
      all_const = !*n->inputs[k] || fold_initializer(g, n->inputs[k]);
    if (r == 0 && all_const) r = fold_evaluate(c, g, n);
    if (r < 0) return -1;
    if (r == 1) {
      remove[i] = true;
      c->changed++;
    }
  }
  tqt_graph_nodes_compact(g, remove);
  return 0;
}

int pass_fold_constants(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  struct fold_ctx c = {m, o, d, o->fold_limit_bytes ? o->fold_limit_bytes : FOLD_LIMIT_DEFAULT, 0};
  if (tqt_graph_walk(m->graph, fold_graph, &c)) return -1;
  if (c.changed) tqt_diag_note(d, "fold_constants: %d nodes folded", c.changed);
  return c.changed;
}
