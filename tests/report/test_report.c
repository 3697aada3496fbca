/* Unit tests of the analysis library (src/report/): histograms in JSON and their merging,
 * the statistics file round trip, compare's figures, the report's escaping, the fingerprint.
 * Prints "ok - NAME" / "not ok - NAME" and "report-unit: N passed, N failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passes.h"
#include "quant.h"
#include "report/compare.h"
#include "report/fixpoint.h"
#include "report/report.h"
#include "report/stats.h"
#include "tqt.h"

static int passed, failed;
static char why[512];

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      snprintf(why, sizeof why, "%s:%d: %s", __FILE__, __LINE__, #cond);             \
      return false;                                                                  \
    }                                                                                \
  } while (0)

static void run(const char *name, bool (*fn)(void)) {
  why[0] = '\0';
  if (fn()) {
    printf("ok - %s\n", name);
    passed++;
  } else {
    printf("not ok - %s\n#   %s\n", name, why);
    failed++;
  }
}

static uint64_t rng = 0x7465737472;

static double normal(void) {
  double u[2];
  for (int i = 0; i < 2; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    u[i] = ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
  }
  return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* n values: N(0, scale), a fifth of them exact zeros. */
static float *values(size_t n, double scale) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; x && i < n; i++) x[i] = i % 5 == 0 ? 0.0f : (float)(scale * normal());
  return x;
}

static bool hist_equal(const struct tqt_histogram *a, const struct tqt_histogram *b, bool sums) {
  return a->count == b->count && a->zeros == b->zeros && a->min == b->min && a->max == b->max &&
         a->range_exp == b->range_exp && a->has_range == b->has_range &&
         (!sums || (a->sum == b->sum && a->sumsq == b->sumsq)) &&
         !memcmp(a->bins, b->bins, sizeof a->bins);
}

/* h → JSON text → h2, as a stats file carries it. */
static bool through_text(const struct tqt_histogram *h, struct tqt_histogram *h2) {
  json_t *j = tqt_histogram_to_json(h);
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
  json_decref(j);
  json_t *back = text ? json_loads(text, 0, NULL) : NULL;
  struct tqt_diag d = {0};
  bool ok = back && tqt_histogram_from_json(back, h2, "test", &d) == TQT_STATUS_OK;
  free(text);
  json_decref(back);
  return ok;
}

static bool test_histogram_json_round_trip_keeps_every_field(void) {
  static struct tqt_histogram h, h2;
  float *x = values(5000, 3.0);
  CHECK(x);
  tqt_histogram_init(&h);
  tqt_histogram_add(&h, x, 5000);
  free(x);
  CHECK(h.zeros == 1000 && h.has_range);
  CHECK(through_text(&h, &h2));
  CHECK(hist_equal(&h, &h2, true));
  return true;
}

static bool test_histogram_json_round_trip_of_zeros_and_empty(void) {
  static struct tqt_histogram h, h2;
  float z[7] = {0};
  tqt_histogram_init(&h);
  CHECK(through_text(&h, &h2) && hist_equal(&h, &h2, true)); /* empty: min/max infinite */
  CHECK(isinf(h2.min) && h2.count == 0);
  tqt_histogram_add(&h, z, 7);
  CHECK(!h.has_range);
  CHECK(through_text(&h, &h2) && hist_equal(&h, &h2, true));
  return true;
}

static bool test_histogram_from_json_rejects_inconsistent_counts(void) {
  static struct tqt_histogram h;
  struct tqt_diag d = {0};
  json_t *j = json_loads("{\"bins_total\":2048,\"range_exp\":1,\"has_range\":true,\"count\":5,"
                         "\"zeros\":0,\"min\":0.5,\"max\":1.5,\"sum\":4,\"sumsq\":4,\"bins\":[1,2]}",
                         0, NULL);
  CHECK(j);
  CHECK(tqt_histogram_from_json(j, &h, "a.json: tensor 'x'", &d) == TQT_STATUS_PARSE);
  CHECK(strstr(d.msg, "a.json: tensor 'x'"));
  json_object_set_new(j, "bins_total", json_integer(1024));
  d = (struct tqt_diag){0};
  CHECK(tqt_histogram_from_json(j, &h, "b.json", &d) == TQT_STATUS_UNSUPPORTED);
  json_decref(j);
  return true;
}

/* Shards of different magnitudes (so their ranges differ) merged from their JSON give the
 * histogram, and the thresholds, of one stream over all the data. */
static bool test_merged_shards_give_the_thresholds_of_one_stream(void) {
  static struct tqt_histogram all, merged, part, parsed;
  const double scales[4] = {0.01, 1.0, 37.0, 0.3};
  tqt_histogram_init(&all);
  tqt_histogram_init(&merged);
  for (int s = 0; s < 4; s++) {
    tqt_histogram_init(&part);
    for (int b = 0; b < 3; b++) { /* several batches per shard, as samples stream */
      float *x = values(1000, scales[s] * (b + 1));
      CHECK(x);
      tqt_histogram_add(&all, x, 1000);
      tqt_histogram_add(&part, x, 1000);
      free(x);
    }
    CHECK(through_text(&part, &parsed));
    tqt_histogram_merge(&merged, &parsed);
  }
  CHECK(hist_equal(&all, &merged, false));
  const enum tqt_threshold_method methods[] = {TQT_THRESHOLD_METHOD_MAX, TQT_THRESHOLD_METHOD_PERCENTILE,
                                               TQT_THRESHOLD_METHOD_KL_J, TQT_THRESHOLD_METHOD_MSE};
  for (size_t m = 0; m < 4; m++)
    for (int sgn = 0; sgn < 2; sgn++) {
      struct tqt_threshold_params p = {methods[m], 8, sgn, 99.99};
      CHECK(tqt_threshold(&all, &p) == tqt_threshold(&merged, &p));
    }
  struct tqt_threshold_params p3 = {TQT_THRESHOLD_METHOD_3SD, 8, true, 0};
  CHECK(tqt_threshold_exponent(tqt_threshold(&all, &p3)) ==
        tqt_threshold_exponent(tqt_threshold(&merged, &p3)));
  return true;
}

static bool test_compare_metrics_give_sqnr_cosine_and_top1(void) {
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 2, 3, 4, 5, 6.5f};
  int64_t dims[2] = {2, 3};
  struct tqt_rt_tensor ta = {.dtype = TQT_DTYPE_FLOAT, .rank = 2, .data = a, .nbytes = sizeof a};
  struct tqt_rt_tensor tb = ta;
  tb.data = b;
  memcpy(ta.dims, dims, sizeof dims);
  memcpy(tb.dims, dims, sizeof dims);
  struct tqt_compare_metrics m = {0};
  CHECK(tqt_compare_metrics_add(&m, &ta, &tb, true));
  CHECK(fabs(tqt_compare_sqnr_db(&m) - 10 * log10(91 / 0.25)) < 1e-9);
  CHECK(m.max_abs == 0.5 && m.sum_abs == 0.5);
  double dot = 1 + 4 + 9 + 16 + 25 + 6 * 6.5, eb = 55 + 6.5 * 6.5;
  CHECK(fabs(tqt_compare_cosine(&m) - dot / sqrt(91 * eb)) < 1e-12);
  CHECK(m.rows == 2 && m.agree == 2);
  b[0] = 9; /* row 0's argmax moves */
  struct tqt_compare_metrics m2 = {0};
  CHECK(tqt_compare_metrics_add(&m2, &ta, &tb, true) && m2.agree == 1);
  struct tqt_compare_metrics same = {0};
  CHECK(tqt_compare_metrics_add(&same, &ta, &ta, false) && isinf(tqt_compare_sqnr_db(&same)));
  tb.dims[1] = 2;
  CHECK(!tqt_compare_metrics_add(&same, &ta, &tb, false) && same.mismatched == 1);
  return true;
}

static bool test_compare_class_scores_shapes(void) {
  struct tqt_rt_tensor t = {.dtype = TQT_DTYPE_FLOAT};
  const struct {
    size_t rank;
    int64_t dims[4];
    int64_t want;
  } cases[] = {{2, {1, 10}, 10}, {2, {4, 10}, 10}, {4, {1, 1000, 1, 1}, 1000}, {1, {7}, 7},
               {4, {1, 8, 4, 4}, 0}, {2, {5, 1}, 0}, {3, {1, 3, 5}, 0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    t.rank = cases[i].rank;
    memcpy(t.dims, cases[i].dims, sizeof cases[i].dims);
    CHECK(tqt_compare_class_count(&t) == cases[i].want);
  }
  t.dtype = TQT_DTYPE_INT64;
  t.rank = 2;
  t.dims[0] = 1;
  t.dims[1] = 10;
  CHECK(tqt_compare_class_count(&t) == 0);
  return true;
}

static bool test_report_escapes_names_and_stays_offline(void) {
  json_t *s = json_pack(
      "{s:s, s:i, s:{s:s, s:s, s:i, s:i, s:s}, s:{s:i, s:i, s:i, s:s, s:s, s:s, s:b, s:i},"
      " s:i, s:{s:i, s:i, s:i, s:i, s:{}, s:[], s:i, s:i},"
      " s:[{s:s, s:s, s:s, s:f, s:i, s:i, s:b, s:f, s:i, s:f, s:f, s:f, s:i, s:i, s:f, s:f, s:f, s:f}],"
      " s:[], s:[], s:[{s:s, s:s, s:s, s:f}]}",
      "format", "onnx-tqt-stats", "version", 1, "model", "path", "m<1>&\"x\".onnx", "producer",
      "p", "opset", 13, "nodes", 1, "fingerprint", "00", "settings", "wbits", 8, "abits", 8,
      "bbits", 32, "act_method", "kl_j", "weight_method", "max", "input_method", "max",
      "per_channel", 0, "accumulator_bits", 32, "samples", 3, "summary", "quantized_nodes", 1,
      "excluded_nodes", 0, "float_nodes", 0, "tensors", 1, "by_op_type", "excluded",
      "size_float_bytes", 100, "size_quantized_bytes", 25, "tensors", "name",
      "<script>alert('x')</script>", "kind", "activation", "method", "kl_j", "threshold", 1.5,
      "exponent", 1, "bits", 8, "signed", 1, "scale", 1.0 / 64, "fp", 6, "clip_lo", -2.0,
      "clip_hi", 127.0 / 64, "clipped_fraction", 0.0, "count", 0, "zeros", 0, "min", 0.0, "max",
      0.0, "mean", 0.0, "std", 0.0, "nodes", "outputs", "warnings", "kind", "clipping", "tensor",
      "<b>", "message", "tensor <b> clips", "value", 0.5);
  CHECK(s);
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  CHECK(fp);
  bool ok = tqt_report_print(s, fp);
  fclose(fp);
  json_decref(s);
  bool good = ok && buf && !strstr(buf, "<script>alert") && strstr(buf, "&lt;script&gt;alert(&#39;x&#39;)") &&
              strstr(buf, "m&lt;1&gt;&amp;&quot;x&quot;.onnx") && strstr(buf, "tensor &lt;b&gt; clips") &&
              !strstr(buf, "http://") && !strstr(buf, "https://") && strstr(buf, "</html>");
  free(buf);
  CHECK(good);
  return true;
}

/* A Conv → Relu → Flatten → Gemm model built in memory, weights from seed. */
static struct tqt_model *small_model(uint64_t seed) {
  rng = seed;
  struct tqt_model *m = tqt_model_create();
  if (!m) return NULL;
  struct tqt_arena *a = m->arena;
  int64_t in_dims[4] = {1, 2, 6, 6}, wd[4] = {3, 2, 3, 3}, bd[1] = {3}, fd[2] = {4, 48}, fb[1] = {4};
  int64_t out_dims[2] = {1, 4};
  float w[54], b[3], f[192], fbias[4];
  for (int i = 0; i < 54; i++) w[i] = (float)(0.3 * normal());
  for (int i = 0; i < 3; i++) b[i] = (float)(0.1 * normal());
  for (int i = 0; i < 192; i++) f[i] = (float)(0.2 * normal());
  for (int i = 0; i < 4; i++) fbias[i] = (float)(0.1 * normal());
  m->has_ir_version = true;
  m->ir_version = 8;
  const char *c_in[3] = {"x", "w", "b"}, *c_out[1] = {"c"}, *r_in[1] = {"c"}, *r_out[1] = {"r"};
  const char *fl_out[1] = {"f"}, *g_in[3] = {"f", "fw", "fb"}, *g_out[1] = {"y"};
  struct tqt_node *g;
  bool ok = !tqt_model_opset_set(m, "", 13) &&
            tqt_graph_input_add(a, m->graph, "x", TQT_DTYPE_FLOAT, 4, in_dims) &&
            tqt_graph_initializer_add(a, m->graph, "w", TQT_DTYPE_FLOAT, 4, wd, w) &&
            tqt_graph_initializer_add(a, m->graph, "b", TQT_DTYPE_FLOAT, 1, bd, b) &&
            tqt_graph_initializer_add(a, m->graph, "fw", TQT_DTYPE_FLOAT, 2, fd, f) &&
            tqt_graph_initializer_add(a, m->graph, "fb", TQT_DTYPE_FLOAT, 1, fb, fbias) &&
            tqt_graph_node_add(a, m->graph, "Conv", "conv", 3, c_in, 1, c_out) &&
            tqt_graph_node_add(a, m->graph, "Relu", "relu", 1, r_in, 1, r_out) &&
            tqt_graph_node_add(a, m->graph, "Flatten", "flatten", 1, r_out, 1, fl_out) &&
            (g = tqt_graph_node_add(a, m->graph, "Gemm", "fc", 3, g_in, 1, g_out)) &&
            !tqt_node_attr_add_int(a, g, "transB", 1) &&
            tqt_graph_output_add(a, m->graph, "y", TQT_DTYPE_FLOAT, 2, out_dims);
  if (!ok) {
    tqt_model_destroy(m);
    return NULL;
  }
  return m;
}

/* A plan calibrated on `random` inputs, finished. */
static struct tqt_quant_plan *calibrated(struct tqt_model *m, const struct tqt_options *o,
                                         bool calibrate, struct tqt_diag *d) {
  struct tqt_quant_plan *p = NULL;
  const char *spec = "random";
  if (tqt_passes_run(m, o, d) != TQT_STATUS_OK || tqt_quant_plan_build(m, o, &p, d) != TQT_STATUS_OK)
    return NULL;
  if (calibrate && tqt_quant_calibrate(p, m, &spec, 1, 8, 0, NULL, NULL, d) != TQT_STATUS_OK) {
    tqt_quant_plan_destroy(p);
    return NULL;
  }
  return p;
}

/* The statistics file written, read back and merged into a fresh plan of the same model give
 * the thresholds of the run that wrote it; its fields describe the small model. */
static bool test_stats_file_round_trip_gives_the_same_thresholds(void) {
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_options o = {0};
  struct tqt_model *m1 = small_model(7), *m2 = small_model(7);
  CHECK(m1 && m2);
  struct tqt_quant_plan *p1 = calibrated(m1, &o, true, &d), *p2 = calibrated(m2, &o, false, &d);
  CHECK(p1 && p2);
  CHECK(tqt_quant_plan_finish(p1, m1, &o, 1, &d) == TQT_STATUS_OK);
  struct tqt_stats_source src = {.plan = p1, .float_model = m1, .options = &o, .model_path = "small"};
  json_t *stats = NULL;
  CHECK(tqt_stats_build(&src, &stats, &d) == TQT_STATUS_OK);
  CHECK(tqt_stats_finish(stats, NULL, NULL, &d) == TQT_STATUS_OK);
  char path[] = "/tmp/tqt-stats-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  CHECK(tqt_json_write(stats, path, 0, &d) == TQT_STATUS_OK);
  /* fields: Conv (+ fused Relu), Relu, Flatten, Gemm quantized; 4 activations, 2 weights, 2 biases */
  const json_t *sum = json_object_get(stats, "summary");
  CHECK(tqt_json_int(sum, "quantized_nodes", 0) == (long long)p1->n_quantized_nodes);
  CHECK(json_array_size(json_object_get(stats, "tensors")) == p1->n_tensors && p1->n_tensors == 8);
  const json_t *conv = json_array_get(json_object_get(stats, "nodes"), 0);
  CHECK(!strcmp(tqt_json_str(conv, "op_type"), "Conv") && !strcmp(tqt_json_str(conv, "fused_with"), "Relu"));
  CHECK(tqt_json_int(json_object_get(conv, "accumulator"), "needed", 0) == 8 + 8 + 5); /* K = 18 */
  const char *const paths[1] = {path};
  CHECK(tqt_stats_merge_files(p2, m2, paths, 1, &d) == TQT_STATUS_OK);
  CHECK(p2->samples == p1->samples && p2->samples == 8);
  CHECK(tqt_quant_plan_finish(p2, m2, &o, 2, &d) == TQT_STATUS_OK);
  for (size_t i = 0; i < p1->n_tensors; i++) {
    CHECK(!strcmp(p1->tensors[i].name, p2->tensors[i].name));
    CHECK(p1->tensors[i].threshold == p2->tensors[i].threshold);
    CHECK(p1->tensors[i].exponent == p2->tensors[i].exponent);
  }
  unlink(path);
  json_decref(stats);
  tqt_quant_plan_destroy(p1);
  tqt_quant_plan_destroy(p2);
  tqt_model_destroy(m1);
  tqt_model_destroy(m2);
  return true;
}

static bool test_fixpoint_shifts_follow_the_exponents(void) {
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_options o = {0};
  struct tqt_model *m = small_model(7);
  CHECK(m);
  struct tqt_quant_plan *p = calibrated(m, &o, true, &d);
  CHECK(p && tqt_quant_plan_finish(p, m, &o, 1, &d) == TQT_STATUS_OK);
  json_t *fix = NULL;
  CHECK(tqt_fixpoint_build(p, m, NULL, &fix, &d) == TQT_STATUS_OK);
  const json_t *layers = json_object_get(fix, "layers");
  CHECK(json_array_size(layers) == 2);
  const json_t *conv = json_array_get(layers, 0);
  const struct tqt_qtensor *x = tqt_quant_plan_find(p, "x"), *w = tqt_quant_plan_find(p, "w");
  const struct tqt_qtensor *r = tqt_quant_plan_find(p, "r");
  CHECK(x && w && r && !strcmp(tqt_json_str(conv, "output"), "r"));
  CHECK(!strcmp(tqt_json_str(conv, "activation"), "Relu"));
  int fp_x = x->bits - 1 - x->exponent, fp_w = w->bits - 1 - w->exponent, fp_r = r->bits - r->exponent;
  CHECK(tqt_json_int(conv, "fp_in", 99) == fp_x && tqt_json_int(conv, "fp_w", 99) == fp_w);
  CHECK(tqt_json_int(conv, "fp_out", 99) == fp_r);
  CHECK(tqt_json_int(conv, "output_shift", 99) == fp_x + fp_w - fp_r);
  CHECK(tqt_json_int(conv, "bias_shift", 99) == 0);
  json_decref(fix);
  tqt_quant_plan_destroy(p);
  tqt_model_destroy(m);
  return true;
}

static bool test_fingerprint_sees_weights_and_names(void) {
  struct tqt_model *a = small_model(7), *b = small_model(8);
  CHECK(a && b);
  char fa[17], fb[17];
  tqt_model_fingerprint(a, fa);
  tqt_model_fingerprint(a, fb);
  CHECK(!strcmp(fa, fb));
  tqt_model_fingerprint(b, fb); /* other random weights */
  CHECK(strcmp(fa, fb));
  ((float *)a->graph->initializers[0]->data)[0] += 1.0f;
  char fc[17];
  tqt_model_fingerprint(a, fc);
  CHECK(strcmp(fa, fc) && strlen(fc) == 16);
  tqt_model_destroy(a);
  tqt_model_destroy(b);
  return true;
}

int main(void) {
  run("histogram JSON round trip keeps every field", test_histogram_json_round_trip_keeps_every_field);
  run("histogram JSON round trip of zeros only and of an empty histogram",
      test_histogram_json_round_trip_of_zeros_and_empty);
  run("histogram from JSON rejects inconsistent counts, naming the place",
      test_histogram_from_json_rejects_inconsistent_counts);
  run("merged shards give the histogram and thresholds of one stream",
      test_merged_shards_give_the_thresholds_of_one_stream);
  run("compare metrics: SQNR, cosine, top-1, exact, mismatch", test_compare_metrics_give_sqnr_cosine_and_top1);
  run("compare: which shapes look like class scores", test_compare_class_scores_shapes);
  run("report escapes names and references nothing outside", test_report_escapes_names_and_stays_offline);
  run("stats file round trip gives the same thresholds", test_stats_file_round_trip_gives_the_same_thresholds);
  run("fixed-point shifts follow the exponents", test_fixpoint_shifts_follow_the_exponents);
  run("fingerprint sees weights and names", test_fingerprint_sees_weights_and_names);
  printf("report-unit: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
