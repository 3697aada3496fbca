#include "parallel.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct parallel {
  pthread_mutex_t lock;
  pthread_cond_t turn; /* committed moved on, or a failure */
  size_t n, next, committed;
  tqt_parallel_work_fn work, commit;
  void *ctx;
  enum tqt_verbosity verbosity;
  bool failed;
  struct tqt_diag failure; /* the lowest failing item's */
};

struct parallel_worker {
  struct parallel *par;
  size_t index;
};

/* Takes items until none is left or one failed. An item's commit waits for its turn: the items
 * before it committed (or one of them failed, and then it is dropped). */
static void *parallel_worker_loop(void *arg) {
  const struct parallel_worker *w = arg;
  struct parallel *par = w->par;
  for (;;) {
    pthread_mutex_lock(&par->lock);
    if (par->failed || par->next >= par->n) {
      pthread_mutex_unlock(&par->lock);
      return NULL;
    }
    size_t item = par->next++;
    pthread_mutex_unlock(&par->lock);
    struct tqt_diag d = {.verbosity = par->verbosity};
    enum tqt_status st = par->work(par->ctx, w->index, item, &d);
    pthread_mutex_lock(&par->lock);
    while (!par->failed && par->committed != item) pthread_cond_wait(&par->turn, &par->lock);
    if (!par->failed) {
      if (st == TQT_STATUS_OK && par->commit) st = par->commit(par->ctx, w->index, item, &d);
      if (st != TQT_STATUS_OK) {
        par->failed = true;
        par->failure = d;
        par->failure.status = st;
      }
      par->committed++;
    }
    pthread_cond_broadcast(&par->turn);
    pthread_mutex_unlock(&par->lock);
  }
}

enum tqt_status tqt_parallel_run(size_t n, size_t workers, tqt_parallel_work_fn work,
                                 tqt_parallel_work_fn commit, void *ctx, struct tqt_diag *d) {
  struct parallel par = {.n = n, .work = work, .commit = commit, .ctx = ctx,
                         .verbosity = d->verbosity};
  if (workers > n) workers = n;
  if (workers < 1) workers = 1;
  pthread_t *threads = calloc(workers, sizeof *threads);
  struct parallel_worker *ws = calloc(workers, sizeof *ws);
  size_t started = 1;
  if (!threads || !ws) {
    free(threads);
    free(ws);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  pthread_mutex_init(&par.lock, NULL);
  pthread_cond_init(&par.turn, NULL);
  for (size_t i = 0; i < workers; i++) ws[i] = (struct parallel_worker){&par, i};
  /* worker 0 is the caller; a thread that cannot start leaves its share to the others */
  while (started < workers && !pthread_create(&threads[started], NULL, parallel_worker_loop,
                                              &ws[started]))
    started++;
  parallel_worker_loop(&ws[0]);
  for (size_t i = 1; i < started; i++) pthread_join(threads[i], NULL);
  pthread_cond_destroy(&par.turn);
  pthread_mutex_destroy(&par.lock);
  free(threads);
  free(ws);
  if (par.failed) return tqt_diag_fail(d, par.failure.status, "%s", par.failure.msg);
  return TQT_STATUS_OK;
}

size_t tqt_parallel_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (size_t)n : 1;
}
