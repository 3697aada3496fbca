/* Between the inference engine (infer.c) and its dim table (dimexpr.c). */
#ifndef TQT_INTERP_INFER_INTERNAL_H
#define TQT_INTERP_INFER_INTERNAL_H

#include "arena.h"

struct tqt_dimtab;

/* A table carved from a; NULL when out of memory. Free its maps with infer_dimtab_free. */
struct tqt_dimtab *infer_dimtab_create(struct tqt_arena *a);
void infer_dimtab_free(struct tqt_dimtab *t);

#endif
