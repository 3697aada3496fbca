/* Threshold methods (DESIGN.md, "Threshold methods") and power-of-two rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"

static const char *const method_names[] = {
    [TQT_THRESHOLD_METHOD_MAX] = "max",   [TQT_THRESHOLD_METHOD_3SD] = "3sd",
    [TQT_THRESHOLD_METHOD_PERCENTILE] = "percentile", [TQT_THRESHOLD_METHOD_KL_J] = "kl_j",
    [TQT_THRESHOLD_METHOD_MSE] = "mse",
};

bool tqt_threshold_method_parse(const char *name, enum tqt_threshold_method *out) {
  for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++) {
    if (strcmp(name, method_names[i]) == 0) {
      *out = (enum tqt_threshold_method)i;
      return true;
    }
  }
  return false;
}

const char *tqt_threshold_method_name(enum tqt_threshold_method m) { return method_names[m]; }

int tqt_threshold_exponent(double t) {
  if (!(t > 0) || !isfinite(t)) return TQT_EXPONENT_MIN;
  int e = (int)ceil(log2(t));
  return e < TQT_EXPONENT_MIN ? TQT_EXPONENT_MIN : e > TQT_EXPONENT_MAX ? TQT_EXPONENT_MAX : e;
}

double tqt_scale_of(int exponent, int bits, bool is_signed) {
  return ldexp(1.0, exponent - (is_signed ? bits - 1 : bits));
}

static double threshold_max(const struct tqt_histogram *h) {
  return h->count ? fmax(fabs(h->min), fabs(h->max)) : 0;
}

static double threshold_3sd(const struct tqt_histogram *h) {
  if (!h->count) return 0;
  double mean = h->sum / (double)h->count;
  double var = h->sumsq / (double)h->count - mean * mean;
  return fabs(mean) + 3 * sqrt(var > 0 ? var : 0);
}

/* The value below which `percent` of |x| lies, interpolated inside its bin. */
static double threshold_percentile(const struct tqt_histogram *h, double percent) {
  if (!h->count || !h->has_range) return 0;
  double want = (double)h->count * percent / 100.0, seen = 0, w = tqt_histogram_bin_width(h);
  for (size_t i = 0; i < TQT_HIST_BINS; i++) {
    if (h->bins[i] && seen + (double)h->bins[i] >= want)
      return fmin(((double)i + (want - seen) / (double)h->bins[i]) * w, threshold_max(h));
    seen += (double)h->bins[i];
  }
  return threshold_max(h);
}

/* KL-J: for each candidate cut i (in bins, from `levels` up), the histogram as quantization
 * with that cut would leave it — the bins below i in `levels` groups, each group's mass spread
 * evenly over its non-empty bins, and the mass above i moved into the last bin below it — is
 * compared with the histogram itself by the Jeffreys divergence Σ (P − Q) · ln(P / Q). The cut
 * with the least divergence is the threshold.
 *
 * The reference is the whole histogram, not the histogram clipped at i as in TensorRT's entropy
 * calibration: with a clipped reference, clipping costs nothing, and inputs with a dominant
 * value (an image background) get cut just above it. Exact zeros (a ReLU's) are left out: zero
 * is on every grid, so they never move, while spreading them over bin 0's group would make wide
 * groups look costly. Bins only one side has are smoothed. */
#define KL_J_EPSILON 1e-10
#define KL_J_CANDIDATES 256

static double threshold_kl_j(const struct tqt_histogram *h, int levels) {
  if (!h->count || !h->has_range) return 0;
  size_t last = TQT_HIST_BINS;
  while (last > 0 && !h->bins[last - 1]) last--;
  if (last <= (size_t)levels) return threshold_max(h); /* fewer bins than levels: no clipping */
  /* Per bin: p (exact zeros out of bin 0) and ln p; prefix sums of mass and of non-empty bins;
   * suffix sums of the divergence terms of bins a cut empties (q = epsilon there). */
  double *p = malloc(TQT_HIST_BINS * sizeof *p), *logp = malloc(TQT_HIST_BINS * sizeof *logp);
  double *mass = malloc((TQT_HIST_BINS + 1) * sizeof *mass);
  double *emptied = malloc((TQT_HIST_BINS + 1) * sizeof *emptied);
  size_t *nonzero = malloc((TQT_HIST_BINS + 1) * sizeof *nonzero);
  double best_i = last;
  if (!p || !logp || !mass || !emptied || !nonzero) goto done;
  double total = 0;
  for (size_t k = 0; k < last; k++) {
    p[k] = (double)h->bins[k] - (k == 0 ? (double)(h->zeros <= h->bins[0] ? h->zeros : h->bins[0]) : 0);
    total += p[k];
  }
  if (total <= 0) goto done;
  const double log_eps = log(KL_J_EPSILON);
  mass[0] = 0;
  nonzero[0] = 0;
  for (size_t k = 0; k < last; k++) {
    p[k] /= total;
    logp[k] = p[k] > 0 ? log(fmax(p[k], KL_J_EPSILON)) : log_eps;
    mass[k + 1] = mass[k] + p[k];
    nonzero[k + 1] = nonzero[k] + (p[k] > 0);
  }
  emptied[last] = 0;
  for (size_t k = last; k-- > 0;)
    emptied[k] = emptied[k + 1] +
                 (p[k] > 0 ? (fmax(p[k], KL_J_EPSILON) - KL_J_EPSILON) * (logp[k] - log_eps) : 0);
  double best = INFINITY;
  /* At most KL_J_CANDIDATES cuts, the last one at `last`: the threshold is rounded up to a power
   * of two afterwards, so a finer search changes nothing but the time it takes. */
  size_t step = (last - (size_t)levels) / KL_J_CANDIDATES + 1;
  for (size_t i = last;; i -= step) {
    double tail = mass[last] - mass[i], j = emptied[i];
    for (int l = 0; l < levels; l++) { /* group l covers bins [lo, hi) */
      size_t lo = i * (size_t)l / (size_t)levels, hi = i * (size_t)(l + 1) / (size_t)levels;
      size_t nz = nonzero[hi] - nonzero[lo];
      double qv = nz ? (mass[hi] - mass[lo]) / (double)nz : 0;
      double logq = log(fmax(qv, KL_J_EPSILON));
      for (size_t k = lo; k < hi; k++) {
        double qk = p[k] > 0 ? qv : 0, lq = p[k] > 0 ? logq : log_eps;
        if (k == i - 1 && tail > 0) { /* the clipped mass lands here */
          qk += tail;
          lq = log(fmax(qk, KL_J_EPSILON));
        }
        if (p[k] <= 0 && qk <= 0) continue;
        j += (fmax(p[k], KL_J_EPSILON) - fmax(qk, KL_J_EPSILON)) * (logp[k] - lq);
      }
    }
    if (j < best) {
      best = j;
      best_i = (double)i;
    }
    if (i < (size_t)levels + step) break;
  }
done:
  free(p);
  free(logp);
  free(mass);
  free(emptied);
  free(nonzero);
  return fmin(best_i * tqt_histogram_bin_width(h), threshold_max(h));
}

/* Among the exponents ceil(log2 max) - 4 ... ceil(log2 max), the one with the least expected
 * squared error (rounding and clipping) over the histogram's bin centres. */
static double threshold_mse(const struct tqt_histogram *h, int bits, bool is_signed) {
  double peak = threshold_max(h);
  if (!(peak > 0) || !h->has_range) return peak;
  int top = tqt_threshold_exponent(peak);
  double w = tqt_histogram_bin_width(h), best = INFINITY;
  int best_e = top;
  double qmax = is_signed ? ldexp(1.0, bits - 1) - 1 : ldexp(1.0, bits) - 1;
  for (int e = top - 4; e <= top; e++) {
    double s = tqt_scale_of(e, bits, is_signed), err = 0;
    for (size_t i = 0; i < TQT_HIST_BINS; i++) {
      if (!h->bins[i]) continue;
      double c = ((double)i + 0.5) * w;
      double qv = fmin(nearbyint(c / s), qmax) * s;
      err += (double)h->bins[i] * (c - qv) * (c - qv);
    }
    if (err < best) {
      best = err;
      best_e = e;
    }
  }
  return ldexp(1.0, best_e);
}

double tqt_threshold(const struct tqt_histogram *h, const struct tqt_threshold_params *p) {
  switch (p->method) {
  case TQT_THRESHOLD_METHOD_MAX: return threshold_max(h);
  case TQT_THRESHOLD_METHOD_3SD: return fmin(threshold_3sd(h), threshold_max(h));
  case TQT_THRESHOLD_METHOD_PERCENTILE:
    return threshold_percentile(h, p->percentile > 0 ? p->percentile : 99.99);
  case TQT_THRESHOLD_METHOD_KL_J: return threshold_kl_j(h, 1 << (p->bits - (p->is_signed ? 1 : 0)));
  case TQT_THRESHOLD_METHOD_MSE: return threshold_mse(h, p->bits, p->is_signed);
  }
  return threshold_max(h);
}
