#include "npy.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *descr;
  int32_t dtype;
} npy_types[] = {
    {"<f4", TQT_DTYPE_FLOAT}, {"<f8", TQT_DTYPE_DOUBLE}, {"<f2", TQT_DTYPE_FLOAT16},
    {"|i1", TQT_DTYPE_INT8},  {"|u1", TQT_DTYPE_UINT8},  {"<i2", TQT_DTYPE_INT16},
    {"<u2", TQT_DTYPE_UINT16}, {"<i4", TQT_DTYPE_INT32}, {"<u4", TQT_DTYPE_UINT32},
    {"<i8", TQT_DTYPE_INT64}, {"<u8", TQT_DTYPE_UINT64}, {"|b1", TQT_DTYPE_BOOL},
};

/* Finds 'key': in the header dict and returns the text after the colon. */
static const char *npy_field(const char *hdr, const char *key) {
  char quoted[32];
  snprintf(quoted, sizeof quoted, "'%s'", key);
  const char *p = strstr(hdr, quoted);
  if (!p) return NULL;
  p = strchr(p + strlen(quoted), ':');
  if (!p) return NULL;
  for (p++; *p == ' '; p++) continue;
  return p;
}

enum tqt_status tqt_npy_open(struct tqt_npy *npy, const char *path, struct tqt_diag *d) {
  memset(npy, 0, sizeof *npy);
  enum tqt_status st = tqt_file_map_open(&npy->map, path, 0, -1, d);
  if (st != TQT_STATUS_OK) return st;
  const unsigned char *b = npy->map.data;
  size_t len = npy->map.len, hlen, hstart;
  char *hdr = NULL;
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a .npy file", path);
    goto fail;
  }
  if (b[6] == 1) {
    hlen = b[8] | (size_t)b[9] << 8;
    hstart = 10;
  } else if ((b[6] == 2 || b[6] == 3) && len >= 12) {
    hlen = b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    hstart = 12;
  } else {
    st = tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: .npy format version %d", path, b[6]);
    goto fail;
  }
  if (hlen > len - hstart) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: truncated .npy header", path);
    goto fail;
  }
  hdr = strndup((const char *)b + hstart, hlen);
  if (!hdr) {
    st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
    goto fail;
  }
  const char *descr = npy_field(hdr, "descr"), *order = npy_field(hdr, "fortran_order"),
             *shape = npy_field(hdr, "shape");
  if (!descr || !order || !shape || *descr != '\'' || *shape != '(') {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: malformed .npy header", path);
    goto fail;
  }
  npy->dtype = TQT_DTYPE_UNDEFINED;
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
    size_t n = strlen(npy_types[i].descr);
    if (strncmp(descr + 1, npy_types[i].descr, n) == 0 && descr[1 + n] == '\'')
      npy->dtype = npy_types[i].dtype;
  }
  if (npy->dtype == TQT_DTYPE_UNDEFINED) {
    st = tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: .npy element type %.8s is not supported",
                       path, descr);
    goto fail;
  }
  if (strncmp(order, "False", 5) != 0) {
    st = tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED,
                       "%s: Fortran-order arrays are not supported (save with np.ascontiguousarray)",
                       path);
    goto fail;
  }
  int64_t numel = 1;
  for (const char *p = shape + 1; *p && *p != ')';) {
    if (isspace((unsigned char)*p) || *p == ',') {
      p++;
      continue;
    }
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0 || npy->rank >= TQT_RANK_MAX + 1 ||
        (v && numel > INT64_MAX / v)) {
      st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: bad or too large .npy shape", path);
      goto fail;
    }
    npy->dims[npy->rank++] = v;
    numel *= v;
    p = end;
  }
  size_t esize = tqt_dtype_size(npy->dtype);
  npy->data = b + hstart + hlen;
  npy->nbytes = (size_t)numel * esize;
  if ((uint64_t)numel > SIZE_MAX / esize || npy->nbytes > len - hstart - hlen) {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: the file is shorter than its shape says", path);
    goto fail;
  }
  free(hdr);
  return TQT_STATUS_OK;
fail:
  free(hdr);
  tqt_npy_close(npy);
  return st;
}

void tqt_npy_close(struct tqt_npy *npy) {
  tqt_file_map_close(&npy->map);
  memset(npy, 0, sizeof *npy);
}

enum tqt_status tqt_npy_header_write(FILE *fp, int32_t dtype, size_t rank, const int64_t *dims,
                                     const char *path, struct tqt_diag *d) {
  const char *descr = NULL;
  for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
    if (npy_types[i].dtype == dtype) descr = npy_types[i].descr;
  if (!descr)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: cannot write %s as .npy", path,
                         tqt_dtype_name(dtype));
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (size_t i = 0; i < rank; i++)
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)dims[i],
                  i + 1 < rank ? " " : "");
  n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
  /* Pad with spaces so that the data starts on a 64-byte boundary; end with a newline. */
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  size_t hlen = (size_t)n + pad + 1;
  head[8] = (unsigned char)(hlen & 0xff);
  head[9] = (unsigned char)(hlen >> 8);
  if (fwrite(head, 1, 10, fp) != 10 || fwrite(dict, 1, (size_t)n, fp) != (size_t)n ||
      fprintf(fp, "%*s\n", (int)pad, "") < 0)
    return tqt_diag_fail(d, TQT_STATUS_IO, "%s: write failed", path);
  return TQT_STATUS_OK;
}
