/* Every backward of src/train/backward.c against finite differences of the interpreter's forward:
 * a one-node model, L = Σ g·y with fixed random g, ∂L/∂x from tqt_train_backward compared with
 * (L(x + h) − L(x − h)) / 2h for every element of every float input. Also the fake-quant gradient
 * (∂q/∂log2 t with round held, the straight-through estimator, against finite differences of s). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "train.h"

struct tin {
  const char *name;
  int32_t dtype;
  size_t rank;
  int64_t dims[5];
  bool init;          /* a constant (initializer): no gradient */
  const void *data;   /* for initializers; NULL: random floats */
};

typedef void (*attr_fn)(struct tqt_arena *a, struct tqt_node *n);

static uint64_t rng = 0x1234567;
static double uniform(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) { return sqrt(-2 * log(uniform())) * cos(6.283185307179586 * uniform()); }

static int64_t numel(const struct tin *t) {
  int64_t n = 1;
  for (size_t i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

static double loss(struct tqt_interp *in, const struct tqt_value *const *vals, size_t nv,
                   const float *g, size_t *ny) {
  struct tqt_diag d = {0};
  d.verbosity = TQT_VERBOSITY_QUIET;
  assert_int_equal(tqt_interp_run(in, vals, nv, &d), TQT_STATUS_OK);
  const struct tqt_value *y = tqt_interp_output(in, 0);
  *ny = (size_t)tqt_rt_numel(&y->t);
  const float *yv = y->t.data;
  double l = 0;
  for (size_t i = 0; g && i < *ny; i++) l += (double)g[i] * yv[i];
  return l;
}

/* Builds op over ins, checks the backward of every non-constant input. h: the FD step. */
static void check_op(const char *op, const struct tin *ins, size_t n_ins, attr_fn attrs, double h) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  assert_int_equal(tqt_model_opset_set(m, "", 13), 0);
  struct tqt_graph *g = m->graph;
  const char *names[8];
  float *data[8] = {0};
  struct tqt_value vals[8];
  const struct tqt_value *pv[8];
  size_t nv = 0;
  for (size_t i = 0; i < n_ins; i++) {
    names[i] = ins[i].name;
    if (ins[i].init) {
      assert_non_null(tqt_graph_initializer_add(m->arena, g, ins[i].name, ins[i].dtype,
                                                ins[i].rank, ins[i].dims, ins[i].data));
      continue;
    }
    int64_t n = numel(&ins[i]);
    data[i] = malloc((size_t)n * sizeof(float));
    for (int64_t k = 0; k < n; k++) data[i][k] = (float)normal();
    assert_non_null(tqt_graph_input_add(m->arena, g, ins[i].name, TQT_DTYPE_FLOAT, ins[i].rank,
                                        ins[i].dims));
    tqt_value_tensor_borrow(&vals[nv], TQT_DTYPE_FLOAT, ins[i].rank, ins[i].dims, data[i],
                            (size_t)n * sizeof(float));
    nv++;
  }
  for (size_t i = 0; i < nv; i++) pv[i] = &vals[i];
  const char *outs[1] = {"y"};
  struct tqt_node *node = tqt_graph_node_add(m->arena, g, op, "n", n_ins, names, 1, outs);
  assert_non_null(node);
  if (attrs) attrs(m->arena, node);
  assert_non_null(tqt_graph_output_add(m->arena, g, "y", TQT_DTYPE_FLOAT, 0, NULL));
  struct tqt_diag d = {0};
  d.verbosity = TQT_VERBOSITY_QUIET;
  struct tqt_interp_options io = {0};
  struct tqt_interp *in = NULL;
  assert_int_equal(tqt_interp_create(m, &io, &in, &d), TQT_STATUS_OK);
  size_t ny;
  loss(in, pv, nv, NULL, &ny);
  float *gy = malloc(ny * sizeof *gy);
  for (size_t i = 0; i < ny; i++) gy[i] = (float)normal();
  /* The analytic gradient, from the recorded forward values. */
  struct tqt_value yv = {0};
  loss(in, pv, nv, NULL, &ny);
  assert_int_equal(tqt_value_copy(&yv, tqt_interp_output(in, 0), &d), TQT_STATUS_OK);
  const struct tqt_rt_tensor *x[8], *y[1] = {&yv.t};
  float *gx[8];
  struct tqt_rt_tensor consts[8];
  for (size_t i = 0, v = 0; i < n_ins; i++) {
    gx[i] = NULL;
    if (ins[i].init) {
      memset(&consts[i], 0, sizeof consts[i]);
      consts[i].dtype = ins[i].dtype;
      consts[i].rank = ins[i].rank;
      memcpy(consts[i].dims, ins[i].dims, sizeof ins[i].dims[0] * ins[i].rank);
      consts[i].data = (void *)ins[i].data;
      x[i] = &consts[i];
      continue;
    }
    x[i] = &vals[v++].t;
    gx[i] = calloc((size_t)numel(&ins[i]), sizeof(float));
  }
  const float *gys[1] = {gy};
  assert_int_equal(tqt_train_backward(node, x, n_ins, y, 1, gys, gx, &d), 0);
  size_t checked = 0, bad = 0;
  double worst = 0;
  for (size_t i = 0; i < n_ins; i++) {
    if (!gx[i]) continue;
    for (int64_t k = 0; k < numel(&ins[i]); k++) {
      float keep = data[i][k];
      data[i][k] = (float)(keep + h);
      double lp = loss(in, pv, nv, gy, &ny);
      data[i][k] = (float)(keep - h);
      double lm = loss(in, pv, nv, gy, &ny);
      data[i][k] = keep;
      double num = (lp - lm) / (2 * h), err = fabs(num - gx[i][k]);
      double tol = 1e-2 * (1 + fabs(num));
      if (err / (1 + fabs(num)) > worst) worst = err / (1 + fabs(num));
      checked++;
      if (err > tol) {
        bad++;
        if (bad < 5)
          fprintf(stderr, "%s input %zu element %lld: backward %g, finite difference %g\n", op, i,
                  (long long)k, gx[i][k], num);
      }
    }
  }
  printf("# %-18s %5zu gradients checked, worst relative error %.2e\n", op, checked, worst);
  assert_int_equal(bad, 0);
  assert_true(checked > 0);
  tqt_value_release(&yv);
  for (size_t i = 0; i < n_ins; i++) {
    free(data[i]);
    free(gx[i]);
  }
  free(gy);
  tqt_interp_destroy(in);
  tqt_model_destroy(m);
}

#define IN(nm, ...) {nm, TQT_DTYPE_FLOAT, sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), {__VA_ARGS__}, false, NULL}

static void ints(struct tqt_arena *a, struct tqt_node *n, const char *name, size_t c, const int64_t *v) {
  assert_int_equal(tqt_node_attr_add_ints(a, n, name, c, v), 0);
}

static void conv_attrs(struct tqt_arena *a, struct tqt_node *n) {
  ints(a, n, "strides", 2, (int64_t[]){2, 1});
  ints(a, n, "pads", 4, (int64_t[]){1, 0, 1, 2});
  ints(a, n, "dilations", 2, (int64_t[]){1, 2});
  assert_int_equal(tqt_node_attr_add_int(a, n, "group", 2), 0);
}
static void test_conv(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 1, 4, 7, 6), IN("w", 6, 2, 3, 2), IN("b", 6)};
  check_op("Conv", ins, 3, conv_attrs, 1e-2);
}
static void same_upper(struct tqt_arena *a, struct tqt_node *n) {
  assert_int_equal(tqt_node_attr_add_string(a, n, "auto_pad", "SAME_UPPER"), 0);
  ints(a, n, "strides", 2, (int64_t[]){2, 2});
}
static void test_conv_same(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 1, 3, 6, 5), IN("w", 4, 3, 3, 3)};
  check_op("Conv", ins, 2, same_upper, 1e-2);
}
static void gemm_attrs(struct tqt_arena *a, struct tqt_node *n) {
  assert_int_equal(tqt_node_attr_add_int(a, n, "transB", 1), 0);
  assert_int_equal(tqt_node_attr_add_float(a, n, "alpha", 0.5f), 0);
  assert_int_equal(tqt_node_attr_add_float(a, n, "beta", 2.0f), 0);
}
static void test_gemm(void **s) {
  (void)s;
  struct tin ins[] = {IN("a", 3, 5), IN("b", 4, 5), IN("c", 4)};
  check_op("Gemm", ins, 3, gemm_attrs, 1e-2);
}
static void transa(struct tqt_arena *a, struct tqt_node *n) {
  assert_int_equal(tqt_node_attr_add_int(a, n, "transA", 1), 0);
}
static void test_gemm_transa(void **s) {
  (void)s;
  struct tin ins[] = {IN("a", 5, 3), IN("b", 5, 4), IN("c", 3, 4)};
  check_op("Gemm", ins, 3, transa, 1e-2);
}
static void test_matmul(void **s) {
  (void)s;
  struct tin ins[] = {IN("a", 2, 3, 5), IN("b", 5, 4)};
  check_op("MatMul", ins, 2, NULL, 1e-2);
  struct tin ins2[] = {IN("a", 2, 3, 5), IN("b", 2, 5, 4)};
  check_op("MatMul", ins2, 2, NULL, 1e-2);
}
static void test_relu(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 2, 3, 4)};
  check_op("Relu", ins, 1, NULL, 1e-3);
}
static const float clip_lo = -0.5f, clip_hi = 0.7f;
static void test_clip(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 2, 3, 4), {"lo", TQT_DTYPE_FLOAT, 0, {0}, true, &clip_lo},
                      {"hi", TQT_DTYPE_FLOAT, 0, {0}, true, &clip_hi}};
  check_op("Clip", ins, 3, NULL, 1e-3);
}
static void pool_attrs(struct tqt_arena *a, struct tqt_node *n) {
  ints(a, n, "kernel_shape", 2, (int64_t[]){3, 2});
  ints(a, n, "strides", 2, (int64_t[]){2, 2});
  ints(a, n, "pads", 4, (int64_t[]){1, 0, 1, 1});
}
static void test_maxpool(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 1, 2, 7, 6)};
  check_op("MaxPool", ins, 1, pool_attrs, 1e-3);
}
static void test_averagepool(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 1, 2, 7, 6)};
  check_op("AveragePool", ins, 1, pool_attrs, 1e-2);
}
static void pool_include_pad(struct tqt_arena *a, struct tqt_node *n) {
  pool_attrs(a, n);
  assert_int_equal(tqt_node_attr_add_int(a, n, "count_include_pad", 1), 0);
}
static void test_averagepool_include_pad(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 1, 2, 7, 6)};
  check_op("AveragePool", ins, 1, pool_include_pad, 1e-2);
}
static void test_global_average(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 2, 3, 4, 5)};
  check_op("GlobalAveragePool", ins, 1, NULL, 1e-2);
}
static void test_add_mul_sub(void **s) {
  (void)s;
  struct tin ins[] = {IN("a", 2, 3, 4), IN("b", 3, 1)};
  check_op("Add", ins, 2, NULL, 1e-2);
  check_op("Mul", ins, 2, NULL, 1e-2);
  check_op("Sub", ins, 2, NULL, 1e-2);
  struct tin ins2[] = {IN("a", 1, 4), IN("b", 3, 1)};
  check_op("Mul", ins2, 2, NULL, 1e-2);
  check_op("Div", ins2, 2, NULL, 1e-4);
}
/* PRelu's slope broadcasts one way: per channel [C,1,1] (as exporters write it) and scalar. */
static void test_prelu_family(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 2, 3, 4, 5), IN("slope", 3, 1, 1)};
  check_op("PRelu", ins, 2, NULL, 1e-3);
  struct tin ins1[] = {IN("x", 2, 3, 4), IN("slope", 1)};
  check_op("PRelu", ins1, 2, NULL, 1e-3);
  struct tin x[] = {IN("x", 2, 3, 4)};
  check_op("LeakyRelu", x, 1, NULL, 1e-3);
  check_op("Tanh", x, 1, NULL, 1e-3);
}
static void axis1(struct tqt_arena *a, struct tqt_node *n) {
  assert_int_equal(tqt_node_attr_add_int(a, n, "axis", 1), 0);
}
static void test_concat(void **s) {
  (void)s;
  struct tin ins[] = {IN("a", 2, 3, 4), IN("b", 2, 1, 4), IN("c", 2, 2, 4)};
  check_op("Concat", ins, 3, axis1, 1e-2);
}
static const int64_t shape[] = {4, -1};
static const int64_t axes0[] = {0};
static void test_reshape_family(void **s) {
  (void)s;
  struct tin r[] = {IN("x", 2, 3, 4), {"shape", TQT_DTYPE_INT64, 1, {2}, true, shape}};
  check_op("Reshape", r, 2, NULL, 1e-2);
  struct tin f[] = {IN("x", 2, 3, 4)};
  check_op("Flatten", f, 1, axis1, 1e-2);
  check_op("Identity", f, 1, NULL, 1e-2);
  struct tin sq[] = {IN("x", 1, 3, 4), {"axes", TQT_DTYPE_INT64, 1, {1}, true, axes0}};
  check_op("Squeeze", sq, 2, NULL, 1e-2);
  struct tin us[] = {IN("x", 3, 4), {"axes", TQT_DTYPE_INT64, 1, {1}, true, axes0}};
  check_op("Unsqueeze", us, 2, NULL, 1e-2);
}
static void perm(struct tqt_arena *a, struct tqt_node *n) {
  ints(a, n, "perm", 4, (int64_t[]){2, 0, 3, 1});
}
static void test_transpose(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 2, 3, 4, 5)};
  check_op("Transpose", ins, 1, perm, 1e-2);
  struct tin ins2[] = {IN("x", 2, 3, 4)};
  check_op("Transpose", ins2, 1, NULL, 1e-2);
}
static void test_sigmoid_family(void **s) {
  (void)s;
  struct tin ins[] = {IN("x", 2, 3, 4)};
  check_op("Sigmoid", ins, 1, NULL, 1e-3);
  check_op("HardSigmoid", ins, 1, NULL, 1e-3);
  check_op("Softmax", ins, 1, axis1, 1e-3);
  check_op("Softmax", ins, 1, NULL, 1e-3);
}

/* The fake quantizer: with round(x/s) held (straight through), q = s·clamp(r) inside is
 * x + s·(r − x/s), below s·n, above s·p; d/dlog2 t (s = 2^log2t / 2^(b−1), no ceil: straight
 * through too) by finite differences of that surrogate. */
static void test_fake_quant(void **s) {
  (void)s;
  enum { N = 200 };
  float x[N], gy[N], gx[N] = {0};
  for (int i = 0; i < N; i++) {
    x[i] = (float)(2.5 * normal());
    gy[i] = (float)normal();
  }
  for (int is_signed = 0; is_signed < 2; is_signed++) {
    int bits = 4;
    double lo = is_signed ? -8 : 0, hi = is_signed ? 7 : 15;
    double theta = 1.7, h = 1e-4;
    double sc = exp2(theta) / (is_signed ? 8 : 16);
    memset(gx, 0, sizeof gx);
    double g = tqt_train_fake_quant_grad(x, gy, gx, N, sc, lo, hi);
    double lp = 0, lm = 0;
    for (int i = 0; i < N; i++) {
      double v = x[i] / sc, r = nearbyint(v);
      for (int sgn = -1; sgn <= 1; sgn += 2) {
        double s2 = exp2(theta + sgn * h) / (is_signed ? 8 : 16);
        double q = r < lo ? s2 * lo : r > hi ? s2 * hi : x[i] + s2 * (r - v);
        *(sgn < 0 ? &lm : &lp) += gy[i] * q;
      }
      /* ∂q/∂x: 1 inside, 0 outside */
      assert_float_equal(gx[i], r < lo || r > hi ? 0.0f : gy[i], 0.0f);
    }
    double num = (lp - lm) / (2 * h);
    printf("# fake quant %s%d: d/dlog2t backward %.6f, finite difference %.6f\n",
           is_signed ? "int" : "uint", bits, g, num);
    assert_true(fabs(num - g) <= 1e-4 * (1 + fabs(num)));
  }
}

static void test_sqnr(void **s) {
  (void)s;
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4.1f};
  assert_true(fabs(tqt_train_sqnr(a, b, 4) - 10 * log10(30 / 0.01)) < 1e-3);
  assert_true(isinf(tqt_train_sqnr(a, a, 4)));
}

static void test_no_backward(void **s) {
  (void)s;
  assert_false(tqt_train_has_backward("Resize"));
  assert_true(tqt_train_has_backward("Conv"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv),          cmocka_unit_test(test_conv_same),
      cmocka_unit_test(test_gemm),          cmocka_unit_test(test_gemm_transa),
      cmocka_unit_test(test_matmul),        cmocka_unit_test(test_relu),
      cmocka_unit_test(test_clip),          cmocka_unit_test(test_maxpool),
      cmocka_unit_test(test_averagepool),   cmocka_unit_test(test_averagepool_include_pad),
      cmocka_unit_test(test_global_average), cmocka_unit_test(test_add_mul_sub),
      cmocka_unit_test(test_prelu_family),
      cmocka_unit_test(test_concat),        cmocka_unit_test(test_reshape_family),
      cmocka_unit_test(test_transpose),     cmocka_unit_test(test_sigmoid_family),
      cmocka_unit_test(test_fake_quant),    cmocka_unit_test(test_sqnr),
      cmocka_unit_test(test_no_backward),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
