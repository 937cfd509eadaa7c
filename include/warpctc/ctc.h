/*
 * ctc.h - warp-ctc's C API, implemented by ctcc (libctcc).
 *
 * A program written against warp-ctc's <ctc.h> compiles unchanged with the
 * folder holding this file (<prefix>/include/warpctc) on its include path
 * and links with -lctcc instead of -lwarpctc. Only the CPU is supported.
 * This header is self-contained: it does not include ctcc.h. It compiles
 * as C99 and as C++.
 *
 * Differences from warp-ctc
 * -------------------------
 *   - loc = CTC_GPU returns CTC_STATUS_EXECUTION_FAILED (what a warp-ctc
 *     built without CUDA returns) and writes nothing. The `stream` member
 *     exists for source compatibility only and is never read.
 *   - ctcOptions and ctcComputeInfo have plain members instead of warp-ctc's
 *     anonymous union (not C99): num_threads and stream no longer share
 *     storage, and stream comes after blank_label, so that positional
 *     initialisers such as { CTC_CPU, 4, 0 } keep their meaning. The layout
 *     differs from warp-ctc's: recompile, do not just relink.
 *   - Arguments are validated before anything is written (see the status
 *     list below); an invalid call leaves costs, gradients and the
 *     workspace untouched.
 *   - Infeasible samples (fewer frames than the labels need) get cost
 *     +INFINITY and a zero gradient.
 *   - Calls are safe in a process created by fork(), even after the
 *     parent ran multi-threaded ones; there they run on one thread (see
 *     "Fork safety" in ctcc.h).
 *
 * Array layouts (T = the largest input_lengths[n], N = minibatch,
 * C = alphabet_size)
 *   activations, gradients  float [T, N, C] (double for the _double
 *                           functions), element (t, n, c) at index
 *                           (t * N + n) * C + c. Unnormalised: a softmax
 *                           over the alphabet is applied inside. Frames
 *                           t >= input_lengths[n] of sample n are not read
 *                           and get gradient 0; frames t >= T are neither
 *                           read nor written.
 *   flat_labels             the N label sequences concatenated, sample n
 *                           taking label_lengths[n] entries, each in
 *                           [0, C) and not the blank. May be NULL when
 *                           every label length is 0.
 *   costs                   float [N] (double for compute_ctc_loss_double),
 *                           -log p(labels | activations).
 */
#ifndef CTCC_WARPCTC_CTC_H
#define CTCC_WARPCTC_CTC_H

#include <stddef.h> /* size_t */

/* The value get_warpctc_version() returns. */
#define CTCC_WARPCTC_VERSION 2

/* Marks the exported functions; follows the rules of CTCC_API in ctcc.h
 * (define CTCC_STATIC for a static libctcc). */
#if defined(CTCC_STATIC)
#define CTCC_WARPCTC_API
#elif defined(_WIN32) || defined(__CYGWIN__)
#if defined(CTCC_BUILDING)
#define CTCC_WARPCTC_API __declspec(dllexport)
#else
#define CTCC_WARPCTC_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define CTCC_WARPCTC_API __attribute__((visibility("default")))
#else
#define CTCC_WARPCTC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The GPU stream handle, declared without CUDA's or HIP's headers, as
 * warp-ctc declares it: GPUstream is CUDA's `struct CUstream_st *` (what
 * CUstream and cudaStream_t are), or HIP's `struct ihipStream_t *` (what
 * hipStream_t is) when WARPCTC_WITH_HIP is defined, so that
 * `options.stream = stream;` compiles in GPU code. The older name CUstream
 * is provided in C++ and C11 (which allow repeating an identical typedef,
 * as cuda.h also has it) but not in C99. */
struct CUstream_st;
#ifdef WARPCTC_WITH_HIP
struct ihipStream_t;
typedef struct ihipStream_t *GPUstream;
#else
typedef struct CUstream_st *GPUstream;
#endif
#if defined(__cplusplus) ||                                                    \
    (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L)
typedef struct CUstream_st *CUstream;
#endif

typedef enum {
    CTC_STATUS_SUCCESS = 0,
    /* Not returned by ctcc (it never allocates). */
    CTC_STATUS_MEMOPS_FAILED = 1,
    /* An invalid argument: NULL pointer, alphabet_size or minibatch < 1, a
     * negative length, a label outside [0, alphabet_size) or equal to the
     * blank, blank_label outside [0, alphabet_size), num_threads > INT_MAX,
     * an unknown loc, or sizes that overflow size_t. */
    CTC_STATUS_INVALID_VALUE = 2,
    /* loc = CTC_GPU: this library runs on the CPU only. */
    CTC_STATUS_EXECUTION_FAILED = 3,
    /* Any other failure (none is known). */
    CTC_STATUS_UNKNOWN_ERROR = 4
} ctcStatus_t;

/* Returns CTCC_WARPCTC_VERSION (2), the number current warp-ctc releases
 * return, so that version checks written for warp-ctc pass. ctcc's own
 * version is ctcc_version_number() in ctcc.h. */
CTCC_WARPCTC_API int get_warpctc_version(void);

/* Returns a static English description of `status`; unknown values give
 * "unknown ctc status". Never NULL; do not free. */
CTCC_WARPCTC_API const char *ctcGetStatusString(ctcStatus_t status);

typedef enum { CTC_CPU = 0, CTC_GPU = 1 } ctcComputeLocation;

/* warp-ctc's older options struct; provided for source compatibility. */
typedef struct ctcComputeInfo {
    ctcComputeLocation loc;
    unsigned int num_threads;
    GPUstream stream; /* never read */
} ctcComputeInfo;

/* Options of get_workspace_size and compute_ctc_loss. Zero-initialise it
 * (memset, `= {0}`, or `ctcOptions o{};` in C++), then set the fields. */
typedef struct ctcOptions {
    /* CTC_CPU; CTC_GPU gives CTC_STATUS_EXECUTION_FAILED. */
    ctcComputeLocation loc;
    /* OpenMP threads for this call; 0 means ctcc's default (OpenMP's
     * maximum). Ignored when libctcc was built without OpenMP. */
    unsigned int num_threads;
    /* Index of the blank class, in [0, alphabet_size). */
    int blank_label;
    /* Source compatibility only; never read. */
    GPUstream stream;
} ctcOptions;

/* Computes in *size_bytes the bytes of workspace compute_ctc_loss needs for
 * these lengths (the gradient included; the same size serves loss-only
 * calls). The size does not depend on the label values. *size_bytes is
 * written only on success. get_workspace_size_double does the same for
 * compute_ctc_loss_double. */
CTCC_WARPCTC_API ctcStatus_t get_workspace_size(const int *const label_lengths,
                                                const int *const input_lengths,
                                                int alphabet_size,
                                                int minibatch, ctcOptions info,
                                                size_t *size_bytes);

/* Computes costs[n] for every sample and, when gradients is not NULL, the
 * gradient of each cost with respect to the activations (softmax minus the
 * CTC posterior).
 *
 * workspace must hold at least the bytes get_workspace_size reported for
 * the same label_lengths, input_lengths, alphabet_size, minibatch and
 * options; its size is not passed, so it cannot be checked here. */
CTCC_WARPCTC_API ctcStatus_t compute_ctc_loss(const float *const activations,
                                              float *gradients,
                                              const int *const flat_labels,
                                              const int *const label_lengths,
                                              const int *const input_lengths,
                                              int alphabet_size, int minibatch,
                                              float *costs, void *workspace,
                                              ctcOptions options);

/* The float64 versions, as in current warp-ctc: the same arguments,
 * checks and statuses with double activations, gradients and costs,
 * computed by ctcc's float64 kernel (ctcc_loss_f64). The workspace must
 * hold the bytes get_workspace_size_double reported. */
CTCC_WARPCTC_API ctcStatus_t get_workspace_size_double(
    const int *const label_lengths, const int *const input_lengths,
    int alphabet_size, int minibatch, ctcOptions info, size_t *size_bytes);

CTCC_WARPCTC_API ctcStatus_t compute_ctc_loss_double(
    const double *const activations, double *gradients,
    const int *const flat_labels, const int *const label_lengths,
    const int *const input_lengths, int alphabet_size, int minibatch,
    double *costs, void *workspace, ctcOptions options);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CTCC_WARPCTC_CTC_H */
