#!/usr/bin/env bash
# The HTML report as a reader sees it: headless Chromium renders the bundled LeNet's report and
# the report of a generated 170-block model (over 500 tensors, with warnings) to PNG files in
# OUT_DIR. Checks that the screenshots exist and are not blank (> 20 KB), that the reports are
# self-contained, and that the big one stays small; prints how long Chromium took to open it
# (a figure, not an assertion). Look at the PNGs to judge readability.
#
# usage: report_screenshot.sh ONNX_TQT GEN_MODELS REPORT_TOOL REPO_ROOT OUT_DIR
# Needs the Debian package chromium (and fonts-dejavu-core), which ./setup.sh installs; without
# it the test fails (a skipped check would hide that the report was never looked at).
set -u
if [ $# -ne 5 ]; then
  echo "usage: report_screenshot.sh ONNX_TQT GEN_MODELS REPORT_TOOL REPO_ROOT OUT_DIR" >&2
  exit 2
fi
tqt=$1 gen=$2 tool=$3 repo=$4 out=$5
mkdir -p "$out"
out=$(cd "$out" && pwd)
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "not ok - chromium installed (./setup.sh installs it: apt-get install chromium fonts-dejavu-core)"
  echo "report-screenshot: 0 passed, 1 failed"
  exit 1
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/tqt-shot.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
mnist=$repo/examples/mnist
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; failed=$((failed + 1)); [ -s "$dir/log" ] && sed 's/^/#   /' "$dir/log" | tail -n 15; }

# shot HTML PNG [HEIGHT]: renders HTML at 1400 x HEIGHT (default 2000) to PNG.
shot() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$dir/profile-$RANDOM" --screenshot="$2" --window-size=1400,"${3:-2000}" \
    "file://$1" >"$dir/log" 2>&1 && [ -s "$2" ]
}
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
offline() { ! grep -Eqi 'https?://|<script[^>]+src|<link|@import|url\(' "$1"; }

# ---- the bundled LeNet ----
if "$tqt" -q "$mnist/lenet.onnx" "$dir/lenet8.onnx" --calib "$mnist/calib.npy" \
     --report "$out/report-lenet.html" >"$dir/log" 2>&1 &&
   shot "$out/report-lenet.html" "$out/report-lenet.png" && [ "$(size_of "$out/report-lenet.png")" -gt 20000 ] &&
   offline "$out/report-lenet.html"; then
  ok "lenet report rendered: $out/report-lenet.png ($(size_of "$out/report-lenet.png") bytes)"
else
  not_ok "lenet report rendered to $out/report-lenet.png"
fi
if shot "$out/report-lenet.html" "$out/report-lenet-full.png" 7000 &&
   [ "$(size_of "$out/report-lenet-full.png")" -gt 20000 ]; then
  ok "lenet report, whole page: $out/report-lenet-full.png"
else
  not_ok "lenet report, whole page"
fi

# The layer table sorts by SQNR: a copy of the report clicks the header, the DOM tells the order.
sorted_ok() {
  sed 's|</body>|<script>var t=document.querySelector("table.sortable"),h=t.tHead.rows[0].cells;\
for(var i=0;i<h.length;i++)if(h[i].textContent==="SQNR dB")h[i].click();\
document.body.setAttribute("data-order",Array.prototype.map.call(t.tBodies[0].rows,function(r){\
return r.cells[8].getAttribute("data-v");}).join(" "));</script></body>|' "$1" >"$dir/sort.html" &&
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --disable-sync --no-first-run --user-data-dir="$dir/profile-sort" \
      --dump-dom "file://$dir/sort.html" 2>/dev/null | grep -o 'data-order="[^"]*"' | tr -d '"' |
    sed 's/data-order=//' | tr ' ' '\n' >"$dir/order" &&
    [ "$(wc -l <"$dir/order")" -ge 2 ] && sort -g -c "$dir/order"
}
if sorted_ok "$out/report-lenet.html"; then
  ok "the layer table sorts by SQNR when its header is clicked"
else
  not_ok "the layer table sorts by SQNR when its header is clicked"
fi

# ---- 170 blocks: 514 tensors, 3-bit weights and percentile 99 so that warnings appear ----
if "$tool" deep "$dir/deep.onnx" 170 && "$gen" input "$dir/deep_in.npy" 4,4,8,8 3 &&
   "$tqt" -q "$dir/deep.onnx" "$dir/deepq.onnx" --calib "$dir/deep_in.npy" --wbits 3 \
     --act-method percentile --percentile 99 --report "$out/report-500.html" >"$dir/log" 2>&1; then
  n=$(grep -Eo 'id="t[0-9]+"' "$out/report-500.html" | wc -l) # tensor cards and bias rows
  kb=$(($(size_of "$out/report-500.html") / 1024))
  if [ "$n" -ge 500 ] && [ "$kb" -lt 4096 ] && offline "$out/report-500.html"; then
    ok "500-tensor report: $n tensors in $kb KiB, self-contained"
  else
    not_ok "500-tensor report: $n tensors in $kb KiB (want >= 500, < 4096 KiB, self-contained)"
  fi
  t0=$(date +%s.%N)
  if shot "$out/report-500.html" "$out/report-500.png" && [ "$(size_of "$out/report-500.png")" -gt 20000 ]; then
    t1=$(date +%s.%N)
    ok "500-tensor report rendered: $out/report-500.png"
    echo "# chromium opened and rendered the 500-tensor report in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
  else
    not_ok "500-tensor report rendered to $out/report-500.png"
  fi
  if grep -q 'Layers with low SQNR' "$out/report-500.html" && grep -q 'High clipped fraction' "$out/report-500.html"; then
    ok "500-tensor report lists low-SQNR layers and clipping tensors"
  else
    not_ok "500-tensor report lists low-SQNR layers and clipping tensors"
  fi
else
  not_ok "generate and quantize the 170-block model"
fi

echo "report-screenshot: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
