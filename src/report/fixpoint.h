/* Fixed-point export (`--export-fixpoint FILE.json`): what an integer-only implementation of the
 * quantized model needs, in the "Q format" of shift-only hardware.
 *
 * Every quantized tensor holds integers q with real value q · 2^-fp: fp (its fixed-point
 * position, the number of fractional bits) is −log2 of its scale, so fp = b − 1 − ceil(log2 t)
 * for a signed tensor of b bits and threshold t, and fp = b − ceil(log2 t) for an unsigned one.
 * For each Conv, ConvTranspose, Gemm and MatMul with a quantized weight:
 *   acc  = Σ q_in · q_w (+ q_b << bias_shift)            in an integer accumulator
 *   q_out = clamp(round_half_even(acc / 2^output_shift), output_range)
 * with output_shift = fp_in + fp_w − fp_out (a negative shift is a left shift) and
 * bias_shift = fp_in + fp_w − fp_b (0 for onnx-tqt's biases, stored at s_in · s_w). When the
 * layer's output goes through a Relu or Clip before it is quantized (no Q/DQ between them),
 * "activation" names it: clamp to [0, ...] or to [round(clip_min · 2^fp_out),
 * round(clip_max · 2^fp_out)] after the shift. Per-channel weights give per-channel fp_w,
 * output_shift and bias fp (arrays). accumulator_bits is the worst case wbits + abits +
 * ceil(log2 K); accumulator_bits_from_weights the bound the actual integer weights give:
 * max over output channels of Σ|q_w| · max|q_in| + |q_b|, plus a sign bit.
 *
 * The file: {format "onnx-tqt-fixpoint", version 1, convention, tensors [{name, kind, bits,
 * signed, container, exponent, fp, channel_fp, integer_initializer}], layers [{node, op_type,
 * input, weight, bias, output, activation, clip_min, clip_max, fp_in, fp_w, fp_b, fp_out,
 * output_shift, bias_shift, output_range, k, accumulator_bits, accumulator_bits_from_weights}]}.
 * integer_initializer names the int8/int32 initializer of a weight or bias in the quantized model. */
#ifndef TQT_REPORT_FIXPOINT_H
#define TQT_REPORT_FIXPOINT_H

#include <jansson.h>

#include "diag.h"
#include "ir.h"
#include "quant.h"

#define TQT_FIXPOINT_FORMAT "onnx-tqt-fixpoint"
#define TQT_FIXPOINT_VERSION 1

/* plan: finished; float_model: the model the plan was built on, without Q/DQ (a snapshot taken
 * before tqt_quant_insert); quant_model: the quantized model for the integer initializers' names
 * (may be NULL). */
enum tqt_status tqt_fixpoint_build(const struct tqt_quant_plan *p,
                                   const struct tqt_model *float_model,
                                   const struct tqt_model *quant_model, json_t **out,
                                   struct tqt_diag *d);

#endif
