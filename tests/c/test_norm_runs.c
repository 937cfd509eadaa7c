/*
 * test_norm_runs.c - the float32 softmax normaliser's runs of exps
 * (norm_runs_f, and norm_runs_f16 where the processor has AVX-512;
 * src/loss_impl.h) against sums in double written here, on large
 * alphabets: random logits, peaked frames (one class at the maximum, the
 * rest 12 to 30 below it, whose sum is a peaked sample's loss), ties at
 * the maximum, classes at -inf and classes more than 87 below the
 * maximum. Both ways must count the classes at the maximum exactly, keep
 * the sum of the others within 1e-6 of the exact one (relative), write
 * each class's exp within 3 ulp, and agree on where their runs end. Ends
 * with "N passed, N failed".
 */
#include <math.h>

/* The float32 instantiation of the kernels, under names of its own. */
#define REAL float
#define REAL_EXP_NEG ctcc_expf_neg
#define DP double
#define DP_EXP_NEG ctcc_exp_neg_lite
#define DP_EXP_NEG8 ctcc_exp_neg8_lite
#define DP_LOG1P ctcc_log1p_small_lite
#define DP_SIZE CTCC_DP_SIZE
#define LOSS_NAME test_norm_runs_loss_f32
#define POSTERIORS_NAME test_norm_runs_posteriors_f32
#include "loss_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static void check(int ok, const char *what, const char *kind, size_t C,
                  const char *way) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        printf("FAIL %s (%s, C = %zu, %s)\n", what, kind, C, way);
    }
}

static unsigned next_random(unsigned *seed) {
    return (*seed = *seed * 1103515245u + 12345u) >> 8;
}

/* Uniform in [low, high). */
static float uniform(unsigned *seed, double low, double high) {
    return (float)(low +
                   (high - low) * (next_random(seed) % 1000003u) / 1000003.0);
}

enum { RANDOM, PEAKED, TIES, HOLES, KINDS };
static const char *const kind_names[KINDS] = {"random", "peaked", "ties",
                                              "-inf and below -87"};

/* A frame of C classes of the given kind; returns its maximum. */
static float make_frame(float *x, size_t C, int kind, unsigned *seed) {
    size_t c;
    for (c = 0; c < C; ++c) {
        x[c] = kind == RANDOM ? uniform(seed, -8.0, 8.0)
                              : uniform(seed, -30.0, -12.0);
    }
    if (kind != RANDOM) {
        x[next_random(seed) % C] = 0.0f;
    }
    if (kind == TIES) {
        for (c = 0; c < 5; ++c) {
            x[next_random(seed) % C] = 0.0f;
        }
    }
    if (kind == HOLES) {
        for (c = 0; c < C; c += 7) {
            x[c] = c % 2 ? -INFINITY : uniform(seed, -200.0, -87.5);
        }
        x[C / 2] = 0.0f;
    }
    {
        float m = -INFINITY;
        for (c = 0; c < C; ++c) {
            m = x[c] > m ? x[c] : m;
        }
        return m;
    }
}

/* One way's results on a frame against the sums in double over [0, c0). */
static void check_way(const char *way, const float *x, size_t C, float m,
                      int kind, size_t c0, const double *part, double ones,
                      const float *soft) {
    double below = 0, at_max = 0, got = 0, worst = 0;
    size_t c, i;
    for (c = 0; c < c0; ++c) {
        /* The argument as the kernel forms it; 0 below -87. */
        const float d = x[c] - m;
        const double e = d < -87.0f ? 0.0 : exp((double)d);
        if (d == 0) {
            at_max += 1;
        } else {
            below += e;
        }
        if (soft[c] != (float)e) {
            const double ulp = nextafterf((float)e, INFINITY) - (float)e;
            const double err = fabs(soft[c] - e) / ulp;
            worst = err > worst ? err : worst;
        }
    }
    for (i = 0; i < NORM_LANES; ++i) {
        got += part[i];
    }
    check(c0 == C - C % (NORM_RUN * NORM_LANES),
          "runs end at the last whole run", kind_names[kind], C, way);
    check(ones == at_max, "classes at the maximum counted apart",
          kind_names[kind], C, way);
    check(fabs(got - below) <= 1e-6 * below, "sum of the other exps",
          kind_names[kind], C, way);
    check(worst <= 3.0, "each class's exp within 3 ulp", kind_names[kind], C,
          way);
}

/* log_normaliser with stage rows (the exps staged there, then written to
 * the softmax row past the cache, a frame later or at stage_flush)
 * against log_normaliser without them, over two frames in a row (the
 * frame x, then x reversed): the same values, shifts and softmax rows to
 * the bit, at every alignment of the softmax rows, with nothing written on
 * either side of them; and for a frame holding a NaN (the first or the
 * second), NaN in every class of its softmax row. */
static void check_staged(float *x, size_t C, const char *kind) {
    enum { GUARD = 32, FRAMES = 2 };
    /* The stage rows aligned to CTCC_ALIGN, as the workspace's are. */
    const size_t row = (C * sizeof(float) + CTCC_ALIGN - 1) / CTCC_ALIGN *
                       CTCC_ALIGN / sizeof(float);
    void *stage_mem = malloc(2 * row * sizeof(float) + CTCC_ALIGN);
    float *frames = malloc(FRAMES * C * sizeof *frames);
    float *plain = malloc(FRAMES * (C + 2 * GUARD) * sizeof *plain);
    float *staged = malloc(FRAMES * (C + 2 * GUARD) * sizeof *staged);
    size_t shift_at, c;
    int nan_frame, f;
    norm_stage st;
    if (stage_mem == NULL || frames == NULL || plain == NULL ||
        staged == NULL) {
        check(0, "memory for the stage checks", kind, C, "log_normaliser");
        free(stage_mem);
        free(frames);
        free(plain);
        free(staged);
        return;
    }
    st.rows[0] = (float *)(void *)ctcc_align_ptr(stage_mem);
    st.rows[1] = st.rows[0] + row;
    for (nan_frame = 0; nan_frame <= FRAMES; ++nan_frame) {
        /* 0: no NaN; 1 or 2: a NaN in that frame. */
        for (c = 0; c < C; ++c) {
            frames[c] = x[c];
            frames[C + c] = x[C - 1 - c];
        }
        if (nan_frame) {
            frames[(size_t)(nan_frame - 1) * C + C / 3] = NAN;
        }
        for (shift_at = 0; shift_at < 16; ++shift_at) {
            DP sh_plain[FRAMES], sh_staged[FRAMES], v_plain[FRAMES],
                v_staged[FRAMES];
            int same = 1, guards = 1, all_nan = 1;
            const size_t span = C + 2 * GUARD;
            for (c = 0; c < FRAMES * span; ++c) {
                plain[c] = staged[c] = -7.0f;
            }
            st.from = NULL;
            for (f = 0; f < FRAMES; ++f) {
                const float *xf = frames + (size_t)f * C;
                sh_plain[f] = -1;
                sh_staged[f] = -2;
                v_plain[f] =
                    log_normaliser(xf, C, plain + f * span + GUARD + shift_at,
                                   &sh_plain[f], NULL, NULL, NULL);
                v_staged[f] =
                    log_normaliser(xf, C, staged + f * span + GUARD + shift_at,
                                   &sh_staged[f], NULL, NULL, &st);
            }
            stage_flush(&st);
            same = memcmp(plain, staged, FRAMES * span * sizeof *plain) == 0 &&
                   memcmp(v_plain, v_staged, sizeof v_plain) == 0 &&
                   st.from == NULL;
            for (f = 0; f < FRAMES; ++f) {
                same &= nan_frame == f + 1 || sh_plain[f] == sh_staged[f];
            }
            for (c = 0; c < FRAMES * span; ++c) {
                const size_t in_row = c % span;
                const int inside =
                    in_row >= GUARD + shift_at && in_row < GUARD + shift_at + C;
                if (!inside && staged[c] != -7.0f) {
                    guards = 0;
                }
                if (inside && c / span == (size_t)(nan_frame - 1) &&
                    !isnan(staged[c])) {
                    all_nan = 0;
                }
            }
            check(same, "staged: the same values, shifts and softmax bits",
                  kind, C, nan_frame ? "with a NaN" : "log_normaliser");
            check(guards, "staged: nothing written outside the rows", kind, C,
                  "log_normaliser");
            if (nan_frame) {
                check(all_nan &&
                          v_staged[nan_frame - 1] != v_staged[nan_frame - 1],
                      "staged: NaN in every class for a frame with a NaN", kind,
                      C, "log_normaliser");
            }
        }
    }
    free(stage_mem);
    free(frames);
    free(plain);
    free(staged);
}

int main(void) {
    static const size_t sizes[] = {64, 100, 257, 1000, 1031, 3000, 5000};
    const int avx512 =
        CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16 && ctcc_have_avx512();
    float *x = malloc(5000 * sizeof *x), *soft = malloc(5000 * sizeof *soft);
    unsigned seed = 12345u;
    size_t k;
    int kind, rep;
    if (x == NULL || soft == NULL) {
        printf("out of memory\n1 failed\n");
        return 1;
    }
    if (!avx512) {
        printf("skip norm_runs_f16: no AVX-512 here\n");
    }
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
        const size_t C = sizes[k];
        for (kind = 0; kind < KINDS; ++kind) {
            for (rep = 0; rep < 4; ++rep) {
                const float m = make_frame(x, C, kind, &seed);
                double part[NORM_LANES], ones = 0;
                size_t i, c0;
                for (i = 0; i < NORM_LANES; ++i) {
                    part[i] = 0;
                }
                memset(soft, 0, C * sizeof *soft);
                c0 = norm_runs_f(x, C, m, soft, NULL, NULL, part, &ones);
                check_way("norm_runs_f", x, C, m, kind, c0, part, ones, soft);
                if (C >= CTCC_STAGE_MIN_CLASSES && rep == 0) {
                    check_staged(x, C, kind_names[kind]);
                }
#if CTCC_HAVE_AVX512_PATH && CTCC_HAVE_EXPF_NEG16
                if (avx512) {
                    double part16[NORM_LANES], ones16 = 0, none[NORM_LANES];
                    double ones_none = 0;
                    float *unused = NULL;
                    for (i = 0; i < NORM_LANES; ++i) {
                        part16[i] = none[i] = 0;
                    }
                    memset(soft, 0, C * sizeof *soft);
                    c0 = norm_runs_f16(x, C, m, soft, x, soft, part16, &ones16,
                                       NULL);
                    check_way("norm_runs_f16", x, C, m, kind, c0, part16,
                              ones16, soft);
                    /* Without the softmax (the loss alone): the same sums
                     * to the bit. */
                    norm_runs_f16(x, C, m, unused, NULL, NULL, none, &ones_none,
                                  NULL);
                    check(memcmp(none, part16, sizeof none) == 0 &&
                              ones_none == ones16,
                          "the same sums without the softmax", kind_names[kind],
                          C, "norm_runs_f16");
                }
#endif
            }
        }
    }
    free(x);
    free(soft);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
