/*
 * compare_builds.c - two builds of libctcc, loaded side by side in one
 * process and called alternately on the same batch, so that the drift of
 * a shared machine falls on both alike. Prints each build's median, first
 * quartile and least CPU time per call, and its workspace size.
 *
 * Build:  gcc -O2 -std=c99 -Iinclude bench/compare_builds.c \
 *             -o compare_builds -ldl -lm
 * Usage:  ./compare_builds LIB_A LIB_B T L r|p
 *             [CALLS [auto|log [N [C [grad|loss|both [THREADS]]]]]]
 *   LIB_A, LIB_B  paths of two libctcc.so files (distinct files)
 *   T L           frames and labels per sample (float32)
 *   r|p           standard-normal logits, or peaked outputs (a trained
 *                 model's: one alignment at logit 0, the rest at -30 to
 *                 -10); labels uniform in [1, C), with their repeats
 *   CALLS         timed calls per build (default 60)
 *   auto|log      the kernel option (default auto; log: the log-space
 *                 kernel for every sample)
 *   N             samples in the batch, time-major, 1 to 64 (default 8;
 *                 the harness's speech workloads have 32, whose frames
 *                 lie a page apart)
 *   C             classes (default 29; ocr-large-vocab has 5000)
 *   grad|loss|both
 *                 with the gradient (default), the loss alone, or both in
 *                 turn (each build then prints both and the ratio of their
 *                 medians: how many times faster the loss alone is)
 *   THREADS       the calls' num_threads (default 1); the times are then
 *                 the calling thread's CPU time, which waits for the
 *                 others, about the wall clock on an idle machine
 */
#define _POSIX_C_SOURCE 199309L
#include <ctcc.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "synthetic_batch.h"
#include <time.h>

typedef ctcc_status (*loss_fn)(const float *, float *, const int32_t *,
                               const int32_t *, const int32_t *, int32_t,
                               int32_t, int32_t, float *, void *, size_t,
                               const ctcc_options *);
typedef void (*init_fn)(ctcc_options *, size_t);
typedef ctcc_status (*size_fn)(const int32_t *, const int32_t *, int32_t,
                               int32_t, int32_t, ctcc_dtype, int,
                               const ctcc_options *, size_t *);

enum { NMAX = 64 };
static int N = 8, C = 29, threads = 1;
/* with_grad: 0 the loss alone, 1 with the gradient, 2 both in turn. */
static int with_grad = 1;

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One build: its entry points, options, workspace and timings. */
typedef struct build {
    void *handle;
    loss_fn loss;
    ctcc_options opts;
    void *ws;
    size_t bytes;
    double *times, *loss_times; /* with_grad 2: the gradient's, the loss's */
} build;

static int build_open(build *b, const char *path, const int32_t *ll,
                      const int32_t *il, int T, int calls, int log_space) {
    init_fn init;
    size_fn size;
    b->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (b->handle == NULL) {
        fprintf(stderr, "%s\n", dlerror());
        return 0;
    }
    *(void **)&b->loss = dlsym(b->handle, "ctcc_loss_f32");
    /* ctcc_options_init is a macro over this; the exported function of
     * that name initialises the struct of 0.2, without the kernel field. */
    *(void **)&init = dlsym(b->handle, "ctcc_options_init_size");
    *(void **)&size = dlsym(b->handle, "ctcc_workspace_size");
    if (b->loss == NULL || init == NULL || size == NULL) {
        fprintf(stderr, "%s: not a libctcc\n", path);
        return 0;
    }
    init(&b->opts, sizeof(ctcc_options));
    b->opts.num_threads = threads;
    b->opts.kernel = log_space ? CTCC_KERNEL_LOG_SPACE : CTCC_KERNEL_AUTO;
    if (size(ll, il, T, N, C, CTCC_FLOAT32, with_grad != 0, &b->opts,
             &b->bytes) != CTCC_STATUS_SUCCESS) {
        return 0;
    }
    b->ws = malloc(b->bytes);
    b->times = malloc(sizeof(double) * (size_t)calls);
    b->loss_times = malloc(sizeof(double) * (size_t)calls);
    return b->ws != NULL && b->times != NULL && b->loss_times != NULL;
}

int main(int argc, char **argv) {
    build b[2];
    int T, L, peaked, calls, log_space, i, k;
    float *x, *g, costs[NMAX];
    int32_t *labels, ll[NMAX], il[NMAX];
    if (argc < 6) {
        fprintf(stderr,
                "usage: %s LIB_A LIB_B T L r|p "
                "[CALLS [auto|log [N [C [grad|loss|both [THREADS]]]]]]\n",
                argv[0]);
        return 2;
    }
    T = atoi(argv[3]);
    L = atoi(argv[4]);
    peaked = argv[5][0] == 'p';
    calls = argc > 6 ? atoi(argv[6]) : 60;
    log_space = argc > 7 && argv[7][0] == 'l';
    N = argc > 8 ? atoi(argv[8]) : 8;
    C = argc > 9 ? atoi(argv[9]) : 29;
    if (argc > 10) {
        with_grad = argv[10][0] == 'l' ? 0 : argv[10][0] == 'b' ? 2 : 1;
    }
    threads = argc > 11 ? atoi(argv[11]) : 1;
    if (T < 1 || L < 1 || L > T || calls < 1 || N < 1 || N > NMAX || C < 2 ||
        threads < 1) {
        fprintf(stderr, "bad T, L, CALLS, N, C or THREADS\n");
        return 2;
    }
    if (!batch_make(&x, &g, &labels, ll, il, T, N, C, L, peaked, 1)) {
        return 1;
    }
    for (k = 0; k < 2; ++k) {
        if (!build_open(&b[k], argv[1 + k], ll, il, T, calls, log_space)) {
            return 1;
        }
        /* A first call each, untimed: page faults and caches. */
        b[k].loss(x, with_grad ? g : NULL, labels, ll, il, T, N, C, costs,
                  b[k].ws, b[k].bytes, &b[k].opts);
    }
    for (i = 0; i < calls; ++i) {
        int j;
        for (j = 0; j < 2; ++j) {
            /* A, B then B, A: neither always follows the other. */
            build *p = &b[(i & 1) ? 1 - j : j];
            double t0 = cpu_seconds();
            p->loss(x, with_grad ? g : NULL, labels, ll, il, T, N, C, costs,
                    p->ws, p->bytes, &p->opts);
            p->times[i] = cpu_seconds() - t0;
            if (with_grad == 2) {
                t0 = cpu_seconds();
                p->loss(x, NULL, labels, ll, il, T, N, C, costs, p->ws,
                        p->bytes, &p->opts);
                p->loss_times[i] = cpu_seconds() - t0;
            }
        }
    }
    for (k = 0; k < 2; ++k) {
        qsort(b[k].times, (size_t)calls, sizeof(double), by_value);
        printf("%s: median %.3f ms, first quartile %.3f ms, least %.3f ms, "
               "workspace %zu bytes\n",
               k ? "B" : "A", 1e3 * b[k].times[calls / 2],
               1e3 * b[k].times[calls / 4], 1e3 * b[k].times[0], b[k].bytes);
        if (with_grad == 2) {
            qsort(b[k].loss_times, (size_t)calls, sizeof(double), by_value);
            printf("%s: loss alone median %.3f ms, first quartile %.3f ms; "
                   "%.2f times faster than with the gradient\n",
                   k ? "B" : "A", 1e3 * b[k].loss_times[calls / 2],
                   1e3 * b[k].loss_times[calls / 4],
                   b[k].times[calls / 2] / b[k].loss_times[calls / 2]);
        }
    }
    return 0;
}
