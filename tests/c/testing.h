/*
 * testing.h - the check bookkeeping and deterministic random numbers that
 * every C test program uses. Plain C99, header only; each test is one
 * translation unit that includes it once.
 *
 * Every check prints one line starting with PASS or FAIL; a program ends
 * by printing "N passed, M failed" (ctest fails on a nonzero M).
 */
#ifndef CTCC_TESTS_TESTING_H
#define CTCC_TESTS_TESTING_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int g_passed = 0;
static int g_failed = 0;

/* Records and prints one check; returns ok. */
static inline int check(int ok, const char *fmt, ...) {
    va_list ap;
    printf("%s: ", ok ? "PASS" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
    }
    return ok;
}

/* malloc that never returns NULL (exits instead) and accepts 0 bytes. */
static inline void *xmalloc(size_t bytes) {
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "out of memory (%lu bytes)\n", (unsigned long)bytes);
        exit(2);
    }
    return p;
}

/* xorshift64*; a test may define TESTING_RNG_SEED before the include. */
#ifndef TESTING_RNG_SEED
#define TESTING_RNG_SEED 0x9E3779B97F4A7C15ULL
#endif
static uint64_t g_rng = TESTING_RNG_SEED;

static inline uint64_t rng_next(void) {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1). */
static inline double rng_uniform(void) {
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform integer in [lo, hi]. */
static inline int rng_int(int lo, int hi) {
    return lo + (int)(rng_next() % (uint64_t)(hi - lo + 1));
}

/* A random value exactly representable in float, so that the f32 and f64
 * entry points see the very same inputs. */
static inline double rng_value(double lo, double hi) {
    return (double)(float)(lo + (hi - lo) * rng_uniform());
}

#endif /* CTCC_TESTS_TESTING_H */
