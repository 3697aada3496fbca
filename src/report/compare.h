/* Two models side by side on the same samples: how far B's values are from A's.
 *
 * Used by `onnx-tqt compare A.onnx B.onnx --data INPUT` and by the statistics of a conversion
 * (the float model after the passes as A, the quantized model as B). Per sample, A runs first;
 * with per_layer its observer copies every value it produces (one sample's worth: memory does
 * not grow with the number of samples), then B runs and its observer compares each value it can
 * match by name with A's copy. Names match directly (onnx-tqt's Q/DQ keeps every tensor's name:
 * the producer writes "t_float", QuantizeLinear → DequantizeLinear writes "t"), or through a
 * QuantizeLinear (→ Clip) → DequantizeLinear chain: its output is matched with the chain's
 * float source (a quantized graph input "x" read as "x_dequantized", other tools' names). */
#ifndef TQT_REPORT_COMPARE_H
#define TQT_REPORT_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "interp.h"
#include "ir.h"
#include "ir_names.h"
#include "quant.h"

/* Sums over every element pair (a from A, the reference; b from B). */
struct tqt_compare_metrics {
  uint64_t n;
  double signal;   /* Σ a² */
  double noise;    /* Σ (a − b)² */
  double sum_abs;  /* Σ |a − b| */
  double max_abs;  /* max |a − b| */
  double dot;      /* Σ a·b */
  double energy_b; /* Σ b² */
  uint64_t rows, agree; /* class scores: rows compared, rows whose argmax agree */
  uint64_t mismatched;  /* samples where the shapes differed (not compared) */
};

/* 10 log10(signal / noise): INFINITY when B equals A, NAN when nothing was compared. */
double tqt_compare_sqnr_db(const struct tqt_compare_metrics *m);
/* Σ a·b / sqrt(Σ a² Σ b²): 1 when both are all zeros, NAN when nothing was compared. */
double tqt_compare_cosine(const struct tqt_compare_metrics *m);
/* Adds one pair of tensors (numeric types; float read directly, others through tqt_rt_get).
 * class_scores: also count top-1 agreement when the shape looks like class scores (see
 * tqt_compare_class_axis). Returns false (and counts a mismatch) when the element counts differ. */
bool tqt_compare_metrics_add(struct tqt_compare_metrics *m, const struct tqt_rt_tensor *a,
                             const struct tqt_rt_tensor *b, bool class_scores);
/* The number of classes when t looks like class scores — a float tensor whose dims other than
 * the first are 1 except one of at least 2, with only 1s after it ([N,C], [1,C,1,1], [C]) — else 0. */
int64_t tqt_compare_class_count(const struct tqt_rt_tensor *t);

struct tqt_compare_entry {
  const char *name;      /* the value in A */
  const char *b_name;    /* the value of B it is matched with (NULL: none) */
  const struct tqt_node *node; /* A's producer, NULL for a graph input */
  size_t index;          /* position in A: graph inputs first, then node outputs in order */
  bool is_output;
  struct tqt_compare_metrics m;
};

struct tqt_compare_options {
  const char *const *specs; /* INPUT forms (dataset.h); one "random": N(0,1) of static shapes */
  size_t n_specs;
  size_t max_samples; /* 0: all (16 for random) */
  const struct tqt_preprocess *preprocess; /* for image folders; NULL: none */
  int threads;        /* workers: samples at once, each on one thread (1: all threads on one) */
  bool per_layer;     /* match and compare every value, not only the graph outputs */
  tqt_progress_fn progress;
  void *progress_ctx;
};

struct tqt_compare {
  struct tqt_compare_entry *outputs; /* one per graph output of A, matched by name or position */
  size_t n_outputs;
  struct tqt_compare_entry *layers; /* per_layer: graph inputs, then node outputs of A */
  size_t n_layers;
  uint64_t samples;
  struct tqt_name_map by_a; /* A name → layer index + 1 */
  struct tqt_name_map by_b; /* B name → layer index + 1 */
};

/* Runs A and B on the samples and fills *out (free with tqt_compare_destroy). The models must
 * take the same inputs (by position). */
enum tqt_status tqt_compare_models(struct tqt_model *a, struct tqt_model *b,
                                   const struct tqt_compare_options *o, struct tqt_compare **out,
                                   struct tqt_diag *d);
/* The layer entry of A's value `name`, or NULL. */
const struct tqt_compare_entry *tqt_compare_layer(const struct tqt_compare *c, const char *name);
void tqt_compare_destroy(struct tqt_compare *c);


#endif
