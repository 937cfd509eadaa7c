# Forced alignment (Viterbi): included at the end of _core.pyx, so that it
# shares check_status, _workspace and int_ptr with the loss.

from ctcc.libctcc cimport (
    CTCC_ALIGN_END_TIE_BLANK,
    CTCC_ALIGN_END_TIE_LABEL,
    CTCC_LABEL_STAR,
    CTCC_STAR_PENALTY_DEFAULT,
    ctcc_align_star_f32,
    ctcc_align_star_f64,
    ctcc_align_workspace_size,
)

# The C header's constants, for ctcc._align to check its own against.
LABEL_STAR = CTCC_LABEL_STAR
STAR_PENALTY_DEFAULT = CTCC_STAR_PENALTY_DEFAULT


def forced_align_raw(const floating[::1] inputs,
                     int32_t[::1] frames,
                     int32_t[::1] spans,
                     floating[::1] scores,
                     const int32_t[::1] flat_labels,
                     const int32_t[::1] label_lengths,
                     const int32_t[::1] input_lengths,
                     int max_time, int batch_size, int alphabet_size,
                     int blank, int num_threads, bint log_probs,
                     bint batch_major,
                     double star_penalty=CTCC_STAR_PENALTY_DEFAULT,
                     bint end_on_label=False):
    """Runs ctcc_align_star_f32/f64 on flat, C-contiguous buffers:
    ``frames`` [N * T], ``spans`` [2 * sum(label_lengths)], ``scores``
    [N]; ``end_on_label`` sets align_end_tie to CTCC_ALIGN_END_TIE_LABEL."""
    cdef ctcc_options opts
    cdef ctcc_status status
    cdef size_t nbytes = 0
    cdef void *workspace = NULL
    cdef int32_t *spans_ptr = &spans[0] if spans.shape[0] > 0 else NULL
    cdef int32_t *frames_ptr = &frames[0] if frames.shape[0] > 0 else NULL
    cdef int32_t dummy_frame = 0

    ctcc_options_init(&opts)
    opts.blank = blank
    opts.num_threads = num_threads
    opts.input_kind = CTCC_INPUT_LOG_PROBS if log_probs else CTCC_INPUT_LOGITS
    opts.layout = CTCC_LAYOUT_BATCH_MAJOR if batch_major else CTCC_LAYOUT_TIME_MAJOR
    opts.align_end_tie = (CTCC_ALIGN_END_TIE_LABEL if end_on_label
                          else CTCC_ALIGN_END_TIE_BLANK)
    if frames_ptr == NULL:
        # max_time = 0: nothing is written, but the pointer must be set.
        frames_ptr = &dummy_frame

    with nogil:
        status = ctcc_align_workspace_size(int_ptr(label_lengths),
                                           int_ptr(input_lengths), max_time,
                                           batch_size, alphabet_size, &opts,
                                           &nbytes)
    check_status(status, "ctcc_align_workspace_size")
    cdef unsigned char[::1] buffer = _workspace(nbytes)
    workspace = <void *>&buffer[0]
    with nogil:
        if floating is float:
            status = ctcc_align_star_f32(
                &inputs[0], int_ptr(flat_labels), int_ptr(label_lengths),
                int_ptr(input_lengths), max_time, batch_size, alphabet_size,
                frames_ptr, spans_ptr, &scores[0], workspace, nbytes, &opts,
                star_penalty)
        else:
            status = ctcc_align_star_f64(
                &inputs[0], int_ptr(flat_labels), int_ptr(label_lengths),
                int_ptr(input_lengths), max_time, batch_size, alphabet_size,
                frames_ptr, spans_ptr, &scores[0], workspace, nbytes, &opts,
                star_penalty)
    check_status(status, "ctcc_align")
