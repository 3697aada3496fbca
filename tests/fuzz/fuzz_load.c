/* libFuzzer harness: the loader alone. Any byte string goes to tqt_model_load_buffer; a model
 * that loads is walked (tensor data read, external data too) and destroyed. Crashes, leaks and
 * sanitizer reports are the findings. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "onnx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_touch_graph(struct tqt_graph *g, int depth, void *ctx) {
  (void)depth;
  struct tqt_model *m = ctx;
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  for (size_t i = 0; i < g->n_initializers; i++) {
    struct tqt_tensor *t = g->initializers[i];
    const unsigned char *p = tqt_tensor_data(t, m->arena, &d);
    d.status = TQT_STATUS_OK;
    /* Read every byte: the sanitizers check that nbytes really are there. */
    volatile unsigned char sum = 0;
    for (size_t k = 0; p && k < t->nbytes; k++) sum ^= p[k];
    (void)sum;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_model *m = NULL;
  if (tqt_model_load_buffer(data, size, "fuzz.onnx", fuzz_base_dir(), &m, &d) == TQT_STATUS_OK)
    tqt_graph_walk(m->graph, fuzz_touch_graph, m);
  tqt_model_destroy(m);
  return 0;
}
