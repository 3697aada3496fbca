/* Status codes and the one-line diagnostic every fallible function fills. */
#ifndef TQT_DIAG_H
#define TQT_DIAG_H

#include <stddef.h>

enum tqt_status {
  TQT_STATUS_OK = 0,
  TQT_STATUS_IO,          /* a file could not be read or written */
  TQT_STATUS_PARSE,       /* not a valid ONNX protobuf */
  TQT_STATUS_INVALID,     /* well-formed but inconsistent model (undefined names, cycles, ...) */
  TQT_STATUS_UNSUPPORTED, /* valid, but something onnx-tqt does not handle */
  TQT_STATUS_NOMEM,
  TQT_STATUS_USAGE,       /* a caller passed wrong options */
};

enum tqt_verbosity { TQT_VERBOSITY_QUIET = -1, TQT_VERBOSITY_NORMAL = 0, TQT_VERBOSITY_VERBOSE = 1 };

struct tqt_diag {
  enum tqt_status status;
  char msg[1024];
  enum tqt_verbosity verbosity; /* for warnings and progress */
};

/* Records the first error (later calls keep the first message) and returns status. */
enum tqt_status tqt_diag_fail(struct tqt_diag *d, enum tqt_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds context in front of the recorded message: "file.onnx: " + msg. */
void tqt_diag_prefix(struct tqt_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Warnings and results worth a line (info) go to stderr unless quiet; verbose notes only with
 * -v. */
void tqt_diag_warn(const struct tqt_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tqt_diag_info(const struct tqt_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tqt_diag_note(const struct tqt_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *tqt_status_name(enum tqt_status s);

#endif
