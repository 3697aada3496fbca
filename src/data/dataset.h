/* Samples for the model's inputs, from every INPUT form of the command line (DESIGN.md):
 *   FILE.npy            one-input model; axis 0 indexes samples when the array has one more axis
 *                       than the input, or when the input's batch is 1 and axis 0 is larger
 *   DIR/ of *.npy       one sample per file (sorted by name), one-input model
 *   DIR/ ONNX layout    DIR/test_data_set_N/input_K.pb, or one set DIR/input_K.pb
 *   DIR/<sample>/<input_name>.npy   several inputs
 *   NAME=FILE.npy       per input (several), FILE.npy alone fills the next unnamed input
 *   DIR/ of images      .png/.jpg/.jpeg/.ppm (sorted by name), one sample each, one-input model,
 *                       made by a struct tqt_preprocess (image.h) into a [1,C,H,W] or [1,H,W,C]
 *                       float tensor
 * Samples are read on demand (files mapped, not copied; images decoded one at a time), so memory
 * does not grow with the count. */
#ifndef TQT_DATA_DATASET_H
#define TQT_DATA_DATASET_H

#include <stddef.h>

#include "diag.h"
#include "interp.h"
#include "ir.h"

struct tqt_dataset;
struct tqt_preprocess;

/* inputs: the model inputs to feed, in order (their types and shapes are checked per sample).
 * pp: how images become tensors; NULL refuses folders of images (they need the config file's
 * "preprocess"). It must stay valid until the dataset is closed. */
enum tqt_status tqt_dataset_open(const char *const *specs, size_t n_specs,
                                 const struct tqt_value_info *const *inputs, size_t n_inputs,
                                 const struct tqt_preprocess *pp, struct tqt_dataset **out,
                                 struct tqt_diag *d);
size_t tqt_dataset_count(const struct tqt_dataset *ds);
/* Fills values[0 .. n_inputs) for sample i; they stay valid until the next call or close. */
enum tqt_status tqt_dataset_sample(struct tqt_dataset *ds, size_t i, struct tqt_value *values,
                                   struct tqt_diag *d);
void tqt_dataset_close(struct tqt_dataset *ds);

/* The `random` INPUT: N(0,1) floats (float32 or float16, as the input) of every input's static
 * shape (deterministic from *state).
 * values[i] (released first) are owned: the caller releases them. */
enum tqt_status tqt_dataset_random(struct tqt_interp *in, struct tqt_value *values,
                                   uint64_t *state, struct tqt_diag *d);

/* One worker of a run over samples on several threads (parallel.h): its interpreter, its own
 * dataset (they read one sample at a time into their own buffers) and input slots. */
struct tqt_sample_worker {
  struct tqt_interp *in;
  struct tqt_dataset *ds;        /* NULL when no specs were given */
  struct tqt_value *values;      /* n_in */
  const struct tqt_value **ptrs; /* n_in, pointing at values */
};

/* n workers of m (observer_ctx[k] each when io has an observer), made one after the other
 * (planning loads weights into m). io's threads apply with one worker; with more, each runs its
 * matrix products on one thread, so that a sample computes the same on any worker. specs (may be
 * NULL): the dataset each worker opens. *n_in: the model's inputs. */
enum tqt_status tqt_sample_workers_create(struct tqt_model *m, const struct tqt_interp_options *io,
                                          void *const *observer_ctx, size_t n,
                                          const char *const *specs, size_t n_specs,
                                          const struct tqt_preprocess *pp,
                                          struct tqt_sample_worker **out, size_t *n_in,
                                          struct tqt_diag *d);
void tqt_sample_workers_destroy(struct tqt_sample_worker *w, size_t n);

#endif
