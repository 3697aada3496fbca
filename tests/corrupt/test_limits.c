/* Limits against hostile models (issue #8): nesting refused before protobuf-c recurses, external
 * data that a symbolic link or a FIFO would take out of the model's folder or block on, external
 * data mapped rather than copied (and the file never written), the arena's destroy hooks, and
 * the interpreter's value cap. */
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

#include "arena.h"
#include "interp.h"
#include "onnx_io.h"
#include "proto/onnx.pb-c.h"

/* ---- helpers ---- */

static size_t varint_put(uint8_t *p, uint64_t v) {
  size_t n = 0;
  do {
    p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return n;
}

/* ModelProto.graph, then `depth` times (GraphProto.node, NodeProto.attribute,
 * AttributeProto.g), then an empty node: `depth` levels of subgraphs, written inside out. */
static uint8_t *nested_graphs(size_t depth, size_t *len) {
  size_t levels = 2 + 3 * depth, cap = 16 * levels + 16;
  uint8_t *buf = malloc(cap), *tmp = malloc(cap);
  assert_non_null(buf);
  assert_non_null(tmp);
  size_t n = 0; /* the message so far, at the end of buf */
  for (size_t i = levels; i-- > 0;) {
    static const uint32_t cycle[] = {1, 5, 6};
    uint32_t field = i == 0 ? 7 : cycle[(i - 1) % 3];
    size_t h = varint_put(tmp, (uint64_t)field << 3 | 2);
    h += varint_put(tmp + h, n);
    memmove(buf + cap - n - h, tmp, h);
    n += h;
  }
  memmove(buf, buf + cap - n, n);
  free(tmp);
  *len = n;
  return buf;
}

struct scratch {
  char dir[64];
};

static void scratch_make(struct scratch *s) {
  snprintf(s->dir, sizeof s->dir, "/tmp/tqt-limits.XXXXXX");
  assert_non_null(mkdtemp(s->dir));
}

static void scratch_path(const struct scratch *s, const char *name, char *out, size_t size) {
  snprintf(out, size, "%s/%s", s->dir, name);
}

static void scratch_remove(struct scratch *s) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
  assert_int_equal(system(cmd), 0);
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(p, 1, n, fp), n);
  assert_int_equal(fclose(fp), 0);
}

/* A model whose one initializer "w" (float [4]) lives in external data at `location`. */
static uint8_t *external_model(const char *location, size_t *len) {
  static int64_t dims[1] = {4};
  Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, *entries[1] = {&loc};
  loc.key = (char *)"location";
  loc.value = (char *)location;
  Onnx__TensorProto t = ONNX__TENSOR_PROTO__INIT, *inits[1] = {&t};
  t.name = (char *)"w";
  t.n_dims = 1;
  t.dims = dims;
  t.has_data_type = 1;
  t.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t.has_data_location = 1;
  t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  t.n_external_data = 1;
  t.external_data = entries;
  Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
  g.name = (char *)"g";
  g.n_initializer = 1;
  g.initializer = inits;
  Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
  m.has_ir_version = 1;
  m.ir_version = 8;
  m.graph = &g;
  *len = onnx__model_proto__get_packed_size(&m);
  uint8_t *buf = malloc(*len);
  assert_non_null(buf);
  onnx__model_proto__pack(&m, buf);
  return buf;
}

static const float weights[4] = {1.0f, -2.0f, 0.5f, 4.0f};

/* Loads external_model(location) from dir and asks for the initializer's bytes. */
static const void *external_data(const char *dir, const char *location, struct tqt_model **m,
                                 struct tqt_diag *d) {
  size_t len;
  uint8_t *buf = external_model(location, &len);
  assert_int_equal(tqt_model_load_buffer(buf, len, "m.onnx", dir, m, d), TQT_STATUS_OK);
  free(buf);
  return tqt_tensor_data((*m)->graph->initializers[0], (*m)->arena, d);
}

/* ---- nesting ---- */

static void test_deep_nesting_is_refused_before_unpacking(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = nested_graphs(100000, &len); /* protobuf-c's unpacker overflowed the stack */
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  assert_int_equal(tqt_model_load_buffer(buf, len, "deep.onnx", ".", &m, &d),
                   TQT_STATUS_UNSUPPORTED);
  assert_null(m);
  assert_non_null(strstr(d.msg, "nest deeper than"));
  free(buf);
}

static void test_subgraphs_at_the_depth_limit_load(void **state) {
  (void)state;
  size_t len;
  uint8_t *buf = nested_graphs(TQT_GRAPH_DEPTH_MAX, &len);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  assert_int_equal(tqt_model_load_buffer(buf, len, "limit.onnx", ".", &m, &d), TQT_STATUS_OK);
  tqt_model_destroy(m);
  free(buf);
  buf = nested_graphs(TQT_GRAPH_DEPTH_MAX + 1, &len);
  assert_int_equal(tqt_model_load_buffer(buf, len, "over.onnx", ".", &m, &d),
                   TQT_STATUS_UNSUPPORTED);
  assert_non_null(strstr(d.msg, "subgraphs nest deeper than"));
  free(buf);
}

/* ---- external data ---- */

static void test_external_data_through_a_symlink_outside_is_refused(void **state) {
  (void)state;
  struct scratch in, out;
  scratch_make(&in);
  scratch_make(&out);
  char target[128], link[128];
  scratch_path(&out, "w.bin", target, sizeof target);
  scratch_path(&in, "link.bin", link, sizeof link);
  write_bytes(target, weights, sizeof weights);
  assert_int_equal(symlink(target, link), 0);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  assert_null(external_data(in.dir, "link.bin", &m, &d));
  assert_int_equal(d.status, TQT_STATUS_INVALID);
  assert_non_null(strstr(d.msg, "outside the model's folder"));
  tqt_model_destroy(m);
  scratch_remove(&in);
  scratch_remove(&out);
}

static void test_external_data_through_a_linked_folder_is_refused(void **state) {
  (void)state;
  struct scratch in, out;
  scratch_make(&in);
  scratch_make(&out);
  char target[128], link[128];
  scratch_path(&out, "w.bin", target, sizeof target);
  scratch_path(&in, "sub", link, sizeof link);
  write_bytes(target, weights, sizeof weights);
  assert_int_equal(symlink(out.dir, link), 0);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  assert_null(external_data(in.dir, "sub/w.bin", &m, &d));
  assert_non_null(strstr(d.msg, "outside the model's folder"));
  tqt_model_destroy(m);
  scratch_remove(&in);
  scratch_remove(&out);
}

static void test_external_data_through_a_symlink_inside_loads(void **state) {
  (void)state;
  struct scratch in;
  scratch_make(&in);
  char target[128], link[128];
  scratch_path(&in, "w.bin", target, sizeof target);
  scratch_path(&in, "link.bin", link, sizeof link);
  write_bytes(target, weights, sizeof weights);
  assert_int_equal(symlink("w.bin", link), 0);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  const void *data = external_data(in.dir, "link.bin", &m, &d);
  assert_non_null(data);
  assert_memory_equal(data, weights, sizeof weights);
  tqt_model_destroy(m);
  scratch_remove(&in);
}

static void test_external_data_in_a_fifo_is_refused_without_blocking(void **state) {
  (void)state;
  struct scratch in;
  scratch_make(&in);
  char fifo[128];
  scratch_path(&in, "fifo", fifo, sizeof fifo);
  assert_int_equal(mkfifo(fifo, 0600), 0);
  alarm(10); /* an open() that waits for a writer ends the test instead of hanging it */
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  assert_null(external_data(in.dir, "fifo", &m, &d));
  alarm(0);
  assert_non_null(strstr(d.msg, "not a regular file"));
  tqt_model_destroy(m);
  scratch_remove(&in);
}

/* The file holds the floats 0, 1, 2, ..., n - 1. */
static void check_file_floats(const char *path, size_t n) {
  float *back = malloc(n * sizeof *back);
  assert_non_null(back);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(back, sizeof *back, n, fp), n);
  fclose(fp);
  for (size_t i = 0; i < n; i++) assert_true(back[i] == (float)i);
  free(back);
}

static void test_large_external_data_is_mapped_copy_on_write(void **state) {
  (void)state;
  enum { N = 1 << 16 }; /* 256 KiB: mapped */
  struct scratch in;
  scratch_make(&in);
  char path[128];
  scratch_path(&in, "w.bin", path, sizeof path);
  float *w = malloc(N * sizeof *w);
  assert_non_null(w);
  for (size_t i = 0; i < N; i++) w[i] = (float)i;
  write_bytes(path, w, N * sizeof *w);
  free(w);
  size_t len;
  uint8_t *buf = external_model("w.bin", &len);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  assert_int_equal(tqt_model_load_buffer(buf, len, "m.onnx", in.dir, &m, &d), TQT_STATUS_OK);
  free(buf);
  struct tqt_tensor *t = m->graph->initializers[0];
  t->dims[0] = N;
  size_t arena_bytes = tqt_arena_bytes(m->arena);
  float *data = (float *)tqt_tensor_data(t, m->arena, &d);
  assert_non_null(data);
  assert_int_equal(t->nbytes, N * sizeof *data);
  /* mapped: the arena did not grow by the tensor's size */
  assert_true(tqt_arena_bytes(m->arena) < arena_bytes + 4096);
  assert_true(data[N - 1] == (float)(N - 1));
  data[0] = 42.0f; /* the model's copy changes, the file does not */
  assert_true(data[0] == 42.0f);
  check_file_floats(path, N);
  assert_ptr_equal(tqt_tensor_data(t, m->arena, &d), data); /* asked again: the same bytes */
  tqt_model_destroy(m);
  scratch_remove(&in);
}

static void test_small_external_data_is_copied(void **state) {
  (void)state;
  struct scratch in;
  scratch_make(&in);
  char path[128];
  scratch_path(&in, "w.bin", path, sizeof path);
  write_bytes(path, weights, sizeof weights);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  float *data = (float *)external_data(in.dir, "w.bin", &m, &d);
  assert_non_null(data);
  assert_memory_equal(data, weights, sizeof weights);
  data[0] = 42.0f;
  float back[4];
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  assert_int_equal(fread(back, sizeof *back, 4, fp), 4);
  fclose(fp);
  assert_memory_equal(back, weights, sizeof weights);
  tqt_model_destroy(m);
  scratch_remove(&in);
}

/* ---- arena hooks, interpreter cap ---- */

struct hook_log {
  char order[8];
  size_t n;
};

static void hook_a(void *ctx) {
  struct hook_log *l = ctx;
  l->order[l->n++] = 'a';
}

static void hook_b(void *ctx) {
  struct hook_log *l = ctx;
  l->order[l->n++] = 'b';
}

static void test_arena_destroy_runs_hooks_newest_first(void **state) {
  (void)state;
  struct hook_log log = {{0}, 0};
  struct tqt_arena *a = tqt_arena_create();
  assert_non_null(a);
  assert_int_equal(tqt_arena_on_destroy(a, hook_a, &log), 0);
  assert_int_equal(tqt_arena_on_destroy(a, hook_b, &log), 0);
  assert_int_equal(log.n, 0);
  tqt_arena_destroy(a);
  assert_int_equal(log.n, 2);
  assert_memory_equal(log.order, "ba", 2);
}

static void test_value_cap_refuses_a_tensor_before_allocating_it(void **state) {
  (void)state;
  /* ConstantOfShape([65536, 65536]): 16 GiB of floats. */
  struct tqt_model *m = tqt_model_create();
  assert_non_null(m);
  assert_int_equal(tqt_model_opset_set(m, "", 13), 0);
  int64_t dims[1] = {2}, shape[2] = {65536, 65536};
  assert_non_null(tqt_graph_initializer_add(m->arena, m->graph, "shape", TQT_DTYPE_INT64, 1, dims,
                                            shape));
  const char *in[] = {"shape"}, *out[] = {"y"};
  assert_non_null(tqt_graph_node_add(m->arena, m->graph, "ConstantOfShape", "c", 1, in, 1, out));
  assert_non_null(tqt_graph_output_add(m->arena, m->graph, "y", TQT_DTYPE_FLOAT, 2, shape));
  struct tqt_interp_options o = {.max_tensor_bytes = (size_t)1 << 30};
  struct tqt_interp *interp = NULL;
  struct tqt_diag d = {0};
  assert_int_equal(tqt_interp_create(m, &o, &interp, &d), TQT_STATUS_OK);
  assert_int_equal(tqt_interp_run(interp, NULL, 0, &d), TQT_STATUS_UNSUPPORTED);
  assert_non_null(strstr(d.msg, "pass the cap"));
  tqt_interp_destroy(interp);
  tqt_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deep_nesting_is_refused_before_unpacking),
      cmocka_unit_test(test_subgraphs_at_the_depth_limit_load),
      cmocka_unit_test(test_external_data_through_a_symlink_outside_is_refused),
      cmocka_unit_test(test_external_data_through_a_linked_folder_is_refused),
      cmocka_unit_test(test_external_data_through_a_symlink_inside_loads),
      cmocka_unit_test(test_external_data_in_a_fifo_is_refused_without_blocking),
      cmocka_unit_test(test_large_external_data_is_mapped_copy_on_write),
      cmocka_unit_test(test_small_external_data_is_copied),
      cmocka_unit_test(test_arena_destroy_runs_hooks_newest_first),
      cmocka_unit_test(test_value_cap_refuses_a_tensor_before_allocating_it),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
