/* Symbolic inference of the network ops: convolutions, pools, matrix products, normalizations,
 * reductions and resizing. Each test builds a small model, infers it, and compares the dims with
 * the expressions built from the same symbols (one pointer per expression). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "infer.h"
#include "ir.h"

struct fixture {
  struct tqt_model *m;
  struct tqt_infer *inf;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f || !(f->m = tqt_model_create()) || tqt_model_opset_set(f->m, "", 13)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  if (f->inf) tqt_infer_destroy(f->inf);
  tqt_model_destroy(f->m);
  free(f);
  return 0;
}

#define NN_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* ---- building ---- */

/* A graph input; dims of -1 are symbols named by params (NULL: unnamed). rank SIZE_MAX: no
 * shape at all. */
static void input_add(struct fixture *f, const char *name, int32_t dtype, size_t rank,
                      const int64_t *dims, const char *const *params) {
  bool unranked = rank == SIZE_MAX;
  struct tqt_value_info *v =
      tqt_graph_input_add(f->m->arena, f->m->graph, name, dtype, unranked ? 0 : rank, dims);
  assert_non_null(v);
  v->type->has_shape = !unranked;
  for (size_t i = 0; !unranked && params && i < rank; i++)
    if (params[i]) v->type->dims[i].param = (char *)params[i];
}

/* x: [N, C, H, W] with symbolic N, H, W. */
static void image_add(struct fixture *f, const char *name, int64_t channels) {
  input_add(f, name, TQT_DTYPE_FLOAT, 4, (int64_t[]){-1, channels, -1, -1},
            (const char *[]){"N", NULL, "H", "W"});
}

/* An initializer of zeros (its values decide no shape). */
static void weights_add(struct fixture *f, const char *name, int32_t dtype, size_t rank,
                        const int64_t *dims) {
  assert_non_null(tqt_graph_initializer_add(f->m->arena, f->m->graph, name, dtype, rank, dims,
                                            NULL));
}

static void floats_add(struct fixture *f, const char *name, size_t n, const float *v) {
  int64_t dims[1] = {(int64_t)n};
  assert_non_null(
      tqt_graph_initializer_add(f->m->arena, f->m->graph, name, TQT_DTYPE_FLOAT, 1, dims, v));
}

static void ints_add(struct fixture *f, const char *name, size_t n, const int64_t *v) {
  int64_t dims[1] = {(int64_t)n};
  assert_non_null(
      tqt_graph_initializer_add(f->m->arena, f->m->graph, name, TQT_DTYPE_INT64, 1, dims, v));
}

/* A node; NULL inputs are omitted ones. */
static struct tqt_node *node_add(struct fixture *f, const char *op, size_t n_in,
                                 const char *const *in, size_t n_out, const char *const *out) {
  struct tqt_node *n = tqt_graph_node_add(f->m->arena, f->m->graph, op, op, n_in, in, n_out, out);
  assert_non_null(n);
  return n;
}

static void ints_attr(struct fixture *f, struct tqt_node *n, const char *name, size_t count,
                      const int64_t *v) {
  assert_int_equal(tqt_node_attr_add_ints(f->m->arena, n, name, count, v), 0);
}

/* ---- inferring ---- */

/* The dim table of the inferred model (the model is inferred at the first call, whichever of
 * these helpers an expression's arguments evaluate first). */
static struct tqt_dimtab *dims_of(struct fixture *f) {
  if (!f->inf) {
    struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
    assert_int_equal(tqt_infer_create(f->m, &f->inf, &d), TQT_STATUS_OK);
  }
  return tqt_infer_dims(f->inf);
}

/* What is known of value `name`. */
static const struct tqt_sym *sym_of(struct fixture *f, const char *name) {
  dims_of(f);
  const struct tqt_sym *s = tqt_infer_lookup(f->inf, f->m->graph, name);
  assert_non_null(s);
  return s;
}

static tqt_sdim sym(struct fixture *f, const char *name) {
  return tqt_sdim_symbol(dims_of(f), name);
}

static tqt_sdim cst(struct fixture *f, int64_t v) { return tqt_sdim_const(dims_of(f), v); }

/* floor((d + add) / div) + 1 */
static tqt_sdim windows(struct fixture *f, tqt_sdim d, int64_t add, int64_t div) {
  struct tqt_dimtab *t = dims_of(f);
  return tqt_sdim_add(
      t, tqt_sdim_div_floor(t, tqt_sdim_add(t, d, tqt_sdim_const(t, add)), tqt_sdim_const(t, div)),
      tqt_sdim_const(t, 1));
}

/* s is a tensor of dtype and exactly these dims. */
static void assert_tensor(const struct tqt_sym *s, int32_t dtype, size_t rank,
                          const tqt_sdim *dims) {
  assert_int_equal(s->kind, TQT_SYM_KIND_TENSOR);
  assert_int_equal(s->dtype, dtype);
  assert_true(s->has_rank);
  assert_int_equal(s->rank, rank);
  for (size_t i = 0; i < rank; i++) assert_ptr_equal(s->dims[i], dims[i]);
}

/* ---- convolutions ---- */

static void test_conv_stride_2_pad_1_gives_floor_expressions(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  weights_add(f, "w", TQT_DTYPE_FLOAT, 4, (int64_t[]){16, 3, 3, 3});
  struct tqt_node *n = node_add(f, "Conv", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "strides", 2, (int64_t[]){2, 2});
  ints_attr(f, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
  const struct tqt_sym *y = sym_of(f, "y");
  /* floor((H + 1 + 1 - 3) / 2) + 1 */
  assert_tensor(y, TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "N"), cst(f, 16), windows(f, sym(f, "H"), -1, 2),
                             windows(f, sym(f, "W"), -1, 2)});
}

static void test_conv_same_upper_gives_ceil_of_the_dim_over_the_stride(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  weights_add(f, "w", TQT_DTYPE_FLOAT, 4, (int64_t[]){8, 3, 5, 5});
  struct tqt_node *n = node_add(f, "Conv", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "strides", 2, (int64_t[]){2, 3});
  assert_int_equal(tqt_node_attr_add_string(f->m->arena, n, "auto_pad", "SAME_UPPER"), 0);
  const struct tqt_sym *y = sym_of(f, "y");
  struct tqt_dimtab *t = dims_of(f);
  assert_tensor(y, TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "N"), cst(f, 8), tqt_sdim_div_ceil(t, sym(f, "H"), cst(f, 2)),
                             tqt_sdim_div_ceil(t, sym(f, "W"), cst(f, 3))});
}

static void test_conv_takes_the_rank_from_w_when_x_has_none(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_FLOAT, SIZE_MAX, NULL, NULL);
  weights_add(f, "w", TQT_DTYPE_FLOAT, 4, (int64_t[]){16, 3, 3, 3});
  node_add(f, "Conv", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4, (tqt_sdim[]){NULL, cst(f, 16), NULL, NULL});
}

static void test_conv_transpose_stride_2_doubles_the_dims(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  weights_add(f, "w", TQT_DTYPE_FLOAT, 4, (int64_t[]){3, 8, 4, 4});
  struct tqt_node *n =
      node_add(f, "ConvTranspose", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "strides", 2, (int64_t[]){2, 2});
  ints_attr(f, n, "pads", 4, (int64_t[]){1, 1, 1, 1});
  const struct tqt_sym *y = sym_of(f, "y");
  /* 2 (H - 1) + 4 - 1 - 1 = 2H */
  struct tqt_dimtab *t = dims_of(f);
  assert_tensor(y, TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "N"), cst(f, 8), tqt_sdim_mul(t, cst(f, 2), sym(f, "H")),
                             tqt_sdim_mul(t, cst(f, 2), sym(f, "W"))});
}

static void test_conv_integer_gives_int32(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_UINT8, 4, (int64_t[]){1, 3, 8, 8}, NULL);
  weights_add(f, "w", TQT_DTYPE_UINT8, 4, (int64_t[]){4, 3, 3, 3});
  node_add(f, "ConvInteger", 2, (const char *[]){"x", "w"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_INT32, 4,
                (tqt_sdim[]){cst(f, 1), cst(f, 4), cst(f, 6), cst(f, 6)});
}

static void test_qlinear_conv_gives_the_y_zero_point_type(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_UINT8, 4, (int64_t[]){1, 3, 8, 8}, NULL);
  weights_add(f, "w", TQT_DTYPE_INT8, 4, (int64_t[]){4, 3, 3, 3});
  weights_add(f, "s", TQT_DTYPE_FLOAT, 0, NULL);
  weights_add(f, "xz", TQT_DTYPE_UINT8, 0, NULL);
  weights_add(f, "wz", TQT_DTYPE_INT8, 0, NULL);
  weights_add(f, "yz", TQT_DTYPE_INT8, 0, NULL);
  node_add(f, "QLinearConv", 8, (const char *[]){"x", "s", "xz", "w", "s", "wz", "s", "yz"}, 1,
           (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_INT8, 4,
                (tqt_sdim[]){cst(f, 1), cst(f, 4), cst(f, 6), cst(f, 6)});
}

/* ---- pools ---- */

static void test_max_pool_stride_2_on_224_gives_112(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_FLOAT, 4, (int64_t[]){1, 64, 224, 224}, NULL);
  struct tqt_node *n = node_add(f, "MaxPool", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "kernel_shape", 2, (int64_t[]){2, 2});
  ints_attr(f, n, "strides", 2, (int64_t[]){2, 2});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){cst(f, 1), cst(f, 64), cst(f, 112), cst(f, 112)});
}

static void test_max_pool_indices_are_int64_of_the_output_shape(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 8);
  struct tqt_node *n =
      node_add(f, "MaxPool", 1, (const char *[]){"x"}, 2, (const char *[]){"y", "idx"});
  ints_attr(f, n, "kernel_shape", 2, (int64_t[]){3, 3});
  const struct tqt_sym *y = sym_of(f, "y"), *idx = sym_of(f, "idx");
  assert_tensor(y, TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "N"), cst(f, 8), windows(f, sym(f, "H"), -3, 1),
                             windows(f, sym(f, "W"), -3, 1)});
  assert_tensor(idx, TQT_DTYPE_INT64, 4, y->dims);
}

static void test_pool_ceil_mode_counts_a_last_partial_window(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_FLOAT, 4, (int64_t[]){1, 1, 5, 5}, NULL);
  struct tqt_node *n =
      node_add(f, "AveragePool", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "kernel_shape", 2, (int64_t[]){2, 2});
  ints_attr(f, n, "strides", 2, (int64_t[]){2, 2});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "ceil_mode", 1), 0);
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){cst(f, 1), cst(f, 1), cst(f, 3), cst(f, 3)});
}

static void test_pool_ceil_mode_on_a_symbolic_dim_gives_ceil(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 1);
  struct tqt_node *n =
      node_add(f, "AveragePool", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "kernel_shape", 2, (int64_t[]){2, 2});
  ints_attr(f, n, "strides", 2, (int64_t[]){2, 2});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "ceil_mode", 1), 0);
  const struct tqt_sym *y = sym_of(f, "y");
  /* ceil((H - 2) / 2) + 1 = floor((H - 1) / 2) + 1: no window can start in the end padding */
  assert_ptr_equal(y->dims[2], windows(f, sym(f, "H"), -1, 2));
}

static void test_global_average_pool_keeps_batch_and_channels(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 512);
  node_add(f, "GlobalAveragePool", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "N"), cst(f, 512), cst(f, 1), cst(f, 1)});
}

/* ---- matrix products ---- */

static void test_matmul_broadcasts_the_batch_dims(void **state) {
  struct fixture *f = *state;
  input_add(f, "a", TQT_DTYPE_FLOAT, 4, (int64_t[]){-1, 1, -1, 64},
            (const char *[]){"B", NULL, "S", NULL});
  weights_add(f, "b", TQT_DTYPE_FLOAT, 3, (int64_t[]){4, 64, 7});
  node_add(f, "MatMul", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "B"), cst(f, 4), sym(f, "S"), cst(f, 7)});
}

static void test_matmul_drops_the_dim_of_a_vector_operand(void **state) {
  struct fixture *f = *state;
  weights_add(f, "a", TQT_DTYPE_FLOAT, 1, (int64_t[]){64});
  input_add(f, "b", TQT_DTYPE_FLOAT, 3, (int64_t[]){-1, 64, 5}, (const char *[]){"N", NULL, NULL});
  node_add(f, "MatMul", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 2, (tqt_sdim[]){sym(f, "N"), cst(f, 5)});
}

static void test_matmul_of_an_unranked_input_keeps_only_the_type(void **state) {
  struct fixture *f = *state;
  input_add(f, "a", TQT_DTYPE_FLOAT16, SIZE_MAX, NULL, NULL);
  weights_add(f, "b", TQT_DTYPE_FLOAT16, 2, (int64_t[]){64, 5});
  node_add(f, "MatMul", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"});
  const struct tqt_sym *y = sym_of(f, "y");
  assert_int_equal(y->kind, TQT_SYM_KIND_TENSOR);
  assert_int_equal(y->dtype, TQT_DTYPE_FLOAT16);
  assert_false(y->has_rank);
}

static void test_gemm_trans_b_takes_n_from_the_rows_of_b(void **state) {
  struct fixture *f = *state;
  input_add(f, "a", TQT_DTYPE_FLOAT, 2, (int64_t[]){-1, 64}, (const char *[]){"N", NULL});
  weights_add(f, "b", TQT_DTYPE_FLOAT, 2, (int64_t[]){10, 64});
  weights_add(f, "c", TQT_DTYPE_FLOAT, 1, (int64_t[]){10});
  struct tqt_node *n =
      node_add(f, "Gemm", 3, (const char *[]){"a", "b", "c"}, 1, (const char *[]){"y"});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "transB", 1), 0);
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 2, (tqt_sdim[]){sym(f, "N"), cst(f, 10)});
}

static void test_matmul_integer_gives_int32(void **state) {
  struct fixture *f = *state;
  input_add(f, "a", TQT_DTYPE_UINT8, 2, (int64_t[]){-1, 64}, (const char *[]){"N", NULL});
  weights_add(f, "b", TQT_DTYPE_INT8, 2, (int64_t[]){64, 10});
  node_add(f, "MatMulInteger", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_INT32, 2, (tqt_sdim[]){sym(f, "N"), cst(f, 10)});
}

static void test_einsum_batched_product_takes_each_label_dim(void **state) {
  struct fixture *f = *state;
  input_add(f, "a", TQT_DTYPE_FLOAT, 3, (int64_t[]){-1, -1, 64}, (const char *[]){"B", "S", NULL});
  input_add(f, "b", TQT_DTYPE_FLOAT, 3, (int64_t[]){-1, 64, -1},
            (const char *[]){"B", NULL, "T"});
  struct tqt_node *n =
      node_add(f, "Einsum", 2, (const char *[]){"a", "b"}, 1, (const char *[]){"y"});
  assert_int_equal(tqt_node_attr_add_string(f->m->arena, n, "equation", "bij,bjk->bik"), 0);
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 3,
                (tqt_sdim[]){sym(f, "B"), sym(f, "S"), sym(f, "T")});
}

/* ---- normalizations ---- */

static void test_batch_normalization_keeps_the_input_shape(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 16);
  for (size_t i = 0; i < 4; i++) {
    const char *names[4] = {"scale", "b", "mean", "var"};
    weights_add(f, names[i], TQT_DTYPE_FLOAT, 1, (int64_t[]){16});
  }
  node_add(f, "BatchNormalization", 5, (const char *[]){"x", "scale", "b", "mean", "var"}, 1,
           (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4, sym_of(f, "x")->dims);
}

static void test_layer_normalization_statistics_are_1_past_the_axis(void **state) {
  struct fixture *f = *state;
  assert_int_equal(tqt_model_opset_set(f->m, "", 17), 0);
  input_add(f, "x", TQT_DTYPE_FLOAT16, 3, (int64_t[]){-1, -1, 64},
            (const char *[]){"N", "S", NULL});
  weights_add(f, "scale", TQT_DTYPE_FLOAT16, 1, (int64_t[]){64});
  node_add(f, "LayerNormalization", 2, (const char *[]){"x", "scale"}, 3,
           (const char *[]){"y", "mean", "inv"});
  const struct tqt_sym *x = sym_of(f, "x");
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT16, 3, x->dims);
  tqt_sdim stats[3] = {sym(f, "N"), sym(f, "S"), cst(f, 1)};
  assert_tensor(sym_of(f, "mean"), TQT_DTYPE_FLOAT, 3, stats); /* stash_type: float */
  assert_tensor(sym_of(f, "inv"), TQT_DTYPE_FLOAT, 3, stats);
}

/* ---- reductions ---- */

static void test_reduce_mean_without_keepdims_drops_the_axes(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  struct tqt_node *n =
      node_add(f, "ReduceMean", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
  ints_attr(f, n, "axes", 2, (int64_t[]){2, -1});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "keepdims", 0), 0);
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 2, (tqt_sdim[]){sym(f, "N"), cst(f, 3)});
}

static void test_reduce_sum_over_unknown_axes_keeps_only_the_rank_and_ones(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 1);
  input_add(f, "axes", TQT_DTYPE_INT64, 1, (int64_t[]){2}, NULL);
  node_add(f, "ReduceSum", 2, (const char *[]){"x", "axes"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4, (tqt_sdim[]){NULL, cst(f, 1), NULL, NULL});
}

static void test_reduce_prod_of_a_shape_gives_the_element_count(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  node_add(f, "Shape", 1, (const char *[]){"x"}, 1, (const char *[]){"shape"});
  struct tqt_node *n =
      node_add(f, "ReduceProd", 1, (const char *[]){"shape"}, 1, (const char *[]){"count"});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "keepdims", 0), 0);
  const struct tqt_sym *count = sym_of(f, "count");
  struct tqt_dimtab *t = dims_of(f);
  assert_tensor(count, TQT_DTYPE_INT64, 0, NULL);
  assert_true(count->has_value);
  assert_int_equal(count->n_value, 1);
  assert_ptr_equal(count->value[0],
                   tqt_sdim_mul(t, tqt_sdim_mul(t, sym(f, "N"), cst(f, 3)),
                                tqt_sdim_mul(t, sym(f, "H"), sym(f, "W"))));
}

static void test_argmax_gives_int64_without_the_axis(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_FLOAT, 2, (int64_t[]){-1, 10}, (const char *[]){"N", NULL});
  struct tqt_node *n = node_add(f, "ArgMax", 1, (const char *[]){"x"}, 1, (const char *[]){"y"});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "axis", 1), 0);
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "keepdims", 0), 0);
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_INT64, 1, (tqt_sdim[]){sym(f, "N")});
}

/* ---- resizing ---- */

static void test_resize_by_constant_scales_of_2_doubles_symbolic_dims(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  floats_add(f, "scales", 4, (float[]){1, 1, 2, 2});
  node_add(f, "Resize", 3, (const char *[]){"x", NULL, "scales"}, 1, (const char *[]){"y"});
  const struct tqt_sym *y = sym_of(f, "y");
  struct tqt_dimtab *t = dims_of(f);
  assert_tensor(y, TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "N"), cst(f, 3), tqt_sdim_mul(t, cst(f, 2), sym(f, "H")),
                             tqt_sdim_mul(t, cst(f, 2), sym(f, "W"))});
}

static void test_resize_by_a_fractional_scale_knows_only_constant_dims(void **state) {
  struct fixture *f = *state;
  input_add(f, "x", TQT_DTYPE_FLOAT, 4, (int64_t[]){1, 3, -1, 10},
            (const char *[]){NULL, NULL, "H", NULL});
  floats_add(f, "scales", 4, (float[]){1, 1, 1.5f, 1.5f});
  node_add(f, "Resize", 3, (const char *[]){"x", NULL, "scales"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){cst(f, 1), cst(f, 3), NULL, cst(f, 15)});
}

static void test_resize_to_sizes_takes_their_values(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 3);
  ints_add(f, "sizes", 4, (int64_t[]){2, 3, 32, 48});
  node_add(f, "Resize", 4, (const char *[]){"x", NULL, NULL, "sizes"}, 1, (const char *[]){"y"});
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){cst(f, 2), cst(f, 3), cst(f, 32), cst(f, 48)});
}

static void test_roi_align_gives_rois_by_channels_by_the_output_size(void **state) {
  struct fixture *f = *state;
  image_add(f, "x", 256);
  input_add(f, "rois", TQT_DTYPE_FLOAT, 2, (int64_t[]){-1, 4}, (const char *[]){"R", NULL});
  input_add(f, "batch", TQT_DTYPE_INT64, 1, (int64_t[]){-1}, (const char *[]){"R"});
  struct tqt_node *n =
      node_add(f, "RoiAlign", 3, (const char *[]){"x", "rois", "batch"}, 1, (const char *[]){"y"});
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "output_height", 7), 0);
  assert_int_equal(tqt_node_attr_add_int(f->m->arena, n, "output_width", 5), 0);
  assert_tensor(sym_of(f, "y"), TQT_DTYPE_FLOAT, 4,
                (tqt_sdim[]){sym(f, "R"), cst(f, 256), cst(f, 7), cst(f, 5)});
}

int main(void) {
  const struct CMUnitTest tests[] = {
      NN_TEST(test_conv_stride_2_pad_1_gives_floor_expressions),
      NN_TEST(test_conv_same_upper_gives_ceil_of_the_dim_over_the_stride),
      NN_TEST(test_conv_takes_the_rank_from_w_when_x_has_none),
      NN_TEST(test_conv_transpose_stride_2_doubles_the_dims),
      NN_TEST(test_conv_integer_gives_int32),
      NN_TEST(test_qlinear_conv_gives_the_y_zero_point_type),
      NN_TEST(test_max_pool_stride_2_on_224_gives_112),
      NN_TEST(test_max_pool_indices_are_int64_of_the_output_shape),
      NN_TEST(test_pool_ceil_mode_counts_a_last_partial_window),
      NN_TEST(test_pool_ceil_mode_on_a_symbolic_dim_gives_ceil),
      NN_TEST(test_global_average_pool_keeps_batch_and_channels),
      NN_TEST(test_matmul_broadcasts_the_batch_dims),
      NN_TEST(test_matmul_drops_the_dim_of_a_vector_operand),
      NN_TEST(test_matmul_of_an_unranked_input_keeps_only_the_type),
      NN_TEST(test_gemm_trans_b_takes_n_from_the_rows_of_b),
      NN_TEST(test_matmul_integer_gives_int32),
      NN_TEST(test_einsum_batched_product_takes_each_label_dim),
      NN_TEST(test_batch_normalization_keeps_the_input_shape),
      NN_TEST(test_layer_normalization_statistics_are_1_past_the_axis),
      NN_TEST(test_reduce_mean_without_keepdims_drops_the_axes),
      NN_TEST(test_reduce_sum_over_unknown_axes_keeps_only_the_rank_and_ones),
      NN_TEST(test_reduce_prod_of_a_shape_gives_the_element_count),
      NN_TEST(test_argmax_gives_int64_without_the_axis),
      NN_TEST(test_resize_by_constant_scales_of_2_doubles_symbolic_dims),
      NN_TEST(test_resize_by_a_fractional_scale_knows_only_constant_dims),
      NN_TEST(test_resize_to_sizes_takes_their_values),
      NN_TEST(test_roi_align_gives_rois_by_channels_by_the_output_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
