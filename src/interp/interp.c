/* The interpreter core: planning (slots, kernels, lifetimes) and running (frames, buffer pool).
 *
 * Every name of a graph gets a slot. A node reads slots of its own graph or, from inside a
 * subgraph, of an enclosing graph (a ref with up > 0). After each node the values whose last
 * reader it was give their buffers back to a pool that later outputs take from, so buffers are
 * reused within a run and across runs without new allocations once shapes settle. */
#include "interp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp_internal.h"
#include "ir_names.h"
#include "kernel.h"
#include "onnx_io.h"

#define SLOT_NONE UINT32_MAX

struct interp_ref {
  uint32_t up; /* how many graphs outward */
  uint32_t slot;
};

struct interp_node {
  struct tqt_kernel_ctx k;
  bool fused; /* a Relu/Clip the node before it applies: skipped at run time */
  bool constant; /* every input an initializer or a constant node's output: run once */
  bool computed; /* a constant node's outputs are in their slots */
  struct interp_ref *in;
  uint32_t *out;
  uint32_t *release; /* slots of this graph whose last reader this node is */
  size_t n_release;
};

struct interp_graph {
  const struct tqt_graph *g;
  struct interp_graph *parent;
  struct tqt_name_map names; /* name → slot + 1 */
  size_t n_slots;
  struct tqt_value *slots;
  bool *pinned; /* initializers and graph outputs: never released */
  struct interp_node *nodes;
  size_t n_nodes;
  uint32_t *input_slots;
  size_t n_inputs;
  struct interp_ref *outputs;
  size_t n_outputs;
  /* Refs this graph (and its subgraphs) make to enclosing graphs, relative to this graph. */
  struct interp_ref *outer;
  size_t n_outer, cap_outer;
};

struct pool_buffer {
  void *p;
  size_t cap;
};

struct tqt_interp {
  struct tqt_model *m;
  struct tqt_arena *arena; /* plan memory */
  struct tqt_interp_options o;
  struct interp_graph *main;
  uint32_t *feed_slots; /* main graph inputs without initializer */
  const struct tqt_value_info **feed_infos;
  size_t n_feeds;
  struct pool_buffer *pool;
  size_t n_pool, cap_pool;
};

/* ---- values and the buffer pool ---- */

int64_t tqt_rt_numel(const struct tqt_rt_tensor *t) {
  int64_t n = 1;
  for (size_t i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

const char *tqt_rt_shape_str(const struct tqt_rt_tensor *t, char *buf, size_t size) {
  size_t len = 0;
  buf[0] = '\0';
  len += (size_t)snprintf(buf + len, size - len, "[");
  for (size_t i = 0; i < t->rank && len < size; i++)
    len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "," : "", (long long)t->dims[i]);
  if (len < size) snprintf(buf + len, size - len, "]");
  return buf;
}

static void rt_tensor_free_strings(struct tqt_rt_tensor *t) {
  if (t->dtype != TQT_DTYPE_STRING || !t->data) return;
  struct tqt_bytes *s = t->data;
  size_t n = t->nbytes / sizeof *s;
  for (size_t i = 0; i < n; i++) {
    free(s[i].data);
    s[i].data = NULL;
    s[i].len = 0;
  }
}

static void rt_tensor_free(struct tqt_rt_tensor *t) {
  rt_tensor_free_strings(t);
  if (t->capacity) free(t->data);
  memset(t, 0, sizeof *t);
}

void tqt_value_release(struct tqt_value *v) {
  if (!v) return;
  if (!v->borrowed) {
    rt_tensor_free(&v->t);
    for (size_t i = 0; i < v->n_items; i++) {
      rt_tensor_free(v->items[i]);
      free(v->items[i]);
    }
    free(v->items);
  }
  memset(v, 0, sizeof *v);
}

static size_t rt_bytes_for(int32_t dtype, int64_t numel) {
  size_t esize = dtype == TQT_DTYPE_STRING ? sizeof(struct tqt_bytes) : tqt_dtype_size(dtype);
  if (numel < 0 || esize == 0 || (uint64_t)numel > SIZE_MAX / esize) return SIZE_MAX;
  return (size_t)numel * esize;
}

/* Gives an owned buffer back to the pool (or frees it when the pool cannot grow). */
static void pool_put(struct tqt_interp *in, void *p, size_t cap) {
  if (!p) return;
  if (in->n_pool == in->cap_pool) {
    size_t cap_pool = in->cap_pool ? in->cap_pool * 2 : 32;
    struct pool_buffer *grown = realloc(in->pool, cap_pool * sizeof *grown);
    if (!grown) {
      free(p);
      return;
    }
    in->pool = grown;
    in->cap_pool = cap_pool;
  }
  in->pool[in->n_pool++] = (struct pool_buffer){p, cap};
}

/* The smallest pooled buffer that holds need bytes, if it is not wastefully large. */
static void *pool_take(struct tqt_interp *in, size_t need, size_t *cap) {
  size_t best = SIZE_MAX;
  for (size_t i = 0; i < in->n_pool; i++)
    if (in->pool[i].cap >= need && (best == SIZE_MAX || in->pool[i].cap < in->pool[best].cap))
      best = i;
  if (best == SIZE_MAX || in->pool[best].cap > 2 * need + 65536) return NULL;
  void *p = in->pool[best].p;
  *cap = in->pool[best].cap;
  in->pool[best] = in->pool[--in->n_pool];
  return p;
}

/* Releases a slot's value into the pool. */
static void interp_value_recycle(struct tqt_interp *in, struct tqt_value *v) {
  if (!v->borrowed && v->kind == TQT_VALUE_KIND_TENSOR && v->t.capacity) {
    rt_tensor_free_strings(&v->t);
    pool_put(in, v->t.data, v->t.capacity);
    v->t.data = NULL;
    v->t.capacity = 0;
  }
  tqt_value_release(v);
}

static enum tqt_status interp_tensor_prepare(struct tqt_interp *in, struct tqt_value *v,
                                             int32_t dtype, size_t rank, const int64_t *dims,
                                             struct tqt_diag *d, const char *what) {
  if (rank > TQT_RANK_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: rank %zu exceeds %d", what, rank,
                         TQT_RANK_MAX);
  int64_t numel = 1;
  for (size_t i = 0; i < rank; i++) {
    if (dims[i] < 0 || (dims[i] && numel > INT64_MAX / dims[i]))
      return tqt_diag_fail(d, TQT_STATUS_INVALID, "%s: invalid dim %lld", what,
                           (long long)dims[i]);
    numel *= dims[i];
  }
  size_t need = rt_bytes_for(dtype, numel);
  if (need == SIZE_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: type %s has no fixed element size",
                         what, tqt_dtype_name(dtype));
  if (in && in->o.max_tensor_bytes && need > in->o.max_tensor_bytes)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: %zu bytes pass the cap of %zu", what,
                         need, in->o.max_tensor_bytes);
  bool reuse = v->kind == TQT_VALUE_KIND_TENSOR && !v->borrowed && v->t.capacity >= need;
  if (reuse) {
    rt_tensor_free_strings(&v->t);
  } else {
    if (in)
      interp_value_recycle(in, v);
    else
      tqt_value_release(v);
    size_t cap = 0;
    void *p = in ? pool_take(in, need ? need : 1, &cap) : NULL;
    if (!p) {
      cap = need ? need : 1;
      p = malloc(cap);
      if (!p)
        return tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory (%zu bytes)", what, need);
    }
    v->t.data = p;
    v->t.capacity = cap;
  }
  v->kind = TQT_VALUE_KIND_TENSOR;
  v->borrowed = false;
  v->t.dtype = dtype;
  v->t.rank = rank;
  for (size_t i = 0; i < rank; i++) v->t.dims[i] = dims[i];
  v->t.nbytes = need;
  if (dtype == TQT_DTYPE_STRING) memset(v->t.data, 0, need);
  return TQT_STATUS_OK;
}

enum tqt_status tqt_value_tensor_alloc(struct tqt_value *v, int32_t dtype, size_t rank,
                                       const int64_t *dims, struct tqt_diag *d) {
  enum tqt_status st = interp_tensor_prepare(NULL, v, dtype, rank, dims, d, "tensor");
  if (st == TQT_STATUS_OK) memset(v->t.data, 0, v->t.nbytes);
  return st;
}

void tqt_value_tensor_borrow(struct tqt_value *v, int32_t dtype, size_t rank, const int64_t *dims,
                             void *data, size_t nbytes) {
  memset(v, 0, sizeof *v);
  v->kind = TQT_VALUE_KIND_TENSOR;
  v->borrowed = true;
  v->t.dtype = dtype;
  v->t.rank = rank;
  for (size_t i = 0; i < rank && i < TQT_RANK_MAX; i++) v->t.dims[i] = dims[i];
  v->t.data = data;
  v->t.nbytes = nbytes;
}

static enum tqt_status rt_tensor_copy(struct tqt_rt_tensor *dst, const struct tqt_rt_tensor *src,
                                      struct tqt_diag *d) {
  *dst = *src;
  dst->capacity = src->nbytes ? src->nbytes : 1;
  dst->data = malloc(dst->capacity);
  if (!dst->data) {
    memset(dst, 0, sizeof *dst);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory (%zu bytes)", src->nbytes);
  }
  if (src->nbytes) memcpy(dst->data, src->data, src->nbytes);
  if (src->dtype == TQT_DTYPE_STRING) {
    struct tqt_bytes *s = dst->data;
    size_t n = src->nbytes / sizeof *s;
    for (size_t i = 0; i < n; i++) {
      const struct tqt_bytes *from = &((const struct tqt_bytes *)src->data)[i];
      s[i].data = malloc(from->len + 1);
      if (!s[i].data) {
        for (size_t j = i; j < n; j++) s[j].data = NULL;
        rt_tensor_free(dst);
        return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      }
      if (from->len) memcpy(s[i].data, from->data, from->len);
      s[i].data[from->len] = '\0';
    }
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_value_copy(struct tqt_value *dst, const struct tqt_value *src,
                               struct tqt_diag *d) {
  tqt_value_release(dst);
  dst->kind = src->kind;
  dst->seq_dtype = src->seq_dtype;
  if (src->kind == TQT_VALUE_KIND_TENSOR) return rt_tensor_copy(&dst->t, &src->t, d);
  if (src->kind != TQT_VALUE_KIND_SEQUENCE) return TQT_STATUS_OK;
  dst->items = calloc(src->n_items ? src->n_items : 1, sizeof *dst->items);
  if (!dst->items) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t i = 0; i < src->n_items; i++) {
    dst->items[i] = calloc(1, sizeof **dst->items);
    if (!dst->items[i] || rt_tensor_copy(dst->items[i], src->items[i], d) != TQT_STATUS_OK) {
      free(dst->items[i]);
      tqt_value_release(dst);
      return d->status ? d->status : tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    }
    dst->n_items = i + 1;
  }
  return TQT_STATUS_OK;
}

/* ---- kernel services ---- */

enum tqt_status tqt_kernel_fail(struct tqt_kernel_ctx *k, enum tqt_status st, const char *fmt,
                                ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tqt_diag_fail(k->d, st, "node '%s' (%s): %s", k->node->name, k->node->op_type, msg);
}

const struct tqt_rt_tensor *tqt_kernel_input(struct tqt_kernel_ctx *k, size_t i) {
  if (i >= k->n_inputs || !k->inputs[i] || k->inputs[i]->kind == TQT_VALUE_KIND_NONE) return NULL;
  if (k->inputs[i]->kind != TQT_VALUE_KIND_TENSOR) {
    tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "input %zu '%s' is not a tensor", i,
                    k->node->inputs[i]);
    return NULL;
  }
  return &k->inputs[i]->t;
}

const struct tqt_rt_tensor *tqt_kernel_input_required(struct tqt_kernel_ctx *k, size_t i) {
  const struct tqt_rt_tensor *t = tqt_kernel_input(k, i);
  if (!t && k->d->status == TQT_STATUS_OK)
    tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %zu is missing", i);
  return t;
}

bool tqt_kernel_has_output(const struct tqt_kernel_ctx *k, size_t i) {
  return i < k->n_outputs && k->outputs[i];
}

struct tqt_rt_tensor *tqt_kernel_output(struct tqt_kernel_ctx *k, size_t i, int32_t dtype,
                                        size_t rank, const int64_t *dims) {
  if (!tqt_kernel_has_output(k, i)) return NULL;
  char what[256];
  snprintf(what, sizeof what, "node '%s' (%s): output '%s'", k->node->name, k->node->op_type,
           k->node->outputs[i]);
  if (interp_tensor_prepare(k->interp, k->outputs[i], dtype, rank, dims, k->d, what))
    return NULL;
  return &k->outputs[i]->t;
}

struct tqt_value *tqt_kernel_output_value(struct tqt_kernel_ctx *k, size_t i) {
  if (!tqt_kernel_has_output(k, i)) return NULL;
  interp_value_recycle(k->interp, k->outputs[i]);
  return k->outputs[i];
}

/* ---- planning ---- */

#define PLAN_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory while planning")

static int plan_slot_of(struct interp_graph *pg, const char *name, uint32_t *slot) {
  void *v;
  if (!tqt_name_map_get(&pg->names, name, &v)) return -1;
  *slot = (uint32_t)((uintptr_t)v - 1);
  return 0;
}

static int plan_slot_add(struct interp_graph *pg, const char *name) {
  uint32_t slot;
  if (plan_slot_of(pg, name, &slot) == 0) return 0;
  return tqt_name_map_put(&pg->names, name, (void *)(uintptr_t)(++pg->n_slots));
}

/* Finds name in this graph or an enclosing one. */
static int plan_resolve(struct interp_graph *pg, const char *name, struct interp_ref *ref) {
  uint32_t up = 0;
  for (struct interp_graph *g = pg; g; g = g->parent, up++) {
    if (plan_slot_of(g, name, &ref->slot) == 0) {
      ref->up = up;
      return 0;
    }
  }
  return -1;
}

static int plan_outer_add(struct tqt_interp *in, struct interp_graph *pg, struct interp_ref ref) {
  for (size_t i = 0; i < pg->n_outer; i++)
    if (pg->outer[i].up == ref.up && pg->outer[i].slot == ref.slot) return 0;
  if (tqt_arena_reserve(in->arena, (void **)&pg->outer, &pg->cap_outer, pg->n_outer + 1,
                        sizeof *pg->outer))
    return -1;
  pg->outer[pg->n_outer++] = ref;
  return 0;
}

/* The missing-kernel report, built across the whole model before failing. */
struct plan_missing {
  char text[900];
  size_t len, count;
};

static enum tqt_status plan_graph(struct tqt_interp *in, const struct tqt_graph *g,
                                  struct interp_graph *parent, struct plan_missing *missing,
                                  struct interp_graph **out, struct tqt_diag *d);
static void plan_constants(struct interp_graph *pg);
static void plan_fuse_clamps(struct interp_graph *pg, const size_t *readers);

static enum tqt_status plan_node(struct tqt_interp *in, struct interp_graph *pg, size_t idx,
                                 struct plan_missing *missing, size_t *last_reader,
                                 size_t *readers, struct tqt_diag *d) {
  const struct tqt_node *n = pg->g->nodes[idx];
  struct interp_node *pn = &pg->nodes[idx];
  struct tqt_kernel_ctx *k = &pn->k;
  k->node = n;
  k->interp = in;
  k->arena = in->arena;
  k->d = d;
  k->opset = tqt_model_opset(in->m, n->domain);
  k->n_inputs = n->n_inputs;
  k->n_outputs = n->n_outputs;
  pn->in = tqt_arena_calloc(in->arena, n->n_inputs + 1, sizeof *pn->in);
  pn->out = tqt_arena_calloc(in->arena, n->n_outputs + 1, sizeof *pn->out);
  k->inputs = tqt_arena_calloc(in->arena, n->n_inputs + 1, sizeof *k->inputs);
  k->outputs = tqt_arena_calloc(in->arena, n->n_outputs + 1, sizeof *k->outputs);
  if (!pn->in || !pn->out || !k->inputs || !k->outputs) return PLAN_NOMEM(d);
  for (size_t i = 0; i < n->n_inputs; i++) {
    if (!*n->inputs[i]) {
      pn->in[i] = (struct interp_ref){0, SLOT_NONE};
      continue;
    }
    if (plan_resolve(pg, n->inputs[i], &pn->in[i]) != 0)
      return tqt_diag_fail(d, TQT_STATUS_INVALID, "node '%s' (%s): input '%s' is not defined",
                           n->name, n->op_type, n->inputs[i]);
    if (pn->in[i].up == 0) {
      last_reader[pn->in[i].slot] = idx;
      readers[pn->in[i].slot]++;
    } else if (plan_outer_add(in, pg, pn->in[i])) {
      return PLAN_NOMEM(d);
    }
  }
  for (size_t i = 0; i < n->n_outputs; i++) {
    pn->out[i] = SLOT_NONE;
    if (*n->outputs[i]) plan_slot_of(pg, n->outputs[i], &pn->out[i]);
    if (pn->out[i] != SLOT_NONE && last_reader[pn->out[i]] == SIZE_MAX)
      last_reader[pn->out[i]] = idx; /* never read: released right away */
  }
  /* Subgraphs: plan them, and count their reads of this graph as reads by this node. */
  size_t n_graphs = 0;
  for (size_t a = 0; a < n->n_attrs; a++)
    n_graphs += n->attrs[a].type == TQT_ATTR_TYPE_GRAPH ? (n->attrs[a].g ? 1 : 0)
                : n->attrs[a].type == TQT_ATTR_TYPE_GRAPHS ? n->attrs[a].n : 0;
  k->subgraphs = tqt_arena_calloc(in->arena, n_graphs + 1, sizeof *k->subgraphs);
  if (!k->subgraphs) return PLAN_NOMEM(d);
  for (size_t a = 0; a < n->n_attrs; a++) {
    const struct tqt_attr *at = &n->attrs[a];
    size_t count = at->type == TQT_ATTR_TYPE_GRAPH ? (at->g ? 1 : 0)
                   : at->type == TQT_ATTR_TYPE_GRAPHS ? at->n : 0;
    for (size_t j = 0; j < count; j++) {
      const struct tqt_graph *sg = at->type == TQT_ATTR_TYPE_GRAPH ? at->g : at->graphs[j];
      struct interp_graph *sub = NULL;
      enum tqt_status st = plan_graph(in, sg, pg, missing, &sub, d);
      k->subgraphs[k->n_subgraphs++] = sub;
      if (st != TQT_STATUS_OK) return st;
      for (size_t r = 0; r < sub->n_outer; r++) {
        struct interp_ref ref = {sub->outer[r].up - 1, sub->outer[r].slot};
        if (ref.up == 0) {
          last_reader[ref.slot] = idx;
          readers[ref.slot] += 2; /* a subgraph read: never fuse across it */
        } else if (plan_outer_add(in, pg, ref)) {
          return PLAN_NOMEM(d);
        }
      }
    }
  }
  k->kernel = interp_kernel_find(n->domain, n->op_type, k->opset);
  if (!k->kernel) {
    if (missing->count++ < 8 && missing->len < sizeof missing->text - 1)
      missing->len += (size_t)snprintf(
          missing->text + missing->len, sizeof missing->text - missing->len, "%s'%s' (%s%s%s v%lld)",
          missing->count > 1 ? ", " : "", n->name, *n->domain ? n->domain : "",
          *n->domain ? ":" : "", n->op_type, (long long)k->opset);
    return TQT_STATUS_OK;
  }
  if (k->kernel->init) return k->kernel->init(k);
  return TQT_STATUS_OK;
}

/* Borrows an initializer's bytes into its slot. */
static enum tqt_status plan_initializer(struct tqt_interp *in, struct tqt_value *v,
                                        struct tqt_tensor *t, struct tqt_diag *d) {
  if (t->rank > TQT_RANK_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "initializer '%s': rank %zu exceeds %d",
                         t->name, t->rank, TQT_RANK_MAX);
  if (t->dtype == TQT_DTYPE_STRING) {
    tqt_value_tensor_borrow(v, t->dtype, t->rank, t->dims, t->strings,
                            t->n_strings * sizeof *t->strings);
    return TQT_STATUS_OK;
  }
  const void *data = tqt_tensor_data(t, in->m->arena, d);
  if (!data && t->external) return d->status;
  tqt_value_tensor_borrow(v, t->dtype, t->rank, t->dims, (void *)data, t->nbytes);
  return TQT_STATUS_OK;
}

static enum tqt_status plan_graph(struct tqt_interp *in, const struct tqt_graph *g,
                                  struct interp_graph *parent, struct plan_missing *missing,
                                  struct interp_graph **out, struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_OK;
  size_t *last_reader = NULL, *readers = NULL;
  struct interp_graph *pg = tqt_arena_calloc(in->arena, 1, sizeof *pg);
  if (!pg) return PLAN_NOMEM(d);
  pg->g = g;
  pg->parent = parent;
  tqt_name_map_init(&pg->names);
  *out = pg;
  int rc = 0;
  for (size_t i = 0; !rc && i < g->n_inputs; i++) rc = plan_slot_add(pg, g->inputs[i].name);
  for (size_t i = 0; !rc && i < g->n_initializers; i++)
    rc = plan_slot_add(pg, g->initializers[i]->name);
  for (size_t i = 0; !rc && i < g->n_nodes; i++)
    for (size_t k = 0; !rc && k < g->nodes[i]->n_outputs; k++)
      if (*g->nodes[i]->outputs[k]) rc = plan_slot_add(pg, g->nodes[i]->outputs[k]);
  if (rc) return PLAN_NOMEM(d);
  pg->slots = calloc(pg->n_slots + 1, sizeof *pg->slots);
  pg->pinned = tqt_arena_calloc(in->arena, pg->n_slots + 1, sizeof *pg->pinned);
  pg->nodes = tqt_arena_calloc(in->arena, g->n_nodes + 1, sizeof *pg->nodes);
  pg->input_slots = tqt_arena_calloc(in->arena, g->n_inputs + 1, sizeof *pg->input_slots);
  pg->outputs = tqt_arena_calloc(in->arena, g->n_outputs + 1, sizeof *pg->outputs);
  last_reader = malloc((pg->n_slots + 1) * sizeof *last_reader);
  readers = calloc(pg->n_slots + 1, sizeof *readers);
  if (!readers || !pg->slots || !pg->pinned || !pg->nodes || !pg->input_slots || !pg->outputs ||
      !last_reader) {
    st = PLAN_NOMEM(d);
    goto fail;
  }
  for (size_t i = 0; i <= pg->n_slots; i++) last_reader[i] = SIZE_MAX;
  pg->n_nodes = g->n_nodes;
  pg->n_inputs = g->n_inputs;
  pg->n_outputs = g->n_outputs;
  for (size_t i = 0; i < g->n_inputs; i++) plan_slot_of(pg, g->inputs[i].name, &pg->input_slots[i]);
  for (size_t i = 0; i < g->n_initializers; i++) {
    uint32_t slot = 0;
    plan_slot_of(pg, g->initializers[i]->name, &slot);
    pg->pinned[slot] = true;
    if ((st = plan_initializer(in, &pg->slots[slot], g->initializers[i], d))) goto fail;
  }
  for (size_t i = 0; i < g->n_nodes; i++)
    if ((st = plan_node(in, pg, i, missing, last_reader, readers, d))) goto fail;
  for (size_t i = 0; i < g->n_outputs; i++) {
    if (plan_resolve(pg, g->outputs[i].name, &pg->outputs[i]) != 0) {
      st = tqt_diag_fail(d, TQT_STATUS_INVALID, "graph '%s': output '%s' is not produced",
                         g->name, g->outputs[i].name);
      goto fail;
    }
    if (pg->outputs[i].up == 0)
      pg->pinned[pg->outputs[i].slot] = true;
    else if (plan_outer_add(in, pg, pg->outputs[i])) {
      st = PLAN_NOMEM(d);
      goto fail;
    }
  }
  if (!in->o.observer) {
    plan_constants(pg);
    plan_fuse_clamps(pg, readers);
  }
  /* Release lists: each unpinned slot after its last reader. */
  for (size_t s = 0; s < pg->n_slots; s++) {
    if (pg->pinned[s] || last_reader[s] == SIZE_MAX) continue;
    pg->nodes[last_reader[s]].n_release++;
  }
  for (size_t i = 0; i < pg->n_nodes; i++) {
    pg->nodes[i].release = tqt_arena_calloc(in->arena, pg->nodes[i].n_release + 1, sizeof(uint32_t));
    if (!pg->nodes[i].release) {
      st = PLAN_NOMEM(d);
      goto fail;
    }
    pg->nodes[i].n_release = 0;
  }
  for (size_t s = 0; s < pg->n_slots; s++) {
    if (pg->pinned[s] || last_reader[s] == SIZE_MAX) continue;
    struct interp_node *pn = &pg->nodes[last_reader[s]];
    pn->release[pn->n_release++] = (uint32_t)s;
  }
fail:
  free(last_reader);
  free(readers);
  return st;
}

/* Nodes that compute the same values in every run (a DequantizeLinear of an int8 weight, a Shape
 * of an initializer) run once: their outputs stay in their slots. Not done when an observer
 * watches the values (it sees every run's). The interpreter has no random ops. */
static void plan_constants(struct interp_graph *pg) {
  bool *fixed = calloc(pg->n_slots + 1, sizeof *fixed); /* slots whose value never changes */
  if (!fixed) return; /* an optimisation only */
  for (size_t i = 0; i < pg->g->n_initializers; i++) {
    uint32_t slot;
    if (!plan_slot_of(pg, pg->g->initializers[i]->name, &slot)) fixed[slot] = true;
  }
  for (size_t i = 0; i < pg->n_inputs; i++) fixed[pg->input_slots[i]] = false; /* may be fed */
  for (size_t i = 0; i < pg->n_nodes; i++) {
    struct interp_node *pn = &pg->nodes[i];
    bool constant = pn->k.kernel && !pn->k.n_subgraphs;
    for (size_t j = 0; constant && j < pn->k.n_inputs; j++)
      constant = pn->in[j].slot == SLOT_NONE || (pn->in[j].up == 0 && fixed[pn->in[j].slot]);
    for (size_t j = 0; constant && j < pn->k.n_outputs; j++)
      if (pn->out[j] != SLOT_NONE) fixed[pn->out[j]] = pg->pinned[pn->out[j]] = true;
    pn->constant = constant;
  }
  free(fixed);
}

/* The constant a Clip bound comes from: an attribute before opset 11, an input after. */
static bool plan_clip_bound(struct interp_graph *pg, const struct interp_node *clip, size_t input,
                            const char *attr, float dflt, float *out) {
  const struct tqt_node *n = clip->k.node;
  if (clip->k.kernel->since_version < 11) {
    *out = tqt_attr_float(n, attr, dflt);
    return true;
  }
  *out = dflt;
  if (input >= n->n_inputs || !*n->inputs[input]) return true;
  struct interp_ref ref = clip->in[input];
  if (ref.up != 0 || !pg->pinned[ref.slot]) return false; /* not an initializer */
  const struct tqt_value *v = &pg->slots[ref.slot];
  if (v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype != TQT_DTYPE_FLOAT || tqt_rt_numel(&v->t) != 1)
    return false;
  *out = *(const float *)v->t.data;
  return true;
}

/* A Relu or constant Clip that alone reads the float output of a kernel that can clamp is
 * folded into it: the producer writes the clamped values straight into the Relu's output. Not
 * done when an observer watches the values (calibration sees every tensor as the graph has it). */
static void plan_fuse_clamps(struct interp_graph *pg, const size_t *readers) {
  for (size_t i = 0; i + 1 < pg->n_nodes; i++) {
    struct interp_node *p = &pg->nodes[i], *c = &pg->nodes[i + 1];
    if (!p->k.kernel || !c->k.kernel || !p->k.accepts_clamp || p->k.n_outputs != 1 ||
        p->out[0] == SLOT_NONE || pg->pinned[p->out[0]] || readers[p->out[0]] != 1 ||
        *c->k.node->domain || c->k.n_inputs < 1 || c->in[0].up != 0 ||
        c->in[0].slot != p->out[0] || c->k.n_outputs != 1 || c->out[0] == SLOT_NONE)
      continue;
    float lo, hi;
    const char *op = c->k.node->op_type;
    if (!strcmp(op, "Relu")) {
      lo = 0.0f;
      hi = INFINITY;
    } else if (!strcmp(op, "Clip")) {
      if (!plan_clip_bound(pg, c, 1, "min", -INFINITY, &lo) ||
          !plan_clip_bound(pg, c, 2, "max", INFINITY, &hi))
        continue;
    } else {
      continue;
    }
    p->k.clamp = true;
    p->k.clamp_min = lo;
    p->k.clamp_max = hi;
    p->out[0] = c->out[0];
    c->fused = true;
  }
}

static void interp_graph_free(struct tqt_interp *in, struct interp_graph *pg) {
  if (!pg) return;
  for (size_t i = 0; i < pg->n_nodes; i++)
    for (size_t j = 0; j < pg->nodes[i].k.n_subgraphs; j++)
      interp_graph_free(in, pg->nodes[i].k.subgraphs[j]);
  for (size_t s = 0; pg->slots && s < pg->n_slots; s++) tqt_value_release(&pg->slots[s]);
  free(pg->slots);
  tqt_name_map_free(&pg->names);
}

enum tqt_status tqt_interp_create(struct tqt_model *m, const struct tqt_interp_options *o,
                                  struct tqt_interp **out, struct tqt_diag *d) {
  *out = NULL;
  enum tqt_status st = TQT_STATUS_OK;
  struct tqt_interp *in = calloc(1, sizeof *in);
  if (!in || !(in->arena = tqt_arena_create())) {
    free(in);
    return PLAN_NOMEM(d);
  }
  in->m = m;
  if (o) in->o = *o;
  interp_threads_set(in->o.threads);
  struct plan_missing missing = {0};
  if ((st = plan_graph(in, m->graph, NULL, &missing, &in->main, d))) goto fail;
  if (missing.count) {
    st = tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "no kernel for %zu node%s: %s%s", missing.count,
                       missing.count > 1 ? "s" : "", missing.text,
                       missing.count > 8 ? ", ..." : "");
    goto fail;
  }
  const struct tqt_graph *g = m->graph;
  in->feed_slots = tqt_arena_calloc(in->arena, g->n_inputs + 1, sizeof *in->feed_slots);
  in->feed_infos = tqt_arena_calloc(in->arena, g->n_inputs + 1, sizeof *in->feed_infos);
  if (!in->feed_slots || !in->feed_infos) {
    st = PLAN_NOMEM(d);
    goto fail;
  }
  for (size_t i = 0; i < g->n_inputs; i++) {
    uint32_t slot = in->main->input_slots[i];
    if (in->main->pinned[slot] && in->main->slots[slot].kind != TQT_VALUE_KIND_NONE) continue;
    in->feed_slots[in->n_feeds] = slot;
    in->feed_infos[in->n_feeds++] = &g->inputs[i];
  }
  *out = in;
  return TQT_STATUS_OK;
fail:
  tqt_interp_destroy(in);
  return st;
}

void tqt_interp_destroy(struct tqt_interp *in) {
  if (!in) return;
  interp_graph_free(in, in->main);
  for (size_t i = 0; i < in->n_pool; i++) free(in->pool[i].p);
  free(in->pool);
  tqt_arena_destroy(in->arena);
  free(in);
}

/* ---- running ---- */

static struct tqt_value *run_resolve(struct interp_graph *pg, struct interp_ref ref) {
  if (ref.slot == SLOT_NONE) return NULL;
  for (uint32_t i = 0; i < ref.up; i++) pg = pg->parent;
  return &pg->slots[ref.slot];
}

/* Runs the nodes of pg. The observer sees every value they produce, in bodies too: each Loop
 * iteration and each If branch taken (calibration quantizes bodies like the main graph). */
static enum tqt_status run_graph(struct tqt_interp *in, struct interp_graph *pg,
                                 struct tqt_diag *d) {
  for (size_t i = 0; i < pg->n_nodes; i++) {
    struct interp_node *pn = &pg->nodes[i];
    struct tqt_kernel_ctx *k = &pn->k;
    if (pn->fused || pn->computed) goto release;
    for (size_t j = 0; j < k->n_inputs; j++) k->inputs[j] = run_resolve(pg, pn->in[j]);
    for (size_t j = 0; j < k->n_outputs; j++)
      k->outputs[j] = pn->out[j] == SLOT_NONE ? NULL : &pg->slots[pn->out[j]];
    k->d = d;
    enum tqt_status st = k->kernel->run(k);
    if (st != TQT_STATUS_OK) {
      if (d->status == TQT_STATUS_OK) tqt_kernel_fail(k, st, "failed");
      return d->status;
    }
    pn->computed = pn->constant;
    if (in->o.observer) {
      for (size_t j = 0; j < k->n_outputs; j++) {
        if (!k->outputs[j] || k->outputs[j]->kind == TQT_VALUE_KIND_NONE) continue;
        if (in->o.observer(in->o.observer_ctx, k->node, k->node->outputs[j], k->outputs[j], d))
          return d->status ? d->status : tqt_diag_fail(d, TQT_STATUS_INVALID, "observer failed");
      }
    }
  release:
    for (size_t j = 0; j < pn->n_release; j++) interp_value_recycle(in, &pg->slots[pn->release[j]]);
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_interp_run(struct tqt_interp *in, const struct tqt_value *const *inputs,
                               size_t n_inputs, struct tqt_diag *d) {
  if (n_inputs > in->n_feeds)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "%zu inputs given, the model takes %zu", n_inputs,
                         in->n_feeds);
  for (size_t i = 0; i < in->n_feeds; i++) {
    struct tqt_value *slot = &in->main->slots[in->feed_slots[i]];
    const struct tqt_value *v = i < n_inputs ? inputs[i] : NULL;
    if (!v)
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "input '%s' is not given",
                           in->feed_infos[i]->name);
    interp_value_recycle(in, slot);
    *slot = *v;
    slot->borrowed = true;
    if (in->o.observer &&
        in->o.observer(in->o.observer_ctx, NULL, in->feed_infos[i]->name, slot, d))
      return d->status ? d->status : tqt_diag_fail(d, TQT_STATUS_INVALID, "observer failed");
  }
  return run_graph(in, in->main, d);
}

size_t tqt_interp_output_count(const struct tqt_interp *in) { return in->main->n_outputs; }

const struct tqt_value *tqt_interp_output(const struct tqt_interp *in, size_t i) {
  return i < in->main->n_outputs ? run_resolve(in->main, in->main->outputs[i]) : NULL;
}

size_t tqt_interp_input_count(const struct tqt_interp *in) { return in->n_feeds; }

const struct tqt_value_info *tqt_interp_input_info(const struct tqt_interp *in, size_t i) {
  return i < in->n_feeds ? in->feed_infos[i] : NULL;
}

/* ---- subgraphs ---- */

enum tqt_status tqt_kernel_subgraph_run(struct tqt_kernel_ctx *k, size_t which,
                                        const struct tqt_value *const *inputs, size_t n) {
  if (which >= k->n_subgraphs) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "no subgraph %zu", which);
  struct interp_graph *sg = k->subgraphs[which];
  if (n > sg->n_inputs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "subgraph takes %zu inputs, given %zu",
                           sg->n_inputs, n);
  for (size_t i = 0; i < sg->n_inputs; i++) {
    struct tqt_value *slot = &sg->slots[sg->input_slots[i]];
    interp_value_recycle(k->interp, slot);
    if (i < n && inputs[i]) {
      *slot = *inputs[i];
      slot->borrowed = true;
    }
  }
  return run_graph(k->interp, sg, k->d);
}

size_t tqt_kernel_subgraph_output_count(const struct tqt_kernel_ctx *k, size_t which) {
  return which < k->n_subgraphs ? k->subgraphs[which]->n_outputs : 0;
}

size_t tqt_kernel_subgraph_input_count(const struct tqt_kernel_ctx *k, size_t which) {
  return which < k->n_subgraphs ? k->subgraphs[which]->n_inputs : 0;
}

const struct tqt_value *tqt_kernel_subgraph_output(struct tqt_kernel_ctx *k, size_t which,
                                                   size_t i) {
  if (which >= k->n_subgraphs || i >= k->subgraphs[which]->n_outputs) return NULL;
  struct interp_graph *sg = k->subgraphs[which];
  return run_resolve(sg, sg->outputs[i]);
}
