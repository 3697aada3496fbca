/* tqt_model_validate on models built with the IR builders: undefined names, outputs nobody
 * produces, duplicates, cycles, sorting (also through subgraphs that read outer names) and
 * function bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"

static const int64_t dims4[] = {1, 4};

static int setup_model(void **state) {
  struct tqt_model *m = tqt_model_create();
  if (!m || tqt_model_opset_set(m, "", 17)) return -1;
  m->graph->name = tqt_arena_strdup(m->arena, "main");
  *state = m;
  return 0;
}

static int teardown_model(void **state) {
  tqt_model_destroy(*state);
  return 0;
}

#define MODEL_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_model, teardown_model)

/* Splits "a,b,,c" into names ("" stays an omitted name); "" gives none. */
static size_t split_names(struct tqt_arena *a, const char *csv, const char ***out) {
  size_t n = *csv ? 1 : 0;
  for (const char *p = csv; *p; p++) n += *p == ',';
  const char **names = tqt_arena_calloc(a, n ? n : 1, sizeof *names);
  assert_non_null(names);
  const char *p = csv;
  for (size_t i = 0; i < n; i++) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    names[i] = tqt_arena_memdup(a, p, len);
    p += len + 1;
  }
  *out = names;
  return n;
}

static struct tqt_node *add_node(struct tqt_model *m, struct tqt_graph *g, const char *op,
                                 const char *name, const char *inputs, const char *outputs) {
  const char **ins, **outs;
  size_t n_in = split_names(m->arena, inputs, &ins);
  size_t n_out = split_names(m->arena, outputs, &outs);
  struct tqt_node *n = tqt_graph_node_add(m->arena, g, op, name, n_in, ins, n_out, outs);
  assert_non_null(n);
  return n;
}

/* An attribute `attr` on n holding a new, empty subgraph. */
static struct tqt_graph *add_subgraph(struct tqt_model *m, struct tqt_node *n, const char *attr,
                                      const char *name, struct tqt_graph *parent) {
  struct tqt_graph *g = tqt_graph_create(m->arena, name, parent);
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, attr, TQT_ATTR_TYPE_GRAPH);
  assert_non_null(g);
  assert_non_null(at);
  at->g = g;
  return g;
}

static struct tqt_function *add_function(struct tqt_model *m, const char *name,
                                         const char *inputs, const char *outputs) {
  struct tqt_arena *a = m->arena;
  struct tqt_function *f = tqt_arena_calloc(a, 1, sizeof *f);
  assert_non_null(f);
  f->name = tqt_arena_strdup(a, name);
  f->domain = tqt_arena_strdup(a, "local");
  f->doc = tqt_arena_strdup(a, "");
  const char **names;
  f->n_inputs = split_names(a, inputs, &names);
  f->inputs = (char **)names;
  f->n_outputs = split_names(a, outputs, &names);
  f->outputs = (char **)names;
  f->attributes = tqt_arena_calloc(a, 1, sizeof *f->attributes);
  f->opsets = tqt_arena_calloc(a, 1, sizeof *f->opsets);
  f->opsets[0].domain = tqt_arena_strdup(a, "");
  f->opsets[0].version = 17;
  f->n_opsets = 1;
  assert_int_equal(tqt_arena_reserve(a, (void **)&m->functions, &m->cap_functions,
                                     m->n_functions + 1, sizeof *m->functions),
                   0);
  m->functions[m->n_functions++] = f;
  return f;
}

/* Adds a node to a function body (the graph builder's twin for functions). */
static void add_function_node(struct tqt_model *m, struct tqt_function *f, const char *op,
                              const char *name, const char *inputs, const char *outputs) {
  struct tqt_graph scratch = {0};
  struct tqt_node *n = add_node(m, &scratch, op, name, inputs, outputs);
  assert_int_equal(tqt_arena_reserve(m->arena, (void **)&f->nodes, &f->cap_nodes, f->n_nodes + 1,
                                     sizeof *f->nodes),
                   0);
  f->nodes[f->n_nodes++] = n;
}

static void io(struct tqt_model *m, const char *in, const char *out) {
  if (*in) assert_non_null(tqt_graph_input_add(m->arena, m->graph, in, TQT_DTYPE_FLOAT, 2, dims4));
  if (*out)
    assert_non_null(tqt_graph_output_add(m->arena, m->graph, out, TQT_DTYPE_FLOAT, 2, dims4));
}

/* The node names of g joined by ','. */
static const char *order_of(const struct tqt_graph *g) {
  static char buf[256];
  buf[0] = '\0';
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (i) strcat(buf, ",");
    strcat(buf, g->nodes[i]->name);
  }
  return buf;
}

#define assert_msg_has(d, text)                                                                  \
  do {                                                                                           \
    if (!strstr((d)->msg, (text))) fail_msg("message \"%s\" lacks \"%s\"", (d)->msg, (text));   \
  } while (0)

/* ---- accepted models ---- */

static void test_valid_chain_passes_and_keeps_its_order(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r1", "x", "a");
  add_node(m, m->graph, "Neg", "r2", "a", "b");
  add_node(m, m->graph, "Abs", "r3", "b", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_int_equal(d.status, TQT_STATUS_OK);
  assert_string_equal(order_of(m->graph), "r1,r2,r3");
}

static void test_initializers_and_omitted_inputs_count_as_defined(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  const int64_t wdims[] = {4, 4};
  assert_non_null(
      tqt_graph_initializer_add(m->arena, m->graph, "w", TQT_DTYPE_FLOAT, 2, wdims, NULL));
  add_node(m, m->graph, "Gemm", "gemm", "x,w,", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
}

static void test_graph_output_may_be_a_graph_input(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "x");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
}

/* ---- undefined, unproduced, duplicate names ---- */

static void test_undefined_input_names_the_node_and_the_input(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r1", "x", "a");
  add_node(m, m->graph, "Add", "adder", "a,ghost", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_int_equal(d.status, TQT_STATUS_INVALID);
  assert_msg_has(&d, "'adder'");
  assert_msg_has(&d, "Add");
  assert_msg_has(&d, "'ghost'");
}

static void test_graph_output_not_produced_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "nowhere", TQT_DTYPE_FLOAT, 0, NULL));
  add_node(m, m->graph, "Relu", "r1", "x", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'nowhere'");
  assert_msg_has(&d, "not produced");
}

static void test_two_nodes_with_one_output_name_are_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "first", "x", "t");
  add_node(m, m->graph, "Neg", "second", "x", "t");
  add_node(m, m->graph, "Abs", "last", "t", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'second'");
  assert_msg_has(&d, "'t'");
  assert_msg_has(&d, "already defined");
}

static void test_node_output_named_like_a_graph_input_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r", "y", "x");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'x'");
}

/* ---- cycles and sorting ---- */

static void test_cycle_names_a_node_of_the_cycle(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Add", "ring_a", "x,b", "a");
  add_node(m, m->graph, "Relu", "ring_b", "a", "b");
  add_node(m, m->graph, "Identity", "out", "x", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "cycle");
  assert_true(strstr(d.msg, "'ring_a'") || strstr(d.msg, "'ring_b'"));
}

static void test_cycle_is_not_blamed_on_a_node_downstream_of_it(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "downstream", "b", "y"); /* waits on the cycle, not in it */
  add_node(m, m->graph, "Add", "ring_a", "x,b", "a");
  add_node(m, m->graph, "Relu", "ring_b", "a", "b");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "cycle");
  assert_true(strstr(d.msg, "'ring_a'") || strstr(d.msg, "'ring_b'"));
  assert_null(strstr(d.msg, "downstream"));
}

static void test_node_reading_its_own_output_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Add", "selfish", "x,y", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'selfish'");
}

static void test_nodes_out_of_order_are_sorted(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Add", "c", "a,b", "y");
  add_node(m, m->graph, "Neg", "b", "a", "b");
  add_node(m, m->graph, "Relu", "a", "x", "a");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(order_of(m->graph), "a,b,c");
}

static void test_sorting_keeps_independent_nodes_in_file_order(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Sum", "join", "p,q,r", "y");
  add_node(m, m->graph, "Relu", "p", "x", "p");
  add_node(m, m->graph, "Neg", "q", "x", "q");
  add_node(m, m->graph, "Abs", "r", "x", "r");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(order_of(m->graph), "p,q,r,join");
}

/* ---- subgraphs ---- */

static void test_if_whose_branch_reads_a_later_outer_name_is_sorted_after_its_producer(
    void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  assert_non_null(tqt_graph_input_add(m->arena, m->graph, "cond", TQT_DTYPE_BOOL, 0, NULL));
  struct tqt_node *if_node = add_node(m, m->graph, "If", "branch", "cond", "y");
  struct tqt_graph *then_g = add_subgraph(m, if_node, "then_branch", "then", m->graph);
  add_node(m, then_g, "Relu", "inner_then", "late", "t");
  assert_non_null(tqt_graph_output_add(m->arena, then_g, "t", TQT_DTYPE_FLOAT, 2, dims4));
  struct tqt_graph *else_g = add_subgraph(m, if_node, "else_branch", "else", m->graph);
  add_node(m, else_g, "Neg", "inner_else", "x", "e");
  assert_non_null(tqt_graph_output_add(m->arena, else_g, "e", TQT_DTYPE_FLOAT, 2, dims4));
  add_node(m, m->graph, "Abs", "producer", "x", "late");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(order_of(m->graph), "producer,branch");
}

static void test_subgraph_output_taken_from_a_later_outer_name_orders_the_node(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  assert_non_null(tqt_graph_input_add(m->arena, m->graph, "cond", TQT_DTYPE_BOOL, 0, NULL));
  struct tqt_node *if_node = add_node(m, m->graph, "If", "branch", "cond", "y");
  struct tqt_graph *then_g = add_subgraph(m, if_node, "then_branch", "then", m->graph);
  assert_non_null(tqt_graph_output_add(m->arena, then_g, "late", TQT_DTYPE_FLOAT, 2, dims4));
  add_node(m, m->graph, "Abs", "producer", "x", "late");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(order_of(m->graph), "producer,branch");
}

static void test_read_two_subgraph_levels_down_orders_the_outer_node(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  struct tqt_node *loop = add_node(m, m->graph, "Loop", "outer_loop", "", "y");
  struct tqt_graph *body = add_subgraph(m, loop, "body", "body", m->graph);
  struct tqt_node *inner_if = add_node(m, body, "If", "inner_if", "", "o");
  assert_non_null(tqt_graph_output_add(m->arena, body, "o", TQT_DTYPE_FLOAT, 2, dims4));
  struct tqt_graph *deep = add_subgraph(m, inner_if, "then_branch", "deep", body);
  add_node(m, deep, "Relu", "deep_relu", "late", "d");
  assert_non_null(tqt_graph_output_add(m->arena, deep, "d", TQT_DTYPE_FLOAT, 2, dims4));
  add_node(m, m->graph, "Abs", "producer", "x", "late");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(order_of(m->graph), "producer,outer_loop");
}

static void test_subgraph_nodes_out_of_order_are_sorted(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  struct tqt_node *if_node = add_node(m, m->graph, "If", "branch", "", "y");
  struct tqt_graph *g = add_subgraph(m, if_node, "then_branch", "then", m->graph);
  add_node(m, g, "Neg", "second", "s1", "s2");
  add_node(m, g, "Relu", "first", "x", "s1");
  assert_non_null(tqt_graph_output_add(m->arena, g, "s2", TQT_DTYPE_FLOAT, 2, dims4));
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(order_of(g), "first,second");
}

static void test_subgraph_reading_an_undefined_outer_name_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  struct tqt_node *if_node = add_node(m, m->graph, "If", "branch", "", "y");
  struct tqt_graph *g = add_subgraph(m, if_node, "then_branch", "then", m->graph);
  add_node(m, g, "Relu", "inner", "ghost", "t");
  assert_non_null(tqt_graph_output_add(m->arena, g, "t", TQT_DTYPE_FLOAT, 2, dims4));
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'ghost'");
  assert_msg_has(&d, "'inner'");
  assert_msg_has(&d, "'branch'");
}

static void test_subgraph_output_not_produced_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  struct tqt_node *if_node = add_node(m, m->graph, "If", "branch", "", "y");
  struct tqt_graph *g = add_subgraph(m, if_node, "then_branch", "then", m->graph);
  assert_non_null(tqt_graph_output_add(m->arena, g, "nobody", TQT_DTYPE_FLOAT, 2, dims4));
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'nobody'");
  assert_msg_has(&d, "'branch'");
}

static void test_subgraph_names_stay_inside_the_subgraph(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  struct tqt_node *if_node = add_node(m, m->graph, "If", "branch", "", "b");
  struct tqt_graph *g = add_subgraph(m, if_node, "then_branch", "then", m->graph);
  add_node(m, g, "Relu", "inner", "x", "private");
  assert_non_null(tqt_graph_output_add(m->arena, g, "private", TQT_DTYPE_FLOAT, 2, dims4));
  add_node(m, m->graph, "Add", "peeker", "b,private", "y");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'peeker'");
  assert_msg_has(&d, "'private'");
}

/* ---- functions ---- */

static void test_function_body_reading_an_undefined_name_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r", "x", "y");
  struct tqt_function *f = add_function(m, "MyOp", "a", "c");
  add_function_node(m, f, "Relu", "f_first", "a", "b");
  add_function_node(m, f, "Add", "f_second", "b,ghost", "c");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'MyOp'");
  assert_msg_has(&d, "'f_second'");
  assert_msg_has(&d, "'ghost'");
}

static void test_function_output_not_produced_is_invalid(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r", "x", "y");
  struct tqt_function *f = add_function(m, "MyOp", "a", "b,missing");
  add_function_node(m, f, "Relu", "f_first", "a", "b");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'MyOp'");
  assert_msg_has(&d, "'missing'");
}

static void test_function_body_out_of_order_is_sorted(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r", "x", "y");
  struct tqt_function *f = add_function(m, "MyOp", "a", "c");
  add_function_node(m, f, "Neg", "f_second", "b", "c");
  add_function_node(m, f, "Relu", "f_first", "a", "b");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_OK);
  assert_string_equal(f->nodes[0]->name, "f_first");
  assert_string_equal(f->nodes[1]->name, "f_second");
}

static void test_function_body_does_not_see_main_graph_names(void **state) {
  struct tqt_model *m = *state;
  io(m, "x", "y");
  add_node(m, m->graph, "Relu", "r", "x", "y");
  struct tqt_function *f = add_function(m, "MyOp", "a", "c");
  add_function_node(m, f, "Add", "f_add", "a,x", "c");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_validate(m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'x'");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      MODEL_TEST(test_valid_chain_passes_and_keeps_its_order),
      MODEL_TEST(test_initializers_and_omitted_inputs_count_as_defined),
      MODEL_TEST(test_graph_output_may_be_a_graph_input),
      MODEL_TEST(test_undefined_input_names_the_node_and_the_input),
      MODEL_TEST(test_graph_output_not_produced_is_invalid),
      MODEL_TEST(test_two_nodes_with_one_output_name_are_invalid),
      MODEL_TEST(test_node_output_named_like_a_graph_input_is_invalid),
      MODEL_TEST(test_cycle_names_a_node_of_the_cycle),
      MODEL_TEST(test_cycle_is_not_blamed_on_a_node_downstream_of_it),
      MODEL_TEST(test_node_reading_its_own_output_is_invalid),
      MODEL_TEST(test_nodes_out_of_order_are_sorted),
      MODEL_TEST(test_sorting_keeps_independent_nodes_in_file_order),
      MODEL_TEST(test_if_whose_branch_reads_a_later_outer_name_is_sorted_after_its_producer),
      MODEL_TEST(test_subgraph_output_taken_from_a_later_outer_name_orders_the_node),
      MODEL_TEST(test_read_two_subgraph_levels_down_orders_the_outer_node),
      MODEL_TEST(test_subgraph_nodes_out_of_order_are_sorted),
      MODEL_TEST(test_subgraph_reading_an_undefined_outer_name_is_invalid),
      MODEL_TEST(test_subgraph_output_not_produced_is_invalid),
      MODEL_TEST(test_subgraph_names_stay_inside_the_subgraph),
      MODEL_TEST(test_function_body_reading_an_undefined_name_is_invalid),
      MODEL_TEST(test_function_output_not_produced_is_invalid),
      MODEL_TEST(test_function_body_out_of_order_is_sorted),
      MODEL_TEST(test_function_body_does_not_see_main_graph_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
