/* The subcommands of the onnx-tqt executable. Each returns the process exit status. */
#ifndef TQT_CLI_H
#define TQT_CLI_H

#include "diag.h"

enum cli_exit { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

int cli_convert_main(int argc, char **argv);
int cli_info_main(int argc, char **argv);
int cli_run_main(int argc, char **argv);
int cli_compare_main(int argc, char **argv);

/* Prints the diagnostic as one line "onnx-tqt: message" and maps its status to an exit code. */
int cli_diag_exit(const struct tqt_diag *d);
/* Prints a usage error as one line and returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
