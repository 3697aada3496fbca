/* What a kernel sees. One file per op family registers a table of kernels; the interpreter picks,
 * per node, the kernel with the highest since_version ≤ the model's opset for the node's domain.
 *
 * A kernel's init (optional) runs once at plan time: it reads attributes into k->params (carved
 * from k->arena) and rejects what it cannot run. Its run computes the outputs: it asks for each
 * output with tqt_kernel_output() (which reuses buffers between runs) and fills it. Errors go
 * through tqt_kernel_fail(), which names the node and op. */
#ifndef TQT_INTERP_KERNEL_H
#define TQT_INTERP_KERNEL_H

#include "interp.h"

struct tqt_kernel_ctx;
struct tqt_infer_ctx;

struct tqt_kernel {
  const char *domain; /* "" for ai.onnx */
  const char *op_type;
  int since_version;
  enum tqt_status (*init)(struct tqt_kernel_ctx *k);
  enum tqt_status (*run)(struct tqt_kernel_ctx *k);
  /* Types and symbolic shapes of the outputs from the inputs' (infer.h); runs after init. */
  enum tqt_status (*infer)(struct tqt_infer_ctx *c);
};

struct tqt_kernel_family {
  const char *name;
  const struct tqt_kernel *kernels;
  size_t count;
};

struct interp_graph;
struct interp_frame;

struct tqt_kernel_ctx {
  const struct tqt_node *node;
  const struct tqt_kernel *kernel;
  int64_t opset;             /* the model's opset for the node's domain */
  struct tqt_arena *arena;   /* the plan's arena, for init */
  void *params;              /* what init prepared */
  struct tqt_interp *interp;
  struct tqt_diag *d;
  /* Set for run: */
  const struct tqt_value **inputs; /* n_inputs entries; NULL where the input is omitted */
  size_t n_inputs;
  struct tqt_value **outputs; /* n_outputs entries; NULL where the output is omitted */
  size_t n_outputs;
  /* Set by init when run honours `clamp`: a Relu or constant Clip that alone reads this node's
   * output is then folded into it at plan time, and run clamps every float output value to
   * [clamp_min, clamp_max]. */
  bool accepts_clamp;
  bool clamp;
  float clamp_min, clamp_max;
  /* Subgraphs of GRAPH attributes, in attribute order (If: then/else; Loop/Scan: body). */
  struct interp_graph **subgraphs;
  size_t n_subgraphs;
  struct interp_frame *frame; /* the frame the node runs in (parent of subgraph frames) */
};

/* Fails with "node 'NAME' (OP): message". Returns the status. */
enum tqt_status tqt_kernel_fail(struct tqt_kernel_ctx *k, enum tqt_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Input i as a tensor; NULL when omitted or past the end. A non-tensor input fails the node. */
const struct tqt_rt_tensor *tqt_kernel_input(struct tqt_kernel_ctx *k, size_t i);
/* Like tqt_kernel_input, but failing (message names the input) when it is absent. */
const struct tqt_rt_tensor *tqt_kernel_input_required(struct tqt_kernel_ctx *k, size_t i);
/* Output i as a tensor of this type and shape, its buffer reused where possible (contents
 * undefined). NULL (and a diagnostic) on failure; also NULL without failing when the node
 * omits that output: check with tqt_kernel_has_output(). */
struct tqt_rt_tensor *tqt_kernel_output(struct tqt_kernel_ctx *k, size_t i, int32_t dtype,
                                        size_t rank, const int64_t *dims);
bool tqt_kernel_has_output(const struct tqt_kernel_ctx *k, size_t i);
/* A STRING output filled by copying struct tqt_bytes from an input shares the input's strings;
 * this gives every element its own copy (an output owns its strings). No-op for other types. */
enum tqt_status tqt_kernel_strings_own(struct tqt_kernel_ctx *k, struct tqt_rt_tensor *t);
/* Output i as a sequence of n tensors (each filled by the caller with tqt_value helpers). */
struct tqt_value *tqt_kernel_output_value(struct tqt_kernel_ctx *k, size_t i);

/* Runs subgraph `which` with these values bound to its inputs (n may be less than the graph's
 * input count only for Loop-like optional inputs). Its outputs are then read with
 * tqt_kernel_subgraph_output(). */
enum tqt_status tqt_kernel_subgraph_run(struct tqt_kernel_ctx *k, size_t which,
                                        const struct tqt_value *const *inputs, size_t n);
size_t tqt_kernel_subgraph_output_count(const struct tqt_kernel_ctx *k, size_t which);
size_t tqt_kernel_subgraph_input_count(const struct tqt_kernel_ctx *k, size_t which);
const struct tqt_value *tqt_kernel_subgraph_output(struct tqt_kernel_ctx *k, size_t which,
                                                   size_t i);

/* Applies k's fused clamp (if any) to n floats. */
void tqt_kernel_clamp_f32(const struct tqt_kernel_ctx *k, float *y, size_t n);

/* ---- shapes ---- */
/* Multidirectional (numpy) broadcast of two shapes; fails the node when incompatible. */
enum tqt_status tqt_broadcast_shape(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *a,
                                    const struct tqt_rt_tensor *b, size_t *rank, int64_t *dims);
/* Element strides of t when broadcast to (rank, dims): 0 along broadcast axes. */
void tqt_broadcast_strides(const struct tqt_rt_tensor *t, size_t rank, const int64_t *dims,
                           int64_t *strides);
/* Normalizes a possibly negative axis against rank; fails the node when out of range. */
enum tqt_status tqt_kernel_axis(struct tqt_kernel_ctx *k, int64_t axis, size_t rank,
                                size_t *out);
/* Reads a 1-D int64/int32 tensor of at most max values into out; fails otherwise. */
enum tqt_status tqt_kernel_read_ints(struct tqt_kernel_ctx *k, const struct tqt_rt_tensor *t,
                                     int64_t *out, size_t max, size_t *count);

#endif
