/*
 * test_rows.c - the scaled kernel's row recurrences (lin_alpha_row and
 * lin_beta_row, src/linear_impl.h), both ways they run (in blocks of
 * vector width with an overlapping last block, as the AVX-512 build does,
 * and the compiler's plain loop), against a loop over the states written
 * here: every stored entry to the bit, the row's maximum
 * and its flag count (or, without `exact`, whether it has flags), for
 * every width from 0 to 70 states and every start of the window, on
 * rows mixing ordinary values, entries that fall below LIN_TINY and
 * exact zeros; beta also with its emissions lifted by LIN_LIFT. After a
 * row without the count, the separate count of its flags from the stored
 * row (lin_alpha_flags, lin_beta_flags) as well. A flag counted twice in
 * the overlap, an exact zero counted, a state left out or one written
 * past the window fails it. Ends with "N passed, N failed".
 */
#include <math.h>

/* The float64 instantiation of the kernels, under names of its own. */
#define REAL double
#define REAL_EXP_NEG ctcc_exp_neg
#define DP double
#define DP_EXP_NEG ctcc_exp_neg
#define DP_EXP_NEG8 ctcc_exp_neg8
#define DP_LOG1P ctcc_log1p_small
#define DP_SIZE CTCC_DP_SIZE
#define LOSS_NAME test_rows_loss_f64
#define POSTERIORS_NAME test_rows_posteriors_f64
#include "loss_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static void check(int ok, const char *what, size_t lo, size_t hi, int exact,
                  int blocks) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        printf("FAIL %s (states [%zu, %zu), exact = %d, blocks = %d)\n", what,
               lo, hi, exact, blocks);
    }
}

enum { PAD = 4, WIDTH = 96 };

/* A value of one of the kinds a row holds: 0 (a state not reached), an
 * ordinary entry, or one that the recurrence takes below LIN_TINY. */
static double pick(unsigned *seed) {
    const unsigned r = (*seed = *seed * 1103515245u + 12345u) >> 16;
    switch (r % 5) {
    case 0:
        return 0.0;
    case 1:
        return 0x1p-990 * (double)(1 + r % 7);
    default:
        return (double)(1 + r % 1000) / 1000.0;
    }
}

int main(void) {
    static double prev_b[WIDTH + 2 * PAD], e_b[WIDTH + 2 * PAD],
        el_b[WIDTH + 2 * PAD], k_b[WIDTH + 2 * PAD], row_b[WIDTH + 2 * PAD],
        ref_b[WIDTH + 2 * PAD];
    double *prev = prev_b + PAD, *e = e_b + PAD, *el = el_b + PAD,
           *k = k_b + PAD, *row = row_b + PAD, *ref = ref_b + PAD;
    unsigned seed = 1;
    size_t lo, hi, s;
    int exact, dir, round, blocks;
    for (round = 0; round < 8; ++round) {
        blocks = round / 4;
        for (dir = 0; dir < 2; ++dir) {
            for (exact = 0; exact <= 2; ++exact) {
                if (dir == 0 && exact == 2) {
                    continue; /* (beta's lean count only) */
                }
                for (lo = 2; lo < 12; ++lo) {
                    for (hi = lo; hi <= lo + 70 && hi + 2 <= WIDTH; ++hi) {
                        const double x = round % 2 == 0 ? 1.0 : 0.25;
                        /* (beta's emissions lifted, as the loss alone's) */
                        const double lift = round % 4 >= 2 ? LIN_LIFT : 1.0;
                        double top = 0, got_top, flags = -1, want_flags;
                        size_t n = 0, n_exact = 0, least_small = 0;
                        for (s = 0; s < WIDTH + 2 * PAD; ++s) {
                            prev_b[s] = pick(&seed);
                            /* The lean count wants emissions of at least
                             * 2^-21 (LIN_LEAN_LEAST). */
                            e_b[s] = exact == 2 ? 0.5 + pick(&seed) / 2
                                                : pick(&seed) + 0x1p-20;
                            /* Beta's are the emissions times the row
                             * (lin_emissions with cur), as in the kernel:
                             * its sums are 0 where its successors are. */
                            if (dir == 1) {
                                e_b[s] *= prev_b[s];
                            }
                            k_b[s] = (seed >> 7) % 2 ? x * x : 0.0;
                            row_b[s] = ref_b[s] = -1.0; /* (untouched) */
                            el_b[s] = e_b[s] * lift;
                        }
                        for (s = lo; s < hi; ++s) {
                            double in, r;
                            if (dir == 0) {
                                in = prev[s] + x * prev[s - 1] +
                                     k[s] * prev[s - 2];
                                r = e[s] * in;
                            } else {
                                in = prev[s] + x * prev[s + 1] +
                                     k[s + 2] * prev[s + 2];
                                r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
                            }
                            ref[s] = r < LIN_TINY ? 0 : r;
                            top = r > top ? r : top;
                            least_small += r < LIN_TINY;
                            if (exact == 2) {
                                n += r > 0 && r < LIN_TINY;
                            } else {
                                n += r < LIN_TINY && in > 0;
                            }
                            n_exact += r < LIN_TINY && in > 0;
                        }
                        ref[(ptrdiff_t)lo - 2] = ref[(ptrdiff_t)lo - 1] = 0;
                        ref[hi] = ref[hi + 1] = 0;
                        if (dir == 0) {
                            got_top =
                                exact ? lin_alpha_row(row, prev, e, k, x, lo,
                                                      hi, &flags, 1, blocks)
                                      : lin_alpha_row(row, prev, e, k, x, lo,
                                                      hi, &flags, 0, blocks);
                        } else if (exact == 0) {
                            got_top = lin_beta_row(row, prev, el, k, x, lo, hi,
                                                   &flags, 0, lift, blocks);
                        } else if (exact == 1) {
                            got_top = lin_beta_row(row, prev, el, k, x, lo, hi,
                                                   &flags, 1, lift, blocks);
                        } else {
                            got_top = lin_beta_row(row, prev, el, k, x, lo, hi,
                                                   &flags, 2, lift, blocks);
                        }
                        want_flags =
                            exact ? (double)n : (least_small > 0 ? 1.0 : 0.0);
                        check(memcmp(row_b, ref_b, sizeof(row_b)) == 0,
                              dir == 0 ? "alpha entries" : "beta entries", lo,
                              hi, exact, blocks);
                        check(got_top == top,
                              dir == 0 ? "alpha maximum" : "beta maximum", lo,
                              hi, exact, blocks);
                        check(flags == want_flags,
                              dir == 0 ? "alpha flags" : "beta flags", lo, hi,
                              exact, blocks);
                        if (exact == 0) {
                            const double counted =
                                dir == 0
                                    ? lin_alpha_flags(row, prev, k, x, lo, hi)
                                    : lin_beta_flags(row, prev, k, x, lo, hi);
                            check(counted == (double)n_exact,
                                  dir == 0 ? "alpha flags counted apart"
                                           : "beta flags counted apart",
                                  lo, hi, exact, blocks);
                        }
                    }
                }
            }
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
