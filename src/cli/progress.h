/* A one-line progress display on a terminal: "what: done/total, rate/s, ETA". Silent when stderr
 * is not a terminal or output is quiet. */
#ifndef TQT_CLI_PROGRESS_H
#define TQT_CLI_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

struct cli_progress {
  const char *what;
  size_t total;
  bool enabled;
  double start, last;
};

void cli_progress_start(struct cli_progress *p, const char *what, size_t total, bool quiet);
void cli_progress_update(struct cli_progress *p, size_t done);
void cli_progress_end(struct cli_progress *p);
double cli_now(void);

#endif
