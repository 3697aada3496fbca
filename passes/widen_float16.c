/* widen_float16: a model stored in float16 (weights and activations, as many published models
 * are) computes in float32 inside. The planner quantizes float32 tensors only, and QuantizeLinear
 * takes float32 only before opset 19, so such a model would otherwise stay float as a whole.
 * float32 holds every float16 value exactly and rounds less, so computing in it changes the
 * outputs by at most float16's own rounding.
 *
 * In every graph: float16 initializers and tensor attributes (Constant, ConstantOfShape, ...)
 * become float32, so do Cast `to` and the `dtype` of EyeLike/Random* when they say float16, and
 * float16 types (value_info, inputs and outputs of subgraphs, type attributes). The main graph's
 * inputs and outputs are the model's interface and keep float16: an input gets a Cast to float32
 * ahead of its readers, an output becomes a Cast of the float32 value its producer now writes
 * under a fresh name. Off with keep_float16 (--keep-float16, --no-quantize). */
#include <string.h>

#include "interp.h"
#include "ir_edit.h"
#include "onnx_io.h"
#include "passes.h"

struct widen_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  struct tqt_name_map used;  /* every name, for fresh ones */
  struct tqt_name_map iface; /* the main graph's real inputs (not IR < 4 constants) */
  int tensors, types, attrs, casts;
};

static int widen_oom(struct widen_ctx *c) {
  return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory"), -1;
}

/* A float16 tensor becomes float32 in place. n and attr name the owner of an attribute's tensor
 * for the error message (an attribute's tensor is often nameless); n is NULL for an initializer. */
static int widen_tensor(struct widen_ctx *c, struct tqt_tensor *t, const struct tqt_node *n,
                        const char *attr) {
  if (!t || t->dtype != TQT_DTYPE_FLOAT16) return 0;
  int64_t numel = tqt_tensor_numel(t);
  const unsigned char *h = tqt_tensor_data(t, c->m->arena, c->d); /* external data loads here */
  if (!h && t->external) return -1; /* d names the tensor and its file */
  if (numel < 0 || (numel && (!h || t->nbytes != (size_t)numel * sizeof(uint16_t)))) {
    if (n)
      tqt_diag_fail(c->d, TQT_STATUS_INVALID, "node '%s' (%s), attribute '%s': float16 tensor "
                    "'%s' has %zu bytes of data, its dims need %lld", n->name, n->op_type, attr,
                    t->name, t->nbytes, (long long)numel * 2);
    else
      tqt_diag_fail(c->d, TQT_STATUS_INVALID, "float16 initializer '%s' has %zu bytes of data, "
                    "its dims need %lld", t->name, t->nbytes, (long long)numel * 2);
    return -1;
  }
  float *f = tqt_arena_calloc(c->m->arena, numel ? (size_t)numel : 1, sizeof *f);
  if (!f) return widen_oom(c);
  for (int64_t i = 0; i < numel; i++) {
    uint16_t bits; /* mapped external data need not be aligned */
    memcpy(&bits, h + 2 * i, sizeof bits);
    f[i] = tqt_f16_to_f32(bits);
  }
  t->dtype = TQT_DTYPE_FLOAT;
  t->data = f;
  t->nbytes = (size_t)numel * sizeof *f;
  t->external = NULL; /* the float32 bytes live in memory now; the saver decides where they go */
  c->tensors++;
  return 0;
}

/* *tp with float16 element types (nested in sequences, optionals, maps too) made float32. A
 * changed type is a copy: types may be shared, and the interface's must stay as they are.
 * 1 changed, 0 not, -1 out of memory. */
static int widen_type(struct widen_ctx *c, struct tqt_type **tp) {
  struct tqt_type *t = *tp;
  if (!t) return 0;
  struct tqt_type *elem = t->elem;
  int r = widen_type(c, &elem);
  bool f16 = t->has_elem_type && t->elem_type == TQT_DTYPE_FLOAT16;
  if (r <= 0 && !f16) return r;
  struct tqt_type *copy = (struct tqt_type *)tqt_arena_memdup(c->m->arena, t, sizeof *t);
  if (!copy) return widen_oom(c);
  if (f16) copy->elem_type = TQT_DTYPE_FLOAT;
  copy->elem = elem;
  *tp = copy;
  return 1;
}

/* n types widened in place, the changed ones counted. 0 or -1. */
static int widen_types(struct widen_ctx *c, struct tqt_type **tps, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int r = widen_type(c, &tps[i]);
    if (r < 0) return -1;
    c->types += r;
  }
  return 0;
}

static int widen_value_infos(struct widen_ctx *c, struct tqt_value_info *vi, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (widen_types(c, &vi[i].type, 1)) return -1;
  return 0;
}

/* Tensor, type and element-type attributes of one node. */
static int widen_attrs(struct widen_ctx *c, struct tqt_node *n) {
  bool onnx = !*n->domain || !strcmp(n->domain, "ai.onnx");
  for (size_t k = 0; k < n->n_attrs; k++) {
    struct tqt_attr *at = &n->attrs[k];
    int r = 0;
    switch (at->type) {
    case TQT_ATTR_TYPE_INT: /* Cast's target; what EyeLike, Random* and Bernoulli make */
      if (onnx && at->i == TQT_DTYPE_FLOAT16 &&
          (!strcmp(at->name, "to") ? !strcmp(n->op_type, "Cast") : !strcmp(at->name, "dtype"))) {
        at->i = TQT_DTYPE_FLOAT;
        c->attrs++;
      }
      break;
    case TQT_ATTR_TYPE_TENSOR: r = widen_tensor(c, at->t, n, at->name); break;
    case TQT_ATTR_TYPE_TENSORS:
      for (size_t j = 0; j < at->n && !r; j++) r = widen_tensor(c, at->tensors[j], n, at->name);
      break;
    case TQT_ATTR_TYPE_SPARSE_TENSOR:
      r = at->sparse ? widen_tensor(c, at->sparse->values, n, at->name) : 0;
      break;
    case TQT_ATTR_TYPE_SPARSE_TENSORS:
      for (size_t j = 0; j < at->n && !r; j++)
        r = widen_tensor(c, at->sparse_tensors[j]->values, n, at->name);
      break;
    case TQT_ATTR_TYPE_TYPE_PROTO: r = widen_types(c, &at->tp, 1); break;
    case TQT_ATTR_TYPE_TYPE_PROTOS: r = widen_types(c, at->type_protos, at->n); break;
    default: break;
    }
    if (r) return -1;
  }
  return 0;
}

/* Everything inside one graph but the main graph's interface (widen_interface_*). */
static int widen_graph(struct tqt_graph *g, int depth, void *ctx) {
  struct widen_ctx *c = ctx;
  for (size_t i = 0; i < g->n_initializers; i++) /* an overridable input's default: interface */
    if (!(depth == 0 && tqt_name_map_get(&c->iface, g->initializers[i]->name, NULL)) &&
        widen_tensor(c, g->initializers[i], NULL, NULL))
      return -1;
  for (size_t i = 0; i < g->n_sparse_initializers; i++)
    if (widen_tensor(c, g->sparse_initializers[i]->values, NULL, NULL)) return -1;
  if (widen_value_infos(c, g->value_info, g->n_value_info)) return -1;
  if (depth > 0 && (widen_value_infos(c, g->inputs, g->n_inputs) ||
                    widen_value_infos(c, g->outputs, g->n_outputs)))
    return -1;
  for (size_t i = 0; i < g->n_nodes; i++)
    if (widen_attrs(c, g->nodes[i])) return -1;
  return 0;
}

/* True for a float16 tensor of the interface; fails for another type holding float16 (a
 * sequence of float16), which a Cast cannot carry. */
static int widen_interface_f16(struct widen_ctx *c, const struct tqt_value_info *vi,
                               const char *what) {
  const struct tqt_type *t = vi->type;
  if (t && t->kind == TQT_TYPE_KIND_TENSOR)
    return t->has_elem_type && t->elem_type == TQT_DTYPE_FLOAT16;
  struct tqt_type *probe = vi->type;
  int r = widen_type(c, &probe);
  if (r > 0)
    tqt_diag_fail(c->d, TQT_STATUS_UNSUPPORTED, "%s '%s' holds float16 but is no tensor: only "
                  "float16 tensors can be widened to float32 (--keep-float16 leaves the model "
                  "as it is, unquantized)", what, vi->name);
  return r ? -1 : 0;
}

/* Appends a Cast of from into to, named name. */
static int widen_cast_add(struct widen_ctx *c, const char *name, const char *from, const char *to,
                          int32_t dtype) {
  struct tqt_node *n =
      tqt_graph_node_add(c->m->arena, c->m->graph, "Cast", name, 1, &from, 1, &to);
  if (!n || tqt_node_attr_add_int(c->m->arena, n, "to", dtype)) return widen_oom(c);
  c->casts++;
  return 0;
}

/* map: the name of each float16 value of the interface → a fresh name for its float32 value. */
static int widen_interface_map(struct widen_ctx *c, struct tqt_name_map *map) {
  struct tqt_graph *g = c->m->graph;
  for (size_t io = 0; io < 2; io++) {
    struct tqt_value_info *vi = io ? g->outputs : g->inputs;
    for (size_t i = 0; i < (io ? g->n_outputs : g->n_inputs); i++) {
      bool real_input = tqt_name_map_get(&c->iface, vi[i].name, NULL);
      if (!io && !real_input) { /* an IR < 4 constant listed as an input: cleanup drops it */
        if (widen_value_infos(c, &vi[i], 1)) return -1;
        continue;
      }
      int f16 = widen_interface_f16(c, &vi[i], io ? "output" : "input");
      if (f16 < 0) return -1;
      /* an output that is an input passes the float16 through untouched */
      if (!f16 || (io && real_input) || tqt_name_map_get(map, vi[i].name, NULL)) continue;
      char *stem = tqt_arena_printf(c->m->arena, "%s_float32", vi[i].name);
      const char *fresh = stem ? tqt_name_fresh(c->m->arena, &c->used, stem) : NULL;
      if (!fresh || tqt_name_map_put(map, vi[i].name, (void *)fresh)) return widen_oom(c);
    }
  }
  return 0;
}

/* The graph reads and writes the float32 values under their fresh names; Casts bridge them to
 * the float16 interface: the inputs' first of all nodes, the outputs' last. */
static int widen_interface_apply(struct widen_ctx *c, const struct tqt_name_map *map) {
  struct tqt_graph *g = c->m->graph;
  struct tqt_arena *a = c->m->arena;
  /* readers (subgraphs too) and producers; a constant output's initializer; stale value_info */
  if (tqt_nodes_rename(a, g->nodes, g->n_nodes, map)) return widen_oom(c);
  void *to;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (tqt_name_map_get(map, g->initializers[i]->name, &to)) g->initializers[i]->name = to;
  for (size_t i = 0; i < g->n_inputs; i++) /* IR < 4 constants follow their initializer */
    if (!tqt_name_map_get(&c->iface, g->inputs[i].name, NULL) &&
        tqt_name_map_get(map, g->inputs[i].name, &to))
      g->inputs[i].name = to;
  for (size_t i = 0; i < g->n_value_info; i++)
    if (tqt_name_map_get(map, g->value_info[i].name, &to)) g->value_info[i].name = to;
  size_t first = g->n_nodes;
  for (size_t i = 0; i < g->n_inputs; i++) {
    const char *x = g->inputs[i].name;
    if (!tqt_name_map_get(&c->iface, x, NULL) || !tqt_name_map_get(map, x, &to)) continue;
    if (widen_cast_add(c, to, x, to, TQT_DTYPE_FLOAT)) return -1;
    tqt_diag_note(c->d, "widen_float16: input '%s' stays float16, Cast to float32 '%s'", x,
                  (const char *)to);
  }
  size_t k = g->n_nodes - first;
  struct tqt_node **casts =
      k ? (struct tqt_node **)tqt_arena_memdup(a, &g->nodes[first], k * sizeof *casts) : NULL;
  if (k && !casts) return widen_oom(c);
  if (k) {
    memmove(&g->nodes[k], g->nodes, first * sizeof *g->nodes);
    memcpy(g->nodes, casts, k * sizeof *casts);
  }
  for (size_t i = 0; i < g->n_outputs; i++) {
    const char *y = g->outputs[i].name;
    if (tqt_name_map_get(&c->iface, y, NULL) || !tqt_name_map_get(map, y, &to)) continue;
    if (widen_cast_add(c, to, to, y, TQT_DTYPE_FLOAT16)) return -1;
    tqt_diag_note(c->d, "widen_float16: output '%s' stays float16, Cast from float32 '%s'", y,
                  (const char *)to);
  }
  return 0;
}

int pass_widen_float16(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  if (o->keep_float16) return 0;
  struct widen_ctx c = {.m = m, .d = d};
  struct tqt_name_map map; /* interface name → its float32 value's */
  tqt_name_map_init(&c.used);
  tqt_name_map_init(&c.iface);
  tqt_name_map_init(&map);
  int result = -1;
  struct tqt_graph *g = m->graph;
  if (tqt_names_collect(m, &c.used)) goto oom;
  for (size_t i = 0; i < g->n_inputs; i++) {
    bool init = false; /* IR < 4 lists every initializer as an input: a constant, not interface */
    for (size_t k = 0; k < g->n_initializers && m->ir_version < 4 && !init; k++)
      init = strcmp(g->initializers[k]->name, g->inputs[i].name) == 0;
    if (!init && tqt_name_map_put(&c.iface, g->inputs[i].name, NULL)) goto oom;
  }
  /* the graphs first: the interface's own Casts to float16 must stay */
  if (tqt_graph_walk(g, widen_graph, &c) || widen_interface_map(&c, &map) ||
      (map.count && widen_interface_apply(&c, &map)))
    goto done;
  if (c.tensors + c.types + c.attrs)
    tqt_diag_note(d, "widen_float16: float16 → float32 in %d tensors, %d types, %d Cast/dtype "
                  "attributes; %d Casts keep the interface float16", c.tensors, c.types, c.attrs,
                  c.casts);
  result = c.tensors + c.types + c.attrs + c.casts;
  goto done;
oom:
  widen_oom(&c);
done:
  tqt_name_map_free(&map);
  tqt_name_map_free(&c.used);
  tqt_name_map_free(&c.iface);
  return result;
}
