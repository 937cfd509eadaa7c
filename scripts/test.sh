#!/usr/bin/env bash
# Sets up a virtual environment and runs every test of ctcc:
#   0. formatting and lint (clang-format, ruff);
#   1. the C library: CMake build, ctest (golden values, status codes,
#      header compiled as C99 and C++), then the same under
#      AddressSanitizer + UndefinedBehaviorSanitizer, then the fuzz target
#      (tests/fuzz: the inputs that once failed, the seeds, and about 30 s
#      of coverage-guided fuzzing), then an install into a temporary prefix
#      consumed through find_package and pkg-config;
#   2. the Python package: editable install with the test extras
#      (pytest, TensorFlow); a short smoke run of the benchmark harness
#      (python -m ctcc bench --quick: every installed implementation must
#      agree, no timing is asserted); then pytest, last, so that its
#      summary closes the output.
# Usage: bash scripts/test.sh        (from anywhere; needs python3, gcc, pip)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${CTCC_VENV:-.venv}
JOBS=${JOBS:-2}
FUZZ_SECONDS=${CTCC_FUZZ_SECONDS:-30}

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q cmake "ruff==0.17.6" "clang-format==23.1.5"

echo "== Formatting and lint"
bash scripts/lint.sh

echo "== C library: build and ctest"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$JOBS" >/dev/null
ctest --test-dir build/release --output-on-failure

echo "== C library: AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCTCC_SANITIZE=ON >/dev/null
cmake --build build/asan -j "$JOBS" >/dev/null
ctest --test-dir build/asan --output-on-failure

echo "== C library: fuzzing (regression inputs, then ${FUZZ_SECONDS} s of fuzzing)"
# With GCC: the driver tests/fuzz/driver.c, coverage-guided when the
# compiler has -fsanitize-coverage=trace-pc (CMake says which it built).
fuzz_config=$(cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug \
    -DCTCC_BUILD_FUZZER=ON -DCTCC_BUILD_TESTS=OFF -DCTCC_BUILD_EXAMPLES=OFF \
    -DCTCC_FUZZ_SMOKE_SECONDS="$FUZZ_SECONDS")
printf '%s\n' "$fuzz_config" | grep 'ctcc: fuzzer' || true
cmake --build build/fuzz -j "$JOBS" --target ctcc_fuzz >/dev/null
ctest --test-dir build/fuzz --output-on-failure -R '^fuzz_'

echo "== C library: installed package (cmake --install, find_package, pkg-config)"
bash tests/install/check_install.sh

echo "== Python package: install"
python -m pip install -q -e ".[test]"

echo "== Benchmark harness smoke run (no timing is asserted)"
python -m ctcc bench --quick --no-json

echo "== Python package: pytest"
python -m pytest -q tests
