/* The config file: every key into struct tqt_options, calib paths from the file's folder, one
 * precise line per mistake, and the per-op-type / per-node overrides as the quantization plan
 * (bits) and calibration (methods) apply them: node beats op type beats global. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "passes.h"
#include "quant.h"

struct fx {
  char dir[256];
  struct tqt_arena *arena;
  struct tqt_options o;
  struct tqt_diag d;
};

static int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "%s/tqt-config.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(f->dir) || !(f->arena = tqt_arena_create())) return -1;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  struct fx *f = *state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  int rc = system(cmd);
  tqt_arena_destroy(f->arena);
  free(f);
  return rc == 0 ? 0 : -1;
}

/* Writes text to DIR/name and returns the path. */
static const char *fx_write(struct fx *f, const char *name, const char *text) {
  const char *path = tqt_arena_printf(f->arena, "%s/%s", f->dir, name);
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
  return path;
}

/* Loads text as DIR/config.json into f->o; returns the status. */
static enum tqt_status fx_load(struct fx *f, const char *text) {
  f->d = (struct tqt_diag){0};
  return tqt_config_load(fx_write(f, "config.json", text), &f->o, f->arena, &f->d);
}

static void fx_load_ok(struct fx *f, const char *text) {
  if (fx_load(f, text) != TQT_STATUS_OK) fail_msg("%s", f->d.msg);
}

/* ---- every key ---- */

static void test_every_key_fills_the_options(void **state) {
  struct fx *f = *state;
  fx_load_ok(f,
             "{\n"
             "  \"calib\": \"calib.npy\",\n"
             "  \"calib_count\": 64,\n"
             "  \"act_method\": \"percentile\",\n"
             "  \"weight_method\": \"mse\",\n"
             "  \"input_method\": \"3sd\",\n"
             "  \"percentile\": 99.9,\n"
             "  \"wbits\": 6, \"abits\": 7, \"bbits\": 24,\n"
             "  \"per_channel\": true,\n"
             "  \"exclude_op_types\": [\"Softmax\", \"Resize\"],\n"
             "  \"exclude_nodes\": [\"head/fc\", \"/^stem[0-9]+$/\"],\n"
             "  \"keep_outputs\": [\"logits\"],\n"
             "  \"quantize_weights_only\": [\"LSTM\", \"GRU\"],\n"
             "  \"no_align_add\": true,\n"
             "  \"set_input\": {\"mode\": 2, \"gain\": 0.5, \"train\": false, \"w\": [1, 2.5, 3]},\n"
             "  \"input_shape\": {\"image\": [1, 3, 224, 224], \"len\": [7]},\n"
             "  \"opset\": 13,\n"
             "  \"op_types\": {\"Conv\": {\"wbits\": 4, \"abits\": 8, \"act_method\": \"max\",\n"
             "                          \"weight_method\": \"mse\"},\n"
             "               \"Gemm\": {\"bbits\": 16, \"percentile\": 99}},\n"
             "  \"nodes\": {\"/^head/\": {\"wbits\": 3}},\n"
             "  \"preprocess\": {\"size\": [224, 200], \"mean\": [0.485, 0.456, 0.406],\n"
             "                 \"std\": [0.229, 0.224, 0.225], \"channel_order\": \"BGR\",\n"
             "                 \"layout\": \"NHWC\", \"scale\": 1.0, \"grayscale\": false}\n"
             "}\n");
  const struct tqt_options *o = &f->o;
  assert_int_equal(o->n_calib, 1);
  char want[512];
  snprintf(want, sizeof want, "%s/calib.npy", f->dir);
  assert_string_equal(o->calib[0], want);
  assert_int_equal(o->calib_count, 64);
  assert_string_equal(o->act_method, "percentile");
  assert_string_equal(o->weight_method, "mse");
  assert_string_equal(o->input_method, "3sd");
  assert_true(o->percentile == 99.9);
  assert_int_equal(o->wbits, 6);
  assert_int_equal(o->abits, 7);
  assert_int_equal(o->bbits, 24);
  assert_true(o->per_channel);
  assert_int_equal(o->n_exclude_op_types, 2);
  assert_string_equal(o->exclude_op_types[0], "Softmax");
  assert_string_equal(o->exclude_op_types[1], "Resize");
  assert_int_equal(o->n_exclude_nodes, 2);
  assert_string_equal(o->exclude_nodes[0], "head/fc");
  assert_string_equal(o->exclude_nodes[1], "/^stem[0-9]+$/");
  assert_int_equal(o->n_keep_outputs, 1);
  assert_string_equal(o->keep_outputs[0], "logits");
  assert_int_equal(o->n_quantize_weights_only, 2);
  assert_string_equal(o->quantize_weights_only[0], "LSTM");
  assert_string_equal(o->quantize_weights_only[1], "GRU");
  assert_true(o->no_align_add);
  assert_int_equal(o->n_set_inputs, 4);
  const char *names[4] = {"mode", "gain", "train", "w"}, *values[4] = {"2", "0.5", "false", "1,2.5,3"};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(o->set_inputs[i].name, names[i]);
    assert_string_equal(o->set_inputs[i].value, values[i]);
  }
  assert_int_equal(o->n_input_shapes, 2);
  assert_string_equal(o->input_shapes[0].name, "image");
  assert_int_equal(o->input_shapes[0].rank, 4);
  assert_int_equal(o->input_shapes[0].dims[3], 224);
  assert_string_equal(o->input_shapes[1].name, "len");
  assert_int_equal(o->input_shapes[1].rank, 1);
  assert_int_equal(o->input_shapes[1].dims[0], 7);
  assert_int_equal(o->opset, 13);
  /* overrides: node entries first, then op types, each in file order */
  assert_int_equal(o->n_overrides, 3);
  assert_string_equal(o->overrides[0].node, "/^head/");
  assert_null(o->overrides[0].op_type);
  assert_int_equal(o->overrides[0].wbits, 3);
  assert_int_equal(o->overrides[0].abits, 0);
  assert_string_equal(o->overrides[1].op_type, "Conv");
  assert_int_equal(o->overrides[1].wbits, 4);
  assert_int_equal(o->overrides[1].abits, 8);
  assert_string_equal(o->overrides[1].act_method, "max");
  assert_string_equal(o->overrides[1].weight_method, "mse");
  assert_string_equal(o->overrides[2].op_type, "Gemm");
  assert_int_equal(o->overrides[2].bbits, 16);
  assert_true(o->overrides[2].percentile == 99);
  assert_null(o->overrides[2].act_method);
  const struct tqt_preprocess *pp = o->preprocess;
  assert_non_null(pp);
  assert_int_equal(pp->height, 224);
  assert_int_equal(pp->width, 200);
  assert_int_equal(pp->n_mean, 3);
  assert_true(pp->mean[2] == 0.406);
  assert_int_equal(pp->n_std, 3);
  assert_true(pp->std[0] == 0.229);
  assert_true(pp->bgr);
  assert_true(pp->nhwc);
  assert_true(pp->scale == 1.0);
  assert_false(pp->grayscale);
}

static void test_keys_the_file_lacks_keep_their_values(void **state) {
  struct fx *f = *state;
  f->o.abits = 6;
  f->o.act_method = "max";
  fx_load_ok(f, "{\"wbits\": 4}");
  assert_int_equal(f->o.wbits, 4);
  assert_int_equal(f->o.abits, 6);
  assert_string_equal(f->o.act_method, "max");
  assert_null(f->o.preprocess);
  assert_int_equal(f->o.n_overrides, 0);
}

static void test_calib_array_and_grayscale_preprocess_defaults(void **state) {
  struct fx *f = *state;
  fx_load_ok(f, "{\"calib\": [\"a\", \"b\"], \"preprocess\": {\"grayscale\": true, "
                "\"mean\": [0.1307], \"std\": [0.3081]}}");
  assert_int_equal(f->o.n_calib, 2);
  const struct tqt_preprocess *pp = f->o.preprocess;
  assert_true(pp->grayscale);
  assert_int_equal(pp->n_mean, 1);
  assert_int_equal(pp->n_std, 1);
  assert_int_equal(pp->height, 0); /* the model input's dims */
  assert_true(pp->scale == 0);     /* 255 */
  assert_false(pp->bgr);
  assert_false(pp->nhwc);
}

/* ---- calib paths ---- */

static void test_calib_paths_are_relative_to_the_config_folder(void **state) {
  struct fx *f = *state;
  fx_write(f, "odd=name.npy", "");
  fx_load_ok(f, "{\"calib\": [\"data.npy\", \"sub/dir/\", \"/abs/x.npy\", \"random\", "
                "\"input=data2.npy\", \"mask=/abs/m.npy\", \"odd=name.npy\"]}");
  const char *want[7] = {"%s/data.npy",      "%s/sub/dir/", "/abs/x.npy",     "random",
                         "input=%s/data2.npy", "mask=/abs/m.npy", "%s/odd=name.npy"};
  assert_int_equal(f->o.n_calib, 7);
  for (int i = 0; i < 7; i++) {
    char path[512];
    snprintf(path, sizeof path, want[i], f->dir);
    assert_string_equal(f->o.calib[i], path);
  }
}

static void test_calib_paths_of_a_config_in_the_working_folder_stay(void **state) {
  struct fx *f = *state;
  fx_write(f, "here.json", "{\"calib\": \"data.npy\"}");
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(f->dir), 0);
  enum tqt_status st = tqt_config_load("here.json", &f->o, f->arena, &f->d);
  assert_int_equal(chdir(cwd), 0);
  assert_int_equal(st, TQT_STATUS_OK);
  assert_string_equal(f->o.calib[0], "data.npy");
}

/* ---- errors ---- */

struct bad_case {
  const char *json;
  const char *message; /* after "PATH: " */
};

static void test_wrong_keys_and_types_are_usage_errors_naming_file_and_key(void **state) {
  struct fx *f = *state;
  static const struct bad_case cases[] = {
      {"{\"wbits\": 1}", "'wbits' must be an integer from 2 to 16"},
      {"{\"wbits\": \"8\"}", "'wbits' must be an integer from 2 to 16"},
      {"{\"abits\": 8.0}", "'abits' must be an integer from 2 to 16"},
      {"{\"bbits\": 40}", "'bbits' must be an integer from 8 to 32"},
      {"{\"calib_count\": 0}", "'calib_count' must be an integer of at least 1"},
      {"{\"calib\": []}", "'calib' must be a path or an array of paths (strings)"},
      {"{\"calib\": [\"a\", 3]}", "'calib' must be a path or an array of paths (strings)"},
      {"{\"act_method\": \"kl\"}",
       "'act_method' must be one of \"max\", \"3sd\", \"percentile\", \"kl_j\", \"mse\""},
      {"{\"input_method\": 3}",
       "'input_method' must be one of \"max\", \"3sd\", \"percentile\", \"kl_j\", \"mse\""},
      {"{\"weight_method\": \"kl_j\"}", "'weight_method' must be one of \"max\", \"3sd\", \"mse\""},
      {"{\"percentile\": 101}", "'percentile' must be a number above 0 and at most 100"},
      {"{\"per_channel\": 1}", "'per_channel' must be true or false"},
      {"{\"no_align_add\": \"yes\"}", "'no_align_add' must be true or false"},
      {"{\"exclude_op_types\": \"Conv\"}", "'exclude_op_types' must be an array of strings"},
      {"{\"quantize_weights_only\": [\"LSTM\", 1]}",
       "'quantize_weights_only' must be an array of strings"},
      {"{\"exclude_nodes\": [\"/a(/\"]}",
       "'exclude_nodes' holds '/a(/', which is not a valid regular expression"},
      {"{\"set_input\": {\"mode\": \"fast\"}}",
       "'set_input.mode' must be a number, true/false or an array of numbers"},
      {"{\"set_input\": {\"w\": []}}",
       "'set_input.w' must be a number, true/false or an array of numbers"},
      {"{\"set_input\": [1]}", "'set_input' must be an object of NAME: value"},
      {"{\"input_shape\": {\"x\": [1, 0]}}",
       "'input_shape.x' must be an array of 1 to 16 positive integers (the dims)"},
      {"{\"opset\": 0}", "'opset' must be an integer from 1 to 1000"},
      {"{\"op_types\": {\"Conv\": {\"wbits\": 20}}}",
       "'op_types.Conv.wbits' must be an integer from 2 to 16"},
      {"{\"op_types\": {\"Conv\": 4}}",
       "'op_types.Conv' must be an object (keys: wbits, abits, bbits, act_method, weight_method, "
       "percentile)"},
      {"{\"op_types\": [\"Conv\"]}", "'op_types' must be an object of op type: {settings}"},
      {"{\"nodes\": {\"fc1\": {\"weight_method\": \"percentile\"}}}",
       "'nodes.fc1.weight_method' must be one of \"max\", \"3sd\", \"mse\""},
      {"{\"nodes\": {\"/x[/\": {}}}", "'nodes' holds '/x[/', which is not a valid regular expression"},
      {"{\"preprocess\": {\"size\": [224]}}",
       "'preprocess.size' must be [height, width], two integers from 1 to 65536"},
      {"{\"preprocess\": {\"mean\": [1, 2]}}", "'preprocess.mean' must be an array of 1 or 3 numbers"},
      {"{\"preprocess\": {\"std\": [0]}}",
       "'preprocess.std' must be an array of 1 or 3 positive numbers"},
      {"{\"preprocess\": {\"std\": [1, 1, 1], \"grayscale\": true}}",
       "'preprocess.std' must be an array of 1 positive number (grayscale)"},
      {"{\"preprocess\": {\"grayscale\": \"no\"}}", "'preprocess.grayscale' must be true or false"},
      {"{\"preprocess\": {\"layout\": \"CHW\"}}", "'preprocess.layout' must be \"NCHW\" or \"NHWC\""},
      {"{\"preprocess\": {\"channel_order\": \"rgb\"}}",
       "'preprocess.channel_order' must be \"RGB\" or \"BGR\""},
      {"{\"preprocess\": {\"scale\": 0}}", "'preprocess.scale' must be a positive number"},
      {"{\"preprocess\": true}",
       "'preprocess' must be an object (keys: size, mean, std, channel_order, layout, scale, "
       "grayscale)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct tqt_options o = {0};
    f->o = o;
    assert_int_equal(fx_load(f, cases[i].json), TQT_STATUS_USAGE);
    char want[1024];
    snprintf(want, sizeof want, "%s/config.json: %s", f->dir, cases[i].message);
    if (strcmp(f->d.msg, want) != 0) fail_msg("%s:\n  got  %s\n  want %s", cases[i].json, f->d.msg, want);
  }
}

static void test_unknown_keys_are_errors_with_a_suggestion(void **state) {
  struct fx *f = *state;
  static const struct bad_case cases[] = {
      {"{\"wbit\": 4}", "unknown key 'wbit' (did you mean 'wbits'?)"},
      {"{\"per-channel\": true}", "unknown key 'per-channel' (did you mean 'per_channel'?)"},
      {"{\"op_types\": {\"Conv\": {\"wbit\": 4}}}",
       "unknown key 'op_types.Conv.wbit' (did you mean 'op_types.Conv.wbits'?)"},
      {"{\"nodes\": {\"fc\": {\"exclude\": true}}}",
       "unknown key 'nodes.fc.exclude' (known keys: wbits, abits, bbits, act_method, "
       "weight_method, percentile)"},
      {"{\"preprocess\": {\"sise\": [1, 1]}}",
       "unknown key 'preprocess.sise' (did you mean 'preprocess.size'?)"},
      {"{\"threads\": 4}",
       "unknown key 'threads' (known keys: calib, calib_count, act_method, weight_method, "
       "input_method, percentile, wbits, abits, bbits, per_channel, exclude_op_types, "
       "exclude_nodes, no_align_add, align_concat, set_input, input_shape, opset, op_types, nodes, preprocess, "
       "quantize_weights_only, search, search_samples, bias_correction, equalize, split_chains, "
       "int8_activations, keep_outputs)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_int_equal(fx_load(f, cases[i].json), TQT_STATUS_USAGE);
    char want[1024];
    snprintf(want, sizeof want, "%s/config.json: %s", f->dir, cases[i].message);
    if (strcmp(f->d.msg, want) != 0) fail_msg("%s:\n  got  %s\n  want %s", cases[i].json, f->d.msg, want);
  }
}

static void test_malformed_json_names_file_line_and_column(void **state) {
  struct fx *f = *state;
  char want[512];
  assert_int_equal(fx_load(f, "{\n  \"wbits\": 4,\n}\n"), TQT_STATUS_USAGE);
  snprintf(want, sizeof want, "%s/config.json:3:1: not valid JSON: ", f->dir);
  assert_memory_equal(f->d.msg, want, strlen(want));
  assert_null(strchr(f->d.msg, '\n'));
  assert_int_equal(fx_load(f, "{\"wbits\": 4, \"wbits\": 5}"), TQT_STATUS_USAGE);
  assert_non_null(strstr(f->d.msg, "duplicate"));
  assert_int_equal(fx_load(f, "[1, 2]"), TQT_STATUS_USAGE);
  snprintf(want, sizeof want, "%s/config.json: the config must be a JSON object {\"key\": value}",
           f->dir);
  assert_string_equal(f->d.msg, want);
}

static void test_missing_file_is_a_usage_error(void **state) {
  struct fx *f = *state;
  char path[512], want[1024];
  snprintf(path, sizeof path, "%s/none.json", f->dir);
  assert_int_equal(tqt_config_load(path, &f->o, f->arena, &f->d), TQT_STATUS_USAGE);
  snprintf(want, sizeof want, "%s: cannot read the config file (No such file or directory)", path);
  assert_string_equal(f->d.msg, want);
}

/* ---- overrides ---- */

static struct tqt_node *node(struct tqt_arena *a, const char *op, const char *name) {
  return tqt_node_create(a, op, name, 0, NULL, 0, NULL);
}

static void test_resolve_node_beats_op_type_beats_global_per_key(void **state) {
  struct fx *f = *state;
  fx_load_ok(f, "{\"wbits\": 7, \"act_method\": \"3sd\", \"percentile\": 99.5,\n"
                " \"op_types\": {\"Gemm\": {\"wbits\": 4, \"abits\": 6, \"weight_method\": \"mse\"}},\n"
                " \"nodes\": {\"fc2\": {\"wbits\": 3}, \"/^fc/\": {\"wbits\": 2, \"bbits\": 16,\n"
                "            \"act_method\": \"max\"}, \"/2$/\": {\"percentile\": 90}}}");
  struct tqt_overrides *ov;
  assert_int_equal(tqt_overrides_create(&f->o, &ov, &f->d), TQT_STATUS_OK);
  struct tqt_node_settings s;
  /* fc2: its exact entry (first) gives wbits, the regex entry bbits and act_method, the third
   * entry percentile, Gemm abits and weight_method */
  tqt_overrides_resolve(ov, node(f->arena, "Gemm", "fc2"), &s);
  assert_int_equal(s.wbits, 3);
  assert_int_equal(s.abits, 6);
  assert_int_equal(s.bbits, 16);
  assert_string_equal(s.act_method, "max");
  assert_string_equal(s.weight_method, "mse");
  assert_true(s.percentile == 90);
  /* fc1: the regex entry beats Gemm's wbits */
  tqt_overrides_resolve(ov, node(f->arena, "Gemm", "fc1"), &s);
  assert_int_equal(s.wbits, 2);
  assert_true(s.percentile == 99.5);
  /* a Gemm no node entry names: op type, then global */
  tqt_overrides_resolve(ov, node(f->arena, "Gemm", "head"), &s);
  assert_int_equal(s.wbits, 4);
  assert_int_equal(s.abits, 6);
  assert_int_equal(s.bbits, 0); /* the default */
  assert_string_equal(s.act_method, "3sd");
  /* a Conv: global */
  tqt_overrides_resolve(ov, node(f->arena, "Conv", "conv"), &s);
  assert_int_equal(s.wbits, 7);
  assert_int_equal(s.abits, 0);
  assert_null(s.weight_method);
  for (size_t i = 0; i < f->o.n_overrides; i++) assert_true(tqt_overrides_used(ov, i));
  tqt_overrides_destroy(ov);
}

static void test_resolve_marks_entries_that_matched_nothing(void **state) {
  struct fx *f = *state;
  fx_load_ok(f, "{\"nodes\": {\"conv\": {\"wbits\": 4}, \"/nothing/\": {\"wbits\": 3}}}");
  struct tqt_overrides *ov;
  assert_int_equal(tqt_overrides_create(&f->o, &ov, &f->d), TQT_STATUS_OK);
  struct tqt_node_settings s;
  tqt_overrides_resolve(ov, node(f->arena, "Conv", "conv"), &s);
  assert_true(tqt_overrides_used(ov, 0));
  assert_false(tqt_overrides_used(ov, 1));
  tqt_overrides_destroy(ov);
}

/* x[1,1,4,4] → Conv "conv" (w_conv[2,1,3,3], b_conv[2]) → Relu "relu" → Flatten "flat" →
 * Gemm "fc" (w_fc[3,8] transB, b_fc[3]) → y[1,3]. Weights: small values and one outlier, so that
 * max and 3sd differ. */
static struct tqt_model *small_model(struct tqt_diag *d) {
  struct tqt_model *m = tqt_model_create();
  struct tqt_arena *a = m->arena;
  struct tqt_graph *g = m->graph;
  tqt_model_opset_set(m, "", 13);
  int64_t xd[4] = {1, 1, 4, 4}, wd[4] = {2, 1, 3, 3}, bd[1] = {2}, fd[2] = {3, 8}, cd[1] = {3},
          yd[2] = {1, 3};
  tqt_graph_input_add(a, g, "x", TQT_DTYPE_FLOAT, 4, xd);
  tqt_graph_output_add(a, g, "y", TQT_DTYPE_FLOAT, 2, yd);
  float w[24], b[3] = {0.1f, -0.2f, 0.3f};
  for (int i = 0; i < 24; i++) w[i] = (i % 2 ? 0.1f : -0.1f);
  w[5] = 10.0f;
  tqt_graph_initializer_add(a, g, "w_conv", TQT_DTYPE_FLOAT, 4, wd, w);
  tqt_graph_initializer_add(a, g, "b_conv", TQT_DTYPE_FLOAT, 1, bd, b);
  tqt_graph_initializer_add(a, g, "w_fc", TQT_DTYPE_FLOAT, 2, fd, w);
  tqt_graph_initializer_add(a, g, "b_fc", TQT_DTYPE_FLOAT, 1, cd, b);
  const char *ci[3] = {"x", "w_conv", "b_conv"}, *co[1] = {"c"};
  struct tqt_node *conv = tqt_graph_node_add(a, g, "Conv", "conv", 3, ci, 1, co);
  int64_t pads[4] = {0, 0, 0, 0};
  tqt_node_attr_add_ints(a, conv, "pads", 4, pads);
  const char *ri[1] = {"c"}, *ro[1] = {"r"};
  tqt_graph_node_add(a, g, "Relu", "relu", 1, ri, 1, ro);
  const char *fi[1] = {"r"}, *fo[1] = {"f"};
  tqt_graph_node_add(a, g, "Flatten", "flat", 1, fi, 1, fo);
  const char *gi[3] = {"f", "w_fc", "b_fc"}, *go[1] = {"y"};
  struct tqt_node *fc = tqt_graph_node_add(a, g, "Gemm", "fc", 3, gi, 1, go);
  tqt_node_attr_add_int(a, fc, "transB", 1);
  struct tqt_options none = {0};
  if (tqt_model_validate(m, d) != TQT_STATUS_OK || pass_infer_shapes(m, &none, d) < 0)
    fail_msg("%s", d->msg);
  return m;
}

static int bits_of(const struct tqt_quant_plan *p, const char *name) {
  const struct tqt_qtensor *t = tqt_quant_plan_find(p, name);
  if (!t) fail_msg("'%s' is not in the plan", name);
  return t->bits;
}

static void test_plan_without_overrides_keeps_8_8_32(void **state) {
  struct fx *f = *state;
  struct tqt_model *m = small_model(&f->d);
  struct tqt_quant_plan *p;
  assert_int_equal(tqt_quant_plan_build(m, &f->o, &p, &f->d), TQT_STATUS_OK);
  assert_int_equal(bits_of(p, "w_conv"), 8);
  assert_int_equal(bits_of(p, "w_fc"), 8);
  assert_int_equal(bits_of(p, "x"), 8);
  assert_int_equal(bits_of(p, "r"), 8);
  assert_int_equal(bits_of(p, "y"), 8);
  assert_int_equal(bits_of(p, "b_conv"), 32);
  assert_null(tqt_quant_plan_find(p, "c")); /* Conv → Relu: the Relu quantizes */
  tqt_quant_plan_destroy(p);
  tqt_model_destroy(m);
}

static void test_plan_bits_come_from_the_node_that_quantizes_the_tensor(void **state) {
  struct fx *f = *state;
  fx_load_ok(f, "{\"wbits\": 7, \"abits\": 7,\n"
                " \"op_types\": {\"Gemm\": {\"wbits\": 4, \"abits\": 6},\n"
                "              \"Conv\": {\"wbits\": 5, \"bbits\": 16}},\n"
                " \"nodes\": {\"/^f[c]$/\": {\"wbits\": 3}, \"relu\": {\"abits\": 5}}}");
  struct tqt_model *m = small_model(&f->d);
  struct tqt_quant_plan *p;
  assert_int_equal(tqt_quant_plan_build(m, &f->o, &p, &f->d), TQT_STATUS_OK);
  assert_int_equal(bits_of(p, "w_conv"), 5); /* op type */
  assert_int_equal(bits_of(p, "b_conv"), 16);
  assert_int_equal(bits_of(p, "x"), 7);      /* Conv quantizes x: global abits */
  assert_int_equal(bits_of(p, "r"), 5);      /* node */
  assert_int_equal(bits_of(p, "f"), 7);      /* Flatten: global */
  assert_int_equal(bits_of(p, "w_fc"), 3);   /* node beats op type */
  assert_int_equal(bits_of(p, "y"), 6);      /* op type: the node entry sets no abits */
  assert_int_equal(bits_of(p, "b_fc"), 32);  /* default */
  tqt_quant_plan_destroy(p);
  tqt_model_destroy(m);
}

static double max_abs(const struct tqt_qtensor *t) {
  return fmax(fabs(t->hist->min), fabs(t->hist->max));
}

static void test_calibration_methods_come_from_the_node_that_quantizes_the_tensor(void **state) {
  struct fx *f = *state;
  fx_load_ok(f, "{\"act_method\": \"percentile\", \"percentile\": 50, \"weight_method\": \"3sd\",\n"
                " \"op_types\": {\"Conv\": {\"weight_method\": \"max\", \"act_method\": \"3sd\"},\n"
                "              \"Gemm\": {\"percentile\": 100}},\n"
                " \"nodes\": {\"relu\": {\"act_method\": \"max\"}}}");
  struct tqt_model *m = small_model(&f->d);
  struct tqt_quant_plan *p;
  assert_int_equal(tqt_quant_plan_build(m, &f->o, &p, &f->d), TQT_STATUS_OK);
  const char *specs[1] = {"random"};
  f->d.verbosity = TQT_VERBOSITY_QUIET;
  assert_int_equal(tqt_quant_calibrate(p, m, specs, 1, 16, 0, NULL, NULL, &f->d), TQT_STATUS_OK);
  assert_int_equal(tqt_quant_plan_finish(p, m, &f->o, 2, &f->d), TQT_STATUS_OK);
  /* weights: Conv max (op type), Gemm 3sd (global) */
  assert_true(tqt_quant_plan_find(p, "w_conv")->threshold == 10.0);
  assert_true(tqt_quant_plan_find(p, "w_fc")->threshold < 9.0);
  /* the graph input keeps input_method (max) whatever Conv says */
  const struct tqt_qtensor *x = tqt_quant_plan_find(p, "x");
  assert_true(x->threshold == max_abs(x));
  /* relu: max (node); flat: percentile 50 (global); y: percentile 100 (Gemm) */
  const struct tqt_qtensor *r = tqt_quant_plan_find(p, "r"), *fl = tqt_quant_plan_find(p, "f"),
                           *y = tqt_quant_plan_find(p, "y");
  assert_true(r->threshold == max_abs(r));
  assert_true(fl->threshold < 0.9 * max_abs(fl));
  assert_true(y->threshold >= 0.99 * max_abs(y));
  tqt_quant_plan_destroy(p);
  tqt_model_destroy(m);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)
  const struct CMUnitTest tests[] = {
      T(test_every_key_fills_the_options),
      T(test_keys_the_file_lacks_keep_their_values),
      T(test_calib_array_and_grayscale_preprocess_defaults),
      T(test_calib_paths_are_relative_to_the_config_folder),
      T(test_calib_paths_of_a_config_in_the_working_folder_stay),
      T(test_wrong_keys_and_types_are_usage_errors_naming_file_and_key),
      T(test_unknown_keys_are_errors_with_a_suggestion),
      T(test_malformed_json_names_file_line_and_column),
      T(test_missing_file_is_a_usage_error),
      T(test_resolve_node_beats_op_type_beats_global_per_key),
      T(test_resolve_marks_entries_that_matched_nothing),
      T(test_plan_without_overrides_keeps_8_8_32),
      T(test_plan_bits_come_from_the_node_that_quantizes_the_tensor),
      T(test_calibration_methods_come_from_the_node_that_quantizes_the_tensor),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
