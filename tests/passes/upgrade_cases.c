/* Runs pass_upgrade_opset over ONNX test cases and saves what it converts:
 *
 *   upgrade_cases [--opset N] OUTDIR LIST CASE_DIR...
 *
 * Each CASE_DIR holds a model.onnx (an ONNX backend test case, or one upgrade_models wrote).
 * Models whose default-domain opset is already at the target are left out. Every other model
 * is loaded, checked, converted, checked again (every input defined, no cycle), must import the
 * target opset with an IR version of at least 7, and is saved as OUTDIR/<parent>__<case>.onnx;
 * LIST gets the line CASE_DIR<TAB>SAVED for upgrade_check.js. Prints one line per refusal or
 * failure, then `upgrade-cases: N below opset T, N converted, N refused, N failed`; exits 1 when
 * a model was refused or failed. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx_io.h"
#include "options.h"
#include "passes.h"

int main(int argc, char **argv) {
  struct tqt_options opts = {0};
  int arg = 1;
  if (argc > 2 && strcmp(argv[1], "--opset") == 0) {
    opts.opset = strtoll(argv[2], NULL, 10);
    arg = 3;
  }
  if (argc - arg < 2) {
    fprintf(stderr, "usage: upgrade_cases [--opset N] OUTDIR LIST CASE_DIR...\n");
    return 2;
  }
  const char *outdir = argv[arg], *list_path = argv[arg + 1];
  int64_t target = opts.opset ? opts.opset : 13;
  FILE *list = fopen(list_path, "w");
  if (!list) {
    fprintf(stderr, "upgrade_cases: %s: %s\n", list_path, strerror(errno));
    return 1;
  }
  int below = 0, converted = 0, refused = 0, failed = 0;
  for (int i = arg + 2; i < argc; i++) {
    char path[4096], out[4096], dir_copy[4096], parent_copy[4096];
    snprintf(path, sizeof path, "%s/model.onnx", argv[i]);
    snprintf(dir_copy, sizeof dir_copy, "%s", argv[i]);
    snprintf(parent_copy, sizeof parent_copy, "%s", argv[i]);
    const char *name = basename(dir_copy);
    const char *parent = basename(dirname(parent_copy));
    struct tqt_diag d = {.verbosity = TQT_VERBOSITY_QUIET};
    struct tqt_model *m = NULL;
    if (tqt_model_load(path, &m, &d) != TQT_STATUS_OK) {
      printf("FAIL %s: load: %s\n", argv[i], d.msg);
      failed++;
      continue;
    }
    int64_t from = tqt_model_opset(m, "");
    if (from == 0 || from >= target) {
      tqt_model_destroy(m);
      continue;
    }
    below++;
    if (tqt_model_validate(m, &d) != TQT_STATUS_OK) {
      printf("FAIL %s: the original does not validate: %s\n", argv[i], d.msg);
      failed++;
    } else if (pass_upgrade_opset(m, &opts, &d) < 0) {
      printf("REFUSED %s: %s\n", argv[i], d.msg);
      refused++;
    } else if (tqt_model_opset(m, "") != target || m->ir_version < 7) {
      printf("FAIL %s: converted model imports opset %lld with IR version %lld\n", argv[i],
             (long long)tqt_model_opset(m, ""), (long long)m->ir_version);
      failed++;
    } else if (tqt_model_validate(m, &d) != TQT_STATUS_OK) {
      printf("FAIL %s: the converted model does not validate: %s\n", argv[i], d.msg);
      failed++;
    } else {
      struct tqt_save_options save = {TQT_EXTERNAL_NEVER, 0};
      snprintf(out, sizeof out, "%s/%s__%s.onnx", outdir, parent, name);
      if (tqt_model_save(m, out, &save, &d) != TQT_STATUS_OK) {
        printf("FAIL %s: save: %s\n", argv[i], d.msg);
        failed++;
      } else {
        fprintf(list, "%s\t%s\n", argv[i], out);
        converted++;
      }
    }
    tqt_model_destroy(m);
  }
  fclose(list);
  printf("upgrade-cases: %d below opset %lld, %d converted, %d refused, %d failed\n", below,
         (long long)target, converted, refused, failed);
  return failed || refused ? 1 : 0;
}
