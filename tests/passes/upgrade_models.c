/* Writes old-opset models, built with the IR builders, that exercise the conversions of
 * upgrade_opset the ONNX test data does not reach, in the ONNX test-case layout:
 *
 *   upgrade_models OUTDIR        OUTDIR/<case>/model.onnx, OUTDIR/<case>/test_data_set_0/
 *                                input_K.npy (seeded values) and, for models ONNX Runtime
 *                                cannot run (opsets below 7), output_K.npy computed here
 *
 * upgrade_cases converts them and upgrade_check.js compares each converted model with the
 * original in ONNX Runtime, or with output_K.npy. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npy.h"
#include "onnx_io.h"
#include "tqt.h"

#define GEN_MAX_IO 4

struct gen_tensor {
  char name[64];
  int32_t dtype;
  size_t rank;
  int64_t dims[8];
  void *data;
};

struct gen {
  const char *outdir;
  const char *name;
  struct tqt_model *m;
  struct tqt_arena *a;
  struct tqt_graph *g; /* where gen_node adds nodes */
  uint64_t rng;
  struct gen_tensor in[GEN_MAX_IO], out[GEN_MAX_IO];
  int n_in, n_out;
  int failed;
  int written;
};

static double gen_uniform(struct gen *g) {
  g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(g->rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gen_normal(struct gen *g) {
  return sqrt(-2 * log(gen_uniform(g))) * cos(6.283185307179586 * gen_uniform(g));
}

static int64_t gen_numel(size_t rank, const int64_t *dims) {
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) n *= dims[i];
  return n;
}

static void gen_begin(struct gen *g, const char *name, int64_t opset, int64_t ir) {
  g->name = name;
  g->m = tqt_model_create();
  g->a = g->m ? g->m->arena : NULL;
  g->g = g->m ? g->m->graph : NULL;
  g->n_in = g->n_out = 0;
  g->rng = 0x5eed;
  for (const char *p = name; *p; p++) g->rng = g->rng * 31 + (unsigned char)*p;
  if (!g->m || tqt_model_opset_set(g->m, "", opset) != 0) {
    g->failed = 1;
    return;
  }
  g->m->has_ir_version = true;
  g->m->ir_version = ir;
  g->m->producer_name = tqt_arena_strdup(g->a, "upgrade_models");
  g->m->graph->name = tqt_arena_strdup(g->a, name);
}

/* Splits "a,b,,c" into names ("" for an omitted input). */
static size_t gen_split(struct gen *g, const char *list, const char **names) {
  size_t n = 0;
  if (!list || !*list) return 0;
  for (const char *p = list;; n++) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    names[n] = tqt_arena_memdup(g->a, p, len);
    if (!comma) return n + 1;
    p = comma + 1;
  }
}

static struct tqt_node *gen_node(struct gen *g, const char *op, const char *ins,
                                 const char *outs) {
  const char *in[16], *out[16];
  size_t n_in = gen_split(g, ins, in), n_out = gen_split(g, outs, out);
  static int counter;
  char name[64];
  snprintf(name, sizeof name, "%s_%d", op, counter++);
  struct tqt_node *n = tqt_graph_node_add(g->a, g->g, op, name, n_in, in, n_out, out);
  if (!n) g->failed = 1;
  return n;
}

static void gen_int(struct gen *g, struct tqt_node *n, const char *name, int64_t v) {
  if (!n || tqt_node_attr_add_int(g->a, n, name, v) != 0) g->failed = 1;
}

static void gen_float(struct gen *g, struct tqt_node *n, const char *name, float v) {
  if (!n || tqt_node_attr_add_float(g->a, n, name, v) != 0) g->failed = 1;
}

static void gen_ints(struct gen *g, struct tqt_node *n, const char *name, size_t count,
                     const int64_t *v) {
  if (!n || tqt_node_attr_add_ints(g->a, n, name, count, v) != 0) g->failed = 1;
}

static void gen_string(struct gen *g, struct tqt_node *n, const char *name, const char *v) {
  if (!n || tqt_node_attr_add_string(g->a, n, name, v) != 0) g->failed = 1;
}

static void gen_floats(struct gen *g, struct tqt_node *n, const char *name, size_t count,
                       const float *v) {
  struct tqt_attr *at = n ? tqt_node_attr_add(g->a, n, name, TQT_ATTR_TYPE_FLOATS) : NULL;
  if (!at || !(at->floats = (float *)tqt_arena_memdup(g->a, v, count * sizeof *v))) {
    g->failed = 1;
    return;
  }
  at->n = count;
}

static struct tqt_attr *gen_graph_attr(struct gen *g, struct tqt_node *n, const char *name,
                                       struct tqt_graph *sub) {
  struct tqt_attr *at = n ? tqt_node_attr_add(g->a, n, name, TQT_ATTR_TYPE_GRAPH) : NULL;
  if (!at) g->failed = 1;
  else at->g = sub;
  return at;
}

/* A graph input with sample data: seeded N(0,1) * scale for floats, [0, 4) for integers, unless
 * `data` gives the values. declared = false leaves its shape unknown in the model. */
static float *gen_input(struct gen *g, const char *name, int32_t dtype, size_t rank,
                        const int64_t *dims, bool declared, double scale, const void *data) {
  struct tqt_value_info *vi = tqt_graph_input_add(g->a, g->m->graph, name, dtype, rank, dims);
  if (!vi || g->n_in == GEN_MAX_IO) {
    g->failed = 1;
    return NULL;
  }
  if (!declared) vi->type->has_shape = false;
  struct gen_tensor *t = &g->in[g->n_in++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->dtype = dtype;
  t->rank = rank;
  memcpy(t->dims, dims, rank * sizeof *dims);
  int64_t n = gen_numel(rank, dims);
  size_t es = tqt_dtype_size(dtype);
  t->data = tqt_arena_calloc(g->a, (size_t)n + 1, es);
  if (!t->data) {
    g->failed = 1;
    return NULL;
  }
  if (data) memcpy(t->data, data, (size_t)n * es);
  else
    for (int64_t i = 0; i < n; i++) {
      if (dtype == TQT_DTYPE_FLOAT) ((float *)t->data)[i] = (float)(scale * gen_normal(g));
      else if (dtype == TQT_DTYPE_DOUBLE) ((double *)t->data)[i] = scale * gen_normal(g);
      else if (dtype == TQT_DTYPE_INT64) ((int64_t *)t->data)[i] = (int64_t)(4 * gen_uniform(g));
      else if (dtype == TQT_DTYPE_BOOL) ((uint8_t *)t->data)[i] = gen_uniform(g) < 0.5;
    }
  return t->data;
}

/* A graph output; its shape is left unknown. */
static void gen_output(struct gen *g, const char *name, int32_t dtype) {
  struct tqt_value_info *vi = tqt_graph_output_add(g->a, g->m->graph, name, dtype, 0, NULL);
  if (!vi) g->failed = 1;
  else vi->type->has_shape = false;
}

/* The output the original model must give, for models ONNX Runtime cannot run. */
static void *gen_expect(struct gen *g, int32_t dtype, size_t rank, const int64_t *dims) {
  struct gen_tensor *t = &g->out[g->n_out++];
  t->dtype = dtype;
  t->rank = rank;
  memcpy(t->dims, dims, rank * sizeof *dims);
  t->data = tqt_arena_calloc(g->a, (size_t)gen_numel(rank, dims) + 1, tqt_dtype_size(dtype));
  if (!t->data) g->failed = 1;
  return t->data;
}

static void gen_init(struct gen *g, const char *name, int32_t dtype, size_t rank,
                     const int64_t *dims, const void *data) {
  if (!tqt_graph_initializer_add(g->a, g->g, name, dtype, rank, dims, data)) g->failed = 1;
}

static int gen_write_npy(const char *path, const struct gen_tensor *t) {
  struct tqt_diag d = {0};
  FILE *f = fopen(path, "wb");
  size_t bytes = (size_t)gen_numel(t->rank, t->dims) * tqt_dtype_size(t->dtype);
  if (!f || tqt_npy_header_write(f, t->dtype, t->rank, t->dims, path, &d) != TQT_STATUS_OK ||
      fwrite(t->data, 1, bytes, f) != bytes) {
    if (f) fclose(f);
    fprintf(stderr, "upgrade_models: %s: %s\n", path, d.msg[0] ? d.msg : strerror(errno));
    return -1;
  }
  return fclose(f) == 0 ? 0 : -1;
}

static void gen_end(struct gen *g) {
  char dir[4096], path[4200];
  struct tqt_diag d = {0};
  struct tqt_save_options save = {TQT_EXTERNAL_NEVER, 0};
  snprintf(dir, sizeof dir, "%s/%s", g->outdir, g->name);
  if (g->failed || !g->m) {
    fprintf(stderr, "upgrade_models: %s: building the model failed\n", g->name);
    g->failed = 1;
  } else if ((mkdir(dir, 0777) != 0 && errno != EEXIST) ||
             (snprintf(path, sizeof path, "%s/test_data_set_0", dir),
              mkdir(path, 0777) != 0 && errno != EEXIST)) {
    fprintf(stderr, "upgrade_models: %s: %s\n", dir, strerror(errno));
    g->failed = 1;
  } else if (snprintf(path, sizeof path, "%s/model.onnx", dir),
             tqt_model_save(g->m, path, &save, &d) != TQT_STATUS_OK) {
    fprintf(stderr, "upgrade_models: %s\n", d.msg);
    g->failed = 1;
  } else {
    for (int i = 0; i < g->n_in; i++) {
      snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.npy", dir, i);
      if (gen_write_npy(path, &g->in[i]) != 0) g->failed = 1;
    }
    for (int i = 0; i < g->n_out; i++) {
      snprintf(path, sizeof path, "%s/test_data_set_0/output_%d.npy", dir, i);
      if (gen_write_npy(path, &g->out[i]) != 0) g->failed = 1;
    }
    g->written++;
  }
  tqt_model_destroy(g->m);
  g->m = NULL;
}

/* ---- opset 13 changed Softmax, LogSoftmax, Hardmax ---- */

static void gen_softmax(struct gen *g, const char *name, const char *op, int64_t opset,
                        bool has_axis, int64_t axis, bool declared) {
  int64_t dims[4] = {2, 3, 4, 5};
  gen_begin(g, name, opset, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, dims, declared, 2, NULL);
  struct tqt_node *n = gen_node(g, op, "x", "y");
  if (has_axis) gen_int(g, n, "axis", axis);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);
}

/* If branches (subgraphs) with Softmax, Unsqueeze and Squeeze that read the outer x. */
static void gen_if_subgraphs(struct gen *g) {
  int64_t dims[3] = {2, 3, 4}, one = 1;
  uint8_t cond[1] = {1};
  gen_begin(g, "if_branches_softmax_unsqueeze", 11, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 3, dims, true, 1, NULL);
  gen_input(g, "cond", TQT_DTYPE_BOOL, 0, &one, true, 0, cond);
  struct tqt_node *iff = gen_node(g, "If", "cond", "y");
  struct tqt_graph *then_g = tqt_graph_create(g->a, "then", g->m->graph);
  struct tqt_graph *else_g = tqt_graph_create(g->a, "else", g->m->graph);
  if (!then_g || !else_g) {
    g->failed = 1;
    return;
  }
  int64_t axes0[1] = {0};
  g->g = then_g;
  gen_int(g, gen_node(g, "Softmax", "x", "t_y"), "axis", 1);
  tqt_graph_output_add(g->a, then_g, "t_y", TQT_DTYPE_FLOAT, 3, dims);
  g->g = else_g;
  gen_ints(g, gen_node(g, "Unsqueeze", "x", "e_u"), "axes", 1, axes0);
  gen_ints(g, gen_node(g, "Squeeze", "e_u", "e_s"), "axes", 1, axes0);
  gen_int(g, gen_node(g, "LogSoftmax", "e_s", "e_y"), "axis", 1);
  tqt_graph_output_add(g->a, else_g, "e_y", TQT_DTYPE_FLOAT, 3, dims);
  g->g = g->m->graph;
  gen_graph_attr(g, iff, "then_branch", then_g);
  gen_graph_attr(g, iff, "else_branch", else_g);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);
}

/* A Loop body with Unsqueeze and ReduceSum axes attributes (new initializers in the body). */
static void gen_loop_body(struct gen *g) {
  int64_t dims[2] = {2, 3}, trips = 3, axes0[1] = {0};
  gen_begin(g, "loop_body_unsqueeze_reducesum", 11, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, dims, true, 1, NULL);
  gen_init(g, "trips", TQT_DTYPE_INT64, 0, NULL, &trips);
  struct tqt_node *loop = gen_node(g, "Loop", "trips,,x", "acc");
  struct tqt_graph *body = tqt_graph_create(g->a, "body", g->m->graph);
  if (!body) {
    g->failed = 1;
    return;
  }
  tqt_graph_input_add(g->a, body, "i", TQT_DTYPE_INT64, 0, NULL);
  tqt_graph_input_add(g->a, body, "c", TQT_DTYPE_BOOL, 0, NULL);
  tqt_graph_input_add(g->a, body, "acc_in", TQT_DTYPE_FLOAT, 2, dims);
  g->g = body;
  gen_node(g, "Identity", "c", "c_out");
  gen_ints(g, gen_node(g, "Unsqueeze", "acc_in", "u"), "axes", 1, axes0);
  struct tqt_node *r = gen_node(g, "ReduceSum", "u", "r");
  gen_ints(g, r, "axes", 1, axes0);
  gen_int(g, r, "keepdims", 0);
  gen_node(g, "Add", "r,x", "acc_out");
  tqt_graph_output_add(g->a, body, "c_out", TQT_DTYPE_BOOL, 0, NULL);
  tqt_graph_output_add(g->a, body, "acc_out", TQT_DTYPE_FLOAT, 2, dims);
  g->g = g->m->graph;
  gen_graph_attr(g, loop, "body", body);
  gen_output(g, "acc", TQT_DTYPE_FLOAT);
  gen_end(g);
}

/* ---- attributes that became inputs (ONNX Runtime runs the originals) ---- */

static void gen_attr_inputs(struct gen *g) {
  int64_t d34[2] = {3, 4}, d4[4] = {2, 3, 4, 5}, d26[2] = {2, 6}, d345[3] = {3, 4, 5};

  gen_begin(g, "clip_min_max_opset6", 6, 3);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d34, true, 2, NULL);
  struct tqt_node *n = gen_node(g, "Clip", "x", "y");
  gen_float(g, n, "min", -0.5f);
  gen_float(g, n, "max", 0.75f);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "clip_min_only_opset9", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d34, true, 2, NULL);
  gen_node(g, "Relu", "x", "r");
  gen_float(g, gen_node(g, "Clip", "r", "y"), "min", 0.25f);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "pad_constant_value_opset9", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, d4, true, 1, NULL);
  n = gen_node(g, "Pad", "x", "y");
  int64_t pads[8] = {0, 1, 2, 0, 0, 0, 1, 3};
  gen_ints(g, n, "pads", 8, pads);
  gen_float(g, n, "value", 1.5f);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "pad_reflect_opset9", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, d4, true, 1, NULL);
  n = gen_node(g, "Pad", "x", "y");
  int64_t rpads[8] = {0, 0, 2, 1, 0, 0, 1, 3};
  gen_ints(g, n, "pads", 8, rpads);
  gen_string(g, n, "mode", "reflect");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "slice_starts_ends_axes_opset9", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 3, d345, true, 1, NULL);
  n = gen_node(g, "Slice", "x", "y");
  int64_t starts[2] = {1, -3}, ends[2] = {1000, -1}, axes[2] = {0, 2};
  gen_ints(g, n, "starts", 2, starts);
  gen_ints(g, n, "ends", 2, ends);
  gen_ints(g, n, "axes", 2, axes);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "slice_without_axes_opset9", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 3, d345, true, 1, NULL);
  n = gen_node(g, "Slice", "x", "y");
  int64_t starts3[3] = {0, 1, 0}, ends3[3] = {2, 3, 4};
  gen_ints(g, n, "starts", 3, starts3);
  gen_ints(g, n, "ends", 3, ends3);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "unsqueeze_squeeze_negative_axes_opset11", 11, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d34, true, 1, NULL);
  int64_t uaxes[2] = {0, -1}, saxes[1] = {-1};
  gen_ints(g, gen_node(g, "Unsqueeze", "x", "u"), "axes", 2, uaxes);
  gen_ints(g, gen_node(g, "Squeeze", "u", "y"), "axes", 1, saxes);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "split_lengths_opset11", 11, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d26, true, 1, NULL);
  n = gen_node(g, "Split", "x", "a,b,c");
  int64_t split[3] = {1, 3, 2};
  gen_int(g, n, "axis", 1);
  gen_ints(g, n, "split", 3, split);
  gen_output(g, "a", TQT_DTYPE_FLOAT);
  gen_output(g, "b", TQT_DTYPE_FLOAT);
  gen_output(g, "c", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "reducesum_axes_and_all_opset11", 11, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 3, d345, true, 1, NULL);
  n = gen_node(g, "ReduceSum", "x", "y");
  int64_t raxes[2] = {1, -1};
  gen_ints(g, n, "axes", 2, raxes);
  gen_int(g, n, "keepdims", 0);
  gen_node(g, "ReduceSum", "x", "z");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_output(g, "z", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "topk_k_attribute_opset9", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d34, true, 1, NULL);
  n = gen_node(g, "TopK", "x", "v,i");
  gen_int(g, n, "k", 2);
  gen_int(g, n, "axis", 1);
  gen_output(g, "v", TQT_DTYPE_FLOAT);
  gen_output(g, "i", TQT_DTYPE_INT64);
  gen_end(g);

  /* An existing value already holds the name the pass would pick for the new input. */
  gen_begin(g, "new_names_avoid_existing_ones_opset11", 11, 6);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d34, true, 1, NULL);
  int64_t a0[1] = {0};
  gen_node(g, "Relu", "x", "y/axes");
  n = gen_node(g, "Unsqueeze", "y/axes", "y");
  gen_ints(g, n, "axes", 1, a0);
  if (n) n->name = tqt_arena_strdup(g->a, ""); /* new names then start with its output, y */
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);
}

/* ---- Upsample and Resize-10 ---- */

static void gen_resize(struct gen *g) {
  int64_t dims[4] = {1, 2, 3, 4}, d4[1] = {4};
  float up23[4] = {1, 1, 2, 3}, up22[4] = {1, 1, 2, 2}, down[4] = {1, 1, 0.6f, 0.6f};
  int64_t big[4] = {1, 1, 5, 5};

  gen_begin(g, "upsample7_scales_attribute_nearest", 7, 3);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, dims, true, 1, NULL);
  gen_floats(g, gen_node(g, "Upsample", "x", "y"), "scales", 4, up23);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "upsample9_linear", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, dims, true, 1, NULL);
  gen_init(g, "scales", TQT_DTYPE_FLOAT, 1, d4, up22);
  gen_string(g, gen_node(g, "Upsample", "x,scales", "y"), "mode", "linear");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "upsample9_scales_at_run_time", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, dims, true, 1, NULL);
  gen_input(g, "scales", TQT_DTYPE_FLOAT, 1, d4, true, 0, up23);
  gen_node(g, "Upsample", "x,scales", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "resize10_nearest_downsample", 10, 5);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, big, true, 1, NULL);
  gen_init(g, "scales", TQT_DTYPE_FLOAT, 1, d4, down);
  gen_node(g, "Resize", "x,scales", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "resize10_linear_downsample", 10, 5);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, big, true, 1, NULL);
  gen_init(g, "scales", TQT_DTYPE_FLOAT, 1, d4, down);
  gen_string(g, gen_node(g, "Resize", "x,scales", "y"), "mode", "linear");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  /* scales from a Constant node: still known, so downsampling rounds up */
  gen_begin(g, "resize10_nearest_downsample_constant_node", 10, 5);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, big, true, 1, NULL);
  struct tqt_node *c = gen_node(g, "Constant", "", "scales");
  struct tqt_attr *value = c ? tqt_node_attr_add(g->a, c, "value", TQT_ATTR_TYPE_TENSOR) : NULL;
  struct tqt_graph *scratch = tqt_graph_create(g->a, "scratch", NULL);
  struct tqt_tensor *t = scratch ? tqt_graph_initializer_add(g->a, scratch, "", TQT_DTYPE_FLOAT,
                                                             1, d4, down)
                                 : NULL;
  if (!value || !t) g->failed = 1;
  else value->t = t;
  gen_node(g, "Resize", "x,scales", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  gen_begin(g, "resize10_linear_upsample", 10, 5);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, dims, true, 1, NULL);
  gen_init(g, "scales", TQT_DTYPE_FLOAT, 1, d4, up23);
  gen_string(g, gen_node(g, "Resize", "x,scales", "y"), "mode", "linear");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);
}

/* ---- ops whose semantics changed ---- */

static void gen_semantics(struct gen *g) {
  /* Scan-8 over a batch of 2, scanned backwards, with a state */
  int64_t state[2] = {2, 3}, seq[3] = {2, 4, 3}, dirs[1] = {1}, row[1] = {3};
  gen_begin(g, "scan8_batch_of_two_reverse", 8, 3);
  gen_input(g, "init", TQT_DTYPE_FLOAT, 2, state, true, 1, NULL);
  gen_input(g, "xs", TQT_DTYPE_FLOAT, 3, seq, true, 1, NULL);
  struct tqt_node *scan = gen_node(g, "Scan", ",init,xs", "final,ys");
  struct tqt_graph *body = tqt_graph_create(g->a, "scan_body", g->m->graph);
  if (!body) {
    g->failed = 1;
    return;
  }
  tqt_graph_input_add(g->a, body, "s_in", TQT_DTYPE_FLOAT, 1, row);
  tqt_graph_input_add(g->a, body, "x_t", TQT_DTYPE_FLOAT, 1, row);
  g->g = body;
  gen_node(g, "Add", "s_in,x_t", "s_out");
  gen_node(g, "Mul", "s_out,x_t", "y_t");
  tqt_graph_output_add(g->a, body, "s_out", TQT_DTYPE_FLOAT, 1, row);
  tqt_graph_output_add(g->a, body, "y_t", TQT_DTYPE_FLOAT, 1, row);
  g->g = g->m->graph;
  gen_graph_attr(g, scan, "body", body);
  gen_int(g, scan, "num_scan_inputs", 1);
  gen_ints(g, scan, "directions", 1, dirs);
  gen_output(g, "final", TQT_DTYPE_FLOAT);
  gen_output(g, "ys", TQT_DTYPE_FLOAT);
  gen_end(g);

  /* ConvTranspose with output_shape and an even total padding (2), which both opsets split
   * equally */
  int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 2, 3, 3}, strides[2] = {2, 2}, oshape[2] = {5, 5};
  float w[18];
  for (int i = 0; i < 18; i++) w[i] = (float)(i % 5) - 1.5f;
  gen_begin(g, "convtranspose_output_shape_even_padding", 10, 5);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, xd, true, 1, NULL);
  gen_init(g, "w", TQT_DTYPE_FLOAT, 4, wd, w);
  struct tqt_node *ct = gen_node(g, "ConvTranspose", "x,w", "y");
  gen_ints(g, ct, "strides", 2, strides);
  gen_ints(g, ct, "output_shape", 2, oshape);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  /* Dropout-9 with a mask output nobody reads */
  int64_t d34[2] = {3, 4};
  gen_begin(g, "dropout9_unread_mask", 9, 4);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 2, d34, true, 1, NULL);
  gen_float(g, gen_node(g, "Dropout", "x", "d,mask"), "ratio", 0.25f);
  gen_node(g, "Neg", "d", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);

  /* BatchNormalization-7 with spatial=1 written out */
  int64_t bd[4] = {2, 3, 2, 2}, c3[1] = {3};
  float scale[3] = {1.5f, 0.5f, -1}, bias[3] = {0.1f, 0.2f, 0.3f}, mean[3] = {0, 1, -1},
        var[3] = {1, 2, 0.5f};
  gen_begin(g, "batchnorm7_spatial", 7, 3);
  gen_input(g, "x", TQT_DTYPE_FLOAT, 4, bd, true, 1, NULL);
  gen_init(g, "scale", TQT_DTYPE_FLOAT, 1, c3, scale);
  gen_init(g, "bias", TQT_DTYPE_FLOAT, 1, c3, bias);
  gen_init(g, "mean", TQT_DTYPE_FLOAT, 1, c3, mean);
  gen_init(g, "var", TQT_DTYPE_FLOAT, 1, c3, var);
  gen_int(g, gen_node(g, "BatchNormalization", "x,scale,bias,mean,var", "y"), "spatial", 1);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  gen_end(g);
}

/* A model-local function (opset 10) with Softmax, an Unsqueeze whose axes and a Clip whose min
 * come from the call's attributes. */
static void gen_function(struct gen *g) {
  int64_t dims[3] = {2, 3, 4};
  gen_begin(g, "function_softmax_attribute_references", 10, 8);
  if (g->failed || tqt_model_opset_set(g->m, "local", 1) != 0) {
    g->failed = 1;
    return;
  }
  gen_input(g, "x", TQT_DTYPE_FLOAT, 3, dims, true, 1, NULL);
  struct tqt_node *call = gen_node(g, "Body", "x", "y");
  int64_t axes[1] = {1};
  gen_ints(g, call, "axes", 1, axes);
  gen_float(g, call, "lo", 0.05f);
  if (call) call->domain = tqt_arena_strdup(g->a, "local");
  gen_output(g, "y", TQT_DTYPE_FLOAT);

  struct tqt_function *fn = tqt_arena_calloc(g->a, 1, sizeof *fn);
  struct tqt_graph *scratch = tqt_graph_create(g->a, "scratch", NULL);
  const char *ins[1] = {"fx"}, *outs[1] = {"fy"}, *attrs[2] = {"axes", "lo"};
  if (!fn || !scratch ||
      tqt_arena_reserve(g->a, (void **)&g->m->functions, &g->m->cap_functions, 1,
                        sizeof *g->m->functions) != 0) {
    g->failed = 1;
    return;
  }
  fn->name = tqt_arena_strdup(g->a, "Body");
  fn->domain = tqt_arena_strdup(g->a, "local");
  fn->doc = tqt_arena_strdup(g->a, "");
  fn->inputs = (char **)tqt_arena_memdup(g->a, ins, sizeof ins);
  fn->outputs = (char **)tqt_arena_memdup(g->a, outs, sizeof outs);
  fn->attributes = (char **)tqt_arena_memdup(g->a, attrs, sizeof attrs);
  fn->n_inputs = fn->n_outputs = 1;
  fn->n_attributes = 2;
  fn->opsets = tqt_arena_calloc(g->a, 1, sizeof *fn->opsets);
  if (!fn->opsets) {
    g->failed = 1;
    return;
  }
  fn->opsets[0].domain = tqt_arena_strdup(g->a, "");
  fn->opsets[0].version = 10;
  fn->n_opsets = 1;
  g->g = scratch; /* nodes are built here, then moved into the function */
  gen_int(g, gen_node(g, "Softmax", "fx", "s"), "axis", 1);
  struct tqt_node *u = gen_node(g, "Unsqueeze", "s", "u");
  struct tqt_attr *at = u ? tqt_node_attr_add(g->a, u, "axes", TQT_ATTR_TYPE_INTS) : NULL;
  if (at) at->ref_attr_name = tqt_arena_strdup(g->a, "axes");
  struct tqt_node *c = gen_node(g, "Clip", "u", "c");
  at = c ? tqt_node_attr_add(g->a, c, "min", TQT_ATTR_TYPE_FLOAT) : NULL;
  if (at) at->ref_attr_name = tqt_arena_strdup(g->a, "lo");
  gen_ints(g, gen_node(g, "Squeeze", "c", "fy"), "axes", 1, axes);
  g->g = g->m->graph;
  fn->nodes = scratch->nodes;
  fn->n_nodes = scratch->n_nodes;
  fn->cap_nodes = scratch->cap_nodes;
  g->m->functions[g->m->n_functions++] = fn;
  gen_end(g);
}

/* ---- opsets ONNX Runtime no longer runs: the expected outputs are computed here ---- */

static void gen_legacy(struct gen *g) {
  /* Add-6: B [3, 4] aligned with A [2, 3, 4, 5] at axis 1 */
  int64_t ad[4] = {2, 3, 4, 5}, bd[2] = {3, 4};
  gen_begin(g, "add6_broadcast_axis", 6, 3);
  float *A = gen_input(g, "a", TQT_DTYPE_FLOAT, 4, ad, true, 1, NULL);
  float *B = gen_input(g, "b", TQT_DTYPE_FLOAT, 2, bd, true, 1, NULL);
  struct tqt_node *n = gen_node(g, "Add", "a,b", "y");
  gen_int(g, n, "broadcast", 1);
  gen_int(g, n, "axis", 1);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  float *Y = gen_expect(g, TQT_DTYPE_FLOAT, 4, ad);
  for (int i = 0; Y && i < 120; i++) Y[i] = A[i] + B[(i / 5) % 12];
  gen_end(g);

  /* Sub-6 whose A has an unknown rank: the trailing 1-dims are computed at run time */
  int64_t a3[3] = {2, 3, 4}, b3[1] = {3};
  gen_begin(g, "sub6_broadcast_axis_rank_unknown", 6, 3);
  A = gen_input(g, "a", TQT_DTYPE_FLOAT, 3, a3, false, 1, NULL);
  B = gen_input(g, "b", TQT_DTYPE_FLOAT, 1, b3, false, 1, NULL);
  n = gen_node(g, "Sub", "a,b", "y");
  gen_int(g, n, "broadcast", 1);
  gen_int(g, n, "axis", 1);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 3, a3);
  for (int i = 0; Y && i < 24; i++) Y[i] = A[i] - B[(i / 4) % 3];
  gen_end(g);

  /* Mul-6 with B's rank unknown (A known) */
  gen_begin(g, "mul6_broadcast_axis_b_rank_unknown", 6, 3);
  A = gen_input(g, "a", TQT_DTYPE_FLOAT, 3, a3, true, 1, NULL);
  B = gen_input(g, "b", TQT_DTYPE_FLOAT, 1, b3, false, 1, NULL);
  n = gen_node(g, "Mul", "a,b", "y");
  gen_int(g, n, "broadcast", 1);
  gen_int(g, n, "axis", 1);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 3, a3);
  for (int i = 0; Y && i < 24; i++) Y[i] = A[i] * B[(i / 4) % 3];
  gen_end(g);

  /* Gemm-6 with broadcast C [4] */
  int64_t ga[2] = {2, 3}, gb[2] = {3, 4}, gc[1] = {4}, gy[2] = {2, 4};
  gen_begin(g, "gemm6_broadcast_c", 6, 3);
  A = gen_input(g, "a", TQT_DTYPE_FLOAT, 2, ga, true, 1, NULL);
  B = gen_input(g, "b", TQT_DTYPE_FLOAT, 2, gb, true, 1, NULL);
  float *C = gen_input(g, "c", TQT_DTYPE_FLOAT, 1, gc, true, 1, NULL);
  n = gen_node(g, "Gemm", "a,b,c", "y");
  gen_int(g, n, "broadcast", 1);
  gen_float(g, n, "alpha", 0.5f);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 2, gy);
  for (int i = 0; Y && i < 2; i++)
    for (int j = 0; j < 4; j++) {
      float acc = 0;
      for (int k = 0; k < 3; k++) acc += A[i * 3 + k] * B[k * 4 + j];
      Y[i * 4 + j] = 0.5f * acc + C[j];
    }
  gen_end(g);

  /* Concat-1 without axis: 1 */
  int64_t c1[2] = {2, 3}, c2[2] = {2, 2}, cy[2] = {2, 5};
  gen_begin(g, "concat1_default_axis", 3, 3);
  A = gen_input(g, "a", TQT_DTYPE_FLOAT, 2, c1, true, 1, NULL);
  B = gen_input(g, "b", TQT_DTYPE_FLOAT, 2, c2, true, 1, NULL);
  gen_node(g, "Concat", "a,b", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 2, cy);
  for (int i = 0; Y && i < 2; i++)
    for (int j = 0; j < 5; j++) Y[i * 5 + j] = j < 3 ? A[i * 3 + j] : B[i * 2 + j - 3];
  gen_end(g);

  /* Cast-1 with to as a string */
  gen_begin(g, "cast1_to_string", 5, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 2, c1, true, 10, NULL);
  gen_string(g, gen_node(g, "Cast", "x", "y"), "to", "INT32");
  gen_output(g, "y", TQT_DTYPE_INT32);
  int32_t *I = gen_expect(g, TQT_DTYPE_INT32, 2, c1);
  for (int i = 0; I && i < 6; i++) I[i] = (int32_t)A[i];
  gen_end(g);

  /* Selu-1 relying on the old defaults */
  gen_begin(g, "selu1_old_defaults", 5, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 2, c1, true, 2, NULL);
  gen_node(g, "Selu", "x", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 2, c1);
  for (int i = 0; Y && i < 6; i++)
    Y[i] = A[i] > 0 ? 1.0507f * A[i] : 1.0507f * (1.6732f * expf(A[i]) - 1.6732f);
  gen_end(g);

  /* Reshape-1 with shape as an attribute */
  int64_t rs[2] = {3, -1}, ry[2] = {3, 2};
  gen_begin(g, "reshape1_shape_attribute", 4, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 2, c1, true, 1, NULL);
  gen_ints(g, gen_node(g, "Reshape", "x", "y"), "shape", 2, rs);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 2, ry);
  for (int i = 0; Y && i < 6; i++) Y[i] = A[i];
  gen_end(g);

  /* Tile-1 (tiles and axis inputs) */
  int64_t ty[2] = {2, 6}, two = 2, one = 1;
  gen_begin(g, "tile1_tiles_axis", 5, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 2, c1, true, 1, NULL);
  gen_init(g, "tiles", TQT_DTYPE_INT64, 0, NULL, &two);
  gen_init(g, "axis", TQT_DTYPE_INT64, 0, NULL, &one);
  gen_node(g, "Tile", "x,tiles,axis", "y");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 2, ty);
  for (int i = 0; Y && i < 2; i++)
    for (int j = 0; j < 6; j++) Y[i * 6 + j] = A[i * 3 + j % 3];
  gen_end(g);

  /* Pad-1 (paddings) */
  int64_t py[2] = {3, 5}, paddings[4] = {1, 0, 0, 2};
  gen_begin(g, "pad1_paddings", 1, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 2, c1, true, 1, NULL);
  n = gen_node(g, "Pad", "x", "y");
  gen_ints(g, n, "paddings", 4, paddings);
  gen_float(g, n, "value", 2);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 2, py);
  for (int i = 0; Y && i < 3; i++)
    for (int j = 0; j < 5; j++) Y[i * 5 + j] = i >= 1 && j < 3 ? A[(i - 1) * 3 + j] : 2;
  gen_end(g);

  /* BatchNormalization-6 in test mode declaring statistics outputs nobody reads */
  int64_t bd2[3] = {2, 3, 4}, c3[1] = {3};
  float scale[3] = {1.5f, 0.5f, -1}, bias[3] = {0.1f, 0.2f, 0.3f}, mean[3] = {0, 1, -1},
        var[3] = {1, 2, 0.5f};
  gen_begin(g, "batchnorm6_is_test_unused_outputs", 6, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 3, bd2, true, 1, NULL);
  gen_init(g, "scale", TQT_DTYPE_FLOAT, 1, c3, scale);
  gen_init(g, "bias", TQT_DTYPE_FLOAT, 1, c3, bias);
  gen_init(g, "mean", TQT_DTYPE_FLOAT, 1, c3, mean);
  gen_init(g, "var", TQT_DTYPE_FLOAT, 1, c3, var);
  n = gen_node(g, "BatchNormalization", "x,scale,bias,mean,var", "y,m,v,sm,sv");
  gen_int(g, n, "is_test", 1);
  gen_float(g, n, "epsilon", 1e-3f);
  int64_t consumed[2] = {3, 4};
  gen_ints(g, n, "consumed_inputs", 2, consumed);
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 3, bd2);
  for (int i = 0; Y && i < 24; i++) {
    int ch = (i / 4) % 3;
    Y[i] = (A[i] - mean[ch]) / sqrtf(var[ch] + 1e-3f) * scale[ch] + bias[ch];
  }
  gen_end(g);

  /* Upsample-1 (experimental): height_scale, width_scale, bilinear */
  int64_t ud[4] = {1, 1, 2, 3}, uy[4] = {1, 1, 4, 6};
  gen_begin(g, "upsample1_bilinear", 5, 3);
  A = gen_input(g, "x", TQT_DTYPE_FLOAT, 4, ud, true, 1, NULL);
  n = gen_node(g, "Upsample", "x", "y");
  gen_float(g, n, "height_scale", 2);
  gen_float(g, n, "width_scale", 2);
  gen_string(g, n, "mode", "bilinear");
  gen_output(g, "y", TQT_DTYPE_FLOAT);
  Y = gen_expect(g, TQT_DTYPE_FLOAT, 4, uy);
  for (int y = 0; Y && y < 4; y++)
    for (int x = 0; x < 6; x++) {
      float fy = fminf(y / 2.0f, 1), fx = fminf(x / 2.0f, 2);
      int y0 = (int)fy, x0 = (int)fx, y1 = y0 + 1 < 2 ? y0 + 1 : 1, x1 = x0 + 1 < 3 ? x0 + 1 : 2;
      float dy = fy - (float)y0, dx = fx - (float)x0;
      Y[y * 6 + x] = (1 - dy) * ((1 - dx) * A[y0 * 3 + x0] + dx * A[y0 * 3 + x1]) +
                     dy * ((1 - dx) * A[y1 * 3 + x0] + dx * A[y1 * 3 + x1]);
    }
  gen_end(g);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: upgrade_models OUTDIR\n");
    return 2;
  }
  struct gen g = {.outdir = argv[1]};
  if (mkdir(g.outdir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "upgrade_models: %s: %s\n", g.outdir, strerror(errno));
    return 1;
  }
  gen_softmax(&g, "softmax11_axis1_rank4", "Softmax", 11, true, 1, true);
  gen_softmax(&g, "logsoftmax9_default_axis_rank4", "LogSoftmax", 9, false, 0, true);
  gen_softmax(&g, "hardmax12_axis0", "Hardmax", 12, true, 0, true);
  gen_softmax(&g, "softmax11_axis2_rank_unknown", "Softmax", 11, true, 2, false);
  gen_softmax(&g, "softmax11_last_axis_rank_unknown", "Softmax", 11, true, -1, false);
  gen_softmax(&g, "logsoftmax11_negative_axis", "LogSoftmax", 11, true, -2, true);
  gen_softmax(&g, "softmax11_last_axis", "Softmax", 11, true, 3, true);
  gen_if_subgraphs(&g);
  gen_loop_body(&g);
  gen_attr_inputs(&g);
  gen_resize(&g);
  gen_semantics(&g);
  gen_function(&g);
  gen_legacy(&g);
  printf("upgrade_models: %d models in %s%s\n", g.written, g.outdir,
         g.failed ? " (some failed)" : "");
  return g.failed ? 1 : 0;
}
