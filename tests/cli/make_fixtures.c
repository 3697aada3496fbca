/* Writes the small models the CLI tests feed to onnx-tqt, built with the IR builders:
 *   undefined.onnx   a node reads a name nobody defines      (invalid)
 *   cycle.onnx       two nodes read each other's output      (invalid)
 *   unproduced.onnx  a graph output no node produces         (invalid)
 *   unsorted.onnx    a valid chain stored out of order       (valid: onnx-tqt sorts it)
 * usage: make_fixtures OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "onnx_io.h"

static const int64_t dims[] = {1, 4};

struct fixture_node {
  const char *op, *name;
  const char *in[2]; /* NULL ends the list */
  const char *out;
};

/* One graph with input x, output y (and `extra_output` when not NULL) and the nodes. */
static enum tqt_status fixture_write(const char *dir, const char *file,
                                     const struct fixture_node *nodes, size_t n_nodes,
                                     const char *extra_output, struct tqt_diag *d) {
  enum tqt_status st = TQT_STATUS_NOMEM;
  char *path = NULL;
  struct tqt_model *m = tqt_model_create();
  if (!m) goto fail;
  struct tqt_arena *a = m->arena;
  m->has_ir_version = true;
  m->ir_version = 7;
  m->producer_name = tqt_arena_strdup(a, "make_fixtures");
  m->graph->name = tqt_arena_strdup(a, file);
  if (!m->producer_name || !m->graph->name || tqt_model_opset_set(m, "", 13) ||
      !tqt_graph_input_add(a, m->graph, "x", TQT_DTYPE_FLOAT, 2, dims) ||
      !tqt_graph_output_add(a, m->graph, "y", TQT_DTYPE_FLOAT, 2, dims) ||
      (extra_output &&
       !tqt_graph_output_add(a, m->graph, extra_output, TQT_DTYPE_FLOAT, 2, dims)))
    goto fail;
  for (size_t i = 0; i < n_nodes; i++) {
    size_t n_in = 0;
    while (n_in < 2 && nodes[i].in[n_in]) n_in++;
    const char *outs[] = {nodes[i].out};
    if (!tqt_graph_node_add(a, m->graph, nodes[i].op, nodes[i].name, n_in, nodes[i].in, 1, outs))
      goto fail;
  }
  size_t len = strlen(dir) + strlen(file) + 2;
  if (!(path = malloc(len))) goto fail;
  snprintf(path, len, "%s/%s", dir, file);
  st = tqt_model_save(m, path, NULL, d);
fail:
  if (st == TQT_STATUS_NOMEM) tqt_diag_fail(d, st, "%s: out of memory", file);
  free(path);
  tqt_model_destroy(m);
  return st;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_fixtures OUTDIR\n");
    return 2;
  }
  const char *dir = argv[1];
  static const struct fixture_node undefined[] = {
      {"Relu", "relu_1", {"x"}, "r"},
      {"Add", "add_ghost", {"r", "ghost"}, "y"},
  };
  static const struct fixture_node cycle[] = {
      {"Add", "ring_a", {"x", "b"}, "a"},
      {"Relu", "ring_b", {"a"}, "b"},
      {"Identity", "out", {"a"}, "y"},
  };
  static const struct fixture_node unproduced[] = {
      {"Relu", "relu_1", {"x"}, "y"},
  };
  static const struct fixture_node unsorted[] = {
      {"Neg", "third", {"b"}, "y"},
      {"Abs", "second", {"a"}, "b"},
      {"Relu", "first", {"x"}, "a"},
  };
  struct tqt_diag d = {0};
  if (fixture_write(dir, "undefined.onnx", undefined, 2, NULL, &d) ||
      fixture_write(dir, "cycle.onnx", cycle, 3, NULL, &d) ||
      fixture_write(dir, "unproduced.onnx", unproduced, 1, "not_produced", &d) ||
      fixture_write(dir, "unsorted.onnx", unsorted, 3, NULL, &d)) {
    fprintf(stderr, "make_fixtures: %s\n", d.msg);
    return 1;
  }
  return 0;
}
