/* QuantizeLinear and DequantizeLinear kernels (src/interp/qdq.c): the typed float <-> 8-bit loops
 * give what the ONNX spec's formula gives (float32 division, half-to-even rounding, zero point,
 * saturation; NaN to the lowest value, as ONNX Runtime does) on ties, saturating and non-finite values, per tensor and
 * per channel, and the generic loop (int16) agrees with the same formula. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "interp.h"
#include "ir_edit.h"

#define QDQ_N 96

/* The inputs: every half step of the scale s over [-300, 300) steps, and the edge cases. */
static void inputs_fill(float *x, float s) {
  static const float edge[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 0x1p22f, -0x1p22f,
                               0x1.fffffep21f, 4194303.5f, -4194302.5f, 1e-40f, -0.0f};
  size_t n_edge = sizeof edge / sizeof *edge;
  for (size_t i = 0; i < QDQ_N; i++)
    x[i] = i < n_edge ? edge[i] * (isfinite(edge[i]) && fabsf(edge[i]) > 1 ? s : 1.0f)
                      : (float)((double)((int)(i * 13 % 1200) - 600) * 0.5 * s);
}

/* The spec's QuantizeLinear of one value, written independently of the kernel. */
static double spec_quantize(float x, float s, double z, double lo, double hi) {
  float t = x / s;
  if (isnan(t)) return lo;
  double v = nearbyint((double)t) + z;
  return v < lo ? lo : v > hi ? hi : v;
}

/* x [2, QDQ_N] -> QuantizeLinear (scale per row when per_channel) -> q -> DequantizeLinear -> y. */
static void check(int32_t qtype, double lo, double hi, bool per_channel) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  assert_int_equal(tqt_model_opset_set(m, "", 13), 0);
  int64_t dims[2] = {2, QDQ_N}, two[1] = {2};
  struct tqt_graph *g = m->graph;
  assert_non_null(tqt_graph_input_add(m->arena, g, "x", TQT_DTYPE_FLOAT, 2, dims));
  assert_non_null(tqt_graph_output_add(m->arena, g, "q", qtype, 2, dims));
  assert_non_null(tqt_graph_output_add(m->arena, g, "y", TQT_DTYPE_FLOAT, 2, dims));
  float scales[2] = {0.25f, 3.0f};
  double zps[2] = {qtype == TQT_DTYPE_UINT8 ? 128 : 3, qtype == TQT_DTYPE_UINT8 ? 7 : -5};
  if (!per_channel) scales[1] = scales[0], zps[1] = zps[0];
  size_t n_par = per_channel ? 2 : 1;
  assert_non_null(tqt_graph_initializer_add(m->arena, g, "s", TQT_DTYPE_FLOAT, per_channel,
                                            two, scales));
  int8_t z8[2] = {0, 0};
  uint8_t zu8[2] = {0, 0};
  int16_t z16[2] = {0, 0};
  for (size_t c = 0; c < 2; c++) { /* only the type in use: 128 is no int8 */
    if (qtype == TQT_DTYPE_INT8) z8[c] = (int8_t)zps[c];
    else if (qtype == TQT_DTYPE_UINT8) zu8[c] = (uint8_t)zps[c];
    else z16[c] = (int16_t)zps[c];
  }
  const void *zdata = qtype == TQT_DTYPE_INT8 ? (const void *)z8
                      : qtype == TQT_DTYPE_UINT8 ? (const void *)zu8 : (const void *)z16;
  assert_non_null(tqt_graph_initializer_add(m->arena, g, "z", qtype, per_channel, two, zdata));
  const char *qin[3] = {"x", "s", "z"}, *dqin[3] = {"q", "s", "z"}, *q = "q", *y = "y";
  struct tqt_node *nq =
      tqt_graph_node_add(m->arena, g, "QuantizeLinear", "quantize", 3, qin, 1, &q);
  struct tqt_node *nd =
      tqt_graph_node_add(m->arena, g, "DequantizeLinear", "dequantize", 3, dqin, 1, &y);
  assert_non_null(nq);
  assert_non_null(nd);
  assert_int_equal(tqt_node_attr_add_int(m->arena, nq, "axis", 0), 0);
  assert_int_equal(tqt_node_attr_add_int(m->arena, nd, "axis", 0), 0);

  float x[2 * QDQ_N];
  inputs_fill(x, scales[0]);
  inputs_fill(x + QDQ_N, scales[1]);
  struct tqt_interp_options io = {.threads = 1};
  struct tqt_interp *in = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_interp_create(m, &io, &in, &d), TQT_STATUS_OK);
  struct tqt_value v = {0};
  tqt_value_tensor_borrow(&v, TQT_DTYPE_FLOAT, 2, dims, x, sizeof x);
  const struct tqt_value *ins[1] = {&v};
  assert_int_equal(tqt_interp_run(in, ins, 1, &d), TQT_STATUS_OK);
  const struct tqt_rt_tensor *qt = &tqt_interp_output(in, 0)->t, *yt = &tqt_interp_output(in, 1)->t;
  assert_int_equal(qt->dtype, qtype);
  for (size_t r = 0; r < 2; r++)
    for (size_t i = 0; i < QDQ_N; i++) {
      size_t at = r * QDQ_N + i, c = n_par == 2 ? r : 0;
      double want = spec_quantize(x[at], scales[c], zps[c], lo, hi);
      double got = tqt_rt_get(qt, (int64_t)at);
      if (got != want) fail_msg("x %a scale %g: q %g, spec %g", (double)x[at], scales[c], got, want);
      float back = (float)(want - zps[c]) * scales[c];
      assert_true(((const float *)yt->data)[at] == back);
    }
  tqt_interp_destroy(in);
  tqt_model_destroy(m);
}

static void test_int8_per_tensor(void **state) {
  (void)state;
  check(TQT_DTYPE_INT8, INT8_MIN, INT8_MAX, false);
}

static void test_uint8_per_channel(void **state) {
  (void)state;
  check(TQT_DTYPE_UINT8, 0, UINT8_MAX, true);
}

static void test_int16_generic_loop(void **state) {
  (void)state;
  check(TQT_DTYPE_INT16, INT16_MIN, INT16_MAX, true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int8_per_tensor),
      cmocka_unit_test(test_uint8_per_channel),
      cmocka_unit_test(test_int16_generic_loop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
