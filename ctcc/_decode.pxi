# _decode.pxi - typed calls into the C decoders, included by _core.pyx.
# Arguments arrive validated and converted by ctcc._decode.

from ctcc.libctcc cimport (
    ctcc_beam_search_decode_f32,
    ctcc_beam_search_decode_f64,
    ctcc_beam_workspace_size,
    ctcc_greedy_decode_f32,
    ctcc_greedy_decode_f64,
)


cdef void _decode_options(ctcc_options *opts, int blank, int num_threads,
                          bint log_probs, bint batch_major) noexcept:
    ctcc_options_init(opts)
    opts.blank = blank
    opts.num_threads = num_threads
    opts.input_kind = CTCC_INPUT_LOG_PROBS if log_probs else CTCC_INPUT_LOGITS
    opts.layout = CTCC_LAYOUT_BATCH_MAJOR if batch_major else CTCC_LAYOUT_TIME_MAJOR


def greedy_decode_raw(const floating[::1] inputs,
                      const int32_t[::1] input_lengths,
                      int32_t[::1] decoded,
                      int32_t[::1] decoded_lengths,
                      floating[::1] scores,
                      int max_time, int batch_size, int alphabet_size,
                      int blank, int num_threads, bint log_probs,
                      bint batch_major):
    """Runs ctcc_greedy_decode_f32/f64 on flat, C-contiguous buffers:
    decoded [N * T], decoded_lengths [N], scores [N] or empty (no scores:
    the log-softmax normaliser is then not computed)."""
    cdef ctcc_options opts
    cdef ctcc_status status
    cdef floating *score_ptr = &scores[0] if scores.shape[0] > 0 else NULL
    _decode_options(&opts, blank, num_threads, log_probs, batch_major)
    with nogil:
        if floating is float:
            status = ctcc_greedy_decode_f32(
                &inputs[0], int_ptr(input_lengths), max_time, batch_size,
                alphabet_size, &decoded[0], &decoded_lengths[0], score_ptr,
                &opts)
        else:
            status = ctcc_greedy_decode_f64(
                &inputs[0], int_ptr(input_lengths), max_time, batch_size,
                alphabet_size, &decoded[0], &decoded_lengths[0], score_ptr,
                &opts)
    check_status(status, "ctcc_greedy_decode")


def beam_search_decode_raw(const floating[::1] inputs,
                           const int32_t[::1] input_lengths,
                           int32_t[::1] paths,
                           int32_t[::1] path_lengths,
                           floating[::1] scores,
                           const double[::1] log_prior,
                           int max_time, int batch_size, int alphabet_size,
                           int beam_width, int top_paths,
                           double blank_penalty, int blank, int num_threads,
                           bint log_probs, bint batch_major):
    """Runs ctcc_beam_search_decode_f32/f64 on flat, C-contiguous buffers:
    paths [N * top_paths * T], path_lengths [N * top_paths], scores
    [N * top_paths]; log_prior is empty (none) or [C]."""
    cdef ctcc_options opts
    cdef ctcc_status status
    cdef size_t nbytes = 0
    cdef const double *prior = &log_prior[0] if log_prior.shape[0] > 0 else NULL
    _decode_options(&opts, blank, num_threads, log_probs, batch_major)
    with nogil:
        status = ctcc_beam_workspace_size(int_ptr(input_lengths), max_time,
                                          batch_size, alphabet_size,
                                          beam_width, top_paths, &opts,
                                          &nbytes)
    check_status(status, "ctcc_beam_workspace_size")
    cdef unsigned char[::1] buffer = _workspace(nbytes)
    cdef void *workspace = <void *>&buffer[0]
    with nogil:
        if floating is float:
            status = ctcc_beam_search_decode_f32(
                &inputs[0], int_ptr(input_lengths), max_time, batch_size,
                alphabet_size, beam_width, top_paths, blank_penalty, prior,
                &paths[0], &path_lengths[0], &scores[0], workspace, nbytes,
                &opts)
        else:
            status = ctcc_beam_search_decode_f64(
                &inputs[0], int_ptr(input_lengths), max_time, batch_size,
                alphabet_size, beam_width, top_paths, blank_penalty, prior,
                &paths[0], &path_lengths[0], &scores[0], workspace, nbytes,
                &opts)
    check_status(status, "ctcc_beam_search_decode")
