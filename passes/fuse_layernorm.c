/* fuse_layernorm: a LayerNormalization written out in elementwise ops, as exporters write it
 * below opset 17,
 *   m = ReduceMean(x) over the last axis, d = Sub(x, m), v = ReduceMean(Pow(d, 2)) likewise,
 *   y = Div(d, Sqrt(Add(v, epsilon))), then optionally Mul by a constant gamma and Add of a
 *   constant beta, one value per element of the last axis,
 * becomes one LayerNormalization(x, gamma, beta, axis -1, epsilon) where the model's opset has
 * the op (17 on; `--opset 17` brings an older model there). Only where nothing else reads the
 * values in between. ONNX Runtime runs the op with its kernel, whose roundings onnx-tqt's
 * follows (src/interp/norm.c), while it runs the ops (or its own fusion of part of them) with
 * roundings onnx-tqt's do not follow in the last bit: fused, a quantized transformer runs in
 * ONNX Runtime as onnx-tqt computes it. Below opset 17 the ops stay, and the quantizer keeps them
 * whole as a float island (plan.c's chains). The replaced weights go with cleanup. */
#include <math.h>
#include <string.h>

#include "ir_edit.h"
#include "passes.h"

struct fuse_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  struct tqt_name_map used;
  int64_t opset;
  int changed;
};

static bool fuse_is(const struct tqt_node *n, const char *op, size_t n_inputs) {
  return n && !*n->domain && !strcmp(n->op_type, op) && n->n_inputs == n_inputs &&
         n->n_outputs == 1;
}

/* The one value of a float constant input of g, or NAN. */
static float fuse_scalar(const struct tqt_graph *g, const char *name) {
  return tqt_tensor_float_scalar(tqt_graph_constant(g, name), NAN);
}

/* Whether n is a ReduceMean of x over its last axis alone, dims kept. */
static bool fuse_mean_last(const struct fuse_ctx *c, const struct tqt_graph *g,
                           const struct tqt_node *n, const char *x) {
  bool axes_input = c->opset >= 18;
  if (!n || *n->domain || strcmp(n->op_type, "ReduceMean") || n->n_outputs != 1 ||
      strcmp(n->inputs[0], x) || n->n_inputs != (axes_input ? 2u : 1u) ||
      !tqt_attr_int(n, "keepdims", 1))
    return false;
  size_t count = 0;
  const int64_t *axes = NULL;
  if (axes_input) {
    const struct tqt_tensor *t = tqt_graph_constant(g, n->inputs[1]);
    if (t && t->dtype == TQT_DTYPE_INT64 && t->data) {
      axes = t->data;
      count = (size_t)tqt_tensor_numel(t);
    }
  } else {
    axes = tqt_attr_ints(n, "axes", &count);
  }
  if (count != 1) return false;
  if (axes[0] == -1) return true;
  const struct tqt_type *type = tqt_graph_value_type(g, x);
  return type && type->kind == TQT_TYPE_KIND_TENSOR && type->has_shape &&
         axes[0] == (int64_t)type->rank - 1;
}

/* The input of a binary node n that is not `value`: the other operand, or NULL. */
static const char *fuse_other(const struct tqt_node *n, const char *value) {
  if (!strcmp(n->inputs[0], value)) return n->inputs[1];
  return !strcmp(n->inputs[1], value) ? n->inputs[0] : NULL;
}

/* A float constant of `len` values along the last axis ([len], or [1, ..., len]). */
static const struct tqt_tensor *fuse_row(const struct tqt_graph *g, const char *name, int64_t len) {
  const struct tqt_tensor *t = name ? tqt_graph_constant(g, name) : NULL;
  if (!t || t->dtype != TQT_DTYPE_FLOAT || !t->data || t->rank < 1 || tqt_tensor_numel(t) != len ||
      t->dims[t->rank - 1] != len)
    return NULL;
  return t;
}

/* The name of a 1-D initializer holding row's values (row itself when it is 1-D), or NULL. */
static const char *fuse_vector(struct fuse_ctx *c, struct tqt_graph *g, const struct tqt_tensor *row,
                               const char *stem) {
  if (row->rank == 1) return row->name;
  const char *name = tqt_name_fresh(c->m->arena, &c->used, stem);
  int64_t len = row->dims[row->rank - 1];
  return name && tqt_graph_initializer_add(c->m->arena, g, name, TQT_DTYPE_FLOAT, 1, &len, row->data)
             ? name
             : NULL;
}

/* Fuses the pattern that starts at node mi of g (the ReduceMean of x). 1 fused, 0 not, -1 out of
 * memory; remove[] marks the nodes it replaced. */
static int fuse_try(struct fuse_ctx *c, struct tqt_graph *g, size_t mi, bool *remove) {
  const struct tqt_node *mean = g->nodes[mi];
  if (*mean->domain || strcmp(mean->op_type, "ReduceMean") || !mean->n_inputs) return 0;
  const char *x = mean->inputs[0];
  size_t si, pi = 0, vi, ai, qi, di = 0;
  const struct tqt_node *sub = tqt_graph_only_reader(g, mean->outputs[0], &si);
  if (!fuse_mean_last(c, g, mean, x) || !fuse_is(sub, "Sub", 2) || strcmp(sub->inputs[0], x) ||
      strcmp(sub->inputs[1], mean->outputs[0]) || tqt_graph_readers(g, sub->outputs[0]) != 2)
    return 0;
  const char *dev = sub->outputs[0];
  const struct tqt_node *pow = NULL, *div = NULL;
  for (size_t i = 0; i < g->n_nodes; i++) { /* the two readers of the deviation */
    const struct tqt_node *n = g->nodes[i];
    if (fuse_is(n, "Pow", 2) && !strcmp(n->inputs[0], dev) && fuse_scalar(g, n->inputs[1]) == 2.0f) {
      pow = n;
      pi = i;
    } else if (fuse_is(n, "Div", 2) && !strcmp(n->inputs[0], dev)) {
      div = n;
      di = i;
    }
  }
  if (!pow || !div) return 0;
  const struct tqt_node *var = tqt_graph_only_reader(g, pow->outputs[0], &vi);
  if (!fuse_mean_last(c, g, var, pow->outputs[0])) return 0;
  const struct tqt_node *add = tqt_graph_only_reader(g, var->outputs[0], &ai);
  const char *epsilon = fuse_is(add, "Add", 2) ? fuse_other(add, var->outputs[0]) : NULL;
  float eps = epsilon ? fuse_scalar(g, epsilon) : NAN;
  const struct tqt_node *sqrt = isnan(eps) ? NULL : tqt_graph_only_reader(g, add->outputs[0], &qi);
  if (!fuse_is(sqrt, "Sqrt", 1) || strcmp(div->inputs[1], sqrt->outputs[0]) ||
      tqt_graph_readers(g, sqrt->outputs[0]) != 1)
    return 0;
  /* gamma and beta: one value per element of x's last axis, whose length must be known */
  const struct tqt_type *type = tqt_graph_value_type(g, x);
  if (!type || type->kind != TQT_TYPE_KIND_TENSOR || !type->has_shape || !type->rank ||
      !type->dims[type->rank - 1].has_value)
    return 0;
  int64_t len = type->dims[type->rank - 1].value;
  size_t gi = di, bi = di;
  struct tqt_node *last = g->nodes[di], *next = tqt_graph_only_reader(g, div->outputs[0], &gi);
  const struct tqt_tensor *gamma = NULL, *beta = NULL;
  if (fuse_is(next, "Mul", 2) && (gamma = fuse_row(g, fuse_other(next, div->outputs[0]), len)))
    last = next;
  if (gamma && fuse_is(next = tqt_graph_only_reader(g, last->outputs[0], &bi), "Add", 2) &&
      (beta = fuse_row(g, fuse_other(next, last->outputs[0]), len)))
    last = next;
  if (!gamma) return 0; /* without a Mul the op's scale would be a new constant of ones */
  const char *scale = fuse_vector(c, g, gamma, "layernorm_scale");
  const char *bias = beta ? fuse_vector(c, g, beta, "layernorm_bias") : NULL;
  char **inputs = tqt_arena_calloc(c->m->arena, 3, sizeof *inputs);
  if (!scale || (beta && !bias) || !inputs) return -1;
  inputs[0] = (char *)x;
  inputs[1] = (char *)scale;
  inputs[2] = (char *)(bias ? bias : "");
  /* the last node of the pattern becomes the op: its output and place stay */
  last->op_type = "LayerNormalization";
  last->inputs = inputs;
  last->n_inputs = bias ? 3 : 2;
  last->attrs = NULL;
  last->n_attrs = 0;
  if (tqt_node_attr_add_int(c->m->arena, last, "axis", -1) ||
      tqt_node_attr_add_float(c->m->arena, last, "epsilon", eps))
    return -1;
  size_t parts[] = {mi, si, pi, vi, ai, qi, di, gi, bi};
  for (size_t k = 0; k < sizeof parts / sizeof *parts; k++)
    remove[parts[k]] = g->nodes[parts[k]] != last;
  tqt_diag_note(c->d, "fuse_layernorm: the LayerNorm of '%s' (to '%s') is one LayerNormalization "
                "(epsilon %g)", x, last->outputs[0], (double)eps);
  return 1;
}

static int fuse_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct fuse_ctx *c = ctx;
  bool *remove = tqt_arena_calloc(c->m->arena, g->n_nodes + 1, sizeof *remove);
  if (!remove) return -1;
  int fused = 0;
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (remove[i]) continue;
    int r = fuse_try(c, g, i, remove);
    if (r < 0) return -1;
    fused += r;
  }
  if (fused) tqt_graph_nodes_compact(g, remove);
  c->changed += fused;
  return 0;
}

int pass_fuse_layernorm(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct fuse_ctx c = {.m = m, .d = d, .opset = tqt_model_opset(m, "")};
  if (c.opset < 17) return 0;
  tqt_name_map_init(&c.used);
  int rc = tqt_names_collect(m, &c.used) || tqt_graph_walk(m->graph, fuse_graph, &c) ? -1 : 0;
  tqt_name_map_free(&c.used);
  if (rc) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory"), -1;
  return c.changed;
}
