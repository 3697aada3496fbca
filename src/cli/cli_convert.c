/* onnx-tqt IN.onnx OUT.onnx: load, check, save. Later stages (passes, calibration, Q/DQ) slot in
 * between load and save. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "onnx_io.h"
#include "tqt_version.h"

static const char convert_help[] =
    "usage: onnx-tqt [OPTIONS] IN.onnx OUT.onnx\n"
    "       onnx-tqt info MODEL.onnx\n"
    "       onnx-tqt run [OPTIONS] MODEL.onnx INPUT...\n"
    "\n"
    "Turns a float ONNX model into one whose every quantization scale is a power of two\n"
    "(Trained Quantization Thresholds, Jain et al. 2020).\n"
    "\n"
    "This build loads IN (with its external data), checks it (every node input defined, every\n"
    "graph output produced, no cycles; nodes out of order are sorted) and writes it to OUT.\n"
    "Calibration and quantization options arrive in later releases.\n"
    "\n"
    "OUT is written to a temporary file beside it and renamed into place: a failed run leaves\n"
    "no OUT behind and never touches IN.\n"
    "\n"
    "Options:\n"
    "  --external-data   write tensors of 1 KiB and more to OUT.data beside OUT (done anyway\n"
    "                    when the model would pass protobuf's 2 GB limit)\n"
    "  -q, --quiet       print nothing but errors\n"
    "  -v, --verbose     say what each step did\n"
    "  --version         print the version and exit\n"
    "  -h, --help        print this help and exit\n"
    "\n"
    "Subcommands:\n"
    "  info MODEL.onnx   opsets, op counts, inputs/outputs, functions, subgraphs, weights\n"
    "  run MODEL INPUT   run the interpreter, write the outputs as .npy (run --help)\n"
    "\n"
    "Exit status: 0 done, 1 the model could not be processed (one line names file, node and\n"
    "op), 2 usage error.\n";

/* True when both paths name the same existing file. */
static bool convert_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int cli_convert_main(int argc, char **argv) {
  enum { OPT_VERSION = 256, OPT_EXTERNAL_DATA };
  static const struct option options[] = {
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {"quiet", no_argument, NULL, 'q'},
      {"verbose", no_argument, NULL, 'v'},
      {"external-data", no_argument, NULL, OPT_EXTERNAL_DATA},
      {NULL, 0, NULL, 0},
  };
  struct tqt_diag d = {0};
  struct tqt_save_options save = {TQT_EXTERNAL_AUTO, 0};
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":hqv", options, NULL)) != -1) {
    switch (opt) {
    case 'h': fputs(convert_help, stdout); return CLI_EXIT_OK;
    case OPT_VERSION: printf("onnx-tqt %s\n", TQT_VERSION); return CLI_EXIT_OK;
    case 'q': d.verbosity = TQT_VERBOSITY_QUIET; break;
    case 'v': d.verbosity = TQT_VERBOSITY_VERBOSE; break;
    case OPT_EXTERNAL_DATA: save.external = TQT_EXTERNAL_ALWAYS; break;
    case ':': return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    default: return cli_usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind != 2)
    return cli_usage_error(argc - optind < 2 ? "expected IN.onnx and OUT.onnx"
                                             : "too many arguments");
  const char *in = argv[optind], *out = argv[optind + 1];
  if (convert_same_file(in, out))
    return cli_usage_error("OUT '%s' is the input model; choose another file", out);

  struct tqt_model *m = NULL;
  if (tqt_model_load(in, &m, &d) != TQT_STATUS_OK) goto fail;
  tqt_diag_note(&d, "loaded %s: %zu nodes, %zu initializers", in, m->graph->n_nodes,
                m->graph->n_initializers);
  if (tqt_model_validate(m, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", in);
    goto fail;
  }
  if (tqt_model_save(m, out, &save, &d) != TQT_STATUS_OK) goto fail;
  tqt_diag_note(&d, "wrote %s", out);
fail:
  tqt_model_destroy(m);
  return cli_diag_exit(&d);
}
