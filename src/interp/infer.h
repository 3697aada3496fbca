/* Symbolic type and shape inference (DESIGN.md: "Shapes are facts or unknowns").
 *
 * Every value gets what is proven of it, nothing more: its element type (per-op type rules, which
 * never depend on shapes), its rank, and each dim as a constant, a polynomial of the graph
 * inputs' symbolic dims (floor divisions by constants count as atoms), or unknown. Small integer
 * tensors computed from shapes (Shape, Gather, Concat, arithmetic, Equal, ...) carry their
 * elements as dims too, so that a condition on a shape is decided when, and only when, it is
 * proven. Equal expressions are the same pointer, so `a == b` compares dims.
 *
 * An op's inference sits beside its kernel (struct tqt_kernel.infer): it runs after the kernel's
 * init, on the same context (attributes already parsed into k->params), and fills the outputs'
 * syms from the inputs'. An op without one gets outputs of unknown type and shape. */
#ifndef TQT_INTERP_INFER_H
#define TQT_INTERP_INFER_H

#include "kernel.h"

/* A dimension: an interned expression, NULL when unknown. */
typedef const struct tqt_dimexpr *tqt_sdim;
/* The table that owns and interns expressions. */
struct tqt_dimtab;
struct tqt_infer;
struct infer_scope;

/* Elements carried for integer and bool tensors of at most this many elements. */
#define TQT_SYM_VALUE_MAX 64

enum tqt_sym_kind {
  TQT_SYM_KIND_UNKNOWN = 0,
  TQT_SYM_KIND_TENSOR,
  TQT_SYM_KIND_SEQUENCE, /* dtype: the elements' */
  TQT_SYM_KIND_NONE,     /* an empty optional */
};

/* What is known of one value. A zeroed struct knows nothing. */
struct tqt_sym {
  enum tqt_sym_kind kind;
  int32_t dtype; /* TQT_DTYPE_UNDEFINED when unknown */
  bool has_rank;
  size_t rank;
  tqt_sdim dims[TQT_RANK_MAX];
  /* Integer or bool tensors of at most TQT_SYM_VALUE_MAX elements: each element (row-major) as
   * a dim, NULL where unknown; bools are 0 and 1. */
  bool has_value;
  size_t n_value;
  tqt_sdim value[TQT_SYM_VALUE_MAX];
  /* The whole tensor when it is a constant (initializers), any dtype; NULL otherwise. */
  const struct tqt_rt_tensor *constant;
};

/* What an op's infer function sees. */
struct tqt_infer_ctx {
  struct tqt_kernel_ctx *k; /* node, opset, params from init, d */
  struct tqt_dimtab *dims;
  const struct tqt_sym *const *in; /* n_in entries; NULL where the input is omitted */
  size_t n_in;
  struct tqt_sym *out; /* n_out entries, zeroed on entry */
  size_t n_out;
  struct tqt_infer *engine;
  struct infer_scope *scope; /* the graph the node is in (for tqt_infer_subgraph) */
};

/* ---- dims ---- */
tqt_sdim tqt_sdim_const(struct tqt_dimtab *t, int64_t v);
/* A symbol by name: graph inputs' dim_param. */
tqt_sdim tqt_sdim_symbol(struct tqt_dimtab *t, const char *name);
/* A new symbol equal to nothing else: a dim that is unknown but the same wherever it flows
 * (an input dim without name, a data-dependent count). */
tqt_sdim tqt_sdim_fresh(struct tqt_dimtab *t);
/* True (and *v) when d is a constant. */
bool tqt_sdim_value(tqt_sdim d, int64_t *v);
/* Arithmetic; NULL in, NULL out; NULL also when the result is not expressible (degree too high,
 * overflow). */
tqt_sdim tqt_sdim_add(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
tqt_sdim tqt_sdim_sub(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
tqt_sdim tqt_sdim_mul(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
/* floor(a / b), ceil(a / b) for b > 0 a constant (or a and b constants, C semantics for
 * tqt_sdim_div_trunc); NULL when b is not a positive constant. */
tqt_sdim tqt_sdim_div_floor(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
tqt_sdim tqt_sdim_div_ceil(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
/* a / b when b divides a exactly (as polynomials, or constants); NULL otherwise. */
tqt_sdim tqt_sdim_div_exact(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
/* Integer ops on values (Div, Mod, Min, Max of shape tensors): known when both are constants
 * (C semantics, as ONNX's integer Div) or, for min/max, when a == b. */
tqt_sdim tqt_sdim_div_trunc(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
tqt_sdim tqt_sdim_mod(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b, bool fmod);
tqt_sdim tqt_sdim_min(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
tqt_sdim tqt_sdim_max(struct tqt_dimtab *t, tqt_sdim a, tqt_sdim b);
/* 1 when a == b is proven, 0 when a != b is proven (different constants), -1 when unknown. */
int tqt_sdim_equal(tqt_sdim a, tqt_sdim b);
/* Canonical text ("2*H+1", "floor((W+-1)/2)"); "" for NULL. */
const char *tqt_sdim_text(tqt_sdim d);
/* True when d depends on no fresh symbol (it can be written as a dim_param). */
bool tqt_sdim_named(tqt_sdim d);

/* ---- syms ---- */
/* Makes s a tensor of dtype and these dims (rank may be 0); NULL dims are unknown. */
void tqt_sym_tensor(struct tqt_sym *s, int32_t dtype, size_t rank, const tqt_sdim *dims);
/* Makes s a tensor of dtype whose rank is unknown. */
void tqt_sym_tensor_unranked(struct tqt_sym *s, int32_t dtype);
/* s when it is a tensor of known rank; NULL otherwise (and for NULL). */
const struct tqt_sym *tqt_sym_ranked(const struct tqt_sym *s);
/* s's element type; UNDEFINED for NULL. */
int32_t tqt_sym_dtype(const struct tqt_sym *s);
/* The number of elements when every dim is a constant; -1 otherwise. */
int64_t tqt_sym_numel(const struct tqt_sym *s);
/* Element i of an integer/bool s as a dim (from its value or its constant); NULL if unknown. */
tqt_sdim tqt_sym_elem(struct tqt_dimtab *t, const struct tqt_sym *s, size_t i);
/* All elements of s as constants into out (at most max): true when s has at most max elements
 * and all are known constants. */
bool tqt_sym_ints(const struct tqt_sym *s, int64_t *out, size_t max, size_t *n);
/* Gives s (a tensor whose numel is n ≤ TQT_SYM_VALUE_MAX and whose dtype is an integer type or
 * bool) the value vals (NULL entries unknown); no-op for other dtypes or sizes. */
void tqt_sym_value_set(struct tqt_sym *s, const tqt_sdim *vals, size_t n);
/* What is true of both a and b (the join: If branches, loop iterations). */
void tqt_sym_merge(struct tqt_sym *a, const struct tqt_sym *b);

/* ---- for infer functions ---- */
/* Input i, NULL when omitted or past the end. */
const struct tqt_sym *tqt_infer_input(const struct tqt_infer_ctx *c, size_t i);
/* Shared rules. */
/* Output 0 has input 0's type and shape (Relu, Softmax, ...). */
enum tqt_status tqt_infer_unary(struct tqt_infer_ctx *c);
/* Output 0 is input 0, value and all (Identity, inference Dropout's output 0). */
enum tqt_status tqt_infer_identity(struct tqt_infer_ctx *c);
/* Output 0: the broadcast shape of every present input, of dtype (UNDEFINED: input 0's). */
enum tqt_status tqt_infer_broadcast(struct tqt_infer_ctx *c, int32_t dtype);
/* The multidirectional broadcast of a and b's dims; false when either rank is unknown. Dims that
 * are not proven compatible and not proven equal come out unknown. */
bool tqt_infer_broadcast_dims(struct tqt_infer_ctx *c, const struct tqt_sym *a,
                              const struct tqt_sym *b, size_t *rank, tqt_sdim *dims);
/* The number of windows of Conv and the pools along one axis of length in (kernel k taps at
 * dilation d, stride s, pads pb/pe, SAME padding, ceil_mode), as their kernels count them (in
 * conv.c). *out is NULL when that is not an exact expression; false when the window provably
 * does not fit. */
bool tqt_infer_window(struct tqt_dimtab *t, tqt_sdim in, tqt_sdim k, int64_t s, int64_t d,
                      int64_t pb, int64_t pe, bool same, bool ceil_mode, tqt_sdim *out);
/* Infers subgraph `which` of the node (as k->subgraphs) with its inputs bound to ins (NULL
 * entries, or n_ins short: what the subgraph declares) and fills outs with its outputs' syms
 * (n_outs at most). Values the subgraph reads from enclosing graphs are looked up there. */
enum tqt_status tqt_infer_subgraph(struct tqt_infer_ctx *c, size_t which,
                                   const struct tqt_sym *const *ins, size_t n_ins,
                                   struct tqt_sym *outs, size_t n_outs);

/* ---- the engine ---- */
struct tqt_infer;

/* Infers every value of the model, main graph and subgraphs. Fails only when out of memory;
 * what cannot be inferred is unknown (tqt_infer_missing lists ops that have no infer function). */
enum tqt_status tqt_infer_create(struct tqt_model *m, struct tqt_infer **out, struct tqt_diag *d);
void tqt_infer_destroy(struct tqt_infer *inf);
/* What is known of value `name` of graph g (g, or a graph enclosing it); NULL when nothing. */
const struct tqt_sym *tqt_infer_lookup(const struct tqt_infer *inf, const struct tqt_graph *g,
                                       const char *name);
struct tqt_dimtab *tqt_infer_dims(struct tqt_infer *inf);
/* Ops met without an infer function, comma-separated ("" when none). */
const char *tqt_infer_missing(const struct tqt_infer *inf);

#endif
