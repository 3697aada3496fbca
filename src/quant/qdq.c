/* The Q/DQ rewrite. An activation t becomes QuantizeLinear → DequantizeLinear with its
 * power-of-two scale and zero point 0 (signed values: 128 in uint8, qdq_offset): the producer
 * now writes "t_float" and the DequantizeLinear writes t, so every reader (and a graph output
 * called t) sees the quantized values. A weight becomes an int8 initializer behind a
 * DequantizeLinear (per output channel with --per-channel), a bias an int32 one at s_in · s_w.
 * Fewer bits than the container's (int8/uint8 up to 8, int16/uint16 up to 16, opset 21) keep a
 * Clip to the narrower range. Each goes into the graph that holds the value (the main graph or
 * an If/Loop/Scan body); scales and zero points go into the main graph, which every body sees. */
#include <math.h>
#include <string.h>

#include "ir_edit.h"
#include "quant.h"

/* A node that goes first in graph g: a weight or bias DequantizeLinear, a graph input's Q/DQ. */
struct qdq_head {
  struct tqt_graph *g;
  struct tqt_node *n;
};

struct qdq_ctx {
  struct tqt_model *m;
  const struct tqt_quant_plan *p;
  struct tqt_diag *d;
  struct tqt_name_map used;
  struct tqt_name_map compute_io; /* values a Conv, ConvTranspose, Gemm or MatMul reads or writes */
  struct qdq_head *head;
  size_t n_head, cap_head;
};

#define QDQ_NOMEM(c) tqt_diag_fail((c)->d, TQT_STATUS_NOMEM, "out of memory")

/* The zero point of t's container: 128 where signed values of up to 8 bits go into uint8 (the
 * same grid shifted), else 0. That is an activation a Conv, ConvTranspose, Gemm or MatMul reads
 * or writes (compute_io), unless --int8-activations: ONNX Runtime's x86 integer kernels take
 * uint8 activations with int8 weights. Other ops keep int8 and with it their float kernels
 * between DequantizeLinear and QuantizeLinear, which compute what onnx-tqt does: ONNX Runtime's
 * QLinearAdd of an attention mask at scale 2^120 to scores at 2^-3 gave other values. */
static int qdq_offset(const struct qdq_ctx *c, const struct tqt_qtensor *t) {
  bool shifted = t->kind == TQT_QTENSOR_KIND_ACTIVATION && t->is_signed && t->bits <= 8 &&
                 !c->p->int8_activations && tqt_name_map_get(&c->compute_io, t->name, NULL);
  return shifted ? 128 : 0;
}

/* The integer range of a tensor in its container: [n, p] of its bits, signed or not, shifted by
 * its zero point. */
static void qdq_range(const struct qdq_ctx *c, const struct tqt_qtensor *t, double *lo,
                      double *hi) {
  *lo = (t->is_signed ? -ldexp(1.0, t->bits - 1) : 0) + qdq_offset(c, t);
  *hi = (t->is_signed ? ldexp(1.0, t->bits - 1) - 1 : ldexp(1.0, t->bits) - 1) + qdq_offset(c, t);
}

/* The container type: int8/uint8 up to 8 bits, int16/uint16 up to 16, int32 for biases; from
 * opset 21 weights of up to 4 bits int4/uint4 (packed two a byte in OUT). */
static int32_t qdq_container(const struct qdq_ctx *c, const struct tqt_qtensor *t) {
  if (t->kind == TQT_QTENSOR_KIND_BIAS) return TQT_DTYPE_INT32;
  if (t->kind == TQT_QTENSOR_KIND_WEIGHT && t->bits <= 4 && tqt_model_opset(c->m, "") >= 21)
    return t->is_signed ? TQT_DTYPE_INT4 : TQT_DTYPE_UINT4;
  if (t->bits <= 8) return t->is_signed && !qdq_offset(c, t) ? TQT_DTYPE_INT8 : TQT_DTYPE_UINT8;
  return t->is_signed ? TQT_DTYPE_INT16 : TQT_DTYPE_UINT16;
}

static const char *qdq_name(struct qdq_ctx *c, const char *base, const char *suffix) {
  char *stem = tqt_arena_printf(c->m->arena, "%s%s", base, suffix);
  return stem ? tqt_name_fresh(c->m->arena, &c->used, stem) : NULL;
}

static int qdq_head_push(struct qdq_ctx *c, struct tqt_graph *g, struct tqt_node *n) {
  if (!n || tqt_arena_reserve(c->m->arena, (void **)&c->head, &c->cap_head, c->n_head + 1,
                              sizeof *c->head))
    return -1;
  c->head[c->n_head++] = (struct qdq_head){g, n};
  return 0;
}

/* The scale (scalar, or one per channel) and zero point initializers of t: in the main graph,
 * which every body sees. */
static int qdq_params(struct qdq_ctx *c, const struct tqt_qtensor *t, size_t n_channels,
                      const char **scale, const char **zero_point) {
  struct tqt_arena *a = c->m->arena;
  float *s = tqt_arena_calloc(a, n_channels, sizeof *s);
  int64_t dims[1] = {(int64_t)n_channels};
  size_t rank = n_channels > 1 || t->channel_exponents ? 1 : 0;
  if (!s || !(*scale = qdq_name(c, t->name, "_scale")) ||
      !(*zero_point = qdq_name(c, t->name, "_zero_point")))
    return -1;
  for (size_t i = 0; i < n_channels; i++) s[i] = (float)tqt_quant_scale(c->p, t, i);
  struct tqt_tensor *z;
  if (!tqt_graph_initializer_add(a, c->m->graph, *scale, TQT_DTYPE_FLOAT, rank, dims, s) ||
      !(z = tqt_graph_initializer_add(a, c->m->graph, *zero_point, qdq_container(c, t), rank,
                                      dims, NULL)))
    return -1;
  struct tqt_rt_tensor zv = {.dtype = z->dtype, .data = z->data};
  for (size_t i = 0; i < n_channels; i++) tqt_rt_set(&zv, i, qdq_offset(c, t));
  return 0;
}

static struct tqt_node *qdq_node(struct qdq_ctx *c, const char *op, const char *name,
                                 const char *in, const char *scale, const char *zp,
                                 const char *out) {
  const char *ins[3] = {in, scale, zp}, *outs[1] = {out};
  return tqt_node_create(c->m->arena, op, name, 3, ins, 1, outs);
}

/* The Clip that narrows a container to fewer bits: on the integers after QuantizeLinear in
 * int8/uint8; in int16/uint16, where ONNX Runtime has no integer Clip, on the float values before
 * it at the grid's ends (exact: the scale is a power of two), which rounds to the same integers. */
static struct tqt_node *qdq_narrow(struct qdq_ctx *c, const struct tqt_qtensor *t, const char *in,
                                   const char *out) {
  double lo, hi;
  qdq_range(c, t, &lo, &hi);
  int32_t type = qdq_container(c, t);
  if (tqt_dtype_size(type) > 1) {
    double s = tqt_quant_scale(c->p, t, 0), z = qdq_offset(c, t);
    lo = (lo - z) * s, hi = (hi - z) * s;
    type = TQT_DTYPE_FLOAT;
  }
  const char *lo_name = qdq_name(c, t->name, "_qmin"), *hi_name = qdq_name(c, t->name, "_qmax");
  struct tqt_tensor *tl = lo_name ? tqt_graph_initializer_add(c->m->arena, c->m->graph, lo_name,
                                                              type, 0, NULL, NULL) : NULL;
  struct tqt_tensor *th = hi_name ? tqt_graph_initializer_add(c->m->arena, c->m->graph, hi_name,
                                                              type, 0, NULL, NULL) : NULL;
  if (!tl || !th) return NULL;
  struct tqt_rt_tensor vl = {.dtype = type, .data = tl->data}, vh = {.dtype = type, .data = th->data};
  tqt_rt_set(&vl, 0, lo);
  tqt_rt_set(&vh, 0, hi);
  const char *ins[3] = {in, lo_name, hi_name}, *outs[1] = {out};
  return tqt_node_create(c->m->arena, "Clip", qdq_name(c, t->name, "_narrow"), 3, ins, 1, outs);
}

/* (Clip →) Q (→ Clip) → DQ for activation t: reads `from`, the DequantizeLinear writes `to`. The
 * nodes go to out[0 .. *n). */
static int qdq_activation(struct qdq_ctx *c, const struct tqt_qtensor *t, const char *from,
                          const char *to, struct tqt_node **out, size_t *n) {
  const char *scale, *zp;
  const char *q = qdq_name(c, t->name, "_quantized");
  if (!q || qdq_params(c, t, 1, &scale, &zp)) return -1;
  *n = 0;
  /* fewer bits than the container: a Clip, before the QuantizeLinear in 16-bit containers */
  size_t container_bits = 8 * tqt_dtype_size(qdq_container(c, t));
  bool narrow = (size_t)t->bits < container_bits, before = narrow && container_bits > 8;
  const char *narrowed = narrow ? qdq_name(c, t->name, "_narrowed") : NULL;
  if (narrow && !narrowed) return -1;
  if (before) {
    out[(*n)++] = qdq_narrow(c, t, from, narrowed);
    from = narrowed;
  }
  out[(*n)++] = qdq_node(c, "QuantizeLinear", qdq_name(c, t->name, "_QuantizeLinear"), from,
                         scale, zp, q);
  if (narrow && !before) {
    out[(*n)++] = qdq_narrow(c, t, q, narrowed);
    q = narrowed;
  }
  out[(*n)++] = qdq_node(c, "DequantizeLinear", qdq_name(c, t->name, "_DequantizeLinear"), q,
                         scale, zp, to);
  for (size_t i = 0; i < *n; i++)
    if (!out[i]) return -1;
  return 0;
}

/* A constant (weight or bias) replaced by integers behind a DequantizeLinear writing its name,
 * both in the graph that held the constant (the main graph or a body). */
static int qdq_constant(struct qdq_ctx *c, const struct tqt_qtensor *t) {
  struct tqt_graph *g;
  size_t index;
  struct tqt_tensor *w = tqt_quant_initializer(c->m, t->name, &g, &index);
  if (!w || w->dtype != TQT_DTYPE_FLOAT || !w->data) return 0;
  /* Channels: per-channel weights along their axis; biases follow their weight's channels. */
  const struct tqt_qtensor *chan = t->kind == TQT_QTENSOR_KIND_BIAS ? &c->p->tensors[t->bias_weight] : t;
  size_t n_ch = chan->channel_exponents ? chan->n_channels : 1;
  int axis = t->kind == TQT_QTENSOR_KIND_BIAS ? (int)w->rank - 1 : chan->axis;
  int64_t numel = tqt_tensor_numel(w);
  if (n_ch > 1 && (axis < 0 || (size_t)axis >= w->rank || w->dims[axis] != (int64_t)n_ch)) {
    tqt_diag_fail(c->d, TQT_STATUS_INVALID, "tensor '%s': %zu channel scales do not fit its shape",
                  t->name, n_ch);
    return -1;
  }
  int64_t inner = 1;
  for (size_t i = (size_t)(axis >= 0 ? axis : 0) + 1; n_ch > 1 && i < w->rank; i++) inner *= w->dims[i];
  const char *scale, *zp, *qname = qdq_name(c, t->name, "_quantized");
  if (!qname || qdq_params(c, t, n_ch, &scale, &zp)) return QDQ_NOMEM(c), -1;
  struct tqt_tensor *q = tqt_graph_initializer_add(c->m->arena, g, qname, qdq_container(c, t),
                                                   w->rank, w->dims, NULL);
  if (!q) return QDQ_NOMEM(c), -1;
  struct tqt_rt_tensor view = {.dtype = q->dtype, .data = q->data};
  double lo, hi, zero = qdq_offset(c, t);
  qdq_range(c, t, &lo, &hi);
  size_t clipped = 0;
  const float *x = w->data;
  float *scales = tqt_arena_calloc(c->m->arena, n_ch, sizeof *scales);
  if (!scales) return QDQ_NOMEM(c), -1;
  for (size_t ch = 0; ch < n_ch; ch++) scales[ch] = (float)tqt_quant_scale(c->p, t, ch);
  for (int64_t i = 0; i < numel; i++) {
    size_t ch = n_ch > 1 ? (size_t)((i / inner) % (int64_t)n_ch) : 0;
    float f = t->bias_correction ? x[i] - t->bias_correction[i] : x[i];
    double v = nearbyint((double)(f / scales[ch])) + zero; /* float division, half to even: QuantizeLinear's */
    if (v < lo || v > hi) clipped++;
    tqt_rt_set(&view, i, v < lo ? lo : v > hi ? hi : v);
  }
  if (clipped && t->kind == TQT_QTENSOR_KIND_BIAS)
    tqt_diag_warn(c->d, "bias '%s': %zu values exceed %d bits at scale s_in·s_w and are clipped",
                  t->name, clipped, t->bits);
  struct tqt_node *dq = qdq_node(c, "DequantizeLinear", qdq_name(c, t->name, "_DequantizeLinear"),
                                 qname, scale, zp, t->name);
  if (!dq || (n_ch > 1 && tqt_node_attr_add_int(c->m->arena, dq, "axis", axis)) ||
      qdq_head_push(c, g, dq))
    return QDQ_NOMEM(c), -1;
  memmove(&g->initializers[index], &g->initializers[index + 1],
          (g->n_initializers - index - 1) * sizeof *g->initializers);
  g->n_initializers--;
  return 0;
}

static bool qdq_is_graph_input(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_inputs; i++)
    if (!strcmp(g->inputs[i].name, name)) return true;
  return false;
}

/* tqt_graph_walk visitor: g's nodes become its head, then each node followed by the Q/DQ of its
 * quantized outputs. The producer writes NAME_float and the DequantizeLinear NAME, so readers in
 * g and in bodies nested in it see the quantized values by name. -1 when out of memory. */
static int qdq_graph_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct qdq_ctx *c = ctx;
  struct tqt_arena *a = c->m->arena;
  struct tqt_node **nodes = NULL;
  size_t n_nodes = 0, cap_nodes = 0;
  if (tqt_arena_reserve(a, (void **)&nodes, &cap_nodes, c->n_head + g->n_nodes * 4 + 1,
                        sizeof *nodes))
    return -1;
  for (size_t i = 0; i < c->n_head; i++)
    if (c->head[i].g == g) nodes[n_nodes++] = c->head[i].n;
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *n = g->nodes[i];
    nodes[n_nodes++] = n;
    for (size_t k = 0; k < n->n_outputs; k++) {
      const struct tqt_qtensor *t = tqt_quant_plan_find(c->p, n->outputs[k]);
      if (!t || t->kind != TQT_QTENSOR_KIND_ACTIVATION || qdq_is_graph_input(g, t->name)) continue;
      const char *fl = qdq_name(c, t->name, "_float");
      struct tqt_node *made[3];
      size_t n_made;
      if (!fl || qdq_activation(c, t, fl, t->name, made, &n_made)) return -1;
      n->outputs[k] = (char *)fl;
      if (tqt_arena_reserve(a, (void **)&nodes, &cap_nodes, n_nodes + n_made + g->n_nodes,
                            sizeof *nodes))
        return -1;
      memcpy(&nodes[n_nodes], made, n_made * sizeof *made);
      n_nodes += n_made;
    }
  }
  g->nodes = nodes;
  g->n_nodes = n_nodes;
  g->cap_nodes = cap_nodes;
  return 0;
}

/* tqt_graph_walk visitor: the values the compute nodes of g read or write into compute_io. */
static int qdq_compute_io_visit(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct qdq_ctx *c = ctx;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    if (!tqt_quant_is_compute(n)) continue;
    for (size_t k = 0; k < n->n_inputs; k++)
      if (*n->inputs[k] && tqt_name_map_put(&c->compute_io, n->inputs[k], NULL)) return -1;
    for (size_t k = 0; k < n->n_outputs; k++)
      if (*n->outputs[k] && tqt_name_map_put(&c->compute_io, n->outputs[k], NULL)) return -1;
  }
  return 0;
}

enum tqt_status tqt_quant_plan_check_opset(const struct tqt_quant_plan *p,
                                           const struct tqt_model *m, struct tqt_diag *d) {
  int64_t opset = tqt_model_opset(m, "");
  bool wide = false;
  for (size_t i = 0; i < p->n_tensors; i++)
    wide |= p->tensors[i].kind != TQT_QTENSOR_KIND_BIAS && !p->tensors[i].skip &&
            p->tensors[i].bits > 8;
  if (opset >= 13 && (!wide || opset >= 21)) return TQT_STATUS_OK;
  return tqt_diag_fail(
      d, TQT_STATUS_UNSUPPORTED,
      "the model is at opset %lld; Q/DQ with these bits needs opset %d (--opset %d)",
      (long long)opset, wide ? 21 : 13, wide ? 21 : 13);
}

enum tqt_status tqt_quant_insert(struct tqt_model *m, const struct tqt_quant_plan *p,
                                 struct tqt_diag *d) {
  struct qdq_ctx c = {.m = m, .p = p, .d = d};
  struct tqt_graph *g = m->graph;
  struct tqt_name_map inputs_renamed;
  tqt_name_map_init(&c.used);
  tqt_name_map_init(&c.compute_io);
  tqt_name_map_init(&inputs_renamed);
  if (tqt_quant_plan_check_opset(p, m, d) != TQT_STATUS_OK) goto fail;
  if (tqt_names_collect(m, &c.used) || tqt_graph_walk(g, qdq_compute_io_visit, &c)) goto oom;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *t = &p->tensors[i];
    if (t->kind != TQT_QTENSOR_KIND_ACTIVATION && !t->skip && qdq_constant(&c, t)) goto fail;
  }
  /* Graph inputs: Q/DQ first, readers (in bodies too) renamed to the dequantized value. */
  for (size_t i = 0; i < g->n_inputs; i++) {
    const struct tqt_qtensor *t = tqt_quant_plan_find(p, g->inputs[i].name);
    if (!t || t->kind != TQT_QTENSOR_KIND_ACTIVATION) continue;
    struct tqt_node *made[3];
    size_t n_made;
    const char *dq = qdq_name(&c, t->name, "_dequantized");
    if (!dq || qdq_activation(&c, t, t->name, dq, made, &n_made) ||
        tqt_name_map_put(&inputs_renamed, t->name, (void *)dq))
      goto oom;
    for (size_t k = 0; k < n_made; k++)
      if (qdq_head_push(&c, g, made[k])) goto oom;
  }
  /* before any Q/DQ exists, so those keep their inputs */
  if (tqt_nodes_rename(m->arena, g->nodes, g->n_nodes, &inputs_renamed) ||
      tqt_graph_walk(g, qdq_graph_visit, &c))
    goto oom;
  tqt_name_map_free(&c.used);
  tqt_name_map_free(&c.compute_io);
  tqt_name_map_free(&inputs_renamed);
  return TQT_STATUS_OK;
oom:
  QDQ_NOMEM(&c);
fail:
  tqt_name_map_free(&c.used);
  tqt_name_map_free(&c.compute_io);
  tqt_name_map_free(&inputs_renamed);
  return d->status;
}
