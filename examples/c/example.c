/*
 * example.c - computing a CTC loss and its gradient with ctcc.
 *
 * A batch of two samples, float32, time-major inputs [T][N][C], blank = 0.
 * Build (after installing ctcc):
 *     cc example.c $(pkg-config --cflags --libs ctcc) -o example
 * or, from CMake: find_package(ctcc REQUIRED) and link ctcc::ctcc.
 * These flags are all a program that uses ctcc needs: libctcc brings its
 * own dependencies (libm, OpenMP). This example uses no maths function
 * itself, so it needs no -lm either; a program that calls sin() does.
 */
#include <ctcc.h>

#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TIME 6 /* T: frames in the inputs array */
#define BATCH 2    /* N: samples */
#define ALPHABET 5 /* C: classes, the blank (class 0) included */

/* Prints a readable message for a failed call and returns 1, else 0. */
static int failed(const char *what, ctcc_status status) {
    if (status == CTCC_STATUS_SUCCESS)
        return 0;
    fprintf(stderr, "%s failed: %s (status %d)\n", what,
            ctcc_status_string(status), (int)status);
    return 1;
}

int main(void) {
    /* Sample 0 reads all 6 frames and has labels "1 2 2" (the repeated 2
     * needs a blank between its copies, so it needs at least 4 frames).
     * Sample 1 reads only its first 4 frames and has labels "3 4". */
    const int32_t input_lengths[BATCH] = {6, 4};
    const int32_t label_lengths[BATCH] = {3, 2};
    const int32_t labels[] = {1, 2, 2, /* sample 0 */
                              3, 4};   /* sample 1 */

    float logits[MAX_TIME * BATCH * ALPHABET];
    float gradients[MAX_TIME * BATCH * ALPHABET];
    float costs[BATCH];
    ctcc_options options;
    ctcc_status status;
    size_t workspace_bytes = 0;
    void *workspace;
    double gradient_sum = 0.0;
    unsigned long state = 12345u;
    int t, n, c;

    /* Some made-up network outputs: pseudo-random values in [-2, 2).
     * Element (t, n, c) of a time-major array lives at index
     * (t * N + n) * C + c. Frames past a sample's input length are never
     * read (here: t = 4, 5 of sample 1). */
    for (t = 0; t < MAX_TIME; t++)
        for (n = 0; n < BATCH; n++)
            for (c = 0; c < ALPHABET; c++) {
                state = (state * 1103515245u + 12345u) & 0x7fffffffu;
                logits[(t * BATCH + n) * ALPHABET + c] =
                    (float)(state >> 16) / 8192.0f - 2.0f;
            }

    /* Always start from the defaults, then change what you need. The
     * defaults are: blank 0, logits (softmax applied inside), time-major,
     * all OpenMP threads, infeasible samples cost +infinity. */
    ctcc_options_init(&options);
    options.blank = 0;
    options.layout = CTCC_LAYOUT_TIME_MAJOR;
    options.input_kind = CTCC_INPUT_LOGITS;

    /* 1. Ask how much scratch memory the call needs. The answer depends only
     *    on the lengths, so it can be reused for batches of the same shape. */
    status = ctcc_workspace_size(label_lengths, input_lengths, MAX_TIME, BATCH,
                                 ALPHABET, CTCC_FLOAT32, /*with_gradient=*/1,
                                 &options, &workspace_bytes);
    if (failed("ctcc_workspace_size", status))
        return 1;

    /* 2. Allocate it. ctcc itself never allocates; any alignment is fine. */
    workspace = malloc(workspace_bytes > 0 ? workspace_bytes : 1);
    if (workspace == NULL) {
        fprintf(stderr, "out of memory (%lu bytes)\n",
                (unsigned long)workspace_bytes);
        return 1;
    }

    /* 3. Compute the costs and the gradient w.r.t. the logits. Pass NULL
     *    instead of `gradients` (and with_gradient = 0 above) to get the
     *    costs only. */
    status = ctcc_loss_f32(logits, gradients, labels, label_lengths,
                           input_lengths, MAX_TIME, BATCH, ALPHABET, costs,
                           workspace, workspace_bytes, &options);
    free(workspace);
    if (failed("ctcc_loss_f32", status))
        return 1;

    /* 4. Use the results. For logits, each frame's gradient is
     *    softmax - posterior, whose entries sum to 0; frames past an input
     *    length get gradient 0. */
    for (n = 0; n < BATCH; n++)
        printf("cost[%d] = %.6f\n", n, costs[n]);
    for (t = 0; t < MAX_TIME * BATCH * ALPHABET; t++)
        gradient_sum += gradients[t];
    printf("sum of the gradient = %.3g\n", gradient_sum);

    /* Sanity checks so that this example doubles as a smoke test: finite
     * positive costs (NaN fails both comparisons), a gradient summing to 0. */
    for (n = 0; n < BATCH; n++)
        if (!(costs[n] > 0.0f && costs[n] <= FLT_MAX))
            return 1;
    return gradient_sum > -1e-4 && gradient_sum < 1e-4 ? 0 : 1;
}
