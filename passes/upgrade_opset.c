/* upgrade_opset: converts a model whose default-domain opset is below the target (13, or
 * --opset 13..21) to the target, node by node, in the main graph, in every If/Loop/Scan body and
 * in the model-local functions that import the default domain. Each node keeps its meaning
 * exactly: attributes that became inputs turn into constant inputs, ops whose semantics changed
 * get the attributes (or the helper nodes) that reproduce the old behaviour, deprecated ops are
 * replaced. A node it cannot convert exactly is an error that names node, op and versions.
 *
 * Two tables drive it: upgrade_ops lists every operator of the default domain (opsets 1..21)
 * with the versions ONNX gave it, and upgrade_rules lists, per op, the versions whose change
 * needs a converter. A version bump with no rule was checked to keep the meaning of every node
 * written for the older version (it only adds types, attributes whose default is the old
 * behaviour, or accepts more inputs, such as negative axes). The rules were taken from the
 * ONNX Changelog; see the comment above each one. Bumps whose text changed but that were judged
 * compatible: OneHot-11 (negative indices count from the end; opset 9 required non-negative
 * ones), the auto_pad wording of Conv and the pooling ops (both mean output = ceil(input /
 * stride)), GRU-7 (the R^T in its formulas fixed the documentation, not the op). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "interp.h"
#include "ir_names.h"
#include "onnx_io.h"
#include "passes.h"

#define UPGRADE_TARGET_DEFAULT 13
#define UPGRADE_TARGET_MIN 13
#define UPGRADE_TARGET_MAX 21
#define UPGRADE_RANK_MAX 16
#define UPGRADE_INFER_DEPTH 64

/* ---- the operators of the default domain ---- */

struct upgrade_op {
  const char *name;
  int deprecated; /* the opset that deprecated it (the op is gone from then on), or 0 */
  int versions[8]; /* the opsets that gave it a new version, ascending (unused slots 0) */
};

/* Opsets 1..21 (ONNX 1.16), sorted by name for bsearch. */
static const struct upgrade_op upgrade_ops[] = {
    {"Abs", 0, {1, 6, 13}}, {"Acos", 0, {7}}, {"Acosh", 0, {9}}, {"Add", 0, {1, 6, 7, 13, 14}},
    {"AffineGrid", 0, {20}}, {"And", 0, {1, 7}}, {"ArgMax", 0, {1, 11, 12, 13}},
    {"ArgMin", 0, {1, 11, 12, 13}}, {"Asin", 0, {7}}, {"Asinh", 0, {9}}, {"Atan", 0, {7}},
    {"Atanh", 0, {9}}, {"AveragePool", 0, {1, 7, 10, 11, 19}},
    {"BatchNormalization", 0, {1, 6, 7, 9, 14, 15}}, {"Bernoulli", 0, {15}}, {"BitShift", 0, {11}},
    {"BitwiseAnd", 0, {18}}, {"BitwiseNot", 0, {18}}, {"BitwiseOr", 0, {18}},
    {"BitwiseXor", 0, {18}}, {"BlackmanWindow", 0, {17}}, {"Cast", 0, {1, 6, 9, 13, 19, 21}},
    {"CastLike", 0, {15, 19, 21}}, {"Ceil", 0, {1, 6, 13}}, {"Celu", 0, {12}},
    {"CenterCropPad", 0, {18}}, {"Clip", 0, {1, 6, 11, 12, 13}}, {"Col2Im", 0, {18}},
    {"Compress", 0, {9, 11}},
    {"Concat", 0, {1, 4, 11, 13}}, {"ConcatFromSequence", 0, {11}},
    {"Constant", 0, {1, 9, 11, 12, 13, 19, 21}}, {"ConstantOfShape", 0, {9, 20, 21}},
    {"Conv", 0, {1, 11}}, {"ConvInteger", 0, {10}}, {"ConvTranspose", 0, {1, 11}}, {"Cos", 0, {7}},
    {"Cosh", 0, {9}}, {"CumSum", 0, {11, 14}}, {"DFT", 0, {17, 20}}, {"DeformConv", 0, {19}},
    {"DepthToSpace", 0, {1, 11, 13}}, {"DequantizeLinear", 0, {10, 13, 19, 21}}, {"Det", 0, {11}},
    {"Div", 0, {1, 6, 7, 13, 14}}, {"Dropout", 0, {1, 6, 7, 10, 12, 13}},
    {"DynamicQuantizeLinear", 0, {11}}, {"Einsum", 0, {12}}, {"Elu", 0, {1, 6}},
    {"Equal", 0, {1, 7, 11, 13, 19}}, {"Erf", 0, {9, 13}}, {"Exp", 0, {1, 6, 13}},
    {"Expand", 0, {8, 13}}, {"EyeLike", 0, {9}}, {"Flatten", 0, {1, 9, 11, 13, 21}},
    {"Floor", 0, {1, 6, 13}}, {"GRU", 0, {1, 3, 7, 14}}, {"Gather", 0, {1, 11, 13}},
    {"GatherElements", 0, {11, 13}}, {"GatherND", 0, {11, 12, 13}}, {"Gelu", 0, {20}},
    {"Gemm", 0, {1, 6, 7, 9, 11, 13}}, {"GlobalAveragePool", 0, {1}}, {"GlobalLpPool", 0, {1, 2}},
    {"GlobalMaxPool", 0, {1}}, {"Greater", 0, {1, 7, 9, 13}}, {"GreaterOrEqual", 0, {12, 16}},
    {"GridSample", 0, {16, 20}}, {"GroupNormalization", 0, {18, 21}}, {"HammingWindow", 0, {17}},
    {"HannWindow", 0, {17}}, {"HardSigmoid", 0, {1, 6}}, {"HardSwish", 0, {14}},
    {"Hardmax", 0, {1, 11, 13}}, {"Identity", 0, {1, 13, 14, 16, 19, 21}},
    {"If", 0, {1, 11, 13, 16, 19, 21}}, {"ImageDecoder", 0, {20}},
    {"InstanceNormalization", 0, {1, 6}}, {"IsInf", 0, {10, 20}}, {"IsNaN", 0, {9, 13, 20}},
    {"LRN", 0, {1, 13}}, {"LSTM", 0, {1, 7, 14}}, {"LayerNormalization", 0, {17}},
    {"LeakyRelu", 0, {1, 6, 16}}, {"Less", 0, {1, 7, 9, 13}}, {"LessOrEqual", 0, {12, 16}},
    {"Log", 0, {1, 6, 13}}, {"LogSoftmax", 0, {1, 11, 13}}, {"Loop", 0, {1, 11, 13, 16, 19, 21}},
    {"LpNormalization", 0, {1}}, {"LpPool", 0, {1, 2, 11, 18}}, {"MatMul", 0, {1, 9, 13}},
    {"MatMulInteger", 0, {10}}, {"Max", 0, {1, 6, 8, 12, 13}}, {"MaxPool", 0, {1, 8, 10, 11, 12}},
    {"MaxRoiPool", 0, {1}}, {"MaxUnpool", 0, {9, 11}}, {"Mean", 0, {1, 6, 8, 13}},
    {"MeanVarianceNormalization", 0, {9, 13}}, {"MelWeightMatrix", 0, {17}},
    {"Min", 0, {1, 6, 8, 12, 13}}, {"Mish", 0, {18}}, {"Mod", 0, {10, 13}},
    {"Mul", 0, {1, 6, 7, 13, 14}}, {"Multinomial", 0, {7}}, {"Neg", 0, {1, 6, 13}},
    {"NegativeLogLikelihoodLoss", 0, {12, 13}}, {"NonMaxSuppression", 0, {10, 11}},
    {"NonZero", 0, {9, 13}}, {"Not", 0, {1}}, {"OneHot", 0, {9, 11}}, {"Optional", 0, {15}},
    {"OptionalGetElement", 0, {15, 18}}, {"OptionalHasElement", 0, {15, 18}}, {"Or", 0, {1, 7}},
    {"PRelu", 0, {1, 6, 7, 9, 16}}, {"Pad", 0, {1, 2, 11, 13, 18, 19, 21}},
    {"Pow", 0, {1, 7, 12, 13, 15}}, {"QLinearConv", 0, {10}}, {"QLinearMatMul", 0, {10, 21}},
    {"QuantizeLinear", 0, {10, 13, 19, 21}}, {"RNN", 0, {1, 7, 14}}, {"RandomNormal", 0, {1}},
    {"RandomNormalLike", 0, {1}}, {"RandomUniform", 0, {1}}, {"RandomUniformLike", 0, {1}},
    {"Range", 0, {11}}, {"Reciprocal", 0, {1, 6, 13}}, {"ReduceL1", 0, {1, 11, 13, 18}},
    {"ReduceL2", 0, {1, 11, 13, 18}}, {"ReduceLogSum", 0, {1, 11, 13, 18}},
    {"ReduceLogSumExp", 0, {1, 11, 13, 18}}, {"ReduceMax", 0, {1, 11, 12, 13, 18, 20}},
    {"ReduceMean", 0, {1, 11, 13, 18}}, {"ReduceMin", 0, {1, 11, 12, 13, 18, 20}},
    {"ReduceProd", 0, {1, 11, 13, 18}}, {"ReduceSum", 0, {1, 11, 13}},
    {"ReduceSumSquare", 0, {1, 11, 13, 18}}, {"RegexFullMatch", 0, {20}},
    {"Relu", 0, {1, 6, 13, 14}}, {"Reshape", 0, {1, 5, 13, 14, 19, 21}},
    {"Resize", 0, {10, 11, 13, 18, 19}}, {"ReverseSequence", 0, {10}}, {"RoiAlign", 0, {10, 16}},
    {"Round", 0, {11}}, {"STFT", 0, {17}}, {"Scan", 0, {8, 9, 11, 16, 19, 21}},
    {"Scatter", 11, {9, 11}}, {"ScatterElements", 0, {11, 13, 16, 18}},
    {"ScatterND", 0, {11, 13, 16, 18}}, {"Selu", 0, {1, 6}}, {"SequenceAt", 0, {11}},
    {"SequenceConstruct", 0, {11}}, {"SequenceEmpty", 0, {11}}, {"SequenceErase", 0, {11}},
    {"SequenceInsert", 0, {11}}, {"SequenceLength", 0, {11}}, {"SequenceMap", 0, {17}},
    {"Shape", 0, {1, 13, 15, 19, 21}}, {"Shrink", 0, {9}}, {"Sigmoid", 0, {1, 6, 13}},
    {"Sign", 0, {9, 13}}, {"Sin", 0, {7}}, {"Sinh", 0, {9}}, {"Size", 0, {1, 13, 19, 21}},
    {"Slice", 0, {1, 10, 11, 13}}, {"Softmax", 0, {1, 11, 13}},
    {"SoftmaxCrossEntropyLoss", 0, {12, 13}}, {"Softplus", 0, {1}}, {"Softsign", 0, {1}},
    {"SpaceToDepth", 0, {1, 13}}, {"Split", 0, {1, 2, 11, 13, 18}}, {"SplitToSequence", 0, {11}},
    {"Sqrt", 0, {1, 6, 13}}, {"Squeeze", 0, {1, 11, 13, 21}}, {"StringConcat", 0, {20}},
    {"StringNormalizer", 0, {10}}, {"StringSplit", 0, {20}}, {"Sub", 0, {1, 6, 7, 13, 14}},
    {"Sum", 0, {1, 6, 8, 13}}, {"Tan", 0, {7}}, {"Tanh", 0, {1, 6, 13}},
    {"TfIdfVectorizer", 0, {9}}, {"ThresholdedRelu", 0, {10}}, {"Tile", 0, {1, 6, 13}},
    {"TopK", 0, {1, 10, 11}}, {"Transpose", 0, {1, 13, 21}}, {"Trilu", 0, {14}},
    {"Unique", 0, {11}}, {"Unsqueeze", 0, {1, 11, 13, 21}}, {"Upsample", 10, {1, 7, 9, 10}},
    {"Where", 0, {9, 16}}, {"Xor", 0, {1, 7}},
};

static int upgrade_op_cmp(const void *key, const void *elem) {
  return strcmp(key, ((const struct upgrade_op *)elem)->name);
}

static const struct upgrade_op *upgrade_op_find(const char *name) {
  return bsearch(name, upgrade_ops, sizeof upgrade_ops / sizeof upgrade_ops[0],
                 sizeof upgrade_ops[0], upgrade_op_cmp);
}

/* ---- state ---- */

/* What the pass knows of a value: element type and shape where the model declares them (graph
 * inputs, value_info, initializers, Constant nodes) or simple rules infer them. */
struct upgrade_value {
  int32_t dtype;                  /* TQT_DTYPE_UNDEFINED when unknown */
  int rank;                       /* -1 when unknown */
  int64_t dims[UPGRADE_RANK_MAX]; /* -1 for an unknown dim */
  struct tqt_tensor *constant;    /* its value, for initializers and Constant outputs */
};

static const struct upgrade_value upgrade_unknown = {TQT_DTYPE_UNDEFINED, -1, {0}, NULL};

struct upgrade_run {
  struct tqt_model *m;
  struct tqt_arena *a;
  struct tqt_diag *d;
  int64_t to;
  struct tqt_name_map names; /* every value and node name in the model: new names avoid them */
  struct tqt_name_map used;  /* every name a node reads or a graph or function returns */
  int depth;                 /* type inference recursion */
};

/* A list of nodes being converted: a graph (main or subgraph) or a function body. */
struct upgrade_scope {
  struct upgrade_run *run;
  struct upgrade_scope *parent; /* the scope whose node owns this subgraph */
  struct tqt_graph *g;          /* NULL for a function body */
  struct tqt_node ***nodes;
  size_t *n_nodes, *cap_nodes;
  int64_t from;                  /* the opset its nodes were written for */
  struct tqt_name_map facts;     /* name -> struct upgrade_value * */
  struct tqt_name_map producers; /* name -> struct tqt_node * */
  size_t at;                     /* index of the node being converted */
  size_t after;                  /* nodes inserted after it */
};

typedef int (*upgrade_rule_fn)(struct upgrade_scope *s, struct tqt_node *n);

/* ---- diagnostics ---- */

static const char *upgrade_label(const struct tqt_node *n) {
  if (n->name[0]) return n->name;
  return n->n_outputs && n->outputs[0][0] ? n->outputs[0] : "";
}

static int upgrade_nomem(struct upgrade_scope *s) {
  tqt_diag_fail(s->run->d, TQT_STATUS_NOMEM, "out of memory");
  return -1;
}

/* "node 'x' (Foo): cannot upgrade Foo from opset 6 to 13: <why>" */
static int upgrade_refuse(struct upgrade_scope *s, const struct tqt_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int upgrade_refuse(struct upgrade_scope *s, const struct tqt_node *n, const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  tqt_diag_fail(s->run->d, TQT_STATUS_UNSUPPORTED,
                "node '%s' (%s): cannot upgrade %s from opset %lld to %lld: %s", upgrade_label(n),
                n->op_type, n->op_type, (long long)s->from, (long long)s->run->to, why);
  return -1;
}

/* ---- names ---- */

/* "<base>/<suffix>", made unique in the whole model and reserved. NULL when out of memory. */
static char *upgrade_name(struct upgrade_run *r, const char *base, const char *suffix) {
  char *name = tqt_arena_printf(r->a, "%s/%s", base, suffix);
  for (int k = 1; name && tqt_name_map_get(&r->names, name, NULL); k++)
    name = tqt_arena_printf(r->a, "%s/%s_%d", base, suffix, k);
  if (!name || tqt_name_map_put(&r->names, name, NULL) != 0) return NULL;
  return name;
}

/* What new names derived from node n start with. */
static const char *upgrade_base(const struct tqt_node *n) {
  const char *label = upgrade_label(n);
  return label[0] ? label : n->op_type;
}

static bool upgrade_is_used(const struct upgrade_run *r, const char *name) {
  return name[0] && tqt_name_map_get(&r->used, name, NULL);
}

/* ---- attributes ---- */

static struct tqt_attr *upgrade_attr(struct tqt_node *n, const char *name) {
  for (size_t i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

/* Removes the attribute; true when it was there. */
static bool upgrade_attr_drop(struct tqt_node *n, const char *name) {
  for (size_t i = 0; i < n->n_attrs; i++) {
    if (strcmp(n->attrs[i].name, name) == 0) {
      memmove(&n->attrs[i], &n->attrs[i + 1], (n->n_attrs - i - 1) * sizeof *n->attrs);
      n->n_attrs--;
      return true;
    }
  }
  return false;
}

static int upgrade_attr_set_int(struct upgrade_scope *s, struct tqt_node *n, const char *name,
                                int64_t v) {
  upgrade_attr_drop(n, name);
  return tqt_node_attr_add_int(s->run->a, n, name, v) == 0 ? 0 : upgrade_nomem(s);
}

static int upgrade_attr_set_string(struct upgrade_scope *s, struct tqt_node *n, const char *name,
                                   const char *v) {
  upgrade_attr_drop(n, name);
  return tqt_node_attr_add_string(s->run->a, n, name, v) == 0 ? 0 : upgrade_nomem(s);
}

/* An attribute whose value the conversion must read: refuses a reference to a function
 * attribute (its value is only known at the call). */
static int upgrade_attr_literal(struct upgrade_scope *s, struct tqt_node *n, const char *name,
                                enum tqt_attr_type type, struct tqt_attr **out) {
  struct tqt_attr *at = upgrade_attr(n, name);
  *out = NULL;
  if (!at) return 0;
  if (at->ref_attr_name)
    return upgrade_refuse(s, n, "attribute '%s' refers to the function attribute '%s', whose "
                                "value the conversion needs", name, at->ref_attr_name);
  if (at->type != type)
    return upgrade_refuse(s, n, "attribute '%s' has type %d, expected %d", name, (int)at->type,
                          (int)type);
  *out = at;
  return 0;
}

static const char *upgrade_attr_string(const struct tqt_attr *at, const char *fallback) {
  return at && at->type == TQT_ATTR_TYPE_STRING ? at->s.data : fallback;
}

/* ---- inputs and outputs ---- */

static int upgrade_input_set(struct upgrade_scope *s, struct tqt_node *n, size_t index,
                             const char *name) {
  if (index >= n->n_inputs) {
    char **grown = tqt_arena_calloc(s->run->a, index + 1, sizeof *grown);
    if (!grown) return upgrade_nomem(s);
    for (size_t i = 0; i <= index; i++)
      if (!(grown[i] = i < n->n_inputs ? n->inputs[i] : tqt_arena_strdup(s->run->a, "")))
        return upgrade_nomem(s);
    n->inputs = grown;
    n->n_inputs = index + 1;
  }
  n->inputs[index] = tqt_arena_strdup(s->run->a, name);
  return n->inputs[index] ? 0 : upgrade_nomem(s);
}

/* Drops trailing omitted ("") inputs. */
static void upgrade_inputs_trim(struct tqt_node *n) {
  while (n->n_inputs && !n->inputs[n->n_inputs - 1][0]) n->n_inputs--;
}

/* Gives output k of n a new name (base/suffix) and returns the old one, so that a node inserted
 * after n can produce the old name and every consumer keeps reading it. */
static const char *upgrade_output_rename(struct upgrade_scope *s, struct tqt_node *n, size_t k,
                                         const char *suffix) {
  const char *old = n->outputs[k];
  char *renamed = upgrade_name(s->run, upgrade_base(n), suffix);
  if (!renamed || tqt_name_map_put(&s->producers, renamed, n) != 0) return NULL;
  n->outputs[k] = renamed;
  return old;
}

/* ---- new nodes and constants ---- */

static struct tqt_node *upgrade_node_make(struct upgrade_scope *s, const char *op,
                                          const char *base, size_t n_in,
                                          const char *const *ins, size_t n_out,
                                          const char *const *outs) {
  struct tqt_arena *a = s->run->a;
  struct tqt_node *node = tqt_arena_calloc(a, 1, sizeof *node);
  if (!node) return NULL;
  node->name = upgrade_name(s->run, base, op);
  node->op_type = tqt_arena_strdup(a, op);
  node->domain = tqt_arena_strdup(a, "");
  node->doc = tqt_arena_strdup(a, "");
  node->inputs = tqt_arena_calloc(a, n_in ? n_in : 1, sizeof *node->inputs);
  node->outputs = tqt_arena_calloc(a, n_out ? n_out : 1, sizeof *node->outputs);
  if (!node->name || !node->op_type || !node->domain || !node->doc || !node->inputs ||
      !node->outputs)
    return NULL;
  for (size_t i = 0; i < n_in; i++)
    if (!(node->inputs[i] = tqt_arena_strdup(a, ins[i] ? ins[i] : ""))) return NULL;
  for (size_t i = 0; i < n_out; i++)
    if (!(node->outputs[i] = tqt_arena_strdup(a, outs[i] ? outs[i] : ""))) return NULL;
  node->n_inputs = n_in;
  node->n_outputs = n_out;
  return node;
}

/* Puts node before the node being converted, or after it (and after earlier insertions). */
static int upgrade_insert(struct upgrade_scope *s, struct tqt_node *node, bool after) {
  if (tqt_arena_reserve(s->run->a, (void **)s->nodes, s->cap_nodes, *s->n_nodes + 1,
                        sizeof **s->nodes) != 0)
    return upgrade_nomem(s);
  size_t pos = after ? s->at + 1 + s->after : s->at;
  struct tqt_node **list = *s->nodes;
  memmove(&list[pos + 1], &list[pos], (*s->n_nodes - pos) * sizeof *list);
  list[pos] = node;
  (*s->n_nodes)++;
  if (after) s->after++;
  else s->at++;
  for (size_t i = 0; i < node->n_outputs; i++)
    if (node->outputs[i][0] && tqt_name_map_put(&s->producers, node->outputs[i], node) != 0)
      return upgrade_nomem(s);
  return 0;
}

/* Inserts a one-output node `op` next to n. `out` names its output; NULL makes a new name
 * <base of n>/<suffix>. Returns the output name, NULL on failure (d filled). */
static const char *upgrade_emit(struct upgrade_scope *s, const struct tqt_node *n, const char *op,
                                size_t n_in, const char *const *ins, const char *out,
                                const char *suffix, bool after, struct tqt_node **made) {
  const char *base = upgrade_base(n);
  if (!out && !(out = upgrade_name(s->run, base, suffix))) return upgrade_nomem(s), NULL;
  struct tqt_node *node = upgrade_node_make(s, op, base, n_in, ins, 1, &out);
  if (!node) return upgrade_nomem(s), NULL;
  if (upgrade_insert(s, node, after) != 0) return NULL;
  if (made) *made = node;
  return out;
}

static int upgrade_fact_put(struct upgrade_scope *s, const char *name, struct tqt_tensor *t) {
  struct upgrade_value *v = tqt_arena_calloc(s->run->a, 1, sizeof *v);
  if (!v) return upgrade_nomem(s);
  v->dtype = t->dtype;
  v->rank = t->rank <= UPGRADE_RANK_MAX ? (int)t->rank : -1;
  for (int i = 0; i < v->rank; i++) v->dims[i] = t->dims[i];
  v->constant = t;
  return tqt_name_map_put(&s->facts, name, v) == 0 ? 0 : upgrade_nomem(s);
}

/* A new constant input for node n named <base of n>/<suffix>: an initializer of the graph that
 * owns n, or in a function body (which has none) a Constant node inserted before n. */
static const char *upgrade_constant(struct upgrade_scope *s, const struct tqt_node *n,
                                    const char *suffix, int32_t dtype, size_t rank,
                                    const int64_t *dims, const void *data) {
  struct tqt_arena *a = s->run->a;
  const char *name = upgrade_name(s->run, upgrade_base(n), suffix);
  if (!name) return upgrade_nomem(s), NULL;
  struct tqt_tensor *t;
  if (s->g) {
    t = tqt_graph_initializer_add(a, s->g, name, dtype, rank, dims, data);
    if (!t) return upgrade_nomem(s), NULL;
  } else {
    struct tqt_node *c;
    if (!(t = tqt_tensor_create(a, "", dtype, rank, dims, data)) ||
        !upgrade_emit(s, n, "Constant", 0, NULL, name, NULL, false, &c))
      return upgrade_nomem(s), NULL;
    struct tqt_attr *at = tqt_node_attr_add(a, c, "value", TQT_ATTR_TYPE_TENSOR);
    if (!at) return upgrade_nomem(s), NULL;
    at->t = t;
  }
  return upgrade_fact_put(s, name, t) == 0 ? name : NULL;
}

static const char *upgrade_constant_ints(struct upgrade_scope *s, const struct tqt_node *n,
                                         const char *suffix, size_t count, const int64_t *v) {
  int64_t dims[1] = {(int64_t)count};
  return upgrade_constant(s, n, suffix, TQT_DTYPE_INT64, 1, dims, v);
}

/* A scalar of dtype holding v (converted the way C converts, float16 rounded to nearest). */
static const char *upgrade_constant_scalar(struct upgrade_scope *s, const struct tqt_node *n,
                                           const char *suffix, int32_t dtype, double v) {
  unsigned char bytes[16] = {0};
  struct tqt_rt_tensor view = {.dtype = dtype, .data = bytes};
  tqt_rt_set(&view, 0, v);
  return upgrade_constant(s, n, suffix, dtype, 0, NULL, bytes);
}

/* An attribute that becomes an input. In a function body the attribute may refer to an attribute
 * of the function: a Constant node then forwards it (value_ints / value_float). */
static const char *upgrade_attr_to_input(struct upgrade_scope *s, struct tqt_node *n,
                                         const struct tqt_attr *at, const char *suffix) {
  if (at->ref_attr_name) {
    const char *kind = at->type == TQT_ATTR_TYPE_INTS ? "value_ints"
                       : at->type == TQT_ATTR_TYPE_FLOAT ? "value_float"
                                                         : NULL;
    if (!kind || s->g)
      return upgrade_refuse(s, n, "attribute '%s' refers to '%s' and cannot become an input",
                            at->name, at->ref_attr_name), NULL;
    struct tqt_node *c;
    const char *out = upgrade_emit(s, n, "Constant", 0, NULL, NULL, suffix, false, &c);
    if (!out) return NULL;
    struct tqt_attr *fwd = tqt_node_attr_add(s->run->a, c, kind, at->type);
    if (!fwd || !(fwd->ref_attr_name = tqt_arena_strdup(s->run->a, at->ref_attr_name)))
      return upgrade_nomem(s), NULL;
    return out;
  }
  if (at->type == TQT_ATTR_TYPE_INTS) return upgrade_constant_ints(s, n, suffix, at->n, at->ints);
  if (at->type == TQT_ATTR_TYPE_INT) return upgrade_constant_ints(s, n, suffix, 1, &at->i);
  return upgrade_refuse(s, n, "attribute '%s' has an unexpected type", at->name), NULL;
}

/* ---- what is known of values ---- */

static void upgrade_value_from_type(const struct tqt_type *t, struct upgrade_value *v) {
  *v = upgrade_unknown;
  if (!t || t->kind != TQT_TYPE_KIND_TENSOR) return;
  if (t->has_elem_type) v->dtype = t->elem_type;
  if (t->has_shape && t->rank <= UPGRADE_RANK_MAX) {
    v->rank = (int)t->rank;
    for (size_t i = 0; i < t->rank; i++) v->dims[i] = t->dims[i].has_value ? t->dims[i].value : -1;
  }
}

static int upgrade_facts_from_graph(struct upgrade_scope *s, struct tqt_graph *g) {
  struct tqt_arena *a = s->run->a;
  const struct tqt_value_info *lists[3] = {g->value_info, g->outputs, g->inputs};
  size_t counts[3] = {g->n_value_info, g->n_outputs, g->n_inputs};
  for (int l = 0; l < 3; l++) {
    for (size_t i = 0; i < counts[l]; i++) {
      struct upgrade_value *v = tqt_arena_calloc(a, 1, sizeof *v);
      if (!v) return upgrade_nomem(s);
      upgrade_value_from_type(lists[l][i].type, v);
      if (tqt_name_map_put(&s->facts, lists[l][i].name, v) != 0) return upgrade_nomem(s);
    }
  }
  for (size_t i = 0; i < g->n_initializers; i++)
    if (upgrade_fact_put(s, g->initializers[i]->name, g->initializers[i]) != 0) return -1;
  return 0;
}

static bool upgrade_op_in(const char *op, const char *const *list) {
  for (; *list; list++)
    if (strcmp(op, *list) == 0) return true;
  return false;
}

/* Ops whose output 0 has the shape and type of input 0. */
static const char *const upgrade_same_shape_ops[] = {
    "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "BatchNormalization", "Ceil",
    "Celu", "Clip", "Cos", "Cosh", "CumSum", "Dropout", "Elu", "Erf", "Exp", "Floor",
    "HardSigmoid", "HardSwish", "Hardmax", "Identity", "InstanceNormalization", "LRN",
    "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization",
    "MeanVarianceNormalization", "Neg", "Reciprocal", "Relu", "Round", "Selu", "Shrink",
    "Sigmoid", "Sign", "Sin", "Sinh", "Softmax", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh",
    "ThresholdedRelu", "Trilu", NULL};
/* Ops whose output 0 has the rank and type of input 0. */
static const char *const upgrade_same_rank_ops[] = {
    "AveragePool", "Conv", "ConvTranspose", "DepthToSpace", "GatherElements", "GlobalAveragePool",
    "GlobalLpPool", "GlobalMaxPool", "LpPool", "MaxPool", "MaxUnpool", "Pad", "Resize",
    "ReverseSequence", "Scatter", "ScatterElements", "ScatterND", "Slice", "SpaceToDepth",
    "Split", "Tile", "TopK", "Transpose", "Upsample", NULL};
/* Ops with numpy (or legacy) broadcasting whose output has the type of input 0. */
static const char *const upgrade_broadcast_ops[] = {
    "Add", "BitShift", "Div", "Max", "Mean", "Min", "Mod", "Mul", "PRelu", "Pow", "Sub", "Sum",
    NULL};
static const char *const upgrade_compare_ops[] = {
    "And", "Equal", "Greater", "GreaterOrEqual", "IsInf", "IsNaN", "Less", "LessOrEqual", "Not",
    "Or", "Xor", NULL};

static const struct upgrade_value *upgrade_type(struct upgrade_scope *s, const char *name);

/* The int64 values of a small constant integer tensor; -1 when name is not one. */
static int upgrade_const_ints(struct upgrade_scope *s, const char *name, int64_t *out,
                              size_t max, size_t *count) {
  const struct upgrade_value *v = upgrade_type(s, name);
  struct tqt_tensor *t = v->constant;
  if (!t || (t->dtype != TQT_DTYPE_INT64 && t->dtype != TQT_DTYPE_INT32)) return -1;
  int64_t numel = tqt_tensor_numel(t);
  if (numel < 0 || (uint64_t)numel > max) return -1;
  struct tqt_diag ignored = {0};
  const void *data = tqt_tensor_data(t, s->run->a, &ignored);
  if (!data && numel) return -1;
  struct tqt_rt_tensor view = {.dtype = t->dtype, .data = (void *)data};
  for (int64_t i = 0; i < numel; i++) out[i] = tqt_rt_get_int(&view, i);
  *count = (size_t)numel;
  return 0;
}

/* The values of a small constant floating-point tensor; -1 when name is not one. */
static int upgrade_const_doubles(struct upgrade_scope *s, const char *name, double *out,
                                 size_t max, size_t *count) {
  const struct upgrade_value *v = upgrade_type(s, name);
  struct tqt_tensor *t = v->constant;
  if (!t || (t->dtype != TQT_DTYPE_FLOAT && t->dtype != TQT_DTYPE_DOUBLE &&
             t->dtype != TQT_DTYPE_FLOAT16))
    return -1;
  int64_t numel = tqt_tensor_numel(t);
  if (numel < 0 || (uint64_t)numel > max) return -1;
  struct tqt_diag ignored = {0};
  const void *data = tqt_tensor_data(t, s->run->a, &ignored);
  if (!data && numel) return -1;
  struct tqt_rt_tensor view = {.dtype = t->dtype, .data = (void *)data};
  for (int64_t i = 0; i < numel; i++) out[i] = tqt_rt_get(&view, i);
  *count = (size_t)numel;
  return 0;
}

/* The rank an axes list (attribute or constant input) removes or adds; -1 when unknown. */
static int upgrade_axes_count(struct upgrade_scope *s, struct tqt_node *n) {
  const struct tqt_attr *at = upgrade_attr(n, "axes");
  if (at && !at->ref_attr_name && at->type == TQT_ATTR_TYPE_INTS) return (int)at->n;
  int64_t axes[UPGRADE_RANK_MAX];
  size_t count;
  if (n->n_inputs > 1 && upgrade_const_ints(s, n->inputs[1], axes, UPGRADE_RANK_MAX, &count) == 0)
    return (int)count;
  return -1;
}

static int upgrade_attr_int_or(struct tqt_node *n, const char *name, int64_t fallback) {
  const struct tqt_attr *at = upgrade_attr(n, name);
  return at && !at->ref_attr_name && at->type == TQT_ATTR_TYPE_INT ? (int)at->i : (int)fallback;
}

/* Fills v for output k of node (in scope s) from simple per-op rules. */
static void upgrade_infer(struct upgrade_scope *s, struct tqt_node *node, size_t k,
                          struct upgrade_value *v) {
  struct tqt_arena *a = s->run->a;
  const char *op = node->op_type;
  const struct upgrade_value *in0 =
      node->n_inputs ? upgrade_type(s, node->inputs[0]) : &upgrade_unknown;
  if (node->domain[0] && strcmp(node->domain, "ai.onnx") != 0) return;
  if (strcmp(op, "Constant") == 0) {
    for (size_t i = 0; i < node->n_attrs; i++) {
      const struct tqt_attr *at = &node->attrs[i];
      struct tqt_tensor *t = NULL;
      int64_t dims[1] = {(int64_t)at->n};
      float f = at->f;
      if (at->ref_attr_name) continue;
      if (strcmp(at->name, "value") == 0 && at->type == TQT_ATTR_TYPE_TENSOR) t = at->t;
      else if (strcmp(at->name, "value_ints") == 0)
        t = tqt_tensor_create(a, "", TQT_DTYPE_INT64, 1, dims, at->ints);
      else if (strcmp(at->name, "value_int") == 0)
        t = tqt_tensor_create(a, "", TQT_DTYPE_INT64, 0, NULL, &at->i);
      else if (strcmp(at->name, "value_floats") == 0)
        t = tqt_tensor_create(a, "", TQT_DTYPE_FLOAT, 1, dims, at->floats);
      else if (strcmp(at->name, "value_float") == 0)
        t = tqt_tensor_create(a, "", TQT_DTYPE_FLOAT, 0, NULL, &f);
      if (t && !t->external && !t->has_segment && t->rank <= UPGRADE_RANK_MAX) {
        v->dtype = t->dtype;
        v->rank = (int)t->rank;
        for (size_t d = 0; d < t->rank; d++) v->dims[d] = t->dims[d];
        v->constant = t;
      }
    }
    return;
  }
  if (k == 0 && upgrade_op_in(op, upgrade_same_shape_ops)) {
    *v = *in0;
    v->constant = NULL;
    return;
  }
  if (k == 0 && upgrade_op_in(op, upgrade_same_rank_ops)) {
    v->dtype = in0->dtype;
    v->rank = in0->rank;
    return;
  }
  bool compare = upgrade_op_in(op, upgrade_compare_ops);
  if (upgrade_op_in(op, upgrade_broadcast_ops) || compare || strcmp(op, "Where") == 0) {
    v->dtype = compare ? TQT_DTYPE_BOOL
               : strcmp(op, "Where") == 0 && node->n_inputs > 1
                   ? upgrade_type(s, node->inputs[1])->dtype
                   : in0->dtype;
    if (upgrade_attr(node, "broadcast")) { /* legacy: B fits into A */
      v->rank = in0->rank;
      return;
    }
    int rank = 0;
    for (size_t i = 0; i < node->n_inputs; i++) {
      int r = upgrade_type(s, node->inputs[i])->rank;
      if (r < 0) return;
      if (r > rank) rank = r;
    }
    v->rank = rank;
    return;
  }
  if (strcmp(op, "Cast") == 0) {
    const struct tqt_attr *to = upgrade_attr(node, "to");
    if (to && to->type == TQT_ATTR_TYPE_INT && !to->ref_attr_name) v->dtype = (int32_t)to->i;
    v->rank = in0->rank;
    memcpy(v->dims, in0->dims, sizeof v->dims);
  } else if (strcmp(op, "Shape") == 0) {
    v->dtype = TQT_DTYPE_INT64;
    v->rank = 1;
    v->dims[0] = -1;
  } else if (strcmp(op, "Size") == 0) {
    v->dtype = TQT_DTYPE_INT64;
    v->rank = 0;
  } else if (strcmp(op, "NonZero") == 0) {
    v->dtype = TQT_DTYPE_INT64;
    v->rank = 2;
    v->dims[0] = v->dims[1] = -1;
  } else if (strcmp(op, "Flatten") == 0 || strcmp(op, "Gemm") == 0) {
    v->dtype = in0->dtype;
    v->rank = 2;
    v->dims[0] = v->dims[1] = -1;
  } else if (strcmp(op, "MatMul") == 0 && node->n_inputs > 1) {
    int rb = upgrade_type(s, node->inputs[1])->rank;
    v->dtype = in0->dtype;
    if (in0->rank >= 2 && rb >= 2) v->rank = in0->rank > rb ? in0->rank : rb;
  } else if (strcmp(op, "Reshape") == 0) {
    int64_t shape[UPGRADE_RANK_MAX];
    size_t count;
    const struct tqt_attr *at = upgrade_attr(node, "shape");
    v->dtype = in0->dtype;
    if (at && at->type == TQT_ATTR_TYPE_INTS && at->n <= UPGRADE_RANK_MAX) v->rank = (int)at->n;
    else if (node->n_inputs > 1 &&
             upgrade_const_ints(s, node->inputs[1], shape, UPGRADE_RANK_MAX, &count) == 0)
      v->rank = (int)count;
  } else if (strcmp(op, "Squeeze") == 0 || strcmp(op, "Unsqueeze") == 0) {
    int count = upgrade_axes_count(s, node);
    v->dtype = in0->dtype;
    if (in0->rank >= 0 && count >= 0)
      v->rank = op[0] == 'S' ? in0->rank - count : in0->rank + count;
  } else if (strcmp(op, "Concat") == 0) {
    v->dtype = in0->dtype;
    v->rank = in0->rank;
  } else if (strncmp(op, "Reduce", 6) == 0 || strcmp(op, "ArgMax") == 0 ||
             strcmp(op, "ArgMin") == 0) {
    bool arg = op[0] == 'A';
    v->dtype = arg ? TQT_DTYPE_INT64 : in0->dtype;
    if (upgrade_attr_int_or(node, "keepdims", 1)) v->rank = in0->rank;
    else if (arg && in0->rank > 0) v->rank = in0->rank - 1;
    else if (!arg && in0->rank >= 0) {
      int count = upgrade_axes_count(s, node);
      if (count > 0) v->rank = in0->rank - count;
      else if (count < 0 && !upgrade_attr(node, "axes") && node->n_inputs < 2) v->rank = 0;
    }
  } else if (strcmp(op, "Gather") == 0 && node->n_inputs > 1) {
    int q = upgrade_type(s, node->inputs[1])->rank;
    v->dtype = in0->dtype;
    if (in0->rank >= 1 && q >= 0) v->rank = in0->rank + q - 1;
  } else if (k == 1 && (strcmp(op, "TopK") == 0 || strcmp(op, "MaxPool") == 0)) {
    v->dtype = TQT_DTYPE_INT64;
    v->rank = in0->rank;
  } else if (k > 0 && strcmp(op, "Split") == 0) {
    v->dtype = in0->dtype;
    v->rank = in0->rank;
  } else if (strcmp(op, "ConstantOfShape") == 0) {
    const struct tqt_attr *at = upgrade_attr(node, "value");
    v->dtype = at && at->type == TQT_ATTR_TYPE_TENSOR && at->t ? at->t->dtype : TQT_DTYPE_FLOAT;
    if (in0->rank == 1 && in0->dims[0] >= 0 && in0->dims[0] <= UPGRADE_RANK_MAX)
      v->rank = (int)in0->dims[0];
  } else if (strcmp(op, "QuantizeLinear") == 0) {
    v->dtype = node->n_inputs > 2 && node->inputs[2][0] ? upgrade_type(s, node->inputs[2])->dtype
                                                        : TQT_DTYPE_UINT8;
    v->rank = in0->rank;
  } else if (strcmp(op, "DequantizeLinear") == 0) {
    v->dtype = TQT_DTYPE_FLOAT;
    v->rank = in0->rank;
  }
}

/* What is known of value `name` as seen from scope s (enclosing scopes included). Never NULL. */
static const struct upgrade_value *upgrade_type(struct upgrade_scope *s, const char *name) {
  struct upgrade_run *r = s->run;
  if (!name || !name[0]) return &upgrade_unknown;
  for (struct upgrade_scope *sc = s; sc; sc = sc->parent) {
    void *found;
    if (tqt_name_map_get(&sc->facts, name, &found)) return found;
    if (!tqt_name_map_get(&sc->producers, name, &found)) continue;
    struct tqt_node *node = found;
    struct upgrade_value *v = tqt_arena_calloc(r->a, 1, sizeof *v);
    /* Recorded before inferring: a cycle or a deep chain ends at "unknown". */
    if (!v || tqt_name_map_put(&sc->facts, name, v) != 0) return &upgrade_unknown;
    *v = upgrade_unknown;
    if (r->depth >= UPGRADE_INFER_DEPTH) return v;
    size_t k = 0;
    while (k < node->n_outputs && strcmp(node->outputs[k], name) != 0) k++;
    r->depth++;
    upgrade_infer(sc, node, k, v);
    r->depth--;
    return v;
  }
  return &upgrade_unknown;
}

/* The element type of input 0 of n; FLOAT with a warning when nothing tells it (the old
 * versions of the ops that need it accept floating-point types only, and a wrong guess makes
 * the model fail to load, never compute something else). */
static int32_t upgrade_input_dtype(struct upgrade_scope *s, struct tqt_node *n) {
  int32_t dtype = n->n_inputs ? upgrade_type(s, n->inputs[0])->dtype : TQT_DTYPE_UNDEFINED;
  if (dtype != TQT_DTYPE_UNDEFINED && tqt_dtype_size(dtype)) return dtype;
  tqt_diag_warn(s->run->d,
                "upgrade_opset: node '%s' (%s): the element type of '%s' is unknown; its new "
                "constant inputs are float\n",
                upgrade_label(n), n->op_type, n->n_inputs ? n->inputs[0] : "");
  return TQT_DTYPE_FLOAT;
}

/* ---- rules ---- */

/* Opset 7 replaced the legacy broadcast (attributes broadcast and axis: B, of lower rank, is
 * aligned with A's dims starting at `axis`, or with A's last dims when axis is absent) by numpy
 * broadcasting, which aligns trailing dims. With an axis, B gets trailing 1-dims so that numpy
 * broadcasting aligns it where the old rule did. Used for Add, Sub, Mul, Div, Pow, And, Or, Xor,
 * Equal, Greater and Less. */
static int upgrade_broadcast_dynamic(struct upgrade_scope *s, struct tqt_node *n, int64_t axis,
                                     int rank_b);

static int rule_broadcast(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *bc, *ax;
  if (upgrade_attr_literal(s, n, "broadcast", TQT_ATTR_TYPE_INT, &bc) != 0 ||
      upgrade_attr_literal(s, n, "axis", TQT_ATTR_TYPE_INT, &ax) != 0)
    return -1;
  if (!bc && !ax) return 0;
  if (bc && bc->i && ax) {
    if (n->n_inputs != 2) return upgrade_refuse(s, n, "expected 2 inputs");
    const struct upgrade_value *A = upgrade_type(s, n->inputs[0]);
    const struct upgrade_value *B = upgrade_type(s, n->inputs[1]);
    int64_t axis = ax->i;
    if (A->rank >= 0 && axis < 0) axis += A->rank;
    if (A->rank >= 0 && B->rank >= 0) {
      int64_t k = A->rank - axis - B->rank;
      if (axis < 0 || k < 0)
        return upgrade_refuse(s, n, "B of rank %d does not fit into A of rank %d at axis %lld",
                              B->rank, A->rank, (long long)ax->i);
      if (k > 0) { /* B gets k trailing 1-dims */
        int64_t axes[UPGRADE_RANK_MAX];
        for (int64_t i = 0; i < k; i++) axes[i] = B->rank + i;
        const char *c = upgrade_constant_ints(s, n, "broadcast_axes", (size_t)k, axes);
        const char *ins[2] = {n->inputs[1], c};
        const char *b = c ? upgrade_emit(s, n, "Unsqueeze", 2, ins, NULL, "broadcast_B", false,
                                         NULL)
                          : NULL;
        if (!b || upgrade_input_set(s, n, 1, b) != 0) return -1;
      }
    } else if (upgrade_broadcast_dynamic(s, n, axis, B->rank) != 0) {
      return -1;
    }
  }
  upgrade_attr_drop(n, "broadcast");
  upgrade_attr_drop(n, "axis");
  return 1;
}

/* The same when A's rank is only known at run time: B is reshaped to
 * concat(shape(B), ones(rank(A) - axis - rank(B))). */
static int upgrade_broadcast_dynamic(struct upgrade_scope *s, struct tqt_node *n, int64_t axis,
                                     int rank_b) {
  const char *A = n->inputs[0], *B = n->inputs[1];
  const char *shape_b = upgrade_emit(s, n, "Shape", 1, &B, NULL, "broadcast_shape_B", false, NULL);
  if (!shape_b) return -1;
  const char *count; /* how many 1-dims: rank(A) - axis - rank(B), as a 1-D tensor */
  if (axis < 0) {    /* counted from A's end: -axis - rank(B) */
    if (rank_b < 0 || -axis - rank_b < 0)
      return upgrade_refuse(s, n, "B's rank is unknown or does not fit at axis %lld",
                            (long long)axis);
    int64_t k = -axis - rank_b;
    count = upgrade_constant_ints(s, n, "broadcast_ones", 1, &k);
  } else {
    const char *shape_a =
        upgrade_emit(s, n, "Shape", 1, &A, NULL, "broadcast_shape_A", false, NULL);
    const char *rank_a =
        shape_a ? upgrade_emit(s, n, "Shape", 1, &shape_a, NULL, "broadcast_rank_A", false, NULL)
                : NULL;
    const char *known; /* axis + rank(B) */
    if (!rank_a) return -1;
    if (rank_b >= 0) {
      int64_t v = axis + rank_b;
      known = upgrade_constant_ints(s, n, "broadcast_used", 1, &v);
    } else {
      const char *rb =
          upgrade_emit(s, n, "Shape", 1, &shape_b, NULL, "broadcast_rank_B", false, NULL);
      const char *c = rb ? upgrade_constant_ints(s, n, "broadcast_axis", 1, &axis) : NULL;
      const char *ins[2] = {rb, c};
      known = c ? upgrade_emit(s, n, "Add", 2, ins, NULL, "broadcast_used", false, NULL) : NULL;
    }
    const char *ins[2] = {rank_a, known};
    count = known ? upgrade_emit(s, n, "Sub", 2, ins, NULL, "broadcast_ones", false, NULL) : NULL;
  }
  if (!count) return -1;
  struct tqt_node *fill;
  const char *ones =
      upgrade_emit(s, n, "ConstantOfShape", 1, &count, NULL, "broadcast_ones_dims", false, &fill);
  if (!ones) return -1;
  int64_t one = 1, dims[1] = {1};
  struct tqt_attr *value = tqt_node_attr_add(s->run->a, fill, "value", TQT_ATTR_TYPE_TENSOR);
  if (!value || !(value->t = tqt_tensor_create(s->run->a, "", TQT_DTYPE_INT64, 1, dims, &one)))
    return upgrade_nomem(s);
  const char *parts[2] = {shape_b, ones};
  struct tqt_node *concat;
  const char *shape = upgrade_emit(s, n, "Concat", 2, parts, NULL, "broadcast_B_shape", false,
                                   &concat);
  if (!shape || tqt_node_attr_add_int(s->run->a, concat, "axis", 0) != 0) return -1;
  const char *ins[2] = {B, shape};
  const char *b = upgrade_emit(s, n, "Reshape", 2, ins, NULL, "broadcast_B", false, NULL);
  return b ? upgrade_input_set(s, n, 1, b) : -1;
}

/* Gemm-7: C broadcasts the numpy way; the legacy `broadcast` flag (C suffix-aligned with
 * (M, N)) meant the same for every C it accepted. */
static int rule_gemm_broadcast(struct upgrade_scope *s, struct tqt_node *n) {
  (void)s;
  return upgrade_attr_drop(n, "broadcast") ? 1 : 0;
}

/* Drops outputs from index `keep` on; refuses when one of them is read. */
static int upgrade_outputs_trim(struct upgrade_scope *s, struct tqt_node *n, size_t keep,
                                const char *why) {
  for (size_t i = keep; i < n->n_outputs; i++)
    if (upgrade_is_used(s->run, n->outputs[i]))
      return upgrade_refuse(s, n, "output %zu ('%s') is read: %s", i, n->outputs[i], why);
  if (n->n_outputs <= keep) return 0;
  for (size_t i = keep; s->g && i < n->n_outputs; i++) { /* their value_info goes too */
    struct tqt_graph *g = s->g;
    for (size_t k = 0; n->outputs[i][0] && k < g->n_value_info; k++) {
      if (strcmp(g->value_info[k].name, n->outputs[i]) != 0) continue;
      memmove(&g->value_info[k], &g->value_info[k + 1],
              (g->n_value_info - k - 1) * sizeof *g->value_info);
      g->n_value_info--;
      break;
    }
  }
  n->n_outputs = keep;
  return 1;
}

/* BatchNormalization-7 dropped is_test: the node is in test mode when it has one output. */
static int rule_batchnorm_is_test(struct upgrade_scope *s, struct tqt_node *n) {
  int changed = upgrade_attr_drop(n, "is_test");
  int trimmed = upgrade_outputs_trim(s, n, 1, "a training-mode BatchNormalization (running "
                                              "statistics as outputs) cannot be converted");
  return trimmed < 0 ? -1 : changed || trimmed;
}

/* BatchNormalization-9 dropped spatial: statistics are per channel. spatial=0 (per activation:
 * scale, B, mean and var of shape C x D1 x ... x Dn) is the same only for inputs of rank 2. */
static int rule_batchnorm_spatial(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *sp;
  if (upgrade_attr_literal(s, n, "spatial", TQT_ATTR_TYPE_INT, &sp) != 0) return -1;
  if (!sp) return 0;
  if (sp->i == 0) {
    int rank = upgrade_type(s, n->inputs[0])->rank;
    if (rank < 0 || rank > 2)
      return upgrade_refuse(s, n, "spatial=0 (statistics per activation) has no equivalent in "
                                  "BatchNormalization-9 for an input of rank %s",
                            rank < 0 ? "unknown" : "> 2");
  }
  upgrade_attr_drop(n, "spatial");
  return 1;
}

/* BatchNormalization-14: training_mode (default 0) replaced the output count; in inference
 * mode extra outputs are invalid. */
static int rule_batchnorm_outputs(struct upgrade_scope *s, struct tqt_node *n) {
  return upgrade_outputs_trim(s, n, 1, "BatchNormalization-14 gives only Y in inference mode");
}

/* Cast-6: `to` is a TensorProto.DataType number instead of its name. */
static int rule_cast_to(struct upgrade_scope *s, struct tqt_node *n) {
  static const char *const names[] = {
      [TQT_DTYPE_FLOAT] = "FLOAT",         [TQT_DTYPE_UINT8] = "UINT8",
      [TQT_DTYPE_INT8] = "INT8",           [TQT_DTYPE_UINT16] = "UINT16",
      [TQT_DTYPE_INT16] = "INT16",         [TQT_DTYPE_INT32] = "INT32",
      [TQT_DTYPE_INT64] = "INT64",         [TQT_DTYPE_STRING] = "STRING",
      [TQT_DTYPE_BOOL] = "BOOL",           [TQT_DTYPE_FLOAT16] = "FLOAT16",
      [TQT_DTYPE_DOUBLE] = "DOUBLE",       [TQT_DTYPE_UINT32] = "UINT32",
      [TQT_DTYPE_UINT64] = "UINT64",       [TQT_DTYPE_COMPLEX64] = "COMPLEX64",
      [TQT_DTYPE_COMPLEX128] = "COMPLEX128", [TQT_DTYPE_BFLOAT16] = "BFLOAT16",
  };
  struct tqt_attr *to = upgrade_attr(n, "to");
  if (!to) return upgrade_refuse(s, n, "no 'to' attribute");
  if (to->ref_attr_name)
    return upgrade_refuse(s, n, "'to' refers to the function attribute '%s'", to->ref_attr_name);
  if (to->type == TQT_ATTR_TYPE_INT) return 0;
  if (to->type != TQT_ATTR_TYPE_STRING) return upgrade_refuse(s, n, "'to' is not a string");
  for (int dtype = 1; dtype < TQT_DTYPE_COUNT; dtype++)
    if (strcasecmp(to->s.data, names[dtype]) == 0)
      return upgrade_attr_set_int(s, n, "to", dtype) == 0 ? 1 : -1;
  return upgrade_refuse(s, n, "'to' names no element type: '%s'", to->s.data);
}

/* Clip-11: min and max are inputs (scalars of the input's type) instead of attributes; absent
 * ones still mean no bound. */
static int rule_clip_inputs(struct upgrade_scope *s, struct tqt_node *n) {
  const char *const names[2] = {"min", "max"};
  const char *inputs[2] = {"", ""};
  struct tqt_attr *at[2] = {upgrade_attr(n, "min"), upgrade_attr(n, "max")};
  if (!at[0] && !at[1]) return 0;
  int32_t dtype = upgrade_input_dtype(s, n);
  for (int i = 0; i < 2; i++) {
    if (!at[i]) continue;
    if (at[i]->type != TQT_ATTR_TYPE_FLOAT)
      return upgrade_refuse(s, n, "'%s' is not a float", names[i]);
    if (at[i]->ref_attr_name && dtype != TQT_DTYPE_FLOAT)
      return upgrade_refuse(s, n, "'%s' refers to a function attribute and the input is not "
                                  "float", names[i]);
    inputs[i] = at[i]->ref_attr_name ? upgrade_attr_to_input(s, n, at[i], names[i])
                                     : upgrade_constant_scalar(s, n, names[i], dtype, at[i]->f);
    if (!inputs[i]) return -1;
  }
  if (upgrade_input_set(s, n, 1, inputs[0]) != 0 || upgrade_input_set(s, n, 2, inputs[1]) != 0)
    return -1;
  upgrade_inputs_trim(n);
  upgrade_attr_drop(n, "min");
  upgrade_attr_drop(n, "max");
  return 1;
}

/* Concat-4 made axis required; Concat-1 defaulted it to 1. */
static int rule_concat_axis(struct upgrade_scope *s, struct tqt_node *n) {
  if (upgrade_attr(n, "axis")) return 0;
  return upgrade_attr_set_int(s, n, "axis", 1) == 0 ? 1 : -1;
}

/* ConvTranspose-11 changed how an odd total padding is split when output_shape or auto_pad
 * SAME_* asks for it: opset 1 wrote the extra element at the end (at the beginning for
 * SAME_UPPER), opset 11 at the beginning (at the end for SAME_UPPER), which is also what ONNX
 * Runtime and the ONNX reference do for every opset. auto_pad SAME_* also changed the output size
 * for strides above 1 (opset 11: input * stride). Such a node keeps its meaning when every total
 * padding is even and the strides are 1 (SAME_*); otherwise it is refused, because the two
 * readings disagree. */
static int rule_convtranspose_pads(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *ap, *os, *st, *dl, *op, *ks;
  if (upgrade_attr_literal(s, n, "auto_pad", TQT_ATTR_TYPE_STRING, &ap) != 0 ||
      upgrade_attr_literal(s, n, "output_shape", TQT_ATTR_TYPE_INTS, &os) != 0 ||
      upgrade_attr_literal(s, n, "strides", TQT_ATTR_TYPE_INTS, &st) != 0 ||
      upgrade_attr_literal(s, n, "dilations", TQT_ATTR_TYPE_INTS, &dl) != 0 ||
      upgrade_attr_literal(s, n, "output_padding", TQT_ATTR_TYPE_INTS, &op) != 0 ||
      upgrade_attr_literal(s, n, "kernel_shape", TQT_ATTR_TYPE_INTS, &ks) != 0)
    return -1;
  const char *auto_pad = upgrade_attr_string(ap, "NOTSET");
  bool same = strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0;
  if ((!os && !same) || strcmp(auto_pad, "VALID") == 0) return 0;
  const struct upgrade_value *x = upgrade_type(s, n->inputs[0]);
  const struct upgrade_value *w = n->n_inputs > 1 ? upgrade_type(s, n->inputs[1]) : x;
  int spatial = ks ? (int)ks->n : x->rank >= 3 ? x->rank - 2 : w->rank >= 3 ? w->rank - 2 : -1;
  if (spatial < 1 || (os && os->n != (size_t)spatial && os->n != (size_t)spatial + 2))
    return upgrade_refuse(s, n, "the number of spatial axes is unknown");
  for (int i = 0; i < spatial; i++) {
    int64_t in = x->rank == spatial + 2 ? x->dims[2 + i] : -1;
    int64_t k = ks ? ks->ints[i] : w->rank == spatial + 2 ? w->dims[2 + i] : -1;
    int64_t stride = st && st->n == (size_t)spatial ? st->ints[i] : 1;
    int64_t dil = dl && dl->n == (size_t)spatial ? dl->ints[i] : 1;
    int64_t adj = op && op->n == (size_t)spatial ? op->ints[i] : 0;
    int64_t total;
    if (os) { /* stride * (in - 1) + adj + (k - 1) * dil + 1 - output_shape */
      if (in < 0 || k < 0)
        return upgrade_refuse(s, n, "with output_shape, the padding split changed in opset 11 "
                                    "and the input or kernel size is unknown");
      int64_t out = os->ints[os->n - (size_t)spatial + (size_t)i];
      total = stride * (in - 1) + adj + (k - 1) * dil + 1 - out;
    } else {
      if (stride != 1)
        return upgrade_refuse(s, n, "auto_pad=%s with strides above 1 gives another output size "
                                    "from opset 11 on; give explicit pads", auto_pad);
      if (k < 0)
        return upgrade_refuse(s, n, "auto_pad=%s and the kernel size is unknown", auto_pad);
      total = adj + (k - 1) * dil; /* the output has the input's size */
    }
    if (total % 2 != 0)
      return upgrade_refuse(s, n, "the total padding of spatial axis %d is odd (%lld), and opset "
                                  "11 splits it the other way; give explicit pads",
                            i, (long long)total);
  }
  return 0;
}

/* Dropout-7 dropped is_test (inference runs Dropout as identity). */
static int rule_dropout_is_test(struct upgrade_scope *s, struct tqt_node *n) {
  (void)s;
  return upgrade_attr_drop(n, "is_test") ? 1 : 0;
}

/* Dropout-10: the mask is bool instead of the input's type. In inference its values were left
 * open before (ONNX Runtime gives zeros; opset 12 says all true), so a mask that is read is
 * refused and one that is not is dropped. */
static int rule_dropout_mask(struct upgrade_scope *s, struct tqt_node *n) {
  return upgrade_outputs_trim(s, n, 1, "the inference mask of Dropout before opset 10 has no "
                                       "defined value (ONNX Runtime gives zeros, opset 12 ones)");
}

/* Dropout-12: ratio is an optional input; without training_mode the node is identity. */
static int rule_dropout_ratio(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *ratio = upgrade_attr(n, "ratio");
  if (!ratio) return 0;
  if (ratio->type != TQT_ATTR_TYPE_FLOAT) return upgrade_refuse(s, n, "'ratio' is not a float");
  const char *in = ratio->ref_attr_name
                       ? upgrade_attr_to_input(s, n, ratio, "ratio")
                       : upgrade_constant_scalar(s, n, "ratio", TQT_DTYPE_FLOAT, ratio->f);
  if (!in || upgrade_input_set(s, n, 1, in) != 0) return -1;
  upgrade_attr_drop(n, "ratio");
  return 1;
}

/* RNN, GRU, LSTM-7 dropped output_sequence: Y is produced when it is named. */
static int rule_rnn_output_sequence(struct upgrade_scope *s, struct tqt_node *n) {
  (void)s;
  return upgrade_attr_drop(n, "output_sequence") ? 1 : 0;
}

/* GlobalLpPool-2, LpPool-2: p is an int instead of a float. */
static int rule_lp_p(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *p;
  if (upgrade_attr_literal(s, n, "p", TQT_ATTR_TYPE_FLOAT, &p) != 0) return -1;
  if (!p) return 0;
  int64_t v = (int64_t)p->f;
  if ((float)v != p->f) return upgrade_refuse(s, n, "p=%g is not an integer", (double)p->f);
  return upgrade_attr_set_int(s, n, "p", v) == 0 ? 1 : -1;
}

/* Softmax, LogSoftmax, Hardmax-13 work along one axis; before, the input was coerced to 2-D
 * [prod(dims before axis), prod(dims from axis)] (axis default 1). Along the last axis both are
 * the same; otherwise Flatten(axis) -> op along the last axis -> Reshape to the input's shape
 * (taken at run time, so dynamic dims work). */
static int rule_softmax_axis(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *ax;
  if (upgrade_attr_literal(s, n, "axis", TQT_ATTR_TYPE_INT, &ax) != 0) return -1;
  if (n->n_inputs < 1 || n->n_outputs < 1) return upgrade_refuse(s, n, "expected one input");
  int64_t axis = ax ? ax->i : 1;
  int rank = upgrade_type(s, n->inputs[0])->rank;
  if (axis < 0 && rank >= 0) axis += rank;
  if ((rank >= 0 && axis == rank - 1) || (rank < 0 && axis == -1))
    return upgrade_attr_set_int(s, n, "axis", -1) == 0 ? 1 : -1;
  const char *x = n->inputs[0];
  struct tqt_node *flatten;
  const char *shape = upgrade_emit(s, n, "Shape", 1, &x, NULL, "input_shape", false, NULL);
  const char *flat =
      shape ? upgrade_emit(s, n, "Flatten", 1, &x, NULL, "2d_input", false, &flatten) : NULL;
  if (!flat || tqt_node_attr_add_int(s->run->a, flatten, "axis", axis) != 0 ||
      upgrade_input_set(s, n, 0, flat) != 0 || upgrade_attr_set_int(s, n, "axis", -1) != 0)
    return upgrade_nomem(s);
  const char *out = upgrade_output_rename(s, n, 0, "2d_output");
  const char *ins[2] = {n->outputs[0], shape};
  if (!out || !upgrade_emit(s, n, "Reshape", 2, ins, out, NULL, true, NULL)) return -1;
  return 1;
}

/* PRelu-7: slope broadcasts the numpy way (aligned with X's last dims). Before, a slope of more
 * than one element held one value per channel (X's dim 1), so a 1-D slope gets trailing
 * 1-dims. */
static int rule_prelu_slope(struct upgrade_scope *s, struct tqt_node *n) {
  if (n->n_inputs != 2) return upgrade_refuse(s, n, "expected 2 inputs");
  const struct upgrade_value *x = upgrade_type(s, n->inputs[0]);
  const struct upgrade_value *slope = upgrade_type(s, n->inputs[1]);
  if (slope->rank < 0) return upgrade_refuse(s, n, "the slope's rank is unknown");
  if (slope->rank != 1 || slope->dims[0] == 1) return 0;
  if (x->rank < 0) return upgrade_refuse(s, n, "the input's rank is unknown");
  if (x->rank <= 2) return 0; /* [N, C] against [C]: already aligned */
  if (x->dims[1] >= 0 && slope->dims[0] >= 0 && x->dims[1] != slope->dims[0]) return 0;
  int64_t axes[UPGRADE_RANK_MAX];
  for (int i = 0; i < x->rank - 2; i++) axes[i] = 1 + i;
  const char *c = upgrade_constant_ints(s, n, "slope_axes", (size_t)x->rank - 2, axes);
  const char *ins[2] = {n->inputs[1], c};
  const char *b = c ? upgrade_emit(s, n, "Unsqueeze", 2, ins, NULL, "slope", false, NULL) : NULL;
  return b && upgrade_input_set(s, n, 1, b) == 0 ? 1 : -1;
}

/* Pad-2 renamed paddings to pads (same layout: all begins, then all ends). */
static int rule_pad_pads(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *at = upgrade_attr(n, "paddings");
  if (!at) return 0;
  if (!(at->name = tqt_arena_strdup(s->run->a, "pads"))) return upgrade_nomem(s);
  return 1;
}

/* Pad-11: pads and the constant value are inputs (int64 [2 * rank] and a scalar of the data's
 * type) instead of attributes; mode stays an attribute. */
static int rule_pad_inputs(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *pads = upgrade_attr(n, "pads"), *value, *mode;
  if (upgrade_attr_literal(s, n, "value", TQT_ATTR_TYPE_FLOAT, &value) != 0 ||
      upgrade_attr_literal(s, n, "mode", TQT_ATTR_TYPE_STRING, &mode) != 0)
    return -1;
  if (!pads || pads->type != TQT_ATTR_TYPE_INTS) return upgrade_refuse(s, n, "no 'pads'");
  const char *p = upgrade_attr_to_input(s, n, pads, "pads");
  if (!p || upgrade_input_set(s, n, 1, p) != 0) return -1;
  if (value && value->f != 0 && strcmp(upgrade_attr_string(mode, "constant"), "constant") == 0) {
    const char *v = upgrade_constant_scalar(s, n, "constant_value", upgrade_input_dtype(s, n),
                                            value->f);
    if (!v || upgrade_input_set(s, n, 2, v) != 0) return -1;
  }
  upgrade_attr_drop(n, "pads");
  upgrade_attr_drop(n, "value");
  return 1;
}

/* Reshape-5: the shape is an int64 input instead of an attribute. */
static int rule_reshape_shape(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *shape = upgrade_attr(n, "shape");
  if (!shape) {
    if (n->n_inputs >= 2) return 0;
    return upgrade_refuse(s, n, "no 'shape'");
  }
  if (shape->type != TQT_ATTR_TYPE_INTS) return upgrade_refuse(s, n, "'shape' is not ints");
  const char *in = upgrade_attr_to_input(s, n, shape, "shape");
  if (!in || upgrade_input_set(s, n, 1, in) != 0) return -1;
  upgrade_attr_drop(n, "shape");
  return 1;
}

/* The nearest_mode that reproduces the nearest rounding of Upsample and Resize-10: with
 * x_original = x_resized / scale, the index is truncated when upsampling and rounded up when
 * downsampling (per axis), so all scales >= 1 give floor, all <= 1 ceil. Run-time scales are
 * taken as upsampling where the op allows only that (Upsample: scales >= 1). */
static int upgrade_nearest_mode(struct upgrade_scope *s, struct tqt_node *n, const char *scales,
                                bool upsample_only, const char **mode) {
  double v[UPGRADE_RANK_MAX];
  size_t count;
  if (upgrade_const_doubles(s, scales, v, UPGRADE_RANK_MAX, &count) != 0) {
    if (!upsample_only)
      return upgrade_refuse(s, n, "nearest mode rounds differently for scales below 1; the "
                                  "scales are only known at run time");
    *mode = "floor";
    return 0;
  }
  bool up = true, down = true;
  for (size_t i = 0; i < count; i++) {
    up &= v[i] >= 1;
    down &= v[i] <= 1;
  }
  if (!up && !down)
    return upgrade_refuse(s, n, "scales mix upsampling and downsampling, which opset 10 "
                                "rounds differently per axis");
  *mode = up ? "floor" : "ceil";
  return 0;
}

/* Sets the attributes of a Resize-13 that does what Upsample / Resize-10 did. */
static int upgrade_resize_attrs(struct upgrade_scope *s, struct tqt_node *n, const char *mode,
                                const char *scales, bool upsample_only) {
  const char *nearest = NULL;
  if (strcmp(mode, "nearest") == 0 &&
      upgrade_nearest_mode(s, n, scales, upsample_only, &nearest) != 0)
    return -1;
  if (upgrade_input_set(s, n, 1, "") != 0 || upgrade_input_set(s, n, 2, scales) != 0)
    return -1;
  n->n_inputs = 3;
  if (upgrade_attr_set_string(s, n, "mode", mode) != 0 ||
      upgrade_attr_set_string(s, n, "coordinate_transformation_mode", "asymmetric") != 0 ||
      (nearest && upgrade_attr_set_string(s, n, "nearest_mode", nearest) != 0))
    return -1;
  return 1;
}

/* Resize-11 added roi (an input before scales) and the coordinate transformation, whose default
 * (half_pixel) is not what Resize-10 did: x_original = x_resized / scale ("asymmetric"). */
static int rule_resize_coordinates(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *mode;
  if (upgrade_attr_literal(s, n, "mode", TQT_ATTR_TYPE_STRING, &mode) != 0) return -1;
  const char *m = upgrade_attr_string(mode, "nearest");
  if (strcmp(m, "nearest") != 0 && strcmp(m, "linear") != 0)
    return upgrade_refuse(s, n, "unknown mode '%s'", m);
  if (n->n_inputs != 2) return upgrade_refuse(s, n, "expected inputs X and scales");
  return upgrade_resize_attrs(s, n, m, n->inputs[1], false);
}

/* Resize-13 dropped coordinate_transformation_mode tf_half_pixel_for_nn (x_original =
 * (x_resized + 0.5) / scale): it is half_pixel (the same minus 0.5) with the rounding shifted
 * by one half. It also accepts "" for scales when sizes are given (11 wanted an empty tensor). */
static int rule_resize_inputs(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *ctm, *mode, *nm;
  if (upgrade_attr_literal(s, n, "coordinate_transformation_mode", TQT_ATTR_TYPE_STRING, &ctm) !=
          0 ||
      upgrade_attr_literal(s, n, "mode", TQT_ATTR_TYPE_STRING, &mode) != 0 ||
      upgrade_attr_literal(s, n, "nearest_mode", TQT_ATTR_TYPE_STRING, &nm) != 0)
    return -1;
  int changed = 0;
  if (ctm && strcmp(ctm->s.data, "tf_half_pixel_for_nn") == 0) {
    const char *nearest = upgrade_attr_string(nm, "round_prefer_floor");
    const char *shifted = strcmp(nearest, "round_prefer_floor") == 0 ? "ceil"
                          : strcmp(nearest, "floor") == 0            ? "round_prefer_ceil"
                                                                     : NULL;
    if (strcmp(upgrade_attr_string(mode, "nearest"), "nearest") != 0 || !shifted)
      return upgrade_refuse(s, n, "tf_half_pixel_for_nn with mode %s and nearest_mode %s has no "
                                  "equivalent in Resize-13",
                            upgrade_attr_string(mode, "nearest"), nearest);
    if (upgrade_attr_set_string(s, n, "coordinate_transformation_mode", "half_pixel") != 0 ||
        upgrade_attr_set_string(s, n, "nearest_mode", shifted) != 0)
      return -1;
    changed = 1;
  }
  double scales[UPGRADE_RANK_MAX];
  size_t count;
  if (n->n_inputs > 3 && n->inputs[3][0] && n->inputs[2][0] &&
      upgrade_const_doubles(s, n->inputs[2], scales, UPGRADE_RANK_MAX, &count) == 0 &&
      count == 0) {
    if (upgrade_input_set(s, n, 2, "") != 0) return -1;
    changed = 1;
  }
  return changed;
}

/* RoiAlign-16 added coordinate_transformation_mode, default half_pixel; opset 10 behaved as
 * output_half_pixel. */
static int rule_roialign_mode(struct upgrade_scope *s, struct tqt_node *n) {
  if (upgrade_attr(n, "coordinate_transformation_mode")) return 0;
  return upgrade_attr_set_string(s, n, "coordinate_transformation_mode", "output_half_pixel") == 0
             ? 1
             : -1;
}

/* A graph output with only an element type (its shape varies). */
static int upgrade_graph_output(struct upgrade_scope *s, struct tqt_graph *g, const char *name,
                                const struct tqt_type *like) {
  struct tqt_arena *a = s->run->a;
  if (tqt_arena_reserve(a, (void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1,
                        sizeof *g->outputs) != 0)
    return upgrade_nomem(s);
  struct tqt_value_info *vi = &g->outputs[g->n_outputs];
  memset(vi, 0, sizeof *vi);
  vi->name = tqt_arena_strdup(a, name);
  vi->doc = tqt_arena_strdup(a, "");
  if (!vi->name || !vi->doc) return upgrade_nomem(s);
  if (like && like->kind == TQT_TYPE_KIND_TENSOR && like->has_elem_type) {
    if (!(vi->type = tqt_arena_calloc(a, 1, sizeof *vi->type))) return upgrade_nomem(s);
    vi->type->kind = TQT_TYPE_KIND_TENSOR;
    vi->type->has_elem_type = true;
    vi->type->elem_type = like->elem_type;
  }
  g->n_outputs++;
  return 0;
}

/* Scan-9 dropped the batch axis: Scan-8 ran its body over each batch entry (axis 0 of every
 * input and output) and scanned axis 1. The batch loop becomes a Loop over axis 0 whose body
 * takes entry i of every input (Gather) and runs a Scan-9 with the original body; the Loop
 * stacks the Scan's outputs along a new axis 0, as Scan-8 did. Per-entry sequence lengths have
 * no equivalent and are refused. */
static int rule_scan_batch(struct upgrade_scope *s, struct tqt_node *n) {
  struct upgrade_run *r = s->run;
  struct tqt_arena *a = r->a;
  struct tqt_attr *body_attr, *count, *dirs;
  if (upgrade_attr_literal(s, n, "body", TQT_ATTR_TYPE_GRAPH, &body_attr) != 0 ||
      upgrade_attr_literal(s, n, "num_scan_inputs", TQT_ATTR_TYPE_INT, &count) != 0 ||
      upgrade_attr_literal(s, n, "directions", TQT_ATTR_TYPE_INTS, &dirs) != 0)
    return -1;
  if (!body_attr || !count) return upgrade_refuse(s, n, "no body or num_scan_inputs");
  if (n->n_inputs < 2) return upgrade_refuse(s, n, "no inputs to scan");
  if (n->inputs[0][0])
    return upgrade_refuse(s, n, "sequence_lens (a length per batch entry) has no equivalent in "
                                "Scan-9");
  struct tqt_graph *body = body_attr->g;
  const char *base = upgrade_base(n);
  const char *loop_name = upgrade_name(r, base, "batch_loop");
  const char *index = upgrade_name(r, base, "batch_index");
  const char *cond_in = upgrade_name(r, base, "cond_in");
  const char *cond_out = upgrade_name(r, base, "cond_out");
  const char *node_name = upgrade_name(r, base, "Identity");
  struct tqt_graph *loop = loop_name ? tqt_graph_create(a, loop_name, s->g) : NULL;
  if (!loop || !index || !cond_in || !cond_out || !node_name ||
      !tqt_graph_input_add(a, loop, index, TQT_DTYPE_INT64, 0, NULL) ||
      !tqt_graph_input_add(a, loop, cond_in, TQT_DTYPE_BOOL, 0, NULL))
    return upgrade_nomem(s);
  size_t n_items = n->n_inputs - 1;
  const char **items = tqt_arena_calloc(a, n_items, sizeof *items);
  if (!items) return upgrade_nomem(s);
  for (size_t i = 0; i < n_items; i++) { /* entry `index` of every input */
    const char *ins[2] = {n->inputs[1 + i], index};
    const char *gather = upgrade_name(r, base, "Gather");
    if (!gather || !(items[i] = upgrade_name(r, base, "batch_entry")) ||
        !tqt_graph_node_add(a, loop, "Gather", gather, 2, ins, 1, &items[i]))
      return upgrade_nomem(s);
  }
  if (!tqt_graph_node_add(a, loop, "Identity", node_name, 1, &cond_in, 1, &cond_out) ||
      !tqt_graph_output_add(a, loop, cond_out, TQT_DTYPE_BOOL, 0, NULL) ||
      !(node_name = upgrade_name(r, base, "Scan")))
    return upgrade_nomem(s);
  const char **outs = tqt_arena_calloc(a, n->n_outputs ? n->n_outputs : 1, sizeof *outs);
  if (!outs) return upgrade_nomem(s);
  for (size_t i = 0; i < n->n_outputs; i++) {
    const struct tqt_type *like = i < body->n_outputs ? body->outputs[i].type : NULL;
    if (!(outs[i] = upgrade_name(r, base, "batch_result")) ||
        upgrade_graph_output(s, loop, outs[i], like) != 0)
      return upgrade_nomem(s);
  }
  struct tqt_node *scan =
      tqt_graph_node_add(a, loop, "Scan", node_name, n_items, items, n->n_outputs, outs);
  struct tqt_attr *at = scan ? tqt_node_attr_add(a, scan, "body", TQT_ATTR_TYPE_GRAPH) : NULL;
  if (!at) return upgrade_nomem(s);
  at->g = body; /* before adding more: tqt_node_attr_add moves the attribute array */
  body->parent = loop;
  if (tqt_node_attr_add_int(a, scan, "num_scan_inputs", count->i) != 0 ||
      (dirs && tqt_node_attr_add_ints(a, scan, "scan_input_directions", dirs->n, dirs->ints) != 0))
    return upgrade_nomem(s);
  /* The trip count: the batch size, dim 0 of the first input. */
  const char *first = n->inputs[1];
  int64_t zero = 0;
  const char *shape = upgrade_emit(s, n, "Shape", 1, &first, NULL, "batch_shape", false, NULL);
  const char *at0 = shape ? upgrade_constant(s, n, "batch_axis", TQT_DTYPE_INT64, 0, NULL, &zero)
                          : NULL;
  const char *ins[2] = {shape, at0};
  const char *trips = at0 ? upgrade_emit(s, n, "Gather", 2, ins, NULL, "batch_size", false, NULL)
                          : NULL;
  if (!trips) return -1;
  if (!(n->op_type = tqt_arena_strdup(a, "Loop"))) return upgrade_nomem(s);
  n->n_inputs = 0;
  n->n_attrs = 0;
  if (upgrade_input_set(s, n, 0, trips) != 0 || upgrade_input_set(s, n, 1, "") != 0)
    return -1;
  if (!(at = tqt_node_attr_add(a, n, "body", TQT_ATTR_TYPE_GRAPH))) return upgrade_nomem(s);
  at->g = loop;
  return 1;
}

/* Scatter, deprecated in opset 11, is ScatterElements under another name. */
static int rule_scatter_elements(struct upgrade_scope *s, struct tqt_node *n) {
  return (n->op_type = tqt_arena_strdup(s->run->a, "ScatterElements")) ? 1 : upgrade_nomem(s);
}

/* Selu-6 changed the defaults of alpha and gamma (1.6732 and 1.0507 before): a node that
 * relied on them gets the old values written out. */
static int rule_selu_defaults(struct upgrade_scope *s, struct tqt_node *n) {
  int changed = 0;
  if (!upgrade_attr(n, "alpha")) {
    if (tqt_node_attr_add_float(s->run->a, n, "alpha", 1.6732f) != 0) return upgrade_nomem(s);
    changed = 1;
  }
  if (!upgrade_attr(n, "gamma")) {
    if (tqt_node_attr_add_float(s->run->a, n, "gamma", 1.0507f) != 0) return upgrade_nomem(s);
    changed = 1;
  }
  return changed;
}

/* Slice-10: starts, ends and axes are int64 inputs instead of attributes. */
static int rule_slice_inputs(struct upgrade_scope *s, struct tqt_node *n) {
  static const char *const names[3] = {"starts", "ends", "axes"};
  struct tqt_attr *at[3];
  for (int i = 0; i < 3; i++) at[i] = upgrade_attr(n, names[i]);
  if (!at[0] && !at[1] && n->n_inputs >= 3) return 0;
  if (!at[0] || !at[1]) return upgrade_refuse(s, n, "no 'starts' or 'ends'");
  for (int i = 0; i < 3; i++) {
    if (!at[i]) continue;
    if (at[i]->type != TQT_ATTR_TYPE_INTS)
      return upgrade_refuse(s, n, "'%s' is not ints", names[i]);
    const char *in = upgrade_attr_to_input(s, n, at[i], names[i]);
    if (!in || upgrade_input_set(s, n, 1 + (size_t)i, in) != 0) return -1;
  }
  for (int i = 0; i < 3; i++) upgrade_attr_drop(n, names[i]);
  return 1;
}

/* Split-2 dropped the second input (lengths as a tensor) of Split-1, which also left the axis
 * without a default. */
static int rule_split_v1(struct upgrade_scope *s, struct tqt_node *n) {
  if (n->n_inputs > 1 && n->inputs[1][0])
    return upgrade_refuse(s, n, "the split lengths come as an input");
  if (!upgrade_attr(n, "axis")) return upgrade_refuse(s, n, "Split-1 defines no default axis");
  return 0;
}

/* Squeeze, Unsqueeze, ReduceSum-13, the other Reduce ops at 18: axes is an optional int64 input
 * (required for Unsqueeze) instead of an attribute; absent axes keep their meaning. */
static int rule_axes_input(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *axes = upgrade_attr(n, "axes");
  if (!axes) {
    if (strcmp(n->op_type, "Unsqueeze") == 0 && n->n_inputs < 2)
      return upgrade_refuse(s, n, "no 'axes'");
    return 0;
  }
  if (axes->type != TQT_ATTR_TYPE_INTS) return upgrade_refuse(s, n, "'axes' is not ints");
  if (axes->n || strncmp(n->op_type, "Reduce", 6) != 0 || axes->ref_attr_name) {
    /* a Reduce op with an empty list reduces everything, as without the input */
    const char *in = upgrade_attr_to_input(s, n, axes, "axes");
    if (!in || upgrade_input_set(s, n, 1, in) != 0) return -1;
  }
  upgrade_attr_drop(n, "axes");
  return 1;
}

/* Split-13: the lengths are an optional int64 input instead of the attribute split. */
static int rule_split_input(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *split = upgrade_attr(n, "split");
  if (!split) return 0;
  if (split->type != TQT_ATTR_TYPE_INTS) return upgrade_refuse(s, n, "'split' is not ints");
  const char *in = upgrade_attr_to_input(s, n, split, "split");
  if (!in || upgrade_input_set(s, n, 1, in) != 0) return -1;
  upgrade_attr_drop(n, "split");
  return 1;
}

/* Split-18: without the lengths, the number of parts is the attribute num_outputs, which ONNX's
 * checker (and so ONNX Runtime) requires; Split-13 took it from the node's outputs. */
static int rule_split_num_outputs(struct upgrade_scope *s, struct tqt_node *n) {
  if ((n->n_inputs > 1 && n->inputs[1][0]) || upgrade_attr(n, "num_outputs")) return 0;
  return upgrade_attr_set_int(s, n, "num_outputs", (int64_t)n->n_outputs) == 0 ? 1 : -1;
}

/* DFT-20: the axis is an optional int64 scalar input (input 2) whose default is -2, instead of
 * the attribute whose default was 1. */
static int rule_dft_axis(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *axis;
  if (upgrade_attr_literal(s, n, "axis", TQT_ATTR_TYPE_INT, &axis) != 0) return -1;
  double value = axis ? (double)axis->i : 1;
  const char *in = upgrade_constant_scalar(s, n, "axis", TQT_DTYPE_INT64, value);
  if (!in || upgrade_input_set(s, n, 2, in) != 0) return -1;
  upgrade_attr_drop(n, "axis");
  return 1;
}

/* GridSample-20 renamed the modes bilinear and bicubic to linear and cubic (the defaults mean
 * the same). */
static int rule_gridsample_mode(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *mode;
  if (upgrade_attr_literal(s, n, "mode", TQT_ATTR_TYPE_STRING, &mode) != 0) return -1;
  const char *m = upgrade_attr_string(mode, "bilinear");
  const char *to = !strcmp(m, "bilinear") ? "linear" : !strcmp(m, "bicubic") ? "cubic" : NULL;
  if (!mode || !to) return 0;
  return upgrade_attr_set_string(s, n, "mode", to) == 0 ? 1 : -1;
}

/* GroupNormalization-21 takes scale and bias per channel, 18 per group. */
static int rule_groupnorm_channels(struct upgrade_scope *s, struct tqt_node *n) {
  return upgrade_refuse(s, n, "scale and bias are per group in opset 18 and per channel from 21; "
                              "not converted");
}

/* Tile-6: one int64 repeats per dim instead of (tiles, axis) inputs. */
static int rule_tile_repeats(struct upgrade_scope *s, struct tqt_node *n) {
  if (n->n_inputs != 3) return n->n_inputs == 2 ? 0 : upgrade_refuse(s, n, "expected 3 inputs");
  int64_t tiles[2], axis[2], repeats[UPGRADE_RANK_MAX];
  size_t nt, na;
  int rank = upgrade_type(s, n->inputs[0])->rank;
  if (upgrade_const_ints(s, n->inputs[1], tiles, 1, &nt) != 0 ||
      upgrade_const_ints(s, n->inputs[2], axis, 1, &na) != 0 || nt != 1 || na != 1 || rank < 0)
    return upgrade_refuse(s, n, "tiles and axis must be constants and the input's rank known");
  if (axis[0] < 0) axis[0] += rank;
  if (axis[0] < 0 || axis[0] >= rank) return upgrade_refuse(s, n, "axis out of range");
  for (int i = 0; i < rank; i++) repeats[i] = i == axis[0] ? tiles[0] : 1;
  const char *in = upgrade_constant_ints(s, n, "repeats", (size_t)rank, repeats);
  if (!in || upgrade_input_set(s, n, 1, in) != 0) return -1;
  n->n_inputs = 2;
  return 1;
}

/* TopK-10: k is an int64 [1] input instead of an attribute. */
static int rule_topk_k(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *k;
  if (upgrade_attr_literal(s, n, "k", TQT_ATTR_TYPE_INT, &k) != 0) return -1;
  if (!k) return n->n_inputs >= 2 ? 0 : upgrade_refuse(s, n, "no 'k'");
  const char *in = upgrade_constant_ints(s, n, "k", 1, &k->i);
  if (!in || upgrade_input_set(s, n, 1, in) != 0) return -1;
  upgrade_attr_drop(n, "k");
  return 1;
}

/* Upsample, deprecated in opset 10, becomes Resize-13 with the same arithmetic: output dim =
 * floor(input dim * scale), x_original = x_resized / scale ("asymmetric"), nearest truncating
 * (scales >= 1). Opset 1 gave height_scale / width_scale of an NCHW input and called linear
 * "bilinear"; opset 7 gave scales as an attribute, opset 9 as an input. */
static int rule_upsample_resize(struct upgrade_scope *s, struct tqt_node *n) {
  struct tqt_attr *mode, *scales, *hs, *ws;
  if (upgrade_attr_literal(s, n, "mode", TQT_ATTR_TYPE_STRING, &mode) != 0 ||
      upgrade_attr_literal(s, n, "scales", TQT_ATTR_TYPE_FLOATS, &scales) != 0 ||
      upgrade_attr_literal(s, n, "height_scale", TQT_ATTR_TYPE_FLOAT, &hs) != 0 ||
      upgrade_attr_literal(s, n, "width_scale", TQT_ATTR_TYPE_FLOAT, &ws) != 0)
    return -1;
  const char *m = upgrade_attr_string(mode, "nearest");
  if (strcmp(m, "bilinear") == 0) m = "linear";
  if (strcmp(m, "nearest") != 0 && strcmp(m, "linear") != 0)
    return upgrade_refuse(s, n, "unknown mode '%s'", m);
  const char *in;
  if (n->n_inputs >= 2 && n->inputs[1][0]) {
    in = n->inputs[1];
  } else if (scales) {
    int64_t dims[1] = {(int64_t)scales->n};
    in = upgrade_constant(s, n, "scales", TQT_DTYPE_FLOAT, 1, dims, scales->floats);
  } else if (hs && ws) {
    int rank = upgrade_type(s, n->inputs[0])->rank;
    if (rank >= 0 && rank != 4) return upgrade_refuse(s, n, "Upsample-1 takes a 4-D input");
    float v[4] = {1, 1, hs->f, ws->f};
    int64_t dims[1] = {4};
    in = upgrade_constant(s, n, "scales", TQT_DTYPE_FLOAT, 1, dims, v);
  } else {
    return upgrade_refuse(s, n, "no scales");
  }
  if (!in) return -1;
  m = tqt_arena_strdup(s->run->a, m); /* the attribute goes away below */
  if (!m) return upgrade_nomem(s);
  static const char *const old[] = {"mode", "scales", "height_scale", "width_scale"};
  for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) upgrade_attr_drop(n, old[i]);
  if (!(n->op_type = tqt_arena_strdup(s->run->a, "Resize"))) return upgrade_nomem(s);
  return upgrade_resize_attrs(s, n, m, in, true);
}

struct upgrade_rule {
  const char *op;
  int version; /* applies when the node's opset < version <= the target */
  upgrade_rule_fn fn;
};

/* Sorted by op, then version: a node goes through its op's rules in order. */
static const struct upgrade_rule upgrade_rules[] = {
    {"Add", 7, rule_broadcast},
    {"And", 7, rule_broadcast},
    {"BatchNormalization", 7, rule_batchnorm_is_test},
    {"BatchNormalization", 9, rule_batchnorm_spatial},
    {"BatchNormalization", 14, rule_batchnorm_outputs},
    {"Cast", 6, rule_cast_to},
    {"Clip", 11, rule_clip_inputs},
    {"Concat", 4, rule_concat_axis},
    {"ConvTranspose", 11, rule_convtranspose_pads},
    {"DFT", 20, rule_dft_axis},
    {"Div", 7, rule_broadcast},
    {"Dropout", 7, rule_dropout_is_test},
    {"Dropout", 10, rule_dropout_mask},
    {"Dropout", 12, rule_dropout_ratio},
    {"Equal", 7, rule_broadcast},
    {"GRU", 7, rule_rnn_output_sequence},
    {"Gemm", 7, rule_gemm_broadcast},
    {"GlobalLpPool", 2, rule_lp_p},
    {"Greater", 7, rule_broadcast},
    {"GridSample", 20, rule_gridsample_mode},
    {"GroupNormalization", 21, rule_groupnorm_channels},
    {"Hardmax", 13, rule_softmax_axis},
    {"LSTM", 7, rule_rnn_output_sequence},
    {"Less", 7, rule_broadcast},
    {"LogSoftmax", 13, rule_softmax_axis},
    {"LpPool", 2, rule_lp_p},
    {"Mul", 7, rule_broadcast},
    {"Or", 7, rule_broadcast},
    {"PRelu", 7, rule_prelu_slope},
    {"Pad", 2, rule_pad_pads},
    {"Pad", 11, rule_pad_inputs},
    {"Pow", 7, rule_broadcast},
    {"RNN", 7, rule_rnn_output_sequence},
    {"ReduceL1", 18, rule_axes_input},
    {"ReduceL2", 18, rule_axes_input},
    {"ReduceLogSum", 18, rule_axes_input},
    {"ReduceLogSumExp", 18, rule_axes_input},
    {"ReduceMax", 18, rule_axes_input},
    {"ReduceMean", 18, rule_axes_input},
    {"ReduceMin", 18, rule_axes_input},
    {"ReduceProd", 18, rule_axes_input},
    {"ReduceSum", 13, rule_axes_input},
    {"ReduceSumSquare", 18, rule_axes_input},
    {"Reshape", 5, rule_reshape_shape},
    {"Resize", 11, rule_resize_coordinates},
    {"Resize", 13, rule_resize_inputs},
    {"RoiAlign", 16, rule_roialign_mode},
    {"Scan", 9, rule_scan_batch},
    {"Scatter", 11, rule_scatter_elements},
    {"Selu", 6, rule_selu_defaults},
    {"Slice", 10, rule_slice_inputs},
    {"Softmax", 13, rule_softmax_axis},
    {"Split", 2, rule_split_v1},
    {"Split", 13, rule_split_input},
    {"Split", 18, rule_split_num_outputs},
    {"Squeeze", 13, rule_axes_input},
    {"Sub", 7, rule_broadcast},
    {"Tile", 6, rule_tile_repeats},
    {"TopK", 10, rule_topk_k},
    {"Unsqueeze", 13, rule_axes_input},
    {"Upsample", 10, rule_upsample_resize},
    {"Xor", 7, rule_broadcast},
};

/* ---- driver ---- */

static bool upgrade_domain_is_default(const char *domain) {
  return !domain || !domain[0] || strcmp(domain, "ai.onnx") == 0;
}

/* Converts one default-domain node. Returns 1 when it changed, 0 when not, -1 on error. */
static int upgrade_node(struct upgrade_scope *s, struct tqt_node *n) {
  const char *op_type = n->op_type; /* rules may rename the op: its own rules still apply */
  const struct upgrade_op *op = upgrade_op_find(op_type);
  if (!op)
    return upgrade_refuse(s, n, "%s is not an operator of the default domain in opsets 1 to %d",
                          op_type, UPGRADE_TARGET_MAX);
  if (op->versions[0] > s->from)
    return upgrade_refuse(s, n, "%s does not exist in opset %lld (it came in opset %d)",
                          op_type, (long long)s->from, op->versions[0]);
  /* A deprecated op is gone from the opset that deprecated it on: a node of that opset or a
   * later one still needs the rule that replaces it. */
  int64_t from = op->deprecated && s->from >= op->deprecated ? op->deprecated - 1 : s->from;
  int changed = upgrade_attr_drop(n, "consumed_inputs"); /* dropped in opsets 5 and 6 */
  for (size_t i = 0; i < sizeof upgrade_rules / sizeof upgrade_rules[0]; i++) {
    const struct upgrade_rule *rule = &upgrade_rules[i];
    if (strcmp(rule->op, op_type) != 0 || rule->version <= from || rule->version > s->run->to)
      continue;
    int rc = rule->fn(s, n);
    if (rc < 0) return -1;
    changed |= rc;
  }
  return changed ? 1 : 0;
}

static int upgrade_scope_run(struct upgrade_scope *s);

static int upgrade_subgraph(struct upgrade_scope *s, struct tqt_graph *g) {
  struct upgrade_scope child = {
      .run = s->run, .parent = s, .g = g, .nodes = &g->nodes, .n_nodes = &g->n_nodes,
      .cap_nodes = &g->cap_nodes, .from = s->from};
  int rc = upgrade_facts_from_graph(&child, g) == 0 ? upgrade_scope_run(&child) : -1;
  tqt_name_map_free(&child.facts);
  tqt_name_map_free(&child.producers);
  return rc;
}

/* Converts every node of the scope (their subgraphs first). Returns the number changed. */
static int upgrade_scope_run(struct upgrade_scope *s) {
  for (size_t i = 0; i < *s->n_nodes; i++) {
    struct tqt_node *n = (*s->nodes)[i];
    for (size_t k = 0; k < n->n_outputs; k++)
      if (n->outputs[k][0] && tqt_name_map_put(&s->producers, n->outputs[k], n) != 0)
        return upgrade_nomem(s);
  }
  int changed = 0;
  for (size_t i = 0; i < *s->n_nodes; i++) {
    struct tqt_node *n = (*s->nodes)[i];
    for (size_t k = 0; k < n->n_attrs; k++) {
      const struct tqt_attr *at = &n->attrs[k];
      if (at->type == TQT_ATTR_TYPE_GRAPH && at->g) {
        int rc = upgrade_subgraph(s, at->g);
        if (rc < 0) return -1;
        changed += rc;
      }
      for (size_t j = 0; at->type == TQT_ATTR_TYPE_GRAPHS && j < at->n; j++) {
        int rc = upgrade_subgraph(s, at->graphs[j]);
        if (rc < 0) return -1;
        changed += rc;
      }
    }
    if (!upgrade_domain_is_default(n->domain)) continue;
    s->at = i;
    s->after = 0;
    int rc = upgrade_node(s, n);
    if (rc < 0) return -1;
    changed += rc;
    i = s->at + s->after;
  }
  return changed;
}

/* Records every name of graph g (and its subgraphs) in r->names, and what is read in r->used. */
static int upgrade_collect_graph(struct tqt_graph *g, int depth, void *ctx) {
  struct upgrade_run *r = ctx;
  (void)depth;
  const struct tqt_value_info *lists[3] = {g->inputs, g->outputs, g->value_info};
  size_t counts[3] = {g->n_inputs, g->n_outputs, g->n_value_info};
  for (int l = 0; l < 3; l++)
    for (size_t i = 0; i < counts[l]; i++)
      if (tqt_name_map_put(&r->names, lists[l][i].name, NULL) != 0) return -1;
  for (size_t i = 0; i < g->n_outputs; i++)
    if (tqt_name_map_put(&r->used, g->outputs[i].name, NULL) != 0) return -1;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (tqt_name_map_put(&r->names, g->initializers[i]->name, NULL) != 0) return -1;
  for (size_t i = 0; i < g->n_sparse_initializers; i++) {
    const struct tqt_tensor *v = g->sparse_initializers[i]->values;
    if (v && v->name && tqt_name_map_put(&r->names, v->name, NULL) != 0) return -1;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    if (tqt_name_map_put(&r->names, n->name, NULL) != 0) return -1;
    for (size_t k = 0; k < n->n_inputs; k++)
      if (tqt_name_map_put(&r->names, n->inputs[k], NULL) != 0 ||
          tqt_name_map_put(&r->used, n->inputs[k], NULL) != 0)
        return -1;
    for (size_t k = 0; k < n->n_outputs; k++)
      if (tqt_name_map_put(&r->names, n->outputs[k], NULL) != 0) return -1;
  }
  return 0;
}

static int upgrade_collect(struct upgrade_run *r) {
  struct tqt_model *m = r->m;
  if (tqt_graph_walk(m->graph, upgrade_collect_graph, r) != 0) return -1;
  for (size_t f = 0; f < m->n_functions; f++) {
    const struct tqt_function *fn = m->functions[f];
    for (size_t i = 0; i < fn->n_inputs; i++)
      if (tqt_name_map_put(&r->names, fn->inputs[i], NULL) != 0) return -1;
    for (size_t i = 0; i < fn->n_outputs; i++)
      if (tqt_name_map_put(&r->names, fn->outputs[i], NULL) != 0 ||
          tqt_name_map_put(&r->used, fn->outputs[i], NULL) != 0)
        return -1;
    for (size_t i = 0; i < fn->n_nodes; i++) {
      const struct tqt_node *n = fn->nodes[i];
      if (tqt_name_map_put(&r->names, n->name, NULL) != 0) return -1;
      for (size_t k = 0; k < n->n_inputs; k++)
        if (tqt_name_map_put(&r->names, n->inputs[k], NULL) != 0 ||
            tqt_name_map_put(&r->used, n->inputs[k], NULL) != 0)
          return -1;
      for (size_t k = 0; k < n->n_outputs; k++)
        if (tqt_name_map_put(&r->names, n->outputs[k], NULL) != 0) return -1;
      for (size_t k = 0; k < n->n_attrs; k++) {
        const struct tqt_attr *at = &n->attrs[k];
        if (at->type == TQT_ATTR_TYPE_GRAPH && at->g &&
            tqt_graph_walk(at->g, upgrade_collect_graph, r) != 0)
          return -1;
        for (size_t j = 0; at->type == TQT_ATTR_TYPE_GRAPHS && j < at->n; j++)
          if (tqt_graph_walk(at->graphs[j], upgrade_collect_graph, r) != 0) return -1;
      }
    }
  }
  return 0;
}

static struct tqt_opset *upgrade_function_opset(struct tqt_function *fn) {
  for (size_t i = 0; i < fn->n_opsets; i++)
    if (upgrade_domain_is_default(fn->opsets[i].domain)) return &fn->opsets[i];
  return NULL;
}

/* The lowest IR version that allows the opset (ONNX's versioning table). */
static int64_t upgrade_ir_version(int64_t opset) {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 15 ? 8 : 7;
}

int pass_upgrade_opset(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  struct upgrade_run r = {.m = m, .a = m->arena, .d = d,
                          .to = o->opset ? o->opset : UPGRADE_TARGET_DEFAULT};
  int64_t from = tqt_model_opset(m, "");
  bool main_graph = from > 0 && from < r.to;
  size_t n_functions = 0;
  for (size_t f = 0; f < m->n_functions; f++) {
    const struct tqt_opset *fo = upgrade_function_opset(m->functions[f]);
    n_functions += fo && fo->version < r.to;
  }
  if (!main_graph && !n_functions) return 0;
  if (r.to < UPGRADE_TARGET_MIN || r.to > UPGRADE_TARGET_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                         "cannot upgrade the model from opset %lld to %lld: onnx-tqt upgrades to "
                         "opsets %d to %d",
                         (long long)from, (long long)r.to, UPGRADE_TARGET_MIN,
                         UPGRADE_TARGET_MAX),
           -1;
  int changed = 0;
  if (upgrade_collect(&r) != 0) {
    changed = -1;
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  if (main_graph) {
    struct tqt_graph *g = m->graph;
    struct upgrade_scope s = {.run = &r, .g = g, .nodes = &g->nodes, .n_nodes = &g->n_nodes,
                              .cap_nodes = &g->cap_nodes, .from = from};
    changed = upgrade_facts_from_graph(&s, g) == 0 ? upgrade_scope_run(&s) : -1;
    tqt_name_map_free(&s.facts);
    tqt_name_map_free(&s.producers);
    if (changed < 0) goto done;
  }
  for (size_t f = 0; f < m->n_functions; f++) {
    struct tqt_function *fn = m->functions[f];
    struct tqt_opset *fo = upgrade_function_opset(fn);
    if (!fo || fo->version >= r.to) continue;
    struct upgrade_scope s = {.run = &r, .nodes = &fn->nodes, .n_nodes = &fn->n_nodes,
                              .cap_nodes = &fn->cap_nodes, .from = fo->version};
    int rc = upgrade_scope_run(&s);
    tqt_name_map_free(&s.facts);
    tqt_name_map_free(&s.producers);
    if (rc < 0) {
      tqt_diag_prefix(d, "function '%s': ", fn->name);
      changed = -1;
      goto done;
    }
    fo->version = r.to;
    changed += rc;
  }
  if (main_graph && tqt_model_opset_set(m, "", r.to) != 0) {
    changed = -1;
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  int64_t ir = upgrade_ir_version(r.to);
  if (!m->has_ir_version || m->ir_version < ir) {
    m->has_ir_version = true;
    m->ir_version = ir;
  }
  tqt_diag_note(d, "upgrade_opset: opset %lld -> %lld (%zu function%s), %d node%s changed",
                (long long)from, (long long)r.to, n_functions, n_functions == 1 ? "" : "s",
                changed, changed == 1 ? "" : "s");
done:
  tqt_name_map_free(&r.names);
  tqt_name_map_free(&r.used);
  return changed;
}
