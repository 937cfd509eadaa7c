/*
 * instructions.c - one batch, one kernel call or several, for counting
 * instructions per DP cell under callgrind (bench/instructions.sh runs
 * it). Counts do not depend on the machine's load, where times on a
 * shared machine do.
 *
 * Usage: instructions MODE INPUT CALLS [T L [repeats [C]]]
 *   MODE   g (loss and gradient) or l (loss only)
 *   INPUT  r (standard-normal logits) or p (peaked: a trained model's
 *          outputs, one alignment at logit 0, the other classes at
 *          logits from -30 to -10)
 *   CALLS  calls to ctcc_loss_f32 on the same batch
 *   T L    frames and labels per sample (default 700 100, speech-long)
 *   repeats  1: labels uniform in [1, C), with their repeats (the
 *          benchmark harness's); 0: no two equal neighbours (default 1)
 *   C      classes (default 29; 5000 for ocr-large-vocab's alphabet)
 * N = 8 samples, float32, one thread. Prints the status,
 * how many samples the scaled kernel served and the DP cells per call.
 */
#include <ctcc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "synthetic_batch.h"

int main(int argc, char **argv) {
    enum { N = 8 };
    int T, L, C, grad, peaked, calls, repeats, i, n, served = 0;
    float *x, *g, costs[N];
    int32_t *labels, label_lengths[N], input_lengths[N];
    unsigned char used[N];
    ctcc_options opt;
    ctcc_status st = CTCC_STATUS_SUCCESS;
    size_t bytes;
    void *ws;
    if (argc < 4) {
        fprintf(stderr, "usage: %s g|l r|p CALLS [T L [repeats [C]]]\n",
                argv[0]);
        return 2;
    }
    grad = argv[1][0] == 'g';
    peaked = argv[2][0] == 'p';
    calls = atoi(argv[3]);
    T = argc > 5 ? atoi(argv[4]) : 700;
    L = argc > 5 ? atoi(argv[5]) : 100;
    repeats = argc > 6 ? atoi(argv[6]) : 1;
    C = argc > 7 ? atoi(argv[7]) : 29;
    if (T < 1 || L < 1 || 2 * L + 1 > 2 * T || C < 2) {
        fprintf(stderr, "T = %d, L = %d and C = %d do not fit\n", T, L, C);
        return 2;
    }
    if (!batch_make(&x, &g, &labels, label_lengths, input_lengths, T, N, C, L,
                    peaked, repeats)) {
        return 1;
    }
    ctcc_options_init(&opt);
    opt.kernel_used = used;
    opt.num_threads = 1;
    if (ctcc_workspace_size(label_lengths, input_lengths, T, N, C, CTCC_FLOAT32,
                            grad, &opt, &bytes) != CTCC_STATUS_SUCCESS ||
        (ws = malloc(bytes)) == NULL) {
        return 1;
    }
    for (i = 0; i < calls && st == CTCC_STATUS_SUCCESS; ++i) {
        st = ctcc_loss_f32(x, grad ? g : NULL, labels, label_lengths,
                           input_lengths, T, N, C, costs, ws, bytes, &opt);
    }
    for (n = 0; n < N; ++n) {
        served += used[n] == CTCC_KERNEL_USED_SCALED;
    }
    printf("status %d, scaled %d of %d, %ld cells per call\n", (int)st, served,
           N, (long)N * T * (2 * L + 1));
    free(ws);
    free(labels);
    free(g);
    free(x);
    return st != CTCC_STATUS_SUCCESS;
}
