/* NumPy .npy files (format versions 1-3, little-endian, C order): read as a mapped view, write
 * with a header first and the data streamed after. No Debian package offers a C reader. */
#ifndef TQT_DATA_NPY_H
#define TQT_DATA_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "file_io.h"
#include "interp.h"

struct tqt_npy {
  struct tqt_file_map map;
  int32_t dtype;
  size_t rank;
  int64_t dims[TQT_RANK_MAX + 1];
  const void *data; /* inside map */
  size_t nbytes;
};

enum tqt_status tqt_npy_open(struct tqt_npy *npy, const char *path, struct tqt_diag *d);
void tqt_npy_close(struct tqt_npy *npy);

/* Writes a version 1.0 header for an array of this type and shape; the caller appends the data. */
enum tqt_status tqt_npy_header_write(FILE *fp, int32_t dtype, size_t rank, const int64_t *dims,
                                     const char *path, struct tqt_diag *d);

#endif
