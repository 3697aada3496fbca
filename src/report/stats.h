/* Statistics of a quantization run (`--stats FILE.json`, the source of `--report`), and their
 * merging (`--stats-in A.json --stats-in B.json ...`) so that calibration can be split over
 * machines: one process per shard writes its statistics, one run merges the histograms and
 * converts. Histograms merge exactly (calib.h), so merged statistics give the thresholds one run
 * over all the data gives.
 *
 * The file is one JSON object:
 *   format "onnx-tqt-stats", version 1; model {path, producer, opset, nodes, fingerprint};
 *   settings {wbits, abits, bbits, act_method, weight_method, input_method, percentile,
 *             per_channel, search (auto|always|off), search_samples, align_add, align_concat,
 *             split_chains, int8_activations, accumulator_bits, exclude_op_types, keep_outputs,
 *             exclude_nodes, quantize_weights_only};
 *   samples; summary {quantized_nodes, excluded_nodes, float_nodes, tensors, by_op_type
 *             {OP: {quantized, excluded, float}}, excluded [{node, op_type, reason}],
 *             weights_only [{node, op_type, reason}] (float nodes with integer weights),
 *             compute_nodes {total, quantized, excluded, in_subgraphs, float [{node, op_type,
             reason}]} (Conv, ConvTranspose, Gemm, MatMul in every graph), size_float_bytes,
             size_quantized_bytes, search {groups, moved, output_sqnr_before_db,
             output_sqnr_after_db} (when the exponent search ran), method_choice {chosen,
             percentile, output_sqnr_db, tries [{method, percentile, output_sqnr_db}]} (when the
             activation method was chosen by measurement; percentile only for percentile)};
 *   tensors [{name, kind (activation|weight|bias), owner, owner_op, method, threshold, exponent,
 *             bits, signed, scale, fp, group, channel_exponents, clip_lo, clip_hi, count, zeros,
 *             nonfinite (NaN and ±inf met in calibration, not in count),
 *             min, max, mean, std, clipped_fraction, sqnr_db, histogram, float_reason (set when
             the tensor stays float: in a branch never taken during calibration), search {start,
             tries [{exponent, output_sqnr_db, uniform (a per-channel weight tried with one
             exponent for all channels)}]} (on the root of a scale group the search tried)}];
 *   nodes [{name, op_type, output, quantized_output, fused_with (the Relu or Clip whose output
 *           carries a Conv/Gemm/MatMul's quantization), inputs, weight, bias,
 *           accumulator {k, needed, available}, sqnr_db, cosine}];
 *   outputs [{name, sqnr_db, cosine, max_abs_diff, mean_abs_diff, top1_agreement}];
 *   warnings [{kind, node|tensor, value, message}].
 * A histogram is {bins_total, range_exp, has_range, count, zeros, min, max, sum, sumsq, bins}
 * with bins up to the last non-empty one; every field of struct tqt_histogram round-trips
 * exactly (doubles are written with 17 digits). Numbers that are unknown or infinite are null
 * (sqnr_db is null with "exact": true when the quantized values equal the float ones). */
#ifndef TQT_REPORT_STATS_H
#define TQT_REPORT_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "calib.h"
#include "compare.h"
#include "diag.h"
#include "ir.h"
#include "options.h"
#include "quant.h"

#define TQT_STATS_FORMAT "onnx-tqt-stats"
#define TQT_STATS_VERSION 1
/* The accumulator width the check assumes ("inter" bits, DESIGN.md). */
#define TQT_STATS_ACCUMULATOR_BITS 32
/* Warnings: a node output below this SQNR, a tensor clipping more than this fraction. */
#define TQT_STATS_LOW_SQNR_DB 20.0
#define TQT_STATS_HIGH_CLIPPED 0.01

json_t *tqt_histogram_to_json(const struct tqt_histogram *h);
/* Fills h from its JSON form; what names it in messages ("A.json: tensor 'x'"). */
enum tqt_status tqt_histogram_from_json(const json_t *j, struct tqt_histogram *h, const char *what,
                                        struct tqt_diag *d);

/* A hash of the main graph (nodes, names, initializers and their bytes), as 16 hex digits. */
void tqt_model_fingerprint(const struct tqt_model *m, char out[17]);

struct tqt_stats_source {
  const struct tqt_quant_plan *plan;   /* finished (thresholds and exponents set) */
  const struct tqt_model *float_model; /* the model the plan was built on, Q/DQ not inserted yet */
  const struct tqt_options *options;
  const char *model_path; /* IN, for the summary */
};

/* The statistics of a finished plan. Call it before tqt_quant_insert: the plan's tensors name
 * their owners by pointers into the float model's nodes. */
enum tqt_status tqt_stats_build(const struct tqt_stats_source *src, json_t **out,
                                struct tqt_diag *d);
/* Adds what the quantized model tells: its size and, when cmp is not NULL (a per-layer
 * comparison of the float model as A with the quantized one as B), the SQNR of every activation,
 * node and output; then the warnings. */
enum tqt_status tqt_stats_finish(json_t *stats, const struct tqt_model *quant_model,
                                 const struct tqt_compare *cmp, struct tqt_diag *d);

/* --stats-in: merges the activation histograms of the stats files into the plan's, by tensor
 * name; float_model is the model the plan was built on (its fingerprint must match the files').
 * Errors name the file and the tensor. The files' sample counts add to p->samples. */
enum tqt_status tqt_stats_merge_files(struct tqt_quant_plan *p, const struct tqt_model *float_model,
                                      const char *const *paths, size_t n_paths,
                                      struct tqt_diag *d);

/* JSON files: written atomically (indent 0: compact; else that many spaces), read whole. */
/* --auto-bits-config: the bits tqt_quant_auto_bits chose as a config file (quant.h): "opset" and
 * per node its "wbits" and "abits", which --config gives back. */
enum tqt_status tqt_auto_bits_config_write(const struct tqt_quant_plan *p, int64_t opset,
                                           const char *path, struct tqt_diag *d);
enum tqt_status tqt_json_write(const json_t *j, const char *path, int indent, struct tqt_diag *d);
enum tqt_status tqt_json_read(const char *path, json_t **out, struct tqt_diag *d);
/* Small helpers for readers of these files: a member as a number (NAN when absent or null),
 * a string ("" when absent), an integer (dflt when absent). */
double tqt_json_num(const json_t *obj, const char *key);
const char *tqt_json_str(const json_t *obj, const char *key);
long long tqt_json_int(const json_t *obj, const char *key, long long dflt);
/* A JSON number, or null when v is not finite. */
json_t *tqt_json_real(double v);

#endif
