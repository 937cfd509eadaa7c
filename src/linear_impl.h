/*
 * linear_impl.h - the scaled linear-space CTC kernel (the fast path), with
 * the underflow bound that decides whether its results stand. Included by
 * loss_impl.h, after the log-space kernel (compute_sample, the fallback),
 * with the same REAL / DP definitions.
 *
 * Recurrences (S = 2L + 1 states, same band, skip rule and conventions as
 *   the log-space kernel): in probabilities rather than their logarithms,
 *       alpha_t(s) = p_t(s) (alpha_{t-1}(s) + alpha_{t-1}(s-1)
 *                            + k(s) alpha_{t-1}(s-2))
 *       beta_{t-1}(s) = p_t(s) beta_t(s) + p_t(s+1) beta_t(s+1)
 *                       + k(s+2) p_t(s+2) beta_t(s+2)
 *   with k = 1 where a skip is allowed, 0 elsewhere: two additions, a
 *   multiply-add and a multiply per state, no transcendental function. The
 *   emissions p_t(s) are gathered from the frame's probabilities, computed
 *   in double (one exp per class for logits when the alphabet is at
 *   most S, and for log-probabilities when it is smaller than the band;
 *   one per state otherwise).
 *
 * Scaling: each stored row keeps its own scale. The row of frame t is
 *   computed with the emissions multiplied by the power of two that brings
 *   the largest entry of the row before into [1/2, 1), so the stored
 *   entries stay within a factor 3 of 1 at the top, and the scale is
 *   carried aside: its exponents as an integer, and the logarithm of the
 *   rest (the softmax's normaliser, without a log per frame: see
 *   lin_emissions) in double: log P = log A_t + log B_t + log sum_s a_t(s)
 *   b_t(s).
 *
 * Tilt: the rows hold alpha_t(s) x^s and beta_t(s) x^(S - 1 - s) (before
 *   their scales), for one power of two x = 2^k <= 1 per sample
 *   (lin_tilt_log2), so that the recurrences read
 *       a_t(s) = p_t(s) (a_{t-1}(s) + x a_{t-1}(s-1) + x^2 k(s) a_{t-1}(s-2))
 *       b_{t-1}(s) = p_t(s) b_t(s) + x p_t(s+1) b_t(s+1)
 *                    + x^2 k(s+2) p_t(s+2) b_t(s+2)
 *   (x^2 is folded into the skip factors; multiplying by a power of two is
 *   exact) and a_t(s) b_t(s) = alpha_t(s) beta_t(s) x^(S - 1) at every
 *   frame: the posteriors are unchanged, and log P takes (S - 1) log x off.
 *   Why: left alone, a row's peak runs at the paths' own velocity (about
 *   0.9 states per frame for uniform emissions), while the probability
 *   mass sits near the diagonal s = t S / T. In a long sample with few
 *   labels per frame the two part, and after a few thousand frames the
 *   entries where the posteriors are lie more than 2^1000 below the row's
 *   top: the bound rejects the sample (T = 4000, S = 801, random logits:
 *   E about 2^630). The tilt slows the peak down to the diagonal's
 *   velocity (E about 2^-960 there), and its choice only changes the
 *   speed: the gradient's bound below holds for any x, as it weighs each
 *   flagged entry by the other direction's entry at the same state. Only
 *   the gradient tilts: the loss-only bound weighs a flagged entry by the
 *   other direction's largest entry at the meeting frame, and a tilted
 *   row's flagged entries above its peak stand for untilted values x^-s
 *   larger, so that bound would reject even peaked samples.
 *
 * Windows: each row keeps the states [wlo, whi) of its band outside which
 *   all its entries are 0. An entry whose predecessors (for beta:
 *   successors) are all 0 is exactly 0 (emissions are finite), so the row
 *   of frame t is computed over the states the window of the row before
 *   reaches, [max(lo, wlo), min(hi, whi + 2)) for alpha and [max(lo, wlo -
 *   2), min(hi, whi)) for beta, with zeros on the two entries beyond each
 *   end; the rest of the band would only have been computed to 0. Then
 *   the window is narrowed past the zeros at its ends (lin_trim), which
 *   are flagged entries stored as 0 (charged where they were computed)
 *   or exact zeros. Products of two rows run where both windows meet. So
 *   the values are those of the whole band, to the bit, and the work
 *   follows the mass: a trained model's outputs leave a few dozen states
 *   of each row above LIN_TINY, of a band of hundreds (speech-peaked:
 *   40% of the band on average, 25% less time); random outputs fill
 *   nearly the whole band.
 *
 * Meeting in the middle: alpha runs over frames [0, m) and beta over
 *   [m - 1, T) at the same time (phase 1, two independent tasks, m = ceil(T
 *   / 2)); P comes from frame m - 1. For the gradient, the stored alpha
 *   rows of [0, m) meet a beta that continues down from m - 1, and the
 *   stored beta rows of [m, T) an alpha that continues up from m - 1
 *   (phase 2, two more independent tasks). Every frame's posteriors are
 *   alpha_t beta_t over their sum. The two tasks of a phase can run on two
 *   threads when the batch has fewer samples than threads; the arithmetic
 *   is the same either way, so the results do not depend on the thread
 *   count.
 *
 * The underflow bound. A linear entry more than about 2^1000 below the top
 *   of its row leaves the double range (it becomes subnormal or 0), where
 *   the log-space kernel would have kept it. Whether that matters depends
 *   on the other direction: a state flushed in alpha matters as much as its
 *   beta. Every computed entry r below TINY = 2^-1000 (raw units of its
 *   row, whose top is the row's maximum mx) is counted as "flagged": its
 *   absolute error is at most U = 2^-999 (it is below TINY, and its true
 *   value is too, up to what an exp that returned 0 stood for: at most
 *   2^-1021 times the frame's factor times 9, within U while the factor
 *   is at most LIN_FLUSHED_MAX; a frame with a larger one and a class
 *   flushed to 0 sends the sample to the log-space kernel). An entry
 *   that is not flagged has only the rounding error of a few double
 *   operations on normal numbers, as in the log-space kernel. An entry
 *   computed from predecessors (for beta: successors) that are all exactly
 *   0 is exactly 0, with no error of its own, and is not flagged: a state
 *   that no path reaches yet (after a repeated label, whose two copies
 *   need a blank between them, the band admits a few); a flagged
 *   predecessor's error is charged where it was flagged, and the charge
 *   covers everything computed from it. The error of
 *   a flagged alpha entry at frame t changes P by at most U times that
 *   state's beta_t (P = sum_s alpha_t(s) beta_t(s) for every t and every
 *   later computation is linear and non-negative), and frame t's
 *   posteriors by as much relative to the frame's sum. So, to first order,
 *   the relative error of P and the L1 error of every frame's posteriors
 *   are at most
 *       E = sum_t U (n^a_t mx^b_t + n^b_t mx^a_t + S_t) / Z_t,
 *   where n^a_t, n^b_t count the flagged entries of frame t's alpha and
 *   beta rows, mx^a_t, mx^b_t are the rows' maxima, S_t is the band's
 *   width (the products a_t(s) b_t(s) themselves may underflow) and Z_t =
 *   sum_s a_t(s) b_t(s), all in the stored units. With the gradient every
 *   term is at hand (Z_t is the posteriors' divisor), so the bound is
 *   exact bookkeeping at the cost of a few operations per frame. (A
 *   frame's flag term may be replaced by the larger 2 S_t 3 U / Z_t,
 *   every entry being at most 3, see below, where that is at most a 4
 *   T-th of the threshold: then the flagged entries need no pass of their
 *   own, and E stays a bound, at most a quarter of the threshold above the
 *   exact sum.)
 *
 *   With the gradient the four tasks run with flush to zero: a result
 *   below 2^-1022 becomes 0 (x86 processors compute subnormal results at
 *   a microcoded pace, and peaked outputs give many: an emission of
 *   e^-30 times an entry near TINY). That changes an entry by at most 15
 *   times 2^-1022 < U' = 2^-1018: for alpha, a flushed emission (times
 *   the predecessors, at most 9), the two flushed tilted predecessors
 *   (times the emission, at most 1) and the flushed entry itself; for
 *   beta, three products emission times successor (each with its
 *   emission flushed first, times at most 3), the two tilted ones of them
 *   flushed again and the flushed sum. Every entry is
 *   charged U', weighted by the other direction's entry, which is at
 *   most 3 (each row is computed from emissions at most 1 times the row
 *   before over its maximum, so its entries are at most 3): E gains
 *   sum_t U' 2 3 S_t / Z_t, negligible beside the other terms unless
 *   the two directions disagree by about 2^1000, where the flags' terms
 *   reject the sample anyway. Without the gradient nothing is flushed.
 *
 *   A sample
 *   whose E exceeds 2^-53 (or with any non-finite scale, a zero sum, or a
 *   NaN or +inf input) is recomputed in log space, in the same four tasks
 *   (log_split_impl.h).
 *
 *   Without the gradient only the meeting frame has both directions. There
 *   the beta of a state at frame t < m - 1 is bounded by the beta row at m
 *   - 1 times the total probability of the frames between (at most 1 for
 *   a softmax: from a fixed state, distinct state paths emit distinct class
 *   sequences; a product of sums of exp(log-probabilities) otherwise), and
 *   symmetrically for alpha beyond m - 1. A flag at frame t then costs at
 *   most U (A_t / A_{m-1}) (product of the frames' sums) mx / Z_{m-1}: the
 *   same test, with a bound that is tight for trained (peaked) outputs and
 *   conservative elsewhere, where a sample falls back more often.
 */

/* The raw value below which an entry counts as flagged, and the error
 * charged to each flagged entry (see above). */
#define LIN_TINY 0x1p-1000
#define LIN_FLAG_ERROR 0x1p-999
/* The largest bound accepted: below the double rounding of a posterior. */
#define LIN_ACCEPT 0x1p-53
/* With the gradient the tasks run with flush to zero (ctcc_ftz_begin):
 * the error of any entry from results flushed on the way (at most 15
 * times 2^-1022, see the top of the file), and the bound on a stored
 * entry that each such error is weighted by. */
#define LIN_FTZ_ERROR 0x1p-1018
#define LIN_ROW_TOP 3.0
/* Without the gradient nothing is flushed to zero (the loss-only bound
 * does not charge every entry for it), and the backward task's products
 * of small emissions (e^-30 in peaked outputs) and entries near LIN_TINY
 * would fall below 2^-1022, into subnormal numbers, which x86 processors
 * compute at a microcoded pace (about 5% of the loss-only time on peaked
 * outputs). So that task forms them this power of two higher (the
 * emissions carry it), and lin_beta_row brings each sum down by it where
 * it stores the row: exact, and the same values as without, but for the
 * subnormals' lost digits. */
#define LIN_LIFT 0x1p64
/* ln 2, where a bound needs it (log P splits it, see lin_join). */
#define LIN_LN2 0.693147180559945309417

/* For a row's maximum v > 0: *p2 = frexp's exponent (2^(p2-1) <= v <
 * 2^p2), and returns 2^-p2, from the bits for a normal v (frexp and
 * ldexp are library calls, once per frame and task). */
CTCC_ALWAYS_INLINE double lin_pow2_scale(double v, int *p2) {
    uint64_t bits;
    int biased;
    memcpy(&bits, &v, sizeof(bits));
    biased = (int)((bits >> 52) & 0x7ff);
    if (biased > 0 && biased < 0x7ff) {
        const uint64_t out = (uint64_t)(2045 - biased) << 52;
        double r;
        *p2 = biased - 1022;
        memcpy(&r, &out, sizeof(r));
        return r;
    }
    (void)frexp(v, p2);
    return ldexp(1.0, -*p2);
}

/* What one task of a sample leaves for the others, on cache lines of its
 * own (the two directions may run on two threads). */
typedef struct lin_dir {
    double log_scale;  /* log A_{m-1} (forward) or log B_{m-1} (backward) */
    double log2_scale; /* the scale's part in powers of 2, kept apart */
    double crude;      /* log of the loss-only bound's terms, over P's scale */
    double mid_max;    /* the largest entry of the row of frame m - 1 */
    double mid_flags;  /* its flagged entries (with the gradient: 1 if any) */
    double bound;      /* phase 2: the share of E of this task's frames */
    double log_p;      /* dir[0] only: log P from lin_join, NaN to fall back */
    double tilt;       /* dir[0] only: the tilt x = 2^tilt_log2 (lin_tilt) */
    size_t win_lo, win_hi; /* the window of its row of frame m - 1 */
    int tilt_log2;         /* dir[0] only: set by lin_prepare */
    int bad;               /* a NaN / +inf input, or a non-finite scale */
    int linear;            /* dir[0] only: the sample takes the linear path */
    char pad[2 * CTCC_ALIGN - 8 * sizeof(double) - 2 * sizeof(size_t) -
             3 * sizeof(int)];
} lin_dir;

/* Two of them fill the sample's lin_state (4 CTCC_ALIGN bytes, see
 * ctcc_sample_layout_compute), each on cache lines of its own: the build
 * fails if a field added here breaks that. */
typedef char
    lin_dir_fills_two_lines[sizeof(lin_dir) == 2 * CTCC_ALIGN ? 1 : -1];

/* Everything the linear path needs of one sample. */
typedef struct lin_sample {
    const REAL *input;  /* frame 0 */
    REAL *grad;         /* frame 0 of the gradient, or NULL */
    REAL *post;         /* frame 0 of the posteriors, or NULL */
    norm_stage *stage;  /* the thread's stage rows, or NULL (sample_args) */
    size_t stride;      /* elements between frames */
    size_t C, T, S, SP; /* classes, frames, states, padded row length */
    size_t m;           /* the meeting frame is m - 1 */
    int log_probs;      /* the input kind */
    int with_grad;      /* gradient or posteriors wanted */
    int blank;
    const int32_t *ext;        /* [S] class of each state */
    const int32_t *labels;     /* [L] the labels: state 2j + 1's class */
    const DP *kmask;           /* [S] 1 where a skip is allowed, 0 padded */
    DP *table;                 /* with_grad: [T] rows; alpha < m, beta >= m */
    DP *rows_f, *rows_b;       /* two padded rows for each task */
    DP *mid_beta;              /* with_grad: the beta row of frame m - 1 */
    DP *emit_f, *emit_b;       /* a padded emission row for each task */
    DP *scratch_f, *scratch_b; /* [S] each */
    DP *shift, *norm;          /* with_grad: [T], the frame normalisers */
    double
        *flags; /* with_grad: [T], 1 where phase 1's row has flagged entries */
    lin_dir *dir;      /* [2]: forward, backward */
    DP *class_probs;   /* with_grad and C <= S: [T, C + 1], else NULL */
    DP *err_f, *err_b; /* loss only, T >= CTCC_TILT_MIN_FRAMES: two padded
                          error rows for each task (else NULL) */
    DP *emit_err;      /* with err_b: the backward task's emissions times
                          its error row, padded */
    int permute;       /* the labels' emissions by lin_pairs_permute */
    int blocks;        /* the rows in blocks (lin_alpha_row): AVX-512 */
    uint32_t *wins;    /* with_grad: [T][2], the window of each stored row */
} lin_sample;

#if CTCC_HAVE_AVX512_PATH
/* The most classes lin_pairs_permute looks up: four vectors' worth. */
#define LIN_PERMUTE_CLASSES 32

/* lin_gather_states' pairs loop for j in [j0, j1), where C <= 32: e[2j] =
 * eb (times cur[2j]), e[2j + 1] = pd[labels[j]] f (times cur[2j + 1]),
 * and with cur2 the same products, each at least floor2, times cur2 into
 * e2.
 * The frame's C probabilities times f sit in four registers, and each
 * label's is picked by two two-register permutes and a blend on bit 4 of
 * its class, where a gather loads every element on its own (about a tenth
 * of the time with the gradient, measured). The same products, to the
 * bit. Returns the first j not done (the caller finishes the tail). */
CTCC_AVX512 static size_t lin_pairs_permute(const DP *pd, size_t C, DP f, DP eb,
                                            const int32_t *labels, size_t j0,
                                            size_t j1, DP *e, const DP *cur,
                                            DP *e2, const DP *cur2, DP floor2) {
    __m512d p[4];
    const __m512d fv = _mm512_set1_pd((double)f), ebv = _mm512_set1_pd(eb);
    const __m512i bit4 = _mm512_set1_epi64(16);
    /* Output lanes: eb, then label lanes 0..3 (4..7), alternating. */
    const __m512i first = _mm512_set_epi64(11, 0, 10, 0, 9, 0, 8, 0);
    const __m512i second = _mm512_set_epi64(15, 0, 14, 0, 13, 0, 12, 0);
    size_t k, j;
    for (k = 0; k < 4; ++k) {
        const size_t at = 8 * k;
        const __mmask8 m =
            (__mmask8)(at >= C ? 0
                               : (C - at >= 8 ? 0xff : (1u << (C - at)) - 1));
        p[k] = _mm512_mul_pd(_mm512_maskz_loadu_pd(m, pd + at), fv);
    }
    for (j = j0; j + 8 <= j1; j += 8) {
        const __m512i idx = _mm512_cvtepu32_epi64(
            _mm256_loadu_si256((const __m256i *)(const void *)(labels + j)));
        const __m512d low = _mm512_permutex2var_pd(p[0], idx, p[1]);
        const __m512d high = _mm512_permutex2var_pd(p[2], idx, p[3]);
        const __m512d v =
            _mm512_mask_blend_pd(_mm512_test_epi64_mask(idx, bit4), low, high);
        __m512d a = _mm512_permutex2var_pd(ebv, first, v);
        __m512d b = _mm512_permutex2var_pd(ebv, second, v);
        if (cur2 != NULL) {
            const __m512d fl = _mm512_set1_pd(floor2);
            _mm512_storeu_pd(e2 + 2 * j,
                             _mm512_mul_pd(_mm512_max_pd(a, fl),
                                           _mm512_loadu_pd(cur2 + 2 * j)));
            _mm512_storeu_pd(e2 + 2 * j + 8,
                             _mm512_mul_pd(_mm512_max_pd(b, fl),
                                           _mm512_loadu_pd(cur2 + 2 * j + 8)));
        }
        if (cur != NULL) {
            a = _mm512_mul_pd(a, _mm512_loadu_pd(cur + 2 * j));
            b = _mm512_mul_pd(b, _mm512_loadu_pd(cur + 2 * j + 8));
        }
        _mm512_storeu_pd(e + 2 * j, a);
        _mm512_storeu_pd(e + 2 * j + 8, b);
    }
    return j;
}
#endif

/* The per-class loops of lin_emissions run over the C classes in blocks of
 * LIN_LANES, the last block overlapping the one before where LIN_LANES
 * does not divide C: every block is one full vector (or two), where a
 * plain loop over C = 29 classes ran 13 of them one at a time after one
 * vector of 16, and summed its 16 lanes in sequence (together a quarter
 * of a phase 1 task's time, measured). The overlap recomputes a few
 * classes to the same values: harmless for a maximum or a store, and
 * left out of a sum. */
#define LIN_LANES 8

/* The first class of block c0 (a multiple of LIN_LANES below C >=
 * LIN_LANES): c0, or C - LIN_LANES for the last, partial block. */
CTCC_ALWAYS_INLINE size_t lin_block_at(size_t c0, size_t C) {
    return c0 + LIN_LANES <= C ? c0 : C - LIN_LANES;
}

/* The largest of x[0, C). Unless bad is NULL (a constant), *bad receives
 * 1 if any is NaN or +inf (which the maximum skips), else 0. */
CTCC_ALWAYS_INLINE REAL lin_class_max(const REAL *x, size_t C, int *bad) {
    REAL m[LIN_LANES], top;
    int b[LIN_LANES], any = 0;
    size_t c0, i;
    for (i = 0; i < LIN_LANES; ++i) {
        m[i] = (REAL)(-INFINITY);
        b[i] = 0;
    }
    if (C < LIN_LANES) {
        for (c0 = 0; c0 < C; ++c0) {
            m[0] = x[c0] > m[0] ? x[c0] : m[0];
            if (bad != NULL) {
                b[0] |= !(x[c0] < (REAL)INFINITY);
            }
        }
    }
    for (c0 = 0; C >= LIN_LANES && c0 < C; c0 += LIN_LANES) {
        const REAL *xb = x + lin_block_at(c0, C);
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            m[i] = xb[i] > m[i] ? xb[i] : m[i];
            if (bad != NULL) {
                b[i] |= !(xb[i] < (REAL)INFINITY);
            }
        }
    }
    top = m[0];
    for (i = 0; i < LIN_LANES; ++i) {
        top = m[i] > top ? m[i] : top;
        any |= b[i];
    }
    if (bad != NULL) {
        *bad = any;
    }
    return top;
}

/* pd[c] = exp(x[c] - shift) for the C classes; returns their sum, over
 * the lanes in a fixed order (the same for every call, so that phase 2
 * and every thread count see the same value). With `with_min` (a
 * constant), *least receives the least of them. */
CTCC_ALWAYS_INLINE double lin_class_exps(const REAL *x, size_t C, DP shift,
                                         DP *pd, const int with_min,
                                         DP *least) {
    double part[LIN_LANES];
    DP low[LIN_LANES];
    size_t c0, i;
    for (i = 0; i < LIN_LANES; ++i) {
        part[i] = 0.0;
        low[i] = 1;
    }
    if (C < LIN_LANES) {
        for (c0 = 0; c0 < C; ++c0) {
            pd[c0] = DP_EXP_NEG((DP)x[c0] - shift);
            part[0] += (double)pd[c0];
            low[0] = pd[c0] < low[0] ? pd[c0] : low[0];
        }
    }
    for (c0 = 0; C >= LIN_LANES && c0 < C; c0 += LIN_LANES) {
        const size_t at = lin_block_at(c0, C);
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            const DP v = DP_EXP_NEG((DP)x[at + i] - shift);
            pd[at + i] = v;
            /* The classes below c0 were summed in the block before. */
            part[i] += at + i >= c0 ? (double)v : 0.0;
            if (with_min) {
                low[i] = v < low[i] ? v : low[i];
            }
        }
    }
    if (with_min) {
        DP bottom = low[0];
        for (i = 1; i < LIN_LANES; ++i) {
            bottom = low[i] < bottom ? low[i] : bottom;
        }
        *least = bottom;
    }
    return ((part[0] + part[4]) + (part[2] + part[6])) +
           ((part[1] + part[5]) + (part[3] + part[7]));
}

#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
/* lin_class_exps for C >= LIN_LANES on processors with AVX-512: the same
 * blocks, sums in the same order and least, each exp by DP_EXP_NEG8 (a
 * table of 2^(j / 16) and a shorter polynomial) where the portable loop
 * inlines DP_EXP_NEG. */
CTCC_AVX512 static double lin_class_exps8(const REAL *x, size_t C, DP shift,
                                          DP *pd, int with_min, DP *least) {
    const __m512d sv = _mm512_set1_pd((double)shift);
    __m512d part = _mm512_setzero_pd(), low = _mm512_set1_pd(1.0);
    double lanes[LIN_LANES];
    size_t c0;
    for (c0 = 0; c0 < C; c0 += LIN_LANES) {
        const size_t at = lin_block_at(c0, C);
        /* The lanes of classes from c0 on (those below, summed in the
         * block before). */
        const __mmask8 fresh = (__mmask8)(0xffu << (c0 - at));
        __m512d v;
        if (sizeof(REAL) == sizeof(float)) {
            v = _mm512_cvtps_pd(
                _mm256_loadu_ps((const float *)(const void *)(x + at)));
        } else {
            v = _mm512_loadu_pd((const double *)(const void *)(x + at));
        }
        v = DP_EXP_NEG8(_mm512_sub_pd(v, sv));
        _mm512_storeu_pd(pd + at, v);
        part = _mm512_mask_add_pd(part, fresh, part, v);
        low = _mm512_min_pd(v, low); /* (v < low ? v : low) */
    }
    if (with_min) {
        size_t i;
        _mm512_storeu_pd(lanes, low);
        *least = lanes[0];
        for (i = 1; i < LIN_LANES; ++i) {
            *least = lanes[i] < *least ? lanes[i] : *least;
        }
    }
    _mm512_storeu_pd(lanes, part);
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
           ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}
#endif

/* lin_class_exps8 where the processor has AVX-512 (q->blocks) and the
 * alphabet fills a vector, else lin_class_exps: one choice per sample,
 * the same in both phases, so that they see the same probabilities. */
CTCC_ALWAYS_INLINE double lin_frame_exps(const lin_sample *q, const REAL *x,
                                         DP shift, DP *pd, const int with_min,
                                         DP *least) {
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    if (q->blocks && q->C >= LIN_LANES) {
        return lin_class_exps8(x, q->C, shift, pd, with_min, least);
    }
#endif
    return lin_class_exps(x, q->C, shift, pd, with_min, least);
}

/* The least of pd[0, C): for the rare frame that needs it after the exps
 * (lin_emit_info's check of a large factor) where lin_class_exps did not
 * take it along; the backward task of the tilted loss-only attempt, which
 * needs it every frame, has lin_class_exps take it in the same pass
 * (about 0.1 instruction per cell fewer than this pass, measured). */
CTCC_ALWAYS_INLINE DP lin_class_min(const DP *pd, size_t C) {
    DP low[LIN_LANES], bottom;
    size_t c0, i;
    for (i = 0; i < LIN_LANES; ++i) {
        low[i] = 1;
    }
    if (C < LIN_LANES) {
        for (c0 = 0; c0 < C; ++c0) {
            low[0] = pd[c0] < low[0] ? pd[c0] : low[0];
        }
    }
    for (c0 = 0; C >= LIN_LANES && c0 < C; c0 += LIN_LANES) {
        const DP *b = pd + lin_block_at(c0, C);
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            low[i] = b[i] < low[i] ? b[i] : low[i];
        }
    }
    bottom = low[0];
    for (i = 1; i < LIN_LANES; ++i) {
        bottom = low[i] < bottom ? low[i] : bottom;
    }
    return bottom;
}

/* soft[c] = pd[c] inv for the C classes. */
CTCC_ALWAYS_INLINE void lin_class_scale(const DP *pd, size_t C, DP inv,
                                        REAL *soft) {
    size_t c0, i;
    if (C < LIN_LANES) {
        for (c0 = 0; c0 < C; ++c0) {
            soft[c0] = (REAL)(pd[c0] * inv);
        }
        return;
    }
    for (c0 = 0; c0 < C; c0 += LIN_LANES) {
        const size_t at = lin_block_at(c0, C);
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            soft[at + i] = (REAL)(pd[at + i] * inv);
        }
    }
}

/* The exps of the emissions return 0 below e^-708 < 2^-1021 (fast_math.h)
 * before they are multiplied by the frame's factor f (the power of two
 * that rescales the row, over the softmax's sum): an emission computed as
 * 0 stands for one of up to 2^-1021 f. An entry it leaves below LIN_TINY
 * is flagged and charged LIN_FLAG_ERROR, which covers its true value, the
 * emission times the predecessors' sum (at most 9: three entries of at
 * most LIN_ROW_TOP), only while f <= 2^22 / 9. Larger factors come after
 * a row whose every entry was tiny (all of its states' classes far below
 * the frame's largest), and a frame that then also has a class flushed
 * to 0 sends the sample to the log-space kernel (lin_emissions returns
 * NaN): the flags' charge would not cover it. */
#define LIN_FLUSHED_MAX 0x1p18
#define LIN_FLUSHED_TOP 0x1p-1021

/* What lin_emissions is told about a frame's multiplier, and tells. */
typedef struct lin_emit_info {
    DP mult_max;      /* in: LIN_FLUSHED_MAX, times the emissions' lift */
    int want_least;   /* in: whether `least` is wanted */
    DP least;         /* out: at most any state's emission before cur (the
                       least class probability times f; 0 where not
                       wanted, or with one exp per state) */
    const REAL *next; /* in: the next frame's input, for log_normaliser to
                         bring into the cache, or NULL */
    DP mult;          /* out: f; LIN_FLUSHED_TOP f bounds what an emission
                       computed as 0 from a flushed exp stands for (the
                       error rows of the tilted loss-only attempt) */
} lin_emit_info;

/* The emissions of a frame's states [lo, hi) from its class probabilities
 * pd, times f (and, for beta, times cur[s]), into e. The label states
 * (odd s) are gathered in pairs with the blank state before them, whose
 * emission is one value for the frame, and their classes read from the
 * contiguous labels: half the gathers of one per state, and no strided
 * index loads (0.7 fewer instructions per cell on speech-long with the
 * gradient). With cur, the pairs' shuffles cost about what they save with
 * AVX2, and the beta tasks run 2 to 3% faster for them with AVX-512
 * (measured). With AVX-512 and C <= 32, lin_pairs_permute looks the
 * labels' probabilities up in registers instead. The products are the
 * same to the bit every way: pd[c] f, then times cur[s]. With cur2 (the
 * error row of the tilted loss-only attempt, with cur) the emissions times
 * cur2[s] go to e2 as well. */
CTCC_ALWAYS_INLINE void lin_gather_states(const lin_sample *q, const DP *pd,
                                          DP f, size_t lo, size_t hi, DP *e,
                                          const DP *cur, DP *e2, const DP *cur2,
                                          DP floor2) {
    const int32_t *ext = q->ext, *labels = q->labels;
    const DP eb = pd[q->blank] * f;
    size_t j, j0, s = lo;
    if (cur2 != NULL) {
        const DP eb2 = eb > floor2 ? eb : floor2;
        if ((s & 1) != 0 && s < hi) {
            const DP v = pd[ext[s]] * f;
            e[s] = v * cur[s];
            e2[s] = (v > floor2 ? v : floor2) * cur2[s];
            ++s;
        }
        j0 = s / 2;
#if CTCC_HAVE_AVX512_PATH
        if (q->permute) {
            j0 = lin_pairs_permute(pd, q->C, f, eb, labels, j0, hi / 2, e, cur,
                                   e2, cur2, floor2);
        }
#endif
#pragma omp simd
        for (j = j0; j < hi / 2; ++j) {
            const DP v = pd[labels[j]] * f;
            e[2 * j] = eb * cur[2 * j];
            e[2 * j + 1] = v * cur[2 * j + 1];
            e2[2 * j] = eb2 * cur2[2 * j];
            e2[2 * j + 1] = (v > floor2 ? v : floor2) * cur2[2 * j + 1];
        }
        if ((hi & 1) != 0 && hi - 1 >= s) {
            e[hi - 1] = eb * cur[hi - 1];
            e2[hi - 1] = eb2 * cur2[hi - 1];
        }
        return;
    }
    if (cur != NULL) {
        if ((s & 1) != 0 && s < hi) {
            e[s] = (pd[ext[s]] * f) * cur[s];
            ++s;
        }
        j0 = s / 2;
#if CTCC_HAVE_AVX512_PATH
        if (q->permute) {
            j0 = lin_pairs_permute(pd, q->C, f, eb, labels, j0, hi / 2, e, cur,
                                   NULL, NULL, 0);
        }
#endif
#pragma omp simd
        for (j = j0; j < hi / 2; ++j) {
            e[2 * j] = eb * cur[2 * j];
            e[2 * j + 1] = (pd[labels[j]] * f) * cur[2 * j + 1];
        }
        if ((hi & 1) != 0 && hi - 1 >= s) {
            e[hi - 1] = eb * cur[hi - 1];
        }
        return;
    }
    if ((s & 1) != 0 && s < hi) {
        e[s] = pd[ext[s]] * f;
        ++s;
    }
    /* s is even from here: the pairs (2j, 2j + 1) inside [s, hi). */
    j0 = s / 2;
#if CTCC_HAVE_AVX512_PATH
    if (q->permute) {
        j0 = lin_pairs_permute(pd, q->C, f, eb, labels, j0, hi / 2, e, NULL,
                               NULL, NULL, 0);
    }
#endif
#pragma omp simd
    for (j = j0; j < hi / 2; ++j) {
        e[2 * j] = eb;
        e[2 * j + 1] = pd[labels[j]] * f;
    }
    if ((hi & 1) != 0 && hi - 1 >= s) {
        e[hi - 1] = eb; /* a blank state last, where no pair holds it */
    }
}

/* The frame's class probabilities for the states of [glo, ghi) (inside
 * the frame's band [lo, hi), a row's window), times factor, into e[glo,
 * ghi), and 0 on the two entries beyond each end.
 * Returns (in phase 1; 0 in phase 2) log(p / e), what the values written
 * must be multiplied by to give probabilities; NaN for a frame holding NaN
 * or +inf, -inf for a frame of -inf only. In phase 1 the frame's normaliser is computed (and
 * stored for phase 2 when q->with_grad), and soft (not NULL) receives the
 * softmax (logits) or zeros (log-probabilities); phase 2 reads the stored
 * normaliser, so both compute the same emissions. *log_z receives the log
 * of the sum over the classes of the probabilities (an upper bound for
 * log-probabilities with more classes than states). pd is scratch of
 * min(C, hi - lo) entries. For beta, cur (else NULL) is the frame's beta
 * row: each e[s] is then multiplied by cur[s] as well, the product the
 * recurrence needs (lin_beta_row), without a pass of its own. In phase 1
 * factor is a power of two, whose logarithm the value returned leaves out
 * (the caller keeps its exponent as an integer). info: see lin_emit_info;
 * NaN is returned (in either phase) where a class probability flushed to
 * 0 comes with a multiplier above info->mult_max (see LIN_FLUSHED_MAX).
 * With cur2 (only with cur), e2 receives the emissions, each at least
 * info->flushed, times cur2[s] on [glo, ghi), with zeros beyond, as e. */
CTCC_ALWAYS_INLINE DP lin_emissions(const lin_sample *q, size_t t, size_t lo,
                                    size_t hi, size_t glo, size_t ghi,
                                    DP factor, DP *e, DP *pd, REAL *soft,
                                    int phase1, DP *log_z, const DP *cur,
                                    lin_emit_info *info, DP *e2,
                                    const DP *cur2) {
    const REAL *x = q->input + t * q->stride;
    const size_t C = q->C;
    /* One exp per class: for logits whenever the frame's probabilities
     * fit the scratch (C <= S), since the softmax's normaliser takes the
     * C exps anyway (one per state of the band on top of them, and a log,
     * in the frames whose band is narrower than C made T = 150, L = 40
     * 11% slower for the loss alone, 9% with the gradient); for
     * log-probabilities when that is fewer than one per state of the
     * band. Either way both phases decide alike. */
    const int per_class = q->log_probs ? C <= hi - lo : C <= q->S;
    DP shift = 0, norm = 0, rest = 0;
    size_t s;
    info->least = 0;
    info->mult = 0;
    e[(ptrdiff_t)glo - 2] = e[(ptrdiff_t)glo - 1] = 0;
    e[ghi] = e[ghi + 1] = 0;
    if (cur2 != NULL) {
        e2[(ptrdiff_t)glo - 2] = e2[(ptrdiff_t)glo - 1] = 0;
        e2[ghi] = e2[ghi + 1] = 0;
    }
    if (!phase1) {
        shift = q->shift[t];
        norm = q->norm[t];
    } else if (!q->log_probs && !per_class) {
        /* The gradient's rows lie at the input's stride. */
        norm = log_normaliser(x, C, soft, &shift, info->next,
                              soft != NULL && info->next != NULL
                                  ? soft + (info->next - x)
                                  : NULL,
                              q->stage);
        if (norm != norm || norm == NEG_INF) {
            return norm;
        }
    } else {
        /* With one exp per class, a NaN (which the maximum skips) reaches
         * their sum, and +inf is the maximum, so that only a frame of -inf
         * but for NaN needs a scan for them (testing each class as the
         * maximum's pass reads it was 2.5% of the loss alone of T = 150, L
         * = 40, measured). With one exp per state, the classes of no state
         * are tested here. */
        int bad = 0;
        const REAL m =
            per_class ? lin_class_max(x, C, NULL) : lin_class_max(x, C, &bad);
        if (bad || m == (REAL)INFINITY ||
            (m == (REAL)(-INFINITY) && has_bad_value(x, C))) {
            return (DP)NAN;
        }
        if (m == (REAL)(-INFINITY)) {
            return NEG_INF;
        }
        shift = (DP)m;
        if (soft != NULL && q->log_probs) {
            memset(soft, 0, C * sizeof(REAL));
        }
    }
    if (per_class) {
        double sum = 0.0;
        DP f = factor, low = -1; /* (-1: not known yet) */
        if (q->class_probs != NULL) {
            /* Phase 1 leaves the frame's probabilities and their sum in
             * the frame's row, and phase 2 reads them there: the same
             * values, without C exps per frame a second time. */
            pd = q->class_probs + t * (C + 1);
        }
        if (phase1 || q->class_probs == NULL) {
            if (info->want_least) {
                sum = lin_frame_exps(q, x, shift, pd, 1, &low);
            } else {
                sum = lin_frame_exps(q, x, shift, pd, 0, NULL);
            }
            if (sum != sum) {
                return (DP)NAN; /* a NaN in x */
            }
            if (q->class_probs != NULL) {
                pd[C] = (DP)sum;
            }
        } else {
            sum = (double)pd[C];
        }
        if (!q->log_probs) {
            /* The softmax is pd / sum; the emissions the same, scaled.
             * (No log sum: the gradient's modifications read the softmax
             * from pd too, and a libm call per frame would be 2% of the
             * time; see below for log P.) */
            if (phase1) {
                if (soft != NULL) {
                    lin_class_scale(pd, C, (DP)(1.0 / sum), soft);
                }
            }
            /* In phase 1, factor / sum as rounded, the same bits as the
             * quotient: factor is a power of two, and 1 / sum (sum in [1,
             * C]) and its product with factor stay normal. The
             * reciprocal does not wait for the row before (whose maximum
             * gives factor), where the quotient's division sat between
             * that row and this one's emissions. (Phase 2's factors are
             * not powers of two.) */
            const double inv = 1.0 / sum;
            f = phase1 ? (DP)((double)factor * inv)
                       : (DP)((double)factor / sum);
            if (phase1) {
                /* log(p / e), but for log factor: -log(sum f / factor) =
                 * -log1p(r), r = f sum / factor - 1 = inv sum - 1, with
                 * inv as rounded. An fma gives r to double precision,
                 * and |r| <= 2^-53 makes log1p(r) = r - r^2 / 2 to the
                 * last bit: the exact ratio of what the row was scaled
                 * by, where log sum + log(f / factor) would take two logs
                 * per frame and their roundings (which over thousands of
                 * frames reach 1e-13 in log P). */
                const double r = fma(inv, sum, -1.0);
                rest = (DP)(-(r - 0.5 * r * r));
            }
            *log_z = 0;
        } else {
            *log_z = shift + (DP)log(sum);
        }
        if (f > info->mult_max) {
            if (low < 0) {
                low = lin_class_min(pd, C);
            }
            if (low == 0) {
                return (DP)NAN;
            }
        }
        if (info->want_least) {
            info->least = low * f; /* (rounded as pd[c] f is) */
        }
        info->mult = f;
        lin_gather_states(q, pd, f, glo, ghi, e, cur, e2, cur2,
                          (DP)LIN_FLUSHED_TOP * f);
    } else {
        /* (x - shift) - norm, not x - (shift + norm), which would round
         * norm away for |shift| beyond about 1e15. */
        const int32_t *ext = q->ext;
        const DP floor2 = (DP)LIN_FLUSHED_TOP * factor;
        DP low = 1;
#pragma omp simd reduction(min : low)
        for (s = glo; s < ghi; ++s) {
            const DP p = DP_EXP_NEG(((DP)x[ext[s]] - shift) - norm);
            const DP v = p * factor;
            low = p < low ? p : low;
            e[s] = cur != NULL ? v * cur[s] : v;
            if (cur2 != NULL) {
                e2[s] = (v > floor2 ? v : floor2) * cur2[s];
            }
        }
        if (low == 0 && factor > info->mult_max) {
            return (DP)NAN;
        }
        info->mult = factor;
        *log_z = q->log_probs ? shift + (DP)log((double)C) : 0;
    }
    /* A softmax's probabilities sum to 1 but for their rounding. */
    *log_z += (DP)((double)C * 0x1p-50);
    if (phase1 && q->with_grad) {
        q->shift[t] = shift;
        q->norm[t] = norm;
    }
    if (!phase1) {
        return 0;
    }
    /* log(p / e) but for log factor, from the factor actually applied
     * (rather than log mx of the row it was rounded from: over thousands
     * of frames those roundings would add up to 1e-13 in log P). The power
     * of two taken out first is exact, and what is left is 0 (emissions
     * that are the probabilities times factor), shift (log-probabilities)
     * or the per-class softmax's `rest`, so that the sum over the frames
     * does not gather the roundings of logs of the rows' maxima. */
    return (q->log_probs ? shift : 0) + rest;
}

/* Zeros on the two entries beyond each end of a padded row's band [lo,
 * hi), which the next frame reads as predecessors or successors. */
CTCC_ALWAYS_INLINE void lin_zero_ends(DP *row, size_t lo, size_t hi) {
    row[(ptrdiff_t)lo - 2] = row[(ptrdiff_t)lo - 1] = 0;
    row[hi] = row[hi + 1] = 0;
}

/* A row's window [*lo, *hi) (see "Windows" at the top of the file),
 * narrowed past the zeros at both ends. The two entries beyond each new
 * end are 0 already: zeros of the row, or the two beyond each old end. A
 * row of zeros only is left with *lo == *hi. Called a while after the row
 * was stored (reading back single entries of a vector just stored would
 * wait on the store). */
CTCC_ALWAYS_INLINE void lin_trim(const DP *row, size_t *lo, size_t *hi) {
    size_t a = *lo, b = *hi;
    while (a < b && row[a] == 0) {
        ++a;
    }
    while (b > a && row[b - 1] == 0) {
        --b;
    }
    *lo = a;
    *hi = b;
}

/* The row recurrences (lin_alpha_row, lin_beta_row) run over a row's
 * states in blocks of LIN_LANES, as the per-class loops do: the last
 * block overlaps the one before where LIN_LANES does not divide the
 * width, and rows narrower than a block take the plain loop. A plain
 * loop over a window of 81 states ran 10 vectors and then up to 7 states
 * one at a time, each carrying the row's maximum and flag count through
 * memory (in a profile of the loss alone, T = 150, L = 40, a fifth of the
 * forward task's time went to the flag count and its tail). The overlap
 * recomputes a few states to the same values: harmless for a store, a
 * maximum or a minimum, and left out of a count. (The error-row
 * versions, which only the rare second, tilted loss-only attempt runs,
 * keep plain loops.)
 *
 * Flags. The gradient's bound only needs to know whether a row has an
 * entry below LIN_TINY: it decides whether a frame's flagged entries are
 * summed, and that sum charges stored zeros anyway, the exact ones
 * harmlessly. The rows tell it from their minimum, one instruction per
 * vector. The loss-only bound needs the number of flagged entries, those
 * below LIN_TINY but for the exact zeros (see the top of the file), and
 * counting them on the way takes three instructions per vector more:
 * about 7% of the loss-only time on random outputs (T = 150, L = 40,
 * measured), whose rows seldom have any (an exact zero at the edge of a
 * window, after a repeated label). So the loss-only tasks walk their
 * frames in one of two ways (lin_forward_frames, lin_backward_frames):
 * with the minimum, counting a row's flagged entries in a pass of their
 * own over the stored row (lin_alpha_flags, lin_beta_flags) only where
 * the minimum says there may be some; and, from a row that had flags on
 * until LIN_CALM_ROWS rows in a row have none, counting them on the way
 * (`count`), as peaked outputs have flags at most frames, where the
 * second pass made T = 700, L = 100 13% slower. Both ways give the same
 * count and the same rows. */

/* The first state of the block that starts at c0 in a row ending at hi
 * (hi - c0 >= LIN_LANES or the last, overlapping block). */
CTCC_ALWAYS_INLINE size_t lin_row_block_at(size_t c0, size_t hi) {
    return c0 + LIN_LANES <= hi ? c0 : hi - LIN_LANES;
}

/* A row's per-lane maxima (0), minima (1) and flag counts (0). */
CTCC_ALWAYS_INLINE void lin_lanes_init(DP *mx, DP *mn, size_t *n) {
    size_t i;
    for (i = 0; i < LIN_LANES; ++i) {
        mx[i] = 0;
        mn[i] = 1;
        n[i] = 0;
    }
}

/* The row's maximum (returned), minimum and flag count from the lanes. */
CTCC_ALWAYS_INLINE DP lin_lanes_reduce(const DP *mx, const DP *mn,
                                       const size_t *n, DP *least,
                                       size_t *count) {
    DP top = mx[0], bottom = mn[0];
    size_t total = n[0], i;
    for (i = 1; i < LIN_LANES; ++i) {
        top = mx[i] > top ? mx[i] : top;
        bottom = mn[i] < bottom ? mn[i] : bottom;
        total += n[i];
    }
    *least = bottom;
    *count = total;
    return top;
}

/* One block of lin_alpha_row: the states [at, at + LIN_LANES), of which
 * the first `skip` were counted in the block before (0 but in a row's
 * last, overlapping block: a constant there, so that the other blocks
 * pay nothing for the test). */
CTCC_ALWAYS_INLINE void lin_alpha_block(DP *row, const DP *prev, const DP *e,
                                        const DP *k, DP x, size_t at,
                                        size_t skip, DP *mx, DP *mn, size_t *n,
                                        int count) {
    size_t i;
#pragma omp simd
    for (i = 0; i < LIN_LANES; ++i) {
        const size_t s = at + i;
        const DP in = prev[s] + x * prev[s - 1] + k[s] * prev[s - 2];
        const DP r = e[s] * in;
        /* A flagged entry is stored as 0: its error stays within the
         * charge, and no subnormal reaches the next frame's arithmetic,
         * which would run at the processor's slow, microcoded pace. An
         * entry whose predecessors are all 0 is exactly 0 (a state not yet
         * reachable, as after a repeated label): not flagged. */
        row[s] = r < LIN_TINY ? 0 : r;
        mx[i] = r > mx[i] ? r : mx[i];
        if (count) {
            n[i] += r < LIN_TINY && in > 0 && i >= skip;
        } else {
            mn[i] = r < mn[i] ? r : mn[i];
        }
    }
}

/* row[lo, hi) = e * (prev[s] + prev[s-1] + k[s] prev[s-2]), with zeros on
 * the two entries beyond each end of the band (which the next frame reads
 * as predecessors). Returns the row's maximum. With `count` (a constant)
 * stores in *flags the number of its flagged entries; without, 1 if any
 * entry is below LIN_TINY (flagged or an exact zero) and 0 otherwise
 * (see "Flags" above). In blocks: the row is at least LIN_LANES wide. */
CTCC_ALWAYS_INLINE DP lin_alpha_row_blocks(DP *row, const DP *prev, const DP *e,
                                           const DP *k, DP x, size_t lo,
                                           size_t hi, double *flags,
                                           int count) {
    DP mx[LIN_LANES], mn[LIN_LANES], top, least;
    size_t n[LIN_LANES], total, c0;
    lin_zero_ends(row, lo, hi);
    lin_lanes_init(mx, mn, n);
    if (!count) {
        for (c0 = lo; c0 < hi; c0 += LIN_LANES) {
            lin_alpha_block(row, prev, e, k, x, lin_row_block_at(c0, hi), 0, mx,
                            mn, n, 0);
        }
    } else {
        for (c0 = lo; c0 + LIN_LANES <= hi; c0 += LIN_LANES) {
            lin_alpha_block(row, prev, e, k, x, c0, 0, mx, mn, n, 1);
        }
        if (c0 < hi) {
            lin_alpha_block(row, prev, e, k, x, hi - LIN_LANES,
                            c0 - (hi - LIN_LANES), mx, mn, n, 1);
        }
    }
    top = lin_lanes_reduce(mx, mn, n, &least, &total);
    *flags = count ? (double)total : (least < LIN_TINY ? 1.0 : 0.0);
    return top;
}

/* The same, one state at a time after the vectors (the compiler's own
 * loop): what the AVX2 and baseline builds run. There the blocks' lane
 * counts and the last block's mask cost more than the tail they spare
 * (T = 700, L = 100, loss only: 3.81 ms plain, 4.08 ms in blocks, AVX2
 * build on the same processor; callgrind: 10.8 and 11.2 instructions
 * per cell). */
CTCC_ALWAYS_INLINE DP lin_alpha_row_plain(DP *row, const DP *prev, const DP *e,
                                          const DP *k, DP x, size_t lo,
                                          size_t hi, double *flags, int count) {
    DP mx = 0;
    size_t s, n = 0;
    lin_zero_ends(row, lo, hi);
    if (!count) {
        DP mn = 1;
#pragma omp simd reduction(max : mx) reduction(min : mn)
        for (s = lo; s < hi; ++s) {
            const DP r =
                e[s] * (prev[s] + x * prev[s - 1] + k[s] * prev[s - 2]);
            row[s] = r < LIN_TINY ? 0 : r;
            mx = r > mx ? r : mx;
            mn = r < mn ? r : mn;
        }
        *flags = mn < LIN_TINY ? 1.0 : 0.0;
        return mx;
    }
#pragma omp simd reduction(max : mx) reduction(+ : n)
    for (s = lo; s < hi; ++s) {
        const DP in = prev[s] + x * prev[s - 1] + k[s] * prev[s - 2];
        const DP r = e[s] * in;
        /* As in lin_alpha_block. */
        row[s] = r < LIN_TINY ? 0 : r;
        mx = r > mx ? r : mx;
        n += r < LIN_TINY && in > 0;
    }
    *flags = (double)n;
    return mx;
}

/* lin_alpha_row_blocks where `blocks` (lin_sample's: the processor has
 * AVX-512) and the row is at least a block wide, else
 * lin_alpha_row_plain: the same values to the bit. */
CTCC_ALWAYS_INLINE DP lin_alpha_row(DP *row, const DP *prev, const DP *e,
                                    const DP *k, DP x, size_t lo, size_t hi,
                                    double *flags, int count, int blocks) {
    return blocks && hi - lo >= LIN_LANES
               ? lin_alpha_row_blocks(row, prev, e, k, x, lo, hi, flags, count)
               : lin_alpha_row_plain(row, prev, e, k, x, lo, hi, flags, count);
}

/* The flagged entries of row[lo, hi) as lin_alpha_row stored it from
 * prev: those stored as 0 (computed below LIN_TINY) whose predecessors
 * are not all 0, the same count as lin_alpha_row's (the sum of
 * non-negative predecessors is 0 exactly when each of them is). */
CTCC_ALWAYS_INLINE double lin_alpha_flags(const DP *row, const DP *prev,
                                          const DP *k, DP x, size_t lo,
                                          size_t hi) {
    size_t s, n = 0;
#pragma omp simd reduction(+ : n)
    for (s = lo; s < hi; ++s) {
        const DP in = prev[s] + x * prev[s - 1] + k[s] * prev[s - 2];
        n += row[s] == 0 && in > 0;
    }
    return (double)n;
}

/* The least multiplier of the emissions (lin_emissions' *least, times
 * the skip factor x^2) from which lin_beta_row tells an exact 0 from an
 * underflow by the sum itself: every successor that is not 0 is at least
 * LIN_TINY (smaller ones are stored as 0), so each of its products is at
 * least 2^-1021, a normal number even where the caller's thread flushes
 * subnormals to zero, and the sum is 0 exactly when the successors that
 * count are all 0. Where a frame's emissions allow it (all but the most
 * extreme outputs), the test needs no second sum over the successors: 3
 * loads per vector, 7% of the loss-only time on peaked outputs. */
#define LIN_LEAN_LEAST 0x1p-21

/* One block of lin_beta_row, as lin_alpha_block. */
CTCC_ALWAYS_INLINE void lin_beta_block(DP *next, const DP *cur, const DP *e,
                                       const DP *k, DP x, size_t at,
                                       size_t skip, DP *mx, DP *mn, size_t *n,
                                       int count, DP lift) {
    const DP tiny = LIN_TINY * lift, down = 1 / lift;
    size_t i;
    if (!count) {
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            const size_t s = at + i;
            const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
            next[s] = r < tiny ? 0 : r * down;
            mx[i] = r > mx[i] ? r : mx[i];
            mn[i] = r < mn[i] ? r : mn[i];
        }
    } else if (count == 2) {
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            const size_t s = at + i;
            const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
            next[s] = r < tiny ? 0 : r * down;
            mx[i] = r > mx[i] ? r : mx[i];
            n[i] += r > 0 && r < tiny && i >= skip;
        }
    } else {
#pragma omp simd
        for (i = 0; i < LIN_LANES; ++i) {
            const size_t s = at + i;
            const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
            /* As in lin_alpha_block: the successors' own entries tell an
             * exact 0 (all of them 0) from an underflow. */
            const DP in = cur[s] + x * cur[s + 1] + k[s + 2] * cur[s + 2];
            next[s] = r < tiny ? 0 : r * down;
            mx[i] = r > mx[i] ? r : mx[i];
            n[i] += r < tiny && in > 0 && i >= skip;
        }
    }
}

/* next[s] = e[s] + e[s+1] + k[s+2] e[s+2] on [plo, phi), zeros beyond,
 * where e holds the emissions times the frame's beta row cur on [lo, hi)
 * (lin_emissions with cur) and 0 beyond, `lift` (a power of two) times
 * higher: the results are brought down by it (see LIN_LIFT). Returns
 * next's maximum and stores its flagged entries' number (count 1 or 2)
 * or whether any entry is below LIN_TINY (0), as lin_alpha_row; with
 * count == 2 (the emissions' multiplier at least LIN_LEAN_LEAST) the
 * exact zeros are told from the sum alone. In blocks, at least LIN_LANES
 * wide, as lin_alpha_row_blocks. */
CTCC_ALWAYS_INLINE DP lin_beta_row_blocks(DP *next, const DP *cur, const DP *e,
                                          const DP *k, DP x, size_t plo,
                                          size_t phi, double *flags, int count,
                                          DP lift) {
    DP mx[LIN_LANES], mn[LIN_LANES], top, least;
    size_t n[LIN_LANES], total, c0;
    lin_zero_ends(next, plo, phi);
    lin_lanes_init(mx, mn, n);
    if (!count) {
        for (c0 = plo; c0 < phi; c0 += LIN_LANES) {
            lin_beta_block(next, cur, e, k, x, lin_row_block_at(c0, phi), 0, mx,
                           mn, n, 0, lift);
        }
    } else {
        for (c0 = plo; c0 + LIN_LANES <= phi; c0 += LIN_LANES) {
            lin_beta_block(next, cur, e, k, x, c0, 0, mx, mn, n, count, lift);
        }
        if (c0 < phi) {
            lin_beta_block(next, cur, e, k, x, phi - LIN_LANES,
                           c0 - (phi - LIN_LANES), mx, mn, n, count, lift);
        }
    }
    top = lin_lanes_reduce(mx, mn, n, &least, &total);
    *flags = count ? (double)total : (least < LIN_TINY * lift ? 1.0 : 0.0);
    return top * (1 / lift); /* (as the entries: a power of two) */
}

/* The same, one state at a time after the vectors (as
 * lin_alpha_row_plain). */
CTCC_ALWAYS_INLINE DP lin_beta_row_plain(DP *next, const DP *cur, const DP *e,
                                         const DP *k, DP x, size_t plo,
                                         size_t phi, double *flags, int count,
                                         DP lift) {
    const DP tiny = LIN_TINY * lift, down = 1 / lift;
    DP mx = 0;
    size_t s, n = 0;
    lin_zero_ends(next, plo, phi);
    if (!count) {
        DP mn = 1;
#pragma omp simd reduction(max : mx) reduction(min : mn)
        for (s = plo; s < phi; ++s) {
            const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
            next[s] = r < tiny ? 0 : r * down;
            mx = r > mx ? r : mx;
            mn = r < mn ? r : mn;
        }
        *flags = mn < tiny ? 1.0 : 0.0;
        return mx * down;
    }
    if (count == 2) {
#pragma omp simd reduction(max : mx) reduction(+ : n)
        for (s = plo; s < phi; ++s) {
            const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
            next[s] = r < tiny ? 0 : r * down;
            mx = r > mx ? r : mx;
            n += r > 0 && r < tiny;
        }
        *flags = (double)n;
        return mx * down;
    }
#pragma omp simd reduction(max : mx) reduction(+ : n)
    for (s = plo; s < phi; ++s) {
        const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
        /* As in lin_beta_block. */
        const DP in = cur[s] + x * cur[s + 1] + k[s + 2] * cur[s + 2];
        next[s] = r < tiny ? 0 : r * down;
        mx = r > mx ? r : mx;
        n += r < tiny && in > 0;
    }
    *flags = (double)n;
    return mx * down;
}

/* lin_beta_row_blocks or lin_beta_row_plain, as lin_alpha_row. */
CTCC_ALWAYS_INLINE DP lin_beta_row(DP *next, const DP *cur, const DP *e,
                                   const DP *k, DP x, size_t plo, size_t phi,
                                   double *flags, int count, DP lift,
                                   int blocks) {
    return blocks && phi - plo >= LIN_LANES
               ? lin_beta_row_blocks(next, cur, e, k, x, plo, phi, flags, count,
                                     lift)
               : lin_beta_row_plain(next, cur, e, k, x, plo, phi, flags, count,
                                    lift);
}

/* The flagged entries of next[plo, phi) as lin_beta_row stored it from
 * cur, as lin_alpha_flags: stored as 0, with successors that are not
 * all 0 (the count of lin_beta_row's count == 1, which count == 2 equals
 * where it applies). */
CTCC_ALWAYS_INLINE double lin_beta_flags(const DP *next, const DP *cur,
                                         const DP *k, DP x, size_t plo,
                                         size_t phi) {
    size_t s, n = 0;
#pragma omp simd reduction(+ : n)
    for (s = plo; s < phi; ++s) {
        const DP in = cur[s] + x * cur[s + 1] + k[s + 2] * cur[s + 2];
        n += next[s] == 0 && in > 0;
    }
    return (double)n;
}

/* The tilt (see the top of the file): the velocity, in states per frame,
 * at which the peak of a row tilted by x moves when every emission is the
 * same: the growth rate of sum_s alpha_t(s) x^s is log r(x), r the larger
 * eigenvalue of the transfer matrix [[1, x], [x, 1 + x^2]] of a blank and
 * a label state (a skip everywhere), and the velocity is x r'(x) / r(x). */
static double lin_drift(double x) {
    const double root = sqrt(x * x + 4.0);
    const double r = (2.0 + x * x + x * root) / 2.0;
    const double dr = (2.0 * x + root + x * x / root) / 2.0;
    return x * dr / r;
}

/* The strongest tilt, 2^-LIN_TILT_MAX per state. */
#define LIN_TILT_MAX 12

/* The exponent k of the sample's tilt x = 2^k (0 <= -k <= LIN_TILT_MAX):
 * the power of two nearest to the x whose drift (lin_drift) is the
 * sample's S / T, lowered by half the spread of its inputs (the standard
 * deviation sigma of a frame's values across the classes, from 8 frames
 * and up to 32 classes each, capped at 2) in log2 units: with emissions
 * that differ from state to state, the paths gather where the emissions
 * are large and the rows run ahead of the uniform model (random normal
 * logits of deviation 1 and 2 want x about 2 and 4 times smaller), but a
 * stronger tilt than needed fails samples whose labels come faster in
 * some frames than in others. Only the speed depends on this choice: the
 * bound checks the results whatever x is, and a tilted sample that fails
 * it is tried once more untilted before the log-space kernel (lin_second_attempt
 * in loss_impl.h). */
static int lin_tilt_log2(const lin_sample *q) {
    const size_t T = q->T, C = q->C;
    const size_t frames = 8, classes = C < 32 ? C : 32;
    const double rho = (double)q->S / (double)T;
    double lo = 0x1p-40, hi = 1.0, var = 0.0, sigma, want;
    size_t j, i, used = 0;
    int k;
    if (T < CTCC_TILT_MIN_FRAMES || !(rho < lin_drift(1.0))) {
        return 0;
    }
    /* Bisection in log x (sqrt of the product), to 2^-12 in log2 x. */
    for (i = 0; i < 12; ++i) {
        const double mid = sqrt(lo * hi);
        if (lin_drift(mid) < rho) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    for (j = 0; j < frames; ++j) {
        const REAL *x = q->input + (j * (T - 1) / (frames - 1)) * q->stride;
        double sum = 0.0, sq = 0.0, mean;
        size_t n = 0;
        for (i = 0; i < classes; ++i) {
            const double v = (double)x[i * C / classes];
            if (v > -INFINITY && v < INFINITY) {
                sum += v;
                ++n;
            }
        }
        if (n < 2) {
            continue;
        }
        mean = sum / (double)n;
        for (i = 0; i < classes; ++i) {
            const double v = (double)x[i * C / classes];
            if (v > -INFINITY && v < INFINITY) {
                sq += (v - mean) * (v - mean);
            }
        }
        /* (A NaN or inf from huge values counts as no spread.) */
        var += sq / (double)n < INFINITY ? sq / (double)n : 0.0;
        ++used;
    }
    sigma = used > 0 ? sqrt(var / (double)used) : 0.0;
    want = 0.5 * log2(lo * hi) - 0.5 * (sigma < 2.0 ? sigma : 2.0);
    k = (int)floor(want + 0.5);
    return k < -LIN_TILT_MAX ? -LIN_TILT_MAX : (k > 0 ? 0 : k);
}

/* The tilted loss-only attempt (lin_tracks_errors): row[lo, hi) as
 * lin_alpha_row computes it, and err[lo, hi), a bound on each entry's
 * absolute error in units of LIN_FLAG_ERROR on the row's scale: the
 * errors of the row before, carried by the same (linear, non-negative)
 * recurrence with each emission at least `flushed` (lin_emit_info: what
 * an emission computed as 0 may stand for), plus 1 where the entry is
 * flagged. Zeros beyond each end of both. Returns the row's maximum. */
CTCC_ALWAYS_INLINE DP lin_alpha_row_err(DP *row, DP *err, const DP *prev,
                                        const DP *eprev, const DP *e,
                                        const DP *k, DP x, size_t lo, size_t hi,
                                        DP flushed) {
    DP mx = 0;
    size_t s;
    lin_zero_ends(row, lo, hi);
    lin_zero_ends(err, lo, hi);
#pragma omp simd reduction(max : mx)
    for (s = lo; s < hi; ++s) {
        const DP in = prev[s] + x * prev[s - 1] + k[s] * prev[s - 2];
        const DP r = e[s] * in;
        const DP carried = (e[s] > flushed ? e[s] : flushed) *
                           (eprev[s] + x * eprev[s - 1] + k[s] * eprev[s - 2]);
        row[s] = r < LIN_TINY ? 0 : r;
        err[s] = carried + (r < LIN_TINY && in > 0 ? (DP)1 : (DP)0);
        mx = r > mx ? r : mx;
    }
    return mx;
}

/* The same for beta: next[plo, phi) from e, the frame's emissions times
 * cur (lin_emissions with cur), as lin_beta_row computes it, and err[plo,
 * phi) from ee, the emissions times cur's error row (lin_emissions' e2).
 * With `lean` (see LIN_LEAN_LEAST) an exact 0 is told from the sum
 * alone; without, from the successors. */
CTCC_ALWAYS_INLINE DP lin_beta_row_err(DP *next, DP *err, const DP *cur,
                                       const DP *ee, const DP *e, const DP *k,
                                       DP x, size_t plo, size_t phi, int lean) {
    DP mx = 0;
    size_t s;
    lin_zero_ends(next, plo, phi);
    lin_zero_ends(err, plo, phi);
    if (lean) {
#pragma omp simd reduction(max : mx)
        for (s = plo; s < phi; ++s) {
            const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
            const DP carried = ee[s] + x * ee[s + 1] + k[s + 2] * ee[s + 2];
            next[s] = r < LIN_TINY ? 0 : r;
            err[s] = carried + (r > 0 && r < LIN_TINY ? (DP)1 : (DP)0);
            mx = r > mx ? r : mx;
        }
        return mx;
    }
#pragma omp simd reduction(max : mx)
    for (s = plo; s < phi; ++s) {
        const DP r = e[s] + x * e[s + 1] + k[s + 2] * e[s + 2];
        const DP in = cur[s] + x * cur[s + 1] + k[s + 2] * cur[s + 2];
        const DP carried = ee[s] + x * ee[s + 1] + k[s + 2] * ee[s + 2];
        next[s] = r < LIN_TINY ? 0 : r;
        err[s] = carried + (r < LIN_TINY && in > 0 ? (DP)1 : (DP)0);
        mx = r > mx ? r : mx;
    }
    return mx;
}

/* Whether this attempt tracks each entry's error (the loss-only call's
 * tilted attempt, where the crude bound would not do). */
CTCC_ALWAYS_INLINE int lin_tracks_errors(const lin_sample *q) {
    return q->err_f != NULL && q->dir[0].tilt_log2 != 0;
}

/* The loss-only bound's terms (the log of flags U times a row's scale
 * over the sums consumed up to it, summed over the rows so far), kept as
 * acc, their sum relative to the current row's term: one step multiplies
 * by the ratio of the row before's scale to this one's, 2^-p2 (`factor`)
 * times exp(log_z - offset) of this row's lin_emissions, and adds this
 * row's flags U. One exp per frame (an inlined one unless log_z - offset
 * exceeds 1, as for log-probabilities), where summing the logs took a log,
 * an exp and a log1p (8% of the loss-only time on peaked outputs). */
CTCC_ALWAYS_INLINE double lin_crude_step(double acc, double factor, double y,
                                         double flags) {
    double grow;
    if (acc == 0.0) {
        return flags * LIN_FLAG_ERROR; /* (no flags yet: no exp) */
    }
    /* For softmax inputs y is tiny (C 2^-50, lin_emissions' allowance for
     * the sum's rounding, less the rounding of the frame's scale): 1 + y
     * + y^2 >= e^y for |y| <= 1, within an ulp of it below 2^-26, where
     * the exp took some twenty instructions per frame (1 to 2% of the
     * loss-only time on peaked outputs, which have flags every frame). */
    if (fabs(y) < 0x1p-26) {
        grow = 1.0 + y + y * y;
    } else {
        grow = y <= 1.0 ? ctcc_exp_neg(y) : exp(y);
    }
    return acc * factor * grow + flags * LIN_FLAG_ERROR;
}

/* Without the gradient: whether the loss-only bound's terms so far,
 * relative to the current row (acc, lin_crude_step), are already so large
 * that the sample will almost surely fall back (the rows still to come
 * can lower them by a factor of about 3 per frame at most, and the
 * meeting frame's ratio rarely by more than the band). Stopping then
 * spares the rest of an attempt that the log-space kernel will redo; it
 * is only a guess, and a wrong one costs time, never accuracy. */
CTCC_ALWAYS_INLINE int lin_crude_hopeless(const lin_sample *q, double acc) {
#ifdef CTCC_TEST_NO_FALLBACK
    (void)q;
    (void)acc;
    return 0;
#else
    return !q->with_grad && acc > 1.0;
#endif
}

/* Asks for the cache lines of a frame's row (its first 256 bytes: the
 * processor's own prefetcher follows a longer row, and where the softmax's
 * normaliser runs, log_normaliser asks for the rest of the input row
 * during the frame before's exp pass) a frame ahead. The
 * frames of a time-major batch lie N C elements apart, a page or more for
 * a batch of 32, where the hardware's stride prefetcher stops; without
 * this, the loads of each frame's input waited for memory (a tenth of
 * phase 1's time). `write`: the row will be written. */
CTCC_ALWAYS_INLINE void lin_prefetch(const void *row, size_t bytes, int write) {
    prefetch_bytes(row, bytes < 256 ? bytes : 256,
                   write ? PREFETCH_WRITE : PREFETCH_READ);
}

/* In phase 2, the lines of row (frame t's gradient or posterior row) that
 * lin_posterior_frame updates: one per label of the frame's band, where
 * the row is longer than what lin_prefetch asks for. Phase 1 wrote those
 * rows a whole pass before (and a large alphabet's past the cache, see
 * norm_stage), so each update of a label's class read its line from
 * memory while phase 2 waited (ocr-large-vocab, C = 5000: about a sixth
 * of the call with the gradient; docs/performance.md). */
CTCC_ALWAYS_INLINE void lin_prefetch_labels(const lin_sample *q, size_t t,
                                            const REAL *row) {
    const size_t lo = ctcc_band_lo(q->S, q->T, t), hi = ctcc_band_hi(q->S, t);
    size_t s;
    for (s = lo | 1; s < hi; s += 2) {
        prefetch_bytes(row + q->ext[s], 1, PREFETCH_WRITE);
    }
}

/* The next frame's rows that frame `t`'s computation reads (its input, or
 * in phase 2 its class probabilities) and writes (its gradient and
 * posterior rows). */
CTCC_ALWAYS_INLINE void lin_prefetch_frame(const lin_sample *q, size_t t,
                                           int phase1) {
    const size_t bytes = q->C * sizeof(REAL);
    if (phase1 || q->class_probs == NULL) {
        lin_prefetch(q->input + t * q->stride, bytes, 0);
    } else {
        lin_prefetch(q->class_probs + t * (q->C + 1), (q->C + 1) * sizeof(DP),
                     0);
    }
    if (q->grad != NULL) {
        lin_prefetch(q->grad + t * q->stride, bytes, 1);
        if (!phase1 && bytes > 256) {
            lin_prefetch_labels(q, t, q->grad + t * q->stride);
        }
    }
    if (q->post != NULL) {
        lin_prefetch(q->post + t * q->stride, bytes, 1);
        if (!phase1 && bytes > 256) {
            lin_prefetch_labels(q, t, q->post + t * q->stride);
        }
    }
}

CTCC_ALWAYS_INLINE DP *lin_row(DP *base, size_t SP, size_t i) {
    return base + i * SP + CTCC_ROW_PAD;
}

/* Where a phase 1 task's walk over its frames stands: what one call of
 * lin_forward_frames or lin_backward_frames leaves for the next. */
typedef struct lin_walk {
    double scale, acc, flags, pow2s; /* as in the tasks' loops */
    DP mx;                           /* the largest entry of the last row */
    size_t t;                        /* the next frame */
    size_t wlo, whi;                 /* the last row's window */
    int calm;                        /* counting: rows in a row without flags */
} lin_walk;

/* What the walks return. */
#define LIN_WALK_DONE 0   /* every frame done */
#define LIN_WALK_FAILED 1 /* NaN, +inf or a scale out of range: fall back */
#define LIN_WALK_SWITCH 2 /* go on in the other way of counting flags */

/* Where a walk stops: its running values, for the next walk. */
CTCC_ALWAYS_INLINE void lin_walk_keep(lin_walk *w, double scale, double acc,
                                      double flags, double pow2s, DP mx,
                                      size_t t, size_t wlo, size_t whi) {
    w->scale = scale;
    w->acc = acc;
    w->flags = flags;
    w->pow2s = pow2s;
    w->mx = mx;
    w->t = t;
    w->wlo = wlo;
    w->whi = whi;
}

/* Rows without flags after which a loss-only task counting them on the
 * way goes back to the rows' minimum (see "Flags" above
 * lin_row_block_at). */
#define LIN_CALM_ROWS 4

/* Whether a loss-only task walking in one way of counting flags (see
 * "Flags" above lin_row_block_at) should go on in the other after this
 * row, with w->calm its rows without flags so far. */
CTCC_ALWAYS_INLINE int lin_walk_switches(const lin_sample *q, int track,
                                         int counting, double flags,
                                         int *calm) {
    if (q->with_grad || track) {
        return 0;
    }
    if (!counting) {
        return flags != 0;
    }
    *calm = flags != 0 ? 0 : *calm + 1;
    return *calm >= LIN_CALM_ROWS;
}

/* Phase 1, forward, from frame w->t on (see lin_forward), counting the
 * loss-only rows' flags on the way (`counting`, a constant) or not.
 * Returns a LIN_WALK_ code, with w updated for LIN_WALK_SWITCH and
 * LIN_WALK_DONE. The two ways are two copies of the loop: one holding
 * both ways made the usual one (random outputs) 2% slower, and a call to
 * an out-of-line counting row in it 3% (T = 150, L = 40, the loss
 * alone). */
CTCC_ALWAYS_INLINE int lin_forward_frames(const lin_sample *q, lin_walk *w,
                                          const int counting) {
    const size_t S = q->S, SP = q->SP, T = q->T;
    const DP x = (DP)q->dir[0].tilt;
    const int track = lin_tracks_errors(q);
    double scale = w->scale, acc = w->acc, flags = w->flags;
    double pow2s = w->pow2s;
    lin_emit_info info;
    DP mx = w->mx;
    size_t t, wlo = w->wlo, whi = w->whi; /* the window of the row before */
    info.mult_max = (DP)LIN_FLUSHED_MAX;
    info.want_least = 0;
    info.next = NULL;
    for (t = w->t; t < q->m; ++t) {
        DP *row = lin_row(q->with_grad ? q->table : q->rows_f, SP,
                          q->with_grad ? t : (t & 1));
        DP *e = q->emit_f + CTCC_ROW_PAD;
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        REAL *soft = q->grad != NULL ? q->grad + t * q->stride : NULL;
        DP log_z = 0, offset;
        int p2;
        double factor;
        /* The states the row before reaches (the band, with error rows),
         * from its window before and after lin_trim. */
        size_t glo = lo, ghi = hi;
        if (t > 0 && !track) {
            glo = wlo > lo ? wlo : lo;
            ghi = whi + 2 < hi ? whi + 2 : hi;
            ghi = ghi > glo ? ghi : glo;
        }
        info.next = NULL;
        if (t + 1 < q->m) {
            lin_prefetch_frame(q, t + 1, 1);
            info.next = q->input + (t + 1) * q->stride;
        }
        if (q->post != NULL) {
            memset(q->post + t * q->stride, 0, q->C * sizeof(REAL));
        }
        /* The emissions carry 2^-p2, the power of two that brings the
         * maximum of the row before into [1/2, 1). */
        factor = lin_pow2_scale((double)mx, &p2);
        pow2s += (double)p2;
        offset =
            lin_emissions(q, t, lo, hi, glo, ghi, (DP)factor, e, q->scratch_f,
                          soft, 1, &log_z, NULL, &info, NULL, NULL);
        if (!(offset > NEG_INF)) {
            return LIN_WALK_FAILED; /* NaN or -inf */
        }
        if (t == 0) {
            size_t s, n = 0;
            row[-2] = row[-1] = row[hi] = row[hi + 1] = 0;
            mx = 0;
            for (s = lo; s < hi; ++s) {
                /* Tilted: alpha_0(s) x^s, s = 0 or 1. */
                row[s] = s == 1 ? e[s] * x : e[s];
                mx = row[s] > mx ? row[s] : mx;
                n += row[s] < LIN_TINY;
            }
            flags = (double)n;
            scale = (double)offset;
            if (track) {
                /* Flagged here as everywhere: an emission that underflowed
                 * (the entries have no predecessors to be exact zeros). */
                DP *err = lin_row(q->err_f, SP, 0);
                fill_dp(q->err_f, SP, 0);
                for (s = lo; s < hi; ++s) {
                    err[s] = row[s] < LIN_TINY ? (DP)1 : (DP)0;
                }
            }
        } else {
            const DP *prev = lin_row(q->with_grad ? q->table : q->rows_f, SP,
                                     q->with_grad ? t - 1 : ((t - 1) & 1));
            scale += (double)offset;
            if (!track) {
                lin_trim(prev, &wlo, &whi);
                if (q->with_grad) {
                    q->wins[2 * (t - 1)] = (uint32_t)wlo;
                    q->wins[2 * (t - 1) + 1] = (uint32_t)whi;
                }
                glo = wlo > lo ? wlo : lo;
                ghi = whi + 2 < hi ? whi + 2 : hi;
                ghi = ghi > glo ? ghi : glo;
            }
            if (track) {
                mx = lin_alpha_row_err(row, lin_row(q->err_f, SP, t & 1), prev,
                                       lin_row(q->err_f, SP, (t - 1) & 1), e,
                                       q->kmask, x, lo, hi,
                                       (DP)LIN_FLUSHED_TOP * info.mult);
            } else if (counting) {
                mx = lin_alpha_row(row, prev, e, q->kmask, x, glo, ghi, &flags,
                                   1, q->blocks);
            } else {
                mx = lin_alpha_row(row, prev, e, q->kmask, x, glo, ghi, &flags,
                                   0, q->blocks);
                if (!q->with_grad && flags != 0) {
                    /* The loss-only bound counts them (see "Flags"). */
                    flags = lin_alpha_flags(row, prev, q->kmask, x, glo, ghi);
                }
            }
        }
        if (!(mx > 0) || !(scale > -INFINITY && scale < INFINITY)) {
            return LIN_WALK_FAILED;
        }
        wlo = glo;
        whi = ghi;
        if (q->with_grad) {
            q->flags[t] = flags;
            q->wins[2 * t] = (uint32_t)glo;
            q->wins[2 * t + 1] = (uint32_t)ghi;
        }
        if (!q->with_grad && !track) {
            /* (With the gradient, phase 2 computes the exact bound, and
             * flags only tells whether a row has flagged entries.) */
            acc = lin_crude_step(acc, factor, (double)log_z - (double)offset,
                                 flags);
            if (lin_crude_hopeless(q, acc)) {
                return LIN_WALK_FAILED;
            }
        }
        if (lin_walk_switches(q, track, counting, flags, &w->calm)) {
            ++t;
            break;
        }
    }
    lin_walk_keep(w, scale, acc, flags, pow2s, mx, t, wlo, whi);
    return t < q->m ? LIN_WALK_SWITCH : LIN_WALK_DONE;
}

/* Phase 1, forward: alpha over frames [0, m). With the gradient the rows
 * go to table[0, m); without, they alternate in rows_f. Also writes the
 * softmax (or zeros) into the gradient rows and zeros into the posterior
 * rows of those frames. */
CTCC_DISPATCH
static void lin_forward(const lin_sample *q) {
    const size_t SP = q->SP;
    const int track = lin_tracks_errors(q);
    lin_dir *d = &q->dir[0];
    lin_walk w;
    int counting = 0, status;
    size_t wlo, whi;
    memset(&w, 0, sizeof(w));
    w.mx = 1;
    d->bad = 1;
    do {
        status = counting ? lin_forward_frames(q, &w, 1)
                          : lin_forward_frames(q, &w, 0);
        counting = !counting;
        w.calm = 0;
    } while (status == LIN_WALK_SWITCH);
    if (status != LIN_WALK_DONE) {
        return;
    }
    wlo = w.wlo;
    whi = w.whi;
    d->log_scale = w.scale;
    d->log2_scale = w.pow2s;
    d->crude = w.acc > 0.0 ? log(w.acc) : -INFINITY;
    if (!track) {
        lin_trim(lin_row(q->with_grad ? q->table : q->rows_f, SP,
                         q->with_grad ? q->m - 1 : ((q->m - 1) & 1)),
                 &wlo, &whi);
    }
    if (q->with_grad) {
        q->wins[2 * (q->m - 1)] = (uint32_t)wlo;
        q->wins[2 * (q->m - 1) + 1] = (uint32_t)whi;
    }
    d->mid_max = (double)w.mx;
    d->mid_flags = w.flags;
    d->win_lo = wlo;
    d->win_hi = whi;
    d->bad = 0;
}

/* Where the backward task of phase 1 keeps the beta row of frame i. */
CTCC_ALWAYS_INLINE DP *lin_beta_row_at(const lin_sample *q, size_t i) {
    if (q->with_grad) {
        return i + 1 == q->m ? q->mid_beta + CTCC_ROW_PAD
                             : lin_row(q->table, q->SP, i);
    }
    return lin_row(q->rows_b, q->SP, (q->T - 1 - i) & 1);
}

/* The error row of beta's frame i in the tilted loss-only attempt. */
CTCC_ALWAYS_INLINE DP *lin_beta_err_at(const lin_sample *q, size_t i) {
    return lin_row(q->err_b, q->SP, (q->T - 1 - i) & 1);
}

/* Phase 1, backward, from frame w->t down (see lin_backward), as
 * lin_forward_frames. */
CTCC_ALWAYS_INLINE int lin_backward_frames(const lin_sample *q, lin_walk *w,
                                           const int counting) {
    const size_t S = q->S, T = q->T;
    const DP x = (DP)q->dir[0].tilt;
    const int track = lin_tracks_errors(q);
    double scale = w->scale, acc = w->acc, flags = w->flags;
    double pow2s = w->pow2s;
    DP mx = w->mx, *cur = lin_beta_row_at(q, w->t);
    size_t t, wlo = w->wlo, whi = w->whi; /* cur's window */
    for (t = w->t; t >= q->m; --t) {
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP *next = lin_beta_row_at(q, t - 1);
        DP *e = q->emit_b + CTCC_ROW_PAD;
        DP *ee = track ? q->emit_err + CTCC_ROW_PAD : NULL;
        REAL *soft = q->grad != NULL ? q->grad + t * q->stride : NULL;
        DP log_z = 0, offset;
        lin_emit_info info;
        int p2;
        double factor, lift;
        info.next = NULL;
        if (t > q->m) {
            lin_prefetch_frame(q, t - 1, 1);
            info.next = q->input + (t - 1) * q->stride;
        }
        if (q->post != NULL) {
            memset(q->post + t * q->stride, 0, q->C * sizeof(REAL));
        }
        factor = lin_pow2_scale((double)mx, &p2); /* as in lin_forward */
        pow2s += (double)p2;
        lift = !q->with_grad && !track && factor < 0x1p900 ? LIN_LIFT : 1.0;
        /* (With the error rows, their products too, into ee.) */
        info.mult_max = (DP)(LIN_FLUSHED_MAX * lift);
        /* (lin_beta_row_err's `lean`, and the counting rows') */
        info.want_least = track || counting;
        offset = lin_emissions(q, t, lo, hi, wlo, whi, (DP)(factor * lift), e,
                               q->scratch_b, soft, 1, &log_z, cur, &info,
                               track ? ee : NULL,
                               track ? lin_beta_err_at(q, t) : NULL);
        if (!(offset > NEG_INF)) {
            return LIN_WALK_FAILED;
        }
        scale += (double)offset;
        if (!track && t + 1 < T) {
            lin_trim(cur, &wlo, &whi);
            if (q->with_grad) {
                q->wins[2 * t] = (uint32_t)wlo;
                q->wins[2 * t + 1] = (uint32_t)whi;
            }
        }
        {
            const size_t plo = ctcc_band_lo(S, T, t - 1);
            const size_t phi = ctcc_band_hi(S, t - 1);
            /* The states that cur reaches (the band, with error rows). */
            size_t nlo = plo, nhi = phi;
            if (!track) {
                nlo = wlo > plo + 2 ? wlo - 2 : plo;
                nhi = whi < phi ? whi : phi;
                nhi = nhi > nlo ? nhi : nlo;
            }
            if (track) {
                mx = lin_beta_row_err(next, lin_beta_err_at(q, t - 1), cur, ee,
                                      e, q->kmask, x, plo, phi,
                                      info.least * (x * x) >=
                                          (DP)LIN_LEAN_LEAST);
            } else if (counting) {
                if (info.least * (x * x) >= (DP)LIN_LEAN_LEAST) {
                    mx = lin_beta_row(next, cur, e, q->kmask, x, nlo, nhi,
                                      &flags, 2, (DP)lift, q->blocks);
                } else {
                    mx = lin_beta_row(next, cur, e, q->kmask, x, nlo, nhi,
                                      &flags, 1, (DP)lift, q->blocks);
                }
            } else {
                mx = lin_beta_row(next, cur, e, q->kmask, x, nlo, nhi, &flags,
                                  0, (DP)lift, q->blocks);
                if (!q->with_grad && flags != 0) {
                    flags = lin_beta_flags(next, cur, q->kmask, x, nlo, nhi);
                }
            }
            wlo = nlo;
            whi = nhi;
        }
        if (!(mx > 0) || !(scale > -INFINITY && scale < INFINITY)) {
            return LIN_WALK_FAILED;
        }
        if (q->with_grad && t - 1 >= q->m) {
            q->flags[t - 1] = flags;
        }
        if (!q->with_grad && !track) {
            /* (With the gradient, phase 2 computes the exact bound, and
             * flags only tells whether a row has flagged entries.) */
            acc = lin_crude_step(acc, factor, (double)log_z - (double)offset,
                                 flags);
            if (lin_crude_hopeless(q, acc)) {
                return LIN_WALK_FAILED;
            }
        }
        cur = next;
        if (lin_walk_switches(q, track, counting, flags, &w->calm)) {
            --t;
            break;
        }
    }
    lin_walk_keep(w, scale, acc, flags, pow2s, mx, t, wlo, whi);
    return t >= q->m ? LIN_WALK_SWITCH : LIN_WALK_DONE;
}

/* Phase 1, backward: beta over frames [m - 1, T). With the gradient the
 * rows of [m, T) go to table and that of m - 1 to mid_beta; without, they
 * alternate in rows_b. Writes the gradient and posterior rows of [m, T)
 * as lin_forward does for [0, m). */
CTCC_DISPATCH
static void lin_backward(const lin_sample *q) {
    const size_t S = q->S, T = q->T;
    lin_dir *d = &q->dir[1];
    const DP x = (DP)q->dir[0].tilt;
    const int track = lin_tracks_errors(q);
    DP *cur = lin_beta_row_at(q, T - 1);
    lin_walk w;
    int counting = 0, status;
    size_t wlo, whi;
    memset(&w, 0, sizeof(w));
    w.mx = 1;
    w.t = T - 1;
    /* cur's window: the band of frame T - 1, its last two states. */
    w.wlo = ctcc_band_lo(S, T, T - 1);
    w.whi = ctcc_band_hi(S, T - 1);
    d->bad = 1;
    fill_dp(cur - CTCC_ROW_PAD, q->SP, 0);
    if (q->with_grad && T - 1 >= q->m) {
        q->flags[T - 1] = 0;
        q->wins[2 * (T - 1)] = (uint32_t)w.wlo;
        q->wins[2 * (T - 1) + 1] = (uint32_t)w.whi;
    }
    /* Tilted: beta_{T-1}(s) x^(S - 1 - s). */
    cur[S - 1] = 1;
    if (S > 1) {
        cur[S - 2] = x;
    }
    if (track) {
        fill_dp(lin_beta_err_at(q, T - 1) - CTCC_ROW_PAD, q->SP, 0);
    }
    do {
        status = counting ? lin_backward_frames(q, &w, 1)
                          : lin_backward_frames(q, &w, 0);
        counting = !counting;
        w.calm = 0;
    } while (status == LIN_WALK_SWITCH);
    if (status != LIN_WALK_DONE) {
        return;
    }
    wlo = w.wlo;
    whi = w.whi;
    if (!track && T > q->m) {
        lin_trim(lin_beta_row_at(q, q->m - 1), &wlo, &whi);
    }
    d->log_scale = w.scale;
    d->log2_scale = w.pow2s;
    d->crude = w.acc > 0.0 ? log(w.acc) : -INFINITY;
    d->mid_max = (double)w.mx;
    d->mid_flags = w.flags;
    d->win_lo = wlo;
    d->win_hi = whi;
    d->bad = 0;
}

/* The products a[s] b[s] of two stored rows are formed as (a[s] 2^980)
 * b[s]: each factor is at most 3 and at least 2^-1074, so the products
 * neither overflow nor, down to 2^-2002, underflow, where a plain product
 * would lose everything below 2^-1022 (the top states of the two rows can
 * be more than 2^1022 apart in long random inputs). */
#define LIN_PRODUCT_SCALE 0x1p980

/* gam[s] = a[s] b[s] (formed as above) on [lo, hi), with their sum, the
 * blanks' (even states') sum and their maximum. */
CTCC_ALWAYS_INLINE void lin_products(const DP *a, const DP *b, size_t lo,
                                     size_t hi, DP *gam, double *total_out,
                                     double *blank_out, DP *top_out) {
    double total = 0.0, blank_sum = 0.0;
    DP top = 0;
    size_t s;
#pragma omp simd reduction(+ : total, blank_sum) reduction(max : top)
    for (s = lo; s < hi; ++s) {
        const DP g = (a[s] * (DP)LIN_PRODUCT_SCALE) * b[s];
        gam[s] = g;
        total += (double)g;
        blank_sum += (double)((s & 1) ? 0 : g);
        top = g > top ? g : top;
    }
    *total_out = total;
    *blank_out = blank_sum;
    *top_out = top;
}

/* The sum over [lo, hi) of the flagged entries of either row, each
 * weighted by the other row's entry. */
CTCC_ALWAYS_INLINE double lin_flagged_sum(const DP *a, const DP *b, size_t lo,
                                          size_t hi) {
    double sum = 0.0;
    size_t s;
#pragma omp simd reduction(+ : sum)
    for (s = lo; s < hi; ++s) {
        sum += (double)((a[s] < LIN_TINY ? b[s] : 0) +
                        (b[s] < LIN_TINY ? a[s] : 0));
    }
    return sum;
}

/* The sum of a[lo, hi). */
CTCC_ALWAYS_INLINE double lin_row_sum(const DP *a, size_t lo, size_t hi) {
    double sum = 0.0;
    size_t s;
#pragma omp simd reduction(+ : sum)
    for (s = lo; s < hi; ++s) {
        sum += (double)a[s];
    }
    return sum;
}

/* lin_flagged_sum over the band, for rows a and b with the windows [alo,
 * ahi) and [blo, bhi): outside its window a row's entries are 0 (and
 * weigh the other's), and what lies there in memory is not read. */
CTCC_ALWAYS_INLINE double lin_flagged_sum_win(const DP *a, size_t alo,
                                              size_t ahi, const DP *b,
                                              size_t blo, size_t bhi) {
    const size_t ilo = alo > blo ? alo : blo, ihi = ahi < bhi ? ahi : bhi;
    return lin_flagged_sum(a, b, ilo, ihi) +
           lin_row_sum(a, alo, ahi < ilo ? ahi : ilo) +
           lin_row_sum(a, alo > ihi ? alo : ihi, ahi) +
           lin_row_sum(b, blo, bhi < ilo ? bhi : ilo) +
           lin_row_sum(b, blo > ihi ? blo : ihi, bhi);
}

/* The posteriors of frame t from its alpha row a and beta row b (stored
 * rows, any scales, with their windows [alo, ahi) and [blo, bhi) inside
 * the band [lo, hi)): subtracted from the gradient row, added to the
 * posterior row. Returns frame t's share of the bound E (see the top of
 * the file): the flagged entries of either row, each weighted by the
 * other row's entry, and the products' own underflow, over the frame's
 * sum; +inf when that sum is not positive and finite (nothing written).
 * gam is scratch [S]. *hint is the state that held all of the frame
 * before's mass, if one did, and receives this frame's (see below). */
CTCC_ALWAYS_INLINE double
lin_posterior_frame(const lin_sample *q, size_t t, const DP *a, size_t alo,
                    size_t ahi, const DP *b, size_t blo, size_t bhi, size_t lo,
                    size_t hi, DP *gam, int flagged_rows, size_t *hint) {
    REAL *g = q->grad != NULL ? q->grad + t * q->stride : NULL;
    REAL *p = q->post != NULL ? q->post + t * q->stride : NULL;
    double total = 0.0, blank_sum = 0.0, flagged = 0.0;
    DP inv;
    size_t s;
    DP top = 0;
    /* Only where both windows meet are the products other than 0. */
    const size_t ilo = alo > blo ? alo : blo;
    const size_t ihi =
        ahi < bhi ? (ahi > ilo ? ahi : ilo) : (bhi > ilo ? bhi : ilo);
    lin_products(a, b, ilo, ihi, gam, &total, &blank_sum, &top);
    if (!(total > 0.0) || total == INFINITY) {
        return INFINITY;
    }
    if (flagged_rows) {
        /* The sum of the flagged entries, each weighted by the other
         * row's, is at most 2 (hi - lo) LIN_ROW_TOP: every entry is at
         * most that. Where the frame's sum is not tiny, that bound's
         * term is too (about 2^-980 of the threshold for a frame of
         * peaked or random outputs), and the pass that sums the flagged
         * entries is spared; it runs where the term would exceed a
         * 4 T-th of the threshold, so that the terms taken this way add
         * up to a quarter of it at most. */
        flagged = 2.0 * LIN_ROW_TOP * (double)(hi - lo);
        if (!(LIN_FLAG_ERROR * LIN_PRODUCT_SCALE * flagged / total <=
              LIN_ACCEPT / (4.0 * (double)q->T))) {
            flagged = lin_flagged_sum_win(a, alo, ahi, b, blo, bhi);
        }
    }
    inv = (DP)(1.0 / total);
    /* A state (or the blanks) holding all of the frame's mass gets exactly
     * 1, as in the log-space kernel (g * (1 / g) may round below 1). */
    blank_sum = blank_sum == total ? 1.0 : blank_sum * (double)inv;
    if (top == total) {
        /* One state holds everything (no other can: two would sum to
         * twice the total): it gets exactly 1 (and 0 below). Peaked
         * outputs do this in most frames. The paths move at most two
         * states a frame, so the state is next to the frame before's
         * (the blank states' sum is 1 then already, as above). */
        const size_t from = *hint > ilo + 2 ? *hint - 2 : ilo;
        size_t at = ihi;
        for (s = from; s < ihi && s <= *hint + 2; ++s) {
            if (gam[s] == total) {
                at = s;
                break;
            }
        }
        for (s = ilo; at == ihi && s < ihi; ++s) {
            if (gam[s] == total) {
                at = s;
            }
        }
        if (at < ihi) {
            *hint = at;
        }
        if (at < ihi && (at & 1) != 0) {
            if (g != NULL) {
                g[q->ext[at]] -= (REAL)1;
            }
            if (p != NULL) {
                p[q->ext[at]] += (REAL)1;
            }
            gam[at] = 0;
        }
    }
    if (g != NULL) {
        scatter_labels(g, gam, -inv, q->ext, ilo, ihi);
        g[q->blank] -= (REAL)blank_sum;
    }
    if (p != NULL) {
        scatter_labels(p, gam, inv, q->ext, ilo, ihi);
        p[q->blank] += (REAL)blank_sum;
    }
    return (LIN_FLAG_ERROR * LIN_PRODUCT_SCALE * flagged +
            LIN_FTZ_ERROR * 2.0 * LIN_ROW_TOP * LIN_PRODUCT_SCALE *
                (double)(hi - lo) +
            0x1p-1074 * (double)(hi - lo)) /
           total;
}

/* Phase 2, frames [0, m): beta continues down from frame m - 1 and meets
 * the stored alpha rows. */
CTCC_DISPATCH
static void lin_lower_half(const lin_sample *q) {
    const size_t S = q->S, T = q->T;
    lin_dir *d = &q->dir[0];
    const DP x = (DP)q->dir[0].tilt;
    const DP *cur = q->mid_beta + CTCC_ROW_PAD;
    double mb = q->dir[1].mid_max, nb = q->dir[1].mid_flags, bound = 0.0;
    lin_emit_info info;
    info.mult_max = (DP)LIN_FLUSHED_MAX;
    info.want_least = 0;
    info.next = NULL;
    size_t hint = 0; /* lin_posterior_frame's */
    size_t t, clo = q->dir[1].win_lo, chi = q->dir[1].win_hi; /* cur's */
    d->bad = 1;
    for (t = q->m; t-- > 0;) {
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP *next, *e = q->emit_f + CTCC_ROW_PAD, log_z;
        size_t nlo, nhi;
        if (t > 0) {
            lin_prefetch_frame(q, t - 1, 0);
        }
        bound += lin_posterior_frame(q, t, lin_row(q->table, q->SP, t),
                                     q->wins[2 * t], q->wins[2 * t + 1], cur,
                                     clo, chi, lo, hi, q->scratch_f,
                                     q->flags[t] + nb > 0, &hint);
#ifndef CTCC_TEST_NO_FALLBACK
        if (!(bound <= LIN_ACCEPT)) {
            return; /* the log-space kernel will redo the sample */
        }
#endif
        if (t == 0) {
            break;
        }
        next = lin_row(q->rows_f, q->SP, t & 1);
        lin_trim(cur, &clo, &chi);
        if (!(lin_emissions(q, t, lo, hi, clo, chi, (DP)(1.0 / mb), e,
                            q->scratch_f, NULL, 0, &log_z, cur, &info, NULL,
                            NULL) == 0)) {
            return; /* a flushed class with a large factor */
        }
        /* The states of frame t - 1 that cur reaches (as lin_backward). */
        nlo = ctcc_band_lo(S, T, t - 1);
        nhi = ctcc_band_hi(S, t - 1);
        nlo = clo > nlo + 2 ? clo - 2 : nlo;
        nhi = chi < nhi ? chi : nhi;
        nhi = nhi > nlo ? nhi : nlo;
        mb = (double)lin_beta_row(next, cur, e, q->kmask, x, nlo, nhi, &nb, 0,
                                  1, q->blocks);
        if (!(mb > 0.0)) {
            return;
        }
        cur = next;
        clo = nlo;
        chi = nhi;
    }
    d->bound = bound;
    d->bad = 0;
}

/* Phase 2, frames [m, T): alpha continues up from frame m - 1 and meets
 * the stored beta rows. */
CTCC_DISPATCH
static void lin_upper_half(const lin_sample *q) {
    const size_t S = q->S, T = q->T;
    lin_dir *d = &q->dir[1];
    const DP x = (DP)q->dir[0].tilt;
    const DP *prev = lin_row(q->table, q->SP, q->m - 1);
    double ma = q->dir[0].mid_max, bound = 0.0, flags;
    lin_emit_info info;
    info.mult_max = (DP)LIN_FLUSHED_MAX;
    info.want_least = 0;
    info.next = NULL;
    size_t hint = 0; /* lin_posterior_frame's */
    size_t t, plo = q->dir[0].win_lo, phi = q->dir[0].win_hi; /* prev's */
    d->bad = 1;
    for (t = q->m; t < T; ++t) {
        const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
        DP *row = lin_row(q->rows_b, q->SP, t & 1);
        DP *e = q->emit_b + CTCC_ROW_PAD, log_z;
        size_t glo, ghi;
        if (t > q->m) {
            lin_trim(prev, &plo, &phi);
        }
        /* The states that prev reaches (as lin_forward). */
        glo = plo > lo ? plo : lo;
        ghi = phi + 2 < hi ? phi + 2 : hi;
        ghi = ghi > glo ? ghi : glo;
        if (t + 1 < T) {
            lin_prefetch_frame(q, t + 1, 0);
        }
        if (!(lin_emissions(q, t, lo, hi, glo, ghi, (DP)(1.0 / ma), e,
                            q->scratch_b, NULL, 0, &log_z, NULL, &info, NULL,
                            NULL) == 0)) {
            return; /* a flushed class with a large factor */
        }
        ma = (double)lin_alpha_row(row, prev, e, q->kmask, x, glo, ghi, &flags,
                                   0, q->blocks);
        if (!(ma > 0.0)) {
            return;
        }
        bound +=
            lin_posterior_frame(q, t, row, glo, ghi,
                                lin_row(q->table, q->SP, t), q->wins[2 * t],
                                q->wins[2 * t + 1], lo, hi, q->scratch_b,
                                flags + q->flags[t] > 0, &hint);
#ifndef CTCC_TEST_NO_FALLBACK
        if (!(bound <= LIN_ACCEPT)) {
            return; /* the log-space kernel will redo the sample */
        }
#endif
        prev = row;
        plo = glo;
        phi = ghi;
    }
    d->bound = bound;
    d->bad = 0;
}

/* After phase 1: log P from the meeting frame, or NaN when the sample must
 * go to the log-space kernel (a bad input, or a zero sum); the loss-only
 * bound goes to dir[0].bound. */
CTCC_DISPATCH
static double lin_join(const lin_sample *q) {
    const size_t S = q->S, T = q->T, t = q->m - 1;
    const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
    const DP *a = lin_row(q->with_grad ? q->table : q->rows_f, q->SP,
                          q->with_grad ? t : (t & 1));
    const DP *b = lin_beta_row_at(q, t);
    double total = 0.0, flagged = 0.0, log_total, log_p, e2, track_bound = 0;
    const size_t alo = q->dir[0].win_lo, ahi = q->dir[0].win_hi;
    const size_t blo = q->dir[1].win_lo, bhi = q->dir[1].win_hi;
    size_t s;
    if (q->dir[0].bad || q->dir[1].bad) {
        return (double)NAN;
    }
    /* Where both windows meet (the band, with error rows). */
    for (s = alo > blo ? alo : blo; s < ahi && s < bhi; ++s) {
        total += (double)((a[s] * (DP)LIN_PRODUCT_SCALE) * b[s]);
    }
    flagged = lin_flagged_sum_win(a, alo, ahi, b, blo, bhi);
    if (!(total > 0.0) || total == INFINITY) {
        return (double)NAN;
    }
    if (lin_tracks_errors(q)) {
        /* Each direction's error rows bound its entries' errors, in units
         * of U on the rows' scales: P's relative error is at most U (sum
         * ea b + a eb + U ea eb) / sum a b, to first order as above, with
         * the rows in the same units as the products. */
        const DP *ea = lin_row(q->err_f, q->SP, t & 1);
        const DP *eb = lin_beta_err_at(q, t);
        double cross = 0.0, both = 0.0;
        for (s = lo; s < hi; ++s) {
            cross += (double)(ea[s] * b[s] + a[s] * eb[s]);
            both += (double)(ea[s] * eb[s]);
        }
        track_bound =
            (LIN_FLAG_ERROR * LIN_PRODUCT_SCALE * cross +
             LIN_FLAG_ERROR * LIN_FLAG_ERROR * LIN_PRODUCT_SCALE * both +
             0x1p-1074 * (double)(hi - lo)) /
            total;
    }
#ifndef CTCC_TEST_NO_FALLBACK
    /* The meeting frame's own share of the gradient's bound: where the two
     * directions disagree it is already too large, and phase 2 would be
     * spent for nothing. */
    if (q->with_grad &&
        !(LIN_FLAG_ERROR * LIN_PRODUCT_SCALE * flagged / total <= LIN_ACCEPT)) {
        return (double)NAN;
    }
#else
    (void)flagged;
#endif
    {
        /* log(total 2^-980), without the rounding of a log near 680: the
         * exponent apart, ln 2 split so that its high part times a small
         * integer is exact. */
        int k;
        double mant = frexp(total, &k);
        /* mant in [sqrt(1/2), sqrt(2)): a total of exactly 2^980 (a
         * probability of exactly 1) gives log 1 = 0 and k = 980, so the
         * loss is exactly 0, not a rounding of ln 2 - ln 2. */
        if (mant < 0.70710678118654752440) {
            mant *= 2.0;
            --k;
        }
        log_total = log(mant) + (double)(k - 980) * 6.93147180369123816490e-01 +
                    (double)(k - 980) * 1.90821492927058770002e-10;
        /* The tilt's constant: sum_s a(s) b(s) is P x^(S - 1) (see
         * lin_tilt), and x^(S - 1) = 2^(tilt_log2 (S - 1)) joins the
         * exponent. */
        e2 = (double)(k - 980) -
             (double)q->dir[0].tilt_log2 * (double)(q->S - 1) +
             q->dir[0].log2_scale + q->dir[1].log2_scale;
        log_p = log(mant) + e2 * 6.93147180369123816490e-01 +
                e2 * 1.90821492927058770002e-10;
    }
    /* The loss-only bound (phase 2 replaces it with the exact one). Error
     * rows past the double range give inf or NaN (inf times 0), which
     * lin_settle rejects as it rejects a large bound. */
    q->dir[0].bound =
        lin_tracks_errors(q)
            ? track_bound
            : exp(q->dir[0].crude + log(q->dir[1].mid_max) - log_total) +
                  exp(q->dir[1].crude + log(q->dir[0].mid_max) - log_total) +
                  0x1p-1074 * (double)(hi - lo) / total;
    q->dir[1].bound = 0.0;
    return q->dir[0].log_scale + q->dir[1].log_scale + log_p;
}
