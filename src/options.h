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

struct tqt_options {
  const struct tqt_set_input *set_inputs;
  size_t n_set_inputs;
  const struct tqt_input_shape *input_shapes;
  size_t n_input_shapes;
  int64_t opset;           /* target default-domain opset; 0 means 13 */
  size_t fold_limit_bytes; /* constant folding makes no tensor larger; 0 means 16 MiB */

  /* Quantization */
  int wbits, abits, bbits;   /* 0 means 8, 8, 32 */
  bool per_channel;          /* weights: one exponent per output channel */
  const char *act_method;    /* max, 3sd, percentile, kl_j, mse; NULL means kl_j */
  const char *weight_method; /* max, 3sd, mse; NULL means max */
  const char *input_method;  /* graph inputs (the data itself); NULL means max */
  double percentile;         /* for percentile; 0 means 99.99 */
  const char *const *exclude_op_types;
  size_t n_exclude_op_types;
  const char *const *exclude_nodes; /* exact names, or /regular expressions/ */
  size_t n_exclude_nodes;
  bool no_align_add; /* Add inputs keep their own scales */
};

#endif
