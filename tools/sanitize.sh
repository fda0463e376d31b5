#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/, apart
# from build/). Any report from our code fails the test it happens in. Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh build-asan -DTERVIT_SANITIZE=address,undefined -DTERVIT_BUILD_BENCHMARKS=OFF
# LibTorch, OpenBLAS and OpenCV are not instrumented; tools/sanitize.supp lists what is proven to be theirs.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_init_order=1:detect_stack_use_after_return=0"
export LSAN_OPTIONS="suppressions=$PWD/tools/sanitize.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tools/sanitize.supp"
ctest --test-dir build-asan --output-on-failure --parallel "$(nproc)" "$@"
