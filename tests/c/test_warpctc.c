/*
 * test_warpctc.c - tests of the warp-ctc compatibility API.
 *
 * Written as a warp-ctc user would write it: only <ctc.h> (the header in
 * include/warpctc) is included and only warp-ctc's functions are called.
 * Plain C99. Every check prints one line starting with PASS or FAIL; the
 * last line is "N passed, N failed" and the exit status is nonzero when
 * anything failed.
 *
 * The float32 functions and their float64 versions (compute_ctc_loss_double,
 * get_workspace_size_double) are tested alike. The expected values come
 * from outside the library: the worked "egg" example (published
 * probabilities, loss and gradient), a brute-force
 * enumeration of all C^T paths of tiny problems, central finite
 * differences of the returned costs, and the promises of ctc.h (statuses,
 * untouched outputs on error, thread-count independence).
 */
#include <ctc.h>

#ifdef CTCC_H
#error "this test must see warp-ctc's API only"
#endif

#include "testing.h"
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Comparisons                                                              */
/* ------------------------------------------------------------------------ */

static ctcOptions cpu_options(unsigned int num_threads, int blank) {
    ctcOptions o;
    memset(&o, 0, sizeof(o));
    o.loc = CTC_CPU;
    o.num_threads = num_threads;
    o.blank_label = blank;
    return o;
}

/* Equal infinities, or |got - want| <= atol + rtol |want|. */
static int close_to(double got, double want, double rtol, double atol) {
    if (isinf(want)) {
        return isinf(got) && (got > 0) == (want > 0);
    }
    if (isnan(got) || isinf(got)) {
        return 0;
    }
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* ------------------------------------------------------------------------ */
/* Brute-force reference                                                    */
/* ------------------------------------------------------------------------ */

#define REF_MAX_T 6
#define REF_MAX_C 4

/* The CTC loss of one sample of unnormalised activations x[T][C] by
 * enumeration of all C^T paths: loss = -log P (+INFINITY when no path
 * spells the labels) and grad[T][C] = softmax(x) - posterior (zero when
 * infeasible). */
static void reference_ctc(const double *x, int T, int C, int blank,
                          const int *labels, int L, double *loss,
                          double *grad) {
    double logp[REF_MAX_T * REF_MAX_C], post[REF_MAX_T * REF_MAX_C];
    int path[REF_MAX_T], out[REF_MAX_T];
    long total = 1, i;
    double P = 0.0;
    int t, c;

    if (T > REF_MAX_T || C > REF_MAX_C) {
        fprintf(stderr, "reference_ctc: problem too large\n");
        exit(2);
    }
    for (t = 0; t < T; ++t) {
        double m = -INFINITY, s = 0.0;
        total *= C;
        for (c = 0; c < C; ++c) {
            m = x[t * C + c] > m ? x[t * C + c] : m;
        }
        for (c = 0; c < C; ++c) {
            s += exp(x[t * C + c] - m);
        }
        for (c = 0; c < C; ++c) {
            logp[t * C + c] = x[t * C + c] - m - log(s);
            post[t * C + c] = 0.0;
        }
    }
    for (i = 0; i < total; ++i) {
        long r = i;
        int len = 0, prev = -1, match = 1;
        double lp = 0.0, p;
        for (t = 0; t < T; ++t) {
            path[t] = (int)(r % C);
            r /= C;
        }
        for (t = 0; t < T; ++t) { /* merge repeats, drop blanks */
            if (path[t] != prev && path[t] != blank) {
                out[len++] = path[t];
            }
            prev = path[t];
        }
        if (len != L) {
            continue;
        }
        for (t = 0; t < L; ++t) {
            match = match && out[t] == labels[t];
        }
        if (!match) {
            continue;
        }
        for (t = 0; t < T; ++t) {
            lp += logp[t * C + path[t]];
        }
        p = exp(lp);
        P += p;
        for (t = 0; t < T; ++t) {
            post[t * C + path[t]] += p;
        }
    }
    for (t = 0; t < T; ++t) {
        for (c = 0; c < C; ++c) {
            grad[t * C + c] =
                P > 0.0 ? exp(logp[t * C + c]) - post[t * C + c] / P : 0.0;
        }
    }
    *loss = P > 0.0 ? -log(P) : INFINITY;
}

/* ------------------------------------------------------------------------ */
/* A batch in warp-ctc's layout                                             */
/* ------------------------------------------------------------------------ */

#define GRAD_SENTINEL 777.0f
#define COST_SENTINEL -555.0f
#define WS_BYTE 0xA5

/* acts and grads hold T_alloc >= max(in_len) frames of [T_alloc][N][C];
 * frames a sample does not own hold NaN. */
typedef struct batch {
    int N, T_alloc, C, blank;
    int *in_len, *lab_len, *labels;
    float *acts;
} batch;

static size_t idx(const batch *b, int t, int n, int c) {
    return ((size_t)t * (size_t)b->N + (size_t)n) * (size_t)b->C + (size_t)c;
}

static size_t elements(const batch *b) {
    return (size_t)b->T_alloc * (size_t)b->N * (size_t)b->C;
}

static batch batch_new(int N, int T_alloc, int C, int blank) {
    batch b;
    size_t i;
    b.N = N;
    b.T_alloc = T_alloc;
    b.C = C;
    b.blank = blank;
    b.in_len = (int *)xmalloc((size_t)N * sizeof(int));
    b.lab_len = (int *)xmalloc((size_t)N * sizeof(int));
    b.labels =
        (int *)xmalloc(((size_t)N * ((size_t)T_alloc + 3) + 1) * sizeof(int));
    b.acts = (float *)xmalloc(elements(&b) * sizeof(float));
    for (i = 0; i < elements(&b); ++i) {
        b.acts[i] = NAN;
    }
    for (i = 0; i < (size_t)N; ++i) {
        b.in_len[i] = 0;
        b.lab_len[i] = 0;
    }
    return b;
}

static void batch_free(batch *b) {
    free(b->in_len);
    free(b->lab_len);
    free(b->labels);
    free(b->acts);
}

static int label_offset(const batch *b, int n) {
    int i, off = 0;
    for (i = 0; i < n; ++i) {
        off += b->lab_len[i];
    }
    return off;
}

/* Random activations in [-3, 3) on sample n's frames and random labels
 * (never the blank); samples must be filled in order. */
static void fill_sample(batch *b, int n, int in_len, int lab_len) {
    int t, c, i, off = label_offset(b, n);
    b->in_len[n] = in_len;
    b->lab_len[n] = lab_len;
    for (t = 0; t < in_len; ++t) {
        for (c = 0; c < b->C; ++c) {
            b->acts[idx(b, t, n, c)] = (float)(6.0 * rng_uniform() - 3.0);
        }
    }
    for (i = 0; i < lab_len; ++i) {
        int l = rng_int(0, b->C - 2);
        b->labels[off + i] = l >= b->blank ? l + 1 : l;
    }
}

/* Runs get_workspace_size and compute_ctc_loss with a workspace of exactly
 * the reported size. grads may be NULL; otherwise it must hold
 * elements(b) floats and is preset to GRAD_SENTINEL. */
static ctcStatus_t run_batch(const batch *b, unsigned int threads, float *costs,
                             float *grads) {
    ctcOptions o = cpu_options(threads, b->blank);
    size_t bytes = 0, i;
    void *ws;
    ctcStatus_t st =
        get_workspace_size(b->lab_len, b->in_len, b->C, b->N, o, &bytes);
    if (st != CTC_STATUS_SUCCESS) {
        return st;
    }
    ws = xmalloc(bytes);
    if (grads != NULL) {
        for (i = 0; i < elements(b); ++i) {
            grads[i] = GRAD_SENTINEL;
        }
    }
    st = compute_ctc_loss(b->acts, grads, b->labels, b->lab_len, b->in_len,
                          b->C, b->N, costs, ws, o);
    free(ws);
    return st;
}

/* The batch's activations in double (NaN where it has NaN). */
static double *acts_double(const batch *b) {
    double *a = (double *)xmalloc(elements(b) * sizeof(double));
    size_t i;
    for (i = 0; i < elements(b); ++i) {
        a[i] = (double)b->acts[i];
    }
    return a;
}

/* run_batch through get_workspace_size_double and compute_ctc_loss_double,
 * on acts (elements(b) doubles). */
static ctcStatus_t run_batch_double(const batch *b, const double *acts,
                                    unsigned int threads, double *costs,
                                    double *grads) {
    ctcOptions o = cpu_options(threads, b->blank);
    size_t bytes = 0, i;
    void *ws;
    ctcStatus_t st =
        get_workspace_size_double(b->lab_len, b->in_len, b->C, b->N, o, &bytes);
    if (st != CTC_STATUS_SUCCESS) {
        return st;
    }
    ws = xmalloc(bytes);
    if (grads != NULL) {
        for (i = 0; i < elements(b); ++i) {
            grads[i] = GRAD_SENTINEL;
        }
    }
    st = compute_ctc_loss_double(acts, grads, b->labels, b->lab_len, b->in_len,
                                 b->C, b->N, costs, ws, o);
    free(ws);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Version and status strings                                               */
/* ------------------------------------------------------------------------ */

static void test_version_and_strings(void) {
    const ctcStatus_t all[5] = {
        CTC_STATUS_SUCCESS, CTC_STATUS_MEMOPS_FAILED, CTC_STATUS_INVALID_VALUE,
        CTC_STATUS_EXECUTION_FAILED, CTC_STATUS_UNKNOWN_ERROR};
    const char *text[5];
    const char *unknown;
    int i, j, distinct = 1;

    check(get_warpctc_version() == 2, "get_warpctc_version() = %d",
          get_warpctc_version());
    for (i = 0; i < 5; ++i) {
        text[i] = ctcGetStatusString(all[i]);
        check(text[i] != NULL && text[i][0] != '\0', "status %d: \"%s\"",
              (int)all[i], text[i] != NULL ? text[i] : "(null)");
    }
    for (i = 0; i < 5; ++i) {
        for (j = 0; j < i; ++j) {
            if (text[i] != NULL && text[j] != NULL &&
                strcmp(text[i], text[j]) == 0) {
                distinct = 0;
            }
        }
    }
    check(distinct, "the five status strings are distinct");
    unknown = ctcGetStatusString((ctcStatus_t)5);
    check(unknown != NULL && strstr(unknown, "unknown") != NULL &&
              ctcGetStatusString((ctcStatus_t)1000) == unknown,
          "unknown status values: \"%s\"",
          unknown != NULL ? unknown : "(null)");
}

/* ------------------------------------------------------------------------ */
/* The "egg" worked example                                                 */
/* ------------------------------------------------------------------------ */

/* Alphabet (a, e, g, blank), blank = 3, labels "egg" = {1, 2, 2}, T = 5.
 * The activations are log(probs), so the softmax inside gives back probs. */
static const double egg_probs[5][4] = {{0.351405, 0.180852, 0.068204, 0.399539},
                                       {0.223719, 0.375489, 0.246327, 0.154465},
                                       {0.178717, 0.486084, 0.108099, 0.2271},
                                       {0.249302, 0.427556, 0.201085, 0.122057},
                                       {0.221976, 0.544759, 0.114415, 0.11885}};
static const double egg_loss_published = 6.854927;
/* float64 from exactly egg_probs. */
static const double egg_loss = 6.854925117340141;
/* The published gradient with respect to the activations, by time. */
static const double egg_grad_published[5][4] = {
    {0.3514048, -0.6043255, 0.0682042, 0.1847166},
    {0.2237191, 0.0634264, -0.4016093, 0.1144638},
    {0.1787167, 0.4860842, -0.3077557, -0.3570452},
    {0.2493019, 0.4275561, -0.2490451, -0.4278129},
    {0.2219762, 0.5447587, -0.6562406, -0.1104943}};
/* float64 from exactly egg_probs. */
static const double egg_grad[5][4] = {
    {0.3514050000000001, -0.6043254427482412, 0.06820400000000001,
     0.1847164427482412},
    {0.22371900000000003, 0.06342665107810391, -0.4016090946534743,
     0.11446344357537028},
    {0.17871699999999993, 0.486084, -0.30775581842981165, -0.3570451815701884},
    {0.24930200000000002, 0.427556, -0.249044914442701, -0.427813085557298},
    {0.22197600000000003, 0.5447590000000001, -0.656240947821083,
     -0.11049405217891677}};

/* Sample `slot` of a batch of `N` is the egg, with the blank moved to
 * class `blank` (the other classes keep their order); the other samples
 * are random. Frames up to T_alloc = 7 > 5 = T exist in the arrays. */
static void test_egg(int N, int slot, int blank, unsigned int threads,
                     int with_grad) {
    batch b = batch_new(N, 7, 4, blank);
    float *grads = (float *)xmalloc(elements(&b) * sizeof(float));
    float costs[4];
    int map[4], n, t, c, off = 0, beyond_ok = 1;
    double worst = 0.0, worst_pub = 0.0;
    ctcStatus_t st;
    char what[120];

    sprintf(what, "egg [N=%d, slot %d, blank_label=%d, %u threads%s]", N, slot,
            blank, threads, with_grad ? "" : ", loss only");
    /* map[k]: the class index of egg class k (a, e, g, blank). */
    for (c = 0, n = 0; c < 4; ++c) {
        if (c != blank) {
            map[n++] = c;
        }
    }
    map[3] = blank;
    for (n = 0; n < N; ++n) {
        if (n == slot) {
            const int egg[3] = {1, 2, 2};
            b.in_len[n] = 5;
            b.lab_len[n] = 3;
            for (t = 0; t < 3; ++t) {
                b.labels[off + t] = map[egg[t]];
            }
            for (t = 0; t < 5; ++t) {
                for (c = 0; c < 4; ++c) {
                    b.acts[idx(&b, t, n, map[c])] = (float)log(egg_probs[t][c]);
                }
            }
        } else {
            fill_sample(&b, n, rng_int(1, 5), rng_int(0, 2));
        }
        off += b.lab_len[n];
    }
    for (n = 0; n < N; ++n) {
        costs[n] = COST_SENTINEL;
    }
    st = run_batch(&b, threads, costs, with_grad ? grads : NULL);
    if (check(st == CTC_STATUS_SUCCESS, "%s: status %d", what, (int)st)) {
        check(close_to(costs[slot], egg_loss, 2e-6, 0.0) &&
                  close_to(costs[slot], egg_loss_published, 2e-6, 0.0),
              "%s: cost %.7f (float64 %.7f, published %.6f)", what,
              (double)costs[slot], egg_loss, egg_loss_published);
        if (with_grad) {
            for (t = 0; t < 5; ++t) {
                for (c = 0; c < 4; ++c) {
                    double got = grads[idx(&b, t, slot, map[c])];
                    double e = fabs(got - egg_grad[t][c]);
                    double p = fabs(got - egg_grad_published[t][c]);
                    worst = e > worst || e != e ? e : worst;
                    worst_pub = p > worst_pub || p != p ? p : worst_pub;
                }
            }
            check(worst <= 2e-6 && worst_pub <= 2e-6,
                  "%s: gradient (max abs err %.2g vs float64, %.2g vs "
                  "published)",
                  what, worst, worst_pub);
            /* T = 5 is the largest input length: frames 5 and 6 of the
             * arrays belong to nobody and must not be written. */
            for (t = 5; t < 7; ++t) {
                for (n = 0; n < N; ++n) {
                    for (c = 0; c < 4; ++c) {
                        beyond_ok = beyond_ok &&
                                    grads[idx(&b, t, n, c)] == GRAD_SENTINEL;
                    }
                }
            }
            check(beyond_ok,
                  "%s: frames past the largest input length are "
                  "not written",
                  what);
        }
    }
    free(grads);
    batch_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Brute force on random tiny batches                                       */
/* ------------------------------------------------------------------------ */

static void test_bruteforce(int trials) {
    int trial, bad_loss = 0, bad_grad = 0, bad_pad = 0, infeasible = 0;
    int cases = 0, bad_status = 0;
    double worst_grad = 0.0;
    for (trial = 0; trial < trials; ++trial) {
        const int N = rng_int(1, 3), C = rng_int(2, REF_MAX_C);
        const int T_alloc = rng_int(1, REF_MAX_T);
        batch b = batch_new(N, T_alloc, C, rng_int(0, C - 1));
        float *grads = (float *)xmalloc(elements(&b) * sizeof(float));
        float costs[3];
        int n, t, c, T = 0;
        for (n = 0; n < N; ++n) {
            int len = rng_int(0, T_alloc);
            fill_sample(&b, n, len, rng_int(0, len < 3 ? len + 1 : 3));
            T = len > T ? len : T;
        }
        if (run_batch(&b, (unsigned int)rng_int(0, 3), costs, grads) !=
            CTC_STATUS_SUCCESS) {
            ++bad_status;
            free(grads);
            batch_free(&b);
            continue;
        }
        for (n = 0; n < N; ++n) {
            double x[REF_MAX_T * REF_MAX_C], g[REF_MAX_T * REF_MAX_C], loss;
            const int len = b.in_len[n];
            for (t = 0; t < len; ++t) {
                for (c = 0; c < C; ++c) {
                    x[t * C + c] = b.acts[idx(&b, t, n, c)];
                }
            }
            reference_ctc(x, len, C, b.blank, b.labels + label_offset(&b, n),
                          b.lab_len[n], &loss, g);
            ++cases;
            infeasible += isinf(loss);
            if (!close_to(costs[n], loss, 1e-5, 1e-6)) {
                ++bad_loss;
                printf("  trial %d sample %d: cost %.8g, expected %.8g\n",
                       trial, n, (double)costs[n], loss);
            }
            for (t = 0; t < T; ++t) {
                for (c = 0; c < C; ++c) {
                    const double got = grads[idx(&b, t, n, c)];
                    if (t < len) {
                        const double e = fabs(got - g[t * C + c]);
                        worst_grad = e > worst_grad || e != e ? e : worst_grad;
                        bad_grad += !(e <= 1e-5);
                    } else {
                        bad_pad += got != 0.0f;
                    }
                }
            }
            for (t = T; t < T_alloc; ++t) {
                for (c = 0; c < C; ++c) {
                    bad_pad += grads[idx(&b, t, n, c)] != GRAD_SENTINEL;
                }
            }
        }
        free(grads);
        batch_free(&b);
    }
    check(bad_status == 0, "brute force: every call succeeded (%d failed)",
          bad_status);
    check(bad_loss == 0,
          "brute force: %d costs of %d samples (%d infeasible) match "
          "enumeration",
          cases - bad_loss, cases, infeasible);
    check(bad_grad == 0,
          "brute force: gradients match softmax - posterior (max abs err "
          "%.2g, %d bad)",
          worst_grad, bad_grad);
    check(bad_pad == 0,
          "brute force: frames past each input length get gradient 0, frames "
          "past the largest are untouched (%d bad)",
          bad_pad);
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                       */
/* ------------------------------------------------------------------------ */

/* d costs[n] / d activations by central differences of compute_ctc_loss
 * itself, compared with its gradient. */
static void test_finite_differences(void) {
    const int N = 2, C = 5;
    const float h = 1e-2f;
    batch b = batch_new(N, 6, C, 2);
    float *grads = (float *)xmalloc(elements(&b) * sizeof(float));
    float costs[2], cp[2], cm[2];
    double worst = 0.0;
    int n, t, c, ok = 1;
    fill_sample(&b, 0, 6, 3);
    fill_sample(&b, 1, 4, 2);
    ok = run_batch(&b, 1, costs, grads) == CTC_STATUS_SUCCESS;
    for (n = 0; n < N && ok; ++n) {
        for (t = 0; t < b.in_len[n]; ++t) {
            for (c = 0; c < C; ++c) {
                float *a = &b.acts[idx(&b, t, n, c)];
                const float keep = *a;
                double fd, e;
                *a = keep + h;
                ok = ok && run_batch(&b, 1, cp, NULL) == CTC_STATUS_SUCCESS;
                *a = keep - h;
                ok = ok && run_batch(&b, 1, cm, NULL) == CTC_STATUS_SUCCESS;
                *a = keep;
                fd = ((double)cp[n] - (double)cm[n]) / (2.0 * (double)h);
                e = fabs(fd - (double)grads[idx(&b, t, n, c)]);
                worst = e > worst || e != e ? e : worst;
            }
        }
    }
    check(ok && worst <= 5e-4,
          "finite differences of the costs match the gradient (max abs err "
          "%.2g)",
          worst);
    free(grads);
    batch_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Loss only, threads, infeasible samples, empty samples                    */
/* ------------------------------------------------------------------------ */

static void test_loss_only_and_threads(void) {
    const int N = 12, C = 9;
    const unsigned int threads[4] = {1, 2, 3, 0};
    batch b = batch_new(N, 40, C, 0);
    float *ref_grads = (float *)xmalloc(elements(&b) * sizeof(float));
    float *grads = (float *)xmalloc(elements(&b) * sizeof(float));
    float ref_costs[12], costs[12];
    int n, i, ok;
    for (n = 0; n < N; ++n) {
        fill_sample(&b, n, rng_int(20, 40), rng_int(0, 12));
    }
    ok = run_batch(&b, 1, ref_costs, ref_grads) == CTC_STATUS_SUCCESS;
    check(ok, "batch of %d: status", N);
    for (i = 0; i < 4 && ok; ++i) {
        int same;
        memset(costs, 0, sizeof(costs));
        same = run_batch(&b, threads[i], costs, grads) == CTC_STATUS_SUCCESS &&
               memcmp(costs, ref_costs, sizeof(costs)) == 0 &&
               memcmp(grads, ref_grads, elements(&b) * sizeof(float)) == 0;
        check(same,
              "num_threads = %u: costs and gradients bitwise equal to "
              "one thread's",
              threads[i]);
        memset(costs, 0, sizeof(costs));
        same = run_batch(&b, threads[i], costs, NULL) == CTC_STATUS_SUCCESS &&
               memcmp(costs, ref_costs, sizeof(costs)) == 0;
        check(same,
              "num_threads = %u, gradients NULL: the same costs (loss only)",
              threads[i]);
    }
    for (n = 0; n < N && ok; ++n) {
        ok = isfinite(ref_costs[n]) && ref_costs[n] > 0.0f;
    }
    check(ok, "batch of %d: finite positive costs", N);
    free(grads);
    free(ref_grads);
    batch_free(&b);
}

static void test_infeasible_and_empty(void) {
    /* 0: labels {1, 1} need 3 frames, has 2; 1: 3 labels in 2 frames;
     * 2: feasible; 3: labels in 0 frames; 4: nothing at all (cost 0). */
    batch b = batch_new(5, 4, 4, 0);
    float *grads = (float *)xmalloc(elements(&b) * sizeof(float));
    float costs[5];
    float *ref = (float *)xmalloc(elements(&b) * sizeof(float));
    float ref_cost;
    batch one = batch_new(1, 4, 4, 0);
    int t, c, zero = 1, ok;
    fill_sample(&b, 0, 2, 2);
    b.labels[0] = b.labels[1] = 1;
    fill_sample(&b, 1, 2, 3);
    fill_sample(&b, 2, 4, 2);
    fill_sample(&b, 3, 0, 1);
    fill_sample(&b, 4, 0, 0);
    ok = run_batch(&b, 2, costs, grads) == CTC_STATUS_SUCCESS;
    check(ok, "infeasible samples: status success");
    if (!ok) {
        free(grads);
        free(ref);
        batch_free(&b);
        batch_free(&one);
        return;
    }
    check(isinf(costs[0]) && costs[0] > 0 && isinf(costs[1]) && costs[1] > 0 &&
              isinf(costs[3]) && costs[3] > 0,
          "too few frames: cost +inf (%g, %g, %g)", (double)costs[0],
          (double)costs[1], (double)costs[3]);
    for (t = 0; t < 4; ++t) {
        for (c = 0; c < 4; ++c) {
            zero = zero && grads[idx(&b, t, 0, c)] == 0.0f &&
                   grads[idx(&b, t, 1, c)] == 0.0f &&
                   grads[idx(&b, t, 3, c)] == 0.0f &&
                   grads[idx(&b, t, 4, c)] == 0.0f;
        }
    }
    check(zero, "infeasible and empty samples: zero gradient");
    check(costs[4] == 0.0f, "no labels and no frames: cost %g",
          (double)costs[4]);
    /* Sample 2 alone gives the same cost and gradient. */
    fill_sample(&one, 0, 4, 2);
    for (t = 0; t < 4; ++t) {
        for (c = 0; c < 4; ++c) {
            one.acts[idx(&one, t, 0, c)] = b.acts[idx(&b, t, 2, c)];
        }
    }
    one.labels[0] = b.labels[5];
    one.labels[1] = b.labels[6];
    ok = run_batch(&one, 1, &ref_cost, ref) == CTC_STATUS_SUCCESS &&
         ref_cost == costs[2];
    for (t = 0; t < 4 && ok; ++t) {
        for (c = 0; c < 4; ++c) {
            ok = ok && ref[idx(&one, t, 0, c)] == grads[idx(&b, t, 2, c)];
        }
    }
    check(ok && isfinite(costs[2]),
          "the feasible sample is unaffected by its infeasible neighbours "
          "(cost %g)",
          (double)costs[2]);
    free(grads);
    free(ref);
    batch_free(&b);
    batch_free(&one);
}

/* ------------------------------------------------------------------------ */
/* Workspace size                                                           */
/* ------------------------------------------------------------------------ */

static void test_workspace_size(void) {
    const int lab[3] = {2, 0, 5}, in[3] = {10, 3, 12};
    const int lab2[3] = {1, 0, 2};
    ctcOptions o = cpu_options(1, 0);
    size_t a = 0, b = 0, c = 0;
    ctcStatus_t s1 = get_workspace_size(lab, in, 7, 3, o, &a);
    ctcStatus_t s2, s3;
    o.num_threads = 4;
    o.blank_label = 6;
    s2 = get_workspace_size(lab, in, 7, 3, o, &b);
    s3 = get_workspace_size(lab2, in, 7, 3, o, &c);
    check(s1 == CTC_STATUS_SUCCESS && a > 0,
          "get_workspace_size: %lu bytes, status %d", (unsigned long)a,
          (int)s1);
    check(s2 == CTC_STATUS_SUCCESS && a == b,
          "workspace size independent of threads and blank (%lu, %lu)",
          (unsigned long)a, (unsigned long)b);
    check(s3 == CTC_STATUS_SUCCESS && c < a,
          "shorter labels need less workspace (%lu < %lu)", (unsigned long)c,
          (unsigned long)a);
}

/* ------------------------------------------------------------------------ */
/* The float64 functions                                                    */
/* ------------------------------------------------------------------------ */

/* The egg in double, to float64 accuracy: activations log(probs) exactly,
 * cost and gradient against the float64 values above. */
static void test_double_egg(int N, int slot, unsigned int threads) {
    const int egg[3] = {1, 2, 2};
    batch b = batch_new(N, 7, 4, 3);
    double *acts, *grads = (double *)xmalloc(elements(&b) * sizeof(double));
    double costs[4], worst = 0.0;
    int n, t, c, off = 0, beyond_ok = 1;
    ctcStatus_t st;
    for (n = 0; n < N; ++n) {
        if (n == slot) {
            b.in_len[n] = 5;
            b.lab_len[n] = 3;
            for (t = 0; t < 3; ++t) {
                b.labels[off + t] = egg[t];
            }
        } else {
            fill_sample(&b, n, rng_int(1, 5), rng_int(0, 2));
        }
        off += b.lab_len[n];
    }
    acts = acts_double(&b);
    for (t = 0; t < 5; ++t) {
        for (c = 0; c < 4; ++c) {
            acts[idx(&b, t, slot, c)] = log(egg_probs[t][c]);
        }
    }
    st = run_batch_double(&b, acts, threads, costs, grads);
    if (check(st == CTC_STATUS_SUCCESS, "double egg [N=%d]: status %d", N,
              (int)st)) {
        for (t = 0; t < 5; ++t) {
            for (c = 0; c < 4; ++c) {
                const double e =
                    fabs(grads[idx(&b, t, slot, c)] - egg_grad[t][c]);
                worst = e > worst || e != e ? e : worst;
            }
        }
        for (t = 5; t < 7; ++t) {
            for (n = 0; n < N; ++n) {
                for (c = 0; c < 4; ++c) {
                    beyond_ok =
                        beyond_ok && grads[idx(&b, t, n, c)] == GRAD_SENTINEL;
                }
            }
        }
        check(close_to(costs[slot], egg_loss, 1e-13, 0.0) && worst <= 1e-13 &&
                  beyond_ok,
              "double egg [N=%d, slot %d, %u threads]: cost %.15f (float64 "
              "%.15f), gradient max abs err %.2g, frames past T untouched",
              N, slot, threads, costs[slot], egg_loss, worst);
    }
    free(acts);
    free(grads);
    batch_free(&b);
}

/* Random tiny batches in double against enumeration, to 1e-11. */
static void test_double_bruteforce(int trials) {
    int trial, bad = 0, cases = 0;
    double worst = 0.0;
    for (trial = 0; trial < trials; ++trial) {
        const int N = rng_int(1, 3), C = rng_int(2, REF_MAX_C);
        const int T_alloc = rng_int(1, REF_MAX_T);
        batch b = batch_new(N, T_alloc, C, rng_int(0, C - 1));
        double *acts, *grads = (double *)xmalloc(elements(&b) * sizeof(double));
        double costs[3];
        int n, t, c, T = 0;
        for (n = 0; n < N; ++n) {
            int len = rng_int(0, T_alloc);
            fill_sample(&b, n, len, rng_int(0, len < 3 ? len + 1 : 3));
            T = len > T ? len : T;
        }
        acts = acts_double(&b);
        /* Values that float cannot hold: double precision is used. */
        for (n = 0; n < (int)elements(&b); ++n) {
            acts[n] += isnan(acts[n]) ? 0.0 : 1e-9 * rng_uniform();
        }
        if (run_batch_double(&b, acts, (unsigned int)rng_int(0, 3), costs,
                             grads) != CTC_STATUS_SUCCESS) {
            ++bad;
        } else {
            for (n = 0; n < N; ++n) {
                double x[REF_MAX_T * REF_MAX_C], g[REF_MAX_T * REF_MAX_C], loss;
                const int len = b.in_len[n];
                for (t = 0; t < len; ++t) {
                    for (c = 0; c < C; ++c) {
                        x[t * C + c] = acts[idx(&b, t, n, c)];
                    }
                }
                reference_ctc(x, len, C, b.blank,
                              b.labels + label_offset(&b, n), b.lab_len[n],
                              &loss, g);
                ++cases;
                bad += !close_to(costs[n], loss, 1e-12, 1e-12);
                for (t = 0; t < T; ++t) {
                    for (c = 0; c < C; ++c) {
                        const double got = grads[idx(&b, t, n, c)];
                        const double e =
                            t < len ? fabs(got - g[t * C + c]) : fabs(got);
                        worst = e > worst || e != e ? e : worst;
                    }
                }
                for (t = T; t < T_alloc; ++t) {
                    for (c = 0; c < C; ++c) {
                        bad += grads[idx(&b, t, n, c)] != GRAD_SENTINEL;
                    }
                }
            }
        }
        free(acts);
        free(grads);
        batch_free(&b);
    }
    check(bad == 0 && worst <= 1e-11,
          "double brute force: %d samples, costs and gradients match "
          "enumeration (max gradient err %.2g, %d bad)",
          cases, worst, bad);
}

/* Central differences of compute_ctc_loss_double against its gradient. */
static void test_double_finite_differences(void) {
    const int N = 2, C = 5;
    const double h = 1e-5;
    batch b = batch_new(N, 6, C, 2);
    double *acts, *grads = (double *)xmalloc(elements(&b) * sizeof(double));
    double costs[2], cp[2], cm[2], worst = 0.0;
    int n, t, c, ok;
    fill_sample(&b, 0, 6, 3);
    fill_sample(&b, 1, 4, 2);
    acts = acts_double(&b);
    ok = run_batch_double(&b, acts, 1, costs, grads) == CTC_STATUS_SUCCESS;
    for (n = 0; n < N && ok; ++n) {
        for (t = 0; t < b.in_len[n]; ++t) {
            for (c = 0; c < C; ++c) {
                double *a = &acts[idx(&b, t, n, c)];
                const double keep = *a;
                double e;
                *a = keep + h;
                ok = ok && run_batch_double(&b, acts, 1, cp, NULL) ==
                               CTC_STATUS_SUCCESS;
                *a = keep - h;
                ok = ok && run_batch_double(&b, acts, 1, cm, NULL) ==
                               CTC_STATUS_SUCCESS;
                *a = keep;
                e = fabs((cp[n] - cm[n]) / (2.0 * h) - grads[idx(&b, t, n, c)]);
                worst = e > worst || e != e ? e : worst;
            }
        }
    }
    check(ok && worst <= 1e-8,
          "double: finite differences of the costs match the gradient (max "
          "abs err %.2g)",
          worst);
    free(acts);
    free(grads);
    batch_free(&b);
}

/* Threads, loss only, infeasible samples, agreement with float32, and the
 * workspace size query. */
static void test_double_batch(void) {
    const int N = 12, C = 9;
    const unsigned int threads[3] = {2, 3, 0};
    batch b = batch_new(N, 40, C, 0);
    double *acts, *ref = (double *)xmalloc(elements(&b) * sizeof(double));
    double *grads = (double *)xmalloc(elements(&b) * sizeof(double));
    float *grads32 = (float *)xmalloc(elements(&b) * sizeof(float));
    double ref_costs[12], costs[12], worst = 0.0;
    float costs32[12];
    size_t i, bytes = 0;
    int n, ok;
    /* Sample 5 is infeasible: 3 labels in 2 frames. */
    for (n = 0; n < N; ++n) {
        fill_sample(&b, n, n == 5 ? 2 : rng_int(20, 40),
                    n == 5 ? 3 : rng_int(0, 12));
    }
    acts = acts_double(&b);
    ok = run_batch_double(&b, acts, 1, ref_costs, ref) == CTC_STATUS_SUCCESS &&
         run_batch(&b, 1, costs32, grads32) == CTC_STATUS_SUCCESS;
    check(ok, "double batch of %d: status", N);
    for (i = 0; i < 3 && ok; ++i) {
        check(run_batch_double(&b, acts, threads[i], costs, grads) ==
                      CTC_STATUS_SUCCESS &&
                  memcmp(costs, ref_costs, sizeof(costs)) == 0 &&
                  memcmp(grads, ref, elements(&b) * sizeof(double)) == 0,
              "double, num_threads = %u: bitwise equal to one thread's",
              threads[i]);
        check(run_batch_double(&b, acts, threads[i], costs, NULL) ==
                      CTC_STATUS_SUCCESS &&
                  memcmp(costs, ref_costs, sizeof(costs)) == 0,
              "double, num_threads = %u, gradients NULL: the same costs",
              threads[i]);
    }
    check(isinf(ref_costs[5]) && ref_costs[5] > 0,
          "double: an infeasible sample costs +inf (%g)", ref_costs[5]);
    for (n = 0; n < N && ok; ++n) {
        ok = close_to(ref_costs[n], costs32[n], 1e-5, 1e-5);
    }
    for (i = 0; i < elements(&b) && ok; ++i) {
        const double e = fabs(ref[i] - (double)grads32[i]);
        worst = e > worst || e != e ? e : worst;
    }
    check(ok && worst <= 1e-5,
          "double and float32 agree (max gradient difference %.2g)", worst);
    {
        const int lab[3] = {2, 0, 5}, in[3] = {10, 3, 12};
        size_t f32 = 0;
        ctcOptions o = cpu_options(1, 0);
        ok = get_workspace_size_double(lab, in, 7, 3, o, &bytes) ==
                 CTC_STATUS_SUCCESS &&
             get_workspace_size(lab, in, 7, 3, o, &f32) == CTC_STATUS_SUCCESS;
        check(ok && bytes > 0 && bytes >= f32,
              "get_workspace_size_double: %lu bytes (float32: %lu)",
              (unsigned long)bytes, (unsigned long)f32);
    }
    free(acts);
    free(ref);
    free(grads);
    free(grads32);
    batch_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Errors: GPU and invalid arguments leave every output untouched           */
/* ------------------------------------------------------------------------ */

typedef struct call {
    const float *acts;
    float *grads;
    const int *labels, *lab_len, *in_len;
    int C, N;
    float *costs;
    void *ws;
    ctcOptions o;
    size_t *size; /* for get_workspace_size */
    /* The same call through the float64 functions. */
    const double *acts64;
    double *grads64, *costs64;
} call;

/* A valid call on a fixed batch of 2 (C = 4, blank 0, T = 3) with
 * sentinel outputs. */
#define ERR_N 2
#define ERR_C 4
#define ERR_T 3
#define ERR_WS 4096

static float e_acts[ERR_T * ERR_N * ERR_C];
static float e_grads[ERR_T * ERR_N * ERR_C];
static float e_costs[ERR_N];
static double e_acts64[ERR_T * ERR_N * ERR_C];
static double e_grads64[ERR_T * ERR_N * ERR_C];
static double e_costs64[ERR_N];
static unsigned char e_ws[ERR_WS];
static size_t e_size;
static int e_labels[4];
static int e_lab_len[ERR_N];
static int e_in_len[ERR_N];

static call valid_call(void) {
    call k;
    size_t i;
    for (i = 0; i < sizeof(e_acts) / sizeof(e_acts[0]); ++i) {
        e_acts[i] = (float)(i % 7) * 0.25f;
        e_grads[i] = GRAD_SENTINEL;
        e_acts64[i] = (double)e_acts[i];
        e_grads64[i] = GRAD_SENTINEL;
    }
    e_costs[0] = e_costs[1] = COST_SENTINEL;
    e_costs64[0] = e_costs64[1] = COST_SENTINEL;
    memset(e_ws, WS_BYTE, sizeof(e_ws));
    e_size = 12345;
    e_labels[0] = 1;
    e_labels[1] = 2;
    e_labels[2] = 3;
    e_labels[3] = 3;
    e_lab_len[0] = 2;
    e_lab_len[1] = 1;
    e_in_len[0] = 3;
    e_in_len[1] = 2;
    k.acts = e_acts;
    k.grads = e_grads;
    k.labels = e_labels;
    k.lab_len = e_lab_len;
    k.in_len = e_in_len;
    k.C = ERR_C;
    k.N = ERR_N;
    k.costs = e_costs;
    k.ws = e_ws;
    k.o = cpu_options(1, 0);
    k.size = &e_size;
    k.acts64 = e_acts64;
    k.grads64 = e_grads64;
    k.costs64 = e_costs64;
    return k;
}

static int untouched(void) {
    size_t i;
    for (i = 0; i < sizeof(e_grads) / sizeof(e_grads[0]); ++i) {
        if (e_grads[i] != GRAD_SENTINEL) {
            return 0;
        }
    }
    for (i = 0; i < sizeof(e_grads64) / sizeof(e_grads64[0]); ++i) {
        if (e_grads64[i] != GRAD_SENTINEL) {
            return 0;
        }
    }
    for (i = 0; i < sizeof(e_ws); ++i) {
        if (e_ws[i] != WS_BYTE) {
            return 0;
        }
    }
    return e_costs[0] == COST_SENTINEL && e_costs[1] == COST_SENTINEL &&
           e_costs64[0] == COST_SENTINEL && e_costs64[1] == COST_SENTINEL &&
           e_size == 12345;
}

static ctcStatus_t run_compute(const call *k) {
    return compute_ctc_loss(k->acts, k->grads, k->labels, k->lab_len, k->in_len,
                            k->C, k->N, k->costs, k->ws, k->o);
}

static ctcStatus_t run_size(const call *k) {
    return get_workspace_size(k->lab_len, k->in_len, k->C, k->N, k->o, k->size);
}

static ctcStatus_t run_compute64(const call *k) {
    return compute_ctc_loss_double(k->acts64, k->grads64, k->labels, k->lab_len,
                                   k->in_len, k->C, k->N, k->costs64, k->ws,
                                   k->o);
}

static ctcStatus_t run_size64(const call *k) {
    return get_workspace_size_double(k->lab_len, k->in_len, k->C, k->N, k->o,
                                     k->size);
}

/* Expects `want` from compute_ctc_loss and compute_ctc_loss_double (and
 * from both get_workspace_size functions when size_too), with nothing
 * written. The call is rebuilt by `setup`. */
static void expect_error(const char *what, void (*setup)(call *),
                         ctcStatus_t want, int size_too) {
    call k = valid_call();
    ctcStatus_t st;
    setup(&k);
    st = run_compute(&k);
    check(st == want && untouched(),
          "compute_ctc_loss, %s: status %d (want %d), outputs untouched", what,
          (int)st, (int)want);
    k = valid_call();
    setup(&k);
    st = run_compute64(&k);
    check(st == want && untouched(),
          "compute_ctc_loss_double, %s: status %d (want %d), outputs "
          "untouched",
          what, (int)st, (int)want);
    if (size_too) {
        k = valid_call();
        setup(&k);
        st = run_size(&k);
        check(st == want && untouched(),
              "get_workspace_size, %s: status %d (want %d), size untouched",
              what, (int)st, (int)want);
        k = valid_call();
        setup(&k);
        st = run_size64(&k);
        check(st == want && untouched(),
              "get_workspace_size_double, %s: status %d (want %d), size "
              "untouched",
              what, (int)st, (int)want);
    }
}

static void set_gpu(call *k) { k->o.loc = CTC_GPU; }
static void set_gpu_stream(call *k) {
    k->o.loc = CTC_GPU;
    k->o.num_threads = 0;
    k->o.stream = (GPUstream)NULL;
}
static void set_bad_loc(call *k) { k->o.loc = (ctcComputeLocation)7; }
static void set_neg_input(call *k) {
    (void)k;
    e_in_len[1] = -1;
}
static void set_all_neg_input(call *k) {
    e_in_len[0] = -2;
    e_in_len[1] = -1;
    (void)k;
}
static void set_neg_label_len(call *k) {
    (void)k;
    e_lab_len[0] = -1;
}
static void set_label_range(call *k) {
    (void)k;
    e_labels[1] = ERR_C;
}
static void set_label_neg(call *k) {
    (void)k;
    e_labels[2] = -1;
}
static void set_label_blank(call *k) {
    (void)k;
    e_labels[0] = 0;
}
static void set_alphabet0(call *k) { k->C = 0; }
static void set_alphabet_neg(call *k) { k->C = -4; }
static void set_minibatch0(call *k) { k->N = 0; }
static void set_minibatch_neg(call *k) { k->N = -1; }
static void set_blank_high(call *k) { k->o.blank_label = ERR_C; }
static void set_blank_neg(call *k) { k->o.blank_label = -1; }
static void set_threads_huge(call *k) { k->o.num_threads = UINT_MAX; }
static void set_null_acts(call *k) {
    k->acts = NULL;
    k->acts64 = NULL;
}
static void set_null_labels(call *k) { k->labels = NULL; }
static void set_null_lab_len(call *k) { k->lab_len = NULL; }
static void set_null_in_len(call *k) { k->in_len = NULL; }
static void set_null_costs(call *k) {
    k->costs = NULL;
    k->costs64 = NULL;
}
static void set_null_ws(call *k) { k->ws = NULL; }
static void set_null_size(call *k) { k->size = NULL; }

static void test_errors(void) {
    call k;
    ctcStatus_t st;

    /* The fixture itself is valid. */
    k = valid_call();
    st = run_size(&k);
    check(st == CTC_STATUS_SUCCESS && e_size > 0 && e_size <= ERR_WS,
          "error fixture: workspace %lu bytes", (unsigned long)e_size);
    k = valid_call();
    st = run_compute(&k);
    check(st == CTC_STATUS_SUCCESS && isfinite(e_costs[0]) &&
              isfinite(e_costs[1]) && e_grads[0] != GRAD_SENTINEL,
          "error fixture: valid call succeeds (costs %g, %g)",
          (double)e_costs[0], (double)e_costs[1]);
    k = valid_call();
    st = run_compute64(&k);
    check(st == CTC_STATUS_SUCCESS && isfinite(e_costs64[0]) &&
              isfinite(e_costs64[1]) && e_grads64[0] != GRAD_SENTINEL,
          "error fixture: valid double call succeeds (costs %g, %g)",
          e_costs64[0], e_costs64[1]);

    expect_error("loc = CTC_GPU", set_gpu, CTC_STATUS_EXECUTION_FAILED, 1);
    expect_error("loc = CTC_GPU with a stream", set_gpu_stream,
                 CTC_STATUS_EXECUTION_FAILED, 1);
    expect_error("loc = 7", set_bad_loc, CTC_STATUS_INVALID_VALUE, 1);
    expect_error("negative input length", set_neg_input,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("all input lengths negative", set_all_neg_input,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("negative label length", set_neg_label_len,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("label = alphabet_size", set_label_range,
                 CTC_STATUS_INVALID_VALUE, 0);
    expect_error("label = -1", set_label_neg, CTC_STATUS_INVALID_VALUE, 0);
    expect_error("label = blank", set_label_blank, CTC_STATUS_INVALID_VALUE, 0);
    expect_error("alphabet_size = 0", set_alphabet0, CTC_STATUS_INVALID_VALUE,
                 1);
    expect_error("alphabet_size < 0", set_alphabet_neg,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("minibatch = 0", set_minibatch0, CTC_STATUS_INVALID_VALUE, 1);
    expect_error("minibatch < 0", set_minibatch_neg, CTC_STATUS_INVALID_VALUE,
                 1);
    expect_error("blank_label = alphabet_size", set_blank_high,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("blank_label = -1", set_blank_neg, CTC_STATUS_INVALID_VALUE,
                 1);
    expect_error("num_threads > INT_MAX", set_threads_huge,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("activations NULL", set_null_acts, CTC_STATUS_INVALID_VALUE,
                 0);
    expect_error("flat_labels NULL", set_null_labels, CTC_STATUS_INVALID_VALUE,
                 0);
    expect_error("label_lengths NULL", set_null_lab_len,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("input_lengths NULL", set_null_in_len,
                 CTC_STATUS_INVALID_VALUE, 1);
    expect_error("costs NULL", set_null_costs, CTC_STATUS_INVALID_VALUE, 0);
    expect_error("workspace NULL", set_null_ws, CTC_STATUS_INVALID_VALUE, 0);
    /* NULL flat_labels is fine when there are no labels at all. */
    k = valid_call();
    e_lab_len[0] = e_lab_len[1] = 0;
    k.labels = NULL;
    st = run_compute(&k);
    check(st == CTC_STATUS_SUCCESS && isfinite(e_costs[0]) &&
              isfinite(e_costs[1]),
          "flat_labels NULL with every label length 0: status %d", (int)st);
    st = run_compute64(&k);
    check(st == CTC_STATUS_SUCCESS && isfinite(e_costs64[0]) &&
              isfinite(e_costs64[1]),
          "double, flat_labels NULL with every label length 0: status %d",
          (int)st);
    k = valid_call();
    set_null_size(&k);
    st = run_size(&k);
    check(st == CTC_STATUS_INVALID_VALUE,
          "get_workspace_size, size_bytes NULL: status %d", (int)st);
    st = run_size64(&k);
    check(st == CTC_STATUS_INVALID_VALUE,
          "get_workspace_size_double, size_bytes NULL: status %d", (int)st);
}

int main(void) {
    test_version_and_strings();
    test_egg(1, 0, 3, 1, 1);
    test_egg(1, 0, 3, 1, 0);
    test_egg(1, 0, 0, 1, 1);
    test_egg(3, 1, 0, 2, 1);
    test_egg(4, 3, 2, 0, 1);
    test_egg(4, 0, 1, 3, 0);
    test_bruteforce(300);
    test_finite_differences();
    test_loss_only_and_threads();
    test_infeasible_and_empty();
    test_workspace_size();
    test_double_egg(1, 0, 1);
    test_double_egg(3, 1, 2);
    test_double_bruteforce(300);
    test_double_finite_differences();
    test_double_batch();
    test_errors();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
