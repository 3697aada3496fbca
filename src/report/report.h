/* The HTML report (`--report FILE.html`): one self-contained file made from the statistics
 * (stats.h) — no network, inline CSS and SVG, one small inline script that sorts the layer table.
 *
 *   summary   model, bits, methods, samples, sizes, output SQNR; what stayed in float and why
 *   warnings  accumulator overflow risk, high clipped fraction, low SQNR, uncalibrated tensors
 *   layers    one row per quantized node: op, output, bits, exponent, accumulator, clipped
 *             fraction, SQNR and cosine of its output (sortable; click a header)
 *   tensors   per activation and weight a histogram of |x| (≤ 128 bars, log counts) with the
 *             threshold, the chosen exponent 2^e and the clipped range marked
 *
 * Cards below the first screen are laid out lazily (CSS content-visibility), so a model with
 * hundreds of tensors opens at once. */
#ifndef TQT_REPORT_REPORT_H
#define TQT_REPORT_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "diag.h"

/* Most bars a histogram is drawn with. */
#define TQT_REPORT_BARS 128

/* Writes the report of stats to path (atomically). */
enum tqt_status tqt_report_write(const json_t *stats, const char *path, struct tqt_diag *d);
/* The same to an open stream (for tests); false when a write failed. */
bool tqt_report_print(const json_t *stats, FILE *fp);

#endif
