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
#include <stdlib.h>

static unsigned long long g_batch_state = 12345;

/* Uniform in (0, 1), a fixed sequence on every machine. */
static double batch_uniform(void) {
    g_batch_state =
        g_batch_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(g_batch_state >> 11) + 0.5) / 9007199254740992.0;
}

/* Allocates the inputs and the gradient, x and g [T, N, C], and labels
 * [N, L]; sets every sample's lengths (label_lengths, input_lengths [N]) to
 * L and T; fills labels uniform in [1, C) (with repeats: 0 makes equal
 * neighbours differ), and x with float32 time-major inputs: standard
 * normal logits, or (peaked) a trained model's outputs, each label over
 * T / L frames, its first three frames on the label (fewer where the
 * label has fewer than four frames: its last is blank) and the rest on
 * blank (logit 0), the other classes at logits from -30 to -10. Returns 0 when
 * memory runs out, 1 otherwise. */
static int batch_make(float **x_out, float **g_out, int32_t **labels_out,
                      int32_t *label_lengths, int32_t *input_lengths, int T,
                      int N, int C, int L, int peaked, int repeats) {
    float *x = malloc(sizeof(float) * (size_t)T * (size_t)N * (size_t)C);
    float *g = malloc(sizeof(float) * (size_t)T * (size_t)N * (size_t)C);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)N * (size_t)L);
    int i, t, n, c;
    *x_out = x;
    *g_out = g;
    *labels_out = labels;
    if (x == NULL || g == NULL || labels == NULL) {
        return 0;
    }
    for (n = 0; n < N; ++n) {
        label_lengths[n] = L;
        input_lengths[n] = T;
    }
    for (i = 0; i < N * L; ++i) {
        labels[i] = 1 + (int32_t)(batch_uniform() * (C - 1));
        if (!repeats && i % L > 0 && labels[i] == labels[i - 1]) {
            labels[i] = labels[i] % (C - 1) + 1;
        }
    }
    for (t = 0; t < T; ++t) {
        for (n = 0; n < N; ++n) {
            /* Label k's frames are [first, next): its first three frames
             * (fewer in a short window, which keeps its last for blank, so
             * that equal neighbours are separated) peak on it. */
            const int k = (int)((long long)t * L / T);
            const int first = (int)(((long long)k * T + L - 1) / L);
            const int next = (int)(((long long)(k + 1) * T + L - 1) / L);
            const int on = next - first >= 2
                               ? (next - first - 1 < 3 ? next - first - 1 : 3)
                               : 1;
            const int cls = t - first < on ? labels[n * L + k] : 0;
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
    return 1;
}

#endif /* CTCC_BENCH_SYNTHETIC_BATCH_H */
