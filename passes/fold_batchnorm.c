/* fold_batchnorm: a BatchNormalization (inference) right after a Conv, ConvTranspose or Gemm
 * whose output nothing else reads folds into that node's weights and bias:
 *   a = scale / sqrt(var + epsilon)   (the BN's own epsilon)
 *   W' = W · a per output channel,    b' = (b − mean) · a + B
 * So does an affine written out as a Mul by a constant and/or an Add of a constant, each per
 * output channel or one value (Paddle's LearnableAffineBlock, a bias Add after a bias-free
 * Conv): a = the Mul's (or 1), b' = b · a + the Add's. Left apart, each step would be
 * requantized. The new weights are new initializers; the old ones go when nothing reads them
 * (cleanup). */
#include <math.h>
#include <string.h>

#include "ir_edit.h"
#include "passes.h"

struct bnfold_ctx {
  struct tqt_model *m;
  struct tqt_diag *d;
  struct tqt_name_map used;
  int changed;
};

static bool bnfold_is_float_vector(const struct tqt_tensor *t, int64_t n) {
  return t && t->dtype == TQT_DTYPE_FLOAT && t->data && tqt_tensor_numel(t) == n;
}

/* A new float initializer of the given shape, named after stem. */
static struct tqt_tensor *bnfold_new(struct bnfold_ctx *c, struct tqt_graph *g, const char *stem,
                                     size_t rank, const int64_t *dims) {
  const char *name = tqt_name_fresh(c->m->arena, &c->used, stem);
  return name ? tqt_graph_initializer_add(c->m->arena, g, name, TQT_DTYPE_FLOAT, rank, dims, NULL)
              : NULL;
}

/* Scales W along its output channels and writes the folded bias. */
static int bnfold_apply(struct bnfold_ctx *c, struct tqt_graph *g, struct tqt_node *p,
                        const float *a, const float *shift, int64_t n_out) {
  struct tqt_tensor *w = tqt_graph_constant(g, p->inputs[1]);
  const char *op = p->op_type;
  char *w_stem = tqt_arena_printf(c->m->arena, "%s_bnfold", w->name);
  struct tqt_tensor *w2 = w_stem ? bnfold_new(c, g, w_stem, w->rank, w->dims) : NULL;
  if (!w2) return -1;
  const float *src = w->data;
  float *dst = w2->data;
  int64_t numel = tqt_tensor_numel(w);
  if (strcmp(op, "Conv") == 0) {
    int64_t per = numel / n_out;
    for (int64_t i = 0; i < numel; i++) dst[i] = src[i] * a[i / per];
  } else if (strcmp(op, "ConvTranspose") == 0) { /* W is [Cin, Cout/group, k...] */
    int64_t group = tqt_attr_int(p, "group", 1), cin = w->dims[0], cout_g = w->dims[1];
    int64_t per = numel / (cin * cout_g);
    for (int64_t i = 0; i < numel; i++) {
      int64_t ic = i / (cout_g * per), j = (i / per) % cout_g;
      dst[i] = src[i] * a[(ic / (cin / group)) * cout_g + j];
    }
  } else { /* Gemm: B is [K, N], or [N, K] with transB */
    bool trans = tqt_attr_int(p, "transB", 0) != 0;
    int64_t rows = w->dims[0], cols = w->dims[1];
    for (int64_t r = 0; r < rows; r++)
      for (int64_t k = 0; k < cols; k++)
        dst[r * cols + k] = src[r * cols + k] * a[trans ? r : k];
  }
  int64_t bdims[1] = {n_out};
  char *b_stem = tqt_arena_printf(c->m->arena, "%s_bnfold_bias", *p->name ? p->name : w->name);
  struct tqt_tensor *b2 = b_stem ? bnfold_new(c, g, b_stem, 1, bdims) : NULL;
  if (!b2) return -1;
  memcpy(b2->data, shift, (size_t)n_out * sizeof *shift);
  p->inputs[1] = w2->name;
  const size_t bias_slot = 2; /* Conv, ConvTranspose and Gemm alike */
  if (p->n_inputs <= bias_slot) {
    char **grown = tqt_arena_calloc(c->m->arena, bias_slot + 1, sizeof *grown);
    if (!grown) return -1;
    memcpy(grown, p->inputs, p->n_inputs * sizeof *grown);
    p->inputs = grown;
    p->n_inputs = bias_slot + 1;
  }
  p->inputs[bias_slot] = b2->name;
  return 0;
}

/* What a fold needs of the producer p (Conv, ConvTranspose, Gemm with constant float weights,
 * its output read by one node only): its output channels, the rank of its output, and its own
 * bias as a per-channel vector (Gemm: beta · C). False when p cannot take a fold. */
struct bnfold_producer {
  int64_t n_out;
  size_t out_rank;
  const struct tqt_tensor *bias; /* NULL: none */
  int64_t bias_n;
  float beta;
};

static bool bnfold_producer(struct tqt_graph *g, struct tqt_node *p, struct bnfold_producer *f) {
  if (!p || *p->domain || p->n_outputs != 1 || p->n_inputs < 2) return false;
  bool conv = !strcmp(p->op_type, "Conv"), convt = !strcmp(p->op_type, "ConvTranspose");
  bool gemm = !strcmp(p->op_type, "Gemm");
  if ((!conv && !convt && !gemm) || tqt_graph_readers(g, p->outputs[0]) != 1) return false;
  struct tqt_tensor *w = tqt_graph_constant(g, p->inputs[1]);
  if (!w || w->dtype != TQT_DTYPE_FLOAT || !w->data || w->rank < 2) return false;
  if (conv) {
    f->n_out = w->dims[0];
  } else if (convt) {
    f->n_out = w->dims[1] * tqt_attr_int(p, "group", 1);
  } else {
    if (w->rank != 2) return false;
    f->n_out = tqt_attr_int(p, "transB", 0) ? w->dims[0] : w->dims[1];
  }
  f->out_rank = w->rank;
  f->bias = p->n_inputs > 2 && *p->inputs[2] ? tqt_graph_constant(g, p->inputs[2]) : NULL;
  if (p->n_inputs > 2 && *p->inputs[2] && (!f->bias || f->bias->dtype != TQT_DTYPE_FLOAT))
    return false;
  f->bias_n = f->bias ? tqt_tensor_numel(f->bias) : 0;
  if (f->bias && f->bias_n != f->n_out && !(gemm && f->bias_n == 1)) return false;
  if (gemm && f->bias && f->bias->rank == 2 && f->bias->dims[0] != 1) return false;
  f->beta = gemm ? tqt_attr_float(p, "beta", 1.0f) : 1.0f;
  return true;
}

/* The producer's bias for channel i, beta included (0 without one). */
static float bnfold_bias_at(const struct bnfold_producer *f, int64_t i) {
  return f->bias ? f->beta * ((const float *)f->bias->data)[f->bias_n == 1 ? 0 : i] : 0.0f;
}

/* Writes the fold into p and makes the folded node's output p's. */
static int bnfold_commit(struct bnfold_ctx *c, struct tqt_graph *g, struct tqt_node *p,
                         const float *a, const float *shift, int64_t n_out, const char *output) {
  if (bnfold_apply(c, g, p, a, shift, n_out)) return -1;
  if (!strcmp(p->op_type, "Gemm")) {
    struct tqt_attr *at = (struct tqt_attr *)tqt_node_attr_find(p, "beta");
    if (at) at->f = 1.0f;
  }
  p->outputs[0] = (char *)output;
  return 0;
}

/* The node of g, before index end, that produces name; NULL when none. */
static struct tqt_node *bnfold_producer_of(struct tqt_graph *g, size_t end, const char *name) {
  for (size_t i = 0; i < end; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
      if (strcmp(g->nodes[i]->outputs[k], name) == 0) return g->nodes[i];
  return NULL;
}

/* Folds BN node index bi of g into its producer when every condition holds. 1 folded, 0 not,
 * -1 out of memory. */
static int bnfold_try(struct bnfold_ctx *c, struct tqt_graph *g, size_t bi) {
  struct tqt_node *bn = g->nodes[bi];
  if (strcmp(bn->op_type, "BatchNormalization") || *bn->domain || bn->n_inputs < 5) return 0;
  if (tqt_attr_int(bn, "training_mode", 0) || tqt_attr_int(bn, "spatial", 1) == 0) return 0;
  for (size_t k = 1; k < bn->n_outputs; k++)
    if (*bn->outputs[k]) return 0; /* running statistics asked for: training */
  struct tqt_node *p = bnfold_producer_of(g, bi, bn->inputs[0]);
  struct bnfold_producer f;
  if (!bnfold_producer(g, p, &f)) return 0;
  int64_t n_out = f.n_out;
  const struct tqt_tensor *scale = tqt_graph_constant(g, bn->inputs[1]);
  const struct tqt_tensor *beta = tqt_graph_constant(g, bn->inputs[2]);
  const struct tqt_tensor *mean = tqt_graph_constant(g, bn->inputs[3]);
  const struct tqt_tensor *var = tqt_graph_constant(g, bn->inputs[4]);
  if (!bnfold_is_float_vector(scale, n_out) || !bnfold_is_float_vector(beta, n_out) ||
      !bnfold_is_float_vector(mean, n_out) || !bnfold_is_float_vector(var, n_out))
    return 0;
  float eps = tqt_attr_float(bn, "epsilon", 1e-5f);
  float *a = tqt_arena_calloc(c->m->arena, (size_t)n_out, sizeof *a);
  float *shift = tqt_arena_calloc(c->m->arena, (size_t)n_out, sizeof *shift);
  if (!a || !shift) return -1;
  const float *sc = scale->data, *bt = beta->data, *mu = mean->data, *vr = var->data;
  for (int64_t i = 0; i < n_out; i++) {
    a[i] = sc[i] / sqrtf(vr[i] + eps);
    shift[i] = (bnfold_bias_at(&f, i) - mu[i]) * a[i] + bt[i];
  }
  if (bnfold_commit(c, g, p, a, shift, n_out, bn->outputs[0])) return -1;
  tqt_diag_note(c->d, "fold_batchnorm: '%s' folded into '%s' (%s)", bn->name, p->name,
                p->op_type);
  return 1;
}

/* The per-channel values of n's constant operand when n is a Mul or Add of x and a float
 * constant that holds one value or one per channel of an output of rank out_rank (channel axis
 * 1); *step gives the index step per channel (0: one value). NULL otherwise. */
static const float *bnfold_affine_operand(struct tqt_graph *g, const struct tqt_node *n,
                                          const char *x, const struct bnfold_producer *f,
                                          int64_t *step) {
  if (*n->domain || n->n_inputs != 2 || n->n_outputs != 1 ||
      (strcmp(n->op_type, "Mul") && strcmp(n->op_type, "Add")))
    return NULL;
  int k = strcmp(n->inputs[0], x) == 0 ? 1 : strcmp(n->inputs[1], x) == 0 ? 0 : -1;
  if (k < 0 || strcmp(n->inputs[1 - k], x)) return NULL;
  const struct tqt_tensor *t = tqt_graph_constant(g, n->inputs[k]);
  if (!t || t->dtype != TQT_DTYPE_FLOAT || !t->data || t->rank > f->out_rank) return NULL;
  int64_t numel = tqt_tensor_numel(t);
  if (numel == 1) {
    *step = 0;
    return t->data;
  }
  /* Right-aligned against the output: only the channel axis may hold more than one value. */
  size_t channel = t->rank + 1 >= f->out_rank ? t->rank + 1 - f->out_rank : SIZE_MAX;
  for (size_t i = 0; i < t->rank; i++)
    if (t->dims[i] != (i == channel ? f->n_out : 1)) return NULL;
  *step = 1;
  return t->data;
}

/* Folds the Mul and/or Add of constants that follow producer node pi of g into it (remove[]
 * marks them). 1 folded, 0 not, -1 out of memory. */
static int bnfold_try_affine(struct bnfold_ctx *c, struct tqt_graph *g, size_t pi, bool *remove) {
  struct tqt_node *p = g->nodes[pi];
  struct bnfold_producer f;
  if (!bnfold_producer(g, p, &f)) return 0;
  size_t mi = 0, ai = 0;
  struct tqt_node *mul = tqt_graph_only_reader(g, p->outputs[0], &mi), *add = NULL;
  int64_t mstep = 0, astep = 0;
  const float *mv = mul && !strcmp(mul->op_type, "Mul")
                        ? bnfold_affine_operand(g, mul, p->outputs[0], &f, &mstep) : NULL;
  if (!mv) mul = NULL;
  const char *x = mul ? mul->outputs[0] : p->outputs[0];
  add = tqt_graph_only_reader(g, x, &ai);
  const float *av = add && !strcmp(add->op_type, "Add")
                        ? bnfold_affine_operand(g, add, x, &f, &astep) : NULL;
  if (!av) add = NULL;
  if (!mul && !add) return 0;
  float *a = tqt_arena_calloc(c->m->arena, (size_t)f.n_out, sizeof *a);
  float *shift = tqt_arena_calloc(c->m->arena, (size_t)f.n_out, sizeof *shift);
  if (!a || !shift) return -1;
  for (int64_t i = 0; i < f.n_out; i++) {
    a[i] = mul ? mv[i * mstep] : 1.0f;
    shift[i] = bnfold_bias_at(&f, i) * a[i] + (add ? av[i * astep] : 0.0f);
  }
  const char *out = add ? add->outputs[0] : mul->outputs[0];
  if (bnfold_commit(c, g, p, a, shift, f.n_out, out)) return -1;
  if (mul) remove[mi] = true;
  if (add) remove[ai] = true;
  tqt_diag_note(c->d, "fold_batchnorm: %s%s%s folded into '%s' (%s)", mul ? "Mul" : "",
                mul && add ? " and " : "", add ? "Add" : "", p->name, p->op_type);
  return 1;
}

static int bnfold_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct bnfold_ctx *c = ctx;
  bool *remove = tqt_arena_calloc(c->m->arena, g->n_nodes + 1, sizeof *remove);
  if (!remove) return -1;
  for (size_t i = 0; i < g->n_nodes; i++) {
    if (remove[i]) continue; /* a Mul or Add folded already */
    int r = bnfold_try(c, g, i);
    if (r < 0) return -1;
    remove[i] = r == 1;
    c->changed += r;
  }
  for (size_t i = 0; i < g->n_nodes; i++) { /* after BN: Conv, BN, Mul, Add fold whole */
    if (remove[i]) continue;
    int r = bnfold_try_affine(c, g, i, remove);
    if (r < 0) return -1;
    c->changed += r;
  }
  tqt_graph_nodes_compact(g, remove);
  return 0;
}

int pass_fold_batchnorm(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  (void)o;
  struct bnfold_ctx c = {.m = m, .d = d};
  tqt_name_map_init(&c.used);
  int result = -1;
  if (tqt_names_collect(m, &c.used) || tqt_graph_walk(m->graph, bnfold_graph, &c)) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  result = c.changed;
fail:
  tqt_name_map_free(&c.used);
  return result;
}
