/* infer_shapes: a type and shape for every value of the main graph (value_info), for the passes
 * and stages after it. Rather than a shape function per op, the interpreter runs the graph twice
 * on zeros, with every symbolic input dim set to 1 and then to 2: a dim that is the same in both
 * runs is static, one that differs follows the symbolic dims and stays unknown. A model the
 * interpreter cannot run keeps the value_info it had (a warning says why). */
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "ir_names.h"
#include "passes.h"

/* The largest value the zero runs may make (a real run needs the memory anyway). */
#define INFER_TENSOR_BYTES_MAX ((size_t)1 << 30)

struct infer_seen {
  int32_t dtype;
  size_t rank;
  int64_t dims[TQT_RANK_MAX];
  bool differs[TQT_RANK_MAX];
  bool tensor;
};

struct infer_ctx {
  struct tqt_name_map seen; /* name → struct infer_seen * */
  struct infer_seen *pool;
  size_t n_pool, cap_pool;
  int pass; /* 0: first run, 1: second */
};

static int infer_observe(void *ctx, const struct tqt_node *node, const char *name,
                         const struct tqt_value *v, struct tqt_diag *d) {
  struct infer_ctx *c = ctx;
  if (!node) return 0; /* graph inputs: their types are given */
  void *p = NULL;
  if (!tqt_name_map_get(&c->seen, name, &p)) {
    if (c->pass == 1 || c->n_pool == c->cap_pool) return 0;
    p = &c->pool[c->n_pool++];
    if (tqt_name_map_put(&c->seen, name, p))
      return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    struct infer_seen *s = p;
    s->tensor = v->kind == TQT_VALUE_KIND_TENSOR;
    s->dtype = v->t.dtype;
    s->rank = v->t.rank;
    memcpy(s->dims, v->t.dims, sizeof s->dims);
    return 0;
  }
  struct infer_seen *s = p;
  if (v->kind != TQT_VALUE_KIND_TENSOR || v->t.rank != s->rank || v->t.dtype != s->dtype) {
    s->tensor = false;
    return 0;
  }
  for (size_t i = 0; i < s->rank; i++) s->differs[i] |= v->t.dims[i] != s->dims[i];
  return 0;
}

/* Zeros for every input, symbolic dims set to `sym`. */
static enum tqt_status infer_inputs(struct tqt_interp *in, int64_t sym, struct tqt_value *values,
                                    struct tqt_diag *d) {
  for (size_t i = 0; i < tqt_interp_input_count(in); i++) {
    const struct tqt_value_info *vi = tqt_interp_input_info(in, i);
    const struct tqt_type *t = vi->type;
    if (!t || t->kind != TQT_TYPE_KIND_TENSOR || !t->has_elem_type || !t->has_shape ||
        t->rank > TQT_RANK_MAX)
      return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "input '%s' has no static tensor type",
                           vi->name);
    int64_t dims[TQT_RANK_MAX];
    for (size_t k = 0; k < t->rank; k++) dims[k] = t->dims[k].has_value ? t->dims[k].value : sym;
    enum tqt_status st = tqt_value_tensor_alloc(&values[i], t->elem_type, t->rank, dims, d);
    if (st != TQT_STATUS_OK) return st;
  }
  return TQT_STATUS_OK;
}

int pass_infer_shapes(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct tqt_graph *g = m->graph;
  size_t n_values = 0;
  for (size_t i = 0; i < g->n_nodes; i++) n_values += g->nodes[i]->n_outputs;
  struct infer_ctx c = {.cap_pool = n_values};
  tqt_name_map_init(&c.seen);
  c.pool = tqt_arena_calloc(m->arena, n_values + 1, sizeof *c.pool);
  /* A hostile model can ask for huge values (Tile, Expand, ConstantOfShape): past the cap the
   * shapes are not inferred rather than the memory spent. */
  struct tqt_interp_options io = {.observer = infer_observe, .observer_ctx = &c,
                                  .max_tensor_bytes = INFER_TENSOR_BYTES_MAX};
  struct tqt_interp *in = NULL;
  struct tqt_diag local = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_value *values = NULL;
  const struct tqt_value **ptrs = NULL;
  int result = 0;
  if (!c.pool) goto oom;
  if (tqt_interp_create(m, &io, &in, &local) != TQT_STATUS_OK) goto skip;
  size_t n_in = tqt_interp_input_count(in);
  values = calloc(n_in + 1, sizeof *values);
  ptrs = calloc(n_in + 1, sizeof *ptrs);
  if (!values || !ptrs) goto oom;
  for (size_t i = 0; i < n_in; i++) ptrs[i] = &values[i];
  /* Without symbolic input dims the second run would repeat the first. */
  bool symbolic = false;
  for (size_t i = 0; i < n_in; i++) {
    const struct tqt_type *t = tqt_interp_input_info(in, i)->type;
    for (size_t k = 0; t && t->has_shape && k < t->rank; k++) symbolic |= !t->dims[k].has_value;
  }
  for (c.pass = 0; c.pass < (symbolic ? 2 : 1); c.pass++) {
    if (infer_inputs(in, c.pass + 1, values, &local) != TQT_STATUS_OK ||
        tqt_interp_run(in, ptrs, n_in, &local) != TQT_STATUS_OK)
      goto skip;
  }
  /* value_info anew: every node output that is not a graph output. */
  struct tqt_value_info *vi = tqt_arena_calloc(m->arena, n_values + 1, sizeof *vi);
  if (!vi) goto oom;
  size_t n_vi = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++) {
      const char *name = g->nodes[i]->outputs[k];
      void *p;
      if (!*name || !tqt_name_map_get(&c.seen, name, &p) || !((struct infer_seen *)p)->tensor)
        continue;
      const struct infer_seen *s = p;
      int64_t dims[TQT_RANK_MAX];
      for (size_t j = 0; j < s->rank; j++) dims[j] = s->differs[j] ? -1 : s->dims[j];
      struct tqt_type *t = tqt_type_tensor_create(m->arena, s->dtype, s->rank, dims);
      if (!t) goto oom;
      bool is_output = false;
      for (size_t j = 0; j < g->n_outputs; j++)
        if (!strcmp(g->outputs[j].name, name)) {
          is_output = true;
          if (!g->outputs[j].type) g->outputs[j].type = t;
        }
      if (!is_output) vi[n_vi++] = (struct tqt_value_info){(char *)name, (char *)"", t};
    }
  }
  g->value_info = vi;
  g->n_value_info = n_vi;
  g->cap_value_info = n_values + 1;
  result = (int)n_vi;
  goto done;
skip:
  tqt_diag_warn(d, "infer_shapes: shapes not inferred: %s", local.msg);
  goto done;
oom:
  result = -1;
  tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
done:
  if (values)
    for (size_t i = 0; in && i < tqt_interp_input_count(in); i++) tqt_value_release(&values[i]);
  free(values);
  free(ptrs);
  tqt_interp_destroy(in);
  tqt_name_map_free(&c.seen);
  return result;
}
