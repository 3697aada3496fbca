/* The interpreter: plans a model once (kernel choice, attribute parsing, value slots, lifetimes),
 * then runs it on many samples. Used by calibration, `run`, `compare`, the passes and retraining:
 * nobody else evaluates ops. */
#ifndef TQT_INTERP_H
#define TQT_INTERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ir.h"

#define TQT_RANK_MAX 8

/* A tensor at run time. Data is little-endian elements of dtype (bool one byte, float16 bits);
 * for STRING, data holds struct tqt_bytes elements. */
struct tqt_rt_tensor {
  int32_t dtype;
  size_t rank;
  int64_t dims[TQT_RANK_MAX];
  void *data;
  size_t nbytes;
  size_t capacity; /* bytes allocated at data (0: borrowed, not owned) */
};

enum tqt_value_kind {
  TQT_VALUE_KIND_NONE = 0, /* an empty optional, or an omitted input */
  TQT_VALUE_KIND_TENSOR,
  TQT_VALUE_KIND_SEQUENCE,
};

struct tqt_value {
  enum tqt_value_kind kind;
  struct tqt_rt_tensor t;       /* TENSOR */
  struct tqt_rt_tensor **items; /* SEQUENCE: owned tensors */
  size_t n_items;
  int32_t seq_dtype; /* SEQUENCE element type, also for an empty one */
  bool borrowed;     /* the data belongs to someone else: release frees nothing */
};

int64_t tqt_rt_numel(const struct tqt_rt_tensor *t);
/* Shape as "[1,3,224,224]" into buf (for messages). */
const char *tqt_rt_shape_str(const struct tqt_rt_tensor *t, char *buf, size_t size);

/* ---- element types ---- */
float tqt_f16_to_f32(uint16_t h);
uint16_t tqt_f32_to_f16(float f);
float tqt_bf16_to_f32(uint16_t h);
uint16_t tqt_f32_to_bf16(float f);
/* Element i of any numeric tensor as double / written from double (with C conversion rules;
 * float16/bfloat16 through float). For small tensors and generic code, not hot loops. */
double tqt_rt_get(const struct tqt_rt_tensor *t, int64_t i);
void tqt_rt_set(struct tqt_rt_tensor *t, int64_t i, double v);
/* Element i as int64 exactly (integer types and bool). */
int64_t tqt_rt_get_int(const struct tqt_rt_tensor *t, int64_t i);


struct tqt_interp;

/* Called for each graph input a run is given (node NULL) and, after every node, for each value it
 * produced: nodes of If/Loop/Scan bodies included, every time they run (each loop iteration, each
 * branch taken); a body's formal inputs are not reported. Returning non-zero stops the run (the
 * observer should fill d). */
typedef int (*tqt_observer_fn)(void *ctx, const struct tqt_node *node, const char *name,
                               const struct tqt_value *v, struct tqt_diag *d);

struct tqt_interp_options {
  int threads; /* 0: OpenBLAS default */
  tqt_observer_fn observer;
  void *observer_ctx;
  /* 0: no cap. Otherwise a node output of more bytes fails the run (UNSUPPORTED) before it is
   * allocated: passes that evaluate speculatively stay within bounds on hostile models. */
  size_t max_tensor_bytes;
};

/* Plans the model's main graph. Every node without a kernel is reported at once (op, domain,
 * version, node name). The model must outlive the interpreter and not change under it. */
enum tqt_status tqt_interp_create(struct tqt_model *m, const struct tqt_interp_options *o,
                                  struct tqt_interp **out, struct tqt_diag *d);
void tqt_interp_destroy(struct tqt_interp *in);

/* Runs the graph. inputs[i] binds the i-th graph input that is not also an initializer (in the
 * order of graph inputs); a NULL entry or n_inputs short leaves an initializer-backed input at its
 * initializer. Outputs are valid until the next run or destroy. */
enum tqt_status tqt_interp_run(struct tqt_interp *in, const struct tqt_value *const *inputs,
                               size_t n_inputs, struct tqt_diag *d);
size_t tqt_interp_output_count(const struct tqt_interp *in);
const struct tqt_value *tqt_interp_output(const struct tqt_interp *in, size_t i);
/* The graph inputs a caller must feed (those without an initializer), in order. */
size_t tqt_interp_input_count(const struct tqt_interp *in);
const struct tqt_value_info *tqt_interp_input_info(const struct tqt_interp *in, size_t i);

/* Value helpers for callers (data loaders, tests). */
/* Makes v an owned tensor of the given type and shape (zeroed). */
enum tqt_status tqt_value_tensor_alloc(struct tqt_value *v, int32_t dtype, size_t rank,
                                       const int64_t *dims, struct tqt_diag *d);
/* Makes v a tensor that borrows data (no copy, not freed). */
void tqt_value_tensor_borrow(struct tqt_value *v, int32_t dtype, size_t rank, const int64_t *dims,
                             void *data, size_t nbytes);
/* Deep copy of src into dst (dst released first). */
enum tqt_status tqt_value_copy(struct tqt_value *dst, const struct tqt_value *src,
                               struct tqt_diag *d);
void tqt_value_release(struct tqt_value *v);

#endif
