/*
 * info.c - version, status strings, build information and option defaults.
 */
#include "internal.h"

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#endif

const char *ctcc_version_string(void) { return CTCC_VERSION_STRING; }

int ctcc_version_number(void) { return CTCC_VERSION_NUMBER; }

int ctcc_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int ctcc_default_num_threads(void) {
#ifdef _OPENMP
    if (ctcc_in_forked_child()) {
        return 1;
    }
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *ctcc_status_string(ctcc_status status) {
    switch (status) {
    case CTCC_STATUS_SUCCESS:
        return "success";
    case CTCC_STATUS_NULL_POINTER:
        return "a required pointer argument is NULL";
    case CTCC_STATUS_INVALID_BATCH_SIZE:
        return "batch size must be at least 1";
    case CTCC_STATUS_INVALID_ALPHABET_SIZE:
        return "alphabet size must be at least 1";
    case CTCC_STATUS_INVALID_BLANK:
        return "blank index is outside [-alphabet_size, alphabet_size)";
    case CTCC_STATUS_INVALID_MAX_TIME:
        return "max_time must be non-negative";
    case CTCC_STATUS_INVALID_INPUT_LENGTH:
        return "an input length is negative or greater than max_time";
    case CTCC_STATUS_INVALID_LABEL_LENGTH:
        return "a label length is negative";
    case CTCC_STATUS_LABEL_OUT_OF_RANGE:
        return "a label is outside [0, alphabet_size)";
    case CTCC_STATUS_LABEL_IS_BLANK:
        return "a label equals the blank index";
    case CTCC_STATUS_WORKSPACE_TOO_SMALL:
        return "workspace is smaller than ctcc_workspace_size() requires";
    case CTCC_STATUS_SIZE_OVERFLOW:
        return "an array or workspace size overflows size_t";
    case CTCC_STATUS_INVALID_OPTION:
        return "an option has an invalid value";
    case CTCC_STATUS_INVALID_DTYPE:
        return "unknown dtype";
    case CTCC_STATUS_INVALID_BEAM:
        return "beam_width < 1, top_paths outside [1, beam_width], or a "
               "non-finite beam search parameter";
    }
    return "unknown status";
}

/* Sets field f to v when the caller's struct holds it entirely. */
#define CTCC_INIT_FIELD(o, size, f, v)                                         \
    do {                                                                       \
        if ((size) >= offsetof(ctcc_options, f) + sizeof((o)->f)) {            \
            (o)->f = (v);                                                      \
        }                                                                      \
    } while (0)

void ctcc_options_init_size(ctcc_options *options, size_t struct_size) {
    if (options == NULL ||
        struct_size < offsetof(ctcc_options, zero_infinity) + sizeof(int)) {
        return;
    }
    options->struct_size = struct_size;
    options->blank = 0;
    options->num_threads = 0;
    options->input_kind = CTCC_INPUT_LOGITS;
    options->layout = CTCC_LAYOUT_TIME_MAJOR;
    options->zero_infinity = 0;
    CTCC_INIT_FIELD(options, struct_size, alpha, CTCC_ALPHA_NONE);
    CTCC_INIT_FIELD(options, struct_size, gamma, 0.0);
    CTCC_INIT_FIELD(options, struct_size, kernel, CTCC_KERNEL_AUTO);
    CTCC_INIT_FIELD(options, struct_size, kernel_used, NULL);
    CTCC_INIT_FIELD(options, struct_size, align_end_tie,
                    CTCC_ALIGN_END_TIE_BLANK);
}

/* The exported function behind the header's macro, for programs built
 * against 0.2, whose struct ends with gamma: writing more would overrun
 * it. */
#undef ctcc_options_init
void ctcc_options_init(ctcc_options *options) {
    ctcc_options_init_size(options, offsetof(ctcc_options, gamma) +
                                        sizeof(options->gamma));
}
