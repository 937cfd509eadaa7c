/*
 * align_impl.h - the forced-alignment (Viterbi) kernel, written once for
 * both precisions.
 *
 * A compilation unit defines, then includes this file:
 *   REAL             float or double, the precision of inputs and scores
 *   ALIGN_NAME       the public entry point (ctcc_align_f32 / _f64)
 *   ALIGN_STAR_NAME  the one with a star penalty (ctcc_align_star_f32 / _f64)
 *
 * Algorithm (per sample): the states are the loss's extended sequence of
 *   S = 2M + 1 states (blank slot, l_1, blank slot, ..., l_M, blank slot;
 *   M labels other than stars, a star taking the blank slot before the next
 *   label), with the same transitions (stay, advance by one, skip a blank
 *   slot between two different labels). delta_t(s) is the log-probability
 *   of the best path prefix ending in state s at frame t:
 *       delta_t(s) = emit_t(s) + max(delta_{t-1}(s), delta_{t-1}(s - 1),
 *                                    delta_{t-1}(s - 2) + skip(s))
 *   computed in double for both precisions over the same band of states as
 *   the loss. A blank slot holding a star emits max(log p(blank),
 *   max_c log p(c) + star_penalty) (see CTCC_LABEL_STAR in ctcc.h).
 *
 * Memory: pass 1 runs the recursion over all frames keeping two rows, and
 *   copies the row at the last frame of every segment of K = ceil(sqrt(T))
 *   frames (a checkpoint). Pass 2 walks the segments from the last
 *   to the first: the state the path holds at the segment's last frame is
 *   known (the final state, or what the later segment traced back to), so
 *   only the states that can reach it matter - at frame t of a segment
 *   ending at frame e in state s_e, states [s_e - 2 (e - t), s_e] - and
 *   the segment is recomputed from its checkpoint inside that band with
 *   two-bit back-pointers (moves 0, 1, 2; the blank slots and the labels
 *   of the band packed in two halves of the segment's row), then traced
 *   back. Every value
 *   inside the band equals pass 1's (the band at frame t - 1 covers all
 *   predecessors of the band at t), so the path and its score are those
 *   of a full-memory Viterbi. Pass 2 costs about T * K cells against pass
 *   1's T * S.
 *
 * Layout: a row holds the blank slots and the labels in two halves (state
 *   2j at blank[j], state 2j + 1 at label[j]), so that the recursion runs
 *   over contiguous arrays: blank[j] reads blank[j] (stay) and label[j - 1]
 *   (previous state); label[j] reads label[j], blank[j] and label[j - 1]
 *   (+ skip[j]).
 *
 * Tiles: pass 1 would stream a whole row pair (16 bytes per state each,
 *   plus labels and skips) through the caches every frame: for an hour
 *   of audio (S = 24001) about 0.5 MB a frame, more than a core's L2. It
 *   runs instead over blocks of CTCC_ALIGN_BLOCK states, each advanced
 *   over a tile of up to 64 frames before the next block (the tile's
 *   emissions computed once into a table); the lowest states of a block
 *   read the top label of the block below at the previous frame from
 *   that block's per-frame export (edge_states), all in the same two rows
 *   as each block writes its own states only.
 *
 * Threads: samples run in parallel when there are at least as many as
 *   threads. Otherwise each sample's pass 1 splits the states over the
 *   threads (even boundaries): thread p runs its blocks tile by tile and
 *   exports its top state of every frame; thread p + 1 waits once per
 *   tile for thread p to have finished it (a pipeline: no thread waits
 *   for the one above it). Pass 2 runs on one thread (its segments depend
 *   on each other through their end states; it costs about T * K cells
 *   against T * S). Every cell is computed by the same operations
 *   whichever thread or block runs it, so the results are bitwise
 *   identical for every thread count.
 *
 * Ties: the comparisons are strict, in the order stay, previous state,
 *   skip, so an equal score keeps the earlier candidate; at the end the
 *   final blank wins a tie with the last label (the last label with
 *   options.align_end_tie = CTCC_ALIGN_END_TIE_LABEL).
 */
#include "align_internal.h"
#include "fast_math.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <sched.h>
#define CTCC_HAVE_SCHED_YIELD 1
#endif

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
    double star_penalty;
    int end_on_label;    /* a tie at the end goes to the last label */
    int32_t *frames;     /* [max_time] row of this sample */
    int32_t *spans;      /* [label_length, 2], or NULL */
    unsigned char *ws;   /* the slot, aligned to CTCC_ALIGN */
    ctcc_align_slot lay; /* its layout */
} align_args;

/* One frame's emissions: lp[c] = log p(c) in double, computed exactly as
 * the loss does ((x - shift) - norm); blank and star are the blank slots'
 * emissions. Returns 0 for a frame with NaN or +inf. */
typedef struct frame_emit {
    double blank, star;
    int star_wins; /* the star reads this frame as star, not blank */
} frame_emit;

static int frame_emissions(const align_args *a, size_t t, double *lp,
                           frame_emit *out) {
    const REAL *x = a->input + t * a->frame_stride;
    const size_t C = a->alphabet;
    double norm = 0.0, shift = 0.0, best = NEG_INF, star;
    size_t c;
    if (a->log_probs) {
        if (frame_has_bad_value(x, C)) {
            return 0;
        }
    } else {
        norm = frame_normaliser(x, C, &shift);
        if (norm != norm) {
            return 0;
        }
        /* A frame of -inf only (no class possible): norm = -inf, and
         * x - norm would be -inf - -inf = NaN. Subtracting +inf instead
         * gives -inf for every class. */
        if (norm == NEG_INF) {
            norm = INFINITY;
        }
    }
    for (c = 0; c < C; ++c) {
        const double v = ((double)x[c] - shift) - norm;
        lp[c] = v;
        best = v > best ? v : best;
    }
    out->blank = lp[a->blank];
    star = best + a->star_penalty;
    out->star_wins = star > out->blank;
    out->star = out->star_wins ? star : out->blank;
    return 1;
}

/* The sample's extended sequence, in the slot. */
typedef struct align_seq {
    size_t M;            /* labels other than stars */
    size_t S;            /* 2M + 1 states */
    size_t nstars;       /* blank slots holding a star */
    size_t repeats;      /* adjacent equal labels */
    int32_t *labels;     /* [M] */
    int32_t *origin;     /* [M] index into the sample's labels */
    int32_t *star_at;    /* [M + 1] first star of each blank slot, or -1 */
    int32_t *star_slots; /* [nstars] */
    double *skip;        /* [M] (padded) */
} align_seq;

static void build_sequence(const align_args *a, align_seq *q) {
    unsigned char *ws = a->ws;
    const ctcc_align_slot *lay = &a->lay;
    size_t i, j, M = 0;
    q->labels = (int32_t *)(ws + lay->labels);
    q->origin = (int32_t *)(ws + lay->origin);
    q->star_at = (int32_t *)(ws + lay->star_at);
    q->star_slots = (int32_t *)(ws + lay->star_slots);
    q->skip = (double *)(ws + lay->skip) + CTCC_ALIGN_PAD;
    q->star_at[0] = -1;
    for (i = 0; i < a->label_length; ++i) {
        const int32_t v = a->labels[i];
        if (v == CTCC_LABEL_STAR) {
            if (q->star_at[M] < 0) {
                q->star_at[M] = (int32_t)i;
            }
        } else {
            q->labels[M] = v;
            q->origin[M] = (int32_t)i;
            ++M;
            q->star_at[M] = -1;
        }
    }
    q->M = M;
    q->S = 2 * M + 1;
    q->nstars = 0;
    for (j = 0; j <= M; ++j) {
        if (q->star_at[j] >= 0) {
            q->star_slots[q->nstars++] = (int32_t)j;
        }
    }
    q->repeats = 0;
    for (i = 0; i < lay->half; ++i) {
        q->skip[(ptrdiff_t)i - CTCC_ALIGN_PAD] = NEG_INF;
    }
    for (j = 1; j < M; ++j) {
        if (q->labels[j] != q->labels[j - 1]) {
            q->skip[j] = 0;
        } else {
            ++q->repeats;
        }
    }
}

/* A Viterbi row: blank[j] = state 2j, label[j] = state 2j + 1, with
 * CTCC_ALIGN_PAD entries of padding before index 0 of each. */
typedef struct vrow {
    double *blank, *label;
} vrow;

static inline vrow row_at(double *base, size_t half) {
    vrow r;
    r.blank = base + CTCC_ALIGN_PAD;
    r.label = base + half + CTCC_ALIGN_PAD;
    return r;
}

/* Sets state s of row r to v. */
static inline void row_set(vrow r, size_t s, double v) {
    if (s & 1) {
        r.label[s / 2] = v;
    } else {
        r.blank[s / 2] = v;
    }
}

/* One frame of the recursion for states [lo, hi) of `cur` from `prev`
 * (states [lo - 2, hi) of prev must hold their values or -inf). With
 * moves != NULL also stores each state's move: moves[j] for blank j
 * (0 stay, 1 previous), moves[half + j] for label j (0, 1 or 2). */
CTCC_DISPATCH
static void step_states(vrow prev, vrow cur, size_t lo, size_t hi,
                        const align_seq *q, const double *lp,
                        const frame_emit *fe, unsigned char *moves,
                        size_t half) {
    const size_t b0 = (lo + 1) / 2, b1 = (hi + 1) / 2;
    const size_t l0 = lo / 2, l1 = hi / 2;
    const double eb = fe->blank;
    const double *pb = prev.blank, *pl = prev.label, *skip = q->skip;
    double *cb = cur.blank, *cl = cur.label;
    const int32_t *lab = q->labels;
    size_t j, k;
    if (moves == NULL) {
        /* Blank slot j and label j together where both are in range (they
         * share the loads of pb[j] and pl[j - 1]); the label below the
         * first blank slot and the blank slot above the last label alone,
         * with the same operations. */
        const size_t f0 = b0 > l0 ? b0 : l0, f1 = b1 < l1 ? b1 : l1;
        if (l0 < f0 && l0 < l1) {
            j = l0;
            {
                const double stay = pl[j], step = pb[j];
                const double jump = pl[j - 1] + skip[j];
                const double best1 = step > stay ? step : stay;
                const double best = jump > best1 ? jump : best1;
                cl[j] = lp[lab[j]] + best;
            }
        }
#pragma omp simd
        for (j = f0; j < f1; ++j) {
            const double sb = pb[j], sl = pl[j], below = pl[j - 1];
            const double bb = below > sb ? below : sb;
            const double jump = below + skip[j];
            const double best1 = sb > sl ? sb : sl;
            const double best = jump > best1 ? jump : best1;
            cb[j] = eb + bb;
            cl[j] = lp[lab[j]] + best;
        }
        if (f1 < b1 && f1 >= b0) {
            j = f1;
            {
                const double stay = pb[j], step = pl[j - 1];
                const double best = step > stay ? step : stay;
                cb[j] = eb + best;
            }
        }
    } else {
        unsigned char *mb = moves, *ml = moves + half;
#pragma omp simd
        for (j = b0; j < b1; ++j) {
            const double stay = pb[j], step = pl[j - 1];
            const double best = step > stay ? step : stay;
            cb[j] = eb + best;
            mb[j] = (unsigned char)(step > stay);
        }
#pragma omp simd
        for (j = l0; j < l1; ++j) {
            const double stay = pl[j], step = pb[j];
            const double jump = pl[j - 1] + skip[j];
            const double best1 = step > stay ? step : stay;
            const double best = jump > best1 ? jump : best1;
            cl[j] = lp[lab[j]] + best;
            ml[j] = (unsigned char)((step > stay) +
                                    (jump > best1) * (2 - (step > stay)));
        }
    }
    /* Blank slots holding a star: the star's emission instead (star_slots
     * is ascending: the first one >= b0 by bisection). */
    {
        size_t a = 0, b = q->nstars;
        while (a < b) {
            const size_t m = a + (b - a) / 2;
            if ((size_t)q->star_slots[m] < b0) {
                a = m + 1;
            } else {
                b = m;
            }
        }
        for (k = a; k < q->nstars && (size_t)q->star_slots[k] < b1; ++k) {
            j = (size_t)q->star_slots[k];
            {
                const double stay = pb[j], step = pl[j - 1];
                const double best = step > stay ? step : stay;
                cb[j] = fe->star + best;
            }
        }
    }
}

/* States [lo, hi) within {m0, m0 + 1} (m0 even, > 0) of `cur`, the two
 * lowest states of a block, as step_states computes them, with `below`
 * standing for state m0 - 1 of the previous frame (read from the block
 * below, whose rows may be further on). */
static void edge_states(vrow prev, vrow cur, size_t lo, size_t hi, size_t m0,
                        double below, const align_seq *q, const double *lp,
                        const frame_emit *fe) {
    const size_t j = m0 / 2;
    if (lo <= m0 && m0 < hi) {
        const double stay = prev.blank[j], step = below;
        const double best = step > stay ? step : stay;
        cur.blank[j] = (q->star_at[j] >= 0 ? fe->star : fe->blank) + best;
    }
    if (lo <= m0 + 1 && m0 + 1 < hi) {
        const double stay = prev.label[j], step = prev.blank[j];
        const double jump = below + q->skip[j];
        const double best1 = step > stay ? step : stay;
        const double best = jump > best1 ? jump : best1;
        cur.label[j] = lp[q->labels[j]] + best;
    }
}

/* States [lo, hi) of frame 0: emissions only. */
static void first_frame(vrow cur, size_t lo, size_t hi, const align_seq *q,
                        const double *lp, const frame_emit *fe) {
    size_t s;
    for (s = lo; s < hi; ++s) {
        double e;
        if (s & 1) {
            e = lp[q->labels[s / 2]];
        } else {
            e = q->star_at[s / 2] >= 0 ? fe->star : fe->blank;
        }
        row_set(cur, s, e);
    }
}

/* Waits until *done >= value (another part's progress). */
static void wait_for(int *done, int value) {
    int seen, spins = 0;
    for (;;) {
#ifdef _OPENMP
#pragma omp atomic read seq_cst
#endif
        seen = *done;
        if (seen >= value) {
            return;
        }
        if (++spins >= 256) {
            spins = 0;
#ifdef CTCC_HAVE_SCHED_YIELD
            sched_yield(); /* a preempted producer needs the core */
#endif
        }
    }
}

/* Pass 1 for states [m0, m1) (m0 even; m1 even or S) of every frame, by
 * one thread, in the slot's two rows (each thread writes its own states
 * only). The frames go in tiles of tb->tile; in a tile, each block of
 * CTCC_ALIGN_BLOCK states runs over all the tile's frames before the next
 * block, reading the top state of the block below from that block's
 * exports (ring: entry 0 the frame before the tile, entry 1 + i the tile's
 * frame i). In a team, the thread below exports its top state of every
 * frame (in_exp, [T]) and announces the frames it finished (in_done);
 * this thread does the same for the one above (out_exp / out_done; NULL
 * for the top thread). States only depend on lower ones, so no thread
 * waits for the one above it. Copies its states of every checkpoint frame
 * into the checkpoints. Returns 0 if a frame holds NaN or +inf (every
 * thread checks a tile before it waits, so all stop at the same tile). */
static int forward_range(const align_args *a, const align_seq *q, double *table,
                         const ctcc_align_table *tb, size_t m0, size_t m1,
                         const double *in_exp, int *in_done, double *out_exp,
                         int *out_done) {
    const ctcc_align_slot *lay = &a->lay;
    const size_t T = a->time, S = q->S, K = lay->segment, half = lay->half;
    const size_t F = tb->tile, C = tb->stride, R = tb->ring_stride;
    const size_t nb = (m1 - m0 + CTCC_ALIGN_BLOCK - 1) / CTCC_ALIGN_BLOCK;
    double *rows = (double *)(a->ws + lay->rows);
    double *ckpt = (double *)(a->ws + lay->checkpoints);
    double *lpt = table + tb->lp, *ring = table + tb->ring;
    frame_emit *fes = (frame_emit *)(void *)(table + tb->fe);
    size_t t0, b, i;
    for (t0 = 0; t0 < T; t0 += F) {
        const size_t t1 = t0 + F < T ? t0 + F : T;
        size_t t;
        for (t = t0; t < t1; ++t) {
            if (!frame_emissions(a, t, lpt + (t - t0) * C, &fes[t - t0])) {
                return 0;
            }
        }
        if (in_exp != NULL && t1 > 1) {
            wait_for(in_done, (int)(t1 - 1));
        }
        for (b = 0; b < nb; ++b) {
            const size_t bm0 = m0 + b * CTCC_ALIGN_BLOCK;
            const size_t bm1 =
                bm0 + CTCC_ALIGN_BLOCK < m1 ? bm0 + CTCC_ALIGN_BLOCK : m1;
            const double *ring_in = b > 0 ? ring + (b - 1) * R : NULL;
            double *ring_out = b + 1 < nb ? ring + b * R : NULL;
            for (t = t0; t < t1; ++t) {
                const size_t lo = ctcc_band_lo(S, T, t);
                const size_t hi = ctcc_band_hi(S, t);
                const size_t clo = lo > bm0 ? lo : bm0;
                const size_t chi = hi < bm1 ? hi : bm1;
                const double *lp = lpt + (t - t0) * C;
                const frame_emit *fe = &fes[t - t0];
                vrow cur = row_at(rows + (t & 1) * lay->row, half);
                vrow prev = row_at(rows + ((t - 1) & 1) * lay->row, half);
                if (clo < chi) {
                    if (t == 0) {
                        first_frame(cur, clo, chi, q, lp, fe);
                    } else if (bm0 == 0) {
                        step_states(prev, cur, clo, chi, q, lp, fe, NULL, half);
                    } else {
                        const double below =
                            ring_in != NULL ? ring_in[t - t0] : in_exp[t - 1];
                        const size_t mid = bm0 + 2 < chi ? bm0 + 2 : chi;
                        if (clo < mid) {
                            edge_states(prev, cur, clo, mid, bm0, below, q, lp,
                                        fe);
                        }
                        if (mid < chi) {
                            step_states(prev, cur, clo > mid ? clo : mid, chi,
                                        q, lp, fe, NULL, half);
                        }
                    }
                }
                for (i = hi > bm0 ? hi : bm0; i < hi + 2 && i < bm1; ++i) {
                    row_set(cur, i, NEG_INF);
                }
                if (ring_out != NULL) {
                    ring_out[t - t0 + 1] = cur.label[(bm1 - 1) / 2];
                } else if (out_exp != NULL) {
                    out_exp[t] = cur.label[(bm1 - 1) / 2];
                }
                if ((t + 1) % K == 0 && t + 1 < T) {
                    double *c = ckpt + ((t + 1) / K - 1) * lay->row;
                    const size_t b0 = (bm0 + 1) / 2, b1 = (bm1 + 1) / 2;
                    const size_t l0 = bm0 / 2, l1 = bm1 / 2;
                    memcpy(c + CTCC_ALIGN_PAD + b0, cur.blank + b0,
                           (b1 - b0) * sizeof(double));
                    memcpy(c + half + CTCC_ALIGN_PAD + l0, cur.label + l0,
                           (l1 - l0) * sizeof(double));
                }
            }
        }
        for (b = 0; b + 1 < nb; ++b) {
            ring[b * R] = ring[b * R + (t1 - t0)];
        }
        if (out_done != NULL) {
#ifdef _OPENMP
#pragma omp atomic write seq_cst
#endif
            *out_done = (int)t1;
        }
    }
    return 1;
}

/* Packs the moves m[0, 4 n) (one byte each, 0..2) four to a byte into
 * out[0, n): move i at bits 2 (i & 3) of out[i / 4]. */
static void pack_moves(unsigned char *out, const unsigned char *m, size_t n) {
    size_t i;
#pragma omp simd
    for (i = 0; i < n; ++i) {
        uint32_t w;
        memcpy(&w, m + 4 * i, 4);
        out[i] = (unsigned char)((w & 3u) | ((w >> 6) & 0xcu) |
                                 ((w >> 12) & 0x30u) | ((w >> 18) & 0xc0u));
    }
}

/* Pass 2: recomputes every segment inside the band of states that reach
 * its known end state, and traces the path back. `state` is the final
 * state. Writes frames and the spans of the labels (not of the stars'
 * empty spans, see finish_spans). */
static void trace_back(const align_args *a, const align_seq *q, double *lp,
                       unsigned char *moves, size_t state) {
    const ctcc_align_slot *lay = &a->lay;
    const size_t T = a->time, S = q->S, K = lay->segment;
    const size_t half = lay->half, W = lay->back_row;
    double *rows = (double *)(a->ws + lay->rows);
    const double *ckpt = (const double *)(a->ws + lay->checkpoints);
    unsigned char *back = a->ws + lay->back;
    size_t seg;
    for (seg = lay->segments; seg-- > 0;) {
        const size_t ts = seg * K;
        const size_t te = (ts + K < T ? ts + K : T) - 1;
        const size_t s_end = state;
        size_t t;
        for (t = ts; t <= te; ++t) {
            const size_t reach = 2 * (te - t);
            const size_t glo = ctcc_band_lo(S, T, t), ghi = ctcc_band_hi(S, t);
            const size_t rlo =
                s_end > reach && s_end - reach > glo ? s_end - reach : glo;
            const size_t rhi = s_end + 1 < ghi ? s_end + 1 : ghi;
            vrow cur = row_at(rows + (t & 1) * lay->row, half);
            frame_emit fe;
            (void)frame_emissions(a, t, lp, &fe); /* finite: pass 1 saw it */
            if (t == 0) {
                first_frame(cur, rlo, rhi, q, lp, &fe);
            } else {
                const double *pbase = t == ts ? ckpt + (seg - 1) * lay->row
                                              : rows + ((t - 1) & 1) * lay->row;
                vrow prev = row_at((double *)pbase, half);
                unsigned char *brow = back + (t - ts) * W;
                step_states(prev, cur, rlo, rhi, q, lp, &fe, moves, half);
                pack_moves(brow, moves + (rlo + 1) / 2,
                           ((rhi + 1) / 2 - (rlo + 1) / 2 + 3) / 4);
                pack_moves(brow + W / 2, moves + half + rlo / 2,
                           (rhi / 2 - rlo / 2 + 3) / 4);
            }
            row_set(cur, rhi, NEG_INF);
            row_set(cur, rhi + 1, NEG_INF);
        }
        for (t = te + 1; t-- > ts;) {
            if (state & 1) {
                const size_t j = state / 2;
                a->frames[t] = q->labels[j];
                if (a->spans != NULL) {
                    int32_t *span = a->spans + 2 * (size_t)q->origin[j];
                    if (span[1] < 0) {
                        span[1] = (int32_t)(t + 1);
                    }
                    span[0] = (int32_t)t;
                }
            } else {
                const int32_t star = q->star_at[state / 2];
                a->frames[t] = a->blank;
                if (star >= 0) {
                    frame_emit fe;
                    (void)frame_emissions(a, t, lp, &fe);
                    if (fe.star_wins) {
                        a->frames[t] = CTCC_LABEL_STAR;
                        if (a->spans != NULL) {
                            int32_t *span = a->spans + 2 * (size_t)star;
                            if (span[1] < 0) {
                                span[1] = (int32_t)(t + 1);
                            }
                            span[0] = (int32_t)t;
                        }
                    }
                }
            }
            if (t > 0) {
                const size_t reach = 2 * (te - t);
                const size_t glo = ctcc_band_lo(S, T, t);
                const size_t rlo =
                    s_end > reach && s_end - reach > glo ? s_end - reach : glo;
                const unsigned char *brow = back + (t - ts) * W;
                if (t > ts || seg > 0) {
                    /* The state's half: blank slots from (rlo + 1) / 2,
                     * labels from rlo / 2. */
                    const size_t d = state & 1 ? state / 2 - rlo / 2
                                               : state / 2 - (rlo + 1) / 2;
                    const unsigned char *h = state & 1 ? brow + W / 2 : brow;
                    state -= (h[d >> 2] >> (2 * (d & 3))) & 3;
                }
            }
        }
    }
}

/* Stars without a frame read as star get the empty span (e, e), e = the
 * end of the span before them (0 for the first entry). */
static void finish_spans(const align_args *a) {
    size_t i;
    int32_t e = 0;
    if (a->spans == NULL) {
        return;
    }
    for (i = 0; i < a->label_length; ++i) {
        int32_t *span = a->spans + 2 * i;
        if (a->labels[i] == CTCC_LABEL_STAR && span[1] < 0) {
            span[0] = span[1] = e;
        }
        e = span[1];
    }
}

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

/* Aligns one sample with `team` threads for pass 1 (1, or the threads of
 * the enclosing call when it runs samples one at a time); tables holds
 * `team` frame tables of table_stride doubles. Returns the path's score. */
static double align_sample(const align_args *a, double *tables,
                           size_t table_stride, int team) {
    const size_t T = a->time;
    const ctcc_align_slot *lay = &a->lay;
    align_seq q;
    ctcc_align_table tb;
    double *rows;
    double score;
    size_t i, state;
    int ok = 1;

    build_sequence(a, &q);
    rows = (double *)(a->ws + lay->rows);
    for (i = 0; i < 2 * lay->row; ++i) {
        rows[i] = NEG_INF;
    }
    for (i = T; i < a->max_time; ++i) {
        a->frames[i] = -1;
    }
    if (T < q.M + q.repeats) {
        clear_sample(a);
        return NEG_INF;
    }
    if (a->spans != NULL) {
        for (i = 0; i < 2 * a->label_length; ++i) {
            a->spans[i] = -1;
        }
    }
    if (T == 0) {
        finish_spans(a);
        return 0.0; /* no labels, no frames: the empty path */
    }

    /* Checkpoint rows: -inf padding (the parts copy their states only). */
    {
        double *ckpt = (double *)(a->ws + lay->checkpoints);
        size_t k;
        for (k = 0; k < lay->checkpoint_count; ++k) {
            for (i = 0; i < CTCC_ALIGN_PAD; ++i) {
                ckpt[k * lay->row + i] = NEG_INF;
                ckpt[k * lay->row + lay->half + i] = NEG_INF;
            }
        }
    }
    /* Small samples are not worth splitting. */
    if (team > 1 && q.S < CTCC_ALIGN_STATES_PER_THREAD * (size_t)team) {
        team = (int)(q.S / CTCC_ALIGN_STATES_PER_THREAD);
        team = team > 1 ? team : 1;
    }
    ctcc_align_table_compute(a->alphabet, q.S, T, team, &tb);
    if (team > 1) {
        int p;
        for (p = 0; p < team; ++p) {
            *(int *)(tables + (size_t)p * table_stride + tb.done) = 0;
        }
#ifdef _OPENMP
#pragma omp parallel num_threads(team) reduction(& : ok)
        {
            const int parts = omp_get_num_threads();
            const int part = omp_get_thread_num();
            double *mine = tables + (size_t)part * table_stride;
            double *before = tables + (size_t)(part - 1) * table_stride;
            /* Even boundaries: a block's lowest state is a blank slot. */
            const size_t m0 = q.S * (size_t)part / (size_t)parts / 2 * 2;
            const size_t m1 = part + 1 < parts ? q.S * (size_t)(part + 1) /
                                                     (size_t)parts / 2 * 2
                                               : q.S;
            ok = forward_range(a, &q, mine, &tb, m0, m1,
                               part > 0 ? before + tb.exp : NULL,
                               part > 0 ? (int *)(before + tb.done) : NULL,
                               part + 1 < parts ? mine + tb.exp : NULL,
                               part + 1 < parts ? (int *)(mine + tb.done)
                                                : NULL);
        }
#endif
    } else {
        ok = forward_range(a, &q, tables, &tb, 0, q.S, NULL, NULL, NULL, NULL);
    }
    if (!ok) {
        clear_sample(a);
        return (double)NAN;
    }

    {
        const vrow last = row_at(rows + ((T - 1) & 1) * lay->row, lay->half);
        const size_t S = q.S;
        state = S - 1;
        score = last.blank[q.M];
        /* A tie goes to the final blank, or to the last label on request
         * (torchaudio's rule). */
        if (S > 1 && (last.label[q.M - 1] > score ||
                      (a->end_on_label && last.label[q.M - 1] == score))) {
            state = S - 2;
            score = last.label[q.M - 1];
        }
        if (score == NEG_INF) {
            clear_sample(a);
            return NEG_INF;
        }
    }
    trace_back(a, &q, tables, a->ws + lay->moves, state);
    finish_spans(a);
    return score;
}

/* The arguments of a whole call, shared by its samples. */
typedef struct align_call {
    const REAL *inputs;
    const int32_t *flat_labels, *label_lengths, *input_lengths;
    const size_t *label_offset;
    size_t N, T, C;
    int32_t *frames, *spans;
    const ctcc_resolved_options *opts;
    double star_penalty;
    const ctcc_align_plan *plan;
    unsigned char *base;
} align_call;

/* Aligns sample n in workspace slot `slot` with `team` threads. */
static double run_sample(const align_call *c, int n, int slot, int team) {
    align_args a;
    const size_t nn = (size_t)n;
    const size_t table_stride = c->plan->table_bytes / sizeof(double);
    double *tables = (double *)(c->base + c->plan->frame_tables) +
                     (size_t)slot * table_stride;
    a.input = c->inputs + (c->opts->layout == CTCC_LAYOUT_TIME_MAJOR
                               ? nn * c->C
                               : nn * c->T * c->C);
    a.frame_stride =
        c->opts->layout == CTCC_LAYOUT_TIME_MAJOR ? c->N * c->C : c->C;
    a.alphabet = c->C;
    a.max_time = c->T;
    a.time = (size_t)c->input_lengths[n];
    a.labels =
        c->flat_labels != NULL ? c->flat_labels + c->label_offset[n] : NULL;
    a.label_length = (size_t)c->label_lengths[n];
    a.blank = c->opts->blank;
    a.log_probs = c->opts->input_kind == CTCC_INPUT_LOG_PROBS;
    a.star_penalty = c->star_penalty;
    a.end_on_label = c->opts->align_end_tie == CTCC_ALIGN_END_TIE_LABEL;
    a.frames = c->frames + nn * c->T;
    a.spans = c->spans != NULL ? c->spans + 2 * c->label_offset[n] : NULL;
    a.ws = c->base + c->plan->slot_base + (size_t)slot * c->plan->slot_bytes;
    ctcc_align_slot_compute(c->input_lengths[n], c->label_lengths[n], &a.lay);
    return align_sample(&a, tables, table_stride, team);
}

static ctcc_status align_batch(const REAL *inputs, const int32_t *flat_labels,
                               const int32_t *label_lengths,
                               const int32_t *input_lengths, int32_t max_time,
                               int32_t batch_size, int32_t alphabet_size,
                               int32_t *frames, int32_t *spans, REAL *scores,
                               void *workspace, size_t workspace_bytes,
                               const ctcc_options *options,
                               double star_penalty) {
    ctcc_resolved_options opts;
    ctcc_status status;
    ctcc_align_plan plan;
    align_call c;
    size_t *label_offset;
    unsigned char *base;
    int threads, n;

    if (inputs == NULL || label_lengths == NULL || input_lengths == NULL ||
        frames == NULL || scores == NULL || workspace == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status =
        ctcc_align_check(flat_labels, label_lengths, input_lengths, max_time,
                         batch_size, alphabet_size, options, &opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    if (!(star_penalty <= 0.0)) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    /* The most threads whose plan fits in the workspace. */
    threads = ctcc_thread_count(opts.num_threads, INT32_MAX);
    for (;;) {
        status =
            ctcc_align_plan_compute(label_lengths, input_lengths, batch_size,
                                    alphabet_size, threads, &plan);
        if (status != CTCC_STATUS_SUCCESS) {
            return status;
        }
        if (plan.total <= workspace_bytes) {
            break;
        }
        if (threads == 1) {
            return CTCC_STATUS_WORKSPACE_TOO_SMALL;
        }
        --threads;
    }

    base = ctcc_align_ptr(workspace);
    label_offset = (size_t *)base;
    {
        size_t lab = 0;
        for (n = 0; n < batch_size; ++n) {
            label_offset[n] = lab;
            lab += (size_t)label_lengths[n];
        }
    }
    c.inputs = inputs;
    c.flat_labels = flat_labels;
    c.label_lengths = label_lengths;
    c.input_lengths = input_lengths;
    c.label_offset = label_offset;
    c.N = (size_t)batch_size;
    c.T = (size_t)max_time;
    c.C = (size_t)alphabet_size;
    c.frames = frames;
    c.spans = spans;
    c.opts = &opts;
    c.star_penalty = star_penalty;
    c.plan = &plan;
    c.base = base;

    if (plan.slots > 1) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(plan.slots)
#endif
        for (n = 0; n < batch_size; ++n) {
#ifdef _OPENMP
            const int slot = omp_get_thread_num();
#else
            const int slot = 0;
#endif
            scores[n] = (REAL)run_sample(&c, n, slot, 1);
        }
    } else {
        for (n = 0; n < batch_size; ++n) {
            scores[n] = (REAL)run_sample(&c, n, 0, plan.team);
        }
    }
    return CTCC_STATUS_SUCCESS;
}

ctcc_status ALIGN_NAME(const REAL *inputs, const int32_t *flat_labels,
                       const int32_t *label_lengths,
                       const int32_t *input_lengths, int32_t max_time,
                       int32_t batch_size, int32_t alphabet_size,
                       int32_t *frames, int32_t *spans, REAL *scores,
                       void *workspace, size_t workspace_bytes,
                       const ctcc_options *options) {
    return align_batch(inputs, flat_labels, label_lengths, input_lengths,
                       max_time, batch_size, alphabet_size, frames, spans,
                       scores, workspace, workspace_bytes, options,
                       CTCC_STAR_PENALTY_DEFAULT);
}

ctcc_status ALIGN_STAR_NAME(const REAL *inputs, const int32_t *flat_labels,
                            const int32_t *label_lengths,
                            const int32_t *input_lengths, int32_t max_time,
                            int32_t batch_size, int32_t alphabet_size,
                            int32_t *frames, int32_t *spans, REAL *scores,
                            void *workspace, size_t workspace_bytes,
                            const ctcc_options *options, double star_penalty) {
    return align_batch(inputs, flat_labels, label_lengths, input_lengths,
                       max_time, batch_size, alphabet_size, frames, spans,
                       scores, workspace, workspace_bytes, options,
                       star_penalty);
}
