/* Symbolic inference of the index, math, misc, rnn, qdq and control ops: shape values through
 * Gather, If and Loop over subgraphs, recurrent layers, quantization types, data-dependent
 * counts. Each test builds a small model with the IR builders and reads what tqt_infer_create
 * proved. */
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

/* A model and, once inferred, what was proven of it. */
struct fixture {
  struct tqt_model *m;
  struct tqt_infer *inf;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f || !(f->m = tqt_model_create()) || tqt_model_opset_set(f->m, "", 14)) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  tqt_infer_destroy(f->inf);
  tqt_model_destroy(f->m);
  free(f);
  return 0;
}

/* ---- building ---- */

/* Input `name` of float dims where a negative dim is the symbol params[i]. */
static void add_input(struct tqt_model *m, const char *name, int32_t dtype, size_t rank,
                      const int64_t *dims, const char *const *params) {
  struct tqt_value_info *v = tqt_graph_input_add(m->arena, m->graph, name, dtype, rank, dims);
  assert_non_null(v);
  for (size_t i = 0; i < rank; i++)
    if (dims[i] < 0 && params) v->type->dims[i].param = (char *)params[i];
}

/* Input x of [N, 3, H, W]. */
static void add_image_input(struct tqt_model *m) {
  add_input(m, "x", TQT_DTYPE_FLOAT, 4, (int64_t[]){-1, 3, -1, -1},
            (const char *[]){"N", NULL, "H", "W"});
}

static struct tqt_node *add_node(struct tqt_model *m, struct tqt_graph *g, const char *op,
                                 size_t n_in, const char *const *in, size_t n_out,
                                 const char *const *out) {
  struct tqt_node *n = tqt_graph_node_add(m->arena, g, op, out[0], n_in, in, n_out, out);
  assert_non_null(n);
  return n;
}

static void add_output(struct tqt_model *m, struct tqt_graph *g, const char *name) {
  assert_non_null(tqt_graph_output_add(m->arena, g, name, TQT_DTYPE_FLOAT, 0, NULL));
  g->outputs[g->n_outputs - 1].type = NULL; /* declared nothing: inference alone decides */
}

static void add_int64(struct tqt_model *m, struct tqt_graph *g, const char *name, size_t rank,
                      const int64_t *dims, const int64_t *v) {
  assert_non_null(tqt_graph_initializer_add(m->arena, g, name, TQT_DTYPE_INT64, rank, dims, v));
}

/* A GRAPH attribute `name` of n holding a new empty subgraph. */
static struct tqt_graph *add_subgraph(struct tqt_model *m, struct tqt_node *n, const char *name) {
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, name, TQT_ATTR_TYPE_GRAPH);
  assert_non_null(at);
  at->g = tqt_graph_create(m->arena, name, m->graph);
  assert_non_null(at->g);
  return at->g;
}

static const struct tqt_sym *infer(struct fixture *f, const char *name) {
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  if (!f->inf) assert_int_equal(tqt_infer_create(f->m, &f->inf, &d), TQT_STATUS_OK);
  const struct tqt_sym *s = tqt_infer_lookup(f->inf, f->m->graph, name);
  assert_non_null(s);
  return s;
}

static tqt_sdim sym(struct fixture *f, const char *name) {
  return tqt_sdim_symbol(tqt_infer_dims(f->inf), name);
}

static tqt_sdim num(struct fixture *f, int64_t v) {
  return tqt_sdim_const(tqt_infer_dims(f->inf), v);
}

/* ---- Gather ---- */

/* Shape(x) gathered at the scalar index i, into "dim". */
static void add_shape_gather(struct tqt_model *m, int64_t i) {
  add_image_input(m);
  add_int64(m, m->graph, "i", 0, NULL, &i);
  add_node(m, m->graph, "Shape", 1, (const char *[]){"x"}, 1, (const char *[]){"shape"});
  add_node(m, m->graph, "Gather", 2, (const char *[]){"shape", "i"}, 1, (const char *[]){"dim"});
}

static void test_gather_of_a_static_dim_gives_its_value(void **state) {
  struct fixture *f = *state;
  add_shape_gather(f->m, 1);
  const struct tqt_sym *dim = infer(f, "dim");
  assert_int_equal(dim->dtype, TQT_DTYPE_INT64);
  assert_true(dim->has_rank);
  assert_int_equal(dim->rank, 0);
  assert_true(dim->has_value);
  assert_int_equal(dim->n_value, 1);
  assert_ptr_equal(dim->value[0], num(f, 3));
}

static void test_gather_of_a_symbolic_dim_gives_its_symbol(void **state) {
  struct fixture *f = *state;
  add_shape_gather(f->m, 2);
  const struct tqt_sym *dim = infer(f, "dim");
  assert_true(dim->has_value);
  assert_ptr_equal(dim->value[0], sym(f, "H"));
}

static void test_gather_of_a_negative_index_counts_from_the_back(void **state) {
  struct fixture *f = *state;
  add_shape_gather(f->m, -1);
  const struct tqt_sym *dim = infer(f, "dim");
  assert_ptr_equal(dim->value[0], sym(f, "W"));
}

static void test_gather_along_an_axis_puts_the_indices_dims_there(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  add_int64(f->m, f->m->graph, "idx", 2, (int64_t[]){5, 7}, NULL);
  struct tqt_node *n = add_node(f->m, f->m->graph, "Gather", 2, (const char *[]){"x", "idx"}, 1,
                                (const char *[]){"y"});
  tqt_node_attr_add_int(f->m->arena, n, "axis", 2);
  const struct tqt_sym *y = infer(f, "y");
  assert_int_equal(y->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(y->rank, 5);
  assert_ptr_equal(y->dims[0], sym(f, "N"));
  assert_ptr_equal(y->dims[1], num(f, 3));
  assert_ptr_equal(y->dims[2], num(f, 5));
  assert_ptr_equal(y->dims[3], num(f, 7));
  assert_ptr_equal(y->dims[4], sym(f, "W"));
}

/* ---- If ---- */

/* y = If(cond) with branches Identity(then_in) and Identity(else_in). */
static void add_if(struct tqt_model *m, const char *then_in, const char *else_in) {
  struct tqt_node *n = add_node(m, m->graph, "If", 1, (const char *[]){"cond"}, 1,
                                (const char *[]){"y"});
  const char *branches[2] = {"then_branch", "else_branch"}, *ins[2] = {then_in, else_in};
  for (int b = 0; b < 2; b++) {
    struct tqt_graph *g = add_subgraph(m, n, branches[b]);
    char out[32];
    snprintf(out, sizeof out, "%s_out", ins[b]);
    add_node(m, g, "Identity", 1, &ins[b], 1, (const char *[]){out});
    add_output(m, g, out);
  }
  add_output(m, m->graph, "y");
}

/* Inputs a [2, 3] and b [4, 3]. */
static void add_two_inputs(struct tqt_model *m) {
  add_input(m, "a", TQT_DTYPE_FLOAT, 2, (int64_t[]){2, 3}, NULL);
  add_input(m, "b", TQT_DTYPE_FLOAT, 2, (int64_t[]){4, 3}, NULL);
}

static void test_if_on_an_unknown_condition_joins_its_branches(void **state) {
  struct fixture *f = *state;
  add_two_inputs(f->m);
  add_input(f->m, "cond", TQT_DTYPE_BOOL, 0, NULL, NULL);
  add_if(f->m, "a", "b");
  const struct tqt_sym *y = infer(f, "y");
  assert_int_equal(y->kind, TQT_SYM_KIND_TENSOR);
  assert_int_equal(y->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(y->rank, 2);
  assert_null(y->dims[0]); /* 2 or 4 */
  assert_ptr_equal(y->dims[1], num(f, 3));
}

static void test_if_on_a_proven_condition_takes_its_branch(void **state) {
  struct fixture *f = *state;
  add_two_inputs(f->m);
  uint8_t no = 0;
  assert_non_null(
      tqt_graph_initializer_add(f->m->arena, f->m->graph, "cond", TQT_DTYPE_BOOL, 0, NULL, &no));
  add_if(f->m, "a", "b");
  const struct tqt_sym *y = infer(f, "y");
  assert_ptr_equal(y->dims[0], num(f, 4));
}

/* ---- Loop ---- */

/* v_out = Loop(M, "", v0) whose body makes (cond, op(v, v)) and, with scan set, the scan output
 * Identity(s) of s [3]. */
static void add_loop(struct tqt_model *m, const char *op, bool scan) {
  const char *ins[3] = {"M", "", "v0"}, *outs[2] = {"v_out", "scanned"};
  struct tqt_node *n = add_node(m, m->graph, "Loop", 3, ins, scan ? 2 : 1, outs);
  struct tqt_graph *body = add_subgraph(m, n, "body");
  assert_non_null(tqt_graph_input_add(m->arena, body, "iter", TQT_DTYPE_INT64, 0, NULL));
  assert_non_null(tqt_graph_input_add(m->arena, body, "cond_in", TQT_DTYPE_BOOL, 0, NULL));
  assert_non_null(tqt_graph_input_add(m->arena, body, "v", TQT_DTYPE_FLOAT, 1, (int64_t[]){-1}));
  add_node(m, body, "Identity", 1, (const char *[]){"cond_in"}, 1, (const char *[]){"cond_out"});
  struct tqt_node *grow = add_node(m, body, op, 2, (const char *[]){"v", "v"}, 1,
                                   (const char *[]){"v_next"});
  if (!strcmp(op, "Concat")) tqt_node_attr_add_int(m->arena, grow, "axis", 0);
  add_output(m, body, "cond_out");
  add_output(m, body, "v_next");
  if (scan) {
    assert_non_null(tqt_graph_initializer_add(m->arena, body, "s", TQT_DTYPE_FLOAT, 1,
                                              (int64_t[]){3}, NULL));
    add_node(m, body, "Identity", 1, (const char *[]){"s"}, 1, (const char *[]){"s_out"});
    add_output(m, body, "s_out");
  }
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, "v0", TQT_DTYPE_FLOAT, 1,
                                            (int64_t[]){1}, NULL));
}

static void test_loop_carrying_a_growing_tensor_ends_with_an_unknown_dim(void **state) {
  struct fixture *f = *state;
  add_input(f->m, "M", TQT_DTYPE_INT64, 0, NULL, NULL);
  add_loop(f->m, "Concat", false);
  const struct tqt_sym *v = infer(f, "v_out");
  assert_int_equal(v->kind, TQT_SYM_KIND_TENSOR);
  assert_int_equal(v->dtype, TQT_DTYPE_FLOAT);
  assert_true(v->has_rank);
  assert_int_equal(v->rank, 1);
  assert_null(v->dims[0]);
}

static void test_loop_carrying_a_steady_tensor_keeps_its_shape(void **state) {
  struct fixture *f = *state;
  add_input(f->m, "M", TQT_DTYPE_INT64, 0, NULL, NULL);
  add_loop(f->m, "Add", false);
  const struct tqt_sym *v = infer(f, "v_out");
  assert_int_equal(v->rank, 1);
  assert_ptr_equal(v->dims[0], num(f, 1));
}

static void test_loop_scan_output_stacks_a_constant_trip_count(void **state) {
  struct fixture *f = *state;
  add_int64(f->m, f->m->graph, "M", 0, NULL, (int64_t[]){5});
  add_loop(f->m, "Add", true);
  const struct tqt_sym *s = infer(f, "scanned");
  assert_int_equal(s->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(s->rank, 2);
  assert_ptr_equal(s->dims[0], num(f, 5));
  assert_ptr_equal(s->dims[1], num(f, 3));
}

/* ---- Scan ---- */

static void test_scan_slices_its_input_and_stacks_its_output(void **state) {
  struct fixture *f = *state;
  struct tqt_model *m = f->m;
  add_input(m, "seq", TQT_DTYPE_FLOAT, 3, (int64_t[]){-1, 4, 2}, (const char *[]){"T"});
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, "acc0", TQT_DTYPE_FLOAT, 2,
                                            (int64_t[]){4, 2}, NULL));
  struct tqt_node *n = add_node(m, m->graph, "Scan", 2, (const char *[]){"acc0", "seq"}, 2,
                                (const char *[]){"acc", "ys"});
  tqt_node_attr_add_int(m->arena, n, "num_scan_inputs", 1);
  tqt_node_attr_add_ints(m->arena, n, "scan_output_axes", 1, (int64_t[]){-1});
  struct tqt_graph *body = add_subgraph(m, n, "body");
  assert_non_null(tqt_graph_input_add(m->arena, body, "acc_in", TQT_DTYPE_FLOAT, 0, NULL));
  assert_non_null(tqt_graph_input_add(m->arena, body, "x_t", TQT_DTYPE_FLOAT, 0, NULL));
  add_node(m, body, "Add", 2, (const char *[]){"acc_in", "x_t"}, 1, (const char *[]){"acc_out"});
  add_node(m, body, "Relu", 1, (const char *[]){"x_t"}, 1, (const char *[]){"y_t"});
  add_output(m, body, "acc_out");
  add_output(m, body, "y_t");
  const struct tqt_sym *acc = infer(f, "acc"), *ys = infer(f, "ys");
  assert_int_equal(acc->rank, 2);
  assert_ptr_equal(acc->dims[0], num(f, 4));
  assert_ptr_equal(acc->dims[1], num(f, 2));
  assert_int_equal(ys->rank, 3); /* [4, 2] slices stacked along the last axis */
  assert_ptr_equal(ys->dims[0], num(f, 4));
  assert_ptr_equal(ys->dims[1], num(f, 2));
  assert_ptr_equal(ys->dims[2], sym(f, "T"));
}

/* ---- recurrent layers ---- */

/* LSTM of hidden size 16 over X [S, B, 10] (layout 0) or [B, S, 10] (layout 1). */
static void add_lstm(struct tqt_model *m, int64_t layout) {
  const char *params[3] = {layout ? "B" : "S", layout ? "S" : "B", NULL};
  add_input(m, "X", TQT_DTYPE_FLOAT, 3, (int64_t[]){-1, -1, 10}, params);
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, "W", TQT_DTYPE_FLOAT, 3,
                                            (int64_t[]){1, 64, 10}, NULL));
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, "R", TQT_DTYPE_FLOAT, 3,
                                            (int64_t[]){1, 64, 16}, NULL));
  struct tqt_node *n = add_node(m, m->graph, "LSTM", 3, (const char *[]){"X", "W", "R"}, 3,
                                (const char *[]){"Y", "Y_h", "Y_c"});
  tqt_node_attr_add_int(m->arena, n, "hidden_size", 16);
  tqt_node_attr_add_int(m->arena, n, "layout", layout);
}

/* Asserts s is float with these dims (NULL: the symbol's name is taken from names). */
static void assert_dims(struct fixture *f, const struct tqt_sym *s, size_t rank,
                        const char *const *names, const int64_t *values) {
  assert_int_equal(s->dtype, TQT_DTYPE_FLOAT);
  assert_true(s->has_rank);
  assert_int_equal(s->rank, rank);
  for (size_t i = 0; i < rank; i++)
    assert_ptr_equal(s->dims[i], names[i] ? sym(f, names[i]) : num(f, values[i]));
}

static void test_lstm_outputs_follow_symbolic_sequence_and_batch(void **state) {
  struct fixture *f = *state;
  add_lstm(f->m, 0);
  assert_dims(f, infer(f, "Y"), 4, (const char *[]){"S", NULL, "B", NULL},
              (int64_t[]){0, 1, 0, 16});
  assert_dims(f, infer(f, "Y_h"), 3, (const char *[]){NULL, "B", NULL}, (int64_t[]){1, 0, 16});
  assert_dims(f, infer(f, "Y_c"), 3, (const char *[]){NULL, "B", NULL}, (int64_t[]){1, 0, 16});
}

static void test_lstm_batch_first_layout_puts_the_batch_in_front(void **state) {
  struct fixture *f = *state;
  add_lstm(f->m, 1);
  assert_dims(f, infer(f, "Y"), 4, (const char *[]){"B", "S", NULL, NULL},
              (int64_t[]){0, 0, 1, 16});
  assert_dims(f, infer(f, "Y_h"), 3, (const char *[]){"B", NULL, NULL}, (int64_t[]){0, 1, 16});
}

/* ---- quantization ---- */

static void test_quantize_linear_takes_its_zero_points_type(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  float scale = 0.5f;
  int8_t zp = 0;
  assert_non_null(tqt_graph_initializer_add(f->m->arena, f->m->graph, "scale", TQT_DTYPE_FLOAT,
                                            0, NULL, &scale));
  assert_non_null(
      tqt_graph_initializer_add(f->m->arena, f->m->graph, "zp", TQT_DTYPE_INT8, 0, NULL, &zp));
  add_node(f->m, f->m->graph, "QuantizeLinear", 3, (const char *[]){"x", "scale", "zp"}, 1,
           (const char *[]){"q"});
  add_node(f->m, f->m->graph, "DequantizeLinear", 3, (const char *[]){"q", "scale", "zp"}, 1,
           (const char *[]){"dq"});
  const struct tqt_sym *q = infer(f, "q");
  assert_int_equal(q->dtype, TQT_DTYPE_INT8);
  assert_int_equal(q->rank, 4);
  assert_ptr_equal(q->dims[2], sym(f, "H"));
  assert_int_equal(infer(f, "dq")->dtype, TQT_DTYPE_FLOAT);
}

static void test_quantize_linear_without_zero_point_is_uint8(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  float scale = 0.5f;
  assert_non_null(tqt_graph_initializer_add(f->m->arena, f->m->graph, "scale", TQT_DTYPE_FLOAT,
                                            0, NULL, &scale));
  add_node(f->m, f->m->graph, "QuantizeLinear", 2, (const char *[]){"x", "scale"}, 1,
           (const char *[]){"q"});
  assert_int_equal(infer(f, "q")->dtype, TQT_DTYPE_UINT8);
}

/* ---- data-dependent counts ---- */

static void test_nonzero_count_is_a_fresh_symbol(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  add_node(f->m, f->m->graph, "NonZero", 1, (const char *[]){"x"}, 1, (const char *[]){"nz"});
  const struct tqt_sym *nz = infer(f, "nz");
  assert_int_equal(nz->dtype, TQT_DTYPE_INT64);
  assert_int_equal(nz->rank, 2);
  assert_ptr_equal(nz->dims[0], num(f, 4));
  assert_non_null(nz->dims[1]);
  assert_false(tqt_sdim_value(nz->dims[1], NULL));
  assert_false(tqt_sdim_named(nz->dims[1]));
}

static void test_unique_outputs_share_one_count(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  add_node(f->m, f->m->graph, "Unique", 1, (const char *[]){"x"}, 4,
           (const char *[]){"u", "first", "inverse", "counts"});
  const struct tqt_sym *u = infer(f, "u"), *first = infer(f, "first");
  const struct tqt_sym *inverse = infer(f, "inverse"), *counts = infer(f, "counts");
  assert_int_equal(u->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(u->rank, 1);
  assert_false(tqt_sdim_named(u->dims[0]));
  assert_ptr_equal(first->dims[0], u->dims[0]);
  assert_ptr_equal(counts->dims[0], u->dims[0]);
  assert_int_equal(counts->dtype, TQT_DTYPE_INT64);
  /* one inverse index per element: 3*N*H*W */
  struct tqt_dimtab *t = tqt_infer_dims(f->inf);
  assert_ptr_equal(inverse->dims[0],
                   tqt_sdim_mul(t, tqt_sdim_mul(t, num(f, 3), sym(f, "N")),
                                tqt_sdim_mul(t, sym(f, "H"), sym(f, "W"))));
}

/* ---- misc ---- */

static void test_topk_of_a_constant_k_sets_the_axis(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  add_int64(f->m, f->m->graph, "k", 1, (int64_t[]){1}, (int64_t[]){2});
  struct tqt_node *n = add_node(f->m, f->m->graph, "TopK", 2, (const char *[]){"x", "k"}, 2,
                                (const char *[]){"values", "indices"});
  tqt_node_attr_add_int(f->m->arena, n, "axis", 1);
  const struct tqt_sym *v = infer(f, "values"), *ix = infer(f, "indices");
  assert_int_equal(v->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(ix->dtype, TQT_DTYPE_INT64);
  assert_ptr_equal(v->dims[1], num(f, 2));
  assert_ptr_equal(ix->dims[3], sym(f, "W"));
}

static void test_sequence_ops_keep_the_element_type(void **state) {
  struct fixture *f = *state;
  add_image_input(f->m);
  add_node(f->m, f->m->graph, "SequenceConstruct", 2, (const char *[]){"x", "x"}, 1,
           (const char *[]){"seq"});
  add_int64(f->m, f->m->graph, "pos", 0, NULL, (int64_t[]){0});
  add_node(f->m, f->m->graph, "SequenceAt", 2, (const char *[]){"seq", "pos"}, 1,
           (const char *[]){"item"});
  add_node(f->m, f->m->graph, "SequenceLength", 1, (const char *[]){"seq"}, 1,
           (const char *[]){"len"});
  const struct tqt_sym *seq = infer(f, "seq"), *item = infer(f, "item"), *len = infer(f, "len");
  assert_int_equal(seq->kind, TQT_SYM_KIND_SEQUENCE);
  assert_int_equal(seq->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(item->kind, TQT_SYM_KIND_TENSOR);
  assert_int_equal(item->dtype, TQT_DTYPE_FLOAT);
  assert_false(item->has_rank);
  assert_int_equal(len->dtype, TQT_DTYPE_INT64);
  assert_int_equal(len->rank, 0);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      TEST(test_gather_of_a_static_dim_gives_its_value),
      TEST(test_gather_of_a_symbolic_dim_gives_its_symbol),
      TEST(test_gather_of_a_negative_index_counts_from_the_back),
      TEST(test_gather_along_an_axis_puts_the_indices_dims_there),
      TEST(test_if_on_an_unknown_condition_joins_its_branches),
      TEST(test_if_on_a_proven_condition_takes_its_branch),
      TEST(test_loop_carrying_a_growing_tensor_ends_with_an_unknown_dim),
      TEST(test_loop_carrying_a_steady_tensor_keeps_its_shape),
      TEST(test_loop_scan_output_stacks_a_constant_trip_count),
      TEST(test_scan_slices_its_input_and_stacks_its_output),
      TEST(test_lstm_outputs_follow_symbolic_sequence_and_batch),
      TEST(test_lstm_batch_first_layout_puts_the_batch_in_front),
      TEST(test_quantize_linear_takes_its_zero_points_type),
      TEST(test_quantize_linear_without_zero_point_is_uint8),
      TEST(test_nonzero_count_is_a_fresh_symbol),
      TEST(test_unique_outputs_share_one_count),
      TEST(test_topk_of_a_constant_k_sets_the_axis),
      TEST(test_sequence_ops_keep_the_element_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
