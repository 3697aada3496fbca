/* Image folders as model inputs: PNG, JPEG and PPM files written here (libpng, libjpeg) come back
 * as preprocessed float tensors through tqt_dataset_open; errors name the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jpeglib.h>
#include <png.h>

#include "dataset.h"
#include "image.h"
#include "interp.h"
#include "options.h"

/* ---- fixtures: a temporary folder per test ---- */

struct fx {
  char dir[256];
  struct tqt_arena *arena;
  struct tqt_dataset *ds;
  struct tqt_diag d;
  struct tqt_value value;
};

static int fx_setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "%s/tqt-image.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(f->dir) || !(f->arena = tqt_arena_create())) return -1;
  *state = f;
  return 0;
}

static int fx_teardown(void **state) {
  struct fx *f = *state;
  tqt_dataset_close(f->ds);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  int rc = system(cmd);
  tqt_arena_destroy(f->arena);
  free(f);
  return rc == 0 ? 0 : -1;
}

static const char *fx_path(struct fx *f, const char *name) {
  return tqt_arena_printf(f->arena, "%s/%s", f->dir, name);
}

/* A model input float[dims] (negative: unknown); rank -1 gives no shape. */
static const struct tqt_value_info *fx_input(struct fx *f, int rank, const int64_t *dims) {
  struct tqt_value_info *vi = tqt_arena_calloc(f->arena, 1, sizeof *vi);
  vi->name = tqt_arena_strdup(f->arena, "image");
  if (rank < 0) {
    vi->type = tqt_arena_calloc(f->arena, 1, sizeof *vi->type);
    vi->type->kind = TQT_TYPE_KIND_TENSOR;
    vi->type->has_elem_type = true;
    vi->type->elem_type = TQT_DTYPE_FLOAT;
  } else {
    vi->type = tqt_type_tensor_create(f->arena, TQT_DTYPE_FLOAT, (size_t)rank, dims);
  }
  return vi;
}

static enum tqt_status fx_open(struct fx *f, const struct tqt_value_info *vi,
                               const struct tqt_preprocess *pp) {
  const char *specs[1] = {f->dir};
  tqt_dataset_close(f->ds);
  f->ds = NULL;
  return tqt_dataset_open(specs, 1, &vi, 1, pp, &f->ds, &f->d);
}

/* Opens the folder and reads sample i; fails the test unless both succeed. */
static const float *fx_sample(struct fx *f, const struct tqt_value_info *vi,
                              const struct tqt_preprocess *pp, size_t i) {
  enum tqt_status st = fx_open(f, vi, pp);
  if (st != TQT_STATUS_OK) fail_msg("open: %s", f->d.msg);
  st = tqt_dataset_sample(f->ds, i, &f->value, &f->d);
  if (st != TQT_STATUS_OK) fail_msg("sample: %s", f->d.msg);
  assert_int_equal(f->value.t.dtype, TQT_DTYPE_FLOAT);
  return f->value.t.data;
}

/* ---- writing images ---- */

/* channels 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA), 8-bit. */
static void write_png(const char *path, size_t w, size_t h, int channels, const uint8_t *px) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  assert_true(png && info);
  if (setjmp(png_jmpbuf(png))) fail_msg("libpng could not write %s", path);
  png_init_io(png, fp);
  static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                              PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, types[channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (size_t y = 0; y < h; y++) png_write_row(png, px + y * w * (size_t)channels);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(fp);
}

/* RGB or gray JPEG at quality 100 without chroma subsampling. */
static void write_jpeg(const char *path, size_t w, size_t h, int channels, const uint8_t *px) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, fp);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = channels;
  c.in_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 100, TRUE);
  for (int i = 0; i < c.num_components; i++)
    c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(px + c.next_scanline * w * (size_t)channels);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  fclose(fp);
}

/* P6 (channels 3) or P5 (channels 1), with a comment in the header. */
static void write_ppm(const char *path, size_t w, size_t h, int channels, const uint8_t *px) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  fprintf(fp, "P%c\n# written by test_image\n%zu %zu\n255\n", channels == 3 ? '6' : '5', w, h);
  fwrite(px, 1, w * h * (size_t)channels, fp);
  fclose(fp);
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *fp = fopen(path, "wb");
  assert_non_null(fp);
  assert_int_equal(fwrite(data, 1, n, fp), n);
  fclose(fp);
}

/* A 4 × 3 RGB test pattern: distinct values everywhere. */
static void pattern_rgb(uint8_t *px, size_t w, size_t h) {
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      for (size_t c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (uint8_t)(17 * x + 61 * y + 97 * c);
}

/* What ToTensor + Normalize make of pixel value v (float arithmetic, as the loader). */
static float normalized(double v, double scale, double mean, double std) {
  return ((float)v / (float)scale - (float)mean) / (float)std;
}

/* ---- tests ---- */

static void test_png_rgb_nchw_is_exact(void **state) {
  struct fx *f = *state;
  uint8_t px[4 * 3 * 3];
  pattern_rgb(px, 4, 3);
  write_png(fx_path(f, "a.png"), 4, 3, 3, px);
  struct tqt_preprocess pp = {.mean = {0.485, 0.456, 0.406}, .std = {0.229, 0.224, 0.225},
                              .n_mean = 3, .n_std = 3};
  int64_t dims[4] = {1, 3, 3, 4};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  assert_int_equal(f->value.t.rank, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(f->value.t.dims[i], dims[i]);
  for (size_t c = 0; c < 3; c++)
    for (size_t y = 0; y < 3; y++)
      for (size_t xx = 0; xx < 4; xx++)
        assert_true(x[(c * 3 + y) * 4 + xx] ==
                    normalized(px[(y * 4 + xx) * 3 + c], 255, pp.mean[c], pp.std[c]));
}

static void test_png_nhwc_bgr_puts_blue_first_with_its_own_mean(void **state) {
  struct fx *f = *state;
  uint8_t px[4 * 3 * 3];
  pattern_rgb(px, 4, 3);
  write_png(fx_path(f, "a.png"), 4, 3, 3, px);
  /* mean/std are given in R, G, B order whatever the channel order */
  struct tqt_preprocess pp = {.mean = {10, 20, 30}, .std = {1, 2, 4}, .n_mean = 3, .n_std = 3,
                              .scale = 1, .bgr = true, .nhwc = true};
  int64_t dims[4] = {1, 3, 4, 3};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  for (size_t y = 0; y < 3; y++)
    for (size_t xx = 0; xx < 4; xx++)
      for (size_t c = 0; c < 3; c++) {
        size_t rgb = 2 - c;
        assert_true(x[(y * 4 + xx) * 3 + c] ==
                    normalized(px[(y * 4 + xx) * 3 + rgb], 1, pp.mean[rgb], pp.std[rgb]));
      }
}

static void test_png_gray_alpha_and_rgba_drop_alpha(void **state) {
  struct fx *f = *state;
  uint8_t ga[2 * 2 * 2] = {0, 255, 100, 0, 200, 7, 255, 128};
  write_png(fx_path(f, "a.png"), 2, 2, 2, ga);
  struct tqt_preprocess pp = {.grayscale = true};
  int64_t dims[4] = {1, 1, 2, 2};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  for (size_t i = 0; i < 4; i++) assert_true(x[i] == normalized(ga[2 * i], 255, 0, 1));
  uint8_t rgba[2 * 1 * 4] = {1, 2, 3, 0, 250, 251, 252, 9};
  unlink(fx_path(f, "a.png"));
  write_png(fx_path(f, "b.png"), 2, 1, 4, rgba);
  struct tqt_preprocess rgb = {.scale = 1};
  int64_t dims3[4] = {1, 3, 1, 2};
  x = fx_sample(f, fx_input(f, 4, dims3), &rgb, 0);
  float want[6] = {1, 250, 2, 251, 3, 252};
  for (size_t i = 0; i < 6; i++) assert_true(x[i] == want[i]);
}

static void test_grayscale_of_a_colour_image_is_its_luma(void **state) {
  struct fx *f = *state;
  uint8_t px[2 * 1 * 3] = {255, 0, 0, 10, 200, 30};
  write_png(fx_path(f, "a.png"), 2, 1, 3, px);
  struct tqt_preprocess pp = {.grayscale = true, .mean = {0.1307}, .std = {0.3081}, .n_mean = 1,
                              .n_std = 1};
  int64_t dims[4] = {1, 1, 1, 2};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  for (size_t i = 0; i < 2; i++) {
    double luma = 0.299 * px[3 * i] + 0.587 * px[3 * i + 1] + 0.114 * px[3 * i + 2];
    assert_true(x[i] == normalized((float)luma, 255, 0.1307, 0.3081));
  }
}

static void test_gray_image_fills_three_channels(void **state) {
  struct fx *f = *state;
  uint8_t px[3] = {0, 128, 255};
  write_png(fx_path(f, "a.png"), 3, 1, 1, px);
  struct tqt_preprocess pp = {.scale = 1, .mean = {1, 2, 3}, .n_mean = 3};
  int64_t dims[4] = {1, 3, 1, 3};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  for (size_t c = 0; c < 3; c++)
    for (size_t i = 0; i < 3; i++) assert_true(x[c * 3 + i] == (float)px[i] - (float)(c + 1));
}

static void test_ppm_p6_and_p5_are_exact(void **state) {
  struct fx *f = *state;
  uint8_t px[4 * 3 * 3];
  pattern_rgb(px, 4, 3);
  write_ppm(fx_path(f, "a.ppm"), 4, 3, 3, px);
  struct tqt_preprocess pp = {.mean = {0.5}, .std = {0.25}, .n_mean = 1, .n_std = 1};
  int64_t dims[4] = {1, 3, 3, 4};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  for (size_t c = 0; c < 3; c++)
    for (size_t i = 0; i < 12; i++)
      assert_true(x[c * 12 + i] == normalized(px[i * 3 + c], 255, 0.5, 0.25));
  uint8_t gray[6] = {0, 1, 2, 3, 254, 255};
  unlink(fx_path(f, "a.ppm"));
  write_ppm(fx_path(f, "b.ppm"), 3, 2, 1, gray);
  struct tqt_preprocess g = {.grayscale = true, .scale = 1};
  int64_t gdims[4] = {1, 1, 2, 3};
  x = fx_sample(f, fx_input(f, 4, gdims), &g, 0);
  for (size_t i = 0; i < 6; i++) assert_true(x[i] == (float)gray[i]);
}

static void test_jpeg_is_close_to_the_pixels_it_encoded(void **state) {
  struct fx *f = *state;
  enum { W = 16, H = 16 };
  uint8_t px[W * H * 3];
  for (size_t y = 0; y < H; y++) /* smooth gradients: JPEG keeps them within a few levels */
    for (size_t x = 0; x < W; x++) {
      px[(y * W + x) * 3 + 0] = (uint8_t)(40 + 8 * x);
      px[(y * W + x) * 3 + 1] = (uint8_t)(30 + 10 * y);
      px[(y * W + x) * 3 + 2] = (uint8_t)(100 + 4 * (x + y));
    }
  write_jpeg(fx_path(f, "a.JPG"), W, H, 3, px);
  struct tqt_preprocess pp = {.scale = 1, .nhwc = true};
  int64_t dims[4] = {1, H, W, 3};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  double worst = 0;
  for (size_t i = 0; i < W * H * 3; i++) {
    double e = x[i] > px[i] ? x[i] - px[i] : px[i] - x[i];
    if (e > worst) worst = e;
  }
  assert_true(worst <= 4.0);
  /* a gray JPEG (.jpeg) read into one channel */
  uint8_t gray[W * H];
  for (size_t i = 0; i < W * H; i++) gray[i] = (uint8_t)(60 + i / 2);
  unlink(fx_path(f, "a.JPG"));
  write_jpeg(fx_path(f, "b.jpeg"), W, H, 1, gray);
  struct tqt_preprocess g = {.grayscale = true, .scale = 1};
  int64_t gdims[4] = {1, 1, H, W};
  x = fx_sample(f, fx_input(f, 4, gdims), &g, 0);
  for (size_t i = 0; i < W * H; i++) assert_true(x[i] >= gray[i] - 3.0f && x[i] <= gray[i] + 3.0f);
}

static void test_upscale_is_bilinear_with_half_pixel_centres(void **state) {
  struct fx *f = *state;
  /* 2 × 2 → 4 × 4: sources at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1) */
  uint8_t px[4] = {0, 100, 40, 200};
  write_png(fx_path(f, "a.png"), 2, 2, 1, px);
  struct tqt_preprocess pp = {.grayscale = true, .scale = 1, .height = 4, .width = 4};
  const float *x = fx_sample(f, fx_input(f, -1, NULL), &pp, 0);
  assert_int_equal(f->value.t.dims[2], 4);
  assert_int_equal(f->value.t.dims[3], 4);
  const double wts[4] = {0, 0.25, 0.75, 1}; /* weight of the second source pixel */
  for (size_t y = 0; y < 4; y++)
    for (size_t xx = 0; xx < 4; xx++) {
      double top = (1 - wts[xx]) * px[0] + wts[xx] * px[1];
      double bottom = (1 - wts[xx]) * px[2] + wts[xx] * px[3];
      double want = (1 - wts[y]) * top + wts[y] * bottom;
      assert_float_equal(x[y * 4 + xx], want, 1e-4);
    }
}

static void test_downscale_by_two_averages_pixel_pairs(void **state) {
  struct fx *f = *state;
  /* 4 × 2 → 2 × 1: sources at 0.5 and 2.5 across, 0.5 down */
  uint8_t px[8] = {0, 10, 20, 30, 100, 110, 120, 130};
  write_ppm(fx_path(f, "a.ppm"), 4, 2, 1, px);
  struct tqt_preprocess pp = {.grayscale = true, .scale = 1, .height = 1, .width = 2};
  int64_t dims[4] = {1, 1, -1, -1};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 0);
  assert_float_equal(x[0], (0 + 10 + 100 + 110) / 4.0, 1e-4);
  assert_float_equal(x[1], (20 + 30 + 120 + 130) / 4.0, 1e-4);
}

static void test_size_defaults_to_the_model_input_and_images_of_any_size_fit(void **state) {
  struct fx *f = *state;
  uint8_t big[8 * 8], small[2 * 2] = {9, 9, 9, 9};
  memset(big, 50, sizeof big);
  write_png(fx_path(f, "0.png"), 8, 8, 1, big);
  write_png(fx_path(f, "1.png"), 2, 2, 1, small);
  struct tqt_preprocess pp = {.grayscale = true, .scale = 1};
  int64_t dims[4] = {-1, 1, 5, 3};
  const float *x = fx_sample(f, fx_input(f, 4, dims), &pp, 1);
  int64_t want[4] = {1, 1, 5, 3};
  for (int i = 0; i < 4; i++) assert_int_equal(f->value.t.dims[i], want[i]);
  for (size_t i = 0; i < 15; i++) assert_true(x[i] == 9.0f);
  assert_int_equal(tqt_dataset_sample(f->ds, 0, &f->value, &f->d), TQT_STATUS_OK);
  x = f->value.t.data;
  for (size_t i = 0; i < 15; i++) assert_true(x[i] == 50.0f);
}

static void test_files_are_sorted_and_other_files_ignored(void **state) {
  struct fx *f = *state;
  uint8_t v;
  const char *names[3] = {"b.png", "a.ppm", "c.jpg"};
  for (int i = 0; i < 3; i++) {
    v = (uint8_t)(10 * (i + 1));
    uint8_t px[8 * 8];
    memset(px, v, sizeof px);
    if (i == 0) write_png(fx_path(f, names[i]), 8, 8, 1, px);
    if (i == 1) write_ppm(fx_path(f, names[i]), 8, 8, 1, px);
    if (i == 2) write_jpeg(fx_path(f, names[i]), 8, 8, 1, px);
  }
  write_bytes(fx_path(f, "notes.txt"), "hello", 5);
  struct tqt_preprocess pp = {.grayscale = true, .scale = 1};
  int64_t dims[4] = {1, 1, 8, 8};
  const struct tqt_value_info *vi = fx_input(f, 4, dims);
  fx_sample(f, vi, &pp, 0);
  assert_int_equal(tqt_dataset_count(f->ds), 3);
  const float want[3] = {20, 10, 30}; /* a.ppm, b.png, c.jpg */
  for (size_t s = 0; s < 3; s++) {
    assert_int_equal(tqt_dataset_sample(f->ds, s, &f->value, &f->d), TQT_STATUS_OK);
    const float *x = f->value.t.data;
    assert_float_equal(x[27], want[s], 1.0);
  }
}

static void test_images_without_preprocess_are_refused(void **state) {
  struct fx *f = *state;
  uint8_t px[4] = {0};
  write_png(fx_path(f, "a.png"), 2, 2, 1, px);
  int64_t dims[4] = {1, 1, 2, 2};
  assert_int_equal(fx_open(f, fx_input(f, 4, dims), NULL), TQT_STATUS_USAGE);
  char want[512];
  snprintf(want, sizeof want, "%s: images need a preprocess block in the config file", f->dir);
  assert_string_equal(f->d.msg, want);
}

static void test_channel_and_size_mismatches_are_usage_errors(void **state) {
  struct fx *f = *state;
  uint8_t px[4] = {0};
  write_png(fx_path(f, "a.png"), 2, 2, 1, px);
  struct tqt_preprocess gray = {.grayscale = true};
  int64_t three[4] = {1, 3, 2, 2};
  assert_int_equal(fx_open(f, fx_input(f, 4, three), &gray), TQT_STATUS_USAGE);
  assert_non_null(strstr(f->d.msg, "takes 3 channels"));
  f->d = (struct tqt_diag){0};
  int64_t dynamic[4] = {1, 1, -1, -1};
  assert_int_equal(fx_open(f, fx_input(f, 4, dynamic), &gray), TQT_STATUS_USAGE);
  assert_non_null(strstr(f->d.msg, "\"size\": [H, W]"));
  f->d = (struct tqt_diag){0};
  int64_t flat[2] = {1, 4};
  assert_int_equal(fx_open(f, fx_input(f, 2, flat), &gray), TQT_STATUS_USAGE);
  assert_non_null(strstr(f->d.msg, "rank 2"));
}

/* Each broken file: the error names it, the dataset stays usable for the good one. */
static void expect_broken(struct fx *f, const char *name, enum tqt_status want) {
  int64_t dims[4] = {1, 1, 4, 4};
  struct tqt_preprocess pp = {.grayscale = true};
  const struct tqt_value_info *vi = fx_input(f, 4, dims);
  assert_int_equal(fx_open(f, vi, &pp), TQT_STATUS_OK);
  f->d = (struct tqt_diag){0};
  /* the broken file sorts first ("0..."), the good one is "z.png" */
  assert_int_equal(tqt_dataset_sample(f->ds, 0, &f->value, &f->d), want);
  char prefix[512];
  snprintf(prefix, sizeof prefix, "%s/%s: ", f->dir, name);
  if (strncmp(f->d.msg, prefix, strlen(prefix)) != 0)
    fail_msg("'%s' does not start with '%s'", f->d.msg, prefix);
  f->d = (struct tqt_diag){0};
  assert_int_equal(tqt_dataset_sample(f->ds, 1, &f->value, &f->d), TQT_STATUS_OK);
  unlink(fx_path(f, name));
}

static void test_corrupt_images_fail_naming_the_file(void **state) {
  struct fx *f = *state;
  uint8_t px[16];
  for (size_t i = 0; i < 16; i++) px[i] = (uint8_t)(i * 13);
  write_png(fx_path(f, "z.png"), 4, 4, 1, px);
  /* a PNG whose image data is overwritten */
  FILE *fp = fopen(fx_path(f, "z.png"), "rb");
  uint8_t bytes[4096];
  size_t n = fread(bytes, 1, sizeof bytes, fp);
  fclose(fp);
  uint8_t bad[4096];
  memcpy(bad, bytes, n);
  for (size_t i = 40; i < n - 12; i++) bad[i] ^= 0x5A;
  write_bytes(fx_path(f, "0bad.png"), bad, n);
  expect_broken(f, "0bad.png", TQT_STATUS_PARSE);
  write_bytes(fx_path(f, "0short.png"), bytes, n / 2); /* truncated */
  expect_broken(f, "0short.png", TQT_STATUS_PARSE);
  write_bytes(fx_path(f, "0text.jpg"), "not a picture", 13);
  expect_broken(f, "0text.jpg", TQT_STATUS_PARSE);
  uint8_t big[64 * 64 * 3];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
  write_jpeg(fx_path(f, "full.jpg"), 64, 64, 3, big);
  fp = fopen(fx_path(f, "full.jpg"), "rb");
  uint8_t jpg[65536];
  size_t nj = fread(jpg, 1, sizeof jpg, fp);
  fclose(fp);
  unlink(fx_path(f, "full.jpg"));
  write_bytes(fx_path(f, "0cut.jpg"), jpg, nj / 2);
  expect_broken(f, "0cut.jpg", TQT_STATUS_PARSE);
  write_bytes(fx_path(f, "0cut.ppm"), "P6\n4 4\n255\n\1\2\3", 14);
  expect_broken(f, "0cut.ppm", TQT_STATUS_PARSE);
  write_bytes(fx_path(f, "0deep.ppm"), "P6 4 4 65535\n", 13);
  expect_broken(f, "0deep.ppm", TQT_STATUS_UNSUPPORTED);
  assert_int_equal(symlink(fx_path(f, "missing.png"), fx_path(f, "0gone.png")), 0);
  expect_broken(f, "0gone.png", TQT_STATUS_IO);
}

static void test_image_names_by_extension(void **state) {
  (void)state;
  assert_true(tqt_image_name_is_image("a.png"));
  assert_true(tqt_image_name_is_image("a.JPEG"));
  assert_true(tqt_image_name_is_image("x.y.Jpg"));
  assert_true(tqt_image_name_is_image("b.ppm"));
  assert_false(tqt_image_name_is_image(".png"));
  assert_false(tqt_image_name_is_image("a.npy"));
  assert_false(tqt_image_name_is_image("png"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_png_rgb_nchw_is_exact, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_png_nhwc_bgr_puts_blue_first_with_its_own_mean,
                                      fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_png_gray_alpha_and_rgba_drop_alpha, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_grayscale_of_a_colour_image_is_its_luma, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_gray_image_fills_three_channels, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_ppm_p6_and_p5_are_exact, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_jpeg_is_close_to_the_pixels_it_encoded, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_upscale_is_bilinear_with_half_pixel_centres, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_downscale_by_two_averages_pixel_pairs, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(
          test_size_defaults_to_the_model_input_and_images_of_any_size_fit, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_files_are_sorted_and_other_files_ignored, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_images_without_preprocess_are_refused, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_channel_and_size_mismatches_are_usage_errors, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_images_fail_naming_the_file, fx_setup,
                                      fx_teardown),
      cmocka_unit_test(test_image_names_by_extension),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
