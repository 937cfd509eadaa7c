/*
 * validate.c - argument checks and workspace sizing.
 *
 * Everything here runs before the loss writes a single byte, so that an
 * invalid call leaves every output untouched.
 */
#include "internal.h"
#include "size_math.h"

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* The size of the options struct of version 0.1, the first one. A caller's
 * struct must be at least this large; fields appended later are read only
 * when the caller's struct_size covers them. */
#define CTCC_OPTIONS_MIN_SIZE                                                  \
    (offsetof(ctcc_options, zero_infinity) + sizeof(int))

ctcc_status ctcc_resolve_options(const ctcc_options *options,
                                 int32_t alphabet_size,
                                 ctcc_resolved_options *out) {
    ctcc_options defaults;
    if (options == NULL) {
        ctcc_options_init(&defaults);
        options = &defaults;
    }
    if (options->struct_size < CTCC_OPTIONS_MIN_SIZE) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (options->num_threads < 0) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (options->input_kind != CTCC_INPUT_LOGITS &&
        options->input_kind != CTCC_INPUT_LOG_PROBS) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (options->layout != CTCC_LAYOUT_TIME_MAJOR &&
        options->layout != CTCC_LAYOUT_BATCH_MAJOR) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (options->blank < -alphabet_size || options->blank >= alphabet_size) {
        return CTCC_STATUS_INVALID_BLANK;
    }
    out->blank =
        options->blank < 0 ? options->blank + alphabet_size : options->blank;
    out->num_threads = options->num_threads;
    out->input_kind = options->input_kind;
    out->layout = options->layout;
    out->zero_infinity = options->zero_infinity != 0;
    out->use_alpha = 0;
    out->alpha = CTCC_ALPHA_NONE;
    out->gamma = 0.0;
    /* Fields of 0.2, read only from a struct that has them. */
    if (options->struct_size >=
        offsetof(ctcc_options, gamma) + sizeof(options->gamma)) {
        const double alpha = options->alpha, gamma = options->gamma;
        if (alpha != CTCC_ALPHA_NONE && !(alpha >= 0.0 && alpha <= 1.0)) {
            return CTCC_STATUS_INVALID_OPTION;
        }
        if (!(gamma >= 0.0 && gamma <= 1e300)) {
            return CTCC_STATUS_INVALID_OPTION; /* negative, NaN or inf */
        }
        out->use_alpha = alpha != CTCC_ALPHA_NONE;
        out->alpha = alpha;
        out->gamma = gamma;
    }
    out->kernel = CTCC_KERNEL_AUTO;
    out->kernel_used = NULL;
    /* Fields of 0.3. */
    if (options->struct_size >=
        offsetof(ctcc_options, kernel_used) + sizeof(options->kernel_used)) {
        if (options->kernel != CTCC_KERNEL_AUTO &&
            options->kernel != CTCC_KERNEL_LOG_SPACE) {
            return CTCC_STATUS_INVALID_OPTION;
        }
        out->kernel = options->kernel;
        out->kernel_used = options->kernel_used;
    }
    out->align_end_tie = CTCC_ALIGN_END_TIE_BLANK;
    if (options->struct_size >= offsetof(ctcc_options, align_end_tie) +
                                    sizeof(options->align_end_tie)) {
        if (options->align_end_tie != CTCC_ALIGN_END_TIE_BLANK &&
            options->align_end_tie != CTCC_ALIGN_END_TIE_LABEL) {
            return CTCC_STATUS_INVALID_OPTION;
        }
        out->align_end_tie = options->align_end_tie;
    }
    return CTCC_STATUS_SUCCESS;
}

ctcc_status ctcc_check_shapes(const int32_t *label_lengths,
                              const int32_t *input_lengths, int32_t max_time,
                              int32_t batch_size, int32_t alphabet_size) {
    int32_t n;
    if (batch_size < 1) {
        return CTCC_STATUS_INVALID_BATCH_SIZE;
    }
    if (alphabet_size < 1) {
        return CTCC_STATUS_INVALID_ALPHABET_SIZE;
    }
    if (max_time < 0) {
        return CTCC_STATUS_INVALID_MAX_TIME;
    }
    for (n = 0; n < batch_size; ++n) {
        if (input_lengths[n] < 0 || input_lengths[n] > max_time) {
            return CTCC_STATUS_INVALID_INPUT_LENGTH;
        }
    }
    for (n = 0; n < batch_size; ++n) {
        if (label_lengths[n] < 0) {
            return CTCC_STATUS_INVALID_LABEL_LENGTH;
        }
    }
    return CTCC_STATUS_SUCCESS;
}

ctcc_status ctcc_check_arguments(const int32_t *label_lengths,
                                 const int32_t *input_lengths, int32_t max_time,
                                 int32_t batch_size, int32_t alphabet_size,
                                 const ctcc_options *options,
                                 ctcc_resolved_options *resolved) {
    const ctcc_status status =
        ctcc_check_shapes(label_lengths, input_lengths, max_time, batch_size,
                          alphabet_size);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    return ctcc_resolve_options(options, alphabet_size, resolved);
}

ctcc_status ctcc_check_labels(const int32_t *flat_labels,
                              const int32_t *label_lengths, int32_t batch_size,
                              int32_t alphabet_size, int blank) {
    /* Report an out-of-range label before a blank one, whichever sample
     * comes first, so the status does not depend on the order of checks. */
    ctcc_status found = CTCC_STATUS_SUCCESS;
    size_t offset = 0;
    int32_t n;
    for (n = 0; n < batch_size; ++n) {
        int32_t i;
        for (i = 0; i < label_lengths[n]; ++i) {
            const int32_t label = flat_labels[offset + (size_t)i];
            if (label < 0 || label >= alphabet_size) {
                return CTCC_STATUS_LABEL_OUT_OF_RANGE;
            }
            if (label == blank) {
                found = CTCC_STATUS_LABEL_IS_BLANK;
            }
        }
        offset += (size_t)label_lengths[n];
    }
    return found;
}

ctcc_status ctcc_check_labelled_batch(const int32_t *flat_labels,
                                      const int32_t *label_lengths,
                                      const int32_t *input_lengths,
                                      int32_t max_time, int32_t batch_size,
                                      int32_t alphabet_size,
                                      const ctcc_options *options,
                                      ctcc_resolved_options *resolved) {
    size_t total_labels = 0;
    int32_t n;
    ctcc_status status =
        ctcc_check_arguments(label_lengths, input_lengths, max_time, batch_size,
                             alphabet_size, options, resolved);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    status = ctcc_check_array_size(max_time, batch_size, alphabet_size);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    for (n = 0; n < batch_size; ++n) {
        total_labels += (size_t)label_lengths[n];
    }
    if (flat_labels == NULL && total_labels > 0) {
        return CTCC_STATUS_NULL_POINTER;
    }
    return ctcc_check_labels(flat_labels, label_lengths, batch_size,
                             alphabet_size, resolved->blank);
}

int ctcc_sample_layout_compute(int32_t input_length, int32_t label_length,
                               int32_t alphabet_size, size_t real_size,
                               int with_gradient, ctcc_sample_layout *layout) {
    int ok = 1;
    const size_t t = (size_t)input_length;
    const size_t s =
        ctcc_add_size(ctcc_mul_size(2, (size_t)label_length, &ok), 1, &ok);
    const size_t sp = ctcc_add_size(s, 2 * CTCC_ROW_PAD, &ok);
    /* At least two rows, so that a workspace sized for the gradient also
     * serves a loss-only call with the same lengths. */
    const size_t alpha_rows = with_gradient && t > 2 ? t : 2;
    size_t total = 0;

#define CTCC_NEXT_ARRAY(field, count, size)                                    \
    layout->field = total;                                                     \
    total = ctcc_add_size(total,                                               \
                          ctcc_align_size(ctcc_mul_size((count), (size), &ok), \
                                          &ok),                                \
                          &ok)

    /* Each array starts on its own cache line. */
    CTCC_NEXT_ARRAY(ext_labels, s, sizeof(int32_t));
    CTCC_NEXT_ARRAY(skip, sp, real_size);
    CTCC_NEXT_ARRAY(emit, sp, real_size);
    CTCC_NEXT_ARRAY(posterior, s, real_size);
    CTCC_NEXT_ARRAY(beta, ctcc_mul_size(2, sp, &ok), real_size);
    /* lend_tables (loss_impl.h) takes alpha's size as the distance to
     * log_norm, the array after it. */
    CTCC_NEXT_ARRAY(alpha, ctcc_mul_size(alpha_rows, sp, &ok), real_size);
    CTCC_NEXT_ARRAY(log_norm, with_gradient ? t : 0, real_size);
    CTCC_NEXT_ARRAY(frame_max, with_gradient ? t : 0, real_size);
    CTCC_NEXT_ARRAY(weight, with_gradient ? t : 0, sizeof(double));
    CTCC_NEXT_ARRAY(state_sums, with_gradient ? s : 0, sizeof(double));
    /* The scaled kernel's own arrays; its skip factors share `skip` (the
     * log-space kernel rebuilds it when it takes a sample over), and
     * without the gradient its second task's rows are the `alpha` rows. */
    CTCC_NEXT_ARRAY(emit_b, sp, real_size);
    CTCC_NEXT_ARRAY(scratch_b, s, real_size);
    CTCC_NEXT_ARRAY(rows_b, with_gradient ? ctcc_mul_size(2, sp, &ok) : 0,
                    real_size);
    CTCC_NEXT_ARRAY(mid_beta, with_gradient ? sp : 0, real_size);
    CTCC_NEXT_ARRAY(lin_state, 4, CTCC_ALIGN);
    /* (A gradient's workspace, whose table has T >= CTCC_TILT_MIN_FRAMES
     * rows instead of 2, still serves a loss-only call.) */
    CTCC_NEXT_ARRAY(err_rows,
                    !with_gradient && t >= CTCC_TILT_MIN_FRAMES
                        ? ctcc_mul_size(5, sp, &ok)
                        : 0,
                    real_size);
    CTCC_NEXT_ARRAY(windows, with_gradient ? ctcc_mul_size(2, t, &ok) : 0,
                    sizeof(uint32_t));
    /* Last (lend_tables takes its size as the distance to the end). Only
     * where the scaled kernel can compute the emissions per class (C
     * at most the band's width, itself at most S). */
    CTCC_NEXT_ARRAY(class_probs,
                    with_gradient && (size_t)alphabet_size <= s
                        ? ctcc_mul_size(t, (size_t)alphabet_size + 1, &ok)
                        : 0,
                    real_size);
#undef CTCC_NEXT_ARRAY
    layout->total = total;
    return ok;
}

size_t ctcc_head_bytes(int32_t batch_size, size_t offsets_per_sample,
                       int32_t class_sums, int *ok) {
    const size_t offsets = ctcc_mul_size(offsets_per_sample * sizeof(size_t),
                                         (size_t)batch_size, ok);
    const size_t sums =
        ctcc_mul_size(2 * sizeof(double), (size_t)class_sums, ok);
    return ctcc_align_size(ctcc_add_size(ctcc_add_size(offsets, sums, ok),
                                         (size_t)batch_size, ok),
                           ok);
}

ctcc_status ctcc_total_bytes(const int32_t *label_lengths,
                             const int32_t *input_lengths, int32_t batch_size,
                             int32_t alphabet_size, int32_t class_sums,
                             size_t real_size, int with_gradient,
                             size_t *bytes) {
    int ok = 1;
    size_t total;
    int32_t n;
    total =
        ctcc_head_bytes(batch_size, CTCC_LOSS_HEAD_OFFSETS, class_sums, &ok);
    for (n = 0; n < batch_size; ++n) {
        ctcc_sample_layout layout;
        if (!ctcc_sample_layout_compute(input_lengths[n], label_lengths[n],
                                        alphabet_size, real_size, with_gradient,
                                        &layout)) {
            return CTCC_STATUS_SIZE_OVERFLOW;
        }
        total = ctcc_add_size(total, layout.total, &ok);
    }
    total = ctcc_add_size(total, CTCC_ALIGN, &ok);
    if (!ok) {
        return CTCC_STATUS_SIZE_OVERFLOW;
    }
    *bytes = total;
    return CTCC_STATUS_SUCCESS;
}

ctcc_status ctcc_check_array_size(int32_t max_time, int32_t batch_size,
                                  int32_t alphabet_size) {
    int ok = 1;
    (void)ctcc_mul_size(ctcc_mul_size((size_t)max_time, (size_t)batch_size,
                                      &ok),
                        (size_t)alphabet_size, &ok);
    return ok ? CTCC_STATUS_SUCCESS : CTCC_STATUS_SIZE_OVERFLOW;
}

unsigned char *ctcc_align_ptr(void *p) {
    const uintptr_t u = (uintptr_t)p;
    return (unsigned char *)p + ((CTCC_ALIGN - (u % CTCC_ALIGN)) % CTCC_ALIGN);
}

/* Fork safety. GNU libgomp's thread pool does not survive fork(): the
 * child inherits the parent's pool state but none of its threads, and its
 * first parallel region with more than one thread waits for them forever.
 * A child handler registered with pthread_atfork marks every process
 * forked after libctcc was loaded; there each call runs its parallel
 * regions with num_threads(1), which libgomp runs on the calling thread
 * without the pool. Nothing process-wide is changed (no
 * omp_set_num_threads). The handler is registered when the library is
 * loaded (a constructor), and again, once, at the first call, for builds
 * without constructors. */
#if defined(_OPENMP) && (defined(__unix__) || defined(__APPLE__))
#define CTCC_FORK_GUARD 1
#include <pthread.h>
#include <signal.h>

static volatile sig_atomic_t ctcc_forked = 0;
static pthread_once_t ctcc_atfork_once = PTHREAD_ONCE_INIT;

static void ctcc_atfork_child(void) { ctcc_forked = 1; }

static void ctcc_register_atfork(void) {
    (void)pthread_atfork(NULL, NULL, ctcc_atfork_child);
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor)) static void ctcc_register_atfork_at_load(void) {
    (void)pthread_once(&ctcc_atfork_once, ctcc_register_atfork);
}
#endif
#endif

int ctcc_in_forked_child(void) {
#ifdef CTCC_FORK_GUARD
    (void)pthread_once(&ctcc_atfork_once, ctcc_register_atfork);
    return ctcc_forked != 0;
#else
    return 0;
#endif
}

int ctcc_thread_count(int requested, int32_t batch_size) {
    int threads = requested > 0 ? requested : ctcc_default_num_threads();
    if (threads > batch_size) {
        threads = (int)batch_size;
    }
    return threads < 1 || ctcc_in_forked_child() ? 1 : threads;
}

size_t ctcc_stage_bytes(int32_t alphabet_size, int *ok) {
    return ctcc_mul_size(2,
                         ctcc_align_size(ctcc_mul_size((size_t)alphabet_size,
                                                       sizeof(float), ok),
                                         ok),
                         ok);
}

int ctcc_stage_count(int requested_threads, int32_t batch_size,
                     int32_t alphabet_size, int float32, int with_gradient,
                     int log_space_only) {
    if (!float32 || !with_gradient || log_space_only ||
        alphabet_size < CTCC_STAGE_MIN_CLASSES) {
        return 0;
    }
    return ctcc_thread_count(requested_threads, batch_size > INT32_MAX / 2
                                                    ? INT32_MAX
                                                    : 2 * batch_size);
}

int ctcc_thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

ctcc_status ctcc_workspace_size(const int32_t *label_lengths,
                                const int32_t *input_lengths, int32_t max_time,
                                int32_t batch_size, int32_t alphabet_size,
                                ctcc_dtype dtype, int with_gradient,
                                const ctcc_options *options,
                                size_t *size_bytes) {
    ctcc_resolved_options opts;
    ctcc_status status;
    size_t real_size;
    if (label_lengths == NULL || input_lengths == NULL || size_bytes == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_check_arguments(label_lengths, input_lengths, max_time,
                                  batch_size, alphabet_size, options, &opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    if (dtype == CTCC_FLOAT32 || dtype == CTCC_FLOAT64) {
        real_size = CTCC_DP_SIZE;
    } else {
        return CTCC_STATUS_INVALID_DTYPE;
    }
    status = ctcc_check_array_size(max_time, batch_size, alphabet_size);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    status = ctcc_total_bytes(label_lengths, input_lengths, batch_size,
                              alphabet_size, opts.use_alpha ? alphabet_size : 0,
                              real_size, with_gradient != 0, size_bytes);
    if (status == CTCC_STATUS_SUCCESS) {
        int ok = 1;
        const int stages =
            ctcc_stage_count(opts.num_threads, batch_size, alphabet_size,
                             dtype == CTCC_FLOAT32,
                             with_gradient != 0 && !opts.use_alpha &&
                                 opts.gamma == 0.0,
                             opts.kernel == CTCC_KERNEL_LOG_SPACE);
        const size_t total =
            ctcc_add_size(*size_bytes,
                          ctcc_mul_size((size_t)stages,
                                        ctcc_stage_bytes(alphabet_size, &ok),
                                        &ok),
                          &ok);
        if (!ok) {
            return CTCC_STATUS_SIZE_OVERFLOW;
        }
        *size_bytes = total;
    }
    return status;
}
