/* The config file: one JSON object → struct tqt_options, with one precise line per mistake
 * ("config.json: 'wbits' must be an integer from 2 to 16"); and the per-node override resolver. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "calib.h"

struct cfg {
  const char *path;     /* as given, for messages */
  char *dir;            /* the file's folder with a trailing '/', or "" (the working folder) */
  struct tqt_options *o;
  struct tqt_arena *a;
  struct tqt_diag *d;
};

static enum tqt_status cfg_fail(const struct cfg *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "PATH: 'key' <what>" */
static enum tqt_status cfg_fail(const struct cfg *c, const char *key, const char *fmt, ...) {
  char what[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return tqt_diag_fail(c->d, TQT_STATUS_USAGE, "%s: '%s' %s", c->path, key, what);
}

static enum tqt_status cfg_nomem(const struct cfg *c) {
  return tqt_diag_fail(c->d, TQT_STATUS_NOMEM, "%s: out of memory", c->path);
}

/* "prefix.name", or name alone at the top level. */
static void cfg_key(char *out, size_t size, const char *prefix, const char *name) {
  int n = *prefix ? snprintf(out, size, "%s.%s", prefix, name) : snprintf(out, size, "%s", name);
  if (n < 0 || (size_t)n >= size) memcpy(out + size - 4, "...", 4); /* a very long name */
}

/* Levenshtein distance, for "did you mean" (names longer than 63 characters count as far). */
static size_t cfg_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return SIZE_MAX;
  size_t row[64];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The index of name in a NULL-terminated list, or -1. */
static int cfg_lookup(const char *const *known, const char *name) {
  for (int i = 0; known[i]; i++)
    if (!strcmp(known[i], name)) return i;
  return -1;
}

/* "PATH: unknown key 'prefix.name' (did you mean 'prefix.close'?)", or the list of keys. */
static enum tqt_status cfg_unknown(const struct cfg *c, const char *prefix, const char *name,
                                   const char *const *known) {
  char key[512], list[512] = "";
  cfg_key(key, sizeof key, prefix, name);
  size_t best = SIZE_MAX, n = 0;
  const char *close = NULL;
  for (size_t i = 0; known[i]; i++) {
    size_t dist = cfg_distance(name, known[i]);
    if (dist < best) best = dist, close = known[i];
    if (n < sizeof list)
      n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", known[i]);
  }
  if (close && best <= 2 && best < strlen(name)) {
    char suggestion[512];
    cfg_key(suggestion, sizeof suggestion, prefix, close);
    return tqt_diag_fail(c->d, TQT_STATUS_USAGE, "%s: unknown key '%s' (did you mean '%s'?)",
                         c->path, key, suggestion);
  }
  return tqt_diag_fail(c->d, TQT_STATUS_USAGE, "%s: unknown key '%s' (known keys: %s)", c->path,
                       key, list);
}

/* ---- values ---- */

static enum tqt_status cfg_int(const struct cfg *c, const char *key, const json_t *v,
                               long long lo, long long hi, long long *out) {
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    if (hi == LLONG_MAX) return cfg_fail(c, key, "must be an integer of at least %lld", lo);
    return cfg_fail(c, key, "must be an integer from %lld to %lld", lo, hi);
  }
  *out = json_integer_value(v);
  return TQT_STATUS_OK;
}

static enum tqt_status cfg_bits(const struct cfg *c, const char *key, const json_t *v, bool bias,
                                int *out) {
  long long x = 0;
  enum tqt_status st = cfg_int(c, key, v, bias ? 8 : 2, bias ? 32 : 16, &x);
  if (st == TQT_STATUS_OK) *out = (int)x;
  return st;
}

static enum tqt_status cfg_bool(const struct cfg *c, const char *key, const json_t *v, bool *out) {
  if (!json_is_boolean(v)) return cfg_fail(c, key, "must be true or false");
  *out = json_is_true(v);
  return TQT_STATUS_OK;
}

static enum tqt_status cfg_string(const struct cfg *c, const char *key, const json_t *v,
                                  const char **out) {
  if (!json_is_string(v) || !*json_string_value(v)) return cfg_fail(c, key, "must be a string");
  if (!(*out = tqt_arena_strdup(c->a, json_string_value(v)))) return cfg_nomem(c);
  return TQT_STATUS_OK;
}

/* A threshold method: any for activations and inputs; max, 3sd or mse for weights. */
static enum tqt_status cfg_method(const struct cfg *c, const char *key, const json_t *v,
                                  bool weight, const char **out) {
  enum tqt_threshold_method m;
  if (!json_is_string(v) || !tqt_threshold_method_parse(json_string_value(v), &m) ||
      (weight && (m == TQT_THRESHOLD_METHOD_KL_J || m == TQT_THRESHOLD_METHOD_PERCENTILE)))
    return cfg_fail(c, key, "must be one of %s",
                    weight ? "\"max\", \"3sd\", \"mse\""
                           : "\"max\", \"3sd\", \"percentile\", \"kl_j\", \"mse\"");
  return cfg_string(c, key, v, out);
}

static enum tqt_status cfg_percentile(const struct cfg *c, const char *key, const json_t *v,
                                      double *out) {
  double p = json_is_number(v) ? json_number_value(v) : -1;
  if (!(p > 0 && p <= 100)) return cfg_fail(c, key, "must be a number above 0 and at most 100");
  *out = p;
  return TQT_STATUS_OK;
}

/* True when s is "/.../" (a regular expression in a node list). */
static bool cfg_is_regex(const char *s) {
  size_t n = strlen(s);
  return n >= 2 && s[0] == '/' && s[n - 1] == '/';
}

/* Compiles the /regex/ s (a node name that is none compiles to nothing). 0 or a regcomp error. */
static int cfg_regcomp(regex_t *re, const char *s, bool *compiled) {
  *compiled = false;
  if (!cfg_is_regex(s)) return 0;
  char *body = strndup(s + 1, strlen(s) - 2);
  if (!body) return REG_ESPACE;
  int rc = regcomp(re, body, REG_EXTENDED | REG_NOSUB);
  free(body);
  *compiled = rc == 0;
  return rc;
}

static enum tqt_status cfg_check_regex(const struct cfg *c, const char *key, const char *s) {
  regex_t re;
  bool compiled;
  if (cfg_regcomp(&re, s, &compiled) != 0)
    return cfg_fail(c, key, "holds '%s', which is not a valid regular expression", s);
  if (compiled) regfree(&re);
  return TQT_STATUS_OK;
}

/* An array of non-empty strings (node names are checked as /regex/ when nodes is true). */
static enum tqt_status cfg_strings(const struct cfg *c, const char *key, const json_t *v,
                                   bool nodes, const char *const **out, size_t *n) {
  if (!json_is_array(v)) return cfg_fail(c, key, "must be an array of strings");
  size_t count = json_array_size(v);
  const char **list = tqt_arena_calloc(c->a, count + 1, sizeof *list);
  if (!list) return cfg_nomem(c);
  for (size_t i = 0; i < count; i++) {
    const json_t *s = json_array_get(v, i);
    if (!json_is_string(s) || !*json_string_value(s))
      return cfg_fail(c, key, "must be an array of strings");
    if (!(list[i] = tqt_arena_strdup(c->a, json_string_value(s)))) return cfg_nomem(c);
    if (nodes) {
      enum tqt_status st = cfg_check_regex(c, key, list[i]);
      if (st != TQT_STATUS_OK) return st;
    }
  }
  *out = list;
  *n = count;
  return TQT_STATUS_OK;
}

/* A calib spec: a path from the config file's folder (NAME=PATH too); "random" and absolute
 * paths stay as they are. */
static char *cfg_calib_path(const struct cfg *c, const char *spec) {
  if (!*c->dir || spec[0] == '/' || !strcmp(spec, "random")) return tqt_arena_strdup(c->a, spec);
  char *joined = tqt_arena_printf(c->a, "%s%s", c->dir, spec);
  const char *eq = strchr(spec, '=');
  struct stat sb;
  if (!joined || !eq || eq == spec || stat(joined, &sb) == 0) return joined;
  if (eq[1] == '/') return tqt_arena_strdup(c->a, spec);
  return tqt_arena_printf(c->a, "%.*s=%s%s", (int)(eq - spec), spec, c->dir, eq + 1);
}

static enum tqt_status cfg_calib(const struct cfg *c, const char *key, const json_t *v) {
  bool one = json_is_string(v);
  size_t n = one ? 1 : json_is_array(v) ? json_array_size(v) : 0;
  const char **out = tqt_arena_calloc(c->a, n + 1, sizeof *out);
  if (!out) return cfg_nomem(c);
  for (size_t i = 0; i < n; i++) {
    const json_t *s = one ? v : json_array_get(v, i);
    if (!json_is_string(s) || !*json_string_value(s)) {
      n = 0;
      break;
    }
    if (!(out[i] = cfg_calib_path(c, json_string_value(s)))) return cfg_nomem(c);
  }
  if (!n) return cfg_fail(c, key, "must be a path or an array of paths (strings)");
  c->o->calib = out;
  c->o->n_calib = n;
  return TQT_STATUS_OK;
}

/* set_input: {"NAME": 1 | 0.5 | true | [1, 2, 3]} → NAME=VALUE as the command line writes it. */
static enum tqt_status cfg_set_input(const struct cfg *c, const char *key, const json_t *v) {
  if (!json_is_object(v)) return cfg_fail(c, key, "must be an object of NAME: value");
  size_t n = json_object_size(v), i = 0;
  struct tqt_set_input *list = tqt_arena_calloc(c->a, n + 1, sizeof *list);
  if (!list) return cfg_nomem(c);
  const char *name;
  const json_t *value;
  json_object_foreach((json_t *)v, name, value) {
    char sub[512];
    cfg_key(sub, sizeof sub, key, name);
    size_t count = json_is_array(value) ? json_array_size(value) : 1;
    bool ok = *name && count > 0 && (json_is_array(value) || json_is_number(value) ||
                                     json_is_boolean(value));
    char *text = ok ? tqt_arena_calloc(c->a, count, 32) : NULL;
    if (ok && !text) return cfg_nomem(c);
    size_t len = 0;
    for (size_t k = 0; ok && k < count; k++) {
      const json_t *x = json_is_array(value) ? json_array_get(value, k) : value;
      const char *sep = k ? "," : "";
      if (json_is_integer(x))
        len += (size_t)snprintf(text + len, 32, "%s%" JSON_INTEGER_FORMAT, sep, json_integer_value(x));
      else if (json_is_real(x))
        len += (size_t)snprintf(text + len, 32, "%s%.17g", sep, json_real_value(x));
      else if (json_is_boolean(x))
        len += (size_t)snprintf(text + len, 32, "%s%s", sep, json_is_true(x) ? "true" : "false");
      else
        ok = false;
    }
    if (!ok) return cfg_fail(c, sub, "must be a number, true/false or an array of numbers");
    if (!(list[i].name = tqt_arena_strdup(c->a, name))) return cfg_nomem(c);
    list[i++].value = text;
  }
  c->o->set_inputs = list;
  c->o->n_set_inputs = n;
  return TQT_STATUS_OK;
}

/* input_shape: {"NAME": [D0, D1, ...]} */
static enum tqt_status cfg_input_shape(const struct cfg *c, const char *key, const json_t *v) {
  if (!json_is_object(v)) return cfg_fail(c, key, "must be an object of NAME: [dims]");
  size_t n = json_object_size(v), i = 0;
  struct tqt_input_shape *list = tqt_arena_calloc(c->a, n + 1, sizeof *list);
  if (!list) return cfg_nomem(c);
  const size_t max_rank = sizeof list->dims / sizeof list->dims[0];
  const char *name;
  const json_t *value;
  json_object_foreach((json_t *)v, name, value) {
    char sub[512];
    cfg_key(sub, sizeof sub, key, name);
    size_t rank = json_is_array(value) ? json_array_size(value) : 0;
    bool ok = *name && rank >= 1 && rank <= max_rank;
    for (size_t k = 0; ok && k < rank; k++) {
      const json_t *x = json_array_get(value, k);
      ok = json_is_integer(x) && json_integer_value(x) > 0;
      if (ok) list[i].dims[k] = json_integer_value(x);
    }
    if (!ok)
      return cfg_fail(c, sub, "must be an array of 1 to %zu positive integers (the dims)", max_rank);
    if (!(list[i].name = tqt_arena_strdup(c->a, name))) return cfg_nomem(c);
    list[i++].rank = rank;
  }
  c->o->input_shapes = list;
  c->o->n_input_shapes = n;
  return TQT_STATUS_OK;
}

/* One "op_types" or "nodes" entry: {"wbits": 4, "act_method": "max", ...}. */
static enum tqt_status cfg_override(const struct cfg *c, const char *key, const json_t *v,
                                    struct tqt_override *ov) {
  static const char *const known[] = {"wbits", "abits", "bbits", "act_method", "weight_method",
                                      "percentile", NULL};
  if (!json_is_object(v))
    return cfg_fail(c, key, "must be an object (keys: wbits, abits, bbits, act_method, "
                            "weight_method, percentile)");
  const char *name;
  const json_t *x;
  json_object_foreach((json_t *)v, name, x) {
    char sub[512];
    cfg_key(sub, sizeof sub, key, name);
    enum tqt_status st;
    switch (cfg_lookup(known, name)) {
    case 0: st = cfg_bits(c, sub, x, false, &ov->wbits); break;
    case 1: st = cfg_bits(c, sub, x, false, &ov->abits); break;
    case 2: st = cfg_bits(c, sub, x, true, &ov->bbits); break;
    case 3: st = cfg_method(c, sub, x, false, &ov->act_method); break;
    case 4: st = cfg_method(c, sub, x, true, &ov->weight_method); break;
    case 5: st = cfg_percentile(c, sub, x, &ov->percentile); break;
    default: st = cfg_unknown(c, key, name, known); break;
    }
    if (st != TQT_STATUS_OK) return st;
  }
  return TQT_STATUS_OK;
}

/* "op_types" (nodes false) or "nodes" (nodes true): entries appended to *list. */
static enum tqt_status cfg_overrides(const struct cfg *c, const char *key, const json_t *v,
                                     bool nodes, struct tqt_override **list, size_t *n) {
  if (!json_is_object(v))
    return cfg_fail(c, key, "must be an object of %s: {settings}",
                    nodes ? "node name or /regex/" : "op type");
  *n = json_object_size(v);
  if (!(*list = tqt_arena_calloc(c->a, *n + 1, sizeof **list))) return cfg_nomem(c);
  size_t i = 0;
  const char *name;
  const json_t *entry;
  json_object_foreach((json_t *)v, name, entry) {
    char sub[512];
    cfg_key(sub, sizeof sub, key, name);
    struct tqt_override *ov = &(*list)[i++];
    if (!*name) return cfg_fail(c, key, "has an empty name");
    if (nodes && cfg_check_regex(c, key, name) != TQT_STATUS_OK) return c->d->status;
    const char **target = nodes ? &ov->node : &ov->op_type;
    if (!(*target = tqt_arena_strdup(c->a, name))) return cfg_nomem(c);
    enum tqt_status st = cfg_override(c, sub, entry, ov);
    if (st != TQT_STATUS_OK) return st;
  }
  return TQT_STATUS_OK;
}

/* An array of 1 or `max` numbers (each > 0 when positive). */
static enum tqt_status cfg_numbers(const struct cfg *c, const char *key, const json_t *v,
                                   size_t max, bool positive, double *out, size_t *n) {
  size_t count = json_is_array(v) ? json_array_size(v) : 0;
  bool ok = count == 1 || count == max;
  for (size_t i = 0; ok && i < count; i++) {
    const json_t *x = json_array_get(v, i);
    ok = json_is_number(x) && (!positive || json_number_value(x) > 0);
    if (ok) out[i] = json_number_value(x);
  }
  if (!ok) {
    if (max == 1)
      return cfg_fail(c, key, "must be an array of 1 %snumber (grayscale)", positive ? "positive " : "");
    return cfg_fail(c, key, "must be an array of 1 or %zu %snumbers", max, positive ? "positive " : "");
  }
  *n = count;
  return TQT_STATUS_OK;
}

static enum tqt_status cfg_preprocess(const struct cfg *c, const char *key, const json_t *v) {
  static const char *const known[] = {"size", "mean", "std", "channel_order", "layout", "scale",
                                      "grayscale", NULL};
  if (!json_is_object(v))
    return cfg_fail(c, key, "must be an object (keys: size, mean, std, channel_order, layout, "
                            "scale, grayscale)");
  struct tqt_preprocess *pp = tqt_arena_calloc(c->a, 1, sizeof *pp);
  if (!pp) return cfg_nomem(c);
  const json_t *gray = json_object_get(v, "grayscale");
  if (gray && cfg_bool(c, "preprocess.grayscale", gray, &pp->grayscale) != TQT_STATUS_OK)
    return c->d->status;
  size_t channels = pp->grayscale ? 1 : 3;
  const char *name;
  const json_t *x;
  json_object_foreach((json_t *)v, name, x) {
    char sub[512];
    cfg_key(sub, sizeof sub, key, name);
    enum tqt_status st = TQT_STATUS_OK;
    const char *s = json_is_string(x) ? json_string_value(x) : "";
    switch (cfg_lookup(known, name)) {
    case 0: {
      bool ok = json_is_array(x) && json_array_size(x) == 2;
      for (size_t i = 0; ok && i < 2; i++) {
        const json_t *dim = json_array_get(x, i);
        ok = json_is_integer(dim) && json_integer_value(dim) > 0 &&
             json_integer_value(dim) <= 65536;
      }
      if (!ok) {
        st = cfg_fail(c, sub, "must be [height, width], two integers from 1 to 65536");
        break;
      }
      pp->height = json_integer_value(json_array_get(x, 0));
      pp->width = json_integer_value(json_array_get(x, 1));
      break;
    }
    case 1: st = cfg_numbers(c, sub, x, channels, false, pp->mean, &pp->n_mean); break;
    case 2: st = cfg_numbers(c, sub, x, channels, true, pp->std, &pp->n_std); break;
    case 3:
      if (strcmp(s, "RGB") && strcmp(s, "BGR")) st = cfg_fail(c, sub, "must be \"RGB\" or \"BGR\"");
      pp->bgr = !strcmp(s, "BGR");
      break;
    case 4:
      if (strcmp(s, "NCHW") && strcmp(s, "NHWC"))
        st = cfg_fail(c, sub, "must be \"NCHW\" or \"NHWC\"");
      pp->nhwc = !strcmp(s, "NHWC");
      break;
    case 5:
      if (!json_is_number(x) || !(json_number_value(x) > 0))
        st = cfg_fail(c, sub, "must be a positive number");
      else
        pp->scale = json_number_value(x);
      break;
    case 6: break; /* read above: mean and std depend on it */
    default: st = cfg_unknown(c, key, name, known); break;
    }
    if (st != TQT_STATUS_OK) return st;
  }
  c->o->preprocess = pp;
  return TQT_STATUS_OK;
}

static enum tqt_status cfg_root(struct cfg *c, const json_t *root) {
  enum {
    K_CALIB, K_CALIB_COUNT, K_ACT_METHOD, K_WEIGHT_METHOD, K_INPUT_METHOD, K_PERCENTILE, K_WBITS,
    K_ABITS, K_BBITS, K_PER_CHANNEL, K_EXCLUDE_OP_TYPES, K_EXCLUDE_NODES, K_NO_ALIGN_ADD,
    K_ALIGN_CONCAT, K_SET_INPUT, K_INPUT_SHAPE, K_OPSET, K_OP_TYPES, K_NODES, K_PREPROCESS,
    K_QUANTIZE_WEIGHTS_ONLY, K_SEARCH, K_SEARCH_SAMPLES, K_BIAS_CORRECTION, K_EQUALIZE,
    K_SPLIT_CHAINS, K_INT8_ACTIVATIONS, K_KEEP_OUTPUTS,
  };
  static const char *const known[] = {
      "calib", "calib_count", "act_method", "weight_method", "input_method", "percentile",
      "wbits", "abits", "bbits", "per_channel", "exclude_op_types", "exclude_nodes",
      "no_align_add", "align_concat", "set_input", "input_shape", "opset", "op_types", "nodes",
      "preprocess", "quantize_weights_only", "search", "search_samples", "bias_correction",
      "equalize", "split_chains", "int8_activations", "keep_outputs", NULL};
  struct tqt_options *o = c->o;
  struct tqt_override *op_list = NULL, *node_list = NULL;
  size_t n_op = 0, n_node = 0;
  bool has_overrides = false;
  const char *name;
  const json_t *v;
  json_object_foreach((json_t *)root, name, v) {
    enum tqt_status st = TQT_STATUS_OK;
    long long x = 0;
    int k = cfg_lookup(known, name);
    switch (k) {
    case K_CALIB: st = cfg_calib(c, name, v); break;
    case K_SEARCH:
      if (!json_is_string(v) || !tqt_search_mode_parse(json_string_value(v), &o->search))
        st = cfg_fail(c, name, "must be one of \"auto\", \"always\", \"global\", \"off\"");
      break;
    case K_BIAS_CORRECTION:
    case K_EQUALIZE: { /* the refinements without a global mode */
      enum tqt_search_mode *mode = k == K_EQUALIZE ? &o->equalize : &o->bias_correction;
      if (!json_is_string(v) || !tqt_search_mode_parse(json_string_value(v), mode) ||
          *mode == TQT_SEARCH_MODE_GLOBAL)
        st = cfg_fail(c, name, "must be one of \"auto\", \"always\", \"off\"");
      break;
    }
    case K_SEARCH_SAMPLES:
      if ((st = cfg_int(c, name, v, 1, 1000000, &x)) == TQT_STATUS_OK) o->search_samples = (size_t)x;
      break;
    case K_CALIB_COUNT:
      if ((st = cfg_int(c, name, v, 1, LLONG_MAX, &x)) == TQT_STATUS_OK) o->calib_count = (size_t)x;
      break;
    case K_ACT_METHOD:
      st = json_is_string(v) && !strcmp(json_string_value(v), "auto")
               ? cfg_string(c, name, v, &o->act_method)
               : cfg_method(c, name, v, false, &o->act_method);
      break;
    case K_WEIGHT_METHOD: st = cfg_method(c, name, v, true, &o->weight_method); break;
    case K_INPUT_METHOD: st = cfg_method(c, name, v, false, &o->input_method); break;
    case K_PERCENTILE: st = cfg_percentile(c, name, v, &o->percentile); break;
    case K_WBITS: st = cfg_bits(c, name, v, false, &o->wbits); break;
    case K_ABITS: st = cfg_bits(c, name, v, false, &o->abits); break;
    case K_BBITS: st = cfg_bits(c, name, v, true, &o->bbits); break;
    case K_PER_CHANNEL: st = cfg_bool(c, name, v, &o->per_channel); break;
    case K_NO_ALIGN_ADD: st = cfg_bool(c, name, v, &o->no_align_add); break;
    case K_ALIGN_CONCAT: st = cfg_bool(c, name, v, &o->align_concat); break;
    case K_SPLIT_CHAINS: st = cfg_bool(c, name, v, &o->split_chains); break;
    case K_INT8_ACTIVATIONS: st = cfg_bool(c, name, v, &o->int8_activations); break;
    case K_EXCLUDE_OP_TYPES:
      st = cfg_strings(c, name, v, false, &o->exclude_op_types, &o->n_exclude_op_types);
      break;
    case K_EXCLUDE_NODES:
      st = cfg_strings(c, name, v, true, &o->exclude_nodes, &o->n_exclude_nodes);
      break;
    case K_KEEP_OUTPUTS:
      st = cfg_strings(c, name, v, false, &o->keep_outputs, &o->n_keep_outputs);
      break;
    case K_QUANTIZE_WEIGHTS_ONLY:
      st = cfg_strings(c, name, v, false, &o->quantize_weights_only, &o->n_quantize_weights_only);
      break;
    case K_SET_INPUT: st = cfg_set_input(c, name, v); break;
    case K_INPUT_SHAPE: st = cfg_input_shape(c, name, v); break;
    case K_OPSET:
      if ((st = cfg_int(c, name, v, 1, 1000, &x)) == TQT_STATUS_OK) o->opset = x;
      break;
    case K_OP_TYPES:
      st = cfg_overrides(c, name, v, false, &op_list, &n_op);
      has_overrides = true;
      break;
    case K_NODES:
      st = cfg_overrides(c, name, v, true, &node_list, &n_node);
      has_overrides = true;
      break;
    case K_PREPROCESS: st = cfg_preprocess(c, name, v); break;
    default: st = cfg_unknown(c, "", name, known); break;
    }
    if (st != TQT_STATUS_OK) return st;
  }
  if (has_overrides) { /* "nodes" entries first: they beat op types */
    struct tqt_override *all = tqt_arena_calloc(c->a, n_op + n_node + 1, sizeof *all);
    if (!all) return cfg_nomem(c);
    if (n_node) memcpy(all, node_list, n_node * sizeof *all);
    if (n_op) memcpy(all + n_node, op_list, n_op * sizeof *all);
    o->overrides = all;
    o->n_overrides = n_op + n_node;
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_config_load(const char *path, struct tqt_options *o, struct tqt_arena *a,
                                struct tqt_diag *d) {
  struct cfg c = {.path = path, .o = o, .a = a, .d = d};
  const char *slash = strrchr(path, '/');
  c.dir = tqt_arena_memdup(a, path, slash ? (size_t)(slash - path) + 1 : 0);
  if (!c.dir) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
  FILE *f = fopen(path, "rb");
  if (!f)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: cannot read the config file (%s)", path,
                         strerror(errno));
  json_error_t err;
  json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
  fclose(f);
  if (!root)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s:%d:%d: not valid JSON: %s", path, err.line,
                         err.column, err.text);
  enum tqt_status st;
  if (!json_is_object(root))
    st = tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: the config must be a JSON object {\"key\": value}",
                       path);
  else
    st = cfg_root(&c, root);
  json_decref(root);
  return st;
}

/* ---- overrides ---- */

struct tqt_overrides {
  const struct tqt_options *o;
  regex_t *re;
  bool *is_re; /* entry i is a compiled /regex/ */
  bool *used;
};

void tqt_overrides_destroy(struct tqt_overrides *ov) {
  if (!ov) return;
  for (size_t i = 0; ov->is_re && i < ov->o->n_overrides; i++)
    if (ov->is_re[i]) regfree(&ov->re[i]);
  free(ov->re);
  free(ov->is_re);
  free(ov->used);
  free(ov);
}

enum tqt_status tqt_overrides_create(const struct tqt_options *o, struct tqt_overrides **out,
                                     struct tqt_diag *d) {
  *out = NULL;
  size_t n = o->n_overrides;
  struct tqt_overrides *ov = calloc(1, sizeof *ov);
  if (ov) {
    ov->o = o;
    ov->re = calloc(n + 1, sizeof *ov->re);
    ov->is_re = calloc(n + 1, sizeof *ov->is_re);
    ov->used = calloc(n + 1, sizeof *ov->used);
  }
  if (!ov || !ov->re || !ov->is_re || !ov->used) {
    tqt_overrides_destroy(ov);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < n; i++) {
    const char *node = o->overrides[i].node;
    if (node && cfg_regcomp(&ov->re[i], node, &ov->is_re[i]) != 0) {
      tqt_overrides_destroy(ov);
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "nodes: '%s' is not a regular expression", node);
    }
  }
  *out = ov;
  return TQT_STATUS_OK;
}

static bool overrides_match(const struct tqt_overrides *ov, size_t i, const struct tqt_node *n) {
  const struct tqt_override *e = &ov->o->overrides[i];
  if (e->node)
    return ov->is_re[i] ? regexec(&ov->re[i], n->name ? n->name : "", 0, NULL, 0) == 0
                        : n->name && !strcmp(e->node, n->name);
  return e->op_type && !*n->domain && !strcmp(e->op_type, n->op_type);
}

void tqt_overrides_resolve(struct tqt_overrides *ov, const struct tqt_node *n,
                           struct tqt_node_settings *out) {
  const struct tqt_options *o = ov->o;
  *out = (struct tqt_node_settings){0};
  /* Pass 0 takes from "nodes" entries, pass 1 from "op_types" entries: node beats op type. */
  for (int pass = 0; n && pass < 2; pass++) {
    for (size_t i = 0; i < o->n_overrides; i++) {
      const struct tqt_override *e = &o->overrides[i];
      if ((pass == 0) != (e->node != NULL) || !overrides_match(ov, i, n)) continue;
      ov->used[i] = true;
      if (!out->wbits) out->wbits = e->wbits;
      if (!out->abits) out->abits = e->abits;
      if (!out->bbits) out->bbits = e->bbits;
      if (!out->act_method) out->act_method = e->act_method;
      if (!out->weight_method) out->weight_method = e->weight_method;
      if (!(out->percentile > 0)) out->percentile = e->percentile;
    }
  }
  if (!out->wbits) out->wbits = o->wbits;
  if (!out->abits) out->abits = o->abits;
  if (!out->bbits) out->bbits = o->bbits;
  if (!out->act_method) out->act_method = o->act_method;
  if (!out->weight_method) out->weight_method = o->weight_method;
  if (!(out->percentile > 0)) out->percentile = o->percentile;
}

bool tqt_overrides_used(const struct tqt_overrides *ov, size_t i) {
  return i < ov->o->n_overrides && ov->used[i];
}

static const char *const search_mode_names[] = {[TQT_SEARCH_MODE_AUTO] = "auto",
                                                [TQT_SEARCH_MODE_ALWAYS] = "always",
                                                [TQT_SEARCH_MODE_OFF] = "off",
                                                [TQT_SEARCH_MODE_GLOBAL] = "global"};

const char *tqt_search_mode_name(enum tqt_search_mode mode) { return search_mode_names[mode]; }

bool tqt_search_mode_parse(const char *name, enum tqt_search_mode *out) {
  for (size_t i = 0; i < sizeof search_mode_names / sizeof *search_mode_names; i++)
    if (!strcmp(name, search_mode_names[i])) {
      *out = (enum tqt_search_mode)i;
      return true;
    }
  return false;
}
