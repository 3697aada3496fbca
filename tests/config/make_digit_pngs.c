/* make_digit_pngs IMAGES.npy OUTDIR N: writes the first N MNIST digits of IMAGES.npy (float32
 * [count,1,28,28], each pixel (p/255 - 0.1307)/0.3081 computed in float32, as
 * examples/mnist/README.md says) as 8-bit grayscale PNGs OUTDIR/digit_000.png, ... with the
 * original pixels p. Checks that every value maps back to exactly one p (exit 1 otherwise), so a
 * folder of these PNGs with the preprocessing mean 0.1307, std 0.3081 gives the .npy's values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "npy.h"

/* What the README says produced v from p. */
static float mnist_normalize(int p) { return ((float)p / 255.0f - 0.1307f) / 0.3081f; }

static int write_png(const char *path, const unsigned char *px, unsigned w, unsigned h) {
  FILE *fp = fopen(path, "wb");
  if (!fp) return -1;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(fp);
    return -1;
  }
  png_init_io(png, fp);
  png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (unsigned y = 0; y < h; y++) png_write_row(png, px + (size_t)y * w);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return fclose(fp) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: make_digit_pngs IMAGES.npy OUTDIR N\n");
    return 2;
  }
  struct tqt_diag d = {0};
  struct tqt_npy a;
  if (tqt_npy_open(&a, argv[1], &d) != TQT_STATUS_OK) {
    fprintf(stderr, "make_digit_pngs: %s\n", d.msg);
    return 1;
  }
  long n = strtol(argv[3], NULL, 10);
  if (a.dtype != TQT_DTYPE_FLOAT || a.rank != 4 || a.dims[1] != 1 || a.dims[2] != 28 ||
      a.dims[3] != 28 || n < 1 || n > a.dims[0]) {
    fprintf(stderr, "make_digit_pngs: %s is not float32 [>=%ld,1,28,28]\n", argv[1], n);
    tqt_npy_close(&a);
    return 1;
  }
  const float *x = a.data;
  unsigned char px[28 * 28];
  int status = 0;
  for (long s = 0; s < n && status == 0; s++) {
    for (size_t i = 0; i < 28 * 28; i++) {
      float v = x[(size_t)s * 28 * 28 + i];
      int p = (int)lrintf((v * 0.3081f + 0.1307f) * 255.0f);
      if (p < 0 || p > 255 || mnist_normalize(p) != v) {
        fprintf(stderr, "make_digit_pngs: digit %ld pixel %zu (%.9g) is no normalized uint8\n", s,
                i, (double)v);
        status = 1;
        break;
      }
      px[i] = (unsigned char)p;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/digit_%03ld.png", argv[2], s);
    if (status == 0 && write_png(path, px, 28, 28) != 0) {
      fprintf(stderr, "make_digit_pngs: cannot write %s\n", path);
      status = 1;
    }
  }
  tqt_npy_close(&a);
  return status;
}
