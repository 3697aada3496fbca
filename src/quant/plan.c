/* What to quantize: nodes, the tensors they quantize, bits, signedness and scale groups
 * (DESIGN.md, "Quantization semantics"). */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ir_edit.h"
#include "quant.h"

/* Ops quantized by default, and how: which inputs are weights, which output is unsigned. */
struct plan_op {
  const char *op_type;
  bool has_weights;   /* input 1 a weight (Conv, ConvTranspose, Gemm; MatMul when constant) */
  bool passes_scale;  /* output holds input values only: shares input 0's scale */
  bool unsigned_out;  /* output is never negative */
  bool all_inputs;    /* every float input is an activation (Add, Mul, Concat) */
};

static const struct plan_op plan_ops[] = {
    {"Conv", true, false, false, false},       {"ConvTranspose", true, false, false, false},
    {"Gemm", true, false, false, false},       {"MatMul", true, false, false, false},
    {"Add", false, false, false, true},        {"Mul", false, false, false, true},
    {"Concat", false, true, false, true},      {"AveragePool", false, false, false, false},
    {"GlobalAveragePool", false, false, false, false},
    {"MaxPool", false, true, false, false},    {"Relu", false, false, true, false},
    {"Clip", false, false, false, false},      {"LeakyRelu", false, false, false, false},
    {"Sigmoid", false, false, true, false},    {"HardSigmoid", false, false, true, false},
    {"HardSwish", false, false, false, false}, {"Resize", false, false, false, false},
    {"Softmax", false, false, true, false},
    /* Outputs that hold their input's values rearranged: quantized when their input is. */
    {"Reshape", false, true, false, false},    {"Flatten", false, true, false, false},
    {"Transpose", false, true, false, false},  {"Squeeze", false, true, false, false},
    {"Unsqueeze", false, true, false, false},  {"Slice", false, true, false, false},
    {"Identity", false, true, false, false},
};

/* Rearranging ops are quantized only when their input already is. */
static bool plan_op_is_follower(const char *op) {
  static const char *const followers[] = {"Reshape", "Flatten", "Transpose", "Squeeze",
                                          "Unsqueeze", "Slice", "Identity"};
  for (size_t i = 0; i < sizeof followers / sizeof followers[0]; i++)
    if (!strcmp(op, followers[i])) return true;
  return false;
}

static const struct plan_op *plan_op_find(const struct tqt_node *n) {
  if (*n->domain) return NULL;
  for (size_t i = 0; i < sizeof plan_ops / sizeof plan_ops[0]; i++)
    if (!strcmp(plan_ops[i].op_type, n->op_type)) return &plan_ops[i];
  return NULL;
}

struct plan_ctx {
  const struct tqt_model *m;
  const struct tqt_graph *g; /* the graph being planned: p->graphs[gi], node ni */
  size_t gi, ni, cap_graphs;
  struct tqt_name_map deferred; /* Conv/Gemm/MatMul outputs whose Relu/Clip quantizes instead,
                                 * and the outputs of chain ops before a chain's last */
  struct tqt_name_map chained;  /* outputs of those chain ops (plan_chains) */
  const struct tqt_options *o;
  struct tqt_diag *d;
  struct tqt_quant_plan *p;
  regex_t *patterns; /* compiled /regex/ exclusions */
  bool *is_regex;    /* per exclusion: /regex/ (else an exact name) */
  bool *pattern_used;
  bool *weights_only_used; /* per --quantize-weights-only op type: some node has it */
  struct tqt_overrides *overrides; /* per-op-type and per-node bits */
};

/* The initializer called name as g sees it: its own or an enclosing graph's (a body reads outer
 * values by name). NULL when there is none or a graph input of that name can override it. */
static const struct tqt_tensor *plan_initializer(const struct tqt_graph *g, const char *name) {
  for (; g; g = g->parent) {
    for (size_t i = 0; i < g->n_inputs; i++)
      if (!strcmp(g->inputs[i].name, name)) return NULL; /* overridable: not a constant */
    for (size_t i = 0; i < g->n_initializers; i++)
      if (!strcmp(g->initializers[i]->name, name)) return g->initializers[i];
  }
  return NULL;
}

/* The element type of a value as g sees it (its own or an enclosing graph's), or UNDEFINED. */
static int32_t plan_dtype(const struct tqt_graph *g, const char *name) {
  const struct tqt_tensor *t = plan_initializer(g, name);
  if (t) return t->dtype;
  for (; g; g = g->parent) {
    const struct tqt_value_info *lists[3] = {g->inputs, g->value_info, g->outputs};
    size_t counts[3] = {g->n_inputs, g->n_value_info, g->n_outputs};
    for (int l = 0; l < 3; l++)
      for (size_t i = 0; i < counts[l]; i++)
        if (!strcmp(lists[l][i].name, name) && lists[l][i].type &&
            lists[l][i].type->kind == TQT_TYPE_KIND_TENSOR && lists[l][i].type->has_elem_type)
          return lists[l][i].type->elem_type;
  }
  return TQT_DTYPE_UNDEFINED;
}

/* True when name is a formal input of g or of a body around it (Loop's iteration number, cond
 * and carried values, Scan's slices): the interpreter observes none of them, so they stay
 * float. The main graph's inputs are observed. */
static bool plan_body_input(const struct tqt_graph *g, const char *name) {
  for (; g && g->parent; g = g->parent)
    for (size_t i = 0; i < g->n_inputs; i++)
      if (!strcmp(g->inputs[i].name, name)) return true;
  return false;
}

/* tqt_graph_walk visitor: non-zero when the graph reads ctx (a name) as an input or output. */
static int plan_reads_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  const char *name = ctx;
  for (size_t i = 0; i < g->n_outputs; i++)
    if (!strcmp(g->outputs[i].name, name)) return 1;
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_inputs; k++)
      if (!strcmp(g->nodes[i]->inputs[k], name)) return 1;
  return 0;
}

/* tqt_graph_walk visitor: every value the graph reads (node inputs, outputs) into ctx, a name
 * map; non-zero when out of memory. */
static int plan_names_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  for (size_t i = 0; i < g->n_outputs; i++)
    if (tqt_name_map_put(ctx, g->outputs[i].name, NULL)) return -1;
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_inputs; k++)
      if (tqt_name_map_put(ctx, g->nodes[i]->inputs[k], NULL)) return -1;
  return 0;
}

/* tqt_graph_walk of visit over every body of node: how many walks returned non-zero. */
static size_t plan_bodies_walk(const struct tqt_node *node, tqt_graph_visit_fn visit, void *ctx) {
  size_t n = 0;
  for (size_t k = 0; k < node->n_attrs; k++) {
    const struct tqt_attr *at = &node->attrs[k];
    size_t count = at->type == TQT_ATTR_TYPE_GRAPHS ? at->n : at->type == TQT_ATTR_TYPE_GRAPH;
    for (size_t j = 0; j < count; j++) {
      struct tqt_graph *sub = at->type == TQT_ATTR_TYPE_GRAPHS ? at->graphs[j] : at->g;
      n += sub && tqt_graph_walk(sub, visit, ctx);
    }
  }
  return n;
}

/* How many read name in g: graph outputs, node inputs (*only: the last such node), and reads
 * inside the bodies of g's nodes, which count as two so that the Conv→Relu rule never leaves a
 * value a body reads without its Q/DQ. */
static size_t plan_readers(const struct tqt_graph *g, const char *name, const struct tqt_node **only) {
  size_t n = 0;
  for (size_t i = 0; i < g->n_outputs; i++) n += !strcmp(g->outputs[i].name, name);
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *node = g->nodes[i];
    for (size_t k = 0; k < node->n_inputs; k++)
      if (!strcmp(node->inputs[k], name)) {
        n++;
        *only = node;
      }
    n += 2 * plan_bodies_walk(node, plan_reads_visit, (void *)name);
  }
  return n;
}

/* The option that keeps n in float ("--exclude-op-types Conv"), or NULL. */
static const char *plan_excluded(struct plan_ctx *c, const struct tqt_node *n) {
  for (size_t i = 0; i < c->o->n_exclude_op_types; i++)
    if (!strcmp(c->o->exclude_op_types[i], n->op_type))
      return tqt_arena_printf(c->p->arena, "--exclude-op-types %s", n->op_type);
  for (size_t i = 0; i < c->o->n_exclude_nodes; i++) {
    bool hit = c->is_regex[i] ? regexec(&c->patterns[i], n->name, 0, NULL, 0) == 0
                              : !strcmp(c->o->exclude_nodes[i], n->name);
    if (hit) {
      c->pattern_used[i] = true;
      return tqt_arena_printf(c->p->arena, "--exclude-nodes %s", c->o->exclude_nodes[i]);
    }
  }
  return NULL;
}

/* The tensor called name in the plan, added when new. NULL when out of memory. */
static struct tqt_qtensor *plan_tensor(struct plan_ctx *c, const char *name,
                                       enum tqt_qtensor_kind kind, const struct tqt_node *owner) {
  struct tqt_quant_plan *p = c->p;
  void *v;
  if (tqt_name_map_get(&p->index, name, &v)) return &p->tensors[(size_t)(uintptr_t)v - 1];
  if (tqt_arena_reserve(p->arena, (void **)&p->tensors, &p->cap_tensors, p->n_tensors + 1,
                        sizeof *p->tensors))
    return NULL;
  struct tqt_qtensor *t = &p->tensors[p->n_tensors];
  memset(t, 0, sizeof *t);
  t->name = name;
  t->kind = kind;
  t->is_signed = true;
  t->group = p->n_tensors;
  t->axis = -1;
  t->owner = owner;
  t->owner_graph = c->gi;
  t->owner_node = c->ni;
  /* Bits: the settings of the node that quantizes it first (node, op type, global). */
  struct tqt_node_settings s;
  tqt_overrides_resolve(c->overrides, owner, &s);
  int bits = kind == TQT_QTENSOR_KIND_BIAS     ? s.bbits
             : kind == TQT_QTENSOR_KIND_WEIGHT ? s.wbits
                                               : s.abits;
  t->bits = bits ? bits : kind == TQT_QTENSOR_KIND_BIAS ? 32 : 8;
  if (kind == TQT_QTENSOR_KIND_ACTIVATION) {
    if (!(t->hist = tqt_arena_calloc(p->arena, 1, sizeof *t->hist))) return NULL;
    tqt_histogram_init(t->hist);
    p->n_observed++;
  }
  if (tqt_name_map_put(&p->index, name, (void *)(uintptr_t)(++p->n_tensors))) return NULL;
  return t;
}

/* Scale groups: union-find over tensor indexes. */
static size_t plan_group_root(struct tqt_quant_plan *p, size_t i) {
  while (p->tensors[i].group != i) i = p->tensors[i].group = p->tensors[p->tensors[i].group].group;
  return i;
}

size_t tqt_quant_group_root(const struct tqt_quant_plan *p, size_t i) {
  while (p->tensors[i].group != i) i = p->tensors[i].group;
  return i;
}

static void plan_group_union(struct tqt_quant_plan *p, size_t a, size_t b) {
  size_t ra = plan_group_root(p, a), rb = plan_group_root(p, b);
  if (ra != rb) p->tensors[rb].group = ra;
}

/* Joins the groups of tensors a and b, by an Add's alignment (add) or another rule (NULL).
 * Non-zero when out of memory. */
static int plan_group_join(struct tqt_quant_plan *p, size_t a, size_t b, const struct tqt_node *add) {
  if (tqt_arena_reserve(p->arena, (void **)&p->joins, &p->cap_joins, p->n_joins + 1,
                        sizeof *p->joins))
    return -1;
  p->joins[p->n_joins++] = (struct tqt_quant_join){a, b, add, false};
  plan_group_union(p, a, b);
  return 0;
}

size_t tqt_quant_groups_split(struct tqt_quant_plan *p, int max_steps, struct tqt_diag *d) {
  size_t cuts = 0;
  for (size_t j = 0; j < p->n_joins; j++) {
    struct tqt_quant_join *e = &p->joins[j];
    const struct tqt_qtensor *a = &p->tensors[e->a], *b = &p->tensors[e->b];
    if (!e->add || e->cut || a->skip || b->skip || abs(a->exponent - b->exponent) <= max_steps)
      continue;
    e->cut = true;
    cuts++;
    tqt_diag_note(d, "node '%s' (%s): inputs '%s' (exponent %d) and '%s' (%d) keep their own "
                  "scales", e->add->name, e->add->op_type, a->name, a->exponent, b->name,
                  b->exponent);
  }
  if (!cuts) return 0;
  for (size_t i = 0; i < p->n_tensors; i++) p->tensors[i].group = i;
  for (size_t j = 0; j < p->n_joins; j++)
    if (!p->joins[j].cut) plan_group_union(p, p->joins[j].a, p->joins[j].b);
  return cuts;
}

struct plan_op_inputs {
  const char *const *ops;
  size_t n_ops;
  struct tqt_name_map *out;
};

/* tqt_graph_walk visitor of tqt_quant_op_inputs. */
static int plan_op_inputs_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  const struct plan_op_inputs *f = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    for (size_t k = 0; !*n->domain && n->n_inputs && k < f->n_ops; k++)
      if (!strcmp(n->op_type, f->ops[k]) && tqt_name_map_put(f->out, n->inputs[0], NULL)) return -1;
  }
  return 0;
}

int tqt_quant_op_inputs(const struct tqt_model *m, const char *const *ops, size_t n_ops,
                        struct tqt_name_map *out) {
  struct plan_op_inputs f = {ops, n_ops, out};
  return tqt_graph_walk(m->graph, plan_op_inputs_visit, &f);
}

/* Quantizes the float input `name` of n: as a weight when it is a constant, else an activation. */
static struct tqt_qtensor *plan_input(struct plan_ctx *c, const struct tqt_node *n,
                                      const char *name, bool may_be_weight) {
  const struct tqt_graph *g = c->g;
  if (!*name || plan_dtype(g, name) != TQT_DTYPE_FLOAT || plan_body_input(g, name)) return NULL;
  if (tqt_name_map_get(&c->deferred, name, NULL)) return NULL; /* stays in the accumulator */
  const struct tqt_tensor *init = plan_initializer(g, name);
  if (init && !may_be_weight) return NULL;
  return plan_tensor(c, name, init ? TQT_QTENSOR_KIND_WEIGHT : TQT_QTENSOR_KIND_ACTIVATION, n);
}

/* True when Clip's lower bound is a constant ≥ 0. */
static bool plan_clip_nonnegative(const struct tqt_graph *g, const struct tqt_node *n) {
  if (n->n_inputs < 2 || !*n->inputs[1]) return tqt_attr_float(n, "min", -1.0f) >= 0.0f;
  const struct tqt_tensor *t = plan_initializer(g, n->inputs[1]);
  return t && t->dtype == TQT_DTYPE_FLOAT && t->data && tqt_tensor_numel(t) == 1 &&
         *(const float *)t->data >= 0.0f;
}

/* LSTM, GRU, RNN: W and R (inputs 1, 2) are [num_directions, gates·hidden, ·]. */
static bool plan_is_recurrent(const struct tqt_node *n) {
  return !*n->domain &&
         (!strcmp(n->op_type, "LSTM") || !strcmp(n->op_type, "GRU") || !strcmp(n->op_type, "RNN"));
}

/* The axis of the output channels of n's weight input k, or -1 when it has none per-channel
 * scales can use. */
static int plan_weight_axis(const struct tqt_graph *g, const struct tqt_node *n, size_t k) {
  const struct tqt_tensor *w = plan_initializer(g, n->inputs[k]);
  if (!w || w->rank < 2) return -1;
  if (plan_is_recurrent(n)) return 1; /* a row per gate unit */
  if (k != 1) return -1;
  if (!strcmp(n->op_type, "Conv")) return 0;
  if (!strcmp(n->op_type, "ConvTranspose")) return tqt_attr_int(n, "group", 1) == 1 ? 1 : -1;
  if (!strcmp(n->op_type, "Gemm")) return tqt_attr_int(n, "transB", 0) ? 0 : 1;
  if (!strcmp(n->op_type, "MatMul")) return w->rank == 2 ? 1 : -1; /* B is [K, N] */
  return -1; /* another op's layout is unknown: per tensor */
}

#define QUANT_NOMEM(c) tqt_diag_fail((c)->d, TQT_STATUS_NOMEM, "out of memory")

bool tqt_quant_is_compute(const struct tqt_node *n) {
  static const char *const compute[] = {"Conv", "ConvTranspose", "Gemm", "MatMul"};
  for (size_t i = 0; i < sizeof compute / sizeof *compute; i++)
    if (!*n->domain && !strcmp(n->op_type, compute[i])) return true;
  return false;
}

/* Why n stays float when the plan does not take it; NULL when it is quantized. */
static const char *plan_float_reason(struct plan_ctx *c, const struct tqt_node *n,
                                     const struct plan_op *op) {
  const struct tqt_graph *g = c->g;
  if (!op)
    return *n->domain ? tqt_arena_printf(c->p->arena, "op of domain '%s'", n->domain)
                      : "not an op onnx-tqt quantizes";
  if (n->n_outputs < 1 || !*n->outputs[0]) return "no output";
  int32_t dtype = plan_dtype(g, n->outputs[0]);
  if (dtype == TQT_DTYPE_UNDEFINED)
    return "the type of its output is unknown (an op before it has no type rule)";
  if (dtype != TQT_DTYPE_FLOAT)
    return tqt_arena_printf(c->p->arena, "its output is %s, not float", tqt_dtype_name(dtype));
  if (plan_op_is_follower(n->op_type) && !tqt_quant_plan_find(c->p, n->inputs[0]))
    return "its input is not quantized";
  return NULL;
}

/* True when --quantize-weights-only names n's op type (marked as used). */
static bool plan_weights_only_named(struct plan_ctx *c, const struct tqt_node *n) {
  bool named = false;
  for (size_t i = 0; i < c->o->n_quantize_weights_only; i++)
    if (!*n->domain && !strcmp(c->o->quantize_weights_only[i], n->op_type))
      named = c->weights_only_used[i] = true;
  return named;
}

/* --quantize-weights-only: n stays float, its constant float weights become integers behind
 * DequantizeLinear, planned as a Conv's are. For LSTM/GRU/RNN, W and R only: B would need the
 * scale s_in · s_w, and the input is not quantized. For another op, every input of rank ≥ 2 (a
 * vector is more likely a bias or a parameter than a weight). */
static int plan_weights_only(struct plan_ctx *c, const struct tqt_node *n) {
  bool recurrent = plan_is_recurrent(n);
  size_t end = recurrent && n->n_inputs > 3 ? 3 : n->n_inputs;
  for (size_t k = recurrent ? 1 : 0; k < end; k++) {
    const struct tqt_tensor *w = *n->inputs[k] ? plan_initializer(c->g, n->inputs[k]) : NULL;
    if (!w || w->dtype != TQT_DTYPE_FLOAT || (!recurrent && w->rank < 2)) continue;
    struct tqt_qtensor *t = plan_tensor(c, n->inputs[k], TQT_QTENSOR_KIND_WEIGHT, n);
    if (!t) return QUANT_NOMEM(c), -1;
    if (t->owner == n) t->axis = plan_weight_axis(c->g, n, k);
  }
  return 0;
}

/* True when n is a Conv/Gemm/MatMul whose output only a Relu or Clip (not excluded) reads: the
 * quantization is left to that op, so that runtimes fuse the pair. */
static bool plan_fuses(struct plan_ctx *c, const struct tqt_graph *g, const struct tqt_node *n) {
  const struct plan_op *op = n ? plan_op_find(n) : NULL;
  const struct tqt_node *reader = NULL;
  return op && op->has_weights && n->n_outputs >= 1 &&
         plan_readers(g, n->outputs[0], &reader) == 1 && reader && !*reader->domain &&
         (!strcmp(reader->op_type, "Relu") || !strcmp(reader->op_type, "Clip")) &&
         !plan_excluded(c, reader);
}

/* Ops a chain of one tensor's values runs through (plan_chains): elementwise, and ReduceMean,
 * whose mean a normalization takes of the tensor itself (a decomposed LayerNormalization). */
static bool plan_chain_op(const struct tqt_node *n) {
  static const char *const ops[] = {"Add",  "Sub",  "Mul",        "Div",  "Max", "Min",
                                    "Clip", "Relu", "LeakyRelu",  "Neg",  "Abs", "Sqrt",
                                    "Pow",  "Erf",  "Reciprocal", "Tanh", "ReduceMean"};
  for (size_t i = 0; !*n->domain && n->n_outputs == 1 && i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(n->op_type, ops[i])) return true;
  return false;
}

/* Chain ops that clamp, fold or bend values (an activation function's, a normalization's): a
 * clamp, Erf or Tanh, a mean over the tensor, or a product, quotient or difference of two of the
 * chain's values (x·clip(x + 3), the deviation from the mean over its deviation). A chain of
 * affine ops alone keeps a Q/DQ after each step, and so does a Sqrt among them: on silero-vad v4
 * such a chain (the Sqrt of a power, a Mul by 2^20 and an Add of 1 before a Log) led the search
 * to another path, one window of 96 worse. */
static bool plan_chain_bends(const struct tqt_graph *g, const struct tqt_node *n) {
  static const char *const ops[] = {"Clip", "Relu", "LeakyRelu", "Max",       "Min",
                                    "Abs",  "Erf",  "Tanh",      "ReduceMean"};
  for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
    if (!strcmp(n->op_type, ops[i])) return true;
  size_t values = 0; /* inputs that are not constants: all of the chain (plan_chain_root) */
  for (size_t k = 0; k < n->n_inputs; k++)
    values += *n->inputs[k] && !plan_initializer(g, n->inputs[k]);
  return values >= 2;
}

/* The value a chain op's output is a function of: the one root (roots: chain outputs → their
 * root; any other value is its own) of its inputs that are not constants; NULL when there is
 * none or more than one. A Relu or Clip that fuses with the node before it
 * (plan_fuses) is that node's activation, not a chain op. */
static const char *plan_chain_root(struct plan_ctx *c, const struct tqt_graph *g,
                                   const struct tqt_node *n, const struct tqt_name_map *roots) {
  if (!plan_chain_op(n)) return NULL;
  if ((!strcmp(n->op_type, "Relu") || !strcmp(n->op_type, "Clip")) &&
      plan_fuses(c, g, tqt_graph_producer(g, n->inputs[0])))
    return NULL;
  const char *root = NULL;
  for (size_t k = 0; k < n->n_inputs; k++) {
    const char *name = n->inputs[k];
    if (!*name) continue;
    if (plan_initializer(g, name)) continue; /* a parameter: a float constant, ReduceMean's axes */
    void *r = NULL;
    const char *of = tqt_name_map_get(roots, name, &r) ? r : name;
    if (plan_dtype(g, name) != TQT_DTYPE_FLOAT || (root && strcmp(root, of))) return NULL;
    root = of;
  }
  return root;
}

/* Chains of ops of one tensor and constants that bend somewhere (plan_chain_bends): a decomposed
 * HardSwish (Add 3, Clip 0..6, Mul by the tensor, Div 6) and an affine after it, a GELU, a
 * decomposed LayerNorm. Every op whose output only later ops of the same chain read stays float,
 * that output without Q/DQ (deferred), so the chain rounds once, at its end, instead of at every
 * step. An elementwise chain is a function of one quantized tensor, which integer hardware runs
 * as one lookup table; a normalization stays a float island. */
static int plan_chains(struct plan_ctx *c, size_t gi) {
  const struct tqt_graph *g = c->p->graphs[gi].graph;
  struct tqt_name_map roots, bent, within, outside;
  tqt_name_map_init(&roots);   /* chain op outputs → their root */
  tqt_name_map_init(&bent);    /* roots whose ops include one that bends */
  tqt_name_map_init(&within);  /* chain op outputs a later op of their chain reads */
  tqt_name_map_init(&outside); /* values read by anything else: another op, a body, the graph */
  const char **node_roots = calloc(g->n_nodes + 1, sizeof *node_roots);
  int rc = node_roots ? 0 : -1;
  for (size_t i = 0; !rc && i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    node_roots[i] = plan_chain_root(c, g, n, &roots);
    for (size_t k = 0; k < n->n_inputs && !rc; k++) { /* who reads the chain outputs so far */
      void *r = NULL;
      if (!tqt_name_map_get(&roots, n->inputs[k], &r)) continue;
      bool same = node_roots[i] && !strcmp(node_roots[i], r);
      rc = tqt_name_map_put(same ? &within : &outside, n->inputs[k], NULL);
    }
    if (!rc && node_roots[i] &&
        (tqt_name_map_put(&roots, n->outputs[0], (void *)node_roots[i]) ||
         (plan_chain_bends(g, n) && tqt_name_map_put(&bent, node_roots[i], NULL))))
      rc = -1;
    if (!rc && plan_bodies_walk(n, plan_names_visit, &outside)) rc = -1; /* bodies: Q/DQ */
  }
  for (size_t k = 0; !rc && k < g->n_outputs; k++)
    rc = tqt_name_map_put(&outside, g->outputs[k].name, NULL);
  for (size_t i = 0; !rc && i < g->n_nodes; i++) {
    const char *out = g->nodes[i]->outputs[0];
    if (node_roots[i] && tqt_name_map_get(&bent, node_roots[i], NULL) &&
        tqt_name_map_get(&within, out, NULL) && !tqt_name_map_get(&outside, out, NULL) &&
        (tqt_name_map_put(&c->deferred, out, NULL) || tqt_name_map_put(&c->chained, out, NULL)))
      rc = -1;
  }
  free(node_roots);
  tqt_name_map_free(&roots);
  tqt_name_map_free(&bent);
  tqt_name_map_free(&within);
  tqt_name_map_free(&outside);
  return rc ? (QUANT_NOMEM(c), -1) : 0;
}

/* Plans node ni of graph gi (c->g). */
static int plan_node(struct plan_ctx *c, size_t gi, size_t index) {
  struct tqt_quant_plan *p = c->p;
  struct tqt_quant_graph *qg = &p->graphs[gi];
  const struct tqt_graph *g = c->g = qg->graph;
  c->gi = gi;
  c->ni = index;
  const struct tqt_node *n = g->nodes[index];
  const struct plan_op *op = plan_op_find(n);
  bool compute = tqt_quant_is_compute(n);
  p->n_compute += compute;
  p->n_compute_subgraph += compute && qg->depth > 0;
  if (n->n_outputs == 1 && tqt_name_map_get(&c->chained, n->outputs[0], NULL)) {
    qg->reasons[index] = "a step of a chain of elementwise ops of one quantized tensor: float, "
                         "quantized once at the chain's end";
    return 0;
  }
  bool weights_only = plan_weights_only_named(c, n);
  if (!weights_only && (qg->reasons[index] = plan_float_reason(c, n, op))) return 0;
  const char *why = plan_excluded(c, n);
  if (why) {
    p->n_excluded_nodes++;
    p->n_compute_excluded += compute;
    qg->states[index] = TQT_NODE_QUANT_EXCLUDED;
    qg->reasons[index] = why;
    return 0;
  }
  if (weights_only) {
    qg->reasons[index] = "weights only (--quantize-weights-only)";
    return plan_weights_only(c, n);
  }
  struct tqt_node_settings settings; /* marks the overrides that apply to a quantized node */
  tqt_overrides_resolve(c->overrides, n, &settings);
  /* Indexes, not pointers: adding a tensor may move the array. */
  const size_t none = SIZE_MAX;
  size_t in0 = none, w = none;
  struct tqt_qtensor *t;
  /* The input whose scale the output shares (passes_scale): input 0, or for Concat the first
   * input that shares the output's scale. */
  size_t shared = none;
  bool signed_input = false; /* a quantized input may be negative */
  if (op->all_inputs) {
    /* Add aligns its inputs by default. Concat shares one scale across its output and the inputs
     * that only it reads: an input other nodes read too (a U-Net's skip connection, a DenseNet's
     * feature map) keeps its own, or the Concat's largest input would take bits from those
     * readers; the Concat's output requantizes it (a shift). */
    bool concat = !strcmp(n->op_type, "Concat");
    bool align = concat || (!strcmp(n->op_type, "Add") && !c->o->no_align_add);
    for (size_t k = 0; k < n->n_inputs; k++) {
      if (!(t = plan_input(c, n, n->inputs[k], true))) {
        if (c->d->status) return -1;
        continue;
      }
      size_t ti = (size_t)(t - p->tensors);
      const struct tqt_node *only;
      /* A constant added keeps its own scale: at the sum's it could round to nothing (a
       * LayerNorm's epsilon, 1e-5, at 1/32), and integer hardware shifts it once, offline. */
      bool constant = t->kind == TQT_QTENSOR_KIND_WEIGHT;
      bool joins =
          align && (concat ? c->o->align_concat || plan_readers(g, n->inputs[k], &only) == 1
                           : !constant);
      if (align && !concat && constant && t->owner == n) /* said once, by its first reader */
        tqt_diag_note(c->d, "node '%s' (%s): constant '%s' keeps its own scale", n->name,
                      n->op_type, t->name);
      if (shared != none && joins && plan_group_join(p, shared, ti, concat ? NULL : n)) goto oom;
      if (shared == none && joins) shared = ti;
      if (in0 == none) in0 = ti;
      signed_input |= t->is_signed;
    }
  } else {
    if ((t = plan_input(c, n, n->inputs[0], false))) in0 = (size_t)(t - p->tensors);
    if (op->has_weights && n->n_inputs > 1 && (t = plan_input(c, n, n->inputs[1], true))) {
      w = (size_t)(t - p->tensors);
      if (t->kind == TQT_QTENSOR_KIND_WEIGHT) t->axis = plan_weight_axis(g, n, 1);
    }
  }
  if (c->d->status) return -1;
  /* A bias: Conv/ConvTranspose B, Gemm C of N values, when activations and weights are both
   * quantized; its scale is s_in · s_w, in bbits. */
  bool biased = !strcmp(n->op_type, "Conv") || !strcmp(n->op_type, "ConvTranspose") ||
                !strcmp(n->op_type, "Gemm");
  if (biased && in0 != none && w != none && p->tensors[w].kind == TQT_QTENSOR_KIND_WEIGHT &&
      n->n_inputs > 2 && *n->inputs[2] && plan_initializer(g, n->inputs[2]) &&
      plan_dtype(g, n->inputs[2]) == TQT_DTYPE_FLOAT &&
      tqt_quant_plan_find(p, n->inputs[2]) == NULL) {
    const struct tqt_tensor *bt = plan_initializer(g, n->inputs[2]);
    if (bt->rank <= 2 && (bt->rank < 2 || bt->dims[0] == 1)) {
      struct tqt_qtensor *b = plan_tensor(c, n->inputs[2], TQT_QTENSOR_KIND_BIAS, n);
      if (!b) goto oom;
      b->bias_input = in0;
      b->bias_weight = w;
      b->is_signed = true;
    }
  }
  p->n_quantized_nodes++;
  p->n_compute_quantized += compute;
  qg->states[index] = TQT_NODE_QUANT_QUANTIZED;
  /* The output: left to the Relu or Clip that fuses with n (plan_fuses). */
  if (plan_fuses(c, g, n))
    return tqt_name_map_put(&c->deferred, n->outputs[0], NULL) ? (QUANT_NOMEM(c), -1) : 0;
  struct tqt_qtensor *out = plan_tensor(c, n->outputs[0], TQT_QTENSOR_KIND_ACTIVATION, n);
  if (!out) goto oom;
  out->is_signed = !(op->unsigned_out ||
                     (!strcmp(n->op_type, "Clip") && plan_clip_nonnegative(g, n)));
  if (!op->all_inputs) shared = in0;
  if (op->passes_scale && in0 != none) /* the input values: their signs */
    out->is_signed = op->all_inputs ? signed_input : p->tensors[in0].is_signed;
  if (op->passes_scale && shared != none &&
      plan_group_join(p, shared, (size_t)(out - p->tensors), NULL))
    goto oom;
  return 0;
oom:
  tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "out of memory");
  return -1;
}

struct tqt_qtensor *tqt_quant_plan_find(const struct tqt_quant_plan *p, const char *name) {
  void *v;
  struct tqt_qtensor *t =
      tqt_name_map_get(&p->index, name, &v) ? &p->tensors[(size_t)(uintptr_t)v - 1] : NULL;
  return t && !t->skip ? t : NULL;
}

struct plan_initializer_find {
  const char *name;
  struct tqt_graph *graph;
  size_t index;
};

static int plan_initializer_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct plan_initializer_find *f = ctx;
  for (size_t i = 0; i < g->n_initializers; i++)
    if (!strcmp(g->initializers[i]->name, f->name)) {
      f->graph = g;
      f->index = i;
      return 1;
    }
  return 0;
}

struct tqt_tensor *tqt_quant_initializer(const struct tqt_model *m, const char *name,
                                         struct tqt_graph **graph, size_t *index) {
  struct plan_initializer_find f = {.name = name};
  if (!tqt_graph_walk(m->graph, plan_initializer_visit, &f)) return NULL;
  if (graph) *graph = f.graph;
  if (index) *index = f.index;
  return f.graph->initializers[f.index];
}

void tqt_quant_plan_destroy(struct tqt_quant_plan *p) {
  if (!p) return;
  tqt_name_map_free(&p->index);
  tqt_arena_destroy(p->arena);
}

/* tqt_graph_walk visitor: one entry of p->graphs per graph, node arrays included. */
static int plan_graph_add(struct tqt_graph *g, int depth, void *ctx) {
  struct plan_ctx *c = ctx;
  struct tqt_quant_plan *p = c->p;
  if (tqt_arena_reserve(p->arena, (void **)&p->graphs, &c->cap_graphs, p->n_graphs + 1,
                        sizeof *p->graphs))
    return -1;
  struct tqt_quant_graph *qg = &p->graphs[p->n_graphs++];
  *qg = (struct tqt_quant_graph){.graph = g, .depth = depth, .n_nodes = g->n_nodes};
  qg->states = tqt_arena_calloc(p->arena, g->n_nodes + 1, sizeof *qg->states);
  qg->reasons = tqt_arena_calloc(p->arena, g->n_nodes + 1, sizeof *qg->reasons);
  return qg->states && qg->reasons ? 0 : -1;
}

enum tqt_status tqt_quant_plan_build(const struct tqt_model *m, const struct tqt_options *o,
                                     struct tqt_quant_plan **out, struct tqt_diag *d) {
  *out = NULL;
  struct tqt_arena *a = tqt_arena_create();
  struct tqt_quant_plan *p = a ? tqt_arena_calloc(a, 1, sizeof *p) : NULL;
  struct plan_ctx c = {.m = m, .o = o, .d = d, .p = p};
  tqt_name_map_init(&c.deferred);
  tqt_name_map_init(&c.chained);
  enum tqt_status st = TQT_STATUS_OK;
  if (!p) {
    tqt_arena_destroy(a);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  p->arena = a;
  p->preprocess = o->preprocess;
  p->int8_activations = o->int8_activations;
  tqt_name_map_init(&p->index);
  if ((st = tqt_overrides_create(o, &c.overrides, d)) != TQT_STATUS_OK) goto fail;
  c.patterns = tqt_arena_calloc(a, o->n_exclude_nodes + 1, sizeof *c.patterns);
  c.pattern_used = tqt_arena_calloc(a, o->n_exclude_nodes + 1, sizeof *c.pattern_used);
  c.is_regex = tqt_arena_calloc(a, o->n_exclude_nodes + 1, sizeof *c.is_regex);
  c.weights_only_used =
      tqt_arena_calloc(a, o->n_quantize_weights_only + 1, sizeof *c.weights_only_used);
  if (!c.patterns || !c.pattern_used || !c.is_regex || !c.weights_only_used ||
      tqt_graph_walk(m->graph, plan_graph_add, &c)) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  p->node_states = p->graphs[0].states;
  p->node_reasons = p->graphs[0].reasons;
  p->n_nodes = p->graphs[0].n_nodes;
  for (size_t i = 0; i < o->n_exclude_nodes; i++) {
    const char *e = o->exclude_nodes[i];
    size_t len = strlen(e);
    if (len < 2 || e[0] != '/' || e[len - 1] != '/') continue; /* an exact name */
    char *body = strndup(e + 1, len - 2);
    int rc = body ? regcomp(&c.patterns[i], body, REG_EXTENDED | REG_NOSUB) : REG_ESPACE;
    free(body);
    c.is_regex[i] = rc == 0;
    if (rc != 0) {
      st = tqt_diag_fail(d, TQT_STATUS_USAGE, "--exclude-nodes: '%s' is not a regular expression", e);
      goto fail;
    }
  }
  /* Graph by graph in walk order: what a body reads from outside is decided before the body. */
  for (size_t gi = 0; gi < p->n_graphs; gi++) {
    if (!o->split_chains && plan_chains(&c, gi) != 0) {
      st = d->status;
      goto fail;
    }
    for (size_t i = 0; i < p->graphs[gi].n_nodes; i++)
      if (plan_node(&c, gi, i) != 0) {
        st = d->status;
        goto fail;
      }
  }
  for (size_t i = 0; i < o->n_exclude_nodes; i++)
    if (!c.pattern_used[i])
      tqt_diag_warn(d, "--exclude-nodes: '%s' matches no node", o->exclude_nodes[i]);
  for (size_t i = 0; i < o->n_quantize_weights_only; i++)
    if (!c.weights_only_used[i])
      tqt_diag_warn(d, "--quantize-weights-only: '%s' matches no node", o->quantize_weights_only[i]);
  for (size_t i = 0; i < o->n_overrides; i++)
    if (!tqt_overrides_used(c.overrides, i)) {
      if (o->overrides[i].node)
        tqt_diag_warn(d, "config 'nodes': '%s' matches no quantized node", o->overrides[i].node);
      else
        tqt_diag_note(d, "config 'op_types': no quantized %s node", o->overrides[i].op_type);
    }
  /* Signedness is one per group: signed when any member can be negative. */
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *t = &p->tensors[i], *root = &p->tensors[plan_group_root(p, i)];
    if (t->is_signed) root->is_signed = true;
  }
  for (size_t i = 0; i < p->n_tensors; i++)
    p->tensors[i].is_signed = p->tensors[plan_group_root(p, i)].is_signed;
  if ((st = tqt_quant_plan_check_opset(p, m, d)) != TQT_STATUS_OK) goto fail;
  *out = p;
fail:
  tqt_overrides_destroy(c.overrides);
  tqt_name_map_free(&c.deferred);
  tqt_name_map_free(&c.chained);
  for (size_t i = 0; c.is_regex && i < o->n_exclude_nodes; i++)
    if (c.is_regex[i]) regfree(&c.patterns[i]);
  if (st != TQT_STATUS_OK) tqt_quant_plan_destroy(p);
  return st;
}
