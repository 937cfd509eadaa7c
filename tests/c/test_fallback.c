/*
 * test_fallback.c - the scaled linear-space kernel and its log-space
 * fallback, through the public API only.
 *
 * Each case runs kernel = CTCC_KERNEL_AUTO and CTCC_KERNEL_LOG_SPACE (the
 * reference) on the same inputs, with the gradient and loss-only, and
 * checks ctcc_options.kernel_used:
 *   - inputs built to defeat the scaled kernel (forward and backward
 *     evidence that disagree, log-probabilities from -1e3 to -1e30, long
 *     random sequences, T = 100 000)
 *     must be recomputed in log space and then agree with the reference
 *     to the accuracy goals (float64: loss within 1e-12 relative, gradient
 *     within 1e-12 absolute);
 *   - trained models' peaked outputs, random speech-like inputs, long
 *     random inputs (T = 8000, served by the tilt) and a sample whose labels
 *     come fast and then stop (which the tilt fails and the untilted retry
 *     serves) must stay on the scaled kernel and agree all the same,
 *     float32 within 1e-6 of the float64 reference.
 *
 * Built a second time with CTCC_TEST_NO_FALLBACK (the library sources
 * too: the scaled result is then kept whatever the bound says), the same
 * program checks the opposite for the adversarial cases: without the
 * fallback each of them misses the accuracy goals. That is what shows the
 * inputs do defeat the scaled kernel, and that the bound is what saves
 * them. Prints "N passed, M failed".
 */
#include <ctcc.h>

#include "testing.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CTCC_TEST_NO_FALLBACK
#define DEFEATED 1
#else
#define DEFEATED 0
#endif

/* A batch of equal-length samples, time-major [T, N, C], in double. */
typedef struct batch {
    int T, N, C, L;
    int log_probs;
    double *x;
    int32_t *labels, *label_lengths, *input_lengths;
} batch;

static batch batch_new(int T, int N, int C, int L, int log_probs) {
    batch b;
    int n;
    b.T = T;
    b.N = N;
    b.C = C;
    b.L = L;
    b.log_probs = log_probs;
    b.x = (double *)xmalloc(sizeof(double) * (size_t)T * (size_t)N * (size_t)C);
    b.labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)(N * L));
    b.label_lengths = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    b.input_lengths = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)N);
    for (n = 0; n < N; ++n) {
        b.label_lengths[n] = L;
        b.input_lengths[n] = T;
    }
    return b;
}

static void batch_free(batch *b) {
    free(b->x);
    free(b->labels);
    free(b->label_lengths);
    free(b->input_lengths);
}

static double *at(const batch *b, int t, int n) {
    return b->x + ((size_t)t * (size_t)b->N + (size_t)n) * (size_t)b->C;
}

/* Random labels in [1, C) without equal neighbours. */
static void random_labels(batch *b) {
    int i;
    for (i = 0; i < b->N * b->L; ++i) {
        int32_t v = (int32_t)rng_int(1, b->C - 1);
        if (i % b->L > 0 && v == b->labels[i - 1]) {
            v = v % (b->C - 1) + 1;
        }
        b->labels[i] = v;
    }
}

/* Standard normal logits, normalised to log-probabilities when asked. */
static void random_inputs(batch *b) {
    int t, n, c;
    for (t = 0; t < b->T; ++t) {
        for (n = 0; n < b->N; ++n) {
            double *x = at(b, t, n), m = -INFINITY, sum = 0.0;
            for (c = 0; c < b->C; ++c) {
                const double u1 = rng_uniform() + 1e-300, u2 = rng_uniform();
                x[c] = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
                m = x[c] > m ? x[c] : m;
            }
            for (c = 0; c < b->C && b->log_probs; ++c) {
                sum += exp(x[c] - m);
            }
            for (c = 0; c < b->C && b->log_probs; ++c) {
                x[c] -= m + log(sum);
            }
        }
    }
}

/* A trained model's output: one random alignment of each sample's labels
 * at probability >= 0.999 per frame, the other classes at
 * log-probabilities between -10 and -30 (logits: the largest logit 0). */
static void peaked_inputs(batch *b) {
    int n, t, c;
    int *cls = (int *)xmalloc(sizeof(int) * (size_t)b->T);
    for (n = 0; n < b->N; ++n) {
        /* Each label gets a random run of frames; blanks in between. */
        int k = 0;
        const int32_t *lab = b->labels + n * b->L;
        for (t = 0; t < b->T; ++t) {
            cls[t] = 0;
        }
        for (k = 0; k < b->L; ++k) {
            const int slot = b->T / b->L;
            const int start = k * slot + rng_int(0, slot / 2);
            const int len = 1 + rng_int(0, slot / 2 - 1);
            for (t = start; t < start + len && t < (k + 1) * slot; ++t) {
                cls[t] = lab[k];
            }
        }
        for (t = 0; t < b->T; ++t) {
            double *x = at(b, t, n);
            for (c = 0; c < b->C; ++c) {
                x[c] = -10.0 - 20.0 * rng_uniform();
            }
            x[cls[t]] = 0.0;
        }
    }
    free(cls);
}

/* What one run gives. */
typedef struct result {
    double *costs, *grad;
    unsigned char *used;
} result;

static void result_free(result *r) {
    free(r->costs);
    free(r->grad);
    free(r->used);
}

/* Runs the loss in float64 (or float32, through a rounded copy of the
 * inputs, results widened back), with the gradient or not, on up to
 * `threads` threads (0: the default). */
static result run_on(const batch *b, ctcc_kernel kernel, int with_grad,
                     int float32, int threads) {
    const size_t n = (size_t)b->T * (size_t)b->N * (size_t)b->C;
    ctcc_options o;
    result r;
    size_t bytes = 0, i;
    void *ws;
    ctcc_status st;
    ctcc_options_init(&o);
    o.kernel = kernel;
    o.num_threads = threads;
    o.input_kind = b->log_probs ? CTCC_INPUT_LOG_PROBS : CTCC_INPUT_LOGITS;
    r.costs = (double *)xmalloc(sizeof(double) * (size_t)b->N);
    r.grad = (double *)xmalloc(sizeof(double) * n);
    r.used = (unsigned char *)xmalloc((size_t)b->N);
    memset(r.used, 0xEE, (size_t)b->N);
    o.kernel_used = r.used;
    st = ctcc_workspace_size(b->label_lengths, b->input_lengths, b->T, b->N,
                             b->C, float32 ? CTCC_FLOAT32 : CTCC_FLOAT64,
                             with_grad, &o, &bytes);
    check(st == CTCC_STATUS_SUCCESS, "workspace size");
    ws = xmalloc(bytes);
    if (!float32) {
        st = ctcc_loss_f64(b->x, with_grad ? r.grad : NULL, b->labels,
                           b->label_lengths, b->input_lengths, b->T, b->N, b->C,
                           r.costs, ws, bytes, &o);
    } else {
        float *x = (float *)xmalloc(sizeof(float) * n);
        float *g = (float *)xmalloc(sizeof(float) * n);
        float *c = (float *)xmalloc(sizeof(float) * (size_t)b->N);
        for (i = 0; i < n; ++i) {
            x[i] = (float)b->x[i];
        }
        st =
            ctcc_loss_f32(x, with_grad ? g : NULL, b->labels, b->label_lengths,
                          b->input_lengths, b->T, b->N, b->C, c, ws, bytes, &o);
        for (i = 0; i < n; ++i) {
            r.grad[i] = g[i];
        }
        for (i = 0; i < (size_t)b->N; ++i) {
            r.costs[i] = c[i];
        }
        free(x);
        free(g);
        free(c);
    }
    check(st == CTCC_STATUS_SUCCESS, "loss status %d", (int)st);
    free(ws);
    return r;
}

static result run(const batch *b, ctcc_kernel kernel, int with_grad,
                  int float32) {
    return run_on(b, kernel, with_grad, float32, 0);
}

/* Largest relative loss error and absolute gradient error of got against
 * want; +inf when got holds a NaN or an infinity where want does not. */
static void errors(const batch *b, const result *got, const result *want,
                   int with_grad, double *loss_err, double *grad_err) {
    const size_t n = (size_t)b->T * (size_t)b->N * (size_t)b->C;
    size_t i;
    *loss_err = 0.0;
    *grad_err = 0.0;
    for (i = 0; i < (size_t)b->N; ++i) {
        const double e =
            fabs(got->costs[i] - want->costs[i]) /
            (fabs(want->costs[i]) > 1.0 ? fabs(want->costs[i]) : 1.0);
        *loss_err =
            e > *loss_err || e != e ? (e != e ? INFINITY : e) : *loss_err;
    }
    for (i = 0; with_grad && i < n; ++i) {
        const double e = fabs(got->grad[i] - want->grad[i]);
        *grad_err =
            e > *grad_err || e != e ? (e != e ? INFINITY : e) : *grad_err;
    }
}

/* Which calls a case is adversarial to (or, for check_case_defeats,
 * which it must defeat without the fallback). */
#define ADV_GRAD 1 /* with the gradient */
#define ADV_LOSS 2 /* loss only */
#define ADV_BOTH 3

/* Runs both kernels (the scaled one in float32 when float32 is set) and
 * checks the result against the accuracy goals and the kernel report:
 * the calls that `adversarial` names (ADV_*) must fall back (and, in the
 * CTCC_TEST_NO_FALLBACK build, must miss the goals where `defeats` says
 * so), the others must stay scaled (loss-only: when loss_only_served). */
static void check_case_defeats(const char *name, const batch *b,
                               int adversarial_to, int float32,
                               int loss_only_served, int defeats) {
    int with_grad;
    for (with_grad = 1; with_grad >= 0; --with_grad) {
        const int adversarial =
            (adversarial_to & (with_grad ? ADV_GRAD : ADV_LOSS)) != 0;
        result want = run(b, CTCC_KERNEL_LOG_SPACE, with_grad, 0);
        result got = run(b, CTCC_KERNEL_AUTO, with_grad, float32);
        const double tol = float32 ? 1e-6 : 1e-12;
        const char *what = with_grad ? "gradient" : "loss only";
        double loss_err, grad_err;
        int n, scaled = 0, logs = 0;
        errors(b, &got, &want, with_grad, &loss_err, &grad_err);
        for (n = 0; n < b->N; ++n) {
            scaled += want.used[n] == CTCC_KERNEL_USED_LOG_SPACE &&
                      got.used[n] == CTCC_KERNEL_USED_SCALED;
            logs += got.used[n] == CTCC_KERNEL_USED_LOG_SPACE;
        }
        if (adversarial && DEFEATED &&
            (defeats & (with_grad ? ADV_GRAD : ADV_LOSS))) {
            /* The scaled kernel alone misses the goals. */
            check(!(loss_err <= tol && grad_err <= tol),
                  "%s, %s, no fallback: defeats the scaled kernel (loss "
                  "%.3g relative, gradient %.3g absolute)",
                  name, what, loss_err, grad_err);
        } else {
            check(loss_err <= tol && grad_err <= tol,
                  "%s, %s: within %g of the log-space kernel (loss %.3g "
                  "relative, gradient %.3g absolute)",
                  name, what, tol, loss_err, grad_err);
        }
        if (adversarial && !DEFEATED) {
            check(logs == b->N, "%s, %s: every sample fell back (%d of %d)",
                  name, what, logs, b->N);
        } else if (!adversarial && (with_grad || loss_only_served)) {
            check(scaled == b->N,
                  "%s, %s: every sample stayed scaled (%d of %d)", name, what,
                  scaled, b->N);
        }
        result_free(&want);
        result_free(&got);
    }
}

static void check_case(const char *name, const batch *b, int adversarial,
                       int float32, int loss_only_served) {
    check_case_defeats(name, b, adversarial, float32, loss_only_served,
                       ADV_BOTH);
}

/* Forward and backward evidence that disagree: the frames of the first
 * half all but rule out label 1 (which must come first), those of the
 * second half label 2 (which must come last): every alignment pays about
 * e^-1000 somewhere, and which frames pay depends on both directions. */
static void case_disagree(void) {
    batch b = batch_new(200, 1, 3, 2, 1);
    int t;
    b.labels[0] = 1;
    b.labels[1] = 2;
    for (t = 0; t < b.T; ++t) {
        double *x = at(&b, t, 0);
        x[0] = -1000.0;
        x[1] = t < b.T / 2 ? -1000.0 : 0.0;
        x[2] = t < b.T / 2 ? 0.0 : -1000.0;
    }
    check_case("disagreeing evidence", &b, ADV_BOTH, 0, 0);
    batch_free(&b);
}

/* Log-probabilities between -1e3 and -1e30 (log-uniform magnitudes). */
static void case_tiny(void) {
    batch b = batch_new(50, 3, 6, 5, 1);
    size_t i;
    random_labels(&b);
    for (i = 0; i < (size_t)b.T * (size_t)b.N * (size_t)b.C; ++i) {
        b.x[i] = -pow(10.0, 3.0 + 27.0 * rng_uniform());
    }
    check_case("log-probabilities in [-1e30, -1e3]", &b, ADV_BOTH, 0, 0);
    batch_free(&b);
}

/* Long random (untrained) outputs: untilted, the top states of alpha and
 * beta drift apart by more than the double range. At T = 8000 the tilt
 * keeps them together: served with the gradient (tilted at once) and loss
 * only (whose untilted first attempt fails its bound, and whose tilted
 * second attempt tracks each entry's error; without the fallback the
 * first attempt stands, and is wrong). At T = 100 000 no tilt is close
 * enough to the paths' velocity, and both fall back. */
static void case_long(int T, int L, int served) {
    batch b = batch_new(T, 1, 29, L, 1);
    char name[64];
    random_labels(&b);
    random_inputs(&b);
    snprintf(name, sizeof(name), "random, T = %d, L = %d", T, L);
    if (!served) {
        check_case(name, &b, ADV_BOTH, 0, 0);
    } else if (DEFEATED) {
        check_case_defeats(name, &b, ADV_LOSS, 0, 0, ADV_LOSS);
    } else {
        check_case(name, &b, 0, 0, 1);
    }
    batch_free(&b);
}

/* Random logits whose labels come fast and then stop: every label must be
 * emitted in the first 300 of 4000 frames, as the blank takes the rest
 * (logit +8). The tilt, chosen for S / T, holds the rows back to a tenth
 * of a state per frame while the paths run at 1.3, and fails its bound;
 * the untilted retry serves the sample, with and without the gradient. */
static void case_fast_then_stop(void) {
    batch b = batch_new(4000, 1, 29, 200, 0);
    int t;
    random_labels(&b);
    random_inputs(&b);
    for (t = 300; t < b.T; ++t) {
        at(&b, t, 0)[0] += 8.0;
    }
    if (DEFEATED) {
        /* Without the bound the tilted attempt stands, and is wrong: what
         * shows that the retry is needed. */
        check_case_defeats("labels fast, then blanks", &b, ADV_GRAD, 0, 1,
                           ADV_GRAD);
    } else {
        check_case("labels fast, then blanks", &b, 0, 0, 1);
    }
    batch_free(&b);
}

/* One long sample whose evidence disagrees (as in case_disagree, between
 * random labels): the first label is all but ruled out in the first half
 * of the frames, the last label in the second half. Every alignment pays
 * about e^-1000, whatever the tilt: it falls back with and without the
 * gradient. */
static void disagreeing_long(batch *b) {
    int t;
    random_labels(b);
    random_inputs(b);
    b->labels[0] = 1;
    b->labels[b->L - 1] = 2;
    for (t = 0; t < b->T; ++t) {
        double *x = at(b, t, 0);
        x[t < b->T / 2 ? 1 : 2] = -1000.0;
    }
}

/* One long sample that falls back, on one thread and on two (where the
 * log-space recomputation splits at the meeting frame, as the scaled
 * kernel does): the same results to the bit, and those of
 * CTCC_KERNEL_LOG_SPACE on one and two threads. */
static void case_long_two_threads(void) {
    batch b = batch_new(6000, 1, 29, 300, 0);
    const size_t n = (size_t)b.T * (size_t)b.C;
    int with_grad;
    disagreeing_long(&b);
    for (with_grad = 1; with_grad >= 0; --with_grad) {
        result one = run_on(&b, CTCC_KERNEL_AUTO, with_grad, 0, 1);
        result two = run_on(&b, CTCC_KERNEL_AUTO, with_grad, 0, 2);
        result log = run_on(&b, CTCC_KERNEL_LOG_SPACE, with_grad, 0, 1);
        result log2 = run_on(&b, CTCC_KERNEL_LOG_SPACE, with_grad, 0, 2);
        const char *what = with_grad ? "gradient" : "loss only";
        check(one.used[0] == CTCC_KERNEL_USED_LOG_SPACE &&
                  two.used[0] == CTCC_KERNEL_USED_LOG_SPACE,
              "one long sample, %s: falls back (%d, %d)", what,
              (int)one.used[0], (int)two.used[0]);
        check(memcmp(one.costs, two.costs, sizeof(double)) == 0 &&
                  (!with_grad ||
                   memcmp(one.grad, two.grad, n * sizeof(double)) == 0),
              "one long sample, %s: 2 threads give 1 thread's bits", what);
        check(memcmp(one.costs, log.costs, sizeof(double)) == 0 &&
                  memcmp(one.costs, log2.costs, sizeof(double)) == 0,
              "one long sample, %s: loss %.17g, log-space %.17g and "
              "%.17g",
              what, one.costs[0], log.costs[0], log2.costs[0]);
        check(!with_grad ||
                  (memcmp(one.grad, log.grad, n * sizeof(double)) == 0 &&
                   memcmp(one.grad, log2.grad, n * sizeof(double)) == 0),
              "one long sample: the log-space kernel's gradient");
        result_free(&one);
        result_free(&two);
        result_free(&log);
        result_free(&log2);
    }
    batch_free(&b);
}

/* What the fast path must serve: trained models' peaked outputs (logits
 * and log-probabilities, float64 and float32), with the gradient and
 * loss-only, and random speech-like inputs of moderate length, with the
 * gradient and loss-only, also with repeated labels (whose two copies
 * need a blank between them: the states the band admits before a path
 * reaches them are exact zeros, not underflows). */
static void case_served(void) {
    int log_probs, float32;
    for (log_probs = 0; log_probs <= 1; ++log_probs) {
        for (float32 = 0; float32 <= 1; ++float32) {
            batch b = batch_new(1000, 3, 29, 100, log_probs);
            char name[64];
            random_labels(&b);
            peaked_inputs(&b);
            snprintf(name, sizeof(name), "peaked, %s, %s",
                     log_probs ? "log-probabilities" : "logits",
                     float32 ? "float32" : "float64");
            check_case(name, &b, 0, float32, 1);
            batch_free(&b);
        }
    }
    {
        batch b = batch_new(700, 2, 29, 100, 0);
        random_labels(&b);
        random_inputs(&b);
        check_case("random, T = 700, L = 100", &b, 0, 0, 1);
        b.labels[10] = b.labels[11] = b.labels[12] = b.labels[13];
        b.labels[100 + 50] = b.labels[100 + 51];
        check_case("random, T = 700, L = 100, repeated labels", &b, 0, 0, 1);
        batch_free(&b);
    }
}

int main(void) {
    case_disagree();
    case_tiny();
    case_long(8000, 800, 1);
    case_long(100000, 50, 0);
    case_fast_then_stop();
    if (!DEFEATED) {
        case_long_two_threads(); /* about the fallback itself */
    }
    case_served();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed != 0;
}
