/*
 * size_math.h - size_t arithmetic that reports overflow, for the workspace
 * and array size computations. Not installed.
 *
 * Each function clears *ok on overflow (and returns 0) instead of wrapping,
 * so that a chain of them can be checked once at the end.
 */
#ifndef CTCC_SIZE_MATH_H
#define CTCC_SIZE_MATH_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

static inline size_t ctcc_add_size(size_t a, size_t b, int *ok) {
    if (a > SIZE_MAX - b) {
        *ok = 0;
        return 0;
    }
    return a + b;
}

static inline size_t ctcc_mul_size(size_t a, size_t b, int *ok) {
    if (a != 0 && b > SIZE_MAX / a) {
        *ok = 0;
        return 0;
    }
    return a * b;
}

/* a rounded up to the next multiple of CTCC_ALIGN. */
static inline size_t ctcc_align_size(size_t a, int *ok) {
    return ctcc_mul_size(ctcc_add_size(a, CTCC_ALIGN - 1, ok) / CTCC_ALIGN,
                         CTCC_ALIGN, ok);
}

#endif /* CTCC_SIZE_MATH_H */
