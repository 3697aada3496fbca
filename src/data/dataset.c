#include "dataset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image.h"
#include "file_io.h"
#include "npy.h"
#include "onnx_io.h"
#include "options.h"

enum ds_kind {
  DS_KIND_FILES,       /* one .npy per input (possibly a batch along axis 0) */
  DS_KIND_NPY_DIR,     /* DIR of .npy, one sample each */
  DS_KIND_PB_SETS,     /* DIR/test_data_set_N/input_K.pb */
  DS_KIND_SAMPLE_DIRS, /* DIR/<sample>/<input>.npy */
  DS_KIND_IMAGES,      /* DIR of images, one sample each */
};

struct ds_input {
  const struct tqt_value_info *info;
  struct tqt_npy npy;  /* FILES: the whole file; other kinds: the current sample's file */
  const char *path;    /* FILES: the file */
  size_t count;        /* FILES: samples in the file */
  bool batched;        /* FILES: axis 0 indexes samples */
};

struct tqt_dataset {
  enum ds_kind kind;
  char *dir;
  char **entries; /* NPY_DIR files, PB_SETS set folders, SAMPLE_DIRS sample folders */
  size_t n_entries;
  struct ds_input *inputs;
  size_t n_inputs;
  size_t count;
  struct tqt_arena *scratch; /* PB_SETS: tensors of the current sample */
  /* IMAGES: how they become tensors, the tensor's dims and its buffer (reused per sample) */
  const struct tqt_preprocess *pp;
  int64_t image_dims[4];
  float *image_data;
};

static int ds_name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ds_has_suffix(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool ds_is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool ds_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Sorted names in dir accepted by keep (NULL: all but dot files). */
static enum tqt_status ds_list(const char *dir, bool (*keep)(const char *dir, const char *name),
                               char ***out, size_t *n, struct tqt_diag *d) {
  DIR *dp = opendir(dir);
  if (!dp) return tqt_diag_fail(d, TQT_STATUS_IO, "%s: cannot list the folder", dir);
  struct dirent *e;
  size_t cap = 0;
  enum tqt_status st = TQT_STATUS_OK;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.' || (keep && !keep(dir, e->d_name))) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(*out, cap * sizeof *grown);
      if (!grown) {
        st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", dir);
        break;
      }
      *out = grown;
    }
    if (!((*out)[*n] = strdup(e->d_name))) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", dir);
      break;
    }
    (*n)++;
  }
  closedir(dp);
  if (*n) qsort(*out, *n, sizeof **out, ds_name_cmp);
  return st;
}

static bool ds_keep_npy(const char *dir, const char *name) {
  (void)dir;
  return ds_has_suffix(name, ".npy");
}

static bool ds_keep_image(const char *dir, const char *name) {
  (void)dir;
  return tqt_image_name_is_image(name);
}

static bool ds_keep_set(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return strncmp(name, "test_data_set_", 14) == 0 && ds_is_dir(path);
}

static bool ds_keep_subdir(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return ds_is_dir(path);
}


static const struct tqt_type *ds_tensor_type(const struct tqt_value_info *info) {
  return info->type && info->type->kind == TQT_TYPE_KIND_TENSOR ? info->type : NULL;
}

/* Checks a sample against the model input: element type and every fixed dim. */
static enum tqt_status ds_check(const struct ds_input *in, const char *source, size_t sample,
                                int32_t dtype, size_t rank, const int64_t *dims,
                                struct tqt_diag *d) {
  const struct tqt_type *t = ds_tensor_type(in->info);
  if (!t) return TQT_STATUS_OK;
  bool ok = !t->has_elem_type || t->elem_type == dtype;
  if (t->has_shape) {
    ok = ok && t->rank == rank;
    for (size_t i = 0; ok && i < rank; i++)
      ok = !t->dims[i].has_value || t->dims[i].value == dims[i];
  }
  if (ok) return TQT_STATUS_OK;
  char got[256] = "", want[256] = "";
  size_t n = 0;
  for (size_t i = 0; i < rank && n < sizeof got; i++)
    n += (size_t)snprintf(got + n, sizeof got - n, "%s%lld", i ? "," : "", (long long)dims[i]);
  n = 0;
  for (size_t i = 0; t->has_shape && i < t->rank && n < sizeof want; i++) {
    if (t->dims[i].has_value)
      n += (size_t)snprintf(want + n, sizeof want - n, "%s%lld", i ? "," : "",
                            (long long)t->dims[i].value);
    else
      n += (size_t)snprintf(want + n, sizeof want - n, "%s%s", i ? "," : "",
                            t->dims[i].param ? t->dims[i].param : "?");
  }
  return tqt_diag_fail(d, TQT_STATUS_INVALID,
                       "input '%s': %s (sample %zu) is %s[%s], the model wants %s[%s]",
                       in->info->name, source, sample, tqt_dtype_name(dtype), got,
                       t->has_elem_type ? tqt_dtype_name(t->elem_type) : "?",
                       t->has_shape ? want : "rank ?");
}

/* Decides whether a whole-array file is a batch of samples along axis 0. */
static void ds_batch_rule(struct ds_input *in) {
  const struct tqt_type *t = ds_tensor_type(in->info);
  const struct tqt_npy *a = &in->npy;
  in->batched = false;
  in->count = 1;
  if (!t || !t->has_shape) return;
  bool extra_axis = a->rank == t->rank + 1;
  bool batch_one = a->rank == t->rank && t->rank > 0 && t->dims[0].has_value &&
                   t->dims[0].value == 1 && a->dims[0] > 1;
  if (extra_axis || batch_one) {
    in->batched = true;
    in->count = (size_t)a->dims[0];
  }
}

static enum tqt_status ds_open_files(struct tqt_dataset *ds, const char *const *specs,
                                     size_t n_specs, struct tqt_diag *d) {
  size_t next = 0;
  for (size_t s = 0; s < n_specs; s++) {
    const char *eq = strchr(specs[s], '=');
    const char *path = specs[s];
    size_t idx = SIZE_MAX;
    if (eq && !ds_exists(specs[s])) {
      for (size_t i = 0; i < ds->n_inputs; i++)
        if (strlen(ds->inputs[i].info->name) == (size_t)(eq - specs[s]) &&
            strncmp(ds->inputs[i].info->name, specs[s], (size_t)(eq - specs[s])) == 0)
          idx = i;
      if (idx == SIZE_MAX)
        return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: the model has no input '%.*s'", specs[s],
                             (int)(eq - specs[s]), specs[s]);
      path = eq + 1;
    } else {
      while (next < ds->n_inputs && ds->inputs[next].path) next++;
      if (next == ds->n_inputs)
        return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: more inputs given than the model takes",
                             specs[s]);
      idx = next;
    }
    struct ds_input *in = &ds->inputs[idx];
    if (in->path)
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "input '%s' is given twice", in->info->name);
    in->path = path;
    if (ds_is_dir(path))
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: a folder must be the only INPUT", path);
    if (!ds_has_suffix(path, ".npy"))
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: expected a .npy file or a folder", path);
    enum tqt_status st = tqt_npy_open(&in->npy, path, d);
    if (st != TQT_STATUS_OK) return st;
    ds_batch_rule(in);
  }
  ds->count = SIZE_MAX;
  for (size_t i = 0; i < ds->n_inputs; i++) {
    const struct ds_input *in = &ds->inputs[i];
    if (!in->path)
      return tqt_diag_fail(d, TQT_STATUS_USAGE, "input '%s' is not given (use %s=FILE.npy)",
                           in->info->name, in->info->name);
    if (ds->count != SIZE_MAX && in->count != ds->count)
      return tqt_diag_fail(d, TQT_STATUS_INVALID, "%s holds %zu samples, %s %zu", in->path,
                           in->count, ds->inputs[0].path, ds->count);
    ds->count = in->count;
  }
  return TQT_STATUS_OK;
}

/* A folder of images: the tensor dims from the preprocessing and the model input, its buffer. */
static enum tqt_status ds_open_images(struct tqt_dataset *ds, const char *dir,
                                      const struct tqt_preprocess *pp, struct tqt_diag *d) {
  if (!pp)
    return tqt_diag_fail(d, TQT_STATUS_USAGE,
                         "%s: images need a preprocess block in the config file", dir);
  if (ds->n_inputs != 1)
    return tqt_diag_fail(d, TQT_STATUS_USAGE,
                         "%s: a folder of images feeds a one-input model; this one has %zu inputs",
                         dir, ds->n_inputs);
  const struct tqt_value_info *info = ds->inputs[0].info;
  const struct tqt_type *t = ds_tensor_type(info);
  int64_t c = (int64_t)tqt_preprocess_channels(pp), h = pp->height, w = pp->width;
  const char *layout = pp->nhwc ? "[1,H,W,C] (NHWC)" : "[1,C,H,W] (NCHW)";
  if (t && t->has_shape) {
    if (t->rank != 4)
      return tqt_diag_fail(d, TQT_STATUS_USAGE,
                           "%s: input '%s' has rank %zu; images make %s tensors", dir, info->name,
                           t->rank, layout);
    const struct tqt_dim *dc = &t->dims[pp->nhwc ? 3 : 1], *dh = &t->dims[pp->nhwc ? 1 : 2],
                         *dw = &t->dims[pp->nhwc ? 2 : 3];
    if (dc->has_value && dc->value != c)
      return tqt_diag_fail(d, TQT_STATUS_USAGE,
                           "%s: input '%s' takes %lld channel%s in layout %s; the preprocess "
                           "makes %lld%s",
                           dir, info->name, (long long)dc->value, dc->value == 1 ? "" : "s",
                           layout, (long long)c, pp->grayscale ? " (grayscale)" : "");
    if (!h && dh->has_value && dw->has_value) {
      h = dh->value;
      w = dw->value;
    }
  }
  if (t && t->has_elem_type && t->elem_type != TQT_DTYPE_FLOAT)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "%s: input '%s' is %s; images make float tensors",
                         dir, info->name, tqt_dtype_name(t->elem_type));
  if (h <= 0 || w <= 0)
    return tqt_diag_fail(d, TQT_STATUS_USAGE,
                         "%s: input '%s' has no static height and width: give the preprocess "
                         "block a \"size\": [H, W]",
                         dir, info->name);
  if (h > (1 << 20) || w > (1 << 20) || h * w > ((int64_t)1 << 30) / c)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: images of %lld x %lld are too large",
                         dir, (long long)h, (long long)w);
  int64_t dims[4] = {1, c, h, w};
  if (pp->nhwc) dims[1] = h, dims[2] = w, dims[3] = c;
  memcpy(ds->image_dims, dims, sizeof dims);
  ds->pp = pp;
  if (!(ds->image_data = calloc((size_t)(c * h * w), sizeof *ds->image_data)))
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "%s: out of memory", dir);
  return TQT_STATUS_OK;
}

enum tqt_status tqt_dataset_open(const char *const *specs, size_t n_specs,
                                 const struct tqt_value_info *const *inputs, size_t n_inputs,
                                 const struct tqt_preprocess *pp, struct tqt_dataset **out,
                                 struct tqt_diag *d) {
  *out = NULL;
  enum tqt_status st = TQT_STATUS_OK;
  struct tqt_dataset *ds = calloc(1, sizeof *ds);
  if (!ds || !(ds->inputs = calloc(n_inputs + 1, sizeof *ds->inputs)) ||
      !(ds->scratch = tqt_arena_create())) {
    tqt_dataset_close(ds);
    return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  }
  ds->n_inputs = n_inputs;
  for (size_t i = 0; i < n_inputs; i++) ds->inputs[i].info = inputs[i];
  if (n_specs == 0) {
    st = tqt_diag_fail(d, TQT_STATUS_USAGE, "no input data given");
    goto fail;
  }
  if (n_specs == 1 && ds_is_dir(specs[0])) {
    ds->dir = strdup(specs[0]);
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/input_0.pb", specs[0]);
    if (!ds->dir) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      goto fail;
    }
    if (ds_exists(probe)) { /* a single test_data_set folder */
      ds->kind = DS_KIND_PB_SETS;
      ds->entries = calloc(1, sizeof *ds->entries);
      if (!ds->entries || !(ds->entries[0] = strdup("."))) {
        st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
        goto fail;
      }
      ds->n_entries = 1;
    } else if ((st = ds_list(specs[0], ds_keep_set, &ds->entries, &ds->n_entries, d)) != 0) {
      goto fail;
    } else if (ds->n_entries) {
      ds->kind = DS_KIND_PB_SETS;
    } else if ((st = ds_list(specs[0], ds_keep_npy, &ds->entries, &ds->n_entries, d)) != 0) {
      goto fail;
    } else if (ds->n_entries) {
      ds->kind = DS_KIND_NPY_DIR;
      if (n_inputs != 1) {
        st = tqt_diag_fail(d, TQT_STATUS_USAGE,
                           "%s: a folder of .npy files feeds a one-input model; this one has %zu "
                           "inputs (use DIR/<sample>/<input>.npy)",
                           specs[0], n_inputs);
        goto fail;
      }
    } else if ((st = ds_list(specs[0], ds_keep_image, &ds->entries, &ds->n_entries, d)) != 0) {
      goto fail;
    } else if (ds->n_entries) {
      ds->kind = DS_KIND_IMAGES;
      if ((st = ds_open_images(ds, specs[0], pp, d)) != TQT_STATUS_OK) goto fail;
    } else if ((st = ds_list(specs[0], ds_keep_subdir, &ds->entries, &ds->n_entries, d)) != 0) {
      goto fail;
    } else if (ds->n_entries) {
      ds->kind = DS_KIND_SAMPLE_DIRS;
    } else {
      st = tqt_diag_fail(d, TQT_STATUS_INVALID,
                         "%s: no samples found (.npy files, test_data_set_*, images or sample "
                         "folders)",
                         specs[0]);
      goto fail;
    }
    ds->count = ds->n_entries;
  } else {
    ds->kind = DS_KIND_FILES;
    if ((st = ds_open_files(ds, specs, n_specs, d)) != TQT_STATUS_OK) goto fail;
  }
  *out = ds;
  return TQT_STATUS_OK;
fail:
  tqt_dataset_close(ds);
  return st;
}

size_t tqt_dataset_count(const struct tqt_dataset *ds) { return ds->count; }

/* Borrows the sample's slice of a mapped array into v. */
static enum tqt_status ds_npy_value(struct ds_input *in, const char *source, size_t sample,
                                    size_t index, bool batched, struct tqt_value *v,
                                    struct tqt_diag *d) {
  const struct tqt_npy *a = &in->npy;
  int64_t dims[TQT_RANK_MAX + 1];
  size_t rank = a->rank;
  memcpy(dims, a->dims, rank * sizeof *dims);
  size_t bytes = a->nbytes;
  const char *data = a->data;
  if (batched) {
    const struct tqt_type *t = ds_tensor_type(in->info);
    bool keep_axis = t && t->has_shape && t->rank == a->rank; /* batch-1 model, [N, ...] file */
    bytes = a->dims[0] ? a->nbytes / (size_t)a->dims[0] : 0;
    data += bytes * index;
    if (keep_axis) {
      dims[0] = 1;
    } else {
      rank--;
      memmove(dims, dims + 1, rank * sizeof *dims);
    }
  }
  if (rank > TQT_RANK_MAX)
    return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: rank %zu is too large", source, rank);
  enum tqt_status st = ds_check(in, source, sample, a->dtype, rank, dims, d);
  if (st != TQT_STATUS_OK) return st;
  tqt_value_tensor_borrow(v, a->dtype, rank, dims, (void *)data, bytes);
  return TQT_STATUS_OK;
}

static enum tqt_status ds_npy_file_value(struct ds_input *in, const char *path, size_t sample,
                                         struct tqt_value *v, struct tqt_diag *d) {
  tqt_npy_close(&in->npy);
  enum tqt_status st = tqt_npy_open(&in->npy, path, d);
  if (st != TQT_STATUS_OK) return st;
  return ds_npy_value(in, path, sample, 0, false, v, d);
}

enum tqt_status tqt_dataset_sample(struct tqt_dataset *ds, size_t i, struct tqt_value *values,
                                   struct tqt_diag *d) {
  if (i >= ds->count)
    return tqt_diag_fail(d, TQT_STATUS_USAGE, "sample %zu of %zu", i, ds->count);
  char path[8192];
  switch (ds->kind) {
  case DS_KIND_FILES:
    for (size_t k = 0; k < ds->n_inputs; k++) {
      struct ds_input *in = &ds->inputs[k];
      /* The samples before this one are done with: their pages leave memory, so that a large
       * batch file costs one sample's worth of resident memory, not the whole file. */
      if (in->batched && i > 0 && in->npy.dims[0] > 0) {
        size_t per = in->npy.nbytes / (size_t)in->npy.dims[0];
        tqt_file_map_release(&in->npy.map, in->npy.data, per * i);
      }
      enum tqt_status st = ds_npy_value(in, in->path, i, i, in->batched, &values[k], d);
      if (st != TQT_STATUS_OK) return st;
    }
    return TQT_STATUS_OK;
  case DS_KIND_NPY_DIR:
    snprintf(path, sizeof path, "%s/%s", ds->dir, ds->entries[i]);
    return ds_npy_file_value(&ds->inputs[0], path, i, &values[0], d);
  case DS_KIND_SAMPLE_DIRS:
    for (size_t k = 0; k < ds->n_inputs; k++) {
      char safe[1024];
      tqt_path_safe_name(ds->inputs[k].info->name, safe, sizeof safe);
      snprintf(path, sizeof path, "%s/%s/%s.npy", ds->dir, ds->entries[i], safe);
      enum tqt_status st = ds_npy_file_value(&ds->inputs[k], path, i, &values[k], d);
      if (st != TQT_STATUS_OK) return st;
    }
    return TQT_STATUS_OK;
  case DS_KIND_IMAGES: {
    snprintf(path, sizeof path, "%s/%s", ds->dir, ds->entries[i]);
    struct tqt_image img;
    enum tqt_status st = tqt_image_load(path, &img, d);
    if (st != TQT_STATUS_OK) return st;
    const int64_t *dims = ds->image_dims;
    size_t h = (size_t)dims[ds->pp->nhwc ? 1 : 2], w = (size_t)dims[ds->pp->nhwc ? 2 : 3];
    tqt_image_to_tensor(&img, ds->pp, h, w, ds->image_data);
    tqt_image_free(&img);
    size_t numel = (size_t)(dims[0] * dims[1] * dims[2] * dims[3]);
    if ((st = ds_check(&ds->inputs[0], path, i, TQT_DTYPE_FLOAT, 4, dims, d))) return st;
    tqt_value_tensor_borrow(&values[0], TQT_DTYPE_FLOAT, 4, dims, ds->image_data,
                            numel * sizeof *ds->image_data);
    return TQT_STATUS_OK;
  }
  case DS_KIND_PB_SETS:
    tqt_arena_destroy(ds->scratch);
    if (!(ds->scratch = tqt_arena_create()))
      return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
    for (size_t k = 0; k < ds->n_inputs; k++) {
      snprintf(path, sizeof path, "%s/%s/input_%zu.pb", ds->dir, ds->entries[i], k);
      struct tqt_tensor *t = NULL;
      enum tqt_status st = tqt_tensor_load(path, ds->scratch, &t, d);
      if (st != TQT_STATUS_OK) return st;
      if (t->rank > TQT_RANK_MAX)
        return tqt_diag_fail(d, TQT_STATUS_UNSUPPORTED, "%s: rank %zu is too large", path,
                             t->rank);
      if ((st = ds_check(&ds->inputs[k], path, i, t->dtype, t->rank, t->dims, d))) return st;
      bool str = t->dtype == TQT_DTYPE_STRING;
      tqt_value_tensor_borrow(&values[k], t->dtype, t->rank, t->dims,
                              str ? (void *)t->strings : t->data,
                              str ? t->n_strings * sizeof *t->strings : t->nbytes);
    }
    return TQT_STATUS_OK;
  }
  return TQT_STATUS_OK;
}

void tqt_dataset_close(struct tqt_dataset *ds) {
  if (!ds) return;
  for (size_t i = 0; ds->inputs && i < ds->n_inputs; i++) tqt_npy_close(&ds->inputs[i].npy);
  for (size_t i = 0; i < ds->n_entries; i++) free(ds->entries[i]);
  free(ds->entries);
  free(ds->inputs);
  free(ds->dir);
  free(ds->image_data);
  tqt_arena_destroy(ds->scratch);
  free(ds);
}

enum tqt_status tqt_dataset_random(struct tqt_interp *in, struct tqt_value *values,
                                   uint64_t *state, struct tqt_diag *d) {
  for (size_t i = 0; i < tqt_interp_input_count(in); i++) {
    const struct tqt_value_info *vi = tqt_interp_input_info(in, i);
    const struct tqt_type *t = vi->type;
    int64_t dims[TQT_RANK_MAX];
    bool ok = t && t->kind == TQT_TYPE_KIND_TENSOR &&
              (t->elem_type == TQT_DTYPE_FLOAT || t->elem_type == TQT_DTYPE_FLOAT16) &&
              t->has_shape && t->rank <= TQT_RANK_MAX;
    for (size_t k = 0; ok && k < t->rank; k++) {
      ok = t->dims[k].has_value;
      dims[k] = t->dims[k].value;
    }
    if (!ok)
      return tqt_diag_fail(d, TQT_STATUS_USAGE,
                           "random inputs: input '%s' needs a float type with static dims "
                           "(--input-shape)",
                           vi->name);
    tqt_value_release(&values[i]);
    enum tqt_status st = tqt_value_tensor_alloc(&values[i], t->elem_type, t->rank, dims, d);
    if (st != TQT_STATUS_OK) return st;
    for (int64_t j = 0; j < tqt_rt_numel(&values[i].t); j++) {
      *state = *state * 6364136223846793005ull + 1442695040888963407ull;
      double u1 = ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
      *state = *state * 6364136223846793005ull + 1442695040888963407ull;
      double u2 = ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
      /* float16 inputs (of float16 models) get the same values, rounded */
      tqt_rt_set(&values[i].t, j, (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2)));
    }
  }
  return TQT_STATUS_OK;
}

enum tqt_status tqt_sample_workers_create(struct tqt_model *m, const struct tqt_interp_options *io,
                                          void *const *observer_ctx, size_t n,
                                          const char *const *specs, size_t n_specs,
                                          const struct tqt_preprocess *pp,
                                          struct tqt_sample_worker **out, size_t *n_in,
                                          struct tqt_diag *d) {
  struct tqt_sample_worker *ws = calloc(n + 1, sizeof *ws);
  const struct tqt_value_info **infos = NULL;
  enum tqt_status st = TQT_STATUS_OK;
  *out = ws;
  *n_in = 0;
  if (!ws) return tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
  for (size_t k = 0; st == TQT_STATUS_OK && k < n; k++) {
    struct tqt_sample_worker *w = &ws[k];
    struct tqt_interp_options wio = *io;
    if (n > 1) wio.threads = 1;
    if (observer_ctx) wio.observer_ctx = observer_ctx[k];
    if ((st = tqt_interp_create(m, &wio, &w->in, d)) != TQT_STATUS_OK) break;
    *n_in = tqt_interp_input_count(w->in);
    w->values = calloc(*n_in + 1, sizeof *w->values);
    w->ptrs = calloc(*n_in + 1, sizeof *w->ptrs);
    if (!infos) infos = calloc(*n_in + 1, sizeof *infos);
    if (!w->values || !w->ptrs || !infos) {
      st = tqt_diag_fail(d, TQT_STATUS_NOMEM, "out of memory");
      break;
    }
    for (size_t i = 0; i < *n_in; i++) {
      w->ptrs[i] = &w->values[i];
      infos[i] = tqt_interp_input_info(w->in, i);
    }
    if (specs) st = tqt_dataset_open(specs, n_specs, infos, *n_in, pp, &w->ds, d);
  }
  free(infos);
  return st;
}

void tqt_sample_workers_destroy(struct tqt_sample_worker *w, size_t n) {
  for (size_t k = 0; w && k < n; k++) {
    free(w[k].values);
    free(w[k].ptrs);
    tqt_dataset_close(w[k].ds);
    tqt_interp_destroy(w[k].in);
  }
  free(w);
}
