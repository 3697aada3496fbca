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
#include "parallel.h"
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
    "  --threads N       threads (default: the cores): samples run on N workers at once, each\n"
    "                    sample's matrix products on one thread; a single sample's products\n"
    "                    use all N\n"
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

struct run_job {
  struct tqt_sample_worker *workers;
  double *seconds; /* per worker: the time its runs took */
  const struct tqt_model *m;
  const char *model_path, *out_dir;
  struct run_output *outs;
  size_t n_in, n_out, count;
  struct cli_progress progress;
};

static enum tqt_status run_sample(void *ctx, size_t worker, size_t s, struct tqt_diag *d) {
  struct run_job *j = ctx;
  struct tqt_sample_worker *w = &j->workers[worker];
  enum tqt_status st = tqt_dataset_sample(w->ds, s, w->values, d);
  if (st != TQT_STATUS_OK) return st;
  double t0 = cli_now();
  if ((st = tqt_interp_run(w->in, w->ptrs, j->n_in, d)) != TQT_STATUS_OK)
    tqt_diag_prefix(d, "%s: sample %zu: ", j->model_path, s);
  j->seconds[worker] += cli_now() - t0;
  return st;
}

/* In sample order: the sample's outputs appended to the files. */
static enum tqt_status run_sample_write(void *ctx, size_t worker, size_t s, struct tqt_diag *d) {
  struct run_job *j = ctx;
  enum tqt_status st = TQT_STATUS_OK;
  for (size_t o = 0; st == TQT_STATUS_OK && o < j->n_out; o++) {
    const char *name = j->m->graph->outputs[o].name;
    const struct tqt_value *v = tqt_interp_output(j->workers[worker].in, o);
    if (s == 0 && v && v->kind == TQT_VALUE_KIND_TENSOR)
      st = run_output_begin(&j->outs[o], j->out_dir, name, &v->t, j->count, d);
    if (st == TQT_STATUS_OK) st = run_output_append(&j->outs[o], name, v, s, d);
  }
  cli_progress_update(&j->progress, s + 1);
  return st;
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
  struct run_job j = {.model_path = model_path, .out_dir = out_dir};
  if (io.threads <= 0) io.threads = (int)tqt_parallel_cores();
  size_t want = (size_t)io.threads, n_workers = 1;
  if (tqt_model_load(model_path, &m, &d) != TQT_STATUS_OK) goto fail;
  j.m = m;
  if (tqt_model_validate(m, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", model_path);
    goto fail;
  }
  /* One worker first, with every thread in its matrix products: enough for a single sample. */
  const char *const *specs = (const char *const *)argv + optind + 1;
  size_t n_specs = (size_t)(argc - optind - 1);
  if (tqt_sample_workers_create(m, &io, NULL, 1, specs, n_specs, NULL, &j.workers, &j.n_in, &d) !=
      TQT_STATUS_OK) {
    if (!j.workers || !j.workers[0].in) tqt_diag_prefix(&d, "%s: ", model_path); /* not the data */
    goto fail;
  }
  j.n_out = tqt_interp_output_count(j.workers[0].in);
  j.count = tqt_dataset_count(j.workers[0].ds);
  if (want > 1 && j.count > 1) { /* several samples: on as many workers, each on one thread */
    tqt_sample_workers_destroy(j.workers, 1);
    j.workers = NULL;
    n_workers = j.count < want ? j.count : want;
    if (tqt_sample_workers_create(m, &io, NULL, n_workers, specs, n_specs, NULL, &j.workers,
                                  &j.n_in, &d) != TQT_STATUS_OK)
      goto fail;
  }
  if (!(j.seconds = calloc(n_workers, sizeof *j.seconds))) {
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if (!(j.outs = calloc(j.n_out + 1, sizeof *j.outs))) {
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  if (mkdir(out_dir, 0777) != 0 && !tqt_path_is_dir(out_dir)) {
    tqt_diag_fail(&d, TQT_STATUS_IO, "%s: cannot create the output folder", out_dir);
    goto fail;
  }
  cli_progress_start(&j.progress, "run", j.count, quiet);
  if (tqt_parallel_run(j.count, n_workers, run_sample, run_sample_write, &j, &d) != TQT_STATUS_OK)
    goto fail;
  cli_progress_end(&j.progress);
  for (size_t o = 0; o < j.n_out; o++)
    if (tqt_file_atomic_commit(&j.outs[o].file, &d) != TQT_STATUS_OK) goto fail;
  double seconds = 0;
  for (size_t k = 0; k < n_workers; k++) seconds += j.seconds[k];
  if (time_it && j.count)
    fprintf(stderr, "time: %.3f ms per sample\n", 1e3 * seconds / (double)j.count);
fail:
  for (size_t o = 0; j.outs && o < j.n_out; o++) tqt_file_atomic_abort(&j.outs[o].file);
  free(j.outs);
  tqt_sample_workers_destroy(j.workers, n_workers);
  free(j.seconds);
  tqt_model_destroy(m);
  return cli_diag_exit(&d);
}
