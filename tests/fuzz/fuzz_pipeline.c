/* libFuzzer harness: what `onnx-tqt IN OUT --no-quantize` and `run` do before writing anything.
 * Load, validate, the passes with default options, the interpreter's plan and, when every input
 * has a static shape and they take at most FUZZ_INPUT_BYTES_MAX together, one run on zeros
 * (no value larger than FUZZ_TENSOR_BYTES_MAX). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "interp.h"
#include "onnx_io.h"
#include "options.h"
#include "passes.h"

#define FUZZ_INPUT_BYTES_MAX (1u << 20)
#define FUZZ_TENSOR_BYTES_MAX ((size_t)64 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One run on zero inputs, if they are small. */
static void fuzz_run(struct tqt_interp *in) {
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  size_t n = tqt_interp_input_count(in);
  struct tqt_value *values = calloc(n + 1, sizeof *values);
  const struct tqt_value **ptrs = calloc(n + 1, sizeof *ptrs);
  uint64_t total = 0;
  if (!values || !ptrs) goto done;
  for (size_t i = 0; i < n; i++) {
    const struct tqt_type *t = tqt_interp_input_info(in, i)->type;
    if (!t || t->kind != TQT_TYPE_KIND_TENSOR || !t->has_elem_type || !t->has_shape ||
        t->rank > TQT_RANK_MAX || t->elem_type == TQT_DTYPE_STRING)
      goto done;
    int64_t dims[TQT_RANK_MAX];
    uint64_t numel = 1;
    for (size_t k = 0; k < t->rank; k++) {
      if (!t->dims[k].has_value || t->dims[k].value < 0 || t->dims[k].value > FUZZ_INPUT_BYTES_MAX)
        goto done;
      dims[k] = t->dims[k].value;
      numel *= (uint64_t)dims[k];
      if (numel > FUZZ_INPUT_BYTES_MAX) goto done;
    }
    size_t esize = tqt_dtype_size(t->elem_type);
    if (!esize) goto done;
    total += numel * esize;
    if (total > FUZZ_INPUT_BYTES_MAX) goto done;
    if (tqt_value_tensor_alloc(&values[i], t->elem_type, t->rank, dims, &d) != TQT_STATUS_OK)
      goto done;
    ptrs[i] = &values[i];
  }
  tqt_interp_run(in, ptrs, n, &d);
done:
  for (size_t i = 0; values && i < n; i++) tqt_value_release(&values[i]);
  free(values);
  free(ptrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
  struct tqt_model *m = NULL;
  struct tqt_interp *in = NULL;
  static const struct tqt_options defaults = {0};
  const struct tqt_interp_options io = {.max_tensor_bytes = FUZZ_TENSOR_BYTES_MAX};
  if (tqt_model_load_buffer(data, size, "fuzz.onnx", fuzz_base_dir(), &m, &d) != TQT_STATUS_OK ||
      tqt_model_validate(m, &d) != TQT_STATUS_OK ||
      tqt_passes_run(m, &defaults, &d) != TQT_STATUS_OK ||
      tqt_interp_create(m, &io, &in, &d) != TQT_STATUS_OK)
    goto done;
  fuzz_run(in);
done:
  tqt_interp_destroy(in);
  tqt_model_destroy(m);
  return 0;
}
