/* set_input: --set-input NAME=VALUE turns a graph input into a constant initializer (a mode flag,
 * a sample rate), so that later passes can fold what depends on it; --input-shape NAME=D0,D1,...
 * fixes an input's symbolic dims. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"
#include "passes.h"

static struct tqt_value_info *set_input_find(struct tqt_graph *g, const char *name, size_t *index) {
  for (size_t i = 0; i < g->n_inputs; i++) {
    if (strcmp(g->inputs[i].name, name) == 0) {
      *index = i;
      return &g->inputs[i];
    }
  }
  return NULL;
}

/* Parses "1,2,3" / "0.5" / "true" into n doubles. Returns -1 on a malformed number. */
static int set_input_parse(const char *text, double *values, size_t max, size_t *n) {
  *n = 0;
  for (const char *p = text; *p;) {
    if (*n == max) return -1;
    char *end;
    if (strncmp(p, "true", 4) == 0) {
      values[(*n)++] = 1, end = (char *)p + 4;
    } else if (strncmp(p, "false", 5) == 0) {
      values[(*n)++] = 0, end = (char *)p + 5;
    } else {
      errno = 0;
      values[*n] = strtod(p, &end);
      if (end == p || errno) return -1;
      (*n)++;
    }
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  return *n ? 0 : -1;
}

static int set_input_freeze(struct tqt_model *m, const struct tqt_set_input *si,
                            struct tqt_diag *d) {
  struct tqt_graph *g = m->graph;
  size_t index;
  const struct tqt_value_info *vi = set_input_find(g, si->name, &index);
  if (!vi)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "--set-input %s: the model has no input '%s'",
                         si->name, si->name), -1;
  const struct tqt_type *t = vi->type;
  if (!t || t->kind != TQT_TYPE_KIND_TENSOR || !t->has_elem_type)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "--set-input %s: the input is not a typed tensor",
                         si->name), -1;
  double values[4096];
  size_t n;
  if (set_input_parse(si->value, values, sizeof values / sizeof values[0], &n) != 0)
    return tqt_diag_fail(d, TQT_STATUS_USAGE,
                         "--set-input %s=%s: expected numbers separated by commas (or true/false)",
                         si->name, si->value), -1;
  size_t esize = tqt_dtype_size(t->elem_type);
  if (!esize || t->elem_type == TQT_DTYPE_STRING)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "--set-input %s: cannot set a %s input",
                         si->name, tqt_dtype_name(t->elem_type)), -1;
  /* The shape: the input's own when fixed and it holds n values; else [n] (or a scalar). */
  int64_t dims[16];
  size_t rank = 0;
  bool fixed = t->has_shape && t->rank <= 16;
  int64_t numel = 1;
  for (size_t i = 0; fixed && i < t->rank; i++) {
    fixed = t->dims[i].has_value;
    dims[i] = t->dims[i].value;
    numel *= dims[i];
  }
  if (fixed && (uint64_t)numel == n) {
    rank = t->rank;
  } else if (t->has_shape && t->rank == 0 && n == 1) {
    rank = 0;
  } else if (!t->has_shape || t->rank == 1) {
    rank = 1;
    dims[0] = (int64_t)n;
  } else {
    return tqt_diag_fail(d, TQT_STATUS_USAGE,
                         "--set-input %s: %zu values do not fill the input's shape (rank %zu)",
                         si->name, n, t->rank), -1;
  }
  struct tqt_tensor *init = tqt_graph_initializer_add(m->arena, g, si->name, t->elem_type, rank,
                                                      dims, NULL);
  if (!init) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory"), -1;
  struct tqt_rt_tensor view = {.dtype = t->elem_type, .data = init->data};
  for (size_t i = 0; i < n; i++) tqt_rt_set(&view, (int64_t)i, values[i]);
  memmove(&g->inputs[index], &g->inputs[index + 1], (g->n_inputs - index - 1) * sizeof *g->inputs);
  g->n_inputs--;
  tqt_diag_note(d, "set_input: input '%s' is now the constant %s", si->name, si->value);
  return 1;
}

static int set_input_shape(struct tqt_model *m, const struct tqt_input_shape *is,
                           struct tqt_diag *d) {
  size_t index;
  struct tqt_value_info *vi = set_input_find(m->graph, is->name, &index);
  if (!vi)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "--input-shape %s: the model has no input '%s'",
                         is->name, is->name), -1;
  struct tqt_type *t = vi->type;
  if (!t || t->kind != TQT_TYPE_KIND_TENSOR)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "--input-shape %s: not a tensor input",
                         is->name), -1;
  if (t->has_shape && t->rank != is->rank)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "--input-shape %s: rank %zu, the input has rank %zu",
                         is->name, is->rank, t->rank), -1;
  for (size_t i = 0; t->has_shape && i < t->rank; i++)
    if (t->dims[i].has_value && t->dims[i].value != is->dims[i])
      return tqt_diag_fail(d, TQT_STATUS_USAGE,
                           "--input-shape %s: dim %zu is fixed to %lld in the model, not %lld",
                           is->name, i, (long long)t->dims[i].value, (long long)is->dims[i]), -1;
  struct tqt_type *fixed = tqt_type_tensor_create(m->arena, t->elem_type, is->rank, is->dims);
  if (!fixed) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory"), -1;
  fixed->has_elem_type = t->has_elem_type;
  vi->type = fixed;
  return 1;
}

int pass_set_input(struct tqt_model *m, const struct tqt_options *o, struct tqt_diag *d) {
  int changed = 0;
  for (size_t i = 0; i < o->n_input_shapes; i++) {
    if (set_input_shape(m, &o->input_shapes[i], d) < 0) return -1;
    changed++;
  }
  for (size_t i = 0; i < o->n_set_inputs; i++) {
    if (set_input_freeze(m, &o->set_inputs[i], d) < 0) return -1;
    changed++;
  }
  return changed;
}
