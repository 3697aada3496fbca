#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum tqt_status tqt_diag_fail(struct tqt_diag *d, enum tqt_status status, const char *fmt, ...) {
  if (!d || d->status != TQT_STATUS_OK) return d ? d->status : status;
  d->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
  va_end(ap);
  return status;
}

void tqt_diag_prefix(struct tqt_diag *d, const char *fmt, ...) {
  if (!d) return;
  char head[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  size_t h = strlen(head), len = strlen(d->msg);
  if (h >= sizeof d->msg) h = sizeof d->msg - 1;
  if (len > sizeof d->msg - 1 - h) len = sizeof d->msg - 1 - h;
  memmove(d->msg + h, d->msg, len);
  memcpy(d->msg, head, h);
  d->msg[h + len] = '\0';
}

static void diag_vprint(const char *fmt, va_list ap) {
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void tqt_diag_warn(const struct tqt_diag *d, const char *fmt, ...) {
  if (d && d->verbosity == TQT_VERBOSITY_QUIET) return;
  fputs("warning: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  diag_vprint(fmt, ap);
  va_end(ap);
}

void tqt_diag_info(const struct tqt_diag *d, const char *fmt, ...) {
  if (d && d->verbosity == TQT_VERBOSITY_QUIET) return;
  va_list ap;
  va_start(ap, fmt);
  diag_vprint(fmt, ap);
  va_end(ap);
}

void tqt_diag_note(const struct tqt_diag *d, const char *fmt, ...) {
  if (!d || d->verbosity != TQT_VERBOSITY_VERBOSE) return;
  va_list ap;
  va_start(ap, fmt);
  diag_vprint(fmt, ap);
  va_end(ap);
}

const char *tqt_status_name(enum tqt_status s) {
  switch (s) {
  case TQT_STATUS_OK: return "ok";
  case TQT_STATUS_IO: return "i/o error";
  case TQT_STATUS_PARSE: return "parse error";
  case TQT_STATUS_INVALID: return "invalid model";
  case TQT_STATUS_UNSUPPORTED: return "unsupported";
  case TQT_STATUS_NOMEM: return "out of memory";
  case TQT_STATUS_USAGE: return "usage error";
  }
  return "unknown status";
}
