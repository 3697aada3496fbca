#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(struct cli_progress *p, const char *what, size_t total, bool quiet) {
  p->what = what;
  p->total = total;
  p->enabled = !quiet && isatty(STDERR_FILENO);
  p->start = p->last = cli_now();
}

void cli_progress_update(struct cli_progress *p, size_t done) {
  if (!p->enabled) return;
  double now = cli_now();
  if (now - p->last < 0.25 && done < p->total) return;
  p->last = now;
  double rate = done / (now - p->start + 1e-9);
  double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
  fprintf(stderr, "\r%s: %zu/%zu samples, %.1f/s, ETA %.0f s   ", p->what, done, p->total, rate,
          eta);
  fflush(stderr);
}

void cli_progress_end(struct cli_progress *p) {
  if (p->enabled) fputs("\r\033[K", stderr);
}
