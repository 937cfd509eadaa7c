/*
 * test_spread.c - the order in which the batch's threads take the samples
 * (ctcc_spread_item, src/internal.h): a bijection of [0, n) for every
 * batch and thread count, index order for one thread, and samples taken
 * at once by different threads are not neighbours (they would share the
 * cache lines of a time-major gradient) once every thread has two or more
 * samples of its own. Ends with the line "N passed, N failed".
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

static void check(int ok, const char *what, size_t n, size_t parts) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        printf("FAIL %s (n = %zu, threads = %zu)\n", what, n, parts);
    }
}

int main(void) {
    enum { MAX_N = 300, MAX_PARTS = 16 };
    static unsigned char seen[MAX_N];
    size_t n, parts, i;
    for (parts = 1; parts <= MAX_PARTS; ++parts) {
        for (n = 1; n <= MAX_N; ++n) {
            int bijection = 1, ordered = 1, apart = 1;
            for (i = 0; i < n; ++i) {
                seen[i] = 0;
            }
            for (i = 0; i < n; ++i) {
                const size_t s = ctcc_spread_item(i, n, parts);
                if (s >= n || seen[s]) {
                    bijection = 0;
                    break;
                }
                seen[s] = 1;
                ordered &= s == i;
            }
            check(bijection, "a bijection of [0, n)", n, parts);
            if (parts == 1) {
                check(ordered, "index order with one thread", n, parts);
            }
            /* The first round: iterations 0 .. parts - 1 start together. */
            if (parts > 1 && n >= 2 * parts) {
                size_t j;
                for (i = 0; i < parts; ++i) {
                    for (j = i + 1; j < parts; ++j) {
                        const size_t a = ctcc_spread_item(i, n, parts),
                                     b = ctcc_spread_item(j, n, parts);
                        apart &= (a > b ? a - b : b - a) >= 2;
                    }
                }
                check(apart, "no neighbours in the first round", n, parts);
            }
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
