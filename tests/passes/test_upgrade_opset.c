/* upgrade_opset on models built in memory: what each conversion writes, what it refuses and how
 * it says so. (That the converted models compute what the originals did is checked in ONNX
 * Runtime by upgrade_test.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "interp.h"
#include "ir.h"
#include "options.h"
#include "passes.h"

/* ---- building ---- */

static struct tqt_model *model_new(int64_t opset) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  assert_int_equal(tqt_model_opset_set(m, "", opset), 0);
  m->has_ir_version = true;
  m->ir_version = 4;
  return m;
}

/* "a,b,,c" -> names; returns the count. */
static size_t split_names(struct tqt_arena *a, const char *list, const char **names) {
  size_t n = 0;
  if (!list || !*list) return 0;
  for (const char *p = list;; n++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    names[n] = tqt_arena_memdup(a, p, len);
    if (!comma) return n + 1;
    p = comma + 1;
  }
}

static struct tqt_node *node_add(struct tqt_model *m, struct tqt_graph *g, const char *op,
                                 const char *name, const char *ins, const char *outs) {
  const char *in[16], *out[16];
  size_t n_in = split_names(m->arena, ins, in), n_out = split_names(m->arena, outs, out);
  struct tqt_node *n = tqt_graph_node_add(m->arena, g, op, name, n_in, in, n_out, out);
  assert_non_null(n);
  return n;
}

static void input_add(struct tqt_model *m, const char *name, int32_t dtype, size_t rank,
                      const int64_t *dims) {
  assert_non_null(tqt_graph_input_add(m->arena, m->graph, name, dtype, rank, dims));
}

static void input_add_rank_unknown(struct tqt_model *m, const char *name) {
  struct tqt_value_info *vi = tqt_graph_input_add(m->arena, m->graph, name, TQT_DTYPE_FLOAT, 0,
                                                  NULL);
  assert_non_null(vi);
  vi->type->has_shape = false;
}

static void output_add(struct tqt_model *m, const char *name) {
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, name, TQT_DTYPE_FLOAT, 0, NULL));
  m->graph->outputs[m->graph->n_outputs - 1].type->has_shape = false;
}

static void init_add(struct tqt_model *m, const char *name, int32_t dtype, size_t rank,
                     const int64_t *dims, const void *data) {
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, name, dtype, rank, dims, data));
}

static void ints_add(struct tqt_model *m, struct tqt_node *n, const char *name, size_t count,
                     const int64_t *v) {
  assert_int_equal(tqt_node_attr_add_ints(m->arena, n, name, count, v), 0);
}

static int upgrade(struct tqt_model *m, int64_t target, struct tqt_diag *d) {
  struct tqt_options o = {.opset = target};
  memset(d, 0, sizeof *d);
  d->verbosity = TQT_VERBOSITY_QUIET;
  return pass_upgrade_opset(m, &o, d);
}

/* ---- looking ---- */

static struct tqt_node *op_nth(const struct tqt_graph *g, const char *op, int nth) {
  for (size_t i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i]->op_type, op) == 0 && nth-- == 0) return g->nodes[i];
  return NULL;
}

static size_t op_index(const struct tqt_graph *g, const struct tqt_node *n) {
  for (size_t i = 0; i < g->n_nodes; i++)
    if (g->nodes[i] == n) return i;
  fail_msg("node not in graph");
  return 0;
}

static const struct tqt_tensor *init_find(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_initializers; i++)
    if (strcmp(g->initializers[i]->name, name) == 0) return g->initializers[i];
  return NULL;
}

static int64_t init_int(const struct tqt_graph *g, const char *name, size_t i) {
  const struct tqt_tensor *t = init_find(g, name);
  assert_non_null(t);
  assert_int_equal(t->dtype, TQT_DTYPE_INT64);
  assert_true(i < t->nbytes / 8);
  return ((const int64_t *)t->data)[i];
}

static size_t init_count(const struct tqt_graph *g, const char *name) {
  const struct tqt_tensor *t = init_find(g, name);
  assert_non_null(t);
  return (size_t)tqt_tensor_numel(t);
}

static const struct tqt_attr *attr(const struct tqt_node *n, const char *name) {
  return tqt_node_attr_find(n, name);
}

static const char *attr_s(const struct tqt_node *n, const char *name) {
  const struct tqt_attr *at = attr(n, name);
  assert_non_null(at);
  assert_int_equal(at->type, TQT_ATTR_TYPE_STRING);
  return at->s.data;
}

static int64_t attr_i(const struct tqt_node *n, const char *name) {
  const struct tqt_attr *at = attr(n, name);
  assert_non_null(at);
  assert_int_equal(at->type, TQT_ATTR_TYPE_INT);
  return at->i;
}

/* ---- versions and the pass table ---- */

static void test_upgrade_sets_opset_13_and_ir_version_7(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  int64_t dims[2] = {2, 3};
  input_add(m, "x", TQT_DTYPE_FLOAT, 2, dims);
  node_add(m, m->graph, "Relu", "r", "x", "y");
  output_add(m, "y");
  assert_int_equal(upgrade(m, 0, &d), 0); /* Relu keeps its node */
  assert_int_equal(tqt_model_opset(m, ""), 13);
  assert_int_equal(m->ir_version, 7);
  assert_int_equal(m->graph->n_nodes, 1);
  tqt_model_destroy(m);
}

static void test_upgrade_leaves_a_model_at_the_target_alone(void **state) {
  (void)state;
  struct tqt_model *m = model_new(13);
  struct tqt_diag d;
  node_add(m, m->graph, "Foo", "f", "x", "y"); /* not even looked at */
  assert_int_equal(upgrade(m, 0, &d), 0);
  assert_int_equal(tqt_model_opset(m, ""), 13);
  assert_int_equal(m->ir_version, 4);
  tqt_model_destroy(m);
}

static void test_upgrade_to_opset_16_asks_for_ir_version_8(void **state) {
  (void)state;
  struct tqt_model *m = model_new(13);
  struct tqt_diag d;
  node_add(m, m->graph, "Relu", "r", "x", "y");
  assert_int_equal(upgrade(m, 16, &d), 0);
  assert_int_equal(tqt_model_opset(m, ""), 16);
  assert_int_equal(m->ir_version, 8);
  tqt_model_destroy(m);
}

static void test_upgrade_refuses_targets_outside_13_to_21(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  node_add(m, m->graph, "Relu", "r", "x", "y");
  assert_int_equal(upgrade(m, 22, &d), -1);
  assert_int_equal(d.status, TQT_STATUS_UNSUPPORTED);
  assert_non_null(strstr(d.msg, "from opset 9 to 22"));
  assert_int_equal(upgrade(m, 11, &d), -1);
  assert_int_equal(tqt_model_opset(m, ""), 9);
  tqt_model_destroy(m);
}

static void test_pass_table_runs_upgrade_opset_after_inlining_and_before_folding(void **state) {
  (void)state;
  size_t inline_functions = tqt_pass_count, upgrade_opset = tqt_pass_count;
  size_t fold_constants = tqt_pass_count;
  for (size_t i = tqt_pass_count; i-- > 0;) {
    if (strcmp(tqt_passes[i].name, "inline_functions") == 0) inline_functions = i;
    if (strcmp(tqt_passes[i].name, "upgrade_opset") == 0) upgrade_opset = i;
    if (strcmp(tqt_passes[i].name, "fold_constants") == 0) fold_constants = i;
  }
  assert_true(upgrade_opset < tqt_pass_count);
  /* inlined bodies are upgraded with the rest; folding evaluates upgraded nodes */
  assert_true(inline_functions < upgrade_opset);
  assert_true(upgrade_opset < fold_constants);
  assert_ptr_equal(tqt_passes[upgrade_opset].run, pass_upgrade_opset);
}

/* ---- refusals ---- */

static void test_unknown_op_is_refused_naming_node_op_and_versions(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  node_add(m, m->graph, "ImageScaler", "scale0", "x", "y");
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_int_equal(d.status, TQT_STATUS_UNSUPPORTED);
  assert_string_equal(d.msg, "node 'scale0' (ImageScaler): cannot upgrade ImageScaler from opset "
                             "6 to 13: ImageScaler is not an operator of the default domain in "
                             "opsets 1 to 21");
  assert_int_equal(tqt_model_opset(m, ""), 6);
  tqt_model_destroy(m);
}

static void test_op_newer_than_the_model_opset_is_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  node_add(m, m->graph, "Resize", "", "x,s", "y");
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_string_equal(d.msg, "node 'y' (Resize): cannot upgrade Resize from opset 9 to 13: "
                             "Resize does not exist in opset 9 (it came in opset 10)");
  tqt_model_destroy(m);
}

static void test_other_domains_are_left_alone(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "Softmax", "s", "x", "y");
  n->domain = "com.example";
  assert_int_equal(upgrade(m, 0, &d), 0);
  assert_int_equal(m->graph->n_nodes, 1);
  assert_null(attr(n, "axis"));
  tqt_model_destroy(m);
}

/* ---- Softmax, LogSoftmax, Hardmax ---- */

static void test_softmax_along_the_last_axis_keeps_its_node(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11);
  struct tqt_diag d;
  int64_t dims[2] = {4, 10};
  input_add(m, "x", TQT_DTYPE_FLOAT, 2, dims);
  struct tqt_node *n = node_add(m, m->graph, "Softmax", "s", "x", "y"); /* axis 1 = last */
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(m->graph->n_nodes, 1);
  assert_int_equal(attr_i(n, "axis"), -1);
  tqt_model_destroy(m);
}

static void test_softmax_along_a_middle_axis_flattens_and_reshapes_back(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11);
  struct tqt_diag d;
  int64_t dims[4] = {2, 3, 4, 5};
  input_add(m, "x", TQT_DTYPE_FLOAT, 4, dims);
  struct tqt_node *n = node_add(m, m->graph, "LogSoftmax", "s", "x", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "axis", 1), 0);
  node_add(m, m->graph, "Relu", "r", "y", "z");
  output_add(m, "z");
  assert_int_equal(upgrade(m, 0, &d), 1);
  const struct tqt_graph *g = m->graph;
  assert_int_equal(g->n_nodes, 5);
  struct tqt_node *shape = op_nth(g, "Shape", 0), *flatten = op_nth(g, "Flatten", 0),
                  *reshape = op_nth(g, "Reshape", 0);
  assert_non_null(shape);
  assert_non_null(flatten);
  assert_non_null(reshape);
  assert_true(op_index(g, shape) < op_index(g, n) && op_index(g, flatten) < op_index(g, n));
  assert_int_equal(op_index(g, reshape), op_index(g, n) + 1);
  assert_string_equal(shape->inputs[0], "x");
  assert_string_equal(flatten->inputs[0], "x");
  assert_int_equal(attr_i(flatten, "axis"), 1);
  assert_string_equal(n->inputs[0], flatten->outputs[0]);
  assert_int_equal(attr_i(n, "axis"), -1);
  assert_string_equal(reshape->inputs[0], n->outputs[0]);
  assert_string_equal(reshape->inputs[1], shape->outputs[0]);
  assert_string_equal(reshape->outputs[0], "y"); /* readers of y are unchanged */
  assert_string_not_equal(n->outputs[0], "y");
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  tqt_model_destroy(m);
}

static void test_softmax_of_unknown_rank_flattens_unless_axis_is_minus_1(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  input_add_rank_unknown(m, "x");
  node_add(m, m->graph, "Softmax", "a", "x", "y"); /* default axis 1 */
  struct tqt_node *last = node_add(m, m->graph, "Hardmax", "b", "x", "z");
  assert_int_equal(tqt_node_attr_add_int(m->arena, last, "axis", -1), 0);
  assert_int_equal(upgrade(m, 0, &d), 2);
  assert_int_equal(attr_i(op_nth(m->graph, "Flatten", 0), "axis"), 1);
  assert_null(op_nth(m->graph, "Flatten", 1));
  assert_string_equal(last->inputs[0], "x");
  tqt_model_destroy(m);
}

/* ---- legacy broadcasting ---- */

static void test_legacy_broadcast_with_axis_gives_b_trailing_ones(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  int64_t a[4] = {2, 3, 4, 5}, b[2] = {3, 4};
  input_add(m, "a", TQT_DTYPE_FLOAT, 4, a);
  input_add(m, "b", TQT_DTYPE_FLOAT, 2, b);
  struct tqt_node *n = node_add(m, m->graph, "Add", "add", "a,b", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "broadcast", 1), 0);
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "axis", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  struct tqt_node *u = op_nth(m->graph, "Unsqueeze", 0);
  assert_non_null(u);
  assert_string_equal(u->inputs[0], "b");
  assert_int_equal(init_count(m->graph, u->inputs[1]), 1); /* B [3, 4] -> [3, 4, 1] */
  assert_int_equal(init_int(m->graph, u->inputs[1], 0), 2);
  assert_string_equal(n->inputs[1], u->outputs[0]);
  assert_int_equal(n->n_attrs, 0);
  tqt_model_destroy(m);
}

static void test_legacy_broadcast_aligned_at_the_end_only_drops_attributes(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  int64_t a[2] = {2, 3}, b[1] = {3};
  input_add(m, "a", TQT_DTYPE_FLOAT, 2, a);
  input_add(m, "b", TQT_DTYPE_FLOAT, 1, b);
  struct tqt_node *n = node_add(m, m->graph, "Pow", "p", "a,b", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "broadcast", 1), 0);
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "axis", 1), 0); /* 2 - 1 - 1 = 0 */
  struct tqt_node *k = node_add(m, m->graph, "Mul", "m", "a,b", "z");
  assert_int_equal(tqt_node_attr_add_int(m->arena, k, "broadcast", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), 2);
  assert_int_equal(m->graph->n_nodes, 2);
  assert_int_equal(n->n_attrs, 0);
  assert_int_equal(k->n_attrs, 0);
  tqt_model_destroy(m);
}

static void test_legacy_broadcast_of_unknown_rank_reshapes_b_at_run_time(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  int64_t b[1] = {3};
  input_add_rank_unknown(m, "a");
  input_add(m, "b", TQT_DTYPE_FLOAT, 1, b);
  struct tqt_node *n = node_add(m, m->graph, "Div", "div", "a,b", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "broadcast", 1), 0);
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "axis", 0), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  struct tqt_node *r = op_nth(m->graph, "Reshape", 0);
  assert_non_null(r);
  assert_string_equal(r->inputs[0], "b");
  assert_string_equal(n->inputs[1], r->outputs[0]);
  assert_non_null(op_nth(m->graph, "ConstantOfShape", 0));
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  tqt_model_destroy(m);
}

static void test_legacy_broadcast_that_does_not_fit_is_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  int64_t a[2] = {2, 3}, b[2] = {3, 4};
  input_add(m, "a", TQT_DTYPE_FLOAT, 2, a);
  input_add(m, "b", TQT_DTYPE_FLOAT, 2, b);
  struct tqt_node *n = node_add(m, m->graph, "Sub", "sub", "a,b", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "broadcast", 1), 0);
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "axis", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "node 'sub' (Sub): cannot upgrade Sub from opset 6 to 13: B of "
                                "rank 2 does not fit into A of rank 2 at axis 1"));
  tqt_model_destroy(m);
}

static void test_prelu_channel_slope_gets_trailing_ones(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  int64_t x[4] = {2, 3, 4, 5}, c[1] = {3};
  float slope[3] = {0.1f, 0.2f, 0.3f};
  input_add(m, "x", TQT_DTYPE_FLOAT, 4, x);
  init_add(m, "s", TQT_DTYPE_FLOAT, 1, c, slope);
  struct tqt_node *n = node_add(m, m->graph, "PRelu", "p", "x,s", "y");
  assert_int_equal(upgrade(m, 0, &d), 1);
  struct tqt_node *u = op_nth(m->graph, "Unsqueeze", 0);
  assert_non_null(u);
  assert_int_equal(init_count(m->graph, u->inputs[1]), 2);
  assert_int_equal(init_int(m->graph, u->inputs[1], 0), 1);
  assert_int_equal(init_int(m->graph, u->inputs[1], 1), 2);
  assert_string_equal(n->inputs[1], u->outputs[0]);
  tqt_model_destroy(m);
}

/* ---- attributes that became inputs ---- */

static void test_clip_bounds_become_scalars_of_the_input_type(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  int64_t dims[1] = {8};
  input_add(m, "x", TQT_DTYPE_DOUBLE, 1, dims);
  input_add(m, "h", TQT_DTYPE_FLOAT16, 1, dims);
  struct tqt_node *c = node_add(m, m->graph, "Clip", "c", "x", "y");
  assert_int_equal(tqt_node_attr_add_float(m->arena, c, "max", 0.5f), 0);
  struct tqt_node *e = node_add(m, m->graph, "Clip", "e", "h", "z");
  assert_int_equal(tqt_node_attr_add_float(m->arena, e, "min", -2), 0);
  assert_int_equal(upgrade(m, 0, &d), 2);
  assert_int_equal(c->n_inputs, 3);
  assert_string_equal(c->inputs[1], "");
  const struct tqt_tensor *max = init_find(m->graph, c->inputs[2]);
  assert_non_null(max);
  assert_int_equal(max->dtype, TQT_DTYPE_DOUBLE);
  assert_int_equal(max->rank, 0);
  assert_true(*(const double *)max->data == 0.5);
  assert_int_equal(e->n_inputs, 2);
  const struct tqt_tensor *min = init_find(m->graph, e->inputs[1]);
  assert_int_equal(min->dtype, TQT_DTYPE_FLOAT16);
  assert_int_equal(*(const uint16_t *)min->data, tqt_f32_to_f16(-2));
  assert_int_equal(c->n_attrs + e->n_attrs, 0);
  tqt_model_destroy(m);
}

static void test_pad_pads_and_value_become_inputs_and_mode_stays(void **state) {
  (void)state;
  struct tqt_model *m = model_new(1);
  struct tqt_diag d;
  int64_t dims[2] = {2, 3}, paddings[4] = {1, 0, 0, 2};
  input_add(m, "x", TQT_DTYPE_FLOAT, 2, dims);
  struct tqt_node *n = node_add(m, m->graph, "Pad", "pad", "x", "y");
  ints_add(m, n, "paddings", 4, paddings);
  assert_int_equal(tqt_node_attr_add_float(m->arena, n, "value", 2), 0);
  assert_int_equal(tqt_node_attr_add_string(m->arena, n, "mode", "constant"), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(n->n_inputs, 3);
  assert_int_equal(init_count(m->graph, n->inputs[1]), 4);
  assert_int_equal(init_int(m->graph, n->inputs[1], 3), 2);
  assert_true(*(const float *)init_find(m->graph, n->inputs[2])->data == 2);
  assert_int_equal(n->n_attrs, 1);
  assert_string_equal(attr_s(n, "mode"), "constant");
  tqt_model_destroy(m);
}

static void test_slice_starts_ends_axes_become_inputs(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  int64_t starts[1] = {1}, ends[1] = {-1}, axes[1] = {2};
  struct tqt_node *n = node_add(m, m->graph, "Slice", "slice", "x", "y");
  ints_add(m, n, "starts", 1, starts);
  ints_add(m, n, "ends", 1, ends);
  ints_add(m, n, "axes", 1, axes);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(n->n_inputs, 4);
  assert_int_equal(init_int(m->graph, n->inputs[1], 0), 1);
  assert_int_equal(init_int(m->graph, n->inputs[2], 0), -1);
  assert_int_equal(init_int(m->graph, n->inputs[3], 0), 2);
  assert_int_equal(n->n_attrs, 0);
  tqt_model_destroy(m);
}

static void test_topk_k_becomes_a_one_element_input(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "TopK", "topk", "x", "v,i");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "k", 3), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(init_count(m->graph, n->inputs[1]), 1);
  assert_int_equal(init_int(m->graph, n->inputs[1], 0), 3);
  assert_null(attr(n, "k"));
  tqt_model_destroy(m);
}

static void test_axes_and_split_attributes_become_inputs(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11);
  struct tqt_diag d;
  int64_t axes[2] = {0, -1}, split[2] = {2, 4}, none[1] = {0};
  struct tqt_node *u = node_add(m, m->graph, "Unsqueeze", "u", "x", "a");
  ints_add(m, u, "axes", 2, axes);
  struct tqt_node *s = node_add(m, m->graph, "Squeeze", "s", "a", "b"); /* no axes: all 1-dims */
  struct tqt_node *p = node_add(m, m->graph, "Split", "p", "b", "c,e");
  ints_add(m, p, "split", 2, split);
  struct tqt_node *r = node_add(m, m->graph, "ReduceSum", "r", "c", "f");
  ints_add(m, r, "axes", 0, none); /* an empty list reduces everything, as no input does */
  assert_int_equal(upgrade(m, 0, &d), 3);
  assert_int_equal(init_count(m->graph, u->inputs[1]), 2);
  assert_int_equal(init_int(m->graph, u->inputs[1], 1), -1);
  assert_int_equal(s->n_inputs, 1);
  assert_int_equal(init_int(m->graph, p->inputs[1], 1), 4);
  assert_int_equal(r->n_inputs, 1);
  assert_null(attr(r, "axes"));
  tqt_model_destroy(m);
}

/* Opsets 18 to 21: the other Reduce ops take axes as an input, Split names its parts in
 * num_outputs, DFT takes its axis as an input (whose default changed), GridSample renames its
 * modes, GroupNormalization-18's per-group scale is refused; IR version 10. */
static void test_opset_21_rules(void **state) {
  (void)state;
  struct tqt_model *m = model_new(17);
  struct tqt_diag d;
  int64_t axes[1] = {1}, none[1] = {0};
  struct tqt_node *r = node_add(m, m->graph, "ReduceMean", "r", "x", "a");
  ints_add(m, r, "axes", 1, axes);
  struct tqt_node *e = node_add(m, m->graph, "ReduceMax", "e", "a", "b");
  ints_add(m, e, "axes", 0, none); /* empty: everything, as without the input */
  struct tqt_node *p = node_add(m, m->graph, "Split", "p", "b", "c,f,g");
  struct tqt_node *q = node_add(m, m->graph, "Split", "q", "c,s", "h,i"); /* lengths given */
  node_add(m, m->graph, "Relu", "", "i", "k");
  struct tqt_node *f = node_add(m, m->graph, "DFT", "f", "h", "j"); /* axis 1 by default */
  struct tqt_node *gs = node_add(m, m->graph, "GridSample", "gs", "j,k", "l");
  assert_int_equal(tqt_node_attr_add_string(m->arena, gs, "mode", "bicubic"), 0);
  assert_int_equal(upgrade(m, 21, &d), 5);
  assert_int_equal(m->ir_version, 10);
  assert_int_equal(init_int(m->graph, r->inputs[1], 0), 1);
  assert_null(attr(r, "axes"));
  assert_int_equal(e->n_inputs, 1);
  assert_null(attr(e, "axes"));
  assert_int_equal(attr_i(p, "num_outputs"), 3);
  assert_null(attr(q, "num_outputs"));
  assert_int_equal(f->n_inputs, 3);
  assert_int_equal(init_int(m->graph, f->inputs[2], 0), 1);
  assert_string_equal(attr_s(gs, "mode"), "cubic");
  tqt_model_destroy(m);

  m = model_new(18);
  node_add(m, m->graph, "GroupNormalization", "gn", "x,scale,bias", "y");
  assert_int_equal(upgrade(m, 21, &d), -1);
  assert_non_null(strstr(d.msg, "node 'gn' (GroupNormalization): cannot upgrade GroupNormalization "
                                "from opset 18 to 21: scale and bias are per group"));
  tqt_model_destroy(m);
}

static void test_reshape_shape_becomes_an_input(void **state) {
  (void)state;
  struct tqt_model *m = model_new(4);
  struct tqt_diag d;
  int64_t shape[2] = {3, -1}, consumed[1] = {0};
  struct tqt_node *n = node_add(m, m->graph, "Reshape", "r", "x", "y");
  ints_add(m, n, "shape", 2, shape);
  ints_add(m, n, "consumed_inputs", 1, consumed);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(init_int(m->graph, n->inputs[1], 1), -1);
  assert_int_equal(n->n_attrs, 0);
  tqt_model_destroy(m);
}

static void test_new_inputs_never_reuse_an_existing_name(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11);
  struct tqt_diag d;
  int64_t axes[1] = {0};
  node_add(m, m->graph, "Relu", "r", "x", "y/axes");
  struct tqt_node *u = node_add(m, m->graph, "Unsqueeze", "", "y/axes", "y");
  ints_add(m, u, "axes", 1, axes);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_string_equal(u->inputs[0], "y/axes");
  assert_string_equal(u->inputs[1], "y/axes_1");
  assert_non_null(init_find(m->graph, "y/axes_1"));
  tqt_model_destroy(m);
}

static void test_subgraph_nodes_get_their_constants_in_their_own_graph(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11);
  struct tqt_diag d;
  int64_t axes[1] = {0};
  struct tqt_node *loop = node_add(m, m->graph, "Loop", "loop", "n,,x", "acc");
  struct tqt_graph *body = tqt_graph_create(m->arena, "body", m->graph);
  assert_non_null(body);
  assert_non_null(tqt_graph_input_add(m->arena, body, "i", TQT_DTYPE_INT64, 0, NULL));
  assert_non_null(tqt_graph_input_add(m->arena, body, "c", TQT_DTYPE_BOOL, 0, NULL));
  assert_non_null(tqt_graph_input_add(m->arena, body, "a", TQT_DTYPE_FLOAT, 0, NULL));
  node_add(m, body, "Identity", "id", "c", "c_out");
  struct tqt_node *u = node_add(m, body, "Unsqueeze", "u", "a", "b");
  ints_add(m, u, "axes", 1, axes);
  struct tqt_node *q = node_add(m, body, "Squeeze", "q", "b", "a_out");
  ints_add(m, q, "axes", 1, axes);
  struct tqt_attr *at = tqt_node_attr_add(m->arena, loop, "body", TQT_ATTR_TYPE_GRAPH);
  assert_non_null(at);
  at->g = body;
  assert_int_equal(upgrade(m, 0, &d), 2);
  assert_int_equal(m->graph->n_initializers, 0);
  assert_int_equal(body->n_initializers, 2);
  assert_int_equal(init_int(body, u->inputs[1], 0), 0);
  tqt_model_destroy(m);
}

static void test_function_bodies_get_constant_nodes_and_the_target_opset(void **state) {
  (void)state;
  struct tqt_model *m = model_new(13); /* the main graph needs nothing */
  struct tqt_diag d;
  struct tqt_graph *scratch = tqt_graph_create(m->arena, "scratch", NULL);
  int64_t axes[1] = {1};
  struct tqt_node *u = node_add(m, scratch, "Unsqueeze", "u", "fx", "a");
  ints_add(m, u, "axes", 1, axes);
  struct tqt_node *s = node_add(m, scratch, "Squeeze", "s", "a", "fy");
  struct tqt_attr *ref = tqt_node_attr_add(m->arena, s, "axes", TQT_ATTR_TYPE_INTS);
  assert_non_null(ref);
  ref->ref_attr_name = "which";
  struct tqt_function *fn = tqt_arena_calloc(m->arena, 1, sizeof *fn);
  struct tqt_opset *opset = tqt_arena_calloc(m->arena, 1, sizeof *opset);
  assert_non_null(fn);
  assert_non_null(opset);
  *opset = (struct tqt_opset){"", 11};
  fn->name = "F";
  fn->domain = "local";
  fn->opsets = opset;
  fn->n_opsets = 1;
  fn->nodes = scratch->nodes;
  fn->n_nodes = scratch->n_nodes;
  fn->cap_nodes = scratch->cap_nodes;
  assert_int_equal(tqt_arena_reserve(m->arena, (void **)&m->functions, &m->cap_functions, 1,
                                     sizeof *m->functions),
                   0);
  m->functions[m->n_functions++] = fn;
  assert_int_equal(upgrade(m, 0, &d), 2);
  assert_int_equal(opset->version, 13);
  assert_int_equal(fn->n_nodes, 4);
  struct tqt_node *c0 = fn->nodes[0], *c2 = fn->nodes[2];
  assert_string_equal(c0->op_type, "Constant");
  assert_string_equal(c0->outputs[0], u->inputs[1]);
  assert_non_null(attr(c0, "value"));
  assert_string_equal(c2->op_type, "Constant");
  assert_string_equal(c2->outputs[0], s->inputs[1]);
  const struct tqt_attr *fwd = attr(c2, "value_ints");
  assert_non_null(fwd);
  assert_string_equal(fwd->ref_attr_name, "which");
  assert_ptr_equal(fn->nodes[1], u);
  assert_ptr_equal(fn->nodes[3], s);
  tqt_model_destroy(m);
}

/* ---- ops whose semantics changed ---- */

static void test_cast_to_by_name_becomes_the_type_number(void **state) {
  (void)state;
  struct tqt_model *m = model_new(5);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "Cast", "c", "x", "y");
  assert_int_equal(tqt_node_attr_add_string(m->arena, n, "to", "int64"), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(attr_i(n, "to"), TQT_DTYPE_INT64);
  tqt_model_destroy(m);
}

static void test_old_defaults_are_written_out(void **state) {
  (void)state;
  struct tqt_model *m = model_new(3);
  struct tqt_diag d;
  struct tqt_node *concat = node_add(m, m->graph, "Concat", "c", "a,b", "y");
  struct tqt_node *selu = node_add(m, m->graph, "Selu", "s", "y", "z");
  assert_int_equal(upgrade(m, 0, &d), 2);
  assert_int_equal(attr_i(concat, "axis"), 1);
  assert_true(attr(selu, "alpha")->f == 1.6732f);
  assert_true(attr(selu, "gamma")->f == 1.0507f);
  tqt_model_destroy(m);
}

static void test_upsample_becomes_an_asymmetric_floor_resize(void **state) {
  (void)state;
  struct tqt_model *m = model_new(7);
  struct tqt_diag d;
  float scales[4] = {1, 1, 2, 2};
  struct tqt_node *n = node_add(m, m->graph, "Upsample", "up", "x", "y");
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, "scales", TQT_ATTR_TYPE_FLOATS);
  at->floats = scales;
  at->n = 4;
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_string_equal(n->op_type, "Resize");
  assert_int_equal(n->n_inputs, 3);
  assert_string_equal(n->inputs[1], "");
  const struct tqt_tensor *s = init_find(m->graph, n->inputs[2]);
  assert_non_null(s);
  assert_int_equal(s->dtype, TQT_DTYPE_FLOAT);
  assert_true(((const float *)s->data)[3] == 2);
  assert_string_equal(attr_s(n, "mode"), "nearest");
  assert_string_equal(attr_s(n, "coordinate_transformation_mode"), "asymmetric");
  assert_string_equal(attr_s(n, "nearest_mode"), "floor");
  assert_null(attr(n, "scales"));
  tqt_model_destroy(m);
}

static void test_resize10_downsampling_rounds_up_and_mixed_scales_are_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(10);
  struct tqt_diag d;
  int64_t four[1] = {4};
  float down[4] = {1, 1, 0.5f, 0.6f}, mixed[4] = {1, 1, 0.5f, 2};
  init_add(m, "s", TQT_DTYPE_FLOAT, 1, four, down);
  struct tqt_node *n = node_add(m, m->graph, "Resize", "r", "x,s", "y");
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_string_equal(attr_s(n, "nearest_mode"), "ceil");
  tqt_model_destroy(m);

  m = model_new(10);
  init_add(m, "s", TQT_DTYPE_FLOAT, 1, four, mixed);
  node_add(m, m->graph, "Resize", "r", "x,s", "y");
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "node 'r' (Resize): cannot upgrade Resize from opset 10 to 13: "
                                "scales mix upsampling and downsampling"));
  tqt_model_destroy(m);
}

static void test_resize11_tf_half_pixel_for_nn_becomes_half_pixel_ceil(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "Resize", "r", "x,roi,,sizes", "y");
  assert_int_equal(tqt_node_attr_add_string(m->arena, n, "coordinate_transformation_mode",
                                            "tf_half_pixel_for_nn"), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_string_equal(attr_s(n, "coordinate_transformation_mode"), "half_pixel");
  assert_string_equal(attr_s(n, "nearest_mode"), "ceil");
  tqt_model_destroy(m);
}

static void test_scan8_becomes_a_loop_over_the_batch(void **state) {
  (void)state;
  struct tqt_model *m = model_new(8);
  struct tqt_diag d;
  input_add_rank_unknown(m, "s0");
  input_add_rank_unknown(m, "xs");
  struct tqt_node *n = node_add(m, m->graph, "Scan", "scan", ",s0,xs", "s,ys");
  struct tqt_graph *body = tqt_graph_create(m->arena, "body", m->graph);
  node_add(m, body, "Add", "add", "si,xi", "so");
  node_add(m, body, "Identity", "id", "so", "yo");
  assert_non_null(tqt_graph_input_add(m->arena, body, "si", TQT_DTYPE_FLOAT, 0, NULL));
  assert_non_null(tqt_graph_input_add(m->arena, body, "xi", TQT_DTYPE_FLOAT, 0, NULL));
  assert_non_null(tqt_graph_output_add(m->arena, body, "so", TQT_DTYPE_FLOAT, 0, NULL));
  assert_non_null(tqt_graph_output_add(m->arena, body, "yo", TQT_DTYPE_FLOAT, 0, NULL));
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, "body", TQT_ATTR_TYPE_GRAPH);
  at->g = body;
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "num_scan_inputs", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_string_equal(n->op_type, "Loop");
  assert_int_equal(n->n_inputs, 2);
  assert_string_equal(n->inputs[1], "");
  assert_int_equal(n->n_outputs, 2);
  const struct tqt_graph *loop = attr(n, "body")->g;
  assert_int_equal(loop->n_inputs, 2);
  assert_int_equal(loop->n_outputs, 3); /* the condition, then the two stacked results */
  const struct tqt_node *scan = op_nth(loop, "Scan", 0);
  assert_non_null(scan);
  assert_ptr_equal(attr(scan, "body")->g, body);
  assert_ptr_equal(body->parent, loop);
  assert_non_null(op_nth(loop, "Gather", 1));
  output_add(m, "s");
  output_add(m, "ys");
  enum tqt_status status = tqt_model_validate(m, &d);
  assert_string_equal(d.msg, "");
  assert_int_equal(status, TQT_STATUS_OK);
  tqt_model_destroy(m);
}

static void test_scan8_with_sequence_lengths_is_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(8);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "Scan", "scan", "lens,s0,xs", "s,ys");
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, "body", TQT_ATTR_TYPE_GRAPH);
  at->g = tqt_graph_create(m->arena, "body", m->graph);
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "num_scan_inputs", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "sequence_lens"));
  tqt_model_destroy(m);
}

static void test_scatter_becomes_scatter_elements(void **state) {
  (void)state;
  struct tqt_model *m = model_new(11); /* deprecated in 11: a Scatter-11 node too */
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "Scatter", "s", "x,i,u", "y");
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_string_equal(n->op_type, "ScatterElements");
  tqt_model_destroy(m);
}

static void test_batchnorm_per_activation_statistics_are_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(7);
  struct tqt_diag d;
  int64_t dims[4] = {1, 3, 4, 4};
  input_add(m, "x", TQT_DTYPE_FLOAT, 4, dims);
  struct tqt_node *n = node_add(m, m->graph, "BatchNormalization", "bn", "x,s,b,m,v", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "spatial", 0), 0);
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "node 'bn' (BatchNormalization): cannot upgrade "
                                "BatchNormalization from opset 7 to 13: spatial=0"));
  tqt_model_destroy(m);

  m = model_new(7); /* rank 2: the same either way */
  int64_t flat[2] = {1, 3};
  input_add(m, "x", TQT_DTYPE_FLOAT, 2, flat);
  n = node_add(m, m->graph, "BatchNormalization", "bn", "x,s,b,m,v", "y");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "spatial", 0), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_null(attr(n, "spatial"));
  tqt_model_destroy(m);
}

static void test_batchnorm_training_outputs_are_refused_unless_unread(void **state) {
  (void)state;
  struct tqt_model *m = model_new(6);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "BatchNormalization", "bn", "x,s,b,m,v",
                                "y,mean,var,sm,sv");
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "is_test", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(n->n_outputs, 1);
  assert_null(attr(n, "is_test"));
  tqt_model_destroy(m);

  m = model_new(6);
  node_add(m, m->graph, "BatchNormalization", "bn", "x,s,b,m,v", "y,mean");
  node_add(m, m->graph, "Identity", "id", "mean", "z");
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "output 1 ('mean') is read"));
  tqt_model_destroy(m);
}

static void test_dropout_mask_is_dropped_when_unread_and_refused_when_read(void **state) {
  (void)state;
  struct tqt_model *m = model_new(9);
  struct tqt_diag d;
  struct tqt_node *n = node_add(m, m->graph, "Dropout", "drop", "x", "y,mask");
  assert_int_equal(tqt_node_attr_add_float(m->arena, n, "ratio", 0.2f), 0);
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(n->n_outputs, 1);
  assert_true(*(const float *)init_find(m->graph, n->inputs[1])->data == 0.2f);
  tqt_model_destroy(m);

  m = model_new(9);
  node_add(m, m->graph, "Dropout", "drop", "x", "y,mask");
  output_add(m, "mask");
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "node 'drop' (Dropout): cannot upgrade Dropout from opset 9 to "
                                "13: output 1 ('mask') is read"));
  tqt_model_destroy(m);
}

static void test_convtranspose_odd_padding_with_output_shape_is_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(10);
  struct tqt_diag d;
  int64_t x[4] = {1, 1, 3, 3}, strides[2] = {2, 2}, kernel[2] = {3, 3}, odd[2] = {6, 6},
          even[2] = {5, 5};
  input_add(m, "x", TQT_DTYPE_FLOAT, 4, x);
  struct tqt_node *n = node_add(m, m->graph, "ConvTranspose", "ct", "x,w", "y");
  ints_add(m, n, "strides", 2, strides);
  ints_add(m, n, "kernel_shape", 2, kernel);
  ints_add(m, n, "output_shape", 2, even);
  assert_int_equal(upgrade(m, 0, &d), 0);
  tqt_model_destroy(m);

  m = model_new(10);
  input_add(m, "x", TQT_DTYPE_FLOAT, 4, x);
  n = node_add(m, m->graph, "ConvTranspose", "ct", "x,w", "y");
  ints_add(m, n, "strides", 2, strides);
  ints_add(m, n, "kernel_shape", 2, kernel);
  ints_add(m, n, "output_shape", 2, odd);
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "the total padding of spatial axis 0 is odd (1)"));
  tqt_model_destroy(m);
}

static void test_small_renames_and_drops(void **state) {
  (void)state;
  struct tqt_model *m = model_new(1);
  struct tqt_diag d;
  struct tqt_node *lp = node_add(m, m->graph, "GlobalLpPool", "lp", "x", "a");
  assert_int_equal(tqt_node_attr_add_float(m->arena, lp, "p", 3), 0);
  struct tqt_node *gemm = node_add(m, m->graph, "Gemm", "gemm", "a,b,c", "e");
  assert_int_equal(tqt_node_attr_add_int(m->arena, gemm, "broadcast", 1), 0);
  struct tqt_node *gru = node_add(m, m->graph, "GRU", "gru", "e,w,r", "f,g");
  assert_int_equal(tqt_node_attr_add_int(m->arena, gru, "output_sequence", 1), 0);
  assert_int_equal(upgrade(m, 0, &d), 3);
  assert_int_equal(attr_i(lp, "p"), 3);
  assert_int_equal(gemm->n_attrs, 0);
  assert_int_equal(gru->n_attrs, 0);
  tqt_model_destroy(m);
}

static void test_tile1_tiles_and_axis_become_repeats(void **state) {
  (void)state;
  struct tqt_model *m = model_new(5);
  struct tqt_diag d;
  int64_t dims[3] = {2, 3, 4}, tiles = 5, axis = -1;
  input_add(m, "x", TQT_DTYPE_FLOAT, 3, dims);
  init_add(m, "t", TQT_DTYPE_INT64, 0, NULL, &tiles);
  init_add(m, "a", TQT_DTYPE_INT64, 0, NULL, &axis);
  struct tqt_node *n = node_add(m, m->graph, "Tile", "tile", "x,t,a", "y");
  assert_int_equal(upgrade(m, 0, &d), 1);
  assert_int_equal(n->n_inputs, 2);
  assert_int_equal(init_count(m->graph, n->inputs[1]), 3);
  assert_int_equal(init_int(m->graph, n->inputs[1], 0), 1);
  assert_int_equal(init_int(m->graph, n->inputs[1], 2), 5);
  tqt_model_destroy(m);
}

static void test_split1_without_axis_is_refused(void **state) {
  (void)state;
  struct tqt_model *m = model_new(1);
  struct tqt_diag d;
  node_add(m, m->graph, "Split", "split", "x", "a,b");
  assert_int_equal(upgrade(m, 0, &d), -1);
  assert_non_null(strstr(d.msg, "Split-1 defines no default axis"));
  tqt_model_destroy(m);
}

static void test_targets_above_13_apply_their_own_rules(void **state) {
  (void)state;
  struct tqt_model *m = model_new(13);
  struct tqt_diag d;
  struct tqt_node *bn = node_add(m, m->graph, "BatchNormalization", "bn", "x,s,b,m,v", "y,rm,rv");
  struct tqt_node *roi = node_add(m, m->graph, "RoiAlign", "roi", "y,r,i", "z");
  assert_int_equal(upgrade(m, 15, &d), 1); /* BatchNormalization-14 */
  assert_int_equal(bn->n_outputs, 1);
  assert_null(attr(roi, "coordinate_transformation_mode"));
  assert_int_equal(upgrade(m, 17, &d), 1); /* RoiAlign-16 */
  assert_string_equal(attr_s(roi, "coordinate_transformation_mode"), "output_half_pixel");
  assert_int_equal(tqt_model_opset(m, ""), 17);
  tqt_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_upgrade_sets_opset_13_and_ir_version_7),
      cmocka_unit_test(test_upgrade_leaves_a_model_at_the_target_alone),
      cmocka_unit_test(test_upgrade_to_opset_16_asks_for_ir_version_8),
      cmocka_unit_test(test_upgrade_refuses_targets_outside_13_to_21),
      cmocka_unit_test(test_opset_21_rules),
      cmocka_unit_test(test_pass_table_runs_upgrade_opset_after_inlining_and_before_folding),
      cmocka_unit_test(test_unknown_op_is_refused_naming_node_op_and_versions),
      cmocka_unit_test(test_op_newer_than_the_model_opset_is_refused),
      cmocka_unit_test(test_other_domains_are_left_alone),
      cmocka_unit_test(test_softmax_along_the_last_axis_keeps_its_node),
      cmocka_unit_test(test_softmax_along_a_middle_axis_flattens_and_reshapes_back),
      cmocka_unit_test(test_softmax_of_unknown_rank_flattens_unless_axis_is_minus_1),
      cmocka_unit_test(test_legacy_broadcast_with_axis_gives_b_trailing_ones),
      cmocka_unit_test(test_legacy_broadcast_aligned_at_the_end_only_drops_attributes),
      cmocka_unit_test(test_legacy_broadcast_of_unknown_rank_reshapes_b_at_run_time),
      cmocka_unit_test(test_legacy_broadcast_that_does_not_fit_is_refused),
      cmocka_unit_test(test_prelu_channel_slope_gets_trailing_ones),
      cmocka_unit_test(test_clip_bounds_become_scalars_of_the_input_type),
      cmocka_unit_test(test_pad_pads_and_value_become_inputs_and_mode_stays),
      cmocka_unit_test(test_slice_starts_ends_axes_become_inputs),
      cmocka_unit_test(test_topk_k_becomes_a_one_element_input),
      cmocka_unit_test(test_axes_and_split_attributes_become_inputs),
      cmocka_unit_test(test_reshape_shape_becomes_an_input),
      cmocka_unit_test(test_new_inputs_never_reuse_an_existing_name),
      cmocka_unit_test(test_subgraph_nodes_get_their_constants_in_their_own_graph),
      cmocka_unit_test(test_function_bodies_get_constant_nodes_and_the_target_opset),
      cmocka_unit_test(test_cast_to_by_name_becomes_the_type_number),
      cmocka_unit_test(test_old_defaults_are_written_out),
      cmocka_unit_test(test_upsample_becomes_an_asymmetric_floor_resize),
      cmocka_unit_test(test_resize10_downsampling_rounds_up_and_mixed_scales_are_refused),
      cmocka_unit_test(test_resize11_tf_half_pixel_for_nn_becomes_half_pixel_ceil),
      cmocka_unit_test(test_scan8_becomes_a_loop_over_the_batch),
      cmocka_unit_test(test_scan8_with_sequence_lengths_is_refused),
      cmocka_unit_test(test_scatter_becomes_scatter_elements),
      cmocka_unit_test(test_batchnorm_per_activation_statistics_are_refused),
      cmocka_unit_test(test_batchnorm_training_outputs_are_refused_unless_unread),
      cmocka_unit_test(test_dropout_mask_is_dropped_when_unread_and_refused_when_read),
      cmocka_unit_test(test_convtranspose_odd_padding_with_output_shape_is_refused),
      cmocka_unit_test(test_small_renames_and_drops),
      cmocka_unit_test(test_tile1_tiles_and_axis_become_repeats),
      cmocka_unit_test(test_split1_without_axis_is_refused),
      cmocka_unit_test(test_targets_above_13_apply_their_own_rules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
