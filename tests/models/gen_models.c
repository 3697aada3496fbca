/* Generates test and benchmark models with the IR builders, so that no large model is committed
 * and no Python is needed to make them:
 *
 *   gen_models resnet18 OUT.onnx [--bn]    ResNet-18 (ImageNet shapes, batch 1, 224x224, seeded
 *                                          He-initialised weights); --bn keeps BatchNormalization
 *                                          nodes unfused after every Conv
 *   gen_models mixnet OUT.onnx             a small net with what quantization must handle besides
 *                                          plain convolutions: depthwise Conv, Sigmoid, Concat,
 *                                          Resize, MatMul, Gemm, residual Add (input [1,3,16,16])
 *   gen_models skipcat OUT.onnx            a U-Net's skip connection: a = Conv+Relu of input
 *                                          [1,3,16,16]; b = Conv+Relu of a with 32x larger
 *                                          weights; outputs `decoder` = Conv(Concat(a, b)) and
 *                                          `skip` = Conv(a): a is read by the Concat and by
 *                                          another node
 *   gen_models affine OUT.onnx             affines written out after Conv and Gemm (input x
 *                                          [1,3,8,8]): Conv, Mul by [1,4,1,1], Add of one value;
 *                                          a bias-free Conv, Add of [4,1,1]; Conv, Mul by [8]
 *                                          (along the width: no fold); Flatten, Gemm (transB),
 *                                          Mul by one value, Add of [10]: output [1,10]
 *   gen_models prelunet OUT.onnx           a face-embedding net's pieces (MobileFaceNet): Conv
 *                                          stride 2, PRelu with per-channel slopes [C,1,1],
 *                                          depthwise Conv, PRelu, 1x1 Conv, residual Add,
 *                                          GlobalAveragePool, Flatten, Gemm to an embedding
 *                                          (input [1,3,16,16], output embedding [1,16])
 *   gen_models densecat OUT.onnx           a DenseNet's pieces: output channels of very different
 *                                          ranges (row c of a Conv's weights scaled by 2^-c),
 *                                          Relu, MaxPool, Concat on channels each read by a
 *                                          BatchNormalization that normalizes them (it cannot
 *                                          fold), Relu, 1x1 and 3x3 Conv, GlobalAveragePool,
 *                                          Flatten, Gemm (input [1,3,16,16], output y [1,10])
 *   gen_models hswish OUT.onnx             PP-LCNetV3's activation between Convs: HardSwish as
 *                                          Add 3, Clip 0..6, Mul by its input, Div 6, then Mul
 *                                          and Add by one value; Conv 3x3 (8), that, Conv 3x3
 *                                          stride 2 (16), that, GlobalAveragePool, Flatten, Gemm
 *                                          (input [1,3,16,16], output y [1,10])
 *   gen_models logpower OUT.onnx           a keyword spotter's front end that int8 breaks:
 *                                          MatMul to 32 bands falling off by 2^-j/4, Mul by
 *                                          itself (power), a banded mel MatMul to 8, Clip at
 *                                          1e-10, Log, Max with log(1e-10) (input x [1,64],
 *                                          outputs y [1,8] and the bands stft [1,32])
 *   gen_models rmsnorm OUT.onnx            a transformer's RMSNorm written out between two
 *                                          MatMuls, on tokens of scales 4 down to 2^-5 (input x
 *                                          [1,10,32], output y [1,10,8])
 *   gen_models layernorm OUT.onnx          a LayerNorm written out at opset 18 (ReduceMean's
 *                                          axes an input) between two MatMuls (input x
 *                                          [1,6,24], output y [1,6,4])
 *   gen_models passmix OUT.onnx            what the graph passes remove: a Concat of a Concat,
 *                                          Identity, inference Dropout, a Cast to the same type,
 *                                          constant arithmetic, Shape of a static input, a Loop
 *                                          with trip count 1 (input x [1,4,8,8])
 *   gen_models symbolic OUT.onnx           symbolic input dims for the shape checks: input
 *                                          [N,3,H,W] (dim_params N, H, W), Conv stride 2 pad 1,
 *                                          MaxPool 2, Resize x2 (constant scales), a Reshape to
 *                                          [N,-1,8] whose shape comes from Shape -> Gather ->
 *                                          Unsqueeze -> Concat (the exporters' idiom), Flatten
 *                                          (axis 2), MatMul: output [N*4*floor(h/2)*floor(w/2), 16]
 *                                          with h = floor((H-1)/2)+1, w likewise
 *   gen_models ifloop OUT.onnx             control flow the passes cannot fold: inputs x [1,3,8,8]
 *                                          and cond (bool scalar); Conv+Relu, then If(cond): then
 *                                          Conv+Relu (weights in the branch), else a 1x1 Conv
 *                                          (weights in the main graph); outputs the If's value
 *                                          `branch` [1,4,8,8] and `y` [1,4]: GlobalAveragePool,
 *                                          Flatten, a Loop of 3 iterations v = MatMul(v, W) + b
 *   gen_models lstm OUT.onnx               a recurrent layer between quantizable ones: input x
 *                                          [seq 5, batch 1, 8], MatMul + Relu, LSTM (hidden
 *                                          16: W [1,64,8], R [1,64,16], B [1,128]), Squeeze of Y
 *                                          to [5,16], Gemm: output [5,10]
 *   gen_models fp16 OUT.onnx               a model stored in float16, as published ones are:
 *                                          input x float16 [1,3,16,16], Conv (float16 weights
 *                                          and bias) + Relu, Mul by a float32 gain Cast to
 *                                          float16, GlobalAveragePool, Flatten, Gemm (float16
 *                                          weights, bias from a float16 Constant node), output
 *                                          y float16 [1,10]
 *   gen_models input OUT.npy D0,D1,... [SEED]   a float32 array of N(0,1) values
 *   gen_models input16 OUT.npy D0,D1,... [SEED] the same values rounded to float16
 *   gen_models bool OUT.npy 0|1            a bool scalar
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "tqt.h"

struct gen {
  struct tqt_model *m;
  struct tqt_graph *at; /* where gen_weight and gen_node add (NULL: the main graph) */
  struct tqt_arena *a;
  uint64_t rng;
  bool bn;
  bool f16; /* gen_weight stores float16 */
  int counter;
  int failed;
};

static double gen_uniform(struct gen *g) {
  g->rng = g->rng * 6364136223846793005ull + 1442695040888963407ull;
  return ((double)(g->rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gen_normal(struct gen *g) {
  return sqrt(-2 * log(gen_uniform(g))) * cos(6.283185307179586 * gen_uniform(g));
}

static const char *gen_name(struct gen *g, const char *stem) {
  return tqt_arena_printf(g->a, "%s_%d", stem, g->counter++);
}

static const char *gen_weight(struct gen *g, const char *stem, size_t rank, const int64_t *dims,
                              double std, double mean) {
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) n *= dims[i];
  float *w = malloc((size_t)n * sizeof *w);
  const char *name = gen_name(g, stem);
  if (!w || !name) {
    g->failed = 1;
    free(w);
    return "";
  }
  for (int64_t i = 0; i < n; i++) w[i] = (float)(mean + std * gen_normal(g));
  uint16_t *h = g->f16 ? tqt_arena_calloc(g->a, (size_t)n, sizeof *h) : NULL;
  for (int64_t i = 0; h && i < n; i++) h[i] = tqt_f32_to_f16(w[i]);
  if ((g->f16 && !h) ||
      !tqt_graph_initializer_add(g->a, g->at ? g->at : g->m->graph, name,
                                 h ? TQT_DTYPE_FLOAT16 : TQT_DTYPE_FLOAT, rank, dims,
                                 h ? (const void *)h : w))
    g->failed = 1;
  free(w);
  return name;
}

static const char *gen_node(struct gen *g, const char *op, size_t n_in, const char *const *ins,
                            struct tqt_node **node) {
  const char *out = gen_name(g, op);
  const char *outs[1] = {out};
  *node = tqt_graph_node_add(g->a, g->at ? g->at : g->m->graph, op, out, n_in, ins, 1, outs);
  if (!*node) g->failed = 1;
  return out;
}

/* Conv (+ BatchNormalization when asked, else a bias) with He-initialised weights. */
static const char *gen_conv(struct gen *g, const char *x, int64_t cin, int64_t cout, int64_t k,
                            int64_t stride, bool relu) {
  int64_t wd[4] = {cout, cin, k, k}, bd[1] = {cout};
  const char *w = gen_weight(g, "w", 4, wd, sqrt(2.0 / (double)(cin * k * k)), 0);
  struct tqt_node *n;
  const char *y;
  if (g->bn) {
    const char *ins[2] = {x, w};
    y = gen_node(g, "Conv", 2, ins, &n);
  } else {
    const char *b = gen_weight(g, "b", 1, bd, 0.01, 0);
    const char *ins[3] = {x, w, b};
    y = gen_node(g, "Conv", 3, ins, &n);
  }
  int64_t pads[4] = {k / 2, k / 2, k / 2, k / 2}, strides[2] = {stride, stride},
          ks[2] = {k, k};
  if (n && (tqt_node_attr_add_ints(g->a, n, "kernel_shape", 2, ks) ||
            tqt_node_attr_add_ints(g->a, n, "pads", 4, pads) ||
            tqt_node_attr_add_ints(g->a, n, "strides", 2, strides)))
    g->failed = 1;
  if (g->bn) {
    const char *ins[5] = {y, gen_weight(g, "gamma", 1, bd, 0.1, 1),
                          gen_weight(g, "beta", 1, bd, 0.1, 0),
                          gen_weight(g, "mean", 1, bd, 0.1, 0),
                          gen_weight(g, "var", 1, bd, 0.05, 1)};
    y = gen_node(g, "BatchNormalization", 5, ins, &n);
    if (n && tqt_node_attr_add_float(g->a, n, "epsilon", 1e-5f)) g->failed = 1;
  }
  if (relu) y = gen_node(g, "Relu", 1, &y, &n);
  return y;
}

static const char *gen_basic_block(struct gen *g, const char *x, int64_t cin, int64_t cout,
                                   int64_t stride) {
  const char *y = gen_conv(g, x, cin, cout, 3, stride, true);
  y = gen_conv(g, y, cout, cout, 3, 1, false);
  const char *skip = x;
  if (stride != 1 || cin != cout) skip = gen_conv(g, x, cin, cout, 1, stride, false);
  struct tqt_node *n;
  const char *ins[2] = {y, skip};
  const char *sum = gen_node(g, "Add", 2, ins, &n);
  return gen_node(g, "Relu", 1, &sum, &n);
}

static int gen_finish(struct gen *g, const char *path);

static int gen_resnet18(const char *path, bool bn) {
  struct gen g = {.m = tqt_model_create(), .rng = 0x5eed, .bn = bn};
  if (!g.m) return 1;
  g.a = g.m->arena;
  g.m->has_ir_version = true;
  g.m->ir_version = 8;
  g.m->producer_name = tqt_arena_strdup(g.a, "onnx-tqt gen_models");
  int64_t in_dims[4] = {1, 3, 224, 224}, out_dims[2] = {1, 1000};
  if (tqt_model_opset_set(g.m, "", 13) ||
      !tqt_graph_input_add(g.a, g.m->graph, "input", TQT_DTYPE_FLOAT, 4, in_dims))
    g.failed = 1;
  const char *x = gen_conv(&g, "input", 3, 64, 7, 2, true);
  struct tqt_node *n;
  x = gen_node(&g, "MaxPool", 1, &x, &n);
  int64_t ks[2] = {3, 3}, strides[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
  if (n && (tqt_node_attr_add_ints(g.a, n, "kernel_shape", 2, ks) ||
            tqt_node_attr_add_ints(g.a, n, "strides", 2, strides) ||
            tqt_node_attr_add_ints(g.a, n, "pads", 4, pads)))
    g.failed = 1;
  int64_t c = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; stage++) {
    x = gen_basic_block(&g, x, c, widths[stage], stage == 0 ? 1 : 2);
    x = gen_basic_block(&g, x, widths[stage], widths[stage], 1);
    c = widths[stage];
  }
  x = gen_node(&g, "GlobalAveragePool", 1, &x, &n);
  x = gen_node(&g, "Flatten", 1, &x, &n);
  int64_t wd[2] = {1000, 512}, bd[1] = {1000};
  const char *ins[3] = {x, gen_weight(&g, "fc_w", 2, wd, sqrt(1.0 / 512), 0),
                        gen_weight(&g, "fc_b", 1, bd, 0.01, 0)};
  const char *gemm = gen_node(&g, "Gemm", 3, ins, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "transB", 1)) g.failed = 1;
  const char *idn[1] = {gemm}, *out[1] = {"logits"};
  if (!tqt_graph_node_add(g.a, g.m->graph, "Identity", "output", 1, idn, 1, out) ||
      !tqt_graph_output_add(g.a, g.m->graph, "logits", TQT_DTYPE_FLOAT, 2, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

static int gen_finish(struct gen *g, const char *path) {
  struct tqt_diag d = {0};
  int rc = g->failed;
  if (!rc && tqt_model_save(g->m, path, NULL, &d) != TQT_STATUS_OK) {
    fprintf(stderr, "gen_models: %s\n", d.msg);
    rc = 1;
  }
  if (g->failed) fprintf(stderr, "gen_models: out of memory\n");
  tqt_model_destroy(g->m);
  return rc;
}

static int gen_mixnet(const char *path) {
  struct gen g = {.m = tqt_model_create(), .rng = 0x6d6978};
  if (!g.m) return 1;
  g.a = g.m->arena;
  g.m->has_ir_version = true;
  g.m->ir_version = 8;
  int64_t in_dims[4] = {1, 3, 16, 16}, out_dims[2] = {1, 10};
  if (tqt_model_opset_set(g.m, "", 13) ||
      !tqt_graph_input_add(g.a, g.m->graph, "input", TQT_DTYPE_FLOAT, 4, in_dims))
    g.failed = 1;
  struct tqt_node *n;
  const char *x = gen_conv(&g, "input", 3, 8, 3, 1, true);        /* [1,8,16,16] */
  /* depthwise 3x3 */
  int64_t dw_dims[4] = {8, 1, 3, 3}, b8[1] = {8};
  const char *dw_in[3] = {x, gen_weight(&g, "dw_w", 4, dw_dims, 0.4, 0),
                          gen_weight(&g, "dw_b", 1, b8, 0.05, 0)};
  const char *dw = gen_node(&g, "Conv", 3, dw_in, &n);
  int64_t pads[4] = {1, 1, 1, 1};
  if (n && (tqt_node_attr_add_int(g.a, n, "group", 8) ||
            tqt_node_attr_add_ints(g.a, n, "pads", 4, pads)))
    g.failed = 1;
  const char *sig = gen_node(&g, "Sigmoid", 1, &dw, &n);
  const char *cat_in[2] = {x, sig};
  const char *cat = gen_node(&g, "Concat", 2, cat_in, &n);          /* [1,16,16,16] */
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 1)) g.failed = 1;
  const char *mp = gen_node(&g, "MaxPool", 1, &cat, &n);             /* [1,16,8,8] */
  int64_t k2[2] = {2, 2};
  if (n && (tqt_node_attr_add_ints(g.a, n, "kernel_shape", 2, k2) ||
            tqt_node_attr_add_ints(g.a, n, "strides", 2, k2)))
    g.failed = 1;
  const char *y = gen_conv(&g, mp, 16, 16, 3, 1, false);
  const char *add_in[2] = {y, mp};
  const char *res = gen_node(&g, "Add", 2, add_in, &n);              /* residual */
  res = gen_node(&g, "Relu", 1, &res, &n);
  float scales[4] = {1, 1, 0.5f, 0.5f};
  int64_t sdims[1] = {4};
  const char *sname = gen_name(&g, "scales");
  if (!tqt_graph_initializer_add(g.a, g.m->graph, sname, TQT_DTYPE_FLOAT, 1, sdims, scales))
    g.failed = 1;
  const char *rs_in[3] = {res, "", sname};
  const char *rs = gen_node(&g, "Resize", 3, rs_in, &n);             /* [1,16,4,4] */
  if (n && tqt_node_attr_add_string(g.a, n, "mode", "linear")) g.failed = 1;
  const char *fl = gen_node(&g, "Flatten", 1, &rs, &n);              /* [1,256] */
  int64_t mm_dims[2] = {256, 32}, b32[1] = {32}, fc_dims[2] = {10, 32}, b10[1] = {10};
  const char *mm_in[2] = {fl, gen_weight(&g, "mm_w", 2, mm_dims, 0.08, 0)};
  const char *mm = gen_node(&g, "MatMul", 2, mm_in, &n);              /* [1,32] */
  const char *mb_in[2] = {mm, gen_weight(&g, "mm_b", 1, b32, 0.05, 0)};
  const char *h = gen_node(&g, "Add", 2, mb_in, &n);
  h = gen_node(&g, "Relu", 1, &h, &n);
  const char *fc_in[3] = {h, gen_weight(&g, "fc_w", 2, fc_dims, 0.2, 0),
                          gen_weight(&g, "fc_b", 1, b10, 0.05, 0)};
  const char *fc = gen_node(&g, "Gemm", 3, fc_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "transB", 1)) g.failed = 1;
  const char *idn[1] = {fc}, *out[1] = {"logits"};
  if (!tqt_graph_node_add(g.a, g.m->graph, "Identity", "output", 1, idn, 1, out) ||
      !tqt_graph_output_add(g.a, g.m->graph, "logits", TQT_DTYPE_FLOAT, 2, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

static int gen_begin(struct gen *g, const char *input, int32_t dtype, size_t rank,
                     const int64_t *dims);

/* PRelu with one slope per channel of x ([c,1,1], as PyTorch exports nn.PReLU(c)). */
static const char *gen_prelu(struct gen *g, const char *x, int64_t c) {
  int64_t sd[3] = {c, 1, 1};
  const char *ins[2] = {x, gen_weight(g, "slope", 3, sd, 0.1, 0.25)};
  struct tqt_node *n;
  return gen_node(g, "PRelu", 2, ins, &n);
}

/* A classifier's head: GlobalAveragePool, Flatten, Gemm (transB) from cin to cout features,
 * the graph output `name` [1, cout]. */
static void gen_head(struct gen *g, const char *x, int64_t cin, int64_t cout, double std,
                     const char *name) {
  struct tqt_node *n;
  const char *gap = gen_node(g, "GlobalAveragePool", 1, &x, &n);
  const char *fl = gen_node(g, "Flatten", 1, &gap, &n); /* [1,cin] */
  int64_t fc_dims[2] = {cout, cin}, b_dims[1] = {cout}, out_dims[2] = {1, cout};
  const char *fc_in[3] = {fl, gen_weight(g, "fc_w", 2, fc_dims, std, 0),
                          gen_weight(g, "fc_b", 1, b_dims, 0.05, 0)};
  const char *fc = gen_node(g, "Gemm", 3, fc_in, &n);
  if (n && tqt_node_attr_add_int(g->a, n, "transB", 1)) g->failed = 1;
  if (!tqt_graph_node_add(g->a, g->m->graph, "Identity", "output", 1, &fc, 1, &name) ||
      !tqt_graph_output_add(g->a, g->m->graph, name, TQT_DTYPE_FLOAT, 2, out_dims))
    g->failed = 1;
}

static int gen_prelunet(const char *path) {
  struct gen g = {.rng = 0x7072656c};
  int64_t in_dims[4] = {1, 3, 16, 16};
  if (gen_begin(&g, "input", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  struct tqt_node *n;
  const char *x = gen_prelu(&g, gen_conv(&g, "input", 3, 16, 3, 2, false), 16); /* [1,16,8,8] */
  int64_t dw_dims[4] = {16, 1, 3, 3}, b16[1] = {16}, pads[4] = {1, 1, 1, 1};
  const char *dw_in[3] = {x, gen_weight(&g, "dw_w", 4, dw_dims, 0.4, 0),
                          gen_weight(&g, "dw_b", 1, b16, 0.05, 0)};
  const char *dw = gen_node(&g, "Conv", 3, dw_in, &n);
  if (n && (tqt_node_attr_add_int(g.a, n, "group", 16) ||
            tqt_node_attr_add_ints(g.a, n, "pads", 4, pads)))
    g.failed = 1;
  const char *pw = gen_conv(&g, gen_prelu(&g, dw, 16), 16, 16, 1, 1, false);
  const char *add_in[2] = {x, pw};
  const char *res = gen_node(&g, "Add", 2, add_in, &n);
  gen_head(&g, res, 16, 16, 0.25, "embedding");
  return gen_finish(&g, path);
}

/* Conv whose output channel c has 2^-c of the range of channel 0 (its weight row and bias
 * scaled), + Relu. */
static const char *gen_conv_spread(struct gen *g, const char *x, int64_t cin, int64_t cout,
                                   int64_t k) {
  const char *y = gen_conv(g, x, cin, cout, k, 1, false);
  struct tqt_graph *gr = g->m->graph;
  float *w = gr->initializers[gr->n_initializers - 2]->data;
  float *b = gr->initializers[gr->n_initializers - 1]->data;
  for (int64_t c = 0; c < cout; c++) {
    float f = (float)pow(2.0, -(double)c);
    for (int64_t i = 0; i < cin * k * k; i++) w[c * cin * k * k + i] *= f;
    b[c] *= f;
  }
  struct tqt_node *n;
  return gen_node(g, "Relu", 1, &y, &n);
}

/* BatchNormalization of c channels whose ranges fall as 2^-i within each part (parts of
 * sizes[0], sizes[1], ...): it scales each back to about one. */
static const char *gen_bn_normalizing(struct gen *g, const char *x, size_t n_parts,
                                      const int64_t *sizes) {
  int64_t c = 0;
  for (size_t i = 0; i < n_parts; i++) c += sizes[i];
  int64_t bd[1] = {c};
  const char *ins[5] = {x};
  ins[1] = gen_weight(g, "gamma", 1, bd, 0.1, 1); /* one by one: an initializer list's calls */
  ins[2] = gen_weight(g, "beta", 1, bd, 0.1, 0);  /* have no order */
  ins[3] = gen_weight(g, "mean", 1, bd, 0.0, 0);
  ins[4] = gen_weight(g, "var", 1, bd, 0.0, 1);
  struct tqt_graph *gr = g->m->graph;
  float *mean = gr->initializers[gr->n_initializers - 2]->data;
  float *var = gr->initializers[gr->n_initializers - 1]->data;
  for (size_t i = 0, at = 0; i < n_parts; at += (size_t)sizes[i], i++)
    for (int64_t j = 0; j < sizes[i]; j++) {
      double f = pow(2.0, -(double)j);
      mean[at + (size_t)j] = (float)(0.5 * f);
      var[at + (size_t)j] = (float)(f * f);
    }
  struct tqt_node *n;
  const char *y = gen_node(g, "BatchNormalization", 5, ins, &n);
  if (n && tqt_node_attr_add_float(g->a, n, "epsilon", 1e-5f)) g->failed = 1;
  return y;
}

static const char *gen_concat(struct gen *g, size_t n_in, const char *const *ins) {
  struct tqt_node *n;
  const char *y = gen_node(g, "Concat", n_in, ins, &n);
  if (n && tqt_node_attr_add_int(g->a, n, "axis", 1)) g->failed = 1;
  return y;
}

static int gen_densecat(const char *path) {
  struct gen g = {.rng = 0x64656e73};
  int64_t in_dims[4] = {1, 3, 16, 16};
  if (gen_begin(&g, "input", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  struct tqt_node *n;
  const char *x0 = gen_conv_spread(&g, "input", 3, 8, 3);
  int64_t ks[2] = {2, 2};
  x0 = gen_node(&g, "MaxPool", 1, &x0, &n); /* [1,8,8,8] */
  if (n && (tqt_node_attr_add_ints(g.a, n, "kernel_shape", 2, ks) ||
            tqt_node_attr_add_ints(g.a, n, "strides", 2, ks)))
    g.failed = 1;
  int64_t part1[1] = {8}, part2[2] = {8, 8};
  const char *cat1 = gen_concat(&g, 1, &x0);
  const char *h = gen_node(&g, "Relu", 1, (const char *[]){gen_bn_normalizing(&g, cat1, 1, part1)}, &n);
  h = gen_conv(&g, h, 8, 8, 1, 1, true);
  const char *x1 = gen_conv_spread(&g, h, 8, 8, 3);
  const char *cat2 = gen_concat(&g, 2, (const char *[]){x0, x1});
  h = gen_node(&g, "Relu", 1, (const char *[]){gen_bn_normalizing(&g, cat2, 2, part2)}, &n);
  h = gen_conv(&g, h, 16, 8, 1, 1, true);
  gen_head(&g, h, 8, 10, 0.5, "y");
  return gen_finish(&g, path);
}

/* PP-LCNetV3's activation: HardSwish decomposed (Add 3, Clip 0..6, Mul by the input, Div 6) and
 * a learnable affine (Mul, Add by one value) between Convs. */
static const char *gen_hardswish_affine(struct gen *g, const char *x) {
  struct tqt_node *n;
  const char *three = gen_weight(g, "three", 0, NULL, 0, 3);
  const char *zero = gen_weight(g, "zero", 0, NULL, 0, 0), *six = gen_weight(g, "six", 0, NULL, 0, 6);
  const char *h = gen_node(g, "Add", 2, (const char *[]){x, three}, &n);
  h = gen_node(g, "Clip", 3, (const char *[]){h, zero, six}, &n);
  h = gen_node(g, "Mul", 2, (const char *[]){x, h}, &n);
  h = gen_node(g, "Div", 2, (const char *[]){h, six}, &n);
  h = gen_node(g, "Mul", 2, (const char *[]){h, gen_weight(g, "scale", 0, NULL, 0.1, 1)}, &n);
  return gen_node(g, "Add", 2, (const char *[]){h, gen_weight(g, "shift", 0, NULL, 0.1, 0)}, &n);
}

static int gen_hswish(const char *path) {
  struct gen g = {.rng = 0x687377};
  int64_t in_dims[4] = {1, 3, 16, 16};
  if (gen_begin(&g, "input", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  const char *h = gen_hardswish_affine(&g, gen_conv(&g, "input", 3, 8, 3, 1, false));
  h = gen_hardswish_affine(&g, gen_conv(&g, h, 8, 16, 3, 2, false));
  gen_head(&g, h, 16, 10, 0.3, "y");
  return gen_finish(&g, path);
}

/* A transformer's RMSNorm written out (Pow 2, ReduceMean over the last axis, Add epsilon, Sqrt,
 * Reciprocal, Mul, Mul by gamma) between two MatMuls, on tokens [1, 10, 32] of scales 4 down to
 * 2^-5 (a Mul by a constant per token first): what the norm gives the small ones, a mean square
 * quantized on its own takes. */
static int gen_rmsnorm(const char *path) {
  struct gen g = {.rng = 0x726d73};
  int64_t in_dims[3] = {1, 10, 32}, sd[3] = {1, 10, 1}, w1[2] = {32, 32}, w2[2] = {32, 8},
          gd[1] = {32}, out_dims[3] = {1, 10, 8}, last = -1;
  if (gen_begin(&g, "x", TQT_DTYPE_FLOAT, 3, in_dims)) return 1;
  struct tqt_graph *gr = g.m->graph;
  const char *scales = gen_weight(&g, "token_scale", 3, sd, 0, 0);
  float *sc = gr->n_initializers ? gr->initializers[gr->n_initializers - 1]->data : NULL;
  for (int t = 0; sc && t < 10; t++) sc[t] = (float)pow(2.0, 2 - 0.8 * t);
  struct tqt_node *n;
  const char *h = gen_node(&g, "Mul", 2, (const char *[]){"x", scales}, &n);
  h = gen_node(&g, "MatMul", 2, (const char *[]){h, gen_weight(&g, "w1", 2, w1, 0.3, 0)}, &n);
  const char *sq = gen_node(&g, "Pow", 2, (const char *[]){h, gen_weight(&g, "two", 0, NULL, 0, 2)}, &n);
  const char *ms = gen_node(&g, "ReduceMean", 1, &sq, &n);
  if (n && tqt_node_attr_add_ints(g.a, n, "axes", 1, &last)) g.failed = 1;
  const char *r = gen_node(&g, "Add", 2, (const char *[]){ms, gen_weight(&g, "eps", 0, NULL, 0, 1e-6)}, &n);
  r = gen_node(&g, "Sqrt", 1, &r, &n);
  r = gen_node(&g, "Reciprocal", 1, &r, &n);
  r = gen_node(&g, "Mul", 2, (const char *[]){h, r}, &n);
  r = gen_node(&g, "Mul", 2, (const char *[]){r, gen_weight(&g, "gamma", 1, gd, 0.2, 1)}, &n);
  const char *y[1] = {"y"}, *in[2] = {r, gen_weight(&g, "w2", 2, w2, 0.3, 0)};
  if (!sc || !tqt_graph_node_add(g.a, g.m->graph, "MatMul", "head", 2, in, 1, y) ||
      !tqt_graph_output_add(g.a, g.m->graph, "y", TQT_DTYPE_FLOAT, 3, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

/* A LayerNorm written out at opset 18 (ReduceMean with its axes as an input, Sub, Pow 2,
 * ReduceMean, Add epsilon, Sqrt, Div, Mul gamma, Add beta) between two MatMuls, tokens
 * [1, 6, 24]. */
static int gen_layernorm(const char *path) {
  struct gen g = {.rng = 0x6c6e31};
  int64_t in_dims[3] = {1, 6, 24}, w1[2] = {24, 24}, w2[2] = {24, 4}, vd[1] = {24},
          out_dims[3] = {1, 6, 4}, one = 1, last = -1;
  if (gen_begin(&g, "x", TQT_DTYPE_FLOAT, 3, in_dims) || tqt_model_opset_set(g.m, "", 18)) return 1;
  const char *axes = gen_name(&g, "axes");
  if (!axes || !tqt_graph_initializer_add(g.a, g.m->graph, axes, TQT_DTYPE_INT64, 1, &one, &last))
    g.failed = 1;
  struct tqt_node *n;
  const char *h = gen_node(&g, "MatMul", 2, (const char *[]){"x", gen_weight(&g, "w1", 2, w1, 0.3, 0)}, &n);
  const char *mean = gen_node(&g, "ReduceMean", 2, (const char *[]){h, axes}, &n);
  const char *dev = gen_node(&g, "Sub", 2, (const char *[]){h, mean}, &n);
  const char *v = gen_node(&g, "Pow", 2, (const char *[]){dev, gen_weight(&g, "two", 0, NULL, 0, 2)}, &n);
  v = gen_node(&g, "ReduceMean", 2, (const char *[]){v, axes}, &n);
  v = gen_node(&g, "Add", 2, (const char *[]){v, gen_weight(&g, "eps", 0, NULL, 0, 1e-5)}, &n);
  v = gen_node(&g, "Sqrt", 1, &v, &n);
  v = gen_node(&g, "Div", 2, (const char *[]){dev, v}, &n);
  v = gen_node(&g, "Mul", 2, (const char *[]){v, gen_weight(&g, "gamma", 1, vd, 0.2, 1)}, &n);
  v = gen_node(&g, "Add", 2, (const char *[]){v, gen_weight(&g, "beta", 1, vd, 0.2, 0)}, &n);
  const char *y[1] = {"y"}, *in[2] = {v, gen_weight(&g, "w2", 2, w2, 0.3, 0)};
  if (!tqt_graph_node_add(g.a, g.m->graph, "MatMul", "head", 2, in, 1, y) ||
      !tqt_graph_output_add(g.a, g.m->graph, "y", TQT_DTYPE_FLOAT, 3, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

static int gen_skipcat(const char *path) {
  struct gen g = {.rng = 0x736b6970};
  int64_t in_dims[4] = {1, 3, 16, 16}, out_dims[4] = {1, 4, 16, 16};
  if (gen_begin(&g, "input", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  struct tqt_node *n;
  const char *a = gen_conv(&g, "input", 3, 8, 3, 1, true);
  int64_t wd[4] = {8, 8, 3, 3};
  const char *b_in[2] = {a, gen_weight(&g, "wide_w", 4, wd, 32 * sqrt(2.0 / 72), 0)};
  const char *b = gen_node(&g, "Conv", 2, b_in, &n);
  int64_t pads[4] = {1, 1, 1, 1};
  if (n && tqt_node_attr_add_ints(g.a, n, "pads", 4, pads)) g.failed = 1;
  b = gen_node(&g, "Relu", 1, &b, &n);
  const char *cat_in[2] = {a, b};
  const char *cat = gen_node(&g, "Concat", 2, cat_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 1)) g.failed = 1;
  const char *outs[2] = {gen_conv(&g, cat, 16, 4, 3, 1, false), gen_conv(&g, a, 8, 4, 1, 1, false)};
  const char *names[2] = {"decoder", "skip"};
  for (int i = 0; i < 2; i++)
    if (!tqt_graph_node_add(g.a, g.m->graph, "Identity", names[i], 1, &outs[i], 1, &names[i]) ||
        !tqt_graph_output_add(g.a, g.m->graph, names[i], TQT_DTYPE_FLOAT, 4, out_dims))
      g.failed = 1;
  return gen_finish(&g, path);
}

/* An encoder feature that is also a model output and read on by a decoder, as ISNet's side
 * outputs are: a ReLU map whose first channel fires rarely (above 2.5) and then 100 times
 * larger than the others (ISNet's decoder features: 97 % zeros, a few values 50 times their
 * spread), output "feature", read by a Conv, Relu, Conv, Sigmoid head whose output is "mask". */
static int gen_sideout(const char *path) {
  struct gen g = {.rng = 0x736964};
  int64_t in_dims[4] = {1, 3, 16, 16}, f_dims[4] = {1, 8, 16, 16}, m_dims[4] = {1, 1, 16, 16},
          c_dims[4] = {1, 8, 1, 1};
  if (gen_begin(&g, "input", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  struct tqt_graph *gr = g.m->graph;
  struct tqt_node *n;
  const char *f = gen_conv(&g, gen_conv(&g, "input", 3, 8, 3, 1, true), 8, 8, 3, 1, true);
  const char *shift = gen_weight(&g, "shift", 4, c_dims, 0, 0);
  const char *gain = gen_weight(&g, "gain", 4, c_dims, 0, 1);
  float *sd = gr->initializers[gr->n_initializers - 2]->data;
  float *gd = gr->initializers[gr->n_initializers - 1]->data;
  if (!g.failed) {
    sd[0] = -2.5f;
    gd[0] = 100.0f;
  }
  f = gen_node(&g, "Add", 2, (const char *[]){f, shift}, &n);
  f = gen_node(&g, "Relu", 1, &f, &n);
  const char *cube_in[2] = {f, gain}, *feature[1] = {"feature"}, *mask[1] = {"mask"};
  if (!tqt_graph_node_add(g.a, gr, "Mul", "gain", 2, cube_in, 1, feature) ||
      !tqt_graph_output_add(g.a, gr, "feature", TQT_DTYPE_FLOAT, 4, f_dims))
    g.failed = 1;
  const char *h = gen_conv(&g, "feature", 8, 8, 3, 1, true);
  int64_t wd[4] = {1, 8, 1, 1};
  const char *logit = gen_node(&g, "Conv", 2, (const char *[]){h, gen_weight(&g, "head", 4, wd, 0.3, 0)}, &n);
  if (!tqt_graph_node_add(g.a, gr, "Sigmoid", "mask", 1, &logit, 1, mask) ||
      !tqt_graph_output_add(g.a, gr, "mask", TQT_DTYPE_FLOAT, 4, m_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

/* A Conv whose first output channel is dead (weights 1e-9 of the others, as a BatchNormalization
 * with a zero scale folds in) and outputs its bias, 3, then Relu: output "y". */
static int gen_deadchan(const char *path) {
  struct gen g = {.rng = 0x646561};
  int64_t in_dims[4] = {1, 3, 16, 16}, y_dims[4] = {1, 8, 16, 16};
  if (gen_begin(&g, "input", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  struct tqt_graph *gr = g.m->graph;
  const char *h = gen_conv(&g, "input", 3, 8, 3, 1, false);
  float *wd = gr->initializers[gr->n_initializers - 2]->data;
  float *bd = gr->initializers[gr->n_initializers - 1]->data;
  for (int i = 0; !g.failed && i < 3 * 3 * 3; i++) wd[i] *= 1e-9f;
  if (!g.failed) bd[0] = 3.0f;
  const char *y[1] = {"y"};
  if (!tqt_graph_node_add(g.a, gr, "Relu", "relu", 1, &h, 1, y) ||
      !tqt_graph_output_add(g.a, gr, "y", TQT_DTYPE_FLOAT, 4, y_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

/* A float constant of the given shape with seeded values around mean, and x op constant. */
static const char *gen_const_op(struct gen *g, const char *op, const char *x, size_t rank,
                                const int64_t *dims, double mean) {
  struct tqt_node *n;
  const char *ins[2] = {x, gen_weight(g, "k", rank, dims, 0.2, mean)};
  return gen_node(g, op, 2, ins, &n);
}

static int gen_affine(const char *path) {
  struct gen g = {.rng = 0x616666};
  int64_t in_dims[4] = {1, 3, 8, 8}, out_dims[2] = {1, 10};
  if (gen_begin(&g, "x", TQT_DTYPE_FLOAT, 4, in_dims)) return 1;
  struct tqt_node *n;
  int64_t c4[4] = {1, 4, 1, 1}, one[1] = {1}, c4r3[3] = {4, 1, 1}, w8[1] = {8}, n10[1] = {10};
  const char *y = gen_conv(&g, "x", 3, 4, 3, 1, false);
  y = gen_const_op(&g, "Mul", y, 4, c4, 1.0);
  y = gen_const_op(&g, "Add", y, 1, one, 0.5);
  int64_t wd[4] = {4, 4, 1, 1};
  const char *c2_in[2] = {y, gen_weight(&g, "w", 4, wd, 0.5, 0)};
  y = gen_node(&g, "Conv", 2, c2_in, &n); /* no bias: the Add after it is one */
  y = gen_const_op(&g, "Add", y, 3, c4r3, 0.0);
  y = gen_conv(&g, y, 4, 4, 1, 1, false);
  y = gen_const_op(&g, "Mul", y, 1, w8, 1.0);
  y = gen_node(&g, "Flatten", 1, &y, &n);
  int64_t fc_dims[2] = {10, 256};
  const char *fc_in[3] = {y, gen_weight(&g, "fc_w", 2, fc_dims, 0.1, 0),
                          gen_weight(&g, "fc_b", 1, n10, 0.1, 0)};
  y = gen_node(&g, "Gemm", 3, fc_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "transB", 1)) g.failed = 1;
  y = gen_const_op(&g, "Mul", y, 1, one, 2.0);
  y = gen_const_op(&g, "Add", y, 1, n10, 0.0);
  const char *out[1] = {"y"};
  if (!tqt_graph_node_add(g.a, g.m->graph, "Identity", "output", 1, &y, 1, out) ||
      !tqt_graph_output_add(g.a, g.m->graph, "y", TQT_DTYPE_FLOAT, 2, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

static int gen_passmix(const char *path) {
  struct gen g = {.m = tqt_model_create(), .rng = 0x706173};
  if (!g.m) return 1;
  g.a = g.m->arena;
  g.m->has_ir_version = true;
  g.m->ir_version = 8;
  int64_t x_dims[4] = {1, 4, 8, 8}, y_dims[4] = {1, 12, 8, 8}, one_dim[1] = {1};
  if (tqt_model_opset_set(g.m, "", 13) ||
      !tqt_graph_input_add(g.a, g.m->graph, "x", TQT_DTYPE_FLOAT, 4, x_dims))
    g.failed = 1;
  struct tqt_node *n;
  const char *c1_in[2] = {"x", "x"};
  const char *c1 = gen_node(&g, "Concat", 2, c1_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 1)) g.failed = 1;
  const char *c2_in[2] = {c1, "x"};
  const char *c2 = gen_node(&g, "Concat", 2, c2_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 1)) g.failed = 1;
  const char *id = gen_node(&g, "Identity", 1, &c2, &n);
  const char *dr = gen_node(&g, "Dropout", 1, &id, &n);
  const char *ca = gen_node(&g, "Cast", 1, &dr, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "to", TQT_DTYPE_FLOAT)) g.failed = 1;
  /* constants: (a + b) and the width of x through Shape → Gather → Cast */
  const char *k_in[2] = {gen_weight(&g, "ka", 1, one_dim, 0.1, 0.5),
                         gen_weight(&g, "kb", 1, one_dim, 0.1, 0.25)};
  const char *k = gen_node(&g, "Add", 2, k_in, &n);
  const char *xs = "x";
  const char *sh = gen_node(&g, "Shape", 1, &xs, &n);
  int64_t three = 3;
  const char *idx = gen_name(&g, "index");
  if (!tqt_graph_initializer_add(g.a, g.m->graph, idx, TQT_DTYPE_INT64, 0, NULL, &three))
    g.failed = 1;
  const char *ga_in[2] = {sh, idx};
  const char *width = gen_node(&g, "Gather", 2, ga_in, &n);
  const char *wf = gen_node(&g, "Cast", 1, &width, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "to", TQT_DTYPE_FLOAT)) g.failed = 1;
  const char *m1_in[2] = {ca, k};
  const char *m1 = gen_node(&g, "Mul", 2, m1_in, &n);
  const char *m2_in[2] = {m1, wf};
  const char *m2 = gen_node(&g, "Div", 2, m2_in, &n);
  /* Loop, trip count 1: v + 1 */
  struct tqt_graph *body = tqt_graph_create(g.a, "body", g.m->graph);
  int64_t scalar[1] = {0};
  const char *one_name = gen_name(&g, "one");
  float one = 1.0f;
  if (!body || !tqt_graph_input_add(g.a, body, "iter", TQT_DTYPE_INT64, 0, scalar) ||
      !tqt_graph_input_add(g.a, body, "cond_in", TQT_DTYPE_BOOL, 0, scalar) ||
      !tqt_graph_input_add(g.a, body, "v_in", TQT_DTYPE_FLOAT, 4, y_dims) ||
      !tqt_graph_initializer_add(g.a, body, one_name, TQT_DTYPE_FLOAT, 0, NULL, &one))
    g.failed = 1;
  const char *bc_in[1] = {"cond_in"}, *bc_out[1] = {"cond_out"};
  const char *ba_in[2] = {"v_in", one_name}, *ba_out[1] = {"v_out"};
  if (body && (!tqt_graph_node_add(g.a, body, "Identity", "cond_pass", 1, bc_in, 1, bc_out) ||
               !tqt_graph_node_add(g.a, body, "Add", "plus_one", 2, ba_in, 1, ba_out) ||
               !tqt_graph_output_add(g.a, body, "cond_out", TQT_DTYPE_BOOL, 0, scalar) ||
               !tqt_graph_output_add(g.a, body, "v_out", TQT_DTYPE_FLOAT, 4, y_dims)))
    g.failed = 1;
  int64_t trip_one = 1;
  const char *trip = gen_name(&g, "trip_count");
  if (!tqt_graph_initializer_add(g.a, g.m->graph, trip, TQT_DTYPE_INT64, 0, NULL, &trip_one))
    g.failed = 1;
  const char *loop_in[3] = {trip, "", m2}, *loop_out[1] = {"y"};
  struct tqt_node *loop = tqt_graph_node_add(g.a, g.m->graph, "Loop", "loop", 3, loop_in, 1, loop_out);
  struct tqt_attr *at = loop ? tqt_node_attr_add(g.a, loop, "body", TQT_ATTR_TYPE_GRAPH) : NULL;
  if (!at)
    g.failed = 1;
  else
    at->g = body;
  if (!tqt_graph_output_add(g.a, g.m->graph, "y", TQT_DTYPE_FLOAT, 4, y_dims)) g.failed = 1;
  return gen_finish(&g, path);
}

static const char *gen_int64s(struct gen *g, const char *stem, size_t rank, size_t count,
                              const int64_t *v) {
  const char *name = gen_name(g, stem);
  int64_t dims[1] = {(int64_t)count};
  if (!name || !tqt_graph_initializer_add(g->a, g->m->graph, name, TQT_DTYPE_INT64, rank, dims, v))
    g->failed = 1;
  return name ? name : "";
}

static int gen_symbolic(const char *path) {
  struct gen g = {.m = tqt_model_create(), .rng = 0x73796d};
  if (!g.m) return 1;
  g.a = g.m->arena;
  g.m->has_ir_version = true;
  g.m->ir_version = 8;
  g.m->producer_name = tqt_arena_strdup(g.a, "onnx-tqt gen_models");
  int64_t in_dims[4] = {-1, 3, -1, -1}, out_dims[2] = {-1, 16};
  const char *params[4] = {"N", NULL, "H", "W"};
  struct tqt_value_info *in = NULL;
  if (tqt_model_opset_set(g.m, "", 13) ||
      !(in = tqt_graph_input_add(g.a, g.m->graph, "input", TQT_DTYPE_FLOAT, 4, in_dims)))
    g.failed = 1;
  for (size_t i = 0; in && i < 4; i++)
    if (params[i] && !(in->type->dims[i].param = tqt_arena_strdup(g.a, params[i]))) g.failed = 1;
  struct tqt_node *n;
  /* Conv 3x3 stride 2 pad 1 + Relu: [N,8,floor((H-1)/2)+1,floor((W-1)/2)+1] */
  const char *x = gen_conv(&g, "input", 3, 8, 3, 2, true);
  /* MaxPool 2: halves, rounding down */
  x = gen_node(&g, "MaxPool", 1, &x, &n);
  int64_t k2[2] = {2, 2};
  if (n && (tqt_node_attr_add_ints(g.a, n, "kernel_shape", 2, k2) ||
            tqt_node_attr_add_ints(g.a, n, "strides", 2, k2)))
    g.failed = 1;
  /* Resize x2, constant scales */
  float scales[4] = {1, 1, 2, 2};
  int64_t sdims[1] = {4};
  const char *sname = gen_name(&g, "scales");
  if (!sname || !tqt_graph_initializer_add(g.a, g.m->graph, sname, TQT_DTYPE_FLOAT, 1, sdims, scales))
    g.failed = 1;
  const char *rs_in[3] = {x, "", sname};
  x = gen_node(&g, "Resize", 3, rs_in, &n);
  if (n && tqt_node_attr_add_string(g.a, n, "mode", "nearest")) g.failed = 1;
  /* the exporters' idiom: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1], [8])) */
  const char *sh = gen_node(&g, "Shape", 1, &x, &n);
  int64_t zero = 0, minus_one = -1, eight = 8;
  const char *ga_in[2] = {sh, gen_int64s(&g, "index", 0, 1, &zero)};
  const char *batch = gen_node(&g, "Gather", 2, ga_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 0)) g.failed = 1;
  const char *un_in[2] = {batch, gen_int64s(&g, "axes", 1, 1, &zero)};
  const char *batch1 = gen_node(&g, "Unsqueeze", 2, un_in, &n);
  const char *cat_in[3] = {batch1, gen_int64s(&g, "minus_one", 1, 1, &minus_one),
                           gen_int64s(&g, "eight", 1, 1, &eight)};
  const char *shape = gen_node(&g, "Concat", 3, cat_in, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 0)) g.failed = 1;
  const char *re_in[2] = {x, shape};
  x = gen_node(&g, "Reshape", 2, re_in, &n); /* [N, 4*h*w, 8] */
  x = gen_node(&g, "Flatten", 1, &x, &n);    /* [N*4*h*w, 8] */
  if (n && tqt_node_attr_add_int(g.a, n, "axis", 2)) g.failed = 1;
  int64_t mm_dims[2] = {8, 16};
  const char *mm_in[2] = {x, gen_weight(&g, "mm_w", 2, mm_dims, 0.3, 0)};
  const char *mm = gen_node(&g, "MatMul", 2, mm_in, &n);
  const char *idn[1] = {mm}, *out[1] = {"output"};
  if (!tqt_graph_node_add(g.a, g.m->graph, "Identity", "output_identity", 1, idn, 1, out) ||
      !tqt_graph_output_add(g.a, g.m->graph, "output", TQT_DTYPE_FLOAT, 2, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

/* A body for attribute `attr` of n: a graph inside the main one. */
static struct tqt_graph *gen_body(struct gen *g, struct tqt_node *n, const char *attr) {
  struct tqt_graph *body = tqt_graph_create(g->a, attr, g->m->graph);
  struct tqt_attr *at = n && body ? tqt_node_attr_add(g->a, n, attr, TQT_ATTR_TYPE_GRAPH) : NULL;
  if (!at) {
    g->failed = 1;
    return NULL;
  }
  at->g = body;
  return body;
}

static int gen_ifloop(const char *path) {
  struct gen g = {.m = tqt_model_create(), .rng = 0x69666c};
  if (!g.m) return 1;
  g.a = g.m->arena;
  g.m->has_ir_version = true;
  g.m->ir_version = 8;
  int64_t x_dims[4] = {1, 3, 8, 8}, h_dims[4] = {1, 4, 8, 8}, v_dims[2] = {1, 4};
  if (tqt_model_opset_set(g.m, "", 13) ||
      !tqt_graph_input_add(g.a, g.m->graph, "x", TQT_DTYPE_FLOAT, 4, x_dims) ||
      !tqt_graph_input_add(g.a, g.m->graph, "cond", TQT_DTYPE_BOOL, 0, NULL))
    g.failed = 1;
  const char *h = gen_conv(&g, "x", 3, 4, 3, 1, true);
  /* else: a 1x1 Conv whose weights the main graph holds (read from the outer scope) */
  int64_t we_dims[4] = {4, 4, 1, 1}, b4[1] = {4};
  const char *else_in[3] = {h, gen_weight(&g, "else_w", 4, we_dims, 0.5, 0),
                            gen_weight(&g, "else_b", 1, b4, 0.1, 0)};
  const char *if_in[1] = {"cond"}, *if_out[1] = {"branch"};
  struct tqt_node *n;
  struct tqt_node *node_if = tqt_graph_node_add(g.a, g.m->graph, "If", "if", 1, if_in, 1, if_out);
  struct tqt_graph *then_g = gen_body(&g, node_if, "then_branch");
  struct tqt_graph *else_g = gen_body(&g, node_if, "else_branch");
  if (!then_g || !else_g) return gen_finish(&g, path);
  /* then: Conv + Relu, weights held by the branch */
  g.at = then_g;
  const char *then_y = gen_conv(&g, h, 4, 4, 3, 1, true);
  g.at = else_g;
  const char *else_y = gen_node(&g, "Conv", 3, else_in, &n);
  if (!tqt_graph_output_add(g.a, then_g, then_y, TQT_DTYPE_FLOAT, 4, h_dims) ||
      !tqt_graph_output_add(g.a, else_g, else_y, TQT_DTYPE_FLOAT, 4, h_dims))
    g.failed = 1;
  g.at = NULL;
  const char *branch = "branch";
  const char *gap = gen_node(&g, "GlobalAveragePool", 1, &branch, &n);
  const char *v0 = gen_node(&g, "Flatten", 1, &gap, &n); /* [1,4] */
  /* Loop of 3 iterations: v = MatMul(v, W) + b, W and b held by the body */
  int64_t three = 3;
  const char *trip = gen_name(&g, "trip_count");
  if (!tqt_graph_initializer_add(g.a, g.m->graph, trip, TQT_DTYPE_INT64, 0, NULL, &three))
    g.failed = 1;
  const char *loop_in[3] = {trip, "", v0}, *loop_out[1] = {"y"};
  struct tqt_node *loop =
      tqt_graph_node_add(g.a, g.m->graph, "Loop", "loop", 3, loop_in, 1, loop_out);
  struct tqt_graph *body = gen_body(&g, loop, "body");
  if (!body) return gen_finish(&g, path);
  if (!tqt_graph_input_add(g.a, body, "iter", TQT_DTYPE_INT64, 0, NULL) ||
      !tqt_graph_input_add(g.a, body, "cond_in", TQT_DTYPE_BOOL, 0, NULL) ||
      !tqt_graph_input_add(g.a, body, "v_in", TQT_DTYPE_FLOAT, 2, v_dims))
    g.failed = 1;
  g.at = body;
  int64_t w_dims[2] = {4, 4};
  const char *mm_in[2] = {"v_in", gen_weight(&g, "loop_w", 2, w_dims, 0.6, 0)};
  const char *mm = gen_node(&g, "MatMul", 2, mm_in, &n);
  const char *add_in[2] = {mm, gen_weight(&g, "loop_b", 1, b4, 0.1, 0)};
  const char *v = gen_node(&g, "Add", 2, add_in, &n);
  const char *cond_in[1] = {"cond_in"};
  const char *cond_out = gen_node(&g, "Identity", 1, cond_in, &n);
  g.at = NULL;
  if (!tqt_graph_output_add(g.a, body, cond_out, TQT_DTYPE_BOOL, 0, NULL) ||
      !tqt_graph_output_add(g.a, body, v, TQT_DTYPE_FLOAT, 2, v_dims) ||
      !tqt_graph_output_add(g.a, g.m->graph, "branch", TQT_DTYPE_FLOAT, 4, h_dims) ||
      !tqt_graph_output_add(g.a, g.m->graph, "y", TQT_DTYPE_FLOAT, 2, v_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

static int gen_lstm(const char *path) {
  struct gen g = {.m = tqt_model_create(), .rng = 0x6c73746d};
  if (!g.m) return 1;
  g.a = g.m->arena;
  g.m->has_ir_version = true;
  g.m->ir_version = 8;
  int64_t x_dims[3] = {5, 1, 8}, mm_dims[2] = {8, 8}, w_dims[3] = {1, 64, 8},
          r_dims[3] = {1, 64, 16}, b_dims[2] = {1, 128}, fc_dims[2] = {16, 10}, b10[1] = {10},
          out_dims[2] = {5, 10}, axes[2] = {1, 2};
  if (tqt_model_opset_set(g.m, "", 13) ||
      !tqt_graph_input_add(g.a, g.m->graph, "x", TQT_DTYPE_FLOAT, 3, x_dims))
    g.failed = 1;
  struct tqt_node *n;
  const char *mm_in[2] = {"x", gen_weight(&g, "mm_w", 2, mm_dims, 0.35, 0)};
  const char *h = gen_node(&g, "MatMul", 2, mm_in, &n);
  h = gen_node(&g, "Relu", 1, &h, &n);
  const char *lstm_in[4] = {h, gen_weight(&g, "lstm_w", 3, w_dims, 0.3, 0),
                            gen_weight(&g, "lstm_r", 3, r_dims, 0.2, 0),
                            gen_weight(&g, "lstm_b", 2, b_dims, 0.1, 0)};
  const char *y = gen_node(&g, "LSTM", 4, lstm_in, &n); /* Y: [5, 1, 1, 16] */
  if (n && tqt_node_attr_add_int(g.a, n, "hidden_size", 16)) g.failed = 1;
  const char *sq_in[2] = {y, gen_int64s(&g, "axes", 1, 2, axes)};
  y = gen_node(&g, "Squeeze", 2, sq_in, &n); /* [5, 16] */
  const char *fc_in[3] = {y, gen_weight(&g, "fc_w", 2, fc_dims, 0.3, 0),
                          gen_weight(&g, "fc_b", 1, b10, 0.05, 0)};
  const char *fc = gen_node(&g, "Gemm", 3, fc_in, &n);
  const char *idn[1] = {fc}, *out[1] = {"output"};
  if (!tqt_graph_node_add(g.a, g.m->graph, "Identity", "output_identity", 1, idn, 1, out) ||
      !tqt_graph_output_add(g.a, g.m->graph, "output", TQT_DTYPE_FLOAT, 2, out_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

/* A new IR 8, opset 13 model in g with one input. 1 when out of memory. */
static int gen_begin(struct gen *g, const char *input, int32_t dtype, size_t rank,
                     const int64_t *dims) {
  if (!(g->m = tqt_model_create())) return 1;
  g->a = g->m->arena;
  g->m->has_ir_version = true;
  g->m->ir_version = 8;
  if (tqt_model_opset_set(g->m, "", 13) ||
      !tqt_graph_input_add(g->a, g->m->graph, input, dtype, rank, dims))
    g->failed = 1;
  return 0;
}

/* A model stored in float16 throughout (see the top of the file). */
static int gen_fp16(const char *path) {
  struct gen g = {.rng = 0x663136, .f16 = true};
  int64_t x_dims[4] = {1, 3, 16, 16}, y_dims[2] = {1, 10}, one[1] = {1}, b10[1] = {10};
  if (gen_begin(&g, "x", TQT_DTYPE_FLOAT16, 4, x_dims)) return 1;
  const char *h = gen_conv(&g, "x", 3, 8, 3, 1, true); /* [1,8,16,16] */
  g.f16 = false; /* a float32 constant the model casts, as mixed-precision exports do */
  const char *gain = gen_weight(&g, "gain", 1, one, 0.1, 0.5);
  g.f16 = true;
  struct tqt_node *n;
  const char *gain16 = gen_node(&g, "Cast", 1, &gain, &n);
  if (n && tqt_node_attr_add_int(g.a, n, "to", TQT_DTYPE_FLOAT16)) g.failed = 1;
  const char *mul_in[2] = {h, gain16};
  h = gen_node(&g, "Mul", 2, mul_in, &n);
  h = gen_node(&g, "GlobalAveragePool", 1, &h, &n);
  h = gen_node(&g, "Flatten", 1, &h, &n); /* [1,8] */
  uint16_t bias[10];
  for (int i = 0; i < 10; i++) bias[i] = tqt_f32_to_f16((float)(0.05 * gen_normal(&g)));
  const char *b = gen_node(&g, "Constant", 0, NULL, &n);
  struct tqt_attr *at = n ? tqt_node_attr_add(g.a, n, "value", TQT_ATTR_TYPE_TENSOR) : NULL;
  if (!at || !(at->t = tqt_tensor_create(g.a, "", TQT_DTYPE_FLOAT16, 1, b10, bias))) g.failed = 1;
  int64_t w_dims[2] = {10, 8};
  const char *fc_in[3] = {h, gen_weight(&g, "fc_w", 2, w_dims, 0.3, 0), b}, *y[1] = {"y"};
  n = tqt_graph_node_add(g.a, g.m->graph, "Gemm", "fc", 3, fc_in, 1, y);
  if (!n || tqt_node_attr_add_int(g.a, n, "transB", 1) ||
      !tqt_graph_output_add(g.a, g.m->graph, "y", TQT_DTYPE_FLOAT16, 2, y_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

/* The front end of a keyword spotter: a linear transform (an STFT as a MatMul) whose 32 bands
 * fall off by 2^-j/4, their power (Mul by itself), a banded mel MatMul, Clip at 1e-10, Log and
 * Max with log(1e-10).
 * int8 steps zero the quiet bands, whose logarithms weigh as much as the loud ones': no
 * threshold saves it, and the converter has to say so. */
static int gen_logpower(const char *path) {
  struct gen g = {.rng = 0x6c6f67};
  int64_t x_dims[2] = {1, 64}, w_dims[2] = {64, 32}, m_dims[2] = {32, 8}, y_dims[2] = {1, 8};
  if (gen_begin(&g, "x", TQT_DTYPE_FLOAT, 2, x_dims)) return 1;
  struct tqt_graph *gr = g.m->graph;
  const char *w = gen_weight(&g, "stft", 2, w_dims, 0.125, 0);
  float *wd = gr->n_initializers ? gr->initializers[gr->n_initializers - 1]->data : NULL;
  for (int i = 0; wd && i < 64 * 32; i++) wd[i] *= (float)pow(2.0, -(i % 32) / 4.0);
  const char *mel = gen_weight(&g, "mel", 2, m_dims, 0, 0);
  float *md = gr->n_initializers ? gr->initializers[gr->n_initializers - 1]->data : NULL;
  for (int i = 0; md && i < 32; i++) md[i * 8 + i / 4] = 1.0f;
  const char *floor = gen_weight(&g, "floor", 0, NULL, 0, 1e-10);
  struct tqt_node *n;
  const char *h = gen_node(&g, "MatMul", 2, (const char *[]){"x", w}, &n);
  /* the spectrum is an output too: it quantizes well, its log power does not */
  const char *stft[1] = {"stft"};
  int64_t s_dims[2] = {1, 32};
  if (!tqt_graph_node_add(g.a, gr, "Identity", "stft", 1, &h, 1, stft) ||
      !tqt_graph_output_add(g.a, gr, "stft", TQT_DTYPE_FLOAT, 2, s_dims))
    g.failed = 1;
  h = gen_node(&g, "Mul", 2, (const char *[]){h, h}, &n);
  h = gen_node(&g, "MatMul", 2, (const char *[]){h, mel}, &n);
  h = gen_node(&g, "Clip", 2, (const char *[]){h, floor}, &n);
  h = gen_node(&g, "Log", 1, &h, &n);
  /* the floor again after Log: a quantized Clip output of 1e-10 is 0, whose Log is -inf */
  const char *y[1] = {"y"}, *max_in[2] = {h, gen_weight(&g, "log_floor", 0, NULL, 0, log(1e-10))};
  if (!wd || !md || !tqt_graph_node_add(g.a, gr, "Max", "max", 2, max_in, 1, y) ||
      !tqt_graph_output_add(g.a, gr, "y", TQT_DTYPE_FLOAT, 2, y_dims))
    g.failed = 1;
  return gen_finish(&g, path);
}

static int gen_bool(const char *path, bool value) {
  struct tqt_diag d = {0};
  FILE *f = fopen(path, "wb");
  unsigned char b = value;
  if (!f || tqt_npy_header_write(f, TQT_DTYPE_BOOL, 0, NULL, path, &d) != TQT_STATUS_OK ||
      fwrite(&b, 1, 1, f) != 1) {
    fprintf(stderr, "gen_models: cannot write %s\n", path);
    if (f) fclose(f);
    return 1;
  }
  return fclose(f) == 0 ? 0 : 1;
}

/* N(0,1) values as float32, or rounded to float16 when f16. */
static int gen_input(const char *path, const char *shape, uint64_t seed, bool f16) {
  struct gen g = {.rng = seed};
  int64_t dims[TQT_RANK_MAX];
  size_t rank = 0;
  int64_t n = 1;
  for (const char *p = shape; *p && rank < TQT_RANK_MAX;) {
    char *end;
    dims[rank] = strtoll(p, &end, 10);
    if (end == p || dims[rank] <= 0) return 2;
    n *= dims[rank++];
    p = *end == ',' ? end + 1 : end;
  }
  struct tqt_diag d = {0};
  FILE *f = fopen(path, "wb");
  int32_t dtype = f16 ? TQT_DTYPE_FLOAT16 : TQT_DTYPE_FLOAT;
  if (!f || tqt_npy_header_write(f, dtype, rank, dims, path, &d) != TQT_STATUS_OK) {
    fprintf(stderr, "gen_models: cannot write %s\n", path);
    if (f) fclose(f);
    return 1;
  }
  for (int64_t i = 0; i < n; i++) {
    float v = (float)gen_normal(&g);
    uint16_t h = tqt_f32_to_f16(v);
    if (f16) fwrite(&h, sizeof h, 1, f);
    else fwrite(&v, sizeof v, 1, f);
  }
  return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "resnet18") == 0)
    return gen_resnet18(argv[2], argc > 3 && strcmp(argv[3], "--bn") == 0);
  if (argc >= 3 && strcmp(argv[1], "mixnet") == 0) return gen_mixnet(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "passmix") == 0) return gen_passmix(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "skipcat") == 0) return gen_skipcat(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "sideout") == 0) return gen_sideout(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "deadchan") == 0) return gen_deadchan(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "prelunet") == 0) return gen_prelunet(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "densecat") == 0) return gen_densecat(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "affine") == 0) return gen_affine(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "symbolic") == 0) return gen_symbolic(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "ifloop") == 0) return gen_ifloop(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "lstm") == 0) return gen_lstm(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "logpower") == 0) return gen_logpower(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "hswish") == 0) return gen_hswish(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "rmsnorm") == 0) return gen_rmsnorm(argv[2]);
  if (argc >= 3 && strcmp(argv[1], "layernorm") == 0) return gen_layernorm(argv[2]);
  if (argc >= 4 && strcmp(argv[1], "bool") == 0)
    return gen_bool(argv[2], strcmp(argv[3], "0") != 0);
  if (argc >= 3 && strcmp(argv[1], "fp16") == 0) return gen_fp16(argv[2]);
  if (argc >= 4 && (strcmp(argv[1], "input") == 0 || strcmp(argv[1], "input16") == 0))
    return gen_input(argv[2], argv[3], argc > 4 ? strtoull(argv[4], NULL, 10) : 1,
                     strcmp(argv[1], "input16") == 0);
  fprintf(stderr, "usage: gen_models resnet18 OUT.onnx [--bn] | mixnet OUT.onnx | passmix OUT.onnx |\n"
                  "                  skipcat OUT.onnx | sideout OUT.onnx | prelunet OUT.onnx |\n"
                  "                  densecat OUT.onnx | deadchan OUT.onnx |\n"
                  "                  affine OUT.onnx |\n"
                  "                  symbolic OUT.onnx | ifloop OUT.onnx | lstm OUT.onnx |\n"
                  "                  logpower OUT.onnx | hswish OUT.onnx | rmsnorm OUT.onnx |\n"
                  "                  layernorm OUT.onnx |\n"
                  "                  fp16 OUT.onnx | input|input16 OUT.npy D0,D1,... [SEED] |\n"
                  "                  bool OUT.npy 0|1\n");
  return 2;
}
