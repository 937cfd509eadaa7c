#!/usr/bin/env bash
# Checks an installed ctcc the way its users consume it:
#   (a) configure, build and install ctcc into a temporary prefix;
#   (b) build tests/install (find_package(ctcc) + ctcc::ctcc, and the
#       warp-ctc test program with ctcc::warpctc) against it;
#   (c) build examples/c/example.c and the warp-ctc test program with the
#       flags from ctcc.pc;
#   (d) check the SONAME and that exactly the functions of ctcc.h and of
#       the warp-ctc header warpctc/ctc.h are exported.
# Usage: bash tests/install/check_install.sh     (exits nonzero on failure)
# Environment: CC (default cc), JOBS (default 2), KEEP_TMP=1 to keep the
# temporary directory, CTCC_NO_PKG_CONFIG=1 to read ctcc.pc without
# pkg-config (as on machines that lack it).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
jobs="${JOBS:-2}"
cc="${CC:-cc}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/ctcc-install.XXXXXX")"
cleanup() {
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

prefix="$tmp/prefix"
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# (a) Build and install. The prefix is given at install time (not at
# configure time) so that the generated files must not depend on it.
echo "== (a) build and install into $prefix"
cmake -S "$root" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
    -DCTCC_BUILD_TESTS=OFF -DCTCC_BUILD_EXAMPLES=OFF >"$tmp/configure.log"
cmake --build "$tmp/build" -j "$jobs" >"$tmp/build.log"
cmake --install "$tmp/build" --prefix "$prefix" >"$tmp/install.log"
pass "configured, built and installed"

header="$prefix/include/ctcc.h"
[ -f "$header" ] && pass "header installed" || fail "no $header"
warp_header="$prefix/include/warpctc/ctc.h"
[ -f "$warp_header" ] && pass "warp-ctc header installed: include/warpctc/ctc.h" \
    || fail "no $warp_header"
# Beside warp-ctc's own <ctc.h>, never in its place.
[ ! -e "$prefix/include/ctc.h" ] && pass "no ctc.h directly under include/" \
    || fail "$prefix/include/ctc.h must not be installed"
lib="$(find "$prefix" -name 'libctcc.so.*.*.*' -type f | head -n 1)"
if [ -z "$lib" ]; then
    fail "no libctcc.so.X.Y.Z under $prefix"
    echo "$passed passed, $failed failed"
    exit 1
fi
libdir="$(dirname "$lib")"
pass "library installed: ${lib#"$prefix"/}"
for link in libctcc.so libctcc.so.0; do
    [ -L "$libdir/$link" ] && pass "symlink $link" || fail "no symlink $link"
done
pc="$(find "$prefix" -name ctcc.pc | head -n 1)"
[ -n "$pc" ] && pass "pkg-config file: ${pc#"$prefix"/}" || fail "no ctcc.pc"
cfg="$(find "$prefix" -name ctccConfig.cmake | head -n 1)"
[ -n "$cfg" ] && pass "CMake package: ${cfg#"$prefix"/}" \
    || fail "no ctccConfig.cmake"
[ -n "$(find "$prefix" -name ctccConfigVersion.cmake)" ] \
    && pass "ctccConfigVersion.cmake installed" \
    || fail "no ctccConfigVersion.cmake"

export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# (b) CMake consumer.
echo "== (b) find_package(ctcc) consumer"
if cmake -S "$here" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
        >"$tmp/consumer-configure.log" 2>&1 &&
    cmake --build "$tmp/consumer" >"$tmp/consumer-build.log" 2>&1; then
    pass "consumer configured and built with ctcc::ctcc and ctcc::warpctc"
    if "$tmp/consumer/consumer"; then
        pass "consumer runs"
    else
        fail "consumer exited with $?"
    fi
    # The warp-ctc test program prints "N passed, M failed" last.
    if "$tmp/consumer/warpctc_consumer" >"$tmp/warpctc-cmake.log" 2>&1; then
        pass "warp-ctc program (ctcc::warpctc) runs: $(tail -n 1 "$tmp/warpctc-cmake.log")"
    else
        grep -v '^PASS' "$tmp/warpctc-cmake.log" || true
        fail "warp-ctc program (ctcc::warpctc) failed"
    fi
else
    cat "$tmp"/consumer-*.log
    fail "consumer did not configure or build"
fi

# (c) pkg-config. Without pkg-config, read Cflags/Libs from the .pc file.
echo "== (c) pkg-config build"
if [ -n "$pc" ]; then
    if [ "${CTCC_NO_PKG_CONFIG:-0}" != 1 ] &&
        command -v pkg-config >/dev/null 2>&1; then
        flags="$(PKG_CONFIG_PATH="$(dirname "$pc")" \
            pkg-config --cflags --libs ctcc)"
        version="$(PKG_CONFIG_PATH="$(dirname "$pc")" \
            pkg-config --modversion ctcc)"
        includedir="$(PKG_CONFIG_PATH="$(dirname "$pc")" \
            pkg-config --variable=includedir ctcc)"
    else
        echo "(without pkg-config: expanding ctcc.pc with sed)"
        pc_prefix="$(sed -n 's/^prefix=//p' "$pc")"
        expand() {
            sed -n "s/^$1: *//p" "$pc" |
                sed -e "s|\${libdir}|$(sed -n 's/^libdir=//p' "$pc")|g" \
                    -e "s|\${includedir}|$(sed -n 's/^includedir=//p' "$pc")|g" |
                sed -e "s|\${exec_prefix}|\${prefix}|g" \
                    -e "s|\${prefix}|$pc_prefix|g"
        }
        flags="$(expand Cflags) $(expand Libs)"
        version="$(sed -n 's/^Version: *//p' "$pc")"
        includedir="$(sed -n 's/^includedir=//p' "$pc" |
            sed -e "s|\${exec_prefix}|\${prefix}|g" -e "s|\${prefix}|$pc_prefix|g")"
    fi
    echo "flags: $flags"
    header_version="$(sed -n 's/^#define CTCC_VERSION_STRING "\(.*\)"/\1/p' \
        "$root/include/ctcc.h")"
    [ "$version" = "$header_version" ] \
        && pass "ctcc.pc version $version" \
        || fail "ctcc.pc version '$version' != header '$header_version'"
    case "$flags" in
    *"-I$prefix/include"*) pass "Cflags point into the install prefix" ;;
    *) fail "Cflags do not point to $prefix/include" ;;
    esac
    # The flags alone, no -lm: the example uses no libm function itself.
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    if "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror \
        "$root/examples/c/example.c" $flags -o "$tmp/example-pc"; then
        pass "example built with the pkg-config flags alone"
        if "$tmp/example-pc"; then
            pass "pkg-config-built example runs"
        else
            fail "pkg-config-built example exited with $?"
        fi
    else
        fail "example did not build with: $flags"
    fi
    # A warp-ctc program: the warpctc folder on the include path, -lctcc.
    # shellcheck disable=SC2086
    if "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror \
        -I"$includedir/warpctc" "$root/tests/c/test_warpctc.c" $flags -lm \
        -o "$tmp/warpctc-pc"; then
        pass "warp-ctc program built with -I\$includedir/warpctc and pkg-config flags"
        if "$tmp/warpctc-pc" >"$tmp/warpctc-pc.log" 2>&1; then
            pass "pkg-config-built warp-ctc program runs: $(tail -n 1 "$tmp/warpctc-pc.log")"
        else
            grep -v '^PASS' "$tmp/warpctc-pc.log" || true
            fail "pkg-config-built warp-ctc program failed"
        fi
    else
        fail "warp-ctc program did not build with: -I$includedir/warpctc $flags"
    fi
fi

# (d) ELF checks.
echo "== (d) SONAME and exported symbols"
soname=""
if command -v readelf >/dev/null 2>&1; then
    soname="$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')"
elif command -v objdump >/dev/null 2>&1; then
    soname="$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')"
fi
[ "$soname" = "libctcc.so.0" ] && pass "SONAME is libctcc.so.0" \
    || fail "SONAME is '$soname', expected libctcc.so.0"

symbols="$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' |
    sed 's/@.*//' | sort -u)"
# The warp-ctc functions warpctc/ctc.h declares (preprocessor lines, where
# CTCC_WARPCTC_API is defined, left out).
warp_declared="$(grep -v '^ *#' "$warp_header" | tr '\n' ' ' |
    grep -o 'CTCC_WARPCTC_API [^;(]*(' |
    grep -o '[A-Za-z_][A-Za-z0-9_]*($' | tr -d '(' | sort -u)"
# (At least warp-ctc's four classic functions: a check of the parsing.)
warp_missing=""
for f in get_warpctc_version ctcGetStatusString get_workspace_size compute_ctc_loss; do
    printf '%s\n' "$warp_declared" | grep -qx "$f" || warp_missing="$warp_missing $f"
done
[ -z "$warp_missing" ] \
    && pass "warpctc/ctc.h declares $(printf '%s\n' "$warp_declared" | wc -l) functions: $(echo $warp_declared)" \
    || fail "warpctc/ctc.h lacks$warp_missing (it declares: $(echo $warp_declared))"
others="$(printf '%s\n' "$symbols" | grep -v '^ctcc_' |
    grep -vxF "$warp_declared" || true)"
if [ -z "$others" ]; then
    pass "only ctcc_ and warp-ctc symbols exported ($(printf '%s\n' "$symbols" | wc -l))"
else
    fail "symbols exported besides ctcc_* and warp-ctc's: $(echo $others)"
fi
# The exported functions are exactly those the installed headers declare.
declared="$( (tr '\n' ' ' < "$header" | grep -o 'CTCC_API [^;(]*(' |
    grep -o 'ctcc_[a-z0-9_]*($' | tr -d '('
    printf '%s\n' "$warp_declared") | sort -u)"
if [ -n "$declared" ] && [ "$declared" = "$symbols" ]; then
    pass "the $(printf '%s\n' "$declared" | wc -l) functions ctcc.h and warpctc/ctc.h declare are exactly those exported"
else
    fail "exported and declared functions differ: $(diff <(printf '%s\n' "$declared") \
        <(printf '%s\n' "$symbols") | grep '^[<>]' | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
