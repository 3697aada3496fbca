/* Quantization: which tensors get power-of-two scales, their calibration, and the Q/DQ rewrite.
 *
 *   plan      from the float model after the passes: the quantized nodes, every tensor they
 *             quantize (activations, weights, biases), bits and signedness, scale groups
 *   calibrate the interpreter over the calibration samples feeds one histogram per activation
 *   finish    thresholds → exponents (ceil log2 t), one exponent per scale group, weight and
 *             bias exponents from the tensors themselves
 *   insert    QuantizeLinear/DequantizeLinear into the model
 *
 * Q/DQ insertion is a stage of its own rather than a pass: it needs the calibration results,
 * which the pass signature (model, options, diagnostic) cannot carry. */
#ifndef TQT_QUANT_H
#define TQT_QUANT_H

#include <stdbool.h>
#include <stddef.h>

#include "calib.h"
#include "diag.h"
#include "interp.h"
#include "ir.h"
#include "ir_names.h"
#include "options.h"

enum tqt_qtensor_kind {
  TQT_QTENSOR_KIND_ACTIVATION, /* computed at run time: calibrated */
  TQT_QTENSOR_KIND_WEIGHT,     /* a constant: its own data sets the scale */
  TQT_QTENSOR_KIND_BIAS,       /* int32 at s_in · s_w */
};

/* One exponent the search tried for a scale group and the model-output error it gave. */
struct tqt_search_try {
  int exponent;
  double error;
  bool uniform; /* a per-channel weight with every channel at this exponent */
};

struct tqt_qtensor {
  const char *name;
  enum tqt_qtensor_kind kind;
  enum tqt_threshold_method method; /* set by finish (not for biases) */
  bool method_auto; /* an activation whose method tqt_quant_method_choose may change */
  int bits;
  bool is_signed;
  size_t group; /* scale group: tensors that must share one scale (index of its root tensor) */
  struct tqt_histogram *hist; /* activations and per-tensor weights */
  double threshold;
  int exponent;
  /* Weights: the axis of output channels (-1: none); with --per-channel one exponent per slice. */
  int axis;
  size_t n_channels;
  int *channel_exponents;
  /* Biases: the input activation and the weight whose scales multiply into theirs; the bias
   * correction per value (subtracted before quantizing; NULL: none). */
  size_t bias_input, bias_weight;
  float *bias_correction;
  /* Per-channel weights that a bias is scaled by (set by finish): per channel the least
   * s_in · s_w at which that bias fits its bits, and the activation whose scale is s_in. A
   * channel whose weights are all near zero (a BatchNormalization's dead channel folded in)
   * gets an exponent so low that its bias, all of its output, would not fit and be clipped to
   * nothing: its exponent is raised to fit instead (tqt_quant_exponent). NULL: none. */
  float *bias_floor;
  size_t bias_floor_input;
  const struct tqt_node *owner; /* the node that made it quantized, for messages */
  size_t owner_graph, owner_node; /* where: p->graphs[owner_graph], node owner_node */
  /* Set by finish: an activation no calibration sample computed (a branch never taken), and a
   * bias that depends on one, stay float. tqt_quant_plan_find no longer returns it, so Q/DQ
   * insertion, statistics and the fixed-point export leave it out. */
  bool skip;
  /* Set by finish: an activation a Softmax reads (its threshold need not reach far below its
   * largest value). */
  bool softmax_input;
  /* Exponent search (tqt_quant_search), on the root of a scale group it searched: the exponent
   * calibration gave, then every exponent tried with its error (the first: the start's). */
  int search_start;
  struct tqt_search_try *search_tries;
  size_t n_search_tries;
};

/* A join of two tensors' scale groups (plan.c): an Add aligning its inputs names the Add, and
 * calibration cuts the join where their ranges are far apart (tqt_quant_groups_split). */
struct tqt_quant_join {
  size_t a, b;
  const struct tqt_node *add;
  bool cut;
};

/* What the plan decided for a node. */
enum tqt_node_quant {
  TQT_NODE_QUANT_FLOAT = 0, /* an op onnx-tqt does not quantize, or one whose input is float */
  TQT_NODE_QUANT_QUANTIZED,
  TQT_NODE_QUANT_EXCLUDED, /* by --exclude-op-types / --exclude-nodes (reason says which) */
};

/* The decisions for the nodes of one graph, in the order of its nodes when the plan was built
 * (indexes hold until tqt_quant_insert rewrites the model). */
struct tqt_quant_graph {
  const struct tqt_graph *graph;
  int depth; /* 0: the main graph; 1: an If/Loop/Scan body in it; ... */
  enum tqt_node_quant *states;
  /* EXCLUDED: "--exclude-op-types Conv", "--exclude-nodes /re/"; FLOAT: why ("its output is
   * int64, not float", "in a branch never taken during calibration"); QUANTIZED: NULL. */
  const char **reasons;
  size_t n_nodes;
};

/* A candidate of the activation method choice: the method, its percentile (PERCENTILE only) and
 * the error it gave at the outputs. */
struct tqt_method_try {
  enum tqt_threshold_method method;
  double percentile;
  double error;
};
#define TQT_METHOD_TRIES 5

struct tqt_quant_plan {
  struct tqt_arena *arena;
  /* Every graph: the main graph first, then the bodies of its If/Loop/Scan nodes, depth first. */
  struct tqt_quant_graph *graphs;
  size_t n_graphs;
  /* The main graph's: graphs[0].states, .reasons, .n_nodes. */
  enum tqt_node_quant *node_states;
  const char **node_reasons;
  size_t n_nodes;
  struct tqt_qtensor *tensors;
  size_t n_tensors, cap_tensors;
  struct tqt_name_map index; /* tensor name → index + 1 */
  struct tqt_quant_join *joins; /* every join of scale groups, in the order made */
  size_t n_joins, cap_joins;
  size_t n_quantized_nodes, n_excluded_nodes;
  /* Compute nodes (Conv, ConvTranspose, Gemm, MatMul) of every graph: all, quantized, excluded;
   * and how many of all are inside If/Loop/Scan bodies. */
  size_t n_compute, n_compute_quantized, n_compute_excluded, n_compute_subgraph;
  size_t n_observed; /* activations the calibration watches */
  size_t n_skipped;  /* tensors finish left float (skip) */
  uint64_t samples;  /* calibration samples seen */
  const struct tqt_preprocess *preprocess; /* the options' (image folders), NULL when none */
  bool int8_activations; /* the options': containers of signed activations (qdq.c) */
  /* Set by tqt_quant_search: groups searched and moved, the output error before and after
   * (search_groups 0: no search ran). */
  size_t search_groups, search_changed;
  double search_error_before, search_error_after;
  /* Set by tqt_quant_bias_correct: layers measured, layers and channels shifted, the output
   * error before and after (bias_layers 0: no correction ran). */
  size_t bias_layers, bias_corrected_layers, bias_channels;
  double bias_error_before, bias_error_after;
  /* Set by tqt_quant_equalize: channels it could scale (seen non-zero), channels scaled, and
   * the producer groups they belong to. */
  size_t equalize_channels, equalize_scaled, equalize_groups;
  /* Whether the model keeps them (auto: when they lower the error at the outputs, measured
   * with and without: error_after, error_before; 0 when not measured). */
  bool equalize_kept;
  double equalize_error_before, equalize_error_after;
  /* Set by tqt_quant_method_choose: the methods tried with their output error (n_method_tries
   * 0: no choice was made), and the index of the one kept. */
  struct tqt_method_try method_tries[TQT_METHOD_TRIES];
  size_t n_method_tries, method_chosen;
  /* Set by tqt_quant_auto_bits (auto_bits_layers 0: it did not run): the target in dB, the
   * output error reached and the one with every layer at the most bits; layers and runs. */
  double auto_bits_target_db, auto_bits_error, auto_bits_top_error;
  size_t auto_bits_layers, auto_bits_runs;
};

/* Cuts the joins of an Add's inputs whose own exponents (before their groups share one) lie
 * more than max_steps apart, and regroups: aligned, the smaller would keep 2^-max_steps of its
 * grid. Says each cut with -v; returns how many. */
size_t tqt_quant_groups_split(struct tqt_quant_plan *p, int max_steps, struct tqt_diag *d);

/* Input 0 of every node of the n_ops op types (default domain) of m, bodies included, into out
 * (a set of names). Non-zero when out of memory. */
int tqt_quant_op_inputs(const struct tqt_model *m, const char *const *ops, size_t n_ops,
                        struct tqt_name_map *out);

/* Conv, ConvTranspose, Gemm and MatMul: the nodes whose quantization the coverage counts. */
bool tqt_quant_is_compute(const struct tqt_node *n);

/* Decides what to quantize in every graph of m (after the passes): a body that the passes could
 * not fold is quantized like the main graph; its formal inputs (Loop's iteration number and
 * carried values, Scan's slices) stay float. */
enum tqt_status tqt_quant_plan_build(const struct tqt_model *m, const struct tqt_options *o,
                                     struct tqt_quant_plan **out, struct tqt_diag *d);
void tqt_quant_plan_destroy(struct tqt_quant_plan *p);
/* The plan's tensor called name, or NULL (also when finish left it float: skip). */
struct tqt_qtensor *tqt_quant_plan_find(const struct tqt_quant_plan *p, const char *name);

/* The root of tensor i's scale group: the tensor whose exponent the whole group takes. */
size_t tqt_quant_group_root(const struct tqt_quant_plan *p, size_t i);
/* The activation of p that value v (named name) gives statistics to, or NULL: not in the plan,
 * not an activation, not a float tensor. */
struct tqt_qtensor *tqt_quant_observed(const struct tqt_quant_plan *p, const char *name,
                                       const struct tqt_value *v);

typedef void (*tqt_progress_fn)(void *ctx, size_t done, size_t total);

/* What a run over samples observes, on several workers at once: observe gets worker_ctx[w]
 * while worker w runs a sample, then commit(shared, worker_ctx[w]) runs once per sample, one at
 * a time and in sample order (NULL: nothing to commit; observe then writes only what belongs to
 * its worker, or there is one worker). */
struct tqt_quant_observers {
  tqt_observer_fn observe;
  void *const *worker_ctx;
  size_t workers;
  enum tqt_status (*commit)(void *shared, void *worker_ctx, struct tqt_diag *d);
  void *shared;
};

/* The activation histograms of a plan filled by several workers: each worker fills one
 * sample's, merged into targets (one per plan tensor; NULL ones made when first seen) in sample
 * order, so that they come out as one worker makes them (their sums included). */
struct tqt_quant_hists;
enum tqt_status tqt_quant_hists_create(const struct tqt_quant_plan *p, struct tqt_histogram **targets,
                                       size_t workers, struct tqt_quant_hists **out,
                                       struct tqt_diag *d);
/* The observers that fill them (valid while h lives). */
const struct tqt_quant_observers *tqt_quant_hists_observers(struct tqt_quant_hists *h);
void tqt_quant_hists_destroy(struct tqt_quant_hists *h);

/* Runs m over the samples of specs (the dataset forms of the command line, "random" too) with
 * observers: the first max_samples (0: all; 16 for random), or `spread` of them spread evenly
 * over those (0: every one), on obs->workers threads (random inputs: one). *ran: how many ran. */
enum tqt_status tqt_quant_dataset_run(const struct tqt_quant_plan *p, struct tqt_model *m,
                                      const char *const *specs, size_t n_specs,
                                      size_t max_samples, size_t spread,
                                      const struct tqt_quant_observers *obs,
                                      tqt_progress_fn progress, void *progress_ctx, size_t *ran,
                                      struct tqt_diag *d);

/* Runs m (the float model the plan was built on) over the calibration samples of INPUT (the
 * dataset forms of the command line; "random" makes N(0,1) inputs of the inputs' static shapes)
 * and fills the activation histograms, on `threads` workers (the histograms are the same for any
 * number). max_samples 0 means all. */
enum tqt_status tqt_quant_calibrate(struct tqt_quant_plan *p, struct tqt_model *m,
                                    const char *const *specs, size_t n_specs, size_t max_samples,
                                    int threads, tqt_progress_fn progress, void *progress_ctx,
                                    struct tqt_diag *d);

/* Channel equalization, after the plan and before calibration (equalize.c): channels of small
 * range are multiplied by powers of two at the Conv/Gemm/MatMul/BatchNormalization that makes
 * them and divided back at the weights or BatchNormalization that read them, where every path
 * between passes the factor through exactly (Relu, pooling, Concat, ...): m's outputs stay
 * those of the float model, the quantized tensors hold the small channels with more steps.
 * The factors come from the channels' ranges on some calibration samples and an error model of
 * the reading weights. *out: what changed, to undo it (NULL: nothing changed). */
struct tqt_quant_equalization;
enum tqt_status tqt_quant_equalize(struct tqt_quant_plan *p, struct tqt_model *m,
                                   const struct tqt_options *o, const char *const *specs,
                                   size_t n_specs, size_t max_samples, size_t n_workers,
                                   struct tqt_quant_equalization **out, struct tqt_diag *d);
void tqt_quant_equalization_free(struct tqt_quant_equalization *q);

/* Thresholds and exponents for every tensor (the activations' on `workers` threads); scale groups
 * get their largest exponent. An activation no sample computed (a branch never taken) stays
 * float (skip), with the biases that depend on it, and the nodes that quantized them become
 * FLOAT; one warning counts them. */
enum tqt_status tqt_quant_plan_finish(struct tqt_quant_plan *p, const struct tqt_model *m,
                                      const struct tqt_options *o, size_t workers,
                                      struct tqt_diag *d);

/* The measuring samples of the refinements after calibration (samples.c): some calibration
 * samples, spread over them, held with the float model's outputs on them and, per activation of
 * the plan, the histogram of its values in them. */
struct tqt_quant_samples;

/* Loads `want` samples spread over the first max_samples (0: all) of specs (fewer when they do
 * not fit in 1 GiB with their reference outputs) and runs m, the float model, over them. */
enum tqt_status tqt_quant_samples_load(const struct tqt_quant_plan *p, const struct tqt_model *m,
                                       const char *const *specs, size_t n_specs, size_t want,
                                       size_t max_samples, int threads,
                                       struct tqt_quant_samples **out, struct tqt_diag *d);
void tqt_quant_samples_free(struct tqt_quant_samples *s);
size_t tqt_quant_samples_count(const struct tqt_quant_samples *s);
/* The values one run over the samples computes (what the quantized activations hold): the
 * refinements' budgets are in these. */
double tqt_quant_samples_run_values(const struct tqt_quant_samples *s);
/* How many runs over the samples were made (each of count samples). */
size_t tqt_quant_samples_runs(const struct tqt_quant_samples *s);
/* The values plan tensor i (an activation) took in the samples, or NULL. */
const struct tqt_histogram *tqt_quant_samples_seen(const struct tqt_quant_samples *s, size_t i);
/* The workers that runs over the samples use (the threads given to tqt_quant_samples_load). */
size_t tqt_quant_samples_workers(const struct tqt_quant_samples *s);
/* Runs qm (whose outputs are m's) over the samples on the samples' workers, with observers (NULL:
 * none; else one per worker); *error (when error is not NULL): per float output, the energy of
 * the difference to m's output over the energy of m's output (10^(-SQNR/10)), summed over the
 * outputs; a value that is not finite where m's is makes it infinite. The same for any number of
 * workers. */
enum tqt_status tqt_quant_samples_run(struct tqt_quant_samples *s, struct tqt_model *qm,
                                      const struct tqt_quant_observers *obs, double *error,
                                      struct tqt_diag *d);
/* Output j's part of the error of the last run that measured one (NaN for an output that is
 * no float tensor). */
double tqt_quant_samples_output_error(const struct tqt_quant_samples *s, size_t j);
/* The error of the plan as it stands: m with its Q/DQ, run over the samples. */
enum tqt_status tqt_quant_samples_error(struct tqt_quant_samples *s, double *error,
                                        struct tqt_diag *d);

/* The error at the outputs that the last refinement of p measured (bias correction, the exponent
 * search, the method choice; their order in the pipeline), into *error; false when none did. */
bool tqt_quant_plan_output_error(const struct tqt_quant_plan *p, double *error);

/* The stages after the plan that equalization is judged through, as the caller runs them:
 * calibration, thresholds, the measuring samples (*samples, loaded), the exponent search and
 * bias correction. */
typedef enum tqt_status (*tqt_quant_stage_fn)(void *ctx, struct tqt_quant_plan *p,
                                              struct tqt_quant_samples **samples,
                                              struct tqt_diag *d);

/* --equalize auto, after stage ran for *plan on the equalized model: the error at the outputs
 * on the samples with the equalization, and without it (the model as it was, a plan of its own
 * through stage); it stays only when the error falls by more than 0.25 dB. When it goes, the model gets its values back and *plan
 * and *samples become the other ones. Past the budget of --search auto it stays unmeasured,
 * with a warning. */
enum tqt_status tqt_quant_equalize_judge(struct tqt_quant_plan **plan,
                                         const struct tqt_quant_equalization *q,
                                         struct tqt_model *m, struct tqt_quant_samples **samples,
                                         const struct tqt_options *o, tqt_quant_stage_fn stage,
                                         void *stage_ctx, struct tqt_diag *d);

/* Sets the threshold of every activation whose method is auto (method_auto) by method (with
 * this percentile for PERCENTILE; 0: the default), and the exponents of all (activations,
 * per-tensor weights) anew from their thresholds and groups; the tensors spread over `workers`
 * threads. */
enum tqt_status tqt_quant_plan_rethreshold(struct tqt_quant_plan *p, enum tqt_threshold_method method,
                                           double percentile, size_t workers, struct tqt_diag *d);

/* The activation method by measurement (--search global, and auto past its budget): the
 * activations that take the default method (KL-J, or "auto") get KL-J, MSE, max, or the 99.99th
 * or 99.9th percentile, all the same, whichever gives the lowest error at the model's
 * outputs on the samples (method.c). A run per candidate: no budget, as calibration has none. */
enum tqt_status tqt_quant_method_choose(struct tqt_quant_plan *p, struct tqt_quant_samples *samples,
                                        struct tqt_diag *d);

struct tqt_search_options {
  enum tqt_search_mode mode;
  tqt_progress_fn progress; /* done of total plan tensors */
  void *progress_ctx;
};

/* Exponent search, after tqt_quant_plan_finish: for each scale group of activations or
 * per-tensor weights, in the order of the plan, the exponents below and above the calibrated
 * one are tried while the error at the model's outputs on the samples falls; the best stays.
 * Steps down stop where the samples do not show what they clip, and at the largest value of
 * class scores (search.c). The tries are kept on the group's root tensor (search_start,
 * search_tries). */
enum tqt_status tqt_quant_search(struct tqt_quant_plan *p, const struct tqt_model *m,
                                 struct tqt_quant_samples *samples,
                                 const struct tqt_search_options *o, struct tqt_diag *d);

/* Bias correction, after the exponents are final: each bias of a quantized Conv, ConvTranspose
 * or Gemm of the main graph gets, per output channel, the mean error its node's quantization adds
 * there on the samples (bias_correction), where it stands out of the noise. Mode auto keeps them
 * when they lower the error at the outputs (all at once or layer by layer), always keeps them
 * (bias.c). */
enum tqt_status tqt_quant_bias_correct(struct tqt_quant_plan *p, const struct tqt_model *m,
                                       struct tqt_quant_samples *samples,
                                       enum tqt_search_mode mode, struct tqt_diag *d);

/* The initializer called name in any graph of m (names are unique model-wide); *graph and *index
 * (when not NULL) say where. NULL when there is none. */
struct tqt_tensor *tqt_quant_initializer(const struct tqt_model *m, const char *name,
                                         struct tqt_graph **graph, size_t *index);

/* The scale of a tensor (channel c for per-channel weights). */
double tqt_quant_scale(const struct tqt_quant_plan *p, const struct tqt_qtensor *t, size_t c);
/* The exponent of channel c of t (not a bias) as Q/DQ writes it: its own, or the one its bias
 * needs (bias_floor), whichever is higher. */
int tqt_quant_exponent(const struct tqt_quant_plan *p, const struct tqt_qtensor *t, size_t c);

#define TQT_AUTO_BITS_CHOICES_MAX 4

struct tqt_auto_bits_options {
  double target_db;                        /* the output SQNR to keep */
  int choices[TQT_AUTO_BITS_CHOICES_MAX];  /* the widths allowed, ascending */
  size_t n_choices;
  tqt_progress_fn progress;
  void *progress_ctx;
};

/* Mixed precision by measurement (bits.c), after the refinements: every layer (a node that
 * quantizes its outputs and weights) gets the fewest bits of the choices that keep the output
 * SQNR on the samples at the target, the least sensitive layers lowered first. Prints the
 * result (and with -v each layer's); the bits are in the plan's tensors. */
enum tqt_status tqt_quant_auto_bits(struct tqt_quant_plan *p, const struct tqt_model *m,
                                    struct tqt_quant_samples *samples,
                                    const struct tqt_auto_bits_options *o, struct tqt_diag *d);

/* Whether m's opset has Q/DQ for the plan's bits: 13 for 8, 21 for up to 16 (int16/uint16); the
 * error names the --opset to use. Checked before calibration and again by the rewrite. */
enum tqt_status tqt_quant_plan_check_opset(const struct tqt_quant_plan *p,
                                           const struct tqt_model *m, struct tqt_diag *d);

/* Rewrites m: Q/DQ pairs on activations, int8 weights and int32 biases behind DequantizeLinear,
 * in whichever graph (main or body) holds each of them. */
enum tqt_status tqt_quant_insert(struct tqt_model *m, const struct tqt_quant_plan *p,
                                 struct tqt_diag *d);

/* --strip: Q/DQ pairs removed, DequantizeLinear of constants folded to float (before the passes,
 * whose cleanup drops what nobody reads any more). *removed counts the DequantizeLinear nodes. */
enum tqt_status tqt_quant_strip(struct tqt_model *m, size_t *removed, struct tqt_diag *d);

#endif
