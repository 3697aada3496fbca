/* Everything a conversion run can be told, from the command line or the config file. Passes and
 * later stages read it; nothing writes it after parsing. */
#ifndef TQT_OPTIONS_H
#define TQT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --set-input NAME=VALUE: a graph input frozen to a constant ("1", "0.5", "1,2,3", "true"). */
struct tqt_set_input {
  char *name;
  char *value;
};

/* --input-shape NAME=D0,D1,...: fixes the dims of a graph input. */
struct tqt_input_shape {
  char *name;
  size_t rank;
  int64_t dims[16];
};

/* One entry of the config file's "op_types" or "nodes": quantization settings for the nodes it
 * names. A field left 0 / NULL is not set by the entry: a less specific level decides. For a node,
 * each setting comes from the first "nodes" entry that matches its name and sets it, else from
 * the "op_types" entry of its op type, else from the global option (tqt_overrides_resolve).
 * A tensor takes the settings of the node that quantizes it first (in graph order): weights and
 * biases their Conv/Gemm/MatMul, an activation the node that makes it (the Relu/Clip after a
 * Conv/Gemm) or, when that one is not quantized (a graph input, an excluded node), the first
 * quantized node that reads it. Graph inputs keep input_method whatever an override sets. */
struct tqt_override {
  const char *op_type; /* an "op_types" entry: the op type (NULL for a "nodes" entry) */
  const char *node;    /* a "nodes" entry: an exact node name or a /regular expression/ */
  int wbits, abits, bbits;
  const char *act_method, *weight_method;
  double percentile;
};

/* How an image file becomes a model input (the config file's "preprocess"): decoded to 8-bit RGB
 * (or gray), resized to height × width (bilinear, half-pixel centres), divided by scale, then
 * (x - mean[c]) / std[c] per channel, in channel order RGB or BGR, layout [1,C,H,W] or [1,H,W,C]. */
struct tqt_preprocess {
  int64_t height, width; /* 0: the model input's static dims */
  double mean[3], std[3];
  size_t n_mean, n_std; /* 0 (mean 0, std 1), 1 (every channel) or one per channel */
  double scale;         /* 0 means 255 */
  bool bgr;             /* channel order B, G, R (default R, G, B) */
  bool nhwc;            /* layout [1, H, W, C] (default [1, C, H, W]) */
  bool grayscale;       /* one channel: 0.299 R + 0.587 G + 0.114 B for colour images */
};

/* The refinements measured at the model's outputs: the exponent search and bias correction. */
enum tqt_search_mode {
  TQT_SEARCH_MODE_AUTO,   /* search: within a budget of computed values; bias: kept if it helps */
  TQT_SEARCH_MODE_ALWAYS,
  TQT_SEARCH_MODE_OFF,
  TQT_SEARCH_MODE_GLOBAL, /* search only: the activation method for all, not each tensor */
};

/* auto: at most this many values computed by all the measured runs of a refinement whose runs
 * grow with the model (one per scale group or layer) together: about 10 s of the interpreter on
 * one core (the OCR recognizer computes 3·10⁸ values over 24 samples in 0.8 s). */
#define TQT_SEARCH_AUTO_BUDGET 4e9
/* The calibration samples the exponent search measures on, unless told. */
#define TQT_SEARCH_SAMPLES_DEFAULT 32

/* "auto", "always", "off", "global" → mode; false when unknown. */
bool tqt_search_mode_parse(const char *name, enum tqt_search_mode *out);
const char *tqt_search_mode_name(enum tqt_search_mode mode);

struct tqt_options {
  const struct tqt_set_input *set_inputs;
  size_t n_set_inputs;
  const struct tqt_input_shape *input_shapes;
  size_t n_input_shapes;
  int64_t opset;           /* target default-domain opset; 0 means 13 */
  size_t fold_limit_bytes; /* constant folding makes no tensor larger; 0 means 16 MiB */
  /* float16 stays float16 inside (no widen_float16); the planner quantizes float32 only, so such
   * a model then stays float. Set by --keep-float16 and by --no-quantize. */
  bool keep_float16;

  /* Quantization */
  int wbits, abits, bbits;   /* 0 means 8, 8, 32 */
  bool per_channel;          /* weights: one exponent per output channel */
  const char *act_method;    /* max, 3sd, percentile, kl_j, mse; NULL means kl_j */
  const char *weight_method; /* max, 3sd, mse; NULL means max */
  const char *input_method;  /* graph inputs (the data itself); NULL means max */
  double percentile;         /* for percentile; 0 means 99.99 */
  enum tqt_search_mode search; /* exponent search at the model outputs (quant.h) */
  size_t search_samples;       /* the calibration samples it measures on; 0: the default */
  enum tqt_search_mode bias_correction; /* on the same samples, after the search (quant.h) */
  enum tqt_search_mode equalize;        /* channel equalization before calibration (quant.h) */
  const char *const *exclude_op_types;
  size_t n_exclude_op_types;
  const char *const *exclude_nodes; /* exact names, or /regular expressions/ */
  size_t n_exclude_nodes;
  const char *const *keep_outputs; /* the graph outputs to keep (none: all) */
  size_t n_keep_outputs;
  /* Op types that stay float while their weights are stored as integers (LSTM: W and R). */
  const char *const *quantize_weights_only;
  size_t n_quantize_weights_only;
  bool no_align_add; /* Add inputs keep their own scales */
  bool align_concat; /* every Concat input shares the output's scale, even one other nodes read */
  bool split_chains; /* every op of an elementwise chain of one tensor quantizes its output */
  /* Signed activations (and constants that are no Conv/Gemm/MatMul weight) in int8 containers
   * with zero point 0; by default uint8 with zero point 128: the same values, which ONNX
   * Runtime's x86 integer kernels take (it runs int8 activations through them only where it
   * can turn them into uint8 itself: a QuantizeLinear read by one DequantizeLinear). */
  bool int8_activations;
  /* Per-op-type and per-node settings (config file); among "nodes" entries the first wins. */
  const struct tqt_override *overrides;
  size_t n_overrides;

  /* Calibration data from the config file (the command line's --calib replaces the list) */
  const char *const *calib; /* INPUT specs, paths already relative to the working folder */
  size_t n_calib;
  size_t calib_count; /* 0 means all */
  const struct tqt_preprocess *preprocess; /* NULL: image folders are refused */
};

#endif
