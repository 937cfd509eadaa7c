/*
 * test_align.c - tests of ctcc's forced alignment (ctcc_align_f32/f64).
 *
 * Plain C99, no framework. Every check prints one line starting with PASS
 * or FAIL; the last line is "N passed, N failed" and the exit status is
 * nonzero when anything failed.
 *
 * The expected alignments come from a brute-force reference in this file:
 * it enumerates all C^T class paths of tiny problems, keeps those that
 * collapse to the labels (merge repeats, drop blanks) and takes the most
 * probable one, ties going to the path whose state sequence is largest
 * when compared from the last frame backwards (the header's rule: stay,
 * then previous state, end on the final blank).
 */
#include "ctcc.h"

#include "testing.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Brute-force reference                                                    */
/* ------------------------------------------------------------------------ */

#define REF_MAX_T 7
#define REF_MAX_C 4
#define REF_MAX_L 4

/* Best path of one sample. logp [T][C] holds log-probabilities. Returns the
 * score (-INFINITY when no path has positive probability, then frames and
 * spans are -1); frames [T], spans [2L]. */
static double brute_align(const double *logp, int T, int C, int blank,
                          const int32_t *labels, int L, int32_t *frames,
                          int32_t *spans) {
    int path[REF_MAX_T], state[REF_MAX_T], best_state[REF_MAX_T];
    int best_path[REF_MAX_T];
    double best = -INFINITY;
    int found = 0;
    long total = 1, i;
    int t;

    for (t = 0; t < T; ++t) {
        total *= C;
    }
    for (i = 0; i < total; ++i) {
        long r = i;
        int k = 0, prev = -1, ok = 1;
        double lp = 0.0;
        for (t = 0; t < T; ++t) {
            path[t] = (int)(r % C);
            r /= C;
        }
        /* Collapse, and the state of each frame on the way. */
        for (t = 0; t < T && ok; ++t) {
            const int c = path[t];
            if (c == blank) {
                state[t] = 2 * k;
            } else if (c == prev) {
                state[t] = 2 * k - 1;
            } else {
                if (k >= L || labels[k] != c) {
                    ok = 0;
                    break;
                }
                ++k;
                state[t] = 2 * k - 1;
            }
            prev = c;
        }
        if (!ok || k != L) {
            continue;
        }
        for (t = 0; t < T; ++t) {
            lp = t == 0 ? logp[path[0]] : logp[t * C + path[t]] + lp;
        }
        if (lp == -INFINITY) {
            continue;
        }
        if (found && lp == best) {
            /* Tie: the larger state sequence read from the end wins. */
            int larger = 0;
            for (t = T - 1; t >= 0; --t) {
                if (state[t] != best_state[t]) {
                    larger = state[t] > best_state[t];
                    break;
                }
            }
            if (!larger) {
                continue;
            }
        } else if (found && !(lp > best)) {
            continue;
        }
        found = 1;
        best = lp;
        memcpy(best_state, state, sizeof(state));
        memcpy(best_path, path, sizeof(path));
    }
    for (t = 0; t < 2 * L; ++t) {
        spans[t] = -1;
    }
    if (!found) {
        for (t = 0; t < T; ++t) {
            frames[t] = -1;
        }
        return -INFINITY;
    }
    for (t = 0; t < T; ++t) {
        frames[t] = best_path[t];
        if (best_state[t] & 1) {
            const int j = best_state[t] / 2;
            if (spans[2 * j] < 0) {
                spans[2 * j] = t;
            }
            spans[2 * j + 1] = t + 1;
        }
    }
    return T == 0 && L == 0 ? 0.0 : best;
}

/* Log-softmax of one frame with libm (a frame of -inf only stays -inf). */
static void log_softmax(const double *x, int C, double *out) {
    double m = -INFINITY, s = 0.0;
    int c;
    for (c = 0; c < C; ++c) {
        m = x[c] > m ? x[c] : m;
    }
    if (m == -INFINITY) {
        for (c = 0; c < C; ++c) {
            out[c] = -INFINITY;
        }
        return;
    }
    for (c = 0; c < C; ++c) {
        s += exp(x[c] - m);
    }
    for (c = 0; c < C; ++c) {
        out[c] = x[c] - m - log(s);
    }
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */
/* ------------------------------------------------------------------------ */

#define MAXN 8

typedef struct batch {
    int N, T, C;
    double *x; /* canonical [N][T][C] */
    int32_t in_len[MAXN], lab_len[MAXN];
    int32_t *labels; /* flat */
    int total_labels;
} batch;

static batch batch_new(int N, int T, int C, int max_labels) {
    batch b;
    memset(&b, 0, sizeof(b));
    b.N = N;
    b.T = T;
    b.C = C;
    b.x = (double *)xmalloc(sizeof(double) * (size_t)(N * T * C));
    b.labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(N * max_labels));
    return b;
}

static void batch_free(batch *b) {
    free(b->x);
    free(b->labels);
}

static size_t in_layout(const batch *b, ctcc_layout layout, int n, int t,
                        int c) {
    if (layout == CTCC_LAYOUT_TIME_MAJOR) {
        return ((size_t)t * (size_t)b->N + (size_t)n) * (size_t)b->C +
               (size_t)c;
    }
    return ((size_t)n * (size_t)b->T + (size_t)t) * (size_t)b->C + (size_t)c;
}

typedef struct result {
    int32_t *frames, *spans;
    double scores[MAXN];
    ctcc_status status;
} result;

/* Runs one precision (f32 if single) on b; result arrays are allocated. */
/* options.align_end_tie of every run_align call. */
static ctcc_align_end_tie g_end_tie = CTCC_ALIGN_END_TIE_BLANK;

static result run_align(const batch *b, ctcc_layout layout,
                        ctcc_input_kind kind, int blank, int threads,
                        int single, int with_spans) {
    result r;
    ctcc_options opts;
    size_t bytes = 0, i, count = (size_t)(b->N * b->T * b->C);
    void *ws;
    int n, t, c;
    ctcc_options_init(&opts);
    opts.layout = layout;
    opts.input_kind = kind;
    opts.blank = blank;
    opts.num_threads = threads;
    opts.align_end_tie = g_end_tie;
    r.frames = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(b->N * b->T));
    r.spans =
        (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(2 * b->total_labels));
    r.status = ctcc_align_workspace_size(b->lab_len, b->in_len, b->T, b->N,
                                         b->C, &opts, &bytes);
    if (r.status != CTCC_STATUS_SUCCESS) {
        return r;
    }
    ws = xmalloc(bytes);
    if (single) {
        float *in = (float *)xmalloc(sizeof(float) * count);
        float sc[MAXN];
        for (n = 0; n < b->N; ++n) {
            for (t = 0; t < b->T; ++t) {
                for (c = 0; c < b->C; ++c) {
                    in[in_layout(b, layout, n, t, c)] =
                        (float)b->x[(n * b->T + t) * b->C + c];
                }
            }
        }
        r.status =
            ctcc_align_f32(in, b->labels, b->lab_len, b->in_len, b->T, b->N,
                           b->C, r.frames, with_spans ? r.spans : NULL, sc, ws,
                           bytes, &opts);
        for (n = 0; n < b->N; ++n) {
            r.scores[n] = sc[n];
        }
        free(in);
    } else {
        double *in = (double *)xmalloc(sizeof(double) * count);
        for (i = 0; i < count; ++i) {
            in[i] = 0;
        }
        for (n = 0; n < b->N; ++n) {
            for (t = 0; t < b->T; ++t) {
                for (c = 0; c < b->C; ++c) {
                    in[in_layout(b, layout, n, t, c)] =
                        b->x[(n * b->T + t) * b->C + c];
                }
            }
        }
        r.status =
            ctcc_align_f64(in, b->labels, b->lab_len, b->in_len, b->T, b->N,
                           b->C, r.frames, with_spans ? r.spans : NULL,
                           r.scores, ws, bytes, &opts);
        free(in);
    }
    free(ws);
    return r;
}

static void result_free(result *r) {
    free(r->frames);
    free(r->spans);
}

static int same_score(double a, double b) {
    return (isnan(a) && isnan(b)) || a == b;
}

/* Compares run_align against the brute force for every sample. */
static void compare_brute(const char *what, const batch *b, ctcc_layout layout,
                          ctcc_input_kind kind, int blank, int exact) {
    const int rb = blank < 0 ? blank + b->C : blank;
    int single;
    for (single = 0; single < 2; ++single) {
        result r = run_align(b, layout, kind, blank, 1, single, 1);
        int n, off = 0, ok = r.status == CTCC_STATUS_SUCCESS;
        double worst = 0.0;
        for (n = 0; n < b->N && ok; ++n) {
            double logp[REF_MAX_T * REF_MAX_C], want;
            int32_t frames[REF_MAX_T], spans[2 * REF_MAX_L];
            int t, T = b->in_len[n], L = b->lab_len[n];
            for (t = 0; t < T; ++t) {
                const double *x = b->x + (n * b->T + t) * b->C;
                if (kind == CTCC_INPUT_LOGITS) {
                    log_softmax(x, b->C, logp + t * b->C);
                } else {
                    memcpy(logp + t * b->C, x, sizeof(double) * (size_t)b->C);
                }
            }
            want = brute_align(logp, T, b->C, rb, b->labels + off, L, frames,
                               spans);
            for (t = 0; t < b->T; ++t) {
                const int32_t w = t < T ? frames[t] : -1;
                ok &= r.frames[n * b->T + t] == w;
            }
            for (t = 0; t < 2 * L; ++t) {
                ok &= r.spans[2 * off + t] == spans[t];
            }
            if (isinf(want)) {
                ok &= r.scores[n] == want;
            } else if (single) {
                /* The DP runs in double: the float score is its rounding. */
                const double e = fabs(r.scores[n] - want) /
                                 (fabs(want) > 1 ? fabs(want) : 1);
                worst = e > worst ? e : worst;
                ok &= e <= 2e-7;
            } else if (exact) {
                ok &= r.scores[n] == want;
            } else {
                const double e = fabs(r.scores[n] - want) /
                                 (fabs(want) > 1 ? fabs(want) : 1);
                worst = e > worst ? e : worst;
                ok &= e <= 1e-13;
            }
            off += L;
        }
        check(ok, "%s (%s, %s, %s, blank %d): brute force, worst rel %.2g",
              what, single ? "f32" : "f64",
              layout == CTCC_LAYOUT_TIME_MAJOR ? "time-major" : "batch-major",
              kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", blank, worst);
        result_free(&r);
    }
}

/* A random batch for the brute force: lengths, labels (with repeats), and
 * inputs; with ninf > 0, about one input in ninf is -INFINITY; with ties,
 * inputs are small integers (log-probabilities summing exactly). */
static batch random_batch(int C, int blank, int ninf, int ties) {
    const int N = rng_int(1, 4), T = rng_int(0, REF_MAX_T);
    const int rb = blank < 0 ? blank + C : blank;
    batch b = batch_new(N, T, C, REF_MAX_L);
    int n, i;
    for (i = 0; i < N * T * C; ++i) {
        b.x[i] = ties ? -(double)rng_int(1, 2) : rng_value(-3.0, 3.0);
        if (ninf > 0 && rng_int(1, ninf) == 1) {
            b.x[i] = -INFINITY;
        }
    }
    for (n = 0; n < N; ++n) {
        int L = C > 1 ? rng_int(0, REF_MAX_L) : 0;
        b.in_len[n] = rng_int(0, T);
        b.lab_len[n] = L;
        for (i = 0; i < L; ++i) {
            int v = rng_int(0, C - 2);
            v += v >= rb;
            /* Repeats often. */
            if (i > 0 && rng_int(0, 2) == 0) {
                v = b.labels[b.total_labels - 1];
            }
            b.labels[b.total_labels++] = v;
        }
    }
    return b;
}

static void test_brute_force(void) {
    static const ctcc_layout layouts[2] = {CTCC_LAYOUT_TIME_MAJOR,
                                           CTCC_LAYOUT_BATCH_MAJOR};
    int i;
    for (i = 0; i < 240; ++i) {
        const int C = rng_int(1, REF_MAX_C);
        const int blank_choice = rng_int(0, 2);
        const int blank =
            blank_choice == 0 ? 0 : (blank_choice == 1 ? -1 : C / 2);
        const int mode = i % 4; /* plain, -inf entries, ties, ties + -inf */
        const ctcc_input_kind kind = mode >= 2 || rng_int(0, 1)
                                         ? CTCC_INPUT_LOG_PROBS
                                         : CTCC_INPUT_LOGITS;
        batch b = random_batch(C, blank, mode & 1 ? 4 : 0, mode >= 2);
        char name[64];
        snprintf(name, sizeof(name), "random %d (%s)", i,
                 mode == 0   ? "plain"
                 : mode == 1 ? "-inf entries"
                 : mode == 2 ? "exact ties"
                             : "ties and -inf");
        compare_brute(name, &b, layouts[i % 2 == 0 ? 0 : 1], kind, blank,
                      kind == CTCC_INPUT_LOG_PROBS);
        batch_free(&b);
    }
}

/* Hand-checked cases of the documented rules. */
static void test_hand_cases(void) {
    /* Uniform log-probabilities: every path ties. One label, three frames:
     * stay preferred from the end: the label at frame 0 then the final
     * blank twice. */
    {
        batch b = batch_new(1, 3, 2, 1);
        result r;
        int i;
        for (i = 0; i < 6; ++i) {
            b.x[i] = -0.5;
        }
        b.in_len[0] = 3;
        b.lab_len[0] = 1;
        b.labels[0] = 1;
        b.total_labels = 1;
        r = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, CTCC_INPUT_LOG_PROBS, 0, 1, 0,
                      1);
        check(r.frames[0] == 1 && r.frames[1] == 0 && r.frames[2] == 0 &&
                  r.spans[0] == 0 && r.spans[1] == 1 && r.scores[0] == -1.5,
              "ties: uniform, [1] in 3 frames -> 1 0 0, span [0, 1), "
              "score -1.5 (got %d %d %d, [%d, %d), %g)",
              r.frames[0], r.frames[1], r.frames[2], r.spans[0], r.spans[1],
              r.scores[0]);
        result_free(&r);
        batch_free(&b);
    }
    /* Two frames, one label: the path ends on the final blank (1 0),
     * not on the label (0 1), when both are equally probable. */
    {
        batch b = batch_new(1, 2, 2, 1);
        result r;
        b.x[0] = -1;
        b.x[1] = -1;
        b.x[2] = -1;
        b.x[3] = -1;
        b.in_len[0] = 2;
        b.lab_len[0] = 1;
        b.labels[0] = 1;
        b.total_labels = 1;
        r = run_align(&b, CTCC_LAYOUT_BATCH_MAJOR, CTCC_INPUT_LOG_PROBS, 0, 1,
                      1, 1);
        check(r.frames[0] == 1 && r.frames[1] == 0,
              "ties: end on the final blank (got %d %d)", r.frames[0],
              r.frames[1]);
        result_free(&r);
        /* With CTCC_ALIGN_END_TIE_LABEL the path ends on the label, and
         * stays there from the end: 1 1. */
        g_end_tie = CTCC_ALIGN_END_TIE_LABEL;
        r = run_align(&b, CTCC_LAYOUT_BATCH_MAJOR, CTCC_INPUT_LOG_PROBS, 0, 1,
                      0, 1);
        g_end_tie = CTCC_ALIGN_END_TIE_BLANK;
        check(r.frames[0] == 1 && r.frames[1] == 1 && r.spans[0] == 0 &&
                  r.spans[1] == 2 && r.scores[0] == -2.0,
              "ties: end on the last label with CTCC_ALIGN_END_TIE_LABEL "
              "(got %d %d, [%d, %d), %g)",
              r.frames[0], r.frames[1], r.spans[0], r.spans[1], r.scores[0]);
        result_free(&r);
        batch_free(&b);
    }
    /* Repeated labels need a blank between them: [1, 1] in 3 frames is
     * exactly 1 0 1; in 2 frames it is infeasible. No labels: all blank. */
    {
        batch b = batch_new(3, 3, 3, 2);
        result r;
        int i;
        for (i = 0; i < 27; ++i) {
            b.x[i] = rng_value(-2, 2);
        }
        b.in_len[0] = 3;
        b.in_len[1] = 2;
        b.in_len[2] = 3;
        b.lab_len[0] = 2;
        b.lab_len[1] = 2;
        b.lab_len[2] = 0;
        b.labels[0] = b.labels[1] = b.labels[2] = b.labels[3] = 1;
        b.total_labels = 4;
        r = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, CTCC_INPUT_LOGITS, 2, 2, 0,
                      1);
        check(r.frames[0] == 1 && r.frames[1] == 2 && r.frames[2] == 1 &&
                  r.spans[0] == 0 && r.spans[1] == 1 && r.spans[2] == 2 &&
                  r.spans[3] == 3,
              "repeat [1, 1] in 3 frames -> 1 2 1 with blank 2");
        check(r.frames[3] == -1 && r.frames[4] == -1 && r.frames[5] == -1 &&
                  r.spans[4] == -1 && r.spans[5] == -1 && r.spans[6] == -1 &&
                  r.spans[7] == -1 && r.scores[1] == -INFINITY,
              "repeat [1, 1] in 2 frames: infeasible, -1 and -inf");
        check(r.frames[6] == 2 && r.frames[7] == 2 && r.frames[8] == 2 &&
                  isfinite(r.scores[2]),
              "no labels: every frame blank");
        result_free(&r);
        batch_free(&b);
    }
    /* T = 0 and L = 0 (with another sample making max_time > 0): score 0,
     * frames -1. */
    {
        batch b = batch_new(2, 2, 2, 1);
        result r;
        int i;
        for (i = 0; i < 8; ++i) {
            b.x[i] = rng_value(-2, 2);
        }
        b.in_len[0] = 0;
        b.in_len[1] = 2;
        b.lab_len[0] = 0;
        b.lab_len[1] = 1;
        b.labels[0] = 1;
        b.total_labels = 1;
        r = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, CTCC_INPUT_LOGITS, 0, 0, 1,
                      1);
        check(r.status == CTCC_STATUS_SUCCESS && r.scores[0] == 0 &&
                  r.frames[0] == -1 && r.frames[1] == -1,
              "T = 0, L = 0: score 0, frames -1");
        result_free(&r);
        batch_free(&b);
    }
    /* max_time = 0 for the whole batch. */
    {
        batch b = batch_new(2, 0, 3, 1);
        result r;
        b.lab_len[1] = 1;
        b.labels[0] = 2;
        b.total_labels = 1;
        r = run_align(&b, CTCC_LAYOUT_BATCH_MAJOR, CTCC_INPUT_LOGITS, 0, 0, 0,
                      1);
        check(r.status == CTCC_STATUS_SUCCESS && r.scores[0] == 0 &&
                  r.scores[1] == -INFINITY && r.spans[0] == -1 &&
                  r.spans[1] == -1,
              "max_time 0: empty sample 0, infeasible sample -inf");
        result_free(&r);
        batch_free(&b);
    }
}

/* NaN / +inf inside a valid frame poison only that sample; past the input
 * length they are never read. */
static void test_non_finite(void) {
    int single, kind, which;
    for (which = 0; which < 2; ++which) {
        for (kind = 0; kind < 2; ++kind) {
            for (single = 0; single < 2; ++single) {
                batch b = batch_new(3, 4, 3, 2);
                result r, clean;
                int i, ok;
                const double bad = which ? INFINITY : NAN;
                for (i = 0; i < 36; ++i) {
                    b.x[i] = rng_value(-2, 0);
                }
                for (i = 0; i < 3; ++i) {
                    b.in_len[i] = i == 2 ? 2 : 4;
                    b.lab_len[i] = 1;
                    b.labels[i] = 1;
                }
                b.total_labels = 3;
                clean = run_align(&b, CTCC_LAYOUT_TIME_MAJOR,
                                  (ctcc_input_kind)kind, 0, 1, single, 1);
                /* Sample 0, frame 2, a class the label never uses. */
                b.x[(0 * 4 + 2) * 3 + 2] = bad;
                /* Sample 2, frame 3: past its length 2. */
                b.x[(2 * 4 + 3) * 3 + 1] = bad;
                r = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, (ctcc_input_kind)kind,
                              0, 1, single, 1);
                ok = isnan(r.scores[0]) && r.spans[0] == -1 && r.spans[1] == -1;
                for (i = 0; i < 4; ++i) {
                    ok &= r.frames[i] == -1;
                }
                for (i = 4; i < 12; ++i) {
                    ok &= r.frames[i] == clean.frames[i];
                }
                ok &= same_score(r.scores[1], clean.scores[1]) &&
                      same_score(r.scores[2], clean.scores[2]) &&
                      isfinite(r.scores[2]);
                check(ok,
                      "%s in a valid frame (%s, %s): score NaN, frames and "
                      "spans -1; other samples and frames past the length "
                      "unaffected",
                      which ? "+inf" : "NaN", single ? "f32" : "f64",
                      kind ? "log-probs" : "logits");
                result_free(&r);
                result_free(&clean);
                batch_free(&b);
            }
        }
    }
}

/* A larger random batch: threads bitwise, layouts, f32 vs f64, and the
 * properties of a path (collapse, spans, score = sum of its emissions). */
static void test_large_batch(ctcc_input_kind kind) {
    const int N = 7, T = 60, C = 6;
    batch b = batch_new(N, T, C, 30);
    result r1, r2, r0, rb, r32, rns;
    int n, t, i, ok, off = 0;
    for (i = 0; i < N * T * C; ++i) {
        b.x[i] = rng_value(-4, 2);
    }
    if (kind == CTCC_INPUT_LOG_PROBS) {
        for (i = 0; i < N * T; ++i) {
            double out[8];
            log_softmax(b.x + i * C, C, out);
            memcpy(b.x + i * C, out, sizeof(double) * (size_t)C);
        }
    }
    for (n = 0; n < N; ++n) {
        const int L = rng_int(0, 30);
        b.in_len[n] = rng_int(40, T);
        b.lab_len[n] = L;
        for (i = 0; i < L; ++i) {
            b.labels[b.total_labels++] = rng_int(1, C - 1);
        }
    }
    r1 = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, kind, 0, 1, 0, 1);
    r2 = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, kind, 0, 2, 0, 1);
    r0 = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, kind, 0, 0, 0, 1);
    rb = run_align(&b, CTCC_LAYOUT_BATCH_MAJOR, kind, 0, 2, 0, 1);
    r32 = run_align(&b, CTCC_LAYOUT_BATCH_MAJOR, kind, 0, 2, 1, 1);
    rns = run_align(&b, CTCC_LAYOUT_TIME_MAJOR, kind, 0, 2, 0, 0);
    ok = 1;
    for (i = 0; i < N * T; ++i) {
        ok &= r1.frames[i] == r2.frames[i] && r1.frames[i] == r0.frames[i] &&
              r1.frames[i] == rns.frames[i];
    }
    for (i = 0; i < 2 * b.total_labels; ++i) {
        ok &= r1.spans[i] == r2.spans[i] && r1.spans[i] == r0.spans[i];
    }
    ok &= memcmp(r1.scores, r2.scores, sizeof(double) * N) == 0 &&
          memcmp(r1.scores, r0.scores, sizeof(double) * N) == 0;
    check(ok,
          "large batch (%s): 1, 2 and default threads bitwise equal, "
          "spans NULL gives the same frames",
          kind ? "log-probs" : "logits");
    ok = 1;
    for (i = 0; i < N * T; ++i) {
        ok &= r1.frames[i] == rb.frames[i] && r1.frames[i] == r32.frames[i];
    }
    for (i = 0; i < 2 * b.total_labels; ++i) {
        ok &= r1.spans[i] == rb.spans[i] && r1.spans[i] == r32.spans[i];
    }
    for (n = 0; n < N; ++n) {
        ok &= r1.scores[n] == rb.scores[n] &&
              (float)r1.scores[n] == (float)r32.scores[n];
    }
    check(ok,
          "large batch (%s): batch-major equal to time-major; f32 frames and "
          "spans equal to f64, f32 score the rounded f64 score",
          kind ? "log-probs" : "logits");

    ok = 1;
    for (n = 0; n < N; ++n) {
        const int L = b.lab_len[n], Tn = b.in_len[n];
        int k = 0, prev = -1, feasible = isfinite(r1.scores[n]);
        double sum = 0.0;
        if (!feasible) {
            /* Only by length: the inputs are finite. */
            int rep = 0;
            for (i = 1; i < L; ++i) {
                rep += b.labels[off + i] == b.labels[off + i - 1];
            }
            ok &= Tn < L + rep;
            off += L;
            continue;
        }
        for (t = 0; t < Tn; ++t) {
            const int c = r1.frames[n * T + t];
            double lp[8];
            if (kind == CTCC_INPUT_LOGITS) {
                log_softmax(b.x + (n * T + t) * C, C, lp);
            } else {
                memcpy(lp, b.x + (n * T + t) * C, sizeof(double) * (size_t)C);
            }
            sum += lp[c];
            if (c != 0 && c != prev) {
                ok &= k < L && b.labels[off + k] == c;
                /* The span of label k starts here. */
                ok &= r1.spans[2 * (off + k)] == t;
                ++k;
            }
            if (c != 0 && (t + 1 == Tn || r1.frames[n * T + t + 1] != c)) {
                ok &= r1.spans[2 * (off + k - 1) + 1] == t + 1;
            }
            prev = c;
        }
        for (t = Tn; t < T; ++t) {
            ok &= r1.frames[n * T + t] == -1;
        }
        ok &= k == L;
        ok &= fabs(sum - r1.scores[n]) <= 1e-9 * (1 + fabs(sum));
        off += L;
    }
    check(ok,
          "large batch (%s): frames collapse to the labels, spans match the "
          "frames, score = sum of the path's log-probabilities",
          kind ? "log-probs" : "logits");
    result_free(&r1);
    result_free(&r2);
    result_free(&r0);
    result_free(&rb);
    result_free(&r32);
    result_free(&rns);
    batch_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Status codes: order, and outputs untouched on error                      */
/* ------------------------------------------------------------------------ */

#define SENT 12345
#define SENT_SCORE 777.0

typedef struct call {
    int32_t T, N, C;
    int32_t in_len[MAXN], lab_len[MAXN], labels[16];
    ctcc_options opts;
    int null_inputs, null_labels, null_lab_len, null_in_len, null_frames,
        null_scores, null_ws, null_opts, no_spans;
    int ws_short;
} call;

static call valid_call(void) {
    call c;
    memset(&c, 0, sizeof(c));
    c.T = 4;
    c.N = 2;
    c.C = 3;
    c.in_len[0] = 4;
    c.in_len[1] = 3;
    c.lab_len[0] = 2;
    c.lab_len[1] = 1;
    c.labels[0] = 1;
    c.labels[1] = 2;
    c.labels[2] = 2;
    ctcc_options_init(&c.opts);
    return c;
}

static void expect_align(const char *what, const call *c, ctcc_status want) {
    int d;
    for (d = 0; d < 2; ++d) {
        double in64[64], s64[MAXN];
        float in32[64], s32[MAXN];
        int32_t frames[64], spans[32];
        unsigned char ws[1 << 14];
        size_t bytes = sizeof(ws);
        ctcc_status st, ws_st;
        int i, untouched = 1;
        for (i = 0; i < 64; ++i) {
            in64[i] = rng_value(-1, 1);
            in32[i] = (float)in64[i];
            frames[i] = SENT;
        }
        for (i = 0; i < 32; ++i) {
            spans[i] = SENT;
        }
        for (i = 0; i < MAXN; ++i) {
            s64[i] = SENT_SCORE;
            s32[i] = (float)SENT_SCORE;
        }
        ws_st = ctcc_align_workspace_size(c->lab_len, c->in_len, c->T, c->N,
                                          c->C, &c->opts, &bytes);
        if (ws_st != CTCC_STATUS_SUCCESS || bytes > sizeof(ws)) {
            bytes = sizeof(ws);
        }
        bytes -= (size_t)c->ws_short;
        if (d == 0) {
            st = ctcc_align_f64(c->null_inputs ? NULL : in64,
                                c->null_labels ? NULL : c->labels,
                                c->null_lab_len ? NULL : c->lab_len,
                                c->null_in_len ? NULL : c->in_len, c->T, c->N,
                                c->C, c->null_frames ? NULL : frames,
                                c->no_spans ? NULL : spans,
                                c->null_scores ? NULL : s64,
                                c->null_ws ? NULL : ws, bytes,
                                c->null_opts ? NULL : &c->opts);
        } else {
            st = ctcc_align_f32(c->null_inputs ? NULL : in32,
                                c->null_labels ? NULL : c->labels,
                                c->null_lab_len ? NULL : c->lab_len,
                                c->null_in_len ? NULL : c->in_len, c->T, c->N,
                                c->C, c->null_frames ? NULL : frames,
                                c->no_spans ? NULL : spans,
                                c->null_scores ? NULL : s32,
                                c->null_ws ? NULL : ws, bytes,
                                c->null_opts ? NULL : &c->opts);
        }
        if (want != CTCC_STATUS_SUCCESS) {
            for (i = 0; i < 64; ++i) {
                untouched &= frames[i] == SENT;
            }
            for (i = 0; i < 32; ++i) {
                untouched &= spans[i] == SENT;
            }
            for (i = 0; i < MAXN; ++i) {
                untouched &=
                    s64[i] == SENT_SCORE && s32[i] == (float)SENT_SCORE;
            }
        }
        check(st == want && untouched,
              "ctcc_align_%s, %s: status %d (%s), want %d%s", d ? "f32" : "f64",
              what, (int)st, ctcc_status_string(st), (int)want,
              want == CTCC_STATUS_SUCCESS
                  ? ""
                  : (untouched ? ", outputs untouched" : ", OUTPUTS WRITTEN"));
    }
}

static void expect_ws(const char *what, const call *c, ctcc_status want) {
    size_t bytes = 4321;
    ctcc_status st =
        ctcc_align_workspace_size(c->null_lab_len ? NULL : c->lab_len,
                                  c->null_in_len ? NULL : c->in_len, c->T, c->N,
                                  c->C, c->null_opts ? NULL : &c->opts,
                                  c->null_ws ? NULL : &bytes);
    check(st == want && (want == CTCC_STATUS_SUCCESS || bytes == 4321),
          "ctcc_align_workspace_size, %s: status %d, want %d", what, (int)st,
          (int)want);
}

static void expect_both(const char *what, const call *c, ctcc_status want) {
    expect_align(what, c, want);
    expect_ws(what, c, want);
}

static void test_status_codes(void) {
    call c;
    size_t a = 0, b = 0, big = 0;

    c = valid_call();
    expect_both("valid call", &c, CTCC_STATUS_SUCCESS);
    c.null_opts = 1;
    expect_both("options NULL", &c, CTCC_STATUS_SUCCESS);
    c = valid_call();
    c.no_spans = 1;
    expect_align("spans NULL", &c, CTCC_STATUS_SUCCESS);
    c = valid_call();
    c.opts.align_end_tie = CTCC_ALIGN_END_TIE_LABEL;
    expect_align("align_end_tie label", &c, CTCC_STATUS_SUCCESS);
    c = valid_call();
    c.opts.align_end_tie = (ctcc_align_end_tie)2;
    expect_align("align_end_tie 2", &c, CTCC_STATUS_INVALID_OPTION);

    c = valid_call();
    c.null_inputs = 1;
    expect_align("inputs NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_frames = 1;
    expect_align("frames NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_scores = 1;
    expect_align("scores NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_ws = 1;
    expect_both("workspace / size_bytes NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_lab_len = 1;
    expect_both("label_lengths NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_in_len = 1;
    c.N = 0; /* NULL pointers come before the batch size */
    expect_both("input_lengths NULL before batch 0", &c,
                CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_labels = 1;
    expect_align("flat_labels NULL with labels", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_labels = 1;
    c.lab_len[0] = c.lab_len[1] = 0;
    expect_align("flat_labels NULL without labels", &c, CTCC_STATUS_SUCCESS);
    c = valid_call();
    c.null_labels = 1;
    c.labels[0] = 7;
    c.C = -1; /* the alphabet is checked before flat_labels */
    expect_align("alphabet before NULL flat_labels", &c,
                 CTCC_STATUS_INVALID_ALPHABET_SIZE);

    c = valid_call();
    c.N = 0;
    c.C = 0;
    expect_both("batch 0 (before alphabet)", &c,
                CTCC_STATUS_INVALID_BATCH_SIZE);
    c = valid_call();
    c.C = 0;
    c.T = -1;
    expect_both("alphabet 0 (before max_time)", &c,
                CTCC_STATUS_INVALID_ALPHABET_SIZE);
    c = valid_call();
    c.T = -1;
    expect_both("max_time -1", &c, CTCC_STATUS_INVALID_MAX_TIME);
    c = valid_call();
    c.in_len[1] = 5;
    c.lab_len[0] = -1;
    expect_both("input length > max_time (before label length)", &c,
                CTCC_STATUS_INVALID_INPUT_LENGTH);
    c = valid_call();
    c.in_len[0] = -1;
    expect_both("input length -1", &c, CTCC_STATUS_INVALID_INPUT_LENGTH);
    c = valid_call();
    c.lab_len[1] = -1;
    c.opts.blank = 9;
    expect_both("label length -1 (before options)", &c,
                CTCC_STATUS_INVALID_LABEL_LENGTH);
    c = valid_call();
    c.opts.layout = (ctcc_layout)7;
    expect_both("layout 7", &c, CTCC_STATUS_INVALID_OPTION);
    c = valid_call();
    c.opts.input_kind = (ctcc_input_kind)3;
    expect_both("input kind 3", &c, CTCC_STATUS_INVALID_OPTION);
    c = valid_call();
    c.opts.num_threads = -1;
    expect_both("num_threads -1", &c, CTCC_STATUS_INVALID_OPTION);
    c = valid_call();
    c.opts.struct_size = 4;
    expect_both("struct_size too small", &c, CTCC_STATUS_INVALID_OPTION);
    c = valid_call();
    c.opts.blank = 3;
    expect_both("blank 3 of 3", &c, CTCC_STATUS_INVALID_BLANK);
    c = valid_call();
    c.opts.blank = -4;
    expect_both("blank -4 of 3", &c, CTCC_STATUS_INVALID_BLANK);
    c = valid_call();
    c.opts.blank = -1;
    c.labels[0] = 0;
    expect_align("blank -1 (class 2) with labels 0, 2, 2", &c,
                 CTCC_STATUS_LABEL_IS_BLANK);

    c = valid_call();
    c.T = 0x7fffffff;
    c.N = 2;
    c.C = 0x7fffffff;
    c.in_len[0] = c.in_len[1] = 1;
    if (sizeof(size_t) == 8) {
        /* 2^31 * 2 * 2^31 is only 2^63: use 8 samples. */
        int i;
        c.N = 8;
        for (i = 2; i < 8; ++i) {
            c.in_len[i] = 1;
        }
    }
    c.labels[0] = -5;
    expect_both("array size overflow (before label values)", &c,
                CTCC_STATUS_SIZE_OVERFLOW);

    c = valid_call();
    c.labels[2] = 3;
    c.labels[0] = 0; /* blank in sample 0, out of range in sample 1 */
    expect_align("label out of range after a blank label", &c,
                 CTCC_STATUS_LABEL_OUT_OF_RANGE);
    c = valid_call();
    c.labels[1] = -1;
    expect_align("label -1", &c, CTCC_STATUS_LABEL_OUT_OF_RANGE);
    c = valid_call();
    c.labels[1] = 0;
    expect_align("label equals blank 0", &c, CTCC_STATUS_LABEL_IS_BLANK);

    c = valid_call();
    c.opts.num_threads = 1; /* the smallest plan: no fewer threads to fall to */
    c.ws_short = 1;
    expect_align("workspace 1 byte short", &c, CTCC_STATUS_WORKSPACE_TOO_SMALL);
    c = valid_call();
    c.opts.num_threads = 1;
    c.ws_short = 1;
    c.opts.num_threads =
        4; /* sized for 4 threads, 1 byte short: runs on fewer */
    expect_align("workspace 1 byte short of 4 threads' size", &c,
                 CTCC_STATUS_SUCCESS);

    /* Workspace overflow: huge lengths, before the workspace size. */
    if (sizeof(size_t) == 4) {
        c = valid_call();
        c.T = 0x7fffffff;
        c.in_len[0] = 0x7fffffff;
        c.lab_len[0] = 0x3fffffff;
        c.C = 1;
        expect_ws("workspace size overflow", &c, CTCC_STATUS_SIZE_OVERFLOW);
    } else {
        /* The largest lengths: no overflow any more (checkpoints instead of
         * T * S back-pointers), and far below the 2^66 bytes of before. */
        c = valid_call();
        c.N = 8;
        c.T = 0x7fffffff;
        c.C = 1;
        c.opts.num_threads = 0x7fffffff;
        {
            int i;
            for (i = 0; i < 8; ++i) {
                c.in_len[i] = 0x7fffffff;
                c.lab_len[i] = 0x7fffffff;
            }
        }
        expect_ws("largest lengths and threads", &c, CTCC_STATUS_SUCCESS);
        ctcc_align_workspace_size(c.lab_len, c.in_len, c.T, c.N, c.C, &c.opts,
                                  &a);
        check(a < ((size_t)1 << 56), "largest lengths: %g bytes", (double)a);
    }

    /* The documented size: with K = ceil(sqrt(T)), about
     * 8 (2L + 5) (ceil(T / K) + 1) + K (K / 2 + 4) + 26 L bytes per slot
     * plus the tables of the threads (8 F (C + 3) + ...), the same for both precisions (no dtype) and
     * every label value; it grows like sqrt(T) * L, not T * L. */
    {
        static const int32_t Ts[4] = {1000, 30000, 180000, 1};
        static const int32_t Ls[4] = {10, 2000, 12000, 0};
        int i;
        ctcc_options one;
        ctcc_options_init(&one);
        one.num_threads = 1;
        for (i = 0; i < 4; ++i) {
            int32_t il[1], ll[1];
            double K, F, doc;
            il[0] = Ts[i];
            ll[0] = Ls[i];
            K = ceil(sqrt((double)Ts[i]));
            F = fmin(64.0, fmax(1.0, floor(8192.0 / 32)));
            F = fmin(F, (double)Ts[i]);
            doc = 8.0 * (2.0 * Ls[i] + 5) * (ceil(Ts[i] / K) + 1) +
                  K * (K / 2 + 4) + 26.0 * Ls[i] +
                  8.0 * (F * (32 + 3) +
                         (F + 1) * (floor((2.0 * Ls[i] + 1) / 1024) + 2)) +
                  16;
            ctcc_align_workspace_size(ll, il, Ts[i], 1, 32, &one, &a);
            check((double)a >= 0.9 * doc && (double)a <= 1.1 * doc + 1024,
                  "workspace T=%d L=%d: %lu bytes, documented about %.0f",
                  (int)Ts[i], (int)Ls[i], (unsigned long)a, doc);
        }
        /* Two threads, one sample of 2L + 1 >= 2 * 1024 states: one slot,
         * split over both threads (a second part region: two rows and an
         * export of two doubles per frame); two samples: two slots. */
        {
            int32_t il[2] = {30000, 30000}, ll[2] = {2000, 2000};
            ctcc_options two;
            ctcc_options_init(&two);
            two.num_threads = 2;
            ctcc_align_workspace_size(ll, il, 30000, 1, 32, &one, &a);
            ctcc_align_workspace_size(ll, il, 30000, 1, 32, &two, &b);
            ctcc_align_workspace_size(ll, il, 30000, 2, 32, &two, &big);
            check(b > a && b < a + 2 * (16 * 30000 + 16 * 4010 + 1024) &&
                      big > 2 * a - 1024,
                  "workspace with 2 threads: %lu, %lu, %lu", (unsigned long)a,
                  (unsigned long)b, (unsigned long)big);
        }
    }
}

int main(void) {
    test_brute_force();
    test_hand_cases();
    test_non_finite();
    test_large_batch(CTCC_INPUT_LOGITS);
    test_large_batch(CTCC_INPUT_LOG_PROBS);
    test_status_codes();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
