/*
 * test_ctcc.c - tests of ctcc's C API against independent values.
 *
 * Plain C99, no framework. Every check prints one line starting with PASS
 * or FAIL; the last line is "N passed, N failed" and the exit status is
 * nonzero when anything failed.
 *
 * The expected values come from outside the library:
 *   - the worked "egg" example (published probabilities, float64 loss and
 *     gradient computed independently of ctcc);
 *   - a brute-force reference in this file that enumerates all C^T paths
 *     of tiny problems, collapses them (merge repeats, drop blanks) and
 *     sums the probabilities of those that spell the labels, which gives
 *     the loss and the exact posterior (hence the gradient);
 *   - central finite differences of the library's own loss;
 *   - properties the header promises (layouts, precisions, thread counts,
 *     untouched outputs on error, status codes).
 */
#include "ctcc.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define TESTING_RNG_SEED 0x2545F4914F6CDD1DULL
#include "testing.h"

/* ------------------------------------------------------------------------ */
/* Comparisons                                                              */
/* ------------------------------------------------------------------------ */

/* Loss comparison: equal infinities, or |got - want| <= atol + rtol |want|. */
static int loss_close(double got, double want, double rtol, double atol) {
    if (isinf(want)) {
        return isinf(got) && ((got > 0) == (want > 0));
    }
    if (isnan(got) || isinf(got)) {
        return 0;
    }
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static double rel_err(double got, double want) {
    if (isinf(want) && isinf(got) && (got > 0) == (want > 0)) {
        return 0.0;
    }
    return fabs(got - want) / (fabs(want) > 1.0 ? fabs(want) : 1.0);
}

/* ------------------------------------------------------------------------ */
/* Brute-force reference                                                    */
/* ------------------------------------------------------------------------ */

#define REF_MAX_T 6
#define REF_MAX_C 4

/* Computes the CTC loss of one sample by enumerating all C^T paths.
 *   x       [T][C] inputs (logits or log-probabilities, see kind)
 *   blank   the blank's class index in [0, C)
 *   loss    -log P, or +INFINITY when no path has positive probability
 *   grad    [T][C] d loss / d x: softmax(x) - gamma for logits, -gamma for
 *           log-probabilities, all zeros when infeasible. */
static void reference_ctc(const double *x, int T, int C, int blank,
                          const int32_t *labels, int L, ctcc_input_kind kind,
                          double *loss, double *grad) {
    double logp[REF_MAX_T * REF_MAX_C];
    double gamma[REF_MAX_T * REF_MAX_C];
    int path[REF_MAX_T], out[REF_MAX_T];
    long total = 1, i;
    double P = 0.0;
    int t, c;

    if (T > REF_MAX_T || C > REF_MAX_C) {
        fprintf(stderr, "reference_ctc: problem too large\n");
        exit(2);
    }
    for (t = 0; t < T; ++t) {
        total *= C;
        if (kind == CTCC_INPUT_LOGITS) {
            double m = -INFINITY, s = 0.0;
            for (c = 0; c < C; ++c) {
                m = x[t * C + c] > m ? x[t * C + c] : m;
            }
            for (c = 0; c < C; ++c) {
                s += exp(x[t * C + c] - m);
            }
            for (c = 0; c < C; ++c) {
                logp[t * C + c] = x[t * C + c] - m - log(s);
            }
        } else {
            for (c = 0; c < C; ++c) {
                logp[t * C + c] = x[t * C + c];
            }
        }
        for (c = 0; c < C; ++c) {
            gamma[t * C + c] = 0.0;
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
        /* Collapse: merge runs of equal symbols, then drop blanks. */
        for (t = 0; t < T; ++t) {
            if (path[t] != prev && path[t] != blank) {
                out[len++] = path[t];
            }
            prev = path[t];
        }
        if (len != L) {
            continue;
        }
        for (t = 0; t < L; ++t) {
            if (out[t] != labels[t]) {
                match = 0;
            }
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
            gamma[t * C + path[t]] += p;
        }
    }

    for (t = 0; t < T; ++t) {
        for (c = 0; c < C; ++c) {
            if (P > 0.0) {
                double soft =
                    kind == CTCC_INPUT_LOGITS ? exp(logp[t * C + c]) : 0.0;
                grad[t * C + c] = soft - gamma[t * C + c] / P;
            } else {
                grad[t * C + c] = 0.0;
            }
        }
    }
    *loss = P > 0.0 ? -log(P) : INFINITY;
}

/* ------------------------------------------------------------------------ */
/* Batched problems and calls into the library                              */
/* ------------------------------------------------------------------------ */

/* A batch, stored canonically as x[n][t][c] (batch-major) in double. Frames
 * t >= in_len[n] hold NaN. */
typedef struct problem {
    int N, T, C;
    int32_t *in_len;
    int32_t *lab_len;
    int32_t *labels; /* flat, sum(lab_len) entries (capacity N * T + 1) */
    double *x;
} problem;

static problem problem_new(int N, int T, int C) {
    problem p;
    size_t i, total = (size_t)N * (size_t)T * (size_t)C;
    p.N = N;
    p.T = T;
    p.C = C;
    p.in_len = (int32_t *)xmalloc((size_t)N * sizeof(int32_t));
    p.lab_len = (int32_t *)xmalloc((size_t)N * sizeof(int32_t));
    p.labels =
        (int32_t *)xmalloc(((size_t)N * (size_t)T + 1) * 2 * sizeof(int32_t));
    p.x = (double *)xmalloc(total * sizeof(double));
    for (i = 0; i < total; ++i) {
        p.x[i] = NAN;
    }
    for (i = 0; i < (size_t)N; ++i) {
        p.in_len[i] = 0;
        p.lab_len[i] = 0;
    }
    return p;
}

static void problem_free(problem *p) {
    free(p->in_len);
    free(p->lab_len);
    free(p->labels);
    free(p->x);
}

static size_t canon(const problem *p, int n, int t, int c) {
    return ((size_t)n * (size_t)p->T + (size_t)t) * (size_t)p->C + (size_t)c;
}

static size_t in_layout(const problem *p, ctcc_layout layout, int n, int t,
                        int c) {
    if (layout == CTCC_LAYOUT_TIME_MAJOR) {
        return ((size_t)t * (size_t)p->N + (size_t)n) * (size_t)p->C +
               (size_t)c;
    }
    return canon(p, n, t, c);
}

static size_t label_offset(const problem *p, int n) {
    size_t off = 0;
    int i;
    for (i = 0; i < n; ++i) {
        off += (size_t)p->lab_len[i];
    }
    return off;
}

static int resolved_blank(const ctcc_options *o, int C) {
    int b = o == NULL ? 0 : o->blank;
    return b < 0 ? b + C : b;
}

/* Fills sample n with random inputs on its first in_len frames and random
 * non-blank labels. Labels must be appended in sample order. */
static void fill_sample(problem *p, int n, int in_len, int lab_len, int blank,
                        double lo, double hi) {
    size_t off = label_offset(p, n);
    int t, c, i;
    p->in_len[n] = in_len;
    p->lab_len[n] = lab_len;
    for (t = 0; t < in_len; ++t) {
        for (c = 0; c < p->C; ++c) {
            p->x[canon(p, n, t, c)] = rng_value(lo, hi);
        }
    }
    for (i = 0; i < lab_len; ++i) {
        int l = rng_int(0, p->C - 2);
        p->labels[off + (size_t)i] = l >= blank ? l + 1 : l;
    }
}

/* The probabilities of log-probability inputs must be normalised: rewrite
 * the valid frames of every sample as log-softmax of themselves. */
static void normalise_log_probs(problem *p) {
    int n, t, c;
    for (n = 0; n < p->N; ++n) {
        for (t = 0; t < p->in_len[n]; ++t) {
            double m = -INFINITY, s = 0.0;
            for (c = 0; c < p->C; ++c) {
                double v = p->x[canon(p, n, t, c)];
                m = v > m ? v : m;
            }
            for (c = 0; c < p->C; ++c) {
                s += exp(p->x[canon(p, n, t, c)] - m);
            }
            for (c = 0; c < p->C; ++c) {
                double *v = &p->x[canon(p, n, t, c)];
                *v = (double)(float)(*v - m - log(s));
            }
        }
    }
}

#define GRAD_SENTINEL 777.0

/* Runs ctcc_loss_f64 (dtype CTCC_FLOAT64) or ctcc_loss_f32 on p with the
 * layout of opts (NULL: defaults), converting to and from the canonical
 * layout. grads may be NULL (loss only). The workspace is exactly the
 * reported size, starting `misalign` bytes into its allocation. */
static ctcc_status run_problem(const problem *p, ctcc_dtype dtype,
                               const ctcc_options *opts, double *costs,
                               double *grads, int misalign) {
    const ctcc_layout layout =
        opts == NULL ? CTCC_LAYOUT_TIME_MAJOR : opts->layout;
    const size_t total = (size_t)p->N * (size_t)p->T * (size_t)p->C;
    const size_t esize = dtype == CTCC_FLOAT64 ? sizeof(double) : sizeof(float);
    unsigned char *in = (unsigned char *)xmalloc(total * esize);
    unsigned char *g =
        grads != NULL ? (unsigned char *)xmalloc(total * esize) : NULL;
    unsigned char *c = (unsigned char *)xmalloc((size_t)p->N * esize);
    size_t bytes = 0;
    unsigned char *ws_alloc;
    ctcc_status st;
    int n, t, k;

    for (n = 0; n < p->N; ++n) {
        for (t = 0; t < p->T; ++t) {
            for (k = 0; k < p->C; ++k) {
                size_t src = canon(p, n, t, k);
                size_t dst = in_layout(p, layout, n, t, k);
                if (dtype == CTCC_FLOAT64) {
                    ((double *)in)[dst] = p->x[src];
                    if (g != NULL) {
                        ((double *)g)[dst] = GRAD_SENTINEL;
                    }
                } else {
                    ((float *)in)[dst] = (float)p->x[src];
                    if (g != NULL) {
                        ((float *)g)[dst] = (float)GRAD_SENTINEL;
                    }
                }
            }
        }
    }

    st = ctcc_workspace_size(p->lab_len, p->in_len, p->T, p->N, p->C, dtype,
                             grads != NULL, opts, &bytes);
    if (st != CTCC_STATUS_SUCCESS) {
        free(in);
        free(g);
        free(c);
        return st;
    }
    ws_alloc = (unsigned char *)xmalloc(bytes + (size_t)misalign);
    if (dtype == CTCC_FLOAT64) {
        st = ctcc_loss_f64((const double *)in, (double *)g, p->labels,
                           p->lab_len, p->in_len, p->T, p->N, p->C, (double *)c,
                           ws_alloc + misalign, bytes, opts);
    } else {
        st = ctcc_loss_f32((const float *)in, (float *)g, p->labels, p->lab_len,
                           p->in_len, p->T, p->N, p->C, (float *)c,
                           ws_alloc + misalign, bytes, opts);
    }
    if (st == CTCC_STATUS_SUCCESS) {
        for (n = 0; n < p->N; ++n) {
            costs[n] = dtype == CTCC_FLOAT64 ? ((double *)c)[n]
                                             : (double)((float *)c)[n];
        }
        if (grads != NULL) {
            for (n = 0; n < p->N; ++n) {
                for (t = 0; t < p->T; ++t) {
                    for (k = 0; k < p->C; ++k) {
                        size_t src = in_layout(p, layout, n, t, k);
                        grads[canon(p, n, t, k)] =
                            dtype == CTCC_FLOAT64 ? ((double *)g)[src]
                                                  : (double)((float *)g)[src];
                    }
                }
            }
        }
    }
    free(ws_alloc);
    free(in);
    free(g);
    free(c);
    return st;
}

/* Compares costs and grads (canonical layout, may be NULL) with the
 * brute-force reference of every sample. Frames past a sample's input
 * length must hold exactly 0. */
static void compare_reference(const char *what, const problem *p,
                              const ctcc_options *opts, const double *costs,
                              const double *grads, double loss_rtol,
                              double grad_atol) {
    const int blank = resolved_blank(opts, p->C);
    const ctcc_input_kind kind =
        opts == NULL ? CTCC_INPUT_LOGITS : opts->input_kind;
    const int zero_inf = opts == NULL ? 0 : opts->zero_infinity;
    double worst_loss = 0.0, worst_grad = 0.0;
    int n, t, c, loss_ok = 1, grad_ok = 1, pad_ok = 1, bad = -1;

    for (n = 0; n < p->N; ++n) {
        double x[REF_MAX_T * REF_MAX_C], ref_grad[REF_MAX_T * REF_MAX_C];
        double ref_loss;
        const int T = p->in_len[n];
        for (t = 0; t < T; ++t) {
            for (c = 0; c < p->C; ++c) {
                x[t * p->C + c] = p->x[canon(p, n, t, c)];
            }
        }
        reference_ctc(x, T, p->C, blank, p->labels + label_offset(p, n),
                      p->lab_len[n], kind, &ref_loss, ref_grad);
        if (zero_inf && isinf(ref_loss)) {
            ref_loss = 0.0;
        }
        if (!loss_close(costs[n], ref_loss, loss_rtol, loss_rtol)) {
            loss_ok = 0;
            bad = n;
        }
        if (rel_err(costs[n], ref_loss) > worst_loss || isnan(costs[n])) {
            worst_loss =
                isnan(costs[n]) ? INFINITY : rel_err(costs[n], ref_loss);
        }
        if (grads == NULL) {
            continue;
        }
        for (t = 0; t < p->T; ++t) {
            for (c = 0; c < p->C; ++c) {
                double got = grads[canon(p, n, t, c)];
                if (t >= T) {
                    if (got != 0.0) {
                        pad_ok = 0;
                        bad = n;
                    }
                    continue;
                }
                {
                    double err = fabs(got - ref_grad[t * p->C + c]);
                    if (!(err <= grad_atol)) {
                        grad_ok = 0;
                        bad = n;
                        err = isnan(err) ? INFINITY : err;
                    }
                    worst_grad = err > worst_grad ? err : worst_grad;
                }
            }
        }
    }
    check(loss_ok, "%s: costs match brute force (max rel err %.3g%s%d)", what,
          worst_loss,
          loss_ok ? ", n=" : ", first bad n=", loss_ok ? p->N : bad);
    if (grads != NULL) {
        check(grad_ok, "%s: gradient matches brute force (max abs err %.3g)",
              what, worst_grad);
        check(pad_ok, "%s: gradient is exactly 0 past each input length", what);
    }
}

/* Runs p in f64 and f32, with and without gradient, in both layouts, and
 * compares everything with the brute-force reference. */
static void check_problem(const char *name, const problem *p,
                          const ctcc_options *base) {
    const size_t total = (size_t)p->N * (size_t)p->T * (size_t)p->C;
    double *grads = (double *)xmalloc(total * sizeof(double));
    double *costs = (double *)xmalloc((size_t)p->N * sizeof(double));
    double *costs2 = (double *)xmalloc((size_t)p->N * sizeof(double));
    char what[256];
    int layout, prec, n;

    for (prec = 0; prec < 2; ++prec) {
        const ctcc_dtype dt = prec == 0 ? CTCC_FLOAT64 : CTCC_FLOAT32;
        const double ltol = prec == 0 ? 1e-12 : 1e-5;
        const double gtol = prec == 0 ? 1e-9 : 1e-5;
        for (layout = 0; layout < 2; ++layout) {
            ctcc_options o = *base;
            ctcc_status st;
            int same = 1;
            o.layout =
                layout == 0 ? CTCC_LAYOUT_TIME_MAJOR : CTCC_LAYOUT_BATCH_MAJOR;
            sprintf(what, "%s [%s, %s]", name, prec == 0 ? "f64" : "f32",
                    layout == 0 ? "time-major" : "batch-major");
            st = run_problem(p, dt, &o, costs, grads, layout);
            if (!check(st == CTCC_STATUS_SUCCESS, "%s: status %d (%s)", what,
                       (int)st, ctcc_status_string(st))) {
                continue;
            }
            compare_reference(what, p, &o, costs, grads, ltol, gtol);
            st = run_problem(p, dt, &o, costs2, NULL, 0);
            for (n = 0; n < p->N; ++n) {
                if (!loss_close(costs2[n], costs[n], ltol, ltol)) {
                    same = 0;
                }
            }
            check(st == CTCC_STATUS_SUCCESS && same,
                  "%s: loss-only call gives the same costs", what);
        }
    }
    free(grads);
    free(costs);
    free(costs2);
}

/* ------------------------------------------------------------------------ */
/* Library information                                                      */
/* ------------------------------------------------------------------------ */

static void test_info(void) {
    int s, s2, distinct = 1, nonempty = 1;
    ctcc_options o;

    check(strcmp(ctcc_version_string(), CTCC_VERSION_STRING) == 0,
          "ctcc_version_string() == CTCC_VERSION_STRING (\"%s\")",
          ctcc_version_string());
    check(ctcc_version_number() == CTCC_VERSION_NUMBER,
          "ctcc_version_number() == CTCC_VERSION_NUMBER (%d)",
          ctcc_version_number());
    check(CTCC_VERSION_NUMBER == 300, "CTCC_VERSION_NUMBER is 300 for 0.3.0");

    for (s = 0; s <= 14; ++s) {
        const char *a = ctcc_status_string((ctcc_status)s);
        if (a == NULL || a[0] == '\0' || strcmp(a, "unknown status") == 0) {
            nonempty = 0;
            continue;
        }
        for (s2 = 0; s2 < s; ++s2) {
            const char *b = ctcc_status_string((ctcc_status)s2);
            if (b != NULL && strcmp(a, b) == 0) {
                distinct = 0;
            }
        }
    }
    check(nonempty, "ctcc_status_string(0..14) are non-empty and known");
    check(distinct, "ctcc_status_string(0..14) are pairwise distinct");
    check(strcmp(ctcc_status_string((ctcc_status)15), "unknown status") == 0 &&
              strcmp(ctcc_status_string((ctcc_status)-1), "unknown status") ==
                  0 &&
              strcmp(ctcc_status_string((ctcc_status)1000), "unknown status") ==
                  0,
          "ctcc_status_string(15, -1, 1000) == \"unknown status\"");

    memset(&o, 0x5A, sizeof(o));
    ctcc_options_init(&o);
    check(o.struct_size == sizeof(ctcc_options) && o.blank == 0 &&
              o.num_threads == 0 && o.input_kind == CTCC_INPUT_LOGITS &&
              o.layout == CTCC_LAYOUT_TIME_MAJOR && o.zero_infinity == 0 &&
              o.alpha == CTCC_ALPHA_NONE && o.gamma == 0.0 &&
              o.kernel == CTCC_KERNEL_AUTO && o.kernel_used == NULL,
          "ctcc_options_init sets the documented defaults");
    ctcc_options_init(NULL);
    check(1, "ctcc_options_init(NULL) does nothing");
    {
        /* A program built against 0.2 calls the exported function (the
         * parentheses bypass the header's macro) with a struct that ends
         * after gamma: nothing beyond may be written. */
        unsigned char raw[sizeof(ctcc_options)];
        const size_t size02 = offsetof(ctcc_options, gamma) + sizeof(o.gamma);
        size_t i;
        int untouched = 1;
        memset(raw, 0x5A, sizeof(raw));
        (ctcc_options_init)((ctcc_options *)(void *)raw);
        for (i = size02; i < sizeof(raw); ++i) {
            untouched &= raw[i] == 0x5A;
        }
        memcpy(&o, raw, sizeof(o));
        check(untouched && o.struct_size == size02 && o.gamma == 0.0,
              "the exported ctcc_options_init writes the 0.2 struct only");
        memset(&o, 0x5A, sizeof(o));
        ctcc_options_init_size(&o, offsetof(ctcc_options, zero_infinity));
        check(o.struct_size == (size_t)0x5A5A5A5A5A5A5A5Aull,
              "ctcc_options_init_size refuses a size below the 0.1 struct");
    }

    check(ctcc_openmp_enabled() == 0 || ctcc_openmp_enabled() == 1,
          "ctcc_openmp_enabled() is 0 or 1 (%d)", ctcc_openmp_enabled());
    check(ctcc_default_num_threads() >= 1 &&
              (ctcc_openmp_enabled() || ctcc_default_num_threads() == 1),
          "ctcc_default_num_threads() >= 1, and 1 without OpenMP (%d)",
          ctcc_default_num_threads());
}

/* ------------------------------------------------------------------------ */
/* Golden values: the "egg" worked example                                  */
/* ------------------------------------------------------------------------ */

static const double egg_probs[5][4] = {{0.351405, 0.180852, 0.068204, 0.399539},
                                       {0.223719, 0.375489, 0.246327, 0.154465},
                                       {0.178717, 0.486084, 0.108099, 0.2271},
                                       {0.249302, 0.427556, 0.201085, 0.122057},
                                       {0.221976, 0.544759, 0.114415, 0.11885}};

static const double egg_loss = 6.854925117340141;

/* d loss / d logits, computed in float64 from exactly egg_probs. */
static const double egg_grad[5][4] = {
    {0.3514050000000001, -0.6043254427482412, 0.06820400000000001,
     0.1847164427482412},
    {0.22371900000000003, 0.06342665107810391, -0.4016090946534743,
     0.11446344357537028},
    {0.17871699999999993, 0.486084, -0.30775581842981165, -0.3570451815701884},
    {0.24930200000000002, 0.427556, -0.249044914442701, -0.427813085557298},
    {0.22197600000000003, 0.5447590000000001, -0.656240947821083,
     -0.11049405217891677}};

static void test_egg_one(int blank, ctcc_dtype dtype, ctcc_input_kind kind,
                         int with_grad) {
    const int32_t labels[3] = {1, 2, 2};
    const int32_t label_lengths[1] = {3};
    const int32_t input_lengths[1] = {5};
    const int f64 = dtype == CTCC_FLOAT64;
    const double ltol = f64 ? 1e-12 : 1e-5;
    const double gtol = f64 ? 1e-9 : 1e-5;
    double in64[20], g64[20], cost64 = -1.0;
    float in32[20], g32[20], cost32 = -1.0f;
    double cost, worst = 0.0;
    ctcc_options o;
    size_t bytes = 0;
    void *ws;
    ctcc_status st;
    char what[160];
    int t, c;

    sprintf(what, "egg [%s, blank=%d, %s%s]", f64 ? "f64" : "f32", blank,
            kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs",
            with_grad ? "" : ", loss only");
    ctcc_options_init(&o);
    o.blank = blank;
    o.input_kind = kind;
    for (t = 0; t < 5; ++t) {
        for (c = 0; c < 4; ++c) {
            in64[t * 4 + c] = log(egg_probs[t][c]);
            in32[t * 4 + c] = (float)log(egg_probs[t][c]);
            g64[t * 4 + c] = GRAD_SENTINEL;
            g32[t * 4 + c] = (float)GRAD_SENTINEL;
        }
    }
    st = ctcc_workspace_size(label_lengths, input_lengths, 5, 1, 4, dtype,
                             with_grad, &o, &bytes);
    if (!check(st == CTCC_STATUS_SUCCESS, "%s: workspace size status %d", what,
               (int)st)) {
        return;
    }
    ws = xmalloc(bytes);
    if (f64) {
        st = ctcc_loss_f64(in64, with_grad ? g64 : NULL, labels, label_lengths,
                           input_lengths, 5, 1, 4, &cost64, ws, bytes, &o);
        cost = cost64;
    } else {
        st = ctcc_loss_f32(in32, with_grad ? g32 : NULL, labels, label_lengths,
                           input_lengths, 5, 1, 4, &cost32, ws, bytes, &o);
        cost = cost32;
    }
    free(ws);
    if (!check(st == CTCC_STATUS_SUCCESS, "%s: status %d", what, (int)st)) {
        return;
    }
    check(loss_close(cost, egg_loss, ltol, 0.0),
          "%s: loss %.15g vs %.15g (rel err %.3g)", what, cost, egg_loss,
          rel_err(cost, egg_loss));
    if (!with_grad) {
        return;
    }
    for (t = 0; t < 5; ++t) {
        for (c = 0; c < 4; ++c) {
            /* For log-probabilities the gradient is -gamma = grad - probs. */
            double want = kind == CTCC_INPUT_LOGITS
                              ? egg_grad[t][c]
                              : egg_grad[t][c] - egg_probs[t][c];
            double got = f64 ? g64[t * 4 + c] : (double)g32[t * 4 + c];
            double err = fabs(got - want);
            worst = err > worst || isnan(err) ? (isnan(err) ? INFINITY : err)
                                              : worst;
        }
    }
    check(worst <= gtol, "%s: gradient (max abs err %.3g, tol %.0e)", what,
          worst, gtol);
}

static void test_egg(void) {
    int b, k, d;
    for (d = 0; d < 2; ++d) {
        for (k = 0; k < 2; ++k) {
            for (b = 0; b < 2; ++b) {
                test_egg_one(b == 0 ? 3 : -1,
                             d == 0 ? CTCC_FLOAT64 : CTCC_FLOAT32,
                             k == 0 ? CTCC_INPUT_LOGITS : CTCC_INPUT_LOG_PROBS,
                             1);
            }
            test_egg_one(3, d == 0 ? CTCC_FLOAT64 : CTCC_FLOAT32,
                         k == 0 ? CTCC_INPUT_LOGITS : CTCC_INPUT_LOG_PROBS, 0);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Brute force on hand-picked and random tiny problems                       */
/* ------------------------------------------------------------------------ */

/* One sample: T frames (in an array of max_time = T + extra), labels. */
static void single_case(const char *name, int T, int extra, int C, int blank,
                        const int32_t *labels, int L, ctcc_input_kind kind,
                        int zero_infinity) {
    problem p = problem_new(1, T + extra, C);
    ctcc_options o;
    int i;
    ctcc_options_init(&o);
    o.blank = blank;
    o.input_kind = kind;
    o.zero_infinity = zero_infinity;
    fill_sample(&p, 0, T, 0, 0, -3.0, 3.0);
    p.lab_len[0] = L;
    for (i = 0; i < L; ++i) {
        p.labels[i] = labels[i];
    }
    if (kind == CTCC_INPUT_LOG_PROBS) {
        normalise_log_probs(&p);
    }
    check_problem(name, &p, &o);
    problem_free(&p);
}

/* A case with an exactly-zero probability: the only label's class has
 * probability 0 (log-probability -inf) on every frame. */
static void zero_probability_case(ctcc_input_kind kind, int zero_inf) {
    const int32_t labels[1] = {1};
    problem p = problem_new(1, 3, 3);
    ctcc_options o;
    int t;
    char name[128];
    ctcc_options_init(&o);
    o.input_kind = kind;
    o.zero_infinity = zero_inf;
    fill_sample(&p, 0, 3, 0, 0, -2.0, 2.0);
    p.lab_len[0] = 1;
    p.labels[0] = labels[0];
    for (t = 0; t < 3; ++t) {
        p.x[canon(&p, 0, t, 1)] = -INFINITY;
    }
    if (kind == CTCC_INPUT_LOG_PROBS) {
        normalise_log_probs(&p);
    }
    sprintf(name, "zero-probability labels (%s, zero_infinity=%d)",
            kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", zero_inf);
    check_problem(name, &p, &o);
    problem_free(&p);
}

static void test_brute_force_cases(void) {
    const int32_t rep[2] = {1, 1};
    const int32_t rep3[3] = {2, 2, 2};
    const int32_t l020[3] = {0, 2, 0};
    const int32_t l12[2] = {1, 2};
    const int32_t l023[3] = {0, 2, 3};
    int k;

    for (k = 0; k < 2; ++k) {
        const ctcc_input_kind kind =
            k == 0 ? CTCC_INPUT_LOGITS : CTCC_INPUT_LOG_PROBS;
        char name[160];
        const char *ks = k == 0 ? "logits" : "log-probs";

        sprintf(name, "repeat [1,1], T=3 = minimum (%s)", ks);
        single_case(name, 3, 0, 3, 0, rep, 2, kind, 0);
        sprintf(name, "repeat [1,1], T=5 (%s)", ks);
        single_case(name, 5, 1, 3, 0, rep, 2, kind, 0);
        sprintf(name, "repeat [2,2,2], T=5 = minimum (%s)", ks);
        single_case(name, 5, 0, 3, 0, rep3, 3, kind, 0);
        sprintf(name, "infeasible [1,1], T=2 (%s)", ks);
        single_case(name, 2, 1, 3, 0, rep, 2, kind, 0);
        sprintf(name, "infeasible [1,1], T=2, zero_infinity (%s)", ks);
        single_case(name, 2, 1, 3, 0, rep, 2, kind, 1);
        sprintf(name, "infeasible [1,2], T=1 (%s)", ks);
        single_case(name, 1, 2, 3, 0, l12, 2, kind, 0);
        sprintf(name, "infeasible [1,2], T=0, zero_infinity (%s)", ks);
        single_case(name, 0, 2, 3, 0, l12, 2, kind, 1);
        sprintf(name, "infeasible [1,2], T=0 (%s)", ks);
        single_case(name, 0, 2, 3, 0, l12, 2, kind, 0);
        sprintf(name, "no labels, T=4 (%s)", ks);
        single_case(name, 4, 1, 3, 0, NULL, 0, kind, 0);
        sprintf(name, "no labels, no frames (%s)", ks);
        single_case(name, 0, 3, 3, 0, NULL, 0, kind, 0);
        sprintf(name, "blank last (3), [0,2,0], T=5 (%s)", ks);
        single_case(name, 5, 0, 4, 3, l020, 3, kind, 0);
        sprintf(name, "blank -1, [0,2,0], T=3 = minimum (%s)", ks);
        single_case(name, 3, 1, 4, -1, l020, 3, kind, 0);
        sprintf(name, "blank in the middle (1), [0,2,3], T=5 (%s)", ks);
        single_case(name, 5, 0, 4, 1, l023, 3, kind, 0);
        sprintf(name, "blank -4 (= 0), [1,2], T=4 (%s)", ks);
        single_case(name, 4, 0, 4, -4, l12, 2, kind, 0);
        sprintf(name, "C=1 (blank only), T=4 (%s)", ks);
        single_case(name, 4, 1, 1, 0, NULL, 0, kind, 0);
        sprintf(name, "C=1 (blank only), T=0 (%s)", ks);
        single_case(name, 0, 1, 1, 0, NULL, 0, kind, 0);
        sprintf(name, "C=2, [1,1,1], T=5 = minimum (%s)", ks);
        {
            const int32_t l111[3] = {1, 1, 1};
            single_case(name, 5, 0, 2, 0, l111, 3, kind, 0);
        }
        zero_probability_case(kind, 0);
        zero_probability_case(kind, 1);
    }
}

/* Random tiny problems, each a batch of one, all blank positions. */
static void test_random_tiny(int count) {
    int i;
    for (i = 0; i < count; ++i) {
        const int C = rng_int(1, 4);
        const int T = rng_int(0, 5);
        const int L = C == 1 ? 0 : rng_int(0, 3);
        const int blank_idx = rng_int(0, C - 1);
        const int negative = rng_int(0, 1);
        const ctcc_input_kind kind =
            rng_int(0, 1) ? CTCC_INPUT_LOG_PROBS : CTCC_INPUT_LOGITS;
        const int zero_inf = rng_int(0, 3) == 0;
        problem p = problem_new(1, T + rng_int(0, 2), C);
        ctcc_options o;
        char name[160];
        ctcc_options_init(&o);
        o.blank = negative ? blank_idx - C : blank_idx;
        o.input_kind = kind;
        o.zero_infinity = zero_inf;
        fill_sample(&p, 0, T, L, blank_idx, -4.0, 4.0);
        if (kind == CTCC_INPUT_LOG_PROBS) {
            normalise_log_probs(&p);
        }
        sprintf(name,
                "random #%d (T=%d, max_time=%d, C=%d, L=%d, blank=%d, %s, "
                "zero_infinity=%d)",
                i, T, p.T, C, L, o.blank,
                kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", zero_inf);
        check_problem(name, &p, &o);
        problem_free(&p);
    }
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */
/* ------------------------------------------------------------------------ */

/* A small batch with varied input lengths; NaN fills every frame past an
 * input length. Compared with the brute force sample by sample. */
static void test_small_batch(ctcc_input_kind kind, int blank) {
    /* input length, label length */
    static const int spec[][2] = {{5, 2}, {3, 1}, {0, 0}, {4, 3},
                                  {1, 2}, {5, 0}, {2, 1}, {5, 3}};
    const int N = (int)(sizeof(spec) / sizeof(spec[0]));
    problem p = problem_new(N, 5, 4);
    ctcc_options o;
    char name[128];
    int n;
    ctcc_options_init(&o);
    o.blank = blank;
    o.input_kind = kind;
    for (n = 0; n < N; ++n) {
        fill_sample(&p, n, spec[n][0], spec[n][1],
                    blank < 0 ? blank + 4 : blank, -3.0, 3.0);
    }
    /* Force a repeated label on sample 3 (labels [x, x, y]). */
    p.labels[label_offset(&p, 3) + 1] = p.labels[label_offset(&p, 3)];
    if (kind == CTCC_INPUT_LOG_PROBS) {
        normalise_log_probs(&p);
    }
    sprintf(name, "batch of %d with NaN padding (%s, blank=%d)", N,
            kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", blank);
    check_problem(name, &p, &o);
    problem_free(&p);
}

static int same_bits(const double *a, const double *b, size_t n) {
    return memcmp(a, b, n * sizeof(double)) == 0;
}

/* A larger random batch: threads, layouts, precisions, loss-only,
 * options NULL and misaligned workspaces against each other. */
static void test_large_batch(ctcc_input_kind kind) {
    const int N = 37, T = 60, C = 12;
    const size_t total = (size_t)N * T * C;
    const char *ks = kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs";
    problem p = problem_new(N, T, C);
    double *g_ref = (double *)xmalloc(total * sizeof(double));
    double *g = (double *)xmalloc(total * sizeof(double));
    double *g32 = (double *)xmalloc(total * sizeof(double));
    double *c_ref = (double *)xmalloc((size_t)N * sizeof(double));
    double *c = (double *)xmalloc((size_t)N * sizeof(double));
    double *c32 = (double *)xmalloc((size_t)N * sizeof(double));
    ctcc_options o;
    ctcc_status st;
    int n, t, k, i, finite = 1, rows_ok = 1, ok;
    double worst;
    const int threads[4] = {2, 3, 0, 64};

    ctcc_options_init(&o);
    o.input_kind = kind;
    for (n = 0; n < N; ++n) {
        int in_len = n == 5 ? 0 : rng_int(1, T);
        int max_l = (in_len - 1) / 2;
        fill_sample(&p, n, in_len, rng_int(0, max_l < 15 ? max_l : 15), 0, -5.0,
                    5.0);
    }
    if (kind == CTCC_INPUT_LOG_PROBS) {
        normalise_log_probs(&p);
    }

    o.num_threads = 1;
    st = run_problem(&p, CTCC_FLOAT64, &o, c_ref, g_ref, 0);
    if (!check(st == CTCC_STATUS_SUCCESS, "large batch (%s): status %d", ks,
               (int)st)) {
        goto done;
    }
    for (n = 0; n < N; ++n) {
        if (!isfinite(c_ref[n]) || c_ref[n] < 0.0) {
            finite = 0;
        }
        for (t = 0; t < p.in_len[n]; ++t) {
            double sum = 0.0;
            for (k = 0; k < C; ++k) {
                sum += g_ref[canon(&p, n, t, k)];
            }
            /* softmax - gamma sums to 0; -gamma sums to -1. */
            if (fabs(sum - (kind == CTCC_INPUT_LOGITS ? 0.0 : -1.0)) > 1e-9) {
                rows_ok = 0;
            }
        }
    }
    check(finite, "large batch (%s, f64): all costs finite and >= 0", ks);
    check(rows_ok, "large batch (%s, f64): every valid gradient row sums to %s",
          ks, kind == CTCC_INPUT_LOGITS ? "0" : "-1");

    for (i = 0; i < 4; ++i) {
        int d;
        for (d = 0; d < 2; ++d) {
            const ctcc_dtype dt = d == 0 ? CTCC_FLOAT64 : CTCC_FLOAT32;
            double *cr = d == 0 ? c_ref : c32;
            double *gr = d == 0 ? g_ref : g32;
            if (d == 1 && i == 0) {
                o.num_threads = 1;
                run_problem(&p, CTCC_FLOAT32, &o, c32, g32, 0);
            }
            o.num_threads = threads[i];
            st = run_problem(&p, dt, &o, c, g, 0);
            check(st == CTCC_STATUS_SUCCESS && same_bits(c, cr, (size_t)N) &&
                      same_bits(g, gr, total),
                  "large batch (%s, %s): num_threads=%d bitwise equal to "
                  "num_threads=1",
                  ks, d == 0 ? "f64" : "f32", threads[i]);
        }
    }
    o.num_threads = 0;

    /* Batch-major layout. */
    o.layout = CTCC_LAYOUT_BATCH_MAJOR;
    st = run_problem(&p, CTCC_FLOAT64, &o, c, g, 3);
    worst = 0.0;
    ok = st == CTCC_STATUS_SUCCESS;
    for (n = 0; ok && n < N; ++n) {
        worst =
            rel_err(c[n], c_ref[n]) > worst ? rel_err(c[n], c_ref[n]) : worst;
    }
    for (i = 0; ok && (size_t)i < total; ++i) {
        double e = fabs(g[i] - g_ref[i]);
        if (!(e <= 1e-12)) {
            ok = 0;
        }
    }
    check(ok && worst <= 1e-13,
          "large batch (%s, f64): batch-major equals time-major (costs rel "
          "err %.3g%s)",
          ks, worst, same_bits(c, c_ref, (size_t)N) ? ", bitwise" : "");
    o.layout = CTCC_LAYOUT_TIME_MAJOR;

    /* f32 against f64. */
    worst = 0.0;
    for (n = 0; n < N; ++n) {
        worst = rel_err(c32[n], c_ref[n]) > worst ? rel_err(c32[n], c_ref[n])
                                                  : worst;
    }
    check(worst <= 2e-5,
          "large batch (%s): f32 costs close to f64 (rel err "
          "%.3g)",
          ks, worst);
    worst = 0.0;
    for (i = 0; (size_t)i < total; ++i) {
        double e = fabs(g32[i] - g_ref[i]);
        worst = !(e <= worst) ? e : worst;
    }
    check(worst <= 5e-5,
          "large batch (%s): f32 gradient close to f64 (max abs err %.3g)", ks,
          worst);

    /* Loss only, and options == NULL (defaults) for logits. */
    st = run_problem(&p, CTCC_FLOAT64, &o, c, NULL, 1);
    worst = 0.0;
    for (n = 0; n < N; ++n) {
        worst =
            rel_err(c[n], c_ref[n]) > worst ? rel_err(c[n], c_ref[n]) : worst;
    }
    check(st == CTCC_STATUS_SUCCESS && worst <= 1e-13,
          "large batch (%s, f64): gradient NULL gives the same costs (rel err "
          "%.3g%s)",
          ks, worst, same_bits(c, c_ref, (size_t)N) ? ", bitwise" : "");
    if (kind == CTCC_INPUT_LOGITS) {
        st = run_problem(&p, CTCC_FLOAT64, NULL, c, g, 0);
        check(st == CTCC_STATUS_SUCCESS && same_bits(c, c_ref, (size_t)N) &&
                  same_bits(g, g_ref, total),
              "large batch (logits, f64): options NULL equals the defaults");

        /* Shift invariance of the softmax: logits + 1000. */
        {
            problem q = problem_new(N, T, C);
            for (n = 0; n < N; ++n) {
                q.in_len[n] = p.in_len[n];
                q.lab_len[n] = p.lab_len[n];
            }
            memcpy(q.labels, p.labels, label_offset(&p, N) * sizeof(int32_t));
            for (i = 0; (size_t)i < total; ++i) {
                q.x[i] = p.x[i] + 1000.0;
            }
            st = run_problem(&q, CTCC_FLOAT64, &o, c, g, 0);
            worst = 0.0;
            for (n = 0; n < N; ++n) {
                worst = rel_err(c[n], c_ref[n]) > worst
                            ? rel_err(c[n], c_ref[n])
                            : worst;
            }
            for (i = 0; (size_t)i < total; ++i) {
                double e = fabs(g[i] - g_ref[i]);
                if (!isnan(g_ref[i]) && !(e <= 1e-9)) {
                    worst = INFINITY;
                }
            }
            check(st == CTCC_STATUS_SUCCESS && worst <= 1e-9,
                  "large batch (logits, f64): logits + 1000 give the same "
                  "costs and gradient (rel err %.3g)",
                  worst);
            problem_free(&q);
        }
    }

done:
    problem_free(&p);
    free(g_ref);
    free(g);
    free(g32);
    free(c_ref);
    free(c);
    free(c32);
}

/* flat_labels may be NULL when every label length is 0. */
static void test_null_labels_allowed(void) {
    const int32_t in_len[2] = {3, 0}, lab_len[2] = {0, 0};
    double x[3 * 2 * 3], g[3 * 2 * 3], costs[2] = {-1.0, -1.0};
    size_t bytes = 0;
    void *ws;
    ctcc_status st;
    int i, ok = 1;
    for (i = 0; i < 18; ++i) {
        x[i] = rng_value(-1.0, 1.0);
    }
    st = ctcc_workspace_size(lab_len, in_len, 3, 2, 3, CTCC_FLOAT64, 1, NULL,
                             &bytes);
    ws = xmalloc(bytes);
    st = st != CTCC_STATUS_SUCCESS
             ? st
             : ctcc_loss_f64(x, g, NULL, lab_len, in_len, 3, 2, 3, costs, ws,
                             bytes, NULL);
    free(ws);
    /* Blank-only alignment: cost = -sum_t log softmax(x_t)[0]. */
    {
        double want = 0.0;
        int t, c;
        for (t = 0; t < 3; ++t) {
            double s = 0.0;
            for (c = 0; c < 3; ++c) {
                s += exp(x[(t * 2) * 3 + c]);
            }
            want -= x[(t * 2) * 3] - log(s);
        }
        ok = st == CTCC_STATUS_SUCCESS &&
             loss_close(costs[0], want, 1e-12, 0) && costs[1] == 0.0;
    }
    check(ok,
          "flat_labels NULL with all label lengths 0 is accepted "
          "(status %d)",
          (int)st);
}

/* ------------------------------------------------------------------------ */
/* Gradient against central finite differences of the library's own loss   */
/* ------------------------------------------------------------------------ */

static void test_finite_differences(ctcc_input_kind kind) {
    const int T = 6, N = 2, C = 5;
    const int32_t in_len[2] = {6, 4}, lab_len[2] = {3, 2};
    const int32_t labels[5] = {1, 3, 3, 4, 2};
    double x[6 * 2 * 5], g[6 * 2 * 5], costs[2], cp[2], cm[2];
    const double h = 1e-6;
    size_t bytes_g = 0, bytes = 0;
    void *ws;
    ctcc_options o;
    ctcc_status st;
    double worst = 0.0;
    int i, ok = 1;

    ctcc_options_init(&o);
    o.input_kind = kind;
    o.layout = CTCC_LAYOUT_TIME_MAJOR;
    for (i = 0; i < T * N * C; ++i) {
        x[i] = rng_value(-2.0, 2.0);
    }
    st = ctcc_workspace_size(lab_len, in_len, T, N, C, CTCC_FLOAT64, 1, &o,
                             &bytes_g);
    ok = st == CTCC_STATUS_SUCCESS;
    st = ctcc_workspace_size(lab_len, in_len, T, N, C, CTCC_FLOAT64, 0, &o,
                             &bytes);
    ok = ok && st == CTCC_STATUS_SUCCESS;
    if (!check(ok, "finite differences: workspace sizes")) {
        return;
    }
    ws = xmalloc(bytes_g > bytes ? bytes_g : bytes);
    st = ctcc_loss_f64(x, g, labels, lab_len, in_len, T, N, C, costs, ws,
                       bytes_g, &o);
    ok = st == CTCC_STATUS_SUCCESS;
    for (i = 0; ok && i < T * N * C; ++i) {
        const int n = (i / C) % N;
        const double keep = x[i];
        double fd;
        x[i] = keep + h;
        st = ctcc_loss_f64(x, NULL, labels, lab_len, in_len, T, N, C, cp, ws,
                           bytes, &o);
        x[i] = keep - h;
        st = st != CTCC_STATUS_SUCCESS
                 ? st
                 : ctcc_loss_f64(x, NULL, labels, lab_len, in_len, T, N, C, cm,
                                 ws, bytes, &o);
        x[i] = keep;
        if (st != CTCC_STATUS_SUCCESS) {
            ok = 0;
            break;
        }
        fd = (cp[n] - cm[n]) / (2.0 * h);
        if (!(fabs(fd - g[i]) <= worst)) {
            worst = fabs(fd - g[i]);
        }
        /* The other sample's cost must not move at all. */
        if (cp[1 - n] != costs[1 - n] || cm[1 - n] != costs[1 - n]) {
            ok = 0;
        }
    }
    free(ws);
    check(ok && worst <= 1e-6,
          "finite differences (%s, f64, h=1e-6): gradient matches (max abs "
          "err %.3g), samples independent",
          kind == CTCC_INPUT_LOGITS ? "logits" : "log-probs", worst);
}

/* ------------------------------------------------------------------------ */
/* Status codes and untouched outputs                                       */
/* ------------------------------------------------------------------------ */

#define SENTINEL -12345.0
#define MAXN 8
#define BUF 64

/* A call description: starts valid, each test breaks one thing. */
typedef struct call {
    int32_t T, N, C;
    int32_t in_len[MAXN], lab_len[MAXN], labels[MAXN * 4];
    ctcc_options opts;
    int with_grad;
    int null_inputs, null_costs, null_labels, null_lab_len, null_in_len,
        null_ws, null_opts;
    int ws_short; /* pass the reported size minus this */
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
    c.with_grad = 1;
    return c;
}

/* Calls both ctcc_loss_f32 and ctcc_loss_f64 for c and checks the status
 * and, on error, that costs and gradients were not touched. */
static void expect_loss(const char *what, const call *c, ctcc_status want) {
    int d;
    for (d = 0; d < 2; ++d) {
        double in64[BUF], g64[BUF], c64[MAXN];
        float in32[BUF], g32[BUF], c32[MAXN];
        unsigned char ws_buf[1 << 16];
        size_t bytes = sizeof(ws_buf);
        const ctcc_dtype dt = d == 0 ? CTCC_FLOAT64 : CTCC_FLOAT32;
        ctcc_status st, ws_st;
        int i, untouched = 1;
        for (i = 0; i < BUF; ++i) {
            in64[i] = rng_value(-1.0, 1.0);
            in32[i] = (float)in64[i];
            g64[i] = SENTINEL;
            g32[i] = (float)SENTINEL;
        }
        for (i = 0; i < MAXN; ++i) {
            c64[i] = SENTINEL;
            c32[i] = (float)SENTINEL;
        }
        /* The exact workspace when the arguments allow asking for it. */
        ws_st = ctcc_workspace_size(c->lab_len, c->in_len, c->T, c->N, c->C, dt,
                                    c->with_grad, &c->opts, &bytes);
        if (ws_st != CTCC_STATUS_SUCCESS || bytes > sizeof(ws_buf)) {
            bytes = sizeof(ws_buf);
        }
        if (c->ws_short > 0) {
            bytes -= (size_t)c->ws_short;
        }
        if (d == 0) {
            st = ctcc_loss_f64(c->null_inputs ? NULL : in64,
                               c->with_grad ? g64 : NULL,
                               c->null_labels ? NULL : c->labels,
                               c->null_lab_len ? NULL : c->lab_len,
                               c->null_in_len ? NULL : c->in_len, c->T, c->N,
                               c->C, c->null_costs ? NULL : c64,
                               c->null_ws ? NULL : ws_buf, bytes,
                               c->null_opts ? NULL : &c->opts);
        } else {
            st = ctcc_loss_f32(c->null_inputs ? NULL : in32,
                               c->with_grad ? g32 : NULL,
                               c->null_labels ? NULL : c->labels,
                               c->null_lab_len ? NULL : c->lab_len,
                               c->null_in_len ? NULL : c->in_len, c->T, c->N,
                               c->C, c->null_costs ? NULL : c32,
                               c->null_ws ? NULL : ws_buf, bytes,
                               c->null_opts ? NULL : &c->opts);
        }
        if (want != CTCC_STATUS_SUCCESS) {
            for (i = 0; i < BUF; ++i) {
                if (g64[i] != SENTINEL || g32[i] != (float)SENTINEL) {
                    untouched = 0;
                }
            }
            for (i = 0; i < MAXN; ++i) {
                if (c64[i] != SENTINEL || c32[i] != (float)SENTINEL) {
                    untouched = 0;
                }
            }
        }
        check(st == want && untouched,
              "ctcc_loss_%s, %s: status %d (%s), want %d%s", d ? "f32" : "f64",
              what, (int)st, ctcc_status_string(st), (int)want,
              want == CTCC_STATUS_SUCCESS
                  ? ""
                  : (untouched ? ", outputs untouched" : ", OUTPUTS WRITTEN"));
    }
}

/* ctcc_workspace_size for c (with c->with_grad) and the given dtype; on
 * error *size_bytes must be untouched. */
static void expect_ws(const char *what, const call *c, ctcc_dtype dtype,
                      ctcc_status want) {
    size_t bytes = 12345;
    ctcc_status st =
        ctcc_workspace_size(c->null_lab_len ? NULL : c->lab_len,
                            c->null_in_len ? NULL : c->in_len, c->T, c->N, c->C,
                            dtype, c->with_grad, c->null_opts ? NULL : &c->opts,
                            c->null_ws ? NULL : &bytes);
    check(st == want && (want == CTCC_STATUS_SUCCESS || bytes == 12345),
          "ctcc_workspace_size, %s: status %d (%s), want %d%s", what, (int)st,
          ctcc_status_string(st), (int)want,
          want == CTCC_STATUS_SUCCESS
              ? ""
              : (bytes == 12345 ? ", size untouched" : ", SIZE WRITTEN"));
}

/* Both the loss and the workspace query. */
static void expect_both(const char *what, const call *c, ctcc_status want) {
    expect_loss(what, c, want);
    expect_ws(what, c, CTCC_FLOAT32, want);
    expect_ws(what, c, CTCC_FLOAT64, want);
}

static void test_status_codes(void) {
    call c;
    int g;

    c = valid_call();
    expect_both("valid call", &c, CTCC_STATUS_SUCCESS);
    c.null_opts = 1;
    expect_both("options NULL", &c, CTCC_STATUS_SUCCESS);

    /* NULL pointers. */
    c = valid_call();
    c.null_inputs = 1;
    expect_loss("inputs NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_costs = 1;
    expect_loss("costs NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_labels = 1;
    expect_loss("flat_labels NULL with labels", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_lab_len = 1;
    expect_both("label_lengths NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_in_len = 1;
    expect_both("input_lengths NULL", &c, CTCC_STATUS_NULL_POINTER);
    c = valid_call();
    c.null_ws = 1; /* workspace for the loss, size_bytes for the query */
    expect_both("workspace / size_bytes NULL", &c, CTCC_STATUS_NULL_POINTER);

    for (g = 0; g < 2; ++g) {
        const char *gs = g ? "" : " (loss only)";
        char what[160];

        c = valid_call();
        c.with_grad = g;
        c.N = 0;
        sprintf(what, "batch 0%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_BATCH_SIZE);
        c.N = -1;
        sprintf(what, "batch -1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_BATCH_SIZE);

        c = valid_call();
        c.with_grad = g;
        c.C = 0;
        sprintf(what, "alphabet 0%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_ALPHABET_SIZE);
        c.C = -3;
        sprintf(what, "alphabet -3%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_ALPHABET_SIZE);

        c = valid_call();
        c.with_grad = g;
        c.opts.blank = 3;
        sprintf(what, "blank = C%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_BLANK);
        c.opts.blank = -4;
        sprintf(what, "blank = -C-1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_BLANK);
        c.opts.blank = -3;
        sprintf(what, "blank = -C (valid, = 0)%s", gs);
        expect_both(what, &c, CTCC_STATUS_SUCCESS);

        c = valid_call();
        c.with_grad = g;
        c.T = -1;
        c.in_len[0] = 0;
        c.in_len[1] = 0;
        sprintf(what, "max_time -1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_MAX_TIME);

        c = valid_call();
        c.with_grad = g;
        c.in_len[1] = -1;
        sprintf(what, "input length -1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_INPUT_LENGTH);
        c.in_len[1] = c.T + 1;
        sprintf(what, "input length max_time + 1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_INPUT_LENGTH);

        c = valid_call();
        c.with_grad = g;
        c.lab_len[1] = -1;
        sprintf(what, "label length -1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_LABEL_LENGTH);

        c = valid_call();
        c.with_grad = g;
        c.labels[2] = 3;
        sprintf(what, "label = C%s", gs);
        expect_loss(what, &c, CTCC_STATUS_LABEL_OUT_OF_RANGE);
        c.labels[2] = -1;
        sprintf(what, "label = -1%s", gs);
        expect_loss(what, &c, CTCC_STATUS_LABEL_OUT_OF_RANGE);
        c.labels[2] = 0;
        sprintf(what, "label = blank 0%s", gs);
        expect_loss(what, &c, CTCC_STATUS_LABEL_IS_BLANK);
        c = valid_call();
        c.with_grad = g;
        c.opts.blank = -1;
        sprintf(what, "label = blank -1 (class 2)%s", gs);
        expect_loss(what, &c, CTCC_STATUS_LABEL_IS_BLANK);

        c = valid_call();
        c.with_grad = g;
        c.ws_short = 1;
        sprintf(what, "workspace_bytes = required - 1%s", gs);
        expect_loss(what, &c, CTCC_STATUS_WORKSPACE_TOO_SMALL);

        c = valid_call();
        c.with_grad = g;
        c.opts.layout = (ctcc_layout)7;
        sprintf(what, "layout 7%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_OPTION);
        c = valid_call();
        c.with_grad = g;
        c.opts.input_kind = (ctcc_input_kind)9;
        sprintf(what, "input_kind 9%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_OPTION);
        c = valid_call();
        c.with_grad = g;
        c.opts.num_threads = -1;
        sprintf(what, "num_threads -1%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_OPTION);
        c = valid_call();
        c.with_grad = g;
        c.opts.struct_size = 0;
        sprintf(what, "struct_size 0%s", gs);
        expect_both(what, &c, CTCC_STATUS_INVALID_OPTION);
    }

    /* Unknown dtypes. */
    c = valid_call();
    expect_ws("dtype 0", &c, (ctcc_dtype)0, CTCC_STATUS_INVALID_DTYPE);
    expect_ws("dtype 3", &c, (ctcc_dtype)3, CTCC_STATUS_INVALID_DTYPE);

    /* Workspace of exactly the reported size, and larger, is accepted. */
    c = valid_call();
    c.ws_short = 0;
    expect_loss("workspace_bytes = required", &c, CTCC_STATUS_SUCCESS);

    /* Size overflow of the inputs array: max_time * batch * alphabet
     * = (2^31 - 1)^2 * 8 > 2^64, with every length 0 so that nothing would
     * be read. Loss only first: a library that misses the check writes only
     * 8 costs instead of crashing on a huge gradient. */
    {
        int n, loss_only_ok;
        c = valid_call();
        c.T = INT32_MAX;
        c.N = MAXN;
        c.C = INT32_MAX;
        for (n = 0; n < MAXN; ++n) {
            c.in_len[n] = 0;
            c.lab_len[n] = 0;
        }
        expect_ws("max_time * batch * alphabet overflows size_t (f32)", &c,
                  CTCC_FLOAT32, CTCC_STATUS_SIZE_OVERFLOW);
        expect_ws("max_time * batch * alphabet overflows size_t (f64)", &c,
                  CTCC_FLOAT64, CTCC_STATUS_SIZE_OVERFLOW);
        c.with_grad = 0;
        loss_only_ok = g_failed;
        expect_loss("max_time * batch * alphabet overflows size_t (loss only)",
                    &c, CTCC_STATUS_SIZE_OVERFLOW);
        loss_only_ok = loss_only_ok == g_failed;
        c.with_grad = 1;
        if (loss_only_ok) {
            expect_loss("max_time * batch * alphabet overflows size_t", &c,
                        CTCC_STATUS_SIZE_OVERFLOW);
        } else {
            check(0, "max_time * batch * alphabet overflow with gradient: "
                     "skipped (would write a huge gradient)");
        }
    }

    /* Size overflow of the workspace: T * (2L + 1) * sizeof(real) per
     * sample with T = 2^31 - 1 and L = 2^31 - 1 is about 2^65 bytes. */
    {
        c = valid_call();
        c.T = INT32_MAX;
        c.N = 2;
        c.C = 2;
        c.in_len[0] = INT32_MAX;
        c.in_len[1] = INT32_MAX;
        c.lab_len[0] = INT32_MAX;
        c.lab_len[1] = INT32_MAX;
        c.with_grad = 1;
        expect_ws("workspace size overflows size_t (f32)", &c, CTCC_FLOAT32,
                  CTCC_STATUS_SIZE_OVERFLOW);
        expect_ws("workspace size overflows size_t (f64)", &c, CTCC_FLOAT64,
                  CTCC_STATUS_SIZE_OVERFLOW);
    }
}

/* The same workspace serves several calls and batches with other labels
 * but the same lengths; a larger workspace than needed is fine. */
static void test_workspace_reuse(void) {
    problem p = problem_new(3, 5, 4);
    double costs[3], again[3], grads[60], again_g[60], other[3];
    double in[60], g[60];
    size_t bytes = 0;
    unsigned char *ws;
    ctcc_status st;
    int n, t, k, ok = 1;

    fill_sample(&p, 0, 5, 2, 0, -2.0, 2.0);
    fill_sample(&p, 1, 4, 1, 0, -2.0, 2.0);
    fill_sample(&p, 2, 5, 2, 0, -2.0, 2.0);
    ok = run_problem(&p, CTCC_FLOAT64, NULL, costs, grads, 0) ==
         CTCC_STATUS_SUCCESS;
    st = ctcc_workspace_size(p.lab_len, p.in_len, p.T, p.N, p.C, CTCC_FLOAT64,
                             1, NULL, &bytes);
    ok = ok && st == CTCC_STATUS_SUCCESS;
    ws = (unsigned char *)xmalloc(bytes + 1000);
    memset(ws, 0xFF, bytes + 1000); /* garbage (NaN patterns) on entry */
    for (n = 0; n < 3; ++n) {
        for (t = 0; t < 5; ++t) {
            for (k = 0; k < 4; ++k) {
                in[(t * 3 + n) * 4 + k] = p.x[canon(&p, n, t, k)];
            }
        }
    }
    for (n = 0; ok && n < 3; ++n) {
        /* Three calls on one workspace (the last with a larger size). */
        st = ctcc_loss_f64(in, g, p.labels, p.lab_len, p.in_len, p.T, p.N, p.C,
                           again, ws + 7, n == 2 ? bytes + 993 : bytes, NULL);
        ok = ok && st == CTCC_STATUS_SUCCESS && same_bits(again, costs, 3);
    }
    for (n = 0; n < 3; ++n) {
        for (t = 0; t < 5; ++t) {
            for (k = 0; k < 4; ++k) {
                again_g[canon(&p, n, t, k)] = g[(t * 3 + n) * 4 + k];
            }
        }
    }
    ok = ok && same_bits(again_g, grads, 60);
    /* Other label values, same lengths: same workspace size and it works. */
    {
        size_t bytes2 = 0;
        /* Sample 0 gets a different first label. */
        p.labels[0] = p.labels[0] == 1 ? 2 : 1;
        st = ctcc_workspace_size(p.lab_len, p.in_len, p.T, p.N, p.C,
                                 CTCC_FLOAT64, 1, NULL, &bytes2);
        ok = ok && st == CTCC_STATUS_SUCCESS && bytes2 == bytes;
        st = ctcc_loss_f64(in, g, p.labels, p.lab_len, p.in_len, p.T, p.N, p.C,
                           other, ws + 7, bytes, NULL);
        ok = ok && st == CTCC_STATUS_SUCCESS && other[1] == costs[1] &&
             other[2] == costs[2] && other[0] != costs[0];
    }
    free(ws);
    check(ok, "workspace reused across calls (unaligned, dirty, larger) gives "
              "identical results");
    problem_free(&p);
}

/* ------------------------------------------------------------------------ */

int main(void) {
    printf("ctcc %s, OpenMP %s, default threads %d\n", ctcc_version_string(),
           ctcc_openmp_enabled() ? "on" : "off", ctcc_default_num_threads());

    test_info();
    test_egg();
    test_brute_force_cases();
    test_random_tiny(150);
    test_small_batch(CTCC_INPUT_LOGITS, 0);
    test_small_batch(CTCC_INPUT_LOGITS, -1);
    test_small_batch(CTCC_INPUT_LOG_PROBS, 3);
    test_small_batch(CTCC_INPUT_LOG_PROBS, 1);
    test_large_batch(CTCC_INPUT_LOGITS);
    test_large_batch(CTCC_INPUT_LOG_PROBS);
    test_null_labels_allowed();
    test_finite_differences(CTCC_INPUT_LOGITS);
    test_finite_differences(CTCC_INPUT_LOG_PROBS);
    test_workspace_reuse();
    test_status_codes();

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
