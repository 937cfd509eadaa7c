/*
 * fuzz_ctcc.c - a fuzz target over the whole public C API of ctcc.
 *
 *   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
 *
 * libFuzzer-compatible: build it with clang -fsanitize=fuzzer, or link it
 * with tests/fuzz/driver.c (GCC). The bytes choose the entry point, the
 * sizes (mostly small and valid, sometimes zero, negative or huge), the
 * lengths, labels, options, input values (NaN, infinities, huge values),
 * NULL pointers and the workspace (exact, one byte short, misaligned).
 *
 * Checked on every call (abort() with a message on a violation):
 *   - no byte is written before or after any output array or past the
 *     workspace (canaries, poisoned for AddressSanitizer when available),
 *     and the inputs, lengths, labels and options are not modified;
 *   - the status is a known code, equals the one the header's documented
 *     validation order predicts whenever a check fails, and on an error
 *     every output is left byte-for-byte untouched;
 *   - on success the outputs satisfy the documented invariants (finite or
 *     +inf costs, NaN only for a NaN/+inf input, finite gradients, targets
 *     and frame weights for finite inputs whatever alpha and gamma, zeros
 *     past the input length, posterior rows summing to 1, gradient =
 *     weight * (softmax - target), weights averaging 1, a blank target of
 *     0 or 1 with alpha = 0 or 1, alignment paths
 *     consistent with the labels, decoded labels in range and not blank),
 *     and the loss is bitwise identical with 1 and 2 threads.
 *
 * The harness never allocates large buffers: a call whose valid arrays
 * would exceed a few MB, or whose work would be large, is skipped.
 */
#include "ctcc.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#ifdef FUZZ_ASAN
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Limits of what the harness allocates and computes per call (small, so
 * that heavy cases do not take over a coverage-guided run). */
#define MAX_BATCH_ALLOC 4096  /* entries of a lengths array */
#define MAX_ELEMS (1u << 15)  /* elements of the inputs array */
#define MAX_LABELS (1u << 14) /* entries of flat_labels */
#define MAX_WS (8u << 20)     /* workspace bytes */
#define MAX_WORK 300000.0     /* DP cells or beam steps */
#define CANARY 64             /* guard bytes either side of a buffer */
#define OUT_FILL 0xA5         /* pattern of the outputs before a call */
#define CANARY_FILL 0xCD
#define BAD_NAN 1  /* a NaN or +inf in a sample's valid frames */
#define BAD_HUGE 2 /* a finite value beyond 1e29 there */

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "fuzz_ctcc: ");                                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, " [%s:%d]\n", __FILE__, __LINE__);                     \
        abort();                                                               \
    } while (0)

/* ---------------------------------------------------------------------- */
/* Byte stream                                                            */
/* ---------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, i;
    uint64_t rng; /* continues the values once the bytes are used up */
} stream;

static uint8_t u8(stream *s) {
    if (s->i < s->n) {
        return s->p[s->i++];
    }
    s->rng = s->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint8_t)(s->rng >> 56);
}

static int more(const stream *s) { return s->i < s->n; }

static uint32_t u32(stream *s) {
    uint32_t v = 0;
    int k;
    for (k = 0; k < 4; ++k) {
        v = (v << 8) | u8(s);
    }
    return v;
}

/* An int32 that is mostly in [lo, hi] and sometimes a special value. */
static int32_t pick_int(stream *s, int32_t lo, int32_t hi) {
    const uint8_t b = u8(s);
    if (b < 224 || !more(s)) {
        return lo + (int32_t)(b % (uint32_t)(hi - lo + 1));
    }
    switch (b % 10) {
    case 0:
        return 0;
    case 1:
        return -1;
    case 2:
        return INT32_MIN;
    case 3:
        return INT32_MAX;
    case 4:
        return hi + 1;
    case 5:
        return lo - 1;
    case 6:
        return 1 << 20;
    case 7:
        return 65536;
    case 8:
        return INT32_MAX / 2 + 1;
    default:
        return (int32_t)u32(s);
    }
}

static double special_value(uint8_t b) {
    static const double v[] = {
        NAN,    INFINITY, -INFINITY, 1e30,    -1e30,  0.0,   -0.0,   1e300,
        -1e300, FLT_MAX,  -FLT_MAX,  DBL_MIN, 1e-320, 100.0, -100.0, 88.7};
    return v[b % (sizeof v / sizeof v[0])];
}

/* ---------------------------------------------------------------------- */
/* Guarded buffers                                                        */
/* ---------------------------------------------------------------------- */

typedef struct {
    unsigned char *base; /* CANARY | data (bytes) | CANARY */
    unsigned char *data;
    size_t bytes;
    unsigned char *copy; /* the contents before the call (inputs) */
    int is_null;         /* the caller passes NULL instead */
} gbuf;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        FAIL("harness out of memory (%zu bytes)", n);
    }
    return p;
}

/* Allocates bytes + guards; the data is filled with fill. offset moves
 * the data start (to misalign it) inside the leading guard. */
static void gb_alloc(gbuf *b, size_t bytes, int fill) {
    b->base = (unsigned char *)xmalloc(bytes + 2 * CANARY);
    b->data = b->base + CANARY;
    b->bytes = bytes;
    b->copy = NULL;
    b->is_null = 0;
    memset(b->base, CANARY_FILL, CANARY);
    memset(b->data, fill, bytes);
    memset(b->data + bytes, CANARY_FILL, CANARY);
}

static void gb_arm(gbuf *b) {
    POISON(b->base, CANARY);
    POISON(b->data + b->bytes, CANARY);
}

/* Remembers the contents (for a buffer the call must not modify). */
static void gb_snapshot(gbuf *b) {
    b->copy = (unsigned char *)xmalloc(b->bytes);
    memcpy(b->copy, b->data, b->bytes);
}

static void *gb_ptr(gbuf *b) { return b->is_null ? NULL : b->data; }

static void gb_check(gbuf *b, const char *name) {
    size_t i;
    UNPOISON(b->base, CANARY);
    UNPOISON(b->data + b->bytes, CANARY);
    for (i = 0; i < CANARY; ++i) {
        if (b->base[i] != CANARY_FILL) {
            FAIL("%s: byte %zu before the array overwritten", name, CANARY - i);
        }
        if (b->data[b->bytes + i] != CANARY_FILL) {
            FAIL("%s: byte %zu after the array (of %zu bytes) overwritten",
                 name, i, b->bytes);
        }
    }
    if (b->copy != NULL && memcmp(b->copy, b->data, b->bytes) != 0) {
        FAIL("%s: read-only argument modified", name);
    }
}

static void gb_check_untouched(const gbuf *b, const char *name) {
    size_t i;
    for (i = 0; i < b->bytes; ++i) {
        if (b->data[i] != OUT_FILL) {
            FAIL("%s: output byte %zu written by a failing call", name, i);
        }
    }
}

static void gb_free(gbuf *b) {
    free(b->base);
    free(b->copy);
    b->base = b->data = b->copy = NULL;
}

/* ---------------------------------------------------------------------- */
/* Overflow-checked sizes                                                 */
/* ---------------------------------------------------------------------- */

static size_t mul_sz(size_t a, size_t b, int *ok) {
    if (a != 0 && b > SIZE_MAX / a) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

/* ---------------------------------------------------------------------- */
/* The case                                                               */
/* ---------------------------------------------------------------------- */

enum entry {
    E_WS_LOSS,
    E_WS_ALIGN,
    E_WS_BEAM,
    E_LOSS,
    E_POST,
    E_ALIGN,
    E_GREEDY,
    E_BEAM,
    E_STATUS_STRING,
    E_INFO,
    E_COUNT
};

typedef struct {
    int entry, is64;
    int32_t N, T, C;
    int32_t *in_len, *lab_len; /* host copies, nalloc entries */
    size_t nalloc;             /* entries of the lengths arrays passed */
    int32_t *labels;           /* total_labels entries (host copy) */
    size_t total_labels;       /* sum of the label lengths (if valid) */
    int options_null;
    ctcc_options opt; /* the options as filled */
    size_t opt_bytes; /* bytes of the options object passed */
    int blank;        /* resolved, when valid */
    int32_t beam_width, top_paths;
    double blank_penalty;
    int use_prior;
    double prior[16];
    int with_grad, with_post, with_fw, with_spans, with_scores;
    int null_which; /* index of the pointer passed as NULL, or -1 */
    int ws_mode;    /* 0 exact, 1 one byte short, 2 misaligned, 3 larger */
    int ws_shift;
    int thread_check;
    int dtype;
    int with_gradient_q;
} fcase;

static int opt_field_covered(const fcase *c, size_t end) {
    return c->opt.struct_size >= end;
}

/* The options check (validate.c's order: struct_size, num_threads,
 * input_kind, layout, blank, then the 0.2 fields alpha and gamma). */
static ctcc_status predict_options(const fcase *c, int *blank) {
    ctcc_options o;
    if (c->options_null) {
        ctcc_options_init(&o);
    } else {
        o = c->opt;
    }
    if (o.struct_size < offsetof(ctcc_options, zero_infinity) + sizeof(int)) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (o.num_threads < 0) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (o.input_kind != CTCC_INPUT_LOGITS &&
        o.input_kind != CTCC_INPUT_LOG_PROBS) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (o.layout != CTCC_LAYOUT_TIME_MAJOR &&
        o.layout != CTCC_LAYOUT_BATCH_MAJOR) {
        return CTCC_STATUS_INVALID_OPTION;
    }
    if (o.blank < -c->C || o.blank >= c->C) {
        return CTCC_STATUS_INVALID_BLANK;
    }
    *blank = o.blank < 0 ? o.blank + c->C : o.blank;
    if (c->options_null ||
        opt_field_covered(c, offsetof(ctcc_options, gamma) + sizeof(double))) {
        if (o.alpha != CTCC_ALPHA_NONE && !(o.alpha >= 0.0 && o.alpha <= 1.0)) {
            return CTCC_STATUS_INVALID_OPTION;
        }
        if (!(o.gamma >= 0.0 && o.gamma <= 1e300)) {
            return CTCC_STATUS_INVALID_OPTION;
        }
    }
    return CTCC_STATUS_SUCCESS;
}

/* The effective 0.2 options (defaults when the struct lacks them). */
static void effective(const fcase *c, double *alpha, double *gamma, int *kind,
                      int *layout, int *zinf) {
    ctcc_options o;
    if (c->options_null) {
        ctcc_options_init(&o);
    } else {
        o = c->opt;
    }
    *alpha = CTCC_ALPHA_NONE;
    *gamma = 0.0;
    if (c->options_null ||
        opt_field_covered(c, offsetof(ctcc_options, gamma) + sizeof(double))) {
        *alpha = o.alpha;
        *gamma = o.gamma;
    }
    *kind = o.input_kind;
    *layout = o.layout;
    *zinf = o.zero_infinity != 0;
}

/* The bytes of stage rows that ctcc_workspace_size counts for a loss or
 * posteriors call, as ctcc.h documents them: for a float32 call with a
 * backward pass and 1024 classes or more, without the alpha or gamma
 * modification or the log-space kernel, two rows of 4 C bytes, each
 * rounded up to 64, per thread the call may use (num_threads, or
 * ctcc_default_num_threads() for 0; at most 2 N). The call itself
 * requires the size less these. */
static size_t documented_stage_bytes(const fcase *c, int backward) {
    double alpha, gamma;
    int kind, layout, zinf, threads;
    ctcc_kernel kernel = CTCC_KERNEL_AUTO;
    effective(c, &alpha, &gamma, &kind, &layout, &zinf);
    if (!c->options_null &&
        opt_field_covered(c, offsetof(ctcc_options, kernel) +
                                 sizeof(ctcc_kernel))) {
        kernel = c->opt.kernel;
    }
    if (c->is64 || !backward || c->C < 1024 || alpha != CTCC_ALPHA_NONE ||
        gamma != 0.0 || kernel == CTCC_KERNEL_LOG_SPACE) {
        return 0;
    }
    threads = !c->options_null && c->opt.num_threads > 0
                  ? c->opt.num_threads
                  : ctcc_default_num_threads();
    if ((int64_t)threads > 2 * (int64_t)c->N) {
        threads = (int)(2 * (int64_t)c->N);
    }
    if (threads < 1) {
        threads = 1;
    }
    return (size_t)threads * 2 * (((size_t)c->C * 4 + 63) / 64 * 64);
}

/* The checks common to every sized call, in the documented order:
 * batch_size, alphabet_size, max_time, input lengths, label lengths
 * (labelled calls), options; then the size of the inputs array. */
static ctcc_status predict_prefix(const fcase *c, int labelled, int check_dtype,
                                  int *blank) {
    size_t n;
    int ok = 1;
    ctcc_status st;
    if (c->N < 1) {
        return CTCC_STATUS_INVALID_BATCH_SIZE;
    }
    if (c->C < 1) {
        return CTCC_STATUS_INVALID_ALPHABET_SIZE;
    }
    if (c->T < 0) {
        return CTCC_STATUS_INVALID_MAX_TIME;
    }
    for (n = 0; n < (size_t)c->N; ++n) {
        if (c->in_len[n] < 0 || c->in_len[n] > c->T) {
            return CTCC_STATUS_INVALID_INPUT_LENGTH;
        }
    }
    if (labelled) {
        for (n = 0; n < (size_t)c->N; ++n) {
            if (c->lab_len[n] < 0) {
                return CTCC_STATUS_INVALID_LABEL_LENGTH;
            }
        }
    }
    st = predict_options(c, blank);
    if (st != CTCC_STATUS_SUCCESS) {
        return st;
    }
    if (check_dtype && c->dtype != CTCC_FLOAT32 && c->dtype != CTCC_FLOAT64) {
        return CTCC_STATUS_INVALID_DTYPE;
    }
    (void)mul_sz(mul_sz((size_t)c->T, (size_t)c->N, &ok), (size_t)c->C, &ok);
    return ok ? CTCC_STATUS_SUCCESS : CTCC_STATUS_SIZE_OVERFLOW;
}

static ctcc_status predict_labels(const fcase *c, int labels_null) {
    size_t i;
    ctcc_status found = CTCC_STATUS_SUCCESS;
    if (c->total_labels > 0 && labels_null) {
        return CTCC_STATUS_NULL_POINTER;
    }
    for (i = 0; i < c->total_labels; ++i) {
        if (c->labels[i] < 0 || c->labels[i] >= c->C) {
            return CTCC_STATUS_LABEL_OUT_OF_RANGE;
        }
        if (c->labels[i] == c->blank) {
            found = CTCC_STATUS_LABEL_IS_BLANK;
        }
    }
    return found;
}

/* ---------------------------------------------------------------------- */
/* Reading typed arrays                                                   */
/* ---------------------------------------------------------------------- */

static double rd(const gbuf *b, size_t i, int is64) {
    if (is64) {
        double v;
        memcpy(&v, b->data + i * sizeof v, sizeof v);
        return v;
    } else {
        float v;
        memcpy(&v, b->data + i * sizeof v, sizeof v);
        return (double)v;
    }
}

static int32_t rdi(const gbuf *b, size_t i) {
    int32_t v;
    memcpy(&v, b->data + i * sizeof v, sizeof v);
    return v;
}

static void wr(gbuf *b, size_t i, int is64, double v) {
    if (is64) {
        memcpy(b->data + i * sizeof v, &v, sizeof v);
    } else {
        const float f = (float)v;
        memcpy(b->data + i * sizeof f, &f, sizeof f);
    }
}

/* Element index of (t, n, c) in an inputs-shaped array. */
static size_t idx3(const fcase *c, int layout, size_t t, size_t n, size_t k) {
    if (layout == CTCC_LAYOUT_BATCH_MAJOR) {
        return (n * (size_t)c->T + t) * (size_t)c->C + k;
    }
    return (t * (size_t)c->N + n) * (size_t)c->C + k;
}

/* ---------------------------------------------------------------------- */
/* Building the case from the bytes                                       */
/* ---------------------------------------------------------------------- */

static void fill_options(fcase *c, stream *s) {
    uint8_t b;
    ctcc_options_init(&c->opt);
    c->options_null = 0;
    c->opt_bytes = sizeof(ctcc_options);
    b = u8(s);
    if (b < 16) {
        c->options_null = 1;
        return;
    }
    b = u8(s); /* struct_size */
    if (b >= 224) {
        static const size_t sizes[] = {
            0,
            offsetof(ctcc_options, zero_infinity) + sizeof(int),
            offsetof(ctcc_options, zero_infinity) + sizeof(int) - 1,
            sizeof(ctcc_options) - 1,
            offsetof(ctcc_options, gamma),
            sizeof(ctcc_options) + 64,
            SIZE_MAX,
            sizeof(size_t)};
        c->opt.struct_size = sizes[b % 8];
    }
    /* The object passed is exactly as large as the caller says, so that
     * reading a field the struct does not have is caught. */
    if (c->opt.struct_size < sizeof(ctcc_options)) {
        c->opt_bytes = c->opt.struct_size < sizeof(size_t) ? sizeof(size_t)
                                                           : c->opt.struct_size;
    }
    b = u8(s); /* blank */
    if (b < 140) {
        c->opt.blank = 0;
    } else if (b < 190) {
        c->opt.blank = -1;
    } else if (b < 220) {
        c->opt.blank = c->C > 0 ? (int)(b % (uint32_t)c->C) : 0;
    } else if (b < 240) {
        /* just outside or inside either end of the valid range */
        const int64_t v =
            (int64_t)(b % 7) - 3 + (b & 1 ? (int64_t)c->C : -(int64_t)c->C);
        c->opt.blank = v < INT32_MIN || v > INT32_MAX ? 0 : (int)v;
    } else {
        c->opt.blank = b & 1 ? INT32_MIN : INT32_MAX;
    }
    b = u8(s); /* num_threads */
    c->opt.num_threads = b < 240 ? (int)(b % 4) : (b & 1 ? -1 : INT32_MIN);
    b = u8(s); /* input_kind, layout */
    c->opt.input_kind = (ctcc_input_kind)(b & 1);
    c->opt.layout = (ctcc_layout)((b >> 1) & 1);
    if (b >= 240) {
        if (b & 4) {
            c->opt.input_kind = (ctcc_input_kind)(b & 8 ? 2 : -1);
        } else {
            c->opt.layout = (ctcc_layout)(b & 8 ? 2 : -1);
        }
    }
    c->opt.zero_infinity = (b >> 2) & 1 ? (b >= 200 ? -7 : 1) : 0;
    b = u8(s); /* alpha */
    if (b < 150) {
        c->opt.alpha = CTCC_ALPHA_NONE;
    } else if (b < 220) {
        c->opt.alpha = (b - 150) / 69.0;
    } else {
        static const double a[] = {0.0,      1.0,          -0.5, 1.5,      NAN,
                                   INFINITY, -1.0 + 1e-16, 0.5,  -INFINITY};
        c->opt.alpha = a[b % 9];
    }
    b = u8(s); /* gamma */
    if (b < 150) {
        c->opt.gamma = 0.0;
    } else if (b < 220) {
        c->opt.gamma = (b - 150) / 20.0;
    } else {
        static const double g[] = {-1.0,  NAN,    INFINITY, 1e300,
                                   1e301, 1e-300, 0.5,      -0.0};
        c->opt.gamma = g[b % 8];
    }
}

/* Lengths for sample n (host copies; n < nalloc). */
static void fill_lengths(fcase *c, stream *s, int labelled) {
    size_t n;
    const int32_t T = c->T;
    for (n = 0; n < c->nalloc; ++n) {
        if (n >= 8) { /* large batches repeat the first eight samples */
            c->in_len[n] = c->in_len[n % 8];
            c->lab_len[n] = c->lab_len[n % 8];
            continue;
        }
        {
            const uint8_t b = u8(s);
            if (b < 240 || T < 0) {
                c->in_len[n] = T <= 0 ? 0 : (int32_t)(b % ((uint32_t)T + 1u));
                if (b < 120 && T > 0) {
                    c->in_len[n] = T; /* often full length */
                }
            } else {
                static const int32_t bad[] = {-1, INT32_MIN, INT32_MAX, 0};
                c->in_len[n] = b % 5 == 4 && T < INT32_MAX ? T + 1 : bad[b % 4];
            }
        }
        if (labelled) {
            const uint8_t b = u8(s);
            const int32_t t = c->in_len[n] > 0 ? c->in_len[n] : 0;
            if (b < 232) {
                c->lab_len[n] = (int32_t)(b % (uint32_t)(t / 2 + 2));
                if (b >= 200) {
                    /* often infeasible */
                    c->lab_len[n] =
                        t < INT32_MAX - 2 ? t + (int32_t)(b % 3) : INT32_MAX;
                }
            } else {
                static const int32_t bad[] = {-1,      INT32_MIN, INT32_MAX,
                                              1 << 30, 65536,     -2};
                c->lab_len[n] = bad[b % 6];
            }
        } else {
            c->lab_len[n] = 0;
        }
    }
}

/* Fills the valid frames with values from the bytes; invalid frames hold
 * NaN (they must never be read). bad[n] gets BAD_NAN for a sample with
 * a NaN or +inf (after rounding) in its valid frames, BAD_HUGE for one
 * with a finite value beyond 1e29 (sums of those may overflow). */
static void fill_inputs(const fcase *c, stream *s, gbuf *in, int layout,
                        int *bad) {
    size_t n, t, k;
    const uint8_t rate = u8(s); /* how often values are special */
    const int specials = rate >= 160 ? (rate >= 240 ? 64 : 8) : 0;
    const uint8_t scale_b = u8(s);
    const double scale = scale_b < 200 ? 1.0 / 16 : (scale_b - 199) / 2.0;
    for (n = 0; n < (size_t)c->N; ++n) {
        bad[n] = 0;
        for (t = 0; t < (size_t)c->T; ++t) {
            const int valid = (int32_t)t < c->in_len[n];
            for (k = 0; k < (size_t)c->C; ++k) {
                const size_t i = idx3(c, layout, t, n, k);
                double v;
                if (!valid) {
                    wr(in, i, c->is64, NAN);
                    continue;
                }
                {
                    const uint8_t b = u8(s);
                    if (specials && b < specials && more(s)) {
                        v = special_value(u8(s));
                    } else {
                        v = ((int)b - 128) * scale;
                    }
                }
                wr(in, i, c->is64, v);
                v = rd(in, i, c->is64);
                if (isnan(v) || v == INFINITY) {
                    bad[n] |= BAD_NAN;
                } else if (fabs(v) > 1e29) {
                    bad[n] |= BAD_HUGE;
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* The calls                                                              */
/* ---------------------------------------------------------------------- */

static const char *status_name(ctcc_status st) {
    return ctcc_status_string(st);
}

static void check_status_known(ctcc_status st) {
    if ((int)st < 0 || (int)st > CTCC_STATUS_INVALID_BEAM) {
        FAIL("unknown status %d", (int)st);
    }
}

static void expect_status(ctcc_status got, ctcc_status want, const char *what) {
    check_status_known(got);
    if (got != want) {
        FAIL("%s: status %d (%s), the documented order gives %d (%s)", what,
             (int)got, status_name(got), (int)want, status_name(want));
    }
}

static void run_status_string(stream *s) {
    int k;
    for (k = 0; k < 4; ++k) {
        const int v = (int)u32(s);
        const int code = k == 0 ? (int)(u8(s) % 20) - 2 : v;
        const char *str = ctcc_status_string((ctcc_status)code);
        if (str == NULL || str[0] == '\0') {
            FAIL("ctcc_status_string(%d) is NULL or empty", code);
        }
        if (code >= 0 && code <= CTCC_STATUS_INVALID_BEAM &&
            strcmp(str, "unknown status") == 0) {
            FAIL("ctcc_status_string(%d) is unknown", code);
        }
        if ((code < 0 || code > CTCC_STATUS_INVALID_BEAM) &&
            strcmp(str, "unknown status") != 0) {
            FAIL("ctcc_status_string(%d) = \"%s\"", code, str);
        }
    }
}

static void run_info(stream *s) {
    ctcc_options o, *po = u8(s) < 32 ? NULL : &o;
    memset(&o, 0x5A, sizeof o);
    ctcc_options_init(po);
    if (po != NULL &&
        (o.struct_size != sizeof o || o.blank != 0 || o.num_threads != 0 ||
         o.input_kind != CTCC_INPUT_LOGITS ||
         o.layout != CTCC_LAYOUT_TIME_MAJOR || o.zero_infinity != 0 ||
         o.alpha != CTCC_ALPHA_NONE || o.gamma != 0.0)) {
        FAIL("ctcc_options_init: unexpected defaults");
    }
    if (strcmp(ctcc_version_string(), CTCC_VERSION_STRING) != 0 ||
        ctcc_version_number() != CTCC_VERSION_NUMBER) {
        FAIL("version mismatch");
    }
    if (ctcc_openmp_enabled() != 0 && ctcc_openmp_enabled() != 1) {
        FAIL("ctcc_openmp_enabled");
    }
    if (ctcc_default_num_threads() < 1) {
        FAIL("ctcc_default_num_threads < 1");
    }
}

/* The model's probabilities of frame (t, n), from the inputs in double
 * (softmax of logits kept as exp((x - max) - log sum), or exp of
 * log-probabilities), into y[0, C). */
static void model_probs(const fcase *c, const gbuf *in, int layout, int kind,
                        size_t t, size_t n, double *y) {
    double m = -INFINITY, sum = 0.0;
    size_t k;
    for (k = 0; k < (size_t)c->C; ++k) {
        y[k] = rd(in, idx3(c, layout, t, n, k), c->is64);
        m = y[k] > m ? y[k] : m;
    }
    if (kind != CTCC_INPUT_LOGITS) {
        for (k = 0; k < (size_t)c->C; ++k) {
            y[k] = exp(y[k]);
        }
        return;
    }
    for (k = 0; k < (size_t)c->C; ++k) {
        sum += m > -INFINITY ? exp(y[k] - m) : 0.0;
    }
    for (k = 0; k < (size_t)c->C; ++k) {
        y[k] = m > -INFINITY ? exp((y[k] - m) - log(sum)) : 0.0;
    }
}

/* Which states of sample n some alignment can occupy, from the structure
 * alone (every input finite except -inf, which makes a class impossible at
 * its frame): poss[t * S + s] for the S = 2L + 1 states of the extended
 * labels, whose classes go to ext. Returns 0 (nothing computed) when the
 * sample is too large for the scratch arrays. */
static int possible_states(const fcase *c, const gbuf *in, int layout, size_t n,
                           const int32_t *labels, unsigned char *poss,
                           unsigned char *back, int32_t *ext, size_t cap) {
    const size_t T = (size_t)c->in_len[n], L = (size_t)c->lab_len[n];
    const size_t S = 2 * L + 1;
    size_t t, s;
    if (T * S > cap || S > cap) {
        return 0;
    }
    for (s = 0; s < S; ++s) {
        ext[s] = s & 1 ? labels[s / 2] : c->blank;
    }
#define FUZZ_EMITS(t, s)                                                       \
    (rd(in, idx3(c, layout, (t), n, (size_t)ext[s]), c->is64) > -INFINITY)
#define FUZZ_SKIP(s) ((s) >= 2 && (s) & 1 && ext[s] != ext[(s) - 2])
    for (t = 0; t < T; ++t) {
        for (s = 0; s < S; ++s) {
            int r;
            if (t == 0) {
                r = s < 2;
            } else {
                const unsigned char *p = poss + (t - 1) * S;
                r = p[s] || (s >= 1 && p[s - 1]) || (FUZZ_SKIP(s) && p[s - 2]);
            }
            poss[t * S + s] = (unsigned char)(r && FUZZ_EMITS(t, s));
        }
    }
    for (t = T; t-- > 0;) {
        for (s = 0; s < S; ++s) {
            int r;
            if (t == T - 1) {
                r = s + 2 >= S;
            } else {
                const unsigned char *b = back + (t + 1) * S;
                r = b[s] || (s + 1 < S && b[s + 1]) ||
                    (s + 2 < S && FUZZ_SKIP(s + 2) && b[s + 2]);
            }
            back[t * S + s] = (unsigned char)(r && FUZZ_EMITS(t, s));
        }
    }
#undef FUZZ_EMITS
#undef FUZZ_SKIP
    for (s = 0; s < T * S; ++s) {
        poss[s] = (unsigned char)(poss[s] && back[s]);
    }
    return 1;
}

/* Per-sample checks of the loss outputs after a successful call. */
static void check_loss_outputs(const fcase *c, const gbuf *in,
                               const gbuf *costs, const gbuf *grad,
                               const gbuf *post, const gbuf *fw,
                               const int *bad) {
    double alpha, gamma;
    int kind, layout, zinf;
    size_t n, t, k;
    const double tol = c->is64 ? 1e-6 : 1e-3;
    double *y = (double *)xmalloc(sizeof(double) * (size_t)c->C);
    const size_t cap = 1u << 16;
    unsigned char *poss = NULL, *back = NULL;
    int32_t *ext = NULL;
    size_t label_at = 0;
    effective(c, &alpha, &gamma, &kind, &layout, &zinf);
    if (post != NULL && (alpha == 0.0 || alpha == 1.0)) {
        poss = (unsigned char *)xmalloc(cap);
        back = (unsigned char *)xmalloc(cap);
        ext = (int32_t *)xmalloc(sizeof(int32_t) * cap);
    }
    for (n = 0; n < (size_t)c->N; ++n) {
        const double cost = rd(costs, n, c->is64);
        const size_t Tn = (size_t)c->in_len[n];
        const size_t S = 2 * (size_t)c->lab_len[n] + 1;
        double weight_sum = 0.0;
        int structure = 0;
        int finite = isfinite(cost);
        /* Finite inputs (no NaN or +inf) give finite gradients, targets
         * and weights, whatever the cost, alpha and gamma. */
        int finite_in;
        /* Finite inputs beyond 1e29. Logits are normalised per frame
         * (log-softmax as (x - max) - log sum), so only the sum over frames
         * can overflow, to a cost of +inf; unnormalised log-probabilities
         * near the float range can overflow either way and are checked
         * only structurally (see tests/fuzz/README.md). */
        const int huge = bad[n] == BAD_HUGE;
        const int loose = huge && kind != CTCC_INPUT_LOGITS;
        int strict;
        if (isnan(cost) && !(bad[n] & BAD_NAN) && !loose) {
            FAIL("cost[%zu] is NaN without a NaN/+inf input", n);
        }
        if ((bad[n] & BAD_NAN) && !isnan(cost) && cost != INFINITY &&
            !(zinf && cost == 0.0)) {
            FAIL("cost[%zu] = %g with a NaN/+inf input", n, cost);
        }
        if (cost == -INFINITY && !loose) {
            FAIL("cost[%zu] is -inf", n);
        }
        if (zinf && cost == INFINITY && !huge) {
            FAIL("cost[%zu] is +inf with zero_infinity", n);
        }
        if (kind == CTCC_INPUT_LOGITS && finite && cost < -1e-3) {
            FAIL("cost[%zu] = %g < 0 for logits", n, cost);
        }
        if ((bad[n] & BAD_NAN) || loose) {
            finite = 0;
        }
        finite_in = !(bad[n] & BAD_NAN) && !loose;
        /* With zero_infinity a cost of 0 may be an infeasible sample
         * (zero posteriors and weights). */
        strict = finite && !(zinf && cost == 0.0);
        /* alpha = 0 or 1 on a sample of ordinary finite (or -inf) values:
         * where the structure allows a label (alpha = 1) or a blank
         * (alpha = 0) at a frame, its posterior there is positive, however
         * small, and eq. 16 gives it the whole frame; elsewhere the frame
         * keeps its posteriors, all on the other kind. */
        if (poss != NULL && strict && bad[n] == 0) {
            structure = possible_states(c, in, layout, n, c->labels + label_at,
                                        poss, back, ext, cap);
        }
        label_at += (size_t)c->lab_len[n];
        for (t = 0; t < (size_t)c->T; ++t) {
            double row = 0.0;
            for (k = 0; k < (size_t)c->C; ++k) {
                const size_t i = idx3(c, layout, t, n, k);
                if (grad != NULL) {
                    const double g = rd(grad, i, c->is64);
                    if (t >= Tn && g != 0.0) {
                        FAIL("gradient (%zu,%zu,%zu) = %g past the input "
                             "length %zu",
                             t, n, k, g, Tn);
                    }
                    if (finite_in && !isfinite(g)) {
                        FAIL("gradient (%zu,%zu,%zu) = %g with cost %g and "
                             "finite inputs (alpha %g, gamma %g)",
                             t, n, k, g, cost, alpha, gamma);
                    }
                }
                if (post != NULL) {
                    const double p = rd(post, i, c->is64);
                    if (t >= Tn && p != 0.0) {
                        FAIL("posterior (%zu,%zu,%zu) = %g past the input "
                             "length",
                             t, n, k, p);
                    }
                    if ((strict && !(p >= -tol && p <= 1.0 + tol)) ||
                        (finite_in && !isfinite(p))) {
                        FAIL("posterior (%zu,%zu,%zu) = %g (alpha %g)", t, n, k,
                             p, alpha);
                    }
                    row += p;
                }
            }
            if (post != NULL && strict && t < Tn && fabs(row - 1.0) > tol) {
                FAIL("posterior row (%zu,%zu) sums to %.9g", t, n, row);
            }
            if (structure && t < Tn) {
                const double pb =
                    rd(post, idx3(c, layout, t, n, (size_t)c->blank), c->is64);
                int label_there = 0, blank_there = 0;
                size_t s;
                for (s = 0; s < S; ++s) {
                    label_there |= (s & 1) && poss[t * S + s];
                    blank_there |= !(s & 1) && poss[t * S + s];
                }
                if (fabs(pb - (alpha == 1.0 ? !label_there : blank_there)) >
                    tol) {
                    FAIL("alpha %g: blank target (%zu,%zu) = %.9g where the "
                         "structure allows %s",
                         alpha, t, n, pb,
                         alpha == 1.0 ? (label_there ? "a label" : "no label")
                                      : (blank_there ? "a blank" : "no blank"));
                }
            }
            if (fw != NULL) {
                const size_t i = layout == CTCC_LAYOUT_BATCH_MAJOR
                                     ? n * (size_t)c->T + t
                                     : t * (size_t)c->N + n;
                const double w = rd(fw, i, c->is64);
                if (t >= Tn && w != 0.0) {
                    FAIL("frame weight (%zu,%zu) = %g past the input length", t,
                         n, w);
                }
                if (finite_in && t < Tn &&
                    !(w >= 0.0 && w <= (double)Tn * (1.0 + tol))) {
                    FAIL("frame weight (%zu,%zu) = %g (gamma %g)", t, n, w,
                         gamma);
                }
                if (strict && t < Tn && gamma == 0.0 && fabs(w - 1.0) > tol) {
                    FAIL("frame weight (%zu,%zu) = %g with gamma 0", t, n, w);
                }
                weight_sum += t < Tn ? w : 0.0;
                /* The gradient is weight * (y - target) for logits and
                 * -weight * target for log-probabilities. */
                if (grad != NULL && post != NULL && strict && t < Tn) {
                    model_probs(c, in, layout, kind, t, n, y);
                    for (k = 0; k < (size_t)c->C; ++k) {
                        const size_t i = idx3(c, layout, t, n, k);
                        const double p = rd(post, i, c->is64);
                        const double want =
                            kind == CTCC_INPUT_LOGITS ? w * (y[k] - p) : -w * p;
                        const double g = rd(grad, i, c->is64);
                        if (fabs(g - want) > tol * (1.0 + w)) {
                            FAIL("gradient (%zu,%zu,%zu) = %.9g, weight * "
                                 "(y - target) = %.9g (alpha %g, gamma %g)",
                                 t, n, k, g, want, alpha, gamma);
                        }
                    }
                }
            }
        }
        /* The weights average 1 over the valid frames (0 for a sample
         * whose gains are all 0). */
        if (fw != NULL && strict && Tn > 0 &&
            !(fabs(weight_sum - (double)Tn) <= tol * (double)Tn ||
              (gamma != 0.0 && weight_sum == 0.0))) {
            FAIL("frame weights of sample %zu sum to %.9g over %zu frames "
                 "(gamma %g)",
                 n, weight_sum, Tn, gamma);
        }
    }
    free(y);
    free(poss);
    free(back);
    free(ext);
}

/* FUZZ_CTCC_VERBOSE=1 in the environment prints each case (to read a
 * crashing input). */
static void dump_case(const fcase *c, const gbuf *in) {
    static int verbose = -1;
    size_t n, i;
    if (verbose < 0) {
        const char *e = getenv("FUZZ_CTCC_VERBOSE");
        verbose = e != NULL && e[0] == '1';
    }
    if (!verbose) {
        return;
    }
    fprintf(stderr,
            "case: entry %d f%d N %d T %d C %d options %s struct_size %zu "
            "blank %d threads %d kind %d layout %d zinf %d alpha %g gamma "
            "%g beam %d top %d penalty %g prior %d grad %d post %d fw %d "
            "spans %d scores %d null %d ws_mode %d\n",
            c->entry, c->is64 ? 64 : 32, (int)c->N, (int)c->T, (int)c->C,
            c->options_null ? "NULL" : "set", c->opt.struct_size, c->opt.blank,
            c->opt.num_threads, (int)c->opt.input_kind, (int)c->opt.layout,
            c->opt.zero_infinity, c->opt.alpha, c->opt.gamma,
            (int)c->beam_width, (int)c->top_paths, c->blank_penalty,
            c->use_prior, c->with_grad, c->with_post, c->with_fw, c->with_spans,
            c->with_scores, c->null_which, c->ws_mode);
    for (n = 0; n < c->nalloc && n < 8; ++n) {
        fprintf(stderr, "  sample %zu: input length %d label length %d\n", n,
                (int)c->in_len[n], (int)c->lab_len[n]);
    }
    fprintf(stderr, "  labels:");
    for (i = 0; i < c->total_labels && i < 64; ++i) {
        fprintf(stderr, " %d", (int)c->labels[i]);
    }
    fprintf(stderr, "\n  inputs:");
    for (i = 0; in != NULL && i < in->bytes / (c->is64 ? 8 : 4) && i < 256;
         ++i) {
        fprintf(stderr, " %g", rd(in, i, c->is64));
    }
    fprintf(stderr, "\n");
}

static int32_t blank_of(const fcase *c) { return c->blank; }

static void check_align_outputs(const fcase *c, const gbuf *frames,
                                const gbuf *spans, const gbuf *scores,
                                const int *bad) {
    size_t n, t, off = 0;
    double alpha, gamma;
    int kind, layout, zinf;
    effective(c, &alpha, &gamma, &kind, &layout, &zinf);
    for (n = 0; n < (size_t)c->N; ++n) {
        const double sc = rd(scores, n, c->is64);
        const size_t Tn = (size_t)c->in_len[n];
        const size_t L = (size_t)c->lab_len[n];
        /* A feasible path whose score overflows the output precision
         * (inputs beyond 1e29) reads -inf, or +inf for unnormalised
         * log-probabilities: its frames tell. */
        const int ok =
            isfinite(sc) || (isinf(sc) && bad[n] == BAD_HUGE && Tn > 0 &&
                             rdi(frames, n * (size_t)c->T) != -1);
        if (isnan(sc) && !(bad[n] & BAD_NAN) && bad[n] != BAD_HUGE) {
            FAIL("align score[%zu] NaN without a NaN/+inf input", n);
        }
        if ((bad[n] & BAD_NAN) && !isnan(sc) && sc != -INFINITY) {
            FAIL("align score[%zu] = %g with a NaN/+inf input", n, sc);
        }
        if (sc == INFINITY && bad[n] != BAD_HUGE) {
            FAIL("align score[%zu] = +inf", n);
        }
        if (kind == CTCC_INPUT_LOGITS && ok && sc > 1e-3 &&
            !(bad[n] & BAD_HUGE)) {
            FAIL("align score[%zu] = %g > 0 for logits", n, sc);
        }
        for (t = 0; t < (size_t)c->T; ++t) {
            const int32_t f = rdi(frames, n * (size_t)c->T + t);
            if (t >= Tn || !ok) {
                if (f != -1) {
                    FAIL("align frame (%zu,%zu) = %d, expected -1 (input "
                         "length %zu, score %g)",
                         n, t, (int)f, Tn, sc);
                }
            } else if (f < 0 || f >= c->C) {
                FAIL("align frame (%zu,%zu) = %d out of range", n, t, (int)f);
            }
        }
        if (spans != NULL) {
            size_t i;
            int32_t prev_end = 0;
            /* frames between the spans must be the blank */
            unsigned char *in_span = (unsigned char *)xmalloc(Tn + 1);
            memset(in_span, 0, Tn + 1);
            for (i = 0; i < L; ++i) {
                const int32_t a = rdi(spans, 2 * (off + i));
                const int32_t b = rdi(spans, 2 * (off + i) + 1);
                if (!ok) {
                    if (a != -1 || b != -1) {
                        FAIL("span %zu of sample %zu = [%d, %d), expected -1",
                             i, n, (int)a, (int)b);
                    }
                    continue;
                }
                if (!(a >= prev_end && a < b && (size_t)b <= Tn)) {
                    FAIL("span %zu of sample %zu = [%d, %d) (prev end %d, "
                         "T %zu)",
                         i, n, (int)a, (int)b, (int)prev_end, Tn);
                }
                for (t = (size_t)a; t < (size_t)b; ++t) {
                    in_span[t] = 1;
                    if (rdi(frames, n * (size_t)c->T + t) !=
                        c->labels[off + i]) {
                        FAIL("frame %zu of sample %zu inside span %zu is not "
                             "its label",
                             t, n, i);
                    }
                }
                prev_end = b;
            }
            for (t = 0; ok && t < Tn; ++t) {
                if (!in_span[t] &&
                    rdi(frames, n * (size_t)c->T + t) != blank_of(c)) {
                    FAIL("frame %zu of sample %zu outside the spans is not "
                         "the blank",
                         t, n);
                }
            }
            free(in_span);
        }
        off += L;
    }
}

static void check_decoded_row(const fcase *c, const gbuf *buf, size_t row,
                              int32_t len, size_t Tn, const char *what) {
    size_t t;
    if (len < 0 || (size_t)len > Tn) {
        FAIL("%s row %zu: length %d not in [0, %zu]", what, row, (int)len, Tn);
    }
    for (t = 0; t < (size_t)c->T; ++t) {
        const int32_t v = rdi(buf, row * (size_t)c->T + t);
        if (t < (size_t)len) {
            if (v < 0 || v >= c->C || v == blank_of(c)) {
                FAIL("%s row %zu: label %d at %zu (C %d, blank %d)", what, row,
                     (int)v, t, (int)c->C, blank_of(c));
            }
        } else if (v != -1) {
            FAIL("%s row %zu: %d at %zu past the length %d", what, row, (int)v,
                 t, (int)len);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* The entry point                                                        */
/* ---------------------------------------------------------------------- */

static int work_too_large(const fcase *c, int entry) {
    double w = 0.0;
    size_t n;
    for (n = 0; n < (size_t)c->N; ++n) {
        const double Tn = c->in_len[n], L = c->lab_len[n];
        if (entry == E_BEAM || entry == E_WS_BEAM) {
            w += Tn * (double)c->beam_width * (c->C + 8.0);
        } else {
            w += (Tn + 1.0) * (2.0 * L + 1.0 + c->C);
        }
    }
    return w > MAX_WORK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    stream s;
    fcase c;
    uint8_t b;
    size_t n, nalloc, in_elems = 0, ws_bytes = 0;
    int ok = 1, scalar_ok, labelled, blank = 0, prefix_known;
    int *bad = NULL;
    ctcc_status pred, st, qst = CTCC_STATUS_SUCCESS;
    gbuf g_in, g_lab, g_il, g_ll, g_opt, g_ws, g_out[5];
    int n_out = 0;
    const char *out_names[5] = {"", "", "", "", ""};
    double alpha, gamma;
    int kind, layout, zinf;
    unsigned k;

    s.p = data;
    s.n = size;
    s.i = 0;
    s.rng = 0x9E3779B97F4A7C15ull ^ size;
    for (n = 0; n < size && n < 64; ++n) {
        s.rng = s.rng * 31 + data[n];
    }
    memset(&c, 0, sizeof c);

    b = u8(&s);
    c.entry = b % E_COUNT;
    c.is64 = (b / E_COUNT) & 1;
    if (c.entry == E_STATUS_STRING) {
        run_status_string(&s);
        return 0;
    }
    if (c.entry == E_INFO) {
        run_info(&s);
        return 0;
    }
    labelled = c.entry == E_WS_LOSS || c.entry == E_WS_ALIGN ||
               c.entry == E_LOSS || c.entry == E_POST || c.entry == E_ALIGN;

    c.N = pick_int(&s, 1, 6);
    c.T = pick_int(&s, 0, 40);
    c.C = pick_int(&s, 1, 12);
    fill_options(&c, &s);
    c.dtype = c.is64 ? CTCC_FLOAT64 : CTCC_FLOAT32;
    b = u8(&s);
    if (b >= 248) {
        c.dtype = b & 1 ? 0 : 3;
    }
    c.beam_width = pick_int(&s, 1, 8);
    c.top_paths = pick_int(&s, 1, 4);
    b = u8(&s);
    c.blank_penalty =
        b < 200 ? (b < 150 ? 0.0 : (b - 175) / 5.0) : special_value(b);
    b = u8(&s);
    c.use_prior = b >= 200 && c.C >= 1 && c.C <= 16;
    for (k = 0; k < 16; ++k) {
        c.prior[k] = 0.0;
    }
    if (c.use_prior) {
        for (k = 0; k < 16; ++k) {
            const uint8_t v = u8(&s);
            c.prior[k] = v >= 250 ? special_value(v) : (v - 128) / 32.0;
        }
    }
    b = u8(&s);
    c.with_grad = b & 1;
    c.with_post = (b >> 1) & 1;
    c.with_fw = (b >> 2) & 1;
    c.with_spans = (b >> 3) & 1;
    c.with_scores = (b >> 4) & 1;
    c.with_gradient_q = (b >> 5) & 1;
    c.thread_check = (b >> 6) & 1;
    b = u8(&s);
    c.null_which = b >= 232 ? (int)(b % 8) : -1;
    if (c.null_which >= 5) {
        /* An output pointer NULL: an optional one is simply not asked
         * for (which also decides the workspace size). */
        const int outs = c.entry == E_LOSS ? 2 : c.entry == E_POST ? 4 : 3;
        const int which = c.null_which % outs;
        int optional = 1;
        if ((c.entry == E_LOSS || c.entry == E_POST) && which == 1) {
            c.with_grad = 0;
        } else if (c.entry == E_POST && which == 2) {
            c.with_post = 0;
        } else if (c.entry == E_POST && which == 3) {
            c.with_fw = 0;
        } else if (c.entry == E_ALIGN && which == 1) {
            c.with_spans = 0;
        } else if (c.entry == E_GREEDY && which == 2) {
            c.with_scores = 0;
        } else {
            optional = 0;
        }
        c.null_which = optional ? -1 : 5 + which; /* g_out[which] NULL */
    }
    b = u8(&s);
    c.ws_mode = b < 200 ? 0 : (int)(b % 4);
    c.ws_shift = 1 + (int)(u8(&s) % 63);

    /* The library reads the lengths arrays only once the scalar checks
     * pass; before that it may touch nothing, and gets empty arrays. */
    scalar_ok = c.N >= 1 && c.C >= 1 && c.T >= 0;
    if (scalar_ok && c.N > MAX_BATCH_ALLOC) {
        return 0; /* a valid batch too large to allocate */
    }
    nalloc = scalar_ok ? (size_t)c.N : 0;
    c.nalloc = nalloc;
    c.in_len = (int32_t *)xmalloc(sizeof(int32_t) * (nalloc + 1));
    c.lab_len = (int32_t *)xmalloc(sizeof(int32_t) * (nalloc + 1));
    fill_lengths(&c, &s, labelled);

    /* Which checks fail, in the documented order (before the pointers
     * to the data arrays are followed). */
    pred = scalar_ok
               ? predict_prefix(&c, labelled, c.entry == E_WS_LOSS, &blank)
               : predict_prefix(&c, labelled, 0, &blank);
    c.blank = blank;
    prefix_known = pred != CTCC_STATUS_SUCCESS;

    /* The total label count and the inputs size, when the call may get
     * that far. */
    c.total_labels = 0;
    /* The workspace queries read neither inputs nor labels: they run
     * whatever the sizes (huge lengths reach their overflow checks). */
    if (!prefix_known && c.entry != E_WS_LOSS && c.entry != E_WS_ALIGN &&
        c.entry != E_WS_BEAM) {
        for (n = 0; n < nalloc; ++n) {
            c.total_labels += (size_t)c.lab_len[n];
        }
        in_elems =
            mul_sz(mul_sz((size_t)c.T, (size_t)c.N, &ok), (size_t)c.C, &ok);
        if (!ok || in_elems > MAX_ELEMS || c.total_labels > MAX_LABELS ||
            work_too_large(&c, c.entry)) {
            free(c.in_len);
            free(c.lab_len);
            return 0;
        }
    }
    c.labels = (int32_t *)xmalloc(sizeof(int32_t) * (c.total_labels + 1));
    for (n = 0; n < c.total_labels; ++n) {
        const uint8_t v = u8(&s);
        if (v < 236 || !more(&s)) {
            /* a valid label: skip over the blank */
            int32_t l = c.C > 1 ? (int32_t)(v % (uint32_t)(c.C - 1)) : 0;
            if (c.C > 1 && l >= blank) {
                l += 1;
            }
            c.labels[n] = l;
        } else {
            static const int32_t odd[] = {-1, INT32_MIN, INT32_MAX, 0};
            c.labels[n] = v % 6 == 4 ? blank : v % 6 == 5 ? c.C : odd[v % 4];
        }
    }
    effective(&c, &alpha, &gamma, &kind, &layout, &zinf);

    /* The argument buffers (read-only: snapshot them). */
    gb_alloc(&g_il, sizeof(int32_t) * nalloc, 0);
    gb_alloc(&g_ll, sizeof(int32_t) * nalloc, 0);
    if (nalloc) {
        memcpy(g_il.data, c.in_len, sizeof(int32_t) * nalloc);
        memcpy(g_ll.data, c.lab_len, sizeof(int32_t) * nalloc);
    }
    gb_alloc(&g_lab, sizeof(int32_t) * c.total_labels, 0);
    if (c.total_labels) {
        memcpy(g_lab.data, c.labels, sizeof(int32_t) * c.total_labels);
    }
    gb_alloc(&g_in, in_elems * (c.is64 ? 8 : 4), 0);
    bad = (int *)xmalloc(sizeof(int) * (nalloc + 1));
    for (n = 0; n < nalloc; ++n) {
        bad[n] = 0;
    }
    if (!prefix_known && in_elems > 0 && layout >= 0 && layout <= 1) {
        fill_inputs(&c, &s, &g_in, layout, bad);
    }
    gb_alloc(&g_opt, c.opt_bytes, 0);
    memcpy(g_opt.data, &c.opt,
           c.opt_bytes < sizeof c.opt ? c.opt_bytes : sizeof c.opt);
    g_opt.is_null = c.options_null;
    dump_case(&c, &g_in);
    gb_snapshot(&g_il);
    gb_snapshot(&g_ll);
    gb_snapshot(&g_lab);
    gb_snapshot(&g_in);
    gb_snapshot(&g_opt);

    /* ------------------------------------------------------------------ */
    if (c.entry == E_WS_LOSS || c.entry == E_WS_ALIGN || c.entry == E_WS_BEAM) {
        const ctcc_options *po = (const ctcc_options *)gb_ptr(&g_opt);
        const int32_t *il = (const int32_t *)gb_ptr(&g_il);
        const int32_t *ll = (const int32_t *)gb_ptr(&g_ll);
        gbuf g_sz;
        size_t *psz;
        gb_alloc(&g_sz, sizeof(size_t), OUT_FILL);
        if (c.null_which == 0) {
            il = NULL;
        } else if (c.null_which == 1 && c.entry != E_WS_BEAM) {
            ll = NULL;
        } else if (c.null_which == 2) {
            g_sz.is_null = 1;
        }
        psz = (size_t *)gb_ptr(&g_sz);
        gb_arm(&g_sz);
        gb_arm(&g_il);
        gb_arm(&g_ll);
        gb_arm(&g_opt);
        if (c.entry == E_WS_LOSS) {
            st = ctcc_workspace_size(ll, il, c.T, c.N, c.C, (ctcc_dtype)c.dtype,
                                     c.with_gradient_q, po, psz);
        } else if (c.entry == E_WS_ALIGN) {
            st = ctcc_align_workspace_size(ll, il, c.T, c.N, c.C, po, psz);
        } else {
            st = ctcc_beam_workspace_size(il, c.T, c.N, c.C, c.beam_width,
                                          c.top_paths, po, psz);
        }
        check_status_known(st);
        if (il == NULL || ll == NULL || psz == NULL) {
            expect_status(st, CTCC_STATUS_NULL_POINTER, "workspace query");
        } else if (prefix_known) {
            expect_status(st, pred, "workspace query");
        } else if (c.entry == E_WS_BEAM &&
                   (c.beam_width < 1 || c.top_paths < 1 ||
                    c.top_paths > c.beam_width)) {
            expect_status(st, CTCC_STATUS_INVALID_BEAM, "beam query");
        } else if (st != CTCC_STATUS_SUCCESS &&
                   st != CTCC_STATUS_SIZE_OVERFLOW) {
            FAIL("workspace query: status %d after the checks passed", (int)st);
        }
        if (st != CTCC_STATUS_SUCCESS) {
            gb_check_untouched(&g_sz, "size_bytes");
        } else {
            size_t v;
            memcpy(&v, g_sz.data, sizeof v);
            if (v == 0) {
                FAIL("workspace query: 0 bytes");
            }
            if (c.entry == E_WS_LOSS && !c.with_gradient_q) {
                size_t v1 = 0;
                const ctcc_status st1 =
                    ctcc_workspace_size(ll, il, c.T, c.N, c.C,
                                        (ctcc_dtype)c.dtype, 1, po, &v1);
                if (st1 == CTCC_STATUS_SUCCESS && v1 < v) {
                    FAIL("workspace: with gradient %zu < loss only %zu", v1, v);
                }
            }
        }
        gb_check(&g_sz, "size_bytes");
        gb_free(&g_sz);
        goto done;
    }

    /* ------------------------------------------------------------------ */
    /* Compute calls: query the workspace with the same arguments first. */
    {
        const ctcc_options *po = (const ctcc_options *)gb_ptr(&g_opt);
        const int32_t *il = (const int32_t *)g_il.data;
        const int32_t *ll = (const int32_t *)g_ll.data;
        const int backward = c.entry == E_LOSS
                                 ? c.with_grad
                                 : (c.with_grad || c.with_post || c.with_fw);
        size_t q = 0;
        if (c.entry == E_LOSS || c.entry == E_POST) {
            qst = ctcc_workspace_size(ll, il, c.T, c.N, c.C,
                                      c.is64 ? CTCC_FLOAT64 : CTCC_FLOAT32,
                                      backward, po, &q);
        } else if (c.entry == E_ALIGN) {
            qst = ctcc_align_workspace_size(ll, il, c.T, c.N, c.C, po, &q);
        } else if (c.entry == E_BEAM) {
            qst = ctcc_beam_workspace_size(il, c.T, c.N, c.C, c.beam_width,
                                           c.top_paths, po, &q);
        }
        if (c.entry != E_GREEDY) {
            if (prefix_known && qst != pred) {
                FAIL("workspace query: status %d, predicted %d", (int)qst,
                     (int)pred);
            }
            if (qst == CTCC_STATUS_SUCCESS && q > MAX_WS) {
                goto done;
            }
            ws_bytes = qst == CTCC_STATUS_SUCCESS ? q : 64;
            if (qst == CTCC_STATUS_SUCCESS && c.ws_mode == 1) {
                /* One byte short of what the call requires: for the loss
                 * and the posteriors, the size less its stage rows. */
                ws_bytes = q - 1;
                if (c.entry == E_LOSS || c.entry == E_POST) {
                    ws_bytes -= documented_stage_bytes(&c, backward);
                }
            }
            if (qst == CTCC_STATUS_SUCCESS && c.ws_mode == 3) {
                ws_bytes = q + 100;
            }
        }
    }
    gb_alloc(&g_ws, ws_bytes + (size_t)c.ws_shift, 0xEE);
    {
        /* The workspace starts ws_shift bytes into its buffer when
         * misaligned; the bytes before it are guarded too. */
        const size_t shift = c.ws_mode == 2 ? (size_t)c.ws_shift : 0;
        unsigned char *ws = g_ws.data + shift;
        const size_t ws_pass = ws_bytes;
        const size_t T_ = (size_t)(c.T > 0 ? c.T : 0);
        const size_t N_ = nalloc;
        int32_t *lab_ptr = (int32_t *)g_lab.data;
        ctcc_options *po = (ctcc_options *)gb_ptr(&g_opt);
        const void *inp = g_in.data;
        const int32_t *il = (const int32_t *)g_il.data;
        const int32_t *ll = (const int32_t *)g_ll.data;
        void *wsp = ws;
        size_t sizes[5] = {0, 0, 0, 0, 0};
        const size_t rs = c.is64 ? 8 : 4;
        int present[5] = {0, 0, 0, 0, 0};
        ctcc_status want = pred;

        memset(g_ws.data, 0x11, shift);
        /* Output shapes (only meaningful once the prefix passes). */
        if (c.entry == E_LOSS || c.entry == E_POST) {
            out_names[0] = "costs";
            sizes[0] = N_ * rs;
            present[0] = 1;
            out_names[1] = "gradients";
            sizes[1] = in_elems * rs;
            present[1] = c.with_grad;
            if (c.entry == E_POST) {
                out_names[2] = "posteriors";
                sizes[2] = in_elems * rs;
                present[2] = c.with_post;
                out_names[3] = "frame_weights";
                sizes[3] = T_ * N_ * rs;
                present[3] = c.with_fw;
            }
            n_out = c.entry == E_POST ? 4 : 2;
        } else if (c.entry == E_ALIGN) {
            out_names[0] = "frames";
            sizes[0] = N_ * T_ * 4;
            present[0] = 1;
            out_names[1] = "spans";
            sizes[1] = c.total_labels * 8;
            present[1] = c.with_spans;
            out_names[2] = "scores";
            sizes[2] = N_ * rs;
            present[2] = 1;
            n_out = 3;
        } else if (c.entry == E_GREEDY) {
            out_names[0] = "decoded";
            sizes[0] = N_ * T_ * 4;
            present[0] = 1;
            out_names[1] = "decoded_lengths";
            sizes[1] = N_ * 4;
            present[1] = 1;
            out_names[2] = "scores";
            sizes[2] = N_ * rs;
            present[2] = c.with_scores;
            n_out = 3;
        } else { /* E_BEAM */
            size_t tp = 0;
            if (!prefix_known && c.top_paths > 0 &&
                c.top_paths <= c.beam_width) {
                tp = (size_t)c.top_paths;
            }
            if (tp * N_ * T_ * 4 > (8u << 20)) {
                goto free_ws;
            }
            out_names[0] = "paths";
            sizes[0] = N_ * tp * T_ * 4;
            present[0] = 1;
            out_names[1] = "path_lengths";
            sizes[1] = N_ * tp * 4;
            present[1] = 1;
            out_names[2] = "scores";
            sizes[2] = N_ * tp * rs;
            present[2] = 1;
            n_out = 3;
        }
        for (k = 0; k < (unsigned)n_out; ++k) {
            gb_alloc(&g_out[k], prefix_known ? 0 : sizes[k], OUT_FILL);
            g_out[k].is_null = !present[k];
        }

        /* One pointer NULL (null_which indexes the pointer arguments). */
        if (c.null_which >= 0) {
            switch (c.null_which) {
            case 0:
                inp = NULL;
                break;
            case 1:
                il = NULL;
                break;
            case 2:
                ll = NULL;
                break;
            case 3:
                lab_ptr = NULL;
                break;
            case 4:
                wsp = NULL;
                break;
            default:
                g_out[c.null_which - 5].is_null = 1;
                break;
            }
        }
        for (k = 0; k < (unsigned)n_out; ++k) {
            gb_arm(&g_out[k]);
        }
        gb_arm(&g_ws);
        gb_arm(&g_in);
        gb_arm(&g_il);
        gb_arm(&g_ll);
        gb_arm(&g_lab);
        gb_arm(&g_opt);

        /* Required pointers. */
        {
            int null_req = inp == NULL || il == NULL;
            if (c.entry == E_LOSS || c.entry == E_POST) {
                null_req =
                    null_req || ll == NULL || wsp == NULL || g_out[0].is_null;
            } else if (c.entry == E_ALIGN) {
                null_req = null_req || ll == NULL || wsp == NULL ||
                           g_out[0].is_null || g_out[2].is_null;
            } else if (c.entry == E_GREEDY) {
                null_req = null_req || g_out[0].is_null || g_out[1].is_null;
            } else {
                null_req = null_req || wsp == NULL || g_out[0].is_null ||
                           g_out[1].is_null || g_out[2].is_null;
            }
            if (null_req) {
                want = CTCC_STATUS_NULL_POINTER;
                prefix_known = 1;
            }
        }
        if (!prefix_known &&
            (c.entry == E_LOSS || c.entry == E_POST || c.entry == E_ALIGN)) {
            want = predict_labels(&c, lab_ptr == NULL);
            if (want == CTCC_STATUS_SUCCESS && c.entry == E_POST &&
                (alpha != CTCC_ALPHA_NONE || gamma != 0.0) &&
                !g_out[3].is_null && g_out[1].is_null && g_out[2].is_null) {
                want = CTCC_STATUS_NULL_POINTER;
            }
            if (want == CTCC_STATUS_SUCCESS) {
                want = qst;
            }
            if (want == CTCC_STATUS_SUCCESS && c.ws_mode == 1) {
                want = CTCC_STATUS_WORKSPACE_TOO_SMALL;
                if (c.entry == E_ALIGN) {
                    /* The aligner runs on fewer threads when the workspace
                     * is too small for the requested ones; it fails only
                     * when one thread does not fit. */
                    ctcc_options one;
                    size_t q1 = 0;
                    if (c.options_null) {
                        ctcc_options_init(&one);
                    } else {
                        memcpy(&one, &c.opt, sizeof one);
                    }
                    one.num_threads = 1;
                    if (ctcc_align_workspace_size(ll, il, c.T, c.N, c.C, &one,
                                                  &q1) == CTCC_STATUS_SUCCESS &&
                        ws_pass >= q1) {
                        want = CTCC_STATUS_SUCCESS;
                    }
                }
            }
            prefix_known = 1;
        } else if (!prefix_known && c.entry == E_BEAM) {
            if (c.beam_width < 1 || c.top_paths < 1 ||
                c.top_paths > c.beam_width || !isfinite(c.blank_penalty)) {
                want = CTCC_STATUS_INVALID_BEAM;
            } else if (c.use_prior) {
                for (k = 0; k < (unsigned)c.C && k < 16; ++k) {
                    if (!isfinite(c.prior[k])) {
                        want = CTCC_STATUS_INVALID_BEAM;
                    }
                }
            }
            if (want == CTCC_STATUS_SUCCESS) {
                want = qst;
            }
            if (want == CTCC_STATUS_SUCCESS && c.ws_mode == 1) {
                want = CTCC_STATUS_WORKSPACE_TOO_SMALL;
            }
            prefix_known = 1;
        } else if (!prefix_known && c.entry == E_GREEDY) {
            prefix_known = 1; /* want = SUCCESS */
        }

        switch (c.entry) {
        case E_LOSS:
            if (c.is64) {
                st = ctcc_loss_f64((const double *)inp,
                                   (double *)gb_ptr(&g_out[1]), lab_ptr, ll, il,
                                   c.T, c.N, c.C, (double *)gb_ptr(&g_out[0]),
                                   wsp, ws_pass, po);
            } else {
                st = ctcc_loss_f32((const float *)inp,
                                   (float *)gb_ptr(&g_out[1]), lab_ptr, ll, il,
                                   c.T, c.N, c.C, (float *)gb_ptr(&g_out[0]),
                                   wsp, ws_pass, po);
            }
            break;
        case E_POST:
            if (c.is64) {
                st = ctcc_loss_posteriors_f64((const double *)inp,
                                              (double *)gb_ptr(&g_out[1]),
                                              (double *)gb_ptr(&g_out[2]),
                                              (double *)gb_ptr(&g_out[3]),
                                              lab_ptr, ll, il, c.T, c.N, c.C,
                                              (double *)gb_ptr(&g_out[0]), wsp,
                                              ws_pass, po);
            } else {
                st = ctcc_loss_posteriors_f32((const float *)inp,
                                              (float *)gb_ptr(&g_out[1]),
                                              (float *)gb_ptr(&g_out[2]),
                                              (float *)gb_ptr(&g_out[3]),
                                              lab_ptr, ll, il, c.T, c.N, c.C,
                                              (float *)gb_ptr(&g_out[0]), wsp,
                                              ws_pass, po);
            }
            break;
        case E_ALIGN:
            if (c.is64) {
                st = ctcc_align_f64((const double *)inp, lab_ptr, ll, il, c.T,
                                    c.N, c.C, (int32_t *)gb_ptr(&g_out[0]),
                                    (int32_t *)gb_ptr(&g_out[1]),
                                    (double *)gb_ptr(&g_out[2]), wsp, ws_pass,
                                    po);
            } else {
                st = ctcc_align_f32((const float *)inp, lab_ptr, ll, il, c.T,
                                    c.N, c.C, (int32_t *)gb_ptr(&g_out[0]),
                                    (int32_t *)gb_ptr(&g_out[1]),
                                    (float *)gb_ptr(&g_out[2]), wsp, ws_pass,
                                    po);
            }
            break;
        case E_GREEDY:
            if (c.is64) {
                st = ctcc_greedy_decode_f64((const double *)inp, il, c.T, c.N,
                                            c.C, (int32_t *)gb_ptr(&g_out[0]),
                                            (int32_t *)gb_ptr(&g_out[1]),
                                            (double *)gb_ptr(&g_out[2]), po);
            } else {
                st = ctcc_greedy_decode_f32((const float *)inp, il, c.T, c.N,
                                            c.C, (int32_t *)gb_ptr(&g_out[0]),
                                            (int32_t *)gb_ptr(&g_out[1]),
                                            (float *)gb_ptr(&g_out[2]), po);
            }
            break;
        default: /* E_BEAM */
        {
            const double *prior = c.use_prior ? c.prior : NULL;
            if (c.is64) {
                st = ctcc_beam_search_decode_f64((const double *)inp, il, c.T,
                                                 c.N, c.C, c.beam_width,
                                                 c.top_paths, c.blank_penalty,
                                                 prior,
                                                 (int32_t *)gb_ptr(&g_out[0]),
                                                 (int32_t *)gb_ptr(&g_out[1]),
                                                 (double *)gb_ptr(&g_out[2]),
                                                 wsp, ws_pass, po);
            } else {
                st = ctcc_beam_search_decode_f32((const float *)inp, il, c.T,
                                                 c.N, c.C, c.beam_width,
                                                 c.top_paths, c.blank_penalty,
                                                 prior,
                                                 (int32_t *)gb_ptr(&g_out[0]),
                                                 (int32_t *)gb_ptr(&g_out[1]),
                                                 (float *)gb_ptr(&g_out[2]),
                                                 wsp, ws_pass, po);
            }
            break;
        }
        }

        check_status_known(st);
        for (k = 0; k < (unsigned)n_out; ++k) {
            gb_check(&g_out[k], out_names[k]);
        }
        gb_check(&g_ws, "workspace");
        if (c.ws_mode == 2) {
            for (k = 0; k < (unsigned)shift; ++k) {
                if (g_ws.data[k] != 0x11) {
                    FAIL("byte %u before a misaligned workspace written", k);
                }
            }
        }
        if (g_ws.bytes > shift + ws_pass) {
            size_t i;
            for (i = shift + ws_pass; i < g_ws.bytes; ++i) {
                if (g_ws.data[i] != 0xEE) {
                    FAIL("workspace byte %zu past workspace_bytes %zu "
                         "written",
                         i - shift, ws_pass);
                }
            }
        }
        expect_status(st, want, "compute call");
        if (st != CTCC_STATUS_SUCCESS) {
            for (k = 0; k < (unsigned)n_out; ++k) {
                gb_check_untouched(&g_out[k], out_names[k]);
            }
        } else if (c.entry == E_LOSS || c.entry == E_POST) {
            check_loss_outputs(
                &c, &g_in, &g_out[0], g_out[1].is_null ? NULL : &g_out[1],
                c.entry == E_POST && !g_out[2].is_null ? &g_out[2] : NULL,
                c.entry == E_POST && !g_out[3].is_null ? &g_out[3] : NULL, bad);
            /* Bitwise identical with 1 and 2 threads. */
            if (c.thread_check && c.N >= 2 && po != NULL) {
                gbuf g2[4];
                const int saved = po->num_threads;
                for (k = 0; k < (unsigned)n_out; ++k) {
                    gb_alloc(&g2[k], g_out[k].bytes, OUT_FILL);
                    g2[k].is_null = g_out[k].is_null;
                }
                po->num_threads = saved == 1 ? 2 : 1;
                if (c.entry == E_LOSS) {
                    st = c.is64 ? ctcc_loss_f64((const double *)inp,
                                                (double *)gb_ptr(&g2[1]),
                                                lab_ptr, ll, il, c.T, c.N, c.C,
                                                (double *)gb_ptr(&g2[0]), wsp,
                                                ws_pass, po)
                                : ctcc_loss_f32((const float *)inp,
                                                (float *)gb_ptr(&g2[1]),
                                                lab_ptr, ll, il, c.T, c.N, c.C,
                                                (float *)gb_ptr(&g2[0]), wsp,
                                                ws_pass, po);
                } else {
                    st =
                        c.is64
                            ? ctcc_loss_posteriors_f64((const double *)inp,
                                                       (double *)gb_ptr(&g2[1]),
                                                       (double *)gb_ptr(&g2[2]),
                                                       (double *)gb_ptr(&g2[3]),
                                                       lab_ptr, ll, il, c.T,
                                                       c.N, c.C,
                                                       (double *)gb_ptr(&g2[0]),
                                                       wsp, ws_pass, po)
                            : ctcc_loss_posteriors_f32((const float *)inp,
                                                       (float *)gb_ptr(&g2[1]),
                                                       (float *)gb_ptr(&g2[2]),
                                                       (float *)gb_ptr(&g2[3]),
                                                       lab_ptr, ll, il, c.T,
                                                       c.N, c.C,
                                                       (float *)gb_ptr(&g2[0]),
                                                       wsp, ws_pass, po);
                }
                po->num_threads = saved;
                if (st != CTCC_STATUS_SUCCESS) {
                    FAIL("second call with another thread count: status %d",
                         (int)st);
                }
                for (k = 0; k < (unsigned)n_out; ++k) {
                    if (!g_out[k].is_null && memcmp(g2[k].data, g_out[k].data,
                                                    g_out[k].bytes) != 0) {
                        FAIL("%s differ between 1 and 2 threads", out_names[k]);
                    }
                    gb_check(&g2[k], out_names[k]);
                    gb_free(&g2[k]);
                }
            }
        } else if (c.entry == E_ALIGN) {
            check_align_outputs(&c, &g_out[0],
                                g_out[1].is_null ? NULL : &g_out[1], &g_out[2],
                                bad);
        } else if (c.entry == E_GREEDY) {
            for (n = 0; n < N_; ++n) {
                const int32_t len = rdi(&g_out[1], n);
                check_decoded_row(&c, &g_out[0], n, len, (size_t)c.in_len[n],
                                  "greedy");
                if ((bad[n] & BAD_NAN) && len != 0) {
                    FAIL("greedy: sample %zu with NaN input has length %d", n,
                         (int)len);
                }
                if (!g_out[2].is_null) {
                    const double sc = rd(&g_out[2], n, c.is64);
                    if ((bad[n] & BAD_NAN) != (isnan(sc) != 0) &&
                        bad[n] != BAD_HUGE) {
                        FAIL("greedy score[%zu] = %g (NaN input %d)", n, sc,
                             bad[n] & BAD_NAN);
                    }
                    if (kind == CTCC_INPUT_LOGITS && sc > 1e-3 &&
                        !(bad[n] & BAD_HUGE)) {
                        FAIL("greedy score[%zu] = %g > 0", n, sc);
                    }
                }
            }
        } else {
            const size_t tp = (size_t)c.top_paths;
            /* A huge negative penalty or prior can push a score to +inf. */
            int extreme_params = c.blank_penalty < -1e29;
            for (k = 0; c.use_prior && k < (unsigned)c.C; ++k) {
                extreme_params |= c.prior[k] < -1e29;
            }
            for (n = 0; n < N_; ++n) {
                double prev = INFINITY;
                size_t j;
                for (j = 0; j < tp; ++j) {
                    const size_t row = n * tp + j;
                    const int32_t len = rdi(&g_out[1], row);
                    const double sc = rd(&g_out[2], row, c.is64);
                    check_decoded_row(&c, &g_out[0], row, len,
                                      (size_t)c.in_len[n], "beam");
                    if ((bad[n] & BAD_NAN)) {
                        if (len != 0 || !isnan(sc)) {
                            FAIL("beam: sample %zu with NaN input: length "
                                 "%d score %g",
                                 n, (int)len, sc);
                        }
                        continue;
                    }
                    if ((isnan(sc) && bad[n] != BAD_HUGE) ||
                        (sc == INFINITY && !(bad[n] & BAD_HUGE) &&
                         !extreme_params)) {
                        FAIL("beam score (%zu,%zu) = %g", n, j, sc);
                    }
                    if (sc > prev) {
                        FAIL("beam scores of sample %zu not sorted: %g > %g", n,
                             sc, prev);
                    }
                    prev = sc;
                }
            }
        }
        for (k = 0; k < (unsigned)n_out; ++k) {
            gb_free(&g_out[k]);
        }
    free_ws:;
    }
    gb_free(&g_ws);

done:
    gb_check(&g_il, "input_lengths");
    gb_check(&g_ll, "label_lengths");
    gb_check(&g_lab, "flat_labels");
    gb_check(&g_in, "inputs");
    gb_check(&g_opt, "options");
    gb_free(&g_il);
    gb_free(&g_ll);
    gb_free(&g_lab);
    gb_free(&g_in);
    gb_free(&g_opt);
    free(bad);
    free(c.labels);
    free(c.in_len);
    free(c.lab_len);
    return 0;
}
