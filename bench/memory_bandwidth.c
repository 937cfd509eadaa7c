/*
 * memory_bandwidth.c - what one core moves through memory on this
 * machine, for the sizes of ocr-large-vocab (an 82 MB float32 array): a
 * read of the array, a write of it with non-temporal stores, and both at
 * once (the read of one array and the write of another). The floor under
 * any call that reads its logits and writes a gradient of the same size.
 * Prints the median of 15 passes of each, in ms and GB/s.
 *
 * Build:  gcc -O2 bench/memory_bandwidth.c -o memory_bandwidth
 * Usage:  ./memory_bandwidth      (needs AVX-512F, as the stores measured)
 */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { PASSES = 15 };

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *t, double bytes) {
    qsort(t, PASSES, sizeof(double), by_value);
    printf("%-34s %7.2f ms %6.1f GB/s\n", what, 1e3 * t[PASSES / 2],
           bytes / t[PASSES / 2] / 1e9);
}

__attribute__((target("avx512f"))) int main(void) {
    const size_t n = (size_t)64 * 64 * 5000; /* floats, T N C */
    float *x = aligned_alloc(64, n * sizeof(float));
    float *y = aligned_alloc(64, n * sizeof(float));
    double read[PASSES], write[PASSES], both[PASSES];
    __m512 acc = _mm512_setzero_ps();
    size_t i;
    int k;
    if (x == NULL || y == NULL) {
        return 1;
    }
    for (i = 0; i < n; ++i) { /* every page mapped before the passes */
        x[i] = (float)(i % 97);
        y[i] = 0;
    }
    for (k = 0; k < PASSES; ++k) {
        double t0, t1, t2, t3;
        t0 = seconds();
        for (i = 0; i < n; i += 16) {
            acc = _mm512_add_ps(acc, _mm512_load_ps(x + i));
        }
        t1 = seconds();
        for (i = 0; i < n; i += 16) {
            _mm512_stream_ps(y + i, acc);
        }
        _mm_sfence();
        t2 = seconds();
        for (i = 0; i < n; i += 16) {
            _mm512_stream_ps(y + i, _mm512_mul_ps(acc, _mm512_load_ps(x + i)));
        }
        _mm_sfence();
        t3 = seconds();
        read[k] = t1 - t0;
        write[k] = t2 - t1;
        both[k] = t3 - t2;
    }
    printf("one core, %zu MB arrays (median of %d passes):\n",
           n * sizeof(float) / 1000000, PASSES);
    report("read", read, (double)(n * sizeof(float)));
    report("write (non-temporal stores)", write, (double)(n * sizeof(float)));
    report("read one, write another", both, 2.0 * (double)(n * sizeof(float)));
    /* (the sum keeps the reads from being optimised away) */
    printf("(checksum %g)\n", (double)_mm512_reduce_add_ps(acc));
    free(x);
    free(y);
    return 0;
}
