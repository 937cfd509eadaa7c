/*
 * synthetic_batch.h - the batch of the C benchmark tools (instructions.c,
 * compare_builds.c): the same values on every machine, so that counts and
 * times from different builds or runs compare.
 */
#ifndef CTCC_BENCH_SYNTHETIC_BATCH_H
#define CTCC_BENCH_SYNTHETIC_BATCH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

static unsigned long long g_batch_state = 12345;

/* Uniform in (0, 1), a fixed sequence on every machine. */
static double batch_uniform(void) {
    g_batch_state =
        g_batch_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(g_batch_state >> 11) + 0.5) / 9007199254740992.0;
}

/* Fills labels [N, L] uniform in [1, C) (with repeats: 0 makes equal
 * neighbours differ), and float32 time-major inputs x [T, N, C]: standard
 * normal logits, or (peaked) a trained model's outputs, each label over
 * T / L frames, its first three frames on the label and the rest on blank
 * (logit 0), the other classes at logits from -30 to -10. */
static void batch_fill(float *x, int32_t *labels, int T, int N, int C, int L,
                       int peaked, int repeats) {
    int i, t, n, c;
    for (i = 0; i < N * L; ++i) {
        labels[i] = 1 + (int32_t)(batch_uniform() * (C - 1));
        if (!repeats && i % L > 0 && labels[i] == labels[i - 1]) {
            labels[i] = labels[i] % (C - 1) + 1;
        }
    }
    for (t = 0; t < T; ++t) {
        for (n = 0; n < N; ++n) {
            const int k = (int)((double)t * L / T);
            const int cls = t % 7 < 3 ? labels[n * L + k] : 0;
            for (c = 0; c < C; ++c) {
                float *v = &x[((size_t)t * N + n) * C + c];
                if (peaked) {
                    *v = c == cls ? 0.0f
                                  : (float)(-10.0 - 20.0 * batch_uniform());
                } else {
                    const double u1 = batch_uniform(), u2 = batch_uniform();
                    *v = (float)(sqrt(-2.0 * log(u1)) *
                                 cos(6.283185307179586 * u2));
                }
            }
        }
    }
}

#endif /* CTCC_BENCH_SYNTHETIC_BATCH_H */
