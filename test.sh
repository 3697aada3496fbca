#!/usr/bin/env bash
# Runs every test (unit, CLI, round trip over the ONNX test data with ONNX Runtime checks).
# Expects ./setup.sh to have run.
set -uo pipefail
cd "$(dirname "$0")"
meson compile -C build >/dev/null || { echo "build failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
meson test -C build --print-errorlogs --verbose --num-processes 1 2>&1 | tee build/test-output.txt
status=${PIPESTATUS[0]}
ok=$(sed -n 's/^Ok: *\([0-9]*\)/\1/p' build/test-output.txt | tail -1)
fail=$(sed -n 's/^Fail: *\([0-9]*\)/\1/p' build/test-output.txt | tail -1)
timeout=$(sed -n 's/^Timeout: *\([0-9]*\)/\1/p' build/test-output.txt | tail -1)
echo "tests: ${ok:-0} passed, $(( ${fail:-0} + ${timeout:-0} )) failed"
exit "$status"
