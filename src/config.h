/* The config file (--config FILE.json): the settings of the command line as one JSON object, keys
 * named as the flags with '_' for '-', plus per-op-type and per-node overrides ("op_types",
 * "nodes") and the preprocessing of image folders ("preprocess"). The command line applies its
 * flags after loading the file, so flags win.
 *
 * Also here: the resolver that turns the overrides into the settings of one node, which the
 * quantization plan (bits) and calibration (threshold methods) both use. */
#ifndef TQT_CONFIG_H
#define TQT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "diag.h"
#include "ir.h"
#include "options.h"

/* Fills o from the JSON file at path: only the keys the file holds are written, the rest of o is
 * left as it was. Strings and arrays are carved from a (o points into a afterwards). Relative
 * paths of "calib" are taken from the config file's folder. A file that cannot be read, is not
 * valid JSON, or holds an unknown key or a value of the wrong type or range fails with
 * TQT_STATUS_USAGE and one line "PATH: 'key' must be ..." in d. */
enum tqt_status tqt_config_load(const char *path, struct tqt_options *o, struct tqt_arena *a,
                                struct tqt_diag *d);

/* The settings of one node after overrides. 0 / NULL: the default (8, 8, 32 bits; kl_j for
 * activations, max for weights; percentile 99.99). */
struct tqt_node_settings {
  int wbits, abits, bbits;
  const char *act_method, *weight_method;
  double percentile;
};

/* The overrides of some options with their /regular expressions/ compiled. */
struct tqt_overrides;

/* Fails with TQT_STATUS_USAGE when a "nodes" entry is not a valid regular expression. */
enum tqt_status tqt_overrides_create(const struct tqt_options *o, struct tqt_overrides **out,
                                     struct tqt_diag *d);
/* Each setting of node n: the first "nodes" entry that matches n's name (exactly, or the
 * /regular expression/ anywhere in it) and sets it, else the "op_types" entry of n's op type,
 * else the global option. n may be NULL (the global options). */
void tqt_overrides_resolve(struct tqt_overrides *ov, const struct tqt_node *n,
                           struct tqt_node_settings *out);
/* True when override i of the options matched a node in a resolve call. */
bool tqt_overrides_used(const struct tqt_overrides *ov, size_t i);
void tqt_overrides_destroy(struct tqt_overrides *ov);

#endif
