/* Kernels: the ops no other family has. Signal processing (DFT, STFT, the Hann, Hamming and
 * Blackman windows, MelWeightMatrix), NonMaxSuppression, and the text ops StringNormalizer and
 * TfIdfVectorizer.
 *
 * The spectral kernels sum in double: the ONNX reference computes its transforms in double and
 * rounds once to float, so bins whose exact value is zero come out as ~1e-15, and a float sum
 * (errors ~1e-6 for these magnitudes) would miss them by far more than the absolute tolerance. */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "infer.h"
#include "kernel.h"

/* ---- shared helpers ---- */

static bool misc_dtype_is_real(int32_t dtype) {
  return dtype == TQT_DTYPE_FLOAT || dtype == TQT_DTYPE_DOUBLE || dtype == TQT_DTYPE_FLOAT16 ||
         dtype == TQT_DTYPE_BFLOAT16;
}

/* The types an output_datatype attribute may name: the numeric types tqt_rt_set writes. */
static bool misc_dtype_is_numeric(int32_t dtype) {
  return misc_dtype_is_real(dtype) || dtype == TQT_DTYPE_INT8 || dtype == TQT_DTYPE_UINT8 ||
         dtype == TQT_DTYPE_INT16 || dtype == TQT_DTYPE_UINT16 || dtype == TQT_DTYPE_INT32 ||
         dtype == TQT_DTYPE_UINT32 || dtype == TQT_DTYPE_INT64 || dtype == TQT_DTYPE_UINT64;
}

/* t (named `what` in messages) as one integer: a scalar or a one-element int32/int64 tensor. */
static enum tqt_status misc_tensor_int(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t,
                                       const char *what, int64_t *out) {
  char s[128];
  if (t->dtype != TQT_DTYPE_INT32 && t->dtype != TQT_DTYPE_INT64)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s must be int32 or int64, not %s", what,
                           tqt_dtype_name(t->dtype));
  if (tqt_rt_numel(t) != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s must hold one value, its shape is %s", what,
                           tqt_rt_shape_str(t, s, sizeof s));
  *out = tqt_rt_get_int(t, 0);
  return TQT_STATUS_OK;
}

/* Like misc_tensor_int for a floating-point value. */
static enum tqt_status misc_tensor_real(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t,
                                        const char *what, double *out) {
  char s[128];
  if (!misc_dtype_is_real(t->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s must be a floating-point tensor, not %s",
                           what, tqt_dtype_name(t->dtype));
  if (tqt_rt_numel(t) != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%s must hold one value, its shape is %s", what,
                           tqt_rt_shape_str(t, s, sizeof s));
  *out = tqt_rt_get(t, 0);
  return TQT_STATUS_OK;
}

/* Input i (required) as one integer. */
static enum tqt_status misc_input_int(struct tqt_kernel_ctx *k, size_t i, const char *what,
                                      int64_t *out) {
  const struct tqt_rt_tensor *t = tqt_kernel_input_required(k, i);
  if (!t) return k->d->status;
  return misc_tensor_int(k, t, what, out);
}

/* Reads output_datatype (default float) and checks that it names a numeric type. */
static enum tqt_status misc_output_datatype(struct tqt_kernel_ctx *k, int32_t *out) {
  int64_t dtype = tqt_attr_int(k->node, "output_datatype", TQT_DTYPE_FLOAT);
  if (dtype < 0 || dtype > INT32_MAX || !misc_dtype_is_numeric((int32_t)dtype))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "output_datatype %lld is not a numeric type",
                           (long long)dtype);
  *out = (int32_t)dtype;
  return TQT_STATUS_OK;
}

/* Output 0 as a tensor of these dims; a negative constant among them proves the run fails. */
static enum tqt_status misc_infer_tensor(struct tqt_infer_ctx *c, int32_t dtype, size_t rank,
                                         const tqt_sdim *dims) {
  for (size_t i = 0; i < rank; i++) {
    int64_t v;
    if (tqt_sdim_value(dims[i], &v) && v < 0)
      return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "output dim %zu would be %lld", i,
                             (long long)v);
  }
  tqt_sym_tensor(&c->out[0], dtype, rank, dims);
  return TQT_STATUS_OK;
}

/* n / 2 + 1: the bins of a one-sided spectrum of n points. */
static tqt_sdim misc_infer_half(struct tqt_infer_ctx *c, tqt_sdim n) {
  return tqt_sdim_add(c->dims, tqt_sdim_div_floor(c->dims, n, tqt_sdim_const(c->dims, 2)),
                      tqt_sdim_const(c->dims, 1));
}

/* ---- window functions ---- */

/* w[n] = a0 - a1 cos(2πn/N) + a2 cos(4πn/N), N the size (periodic) or the size - 1. */
struct window_params {
  double a0, a1, a2;
  bool periodic;
  int32_t dtype;
};

static enum tqt_status window_init(struct tqt_kernel_ctx *k) {
  struct window_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *op = k->node->op_type;
  if (strcmp(op, "HannWindow") == 0) {
    p->a0 = 0.5;
    p->a1 = 0.5;
  } else if (strcmp(op, "HammingWindow") == 0) {
    p->a0 = 25.0 / 46.0;
    p->a1 = 21.0 / 46.0;
  } else {
    p->a0 = 0.42;
    p->a1 = 0.5;
    p->a2 = 0.08;
  }
  p->periodic = tqt_attr_int(k->node, "periodic", 1) != 0;
  if (misc_output_datatype(k, &p->dtype)) return k->d->status;
  k->params = p;
  return TQT_STATUS_OK;
}

static enum tqt_status window_run(struct tqt_kernel_ctx *k) {
  const struct window_params *p = k->params;
  int64_t size;
  if (misc_input_int(k, 0, "size", &size)) return k->d->status;
  if (size < 0) return tqt_kernel_fail(k, TQT_STATUS_INVALID, "size %lld", (long long)size);
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, p->dtype, 1, &size);
  if (!y) return k->d->status;
  int64_t period = p->periodic ? size : size - 1;
  for (int64_t n = 0; n < size; n++) {
    /* A symmetric window of one sample has no period: it is the peak, 1. */
    double x = period > 0 ? 2.0 * M_PI * (double)n / (double)period : 0.0;
    tqt_rt_set(y, n, p->a0 - p->a1 * cos(x) + p->a2 * cos(2.0 * x));
  }
  return TQT_STATUS_OK;
}

/* [size] of output_datatype. */
static enum tqt_status window_infer(struct tqt_infer_ctx *c) {
  const struct window_params *p = c->k->params;
  tqt_sdim size = tqt_sym_elem(c->dims, tqt_infer_input(c, 0), 0);
  return misc_infer_tensor(c, p->dtype, 1, &size);
}

/* ---- MelWeightMatrix ---- */

struct mel_params {
  int32_t dtype;
};

static enum tqt_status mel_init(struct tqt_kernel_ctx *k) {
  struct mel_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  if (misc_output_datatype(k, &p->dtype)) return k->d->status;
  k->params = p;
  return TQT_STATUS_OK;
}

static double mel_from_hertz(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hertz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* Triangular filters whose corners are num_mel_bins + 2 points evenly spaced on the mel scale
 * (the step is the range over num_mel_bins + 2, as the ONNX reference has it), each mapped to
 * the DFT bin floor((dft_length + 1) f / sample_rate). Filter i rises from corner i to 1 at
 * corner i + 1 and falls to 0 at corner i + 2. */
static enum tqt_status mel_run(struct tqt_kernel_ctx *k) {
  const struct mel_params *p = k->params;
  int64_t n_mel = 0, dft_length = 0, rate = 0;
  double lower = 0, upper = 0;
  if (misc_input_int(k, 0, "num_mel_bins", &n_mel) ||
      misc_input_int(k, 1, "dft_length", &dft_length) ||
      misc_input_int(k, 2, "sample_rate", &rate))
    return k->d->status;
  const struct tqt_rt_tensor *lo = tqt_kernel_input_required(k, 3);
  const struct tqt_rt_tensor *hi = lo ? tqt_kernel_input_required(k, 4) : NULL;
  if (!hi || misc_tensor_real(k, lo, "lower_edge_hertz", &lower) ||
      misc_tensor_real(k, hi, "upper_edge_hertz", &upper))
    return k->d->status;
  if (n_mel <= 0 || dft_length <= 0 || rate <= 0 || n_mel > INT32_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "num_mel_bins %lld, dft_length %lld and sample_rate %lld must be "
                           "positive", (long long)n_mel, (long long)dft_length, (long long)rate);
  int64_t dims[2] = {dft_length / 2 + 1, n_mel};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, p->dtype, 2, dims);
  if (!y) return k->d->status;
  memset(y->data, 0, y->nbytes);
  int64_t *corner = malloc((size_t)(n_mel + 2) * sizeof *corner);
  if (!corner) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  double mel_lo = mel_from_hertz(lower);
  double step = (mel_from_hertz(upper) - mel_lo) / (double)(n_mel + 2);
  for (int64_t i = 0; i < n_mel + 2; i++)
    corner[i] = (int64_t)floor((double)(dft_length + 1) * mel_to_hertz((double)i * step + mel_lo) /
                               (double)rate);
  /* Corners past the spectrum (an upper edge beyond Nyquist) only lose the rows they would
   * reach: the matrix has one row per DFT bin. */
  for (int64_t i = 0; i < n_mel; i++) {
    int64_t left = corner[i], center = corner[i + 1], right = corner[i + 2];
    for (int64_t j = left; j <= center; j++) {
      double v = center == left ? 1.0 : (double)(j - left) / (double)(center - left);
      if (j >= 0 && j < dims[0]) tqt_rt_set(y, j * n_mel + i, v);
    }
    for (int64_t j = center; j < right; j++)
      if (j >= 0 && j < dims[0])
        tqt_rt_set(y, j * n_mel + i, (double)(right - j) / (double)(right - center));
  }
  free(corner);
  return TQT_STATUS_OK;
}

/* [dft_length / 2 + 1, num_mel_bins] of output_datatype. */
static enum tqt_status mel_infer(struct tqt_infer_ctx *c) {
  const struct mel_params *p = c->k->params;
  tqt_sdim dims[2] = {misc_infer_half(c, tqt_sym_elem(c->dims, tqt_infer_input(c, 1), 0)),
                      tqt_sym_elem(c->dims, tqt_infer_input(c, 0), 0)};
  return misc_infer_tensor(c, p->dtype, 2, dims);
}

/* ---- DFT and STFT ---- */

/* Scratch for transforms of length n: the line to transform, the spectrum, and the twiddles
 * cos(2πm/n), sin(2πm/n), all in one allocation. */
struct spectral_work {
  size_t n;
  double *in_re, *in_im, *out_re, *out_im, *cos_t, *sin_t;
};

static enum tqt_status spectral_work_alloc(struct tqt_kernel_ctx *k, struct spectral_work *w,
                                           size_t n) {
  if (n == 0 || n > SIZE_MAX / (6 * sizeof(double)))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "transform length %zu", n);
  double *buf = malloc(6 * n * sizeof *buf);
  if (!buf) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory (length %zu)", n);
  *w = (struct spectral_work){n, buf, buf + n, buf + 2 * n, buf + 3 * n, buf + 4 * n, buf + 5 * n};
  for (size_t m = 0; m < n; m++) {
    double a = 2.0 * M_PI * (double)m / (double)n;
    w->cos_t[m] = cos(a);
    w->sin_t[m] = sin(a);
  }
  return TQT_STATUS_OK;
}

/* Bins 0..n_out-1 of the transform of w->in into w->out (unscaled): e^{-2πi jk/n} forward,
 * e^{+2πi jk/n} inverse. A radix-2 FFT when n is a power of two, else the direct sum with the
 * angle index jk kept modulo n so that every twiddle is exact to the table's precision. */
static void spectral_transform(struct spectral_work *w, size_t n_out, bool inverse) {
  size_t n = w->n;
  double sign = inverse ? 1.0 : -1.0;
  if ((n & (n - 1)) == 0) {
    double *re = w->out_re, *im = w->out_im;
    memcpy(re, w->in_re, n * sizeof *re);
    memcpy(im, w->in_im, n * sizeof *im);
    for (size_t i = 1, j = 0; i < n; i++) { /* bit-reversal permutation */
      size_t bit = n >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) {
        double t = re[i];
        re[i] = re[j];
        re[j] = t;
        t = im[i];
        im[i] = im[j];
        im[j] = t;
      }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
      size_t half = len / 2, stride = n / len;
      for (size_t i = 0; i < n; i += len) {
        for (size_t j = 0; j < half; j++) {
          double c = w->cos_t[j * stride], s = sign * w->sin_t[j * stride];
          double xr = re[i + j + half], xi = im[i + j + half];
          double vr = xr * c - xi * s, vi = xr * s + xi * c;
          re[i + j + half] = re[i + j] - vr;
          im[i + j + half] = im[i + j] - vi;
          re[i + j] += vr;
          im[i + j] += vi;
        }
      }
    }
    return;
  }
  for (size_t b = 0; b < n_out; b++) {
    double sr = 0.0, si = 0.0;
    for (size_t j = 0, m = 0; j < n; j++) {
      double c = w->cos_t[m], s = sign * w->sin_t[m];
      sr += w->in_re[j] * c - w->in_im[j] * s;
      si += w->in_re[j] * s + w->in_im[j] * c;
      m += b;
      if (m >= n) m -= n;
    }
    w->out_re[b] = sr;
    w->out_im[b] = si;
  }
}

static double spectral_get(const struct tqt_rt_tensor *t, size_t i) {
  return t->dtype == TQT_DTYPE_FLOAT ? ((const float *)t->data)[i] : tqt_rt_get(t, (int64_t)i);
}

static void spectral_set(struct tqt_rt_tensor *t, size_t i, double v) {
  if (t->dtype == TQT_DTYPE_FLOAT)
    ((float *)t->data)[i] = (float)v;
  else
    tqt_rt_set(t, (int64_t)i, v);
}

/* A signal's last dim holds 1 (real) or 2 (real, imaginary) values per sample. */
static enum tqt_status spectral_check_signal(struct tqt_kernel_ctx *k,
                                             const struct tqt_rt_tensor *x, size_t min_rank) {
  char s[128];
  if (!misc_dtype_is_real(x->dtype))
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "signal type %s", tqt_dtype_name(x->dtype));
  if (x->rank < min_rank || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "the signal %s must be [batch, ..., 1 or 2] of rank %zu or more",
                           tqt_rt_shape_str(x, s, sizeof s), min_rank);
  return TQT_STATUS_OK;
}

struct dft_params {
  int64_t axis;         /* the attribute, or input 2's default (DFT-20) */
  bool axis_from_input; /* DFT-20: the optional input 2 */
  bool inverse, onesided;
};

static enum tqt_status dft_init(struct tqt_kernel_ctx *k) {
  struct dft_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->axis_from_input = k->kernel->since_version >= 20;
  p->axis = p->axis_from_input ? -2 : tqt_attr_int(k->node, "axis", 1);
  p->inverse = tqt_attr_int(k->node, "inverse", 0) != 0;
  p->onesided = tqt_attr_int(k->node, "onesided", 0) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

/* A negative axis counts from the back of all dims; the trailing real/imaginary one is none. */
static enum tqt_status dft_axis(struct tqt_kernel_ctx *k, int64_t axis, size_t rank, size_t *out) {
  int64_t r = (int64_t)rank;
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r - 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "axis %lld is out of range for a signal of rank %zu", (long long)axis,
                           rank);
  *out = (size_t)axis;
  return TQT_STATUS_OK;
}

/* The transform along `axis` of every line of the signal, zero-padded or cut to dft_length;
 * the inverse divides by dft_length; onesided keeps bins 0..dft_length/2. */
static enum tqt_status dft_run(struct tqt_kernel_ctx *k) {
  const struct dft_params *p = k->params;
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x || spectral_check_signal(k, x, 3)) return k->d->status;
  int64_t axis_value = p->axis;
  const struct tqt_rt_tensor *axis_t = p->axis_from_input ? tqt_kernel_input(k, 2) : NULL;
  if (axis_t && misc_tensor_int(k, axis_t, "axis", &axis_value)) return k->d->status;
  size_t axis = 0;
  if (dft_axis(k, axis_value, x->rank, &axis)) return k->d->status;
  int64_t n_fft = x->dims[axis];
  const struct tqt_rt_tensor *len_t = tqt_kernel_input(k, 1);
  if (len_t && misc_tensor_int(k, len_t, "dft_length", &n_fft)) return k->d->status;
  if (!len_t && k->d->status) return k->d->status;
  if (n_fft <= 0)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "dft_length %lld", (long long)n_fft);
  size_t n = (size_t)n_fft, n_in = (size_t)x->dims[axis] < n ? (size_t)x->dims[axis] : n;
  size_t n_out = p->onesided ? n / 2 + 1 : n;
  int64_t dims[TQT_RANK_MAX];
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  dims[axis] = (int64_t)n_out;
  dims[x->rank - 1] = 2;
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, x->rank, dims);
  if (!y) return k->d->status;
  size_t outer = 1, inner = 1, comps = (size_t)x->dims[x->rank - 1], len = (size_t)x->dims[axis];
  for (size_t i = 0; i < axis; i++) outer *= (size_t)x->dims[i];
  for (size_t i = axis + 1; i + 1 < x->rank; i++) inner *= (size_t)x->dims[i];
  if (outer * inner == 0) return TQT_STATUS_OK;
  struct spectral_work w;
  if (spectral_work_alloc(k, &w, n)) return k->d->status;
  double scale = p->inverse ? 1.0 / (double)n : 1.0;
  for (size_t o = 0; o < outer; o++) {
    for (size_t i = 0; i < inner; i++) {
      for (size_t j = 0; j < n; j++) {
        size_t at = ((o * len + j) * inner + i) * comps;
        w.in_re[j] = j < n_in ? spectral_get(x, at) : 0.0;
        w.in_im[j] = j < n_in && comps == 2 ? spectral_get(x, at + 1) : 0.0;
      }
      spectral_transform(&w, n_out, p->inverse);
      for (size_t b = 0; b < n_out; b++) {
        size_t at = ((o * n_out + b) * inner + i) * 2;
        spectral_set(y, at, w.out_re[b] * scale);
        spectral_set(y, at + 1, w.out_im[b] * scale);
      }
    }
  }
  free(w.in_re);
  return TQT_STATUS_OK;
}

/* The signal's dims with dft_length (or its one-sided half) along the axis and 2 (real,
 * imaginary) last. */
static enum tqt_status dft_infer(struct tqt_infer_ctx *c) {
  const struct dft_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  int32_t dtype = tqt_sym_dtype(tqt_infer_input(c, 0));
  size_t axis = 0;
  if (!x) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  if (x->rank < 3)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "signal of rank %zu", x->rank);
  int64_t axis_value = p->axis;
  const struct tqt_sym *axis_s = p->axis_from_input ? tqt_infer_input(c, 2) : NULL;
  size_t n_axis;
  if (axis_s && (!tqt_sym_ints(axis_s, &axis_value, 1, &n_axis) || n_axis != 1)) {
    tqt_sym_tensor_unranked(&c->out[0], dtype);
    return TQT_STATUS_OK;
  }
  if (dft_axis(c->k, axis_value, x->rank, &axis)) return c->k->d->status;
  const struct tqt_sym *len = tqt_infer_input(c, 1);
  tqt_sdim n = len ? tqt_sym_elem(c->dims, len, 0) : x->dims[axis], dims[TQT_RANK_MAX];
  memcpy(dims, x->dims, x->rank * sizeof *dims);
  dims[axis] = p->onesided ? misc_infer_half(c, n) : n;
  dims[x->rank - 1] = tqt_sdim_const(c->dims, 2);
  return misc_infer_tensor(c, dtype, x->rank, dims);
}

struct stft_params {
  bool onesided;
};

static enum tqt_status stft_init(struct tqt_kernel_ctx *k) {
  struct stft_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->onesided = tqt_attr_int(k->node, "onesided", 1) != 0;
  k->params = p;
  return TQT_STATUS_OK;
}

/* Frames of frame_length samples every frame_step samples (as many as fit whole), each
 * multiplied by the window (ones when absent) and transformed: [batch, frames, bins, 2]. */
static enum tqt_status stft_run(struct tqt_kernel_ctx *k) {
  const struct stft_params *p = k->params;
  char s[128];
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x || spectral_check_signal(k, x, 3)) return k->d->status;
  if (x->rank != 3)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "the signal %s must be [batch, length, 1 or 2]",
                           tqt_rt_shape_str(x, s, sizeof s));
  int64_t step = 0, frame_length = -1;
  if (misc_input_int(k, 1, "frame_step", &step)) return k->d->status;
  const struct tqt_rt_tensor *win = tqt_kernel_input(k, 2);
  if (!win && k->d->status) return k->d->status;
  const struct tqt_rt_tensor *fl = tqt_kernel_input(k, 3);
  if (!fl && k->d->status) return k->d->status;
  if (fl && misc_tensor_int(k, fl, "frame_length", &frame_length)) return k->d->status;
  if (win) {
    if (win->rank != 1 || !misc_dtype_is_real(win->dtype) ||
        (fl && win->dims[0] != frame_length))
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "the window (%s %s) must be 1-D floats of frame_length %lld",
                             tqt_dtype_name(win->dtype), tqt_rt_shape_str(win, s, sizeof s),
                             (long long)frame_length);
    frame_length = win->dims[0];
  }
  int64_t length = x->dims[1];
  if (frame_length < 0) frame_length = length;
  if (step <= 0 || frame_length <= 0 || frame_length > length)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "frame_step %lld and frame_length %lld for a signal of %lld samples",
                           (long long)step, (long long)frame_length, (long long)length);
  size_t n = (size_t)frame_length, n_out = p->onesided ? n / 2 + 1 : n;
  size_t frames = (size_t)((length - frame_length) / step + 1), comps = (size_t)x->dims[2];
  int64_t dims[4] = {x->dims[0], (int64_t)frames, (int64_t)n_out, 2};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, x->dtype, 4, dims);
  if (!y) return k->d->status;
  if (x->dims[0] == 0) return TQT_STATUS_OK;
  struct spectral_work w;
  if (spectral_work_alloc(k, &w, n)) return k->d->status;
  for (size_t b = 0; b < (size_t)x->dims[0]; b++) {
    for (size_t f = 0; f < frames; f++) {
      size_t base = (b * (size_t)length + f * (size_t)step) * comps;
      for (size_t j = 0; j < n; j++) {
        double wj = win ? spectral_get(win, j) : 1.0;
        double re = spectral_get(x, base + j * comps) * wj;
        double im = comps == 2 ? spectral_get(x, base + j * comps + 1) * wj : 0.0;
        /* The reference windows float signals in float before its double transform. */
        w.in_re[j] = x->dtype == TQT_DTYPE_FLOAT ? (float)re : re;
        w.in_im[j] = x->dtype == TQT_DTYPE_FLOAT ? (float)im : im;
      }
      spectral_transform(&w, n_out, false);
      for (size_t c = 0; c < n_out; c++) {
        size_t at = ((b * frames + f) * n_out + c) * 2;
        spectral_set(y, at, w.out_re[c]);
        spectral_set(y, at + 1, w.out_im[c]);
      }
    }
  }
  free(w.in_re);
  return TQT_STATUS_OK;
}

/* [batch, frames, bins, 2]: frames = (length - frame_length) / frame_step + 1, frame_length
 * from its input, else the window's length, else the signal's. */
static enum tqt_status stft_infer(struct tqt_infer_ctx *c) {
  const struct stft_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0)), *win = tqt_sym_ranked(tqt_infer_input(c, 2));
  const struct tqt_sym *fl = tqt_infer_input(c, 3);
  tqt_sdim dims[4] = {NULL, NULL, NULL, tqt_sdim_const(c->dims, 2)};
  if (x && x->rank != 3)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "signal of rank %zu", x->rank);
  tqt_sdim length = x ? x->dims[1] : NULL, frame = length;
  if (fl)
    frame = tqt_sym_elem(c->dims, fl, 0);
  else if (tqt_infer_input(c, 2))
    frame = win && win->rank == 1 ? win->dims[0] : NULL;
  tqt_sdim step = tqt_sym_elem(c->dims, tqt_infer_input(c, 1), 0);
  dims[0] = x ? x->dims[0] : NULL;
  dims[1] = tqt_sdim_add(c->dims,
                         tqt_sdim_div_floor(c->dims, tqt_sdim_sub(c->dims, length, frame), step),
                         tqt_sdim_const(c->dims, 1));
  dims[2] = p->onesided ? misc_infer_half(c, frame) : frame;
  return misc_infer_tensor(c, tqt_sym_dtype(tqt_infer_input(c, 0)), 4, dims);
}

/* ---- NonMaxSuppression ---- */

struct nms_params {
  bool center_point_box;
};

struct nms_candidate {
  float score;
  int64_t box;
};

static enum tqt_status nms_init(struct tqt_kernel_ctx *k) {
  struct nms_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  int64_t c = tqt_attr_int(k->node, "center_point_box", 0);
  if (c != 0 && c != 1)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "center_point_box %lld", (long long)c);
  p->center_point_box = c == 1;
  k->params = p;
  return TQT_STATUS_OK;
}

/* Highest score first; among equal scores the lower box index first. */
static int nms_candidate_cmp(const void *a, const void *b) {
  const struct nms_candidate *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return (x->box > y->box) - (x->box < y->box);
}

/* A box as (x_min, y_min, x_max, y_max): corners may come in either order. */
static void nms_box_extent(const float *b, bool center, float e[4]) {
  if (center) {
    e[0] = b[0] - b[2] / 2;
    e[2] = b[0] + b[2] / 2;
    e[1] = b[1] - b[3] / 2;
    e[3] = b[1] + b[3] / 2;
  } else {
    e[0] = fminf(b[1], b[3]);
    e[2] = fmaxf(b[1], b[3]);
    e[1] = fminf(b[0], b[2]);
    e[3] = fmaxf(b[0], b[2]);
  }
}

static bool nms_suppresses(const float *a, const float *b, bool center, float iou_threshold) {
  float ea[4], eb[4];
  nms_box_extent(a, center, ea);
  nms_box_extent(b, center, eb);
  float ix = fminf(ea[2], eb[2]) - fmaxf(ea[0], eb[0]);
  float iy = fminf(ea[3], eb[3]) - fmaxf(ea[1], eb[1]);
  if (ix <= 0 || iy <= 0) return false;
  float inter = ix * iy;
  float area_a = (ea[2] - ea[0]) * (ea[3] - ea[1]), area_b = (eb[2] - eb[0]) * (eb[3] - eb[1]);
  float uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

static enum tqt_status nms_run(struct tqt_kernel_ctx *k) {
  const struct nms_params *p = k->params;
  char s1[128], s2[128];
  const struct tqt_rt_tensor *boxes = tqt_kernel_input_required(k, 0);
  const struct tqt_rt_tensor *scores = boxes ? tqt_kernel_input_required(k, 1) : NULL;
  if (!scores) return k->d->status;
  if (boxes->dtype != TQT_DTYPE_FLOAT || scores->dtype != TQT_DTYPE_FLOAT)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "boxes %s, scores %s (float expected)",
                           tqt_dtype_name(boxes->dtype), tqt_dtype_name(scores->dtype));
  if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 ||
      scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "boxes %s and scores %s must be [batch, boxes, 4] and "
                           "[batch, classes, boxes]", tqt_rt_shape_str(boxes, s1, sizeof s1),
                           tqt_rt_shape_str(scores, s2, sizeof s2));
  /* Absent or empty: no boxes kept, IoU threshold 0, no score threshold. */
  int64_t max_out = 0;
  double iou = 0, score_min = 0;
  bool has_score_min = false;
  const struct tqt_rt_tensor *t;
  if ((t = tqt_kernel_input(k, 2)) && tqt_rt_numel(t) &&
      misc_tensor_int(k, t, "max_output_boxes_per_class", &max_out))
    return k->d->status;
  if ((t = tqt_kernel_input(k, 3)) && tqt_rt_numel(t) &&
      misc_tensor_real(k, t, "iou_threshold", &iou))
    return k->d->status;
  if ((t = tqt_kernel_input(k, 4)) && tqt_rt_numel(t)) {
    if (misc_tensor_real(k, t, "score_threshold", &score_min)) return k->d->status;
    has_score_min = true;
  }
  if (k->d->status) return k->d->status;
  size_t n_batch = (size_t)boxes->dims[0], n_class = (size_t)scores->dims[1];
  size_t n_box = (size_t)boxes->dims[1];
  size_t keep = max_out < 0 ? 0 : (uint64_t)max_out < n_box ? (size_t)max_out : n_box;
  size_t cap = n_batch * n_class; /* selected triples at most: cap * keep */
  if (keep && cap > SIZE_MAX / 3 / sizeof(int64_t) / keep)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "too many boxes");
  int64_t *sel = malloc((cap * keep + 1) * 3 * sizeof *sel);
  struct nms_candidate *cand = malloc((n_box + 1) * sizeof *cand);
  int64_t *kept = malloc((keep + 1) * sizeof *kept);
  enum tqt_status st = TQT_STATUS_OK;
  size_t n_sel = 0;
  if (!sel || !cand || !kept) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  const float *bx = boxes->data, *sc = scores->data;
  for (size_t b = 0; b < n_batch && keep; b++) {
    const float *batch_boxes = bx + b * n_box * 4;
    for (size_t c = 0; c < n_class; c++) {
      const float *cs = sc + (b * n_class + c) * n_box;
      size_t n_cand = 0, n_kept = 0;
      for (size_t i = 0; i < n_box; i++)
        if (!has_score_min || cs[i] > score_min)
          cand[n_cand++] = (struct nms_candidate){cs[i], (int64_t)i};
      qsort(cand, n_cand, sizeof *cand, nms_candidate_cmp);
      for (size_t i = 0; i < n_cand && n_kept < keep; i++) {
        const float *box = batch_boxes + cand[i].box * 4;
        bool suppressed = false;
        for (size_t j = 0; j < n_kept && !suppressed; j++)
          suppressed = nms_suppresses(box, batch_boxes + kept[j] * 4, p->center_point_box,
                                      (float)iou);
        if (suppressed) continue;
        kept[n_kept++] = cand[i].box;
        sel[n_sel * 3] = (int64_t)b;
        sel[n_sel * 3 + 1] = (int64_t)c;
        sel[n_sel * 3 + 2] = cand[i].box;
        n_sel++;
      }
    }
  }
  int64_t dims[2] = {(int64_t)n_sel, 3};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_INT64, 2, dims);
  if (!y) {
    st = k->d->status;
    goto done;
  }
  if (n_sel) memcpy(y->data, sel, n_sel * 3 * sizeof *sel);
done:
  free(sel);
  free(cand);
  free(kept);
  return st;
}

/* [selected, 3] int64: how many are selected depends on the data. */
static enum tqt_status nms_infer(struct tqt_infer_ctx *c) {
  tqt_sdim dims[2] = {tqt_sdim_fresh(c->dims), tqt_sdim_const(c->dims, 3)};
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_INT64, 2, dims);
  return TQT_STATUS_OK;
}

/* ---- StringNormalizer ---- */

enum strnorm_case { STRNORM_NONE, STRNORM_LOWER, STRNORM_UPPER };

struct strnorm_params {
  enum strnorm_case action;
  bool case_sensitive;
  const struct tqt_bytes *stopwords;
  size_t n_stopwords;
  const char *locale; /* "" when the attribute is absent */
};

static enum tqt_status strnorm_init(struct tqt_kernel_ctx *k) {
  struct strnorm_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *action = tqt_attr_string(k->node, "case_change_action", "NONE");
  if (strcmp(action, "NONE") == 0)
    p->action = STRNORM_NONE;
  else if (strcmp(action, "LOWER") == 0)
    p->action = STRNORM_LOWER;
  else if (strcmp(action, "UPPER") == 0)
    p->action = STRNORM_UPPER;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "case_change_action '%s'", action);
  p->case_sensitive = tqt_attr_int(k->node, "is_case_sensitive", 0) != 0;
  const struct tqt_attr *stop = tqt_node_attr_find(k->node, "stopwords");
  if (stop && stop->type == TQT_ATTR_TYPE_STRINGS) {
    p->stopwords = stop->strings;
    p->n_stopwords = stop->n;
  }
  p->locale = tqt_attr_string(k->node, "locale", "");
  k->params = p;
  return TQT_STATUS_OK;
}

/* The UTF-8 flavour of the requested locale (any codeset it names replaced), else C.UTF-8:
 * tensor strings are UTF-8 whatever the locale says, and only its case rules matter. It is
 * opened per run and only for this thread (uselocale), never process-wide: kernels have no
 * hook to free what init would keep. */
static locale_t strnorm_locale_open(const struct strnorm_params *p) {
  locale_t loc = (locale_t)0;
  if (*p->locale) {
    char name[256];
    snprintf(name, sizeof name, "%.*s.UTF-8", (int)strcspn(p->locale, ".@"), p->locale);
    loc = newlocale(LC_CTYPE_MASK, name, (locale_t)0);
  }
  return loc ? loc : newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* s decoded into a new wide string (in the current thread's locale), up to any NUL inside it;
 * NULL when s is not valid UTF-8 or memory runs out. */
static wchar_t *strnorm_widen(const struct tqt_bytes *s) {
  const char *text = s->data ? s->data : "";
  size_t n = mbstowcs(NULL, text, 0);
  if (n == (size_t)-1) return NULL;
  wchar_t *w = malloc((n + 1) * sizeof *w);
  if (w) mbstowcs(w, text, n + 1);
  return w;
}

static void strnorm_wide_case(wchar_t *w, enum strnorm_case action) {
  for (; *w; w++)
    *w = (wchar_t)(action == STRNORM_LOWER ? towlower((wint_t)*w) : towupper((wint_t)*w));
}

/* w encoded into out (a new NUL-terminated buffer); false when out of memory or unencodable. */
static bool strnorm_narrow(const wchar_t *w, struct tqt_bytes *out) {
  size_t n = wcstombs(NULL, w, 0);
  if (n == (size_t)-1) return false;
  char *s = malloc(n + 1);
  if (!s) return false;
  wcstombs(s, w, n + 1);
  out->data = s;
  out->len = n;
  return true;
}

static bool strnorm_bytes_equal(const struct tqt_bytes *a, const struct tqt_bytes *b) {
  return a->len == b->len && (!a->len || memcmp(a->data, b->data, a->len) == 0);
}

/* Drops the stop words from [C] or [1, C] strings (exactly, or ignoring case), then changes
 * the case of what is left; when nothing is left the output is one empty string. */
static enum tqt_status strnorm_run(struct tqt_kernel_ctx *k) {
  const struct strnorm_params *p = k->params;
  char s[128];
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  if (x->dtype != TQT_DTYPE_STRING)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input type %s, expected string",
                           tqt_dtype_name(x->dtype));
  if (x->rank != 1 && !(x->rank == 2 && x->dims[0] == 1))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input shape %s, expected [C] or [1, C]",
                           tqt_rt_shape_str(x, s, sizeof s));
  locale_t loc = strnorm_locale_open(p);
  if (!loc)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "no UTF-8 locale (C.UTF-8) available");
  locale_t old = uselocale(loc);
  enum tqt_status st = TQT_STATUS_OK;
  const struct tqt_bytes *in = x->data;
  size_t n = (size_t)tqt_rt_numel(x), n_kept = 0;
  bool fold = !p->case_sensitive && p->n_stopwords;
  bool *kept = calloc(n + 1, sizeof *kept);
  wchar_t **stops = calloc(p->n_stopwords + 1, sizeof *stops);
  wchar_t *wide = NULL;
  if (!kept || !stops) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; fold && i < p->n_stopwords; i++) {
    if (!(stops[i] = strnorm_widen(&p->stopwords[i]))) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "stop word %zu is not UTF-8", i);
      goto done;
    }
    strnorm_wide_case(stops[i], STRNORM_LOWER);
  }
  for (size_t i = 0; i < n; i++) {
    bool stop = false;
    if (fold) {
      if (!(wide = strnorm_widen(&in[i]))) {
        st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "string %zu is not UTF-8", i);
        goto done;
      }
      strnorm_wide_case(wide, STRNORM_LOWER);
      for (size_t j = 0; j < p->n_stopwords && !stop; j++) stop = wcscmp(wide, stops[j]) == 0;
      free(wide);
      wide = NULL;
    } else {
      for (size_t j = 0; j < p->n_stopwords && !stop; j++)
        stop = strnorm_bytes_equal(&in[i], &p->stopwords[j]);
    }
    kept[i] = !stop;
    n_kept += kept[i];
  }
  int64_t dims[2] = {1, (int64_t)(n_kept ? n_kept : 1)};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_STRING, x->rank,
                                              x->rank == 2 ? dims : dims + 1);
  if (!y) {
    st = k->d->status;
    goto done;
  }
  struct tqt_bytes *out = y->data;
  if (!n_kept && !(out[0].data = calloc(1, 1))) {
    st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0, o = 0; i < n; i++) {
    if (!kept[i]) continue;
    if (p->action == STRNORM_NONE) {
      if (!(out[o].data = malloc(in[i].len + 1))) {
        st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
        goto done;
      }
      if (in[i].len) memcpy(out[o].data, in[i].data, in[i].len);
      out[o].data[in[i].len] = '\0';
      out[o++].len = in[i].len;
      continue;
    }
    if (!(wide = strnorm_widen(&in[i]))) {
      st = tqt_kernel_fail(k, TQT_STATUS_INVALID, "string %zu is not UTF-8", i);
      goto done;
    }
    strnorm_wide_case(wide, p->action);
    if (!strnorm_narrow(wide, &out[o++])) {
      st = tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
      goto done;
    }
    free(wide);
    wide = NULL;
  }
done:
  free(wide);
  for (size_t i = 0; stops && i < p->n_stopwords; i++) free(stops[i]);
  free(stops);
  free(kept);
  uselocale(old);
  freelocale(loc);
  return st;
}

/* Strings of the input's rank ([C] or [1, C]); the count kept depends on the stop words and the
 * data, except that with none every string stays. */
static enum tqt_status strnorm_infer(struct tqt_infer_ctx *c) {
  const struct strnorm_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  if (!x) {
    tqt_sym_tensor_unranked(&c->out[0], TQT_DTYPE_STRING);
    return TQT_STATUS_OK;
  }
  if (x->rank != 1 && x->rank != 2)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "input of rank %zu", x->rank);
  tqt_sdim dims[2] = {tqt_sdim_const(c->dims, 1), x->dims[x->rank - 1]};
  int64_t n;
  /* No string at all leaves one empty string. */
  if (p->n_stopwords || !tqt_sdim_value(dims[1], &n) || n < 1) dims[1] = tqt_sdim_fresh(c->dims);
  tqt_sym_tensor(&c->out[0], TQT_DTYPE_STRING, x->rank, dims + 2 - x->rank);
  return TQT_STATUS_OK;
}

/* ---- TfIdfVectorizer ---- */

enum tfidf_mode { TFIDF_TF, TFIDF_IDF, TFIDF_TFIDF };

/* One n-gram of the pool: n items from `start`, counted at output index `out`. */
struct tfidf_gram {
  size_t start, n;
  int64_t out;
};

/* The pool's n-grams of lengths min_n..max_n, in an open-addressing hash table keyed by their
 * items (table entries are gram index + 1, 0 when free; the table is at least twice the
 * gram count, so a probe always ends). */
struct tfidf_params {
  enum tfidf_mode mode;
  size_t min_n, max_n, max_skip;
  bool strings;
  const int64_t *pool_ints;
  const struct tqt_bytes *pool_strings;
  struct tfidf_gram *grams;
  size_t n_grams;
  uint32_t *table;
  size_t table_mask;
  const float *weights;
  size_t n_weights;
  int64_t out_size;
};

/* Items are hashed one by one (FNV-1a over their bytes), pool and input alike. */
static uint64_t tfidf_hash_bytes(uint64_t h, const void *p, size_t len) {
  const unsigned char *b = p;
  for (size_t i = 0; i < len; i++) h = (h ^ b[i]) * 1099511628211ull;
  return (h ^ 0xff) * 1099511628211ull; /* item separator: "ab","c" differs from "a","bc" */
}

#define TFIDF_HASH_SEED 1469598103934665603ull

static uint64_t tfidf_hash_int(uint64_t h, int64_t v) { return tfidf_hash_bytes(h, &v, sizeof v); }

static uint64_t tfidf_gram_hash(const struct tfidf_params *p, const struct tfidf_gram *g) {
  uint64_t h = TFIDF_HASH_SEED;
  for (size_t j = 0; j < g->n; j++)
    h = p->strings ? tfidf_hash_bytes(h, p->pool_strings[g->start + j].data,
                                      p->pool_strings[g->start + j].len)
                   : tfidf_hash_int(h, p->pool_ints[g->start + j]);
  return h;
}

static bool tfidf_gram_equal(const struct tfidf_params *p, const struct tfidf_gram *a,
                             const struct tfidf_gram *b) {
  if (a->n != b->n) return false;
  for (size_t j = 0; j < a->n; j++) {
    if (p->strings ? !strnorm_bytes_equal(&p->pool_strings[a->start + j],
                                          &p->pool_strings[b->start + j])
                   : p->pool_ints[a->start + j] != p->pool_ints[b->start + j])
      return false;
  }
  return true;
}

/* Inserts gram g; a gram listed twice keeps the later output index, as the reference does. */
static void tfidf_insert(struct tfidf_params *p, size_t g) {
  const struct tfidf_gram *gram = &p->grams[g];
  for (size_t slot = tfidf_gram_hash(p, gram) & p->table_mask;; slot = (slot + 1) & p->table_mask) {
    uint32_t e = p->table[slot];
    if (!e) {
      p->table[slot] = (uint32_t)(g + 1);
      return;
    }
    if (tfidf_gram_equal(p, &p->grams[e - 1], gram)) {
      p->grams[e - 1].out = gram->out;
      return;
    }
  }
}

static enum tqt_status tfidf_init(struct tqt_kernel_ctx *k) {
  struct tfidf_params *p = tqt_arena_calloc(k->arena, 1, sizeof *p);
  if (!p) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  const char *mode = tqt_attr_string(k->node, "mode", "");
  if (strcmp(mode, "TF") == 0)
    p->mode = TFIDF_TF;
  else if (strcmp(mode, "IDF") == 0)
    p->mode = TFIDF_IDF;
  else if (strcmp(mode, "TFIDF") == 0)
    p->mode = TFIDF_TFIDF;
  else
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "mode '%s' (TF, IDF or TFIDF)", mode);
  int64_t min_n = tqt_attr_int(k->node, "min_gram_length", 0);
  int64_t max_n = tqt_attr_int(k->node, "max_gram_length", 0);
  int64_t max_skip = tqt_attr_int(k->node, "max_skip_count", 0);
  if (min_n < 1 || max_n < min_n || max_skip < 0 || max_n > INT32_MAX || max_skip > INT32_MAX)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "min_gram_length %lld, max_gram_length %lld, max_skip_count %lld",
                           (long long)min_n, (long long)max_n, (long long)max_skip);
  p->min_n = (size_t)min_n;
  p->max_n = (size_t)max_n;
  p->max_skip = (size_t)max_skip;
  size_t n_counts, n_indexes, pool;
  const int64_t *counts = tqt_attr_ints(k->node, "ngram_counts", &n_counts);
  const int64_t *indexes = tqt_attr_ints(k->node, "ngram_indexes", &n_indexes);
  p->pool_ints = tqt_attr_ints(k->node, "pool_int64s", &pool);
  const struct tqt_attr *ps = tqt_node_attr_find(k->node, "pool_strings");
  p->strings = ps && ps->type == TQT_ATTR_TYPE_STRINGS;
  if (p->strings) {
    p->pool_strings = ps->strings;
    pool = ps->n;
  }
  if (!counts || !indexes || (!p->strings && !p->pool_ints))
    return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                           "ngram_counts, ngram_indexes and a pool (pool_int64s or pool_strings) "
                           "are required");
  if (pool > UINT32_MAX / 4)
    return tqt_kernel_fail(k, TQT_STATUS_UNSUPPORTED, "a pool of %zu items", pool);
  p->weights = tqt_attr_floats(k->node, "weights", &p->n_weights);
  for (size_t i = 0; i < n_indexes; i++) {
    if (indexes[i] < 0 || indexes[i] >= INT32_MAX)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID, "ngram_indexes[%zu] = %lld", i,
                             (long long)indexes[i]);
    if (indexes[i] + 1 > p->out_size) p->out_size = indexes[i] + 1;
  }
  if (p->weights && p->n_weights < (size_t)p->out_size)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu weights for %lld outputs", p->n_weights,
                           (long long)p->out_size);
  p->grams = tqt_arena_calloc(k->arena, pool + 1, sizeof *p->grams);
  size_t cap = 2;
  while (cap < 2 * (pool + 1)) cap *= 2;
  p->table = tqt_arena_calloc(k->arena, cap, sizeof *p->table);
  if (!p->grams || !p->table) return tqt_kernel_fail(k, TQT_STATUS_NOMEM, "out of memory");
  p->table_mask = cap - 1;
  /* ngram_counts[i] is where the (i+1)-grams start in the pool; ids run over all grams in pool
   * order, including the lengths outside min..max that are never counted. */
  size_t id = 0;
  for (size_t i = 0; i < n_counts; i++) {
    size_t n = i + 1;
    int64_t start = counts[i], end = i + 1 < n_counts ? counts[i + 1] : (int64_t)pool;
    if (start < 0 || end < start || end > (int64_t)pool || (end - start) % (int64_t)n)
      return tqt_kernel_fail(k, TQT_STATUS_INVALID,
                             "ngram_counts[%zu] = %lld does not split a pool of %zu into %zu-grams",
                             i, (long long)start, pool, n);
    for (size_t g = (size_t)start; g < (size_t)end; g += n, id++) {
      if (n < p->min_n || n > p->max_n) continue;
      if (id >= n_indexes)
        return tqt_kernel_fail(k, TQT_STATUS_INVALID, "%zu ngram_indexes for more n-grams",
                               n_indexes);
      p->grams[p->n_grams] = (struct tfidf_gram){g, n, indexes[id]};
      tfidf_insert(p, p->n_grams++);
    }
  }
  k->params = p;
  return TQT_STATUS_OK;
}

/* The output index of the n-gram x[at], x[at + skip], ..., or -1 when the pool lacks it. */
static int64_t tfidf_find(const struct tfidf_params *p, const struct tqt_rt_tensor *x, size_t at,
                          size_t skip, size_t n) {
  const struct tqt_bytes *xs = x->data;
  uint64_t h = TFIDF_HASH_SEED;
  for (size_t j = 0; j < n; j++) {
    size_t i = at + j * skip;
    h = p->strings ? tfidf_hash_bytes(h, xs[i].data, xs[i].len)
                   : tfidf_hash_int(h, tqt_rt_get_int(x, (int64_t)i));
  }
  for (size_t slot = h & p->table_mask;; slot = (slot + 1) & p->table_mask) {
    uint32_t e = p->table[slot];
    if (!e) return -1;
    const struct tfidf_gram *g = &p->grams[e - 1];
    if (g->n != n) continue;
    bool same = true;
    for (size_t j = 0; j < n && same; j++) {
      size_t i = at + j * skip;
      same = p->strings ? strnorm_bytes_equal(&xs[i], &p->pool_strings[g->start + j])
                        : tqt_rt_get_int(x, (int64_t)i) == p->pool_ints[g->start + j];
    }
    if (same) return g->out;
  }
}

/* Counts, per row, the pool's n-grams whose items lie `skip` apart (skip 1 to max_skip_count + 1;
 * 1-grams only once), then weighs the counts by the mode. */
static enum tqt_status tfidf_run(struct tqt_kernel_ctx *k) {
  const struct tfidf_params *p = k->params;
  char s[128];
  const struct tqt_rt_tensor *x = tqt_kernel_input_required(k, 0);
  if (!x) return k->d->status;
  bool ints = x->dtype == TQT_DTYPE_INT32 || x->dtype == TQT_DTYPE_INT64;
  if (p->strings ? x->dtype != TQT_DTYPE_STRING : !ints)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input type %s for a pool of %s",
                           tqt_dtype_name(x->dtype), p->strings ? "strings" : "integers");
  if (x->rank > 2)
    return tqt_kernel_fail(k, TQT_STATUS_INVALID, "input shape %s, expected [C] or [B, C]",
                           tqt_rt_shape_str(x, s, sizeof s));
  size_t rows = x->rank == 2 ? (size_t)x->dims[0] : 1;
  size_t row_len = x->rank == 0 ? 1 : (size_t)x->dims[x->rank - 1];
  int64_t dims[2] = {(int64_t)rows, p->out_size};
  struct tqt_rt_tensor *y = tqt_kernel_output(k, 0, TQT_DTYPE_FLOAT, x->rank == 2 ? 2 : 1,
                                              x->rank == 2 ? dims : dims + 1);
  if (!y) return k->d->status;
  float *out = y->data;
  memset(out, 0, y->nbytes);
  size_t width = (size_t)p->out_size;
  for (size_t r = 0; r < rows; r++) {
    float *freq = out + r * width;
    for (size_t skip = 1; skip <= p->max_skip + 1; skip++) {
      size_t n_lo = skip == 1 || p->min_n > 1 ? p->min_n : 2;
      for (size_t start = 0; start < row_len; start++) {
        for (size_t n = n_lo; n <= p->max_n && start + (n - 1) * skip < row_len; n++) {
          int64_t o = tfidf_find(p, x, r * row_len + start, skip, n);
          if (o >= 0) freq[o] += 1.0f;
        }
      }
    }
    for (size_t i = 0; i < width && p->mode != TFIDF_TF; i++) {
      float w = p->weights ? p->weights[i] : 1.0f;
      freq[i] = p->mode == TFIDF_IDF ? (freq[i] > 0 ? w : 0.0f) : w * freq[i];
    }
  }
  return TQT_STATUS_OK;
}

/* float [out_size] for [C], [B, out_size] for [B, C]. */
static enum tqt_status tfidf_infer(struct tqt_infer_ctx *c) {
  const struct tfidf_params *p = c->k->params;
  const struct tqt_sym *x = tqt_sym_ranked(tqt_infer_input(c, 0));
  if (x && x->rank > 2)
    return tqt_kernel_fail(c->k, TQT_STATUS_INVALID, "input of rank %zu", x->rank);
  tqt_sdim dims[2] = {x && x->rank == 2 ? x->dims[0] : NULL, tqt_sdim_const(c->dims, p->out_size)};
  size_t rank = x && x->rank == 2 ? 2 : 1;
  if (!x)
    tqt_sym_tensor_unranked(&c->out[0], TQT_DTYPE_FLOAT);
  else
    tqt_sym_tensor(&c->out[0], TQT_DTYPE_FLOAT, rank, dims + 2 - rank);
  return TQT_STATUS_OK;
}

static const struct tqt_kernel misc_kernels[] = {
    {"", "HannWindow", 17, window_init, window_run, window_infer},
    {"", "HammingWindow", 17, window_init, window_run, window_infer},
    {"", "BlackmanWindow", 17, window_init, window_run, window_infer},
    {"", "MelWeightMatrix", 17, mel_init, mel_run, mel_infer},
    {"", "DFT", 17, dft_init, dft_run, dft_infer},
    {"", "DFT", 20, dft_init, dft_run, dft_infer}, /* the axis an input */
    {"", "STFT", 17, stft_init, stft_run, stft_infer},
    {"", "NonMaxSuppression", 10, nms_init, nms_run, nms_infer},
    {"", "StringNormalizer", 10, strnorm_init, strnorm_run, strnorm_infer},
    {"", "TfIdfVectorizer", 9, tfidf_init, tfidf_run, tfidf_infer},
};

const struct tqt_kernel_family tqt_family_misc = {"misc", misc_kernels,
                                                  sizeof misc_kernels / sizeof misc_kernels[0]};
