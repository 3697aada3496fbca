/* The IR: builders, opset lookup, element counts, walking nested subgraphs, the name map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"
#include "ir_names.h"

static int setup_model(void **state) {
  struct tqt_model *m = tqt_model_create();
  *state = m;
  return m ? 0 : -1;
}

static int teardown_model(void **state) {
  tqt_model_destroy(*state);
  return 0;
}

#define MODEL_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_model, teardown_model)

/* ---- building ---- */

static void test_model_create_gives_an_empty_main_graph(void **state) {
  struct tqt_model *m = *state;
  assert_non_null(m->arena);
  assert_non_null(m->graph);
  assert_null(m->graph->parent);
  assert_string_equal(m->graph->name, "");
  assert_int_equal(m->graph->n_nodes, 0);
  assert_int_equal(m->graph->n_inputs, 0);
  assert_int_equal(m->graph->n_outputs, 0);
  assert_int_equal(m->graph->n_initializers, 0);
  assert_int_equal(m->n_opsets, 0);
  assert_int_equal(m->n_functions, 0);
  assert_null(m->path);
}

static void test_node_add_copies_op_name_inputs_and_outputs(void **state) {
  struct tqt_model *m = *state;
  char in0[] = "x", in1[] = "w", out0[] = "y", op[] = "Conv", name[] = "conv1";
  const char *inputs[] = {in0, in1, NULL};
  const char *outputs[] = {out0};
  struct tqt_node *n = tqt_graph_node_add(m->arena, m->graph, op, name, 3, inputs, 1, outputs);
  assert_non_null(n);
  in0[0] = in1[0] = out0[0] = op[0] = name[0] = '#';
  assert_string_equal(n->op_type, "Conv");
  assert_string_equal(n->name, "conv1");
  assert_string_equal(n->domain, "");
  assert_int_equal(n->n_inputs, 3);
  assert_string_equal(n->inputs[0], "x");
  assert_string_equal(n->inputs[1], "w");
  assert_string_equal(n->inputs[2], ""); /* NULL marks an omitted optional input */
  assert_int_equal(n->n_outputs, 1);
  assert_string_equal(n->outputs[0], "y");
  assert_int_equal(n->n_attrs, 0);
  assert_int_equal(m->graph->n_nodes, 1);
  assert_ptr_equal(m->graph->nodes[0], n);
}

static void test_node_add_keeps_every_node_in_order_while_growing(void **state) {
  struct tqt_model *m = *state;
  struct tqt_node *added[300];
  for (int i = 0; i < 300; i++) {
    char name[16];
    snprintf(name, sizeof name, "n%d", i);
    added[i] = tqt_graph_node_add(m->arena, m->graph, "Identity", name, 0, NULL, 0, NULL);
    assert_non_null(added[i]);
  }
  assert_int_equal(m->graph->n_nodes, 300);
  assert_true(m->graph->cap_nodes >= 300);
  for (int i = 0; i < 300; i++) assert_ptr_equal(m->graph->nodes[i], added[i]);
  assert_string_equal(m->graph->nodes[299]->name, "n299");
}

static void test_input_add_records_elem_type_and_dims(void **state) {
  struct tqt_model *m = *state;
  const int64_t dims[] = {1, 3, -1, 224};
  struct tqt_value_info *v =
      tqt_graph_input_add(m->arena, m->graph, "image", TQT_DTYPE_FLOAT, 4, dims);
  assert_non_null(v);
  assert_int_equal(m->graph->n_inputs, 1);
  assert_string_equal(m->graph->inputs[0].name, "image");
  const struct tqt_type *t = m->graph->inputs[0].type;
  assert_int_equal(t->kind, TQT_TYPE_KIND_TENSOR);
  assert_true(t->has_elem_type);
  assert_int_equal(t->elem_type, TQT_DTYPE_FLOAT);
  assert_true(t->has_shape);
  assert_int_equal(t->rank, 4);
  assert_true(t->dims[0].has_value);
  assert_int_equal(t->dims[0].value, 1);
  assert_false(t->dims[2].has_value); /* a negative dim is unknown */
  assert_null(t->dims[2].param);
  assert_int_equal(t->dims[3].value, 224);
}

static void test_output_add_of_a_scalar_has_rank_zero(void **state) {
  struct tqt_model *m = *state;
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "loss", TQT_DTYPE_DOUBLE, 0, NULL));
  assert_int_equal(m->graph->n_outputs, 1);
  assert_string_equal(m->graph->outputs[0].name, "loss");
  assert_true(m->graph->outputs[0].type->has_shape);
  assert_int_equal(m->graph->outputs[0].type->rank, 0);
}

static void test_many_inputs_and_outputs_keep_their_names(void **state) {
  struct tqt_model *m = *state;
  for (int i = 0; i < 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "v%d", i);
    assert_non_null(tqt_graph_input_add(m->arena, m->graph, name, TQT_DTYPE_INT64, 0, NULL));
    assert_non_null(tqt_graph_output_add(m->arena, m->graph, name, TQT_DTYPE_INT64, 0, NULL));
  }
  for (int i = 0; i < 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "v%d", i);
    assert_string_equal(m->graph->inputs[i].name, name);
    assert_string_equal(m->graph->outputs[i].name, name);
  }
}

static void test_initializer_add_copies_the_data(void **state) {
  struct tqt_model *m = *state;
  float w[6] = {1, 2, 3, 4, 5, 6};
  const int64_t dims[] = {2, 3};
  struct tqt_tensor *t =
      tqt_graph_initializer_add(m->arena, m->graph, "w", TQT_DTYPE_FLOAT, 2, dims, w);
  assert_non_null(t);
  w[0] = 100;
  assert_int_equal(m->graph->n_initializers, 1);
  assert_ptr_equal(m->graph->initializers[0], t);
  assert_string_equal(t->name, "w");
  assert_int_equal(t->dtype, TQT_DTYPE_FLOAT);
  assert_int_equal(t->rank, 2);
  assert_int_equal(t->dims[1], 3);
  assert_int_equal(t->nbytes, sizeof w);
  assert_true(((const float *)t->data)[0] == 1.0f);
  assert_true(((const float *)t->data)[5] == 6.0f);
  assert_null(t->external);
}

static void test_initializer_add_without_data_is_zeros(void **state) {
  struct tqt_model *m = *state;
  const int64_t dims[] = {5};
  struct tqt_tensor *t =
      tqt_graph_initializer_add(m->arena, m->graph, "z", TQT_DTYPE_INT64, 1, dims, NULL);
  assert_non_null(t);
  assert_int_equal(t->nbytes, 40);
  for (int i = 0; i < 5; i++) assert_int_equal(((const int64_t *)t->data)[i], 0);
}

static void test_initializer_add_refuses_types_without_a_size(void **state) {
  struct tqt_model *m = *state;
  const int64_t dims[] = {2};
  assert_null(tqt_graph_initializer_add(m->arena, m->graph, "s", TQT_DTYPE_STRING, 1, dims, NULL));
  assert_null(tqt_graph_initializer_add(m->arena, m->graph, "u", 99, 1, dims, NULL));
  assert_int_equal(m->graph->n_initializers, 0);
}

static void test_attr_add_keeps_earlier_attributes(void **state) {
  struct tqt_model *m = *state;
  struct tqt_node *n = tqt_graph_node_add(m->arena, m->graph, "Conv", "c", 0, NULL, 0, NULL);
  const int64_t pads[] = {1, 1, 2, 2};
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "group", 4), 0);
  assert_int_equal(tqt_node_attr_add_float(m->arena, n, "alpha", 0.25f), 0);
  assert_int_equal(tqt_node_attr_add_ints(m->arena, n, "pads", 4, pads), 0);
  assert_int_equal(tqt_node_attr_add_string(m->arena, n, "auto_pad", "NOTSET"), 0);
  assert_int_equal(n->n_attrs, 4);

  const struct tqt_attr *group = tqt_node_attr_find(n, "group");
  assert_non_null(group);
  assert_int_equal(group->type, TQT_ATTR_TYPE_INT);
  assert_int_equal(group->i, 4);
  const struct tqt_attr *alpha = tqt_node_attr_find(n, "alpha");
  assert_int_equal(alpha->type, TQT_ATTR_TYPE_FLOAT);
  assert_true(alpha->f == 0.25f);
  const struct tqt_attr *p = tqt_node_attr_find(n, "pads");
  assert_int_equal(p->type, TQT_ATTR_TYPE_INTS);
  assert_int_equal(p->n, 4);
  assert_int_equal(p->ints[2], 2);
  const struct tqt_attr *s = tqt_node_attr_find(n, "auto_pad");
  assert_int_equal(s->type, TQT_ATTR_TYPE_STRING);
  assert_int_equal(s->s.len, 6);
  assert_string_equal(s->s.data, "NOTSET");
}

static void test_attr_add_of_empty_ints_is_an_empty_list(void **state) {
  struct tqt_model *m = *state;
  struct tqt_node *n = tqt_graph_node_add(m->arena, m->graph, "Squeeze", "", 0, NULL, 0, NULL);
  assert_int_equal(tqt_node_attr_add_ints(m->arena, n, "axes", 0, NULL), 0);
  const struct tqt_attr *at = tqt_node_attr_find(n, "axes");
  assert_non_null(at);
  assert_int_equal(at->n, 0);
  assert_non_null(at->ints);
}

static void test_attr_find_of_a_missing_name_is_null(void **state) {
  struct tqt_model *m = *state;
  struct tqt_node *n = tqt_graph_node_add(m->arena, m->graph, "Relu", "r", 0, NULL, 0, NULL);
  assert_null(tqt_node_attr_find(n, "alpha"));
  assert_int_equal(tqt_node_attr_add_int(m->arena, n, "alpha", 1), 0);
  assert_null(tqt_node_attr_find(n, "alph"));
}

static void test_attr_add_of_a_graph_holds_the_subgraph(void **state) {
  struct tqt_model *m = *state;
  struct tqt_node *n = tqt_graph_node_add(m->arena, m->graph, "If", "if", 0, NULL, 0, NULL);
  struct tqt_graph *g = tqt_graph_create(m->arena, "then", m->graph);
  assert_non_null(g);
  assert_ptr_equal(g->parent, m->graph);
  struct tqt_attr *at = tqt_node_attr_add(m->arena, n, "then_branch", TQT_ATTR_TYPE_GRAPH);
  assert_non_null(at);
  at->g = g;
  assert_ptr_equal(tqt_node_attr_find(n, "then_branch")->g, g);
  assert_string_equal(tqt_node_attr_find(n, "then_branch")->g->name, "then");
}

/* ---- opsets ---- */

static void test_opset_of_a_domain_not_imported_is_zero(void **state) {
  struct tqt_model *m = *state;
  assert_int_equal(tqt_model_opset(m, ""), 0);
  assert_int_equal(tqt_model_opset(m, "com.microsoft"), 0);
}

static void test_opset_treats_empty_and_ai_onnx_as_one_domain(void **state) {
  struct tqt_model *m = *state;
  assert_int_equal(tqt_model_opset_set(m, "", 13), 0);
  assert_int_equal(tqt_model_opset(m, "ai.onnx"), 13);
  assert_int_equal(tqt_model_opset(m, ""), 13);
  assert_int_equal(tqt_model_opset(m, NULL), 13);
  assert_int_equal(tqt_model_opset_set(m, "ai.onnx", 17), 0);
  assert_int_equal(m->n_opsets, 1);
  assert_int_equal(tqt_model_opset(m, ""), 17);
}

static void test_opset_set_keeps_other_domains_apart(void **state) {
  struct tqt_model *m = *state;
  assert_int_equal(tqt_model_opset_set(m, "ai.onnx", 11), 0);
  assert_int_equal(tqt_model_opset_set(m, "com.microsoft", 1), 0);
  assert_int_equal(tqt_model_opset_set(m, "ai.onnx.ml", 3), 0);
  assert_int_equal(m->n_opsets, 3);
  assert_int_equal(tqt_model_opset(m, ""), 11);
  assert_int_equal(tqt_model_opset(m, "com.microsoft"), 1);
  assert_int_equal(tqt_model_opset(m, "ai.onnx.ml"), 3);
  assert_int_equal(tqt_model_opset(m, "ai.onnx.m"), 0);
  assert_int_equal(tqt_model_opset_set(m, "com.microsoft", 2), 0);
  assert_int_equal(m->n_opsets, 3);
  assert_int_equal(tqt_model_opset(m, "com.microsoft"), 2);
  assert_int_equal(tqt_model_opset(m, "ai.onnx"), 11);
}

static void test_opset_set_adds_many_domains(void **state) {
  struct tqt_model *m = *state;
  for (int i = 0; i < 40; i++) {
    char domain[32];
    snprintf(domain, sizeof domain, "org.example.d%d", i);
    assert_int_equal(tqt_model_opset_set(m, domain, i + 1), 0);
  }
  assert_int_equal(m->n_opsets, 40);
  assert_int_equal(tqt_model_opset(m, "org.example.d0"), 1);
  assert_int_equal(tqt_model_opset(m, "org.example.d39"), 40);
}

/* ---- element counts and types ---- */

static int64_t numel_of(size_t rank, const int64_t *dims) {
  struct tqt_tensor t = {.rank = rank, .dims = (int64_t *)dims};
  return tqt_tensor_numel(&t);
}

static void test_numel_of_a_scalar_is_one(void **state) {
  (void)state;
  assert_int_equal(numel_of(0, NULL), 1);
}

static void test_numel_is_the_product_of_dims(void **state) {
  (void)state;
  const int64_t dims[] = {2, 3, 4, 5};
  assert_int_equal(numel_of(4, dims), 120);
}

static void test_numel_with_a_zero_dim_is_zero(void **state) {
  (void)state;
  const int64_t dims[] = {7, 0, 9};
  assert_int_equal(numel_of(3, dims), 0);
}

static void test_numel_with_a_negative_dim_is_minus_one(void **state) {
  (void)state;
  const int64_t dims[] = {4, -1, 2};
  assert_int_equal(numel_of(3, dims), -1);
}

static void test_numel_that_overflows_is_minus_one(void **state) {
  (void)state;
  const int64_t wraps[] = {INT64_C(1) << 32, INT64_C(1) << 32};
  const int64_t just_over[] = {INT64_MAX / 2 + 1, 2};
  const int64_t largest[] = {INT64_MAX};
  const int64_t fits[] = {INT64_C(1) << 31, INT64_C(1) << 31};
  assert_int_equal(numel_of(2, wraps), -1);
  assert_int_equal(numel_of(2, just_over), -1);
  assert_int_equal(numel_of(1, largest), INT64_MAX);
  assert_int_equal(numel_of(2, fits), INT64_C(1) << 62);
}

static void test_dtype_sizes_and_names_follow_onnx(void **state) {
  (void)state;
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_FLOAT), 4);
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_FLOAT16), 2);
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_BFLOAT16), 2);
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_BOOL), 1);
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_COMPLEX128), 16);
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_STRING), 0);
  assert_int_equal(tqt_dtype_size(-1), 0);
  assert_int_equal(tqt_dtype_size(TQT_DTYPE_COUNT), 0);
  assert_string_equal(tqt_dtype_name(TQT_DTYPE_INT8), "int8");
  assert_string_equal(tqt_dtype_name(TQT_DTYPE_BFLOAT16), "bfloat16");
  assert_string_equal(tqt_dtype_name(99), "dtype(99)");
  assert_string_equal(tqt_dtype_name(-3), "dtype(-3)");
}

/* ---- walking ---- */

struct walk_log {
  char entries[16][32]; /* "name@depth" */
  int n;
  int stop_at; /* index of the visit that returns non-zero, -1 for none */
};

static int walk_record(struct tqt_graph *g, int depth, void *ctx) {
  struct walk_log *log = ctx;
  if (log->n < 16) snprintf(log->entries[log->n], sizeof log->entries[0], "%s@%d", g->name, depth);
  return log->n++ == log->stop_at ? 7 : 0;
}

static struct tqt_graph *add_graph_attr(struct tqt_arena *a, struct tqt_node *n,
                                        const char *attr, const char *name,
                                        struct tqt_graph *parent) {
  struct tqt_graph *g = tqt_graph_create(a, name, parent);
  struct tqt_attr *at = tqt_node_attr_add(a, n, attr, TQT_ATTR_TYPE_GRAPH);
  assert_non_null(g);
  assert_non_null(at);
  at->g = g;
  return g;
}

/* main ─ If ─┬ then ─ Loop ─ body ─ Scan ─┬ s0
 *            │                            └ s1
 *            └ else
 *        Relu (no subgraph), If2 ─ other */
static void build_nested(struct tqt_model *m) {
  struct tqt_arena *a = m->arena;
  m->graph->name = tqt_arena_strdup(a, "main");
  struct tqt_node *if1 = tqt_graph_node_add(a, m->graph, "If", "if1", 0, NULL, 0, NULL);
  assert_int_equal(tqt_node_attr_add_int(a, if1, "unrelated", 1), 0);
  struct tqt_graph *then_g = add_graph_attr(a, if1, "then_branch", "then", m->graph);
  add_graph_attr(a, if1, "else_branch", "else", m->graph);
  struct tqt_node *loop = tqt_graph_node_add(a, then_g, "Loop", "loop", 0, NULL, 0, NULL);
  struct tqt_graph *body = add_graph_attr(a, loop, "body", "body", then_g);
  struct tqt_node *scan = tqt_graph_node_add(a, body, "Scan", "scan", 0, NULL, 0, NULL);
  struct tqt_attr *list = tqt_node_attr_add(a, scan, "branches", TQT_ATTR_TYPE_GRAPHS);
  assert_non_null(list);
  list->n = 2;
  list->graphs = tqt_arena_calloc(a, 2, sizeof *list->graphs);
  list->graphs[0] = tqt_graph_create(a, "s0", body);
  list->graphs[1] = tqt_graph_create(a, "s1", body);
  tqt_graph_node_add(a, m->graph, "Relu", "relu", 0, NULL, 0, NULL);
  struct tqt_node *if2 = tqt_graph_node_add(a, m->graph, "If", "if2", 0, NULL, 0, NULL);
  add_graph_attr(a, if2, "then_branch", "other", m->graph);
}

static void test_walk_visits_nested_subgraphs_depth_first_with_depth(void **state) {
  struct tqt_model *m = *state;
  build_nested(m);
  struct walk_log log = {.stop_at = -1};
  assert_int_equal(tqt_graph_walk(m->graph, walk_record, &log), 0);
  static const char *const expected[] = {"main@0", "then@1", "body@2", "s0@3",
                                         "s1@3",   "else@1", "other@1"};
  assert_int_equal(log.n, 7);
  for (int i = 0; i < 7; i++) assert_string_equal(log.entries[i], expected[i]);
}

static void test_walk_stops_at_the_first_nonzero_return(void **state) {
  struct tqt_model *m = *state;
  build_nested(m);
  struct walk_log log = {.stop_at = 3}; /* s0 */
  assert_int_equal(tqt_graph_walk(m->graph, walk_record, &log), 7);
  assert_int_equal(log.n, 4);
  assert_string_equal(log.entries[3], "s0@3");
}

static void test_walk_of_a_graph_without_subgraphs_visits_it_once(void **state) {
  struct tqt_model *m = *state;
  tqt_graph_node_add(m->arena, m->graph, "Relu", "r", 0, NULL, 0, NULL);
  struct walk_log log = {.stop_at = -1};
  assert_int_equal(tqt_graph_walk(m->graph, walk_record, &log), 0);
  assert_int_equal(log.n, 1);
  assert_string_equal(log.entries[0], "@0");
}

/* ---- the name map ---- */

static void test_name_map_get_of_an_empty_map_is_false(void **state) {
  (void)state;
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  void *v = (void *)&map;
  assert_false(tqt_name_map_get(&map, "x", &v));
  assert_ptr_equal(v, &map); /* untouched */
  tqt_name_map_free(&map);
}

static void test_name_map_put_then_get_returns_the_value(void **state) {
  (void)state;
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  int a = 1, b = 2;
  assert_int_equal(tqt_name_map_put(&map, "conv1", &a), 0);
  assert_int_equal(tqt_name_map_put(&map, "conv2", &b), 0);
  void *v = NULL;
  assert_true(tqt_name_map_get(&map, "conv1", &v));
  assert_ptr_equal(v, &a);
  assert_true(tqt_name_map_get(&map, "conv2", &v));
  assert_ptr_equal(v, &b);
  assert_true(tqt_name_map_get(&map, "conv2", NULL));
  assert_false(tqt_name_map_get(&map, "conv", &v));
  assert_int_equal(map.count, 2);
  tqt_name_map_free(&map);
}

static void test_name_map_compares_keys_by_content(void **state) {
  (void)state;
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  char stored[] = "relu_out", probe[] = "relu_out";
  assert_int_equal(tqt_name_map_put(&map, stored, NULL), 0);
  assert_true(tqt_name_map_get(&map, probe, NULL));
  assert_int_equal(tqt_name_map_put(&map, "", (void *)1), 0); /* "" is a key like any other */
  void *v = NULL;
  assert_true(tqt_name_map_get(&map, "", &v));
  assert_ptr_equal(v, (void *)1);
  tqt_name_map_free(&map);
}

static void test_name_map_put_of_an_existing_key_replaces_the_value(void **state) {
  (void)state;
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  assert_int_equal(tqt_name_map_put(&map, "k", (void *)1), 0);
  assert_int_equal(tqt_name_map_put(&map, "k", (void *)2), 0);
  void *v = NULL;
  assert_true(tqt_name_map_get(&map, "k", &v));
  assert_ptr_equal(v, (void *)2);
  assert_int_equal(map.count, 1);
  tqt_name_map_free(&map);
}

static void test_name_map_grows_to_thousands_of_keys(void **state) {
  (void)state;
  enum { N = 20000 };
  char(*keys)[16] = malloc(N * sizeof *keys);
  assert_non_null(keys);
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  for (size_t i = 0; i < N; i++) {
    snprintf(keys[i], sizeof keys[i], "value_%zu", i);
    assert_int_equal(tqt_name_map_put(&map, keys[i], (void *)(uintptr_t)(i + 1)), 0);
  }
  assert_int_equal(map.count, N);
  assert_true(map.cap >= N);
  assert_int_equal(map.cap & (map.cap - 1), 0); /* a power of two */
  for (size_t i = 0; i < N; i++) {
    void *v = NULL;
    assert_true(tqt_name_map_get(&map, keys[i], &v));
    assert_int_equal((uintptr_t)v, i + 1);
  }
  /* Replacing after growth neither loses nor duplicates keys. */
  for (size_t i = 0; i < N; i += 3)
    assert_int_equal(tqt_name_map_put(&map, keys[i], (void *)(uintptr_t)0), 0);
  assert_int_equal(map.count, N);
  for (size_t i = 0; i < N; i++) {
    void *v = NULL;
    assert_true(tqt_name_map_get(&map, keys[i], &v));
    assert_int_equal((uintptr_t)v, i % 3 == 0 ? 0 : i + 1);
  }
  assert_false(tqt_name_map_get(&map, "value_20000", NULL));
  assert_false(tqt_name_map_get(&map, "value_", NULL));
  tqt_name_map_free(&map);
  free(keys);
}

static void test_name_map_free_leaves_an_empty_map(void **state) {
  (void)state;
  struct tqt_name_map map;
  tqt_name_map_init(&map);
  assert_int_equal(tqt_name_map_put(&map, "a", NULL), 0);
  tqt_name_map_free(&map);
  assert_int_equal(map.count, 0);
  assert_int_equal(map.cap, 0);
  assert_false(tqt_name_map_get(&map, "a", NULL));
  assert_int_equal(tqt_name_map_put(&map, "b", NULL), 0); /* usable again */
  assert_true(tqt_name_map_get(&map, "b", NULL));
  tqt_name_map_free(&map);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      MODEL_TEST(test_model_create_gives_an_empty_main_graph),
      MODEL_TEST(test_node_add_copies_op_name_inputs_and_outputs),
      MODEL_TEST(test_node_add_keeps_every_node_in_order_while_growing),
      MODEL_TEST(test_input_add_records_elem_type_and_dims),
      MODEL_TEST(test_output_add_of_a_scalar_has_rank_zero),
      MODEL_TEST(test_many_inputs_and_outputs_keep_their_names),
      MODEL_TEST(test_initializer_add_copies_the_data),
      MODEL_TEST(test_initializer_add_without_data_is_zeros),
      MODEL_TEST(test_initializer_add_refuses_types_without_a_size),
      MODEL_TEST(test_attr_add_keeps_earlier_attributes),
      MODEL_TEST(test_attr_add_of_empty_ints_is_an_empty_list),
      MODEL_TEST(test_attr_find_of_a_missing_name_is_null),
      MODEL_TEST(test_attr_add_of_a_graph_holds_the_subgraph),
      MODEL_TEST(test_opset_of_a_domain_not_imported_is_zero),
      MODEL_TEST(test_opset_treats_empty_and_ai_onnx_as_one_domain),
      MODEL_TEST(test_opset_set_keeps_other_domains_apart),
      MODEL_TEST(test_opset_set_adds_many_domains),
      cmocka_unit_test(test_numel_of_a_scalar_is_one),
      cmocka_unit_test(test_numel_is_the_product_of_dims),
      cmocka_unit_test(test_numel_with_a_zero_dim_is_zero),
      cmocka_unit_test(test_numel_with_a_negative_dim_is_minus_one),
      cmocka_unit_test(test_numel_that_overflows_is_minus_one),
      cmocka_unit_test(test_dtype_sizes_and_names_follow_onnx),
      MODEL_TEST(test_walk_visits_nested_subgraphs_depth_first_with_depth),
      MODEL_TEST(test_walk_stops_at_the_first_nonzero_return),
      MODEL_TEST(test_walk_of_a_graph_without_subgraphs_visits_it_once),
      cmocka_unit_test(test_name_map_get_of_an_empty_map_is_false),
      cmocka_unit_test(test_name_map_put_then_get_returns_the_value),
      cmocka_unit_test(test_name_map_compares_keys_by_content),
      cmocka_unit_test(test_name_map_put_of_an_existing_key_replaces_the_value),
      cmocka_unit_test(test_name_map_grows_to_thousands_of_keys),
      cmocka_unit_test(test_name_map_free_leaves_an_empty_map),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
