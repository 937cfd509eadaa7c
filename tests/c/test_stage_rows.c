/*
 * test_stage_rows.c - the stage rows of large alphabets, through the public
 * API only.
 *
 * With a float32 gradient of 1024 classes or more, ctcc_workspace_size
 * counts two rows of the alphabet per thread, in which a frame's softmax is
 * staged before it is written to the gradient past the cache (while the
 * next frame's exps are taken). A workspace
 * without room for them is still enough (the threads then write through
 * the cache). Checked here: what the size counts, and that both ways give
 * the same losses and gradients to the bit, inside the caller's buffer
 * (guard values around it, rows on and off 64-byte lines), and within
 * 1e-6 of the float64 log-space kernel. On a processor without AVX-512
 * both ways are one; the checks hold all the same.
 * Prints "N passed, M failed"; exits nonzero on a failure.
 */
#include <ctcc.h>

#include "testing.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GUARD = 48 }; /* floats of guard on either side of the gradient */
static const float SENTINEL = 12345.0f;

typedef struct batch {
    int T, N, C;
    int batch_major;
    float *x;
    int32_t *labels, *label_lengths, *input_lengths;
} batch;

/* Random logits (standard-normal-like), one sample with a NaN in frame 2
 * and one with a frame of -inf but for its blank, where N allows. */
static batch batch_new(int T, int N, int C, int batch_major) {
    batch b;
    size_t i, total = (size_t)T * (size_t)N * (size_t)C;
    int n, l, k = 0;
    b.T = T;
    b.N = N;
    b.C = C;
    b.batch_major = batch_major;
    b.x = (float *)xmalloc(total * sizeof(float));
    for (i = 0; i < total; ++i) {
        b.x[i] =
            (float)(rng_uniform() + rng_uniform() + rng_uniform() - 1.5) * 2.0f;
    }
    b.label_lengths = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    b.input_lengths = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    b.labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(N * T));
    for (n = 0; n < N; ++n) {
        b.input_lengths[n] = n == 0 ? T : rng_int(T / 2, T);
        b.label_lengths[n] = rng_int(1, b.input_lengths[n] / 3 + 1);
        for (l = 0; l < b.label_lengths[n]; ++l) {
            b.labels[k++] = rng_int(1, C - 1);
        }
    }
    if (N >= 3) {
        const size_t at =
            batch_major ? ((size_t)1 * T + 2) * C : ((size_t)2 * N + 1) * C;
        const size_t row =
            batch_major ? ((size_t)2 * T + 1) * C : ((size_t)1 * N + 2) * C;
        b.x[at + 7] = NAN;
        for (i = 1; i < (size_t)C; ++i) {
            b.x[row + i] = -INFINITY;
        }
    }
    return b;
}

static void batch_free(batch *b) {
    free(b->x);
    free(b->labels);
    free(b->label_lengths);
    free(b->input_lengths);
}

static ctcc_options options_for(const batch *b, int threads, int log_kernel) {
    ctcc_options o;
    ctcc_options_init(&o);
    o.num_threads = threads;
    o.layout =
        b->batch_major ? CTCC_LAYOUT_BATCH_MAJOR : CTCC_LAYOUT_TIME_MAJOR;
    if (log_kernel) {
        o.kernel = CTCC_KERNEL_LOG_SPACE;
    }
    return o;
}

static size_t size_of(const batch *b, const ctcc_options *o, ctcc_dtype dtype,
                      int grad) {
    size_t bytes = 0;
    const ctcc_status st =
        ctcc_workspace_size(b->label_lengths, b->input_lengths, b->T, b->N,
                            b->C, dtype, grad, o, &bytes);
    return st == CTCC_STATUS_SUCCESS ? bytes : 0;
}

/* A thread's stage: two rows of the alphabet in float32, each rounded up
 * to 64 bytes. */
static size_t stage_bytes(int C) {
    return 2 * (((size_t)C * sizeof(float) + 63) / 64 * 64);
}

/* The stages ctcc_workspace_size counts for a float32 gradient. */
static size_t expected_stages(const batch *b, int threads) {
    if (b->C < 1024 || !ctcc_openmp_enabled()) {
        return b->C < 1024 ? 0 : 1;
    }
    return (size_t)(threads < 2 * b->N ? threads : 2 * b->N);
}

static void check_sizes(void) {
    batch b = batch_new(12, 3, 1500, 0);
    batch small = batch_new(12, 3, 1023, 0);
    ctcc_options one = options_for(&b, 1, 0), two = options_for(&b, 2, 0);
    ctcc_options log_two = options_for(&b, 2, 1), alpha = two, alpha_one = one;
    const size_t base1 = size_of(&b, &one, CTCC_FLOAT32, 1);
    const size_t base2 = size_of(&b, &two, CTCC_FLOAT32, 1);
    alpha.alpha = 0.5;
    alpha_one.alpha = 0.5;
    check(base1 > 0 && base2 >= base1 &&
              base2 - base1 ==
                  (expected_stages(&b, 2) - expected_stages(&b, 1)) *
                      stage_bytes(b.C),
          "float32 gradient, C = 1500: two stage rows (%lu bytes) per thread "
          "(%lu -> %lu bytes from 1 to 2 threads)",
          (unsigned long)stage_bytes(b.C), (unsigned long)base1,
          (unsigned long)base2);
    check(size_of(&b, &one, CTCC_FLOAT64, 1) + stage_bytes(b.C) == base1 &&
              size_of(&b, &two, CTCC_FLOAT64, 1) + stage_bytes(b.C) == base1,
          "float64: no stage rows, whatever the thread count");
    check(size_of(&b, &one, CTCC_FLOAT32, 0) ==
              size_of(&b, &two, CTCC_FLOAT32, 0),
          "loss alone: no stage rows");
    check(size_of(&b, &log_two, CTCC_FLOAT32, 1) + stage_bytes(b.C) == base1,
          "the log-space kernel option: no stage rows");
    check(size_of(&b, &alpha, CTCC_FLOAT32, 1) ==
              size_of(&b, &alpha_one, CTCC_FLOAT32, 1),
          "the alpha modification (no softmax in the gradient rows): no "
          "stage rows");
    {
        ctcc_options s1 = options_for(&small, 1, 0),
                     s2 = options_for(&small, 2, 0);
        check(size_of(&small, &s1, CTCC_FLOAT32, 1) ==
                  size_of(&small, &s2, CTCC_FLOAT32, 1),
              "C = 1023: no stage rows");
    }
    batch_free(&b);
    batch_free(&small);
}

/* The loss and gradient with a workspace of `bytes`, into a gradient
 * array shifted by `shift` floats inside guards. Returns the status. */
static ctcc_status run(const batch *b, const ctcc_options *o, size_t bytes,
                       size_t shift, float *costs, float *guarded) {
    const size_t total = (size_t)b->T * (size_t)b->N * (size_t)b->C;
    void *ws = xmalloc(bytes);
    size_t i;
    ctcc_status st;
    for (i = 0; i < total + 2 * GUARD + 1; ++i) {
        guarded[i] = SENTINEL;
    }
    st = ctcc_loss_f32(b->x, guarded + GUARD + shift, b->labels,
                       b->label_lengths, b->input_lengths, b->T, b->N, b->C,
                       costs, ws, bytes, o);
    free(ws);
    return st;
}

static int guards_intact(const float *guarded, size_t total, size_t shift) {
    size_t i;
    for (i = 0; i < GUARD + shift; ++i) {
        if (guarded[i] != SENTINEL) {
            return 0;
        }
    }
    for (i = GUARD + shift + total; i < total + 2 * GUARD + 1; ++i) {
        if (guarded[i] != SENTINEL) {
            return 0;
        }
    }
    return 1;
}

/* Same to the bit, NaN where NaN. */
static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void check_results(int T, int N, int C, int batch_major, int threads,
                          size_t shift) {
    batch b = batch_new(T, N, C, batch_major);
    const ctcc_options o = options_for(&b, threads, 0);
    const size_t total = (size_t)T * (size_t)N * (size_t)C;
    const size_t full = size_of(&b, &o, CTCC_FLOAT32, 1);
    const size_t stages = expected_stages(&b, threads);
    const size_t least = full - stages * stage_bytes(C);
    float *g_full = (float *)xmalloc((total + 2 * GUARD + 1) * sizeof(float));
    float *g_least = (float *)xmalloc((total + 2 * GUARD + 1) * sizeof(float));
    float *c_full = (float *)xmalloc((size_t)N * sizeof(float));
    float *c_least = (float *)xmalloc((size_t)N * sizeof(float));
    double *x64 = (double *)xmalloc(total * sizeof(double));
    double *g64 = (double *)xmalloc(total * sizeof(double));
    double *c64 = (double *)xmalloc((size_t)N * sizeof(double));
    ctcc_status st_full, st_least, st_short;
    double worst_grad = 0.0, worst_cost = 0.0;
    size_t i;
    int n, finite_ok = 1;

    /* One byte short of the least: refused (into g_full, which the next
     * call sets again). */
    st_short = run(&b, &o, least - 1, shift, c_full, g_full);
    st_full = run(&b, &o, full, shift, c_full, g_full);
    st_least = run(&b, &o, least, shift, c_least, g_least);
    check(st_full == CTCC_STATUS_SUCCESS && st_least == CTCC_STATUS_SUCCESS &&
              st_short == CTCC_STATUS_WORKSPACE_TOO_SMALL,
          "T=%d N=%d C=%d %s threads=%d shift=%lu: statuses %d, %d without "
          "stage rows, %d one byte short of that",
          T, N, C, batch_major ? "batch-major" : "time-major", threads,
          (unsigned long)shift, (int)st_full, (int)st_least, (int)st_short);
    check(same_bits(c_full, c_least, (size_t)N) &&
              same_bits(g_full, g_least, total + 2 * GUARD + 1),
          "  with and without stage rows: the same costs and gradient to "
          "the bit");
    check(guards_intact(g_full, total, shift),
          "  nothing written outside the gradient array");

    /* Against the float64 log-space kernel (an independent path). */
    {
        ctcc_options o64 = options_for(&b, 1, 1);
        const size_t bytes64 = size_of(&b, &o64, CTCC_FLOAT64, 1);
        void *ws = xmalloc(bytes64);
        for (i = 0; i < total; ++i) {
            x64[i] = (double)b.x[i];
        }
        check(ctcc_loss_f64(x64, g64, b.labels, b.label_lengths,
                            b.input_lengths, b.T, b.N, b.C, c64, ws, bytes64,
                            &o64) == CTCC_STATUS_SUCCESS,
              "  the float64 reference ran");
        free(ws);
    }
    for (n = 0; n < N; ++n) {
        const int nan_sample = N >= 3 && n == 1;
        const double c = (double)c_full[n];
        if (nan_sample) {
            finite_ok &= isnan(c_full[n]) && isnan(c64[n]);
            continue;
        }
        if (!isfinite(c64[n])) {
            finite_ok &= c == c64[n];
            continue;
        }
        worst_cost =
            fmax(worst_cost, fabs(c - c64[n]) / fmax(1.0, fabs(c64[n])));
    }
    for (i = 0; i < total; ++i) {
        const double g = (double)g_full[GUARD + shift + i];
        const int t = batch_major ? (int)((i / (size_t)C) % (size_t)T)
                                  : (int)(i / ((size_t)N * (size_t)C));
        const int m = batch_major ? (int)(i / ((size_t)T * (size_t)C))
                                  : (int)((i / (size_t)C) % (size_t)N);
        (void)t;
        if (N >= 3 && m == 1) {
            continue; /* the NaN sample: checked by its cost */
        }
        if (isnan(g) != isnan(g64[i])) {
            finite_ok = 0;
        } else if (!isnan(g)) {
            worst_grad = fmax(worst_grad, fabs(g - g64[i]));
        }
    }
    check(finite_ok && worst_cost <= 1e-6 && worst_grad <= 1e-6,
          "  against float64 log space: cost %.2e relative, gradient %.2e "
          "absolute (at most 1e-6); NaN where it is NaN",
          worst_cost, worst_grad);
    free(g_full);
    free(g_least);
    free(c_full);
    free(c_least);
    free(x64);
    free(g64);
    free(c64);
    batch_free(&b);
}

int main(void) {
    check_sizes();
    check_results(9, 3, 1024, 0, 1, 0);
    check_results(9, 3, 1024, 0, 2, 1);
    check_results(17, 4, 1031, 1, 2, 3);
    check_results(11, 5, 4999, 0, 2, 0);
    check_results(11, 5, 4999, 1, 1, 2);
    check_results(23, 1, 2000, 0, 2, 5); /* two threads on one sample */
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
