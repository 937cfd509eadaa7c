/*
 * align_impl.h - the forced-alignment (Viterbi) kernel, written once for
 * both precisions.
 *
 * A compilation unit defines, then includes this file:
 *   REAL        float or double, the precision of inputs and scores
 *   ALIGN_NAME  the public entry point (ctcc_align_f32 / ctcc_align_f64)
 *
 * Algorithm (per sample): the states are the loss's extended sequence of
 *   S = 2L + 1 states (blank, l_1, blank, ..., l_L, blank), with the same
 *   transitions (stay, advance by one, skip a blank between two different
 *   labels). delta_t(s) is the log-probability of the best path prefix
 *   ending in state s at frame t:
 *       delta_t(s) = emit_t(s) + max(delta_{t-1}(s), delta_{t-1}(s - 1),
 *                                    delta_{t-1}(s - 2) + skip(s))
 *   computed in double for both precisions over the same band of states as
 *   the loss. The winning predecessor offset (0, 1 or 2) is kept in one
 *   byte per state and frame; only two rows of delta are stored. The path
 *   is read back from the better of the two final states.
 *
 * Ties: the comparisons are strict, in the order stay, previous state,
 *   skip, so an equal score keeps the earlier candidate; at the end the
 *   final blank wins a tie with the last label.
 */
#include "fast_math.h"
#include "internal.h"

#include <math.h>
#include <string.h>

#define NEG_INF (-INFINITY)

/* The log-softmax normaliser of one frame in double, in two parts as in
 * the loss: *shift = the frame's maximum m, and the return value log(sum_c
 * exp(x[c] - m)), so that log softmax(x)[c] = (x[c] - m) - that (m + log
 * sum would round the log sum away for |m| beyond about 1e15). NaN for a
 * frame holding NaN or +inf, -inf for a frame of -inf only. */
static inline double frame_normaliser(const REAL *x, size_t C, double *shift) {
    double m = NEG_INF, sum = 0.0;
    int bad = 0;
    size_t c;
#pragma omp simd reduction(max : m) reduction(| : bad)
    for (c = 0; c < C; ++c) {
        const double v = (double)x[c];
        m = v > m ? v : m;
        bad |= !(x[c] < (REAL)INFINITY);
    }
    if (bad) {
        return (double)NAN;
    }
    if (m == NEG_INF) {
        return NEG_INF;
    }
#pragma omp simd reduction(+ : sum)
    for (c = 0; c < C; ++c) {
        sum += ctcc_exp_neg((double)x[c] - m);
    }
    *shift = m;
    return log(sum);
}

/* Nonzero if x[0..C) holds a NaN or +inf. */
static inline int frame_has_bad_value(const REAL *x, size_t C) {
    int bad = 0;
    size_t c;
#pragma omp simd reduction(| : bad)
    for (c = 0; c < C; ++c) {
        bad |= !(x[c] < (REAL)INFINITY);
    }
    return bad;
}

/* Everything one sample needs, resolved from the batch arguments. */
typedef struct align_args {
    const REAL *input;   /* frame 0 of the sample */
    size_t frame_stride; /* elements between consecutive frames */
    size_t alphabet;
    size_t max_time;
    size_t time;
    const int32_t *labels;
    size_t label_length;
    int blank;
    int log_probs;
    int32_t *frames;          /* [max_time] row of this sample */
    int32_t *spans;           /* [label_length, 2], or NULL */
    unsigned char *workspace; /* aligned to CTCC_ALIGN */
} align_args;

/* Marks the sample as having no path: frames and spans -1. */
static void clear_sample(const align_args *a) {
    size_t i;
    for (i = 0; i < a->max_time; ++i) {
        a->frames[i] = -1;
    }
    if (a->spans != NULL) {
        for (i = 0; i < 2 * a->label_length; ++i) {
            a->spans[i] = -1;
        }
    }
}

/* Aligns one sample; returns its score (log-probability of the path). */
CTCC_DISPATCH
static double align_sample(const align_args *a) {
    const size_t T = a->time;
    const size_t L = a->label_length;
    const size_t S = 2 * L + 1;
    const size_t SP = S + 2 * CTCC_ROW_PAD;
    const size_t C = a->alphabet;
    ctcc_align_layout lay;
    int32_t *ext;
    double *skip, *rows;
    unsigned char *back;
    size_t s, t, repeats = 0;
    double score;
    int bad_input = 0;

    ctcc_align_layout_compute((int32_t)T, (int32_t)L, &lay);
    ext = (int32_t *)(a->workspace + lay.ext_labels);
    skip = (double *)(a->workspace + lay.skip) + CTCC_ROW_PAD;
    rows = (double *)(a->workspace + lay.rows);
    back = a->workspace + lay.back;

    for (s = 0; s < SP; ++s) {
        skip[(ptrdiff_t)s - CTCC_ROW_PAD] = NEG_INF;
    }
    for (s = 0; s < S; ++s) {
        ext[s] = (s & 1) ? a->labels[s / 2] : a->blank;
    }
    for (s = 3; s < S; s += 2) {
        if (ext[s] != ext[s - 2]) {
            skip[s] = 0;
        } else {
            ++repeats;
        }
    }
    /* Frames past the input length. */
    for (t = T; t < a->max_time; ++t) {
        a->frames[t] = -1;
    }
    if (T < L + repeats) {
        clear_sample(a);
        return NEG_INF;
    }
    if (T == 0) {
        return 0.0; /* no labels, no frames: the empty path */
    }

    for (t = 0; t < T; ++t) {
        const REAL *x = a->input + t * a->frame_stride;
        double *row = rows + (t & 1) * SP + CTCC_ROW_PAD;
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        double norm = 0.0, shift = 0.0;
        if (a->log_probs) {
            bad_input = frame_has_bad_value(x, C);
        } else {
            norm = frame_normaliser(x, C, &shift);
            bad_input = norm != norm;
        }
        if (bad_input) {
            break;
        }
        /* A frame of -inf only (no class possible): norm = -inf, and
         * x - norm would be -inf - -inf = NaN. Subtracting +inf instead
         * gives -inf for every state. */
        if (norm == NEG_INF) {
            norm = INFINITY;
        }
        row[-2] = row[-1] = NEG_INF;
        row[hi] = row[hi + 1] = NEG_INF;
        if (t == 0) {
            for (s = lo; s < hi; ++s) {
                row[s] = ((double)x[ext[s]] - shift) - norm;
            }
        } else {
            const double *prev = rows + ((t - 1) & 1) * SP + CTCC_ROW_PAD;
            unsigned char *bp = back + t * S;
#pragma omp simd
            for (s = lo; s < hi; ++s) {
                const double stay = prev[s];
                const double step = prev[s - 1];
                const double jump = prev[s - 2] + skip[s];
                const double best1 = step > stay ? step : stay;
                const unsigned char k1 = step > stay ? 1 : 0;
                const double best = jump > best1 ? jump : best1;
                const unsigned char k = jump > best1 ? 2 : k1;
                const double e = ((double)x[ext[s]] - shift) - norm;
                row[s] = e + best;
                bp[s] = k;
            }
        }
    }
    if (bad_input) {
        clear_sample(a);
        return (double)NAN;
    }

    {
        const double *last = rows + ((T - 1) & 1) * SP + CTCC_ROW_PAD;
        size_t state = S - 1;
        score = last[S - 1];
        if (S > 1 && last[S - 2] > score) {
            state = S - 2;
            score = last[S - 2];
        }
        if (score == NEG_INF) {
            clear_sample(a);
            return NEG_INF;
        }
        if (a->spans != NULL) {
            for (s = 0; s < 2 * L; ++s) {
                a->spans[s] = -1;
            }
        }
        for (t = T; t-- > 0;) {
            a->frames[t] = ext[state];
            if ((state & 1) && a->spans != NULL) {
                int32_t *span = a->spans + 2 * (state / 2);
                if (span[1] < 0) {
                    span[1] = (int32_t)(t + 1);
                }
                span[0] = (int32_t)t;
            }
            if (t > 0) {
                state -= back[t * S + state];
            }
        }
    }
    return score;
}

ctcc_status ALIGN_NAME(const REAL *inputs, const int32_t *flat_labels,
                       const int32_t *label_lengths,
                       const int32_t *input_lengths, int32_t max_time,
                       int32_t batch_size, int32_t alphabet_size,
                       int32_t *frames, int32_t *spans, REAL *scores,
                       void *workspace, size_t workspace_bytes,
                       const ctcc_options *options) {
    ctcc_resolved_options opts;
    ctcc_status status;
    size_t needed, *ws_offset, *label_offset;
    unsigned char *base;
    int ok = 1, threads, n;

    if (inputs == NULL || label_lengths == NULL || input_lengths == NULL ||
        frames == NULL || scores == NULL || workspace == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_check_labelled_batch(flat_labels, label_lengths,
                                       input_lengths, max_time, batch_size,
                                       alphabet_size, options, &opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    status = ctcc_align_total_bytes(label_lengths, input_lengths, batch_size,
                                    &needed);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    if (workspace_bytes < needed) {
        return CTCC_STATUS_WORKSPACE_TOO_SMALL;
    }

    /* Per-sample offsets into the workspace and into the labels. */
    base = ctcc_align_ptr(workspace);
    ws_offset = (size_t *)base;
    label_offset = ws_offset + batch_size;
    {
        size_t ws = ctcc_head_bytes(batch_size, 0, &ok), lab = 0;
        for (n = 0; n < batch_size; ++n) {
            ctcc_align_layout lay;
            ctcc_align_layout_compute(input_lengths[n], label_lengths[n], &lay);
            ws_offset[n] = ws;
            label_offset[n] = lab;
            ws += lay.total;
            lab += (size_t)label_lengths[n];
        }
    }

    threads = ctcc_thread_count(opts.num_threads, batch_size);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < batch_size; ++n) {
        align_args a;
        const size_t N = (size_t)batch_size, C = (size_t)alphabet_size;
        const size_t T = (size_t)max_time, nn = (size_t)n;
        a.input = inputs +
                  (opts.layout == CTCC_LAYOUT_TIME_MAJOR ? nn * C : nn * T * C);
        a.frame_stride = opts.layout == CTCC_LAYOUT_TIME_MAJOR ? N * C : C;
        a.alphabet = C;
        a.max_time = T;
        a.time = (size_t)input_lengths[n];
        a.labels = flat_labels != NULL ? flat_labels + label_offset[n] : NULL;
        a.label_length = (size_t)label_lengths[n];
        a.blank = opts.blank;
        a.log_probs = opts.input_kind == CTCC_INPUT_LOG_PROBS;
        a.frames = frames + nn * T;
        a.spans = spans != NULL ? spans + 2 * label_offset[n] : NULL;
        a.workspace = base + ws_offset[n];
        scores[n] = (REAL)align_sample(&a);
    }
    return CTCC_STATUS_SUCCESS;
}
