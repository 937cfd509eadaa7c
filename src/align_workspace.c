/*
 * align_workspace.c - workspace layout and size query of the forced
 * alignment (ctcc_align_workspace_size).
 */
#include "internal.h"
#include "size_math.h"

#include <stdint.h>

int ctcc_align_layout_compute(int32_t input_length, int32_t label_length,
                              ctcc_align_layout *layout) {
    int ok = 1;
    const size_t t = (size_t)input_length;
    const size_t s =
        ctcc_add_size(ctcc_mul_size(2, (size_t)label_length, &ok), 1, &ok);
    const size_t sp = ctcc_add_size(s, 2 * CTCC_ROW_PAD, &ok);
    size_t total = 0;

    layout->ext_labels = total;
    total =
        ctcc_add_size(total,
                      ctcc_align_size(ctcc_mul_size(s, sizeof(int32_t), &ok),
                                      &ok),
                      &ok);
    layout->skip = total;
    total = ctcc_add_size(total,
                          ctcc_align_size(ctcc_mul_size(sp, CTCC_DP_SIZE, &ok),
                                          &ok),
                          &ok);
    layout->rows = total;
    total =
        ctcc_add_size(total,
                      ctcc_align_size(ctcc_mul_size(ctcc_mul_size(2, sp, &ok),
                                                    CTCC_DP_SIZE, &ok),
                                      &ok),
                      &ok);
    layout->back = total;
    total = ctcc_add_size(total, ctcc_align_size(ctcc_mul_size(t, s, &ok), &ok),
                          &ok);
    layout->total = total;
    return ok;
}

ctcc_status ctcc_align_total_bytes(const int32_t *label_lengths,
                                   const int32_t *input_lengths,
                                   int32_t batch_size, size_t *bytes) {
    int ok = 1;
    size_t total = ctcc_head_bytes(batch_size, 0, &ok);
    int32_t n;
    for (n = 0; n < batch_size; ++n) {
        ctcc_align_layout layout;
        if (!ctcc_align_layout_compute(input_lengths[n], label_lengths[n],
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

ctcc_status ctcc_align_workspace_size(const int32_t *label_lengths,
                                      const int32_t *input_lengths,
                                      int32_t max_time, int32_t batch_size,
                                      int32_t alphabet_size,
                                      const ctcc_options *options,
                                      size_t *size_bytes) {
    ctcc_resolved_options opts;
    ctcc_status status;
    if (label_lengths == NULL || input_lengths == NULL || size_bytes == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_check_arguments(label_lengths, input_lengths, max_time,
                                  batch_size, alphabet_size, options, &opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    status = ctcc_check_array_size(max_time, batch_size, alphabet_size);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    return ctcc_align_total_bytes(label_lengths, input_lengths, batch_size,
                                  size_bytes);
}
