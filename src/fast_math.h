/*
 * fast_math.h - branch-free exp and log1p for the kernel's inner loops.
 *
 * The C library's exp and log are calls the compiler cannot vectorise (and
 * handle cases the kernel never has: overflow, negative arguments).
 * These are plain C expressions, inlined and vectorised by the compiler
 * across loop iterations, for exactly the ranges the kernel feeds them:
 *
 *   ctcc_exp_neg(x)     x <= 1 or -inf (differences of log values)
 *   ctcc_expf_neg(x)    the same in float (softmax of float32 logits)
 *   ctcc_expf_neg16(x)  the same on 16 floats, for AVX-512 processors
 *   ctcc_exp_neg8(x)    ctcc_exp_neg on 8 doubles, for AVX-512 processors
 *   ctcc_log1p_small(u) u in [0, 2] (log of 1 + two exponentials <= 1)
 *   ..._lite            cheaper versions for float32 outputs (see below)
 *
 * Accuracy, checked against libm over those ranges by the C test
 * tests/c/test_fast_math.c: within 4 ulp for each (in its own precision).
 * Below exp(-708) (double) or exp(-87) (float) they return exactly 0,
 * instead of a subnormal: in the log-space sums that use them, such terms
 * are below the rounding of the result. The exps return NaN for NaN (a
 * frame's sum then tells that it held one).
 */
#ifndef CTCC_FAST_MATH_H
#define CTCC_FAST_MATH_H

#include <stdint.h>
#include <string.h>

static inline uint64_t ctcc_bits64(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double ctcc_from_bits64(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static inline uint32_t ctcc_bits32(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float ctcc_from_bits32(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Shared by the exp variants: x = k ln2 + r with |r| <= ln2 / 2 (x
 * clamped to >= -708 first). Returns 2^k and stores r. k is rounded with
 * the 1.5 * 2^52 shift, whose low mantissa bits then hold k: no
 * float-to-integer conversion, which AVX2 lacks for 64-bit lanes. */
static inline double ctcc_exp_reduce(double x, double *r) {
    const double shift = 0x1.8p52;
    const double xc = x < -708.0 ? -708.0 : x;
    const double kd_shifted = xc * 1.4426950408889634 + shift;
    const uint64_t ki = ctcc_bits64(kd_shifted);
    const double kd = kd_shifted - shift;
    /* ln2 split so that kd * LN2_HI is exact for |k| < 2^11. */
    *r = (xc - kd * 6.93147180369123816490e-01) -
         kd * 1.90821492927058770002e-10;
    /* The low 12 bits of ki are k modulo 4096; k + 1023 lands in the
     * exponent field, everything above it is shifted out. */
    return ctcc_from_bits64((ki + 1023u) << 52);
}

/* The Taylor polynomial of exp(r) from r^8 / 8! down, by Horner's rule:
 * p holds the higher terms already folded (1/8! alone for degree 8). */
static inline double ctcc_exp_poly_tail(double p, double r) {
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    return p * r + 1.0;
}

/* exp(x) for x <= 1, including -inf; 0 below -708: ctcc_exp_reduce and a
 * degree-12 Taylor polynomial for exp(r) (truncation error below 2e-16). */
static inline double ctcc_exp_neg(double x) {
    double r, p;
    const double scale = ctcc_exp_reduce(x, &r);
    p = 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = ctcc_exp_poly_tail(p, r);
    return x < -708.0 ? 0.0 : p * scale;
}

/* expf(x) for x <= 1, including -inf; 0 below -87. Same scheme in float,
 * 2^k from the 1.5 * 2^23 shift, and for exp(r) the polynomial 1 + c1 r +
 * ... + c5 r^5 of least relative error on |r| <= ln2 / 2 with its constant
 * term held at 1 (fitted by Lawson's iteration; 9e-8 before rounding, 2.0
 * ulp at worst over every float of the range with fma), so that exp(0) is
 * 1 exactly, as log_normaliser relies on. (The degree-7 Taylor polynomial
 * it replaced was within 1 ulp; two multiply-adds fewer per 16 classes are
 * a tenth of the softmax's normaliser over 5000 classes.) */
static inline float ctcc_expf_neg(float x) {
    const float shift = 0x1.8p23f;
    const float xc = x < -87.0f ? -87.0f : x;
    const float kd_shifted = xc * 1.44269504f + shift;
    const uint32_t ki = ctcc_bits32(kd_shifted);
    const float kd = kd_shifted - shift;
    const float r = (xc - kd * 0.693145752f) - kd * 1.42860677e-06f;
    float p = 0.008290315978229046f;
    p = p * r + 0.04189793020486832f;
    p = p * r + 0.1666763573884964f;
    p = p * r + 0.4999915063381195f;
    p = p * r + 0.9999997019767761f;
    p = p * r + 1.0f;
    p *= ctcc_from_bits32((ki + 127u) << 23);
    return x < -87.0f ? 0.0f : p;
}

/* log(1 + u) for u in [0, 2]. With y = 1 + u brought into [0.75, 1.5] by a
 * factor 2 where needed, log y = 2 atanh(f), f = (y - 1)/(y + 1), |f| <=
 * 1/5, summed to f^23 (truncation error below 1e-17). f is formed from u
 * directly, u / (u + 2) or (u - 1) / (u + 3), so that small u keep their
 * relative precision (1 + u would round them away).
 * ctcc_log1p_reduce returns f and stores the ln 2 of the halving (or 0). */
static inline double ctcc_log1p_reduce(double u, double *e) {
    const int big = u > 0.5;
    *e = big ? 6.93147180559945309417e-01 : 0.0;
    return (big ? u - 1.0 : u) / (big ? u + 3.0 : u + 2.0);
}

/* 2 atanh(f) = log((1 + f) / (1 - f)) by its series in f2 = f * f from
 * f^13 / 13 down: p holds the higher terms already folded (1/15 alone for
 * the series to f^15). */
static inline double ctcc_atanh2_tail(double p, double f, double f2) {
    p = p * f2 + 1.0 / 13.0;
    p = p * f2 + 1.0 / 11.0;
    p = p * f2 + 1.0 / 9.0;
    p = p * f2 + 1.0 / 7.0;
    p = p * f2 + 1.0 / 5.0;
    p = p * f2 + 1.0 / 3.0;
    p = p * f2 + 1.0;
    return 2.0 * f * p;
}

static inline double ctcc_log1p_small(double u) {
    double e, p;
    const double f = ctcc_log1p_reduce(u, &e);
    const double f2 = f * f;
    p = 1.0 / 23.0;
    p = p * f2 + 1.0 / 21.0;
    p = p * f2 + 1.0 / 19.0;
    p = p * f2 + 1.0 / 17.0;
    p = p * f2 + 1.0 / 15.0;
    return e + ctcc_atanh2_tail(p, f, f2);
}

/* Lighter versions for the float32 entry point, whose outputs need about
 * 1e-7: relative error below 1e-9 (exp, degree-8 polynomial) and 2e-12
 * (log1p, to f^15). Over thousands of frames their rounding stays orders of
 * magnitude below float32 resolution, at about two thirds of the cost. */
static inline double ctcc_exp_neg_lite(double x) {
    double r;
    const double scale = ctcc_exp_reduce(x, &r);
    const double p = ctcc_exp_poly_tail(1.0 / 40320.0, r);
    return x < -708.0 ? 0.0 : p * scale;
}

static inline double ctcc_log1p_small_lite(double u) {
    double e;
    const double f = ctcc_log1p_reduce(u, &e);
    return e + ctcc_atanh2_tail(1.0 / 15.0, f, f * f);
}

/* ctcc_expf_neg on 16 floats at once, for processors with AVX-512 (the
 * caller checks at run time): x = (16 k + j) ln2 / 16 + r with |r| <=
 * ln2 / 32, 2^(j / 16) picked from a table of 16 floats held in one
 * register (a permute), 2^k added to its exponent, and exp(r) from its
 * Taylor polynomial to r^3 (truncation error below 1e-8). The shorter
 * reduction takes two multiply-adds fewer than ctcc_expf_neg, whose
 * polynomial covers |r| <= ln2 / 2: the normaliser's runs of exps over
 * 5000 classes took 0.21 ns per class instead of 0.26 (one thread, Zen 4).
 * Within 3 ulp of exp on (-87, 1] (tests/c/test_fast_math.c), exp(0) = 1
 * exactly, 0 below -87 and at -inf, NaN for NaN, as ctcc_expf_neg. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#define CTCC_HAVE_EXPF_NEG16 1
__attribute__((target("avx512f"))) static inline __m512
ctcc_expf_neg16(__m512 x) {
    const __m512 shift = _mm512_set1_ps(0x1.8p23f);
    /* 2^(j / 16) rounded to float, j = 15 down to 0. */
    const __m512 table =
        _mm512_set_ps(0x1.ea4afap+0f, 0x1.d5818ep+0f, 0x1.c199bep+0f,
                      0x1.ae89fap+0f, 0x1.9c4918p+0f, 0x1.8ace54p+0f,
                      0x1.7a1148p+0f, 0x1.6a09e6p+0f, 0x1.5ab07ep+0f,
                      0x1.4bfdaep+0f, 0x1.3dea64p+0f, 0x1.306fe0p+0f,
                      0x1.2387a6p+0f, 0x1.172b84p+0f, 0x1.0b5586p+0f,
                      0x1.0p+0f);
    /* n = 16 k + j = x 16 / ln2 rounded, in the low bits of t. */
    const __m512 t = _mm512_fmadd_ps(x, _mm512_set1_ps(23.0831203f), shift);
    const __m512 n = _mm512_sub_ps(t, shift);
    const __m512i ti = _mm512_castps_si512(t);
    /* ln2 / 16 split so that n times its first part (13 bits) is exact for
     * |n| < 2^11. */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62ep-5f), x);
    __m512 p;
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.99663655e-06f), r);
    p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 6.0f), r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    {
        /* The permute reads the low 4 bits of each index (j); the bits
         * from 4 up hold k, shifted into the exponent field. */
        const __m512i scale =
            _mm512_add_epi32(_mm512_castps_si512(_mm512_permutexvar_ps(ti,
                                                                       table)),
                             _mm512_slli_epi32(_mm512_srli_epi32(ti, 4), 23));
        /* Not below -87: true for NaN, which p carries. */
        const __mmask16 in =
            _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_NLT_UQ);
        return _mm512_maskz_mul_ps(in, p, _mm512_castsi512_ps(scale));
    }
}

/* exp on 8 doubles at once, for processors with AVX-512, the scheme of
 * ctcc_expf_neg16 in double: x = (16 k + j) ln2 / 16 + r with |r| <=
 * ln2 / 32, 2^(j / 16) picked from a table of 16 doubles held in two
 * registers (one two-register permute) with k added to its exponent, and
 * exp(r) = 1 + q from q's Taylor polynomial, so that the result is
 * 2^(j/16) 2^k + 2^(j/16) 2^k q in one multiply-add. `degree` (a
 * constant) is the polynomial's: 7 (truncation error below 2e-18, as
 * ctcc_exp_neg's degree 12 over |r| <= ln2 / 2) or 4 (below 5e-11, where
 * ctcc_exp_neg_lite's degree 8 allows 1e-9). Five and four multiply-adds
 * fewer than those, on the path from x to the result too: the
 * normaliser of a frame of 29 classes (four vectors of exps) was about a
 * third of the loss alone of T = 150, L = 40 (docs/performance.md).
 * Same ranges and values at the ends as ctcc_exp_neg: x <= 1 or -inf, 0
 * below -708, exp(0) = 1 exactly, NaN for NaN; within 2 ulp of exp
 * (the table's rounding, the multiply-add's and q's; for degree 4 the
 * truncation too), checked by tests/c/test_fast_math.c. */
__attribute__((target("avx512f"))) static inline __m512d
ctcc_exp_neg8_degree(__m512d x, const int degree) {
    /* 2^(j / 16) rounded to double, j = 7 down to 0 and 15 down to 8. */
    const __m512d low =
        _mm512_set_pd(0x1.5ab07dd485429p+0, 0x1.4bfdad5362a27p+0,
                      0x1.3dea64c123422p+0, 0x1.306fe0a31b715p+0,
                      0x1.2387a6e756238p+0, 0x1.172b83c7d517bp+0,
                      0x1.0b5586cf9890fp+0, 0x1.0p+0);
    const __m512d high =
        _mm512_set_pd(0x1.ea4afa2a490dap+0, 0x1.d5818dcfba487p+0,
                      0x1.c199bdd85529cp+0, 0x1.ae89f995ad3adp+0,
                      0x1.9c49182a3f090p+0, 0x1.8ace5422aa0dbp+0,
                      0x1.7a11473eb0187p+0, 0x1.6a09e667f3bcdp+0);
    const __m512d shift = _mm512_set1_pd(0x1.8p52);
    /* Not below -708 (and NaN kept: max returns its second operand when
     * either is NaN). */
    const __m512d xc = _mm512_max_pd(_mm512_set1_pd(-708.0), x);
    /* n = 16 k + j = x 16 / ln2 rounded, in the low bits of t. */
    const __m512d t =
        _mm512_fmadd_pd(xc, _mm512_set1_pd(0x1.71547652b82fep+4), shift);
    const __m512d n = _mm512_sub_pd(t, shift);
    const __m512i ti = _mm512_castpd_si512(t);
    /* ln2 / 16 as a double and the rest: xc - n times the first is exact
     * in one multiply-add (|n| < 2^14, and the difference, below 2^-5,
     * is a multiple of 2^-58). */
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(0x1.62e42fefa39efp-5), xc);
    __m512d p, q, scaled;
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(0x1.abc9e3b39803fp-60), r);
    if (degree >= 7) {
        p = _mm512_fmadd_pd(_mm512_set1_pd(1.0 / 5040.0), r,
                            _mm512_set1_pd(1.0 / 720.0));
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
    } else {
        p = _mm512_set1_pd(1.0 / 24.0);
    }
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
    q = _mm512_mul_pd(p, r);
    {
        /* n << 48 = (k << 52) + (j << 48) adds k to the exponent of the
         * entry that the permute picks by the low 4 bits of n (j), and j
         * << 48 to its bits, which each entry has taken off first (a
         * constant, computed once). */
        const __m512i off_low =
            _mm512_set_epi64(7LL << 48, 6LL << 48, 5LL << 48, 4LL << 48,
                             3LL << 48, 2LL << 48, 1LL << 48, 0);
        const __m512i off_high =
            _mm512_add_epi64(off_low, _mm512_set1_epi64(8LL << 48));
        const __m512d low_k =
            _mm512_castsi512_pd(_mm512_sub_epi64(_mm512_castpd_si512(low),
                                                 off_low));
        const __m512d high_k =
            _mm512_castsi512_pd(_mm512_sub_epi64(_mm512_castpd_si512(high),
                                                 off_high));
        scaled = _mm512_castsi512_pd(_mm512_add_epi64(
            _mm512_castpd_si512(_mm512_permutex2var_pd(low_k, ti, high_k)),
            _mm512_slli_epi64(ti, 48)));
    }
    {
        /* Not below -708: true for NaN, which q carries. */
        const __mmask8 in =
            _mm512_cmp_pd_mask(x, _mm512_set1_pd(-708.0), _CMP_NLT_UQ);
        return _mm512_maskz_fmadd_pd(in, scaled, q, scaled);
    }
}

/* ctcc_exp_neg and ctcc_exp_neg_lite on 8 doubles (for the float32 entry
 * point, as the lite ones). */
__attribute__((target("avx512f"))) static inline __m512d
ctcc_exp_neg8(__m512d x) {
    return ctcc_exp_neg8_degree(x, 7);
}

__attribute__((target("avx512f"))) static inline __m512d
ctcc_exp_neg8_lite(__m512d x) {
    return ctcc_exp_neg8_degree(x, 4);
}
#else
#define CTCC_HAVE_EXPF_NEG16 0
#endif

#endif /* CTCC_FAST_MATH_H */
