/*
 * internal.h - declarations shared by ctcc's source files. Not installed.
 */
#ifndef CTCC_INTERNAL_H
#define CTCC_INTERNAL_H

#include "ctcc.h"

#include <stddef.h>
#include <stdint.h>

/* Every per-sample region of the workspace starts on a cache line, so that
 * threads working on neighbouring samples never share one. */
#define CTCC_ALIGN 64

/* Size of the type the dynamic programme runs in, for both precisions.
 * float32 inputs are accumulated in double too: in float32 log space each
 * step rounds to the ulp of |log alpha| (about 1e-6 at 10), and over a few
 * hundred frames the posteriors drift by 1e-4. In double they stay within
 * float32 rounding of the float64 result. */
#define CTCC_DP_SIZE sizeof(double)

/* Entries of -inf padding at each end of every row of the dynamic
 * programme, so that neighbours s - 2 .. s + 2 can be read without
 * branches. */
#define CTCC_ROW_PAD 2

/* Samples shorter than this are never tilted by the scaled kernel
 * (linear_impl.h): their rows span too few frames to leave the double
 * range. */
#define CTCC_TILT_MIN_FRAMES 64
/* With the gradient, samples of at least this many frames are tilted at
 * the first attempt, shorter ones only at a second (random outputs stay
 * within the double range untilted up to about 2000 frames, and the
 * untilted kernel is a little faster). */
#define CTCC_TILT_FIRST_FRAMES 1000

/* Runtime dispatch: GCC on x86-64 Linux builds the kernel for AVX-512,
 * AVX2 + FMA and baseline x86-64 and picks one at load time (ifunc). The
 * default build needs no -march flag. Define CTCC_NO_DISPATCH to build the
 * baseline only. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) &&         \
    defined(__linux__) && !defined(CTCC_NO_DISPATCH)
#define CTCC_DISPATCH                                                          \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3",           \
                                 "default")))
#else
#define CTCC_DISPATCH
#endif

/* A helper built for AVX-512 (F) alone, called only where the processor
 * has it (ctcc_have_avx512, checked at run time): GCC and Clang on x86-64
 * Linux, as for the dispatch. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) &&        \
    defined(__linux__) && !defined(CTCC_NO_DISPATCH)
#include <immintrin.h>
#define CTCC_HAVE_AVX512_PATH 1
#define CTCC_AVX512 __attribute__((target("avx512f")))
static inline int ctcc_have_avx512(void) {
    return __builtin_cpu_supports("avx512f");
}
#else
#define CTCC_HAVE_AVX512_PATH 0
static inline int ctcc_have_avx512(void) { return 0; }
#endif

/* For helpers of CTCC_DISPATCH functions: inlined into each clone, so
 * that they are vectorised for its instruction set (a helper compiled on
 * its own gets the baseline only). */
#if defined(__GNUC__)
#define CTCC_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define CTCC_ALWAYS_INLINE static inline
#endif

/* For a helper whose rounding must not depend on its caller: compiled
 * once (for the baseline), never inlined into a clone that might contract
 * or vectorise it differently. */
#if defined(__GNUC__)
#define CTCC_NOINLINE static __attribute__((noinline))
#else
#define CTCC_NOINLINE static
#endif

/* Flush to zero for the calling thread, around a computation whose error
 * bound allows for it: results that would be subnormal become 0, which
 * x86 processors otherwise compute at a slow, microcoded pace. Only the
 * result flag (FTZ), not "denormals are zero": inputs are read as they
 * are. ctcc_ftz_begin returns the thread's previous control word, which
 * ctcc_ftz_end restores; nothing outlives the computation. Elsewhere
 * both do nothing (and results may then be subnormal, at worst slower). */
#if defined(__SSE2__) || defined(_M_X64)
#include <xmmintrin.h>
#define CTCC_HAVE_FTZ 1
static inline unsigned ctcc_ftz_begin(void) {
    const unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8000u); /* the FTZ bit */
    return saved;
}
static inline void ctcc_ftz_end(unsigned saved) { _mm_setcsr(saved); }
#else
#define CTCC_HAVE_FTZ 0
static inline unsigned ctcc_ftz_begin(void) { return 0; }
static inline void ctcc_ftz_end(unsigned saved) { (void)saved; }
#endif

/* The options after defaults and the struct_size check, with the blank
 * resolved to a class index in [0, alphabet_size). */
typedef struct ctcc_resolved_options {
    int blank;
    int num_threads;
    ctcc_input_kind input_kind;
    ctcc_layout layout;
    int zero_infinity;
    int use_alpha; /* options.alpha is in [0, 1] */
    double alpha;
    double gamma;
    ctcc_kernel kernel;
    unsigned char *kernel_used; /* NULL or [batch_size] */
    ctcc_align_end_tie align_end_tie;
} ctcc_resolved_options;

/* Checks the options (NULL means defaults) against the alphabet size and
 * fills *out. */
ctcc_status ctcc_resolve_options(const ctcc_options *options,
                                 int32_t alphabet_size,
                                 ctcc_resolved_options *out);

/* Checks every scalar, pointer-free argument and the lengths arrays shared
 * by the workspace query and the loss. */
ctcc_status ctcc_check_shapes(const int32_t *label_lengths,
                              const int32_t *input_lengths, int32_t max_time,
                              int32_t batch_size, int32_t alphabet_size);

/* ctcc_check_shapes, then ctcc_resolve_options: the checks the workspace
 * query and the loss share, in the order the header documents. */
ctcc_status ctcc_check_arguments(const int32_t *label_lengths,
                                 const int32_t *input_lengths, int32_t max_time,
                                 int32_t batch_size, int32_t alphabet_size,
                                 const ctcc_options *options,
                                 ctcc_resolved_options *resolved);

/* Checks the label values of every sample (range and blank). */
ctcc_status ctcc_check_labels(const int32_t *flat_labels,
                              const int32_t *label_lengths, int32_t batch_size,
                              int32_t alphabet_size, int blank);

/* The checks of a call that takes labels (the loss, the alignment), in the
 * order the header documents, after the caller's NULL checks of its own
 * pointers: ctcc_check_arguments, the size of the inputs array, a NULL
 * flat_labels with labels to read, then the label values. */
ctcc_status ctcc_check_labelled_batch(const int32_t *flat_labels,
                                      const int32_t *label_lengths,
                                      const int32_t *input_lengths,
                                      int32_t max_time, int32_t batch_size,
                                      int32_t alphabet_size,
                                      const ctcc_options *options,
                                      ctcc_resolved_options *resolved);

/* First state of frame t's band (of T frames, S states): states below it
 * cannot reach one of the two final states S - 1, S - 2 in the T - 1 - t
 * frames left. */
static inline size_t ctcc_band_lo(size_t S, size_t T, size_t t) {
    const size_t reach = 2 * (T - t);
    return reach >= S ? 0 : S - reach;
}

/* One past the last state of frame t's band: from state 0 or 1 at frame 0,
 * at most two states are advanced per frame. */
static inline size_t ctcc_band_hi(size_t S, size_t t) {
    return 2 * t + 2 < S ? 2 * t + 2 : S;
}

/* Byte offsets, from the start of a sample's workspace region, of the
 * arrays the kernel uses for that sample (S = 2 * label_length + 1 states,
 * T = input_length frames):
 *   ext_labels  int32 [S]   class of each state of the extended sequence
 *   skip        real  [S]   0 where state s may be entered from s - 2,
 *                           -inf where it may not (blanks, repeats)
 *   emit        real  [S]   log-probabilities of the states at one frame
 *   posterior   real  [S]   state posteriors of one frame
 *   beta        real  [2, S] two rows of the scaled backward variable
 *   alpha       real  [T, S] scaled forward variable (loss only: [2, S])
 *   log_norm    real  [T]   log sum exp(x - max) of each frame (gradient)
 *   frame_max   real  [T]   the maximum of each frame (gradient); the
 *                           log-softmax is (x - frame_max) - log_norm
 *   weight      double [T]  frame weights of the alpha / gamma pass
 *   state_sums  double [S]  log of each state's posterior summed over the
 *                           frames (the alpha modification's class sums)
 * and for the scaled linear kernel (linear_impl.h), which also uses skip
 * (as factors, 1 where a skip is allowed), emit, posterior, beta and
 * alpha as its first task's emissions, scratch, rows and table (without
 * the gradient, alpha holds its second task's rows):
 *   emit_b      real  [S]   the second task's emissions, padded
 *   scratch_b   real  [S]   the second task's scratch
 *   rows_b      real  [2, S] the second task's rows, padded (gradient)
 *   mid_beta    real  [S]   the beta row of the meeting frame (gradient)
 *   lin_state   two cache-line pairs, what each task leaves for the others
 *   err_rows    real  [5, S] without the gradient, for T >=
 *                           CTCC_TILT_MIN_FRAMES: the error rows of the
 *                           tilted loss-only attempt, two padded rows for
 *                           each task, and a padded row for the backward
 *                           task's emissions times its error row
 *   class_probs real  [T, C + 1] (gradient, and only when C <= S) each
 *                           frame's exp(x - max) per class and their sum,
 *                           from phase 1 for phase 2, which would
 *                           otherwise compute the same exps again
 *   windows     uint32 [T, 2] (gradient) each stored row's window, the
 *                           states outside which it is 0
 * total is the region's size, a multiple of CTCC_ALIGN. */
typedef struct ctcc_sample_layout {
    size_t ext_labels, skip, emit, posterior, beta, alpha, log_norm, frame_max,
        weight, state_sums, emit_b, scratch_b, rows_b, mid_beta, lin_state,
        err_rows, class_probs, windows, total;
} ctcc_sample_layout;

/* Fills *layout for one sample of a batch over alphabet_size classes;
 * returns 0 on size_t overflow, 1 otherwise. real_size is sizeof(float)
 * or sizeof(double). */
int ctcc_sample_layout_compute(int32_t input_length, int32_t label_length,
                               int32_t alphabet_size, size_t real_size,
                               int with_gradient, ctcc_sample_layout *layout);

/* Bytes of the workspace head, rounded up to CTCC_ALIGN: `offsets` size_t
 * arrays [batch_size] (the loss: each sample's workspace offset, label
 * offset, and where its table and class probabilities are; alignment:
 * the first two), two double arrays [class_sums] (the alpha
 * modification's per-class sums; class_sums is 0 without it) and one
 * byte per sample (its state after the kernel). Clears *ok on overflow. */
size_t ctcc_head_bytes(int32_t batch_size, size_t offsets, int32_t class_sums,
                       int *ok);

/* The rows a thread stages a frame's softmax in before writing it to the
 * gradient past the cache (log_normaliser): two per thread the call may
 * use (one frame's exps are taken while the frame before goes out: see
 * norm_stage), after the samples' regions, for float32 gradients of at least
 * CTCC_STAGE_MIN_CLASSES classes (below that, a frame's gradient row is a
 * few kilobytes at most, which the cache absorbs). A workspace with room
 * for fewer leaves the other threads writing through the cache, with the
 * same results: only ctcc_workspace_size counts the stages, the loss
 * requires the rest (ctcc_total_bytes). */
#define CTCC_STAGE_MIN_CLASSES 1024

/* Bytes of one thread's stage: two rows of C floats, each a multiple of
 * CTCC_ALIGN. */
size_t ctcc_stage_bytes(int32_t alphabet_size, int *ok);

/* How many stages ctcc_workspace_size counts: the most threads a call
 * with these arguments runs (two per sample for batches smaller than the
 * thread count), where a stage is used at all; else 0. */
int ctcc_stage_count(int requested_threads, int32_t batch_size,
                     int32_t alphabet_size, int float32, int with_gradient,
                     int log_space_only);

/* The calling thread's number in its OpenMP team (0 without OpenMP). */
int ctcc_thread_num(void);

/* The number of size_t arrays in the loss's workspace head. */
#define CTCC_LOSS_HEAD_OFFSETS 4

/* Total workspace bytes, or CTCC_STATUS_SIZE_OVERFLOW. The layout is: the
 * head, then each sample's region, plus CTCC_ALIGN bytes of slack to align
 * an arbitrary pointer. */
ctcc_status ctcc_total_bytes(const int32_t *label_lengths,
                             const int32_t *input_lengths, int32_t batch_size,
                             int32_t alphabet_size, int32_t class_sums,
                             size_t real_size, int with_gradient,
                             size_t *bytes);

/* Checks that max_time * batch_size * alphabet_size fits in size_t, so that
 * every element index of the inputs array can be formed. */
ctcc_status ctcc_check_array_size(int32_t max_time, int32_t batch_size,
                                  int32_t alphabet_size);

/* Rounds p up to the next multiple of CTCC_ALIGN. */
unsigned char *ctcc_align_ptr(void *p);

/* Number of threads to run with for this call: 1 in a process forked
 * after libctcc was loaded (see ctcc_in_forked_child). */
int ctcc_thread_count(int requested, int32_t batch_size);

/* The sample that iteration i of a dynamic schedule over n samples runs,
 * with `parts` threads taking them. Samples next to each other share cache
 * lines of a time-major gradient (a frame of C = 29 float32 classes is 116
 * bytes); taken in index order, the threads would run neighbours at the
 * same time and pass those lines back and forth on every frame (two
 * threads then did 1.72 times the work of one on a batch of 32 such
 * samples, against 1.87 in this order). The samples are split into
 * `parts` runs of consecutive samples (the first n mod parts one longer)
 * and iterations take them across the runs: i = 0, 1, ... run the first
 * sample of run 0, 1, ..., then the second of each, and so on. A bijection
 * of [0, n); any order gives the same results. */
static inline size_t ctcc_spread_item(size_t i, size_t n, size_t parts) {
    const size_t q = parts > 0 ? n / parts : 0, rem = q > 0 ? n % parts : 0;
    size_t run, at;
    if (q == 0) {
        return i; /* fewer samples than runs */
    }
    if (i < parts * q) {
        run = i % parts;
        at = i / parts;
    } else { /* the last sample of one of the longer runs */
        run = i - parts * q;
        at = q;
    }
    return run * q + (run < rem ? run : rem) + at;
}

/* Nonzero in a process created by fork() after libctcc was loaded (or
 * after its first call), where OpenMP's thread pool cannot be used. */
int ctcc_in_forked_child(void);

#endif /* CTCC_INTERNAL_H */
