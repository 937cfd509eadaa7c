/*
 * loss_impl.h - the CTC loss kernel, written once for both precisions.
 *
 * A compilation unit defines, then includes this file:
 *   REAL          float or double, the precision of inputs and outputs
 *   REAL_EXP_NEG  exp for REAL arguments <= 1 (fast_math.h)
 *   DP            the type of the dynamic programme (double for both)
 *   DP_EXP_NEG, DP_LOG1P  its exp and log1p (fast_math.h), as accurate as
 *                 the outputs need
 *   DP_EXP_NEG8   the same exp on 8 doubles, for AVX-512 (fast_math.h)
 *   DP_SIZE       sizeof(DP)
 *   LOSS_NAME     the public entry point (ctcc_loss_f32 / ctcc_loss_f64)
 *
 * Algorithm (per sample, all in log space):
 *   The labels l_1..l_L become the extended sequence of S = 2L + 1 states
 *   (blank, l_1, blank, l_2, ..., l_L, blank). alpha_t(s) is the log of the
 *   probability of all alignment prefixes ending in state s at frame t;
 *   beta_t(s) that of all suffixes leaving state s after frame t (the
 *   emission at frame t excluded), so that alpha_t(s) + beta_t(s) - log P is
 *   the log posterior of being in state s at frame t, for every t.
 *
 * Band: at frame t only states in [band_lo, band_hi) can be both reached
 *   from the start and still reach the end; nothing outside is computed.
 *
 * Scaling: after each frame, the row maximum is subtracted from the row and
 *   added to the running log-scale (kept in double, it gives log P), so the
 *   stored values stay near zero. The backward pass scales beta the same
 *   way and normalises each frame's alpha + beta over its states, so the
 *   posteriors never depend on the size of the scales.
 *
 * Vectorisation: rows carry two -inf entries of padding at each end
 *   (ROW_PAD), so that the neighbours s - 2 .. s + 2 of every state in the
 *   band can be read without a branch. The inner loops are branch-free and
 *   use fast_math.h, so the compiler vectorises them; CTCC_DISPATCH builds
 *   compute_sample for several instruction sets and picks one at run time.
 *
 * Gradient: the forward pass writes each frame's softmax (logits input) or
 *   zeros (log-probabilities input) into the gradient row; the backward pass
 *   subtracts the posterior of each state from its class (and adds it to
 *   the posteriors output when asked). The training modifications (alpha,
 *   gamma) then run as a separate pass over the posteriors (run_batch).
 *   alpha works from the class posteriors the kernels write (alpha_rows),
 *   where a bound shows that underflow cannot matter (ALPHA_ROWS_ACCEPT),
 *   else from the log posteriors of the states, which this backward pass
 *   leaves in the alpha table (keep_log), so that no posterior that
 *   underflows in linear form is lost; gamma's weights are formed relative
 *   to the largest gain, so that w^gamma never underflows.
 */
#include "fast_math.h"
#include "internal.h"

#include <math.h>
#include <string.h>

#define NEG_INF ((DP)(-INFINITY))

/* What compute_sample found, for the training modifications that follow:
 * only SAMPLE_OK samples have posteriors. */
enum { SAMPLE_OK = 0, SAMPLE_INFEASIBLE = 1, SAMPLE_NAN = 2 };

/* log(exp(a) + exp(b) + exp(c)), exact in log space; -inf when all three
 * are -inf. The largest term contributes exp(0) = 1, so two exponentials
 * and one log1p suffice. Inputs are never NaN or +inf (the caller checks
 * the emissions), which is what lets max/min drop them safely. */
CTCC_ALWAYS_INLINE DP log_sum_exp3(DP a, DP b, DP c) {
    const DP hi = a > b ? a : b;
    const DP lo = a > b ? b : a;
    const DP m = hi > c ? hi : c;
    const DP mid = hi > c ? c : hi;
    /* With m = -inf, shift by 0 instead: the exponentials are then 0 and
     * the result m + 0 = -inf, without an -inf - -inf = NaN. */
    const DP shift = m > NEG_INF ? m : 0;
    return m + DP_LOG1P(DP_EXP_NEG(lo - shift) + DP_EXP_NEG(mid - shift));
}

/* Subtracts the maximum of row[lo..hi) from those entries and returns it
 * (0 when they are all -inf, which leaves them unchanged). */
CTCC_ALWAYS_INLINE DP rescale_band(DP *row, size_t lo, size_t hi) {
    DP m = NEG_INF;
    size_t s;
#pragma omp simd reduction(max : m)
    for (s = lo; s < hi; ++s) {
        m = row[s] > m ? row[s] : m;
    }
    if (m == NEG_INF) {
        return 0;
    }
#pragma omp simd
    for (s = lo; s < hi; ++s) {
        row[s] -= m;
    }
    return m;
}

/* Nonzero if x[0..C) holds a NaN or +inf. */
CTCC_ALWAYS_INLINE int has_bad_value(const REAL *x, size_t C) {
    int bad = 0;
    size_t c;
#pragma omp simd reduction(| : bad)
    for (c = 0; c < C; ++c) {
        bad |= !(x[c] < (REAL)INFINITY);
    }
    return bad;
}

/* Elements per block of log_normaliser's exp pass: 1 KiB of input, which
 * asks for the next frame's matching 1 KiB (prefetch_bytes). */
#define NORM_BLOCK (1024 / sizeof(REAL))
/* Lanes of log_normaliser's sums: one 64-byte vector of REAL. */
#define NORM_LANES (64 / sizeof(REAL))

/* What prefetch_bytes is to ask for (a constant at every call). */
enum {
    PREFETCH_READ = 0,   /* to be read soon: into the L1 cache */
    PREFETCH_WRITE = 1,  /* to be written soon */
    PREFETCH_READ_L2 = 2 /* to be read a while later: into the L2 cache */
};

/* Asks for the cache lines of bytes [0, n) at p to be brought into the
 * cache (the line of the last byte too, for a range that does not start
 * on a line), as `mode` says. Does nothing where the compiler has no
 * prefetch instruction to offer. PREFETCH_READ_L2 is for whole rows a
 * frame ahead (log_normaliser's input), which asked for into L1 left the
 * loss alone of ocr-large-vocab (5000 classes) waiting on memory: 8.9 ms
 * into L1, 7.3 ms into L2, one thread, Zen 4. It asks for the last line
 * into L1 all the same: into L2 as well, that took 8.2 ms (measured; the
 * row's next block starts on that line). */
CTCC_ALWAYS_INLINE void prefetch_bytes(const void *p, size_t n, int mode) {
#if defined(__GNUC__)
    const char *c = (const char *)p;
    size_t i;
    for (i = 0; i < n; i += 64) {
        if (mode == PREFETCH_WRITE) {
            __builtin_prefetch(c + i, 1, 3);
        } else if (mode == PREFETCH_READ_L2) {
            __builtin_prefetch(c + i, 0, 2);
        } else {
            __builtin_prefetch(c + i, 0, 3);
        }
    }
    if (n > 0) {
        if (mode == PREFETCH_WRITE) {
            __builtin_prefetch(c + n - 1, 1, 3);
        } else if (mode == PREFETCH_READ_L2) {
            __builtin_prefetch(c + n - 1, 0, 3);
        } else {
            __builtin_prefetch(c + n - 1, 0, 3);
        }
    }
#else
    (void)p;
    (void)n;
    (void)mode;
#endif
}

/* log_normaliser's result for a frame holding NaN or +inf: NaN, and NaN
 * for every class of softmax (where not NULL). */
static DP norm_bad_frame(REAL *softmax, size_t C) {
    size_t c;
    if (softmax != NULL) {
        for (c = 0; c < C; ++c) {
            softmax[c] = (REAL)NAN;
        }
    }
    return (DP)NAN;
}

/* For log_normaliser's pass at class c0 of C: at the start of each block
 * of NORM_BLOCK classes, asks for the next frame's same block of input
 * (next) and of softmax (next_soft), each where not NULL. The softmax's
 * block is asked for to be read, into L2, although it is to be written:
 * a line that no other core holds arrives ready for writing, and without
 * it each of the pass's stores waited for its line (ocr-large-vocab with
 * the gradient, one thread: 13.3 -> 10.8 ms and 13.8 -> 12.2 ms in two
 * runs, measured; docs/performance.md). */
CTCC_ALWAYS_INLINE void norm_prefetch(const REAL *next, const REAL *next_soft,
                                      size_t C, size_t c0) {
    if (c0 % NORM_BLOCK == 0) {
        const size_t bytes =
            (C - c0 < NORM_BLOCK ? C - c0 : NORM_BLOCK) * sizeof(REAL);
        if (next != NULL) {
            prefetch_bytes(next + c0, bytes, PREFETCH_READ_L2);
        }
        if (next_soft != NULL) {
            prefetch_bytes(next_soft + c0, bytes, PREFETCH_READ_L2);
        }
    }
}

/* Vectors per run of norm_runs_f. */
#define NORM_RUN 4

/* log_normaliser's exp pass for float32 over whole runs of NORM_RUN
 * vectors from class 0: each lane sums its run's exps in float, and the
 * run's lanes are then added to part's in double (one conversion per run:
 * converting every exp made the pass 10% slower, measured in cache on 5000
 * classes). A float sum of
 * n terms >= 0 is within (n - 1) 2^-24 of their exact sum, relative, so
 * each run's rounding weighs like an exp's own error of a few ulp, with
 * one exception: a term 1 (a class at the maximum) in a run with tiny ones
 * would round them away, and on peaked outputs those tiny terms are the
 * loss. So the classes at the maximum (exp(0) = 1 exactly) go to *ones
 * instead, exact in float, and the runs only hold terms below 1. Writes
 * softmax[c] = exp(x[c] - m) where softmax is not NULL, asks for the next
 * frame's rows as log_normaliser does, and returns the first class not
 * done. A NaN in x reaches part. */
CTCC_ALWAYS_INLINE size_t norm_runs_f(const REAL *x, size_t C, REAL m,
                                      REAL *softmax, const REAL *next,
                                      const REAL *next_soft, double *part,
                                      double *ones) {
    REAL at_max[NORM_LANES];
    size_t c0, i, v;
    for (i = 0; i < NORM_LANES; ++i) {
        at_max[i] = 0;
    }
    for (c0 = 0; c0 + NORM_RUN * NORM_LANES <= C; c0 += NORM_RUN * NORM_LANES) {
        REAL run[NORM_LANES];
        for (i = 0; i < NORM_LANES; ++i) {
            run[i] = 0;
        }
        norm_prefetch(next, next_soft, C, c0);
        for (v = 0; v < NORM_RUN; ++v) {
            const REAL *xv = x + c0 + v * NORM_LANES;
            if (softmax != NULL) {
                REAL *sv = softmax + c0 + v * NORM_LANES;
#pragma omp simd
                for (i = 0; i < NORM_LANES; ++i) {
                    const REAL d = xv[i] - m;
                    const REAL e = REAL_EXP_NEG(d);
                    sv[i] = e;
                    const REAL top = d == 0 ? (REAL)1 : (REAL)0;
                    run[i] += e - top;
                    at_max[i] += top;
                }
            } else {
#pragma omp simd
                for (i = 0; i < NORM_LANES; ++i) {
                    const REAL d = xv[i] - m;
                    const REAL e = REAL_EXP_NEG(d);
                    const REAL top = d == 0 ? (REAL)1 : (REAL)0;
                    run[i] += e - top;
                    at_max[i] += top;
                }
            }
        }
#pragma omp simd
        for (i = 0; i < NORM_LANES; ++i) {
            part[i] += (double)run[i];
        }
    }
    for (i = 0; i < NORM_LANES; ++i) {
        *ones += (double)at_max[i];
    }
    return c0;
}

/* A thread's stage rows for one task (see CTCC_STAGE_MIN_CLASSES): two
 * rows of C floats, and the frame whose softmax is still to be written
 * from one of them. log_normaliser takes a frame's exps into the row that
 * is not pending; the pending frame's scaled softmax goes to its gradient
 * row a few lines at a time as the next frame's exps are taken
 * (norm_runs_f16), so that the writes to memory overlap that arithmetic
 * instead of following it. A task ends with stage_flush. */
typedef struct norm_stage {
    float *rows[2];    /* C floats each, aligned to CTCC_ALIGN */
    const float *from; /* the pending frame's exps (a row), or NULL */
    float *out;        /* its softmax row */
    float inv;         /* 1 / the sum of its exps */
    size_t C;
    size_t done; /* classes of out written */
    size_t end;  /* out's last whole cache line ends at class end */
} norm_stage;

#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
/* The scaled softmax of the pending frame goes out as stage[c] inv, the
 * same products as log_normaliser's scaling in place, with the whole
 * cache lines of out written by non-temporal stores: they go to memory
 * without first reading the line (a normal store reads every line of a
 * gradient row it writes, 20 KB per frame of 5000 classes). The partial
 * lines at either end, which other rows share, take normal stores. The
 * stores are ordered for other threads by ctcc_store_fence, after the
 * task. */

/* Makes the frame whose exps are in `from` pending: writes the partial
 * line at the start of out. */
CTCC_AVX512 static inline void stage_begin(norm_stage *p, const float *from,
                                           float *out, size_t C, float inv) {
    size_t h = ((64 - ((uintptr_t)out & 63)) & 63) / sizeof(float);
    if (h > C) {
        h = C;
    }
    if (h > 0) {
        const __mmask16 k = (__mmask16)((1u << h) - 1);
        _mm512_mask_storeu_ps(out, k,
                              _mm512_mul_ps(_mm512_maskz_loadu_ps(k, from),
                                            _mm512_set1_ps(inv)));
    }
    p->from = from;
    p->out = out;
    p->inv = inv;
    p->C = C;
    p->done = h;
    p->end = h + (C - h) / 16 * 16;
}

/* Writes the pending frame's whole lines up to class `upto`. */
CTCC_AVX512 static inline void stage_stream(norm_stage *p, size_t upto) {
    /* (Locals: the stores could alias *p, which the loop would read again
     * after each.) */
    const float *from = p->from;
    float *out = p->out;
    const __m512 iv = _mm512_set1_ps(p->inv);
    size_t c = p->done;
    upto = upto < p->end ? upto : p->end;
    for (; c + 16 <= upto; c += 16) {
        _mm512_stream_ps(out + c, _mm512_mul_ps(_mm512_loadu_ps(from + c), iv));
    }
    p->done = c;
}

/* Writes the rest of the pending frame, its partial last line too; none
 * is pending after. */
CTCC_AVX512 static inline void stage_finish(norm_stage *p) {
    const size_t C = p->C;
    stage_stream(p, C);
    if (p->done < C) {
        const __mmask16 k = (__mmask16)((1u << (C - p->done)) - 1);
        _mm512_mask_storeu_ps(
            p->out + p->done, k,
            _mm512_mul_ps(_mm512_maskz_loadu_ps(k, p->from + p->done),
                          _mm512_set1_ps(p->inv)));
    }
    p->from = NULL;
}
#endif

/* Writes what stage (or NULL) still holds, at the end of a task or of the
 * pass that wrote the softmax (compute_sample). */
static inline void stage_flush(norm_stage *stage) {
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    if (stage != NULL && stage->from != NULL) {
        stage_finish(stage);
    }
#else
    (void)stage;
#endif
}

#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
/* norm_runs_f where the processor has AVX-512 (the caller checks): the
 * same runs, lanes and order of sums, with ctcc_expf_neg16 for the exps,
 * and the classes at the maximum counted from a mask rather than added up
 * in a vector. The loss alone of ocr-large-vocab's shape (T = 64, N = 64,
 * C = 5000, float32 logits, one thread, Zen 4) took 6.02 ms this way
 * instead of 6.76 (docs/performance.md). */
CTCC_AVX512 static inline size_t
norm_runs_f16(const float *x, size_t C, float m, float *softmax,
              const float *next, const float *next_soft, double *part,
              double *ones, norm_stage *pend) {
    const __m512 mv = _mm512_set1_ps(m), zero = _mm512_setzero_ps();
    __m512d low = _mm512_loadu_pd(part), high = _mm512_loadu_pd(part + 8);
    uint64_t at_max = 0;
    size_t c0, v;
    for (c0 = 0; c0 + NORM_RUN * 16 <= C; c0 += NORM_RUN * 16) {
        __m512 run = zero;
        norm_prefetch((const REAL *)(const void *)next,
                      (const REAL *)(const void *)next_soft, C, c0);
        for (v = 0; v < NORM_RUN; ++v) {
            const size_t at = c0 + v * 16;
            const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + at), mv);
            const __m512 e = ctcc_expf_neg16(d);
            const __mmask16 top = _mm512_cmp_ps_mask(d, zero, _CMP_EQ_OQ);
            if (softmax != NULL) {
                _mm512_storeu_ps(softmax + at, e);
            }
            run = _mm512_mask_add_ps(run, _knot_mask16(top), run, e);
            at_max += (uint64_t)__builtin_popcount((unsigned)top);
        }
        if (pend != NULL) {
            /* The frame before's softmax, as far as this one's exps. */
            stage_stream(pend, c0 + NORM_RUN * 16);
        }
        low = _mm512_add_pd(low, _mm512_cvtps_pd(_mm512_castps512_ps256(run)));
        high = _mm512_add_pd(high,
                             _mm512_cvtps_pd(_mm256_castpd_ps(
                                 _mm512_extractf64x4_pd(_mm512_castps_pd(run),
                                                        1))));
    }
    _mm512_storeu_pd(part, low);
    _mm512_storeu_pd(part + 8, high);
    *ones += (double)at_max;
    return c0;
}
#endif

/* Orders the non-temporal stores of stage_stream before whatever the
 * thread does next (another thread reading the gradient after the
 * parallel region): an sfence, after each task that may have staged. */
static inline void ctcc_store_fence(void) {
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    _mm_sfence();
#endif
}

/* The log-softmax normaliser of one frame, in two parts: *shift = the
 * frame's maximum m, and the return value log(sum_c exp(x[c] - m)), so
 * that log softmax(x)[c] = (x[c] - m) - that. Kept apart because m + log
 * sum would round away the log sum once |m| is beyond about 1e15 (the
 * probabilities would then sum to more than 1). When softmax is not NULL,
 * also writes softmax(x) there. Returns NaN for a frame holding NaN or
 * +inf, -inf for a frame of -inf only (no class possible; *shift = 0).
 * The sum is kept in double (with C = 5000 classes a float32 sum would
 * lose about 1e-6), but for float32's short runs (norm_runs_f). next and
 * next_soft: the next frame's input and softmax rows, or NULL, asked for
 * into the cache a block at a time as the pass goes (norm_prefetch).
 * stage: NULL, or the thread's stage rows (norm_stage): the exps go to
 * the row that is not pending instead of softmax, and softmax is written
 * from there past the cache (stage_begin to stage_finish), during the
 * next frame's exps or at the task's stage_flush: the same values,
 * without reading each of softmax's lines from memory first. With the
 * gradient of ocr-large-vocab's shape (T = 64, N = 64, C = 5000, Zen 4),
 * written at the end of each frame: 10.8 -> 10.2 ms on one thread and 6.6
 * -> 5.6 ms on two; during the next frame's exps, about 0.6 ms less on
 * one thread (docs/performance.md). Used for float32 with AVX-512 (the
 * stores are the AVX-512 ones) and CTCC_STAGE_MIN_CLASSES classes or
 * more. */
CTCC_ALWAYS_INLINE DP log_normaliser(const REAL *x, size_t C, REAL *softmax,
                                     DP *shift, const REAL *next,
                                     const REAL *next_soft, norm_stage *stage) {
    REAL *out = NULL; /* softmax, where the exps go to a stage row first */
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    norm_stage *pend = NULL; /* stage, where a frame before is pending */
#endif
    REAL m = (REAL)(-INFINITY);
    double sum = 0.0, ones = 0.0;
    size_t c, c0;
    /* The maximum alone: a NaN, which it skips, is caught where the exps
     * pass it on to the sum (the frame's maximum is finite then, or -inf
     * where the frame holds nothing else), and +inf is the maximum.
     * Testing every class for both here took three instructions more per
     * vector of classes. */
#pragma omp simd reduction(max : m)
    for (c = 0; c < C; ++c) {
        m = x[c] > m ? x[c] : m;
    }
    if (m == (REAL)INFINITY ||
        (m == (REAL)(-INFINITY) && has_bad_value(x, C))) {
        return norm_bad_frame(softmax, C);
    }
    *shift = 0;
    if (m == (REAL)(-INFINITY)) {
        if (softmax != NULL) {
            memset(softmax, 0, C * sizeof(REAL));
        }
        return NEG_INF;
    }
    *shift = (DP)m;
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    if (sizeof(REAL) < sizeof(double) && stage != NULL && softmax != NULL &&
        C >= CTCC_STAGE_MIN_CLASSES && ctcc_have_avx512()) {
        out = softmax;
        softmax =
            (REAL *)(void *)(stage->from == stage->rows[0] ? stage->rows[1]
                                                           : stage->rows[0]);
        pend = stage->from != NULL ? stage : NULL;
        next_soft = NULL; /* the row is not to come into the cache */
    }
#else
    (void)stage;
#endif
    if (C < NORM_LANES) {
        for (c = 0; c < C; ++c) {
            const REAL e = REAL_EXP_NEG(x[c] - m);
            if (softmax != NULL) {
                softmax[c] = e;
            }
            sum += (double)e;
        }
    } else {
        double part[NORM_LANES];
        size_t i;
        for (i = 0; i < NORM_LANES; ++i) {
            part[i] = 0.0;
        }
        c0 = 0;
        if (sizeof(REAL) < sizeof(double)) {
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
            if (C >= NORM_RUN * NORM_LANES && ctcc_have_avx512()) {
                c0 = norm_runs_f16((const float *)(const void *)x, C, (float)m,
                                   (float *)(void *)softmax,
                                   (const float *)(const void *)next,
                                   (const float *)(const void *)next_soft, part,
                                   &ones, pend);
            } else
#endif
            {
                c0 =
                    norm_runs_f(x, C, m, softmax, next, next_soft, part, &ones);
            }
        }
        for (; c0 + NORM_LANES <= C; c0 += NORM_LANES) {
            norm_prefetch(next, next_soft, C, c0);
            if (softmax != NULL) {
#pragma omp simd
                for (i = 0; i < NORM_LANES; ++i) {
                    const REAL e = REAL_EXP_NEG(x[c0 + i] - m);
                    softmax[c0 + i] = e;
                    part[i] += (double)e;
                }
            } else {
#pragma omp simd
                for (i = 0; i < NORM_LANES; ++i) {
                    part[i] += (double)REAL_EXP_NEG(x[c0 + i] - m);
                }
            }
        }
        if (c0 < C) {
            /* The last block ends at C, over classes summed already. */
            const size_t at = C - NORM_LANES;
#pragma omp simd
            for (i = 0; i < NORM_LANES; ++i) {
                const REAL e = REAL_EXP_NEG(x[at + i] - m);
                if (softmax != NULL) {
                    softmax[at + i] = e;
                }
                part[i] += at + i >= c0 ? (double)e : 0.0;
            }
        }
        /* Pairwise, in a fixed order. */
#pragma omp simd
        for (i = 0; i < NORM_LANES / 2; ++i) {
            part[i] += part[i + NORM_LANES / 2];
        }
        for (i = NORM_LANES / 4; i > 0; i /= 2) {
            size_t j;
            for (j = 0; j < i; ++j) {
                part[j] += part[j + i];
            }
        }
        sum = part[0] + ones;
    }
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    if (pend != NULL) {
        stage_finish(pend); /* the frame before, all of it */
    }
#endif
    if (sum != sum) {
        /* a NaN in x */
        return norm_bad_frame(out != NULL ? out : softmax, C);
    }
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
    if (out != NULL) {
        /* This frame's softmax goes out during the next frame's exps, or
         * at the end of the task (stage_flush). */
        stage_begin(stage, (const float *)(const void *)softmax,
                    (float *)(void *)out, C, (float)(1.0 / sum));
        return (DP)log(sum);
    }
#endif
    if (softmax != NULL) {
        const REAL inv = (REAL)(1.0 / sum);
#pragma omp simd
        for (c = 0; c < C; ++c) {
            softmax[c] *= inv;
        }
    }
    return (DP)log(sum);
}

/* Everything one sample needs, resolved from the batch arguments. */
typedef struct sample_args {
    const REAL *input;     /* frame 0 of the sample */
    REAL *grad;            /* frame 0 of the gradient, or NULL */
    REAL *post;            /* frame 0 of the posteriors, or NULL */
    norm_stage *stage;     /* &stage_rows, or NULL: no stage rows */
    norm_stage stage_rows; /* the calling thread's (see sample_at) */
    size_t frame_stride;   /* elements between consecutive frames */
    size_t alphabet;
    size_t max_time;
    size_t time;
    const int32_t *labels;
    size_t label_length;
    int blank;
    int log_probs;
    int zero_infinity;
    unsigned char *workspace; /* aligned to CTCC_ALIGN */
    /* The table (the layout's `alpha`) and the class probabilities: in
     * the sample's own region, or in another sample's that the same
     * thread finished before (see lend_tables). */
    unsigned char *table, *class_probs;
    unsigned char *state; /* receives the sample's SAMPLE_ state */
    /* Nonzero for the alpha modification: the backward pass then replaces
     * each alpha row by the log posteriors of the states (see
     * state_log_sums), which the modification reads instead of the
     * rounded posteriors. */
    int keep_log;
} sample_args;

static void zero_frames(REAL *grad, size_t stride, size_t C, size_t from,
                        size_t to) {
    size_t t;
    for (t = from; t < to; ++t) {
        memset(grad + t * stride, 0, C * sizeof(REAL));
    }
}

/* Sets frames [0, to) of an array (NULL: nothing) to value. */
static void fill_frames(REAL *x, size_t stride, size_t C, size_t to,
                        REAL value) {
    size_t t, c;
    if (x == NULL) {
        return;
    }
    for (t = 0; t < to; ++t) {
        for (c = 0; c < C; ++c) {
            x[t * stride + c] = value;
        }
    }
}

static void fill_dp(DP *p, size_t n, DP value) {
    size_t i;
    for (i = 0; i < n; ++i) {
        p[i] = value;
    }
}

/* Emissions of the band's states at one frame: log p_t(class of s). */
CTCC_ALWAYS_INLINE void gather_emissions(DP *emit, const REAL *x,
                                         const int32_t *ext, DP shift, DP lse,
                                         size_t lo, size_t hi) {
    size_t s;
    if (lse == NEG_INF) {
        fill_dp(emit + lo, hi - lo, NEG_INF);
        return;
    }
    for (s = lo; s < hi; ++s) {
        emit[s] = ((DP)x[ext[s]] - shift) - lse;
    }
}

/* For the alpha modification, after the backward pass (keep_log): sums[s]
 * holds the posterior of state s summed over the frames in linear form,
 * and the alpha table ([T] rows of stride SP) the log posteriors. Turns
 * sums into logarithms. A linear sum is exact but for the terms that
 * rounded to 0 (each below 1e-307, so at most T of them, 1e-107 of any sum
 * above 1e-200); a smaller one is summed again from the log posteriors,
 * relative to its largest term, so that it is exact however small. */
static void state_log_sums(const DP *table, size_t SP, size_t S, size_t T,
                           double *sums) {
    size_t s, t;
    for (s = 0; s < S; ++s) {
        double top = -INFINITY, total = 0.0;
        if (sums[s] >= 1e-200) {
            sums[s] = log(sums[s]);
            continue;
        }
        for (t = 0; t < T; ++t) {
            const double v = (double)table[t * SP + CTCC_ROW_PAD + s];
            if (s >= ctcc_band_lo(S, T, t) && s < ctcc_band_hi(S, t)) {
                top = v > top ? v : top;
            }
        }
        for (t = 0; top > -INFINITY && t < T; ++t) {
            const double v = (double)table[t * SP + CTCC_ROW_PAD + s];
            if (s >= ctcc_band_lo(S, T, t) && s < ctcc_band_hi(S, t)) {
                total += exp(v - top);
            }
        }
        sums[s] = top > -INFINITY ? top + log(total) : -INFINITY;
    }
}

/* The extended sequence ext [S] and the skip mask, as logarithms in skip
 * (0 where a label state may be entered from two states back, -inf where
 * it may not: blanks, and a label equal to the one before) and, unless
 * NULL, as factors in kmask (1 and 0), which may be skip itself (the
 * factors then replace the logarithms). Both masks are padded rows (they
 * point at state 0). Returns the number of repeated neighbouring labels. */
static size_t build_states(const sample_args *a, int32_t *ext, DP *skip,
                           DP *kmask) {
    const size_t S = 2 * a->label_length + 1;
    const size_t SP = S + 2 * CTCC_ROW_PAD;
    size_t s, repeats = 0;
    fill_dp(skip - CTCC_ROW_PAD, SP, NEG_INF);
    if (kmask != NULL) {
        fill_dp(kmask - CTCC_ROW_PAD, SP, 0);
    }
    for (s = 0; s < S; ++s) {
        ext[s] = (s & 1) ? a->labels[s / 2] : a->blank;
    }
    for (s = 3; s < S; s += 2) {
        if (ext[s] != ext[s - 2]) {
            skip[s] = 0;
            if (kmask != NULL) {
                kmask[s] = 1;
            }
        } else {
            ++repeats;
        }
    }
    return repeats;
}

/* The products of frame t's alpha and beta rows in log space (stored
 * rows, any scales): gam[s] = exp(row[s] + cur[s] - top) on [lo, hi),
 * with top their largest sum (*top_out). Returns the sum of gam. */
CTCC_ALWAYS_INLINE double frame_products(const DP *row, const DP *cur, DP *gam,
                                         size_t lo, size_t hi, DP *top_out) {
    double total = 0.0;
    DP top = NEG_INF;
    size_t s;
#pragma omp simd reduction(max : top)
    for (s = lo; s < hi; ++s) {
        gam[s] = row[s] + cur[s];
        top = gam[s] > top ? gam[s] : top;
    }
#pragma omp simd reduction(+ : total)
    for (s = lo; s < hi; ++s) {
        gam[s] = DP_EXP_NEG(gam[s] - top);
        total += (double)gam[s];
    }
    *top_out = top;
    return total;
}

/* row[ext[s]] += (REAL)(gam[s] factor) for the label (odd) states s of
 * [lo, hi), in order of s (labels may repeat a class). Unrolled by hand:
 * the loop's own count and branch were a third of its instructions.
 * Adding (REAL)(gam[s] (-inv)) is subtracting (REAL)(gam[s] inv), to the
 * bit (negation is exact, and rounds the same on both sides). */
CTCC_ALWAYS_INLINE void scatter_labels(REAL *row, const DP *gam, DP factor,
                                       const int32_t *ext, size_t lo,
                                       size_t hi) {
    size_t s = lo | 1;
    for (; s + 6 < hi; s += 8) {
        row[ext[s]] += (REAL)(gam[s] * factor);
        row[ext[s + 2]] += (REAL)(gam[s + 2] * factor);
        row[ext[s + 4]] += (REAL)(gam[s + 4] * factor);
        row[ext[s + 6]] += (REAL)(gam[s + 6] * factor);
    }
    for (; s < hi; s += 2) {
        row[ext[s]] += (REAL)(gam[s] * factor);
    }
}

/* The frame's posteriors gam[s] inv, subtracted from the gradient row g
 * and added to the posterior row p (either may be NULL): the blank states
 * summed first, each label state on its own. */
CTCC_ALWAYS_INLINE void frame_scatter(const DP *gam, DP inv, size_t lo,
                                      size_t hi, const int32_t *ext, int blank,
                                      REAL *g, REAL *p) {
    double blank_sum = 0.0;
    size_t s;
    for (s = lo + (lo & 1); s < hi; s += 2) {
        blank_sum += (double)gam[s];
    }
    blank_sum *= (double)inv;
    if (g != NULL) {
        scatter_labels(g, gam, -inv, ext, lo, hi);
        g[blank] -= (REAL)blank_sum;
    }
    if (p != NULL) {
        scatter_labels(p, gam, inv, ext, lo, hi);
        p[blank] += (REAL)blank_sum;
    }
}

/* log P from the alpha row a and the beta row b of one frame (log space,
 * shifted by the sums of shifts scale_a and scale_b): the same number,
 * to the bit, whichever kernel's rows meet there, so that every way of
 * computing a sample in log space gives the same cost. Returns NaN when
 * no state of the frame has both (probability 0), or for a non-finite
 * result. */
CTCC_NOINLINE double meet_log_p(const DP *a, const DP *b, size_t lo, size_t hi,
                                double scale_a, double scale_b) {
    double total = 0.0, log_p;
    DP top = NEG_INF;
    size_t s;
    for (s = lo; s < hi; ++s) {
        top = a[s] + b[s] > top ? a[s] + b[s] : top;
    }
    if (top == NEG_INF) {
        return (double)NAN;
    }
    for (s = lo; s < hi; ++s) {
        total += (double)DP_EXP_NEG((a[s] + b[s]) - top);
    }
    log_p = scale_a + scale_b + ((double)top + log(total));
    return log_p > -INFINITY && log_p < INFINITY ? log_p : (double)NAN;
}

/* Computes one sample's cost and, if a->grad is set, its gradient rows. */
CTCC_DISPATCH
static REAL compute_sample(const sample_args *a) {
    const size_t T = a->time;
    const size_t L = a->label_length;
    const size_t S = 2 * L + 1;
    const size_t SP = S + 2 * CTCC_ROW_PAD; /* padded row stride */
    const size_t C = a->alphabet;
    /* The backward pass runs when the gradient or the posteriors are
     * wanted; with_grad names that (it keeps the alpha table). */
    const int with_grad = a->grad != NULL || a->post != NULL;
    ctcc_sample_layout lay;
    int32_t *ext;
    DP *skip, *emit, *gam, *beta, *alpha, *log_norm, *frame_max;
    double *state_sums;
    size_t s, t, repeats = 0;
    /* The meeting frame of the split kernels is mid - 1 (see meet_log_p);
     * scale_mid and scale_b are the sums of the shifts of alpha up to it
     * and of beta down to it. */
    const size_t mid = (T + 1) / 2;
    double log_p = 0.0, scale_mid = 0.0, scale_b = 0.0;
    int feasible;

    ctcc_sample_layout_compute((int32_t)T, (int32_t)L, (int32_t)C, DP_SIZE,
                               with_grad, &lay);
    ext = (int32_t *)(a->workspace + lay.ext_labels);
    skip = (DP *)(a->workspace + lay.skip) + CTCC_ROW_PAD;
    emit = (DP *)(a->workspace + lay.emit) + CTCC_ROW_PAD;
    gam = (DP *)(a->workspace + lay.posterior);
    beta = (DP *)(a->workspace + lay.beta);
    alpha = (DP *)a->table;
    log_norm = (DP *)(a->workspace + lay.log_norm);
    frame_max = (DP *)(a->workspace + lay.frame_max);
    state_sums = (double *)(a->workspace + lay.state_sums);
    *a->state = SAMPLE_OK;

    /* Frames past the input length get gradient 0 whatever happens. */
    if (a->grad != NULL) {
        zero_frames(a->grad, a->frame_stride, C, T, a->max_time);
    }
    if (a->post != NULL) {
        zero_frames(a->post, a->frame_stride, C, T, a->max_time);
    }

    fill_dp(emit - CTCC_ROW_PAD, SP, NEG_INF);
    repeats = build_states(a, ext, skip, NULL);

    /* The shortest alignment emits every label once and one blank between
     * each pair of equal neighbours. */
    feasible = T >= L + repeats;
    if (feasible && T == 0) {
        /* No frames and no labels: the empty alignment, probability 1. */
        return 0;
    }

    /* Forward pass. */
    if (feasible) {
        double scale = 0.0;
        int bad_input = 0;
        for (t = 0; t < T; ++t) {
            const REAL *x = a->input + t * a->frame_stride;
            DP *row = alpha + (with_grad ? t : (t & 1)) * SP + CTCC_ROW_PAD;
            const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
            DP norm = 0, shift = 0;
            if (!a->log_probs) {
                /* NaN for a frame holding NaN or +inf. */
                norm = log_normaliser(x, C,
                                      a->grad != NULL
                                          ? a->grad + t * a->frame_stride
                                          : NULL,
                                      &shift,
                                      t + 1 < T ? x + a->frame_stride : NULL,
                                      a->grad != NULL && t + 1 < T
                                          ? a->grad + (t + 1) * a->frame_stride
                                          : NULL,
                                      a->stage);
                bad_input |= norm != norm;
            } else {
                bad_input |= has_bad_value(x, C);
                if (a->grad != NULL) {
                    memset(a->grad + t * a->frame_stride, 0, C * sizeof(REAL));
                }
            }
            if (a->post != NULL) {
                memset(a->post + t * a->frame_stride, 0, C * sizeof(REAL));
            }
            gather_emissions(emit, x, ext, shift, norm, lo, hi);
            /* The padding, and the two states above the band that the next
             * frame reads as predecessors. */
            row[-2] = row[-1] = NEG_INF;
            row[hi] = row[hi + 1] = NEG_INF;
            if (t == 0) {
                for (s = lo; s < hi; ++s) {
                    row[s] = emit[s];
                }
            } else {
                const DP *prev = alpha +
                                 (with_grad ? t - 1 : ((t - 1) & 1)) * SP +
                                 CTCC_ROW_PAD;
#pragma omp simd
                for (s = lo; s < hi; ++s) {
                    row[s] = emit[s] + log_sum_exp3(prev[s], prev[s - 1],
                                                    prev[s - 2] + skip[s]);
                }
            }
            scale += (double)rescale_band(row, lo, hi);
            if (t + 1 == mid) {
                scale_mid = scale;
            }
            if (with_grad) {
                log_norm[t] = norm;
                frame_max[t] = shift;
            }
        }
        /* The last frame's softmax, which the backward pass reads. */
        stage_flush(a->stage);
        {
            const DP *last =
                alpha + (with_grad ? T - 1 : ((T - 1) & 1)) * SP + CTCC_ROW_PAD;
            double tail = exp((double)last[S - 1]);
            if (S > 1) {
                tail += exp((double)last[S - 2]);
            }
            log_p = bad_input ? (double)NAN : scale + log(tail);
        }
        /* Zero probability (every alignment passes an impossible class). */
        feasible = log_p != -INFINITY;
    }

    if (!feasible) {
        if (a->grad != NULL) {
            zero_frames(a->grad, a->frame_stride, C, 0, T);
        }
        if (a->post != NULL) {
            zero_frames(a->post, a->frame_stride, C, 0, T);
        }
        *a->state = SAMPLE_INFEASIBLE;
        return a->zero_infinity ? (REAL)0 : (REAL)INFINITY;
    }
    if (log_p != log_p) {
        /* A NaN or +inf input: mark the whole gradient of this sample, not
         * only the classes the labels touch. */
        fill_frames(a->grad, a->frame_stride, C, T, (REAL)NAN);
        fill_frames(a->post, a->frame_stride, C, T, (REAL)NAN);
        *a->state = SAMPLE_NAN;
        return (REAL)NAN;
    }
    if (!with_grad) {
        return (REAL)(-log_p);
    }

    /* Backward pass, fused with the gradient: one beta row at a time, over
     * the same band as alpha. */
    {
        DP *cur = beta + CTCC_ROW_PAD;
        DP *next = beta + SP + CTCC_ROW_PAD;
        fill_dp(beta, 2 * SP, NEG_INF);
        if (a->keep_log) {
            memset(state_sums, 0, S * sizeof(double));
        }
        cur[S - 1] = 0;
        if (S > 1) {
            cur[S - 2] = 0;
        }
        for (t = T; t-- > 0;) {
            DP *row = alpha + t * SP + CTCC_ROW_PAD;
            REAL *g = a->grad != NULL ? a->grad + t * a->frame_stride : NULL;
            REAL *p = a->post != NULL ? a->post + t * a->frame_stride : NULL;
            const size_t lo = ctcc_band_lo(S, T, t), hi = ctcc_band_hi(S, t);
            double total;
            DP top, inv;
            DP *tmp;

            /* Posterior of each state: alpha_t(s) beta_t(s) / P, where P is
             * the sum of alpha_t(s) beta_t(s) over the states of frame t.
             * Normalising each frame by its own sum, rather than by the
             * scale offsets and log P, keeps the posteriors exact however
             * large those grow, and every row sums to 1. */
            if (t + 1 == mid) {
                /* The cost as the split kernels form it, from the rows
                 * they compute, so that it is the same to the bit (the
                 * forward pass's from the last frame differs in the last
                 * few bits). */
                const double meet =
                    meet_log_p(row, cur, lo, hi, scale_mid, scale_b);
                log_p = meet == meet ? meet : log_p;
            }
            total = frame_products(row, cur, gam, lo, hi, &top);
            inv = (DP)(1.0 / total);
            if (a->keep_log) {
                /* alpha_t(s) is read for the last time here: it becomes
                 * the log posterior of state s at frame t, which no
                 * underflow can round to 0. */
                const DP offset = top + (DP)log(total);
#pragma omp simd
                for (s = lo; s < hi; ++s) {
                    row[s] = (row[s] + cur[s]) - offset;
                    state_sums[s] += (double)(gam[s] * inv);
                }
            }
            /* Then subtracted from its class. */
            frame_scatter(gam, inv, lo, hi, ext, a->blank, g, p);
            if (t == 0) {
                break;
            }

            /* beta_{t-1}(s) = log sum over s' in {s, s+1, s+2 (skip)} of
             * emit_t(s') + beta_t(s'), for s in the band of frame t - 1.
             * emit then holds emit_t + beta_t on [lo, hi) and -inf on the
             * two states beyond each end, all that band can reach. */
            {
                const REAL *x = a->input + t * a->frame_stride;
                const size_t plo = ctcc_band_lo(S, T, t - 1);
                const size_t phi = ctcc_band_hi(S, t - 1);
                const DP norm = log_norm[t], shift = frame_max[t];
                for (s = lo; s < hi; ++s) {
                    emit[s] = ((DP)x[ext[s]] - shift) - norm + cur[s];
                }
                emit[(ptrdiff_t)lo - 2] = emit[(ptrdiff_t)lo - 1] = NEG_INF;
                emit[hi] = emit[hi + 1] = NEG_INF;
#pragma omp simd
                for (s = plo; s < phi; ++s) {
                    next[s] = log_sum_exp3(emit[s], emit[s + 1],
                                           emit[s + 2] + skip[s + 2]);
                }
                scale_b += (double)rescale_band(next, plo, phi);
            }
            tmp = cur;
            cur = next;
            next = tmp;
        }
        if (a->keep_log) {
            state_log_sums(alpha, SP, S, T, state_sums);
        }
    }
    return (REAL)(-log_p);
}

/* The scale factors of eq. 15 over the good samples, as logarithms:
 * log_scale[c] = log(numerator_c / V_c), where V_c is the posterior of
 * class c summed over their valid frames and the numerator is (1 - alpha)
 * times the number of labels for the blank, alpha * N_c (the occurrences
 * of c in their labels) for a label; -inf for a class with nothing to
 * scale (V_c = 0 or a numerator of 0). V_c is summed from the per-state
 * sums that compute_sample left in each sample's state_sums array
 * (state_log_sums), in logarithms, so that it is exact however small the
 * posteriors are. counts is [C] of scratch. One thread visits the samples
 * in order, so the result does not depend on the thread count. With
 * rows set (alpha from the rows), the sums are alpha_row_sums's, one per
 * class of each sample, with the classes in its list (in the array of
 * each sample's scratch_b). Returns the least log V_c of the classes
 * with a share of the targets (numerator above 0), -inf where one has
 * V_c = 0, +inf if none, for alpha_rows_scales's check. */
static double
alpha_log_scales(const unsigned char *base, const size_t *ws_offset,
                 const int32_t *flat_labels, const int32_t *label_lengths,
                 const int32_t *input_lengths, const size_t *label_offset,
                 const unsigned char *state, size_t N, size_t C, int blank,
                 double alpha, int rows, double *log_scale, double *counts) {
    double label_total = 0.0, least = INFINITY;
    size_t n, c, s;
    int pass;
    /* log V_c = m_c + log sum exp(v - m_c) over the states of class c, with
     * m_c their maximum: pass 0 finds m_c (in log_scale), pass 1 sums (in
     * counts). */
    for (c = 0; c < C; ++c) {
        log_scale[c] = -INFINITY;
        counts[c] = 0.0;
    }
    for (pass = 0; pass < 2; ++pass) {
        for (n = 0; n < N; ++n) {
            ctcc_sample_layout lay;
            const int32_t *ext;
            const double *sums;
            size_t S;
            if (state[n] != SAMPLE_OK || input_lengths[n] == 0) {
                continue;
            }
            ctcc_sample_layout_compute(input_lengths[n], label_lengths[n],
                                       (int32_t)C, DP_SIZE, 1, &lay);
            ext = (const int32_t *)(base + ws_offset[n] + lay.ext_labels);
            sums = (const double *)(base + ws_offset[n] + lay.state_sums);
            S = 2 * (size_t)label_lengths[n] + 1;
            if (rows) {
                const int32_t *list =
                    (const int32_t *)(base + ws_offset[n] + lay.scratch_b);
                ext = list + 1;
                S = (size_t)list[0];
            }
            for (s = 0; s < S; ++s) {
                const double v = (double)sums[s];
                double *m = log_scale + ext[s];
                if (pass == 0) {
                    *m = v > *m ? v : *m;
                } else if (*m > -INFINITY) {
                    counts[ext[s]] += exp(v - *m);
                }
            }
        }
    }
    for (c = 0; c < C; ++c) {
        if (log_scale[c] > -INFINITY) {
            log_scale[c] += log(counts[c]);
        }
        counts[c] = 0.0;
    }
    for (n = 0; n < N; ++n) {
        int32_t i;
        if (state[n] != SAMPLE_OK) {
            continue;
        }
        for (i = 0; i < label_lengths[n]; ++i) {
            counts[flat_labels[label_offset[n] + (size_t)i]] += 1.0;
        }
        label_total += (double)label_lengths[n];
    }
    /* Eq. 15. log(alpha) + log(N_c) rather than log(alpha * N_c): alpha
     * may be subnormal. */
    for (c = 0; c < C; ++c) {
        const double share =
            (int)c == blank ? (1.0 - alpha) * label_total : alpha * counts[c];
        const double log_share =
            (int)c == blank ? log(share) : log(alpha) + log(counts[c]);
        if (share > 0.0) {
            /* (V_c = 0 here counts too: from the rows, V_c may have
             * underflowed.) */
            least = log_scale[c] < least ? log_scale[c] : least;
        }
        if (share > 0.0 && log_scale[c] > -INFINITY) {
            log_scale[c] = log_share - log_scale[c];
        } else {
            log_scale[c] = -INFINITY;
        }
    }
    return least;
}

/* Eq. 16 for one frame, from the log posteriors lp[lo, hi) of its states
 * (classes ext) rather than from the rounded posteriors: row[c] = the sum
 * over the states of class c of exp(lp[s] + log_scale[c]), divided by that
 * sum over all states. Every term is taken relative to the largest, so
 * the divisor is at least 1 and a posterior far below the smallest double
 * still counts. A frame in which every state has scale 0 or posterior 0
 * (0 / 0) keeps its posteriors. e is scratch for [lo, hi). */
static inline void alpha_frame(REAL *row, size_t C, const DP *lp,
                               const int32_t *ext, size_t lo, size_t hi,
                               int blank, const double *log_scale, DP *e) {
    DP top = NEG_INF;
    double z = 0.0, blank_sum = 0.0;
    size_t s;
    for (s = lo; s < hi; ++s) {
        e[s] = lp[s] + (DP)log_scale[ext[s]];
        top = e[s] > top ? e[s] : top;
    }
    if (top == NEG_INF) {
        return;
    }
#pragma omp simd reduction(+ : z)
    for (s = lo; s < hi; ++s) {
        e[s] = DP_EXP_NEG(e[s] - top);
        z += (double)e[s];
    }
    memset(row, 0, C * sizeof(REAL));
    for (s = lo + (lo & 1); s < hi; s += 2) {
        blank_sum += (double)e[s];
    }
    row[blank] = (REAL)(blank_sum / z);
    for (s = lo | 1; s < hi; s += 2) {
        row[ext[s]] += (REAL)((double)e[s] / z);
    }
}

/* The alpha modification from the posteriors the kernels write into the
 * rows (alpha_rows), for samples the scaled kernel computed: eq. 16 needs
 * only each class's posterior per frame, P_t(c), since its scale k_c is
 * the same for every state of c. What log posteriors add is precision
 * for posteriors that underflow, which eq. 15 can scale up; so the result
 * from the rows stands only where a bound shows that nothing lost to
 * underflow matters (alpha_rows_scales), and otherwise the batch is
 * recomputed from log posteriors, as with kernel = CTCC_KERNEL_LOG_SPACE.
 *
 * The bound. Every frame's posteriors of a sample are off by at most
 * eps_n in L1 (the scaled kernel's bound E, see linear_impl.h; 0 for a
 * sample the log-space kernel computed), and each class's value stored
 * in a row by at most REAL_LEAST besides (a result below the smallest
 * subnormal REAL rounds to 0), so by err_n = eps_n + K_n REAL_LEAST over
 * the sample's K_n classes; relative rounding aside, which stays relative
 * through eq. 15 and 16. Then
 *   - V_c (eq. 15's class sums) is off by at most the sum over samples of
 *     T_n err_n, which must be at most ALPHA_ROWS_ACCEPT / 2 of the least
 *     V_c of the classes with a share of the targets (a V_c of 0 among
 *     them fails): the scales are then within that relatively;
 *   - frame t's targets, e_c / D_t with e_c = P_t(c) k_c / k_top (k_top
 *     the largest scale among the sample's classes, so each factor is at
 *     most 1) and D_t the sum of the e_c, are off by at most 2 err_n /
 *     D_t in L1, which must be at most ALPHA_ROWS_ACCEPT.
 * Both hold with room to spare for trained and random outputs alike,
 * whose eps_n is about 2^-1000 or less; they fail where eq. 15 scales a
 * class whose posteriors lie near or below the underflow threshold by
 * the inverse of their size (an alpha of 1e-300, a blank class summing
 * to 1e-320), where the log posteriors are needed. */
#define ALPHA_ROWS_ACCEPT 0x1p-40
/* The passes after the kernel read each sample's rows a frame at a time,
 * a stride apart (N C elements in time-major layout): more than a page
 * for speech batches, where the hardware's prefetcher does not follow,
 * and the rows no longer in the cache since the kernel wrote them. So
 * they ask for the rows of the frame this far ahead, where a row is at
 * most MODIFY_PREFETCH_BYTES (larger ones are read in runs the
 * prefetcher follows). Measured on speech-long's shape, one thread:
 * docs/performance.md. */
#define MODIFY_AHEAD 6
#define MODIFY_PREFETCH_BYTES 1024
#define REAL_LEAST (sizeof(REAL) == sizeof(float) ? 0x1p-149 : 0x1p-1074)

/* Of one sample (S states of classes ext, T rows of posteriors post,
 * stride elements apart): its classes into list[1..K] (the blank, then
 * the label classes in the order they first appear), K into list[0], and
 * into sums[0..K) the log of each one's posterior summed over the frames.
 * list holds S + 1 int32, sums S doubles (K is at most (S + 1) / 2 + 1).
 * acc: NULL, or room for C doubles, where every class's sum is formed a
 * row at a time in vectors (the same sums, in the same order, as the
 * gathers of the classes alone, which serve large alphabets). */
static void alpha_row_sums(const REAL *post, size_t stride, size_t T, size_t C,
                           const int32_t *ext, size_t S, int32_t *list,
                           double *sums, double *acc) {
    int32_t *cls = list + 1;
    size_t s, i, t, K = 1;
    cls[0] = ext[0];
    for (s = 1; s < S; s += 2) {
        /* A label class seen before? (K is at most the alphabet.) */
        for (i = 1; i < K && cls[i] != ext[s]; ++i) {
        }
        if (i == K) {
            cls[K++] = ext[s];
        }
    }
    list[0] = (int32_t)K;
    if (acc != NULL) {
        size_t c;
        for (c = 0; c < C; ++c) {
            acc[c] = 0.0;
        }
        for (t = 0; t < T; ++t) {
            const REAL *row = post + t * stride;
            if (t + MODIFY_AHEAD < T &&
                C * sizeof(REAL) <= MODIFY_PREFETCH_BYTES) {
                prefetch_bytes(row + MODIFY_AHEAD * stride, C * sizeof(REAL),
                               PREFETCH_READ);
            }
#pragma omp simd
            for (c = 0; c < C; ++c) {
                acc[c] += (double)row[c];
            }
        }
        for (i = 0; i < K; ++i) {
            sums[i] = acc[cls[i]];
        }
    } else {
        for (i = 0; i < K; ++i) {
            sums[i] = 0.0;
        }
        for (t = 0; t < T; ++t) {
            const REAL *row = post + t * stride;
            for (i = 0; i < K; ++i) {
                sums[i] += (double)row[cls[i]];
            }
        }
    }
    for (i = 0; i < K; ++i) {
        sums[i] = sums[i] > 0.0 ? log(sums[i]) : -INFINITY;
    }
}

/* Eq. 16 for one frame from its row of class posteriors (alpha_row_sums's
 * list[1..K] gives the classes; factor[i] = k_c / k_top of the i-th):
 * row[c] = P(c) factor / D over the sample's classes. Returns 0, leaving
 * the row as it was, where 2 err exceeds ALPHA_ROWS_ACCEPT times D (D = 0
 * included: every posterior with a scale rounded away). e is scratch for
 * K values. */
static inline int alpha_frame_rows(REAL *row, const int32_t *list,
                                   const double *factor, double err,
                                   double *e) {
    const size_t K = (size_t)list[0];
    const int32_t *cls = list + 1;
    double z = 0.0;
    size_t i;
    for (i = 0; i < K; ++i) {
        e[i] = (double)row[cls[i]] * factor[i];
        z += e[i];
    }
    if (!(2.0 * err <= ALPHA_ROWS_ACCEPT * z)) {
        return 0;
    }
    for (i = 0; i < K; ++i) {
        row[cls[i]] = (REAL)(e[i] / z);
    }
    return 1;
}

/* For a logits frame (see largest_gain), over the classes but d: the
 * largest row[c] - y[c] into *w (at least 0), and the sums of y[c] and
 * row[c] into *rest_y and *rest_t. One branch-free loop over all C
 * classes, d's terms selected away, so that it runs in full vectors (two
 * loops around d left up to two partial vectors per frame to scalar
 * code: with gamma, a quarter of speech-long's time). */
#define GAIN_TERMS                                                             \
    const double t = (double)row[c];                                           \
    const int other = c != d;                                                  \
    const double g = other ? t - y : 0.0;                                      \
    m = g > m ? g : m;                                                         \
    sy += other ? y : 0.0;                                                     \
    st += other ? t : 0.0
CTCC_ALWAYS_INLINE void gain_others(const REAL *row, const REAL *x, size_t C,
                                    size_t d, DP shift, DP norm, const DP *pd,
                                    double *w, double *rest_y, double *rest_t) {
    double m = 0.0, sy = 0.0, st = 0.0;
    size_t c;
    if (pd != NULL) {
        /* The softmax from the kernel's class probabilities (see
         * modify_args.probs). */
        const double inv = 1.0 / (double)pd[C];
#pragma omp simd reduction(max : m) reduction(+ : sy, st)
        for (c = 0; c < C; ++c) {
            const double y = (double)pd[c] * inv;
            GAIN_TERMS;
        }
    } else {
#pragma omp simd reduction(max : m) reduction(+ : sy, st)
        for (c = 0; c < C; ++c) {
            const double y = (double)DP_EXP_NEG(((DP)x[c] - shift) - norm);
            GAIN_TERMS;
        }
    }
    *w = m;
    *rest_y = sy;
    *rest_t = st;
}
#undef GAIN_TERMS

/* The first class at the frame's maximum (x holds no NaN here: a sample
 * with one is not modified): the maximum in vectors, then its place. */
CTCC_ALWAYS_INLINE size_t first_max_class(const REAL *x, size_t C) {
    REAL m = x[0];
    size_t c;
#pragma omp simd reduction(max : m)
    for (c = 1; c < C; ++c) {
        m = x[c] > m ? x[c] : m;
    }
    for (c = 0; c + 1 < C && x[c] != m; ++c) {
    }
    return c;
}

/* The gain of eq. 18, max(0, max_c (row[c] - y[c])), of the targets row
 * over the model's probabilities y: the softmax (logits; shift and norm
 * are the frame's log_normaliser parts) or exp (log-probabilities) of the
 * input frame x. For the class d the model rates highest, row[d] and y[d]
 * can both be close to 1, and row[d] - y[d] would cancel to rounding
 * noise: its gain is taken as (1 - y[d]) - (1 - row[d]), each from the
 * other classes (a row of targets and a softmax sum to 1; 1 - exp(x[d]) is
 * -expm1(x[d])), which keeps a small gain to its relative precision.
 * pd: NULL, or the frame's class probabilities and their sum (logits). */
CTCC_ALWAYS_INLINE double largest_gain(const REAL *row, const REAL *x, size_t C,
                                       DP shift, DP norm, const DP *pd,
                                       int log_probs) {
    double w = 0.0, rest_y = 0.0, rest_t = 0.0, gain_d;
    const size_t d = first_max_class(x, C);
    size_t c;
    if (log_probs) {
        for (c = 0; c < C; ++c) {
            const double y = exp((double)x[c]);
            const double g = c == d ? 0.0 : (double)row[c] - y;
            w = g > w ? g : w;
            rest_t += c == d ? 0.0 : (double)row[c];
        }
        gain_d = -expm1((double)x[d]) - rest_t;
        return gain_d > w ? gain_d : w;
    }
    gain_others(row, x, C, d, shift, norm, pd, &w, &rest_y, &rest_t);
    gain_d = rest_y - rest_t;
    return gain_d > w ? gain_d : w;
}

/* g = w * (y - row) (logits) or -w * row (log-probabilities); g may be
 * row itself. pd: as for largest_gain. */
static inline void weighted_gradient(REAL *g, const REAL *row, const REAL *x,
                                     size_t C, DP shift, DP norm, const DP *pd,
                                     double w, int log_probs) {
    size_t c;
    if (log_probs) {
#pragma omp simd
        for (c = 0; c < C; ++c) {
            g[c] = (REAL)(-w * (double)row[c]);
        }
        return;
    }
    if (pd != NULL) {
        /* The softmax as the plain gradient has it (lin_class_scale). */
        const DP inv = (DP)(1.0 / (double)pd[C]);
#pragma omp simd
        for (c = 0; c < C; ++c) {
            const double y = (double)(REAL)(pd[c] * inv);
            g[c] = (REAL)(w * (y - (double)row[c]));
        }
        return;
    }
#pragma omp simd
    for (c = 0; c < C; ++c) {
        const double y =
            (double)REAL_EXP_NEG((REAL)(((DP)x[c] - shift) - norm));
        g[c] = (REAL)(w * (y - (double)row[c]));
    }
}

/* One good sample's part of the alpha / gamma pass. */
typedef struct modify_args {
    const REAL *input;   /* frame 0 of the sample */
    REAL *targets;       /* its posteriors, turned into its targets */
    REAL *grad;          /* its gradient (may equal targets), or NULL */
    size_t stride;       /* elements between consecutive frames */
    size_t alphabet;     /* C */
    size_t time;         /* T, its input length */
    int log_probs;       /* the input kind */
    const DP *log_norm;  /* [T], the kernel's log_normaliser parts */
    const DP *frame_max; /* [T] */
    /* NULL, or (logits, a sample the scaled kernel computed with C <= S)
     * its class probabilities, [T] rows of C + 1 (exp(x - max) of each
     * class and their sum: linear_impl.h's class_probs), from which the
     * softmax is read instead of computed again; log_norm is then not
     * kept. */
    const DP *probs;
    /* alpha (log_scale not NULL): log_scale [C] from alpha_log_scales,
     * the log posteriors of the S states at [T] rows of stride SP (the
     * alpha table after keep_log), their classes ext, and S entries of
     * scratch. */
    const double *log_scale;
    const DP *log_post;
    const int32_t *ext;
    size_t states, row_stride;
    int blank;
    DP *scratch;
    /* alpha from the rows instead (first not NULL): alpha_row_sums's
     * list, each of those classes' k_c / k_top in factor, the sample's
     * err_n (see alpha_frame_rows); factor NULL where no class of the
     * sample has a finite scale (its posteriors are kept). */
    const int32_t *first;
    const double *factor;
    double err;
    double gamma;
    double *weight; /* [T], receives the frame weights */
} modify_args;

/* Applies alpha and gamma to one good sample: turns its posteriors into
 * the modified targets, writes its gradient (when m->grad is not NULL)
 * and its frame weights. Returns 0 where alpha from the rows fails its
 * bound (the sample's rows are then partly modified), else 1. */
CTCC_DISPATCH
static int modify_sample(const modify_args *m) {
    const size_t T = m->time, C = m->alphabet;
    double top = 0.0, total = 0.0;
    size_t t;
    const int ahead = C * sizeof(REAL) <= MODIFY_PREFETCH_BYTES;
    for (t = 0; t < T; ++t) {
        REAL *row = m->targets + t * m->stride;
        if (ahead && t + MODIFY_AHEAD < T) {
            const size_t at = (t + MODIFY_AHEAD) * m->stride;
            prefetch_bytes(m->targets + at, C * sizeof(REAL), PREFETCH_WRITE);
            if (m->gamma != 0.0) {
                prefetch_bytes(m->input + at, C * sizeof(REAL), PREFETCH_READ);
            }
        }
        if (m->first != NULL) {
            if (m->factor != NULL &&
                !alpha_frame_rows(row, m->first, m->factor, m->err,
                                  (double *)m->scratch)) {
                return 0;
            }
        } else if (m->log_scale != NULL) {
            alpha_frame(row, C, m->log_post + t * m->row_stride + CTCC_ROW_PAD,
                        m->ext, ctcc_band_lo(m->states, T, t),
                        ctcc_band_hi(m->states, t), m->blank, m->log_scale,
                        m->scratch);
        }
        if (m->gamma != 0.0) {
            /* Eq. 18: the largest gain of any class over the output. */
            m->weight[t] = largest_gain(
                row, m->input + t * m->stride, C,
                m->log_probs || m->probs != NULL ? (DP)0 : m->frame_max[t],
                m->log_probs || m->probs != NULL ? (DP)0 : m->log_norm[t],
                m->probs != NULL ? m->probs + t * (C + 1) : NULL, m->log_probs);
            top = m->weight[t] > top ? m->weight[t] : top;
        } else {
            m->weight[t] = 1.0;
        }
    }
    if (m->gamma != 0.0) {
        /* w^gamma / mean(w^gamma) does not depend on the scale of w: it is
         * computed as (w / max w)^gamma over the mean of those. Each ratio
         * is at most 1 and the largest is 1, so no power overflows and the
         * total, at least 1, never underflows, however large gamma is and
         * however small the gains. A sample whose gains are all 0 keeps
         * weight 0. */
        for (t = 0; t < T; ++t) {
            m->weight[t] = top > 0.0 ? pow(m->weight[t] / top, m->gamma) : 0.0;
            total += m->weight[t];
        }
        for (t = 0; t < T; ++t) {
            m->weight[t] = top > 0.0 ? m->weight[t] / total * (double)T : 0.0;
        }
    }
    if (m->grad == NULL) {
        return 1;
    }
    for (t = 0; t < T; ++t) {
        if (ahead && t + MODIFY_AHEAD < T) {
            const size_t at = (t + MODIFY_AHEAD) * m->stride;
            if (m->grad != m->targets) {
                prefetch_bytes(m->grad + at, C * sizeof(REAL), PREFETCH_WRITE);
            }
            if (m->probs == NULL && !m->log_probs) {
                prefetch_bytes(m->input + at, C * sizeof(REAL), PREFETCH_READ);
            }
        }
        weighted_gradient(m->grad + t * m->stride, m->targets + t * m->stride,
                          m->input + t * m->stride, C,
                          m->log_probs || m->probs != NULL ? (DP)0
                                                           : m->frame_max[t],
                          m->log_probs || m->probs != NULL ? (DP)0
                                                           : m->log_norm[t],
                          m->probs != NULL ? m->probs + t * (C + 1) : NULL,
                          m->weight[t], m->log_probs);
    }
    return 1;
}

#include "linear_impl.h"
#include "log_split_impl.h"

/* The batch as the kernels see it: what every sample's arguments are
 * built from. */
typedef struct batch_args {
    const REAL *inputs;
    REAL *grad, *post; /* what the kernels write: NULL, or [T, N, C] */
    const int32_t *flat_labels, *label_lengths, *input_lengths;
    size_t N, C, T;
    const size_t *ws_offset, *label_offset;
    /* Where each sample's table and class probabilities are (offsets from
     * base): its own region's, unless lend_tables lends it another's. */
    size_t *table_at, *probs_at;
    unsigned char *base, *state;
    const ctcc_resolved_options *opts;
    int keep_log;   /* the alpha modification's log posteriors */
    int use_linear; /* the scaled kernel may run */
    int modify;     /* the alpha or gamma modification follows */
    /* The alpha modification from the posteriors the kernels write, with
     * each sample's error bound kept for its check (alpha_rows_scales);
     * keep_log is then 0. */
    int alpha_rows;
    /* The threads' stage rows (see CTCC_STAGE_MIN_CLASSES): thread i's at
     * stage_base + i stage_bytes for i < stages. */
    unsigned char *stage_base;
    size_t stage_bytes;
    int stages;
} batch_args;

static void sample_at(const batch_args *b, size_t n, sample_args *a) {
    const int tm = b->opts->layout == CTCC_LAYOUT_TIME_MAJOR;
    const size_t first = tm ? n * b->C : n * b->T * b->C;
    a->frame_stride = tm ? b->N * b->C : b->C;
    a->input = b->inputs + first;
    a->grad = b->grad != NULL ? b->grad + first : NULL;
    a->post = b->post != NULL ? b->post + first : NULL;
    a->alphabet = b->C;
    a->max_time = b->T;
    a->time = (size_t)b->input_lengths[n];
    a->labels =
        b->flat_labels != NULL ? b->flat_labels + b->label_offset[n] : NULL;
    a->label_length = (size_t)b->label_lengths[n];
    a->blank = b->opts->blank;
    a->log_probs = b->opts->input_kind == CTCC_INPUT_LOG_PROBS;
    a->zero_infinity = b->opts->zero_infinity;
    a->workspace = b->base + b->ws_offset[n];
    a->table = b->base + b->table_at[n];
    a->class_probs = b->base + b->probs_at[n];
    a->state = b->state + n;
    a->keep_log = b->keep_log;
    a->stage = NULL;
    if (a->grad != NULL && b->stages > 0) {
        const int i = ctcc_thread_num();
        if (i < b->stages) {
            /* Its two rows, each half of stage_bytes. */
            unsigned char *at = b->stage_base + (size_t)i * b->stage_bytes;
            a->stage_rows.rows[0] = (float *)(void *)at;
            a->stage_rows.rows[1] = (float *)(void *)(at + b->stage_bytes / 2);
            a->stage_rows.from = NULL;
            a->stage = &a->stage_rows;
        }
    }
}

/* The linear path's view of sample a (the same workspace region). */
static void lin_sample_at(const sample_args *a, lin_sample *q) {
    ctcc_sample_layout lay;
    unsigned char *w = a->workspace;
    q->with_grad = a->grad != NULL || a->post != NULL;
    ctcc_sample_layout_compute((int32_t)a->time, (int32_t)a->label_length,
                               (int32_t)a->alphabet, DP_SIZE, q->with_grad,
                               &lay);
    q->input = a->input;
    q->grad = a->grad;
    q->post = a->post;
    q->stage = a->stage;
    q->stride = a->frame_stride;
    q->C = a->alphabet;
    q->T = a->time;
    q->S = 2 * a->label_length + 1;
    q->SP = q->S + 2 * CTCC_ROW_PAD;
    q->m = (q->T + 1) / 2;
    q->log_probs = a->log_probs;
    q->blank = a->blank;
    q->ext = (const int32_t *)(w + lay.ext_labels);
    q->labels = a->labels;
    q->kmask = (const DP *)(w + lay.skip) + CTCC_ROW_PAD;
    q->table = (DP *)a->table;
    q->rows_f = (DP *)(w + lay.beta);
    q->rows_b = q->with_grad ? (DP *)(w + lay.rows_b) : q->table;
    q->mid_beta = (DP *)(w + lay.mid_beta);
    q->emit_f = (DP *)(w + lay.emit);
    q->emit_b = (DP *)(w + lay.emit_b);
    q->scratch_f = (DP *)(w + lay.posterior);
    q->scratch_b = (DP *)(w + lay.scratch_b);
    q->shift = (DP *)(w + lay.frame_max);
    q->norm = (DP *)(w + lay.log_norm);
    q->flags = (double *)(w + lay.weight);
    q->dir = (lin_dir *)(w + lay.lin_state);
    /* The layout's condition for the array: phase 1 keeps each frame's
     * class probabilities there for phase 2. */
    q->class_probs = q->with_grad && q->C <= q->S ? (DP *)a->class_probs : NULL;
    q->err_f = !q->with_grad && q->T >= CTCC_TILT_MIN_FRAMES
                   ? (DP *)(w + lay.err_rows)
                   : NULL;
    q->err_b = q->err_f != NULL ? q->err_f + 2 * q->SP : NULL;
    q->emit_err = q->err_f != NULL ? q->err_f + 4 * q->SP : NULL;
    q->wins = q->with_grad ? (uint32_t *)(w + lay.windows) : NULL;
#if CTCC_HAVE_AVX512_PATH
    q->blocks = ctcc_have_avx512();
    q->permute = q->C <= LIN_PERMUTE_CLASSES && q->blocks;
#else
    q->blocks = 0;
    q->permute = 0;
#endif
}

/* Which kernel computes a sample, as lin_prepare decides, and what is
 * left of it between run_split's loops (dir[0].linear). */
enum {
    ROUTE_WHOLE = 0,    /* compute_sample, in one piece (done in run_split) */
    ROUTE_SCALED = 1,   /* the scaled kernel (its phase 1) */
    ROUTE_SCALED_2 = 2, /* the scaled kernel's phase 2 */
    ROUTE_LOG = 3,      /* the log-space tasks of log_split_impl.h */
    ROUTE_LOG_2 = 4     /* their phase 2 */
};

/* Prepares sample n for the split kernels (the scaled one, or its
 * log-space tasks with kernel = CTCC_KERNEL_LOG_SPACE): its states, masks
 * and the frames past its length. Returns ROUTE_SCALED or ROUTE_LOG, or
 * ROUTE_WHOLE (and leaves the sample alone) when compute_sample must
 * compute it: the sample has no alignment or no frames (decided there at
 * no cost), or the log-space kernel must keep the alpha modification's
 * log posteriors. */
static int lin_prepare(const batch_args *b, size_t n) {
    sample_args a;
    lin_sample q;
    ctcc_sample_layout lay;
    size_t repeats;
    sample_at(b, n, &a);
    if (a.time == 0 || (!b->use_linear && b->keep_log)) {
        return ROUTE_WHOLE;
    }
    lin_sample_at(&a, &q);
    ctcc_sample_layout_compute((int32_t)a.time, (int32_t)a.label_length,
                               (int32_t)a.alphabet, DP_SIZE, q.with_grad, &lay);
    repeats = build_states(&a, (int32_t *)(a.workspace + lay.ext_labels),
                           (DP *)(a.workspace + lay.skip) + CTCC_ROW_PAD,
                           (DP *)(a.workspace + lay.skip) + CTCC_ROW_PAD);
    if (a.time < a.label_length + repeats) {
        return ROUTE_WHOLE;
    }
    if (a.grad != NULL) {
        zero_frames(a.grad, a.frame_stride, a.alphabet, a.time, a.max_time);
    }
    if (a.post != NULL) {
        zero_frames(a.post, a.frame_stride, a.alphabet, a.time, a.max_time);
    }
    if (!b->use_linear) {
        return ROUTE_LOG;
    }
    {
        /* The scaled kernel's tilt (linear_impl.h): x, and x^2 in the skip
         * factors (the log-space tasks, should the sample fall back, only
         * test them for > 0). Without the gradient x = 1: the loss-only
         * bound could not tell a tilted row's flagged entries from those
         * that matter (see lin_tilt_log2); with it, short samples start
         * untilted too (CTCC_TILT_FIRST_FRAMES). */
        const int k = q.with_grad && q.T >= CTCC_TILT_FIRST_FRAMES
                          ? lin_tilt_log2(&q)
                          : 0;
        DP *kmask = (DP *)(a.workspace + lay.skip) + CTCC_ROW_PAD;
        const DP x2 = (DP)ldexp(1.0, 2 * k);
        size_t s;
        q.dir[0].tilt_log2 = k;
        q.dir[0].tilt = ldexp(1.0, k);
        for (s = 3; s < q.S; s += 2) {
            kmask[s] *= x2;
        }
    }
    return ROUTE_SCALED;
}

/* After sample n's first scaled attempt failed its bound: returns 1 with
 * a second attempt set up, 0 when only the log-space kernel is left. The
 * second attempt undoes a tilt, or tilts an untilted sample (from
 * CTCC_TILT_MIN_FRAMES frames on, where lin_tilt_log2 picks x < 1). With
 * the gradient, samples of CTCC_TILT_FIRST_FRAMES frames or more start
 * tilted (lin_prepare): a tilt chosen for the whole sample can fail one
 * whose labels come at different speeds, which the untilted kernel then
 * serves; shorter ones start untilted. Without the gradient every sample
 * starts untilted, with the crude bound, and the tilted second attempt
 * tracks each entry's error instead (lin_tracks_errors): what long random
 * outputs need. The attempts are the same on any thread count, so the
 * results stay the same to the bit. */
static int lin_second_attempt(const batch_args *b, size_t n) {
    sample_args a;
    lin_sample q;
    ctcc_sample_layout lay;
    DP *kmask, x2;
    size_t s;
    int k = 0;
    sample_at(b, n, &a);
    lin_sample_at(&a, &q);
    if (q.dir[0].tilt_log2 == 0) {
        if (!q.with_grad && q.err_f == NULL) {
            return 0;
        }
        k = lin_tilt_log2(&q);
        if (k == 0) {
            return 0;
        }
    }
    ctcc_sample_layout_compute((int32_t)a.time, (int32_t)a.label_length,
                               (int32_t)a.alphabet, DP_SIZE, q.with_grad, &lay);
    kmask = (DP *)(a.workspace + lay.skip) + CTCC_ROW_PAD;
    x2 = (DP)ldexp(1.0, 2 * k);
    for (s = 3; s < q.S; s += 2) {
        kmask[s] = kmask[s] > 0 ? x2 : (DP)0;
    }
    q.dir[0].tilt_log2 = k;
    q.dir[0].tilt = ldexp(1.0, k);
    return 1;
}

/* What the two tasks of sample n leave for each other ([2]). */
static lin_dir *lin_state_of(const batch_args *b, size_t n) {
    sample_args a;
    lin_sample q;
    sample_at(b, n, &a);
    lin_sample_at(&a, &q);
    return q.dir;
}

/* One of the two tasks of a phase of sample n (task 0: frames below the
 * meeting frame, 1: above), of the scaled kernel or (log_space) of its
 * log-space fallback. */
static void sample_task(const batch_args *b, size_t n, int log_space, int phase,
                        int task) {
    typedef void (*task_fn)(const lin_sample *);
    static const task_fn tasks[2][2][2] = {
        {{lin_forward, lin_backward}, {lin_lower_half, lin_upper_half}},
        {{log_forward, log_backward}, {log_lower_half, log_upper_half}}};
    sample_args a;
    lin_sample q;
    sample_at(b, n, &a);
    lin_sample_at(&a, &q);
    if (!log_space && q.with_grad) {
        /* The gradient's bound charges every entry for a flush (see the
         * top of linear_impl.h); the log-space tasks run as they are. */
        const unsigned saved = ctcc_ftz_begin();
        tasks[0][phase == 2][task != 0](&q);
        ctcc_ftz_end(saved);
    } else {
        tasks[log_space != 0][phase == 2][task != 0](&q);
    }
    if (q.stage != NULL && phase == 1) {
        stage_flush(q.stage);
        ctcc_store_fence();
    }
}

/* Between the phases of the scaled kernel or (log_space) of the
 * log-space tasks: log P, and whether phase 2 runs. */
static int sample_meet(const batch_args *b, size_t n, int log_space) {
    sample_args a;
    lin_sample q;
    sample_at(b, n, &a);
    lin_sample_at(&a, &q);
    q.dir[0].log_p = log_space ? log_join(&q) : lin_join(&q);
    return q.with_grad && q.dir[0].log_p == q.dir[0].log_p;
}

/* The end of sample n's scaled attempt: returns 1, with its cost in
 * *cost, when the bound holds (or when the alpha modification has sent the
 * sample to compute_sample), 0 when the log-space fallback must recompute
 * it. */
static int lin_settle(const batch_args *b, size_t n, REAL *cost) {
    sample_args a;
    lin_sample q;
    int ok;
    sample_at(b, n, &a);
    lin_sample_at(&a, &q);
    /* A number from the meeting frame, then a bound that holds: the
     * loss-only one from lin_join, or phase 2's for both halves. */
    ok = q.dir[0].log_p == q.dir[0].log_p &&
         q.dir[0].bound + q.dir[1].bound <= LIN_ACCEPT;
    if (ok && q.with_grad) {
        ok = !q.dir[0].bad && !q.dir[1].bad;
    }
#ifdef CTCC_TEST_NO_FALLBACK
    /* Test builds only: keep the scaled result whatever the bound says, to
     * show that the adversarial tests defeat the scaled kernel. */
    ok = 1;
#endif
    if (b->opts->kernel_used != NULL) {
        b->opts->kernel_used[n] = ok && !b->keep_log
                                      ? CTCC_KERNEL_USED_SCALED
                                      : CTCC_KERNEL_USED_LOG_SPACE;
    }
    if (ok && b->keep_log) {
        /* The alpha modification reads log posteriors, which only the
         * log-space kernel keeps: it recomputes them, and the cost stays
         * the scaled kernel's, so that the modification leaves the costs
         * of a plain call unchanged to the bit. */
        (void)compute_sample(&a);
        *cost = (REAL)(-q.dir[0].log_p);
        return 1;
    }
    if (ok) {
        *a.state = SAMPLE_OK;
        *cost = (REAL)(-q.dir[0].log_p);
        if (b->modify) {
            /* For the modifications (modify_batch): the sample is the
             * scaled kernel's, with the bound on every frame's posteriors
             * (alpha's check); flags (the weight array) are free once
             * the bound is summed. */
            q.flags[0] = q.dir[0].bound + q.dir[1].bound;
        }
        return 1;
    }
    if (b->keep_log) {
        *cost = compute_sample(&a);
        return 1;
    }
    return 0;
}

/* The end of the log-space fallback of sample n: its cost, or
 * compute_sample's where phase 1 gave up (see log_split_impl.h). */
static REAL log_finish(const batch_args *b, size_t n) {
    sample_args a;
    lin_sample q;
    sample_at(b, n, &a);
    lin_sample_at(&a, &q);
    if (b->modify && q.with_grad) {
        /* The log-space kernel's: posteriors without underflow, and the
         * log normalisers (see lin_settle). */
        q.flags[0] = -1.0;
    }
    if (q.dir[0].log_p == q.dir[0].log_p) {
        *a.state = SAMPLE_OK;
        return (REAL)(-q.dir[0].log_p);
    }
    return compute_sample(&a);
}

/* Sample n's route (lin_prepare), reported in kernel_used unless the
 * scaled kernel's bound is still to decide. */
static int prepare_sample(const batch_args *b, size_t n) {
    const int route = lin_prepare(b, n);
    if (route != ROUTE_SCALED && b->opts->kernel_used != NULL) {
        b->opts->kernel_used[n] = CTCC_KERNEL_USED_LOG_SPACE;
    }
    return route;
}

/* Sample n in one piece (ROUTE_WHOLE). */
static REAL whole_sample(const batch_args *b, size_t n) {
    sample_args a;
    REAL cost;
    sample_at(b, n, &a);
    cost = compute_sample(&a);
    if (a.stage != NULL) {
        ctcc_store_fence();
    }
    return cost;
}

/* The scaled kernel's phases for sample n in turn; returns 1 with its
 * cost in *cost when its result stands (lin_settle). */
static int scaled_sample(const batch_args *b, size_t n, REAL *cost) {
    sample_task(b, n, 0, 1, 0);
    sample_task(b, n, 0, 1, 1);
    if (sample_meet(b, n, 0)) {
        sample_args a;
        lin_sample q;
        sample_task(b, n, 0, 2, 0);
        sample_at(b, n, &a);
        lin_sample_at(&a, &q);
#ifndef CTCC_TEST_NO_FALLBACK
        if (q.dir[0].bad) {
            q.dir[1].bad = 1; /* the sample falls back whatever the rest */
        } else
#endif
        {
            sample_task(b, n, 0, 2, 1);
        }
    }
    return lin_settle(b, n, cost);
}

/* Sample n from start to end on the calling thread. */
static REAL run_sample(const batch_args *b, size_t n) {
    const int route = prepare_sample(b, n);
    REAL cost;
    if (route == ROUTE_WHOLE) {
        return whole_sample(b, n);
    }
    if (route == ROUTE_SCALED &&
        (scaled_sample(b, n, &cost) ||
         (lin_second_attempt(b, n) && scaled_sample(b, n, &cost)))) {
        return cost;
    }
    /* The log-space kernel (or fallback), its tasks in turn. */
    sample_task(b, n, 1, 1, 0);
    sample_task(b, n, 1, 1, 1);
    if (sample_meet(b, n, 1)) {
        sample_task(b, n, 1, 2, 0);
        sample_task(b, n, 1, 2, 1);
    }
    return log_finish(b, n);
}

/* The region whose table and class probabilities a thread lends to the
 * next samples it runs: those of a sample it finished (none while owner
 * is 0), with their capacities in bytes. */
typedef struct table_home {
    size_t owner; /* 1 + the sample, or 0 */
    size_t table_bytes, probs_bytes;
} table_home;

/* Before sample n runs on this thread: a batch larger than the last level
 * cache would stream every sample's table (T rows, written by phase 1 and
 * read back by phase 2) through memory; the table of a sample the thread
 * finished is still in its cache, so n takes that one when it is large
 * enough. Otherwise n keeps its own, which becomes the thread's home when
 * it is the larger. Only the memory changes: the results do not. */
static void lend_tables(const batch_args *b, size_t n, table_home *home) {
    ctcc_sample_layout lay;
    size_t table_bytes, probs_bytes;
    ctcc_sample_layout_compute(b->input_lengths[n], b->label_lengths[n],
                               (int32_t)b->C, DP_SIZE, 1, &lay);
    table_bytes = lay.log_norm - lay.alpha;
    probs_bytes = lay.total - lay.class_probs;
    if (home->owner != 0 && home->table_bytes >= table_bytes &&
        home->probs_bytes >= probs_bytes) {
        b->table_at[n] = b->table_at[home->owner - 1];
        b->probs_at[n] = b->probs_at[home->owner - 1];
    } else if (home->owner == 0 || table_bytes >= home->table_bytes) {
        home->owner = n + 1;
        home->table_bytes = table_bytes;
        home->probs_bytes = probs_bytes;
    }
}

/* Both phases of one kernel for the samples at `route` (ROUTE_SCALED, or
 * ROUTE_LOG for the log-space tasks), the two tasks of each phase side by
 * side: phase 1, the meeting (route + 1 where phase 2 runs), phase 2. */
static void run_split_phases(const batch_args *b, int threads, int route) {
    const int N = (int)b->N, log_space = route == ROUTE_LOG;
    int n, i;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (i = 0; i < 2 * N; ++i) {
        if (lin_state_of(b, (size_t)(i / 2))->linear == route) {
            sample_task(b, (size_t)(i / 2), log_space, 1, i & 1);
        }
    }
    for (n = 0; n < N; ++n) {
        lin_dir *d = lin_state_of(b, (size_t)n);
        if (d->linear == route) {
            d->linear = route + sample_meet(b, (size_t)n, log_space);
        }
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (i = 0; i < 2 * N; ++i) {
        if (lin_state_of(b, (size_t)(i / 2))->linear == route + 1) {
            sample_task(b, (size_t)(i / 2), log_space, 2, i & 1);
        }
    }
}

/* All samples, with the two tasks of each phase of a sample on two
 * threads: for batches smaller than the thread count. The arithmetic is
 * run_sample's, in another order. */
static void run_split(const batch_args *b, int threads, REAL *costs) {
    const int N = (int)b->N;
    int n, retry;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < N; ++n) {
        lin_dir *d = lin_state_of(b, (size_t)n);
        d->linear = prepare_sample(b, (size_t)n);
        if (d->linear == ROUTE_WHOLE) {
            costs[n] = whole_sample(b, (size_t)n);
        }
    }
    run_split_phases(b, threads, ROUTE_SCALED);
    /* The samples whose bound fails get a second attempt where there is
     * one (lin_second_attempt), then go to the log-space tasks, split the
     * same way. */
    for (retry = 0; retry < 2; ++retry) {
        int again = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)             \
    reduction(| : again)
#endif
        for (n = 0; n < N; ++n) {
            lin_dir *d = lin_state_of(b, (size_t)n);
            if (d->linear == ROUTE_SCALED || d->linear == ROUTE_SCALED_2) {
                if (lin_settle(b, (size_t)n, &costs[n])) {
                    d->linear = ROUTE_WHOLE;
                } else if (retry == 0 && lin_second_attempt(b, (size_t)n)) {
                    d->linear = ROUTE_SCALED;
                    again = 1;
                } else {
                    d->linear = ROUTE_LOG;
                }
            }
        }
        if (!again) {
            break;
        }
        run_split_phases(b, threads, ROUTE_SCALED);
    }
    run_split_phases(b, threads, ROUTE_LOG);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < N; ++n) {
        if (lin_state_of(b, (size_t)n)->linear >= ROUTE_LOG) {
            costs[n] = log_finish(b, (size_t)n);
        }
    }
}

/* Sample n's row sums for alpha from the rows (see ALPHA_ROWS_ACCEPT). */
static void alpha_rows_sample(const batch_args *b, size_t n) {
    const int tm = b->opts->layout == CTCC_LAYOUT_TIME_MAJOR;
    const size_t first = tm ? n * b->C : n * b->T * b->C;
    ctcc_sample_layout lay;
    unsigned char *region = b->base + b->ws_offset[n];
    const size_t S = 2 * (size_t)b->label_lengths[n] + 1;
    ctcc_sample_layout_compute(b->input_lengths[n], b->label_lengths[n],
                               (int32_t)b->C, DP_SIZE, 1, &lay);
    /* The sample's table (its own: none is lent with a modification) is
     * free after the kernel, and holds at least two rows of S. */
    alpha_row_sums(b->post + first, tm ? b->N * b->C : b->C,
                   (size_t)b->input_lengths[n], b->C,
                   (const int32_t *)(region + lay.ext_labels), S,
                   (int32_t *)(void *)(region + lay.scratch_b),
                   (double *)(void *)(region + lay.state_sums),
                   b->C <= S ? (double *)(void *)(b->base + b->table_at[n])
                             : NULL);
}

/* alpha from the rows (b->alpha_rows), after the kernels: each good
 * sample's class sums (alpha_row_sums), the scales into log_scale
 * (alpha_log_scales; counts is its scratch) and the check of the class
 * sums against what the samples' posteriors may have lost (see
 * ALPHA_ROWS_ACCEPT). Returns 0 when the batch needs log posteriors. */
static int alpha_rows_scales(const batch_args *b, int threads,
                             double *log_scale, double *counts) {
    const int N = (int)b->N;
    double lost = 0.0, least;
    int n;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < N; ++n) {
        if (b->state[n] == SAMPLE_OK && b->input_lengths[n] > 0) {
            alpha_rows_sample(b, (size_t)n);
        }
    }
    least =
        alpha_log_scales(b->base, b->ws_offset, b->flat_labels,
                         b->label_lengths, b->input_lengths, b->label_offset,
                         b->state, b->N, b->C, b->opts->blank, b->opts->alpha,
                         1, log_scale, counts);
    /* In order: the sum does not depend on the thread count. */
    for (n = 0; n < N; ++n) {
        ctcc_sample_layout lay;
        const unsigned char *region = b->base + b->ws_offset[n];
        if (b->state[n] != SAMPLE_OK || b->input_lengths[n] == 0) {
            continue;
        }
        ctcc_sample_layout_compute(b->input_lengths[n], b->label_lengths[n],
                                   (int32_t)b->C, DP_SIZE, 1, &lay);
        /* T_n err_n: the bound lin_settle (or log_finish) left in the
         * weight array, and the classes' underflow. */
        const double eps =
            ((const double *)(const void *)(region + lay.weight))[0];
        lost +=
            (double)b->input_lengths[n] *
            ((eps > 0.0 ? eps : 0.0) +
             REAL_LEAST *
                 ((const int32_t *)(const void *)(region + lay.scratch_b))[0]);
    }
    return lost == 0.0 || least == INFINITY ||
           log(2.0 * lost) <= log(ALPHA_ROWS_ACCEPT) + least;
}

/* The batch again from log posteriors, for the alpha modification: every
 * good sample through compute_sample, which keeps them (keep_log) and
 * rewrites its posteriors, with costs left as the first pass gave them
 * (the same, so that alpha never changes a loss). */
static void alpha_log_redo(batch_args *b, int threads) {
    const int N = (int)b->N;
    int n;
    (void)threads;
    b->keep_log = 1;
    b->alpha_rows = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (n = 0; n < N; ++n) {
        if (b->state[n] == SAMPLE_OK && b->input_lengths[n] > 0) {
            sample_args a;
            sample_at(b, (size_t)n, &a);
            (void)compute_sample(&a);
        }
    }
    if (b->opts->kernel_used != NULL) {
        memset(b->opts->kernel_used, CTCC_KERNEL_USED_LOG_SPACE, b->N);
    }
}

/* The alpha / gamma pass over the batch (the targets, gradients and frame
 * weights), and the frame weights alone without a modification. alpha
 * comes from log_scale and the log posteriors (b->keep_log), or from the
 * rows (b->alpha_rows). Returns how many samples failed alpha's bound
 * from the rows (their results are then incomplete). */
static int modify_batch(const batch_args *b, int threads, REAL *gradients,
                        REAL *frame_weights, const double *log_scale) {
    const ctcc_resolved_options *opts = b->opts;
    const size_t N = b->N, C = b->C, T = b->T;
    REAL *kernel_post = b->post;
    const int modify = b->modify, batch_size = (int)N;
    int n, failed = 0;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)             \
    reduction(+ : failed)
#endif
    for (n = 0; n < batch_size; ++n) {
        /* (In the kernel's order: see ctcc_spread_item.) */
        const size_t nn = ctcc_spread_item((size_t)n, (size_t)batch_size,
                                           (size_t)threads),
                     Tn = (size_t)b->input_lengths[nn];
        const int tm = opts->layout == CTCC_LAYOUT_TIME_MAJOR;
        const size_t first = tm ? nn * C : nn * T * C;
        const size_t stride = tm ? N * C : C;
        const size_t wstride = tm ? N : 1, wfirst = tm ? nn : nn * T;
        const unsigned char state = b->state[nn];
        unsigned char *region = b->base + b->ws_offset[nn];
        ctcc_sample_layout lay;
        double *weight;
        size_t t;
        ctcc_sample_layout_compute(b->input_lengths[nn], b->label_lengths[nn],
                                   (int32_t)C, DP_SIZE, 1, &lay);
        weight = (double *)(void *)(region + lay.weight);
        if (state == SAMPLE_OK && modify && kernel_post != NULL) {
            modify_args m;
            m.input = b->inputs + first;
            m.targets = kernel_post + first;
            m.grad = gradients != NULL && gradients != kernel_post
                         ? gradients + first
                         : (gradients != NULL ? kernel_post + first : NULL);
            m.stride = stride;
            m.alphabet = C;
            m.time = Tn;
            m.log_probs = opts->input_kind == CTCC_INPUT_LOG_PROBS;
            m.log_norm = (const DP *)(void *)(region + lay.log_norm);
            m.frame_max = (const DP *)(void *)(region + lay.frame_max);
            m.log_scale = opts->use_alpha ? log_scale : NULL;
            m.log_post = (const DP *)(void *)(region + lay.alpha);
            m.ext = (const int32_t *)(void *)(region + lay.ext_labels);
            m.states = 2 * (size_t)b->label_lengths[nn] + 1;
            m.row_stride = m.states + 2 * CTCC_ROW_PAD;
            m.blank = opts->blank;
            m.scratch = (DP *)(void *)(region + lay.posterior);
            m.first = NULL;
            m.factor = NULL;
            m.err = 0.0;
            /* weight[0]: what lin_settle or log_finish left, the bound
             * (>= 0) of a sample the scaled kernel computed or -1. */
            m.probs = !b->keep_log && !m.log_probs && Tn > 0 && C <= m.states &&
                              !(weight[0] < 0.0)
                          ? (const DP *)(void *)(b->base + b->probs_at[nn])
                          : NULL;
            if (b->alpha_rows && Tn > 0) {
                /* Each class's k_c / k_top, in the class sums' array,
                 * which alpha_log_scales has read. */
                const int32_t *list =
                    (const int32_t *)(void *)(region + lay.scratch_b);
                double *factor = (double *)(void *)(region + lay.state_sums);
                double top = -INFINITY;
                size_t i;
                for (i = 0; i < (size_t)list[0]; ++i) {
                    const double v = log_scale[list[1 + i]];
                    top = v > top ? v : top;
                }
                for (i = 0; top > -INFINITY && i < (size_t)list[0]; ++i) {
                    factor[i] = exp(log_scale[list[1 + i]] - top);
                }
                m.first = list;
                m.factor = top > -INFINITY ? factor : NULL;
                m.err = (weight[0] > 0.0 ? weight[0] : 0.0) +
                        REAL_LEAST * (double)list[0];
            }
            m.gamma = opts->gamma;
            m.weight = weight;
            if (!modify_sample(&m)) {
                ++failed;
                continue;
            }
            if (gradients != NULL && gradients != kernel_post) {
                zero_frames(gradients + first, stride, C, Tn, T);
            }
        } else if (modify && gradients != NULL && gradients != kernel_post) {
            /* The kernel left this sample's gradient untouched. */
            zero_frames(gradients + first, stride, C, 0, T);
            if (state == SAMPLE_NAN) {
                fill_frames(gradients + first, stride, C, Tn, (REAL)NAN);
            }
        }
        if (frame_weights != NULL) {
            for (t = 0; t < T; ++t) {
                REAL w = 0;
                if (t < Tn && state == SAMPLE_OK) {
                    w = modify ? (REAL)weight[t] : (REAL)1;
                } else if (t < Tn && state == SAMPLE_NAN) {
                    w = (REAL)NAN;
                }
                frame_weights[wfirst + t * wstride] = w;
            }
        }
    }
    return failed;
}

/* Both public entry points: the loss, and optionally the gradient, the
 * (modified) posteriors and the frame weights. */
static ctcc_status
run_batch(const REAL *inputs, REAL *gradients, REAL *posteriors,
          REAL *frame_weights, const int32_t *flat_labels,
          const int32_t *label_lengths, const int32_t *input_lengths,
          int32_t max_time, int32_t batch_size, int32_t alphabet_size,
          REAL *costs, void *workspace, size_t workspace_bytes,
          const ctcc_options *options) {
    ctcc_resolved_options opts;
    ctcc_status status;
    size_t needed, *ws_offset, *label_offset, *table_at, *probs_at;
    size_t regions_end = 0;
    unsigned char *base, *state;
    double *class_v, *class_n;
    int ok = 1, threads, n, modify, backward;
    REAL *kernel_grad, *kernel_post;
    batch_args b;
    const size_t N = (size_t)batch_size, C = (size_t)alphabet_size;
    const size_t T = (size_t)max_time;

    if (inputs == NULL || label_lengths == NULL || input_lengths == NULL ||
        costs == NULL || workspace == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    status = ctcc_check_labelled_batch(flat_labels, label_lengths,
                                       input_lengths, max_time, batch_size,
                                       alphabet_size, options, &opts);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    modify = opts.use_alpha || opts.gamma != 0.0;
    /* Modified frame weights need the targets of every frame, which live
     * in the posteriors or gradients array. */
    if (modify && frame_weights != NULL && gradients == NULL &&
        posteriors == NULL) {
        return CTCC_STATUS_NULL_POINTER;
    }
    backward = gradients != NULL || posteriors != NULL || frame_weights != NULL;
    status = ctcc_total_bytes(label_lengths, input_lengths, batch_size,
                              alphabet_size, opts.use_alpha ? alphabet_size : 0,
                              DP_SIZE, backward, &needed);
    if (status != CTCC_STATUS_SUCCESS) {
        return status;
    }
    if (workspace_bytes < needed) {
        return CTCC_STATUS_WORKSPACE_TOO_SMALL;
    }

    /* The kernel writes plain posteriors; with a modification they are
     * turned into targets and the gradient afterwards, in place when the
     * caller did not ask for the posteriors. */
    kernel_grad = modify ? NULL : gradients;
    kernel_post = modify && posteriors == NULL ? gradients : posteriors;

    /* Per-sample offsets into the workspace and into the labels. */
    base = ctcc_align_ptr(workspace);
    ws_offset = (size_t *)base;
    label_offset = ws_offset + batch_size;
    table_at = label_offset + batch_size;
    probs_at = table_at + batch_size;
    class_v = (double *)(probs_at + batch_size);
    class_n = class_v + (opts.use_alpha ? C : 0);
    state = (unsigned char *)(class_n + (opts.use_alpha ? C : 0));
    {
        size_t ws = ctcc_head_bytes(batch_size, CTCC_LOSS_HEAD_OFFSETS,
                                    opts.use_alpha ? alphabet_size : 0, &ok);
        size_t lab = 0;
        for (n = 0; n < batch_size; ++n) {
            ctcc_sample_layout lay;
            ctcc_sample_layout_compute(input_lengths[n], label_lengths[n],
                                       alphabet_size, DP_SIZE, backward, &lay);
            ws_offset[n] = ws;
            table_at[n] = ws + lay.alpha;
            probs_at[n] = ws + lay.class_probs;
            label_offset[n] = lab;
            ws += lay.total;
            lab += (size_t)label_lengths[n];
        }
        regions_end = ws;
    }

    threads = ctcc_thread_count(opts.num_threads, batch_size);
    {
        b.inputs = inputs;
        b.grad = kernel_grad;
        b.post = kernel_post;
        b.flat_labels = flat_labels;
        b.label_lengths = label_lengths;
        b.input_lengths = input_lengths;
        b.N = N;
        b.C = C;
        b.T = T;
        b.ws_offset = ws_offset;
        b.label_offset = label_offset;
        b.table_at = table_at;
        b.probs_at = probs_at;
        b.base = base;
        b.state = state;
        b.opts = &opts;
        /* The alpha modification reads the posteriors in the rows where
         * the scaled kernel may run (alpha_rows_scales), else the log
         * posteriors that the log-space kernel keeps. */
        b.alpha_rows = opts.use_alpha && kernel_post != NULL &&
                       opts.kernel == CTCC_KERNEL_AUTO;
        b.keep_log = opts.use_alpha && kernel_post != NULL && !b.alpha_rows;
        b.use_linear = opts.kernel == CTCC_KERNEL_AUTO;
        b.modify = modify;
        /* The stage rows after the regions: as many as the workspace
         * holds, up to what ctcc_workspace_size counts. */
        b.stage_base = base + regions_end;
        b.stage_bytes = ctcc_stage_bytes(alphabet_size, &ok);
        b.stages = 0;
        {
            const int most =
                ctcc_stage_count(opts.num_threads, batch_size, alphabet_size,
                                 sizeof(REAL) == sizeof(float),
                                 kernel_grad != NULL,
                                 opts.kernel == CTCC_KERNEL_LOG_SPACE);
            const size_t used =
                (size_t)(base - (unsigned char *)workspace) + regions_end;
            if (most > 0 && workspace_bytes > used) {
                const size_t room = (workspace_bytes - used) / b.stage_bytes;
                b.stages = room < (size_t)most ? (int)room : most;
            }
        }
        /* Up to two threads per sample when the batch is smaller than
         * the thread count. */
        const int wide =
            ctcc_thread_count(opts.num_threads, batch_size > INT32_MAX / 2
                                                    ? INT32_MAX
                                                    : 2 * batch_size);
        if (wide > batch_size) {
            run_split(&b, wide, costs);
        } else {
            /* Nothing reads a sample's table after its kernel but the
             * modifications (the alpha one's log posteriors). */
            const int lend = backward && !modify;
            int i;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
            {
                table_home home = {0, 0, 0};
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
                for (i = 0; i < batch_size; ++i) {
                    const size_t m =
                        ctcc_spread_item((size_t)i, (size_t)batch_size,
                                         (size_t)threads);
                    if (lend) {
                        lend_tables(&b, m, &home);
                    }
                    costs[m] = run_sample(&b, m);
                }
            }
        }
    }

    if (b.alpha_rows && !alpha_rows_scales(&b, threads, class_v, class_n)) {
        alpha_log_redo(&b, threads);
    }
    if (b.keep_log) {
        alpha_log_scales(base, ws_offset, flat_labels, label_lengths,
                         input_lengths, label_offset, state, N, C, opts.blank,
                         opts.alpha, 0, class_v, class_n);
    }

    if (frame_weights == NULL && !(modify && kernel_post != NULL)) {
        return CTCC_STATUS_SUCCESS;
    }
    if (modify_batch(&b, threads, gradients, frame_weights, class_v) != 0) {
        /* alpha from the rows failed its bound on some frame: the whole
         * batch from log posteriors (the scales couple the samples). */
        alpha_log_redo(&b, threads);
        alpha_log_scales(base, ws_offset, flat_labels, label_lengths,
                         input_lengths, label_offset, state, N, C, opts.blank,
                         opts.alpha, 0, class_v, class_n);
        (void)modify_batch(&b, threads, gradients, frame_weights, class_v);
    }
    return CTCC_STATUS_SUCCESS;
}

ctcc_status LOSS_NAME(const REAL *inputs, REAL *gradients,
                      const int32_t *flat_labels, const int32_t *label_lengths,
                      const int32_t *input_lengths, int32_t max_time,
                      int32_t batch_size, int32_t alphabet_size, REAL *costs,
                      void *workspace, size_t workspace_bytes,
                      const ctcc_options *options) {
    return run_batch(inputs, gradients, NULL, NULL, flat_labels, label_lengths,
                     input_lengths, max_time, batch_size, alphabet_size, costs,
                     workspace, workspace_bytes, options);
}

ctcc_status
POSTERIORS_NAME(const REAL *inputs, REAL *gradients, REAL *posteriors,
                REAL *frame_weights, const int32_t *flat_labels,
                const int32_t *label_lengths, const int32_t *input_lengths,
                int32_t max_time, int32_t batch_size, int32_t alphabet_size,
                REAL *costs, void *workspace, size_t workspace_bytes,
                const ctcc_options *options) {
    return run_batch(inputs, gradients, posteriors, frame_weights, flat_labels,
                     label_lengths, input_lengths, max_time, batch_size,
                     alphabet_size, costs, workspace, workspace_bytes, options);
}
