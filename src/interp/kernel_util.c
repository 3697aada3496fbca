/* Services for kernels: shapes, broadcasting, element conversions. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

void tqt_kernel_clamp_f32(const struct tqt_kernel_ctx *k, float *y, size_t n) {
  if (!k->clamp) return;
  const float lo = k->clamp_min, hi = k->clamp_max;
  for (size_t i = 0; i < n; i++) y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
}

/* ---- shapes ---- */

enum tqt_status tqt_broadcast_shape(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *a,
                                    const struct tqt_rt_tensor *b, size_t *rank, int64_t *dims) {
  size_t r = a->rank > b->rank ? a->rank : b->rank;
  for (size_t i = 0; i < r; i++) {
    int64_t da = i < r - a->rank ? 1 : a->dims[i - (r - a->rank)];
    int64_t db = i < r - b->rank ? 1 : b->dims[i - (r - b->rank)];
    if (da != db && da != 1 && db != 1) {
      char sa[128], sb[128];
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "shapes %s and %s do not broadcast",
                             tqt_rt_shape_str(a, sa, sizeof sa), tqt_rt_shape_str(b, sb, sizeof sb));
    }
    dims[i] = da == 1 ? db : da;
  }
  *rank = r;
  return TQT_STATUS_OK;
}

void tqt_broadcast_strides(const struct tqt_rt_tensor *t, size_t rank, const int64_t *dims,
                           int64_t *strides) {
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    size_t off = rank - t->rank;
    if (i < off) {
      strides[i] = 0;
      continue;
    }
    int64_t d = t->dims[i - off];
    strides[i] = (d == 1 && dims[i] != 1) ? 0 : stride;
    stride *= d;
  }
}

enum tqt_status tqt_kernel_axis(struct tqt_kernel_ctx *k, int64_t axis, size_t rank, size_t *out) {
  int64_t r = (int64_t)rank;
  if (axis < -r || axis >= r)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "axis %lld is out of range for rank %zu",
                           (long long)axis, rank);
  *out = (size_t)(axis < 0 ? axis + r : axis);
  return TQT_STATUS_OK;
}

enum tqt_status tqt_kernel_read_ints(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t,
                                     int64_t *out, size_t max, size_t *count) {
  if (t->dtype != TQT_DTYPE_INT64 && t->dtype != TQT_DTYPE_INT32)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "expected an int64 tensor, got %s",
                           tqt_dtype_name(t->dtype));
  int64_t n = tqt_rt_numel(t);
  if (t->rank > 1 || n < 0 || (uint64_t)n > max)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "expected at most %zu values, got %lld", max,
                           (long long)n);
  for (int64_t i = 0; i < n; i++) out[i] = tqt_rt_get_int(t, i);
  *count = (size_t)n;
  return TQT_STATUS_OK;
}

/* On failure the strings not yet copied are cleared, so that freeing the output never frees
 * bytes it does not own. */
enum tqt_status tqt_kernel_strings_own(struct tqt_kernel_ctx *k, struct tqt_rt_tensor *t) {
  if (t->dtype != TQT_DTYPE_STRING) return TQT_STATUS_OK;
  struct tqt_bytes *s = t->data;
  size_t n = t->nbytes / sizeof *s;
  for (size_t i = 0; i < n; i++) {
    char *p = malloc(s[i].len + 1);
    if (!p) {
      for (size_t j = i; j < n; j++) s[j] = (struct tqt_bytes){NULL, 0};
      return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory copying %zu strings", n);
    }
    if (s[i].len) memcpy(p, s[i].data, s[i].len);
    p[s[i].len] = '\0';
    s[i].data = p;
  }
  return TQT_STATUS_OK;
}

/* ---- element types ---- */

float tqt_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalize */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t tqt_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, man = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
  int32_t e = (int32_t)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) { /* subnormal or zero: round half to even */
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000;
    uint32_t shift = (uint32_t)(14 - e);
    uint32_t half = 1u << (shift - 1), rest = man & ((1u << shift) - 1);
    uint32_t h = man >> shift;
    if (rest > half || (rest == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++; /* may carry into the exponent: fine */
  return (uint16_t)(sign | h);
}

float tqt_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t tqt_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if (isnan(f)) return (uint16_t)((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1); /* round half to even */
  return (uint16_t)(x >> 16);
}

double tqt_rt_get(const struct tqt_rt_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case TQT_DTYPE_FLOAT: return ((const float *)p)[i];
  case TQT_DTYPE_DOUBLE: return ((const double *)p)[i];
  case TQT_DTYPE_FLOAT16: return tqt_f16_to_f32(((const uint16_t *)p)[i]);
  case TQT_DTYPE_BFLOAT16: return tqt_bf16_to_f32(((const uint16_t *)p)[i]);
  case TQT_DTYPE_INT8:
  case TQT_DTYPE_INT4: return ((const int8_t *)p)[i];
  case TQT_DTYPE_UINT8:
  case TQT_DTYPE_UINT4: return ((const uint8_t *)p)[i];
  case TQT_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
  case TQT_DTYPE_INT16: return ((const int16_t *)p)[i];
  case TQT_DTYPE_UINT16: return ((const uint16_t *)p)[i];
  case TQT_DTYPE_INT32: return ((const int32_t *)p)[i];
  case TQT_DTYPE_UINT32: return ((const uint32_t *)p)[i];
  case TQT_DTYPE_INT64: return (double)((const int64_t *)p)[i];
  case TQT_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
  default: return 0;
  }
}

/* Float to integer the way C casts do, but saturating so that out-of-range values (and NaN)
 * are defined. */
#define RT_SET_INT(type, lo, hi)                                                                 \
  do {                                                                                           \
    double c_ = isnan(v) ? 0 : v < (double)(lo) ? (double)(lo) : v > (double)(hi) ? (double)(hi) : v; \
    ((type *)p)[i] = (type)c_;                                                                   \
  } while (0)

void tqt_rt_set(struct tqt_rt_tensor *t, int64_t i, double v) {
  void *p = t->data;
  switch (t->dtype) {
  case TQT_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
  case TQT_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
  case TQT_DTYPE_FLOAT16: ((uint16_t *)p)[i] = tqt_f32_to_f16((float)v); break;
  case TQT_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = tqt_f32_to_bf16((float)v); break;
  case TQT_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
  case TQT_DTYPE_INT8: RT_SET_INT(int8_t, INT8_MIN, INT8_MAX); break;
  case TQT_DTYPE_UINT8: RT_SET_INT(uint8_t, 0, UINT8_MAX); break;
  case TQT_DTYPE_INT4: RT_SET_INT(int8_t, -8, 7); break;
  case TQT_DTYPE_UINT4: RT_SET_INT(uint8_t, 0, 15); break;
  case TQT_DTYPE_INT16: RT_SET_INT(int16_t, INT16_MIN, INT16_MAX); break;
  case TQT_DTYPE_UINT16: RT_SET_INT(uint16_t, 0, UINT16_MAX); break;
  case TQT_DTYPE_INT32: RT_SET_INT(int32_t, INT32_MIN, INT32_MAX); break;
  case TQT_DTYPE_UINT32: RT_SET_INT(uint32_t, 0, UINT32_MAX); break;
  case TQT_DTYPE_INT64: RT_SET_INT(int64_t, INT64_MIN, INT64_MAX); break;
  case TQT_DTYPE_UINT64: RT_SET_INT(uint64_t, 0, UINT64_MAX); break;
  default: break;
  }
}

int64_t tqt_rt_get_int(const struct tqt_rt_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case TQT_DTYPE_INT8:
  case TQT_DTYPE_INT4: return ((const int8_t *)p)[i];
  case TQT_DTYPE_UINT8:
  case TQT_DTYPE_UINT4:
  case TQT_DTYPE_BOOL: return ((const uint8_t *)p)[i];
  case TQT_DTYPE_INT16: return ((const int16_t *)p)[i];
  case TQT_DTYPE_UINT16: return ((const uint16_t *)p)[i];
  case TQT_DTYPE_INT32: return ((const int32_t *)p)[i];
  case TQT_DTYPE_UINT32: return ((const uint32_t *)p)[i];
  case TQT_DTYPE_INT64: return ((const int64_t *)p)[i];
  case TQT_DTYPE_UINT64: return (int64_t)((const uint64_t *)p)[i];
  default: return (int64_t)tqt_rt_get(t, i);
  }
}
