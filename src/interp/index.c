/* Kernels: the index family. Ops that select or place elements by index tensors: Gather,
 * GatherElements, GatherND, Scatter, ScatterElements, ScatterND, OneHot, NonZero, Compress,
 * ReverseSequence, Unique.
 *
 * Index tensors are read once per run into normalized int64 offsets (negative indices wrapped,
 * every one checked against its dim), then data moves as opaque elements or whole contiguous
 * slices with memcpy. STRING elements move as struct tqt_bytes and then get their own copies in
 * one pass over the output (tqt_kernel_strings_own), since an output owns its strings. */
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

/* ---- helpers ---- */

static size_t index_esize(int32_t dtype) {
  return dtype == TQT_DTYPE_STRING ? sizeof(struct tqt_bytes) : tqt_dtype_size(dtype);
}

static bool index_is_int(int32_t dtype) {
  return dtype == TQT_DTYPE_INT64 || dtype == TQT_DTYPE_INT32;
}

/* Index i of an int32/int64 tensor, wrapped when negative and checked against [0, dim). */
static enum tqt_status index_at(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t, int64_t i,
                                int64_t dim, int64_t *out) {
  int64_t v =
      t->dtype == TQT_DTYPE_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
  if (v < -dim || v >= dim)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "index %lld is out of range for dim %lld",
                           (long long)v, (long long)dim);
  *out = v < 0 ? v + dim : v;
  return TQT_STATUS_OK;
}

/* Row-major strides (in elements) of dims. */
static void index_strides(size_t rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (size_t i = rank; i-- > 0;) {
    strides[i] = s;
    s *= dims[i];
  }
}

/* dst[j] = src[offsets[j]] for n elements of size esz. */
static void index_gather_elems(void *dst, const void *src, const int64_t *offsets, int64_t n,
                               size_t esz) {
#define INDEX_GATHER(T)                                                                            \
  do {                                                                                             \
    T *d_ = dst;                                                                                   \
    const T *s_ = src;                                                                             \
    for (int64_t j = 0; j < n; j++) d_[j] = s_[offsets[j]];                                        \
  } while (0)
  switch (esz) {
  case 1: INDEX_GATHER(uint8_t); break;
  case 2: INDEX_GATHER(uint16_t); break;
  case 4: INDEX_GATHER(uint32_t); break;
  case 8: INDEX_GATHER(uint64_t); break;
  default:
    for (int64_t j = 0; j < n; j++)
      memcpy((char *)dst + j * (int64_t)esz, (const char *)src + offsets[j] * (int64_t)esz, esz);
    break;
  }
#undef INDEX_GATHER
}

/* ---- Gather ---- */

struct axis_params {
  int64_t axis;
};

static enum tqt_status axis_init(struct tqt_kernel_ctx *k) {
  struct axis_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  /* OneHot's axis counts from the back by default; the others' from the front. */
  p->axis = tqt_attr_int(k->node, "axis", strcmp(k->node->op_type, "OneHot") == 0 ? -1 : 0);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status gather_run(struct tqt_kernel_ctx *k) {
  const struct axis_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *ix = tqt_kernel_input_required(k, 1);
  if (!x || !ix) return k->d->status;
  size_t axis, r = x->rank, q = ix->rank;
  if (tqt_kernel_axis(k, p->axis, r, &axis)) return k->d->status;
  if (!index_is_int(ix->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "indices of type %s", tqt_dtype_name(ix->dtype));
  if (r - 1 + q > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output rank %zu exceeds %d", r - 1 + q,
                           TQT_RANK_MAX);
  int64_t dims[TQT_RANK_MAX], outer = 1, n = tqt_rt_numel(ix), dim = x->dims[axis];
  size_t esz = index_esize(x->dtype), inner = esz;
  for (size_t i = 0; i < axis; i++) outer *= (dims[i] = x->dims[i]);
  for (size_t i = 0; i < q; i++) dims[axis + i] = ix->dims[i];
  for (size_t i = axis + 1; i < r; i++) inner *= (size_t)(dims[q + i - 1] = x->dims[i]);
  int64_t *at = malloc((size_t)(n ? n : 1) * sizeof *at);
  if (!at) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  enum tqt_status st = TQT_STATUS_OK;
  for (int64_t j = 0; j < n && !st; j++) st = index_at(k, ix, j, dim, &at[j]);
  struct tqt_rt_tensor *y = st ? NULL : tqt_kernel_output(k, 0, x->dtype, r - 1 + q, dims);
  if (!y) {
    st = k->d->status;
    goto done;
  }
  char *dst = y->data;
  const char *src = x->data;
  for (int64_t o = 0; o < outer; o++, src += (size_t)dim * inner) {
    if (inner == esz) { /* axis is the last: one element per index, no memcpy call each */
      index_gather_elems(dst, src, at, n, esz);
      dst += (size_t)n * inner;
      continue;
    }
    for (int64_t j = 0; j < n; j++, dst += inner) memcpy(dst, src + (size_t)at[j] * inner, inner);
  }
  st = tqt_kernel_strings_own(k, y);
done:
  free(at);
  return st;
}

/* Gathering from a small integer tensor of constant dims (a shape vector) at constant indices
 * gives the output's elements: shape values flow through Gather. */
static void gather_infer_value(struct tqt_infer_ctx *c, const struct tqt_sym *x,
                               const struct tqt_sym *ix, size_t axis) {
  int64_t at[TQT_SYM_VALUE_MAX], outer = 1, dim = 0, inner = 1;
  size_t n;
  if (tqt_sym_numel(x) < 1 || (!x->has_value && !x->constant) ||
      !tqt_sym_ints(ix, at, TQT_SYM_VALUE_MAX, &n))
    return;
  for (size_t i = 0; i < x->rank; i++) {
    int64_t v = 0;
    tqt_sdim_value(x->dims[i], &v);
    if (i < axis) outer *= v;
    else if (i == axis) dim = v;
    else inner *= v;
  }
  if (outer * inner > TQT_SYM_VALUE_MAX || outer * (int64_t)n * inner > TQT_SYM_VALUE_MAX) return;
  tqt_sdim vals[TQT_SYM_VALUE_MAX];
  size_t k = 0;
  for (int64_t o = 0; o < outer; o++)
    for (size_t j = 0; j < n; j++) {
      int64_t idx = at[j] < 0 ? at[j] + dim : at[j];
      if (idx < 0 || idx >= dim) return; /* the run fails: no value to give */
      for (int64_t i = 0; i < inner; i++)
        vals[k++] = tqt_sym_elem(c->dims, x, (size_t)((o * dim + idx) * inner + i));
    }
  tqt_sym_value_set(&c->out[0], vals, k);
}

/* What Gather and GatherElements read: data and indices (NULL when their rank is unknown),
 * data's type and the axis (checked against data's rank when it is known). */
static enum tqt_status gather_infer_operands(struct tqt_infer_ctx *c, const struct tqt_sym **x,
                                             const struct tqt_sym **ix, int32_t *dtype,
                                             size_t *axis) {
  const struct axis_params *p = c->k->params;
  *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  *ix = tqt_sym_ranked(tqt_infer_input(c, 1));
  *dtype = tqt_sym_dtype(tqt_infer_input(c, 0));
  *axis = 0;
  return *x ? tqt_kernel_axis(c->k, p->axis, (*x)->rank, axis) : TQT_STATUS_OK;
}

/* data[:axis] + indices + data[axis+1:]; scalar indices drop the axis. */
static enum tqt_status gather_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x, *ix;
  int32_t dtype;
  size_t axis;
  if (gather_infer_operands(c, &x, &ix, &dtype, &axis)) return c->k->d->status;
  if (!x || !ix || x->rank - 1 + ix->rank > TQT_RANK_MAX) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  tqt_sdim dims[TQT_RANK_MAX];
  size_t r = 0;
  for (size_t i = 0; i < axis; i++) dims[r++] = x->dims[i];
  for (size_t i = 0; i < ix->rank; i++) dims[r++] = ix->dims[i];
  for (size_t i = axis + 1; i < x->rank; i++) dims[r++] = x->dims[i];
  tqt_sym_tensor(&c->out[0], dtype, r, dims);
  gather_infer_value(c, x, ix, axis);
  return TQT_STATUS_OK;
}

/* ---- GatherElements, Scatter, ScatterElements ---- */

/* For each element of ix (same rank as x, no dim larger except along axis), the offset in x of
 * the element it addresses: ix's own coordinates with the one along axis replaced by its value.
 * Returns a malloc'd array (NULL after failing the node). */
static int64_t *index_element_offsets(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                      const struct tqt_rt_tensor *ix, size_t axis) {
  char sx[128], si[128];
  bool ok = index_is_int(ix->dtype) && ix->rank == x->rank;
  for (size_t i = 0; ok && i < x->rank; i++) ok = i == axis || ix->dims[i] <= x->dims[i];
  if (!ok) {
    tqt_kernel_fail(k, TQT_STATUS_INVALID, "indices %s %s do not fit data %s",
                    tqt_dtype_name(ix->dtype), tqt_rt_shape_str(ix, si, sizeof si),
                    tqt_rt_shape_str(x, sx, sizeof sx));
    return NULL;
  }
  int64_t n = tqt_rt_numel(ix), strides[TQT_RANK_MAX], idx[TQT_RANK_MAX] = {0}, base = 0;
  int64_t *off = malloc((size_t)(n ? n : 1) * sizeof *off);
  if (!off) {
    tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    return NULL;
  }
  index_strides(x->rank, x->dims, strides);
  int64_t along = strides[axis];
  for (int64_t j = 0; j < n; j++) {
    int64_t v = 0;
    if (index_at(k, ix, j, x->dims[axis], &v)) {
      free(off);
      return NULL;
    }
    off[j] = base + v * along;
    for (size_t i = ix->rank; i-- > 0;) { /* odometer over ix, axis coordinate excluded */
      int64_t s = i == axis ? 0 : strides[i];
      base += s;
      if (++idx[i] < ix->dims[i]) break;
      base -= s * ix->dims[i];
      idx[i] = 0;
    }
  }
  return off;
}

static enum tqt_status gather_elements_run(struct tqt_kernel_ctx *k) {
  const struct axis_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *ix = tqt_kernel_input_required(k, 1);
  size_t axis;
  if (!x || !ix || tqt_kernel_axis(k, p->axis, x->rank, &axis)) return k->d->status;
  int64_t *off = index_element_offsets(k, x, ix, axis);
  if (!off) return k->d->status;
  enum tqt_status st;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, ix->rank, ix->dims);
  if (!y) {
    st = k->d->status;
  } else {
    index_gather_elems(y->data, x->data, off, tqt_rt_numel(ix), index_esize(x->dtype));
    st = tqt_kernel_strings_own(k, y);
  }
  free(off);
  return st;
}

enum index_reduce {
  INDEX_REDUCE_NONE,
  INDEX_REDUCE_ADD,
  INDEX_REDUCE_MUL,
  INDEX_REDUCE_MAX,
  INDEX_REDUCE_MIN
};

struct scatter_params {
  int64_t axis;
  enum index_reduce reduce;
};

static enum tqt_status scatter_init(struct tqt_kernel_ctx *k) {
  struct scatter_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", 0);
  static const char *const names[] = {"none", "add", "mul", "max", "min"};
  const char *r = tqt_attr_string(k->node, "reduction", "none");
  size_t i = 0;
  while (i < sizeof names / sizeof names[0] && strcmp(r, names[i]) != 0) i++;
  if (i == sizeof names / sizeof names[0])
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "reduction '%s'", r);
  p->reduce = (enum index_reduce)i;
  k->params = p;
  return TQT_STATUS_OK;
}

/* out[offsets[j] + b] (reduce)= upd[j * block + b] for j < n, b < block. Integers add and
 * multiply in uint64, which wraps where signed arithmetic would overflow. */
static enum tqt_status index_scatter_apply(struct tqt_kernel_ctx *k, struct tqt_rt_tensor *out,
                                           const void *upd, const int64_t *offsets, int64_t n,
                                           int64_t block, enum index_reduce reduce) {
  size_t esz = index_esize(out->dtype);
  if (reduce == INDEX_REDUCE_NONE) {
    for (int64_t j = 0; j < n; j++)
      memcpy((char *)out->data + offsets[j] * (int64_t)esz,
             (const char *)upd + j * block * (int64_t)esz, (size_t)block * esz);
    return TQT_STATUS_OK;
  }
  /* INDEX_LOOP applies EXPR of the current value a_ and the update v_ (both as type A). */
#define INDEX_LOOP(T, A, LOAD, STORE, EXPR)                                                        \
  do {                                                                                             \
    T *o_ = out->data;                                                                             \
    const T *u_ = upd;                                                                             \
    for (int64_t j = 0; j < n; j++)                                                                \
      for (int64_t b = 0; b < block; b++) {                                                        \
        T *p_ = &o_[offsets[j] + b];                                                               \
        A a_ = LOAD(*p_), v_ = LOAD(u_[j * block + b]);                                            \
        *p_ = STORE(EXPR);                                                                         \
      }                                                                                            \
  } while (0)
#define INDEX_REDUCE_AS(T, A, W, LOAD, STORE)                                                      \
  do {                                                                                             \
    switch (reduce) {                                                                              \
    case INDEX_REDUCE_ADD: INDEX_LOOP(T, A, LOAD, STORE, (A)((W)a_ + (W)v_)); break;               \
    case INDEX_REDUCE_MUL: INDEX_LOOP(T, A, LOAD, STORE, (A)((W)a_ * (W)v_)); break;               \
    case INDEX_REDUCE_MAX: INDEX_LOOP(T, A, LOAD, STORE, a_ > v_ ? a_ : v_); break;                \
    default: INDEX_LOOP(T, A, LOAD, STORE, a_ < v_ ? a_ : v_); break;                              \
    }                                                                                              \
  } while (0)
#define INDEX_SAME(v) (v)
#define INDEX_REDUCE(T, W) INDEX_REDUCE_AS(T, T, W, INDEX_SAME, (T))
  switch (out->dtype) {
  case TQT_DTYPE_FLOAT: INDEX_REDUCE(float, float); break;
  case TQT_DTYPE_DOUBLE: INDEX_REDUCE(double, double); break;
  case TQT_DTYPE_FLOAT16:
    INDEX_REDUCE_AS(uint16_t, float, float, tqt_f16_to_f32, tqt_f32_to_f16);
    break;
  case TQT_DTYPE_BFLOAT16:
    INDEX_REDUCE_AS(uint16_t, float, float, tqt_bf16_to_f32, tqt_f32_to_bf16);
    break;
  case TQT_DTYPE_INT8: INDEX_REDUCE(int8_t, uint64_t); break;
  case TQT_DTYPE_UINT8: INDEX_REDUCE(uint8_t, uint64_t); break;
  case TQT_DTYPE_INT16: INDEX_REDUCE(int16_t, uint64_t); break;
  case TQT_DTYPE_UINT16: INDEX_REDUCE(uint16_t, uint64_t); break;
  case TQT_DTYPE_INT32: INDEX_REDUCE(int32_t, uint64_t); break;
  case TQT_DTYPE_UINT32: INDEX_REDUCE(uint32_t, uint64_t); break;
  case TQT_DTYPE_INT64: INDEX_REDUCE(int64_t, uint64_t); break;
  case TQT_DTYPE_UINT64: INDEX_REDUCE(uint64_t, uint64_t); break;
  default:
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "reduction on type %s",
                           tqt_dtype_name(out->dtype));
  }
#undef INDEX_REDUCE
#undef INDEX_SAME
#undef INDEX_REDUCE_AS
#undef INDEX_LOOP
  return TQT_STATUS_OK;
}

/* Output 0 as a copy of x (strings still shared: the caller owns them once it is done). */
static struct tqt_rt_tensor *index_output_copy(struct tqt_kernel_ctx *k,
                                               const struct tqt_rt_tensor *x) {
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (y && y->nbytes) memcpy(y->data, x->data, y->nbytes);
  return y;
}

/* Fails the node unless updates u has the expected type and shape. */
static enum tqt_status index_check_updates(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                           const struct tqt_rt_tensor *u, size_t rank,
                                           const int64_t *dims) {
  bool ok = u->dtype == x->dtype && u->rank == rank;
  for (size_t i = 0; ok && i < rank; i++) ok = u->dims[i] == dims[i];
  if (ok) return TQT_STATUS_OK;
  char su[128];
  return tqt_kernel_fail(k, TQT_STATUS_INVALID, "updates %s %s do not fit data %s and the indices",
                         tqt_dtype_name(u->dtype), tqt_rt_shape_str(u, su, sizeof su),
                         tqt_dtype_name(x->dtype));
}

/* Scatter (opsets 9-10) and ScatterElements. */
static enum tqt_status scatter_elements_run(struct tqt_kernel_ctx *k) {
  const struct scatter_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *ix = tqt_kernel_input_required(k, 1);
  const struct tqt_rt_tensor *u = tqt_kernel_input_required(k, 2);
  size_t axis;
  if (!x || !ix || !u || tqt_kernel_axis(k, p->axis, x->rank, &axis) ||
      index_check_updates(k, x, u, ix->rank, ix->dims))
    return k->d->status;
  int64_t *off = index_element_offsets(k, x, ix, axis);
  if (!off) return k->d->status;
  struct tqt_rt_tensor *y = index_output_copy(k, x);
  enum tqt_status st = k->d->status;
  if (y && !(st = index_scatter_apply(k, y, u->data, off, tqt_rt_numel(ix), 1, p->reduce)))
    st = tqt_kernel_strings_own(k, y);
  else if (y && x->dtype == TQT_DTYPE_STRING)
    memset(y->data, 0, y->nbytes); /* give back no shared strings */
  free(off);
  return st;
}

/* The indices' shape, of data's type. */
static enum tqt_status gather_elements_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x, *ix;
  int32_t dtype;
  size_t axis;
  if (gather_infer_operands(c, &x, &ix, &dtype, &axis)) return c->k->d->status;
  if (x && ix && x->rank != ix->rank)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "indices of rank %zu for data of rank %zu",
                           ix->rank, x->rank);
  if (ix)
    tqt_sym_tensor(&c->out[0], dtype, ix->rank, ix->dims);
  else
    tqt_sym_tensor_unranked(&c->out[0], dtype);
  return TQT_STATUS_OK;
}

/* ---- GatherND, ScatterND ---- */

struct nd_params {
  int64_t batch_dims;
  enum index_reduce reduce;
};

static enum tqt_status nd_init(struct tqt_kernel_ctx *k) {
  if (scatter_init(k)) return k->d->status;
  struct scatter_params *s = k->params;
  struct nd_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->reduce = s->reduce;
  p->batch_dims = tqt_attr_int(k->node, "batch_dims", 0);
  k->params = p;
  return TQT_STATUS_OK;
}

/* The offsets in x of the slices that ix's index tuples (its last dim, of length m) address,
 * batch by batch over the first b dims; *block receives the slice length. Returns a malloc'd
 * array of numel(ix) / m entries (NULL after failing the node). */
static int64_t *index_tuple_offsets(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                    const struct tqt_rt_tensor *ix, size_t b, int64_t *block) {
  char sx[128], si[128];
  size_t q = ix->rank, r = x->rank;
  int64_t m = q ? ix->dims[q - 1] : 0;
  bool ok = index_is_int(ix->dtype) && q >= 1 && b < q && b < r && m >= 1 && m <= (int64_t)(r - b);
  for (size_t i = 0; ok && i < b; i++) ok = ix->dims[i] == x->dims[i];
  if (!ok) {
    tqt_kernel_fail(k, TQT_STATUS_INVALID, "indices %s %s do not fit data %s with %zu batch dims",
                    tqt_dtype_name(ix->dtype), tqt_rt_shape_str(ix, si, sizeof si),
                    tqt_rt_shape_str(x, sx, sizeof sx), b);
    return NULL;
  }
  int64_t strides[TQT_RANK_MAX], batches = 1, tuples = tqt_rt_numel(ix) / m;
  index_strides(r, x->dims, strides);
  for (size_t i = 0; i < b; i++) batches *= x->dims[i];
  *block = strides[b + (size_t)m - 1];
  int64_t per_batch = batches ? tuples / batches : 0, batch_size = b ? strides[b - 1] : 0;
  int64_t *off = malloc((size_t)(tuples ? tuples : 1) * sizeof *off);
  if (!off) {
    tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    return NULL;
  }
  for (int64_t t = 0, j = 0; t < tuples; t++) {
    int64_t o = per_batch ? t / per_batch * batch_size : 0;
    for (int64_t c = 0; c < m; c++, j++) {
      int64_t v = 0;
      if (index_at(k, ix, j, x->dims[b + (size_t)c], &v)) {
        free(off);
        return NULL;
      }
      o += v * strides[b + (size_t)c];
    }
    off[t] = o;
  }
  return off;
}

static enum tqt_status gather_nd_run(struct tqt_kernel_ctx *k) {
  const struct nd_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *ix = tqt_kernel_input_required(k, 1);
  if (!x || !ix) return k->d->status;
  if (p->batch_dims < 0 || p->batch_dims >= (int64_t)TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "batch_dims %lld", (long long)p->batch_dims);
  size_t b = (size_t)p->batch_dims;
  int64_t block, *off = index_tuple_offsets(k, x, ix, b, &block);
  if (!off) return k->d->status;
  /* Output: ix's dims but the last, then x's dims after the indexed ones. */
  size_t m = (size_t)ix->dims[ix->rank - 1], rank = ix->rank - 1 + (x->rank - b - m);
  int64_t dims[TQT_RANK_MAX], tuples = tqt_rt_numel(ix) / (int64_t)m;
  enum tqt_status st;
  if (rank > TQT_RANK_MAX) {
    st = tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output rank %zu exceeds %d", rank,
                         TQT_RANK_MAX);
    goto done;
  }
  memcpy(dims, ix->dims, (ix->rank - 1) * sizeof *dims);
  memcpy(dims + ix->rank - 1, x->dims + b + m, (x->rank - b - m) * sizeof *dims);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, rank, dims);
  if (!y) {
    st = k->d->status;
    goto done;
  }
  size_t esz = index_esize(x->dtype), bytes = (size_t)block * esz;
  for (int64_t t = 0; t < tuples; t++)
    memcpy((char *)y->data + (size_t)t * bytes, (const char *)x->data + (size_t)off[t] * esz,
           bytes);
  st = tqt_kernel_strings_own(k, y);
done:
  free(off);
  return st;
}

/* indices[:-1] + data[batch_dims + m:], m the indices' last dim (a constant, or no rank). */
static enum tqt_status gather_nd_infer(struct tqt_infer_ctx *c) {
  const struct nd_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  const struct tqt_sym *ix = tqt_sym_ranked(tqt_infer_input(c, 1));
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0));
  tqt_sym_tensor_unranked(&c->out[0], dtype);
  int64_t m;
  if (!x || !ix) return TQT_STATUS_OK;
  size_t q = ix->rank, r = x->rank, b = (size_t)p->batch_dims;
  if (p->batch_dims < 0 || q < 1 || b >= q || b >= r)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "indices of rank %zu, data of rank %zu, %lld "
                           "batch dims", q, r, (long long)p->batch_dims);
  if (!tqt_sdim_value(ix->dims[q - 1], &m)) return TQT_STATUS_OK;
  if (m < 1 || m > (int64_t)(r - b))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "index tuples of %lld for data of rank %zu",
                           (long long)m, r);
  size_t rank = q - 1 + r - b - (size_t)m;
  if (rank > TQT_RANK_MAX) return TQT_STATUS_OK;
  tqt_sdim dims[TQT_RANK_MAX];
  size_t n = 0;
  /* The batch dims are data's and the indices' alike: a constant tells more than a symbol. */
  for (size_t i = 0; i + 1 < q; i++)
    dims[n++] = i < b && tqt_sdim_value(x->dims[i], NULL) ? x->dims[i] : ix->dims[i];
  for (size_t i = b + (size_t)m; i < r; i++) dims[n++] = x->dims[i];
  tqt_sym_tensor(&c->out[0], dtype, n, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status scatter_nd_run(struct tqt_kernel_ctx *k) {
  const struct nd_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *ix = tqt_kernel_input_required(k, 1);
  const struct tqt_rt_tensor *u = tqt_kernel_input_required(k, 2);
  if (!x || !ix || !u) return k->d->status;
  int64_t block, *off = index_tuple_offsets(k, x, ix, 0, &block);
  if (!off) return k->d->status;
  /* Updates: ix's dims but the last, then x's dims after the indexed ones. */
  size_t m = (size_t)ix->dims[ix->rank - 1], rank = ix->rank - 1 + (x->rank - m);
  int64_t dims[2 * TQT_RANK_MAX];
  memcpy(dims, ix->dims, (ix->rank - 1) * sizeof *dims);
  memcpy(dims + ix->rank - 1, x->dims + m, (x->rank - m) * sizeof *dims);
  enum tqt_status st = index_check_updates(k, x, u, rank, dims);
  struct tqt_rt_tensor *y = st ? NULL : index_output_copy(k, x);
  if (!y) {
    st = k->d->status;
  } else if (!(st = index_scatter_apply(k, y, u->data, off, tqt_rt_numel(ix) / (int64_t)m, block,
                                        p->reduce))) {
    st = tqt_kernel_strings_own(k, y);
  } else if (x->dtype == TQT_DTYPE_STRING) {
    memset(y->data, 0, y->nbytes); /* give back no shared strings */
  }
  free(off);
  return st;
}

/* ---- OneHot ---- */

static enum tqt_status one_hot_run(struct tqt_kernel_ctx *k) {
  const struct axis_params *p = k->params;
  const struct tqt_rt_tensor *ix = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *td = tqt_kernel_input_required(k, 1);
  const struct tqt_rt_tensor *tv = tqt_kernel_input_required(k, 2);
  if (!ix || !td || !tv) return k->d->status;
  if (tqt_rt_numel(td) != 1 || tqt_rt_numel(tv) != 2 || ix->dtype == TQT_DTYPE_STRING ||
      td->dtype == TQT_DTYPE_STRING || tv->dtype == TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "depth must be one number and values two (off, on) numbers");
  double depth_f = tqt_rt_get(td, 0);
  if (!(depth_f >= 1 && depth_f < 0x1p62))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "depth %g", depth_f);
  int64_t depth = (int64_t)depth_f;
  size_t axis, q = ix->rank;
  if (q + 1 > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output rank %zu exceeds %d", q + 1,
                           TQT_RANK_MAX);
  if (tqt_kernel_axis(k, p->axis, q + 1, &axis)) return k->d->status;
  int64_t dims[TQT_RANK_MAX], outer = 1, inner = 1;
  for (size_t i = 0; i < axis; i++) outer *= (dims[i] = ix->dims[i]);
  dims[axis] = depth;
  for (size_t i = axis; i < q; i++) inner *= (dims[i + 1] = ix->dims[i]);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, tv->dtype, q + 1, dims);
  if (!y) return k->d->status;
  size_t esz = index_esize(tv->dtype);
  const char *off_value = tv->data, *on_value = off_value + esz;
  char *out = y->data;
  int64_t total = tqt_rt_numel(y);
  for (int64_t i = 0; i < total; i++) memcpy(out + i * (int64_t)esz, off_value, esz);
  /* Indices outside [-depth, depth) leave their row all off. */
  for (int64_t o = 0, j = 0; o < outer; o++) {
    for (int64_t i = 0; i < inner; i++, j++) {
      double v = tqt_rt_get(ix, j);
      if (!(v >= (double)-depth && v < (double)depth)) continue;
      int64_t c = (int64_t)v;
      if (c < 0) c += depth;
      memcpy(out + ((o * depth + c) * inner + i) * (int64_t)esz, on_value, esz);
    }
  }
  return TQT_STATUS_OK;
}

/* depth as a dim: an integer's value, or a float constant truncated as run does. */
static tqt_sdim one_hot_infer_depth(struct tqt_infer_ctx *c, const struct tqt_sym *s) {
  tqt_sdim d = tqt_sym_elem(c->dims, s, 0);
  if (d || !s || !s->constant || s->constant->dtype == TQT_DTYPE_STRING ||
      tqt_rt_numel(s->constant) != 1)
    return d;
  double v = tqt_rt_get(s->constant, 0);
  return v >= 1 && v < 0x1p62 ? tqt_sdim_const(c->dims, (int64_t)v) : NULL;
}

/* The indices' dims with depth inserted at axis, of the values' type. */
static enum tqt_status one_hot_infer(struct tqt_infer_ctx *c) {
  const struct axis_params *p = c->k->params;
  const struct tqt_sym *ix = tqt_sym_ranked(tqt_infer_input(c, 0));
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 2));
  size_t axis;
  if (!ix || ix->rank + 1 > TQT_RANK_MAX) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  if (tqt_kernel_axis(c->k, p->axis, ix->rank + 1, &axis)) return c->k->d->status;
  tqt_sdim dims[TQT_RANK_MAX];
  tqt_sdim depth = one_hot_infer_depth(c, tqt_infer_input(c, 1));
  int64_t v;
  if (tqt_sdim_value(depth, &v) && v < 1)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "depth %lld", (long long)v);
  for (size_t i = 0, j = 0; i <= ix->rank; i++) dims[i] = i == axis ? depth : ix->dims[j++];
  tqt_sym_tensor(&c->out[0], dtype, ix->rank + 1, dims);
  return TQT_STATUS_OK;
}

/* ---- NonZero, Compress ---- */

/* Whether element i of x is not zero (by value: -0.0 is zero, NaN is not). */
static bool index_nonzero(const struct tqt_rt_tensor *x, int64_t i) {
  switch (x->dtype) {
  case TQT_DTYPE_FLOAT: return ((const float *)x->data)[i] != 0;
  case TQT_DTYPE_DOUBLE: return ((const double *)x->data)[i] != 0;
  case TQT_DTYPE_FLOAT16:
  case TQT_DTYPE_BFLOAT16: return (((const uint16_t *)x->data)[i] & 0x7fff) != 0;
  case TQT_DTYPE_STRING: return ((const struct tqt_bytes *)x->data)[i].len != 0;
  default: return tqt_rt_get_int(x, i) != 0;
  }
}

static enum tqt_status non_zero_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t n = tqt_rt_numel(x), count = 0, idx[TQT_RANK_MAX] = {0};
  for (int64_t i = 0; i < n; i++) count += index_nonzero(x, i);
  int64_t dims[2] = {(int64_t)x->rank, count};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT64, 2, dims);
  if (!y) return k->d->status;
  int64_t *out = y->data;
  for (int64_t i = 0, j = 0; i < n; i++) {
    if (index_nonzero(x, i)) {
      for (size_t d = 0; d < x->rank; d++) out[(int64_t)d * count + j] = idx[d];
      j++;
    }
    for (size_t d = x->rank; d-- > 0;) {
      if (++idx[d] < x->dims[d]) break;
      idx[d] = 0;
    }
  }
  return TQT_STATUS_OK;
}

/* [rank, count]: the count depends on the data. A scalar's rows are left unknown: the reference
 * (numpy) gives it one, run none. */
static enum tqt_status non_zero_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  tqt_sdim dims[2] = {x && x->rank ? tqt_sdim_const(c->dims, (int64_t)x->rank) : NULL,
                      tqt_sdim_fresh(c->dims)};
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, 2, dims);
  return TQT_STATUS_OK;
}

struct compress_params {
  bool has_axis;
  int64_t axis;
};

static enum tqt_status compress_init(struct tqt_kernel_ctx *k) {
  struct compress_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->has_axis = tqt_attr_has(k->node, "axis");
  p->axis = tqt_attr_int(k->node, "axis", 0);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status compress_run(struct tqt_kernel_ctx *k) {
  const struct compress_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *c = tqt_kernel_input_required(k, 1);
  if (!x || !c) return k->d->status;
  if (c->rank != 1 || c->dtype != TQT_DTYPE_BOOL)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "condition must be a 1-D bool tensor");
  /* Without an axis the input counts as flattened. */
  size_t axis = 0, r = p->has_axis ? x->rank : 1;
  int64_t dims[TQT_RANK_MAX];
  if (p->has_axis) {
    if (tqt_kernel_axis(k, p->axis, x->rank, &axis)) return k->d->status;
    memcpy(dims, x->dims, r * sizeof *dims);
  } else {
    dims[0] = tqt_rt_numel(x);
  }
  const uint8_t *cond = c->data;
  int64_t len = dims[axis], kept = 0;
  for (int64_t i = 0; i < c->dims[0]; i++) {
    if (!cond[i]) continue;
    if (i >= len)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "condition selects %lld beyond dim %lld",
                             (long long)i, (long long)len);
    kept++;
  }
  size_t esz = index_esize(x->dtype), inner = esz;
  int64_t outer = 1;
  for (size_t i = 0; i < axis; i++) outer *= dims[i];
  for (size_t i = axis + 1; i < r; i++) inner *= (size_t)dims[i];
  dims[axis] = kept;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, r, dims);
  if (!y) return k->d->status;
  const char *src = x->data;
  char *dst = y->data;
  for (int64_t o = 0; o < outer; o++, src += (size_t)len * inner)
    for (int64_t i = 0; i < c->dims[0] && i < len; i++)
      if (cond[i]) {
        memcpy(dst, src + (size_t)i * inner, inner);
        dst += inner;
      }
  return tqt_kernel_strings_own(k, y);
}

/* x with the compressed axis (or x flattened) of a count that depends on the data. */
static enum tqt_status compress_infer(struct tqt_infer_ctx *c) {
  const struct compress_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0));
  tqt_sdim kept = tqt_sdim_fresh(c->dims), dims[TQT_RANK_MAX];
  size_t axis;
  if (!p->has_axis) {
    tqt_sym_tensor(&c->out[0], dtype, 1, &kept);
  } else if (!x) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
  } else {
    if (tqt_kernel_axis(c->k, p->axis, x->rank, &axis)) return c->k->d->status;
    memcpy(dims, x->dims, x->rank * sizeof *dims);
    dims[axis] = kept;
    tqt_sym_tensor(&c->out[0], dtype, x->rank, dims);
  }
  return TQT_STATUS_OK;
}

/* ---- ReverseSequence ---- */

struct reverse_params {
  int64_t batch_axis, time_axis;
};

static enum tqt_status reverse_init(struct tqt_kernel_ctx *k) {
  struct reverse_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->batch_axis = tqt_attr_int(k->node, "batch_axis", 1);
  p->time_axis = tqt_attr_int(k->node, "time_axis", 0);
  if (!((p->batch_axis == 0 && p->time_axis == 1) || (p->batch_axis == 1 && p->time_axis == 0)))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "batch_axis %lld and time_axis %lld",
                           (long long)p->batch_axis, (long long)p->time_axis);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status reverse_run(struct tqt_kernel_ctx *k) {
  const struct reverse_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *lens = tqt_kernel_input_required(k, 1);
  if (!x || !lens) return k->d->status;
  char sx[128];
  if (x->rank < 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s has rank below 2",
                           tqt_rt_shape_str(x, sx, sizeof sx));
  int64_t batch = x->dims[p->batch_axis], steps = x->dims[p->time_axis];
  if (!index_is_int(lens->dtype) || lens->rank != 1 || lens->dims[0] != batch)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sequence_lens must be %lld integers",
                           (long long)batch);
  for (int64_t b = 0; b < batch; b++) {
    int64_t len = tqt_rt_get_int(lens, b);
    if (len < 0 || len > steps)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sequence length %lld is not in [0, %lld]",
                             (long long)len, (long long)steps);
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  size_t block = index_esize(x->dtype);
  for (size_t i = 2; i < x->rank; i++) block *= (size_t)x->dims[i];
  /* (b, t) lies at slot (b * steps + t) or (t * batch + b), each slot a block of the inner dims. */
  int64_t b_stride = p->batch_axis == 0 ? steps : 1, t_stride = p->batch_axis == 0 ? 1 : batch;
  for (int64_t b = 0; b < batch; b++) {
    int64_t len = tqt_rt_get_int(lens, b);
    for (int64_t t = 0; t < steps; t++) {
      int64_t from = t < len ? len - 1 - t : t;
      memcpy((char *)y->data + (size_t)(b * b_stride + t * t_stride) * block,
             (const char *)x->data + (size_t)(b * b_stride + from * t_stride) * block, block);
    }
  }
  return tqt_kernel_strings_own(k, y);
}

/* ---- Unique ---- */

struct unique_params {
  bool has_axis, sorted;
  int64_t axis;
};

static enum tqt_status unique_init(struct tqt_kernel_ctx *k) {
  struct unique_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->has_axis = tqt_attr_has(k->node, "axis");
  p->axis = tqt_attr_int(k->node, "axis", 0);
  p->sorted = tqt_attr_int(k->node, "sorted", 1) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

/* The items Unique compares: the slices x[o, item, i] over o < outer, i < inner. */
struct unique_items {
  const struct tqt_rt_tensor *x;
  int64_t outer, n, inner;
};

static int unique_elem_cmp(int32_t dtype, const void *data, int64_t a, int64_t b) {
#define UNIQUE_CMP(T)                                                                              \
  do {                                                                                             \
    T a_ = ((const T *)data)[a], b_ = ((const T *)data)[b];                                        \
    return a_ < b_ ? -1 : a_ > b_;                                                                 \
  } while (0)
  switch (dtype) {
  case TQT_DTYPE_FLOAT: UNIQUE_CMP(float);
  case TQT_DTYPE_DOUBLE: UNIQUE_CMP(double);
  case TQT_DTYPE_INT8: UNIQUE_CMP(int8_t);
  case TQT_DTYPE_UINT8:
  case TQT_DTYPE_BOOL: UNIQUE_CMP(uint8_t);
  case TQT_DTYPE_INT16: UNIQUE_CMP(int16_t);
  case TQT_DTYPE_UINT16: UNIQUE_CMP(uint16_t);
  case TQT_DTYPE_INT32: UNIQUE_CMP(int32_t);
  case TQT_DTYPE_UINT32: UNIQUE_CMP(uint32_t);
  case TQT_DTYPE_INT64: UNIQUE_CMP(int64_t);
  case TQT_DTYPE_UINT64: UNIQUE_CMP(uint64_t);
  case TQT_DTYPE_FLOAT16: {
    float fa = tqt_f16_to_f32(((const uint16_t *)data)[a]);
    float fb = tqt_f16_to_f32(((const uint16_t *)data)[b]);
    return fa < fb ? -1 : fa > fb;
  }
  case TQT_DTYPE_BFLOAT16: {
    float fa = tqt_bf16_to_f32(((const uint16_t *)data)[a]);
    float fb = tqt_bf16_to_f32(((const uint16_t *)data)[b]);
    return fa < fb ? -1 : fa > fb;
  }
  case TQT_DTYPE_STRING: {
    const struct tqt_bytes *sa = &((const struct tqt_bytes *)data)[a];
    const struct tqt_bytes *sb = &((const struct tqt_bytes *)data)[b];
    size_t len = sa->len < sb->len ? sa->len : sb->len;
    int c = len ? memcmp(sa->data, sb->data, len) : 0;
    return c ? c : (sa->len > sb->len) - (sa->len < sb->len);
  }
  default: return 0;
  }
#undef UNIQUE_CMP
}

/* Lexicographic order of items a and b (element by element, in row-major order). */
static int unique_item_cmp(const struct unique_items *it, int64_t a, int64_t b) {
  for (int64_t o = 0; o < it->outer; o++) {
    int64_t base = o * it->n * it->inner;
    for (int64_t i = 0; i < it->inner; i++) {
      int c = unique_elem_cmp(it->x->dtype, it->x->data, base + a * it->inner + i,
                              base + b * it->inner + i);
      if (c) return c;
    }
  }
  return 0;
}

/* Stable bottom-up merge sort of v[0..n) by item order (tmp: n entries of scratch). */
static void unique_sort(const struct unique_items *it, int64_t *v, int64_t *tmp, int64_t n) {
  for (int64_t width = 1; width < n; width *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * width) {
      int64_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) tmp[o++] = unique_item_cmp(it, v[j], v[i]) < 0 ? v[j++] : v[i++];
      while (i < mid) tmp[o++] = v[i++];
      while (j < hi) tmp[o++] = v[j++];
    }
    memcpy(v, tmp, (size_t)n * sizeof *v);
  }
}

static enum tqt_status unique_run(struct tqt_kernel_ctx *k) {
  const struct unique_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  struct unique_items it = {x, 1, tqt_rt_numel(x), 1};
  size_t axis = 0;
  if (p->has_axis) {
    if (tqt_kernel_axis(k, p->axis, x->rank, &axis)) return k->d->status;
    it.n = x->dims[axis];
    for (size_t i = 0; i < axis; i++) it.outer *= x->dims[i];
    for (size_t i = axis + 1; i < x->rank; i++) it.inner *= x->dims[i];
  }
  enum tqt_status st = TQT_STATUS_OK;
  int64_t n = it.n, groups = 0;
  /* order: items sorted (stably); group: each item's group, by sorted position; first: each
   * group's first occurrence; pos: each group's output slot. */
  int64_t *buf = malloc((size_t)(5 * n + 1) * sizeof *buf);
  if (!buf) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  int64_t *order = buf, *tmp = buf + n, *first = buf + 2 * n, *count = buf + 3 * n,
          *pos = buf + 4 * n;
  for (int64_t i = 0; i < n; i++) order[i] = i;
  unique_sort(&it, order, tmp, n);
  int64_t *group_of = tmp; /* reuses the scratch: item -> group */
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || unique_item_cmp(&it, order[i - 1], order[i]) != 0) {
      first[groups] = order[i]; /* stable: the smallest index of its run */
      count[groups++] = 0;
    }
    count[groups - 1]++;
    group_of[order[i]] = groups - 1;
  }
  /* Sorted: groups in value order. Otherwise by first occurrence: the rank of first[g]. */
  for (int64_t g = 0; g < groups; g++) pos[g] = g;
  if (!p->sorted) {
    int64_t slot = 0;
    for (int64_t i = 0; i < n; i++)
      if (first[group_of[i]] == i) pos[group_of[i]] = slot++;
  }
  int64_t dims[TQT_RANK_MAX];
  size_t rank = p->has_axis ? x->rank : 1;
  if (p->has_axis) memcpy(dims, x->dims, rank * sizeof *dims);
  dims[axis] = groups;
  /* Outputs the node omits come back NULL without a failure. */
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, rank, dims), *ti = NULL, *tinv = NULL,
                       *tc = NULL;
  if (!k->d->status) ti = tqt_kernel_output(k, 1, TQT_DTYPE_INT64, 1, &groups);
  if (!k->d->status) tinv = tqt_kernel_output(k, 2, TQT_DTYPE_INT64, 1, &n);
  if (!k->d->status) tc = tqt_kernel_output(k, 3, TQT_DTYPE_INT64, 1, &groups);
  if (k->d->status) {
    st = k->d->status;
    goto done;
  }
  size_t esz = index_esize(x->dtype), slice = (size_t)it.inner * esz;
  for (int64_t g = 0; g < groups; g++) {
    int64_t s = pos[g];
    for (int64_t o = 0; y && o < it.outer; o++)
      memcpy((char *)y->data + (size_t)((o * groups + s) * it.inner) * esz,
             (const char *)x->data + (size_t)((o * n + first[g]) * it.inner) * esz, slice);
    if (ti) ((int64_t *)ti->data)[s] = first[g];
    if (tc) ((int64_t *)tc->data)[s] = count[g];
  }
  if (tinv)
    for (int64_t i = 0; i < n; i++) ((int64_t *)tinv->data)[i] = pos[group_of[i]];
  if (y) st = tqt_kernel_strings_own(k, y);
done:
  free(buf);
  return st;
}

/* Y: x with the items (elements, or slices along axis) cut to the number of distinct ones, which
 * depends on the data; indices and counts have that many entries, inverse_indices one per
 * item. */
static enum tqt_status unique_infer(struct tqt_infer_ctx *c) {
  const struct unique_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0));
  tqt_sdim groups = tqt_sdim_fresh(c->dims), items = NULL, dims[TQT_RANK_MAX];
  size_t axis;
  if (!p->has_axis) {
    tqt_sym_tensor(&c->out[0], dtype, 1, &groups);
    items = x ? tqt_sdim_const(c->dims, 1) : NULL;
    for (size_t i = 0; x && i < x->rank; i++) items = tqt_sdim_mul(c->dims, items, x->dims[i]);
  } else if (!x) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
  } else {
    if (tqt_kernel_axis(c->k, p->axis, x->rank, &axis)) return c->k->d->status;
    memcpy(dims, x->dims, x->rank * sizeof *dims);
    items = dims[axis];
    dims[axis] = groups;
    tqt_sym_tensor(&c->out[0], dtype, x->rank, dims);
  }
  for (size_t i = 1; i < c->n_out && i < 4; i++)
    tqt_sym_tensor(&c->out[i], TQT_DTYPE_INT64, 1, i == 2 ? &items : &groups);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel index_kernels[] = {
    {"", "Gather", 1, axis_init, gather_run, gather_infer},
    {"", "GatherElements", 11, axis_init, gather_elements_run, gather_elements_infer},
    {"", "GatherND", 11, nd_init, gather_nd_run, gather_nd_infer},
    /* Scatters and ReverseSequence: data's type and shape. */
    {"", "Scatter", 9, scatter_init, scatter_elements_run, tqt_infer_unary},
    {"", "ScatterElements", 11, scatter_init, scatter_elements_run, tqt_infer_unary},
    {"", "ScatterND", 11, nd_init, scatter_nd_run, tqt_infer_unary},
    {"", "OneHot", 9, axis_init, one_hot_run, one_hot_infer},
    {"", "NonZero", 9, NULL, non_zero_run, non_zero_infer},
    {"", "Compress", 9, compress_init, compress_run, compress_infer},
    {"", "ReverseSequence", 10, reverse_init, reverse_run, tqt_infer_unary},
    {"", "Unique", 11, unique_init, unique_run, unique_infer},
};

const struct tqt_kernel_family tqt_family_index = {"index", index_kernels,
                                                   sizeof index_kernels / sizeof index_kernels[0]};
