/* Kernels: control flow (If, Loop, Scan), sequences and optionals.
 *
 * Subgraphs run through tqt_kernel_subgraph_run(). A body's output buffers are reused by its next
 * run, so values carried from one iteration to the next are copied into storage of our own first
 * (two sets, used in turn, so that a body output that simply passes an input through is never
 * copied onto itself). Sequences are values of kind SEQUENCE whose items are owned tensors; an
 * empty optional is a value of kind NONE. */
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

/* ---- shared helpers ---- */

/* The index into k->subgraphs of the GRAPH attribute `name` (subgraphs are in attribute order). */
static bool control_subgraph_index(const struct tqt_node *n, const char *name, size_t *out) {
  size_t idx = 0;
  for (size_t a = 0; a < n->n_attrs; a++) {
    const struct tqt_attr *at = &n->attrs[a];
    if (at->type == TQT_ATTR_TYPE_GRAPH && at->g) {
      if (strcmp(at->name, name) == 0) {
        *out = idx;
        return true;
      }
      idx++;
    } else if (at->type == TQT_ATTR_TYPE_GRAPHS) {
      idx += at->n;
    }
  }
  return false;
}

static const struct tqt_graph *control_graph_attr(const struct tqt_node *n, const char *name) {
  const struct tqt_attr *at = tqt_node_attr_find(n, name);
  return at && at->type == TQT_ATTR_TYPE_GRAPH ? at->g : NULL;
}

static size_t control_elem_size(int32_t dtype) {
  return dtype == TQT_DTYPE_STRING ? sizeof(struct tqt_bytes) : tqt_dtype_size(dtype);
}

/* dst becomes an owned copy of src, reusing dst's buffer when it is large enough. */
static enum tqt_status control_value_assign(struct tqt_kernel_ctx *k, struct tqt_value *dst,
                                            const struct tqt_value *src) {
  if (src->kind == TQT_VALUE_KIND_TENSOR && src->t.dtype != TQT_DTYPE_STRING &&
      dst->kind == TQT_VALUE_KIND_TENSOR && !dst->borrowed && dst->t.dtype != TQT_DTYPE_STRING &&
      dst->t.capacity >= src->t.nbytes && src->t.data != dst->t.data) {
    void *data = dst->t.data;
    size_t capacity = dst->t.capacity;
    dst->t = src->t;
    dst->t.data = data;
    dst->t.capacity = capacity;
    if (src->t.nbytes) memcpy(data, src->t.data, src->t.nbytes);
    return TQT_STATUS_OK;
  }
  return tqt_value_copy(dst, src, k->d);
}

/* Output i becomes a copy of src (a tensor, a sequence, or an empty optional when src is NULL or
 * NONE). */
static enum tqt_status control_value_emit(struct tqt_kernel_ctx *k, size_t i,
                                          const struct tqt_value *src) {
  if (!tqt_kernel_has_output(k, i)) return TQT_STATUS_OK;
  if (src && src->kind == TQT_VALUE_KIND_TENSOR && src->t.dtype != TQT_DTYPE_STRING) {
    struct tqt_rt_tensor *y = tqt_kernel_output(k, i, src->t.dtype, src->t.rank, src->t.dims);
    if (!y) return k->d->status;
    if (y->nbytes) memcpy(y->data, src->t.data, y->nbytes);
    return TQT_STATUS_OK;
  }
  struct tqt_value *out = tqt_kernel_output_value(k, i);
  if (!src || src->kind == TQT_VALUE_KIND_NONE) return TQT_STATUS_OK;
  return tqt_value_copy(out, src, k->d);
}

static enum tqt_status control_tensor_emit(struct tqt_kernel_ctx *k, size_t i,
                                           const struct tqt_rt_tensor *t) {
  struct tqt_value view;
  tqt_value_tensor_borrow(&view, t->dtype, t->rank, t->dims, t->data, t->nbytes);
  return control_value_emit(k, i, &view);
}

/* A scalar (single element) tensor input read as an integer. */
static enum tqt_status control_scalar_int(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t,
                                          const char *what, int64_t *out) {
  if (tqt_rt_numel(t) != 1 || t->dtype == TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s must hold one number", what);
  *out = tqt_rt_get_int(t, 0);
  return TQT_STATUS_OK;
}

/* ---- shared inference helpers ---- */

static const struct tqt_sym control_nothing;

/* s: a sequence of dtype tensors (nothing more is known of sequences). */
static void control_infer_sequence(struct tqt_sym *s, int32_t dtype) {
  *s = (struct tqt_sym){.kind = TQT_SYM_KIND_SEQUENCE, .dtype = dtype};
}

/* Whether a and b say the same (the fixpoint test of carried values). */
static bool control_sym_same(const struct tqt_sym *a, const struct tqt_sym *b) {
  if (a->kind != b->kind || a->dtype != b->dtype || a->has_rank != b->has_rank ||
      a->has_value != b->has_value || a->constant != b->constant)
    return false;
  if (a->has_rank && (a->rank != b->rank || memcmp(a->dims, b->dims, a->rank * sizeof *a->dims)))
    return false;
  return !a->has_value || (a->n_value == b->n_value &&
                           !memcmp(a->value, b->value, a->n_value * sizeof *a->value));
}

/* out: s without its n dims from axis on (n = 0: s itself, value and all). */
static void control_infer_drop(struct tqt_sym *out, const struct tqt_sym *s, size_t axis,
                               size_t n) {
  if (!s || !n) {
    *out = s ? *s : control_nothing;
    return;
  }
  if (!tqt_sym_ranked(s) || s->rank < axis + n) {
    tqt_sym_tensor_unranked(out, s->dtype);
    return;
  }
  tqt_sdim dims[TQT_RANK_MAX];
  size_t r = 0;
  for (size_t i = 0; i < s->rank; i++)
    if (i < axis || i >= axis + n) dims[r++] = s->dims[i];
  tqt_sym_tensor(out, s->dtype, r, dims);
}

/* out: tensor s with the n dims ins inserted before its dim axis (axis ≤ s's rank). */
static void control_infer_insert(struct tqt_sym *out, const struct tqt_sym *s, size_t axis,
                                 const tqt_sdim *ins, size_t n) {
  if (!tqt_sym_ranked(s) || s->rank + n > TQT_RANK_MAX || axis > s->rank) {
    tqt_sym_tensor_unranked(out, tqt_sym_dtype(s));
    return;
  }
  tqt_sdim dims[TQT_RANK_MAX];
  memcpy(dims, s->dims, axis * sizeof *dims);
  memcpy(dims + axis, ins, n * sizeof *dims);
  memcpy(dims + axis + n, s->dims + axis, (s->rank - axis) * sizeof *dims);
  tqt_sym_tensor(out, s->dtype, s->rank + n, dims);
}

/* ---- If ---- */

struct if_params {
  size_t then_idx, else_idx;
};

static enum tqt_status if_init(struct tqt_kernel_ctx *k) {
  struct if_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (!control_subgraph_index(k->node, "then_branch", &p->then_idx) ||
      !control_subgraph_index(k->node, "else_branch", &p->else_idx))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "then_branch and else_branch are required");
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status if_run(struct tqt_kernel_ctx *k) {
  const struct if_params *p = k->params;
  const struct tqt_rt_tensor *c = tqt_kernel_input_required(k, 0);
  if (!c) return k->d->status;
  int64_t cond = 0;
  if (control_scalar_int(k, c, "cond", &cond)) return k->d->status;
  size_t which = cond ? p->then_idx : p->else_idx;
  enum tqt_status st = tqt_kernel_subgraph_run(k, which, NULL, 0);
  if (st) return st;
  size_t n = tqt_kernel_subgraph_output_count(k, which);
  if (n < k->n_outputs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the %s branch has %zu outputs, the node %zu",
                           cond ? "then" : "else", n, k->n_outputs);
  for (size_t i = 0; i < k->n_outputs; i++)
    if ((st = control_value_emit(k, i, tqt_kernel_subgraph_output(k, which, i)))) return st;
  return TQT_STATUS_OK;
}

/* A proven condition: the outputs of the branch that runs. Otherwise what both branches agree
 * on. */
static enum tqt_status if_infer(struct tqt_infer_ctx *c) {
  const struct if_params *p = c->k->params;
  int64_t cond;
  if (tqt_sdim_value(tqt_sym_elem(c->dims, tqt_infer_input(c, 0), 0), &cond))
    return tqt_infer_subgraph(c, cond ? p->then_idx : p->else_idx, NULL, 0, c->out, c->n_out);
  struct tqt_sym *other = calloc(c->n_out + 1, sizeof *other);
  if (!other) return tqt_kernel_fail(c->k, TQT_STATUS_NOMEM, "out of memory");
  enum tqt_status st = tqt_infer_subgraph(c, p->then_idx, NULL, 0, c->out, c->n_out);
  if (!st) st = tqt_infer_subgraph(c, p->else_idx, NULL, 0, other, c->n_out);
  for (size_t i = 0; !st && i < c->n_out; i++) tqt_sym_merge(&c->out[i], &other[i]);
  free(other);
  return st;
}

/* ---- iteration state shared by Loop and Scan ---- */

/* Carried values: two owned sets used in turn, and the set the next iteration reads. */
struct control_carry {
  size_t n;
  struct tqt_value *store;         /* 2 * n */
  const struct tqt_value **cur;    /* n: what the next iteration reads */
};

static enum tqt_status control_carry_init(struct tqt_kernel_ctx *k, struct control_carry *c,
                                          size_t n) {
  c->n = n;
  c->store = calloc(2 * n + 1, sizeof *c->store);
  c->cur = calloc(n + 1, sizeof *c->cur);
  if (!c->store || !c->cur) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  return TQT_STATUS_OK;
}

static void control_carry_free(struct control_carry *c) {
  for (size_t i = 0; c->store && i < 2 * c->n; i++) tqt_value_release(&c->store[i]);
  free(c->store);
  free(c->cur);
  memset(c, 0, sizeof *c);
}

/* Copies the body's outputs first..first+n into the set not read by the iteration that made
 * them; it becomes the current set. */
static enum tqt_status control_carry_update(struct tqt_kernel_ctx *k, struct control_carry *c,
                                            size_t first, uint64_t iteration) {
  struct tqt_value *set = &c->store[(iteration & 1) * c->n];
  for (size_t j = 0; j < c->n; j++) {
    const struct tqt_value *src = tqt_kernel_subgraph_output(k, 0, first + j);
    if (!src) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "body output %zu is missing", first + j);
    enum tqt_status st = control_value_assign(k, &set[j], src);
    if (st) return st;
    c->cur[j] = &set[j];
  }
  return TQT_STATUS_OK;
}

/* Type and shape of a body output as the graph declares it, for the scan outputs of zero
 * iterations: float and no dims where the declaration says nothing, since the output holds no
 * element anyway. */
static void control_declared_shape(const struct tqt_graph *g, size_t i, int32_t *dtype,
                                   size_t *rank, int64_t *dims) {
  const struct tqt_type *t = i < g->n_outputs ? g->outputs[i].type : NULL;
  bool tensor = t && t->kind == TQT_TYPE_KIND_TENSOR;
  *dtype = tensor && t->has_elem_type ? t->elem_type : TQT_DTYPE_FLOAT;
  *rank = 0;
  if (!tensor || !t->has_shape || t->rank >= TQT_RANK_MAX) return;
  for (size_t d = 0; d < t->rank; d++)
    if (!t->dims[d].has_value || t->dims[d].value < 0) return;
  for (size_t d = 0; d < t->rank; d++) dims[d] = t->dims[d].value;
  *rank = t->rank;
}

/* Rounds of body inference before carried values keep only their kinds and types. */
#define CONTROL_INFER_ROUNDS 8

/* Infers the body (subgraph 0) with bind[0..n_bind) as its inputs, bind[first..first+n) being
 * values carried from one iteration to the next: each round they become the join of what they
 * were and what the body made of them (its outputs out_first..), until a round changes nothing,
 * so that they hold in every iteration. Past CONTROL_INFER_ROUNDS rounds they keep their kinds
 * and types only (a dim growing each iteration), then nothing: joins only lose facts, so this
 * ends. outs receives the body's n_outs outputs from the last round. */
static enum tqt_status control_infer_iterate(struct tqt_infer_ctx *c, struct tqt_sym *bind,
                                             size_t n_bind, size_t first, size_t n,
                                             size_t out_first, struct tqt_sym *outs,
                                             size_t n_outs) {
  const struct tqt_sym **ins = calloc(n_bind + 1, sizeof *ins);
  if (!ins) return tqt_kernel_fail(c->k, TQT_STATUS_NOMEM, "out of memory");
  enum tqt_status st = TQT_STATUS_OK;
  for (int round = 1;; round++) {
    /* Nothing known: the body's declared input type, if any. */
    for (size_t i = 0; i < n_bind; i++)
      ins[i] = bind[i].kind == TQT_SYM_KIND_UNKNOWN ? NULL : &bind[i];
    if ((st = tqt_infer_subgraph(c, 0, ins, n_bind, outs, n_outs))) break;
    bool changed = false;
    for (size_t j = 0; j < n; j++) {
      struct tqt_sym *v = &bind[first + j], next = *v;
      tqt_sym_merge(&next, out_first + j < n_outs ? &outs[out_first + j] : &control_nothing);
      if (round > CONTROL_INFER_ROUNDS + 2)
        next = control_nothing;
      else if (round > CONTROL_INFER_ROUNDS)
        next = (struct tqt_sym){.kind = next.kind, .dtype = next.dtype};
      if (!control_sym_same(&next, v)) changed = true;
      *v = next;
    }
    if (!changed) break;
  }
  free(ins);
  return st;
}

/* ---- Loop ---- */

struct loop_params {
  const struct tqt_graph *body;
  size_t n_carried, n_scan;
};

static enum tqt_status loop_init(struct tqt_kernel_ctx *k) {
  struct loop_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->body = control_graph_attr(k->node, "body");
  if (!p->body || k->n_subgraphs != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the body attribute is required");
  if (k->n_inputs < 2 || p->body->n_inputs != k->n_inputs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the body takes %zu inputs, the node gives %zu",
                           p->body->n_inputs, k->n_inputs);
  p->n_carried = k->n_inputs - 2;
  if (p->body->n_outputs < 1 + p->n_carried)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the body has %zu outputs for %zu carried values",
                           p->body->n_outputs, p->n_carried);
  p->n_scan = p->body->n_outputs - 1 - p->n_carried;
  if (k->n_outputs > p->n_carried + p->n_scan)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu outputs, the body makes %zu", k->n_outputs,
                           p->n_carried + p->n_scan);
  k->params = p;
  return TQT_STATUS_OK;
}

/* Scan outputs of a Loop: the bytes of each iteration's value, appended. */
struct loop_stack {
  unsigned char *data;
  size_t len, cap;
  struct tqt_rt_tensor first; /* type and shape of the first iteration's value (no data) */
};

static enum tqt_status loop_stack_push(struct tqt_kernel_ctx *k, struct loop_stack *s,
                                       const struct tqt_value *v, size_t index, int64_t iteration) {
  if (!v || v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype == TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "scan output %zu is not a numeric tensor",
                           index);
  if (iteration == 0) {
    s->first = v->t;
    s->first.data = NULL;
    if (v->t.rank >= TQT_RANK_MAX)
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "scan output %zu has rank %zu", index,
                             v->t.rank);
  } else {
    bool same = v->t.dtype == s->first.dtype && v->t.rank == s->first.rank;
    for (size_t d = 0; same && d < v->t.rank; d++) same = v->t.dims[d] == s->first.dims[d];
    if (!same) {
      char a[128], b[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "scan output %zu changes from %s %s to %s %s at iteration %lld",
                             index, tqt_dtype_name(s->first.dtype),
                             tqt_rt_shape_str(&s->first, a, sizeof a),
                             tqt_dtype_name(v->t.dtype), tqt_rt_shape_str(&v->t, b, sizeof b),
                             (long long)iteration);
    }
  }
  if (s->len + v->t.nbytes > s->cap) {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + v->t.nbytes) cap *= 2;
    unsigned char *grown = realloc(s->data, cap);
    if (!grown) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    s->data = grown;
    s->cap = cap;
  }
  if (v->t.nbytes) memcpy(s->data + s->len, v->t.data, v->t.nbytes);
  s->len += v->t.nbytes;
  return TQT_STATUS_OK;
}

static enum tqt_status loop_run(struct tqt_kernel_ctx *k) {
  const struct loop_params *p = k->params;
  const struct tqt_rt_tensor *m_t = tqt_kernel_input(k, 0), *c_t = tqt_kernel_input(k, 1);
  if (k->d->status) return k->d->status;
  int64_t trip = INT64_MAX, cond_in = 1;
  if (m_t && control_scalar_int(k, m_t, "M", &trip)) return k->d->status;
  if (c_t && control_scalar_int(k, c_t, "cond", &cond_in)) return k->d->status;
  if (!m_t && !c_t)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "neither M nor cond: the loop never ends");
  for (size_t j = 0; j < p->n_carried; j++)
    if (!k->inputs[2 + j])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "carried value %zu is missing", j);

  enum tqt_status st = TQT_STATUS_OK;
  struct control_carry carry = {0};
  struct loop_stack *stacks = calloc(p->n_scan + 1, sizeof *stacks);
  const struct tqt_value **bind = calloc(2 + p->n_carried, sizeof *bind);
  if (!stacks || !bind) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if ((st = control_carry_init(k, &carry, p->n_carried))) goto fail;
  for (size_t j = 0; j < p->n_carried; j++) carry.cur[j] = k->inputs[2 + j];

  int64_t iter_data = 0;
  uint8_t cond_data = cond_in != 0;
  struct tqt_value iter_v, cond_v;
  tqt_value_tensor_borrow(&iter_v, TQT_DTYPE_INT64, 0, NULL, &iter_data, sizeof iter_data);
  tqt_value_tensor_borrow(&cond_v, TQT_DTYPE_BOOL, 0, NULL, &cond_data, sizeof cond_data);
  bind[0] = &iter_v;
  bind[1] = &cond_v;
  int64_t it = 0;
  for (; it < trip && (!c_t || cond_data); it++) {
    iter_data = it;
    for (size_t j = 0; j < p->n_carried; j++) bind[2 + j] = carry.cur[j];
    if ((st = tqt_kernel_subgraph_run(k, 0, bind, 2 + p->n_carried))) goto fail;
    if (c_t) { /* without a cond input the body's condition is ignored */
      const struct tqt_value *c = tqt_kernel_subgraph_output(k, 0, 0);
      int64_t next = 0;
      if (!c || c->kind != TQT_VALUE_KIND_TENSOR) {
        st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "the body's condition is not a tensor");
        goto fail;
      }
      if ((st = control_scalar_int(k, &c->t, "the body's condition", &next))) goto fail;
      cond_data = next != 0;
    }
    for (size_t s = 0; s < p->n_scan; s++) {
      const struct tqt_value *v = tqt_kernel_subgraph_output(k, 0, 1 + p->n_carried + s);
      if ((st = loop_stack_push(k, &stacks[s], v, s, it))) goto fail;
    }
    if ((st = control_carry_update(k, &carry, 1, (uint64_t)it))) goto fail;
  }

  for (size_t j = 0; j < p->n_carried && j < k->n_outputs; j++)
    if ((st = control_value_emit(k, j, carry.cur[j]))) goto fail;
  for (size_t s = 0; s < p->n_scan && p->n_carried + s < k->n_outputs; s++) {
    size_t oi = p->n_carried + s;
    if (!tqt_kernel_has_output(k, oi)) continue;
    int64_t dims[TQT_RANK_MAX];
    int32_t dtype = stacks[s].first.dtype;
    size_t rank = stacks[s].first.rank;
    if (it == 0) {
      control_declared_shape(p->body, 1 + p->n_carried + s, &dtype, &rank, dims + 1);
    } else {
      memcpy(dims + 1, stacks[s].first.dims, rank * sizeof *dims);
    }
    dims[0] = it;
    struct tqt_rt_tensor *y = tqt_kernel_output(k, oi, dtype, rank + 1, dims);
    if (!y) {
      st = k->d->status;
      goto fail;
    }
    if (y->nbytes != stacks[s].len) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "scan output %zu: %zu bytes for %zu", s,
                           stacks[s].len, y->nbytes);
      goto fail;
    }
    if (y->nbytes) memcpy(y->data, stacks[s].data, y->nbytes);
  }
fail:
  for (size_t s = 0; stacks && s < p->n_scan; s++) free(stacks[s].data);
  free(stacks);
  free(bind);
  control_carry_free(&carry);
  return st;
}

/* The iterations a Loop is proven to run: M when there is no condition; NULL otherwise. */
static tqt_sdim loop_infer_trips(struct tqt_infer_ctx *c) {
  int64_t m;
  if (tqt_infer_input(c, 1) || !tqt_sdim_value(tqt_sym_elem(c->dims, tqt_infer_input(c, 0), 0), &m))
    return NULL;
  return tqt_sdim_const(c->dims, m > 0 ? m : 0);
}

/* The body sees (iteration number, condition, carried...) and makes (condition, carried...,
 * scan outputs...). Outputs: the carried values as they hold in every iteration, then each scan
 * output stacked along a new first axis, one slice per iteration. */
static enum tqt_status loop_infer(struct tqt_infer_ctx *c) {
  const struct loop_params *p = c->k->params;
  size_t n_bind = 2 + p->n_carried, n_body = 1 + p->n_carried + p->n_scan;
  struct tqt_sym *bind = calloc(n_bind, sizeof *bind), *outs = calloc(n_body, sizeof *outs);
  enum tqt_status st = TQT_STATUS_OK;
  if (!bind || !outs) {
    st = tqt_kernel_fail(c->k, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  tqt_sym_tensor(&bind[0], TQT_DTYPE_INT64, 0, NULL);
  tqt_sym_tensor(&bind[1], TQT_DTYPE_BOOL, 0, NULL);
  for (size_t j = 0; j < p->n_carried; j++) control_infer_drop(&bind[2 + j], c->in[2 + j], 0, 0);
  if ((st = control_infer_iterate(c, bind, n_bind, 2, p->n_carried, 1, outs, n_body))) goto done;
  tqt_sdim trips = loop_infer_trips(c);
  for (size_t j = 0; j < c->n_out; j++) {
    if (j < p->n_carried)
      c->out[j] = bind[2 + j];
    else
      control_infer_insert(&c->out[j], &outs[1 + j], 0, &trips, 1);
  }
done:
  free(bind);
  free(outs);
  return st;
}

/* ---- Scan ---- */

struct scan_params {
  const struct tqt_graph *body;
  bool batched; /* Scan-8: a batch axis in front and an optional sequence_lens input */
  size_t n_state, n_in, n_out;
  const int64_t *in_axes, *in_rev, *out_axes, *out_rev; /* NULL: all 0 */
};

static enum tqt_status scan_init(struct tqt_kernel_ctx *k) {
  struct scan_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->body = control_graph_attr(k->node, "body");
  if (!p->body || k->n_subgraphs != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the body attribute is required");
  p->batched = k->kernel->since_version < 9;
  int64_t m = tqt_attr_int(k->node, "num_scan_inputs", -1);
  size_t first = p->batched ? 1 : 0;
  if (m < 1 || k->n_inputs < first || (uint64_t)m > k->n_inputs - first)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "num_scan_inputs %lld for %zu inputs",
                           (long long)m, k->n_inputs);
  p->n_in = (size_t)m;
  p->n_state = k->n_inputs - first - p->n_in;
  if (p->body->n_inputs != p->n_state + p->n_in || p->body->n_outputs < p->n_state)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "the body takes %zu inputs and makes %zu outputs for %zu states and "
                           "%zu scan inputs",
                           p->body->n_inputs, p->body->n_outputs, p->n_state, p->n_in);
  p->n_out = p->body->n_outputs - p->n_state;
  if (k->n_outputs > p->n_state + p->n_out)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu outputs, the body makes %zu", k->n_outputs,
                           p->n_state + p->n_out);
  struct {
    const char *name;
    const int64_t **dst;
    size_t want;
  } lists[] = {
      {p->batched ? "directions" : "scan_input_directions", &p->in_rev, p->n_in},
      {"scan_input_axes", &p->in_axes, p->n_in},
      {"scan_output_directions", &p->out_rev, p->n_out},
      {"scan_output_axes", &p->out_axes, p->n_out},
  };
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    if (p->batched && i > 0) break;
    size_t n = 0;
    *lists[i].dst = tqt_attr_ints(k->node, lists[i].name, &n);
    if (*lists[i].dst && n != lists[i].want)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s has %zu values, expected %zu",
                             lists[i].name, n, lists[i].want);
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* Where one run of the scan loop (one batch entry for Scan-8) reads and writes. */
struct scan_job {
  const struct scan_params *p;
  const struct tqt_value **state_init;  /* n_state */
  struct tqt_rt_tensor *in;             /* n_in: views */
  size_t *in_axis;                      /* n_in, normalized */
  int64_t seq_len;
  int64_t batch, batches, max_len;      /* Scan-8 */
  struct tqt_rt_tensor **out;           /* n_out: node outputs, allocated on first use */
  struct tqt_rt_tensor **final;         /* n_state: Scan-8 state outputs, allocated on first use */
};

/* Copies the slice at position pos along axis of t (contiguous when axis is 0) to dst. */
static void scan_slice_read(const struct tqt_rt_tensor *t, size_t axis, int64_t pos, void *dst) {
  size_t es = control_elem_size(t->dtype);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; d++) outer *= t->dims[d];
  for (size_t d = axis + 1; d < t->rank; d++) inner *= t->dims[d];
  size_t chunk = (size_t)inner * es;
  const unsigned char *src = t->data;
  for (int64_t o = 0; o < outer; o++)
    memcpy((unsigned char *)dst + (size_t)o * chunk,
           src + ((size_t)(o * t->dims[axis] + pos)) * chunk, chunk);
}

/* Writes slice (a tensor without the axis) at position pos along axis of t. */
static void scan_slice_write(struct tqt_rt_tensor *t, size_t axis, int64_t pos,
                             const struct tqt_rt_tensor *slice) {
  size_t es = control_elem_size(t->dtype);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; d++) outer *= t->dims[d];
  for (size_t d = axis + 1; d < t->rank; d++) inner *= t->dims[d];
  size_t chunk = (size_t)inner * es;
  unsigned char *dst = t->data;
  for (int64_t o = 0; o < outer; o++)
    memcpy(dst + ((size_t)(o * t->dims[axis] + pos)) * chunk,
           (const unsigned char *)slice->data + (size_t)o * chunk, chunk);
}

/* The body's scan output j of iteration `step` goes to its place in node output j. */
static enum tqt_status scan_output_put(struct tqt_kernel_ctx *k, struct scan_job *job, size_t j,
                                       int64_t step) {
  const struct scan_params *p = job->p;
  size_t oi = p->n_state + j;
  if (!tqt_kernel_has_output(k, oi)) return TQT_STATUS_OK;
  const struct tqt_value *v = tqt_kernel_subgraph_output(k, 0, p->n_state + j);
  if (!v || v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype == TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "scan output %zu is not a numeric tensor", j);
  const struct tqt_rt_tensor *s = &v->t;
  size_t axis = 0;
  int64_t pos = step;
  if (p->batched) {
    axis = 1;
  } else {
    if (p->out_axes && tqt_kernel_axis(k, p->out_axes[j], s->rank + 1, &axis))
      return k->d->status;
    if (p->out_rev && p->out_rev[j]) pos = job->seq_len - 1 - step;
  }
  if (!job->out[j]) {
    int64_t dims[TQT_RANK_MAX];
    size_t rank = s->rank + 1 + (p->batched ? 1 : 0);
    if (rank > TQT_RANK_MAX)
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "scan output %zu has rank %zu", j, rank);
    size_t at = 0;
    if (p->batched) dims[at++] = job->batches;
    for (size_t d = 0; d <= s->rank; d++) {
      if (d == axis - (p->batched ? 1 : 0)) dims[at++] = p->batched ? job->max_len : job->seq_len;
      if (d < s->rank) dims[at++] = s->dims[d];
    }
    job->out[j] = tqt_kernel_output(k, oi, s->dtype, rank, dims);
    if (!job->out[j]) return k->d->status;
    memset(job->out[j]->data, 0, job->out[j]->nbytes); /* Scan-8: steps past a sequence's end */
  }
  struct tqt_rt_tensor *o = job->out[j];
  bool same = o->dtype == s->dtype;
  size_t skip = p->batched ? 2 : 0;
  for (size_t d = 0, od = skip; same && d < s->rank; d++, od++) {
    if (!p->batched && od == axis) od++;
    same = o->dims[od] == s->dims[d];
  }
  if (!same || o->rank != s->rank + 1 + (p->batched ? 1 : 0)) {
    char a[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scan output %zu changes shape to %s %s", j,
                           tqt_dtype_name(s->dtype), tqt_rt_shape_str(s, a, sizeof a));
  }
  if (p->batched) {
    /* [batch, seq, ...]: the slice of (batch, step) is contiguous */
    size_t bytes = s->nbytes;
    memcpy((unsigned char *)o->data + ((size_t)(job->batch * job->max_len + pos)) * bytes, s->data,
           bytes);
  } else {
    scan_slice_write(o, axis, pos, s);
  }
  return TQT_STATUS_OK;
}

/* Runs the body seq_len times; the final states are left in carry.cur. */
static enum tqt_status scan_loop(struct tqt_kernel_ctx *k, struct scan_job *job,
                                 struct control_carry *carry) {
  const struct scan_params *p = job->p;
  enum tqt_status st = TQT_STATUS_OK;
  size_t n_bind = p->n_state + p->n_in;
  const struct tqt_value **bind = calloc(n_bind + 1, sizeof *bind);
  struct tqt_value *slices = calloc(p->n_in + 1, sizeof *slices);
  void **scratch = calloc(p->n_in + 1, sizeof *scratch);
  if (!bind || !slices || !scratch) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t j = 0; j < p->n_state; j++) carry->cur[j] = job->state_init[j];
  for (int64_t step = 0; step < job->seq_len; step++) {
    for (size_t j = 0; j < p->n_state; j++) bind[j] = carry->cur[j];
    for (size_t j = 0; j < p->n_in; j++) {
      const struct tqt_rt_tensor *t = &job->in[j];
      size_t axis = job->in_axis[j];
      int64_t pos = p->in_rev && p->in_rev[j] ? job->seq_len - 1 - step : step;
      int64_t dims[TQT_RANK_MAX];
      size_t rank = 0;
      for (size_t d = 0; d < t->rank; d++)
        if (d != axis) dims[rank++] = t->dims[d];
      size_t bytes = t->dims[axis] ? t->nbytes / (size_t)t->dims[axis] : 0;
      void *data;
      if (axis == 0) { /* contiguous: read in place */
        data = (unsigned char *)t->data + (size_t)pos * bytes;
      } else {
        if (!scratch[j] && !(scratch[j] = malloc(bytes ? bytes : 1))) {
          st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
          goto fail;
        }
        scan_slice_read(t, axis, pos, scratch[j]);
        data = scratch[j];
      }
      tqt_value_tensor_borrow(&slices[j], t->dtype, rank, dims, data, bytes);
      bind[p->n_state + j] = &slices[j];
    }
    if ((st = tqt_kernel_subgraph_run(k, 0, bind, n_bind))) goto fail;
    for (size_t j = 0; j < p->n_out; j++)
      if ((st = scan_output_put(k, job, j, step))) goto fail;
    if ((st = control_carry_update(k, carry, 0, (uint64_t)step))) goto fail;
  }
fail:
  for (size_t j = 0; scratch && j < p->n_in; j++) free(scratch[j]);
  free(scratch);
  free(slices);
  free(bind);
  return st;
}

/* Scan outputs that no iteration wrote (a zero-length scan) still get their shape. */
static enum tqt_status scan_outputs_empty(struct tqt_kernel_ctx *k, struct scan_job *job) {
  const struct scan_params *p = job->p;
  for (size_t j = 0; j < p->n_out; j++) {
    if (job->out[j] || !tqt_kernel_has_output(k, p->n_state + j)) continue;
    int64_t dims[TQT_RANK_MAX], decl[TQT_RANK_MAX];
    int32_t dtype;
    size_t rank;
    control_declared_shape(p->body, p->n_state + j, &dtype, &rank, decl);
    size_t axis = p->batched ? 1 : 0, at = 0;
    if (!p->batched && p->out_axes && tqt_kernel_axis(k, p->out_axes[j], rank + 1, &axis))
      return k->d->status;
    if (p->batched) dims[at++] = job->batches;
    for (size_t d = 0; d <= rank; d++) {
      if (d == axis - (p->batched ? 1 : 0)) dims[at++] = p->batched ? job->max_len : 0;
      if (d < rank) dims[at++] = decl[d];
    }
    struct tqt_rt_tensor *y = tqt_kernel_output(k, p->n_state + j, dtype, at, dims);
    if (!y) return k->d->status;
    memset(y->data, 0, y->nbytes);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status scan9_run(struct tqt_kernel_ctx *k, struct scan_job *job,
                                 struct control_carry *carry) {
  const struct scan_params *p = job->p;
  size_t *axes = job->in_axis;
  struct tqt_rt_tensor *ins = job->in;
  for (size_t j = 0; j < p->n_state; j++) {
    job->state_init[j] = k->inputs[j];
    if (!job->state_init[j])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "state %zu is missing", j);
  }
  for (size_t j = 0; j < p->n_in; j++) {
    const struct tqt_rt_tensor *t = tqt_kernel_input_required(k, p->n_state + j);
    if (!t) return k->d->status;
    if (tqt_kernel_axis(k, p->in_axes ? p->in_axes[j] : 0, t->rank, &axes[j])) return k->d->status;
    int64_t len = t->dims[axes[j]];
    if (j == 0) job->seq_len = len;
    if (len != job->seq_len) {
      char a[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "scan input %zu %s has %lld steps along axis %zu, input 0 has %lld",
                             j, tqt_rt_shape_str(t, a, sizeof a), (long long)len, axes[j],
                             (long long)job->seq_len);
    }
    ins[j] = *t;
  }
  enum tqt_status st = scan_loop(k, job, carry);
  if (st) return st;
  if ((st = scan_outputs_empty(k, job))) return st;
  for (size_t j = 0; j < p->n_state; j++)
    if ((st = control_value_emit(k, j, carry->cur[j]))) return st;
  return TQT_STATUS_OK;
}

static enum tqt_status scan8_run(struct tqt_kernel_ctx *k, struct scan_job *job,
                                 struct control_carry *carry) {
  const struct scan_params *p = job->p;
  size_t *axes = job->in_axis;
  struct tqt_rt_tensor *ins = job->in;
  const struct tqt_rt_tensor *lens = tqt_kernel_input(k, 0);
  if (k->d->status) return k->d->status;
  const struct tqt_rt_tensor *first = tqt_kernel_input_required(k, 1 + p->n_state);
  if (!first) return k->d->status;
  if (first->rank < 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "scan inputs need [batch, sequence, ...]");
  job->batches = first->dims[0];
  job->max_len = first->dims[1];
  if (lens && (lens->dtype == TQT_DTYPE_STRING || tqt_rt_numel(lens) != job->batches))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sequence_lens must hold %lld lengths",
                           (long long)job->batches);
  const struct tqt_rt_tensor **st_t = calloc(p->n_state + 1, sizeof *st_t);
  struct tqt_value *views = calloc(p->n_state + 1, sizeof *views);
  enum tqt_status st = TQT_STATUS_OK;
  if (!st_t || !views) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t j = 0; j < p->n_state; j++) {
    st_t[j] = tqt_kernel_input_required(k, 1 + j);
    if (!st_t[j]) {
      st = k->d->status;
      goto fail;
    }
    if (st_t[j]->rank < 1 || st_t[j]->dims[0] != job->batches || st_t[j]->dtype == TQT_DTYPE_STRING) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "state %zu needs %lld batch entries", j,
                           (long long)job->batches);
      goto fail;
    }
  }
  for (size_t j = 0; j < p->n_in; j++) {
    const struct tqt_rt_tensor *t = tqt_kernel_input_required(k, 1 + p->n_state + j);
    if (!t) {
      st = k->d->status;
      goto fail;
    }
    if (t->rank < 2 || t->dims[0] != job->batches || t->dims[1] != job->max_len ||
        t->dtype == TQT_DTYPE_STRING) {
      char a[128];
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "scan input %zu %s: expected [%lld,%lld,...]",
                           j, tqt_rt_shape_str(t, a, sizeof a), (long long)job->batches,
                           (long long)job->max_len);
      goto fail;
    }
    axes[j] = 0;
  }
  for (int64_t b = 0; b < job->batches; b++) {
    job->batch = b;
    job->seq_len = lens ? tqt_rt_get_int(lens, b) : job->max_len;
    if (job->seq_len < 0 || job->seq_len > job->max_len) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "sequence length %lld is outside [0, %lld]",
                           (long long)job->seq_len, (long long)job->max_len);
      goto fail;
    }
    for (size_t j = 0; j < p->n_state; j++) { /* entry b of each state, without the batch axis */
      const struct tqt_rt_tensor *t = st_t[j];
      size_t bytes = t->dims[0] ? t->nbytes / (size_t)t->dims[0] : 0;
      tqt_value_tensor_borrow(&views[j], t->dtype, t->rank - 1, t->dims + 1,
                              (unsigned char *)t->data + (size_t)b * bytes, bytes);
      job->state_init[j] = &views[j];
    }
    for (size_t j = 0; j < p->n_in; j++) {
      const struct tqt_rt_tensor *t = tqt_kernel_input(k, 1 + p->n_state + j);
      size_t bytes = t->nbytes / (size_t)job->batches;
      ins[j] = *t;
      ins[j].rank = t->rank - 1;
      memmove(ins[j].dims, t->dims + 1, (t->rank - 1) * sizeof *t->dims);
      ins[j].data = (unsigned char *)t->data + (size_t)b * bytes;
      ins[j].nbytes = bytes;
      ins[j].capacity = 0;
    }
    if ((st = scan_loop(k, job, carry))) goto fail;
    for (size_t j = 0; j < p->n_state && j < k->n_outputs; j++) {
      if (!tqt_kernel_has_output(k, j)) continue;
      const struct tqt_value *v = carry->cur[j];
      if (v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype == TQT_DTYPE_STRING ||
          v->t.rank + 1 > TQT_RANK_MAX) {
        st = tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "state %zu is not a numeric tensor", j);
        goto fail;
      }
      if (!job->final[j]) {
        int64_t dims[TQT_RANK_MAX];
        dims[0] = job->batches;
        memcpy(dims + 1, v->t.dims, v->t.rank * sizeof *dims);
        if (!(job->final[j] = tqt_kernel_output(k, j, v->t.dtype, v->t.rank + 1, dims))) {
          st = k->d->status;
          goto fail;
        }
      }
      if (job->final[j]->nbytes != v->t.nbytes * (size_t)job->batches) {
        st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "state %zu changes size", j);
        goto fail;
      }
      memcpy((unsigned char *)job->final[j]->data + (size_t)b * v->t.nbytes, v->t.data,
             v->t.nbytes);
    }
  }
  if (job->batches == 0) {
    for (size_t j = 0; j < p->n_state; j++)
      if ((st = control_tensor_emit(k, j, st_t[j]))) goto fail;
  }
  st = scan_outputs_empty(k, job);
fail:
  free(st_t);
  free(views);
  return st;
}

static enum tqt_status scan_run(struct tqt_kernel_ctx *k) {
  const struct scan_params *p = k->params;
  enum tqt_status st = TQT_STATUS_OK;
  struct control_carry carry = {0};
  struct scan_job job = {.p = p};
  job.state_init = calloc(p->n_state + 1, sizeof *job.state_init);
  job.in = calloc(p->n_in + 1, sizeof *job.in);
  job.in_axis = calloc(p->n_in + 1, sizeof *job.in_axis);
  job.out = calloc(p->n_out + 1, sizeof *job.out);
  job.final = calloc(p->n_state + 1, sizeof *job.final);
  if (!job.state_init || !job.in || !job.in_axis || !job.out || !job.final) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if ((st = control_carry_init(k, &carry, p->n_state))) goto fail;
  st = p->batched ? scan8_run(k, &job, &carry) : scan9_run(k, &job, &carry);
fail:
  control_carry_free(&carry);
  free(job.state_init);
  free(job.in);
  free(job.in_axis);
  free(job.out);
  free(job.final);
  return st;
}

/* *have becomes d when d tells more: every scan input has the same steps (and batch), and a
 * constant tells more than a symbol. */
static void scan_infer_same(tqt_sdim *have, tqt_sdim d) {
  if (d && !tqt_sdim_value(*have, NULL)) *have = d;
}

/* The body sees (states..., one slice of each scan input) and makes (states..., scan
 * outputs...). Scan-9 slices along each input's axis and stacks the scan outputs along theirs;
 * Scan-8 has a batch axis in front of everything and scans axis 1. */
static enum tqt_status scan_infer(struct tqt_infer_ctx *c) {
  const struct scan_params *p = c->k->params;
  size_t first = p->batched ? 1 : 0, n_bind = p->n_state + p->n_in, n_body = p->n_state + p->n_out;
  struct tqt_sym *bind = calloc(n_bind, sizeof *bind), *outs = calloc(n_body, sizeof *outs);
  enum tqt_status st = TQT_STATUS_OK;
  tqt_sdim lead[2] = {NULL, NULL}; /* Scan-8's batch; the number of steps */
  if (!bind || !outs) {
    st = tqt_kernel_fail(c->k, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t j = 0; j < p->n_state; j++)
    control_infer_drop(&bind[j], tqt_infer_input(c, first + j), 0, first);
  for (size_t j = 0; j < p->n_in; j++) {
    const struct tqt_sym *t = tqt_infer_input(c, first + p->n_state + j);
    size_t axis = p->batched ? 1 : 0;
    if (!p->batched && tqt_sym_ranked(t) &&
        (st = tqt_kernel_axis(c->k, p->in_axes ? p->in_axes[j] : 0, t->rank, &axis)))
      goto done;
    control_infer_drop(&bind[p->n_state + j], t, p->batched ? 0 : axis, p->batched ? 2 : 1);
    if (tqt_sym_ranked(t) && axis < t->rank) {
      scan_infer_same(&lead[1], t->dims[axis]);
      if (p->batched) scan_infer_same(&lead[0], t->dims[0]);
    }
  }
  if ((st = control_infer_iterate(c, bind, n_bind, 0, p->n_state, 0, outs, n_body))) goto done;
  for (size_t j = 0; j < c->n_out; j++) {
    const struct tqt_sym *v = j < p->n_state ? &bind[j] : &outs[j];
    size_t axis = 0;
    if (p->batched) {
      control_infer_insert(&c->out[j], v, 0, lead, j < p->n_state ? 1 : 2);
    } else if (j < p->n_state) {
      c->out[j] = *v;
    } else {
      const int64_t *axes = p->out_axes;
      if (tqt_sym_ranked(v) &&
          (st = tqt_kernel_axis(c->k, axes ? axes[j - p->n_state] : 0, v->rank + 1, &axis)))
        goto done;
      control_infer_insert(&c->out[j], v, axis, &lead[1], 1);
    }
  }
done:
  free(bind);
  free(outs);
  return st;
}

/* ---- sequences ---- */

static const struct tqt_value *seq_input(struct tqt_kernel_ctx *k, size_t i) {
  const struct tqt_value *v = i < k->n_inputs ? k->inputs[i] : NULL;
  if (!v || v->kind != TQT_VALUE_KIND_SEQUENCE) {
    tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %zu is not a sequence", i);
    return NULL;
  }
  return v;
}

/* An owned copy of t, for a sequence's items. */
static struct tqt_rt_tensor *seq_item_dup(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t) {
  struct tqt_value view, copy = {0};
  tqt_value_tensor_borrow(&view, t->dtype, t->rank, t->dims, t->data, t->nbytes);
  struct tqt_rt_tensor *item = malloc(sizeof *item);
  if (!item) {
    tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    return NULL;
  }
  if (tqt_value_copy(&copy, &view, k->d)) {
    free(item);
    return NULL;
  }
  *item = copy.t;
  return item;
}

/* Makes output i an empty sequence with room for n items. */
static struct tqt_value *seq_output_at(struct tqt_kernel_ctx *k, size_t i, int32_t dtype,
                                       size_t n) {
  struct tqt_value *out = tqt_kernel_output_value(k, i);
  if (!out) {
    tqt_kernel_fail(k, TQT_STATUS_INVALID, "the output is required");
    return NULL;
  }
  out->kind = TQT_VALUE_KIND_SEQUENCE;
  out->seq_dtype = dtype;
  out->items = calloc(n + 1, sizeof *out->items);
  if (!out->items) {
    tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    return NULL;
  }
  return out;
}

static struct tqt_value *seq_output(struct tqt_kernel_ctx *k, int32_t dtype, size_t n) {
  return seq_output_at(k, 0, dtype, n);
}

static enum tqt_status seq_push(struct tqt_kernel_ctx *k, struct tqt_value *seq,
                                const struct tqt_rt_tensor *t) {
  if (seq->n_items && t->dtype != seq->seq_dtype)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "a %s tensor in a sequence of %s",
                           tqt_dtype_name(t->dtype), tqt_dtype_name(seq->seq_dtype));
  struct tqt_rt_tensor *item = seq_item_dup(k, t);
  if (!item) return k->d->status;
  seq->items[seq->n_items++] = item;
  seq->seq_dtype = t->dtype;
  return TQT_STATUS_OK;
}

/* A position input against a sequence of n items; insert allows n itself. */
static enum tqt_status seq_position(struct tqt_kernel_ctx *k, size_t i, size_t n, bool insert,
                                    int64_t dflt, size_t *out) {
  const struct tqt_rt_tensor *t = tqt_kernel_input(k, i);
  if (k->d->status) return k->d->status;
  int64_t pos = dflt;
  if (t && control_scalar_int(k, t, "position", &pos)) return k->d->status;
  int64_t hi = (int64_t)n + (insert ? 1 : 0);
  if (pos < -(int64_t)n || pos >= hi)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "position %lld is outside a sequence of %zu",
                           (long long)pos, n);
  *out = (size_t)(pos < 0 ? pos + (int64_t)n : pos);
  return TQT_STATUS_OK;
}

/* A sequence of input 0's type (SequenceConstruct, SequenceErase, SplitToSequence). */
static enum tqt_status seq_infer(struct tqt_infer_ctx *c) {
  control_infer_sequence(&c->out[0], tqt_sym_dtype(tqt_infer_input(c, 0)));
  return TQT_STATUS_OK;
}

/* An item of input 0, a sequence (SequenceAt, ConcatFromSequence): its type; no item's rank is
 * known. */
static enum tqt_status seq_item_infer(struct tqt_infer_ctx *c) {
  tqt_sym_tensor_unranked(&c->out[0], tqt_sym_dtype(tqt_infer_input(c, 0)));
  return TQT_STATUS_OK;
}

static enum tqt_status seq_construct_run(struct tqt_kernel_ctx *k) {
  struct tqt_value *out = NULL;
  for (size_t i = 0; i < k->n_inputs; i++) {
    const struct tqt_rt_tensor *t = tqt_kernel_input_required(k, i);
    if (!t) return k->d->status;
    if (!out && !(out = seq_output(k, t->dtype, k->n_inputs))) return k->d->status;
    if (seq_push(k, out, t)) return k->d->status;
  }
  if (!out) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "no inputs");
  return TQT_STATUS_OK;
}

static enum tqt_status seq_empty_init(struct tqt_kernel_ctx *k) {
  int32_t *dtype = tqt_arena_calloc(k->arena, 1, sizeof *dtype);
  if (!dtype) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  *dtype = (int32_t)tqt_attr_int(k->node, "dtype", TQT_DTYPE_FLOAT);
  k->params = dtype;
  return TQT_STATUS_OK;
}

static enum tqt_status seq_empty_infer(struct tqt_infer_ctx *c) {
  control_infer_sequence(&c->out[0], *(const int32_t *)c->k->params);
  return TQT_STATUS_OK;
}

static enum tqt_status seq_empty_run(struct tqt_kernel_ctx *k) {
  return seq_output(k, *(const int32_t *)k->params, 0) ? TQT_STATUS_OK : k->d->status;
}

static enum tqt_status seq_at_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *s = seq_input(k, 0);
  if (!s) return k->d->status;
  if (!tqt_kernel_input_required(k, 1)) return k->d->status;
  size_t pos;
  if (seq_position(k, 1, s->n_items, false, 0, &pos)) return k->d->status;
  return control_tensor_emit(k, 0, s->items[pos]);
}

static enum tqt_status seq_insert_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *s = seq_input(k, 0);
  if (!s) return k->d->status;
  const struct tqt_rt_tensor *t = tqt_kernel_input_required(k, 1);
  if (!t) return k->d->status;
  size_t pos;
  if (seq_position(k, 2, s->n_items, true, (int64_t)s->n_items, &pos)) return k->d->status;
  if (s->n_items && t->dtype != s->seq_dtype)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "a %s tensor into a sequence of %s",
                           tqt_dtype_name(t->dtype), tqt_dtype_name(s->seq_dtype));
  struct tqt_value *out = seq_output(k, t->dtype, s->n_items + 1);
  if (!out) return k->d->status;
  for (size_t i = 0; i <= s->n_items; i++) {
    if (i == pos && seq_push(k, out, t)) return k->d->status;
    if (i < s->n_items && seq_push(k, out, s->items[i])) return k->d->status;
  }
  return TQT_STATUS_OK;
}

/* The inserted tensor's type, as run gives it (the sequence's when it is unknown). */
static enum tqt_status seq_insert_infer(struct tqt_infer_ctx *c) {
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 1));
  seq_infer(c);
  if (dtype != TQT_DTYPE_UNDEFINED) c->out[0].dtype = dtype;
  return TQT_STATUS_OK;
}

static enum tqt_status seq_erase_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *s = seq_input(k, 0);
  if (!s) return k->d->status;
  if (!s->n_items) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "erase from an empty sequence");
  size_t pos;
  if (seq_position(k, 1, s->n_items, false, -1, &pos)) return k->d->status;
  struct tqt_value *out = seq_output(k, s->seq_dtype, s->n_items);
  if (!out) return k->d->status;
  for (size_t i = 0; i < s->n_items; i++)
    if (i != pos && seq_push(k, out, s->items[i])) return k->d->status;
  return TQT_STATUS_OK;
}

static enum tqt_status seq_length_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *s = seq_input(k, 0);
  if (!s) return k->d->status;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT64, 0, NULL);
  if (!y) return k->d->status;
  *(int64_t *)y->data = (int64_t)s->n_items;
  return TQT_STATUS_OK;
}

static enum tqt_status seq_length_infer(struct tqt_infer_ctx *c) {
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, 0, NULL);
  return TQT_STATUS_OK;
}

struct split_seq_params {
  int64_t axis;
  bool keepdims;
};

static enum tqt_status split_seq_init(struct tqt_kernel_ctx *k) {
  struct split_seq_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", 0);
  p->keepdims = tqt_attr_int(k->node, "keepdims", 1) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status split_seq_run(struct tqt_kernel_ctx *k) {
  const struct split_seq_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  const struct tqt_rt_tensor *split = tqt_kernel_input(k, 1);
  if (k->d->status) return k->d->status;
  size_t axis;
  if (tqt_kernel_axis(k, p->axis, x->rank, &axis)) return k->d->status;
  int64_t len = x->dims[axis], n = len, chunk = 1;
  const int64_t *sizes = NULL;
  int64_t *owned = NULL;
  bool squeeze = !split && !p->keepdims;
  if (split && split->rank == 0) {
    if (control_scalar_int(k, split, "split", &chunk)) return k->d->status;
    if (chunk <= 0) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "split %lld", (long long)chunk);
    n = (len + chunk - 1) / chunk;
  } else if (split) {
    n = tqt_rt_numel(split);
    if (split->dtype != TQT_DTYPE_INT64 && split->dtype != TQT_DTYPE_INT32)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "split must be int64 or int32");
    owned = malloc((size_t)(n + 1) * sizeof *owned);
    if (!owned) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
      owned[i] = tqt_rt_get_int(split, i);
      if (owned[i] < 0) sum = -1 - len; /* forces the error below */
      else sum += owned[i];
    }
    if (sum != len) {
      free(owned);
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "split sizes do not add up to %lld",
                             (long long)len);
    }
    sizes = owned;
  }
  enum tqt_status st = TQT_STATUS_OK;
  struct tqt_value *out = seq_output(k, x->dtype, (size_t)n);
  if (!out) {
    free(owned);
    return k->d->status;
  }
  size_t es = control_elem_size(x->dtype);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; d++) outer *= x->dims[d];
  for (size_t d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  int64_t start = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t size = sizes ? sizes[i] : (start + chunk > len ? len - start : chunk);
    struct tqt_rt_tensor part = *x;
    part.dims[axis] = size;
    part.capacity = 0;
    part.nbytes = (size_t)(outer * size * inner) * es;
    part.data = malloc(part.nbytes ? part.nbytes : 1);
    if (!part.data) {
      st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      break;
    }
    size_t row = (size_t)(size * inner) * es;
    for (int64_t o = 0; o < outer; o++)
      memcpy((unsigned char *)part.data + (size_t)o * row,
             (const unsigned char *)x->data + ((size_t)(o * len + start) * (size_t)inner) * es,
             row);
    if (squeeze) {
      part.rank--;
      memmove(part.dims + axis, part.dims + axis + 1, (part.rank - axis) * sizeof *part.dims);
    }
    st = seq_push(k, out, &part);
    free(part.data);
    if (st) break;
    start += size;
  }
  free(owned);
  return st;
}

struct concat_seq_params {
  int64_t axis;
  bool new_axis;
};

static enum tqt_status concat_seq_init(struct tqt_kernel_ctx *k) {
  struct concat_seq_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (!tqt_attr_has(k->node, "axis"))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the axis attribute is required");
  p->axis = tqt_attr_int(k->node, "axis", 0);
  p->new_axis = tqt_attr_int(k->node, "new_axis", 0) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status concat_seq_run(struct tqt_kernel_ctx *k) {
  const struct concat_seq_params *p = k->params;
  const struct tqt_value *s = seq_input(k, 0);
  if (!s) return k->d->status;
  if (!s->n_items) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the sequence is empty");
  const struct tqt_rt_tensor *t0 = s->items[0];
  size_t out_rank = t0->rank + (p->new_axis ? 1 : 0), axis;
  if (out_rank > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "rank %zu", out_rank);
  if (tqt_kernel_axis(k, p->axis, out_rank, &axis)) return k->d->status;
  int64_t dims[TQT_RANK_MAX], total = 0;
  for (size_t i = 0; i < s->n_items; i++) {
    const struct tqt_rt_tensor *t = s->items[i];
    bool same = t->rank == t0->rank && t->dtype == t0->dtype;
    for (size_t d = 0; same && d < t->rank; d++)
      same = t->dims[d] == t0->dims[d] || (!p->new_axis && d == axis);
    if (!same) {
      char a[128], b[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "item %zu %s does not match item 0 %s", i,
                             tqt_rt_shape_str(t, a, sizeof a), tqt_rt_shape_str(t0, b, sizeof b));
    }
    total += p->new_axis ? 1 : t->dims[axis];
  }
  for (size_t d = 0, sd = 0; d < out_rank; d++) {
    if (d == axis) {
      dims[d] = total;
      if (!p->new_axis) sd++;
    } else {
      dims[d] = t0->dims[sd++];
    }
  }
  if (t0->dtype == TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "string sequences");
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, t0->dtype, out_rank, dims);
  if (!y) return k->d->status;
  size_t es = control_elem_size(t0->dtype);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; d++) outer *= dims[d];
  for (size_t d = axis + 1; d < out_rank; d++) inner *= dims[d];
  size_t out_row = (size_t)(total * inner) * es, at = 0;
  for (size_t i = 0; i < s->n_items; i++) {
    const struct tqt_rt_tensor *t = s->items[i];
    size_t row = (size_t)((p->new_axis ? 1 : t->dims[axis]) * inner) * es;
    for (int64_t o = 0; o < outer; o++)
      memcpy((unsigned char *)y->data + (size_t)o * out_row + at,
             (const unsigned char *)t->data + (size_t)o * row, row);
    at += row;
  }
  return TQT_STATUS_OK;
}

/* SequenceMap: the body runs once per item of the input sequence; additional inputs give it their
 * item of the same position (sequences) or themselves (tensors). */
static enum tqt_status seq_map_init(struct tqt_kernel_ctx *k) {
  const struct tqt_graph *body = control_graph_attr(k->node, "body");
  if (!body || k->n_subgraphs != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the body attribute is required");
  if (body->n_inputs != k->n_inputs || body->n_outputs != k->n_outputs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "the body takes %zu inputs and makes %zu outputs for %zu and %zu",
                           body->n_inputs, body->n_outputs, k->n_inputs, k->n_outputs);
  k->params = (void *)body;
  return TQT_STATUS_OK;
}

static enum tqt_status seq_map_run(struct tqt_kernel_ctx *k) {
  const struct tqt_graph *body = k->params;
  const struct tqt_value *s = seq_input(k, 0);
  if (!s) return k->d->status;
  size_t n = s->n_items;
  for (size_t a = 1; a < k->n_inputs; a++) {
    const struct tqt_value *v = k->inputs[a];
    if (!v || v->kind == TQT_VALUE_KIND_NONE)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %zu is missing", a);
    if (v->kind == TQT_VALUE_KIND_SEQUENCE && v->n_items != n)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %zu has %zu items, input 0 has %zu", a,
                             v->n_items, n);
  }
  struct tqt_value **outs = calloc(k->n_outputs + 1, sizeof *outs);
  struct tqt_value *views = calloc(k->n_inputs + 1, sizeof *views);
  const struct tqt_value **bind = calloc(k->n_inputs + 1, sizeof *bind);
  enum tqt_status st = TQT_STATUS_OK;
  if (!outs || !views || !bind) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t j = 0; j < k->n_outputs; j++) {
    if (!tqt_kernel_has_output(k, j)) continue;
    const struct tqt_type *t = body->outputs[j].type;
    int32_t dtype = t && t->kind == TQT_TYPE_KIND_TENSOR && t->has_elem_type ? t->elem_type
                                                                             : TQT_DTYPE_FLOAT;
    if (!(outs[j] = seq_output_at(k, j, dtype, n))) {
      st = k->d->status;
      goto fail;
    }
  }
  for (size_t i = 0; i < n; i++) {
    for (size_t a = 0; a < k->n_inputs; a++) {
      const struct tqt_value *v = k->inputs[a];
      if (v->kind == TQT_VALUE_KIND_SEQUENCE) {
        const struct tqt_rt_tensor *t = v->items[i];
        tqt_value_tensor_borrow(&views[a], t->dtype, t->rank, t->dims, t->data, t->nbytes);
        bind[a] = &views[a];
      } else {
        bind[a] = v;
      }
    }
    if ((st = tqt_kernel_subgraph_run(k, 0, bind, k->n_inputs))) goto fail;
    for (size_t j = 0; j < k->n_outputs; j++) {
      if (!outs[j]) continue;
      const struct tqt_value *v = tqt_kernel_subgraph_output(k, 0, j);
      if (!v || v->kind != TQT_VALUE_KIND_TENSOR) {
        st = tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "body output %zu is not a tensor", j);
        goto fail;
      }
      if ((st = seq_push(k, outs[j], &v->t))) goto fail;
    }
  }
fail:
  free(outs);
  free(views);
  free(bind);
  return st;
}

/* Inferred once: the body sees an item of each sequence input (its type) and the tensor inputs
 * themselves; each output is a sequence of the body's output's type. */
static enum tqt_status seq_map_infer(struct tqt_infer_ctx *c) {
  struct tqt_sym *bind = calloc(c->n_in + 1, sizeof *bind);
  struct tqt_sym *outs = calloc(c->n_out + 1, sizeof *outs);
  const struct tqt_sym **ins = calloc(c->n_in + 1, sizeof *ins);
  enum tqt_status st = TQT_STATUS_OK;
  if (!bind || !outs || !ins) {
    st = tqt_kernel_fail(c->k, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t a = 0; a < c->n_in; a++) {
    const struct tqt_sym *v = tqt_infer_input(c, a);
    if (v && v->kind == TQT_SYM_KIND_SEQUENCE)
      tqt_sym_tensor_unranked(&bind[a], v->dtype);
    else
      control_infer_drop(&bind[a], v, 0, 0);
    ins[a] = &bind[a];
  }
  if ((st = tqt_infer_subgraph(c, 0, ins, c->n_in, outs, c->n_out))) goto done;
  for (size_t j = 0; j < c->n_out; j++)
    control_infer_sequence(&c->out[j], outs[j].dtype);
done:
  free(bind);
  free(outs);
  free(ins);
  return st;
}

/* ---- optionals ---- */

static enum tqt_status optional_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *v = k->n_inputs ? k->inputs[0] : NULL;
  return control_value_emit(k, 0, v);
}

static enum tqt_status optional_has_element_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *v = k->n_inputs ? k->inputs[0] : NULL;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_BOOL, 0, NULL);
  if (!y) return k->d->status;
  *(uint8_t *)y->data = v && v->kind != TQT_VALUE_KIND_NONE;
  return TQT_STATUS_OK;
}

static enum tqt_status optional_get_element_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *v = k->n_inputs ? k->inputs[0] : NULL;
  if (!v || v->kind == TQT_VALUE_KIND_NONE)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the optional is empty");
  return control_value_emit(k, 0, v);
}

/* Optional(x) is x (an empty optional without input); OptionalGetElement of a value that is
 * there is that value. */
static enum tqt_status optional_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *v = tqt_infer_input(c, 0);
  if (v && (v->kind == TQT_SYM_KIND_TENSOR || v->kind == TQT_SYM_KIND_SEQUENCE))
    c->out[0] = *v;
  else if (!v && !strcmp(c->k->node->op_type, "Optional"))
    c->out[0].kind = TQT_SYM_KIND_NONE;
  return TQT_STATUS_OK;
}

/* A bool scalar, decided when the input is proven there (a tensor or a sequence) or empty. */
static enum tqt_status optional_has_element_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *v = tqt_infer_input(c, 0);
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_BOOL, 0, NULL);
  tqt_sdim has = NULL;
  if (!v || v->kind == TQT_SYM_KIND_NONE)
    has = tqt_sdim_const(c->dims, 0);
  else if (v->kind == TQT_SYM_KIND_TENSOR || v->kind == TQT_SYM_KIND_SEQUENCE)
    has = tqt_sdim_const(c->dims, 1);
  tqt_sym_value_set(&c->out[0], &has, 1);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel control_kernels[] = {
    {"", "If", 1, if_init, if_run, if_infer},
    {"", "Loop", 1, loop_init, loop_run, loop_infer},
    {"", "Scan", 8, scan_init, scan_run, scan_infer},
    {"", "Scan", 9, scan_init, scan_run, scan_infer},
    {"", "SequenceConstruct", 11, NULL, seq_construct_run, seq_infer},
    {"", "SequenceEmpty", 11, seq_empty_init, seq_empty_run, seq_empty_infer},
    {"", "SequenceAt", 11, NULL, seq_at_run, seq_item_infer},
    {"", "SequenceInsert", 11, NULL, seq_insert_run, seq_insert_infer},
    {"", "SequenceErase", 11, NULL, seq_erase_run, seq_infer},
    {"", "SequenceLength", 11, NULL, seq_length_run, seq_length_infer},
    {"", "SplitToSequence", 11, split_seq_init, split_seq_run, seq_infer},
    {"", "ConcatFromSequence", 11, concat_seq_init, concat_seq_run, seq_item_infer},
    {"", "SequenceMap", 17, seq_map_init, seq_map_run, seq_map_infer},
    {"", "Optional", 15, NULL, optional_run, optional_infer},
    {"", "OptionalHasElement", 15, NULL, optional_has_element_run, optional_has_element_infer},
    {"", "OptionalGetElement", 15, NULL, optional_get_element_run, optional_infer},
};

const struct tqt_kernel_family tqt_family_control = {
    "control", control_kernels, sizeof control_kernels / sizeof control_kernels[0]};
