/*
 * test_posteriors.c - ctcc_loss_posteriors_f32/f64 and the alpha / gamma
 * training modifications, through the public API only.
 *
 * The posteriors are checked against the gradient of ctcc_loss (softmax -
 * posterior), and the modified targets, weights and gradients against a
 * direct implementation of eq. 13-18 written here from the plain
 * posteriors. Prints "N passed, M failed"; exits nonzero on a failure.
 */
#include <ctcc.h>

#include "testing.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A batch: logits [T, N, C] (time-major), labels avoiding blank 0. */
typedef struct batch {
    int T, N, C;
    double *x;
    int32_t *labels, *label_lengths, *input_lengths;
    int total_labels;
} batch;

static batch batch_new(int T, int N, int C, const int *lens, const int *lab) {
    batch b;
    int n, i;
    b.T = T;
    b.N = N;
    b.C = C;
    b.x = (double *)xmalloc(sizeof(double) * (size_t)(T * N * C));
    for (i = 0; i < T * N * C; ++i) {
        b.x[i] = 3.0 * rng_uniform() - 1.5;
    }
    b.label_lengths = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    b.input_lengths = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    b.total_labels = 0;
    for (n = 0; n < N; ++n) {
        b.input_lengths[n] = lens[n];
        b.label_lengths[n] = lab[n];
        b.total_labels += lab[n];
    }
    b.labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)b.total_labels + 1);
    for (i = 0; i < b.total_labels; ++i) {
        b.labels[i] = 1 + (int32_t)(rng_uniform() * (C - 1));
    }
    return b;
}

static void batch_free(batch *b) {
    free(b->x);
    free(b->labels);
    free(b->label_lengths);
    free(b->input_lengths);
}

/* Runs ctcc_loss_posteriors_f64 with fresh outputs; returns the status. */
static ctcc_status run64(const batch *b, const ctcc_options *o, double *grad,
                         double *post, double *weights, double *costs) {
    size_t bytes = 0;
    void *ws;
    ctcc_status st =
        ctcc_workspace_size(b->label_lengths, b->input_lengths, b->T, b->N,
                            b->C, CTCC_FLOAT64, 1, o, &bytes);
    if (st != CTCC_STATUS_SUCCESS) {
        return st;
    }
    ws = xmalloc(bytes);
    st = ctcc_loss_posteriors_f64(b->x, grad, post, weights, b->labels,
                                  b->label_lengths, b->input_lengths, b->T,
                                  b->N, b->C, costs, ws, bytes, o);
    free(ws);
    return st;
}

static double softmax_at(const batch *b, int t, int n, int c) {
    const double *row = b->x + ((size_t)t * b->N + n) * b->C;
    double m = row[0], s = 0.0;
    int k;
    for (k = 1; k < b->C; ++k) {
        m = row[k] > m ? row[k] : m;
    }
    for (k = 0; k < b->C; ++k) {
        s += exp(row[k] - m);
    }
    return exp(row[c] - m) / s;
}

/* Plain posteriors agree with the loss gradient; rows sum to 1; weights
 * are 1 on valid frames. */
static void test_plain(void) {
    const int lens[4] = {12, 7, 12, 3}, lab[4] = {3, 2, 0, 3};
    batch b = batch_new(12, 4, 5, lens, lab);
    const size_t size = (size_t)(b.T * b.N * b.C);
    double *grad = (double *)xmalloc(sizeof(double) * size);
    double *grad2 = (double *)xmalloc(sizeof(double) * size);
    double *post = (double *)xmalloc(sizeof(double) * size);
    double *w = (double *)xmalloc(sizeof(double) * (size_t)(b.T * b.N));
    double costs[4], costs2[4], worst = 0.0, worst_sum = 0.0;
    int t, n, c, weights_ok = 1, past_ok = 1;
    ctcc_options o;
    ctcc_options_init(&o);
    check(run64(&b, &o, grad, NULL, NULL, costs) == CTCC_STATUS_SUCCESS,
          "plain: gradient only");
    check(run64(&b, &o, grad2, post, w, costs2) == CTCC_STATUS_SUCCESS,
          "plain: gradient, posteriors and weights");
    check(memcmp(costs, costs2, sizeof(costs)) == 0 &&
              memcmp(grad, grad2, sizeof(double) * size) == 0,
          "plain: asking for posteriors leaves costs and gradient bitwise");
    for (n = 0; n < b.N; ++n) {
        for (t = 0; t < b.T; ++t) {
            double sum = 0.0;
            const double want_w = t < lens[n] && costs[n] < INFINITY ? 1 : 0;
            for (c = 0; c < b.C; ++c) {
                const size_t i = ((size_t)t * b.N + n) * b.C + c;
                sum += post[i];
                if (t < lens[n]) {
                    const double d =
                        fabs(softmax_at(&b, t, n, c) - grad[i] - post[i]);
                    worst = d > worst ? d : worst;
                } else if (post[i] != 0.0) {
                    past_ok = 0;
                }
            }
            if (t < lens[n] && costs[n] < INFINITY) {
                worst_sum =
                    fabs(sum - 1) > worst_sum ? fabs(sum - 1) : worst_sum;
            }
            if (w[(size_t)t * b.N + n] != want_w) {
                weights_ok = 0;
            }
        }
    }
    check(worst < 1e-12, "plain: posterior == softmax - gradient (%.3g)",
          worst);
    check(worst_sum < 1e-12, "plain: rows sum to 1 (%.3g)", worst_sum);
    check(past_ok, "plain: posteriors are 0 past the input length");
    check(weights_ok, "plain: frame weights are 1 on valid frames, else 0");
    free(grad);
    free(grad2);
    free(post);
    free(w);
    batch_free(&b);
}

/* Eq. 13-18 written directly from the plain posteriors. */
static void reference_modified(const batch *b, const double *plain,
                               const double *costs, double alpha, double gamma,
                               double *targets, double *weight, double *grad) {
    const int T = b->T, N = b->N, C = b->C;
    double *v = (double *)xmalloc(sizeof(double) * (size_t)C);
    double *cnt = (double *)xmalloc(sizeof(double) * (size_t)C);
    double total = 0.0;
    int n, t, c, off = 0;
    memcpy(targets, plain, sizeof(double) * (size_t)(T * N * C));
    memset(v, 0, sizeof(double) * (size_t)C);
    memset(cnt, 0, sizeof(double) * (size_t)C);
    for (n = 0; n < N; ++n) {
        const int good = costs[n] < INFINITY;
        for (c = 0; good && c < b->label_lengths[n]; ++c) {
            cnt[b->labels[off + c]] += 1;
            total += 1;
        }
        off += b->label_lengths[n];
        for (t = 0; good && t < b->input_lengths[n]; ++t) {
            for (c = 0; c < C; ++c) {
                v[c] += plain[((size_t)t * N + n) * C + c];
            }
        }
    }
    for (c = 0; c < C; ++c) {
        const double num = c == 0 ? (1 - alpha) * total : alpha * cnt[c];
        v[c] = v[c] > 0 ? num / v[c] : 0;
    }
    for (n = 0; n < N; ++n) {
        double mean = 0.0;
        const int Tn = b->input_lengths[n];
        for (t = 0; t < T; ++t) {
            double *row = targets + ((size_t)t * N + n) * C;
            double sum = 0.0, wmax = 0.0;
            weight[(size_t)t * N + n] = 0.0;
            if (t >= Tn || !(costs[n] < INFINITY)) {
                continue;
            }
            if (alpha >= 0) {
                for (c = 0; c < C; ++c) {
                    sum += row[c] * v[c];
                }
                for (c = 0; sum > 0 && c < C; ++c) {
                    row[c] = row[c] * v[c] / sum;
                }
            }
            for (c = 0; c < C; ++c) {
                const double d = row[c] - softmax_at(b, t, n, c);
                wmax = d > wmax ? d : wmax;
            }
            weight[(size_t)t * N + n] = gamma == 0 ? 1 : pow(wmax, gamma);
            mean += weight[(size_t)t * N + n] / Tn;
        }
        for (t = 0; t < T; ++t) {
            double *wt = weight + (size_t)t * N + n;
            *wt = mean > 0 ? *wt / mean : 0;
            for (c = 0; c < C; ++c) {
                const size_t i = ((size_t)t * N + n) * C + c;
                grad[i] =
                    t < Tn ? *wt * (softmax_at(b, t, n, c) - targets[i]) : 0;
            }
        }
    }
    free(v);
    free(cnt);
}

static double max_diff(const double *a, const double *b, size_t n) {
    double m = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) {
        const double d = fabs(a[i] - b[i]);
        m = d > m ? d : m;
    }
    return m;
}

static void test_modified(double alpha, double gamma, int threads) {
    /* Sample 3 is infeasible: 2 frames for 3 labels. */
    const int lens[5] = {15, 9, 15, 2, 11}, lab[5] = {4, 3, 1, 3, 0};
    batch b = batch_new(15, 5, 6, lens, lab);
    const size_t size = (size_t)(b.T * b.N * b.C);
    const size_t wsize = (size_t)(b.T * b.N);
    double *plain = (double *)xmalloc(sizeof(double) * size);
    double *grad = (double *)xmalloc(sizeof(double) * size);
    double *grad_only = (double *)xmalloc(sizeof(double) * size);
    double *targets = (double *)xmalloc(sizeof(double) * size);
    double *w = (double *)xmalloc(sizeof(double) * wsize);
    double *ref_t = (double *)xmalloc(sizeof(double) * size);
    double *ref_g = (double *)xmalloc(sizeof(double) * size);
    double *ref_w = (double *)xmalloc(sizeof(double) * wsize);
    double costs[5], costs2[5], costs3[5];
    ctcc_options o;
    ctcc_options_init(&o);
    o.num_threads = threads;
    check(run64(&b, &o, NULL, plain, NULL, costs) == CTCC_STATUS_SUCCESS,
          "modified: plain posteriors");
    o.alpha = alpha;
    o.gamma = gamma;
    check(run64(&b, &o, grad, targets, w, costs2) == CTCC_STATUS_SUCCESS,
          "modified(alpha %g, gamma %g): all outputs", alpha, gamma);
    check(run64(&b, &o, grad_only, NULL, NULL, costs3) == CTCC_STATUS_SUCCESS,
          "modified(alpha %g, gamma %g): gradient only", alpha, gamma);
    reference_modified(&b, plain, costs,
                       alpha == CTCC_ALPHA_NONE ? -1.0 : alpha, gamma, ref_t,
                       ref_w, ref_g);
    check(memcmp(costs, costs2, sizeof(costs)) == 0 &&
              memcmp(costs, costs3, sizeof(costs)) == 0,
          "modified(alpha %g, gamma %g): costs unchanged", alpha, gamma);
    check(max_diff(targets, ref_t, size) < 1e-12,
          "modified(alpha %g, gamma %g): targets match eq. 13-16 (%.3g)", alpha,
          gamma, max_diff(targets, ref_t, size));
    check(max_diff(w, ref_w, wsize) < 1e-9,
          "modified(alpha %g, gamma %g): weights match eq. 17-18 (%.3g)", alpha,
          gamma, max_diff(w, ref_w, wsize));
    check(max_diff(grad, ref_g, size) < 1e-9,
          "modified(alpha %g, gamma %g): gradient matches (%.3g)", alpha, gamma,
          max_diff(grad, ref_g, size));
    check(memcmp(grad, grad_only, sizeof(double) * size) == 0,
          "modified(alpha %g, gamma %g): in-place gradient is bitwise the "
          "same",
          alpha, gamma);
    free(plain);
    free(grad);
    free(grad_only);
    free(targets);
    free(w);
    free(ref_t);
    free(ref_g);
    free(ref_w);
    batch_free(&b);
}

/* Identical results for 1 and 2 threads, in float32 too. */
static void test_threads(void) {
    const int lens[6] = {20, 18, 20, 5, 20, 13}, lab[6] = {5, 4, 6, 1, 0, 3};
    batch b = batch_new(20, 6, 7, lens, lab);
    const size_t size = (size_t)(b.T * b.N * b.C);
    float *x = (float *)xmalloc(sizeof(float) * size);
    float *g1 = (float *)xmalloc(sizeof(float) * size);
    float *g2 = (float *)xmalloc(sizeof(float) * size);
    float c1[6], c2[6];
    size_t bytes = 0, i;
    void *ws;
    ctcc_options o;
    for (i = 0; i < size; ++i) {
        x[i] = (float)b.x[i];
    }
    ctcc_options_init(&o);
    o.alpha = 0.4;
    o.gamma = 1.5;
    ctcc_workspace_size(b.label_lengths, b.input_lengths, b.T, b.N, b.C,
                        CTCC_FLOAT32, 1, &o, &bytes);
    ws = xmalloc(bytes);
    o.num_threads = 1;
    check(ctcc_loss_f32(x, g1, b.labels, b.label_lengths, b.input_lengths, b.T,
                        b.N, b.C, c1, ws, bytes, &o) == CTCC_STATUS_SUCCESS,
          "threads: float32 alpha + gamma, 1 thread");
    o.num_threads = 2;
    check(ctcc_loss_f32(x, g2, b.labels, b.label_lengths, b.input_lengths, b.T,
                        b.N, b.C, c2, ws, bytes, &o) == CTCC_STATUS_SUCCESS,
          "threads: float32 alpha + gamma, 2 threads");
    check(memcmp(g1, g2, sizeof(float) * size) == 0 &&
              memcmp(c1, c2, sizeof(c1)) == 0,
          "threads: bitwise identical for 1 and 2 threads");
    free(ws);
    free(x);
    free(g1);
    free(g2);
    batch_free(&b);
}

/* Options errors, the struct of version 0.1, workspace sizing. */
static void test_options(void) {
    const int lens[2] = {6, 6}, lab[2] = {2, 1};
    batch b = batch_new(6, 2, 4, lens, lab);
    const size_t size = (size_t)(b.T * b.N * b.C);
    double *g = (double *)xmalloc(sizeof(double) * size);
    double *g_old = (double *)xmalloc(sizeof(double) * size);
    double w[12], costs[2], costs_old[2];
    const double bad_alpha[4] = {-0.5, 1.5, NAN, INFINITY};
    const double bad_gamma[3] = {-1.0, NAN, INFINITY};
    size_t plain_bytes = 0, alpha_bytes = 0;
    ctcc_options o;
    int i;

    for (i = 0; i < 4; ++i) {
        ctcc_options_init(&o);
        o.alpha = bad_alpha[i];
        costs[0] = 42.0;
        check(run64(&b, &o, g, NULL, NULL, costs) ==
                      CTCC_STATUS_INVALID_OPTION &&
                  costs[0] == 42.0,
              "options: alpha %g is INVALID_OPTION", bad_alpha[i]);
    }
    for (i = 0; i < 3; ++i) {
        ctcc_options_init(&o);
        o.gamma = bad_gamma[i];
        check(run64(&b, &o, g, NULL, NULL, costs) == CTCC_STATUS_INVALID_OPTION,
              "options: gamma %g is INVALID_OPTION", bad_gamma[i]);
    }

    /* A caller built against 0.1 has no alpha/gamma: garbage there is
     * never read. */
    ctcc_options_init(&o);
    check(run64(&b, &o, g, NULL, NULL, costs) == CTCC_STATUS_SUCCESS,
          "options: defaults");
    o.struct_size = offsetof(ctcc_options, zero_infinity) + sizeof(int);
    o.alpha = 7.0;
    o.gamma = -3.0;
    check(run64(&b, &o, g_old, NULL, NULL, costs_old) == CTCC_STATUS_SUCCESS &&
              memcmp(g, g_old, sizeof(double) * size) == 0 &&
              memcmp(costs, costs_old, sizeof(costs)) == 0,
          "options: a 0.1-sized struct ignores alpha and gamma");

    /* Modified frame weights need a targets array. */
    ctcc_options_init(&o);
    o.gamma = 1.0;
    check(run64(&b, &o, NULL, NULL, w, costs) == CTCC_STATUS_NULL_POINTER,
          "options: modified frame weights alone are NULL_POINTER");

    /* alpha needs room for the class sums; less is refused. */
    ctcc_options_init(&o);
    ctcc_workspace_size(b.label_lengths, b.input_lengths, b.T, b.N, b.C,
                        CTCC_FLOAT64, 1, &o, &plain_bytes);
    o.alpha = 0.5;
    ctcc_workspace_size(b.label_lengths, b.input_lengths, b.T, b.N, b.C,
                        CTCC_FLOAT64, 1, &o, &alpha_bytes);
    check(alpha_bytes > plain_bytes,
          "options: alpha's workspace (%zu) is larger than plain (%zu)",
          alpha_bytes, plain_bytes);
    {
        void *ws = xmalloc(alpha_bytes);
        costs[0] = 42.0;
        check(ctcc_loss_f64(b.x, g, b.labels, b.label_lengths, b.input_lengths,
                            b.T, b.N, b.C, costs, ws, alpha_bytes - 1,
                            &o) == CTCC_STATUS_WORKSPACE_TOO_SMALL &&
                  costs[0] == 42.0,
              "options: alpha with one byte too little workspace");
        free(ws);
    }
    free(g);
    free(g_old);
    batch_free(&b);
}

/* A large gamma: the frame weights w^gamma / mean stay finite. (1) Every
 * gain is 1/6 and gamma = 410, so each w^gamma is subnormal (1e-319) and
 * T / total overflows; the weights must still be 1. (2) A gain that
 * rounding puts just above 1 (a posterior of 1 against a softmax of 0)
 * with gamma = 1e300 must not overflow to inf (inf / inf = NaN). Both
 * were found by the fuzzer (tests/fuzz/regressions). */
static void test_large_gamma(void) {
    static const double x2[4] = {0, 0, 0, 0};
    static const double x5[20] = {-1547, 130,  -728, -507, 1183, -195, -130,
                                  364,   1651, 1651, -13,  -689, 0,    -195,
                                  -780,  -923, -442, 1339, 767,  936};
    const int T[2] = {2, 5}, C[2] = {2, 4};
    const int32_t label[2] = {1, 3};
    const double gamma[2] = {410.0, 1e300};
    int k;
    for (k = 0; k < 2; ++k) {
        const int len = T[k], one = 1;
        batch b = batch_new(T[k], 1, C[k], &len, &one);
        double grad[20], post[20], w[5], cost, sum = 0.0;
        int i, finite = 1;
        ctcc_options o;
        ctcc_status st;
        ctcc_options_init(&o);
        o.gamma = gamma[k];
        memcpy(b.x, k == 0 ? x2 : x5, sizeof(double) * (size_t)(T[k] * C[k]));
        b.labels[0] = label[k];
        st = run64(&b, &o, grad, post, w, &cost);
        check(st == CTCC_STATUS_SUCCESS, "large gamma %g: status %d", gamma[k],
              (int)st);
        for (i = 0; i < T[k] * C[k]; ++i) {
            finite &= isfinite(grad[i]) != 0;
        }
        for (i = 0; i < T[k]; ++i) {
            finite &= isfinite(w[i]) && w[i] >= 0.0;
            sum += w[i];
        }
        check(finite, "large gamma %g: non-finite weight or gradient",
              gamma[k]);
        check(fabs(sum - T[k]) < 1e-9, "large gamma %g: weights sum to %g",
              gamma[k], sum);
        if (k == 0) {
            check(w[0] == 1.0 && w[1] == 1.0,
                  "gamma 410: equal gains give weights %g %g", w[0], w[1]);
        }
        batch_free(&b);
    }
}

/* alpha = 0 or 1 where the posteriors underflow (issue: the frame sum of
 * eq. 16 was subnormal, 1 / sum infinite, and the targets NaN; a posterior
 * rounded to 0 kept the opposite target). 12 frames, 3 classes, label
 * [1]; class `sup` has logit 10 on the first and last four frames, -margin
 * on the middle four, the others 0. Every logit is finite, so both the
 * blank and the label have a positive posterior on every frame, and the
 * exact targets are the one-hot of class 1 (alpha = 1) or of the blank
 * (alpha = 0) on every frame; the gradient is softmax - target. Both
 * precisions, targets and gradient. */
static void test_alpha_underflow(void) {
    const struct {
        int f32, sup;
        double margin, alpha;
    } cases[7] = {{0, 1, 707.71, 1.0}, {0, 1, 800.0, 1.0}, {0, 0, 707.8, 0.0},
                  {0, 0, 900.0, 0.0},  {1, 1, 90.0, 1.0},  {1, 1, 100.0, 1.0},
                  {1, 0, 100.0, 0.0}};
    const int T = 12, C = 3, len = 12, one = 1;
    int k;
    for (k = 0; k < 7; ++k) {
        batch b = batch_new(T, 1, C, &len, &one);
        double post[36], grad[36], worst_t = 0.0, worst_g = 0.0;
        float postf[36], gradf[36], xf[36];
        int i, t, c, finite = 1;
        const int keep = cases[k].alpha == 1.0 ? 1 : 0;
        ctcc_options o;
        ctcc_status st;
        ctcc_options_init(&o);
        o.alpha = cases[k].alpha;
        b.labels[0] = 1;
        for (t = 0; t < T; ++t) {
            for (c = 0; c < C; ++c) {
                b.x[t * C + c] = c != cases[k].sup   ? 0.0
                                 : (t < 4 || t >= 8) ? 10.0
                                                     : -cases[k].margin;
            }
        }
        if (cases[k].f32) {
            size_t bytes = 0;
            void *ws;
            float cost;
            for (i = 0; i < T * C; ++i) {
                xf[i] = (float)b.x[i];
            }
            ctcc_workspace_size(b.label_lengths, b.input_lengths, T, 1, C,
                                CTCC_FLOAT32, 1, &o, &bytes);
            ws = xmalloc(bytes);
            st = ctcc_loss_posteriors_f32(xf, gradf, postf, NULL, b.labels,
                                          b.label_lengths, b.input_lengths, T,
                                          1, C, &cost, ws, bytes, &o);
            free(ws);
            for (i = 0; i < T * C; ++i) {
                post[i] = postf[i];
                grad[i] = gradf[i];
            }
        } else {
            double cost;
            st = run64(&b, &o, grad, post, NULL, &cost);
        }
        for (t = 0; t < T; ++t) {
            for (c = 0; c < C; ++c) {
                const double want = c == keep ? 1.0 : 0.0;
                const double y = softmax_at(&b, t, 0, c);
                finite &=
                    isfinite(post[t * C + c]) && isfinite(grad[t * C + c]);
                worst_t = fmax(worst_t, fabs(post[t * C + c] - want));
                worst_g = fmax(worst_g, fabs(grad[t * C + c] - (y - want)));
            }
        }
        check(st == CTCC_STATUS_SUCCESS && finite && worst_t < 1e-6 &&
                  worst_g < 1e-6,
              "alpha %g, %s, class %d at -%g: finite, exact targets (%.3g) "
              "and gradient (%.3g)",
              cases[k].alpha, cases[k].f32 ? "float32" : "float64",
              cases[k].sup, cases[k].margin, worst_t, worst_g);
        batch_free(&b);
    }
}

/* log(sum exp(v[i])) over i < n with i != skip. */
static double log_sum_except(const double *v, int n, int skip) {
    double m = -INFINITY, s = 0.0;
    int i;
    for (i = 0; i < n; ++i) {
        m = i != skip && v[i] > m ? v[i] : m;
    }
    for (i = 0; i < n; ++i) {
        s += i != skip ? exp(v[i] - m) : 0.0;
    }
    return m + log(s);
}

/* Gamma up to 300 on a fitted sample: 6 labels in 6 frames (one
 * alignment, one-hot posteriors), the label's logit base + 0.01 t (-1)^t
 * above random others. The gain of frame t is then exactly the softmax
 * mass of the other classes, about exp(-base), and the weights
 * w^gamma / mean(w^gamma) are computed here from log w in log space.
 * w^gamma underflows for every frame (formerly: all weights and the
 * gradient 0), and 1 - y rounded near 1 is no gain (formerly: weights of
 * rounding noise). */
static void test_fitted_gamma(void) {
    const int labels[6] = {1, 2, 3, 4, 1, 2};
    const double bases[3] = {7.0, 37.0, 300.0};
    const double gammas[4] = {1.0, 20.0, 150.0, 300.0};
    const int T = 6, C = 5, len = 6, six = 6;
    int k, j;
    for (k = 0; k < 3; ++k) {
        for (j = 0; j < 4; ++j) {
            batch b = batch_new(T, 1, C, &len, &six);
            double post[30], grad[30], w[6], want[6], lw[6], z[6], cost;
            double top = -INFINITY, m = -INFINITY, s = 0.0, worst = 0.0;
            int t, c;
            ctcc_options o;
            ctcc_status st;
            ctcc_options_init(&o);
            o.gamma = gammas[j];
            for (t = 0; t < T; ++t) {
                b.labels[t] = labels[t];
                b.x[t * C + labels[t]] =
                    bases[k] + 0.01 * t * (t % 2 == 0 ? 1.0 : -1.0);
                lw[t] = log_sum_except(b.x + t * C, C, labels[t]) -
                        log_sum_except(b.x + t * C, C, -1);
                top = lw[t] > top ? lw[t] : top;
            }
            for (t = 0; t < T; ++t) {
                z[t] = gammas[j] * (lw[t] - top);
                m = z[t] > m ? z[t] : m;
            }
            for (t = 0; t < T; ++t) {
                s += exp(z[t] - m);
            }
            for (t = 0; t < T; ++t) {
                want[t] = T * exp(z[t] - m - log(s));
            }
            st = run64(&b, &o, grad, post, w, &cost);
            for (t = 0; t < T; ++t) {
                const double err = fabs(w[t] - want[t]);
                worst = fmax(worst, err / fmax(want[t], 1e-290));
                for (c = 0; c < C; ++c) {
                    const double y = softmax_at(&b, t, 0, c);
                    const double g = want[t] * (y - (c == labels[t]));
                    if (c != labels[t]) {
                        worst = fmax(worst, fabs(grad[t * C + c] - g) /
                                                fmax(fabs(g), 1e-290));
                    }
                }
            }
            check(st == CTCC_STATUS_SUCCESS && worst < 1e-9,
                  "fitted sample, gains ~exp(-%g), gamma %g: weights and "
                  "gradient exact (relative error %.3g)",
                  bases[k], gammas[j], worst);
            batch_free(&b);
        }
    }
}

int main(void) {
    const double alphas[4] = {CTCC_ALPHA_NONE, 0.0, 0.5, 1.0};
    const double gammas[3] = {0.0, 0.5, 2.0};
    int i, j;
    test_plain();
    for (i = 0; i < 4; ++i) {
        for (j = 0; j < 3; ++j) {
            test_modified(alphas[i], gammas[j], 1 + (i + j) % 2);
        }
    }
    test_threads();
    test_options();
    test_large_gamma();
    test_alpha_underflow();
    test_fitted_gamma();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
