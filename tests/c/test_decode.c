/*
 * test_decode.c - tests of ctcc's decoders (greedy and prefix beam search)
 * against independent references.
 *
 * Plain C99, no framework. Every check prints one line starting with PASS
 * or FAIL; the last line is "N passed, N failed" and the exit status is
 * nonzero when anything failed.
 *
 * References, all in this file and independent of the library:
 *   - greedy: a direct argmax per frame with libm's log-softmax;
 *   - exact decoding by brute force: all C^T paths of a tiny sample are
 *     enumerated, collapsed (repeats merged, blanks dropped) and their
 *     probabilities summed per labelling, then ranked; a beam wide enough
 *     to hold every prefix must return exactly that ranking;
 *   - a plain prefix beam search that keeps prefixes as label arrays,
 *     tries every class for every beam entry and merges candidates by
 *     comparing their labels: ctcc's pruned, trie-based search must agree
 *     with it for narrow beams too;
 *   - properties the header promises (layouts, precisions, log-probs
 *     input, thread counts, untouched outputs on error, status codes).
 */
#include "ctcc.h"

#include "testing.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* |got - want| <= tol (1 + |want|), or the same infinity. */
static int close_to(double got, double want, double tol) {
    if (isinf(want) || isinf(got)) {
        return got == want;
    }
    return fabs(got - want) <= tol * (1.0 + fabs(want));
}

/* ------------------------------------------------------------------------ */
/* A batch in canonical form and the calls                                  */
/* ------------------------------------------------------------------------ */

/* x[(t * N + n) * C + c] (time-major), always double; converted to the
 * layout and precision of each call. */
typedef struct batch {
    int T, N, C;
    double *x;
    int32_t *lengths;
} batch;

static batch batch_new(int T, int N, int C) {
    batch b;
    int n;
    size_t i, total = (size_t)T * N * C;
    b.T = T;
    b.N = N;
    b.C = C;
    b.x = (double *)xmalloc(total * sizeof(double));
    b.lengths = (int32_t *)xmalloc((size_t)N * sizeof(int32_t));
    for (i = 0; i < total; ++i) {
        b.x[i] = rng_value(-3.0, 3.0);
    }
    for (n = 0; n < N; ++n) {
        b.lengths[n] = T;
    }
    return b;
}

static void batch_free(batch *b) {
    free(b->x);
    free(b->lengths);
}

static double *at(const batch *b, int t, int n) {
    return b->x + ((size_t)t * b->N + n) * b->C;
}

/* Replaces every frame by its log-softmax. */
static void to_log_probs(batch *b) {
    int t, n, c;
    for (t = 0; t < b->T; ++t) {
        for (n = 0; n < b->N; ++n) {
            double *x = at(b, t, n), m = -INFINITY, s = 0.0;
            for (c = 0; c < b->C; ++c) {
                m = x[c] > m ? x[c] : m;
            }
            for (c = 0; c < b->C; ++c) {
                s += exp(x[c] - m);
            }
            for (c = 0; c < b->C; ++c) {
                x[c] = (double)(float)(x[c] - m - log(s));
            }
        }
    }
}

/* The inputs in the layout and precision of a call (float or double). */
static void *pack(const batch *b, ctcc_layout layout, int f32) {
    const size_t total = (size_t)b->T * b->N * b->C;
    void *out = xmalloc(total * (f32 ? sizeof(float) : sizeof(double)));
    int t, n, c;
    for (t = 0; t < b->T; ++t) {
        for (n = 0; n < b->N; ++n) {
            for (c = 0; c < b->C; ++c) {
                const size_t i = layout == CTCC_LAYOUT_TIME_MAJOR
                                     ? ((size_t)t * b->N + n) * b->C + c
                                     : ((size_t)n * b->T + t) * b->C + c;
                if (f32) {
                    ((float *)out)[i] = (float)at(b, t, n)[c];
                } else {
                    ((double *)out)[i] = at(b, t, n)[c];
                }
            }
        }
    }
    return out;
}

typedef struct call_opts {
    int f32;
    ctcc_layout layout;
    ctcc_input_kind kind;
    int blank;
    int threads;
} call_opts;

static call_opts default_opts(void) {
    call_opts o;
    o.f32 = 0;
    o.layout = CTCC_LAYOUT_TIME_MAJOR;
    o.kind = CTCC_INPUT_LOGITS;
    o.blank = 0;
    o.threads = 1;
    return o;
}

static void make_options(const call_opts *o, ctcc_options *opts) {
    ctcc_options_init(opts);
    opts->blank = o->blank;
    opts->layout = o->layout;
    opts->input_kind = o->kind;
    opts->num_threads = o->threads;
}

/* Greedy: decoded [N, T], lengths [N], scores [N] (as double). */
static ctcc_status run_greedy(const batch *b, const call_opts *o,
                              int32_t *decoded, int32_t *lengths,
                              double *scores) {
    ctcc_options opts;
    void *in = pack(b, o->layout, o->f32);
    ctcc_status st;
    int n;
    make_options(o, &opts);
    if (o->f32) {
        float *s = (float *)xmalloc((size_t)b->N * sizeof(float));
        st = ctcc_greedy_decode_f32((const float *)in, b->lengths, b->T, b->N,
                                    b->C, decoded, lengths, s, &opts);
        for (n = 0; n < b->N; ++n) {
            scores[n] = s[n];
        }
        free(s);
    } else {
        st = ctcc_greedy_decode_f64((const double *)in, b->lengths, b->T, b->N,
                                    b->C, decoded, lengths, scores, &opts);
    }
    free(in);
    return st;
}

/* Beam search: paths [N, K, T], lengths [N, K], scores [N, K]. */
static ctcc_status run_beam(const batch *b, const call_opts *o, int W, int K,
                            double penalty, const double *prior, int32_t *paths,
                            int32_t *lengths, double *scores) {
    ctcc_options opts;
    void *in = pack(b, o->layout, o->f32), *ws;
    size_t bytes = 0;
    ctcc_status st;
    int i;
    make_options(o, &opts);
    st = ctcc_beam_workspace_size(b->lengths, b->T, b->N, b->C, W, K, &opts,
                                  &bytes);
    if (st != CTCC_STATUS_SUCCESS) {
        free(in);
        return st;
    }
    ws = xmalloc(bytes);
    if (o->f32) {
        float *s = (float *)xmalloc((size_t)b->N * K * sizeof(float));
        st = ctcc_beam_search_decode_f32((const float *)in, b->lengths, b->T,
                                         b->N, b->C, W, K, penalty, prior,
                                         paths, lengths, s, ws, bytes, &opts);
        for (i = 0; i < b->N * K; ++i) {
            scores[i] = s[i];
        }
        free(s);
    } else {
        st =
            ctcc_beam_search_decode_f64((const double *)in, b->lengths, b->T,
                                        b->N, b->C, W, K, penalty, prior, paths,
                                        lengths, scores, ws, bytes, &opts);
    }
    free(ws);
    free(in);
    return st;
}

/* ------------------------------------------------------------------------ */
/* References                                                               */
/* ------------------------------------------------------------------------ */

/* Log-probabilities of one frame as the decoders see them: log-softmax
 * (or the inputs for log-probs), minus the prior, minus the penalty on the
 * blank. */
static void frame_lp(const double *x, int C, ctcc_input_kind kind, int blank,
                     double penalty, const double *prior, double *lp) {
    double m = -INFINITY, s = 0.0;
    int c;
    for (c = 0; c < C; ++c) {
        m = x[c] > m ? x[c] : m;
    }
    for (c = 0; c < C; ++c) {
        s += exp(x[c] - m);
    }
    for (c = 0; c < C; ++c) {
        lp[c] = kind == CTCC_INPUT_LOGITS ? x[c] - m - log(s) : x[c];
        lp[c] -= prior != NULL ? prior[c] : 0.0;
    }
    lp[blank] -= penalty;
}

static double log_add(double a, double b) {
    const double m = a > b ? a : b;
    if (m == -INFINITY) {
        return -INFINITY;
    }
    return m + log(exp(a - m) + exp(b - m));
}

#define MAX_T 16
#define MAX_LAB 4096

/* A labelling with a log score. */
typedef struct labelling {
    int len;
    int32_t lab[MAX_T];
    double pb, pl, score;
} labelling;

static int same_labels(const labelling *a, const labelling *b) {
    return a->len == b->len &&
           memcmp(a->lab, b->lab, (size_t)a->len * sizeof(int32_t)) == 0;
}

static int by_score(const void *pa, const void *pb) {
    const labelling *a = (const labelling *)pa, *b = (const labelling *)pb;
    return a->score > b->score ? -1 : a->score < b->score ? 1 : 0;
}

/* Every labelling of sample n with positive probability and its log
 * probability (the sum over its paths), best first. Returns the count. */
static int brute_force(const batch *b, int n, ctcc_input_kind kind, int blank,
                       double penalty, const double *prior, labelling *out) {
    const int T = b->lengths[n], C = b->C;
    double lp[MAX_T][8];
    int path[MAX_T];
    long total = 1, i;
    int t, count = 0;
    for (t = 0; t < T; ++t) {
        frame_lp(at(b, t, n), C, kind, blank, penalty, prior, lp[t]);
        total *= C;
    }
    for (i = 0; i < total; ++i) {
        long v = i;
        labelling cur;
        double s = 0.0;
        int k, prev = -1;
        for (t = 0; t < T; ++t) {
            path[t] = (int)(v % C);
            v /= C;
            s += lp[t][path[t]];
        }
        if (s == -INFINITY) {
            continue;
        }
        cur.len = 0;
        for (t = 0; t < T; ++t) {
            if (path[t] != blank && path[t] != prev) {
                cur.lab[cur.len++] = path[t];
            }
            prev = path[t];
        }
        for (k = 0; k < count; ++k) {
            if (same_labels(&out[k], &cur)) {
                out[k].score = log_add(out[k].score, s);
                break;
            }
        }
        if (k == count) {
            cur.score = s;
            out[count++] = cur;
        }
    }
    qsort(out, (size_t)count, sizeof(labelling), by_score);
    return count;
}

/* A plain prefix beam search (every class tried, merging by comparing
 * labels). Fills out[0..returned) best first. */
static int plain_beam(const batch *b, int n, ctcc_input_kind kind, int blank,
                      double penalty, const double *prior, int W,
                      labelling *out) {
    static labelling beam[MAX_LAB], cand[MAX_LAB];
    const int T = b->lengths[n], C = b->C;
    int count = 1, t, i, c, k;
    double lp[64];
    beam[0].len = 0;
    beam[0].pb = 0.0;
    beam[0].pl = -INFINITY;
    beam[0].score = 0.0;
    for (t = 0; t < T; ++t) {
        int nc = 0;
        frame_lp(at(b, t, n), C, kind, blank, penalty, prior, lp);
        for (i = 0; i < count; ++i) {
            const labelling *e = &beam[i];
            const int last = e->len > 0 ? e->lab[e->len - 1] : -1;
            for (c = -1; c < C; ++c) {
                labelling x = *e;
                if (c == blank) {
                    continue;
                }
                if (c < 0) { /* the same prefix */
                    x.pb = e->score + lp[blank];
                    x.pl = last >= 0 ? e->pl + lp[last] : -INFINITY;
                } else {
                    x.lab[x.len++] = c;
                    x.pb = -INFINITY;
                    x.pl = (c == last ? e->pb : e->score) + lp[c];
                }
                for (k = 0; k < nc; ++k) {
                    if (same_labels(&cand[k], &x)) {
                        cand[k].pb = log_add(cand[k].pb, x.pb);
                        cand[k].pl = log_add(cand[k].pl, x.pl);
                        break;
                    }
                }
                if (k == nc) {
                    cand[nc++] = x;
                }
            }
        }
        count = 0;
        for (k = 0; k < nc; ++k) {
            cand[k].score = log_add(cand[k].pb, cand[k].pl);
            if (cand[k].score > -INFINITY) {
                cand[count++] = cand[k];
            }
        }
        qsort(cand, (size_t)count, sizeof(labelling), by_score);
        if (count > W) {
            count = W;
        }
        memcpy(beam, cand, (size_t)count * sizeof(labelling));
    }
    memcpy(out, beam, (size_t)count * sizeof(labelling));
    return count;
}

/* Compares ctcc's paths of sample n (K rows) with a reference list. */
static int paths_match(const batch *b, int n, int K, const int32_t *paths,
                       const int32_t *lengths, const double *scores,
                       const labelling *ref, int ref_count, double tol) {
    int j, s;
    for (j = 0; j < K; ++j) {
        const int32_t *row = paths + ((size_t)n * K + j) * b->T;
        const int len = lengths[n * K + j];
        const double score = scores[n * K + j];
        if (j >= ref_count) {
            if (len != 0 || score != -INFINITY) {
                return 0;
            }
            for (s = 0; s < b->T; ++s) {
                if (row[s] != -1) {
                    return 0;
                }
            }
            continue;
        }
        if (len != ref[j].len || !close_to(score, ref[j].score, tol)) {
            return 0;
        }
        for (s = 0; s < b->T; ++s) {
            if (row[s] != (s < len ? ref[j].lab[s] : -1)) {
                return 0;
            }
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Greedy tests                                                             */
/* ------------------------------------------------------------------------ */

static void test_greedy_reference(void) {
    int trial;
    for (trial = 0; trial < 36; ++trial) {
        /* Large alphabets too: the argmax scans blocks of classes. */
        const int T = rng_int(0, 12), N = rng_int(1, 6);
        const int C = trial < 24 ? rng_int(1, 9) : rng_int(60, 400);
        batch b = batch_new(T, N, C);
        call_opts o = default_opts();
        int32_t *dec = (int32_t *)xmalloc((size_t)N * (T + 1) * 4);
        int32_t *len = (int32_t *)xmalloc((size_t)N * 4);
        double *sc = (double *)xmalloc((size_t)N * 8);
        int n, t, c, ok = 1, blank;
        ctcc_status st;
        o.f32 = trial & 1;
        o.layout =
            (trial >> 1) & 1 ? CTCC_LAYOUT_BATCH_MAJOR : CTCC_LAYOUT_TIME_MAJOR;
        o.kind = (trial >> 2) & 1 ? CTCC_INPUT_LOG_PROBS : CTCC_INPUT_LOGITS;
        o.blank = (trial % 3 == 0) ? -1 : rng_int(0, C - 1);
        blank = o.blank < 0 ? o.blank + C : o.blank;
        if (o.kind == CTCC_INPUT_LOG_PROBS) {
            to_log_probs(&b);
        }
        for (n = 0; n < N; ++n) {
            b.lengths[n] = rng_int(0, T);
        }
        /* A few exact ties and repeated frames. */
        if (T > 2 && C > 1) {
            at(&b, 1, 0)[C - 1] = at(&b, 1, 0)[0] = 10.0;
            memcpy(at(&b, 2, 0), at(&b, 1, 0), (size_t)C * sizeof(double));
            if (C > 130) { /* a tie across blocks, not at class 0 */
                at(&b, 2, 0)[0] = 0.0;
                at(&b, 2, 0)[70] = at(&b, 2, 0)[129] = 10.0;
            }
        }
        st = run_greedy(&b, &o, dec, len, sc);
        ok = st == CTCC_STATUS_SUCCESS;
        for (n = 0; n < N && ok; ++n) {
            int32_t want[64];
            int wl = 0, prev = -1;
            double s = 0.0, lp[512];
            for (t = 0; t < b.lengths[n]; ++t) {
                int arg = 0;
                frame_lp(at(&b, t, n), C, o.kind, blank, 0.0, NULL, lp);
                for (c = 1; c < C; ++c) {
                    if (at(&b, t, n)[c] > at(&b, t, n)[arg]) {
                        arg = c;
                    }
                }
                s += lp[arg];
                if (arg != blank && arg != prev) {
                    want[wl++] = arg;
                }
                prev = arg;
            }
            ok = len[n] == wl && close_to(sc[n], s, o.f32 ? 1e-5 : 1e-12);
            for (t = 0; t < T && ok; ++t) {
                ok = dec[(size_t)n * T + t] == (t < wl ? want[t] : -1);
            }
        }
        check(ok,
              "greedy vs argmax reference, trial %d (T=%d N=%d C=%d %s %s "
              "%s blank=%d)",
              trial, T, N, C, o.f32 ? "f32" : "f64",
              o.layout == CTCC_LAYOUT_TIME_MAJOR ? "time-major" : "batch-major",
              o.kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", o.blank);
        free(dec);
        free(len);
        free(sc);
        batch_free(&b);
    }
}

static void test_greedy_special(void) {
    /* T=4, N=2, C=3: sample 0 spells 1 1 _ 1 -> [1, 1]; sample 1 holds a
     * NaN in its valid frames -> empty, NaN score. */
    batch b = batch_new(4, 2, 3);
    call_opts o = default_opts();
    int32_t dec[8], len[2];
    double sc[2];
    const int seq[4] = {1, 1, 0, 1};
    int t;
    for (t = 0; t < 4; ++t) {
        at(&b, t, 0)[0] = at(&b, t, 0)[1] = at(&b, t, 0)[2] = 0.0;
        at(&b, t, 0)[seq[t]] = 5.0;
    }
    at(&b, 2, 1)[1] = NAN;
    run_greedy(&b, &o, dec, len, sc);
    check(len[0] == 2 && dec[0] == 1 && dec[1] == 1 && dec[2] == -1 &&
              dec[3] == -1,
          "greedy merges repeats only when no blank separates them");
    check(len[1] == 0 && isnan(sc[1]) && dec[4] == -1 && dec[7] == -1,
          "greedy: NaN input gives an empty decoding and score NaN");
    o.f32 = 1;
    run_greedy(&b, &o, dec, len, sc);
    check(len[1] == 0 && isnan(sc[1]) && len[0] == 2,
          "greedy f32: NaN input gives an empty decoding and score NaN");
    {
        /* scores NULL: the same decoding, the normaliser skipped. */
        int32_t dec2[8], len2[2];
        ctcc_options opts;
        ctcc_options_init(&opts);
        at(&b, 2, 1)[1] = 0.5;
        run_greedy(&b, &o, dec, len, sc);
        check(ctcc_greedy_decode_f64(b.x, b.lengths, 4, 2, 3, dec2, len2, NULL,
                                     &opts) == CTCC_STATUS_SUCCESS &&
                  memcmp(dec, dec2, sizeof dec) == 0 &&
                  memcmp(len, len2, sizeof len) == 0,
              "greedy without scores decodes the same");
    }
    /* A frame of -inf only: score -inf, class 0 (the blank) chosen. */
    at(&b, 2, 1)[0] = at(&b, 2, 1)[1] = at(&b, 2, 1)[2] = -INFINITY;
    o.f32 = 0;
    run_greedy(&b, &o, dec, len, sc);
    check(sc[1] == -INFINITY, "greedy: an all -inf frame gives score -inf");
    batch_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Beam search tests                                                        */
/* ------------------------------------------------------------------------ */

static void test_beam_exact(void) {
    static labelling ref[MAX_LAB];
    int trial;
    for (trial = 0; trial < 40; ++trial) {
        const int T = rng_int(0, 5), N = rng_int(1, 3), C = rng_int(1, 4);
        const int W = 512, K = 6;
        batch b = batch_new(T, N, C);
        call_opts o = default_opts();
        int32_t *paths = (int32_t *)xmalloc((size_t)N * K * (T + 1) * 4);
        int32_t *len = (int32_t *)xmalloc((size_t)N * K * 4);
        double *sc = (double *)xmalloc((size_t)N * K * 8);
        double prior[4], penalty = 0.0;
        const double *pr = NULL;
        int n, c, ok, blank;
        o.f32 = trial & 1;
        o.layout =
            (trial >> 1) & 1 ? CTCC_LAYOUT_BATCH_MAJOR : CTCC_LAYOUT_TIME_MAJOR;
        o.kind = (trial >> 2) & 1 ? CTCC_INPUT_LOG_PROBS : CTCC_INPUT_LOGITS;
        o.blank = trial % 5 == 0 ? -1 : rng_int(0, C - 1);
        o.threads = 1 + trial % 2;
        blank = o.blank < 0 ? o.blank + C : o.blank;
        if (o.kind == CTCC_INPUT_LOG_PROBS) {
            to_log_probs(&b);
        }
        if (trial % 4 == 3) {
            penalty = rng_value(-1.0, 2.0);
            for (c = 0; c < C; ++c) {
                prior[c] = rng_value(-1.0, 1.0);
            }
            pr = prior;
        }
        if (trial % 7 == 6 && C > 2 && T > 1) {
            at(&b, 1, 0)[C - 1] = -INFINITY; /* an impossible class */
        }
        for (n = 0; n < N; ++n) {
            b.lengths[n] = rng_int(0, T);
        }
        ok = run_beam(&b, &o, W, K, penalty, pr, paths, len, sc) ==
             CTCC_STATUS_SUCCESS;
        for (n = 0; n < N && ok; ++n) {
            const int count =
                brute_force(&b, n, o.kind, blank, penalty, pr, ref);
            ok = paths_match(&b, n, K, paths, len, sc, ref, count,
                             o.f32 ? 2e-6 : 1e-10);
        }
        check(ok,
              "beam search (wide beam) = brute-force exact decoding, "
              "trial %d (T=%d N=%d C=%d %s %s %s blank=%d%s)",
              trial, T, N, C, o.f32 ? "f32" : "f64",
              o.layout == CTCC_LAYOUT_TIME_MAJOR ? "time-major" : "batch-major",
              o.kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", o.blank,
              pr != NULL ? ", penalty and prior" : "");
        free(paths);
        free(len);
        free(sc);
        batch_free(&b);
    }
}

static void test_beam_vs_plain(void) {
    static labelling ref[MAX_LAB];
    int trial;
    for (trial = 0; trial < 30; ++trial) {
        const int T = rng_int(1, 14), N = rng_int(1, 3);
        const int C = rng_int(2, 20), W = rng_int(1, 6);
        const int K = rng_int(1, W);
        batch b = batch_new(T, N, C);
        call_opts o = default_opts();
        int32_t *paths = (int32_t *)xmalloc((size_t)N * K * T * 4);
        int32_t *len = (int32_t *)xmalloc((size_t)N * K * 4);
        double *sc = (double *)xmalloc((size_t)N * K * 8);
        int n, t, c, ok, blank;
        o.blank = trial % 3 == 0 ? -1 : 0;
        blank = o.blank < 0 ? C - 1 : 0;
        /* Peaky frames with few competitive classes make prefixes leave
         * the beam and come back, and repeats common. */
        for (t = 0; t < T; ++t) {
            for (n = 0; n < N; ++n) {
                for (c = 0; c < C; ++c) {
                    at(&b, t, n)[c] = c % 3 == 0 ? rng_value(-1.0, 3.0)
                                                 : rng_value(-6.0, 0.0);
                }
            }
        }
        ok = run_beam(&b, &o, W, K, 0.0, NULL, paths, len, sc) ==
             CTCC_STATUS_SUCCESS;
        for (n = 0; n < N && ok; ++n) {
            const int count =
                plain_beam(&b, n, o.kind, blank, 0.0, NULL, W, ref);
            ok = paths_match(&b, n, K, paths, len, sc, ref, count, 1e-10);
        }
        check(ok,
              "pruned trie beam search = plain beam search, trial %d "
              "(T=%d N=%d C=%d W=%d K=%d)",
              trial, T, N, C, W, K);
        free(paths);
        free(len);
        free(sc);
        batch_free(&b);
    }
}

/* Many tiny peaky samples with narrow beams, all W entries compared: this
 * is where prefixes leave the beam while a child stays and then come back
 * (which needs the trie's nodes to be unique per prefix), and where the
 * (W + 1)-th best class of a frame is the one that enters the beam. */
static void test_beam_vs_plain_many(double scale, int trials) {
    static labelling ref[MAX_LAB];
    int trial, failed = 0, first = -1;
    for (trial = 0; trial < trials; ++trial) {
        const int T = rng_int(2, 12), C = rng_int(3, 7), W = rng_int(1, 4);
        batch b = batch_new(T, 1, C);
        call_opts o = default_opts();
        int32_t paths[4 * 12], len[4];
        double sc[4];
        int t, c, ok, count;
        for (t = 0; t < T; ++t) {
            for (c = 0; c < C; ++c) {
                at(&b, t, 0)[c] = rng_value(-scale, scale);
            }
        }
        ok = run_beam(&b, &o, W, W, 0.0, NULL, paths, len, sc) ==
             CTCC_STATUS_SUCCESS;
        count = plain_beam(&b, 0, o.kind, 0, 0.0, NULL, W, ref);
        ok = ok && paths_match(&b, 0, W, paths, len, sc, ref, count, 1e-10);
        if (!ok) {
            failed++;
            first = first < 0 ? trial : first;
        }
        batch_free(&b);
    }
    check(failed == 0,
          "pruned trie beam search = plain beam search on %d tiny samples "
          "(logits in +-%g, W in [1, 4], all W kept): %d differ (first: "
          "trial %d)",
          trials, scale, failed, first);
}

static void test_beam_padding(void) {
    /* T=2, C=2: the only labellings are "" and "1"; top_paths=4. */
    batch b = batch_new(2, 1, 2);
    call_opts o = default_opts();
    int32_t paths[8], len[4];
    double sc[4];
    run_beam(&b, &o, 4, 4, 0.0, NULL, paths, len, sc);
    check(len[2] == 0 && len[3] == 0 && sc[2] == -INFINITY &&
              sc[3] == -INFINITY && paths[4] == -1 && paths[7] == -1 &&
              sc[0] > -INFINITY && sc[1] > -INFINITY,
          "beam search pads missing paths with length 0 and score -inf");
    check(close_to(log_add(sc[0], sc[1]), 0.0, 1e-12),
          "beam search: the two labellings' probabilities sum to 1");
    /* No frames: the empty labelling with probability 1. */
    b.lengths[0] = 0;
    run_beam(&b, &o, 4, 2, 0.0, NULL, paths, len, sc);
    check(len[0] == 0 && sc[0] == 0.0 && sc[1] == -INFINITY,
          "beam search with no frames returns the empty labelling, score 0");
    /* NaN: score NaN, empty paths. */
    b.lengths[0] = 2;
    at(&b, 1, 0)[1] = NAN;
    run_beam(&b, &o, 4, 2, 0.0, NULL, paths, len, sc);
    check(len[0] == 0 && len[1] == 0 && isnan(sc[0]) && isnan(sc[1]),
          "beam search: NaN input gives empty paths with score NaN");
    batch_free(&b);
}

static void test_threads_and_layouts(void) {
    const int T = 40, N = 9, C = 7, W = 5, K = 3;
    batch b = batch_new(T, N, C);
    call_opts o = default_opts();
    const size_t np = (size_t)N * K * T;
    int32_t *p1 = (int32_t *)xmalloc(np * 4), *p2 = (int32_t *)xmalloc(np * 4);
    int32_t l1[27], l2[27];
    double s1[27], s2[27];
    int n, f32, ok;
    for (n = 0; n < N; ++n) {
        b.lengths[n] = rng_int(0, T);
    }
    for (f32 = 0; f32 < 2; ++f32) {
        o.f32 = f32;
        o.threads = 1;
        o.layout = CTCC_LAYOUT_TIME_MAJOR;
        run_beam(&b, &o, W, K, 0.3, NULL, p1, l1, s1);
        o.threads = 2;
        run_beam(&b, &o, W, K, 0.3, NULL, p2, l2, s2);
        ok = memcmp(p1, p2, np * 4) == 0 && memcmp(l1, l2, sizeof l1) == 0 &&
             memcmp(s1, s2, sizeof s1) == 0;
        check(ok, "beam search: 1 and 2 threads bitwise identical (%s)",
              f32 ? "f32" : "f64");
        o.layout = CTCC_LAYOUT_BATCH_MAJOR;
        run_beam(&b, &o, W, K, 0.3, NULL, p2, l2, s2);
        ok = memcmp(p1, p2, np * 4) == 0 && memcmp(l1, l2, sizeof l1) == 0 &&
             memcmp(s1, s2, sizeof s1) == 0;
        check(ok, "beam search: batch-major = time-major bitwise (%s)",
              f32 ? "f32" : "f64");
        o.layout = CTCC_LAYOUT_TIME_MAJOR;
        o.threads = 1;
        run_greedy(&b, &o, p1, l1, s1);
        o.threads = 2;
        run_greedy(&b, &o, p2, l2, s2);
        ok = memcmp(p1, p2, (size_t)N * T * 4) == 0 &&
             memcmp(l1, l2, (size_t)N * 4) == 0 &&
             memcmp(s1, s2, (size_t)N * 8) == 0;
        check(ok, "greedy: 1 and 2 threads bitwise identical (%s)",
              f32 ? "f32" : "f64");
        o.layout = CTCC_LAYOUT_BATCH_MAJOR;
        run_greedy(&b, &o, p2, l2, s2);
        ok = memcmp(p1, p2, (size_t)N * T * 4) == 0 &&
             memcmp(l1, l2, (size_t)N * 4) == 0 &&
             memcmp(s1, s2, (size_t)N * 8) == 0;
        check(ok, "greedy: batch-major = time-major bitwise (%s)",
              f32 ? "f32" : "f64");
    }
    free(p1);
    free(p2);
    batch_free(&b);
}

static void test_penalty_and_prior(void) {
    const int T = 12, N = 4, C = 6, W = 8;
    batch b = batch_new(T, N, C), shifted = batch_new(T, N, C);
    call_opts o = default_opts();
    int32_t p1[4 * 12], p2[4 * 12], l1[4], l2[4], g[4 * 12], gl[4];
    double s1[4], s2[4], gs[4], prior[6];
    int n, t, c, ok;
    to_log_probs(&b);
    o.kind = CTCC_INPUT_LOG_PROBS;
    /* A prior behaves as subtracting it from the log-probabilities. */
    for (c = 0; c < C; ++c) {
        prior[c] = rng_value(-2.0, 2.0);
    }
    for (t = 0; t < T; ++t) {
        for (n = 0; n < N; ++n) {
            for (c = 0; c < C; ++c) {
                at(&shifted, t, n)[c] =
                    at(&b, t, n)[c] - prior[c] - (c == 0 ? 0.7 : 0.0);
            }
        }
    }
    run_beam(&b, &o, W, 1, 0.7, prior, p1, l1, s1);
    run_beam(&shifted, &o, W, 1, 0.0, NULL, p2, l2, s2);
    ok = memcmp(p1, p2, sizeof p1) == 0 && memcmp(l1, l2, sizeof l1) == 0;
    for (n = 0; n < N; ++n) {
        ok = ok && close_to(s1[n], s2[n], 1e-12);
    }
    check(ok, "penalty and prior = decoding shifted log-probabilities");
    /* A huge blank penalty: the best path with the blank excluded. */
    for (t = 0; t < T; ++t) {
        for (n = 0; n < N; ++n) {
            memcpy(at(&shifted, t, n), at(&b, t, n),
                   (size_t)C * sizeof(double));
            at(&shifted, t, n)[0] = -INFINITY;
        }
    }
    run_beam(&b, &o, 1, 1, 1e6, NULL, p1, l1, s1);
    run_greedy(&shifted, &o, g, gl, gs);
    check(memcmp(p1, g, sizeof p1) == 0 && memcmp(l1, gl, sizeof l1) == 0,
          "beam search with a huge blank penalty = greedy without the blank");
    batch_free(&b);
    batch_free(&shifted);
}

/* ------------------------------------------------------------------------ */
/* Status codes, untouched outputs                                          */
/* ------------------------------------------------------------------------ */

#define ST_T 3
#define ST_N 2
#define ST_C 4

typedef struct st_call {
    const double *inputs;
    const int32_t *lengths;
    int32_t T, N, C, W, K;
    double penalty;
    const double *prior;
    int32_t *paths, *plen;
    double *scores;
    void *ws;
    size_t bytes;
    ctcc_options opts;
    int null_opts;
} st_call;

static double g_in[ST_T * ST_N * ST_C];
static int32_t g_len[ST_N] = {3, 2};
static int32_t g_paths[ST_N * 2 * ST_T], g_plen[ST_N * 2];
static double g_scores[ST_N * 2];
static unsigned char g_ws[1 << 16];

static st_call valid_st(void) {
    st_call c;
    c.inputs = g_in;
    c.lengths = g_len;
    c.T = ST_T;
    c.N = ST_N;
    c.C = ST_C;
    c.W = 3;
    c.K = 2;
    c.penalty = 0.0;
    c.prior = NULL;
    c.paths = g_paths;
    c.plen = g_plen;
    c.scores = g_scores;
    c.ws = g_ws;
    c.bytes = sizeof g_ws;
    ctcc_options_init(&c.opts);
    c.null_opts = 0;
    return c;
}

static void fill_sentinels(void) {
    memset(g_paths, 0x5a, sizeof g_paths);
    memset(g_plen, 0x5a, sizeof g_plen);
    memset(g_scores, 0x5a, sizeof g_scores);
}

static int untouched(void) {
    size_t i;
    const unsigned char *p;
    for (p = (const unsigned char *)g_paths, i = 0; i < sizeof g_paths; ++i) {
        if (p[i] != 0x5a) {
            return 0;
        }
    }
    for (p = (const unsigned char *)g_plen, i = 0; i < sizeof g_plen; ++i) {
        if (p[i] != 0x5a) {
            return 0;
        }
    }
    for (p = (const unsigned char *)g_scores, i = 0; i < sizeof g_scores; ++i) {
        if (p[i] != 0x5a) {
            return 0;
        }
    }
    return 1;
}

/* Runs the beam search, its workspace query (where the status applies to
 * it) and, with want_greedy, the greedy decoder, expecting `want`. */
static void expect(const char *what, const st_call *c, ctcc_status want,
                   int check_ws, int check_greedy) {
    const ctcc_options *o = c->null_opts ? NULL : &c->opts;
    ctcc_status st;
    size_t bytes = 12345;
    float in32[ST_T * ST_N * ST_C], sc32[ST_N * 2];
    int i;
    for (i = 0; i < ST_T * ST_N * ST_C; ++i) {
        in32[i] = (float)g_in[i];
    }
    fill_sentinels();
    st = ctcc_beam_search_decode_f64(c->inputs, c->lengths, c->T, c->N, c->C,
                                     c->W, c->K, c->penalty, c->prior, c->paths,
                                     c->plen, c->scores, c->ws, c->bytes, o);
    check(st == want && untouched(),
          "beam f64 %s: status %d (want %d), outputs untouched", what, (int)st,
          (int)want);
    fill_sentinels();
    memset(sc32, 0x5a, sizeof sc32);
    st = ctcc_beam_search_decode_f32(c->inputs != NULL ? in32 : NULL,
                                     c->lengths, c->T, c->N, c->C, c->W, c->K,
                                     c->penalty, c->prior, c->paths, c->plen,
                                     c->scores != NULL ? sc32 : NULL, c->ws,
                                     c->bytes, o);
    check(st == want && untouched() && ((const unsigned char *)sc32)[0] == 0x5a,
          "beam f32 %s: status %d (want %d), outputs untouched", what, (int)st,
          (int)want);
    if (check_ws) {
        st = ctcc_beam_workspace_size(c->lengths, c->T, c->N, c->C, c->W, c->K,
                                      o, &bytes);
        check(st == want && bytes == 12345,
              "beam workspace size %s: status %d (want %d), size untouched",
              what, (int)st, (int)want);
    }
    if (check_greedy) {
        fill_sentinels();
        st = ctcc_greedy_decode_f64(c->inputs, c->lengths, c->T, c->N, c->C,
                                    c->paths, c->plen, c->scores, o);
        check(st == want && untouched(),
              "greedy f64 %s: status %d (want %d), outputs untouched", what,
              (int)st, (int)want);
        fill_sentinels();
        st = ctcc_greedy_decode_f32(c->inputs != NULL ? in32 : NULL, c->lengths,
                                    c->T, c->N, c->C, c->paths, c->plen, NULL,
                                    o);
        check(st == want && untouched(),
              "greedy f32 %s: status %d (want %d), outputs untouched", what,
              (int)st, (int)want);
    }
}

static void test_status_codes(void) {
    st_call c;
    double prior[ST_C] = {0, 0, 0, 0};
    int32_t bad_len[ST_N] = {3, 4};
    size_t needed = 0;
    int i;
    for (i = 0; i < ST_T * ST_N * ST_C; ++i) {
        g_in[i] = rng_value(-2.0, 2.0);
    }
    c = valid_st();
    fill_sentinels();
    check(ctcc_beam_search_decode_f64(c.inputs, c.lengths, c.T, c.N, c.C, c.W,
                                      c.K, 0.0, NULL, c.paths, c.plen, c.scores,
                                      c.ws, c.bytes,
                                      &c.opts) == CTCC_STATUS_SUCCESS,
          "the base call of the status tests succeeds");
    c.null_opts = 1;
    check(ctcc_beam_search_decode_f64(c.inputs, c.lengths, c.T, c.N, c.C, c.W,
                                      c.K, 0.0, NULL, c.paths, c.plen, c.scores,
                                      c.ws, c.bytes,
                                      NULL) == CTCC_STATUS_SUCCESS,
          "options NULL means defaults");

    c = valid_st();
    c.inputs = NULL;
    expect("NULL inputs", &c, CTCC_STATUS_NULL_POINTER, 0, 1);
    c = valid_st();
    c.lengths = NULL;
    expect("NULL input_lengths", &c, CTCC_STATUS_NULL_POINTER, 1, 1);
    c = valid_st();
    c.paths = NULL;
    expect("NULL paths", &c, CTCC_STATUS_NULL_POINTER, 0, 1);
    c = valid_st();
    c.plen = NULL;
    expect("NULL path_lengths", &c, CTCC_STATUS_NULL_POINTER, 0, 1);
    c = valid_st();
    c.scores = NULL;
    expect("NULL scores", &c, CTCC_STATUS_NULL_POINTER, 0, 0);
    c = valid_st();
    c.ws = NULL;
    expect("NULL workspace", &c, CTCC_STATUS_NULL_POINTER, 0, 0);
    check(ctcc_beam_workspace_size(g_len, ST_T, ST_N, ST_C, 3, 2, NULL, NULL) ==
              CTCC_STATUS_NULL_POINTER,
          "beam workspace size: NULL size_bytes");

    c = valid_st();
    c.N = 0;
    expect("batch 0", &c, CTCC_STATUS_INVALID_BATCH_SIZE, 1, 1);
    c = valid_st();
    c.C = 0;
    expect("alphabet 0", &c, CTCC_STATUS_INVALID_ALPHABET_SIZE, 1, 1);
    c = valid_st();
    c.T = -1;
    expect("max_time -1", &c, CTCC_STATUS_INVALID_MAX_TIME, 1, 1);
    c = valid_st();
    c.lengths = bad_len;
    expect("input length > max_time", &c, CTCC_STATUS_INVALID_INPUT_LENGTH, 1,
           1);
    c = valid_st();
    c.opts.blank = ST_C;
    expect("blank = C", &c, CTCC_STATUS_INVALID_BLANK, 1, 1);
    c = valid_st();
    c.opts.blank = -ST_C - 1;
    expect("blank = -C - 1", &c, CTCC_STATUS_INVALID_BLANK, 1, 1);
    c = valid_st();
    c.opts.layout = (ctcc_layout)7;
    expect("bad layout", &c, CTCC_STATUS_INVALID_OPTION, 1, 1);
    c = valid_st();
    c.opts.input_kind = (ctcc_input_kind)7;
    expect("bad input kind", &c, CTCC_STATUS_INVALID_OPTION, 1, 1);
    c = valid_st();
    c.opts.num_threads = -1;
    expect("negative num_threads", &c, CTCC_STATUS_INVALID_OPTION, 1, 1);
    c = valid_st();
    c.opts.struct_size = 4;
    expect("tiny struct_size", &c, CTCC_STATUS_INVALID_OPTION, 1, 1);
    c = valid_st();
    {
        /* T * N * C = (2^31 - 1)^2 * 8 > 2^64: no element index fits. */
        static const int32_t zeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        c.T = 0x7fffffff;
        c.C = 0x7fffffff;
        c.N = 8;
        c.lengths = zeros;
        expect("array size overflow", &c, CTCC_STATUS_SIZE_OVERFLOW, 1, 1);
    }

    c = valid_st();
    c.W = 0;
    c.K = 0;
    expect("beam_width 0", &c, CTCC_STATUS_INVALID_BEAM, 1, 0);
    c = valid_st();
    c.K = 0;
    expect("top_paths 0", &c, CTCC_STATUS_INVALID_BEAM, 1, 0);
    c = valid_st();
    c.K = 4;
    expect("top_paths > beam_width", &c, CTCC_STATUS_INVALID_BEAM, 1, 0);
    c = valid_st();
    c.penalty = NAN;
    expect("NaN blank_penalty", &c, CTCC_STATUS_INVALID_BEAM, 0, 0);
    c = valid_st();
    c.penalty = INFINITY;
    expect("inf blank_penalty", &c, CTCC_STATUS_INVALID_BEAM, 0, 0);
    c = valid_st();
    prior[2] = -INFINITY;
    c.prior = prior;
    expect("non-finite log_prior", &c, CTCC_STATUS_INVALID_BEAM, 0, 0);
    c = valid_st();
    c.W = 0x7fffffff;
    c.K = 1;
    expect("node count overflow", &c, CTCC_STATUS_SIZE_OVERFLOW, 1, 0);

    /* Workspace: the reported size works, one byte less does not. */
    c = valid_st();
    ctcc_beam_workspace_size(g_len, ST_T, ST_N, ST_C, 3, 2, NULL, &needed);
    {
        unsigned char *ws = (unsigned char *)xmalloc(needed);
        c.ws = ws;
        c.bytes = needed - 1;
        expect("workspace one byte short", &c, CTCC_STATUS_WORKSPACE_TOO_SMALL,
               0, 0);
        c.bytes = needed;
        fill_sentinels();
        check(ctcc_beam_search_decode_f64(c.inputs, c.lengths, c.T, c.N, c.C,
                                          c.W, c.K, 0.0, NULL, c.paths, c.plen,
                                          c.scores, ws + 0, needed,
                                          NULL) == CTCC_STATUS_SUCCESS,
              "the reported workspace size suffices");
        /* Any alignment: an odd offset into a larger block. */
        free(ws);
        ws = (unsigned char *)xmalloc(needed + 1);
        check(ctcc_beam_search_decode_f64(c.inputs, c.lengths, c.T, c.N, c.C,
                                          c.W, c.K, 0.0, NULL, c.paths, c.plen,
                                          c.scores, ws + 1, needed,
                                          NULL) == CTCC_STATUS_SUCCESS,
              "a misaligned workspace of the reported size suffices");
        free(ws);
    }
    check(strcmp(ctcc_status_string(CTCC_STATUS_INVALID_BEAM),
                 "unknown status") != 0,
          "CTCC_STATUS_INVALID_BEAM has a description");
}

int main(void) {
    test_greedy_reference();
    test_greedy_special();
    test_beam_exact();
    test_beam_vs_plain();
    test_beam_vs_plain_many(2.0, 3000);
    test_beam_vs_plain_many(6.0, 3000);
    test_beam_padding();
    test_threads_and_layouts();
    test_penalty_and_prior();
    test_status_codes();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
