/*
 * test_align_checkpoint.c - ctcc's checkpointed forced alignment against
 * the full-memory Viterbi it replaced.
 *
 * ref_align below is the previous kernel (one byte of back-pointer per
 * state and frame, the whole T x S table kept), written out for one sample
 * of log-probabilities. The library must return bitwise the same frames,
 * spans and scores, in both precisions and layouts, for every thread
 * count, on random inputs, on quantised ones (many exact ties, where only
 * the tie-breaking rule decides), with -inf entries, with variable input
 * lengths, with stars (the reference scores a star as ctcc.h defines),
 * and on samples large enough to be split over threads and blocks.
 */
#include "ctcc.h"

#include "testing.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The full-memory Viterbi: lp [T][C] log-probabilities of one sample.
 * labels may hold CTCC_LABEL_STAR: a star takes the blank slot before the
 * next label (several in a row act as one, the first one holding it) and
 * emits max(lp[blank], max_c lp[c] + penalty) there, a tie reading as
 * blank; its frames read as star report CTCC_LABEL_STAR and make its span,
 * a star without one gets the empty span (e, e) at the end e of the entry
 * before it (0 for the first). */
static double ref_align(const double *lp, int T, int C, int blank,
                        const int32_t *labels, int L, double penalty,
                        int32_t *frames, int32_t *spans) {
    int *ext = (int *)xmalloc(sizeof(int) * (size_t)(2 * L + 1));
    int *origin = (int *)xmalloc(sizeof(int) * (size_t)(2 * L + 1));
    double *skip = (double *)xmalloc(sizeof(double) * (size_t)(2 * L + 1));
    double *prev = (double *)xmalloc(sizeof(double) * (size_t)(2 * L + 3));
    double *cur = (double *)xmalloc(sizeof(double) * (size_t)(2 * L + 3));
    double *emit = (double *)xmalloc(sizeof(double) * (size_t)(2 * L + 1));
    unsigned char *back =
        (unsigned char *)xmalloc((size_t)T * (size_t)(2 * L + 1) + 1);
    int s, t, i, repeats = 0, state, S = 1, M = 0;
    double score;
    /* ext[s]: the class of state s; for a blank slot -1 - (index of its
     * star) if it holds one. */
    ext[0] = blank;
    origin[0] = -1;
    for (i = 0; i < L; ++i) {
        if (labels[i] == CTCC_LABEL_STAR) {
            if (ext[S - 1] == blank) {
                ext[S - 1] = -1 - i;
            }
        } else {
            ext[S] = labels[i];
            origin[S] = i;
            ext[S + 1] = blank;
            S += 2;
            ++M;
        }
    }
    for (s = 0; s < S; ++s) {
        skip[s] = -INFINITY;
    }
    for (s = 3; s < S; s += 2) {
        if (ext[s] != ext[s - 2]) {
            skip[s] = 0;
        } else {
            ++repeats;
        }
    }
    for (s = 0; s < 2 * L; ++s) {
        spans[s] = -1;
    }
    for (t = 0; t < T; ++t) {
        frames[t] = -1;
    }
    score = -INFINITY;
    if (T >= M + repeats && T > 0) {
        for (t = 0; t < T; ++t) {
            const double *x = lp + (size_t)t * C;
            double best_c = -INFINITY;
            int c;
            for (c = 0; c < C; ++c) {
                best_c = x[c] > best_c ? x[c] : best_c;
            }
            for (s = 0; s < S; ++s) {
                if (ext[s] >= 0) {
                    emit[s] = x[ext[s]];
                } else {
                    const double star = best_c + penalty;
                    emit[s] = star > x[blank] ? star : x[blank];
                }
            }
            if (t == 0) {
                /* prev[s + 2] = delta(s); delta(-2), delta(-1) = -inf */
                for (s = 0; s < S + 2; ++s) {
                    prev[s] = -INFINITY;
                }
                prev[2] = emit[0];
                if (S > 1) {
                    prev[3] = emit[1];
                }
                continue;
            }
            cur[0] = cur[1] = -INFINITY;
            for (s = 0; s < S; ++s) {
                const double stay = prev[s + 2], step = prev[s + 1];
                const double jump = prev[s] + skip[s];
                double best = stay;
                unsigned char k = 0;
                if (step > best) {
                    best = step;
                    k = 1;
                }
                if (jump > best) {
                    best = jump;
                    k = 2;
                }
                cur[s + 2] = emit[s] + best;
                back[(size_t)t * S + s] = k;
            }
            memcpy(prev, cur, sizeof(double) * (size_t)(S + 2));
        }
        state = S - 1;
        score = prev[S + 1];
        if (S > 1 && prev[S] > score) {
            state = S - 2;
            score = prev[S];
        }
        if (score != -INFINITY) {
            for (t = T; t-- > 0;) {
                const double *x = lp + (size_t)t * C;
                int32_t *sp = NULL;
                if (state & 1) {
                    frames[t] = ext[state];
                    sp = spans + 2 * origin[state];
                } else {
                    frames[t] = blank;
                    if (ext[state] < 0) {
                        double best_c = -INFINITY;
                        int c;
                        for (c = 0; c < C; ++c) {
                            best_c = x[c] > best_c ? x[c] : best_c;
                        }
                        if (best_c + penalty > x[blank]) {
                            frames[t] = CTCC_LABEL_STAR;
                            sp = spans + 2 * (-1 - ext[state]);
                        }
                    }
                }
                if (sp != NULL) {
                    if (sp[1] < 0) {
                        sp[1] = t + 1;
                    }
                    sp[0] = t;
                }
                if (t > 0) {
                    state -= back[(size_t)t * S + state];
                }
            }
            {
                int32_t e = 0;
                for (i = 0; i < L; ++i) {
                    if (labels[i] == CTCC_LABEL_STAR && spans[2 * i + 1] < 0) {
                        spans[2 * i] = spans[2 * i + 1] = e;
                    }
                    e = spans[2 * i + 1];
                }
            }
        } else {
            for (s = 0; s < 2 * L; ++s) {
                spans[s] = -1;
            }
        }
    } else if (T == 0 && M == 0) {
        score = 0.0;
        for (i = 0; i < L; ++i) {
            spans[2 * i] = spans[2 * i + 1] = 0;
        }
    }
    free(ext);
    free(origin);
    free(skip);
    free(prev);
    free(cur);
    free(emit);
    free(back);
    return score;
}

typedef struct problem {
    int N, T, C, blank;
    int32_t *in_len, *lab_len, *labels;
    double *lp; /* [N][T][C], each value exactly a float */
    int total_labels;
    double penalty; /* star penalty */
} problem;

/* kind 0: random log-probabilities; 1: quantised to a few values (ties);
 * 2: quantised with -inf entries. With `stars`, about one label in eight
 * is CTCC_LABEL_STAR (some in a row, some next to repeats); stars 2: more,
 * see below. */
static problem make_problem(int N, int T, int C, int maxL, int kind, int full,
                            int stars) {
    problem p;
    int n, i, m, off = 0;
    p.penalty = stars ? -(double)rng_int(0, 2) : CTCC_STAR_PENALTY_DEFAULT;
    p.N = N;
    p.T = T;
    p.C = C;
    p.blank = rng_int(0, C - 1);
    p.in_len = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    p.lab_len = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    p.labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(N * maxL + 1));
    p.lp =
        (double *)xmalloc(sizeof(double) * (size_t)N * (size_t)T * (size_t)C);
    for (n = 0; n < N; ++n) {
        p.in_len[n] = full ? T : rng_int(0, T);
        p.lab_len[n] = full ? maxL : rng_int(0, maxL);
        m = 0;
        for (i = 0; i < p.lab_len[n]; ++i) {
            int v = rng_int(0, C - 2);
            if (v >= p.blank) {
                ++v;
            }
            /* Some repeats. */
            if (i > 0 && rng_int(0, 5) == 0) {
                v = p.labels[off + i - 1];
            }
            if (stars == 1 && rng_int(0, 7) == 0) {
                v = CTCC_LABEL_STAR;
            }
            /* stars 2: one in three, and always in the blank slots where
             * blocks and threads split the states (before label m, m a
             * multiple of 512 or of 25) */
            if (stars == 2 &&
                (rng_int(0, 2) == 0 || (i > 0 && p.labels[off + i - 1] >= 0 &&
                                        (m % 512 == 0 || m % 25 == 0)))) {
                v = CTCC_LABEL_STAR;
            }
            m += v >= 0;
            p.labels[off + i] = v;
        }
        off += p.lab_len[n];
    }
    p.total_labels = off;
    for (i = 0; i < N * T * C; ++i) {
        if (kind == 0) {
            p.lp[i] = rng_value(-6, 0);
        } else {
            p.lp[i] = -(double)rng_int(0, 2);
            if (kind == 2 && rng_int(0, 7) == 0) {
                p.lp[i] = -INFINITY;
            }
        }
    }
    return p;
}

static void free_problem(problem *p) {
    free(p->in_len);
    free(p->lab_len);
    free(p->labels);
    free(p->lp);
}

/* Runs the library on p and compares with the reference; returns ok. */
static int compare(const problem *p, int single, ctcc_layout layout,
                   int threads, const int32_t *rf, const int32_t *rs,
                   const double *rscore) {
    const size_t N = (size_t)p->N, T = (size_t)p->T, C = (size_t)p->C;
    ctcc_options o;
    size_t bytes = 0, n, t, c;
    int32_t *frames = (int32_t *)xmalloc(sizeof(int32_t) * N * T + 4);
    int32_t *spans =
        (int32_t *)xmalloc(sizeof(int32_t) * 2 * (size_t)p->total_labels + 4);
    double scores[64];
    float scores32[64];
    void *ws;
    ctcc_status st;
    int ok = 1;
    ctcc_options_init(&o);
    o.blank = p->blank;
    o.num_threads = threads;
    o.layout = layout;
    o.input_kind = CTCC_INPUT_LOG_PROBS;
    st = ctcc_align_workspace_size(p->lab_len, p->in_len, p->T, p->N, p->C, &o,
                                   &bytes);
    ws = xmalloc(bytes);
    if (single) {
        float *x = (float *)xmalloc(sizeof(float) * N * T * C + 4);
        for (n = 0; n < N; ++n) {
            for (t = 0; t < T; ++t) {
                for (c = 0; c < C; ++c) {
                    const size_t at = layout == CTCC_LAYOUT_TIME_MAJOR
                                          ? (t * N + n) * C + c
                                          : (n * T + t) * C + c;
                    x[at] = (float)p->lp[(n * T + t) * C + c];
                }
            }
        }
        st = st ? st
                : ctcc_align_star_f32(x, p->labels, p->lab_len, p->in_len, p->T,
                                      p->N, p->C, frames, spans, scores32, ws,
                                      bytes, &o, p->penalty);
        for (n = 0; n < N; ++n) {
            scores[n] = scores32[n];
        }
        free(x);
    } else {
        double *x = (double *)xmalloc(sizeof(double) * N * T * C + 8);
        for (n = 0; n < N; ++n) {
            for (t = 0; t < T; ++t) {
                for (c = 0; c < C; ++c) {
                    const size_t at = layout == CTCC_LAYOUT_TIME_MAJOR
                                          ? (t * N + n) * C + c
                                          : (n * T + t) * C + c;
                    x[at] = p->lp[(n * T + t) * C + c];
                }
            }
        }
        st = st ? st
                : ctcc_align_star_f64(x, p->labels, p->lab_len, p->in_len, p->T,
                                      p->N, p->C, frames, spans, scores, ws,
                                      bytes, &o, p->penalty);
        free(x);
    }
    ok = st == CTCC_STATUS_SUCCESS;
    for (n = 0; ok && n < N; ++n) {
        const double want = single ? (double)(float)rscore[n] : rscore[n];
        ok = (scores[n] == want) || (scores[n] != scores[n] && want != want);
    }
    ok = ok && memcmp(frames, rf, sizeof(int32_t) * N * T) == 0;
    ok = ok &&
         memcmp(spans, rs, sizeof(int32_t) * 2 * (size_t)p->total_labels) == 0;
    free(frames);
    free(spans);
    free(ws);
    return ok;
}

static void run_case(const char *what, problem *p) {
    const size_t T = (size_t)p->T, C = (size_t)p->C;
    int32_t *rf = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)p->N * T + 4);
    int32_t *rs =
        (int32_t *)xmalloc(sizeof(int32_t) * 2 * (size_t)p->total_labels + 4);
    double rscore[64];
    int n, off = 0, single, layout, threads, ok = 1, bad = -1;
    for (n = 0; n < p->N; ++n) {
        rscore[n] = ref_align(p->lp + (size_t)n * T * C, p->in_len[n], p->C,
                              p->blank, p->labels + off, p->lab_len[n],
                              p->penalty, rf + (size_t)n * T, rs + 2 * off);
        for (size_t t = (size_t)p->in_len[n]; t < T; ++t) {
            rf[(size_t)n * T + t] = -1;
        }
        off += p->lab_len[n];
    }
    for (single = 0; single < 2; ++single) {
        for (layout = 0; layout < 2; ++layout) {
            for (threads = 1; threads <= 4; ++threads) {
                if (!compare(p, single, (ctcc_layout)layout, threads, rf, rs,
                             rscore)) {
                    ok = 0;
                    bad = single * 100 + layout * 10 + threads;
                }
            }
        }
    }
    check(ok,
          "%s (N=%d T=%d C=%d): same frames, spans, scores as the "
          "full-memory Viterbi, f32/f64, both layouts, 1-4 threads%s (%d)",
          what, p->N, p->T, p->C, ok ? "" : " - DIFFERS", bad);
    free(rf);
    free(rs);
}

int main(void) {
    int i;
    for (i = 0; i < 60; ++i) {
        const int kind = i % 3;
        const int N = rng_int(1, 5);
        const int T = rng_int(1, i < 30 ? 40 : 300);
        const int C = rng_int(2, 7);
        problem p = make_problem(N, T, C, T / 2 + 1, kind, 0, i >= 45);
        char what[64];
        snprintf(what, sizeof(what), "case %d, %s", i,
                 kind == 0   ? "random"
                 : kind == 1 ? "quantised"
                             : "with -inf");
        run_case(what, &p);
        free_problem(&p);
    }
    /* Long labels, all frames (band limits on both sides). */
    for (i = 0; i < 6; ++i) {
        problem p = make_problem(2, 120, 3, 50, i % 3, 1, i >= 3);
        run_case("long labels", &p);
        free_problem(&p);
    }
    /* One sample large enough to be split over the threads (2L + 1 >=
     * 2 * 1024 states) and into several blocks of pass 1, and two such
     * samples with up to 4 threads; ties, -inf entries, stars. */
    for (i = 0; i < 6; ++i) {
        problem p = make_problem(1 + i % 2, 2600, 5, 2100, 1 + (i / 2) % 2, 1,
                                 i >= 4 ? 2 : 0);
        run_case(i < 4 ? "split over threads" : "split, with stars", &p);
        free_problem(&p);
    }
    /* Many classes (tiles of few frames), a sample split over threads. */
    {
        problem p = make_problem(1, 1500, 700, 1100, 1, 1, 2);
        run_case("split, 700 classes, stars", &p);
        free_problem(&p);
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
