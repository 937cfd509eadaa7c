# libctcc.pxd - Cython declarations mirroring include/ctcc.h, the C API.
#
# Keep this file in step with the header: one declaration per C declaration,
# in the same order. Downstream Cython code can `cimport ctcc.libctcc`.

from libc.stdint cimport int32_t


cdef extern from "ctcc.h" nogil:
    # Version
    int CTCC_VERSION_MAJOR
    int CTCC_VERSION_MINOR
    int CTCC_VERSION_PATCH
    int CTCC_VERSION_NUMBER
    const char *CTCC_VERSION_STRING

    # Status codes
    ctypedef enum ctcc_status:
        CTCC_STATUS_SUCCESS
        CTCC_STATUS_NULL_POINTER
        CTCC_STATUS_INVALID_BATCH_SIZE
        CTCC_STATUS_INVALID_ALPHABET_SIZE
        CTCC_STATUS_INVALID_BLANK
        CTCC_STATUS_INVALID_MAX_TIME
        CTCC_STATUS_INVALID_INPUT_LENGTH
        CTCC_STATUS_INVALID_LABEL_LENGTH
        CTCC_STATUS_LABEL_OUT_OF_RANGE
        CTCC_STATUS_LABEL_IS_BLANK
        CTCC_STATUS_WORKSPACE_TOO_SMALL
        CTCC_STATUS_SIZE_OVERFLOW
        CTCC_STATUS_INVALID_OPTION
        CTCC_STATUS_INVALID_DTYPE
        CTCC_STATUS_INVALID_BEAM

    const char *ctcc_status_string(ctcc_status status)

    # Library information
    const char *ctcc_version_string()
    int ctcc_version_number()
    int ctcc_openmp_enabled()
    int ctcc_default_num_threads()

    # Options
    ctypedef enum ctcc_layout:
        CTCC_LAYOUT_TIME_MAJOR
        CTCC_LAYOUT_BATCH_MAJOR

    ctypedef enum ctcc_input_kind:
        CTCC_INPUT_LOGITS
        CTCC_INPUT_LOG_PROBS

    ctypedef enum ctcc_dtype:
        CTCC_FLOAT32
        CTCC_FLOAT64

    ctypedef enum ctcc_kernel:
        CTCC_KERNEL_AUTO
        CTCC_KERNEL_LOG_SPACE

    int CTCC_KERNEL_USED_SCALED
    int CTCC_KERNEL_USED_LOG_SPACE

    ctypedef enum ctcc_align_end_tie:
        CTCC_ALIGN_END_TIE_BLANK
        CTCC_ALIGN_END_TIE_LABEL

    ctypedef struct ctcc_options:
        size_t struct_size
        int blank
        int num_threads
        ctcc_input_kind input_kind
        ctcc_layout layout
        int zero_infinity
        double alpha
        double gamma
        ctcc_kernel kernel
        unsigned char *kernel_used
        ctcc_align_end_tie align_end_tie

    double CTCC_ALPHA_NONE

    void ctcc_options_init(ctcc_options *options)

    # Workspace
    ctcc_status ctcc_workspace_size(const int32_t *label_lengths,
                                    const int32_t *input_lengths,
                                    int32_t max_time, int32_t batch_size,
                                    int32_t alphabet_size, ctcc_dtype dtype,
                                    int with_gradient,
                                    const ctcc_options *options,
                                    size_t *size_bytes)

    # Loss and gradient
    ctcc_status ctcc_loss_f32(const float *inputs, float *gradients,
                              const int32_t *flat_labels,
                              const int32_t *label_lengths,
                              const int32_t *input_lengths,
                              int32_t max_time, int32_t batch_size,
                              int32_t alphabet_size, float *costs,
                              void *workspace, size_t workspace_bytes,
                              const ctcc_options *options)

    ctcc_status ctcc_loss_f64(const double *inputs, double *gradients,
                              const int32_t *flat_labels,
                              const int32_t *label_lengths,
                              const int32_t *input_lengths,
                              int32_t max_time, int32_t batch_size,
                              int32_t alphabet_size, double *costs,
                              void *workspace, size_t workspace_bytes,
                              const ctcc_options *options)

    # Posteriors (training targets) and frame weights
    ctcc_status ctcc_loss_posteriors_f32(
        const float *inputs, float *gradients, float *posteriors,
        float *frame_weights, const int32_t *flat_labels,
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        float *costs, void *workspace, size_t workspace_bytes,
        const ctcc_options *options)

    ctcc_status ctcc_loss_posteriors_f64(
        const double *inputs, double *gradients, double *posteriors,
        double *frame_weights, const int32_t *flat_labels,
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        double *costs, void *workspace, size_t workspace_bytes,
        const ctcc_options *options)

    # Forced alignment (Viterbi)
    ctcc_status ctcc_align_workspace_size(
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        const ctcc_options *options, size_t *size_bytes)

    ctcc_status ctcc_align_f32(
        const float *inputs, const int32_t *flat_labels,
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        int32_t *frames, int32_t *spans, float *scores, void *workspace,
        size_t workspace_bytes, const ctcc_options *options)

    ctcc_status ctcc_align_f64(
        const double *inputs, const int32_t *flat_labels,
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        int32_t *frames, int32_t *spans, double *scores, void *workspace,
        size_t workspace_bytes, const ctcc_options *options)

    int32_t CTCC_LABEL_STAR
    double CTCC_STAR_PENALTY_DEFAULT

    ctcc_status ctcc_align_star_f32(
        const float *inputs, const int32_t *flat_labels,
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        int32_t *frames, int32_t *spans, float *scores, void *workspace,
        size_t workspace_bytes, const ctcc_options *options,
        double star_penalty)

    ctcc_status ctcc_align_star_f64(
        const double *inputs, const int32_t *flat_labels,
        const int32_t *label_lengths, const int32_t *input_lengths,
        int32_t max_time, int32_t batch_size, int32_t alphabet_size,
        int32_t *frames, int32_t *spans, double *scores, void *workspace,
        size_t workspace_bytes, const ctcc_options *options,
        double star_penalty)

    # Decoding
    ctcc_status ctcc_greedy_decode_f32(
        const float *inputs, const int32_t *input_lengths, int32_t max_time,
        int32_t batch_size, int32_t alphabet_size, int32_t *decoded,
        int32_t *decoded_lengths, float *scores, const ctcc_options *options)

    ctcc_status ctcc_greedy_decode_f64(
        const double *inputs, const int32_t *input_lengths, int32_t max_time,
        int32_t batch_size, int32_t alphabet_size, int32_t *decoded,
        int32_t *decoded_lengths, double *scores, const ctcc_options *options)

    ctcc_status ctcc_beam_workspace_size(
        const int32_t *input_lengths, int32_t max_time, int32_t batch_size,
        int32_t alphabet_size, int32_t beam_width, int32_t top_paths,
        const ctcc_options *options, size_t *size_bytes)

    ctcc_status ctcc_beam_search_decode_f32(
        const float *inputs, const int32_t *input_lengths, int32_t max_time,
        int32_t batch_size, int32_t alphabet_size, int32_t beam_width,
        int32_t top_paths, double blank_penalty, const double *log_prior,
        int32_t *paths, int32_t *path_lengths, float *scores, void *workspace,
        size_t workspace_bytes, const ctcc_options *options)

    ctcc_status ctcc_beam_search_decode_f64(
        const double *inputs, const int32_t *input_lengths, int32_t max_time,
        int32_t batch_size, int32_t alphabet_size, int32_t beam_width,
        int32_t top_paths, double blank_penalty, const double *log_prior,
        int32_t *paths, int32_t *path_lengths, double *scores, void *workspace,
        size_t workspace_bytes, const ctcc_options *options)
