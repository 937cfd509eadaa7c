#!/usr/bin/env bash
# Instructions per DP cell of ctcc_loss_f32, counted by callgrind (which the
# machine's load does not change): the count of three calls less that of
# one, over two, so that the batch's set-up is left out.
# Usage: bash bench/instructions.sh [BUILD_DIR]   (default build/release,
# where `cmake --build` put libctcc; needs gcc and valgrind)
# Prints one line per case: shape, input, with gradient / loss only; for
# ocr-large-vocab's alphabet (C = 5000), per frame and class instead, where
# the softmax's normaliser, not the DP, is the work. valgrind runs the
# AVX2 build: on AVX-512 processors the large alphabets' exps take
# ctcc_expf_neg16 instead, fewer instructions than counted here.
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build/release}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -Iinclude bench/instructions.c -o "$out/instructions" \
    -L"$build" -lctcc -lm -Wl,-rpath,"$build"

count() { # MODE INPUT CALLS T L REPEATS [C]
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$out/instructions" "$@" 2>&1 |
        awk '/Collected/ { print $4 }'
}

per_cell() { # MODE INPUT T L REPEATS
    local one three cells
    one=$(count "$1" "$2" 1 "$3" "$4" "$5")
    three=$(count "$1" "$2" 3 "$3" "$4" "$5")
    cells=$((8 * $3 * (2 * $4 + 1)))
    awk -v a="$one" -v b="$three" -v c="$cells" \
        'BEGIN { printf "%.1f", (b - a) / 2 / c }'
}

printf '%-38s %14s %10s\n' "case (N = 8, C = 29)" "with gradient" "loss only"
for shape in "700 100 speech-long" "150 40 speech-small"; do
    read -r T L name <<<"$shape"
    for input in "r 1 random logits" "r 0 random, no repeated label" \
        "p 1 peaked"; do
        read -r kind rep what <<<"$input"
        printf '%-38s %14s %10s\n' "$name, $what" \
            "$(per_cell g "$kind" "$T" "$L" "$rep")" \
            "$(per_cell l "$kind" "$T" "$L" "$rep")"
    done
done

per_class() { # MODE INPUT T L C
    local one three frames
    one=$(count "$1" "$2" 1 "$3" "$4" 1 "$5")
    three=$(count "$1" "$2" 3 "$3" "$4" 1 "$5")
    frames=$((8 * $3 * $5))
    awk -v a="$one" -v b="$three" -v c="$frames" \
        'BEGIN { printf "%.2f", (b - a) / 2 / c }'
}

printf '%-38s %14s %10s\n' "case (N = 8, T = 64, L = 20, C = 5000)" \
    "with gradient" "loss only"
for input in "r random logits" "p peaked"; do
    read -r kind what <<<"$input"
    printf '%-38s %14s %10s\n' "ocr-large-vocab, $what, per class" \
        "$(per_class g "$kind" 64 20 5000)" \
        "$(per_class l "$kind" 64 20 5000)"
done
