/* onnx-tqt compare A.onnx B.onnx --data INPUT: how far B's outputs (and, with --per-layer, its
 * tensors) are from A's on the same samples. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "onnx_io.h"
#include "parallel.h"
#include "progress.h"
#include "report/compare.h"

static const char compare_help[] =
    "usage: onnx-tqt compare [OPTIONS] A.onnx B.onnx --data INPUT\n"
    "\n"
    "Runs A (the reference, e.g. the float model) and B (e.g. its quantized version) in\n"
    "onnx-tqt's interpreter on the same samples and prints, per output of A (matched in B by\n"
    "name, else by position): the largest and the mean absolute difference, the SQNR\n"
    "10 log10(sum a^2 / sum (a - b)^2) in dB, the cosine similarity, and the top-1 agreement when\n"
    "the output looks like class scores ([N,C], [1,C,1,1]).\n"
    "\n"
    "Options:\n"
    "  --data INPUT      the samples, in the INPUT forms of 'run' (FILE.npy, NAME=FILE.npy,\n"
    "                    a folder); repeat for several inputs; 'random' for N(0,1) inputs\n"
    "  --count N         use the first N samples (default: all; 16 for random)\n"
    "  --per-layer       also compare every tensor A computes with B's tensor of the same name\n"
    "                    (through QuantizeLinear/DequantizeLinear: B's dequantized value) and\n"
    "                    show where the error grows\n"
    "  --fail-below-sqnr X  exit 1 when the SQNR of an output is below X dB\n"
    "  --threads N       workers (default: the cores): samples run on N threads at once, each\n"
    "                    sample's matrix products on one; the same figures for any N\n"
    "  -q, --quiet       no progress line\n"
    "  -h, --help        this help\n"
    "\n"
    "Exit status: 0 compared (and every output at or above --fail-below-sqnr), 1 a model or the\n"
    "data could not be processed, or an output is below --fail-below-sqnr, 2 usage error.\n";

static void compare_progress(void *ctx, size_t done, size_t total) {
  struct cli_progress *p = ctx;
  p->total = total;
  cli_progress_update(p, done);
}

/* SQNR as printed: a number, "exact" when B equals A, "-" when nothing was compared. */
static const char *compare_db(double v, char *buf, size_t size) {
  if (isnan(v)) snprintf(buf, size, "-");
  else if (isinf(v)) snprintf(buf, size, v > 0 ? "exact" : "-inf");
  else snprintf(buf, size, "%.2f", v);
  return buf;
}

static void compare_print_output(const struct tqt_compare_entry *e) {
  const struct tqt_compare_metrics *m = &e->m;
  char db[32];
  printf("output '%s'", e->name);
  if (strcmp(e->name, e->b_name)) printf(" (B: '%s')", e->b_name);
  if (!m->n) {
    printf(": not compared (%llu samples with different shapes)\n",
           (unsigned long long)m->mismatched);
    return;
  }
  printf(": max abs diff %.6g, mean abs diff %.6g, SQNR %s dB, cosine %.6f", m->max_abs,
         m->sum_abs / (double)m->n, compare_db(tqt_compare_sqnr_db(m), db, sizeof db),
         tqt_compare_cosine(m));
  if (m->rows)
    printf(", top-1 agreement %.2f %% (%llu of %llu)", 100.0 * (double)m->agree / (double)m->rows,
           (unsigned long long)m->agree, (unsigned long long)m->rows);
  printf("\n");
}

/* Per layer, the SQNR the error "arrives with": its own when compared, else the lowest of its
 * inputs' (through values B lacks, such as a Conv output folded with its BatchNormalization).
 * Layers are in A's order (inputs before readers). */
static double *compare_arrival(const struct tqt_compare *c) {
  double *eff = malloc((c->n_layers + 1) * sizeof *eff);
  for (size_t i = 0; eff && i < c->n_layers; i++) {
    const struct tqt_compare_entry *e = &c->layers[i];
    eff[i] = NAN;
    if (e->m.n) {
      eff[i] = tqt_compare_sqnr_db(&e->m);
      continue;
    }
    for (size_t k = 0; e->node && k < e->node->n_inputs; k++) {
      const struct tqt_compare_entry *in = tqt_compare_layer(c, e->node->inputs[k]);
      if (in && in->index < i && !isnan(eff[in->index]) && (isnan(eff[i]) || eff[in->index] < eff[i]))
        eff[i] = eff[in->index];
    }
  }
  return eff;
}

/* The lowest arrival SQNR among the inputs of e's node (NAN: none). */
static double compare_inputs_sqnr(const struct tqt_compare *c, const double *eff,
                                  const struct tqt_compare_entry *e) {
  double worst = NAN;
  for (size_t k = 0; eff && e->node && k < e->node->n_inputs; k++) {
    const struct tqt_compare_entry *in = tqt_compare_layer(c, e->node->inputs[k]);
    if (!in || in->index >= e->index || isnan(eff[in->index])) continue;
    if (isnan(worst) || eff[in->index] < worst) worst = eff[in->index];
  }
  return worst;
}

static void compare_print_layers(const struct tqt_compare *c) {
  size_t unmatched = 0;
  printf("\nper layer (A's tensors in graph order, matched in B by name through Q/DQ; "
         "change: SQNR minus its inputs' lowest):\n");
  printf("%10s %9s %10s %13s  %-18s %s\n", "SQNR dB", "change", "cosine", "max abs diff", "op",
         "tensor");
  /* The largest drops, for the closing lines. */
  enum { TOP = 5 };
  const struct tqt_compare_entry *top[TOP] = {0};
  double drop[TOP] = {0};
  double *eff = compare_arrival(c);
  for (size_t i = 0; i < c->n_layers; i++) {
    const struct tqt_compare_entry *e = &c->layers[i];
    if (!e->b_name || !e->m.n) {
      unmatched++;
      continue;
    }
    double s = tqt_compare_sqnr_db(&e->m), before = compare_inputs_sqnr(c, eff, e);
    char db[32], ch[32] = "-";
    if (!isnan(before) && isfinite(s) && isfinite(before)) snprintf(ch, sizeof ch, "%+.2f", s - before);
    else if (!isnan(before) && isfinite(s) && isinf(before)) snprintf(ch, sizeof ch, "new");
    printf("%10s %9s %10.6f %13.6g  %-18s %s%s%s%s\n", compare_db(s, db, sizeof db), ch,
           tqt_compare_cosine(&e->m), e->m.max_abs, e->node ? e->node->op_type : "(input)", e->name,
           strcmp(e->name, e->b_name) ? " (B: " : "", strcmp(e->name, e->b_name) ? e->b_name : "",
           strcmp(e->name, e->b_name) ? ")" : "");
    double dd = isfinite(s) ? (isfinite(before) ? before - s : isinf(before) && before > 0 ? 1e9 : 0) : 0;
    for (int k = 0; k < TOP; k++)
      if (dd > 0 && (!top[k] || dd > drop[k])) {
        memmove(&top[k + 1], &top[k], (size_t)(TOP - k - 1) * sizeof *top);
        memmove(&drop[k + 1], &drop[k], (size_t)(TOP - k - 1) * sizeof *drop);
        top[k] = e;
        drop[k] = dd;
        break;
      }
  }
  if (unmatched)
    printf("(%zu of A's %zu tensors have no counterpart in B or were not compared)\n", unmatched,
           c->n_layers);
  if (top[0]) {
    printf("\nwhere the error grows most:\n");
    for (int k = 0; k < TOP && top[k]; k++) {
      char db[32];
      if (drop[k] >= 1e9)
        printf("  %s (%s): the first difference, SQNR %s dB\n", top[k]->name,
               top[k]->node ? top[k]->node->op_type : "input",
               compare_db(tqt_compare_sqnr_db(&top[k]->m), db, sizeof db));
      else
        printf("  %s (%s): -%.2f dB, to %s dB\n", top[k]->name,
               top[k]->node ? top[k]->node->op_type : "input", drop[k],
               compare_db(tqt_compare_sqnr_db(&top[k]->m), db, sizeof db));
    }
  }
  free(eff);
}

int cli_compare_main(int argc, char **argv) {
  enum { OPT_DATA = 256, OPT_COUNT, OPT_PER_LAYER, OPT_FAIL_BELOW, OPT_THREADS };
  static const struct option options[] = {
      {"help", no_argument, NULL, 'h'},
      {"quiet", no_argument, NULL, 'q'},
      {"data", required_argument, NULL, OPT_DATA},
      {"count", required_argument, NULL, OPT_COUNT},
      {"per-layer", no_argument, NULL, OPT_PER_LAYER},
      {"fail-below-sqnr", required_argument, NULL, OPT_FAIL_BELOW},
      {"threads", required_argument, NULL, OPT_THREADS},
      {NULL, 0, NULL, 0},
  };
  const char **data = calloc((size_t)argc + 1, sizeof *data);
  struct tqt_compare_options co = {0};
  bool quiet = false, fail_below = false;
  double threshold = 0;
  int status = CLI_EXIT_USAGE, opt;
  struct tqt_diag d = {0};
  struct tqt_model *a = NULL, *b = NULL;
  struct tqt_compare *c = NULL;
  if (!data) {
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":hq", options, NULL)) != -1) {
    char *end;
    switch (opt) {
    case 'h':
      fputs(compare_help, stdout);
      status = CLI_EXIT_OK;
      goto done;
    case 'q': quiet = true; break;
    case OPT_DATA: data[co.n_specs++] = optarg; break;
    case OPT_PER_LAYER: co.per_layer = true; break;
    case OPT_COUNT: {
      long long v = strtoll(optarg, &end, 10);
      if (!*optarg || *end || v < 1) {
        status = cli_usage_error("compare: --count takes a positive number, not '%s'", optarg);
        goto done;
      }
      co.max_samples = (size_t)v;
      break;
    }
    case OPT_THREADS: {
      long v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < 1 || v > 1024) {
        status = cli_usage_error("compare: --threads takes 1 to 1024, not '%s'", optarg);
        goto done;
      }
      co.threads = (int)v;
      break;
    }
    case OPT_FAIL_BELOW:
      threshold = strtod(optarg, &end);
      if (!*optarg || *end || !isfinite(threshold)) {
        status = cli_usage_error("compare: --fail-below-sqnr takes a number of dB, not '%s'", optarg);
        goto done;
      }
      fail_below = true;
      break;
    case ':':
      status = cli_usage_error("compare: option '%s' needs a value", argv[optind - 1]);
      goto done;
    default:
      status = cli_usage_error("compare: unknown option '%s'", argv[optind - 1]);
      goto done;
    }
  }
  if (argc - optind != 2) {
    status = cli_usage_error(argc - optind < 2 ? "compare: expected A.onnx and B.onnx"
                                               : "compare: too many arguments (inputs go after --data)");
    goto done;
  }
  if (!co.n_specs) {
    status = cli_usage_error("compare: --data INPUT is needed (or --data random)");
    goto done;
  }
  if (!co.threads) co.threads = (int)(tqt_parallel_cores() < 1024 ? tqt_parallel_cores() : 1024);
  const char *pa = argv[optind], *pb = argv[optind + 1];
  if (tqt_model_load(pa, &a, &d) != TQT_STATUS_OK) goto fail;
  if (tqt_model_validate(a, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", pa);
    goto fail;
  }
  if (tqt_model_load(pb, &b, &d) != TQT_STATUS_OK) goto fail;
  if (tqt_model_validate(b, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", pb);
    goto fail;
  }
  struct cli_progress progress;
  cli_progress_start(&progress, "compare", 0, quiet);
  co.specs = data;
  co.progress = compare_progress;
  co.progress_ctx = &progress;
  enum tqt_status st = tqt_compare_models(a, b, &co, &c, &d);
  cli_progress_end(&progress);
  if (st != TQT_STATUS_OK) goto fail;
  printf("compare: %llu samples; A %s, B %s\n", (unsigned long long)c->samples, pa, pb);
  for (size_t i = 0; i < c->n_outputs; i++) compare_print_output(&c->outputs[i]);
  if (co.per_layer) compare_print_layers(c);
  status = CLI_EXIT_OK;
  for (size_t i = 0; fail_below && i < c->n_outputs; i++) {
    double s = tqt_compare_sqnr_db(&c->outputs[i].m);
    if (isnan(s) || s < threshold) {
      char db[32];
      fprintf(stderr, "onnx-tqt: compare: output '%s': SQNR %s dB is below %g dB\n",
              c->outputs[i].name, compare_db(s, db, sizeof db), threshold);
      status = CLI_EXIT_FAILED;
    }
  }
  goto done;
fail:
  status = cli_diag_exit(&d);
done:
  tqt_compare_destroy(c);
  tqt_model_destroy(a);
  tqt_model_destroy(b);
  free(data);
  return status;
}
