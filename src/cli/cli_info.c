/* onnx-tqt info MODEL: what a model holds, at a glance. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ir_names.h"
#include "onnx_io.h"

static const char info_help[] =
    "usage: onnx-tqt info MODEL.onnx\n"
    "\n"
    "Prints the IR version, producer, opsets, the count of nodes by op type (subgraphs and\n"
    "function bodies included), inputs and outputs with types and shapes, model-local\n"
    "functions, subgraphs (count and depth) and the bytes of initializers.\n";

struct info_text {
  char buf[512];
  size_t len;
};

static void info_text_add(struct info_text *t, const char *fmt, ...) {
  if (t->len >= sizeof t->buf - 1) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
  va_end(ap);
  if (n > 0) t->len += (size_t)n < sizeof t->buf - t->len ? (size_t)n : sizeof t->buf - 1 - t->len;
}

/* A readable form of a type: "float[1,3,N,W]", "seq(float[?])", "map(int64,float[])". */
static void info_type_format(struct info_text *out, const struct tqt_type *t) {
  if (!t || t->kind == TQT_TYPE_KIND_NONE) {
    info_text_add(out, "?");
    return;
  }
  switch (t->kind) {
  case TQT_TYPE_KIND_TENSOR:
  case TQT_TYPE_KIND_SPARSE_TENSOR:
    info_text_add(out, "%s%s", t->kind == TQT_TYPE_KIND_SPARSE_TENSOR ? "sparse " : "",
                  t->has_elem_type ? tqt_dtype_name(t->elem_type) : "?");
    if (!t->has_shape) {
      info_text_add(out, "[rank ?]");
      return;
    }
    info_text_add(out, "[");
    for (size_t i = 0; i < t->rank; i++) {
      const struct tqt_dim *dim = &t->dims[i];
      if (dim->has_value)
        info_text_add(out, "%s%" PRId64, i ? "," : "", dim->value);
      else
        info_text_add(out, "%s%s", i ? "," : "", dim->param ? dim->param : "?");
    }
    info_text_add(out, "]");
    return;
  case TQT_TYPE_KIND_SEQUENCE: info_text_add(out, "seq("); break;
  case TQT_TYPE_KIND_OPTIONAL: info_text_add(out, "optional("); break;
  case TQT_TYPE_KIND_MAP:
    info_text_add(out, "map(%s,", t->has_key_type ? tqt_dtype_name(t->key_type) : "?");
    break;
  case TQT_TYPE_KIND_NONE: break;
  }
  info_type_format(out, t->elem);
  info_text_add(out, ")");
}

struct info_stats {
  struct tqt_name_map ops; /* "domain:op" or "op" → count (as uintptr_t) */
  const char **op_keys;    /* keys in first-seen order, malloc'd strings */
  size_t n_ops;
  size_t nodes, subgraphs;
  int depth;
  size_t initializers, external;
  uint64_t initializer_bytes;
  int failed;
};

static void info_count_node(struct info_stats *s, const struct tqt_node *n) {
  char key[512];
  snprintf(key, sizeof key, "%s%s%s", n->domain, *n->domain ? ":" : "", n->op_type);
  void *v = NULL;
  s->nodes++;
  if (tqt_name_map_get(&s->ops, key, &v)) {
    tqt_name_map_put(&s->ops, key, (void *)((uintptr_t)v + 1));
    return;
  }
  const char **grown = realloc(s->op_keys, (s->n_ops + 1) * sizeof *grown);
  char *copy = strdup(key);
  if (!grown || !copy || tqt_name_map_put(&s->ops, copy, (void *)(uintptr_t)1)) {
    if (grown) s->op_keys = grown;
    free(copy);
    s->failed = 1;
    return;
  }
  s->op_keys = grown;
  s->op_keys[s->n_ops++] = copy;
}

static int info_visit(struct tqt_graph *g, int depth, void *ctx) {
  struct info_stats *s = ctx;
  if (depth > 0) s->subgraphs++;
  if (depth > s->depth) s->depth = depth;
  for (size_t i = 0; i < g->n_nodes; i++) info_count_node(s, g->nodes[i]);
  for (size_t i = 0; i < g->n_initializers; i++) {
    const struct tqt_tensor *t = g->initializers[i];
    int64_t numel = tqt_tensor_numel(t);
    s->initializers++;
    s->external += t->external != NULL;
    uint64_t n = (uint64_t)(numel > 0 ? numel : 0);
    /* as stored: 4-bit elements two a byte */
    s->initializer_bytes += tqt_dtype_is_4bit(t->dtype) ? tqt_int4_packed_size((size_t)n)
                            : t->data ? t->nbytes
                                      : n * tqt_dtype_size(t->dtype);
  }
  return 0;
}

static int info_op_cmp(const void *a, const void *b, void *ctx) {
  const struct tqt_name_map *ops = ctx;
  void *va = NULL, *vb = NULL;
  tqt_name_map_get(ops, *(const char *const *)a, &va);
  tqt_name_map_get(ops, *(const char *const *)b, &vb);
  if ((uintptr_t)va != (uintptr_t)vb) return (uintptr_t)va < (uintptr_t)vb ? 1 : -1;
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void info_value_infos(const char *title, const struct tqt_value_info *v, size_t n) {
  printf("%s (%zu):\n", title, n);
  for (size_t i = 0; i < n; i++) {
    struct info_text type = {"", 0};
    info_type_format(&type, v[i].type);
    printf("  %-24s %s\n", v[i].name, type.buf);
  }
}

int cli_info_main(int argc, char **argv) {
  static const struct option options[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
    if (opt == 'h') {
      fputs(info_help, stdout);
      return CLI_EXIT_OK;
    }
    return cli_usage_error("info: unknown option '%s'", argv[optind - 1]);
  }
  if (argc - optind != 1) return cli_usage_error("info: expected one MODEL.onnx");
  const char *path = argv[optind];
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  struct info_stats s = {0};
  tqt_name_map_init(&s.ops);
  if (tqt_model_load(path, &m, &d) != TQT_STATUS_OK) goto done;

  printf("model: %s\n", path);
  printf("ir_version: %" PRId64 "\n", m->ir_version);
  printf("producer: %s %s\n", *m->producer_name ? m->producer_name : "(none)",
         m->producer_version);
  if (*m->domain) printf("domain: %s\n", m->domain);
  if (m->has_model_version) printf("model_version: %" PRId64 "\n", m->model_version);
  printf("opsets:");
  for (size_t i = 0; i < m->n_opsets; i++)
    printf(" %s %" PRId64 "%s", *m->opsets[i].domain ? m->opsets[i].domain : "ai.onnx",
           m->opsets[i].version, i + 1 < m->n_opsets ? "," : "");
  printf("\n");
  for (size_t i = 0; i < m->n_metadata; i++)
    printf("metadata: %s = %s\n", m->metadata[i].key, m->metadata[i].value);
  info_value_infos("inputs", m->graph->inputs, m->graph->n_inputs);
  info_value_infos("outputs", m->graph->outputs, m->graph->n_outputs);

  tqt_graph_walk(m->graph, info_visit, &s);
  size_t main_nodes = s.nodes;
  for (size_t i = 0; i < m->n_functions; i++)
    for (size_t k = 0; k < m->functions[i]->n_nodes; k++)
      info_count_node(&s, m->functions[i]->nodes[k]);
  if (s.failed) {
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto done;
  }
  printf("nodes: %zu in the graph and its subgraphs, %zu in functions\n", main_nodes,
         s.nodes - main_nodes);
  qsort_r(s.op_keys, s.n_ops, sizeof *s.op_keys, info_op_cmp, &s.ops);
  printf("ops (%zu types):\n", s.n_ops);
  for (size_t i = 0; i < s.n_ops; i++) {
    void *v = NULL;
    tqt_name_map_get(&s.ops, s.op_keys[i], &v);
    printf("  %-24s %zu\n", s.op_keys[i], (size_t)(uintptr_t)v);
  }
  printf("functions (%zu):\n", m->n_functions);
  for (size_t i = 0; i < m->n_functions; i++)
    printf("  %s%s%s  %zu nodes, %zu inputs, %zu outputs\n", m->functions[i]->domain,
           *m->functions[i]->domain ? ":" : "", m->functions[i]->name, m->functions[i]->n_nodes,
           m->functions[i]->n_inputs, m->functions[i]->n_outputs);
  printf("subgraphs: %zu, deepest nesting %d\n", s.subgraphs, s.depth);
  printf("initializers: %zu tensors, %" PRIu64 " bytes", s.initializers, s.initializer_bytes);
  if (s.external) printf(" (%zu in external data)", s.external);
  printf("\n");
done:
  for (size_t i = 0; i < s.n_ops; i++) free((void *)s.op_keys[i]);
  free(s.op_keys);
  tqt_name_map_free(&s.ops);
  tqt_model_destroy(m);
  return cli_diag_exit(&d);
}
