/* widen_float16 on models built in memory: what becomes float32, what keeps float16 (the main
 * graph's inputs and outputs, bridged by Casts), when the pass stays away, and how it fails.
 * (That a widened and quantized model runs in ONNX Runtime as onnx-tqt runs it is checked by
 * tests/quant/float16.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "interp.h"
#include "passes.h"

/* A float16 tensor of n values. */
static struct tqt_tensor *f16_tensor(struct tqt_arena *a, const char *name, size_t n,
                                     const float *v) {
  uint16_t bits[8];
  assert_true(n <= 8);
  for (size_t i = 0; i < n; i++) bits[i] = tqt_f32_to_f16(v[i]);
  int64_t dims[1] = {(int64_t)n};
  struct tqt_tensor *t = tqt_tensor_create(a, name, TQT_DTYPE_FLOAT16, 1, dims, bits);
  assert_non_null(t);
  return t;
}

static struct tqt_node *node(struct tqt_model *m, struct tqt_graph *g, const char *op,
                             const char *in0, const char *in1, const char *out) {
  const char *ins[2] = {in0, in1}, *outs[1] = {out};
  struct tqt_node *n = tqt_graph_node_add(m->arena, g, op, out, in1 ? 2 : in0 ? 1 : 0, ins, 1, outs);
  assert_non_null(n);
  return n;
}

static void tensor_attr(struct tqt_model *m, struct tqt_node *n, const char *name,
                        struct tqt_tensor *t) {
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, name, TQT_ATTR_TYPE_TENSOR);
  assert_non_null(at);
  at->t = t;
}

static int widen(struct tqt_model *m, bool keep, struct tqt_diag *d) {
  struct tqt_options o = {.keep_float16 = keep};
  memset(d, 0, sizeof *d);
  d->verbosity = TQT_VERBOSITY_QUIET;
  return pass_widen_float16(m, &o, d);
}

static float f32_at(const struct tqt_tensor *t, size_t i) {
  assert_int_equal(t->dtype, TQT_DTYPE_FLOAT);
  return ((const float *)t->data)[i];
}

/* A model with input x [2] of dtype. */
static struct tqt_model *model_x(int32_t dtype) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  int64_t two[1] = {2};
  assert_non_null(tqt_graph_input_add(m->arena, m->graph, "x", dtype, 1, two));
  return m;
}

static void output_add(struct tqt_model *m, const char *name) {
  int64_t two[1] = {2};
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, name, TQT_DTYPE_FLOAT16, 1, two));
}

/* x, y: float16 [2]. s = x + w; y = Cast<float16>(s * Constant) + ConstantOfShape, and an If
 * whose branches hold float16 constants. */
static struct tqt_model *model_f16(void) {
  struct tqt_model *m = model_x(TQT_DTYPE_FLOAT16);
  struct tqt_arena *a = m->arena;
  struct tqt_graph *g = m->graph;
  m->has_ir_version = true;
  m->ir_version = 8;
  assert_int_equal(tqt_model_opset_set(m, "", 13), 0);
  int64_t two[1] = {2}, one[1] = {1}, shape[1] = {2};
  const float w[2] = {1.5f, -2}, c[1] = {0.25f}, k[1] = {3};
  struct tqt_tensor *wt = f16_tensor(a, "w", 2, w);
  assert_non_null(tqt_graph_initializer_add(a, g, "w", wt->dtype, 1, two, wt->data));
  assert_non_null(tqt_graph_initializer_add(a, g, "shape", TQT_DTYPE_INT64, 1, one, shape));
  node(m, g, "Add", "x", "w", "s");
  tensor_attr(m, node(m, g, "Constant", NULL, NULL, "c"), "value", f16_tensor(a, "", 1, c));
  node(m, g, "Mul", "s", "c", "p");
  assert_int_equal(tqt_node_attr_add_int(a, node(m, g, "Cast", "p", NULL, "q"), "to", 10), 0);
  tensor_attr(m, node(m, g, "ConstantOfShape", "shape", NULL, "k"), "value",
              f16_tensor(a, "", 1, k));
  struct tqt_node *n_if = node(m, g, "If", "cond", NULL, "branch");
  for (int b = 0; b < 2; b++) {
    struct tqt_graph *body = tqt_graph_create(a, b ? "else" : "then", g);
    struct tqt_attr *at = tqt_node_attr_add(a, n_if, b ? "else_branch" : "then_branch",
                                            TQT_ATTR_TYPE_GRAPH);
    assert_true(body && at);
    at->g = body;
    struct tqt_tensor *kt = f16_tensor(a, "", 1, k);
    assert_non_null(tqt_graph_initializer_add(a, body, "kb", kt->dtype, 1, two, kt->data));
    assert_non_null(tqt_graph_output_add(a, body, "kb", TQT_DTYPE_FLOAT16, 1, two));
  }
  assert_non_null(tqt_graph_initializer_add(a, g, "cond", TQT_DTYPE_BOOL, 0, NULL, NULL));
  node(m, g, "Add", "q", "k", "y");
  output_add(m, "y");
  /* s: float16 [2], as an exporter writes it */
  assert_non_null(g->value_info = tqt_arena_calloc(a, 1, sizeof *g->value_info));
  g->value_info[0] = (struct tqt_value_info){
      .name = "s", .type = tqt_type_tensor_create(a, TQT_DTYPE_FLOAT16, 1, two)};
  g->n_value_info = g->cap_value_info = 1;
  return m;
}

static const struct tqt_node *op_of(const struct tqt_graph *g, const char *output) {
  for (size_t i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i]->outputs[0], output) == 0) return g->nodes[i];
  fail_msg("no node writes '%s'", output);
  return NULL;
}

static void test_float16_inside_becomes_float32(void **state) {
  (void)state;
  struct tqt_model *m = model_f16();
  struct tqt_graph *g = m->graph;
  struct tqt_diag d;
  /* w, Constant, ConstantOfShape, two branch constants; value_info s, two branch outputs;
   * Cast's to; two interface Casts */
  assert_int_equal(widen(m, false, &d), 5 + 3 + 1 + 2);
  assert_float_equal(f32_at(g->initializers[0], 1), -2, 0);
  assert_float_equal(f32_at(tqt_node_attr_find(op_of(g, "c"), "value")->t, 0), 0.25, 0);
  assert_float_equal(f32_at(tqt_node_attr_find(op_of(g, "k"), "value")->t, 0), 3, 0);
  assert_int_equal(tqt_attr_int(op_of(g, "q"), "to", 0), TQT_DTYPE_FLOAT);
  assert_int_equal(g->value_info[0].type->elem_type, TQT_DTYPE_FLOAT);
  const struct tqt_graph *then = tqt_node_attr_find(op_of(g, "branch"), "then_branch")->g;
  assert_float_equal(f32_at(then->initializers[0], 0), 3, 0);
  assert_int_equal(then->outputs[0].type->elem_type, TQT_DTYPE_FLOAT);
  tqt_model_destroy(m);
}

static void test_interface_keeps_float16_through_casts(void **state) {
  (void)state;
  struct tqt_model *m = model_f16();
  struct tqt_graph *g = m->graph;
  struct tqt_diag d;
  assert_true(widen(m, false, &d) > 0);
  assert_int_equal(g->inputs[0].type->elem_type, TQT_DTYPE_FLOAT16);
  assert_int_equal(g->outputs[0].type->elem_type, TQT_DTYPE_FLOAT16);
  const struct tqt_node *first = g->nodes[0], *last = g->nodes[g->n_nodes - 1];
  assert_string_equal(first->op_type, "Cast");
  assert_string_equal(first->inputs[0], "x");
  assert_string_equal(first->outputs[0], "x_float32");
  assert_int_equal(tqt_attr_int(first, "to", 0), TQT_DTYPE_FLOAT);
  assert_string_equal(op_of(g, "s")->inputs[0], "x_float32");
  assert_string_equal(last->op_type, "Cast");
  assert_string_equal(last->inputs[0], "y_float32");
  assert_string_equal(last->outputs[0], "y");
  assert_int_equal(tqt_attr_int(last, "to", 0), TQT_DTYPE_FLOAT16);
  assert_string_equal(op_of(g, "y_float32")->op_type, "Add");
  tqt_model_destroy(m);
}

static void test_an_output_that_is_an_input_stays_as_it_is(void **state) {
  (void)state;
  struct tqt_model *m = model_x(TQT_DTYPE_FLOAT16);
  struct tqt_diag d;
  node(m, m->graph, "Relu", "x", NULL, "y");
  output_add(m, "x");
  output_add(m, "y");
  assert_int_equal(widen(m, false, &d), 2); /* a Cast after x, one before y */
  assert_string_equal(m->graph->outputs[0].name, "x");
  assert_int_equal(m->graph->n_nodes, 3);
  tqt_model_destroy(m);
}

static void test_a_float32_input_with_a_float16_output_gets_one_cast(void **state) {
  (void)state;
  struct tqt_model *m = model_x(TQT_DTYPE_FLOAT);
  struct tqt_diag d;
  assert_int_equal(tqt_node_attr_add_int(m->arena, node(m, m->graph, "Cast", "x", NULL, "y"),
                                         "to", TQT_DTYPE_FLOAT16), 0);
  output_add(m, "y");
  assert_int_equal(widen(m, false, &d), 2); /* the model's Cast, the interface's */
  assert_int_equal(m->graph->n_nodes, 2);
  assert_string_equal(m->graph->nodes[0]->outputs[0], "y_float32");
  assert_int_equal(tqt_attr_int(m->graph->nodes[1], "to", 0), TQT_DTYPE_FLOAT16);
  tqt_model_destroy(m);
}

static void test_keep_float16_changes_nothing(void **state) {
  (void)state;
  struct tqt_model *m = model_f16();
  struct tqt_diag d;
  size_t nodes = m->graph->n_nodes;
  assert_int_equal(widen(m, true, &d), 0);
  assert_int_equal(m->graph->n_nodes, nodes);
  assert_int_equal(m->graph->initializers[0]->dtype, TQT_DTYPE_FLOAT16);
  tqt_model_destroy(m);
}

static void test_float16_without_data_is_an_error_naming_the_tensor(void **state) {
  (void)state;
  struct tqt_model *m = model_f16();
  struct tqt_diag d;
  m->graph->initializers[0]->data = NULL;
  m->graph->initializers[0]->nbytes = 0;
  assert_int_equal(widen(m, false, &d), -1);
  assert_int_equal(d.status, TQT_STATUS_INVALID);
  assert_string_equal(d.msg, "float16 initializer 'w' has 0 bytes of data, its dims need 4");
  tqt_model_destroy(m);
}

static void test_pass_table_runs_widen_float16_right_after_upgrade_opset(void **state) {
  (void)state;
  size_t i = 0;
  while (i < tqt_pass_count && strcmp(tqt_passes[i].name, "upgrade_opset") != 0) i++;
  assert_true(i + 1 < tqt_pass_count);
  assert_ptr_equal(tqt_passes[i + 1].run, pass_widen_float16); /* before any folding */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_float16_inside_becomes_float32),
      cmocka_unit_test(test_interface_keeps_float16_through_casts),
      cmocka_unit_test(test_an_output_that_is_an_input_stays_as_it_is),
      cmocka_unit_test(test_a_float32_input_with_a_float16_output_gets_one_cast),
      cmocka_unit_test(test_keep_float16_changes_nothing),
      cmocka_unit_test(test_float16_without_data_is_an_error_naming_the_tensor),
      cmocka_unit_test(test_pass_table_runs_widen_float16_right_after_upgrade_opset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
