/* Retraining of the quantization thresholds (TQT, Jain et al., arXiv 1903.08066): the log2 t of
 * every quantizer of a plan is trained by Adam on the loss between the float model's outputs (the
 * teacher) and the quantized model's, with the paper's straight-through gradients.
 *
 * The forward pass is the interpreter's, on the Q/DQ model built from the plan, with an observer
 * that records every value of one sample; the backward pass walks the nodes in reverse with the
 * gradients below. QuantizeLinear (→ Clip) → DequantizeLinear chains are the fake-quant points. */
#ifndef TQT_TRAIN_H
#define TQT_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "interp.h"
#include "ir.h"
#include "quant.h"

enum tqt_train_loss {
  TQT_TRAIN_LOSS_MSE, /* mean squared error between float and quantized outputs */
  TQT_TRAIN_LOSS_KL,  /* KL(teacher || student) of the softmax of the outputs */
};

struct tqt_train_options {
  int epochs;         /* default 5 */
  double lr;          /* Adam learning rate on log2 t, default 1e-2 */
  size_t batch;       /* samples per step, default 16 */
  uint64_t seed;      /* sample order */
  enum tqt_train_loss loss;
  size_t max_samples; /* 0: all */
  int threads;
  /* The fraction of the samples held out (spread over them) on which the best epoch, or the
   * static thresholds, are chosen; 0: chosen on the training samples. */
  double val_split;
};

#define TQT_TRAIN_VAL_SPLIT_DEFAULT 0.1

/* Trains the thresholds of p (after tqt_quant_plan_finish, the search, bias correction: from
 * exactly the exponents p holds) on the samples of specs but the held-out ones. m is the float
 * model p was built on (after the passes); it is not changed. On return the exponents of p are
 * those of the epoch with the lowest loss on the held-out samples, or p's own when none is lower
 * (tqt_quant_insert then writes them). */
enum tqt_status tqt_train_thresholds(struct tqt_quant_plan *p, const struct tqt_model *m,
                                     const char *const *specs, size_t n_specs,
                                     const struct tqt_train_options *o, struct tqt_diag *d);

/* ---- the pieces, exposed for the unit tests ---- */

/* Accumulates (+=) into gx[k] the gradient of the loss with respect to input k of node n, given
 * gy[j], the gradient with respect to output j (NULL: zero). x[k] and y[j] are the values of the
 * forward pass (NULL where omitted); gx[k] NULL means not wanted. Float tensors only.
 * Returns 0, 1 when the op has no backward (nothing written), -1 on an error (d filled). */
int tqt_train_backward(const struct tqt_node *n, const struct tqt_rt_tensor *const *x, size_t nx,
                       const struct tqt_rt_tensor *const *y, size_t ny, const float *const *gy,
                       float *const *gx, struct tqt_diag *d);
/* True when tqt_train_backward knows op_type (default domain). */
bool tqt_train_has_backward(const char *op_type);

/* The paper's gradients of q(x) = clamp(round(x/s), lo, hi)·s for count values: gx += gy inside
 * [lo, hi] (gx may be NULL), and the return value is Σ gy·∂q/∂log2t. */
double tqt_train_fake_quant_grad(const float *x, const float *gy, float *gx, size_t count,
                                 double s, double lo, double hi);

/* Output SQNR in dB of b against the reference a: 10 log10(Σa² / Σ(a−b)²). */
double tqt_train_sqnr(const float *a, const float *b, size_t count);

#endif
