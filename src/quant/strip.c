/* --strip: a quantized model (onnx-tqt's or another tool's QDQ model) back to float. The
 * readers of a DequantizeLinear fed by a QuantizeLinear (through an optional Clip that narrows
 * the range) read the QuantizeLinear's float input instead; a DequantizeLinear of a constant
 * becomes the float constant it computes. The QuantizeLinear nodes and integer initializers
 * nobody reads any more are left for the cleanup pass, which runs after. Every graph is
 * stripped: the main one and the If/Loop/Scan bodies. */
#include <math.h>
#include <string.h>

#include "interp.h"
#include "ir_edit.h"
#include "quant.h"

static bool strip_is(const struct tqt_node *n, const char *op) {
  return !*n->domain && !strcmp(n->op_type, op);
}

/* The initializer called name as g sees it: its own or an enclosing graph's (a body's
 * DequantizeLinear may read scales of the main graph). */
static const struct tqt_tensor *strip_initializer(const struct tqt_graph *g, const char *name) {
  for (; g; g = g->parent)
    for (size_t i = 0; i < g->n_initializers; i++)
      if (!strcmp(g->initializers[i]->name, name)) return g->initializers[i];
  return NULL;
}

/* The nodes reading name, counted; graph outputs count as readers that cannot be rewired. */
static size_t strip_readers(const struct tqt_graph *g, const char *name, bool *is_output) {
  size_t n = 0;
  *is_output = false;
  for (size_t i = 0; i < g->n_outputs; i++) *is_output |= !strcmp(g->outputs[i].name, name);
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_inputs; k++) n += !strcmp(g->nodes[i]->inputs[k], name);
  return n;
}

/* The node before index `before` that writes name, or NULL. */
static const struct tqt_node *strip_producer(const struct tqt_graph *g, size_t before,
                                             const char *name) {
  for (size_t j = 0; j < before; j++)
    for (size_t k = 0; k < g->nodes[j]->n_outputs; k++)
      if (!strcmp(g->nodes[j]->outputs[k], name)) return g->nodes[j];
  return NULL;
}

/* Float values of DequantizeLinear(q, scale, zero_point[, axis]) on constants, as a new
 * initializer of g called out. 0 done, 1 not constant, -1 error. */
static int strip_fold_constant(struct tqt_model *m, struct tqt_graph *g, const struct tqt_node *dq,
                               const char *out, struct tqt_diag *d) {
  const struct tqt_tensor *q = strip_initializer(g, dq->inputs[0]);
  const struct tqt_tensor *s = dq->n_inputs > 1 ? strip_initializer(g, dq->inputs[1]) : NULL;
  const struct tqt_tensor *z = dq->n_inputs > 2 && *dq->inputs[2]
                                   ? strip_initializer(g, dq->inputs[2]) : NULL;
  if (!q || !s || !q->data || !s->data || (dq->n_inputs > 2 && *dq->inputs[2] && !z)) return 1;
  int64_t n = tqt_tensor_numel(q), n_scale = tqt_tensor_numel(s), inner = 1;
  int64_t axis = tqt_attr_int(dq, "axis", 1);
  if (axis < 0) axis += (int64_t)q->rank;
  if (n_scale > 1) {
    if (axis < 0 || (size_t)axis >= q->rank || q->dims[axis] != n_scale) {
      tqt_diag_fail(d, TQT_STATUS_INVALID, "node '%s' (DequantizeLinear): %lld scales for its axis",
                    dq->name, (long long)n_scale);
      return -1;
    }
    for (size_t i = (size_t)axis + 1; i < q->rank; i++) inner *= q->dims[i];
  }
  struct tqt_tensor *f = tqt_graph_initializer_add(m->arena, g, out, TQT_DTYPE_FLOAT,
                                                   q->rank, q->dims, NULL);
  if (!f) {
    tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    return -1;
  }
  struct tqt_rt_tensor qv = {.dtype = q->dtype, .data = q->data};
  struct tqt_rt_tensor sv = {.dtype = s->dtype, .data = s->data};
  struct tqt_rt_tensor zv = {.dtype = z ? z->dtype : TQT_DTYPE_INT32, .data = z ? z->data : NULL};
  float *y = f->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t c = n_scale > 1 ? (i / inner) % n_scale : 0;
    int64_t zero = z ? tqt_rt_get_int(&zv, c) : 0;
    y[i] = (float)(tqt_rt_get_int(&qv, i) - zero) * (float)tqt_rt_get(&sv, c);
  }
  return 0;
}

struct strip_ctx {
  struct tqt_model *m;
  size_t removed;
  struct tqt_diag *d;
};

/* tqt_graph_walk visitor: strips one graph; -1 on an error (d says it). */
static int strip_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct strip_ctx *c = ctx;
  struct tqt_model *m = c->m;
  struct tqt_diag *d = c->d;
  size_t *removed = &c->removed;
  struct tqt_name_map rename;
  tqt_name_map_init(&rename);
  bool *drop = tqt_arena_calloc(m->arena, g->n_nodes + 1, sizeof *drop);
  enum tqt_status st = TQT_STATUS_OK;
  if (!drop) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < g->n_nodes; i++) {
    struct tqt_node *dq = g->nodes[i];
    if (!strip_is(dq, "DequantizeLinear") || dq->n_inputs < 2 || dq->n_outputs != 1) continue;
    bool is_output;
    /* A constant: the float it stands for. */
    if (strip_initializer(g, dq->inputs[0])) {
      int r = strip_fold_constant(m, g, dq, dq->outputs[0], d);
      if (r < 0) {
        st = d->status;
        goto fail;
      }
      if (r == 0) {
        drop[i] = true;
        (*removed)++;
      }
      continue;
    }
    /* Q (→ Clip) → DQ: the DQ's readers read what Q read. */
    const char *src = dq->inputs[0];
    const struct tqt_node *q = strip_producer(g, i, src);
    if (q && strip_is(q, "Clip") && q->n_inputs > 0) q = strip_producer(g, i, q->inputs[0]);
    if (!q || !strip_is(q, "QuantizeLinear") || q->n_inputs < 1) continue;
    const char *float_in = q->inputs[0];
    strip_readers(g, dq->outputs[0], &is_output);
    if (is_output) { /* a graph output keeps its name: an Identity of the float writes it */
      dq->op_type = (char *)"Identity";
      dq->inputs[0] = (char *)float_in;
      dq->n_inputs = 1;
      dq->n_attrs = 0;
    } else {
      if (tqt_name_map_put(&rename, dq->outputs[0], (void *)float_in)) {
        st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
        goto fail;
      }
      drop[i] = true;
    }
    (*removed)++;
  }
  for (size_t i = 0; i < g->n_nodes; i++)
    if (!drop[i] && tqt_nodes_rename(m->arena, &g->nodes[i], 1, &rename)) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
  tqt_graph_nodes_compact(g, drop);
fail:
  tqt_name_map_free(&rename);
  return st == TQT_STATUS_OK ? 0 : -1;
}

enum tqt_status tqt_quant_strip(struct tqt_model *m, size_t *removed, struct tqt_diag *d) {
  struct strip_ctx c = {.m = m, .d = d};
  int rc = tqt_graph_walk(m->graph, strip_graph, &c);
  *removed = c.removed;
  return rc ? d->status : TQT_STATUS_OK;
}
