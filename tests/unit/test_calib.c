/* Calibration statistics: streaming histograms, exact merging, threshold methods. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "calib.h"

static uint64_t rng_state = 12345;

static float normal(void) {
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  double u1 = ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  double u2 = ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
  return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

static void test_histogram_counts_and_moments(void **state) {
  (void)state;
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  float x[4] = {-3, 1, 0.5f, 2};
  tqt_histogram_add(&h, x, 4);
  assert_int_equal(h.count, 4);
  assert_true(h.min == -3 && h.max == 2);
  assert_true(fabs(h.sum - 0.5) < 1e-12);
  assert_true(fabs(h.sumsq - 14.25) < 1e-12);
  assert_int_equal(h.range_exp, 2); /* 4 > 3 */
  uint64_t total = 0;
  for (size_t i = 0; i < TQT_HIST_BINS; i++) total += h.bins[i];
  assert_int_equal(total, 4);
}

static void test_histogram_range_doubles_and_keeps_counts(void **state) {
  (void)state;
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  float small[1] = {0.75f}, big[1] = {100.0f};
  tqt_histogram_add(&h, small, 1);
  assert_int_equal(h.range_exp, 0);
  tqt_histogram_add(&h, big, 1);
  assert_int_equal(h.range_exp, 7);
  /* 0.75 of 128 over 2048 bins: bin 12 */
  assert_int_equal(h.bins[12], 1);
  assert_int_equal(h.bins[1600], 1);
}

static void test_histogram_ignores_nan_and_inf(void **state) {
  (void)state;
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  float x[3] = {NAN, INFINITY, 1.0f};
  tqt_histogram_add(&h, x, 3);
  assert_int_equal(h.count, 1);
  assert_true(h.max == 1.0);
}

static void test_merged_histograms_equal_one_pass_over_all_data(void **state) {
  (void)state;
  enum { N = 20000 };
  float *x = malloc(N * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < N; i++) x[i] = normal() * (i < N / 2 ? 0.1f : 3.0f);
  struct tqt_histogram all, a, b;
  tqt_histogram_init(&all);
  tqt_histogram_init(&a);
  tqt_histogram_init(&b);
  tqt_histogram_add(&all, x, N);
  tqt_histogram_add(&a, x, N / 2);
  tqt_histogram_add(&b, x + N / 2, N / 2);
  tqt_histogram_merge(&a, &b);
  assert_int_equal(a.count, all.count);
  assert_int_equal(a.range_exp, all.range_exp);
  assert_memory_equal(a.bins, all.bins, sizeof a.bins);
  /* and the other way round: the wide one first */
  struct tqt_histogram c, d2;
  tqt_histogram_init(&c);
  tqt_histogram_init(&d2);
  tqt_histogram_add(&c, x + N / 2, N / 2);
  tqt_histogram_add(&d2, x, N / 2);
  tqt_histogram_merge(&c, &d2);
  assert_memory_equal(c.bins, all.bins, sizeof c.bins);
  struct tqt_threshold_params p = {TQT_THRESHOLD_METHOD_KL_J, 8, true, 0};
  assert_true(tqt_threshold(&c, &p) == tqt_threshold(&all, &p));
  free(x);
}

static void test_all_zero_tensor_gets_smallest_exponent(void **state) {
  (void)state;
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  float z[8] = {0};
  tqt_histogram_add(&h, z, 8);
  for (int m = TQT_THRESHOLD_METHOD_MAX; m <= TQT_THRESHOLD_METHOD_MSE; m++) {
    struct tqt_threshold_params p = {(enum tqt_threshold_method)m, 8, true, 99.99};
    double t = tqt_threshold(&h, &p);
    assert_false(isnan(t));
    assert_int_equal(tqt_threshold_exponent(t), TQT_EXPONENT_MIN);
  }
}

static void test_exponent_is_ceil_log2(void **state) {
  (void)state;
  assert_int_equal(tqt_threshold_exponent(1.0), 0);
  assert_int_equal(tqt_threshold_exponent(1.0001), 1);
  assert_int_equal(tqt_threshold_exponent(0.5), -1);
  assert_int_equal(tqt_threshold_exponent(0.3), -1);
  /* float's largest: the exponent whose grid still ends in finite floats */
  assert_int_equal(tqt_threshold_exponent(3.4028234663852886e38), TQT_EXPONENT_MAX);
  assert_true(isfinite((float)(-128 * tqt_scale_of(TQT_EXPONENT_MAX, 8, true))));
  assert_true(tqt_scale_of(0, 8, true) == 1.0 / 128);
  assert_true(tqt_scale_of(0, 8, false) == 1.0 / 256);
}

static void test_max_and_3sd_and_percentile(void **state) {
  (void)state;
  enum { N = 100000 };
  float *x = malloc(N * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < N; i++) x[i] = normal();
  x[7] = 50.0f; /* one outlier */
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  tqt_histogram_add(&h, x, N);
  struct tqt_threshold_params p = {TQT_THRESHOLD_METHOD_MAX, 8, true, 0};
  assert_true(tqt_threshold(&h, &p) == 50.0);
  p.method = TQT_THRESHOLD_METHOD_3SD;
  double t3 = tqt_threshold(&h, &p);
  assert_true(t3 > 2.9 && t3 < 3.3);
  p.method = TQT_THRESHOLD_METHOD_PERCENTILE;
  p.percentile = 99.0; /* |x| of a standard normal: 2.576 */
  double tp = tqt_threshold(&h, &p);
  assert_true(tp > 2.5 && tp < 2.65);
  free(x);
}

static void test_kl_j_clips_a_long_tail_and_keeps_a_compact_one(void **state) {
  (void)state;
  enum { N = 200000 };
  float *x = malloc(N * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < N; i++) x[i] = normal();
  for (size_t i = 0; i < 20; i++) x[i] = 60.0f + (float)i; /* rare, far outliers */
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  tqt_histogram_add(&h, x, N);
  struct tqt_threshold_params p = {TQT_THRESHOLD_METHOD_KL_J, 8, true, 0};
  double t = tqt_threshold(&h, &p);
  assert_true(t < 20.0); /* clipped well below the outliers */
  assert_true(t > 2.0);  /* but not into the body of the distribution */
  /* uniform data: nothing to gain by clipping */
  for (size_t i = 0; i < N; i++) x[i] = (float)i / N * 4.0f - 2.0f;
  tqt_histogram_init(&h);
  tqt_histogram_add(&h, x, N);
  double tu = tqt_threshold(&h, &p);
  assert_true(tu > 1.8 && tu <= 2.0);
  free(x);
}

static void test_mse_picks_a_power_of_two_near_max_for_uniform_data(void **state) {
  (void)state;
  enum { N = 50000 };
  float *x = malloc(N * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < N; i++) x[i] = (float)i / N * 6.0f - 3.0f;
  struct tqt_histogram h;
  tqt_histogram_init(&h);
  tqt_histogram_add(&h, x, N);
  struct tqt_threshold_params p = {TQT_THRESHOLD_METHOD_MSE, 8, true, 0};
  double t = tqt_threshold(&h, &p);
  assert_true(t == 4.0); /* 2 would clip a third of the data */
  free(x);
}

static void test_method_names_parse_both_ways(void **state) {
  (void)state;
  enum tqt_threshold_method m;
  for (int i = TQT_THRESHOLD_METHOD_MAX; i <= TQT_THRESHOLD_METHOD_MSE; i++) {
    assert_true(tqt_threshold_method_parse(tqt_threshold_method_name((enum tqt_threshold_method)i), &m));
    assert_int_equal(m, i);
  }
  assert_false(tqt_threshold_method_parse("kl", &m));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_histogram_counts_and_moments),
      cmocka_unit_test(test_histogram_range_doubles_and_keeps_counts),
      cmocka_unit_test(test_histogram_ignores_nan_and_inf),
      cmocka_unit_test(test_merged_histograms_equal_one_pass_over_all_data),
      cmocka_unit_test(test_all_zero_tensor_gets_smallest_exponent),
      cmocka_unit_test(test_exponent_is_ceil_log2),
      cmocka_unit_test(test_max_and_3sd_and_percentile),
      cmocka_unit_test(test_kl_j_clips_a_long_tail_and_keeps_a_compact_one),
      cmocka_unit_test(test_mse_picks_a_power_of_two_near_max_for_uniform_data),
      cmocka_unit_test(test_method_names_parse_both_ways),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
