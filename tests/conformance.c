/* ONNX backend conformance: every case folder (model.onnx and test_data_set_N folders of
 * input_K.pb, output_K.pb) under the given roots runs in the interpreter and is compared with its expected
 * outputs (floats: |a - b| <= atol + rtol |b|; integers, bools and strings exactly). Values of
 * sequence or optional type come as SequenceProto / OptionalProto files; a sequence matches when
 * it has as many items as expected and each item matches as a tensor.
 *
 *   conformance [--expect FILE] [--write FILE] [--filter TEXT] [-v] ROOT...
 *
 * Prints a table per op (passed / failed / unsupported) and totals per root. --expect FILE lists
 * cases (ROOT-relative "node/test_abs") that must pass: any of them failing makes the exit status
 * 1. --write FILE writes the passing cases, sorted, one per line. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "interp.h"
#include "tqt.h"

enum case_result { CASE_PASS, CASE_FAIL, CASE_UNSUPPORTED };

struct op_row {
  char op[64];
  int counts[3];
};

struct conf {
  double rtol, atol;
  bool verbose;
  const char *filter;
  struct op_row *rows;
  size_t n_rows;
  char **passing;
  size_t n_passing, cap_passing;
};

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void conf_count(struct conf *c, const char *op, enum case_result r) {
  for (size_t i = 0; i < c->n_rows; i++) {
    if (strcmp(c->rows[i].op, op) == 0) {
      c->rows[i].counts[r]++;
      return;
    }
  }
  struct op_row *grown = realloc(c->rows, (c->n_rows + 1) * sizeof *grown);
  if (!grown) return;
  c->rows = grown;
  memset(&c->rows[c->n_rows], 0, sizeof *c->rows);
  snprintf(c->rows[c->n_rows].op, sizeof c->rows->op, "%s", op);
  c->rows[c->n_rows++].counts[r]++;
}

static bool conf_close(double got, double want, double rtol, double atol) {
  if (isnan(want)) return isnan(got);
  if (isinf(want)) return got == want;
  return fabs(got - want) <= atol + rtol * fabs(want);
}

/* Compares one tensor with its expected value; on mismatch writes the reason into why. */
static bool conf_tensor_equal(const struct tqt_rt_tensor *t, const struct tqt_rt_tensor *w,
                              const struct conf *c, char *why, size_t why_size) {
  if (t->dtype != w->dtype) {
    snprintf(why, why_size, "type %s, expected %s", tqt_dtype_name(t->dtype),
             tqt_dtype_name(w->dtype));
    return false;
  }
  bool same_shape = t->rank == w->rank;
  for (size_t i = 0; same_shape && i < t->rank; i++) same_shape = t->dims[i] == w->dims[i];
  if (!same_shape) {
    char s[128], sw[128];
    snprintf(why, why_size, "shape %s, expected %s", tqt_rt_shape_str(t, s, sizeof s),
             tqt_rt_shape_str(w, sw, sizeof sw));
    return false;
  }
  int64_t n = tqt_rt_numel(t);
  if (t->dtype == TQT_DTYPE_STRING) {
    const struct tqt_bytes *s = t->data, *ws = w->data;
    for (int64_t i = 0; i < n; i++) {
      if (s[i].len != ws[i].len || (s[i].len && memcmp(s[i].data, ws[i].data, s[i].len) != 0)) {
        snprintf(why, why_size, "string %lld differs", (long long)i);
        return false;
      }
    }
    return true;
  }
  bool is_float = t->dtype == TQT_DTYPE_FLOAT || t->dtype == TQT_DTYPE_DOUBLE ||
                  t->dtype == TQT_DTYPE_FLOAT16 || t->dtype == TQT_DTYPE_BFLOAT16;
  if (!is_float) {
    if (t->nbytes != w->nbytes || memcmp(t->data, w->data, t->nbytes) != 0) {
      for (int64_t i = 0; i < n; i++) {
        if (tqt_rt_get_int(t, i) != tqt_rt_get_int(w, i)) {
          snprintf(why, why_size, "element %lld: %lld, expected %lld", (long long)i,
                   (long long)tqt_rt_get_int(t, i), (long long)tqt_rt_get_int(w, i));
          return false;
        }
      }
    }
    return true;
  }
  for (int64_t i = 0; i < n; i++) {
    double got = tqt_rt_get(t, i), exp = tqt_rt_get(w, i);
    if (!conf_close(got, exp, c->rtol, c->atol)) {
      snprintf(why, why_size, "element %lld: %.9g, expected %.9g", (long long)i, got, exp);
      return false;
    }
  }
  return true;
}

static const char *conf_kind_name(const struct tqt_value *v) {
  if (!v || v->kind == TQT_VALUE_KIND_NONE) return "an empty optional";
  return v->kind == TQT_VALUE_KIND_TENSOR ? "a tensor" : "a sequence";
}

/* Compares one output with its expected value: a tensor, a sequence (same length, items
 * compared as tensors) or an empty optional. */
static bool conf_output_equal(const struct tqt_value *v, const struct tqt_value *want,
                              const struct conf *c, char *why, size_t why_size) {
  enum tqt_value_kind kind = v ? v->kind : TQT_VALUE_KIND_NONE;
  if (kind != want->kind) {
    snprintf(why, why_size, "output is %s, expected %s", conf_kind_name(v),
             conf_kind_name(want));
    return false;
  }
  if (kind == TQT_VALUE_KIND_TENSOR) return conf_tensor_equal(&v->t, &want->t, c, why, why_size);
  if (kind != TQT_VALUE_KIND_SEQUENCE) return true;
  if (v->n_items != want->n_items) {
    snprintf(why, why_size, "sequence of %zu items, expected %zu", v->n_items, want->n_items);
    return false;
  }
  for (size_t i = 0; i < v->n_items; i++) {
    char detail[512];
    if (!conf_tensor_equal(v->items[i], want->items[i], c, detail, sizeof detail)) {
      snprintf(why, why_size, "item %zu: %s", i, detail);
      return false;
    }
  }
  return true;
}

/* Loads a test-data file as the value `type` declares: a TensorProto (borrowed from the arena)
 * or, for sequence and optional types, a SequenceProto or OptionalProto (owned by v). */
static enum tqt_status conf_value_load(const char *path, const struct tqt_type *type,
                                       struct tqt_arena *a, struct tqt_value *v,
                                       struct tqt_diag *d) {
  if (type && (type->kind == TQT_TYPE_KIND_SEQUENCE || type->kind == TQT_TYPE_KIND_OPTIONAL))
    return tqt_value_load(path, type, v, d);
  struct tqt_tensor *t = NULL;
  enum tqt_status st = tqt_tensor_load(path, a, &t, d);
  if (st != TQT_STATUS_OK) return st;
  if (t->rank > TQT_RANK_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: rank %zu", path, t->rank);
  void *data = t->dtype == TQT_DTYPE_STRING ? (void *)t->strings : t->data;
  size_t nbytes = t->dtype == TQT_DTYPE_STRING ? t->n_strings * sizeof *t->strings : t->nbytes;
  /* ONNX 1.12 writes bfloat16 test data as uint16 bits; the model's type says what they are. */
  int32_t dtype = t->dtype;
  if (dtype == TQT_DTYPE_UINT16 && type && type->kind == TQT_TYPE_KIND_TENSOR &&
      type->has_elem_type && type->elem_type == TQT_DTYPE_BFLOAT16)
    dtype = TQT_DTYPE_BFLOAT16;
  tqt_value_tensor_borrow(v, dtype, t->rank, t->dims, data, nbytes);
  return TQT_STATUS_OK;
}

static bool conf_has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The op a case is filed under: the op of the node that makes the first output. */
static const char *conf_case_op(const struct tqt_model *m) {
  const struct tqt_graph *g = m->graph;
  if (!g->n_nodes) return "(no nodes)";
  if (g->n_outputs)
    for (size_t i = g->n_nodes; i-- > 0;)
      for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
        if (strcmp(g->nodes[i]->outputs[k], g->outputs[0].name) == 0) return g->nodes[i]->op_type;
  return g->nodes[g->n_nodes - 1]->op_type;
}

static enum case_result conf_run_set(struct tqt_interp *in, const struct tqt_graph *g,
                                     const char *set_dir, const struct conf *c, char *why,
                                     size_t why_size) {
  enum case_result r = CASE_FAIL;
  struct tqt_arena *a = tqt_arena_create();
  size_t n_in = tqt_interp_input_count(in), n_out = tqt_interp_output_count(in);
  struct tqt_value *vals = calloc(n_in + 1, sizeof *vals);
  struct tqt_value *wants = calloc(n_out + 1, sizeof *wants);
  const struct tqt_value **ptrs = calloc(n_in + 1, sizeof *ptrs);
  struct tqt_diag d = {0};
  if (!a || !vals || !wants || !ptrs) {
    snprintf(why, why_size, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < n_in; i++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/input_%zu.pb", set_dir, i);
    struct stat sb;
    if (stat(path, &sb) != 0) continue; /* an optional input the case leaves out */
    if (conf_value_load(path, tqt_interp_input_info(in, i)->type, a, &vals[i], &d) !=
        TQT_STATUS_OK) {
      snprintf(why, why_size, "%s", d.msg);
      r = CASE_UNSUPPORTED;
      goto done;
    }
    ptrs[i] = &vals[i];
  }
  if (tqt_interp_run(in, ptrs, n_in, &d) != TQT_STATUS_OK) {
    snprintf(why, why_size, "%s", d.msg);
    r = d.status == TQT_STATUS_UNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
    goto done;
  }
  for (size_t i = 0; i < n_out; i++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/output_%zu.pb", set_dir, i);
    if (conf_value_load(path, g->outputs[i].type, a, &wants[i], &d) != TQT_STATUS_OK) {
      snprintf(why, why_size, "%s", d.msg);
      r = CASE_UNSUPPORTED;
      goto done;
    }
    char detail[768];
    if (!conf_output_equal(tqt_interp_output(in, i), &wants[i], c, detail, sizeof detail)) {
      snprintf(why, why_size, "output %zu: %s", i, detail);
      goto done;
    }
  }
  r = CASE_PASS;
done:
  for (size_t i = 0; vals && i < n_in; i++) tqt_value_release(&vals[i]);
  for (size_t i = 0; wants && i < n_out; i++) tqt_value_release(&wants[i]);
  free(vals);
  free(wants);
  free(ptrs);
  tqt_arena_destroy(a);
  return r;
}

/* Graph inputs and outputs the runner can feed and compare: tensors, sequences, optionals. */
static bool conf_type_supported(const struct tqt_type *t) {
  return !t || t->kind == TQT_TYPE_KIND_TENSOR || t->kind == TQT_TYPE_KIND_SEQUENCE ||
         t->kind == TQT_TYPE_KIND_OPTIONAL;
}

static enum case_result conf_case(const char *dir, const struct conf *c, char *op, size_t op_size,
                                  char *why, size_t why_size) {
  char path[8192];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  struct tqt_interp *in = NULL;
  enum case_result r = CASE_UNSUPPORTED;
  snprintf(op, op_size, "(unreadable)");
  if (tqt_model_load(path, &m, &d) != TQT_STATUS_OK) {
    snprintf(why, why_size, "%s", d.msg);
    return CASE_FAIL;
  }
  snprintf(op, op_size, "%s", conf_case_op(m));
  for (size_t i = 0; i < m->graph->n_inputs; i++) {
    if (!conf_type_supported(m->graph->inputs[i].type)) {
      snprintf(why, why_size, "input '%s' is not a tensor, sequence or optional",
               m->graph->inputs[i].name);
      goto done;
    }
  }
  for (size_t i = 0; i < m->graph->n_outputs; i++) {
    if (!conf_type_supported(m->graph->outputs[i].type)) {
      snprintf(why, why_size, "output '%s' is not a tensor, sequence or optional",
               m->graph->outputs[i].name);
      goto done;
    }
  }
  if (tqt_model_validate(m, &d) != TQT_STATUS_OK ||
      tqt_interp_create(m, NULL, &in, &d) != TQT_STATUS_OK) {
    snprintf(why, why_size, "%s", d.msg);
    r = d.status == TQT_STATUS_UNSUPPORTED ? CASE_UNSUPPORTED : CASE_FAIL;
    goto done;
  }
  DIR *dp = opendir(dir);
  if (!dp) {
    snprintf(why, why_size, "cannot list the case folder");
    r = CASE_FAIL;
    goto done;
  }
  struct dirent *e;
  char **sets = NULL;
  size_t n_sets = 0;
  while ((e = readdir(dp))) {
    if (!conf_has_prefix(e->d_name, "test_data_set_")) continue;
    char **grown = realloc(sets, (n_sets + 1) * sizeof *grown);
    if (!grown) break;
    sets = grown;
    sets[n_sets++] = strdup(e->d_name);
  }
  closedir(dp);
  qsort(sets, n_sets, sizeof *sets, name_cmp);
  r = n_sets ? CASE_PASS : CASE_UNSUPPORTED;
  if (!n_sets) snprintf(why, why_size, "no test_data_set_*");
  for (size_t i = 0; i < n_sets && r == CASE_PASS; i++) {
    char set_dir[4096 + 256];
    snprintf(set_dir, sizeof set_dir, "%s/%s", dir, sets[i]);
    r = conf_run_set(in, m->graph, set_dir, c, why, why_size);
  }
  for (size_t i = 0; i < n_sets; i++) free(sets[i]);
  free(sets);
done:
  tqt_interp_destroy(in);
  tqt_model_destroy(m);
  return r;
}

static int conf_read_list(const char *path, char ***out, size_t *n) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char line[4096];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!*line || *line == '#') continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 256;
      char **grown = realloc(*out, cap * sizeof *grown);
      if (!grown) break;
      *out = grown;
    }
    (*out)[(*n)++] = strdup(line);
  }
  fclose(f);
  return 0;
}

static bool conf_listed(char **list, size_t n, const char *name) {
  return n && bsearch(&name, list, n, sizeof *list, name_cmp) != NULL;
}

int main(int argc, char **argv) {
  struct conf c = {.rtol = 1e-3, .atol = 1e-7};
  const char *expect = NULL, *write = NULL;
  int first_root = 1;
  for (; first_root < argc && argv[first_root][0] == '-'; first_root++) {
    const char *a = argv[first_root];
    if (strcmp(a, "-v") == 0) {
      c.verbose = true;
    } else if (first_root + 1 < argc && strcmp(a, "--expect") == 0) {
      expect = argv[++first_root];
    } else if (first_root + 1 < argc && strcmp(a, "--write") == 0) {
      write = argv[++first_root];
    } else if (first_root + 1 < argc && strcmp(a, "--filter") == 0) {
      c.filter = argv[++first_root];
    } else {
      fprintf(stderr, "usage: conformance [--expect FILE] [--write FILE] [--filter TEXT] [-v] ROOT...\n");
      return 2;
    }
  }
  if (first_root >= argc) {
    fprintf(stderr, "conformance: no test-data folder given\n");
    return 2;
  }
  char **expected = NULL;
  size_t n_expected = 0;
  if (expect && conf_read_list(expect, &expected, &n_expected) != 0) {
    fprintf(stderr, "conformance: cannot read %s\n", expect);
    return 2;
  }
  if (n_expected) qsort(expected, n_expected, sizeof *expected, name_cmp);
  int regressions = 0, expected_pass = 0;
  for (int r = first_root; r < argc; r++) {
    const char *root = argv[r];
    const char *root_name = strrchr(root, '/') ? strrchr(root, '/') + 1 : root;
    struct dirent **cases = NULL;
    int n = scandir(root, &cases, NULL, alphasort);
    if (n < 0) {
      fprintf(stderr, "conformance: cannot list %s\n", root);
      return 1;
    }
    int counts[3] = {0};
    for (int i = 0; i < n; i++) {
      char dir[4096], model[4096 + 16], name[8192], op[64], why[1024] = "";
      snprintf(dir, sizeof dir, "%s/%s", root, cases[i]->d_name);
      snprintf(model, sizeof model, "%s/model.onnx", dir);
      snprintf(name, sizeof name, "%s/%s", root_name, cases[i]->d_name);
      struct stat sb;
      if (cases[i]->d_name[0] == '.' || stat(model, &sb) != 0 ||
          (c.filter && !strstr(name, c.filter)))
        continue;
      enum case_result res = conf_case(dir, &c, op, sizeof op, why, sizeof why);
      counts[res]++;
      conf_count(&c, op, res);
      bool is_expected = conf_listed(expected, n_expected, name);
      if (res == CASE_PASS) {
        expected_pass += is_expected;
        if (c.n_passing == c.cap_passing) {
          c.cap_passing = c.cap_passing ? c.cap_passing * 2 : 256;
          c.passing = realloc(c.passing, c.cap_passing * sizeof *c.passing);
        }
        c.passing[c.n_passing++] = strdup(name);
      } else if (is_expected) {
        regressions++;
        printf("REGRESSION %s: %s\n", name, why);
      } else if (c.verbose) {
        printf("%s %s: %s\n", res == CASE_FAIL ? "FAIL" : "UNSUPPORTED", name, why);
      }
    }
    for (int i = 0; i < n; i++) free(cases[i]);
    free(cases);
    int total = counts[0] + counts[1] + counts[2];
    printf("%-18s %4d cases: %4d pass (%.1f%%), %4d fail, %4d unsupported\n", root_name, total,
           counts[CASE_PASS], total ? 100.0 * counts[CASE_PASS] / total : 0.0, counts[CASE_FAIL],
           counts[CASE_UNSUPPORTED]);
  }
  printf("\n%-28s %6s %6s %6s\n", "op", "pass", "fail", "unsup");
  for (size_t i = 0; i < c.n_rows; i++)
    printf("%-28s %6d %6d %6d\n", c.rows[i].op, c.rows[i].counts[0], c.rows[i].counts[1],
           c.rows[i].counts[2]);
  if (write) {
    qsort(c.passing, c.n_passing, sizeof *c.passing, name_cmp);
    FILE *f = fopen(write, "w");
    if (!f) {
      fprintf(stderr, "conformance: cannot write %s\n", write);
      return 1;
    }
    for (size_t i = 0; i < c.n_passing; i++) fprintf(f, "%s\n", c.passing[i]);
    fclose(f);
  }
  for (size_t i = 0; i < c.n_passing; i++) free(c.passing[i]);
  free(c.passing);
  free(c.rows);
  for (size_t i = 0; i < n_expected; i++) free(expected[i]);
  free(expected);
  if (expect) {
    int missing = (int)n_expected - expected_pass - regressions; /* listed but not found */
    if (missing > 0) printf("%d expected cases were not found under the given folders\n", missing);
    printf("conformance expected: %d passed, %d failed\n", expected_pass,
           regressions + (missing > 0 ? missing : 0));
    return regressions || missing > 0 ? 1 : 0;
  }
  return 0;
}
