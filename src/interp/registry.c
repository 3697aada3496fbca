/* Every kernel family, one per file of src/interp/. */
#include <cblas.h>
#include <string.h>

#include "interp_internal.h"

extern const struct tqt_kernel_family tqt_family_elementwise;
extern const struct tqt_kernel_family tqt_family_math;
extern const struct tqt_kernel_family tqt_family_conv;
extern const struct tqt_kernel_family tqt_family_gemm;
extern const struct tqt_kernel_family tqt_family_pool;
extern const struct tqt_kernel_family tqt_family_norm;
extern const struct tqt_kernel_family tqt_family_reduce;
extern const struct tqt_kernel_family tqt_family_shape;
extern const struct tqt_kernel_family tqt_family_index;
extern const struct tqt_kernel_family tqt_family_resize;
extern const struct tqt_kernel_family tqt_family_control;
extern const struct tqt_kernel_family tqt_family_rnn;
extern const struct tqt_kernel_family tqt_family_qdq;
extern const struct tqt_kernel_family tqt_family_misc;

const struct tqt_kernel_family *const tqt_kernel_families[] = {
    &tqt_family_elementwise, &tqt_family_math,    &tqt_family_conv,    &tqt_family_gemm,
    &tqt_family_pool,        &tqt_family_norm,    &tqt_family_reduce,  &tqt_family_shape,
    &tqt_family_index,       &tqt_family_resize,  &tqt_family_control, &tqt_family_rnn,
    &tqt_family_qdq,         &tqt_family_misc,
};
const size_t tqt_kernel_family_count =
    sizeof tqt_kernel_families / sizeof tqt_kernel_families[0];

void interp_threads_set(int threads) {
  if (threads > 0) openblas_set_num_threads(threads);
}

const struct tqt_kernel *interp_kernel_find(const char *domain, const char *op_type,
                                           int64_t opset) {
  const struct tqt_kernel *best = NULL;
  bool default_domain = !*domain || strcmp(domain, "ai.onnx") == 0;
  for (size_t f = 0; f < tqt_kernel_family_count; f++) {
    const struct tqt_kernel_family *fam = tqt_kernel_families[f];
    for (size_t i = 0; i < fam->count; i++) {
      const struct tqt_kernel *kn = &fam->kernels[i];
      bool same_domain = default_domain ? !*kn->domain : strcmp(kn->domain, domain) == 0;
      if (!same_domain || strcmp(kn->op_type, op_type) != 0 || kn->since_version > opset)
        continue;
      if (!best || kn->since_version > best->since_version) best = kn;
    }
  }
  return best;
}
