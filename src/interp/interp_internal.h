/* Shared between the interpreter core and its registry; not for kernels or callers. */
#ifndef TQT_INTERP_INTERNAL_H
#define TQT_INTERP_INTERNAL_H

#include <stddef.h>

#include "kernel.h"

extern const struct tqt_kernel_family *const tqt_kernel_families[];
extern const size_t tqt_kernel_family_count;

/* The kernel for (domain, op_type) with the highest since_version ≤ opset; NULL when none. */
const struct tqt_kernel *interp_kernel_find(const char *domain, const char *op_type, int64_t opset);

/* Sets the BLAS thread count (0 leaves the library's default). */
void interp_threads_set(int threads);

#endif
