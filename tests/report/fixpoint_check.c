/* The fixed-point export checked against the quantized model: for every Conv, Gemm and MatMul
 * layer of FIXPOINT.json, an integer-only computation from the model's int8 weights and int32
 * bias and the exported shifts —
 *
 *   acc = Σ q_in · q_w + (q_b << bias_shift)        (int64)
 *   q   = clamp(round_half_even(acc / 2^output_shift), activation, output_range)
 *
 * — must give exactly the integers of the quantized model's output as onnx-tqt's interpreter
 * computes it (its dequantized values · 2^fp_out), on the first SAMPLES samples of INPUT. The
 * layer's input integers are the model's (dequantized input · 2^fp_in). The weight and bias
 * DequantizeLinear scales must be 2^-fp of the export, and its integer_initializer names must be
 * the initializers those DequantizeLinear read.
 *
 * usage: fixpoint_check QUANT.onnx FIXPOINT.json INPUT [SAMPLES]
 * Prints "ok - ..." / "not ok - ..." per layer and "fixpoint: N passed, N failed". */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "ir_edit.h"
#include "tqt.h"

struct capture {
  const char **names;
  struct tqt_value *values;
  size_t n;
};

static int observe(void *ctx, const struct tqt_node *node, const char *name,
                   const struct tqt_value *v, struct tqt_diag *d) {
  (void)node;
  struct capture *c = ctx;
  for (size_t i = 0; i < c->n; i++)
    if (!strcmp(c->names[i], name) && tqt_value_copy(&c->values[i], v, d) != TQT_STATUS_OK)
      return -1;
  return 0;
}

static const struct tqt_tensor *initializer(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_initializers; i++)
    if (!strcmp(g->initializers[i]->name, name)) return g->initializers[i];
  return NULL;
}

static const struct tqt_node *node_named(const struct tqt_graph *g, const char *name) {
  for (size_t i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i]->name, name)) return g->nodes[i];
  return NULL;
}

/* An int member, or element c of an int array member. */
static long long per_channel(const json_t *layer, const char *key, size_t c) {
  const json_t *v = json_object_get(layer, key);
  if (json_is_array(v)) v = json_array_get(v, c);
  return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* round_half_even(acc / 2^s); a negative s shifts left. */
static int64_t shift_round(int64_t acc, long long s) {
  if (s <= 0) return acc * ((int64_t)1 << -s);
  int64_t div = (int64_t)1 << s;
  int64_t q = acc >= 0 ? acc / div : -((-acc + div - 1) / div); /* floor */
  int64_t r = acc - q * div, half = div / 2;
  if (r > half || (r == half && (q & 1))) q++;
  return q;
}

/* The integers behind a weight or bias: the initializer its DequantizeLinear reads, checked
 * against the export (name, and scales of 2^-fp). */
static const struct tqt_tensor *integers(const struct tqt_graph *g, const char *name,
                                         const json_t *tensor, const json_t *layer,
                                         const char *fp_key, char *why, size_t why_size) {
  const struct tqt_node *dq = tqt_graph_producer(g, name);
  if (!dq || strcmp(dq->op_type, "DequantizeLinear") || dq->n_inputs < 2) {
    snprintf(why, why_size, "'%s' is not written by a DequantizeLinear", name);
    return NULL;
  }
  const struct tqt_tensor *q = initializer(g, dq->inputs[0]), *s = initializer(g, dq->inputs[1]);
  const char *exported = json_string_value(json_object_get(tensor, "integer_initializer"));
  if (!q || !s || !q->data || !s->data || s->dtype != TQT_DTYPE_FLOAT) {
    snprintf(why, why_size, "'%s': its DequantizeLinear reads no constant integers", name);
    return NULL;
  }
  if (!exported || strcmp(exported, q->name)) {
    snprintf(why, why_size, "'%s': integer_initializer '%s', the model reads '%s'", name,
             exported ? exported : "(none)", q->name);
    return NULL;
  }
  int64_t n_s = tqt_tensor_numel(s);
  for (int64_t c = 0; c < n_s; c++) {
    double want = ldexp(1.0, (int)-per_channel(layer, fp_key, (size_t)c));
    if (((const float *)s->data)[c] != (float)want) {
      snprintf(why, why_size, "'%s': scale %g in the model, 2^-%s = %g exported", name,
               ((const float *)s->data)[c], fp_key, want);
      return NULL;
    }
  }
  return q;
}

static int64_t int_at(const struct tqt_tensor *t, int64_t i) {
  struct tqt_rt_tensor v = {.dtype = t->dtype, .data = t->data};
  return tqt_rt_get_int(&v, i);
}

/* Model values as integers at fp (false when one is not an integer there). */
static bool to_ints(const struct tqt_rt_tensor *t, long long fp, int64_t *out) {
  for (int64_t i = 0; i < tqt_rt_numel(t); i++) {
    double v = ldexp(((const float *)t->data)[i], (int)fp);
    if (v != nearbyint(v)) return false;
    out[i] = (int64_t)v;
  }
  return true;
}

struct layer {
  const json_t *j;
  const struct tqt_node *node;
  const struct tqt_tensor *w, *b;
  size_t in_slot, out_slot;
  uint64_t values, mismatches;
  char why[512];
};

/* The integer reference of one layer for the captured sample; returns the count compared. */
static void check_layer(struct layer *L, const struct tqt_value *vin, const struct tqt_value *vout) {
  const json_t *j = L->j;
  const struct tqt_rt_tensor *x = &vin->t, *y = &vout->t;
  long long fp_in = json_integer_value(json_object_get(j, "fp_in"));
  long long fp_out = json_integer_value(json_object_get(j, "fp_out"));
  const json_t *range = json_object_get(j, "output_range");
  int64_t lo = json_integer_value(json_array_get(range, 0)), hi = json_integer_value(json_array_get(range, 1));
  const char *act = json_string_value(json_object_get(j, "activation"));
  if (act && !strcmp(act, "Relu") && lo < 0) lo = 0;
  if (act && !strcmp(act, "Clip")) {
    const json_t *cmin = json_object_get(j, "clip_min"), *cmax = json_object_get(j, "clip_max");
    if (json_is_number(cmin)) {
      int64_t c = (int64_t)nearbyint(ldexp(json_number_value(cmin), (int)fp_out));
      if (c > lo) lo = c;
    }
    if (json_is_number(cmax)) {
      int64_t c = (int64_t)nearbyint(ldexp(json_number_value(cmax), (int)fp_out));
      if (c < hi) hi = c;
    }
  }
  int64_t nx = tqt_rt_numel(x), ny = tqt_rt_numel(y);
  int64_t *xi = malloc((size_t)(nx + 1) * sizeof *xi), *yi = malloc((size_t)(ny + 1) * sizeof *yi);
  int64_t *ref = malloc((size_t)(ny + 1) * sizeof *ref);
  if (!xi || !yi || !ref || x->dtype != TQT_DTYPE_FLOAT || y->dtype != TQT_DTYPE_FLOAT) {
    snprintf(L->why, sizeof L->why, "out of memory or values not float");
    L->mismatches++;
    goto done;
  }
  if (!to_ints(x, fp_in, xi) || !to_ints(y, fp_out, yi)) {
    snprintf(L->why, sizeof L->why, "the model's values are not integers at fp_in %lld / fp_out %lld",
             fp_in, fp_out);
    L->mismatches++;
    goto done;
  }
  const struct tqt_node *n = L->node;
  const struct tqt_tensor *w = L->w, *b = L->b;
  int64_t n_ref = 0;
  if (!strcmp(n->op_type, "Conv")) {
    size_t np = 0, ns = 0, nd = 0;
    const int64_t *pads = tqt_attr_ints(n, "pads", &np), *st = tqt_attr_ints(n, "strides", &ns);
    const int64_t *dil = tqt_attr_ints(n, "dilations", &nd);
    int64_t group = tqt_attr_int(n, "group", 1);
    if (x->rank != 4 || w->rank != 4 || strcmp(tqt_attr_string(n, "auto_pad", "NOTSET"), "NOTSET") ||
        (pads && np != 4) || (st && ns != 2) || (dil && nd != 2)) {
      snprintf(L->why, sizeof L->why, "only 2-D Conv without auto_pad is checked");
      L->mismatches++;
      goto done;
    }
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t M = w->dims[0], Cg = w->dims[1], KH = w->dims[2], KW = w->dims[3];
    int64_t pt = pads ? pads[0] : 0, pl = pads ? pads[1] : 0, pb = pads ? pads[2] : 0,
            pr = pads ? pads[3] : 0;
    int64_t sh = st ? st[0] : 1, sw = st ? st[1] : 1, dh = dil ? dil[0] : 1, dw = dil ? dil[1] : 1;
    int64_t OH = (H + pt + pb - ((KH - 1) * dh + 1)) / sh + 1;
    int64_t OW = (W + pl + pr - ((KW - 1) * dw + 1)) / sw + 1;
    int64_t Mg = M / group;
    (void)C;
    for (int64_t b0 = 0; b0 < N; b0++)
      for (int64_t m = 0; m < M; m++)
        for (int64_t oh = 0; oh < OH; oh++)
          for (int64_t ow = 0; ow < OW; ow++) {
            int64_t acc = 0, g = m / Mg;
            for (int64_t c = 0; c < Cg; c++)
              for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                  int64_t ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  acc += xi[((b0 * x->dims[1] + g * Cg + c) * H + ih) * W + iw] *
                         int_at(w, ((m * Cg + c) * KH + kh) * KW + kw);
                }
            if (b) acc += int_at(b, m) * ((int64_t)1 << per_channel(j, "bias_shift", (size_t)m));
            int64_t q = shift_round(acc, per_channel(j, "output_shift", (size_t)m));
            ref[n_ref++] = q < lo ? lo : q > hi ? hi : q;
          }
  } else { /* Gemm, MatMul: x [rows, K] · W */
    bool ta = !strcmp(n->op_type, "Gemm") && tqt_attr_int(n, "transA", 0);
    bool tb = !strcmp(n->op_type, "Gemm") && tqt_attr_int(n, "transB", 0);
    if (w->rank != 2 || (ta && x->rank != 2) ||
        (!strcmp(n->op_type, "Gemm") && (tqt_attr_float(n, "alpha", 1) != 1 || tqt_attr_float(n, "beta", 1) != 1))) {
      snprintf(L->why, sizeof L->why, "only 2-D weights, alpha = beta = 1 are checked");
      L->mismatches++;
      goto done;
    }
    int64_t K = tb ? w->dims[1] : w->dims[0], Nn = tb ? w->dims[0] : w->dims[1];
    int64_t rows = nx / K;
    for (int64_t r = 0; r < rows; r++)
      for (int64_t o = 0; o < Nn; o++) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; k++)
          acc += xi[ta ? k * rows + r : r * K + k] * int_at(w, tb ? o * K + k : k * Nn + o);
        if (b) {
          int64_t nb = tqt_tensor_numel(b);
          acc += int_at(b, nb == 1 ? 0 : o) * ((int64_t)1 << per_channel(j, "bias_shift", (size_t)o));
        }
        int64_t q = shift_round(acc, per_channel(j, "output_shift", (size_t)o));
        ref[n_ref++] = q < lo ? lo : q > hi ? hi : q;
      }
  }
  if (n_ref != ny) {
    snprintf(L->why, sizeof L->why, "%lld integers computed, the output has %lld", (long long)n_ref,
             (long long)ny);
    L->mismatches++;
    goto done;
  }
  for (int64_t i = 0; i < ny; i++) {
    L->values++;
    if (ref[i] != yi[i]) {
      if (!L->mismatches)
        snprintf(L->why, sizeof L->why, "value %lld: integer reference %lld, model %lld",
                 (long long)i, (long long)ref[i], (long long)yi[i]);
      L->mismatches++;
    }
  }
done:
  free(xi);
  free(yi);
  free(ref);
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 5) {
    fprintf(stderr, "usage: fixpoint_check QUANT.onnx FIXPOINT.json INPUT [SAMPLES]\n");
    return 2;
  }
  size_t samples = argc > 4 ? (size_t)atol(argv[4]) : 8;
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  struct tqt_interp *in = NULL;
  struct tqt_dataset *ds = NULL;
  json_error_t jerr;
  json_t *fix = json_load_file(argv[2], 0, &jerr);
  int passed = 0, failed = 0;
  if (!fix) {
    fprintf(stderr, "fixpoint_check: %s: %s\n", argv[2], jerr.text);
    return 1;
  }
  if (tqt_model_load(argv[1], &m, &d) != TQT_STATUS_OK || tqt_model_validate(m, &d) != TQT_STATUS_OK) {
    fprintf(stderr, "fixpoint_check: %s\n", d.msg);
    json_decref(fix);
    tqt_model_destroy(m);
    return 1;
  }
  const struct tqt_graph *g = m->graph;
  const json_t *layers = json_object_get(fix, "layers"), *tensors = json_object_get(fix, "tensors");
  size_t n_layers = json_array_size(layers);
  struct layer *L = calloc(n_layers + 1, sizeof *L);
  struct capture cap = {.names = calloc(2 * n_layers + 1, sizeof *cap.names),
                        .values = calloc(2 * n_layers + 1, sizeof *cap.values)};
  if (!L || !cap.names || !cap.values) return 1;
  for (size_t i = 0; i < n_layers; i++) {
    struct layer *l = &L[i];
    l->j = json_array_get(layers, i);
    const char *name = json_string_value(json_object_get(l->j, "node"));
    l->node = name ? node_named(g, name) : NULL;
    const json_t *tw = NULL, *tb = NULL;
    size_t k;
    const json_t *t;
    json_array_foreach(tensors, k, t) {
      const char *tn = json_string_value(json_object_get(t, "name"));
      const char *lw = json_string_value(json_object_get(l->j, "weight"));
      const char *lb = json_string_value(json_object_get(l->j, "bias"));
      if (tn && lw && !strcmp(tn, lw)) tw = t;
      if (tn && lb && !strcmp(tn, lb)) tb = t;
    }
    if (!l->node || l->node->n_inputs < 2) {
      snprintf(l->why, sizeof l->why, "no node '%s' in the model", name ? name : "");
      continue;
    }
    if (!(l->w = integers(g, l->node->inputs[1], tw, l->j, "fp_w", l->why, sizeof l->why))) continue;
    if (json_is_string(json_object_get(l->j, "bias")) &&
        !(l->b = integers(g, l->node->inputs[2], tb, l->j, "fp_b", l->why, sizeof l->why))) {
      l->w = NULL;
      continue;
    }
    l->in_slot = cap.n;
    cap.names[cap.n++] = l->node->inputs[0];
    l->out_slot = cap.n;
    cap.names[cap.n++] = json_string_value(json_object_get(l->j, "output"));
  }
  struct tqt_interp_options io = {.observer = observe, .observer_ctx = &cap};
  const char *spec = argv[3];
  if (tqt_interp_create(m, &io, &in, &d) == TQT_STATUS_OK) {
    size_t n_in = tqt_interp_input_count(in);
    const struct tqt_value_info **infos = calloc(n_in + 1, sizeof *infos);
    struct tqt_value *values = calloc(n_in + 1, sizeof *values);
    const struct tqt_value **ptrs = calloc(n_in + 1, sizeof *ptrs);
    for (size_t i = 0; infos && ptrs && values && i < n_in; i++) {
      infos[i] = tqt_interp_input_info(in, i);
      ptrs[i] = &values[i];
    }
    if (infos && values && ptrs && tqt_dataset_open(&spec, 1, infos, n_in, NULL, &ds, &d) == TQT_STATUS_OK) {
      size_t count = tqt_dataset_count(ds);
      if (samples && samples < count) count = samples;
      for (size_t s = 0; s < count; s++) {
        if (tqt_dataset_sample(ds, s, values, &d) != TQT_STATUS_OK ||
            tqt_interp_run(in, ptrs, n_in, &d) != TQT_STATUS_OK)
          break;
        for (size_t i = 0; i < n_layers; i++)
          if (L[i].w) check_layer(&L[i], &cap.values[L[i].in_slot], &cap.values[L[i].out_slot]);
      }
    }
    free(infos);
    free(values);
    free(ptrs);
  }
  if (d.status) {
    printf("not ok - fixpoint: run %s: %s\n", argv[1], d.msg);
    failed++;
  }
  for (size_t i = 0; i < n_layers; i++) {
    const char *name = json_string_value(json_object_get(L[i].j, "node"));
    const char *op = json_string_value(json_object_get(L[i].j, "op_type"));
    if (L[i].w && L[i].values && !L[i].mismatches) {
      printf("ok - fixpoint %s (%s): %llu integers equal the quantized model's\n", name, op,
             (unsigned long long)L[i].values);
      passed++;
    } else {
      printf("not ok - fixpoint %s (%s): %s (%llu of %llu differ)\n", name, op,
             L[i].why[0] ? L[i].why : "nothing compared", (unsigned long long)L[i].mismatches,
             (unsigned long long)L[i].values);
      failed++;
    }
  }
  if (!n_layers) {
    printf("not ok - fixpoint: %s has no layers\n", argv[2]);
    failed++;
  }
  printf("fixpoint: %d passed, %d failed\n", passed, failed);
  for (size_t i = 0; i < cap.n; i++) tqt_value_release(&cap.values[i]);
  free(cap.names);
  free(cap.values);
  free(L);
  tqt_dataset_close(ds);
  tqt_interp_destroy(in);
  tqt_model_destroy(m);
  json_decref(fix);
  return failed ? 1 : 0;
}
