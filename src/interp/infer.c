/* The inference engine: walks the main graph and, through the ops that own them, every subgraph,
 * giving each value a struct tqt_sym from its producer's infer function (infer.h). Values of a
 * subgraph inferred more than once (both If branches' readers, Loop rounds) keep what all the
 * inferences agree on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "infer_internal.h"
#include "interp_internal.h"
#include "ir_names.h"

/* Subgraphs nest at most this deep (the loader bounds nesting long before). */
#define INFER_DEPTH_MAX 64

struct infer_scope {
  const struct tqt_graph *g;
  struct infer_scope *parent;
  struct tqt_name_map syms;     /* name → struct tqt_sym */
  struct tqt_name_map declared; /* name → struct tqt_type: the file's value_info and outputs */
  bool bound;                   /* initializers recorded */
};

struct tqt_infer {
  struct tqt_model *m;
  struct tqt_arena *arena;
  struct tqt_dimtab *dims;
  struct infer_scope **scopes;
  size_t n_scopes, cap_scopes;
  char missing[512];
  size_t missing_len;
  int depth;
};

static const struct tqt_sym infer_nothing;

/* ---- syms ---- */

static bool infer_dtype_has_value(int32_t dtype) {
  switch (dtype) {
  case TQT_DTYPE_INT8: case TQT_DTYPE_UINT8: case TQT_DTYPE_INT16: case TQT_DTYPE_UINT16:
  case TQT_DTYPE_INT32: case TQT_DTYPE_UINT32: case TQT_DTYPE_INT64: case TQT_DTYPE_UINT64:
  case TQT_DTYPE_BOOL:
    return true;
  default:
    return false;
  }
}

void tqt_sym_tensor(struct tqt_sym *s, int32_t dtype, size_t rank, const tqt_sdim *dims) {
  memset(s, 0, sizeof *s);
  s->kind = TQT_SYM_KIND_TENSOR;
  s->dtype = dtype;
  if (rank > TQT_RANK_MAX) return;
  s->has_rank = true;
  s->rank = rank;
  for (size_t i = 0; i < rank; i++) s->dims[i] = dims ? dims[i] : NULL;
}

void tqt_sym_tensor_unranked(struct tqt_sym *s, int32_t dtype) {
  memset(s, 0, sizeof *s);
  s->kind = TQT_SYM_KIND_TENSOR;
  s->dtype = dtype;
}

const struct tqt_sym *tqt_sym_ranked(const struct tqt_sym *s) {
  return s && s->kind == TQT_SYM_KIND_TENSOR && s->has_rank ? s : NULL;
}

int32_t tqt_sym_dtype(const struct tqt_sym *s) { return s ? s->dtype : TQT_DTYPE_UNDEFINED; }

int64_t tqt_sym_numel(const struct tqt_sym *s) {
  if (!s || s->kind != TQT_SYM_KIND_TENSOR || !s->has_rank) return -1;
  int64_t n = 1;
  for (size_t i = 0; i < s->rank; i++) {
    int64_t v;
    if (!tqt_sdim_value(s->dims[i], &v) || v < 0 || __builtin_mul_overflow(n, v, &n)) return -1;
  }
  return n;
}

tqt_sdim tqt_sym_elem(struct tqt_dimtab *t, const struct tqt_sym *s, size_t i) {
  if (!s) return NULL;
  if (s->has_value) return i < s->n_value ? s->value[i] : NULL;
  const struct tqt_rt_tensor *c = s->constant;
  if (!c || !infer_dtype_has_value(c->dtype) || (int64_t)i >= tqt_rt_numel(c)) return NULL;
  return tqt_sdim_const(t, tqt_rt_get_int(c, (int64_t)i));
}

bool tqt_sym_ints(const struct tqt_sym *s, int64_t *out, size_t max, size_t *n) {
  int64_t numel = tqt_sym_numel(s);
  if (numel < 0 || (size_t)numel > max) return false;
  if (s->has_value) {
    for (size_t i = 0; i < (size_t)numel; i++)
      if (!tqt_sdim_value(s->value[i], &out[i])) return false;
  } else if (s->constant && infer_dtype_has_value(s->constant->dtype)) {
    for (size_t i = 0; i < (size_t)numel; i++) out[i] = tqt_rt_get_int(s->constant, (int64_t)i);
  } else {
    return false;
  }
  *n = (size_t)numel;
  return true;
}

void tqt_sym_value_set(struct tqt_sym *s, const tqt_sdim *vals, size_t n) {
  int64_t numel = tqt_sym_numel(s);
  if (!infer_dtype_has_value(s->dtype) || n > TQT_SYM_VALUE_MAX || (numel >= 0 && (size_t)numel != n))
    return;
  bool any = false;
  for (size_t i = 0; i < n; i++) any |= vals[i] != NULL;
  if (!any) return;
  s->has_value = true;
  s->n_value = n;
  memcpy(s->value, vals, n * sizeof *vals);
}

void tqt_sym_merge(struct tqt_sym *a, const struct tqt_sym *b) {
  if (a->kind != b->kind) {
    memset(a, 0, sizeof *a);
    return;
  }
  if (a->dtype != b->dtype) a->dtype = TQT_DTYPE_UNDEFINED;
  if (a->constant != b->constant) a->constant = NULL;
  if (!a->has_rank || !b->has_rank || a->rank != b->rank) {
    a->has_rank = false;
    a->rank = 0;
  }
  for (size_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) a->dims[i] = NULL;
  if (!a->has_value || !b->has_value || a->n_value != b->n_value) {
    a->has_value = false;
    a->n_value = 0;
  }
  for (size_t i = 0; i < a->n_value; i++)
    if (a->value[i] != b->value[i]) a->value[i] = NULL;
}

/* ---- shared rules ---- */

const struct tqt_sym *tqt_infer_input(const struct tqt_infer_ctx *c, size_t i) {
  return i < c->n_in ? c->in[i] : NULL;
}

enum tqt_status tqt_infer_unary(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (!x || c->n_out < 1) return TQT_STATUS_OK;
  if (x->kind == TQT_SYM_KIND_UNKNOWN) { /* a tensor op: its output is a tensor */
    tqt_sym_tensor_unranked(&c->out[0], x->dtype);
    return TQT_STATUS_OK;
  }
  c->out[0] = *x;
  c->out[0].has_value = false;
  c->out[0].n_value = 0;
  c->out[0].constant = NULL;
  return TQT_STATUS_OK;
}

enum tqt_status tqt_infer_identity(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (x && c->n_out >= 1) c->out[0] = *x;
  return TQT_STATUS_OK;
}

bool tqt_infer_broadcast_dims(struct tqt_infer_ctx *c, const struct tqt_sym *a,
                              const struct tqt_sym *b, size_t *rank, tqt_sdim *dims) {
  if (a->kind != TQT_SYM_KIND_TENSOR || b->kind != TQT_SYM_KIND_TENSOR || !a->has_rank ||
      !b->has_rank)
    return false;
  size_t r = a->rank > b->rank ? a->rank : b->rank;
  tqt_sdim one = tqt_sdim_const(c->dims, 1);
  for (size_t i = 0; i < r; i++) {
    tqt_sdim da = i + a->rank >= r ? a->dims[i + a->rank - r] : one;
    tqt_sdim db = i + b->rank >= r ? b->dims[i + b->rank - r] : one;
    int64_t va = 0, vb = 0;
    bool ka = tqt_sdim_value(da, &va), kb = tqt_sdim_value(db, &vb);
    if (da && da == db)
      dims[i] = da;
    else if (ka && va == 1)
      dims[i] = db;
    else if (kb && vb == 1)
      dims[i] = da;
    else if (ka && !kb)
      dims[i] = da; /* the other is 1 or the same: either way this */
    else if (kb && !ka)
      dims[i] = db;
    else
      dims[i] = NULL; /* two symbols, or two different constants (the run will fail) */
  }
  *rank = r;
  return true;
}

enum tqt_status tqt_infer_broadcast(struct tqt_infer_ctx *c, int32_t dtype) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (c->n_out < 1) return TQT_STATUS_OK;
  if (dtype == TQT_DTYPE_UNDEFINED) dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  struct tqt_sym acc;
  bool ranked = false;
  for (size_t i = 0; i < c->n_in; i++) {
    const struct tqt_sym *s = c->in[i];
    if (!s) continue;
    if (!ranked) {
      acc = *s;
      ranked = s->kind == TQT_SYM_KIND_TENSOR && s->has_rank;
      if (!ranked) break;
      continue;
    }
    size_t rank;
    tqt_sdim dims[TQT_RANK_MAX];
    if (!tqt_infer_broadcast_dims(c, &acc, s, &rank, dims)) {
      ranked = false;
      break;
    }
    tqt_sym_tensor(&acc, dtype, rank, dims);
  }
  if (ranked)
    tqt_sym_tensor(&c->out[0], dtype, acc.rank, acc.dims);
  else
    tqt_sym_tensor_unranked(&c->out[0], dtype);
  return TQT_STATUS_OK;
}

/* ---- scopes ---- */

static struct infer_scope *infer_scope_get(struct tqt_infer *inf, const struct tqt_graph *g,
                                           struct infer_scope *parent) {
  for (size_t i = 0; i < inf->n_scopes; i++)
    if (inf->scopes[i]->g == g) return inf->scopes[i];
  struct infer_scope *s = tqt_arena_calloc(inf->arena, 1, sizeof *s);
  if (!s || tqt_arena_reserve(inf->arena, (void **)&inf->scopes, &inf->cap_scopes,
                              inf->n_scopes + 1, sizeof *inf->scopes))
    return NULL;
  s->g = g;
  s->parent = parent;
  tqt_name_map_init(&s->syms);
  tqt_name_map_init(&s->declared);
  inf->scopes[inf->n_scopes++] = s;
  const struct tqt_value_info *lists[2] = {g->value_info, g->outputs};
  size_t counts[2] = {g->n_value_info, g->n_outputs};
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < counts[l]; i++)
      if (lists[l][i].type && tqt_name_map_put(&s->declared, lists[l][i].name, lists[l][i].type))
        return NULL;
  return s;
}

static struct tqt_sym *infer_scope_find(const struct infer_scope *s, const char *name) {
  for (; s; s = s->parent) {
    void *p;
    if (tqt_name_map_get(&s->syms, name, &p)) return p;
  }
  return NULL;
}

static int infer_record(struct tqt_infer *inf, struct infer_scope *s, const char *name,
                        const struct tqt_sym *v) {
  void *p;
  if (tqt_name_map_get(&s->syms, name, &p)) {
    tqt_sym_merge(p, v);
    return 0;
  }
  struct tqt_sym *copy = tqt_arena_calloc(inf->arena, 1, sizeof *copy);
  if (!copy) return -1;
  *copy = *v;
  return tqt_name_map_put(&s->syms, name, copy);
}

/* What a declared type says. Symbolic dims become symbols by name only in the main graph: a
 * subgraph's dim_params are the exporter's labels, not the model's inputs. */
static void infer_declared(struct tqt_infer *inf, const struct tqt_type *t, bool named,
                           struct tqt_sym *s) {
  memset(s, 0, sizeof *s);
  if (!t) return;
  if (t->kind == TQT_TYPE_KIND_SEQUENCE) {
    s->kind = TQT_SYM_KIND_SEQUENCE;
    if (t->elem && t->elem->kind == TQT_TYPE_KIND_TENSOR && t->elem->has_elem_type)
      s->dtype = t->elem->elem_type;
    return;
  }
  if (t->kind != TQT_TYPE_KIND_TENSOR) return;
  int32_t dtype = t->has_elem_type ? t->elem_type : TQT_DTYPE_UNDEFINED;
  if (!t->has_shape || t->rank > TQT_RANK_MAX) {
    tqt_sym_tensor_unranked(s, dtype);
    return;
  }
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0; i < t->rank; i++) {
    const struct tqt_dim *d = &t->dims[i];
    dims[i] = d->has_value      ? tqt_sdim_const(inf->dims, d->value)
              : named && d->param && *d->param ? tqt_sdim_symbol(inf->dims, d->param)
                                                : tqt_sdim_fresh(inf->dims);
  }
  tqt_sym_tensor(s, dtype, t->rank, dims);
}

static int infer_initializer(struct tqt_infer *inf, struct tqt_tensor *t, struct tqt_sym *s) {
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0; i < t->rank && i < TQT_RANK_MAX; i++)
    dims[i] = tqt_sdim_const(inf->dims, t->dims[i]);
  tqt_sym_tensor(s, t->dtype, t->rank, dims);
  /* Weights in external files stay there: their contents decide no shape. */
  bool loaded = t->dtype == TQT_DTYPE_STRING ? t->strings != NULL : t->data != NULL;
  if (t->rank > TQT_RANK_MAX || !loaded) return 0;
  struct tqt_rt_tensor *rt = tqt_arena_calloc(inf->arena, 1, sizeof *rt);
  if (!rt) return -1;
  rt->dtype = t->dtype;
  rt->rank = t->rank;
  memcpy(rt->dims, t->dims, t->rank * sizeof *t->dims);
  rt->data = t->dtype == TQT_DTYPE_STRING ? (void *)t->strings : t->data;
  rt->nbytes = t->dtype == TQT_DTYPE_STRING ? t->n_strings * sizeof *t->strings : t->nbytes;
  s->constant = rt;
  int64_t numel = tqt_rt_numel(rt);
  if (numel >= 0 && numel <= TQT_SYM_VALUE_MAX && infer_dtype_has_value(t->dtype)) {
    tqt_sdim vals[TQT_SYM_VALUE_MAX];
    for (int64_t i = 0; i < numel; i++) vals[i] = tqt_sym_elem(inf->dims, s, (size_t)i);
    tqt_sym_value_set(s, vals, (size_t)numel);
  }
  return 0;
}

static void infer_missing_add(struct tqt_infer *inf, const struct tqt_node *n) {
  char key[160];
  snprintf(key, sizeof key, "%s%s%s", *n->domain ? n->domain : "", *n->domain ? ":" : "",
           n->op_type);
  size_t klen = strlen(key);
  for (const char *p = inf->missing; (p = strstr(p, key)); p += klen)
    if ((p == inf->missing || p[-1] == ' ') && (p[klen] == ',' || !p[klen])) return;
  size_t room = sizeof inf->missing - inf->missing_len;
  int w = snprintf(inf->missing + inf->missing_len, room, "%s%s", inf->missing_len ? ", " : "", key);
  if (w > 0 && (size_t)w < room) inf->missing_len += (size_t)w;
}

static size_t infer_graph_count(const struct tqt_node *n) {
  size_t count = 0;
  for (size_t a = 0; a < n->n_attrs; a++)
    count += n->attrs[a].type == TQT_ATTR_TYPE_GRAPH ? (n->attrs[a].g ? 1 : 0)
             : n->attrs[a].type == TQT_ATTR_TYPE_GRAPHS ? n->attrs[a].n : 0;
  return count;
}

static enum tqt_status infer_node(struct tqt_infer *inf, struct infer_scope *s,
                                  const struct tqt_node *n, struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_OK;
  const struct tqt_sym **in = calloc(n->n_inputs + 1, sizeof *in);
  struct tqt_sym *out = calloc(n->n_outputs + 1, sizeof *out);
  struct interp_graph **subgraphs = calloc(infer_graph_count(n) + 1, sizeof *subgraphs);
  if (!in || !out || !subgraphs) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n->n_inputs; i++) {
    if (!*n->inputs[i]) continue;
    in[i] = infer_scope_find(s, n->inputs[i]);
    if (!in[i]) in[i] = &infer_nothing;
  }
  int64_t opset = tqt_model_opset(inf->m, n->domain);
  const struct tqt_kernel *kn = interp_kernel_find(n->domain, n->op_type, opset);
  if (!kn || !kn->infer) {
    infer_missing_add(inf, n);
  } else {
    struct tqt_diag local = {.verbosity = TQT_VERBOSITY_QUIET};
    struct tqt_kernel_ctx k = {.node = n, .kernel = kn, .opset = opset, .arena = inf->arena,
                               .d = &local, .n_inputs = n->n_inputs, .n_outputs = n->n_outputs,
                               .subgraphs = subgraphs, .n_subgraphs = infer_graph_count(n)};
    struct tqt_infer_ctx c = {.k = &k, .dims = inf->dims, .in = in, .n_in = n->n_inputs,
                              .out = out, .n_out = n->n_outputs, .engine = inf, .scope = s};
    enum tqt_status rc = kn->init ? kn->init(&k) : TQT_STATUS_OK;
    if (rc == TQT_STATUS_OK) rc = kn->infer(&c);
    if (rc == TQT_STATUS_NOMEM) {
      st = tqt_diag_fail(d, rc, "%s", local.msg);
      goto done;
    }
    if (rc != TQT_STATUS_OK) {
      tqt_diag_note(d, "infer_shapes: %s", local.msg);
      memset(out, 0, n->n_outputs * sizeof *out);
    }
  }
  for (size_t i = 0; i < n->n_outputs; i++) {
    if (!*n->outputs[i]) continue;
    /* A type the rules could not give: the file's, if it declares one (type only: its shapes
     * are the exporter's claims, not facts). */
    void *t;
    if (out[i].kind == TQT_SYM_KIND_UNKNOWN && tqt_name_map_get(&s->declared, n->outputs[i], &t)) {
      infer_declared(inf, t, false, &out[i]);
      if (out[i].kind == TQT_SYM_KIND_TENSOR) tqt_sym_tensor_unranked(&out[i], out[i].dtype);
    }
    if (infer_record(inf, s, n->outputs[i], &out[i])) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      goto done;
    }
  }
done:
  free(in);
  free(out);
  free(subgraphs);
  return st;
}

static enum tqt_status infer_graph(struct tqt_infer *inf, struct infer_scope *s,
                                   const struct tqt_sym *const *ins, size_t n_ins,
                                   struct tqt_diag *d) {
  const struct tqt_graph *g = s->g;
  bool main_graph = s->parent == NULL;
  if (inf->depth >= INFER_DEPTH_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "subgraphs nested deeper than %d",
                         INFER_DEPTH_MAX);
  struct tqt_sym v;
  if (!s->bound) {
    for (size_t i = 0; i < g->n_initializers; i++)
      if (infer_initializer(inf, g->initializers[i], &v) ||
          infer_record(inf, s, g->initializers[i]->name, &v))
        return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    s->bound = true;
  }
  /* Inputs after initializers: an input that an initializer backs merges with it into what
   * both allow (no constant: the caller may override it). */
  for (size_t i = 0; i < g->n_inputs; i++) {
    if (i < n_ins && ins[i])
      v = *ins[i];
    else
      infer_declared(inf, g->inputs[i].type, main_graph, &v);
    if (infer_record(inf, s, g->inputs[i].name, &v))
      return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  inf->depth++;
  enum tqt_status st = TQT_STATUS_OK;
  for (size_t i = 0; i < g->n_nodes && st == TQT_STATUS_OK; i++)
    st = infer_node(inf, s, g->nodes[i], d);
  inf->depth--;
  return st;
}

enum tqt_status tqt_infer_subgraph(struct tqt_infer_ctx *c, size_t which,
                                   const struct tqt_sym *const *ins, size_t n_ins,
                                   struct tqt_sym *outs, size_t n_outs) {
  const struct tqt_node *n = c->k->node;
  const struct tqt_graph *sg = NULL;
  size_t idx = 0;
  for (size_t a = 0; a < n->n_attrs && !sg; a++) {
    const struct tqt_attr *at = &n->attrs[a];
    size_t count = at->type == TQT_ATTR_TYPE_GRAPH ? (at->g ? 1 : 0)
                   : at->type == TQT_ATTR_TYPE_GRAPHS ? at->n : 0;
    if (which < idx + count)
      sg = at->type == TQT_ATTR_TYPE_GRAPH ? at->g : at->graphs[which - idx];
    idx += count;
  }
  if (!sg) return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "no subgraph %zu", which);
  struct infer_scope *s = infer_scope_get(c->engine, sg, c->scope);
  if (!s) return tqt_kernel_fail(c->k, TQT_STATUS_NOMEM, "out of memory");
  /* The engine's own diagnostic is the caller's: failures here are out of memory only. */
  enum tqt_status st = infer_graph(c->engine, s, ins, n_ins, c->k->d);
  if (st != TQT_STATUS_OK) return st;
  for (size_t i = 0; i < n_outs; i++) {
    const struct tqt_sym *o = i < sg->n_outputs ? infer_scope_find(s, sg->outputs[i].name) : NULL;
    outs[i] = o ? *o : infer_nothing;
  }
  return TQT_STATUS_OK;
}

/* ---- the engine ---- */

enum tqt_status tqt_infer_create(struct tqt_model *m, struct tqt_infer **out, struct tqt_diag *d) {
  *out = NULL;
  struct tqt_infer *inf = calloc(1, sizeof *inf);
  if (!inf) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  inf->m = m;
  struct infer_scope *main_scope = NULL;
  if (!(inf->arena = tqt_arena_create()) || !(inf->dims = infer_dimtab_create(inf->arena)) ||
      !(main_scope = infer_scope_get(inf, m->graph, NULL))) {
    tqt_infer_destroy(inf);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  enum tqt_status st = infer_graph(inf, main_scope, NULL, 0, d);
  if (st != TQT_STATUS_OK) {
    tqt_infer_destroy(inf);
    return st;
  }
  *out = inf;
  return TQT_STATUS_OK;
}

void tqt_infer_destroy(struct tqt_infer *inf) {
  if (!inf) return;
  for (size_t i = 0; i < inf->n_scopes; i++) {
    tqt_name_map_free(&inf->scopes[i]->syms);
    tqt_name_map_free(&inf->scopes[i]->declared);
  }
  infer_dimtab_free(inf->dims);
  tqt_arena_destroy(inf->arena);
  free(inf);
}

const struct tqt_sym *tqt_infer_lookup(const struct tqt_infer *inf, const struct tqt_graph *g,
                                       const char *name) {
  for (size_t i = 0; i < inf->n_scopes; i++)
    if (inf->scopes[i]->g == g) return infer_scope_find(inf->scopes[i], name);
  return NULL;
}

struct tqt_dimtab *tqt_infer_dims(struct tqt_infer *inf) { return inf->dims; }

const char *tqt_infer_missing(const struct tqt_infer *inf) { return inf->missing; }
