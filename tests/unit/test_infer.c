/* Symbolic inference: dim expressions, shape values, and what the passes make of them (a
 * shape-conditioned If folds when, and only when, its condition is proven). */
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
#include "infer_internal.h"
#include "ir.h"
#include "options.h"
#include "passes.h"

/* ---- dim expressions ---- */

struct dims_fixture {
  struct tqt_arena *arena;
  struct tqt_dimtab *t;
};

static int setup_dims(void **state) {
  struct dims_fixture *f = calloc(1, sizeof *f);
  if (!f || !(f->arena = tqt_arena_create()) || !(f->t = infer_dimtab_create(f->arena))) return -1;
  *state = f;
  return 0;
}

static int teardown_dims(void **state) {
  struct dims_fixture *f = *state;
  infer_dimtab_free(f->t);
  tqt_arena_destroy(f->arena);
  free(f);
  return 0;
}

static void test_sdim_equal_expressions_are_one_pointer(void **state) {
  struct tqt_dimtab *t = ((struct dims_fixture *)*state)->t;
  tqt_sdim h = tqt_sdim_symbol(t, "H"), w = tqt_sdim_symbol(t, "W");
  assert_ptr_equal(tqt_sdim_mul(t, h, w), tqt_sdim_mul(t, w, h));
  assert_ptr_equal(tqt_sdim_add(t, h, tqt_sdim_const(t, 2)),
                   tqt_sdim_add(t, tqt_sdim_const(t, 1), tqt_sdim_add(t, tqt_sdim_const(t, 1), h)));
  assert_ptr_equal(tqt_sdim_sub(t, h, h), tqt_sdim_const(t, 0));
  assert_ptr_not_equal(h, w);
  assert_int_equal(tqt_sdim_equal(h, w), -1);
  assert_int_equal(tqt_sdim_equal(tqt_sdim_const(t, 3), tqt_sdim_const(t, 4)), 0);
}

static void test_sdim_floor_division_keeps_the_whole_part(void **state) {
  struct tqt_dimtab *t = ((struct dims_fixture *)*state)->t;
  tqt_sdim h = tqt_sdim_symbol(t, "H"), two = tqt_sdim_const(t, 2);
  /* floor((2H + 1) / 2) = H; ceil(2H / 2) = H */
  tqt_sdim twice = tqt_sdim_mul(t, h, two);
  assert_ptr_equal(tqt_sdim_div_floor(t, tqt_sdim_add(t, twice, tqt_sdim_const(t, 1)), two), h);
  assert_ptr_equal(tqt_sdim_div_ceil(t, twice, two), h);
  /* floor((H - 1) / 2) + 1, the output of a stride-2 conv with pad 1 and kernel 3, stays one
   * expression however it is reached */
  tqt_sdim a = tqt_sdim_add(t, tqt_sdim_div_floor(t, tqt_sdim_sub(t, h, tqt_sdim_const(t, 1)), two),
                            tqt_sdim_const(t, 1));
  tqt_sdim b = tqt_sdim_div_floor(t, tqt_sdim_add(t, h, tqt_sdim_const(t, 1)), two);
  assert_ptr_equal(a, b);
  assert_false(tqt_sdim_value(a, NULL));
  assert_true(tqt_sdim_named(a));
}

static void test_sdim_exact_division_of_products(void **state) {
  struct tqt_dimtab *t = ((struct dims_fixture *)*state)->t;
  tqt_sdim n = tqt_sdim_symbol(t, "N"), h = tqt_sdim_symbol(t, "H"), w = tqt_sdim_symbol(t, "W");
  tqt_sdim total = tqt_sdim_mul(t, tqt_sdim_mul(t, n, tqt_sdim_const(t, 3)), tqt_sdim_mul(t, h, w));
  assert_ptr_equal(tqt_sdim_div_exact(t, total, n), tqt_sdim_mul(t, tqt_sdim_const(t, 3), tqt_sdim_mul(t, h, w)));
  assert_null(tqt_sdim_div_exact(t, total, tqt_sdim_const(t, 2)));
  assert_null(tqt_sdim_div_exact(t, h, w));
}

static void test_sdim_fresh_symbols_are_not_named(void **state) {
  struct tqt_dimtab *t = ((struct dims_fixture *)*state)->t;
  tqt_sdim f = tqt_sdim_fresh(t), g = tqt_sdim_fresh(t);
  assert_ptr_not_equal(f, g);
  assert_false(tqt_sdim_named(tqt_sdim_add(t, f, tqt_sdim_symbol(t, "H"))));
  assert_null(tqt_sdim_add(t, f, NULL));
}

/* ---- models ---- */

static int setup_model(void **state) {
  struct tqt_model *m = tqt_model_create();
  if (!m || tqt_model_opset_set(m, "", 13)) return -1;
  *state = m;
  return 0;
}

static int teardown_model(void **state) {
  tqt_model_destroy(*state);
  return 0;
}

/* Input x of [N, 3, H, W] (symbolic N, H, W). */
static void add_image_input(struct tqt_model *m) {
  int64_t dims[4] = {-1, 3, -1, -1};
  struct tqt_value_info *x = tqt_graph_input_add(m->arena, m->graph, "x", TQT_DTYPE_FLOAT, 4, dims);
  assert_non_null(x);
  x->type->dims[0].param = "N";
  x->type->dims[2].param = "H";
  x->type->dims[3].param = "W";
}

static void add_ints(struct tqt_model *m, const char *name, size_t n, const int64_t *v) {
  int64_t dims[1] = {(int64_t)n};
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, name, TQT_DTYPE_INT64, 1, dims, v));
}

static struct tqt_node *add_node(struct tqt_model *m, struct tqt_graph *g, const char *op,
                                 const char *name, size_t n_in, const char *const *in,
                                 const char *out) {
  struct tqt_node *n = tqt_graph_node_add(m->arena, g, op, name, n_in, in, 1, &out);
  assert_non_null(n);
  return n;
}

/* Shape(x)[from:to], squeezed to a scalar when to == from + 1 and squeeze is set. */
static void add_shape_slice(struct tqt_model *m, const char *out, int64_t from, int64_t to) {
  char starts[64], ends[64], shape[64];
  snprintf(starts, sizeof starts, "%s_starts", out);
  snprintf(ends, sizeof ends, "%s_ends", out);
  snprintf(shape, sizeof shape, "%s_shape", out);
  add_ints(m, starts, 1, &from);
  add_ints(m, ends, 1, &to);
  add_node(m, m->graph, "Shape", shape, 1, (const char *[]){"x"}, shape);
  add_node(m, m->graph, "Slice", out, 3, (const char *[]){shape, starts, ends}, out);
}

static const struct tqt_value_info *find_value_info(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_value_info; i++)
    if (!strcmp(g->value_info[i].name, name)) return &g->value_info[i];
  return NULL;
}

static void test_shape_values_flow_through_slice_and_concat(void **state) {
  struct tqt_model *m = *state;
  add_image_input(m);
  add_shape_slice(m, "batch", 0, 1);
  add_ints(m, "minus_one", 1, (int64_t[]){-1});
  add_node(m, m->graph, "Concat", "target", 2, (const char *[]){"batch", "minus_one"}, "target");
  tqt_node_attr_add_int(m->arena, m->graph->nodes[m->graph->n_nodes - 1], "axis", 0);
  add_node(m, m->graph, "Reshape", "flat", 2, (const char *[]){"x", "target"}, "flat");
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "flat", TQT_DTYPE_FLOAT, 0, NULL));
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_infer *inf;
  assert_int_equal(tqt_infer_create(m, &inf, &d), TQT_STATUS_OK);
  struct tqt_dimtab *t = tqt_infer_dims(inf);
  const struct tqt_sym *target = tqt_infer_lookup(inf, m->graph, "target");
  assert_true(target->has_value);
  assert_int_equal(target->n_value, 2);
  assert_ptr_equal(target->value[0], tqt_sdim_symbol(t, "N"));
  const struct tqt_sym *flat = tqt_infer_lookup(inf, m->graph, "flat");
  assert_int_equal(flat->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(flat->rank, 2);
  assert_ptr_equal(flat->dims[0], tqt_sdim_symbol(t, "N"));
  assert_ptr_equal(flat->dims[1], tqt_sdim_mul(t, tqt_sdim_const(t, 3),
                                               tqt_sdim_mul(t, tqt_sdim_symbol(t, "H"),
                                                            tqt_sdim_symbol(t, "W"))));
  tqt_infer_destroy(inf);
}

static void test_broadcast_takes_the_constant_over_a_symbol(void **state) {
  struct tqt_model *m = *state;
  add_image_input(m);
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, "bias", TQT_DTYPE_FLOAT, 3,
                                            (int64_t[]){3, 1, 5}, NULL));
  add_node(m, m->graph, "Add", "add", 2, (const char *[]){"x", "bias"}, "sum");
  add_node(m, m->graph, "Less", "less", 2, (const char *[]){"x", "bias"}, "mask");
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_infer *inf;
  assert_int_equal(tqt_infer_create(m, &inf, &d), TQT_STATUS_OK);
  struct tqt_dimtab *t = tqt_infer_dims(inf);
  const struct tqt_sym *sum = tqt_infer_lookup(inf, m->graph, "sum");
  assert_int_equal(sum->rank, 4);
  assert_ptr_equal(sum->dims[0], tqt_sdim_symbol(t, "N"));
  assert_ptr_equal(sum->dims[1], tqt_sdim_const(t, 3));
  assert_ptr_equal(sum->dims[2], tqt_sdim_symbol(t, "H"));
  assert_ptr_equal(sum->dims[3], tqt_sdim_const(t, 5)); /* W must be 1 or 5: the result is 5 */
  assert_int_equal(tqt_infer_lookup(inf, m->graph, "mask")->dtype, TQT_DTYPE_BOOL);
  tqt_infer_destroy(inf);
}

static void test_reshape_to_an_unknown_shape_keeps_the_rank_only(void **state) {
  struct tqt_model *m = *state;
  int64_t dims[1] = {3};
  add_image_input(m);
  assert_non_null(tqt_graph_input_add(m->arena, m->graph, "shape", TQT_DTYPE_INT64, 1, dims));
  add_node(m, m->graph, "Reshape", "r", 2, (const char *[]){"x", "shape"}, "y");
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_infer *inf;
  assert_int_equal(tqt_infer_create(m, &inf, &d), TQT_STATUS_OK);
  const struct tqt_sym *y = tqt_infer_lookup(inf, m->graph, "y");
  assert_true(y->has_rank);
  assert_int_equal(y->rank, 3);
  for (size_t i = 0; i < 3; i++) assert_null(y->dims[i]);
  tqt_infer_destroy(inf);
}

/* An If on Shape(x)[1] == c with branches Relu(x) and Neg(x). */
static void add_shape_if(struct tqt_model *m, int64_t from, int64_t c) {
  add_image_input(m);
  add_shape_slice(m, "dim", from, from + 1);
  add_ints(m, "c", 1, &c);
  add_node(m, m->graph, "Equal", "eq", 2, (const char *[]){"dim", "c"}, "cond1");
  add_ints(m, "axes", 1, (int64_t[]){0});
  add_node(m, m->graph, "Squeeze", "sq", 2, (const char *[]){"cond1", "axes"}, "cond");
  struct tqt_node *n = add_node(m, m->graph, "If", "if", 1, (const char *[]){"cond"}, "y");
  const char *names[2] = {"then_branch", "else_branch"}, *ops[2] = {"Relu", "Neg"};
  for (int b = 0; b < 2; b++) {
    struct tqt_attr *at = tqt_node_attr_add(m->arena, n, names[b], TQT_ATTR_TYPE_GRAPH);
    assert_non_null(at);
    at->g = tqt_graph_create(m->arena, names[b], m->graph);
    char out[32];
    snprintf(out, sizeof out, "%s_out", ops[b]);
    add_node(m, at->g, ops[b], ops[b], 1, (const char *[]){"x"}, out);
    assert_non_null(tqt_graph_output_add(m->arena, at->g, out, TQT_DTYPE_FLOAT, 0, NULL));
    at->g->outputs[0].type = NULL;
  }
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "y", TQT_DTYPE_FLOAT, 0, NULL));
  m->graph->outputs[0].type = NULL;
}

static size_t count_op(const struct tqt_graph *g, const char *op) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_nodes; i++) n += !strcmp(g->nodes[i]->op_type, op);
  return n;
}

static void test_if_on_a_static_dim_folds(void **state) {
  struct tqt_model *m = *state;
  add_shape_if(m, 1, 3);
  struct tqt_options o = {0};
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  assert_int_equal(tqt_passes_run(m, &o, &d), TQT_STATUS_OK);
  assert_int_equal(count_op(m->graph, "If"), 0);
  assert_int_equal(count_op(m->graph, "Relu"), 1);
  assert_int_equal(count_op(m->graph, "Neg"), 0);
}

static void test_if_on_a_symbolic_dim_stays(void **state) {
  struct tqt_model *m = *state;
  add_shape_if(m, 2, 224); /* H == 224: not proven either way */
  struct tqt_options o = {0};
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  assert_int_equal(tqt_passes_run(m, &o, &d), TQT_STATUS_OK);
  assert_int_equal(count_op(m->graph, "If"), 1);
  /* Its output: both branches keep x's shape, so that much is proven. */
  assert_non_null(m->graph->outputs[0].type);
  assert_int_equal(m->graph->outputs[0].type->elem_type, TQT_DTYPE_FLOAT);
}

static void test_value_info_writes_symbols_and_leaves_unknowns_unset(void **state) {
  struct tqt_model *m = *state;
  add_image_input(m);
  add_node(m, m->graph, "Relu", "relu", 1, (const char *[]){"x"}, "r");
  add_node(m, m->graph, "Flatten", "flat", 1, (const char *[]){"r"}, "f");
  add_node(m, m->graph, "NonZero", "nz", 1, (const char *[]){"f"}, "idx");
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "idx", TQT_DTYPE_INT64, 0, NULL));
  m->graph->outputs[0].type = NULL;
  struct tqt_options o = {0};
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  assert_int_equal(tqt_passes_run(m, &o, &d), TQT_STATUS_OK);
  const struct tqt_value_info *r = find_value_info(m->graph, "r");
  assert_non_null(r);
  assert_int_equal(r->type->rank, 4);
  assert_string_equal(r->type->dims[0].param, "N");
  assert_true(r->type->dims[1].has_value);
  assert_int_equal(r->type->dims[1].value, 3);
  const struct tqt_value_info *f = find_value_info(m->graph, "f");
  assert_non_null(f);
  assert_string_equal(f->type->dims[0].param, "N");
  assert_non_null(f->type->dims[1].param); /* 3*H*W */
  assert_non_null(strstr(f->type->dims[1].param, "H"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sdim_equal_expressions_are_one_pointer, setup_dims,
                                      teardown_dims),
      cmocka_unit_test_setup_teardown(test_sdim_floor_division_keeps_the_whole_part, setup_dims,
                                      teardown_dims),
      cmocka_unit_test_setup_teardown(test_sdim_exact_division_of_products, setup_dims,
                                      teardown_dims),
      cmocka_unit_test_setup_teardown(test_sdim_fresh_symbols_are_not_named, setup_dims,
                                      teardown_dims),
      cmocka_unit_test_setup_teardown(test_shape_values_flow_through_slice_and_concat, setup_model,
                                      teardown_model),
      cmocka_unit_test_setup_teardown(test_broadcast_takes_the_constant_over_a_symbol, setup_model,
                                      teardown_model),
      cmocka_unit_test_setup_teardown(test_reshape_to_an_unknown_shape_keeps_the_rank_only,
                                      setup_model, teardown_model),
      cmocka_unit_test_setup_teardown(test_if_on_a_static_dim_folds, setup_model, teardown_model),
      cmocka_unit_test_setup_teardown(test_if_on_a_symbolic_dim_stays, setup_model, teardown_model),
      cmocka_unit_test_setup_teardown(test_value_info_writes_symbols_and_leaves_unknowns_unset,
                                      setup_model, teardown_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
