/* Kernels: the shape family. Ops that move, repeat or create elements without arithmetic on
 * them: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, Transpose, DepthToSpace,
 * SpaceToDepth, Concat, Split, Slice, Pad, Expand, Tile, Shape, Size, Constant,
 * ConstantOfShape, Range, EyeLike, Trilu.
 *
 * Elements are moved as opaque blocks of their size, so one code path serves every type. STRING
 * elements move as struct tqt_bytes (sharing the source's bytes) and then get their own copies in
 * one pass over the output (tqt_kernel_strings_own), since an output owns its strings.
 *
 * Strided copies (Transpose, Slice, Expand, Tile, the depth/space ops) go through one walker that
 * merges dimensions which are contiguous in the source, then copies whole inner runs with memcpy,
 * or transposes tiles when the source is contiguous along another dimension (NCHW <-> NHWC). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "kernel.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/* Tile needs two view dimensions per tensor dimension. */
#define SHAPE_WALK_MAX (2 * TQT_RANK_MAX)
/* Side of the square tiles the walker transposes (32 x 32 floats: 4 KiB, fits L1 twice). */
#define SHAPE_TILE 32

/* ---- helpers ---- */

static size_t shape_esize(int32_t dtype) {
  return dtype == TQT_DTYPE_STRING ? sizeof(struct tqt_bytes) : tqt_dtype_size(dtype);
}

/* Product of dims, failing the node on overflow (dims are already non-negative). */
static enum tqt_status shape_numel(struct tqt_kernel_ctx *k, size_t rank, const int64_t *dims,
                                   int64_t *out) {
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) {
    if (dims[i] < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "dimension %zu is negative (%lld)", i,
                             (long long)dims[i]);
    if (dims[i] && n > INT64_MAX / dims[i])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the output has too many elements");
    n *= dims[i];
  }
  *out = n;
  return TQT_STATUS_OK;
}

/* Row-major strides (in elements) of a tensor's dims. */
static void shape_strides(const struct tqt_rt_tensor *t, int64_t *strides) {
  int64_t s = 1;
  for (size_t i = t->rank; i-- > 0;) {
    strides[i] = s;
    s *= t->dims[i];
  }
}

static bool shape_is_zero(const void *v, size_t esz) {
  const unsigned char *b = v;
  for (size_t i = 0; i < esz; i++)
    if (b[i]) return false;
  return true;
}

/* Writes n copies of the element at val. */
static void shape_fill(void *dst, const void *val, size_t esz, int64_t n) {
  if (n <= 0) return;
  if (shape_is_zero(val, esz)) {
    memset(dst, 0, (size_t)n * esz);
    return;
  }
#define SHAPE_FILL(T)                                                                              \
  do {                                                                                             \
    T v_;                                                                                          \
    memcpy(&v_, val, sizeof v_);                                                                   \
    T *d_ = dst;                                                                                   \
    for (int64_t i = 0; i < n; i++) d_[i] = v_;                                                    \
  } while (0)
  switch (esz) {
  case 1: memset(dst, *(const unsigned char *)val, (size_t)n); break;
  case 2: SHAPE_FILL(uint16_t); break;
  case 4: SHAPE_FILL(uint32_t); break;
  case 8: SHAPE_FILL(uint64_t); break;
  default:
    for (int64_t i = 0; i < n; i++) memcpy((char *)dst + (size_t)i * esz, val, esz);
    break;
  }
#undef SHAPE_FILL
}

/* Output i as x's type and elements under another shape (Reshape, Flatten, Squeeze, ...). */
static enum tqt_status shape_output_copy(struct tqt_kernel_ctx *k, size_t i,
                                         const struct tqt_rt_tensor *x, size_t rank,
                                         const int64_t *dims) {
  struct tqt_rt_tensor *y = tqt_kernel_output(k, i, x->dtype, rank, dims);
  if (!y) return k->d->status;
  if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
  return tqt_kernel_strings_own(k, y);
}

/* ---- the strided walker ---- */

/* dst[i] = src[i * stride] for i < n. */
static void shape_row_strided(void *dst, const void *src, int64_t stride, int64_t n, size_t esz) {
#define SHAPE_ROW(T)                                                                               \
  do {                                                                                             \
    T *d_ = dst;                                                                                   \
    const T *s_ = src;                                                                             \
    for (int64_t i = 0; i < n; i++) d_[i] = s_[i * stride];                                        \
  } while (0)
  switch (esz) {
  case 1: SHAPE_ROW(uint8_t); break;
  case 2: SHAPE_ROW(uint16_t); break;
  case 4: SHAPE_ROW(uint32_t); break;
  case 8: SHAPE_ROW(uint64_t); break;
  default:
    for (int64_t i = 0; i < n; i++)
      memcpy((char *)dst + (size_t)i * esz, (const char *)src + i * stride * (int64_t)esz, esz);
    break;
  }
#undef SHAPE_ROW
}

#if defined(__SSE__)
/* The 4-byte case of shape_tile_transpose (float32 NCHW <-> NHWC): 4 x 4 blocks go through SSE
 * registers, about twice as fast as the scalar tiles. The bits are only moved, never computed on,
 * so any 4-byte type (and any NaN payload) passes unchanged. */
static void shape_tile_transpose4(uint32_t *dst, int64_t dst_stride, const uint32_t *src,
                                  int64_t src_stride, int64_t na, int64_t nb) {
  for (int64_t a0 = 0; a0 < na; a0 += SHAPE_TILE) {
    int64_t a1 = a0 + SHAPE_TILE < na ? a0 + SHAPE_TILE : na;
    for (int64_t b0 = 0; b0 < nb; b0 += SHAPE_TILE) {
      int64_t b1 = b0 + SHAPE_TILE < nb ? b0 + SHAPE_TILE : nb, a = a0;
      for (; a + 4 <= a1; a += 4) {
        int64_t b = b0;
        for (; b + 4 <= b1; b += 4) {
          const float *s = (const float *)(src + a + b * src_stride);
          __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + src_stride);
          __m128 r2 = _mm_loadu_ps(s + 2 * src_stride), r3 = _mm_loadu_ps(s + 3 * src_stride);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          float *d = (float *)(dst + a * dst_stride + b);
          _mm_storeu_ps(d, r0);
          _mm_storeu_ps(d + dst_stride, r1);
          _mm_storeu_ps(d + 2 * dst_stride, r2);
          _mm_storeu_ps(d + 3 * dst_stride, r3);
        }
        for (; b < b1; b++)
          for (int64_t i = 0; i < 4; i++)
            dst[(a + i) * dst_stride + b] = src[a + i + b * src_stride];
      }
      for (; a < a1; a++)
        for (int64_t b = b0; b < b1; b++) dst[a * dst_stride + b] = src[a + b * src_stride];
    }
  }
}
#endif

/* dst[a * dst_stride + b] = src[a + b * src_stride] for a < na, b < nb, tile by tile so that both
 * the contiguous reads (along a) and the contiguous writes (along b) stay in cache. */
static void shape_tile_transpose(void *dst, int64_t dst_stride, const void *src, int64_t src_stride,
                                 int64_t na, int64_t nb, size_t esz) {
#define SHAPE_TILES(T)                                                                             \
  do {                                                                                             \
    T *d_ = dst;                                                                                   \
    const T *s_ = src;                                                                             \
    for (int64_t a0 = 0; a0 < na; a0 += SHAPE_TILE) {                                              \
      int64_t a1 = a0 + SHAPE_TILE < na ? a0 + SHAPE_TILE : na;                                    \
      for (int64_t b0 = 0; b0 < nb; b0 += SHAPE_TILE) {                                            \
        int64_t b1 = b0 + SHAPE_TILE < nb ? b0 + SHAPE_TILE : nb;                                  \
        for (int64_t a = a0; a < a1; a++)                                                          \
          for (int64_t b = b0; b < b1; b++) d_[a * dst_stride + b] = s_[a + b * src_stride];       \
      }                                                                                            \
    }                                                                                              \
  } while (0)
  switch (esz) {
  case 1: SHAPE_TILES(uint8_t); break;
  case 2: SHAPE_TILES(uint16_t); break;
#if defined(__SSE__)
  case 4: shape_tile_transpose4(dst, dst_stride, src, src_stride, na, nb); break;
#else
  case 4: SHAPE_TILES(uint32_t); break;
#endif
  case 8: SHAPE_TILES(uint64_t); break;
  default:
    for (int64_t a = 0; a < na; a++)
      for (int64_t b = 0; b < nb; b++)
        memcpy((char *)dst + (a * dst_stride + b) * (int64_t)esz,
               (const char *)src + (a + b * src_stride) * (int64_t)esz, esz);
    break;
  }
#undef SHAPE_TILES
}

/* Copies a strided view of src into contiguous dst: view element (i0, ..., i_{n-1}) is
 * src[sum ik * strides[k]] (strides in elements; 0 repeats, negative runs backwards). */
static void shape_walk(void *dst, const void *src, size_t esz, size_t rank, const int64_t *dims,
                       const int64_t *strides) {
  int64_t d[SHAPE_WALK_MAX], s[SHAPE_WALK_MAX], t[SHAPE_WALK_MAX];
  size_t m = 0;
  /* Drop unit dims and merge a dim into the previous one where the source is contiguous across
   * them (the destination always is). */
  for (size_t i = 0; i < rank; i++) {
    if (dims[i] == 0) return;
    if (dims[i] == 1) continue;
    if (m && s[m - 1] == strides[i] * dims[i]) {
      d[m - 1] *= dims[i];
      s[m - 1] = strides[i];
      continue;
    }
    d[m] = dims[i];
    s[m++] = strides[i];
  }
  if (m == 0) {
    memcpy(dst, src, esz);
    return;
  }
  t[m - 1] = 1;
  for (size_t i = m - 1; i > 0; i--) t[i - 1] = t[i] * d[i];
  /* j: a dim the source is contiguous along when the innermost one is not (tiled transpose). */
  size_t last = m - 1, j = last;
  if (s[last] != 1)
    for (size_t i = 0; i < last; i++)
      if (s[i] == 1) j = i;
  int64_t od[SHAPE_WALK_MAX], os[SHAPE_WALK_MAX], ot[SHAPE_WALK_MAX], idx[SHAPE_WALK_MAX];
  size_t n = 0;
  int64_t total = 1;
  for (size_t i = 0; i < last; i++) {
    if (i == j) continue;
    od[n] = d[i];
    os[n] = s[i];
    ot[n] = t[i];
    idx[n++] = 0;
    total *= d[i];
  }
  const char *sp = src;
  char *dp = dst;
  int64_t so = 0, to = 0, e = (int64_t)esz;
  for (int64_t it = 0; it < total; it++) {
    if (s[last] == 1)
      memcpy(dp + to * e, sp + so * e, (size_t)(d[last] * e));
    else if (j != last)
      shape_tile_transpose(dp + to * e, t[j], sp + so * e, s[last], d[j], d[last], esz);
    else
      shape_row_strided(dp + to * e, sp + so * e, s[last], d[last], esz);
    for (size_t i = n; i-- > 0;) { /* odometer step over the outer dims */
      so += os[i];
      to += ot[i];
      if (++idx[i] < od[i]) break;
      so -= os[i] * od[i];
      to -= ot[i] * od[i];
      idx[i] = 0;
    }
  }
}

/* Output 0 as the strided view (rank, dims, strides) of x starting at element offset. */
static enum tqt_status shape_output_walk(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                         size_t out_rank, const int64_t *out_dims, size_t rank,
                                         const int64_t *dims, const int64_t *strides,
                                         int64_t offset) {
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, out_rank, out_dims);
  if (!y) return k->d->status;
  if (tqt_rt_numel(y) == 0) return TQT_STATUS_OK;
  size_t esz = shape_esize(x->dtype);
  shape_walk(y->data, (const char *)x->data + offset * (int64_t)esz, esz, rank, dims, strides);
  return tqt_kernel_strings_own(k, y);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze ---- */

struct reshape_params {
  bool allowzero;
  const int64_t *shape; /* Reshape-1: the attribute; later versions read input 1 */
  size_t n_shape;
};

static enum tqt_status reshape_init(struct tqt_kernel_ctx *k) {
  struct reshape_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->allowzero = tqt_attr_int(k->node, "allowzero", 0) != 0;
  if (k->kernel->since_version < 5) {
    p->shape = tqt_attr_ints(k->node, "shape", &p->n_shape);
    if (!p->shape) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'shape' is missing");
    if (p->n_shape > TQT_RANK_MAX)
      return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "shape of rank %zu exceeds %d", p->n_shape,
                             TQT_RANK_MAX);
  }
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status reshape_run(struct tqt_kernel_ctx *k) {
  const struct reshape_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t shape[TQT_RANK_MAX], dims[TQT_RANK_MAX];
  size_t n = p->n_shape;
  if (p->shape) {
    memcpy(shape, p->shape, n * sizeof *shape);
  } else {
    const struct tqt_rt_tensor *s = tqt_kernel_input_required(k, 1);
    if (!s || tqt_kernel_read_ints(k, s, shape, TQT_RANK_MAX, &n)) return k->d->status;
  }
  size_t infer = SIZE_MAX;
  int64_t known = 1;
  char sx[128];
  for (size_t i = 0; i < n; i++) {
    int64_t v = shape[i];
    if (v == 0 && !p->allowzero) {
      if (i >= x->rank)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                               "shape[%zu] is 0 but the input %s has no dim %zu", i,
                               tqt_rt_shape_str(x, sx, sizeof sx), i);
      v = x->dims[i];
    }
    if (v == -1) {
      if (infer != SIZE_MAX)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "shape has more than one -1");
      infer = i;
      continue;
    }
    if (v < 0) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "shape[%zu] is %lld", i, (long long)v);
    dims[i] = v;
    if (v && known > INT64_MAX / v)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "shape has too many elements");
    known *= v;
  }
  int64_t numel = tqt_rt_numel(x);
  if (infer != SIZE_MAX) {
    if (known == 0 || numel % known)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "cannot infer the -1 of the shape for input %s",
                             tqt_rt_shape_str(x, sx, sizeof sx));
    dims[infer] = numel / known;
  } else if (known != numel) {
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s has %lld elements, the shape %lld",
                           tqt_rt_shape_str(x, sx, sizeof sx), (long long)numel, (long long)known);
  }
  return shape_output_copy(k, 0, x, n, dims);
}

struct axis_params {
  int64_t axis;
};

static enum tqt_status flatten_init(struct tqt_kernel_ctx *k) {
  struct axis_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", 1);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status flatten_run(struct tqt_kernel_ctx *k) {
  const struct axis_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t r = (int64_t)x->rank, axis = p->axis < 0 ? p->axis + r : p->axis;
  if (axis < 0 || axis > r)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %lld is out of range for rank %lld",
                           (long long)p->axis, (long long)r);
  int64_t dims[2] = {1, 1};
  for (int64_t i = 0; i < r; i++) dims[i >= axis] *= x->dims[i];
  return shape_output_copy(k, 0, x, 2, dims);
}

struct axes_params {
  const int64_t *axes; /* from the attribute (before opset 13); NULL: from input 1 */
  size_t n_axes;
};

static enum tqt_status axes_init(struct tqt_kernel_ctx *k) {
  struct axes_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (k->kernel->since_version < 13) p->axes = tqt_attr_ints(k->node, "axes", &p->n_axes);
  if (k->kernel->since_version < 13 && !p->axes && strcmp(k->node->op_type, "Unsqueeze") == 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'axes' is missing");
  k->params = p;
  return TQT_STATUS_OK;
}

/* The axes of Squeeze/Unsqueeze: the attribute or input 1. *given is false when neither is. */
static enum tqt_status axes_read(struct tqt_kernel_ctx *k, int64_t *axes, size_t *n, bool *given) {
  const struct axes_params *p = k->params;
  *n = 0;
  *given = true;
  if (p->axes) {
    if (p->n_axes > TQT_RANK_MAX)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu axes", p->n_axes);
    memcpy(axes, p->axes, p->n_axes * sizeof *axes);
    *n = p->n_axes;
    return TQT_STATUS_OK;
  }
  const struct tqt_rt_tensor *a = k->kernel->since_version >= 13 ? tqt_kernel_input(k, 1) : NULL;
  if (!a) {
    *given = false;
    return k->d->status;
  }
  return tqt_kernel_read_ints(k, a, axes, TQT_RANK_MAX, n);
}

static enum tqt_status squeeze_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t axes[TQT_RANK_MAX], dims[TQT_RANK_MAX];
  size_t n, out_rank = 0;
  bool given, drop[TQT_RANK_MAX] = {false};
  if (axes_read(k, axes, &n, &given)) return k->d->status;
  for (size_t i = 0; i < n; i++) {
    size_t a;
    if (tqt_kernel_axis(k, axes[i], x->rank, &a)) return k->d->status;
    if (x->dims[a] != 1) {
      char sx[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "cannot squeeze axis %zu of %s", a,
                             tqt_rt_shape_str(x, sx, sizeof sx));
    }
    drop[a] = true;
  }
  for (size_t i = 0; i < x->rank; i++)
    if (!(given ? drop[i] : x->dims[i] == 1)) dims[out_rank++] = x->dims[i];
  return shape_output_copy(k, 0, x, out_rank, dims);
}

static enum tqt_status unsqueeze_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t axes[TQT_RANK_MAX], dims[TQT_RANK_MAX];
  size_t n;
  bool given, ones[TQT_RANK_MAX] = {false};
  if (axes_read(k, axes, &n, &given)) return k->d->status;
  if (!given) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input 'axes' is missing");
  size_t out_rank = x->rank + n;
  if (out_rank > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "output rank %zu exceeds %d", out_rank,
                           TQT_RANK_MAX);
  for (size_t i = 0; i < n; i++) {
    size_t a;
    if (tqt_kernel_axis(k, axes[i], out_rank, &a)) return k->d->status;
    if (ones[a]) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %zu is repeated", a);
    ones[a] = true;
  }
  for (size_t i = 0, j = 0; i < out_rank; i++) dims[i] = ones[i] ? 1 : x->dims[j++];
  return shape_output_copy(k, 0, x, out_rank, dims);
}

/* ---- Identity, Dropout ---- */

static enum tqt_status identity_run(struct tqt_kernel_ctx *k) {
  const struct tqt_value *v = k->n_inputs ? k->inputs[0] : NULL;
  if (v && v->kind == TQT_VALUE_KIND_TENSOR)
    return shape_output_copy(k, 0, &v->t, v->t.rank, v->t.dims);
  /* A sequence or an empty optional: copied as a whole value. */
  struct tqt_value *out = tqt_kernel_output_value(k, 0);
  if (!out || !v) return k->d->status;
  return tqt_value_copy(out, v, k->d);
}

struct dropout_params {
  float ratio;  /* before opset 12 (where it is input 1) */
  uint64_t rng; /* state of the generator training mode draws from */
};

static enum tqt_status dropout_init(struct tqt_kernel_ctx *k) {
  struct dropout_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->ratio = tqt_attr_float(k->node, "ratio", 0.5f);
  /* Without a seed the runs are still reproducible: a fixed one. */
  p->rng = (uint64_t)tqt_attr_int(k->node, "seed", 0x5eed);
  k->params = p;
  return TQT_STATUS_OK;
}

/* splitmix64: a uniform double in [0, 1). */
static double dropout_uniform(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

static enum tqt_status dropout_run(struct tqt_kernel_ctx *k) {
  struct dropout_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  double ratio = p->ratio;
  bool training = false;
  if (k->kernel->since_version >= 12) {
    const struct tqt_rt_tensor *r = tqt_kernel_input(k, 1), *t = tqt_kernel_input(k, 2);
    if (k->d->status) return k->d->status;
    if (r && tqt_rt_numel(r) != 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "ratio must be a scalar");
    if (t && (t->dtype != TQT_DTYPE_BOOL || tqt_rt_numel(t) != 1))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "training_mode must be a bool scalar");
    if (r) ratio = tqt_rt_get(r, 0);
    training = t && ((const uint8_t *)t->data)[0];
  }
  if (training && (ratio < 0 || ratio >= 1))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "ratio %g is not in [0, 1)", ratio);
  /* The mask is bool from opset 10, of the data's type before. */
  int32_t mask_type = k->kernel->since_version >= 10 ? TQT_DTYPE_BOOL : x->dtype;
  struct tqt_rt_tensor *mask = tqt_kernel_output(k, 1, mask_type, x->rank, x->dims);
  if (!mask && k->d->status) return k->d->status;
  if (!training || ratio == 0) {
    if (mask) {
      unsigned char one[16] = {0};
      struct tqt_rt_tensor one_t = {.dtype = mask_type, .data = one};
      tqt_rt_set(&one_t, 0, 1.0);
      shape_fill(mask->data, one, shape_esize(mask_type), tqt_rt_numel(mask));
    }
    return shape_output_copy(k, 0, x, x->rank, x->dims);
  }
  if (x->dtype != TQT_DTYPE_FLOAT && x->dtype != TQT_DTYPE_DOUBLE &&
      x->dtype != TQT_DTYPE_FLOAT16 && x->dtype != TQT_DTYPE_BFLOAT16)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "training mode on type %s",
                           tqt_dtype_name(x->dtype));
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  double scale = 1.0 / (1.0 - ratio);
  int64_t n = tqt_rt_numel(x);
  uint8_t *m = mask ? mask->data : NULL;
  if (x->dtype == TQT_DTYPE_FLOAT) {
    const float *xs = x->data;
    float *ys = y->data, fs = (float)scale;
    for (int64_t i = 0; i < n; i++) {
      bool keep = dropout_uniform(&p->rng) >= ratio;
      ys[i] = keep ? xs[i] * fs : 0.0f;
      if (m) m[i] = keep;
    }
    return TQT_STATUS_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    bool keep = dropout_uniform(&p->rng) >= ratio;
    tqt_rt_set(y, i, keep ? tqt_rt_get(x, i) * scale : 0.0);
    if (m) m[i] = keep;
  }
  return TQT_STATUS_OK;
}

/* ---- Transpose, DepthToSpace, SpaceToDepth ---- */

struct transpose_params {
  const int64_t *perm; /* NULL: reverse the dims */
  size_t n_perm;
};

static enum tqt_status transpose_init(struct tqt_kernel_ctx *k) {
  struct transpose_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->perm = tqt_attr_ints(k->node, "perm", &p->n_perm);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status transpose_run(struct tqt_kernel_ctx *k) {
  const struct transpose_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  size_t r = x->rank;
  int64_t in_strides[TQT_RANK_MAX], dims[TQT_RANK_MAX], strides[TQT_RANK_MAX];
  bool seen[TQT_RANK_MAX] = {false};
  if (p->perm && p->n_perm != r)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "perm has %zu entries for rank %zu", p->n_perm,
                           r);
  shape_strides(x, in_strides);
  for (size_t i = 0; i < r; i++) {
    int64_t a = p->perm ? p->perm[i] : (int64_t)(r - 1 - i);
    if (a < 0 || a >= (int64_t)r || seen[a])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "perm is not a permutation of 0..%zu", r - 1);
    seen[a] = true;
    dims[i] = x->dims[a];
    strides[i] = in_strides[a];
  }
  return shape_output_walk(k, x, r, dims, r, dims, strides, 0);
}

struct depth_params {
  int64_t blocksize;
  bool crd; /* DepthToSpace mode CRD (else DCR) */
};

static enum tqt_status depth_init(struct tqt_kernel_ctx *k) {
  struct depth_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->blocksize = tqt_attr_int(k->node, "blocksize", 0);
  if (p->blocksize < 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "blocksize %lld", (long long)p->blocksize);
  const char *mode = tqt_attr_string(k->node, "mode", "DCR");
  if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "mode '%s'", mode);
  p->crd = strcmp(mode, "CRD") == 0;
  k->params = p;
  return TQT_STATUS_OK;
}

/* x as [N, C, H, W] with b dividing what it must; fails the node otherwise. */
static const struct tqt_rt_tensor *depth_input(struct tqt_kernel_ctx *k, int64_t b, bool to_space) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return NULL;
  char sx[128];
  bool ok =
      x->rank == 4 && b <= INT64_MAX / b &&
      (to_space
           ? x->dims[1] % (b * b) == 0 && x->dims[2] <= INT64_MAX / b && x->dims[3] <= INT64_MAX / b
           : x->dims[2] % b == 0 && x->dims[3] % b == 0 && x->dims[1] <= INT64_MAX / (b * b));
  if (!ok) {
    tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s does not fit blocksize %lld",
                    tqt_rt_shape_str(x, sx, sizeof sx), (long long)b);
    return NULL;
  }
  return x;
}

static enum tqt_status depth_to_space_run(struct tqt_kernel_ctx *k) {
  const struct depth_params *p = k->params;
  int64_t b = p->blocksize;
  const struct tqt_rt_tensor *x = depth_input(k, b, true);
  if (!x) return k->d->status;
  int64_t n = x->dims[0], c = x->dims[1] / (b * b), h = x->dims[2], w = x->dims[3], hw = h * w;
  int64_t out[4] = {n, c, h * b, w * b};
  /* The output as [N, C', H, b1, W, b2]; the input channel of (c, b1, b2) is b1*b*C' + b2*C' + c
   * in DCR mode and c*b*b + b1*b + b2 in CRD mode. */
  int64_t dims[6] = {n, c, h, b, w, b};
  int64_t dcr[6] = {b * b * c * hw, hw, w, b * c * hw, 1, c * hw};
  int64_t crd[6] = {b * b * c * hw, b * b * hw, w, b * hw, 1, hw};
  return shape_output_walk(k, x, 4, out, 6, dims, p->crd ? crd : dcr, 0);
}

static enum tqt_status space_to_depth_run(struct tqt_kernel_ctx *k) {
  const struct depth_params *p = k->params;
  int64_t b = p->blocksize;
  const struct tqt_rt_tensor *x = depth_input(k, b, false);
  if (!x) return k->d->status;
  int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  int64_t out[4] = {n, c * b * b, h / b, w / b};
  /* The output as [N, b1, b2, C, H/b, W/b], read from input (c, h*b + b1, w*b + b2). */
  int64_t dims[6] = {n, b, b, c, h / b, w / b};
  int64_t strides[6] = {c * h * w, w, 1, h * w, b * w, b};
  return shape_output_walk(k, x, 4, out, 6, dims, strides, 0);
}

/* ---- Concat, Split ---- */

static enum tqt_status concat_init(struct tqt_kernel_ctx *k) {
  struct axis_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (k->kernel->since_version >= 4 && !tqt_attr_has(k->node, "axis"))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'axis' is missing");
  p->axis = tqt_attr_int(k->node, "axis", 1);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status concat_run(struct tqt_kernel_ctx *k) {
  const struct axis_params *p = k->params;
  const struct tqt_rt_tensor *x0 = tqt_kernel_input_required(k, 0);
  if (!x0) return k->d->status;
  size_t axis, r = x0->rank;
  if (tqt_kernel_axis(k, p->axis, r, &axis)) return k->d->status;
  int64_t dims[TQT_RANK_MAX];
  memcpy(dims, x0->dims, r * sizeof *dims);
  dims[axis] = 0;
  for (size_t i = 0; i < k->n_inputs; i++) {
    const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, i);
    if (!x) return k->d->status;
    bool ok = x->dtype == x0->dtype && x->rank == r;
    for (size_t d = 0; ok && d < r; d++) ok = d == axis || x->dims[d] == x0->dims[d];
    if (!ok) {
      char s0[128], si[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "input %zu (%s %s) does not fit input 0 (%s %s)", i,
                             tqt_dtype_name(x->dtype), tqt_rt_shape_str(x, si, sizeof si),
                             tqt_dtype_name(x0->dtype), tqt_rt_shape_str(x0, s0, sizeof s0));
    }
    dims[axis] += x->dims[axis];
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x0->dtype, r, dims);
  if (!y) return k->d->status;
  size_t esz = shape_esize(x0->dtype);
  int64_t outer = 1, inner = (int64_t)esz;
  for (size_t d = 0; d < axis; d++) outer *= dims[d];
  for (size_t d = axis + 1; d < r; d++) inner *= dims[d];
  char *dst = y->data;
  for (int64_t o = 0; o < outer; o++) {
    for (size_t i = 0; i < k->n_inputs; i++) {
      const struct tqt_rt_tensor *x = &k->inputs[i]->t;
      size_t block = (size_t)(x->dims[axis] * inner);
      if (!block) continue;
      memcpy(dst, (const char *)x->data + (size_t)o * block, block);
      dst += block;
    }
  }
  return tqt_kernel_strings_own(k, y);
}

struct split_params {
  int64_t axis;
  const int64_t *split; /* the attribute (before opset 13) */
  size_t n_split;
  int64_t num_outputs; /* opset 18; 0 when absent */
  int64_t *sizes;      /* per output, filled per run */
};

static enum tqt_status split_init(struct tqt_kernel_ctx *k) {
  struct split_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p || !(p->sizes = tqt_arena_calloc(k->arena, k->n_outputs + 1, sizeof *p->sizes)))
    return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis = tqt_attr_int(k->node, "axis", 0);
  if (k->kernel->since_version < 13) p->split = tqt_attr_ints(k->node, "split", &p->n_split);
  if (k->kernel->since_version >= 18) p->num_outputs = tqt_attr_int(k->node, "num_outputs", 0);
  if (p->num_outputs && (size_t)p->num_outputs != k->n_outputs)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "num_outputs is %lld for %zu outputs",
                           (long long)p->num_outputs, k->n_outputs);
  k->params = p;
  return TQT_STATUS_OK;
}

/* The part sizes along the axis (of length dim) into p->sizes. */
static enum tqt_status split_sizes(struct tqt_kernel_ctx *k, struct split_params *p, int64_t dim) {
  size_t n = k->n_outputs, count = 0;
  /* Split-1 and Split-13 and later may take the sizes as input 1. */
  const struct tqt_rt_tensor *s = k->kernel->since_version == 1 || k->kernel->since_version >= 13
                                      ? tqt_kernel_input(k, 1)
                                      : NULL;
  if (k->d->status) return k->d->status;
  if (s) {
    if (tqt_kernel_read_ints(k, s, p->sizes, n, &count)) return k->d->status;
  } else if (p->split) {
    count = p->n_split;
    if (count == n) memcpy(p->sizes, p->split, n * sizeof *p->sizes);
  } else if (p->num_outputs) {
    int64_t chunk = dim / (int64_t)n + (dim % (int64_t)n != 0);
    for (size_t i = 0; i < n; i++) p->sizes[i] = i + 1 < n ? chunk : dim - chunk * (int64_t)(n - 1);
    count = n;
  } else {
    if (dim % (int64_t)n)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "dim %lld does not split into %zu equal parts",
                             (long long)dim, n);
    for (size_t i = 0; i < n; i++) p->sizes[i] = dim / (int64_t)n;
    count = n;
  }
  if (count != n)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu split sizes for %zu outputs", count, n);
  int64_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    if (p->sizes[i] < 0 || p->sizes[i] > dim - sum)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "split sizes do not add up to dim %lld",
                             (long long)dim);
    sum += p->sizes[i];
  }
  if (sum != dim)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "split sizes add up to %lld, not dim %lld",
                           (long long)sum, (long long)dim);
  return TQT_STATUS_OK;
}

static enum tqt_status split_run(struct tqt_kernel_ctx *k) {
  struct split_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  size_t axis, r = x->rank;
  if (tqt_kernel_axis(k, p->axis, r, &axis) || split_sizes(k, p, x->dims[axis]))
    return k->d->status;
  size_t esz = shape_esize(x->dtype);
  int64_t outer = 1, inner = (int64_t)esz, dims[TQT_RANK_MAX], offset = 0;
  for (size_t d = 0; d < axis; d++) outer *= x->dims[d];
  for (size_t d = axis + 1; d < r; d++) inner *= x->dims[d];
  size_t in_block = (size_t)(x->dims[axis] * inner);
  memcpy(dims, x->dims, r * sizeof *dims);
  for (size_t i = 0; i < k->n_outputs; offset += p->sizes[i++]) {
    dims[axis] = p->sizes[i];
    struct tqt_rt_tensor *y = tqt_kernel_output(k, i, x->dtype, r, dims);
    if (!y && k->d->status) return k->d->status;
    size_t block = (size_t)(p->sizes[i] * inner);
    if (!y || !block) continue;
    const char *src = (const char *)x->data + offset * inner;
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)y->data + (size_t)o * block, src + (size_t)o * in_block, block);
    if (tqt_kernel_strings_own(k, y)) return k->d->status;
  }
  return TQT_STATUS_OK;
}

/* ---- Slice ---- */

struct slice_params {
  const int64_t *starts, *ends, *axes; /* Slice-1 attributes */
  size_t n_starts, n_ends, n_axes;
};

static enum tqt_status slice_init(struct tqt_kernel_ctx *k) {
  struct slice_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (k->kernel->since_version < 10) {
    p->starts = tqt_attr_ints(k->node, "starts", &p->n_starts);
    p->ends = tqt_attr_ints(k->node, "ends", &p->n_ends);
    p->axes = tqt_attr_ints(k->node, "axes", &p->n_axes);
    if (!p->starts || !p->ends)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attributes 'starts' and 'ends' are required");
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* Reads the slicing parameters of either version; axes default to 0..n-1, steps to 1. */
static enum tqt_status slice_read(struct tqt_kernel_ctx *k, int64_t *starts, int64_t *ends,
                                  int64_t *axes, int64_t *steps, size_t *n) {
  const struct slice_params *p = k->params;
  size_t n_ends = 0, n_axes = 0, n_steps = 0;
  bool has_axes, has_steps = false;
  if (p->starts) {
    *n = p->n_starts;
    n_ends = p->n_ends;
    n_axes = p->n_axes;
    has_axes = p->axes != NULL;
    if (*n > TQT_RANK_MAX || n_ends != *n || (has_axes && n_axes != *n))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "starts, ends and axes differ in length");
    memcpy(starts, p->starts, *n * sizeof *starts);
    memcpy(ends, p->ends, *n * sizeof *ends);
    if (has_axes) memcpy(axes, p->axes, *n * sizeof *axes);
  } else {
    const struct tqt_rt_tensor *ts = tqt_kernel_input_required(k, 1);
    const struct tqt_rt_tensor *te = tqt_kernel_input_required(k, 2);
    if (!ts || !te) return k->d->status;
    const struct tqt_rt_tensor *ta = tqt_kernel_input(k, 3), *tp = tqt_kernel_input(k, 4);
    if (k->d->status || tqt_kernel_read_ints(k, ts, starts, TQT_RANK_MAX, n) ||
        tqt_kernel_read_ints(k, te, ends, TQT_RANK_MAX, &n_ends) ||
        (ta && tqt_kernel_read_ints(k, ta, axes, TQT_RANK_MAX, &n_axes)) ||
        (tp && tqt_kernel_read_ints(k, tp, steps, TQT_RANK_MAX, &n_steps)))
      return k->d->status;
    has_axes = ta != NULL;
    has_steps = tp != NULL;
    if (n_ends != *n || (has_axes && n_axes != *n) || (has_steps && n_steps != *n))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "starts, ends, axes and steps differ in length");
  }
  for (size_t i = 0; i < *n; i++) {
    if (!has_axes) axes[i] = (int64_t)i;
    if (!has_steps) steps[i] = 1;
  }
  return TQT_STATUS_OK;
}

static enum tqt_status slice_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t starts[TQT_RANK_MAX], ends[TQT_RANK_MAX], axes[TQT_RANK_MAX], steps[TQT_RANK_MAX];
  size_t n;
  if (slice_read(k, starts, ends, axes, steps, &n)) return k->d->status;
  size_t r = x->rank;
  int64_t in_strides[TQT_RANK_MAX], dims[TQT_RANK_MAX], strides[TQT_RANK_MAX], offset = 0;
  bool seen[TQT_RANK_MAX] = {false};
  shape_strides(x, in_strides);
  memcpy(dims, x->dims, r * sizeof *dims);
  memcpy(strides, in_strides, r * sizeof *strides);
  for (size_t i = 0; i < n; i++) {
    size_t a;
    if (tqt_kernel_axis(k, axes[i], r, &a)) return k->d->status;
    if (seen[a]) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %zu is repeated", a);
    seen[a] = true;
    int64_t d = x->dims[a], step = steps[i], start = starts[i], end = ends[i];
    if (step == 0) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "step of axis %zu is 0", a);
    if (start < 0) start += d;
    if (end < 0) end += d;
    /* Clamp to [0, d] going forward, to [0, d-1] (start) and [-1, d-1] (end) going backward. */
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? d : d - 1;
    start = start < 0 ? 0 : start > hi ? hi : start;
    end = end < lo ? lo : end > hi ? hi : end;
    uint64_t span = step > 0 ? (end > start ? (uint64_t)(end - start) : 0)
                             : (start > end ? (uint64_t)(start - end) : 0);
    uint64_t mag = step > 0 ? (uint64_t)step : (uint64_t)0 - (uint64_t)step;
    int64_t len = span && d ? (int64_t)((span - 1) / mag + 1) : 0;
    dims[a] = len;
    /* With one element the step never applies (and may be too large to multiply). */
    strides[a] = len > 1 ? in_strides[a] * step : 0;
    if (len) offset += start * in_strides[a];
  }
  return shape_output_walk(k, x, r, dims, r, dims, strides, offset);
}

/* ---- Pad ---- */

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

struct pad_params {
  enum pad_mode mode;
  const int64_t *pads; /* before opset 11: the attribute */
  size_t n_pads;
  float value; /* before opset 11 */
};

static enum tqt_status pad_init(struct tqt_kernel_ctx *k) {
  struct pad_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *mode = tqt_attr_string(k->node, "mode", "constant");
  if (strcmp(mode, "constant") == 0)
    p->mode = PAD_CONSTANT;
  else if (strcmp(mode, "reflect") == 0)
    p->mode = PAD_REFLECT;
  else if (strcmp(mode, "edge") == 0)
    p->mode = PAD_EDGE;
  else if (strcmp(mode, "wrap") == 0 && k->kernel->since_version >= 19)
    p->mode = PAD_WRAP;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "mode '%s'", mode);
  if (k->kernel->since_version < 11) {
    p->pads =
        tqt_attr_ints(k->node, k->kernel->since_version < 2 ? "paddings" : "pads", &p->n_pads);
    if (!p->pads) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'pads' is missing");
    p->value = tqt_attr_float(k->node, "value", 0.0f);
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* The input index that output index i (already shifted by the leading pad) reads along a dim of
 * size d; -1 for the constant. */
static int64_t pad_source(int64_t i, int64_t d, enum pad_mode mode) {
  if (i >= 0 && i < d) return i;
  switch (mode) {
  case PAD_EDGE: return i < 0 ? 0 : d - 1;
  case PAD_REFLECT: {
    if (d == 1) return 0;
    int64_t period = 2 * (d - 1);
    i %= period;
    if (i < 0) i += period;
    return i < d ? i : period - i;
  }
  case PAD_WRAP: i %= d; return i < 0 ? i + d : i;
  default: return -1;
  }
}

/* The pads (begin then end per dim) and the constant element of this run. */
static enum tqt_status pad_read(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *x,
                                int64_t *begin, int64_t *end, void *value) {
  const struct pad_params *p = k->params;
  size_t r = x->rank, n, esz = shape_esize(x->dtype);
  int64_t pads[2 * TQT_RANK_MAX], axes[TQT_RANK_MAX];
  size_t n_axes = r;
  bool has_axes = false;
  memset(value, 0, esz);
  if (p->pads) {
    n = p->n_pads;
    if (n > 2 * TQT_RANK_MAX) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu pads", n);
    memcpy(pads, p->pads, n * sizeof *pads);
    struct tqt_rt_tensor v = {.dtype = x->dtype, .data = value};
    tqt_rt_set(&v, 0, p->value);
  } else {
    const struct tqt_rt_tensor *tp = tqt_kernel_input_required(k, 1);
    if (!tp || tqt_kernel_read_ints(k, tp, pads, 2 * TQT_RANK_MAX, &n)) return k->d->status;
    const struct tqt_rt_tensor *tv = tqt_kernel_input(k, 2);
    const struct tqt_rt_tensor *ta = k->kernel->since_version >= 18 ? tqt_kernel_input(k, 3) : NULL;
    if (k->d->status) return k->d->status;
    if (tv && tqt_rt_numel(tv) > 0) {
      if (tv->dtype != x->dtype || tqt_rt_numel(tv) != 1)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "constant_value must be one %s",
                               tqt_dtype_name(x->dtype));
      memcpy(value, tv->data, esz);
    }
    has_axes = ta != NULL;
    if (ta && tqt_kernel_read_ints(k, ta, axes, TQT_RANK_MAX, &n_axes)) return k->d->status;
  }
  if (!has_axes)
    for (size_t i = 0; i < r; i++) axes[i] = (int64_t)i;
  if (n != 2 * n_axes)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu pads for %zu axes", n, n_axes);
  for (size_t i = 0; i < r; i++) begin[i] = end[i] = 0;
  for (size_t i = 0; i < n_axes; i++) {
    size_t a;
    if (tqt_kernel_axis(k, axes[i], r, &a)) return k->d->status;
    begin[a] = pads[i];
    end[a] = pads[i + n_axes];
  }
  if (x->dtype == TQT_DTYPE_STRING && !((struct tqt_bytes *)value)->data) {
    static char empty[1];
    ((struct tqt_bytes *)value)->data = empty;
  }
  return TQT_STATUS_OK;
}

static enum tqt_status pad_run(struct tqt_kernel_ctx *k) {
  const struct pad_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  size_t r = x->rank, esz = shape_esize(x->dtype);
  int64_t begin[TQT_RANK_MAX], end[TQT_RANK_MAX], dims[TQT_RANK_MAX], in_strides[TQT_RANK_MAX];
  unsigned char value[16];
  if (pad_read(k, x, begin, end, value)) return k->d->status;
  char sx[128];
  for (size_t i = 0; i < r; i++) {
    int64_t d = x->dims[i];
    if (__builtin_add_overflow(d, begin[i], &dims[i]) ||
        __builtin_add_overflow(dims[i], end[i], &dims[i]) || dims[i] < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "pads of axis %zu do not fit input %s", i,
                             tqt_rt_shape_str(x, sx, sizeof sx));
    if (p->mode != PAD_CONSTANT && d == 0 && dims[i] > 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "cannot pad the empty axis %zu of %s", i,
                             tqt_rt_shape_str(x, sx, sizeof sx));
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, r, dims);
  if (!y) return k->d->status;
  int64_t total = tqt_rt_numel(y);
  if (total == 0) return TQT_STATUS_OK;
  if (r == 0) {
    memcpy(y->data, x->data, esz);
    return tqt_kernel_strings_own(k, y);
  }
  shape_strides(x, in_strides);
  /* Row by row along the last dim: the inside of a row is one memcpy. */
  size_t last = r - 1;
  int64_t w = dims[last], wi = x->dims[last], left = begin[last], idx[TQT_RANK_MAX] = {0};
  int64_t lo = left < 0 ? 0 : left > w ? w : left;
  int64_t hi = left + wi < lo ? lo : left + wi > w ? w : left + wi;
  const char *src = x->data;
  char *dst = y->data;
  for (int64_t row = 0; row < total / w; row++, dst += w * (int64_t)esz) {
    int64_t off = 0;
    bool inside = true;
    for (size_t i = 0; i < last && inside; i++) {
      int64_t s = pad_source(idx[i] - begin[i], x->dims[i], p->mode);
      inside = s >= 0;
      off += s * in_strides[i];
    }
    if (!inside) {
      shape_fill(dst, value, esz, w);
    } else {
      const char *row_src = src + off * (int64_t)esz;
      if (hi > lo)
        memcpy(dst + lo * (int64_t)esz, row_src + (lo - left) * (int64_t)esz,
               (size_t)(hi - lo) * esz);
      for (int64_t o = 0; o < w; o++) { /* the pads: [0, lo) and [hi, w) */
        if (o == lo) o = hi;
        if (o == w) break;
        int64_t s = pad_source(o - left, wi, p->mode);
        memcpy(dst + o * (int64_t)esz, s < 0 ? (const char *)value : row_src + s * (int64_t)esz,
               esz);
      }
    }
    for (size_t i = last; i-- > 0;) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return tqt_kernel_strings_own(k, y);
}

/* ---- Expand, Tile ---- */

static enum tqt_status expand_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *s = tqt_kernel_input_required(k, 1);
  if (!x || !s) return k->d->status;
  struct tqt_rt_tensor shape = {.dtype = x->dtype};
  if (tqt_kernel_read_ints(k, s, shape.dims, TQT_RANK_MAX, &shape.rank)) return k->d->status;
  for (size_t i = 0; i < shape.rank; i++)
    if (shape.dims[i] < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "shape[%zu] is %lld", i,
                             (long long)shape.dims[i]);
  size_t r;
  int64_t dims[TQT_RANK_MAX], strides[TQT_RANK_MAX];
  if (tqt_broadcast_shape(k, x, &shape, &r, dims)) return k->d->status;
  tqt_broadcast_strides(x, r, dims, strides);
  return shape_output_walk(k, x, r, dims, r, dims, strides, 0);
}

static enum tqt_status tile_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *rep = tqt_kernel_input_required(k, 1);
  if (!x || !rep) return k->d->status;
  size_t r = x->rank, n;
  int64_t repeats[TQT_RANK_MAX];
  if (k->kernel->since_version < 6) { /* Tile-1: `tiles` copies along the axis of input 2 */
    const struct tqt_rt_tensor *ax = tqt_kernel_input_required(k, 2);
    size_t a;
    if (!ax) return k->d->status;
    if (tqt_rt_numel(rep) != 1 || tqt_rt_numel(ax) != 1)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "tiles and axis must be scalars");
    if (tqt_kernel_axis(k, tqt_rt_get_int(ax, 0), r, &a)) return k->d->status;
    for (size_t i = 0; i < r; i++) repeats[i] = i == a ? tqt_rt_get_int(rep, 0) : 1;
    n = r;
  } else if (tqt_kernel_read_ints(k, rep, repeats, TQT_RANK_MAX, &n)) {
    return k->d->status;
  }
  if (n != r) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu repeats for rank %zu", n, r);
  int64_t out[TQT_RANK_MAX], in_strides[TQT_RANK_MAX], dims[SHAPE_WALK_MAX],
      strides[SHAPE_WALK_MAX];
  int64_t total;
  shape_strides(x, in_strides);
  /* The output viewed as [repeats0, d0, repeats1, d1, ...]: a repeat restarts its dim. */
  for (size_t i = 0; i < r; i++) {
    if (repeats[i] < 0)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "repeats[%zu] is %lld", i,
                             (long long)repeats[i]);
    if (repeats[i] && x->dims[i] > INT64_MAX / repeats[i])
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the output has too many elements");
    out[i] = x->dims[i] * repeats[i];
    dims[2 * i] = repeats[i];
    strides[2 * i] = 0;
    dims[2 * i + 1] = x->dims[i];
    strides[2 * i + 1] = in_strides[i];
  }
  if (shape_numel(k, r, out, &total)) return k->d->status;
  return shape_output_walk(k, x, r, out, 2 * r, dims, strides, 0);
}

/* ---- Shape, Size ---- */

struct shape_params {
  int64_t start, end;
  bool has_end;
};

static enum tqt_status shape_init(struct tqt_kernel_ctx *k) {
  struct shape_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->start = tqt_attr_int(k->node, "start", 0);
  p->has_end = tqt_attr_has(k->node, "end");
  p->end = tqt_attr_int(k->node, "end", 0);
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status shape_run(struct tqt_kernel_ctx *k) {
  const struct shape_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int64_t r = (int64_t)x->rank, start = p->start, end = p->has_end ? p->end : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < start ? start : end > r ? r : end;
  int64_t n = end - start;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT64, 1, &n);
  if (!y) return k->d->status;
  if (n) memcpy(y->data, x->dims + start, (size_t)n * sizeof(int64_t));
  return TQT_STATUS_OK;
}

static enum tqt_status size_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT64, 0, NULL);
  if (!y) return k->d->status;
  *(int64_t *)y->data = tqt_rt_numel(x);
  return TQT_STATUS_OK;
}

/* ---- Constant, ConstantOfShape ---- */

struct constant_params {
  int32_t dtype;
  size_t rank;
  int64_t dims[TQT_RANK_MAX];
  const void *data; /* in the model's arena (or the plan's, for a densified sparse value) */
  size_t nbytes;
};

/* Points p at a TensorProto attribute's elements. */
static enum tqt_status constant_from_tensor(struct tqt_kernel_ctx *k, struct constant_params *p,
                                            const struct tqt_tensor *t) {
  if (t->rank > TQT_RANK_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "value of rank %zu exceeds %d", t->rank,
                           TQT_RANK_MAX);
  /* Loading external data would tie the model's tensor to the plan's lifetime. */
  if (t->external && !t->data)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "value with external data");
  int64_t numel = tqt_tensor_numel(t);
  size_t esz = shape_esize(t->dtype);
  p->dtype = t->dtype;
  p->rank = t->rank;
  if (t->rank) memcpy(p->dims, t->dims, t->rank * sizeof *p->dims);
  p->data = t->dtype == TQT_DTYPE_STRING ? (const void *)t->strings : t->data;
  p->nbytes = t->dtype == TQT_DTYPE_STRING ? t->n_strings * esz : t->nbytes;
  if (numel < 0 || esz == 0 || (uint64_t)numel * esz != p->nbytes)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "value (%s) has %zu bytes for %lld elements",
                           tqt_dtype_name(t->dtype), p->nbytes, (long long)numel);
  return TQT_STATUS_OK;
}

/* Densifies a SparseTensorProto attribute into plan memory. */
static enum tqt_status constant_from_sparse(struct tqt_kernel_ctx *k, struct constant_params *p,
                                            const struct tqt_sparse_tensor *sp) {
  const struct tqt_tensor *v = sp->values, *ix = sp->indices;
  if (!v || !ix || sp->rank > TQT_RANK_MAX || v->rank != 1 || ix->dtype != TQT_DTYPE_INT64 ||
      (ix->external && !ix->data) || (v->external && !v->data))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "sparse_value of this form");
  size_t esz = shape_esize(v->dtype);
  int64_t numel = 1, nnz = v->dims[0];
  for (size_t i = 0; i < sp->rank; i++) {
    if (sp->dims[i] < 0 || (sp->dims[i] && numel > INT64_MAX / sp->dims[i]))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sparse_value has a bad shape");
    numel *= sp->dims[i];
  }
  bool coords = ix->rank == 2;
  if (esz == 0 || !(ix->rank == 1 || coords) || ix->dims[0] != nnz ||
      (coords && ix->dims[1] != (int64_t)sp->rank))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sparse_value indices do not fit its values");
  char *buf = tqt_arena_calloc(k->arena, numel ? (size_t)numel : 1, esz);
  if (!buf) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const int64_t *idx = ix->data;
  const char *vals = v->dtype == TQT_DTYPE_STRING ? (const char *)v->strings : v->data;
  for (int64_t j = 0; j < nnz; j++) {
    int64_t lin = 0;
    if (coords) {
      for (size_t d = 0; d < sp->rank; d++) {
        int64_t c = idx[j * (int64_t)sp->rank + (int64_t)d];
        if (c < 0 || c >= sp->dims[d]) lin = -1;
        if (lin >= 0) lin = lin * sp->dims[d] + c;
      }
    } else {
      lin = idx[j];
    }
    if (lin < 0 || lin >= numel)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "sparse_value index %lld is out of range",
                             (long long)j);
    memcpy(buf + lin * (int64_t)esz, vals + j * (int64_t)esz, esz);
  }
  p->dtype = v->dtype;
  p->rank = sp->rank;
  if (sp->rank) memcpy(p->dims, sp->dims, sp->rank * sizeof *p->dims);
  p->data = buf;
  p->nbytes = (size_t)numel * esz;
  return TQT_STATUS_OK;
}

static enum tqt_status constant_init(struct tqt_kernel_ctx *k) {
  struct constant_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  k->params = p;
  for (size_t i = 0; i < k->node->n_attrs; i++) {
    const struct tqt_attr *at = &k->node->attrs[i];
    if (strcmp(at->name, "value") == 0 && at->type == TQT_ATTR_TYPE_TENSOR && at->t)
      return constant_from_tensor(k, p, at->t);
    if (strcmp(at->name, "sparse_value") == 0 && at->type == TQT_ATTR_TYPE_SPARSE_TENSOR &&
        at->sparse)
      return constant_from_sparse(k, p, at->sparse);
    /* The scalar and list forms: rank 0 or 1, elements in the attribute itself. */
    static const struct {
      const char *name;
      enum tqt_attr_type type;
      int32_t dtype;
      bool list;
    } forms[] = {
        {"value_float", TQT_ATTR_TYPE_FLOAT, TQT_DTYPE_FLOAT, false},
        {"value_floats", TQT_ATTR_TYPE_FLOATS, TQT_DTYPE_FLOAT, true},
        {"value_int", TQT_ATTR_TYPE_INT, TQT_DTYPE_INT64, false},
        {"value_ints", TQT_ATTR_TYPE_INTS, TQT_DTYPE_INT64, true},
        {"value_string", TQT_ATTR_TYPE_STRING, TQT_DTYPE_STRING, false},
        {"value_strings", TQT_ATTR_TYPE_STRINGS, TQT_DTYPE_STRING, true},
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
      if (strcmp(at->name, forms[f].name) != 0 || at->type != forms[f].type) continue;
      p->dtype = forms[f].dtype;
      p->rank = forms[f].list ? 1 : 0;
      p->dims[0] = forms[f].list ? (int64_t)at->n : 1;
      p->nbytes = (size_t)p->dims[0] * shape_esize(p->dtype);
      switch (at->type) {
      case TQT_ATTR_TYPE_FLOAT: p->data = &at->f; break;
      case TQT_ATTR_TYPE_FLOATS: p->data = at->floats; break;
      case TQT_ATTR_TYPE_INT: p->data = &at->i; break;
      case TQT_ATTR_TYPE_INTS: p->data = at->ints; break;
      case TQT_ATTR_TYPE_STRING: p->data = &at->s; break;
      default: p->data = at->strings; break;
      }
      return TQT_STATUS_OK;
    }
  }
  return tqt_kernel_fail(k, TQT_STATUS_INVALID, "no value attribute");
}

static enum tqt_status constant_run(struct tqt_kernel_ctx *k) {
  const struct constant_params *p = k->params;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, p->dtype, p->rank, p->dims);
  if (!y) return k->d->status;
  if (p->nbytes) memcpy(y->data, p->data, p->nbytes);
  return tqt_kernel_strings_own(k, y);
}

struct fill_params {
  int32_t dtype;
  unsigned char value[16]; /* one element */
};

static enum tqt_status constant_of_shape_init(struct tqt_kernel_ctx *k) {
  struct fill_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  k->params = p;
  p->dtype = TQT_DTYPE_FLOAT;
  const struct tqt_attr *at = tqt_node_attr_find(k->node, "value");
  if (!at) return TQT_STATUS_OK;
  struct constant_params c;
  if (at->type != TQT_ATTR_TYPE_TENSOR || !at->t)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'value' is not a tensor");
  if (constant_from_tensor(k, &c, at->t)) return k->d->status;
  size_t esz = shape_esize(c.dtype);
  if (c.nbytes != esz)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "attribute 'value' must hold one element");
  p->dtype = c.dtype;
  memcpy(p->value, c.data, esz);
  return TQT_STATUS_OK;
}

static enum tqt_status constant_of_shape_run(struct tqt_kernel_ctx *k) {
  const struct fill_params *p = k->params;
  const struct tqt_rt_tensor *s = tqt_kernel_input_required(k, 0);
  int64_t dims[TQT_RANK_MAX], total = 0;
  size_t r;
  if (!s || tqt_kernel_read_ints(k, s, dims, TQT_RANK_MAX, &r) || shape_numel(k, r, dims, &total))
    return k->d->status;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, p->dtype, r, dims);
  if (!y) return k->d->status;
  shape_fill(y->data, p->value, shape_esize(p->dtype), total);
  return tqt_kernel_strings_own(k, y);
}

/* ---- Range, EyeLike, Trilu ---- */

static enum tqt_status range_run(struct tqt_kernel_ctx *k) {
  const struct tqt_rt_tensor *t[3];
  for (size_t i = 0; i < 3; i++) {
    if (!(t[i] = tqt_kernel_input_required(k, i))) return k->d->status;
    if (tqt_rt_numel(t[i]) != 1 || t[i]->dtype != t[0]->dtype)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "start, limit and delta must be scalars of one type");
  }
  int32_t dtype = t[0]->dtype;
  int64_t n;
  bool is_float = dtype == TQT_DTYPE_FLOAT || dtype == TQT_DTYPE_DOUBLE;
  if (is_float) {
    double start = tqt_rt_get(t[0], 0), limit = tqt_rt_get(t[1], 0), delta = tqt_rt_get(t[2], 0);
    double count = ceil((limit - start) / delta);
    if (delta == 0 || isnan(count) || count > 0x1p62)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "range of %g to %g by %g", start, limit, delta);
    n = count > 0 ? (int64_t)count : 0;
  } else if (dtype == TQT_DTYPE_INT16 || dtype == TQT_DTYPE_INT32 || dtype == TQT_DTYPE_INT64) {
    int64_t start = tqt_rt_get_int(t[0], 0), limit = tqt_rt_get_int(t[1], 0);
    int64_t delta = tqt_rt_get_int(t[2], 0);
    if (delta == 0) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "delta is 0");
    /* ceil((limit - start) / delta) in unsigned arithmetic, which holds any int64 distance. */
    bool up = delta > 0;
    uint64_t span = up ? (limit > start ? (uint64_t)limit - (uint64_t)start : 0)
                       : (limit < start ? (uint64_t)start - (uint64_t)limit : 0);
    uint64_t mag = up ? (uint64_t)delta : (uint64_t)0 - (uint64_t)delta;
    uint64_t count = span ? (span - 1) / mag + 1 : 0;
    if (count > (uint64_t)INT64_MAX)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "range has too many elements");
    n = (int64_t)count;
  } else {
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "type %s", tqt_dtype_name(dtype));
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, dtype, 1, &n);
  if (!y) return k->d->status;
    /* Element i is start + i * delta, computed in the type (A: int64 for the integer types). */
#define RANGE_FILL(T, A)                                                                           \
  do {                                                                                             \
    A s_ = *(const T *)t[0]->data, d_ = *(const T *)t[2]->data;                                    \
    T *y_ = y->data;                                                                               \
    for (int64_t i = 0; i < n; i++) y_[i] = (T)(s_ + (A)i * d_);                                   \
  } while (0)
  switch (dtype) {
  case TQT_DTYPE_FLOAT: RANGE_FILL(float, float); break;
  case TQT_DTYPE_DOUBLE: RANGE_FILL(double, double); break;
  case TQT_DTYPE_INT16: RANGE_FILL(int16_t, int64_t); break;
  case TQT_DTYPE_INT32: RANGE_FILL(int32_t, int64_t); break;
  default: RANGE_FILL(int64_t, int64_t); break;
  }
#undef RANGE_FILL
  return TQT_STATUS_OK;
}

struct eye_params {
  int32_t dtype; /* 0: the input's */
  int64_t k;
};

static enum tqt_status eye_like_init(struct tqt_kernel_ctx *k) {
  struct eye_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->dtype = (int32_t)tqt_attr_int(k->node, "dtype", 0);
  p->k = tqt_attr_int(k->node, "k", 0);
  if (p->dtype && (p->dtype == TQT_DTYPE_STRING || !tqt_dtype_size(p->dtype)))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "dtype %s", tqt_dtype_name(p->dtype));
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status eye_like_run(struct tqt_kernel_ctx *k) {
  const struct eye_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  int32_t dtype = p->dtype ? p->dtype : x->dtype;
  if (x->rank != 2 || dtype == TQT_DTYPE_STRING) {
    char sx[128];
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s %s is not a 2-D numeric tensor",
                           tqt_dtype_name(x->dtype), tqt_rt_shape_str(x, sx, sizeof sx));
  }
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, dtype, 2, x->dims);
  if (!y) return k->d->status;
  memset(y->data, 0, y->nbytes);
  int64_t h = x->dims[0], w = x->dims[1];
  if (p->k <= -h || p->k >= w) return TQT_STATUS_OK; /* the diagonal misses the matrix */
  for (int64_t i = p->k < 0 ? -p->k : 0; i < h && i + p->k < w; i++)
    tqt_rt_set(y, i * w + i + p->k, 1.0);
  return TQT_STATUS_OK;
}

struct trilu_params {
  bool upper;
};

static enum tqt_status trilu_init(struct tqt_kernel_ctx *k) {
  struct trilu_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->upper = tqt_attr_int(k->node, "upper", 1) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status trilu_run(struct tqt_kernel_ctx *k) {
  const struct trilu_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  const struct tqt_rt_tensor *tk = tqt_kernel_input(k, 1);
  if (k->d->status) return k->d->status;
  char sx[128];
  if (x->rank < 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input %s has rank below 2",
                           tqt_rt_shape_str(x, sx, sizeof sx));
  if (tk &&
      (tqt_rt_numel(tk) != 1 || (tk->dtype != TQT_DTYPE_INT64 && tk->dtype != TQT_DTYPE_INT32)))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "k must be an int64 scalar");
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, x->dims);
  if (!y) return k->d->status;
  int64_t h = x->dims[x->rank - 2], w = x->dims[x->rank - 1], hw = h * w;
  int64_t diag = tk ? tqt_rt_get_int(tk, 0) : 0, e = (int64_t)shape_esize(x->dtype);
  /* Beyond ±(h + w) every diagonal keeps all or nothing: clamping avoids overflow. */
  diag = diag < -(h + w) ? -(h + w) : diag > h + w ? h + w : diag;
  int64_t batches = hw ? tqt_rt_numel(x) / hw : 0;
  const char *src = x->data;
  char *dst = y->data;
  for (int64_t b = 0; b < batches; b++) {
    for (int64_t i = 0; i < h; i++, src += w * e, dst += w * e) {
      /* Row i keeps columns j >= i + diag (upper) or j <= i + diag (lower). */
      int64_t lo = p->upper ? i + diag : 0, hi = p->upper ? w : i + diag + 1;
      lo = lo < 0 ? 0 : lo > w ? w : lo;
      hi = hi < lo ? lo : hi > w ? w : hi;
      memset(dst, 0, (size_t)(lo * e));
      memcpy(dst + lo * e, src + lo * e, (size_t)((hi - lo) * e));
      memset(dst + hi * e, 0, (size_t)((w - hi) * e));
    }
  }
  return tqt_kernel_strings_own(k, y);
}

/* ---- inference (infer.h) ---- */

static bool shape_infer_axis(int64_t axis, size_t rank, size_t *out) {
  if (axis < -(int64_t)rank || axis >= (int64_t)rank) return false;
  *out = (size_t)(axis < 0 ? axis + (int64_t)rank : axis);
  return true;
}

/* x's input 0 as a ranked tensor, or NULL after making output 0 an unranked tensor of x's
 * type (the answer when the rank is unknown). */
static const struct tqt_sym *shape_infer_ranked(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (x && x->kind == TQT_SYM_KIND_TENSOR && x->has_rank) return x;
  if (c->n_out) tqt_sym_tensor_unranked(&c->out[0], x ? x->dtype : TQT_DTYPE_UNDEFINED);
  return NULL;
}

/* Output 0 holds x's elements in the same order with new dims: the value goes along. */
static void shape_infer_reorder(struct tqt_infer_ctx *c, const struct tqt_sym *x, size_t rank,
                                const tqt_sdim *dims) {
  tqt_sym_tensor(&c->out[0], x->dtype, rank, dims);
  if (x->has_value) tqt_sym_value_set(&c->out[0], x->value, x->n_value);
}

/* The product of dims [from, to); NULL when a factor is unknown. */
static tqt_sdim shape_infer_product(struct tqt_infer_ctx *c, const tqt_sdim *dims, size_t from,
                                    size_t to) {
  tqt_sdim p = tqt_sdim_const(c->dims, 1);
  for (size_t i = from; i < to; i++) p = tqt_sdim_mul(c->dims, p, dims[i]);
  return p;
}

static enum tqt_status reshape_infer(struct tqt_infer_ctx *c) {
  const struct reshape_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0), *s = tqt_infer_input(c, 1);
  int32_t dtype = x ? x->dtype : TQT_DTYPE_UNDEFINED;
  tqt_sdim dims[TQT_RANK_MAX];
  size_t n = p->n_shape;
  if (p->shape) {
    for (size_t i = 0; i < n; i++) dims[i] = tqt_sdim_const(c->dims, p->shape[i]);
  } else {
    int64_t numel = tqt_sym_numel(s);
    if (!s || !s->has_rank || s->rank != 1 || numel < 0 || numel > TQT_RANK_MAX) {
      /* The length of a 1-D shape input is the rank even when its values are unknown. */
      int64_t r;
      if (s && s->has_rank && s->rank == 1 && tqt_sdim_value(s->dims[0], &r) && r >= 0 &&
          r <= TQT_RANK_MAX)
        tqt_sym_tensor(&c->out[0], dtype, (size_t)r, NULL);
      else
        tqt_sym_tensor_unranked(&c->out[0], dtype);
      return TQT_STATUS_OK;
    }
    n = (size_t)numel;
    for (size_t i = 0; i < n; i++) dims[i] = tqt_sym_elem(c->dims, s, i);
  }
  bool x_ranked = x && x->kind == TQT_SYM_KIND_TENSOR && x->has_rank;
  size_t minus_one = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    if (!tqt_sdim_value(dims[i], &v)) continue;
    if (v == 0 && !p->allowzero) dims[i] = x_ranked && i < x->rank ? x->dims[i] : NULL;
    if (v == -1) minus_one = i;
    if (v < -1) return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "shape[%zu] is %lld", i, (long long)v);
  }
  if (minus_one != SIZE_MAX) {
    /* -1: the element count over the product of the other dims, when that divides exactly. */
    tqt_sdim total = x_ranked ? shape_infer_product(c, x->dims, 0, x->rank) : NULL, rest = NULL;
    dims[minus_one] = tqt_sdim_const(c->dims, 1);
    rest = shape_infer_product(c, dims, 0, n);
    dims[minus_one] = tqt_sdim_div_exact(c->dims, total, rest);
  }
  if (x) shape_infer_reorder(c, x, n, dims);
  else tqt_sym_tensor(&c->out[0], dtype, n, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status flatten_infer(struct tqt_infer_ctx *c) {
  const struct axis_params *p = c->k->params;
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  size_t axis;
  if (p->axis == (int64_t)x->rank)
    axis = x->rank;
  else if (!shape_infer_axis(p->axis, x->rank, &axis))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld for rank %zu", (long long)p->axis,
                           x->rank);
  tqt_sdim dims[2] = {shape_infer_product(c, x->dims, 0, axis),
                      shape_infer_product(c, x->dims, axis, x->rank)};
  shape_infer_reorder(c, x, 2, dims);
  return TQT_STATUS_OK;
}

/* The axes of Squeeze/Unsqueeze when known: attribute or constant input 1. */
static bool axes_infer_read(struct tqt_infer_ctx *c, int64_t *axes, size_t *n, bool *given) {
  const struct axes_params *p = c->k->params;
  *given = true;
  if (p->axes) {
    if (p->n_axes > TQT_RANK_MAX) return false;
    memcpy(axes, p->axes, p->n_axes * sizeof *axes);
    *n = p->n_axes;
    return true;
  }
  const struct tqt_sym *a =
      c->k->kernel->since_version >= 13 ? tqt_infer_input(c, 1) : NULL;
  if (!a) {
    *given = false;
    *n = 0;
    return true;
  }
  return tqt_sym_ints(a, axes, TQT_RANK_MAX, n);
}

static enum tqt_status squeeze_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  int64_t axes[TQT_RANK_MAX];
  size_t n;
  bool given, drop[TQT_RANK_MAX] = {false};
  if (!axes_infer_read(c, axes, &n, &given)) {
    tqt_sym_tensor_unranked(&c->out[0], x->dtype);
    return TQT_STATUS_OK;
  }
  for (size_t i = 0; i < n; i++) {
    size_t a;
    if (!shape_infer_axis(axes[i], x->rank, &a))
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld for rank %zu",
                             (long long)axes[i], x->rank);
    drop[a] = true;
  }
  tqt_sdim dims[TQT_RANK_MAX];
  size_t r = 0;
  for (size_t i = 0; i < x->rank; i++) {
    int64_t v;
    bool one = tqt_sdim_value(x->dims[i], &v) && v == 1;
    if (!given && !one && !tqt_sdim_value(x->dims[i], NULL)) {
      /* Without axes every dim of 1 goes: an unknown dim leaves the rank unknown. */
      tqt_sym_tensor_unranked(&c->out[0], x->dtype);
      return TQT_STATUS_OK;
    }
    if (given ? !drop[i] : !one) dims[r++] = x->dims[i];
  }
  shape_infer_reorder(c, x, r, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status unsqueeze_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  int64_t axes[TQT_RANK_MAX];
  size_t n;
  bool given, ones[TQT_RANK_MAX] = {false};
  if (!axes_infer_read(c, axes, &n, &given) || !given || x->rank + n > TQT_RANK_MAX) {
    tqt_sym_tensor_unranked(&c->out[0], x->dtype);
    return TQT_STATUS_OK;
  }
  size_t r = x->rank + n;
  for (size_t i = 0; i < n; i++) {
    size_t a;
    if (!shape_infer_axis(axes[i], r, &a) || ones[a])
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld for rank %zu",
                             (long long)axes[i], r);
    ones[a] = true;
  }
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0, j = 0; i < r; i++)
    dims[i] = ones[i] ? tqt_sdim_const(c->dims, 1) : x->dims[j++];
  shape_infer_reorder(c, x, r, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status dropout_infer(struct tqt_infer_ctx *c) {
  /* Inference mode passes X through; the mask is bool of X's shape. */
  tqt_infer_identity(c);
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (c->n_out > 1 && x) {
    c->out[1] = c->out[0];
    c->out[1].dtype = c->k->kernel->since_version >= 12 ? TQT_DTYPE_BOOL : x->dtype;
    c->out[1].has_value = false;
    c->out[1].constant = NULL;
  }
  return TQT_STATUS_OK;
}

static enum tqt_status transpose_infer(struct tqt_infer_ctx *c) {
  const struct transpose_params *p = c->k->params;
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  if (p->perm && p->n_perm != x->rank)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "perm of %zu for rank %zu", p->n_perm, x->rank);
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0; i < x->rank; i++) {
    int64_t from = p->perm ? p->perm[i] : (int64_t)(x->rank - 1 - i);
    if (from < 0 || from >= (int64_t)x->rank)
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "perm[%zu] is %lld", i, (long long)from);
    dims[i] = x->dims[from];
  }
  tqt_sym_tensor(&c->out[0], x->dtype, x->rank, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status depth_infer(struct tqt_infer_ctx *c) {
  const struct depth_params *p = c->k->params;
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  if (x->rank != 4) return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "input of rank %zu", x->rank);
  tqt_sdim b = tqt_sdim_const(c->dims, p->blocksize), bb = tqt_sdim_mul(c->dims, b, b);
  bool to_space = !strcmp(c->k->node->op_type, "DepthToSpace");
  tqt_sdim dims[4] = {x->dims[0],
                      to_space ? tqt_sdim_div_exact(c->dims, x->dims[1], bb)
                               : tqt_sdim_mul(c->dims, x->dims[1], bb),
                      to_space ? tqt_sdim_mul(c->dims, x->dims[2], b)
                               : tqt_sdim_div_exact(c->dims, x->dims[2], b),
                      to_space ? tqt_sdim_mul(c->dims, x->dims[3], b)
                               : tqt_sdim_div_exact(c->dims, x->dims[3], b)};
  tqt_sym_tensor(&c->out[0], x->dtype, 4, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status concat_infer(struct tqt_infer_ctx *c) {
  const struct axis_params *p = c->k->params;
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  size_t axis;
  if (!shape_infer_axis(p->axis, x->rank, &axis))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld for rank %zu", (long long)p->axis,
                           x->rank);
  tqt_sdim dims[TQT_RANK_MAX], vals[TQT_SYM_VALUE_MAX];
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  dims[axis] = tqt_sdim_const(c->dims, 0);
  /* Values concatenate when the inputs are 1-D (shape vectors). */
  size_t n_vals = 0;
  bool values = x->rank == 1;
  for (size_t i = 0; i < c->n_in; i++) {
    const struct tqt_sym *s = c->in[i];
    if (!s) continue;
    if (s->kind != TQT_SYM_KIND_TENSOR || !s->has_rank || s->rank != x->rank) {
      tqt_sym_tensor(&c->out[0], x->dtype, x->rank, NULL);
      return TQT_STATUS_OK;
    }
    for (size_t d = 0; d < x->rank; d++) {
      if (d == axis) {
        dims[d] = tqt_sdim_add(c->dims, dims[d], s->dims[d]);
      } else if (dims[d] != s->dims[d]) {
        /* Equal by the op's contract: a constant tells more than a symbol. */
        if (!tqt_sdim_value(dims[d], NULL)) dims[d] = s->dims[d];
      }
    }
    int64_t len = tqt_sym_numel(s);
    if (!values || len < 0 || n_vals + (size_t)len > TQT_SYM_VALUE_MAX) {
      values = false;
      continue;
    }
    for (int64_t j = 0; j < len; j++) vals[n_vals++] = tqt_sym_elem(c->dims, s, (size_t)j);
  }
  tqt_sym_tensor(&c->out[0], x->dtype, x->rank, dims);
  if (values) tqt_sym_value_set(&c->out[0], vals, n_vals);
  return TQT_STATUS_OK;
}

static enum tqt_status split_infer(struct tqt_infer_ctx *c) {
  const struct split_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  size_t n = c->n_out, axis;
  for (size_t i = 0; i < n; i++) tqt_sym_tensor_unranked(&c->out[i], x ? x->dtype : 0);
  if (!x || x->kind != TQT_SYM_KIND_TENSOR || !x->has_rank) return TQT_STATUS_OK;
  if (!shape_infer_axis(p->axis, x->rank, &axis))
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld for rank %zu", (long long)p->axis,
                           x->rank);
  tqt_sdim sizes[TQT_SYM_VALUE_MAX] = {NULL};
  const struct tqt_sym *s = c->k->kernel->since_version == 1 || c->k->kernel->since_version >= 13
                                ? tqt_infer_input(c, 1)
                                : NULL;
  tqt_sdim dim = x->dims[axis], parts = tqt_sdim_const(c->dims, (int64_t)n);
  if (n > TQT_SYM_VALUE_MAX) return TQT_STATUS_OK;
  if (s) {
    for (size_t i = 0; i < n; i++) sizes[i] = tqt_sym_elem(c->dims, s, i);
  } else if (p->split) {
    for (size_t i = 0; i < n && i < p->n_split; i++) sizes[i] = tqt_sdim_const(c->dims, p->split[i]);
  } else if (p->num_outputs) {
    tqt_sdim chunk = tqt_sdim_div_ceil(c->dims, dim, parts);
    for (size_t i = 0; i + 1 < n; i++) sizes[i] = chunk;
    sizes[n - 1] = tqt_sdim_sub(c->dims, dim,
                                tqt_sdim_mul(c->dims, chunk, tqt_sdim_const(c->dims, (int64_t)n - 1)));
  } else {
    for (size_t i = 0; i < n; i++) sizes[i] = tqt_sdim_div_exact(c->dims, dim, parts);
  }
  for (size_t i = 0; i < n; i++) {
    tqt_sdim dims[TQT_RANK_MAX];
    memcpy(dims, x->dims, x->rank * sizeof *dims);
    dims[axis] = sizes[i];
    tqt_sym_tensor(&c->out[i], x->dtype, x->rank, dims);
  }
  return TQT_STATUS_OK;
}

/* The length of x[start:end:step] along a dim, the ONNX way (negative indices count from the
 * end, then clamp). A symbolic dim is taken to be at least as long as the constant indices
 * reach, as every exporter's shape code assumes; other cases stay unknown. */
static tqt_sdim slice_infer_len(struct tqt_infer_ctx *c, tqt_sdim dim, tqt_sdim start, tqt_sdim end,
                                int64_t step) {
  int64_t d, s, e;
  bool kd = tqt_sdim_value(dim, &d), ks = tqt_sdim_value(start, &s), ke = tqt_sdim_value(end, &e);
  if (kd && ks && ke) {
    if (step > 0) {
      s = s < 0 ? s + d : s, e = e < 0 ? e + d : e;
      s = s < 0 ? 0 : s > d ? d : s, e = e < 0 ? 0 : e > d ? d : e;
    } else {
      s = s < 0 ? s + d : s, e = e < 0 ? e + d : e;
      s = s < 0 ? -1 : s > d - 1 ? d - 1 : s, e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
    }
    int64_t len = step > 0 ? (e - s + step - 1) / step : (s - e - step - 1) / -step;
    return tqt_sdim_const(c->dims, len > 0 ? len : 0);
  }
  if (step <= 0 || !dim) return NULL;
  /* "To the end" is any end at or past the dim: INT64_MAX and friends, or the dim itself. */
  tqt_sdim from = !ks ? start : s < 0 ? tqt_sdim_add(c->dims, dim, start) : start;
  tqt_sdim to = end == dim || (ke && e >= INT32_MAX) ? dim
                : ke && e < 0                       ? tqt_sdim_add(c->dims, dim, end)
                : !ke                               ? end
                                                    : NULL;
  if (!from || !to || (ks && s >= INT32_MAX)) return NULL;
  return tqt_sdim_div_ceil(c->dims, tqt_sdim_sub(c->dims, to, from), tqt_sdim_const(c->dims, step));
}

static enum tqt_status slice_infer(struct tqt_infer_ctx *c) {
  const struct slice_params *p = c->k->params;
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  tqt_sdim starts[TQT_RANK_MAX], ends[TQT_RANK_MAX];
  int64_t axes[TQT_RANK_MAX], steps[TQT_RANK_MAX];
  size_t n = 0, n_axes = 0, n_steps = 0;
  bool known = true;
  if (p->starts) {
    n = p->n_starts;
    if (n > TQT_RANK_MAX || p->n_ends != n || (p->axes && p->n_axes != n))
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "starts, ends and axes differ in length");
    for (size_t i = 0; i < n; i++) {
      starts[i] = tqt_sdim_const(c->dims, p->starts[i]);
      ends[i] = tqt_sdim_const(c->dims, p->ends[i]);
      axes[i] = p->axes ? p->axes[i] : (int64_t)i;
      steps[i] = 1;
    }
  } else {
    const struct tqt_sym *ts = tqt_infer_input(c, 1), *te = tqt_infer_input(c, 2);
    const struct tqt_sym *ta = tqt_infer_input(c, 3), *tp = tqt_infer_input(c, 4);
    int64_t len = tqt_sym_numel(ts);
    known = len >= 0 && len <= TQT_RANK_MAX && tqt_sym_numel(te) == len &&
            (!ta || tqt_sym_ints(ta, axes, TQT_RANK_MAX, &n_axes)) &&
            (!tp || tqt_sym_ints(tp, steps, TQT_RANK_MAX, &n_steps)) &&
            (!ta || n_axes == (size_t)len) && (!tp || n_steps == (size_t)len);
    n = known ? (size_t)len : 0;
    for (size_t i = 0; i < n; i++) {
      starts[i] = tqt_sym_elem(c->dims, ts, i);
      ends[i] = tqt_sym_elem(c->dims, te, i);
      if (!ta) axes[i] = (int64_t)i;
      if (!tp) steps[i] = 1;
    }
  }
  tqt_sdim dims[TQT_RANK_MAX];
  if (!known) {
    /* The rank stays; the sliced axes are unknown. */
    tqt_sym_tensor(&c->out[0], x->dtype, x->rank, NULL);
    return TQT_STATUS_OK;
  }
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  for (size_t i = 0; i < n; i++) {
    size_t a;
    if (!shape_infer_axis(axes[i], x->rank, &a) || steps[i] == 0)
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld, step %lld", (long long)axes[i],
                             (long long)steps[i]);
    dims[a] = slice_infer_len(c, x->dims[a], starts[i], ends[i], steps[i]);
  }
  tqt_sym_tensor(&c->out[0], x->dtype, x->rank, dims);
  /* Slicing a shape vector: its elements, when the bounds are constants. */
  int64_t len = tqt_sym_numel(x), s, e;
  if (x->rank == 1 && n == 1 && len >= 0 && len <= TQT_SYM_VALUE_MAX &&
      tqt_sdim_value(starts[0], &s) && tqt_sdim_value(ends[0], &e)) {
    tqt_sdim vals[TQT_SYM_VALUE_MAX];
    size_t m = 0;
    int64_t st = steps[0];
    s = s < 0 ? s + len : s, e = e < 0 ? e + len : e;
    if (st > 0) {
      s = s < 0 ? 0 : s > len ? len : s, e = e < 0 ? 0 : e > len ? len : e;
      for (int64_t i = s; i < e; i += st) vals[m++] = tqt_sym_elem(c->dims, x, (size_t)i);
    } else {
      s = s < 0 ? -1 : s > len - 1 ? len - 1 : s, e = e < -1 ? -1 : e > len - 1 ? len - 1 : e;
      for (int64_t i = s; i > e; i += st) vals[m++] = tqt_sym_elem(c->dims, x, (size_t)i);
    }
    tqt_sym_value_set(&c->out[0], vals, m);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status pad_infer(struct tqt_infer_ctx *c) {
  const struct pad_params *p = c->k->params;
  const struct tqt_sym *x = shape_infer_ranked(c);
  if (!x) return TQT_STATUS_OK;
  size_t r = x->rank;
  tqt_sdim pads[2 * TQT_RANK_MAX], dims[TQT_RANK_MAX];
  int64_t axes[TQT_RANK_MAX];
  size_t n_axes = r;
  for (size_t i = 0; i < r; i++) axes[i] = (int64_t)i;
  const struct tqt_sym *tp = p->pads ? NULL : tqt_infer_input(c, 1);
  const struct tqt_sym *ta = c->k->kernel->since_version >= 18 ? tqt_infer_input(c, 3) : NULL;
  if (ta && !tqt_sym_ints(ta, axes, TQT_RANK_MAX, &n_axes)) n_axes = SIZE_MAX;
  int64_t n_pads = p->pads ? (int64_t)p->n_pads : tqt_sym_numel(tp);
  if (n_axes == SIZE_MAX || n_pads != 2 * (int64_t)n_axes) {
    tqt_sym_tensor(&c->out[0], x->dtype, r, NULL);
    return TQT_STATUS_OK;
  }
  for (size_t i = 0; i < 2 * n_axes; i++)
    pads[i] = p->pads ? tqt_sdim_const(c->dims, p->pads[i]) : tqt_sym_elem(c->dims, tp, i);
  memcpy(dims, x->dims, r * sizeof *dims);
  for (size_t i = 0; i < n_axes; i++) {
    size_t a;
    if (!shape_infer_axis(axes[i], r, &a))
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "axis %lld for rank %zu",
                             (long long)axes[i], r);
    dims[a] = tqt_sdim_add(c->dims, tqt_sdim_add(c->dims, dims[a], pads[i]), pads[i + n_axes]);
  }
  tqt_sym_tensor(&c->out[0], x->dtype, r, dims);
  return TQT_STATUS_OK;
}

/* Dims given by a 1-D shape input's elements; false when its length is unknown. */
static bool shape_infer_dims_of(struct tqt_infer_ctx *c, const struct tqt_sym *s, size_t *rank,
                                tqt_sdim *dims) {
  int64_t len = tqt_sym_numel(s);
  if (!s || !s->has_rank || s->rank != 1 || len < 0 || len > TQT_RANK_MAX) return false;
  *rank = (size_t)len;
  for (size_t i = 0; i < *rank; i++) dims[i] = tqt_sym_elem(c->dims, s, i);
  return true;
}

static enum tqt_status expand_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  struct tqt_sym shape;
  size_t r;
  tqt_sdim dims[TQT_RANK_MAX];
  if (!x) return TQT_STATUS_OK;
  if (!shape_infer_dims_of(c, tqt_infer_input(c, 1), &r, dims)) {
    tqt_sym_tensor_unranked(&c->out[0], x->dtype);
    return TQT_STATUS_OK;
  }
  tqt_sym_tensor(&shape, x->dtype, r, dims);
  size_t rank;
  if (tqt_infer_broadcast_dims(c, x, &shape, &rank, dims))
    tqt_sym_tensor(&c->out[0], x->dtype, rank, dims);
  else
    tqt_sym_tensor_unranked(&c->out[0], x->dtype);
  return TQT_STATUS_OK;
}

static enum tqt_status tile_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = shape_infer_ranked(c), *rep = tqt_infer_input(c, 1);
  if (!x) return TQT_STATUS_OK;
  tqt_sdim dims[TQT_RANK_MAX];
  for (size_t i = 0; i < x->rank; i++)
    dims[i] = tqt_sdim_mul(c->dims, x->dims[i], tqt_sym_elem(c->dims, rep, i));
  tqt_sym_tensor(&c->out[0], x->dtype, x->rank, dims);
  return TQT_STATUS_OK;
}

static enum tqt_status shape_infer(struct tqt_infer_ctx *c) {
  const struct shape_params *p = c->k->params;
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  if (!x || x->kind != TQT_SYM_KIND_TENSOR || !x->has_rank) {
    tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, 1, NULL);
    return TQT_STATUS_OK;
  }
  int64_t r = (int64_t)x->rank, start = p->start, end = p->has_end ? p->end : r;
  start = start < 0 ? start + r : start, end = end < 0 ? end + r : end;
  start = start < 0 ? 0 : start > r ? r : start, end = end < 0 ? 0 : end > r ? r : end;
  size_t n = end > start ? (size_t)(end - start) : 0;
  tqt_sdim len = tqt_sdim_const(c->dims, (int64_t)n);
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, 1, &len);
  tqt_sym_value_set(&c->out[0], x->dims + start, n);
  return TQT_STATUS_OK;
}

static enum tqt_status size_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *x = tqt_infer_input(c, 0);
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, 0, NULL);
  if (x && x->kind == TQT_SYM_KIND_TENSOR && x->has_rank) {
    tqt_sdim n = shape_infer_product(c, x->dims, 0, x->rank);
    tqt_sym_value_set(&c->out[0], &n, 1);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status constant_infer(struct tqt_infer_ctx *c) {
  const struct constant_params *p = c->k->params;
  tqt_sdim dims[TQT_RANK_MAX], vals[TQT_SYM_VALUE_MAX];
  for (size_t i = 0; i < p->rank; i++) dims[i] = tqt_sdim_const(c->dims, p->dims[i]);
  tqt_sym_tensor(&c->out[0], p->dtype, p->rank, dims);
  struct tqt_rt_tensor t = {.dtype = p->dtype, .rank = p->rank, .data = (void *)p->data,
                            .nbytes = p->nbytes};
  memcpy(t.dims, p->dims, sizeof t.dims);
  int64_t numel = tqt_rt_numel(&t);
  if (numel < 0 || numel > TQT_SYM_VALUE_MAX || p->dtype == TQT_DTYPE_STRING ||
      !shape_esize(p->dtype) || (size_t)numel * shape_esize(p->dtype) > p->nbytes)
    return TQT_STATUS_OK;
  for (int64_t i = 0; i < numel; i++) vals[i] = tqt_sdim_const(c->dims, tqt_rt_get_int(&t, i));
  tqt_sym_value_set(&c->out[0], vals, (size_t)numel);
  return TQT_STATUS_OK;
}

static enum tqt_status constant_of_shape_infer(struct tqt_infer_ctx *c) {
  const struct fill_params *p = c->k->params;
  size_t r;
  tqt_sdim dims[TQT_RANK_MAX], vals[TQT_SYM_VALUE_MAX];
  if (!shape_infer_dims_of(c, tqt_infer_input(c, 0), &r, dims)) {
    tqt_sym_tensor_unranked(&c->out[0], p->dtype);
    return TQT_STATUS_OK;
  }
  tqt_sym_tensor(&c->out[0], p->dtype, r, dims);
  int64_t numel = tqt_sym_numel(&c->out[0]);
  if (numel < 0 || numel > TQT_SYM_VALUE_MAX || p->dtype == TQT_DTYPE_STRING) return TQT_STATUS_OK;
  struct tqt_rt_tensor one = {.dtype = p->dtype, .data = (void *)p->value,
                              .nbytes = shape_esize(p->dtype)};
  for (int64_t i = 0; i < numel; i++) vals[i] = tqt_sdim_const(c->dims, tqt_rt_get_int(&one, 0));
  tqt_sym_value_set(&c->out[0], vals, (size_t)numel);
  return TQT_STATUS_OK;
}

static enum tqt_status range_infer(struct tqt_infer_ctx *c) {
  const struct tqt_sym *start = tqt_infer_input(c, 0), *limit = tqt_infer_input(c, 1),
                       *delta = tqt_infer_input(c, 2);
  int32_t dtype = start ? start->dtype : TQT_DTYPE_UNDEFINED;
  tqt_sdim s = tqt_sym_elem(c->dims, start, 0), l = tqt_sym_elem(c->dims, limit, 0);
  int64_t dv;
  tqt_sdim len = NULL;
  /* ceil((limit - start) / delta), for a positive constant delta and a limit not below start
   * (shape arithmetic); constants decide every case exactly. */
  if (tqt_sdim_value(tqt_sym_elem(c->dims, delta, 0), &dv) && dv > 0) {
    len = tqt_sdim_div_ceil(c->dims, tqt_sdim_sub(c->dims, l, s), tqt_sdim_const(c->dims, dv));
    int64_t v;
    if (tqt_sdim_value(len, &v) && v < 0) len = tqt_sdim_const(c->dims, 0);
  }
  tqt_sym_tensor(&c->out[0], dtype, 1, &len);
  int64_t n, s0;
  if (tqt_sdim_value(len, &n) && n <= TQT_SYM_VALUE_MAX && tqt_sdim_value(s, &s0)) {
    tqt_sdim vals[TQT_SYM_VALUE_MAX];
    for (int64_t i = 0; i < n; i++) vals[i] = tqt_sdim_const(c->dims, s0 + i * dv);
    tqt_sym_value_set(&c->out[0], vals, (size_t)n);
  }
  return TQT_STATUS_OK;
}

static enum tqt_status eye_like_infer(struct tqt_infer_ctx *c) {
  const struct eye_params *p = c->k->params;
  tqt_infer_unary(c);
  if (p->dtype) c->out[0].dtype = p->dtype;
  return TQT_STATUS_OK;
}

static const struct tqt_kernel shape_kernels[] = {
    {"", "Reshape", 1, reshape_init, reshape_run, reshape_infer},
    {"", "Reshape", 5, reshape_init, reshape_run, reshape_infer},
    {"", "Flatten", 1, flatten_init, flatten_run, flatten_infer},
    {"", "Squeeze", 1, axes_init, squeeze_run, squeeze_infer},
    {"", "Squeeze", 13, axes_init, squeeze_run, squeeze_infer},
    {"", "Unsqueeze", 1, axes_init, unsqueeze_run, unsqueeze_infer},
    {"", "Unsqueeze", 13, axes_init, unsqueeze_run, unsqueeze_infer},
    {"", "Identity", 1, NULL, identity_run, tqt_infer_identity},
    {"", "Dropout", 1, dropout_init, dropout_run, dropout_infer},
    {"", "Dropout", 10, dropout_init, dropout_run, dropout_infer},
    {"", "Dropout", 12, dropout_init, dropout_run, dropout_infer},
    {"", "Transpose", 1, transpose_init, transpose_run, transpose_infer},
    {"", "DepthToSpace", 1, depth_init, depth_to_space_run, depth_infer},
    {"", "SpaceToDepth", 1, depth_init, space_to_depth_run, depth_infer},
    {"", "Concat", 1, concat_init, concat_run, concat_infer},
    {"", "Concat", 4, concat_init, concat_run, concat_infer},
    {"", "Split", 1, split_init, split_run, split_infer},
    {"", "Split", 2, split_init, split_run, split_infer},
    {"", "Split", 13, split_init, split_run, split_infer},
    {"", "Split", 18, split_init, split_run, split_infer},
    {"", "Slice", 1, slice_init, slice_run, slice_infer},
    {"", "Slice", 10, slice_init, slice_run, slice_infer},
    {"", "Pad", 1, pad_init, pad_run, pad_infer},
    {"", "Pad", 2, pad_init, pad_run, pad_infer},
    {"", "Pad", 11, pad_init, pad_run, pad_infer},
    {"", "Pad", 18, pad_init, pad_run, pad_infer}, /* axes */
    {"", "Pad", 19, pad_init, pad_run, pad_infer}, /* wrap */
    {"", "Expand", 8, NULL, expand_run, expand_infer},
    {"", "Tile", 1, NULL, tile_run, tile_infer},
    {"", "Tile", 6, NULL, tile_run, tile_infer},
    {"", "Shape", 1, shape_init, shape_run, shape_infer},
    {"", "Size", 1, NULL, size_run, size_infer},
    {"", "Constant", 1, constant_init, constant_run, constant_infer},
    {"", "ConstantOfShape", 9, constant_of_shape_init, constant_of_shape_run, constant_of_shape_infer},
    {"", "Range", 11, NULL, range_run, range_infer},
    {"", "EyeLike", 9, eye_like_init, eye_like_run, eye_like_infer},
    {"", "Trilu", 14, trilu_init, trilu_run, tqt_infer_unary},
};

const struct tqt_kernel_family tqt_family_shape = {"shape", shape_kernels,
                                                   sizeof shape_kernels / sizeof shape_kernels[0]};
