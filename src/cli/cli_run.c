/* onnx-tqt run MODEL [INPUT ...]: the interpreter over samples, outputs written as .npy. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dataset.h"
#include "file_io.h"
#include "interp.h"
#include "npy.h"
#include "onnx_io.h"
#include "progress.h"

static const char run_help[] =
    "usage: onnx-tqt run [OPTIONS] MODEL.onnx INPUT...\n"
    "\n"
    "Runs the model in onnx-tqt's interpreter on every sample of INPUT and writes each graph\n"
    "output to OUTDIR/<output_name>.npy (characters outside A-Za-z0-9._- become _), the samples\n"
    "stacked on axis 0: an output of shape [1,...] per sample gives [N,...]; any other shape S\n"
    "gives [N,S...].\n"
    "\n"
    "INPUT is one of:\n"
    "  FILE.npy          for a one-input model; axis 0 indexes samples when the array has one\n"
    "                    more axis than the input, or the input's batch is 1 and axis 0 is larger\n"
    "  NAME=FILE.npy     for the input NAME (repeat for several inputs)\n"
    "  DIR/              *.npy files (one sample each, sorted by name); or the ONNX test layout\n"
    "                    DIR/test_data_set_N/input_K.pb, or one such set DIR/input_K.pb; or\n"
    "                    sample folders DIR/<sample>/<input_name>.npy for several inputs\n"
    "\n"
    "Options:\n"
    "  -o, --output DIR  where the outputs go (default: out); created if missing\n"
    "  --time            print 'time: X.XXX ms per sample' on stderr (planning excluded)\n"
    "  --threads N       threads for matrix products (default: the BLAS library's choice)\n"
    "  -q, --quiet       no progress line\n"
    "  -h, --help        this help\n";

struct run_output {
  struct tqt_file_atomic file;
  int32_t dtype;
  size_t rank;
  int64_t dims[TQT_RANK_MAX];
};


/* Opens the output file at the first sample, with the shape all samples must share. */
static enum tqt_status run_output_begin(struct run_output *o, const char *dir, const char *name,
                                        const struct tqt_rt_tensor *t, size_t count,
                                        struct tqt_diag *d) {
  char safe[1024], path[4096 + 1100];
  tqt_path_safe_name(name, safe, sizeof safe);
  snprintf(path, sizeof path, "%s/%s.npy", dir, safe);
  o->dtype = t->dtype;
  o->rank = t->rank;
  memcpy(o->dims, t->dims, t->rank * sizeof *t->dims);
  int64_t dims[TQT_RANK_MAX + 1];
  size_t rank;
  if (t->rank > 0 && t->dims[0] == 1) {
    rank = t->rank;
    memcpy(dims, t->dims, rank * sizeof *dims);
    dims[0] = (int64_t)count;
  } else {
    rank = t->rank + 1;
    dims[0] = (int64_t)count;
    memcpy(dims + 1, t->dims, t->rank * sizeof *dims);
  }
  enum tqt_status st = tqt_file_atomic_open(&o->file, path, d);
  if (st != TQT_STATUS_OK) return st;
  return tqt_npy_header_write(o->file.fp, t->dtype, rank, dims, path, d);
}

static enum tqt_status run_output_append(struct run_output *o, const char *name,
                                         const struct tqt_value *v, size_t sample,
                                         struct tqt_diag *d) {
  if (!v || v->kind != TQT_VALUE_KIND_TENSOR)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "output '%s' is not a tensor", name);
  const struct tqt_rt_tensor *t = &v->t;
  bool same = t->dtype == o->dtype && t->rank == o->rank;
  for (size_t i = 0; same && i < t->rank; i++) same = t->dims[i] == o->dims[i];
  if (!same) {
    char s[128];
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                         "output '%s' changes shape at sample %zu (%s %s): cannot stack it", name,
                         sample, tqt_dtype_name(t->dtype), tqt_rt_shape_str(t, s, sizeof s));
  }
  if (t->nbytes && fwrite(t->data, 1, t->nbytes, o->file.fp) != t->nbytes)
    return tqt_diag_fail(d, TQT_STATUS_IO, "%s: write failed", o->file.path);
  return TQT_STATUS_OK;
}

int cli_run_main(int argc, char **argv) {
  enum { OPT_TIME = 256, OPT_THREADS };
  static const struct option options[] = {
      {"help", no_argument, NULL, 'h'},         {"output", required_argument, NULL, 'o'},
      {"time", no_argument, NULL, OPT_TIME},    {"threads", required_argument, NULL, OPT_THREADS},
      {"quiet", no_argument, NULL, 'q'},        {NULL, 0, NULL, 0},
  };
  const char *out_dir = "out";
  bool time_it = false, quiet = false;
  struct tqt_interp_options io = {0};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":ho:q", options, NULL)) != -1) {
    switch (opt) {
    case 'h': fputs(run_help, stdout); return CLI_EXIT_OK;
    case 'o': out_dir = optarg; break;
    case 'q': quiet = true; break;
    case OPT_TIME: time_it = true; break;
    case OPT_THREADS: {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*end || v < 1 || v > 1024) return cli_usage_error("run: --threads takes 1 to 1024");
      io.threads = (int)v;
      break;
    }
    case ':': return cli_usage_error("run: option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage_error("run: unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind < 2) return cli_usage_error("run: expected MODEL.onnx and INPUT");
  const char *model_path = argv[optind];
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  struct tqt_interp *in = NULL;
  struct tqt_dataset *ds = NULL;
  struct run_output *outs = NULL;
  struct tqt_value *values = NULL;
  const struct tqt_value **ptrs = NULL;
  size_t n_out = 0;
  if (tqt_model_load(model_path, &m, &d) != TQT_STATUS_OK) goto fail;
  if (tqt_model_validate(m, &d) != TQT_STATUS_OK ||
      tqt_interp_create(m, &io, &in, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", model_path);
    goto fail;
  }
  size_t n_in = tqt_interp_input_count(in);
  const struct tqt_value_info **infos = calloc(n_in + 1, sizeof *infos);
  values = calloc(n_in + 1, sizeof *values);
  ptrs = calloc(n_in + 1, sizeof *ptrs);
  n_out = tqt_interp_output_count(in);
  outs = calloc(n_out + 1, sizeof *outs);
  if (!infos || !values || !ptrs || !outs) {
    free(infos);
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  for (size_t i = 0; i < n_in; i++) {
    infos[i] = tqt_interp_input_info(in, i);
    ptrs[i] = &values[i];
  }
  enum tqt_status st = tqt_dataset_open((const char *const *)argv + optind + 1,
                                        (size_t)(argc - optind - 1), infos, n_in, NULL, &ds, &d);
  free(infos);
  if (st != TQT_STATUS_OK) goto fail;
  if (mkdir(out_dir, 0777) != 0 && !tqt_path_is_dir(out_dir)) {
    tqt_diag_fail(&d, TQT_STATUS_IO, "%s: cannot create the output folder", out_dir);
    goto fail;
  }
  size_t count = tqt_dataset_count(ds);
  struct cli_progress progress;
  cli_progress_start(&progress, "run", count, quiet);
  double run_seconds = 0;
  for (size_t s = 0; s < count; s++) {
    if (tqt_dataset_sample(ds, s, values, &d) != TQT_STATUS_OK) goto fail;
    double t0 = cli_now();
    if (tqt_interp_run(in, ptrs, n_in, &d) != TQT_STATUS_OK) {
      tqt_diag_prefix(&d, "%s: sample %zu: ", model_path, s);
      goto fail;
    }
    run_seconds += cli_now() - t0;
    for (size_t o = 0; o < n_out; o++) {
      const char *name = m->graph->outputs[o].name;
      const struct tqt_value *v = tqt_interp_output(in, o);
      if (s == 0 && v && v->kind == TQT_VALUE_KIND_TENSOR &&
          run_output_begin(&outs[o], out_dir, name, &v->t, count, &d) != TQT_STATUS_OK)
        goto fail;
      if (run_output_append(&outs[o], name, v, s, &d) != TQT_STATUS_OK) goto fail;
    }
    cli_progress_update(&progress, s + 1);
  }
  cli_progress_end(&progress);
  for (size_t o = 0; o < n_out; o++)
    if (tqt_file_atomic_commit(&outs[o].file, &d) != TQT_STATUS_OK) goto fail;
  if (time_it && count)
    fprintf(stderr, "time: %.3f ms per sample\n", 1e3 * run_seconds / (double)count);
fail:
  for (size_t o = 0; outs && o < n_out; o++) tqt_file_atomic_abort(&outs[o].file);
  free(outs);
  free(values);
  free(ptrs);
  tqt_dataset_close(ds);
  tqt_interp_destroy(in);
  tqt_model_destroy(m);
  return cli_diag_exit(&d);
}
