/* Round trip over a tree of ONNX test cases: every model.onnx is loaded, saved, loaded again and
 * the two IRs compared. Saved models go to OUT_DIR/<relative case path>/model.onnx, and
 * OUT_DIR/pairs.tsv lists "case folder<TAB>saved model" for the ONNX Runtime check. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tqt.h"

struct rt_state {
  const char *root;
  const char *out_dir;
  FILE *pairs;
  int passed, failed;
};

static struct rt_state rt;

static int rt_mkdirs(char *path) {
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(path, 0755);
    *p = '/';
    if (rc != 0 && errno != EEXIST) return -1;
  }
  return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static void rt_case(const char *model_path) {
  struct tqt_diag d = {0};
  struct tqt_model *a = NULL, *b = NULL;
  const char *rel = model_path + strlen(rt.root);
  while (*rel == '/') rel++;
  char case_dir[4096], out_dir[4096], out_path[4096 + 16];
  snprintf(case_dir, sizeof case_dir, "%s", model_path);
  *strrchr(case_dir, '/') = '\0';
  snprintf(out_dir, sizeof out_dir, "%s/%s", rt.out_dir, rel);
  *strrchr(out_dir, '/') = '\0';
  snprintf(out_path, sizeof out_path, "%s/model.onnx", out_dir);
  const char *step = "load";
  if (tqt_model_load(model_path, &a, &d) != TQT_STATUS_OK) goto fail;
  step = "validate";
  if (tqt_model_validate(a, &d) != TQT_STATUS_OK) goto fail;
  step = "save";
  if (rt_mkdirs(out_dir) != 0) {
    tqt_diag_fail(&d, TQT_STATUS_IO, "%s: %s", out_dir, strerror(errno));
    goto fail;
  }
  if (tqt_model_save(a, out_path, NULL, &d) != TQT_STATUS_OK) goto fail;
  step = "reload";
  if (tqt_model_load(out_path, &b, &d) != TQT_STATUS_OK) goto fail;
  step = "compare";
  if (!tqt_model_equal(a, b, &d)) goto fail;
  rt.passed++;
  fprintf(rt.pairs, "%s\t%s\n", case_dir, out_path);
  goto done;
fail:
  rt.failed++;
  printf("FAIL %s: %s: %s\n", rel, step, d.msg);
done:
  tqt_model_destroy(a);
  tqt_model_destroy(b);
}

static int rt_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  if (type == FTW_F && strcmp(path + ftw->base, "model.onnx") == 0) rt_case(path);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: roundtrip DATA_DIR OUT_DIR\n");
    return 2;
  }
  rt.root = argv[1];
  rt.out_dir = argv[2];
  char pairs_path[4096];
  snprintf(pairs_path, sizeof pairs_path, "%s", rt.out_dir);
  if (rt_mkdirs(pairs_path) != 0) {
    fprintf(stderr, "roundtrip: %s: %s\n", rt.out_dir, strerror(errno));
    return 1;
  }
  snprintf(pairs_path, sizeof pairs_path, "%s/pairs.tsv", rt.out_dir);
  rt.pairs = fopen(pairs_path, "w");
  if (!rt.pairs) {
    fprintf(stderr, "roundtrip: %s: %s\n", pairs_path, strerror(errno));
    return 1;
  }
  if (nftw(rt.root, rt_visit, 32, FTW_PHYS) != 0) {
    fprintf(stderr, "roundtrip: %s: %s\n", rt.root, strerror(errno));
    return 1;
  }
  fclose(rt.pairs);
  int total = rt.passed + rt.failed;
  printf("round trip: %d of %d models identical after load-save-load (%.2f%%)\n", rt.passed,
         total, total ? 100.0 * rt.passed / total : 0.0);
  printf("roundtrip: %d passed, %d failed\n", rt.passed, rt.failed);
  return total == 0 || rt.failed ? 1 : 0;
}
