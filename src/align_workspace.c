/*
 * align_workspace.c - workspace layout, size query and argument checks of
 * the forced alignment (ctcc_align_workspace_size).
 */
#include "align_internal.h"
#include "size_math.h"

#include <stdint.h>

/* ceil(sqrt(t)), at least 1: the smallest k with k * k >= t. (A shorter
 * segment than 2 sqrt(t) halves pass 2's recomputation for twice the
 * checkpoints: pass 2 is the part that runs on one thread.) */
static size_t segment_length(size_t t) {
    size_t k = 1, step;
    /* Binary search; t < 2^31. */
    const size_t target = t;
    for (step = (size_t)1 << 20; step > 0; step >>= 1) {
        if ((k + step) * (k + step) <= target) {
            k += step;
        }
    }
    return k * k < target ? k + 1 : k;
}

int ctcc_align_slot_compute(int32_t input_length, int32_t label_length,
                            ctcc_align_slot *slot) {
    int ok = 1;
    const size_t t = (size_t)input_length;
    const size_t l1 = ctcc_add_size((size_t)label_length, 1, &ok);
    const size_t half = ctcc_add_size(l1, 2 * CTCC_ALIGN_PAD, &ok);
    const size_t row = ctcc_mul_size(2, half, &ok);
    const size_t ints = ctcc_align_size(ctcc_mul_size(l1, 4, &ok), &ok);
    size_t total = 0;

    slot->half = half;
    slot->row = row;
    slot->segment = segment_length(t);
    slot->segments = t == 0 ? 0 : (t + slot->segment - 1) / slot->segment;
    slot->checkpoint_count = slot->segments > 1 ? slot->segments - 1 : 0;
    /* A segment's band is at most 2 * segment - 1 states wide: at most
     * `segment` blank slots and as many labels, each half packed four to
     * a byte (back_row / 2 bytes each). */
    slot->back_row = 2 * ((slot->segment + 3) / 4 + 1);

    slot->labels = total;
    total = ctcc_add_size(total, ints, &ok);
    slot->origin = total;
    total = ctcc_add_size(total, ints, &ok);
    slot->star_at = total;
    total = ctcc_add_size(total, ints, &ok);
    slot->star_slots = total;
    total = ctcc_add_size(total, ints, &ok);
    slot->skip = total;
    total =
        ctcc_add_size(total,
                      ctcc_align_size(ctcc_mul_size(half, sizeof(double), &ok),
                                      &ok),
                      &ok);
    slot->rows = total;
    total = ctcc_add_size(
        total,
        ctcc_align_size(ctcc_mul_size(2 * sizeof(double), row, &ok), &ok), &ok);
    slot->checkpoints = total;
    total = ctcc_add_size(
        total,
        ctcc_align_size(ctcc_mul_size(ctcc_mul_size(slot->checkpoint_count, row,
                                                    &ok),
                                      sizeof(double), &ok),
                        &ok),
        &ok);
    slot->back = total;
    total = ctcc_add_size(total,
                          ctcc_align_size(ctcc_mul_size(slot->segment,
                                                        slot->back_row, &ok),
                                          &ok),
                          &ok);
    slot->moves = total;
    total =
        ctcc_add_size(total,
                      ctcc_align_size(ctcc_add_size(ctcc_mul_size(2, half, &ok),
                                                    8, &ok),
                                      &ok),
                      &ok);
    slot->total = total;
    return ok;
}

ctcc_status ctcc_align_plan_compute(const int32_t *label_lengths,
                                    const int32_t *input_lengths,
                                    int32_t batch_size, int32_t alphabet_size,
                                    int threads, ctcc_align_plan *plan) {
    int ok = 1;
    int32_t n;
    size_t largest = 0;
    size_t most_states = 1;
    if (threads < 1) {
        threads = 1;
    }
    for (n = 0; n < batch_size; ++n) {
        const size_t s = 2 * (size_t)label_lengths[n] + 1;
        most_states = s > most_states ? s : most_states;
    }
    if (batch_size >= threads) {
        plan->slots = threads;
        plan->team = 1;
    } else {
        /* Fewer samples than threads: split the large ones' states over
         * the threads (at least CTCC_ALIGN_STATES_PER_THREAD each), or run
         * small ones side by side. */
        size_t team = most_states / CTCC_ALIGN_STATES_PER_THREAD;
        team = team < CTCC_ALIGN_MAX_TEAM ? team : CTCC_ALIGN_MAX_TEAM;
        if (team >= 2) {
            plan->slots = 1;
            plan->team = team < (size_t)threads ? (int)team : threads;
        } else {
            plan->slots = batch_size;
            plan->team = 1;
        }
    }
    plan->threads = plan->slots * plan->team;
    plan->head = ctcc_head_bytes(batch_size, 2, 0, &ok);
    plan->frame_tables = plan->head;
    /* Per thread: a table for the largest sample (ctcc_align_table). */
    {
        size_t most_time = 0;
        ctcc_align_table tb;
        for (n = 0; n < batch_size; ++n) {
            const size_t t = (size_t)input_lengths[n];
            most_time = t > most_time ? t : most_time;
        }
        ctcc_align_table_compute((size_t)alphabet_size, most_states, most_time,
                                 plan->team, &tb);
        plan->table_bytes = ctcc_mul_size(tb.doubles, sizeof(double), &ok);
    }
    plan->slot_base = ctcc_add_size(plan->frame_tables,
                                    ctcc_mul_size((size_t)plan->threads,
                                                  plan->table_bytes, &ok),
                                    &ok);
    for (n = 0; n < batch_size; ++n) {
        ctcc_align_slot slot;
        if (!ctcc_align_slot_compute(input_lengths[n], label_lengths[n],
                                     &slot)) {
            return CTCC_STATUS_SIZE_OVERFLOW;
        }
        largest = slot.total > largest ? slot.total : largest;
    }
    plan->slot_bytes = largest;
    plan->total = ctcc_add_size(ctcc_add_size(plan->slot_base,
                                              ctcc_mul_size((size_t)plan->slots,
                                                            largest, &ok),
                                              &ok),
                                CTCC_ALIGN, &ok);
    return ok ? CTCC_STATUS_SUCCESS : CTCC_STATUS_SIZE_OVERFLOW;
}

ctcc_status ctcc_align_check(const int32_t *flat_labels,
                             const int32_t *label_lengths,
                             const int32_t *input_lengths, int32_t max_time,
                             int32_t batch_size, int32_t alphabet_size,
                             const ctcc_options *options,
                             ctcc_resolved_options *resolved) {
    size_t offset = 0;
    int32_t n;
    ctcc_status found = CTCC_STATUS_SUCCESS;
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
        offset += (size_t)label_lengths[n];
    }
    if (flat_labels == NULL && offset > 0) {
        return CTCC_STATUS_NULL_POINTER;
    }
    /* As ctcc_check_labels: out of range before blank, whatever the order. */
    offset = 0;
    for (n = 0; n < batch_size; ++n) {
        int32_t i;
        for (i = 0; i < label_lengths[n]; ++i) {
            const int32_t label = flat_labels[offset + (size_t)i];
            if (label == CTCC_LABEL_STAR) {
                continue;
            }
            if (label < 0 || label >= alphabet_size) {
                return CTCC_STATUS_LABEL_OUT_OF_RANGE;
            }
            if (label == resolved->blank) {
                found = CTCC_STATUS_LABEL_IS_BLANK;
            }
        }
        offset += (size_t)label_lengths[n];
    }
    return found;
}

ctcc_status ctcc_align_workspace_size(const int32_t *label_lengths,
                                      const int32_t *input_lengths,
                                      int32_t max_time, int32_t batch_size,
                                      int32_t alphabet_size,
                                      const ctcc_options *options,
                                      size_t *size_bytes) {
    ctcc_resolved_options opts;
    ctcc_status status;
    ctcc_align_plan plan;
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
    status =
        ctcc_align_plan_compute(label_lengths, input_lengths, batch_size,
                                alphabet_size,
                                ctcc_thread_count(opts.num_threads, INT32_MAX),
                                &plan);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    *size_bytes = plan.total;
    return CTCC_STATUS_SUCCESS;
}
