/* Kernels: control family (filled in by issue #3 work). */
#include "kernel.h"

static const struct tqt_kernel control_kernels[] = {
    {"", "", 0, NULL, NULL},
};

const struct tqt_kernel_family tqt_family_control = {"control", control_kernels, 0};
