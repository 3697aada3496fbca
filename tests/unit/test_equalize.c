/* Channel equalization (src/quant/equalize.c): on a small DenseNet-like model whose Conv output
 * channels have ranges 2^-c apart, the small channels are scaled up by powers of two where they
 * are made and divided back where they are read, and the float model computes what it did. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "npy.h"
#include "passes.h"
#include "quant.h"

static unsigned wave_at = 0;

/* Deterministic values spread over [-1, 1] (no statistics matter here). */
static float wave(void) { return (float)sin(0.7 + 1.618 * (double)wave_at++); }

/* An initializer of n values in [-std, std], each of the `rows` rows scaled by 2^-row. */
static float *spread_add(struct tqt_model *m, const char *name, size_t rank, const int64_t *dims,
                         double std, size_t rows) {
  size_t n = 1;
  for (size_t i = 0; i < rank; i++) n *= (size_t)dims[i];
  float *v = malloc(n * sizeof *v);
  assert_non_null(v);
  for (size_t i = 0; i < n; i++) v[i] = (float)(std * wave() * pow(2.0, -(double)(i / (n / rows))));
  struct tqt_tensor *t =
      tqt_graph_initializer_add(m->arena, m->graph, name, TQT_DTYPE_FLOAT, rank, dims, v);
  free(v);
  assert_non_null(t);
  return t->data;
}

static void node_add(struct tqt_model *m, const char *op, size_t n_in, const char *const *in,
                     const char *out) {
  assert_non_null(tqt_graph_node_add(m->arena, m->graph, op, out, n_in, in, 1, &out));
}

/* x [1,3,8,8] → Conv a (6 channels, ranges 2^-c) → Relu → MaxPool ┐
 *            → Conv b (2 channels)               → Relu → MaxPool ┴ Concat → BatchNormalization
 * (normalizing) → Relu → Conv 1x1 (4) → y */
static struct tqt_model *model_build(void) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  assert_int_equal(tqt_model_opset_set(m, "", 13), 0);
  int64_t xd[4] = {1, 3, 8, 8}, yd[4] = {1, 4, 4, 4};
  assert_non_null(tqt_graph_input_add(m->arena, m->graph, "x", TQT_DTYPE_FLOAT, 4, xd));
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "y", TQT_DTYPE_FLOAT, 4, yd));
  int64_t wa[4] = {6, 3, 3, 3}, ba[1] = {6}, wb[4] = {2, 3, 3, 3}, bb[1] = {2}, c8[1] = {8},
          wc[4] = {4, 8, 1, 1}, bc[1] = {4};
  spread_add(m, "wa", 4, wa, 0.5, 6);
  spread_add(m, "ba", 1, ba, 0.05, 6);
  spread_add(m, "wb", 4, wb, 0.5, 1);
  spread_add(m, "bb", 1, bb, 0.05, 1);
  float *scale = spread_add(m, "bn_scale", 1, c8, 0, 1);
  float *shift = spread_add(m, "bn_b", 1, c8, 0, 1);
  float *mean = spread_add(m, "bn_mean", 1, c8, 0, 1), *var = spread_add(m, "bn_var", 1, c8, 0, 1);
  for (int c = 0; c < 8; c++) { /* normalizes channel c of range about 2^-c (a) or 1 (b) */
    double f = c < 6 ? pow(2.0, -c) : 1.0;
    scale[c] = 1.0f;
    shift[c] = 0.1f;
    mean[c] = (float)(0.3 * f);
    var[c] = (float)(f * f);
  }
  spread_add(m, "wc", 4, wc, 0.4, 1);
  spread_add(m, "bc", 1, bc, 0.05, 1);
  const char *conv_a[3] = {"x", "wa", "ba"}, *conv_b[3] = {"x", "wb", "bb"};
  node_add(m, "Conv", 3, conv_a, "a");
  node_add(m, "Conv", 3, conv_b, "b");
  int64_t pads[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
  for (size_t i = 0; i < 2; i++)
    assert_int_equal(tqt_node_attr_add_ints(m->arena, m->graph->nodes[i], "pads", 4, pads), 0);
  node_add(m, "Relu", 1, (const char *[]){"a"}, "a_relu");
  node_add(m, "Relu", 1, (const char *[]){"b"}, "b_relu");
  node_add(m, "MaxPool", 1, (const char *[]){"a_relu"}, "a_pool");
  node_add(m, "MaxPool", 1, (const char *[]){"b_relu"}, "b_pool");
  for (size_t i = 4; i < 6; i++)
    assert_int_equal(tqt_node_attr_add_ints(m->arena, m->graph->nodes[i], "kernel_shape", 2, k2) ||
                         tqt_node_attr_add_ints(m->arena, m->graph->nodes[i], "strides", 2, k2),
                     0);
  node_add(m, "Concat", 2, (const char *[]){"a_pool", "b_pool"}, "cat");
  assert_int_equal(tqt_node_attr_add_int(m->arena, m->graph->nodes[6], "axis", 1), 0);
  node_add(m, "BatchNormalization", 5,
           (const char *[]){"cat", "bn_scale", "bn_b", "bn_mean", "bn_var"}, "bn");
  node_add(m, "Relu", 1, (const char *[]){"bn"}, "bn_relu");
  node_add(m, "Conv", 3, (const char *[]){"bn_relu", "wc", "bc"}, "y");
  return m;
}

static float *initializer(struct tqt_model *m, const char *name) {
  for (size_t i = 0; i < m->graph->n_initializers; i++)
    if (!strcmp(m->graph->initializers[i]->name, name)) return m->graph->initializers[i]->data;
  fail_msg("no initializer %s", name);
  return NULL;
}

/* The float model's output y on sample x (numel floats) into y (64 floats). */
static void model_run(struct tqt_model *m, const float *x, float *y) {
  struct tqt_interp_options io = {.threads = 1};
  struct tqt_interp *in = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_interp_create(m, &io, &in, &d), TQT_STATUS_OK);
  struct tqt_value v = {0};
  tqt_value_tensor_borrow(&v, TQT_DTYPE_FLOAT, 4, (int64_t[]){1, 3, 8, 8}, (void *)x,
                          3 * 8 * 8 * sizeof *x);
  const struct tqt_value *ins[1] = {&v};
  assert_int_equal(tqt_interp_run(in, ins, 1, &d), TQT_STATUS_OK);
  const struct tqt_value *out = tqt_interp_output(in, 0);
  assert_int_equal(tqt_rt_numel(&out->t), 64);
  memcpy(y, out->t.data, 64 * sizeof *y);
  tqt_interp_destroy(in);
}

static bool power_of_two(double r) {
  int e;
  return r > 0 && frexp(r, &e) == 0.5;
}

static void test_equalize_scales_small_channels_exactly(void **state) {
  (void)state;
  char path[] = "/tmp/test_equalize_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *fp = fdopen(fd, "wb");
  static float samples[16][3 * 8 * 8];
  for (size_t s = 0; s < 16; s++)
    for (size_t i = 0; i < 3 * 8 * 8; i++) samples[s][i] = 2 * wave();
  struct tqt_diag d = {0};
  assert_int_equal(tqt_npy_header_write(fp, TQT_DTYPE_FLOAT, 4, (int64_t[]){16, 3, 8, 8}, path, &d),
                   TQT_STATUS_OK);
  assert_int_equal(fwrite(samples, sizeof samples, 1, fp), 1);
  assert_int_equal(fclose(fp), 0);
  char spec[64];
  snprintf(spec, sizeof spec, "%s", path);
  rename(path, strcat(spec, ".npy"));
  const char *specs[1] = {spec};

  struct tqt_model *m = model_build();
  struct tqt_options o = {.per_channel = true};
  assert_int_equal(tqt_passes_run(m, &o, &d), TQT_STATUS_OK);
  static float before[16][64], after[16][64];
  for (size_t s = 0; s < 16; s++) model_run(m, samples[s], before[s]);
  float wa[6 * 27], mean[8];
  memcpy(wa, initializer(m, "wa"), sizeof wa);
  memcpy(mean, initializer(m, "bn_mean"), sizeof mean);

  struct tqt_quant_plan *p = NULL;
  assert_int_equal(tqt_quant_plan_build(m, &o, &p, &d), TQT_STATUS_OK);
  struct tqt_quant_equalization *q = NULL;
  assert_int_equal(tqt_quant_equalize(p, m, &o, specs, 1, 0, 2, &q, &d), TQT_STATUS_OK);
  assert_non_null(q);
  /* channels 1..5 of Conv a are 2^-1 .. 2^-5 of channel 0: scaled up; y is a graph output (its
   * producer stays), and Conv b's and the BatchNormalization's outputs are already even */
  assert_true(p->equalize_scaled >= 4);
  const float *wa2 = initializer(m, "wa"), *mean2 = initializer(m, "bn_mean");
  for (size_t c = 0; c < 6; c++) {
    double r = wa2[c * 27] / wa[c * 27];
    assert_true(power_of_two(r) && r >= 1);
    assert_true(fabs(mean2[c] / mean[c] - r) < 1e-6 * r); /* divided back at the BN */
  }
  assert_true(wa2[5 * 27] / wa[5 * 27] >= 8); /* the smallest channel gained at least 3 bits */
  for (size_t s = 0; s < 16; s++) model_run(m, samples[s], after[s]);
  double top = 0, diff = 0;
  for (size_t s = 0; s < 16; s++)
    for (size_t i = 0; i < 64; i++) {
      top = fmax(top, fabs(before[s][i]));
      diff = fmax(diff, fabs(after[s][i] - before[s][i]));
    }
  assert_true(top > 0 && diff <= 1e-5 * top);
  tqt_quant_equalization_free(q);
  tqt_quant_plan_destroy(p);
  tqt_model_destroy(m);
  unlink(spec);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_equalize_scales_small_channels_exactly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
