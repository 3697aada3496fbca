/* Threshold retraining (train.h): Adam on the log2 t of every scale group of the plan.
 *
 * Per step: the Q/DQ model of the current exponents runs sample by sample in the interpreter,
 * an observer keeping every float value of the sample; the loss against the float model's
 * outputs (computed once per sample, before training) gives the output gradients, and the nodes
 * are walked in reverse: a DequantizeLinear fed by QuantizeLinear (→ Clip) is a fake-quant point
 * (the paper's gradients to its group's log2 t, straight through to its input), a
 * DequantizeLinear of a weight gives its group's gradient from the float weights, other nodes use
 * tqt_train_backward. Gradients of a batch add up before a step; a new exponent rebuilds the Q/DQ
 * model (a fresh copy of the float model, tqt_quant_insert). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "ir_edit.h"
#include "parallel.h"
#include "train.h"

#define TRAIN_NOMEM(d) tqt_diag_fail((d), TQT_STATUS_NOMEM, "out of memory")

struct train_slot {
  const char *name;
  struct tqt_value v;  /* the recorded value (or an initializer, borrowed) */
  bool recorded;       /* set during the current sample */
  bool constant;       /* an initializer: no gradient */
  bool produced;       /* a node's output (graph inputs need no gradient) */
  float *grad;         /* gradient buffer (numel floats), NULL until needed */
  size_t grad_cap;
  bool grad_live;      /* grad holds this sample's values */
};

enum train_node_kind {
  TRAIN_NODE_OP,      /* tqt_train_backward */
  TRAIN_NODE_SKIP,    /* Q, narrowing Clip: part of a fake-quant chain */
  TRAIN_NODE_FQ,      /* DequantizeLinear of an activation: input slot x_slot */
  TRAIN_NODE_WEIGHT,  /* DequantizeLinear of a per-tensor weight */
  TRAIN_NODE_STOP,    /* no gradient through it */
};

struct train_node {
  const struct tqt_node *n;
  enum train_node_kind kind;
  size_t *in, *out; /* slot indexes (SIZE_MAX: omitted) */
  size_t x_slot;    /* FQ: the float value QuantizeLinear reads */
  size_t param;     /* FQ, WEIGHT: the parameter (SIZE_MAX: not trained) */
  const struct tqt_qtensor *t;
  const float *wfloat; /* WEIGHT: the float weights */
};

struct train_param {
  size_t root;   /* the plan tensor at the root of the group */
  double theta;  /* log2 t */
  double m, v;   /* Adam moments */
  double grad;   /* accumulated over the batch */
};

/* One worker of the runs over samples: its copy of the slots (its sample's values and gradients),
 * and what its sample gave: the loss, the parameter gradients, the nodes the gradient stopped at.
 * A commit takes them in sample order (tqt_parallel_run), so nothing depends on the workers. */
struct train_worker {
  struct train *t;
  struct train_slot *slots;
  double loss;
  double *grad;  /* n_params */
  bool *stopped; /* n_nodes */
};

struct train {
  struct tqt_quant_plan *p;
  const struct tqt_model *fm; /* the float model */
  const struct tqt_train_options *o;
  struct tqt_diag *d;
  size_t n_in, n_out;
  float **teacher;     /* per sample and output: the float model's values */
  size_t *sizes;       /* per output */
  struct tqt_model *qm; /* the Q/DQ model of the current exponents */
  struct tqt_sample_worker *sw; /* its interpreters, one per worker */
  /* per worker: the samples, opened once against the float model's inputs (which qm shares) */
  struct tqt_dataset **ds;
  struct train_worker *workers;
  size_t n_workers;
  struct train_slot *slots; /* the layout every worker copies: names, constants */
  size_t n_slots;
  struct tqt_name_map slot_index; /* name → slot + 1 */
  struct train_node *nodes;
  size_t n_nodes;
  struct train_param *params;
  size_t n_params;
  size_t *param_of; /* plan tensor → parameter (SIZE_MAX: none) */
  bool *reported;   /* per node of qm: "no backward" reported */
  struct tqt_name_map reported_names;
  /* The current pass over samples (train_pass): which ones, whether backward runs, the loss. */
  const size_t *which;
  bool backward;
  double pass_loss;
};

static void train_teardown_model(struct train *t) {
  tqt_sample_workers_destroy(t->sw, t->n_workers);
  t->sw = NULL;
  for (size_t k = 0; t->workers && k < t->n_workers; k++) {
    struct train_worker *w = &t->workers[k];
    for (size_t i = 0; w->slots && i < t->n_slots; i++) {
      if (!w->slots[i].constant) tqt_value_release(&w->slots[i].v);
      free(w->slots[i].grad);
    }
    free(w->slots);
    free(w->grad);
    free(w->stopped);
  }
  free(t->workers);
  t->workers = NULL;
  for (size_t i = 0; i < t->n_slots; i++) {
    if (!t->slots[i].constant) tqt_value_release(&t->slots[i].v);
    free(t->slots[i].grad);
  }
  free(t->slots);
  t->slots = NULL;
  t->n_slots = 0;
  tqt_name_map_free(&t->slot_index);
  tqt_name_map_init(&t->slot_index);
  for (size_t i = 0; i < t->n_nodes; i++) {
    free(t->nodes[i].in);
    free(t->nodes[i].out);
  }
  free(t->nodes);
  t->nodes = NULL;
  t->n_nodes = 0;
  tqt_model_destroy(t->qm);
  t->qm = NULL;
}

static size_t train_slot(struct train *t, const char *name) {
  void *v;
  if (!*name) return SIZE_MAX;
  return tqt_name_map_get(&t->slot_index, name, &v) ? (size_t)(uintptr_t)v - 1 : SIZE_MAX;
}

static int train_slot_add(struct train *t, const char *name, size_t *cap) {
  if (!*name || train_slot(t, name) != SIZE_MAX) return 0;
  if (t->n_slots == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    struct train_slot *s = realloc(t->slots, nc * sizeof *s);
    if (!s) return -1;
    t->slots = s;
    *cap = nc;
  }
  memset(&t->slots[t->n_slots], 0, sizeof t->slots[0]);
  t->slots[t->n_slots].name = name;
  t->n_slots++;
  return tqt_name_map_put(&t->slot_index, name, (void *)(uintptr_t)t->n_slots);
}

static const struct tqt_node *train_producer(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
      if (!strcmp(g->nodes[i]->outputs[k], name)) return g->nodes[i];
  return NULL;
}

static const struct tqt_tensor *train_initializer(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_initializers; i++)
    if (!strcmp(g->initializers[i]->name, name)) return g->initializers[i];
  return NULL;
}

/* Interpreter observer (ctx: a train_worker): every float value of the sample, kept. */
static int train_observe(void *ctx, const struct tqt_node *node, const char *name,
                         const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  struct train_worker *w = ctx;
  size_t s = train_slot(w->t, name);
  if (s == SIZE_MAX || v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype != TQT_DTYPE_FLOAT) return 0;
  if (tqt_value_copy(&w->slots[s].v, v, d) != TQT_STATUS_OK) return -1;
  w->slots[s].recorded = true;
  return 0;
}

/* Builds the Q/DQ model of the plan's current exponents, its interpreter and the backward
 * schedule. */
static enum tqt_status train_setup_model(struct train *t) {
  struct tqt_diag *d = t->d;
  enum tqt_status st;
  if (!(t->qm = tqt_model_clone(t->fm))) return TRAIN_NOMEM(d);
  if ((st = tqt_quant_insert(t->qm, t->p, d)) != TQT_STATUS_OK) return st;
  struct tqt_graph *g = t->qm->graph;
  size_t cap = 0;
  for (size_t i = 0; i < g->n_inputs; i++)
    if (train_slot_add(t, g->inputs[i].name, &cap)) return TRAIN_NOMEM(d);
  for (size_t i = 0; i < g->n_initializers; i++) {
    const struct tqt_tensor *init = g->initializers[i];
    if (train_slot_add(t, init->name, &cap)) return TRAIN_NOMEM(d);
    struct train_slot *s = &t->slots[train_slot(t, init->name)];
    if (s->constant || !init->data || init->rank > TQT_RANK_MAX) continue;
    tqt_value_tensor_borrow(&s->v, init->dtype, init->rank, init->dims, init->data, init->nbytes);
    s->constant = s->recorded = true;
  }
  for (size_t i = 0; i < g->n_nodes; i++)
    for (size_t k = 0; k < g->nodes[i]->n_outputs; k++) {
      if (train_slot_add(t, g->nodes[i]->outputs[k], &cap)) return TRAIN_NOMEM(d);
      size_t s = train_slot(t, g->nodes[i]->outputs[k]);
      if (s != SIZE_MAX) t->slots[s].produced = true;
    }
  if (!(t->nodes = calloc(g->n_nodes + 1, sizeof *t->nodes))) return TRAIN_NOMEM(d);
  t->n_nodes = g->n_nodes;
  for (size_t i = 0; i < g->n_nodes; i++) {
    const struct tqt_node *n = g->nodes[i];
    struct train_node *tn = &t->nodes[i];
    tn->n = n;
    tn->param = tn->x_slot = SIZE_MAX;
    tn->in = calloc(n->n_inputs + 1, sizeof *tn->in);
    tn->out = calloc(n->n_outputs + 1, sizeof *tn->out);
    if (!tn->in || !tn->out) return TRAIN_NOMEM(d);
    for (size_t k = 0; k < n->n_inputs; k++) tn->in[k] = train_slot(t, n->inputs[k]);
    for (size_t k = 0; k < n->n_outputs; k++) tn->out[k] = train_slot(t, n->outputs[k]);
    tn->kind = TRAIN_NODE_OP;
    if (*n->domain) {
      tn->kind = TRAIN_NODE_STOP;
      continue;
    }
    if (!strcmp(n->op_type, "QuantizeLinear")) {
      tn->kind = TRAIN_NODE_SKIP;
      continue;
    }
    if (!strcmp(n->op_type, "Clip") && n->n_inputs > 0) {
      const struct tqt_node *prod = train_producer(g, n->inputs[0]);
      if (prod && !strcmp(prod->op_type, "QuantizeLinear")) {
        tn->kind = TRAIN_NODE_SKIP;
        continue;
      }
    }
    if (strcmp(n->op_type, "DequantizeLinear")) {
      if (!tqt_train_has_backward(n->op_type)) tn->kind = TRAIN_NODE_STOP;
      continue;
    }
    /* DequantizeLinear: of a constant (weight or bias), or the end of Q (→ Clip) → DQ. */
    tn->kind = TRAIN_NODE_STOP;
    const struct tqt_node *prod = train_producer(g, n->inputs[0]);
    if (prod && !strcmp(prod->op_type, "Clip")) prod = train_producer(g, prod->inputs[0]);
    const struct tqt_qtensor *qt = tqt_quant_plan_find(t->p, n->outputs[0]);
    if (prod && !strcmp(prod->op_type, "QuantizeLinear")) {
      if (!qt) qt = tqt_quant_plan_find(t->p, prod->inputs[0]); /* a graph input */
      if (!qt || qt->kind != TQT_QTENSOR_KIND_ACTIVATION) continue;
      tn->kind = TRAIN_NODE_FQ;
      tn->x_slot = train_slot(t, prod->inputs[0]);
    } else if (!prod && qt && qt->kind == TQT_QTENSOR_KIND_WEIGHT && !qt->channel_exponents) {
      const struct tqt_tensor *w = train_initializer(t->fm->graph, qt->name);
      if (!w || w->dtype != TQT_DTYPE_FLOAT || !w->data) continue;
      tn->kind = TRAIN_NODE_WEIGHT;
      tn->wfloat = w->data;
    } else {
      continue;
    }
    tn->t = qt;
    tn->param = t->param_of[(size_t)(qt - t->p->tensors)];
  }
  /* the workers: a copy of the slots each (constants shared, borrowed), their interpreters */
  void **worker_ctx = calloc(t->n_workers + 1, sizeof *worker_ctx);
  if (!worker_ctx || !(t->workers = calloc(t->n_workers + 1, sizeof *t->workers))) {
    free(worker_ctx);
    return TRAIN_NOMEM(d);
  }
  for (size_t k = 0; k < t->n_workers; k++) {
    struct train_worker *w = &t->workers[k];
    w->t = t;
    worker_ctx[k] = w;
    w->slots = malloc((t->n_slots + 1) * sizeof *w->slots);
    w->grad = calloc(t->n_params + 1, sizeof *w->grad);
    w->stopped = calloc(t->n_nodes + 1, sizeof *w->stopped);
    if (!w->slots || !w->grad || !w->stopped) {
      free(worker_ctx);
      return TRAIN_NOMEM(d);
    }
    for (size_t i = 0; i < t->n_slots; i++) {
      w->slots[i] = t->slots[i];
      w->slots[i].grad = NULL;
      w->slots[i].grad_cap = 0;
    }
  }
  struct tqt_interp_options io = {.threads = 1, .observer = train_observe};
  size_t n_in;
  st = tqt_sample_workers_create(t->qm, &io, worker_ctx, t->n_workers, NULL, 0, NULL, &t->sw,
                                 &n_in, d);
  free(worker_ctx);
  return st;
}

static float *train_grad(struct train_worker *w, size_t s) {
  struct train_slot *sl = &w->slots[s];
  if (sl->grad_live) return sl->grad;
  if (!sl->recorded || sl->v.kind != TQT_VALUE_KIND_TENSOR || sl->v.t.dtype != TQT_DTYPE_FLOAT)
    return NULL;
  size_t n = (size_t)tqt_rt_numel(&sl->v.t);
  if (n > sl->grad_cap) {
    float *g = realloc(sl->grad, (n ? n : 1) * sizeof *g);
    if (!g) return NULL;
    sl->grad = g;
    sl->grad_cap = n;
  }
  memset(sl->grad, 0, n * sizeof *sl->grad);
  sl->grad_live = true;
  return sl->grad;
}

static void train_report_stop(struct train *t, const struct tqt_node *n) {
  if (tqt_name_map_get(&t->reported_names, n->name, NULL)) return;
  tqt_name_map_put(&t->reported_names, n->name, NULL);
  tqt_diag_warn(t->d, "retrain: node '%s' (%s) has no backward: the gradient stops there", n->name,
                n->op_type);
}

/* The loss of the worker's sample against the teacher's outputs, and the gradients at the
 * outputs. */
static double train_loss(struct train_worker *w, const float *const *teacher, const size_t *sizes,
                         struct tqt_diag *d) {
  struct train *t = w->t;
  const struct tqt_graph *g = t->qm->graph;
  double loss = 0;
  for (size_t i = 0; i < g->n_outputs; i++) {
    size_t s = train_slot(t, g->outputs[i].name);
    if (s == SIZE_MAX || !teacher[i]) continue;
    const struct tqt_rt_tensor *y = &w->slots[s].v.t;
    size_t n = (size_t)tqt_rt_numel(y);
    float *gy = train_grad(w, s);
    if (!gy || n != sizes[i]) {
      tqt_diag_fail(d, TQT_STATUS_INVALID, "retrain: output '%s' changed size", g->outputs[i].name);
      return NAN;
    }
    const float *yq = y->data, *yf = teacher[i];
    if (t->o->loss == TQT_TRAIN_LOSS_MSE) {
      for (size_t k = 0; k < n; k++) {
        double e = (double)yq[k] - yf[k];
        loss += e * e / (double)n;
        gy[k] = (float)(2 * e / (double)n);
      }
      continue;
    }
    /* KL(p || q) over the last axis: p = softmax(teacher), q = softmax(student). */
    size_t len = y->rank ? (size_t)y->dims[y->rank - 1] : 1, rows = len ? n / len : 0;
    for (size_t r = 0; r < rows; r++) {
      const float *a = yf + r * len, *b = yq + r * len;
      double ma = -INFINITY, mb = -INFINITY, za = 0, zb = 0;
      for (size_t k = 0; k < len; k++) {
        ma = fmax(ma, a[k]);
        mb = fmax(mb, b[k]);
      }
      for (size_t k = 0; k < len; k++) {
        za += exp(a[k] - ma);
        zb += exp(b[k] - mb);
      }
      for (size_t k = 0; k < len; k++) {
        double lp = a[k] - ma - log(za), lq = b[k] - mb - log(zb), pk = exp(lp);
        loss += pk * (lp - lq) / (double)rows;
        gy[r * len + k] = (float)((exp(lq) - pk) / (double)rows);
      }
    }
  }
  return loss;
}

/* Backward over the nodes of the worker's sample: parameter gradients into w->grad, the nodes
 * the gradient stopped at into w->stopped. */
static int train_backward(struct train_worker *w, struct tqt_diag *d) {
  struct train *t = w->t;
  struct train_slot *slots = w->slots;
  const struct tqt_rt_tensor *xs[64], *ys[16];
  float *gxs[64];
  const float *gys[16];
  for (size_t i = t->n_nodes; i-- > 0;) {
    struct train_node *tn = &t->nodes[i];
    const struct tqt_node *n = tn->n;
    bool any = false;
    for (size_t k = 0; k < n->n_outputs && k < 16; k++) {
      size_t s = tn->out[k];
      gys[k] = s != SIZE_MAX && slots[s].grad_live ? slots[s].grad : NULL;
      ys[k] = s != SIZE_MAX && slots[s].recorded ? &slots[s].v.t : NULL;
      any |= gys[k] != NULL;
    }
    if (!any || tn->kind == TRAIN_NODE_SKIP) continue;
    if (tn->kind == TRAIN_NODE_STOP) {
      if (strcmp(n->op_type, "DequantizeLinear")) w->stopped[i] = true;
      continue;
    }
    if (tn->kind == TRAIN_NODE_FQ || tn->kind == TRAIN_NODE_WEIGHT) {
      const struct tqt_qtensor *q = tn->t;
      double s = tqt_quant_scale(t->p, q, 0);
      double lo = q->is_signed ? -ldexp(1.0, q->bits - 1) : 0;
      double hi = q->is_signed ? ldexp(1.0, q->bits - 1) - 1 : ldexp(1.0, q->bits) - 1;
      size_t count = (size_t)tqt_rt_numel(ys[0]);
      const float *x = tn->wfloat;
      float *gx = NULL;
      if (tn->kind == TRAIN_NODE_FQ) {
        if (tn->x_slot == SIZE_MAX || !slots[tn->x_slot].recorded) continue;
        x = slots[tn->x_slot].v.t.data;
        if (!slots[tn->x_slot].constant && slots[tn->x_slot].produced)
          gx = train_grad(w, tn->x_slot);
      }
      double g = tqt_train_fake_quant_grad(x, gys[0], gx, count, s, lo, hi);
      if (tn->param != SIZE_MAX) w->grad[tn->param] += g;
      continue;
    }
    if (n->n_inputs > 64 || n->n_outputs > 16) {
      w->stopped[i] = true;
      continue;
    }
    for (size_t k = 0; k < n->n_inputs; k++) {
      size_t s = tn->in[k];
      xs[k] = s != SIZE_MAX && slots[s].recorded ? &slots[s].v.t : NULL;
      gxs[k] = NULL;
      if (s == SIZE_MAX || !xs[k] || slots[s].constant || xs[k]->dtype != TQT_DTYPE_FLOAT)
        continue;
      /* Graph inputs need no gradient; values some node produces do. */
      if (!slots[s].produced) continue;
      if (!(gxs[k] = train_grad(w, s))) return TRAIN_NOMEM(d), -1;
    }
    int rc = tqt_train_backward(n, xs, n->n_inputs, ys, n->n_outputs, gys, gxs, d);
    if (rc < 0) return -1;
    if (rc > 0) w->stopped[i] = true;
  }
  return 0;
}

static uint64_t train_rand(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void train_apply_exponents(struct train *t, bool *changed) {
  struct tqt_quant_plan *p = t->p;
  *changed = false;
  for (size_t i = 0; i < p->n_tensors; i++) {
    struct tqt_qtensor *q = &p->tensors[i];
    size_t pi = t->param_of[i];
    if (pi == SIZE_MAX || q->kind == TQT_QTENSOR_KIND_BIAS || q->channel_exponents) continue;
    int e = (int)ceil(t->params[pi].theta - 1e-9);
    if (e < TQT_EXPONENT_MIN) e = TQT_EXPONENT_MIN;
    if (e != q->exponent) *changed = true;
    q->exponent = e;
    q->threshold = exp2(t->params[pi].theta);
  }
}

/* Sample which[item] on a worker: forward, the loss, and backward when the pass trains. */
static enum tqt_status train_sample(void *ctx, size_t worker, size_t item, struct tqt_diag *d) {
  struct train *t = ctx;
  struct train_worker *w = &t->workers[worker];
  struct tqt_sample_worker *sw = &t->sw[worker];
  size_t s = t->which[item];
  for (size_t k = 0; k < t->n_slots; k++) {
    w->slots[k].grad_live = false;
    if (!w->slots[k].constant) w->slots[k].recorded = false;
  }
  enum tqt_status st;
  if ((st = tqt_dataset_sample(t->ds[worker], s, sw->values, d)) != TQT_STATUS_OK ||
      (st = tqt_interp_run(sw->in, sw->ptrs, t->n_in, d)) != TQT_STATUS_OK)
    return st;
  w->loss = train_loss(w, (const float *const *)&t->teacher[s * t->n_out], t->sizes, d);
  if (isnan(w->loss) && d->status) return d->status;
  if (!t->backward) return TQT_STATUS_OK;
  memset(w->grad, 0, t->n_params * sizeof *w->grad);
  return train_backward(w, d) ? d->status : TQT_STATUS_OK;
}

/* In sample order: the sample's loss and gradients add up, its stops are reported. */
static enum tqt_status train_sample_commit(void *ctx, size_t worker, size_t item,
                                           struct tqt_diag *d) {
  (void)item;
  (void)d;
  struct train *t = ctx;
  struct train_worker *w = &t->workers[worker];
  t->pass_loss += w->loss;
  for (size_t k = 0; t->backward && k < t->n_params; k++) t->params[k].grad += w->grad[k];
  for (size_t i = t->n_nodes; i-- > 0;)
    if (w->stopped[i]) {
      w->stopped[i] = false;
      train_report_stop(t, t->nodes[i].n);
    }
  return TQT_STATUS_OK;
}

/* The samples which[0 .. count) through the current model on the workers: their summed loss,
 * and with backward their gradients added to params[].grad. */
static enum tqt_status train_pass(struct train *t, const size_t *which, size_t count,
                                  bool backward, double *loss) {
  t->which = which;
  t->backward = backward;
  t->pass_loss = 0;
  enum tqt_status st = tqt_parallel_run(count, t->n_workers, train_sample, train_sample_commit, t,
                                        t->d);
  *loss = t->pass_loss;
  return st;
}

/* Sample item of the float model (t->sw: its workers): the teacher's outputs. */
static enum tqt_status train_teach(void *ctx, size_t worker, size_t s, struct tqt_diag *d) {
  struct train *t = ctx;
  struct tqt_sample_worker *sw = &t->sw[worker];
  enum tqt_status st;
  if ((st = tqt_dataset_sample(sw->ds, s, sw->values, d)) != TQT_STATUS_OK ||
      (st = tqt_interp_run(sw->in, sw->ptrs, t->n_in, d)) != TQT_STATUS_OK)
    return st;
  for (size_t k = 0; k < t->n_out; k++) {
    const struct tqt_value *v = tqt_interp_output(sw->in, k);
    if (v->kind != TQT_VALUE_KIND_TENSOR || v->t.dtype != TQT_DTYPE_FLOAT) continue;
    size_t n = (size_t)tqt_rt_numel(&v->t);
    if (!(t->teacher[s * t->n_out + k] = malloc((n + 1) * sizeof(float)))) return TRAIN_NOMEM(d);
    memcpy(t->teacher[s * t->n_out + k], v->t.data, n * sizeof(float));
  }
  return TQT_STATUS_OK;
}

static enum tqt_status train_teach_commit(void *ctx, size_t worker, size_t s, struct tqt_diag *d) {
  (void)s;
  (void)d;
  struct train *t = ctx;
  for (size_t k = 0; k < t->n_out; k++) {
    const struct tqt_value *v = tqt_interp_output(t->sw[worker].in, k);
    if (v->kind == TQT_VALUE_KIND_TENSOR && v->t.dtype == TQT_DTYPE_FLOAT)
      t->sizes[k] = (size_t)tqt_rt_numel(&v->t);
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_train_thresholds(struct tqt_quant_plan *p, const struct tqt_model *m,
                                     const char *const *specs, size_t n_specs,
                                     const struct tqt_train_options *o, struct tqt_diag *d) {
  struct train t = {.p = p, .fm = m, .o = o, .d = d,
                    .n_workers = o->threads > 1 ? (size_t)o->threads : 1};
  enum tqt_status st = TQT_STATUS_OK;
  size_t *order = NULL, *held = NULL, count = 0;
  tqt_name_map_init(&t.reported_names);
  tqt_name_map_init(&t.slot_index);
  /* Parameters: one log2 t per scale group of activations and per-tensor weights. Groups with a
   * tensor quantized inside an If/Loop/Scan body keep their calibrated thresholds: the backward
   * pass walks the main graph only (an If or a Loop stops the gradient), so nothing would train
   * them. */
  t.param_of = malloc((p->n_tensors + 1) * sizeof *t.param_of);
  t.params = calloc(p->n_tensors + 1, sizeof *t.params);
  bool *frozen = calloc(p->n_tensors + 1, sizeof *frozen); /* per group root */
  if (!t.param_of || !t.params || !frozen) {
    free(frozen);
    st = TRAIN_NOMEM(d);
    goto done;
  }
  size_t n_in_bodies = 0;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *q = &p->tensors[i];
    if (p->graphs[q->owner_graph].depth == 0) continue;
    n_in_bodies += !q->skip;
    frozen[tqt_quant_group_root(p, i)] = true;
  }
  if (n_in_bodies)
    tqt_diag_warn(d, "retrain: the %zu tensors quantized inside If/Loop/Scan bodies (and their "
                  "scale groups) keep their calibrated thresholds", n_in_bodies);
  for (size_t i = 0; i < p->n_tensors; i++) t.param_of[i] = SIZE_MAX;
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *q = &p->tensors[i];
    if (q->kind == TQT_QTENSOR_KIND_BIAS || q->channel_exponents || frozen[tqt_quant_group_root(p, i)])
      continue;
    size_t r = tqt_quant_group_root(p, i);
    if (t.param_of[r] == SIZE_MAX) {
      t.param_of[r] = t.n_params;
      t.params[t.n_params].root = r;
      t.params[t.n_params].theta = -INFINITY;
      t.n_params++;
    }
    t.param_of[i] = t.param_of[r];
    double th = q->threshold > 0 && isfinite(q->threshold) ? log2(q->threshold) : q->exponent;
    struct train_param *pr = &t.params[t.param_of[r]];
    if (th > pr->theta) pr->theta = th;
  }
  free(frozen);
  for (size_t i = 0; i < t.n_params; i++) {
    /* Start exactly on the static exponent (the group's), inside its (e-1, e] interval. */
    double e = p->tensors[t.params[i].root].exponent;
    if (!(t.params[i].theta > e - 1 && t.params[i].theta <= e)) t.params[i].theta = e - 0.5;
  }
  /* The teacher: the float model's outputs of every sample, on the workers (t.sw for now). */
  struct tqt_interp_options fo = {.threads = 1};
  if ((st = tqt_sample_workers_create((struct tqt_model *)m, &fo, NULL, t.n_workers, specs, n_specs,
                                      p->preprocess, &t.sw, &t.n_in, d)) != TQT_STATUS_OK)
    goto done;
  t.n_out = tqt_interp_output_count(t.sw[0].in);
  if (!(t.sizes = calloc(t.n_out + 1, sizeof *t.sizes)) ||
      !(t.ds = calloc(t.n_workers, sizeof *t.ds))) {
    st = TRAIN_NOMEM(d);
    goto done;
  }
  count = tqt_dataset_count(t.sw[0].ds);
  if (o->max_samples && o->max_samples < count) count = o->max_samples;
  if (!count) {
    st = tqt_diag_fail(d, TQT_STATUS_INVALID, "retrain: no samples");
    goto done;
  }
  if (!(t.teacher = calloc(count * t.n_out + 1, sizeof *t.teacher)) ||
      !(order = malloc(count * sizeof *order)) || !(held = malloc(count * sizeof *held))) {
    st = TRAIN_NOMEM(d);
    goto done;
  }
  /* The held-out samples, spread over the set (neighbours are often alike): sample s is held
   * out when the count of held-out ones up to it steps. The rest train. */
  size_t n_held = (size_t)nearbyint(o->val_split * (double)count), n_train = 0;
  if (o->val_split > 0 && !n_held) n_held = 1;
  if (n_held >= count) n_held = 0; /* nothing left to train on: judge on the training samples */
  for (size_t s = 0, h = 0; s < count; s++) {
    size_t upto = (s + 1) * n_held / count;
    if (upto > h) held[h++] = s;
    else order[n_train++] = s;
  }
  const size_t *judged = n_held ? held : order; /* the training samples when none is held out */
  size_t n_judged = n_held ? n_held : n_train;
  if ((st = tqt_parallel_run(count, t.n_workers, train_teach, train_teach_commit, &t, d)) !=
      TQT_STATUS_OK)
    goto done;
  for (size_t k = 0; k < t.n_workers; k++) { /* the datasets stay for training */
    t.ds[k] = t.sw[k].ds;
    t.sw[k].ds = NULL;
  }
  tqt_sample_workers_destroy(t.sw, t.n_workers);
  t.sw = NULL;
  if ((st = train_setup_model(&t)) != TQT_STATUS_OK) goto done;
  /* The best exponents so far (by the loss over all samples, the static ones first): training
   * never returns thresholds worse on the calibration data than it started from. */
  int *best = malloc((p->n_tensors + 1) * sizeof *best);
  double best_loss;
  if (!best) {
    st = TRAIN_NOMEM(d);
    goto done;
  }
  for (size_t i = 0; i < p->n_tensors; i++) best[i] = p->tensors[i].exponent;
  if ((st = train_pass(&t, judged, n_judged, false, &best_loss)) != TQT_STATUS_OK) goto done_best;
  best_loss /= (double)n_judged;
  if (d->verbosity != TQT_VERBOSITY_QUIET)
    fprintf(stderr, "retrain: %zu samples train, %zu %s; static thresholds: loss %.6g\n", n_train,
            n_judged, n_held ? "held out judge the epochs" : "(the same) judge the epochs",
            best_loss);
  int best_epoch = 0;
  uint64_t rng = o->seed * 0x9e3779b97f4a7c15ull + 0x7471742d74726169ull;
  if (!rng) rng = 1;
  size_t batch = o->batch ? o->batch : 16;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint64_t step = 0;
  for (int ep = 0; ep < o->epochs; ep++) {
    for (size_t i = n_train; i > 1; i--) {
      size_t j = (size_t)(train_rand(&rng) % i), tmp = order[i - 1];
      order[i - 1] = order[j];
      order[j] = tmp;
    }
    double epoch_loss = 0;
    for (size_t i = 0; i < n_train; i += batch) {
      size_t in_batch = n_train - i < batch ? n_train - i : batch;
      double l;
      if ((st = train_pass(&t, order + i, in_batch, true, &l)) != TQT_STATUS_OK) goto done_best;
      epoch_loss += l;
      /* Adam on the mean gradient of the batch. */
      step++;
      double b1 = 0.9, b2 = 0.999, eps = 1e-8;
      for (size_t k = 0; k < t.n_params; k++) {
        struct train_param *pr = &t.params[k];
        double g = pr->grad / (double)in_batch;
        pr->m = b1 * pr->m + (1 - b1) * g;
        pr->v = b2 * pr->v + (1 - b2) * g * g;
        double mh = pr->m / (1 - pow(b1, (double)step)), vh = pr->v / (1 - pow(b2, (double)step));
        pr->theta -= o->lr * mh / (sqrt(vh) + eps);
        pr->grad = 0;
      }
      bool changed;
      train_apply_exponents(&t, &changed);
      if (changed) {
        train_teardown_model(&t);
        if ((st = train_setup_model(&t)) != TQT_STATUS_OK) goto done_best;
      }
    }
    double loss;
    if ((st = train_pass(&t, judged, n_judged, false, &loss)) != TQT_STATUS_OK) goto done_best;
    loss /= (double)n_judged;
    if (loss < best_loss) {
      best_loss = loss;
      best_epoch = ep + 1;
      for (size_t i = 0; i < p->n_tensors; i++) best[i] = p->tensors[i].exponent;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (d->verbosity != TQT_VERBOSITY_QUIET)
      fprintf(stderr,
              "retrain: epoch %d/%d: loss %.6g (while training %.6g), %zu samples, %.2f s\n",
              ep + 1, o->epochs, loss, epoch_loss / (double)n_train, n_train,
              (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  }
  for (size_t i = 0; i < p->n_tensors; i++) p->tensors[i].exponent = best[i];
  if (d->verbosity != TQT_VERBOSITY_QUIET)
    fprintf(stderr, "retrain: keeping the thresholds of %s (loss %.6g)\n",
            best_epoch ? "the best epoch" : "static calibration", best_loss);
  for (size_t i = 0; i < p->n_tensors; i++) {
    const struct tqt_qtensor *q = &p->tensors[i];
    if (t.param_of[i] != SIZE_MAX)
      tqt_diag_note(d, "retrain: tensor '%s': log2 t %.3f, exponent %d", q->name,
                    t.params[t.param_of[i]].theta, q->exponent);
  }
done_best:
  free(best);
done:
  train_teardown_model(&t);
  for (size_t i = 0; t.teacher && i < count * t.n_out; i++) free(t.teacher[i]);
  free(t.teacher);
  for (size_t k = 0; t.ds && k < t.n_workers; k++) tqt_dataset_close(t.ds[k]);
  free(t.ds);
  free(order);
  free(held);
  free(t.sizes);
  free(t.param_of);
  free(t.params);
  tqt_name_map_free(&t.reported_names);
  tqt_name_map_free(&t.slot_index);
  return st;
}
