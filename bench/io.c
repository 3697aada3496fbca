/* Load and save speed and peak memory on a generated model of about 200 MB (a stack of MatMul
 * layers). The load + save runs in a child process so its peak RSS is its own. The generated
 * model stays in DIR for bench/io.sh to time ONNX Runtime on it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tqt.h"

enum { IO_LAYERS = 50, IO_WIDTH = 1024 }; /* 50 × 1024 × 1024 floats ≈ 210 MB */

static double io_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int io_generate(const char *path) {
  struct tqt_model *m = tqt_model_create();
  struct tqt_diag d = {0};
  float *w = malloc(sizeof(float) * IO_WIDTH * IO_WIDTH);
  int rc = 1;
  if (!m || !w || tqt_model_opset_set(m, "", 13)) goto fail;
  m->has_ir_version = true;
  m->ir_version = 8;
  struct tqt_arena *a = m->arena;
  int64_t in_dims[2] = {1, IO_WIDTH}, w_dims[2] = {IO_WIDTH, IO_WIDTH};
  if (!tqt_graph_input_add(a, m->graph, "x0", TQT_DTYPE_FLOAT, 2, in_dims)) goto fail;
  for (int l = 0; l < IO_LAYERS; l++) {
    for (size_t i = 0; i < (size_t)IO_WIDTH * IO_WIDTH; i++)
      w[i] = (float)((i * 2654435761u + (unsigned)l) % 1000) * 1e-3f - 0.5f;
    char wn[32], xin[32], xout[32];
    snprintf(wn, sizeof wn, "w%d", l);
    snprintf(xin, sizeof xin, "x%d", l);
    snprintf(xout, sizeof xout, "x%d", l + 1);
    const char *ins[2] = {xin, wn}, *outs[1] = {xout};
    if (!tqt_graph_initializer_add(a, m->graph, wn, TQT_DTYPE_FLOAT, 2, w_dims, w) ||
        !tqt_graph_node_add(a, m->graph, "MatMul", xout, 2, ins, 1, outs))
      goto fail;
  }
  char last[32];
  snprintf(last, sizeof last, "x%d", IO_LAYERS);
  if (!tqt_graph_output_add(a, m->graph, last, TQT_DTYPE_FLOAT, 2, in_dims)) goto fail;
  if (tqt_model_save(m, path, NULL, &d) != TQT_STATUS_OK) goto fail;
  rc = 0;
fail:
  if (rc) fprintf(stderr, "bench/io: generate: %s\n", d.msg[0] ? d.msg : "out of memory");
  free(w);
  tqt_model_destroy(m);
  return rc;
}

/* The measured work: load, validate, save. Prints the two times. */
static int io_load_save(const char *in, const char *out) {
  struct tqt_diag d = {0};
  struct tqt_model *m = NULL;
  double t0 = io_now();
  if (tqt_model_load(in, &m, &d) != TQT_STATUS_OK || tqt_model_validate(m, &d) != TQT_STATUS_OK)
    goto fail;
  double t1 = io_now();
  if (tqt_model_save(m, out, NULL, &d) != TQT_STATUS_OK) goto fail;
  double t2 = io_now();
  printf("load: %.3f s\nsave: %.3f s\n", t1 - t0, t2 - t1);
  tqt_model_destroy(m);
  return 0;
fail:
  fprintf(stderr, "bench/io: %s\n", d.msg);
  tqt_model_destroy(m);
  return 1;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  char in[4096], out[4096];
  snprintf(in, sizeof in, "%s/bench-io-in.onnx", dir);
  snprintf(out, sizeof out, "%s/bench-io-out.onnx", dir);
  if (io_generate(in) != 0) return 1;
  struct stat sb;
  if (stat(in, &sb) != 0) return 1;
  fflush(stdout);
  double t0 = io_now();
  pid_t pid = fork();
  if (pid == 0) _exit(io_load_save(in, out));
  int status = 0;
  struct rusage ru;
  if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "bench/io: the load + save child failed\n");
    return 1;
  }
  double total = io_now() - t0;
  double size_mb = (double)sb.st_size / 1e6, peak_mb = (double)ru.ru_maxrss * 1024 / 1e6;
  printf("model: %.1f MB (%d MatMul layers of %dx%d floats)\n", size_mb, IO_LAYERS, IO_WIDTH,
         IO_WIDTH);
  printf("load + save: %.3f s (goal < 1.5 s)\n", total);
  printf("peak memory: %.1f MB = %.2f x the file size (goal < 2.5 x)\n", peak_mb,
         peak_mb / size_mb);
  printf("load+save seconds: %.3f\n", total); /* for bench/io.sh */
  unlink(out);
  return 0;
}
