/* Helpers for the analysis tests (tests/report/report_test.sh):
 *
 *   report_tool split-npy IN.npy K PREFIX   splits IN along axis 0 into K consecutive parts,
 *                                           PREFIX0.npy ... (the calibration shards)
 *   report_tool deep OUT.onnx BLOCKS        BLOCKS × (Conv 4→4 3x3 + bias → Relu) on a
 *                                           [1,4,8,8] input, then Flatten → Gemm → [1,10]:
 *                                           1 + 3·BLOCKS + 3 quantized tensors
 *   report_tool wide OUT.onnx K             one Gemm over [1,K] (an accumulator of
 *                                           8 + 8 + ceil(log2 K) bits: past 32 for K > 65536)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "tqt.h"

static int split_npy(const char *in, long k, const char *prefix) {
  struct tqt_diag d = {0};
  struct tqt_npy npy;
  if (tqt_npy_open(&npy, in, &d) != TQT_STATUS_OK) {
    fprintf(stderr, "report_tool: %s\n", d.msg);
    return 1;
  }
  int rc = 0;
  int64_t n = npy.rank ? npy.dims[0] : 0;
  size_t row = n ? npy.nbytes / (size_t)n : 0;
  if (k < 1 || n < k) {
    fprintf(stderr, "report_tool: %s has %lld rows, cannot make %ld parts\n", in, (long long)n, k);
    rc = 1;
  }
  for (long p = 0; !rc && p < k; p++) {
    int64_t lo = n * p / k, hi = n * (p + 1) / k, dims[TQT_RANK_MAX + 1];
    memcpy(dims, npy.dims, npy.rank * sizeof *dims);
    dims[0] = hi - lo;
    char path[4096];
    snprintf(path, sizeof path, "%s%ld.npy", prefix, p);
    FILE *f = fopen(path, "wb");
    if (!f || tqt_npy_header_write(f, npy.dtype, npy.rank, dims, path, &d) != TQT_STATUS_OK ||
        fwrite((const char *)npy.data + (size_t)lo * row, row, (size_t)(hi - lo), f) !=
            (size_t)(hi - lo)) {
      fprintf(stderr, "report_tool: cannot write %s\n", path);
      rc = 1;
    }
    if (f && fclose(f) != 0) rc = 1;
  }
  tqt_npy_close(&npy);
  return rc;
}

struct gen {
  struct tqt_model *m;
  struct tqt_arena *a;
  uint64_t rng;
  int counter;
  int failed;
};

static double gen_normal(struct gen *g) {
  double u[2];
  for (int i = 0; i < 2; i++) {
    g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
    u[i] = ((double)(g->rng >> 11) + 0.5) / 9007199254740992.0;
  }
  return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

static const char *gen_weight(struct gen *g, const char *stem, size_t rank, const int64_t *dims,
                              double std) {
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) n *= dims[i];
  float *w = malloc((size_t)n * sizeof *w);
  const char *name = tqt_arena_printf(g->a, "%s_%d", stem, g->counter++);
  if (!w || !name) {
    free(w);
    g->failed = 1;
    return "";
  }
  for (int64_t i = 0; i < n; i++) w[i] = (float)(std * gen_normal(g));
  if (!tqt_graph_initializer_add(g->a, g->m->graph, name, TQT_DTYPE_FLOAT, rank, dims, w))
    g->failed = 1;
  free(w);
  return name;
}

static const char *gen_node(struct gen *g, const char *op, size_t n_in, const char *const *ins,
                            struct tqt_node **node) {
  const char *out = tqt_arena_printf(g->a, "%s_%d", op, g->counter++);
  const char *outs[1] = {out};
  *node = out ? tqt_graph_node_add(g->a, g->m->graph, op, out, n_in, ins, 1, outs) : NULL;
  if (!*node) g->failed = 1;
  return out ? out : "";
}

static int gen_save(struct gen *g, const char *path) {
  struct tqt_diag d = {0};
  int rc = g->failed;
  if (!rc && tqt_model_save(g->m, path, NULL, &d) != TQT_STATUS_OK) {
    fprintf(stderr, "report_tool: %s\n", d.msg);
    rc = 1;
  }
  if (g->failed) fprintf(stderr, "report_tool: out of memory\n");
  tqt_model_destroy(g->m);
  return rc;
}

static int gen_start(struct gen *g, uint64_t seed, size_t rank, const int64_t *in_dims) {
  *g = (struct gen){.m = tqt_model_create(), .rng = seed};
  if (!g->m) return 1;
  g->a = g->m->arena;
  g->m->has_ir_version = true;
  g->m->ir_version = 8;
  g->m->producer_name = tqt_arena_strdup(g->a, "onnx-tqt report_tool");
  if (tqt_model_opset_set(g->m, "", 13) ||
      !tqt_graph_input_add(g->a, g->m->graph, "input", TQT_DTYPE_FLOAT, rank, in_dims))
    g->failed = 1;
  return 0;
}

static const char *gen_gemm(struct gen *g, const char *x, int64_t k, int64_t n) {
  int64_t wd[2] = {n, k}, bd[1] = {n};
  const char *ins[3] = {x, gen_weight(g, "fc_w", 2, wd, sqrt(1.0 / (double)k)),
                        gen_weight(g, "fc_b", 1, bd, 0.05)};
  struct tqt_node *nd;
  const char *y = gen_node(g, "Gemm", 3, ins, &nd);
  if (nd && tqt_node_attr_add_int(g->a, nd, "transB", 1)) g->failed = 1;
  return y;
}

static int gen_finish(struct gen *g, const char *y, int64_t n, const char *path) {
  int64_t out_dims[2] = {1, n};
  const char *ins[1] = {y}, *outs[1] = {"logits"};
  if (!tqt_graph_node_add(g->a, g->m->graph, "Identity", "output", 1, ins, 1, outs) ||
      !tqt_graph_output_add(g->a, g->m->graph, "logits", TQT_DTYPE_FLOAT, 2, out_dims))
    g->failed = 1;
  return gen_save(g, path);
}

static int gen_deep(const char *path, long blocks) {
  struct gen g;
  int64_t in_dims[4] = {1, 4, 8, 8};
  if (blocks < 1 || gen_start(&g, 0xdee9, 4, in_dims)) return 1;
  const char *x = "input";
  struct tqt_node *n;
  int64_t pads[4] = {1, 1, 1, 1}, wd[4] = {4, 4, 3, 3}, bd[1] = {4};
  for (long b = 0; b < blocks; b++) {
    const char *ins[3] = {x, gen_weight(&g, "w", 4, wd, sqrt(2.0 / 36)), gen_weight(&g, "b", 1, bd, 0.05)};
    const char *y = gen_node(&g, "Conv", 3, ins, &n);
    if (n && tqt_node_attr_add_ints(g.a, n, "pads", 4, pads)) g.failed = 1;
    x = gen_node(&g, "Relu", 1, &y, &n);
  }
  x = gen_node(&g, "Flatten", 1, &x, &n);
  return gen_finish(&g, gen_gemm(&g, x, 256, 10), 10, path);
}

static int gen_wide(const char *path, long k) {
  struct gen g;
  int64_t in_dims[2] = {1, k};
  if (k < 1 || gen_start(&g, 0x771de, 2, in_dims)) return 1;
  return gen_finish(&g, gen_gemm(&g, "input", k, 2), 2, path);
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "split-npy")) return split_npy(argv[2], atol(argv[3]), argv[4]);
  if (argc == 4 && !strcmp(argv[1], "deep")) return gen_deep(argv[2], atol(argv[3]));
  if (argc == 4 && !strcmp(argv[1], "wide")) return gen_wide(argv[2], atol(argv[3]));
  fprintf(stderr, "usage: report_tool split-npy IN.npy K PREFIX | deep OUT.onnx BLOCKS | "
                  "wide OUT.onnx K\n");
  return 2;
}
