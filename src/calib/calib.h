/* Calibration statistics: a streaming observer per tensor and the threshold methods of TQT.
 *
 * The histogram counts |x| in TQT_HIST_BINS bins over [0, range); range is a power of two that
 * doubles (bin pairs merge exactly) when a value reaches it, so memory stays constant however
 * many samples stream through, and two histograms of one tensor merge exactly. */
#ifndef TQT_CALIB_H
#define TQT_CALIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define TQT_HIST_BINS 2048
/* The exponent a tensor that is all zeros gets (its scale is 2^(this - bits + 1)). */
#define TQT_EXPONENT_MIN (-32)
/* The largest: the grid's lowest value, -2^e, must be a finite float. At 2^128 an attention mask
 * of float's lowest value (-3.4e38) dequantized to -inf, and 0 · -inf to NaN. */
#define TQT_EXPONENT_MAX 127

struct tqt_histogram {
  uint64_t count;
  uint64_t zeros; /* exact zeros (in bin 0 too): every scale represents them exactly */
  uint64_t nonfinite; /* NaN and ±inf seen: not counted, no part of the range */
  double min, max, sum, sumsq;
  int range_exp; /* range = 2^range_exp; meaningful once a non-zero value was seen */
  bool has_range;
  uint64_t bins[TQT_HIST_BINS];
};

enum tqt_threshold_method {
  TQT_THRESHOLD_METHOD_MAX,
  TQT_THRESHOLD_METHOD_3SD,
  TQT_THRESHOLD_METHOD_PERCENTILE,
  TQT_THRESHOLD_METHOD_KL_J,
  TQT_THRESHOLD_METHOD_MSE,
};

void tqt_histogram_init(struct tqt_histogram *h);
/* Adds n float values. */
void tqt_histogram_add(struct tqt_histogram *h, const float *x, size_t n);
/* Adds all of src into dst (dst's range grows to src's when smaller). */
void tqt_histogram_merge(struct tqt_histogram *dst, const struct tqt_histogram *src);
double tqt_histogram_bin_width(const struct tqt_histogram *h);
/* The fraction of the values whose |x| is at least level (a bin that level cuts counts in part). */
double tqt_histogram_fraction_above(const struct tqt_histogram *h, double level);

/* "max", "3sd", "percentile", "kl_j", "mse" → method; false when unknown. */
bool tqt_threshold_method_parse(const char *name, enum tqt_threshold_method *out);
const char *tqt_threshold_method_name(enum tqt_threshold_method m);

struct tqt_threshold_params {
  enum tqt_threshold_method method;
  int bits;          /* integer bit width b */
  bool is_signed;    /* signed range [-2^(b-1), 2^(b-1)-1], else [0, 2^b - 1] */
  double percentile; /* for PERCENTILE, in percent (default 99.99) */
};

/* The threshold t > 0 of one tensor (0 when the tensor was all zeros). */
double tqt_threshold(const struct tqt_histogram *h, const struct tqt_threshold_params *p);
/* ceil(log2 t) within [TQT_EXPONENT_MIN, TQT_EXPONENT_MAX], or TQT_EXPONENT_MIN for t == 0. */
int tqt_threshold_exponent(double t);
/* The power-of-two scale for exponent e at these bits: 2^e / 2^(b-1) signed, 2^e / 2^b unsigned. */
double tqt_scale_of(int exponent, int bits, bool is_signed);

#endif
