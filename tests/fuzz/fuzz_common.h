/* Shared by the libFuzzer harnesses: a private folder for external data, quiet diagnostics. */
#ifndef TQT_FUZZ_COMMON_H
#define TQT_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The folder external data resolves against: it holds one 4 KiB file, "w.bin" (bytes 0..255
 * repeated), so that inputs naming it reach the mapping code. Made once per process. */
static const char *fuzz_base_dir(void) {
  static char dir[64];
  if (dir[0]) return dir;
  snprintf(dir, sizeof dir, "/tmp/tqt-fuzz.XXXXXX");
  if (!mkdtemp(dir)) {
    snprintf(dir, sizeof dir, "/tmp");
    return dir;
  }
  char path[96];
  snprintf(path, sizeof path, "%s/w.bin", dir);
  FILE *fp = fopen(path, "wb");
  if (fp) {
    for (int i = 0; i < 4096; i++) fputc(i & 255, fp);
    fclose(fp);
  }
  return dir;
}

#endif
