/* Items of work spread over threads, their results taken in item order, so that what the
 * results add up to does not depend on the number of threads (floating-point sums included). */
#ifndef TQT_PARALLEL_H
#define TQT_PARALLEL_H

#include <stddef.h>

#include "diag.h"

/* The work of one item on one worker (0 .. workers-1); d is the worker's own. */
typedef enum tqt_status (*tqt_parallel_work_fn)(void *ctx, size_t worker, size_t item,
                                                struct tqt_diag *d);

/* Runs work(item) for items 0 .. n-1 on `workers` threads (1: in the caller's thread only), each
 * worker taking the next item not taken; then commit(item) on the same worker, one item at a
 * time and in item order. Stops at the first failure: the status and message are those of the
 * failing item with the lowest index (the same whatever the number of workers). */
enum tqt_status tqt_parallel_run(size_t n, size_t workers, tqt_parallel_work_fn work,
                                 tqt_parallel_work_fn commit, void *ctx, struct tqt_diag *d);

/* The processors online (at least 1). */
size_t tqt_parallel_cores(void);

#endif
