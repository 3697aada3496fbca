/* Kernels: misc family (filled in by issue #3 work). */
#include "kernel.h"

static const struct tqt_kernel misc_kernels[] = {
    {"", "", 0, NULL, NULL},
};

const struct tqt_kernel_family tqt_family_misc = {"misc", misc_kernels, 0};
