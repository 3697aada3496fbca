#include "ir.h"

#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  size_t size;
} dtype_table[TQT_DTYPE_COUNT] = {
    [TQT_DTYPE_UNDEFINED] = {"undefined", 0}, [TQT_DTYPE_FLOAT] = {"float", 4},
    [TQT_DTYPE_UINT8] = {"uint8", 1},         [TQT_DTYPE_INT8] = {"int8", 1},
    [TQT_DTYPE_UINT16] = {"uint16", 2},       [TQT_DTYPE_INT16] = {"int16", 2},
    [TQT_DTYPE_INT32] = {"int32", 4},         [TQT_DTYPE_INT64] = {"int64", 8},
    [TQT_DTYPE_STRING] = {"string", 0},       [TQT_DTYPE_BOOL] = {"bool", 1},
    [TQT_DTYPE_FLOAT16] = {"float16", 2},     [TQT_DTYPE_DOUBLE] = {"double", 8},
    [TQT_DTYPE_UINT32] = {"uint32", 4},       [TQT_DTYPE_UINT64] = {"uint64", 8},
    [TQT_DTYPE_COMPLEX64] = {"complex64", 8}, [TQT_DTYPE_COMPLEX128] = {"complex128", 16},
    [TQT_DTYPE_BFLOAT16] = {"bfloat16", 2},
    [TQT_DTYPE_FLOAT8E4M3FN] = {"float8e4m3fn", 0},
    [TQT_DTYPE_FLOAT8E4M3FNUZ] = {"float8e4m3fnuz", 0},
    [TQT_DTYPE_FLOAT8E5M2] = {"float8e5m2", 0},
    [TQT_DTYPE_FLOAT8E5M2FNUZ] = {"float8e5m2fnuz", 0},
    [TQT_DTYPE_UINT4] = {"uint4", 1},         [TQT_DTYPE_INT4] = {"int4", 1},
};

bool tqt_dtype_is_4bit(int32_t dtype) {
  return dtype == TQT_DTYPE_INT4 || dtype == TQT_DTYPE_UINT4;
}

size_t tqt_int4_packed_size(size_t n) { return n / 2 + n % 2; }

void tqt_int4_pack(const uint8_t *in, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i += 2)
    out[i / 2] = (uint8_t)((in[i] & 0x0f) | (i + 1 < n ? (in[i + 1] & 0x0f) << 4 : 0));
}

void tqt_int4_unpack(const uint8_t *in, size_t n, bool is_signed, uint8_t *out) {
  for (size_t i = 0; i < n; i++) {
    uint8_t v = (uint8_t)(i % 2 ? in[i / 2] >> 4 : in[i / 2] & 0x0f);
    out[i] = is_signed && (v & 0x08) ? (uint8_t)(v | 0xf0) : v;
  }
}

size_t tqt_dtype_size(int32_t dtype) {
  return dtype >= 0 && dtype < TQT_DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

const char *tqt_dtype_name(int32_t dtype) {
  static _Thread_local char unknown[24];
  if (dtype >= 0 && dtype < TQT_DTYPE_COUNT) return dtype_table[dtype].name;
  snprintf(unknown, sizeof unknown, "dtype(%d)", (int)dtype);
  return unknown;
}

int64_t tqt_tensor_numel(const struct tqt_tensor *t) {
  int64_t n = 1;
  for (size_t i = 0; i < t->rank; i++) {
    if (t->dims[i] < 0) return -1;
    if (t->dims[i] != 0 && n > INT64_MAX / t->dims[i]) return -1;
    n *= t->dims[i];
  }
  return n;
}

float tqt_tensor_float_scalar(const struct tqt_tensor *t, float fallback) {
  return t && t->dtype == TQT_DTYPE_FLOAT && t->data && tqt_tensor_numel(t) == 1
             ? *(const float *)t->data
             : fallback;
}

struct tqt_model *tqt_model_create(void) {
  struct tqt_arena *a = tqt_arena_create();
  if (!a) return NULL;
  struct tqt_model *m = tqt_arena_calloc(a, 1, sizeof *m);
  if (!m) goto fail;
  m->arena = a;
  m->graph = tqt_graph_create(a, "", NULL);
  if (!m->graph) goto fail;
  return m;
fail:
  tqt_arena_destroy(a);
  return NULL;
}

void tqt_model_destroy(struct tqt_model *m) {
  if (m) tqt_arena_destroy(m->arena);
}

static bool opset_domain_is_default(const char *domain) {
  return !domain || !*domain || strcmp(domain, "ai.onnx") == 0;
}

static bool opset_domain_same(const char *x, const char *y) {
  if (opset_domain_is_default(x)) return opset_domain_is_default(y);
  return y && strcmp(x, y) == 0;
}

int64_t tqt_model_opset(const struct tqt_model *m, const char *domain) {
  for (size_t i = 0; i < m->n_opsets; i++)
    if (opset_domain_same(m->opsets[i].domain, domain)) return m->opsets[i].version;
  return 0;
}

int tqt_model_opset_set(struct tqt_model *m, const char *domain, int64_t version) {
  for (size_t i = 0; i < m->n_opsets; i++) {
    if (opset_domain_same(m->opsets[i].domain, domain)) {
      m->opsets[i].version = version;
      return 0;
    }
  }
  if (tqt_arena_reserve(m->arena, (void **)&m->opsets, &m->cap_opsets, m->n_opsets + 1,
                        sizeof *m->opsets) != 0)
    return -1;
  struct tqt_opset *o = &m->opsets[m->n_opsets];
  o->domain = tqt_arena_strdup(m->arena, domain);
  if (!o->domain) return -1;
  o->version = version;
  m->n_opsets++;
  return 0;
}

struct tqt_graph *tqt_graph_create(struct tqt_arena *a, const char *name, struct tqt_graph *parent) {
  struct tqt_graph *g = tqt_arena_calloc(a, 1, sizeof *g);
  if (!g) return NULL;
  g->name = tqt_arena_strdup(a, name);
  g->doc = tqt_arena_strdup(a, "");
  g->parent = parent;
  return g->name && g->doc ? g : NULL;
}

static char **ir_names_copy(struct tqt_arena *a, size_t n, const char *const *names) {
  char **copy = tqt_arena_calloc(a, n ? n : 1, sizeof *copy);
  if (!copy) return NULL;
  for (size_t i = 0; i < n; i++)
    if (!(copy[i] = tqt_arena_strdup(a, names ? names[i] : ""))) return NULL;
  return copy;
}

struct tqt_node *tqt_node_create(struct tqt_arena *a, const char *op_type, const char *name,
                                 size_t n_inputs, const char *const *inputs, size_t n_outputs,
                                 const char *const *outputs) {
  struct tqt_node *n = tqt_arena_calloc(a, 1, sizeof *n);
  if (!n) return NULL;
  n->name = tqt_arena_strdup(a, name);
  n->op_type = tqt_arena_strdup(a, op_type);
  n->domain = tqt_arena_strdup(a, "");
  n->doc = tqt_arena_strdup(a, "");
  n->inputs = ir_names_copy(a, n_inputs, inputs);
  n->outputs = ir_names_copy(a, n_outputs, outputs);
  if (!n->name || !n->op_type || !n->domain || !n->doc || !n->inputs || !n->outputs) return NULL;
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs;
  return n;
}

struct tqt_node *tqt_graph_node_add(struct tqt_arena *a, struct tqt_graph *g, const char *op_type,
                                    const char *name, size_t n_inputs, const char *const *inputs,
                                    size_t n_outputs, const char *const *outputs) {
  struct tqt_node *n = tqt_node_create(a, op_type, name, n_inputs, inputs, n_outputs, outputs);
  if (!n ||
      tqt_arena_reserve(a, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
    return NULL;
  g->nodes[g->n_nodes++] = n;
  return n;
}

struct tqt_type *tqt_type_tensor_create(struct tqt_arena *a, int32_t elem_type, size_t rank,
                                        const int64_t *dims) {
  struct tqt_type *t = tqt_arena_calloc(a, 1, sizeof *t);
  if (!t) return NULL;
  t->kind = TQT_TYPE_KIND_TENSOR;
  t->has_elem_type = true;
  t->elem_type = elem_type;
  t->has_shape = true;
  t->rank = rank;
  t->dims = tqt_arena_calloc(a, rank ? rank : 1, sizeof *t->dims);
  if (!t->dims) return NULL;
  for (size_t i = 0; i < rank; i++) {
    t->dims[i].has_value = dims[i] >= 0;
    t->dims[i].value = dims[i] >= 0 ? dims[i] : 0;
  }
  return t;
}

static struct tqt_value_info *graph_value_info_push(struct tqt_arena *a,
                                                    struct tqt_value_info **array, size_t *count,
                                                    size_t *cap, const char *name,
                                                    int32_t elem_type, size_t rank,
                                                    const int64_t *dims) {
  if (tqt_arena_reserve(a, (void **)array, cap, *count + 1, sizeof **array)) return NULL;
  struct tqt_value_info *v = &(*array)[*count];
  v->name = tqt_arena_strdup(a, name);
  v->doc = tqt_arena_strdup(a, "");
  v->type = tqt_type_tensor_create(a, elem_type, rank, dims);
  if (!v->name || !v->doc || !v->type) return NULL;
  (*count)++;
  return v;
}

struct tqt_value_info *tqt_graph_input_add(struct tqt_arena *a, struct tqt_graph *g,
                                           const char *name, int32_t elem_type, size_t rank,
                                           const int64_t *dims) {
  return graph_value_info_push(a, &g->inputs, &g->n_inputs, &g->cap_inputs, name, elem_type, rank,
                               dims);
}

struct tqt_value_info *tqt_graph_output_add(struct tqt_arena *a, struct tqt_graph *g,
                                            const char *name, int32_t elem_type, size_t rank,
                                            const int64_t *dims) {
  return graph_value_info_push(a, &g->outputs, &g->n_outputs, &g->cap_outputs, name, elem_type,
                               rank, dims);
}

struct tqt_tensor *tqt_tensor_create(struct tqt_arena *a, const char *name, int32_t dtype,
                                     size_t rank, const int64_t *dims, const void *data) {
  struct tqt_tensor *t = tqt_arena_calloc(a, 1, sizeof *t);
  if (!t) return NULL;
  t->name = tqt_arena_strdup(a, name);
  t->doc = tqt_arena_strdup(a, "");
  t->dtype = dtype;
  t->rank = rank;
  t->dims = tqt_arena_calloc(a, rank ? rank : 1, sizeof *t->dims);
  if (!t->name || !t->doc || !t->dims) return NULL;
  if (rank) memcpy(t->dims, dims, rank * sizeof *dims);
  int64_t numel = tqt_tensor_numel(t);
  size_t esize = tqt_dtype_size(dtype);
  if (numel < 0 || esize == 0 || (uint64_t)numel > SIZE_MAX / esize) return NULL;
  t->nbytes = (size_t)numel * esize;
  t->data = tqt_arena_calloc(a, 1, t->nbytes);
  if (!t->data) return NULL;
  if (data && t->nbytes) memcpy(t->data, data, t->nbytes);
  return t;
}

struct tqt_tensor *tqt_graph_initializer_add(struct tqt_arena *a, struct tqt_graph *g,
                                             const char *name, int32_t dtype, size_t rank,
                                             const int64_t *dims, const void *data) {
  struct tqt_tensor *t = tqt_tensor_create(a, name, dtype, rank, dims, data);
  if (!t || tqt_arena_reserve(a, (void **)&g->initializers, &g->cap_initializers,
                              g->n_initializers + 1, sizeof *g->initializers))
    return NULL;
  g->initializers[g->n_initializers++] = t;
  return t;
}

struct tqt_attr *tqt_node_attr_add(struct tqt_arena *a, struct tqt_node *n, const char *name,
                                   enum tqt_attr_type type) {
  struct tqt_attr *grown = tqt_arena_calloc(a, n->n_attrs + 1, sizeof *grown);
  if (!grown) return NULL;
  if (n->n_attrs) memcpy(grown, n->attrs, n->n_attrs * sizeof *grown);
  struct tqt_attr *at = &grown[n->n_attrs];
  at->name = tqt_arena_strdup(a, name);
  at->doc = tqt_arena_strdup(a, "");
  if (!at->name || !at->doc) return NULL;
  at->type = type;
  n->attrs = grown;
  n->n_attrs++;
  return at;
}

int tqt_node_attr_add_int(struct tqt_arena *a, struct tqt_node *n, const char *name, int64_t v) {
  struct tqt_attr *at = tqt_node_attr_add(a, n, name, TQT_ATTR_TYPE_INT);
  if (!at) return -1;
  at->i = v;
  return 0;
}

int tqt_node_attr_add_float(struct tqt_arena *a, struct tqt_node *n, const char *name, float v) {
  struct tqt_attr *at = tqt_node_attr_add(a, n, name, TQT_ATTR_TYPE_FLOAT);
  if (!at) return -1;
  at->f = v;
  return 0;
}

int tqt_node_attr_add_ints(struct tqt_arena *a, struct tqt_node *n, const char *name, size_t count,
                           const int64_t *v) {
  struct tqt_attr *at = tqt_node_attr_add(a, n, name, TQT_ATTR_TYPE_INTS);
  if (!at || !(at->ints = tqt_arena_calloc(a, count ? count : 1, sizeof *v))) return -1;
  if (count) memcpy(at->ints, v, count * sizeof *v);
  at->n = count;
  return 0;
}

int tqt_node_attr_add_string(struct tqt_arena *a, struct tqt_node *n, const char *name,
                             const char *v) {
  struct tqt_attr *at = tqt_node_attr_add(a, n, name, TQT_ATTR_TYPE_STRING);
  if (!at || !(at->s.data = tqt_arena_strdup(a, v))) return -1;
  at->s.len = strlen(v);
  return 0;
}

const struct tqt_attr *tqt_node_attr_find(const struct tqt_node *n, const char *name) {
  for (size_t i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t tqt_attr_int(const struct tqt_node *n, const char *name, int64_t dflt) {
  const struct tqt_attr *at = tqt_node_attr_find(n, name);
  return at && at->type == TQT_ATTR_TYPE_INT ? at->i : dflt;
}

float tqt_attr_float(const struct tqt_node *n, const char *name, float dflt) {
  const struct tqt_attr *at = tqt_node_attr_find(n, name);
  if (!at) return dflt;
  if (at->type == TQT_ATTR_TYPE_FLOAT) return at->f;
  if (at->type == TQT_ATTR_TYPE_INT) return (float)at->i;
  return dflt;
}

const char *tqt_attr_string(const struct tqt_node *n, const char *name, const char *dflt) {
  const struct tqt_attr *at = tqt_node_attr_find(n, name);
  return at && at->type == TQT_ATTR_TYPE_STRING ? at->s.data : dflt;
}

const int64_t *tqt_attr_ints(const struct tqt_node *n, const char *name, size_t *count) {
  const struct tqt_attr *at = tqt_node_attr_find(n, name);
  *count = 0;
  if (!at || at->type != TQT_ATTR_TYPE_INTS) return NULL;
  *count = at->n;
  return at->ints;
}

const float *tqt_attr_floats(const struct tqt_node *n, const char *name, size_t *count) {
  const struct tqt_attr *at = tqt_node_attr_find(n, name);
  *count = 0;
  if (!at || at->type != TQT_ATTR_TYPE_FLOATS) return NULL;
  *count = at->n;
  return at->floats;
}

bool tqt_attr_has(const struct tqt_node *n, const char *name) {
  return tqt_node_attr_find(n, name) != NULL;
}

static int graph_walk_depth(struct tqt_graph *g, int depth, tqt_graph_visit_fn fn, void *ctx) {
  int rc = fn(g, depth, ctx);
  if (rc) return rc;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    for (size_t k = 0; k < n->n_attrs; k++) {
      const struct tqt_attr *at = &n->attrs[k];
      if (at->type == TQT_ATTR_TYPE_GRAPH && at->g &&
          (rc = graph_walk_depth(at->g, depth + 1, fn, ctx)))
        return rc;
      if (at->type == TQT_ATTR_TYPE_GRAPHS)
        for (size_t j = 0; j < at->n; j++)
          if ((rc = graph_walk_depth(at->graphs[j], depth + 1, fn, ctx))) return rc;
    }
  }
  return 0;
}

int tqt_graph_walk(struct tqt_graph *g, tqt_graph_visit_fn fn, void *ctx) {
  return graph_walk_depth(g, 0, fn, ctx);
}
