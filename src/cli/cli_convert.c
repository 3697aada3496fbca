/* onnx-tqt IN.onnx OUT.onnx --calib INPUT: the main job. Load, check, run the passes, calibrate,
 * insert Q/DQ with power-of-two scales, save. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_analysis.h"
#include "config.h"
#include "dataset.h"
#include "onnx_io.h"
#include "options.h"
#include "parallel.h"
#include "passes.h"
#include "progress.h"
#include "report/stats.h"
#include "quant.h"
#include "tqt_version.h"
#include "train.h"

static const char convert_help[] =
    "usage: onnx-tqt [OPTIONS] IN.onnx OUT.onnx --calib INPUT\n"
    "       onnx-tqt run [OPTIONS] MODEL.onnx INPUT...\n"
    "       onnx-tqt info MODEL.onnx\n"
    "\n"
    "Turns a float ONNX model into one whose every quantization scale is a power of two\n"
    "(Trained Quantization Thresholds, Jain et al. 2020): QuantizeLinear/DequantizeLinear pairs\n"
    "with zero point 0 that ONNX runtimes run as int8 and integer hardware runs with shifts.\n"
    "\n"
    "IN is loaded (external data too), checked, flattened and folded (functions inlined, If on\n"
    "constant conditions replaced by their branch, constants and BatchNormalization folded), run\n"
    "in onnx-tqt's interpreter over the calibration samples, and written to OUT. OUT is written\n"
    "under a temporary name and renamed into place: a failed run leaves no OUT, never touches IN.\n"
    "\n"
    "Calibration:\n"
    "  --calib INPUT     the samples: FILE.npy (axis 0 indexes samples), NAME=FILE.npy\n"
    "                    (repeat per input), a folder of .npy files, the ONNX test layout\n"
    "                    DIR/test_data_set_N/input_K.pb, or DIR/<sample>/<input>.npy;\n"
    "                    'random' uses N(0,1) inputs: the thresholds then mean nothing\n"
    "  --calib-count N   use the first N samples (default: all; 16 for random)\n"
    "  --config FILE.json  settings from a JSON file (keys as the flags, '_' for '-', plus\n"
    "                    per-op-type/per-node overrides and image preprocessing); flags win\n"
    "  --act-method M    activation thresholds: auto (default: kl_j, or with --search global\n"
    "                    kl_j, mse, max or the 99.99th or 99.9th percentile for all,\n"
    "                    whichever gives the lowest output error),\n"
    "                    max, 3sd, percentile, kl_j, mse\n"
    "  --weight-method M weight thresholds: max (default), 3sd, mse\n"
    "  --input-method M  thresholds of the graph inputs (the data itself): max (default), or\n"
    "                    any activation method\n"
    "  --percentile P    for the percentile method (default 99.99)\n"
    "  --search MODE     exponent search: each scale's exponent moved down or up while the\n"
    "                    error of the model's outputs (against the float model) falls;\n"
    "                    global: only the activation method chosen for all (--act-method\n"
    "                    auto); auto (default): each scale when it costs at most ~4e9\n"
    "                    computed values, else global; always; off\n"
    "  --search-samples N  calibration samples the search measures on, spread over them\n"
    "                    (default 32)\n"
    "  --bias-correction MODE  each quantized Conv/Gemm bias moved by the mean error its\n"
    "                    quantization adds per output channel, measured on the search's\n"
    "                    samples; auto (default: kept when the outputs' error falls),\n"
    "                    always, off\n"
    "  --equalize MODE   channel equalization before calibration: channels of small range\n"
    "                    multiplied by powers of two where they are made (Conv, Gemm,\n"
    "                    BatchNormalization) and divided back where they are read (the next\n"
    "                    weights, a BatchNormalization), the float outputs unchanged; auto\n"
    "                    (default: kept when it lowers the outputs' error after calibration,\n"
    "                    search and bias correction by more than 0.25 dB; those then run\n"
    "                    twice), always, off.\n"
    "                    --stats-in takes statistics of runs with --equalize off only\n";
/* Apart from convert_help: C99 caps a string literal at 4095 characters. */
static const char convert_help_quantization[] =
    "Quantization:\n"
    "  --wbits N, --abits N   weight and activation bits, 2-16 (default 8); 9-16 need\n"
    "                    --opset 21 (int16/uint16 Q/DQ); fewer than 8 or 16 keep those\n"
    "                    containers with a narrower range\n"
    "  --bbits N         bias bits, up to 32 (default 32)\n"
    "  --per-channel     one exponent per output channel of each weight (the default; the\n"
    "                    search also tries one exponent for all channels)\n"
    "  --per-tensor      one exponent per weight tensor, as TQT has it\n"
    "  --exclude-op-types A,B   leave these op types in float\n"
    "  --exclude-nodes N,/RE/   leave these nodes in float (exact names or /regular expressions/,\n"
    "                    matched against the names in IN; inlined nodes are 'call/inner')\n"
    "  --no-align-add    let the inputs of Add keep their own scales (a constant added keeps\n"
    "                    its own anyway)\n"
    "  --align-concat    every Concat input shares the output's scale (default: only those\n"
    "                    no other node reads; the others keep theirs and are requantized)\n"
    "  --split-chains    quantize after every op of a chain of one tensor (a decomposed\n"
    "                    HardSwish, GELU, LayerNorm: Add, Clip, Mul, Div, Erf, ReduceMean...);\n"
    "                    by default the chain runs in float between one DequantizeLinear and\n"
    "                    one QuantizeLinear\n"
    "  --int8-activations  signed activations in int8 with zero point 0 (TensorRT, ONNX\n"
    "                    Runtime on ARM); by default uint8 with zero point 128, the same\n"
    "                    values, which ONNX Runtime's x86 integer kernels take (with int8 it\n"
    "                    leaves most Convs and MatMuls in float). Weights stay int8\n"
    "  --min-quantized F fail (exit 1, no OUT) when less than this fraction of the compute\n"
    "                    nodes (Conv, ConvTranspose, Gemm, MatMul) is quantized; below 0.5 is\n"
    "                    a warning anyway unless nodes were excluded; -v says why\n"
    "  --no-quantize     flatten and fold only: write a float model (no --calib needed)\n"
    "  --strip           the reverse: a quantized (QDQ) model back to float, Q/DQ pairs removed\n"
    "                    and integer constants dequantized (onnx-tqt's models or other tools')\n"
    ;

/* Apart from convert_help: C99 caps a string literal at 4095 characters. */
static const char convert_help_graph[] =
    "Graph:\n"
    "  --set-input NAME=VALUE  freeze input NAME to a constant (numbers separated by commas,\n"
    "                    or true/false), so that what depends on it folds away; repeatable\n"
    "  --input-shape NAME=D0,D1,...  fix the dims of input NAME; repeatable\n"
    "  --keep-outputs A,B  keep only these outputs (side outputs, training heads the deployed\n"
    "                    model never returns): what only the others need goes, and the\n"
    "                    refinements measure the error at these\n"
    "  --static-shapes   fix every dynamic input dim to the first calibration sample's (printed);\n"
    "                    OUT then only runs at that size. Default: dims stay symbolic\n"
    "  --opset N         the default-domain opset to write, 13 (default) to 21; older models\n"
    "                    are upgraded to it. From 17 a LayerNorm written out in ops (opset-13\n"
    "                    transformer exports) becomes one LayerNormalization; 21 has 16-bit Q/DQ\n"
    "  --keep-float16    leave float16 inside the model, unquantized (default: a float16 model\n"
    "                    computes in float32 between its float16 inputs and outputs)\n"
    "Output:\n"
    "  --external-data   write tensors of 1 KiB and more to OUT.data beside OUT (done anyway\n"
    "                    when the model would pass protobuf's 2 GB limit)\n"
    "  --threads N       workers (default: the cores): calibration samples, the refinements'\n"
    "                    and retraining's runs over their samples and the thresholds spread\n"
    "                    over N threads, each sample's matrix products on one; OUT is the\n"
    "                    same for any N. Each worker holds its own activations: 1 uses the\n"
    "                    least memory\n"
    "  -q, --quiet       print nothing but errors\n"
    "  -v, --verbose     say what each step, pass and layer did\n"
    "  --version         print the version and exit\n"
    "  -h, --help        print this help and exit\n"
;

static const char convert_help_tail[] =
    "\n"
    "Subcommands:\n"
    "  info MODEL.onnx   opsets, op counts, inputs/outputs, functions, subgraphs, weights\n"
    "  run MODEL INPUT   run the interpreter, write the outputs as .npy (run --help)\n"
    "  compare A B --data INPUT  how far B's outputs are from A's (compare --help)\n"
    "\n"
    "Exit status: 0 done, 1 the model or data could not be processed (one line names file, node\n"
    "and op), 2 usage error.\n";

/* Apart from convert_help: C99 caps a string literal at 4095 characters. */
static const char convert_help_retrain[] =
    "\n"
    "Retraining (TQT):\n"
    "  --retrain         after calibration (and the search, bias correction), train every\n"
    "                    threshold's log2 t (Adam) from there so that the quantized model's\n"
    "                    outputs follow the float model's on the calibration samples; the\n"
    "                    thresholds of the epoch best on held-out samples are kept, the\n"
    "                    static ones when no epoch beats them\n"
    "  --val-split F     the fraction of the calibration samples held out to judge epochs\n"
    "                    (default 0.1, spread over them; 0: judge on the training samples)\n"
    "  --epochs N        passes over the samples (default 5)\n"
    "  --lr X            Adam learning rate on log2 t (default 1e-2)\n"
    "  --batch N         samples per step (default 16)\n"
    "  --seed N          sample order (default 0)\n"
    "  --retrain-loss L  mse (default) or kl (on the softmax of the outputs)\n";

static const char convert_help_weights_only[] =
    "\n"
    "Weight compression:\n"
    "  --quantize-weights-only OP,...  keep nodes of these op types in float but store their\n"
    "                    weights as int8 behind DequantizeLinear (LSTM, GRU, RNN: W and R, B\n"
    "                    stays float; another op: every constant float input of rank 2 or\n"
    "                    more); --per-channel: one exponent per gate row of W and R. The nodes\n"
    "                    around them are quantized as usual\n";

static const char convert_help_auto_bits[] =
    "\n"
    "Mixed precision:\n"
    "  --auto-bits DB    give each layer (a node with its outputs and weights) the fewest bits\n"
    "                    of --bits-choices that keep the output SQNR on the measuring samples\n"
    "                    at DB: all start at the most, the least sensitive are lowered first\n"
    "                    (a run a layer per width, and a few). More than 8 bits: --opset 21\n"
    "  --bits-choices A,B  the widths allowed, 2-16 (default 8,16)\n"
    "  --auto-bits-config FILE.json  write the choice as a config file (\"nodes\": per node\n"
    "                    wbits and abits), to edit and give back with --config\n";

/* analysis (cli_analysis.h) */
static const char convert_help_analysis[] =
    "\n"
    "Analysis of the quantization:\n"
    "  --stats FILE.json per tensor its method, threshold, exponent, scale, statistics, clipped\n"
    "                    fraction, SQNR and histogram; per node accumulator bits and output\n"
    "                    SQNR (float vs quantized model on the calibration samples); per model\n"
    "                    counts by op type and sizes\n"
    "  --stats-in FILE.json  thresholds from the merged histograms of statistics files (one per\n"
    "                    calibration shard, same model and options), repeatable; --calib then\n"
    "                    is optional (its samples merge in too, and measure the SQNR)\n"
    "  --report FILE.html  a self-contained HTML report: summary, warnings, a sortable layer\n"
    "                    table, a histogram per tensor with threshold and clip range\n"
    "  --export-fixpoint FILE.json  for integer-only code: per tensor its fixed-point position,\n"
    "                    per Conv/Gemm/MatMul the output and bias shifts and accumulator width\n";

/* True when both paths name the same existing file. */
static bool convert_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/* Parses NAME=D0,D1,... into shape. Returns 0, or -1 when malformed. */
static int convert_input_shape(char *arg, struct tqt_input_shape *shape) {
  char *eq = strchr(arg, '=');
  if (!eq || eq == arg || !eq[1]) return -1;
  *eq = '\0';
  shape->name = arg;
  shape->rank = 0;
  for (char *p = eq + 1; *p;) {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v <= 0 || shape->rank == sizeof shape->dims / sizeof shape->dims[0]) return -1;
    shape->dims[shape->rank++] = v;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  return 0;
}

/* An integer option in [lo, hi]; -1 when malformed. */
static long convert_int(const char *arg, long lo, long hi) {
  char *end;
  long v = strtol(arg, &end, 10);
  return *arg && !*end && v >= lo && v <= hi ? v : -1;
}

/* --bits-choices A,B,...: 2 to TQT_AUTO_BITS_CHOICES_MAX widths of 2 to 16, ascending; -1 when
 * malformed. */
static int convert_bits_choices(const char *arg, struct tqt_auto_bits_options *o) {
  size_t n = 0;
  for (const char *p = arg; *p; n++) {
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p || v < 2 || v > 16 || n == TQT_AUTO_BITS_CHOICES_MAX ||
        (n && v <= o->choices[n - 1]) || (*end && *end != ','))
      return -1;
    o->choices[n] = (int)v;
    p = *end ? end + 1 : end;
  }
  if (n < 2) return -1;
  o->n_choices = n;
  return 0;
}

/* Splits a comma-separated list into list (pointers into arg, which is modified). */
static void convert_split(char *arg, const char **list, size_t *n) {
  for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ","))
    if (*tok) list[(*n)++] = tok;
}

/* The FILE of --config FILE (or --config=FILE), NULL when none: the file is read before the
 * other flags so that they override it. */
static const char *convert_config_path(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--")) break;
    if (!strcmp(argv[i], "--config") && i + 1 < argc) path = argv[++i];
    else if (!strncmp(argv[i], "--config=", 9)) path = argv[i] + 9;
  }
  return path;
}

static void convert_progress(void *ctx, size_t done, size_t total) {
  struct cli_progress *p = ctx;
  p->total = total;
  cli_progress_update(p, done);
}

/* --static-shapes: the dims of the first calibration sample become --input-shape entries for
 * every graph input (not frozen by --set-input, not given an --input-shape) with a dynamic dim. */
static enum tqt_status convert_static_shapes(const struct tqt_model *m, struct tqt_options *o,
                                             const char *const *specs, size_t n_specs,
                                             struct tqt_input_shape *shapes, size_t *n_shapes,
                                             struct tqt_diag *d) {
  const struct tqt_graph *g = m->graph;
  if (!n_specs || !strcmp(specs[0], "random"))
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "--static-shapes needs --calib with real samples");
  const struct tqt_value_info **inputs = calloc(g->n_inputs + 1, sizeof *inputs);
  struct tqt_value *values = calloc(g->n_inputs + 1, sizeof *values);
  struct tqt_dataset *ds = NULL;
  size_t n = 0;
  enum tqt_status st = TQT_STATUS_OK;
  if (!inputs || !values) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < g->n_inputs; i++) {
    bool fed = true;
    for (size_t k = 0; k < g->n_initializers && fed; k++)
      fed = strcmp(g->initializers[k]->name, g->inputs[i].name) != 0;
    for (size_t k = 0; k < o->n_set_inputs && fed; k++)
      fed = strcmp(o->set_inputs[k].name, g->inputs[i].name) != 0;
    if (fed) inputs[n++] = &g->inputs[i];
  }
  if ((st = tqt_dataset_open(specs, n_specs, inputs, n, o->preprocess, &ds, d)) != TQT_STATUS_OK ||
      (st = tqt_dataset_sample(ds, 0, values, d)) != TQT_STATUS_OK)
    goto done;
  for (size_t i = 0; i < n; i++) {
    const struct tqt_type *t = inputs[i]->type;
    bool dynamic = !t->has_shape;
    for (size_t k = 0; t->has_shape && k < t->rank; k++) dynamic |= !t->dims[k].has_value;
    for (size_t k = 0; k < *n_shapes && dynamic; k++)
      dynamic = strcmp(shapes[k].name, inputs[i]->name) != 0;
    if (!dynamic || values[i].kind != TQT_VALUE_KIND_TENSOR) continue;
    struct tqt_input_shape *s = &shapes[(*n_shapes)++];
    s->name = inputs[i]->name;
    s->rank = values[i].t.rank;
    memcpy(s->dims, values[i].t.dims, s->rank * sizeof *s->dims);
    char buf[160];
    tqt_diag_warn(d, "--static-shapes: input '%s' fixed to %s", s->name,
                  tqt_rt_shape_str(&values[i].t, buf, sizeof buf));
  }
  if (*n_shapes) o->input_shapes = shapes, o->n_input_shapes = *n_shapes;
done:
  tqt_dataset_close(ds);
  free(inputs);
  free(values);
  return st;
}

/* How many compute nodes (If/Loop/Scan bodies included) the plan quantizes: -v says why each
 * other one stays float; a warning when fewer than half are and the user excluded none;
 * --min-quantized makes it an error. */
/* What the stages after the plan need (convert_stages). */
struct convert_stage {
  struct tqt_model *m;
  const struct tqt_options *o;
  const char *const *specs;
  size_t n_specs, count;
  int threads;
  bool measure;   /* real samples: the refinements measure on them */
  bool auto_bits; /* --auto-bits measures on them too */
};

/* Calibration, thresholds, the measuring samples, the exponent search and bias correction of p
 * (a tqt_quant_stage_fn: equalization is judged through them). The search and bias correction
 * measure on real samples only: random inputs say nothing about the model's use. */
static enum tqt_status convert_stages(void *ctx, struct tqt_quant_plan *p,
                                      struct tqt_quant_samples **samples, struct tqt_diag *d) {
  const struct convert_stage *c = ctx;
  const struct tqt_options *o = c->o;
  struct cli_progress progress;
  enum tqt_status st = TQT_STATUS_OK;
  cli_progress_start(&progress, "calibration", 0, d->verbosity == TQT_VERBOSITY_QUIET);
  if (c->n_specs && (st = tqt_quant_calibrate(p, c->m, c->specs, c->n_specs, c->count, c->threads,
                                              convert_progress, &progress, d)) != TQT_STATUS_OK)
    return st;
  cli_progress_end(&progress);
  if ((st = tqt_quant_plan_finish(p, c->m, o, (size_t)c->threads, d)) != TQT_STATUS_OK) return st;
  size_t ss = o->search_samples ? o->search_samples : TQT_SEARCH_SAMPLES_DEFAULT;
  bool measured = o->search != TQT_SEARCH_MODE_OFF || o->bias_correction != TQT_SEARCH_MODE_OFF ||
                  o->equalize == TQT_SEARCH_MODE_AUTO || c->auto_bits;
  if (!c->measure || !measured) return TQT_STATUS_OK;
  if ((st = tqt_quant_samples_load(p, c->m, c->specs, c->n_specs, ss, c->count, c->threads,
                                   samples, d)) != TQT_STATUS_OK)
    return st;
  if (o->search != TQT_SEARCH_MODE_OFF) {
    struct tqt_search_options so = {.mode = o->search, .progress = convert_progress,
                                    .progress_ctx = &progress};
    cli_progress_start(&progress, "exponent search", 0, d->verbosity == TQT_VERBOSITY_QUIET);
    if ((st = tqt_quant_search(p, c->m, *samples, &so, d)) != TQT_STATUS_OK) return st;
    cli_progress_end(&progress);
  }
  if (o->bias_correction != TQT_SEARCH_MODE_OFF)
    st = tqt_quant_bias_correct(p, c->m, *samples, o->bias_correction, d);
  return st;
}

static enum tqt_status convert_coverage(const struct tqt_quant_plan *p, double min_quantized,
                                        struct tqt_diag *d) {
  for (size_t gi = 0; gi < p->n_graphs; gi++) {
    const struct tqt_quant_graph *qg = &p->graphs[gi];
    for (size_t i = 0; i < qg->n_nodes; i++) {
      const struct tqt_node *n = qg->graph->nodes[i];
      if (tqt_quant_is_compute(n) && qg->states[i] != TQT_NODE_QUANT_QUANTIZED)
        tqt_diag_note(d, "node '%s' (%s)%s%s%s stays float: %s", n->name, n->op_type,
                      qg->depth ? " in body '" : "",
                      qg->depth && qg->graph->name ? qg->graph->name : "", qg->depth ? "'" : "",
                      qg->reasons[i]);
    }
  }
  size_t total = p->n_compute;
  double fraction = total ? (double)p->n_compute_quantized / (double)total : 1.0;
  if (min_quantized >= 0 && fraction < min_quantized)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                         "%zu of %zu compute nodes (Conv, ConvTranspose, Gemm, MatMul) quantized "
                         "(%.0f %%), below --min-quantized %g; -v says why each stays float",
                         p->n_compute_quantized, total, 100 * fraction, min_quantized);
  if (fraction < 0.5 && !p->n_compute_excluded)
    tqt_diag_warn(d, "only %zu of %zu compute nodes (Conv, ConvTranspose, Gemm, MatMul) are "
                     "quantized; -v says why each other one stays float",
                  p->n_compute_quantized, total);
  return TQT_STATUS_OK;
}

/* Below this output SQNR on the measuring samples the error is at least half the signal. */
#define CONVERT_OUTPUT_SQNR_WARN_DB 3.0

/* A warning when the int8 model's outputs are far from the float model's: a model quantization
 * breaks (a Log of a power spectrum, a network that amplifies rounding) must not pass silently.
 * The refinements' last measurement when there is one, else one run within the search's
 * budget. With several outputs, which are far and which near (one run more): a net's side
 * outputs can be far while the one its users read is near (ISNet). */
static enum tqt_status convert_output_check(const struct tqt_quant_plan *p,
                                            struct tqt_quant_samples *samples,
                                            struct tqt_diag *d) {
  double err;
  bool measured = tqt_quant_plan_output_error(p, &err);
  bool affordable = tqt_quant_samples_run_values(samples) <= TQT_SEARCH_AUTO_BUDGET;
  enum tqt_status st;
  if (!measured && !affordable) return TQT_STATUS_OK;
  if (!measured && (st = tqt_quant_samples_error(samples, &err, d)) != TQT_STATUS_OK) return st;
  double sqnr = -10 * log10(err);
  if (sqnr >= CONVERT_OUTPUT_SQNR_WARN_DB) return TQT_STATUS_OK;
  const struct tqt_graph *g = p->graphs[0].graph;
  char which[512] = "";
  if (g->n_outputs > 1 && (!measured || affordable)) {
    if (measured && (st = tqt_quant_samples_error(samples, &err, d)) != TQT_STATUS_OK) return st;
    size_t far = SIZE_MAX, near = SIZE_MAX;
    for (size_t j = 0; j < g->n_outputs; j++) {
      double e = tqt_quant_samples_output_error(samples, j);
      if (isnan(e)) continue;
      if (far == SIZE_MAX || e > tqt_quant_samples_output_error(samples, far)) far = j;
      if (near == SIZE_MAX || e < tqt_quant_samples_output_error(samples, near)) near = j;
    }
    if (far != near)
    snprintf(which, sizeof which, "; of the %zu outputs '%s' is the farthest (%.1f dB), '%s' the "
             "nearest (%.1f dB): --keep-outputs keeps only those that are read", g->n_outputs,
             g->outputs[far].name, -10 * log10(tqt_quant_samples_output_error(samples, far)),
             g->outputs[near].name, -10 * log10(tqt_quant_samples_output_error(samples, near)));
  }
  tqt_diag_warn(d, "the quantized outputs are far from the float model's: output SQNR %.1f dB "
                "on %zu calibration samples (the error is at least half the signal%s); --report "
                "shows where it is lost (SQNR per node), --exclude-nodes and "
                "--exclude-op-types keep those nodes float",
                sqnr, tqt_quant_samples_count(samples), which);
  return TQT_STATUS_OK;
}

int cli_convert_main(int argc, char **argv) {
  enum {
    OPT_VERSION = 256, OPT_EXTERNAL_DATA, OPT_SET_INPUT, OPT_INPUT_SHAPE, OPT_NO_QUANTIZE,
    OPT_CALIB, OPT_CALIB_COUNT, OPT_ACT_METHOD, OPT_WEIGHT_METHOD, OPT_INPUT_METHOD, OPT_PERCENTILE, OPT_WBITS,
    OPT_ABITS, OPT_BBITS, OPT_PER_CHANNEL, OPT_PER_TENSOR, OPT_SEARCH, OPT_SEARCH_SAMPLES, OPT_BIAS_CORRECTION, OPT_EQUALIZE, OPT_EXCLUDE_OP_TYPES, OPT_EXCLUDE_NODES, OPT_KEEP_OUTPUTS,
    OPT_QUANTIZE_WEIGHTS_ONLY,
    OPT_NO_ALIGN_ADD, OPT_ALIGN_CONCAT, OPT_SPLIT_CHAINS, OPT_INT8_ACTIVATIONS, OPT_THREADS, OPT_STRIP, OPT_OPSET, OPT_CONFIG,
    OPT_RETRAIN, OPT_EPOCHS, OPT_LR, OPT_BATCH, OPT_SEED, OPT_RETRAIN_LOSS, OPT_VAL_SPLIT,
    OPT_STATS, OPT_STATS_IN, OPT_REPORT, OPT_EXPORT_FIXPOINT, OPT_MIN_QUANTIZED, OPT_STATIC_SHAPES,
    OPT_KEEP_FLOAT16, OPT_AUTO_BITS, OPT_BITS_CHOICES, OPT_AUTO_BITS_CONFIG,
  };
  static const struct option options[] = {
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {"quiet", no_argument, NULL, 'q'},
      {"verbose", no_argument, NULL, 'v'},
      {"external-data", no_argument, NULL, OPT_EXTERNAL_DATA},
      {"set-input", required_argument, NULL, OPT_SET_INPUT},
      {"input-shape", required_argument, NULL, OPT_INPUT_SHAPE},
      {"no-quantize", no_argument, NULL, OPT_NO_QUANTIZE},
      {"calib", required_argument, NULL, OPT_CALIB},
      {"calib-count", required_argument, NULL, OPT_CALIB_COUNT},
      {"act-method", required_argument, NULL, OPT_ACT_METHOD},
      {"weight-method", required_argument, NULL, OPT_WEIGHT_METHOD},
      {"input-method", required_argument, NULL, OPT_INPUT_METHOD},
      {"percentile", required_argument, NULL, OPT_PERCENTILE},
      {"wbits", required_argument, NULL, OPT_WBITS},
      {"abits", required_argument, NULL, OPT_ABITS},
      {"bbits", required_argument, NULL, OPT_BBITS},
      {"per-channel", no_argument, NULL, OPT_PER_CHANNEL},
      {"per-tensor", no_argument, NULL, OPT_PER_TENSOR},
      {"search", required_argument, NULL, OPT_SEARCH},
      {"search-samples", required_argument, NULL, OPT_SEARCH_SAMPLES},
      {"bias-correction", required_argument, NULL, OPT_BIAS_CORRECTION},
      {"equalize", required_argument, NULL, OPT_EQUALIZE},
      {"exclude-op-types", required_argument, NULL, OPT_EXCLUDE_OP_TYPES},
      {"exclude-nodes", required_argument, NULL, OPT_EXCLUDE_NODES},
      {"keep-outputs", required_argument, NULL, OPT_KEEP_OUTPUTS},
      {"auto-bits", required_argument, NULL, OPT_AUTO_BITS},
      {"bits-choices", required_argument, NULL, OPT_BITS_CHOICES},
      {"auto-bits-config", required_argument, NULL, OPT_AUTO_BITS_CONFIG},
      {"quantize-weights-only", required_argument, NULL, OPT_QUANTIZE_WEIGHTS_ONLY},
      {"no-align-add", no_argument, NULL, OPT_NO_ALIGN_ADD},
      {"align-concat", no_argument, NULL, OPT_ALIGN_CONCAT},
      {"split-chains", no_argument, NULL, OPT_SPLIT_CHAINS},
      {"int8-activations", no_argument, NULL, OPT_INT8_ACTIVATIONS},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"strip", no_argument, NULL, OPT_STRIP},
      {"opset", required_argument, NULL, OPT_OPSET},
      {"config", required_argument, NULL, OPT_CONFIG},
      {"retrain", no_argument, NULL, OPT_RETRAIN},
      {"epochs", required_argument, NULL, OPT_EPOCHS},
      {"lr", required_argument, NULL, OPT_LR},
      {"batch", required_argument, NULL, OPT_BATCH},
      {"seed", required_argument, NULL, OPT_SEED},
      {"val-split", required_argument, NULL, OPT_VAL_SPLIT},
      {"retrain-loss", required_argument, NULL, OPT_RETRAIN_LOSS},
      {"stats", required_argument, NULL, OPT_STATS},
      {"stats-in", required_argument, NULL, OPT_STATS_IN},
      {"report", required_argument, NULL, OPT_REPORT},
      {"export-fixpoint", required_argument, NULL, OPT_EXPORT_FIXPOINT},
      {"min-quantized", required_argument, NULL, OPT_MIN_QUANTIZED},
      {"static-shapes", no_argument, NULL, OPT_STATIC_SHAPES},
      {"keep-float16", no_argument, NULL, OPT_KEEP_FLOAT16},
      {NULL, 0, NULL, 0},
  };
  struct tqt_diag d = {0};
  struct tqt_save_options save = {TQT_EXTERNAL_AUTO, 0};
  /* Per-channel weights by default: with the exponent search it won on the real-model corpus
   * (README); the library's zero options stay per tensor, as the design has it. */
  struct tqt_options topts = {.per_channel = true};
  /* Every list holds at most one entry per argument (or per character of one): argc and the
   * longest argument bound them. */
  size_t list_max = (size_t)argc;
  for (int i = 0; i < argc; i++) list_max += strlen(argv[i]);
  struct tqt_set_input *set_inputs = calloc(list_max, sizeof *set_inputs);
  struct tqt_input_shape *input_shapes = calloc(list_max, sizeof *input_shapes);
  const char **exclude_ops = calloc(list_max, sizeof *exclude_ops);
  const char **exclude_nodes = calloc(list_max, sizeof *exclude_nodes);
  const char **keep_outputs = calloc(list_max, sizeof *keep_outputs);
  size_t n_keep_outputs = 0;
  const char **weights_only = calloc(list_max, sizeof *weights_only);
  size_t n_weights_only = 0;
  const char **calib = calloc(list_max, sizeof *calib);
  size_t n_calib = 0, calib_count = 0;
  size_t n_set_inputs = 0, n_input_shapes = 0, n_exclude_ops = 0, n_exclude_nodes = 0;
  struct tqt_arena *config_arena = NULL;
  const char *config_path = convert_config_path(argc, argv);
  bool no_quantize = false, strip = false, retrain = false, static_shapes = false;
  struct tqt_train_options train = {.epochs = 5, .lr = 1e-2, .batch = 16,
                                    .val_split = TQT_TRAIN_VAL_SPLIT_DEFAULT};
  int threads = 0;
  struct tqt_auto_bits_options auto_bits = {.choices = {8, 16}, .n_choices = 2};
  const char *auto_bits_config = NULL;
  double min_quantized = -1; /* --min-quantized: the least fraction of compute nodes */
  struct tqt_model *m = NULL;
  struct tqt_quant_plan *plan = NULL;
  struct tqt_quant_samples *samples = NULL;
  struct tqt_quant_equalization *equalization = NULL;
  int status = CLI_EXIT_USAGE;
  /* analysis (cli_analysis.h) */
  struct cli_analysis analysis = {.stats_in = calloc(list_max, sizeof *analysis.stats_in)};
  if (!set_inputs || !input_shapes || !exclude_ops || !exclude_nodes || !keep_outputs || !weights_only || !calib ||
      !analysis.stats_in) {
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if (config_path) {
    if (!(config_arena = tqt_arena_create())) {
      tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
    if (tqt_config_load(config_path, &topts, config_arena, &d) != TQT_STATUS_OK) goto fail;
  }
  int opt;
  long v;
  enum tqt_threshold_method method;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":hqv", options, NULL)) != -1) {
    switch (opt) {
    case 'h':
      fputs(convert_help, stdout);
      fputs(convert_help_quantization, stdout);
      fputs(convert_help_graph, stdout);
      fputs(convert_help_weights_only, stdout);
      fputs(convert_help_auto_bits, stdout);
      fputs(convert_help_retrain, stdout);
      fputs(convert_help_analysis, stdout);
      fputs(convert_help_tail, stdout);
      status = CLI_EXIT_OK;
      goto done;
    case OPT_VERSION:
      printf("onnx-tqt %s\n", TQT_VERSION);
      status = CLI_EXIT_OK;
      goto done;
    case 'q': d.verbosity = TQT_VERBOSITY_QUIET; break;
    case 'v': d.verbosity = TQT_VERBOSITY_VERBOSE; break;
    case OPT_EXTERNAL_DATA: save.external = TQT_EXTERNAL_ALWAYS; break;
    case OPT_NO_QUANTIZE: no_quantize = true; break;
    case OPT_STRIP: strip = no_quantize = true; break;
    case OPT_OPSET:
      if ((v = convert_int(optarg, 13, 21)) < 0) {
        status = cli_usage_error("--opset takes 13 to 21, not '%s'", optarg);
        goto done;
      }
      topts.opset = v;
      break;
    case OPT_PER_CHANNEL: topts.per_channel = true; break;
    case OPT_PER_TENSOR: topts.per_channel = false; break;
    case OPT_SEARCH:
      if (!tqt_search_mode_parse(optarg, &topts.search)) {
        status = cli_usage_error("--search takes auto, always, global or off, not '%s'", optarg);
        goto done;
      }
      break;
    case OPT_BIAS_CORRECTION:
    case OPT_EQUALIZE: { /* the refinements without a global mode */
      bool eq = opt == OPT_EQUALIZE;
      enum tqt_search_mode *mode = eq ? &topts.equalize : &topts.bias_correction;
      if (!tqt_search_mode_parse(optarg, mode) || *mode == TQT_SEARCH_MODE_GLOBAL) {
        status = cli_usage_error("--%s takes auto, always or off, not '%s'",
                                 eq ? "equalize" : "bias-correction", optarg);
        goto done;
      }
      break;
    }
    case OPT_SEARCH_SAMPLES:
      if ((v = convert_int(optarg, 1, 1000000)) < 0) {
        status = cli_usage_error("--search-samples takes 1 to 1000000, not '%s'", optarg);
        goto done;
      }
      topts.search_samples = (size_t)v;
      break;
    case OPT_NO_ALIGN_ADD: topts.no_align_add = true; break;
    case OPT_ALIGN_CONCAT: topts.align_concat = true; break;
    case OPT_SPLIT_CHAINS: topts.split_chains = true; break;
    case OPT_INT8_ACTIVATIONS: topts.int8_activations = true; break;
    case OPT_CALIB: calib[n_calib++] = optarg; break;
    case OPT_CONFIG: break; /* read before the loop */
    case OPT_RETRAIN: retrain = true; break;
    case OPT_EPOCHS:
    case OPT_BATCH:
    case OPT_SEED:
      if ((v = convert_int(optarg, opt == OPT_SEED ? 0 : 1, 1L << 30)) < 0) {
        status = cli_usage_error("%s takes a %s number, not '%s'", argv[optind - 1],
                                 opt == OPT_SEED ? "non-negative" : "positive", optarg);
        goto done;
      }
      if (opt == OPT_EPOCHS) train.epochs = (int)v;
      else if (opt == OPT_BATCH) train.batch = (size_t)v;
      else train.seed = (uint64_t)v;
      break;
    case OPT_STATIC_SHAPES: static_shapes = true; break;
    case OPT_KEEP_FLOAT16: topts.keep_float16 = true; break;
    case OPT_MIN_QUANTIZED: {
      char *end;
      min_quantized = strtod(optarg, &end);
      if (*end || end == optarg || !(min_quantized >= 0 && min_quantized <= 1)) {
        status = cli_usage_error("--min-quantized takes a fraction from 0 to 1, not '%s'", optarg);
        goto done;
      }
      break;
    }
    case OPT_VAL_SPLIT: {
      char *end;
      double f = strtod(optarg, &end);
      if (*end || end == optarg || !(f >= 0 && f < 1)) {
        status = cli_usage_error("--val-split takes a fraction in [0, 1), not '%s'", optarg);
        goto done;
      }
      train.val_split = f;
      break;
    }
    case OPT_LR: {
      char *end;
      double lr = strtod(optarg, &end);
      if (*end || !(lr > 0 && lr < 10)) {
        status = cli_usage_error("--lr takes a number in (0, 10), not '%s'", optarg);
        goto done;
      }
      train.lr = lr;
      break;
    }
    case OPT_RETRAIN_LOSS:
      if (strcmp(optarg, "mse") && strcmp(optarg, "kl")) {
        status = cli_usage_error("--retrain-loss: unknown loss '%s' (mse, kl)", optarg);
        goto done;
      }
      train.loss = strcmp(optarg, "kl") ? TQT_TRAIN_LOSS_MSE : TQT_TRAIN_LOSS_KL;
      break;
    case OPT_EXCLUDE_OP_TYPES: convert_split(optarg, exclude_ops, &n_exclude_ops); break;
    case OPT_EXCLUDE_NODES: convert_split(optarg, exclude_nodes, &n_exclude_nodes); break;
    case OPT_KEEP_OUTPUTS: convert_split(optarg, keep_outputs, &n_keep_outputs); break;
    case OPT_AUTO_BITS: {
      char *end;
      auto_bits.target_db = strtod(optarg, &end);
      if (!*optarg || *end || !(auto_bits.target_db > 0 && auto_bits.target_db <= 200)) {
        status = cli_usage_error("--auto-bits takes an output SQNR in dB (0 to 200), not '%s'",
                                 optarg);
        goto done;
      }
      break;
    }
    case OPT_BITS_CHOICES:
      if (convert_bits_choices(optarg, &auto_bits) != 0) {
        status = cli_usage_error("--bits-choices takes 2 to %d widths of 2 to 16 bits in "
                                 "ascending order, such as 8,16, not '%s'",
                                 TQT_AUTO_BITS_CHOICES_MAX, optarg);
        goto done;
      }
      break;
    case OPT_AUTO_BITS_CONFIG: auto_bits_config = optarg; break;
    case OPT_QUANTIZE_WEIGHTS_ONLY: convert_split(optarg, weights_only, &n_weights_only); break;
    case OPT_CALIB_COUNT:
      if ((v = convert_int(optarg, 1, 1L << 40)) < 0) {
        status = cli_usage_error("--calib-count takes a positive number, not '%s'", optarg);
        goto done;
      }
      calib_count = (size_t)v;
      break;
    case OPT_THREADS:
      if ((v = convert_int(optarg, 1, 1024)) < 0) {
        status = cli_usage_error("--threads takes 1 to 1024, not '%s'", optarg);
        goto done;
      }
      threads = (int)v;
      break;
    case OPT_WBITS:
    case OPT_ABITS:
      if ((v = convert_int(optarg, 2, 16)) < 0) {
        status = cli_usage_error("%s takes 2 to 16, not '%s'", argv[optind - 1], optarg);
        goto done;
      }
      *(opt == OPT_WBITS ? &topts.wbits : &topts.abits) = (int)v;
      break;
    case OPT_BBITS:
      if ((v = convert_int(optarg, 8, 32)) < 0) {
        status = cli_usage_error("--bbits takes 8 to 32, not '%s'", optarg);
        goto done;
      }
      topts.bbits = (int)v;
      break;
    case OPT_ACT_METHOD:
    case OPT_INPUT_METHOD:
    case OPT_WEIGHT_METHOD:
      if (opt == OPT_ACT_METHOD && !strcmp(optarg, "auto")) {
        topts.act_method = optarg;
        break;
      }
      if (!tqt_threshold_method_parse(optarg, &method) ||
          (opt == OPT_WEIGHT_METHOD && (method == TQT_THRESHOLD_METHOD_KL_J ||
                                        method == TQT_THRESHOLD_METHOD_PERCENTILE))) {
        status = cli_usage_error("%s: unknown method '%s' (%s)", argv[optind - 1], optarg,
                                 opt == OPT_WEIGHT_METHOD  ? "max, 3sd, mse"
                                 : opt == OPT_ACT_METHOD ? "auto, max, 3sd, percentile, kl_j, mse"
                                                         : "max, 3sd, percentile, kl_j, mse");
        goto done;
      }
      *(opt == OPT_ACT_METHOD     ? &topts.act_method
        : opt == OPT_INPUT_METHOD ? &topts.input_method
                                  : &topts.weight_method) = optarg;
      break;
    case OPT_PERCENTILE: {
      char *end;
      double p = strtod(optarg, &end);
      if (*end || !(p > 0 && p <= 100)) {
        status = cli_usage_error("--percentile takes a number in (0, 100], not '%s'", optarg);
        goto done;
      }
      topts.percentile = p;
      break;
    }
    case OPT_SET_INPUT: {
      char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg || !eq[1]) {
        status = cli_usage_error("--set-input takes NAME=VALUE, not '%s'", optarg);
        goto done;
      }
      *eq = '\0';
      set_inputs[n_set_inputs++] = (struct tqt_set_input){optarg, eq + 1};
      break;
    }
    case OPT_INPUT_SHAPE:
      if (convert_input_shape(optarg, &input_shapes[n_input_shapes]) != 0) {
        status = cli_usage_error("--input-shape takes NAME=D0,D1,... (positive dims), not '%s'",
                                 optarg);
        goto done;
      }
      n_input_shapes++;
      break;
    /* analysis (cli_analysis.h) */
    case OPT_STATS: analysis.stats_path = optarg; break;
    case OPT_STATS_IN: analysis.stats_in[analysis.n_stats_in++] = optarg; break;
    case OPT_REPORT: analysis.report_path = optarg; break;
    case OPT_EXPORT_FIXPOINT: analysis.fixpoint_path = optarg; break;
    case ':':
      status = cli_usage_error("option '%s' needs a value", argv[optind - 1]);
      goto done;
    default:
      status = cli_usage_error("unknown option '%s'", argv[optind - 1]);
      goto done;
    }
  }
  if (!threads) threads = (int)(tqt_parallel_cores() < 1024 ? tqt_parallel_cores() : 1024);
  /* A list given on the command line replaces the config file's. */
  if (n_set_inputs) topts.set_inputs = set_inputs, topts.n_set_inputs = n_set_inputs;
  if (n_input_shapes) topts.input_shapes = input_shapes, topts.n_input_shapes = n_input_shapes;
  if (n_exclude_ops) topts.exclude_op_types = exclude_ops, topts.n_exclude_op_types = n_exclude_ops;
  if (n_exclude_nodes) topts.exclude_nodes = exclude_nodes, topts.n_exclude_nodes = n_exclude_nodes;
  if (n_keep_outputs) topts.keep_outputs = keep_outputs, topts.n_keep_outputs = n_keep_outputs;
  if (n_weights_only)
    topts.quantize_weights_only = weights_only, topts.n_quantize_weights_only = n_weights_only;
  if (strip && n_calib) {
    status = cli_usage_error("--strip makes a float model: it takes no --calib");
    goto done;
  }
  const char *const *calib_specs = n_calib ? calib : topts.calib;
  if (!n_calib && !strip) n_calib = topts.n_calib;
  if (!calib_count) calib_count = topts.calib_count;
  if (argc - optind != 2) {
    status = cli_usage_error(argc - optind < 2 ? "expected IN.onnx and OUT.onnx"
                                               : "too many arguments");
    goto done;
  }
  const char *in = argv[optind], *out = argv[optind + 1];
  if (convert_same_file(in, out)) {
    status = cli_usage_error("OUT '%s' is the input model; choose another file", out);
    goto done;
  }
  if (no_quantize && (cli_analysis_wanted(&analysis) || analysis.n_stats_in)) {
    status = cli_usage_error("--stats, --stats-in, --report and --export-fixpoint describe a "
                             "quantization: not with %s", strip ? "--strip" : "--no-quantize");
    goto done;
  }
  if (!no_quantize && !n_calib && !analysis.n_stats_in) {
    status = cli_usage_error("--calib INPUT is needed to quantize (or --calib random, or "
                             "--no-quantize for the float model)");
    goto done;
  }
  bool random_calib = n_calib == 1 && !strcmp(calib_specs[0], "random");
  if (retrain && (no_quantize || random_calib)) {
    status = cli_usage_error("--retrain needs real --calib samples and quantization");
    goto done;
  }
  if (auto_bits.target_db > 0 && (no_quantize || random_calib || analysis.n_stats_in)) {
    status = cli_usage_error("--auto-bits measures on real --calib samples (not random, not "
                             "with --stats-in)");
    goto done;
  }
  if (auto_bits_config && !(auto_bits.target_db > 0)) {
    status = cli_usage_error("--auto-bits-config writes what --auto-bits chose; give --auto-bits");
    goto done;
  }
  /* float16 is widened for the quantizer only: a float model keeps its own precision */
  if (no_quantize) topts.keep_float16 = true;
  if (!no_quantize && random_calib)
    tqt_diag_warn(&d, "--calib random: thresholds come from N(0,1) noise and mean nothing for "
                      "real data; use it to test the pipeline only");

  if (tqt_model_load(in, &m, &d) != TQT_STATUS_OK) goto fail;
  tqt_diag_note(&d, "loaded %s: %zu nodes, %zu initializers", in, m->graph->n_nodes,
                m->graph->n_initializers);
  if (tqt_model_validate(m, &d) != TQT_STATUS_OK) goto in_fail;
  if (static_shapes &&
      convert_static_shapes(m, &topts, calib_specs, n_calib, input_shapes, &n_input_shapes, &d) !=
          TQT_STATUS_OK)
    goto in_fail;
  if (strip) {
    size_t removed;
    if (tqt_quant_strip(m, &removed, &d) != TQT_STATUS_OK) goto in_fail;
    tqt_diag_note(&d, "strip: %zu DequantizeLinear nodes removed", removed);
  }
  if (tqt_passes_run(m, &topts, &d) != TQT_STATUS_OK) goto in_fail;
  int widest = auto_bits.choices[auto_bits.n_choices - 1];
  if (auto_bits.target_db > 0 && widest > 8 && tqt_model_opset(m, "") < 21) {
    tqt_diag_fail(&d, TQT_STATUS_UNSUPPORTED,
                  "the model is at opset %lld; --bits-choices up to %d needs opset 21 (--opset 21)",
                  (long long)tqt_model_opset(m, ""), widest);
    goto in_fail;
  }
  if (!no_quantize) {
    if (tqt_quant_plan_build(m, &topts, &plan, &d) != TQT_STATUS_OK) goto in_fail;
    /* analysis (cli_analysis.h): --stats-in histograms merge into the plan's */
    if (cli_analysis_merge(&analysis, plan, m, &d) != TQT_STATUS_OK) goto fail;
    /* Equalization changes the values the statistics describe: only on the samples at hand. */
    if (n_calib && !random_calib && !analysis.n_stats_in && topts.equalize != TQT_SEARCH_MODE_OFF &&
        tqt_quant_equalize(plan, m, &topts, calib_specs, n_calib, calib_count, (size_t)threads,
                           &equalization, &d) != TQT_STATUS_OK)
      goto in_fail;
    struct convert_stage stage = {.m = m, .o = &topts, .specs = calib_specs, .n_specs = n_calib,
                                  .count = calib_count, .threads = threads,
                                  .measure = n_calib && !random_calib,
                                  .auto_bits = auto_bits.target_db > 0};
    if (convert_stages(&stage, plan, &samples, &d) != TQT_STATUS_OK) goto in_fail;
    if (samples && equalization && topts.equalize == TQT_SEARCH_MODE_AUTO &&
        tqt_quant_equalize_judge(&plan, equalization, m, &samples, &topts, convert_stages, &stage,
                                 &d) != TQT_STATUS_OK)
      goto in_fail;
    /* coverage after calibration: nodes of branches never taken turn float there */
    if (convert_coverage(plan, min_quantized, &d) != TQT_STATUS_OK) goto in_fail;
    if (auto_bits.target_db > 0) {
      struct cli_progress progress;
      auto_bits.progress = convert_progress;
      auto_bits.progress_ctx = &progress;
      if (!samples) {
        tqt_diag_fail(&d, TQT_STATUS_USAGE, "--auto-bits: no calibration samples to measure on");
        goto in_fail;
      }
      cli_progress_start(&progress, "auto-bits", 0, d.verbosity == TQT_VERBOSITY_QUIET);
      if (tqt_quant_auto_bits(plan, m, samples, &auto_bits, &d) != TQT_STATUS_OK) goto in_fail;
      cli_progress_end(&progress);
      if (auto_bits_config &&
          tqt_auto_bits_config_write(plan, tqt_model_opset(m, ""), auto_bits_config, &d) !=
              TQT_STATUS_OK)
        goto fail;
    }
    if (samples && convert_output_check(plan, samples, &d) != TQT_STATUS_OK) goto in_fail;
    tqt_quant_samples_free(samples);
    samples = NULL;
    train.max_samples = calib_count;
    train.threads = threads;
    if (retrain && tqt_train_thresholds(plan, m, calib_specs, n_calib, &train, &d) != TQT_STATUS_OK)
      goto in_fail;
    /* analysis (cli_analysis.h): the float model and the statistics, before Q/DQ */
    if (cli_analysis_before_insert(&analysis, plan, m, &topts, in, &d) != TQT_STATUS_OK) goto fail;
    /* The Q/DQ values get their proven shapes too (value_info of OUT). */
    if (tqt_quant_insert(m, plan, &d) != TQT_STATUS_OK || tqt_model_validate(m, &d) != TQT_STATUS_OK ||
        pass_infer_shapes(m, &topts, &d) < 0)
      goto in_fail;
    /* analysis (cli_analysis.h): SQNR, then --stats, --report, --export-fixpoint written */
    if (cli_analysis_after_insert(&analysis, plan, m, calib_specs, n_calib, calib_count, threads, &d) !=
        TQT_STATUS_OK)
      goto fail;
    if (d.verbosity != TQT_VERBOSITY_QUIET)
      fprintf(stderr,
              "onnx-tqt: %zu nodes quantized (%zu excluded), compute nodes %zu of %zu quantized, "
              "%zu tensors with power-of-two scales, %llu calibration samples\n",
              plan->n_quantized_nodes, plan->n_excluded_nodes, plan->n_compute_quantized,
              plan->n_compute, plan->n_tensors - plan->n_skipped,
              (unsigned long long)plan->samples);
  }
  if (tqt_model_save(m, out, &save, &d) != TQT_STATUS_OK) goto fail;
  tqt_diag_note(&d, "wrote %s", out);
  goto fail;
in_fail:
  tqt_diag_prefix(&d, "%s: ", in);
fail:
  status = cli_diag_exit(&d);
done:
  free(set_inputs);
  free(input_shapes);
  free(exclude_ops);
  free(exclude_nodes);
  free(keep_outputs);
  free(weights_only);
  free(calib);
  /* analysis (cli_analysis.h) */
  free(analysis.stats_in);
  cli_analysis_free(&analysis);
  tqt_quant_samples_free(samples);
  tqt_quant_equalization_free(equalization);
  tqt_quant_plan_destroy(plan);
  tqt_model_destroy(m);
  tqt_arena_destroy(config_arena);
  return status;
}
