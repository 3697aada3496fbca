#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan, own build folder) and runs them.
#
# usage: tests/fuzz/run.sh SECONDS [TARGET...]
#   SECONDS  how long each target runs (wall time); the targets run in parallel, one process
#            each (fuzz_load and fuzz_pipeline by default)
# Environment: FUZZ_BUILD (build folder, default build-fuzz in the repository),
#   FUZZ_MAX_LEN (bytes, default 300000), FUZZ_SEEDS (a folder of *.onnx seeds; default: every
#   model.onnx of the ONNX test data, /usr/share/libonnx-testdata/data).
# Corpora grow in $FUZZ_BUILD/corpus/TARGET; crashes, leaks, timeouts and OOMs land in
# $FUZZ_BUILD/findings/TARGET/ (crash-*, leak-*, timeout-*, oom-*). libFuzzer runs in fork mode
# and goes on after a finding. Ends with one line per target ("fuzz_load: N runs, N findings")
# and exits 1 when anything was found.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: tests/fuzz/run.sh SECONDS [TARGET...]" >&2
  exit 2
fi
seconds=$1
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_load fuzz_pipeline)
build=${FUZZ_BUILD:-$root/build-fuzz}
max_len=${FUZZ_MAX_LEN:-300000}
testdata=/usr/share/libonnx-testdata/data

command -v clang >/dev/null || { echo "run.sh: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
if [ ! -d "$build" ]; then
  CC=clang meson setup "$build" -Dfuzz=true -Dtests=false -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/}" >/dev/null

# Seeds: one flat folder of models (libFuzzer would also read the test data's .pb files).
seeds=${FUZZ_SEEDS:-$build/seeds}
if [ -z "${FUZZ_SEEDS:-}" ] && [ ! -d "$seeds" ]; then
  mkdir -p "$seeds"
  for f in "$testdata"/*/*/model.onnx; do
    case_dir=${f%/model.onnx}
    cp "$f" "$seeds/$(basename "$(dirname "$case_dir")")-$(basename "$case_dir").onnx"
  done
  cp examples/mnist/lenet.onnx "$seeds/lenet.onnx"
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=2048}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
pids=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  # -malloc_limit_mb above ASan's max_allocation_size: a bigger request returns NULL (the code
  # must cope) instead of counting as a finding; the RSS limit catches real growth.
  "$build/tests/fuzz/$t" "$build/corpus/$t" "$seeds" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 \
    -malloc_limit_mb=4096 -dict=tests/fuzz/onnx.dict \
    -artifact_prefix="$build/findings/$t/" >"$build/findings/$t.log" 2>&1 &
  pids+=($!)
done
status=0
for i in "${!targets[@]}"; do
  wait "${pids[$i]}" || true
  t=${targets[$i]}
  runs=$(grep -Eo '^#[0-9]+' "$build/findings/$t.log" | tail -n 1 | tr -d '#')
  found=$(find "$build/findings/$t" -type f | wc -l)
  echo "$t: ${runs:-0} runs, $found findings, corpus $(find "$build/corpus/$t" -type f | wc -l) files"
  [ "$found" -eq 0 ] || status=1
done
exit "$status"
