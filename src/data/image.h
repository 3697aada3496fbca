/* Image files as model inputs: PNG (libpng), JPEG (libjpeg) and binary PPM/PGM (P6/P5, read
 * here) decoded to 8-bit gray or RGB, then turned into a float tensor by struct tqt_preprocess
 * (bilinear resize with half-pixel centres, / scale, (x - mean) / std, channel order, layout).
 * Decoder errors come back as statuses naming the file; nothing aborts or prints. */
#ifndef TQT_DATA_IMAGE_H
#define TQT_DATA_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "options.h"

/* Decoded pixels: height rows of width × channels bytes; channels 1 (gray) or 3 (RGB). */
struct tqt_image {
  size_t width, height, channels;
  unsigned char *pixels;
};

/* True for names ending in .png, .jpg, .jpeg or .ppm (any case). */
bool tqt_image_name_is_image(const char *name);

/* Decodes path, whichever of PNG, JPEG and PPM its first bytes say it is (alpha is dropped,
 * 16-bit samples keep their high byte, palettes and gray below 8 bits expand). A file that cannot
 * be opened gives TQT_STATUS_IO, a corrupt or truncated one TQT_STATUS_PARSE, a kind it does not
 * read (CMYK JPEG, 16-bit PPM) TQT_STATUS_UNSUPPORTED; the message starts with path. */
enum tqt_status tqt_image_load(const char *path, struct tqt_image *img, struct tqt_diag *d);
void tqt_image_free(struct tqt_image *img);

/* The channels pp makes: 1 with grayscale, else 3. */
size_t tqt_preprocess_channels(const struct tqt_preprocess *pp);

/* Writes img as channels × height × width floats into out, in pp's layout (C,H,W or H,W,C) and
 * channel order: each value is the bilinear sample (half-pixel centres, edges clamped) of the
 * pixel, as float, divided by pp's scale, minus mean, divided by std (float arithmetic, so an
 * image that needs no resize gives what ToTensor + Normalize of torchvision give). */
void tqt_image_to_tensor(const struct tqt_image *img, const struct tqt_preprocess *pp,
                         size_t height, size_t width, float *out);

#endif
