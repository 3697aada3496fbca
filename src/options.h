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
};

#endif
