/*
 * align_internal.h - declarations shared by the forced-alignment sources
 * (align_workspace.c, align_impl.h). Not installed.
 */
#ifndef CTCC_ALIGN_INTERNAL_H
#define CTCC_ALIGN_INTERNAL_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* Padding, in entries, at each end of the blank and label halves of a
 * Viterbi row (see ctcc_align_slot). */
#define CTCC_ALIGN_PAD 2

/* Region of the workspace that holds one sample while it is aligned (a
 * "slot"), sized for input_length T and label_length L; byte offsets from
 * its start. The kernel keeps the S = 2M + 1 states of the extended
 * sequence (M = labels other than stars; a star sits in the blank slot
 * before the next label) split in two halves: blank slots j = 0..M (state
 * 2j) and labels j = 0..M-1 (state 2j + 1), each padded with
 * CTCC_ALIGN_PAD entries of -inf on both sides.
 *   labels       int32 [L + 1]  class of each label (stars removed)
 *   origin       int32 [L + 1]  index in the sample's labels of each one
 *   star_at      int32 [L + 1]  per blank slot: index of its first star,
 *                               or -1
 *   star_slots   int32 [L + 1]  the blank slots that hold a star
 *   skip         double [half]  0 where label j may follow label j - 1
 *                               directly, -inf where not
 *   rows         double [2, row] two Viterbi rows (ping-pong)
 *   checkpoints  double [checkpoint_count, row] the row at the last frame
 *                               of every segment but the last
 *   back         uint8 [segment, back_row] two-bit back-pointers of one
 *                               segment, four states per byte
 *   moves        uint8 [2, half] + 8  one frame's moves before packing
 * half = L + 1 + 2 * CTCC_ALIGN_PAD entries, row = 2 * half doubles
 * (blank half, then label half). segment = ceil(sqrt(T)) frames; the
 * frames split into ceil(T / segment) segments. total is a multiple of
 * CTCC_ALIGN. */
typedef struct ctcc_align_slot {
    size_t labels, origin, star_at, star_slots, skip, rows, checkpoints, back,
        moves, total;
    size_t half, row, segment, segments, checkpoint_count, back_row;
} ctcc_align_slot;

/* Fills *slot; returns 0 on size_t overflow, 1 otherwise. */
int ctcc_align_slot_compute(int32_t input_length, int32_t label_length,
                            ctcc_align_slot *slot);

/* Pass 1 runs in tiles: the states of a thread in blocks of
 * CTCC_ALIGN_BLOCK states (even), each advanced over a tile of up to
 * ctcc_align_tile frames before the next block, so that a block's rows,
 * labels and the tile's emissions stay in the core's caches. A block reads
 * one state of the block below it (its top label, at the previous frame),
 * which that block exports per frame. */
#define CTCC_ALIGN_BLOCK 1024

/* Frames per tile: at most 64, the tile's emissions ([tile, C] doubles)
 * at most about 64 KiB, at least 1, at most T. */
static inline size_t ctcc_align_tile(size_t alphabet, size_t time) {
    size_t f = 8192 / (alphabet > 0 ? alphabet : 1);
    f = f < 64 ? f : 64;
    f = f < time ? f : time;
    return f > 0 ? f : 1;
}

/* A thread's table (in doubles): the tile's emissions lp [tile, stride],
 * the tile's frame_emit records (3 doubles each), the exports of its
 * blocks [blocks, tile + 1] (entry 0: the frame before the tile), and in a
 * team of two or more the thread's export to the next thread [T] and its
 * progress counter on a cache line of its own. Every part starts on a
 * 64-byte boundary. */
typedef struct ctcc_align_table {
    size_t tile, stride, lp, fe, ring, ring_stride, exp, done, doubles;
} ctcc_align_table;

static inline size_t ctcc_align_round8(size_t n) { return (n + 7) / 8 * 8; }

static inline void ctcc_align_table_compute(size_t alphabet, size_t states,
                                            size_t time, int team,
                                            ctcc_align_table *tb) {
    const size_t blocks = states / CTCC_ALIGN_BLOCK + 2;
    tb->tile = ctcc_align_tile(alphabet, time);
    tb->stride = alphabet;
    tb->lp = 0;
    tb->fe = ctcc_align_round8(tb->tile * alphabet);
    tb->ring = tb->fe + ctcc_align_round8(3 * tb->tile);
    tb->ring_stride = tb->tile + 1;
    tb->exp = tb->ring + ctcc_align_round8(blocks * tb->ring_stride);
    tb->done = tb->exp + (team > 1 ? ctcc_align_round8(time) : 0);
    tb->doubles = tb->done + (team > 1 ? 8 : 0);
}

/* A sample's states are split over at most S / this many threads, and at
 * most CTCC_ALIGN_MAX_TEAM. */
#define CTCC_ALIGN_STATES_PER_THREAD 1024
#define CTCC_ALIGN_MAX_TEAM 64

/* Layout of a whole alignment workspace for up to `threads` threads: the
 * head (label offsets), one table per thread used (ctcc_align_table, for
 * the largest sample), then `slots` slots of slot_bytes each.
 * With batch_size >= threads: slots = threads, samples side by side, one
 * thread each (team 1). Otherwise, if the largest 2L + 1 allows a team of
 * two or more threads (CTCC_ALIGN_STATES_PER_THREAD states each): one
 * slot, samples one after another, each split over `team` threads; else
 * batch_size slots side by side. threads = slots * team on return. */
typedef struct ctcc_align_plan {
    int threads, slots, team;
    size_t head, frame_tables, table_bytes, slot_base, slot_bytes, total;
} ctcc_align_plan;

/* Plans for `threads` threads; CTCC_STATUS_SIZE_OVERFLOW if a size does
 * not fit in size_t. total includes CTCC_ALIGN bytes of slack. */
ctcc_status ctcc_align_plan_compute(const int32_t *label_lengths,
                                    const int32_t *input_lengths,
                                    int32_t batch_size, int32_t alphabet_size,
                                    int threads, ctcc_align_plan *plan);

/* The checks of ctcc_check_labelled_batch with CTCC_LABEL_STAR allowed as
 * a label. */
ctcc_status ctcc_align_check(const int32_t *flat_labels,
                             const int32_t *label_lengths,
                             const int32_t *input_lengths, int32_t max_time,
                             int32_t batch_size, int32_t alphabet_size,
                             const ctcc_options *options,
                             ctcc_resolved_options *resolved);

#endif /* CTCC_ALIGN_INTERNAL_H */
