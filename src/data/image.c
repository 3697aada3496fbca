/* Image decoding (PNG, JPEG, PPM) and preprocessing into float tensors.
 *
 * libpng and libjpeg report errors by calling a handler that must not return: ours records the
 * message and longjmps back. Every object the decoding step touches after its setjmp lives in a
 * struct owned by the caller (passed by pointer), so nothing local is clobbered by the jump. */
#include "image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

/* Decoded images larger than this are refused (a 16k × 16k RGB image is 768 MiB). */
#define IMAGE_MAX_BYTES ((size_t)1 << 30)

bool tqt_image_name_is_image(const char *name) {
  static const char *const exts[] = {".png", ".jpg", ".jpeg", ".ppm"};
  size_t n = strlen(name);
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    size_t e = strlen(exts[i]);
    if (n > e && strcasecmp(name + n - e, exts[i]) == 0) return true;
  }
  return false;
}

void tqt_image_free(struct tqt_image *img) {
  free(img->pixels);
  memset(img, 0, sizeof *img);
}

/* Allocates the pixels of a width × height × channels image; -1 when too large or out of memory. */
static int image_alloc(struct tqt_image *img, size_t width, size_t height, size_t channels) {
  if (!width || !height || width > IMAGE_MAX_BYTES / height / channels) return -1;
  img->width = width;
  img->height = height;
  img->channels = channels;
  img->pixels = malloc(width * height * channels);
  return img->pixels ? 0 : -1;
}

/* ---- PNG ---- */

struct image_png {
  FILE *f;
  png_structp png;
  png_infop info;
  png_bytep *rows;
  char msg[256];
};

static void image_png_error(png_structp png, png_const_charp msg) {
  struct image_png *s = png_get_error_ptr(png);
  snprintf(s->msg, sizeof s->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void image_png_warning(png_structp png, png_const_charp msg) {
  (void)png; /* warnings (an sRGB profile libpng dislikes, ...) do not spoil the pixels */
  (void)msg;
}

/* The part that may longjmp. Returns 0, or -1 with s->msg set. */
static int image_png_read(struct image_png *s, struct tqt_image *img) {
  if (setjmp(png_jmpbuf(s->png))) return -1;
  png_init_io(s->png, s->f);
  png_read_info(s->png, s->info);
  png_uint_32 width, height;
  int depth, color;
  png_get_IHDR(s->png, s->info, &width, &height, &depth, &color, NULL, NULL, NULL);
  if (depth == 16) png_set_strip_16(s->png);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(s->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(s->png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(s->png);
  png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  size_t channels = png_get_channels(s->png, s->info);
  if ((channels != 1 && channels != 3) ||
      png_get_rowbytes(s->png, s->info) != (size_t)width * channels) {
    snprintf(s->msg, sizeof s->msg, "unexpected PNG pixel layout");
    return -1;
  }
  if (image_alloc(img, width, height, channels) != 0 ||
      !(s->rows = malloc(height * sizeof *s->rows))) {
    snprintf(s->msg, sizeof s->msg, "%lu x %lu pixels: too large or out of memory",
             (unsigned long)width, (unsigned long)height);
    return -1;
  }
  for (size_t y = 0; y < height; y++) s->rows[y] = img->pixels + y * width * channels;
  png_read_image(s->png, s->rows);
  png_read_end(s->png, NULL);
  return 0;
}

static enum tqt_status image_png_load(const char *path, FILE *f, struct tqt_image *img,
                                      struct tqt_diag *d) {
  struct image_png s = {.f = f};
  s.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, image_png_error, image_png_warning);
  if (s.png) s.info = png_create_info_struct(s.png);
  if (!s.png || !s.info) {
    png_destroy_read_struct(&s.png, NULL, NULL);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
  }
  int rc = image_png_read(&s, img);
  png_destroy_read_struct(&s.png, &s.info, NULL);
  free(s.rows);
  if (rc == 0) return TQT_STATUS_OK;
  tqt_image_free(img);
  return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a readable PNG image (%s)", path, s.msg);
}

/* ---- JPEG ---- */

struct image_jpeg {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr err;
  jmp_buf jmp;
  FILE *f;
  bool created;
  const char *path;
  const struct tqt_diag *d;
  int code; /* libjpeg's message code of the error */
  char msg[JMSG_LENGTH_MAX];
};

static void image_jpeg_error(j_common_ptr cinfo) {
  struct image_jpeg *s = (struct image_jpeg *)cinfo->client_data;
  s->code = cinfo->err->msg_code;
  cinfo->err->format_message(cinfo, s->msg);
  longjmp(s->jmp, 1);
}

/* Warnings: a file that ends early is an error (the rest would be made up); others (extraneous
 * bytes, ...) are said once per file and decoding goes on. Trace messages are dropped. */
static void image_jpeg_message(j_common_ptr cinfo, int level) {
  struct image_jpeg *s = (struct image_jpeg *)cinfo->client_data;
  if (level >= 0) return;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) image_jpeg_error(cinfo);
  if (cinfo->err->num_warnings++ == 0) {
    char msg[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, msg);
    tqt_diag_warn(s->d, "%s: %s", s->path, msg);
  }
}

/* The part that may longjmp. Returns 0, or -1 with s->msg set. */
static int image_jpeg_read(struct image_jpeg *s, struct tqt_image *img) {
  if (setjmp(s->jmp)) return -1;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  s->cinfo.client_data = s;
  jpeg_stdio_src(&s->cinfo, s->f);
  jpeg_read_header(&s->cinfo, TRUE);
  s->cinfo.out_color_space = s->cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&s->cinfo);
  size_t channels = (size_t)s->cinfo.output_components;
  size_t width = s->cinfo.output_width, height = s->cinfo.output_height;
  if ((channels != 1 && channels != 3) || image_alloc(img, width, height, channels) != 0) {
    snprintf(s->msg, sizeof s->msg, "%zu x %zu pixels of %zu channels: not supported", width,
             height, channels);
    s->code = JERR_CONVERSION_NOTIMPL;
    return -1;
  }
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    JSAMPROW row = img->pixels + (size_t)s->cinfo.output_scanline * width * channels;
    jpeg_read_scanlines(&s->cinfo, &row, 1);
  }
  jpeg_finish_decompress(&s->cinfo);
  return 0;
}

static enum tqt_status image_jpeg_load(const char *path, FILE *f, struct tqt_image *img,
                                       struct tqt_diag *d) {
  struct image_jpeg *s = calloc(1, sizeof *s); /* libjpeg's structs are large */
  if (!s) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", path);
  s->f = f;
  s->path = path;
  s->d = d;
  s->cinfo.err = jpeg_std_error(&s->err);
  s->err.error_exit = image_jpeg_error;
  s->err.emit_message = image_jpeg_message;
  s->cinfo.client_data = s;
  int rc = image_jpeg_read(s, img);
  if (s->created) jpeg_destroy_decompress(&s->cinfo);
  enum tqt_status st = TQT_STATUS_OK;
  if (rc != 0) {
    tqt_image_free(img);
    bool unsupported = s->code == JERR_CONVERSION_NOTIMPL || s->code == JERR_BAD_J_COLORSPACE;
    st = tqt_diag_fail(d, unsupported ? TQT_STATUS_UNSUPPORTED : TQT_STATUS_PARSE,
                       "%s: %s (%s)", path,
                       unsupported ? "a JPEG onnx-tqt cannot read" : "not a readable JPEG image",
                       s->msg);
  }
  free(s);
  return st;
}

/* ---- PPM/PGM (binary) ---- */

/* Skips whitespace and # comments, reads a decimal number; -1 when there is none. The character
 * after the number is left unread. */
static int image_ppm_number(FILE *f, size_t *out) {
  int ch = getc(f);
  for (;;) {
    if (ch == '#')
      while (ch != '\n' && ch != EOF) ch = getc(f);
    else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f')
      ch = getc(f);
    else
      break;
  }
  if (ch < '0' || ch > '9') return -1;
  size_t v = 0;
  for (; ch >= '0' && ch <= '9'; ch = getc(f)) {
    if (v > 100000000) return -1;
    v = v * 10 + (size_t)(ch - '0');
  }
  ungetc(ch, f);
  *out = v;
  return 0;
}

static enum tqt_status image_ppm_load(const char *path, FILE *f, struct tqt_image *img,
                                      struct tqt_diag *d) {
  char magic[2];
  size_t width, height, maxval;
  if (fread(magic, 1, 2, f) != 2 || image_ppm_number(f, &width) != 0 ||
      image_ppm_number(f, &height) != 0 || image_ppm_number(f, &maxval) != 0 || !width ||
      !height || !maxval || maxval > 65535)
    return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a readable PPM image (bad header)", path);
  int sep = getc(f); /* exactly one whitespace character before the pixels */
  if (sep != ' ' && sep != '\t' && sep != '\n' && sep != '\r')
    return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a readable PPM image (bad header)", path);
  if (maxval > 255)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: 16-bit PPM images are not supported",
                         path);
  size_t channels = magic[1] == '6' ? 3 : 1;
  if (image_alloc(img, width, height, channels) != 0)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: %zu x %zu pixels: too large", path,
                         width, height);
  size_t bytes = width * height * channels;
  if (fread(img->pixels, 1, bytes, f) != bytes) {
    tqt_image_free(img);
    return tqt_diag_fail(d, TQT_STATUS_PARSE, "%s: not a readable PPM image (truncated pixels)",
                         path);
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_image_load(const char *path, struct tqt_image *img, struct tqt_diag *d) {
  memset(img, 0, sizeof *img);
  FILE *f = fopen(path, "rb");
  if (!f) return tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot open (%s)", path, strerror(errno));
  unsigned char head[8] = {0};
  size_t n = fread(head, 1, sizeof head, f);
  enum tqt_status st;
  if (ferror(f)) {
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot read (%s)", path, strerror(errno));
  } else if (fseek(f, 0, SEEK_SET) != 0) {
    st = tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot seek (%s)", path, strerror(errno));
  } else if (n == 8 && png_sig_cmp(head, 0, 8) == 0) {
    st = image_png_load(path, f, img, d);
  } else if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
    st = image_jpeg_load(path, f, img, d);
  } else if (n >= 2 && head[0] == 'P' && (head[1] == '6' || head[1] == '5')) {
    st = image_ppm_load(path, f, img, d);
  } else {
    st = tqt_diag_fail(d, TQT_STATUS_PARSE,
                       "%s: not an image onnx-tqt reads (PNG, JPEG, binary PPM/PGM)", path);
  }
  fclose(f);
  return st;
}

/* ---- preprocessing ---- */

size_t tqt_preprocess_channels(const struct tqt_preprocess *pp) { return pp->grayscale ? 1 : 3; }

/* Source pixel (x, y) of RGB channel c (c ignored for gray output). */
static double image_pixel(const struct tqt_image *img, size_t x, size_t y, size_t c, bool gray) {
  const unsigned char *p = img->pixels + (y * img->width + x) * img->channels;
  if (img->channels == 1) return p[0];
  if (gray) return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
  return p[c];
}

/* Half-pixel source position of output index i: the two neighbours and the weight of the second. */
static void image_source(size_t i, size_t in, size_t out, size_t *i0, size_t *i1, double *frac) {
  double s = ((double)i + 0.5) * (double)in / (double)out - 0.5;
  if (s < 0) s = 0;
  if (s > (double)(in - 1)) s = (double)(in - 1);
  *i0 = (size_t)s;
  *i1 = *i0 + 1 < in ? *i0 + 1 : *i0;
  *frac = s - (double)*i0;
}

void tqt_image_to_tensor(const struct tqt_image *img, const struct tqt_preprocess *pp,
                         size_t height, size_t width, float *out) {
  size_t channels = tqt_preprocess_channels(pp);
  float scale = (float)(pp->scale > 0 ? pp->scale : 255.0);
  float mean[3], std[3];
  for (size_t c = 0; c < 3; c++) { /* given in R, G, B order */
    mean[c] = (float)(pp->n_mean == 0 ? 0.0 : pp->n_mean == 1 ? pp->mean[0] : pp->mean[c]);
    std[c] = (float)(pp->n_std == 0 ? 1.0 : pp->n_std == 1 ? pp->std[0] : pp->std[c]);
  }
  for (size_t y = 0; y < height; y++) {
    size_t y0, y1, x0, x1;
    double fy, fx;
    image_source(y, img->height, height, &y0, &y1, &fy);
    for (size_t x = 0; x < width; x++) {
      image_source(x, img->width, width, &x0, &x1, &fx);
      for (size_t c = 0; c < channels; c++) {
        size_t src = pp->bgr && channels == 3 ? 2 - c : c; /* the R, G, B channel it shows */
        double top = (1 - fx) * image_pixel(img, x0, y0, src, pp->grayscale) +
                     fx * image_pixel(img, x1, y0, src, pp->grayscale);
        double bottom = (1 - fx) * image_pixel(img, x0, y1, src, pp->grayscale) +
                        fx * image_pixel(img, x1, y1, src, pp->grayscale);
        float v = (float)((1 - fy) * top + fy * bottom);
        v = (v / scale - mean[src]) / std[src];
        size_t at = pp->nhwc ? (y * width + x) * channels + c : (c * height + y) * width + x;
        out[at] = v;
      }
    }
  }
}
