/* Kernels: resize family (filled in by issue #3 work). */
#include "kernel.h"

static const struct tqt_kernel resize_kernels[] = {
    {"", "", 0, NULL, NULL},
};

const struct tqt_kernel_family tqt_family_resize = {"resize", resize_kernels, 0};
