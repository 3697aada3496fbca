/* The HTML report (report.h). */
#include "report.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "file_io.h"
#include "ir_names.h"
#include "stats.h"

/* Escaped text. */
static void html(FILE *fp, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", fp); break;
    case '<': fputs("&lt;", fp); break;
    case '>': fputs("&gt;", fp); break;
    case '"': fputs("&quot;", fp); break;
    case '\'': fputs("&#39;", fp); break;
    default: fputc(*s, fp);
    }
  }
}

/* A number for reading: %.4g, or a dash when unknown. */
static void num(FILE *fp, double v) {
  if (isnan(v)) fputs("&ndash;", fp);
  else if (isinf(v)) fputs(v > 0 ? "&infin;" : "&minus;&infin;", fp);
  else fprintf(fp, "%.4g", v);
}

static void percent(FILE *fp, double v) {
  if (isnan(v)) fputs("&ndash;", fp);
  else if (v == 0) fputs("0", fp);
  else if (v < 1e-4) fputs("&lt;0.01 %", fp);
  else fprintf(fp, "%.2f %%", 100 * v);
}

/* SQNR in dB: a number, "exact" (∞), or a dash. */
static double sqnr_of(const json_t *obj) {
  if (json_is_true(json_object_get(obj, "exact"))) return INFINITY;
  return tqt_json_num(obj, "sqnr_db");
}

static const char *sqnr_class(double v) {
  if (isnan(v)) return "na";
  if (v < TQT_STATS_LOW_SQNR_DB) return "bad";
  if (v < 30) return "fair";
  return "good";
}

static void bytes(FILE *fp, double b) {
  if (isnan(b)) fputs("&ndash;", fp);
  else if (b >= 1048576) fprintf(fp, "%.2f MiB", b / 1048576);
  else if (b >= 1024) fprintf(fp, "%.1f KiB", b / 1024);
  else fprintf(fp, "%.0f B", b);
}

static const char report_css[] =
    "*{box-sizing:border-box}"
    "body{margin:0;font:14px/1.45 'DejaVu Sans','Liberation Sans',Arial,sans-serif;color:#1d2330;"
    "background:#f4f6f9}"
    "main{max-width:1360px;margin:0 auto;padding:16px 20px 40px}"
    "h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:2px solid "
    "#d5dbe5;padding-bottom:4px}h3{font-size:13px;margin:0 0 4px;overflow-wrap:anywhere}"
    ".sub{color:#5a6375;overflow-wrap:anywhere}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px;"
    "margin-top:14px}"
    ".card{background:#fff;border:1px solid #d5dbe5;border-radius:6px;padding:10px 12px;min-width:0}"
    ".card .k{color:#5a6375;font-size:12px}.card .v{font-size:18px;font-weight:600;"
    "overflow-wrap:anywhere}.card .s{color:#5a6375;font-size:12px;overflow-wrap:anywhere}"
    "table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}"
    "th,td{border-bottom:1px solid #e3e7ee;padding:4px 8px;text-align:left;vertical-align:top}"
    "td.n,th.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.name{overflow-wrap:anywhere;max-width:320px}"
    "thead th{position:sticky;top:0;background:#e9edf3;cursor:pointer;user-select:none;"
    "white-space:nowrap;z-index:1}"
    "th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}"
    ".scroll{max-height:560px;overflow:auto;border:1px solid #d5dbe5;border-radius:6px}"
    ".good{color:#17703a}.fair{color:#9a6100}.bad{color:#b3261e;font-weight:600}.na{color:#8a93a3}"
    ".bar{display:inline-block;height:8px;border-radius:2px;margin-right:6px;vertical-align:middle}"
    ".bar.good{background:#3aa55d}.bar.fair{background:#e0a030}.bar.bad{background:#d9463b}"
    ".warn{background:#fff;border:1px solid #e8c9a0;border-left:4px solid #e0a030;border-radius:6px;"
    "padding:8px 12px;margin:6px 0}.warn.bad{border-color:#e6b1ac;border-left-color:#d9463b;"
    "font-weight:400}.warn ul{margin:4px 0 0;padding-left:20px}.warn li{overflow-wrap:anywhere}"
    ".ok{color:#17703a}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:10px}"
    ".tensor{content-visibility:auto;contain-intrinsic-size:auto 300px}"
    ".tensor .meta{color:#5a6375;font-size:12px;margin-bottom:4px;overflow-wrap:anywhere}"
    ".tensor svg{width:100%;height:auto;display:block;background:#fbfcfd;border:1px solid #e3e7ee}"
    ".legend{font-size:12px;margin-top:4px;display:flex;flex-wrap:wrap;gap:2px 14px}"
    ".sw{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}"
    ".sw.t{border-top:2px dashed #e07b00;height:0}.sw.e{background:#b3261e}"
    ".sw.c{background:#f6d3d0;height:10px}.sw.h{background:#4a78c2;height:10px}"
    "details summary{cursor:pointer;color:#33518c}"
    "code{font:12px 'DejaVu Sans Mono',monospace;background:#eef1f6;padding:0 3px;border-radius:3px}";

/* Sorts the layer table by the clicked column (numbers by data-v; empty cells last). */
static const char report_js[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "var hs=t.tHead.rows[0].cells;"
    "Array.prototype.forEach.call(hs,function(th,i){th.addEventListener('click',function(){"
    "var asc=th.getAttribute('data-dir')!=='asc',isnum=th.classList.contains('n');"
    "Array.prototype.forEach.call(hs,function(h){h.removeAttribute('data-dir');});"
    "th.setAttribute('data-dir',asc?'asc':'desc');"
    "var tb=t.tBodies[0],rows=Array.prototype.slice.call(tb.rows);"
    "function key(r){var c=r.cells[i],v=c.getAttribute('data-v');return v===null?c.textContent:v;}"
    "rows.sort(function(a,b){var x=key(a),y=key(b);"
    "if(isnum){x=x===''?NaN:+x;y=y===''?NaN:+y;if(isNaN(x))return isNaN(y)?0:1;if(isNaN(y))return -1;"
    "return asc?x-y:y-x;}return asc?x.localeCompare(y):y.localeCompare(x);});"
    "var f=document.createDocumentFragment();rows.forEach(function(r){f.appendChild(r);});"
    "tb.appendChild(f);});});});";

static void card(FILE *fp, const char *key, const char *value_html, const char *sub_html) {
  fprintf(fp, "<div class=\"card\"><div class=\"k\">%s</div><div class=\"v\">%s</div>", key,
          value_html);
  if (sub_html && *sub_html) fprintf(fp, "<div class=\"s\">%s</div>", sub_html);
  fputs("</div>\n", fp);
}

static void summary(FILE *fp, const json_t *s) {
  const json_t *model = json_object_get(s, "model"), *set = json_object_get(s, "settings");
  const json_t *sum = json_object_get(s, "summary");
  fputs("<header><h1>onnx-tqt quantization report</h1><div class=\"sub\">", fp);
  html(fp, tqt_json_str(model, "path"));
  if (*tqt_json_str(model, "producer")) {
    fputs(" &middot; producer ", fp);
    html(fp, tqt_json_str(model, "producer"));
  }
  fprintf(fp, " &middot; opset %lld &middot; %lld nodes after the passes &middot; fingerprint ",
          tqt_json_int(model, "opset", 0), tqt_json_int(model, "nodes", 0));
  html(fp, tqt_json_str(model, "fingerprint"));
  fputs("</div></header>\n<section class=\"cards\">\n", fp);
  char v[512], sub[1024];
  snprintf(v, sizeof v, "%lld", tqt_json_int(sum, "quantized_nodes", 0));
  snprintf(sub, sizeof sub, "%lld excluded, %lld kept in float", tqt_json_int(sum, "excluded_nodes", 0),
           tqt_json_int(sum, "float_nodes", 0));
  card(fp, "nodes quantized", v, sub);
  snprintf(v, sizeof v, "%lld", tqt_json_int(sum, "tensors", 0));
  card(fp, "tensors with power-of-two scales", v, "activations, weights and biases");
  snprintf(v, sizeof v, "w%lld a%lld b%lld", tqt_json_int(set, "wbits", 8),
           tqt_json_int(set, "abits", 8), tqt_json_int(set, "bbits", 32));
  snprintf(sub, sizeof sub, "%s, accumulator %lld bits",
           json_is_true(json_object_get(set, "per_channel")) ? "weights per channel"
                                                             : "weights per tensor",
           tqt_json_int(set, "accumulator_bits", 32));
  card(fp, "bits", v, sub);
  FILE *mem;
  char *buf = NULL;
  size_t len = 0;
  const json_t *choice = json_object_get(sum, "method_choice");
  if ((mem = open_memstream(&buf, &len))) {
    html(mem, tqt_json_str(set, "act_method"));
    if (choice) { /* auto: what the measurement chose, and why */
      fputs(" &rarr; ", mem);
      html(mem, tqt_json_str(choice, "chosen"));
      if (json_object_get(choice, "percentile")) fprintf(mem, " %g", tqt_json_num(choice, "percentile"));
    }
    fclose(mem);
  }
  int at = snprintf(sub, sizeof sub, "weights %s, graph inputs %s", tqt_json_str(set, "weight_method"),
                    tqt_json_str(set, "input_method"));
  size_t ti;
  const json_t *tried;
  json_array_foreach(json_object_get(choice, "tries"), ti, tried) {
    char pct[32] = "";
    if (json_object_get(tried, "percentile"))
      snprintf(pct, sizeof pct, " %g", tqt_json_num(tried, "percentile"));
    if (at >= 0 && (size_t)at < sizeof sub)
      at += snprintf(sub + at, sizeof sub - (size_t)at, "%s %s%s %.2f dB", ti ? "," : "; output SQNR",
                     tqt_json_str(tried, "method"), pct, tqt_json_num(tried, "output_sqnr_db"));
  }
  card(fp, "activation threshold method", buf ? buf : "", sub);
  free(buf);
  const json_t *search = json_object_get(sum, "search");
  if (search) {
    snprintf(v, sizeof v, "%lld of %lld moved", tqt_json_int(search, "moved", 0),
             tqt_json_int(search, "groups", 0));
    snprintf(sub, sizeof sub, "scale groups; output SQNR %.2f &rarr; %.2f dB on %lld samples",
             tqt_json_num(search, "output_sqnr_before_db"), tqt_json_num(search, "output_sqnr_after_db"),
             tqt_json_int(set, "search_samples", 0));
    card(fp, "exponent search", v, sub);
  }
  const json_t *eq = json_object_get(sum, "equalization");
  if (eq) {
    snprintf(v, sizeof v, "%lld of %lld channels", tqt_json_int(eq, "scaled_channels", 0),
             tqt_json_int(eq, "channels", 0));
    snprintf(sub, sizeof sub, "scaled up by powers of two, in %lld producers' outputs",
             tqt_json_int(eq, "producer_groups", 0));
    card(fp, "channel equalization", v, sub);
  }
  const json_t *bias = json_object_get(sum, "bias_correction");
  if (bias) {
    snprintf(v, sizeof v, "%lld of %lld layers", tqt_json_int(bias, "corrected_layers", 0),
             tqt_json_int(bias, "layers", 0));
    snprintf(sub, sizeof sub, "%lld channels shifted; output SQNR %.2f &rarr; %.2f dB",
             tqt_json_int(bias, "channels", 0), tqt_json_num(bias, "output_sqnr_before_db"),
             tqt_json_num(bias, "output_sqnr_after_db"));
    card(fp, "bias correction", v, sub);
  }
  snprintf(v, sizeof v, "%lld", tqt_json_int(s, "samples", 0));
  long long sq = tqt_json_int(s, "sqnr_samples", 0);
  if (sq) snprintf(sub, sizeof sub, "SQNR measured on %lld samples", sq);
  else snprintf(sub, sizeof sub, "SQNR not measured (no samples in this run)");
  card(fp, "calibration samples", v, sub);
  double fb = tqt_json_num(sum, "size_float_bytes"), qb = tqt_json_num(sum, "size_quantized_bytes");
  buf = NULL;
  if ((mem = open_memstream(&buf, &len))) {
    bytes(mem, fb);
    fputs(" &rarr; ", mem);
    bytes(mem, qb);
    fclose(mem);
  }
  snprintf(sub, sizeof sub, "initializers; %.2fx smaller", qb > 0 ? fb / qb : NAN);
  card(fp, "size float &rarr; quantized", buf ? buf : "", qb > 0 ? sub : "");
  free(buf);
  size_t i;
  const json_t *o;
  json_array_foreach(json_object_get(s, "outputs"), i, o) {
    double sqnr = sqnr_of(o), top1 = tqt_json_num(o, "top1_agreement");
    buf = NULL;
    if ((mem = open_memstream(&buf, &len))) {
      fprintf(mem, "<span class=\"%s\">", sqnr_class(sqnr));
      num(mem, sqnr);
      fputs(" dB</span>", mem);
      fclose(mem);
    }
    char *sb = NULL;
    if ((mem = open_memstream(&sb, &len))) {
      fputs("cosine ", mem);
      if (isnan(tqt_json_num(o, "cosine"))) fputs("&ndash;", mem);
      else fprintf(mem, "%.6f", tqt_json_num(o, "cosine"));
      if (!isnan(top1)) fprintf(mem, ", top-1 agreement %.2f %%", 100 * top1);
      fclose(mem);
    }
    char *key = NULL;
    if ((mem = open_memstream(&key, &len))) {
      fputs("output ", mem);
      html(mem, tqt_json_str(o, "name"));
      fclose(mem);
    }
    card(fp, key ? key : "output", buf ? buf : "", sb ? sb : "");
    free(buf);
    free(sb);
    free(key);
  }
  fputs("</section>\n", fp);
}

static void warnings(FILE *fp, const json_t *s) {
  static const struct {
    const char *kind, *title, *cls;
  } groups[] = {
      {"accumulator", "Accumulator overflow risk", "bad"},
      {"low_sqnr", "Layers with low SQNR", "bad"},
      {"clipping", "High clipped fraction", ""},
      {"bias_clipped", "Biases that do not fit their bits", "bad"},
      {"uncalibrated", "Tensors never computed during calibration", ""},
  };
  const json_t *ws = json_object_get(s, "warnings");
  fprintf(fp, "<h2 id=\"warnings\">Warnings (%zu)</h2>\n", json_array_size(ws));
  if (!json_array_size(ws)) fputs("<p class=\"ok\">No warnings.</p>\n", fp);
  for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
    size_t count = 0, i;
    const json_t *w;
    json_array_foreach(ws, i, w) count += !strcmp(tqt_json_str(w, "kind"), groups[g].kind);
    if (!count) continue;
    fprintf(fp, "<div class=\"warn %s\"><b>%s</b> (%zu)", groups[g].cls, groups[g].title, count);
    size_t shown = 0;
    fputs("<ul>", fp);
    json_array_foreach(ws, i, w) {
      if (strcmp(tqt_json_str(w, "kind"), groups[g].kind)) continue;
      if (shown == 10) fprintf(fp, "</ul><details><summary>%zu more</summary><ul>", count - 10);
      fputs("<li>", fp);
      html(fp, tqt_json_str(w, "message"));
      fputs("</li>", fp);
      shown++;
    }
    fputs(shown > 10 ? "</ul></details></div>\n" : "</ul></div>\n", fp);
  }
}

static void excluded(FILE *fp, const json_t *s) {
  const json_t *sum = json_object_get(s, "summary");
  const json_t *ex = json_object_get(sum, "excluded");
  fputs("<h2 id=\"float\">What was quantized, excluded, kept in float</h2>\n", fp);
  fputs("<div class=\"grid\" style=\"grid-template-columns:minmax(0,1fr) minmax(0,1fr)\">"
        "<div><table><thead><tr><th>op type</th><th class=\"n\">quantized</th>"
        "<th class=\"n\">excluded</th><th class=\"n\">float</th></tr></thead><tbody>\n", fp);
  const char *op;
  const json_t *c;
  json_object_foreach((json_t *)json_object_get(sum, "by_op_type"), op, c) {
    fputs("<tr><td>", fp);
    html(fp, op);
    fprintf(fp, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td></tr>\n",
            tqt_json_int(c, "quantized", 0), tqt_json_int(c, "excluded", 0),
            tqt_json_int(c, "float", 0));
  }
  fputs("</tbody></table><p class=\"sub\">float: ops onnx-tqt does not quantize (they run in float "
        "between DequantizeLinear and QuantizeLinear), reshaping ops whose input is float, and "
        "nodes with non-float outputs.</p></div><div>", fp);
  if (!json_array_size(ex)) {
    fputs("<p>No node was excluded by <code>--exclude-op-types</code> or "
          "<code>--exclude-nodes</code>.</p>", fp);
  } else {
    fputs("<table><thead><tr><th>excluded node</th><th>op</th><th>why</th></tr></thead><tbody>\n", fp);
    size_t i;
    const json_t *e;
    json_array_foreach(ex, i, e) {
      fputs("<tr><td class=\"name\">", fp);
      html(fp, tqt_json_str(e, "node"));
      fputs("</td><td>", fp);
      html(fp, tqt_json_str(e, "op_type"));
      fputs("</td><td><code>", fp);
      html(fp, tqt_json_str(e, "reason"));
      fputs("</code></td></tr>\n", fp);
    }
    fputs("</tbody></table>", fp);
  }
  fputs("</div></div>\n", fp);
}

/* Tensor name → position in the tensor list + 1 (for links from the layer table). */
static long report_find(const struct tqt_name_map *ix, const char *name) {
  void *v;
  return tqt_name_map_get(ix, name, &v) ? (long)(uintptr_t)v - 1 : -1;
}

static void layers(FILE *fp, const json_t *s, const struct tqt_name_map *ix) {
  const json_t *nodes = json_object_get(s, "nodes"), *tensors = json_object_get(s, "tensors");
  fprintf(fp, "<h2 id=\"layers\">Quantized layers (%zu)</h2>\n", json_array_size(nodes));
  fputs("<p class=\"sub\">SQNR and cosine compare each node's output in the quantized model with "
        "the float model on the calibration samples. Click a column to sort.</p>\n", fp);
  fputs("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th class=\"n\">#</th>"
        "<th>node</th><th>op</th><th>output</th><th class=\"n\">bits</th><th class=\"n\">exponent</th>"
        "<th class=\"n\">accumulator</th><th class=\"n\">clipped</th><th class=\"n\">SQNR dB</th>"
        "<th class=\"n\">cosine</th></tr></thead><tbody>\n", fp);
  size_t i;
  const json_t *n;
  json_array_foreach(nodes, i, n) {
    const char *qout = tqt_json_str(n, "quantized_output");
    long ti = report_find(ix, qout);
    const json_t *t = ti >= 0 ? json_array_get(tensors, (size_t)ti) : NULL;
    double sqnr = sqnr_of(n), cosine = tqt_json_num(n, "cosine");
    double clipped = t ? tqt_json_num(t, "clipped_fraction") : NAN;
    fprintf(fp, "<tr><td class=\"n\">%zu</td><td class=\"name\">", i + 1);
    html(fp, *tqt_json_str(n, "name") ? tqt_json_str(n, "name") : "(unnamed)");
    fputs("</td><td>", fp);
    html(fp, tqt_json_str(n, "op_type"));
    fputs("</td><td class=\"name\">", fp);
    if (ti >= 0) fprintf(fp, "<a href=\"#t%ld\">", ti);
    html(fp, *qout ? qout : tqt_json_str(n, "output"));
    if (ti >= 0) fputs("</a>", fp);
    if (*tqt_json_str(n, "fused_with")) {
      fputs(" <span class=\"sub\">(through the fused ", fp);
      html(fp, tqt_json_str(n, "fused_with"));
      fputs(")</span>", fp);
    }
    fputs("</td>", fp);
    if (t) {
      fprintf(fp, "<td class=\"n\">%s%lld</td><td class=\"n\">%lld</td>",
              json_is_true(json_object_get(t, "signed")) ? "int" : "uint",
              tqt_json_int(t, "bits", 0), tqt_json_int(t, "exponent", 0));
    } else {
      fputs("<td class=\"n\"></td><td class=\"n\"></td>", fp);
    }
    const json_t *acc = json_object_get(n, "accumulator");
    if (acc) {
      long long need = tqt_json_int(acc, "needed", 0), avail = tqt_json_int(acc, "available", 0);
      fprintf(fp, "<td class=\"n%s\" data-v=\"%lld\">%lld / %lld</td>", need > avail ? " bad" : "",
              need, need, avail);
    } else {
      fputs("<td class=\"n\" data-v=\"\"></td>", fp);
    }
    if (isnan(clipped)) fputs("<td class=\"n\" data-v=\"\"></td>", fp);
    else {
      fprintf(fp, "<td class=\"n%s\" data-v=\"%.6g\">", clipped > TQT_STATS_HIGH_CLIPPED ? " fair" : "",
              clipped);
      percent(fp, clipped);
      fputs("</td>", fp);
    }
    if (isnan(sqnr)) {
      fputs("<td class=\"n na\" data-v=\"\">&ndash;</td>", fp);
    } else {
      double shown = isinf(sqnr) ? 1e9 : sqnr, w = isinf(sqnr) ? 60 : fmax(2, fmin(60, sqnr));
      fprintf(fp, "<td class=\"n %s\" data-v=\"%.6g\"><span class=\"bar %s\" style=\"width:%.0fpx\">"
                  "</span>", sqnr_class(sqnr), shown, sqnr_class(sqnr), w);
      if (isinf(sqnr)) fputs("exact", fp);
      else fprintf(fp, "%.1f", sqnr);
      fputs("</td>", fp);
    }
    if (isnan(cosine)) fputs("<td class=\"n\" data-v=\"\">&ndash;</td>", fp);
    else fprintf(fp, "<td class=\"n\" data-v=\"%.9g\">%.5f</td>", cosine, cosine);
    fputs("</tr>\n", fp);
  }
  fputs("</tbody></table></div>\n", fp);
}

/* The histogram of |x| as an SVG: bars (exact zeros left out), the clipped range shaded, the
 * threshold dashed, 2^e solid. */
#define SVG_W 560.0
#define SVG_H 170.0
#define PLOT_L 8.0
#define PLOT_R 552.0
#define PLOT_T 18.0
#define PLOT_B 146.0

static void histogram_svg(FILE *fp, const json_t *t, const struct tqt_histogram *h) {
  double threshold = tqt_json_num(t, "threshold"), clip = tqt_json_num(t, "clip_hi");
  long long e = tqt_json_int(t, "exponent", LLONG_MIN);
  double pow_e = e != LLONG_MIN ? ldexp(1.0, (int)e) : NAN;
  double peak = fmax(fabs(h->min), fabs(h->max));
  double xmax = peak;
  if (pow_e > xmax) xmax = pow_e;
  if (threshold > xmax) xmax = threshold;
  xmax *= 1.04;
  fprintf(fp, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"histogram of |x|\">",
          SVG_W, SVG_H);
  if (!(xmax > 0) || !h->has_range) {
    fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"13\" text-anchor=\"middle\" "
                "fill=\"#5a6375\">%s</text></svg>", SVG_W / 2, SVG_H / 2,
            h->count ? "all values are zero" : "no values seen");
    return;
  }
  double bars[TQT_REPORT_BARS] = {0};
  double bw = xmax / TQT_REPORT_BARS, w = tqt_histogram_bin_width(h), top = 0;
  for (size_t i = 0; i < TQT_HIST_BINS; i++) {
    double c = (double)h->bins[i] - (i == 0 ? (double)h->zeros : 0);
    if (c <= 0) continue;
    size_t b = (size_t)(((double)i + 0.5) * w / bw);
    bars[b < TQT_REPORT_BARS ? b : TQT_REPORT_BARS - 1] += c;
  }
  for (size_t b = 0; b < TQT_REPORT_BARS; b++) top = fmax(top, bars[b]);
  double sx = (PLOT_R - PLOT_L) / xmax, ly = top > 0 ? log10(1 + top) : 1;
  if (clip > 0 && clip < xmax)
    fprintf(fp, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"#f6d3d0\"/>",
            PLOT_L + clip * sx, PLOT_T, PLOT_R - (PLOT_L + clip * sx), PLOT_B - PLOT_T);
  /* One step path for all bars: small to write, quick to draw. */
  fprintf(fp, "<path fill=\"#4a78c2\" d=\"M%.1f %.0f", PLOT_L, PLOT_B);
  double bpx = (PLOT_R - PLOT_L) / TQT_REPORT_BARS;
  for (size_t b = 0; b < TQT_REPORT_BARS; b++) {
    double y = PLOT_B - (bars[b] > 0 ? fmax(1, (PLOT_B - PLOT_T) * log10(1 + bars[b]) / ly) : 0);
    fprintf(fp, "V%.1fH%.1f", y, PLOT_L + (double)(b + 1) * bpx);
  }
  fprintf(fp, "V%.0fZ\"/>", PLOT_B);
  fprintf(fp, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#8a93a3\"/>", PLOT_L,
          PLOT_B, PLOT_R, PLOT_B);
  if (pow_e > 0)
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#b3261e\" "
                "stroke-width=\"2\"/>", PLOT_L + pow_e * sx, PLOT_T - 6, PLOT_L + pow_e * sx, PLOT_B);
  if (threshold > 0)
    fprintf(fp, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#e07b00\" "
                "stroke-width=\"2\" stroke-dasharray=\"5 3\"/>", PLOT_L + threshold * sx, PLOT_T - 6,
            PLOT_L + threshold * sx, PLOT_B);
  fprintf(fp, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#5a6375\">0</text>"
              "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#5a6375\" text-anchor=\"middle\">"
              "%.3g</text><text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" fill=\"#5a6375\" "
              "text-anchor=\"end\">%.3g</text>", PLOT_L, PLOT_B + 16, (PLOT_L + PLOT_R) / 2,
          PLOT_B + 16, xmax / 2, PLOT_R, PLOT_B + 16, xmax);
  fprintf(fp, "<text x=\"%.0f\" y=\"11\" font-size=\"10\" fill=\"#8a93a3\">|x|, log count "
              "(max %.0f per bar)</text></svg>", PLOT_L, top);
}

/* The exponent search's tries for a scale group: each exponent with the output SQNR it gave. */
static void search_tries(FILE *fp, const json_t *search) {
  if (!search) return;
  fprintf(fp, "<span>search from e = %lld, output SQNR by e:", tqt_json_int(search, "start", 0));
  size_t i;
  const json_t *k;
  json_array_foreach(json_object_get(search, "tries"), i, k) {
    fprintf(fp, "%s %lld%s &rarr; ", i ? "," : "", tqt_json_int(k, "exponent", 0),
            json_is_true(json_object_get(k, "uniform")) ? " (all channels)" : "");
    num(fp, tqt_json_num(k, "output_sqnr_db"));
    fputs(" dB", fp);
  }
  fputs("</span>", fp);
}

static void tensor_card(FILE *fp, const json_t *t, size_t index) {
  const char *kind = tqt_json_str(t, "kind");
  bool is_signed = json_is_true(json_object_get(t, "signed"));
  fprintf(fp, "<div class=\"card tensor\" id=\"t%zu\"><h3>", index);
  html(fp, tqt_json_str(t, "name"));
  fputs("</h3><div class=\"meta\">", fp);
  html(fp, kind);
  fprintf(fp, " &middot; %s%lld", is_signed ? "int" : "uint", tqt_json_int(t, "bits", 0));
  double scale = tqt_json_num(t, "scale");
  if (!isnan(scale)) fprintf(fp, " &middot; scale 2<sup>%d</sup> (fp %lld)", ilogb(scale),
                             tqt_json_int(t, "fp", 0));
  fputs(" &middot; method ", fp);
  html(fp, tqt_json_str(t, "method"));
  double sqnr = sqnr_of(t);
  if (!isnan(sqnr)) {
    fprintf(fp, " &middot; SQNR <span class=\"%s\">", sqnr_class(sqnr));
    num(fp, sqnr);
    fputs(" dB</span>", fp);
  }
  if (*tqt_json_str(t, "owner")) {
    fputs(" &middot; for ", fp);
    html(fp, tqt_json_str(t, "owner"));
    fputs(" (", fp);
    html(fp, tqt_json_str(t, "owner_op"));
    fputs(")", fp);
  }
  if (*tqt_json_str(t, "group")) {
    fputs(" &middot; scale shared with ", fp);
    html(fp, tqt_json_str(t, "group"));
  }
  fputs("<br>min ", fp);
  num(fp, tqt_json_num(t, "min"));
  fputs(", max ", fp);
  num(fp, tqt_json_num(t, "max"));
  fputs(", mean ", fp);
  num(fp, tqt_json_num(t, "mean"));
  fputs(", std ", fp);
  num(fp, tqt_json_num(t, "std"));
  double count = tqt_json_num(t, "count"), zeros = tqt_json_num(t, "zeros");
  fprintf(fp, ", %.0f values", isnan(count) ? 0 : count);
  if (zeros > 0 && count > 0) fprintf(fp, " (%.1f %% exact zeros, not drawn)", 100 * zeros / count);
  fputs("</div>", fp);
  struct tqt_histogram *h = malloc(sizeof *h);
  struct tqt_diag d = {0};
  if (h && strcmp(kind, "bias") && json_object_get(t, "histogram") &&
      tqt_histogram_from_json(json_object_get(t, "histogram"), h, "report", &d) == TQT_STATUS_OK)
    histogram_svg(fp, t, h);
  free(h);
  fputs("<div class=\"legend\">", fp);
  double threshold = tqt_json_num(t, "threshold");
  if (!isnan(threshold)) {
    fputs("<span><span class=\"sw t\"></span>threshold ", fp);
    num(fp, threshold);
    fputs("</span>", fp);
  }
  long long e = tqt_json_int(t, "exponent", LLONG_MIN);
  if (e != LLONG_MIN) fprintf(fp, "<span><span class=\"sw e\"></span>2<sup>e</sup> = %.4g (e = %lld)</span>",
                              ldexp(1.0, (int)e), e);
  const json_t *ce = json_object_get(t, "channel_exponents");
  if (json_array_size(ce)) {
    long long lo = LLONG_MAX, hi = LLONG_MIN;
    size_t i;
    const json_t *v;
    json_array_foreach(ce, i, v) {
      lo = json_integer_value(v) < lo ? json_integer_value(v) : lo;
      hi = json_integer_value(v) > hi ? json_integer_value(v) : hi;
    }
    fprintf(fp, "<span>%zu channel exponents %lld &hellip; %lld</span>", json_array_size(ce), lo, hi);
  }
  search_tries(fp, json_object_get(t, "search"));
  double clo = tqt_json_num(t, "clip_lo"), chi = tqt_json_num(t, "clip_hi");
  if (!isnan(chi)) {
    fputs("<span><span class=\"sw c\"></span>range [", fp);
    num(fp, clo);
    fputs(", ", fp);
    num(fp, chi);
    fputs("], clipped ", fp);
    percent(fp, tqt_json_num(t, "clipped_fraction"));
    fputs("</span>", fp);
  } else if (!isnan(tqt_json_num(t, "clipped_fraction"))) {
    fputs("<span>clipped ", fp);
    percent(fp, tqt_json_num(t, "clipped_fraction"));
    fputs("</span>", fp);
  }
  fputs("</div></div>\n", fp);
}

/* A bias table cell: how many values bias correction moved and the largest move. */
static void bias_correction(FILE *fp, const json_t *shift) {
  size_t i, moved = 0;
  const json_t *k;
  double top = 0;
  json_array_foreach(shift, i, k) {
    double x = json_number_value(k);
    moved += x != 0;
    if (fabs(x) > fabs(top)) top = x;
  }
  fprintf(fp, "<td class=\"n\" data-v=\"%zu\">", moved);
  if (moved) {
    fprintf(fp, "%zu of %zu, largest ", moved, json_array_size(shift));
    num(fp, -top);
  } else {
    fputs("&mdash;", fp);
  }
  fputs("</td>", fp);
}

/* Biases: int32 at s_in · s_w, nothing to choose: one row each. */
static void biases(FILE *fp, const json_t *ts, size_t count) {
  fprintf(fp, "<h2 id=\"biases\">Biases (%zu)</h2>\n<p class=\"sub\">int32 at scale s_in &middot; "
              "s_w (the product of their layer's input and weight scales); corrected: the channels "
              "that bias correction moved by the mean error of their layer's quantization, and "
              "the largest move.</p>\n", count);
  fputs("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>bias</th><th>for</th>"
        "<th class=\"n\">bits</th><th class=\"n\">fp</th><th class=\"n\">min</th>"
        "<th class=\"n\">max</th><th class=\"n\">clipped</th><th class=\"n\">SQNR dB</th>"
        "<th class=\"n\">corrected</th></tr>"
        "</thead><tbody>\n", fp);
  size_t i;
  const json_t *t;
  json_array_foreach(ts, i, t) {
    if (strcmp(tqt_json_str(t, "kind"), "bias")) continue;
    fprintf(fp, "<tr id=\"t%zu\"><td class=\"name\">", i);
    html(fp, tqt_json_str(t, "name"));
    fputs("</td><td class=\"name\">", fp);
    html(fp, tqt_json_str(t, "owner"));
    const json_t *fpv = json_object_get(t, "fp");
    fprintf(fp, "</td><td class=\"n\">%lld</td>", tqt_json_int(t, "bits", 32));
    if (json_is_integer(fpv)) fprintf(fp, "<td class=\"n\">%lld</td>", (long long)json_integer_value(fpv));
    else fputs("<td class=\"n\" data-v=\"\">per channel</td>", fp);
    const char *keys[2] = {"min", "max"};
    for (int k = 0; k < 2; k++) {
      double v = tqt_json_num(t, keys[k]);
      fprintf(fp, "<td class=\"n\" data-v=\"%.9g\">", v);
      num(fp, v);
      fputs("</td>", fp);
    }
    double clipped = tqt_json_num(t, "clipped_fraction"), sqnr = sqnr_of(t);
    fprintf(fp, "<td class=\"n%s\" data-v=\"%.6g\">", clipped > 0 ? " bad" : "", clipped);
    percent(fp, clipped);
    fprintf(fp, "</td><td class=\"n %s\" data-v=\"%.6g\">", sqnr_class(sqnr), isinf(sqnr) ? 1e9 : sqnr);
    num(fp, sqnr);
    fputs("</td>", fp);
    bias_correction(fp, json_object_get(t, "bias_correction"));
    fputs("</tr>\n", fp);
  }
  fputs("</tbody></table></div>\n", fp);
}

static void tensors(FILE *fp, const json_t *s) {
  const json_t *ts = json_object_get(s, "tensors");
  size_t i, n_bias = 0;
  const json_t *t;
  json_array_foreach(ts, i, t) n_bias += !strcmp(tqt_json_str(t, "kind"), "bias");
  fprintf(fp, "<h2 id=\"tensors\">Activations and weights (%zu)</h2>\n", json_array_size(ts) - n_bias);
  fputs("<p class=\"sub\">Histograms of |x| over the calibration samples (weights: over their "
        "values), at most 128 bars, counts on a log scale. <span class=\"sw t\"></span>threshold "
        "the method chose; <span class=\"sw e\"></span>2<sup>e</sup>, e = ceil(log2 threshold) "
        "(or the scale group's); <span class=\"sw c\"></span>values beyond the largest "
        "representable one, which saturate.</p>\n<div class=\"grid\">\n", fp);
  json_array_foreach(ts, i, t) if (strcmp(tqt_json_str(t, "kind"), "bias")) tensor_card(fp, t, i);
  fputs("</div>\n", fp);
  if (n_bias) biases(fp, ts, n_bias);
}

bool tqt_report_print(const json_t *stats, FILE *fp) {
  const json_t *model = json_object_get(stats, "model"), *ts = json_object_get(stats, "tensors");
  struct tqt_name_map ix;
  tqt_name_map_init(&ix);
  size_t i;
  const json_t *t;
  json_array_foreach(ts, i, t) tqt_name_map_put(&ix, tqt_json_str(t, "name"), (void *)(uintptr_t)(i + 1));
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<title>onnx-tqt report: ", fp);
  html(fp, tqt_json_str(model, "path"));
  fprintf(fp, "</title><style>%s</style></head><body><main>\n", report_css);
  summary(fp, stats);
  warnings(fp, stats);
  excluded(fp, stats);
  layers(fp, stats, &ix);
  tensors(fp, stats);
  fprintf(fp, "<p class=\"sub\">Made by onnx-tqt from its statistics file (format %s version "
              "%lld).</p></main><script>%s</script></body></html>\n",
          TQT_STATS_FORMAT, tqt_json_int(stats, "version", 0), report_js);
  tqt_name_map_free(&ix);
  return !ferror(fp);
}

enum tqt_status tqt_report_write(const json_t *stats, const char *path, struct tqt_diag *d) {
  struct tqt_file_atomic fa;
  enum tqt_status st = tqt_file_atomic_open(&fa, path, d);
  if (st != TQT_STATUS_OK) return st;
  if (!tqt_report_print(stats, fa.fp)) {
    tqt_file_atomic_abort(&fa);
    return tqt_diag_fail(d, TQT_STATUS_IO, "%s: write failed", path);
  }
  return tqt_file_atomic_commit(&fa, d);
}
