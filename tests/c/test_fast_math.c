/*
 * test_fast_math.c - accuracy of the kernel's exp and log1p (src/fast_math.h)
 * against the C library, densely over the ranges the kernel feeds them.
 * Prints the worst error in ulp of each function and ends with the line
 * "N passed, N failed".
 */
#include "fast_math.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

static int passed, failed;

static void check(const char *what, double worst_ulp, double limit) {
    const int ok = worst_ulp <= limit;
    printf("%s %-40s worst %.3f ulp (limit %.1f)\n", ok ? "ok  " : "FAIL", what,
           worst_ulp, limit);
    ok ? ++passed : ++failed;
}

/* Error of `got` in units of the last place of the double `want`. */
static double ulp_error(double got, double want) {
    if (got == want) {
        return 0.0;
    }
    if (want == 0.0 || !isfinite(got)) {
        return INFINITY;
    }
    return fabs(got - want) / (nextafter(fabs(want), INFINITY) - fabs(want));
}

static double ulp_error_f(float got, double want) {
    const float w = (float)want;
    if (got == w) {
        return 0.0;
    }
    if (w == 0.0f || !isfinite(got)) {
        return INFINITY;
    }
    return fabs((double)got - want) /
           (double)(nextafterf(fabsf(w), INFINITY) - fabsf(w));
}

#if CTCC_HAVE_EXPF_NEG16
/* ctcc_expf_neg16 of x[0, 16) into y. */
__attribute__((target("avx512f"))) static void expf16(const float *x,
                                                      float *y) {
    _mm512_storeu_ps(y, ctcc_expf_neg16(_mm512_loadu_ps(x)));
}

/* Worst error in ulp of ctcc_expf_neg16 over n arguments from next(i). */
static double worst_expf16(float (*next)(long, long), long n) {
    float x[16], y[16];
    double worst = 0;
    long i;
    int k;
    for (i = 0; i < n; i += 16) {
        for (k = 0; k < 16; ++k) {
            x[k] = next(i + k < n ? i + k : n - 1, n);
        }
        expf16(x, y);
        for (k = 0; k < 16; ++k) {
            const double e = ulp_error_f(y[k], exp((double)x[k]));
            worst = e > worst ? e : worst;
        }
    }
    return worst;
}

/* The i-th of n evenly spaced points of (-87, 1]. */
static float grid(long i, long n) {
    return (float)(-87.0 + 88.0 * (double)(i + 1) / (double)n);
}

/* The floats of [-87, 1] in the order of their bit patterns: the
 * positive ones up to 1, then -0 down to -87. */
#define POSITIVE_BITS 0x3f800001u /* +0 to 1 */
#define NEGATIVE_BITS 0x42ae0001u /* -0 to -87 */

/* Every 61st of those floats: every exponent, every entry of the table. */
static float strided(long i, long n) {
    const uint32_t at = (uint32_t)i * 61u;
    (void)n;
    return at < POSITIVE_BITS
               ? ctcc_from_bits32(at)
               : ctcc_from_bits32(0x80000000u + (at - POSITIVE_BITS));
}

/* The exps of AVX-512 processors' normaliser (CTCC_HAVE_EXPF_NEG16), where
 * this processor has AVX-512; skipped (passed) where it has not. */
static void check_expf_neg16(int steps) {
    const float special[16] = {0.0f,    -0.0f,   -INFINITY,   -100.0f,
                               -87.5f,  NAN,     -87.0f,      1.0f,
                               1e-30f,  -1e-30f, -0.0216608f, 0.0216608f,
                               -86.99f, -1.0f,   -2.0f,       -10.0f};
    float y[16];
    const long n_strided =
        (long)(((uint64_t)POSITIVE_BITS + NEGATIVE_BITS - 1) / 61u + 1);
    if (!__builtin_cpu_supports("avx512f")) {
        printf("skip ctcc_expf_neg16: no AVX-512 on this processor\n");
        return;
    }
    check("ctcc_expf_neg16 on (-87, 1]", worst_expf16(grid, steps), 3.0);
    check("ctcc_expf_neg16, every 61st float of [-87, 1]",
          worst_expf16(strided, n_strided), 3.0);
    expf16(special, y);
    /* exp(0) == 1 exactly: log_normaliser counts the classes at the
     * maximum apart. */
    check("ctcc_expf_neg16(+-0) == 1", y[0] == 1.0f && y[1] == 1.0f ? 0 : 9,
          0.0);
    check("ctcc_expf_neg16(-inf, -100, -87.5) == 0",
          y[2] == 0.0f && y[3] == 0.0f && y[4] == 0.0f ? 0 : 9, 0.0);
    check("ctcc_expf_neg16(NaN) is NaN", isnan(y[5]) ? 0 : 9, 0.0);
}
#else
static void check_expf_neg16(int steps) {
    (void)steps;
    printf("skip ctcc_expf_neg16: not built for this compiler\n");
}
#endif

#if CTCC_HAVE_EXPF_NEG16
/* ctcc_exp_neg8 (lite: ctcc_exp_neg8_lite) of x[0, 8) into y. */
__attribute__((target("avx512f"))) static void exp8(const double *x, double *y,
                                                    int lite) {
    const __m512d v = _mm512_loadu_pd(x);
    _mm512_storeu_pd(y, lite ? ctcc_exp_neg8_lite(v) : ctcc_exp_neg8(v));
}

/* Worst error of ctcc_exp_neg8 (in ulp) or ctcc_exp_neg8_lite (relative)
 * over n arguments from next(i, n). */
static double worst_exp8(double (*next)(long, long), long n, int lite) {
    double x[8], y[8], worst = 0;
    long i;
    int k;
    for (i = 0; i < n; i += 8) {
        for (k = 0; k < 8; ++k) {
            x[k] = next(i + k < n ? i + k : n - 1, n);
        }
        exp8(x, y, lite);
        for (k = 0; k < 8; ++k) {
            const double want = exp(x[k]);
            const double e =
                lite ? fabs(y[k] - want) / want : ulp_error(y[k], want);
            worst = e > worst ? e : worst;
        }
    }
    return worst;
}

/* The i-th of n evenly spaced points of (-708, 1]. */
static double grid8(long i, long n) {
    return -708.0 + 709.0 * (double)(i + 1) / (double)n;
}

/* Around the ends of the reduction's intervals: n ln2 / 32 for n from
 * -32 to 32, nudged by -2 to +2 ulp (where |r| is largest and the entry
 * of the table changes), then powers of two from 2^-1 down to 2^-1074
 * of either sign (where r is x itself). */
static double edges8(long i, long n) {
    (void)n;
    if (i < 65 * 5) {
        double x = (double)(i / 5 - 32) * 0.693147180559945309417 / 32.0;
        int nudge = (int)(i % 5) - 2;
        for (; nudge > 0; --nudge) {
            x = nextafter(x, INFINITY);
        }
        for (; nudge < 0; ++nudge) {
            x = nextafter(x, -INFINITY);
        }
        return x;
    }
    i -= 65 * 5;
    return ldexp(i % 2 ? -1.0 : 1.0, -1 - (int)(i / 2) % 1074);
}

/* The exps of AVX-512 processors' class probabilities (lin_class_exps8),
 * where this processor has AVX-512; skipped (passed) where it has not. */
static void check_exp_neg8(int steps) {
    const double special[8] = {0.0,    -0.0, -INFINITY, -800.0,
                               -708.5, NAN,  1.0,       -708.0};
    double y[8];
    int lite;
    if (!__builtin_cpu_supports("avx512f")) {
        printf("skip ctcc_exp_neg8: no AVX-512 on this processor\n");
        return;
    }
    check("ctcc_exp_neg8 on (-708, 1]", worst_exp8(grid8, steps, 0), 2.0);
    check("ctcc_exp_neg8 at the reduction's ends",
          worst_exp8(edges8, 65 * 5 + 2 * 1074, 0), 2.0);
    check("ctcc_exp_neg8_lite rel. error x 1e10",
          worst_exp8(grid8, steps, 1) * 1e10, 1.0);
    check("ctcc_exp_neg8_lite at the ends, rel. error x 1e10",
          worst_exp8(edges8, 65 * 5 + 2 * 1074, 1) * 1e10, 1.0);
    for (lite = 0; lite <= 1; ++lite) {
        exp8(special, y, lite);
        /* exp(0) == 1 exactly, as ctcc_exp_neg (a frame's largest class
         * then has probability 1 before the sum's scaling). */
        check(lite ? "ctcc_exp_neg8_lite(+-0) == 1" : "ctcc_exp_neg8(+-0) == 1",
              y[0] == 1.0 && y[1] == 1.0 ? 0 : 9, 0.0);
        check(lite ? "ctcc_exp_neg8_lite(-inf, -800, -708.5) == 0"
                   : "ctcc_exp_neg8(-inf, -800, -708.5) == 0",
              y[2] == 0.0 && y[3] == 0.0 && y[4] == 0.0 ? 0 : 9, 0.0);
        check(lite ? "ctcc_exp_neg8_lite(NaN) is NaN"
                   : "ctcc_exp_neg8(NaN) is NaN",
              isnan(y[5]) ? 0 : 9, 0.0);
        check(lite ? "ctcc_exp_neg8_lite(1), (-708), rel. error x 1e10"
                   : "ctcc_exp_neg8(1), (-708) in ulp",
              lite ? fmax(fabs(y[6] - exp(1.0)) / exp(1.0),
                          fabs(y[7] - exp(-708.0)) / exp(-708.0)) *
                         1e10
                   : fmax(ulp_error(y[6], exp(1.0)),
                          ulp_error(y[7], exp(-708.0))),
              lite ? 1.0 : 2.0);
    }
}
#else
static void check_exp_neg8(int steps) {
    (void)steps;
    printf("skip ctcc_exp_neg8: not built for this compiler\n");
}
#endif

int main(void) {
    const int steps = 2000000;
    double worst;
    int i;

    /* exp on (-708, 1]. */
    worst = 0;
    for (i = 1; i <= steps; ++i) {
        const double x = -708.0 + 709.0 * i / steps;
        const double e = ulp_error(ctcc_exp_neg(x), exp(x));
        worst = e > worst ? e : worst;
    }
    check("ctcc_exp_neg on (-708, 1]", worst, 4.0);
    check("ctcc_exp_neg(-inf) == 0", ctcc_exp_neg(-INFINITY) == 0.0 ? 0 : 9,
          0.0);
    check("ctcc_exp_neg(-800) == 0", ctcc_exp_neg(-800.0) == 0.0 ? 0 : 9, 0.0);
    check("ctcc_exp_neg(0) == 1", ctcc_exp_neg(0.0) == 1.0 ? 0 : 9, 0.0);
    check("ctcc_exp_neg(NaN) is NaN", isnan(ctcc_exp_neg(NAN)) ? 0 : 9, 0.0);

    /* expf on (-87, 1]. */
    worst = 0;
    for (i = 1; i <= steps; ++i) {
        const float x = (float)(-87.0 + 88.0 * i / steps);
        const double e = ulp_error_f(ctcc_expf_neg(x), exp((double)x));
        worst = e > worst ? e : worst;
    }
    /* A degree-5 polynomial: 2.3 ulp at worst here without fma, 2.0 over
     * every float of the range with fma (checked once). */
    check("ctcc_expf_neg on (-87, 1]", worst, 3.0);
    check("ctcc_expf_neg(-inf) == 0", ctcc_expf_neg(-INFINITY) == 0.0f ? 0 : 9,
          0.0);
    check("ctcc_expf_neg(-100) == 0", ctcc_expf_neg(-100.0f) == 0.0f ? 0 : 9,
          0.0);
    /* log_normaliser counts the classes at a frame's maximum by exp(0) == 1
     * and finds a NaN in the frame by the NaN it leaves in the sum. */
    check("ctcc_expf_neg(0) == 1", ctcc_expf_neg(0.0f) == 1.0f ? 0 : 9, 0.0);
    check("ctcc_expf_neg(NaN) is NaN", isnan(ctcc_expf_neg(NAN)) ? 0 : 9, 0.0);

    /* log1p on [0, 2], and at every power of two down to 2^-1000 (the
     * kernel's common case is a tiny u). */
    worst = 0;
    for (i = 0; i <= steps; ++i) {
        const double u = 2.0 * i / steps;
        const double e = ulp_error(ctcc_log1p_small(u), log1p(u));
        worst = e > worst ? e : worst;
    }
    for (i = 1; i <= 1000; ++i) {
        const double u = ldexp(1.0, -i);
        const double e = ulp_error(ctcc_log1p_small(u), log1p(u));
        worst = e > worst ? e : worst;
    }
    check("ctcc_log1p_small on [0, 2]", worst, 4.0);

    /* The lighter versions used for float32 outputs: relative error. */
    worst = 0;
    for (i = 1; i <= steps; ++i) {
        const double x = -708.0 + 709.0 * i / steps;
        const double want = exp(x);
        const double e = fabs(ctcc_exp_neg_lite(x) - want) / want;
        worst = e > worst ? e : worst;
    }
    check("ctcc_exp_neg_lite rel. error x 1e9", worst * 1e9, 1.0);
    worst = 0;
    for (i = 1; i <= steps; ++i) {
        const double u = 2.0 * i / steps;
        const double want = log1p(u);
        const double e = fabs(ctcc_log1p_small_lite(u) - want) / want;
        worst = e > worst ? e : worst;
    }
    check("ctcc_log1p_small_lite rel. error x 1e12", worst * 1e12, 2.0);

    check_expf_neg16(steps);
    check_exp_neg8(steps);

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
