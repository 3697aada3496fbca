/* onnx-tqt: dispatch to the subcommand; the quantizer itself is the default. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "src/cli/cli.h"

int cli_diag_exit(const struct tqt_diag *d) {
  if (d->status == TQT_STATUS_OK) return CLI_EXIT_OK;
  /* One line, whatever the names in a hostile model hold: control characters become '?'. */
  char line[sizeof d->msg];
  snprintf(line, sizeof line, "%s", d->msg[0] ? d->msg : tqt_status_name(d->status));
  for (char *p = line; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
  fprintf(stderr, "onnx-tqt: %s\n", line);
  return d->status == TQT_STATUS_USAGE ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
}

int cli_usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("onnx-tqt: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs(" (see onnx-tqt --help)\n", stderr);
  va_end(ap);
  return CLI_EXIT_USAGE;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "info") == 0) return cli_info_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "run") == 0) return cli_run_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "compare") == 0) return cli_compare_main(argc - 1, argv + 1);
  return cli_convert_main(argc, argv);
}
