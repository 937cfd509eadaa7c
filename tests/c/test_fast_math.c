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

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
