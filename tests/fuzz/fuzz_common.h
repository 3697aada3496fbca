/* Shared by the libFuzzer harnesses: the folder external data resolves against. */
#ifndef TQT_FUZZ_COMMON_H
#define TQT_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One folder for every fuzzing process ($TMPDIR or /tmp, "tqt-fuzz-data"): it holds one 4 KiB
 * file, "w.bin" (bytes 0..255 repeated), so that inputs naming it reach the mapping code. Made
 * by the first process (written under a temporary name and renamed), read by all. */
static const char *fuzz_base_dir(void) {
  static char dir[512];
  if (dir[0]) return dir;
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/tqt-fuzz-data", tmp && *tmp ? tmp : "/tmp");
  mkdir(dir, 0700);
  char path[600], part[640];
  struct stat sb;
  snprintf(path, sizeof path, "%s/w.bin", dir);
  if (stat(path, &sb) == 0 && sb.st_size == 4096) return dir;
  snprintf(part, sizeof part, "%s.%ld", path, (long)getpid());
  FILE *fp = fopen(part, "wb");
  if (fp) {
    for (int i = 0; i < 4096; i++) fputc(i & 255, fp);
    if (fclose(fp) == 0) rename(part, path);
    unlink(part);
  }
  return dir;
}

#endif
