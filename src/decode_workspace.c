/*
 * decode_workspace.c - argument checks of the decoders and the workspace
 * size of the prefix beam search (ctcc_beam_workspace_size).
 *
 * Everything here runs before a decoder writes a single byte, so that an
 * invalid call leaves every output untouched.
 */
#include "decode.h"
#include "size_math.h"

#include <math.h>
#include <stdint.h>

int ctcc_beam_layout_compute(int32_t input_length, int32_t beam_width,
                             ctcc_beam_layout *layout) {
    int ok = 1;
    const size_t w = (size_t)beam_width;
    const size_t nodes =
        ctcc_add_size(ctcc_mul_size((size_t)input_length, w, &ok), 1, &ok);
    size_t hash = 1, total = 0;
    if (!ok || nodes > (size_t)INT32_MAX) {
        return 0;
    }
    /* Load factor at most 1/2. nodes <= INT32_MAX, so this ends below
     * 2^32 without overflow. */
    while (hash < 2 * nodes) {
        hash *= 2;
    }
    layout->max_nodes = nodes;
    layout->hash_size = hash;

#define CTCC_NEXT_ARRAY(field, count, size)                                    \
    layout->field = total;                                                     \
    total = ctcc_add_size(total,                                               \
                          ctcc_align_size(ctcc_mul_size((count), (size), &ok), \
                                          &ok),                                \
                          &ok)

    CTCC_NEXT_ARRAY(nodes, nodes, sizeof(ctcc_trie_node));
    CTCC_NEXT_ARRAY(hash, hash, sizeof(int32_t));
    CTCC_NEXT_ARRAY(top_cls, w + 1, sizeof(int32_t));
    CTCC_NEXT_ARRAY(top_lp, w + 1, sizeof(double));
    CTCC_NEXT_ARRAY(beam, w, sizeof(ctcc_beam_entry));
    CTCC_NEXT_ARRAY(next, w, sizeof(ctcc_beam_entry));
#undef CTCC_NEXT_ARRAY
    layout->total = total;
    return ok;
}

size_t ctcc_beam_head_bytes(int32_t batch_size, int *ok) {
    return ctcc_align_size(ctcc_mul_size(sizeof(size_t), (size_t)batch_size,
                                         ok),
                           ok);
}

ctcc_status ctcc_decode_check(const int32_t *input_lengths, int32_t max_time,
                              int32_t batch_size, int32_t alphabet_size,
                              const ctcc_options *options,
                              ctcc_resolved_options *opts) {
    ctcc_status status;
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
    status = ctcc_resolve_options(options, alphabet_size, opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    /* Covers the decoded [N, T] array of the greedy decoder too. */
    return ctcc_check_array_size(max_time, batch_size, alphabet_size);
}

ctcc_status ctcc_beam_check(const int32_t *input_lengths, int32_t max_time,
                            int32_t batch_size, int32_t alphabet_size,
                            int32_t beam_width, int32_t top_paths,
                            double blank_penalty, const double *log_prior,
                            const ctcc_options *options,
                            ctcc_resolved_options *opts, size_t *bytes) {
    int ok = 1;
    size_t total;
    int32_t n;
    ctcc_status status = ctcc_decode_check(input_lengths, max_time, batch_size,
                                           alphabet_size, options, opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    if (beam_width < 1 || top_paths < 1 || top_paths > beam_width) {
        return CTCC_STATUS_INVALID_BEAM;
    }
    if (!isfinite(blank_penalty)) {
        return CTCC_STATUS_INVALID_BEAM;
    }
    if (log_prior != NULL) {
        for (n = 0; n < alphabet_size; ++n) {
            if (!isfinite(log_prior[n])) {
                return CTCC_STATUS_INVALID_BEAM;
            }
        }
    }
    /* The paths array [N, top_paths, T]. */
    (void)ctcc_mul_size(ctcc_mul_size((size_t)batch_size, (size_t)top_paths,
                                      &ok),
                        (size_t)max_time, &ok);
    total = ctcc_beam_head_bytes(batch_size, &ok);
    for (n = 0; n < batch_size && ok; ++n) {
        ctcc_beam_layout layout;
        if (!ctcc_beam_layout_compute(input_lengths[n], beam_width, &layout)) {
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

ctcc_status ctcc_beam_workspace_size(const int32_t *input_lengths,
                                     int32_t max_time, int32_t batch_size,
                                     int32_t alphabet_size, int32_t beam_width,
                                     int32_t top_paths,
                                     const ctcc_options *options,
                                     size_t *size_bytes) {
    ctcc_resolved_options opts;
    size_t bytes = 0;
    ctcc_status status;
    if (input_lengths == NULL || size_bytes == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_beam_check(input_lengths, max_time, batch_size, alphabet_size,
                             beam_width, top_paths, 0.0, NULL, options, &opts,
                             &bytes);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    *size_bytes = bytes;
    return CTCC_STATUS_SUCCESS;
}
