/* onnx-tqt IN.onnx OUT.onnx: load, check, save. Later stages (passes, calibration, Q/DQ) slot in
 * between load and save. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "onnx_io.h"
#include "options.h"
#include "passes.h"
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
    "graph output produced, no cycles; nodes out of order are sorted), runs the graph passes\n"
    "and writes the float model to OUT. Calibration and quantization arrive in a later release;\n"
    "--no-quantize asks for exactly this float output and will keep meaning it.\n"
    "\n"
    "OUT is written to a temporary file beside it and renamed into place: a failed run leaves\n"
    "no OUT behind and never touches IN.\n"
    "\n"
    "Options:\n"
    "  --set-input NAME=VALUE  freeze input NAME to a constant (numbers separated by commas,\n"
    "                    or true/false), so that what depends on it folds away; repeatable\n"
    "  --input-shape NAME=D0,D1,...  fix the dims of input NAME; repeatable\n"
    "  --no-quantize     flatten and fold only: write a float model\n"
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

/* Parses NAME=D0,D1,... into shape. Returns 0, or -1 when malformed. */
static int convert_input_shape(char *arg, struct tqt_input_shape *shape) {
  char *eq = strchr(arg, '=');
  if (!eq || eq == arg || !eq[1]) return -1;
  *eq = '\0';
  shape->name = arg;
  shape->rank = 0;
  for (char *p = eq + 1; *p;) {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v <= 0 || shape->rank == sizeof shape->dims / sizeof shape->dims[0]) return -1;
    shape->dims[shape->rank++] = v;
    if (*end == ',') end++;
    else if (*end) return -1;
    p = end;
  }
  return 0;
}

int cli_convert_main(int argc, char **argv) {
  enum { OPT_VERSION = 256, OPT_EXTERNAL_DATA, OPT_SET_INPUT, OPT_INPUT_SHAPE, OPT_NO_QUANTIZE };
  static const struct option options[] = {
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, OPT_VERSION},
      {"quiet", no_argument, NULL, 'q'},
      {"verbose", no_argument, NULL, 'v'},
      {"external-data", no_argument, NULL, OPT_EXTERNAL_DATA},
      {"set-input", required_argument, NULL, OPT_SET_INPUT},
      {"input-shape", required_argument, NULL, OPT_INPUT_SHAPE},
      {"no-quantize", no_argument, NULL, OPT_NO_QUANTIZE},
      {NULL, 0, NULL, 0},
  };
  struct tqt_diag d = {0};
  struct tqt_save_options save = {TQT_EXTERNAL_AUTO, 0};
  struct tqt_options topts = {0};
  /* At most one per argument: argc bounds both lists. */
  struct tqt_set_input *set_inputs = calloc((size_t)argc, sizeof *set_inputs);
  struct tqt_input_shape *input_shapes = calloc((size_t)argc, sizeof *input_shapes);
  struct tqt_model *m = NULL;
  int status = CLI_EXIT_USAGE;
  if (!set_inputs || !input_shapes) {
    tqt_diag_fail(&d, TQT_STATUS_NOMEM, "out of memory");
    goto fail;
  }
  topts.set_inputs = set_inputs;
  topts.input_shapes = input_shapes;
  int opt;
  opterr = 0;
  while ((opt = getopt_long(argc, argv, ":hqv", options, NULL)) != -1) {
    switch (opt) {
    case 'h':
      fputs(convert_help, stdout);
      status = CLI_EXIT_OK;
      goto done;
    case OPT_VERSION:
      printf("onnx-tqt %s\n", TQT_VERSION);
      status = CLI_EXIT_OK;
      goto done;
    case 'q': d.verbosity = TQT_VERBOSITY_QUIET; break;
    case 'v': d.verbosity = TQT_VERBOSITY_VERBOSE; break;
    case OPT_EXTERNAL_DATA: save.external = TQT_EXTERNAL_ALWAYS; break;
    case OPT_NO_QUANTIZE: break; /* the only mode this build has */
    case OPT_SET_INPUT: {
      char *eq = strchr(optarg, '=');
      if (!eq || eq == optarg || !eq[1]) {
        status = cli_usage_error("--set-input takes NAME=VALUE, not '%s'", optarg);
        goto done;
      }
      *eq = '\0';
      set_inputs[topts.n_set_inputs++] = (struct tqt_set_input){optarg, eq + 1};
      break;
    }
    case OPT_INPUT_SHAPE:
      if (convert_input_shape(optarg, &input_shapes[topts.n_input_shapes]) != 0) {
        status = cli_usage_error("--input-shape takes NAME=D0,D1,... (positive dims), not '%s'",
                                 optarg);
        goto done;
      }
      topts.n_input_shapes++;
      break;
    case ':':
      status = cli_usage_error("option '%s' needs a value", argv[optind - 1]);
      goto done;
    default:
      status = cli_usage_error("unknown option '%s'", argv[optind - 1]);
      goto done;
    }
  }
  if (argc - optind != 2) {
    status = cli_usage_error(argc - optind < 2 ? "expected IN.onnx and OUT.onnx"
                                               : "too many arguments");
    goto done;
  }
  const char *in = argv[optind], *out = argv[optind + 1];
  if (convert_same_file(in, out)) {
    status = cli_usage_error("OUT '%s' is the input model; choose another file", out);
    goto done;
  }

  if (tqt_model_load(in, &m, &d) != TQT_STATUS_OK) goto fail;
  tqt_diag_note(&d, "loaded %s: %zu nodes, %zu initializers", in, m->graph->n_nodes,
                m->graph->n_initializers);
  if (tqt_model_validate(m, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", in);
    goto fail;
  }
  if (tqt_passes_run(m, &topts, &d) != TQT_STATUS_OK) {
    tqt_diag_prefix(&d, "%s: ", in);
    goto fail;
  }
  if (tqt_model_save(m, out, &save, &d) != TQT_STATUS_OK) goto fail;
  tqt_diag_note(&d, "wrote %s", out);
fail:
  status = cli_diag_exit(&d);
done:
  free(set_inputs);
  free(input_shapes);
  tqt_model_destroy(m);
  return status;
}
