/* Kernels: index family (filled in by issue #3 work). */
#include "kernel.h"

static const struct tqt_kernel index_kernels[] = {
    {"", "", 0, NULL, NULL},
};

const struct tqt_kernel_family tqt_family_index = {"index", index_kernels, 0};
