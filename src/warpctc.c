/*
 * warpctc.c - warp-ctc's C API (include/warpctc/ctc.h) on top of ctcc's
 * public API. No allocation: warp-ctc's caller owns every buffer.
 */
#include "ctcc.h"
#include "warpctc/ctc.h"

#include <limits.h>
#include <stdint.h>

/* warp-ctc passes int arrays where ctcc takes int32_t ones. */
typedef char ctcc_warpctc_int_is_int32
    [sizeof(int) == sizeof(int32_t) && INT_MAX == INT32_MAX ? 1 : -1];

int get_warpctc_version(void) { return CTCC_WARPCTC_VERSION; }

const char *ctcGetStatusString(ctcStatus_t status) {
    switch (status) {
    case CTC_STATUS_SUCCESS:
        return "no error";
    case CTC_STATUS_MEMOPS_FAILED:
        return "memory operation failed";
    case CTC_STATUS_INVALID_VALUE:
        return "invalid argument value";
    case CTC_STATUS_EXECUTION_FAILED:
        return "execution failed (only CTC_CPU is supported)";
    case CTC_STATUS_UNKNOWN_ERROR:
        return "unknown error";
    }
    return "unknown ctc status";
}

/* Every error ctcc reports is about the arguments. */
static ctcStatus_t from_ctcc(ctcc_status status) {
    switch (status) {
    case CTCC_STATUS_SUCCESS:
        return CTC_STATUS_SUCCESS;
    case CTCC_STATUS_NULL_POINTER:
    case CTCC_STATUS_INVALID_BATCH_SIZE:
    case CTCC_STATUS_INVALID_ALPHABET_SIZE:
    case CTCC_STATUS_INVALID_BLANK:
    case CTCC_STATUS_INVALID_MAX_TIME:
    case CTCC_STATUS_INVALID_INPUT_LENGTH:
    case CTCC_STATUS_INVALID_LABEL_LENGTH:
    case CTCC_STATUS_LABEL_OUT_OF_RANGE:
    case CTCC_STATUS_LABEL_IS_BLANK:
    case CTCC_STATUS_WORKSPACE_TOO_SMALL:
    case CTCC_STATUS_SIZE_OVERFLOW:
    case CTCC_STATUS_INVALID_OPTION:
    case CTCC_STATUS_INVALID_DTYPE:
    case CTCC_STATUS_INVALID_BEAM:
        return CTC_STATUS_INVALID_VALUE;
    }
    return CTC_STATUS_UNKNOWN_ERROR;
}

/* Checks what ctcc cannot see (the location, warp-ctc's unsigned thread
 * count, a negative blank that ctcc would count from the end), then the
 * pointers and sizes needed to read input_lengths, and fills ctcc's
 * options and max_time, the largest input length (warp-ctc has no max_time
 * argument). ctcc checks the rest. */
static ctcStatus_t prepare(const int *label_lengths, const int *input_lengths,
                           int alphabet_size, int minibatch,
                           const ctcOptions *warp, ctcc_options *options,
                           int32_t *max_time) {
    int n, T = 0;
    if (warp->loc == CTC_GPU) {
        return CTC_STATUS_EXECUTION_FAILED;
    }
    if (warp->loc != CTC_CPU || warp->num_threads > (unsigned int)INT_MAX ||
        label_lengths == NULL || input_lengths == NULL || alphabet_size < 1 ||
        minibatch < 1 || warp->blank_label < 0 ||
        warp->blank_label >= alphabet_size) {
        return CTC_STATUS_INVALID_VALUE;
    }
    for (n = 0; n < minibatch; ++n) {
        T = input_lengths[n] > T ? input_lengths[n] : T;
    }
    ctcc_options_init(options);
    options->blank = warp->blank_label;
    options->num_threads = (int)warp->num_threads;
    options->input_kind = CTCC_INPUT_LOGITS;
    options->layout = CTCC_LAYOUT_TIME_MAJOR;
    *max_time = (int32_t)T;
    return CTC_STATUS_SUCCESS;
}

/* get_workspace_size for either precision. */
static ctcStatus_t workspace_size(const int *label_lengths,
                                  const int *input_lengths, int alphabet_size,
                                  int minibatch, ctcOptions info,
                                  ctcc_dtype dtype, size_t *size_bytes) {
    ctcc_options options;
    int32_t max_time;
    ctcStatus_t st;
    st = prepare(label_lengths, input_lengths, alphabet_size, minibatch, &info,
                 &options, &max_time);
    if (st != CTC_STATUS_SUCCESS) {
        return st;
    }
    return from_ctcc(ctcc_workspace_size(label_lengths, input_lengths, max_time,
                                         minibatch, alphabet_size, dtype, 1,
                                         &options, size_bytes));
}

/* The checks and the workspace size that both compute_ctc_loss functions
 * share: fills opts, max_time and bytes. */
static ctcStatus_t prepare_compute(const int *label_lengths,
                                   const int *input_lengths, int alphabet_size,
                                   int minibatch, const ctcOptions *options,
                                   ctcc_dtype dtype, ctcc_options *opts,
                                   int32_t *max_time, size_t *bytes) {
    ctcStatus_t st;
    st = prepare(label_lengths, input_lengths, alphabet_size, minibatch,
                 options, opts, max_time);
    if (st != CTC_STATUS_SUCCESS) {
        return st;
    }
    /* The caller sized the workspace with get_workspace_size for the same
     * lengths: recompute that size (it is also checked here). */
    return from_ctcc(ctcc_workspace_size(label_lengths, input_lengths,
                                         *max_time, minibatch, alphabet_size,
                                         dtype, 1, opts, bytes));
}

ctcStatus_t get_workspace_size(const int *const label_lengths,
                               const int *const input_lengths,
                               int alphabet_size, int minibatch,
                               ctcOptions info, size_t *size_bytes) {
    return workspace_size(label_lengths, input_lengths, alphabet_size,
                          minibatch, info, CTCC_FLOAT32, size_bytes);
}

ctcStatus_t get_workspace_size_double(const int *const label_lengths,
                                      const int *const input_lengths,
                                      int alphabet_size, int minibatch,
                                      ctcOptions info, size_t *size_bytes) {
    return workspace_size(label_lengths, input_lengths, alphabet_size,
                          minibatch, info, CTCC_FLOAT64, size_bytes);
}

ctcStatus_t compute_ctc_loss(const float *const activations, float *gradients,
                             const int *const flat_labels,
                             const int *const label_lengths,
                             const int *const input_lengths, int alphabet_size,
                             int minibatch, float *costs, void *workspace,
                             ctcOptions options) {
    ctcc_options opts;
    int32_t max_time;
    size_t bytes = 0;
    ctcStatus_t st =
        prepare_compute(label_lengths, input_lengths, alphabet_size, minibatch,
                        &options, CTCC_FLOAT32, &opts, &max_time, &bytes);
    if (st != CTC_STATUS_SUCCESS) {
        return st;
    }
    return from_ctcc(ctcc_loss_f32(activations, gradients, flat_labels,
                                   label_lengths, input_lengths, max_time,
                                   minibatch, alphabet_size, costs, workspace,
                                   bytes, &opts));
}

ctcStatus_t compute_ctc_loss_double(const double *const activations,
                                    double *gradients,
                                    const int *const flat_labels,
                                    const int *const label_lengths,
                                    const int *const input_lengths,
                                    int alphabet_size, int minibatch,
                                    double *costs, void *workspace,
                                    ctcOptions options) {
    ctcc_options opts;
    int32_t max_time;
    size_t bytes = 0;
    ctcStatus_t st =
        prepare_compute(label_lengths, input_lengths, alphabet_size, minibatch,
                        &options, CTCC_FLOAT64, &opts, &max_time, &bytes);
    if (st != CTC_STATUS_SUCCESS) {
        return st;
    }
    return from_ctcc(ctcc_loss_f64(activations, gradients, flat_labels,
                                   label_lengths, input_lengths, max_time,
                                   minibatch, alphabet_size, costs, workspace,
                                   bytes, &opts));
}
