/* Kernels: shape family (filled in by issue #3 work). */
#include "kernel.h"

static const struct tqt_kernel shape_kernels[] = {
    {"", "", 0, NULL, NULL},
};

const struct tqt_kernel_family tqt_family_shape = {"shape", shape_kernels, 0};
