/*
 * Header check: the warp-ctc compatibility header <ctc.h> must compile on
 * its own as strict C99 (-std=c99 -Wall -Wextra -Wpedantic -Werror), be
 * idempotent, keep warp-ctc's enumeration values, and accept the ways
 * warp-ctc programs fill their options.
 */
#include <ctc.h>
#include <ctc.h> /* the include guard must make this harmless */

#ifdef CTCC_H
#error "ctc.h must not pull in ctcc.h"
#endif

#include <stdio.h>
#include <string.h>

/* Compile-time checks without C11's _Static_assert. */
#define HEADER_CHECK(name, cond)                                               \
    typedef char header_check_##name[(cond) ? 1 : -1]

HEADER_CHECK(success, CTC_STATUS_SUCCESS == 0);
HEADER_CHECK(memops, CTC_STATUS_MEMOPS_FAILED == 1);
HEADER_CHECK(invalid, CTC_STATUS_INVALID_VALUE == 2);
HEADER_CHECK(execution, CTC_STATUS_EXECUTION_FAILED == 3);
HEADER_CHECK(unknown, CTC_STATUS_UNKNOWN_ERROR == 4);
HEADER_CHECK(locations, CTC_CPU == 0 && CTC_GPU == 1);

/* The function types warp-ctc declares. */
typedef ctcStatus_t (*workspace_fn)(const int *const, const int *const, int,
                                    int, ctcOptions, size_t *);
typedef ctcStatus_t (*loss_fn)(const float *const, float *, const int *const,
                               const int *const, const int *const, int, int,
                               float *, void *, ctcOptions);
typedef ctcStatus_t (*loss_double_fn)(const double *const, double *,
                                      const int *const, const int *const,
                                      const int *const, int, int, double *,
                                      void *, ctcOptions);

int main(void) {
    workspace_fn ws = &get_workspace_size;
    loss_fn loss = &compute_ctc_loss;
    workspace_fn ws_double = &get_workspace_size_double;
    loss_double_fn loss_double = &compute_ctc_loss_double;
    GPUstream gpu_stream = NULL;
    struct ctcOptions tagged;
    ctcOptions options;
    ctcOptions positional = {CTC_CPU, 4, 3, NULL};
    ctcOptions zero = {0};
    ctcComputeInfo info;
    struct ctcComputeInfo info2;
    struct CUstream_st *no_stream = NULL;
    const char *text = ctcGetStatusString(CTC_STATUS_SUCCESS);

    memset(&options, 0, sizeof(options));
    options.loc = CTC_CPU;
    options.num_threads = 1;
    options.blank_label = 0;
    options.stream = no_stream;
    options.stream = gpu_stream;
    tagged = options;
    memset(&info, 0, sizeof(info));
    info.loc = CTC_CPU;
    info.num_threads = 2;
    info.stream = NULL;
    info2 = info;

    printf("warp-ctc API version %d (C99): %s\n", get_warpctc_version(), text);
    if (ws == NULL || loss == NULL || ws_double == NULL ||
        loss_double == NULL || text == NULL)
        return 1;
    if (positional.num_threads != 4 || positional.blank_label != 3 ||
        positional.stream != NULL || zero.loc != CTC_CPU)
        return 1;
    if (tagged.num_threads != 1 || info2.num_threads != 2)
        return 1;
    return get_warpctc_version() == CTCC_WARPCTC_VERSION ? 0 : 1;
}
