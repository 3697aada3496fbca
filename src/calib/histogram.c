#include <math.h>
#include <string.h>

#include "calib.h"

void tqt_histogram_init(struct tqt_histogram *h) {
  memset(h, 0, sizeof *h);
  h->min = INFINITY;
  h->max = -INFINITY;
}

double tqt_histogram_bin_width(const struct tqt_histogram *h) {
  return h->has_range ? ldexp(1.0, h->range_exp) / TQT_HIST_BINS : 0.0;
}

/* Doubles the range: bin pairs merge into the lower half. */
static void histogram_double(struct tqt_histogram *h) {
  for (size_t i = 0; i < TQT_HIST_BINS / 2; i++) h->bins[i] = h->bins[2 * i] + h->bins[2 * i + 1];
  memset(&h->bins[TQT_HIST_BINS / 2], 0, TQT_HIST_BINS / 2 * sizeof h->bins[0]);
  h->range_exp++;
}

/* Makes the range hold a: range = 2^range_exp > a. */
static void histogram_cover(struct tqt_histogram *h, double a) {
  if (!h->has_range) {
    int e;
    frexp(a, &e); /* a = m · 2^e with m in [0.5, 1): 2^e > a */
    h->range_exp = e;
    h->has_range = true;
    return;
  }
  while (a >= ldexp(1.0, h->range_exp)) histogram_double(h);
}

/* Blocks of values whose moments are summed in float (short enough to stay accurate) before
 * they join the double totals: loops the compiler vectorizes. */
enum { HIST_BLOCK = 1024 };

/* Adds one block of finite or non-finite values, the slow careful way. */
static void histogram_add_careful(struct tqt_histogram *h, const float *x, size_t n) {
  double peak = 0, sum = 0, sumsq = 0, mn = h->min, mx = h->max;
  size_t finite = 0, zeros = 0;
  for (size_t i = 0; i < n; i++) {
    double v = x[i];
    if (!isfinite(v)) continue; /* NaN and inf say nothing about a useful range */
    finite++;
    zeros += v == 0;
    sum += v;
    sumsq += v * v;
    if (v < mn) mn = v;
    if (v > mx) mx = v;
    if (fabs(v) > peak) peak = fabs(v);
  }
  h->nonfinite += n - finite;
  if (!finite) return;
  h->count += finite;
  h->zeros += zeros;
  h->sum += sum;
  h->sumsq += sumsq;
  h->min = mn;
  h->max = mx;
  if (peak > 0) histogram_cover(h, peak);
  if (!h->has_range) { /* all zeros so far: they wait in bin 0 */
    h->bins[0] += finite;
    return;
  }
  double per_unit = TQT_HIST_BINS / ldexp(1.0, h->range_exp);
  for (size_t i = 0; i < n; i++) {
    double a = fabs((double)x[i]);
    if (!isfinite(a)) continue;
    size_t bin = (size_t)(a * per_unit);
    h->bins[bin < TQT_HIST_BINS ? bin : TQT_HIST_BINS - 1]++;
  }
}

void tqt_histogram_add(struct tqt_histogram *h, const float *x, size_t n) {
  for (size_t at = 0; at < n; at += HIST_BLOCK) {
    const float *b = x + at;
    size_t len = n - at < HIST_BLOCK ? n - at : HIST_BLOCK;
    float mn = b[0], mx = b[0], sum = 0, sumsq = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < len; i++) {
      float v = b[i];
      mn = v < mn ? v : mn;
      mx = v > mx ? v : mx;
      sum += v;
      sumsq += v * v;
      zeros += v == 0.0f;
    }
    if (!isfinite(mn) || !isfinite(mx) || !isfinite(sumsq)) { /* NaN, inf or overflow */
      histogram_add_careful(h, b, len);
      continue;
    }
    h->count += len;
    h->zeros += zeros;
    h->sum += sum;
    h->sumsq += sumsq;
    if (mn < h->min) h->min = mn;
    if (mx > h->max) h->max = mx;
    float peak = fmaxf(fabsf(mn), fabsf(mx));
    if (peak > 0) histogram_cover(h, peak);
    if (!h->has_range) {
      h->bins[0] += len;
      continue;
    }
    const float per_unit = (float)(TQT_HIST_BINS / ldexp(1.0, h->range_exp));
    for (size_t i = 0; i < len; i++) {
      size_t bin = (size_t)(fabsf(b[i]) * per_unit); /* < TQT_HIST_BINS: the range covers peak */
      h->bins[bin < TQT_HIST_BINS ? bin : TQT_HIST_BINS - 1]++;
    }
  }
}

void tqt_histogram_merge(struct tqt_histogram *dst, const struct tqt_histogram *src) {
  dst->nonfinite += src->nonfinite;
  if (!src->count) return;
  struct tqt_histogram s = *src;
  if (s.has_range) histogram_cover(dst, ldexp(1.0, s.range_exp - 1));
  if (dst->has_range && !s.has_range) {
    s.has_range = true; /* zeros only: bin 0 at any range */
    s.range_exp = dst->range_exp;
  }
  while (s.has_range && s.range_exp < dst->range_exp) histogram_double(&s);
  for (size_t i = 0; i < TQT_HIST_BINS; i++) dst->bins[i] += s.bins[i];
  dst->count += s.count;
  dst->zeros += s.zeros;
  dst->sum += s.sum;
  dst->sumsq += s.sumsq;
  if (s.min < dst->min) dst->min = s.min;
  if (s.max > dst->max) dst->max = s.max;
}

double tqt_histogram_fraction_above(const struct tqt_histogram *h, double level) {
  if (!h->count || !h->has_range) return 0;
  double w = tqt_histogram_bin_width(h), above = 0;
  for (size_t i = 0; i < TQT_HIST_BINS; i++) {
    if (!h->bins[i]) continue;
    double lo = (double)i * w, hi = lo + w;
    if (lo >= level) above += (double)h->bins[i];
    else if (hi > level) above += (double)h->bins[i] * (hi - level) / w; /* spread evenly */
  }
  return above / (double)h->count;
}
