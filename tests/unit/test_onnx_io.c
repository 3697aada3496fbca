/* ONNX files ⇄ IR: the round trip keeps everything, tqt_model_equal sees one changed thing,
 * external data, hostile and broken files, typed tensor fields, atomic saving.
 * Hostile and unusual files are crafted with the generated protobuf-c API. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ir.h"
#include "onnx_io.h"
#include "proto/onnx.pb-c.h"

/* ---- a fresh temporary folder per test ---- */

struct io_state {
  char dir[256];
  struct tqt_arena *scratch; /* crafted protobuf messages live here */
};

static int setup_dir(void **state) {
  struct io_state *s = calloc(1, sizeof *s);
  if (!s) return -1;
  const char *tmp = getenv("TMPDIR");
  snprintf(s->dir, sizeof s->dir, "%s/tqt-onnx-io-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  s->scratch = tqt_arena_create();
  if (!mkdtemp(s->dir) || !s->scratch) {
    tqt_arena_destroy(s->scratch);
    free(s);
    return -1;
  }
  *state = s;
  return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int teardown_dir(void **state) {
  struct io_state *s = *state;
  int rc = nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  tqt_arena_destroy(s->scratch);
  free(s);
  return rc;
}

#define IO_TEST(fn) cmocka_unit_test_setup_teardown(fn, setup_dir, teardown_dir)

/* dir/name (kept in a small ring of buffers). */
static const char *in_dir(const struct io_state *s, const char *name) {
  static char paths[8][512];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, sizeof paths[0], "%s/%s", s->dir, name);
  return p;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, len, fp), len);
  assert_int_equal(fclose(fp), 0);
}

/* The whole file, malloc'd (NUL after it); *len its size. */
static char *read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fseek(fp, 0, SEEK_END), 0);
  long size = ftell(fp);
  assert_true(size >= 0);
  rewind(fp);
  char *buf = malloc((size_t)size + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
  buf[size] = '\0';
  fclose(fp);
  *len = (size_t)size;
  return buf;
}

/* Names in the folder, sorted and joined by ' ' ("" when empty). */
static const char *dir_listing(const char *dir) {
  static char buf[1024];
  struct dirent **names;
  int n = scandir(dir, &names, NULL, alphasort);
  assert_true(n >= 0);
  buf[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
      if (buf[0]) strncat(buf, " ", sizeof buf - strlen(buf) - 1);
      strncat(buf, names[i]->d_name, sizeof buf - strlen(buf) - 1);
    }
    free(names[i]);
  }
  free(names);
  return buf;
}

#define assert_msg_has(d, text)                                                                  \
  do {                                                                                           \
    if (!strstr((d)->msg, (text))) fail_msg("message \"%s\" lacks \"%s\"", (d)->msg, (text));   \
  } while (0)

/* ---- a model with every kind of thing ONNX 1.12 can hold ---- */

static struct tqt_tensor *tensor_new(struct tqt_arena *a, const char *name, int32_t dtype,
                                     size_t rank, const int64_t *dims, const void *data,
                                     size_t nbytes) {
  struct tqt_tensor *t = tqt_arena_calloc(a, 1, sizeof *t);
  assert_non_null(t);
  t->name = tqt_arena_strdup(a, name);
  t->doc = tqt_arena_strdup(a, "");
  t->dtype = dtype;
  t->rank = rank;
  t->dims = tqt_arena_calloc(a, rank ? rank : 1, sizeof *t->dims);
  if (rank) memcpy(t->dims, dims, rank * sizeof *dims);
  t->data = tqt_arena_memdup(a, data, nbytes);
  t->nbytes = nbytes;
  assert_int_equal(tqt_tensor_numel(t) * (int64_t)tqt_dtype_size(dtype), (int64_t)nbytes);
  return t;
}

static void graph_initializer_push(struct tqt_arena *a, struct tqt_graph *g, struct tqt_tensor *t) {
  assert_int_equal(tqt_arena_reserve(a, (void **)&g->initializers, &g->cap_initializers,
                                     g->n_initializers + 1, sizeof *g->initializers),
                   0);
  g->initializers[g->n_initializers++] = t;
}

static struct tqt_tensor *string_tensor_new(struct tqt_arena *a, const char *name) {
  static const char *const values[] = {"plain", "", "nul\0inside", "\xc3\xa9t\xc3\xa9"};
  static const size_t lens[] = {5, 0, 10, 6};
  const int64_t dims[] = {2, 2};
  struct tqt_tensor *t = tqt_arena_calloc(a, 1, sizeof *t);
  t->name = tqt_arena_strdup(a, name);
  t->doc = tqt_arena_strdup(a, "strings, one with a NUL");
  t->dtype = TQT_DTYPE_STRING;
  t->rank = 2;
  t->dims = (void *)tqt_arena_memdup(a, dims, sizeof dims);
  t->n_strings = 4;
  t->strings = tqt_arena_calloc(a, 4, sizeof *t->strings);
  for (size_t i = 0; i < 4; i++) {
    t->strings[i].data = tqt_arena_memdup(a, values[i], lens[i]);
    t->strings[i].len = lens[i];
  }
  return t;
}

static struct tqt_sparse_tensor *sparse_new(struct tqt_arena *a, const char *name) {
  struct tqt_sparse_tensor *s = tqt_arena_calloc(a, 1, sizeof *s);
  const float values[] = {1.5f, -2.0f, 8.0f};
  const int64_t indices[] = {1, 5, 9}, nnz[] = {3}, dims[] = {10};
  s->values = tensor_new(a, name, TQT_DTYPE_FLOAT, 1, nnz, values, sizeof values);
  char *iname = tqt_arena_printf(a, "%s_indices", name);
  s->indices = tensor_new(a, iname, TQT_DTYPE_INT64, 1, nnz, indices, sizeof indices);
  s->rank = 1;
  s->dims = (void *)tqt_arena_memdup(a, dims, sizeof dims);
  return s;
}

static struct tqt_type *type_new(struct tqt_arena *a, enum tqt_type_kind kind,
                                 struct tqt_type *elem) {
  struct tqt_type *t = tqt_arena_calloc(a, 1, sizeof *t);
  t->kind = kind;
  t->elem = elem;
  return t;
}

/* float[N,3,?,4] with a symbolic batch, an unknown dim and denotations. */
static struct tqt_type *symbolic_type_new(struct tqt_arena *a) {
  const int64_t dims[] = {-1, 3, -1, 4};
  struct tqt_type *t = tqt_type_tensor_create(a, TQT_DTYPE_FLOAT, 4, dims);
  t->denotation = tqt_arena_strdup(a, "IMAGE");
  t->dims[0].param = tqt_arena_strdup(a, "N");
  t->dims[0].denotation = tqt_arena_strdup(a, "DATA_BATCH");
  t->dims[1].denotation = tqt_arena_strdup(a, "DATA_CHANNEL");
  return t;
}

static struct tqt_graph *small_graph_new(struct tqt_arena *a, const char *name,
                                         struct tqt_graph *parent) {
  struct tqt_graph *g = tqt_graph_create(a, name, parent);
  const int64_t d1[] = {1};
  char *in = tqt_arena_printf(a, "%s_in", name), *out = tqt_arena_printf(a, "%s_out", name);
  const char *ins[] = {in}, *outs[] = {out};
  assert_non_null(tqt_graph_input_add(a, g, in, TQT_DTYPE_FLOAT, 1, d1));
  assert_non_null(tqt_graph_output_add(a, g, out, TQT_DTYPE_FLOAT, 1, d1));
  struct tqt_node *n = tqt_graph_node_add(a, g, "Relu", name, 1, ins, 1, outs);
  assert_non_null(n);
  assert_int_equal(tqt_node_attr_add_int(a, n, "depth_marker", 3), 0);
  return g;
}

static void everything_node_attrs(struct tqt_arena *a, struct tqt_graph *g, struct tqt_node *n) {
  struct tqt_attr *at;
  assert_int_equal(tqt_node_attr_add_float(a, n, "a_float", -1.25f), 0);
  assert_int_equal(tqt_node_attr_add_int(a, n, "an_int", -7), 0);
  at = tqt_node_attr_add(a, n, "a_string", TQT_ATTR_TYPE_STRING);
  at->s.data = tqt_arena_memdup(a, "a\0b", 3);
  at->s.len = 3;
  at->doc = tqt_arena_strdup(a, "a string with a NUL inside");

  const int32_t ivals[] = {1, -2};
  const int64_t d2[] = {2};
  at = tqt_node_attr_add(a, n, "a_tensor", TQT_ATTR_TYPE_TENSOR);
  at->t = tensor_new(a, "attr_tensor", TQT_DTYPE_INT32, 1, d2, ivals, sizeof ivals);
  at = tqt_node_attr_add(a, n, "a_graph", TQT_ATTR_TYPE_GRAPH);
  at->g = small_graph_new(a, "sub", g);

  at = tqt_node_attr_add(a, n, "some_floats", TQT_ATTR_TYPE_FLOATS);
  const float fl[] = {0.5f, -2.0f, INFINITY, 1e-30f};
  at->floats = (void *)tqt_arena_memdup(a, fl, sizeof fl);
  at->n = 4;
  const int64_t il[] = {1, -1, INT64_MAX, INT64_MIN};
  assert_int_equal(tqt_node_attr_add_ints(a, n, "some_ints", 4, il), 0);
  at = tqt_node_attr_add(a, n, "some_strings", TQT_ATTR_TYPE_STRINGS);
  at->n = 3;
  at->strings = tqt_arena_calloc(a, 3, sizeof *at->strings);
  at->strings[0] = (struct tqt_bytes){tqt_arena_memdup(a, "", 0), 0};
  at->strings[1] = (struct tqt_bytes){tqt_arena_memdup(a, "x\0y", 3), 3};
  at->strings[2] = (struct tqt_bytes){tqt_arena_memdup(a, "SAME_UPPER", 10), 10};

  at = tqt_node_attr_add(a, n, "some_tensors", TQT_ATTR_TYPE_TENSORS);
  at->n = 2;
  at->tensors = tqt_arena_calloc(a, 2, sizeof *at->tensors);
  const double dv = 3.25;
  const uint8_t bv[] = {0, 1, 1};
  const int64_t d3[] = {3};
  at->tensors[0] = tensor_new(a, "list_t0", TQT_DTYPE_DOUBLE, 0, NULL, &dv, sizeof dv);
  at->tensors[1] = tensor_new(a, "list_t1", TQT_DTYPE_BOOL, 1, d3, bv, sizeof bv);
  at = tqt_node_attr_add(a, n, "some_graphs", TQT_ATTR_TYPE_GRAPHS);
  at->n = 2;
  at->graphs = tqt_arena_calloc(a, 2, sizeof *at->graphs);
  at->graphs[0] = small_graph_new(a, "g0", g);
  at->graphs[1] = small_graph_new(a, "g1", g);

  at = tqt_node_attr_add(a, n, "a_sparse_tensor", TQT_ATTR_TYPE_SPARSE_TENSOR);
  at->sparse = sparse_new(a, "attr_sparse");
  at = tqt_node_attr_add(a, n, "some_sparse_tensors", TQT_ATTR_TYPE_SPARSE_TENSORS);
  at->n = 1;
  at->sparse_tensors = tqt_arena_calloc(a, 1, sizeof *at->sparse_tensors);
  at->sparse_tensors[0] = sparse_new(a, "attr_sparse_list");

  /* map(int64, seq(float[3])) */
  const int64_t d3f[] = {3};
  struct tqt_type *map = type_new(a, TQT_TYPE_KIND_MAP,
                                  type_new(a, TQT_TYPE_KIND_SEQUENCE,
                                           tqt_type_tensor_create(a, TQT_DTYPE_FLOAT, 1, d3f)));
  map->has_key_type = true;
  map->key_type = TQT_DTYPE_INT64;
  at = tqt_node_attr_add(a, n, "a_type", TQT_ATTR_TYPE_TYPE_PROTO);
  at->tp = map;
  at = tqt_node_attr_add(a, n, "some_types", TQT_ATTR_TYPE_TYPE_PROTOS);
  at->n = 2;
  at->type_protos = tqt_arena_calloc(a, 2, sizeof *at->type_protos);
  at->type_protos[0] = symbolic_type_new(a);
  at->type_protos[1] = type_new(a, TQT_TYPE_KIND_OPTIONAL,
                                tqt_type_tensor_create(a, TQT_DTYPE_INT8, 0, NULL));

  at = tqt_node_attr_add(a, n, "no_floats", TQT_ATTR_TYPE_FLOATS);
  at->floats = tqt_arena_calloc(a, 1, sizeof(float));
  assert_non_null(tqt_node_attr_add(a, n, "nothing", TQT_ATTR_TYPE_UNDEFINED));
}

/* One initializer per element type, with bytes that differ per type and element. */
static void every_dtype_initializers(struct tqt_arena *a, struct tqt_graph *g) {
  for (int32_t dtype = 1; dtype < TQT_DTYPE_COUNT; dtype++) {
    /* the float8 types are named only */
    if (dtype >= TQT_DTYPE_FLOAT8E4M3FN && dtype <= TQT_DTYPE_FLOAT8E5M2FNUZ) continue;
    if (dtype == TQT_DTYPE_STRING) {
      graph_initializer_push(a, g, string_tensor_new(a, "init_string"));
      continue;
    }
    const int64_t dims[] = {3, 2};
    size_t nbytes = 6 * tqt_dtype_size(dtype);
    unsigned char bytes[96];
    for (size_t i = 0; i < nbytes; i++) bytes[i] = (unsigned char)(i * 37 + (size_t)dtype * 11);
    if (dtype == TQT_DTYPE_BOOL)
      for (size_t i = 0; i < nbytes; i++) bytes[i] &= 1;
    /* 4-bit: one element a byte, in range (files pack two a byte) */
    for (size_t i = 0; tqt_dtype_is_4bit(dtype) && i < nbytes; i++)
      bytes[i] = dtype == TQT_DTYPE_INT4 && (bytes[i] & 8) ? bytes[i] | 0xf0 : bytes[i] & 0x0f;
    char *name = tqt_arena_printf(a, "init_%s", tqt_dtype_name(dtype));
    assert_non_null(tqt_graph_initializer_add(a, g, name, dtype, 2, dims, bytes));
  }
  /* Half floats by their bits: 1.0, NaN, -0.0, -inf (float16); 1.0, NaN, -0.0, -inf (bfloat16). */
  const uint16_t half[] = {0x3c00, 0x7e00, 0x8000, 0xfc00};
  const uint16_t bhalf[] = {0x3f80, 0x7fc0, 0x8000, 0xff80};
  const int64_t d4[] = {4};
  assert_non_null(tqt_graph_initializer_add(a, g, "half_bits", TQT_DTYPE_FLOAT16, 1, d4, half));
  assert_non_null(tqt_graph_initializer_add(a, g, "bhalf_bits", TQT_DTYPE_BFLOAT16, 1, d4, bhalf));
  /* A scalar, an empty tensor and a float weight with a doc string. */
  const float one = 1.0f;
  assert_non_null(tqt_graph_initializer_add(a, g, "scalar", TQT_DTYPE_FLOAT, 0, NULL, &one));
  const int64_t d0[] = {0, 5};
  assert_non_null(tqt_graph_initializer_add(a, g, "empty", TQT_DTYPE_FLOAT, 2, d0, NULL));
  float w[64];
  for (int i = 0; i < 64; i++) w[i] = (float)i * 0.125f - 3.0f;
  const int64_t d64[] = {8, 8};
  struct tqt_tensor *wt = tqt_graph_initializer_add(a, g, "w_f32", TQT_DTYPE_FLOAT, 2, d64, w);
  assert_non_null(wt);
  wt->doc = tqt_arena_strdup(a, "the weight");
}

static void value_infos(struct tqt_arena *a, struct tqt_graph *g) {
  const int64_t dy[] = {-1, 10};
  assert_non_null(tqt_graph_input_add(a, g, "x", TQT_DTYPE_FLOAT, 0, NULL));
  g->inputs[0].type = symbolic_type_new(a);
  g->inputs[0].doc = tqt_arena_strdup(a, "the image");
  const int64_t d3[] = {3};
  assert_non_null(tqt_graph_input_add(a, g, "seq_in", TQT_DTYPE_FLOAT, 0, NULL));
  g->inputs[1].type = type_new(a, TQT_TYPE_KIND_SEQUENCE,
                               tqt_type_tensor_create(a, TQT_DTYPE_FLOAT, 1, d3));
  assert_non_null(tqt_graph_input_add(a, g, "sparse_in", TQT_DTYPE_FLOAT, 1, d3));
  g->inputs[2].type->kind = TQT_TYPE_KIND_SPARSE_TENSOR;
  assert_non_null(tqt_graph_input_add(a, g, "untyped", TQT_DTYPE_FLOAT, 0, NULL));
  g->inputs[3].type = NULL;
  assert_non_null(tqt_graph_input_add(a, g, "typeless", TQT_DTYPE_FLOAT, 0, NULL));
  g->inputs[4].type = type_new(a, TQT_TYPE_KIND_NONE, NULL);
  assert_non_null(tqt_graph_input_add(a, g, "rank_unknown", TQT_DTYPE_INT64, 0, NULL));
  g->inputs[5].type->has_shape = false;
  assert_non_null(tqt_graph_output_add(a, g, "y", TQT_DTYPE_FLOAT, 2, dy));
  g->outputs[0].type->dims[0].param = tqt_arena_strdup(a, "N");
  assert_int_equal(tqt_arena_reserve(a, (void **)&g->value_info, &g->cap_value_info, 1,
                                     sizeof *g->value_info),
                   0);
  g->value_info[0].name = tqt_arena_strdup(a, "hidden");
  g->value_info[0].doc = tqt_arena_strdup(a, "between the nodes");
  g->value_info[0].type = tqt_type_tensor_create(a, TQT_DTYPE_FLOAT, 2, dy);
  g->n_value_info = 1;
}

static void local_function(struct tqt_model *m) {
  struct tqt_arena *a = m->arena;
  struct tqt_function *f = tqt_arena_calloc(a, 1, sizeof *f);
  f->name = tqt_arena_strdup(a, "ScaledAdd");
  f->domain = tqt_arena_strdup(a, "com.example");
  f->doc = tqt_arena_strdup(a, "alpha * a + b");
  const char *ins[] = {"a", "b"}, *outs[] = {"c"};
  f->inputs = tqt_arena_calloc(a, 2, sizeof *f->inputs);
  f->inputs[0] = tqt_arena_strdup(a, ins[0]);
  f->inputs[1] = tqt_arena_strdup(a, ins[1]);
  f->n_inputs = 2;
  f->outputs = tqt_arena_calloc(a, 1, sizeof *f->outputs);
  f->outputs[0] = tqt_arena_strdup(a, outs[0]);
  f->n_outputs = 1;
  f->attributes = tqt_arena_calloc(a, 1, sizeof *f->attributes);
  f->attributes[0] = tqt_arena_strdup(a, "alpha");
  f->n_attributes = 1;
  f->opsets = tqt_arena_calloc(a, 1, sizeof *f->opsets);
  f->opsets[0].domain = tqt_arena_strdup(a, "");
  f->opsets[0].version = 17;
  f->n_opsets = 1;
  struct tqt_graph body = {0}; /* borrowed for the builder; the nodes move to f */
  const char *c_outs[] = {"alpha_t"};
  struct tqt_node *cst = tqt_graph_node_add(a, &body, "Constant", "k", 0, NULL, 1, c_outs);
  struct tqt_attr *ref = tqt_node_attr_add(a, cst, "value_float", TQT_ATTR_TYPE_FLOAT);
  ref->ref_attr_name = tqt_arena_strdup(a, "alpha");
  const char *m_ins[] = {c_outs[0], "a"}, *m_outs[] = {"scaled"};
  tqt_graph_node_add(a, &body, "Mul", "mul", 2, m_ins, 1, m_outs);
  const char *s_ins[] = {"scaled", "b"};
  tqt_graph_node_add(a, &body, "Add", "add", 2, s_ins, 1, outs);
  f->nodes = body.nodes;
  f->n_nodes = body.n_nodes;
  f->cap_nodes = body.cap_nodes;
  assert_int_equal(tqt_arena_reserve(a, (void **)&m->functions, &m->cap_functions, 1,
                                     sizeof *m->functions),
                   0);
  m->functions[m->n_functions++] = f;
}

static struct tqt_model *rich_model_new(void) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  struct tqt_arena *a = m->arena;
  m->has_ir_version = true;
  m->ir_version = 8;
  m->producer_name = tqt_arena_strdup(a, "tqt-unit-test");
  m->producer_version = tqt_arena_strdup(a, "1.0");
  m->domain = tqt_arena_strdup(a, "org.example");
  m->has_model_version = true;
  m->model_version = 42;
  m->doc = tqt_arena_strdup(a, "a model with one of everything");
  assert_int_equal(tqt_model_opset_set(m, "", 17), 0);
  assert_int_equal(tqt_model_opset_set(m, "com.example", 1), 0);
  assert_int_equal(tqt_model_opset_set(m, "ai.onnx.ml", 3), 0);
  m->metadata = tqt_arena_calloc(a, 2, sizeof *m->metadata);
  m->metadata[0] = (struct tqt_string_entry){tqt_arena_strdup(a, "author"),
                                             tqt_arena_strdup(a, "unit tests")};
  m->metadata[1] = (struct tqt_string_entry){tqt_arena_strdup(a, "empty"),
                                             tqt_arena_strdup(a, "")};
  m->n_metadata = 2;

  struct tqt_graph *g = m->graph;
  g->name = tqt_arena_strdup(a, "main");
  g->doc = tqt_arena_strdup(a, "the main graph");
  value_infos(a, g);
  every_dtype_initializers(a, g);
  const char *ins[] = {"x", "", "w_f32"}, *outs[] = {"hidden", ""};
  struct tqt_node *n = tqt_graph_node_add(a, g, "Everything", "everything", 3, ins, 2, outs);
  assert_non_null(n);
  n->domain = tqt_arena_strdup(a, "com.example");
  n->doc = tqt_arena_strdup(a, "every attribute kind");
  everything_node_attrs(a, g, n);
  const char *f_ins[] = {"hidden", "hidden"}, *f_outs[] = {"y"};
  struct tqt_node *call = tqt_graph_node_add(a, g, "ScaledAdd", "call", 2, f_ins, 1, f_outs);
  call->domain = tqt_arena_strdup(a, "com.example");
  assert_int_equal(tqt_node_attr_add_float(a, call, "alpha", 0.5f), 0);

  g->sparse_initializers = tqt_arena_calloc(a, 1, sizeof *g->sparse_initializers);
  g->sparse_initializers[0] = sparse_new(a, "sparse_init");
  g->n_sparse_initializers = 1;
  g->quant_annotations = tqt_arena_calloc(a, 1, sizeof *g->quant_annotations);
  g->quant_annotations[0].tensor_name = tqt_arena_strdup(a, "w_f32");
  g->quant_annotations[0].entries = tqt_arena_calloc(a, 2, sizeof(struct tqt_string_entry));
  g->quant_annotations[0].entries[0] = (struct tqt_string_entry){
      tqt_arena_strdup(a, "SCALE_TENSOR"), tqt_arena_strdup(a, "w_scale")};
  g->quant_annotations[0].entries[1] = (struct tqt_string_entry){
      tqt_arena_strdup(a, "ZERO_POINT_TENSOR"), tqt_arena_strdup(a, "w_zero_point")};
  g->quant_annotations[0].n_entries = 2;
  g->n_quant_annotations = 1;

  local_function(m);

  m->training_info = tqt_arena_calloc(a, 1, sizeof *m->training_info);
  m->training_info[0].initialization = small_graph_new(a, "train_init", NULL);
  m->training_info[0].update_binding = tqt_arena_calloc(a, 1, sizeof(struct tqt_string_entry));
  m->training_info[0].update_binding[0] = (struct tqt_string_entry){
      tqt_arena_strdup(a, "w_f32"), tqt_arena_strdup(a, "train_init_out")};
  m->training_info[0].n_update_binding = 1;
  m->n_training_info = 1;
  return m;
}

static struct tqt_tensor *initializer_named(struct tqt_model *m, const char *name) {
  for (size_t i = 0; i < m->graph->n_initializers; i++)
    if (strcmp(m->graph->initializers[i]->name, name) == 0) return m->graph->initializers[i];
  fail_msg("no initializer '%s'", name);
  return NULL;
}

/* Saves m to dir/name and loads it back. */
static struct tqt_model *save_and_load(struct io_state *s, struct tqt_model *m, const char *name,
                                       const struct tqt_save_options *o) {
  struct tqt_diag d = {0};
  const char *path = in_dir(s, name);
  if (tqt_model_save(m, path, o, &d) != TQT_STATUS_OK) fail_msg("save: %s", d.msg);
  struct tqt_model *back = NULL;
  if (tqt_model_load(path, &back, &d) != TQT_STATUS_OK) fail_msg("load: %s", d.msg);
  assert_non_null(back);
  return back;
}

/* ---- round trip and comparison ---- */

static void test_round_trip_keeps_everything(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  struct tqt_diag d = {0};
  if (!tqt_model_equal(m, back, &d)) fail_msg("round trip differs: %s", d.msg);
  assert_int_equal(d.status, TQT_STATUS_OK);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_round_trip_keeps_nul_inside_strings(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  const struct tqt_attr *at = tqt_node_attr_find(back->graph->nodes[0], "a_string");
  assert_non_null(at);
  assert_int_equal(at->s.len, 3);
  assert_memory_equal(at->s.data, "a\0b", 3);
  const struct tqt_tensor *t = initializer_named(back, "init_string");
  assert_int_equal(t->n_strings, 4);
  assert_int_equal(t->strings[2].len, 10);
  assert_memory_equal(t->strings[2].data, "nul\0inside", 10);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_round_trip_keeps_half_float_bits(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  const uint16_t half[] = {0x3c00, 0x7e00, 0x8000, 0xfc00};
  const uint16_t bhalf[] = {0x3f80, 0x7fc0, 0x8000, 0xff80};
  assert_memory_equal(initializer_named(back, "half_bits")->data, half, sizeof half);
  assert_memory_equal(initializer_named(back, "bhalf_bits")->data, bhalf, sizeof bhalf);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_round_trip_keeps_symbolic_and_unknown_dims(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  const struct tqt_type *t = back->graph->inputs[0].type;
  assert_string_equal(back->graph->inputs[0].name, "x");
  assert_int_equal(t->rank, 4);
  assert_false(t->dims[0].has_value);
  assert_string_equal(t->dims[0].param, "N");
  assert_string_equal(t->dims[0].denotation, "DATA_BATCH");
  assert_true(t->dims[1].has_value);
  assert_int_equal(t->dims[1].value, 3);
  assert_false(t->dims[2].has_value);
  assert_null(t->dims[2].param);
  assert_false(back->graph->inputs[5].type->has_shape);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_loaded_model_remembers_its_path(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  assert_string_equal(back->path, in_dir(s, "rich.onnx"));
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_equal_reports_a_changed_attribute_int(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  struct tqt_attr *at = (struct tqt_attr *)tqt_node_attr_find(back->graph->nodes[0], "an_int");
  assert_non_null(at);
  at->i = -8;
  struct tqt_diag d = {0};
  assert_false(tqt_model_equal(m, back, &d));
  assert_int_equal(d.status, TQT_STATUS_INVALID);
  assert_msg_has(&d, "'everything'");
  assert_msg_has(&d, "'an_int'");
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_equal_reports_a_changed_tensor_byte(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  ((unsigned char *)initializer_named(back, "w_f32")->data)[77] ^= 0x01;
  struct tqt_diag d = {0};
  assert_false(tqt_model_equal(m, back, &d));
  assert_msg_has(&d, "'w_f32'");
  assert_msg_has(&d, "data");
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_equal_reports_a_changed_dim_param(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  back->graph->inputs[0].type->dims[0].param = tqt_arena_strdup(back->arena, "batch");
  struct tqt_diag d = {0};
  assert_false(tqt_model_equal(m, back, &d));
  assert_msg_has(&d, "'x'");
  assert_msg_has(&d, "dim param");
  assert_msg_has(&d, "batch");
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_equal_reports_a_changed_subgraph_attribute(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "rich.onnx", NULL);
  const struct tqt_attr *graphs = tqt_node_attr_find(back->graph->nodes[0], "some_graphs");
  assert_non_null(graphs);
  graphs->graphs[1]->nodes[0]->attrs[0].i = 4;
  struct tqt_diag d = {0};
  assert_false(tqt_model_equal(m, back, &d));
  assert_msg_has(&d, "'g1'");
  assert_msg_has(&d, "'depth_marker'");
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

/* ---- external data ---- */

static const struct tqt_save_options external_always = {TQT_EXTERNAL_ALWAYS, 16};

static void test_external_always_writes_a_data_file_beside_the_model(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, in_dir(s, "ext.onnx"), &external_always, &d),
                   TQT_STATUS_OK);
  assert_string_equal(dir_listing(s->dir), "ext.onnx ext.onnx.data");
  struct stat sb;
  assert_int_equal(stat(in_dir(s, "ext.onnx.data"), &sb), 0);
  assert_true(sb.st_size >= 64 * 4);
  tqt_model_destroy(m);
}

static void test_external_data_stays_on_disk_until_asked_for(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "ext.onnx", &external_always);
  struct tqt_tensor *w = initializer_named(back, "w_f32");
  assert_non_null(w->external);
  assert_null(w->data);
  assert_string_equal(w->external->location, "ext.onnx.data");
  struct tqt_diag d = {0};
  const void *data = tqt_tensor_data(w, back->arena, &d);
  assert_non_null(data);
  assert_int_equal(w->nbytes, 256);
  assert_memory_equal(data, initializer_named(m, "w_f32")->data, 256);
  assert_ptr_equal(tqt_tensor_data(w, back->arena, &d), data); /* read once */
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_external_data_keeps_small_tensors_inline(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "ext.onnx", &external_always);
  struct tqt_tensor *scalar = initializer_named(back, "scalar");
  assert_null(scalar->external);
  assert_non_null(scalar->data);
  assert_null(initializer_named(back, "init_string")->external);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_model_saved_with_external_data_equals_the_original(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "ext.onnx", &external_always);
  struct tqt_diag d = {0};
  if (!tqt_model_equal(m, back, &d)) fail_msg("external round trip differs: %s", d.msg);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_save_reads_external_data_not_yet_loaded(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "ext.onnx", &external_always);
  const struct tqt_save_options never = {TQT_EXTERNAL_NEVER, 0};
  struct tqt_model *inline_copy = save_and_load(s, back, "inline.onnx", &never);
  assert_int_equal(unlink(in_dir(s, "ext.onnx.data")), 0); /* the copy must not need it */
  assert_null(initializer_named(inline_copy, "w_f32")->external);
  struct tqt_diag d = {0};
  if (!tqt_model_equal(m, inline_copy, &d)) fail_msg("copy differs: %s", d.msg);
  tqt_model_destroy(inline_copy);
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

/* ---- crafted protobuf messages ---- */

static void *craft_alloc(struct io_state *s, size_t n, size_t size) {
  void *p = tqt_arena_calloc(s->scratch, n ? n : 1, size);
  assert_non_null(p);
  return p;
}

static Onnx__TensorProto *craft_tensor(struct io_state *s, const char *name, int32_t dtype,
                                       size_t rank, const int64_t *dims) {
  Onnx__TensorProto *tp = craft_alloc(s, 1, sizeof *tp);
  onnx__tensor_proto__init(tp);
  tp->name = tqt_arena_strdup(s->scratch, name);
  tp->has_data_type = true;
  tp->data_type = dtype;
  tp->n_dims = rank;
  tp->dims = craft_alloc(s, rank, sizeof *tp->dims);
  if (rank) memcpy(tp->dims, dims, rank * sizeof *dims);
  return tp;
}

static void craft_raw(struct io_state *s, Onnx__TensorProto *tp, const void *data, size_t len) {
  tp->has_raw_data = true;
  tp->raw_data.len = len;
  tp->raw_data.data = (uint8_t *)tqt_arena_memdup(s->scratch, data, len);
}

static void craft_external(struct io_state *s, Onnx__TensorProto *tp, const char *location,
                           const char *offset, const char *length) {
  tp->has_data_location = true;
  tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  const char *keys[] = {"location", "offset", "length"};
  const char *values[] = {location, offset, length};
  tp->external_data = craft_alloc(s, 3, sizeof *tp->external_data);
  for (size_t i = 0; i < 3; i++) {
    if (!values[i]) continue;
    Onnx__StringStringEntryProto *e = craft_alloc(s, 1, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = (char *)keys[i];
    e->value = (char *)values[i];
    tp->external_data[tp->n_external_data++] = e;
  }
}

/* A model whose main graph holds the given initializers (and nothing else). */
static Onnx__ModelProto *craft_model(struct io_state *s, Onnx__TensorProto **inits, size_t n) {
  Onnx__ModelProto *mp = craft_alloc(s, 1, sizeof *mp);
  Onnx__GraphProto *gp = craft_alloc(s, 1, sizeof *gp);
  Onnx__OperatorSetIdProto *op = craft_alloc(s, 1, sizeof *op);
  onnx__model_proto__init(mp);
  onnx__graph_proto__init(gp);
  onnx__operator_set_id_proto__init(op);
  op->domain = (char *)"";
  op->has_version = true;
  op->version = 17;
  mp->has_ir_version = true;
  mp->ir_version = 8;
  mp->n_opset_import = 1;
  mp->opset_import = craft_alloc(s, 1, sizeof *mp->opset_import);
  mp->opset_import[0] = op;
  gp->name = (char *)"crafted";
  gp->n_initializer = n;
  gp->initializer = inits;
  mp->graph = gp;
  return mp;
}

static void *craft_pack(struct io_state *s, const Onnx__ModelProto *mp, size_t *len) {
  *len = onnx__model_proto__get_packed_size(mp);
  uint8_t *buf = craft_alloc(s, 1, *len);
  assert_int_equal(onnx__model_proto__pack(mp, buf), *len);
  return buf;
}

/* Loads a model holding the one tensor tp from memory, resolving external data in s->dir. */
static enum tqt_status craft_load_one(struct io_state *s, Onnx__TensorProto *tp,
                                      struct tqt_model **out, struct tqt_diag *d) {
  Onnx__TensorProto **inits = craft_alloc(s, 1, sizeof *inits);
  inits[0] = tp;
  size_t len;
  void *buf = craft_pack(s, craft_model(s, inits, 1), &len);
  return tqt_model_load_buffer(buf, len, "crafted.onnx", s->dir, out, d);
}

static void test_external_location_with_dotdot_is_refused(void **state) {
  struct io_state *s = *state;
  const float secret[] = {1, 2, 3, 4};
  write_file(in_dir(s, "secret.bin"), secret, sizeof secret);
  static const char *const hostile[] = {"../secret.bin", "..", "sub/../../secret.bin",
                                        "sub/.."};
  for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
    const int64_t dims[] = {4};
    Onnx__TensorProto *tp = craft_tensor(s, "stolen", TQT_DTYPE_FLOAT, 1, dims);
    craft_external(s, tp, hostile[i], NULL, NULL);
    struct tqt_model *m = (struct tqt_model *)1;
    struct tqt_diag d = {0};
    assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
    assert_null(m);
    assert_msg_has(&d, "crafted.onnx");
    assert_msg_has(&d, "'stolen'");
    assert_msg_has(&d, hostile[i]);
  }
}

static void test_external_location_with_absolute_path_is_refused(void **state) {
  struct io_state *s = *state;
  const float secret[] = {1, 2, 3, 4};
  const char *abs = in_dir(s, "secret.bin"); /* exists: refused for where it is, not absence */
  write_file(abs, secret, sizeof secret);
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "stolen", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, abs, NULL, NULL);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_null(m);
  assert_msg_has(&d, "'stolen'");
}

static void test_external_data_without_location_is_refused(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "nowhere", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, NULL, "0", "16");
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'nowhere'");
}

static void test_external_offset_that_is_not_a_number_is_refused(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "w", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, "w.bin", "-16", NULL);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "-16");
}

static void test_external_location_in_a_subfolder_reads_offset_and_length(void **state) {
  struct io_state *s = *state;
  assert_int_equal(mkdir(in_dir(s, "weights"), 0755), 0);
  float blob[8];
  for (int i = 0; i < 8; i++) blob[i] = (float)i;
  write_file(in_dir(s, "weights/blob.bin"), blob, sizeof blob);
  const int64_t dims[] = {2, 2};
  Onnx__TensorProto *tp = craft_tensor(s, "w", TQT_DTYPE_FLOAT, 2, dims);
  craft_external(s, tp, "weights/blob.bin", "12", "16");
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_OK);
  struct tqt_tensor *t = m->graph->initializers[0];
  const float *data = tqt_tensor_data(t, m->arena, &d);
  if (!data) fail_msg("%s", d.msg);
  assert_int_equal(t->nbytes, 16);
  assert_memory_equal(data, blob + 3, 16);
  tqt_model_destroy(m);
}

static void test_external_data_past_the_end_of_its_file_fails_on_read(void **state) {
  struct io_state *s = *state;
  const float blob[4] = {1, 2, 3, 4};
  write_file(in_dir(s, "blob.bin"), blob, sizeof blob);
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "w", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, "blob.bin", "8", "16");
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_OK);
  assert_null(tqt_tensor_data(m->graph->initializers[0], m->arena, &d));
  assert_int_equal(d.status, TQT_STATUS_IO);
  assert_msg_has(&d, "'w'");
  assert_msg_has(&d, "blob.bin");
  tqt_model_destroy(m);
}

static void test_external_data_of_the_wrong_size_fails_on_read(void **state) {
  struct io_state *s = *state;
  const float blob[3] = {1, 2, 3};
  write_file(in_dir(s, "blob.bin"), blob, sizeof blob);
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "w", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, "blob.bin", NULL, NULL);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_OK);
  assert_null(tqt_tensor_data(m->graph->initializers[0], m->arena, &d));
  assert_int_equal(d.status, TQT_STATUS_INVALID);
  assert_msg_has(&d, "'w'");
  tqt_model_destroy(m);
}

static void test_missing_external_file_names_tensor_and_file(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "w", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, "gone.bin", NULL, NULL);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_OK);
  assert_null(tqt_tensor_data(m->graph->initializers[0], m->arena, &d));
  assert_int_equal(d.status, TQT_STATUS_IO);
  assert_msg_has(&d, "'w'");
  assert_msg_has(&d, "gone.bin");
  tqt_model_destroy(m);
}

/* ---- typed fields load into the same bytes as raw_data ---- */

/* Loads tp (typed fields) and the same tensor written as raw `expected` bytes; both must hold
 * exactly `expected`, and the two models must compare equal. */
static void assert_typed_loads_like_raw(struct io_state *s, Onnx__TensorProto *tp,
                                        const void *expected, size_t len) {
  Onnx__TensorProto *raw = craft_tensor(s, tp->name, tp->data_type, tp->n_dims, tp->dims);
  craft_raw(s, raw, expected, len);
  struct tqt_model *typed_m = NULL, *raw_m = NULL;
  struct tqt_diag d = {0};
  if (craft_load_one(s, tp, &typed_m, &d) != TQT_STATUS_OK) fail_msg("typed: %s", d.msg);
  if (craft_load_one(s, raw, &raw_m, &d) != TQT_STATUS_OK) fail_msg("raw: %s", d.msg);
  const struct tqt_tensor *t = typed_m->graph->initializers[0];
  assert_int_equal(t->nbytes, len);
  assert_memory_equal(t->data, expected, len);
  if (!tqt_model_equal(typed_m, raw_m, &d)) fail_msg("typed vs raw: %s", d.msg);
  tqt_model_destroy(typed_m);
  tqt_model_destroy(raw_m);
}

/* INT4 and UINT4 come packed two a byte, first element in the low half (raw_data, or one byte
 * an int32_data value), and are held one a byte; a count that does not fit is refused. */
static void test_int4_is_unpacked_from_two_a_byte(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {5}, udims[] = {3};
  const uint8_t packed[] = {0x78, 0x0f, 0x03}; /* -8, 7, -1, 0, 3 */
  const int8_t values[] = {-8, 7, -1, 0, 3};
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  Onnx__TensorProto *raw = craft_tensor(s, "q4", TQT_DTYPE_INT4, 1, dims);
  craft_raw(s, raw, packed, sizeof packed);
  if (craft_load_one(s, raw, &m, &d) != TQT_STATUS_OK) fail_msg("raw: %s", d.msg);
  assert_int_equal(m->graph->initializers[0]->nbytes, 5);
  assert_memory_equal(m->graph->initializers[0]->data, values, 5);
  tqt_model_destroy(m);
  Onnx__TensorProto *typed = craft_tensor(s, "q4", TQT_DTYPE_INT4, 1, dims);
  static int32_t fields[] = {0x78, 0x0f, 0x03};
  typed->n_int32_data = 3;
  typed->int32_data = fields;
  if (craft_load_one(s, typed, &m, &d) != TQT_STATUS_OK) fail_msg("typed: %s", d.msg);
  assert_memory_equal(m->graph->initializers[0]->data, values, 5);
  tqt_model_destroy(m);
  Onnx__TensorProto *u4 = craft_tensor(s, "u4", TQT_DTYPE_UINT4, 1, udims);
  const uint8_t upacked[] = {0x0f, 0x09}, uvalues[] = {15, 0, 9};
  craft_raw(s, u4, upacked, sizeof upacked);
  if (craft_load_one(s, u4, &m, &d) != TQT_STATUS_OK) fail_msg("uint4: %s", d.msg);
  assert_memory_equal(m->graph->initializers[0]->data, uvalues, 3);
  tqt_model_destroy(m);
  Onnx__TensorProto *short_raw = craft_tensor(s, "q4", TQT_DTYPE_INT4, 1, dims);
  craft_raw(s, short_raw, packed, 2);
  assert_int_equal(craft_load_one(s, short_raw, &m, &d), TQT_STATUS_INVALID);
  assert_non_null(strstr(d.msg, "tensor 'q4' (int4) holds 2 bytes but its 5 elements need 3"));
}

static void test_float_data_loads_like_raw_data(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {3};
  Onnx__TensorProto *tp = craft_tensor(s, "f", TQT_DTYPE_FLOAT, 1, dims);
  static float values[] = {1.5f, -0.0f, 3e38f};
  tp->n_float_data = 3;
  tp->float_data = values;
  assert_typed_loads_like_raw(s, tp, values, sizeof values);
}

static void test_complex64_float_data_holds_two_floats_per_element(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2};
  Onnx__TensorProto *tp = craft_tensor(s, "c", TQT_DTYPE_COMPLEX64, 1, dims);
  static float values[] = {1, 2, -3, -4};
  tp->n_float_data = 4;
  tp->float_data = values;
  assert_typed_loads_like_raw(s, tp, values, sizeof values);
}

static void test_int32_data_of_int8_loads_one_byte_per_element(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "q", TQT_DTYPE_INT8, 1, dims);
  static int32_t values[] = {-128, -1, 0, 127};
  tp->n_int32_data = 4;
  tp->int32_data = values;
  const int8_t expected[] = {-128, -1, 0, 127};
  assert_typed_loads_like_raw(s, tp, expected, sizeof expected);
}

static void test_int32_data_of_uint8_and_bool_loads_one_byte_per_element(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {3};
  Onnx__TensorProto *u8 = craft_tensor(s, "u", TQT_DTYPE_UINT8, 1, dims);
  static int32_t u8_values[] = {0, 128, 255};
  u8->n_int32_data = 3;
  u8->int32_data = u8_values;
  const uint8_t u8_expected[] = {0, 128, 255};
  assert_typed_loads_like_raw(s, u8, u8_expected, sizeof u8_expected);
  Onnx__TensorProto *b = craft_tensor(s, "b", TQT_DTYPE_BOOL, 1, dims);
  static int32_t b_values[] = {1, 0, 1};
  b->n_int32_data = 3;
  b->int32_data = b_values;
  const uint8_t b_expected[] = {1, 0, 1};
  assert_typed_loads_like_raw(s, b, b_expected, sizeof b_expected);
}

static void test_int32_data_of_float16_loads_the_bits(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "h", TQT_DTYPE_FLOAT16, 1, dims);
  static int32_t values[] = {0x3c00, 0x7e00, 0x8000, 0xfc00};
  tp->n_int32_data = 4;
  tp->int32_data = values;
  const uint16_t expected[] = {0x3c00, 0x7e00, 0x8000, 0xfc00};
  assert_typed_loads_like_raw(s, tp, expected, sizeof expected);
}

static void test_int32_data_of_bfloat16_loads_the_bits(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2};
  Onnx__TensorProto *tp = craft_tensor(s, "bh", TQT_DTYPE_BFLOAT16, 1, dims);
  static int32_t values[] = {0x3f80, 0xff80};
  tp->n_int32_data = 2;
  tp->int32_data = values;
  const uint16_t expected[] = {0x3f80, 0xff80};
  assert_typed_loads_like_raw(s, tp, expected, sizeof expected);
}

static void test_int32_data_of_int16_and_uint16_loads_two_bytes_per_element(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2};
  Onnx__TensorProto *i16 = craft_tensor(s, "i16", TQT_DTYPE_INT16, 1, dims);
  static int32_t i16_values[] = {-32768, 32767};
  i16->n_int32_data = 2;
  i16->int32_data = i16_values;
  const int16_t i16_expected[] = {-32768, 32767};
  assert_typed_loads_like_raw(s, i16, i16_expected, sizeof i16_expected);
  Onnx__TensorProto *u16 = craft_tensor(s, "u16", TQT_DTYPE_UINT16, 1, dims);
  static int32_t u16_values[] = {0, 65535};
  u16->n_int32_data = 2;
  u16->int32_data = u16_values;
  const uint16_t u16_expected[] = {0, 65535};
  assert_typed_loads_like_raw(s, u16, u16_expected, sizeof u16_expected);
}

static void test_int32_data_of_int32_loads_like_raw_data(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {3};
  Onnx__TensorProto *tp = craft_tensor(s, "i", TQT_DTYPE_INT32, 1, dims);
  static int32_t values[] = {INT32_MIN, -1, INT32_MAX};
  tp->n_int32_data = 3;
  tp->int32_data = values;
  assert_typed_loads_like_raw(s, tp, values, sizeof values);
}

static void test_int64_data_loads_like_raw_data(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {3};
  Onnx__TensorProto *tp = craft_tensor(s, "l", TQT_DTYPE_INT64, 1, dims);
  static int64_t values[] = {INT64_MIN, -1, INT64_MAX};
  tp->n_int64_data = 3;
  tp->int64_data = values;
  assert_typed_loads_like_raw(s, tp, values, sizeof values);
}

static void test_double_data_loads_like_raw_data(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2};
  Onnx__TensorProto *tp = craft_tensor(s, "d", TQT_DTYPE_DOUBLE, 1, dims);
  static double values[] = {-1e300, 0.1};
  tp->n_double_data = 2;
  tp->double_data = values;
  assert_typed_loads_like_raw(s, tp, values, sizeof values);
}

static void test_uint64_data_of_uint64_loads_like_raw_data(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2};
  Onnx__TensorProto *tp = craft_tensor(s, "u64", TQT_DTYPE_UINT64, 1, dims);
  static uint64_t values[] = {0, UINT64_MAX};
  tp->n_uint64_data = 2;
  tp->uint64_data = values;
  assert_typed_loads_like_raw(s, tp, values, sizeof values);
}

static void test_uint64_data_of_uint32_loads_four_bytes_per_element(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2};
  Onnx__TensorProto *tp = craft_tensor(s, "u32", TQT_DTYPE_UINT32, 1, dims);
  static uint64_t values[] = {7, UINT32_MAX};
  tp->n_uint64_data = 2;
  tp->uint64_data = values;
  const uint32_t expected[] = {7, UINT32_MAX};
  assert_typed_loads_like_raw(s, tp, expected, sizeof expected);
}

static void test_typed_field_with_the_wrong_count_is_invalid(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {4};
  Onnx__TensorProto *tp = craft_tensor(s, "short", TQT_DTYPE_FLOAT, 1, dims);
  static float values[] = {1, 2, 3};
  tp->n_float_data = 3;
  tp->float_data = values;
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_null(m);
  assert_msg_has(&d, "crafted.onnx");
  assert_msg_has(&d, "'short'");
}

static void test_raw_data_of_the_wrong_size_is_invalid(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2, 2};
  Onnx__TensorProto *tp = craft_tensor(s, "odd", TQT_DTYPE_FLOAT, 2, dims);
  craft_raw(s, tp, "0123456789abcde", 15);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'odd'");
}

static void test_string_tensor_with_the_wrong_count_is_invalid(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {3};
  Onnx__TensorProto *tp = craft_tensor(s, "words", TQT_DTYPE_STRING, 1, dims);
  tp->n_string_data = 2;
  tp->string_data = craft_alloc(s, 2, sizeof *tp->string_data);
  tp->string_data[0] = (ProtobufCBinaryData){1, (uint8_t *)"a"};
  tp->string_data[1] = (ProtobufCBinaryData){1, (uint8_t *)"b"};
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'words'");
}

static void test_negative_dims_are_invalid(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {2, -3};
  Onnx__TensorProto *tp = craft_tensor(s, "neg", TQT_DTYPE_FLOAT, 2, dims);
  craft_raw(s, tp, "", 0);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_msg_has(&d, "'neg'");
}

static void test_dims_whose_byte_count_overflows_are_invalid(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {INT64_C(1) << 62}; /* times 4 bytes wraps to 0 in 64 bits */
  Onnx__TensorProto *tp = craft_tensor(s, "huge", TQT_DTYPE_FLOAT, 1, dims);
  craft_raw(s, tp, "", 0);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_INVALID);
  assert_null(m);
  assert_msg_has(&d, "'huge'");
}

static void test_external_dims_whose_byte_count_overflows_are_invalid(void **state) {
  struct io_state *s = *state;
  write_file(in_dir(s, "empty.bin"), "", 0);
  const int64_t dims[] = {INT64_C(1) << 62};
  Onnx__TensorProto *tp = craft_tensor(s, "huge", TQT_DTYPE_FLOAT, 1, dims);
  craft_external(s, tp, "empty.bin", NULL, NULL);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  enum tqt_status st = craft_load_one(s, tp, &m, &d);
  if (st == TQT_STATUS_OK) { /* refused on load or, at the latest, on read */
    assert_null(tqt_tensor_data(m->graph->initializers[0], m->arena, &d));
    tqt_model_destroy(m);
  }
  assert_int_equal(d.status, TQT_STATUS_INVALID);
  assert_msg_has(&d, "'huge'");
}

static void test_segmented_tensor_is_unsupported(void **state) {
  struct io_state *s = *state;
  const int64_t dims[] = {1};
  Onnx__TensorProto *tp = craft_tensor(s, "chunk", TQT_DTYPE_FLOAT, 1, dims);
  Onnx__TensorProto__Segment *seg = craft_alloc(s, 1, sizeof *seg);
  onnx__tensor_proto__segment__init(seg);
  seg->has_begin = seg->has_end = true;
  seg->end = 1;
  tp->segment = seg;
  craft_raw(s, tp, "\0\0\0\0", 4);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(craft_load_one(s, tp, &m, &d), TQT_STATUS_UNSUPPORTED);
  assert_msg_has(&d, "'chunk'");
}

static void test_subgraphs_nested_too_deep_are_refused(void **state) {
  struct io_state *s = *state;
  Onnx__ModelProto *mp = craft_model(s, NULL, 0);
  Onnx__GraphProto *g = mp->graph;
  for (int level = 0; level <= TQT_GRAPH_DEPTH_MAX + 1; level++) {
    Onnx__NodeProto *n = craft_alloc(s, 1, sizeof *n);
    Onnx__AttributeProto *at = craft_alloc(s, 1, sizeof *at);
    Onnx__GraphProto *sub = craft_alloc(s, 1, sizeof *sub);
    onnx__node_proto__init(n);
    onnx__attribute_proto__init(at);
    onnx__graph_proto__init(sub);
    n->op_type = (char *)"If";
    at->name = (char *)"then_branch";
    at->has_type = true;
    at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    at->g = sub;
    n->n_attribute = 1;
    n->attribute = craft_alloc(s, 1, sizeof *n->attribute);
    n->attribute[0] = at;
    g->n_node = 1;
    g->node = craft_alloc(s, 1, sizeof *g->node);
    g->node[0] = n;
    g = sub;
  }
  size_t len;
  void *buf = craft_pack(s, mp, &len);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load_buffer(buf, len, "deep.onnx", NULL, &m, &d),
                   TQT_STATUS_UNSUPPORTED);
  assert_null(m);
  assert_msg_has(&d, "deep.onnx");
}

static void test_attribute_without_its_type_is_read_from_the_field_set(void **state) {
  struct io_state *s = *state;
  Onnx__ModelProto *mp = craft_model(s, NULL, 0);
  Onnx__NodeProto *n = craft_alloc(s, 1, sizeof *n);
  Onnx__AttributeProto *at = craft_alloc(s, 1, sizeof *at);
  onnx__node_proto__init(n);
  onnx__attribute_proto__init(at);
  n->op_type = (char *)"Old";
  at->name = (char *)"ints_from_ir_v1";
  static int64_t ints[] = {4, 5};
  at->n_ints = 2;
  at->ints = ints;
  n->n_attribute = 1;
  n->attribute = &at;
  mp->graph->n_node = 1;
  mp->graph->node = &n;
  size_t len;
  void *buf = craft_pack(s, mp, &len);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load_buffer(buf, len, "old.onnx", NULL, &m, &d), TQT_STATUS_OK);
  const struct tqt_attr *loaded = &m->graph->nodes[0]->attrs[0];
  assert_int_equal(loaded->type, TQT_ATTR_TYPE_INTS);
  assert_int_equal(loaded->n, 2);
  assert_int_equal(loaded->ints[1], 5);
  tqt_model_destroy(m);
}

/* ---- broken files ---- */

static void *rich_model_bytes(struct io_state *s, size_t *len) {
  struct tqt_model *m = rich_model_new();
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, in_dir(s, "whole.onnx"), NULL, &d), TQT_STATUS_OK);
  tqt_model_destroy(m);
  char *bytes = read_file(in_dir(s, "whole.onnx"), len);
  void *copy = tqt_arena_memdup(s->scratch, bytes, *len);
  free(bytes);
  return copy;
}

static void test_truncated_file_is_a_parse_error_naming_the_file(void **state) {
  struct io_state *s = *state;
  size_t len;
  void *bytes = rich_model_bytes(s, &len);
  const char *path = in_dir(s, "half.onnx");
  write_file(path, bytes, len / 2);
  struct tqt_model *m = (struct tqt_model *)1;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load(path, &m, &d), TQT_STATUS_PARSE);
  assert_null(m);
  assert_msg_has(&d, path);
}

static void test_truncated_buffer_is_a_parse_error_naming_it(void **state) {
  struct io_state *s = *state;
  size_t len;
  void *bytes = rich_model_bytes(s, &len);
  struct tqt_model *m = (struct tqt_model *)1;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load_buffer(bytes, len - 1, "memory.onnx", s->dir, &m, &d),
                   TQT_STATUS_PARSE);
  assert_null(m);
  assert_msg_has(&d, "memory.onnx");
}

static void test_buffer_cut_anywhere_loads_or_fails_naming_the_buffer(void **state) {
  struct io_state *s = *state;
  size_t len;
  void *bytes = rich_model_bytes(s, &len);
  for (size_t cut = 0; cut < len; cut += 1 + cut / 16) {
    struct tqt_model *m = NULL;
    struct tqt_diag d = {0};
    enum tqt_status st = tqt_model_load_buffer(bytes, cut, "cut.onnx", s->dir, &m, &d);
    /* A cut between two top-level fields is a shorter valid message; anything else fails
     * cleanly with a message naming the buffer. */
    if (st == TQT_STATUS_OK) {
      tqt_model_destroy(m);
      continue;
    }
    assert_null(m);
    assert_msg_has(&d, "cut.onnx");
  }
}

static void test_garbage_bytes_are_a_parse_error_naming_the_file(void **state) {
  struct io_state *s = *state;
  unsigned char garbage[4096];
  uint32_t x = 2463534242u; /* xorshift: the same bytes every run */
  for (size_t i = 0; i < sizeof garbage; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    garbage[i] = (unsigned char)x;
  }
  const char *path = in_dir(s, "garbage.onnx");
  write_file(path, garbage, sizeof garbage);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load(path, &m, &d), TQT_STATUS_PARSE);
  assert_null(m);
  assert_msg_has(&d, path);
}

static void test_text_file_is_a_parse_error_naming_the_file(void **state) {
  struct io_state *s = *state;
  const char *path = in_dir(s, "notes.onnx");
  const char text[] = "this is not a protobuf\n";
  write_file(path, text, sizeof text - 1);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load(path, &m, &d), TQT_STATUS_PARSE);
  assert_msg_has(&d, path);
}

static void test_empty_file_is_a_parse_error_naming_the_file(void **state) {
  struct io_state *s = *state;
  const char *path = in_dir(s, "empty.onnx");
  write_file(path, "", 0);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load(path, &m, &d), TQT_STATUS_PARSE);
  assert_null(m);
  assert_msg_has(&d, path);
}

static void test_protobuf_without_a_graph_is_a_parse_error(void **state) {
  struct io_state *s = *state;
  Onnx__ModelProto *mp = craft_model(s, NULL, 0);
  mp->graph = NULL;
  size_t len;
  void *buf = craft_pack(s, mp, &len);
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load_buffer(buf, len, "graphless.onnx", NULL, &m, &d),
                   TQT_STATUS_PARSE);
  assert_null(m);
  assert_msg_has(&d, "graphless.onnx");
}

static void test_missing_file_is_an_io_error_naming_the_file(void **state) {
  struct io_state *s = *state;
  const char *path = in_dir(s, "absent.onnx");
  struct tqt_model *m = (struct tqt_model *)1;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load(path, &m, &d), TQT_STATUS_IO);
  assert_null(m);
  assert_msg_has(&d, path);
}

static void test_directory_is_an_io_error_naming_it(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_load(s->dir, &m, &d), TQT_STATUS_IO);
  assert_null(m);
  assert_msg_has(&d, s->dir);
}

/* ---- saving ---- */

static void test_save_into_missing_folder_leaves_nothing(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  const char *path = in_dir(s, "no/such/folder/out.onnx");
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, path, &external_always, &d), TQT_STATUS_IO);
  assert_msg_has(&d, path);
  assert_string_equal(dir_listing(s->dir), "");
  tqt_model_destroy(m);
}

static void test_save_into_a_file_as_folder_is_an_io_error(void **state) {
  struct io_state *s = *state;
  write_file(in_dir(s, "plain"), "x", 1);
  struct tqt_model *m = rich_model_new();
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, in_dir(s, "plain/out.onnx"), NULL, &d), TQT_STATUS_IO);
  assert_string_equal(dir_listing(s->dir), "plain");
  tqt_model_destroy(m);
}

static void test_save_over_an_existing_file_replaces_it_by_rename(void **state) {
  struct io_state *s = *state;
  const char *path = in_dir(s, "model.onnx");
  write_file(path, "old contents", 12);
  struct stat before, after;
  assert_int_equal(stat(path, &before), 0);
  struct tqt_model *m = rich_model_new();
  struct tqt_model *back = save_and_load(s, m, "model.onnx", NULL);
  assert_int_equal(stat(path, &after), 0);
  assert_true(before.st_ino != after.st_ino); /* a new file renamed over, not rewritten */
  struct tqt_diag d = {0};
  assert_true(tqt_model_equal(m, back, &d));
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

static void test_save_leaves_no_temporary_files(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = rich_model_new();
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, in_dir(s, "a.onnx"), NULL, &d), TQT_STATUS_OK);
  assert_int_equal(tqt_model_save(m, in_dir(s, "a.onnx"), NULL, &d), TQT_STATUS_OK);
  assert_int_equal(tqt_model_save(m, in_dir(s, "b.onnx"), &external_always, &d), TQT_STATUS_OK);
  assert_int_equal(tqt_model_save(m, in_dir(s, "b.onnx"), &external_always, &d), TQT_STATUS_OK);
  assert_string_equal(dir_listing(s->dir), "a.onnx b.onnx b.onnx.data");
  tqt_model_destroy(m);
}

static void test_saved_file_gets_the_usual_permissions(void **state) {
  struct io_state *s = *state;
  mode_t old = umask(022);
  struct tqt_model *m = rich_model_new();
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, in_dir(s, "a.onnx"), NULL, &d), TQT_STATUS_OK);
  umask(old);
  struct stat sb;
  assert_int_equal(stat(in_dir(s, "a.onnx"), &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0644);
  tqt_model_destroy(m);
}

/* A model whose second tensor's external data is gone: saving it fails half way. */
static struct tqt_model *model_failing_half_way(struct io_state *s) {
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  float big[512] = {0};
  const int64_t dims[] = {512};
  assert_non_null(
      tqt_graph_initializer_add(m->arena, m->graph, "fine", TQT_DTYPE_FLOAT, 1, dims, big));
  struct tqt_tensor *lost =
      tqt_graph_initializer_add(m->arena, m->graph, "lost", TQT_DTYPE_FLOAT, 1, dims, NULL);
  assert_non_null(lost);
  lost->data = NULL;
  lost->nbytes = 0;
  lost->external = tqt_arena_calloc(m->arena, 1, sizeof *lost->external);
  lost->external->location = tqt_arena_strdup(m->arena, "vanished.bin");
  lost->external->base_dir = tqt_arena_strdup(m->arena, s->dir);
  lost->external->length = -1;
  return m;
}

static void test_failed_save_keeps_the_old_file(void **state) {
  struct io_state *s = *state;
  const char *path = in_dir(s, "model.onnx");
  write_file(path, "old contents", 12);
  struct tqt_model *m = model_failing_half_way(s);
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, path, NULL, &d), TQT_STATUS_IO);
  assert_msg_has(&d, "'lost'");
  size_t len;
  char *now = read_file(path, &len);
  assert_int_equal(len, 12);
  assert_memory_equal(now, "old contents", 12);
  free(now);
  assert_string_equal(dir_listing(s->dir), "model.onnx");
  tqt_model_destroy(m);
}

static void test_failed_save_with_external_data_leaves_no_file_behind(void **state) {
  struct io_state *s = *state;
  struct tqt_model *m = model_failing_half_way(s);
  struct tqt_diag d = {0};
  assert_int_equal(tqt_model_save(m, in_dir(s, "model.onnx"), &external_always, &d),
                   TQT_STATUS_IO);
  assert_string_equal(dir_listing(s->dir), "");
  tqt_model_destroy(m);
}

static void test_save_of_a_relative_path_without_folder_works(void **state) {
  struct io_state *s = *state;
  char cwd[1024];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(s->dir), 0);
  struct tqt_model *m = rich_model_new();
  struct tqt_diag d = {0};
  enum tqt_status saved = tqt_model_save(m, "here.onnx", &external_always, &d);
  struct tqt_model *back = NULL;
  enum tqt_status loaded = saved ? saved : tqt_model_load("here.onnx", &back, &d);
  bool equal = back && tqt_model_equal(m, back, &d);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(saved, TQT_STATUS_OK);
  assert_int_equal(loaded, TQT_STATUS_OK);
  if (!equal) fail_msg("%s", d.msg);
  assert_string_equal(dir_listing(s->dir), "here.onnx here.onnx.data");
  tqt_model_destroy(back);
  tqt_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      IO_TEST(test_round_trip_keeps_everything),
      IO_TEST(test_round_trip_keeps_nul_inside_strings),
      IO_TEST(test_round_trip_keeps_half_float_bits),
      IO_TEST(test_round_trip_keeps_symbolic_and_unknown_dims),
      IO_TEST(test_loaded_model_remembers_its_path),
      IO_TEST(test_equal_reports_a_changed_attribute_int),
      IO_TEST(test_equal_reports_a_changed_tensor_byte),
      IO_TEST(test_equal_reports_a_changed_dim_param),
      IO_TEST(test_equal_reports_a_changed_subgraph_attribute),
      IO_TEST(test_external_always_writes_a_data_file_beside_the_model),
      IO_TEST(test_external_data_stays_on_disk_until_asked_for),
      IO_TEST(test_external_data_keeps_small_tensors_inline),
      IO_TEST(test_model_saved_with_external_data_equals_the_original),
      IO_TEST(test_save_reads_external_data_not_yet_loaded),
      IO_TEST(test_external_location_with_dotdot_is_refused),
      IO_TEST(test_external_location_with_absolute_path_is_refused),
      IO_TEST(test_external_data_without_location_is_refused),
      IO_TEST(test_external_offset_that_is_not_a_number_is_refused),
      IO_TEST(test_external_location_in_a_subfolder_reads_offset_and_length),
      IO_TEST(test_external_data_past_the_end_of_its_file_fails_on_read),
      IO_TEST(test_external_data_of_the_wrong_size_fails_on_read),
      IO_TEST(test_missing_external_file_names_tensor_and_file),
      IO_TEST(test_int4_is_unpacked_from_two_a_byte),
      IO_TEST(test_float_data_loads_like_raw_data),
      IO_TEST(test_complex64_float_data_holds_two_floats_per_element),
      IO_TEST(test_int32_data_of_int8_loads_one_byte_per_element),
      IO_TEST(test_int32_data_of_uint8_and_bool_loads_one_byte_per_element),
      IO_TEST(test_int32_data_of_float16_loads_the_bits),
      IO_TEST(test_int32_data_of_bfloat16_loads_the_bits),
      IO_TEST(test_int32_data_of_int16_and_uint16_loads_two_bytes_per_element),
      IO_TEST(test_int32_data_of_int32_loads_like_raw_data),
      IO_TEST(test_int64_data_loads_like_raw_data),
      IO_TEST(test_double_data_loads_like_raw_data),
      IO_TEST(test_uint64_data_of_uint64_loads_like_raw_data),
      IO_TEST(test_uint64_data_of_uint32_loads_four_bytes_per_element),
      IO_TEST(test_typed_field_with_the_wrong_count_is_invalid),
      IO_TEST(test_raw_data_of_the_wrong_size_is_invalid),
      IO_TEST(test_string_tensor_with_the_wrong_count_is_invalid),
      IO_TEST(test_negative_dims_are_invalid),
      IO_TEST(test_dims_whose_byte_count_overflows_are_invalid),
      IO_TEST(test_external_dims_whose_byte_count_overflows_are_invalid),
      IO_TEST(test_segmented_tensor_is_unsupported),
      IO_TEST(test_subgraphs_nested_too_deep_are_refused),
      IO_TEST(test_attribute_without_its_type_is_read_from_the_field_set),
      IO_TEST(test_truncated_file_is_a_parse_error_naming_the_file),
      IO_TEST(test_truncated_buffer_is_a_parse_error_naming_it),
      IO_TEST(test_buffer_cut_anywhere_loads_or_fails_naming_the_buffer),
      IO_TEST(test_garbage_bytes_are_a_parse_error_naming_the_file),
      IO_TEST(test_text_file_is_a_parse_error_naming_the_file),
      IO_TEST(test_empty_file_is_a_parse_error_naming_the_file),
      IO_TEST(test_protobuf_without_a_graph_is_a_parse_error),
      IO_TEST(test_missing_file_is_an_io_error_naming_the_file),
      IO_TEST(test_directory_is_an_io_error_naming_it),
      IO_TEST(test_save_into_missing_folder_leaves_nothing),
      IO_TEST(test_save_into_a_file_as_folder_is_an_io_error),
      IO_TEST(test_save_over_an_existing_file_replaces_it_by_rename),
      IO_TEST(test_save_leaves_no_temporary_files),
      IO_TEST(test_saved_file_gets_the_usual_permissions),
      IO_TEST(test_failed_save_keeps_the_old_file),
      IO_TEST(test_failed_save_with_external_data_leaves_no_file_behind),
      IO_TEST(test_save_of_a_relative_path_without_folder_works),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
