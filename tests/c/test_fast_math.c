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

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
