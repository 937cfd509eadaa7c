#!/usr/bin/env bash
# Sets up a virtual environment and runs every test of ctcc:
#   0. formatting and lint (clang-format, ruff);
#   1. the C library: CMake build, ctest (golden values, status codes,
#      header compiled as C99 and C++), then the same under
#      AddressSanitizer + UndefinedBehaviorSanitizer, then the fuzz target
#      (tests/fuzz: the inputs that once failed, the seeds, and about 90 s
#      of coverage-guided fuzzing), the release C tests under valgrind
#      memcheck (when valgrind is installed), then an install into a
#      temporary prefix consumed through find_package and pkg-config,
#      and the documented C commands run as written
#      (tests/install/readme_c_commands.sh);
#   2. the Python package: editable install with the test extras
#      (pytest, TensorFlow); the sdist and the wheel as shipped
#      (tests/install/check_packaging.sh: contents, C build from the
#      sdist without a C++ compiler, a manylinux wheel tested in a fresh
#      virtual environment); a short smoke run of the benchmark harness
#      (python -m ctcc bench --quick: every installed implementation must
#      agree, no timing is asserted); then pytest, last, so that its
#      summary closes the output.
# Usage: bash scripts/test.sh        (from anywhere; needs python3, gcc, pip)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${CTCC_VENV:-.venv}
JOBS=${JOBS:-2}
FUZZ_SECONDS=${CTCC_FUZZ_SECONDS:-90}

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

echo "== C library: valgrind memcheck on the C tests"
if command -v valgrind >/dev/null 2>&1; then
    for t in ctcc_test ctcc_test_posteriors ctcc_test_align ctcc_test_decode \
        ctcc_test_warpctc ctcc_test_fork ctcc_example; do
        log="build/release/valgrind-$t.log"
        # Definite leaks and every memory error fail; libgomp's thread
        # stacks, kept alive until exit, show as "possibly lost" only.
        if valgrind -q --error-exitcode=99 --leak-check=full \
            --show-leak-kinds=definite --errors-for-leak-kinds=definite \
            "build/release/$t" >"$log" 2>&1; then
            echo "valgrind: $t clean: $(tail -n 1 "$log")"
        else
            cat "$log"
            echo "valgrind: $t FAILED"
            exit 1
        fi
    done
else
    echo "valgrind is not installed: memcheck skipped (ASan + UBSan ran above)"
fi

echo "== C library: installed package (cmake --install, find_package, pkg-config)"
bash tests/install/check_install.sh

echo "== C library: the documented build, install and link commands, as written"
bash tests/install/readme_c_commands.sh

echo "== Python package: install"
# The CPU build of PyTorch, pinned: an unpinned torch resolves to a CUDA
# build of several GB; 2.13.0 then satisfies the test extra's range.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test]"

echo "== Packaging: sdist (C build and tests from it), wheel (auditwheel), fresh venv"
bash tests/install/check_packaging.sh

echo "== Docs (Sphinx, warnings are errors)"
python -m pip install -q -r docs/requirements.txt
python -m sphinx -W --keep-going -q -b html docs build/docs

echo "== Benchmark harness smoke run (no timing is asserted)"
python -m ctcc bench --quick --no-json

echo "== Python package: pytest"
# The C API tests through ctypes use the library built above when the
# package's own copy cannot be found.
CTCC_LIBRARY="$PWD/build/release/libctcc.so" python -m pytest -q tests
