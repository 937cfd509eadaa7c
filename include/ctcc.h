/*
 * ctcc.h - the public C API of ctcc, an exact CTC (Connectionist Temporal
 * Classification) loss for the CPU.
 *
 * This header is the whole contract: every public function, type and
 * constant is declared and documented here. It compiles as C99 and as C++.
 *
 * Quick start
 * -----------
 *     ctcc_options opts;
 *     ctcc_options_init(&opts);
 *     size_t bytes;
 *     ctcc_status st = ctcc_workspace_size(label_lengths, input_lengths,
 *                                          max_time, batch, alphabet,
 *                                          CTCC_FLOAT32, 1, &opts, &bytes);
 *     void *ws = malloc(bytes);
 *     st = ctcc_loss_f32(logits, grads, labels, label_lengths, input_lengths,
 *                        max_time, batch, alphabet, costs, ws, bytes, &opts);
 *     if (st != CTCC_STATUS_SUCCESS) puts(ctcc_status_string(st));
 *
 * Memory ownership
 * ----------------
 * ctcc never allocates memory and never keeps a pointer after a call
 * returns. Every array is owned by the caller. The compute functions read
 * the inputs, write only `costs`, `gradients` (when not NULL) and the
 * workspace, and write nothing at all when they return an error status:
 * arguments are validated before any output is touched.
 *
 * Array layouts (row-major, C order; T = max_time, N = batch, C = alphabet)
 * -------------
 *   inputs, gradients   CTCC_LAYOUT_TIME_MAJOR:  [T, N, C], element
 *                         (t, n, c) at index (t * N + n) * C + c
 *                       CTCC_LAYOUT_BATCH_MAJOR: [N, T, C], element
 *                         (n, t, c) at index (n * T + t) * C + c
 *                       Both layouts are read in place; no transposed copy
 *                       is made.
 *   flat_labels         int32, the N label sequences concatenated, sample n
 *                       taking label_lengths[n] entries (warp-ctc's layout).
 *   label_lengths       int32 [N], each >= 0.
 *   input_lengths       int32 [N], each in [0, T]. Frames t >= input_lengths[n]
 *                       of sample n are never read (they may hold NaN) and
 *                       receive gradient 0.
 *   costs               [N], same precision as the inputs.
 *
 * Mathematics
 * -----------
 * For each sample the cost is the negative log-likelihood
 *     cost = -log p(labels | inputs),
 * summed over all CTC alignments of the labels, computed with the log-space
 * forward (alpha) / backward (beta) recursions. Consecutive equal labels
 * need a blank between them; no skip transition joins them.
 *
 * The gradient depends on the input kind (ctcc_options.input_kind):
 *   CTCC_INPUT_LOGITS     inputs are unnormalised logits u; a softmax over
 *                         the alphabet is applied inside, and
 *                             d cost / d u[t, c] = softmax(u)[t, c] - gamma[t, c]
 *                         (the value TensorFlow and warp-ctc return).
 *   CTCC_INPUT_LOG_PROBS  inputs are log-probabilities log p (each frame
 *                         should already be log-normalised), and
 *                             d cost / d log p[t, c] = -gamma[t, c]
 *                         (the exact partial derivative).
 * where gamma[t, c] = p(alignment emits class c at frame t | labels, inputs)
 * is the posterior occupation of class c at frame t. Each row of gamma sums
 * to 1 over the classes on frames t < input_length.
 *
 * Infeasible samples: a sample whose input is shorter than its labels need
 * (label length plus the number of adjacent repeated labels), or whose
 * probability is exactly zero (for instance because of -INFINITY logits or
 * log-probabilities), gets cost +INFINITY and a zero gradient (cost 0 with
 * zero_infinity). It never produces NaN and never affects the other samples
 * of the batch. A sample with zero labels and zero frames has cost 0.
 *
 * Non-finite inputs: -INFINITY marks an impossible class and is handled
 * exactly. A NaN or +INFINITY inside a sample's valid frames makes that
 * sample's cost and gradient NaN; the other samples are unaffected.
 *
 * Threads: samples are distributed over OpenMP threads (when built with
 * OpenMP). Each sample is computed in a fixed order, so the results are
 * bitwise identical for every thread count. With fewer samples than
 * threads, the two halves of each sample run on two threads (with either
 * kernel, but for the alpha modification under CTCC_KERNEL_LOG_SPACE).
 * ctcc never changes process-wide OpenMP state.
 *
 * Floating-point environment: on x86 the scaled kernel's gradient tasks
 * set the flush-to-zero bit of the thread that runs them (subnormal
 * results become 0; its error bound allows for that) and restore the
 * thread's previous setting when each task ends. Nothing else of the
 * environment is read or changed, and nothing outlives a call.
 *
 * Fork safety: every entry point (loss, posteriors, alignment, greedy and
 * beam search decoding, and the warp-ctc functions of warpctc/ctc.h) may
 * be called in a process created by fork(), also after the parent ran
 * multi-threaded calls (GNU libgomp's threads do not survive fork(), and
 * a child entering a multi-threaded OpenMP region would wait for them
 * forever). libctcc registers a pthread_atfork child handler when it is
 * loaded; in every process forked after that, calls run on the calling
 * thread only (num_threads is ignored there, ctcc_default_num_threads()
 * returns 1), with bitwise the same results. The parent keeps its
 * threads, and no process-wide OpenMP setting is changed. A process that
 * exec()s starts afresh.
 */
#ifndef CTCC_H
#define CTCC_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* int32_t */

/* ------------------------------------------------------------------------ */
/* Version                                                                  */
/* ------------------------------------------------------------------------ */

#define CTCC_VERSION_MAJOR 0
#define CTCC_VERSION_MINOR 3
#define CTCC_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH: compare with >= at compile time. */
#define CTCC_VERSION_NUMBER                                                    \
    (CTCC_VERSION_MAJOR * 10000 + CTCC_VERSION_MINOR * 100 + CTCC_VERSION_PATCH)
#define CTCC_VERSION_STRING "0.3.0"

/* ------------------------------------------------------------------------ */
/* Export macro                                                             */
/* ------------------------------------------------------------------------ */

/* CTCC_API marks the public functions. Define CTCC_STATIC when building or
 * using ctcc as a static library. CTCC_BUILDING is defined by ctcc's own
 * build only. */
#if defined(CTCC_STATIC)
#define CTCC_API
#elif defined(_WIN32) || defined(__CYGWIN__)
#if defined(CTCC_BUILDING)
#define CTCC_API __declspec(dllexport)
#else
#define CTCC_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define CTCC_API __attribute__((visibility("default")))
#else
#define CTCC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/* Every fallible function returns one of these. The values are pinned: they
 * never change between releases, and new codes are only ever appended. */
typedef enum ctcc_status {
    CTCC_STATUS_SUCCESS = 0,
    /* A required pointer argument is NULL. */
    CTCC_STATUS_NULL_POINTER = 1,
    /* batch_size < 1. */
    CTCC_STATUS_INVALID_BATCH_SIZE = 2,
    /* alphabet_size < 1. */
    CTCC_STATUS_INVALID_ALPHABET_SIZE = 3,
    /* options->blank is not in [-alphabet_size, alphabet_size). */
    CTCC_STATUS_INVALID_BLANK = 4,
    /* max_time < 0. */
    CTCC_STATUS_INVALID_MAX_TIME = 5,
    /* Some input_lengths[n] is negative or greater than max_time. */
    CTCC_STATUS_INVALID_INPUT_LENGTH = 6,
    /* Some label_lengths[n] is negative. */
    CTCC_STATUS_INVALID_LABEL_LENGTH = 7,
    /* Some label is outside [0, alphabet_size); the alignment functions
     * also allow CTCC_LABEL_STAR (-2), the wildcard. */
    CTCC_STATUS_LABEL_OUT_OF_RANGE = 8,
    /* Some label equals the blank index. */
    CTCC_STATUS_LABEL_IS_BLANK = 9,
    /* workspace_bytes is smaller than ctcc_workspace_size() reports (less
     * its stage rows, which the loss can do without). */
    CTCC_STATUS_WORKSPACE_TOO_SMALL = 10,
    /* An array size or the workspace size does not fit in size_t. */
    CTCC_STATUS_SIZE_OVERFLOW = 11,
    /* An options field holds an unknown value (layout, input kind, a
     * negative num_threads, or a struct_size that is too small). */
    CTCC_STATUS_INVALID_OPTION = 12,
    /* An unknown ctcc_dtype was passed to ctcc_workspace_size(). */
    CTCC_STATUS_INVALID_DTYPE = 13,
    /* A decoder's beam_width is < 1, or top_paths is not in
     * [1, beam_width], or a beam search parameter is not finite. */
    CTCC_STATUS_INVALID_BEAM = 14
} ctcc_status;

/* Returns a static, NUL-terminated English description of `status`, e.g.
 * "label equals the blank index". Unknown values give "unknown status".
 * Never returns NULL; the string must not be freed. */
CTCC_API const char *ctcc_status_string(ctcc_status status);

/* ------------------------------------------------------------------------ */
/* Library information                                                      */
/* ------------------------------------------------------------------------ */

/* Returns the version of the linked library, e.g. "0.3.0" (static string).
 * Compare with CTCC_VERSION_STRING to detect a header/library mismatch. */
CTCC_API const char *ctcc_version_string(void);

/* Returns CTCC_VERSION_NUMBER of the linked library. */
CTCC_API int ctcc_version_number(void);

/* Returns 1 if the library was compiled with OpenMP (samples then run in
 * parallel), 0 otherwise (everything runs on the calling thread). */
CTCC_API int ctcc_openmp_enabled(void);

/* Returns the number of threads a call with num_threads = 0 uses: OpenMP's
 * current maximum (omp_get_max_threads()), or 1 without OpenMP and in a
 * process forked after libctcc was loaded (see "Fork safety" above). */
CTCC_API int ctcc_default_num_threads(void);

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum ctcc_layout {
    /* inputs[T][N][C]: TensorFlow's and warp-ctc's layout (the default). */
    CTCC_LAYOUT_TIME_MAJOR = 0,
    /* inputs[N][T][C]: Keras's layout. */
    CTCC_LAYOUT_BATCH_MAJOR = 1
} ctcc_layout;

typedef enum ctcc_input_kind {
    /* Unnormalised logits; a log-softmax is fused into the loss (default). */
    CTCC_INPUT_LOGITS = 0,
    /* Log-probabilities, used as they are. */
    CTCC_INPUT_LOG_PROBS = 1
} ctcc_input_kind;

typedef enum ctcc_dtype { CTCC_FLOAT32 = 1, CTCC_FLOAT64 = 2 } ctcc_dtype;

/* Options of a loss computation. Always initialise with ctcc_options_init()
 * and then change the fields you need: that keeps code source- and
 * binary-compatible when later versions append fields. */
/* Which dynamic programme computes the loss (ctcc_options.kernel).
 *
 * Kernels
 * -------
 * CTCC_KERNEL_AUTO runs the forward-backward recursions in scaled linear
 * space (probabilities in double precision, each row rescaled by its
 * largest entry, no exp or log per state), then checks each sample with a
 * bound on what underflow can have changed: an entry more than 2^1000
 * below the top of its row is charged 2^-999 of error, weighted by the
 * other direction's row (the exact sensitivity of P and of the
 * posteriors to it). A sample whose bound exceeds 2^-53 of its
 * probability and of each frame's posteriors, or whose inputs hold NaN or
 * +inf, is recomputed by the log-space kernel, with the same results to
 * the bit as CTCC_KERNEL_LOG_SPACE. Long samples need the rows tilted
 * (alpha_t(s) x^s, beta_t(s) x^(S-1-s), one power of two x per sample)
 * to stay within the double range: with the gradient, samples of 1000
 * frames or more start tilted, and a sample that fails the bound gets a
 * second attempt with the tilt undone, or applied where it had none.
 * Without a gradient (loss only) the first attempt is untilted, with a
 * looser bound (see docs/how_it_works.md), and the tilted second attempt
 * carries each entry's error along in rows of its own (five more padded
 * rows in the workspace for T >= 64). Trained models' peaked outputs and
 * random ones pass the bound; inputs whose forward and backward evidence
 * disagree beyond the double range fall back. Either way the results
 * meet the same accuracy; ctcc_options.kernel_used reports which kernel computed each
 * sample. CTCC_KERNEL_LOG_SPACE computes every sample in log space. */
typedef enum ctcc_kernel {
    CTCC_KERNEL_AUTO = 0,
    CTCC_KERNEL_LOG_SPACE = 1
} ctcc_kernel;

/* Which last state a forced alignment ends in when a path ending on the
 * final blank and one ending on the last label score exactly the same
 * (ctcc_options.align_end_tie; read by the ctcc_align_* functions only). */
typedef enum ctcc_align_end_tie {
    /* The final blank: ctcc's rule, the default. */
    CTCC_ALIGN_END_TIE_BLANK = 0,
    /* The last label, as torchaudio.functional.forced_align chooses. */
    CTCC_ALIGN_END_TIE_LABEL = 1
} ctcc_align_end_tie;

/* Values written to ctcc_options.kernel_used. */
#define CTCC_KERNEL_USED_SCALED 0
#define CTCC_KERNEL_USED_LOG_SPACE 1

typedef struct ctcc_options {
    /* sizeof(ctcc_options) as seen by the caller; set by ctcc_options_init.
     * Lets the library accept structs from programs built against older
     * headers (fields they lack take their defaults). */
    size_t struct_size;
    /* Index of the blank class. Negative values count from the end
     * (-1 is the last class, TensorFlow's classic convention).
     * Default 0. */
    int blank;
    /* Number of OpenMP threads for this call; 0 (default) means
     * ctcc_default_num_threads(). Ignored without OpenMP and in a forked
     * child (see "Fork safety" above). The value is passed as a
     * `num_threads` clause: no process-wide state changes. */
    int num_threads;
    /* What the inputs hold. Default CTCC_INPUT_LOGITS. */
    ctcc_input_kind input_kind;
    /* How inputs and gradients are laid out. Default
     * CTCC_LAYOUT_TIME_MAJOR. */
    ctcc_layout layout;
    /* Nonzero: infeasible samples get cost 0 instead of +INFINITY (their
     * gradient is 0 either way). Default 0. */
    int zero_infinity;
    /* --- Fields added in 0.2; read only when struct_size covers them. --- */
    /* Non-blank proportion alpha of the training targets (Li and Wang,
     * "Reinterpreting CTC training as iterative fitting", eq. 13-16), in
     * [0, 1], or CTCC_ALPHA_NONE (the default) for plain CTC. See
     * "Training modifications" below. Changes the gradient, never the
     * costs. */
    double alpha;
    /* Key-frame reweighting exponent gamma in [0, 1e300] (same paper,
     * eq. 17-18); a value outside, or NaN, gives CTCC_STATUS_INVALID_OPTION.
     * 0 (the default) is plain CTC. Changes the gradient, never the
     * costs. */
    double gamma;
    /* --- Fields added in 0.3; read only when struct_size covers them. --- */
    /* Which dynamic programme computes the samples: CTCC_KERNEL_AUTO (the
     * default) or CTCC_KERNEL_LOG_SPACE. See "Kernels" below. */
    ctcc_kernel kernel;
    /* NULL (the default), or an output array [batch_size] owned by the
     * caller: on success, kernel_used[n] receives CTCC_KERNEL_USED_SCALED
     * when the scaled kernel computed sample n's results and
     * CTCC_KERNEL_USED_LOG_SPACE when the log-space kernel did (also for a
     * sample that has no alignment or no frames, for every sample with
     * kernel = CTCC_KERNEL_LOG_SPACE, and for every sample of a call whose
     * alpha modification needed log posteriors: see "Training
     * modifications"). Read by the loss and posteriors entry points only;
     * untouched on error. */
    unsigned char *kernel_used;
    /* Forced alignment: the last state of a path on a tie between the
     * final blank and the last label, CTCC_ALIGN_END_TIE_BLANK (the
     * default) or CTCC_ALIGN_END_TIE_LABEL. Read by the ctcc_align_*
     * functions only. */
    ctcc_align_end_tie align_end_tie;
} ctcc_options;

/* The value of ctcc_options.alpha that turns the non-blank proportion
 * modification off. */
#define CTCC_ALPHA_NONE (-1.0)

/* Fills the first struct_size bytes of *options with the defaults listed
 * above, field by field (a field that does not fit entirely is left
 * alone), and sets options->struct_size = struct_size. Does nothing if
 * options is NULL or struct_size is smaller than the struct of 0.1. */
CTCC_API void ctcc_options_init_size(ctcc_options *options, size_t struct_size);

/* Fills *options with the defaults listed above: ctcc_options_init_size
 * with the size of the struct this header declares, so that a program
 * keeps initialising exactly the struct it was compiled with. (The
 * exported function of this name, which programs built against 0.2 or
 * earlier call, initialises the fields of 0.2 only.) Does nothing if
 * options is NULL. */
CTCC_API void ctcc_options_init(ctcc_options *options);
#define ctcc_options_init(options)                                             \
    ctcc_options_init_size((options), sizeof(ctcc_options))

/* Training modifications (options.alpha, options.gamma)
 * ------------------------------------------------------
 * Both act on the posteriors y'[t, k] (the "pseudo ground truth" that the
 * CTC gradient fits the softmax y to: gradient = y - y') and leave the
 * costs untouched. Over the feasible, finite samples of one call:
 *
 *   alpha (eq. 13-16): V_k = sum over samples and valid frames of y'[t, k];
 *     N_k = occurrences of label k in those samples' labels. Every y'[t, k]
 *     is scaled by (1 - alpha) * (sum of N_k over labels) / V_blank for the
 *     blank and by alpha * N_k / V_k for a label, then each frame is
 *     renormalised to sum to 1. V_k and the scaled frames are as exact as
 *     if computed from the logarithms of the posteriors, however small the
 *     posteriors are (far below the smallest double or float). With
 *     CTCC_KERNEL_AUTO they come from the posteriors the scaled kernel
 *     writes, with a bound on what underflow (of the kernel's entries, and
 *     of the posteriors stored in float or double) can change in V_k and
 *     in every frame's targets; where it exceeds 2^-40 (eq. 15 scaling up
 *     posteriors near or below the underflow threshold: an alpha of
 *     1e-300, a blank summing to 1e-320), every sample of the call is
 *     recomputed by the log-space kernel, which keeps the logarithms
 *     (kernel_used reports it), with the results of
 *     CTCC_KERNEL_LOG_SPACE to the bit. Either way the costs are a plain
 *     call's, to the bit. alpha = 1 gives a label all the target mass of
 *     every frame where
 *     its posterior is positive, however small, and alpha = 0 the same
 *     for the blank. A class with V_k = 0 (no alignment uses it) gets
 *     scale 0; a frame whose scaled sum is exactly 0 (possible only with
 *     alpha = 0 or 1, where the frame can hold only classes scaled to 0)
 *     keeps its unscaled posteriors. Every alpha in [0, 1] gives finite
 *     targets for finite inputs.
 *   gamma (eq. 17-18): w_t = max(0, max_k (y''[t, k] - y[t, k])), with y''
 *     the (alpha-modified) targets; the frame weight is w_t^gamma divided
 *     by its mean over the sample's valid frames, which does not depend
 *     on the scale of w and is computed as (w_t / max w)^gamma over the
 *     mean of those: exact for every gamma, even where every w_t^gamma
 *     would underflow (a fitted sample, gains of 1e-16, gamma = 300). The
 *     gain of the class the model rates highest is formed from the other
 *     classes (1 - y minus 1 - y''), so small gains keep their relative
 *     precision. Gains below about 1e-308 count as 0, and a sample whose
 *     gains are all 0 gets weight 0.
 *
 * The gradient becomes weight[t] * (y - y'') for logits input and
 * -weight[t] * y'' for log-probabilities input (which a log-softmax
 * upstream turns into the same weight[t] * (y - y'')). alpha =
 * CTCC_ALPHA_NONE and gamma = 0 give exactly the plain CTC gradient.
 * Because alpha is batch-wide, a sample's gradient depends on the other
 * samples of the call. */

/* ------------------------------------------------------------------------ */
/* Workspace                                                                */
/* ------------------------------------------------------------------------ */

/* Computes the number of bytes of workspace that ctcc_loss_f32 (dtype
 * CTCC_FLOAT32) or ctcc_loss_f64 (CTCC_FLOAT64) needs for these lengths.
 *
 *   label_lengths, input_lengths  int32 [batch_size], as for the loss.
 *   max_time       T, the time dimension of the inputs array.
 *   with_gradient  nonzero if the loss will be called with a non-NULL
 *                  gradients pointer (that needs the alpha table, loss-only
 *                  does not).
 *   options        may be NULL (defaults).
 *   size_bytes     receives the size. The workspace needs no particular
 *                  alignment; the library aligns inside it.
 *
 * The size grows with sum over n of input_lengths[n] * (2 * label_lengths[n]
 * + 1) with a gradient (plus input_lengths[n] * (alphabet_size + 1) for
 * each sample with alphabet_size <= 2 * label_lengths[n] + 1: its frames'
 * class probabilities, kept from one phase of the scaled kernel for the
 * next), and with sum over n of (label_lengths[n] + 1) without one. It does not depend on the label values, so the same
 * workspace can be reused for every batch with the same lengths, and a
 * workspace sized with_gradient = 1 also serves loss-only calls.
 *
 * Stage rows: for CTCC_FLOAT32 with a gradient and alphabet_size >= 1024
 * (and neither the alpha nor the gamma modification, nor
 * CTCC_KERNEL_LOG_SPACE), the size also counts two rows of 4 *
 * alphabet_size bytes, each rounded up to 64, per thread the call may use
 * (options->num_threads, or ctcc_default_num_threads() for 0; at most 2 *
 * batch_size). In them a thread stages each frame's softmax before writing
 * it to the gradients array past the cache (on processors with AVX-512),
 * so that the gradient's lines are not read from memory first, and writes
 * one frame's while it computes the next's. The loss
 * itself requires the size without them: with room for fewer stage rows
 * (down to none) the threads without one write through the cache, with
 * the same results to the bit.
 *
 * Returns CTCC_STATUS_SUCCESS or the status of the first failed check, in
 * this order: NULL pointers, batch_size, alphabet_size, max_time, input
 * lengths, label lengths, options (blank, then alpha and gamma), dtype,
 * size overflow. *size_bytes is written only on success. */
CTCC_API ctcc_status ctcc_workspace_size(const int32_t *label_lengths,
                                         const int32_t *input_lengths,
                                         int32_t max_time, int32_t batch_size,
                                         int32_t alphabet_size,
                                         ctcc_dtype dtype, int with_gradient,
                                         const ctcc_options *options,
                                         size_t *size_bytes);

/* ------------------------------------------------------------------------ */
/* Loss and gradient                                                        */
/* ------------------------------------------------------------------------ */

/* Computes the CTC cost of every sample and, when `gradients` is not NULL,
 * the gradient of each cost with respect to the inputs.
 *
 *   inputs         [T, N, C] or [N, T, C] (options->layout), logits or
 *                  log-probabilities (options->input_kind). Only frames
 *                  t < input_lengths[n] of each sample are read.
 *   gradients      NULL for the loss only (the backward pass is skipped), or
 *                  an array of the same shape and layout as inputs that
 *                  receives d costs[n] / d inputs; every element is written,
 *                  frames past a sample's input length with 0. May not
 *                  overlap the inputs.
 *   flat_labels    int32, sum(label_lengths) labels, each in [0, C) and not
 *                  the blank. May be NULL when every label length is 0.
 *   label_lengths  int32 [N], >= 0.
 *   input_lengths  int32 [N], in [0, max_time].
 *   max_time       T >= 0.
 *   batch_size     N >= 1.
 *   alphabet_size  C >= 1, the blank included.
 *   costs          [N], receives -log p(labels | inputs) per sample.
 *   workspace      at least workspace_bytes bytes, any alignment; its
 *                  contents on entry and exit are unspecified.
 *   workspace_bytes  at least what ctcc_workspace_size() reports for the
 *                  same lengths, dtype, options and with_gradient =
 *                  (gradients != NULL), less its stage rows at most (see
 *                  there).
 *   options        may be NULL (defaults).
 *
 * Returns CTCC_STATUS_SUCCESS, or an error status (see ctcc_status) before
 * anything is written. The checks run in this order and the first failure
 * is returned: NULL pointers, batch_size, alphabet_size, max_time, input
 * lengths, label lengths, options (blank, then alpha and gamma), size
 * overflow of the arrays, NULL flat_labels, label values (an out-of-range
 * label anywhere before a blank one), size overflow of the workspace,
 * workspace size. */
CTCC_API ctcc_status ctcc_loss_f32(const float *inputs, float *gradients,
                                   const int32_t *flat_labels,
                                   const int32_t *label_lengths,
                                   const int32_t *input_lengths,
                                   int32_t max_time, int32_t batch_size,
                                   int32_t alphabet_size, float *costs,
                                   void *workspace, size_t workspace_bytes,
                                   const ctcc_options *options);

/* The same in double precision. */
CTCC_API ctcc_status ctcc_loss_f64(const double *inputs, double *gradients,
                                   const int32_t *flat_labels,
                                   const int32_t *label_lengths,
                                   const int32_t *input_lengths,
                                   int32_t max_time, int32_t batch_size,
                                   int32_t alphabet_size, double *costs,
                                   void *workspace, size_t workspace_bytes,
                                   const ctcc_options *options);

/* ------------------------------------------------------------------------ */
/* Posteriors (training targets) and frame weights                          */
/* ------------------------------------------------------------------------ */

/* ctcc_loss_f32 with two more optional outputs:
 *
 *   posteriors     NULL, or an array shaped and laid out like inputs that
 *                  receives the training targets: the posteriors
 *                  y'[t, c] = p(alignment emits c at frame t | labels,
 *                  inputs) for plain CTC, the modified targets y'' with
 *                  options->alpha set. Rows sum to 1 on the valid frames
 *                  of feasible samples; frames past the input length and
 *                  every frame of an infeasible sample hold 0, and a
 *                  sample with a NaN or +inf input holds NaN.
 *   frame_weights  NULL, or [T, N] (time-major layout) or [N, T]
 *                  (batch-major) receiving each frame's gradient weight:
 *                  1 on valid frames with gamma = 0, the normalised key-
 *                  frame weight otherwise, 0 past the input length and for
 *                  infeasible samples, NaN for a sample with a NaN or +inf
 *                  input. With alpha or gamma set, it needs gradients or
 *                  posteriors too (they hold the targets it is computed
 *                  from); alone it gets CTCC_STATUS_NULL_POINTER.
 *
 * gradients, posteriors and frame_weights may each be NULL; none may
 * overlap another array. The workspace must be sized with with_gradient
 * = 1 when any of the three is requested (and the same options, since
 * alpha needs room for per-class sums). Returns as ctcc_loss_f32 does. */
CTCC_API ctcc_status ctcc_loss_posteriors_f32(
    const float *inputs, float *gradients, float *posteriors,
    float *frame_weights, const int32_t *flat_labels,
    const int32_t *label_lengths, const int32_t *input_lengths,
    int32_t max_time, int32_t batch_size, int32_t alphabet_size, float *costs,
    void *workspace, size_t workspace_bytes, const ctcc_options *options);

/* The same in double precision. */
CTCC_API ctcc_status ctcc_loss_posteriors_f64(
    const double *inputs, double *gradients, double *posteriors,
    double *frame_weights, const int32_t *flat_labels,
    const int32_t *label_lengths, const int32_t *input_lengths,
    int32_t max_time, int32_t batch_size, int32_t alphabet_size, double *costs,
    void *workspace, size_t workspace_bytes, const ctcc_options *options);

/* ------------------------------------------------------------------------ */
/* Forced alignment (Viterbi)                                               */
/* ------------------------------------------------------------------------ */

/* The star (wildcard) label, a pinned value. It may appear in the labels
 * of ctcc_align_f32 / ctcc_align_f64 / ctcc_align_star_f32 / _f64 (the
 * loss and posteriors reject it with CTCC_STATUS_LABEL_OUT_OF_RANGE, as
 * any value outside [0, alphabet_size)). It stands for zero or more frames
 * of content the transcript lacks (a missing word, noise, music), so that
 * the rest of the labels still align where they are.
 *
 * Semantics. A star takes the place of the optional blank between its
 * neighbours in the extended label sequence (the "blank slot"): the path
 * may spend zero or more frames there, and at each such frame t it reads
 * the better of
 *     log p_t(blank)                          reported as the blank, and
 *     max_c log p_t(c) + star_penalty         reported as CTCC_LABEL_STAR,
 * where c runs over all classes, blank included, and log p_t is the
 * log-softmax of the frame (or the given log-probabilities); an exact tie
 * reads as the blank. Why this score: it is relative to the frame's best
 * class, so a content frame absorbed by the star costs exactly
 * -star_penalty whatever the model's confidence, and a transcript label
 * keeps its frames unless the model gives it less than
 * exp(star_penalty) times the frame's best probability; blank frames
 * inside the star cost nothing, as they would in the blank the star
 * replaces, so adding stars never lowers the path's score.
 *
 * Next to blanks and repeats: the star replaces the blank between its
 * neighbours, so the path may skip it entirely (zero frames) unless the
 * labels on both sides are equal ("a * a"): then, as in "a a", at least
 * one frame must separate them (read as blank or as star). Several stars
 * in a row act as one. A star at the start (end) absorbs content before
 * the first (after the last) label. Feasibility counts only the other
 * labels: T >= (labels other than stars) + (adjacent equal labels, stars
 * between them ignored).
 *
 * Outputs: frames holds CTCC_LABEL_STAR on the frames the star reads as
 * star, the blank on those it reads as blank. The span of a star runs from
 * the first to one past the last frame read as star; a star that reads no
 * frame as star (skipped, or blank frames only), and every star after the
 * first of a run of stars, gets the empty span (e, e), e = the end of the
 * span before it in the sequence (0 for the first entry). The score is the
 * sum of the path's readings. */
#define CTCC_LABEL_STAR (-2)

/* star_penalty of ctcc_align_f32 / ctcc_align_f64 (and the Python
 * default): a content frame in a star costs 2 nats, a factor e^2 (about
 * 7.4) below the frame's best class. */
#define CTCC_STAR_PENALTY_DEFAULT (-2.0)

/* Bytes of workspace ctcc_align_f32 / ctcc_align_f64 (and the _star_
 * variants) need. The memory does not grow with T * S: the Viterbi pass
 * keeps its scores only at a checkpoint every K frames, and the trace back
 * recomputes one segment of K frames at a time, inside the band of states
 * that can reach the already known state at its end, with two-bit back
 * pointers (three moves, four per byte). With P the threads the call may
 * use (options.num_threads, or ctcc_default_num_threads() for 0): with
 * batch_size >= P, W = P slots (samples side by side); otherwise, when the
 * largest 2L + 1 is at least 2048, W = 1 slot and each sample is split
 * over G = min(P, (2L + 1) / 1024, 64) threads, else W = batch_size
 * slots. The size is about
 *     W * max_n [ 8 * (2 * L_n + 5) * (ceil(T_n / K_n) + 1)
 *                 + K_n * (K_n / 2 + 4) + 26 * L_n ]
 *     + threads used * 8 * [ F * (alphabet_size + 3)
 *                            + (F + 1) * (floor((2 * max L_n + 1) / 1024) + 2) ]
 *     + 16 * batch_size + (G > 1: G * 8 * max T_n),
 * with T_n = input_lengths[n], L_n = label_lengths[n], the segment length
 * K_n = ceil(sqrt(T_n)) and the tile F = min(64, max(1,
 * floor(8192 / alphabet_size)), max T_n) frames whose emissions each
 * thread keeps: O(sqrt(T) * L + T) for one sample (before 0.3 it was
 * T * (2L + 1) bytes). The size is the same for both
 * precisions. A workspace sized for fewer threads than a call may use
 * makes the call use fewer threads (with bitwise the same results).
 * options may be NULL. Checks and returns as ctcc_workspace_size does. */
CTCC_API ctcc_status ctcc_align_workspace_size(const int32_t *label_lengths,
                                               const int32_t *input_lengths,
                                               int32_t max_time,
                                               int32_t batch_size,
                                               int32_t alphabet_size,
                                               const ctcc_options *options,
                                               size_t *size_bytes);

/* Finds, for each sample, the single most probable CTC alignment (path)
 * of its labels: the Viterbi path through the same states as the loss.
 * Labels may hold CTCC_LABEL_STAR (see above; star_penalty
 * CTCC_STAR_PENALTY_DEFAULT).
 *
 *   inputs, flat_labels, label_lengths, input_lengths, max_time,
 *   batch_size, alphabet_size, options: as for ctcc_loss_f32 (options
 *                  blank, num_threads, input_kind and layout are used).
 *   frames         int32 [N, T] (batch-major whatever the layout):
 *                  frames[n * T + t] = the class the path emits at frame
 *                  t (CTCC_LABEL_STAR on a frame a star reads as star),
 *                  -1 for t >= input_lengths[n] and for every frame of
 *                  an infeasible sample.
 *   spans          NULL, or int32 [sum(label_lengths), 2], in the order of
 *                  flat_labels: the first frame and one past the last
 *                  frame the path spends on each label; -1, -1 for an
 *                  infeasible sample.
 *   scores         [N], the log-probability of each path; -INFINITY for
 *                  an infeasible sample, NaN for a NaN or +inf input.
 *                  A NaN or +inf in a valid frame also sets that sample's
 *                  frames and spans to -1 (other samples are unaffected).
 *
 * Ties between equally probable paths are broken deterministically: at
 * each frame towards staying in the same state, then towards the
 * previous state, and at the last frame towards ending on the final
 * blank (on the last label with options.align_end_tie =
 * CTCC_ALIGN_END_TIE_LABEL, as torchaudio's forced_align). Results are
 * bitwise identical for every thread count; a batch with fewer samples
 * than threads splits each sample over the threads.
 * Returns as ctcc_loss_f32 does (without the workspace's with_gradient
 * distinction), except that CTCC_LABEL_STAR is a valid label. */
CTCC_API ctcc_status
ctcc_align_f32(const float *inputs, const int32_t *flat_labels,
               const int32_t *label_lengths, const int32_t *input_lengths,
               int32_t max_time, int32_t batch_size, int32_t alphabet_size,
               int32_t *frames, int32_t *spans, float *scores, void *workspace,
               size_t workspace_bytes, const ctcc_options *options);

/* The same in double precision. */
CTCC_API ctcc_status
ctcc_align_f64(const double *inputs, const int32_t *flat_labels,
               const int32_t *label_lengths, const int32_t *input_lengths,
               int32_t max_time, int32_t batch_size, int32_t alphabet_size,
               int32_t *frames, int32_t *spans, double *scores, void *workspace,
               size_t workspace_bytes, const ctcc_options *options);

/* ctcc_align_f32 with a chosen star_penalty (see CTCC_LABEL_STAR): a
 * number <= 0, or -INFINITY (the star then reads blanks only, like the
 * blank it replaces); NaN or a positive value gives
 * CTCC_STATUS_INVALID_OPTION (checked after the options). Without stars
 * in the labels the penalty changes nothing. */
CTCC_API ctcc_status ctcc_align_star_f32(
    const float *inputs, const int32_t *flat_labels,
    const int32_t *label_lengths, const int32_t *input_lengths,
    int32_t max_time, int32_t batch_size, int32_t alphabet_size,
    int32_t *frames, int32_t *spans, float *scores, void *workspace,
    size_t workspace_bytes, const ctcc_options *options, double star_penalty);

/* The same in double precision. */
CTCC_API ctcc_status ctcc_align_star_f64(
    const double *inputs, const int32_t *flat_labels,
    const int32_t *label_lengths, const int32_t *input_lengths,
    int32_t max_time, int32_t batch_size, int32_t alphabet_size,
    int32_t *frames, int32_t *spans, double *scores, void *workspace,
    size_t workspace_bytes, const ctcc_options *options, double star_penalty);

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */
/* ------------------------------------------------------------------------ */

/* Best-path (greedy) decoding: the most probable class at each valid
 * frame, repeats merged, blanks removed. Needs no workspace.
 *
 *   inputs, input_lengths, max_time, batch_size, alphabet_size, options:
 *                  as for ctcc_loss_f32 (blank, num_threads, input_kind
 *                  and layout are used).
 *   decoded        int32 [N, T]: sample n's labels in decoded[n * T + 0 ..
 *                  decoded_lengths[n]); the rest of its row is set to -1.
 *   decoded_lengths  int32 [N].
 *   scores         NULL, or [N]: the log-probability of the best path
 *                  (sum over valid frames of the largest log-softmax, or
 *                  of the largest log-probability for log-probs input).
 *
 * Ties between classes go to the lowest class index. A frame whose
 * classes are all -INFINITY picks class 0 and makes the score -INFINITY.
 * A NaN or +INFINITY in a sample's valid frames gives that sample an
 * empty decoding (length 0) and score NaN; the other samples are
 * unaffected. Returns CTCC_STATUS_SUCCESS or the first failed check
 * (NULL pointers, batch_size, alphabet_size, max_time, input lengths,
 * options, size overflow) before anything is written. */
CTCC_API ctcc_status ctcc_greedy_decode_f32(
    const float *inputs, const int32_t *input_lengths, int32_t max_time,
    int32_t batch_size, int32_t alphabet_size, int32_t *decoded,
    int32_t *decoded_lengths, float *scores, const ctcc_options *options);

/* The same in double precision. */
CTCC_API ctcc_status ctcc_greedy_decode_f64(
    const double *inputs, const int32_t *input_lengths, int32_t max_time,
    int32_t batch_size, int32_t alphabet_size, int32_t *decoded,
    int32_t *decoded_lengths, double *scores, const ctcc_options *options);

/* Bytes of workspace the prefix beam search needs for these sizes (the
 * same for both precisions): O(input_lengths[n] * beam_width) per sample,
 * independent of alphabet_size. Checks as ctcc_workspace_size does, then
 * beam_width >= 1 and 1 <= top_paths <= beam_width
 * (CTCC_STATUS_INVALID_BEAM). In order: NULL pointers, batch_size,
 * alphabet_size, max_time, input lengths, options, size overflow of the
 * inputs, beam parameters, size overflow of the paths array or the
 * workspace (also when 1 + input_lengths[n] * beam_width exceeds
 * INT32_MAX). *size_bytes is written only on success. */
CTCC_API ctcc_status ctcc_beam_workspace_size(
    const int32_t *input_lengths, int32_t max_time, int32_t batch_size,
    int32_t alphabet_size, int32_t beam_width, int32_t top_paths,
    const ctcc_options *options, size_t *size_bytes);

/* CTC prefix beam search: keeps the beam_width most probable label
 * prefixes (probability summed over all their alignments, blank-ending
 * and label-ending kept apart) at each frame, and returns the top_paths
 * best label sequences of each sample, best first.
 *
 *   blank_penalty  subtracted from the blank's log-probability at every
 *                  frame (0: none; > 0 favours emitting labels).
 *   log_prior      NULL, or double [C]: subtracted from each class's
 *                  log-probability at every frame (pass weight * log
 *                  prior for prior-normalised decoding); must be finite.
 *   paths          int32 [N, top_paths, T]: path j of sample n in
 *                  paths[(n * top_paths + j) * T + 0 .. path_lengths[...]);
 *                  the rest of each row is set to -1.
 *   path_lengths   int32 [N, top_paths].
 *   scores         [N, top_paths], each path's log score (its log-
 *                  probability when blank_penalty = 0 and log_prior =
 *                  NULL); when fewer than top_paths distinct prefixes
 *                  exist, the missing paths have length 0 and score
 *                  -INFINITY.
 *
 * Exact (the true most probable labellings) when beam_width is at least
 * the number of distinct prefixes. Equal scores are ranked by a fixed
 * rule, so the results are bitwise identical for every thread count. A
 * NaN or +INFINITY in a sample's valid frames gives all its paths length
 * 0 and score NaN. Returns as ctcc_beam_workspace_size (with
 * blank_penalty and log_prior checked with the beam parameters), then
 * CTCC_STATUS_WORKSPACE_TOO_SMALL, before anything is written. */
CTCC_API ctcc_status ctcc_beam_search_decode_f32(
    const float *inputs, const int32_t *input_lengths, int32_t max_time,
    int32_t batch_size, int32_t alphabet_size, int32_t beam_width,
    int32_t top_paths, double blank_penalty, const double *log_prior,
    int32_t *paths, int32_t *path_lengths, float *scores, void *workspace,
    size_t workspace_bytes, const ctcc_options *options);

/* The same in double precision. */
CTCC_API ctcc_status ctcc_beam_search_decode_f64(
    const double *inputs, const int32_t *input_lengths, int32_t max_time,
    int32_t batch_size, int32_t alphabet_size, int32_t beam_width,
    int32_t top_paths, double blank_penalty, const double *log_prior,
    int32_t *paths, int32_t *path_lengths, double *scores, void *workspace,
    size_t workspace_bytes, const ctcc_options *options);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CTCC_H */
